"""Caterpillar (forest) plot of providers' intervals against their type's average.

Seaborn's contract, as :mod:`workbench.plots`: ``plot_x(data, *, ..., ax=None) -> Axes``, no
``show()``/``savefig()``. Providers without a published value are not drawn (the report lists
them in text); the order of the rows is the caller's (by name, never by estimate).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from workbench.fmt import format_number, percent_tick
from workbench.plots import PALETTE, house_style


def plot_provider_intervals(
    data: pd.DataFrame,
    *,
    label: str = "label",
    value: str = "value",
    low: str = "ci_low",
    high: str = "ci_high",
    shrunk: str = "shrunk",
    average: float,
    percent: bool = True,
    xlabel: str = "",
    ax: Axes | None = None,
) -> Axes:
    """One row per provider: the 95 % interval as a line, the estimate as a dot, the shrunken
    (empirical-Bayes) estimate as an open diamond, and the type average as a dashed line.

    Rows of ``data`` are drawn top to bottom in the given order; every row must have a value.
    """
    import matplotlib.pyplot as plt

    d = data.reset_index(drop=True)
    scale = 100.0 if percent else 1.0
    with plt.rc_context(house_style()):
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, max(2.2, 0.36 * len(d) + 1.3)))
        y = np.arange(len(d))
        v = d[value].astype(float).to_numpy() * scale
        lo = d[low].astype(float).to_numpy() * scale
        hi = d[high].astype(float).to_numpy() * scale
        ax.hlines(y, lo, hi, color=PALETTE[0], linewidth=2.2, label="95 % konfidensintervall")
        ax.plot(v, y, "o", color=PALETTE[0], markersize=6, label="Skattning")
        if shrunk in d:
            s = d[shrunk].astype(float).to_numpy() * scale
            ax.plot(
                s,
                y,
                "D",
                markerfacecolor="white",
                markeredgecolor=PALETTE[5],
                markersize=6,
                linestyle="none",
                label="Krympt skattning (empirisk Bayes)",
            )
        ax.axvline(
            average * scale,
            color="#333333",
            linestyle="--",
            linewidth=1.2,
            label="Genomsnitt för typen",
        )
        ax.set_yticks(y, labels=d[label].tolist())
        ax.invert_yaxis()
        if percent:
            ax.xaxis.set_major_formatter(FuncFormatter(percent_tick))
        else:
            ax.xaxis.set_major_formatter(
                FuncFormatter(lambda x, _p: format_number(x, 1).replace("\u00a0", " "))
            )
        ax.set_xlabel(xlabel)
        ax.legend(loc="lower left", fontsize=8, bbox_to_anchor=(0.0, 1.0), ncols=2)
    return ax


def plot_yearly_shares(
    data: pd.DataFrame,
    *,
    series: str = "label",
    year: str = "ar",
    value: str = "value",
    low: str = "ci_low",
    high: str = "ci_high",
    ylabel: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Shares per year, one line per series with its 95 % interval as a band; years without a
    published value are gaps (the data table marks them ``..``)."""
    import matplotlib.pyplot as plt

    with plt.rc_context({**house_style(), "axes.grid.axis": "y"}):
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, 3.4))
        markers = ("o", "s", "^", "D", "v")
        for j, (name, part) in enumerate(data.groupby(series, sort=False)):
            part = part.sort_values(year)
            x = part[year].astype(int).to_numpy()
            v = part[value].astype(float).to_numpy() * 100
            lo = part[low].astype(float).to_numpy() * 100
            hi = part[high].astype(float).to_numpy() * 100
            color = PALETTE[j % len(PALETTE)]
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
            ax.plot(
                x,
                v,
                marker=markers[j % len(markers)],
                color=color,
                label=str(name).replace("$", r"\$"),
            )
        ax.yaxis.set_major_formatter(FuncFormatter(percent_tick))
        ax.set_ylim(bottom=0)
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.legend(loc="lower left", fontsize=8, bbox_to_anchor=(0.0, 1.0), ncols=2)
    return ax
