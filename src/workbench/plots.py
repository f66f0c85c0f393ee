"""Charts in the house style. Seaborn's contract: ``plot_x(data, *, ..., ax=None) -> Axes``.

Functions never call ``show()`` or ``savefig()``; :func:`workbench.views.figure_html` renders.
Data come from protected tables: a suppressed value is drawn as no bar and labelled ``..``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # reports render off-screen; notebooks display our HTML, not live figures

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from workbench.fmt import SUPPRESSED, format_int, format_percent, is_missing, percent_tick  # noqa: E402

#: Okabe–Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: Hatches so that series differ by more than colour alone.
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "--", "oo")


def house_style() -> dict[str, object]:
    """Matplotlib rc settings of the workbench (applied inside each plot via rc_context)."""
    return {
        "font.family": "DejaVu Sans",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.axis": "x",
        "grid.color": "#d0d0d0",
        "grid.linewidth": 0.6,
        "axes.axisbelow": True,
        "legend.frameon": False,
        "figure.dpi": 100,
        "svg.hashsalt": "workbench",
        "hatch.linewidth": 0.6,
    }


def plot_grouped_bars(
    data: pd.DataFrame,
    *,
    category: str = "kod_label",
    series: str = "enhet_label",
    value: str = "share",
    percent: bool = True,
    xlabel: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Horizontal grouped bars: one group per category, one bar per series (unit).

    ``value`` may be missing (suppressed or not shown): no bar is drawn and ``..`` is written in
    its place, so a reader sees that a value exists but is not published.
    """
    cats = list(dict.fromkeys(data[category]))
    sers = list(dict.fromkeys(data[series]))
    with plt.rc_context(house_style()):
        if ax is None:
            height = max(2.0, 0.32 * len(cats) * max(1, len(sers)) + 1.0)
            _, ax = plt.subplots(figsize=(7.5, height))
        n = len(sers)
        bar_h = 0.8 / max(n, 1)
        y = np.arange(len(cats))
        lookup = data.set_index([category, series])[value]
        vmax = 0.0
        for j, s in enumerate(sers):
            vals = [lookup.get((c, s)) for c in cats]
            ys = y - 0.4 + bar_h * (j + 0.5)
            nums = np.array([np.nan if is_missing(v) else float(v) for v in vals])
            if percent:
                nums = nums * 100
            vmax = max(vmax, np.nanmax(nums) if np.isfinite(nums).any() else 0.0)
            ax.barh(
                ys,
                np.nan_to_num(nums, nan=0.0),
                height=bar_h * 0.92,
                color=PALETTE[j % len(PALETTE)],
                hatch=HATCHES[j % len(HATCHES)],
                edgecolor="white" if j == 0 else "#333333",
                linewidth=0.3,
                label=s,
            )
            for yy, v in zip(ys, nums, strict=True):
                text = (
                    SUPPRESSED
                    if not np.isfinite(v)
                    else (format_percent(v / 100) if percent else format_int(v))
                )
                ax.text(
                    (0 if not np.isfinite(v) else v) + vmax * 0.01 + 0.3,
                    yy,
                    text.replace("\u00a0", " "),
                    va="center",
                    fontsize=8,
                    color="#222222",
                )
        ax.set_yticks(y, labels=cats)
        ax.invert_yaxis()
        ax.set_xlim(0, max(vmax * 1.18, 1.0))
        if percent:
            ax.xaxis.set_major_formatter(FuncFormatter(percent_tick))
        else:
            ax.xaxis.set_major_formatter(
                FuncFormatter(lambda v, _p: format_int(v).replace("\u00a0", " "))
            )
        ax.set_xlabel(xlabel)
        if n > 1:
            ax.legend(loc="lower right", fontsize=8, bbox_to_anchor=(1.0, 1.0), ncols=min(n, 3))
    return ax


def plot_counts_by_year(
    data: pd.DataFrame,
    *,
    year: str = "kod",
    value: str = "n_shown",
    ylabel: str = "Antal registreringar",
    ax: Axes | None = None,
) -> Axes:
    """Vertical bars of counts per year; suppressed years show ``..`` and no bar."""
    with plt.rc_context({**house_style(), "axes.grid.axis": "y"}):
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, 3.2))
        years = list(data[year])
        vals = np.array([np.nan if is_missing(v) else float(v) for v in data[value]])
        x = np.arange(len(years))
        ax.bar(x, np.nan_to_num(vals, nan=0.0), color=PALETTE[0], width=0.7)
        top = np.nanmax(vals) if np.isfinite(vals).any() else 1.0
        for xx, v in zip(x, vals, strict=True):
            label = SUPPRESSED if not np.isfinite(v) else format_int(v).replace("\u00a0", " ")
            ax.text(
                xx, (0 if not np.isfinite(v) else v) + top * 0.02, label, ha="center", fontsize=8
            )
        ax.set_xticks(x, labels=years)
        ax.set_ylim(0, max(top * 1.15, 1.0))
        ax.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _p: format_int(v).replace("\u00a0", " "))
        )
        ax.set_ylabel(ylabel)
    return ax
