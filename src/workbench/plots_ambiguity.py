"""Charts of the ambiguity report, in the house style of :mod:`workbench.plots`.

Seaborn's contract: ``plot_x(data, *, ..., ax=None) -> Axes``; nothing here calls ``show()`` or
``savefig()`` (:func:`workbench.views.figure_html` renders). The data come from protected tables
or from statistics that are not counts (agreement coefficients); a missing value is drawn as no
mark.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # reports render off-screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from workbench.fmt import format_int, format_number, is_missing, percent_tick  # noqa: E402
from workbench.plots import PALETTE, house_style  # noqa: E402

#: Line styles and markers so that series differ by more than colour alone.
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Krippendorff (2004): below 0.667 unreliable, 0.667-0.800 tentative, from 0.800 reliable.
ALPHA_LIMITS = (0.667, 0.800)


def _nums(values: pd.Series) -> np.ndarray:
    return np.array([np.nan if is_missing(v) else float(v) for v in values], dtype=float)


def plot_agreement(
    data: pd.DataFrame,
    *,
    label: str = "label",
    estimate: str = "alpha",
    low: str = "alpha_ci_low",
    high: str = "alpha_ci_high",
    limits: tuple[float, float] = ALPHA_LIMITS,
    ax: Axes | None = None,
) -> Axes:
    """Krippendorff's alpha per variable with its interval, against the reliability limits.

    One row per variable (in the order given); the dashed lines are the limits below which
    agreement is tentative (``limits[1]``) or unreliable (``limits[0]``).
    """
    labels = list(data[label])
    est, lo, hi = _nums(data[estimate]), _nums(data[low]), _nums(data[high])
    with plt.rc_context(house_style()):
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, max(2.0, 0.42 * len(labels) + 1.0)))
        y = np.arange(len(labels))
        unreliable = est < limits[0]
        for group, colour, marker in (
            (unreliable, PALETTE[5], "s"),
            (~unreliable, PALETTE[0], "o"),
        ):
            sel = group & np.isfinite(est)
            err = np.vstack([est - lo, hi - est])[:, sel]
            ax.errorbar(
                est[sel],
                y[sel],
                xerr=np.nan_to_num(err, nan=0.0),
                fmt=marker,
                color=colour,
                ecolor=colour,
                capsize=3,
                markersize=6,
            )
        for xx, yy in zip(est, y, strict=True):
            if np.isfinite(xx):
                ax.text(xx, yy - 0.3, format_number(xx, 2), ha="center", fontsize=8)
        for lim in limits:
            ax.axvline(lim, color="#555555", linestyle="--", linewidth=0.8)
        ax.set_yticks(y, labels=labels)
        ax.invert_yaxis()
        left = min(0.0, float(np.nanmin(lo)) - 0.05) if np.isfinite(lo).any() else 0.0
        ax.set_xlim(left, 1.0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_number(v, 1)))
        ax.set_xlabel("Krippendorffs alfa (1 = full samstämmighet)")
    return ax


def plot_confusion(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
) -> Axes:
    """Heat map of a confusion table given as row percentages (0-100), codes as labels.

    Cell (row, column): of the values a rater gave as the row's code, the percentage whose pair
    partner (another rater of the same vignette) gave the column's code. Missing cells stay blank.
    """
    values = data.to_numpy(dtype=float)
    with plt.rc_context({**house_style(), "axes.grid": False}):
        if ax is None:
            size = max(3.5, 0.6 * len(data) + 2.0)
            _, ax = plt.subplots(figsize=(size + 1.5, size))
        im = ax.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=0, vmax=100)
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    format_number(v, 0),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v > 60 else "#222222",
                )
        ax.set_xticks(range(data.shape[1]), labels=list(data.columns), rotation=45, ha="right")
        ax.set_yticks(range(data.shape[0]), labels=list(data.index))
        ax.set_xlabel("Den andra bedömarens kod")
        ax.set_ylabel("Bedömarens kod")
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, format=FuncFormatter(percent_tick))
    return ax


def plot_funnel(
    data: pd.DataFrame,
    *,
    n: str = "n",
    value: str = "standardised_share",
    national_share: float,
    deff: float = 1.0,
    tau: float = 0.0,
    highlight: str | None = None,
    label: str = "kommun_label",
    key: str = "kommun",
    ylabel: str = "Andel (justerad för ärendemix)",
    ax: Axes | None = None,
) -> Axes:
    """Funnel plot: each municipality's case-mix standardised share against its number of rows.

    Control limits around the national share ``p0`` at 95 % and 99.8 % (binomial,
    ``p0 +- z sqrt(deff p0 (1 - p0) / n)``) and, dashed, 99.8 % limits widened by the
    between-municipality spread ``tau`` (Spiegelhalter 2005). Points outside the 99.8 % limits
    are drawn as squares in another colour; ``highlight`` (a ``key`` value) is ringed and named.
    Rows with a missing value (not published) are not drawn.
    """
    d = data.assign(_n=_nums(data[n]), _v=_nums(data[value]))
    d = d[np.isfinite(d["_n"]) & np.isfinite(d["_v"]) & (d["_n"] > 0)]
    p0 = float(national_share)
    with plt.rc_context({**house_style(), "axes.grid.axis": "both"}):
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, 4.5))
        top = float(d["_n"].max()) if len(d) else 100.0
        grid = np.linspace(max(1.0, float(d["_n"].min()) if len(d) else 1.0), top * 1.05, 200)
        se = np.sqrt(deff * p0 * (1 - p0) / grid)
        for z, style, name in ((1.96, ":", "95 %"), (3.09, "-", "99,8 %")):
            ax.plot(grid, p0 + z * se, color="#555555", linestyle=style, linewidth=0.9, label=name)
            ax.plot(
                grid,
                np.clip(p0 - z * se, 0, None),
                color="#555555",
                linestyle=style,
                linewidth=0.9,
            )
        if tau > 0:
            se_od = np.sqrt(se**2 + (tau * p0) ** 2)
            ax.plot(
                grid,
                p0 + 3.09 * se_od,
                color=PALETTE[2],
                linestyle="--",
                linewidth=0.9,
                label="99,8 % med kommunspridning",
            )
            ax.plot(
                grid,
                np.clip(p0 - 3.09 * se_od, 0, None),
                color=PALETTE[2],
                linestyle="--",
                linewidth=0.9,
            )
        ax.axhline(p0, color="#222222", linewidth=0.8)
        lim = 3.09 * np.sqrt(deff * p0 * (1 - p0) / np.maximum(d["_n"].to_numpy(), 1.0))
        out = (np.abs(d["_v"].to_numpy() - p0) > lim) if len(d) else np.zeros(0, bool)
        ax.scatter(
            d["_n"][~out],
            d["_v"][~out],
            s=18,
            color=PALETTE[0],
            marker="o",
            label="Kommun",
            zorder=3,
        )
        ax.scatter(
            d["_n"][out],
            d["_v"][out],
            s=26,
            color=PALETTE[5],
            marker="s",
            label="Kommun utanför 99,8 %",
            zorder=3,
        )
        if highlight is not None:
            own = d[d[key] == highlight]
            if len(own):
                ax.scatter(
                    own["_n"],
                    own["_v"],
                    s=110,
                    facecolors="none",
                    edgecolors="#000000",
                    linewidths=1.5,
                    zorder=4,
                )
                name = str(own[label].iloc[0]) if label in own else str(highlight)
                ax.annotate(
                    name,
                    (float(own["_n"].iloc[0]), float(own["_v"].iloc[0])),
                    xytext=(8, 8),
                    textcoords="offset points",
                    fontsize=9,
                )
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _p: format_int(v).replace("\u00a0", " "))
        )
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: percent_tick(100 * v)))
        ax.set_ylim(bottom=0)
        ax.set_xlabel("Antal med svar (logaritmisk skala)")
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_residual_trend(
    data: pd.DataFrame,
    *,
    year: str = "ar",
    value: str = "share",
    series: str = "label",
    ax: Axes | None = None,
) -> Axes:
    """Share with a residual code per year, one line per series (variable); missing years (not
    published) leave a gap."""
    with plt.rc_context({**house_style(), "axes.grid.axis": "y"}):
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, 3.6))
        vmax = 0.0
        for i, (name, part) in enumerate(data.groupby(series, sort=False)):
            part = part.sort_values(year)
            x = _nums(part[year])
            v = _nums(part[value]) * 100
            vmax = max(vmax, float(np.nanmax(v)) if np.isfinite(v).any() else 0.0)
            ax.plot(
                x,
                v,
                color=PALETTE[i % len(PALETTE)],
                linestyle=LINESTYLES[i % len(LINESTYLES)],
                marker=MARKERS[i % len(MARKERS)],
                markersize=4,
                label=str(name),
            )
        years = sorted({int(y) for y in _nums(data[year]) if np.isfinite(y)})
        if years:
            ax.set_xticks(years, labels=[str(y) for y in years])
        ax.set_ylim(0, max(vmax * 1.2, 1.0))
        ax.yaxis.set_major_formatter(FuncFormatter(percent_tick))
        ax.set_ylabel("Andel med restkod (annat)")
        ax.legend(loc="upper left", fontsize=8, bbox_to_anchor=(1.0, 1.0))
    return ax
