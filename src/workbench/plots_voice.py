"""Charts of the child survey (report 60) in the house style of :mod:`workbench.plots`.

Seaborn's contract: ``plot_x(data, *, ..., ax=None) -> Axes``; never ``show()`` or ``savefig()``.
Data come from protected, checked tables: a withheld share draws no bar and no whisker and is
labelled in its place.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from workbench.fmt import NBSP, format_percent, is_missing, percent_tick
from workbench.plots import HATCHES, PALETTE, house_style


def plot_shares_with_ci(
    data: pd.DataFrame,
    *,
    category: str = "label",
    series: str = "series",
    value: str = "share",
    low: str = "ci_low",
    high: str = "ci_high",
    missing_label: str = "missing_label",
    xlabel: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Horizontal grouped bars of shares (0–1) with confidence-interval whiskers.

    One group of bars per ``category``, one bar per ``series``. Where ``value`` is missing no
    bar or whisker is drawn and the row's ``missing_label`` (e.g. ``"..  för få svar"``) is
    written in its place, so the reader sees that a value exists but is not published.
    """
    cats = list(dict.fromkeys(data[category]))
    sers = list(dict.fromkeys(data[series]))
    with plt.rc_context(house_style()):
        if ax is None:
            height = max(2.2, 0.34 * len(cats) * max(1, len(sers)) + 1.0)
            _, ax = plt.subplots(figsize=(7.5, height))
        n = len(sers)
        bar_h = 0.8 / max(n, 1)
        y = np.arange(len(cats))
        rows = data.set_index([category, series])
        for j, s in enumerate(sers):
            ys = y - 0.4 + bar_h * (j + 0.5)
            vals, lows, highs, labels = [], [], [], []
            for c in cats:
                r = rows.loc[(c, s)] if (c, s) in rows.index else None
                v = np.nan if r is None or is_missing(r[value]) else float(r[value])
                vals.append(v)
                lows.append(np.nan if r is None or is_missing(r[low]) else float(r[low]))
                highs.append(np.nan if r is None or is_missing(r[high]) else float(r[high]))
                labels.append(
                    ".."
                    if r is None or is_missing(r.get(missing_label))
                    else str(r[missing_label])
                )
            v = np.array(vals) * 100
            lo, hi = np.array(lows) * 100, np.array(highs) * 100
            ax.barh(
                ys,
                np.nan_to_num(v, nan=0.0),
                height=bar_h * 0.92,
                color=PALETTE[j % len(PALETTE)],
                hatch=HATCHES[j % len(HATCHES)],
                edgecolor="white" if j == 0 else "#333333",
                linewidth=0.3,
                label=s,
            )
            ok = np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi)
            if ok.any():
                ax.errorbar(
                    v[ok],
                    ys[ok],
                    xerr=np.vstack([v[ok] - lo[ok], hi[ok] - v[ok]]),
                    fmt="none",
                    ecolor="#222222",
                    elinewidth=0.9,
                    capsize=2.5,
                )
            for yy, vv, hh, lab in zip(ys, v, hi, labels, strict=True):
                text = format_percent(vv / 100) if np.isfinite(vv) else lab
                x = (hh if np.isfinite(hh) else (vv if np.isfinite(vv) else 0.0)) + 1.0
                ax.text(x, yy, text.replace(NBSP, " "), va="center", fontsize=8, color="#222222")
        ax.set_yticks(y, labels=cats)
        ax.invert_yaxis()
        ax.set_xlim(0, 118)
        ax.xaxis.set_major_formatter(FuncFormatter(percent_tick))
        ax.set_xticks([0, 20, 40, 60, 80, 100])
        ax.set_xlabel(xlabel)
        if n > 1:
            ax.legend(loc="lower right", fontsize=8, bbox_to_anchor=(1.0, 1.0), ncols=min(n, 3))
    return ax
