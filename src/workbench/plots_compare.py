"""Charts of the comparison report: funnel plot, spine chart and yearly series.

Seaborn's contract, as :mod:`workbench.plots`: ``plot_x(data, *, ..., ax=None) -> Axes``, no
``show()`` or ``savefig()`` inside (:func:`workbench.views.figure_html` renders). Colours come
from the Okabe–Ito palette and never carry meaning alone: better / worse and the quartile groups
are blue / orange (not green / red, which the most common colour-vision deficiencies confuse),
every marked point also differs in shape, and every coloured table cell carries a text label
(:func:`quartile_style`, :func:`class_style`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from workbench.compare import CLASS_SV, QUARTILE_SV
from workbench.fmt import NBSP, format_int, format_percent, is_missing, percent_tick
from workbench.plots import PALETTE, house_style

__all__ = [
    "CLASS_COLOURS",
    "QUARTILE_COLOURS",
    "class_style",
    "plot_funnel",
    "plot_series",
    "plot_spine",
    "quartile_style",
]

_BLUE, _ORANGE = PALETTE[0], PALETTE[1]
_LIGHT, _GREY, _NEUTRAL = "#E8EEF4", "#BDBDBD", "#9FB7CC"
_DARK, _WHITE = "#1A1A1A", "#FFFFFF"

#: Background and text colour per quartile group: blue best, light middle, orange worst, grey
#: missing (contrast of the text at least 4.5:1 on every background).
QUARTILE_COLOURS: dict[str, tuple[str, str]] = {
    "best": (_BLUE, _WHITE),
    "middle": (_LIGHT, _DARK),
    "worst": (_ORANGE, _DARK),
    "high": (_NEUTRAL, _DARK),
    "low": (_NEUTRAL, _DARK),
    "missing": (_GREY, _DARK),
    "yes": (_BLUE, _WHITE),
    "no": (_ORANGE, _DARK),
    "not_answered": (_GREY, _DARK),
}
#: Background and text colour per classification against a benchmark.
CLASS_COLOURS: dict[str, tuple[str, str]] = {
    "better": (_BLUE, _WHITE),
    "similar": (_LIGHT, _DARK),
    "worse": (_ORANGE, _DARK),
    "higher": (_NEUTRAL, _DARK),
    "lower": (_NEUTRAL, _DARK),
    "too_small": (_GREY, _DARK),
    "missing": (_GREY, _DARK),
    "no_benchmark": (_GREY, _DARK),
    "yes": (_BLUE, _WHITE),
    "no": (_ORANGE, _DARK),
    "not_answered": (_GREY, _DARK),
}
#: Marker per classification, so that points differ by shape as well as colour.
_MARKERS = {
    "better": "^",
    "worse": "v",
    "higher": "^",
    "lower": "v",
    "similar": "o",
}


def quartile_style(code: str) -> tuple[str, str, str]:
    """Background, text colour and Swedish label of a quartile group."""
    bg, fg = QUARTILE_COLOURS.get(code, QUARTILE_COLOURS["missing"])
    return bg, fg, QUARTILE_SV.get(code, QUARTILE_SV["missing"])


def class_style(code: str) -> tuple[str, str, str]:
    """Background, text colour and Swedish label of a classification."""
    bg, fg = CLASS_COLOURS.get(code, CLASS_COLOURS["missing"])
    return bg, fg, CLASS_SV.get(code, CLASS_SV["missing"])


def _percent_axis(axis: object) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _p: percent_tick(100 * v)))  # type: ignore[attr-defined]


def plot_funnel(
    data: pd.DataFrame,
    *,
    limits: pd.DataFrame,
    target: float,
    highlight: str | None = None,
    highlight_label: str = "",
    unit: str = "enhet",
    xlabel: str = "Underlag (antal)",
    ylabel: str = "Andel",
    ax: Axes | None = None,
) -> Axes:
    """Funnel plot: each unit's share against its denominator, with control limits.

    ``data`` has ``denominator``, ``share`` and ``klass`` (``better``, ``worse``, ``higher``,
    ``lower`` outside the 95 % limits, else ``similar``); ``limits`` has ``denominator`` and
    ``lower_95``, ``upper_95``, ``lower_998``, ``upper_998``. The centre line is ``target``.
    Points outside the limits are blue triangles up (better) or orange triangles down (worse);
    ``highlight`` (a unit code) is ringed in black and labelled ``highlight_label``.
    """
    with plt.rc_context({**house_style(), "axes.grid.axis": "both"}):
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, 4.2))
        x = data["denominator"].astype("float64").to_numpy()
        y = data["share"].astype("float64").to_numpy()
        klass = data["klass"].astype(str).to_numpy()
        for code, colour in (
            ("similar", "#8C8C8C"),
            ("better", _BLUE),
            ("worse", _ORANGE),
            ("higher", _NEUTRAL),
            ("lower", _NEUTRAL),
        ):
            m = klass == code
            if m.any():
                ax.scatter(
                    x[m],
                    y[m],
                    s=18 if code == "similar" else 30,
                    marker=_MARKERS[code],
                    color=colour,
                    edgecolor=_DARK if code != "similar" else "none",
                    linewidth=0.4,
                    alpha=0.8 if code == "similar" else 1.0,
                    label=CLASS_SV[code],
                    zorder=3,
                )
        n = limits["denominator"].to_numpy(dtype="float64")
        for tag, style, name in (("95", "--", "95 %"), ("998", "-", "99,8 %")):
            ax.plot(n, limits[f"lower_{tag}"], style, color="#555555", linewidth=0.9)
            ax.plot(
                n,
                limits[f"upper_{tag}"],
                style,
                color="#555555",
                linewidth=0.9,
                label=f"Kontrollgräns {name}",
            )
        if np.isfinite(target):
            ax.axhline(target, color=_DARK, linewidth=1.0, label="Riket")
        if highlight is not None:
            own = data[data[unit] == highlight]
            if len(own):
                hx = float(own["denominator"].iloc[0])
                hy = float(own["share"].iloc[0])
                ax.scatter(
                    [hx], [hy], s=120, facecolor="none", edgecolor=_DARK, linewidth=1.6, zorder=4
                )
                ax.annotate(
                    highlight_label or highlight,
                    (hx, hy),
                    xytext=(8, 8),
                    textcoords="offset points",
                    fontsize=9,
                    fontweight="bold",
                    color=_DARK,
                )
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_int(v).replace(NBSP, " ")))
        _percent_axis(ax.yaxis)
        lo = (
            np.nanmin(np.concatenate([y, limits["lower_998"].to_numpy(dtype="float64")]))
            if len(y)
            else 0.0
        )
        hi = (
            np.nanmax(np.concatenate([y, limits["upper_998"].to_numpy(dtype="float64")]))
            if len(y)
            else 1.0
        )
        pad = 0.05 * max(hi - lo, 0.05)
        ax.set_ylim(max(lo - pad, 0.0), min(hi + pad, 1.0))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def plot_spine(
    data: pd.DataFrame,
    *,
    labels: Mapping[str, str],
    unit_label: str = "Kommunen",
    county_label: str = "Länet",
    ax: Axes | None = None,
) -> Axes:
    """Spine chart (Fingertips style): every indicator on one scale, better to the right.

    ``data`` is :class:`workbench.compare.SpineResult` ``data``: positions ``pos_p10``,
    ``pos_q25``, ``pos_q75``, ``pos_p90`` (the spread of the municipalities), ``pos_lan`` and
    ``pos_share`` (this municipality), ``klass``; the national value is at 0. The spread runs from
    the 10th to the 90th percentile (never the minimum and maximum). The municipality's marker
    is coloured and shaped by its class against the nation, and the class is written beside it.
    """
    rows = len(data)
    with plt.rc_context({**house_style(), "axes.grid": False}):
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, 0.55 * rows + 1.2))
        y = np.arange(rows)
        for i, r in enumerate(data.itertuples(index=False)):
            if not is_missing(r.pos_p10) and not is_missing(r.pos_p90):
                ax.barh(i, r.pos_p90 - r.pos_p10, left=r.pos_p10, height=0.5, color="#DDDDDD")
            if not is_missing(r.pos_q25) and not is_missing(r.pos_q75):
                ax.barh(i, r.pos_q75 - r.pos_q25, left=r.pos_q25, height=0.5, color="#A6A6A6")
            if not is_missing(r.pos_lan):
                ax.scatter(
                    [r.pos_lan], [i], marker="D", s=36, facecolor=_WHITE, edgecolor=_DARK, zorder=3
                )
            bg, _fg, text = class_style(str(r.klass))
            if not is_missing(r.pos_share):
                ax.scatter(
                    [r.pos_share],
                    [i],
                    marker=_MARKERS.get(str(r.klass), "o"),
                    s=70,
                    color=bg,
                    edgecolor=_DARK,
                    linewidth=0.8,
                    zorder=4,
                )
            ax.text(1.32, i, text, va="center", fontsize=8, color=_DARK)
        ax.axvline(0, color=_DARK, linewidth=1.0)
        ax.set_yticks(y, labels=[labels.get(str(i), str(i)) for i in data["indikator"]])
        ax.invert_yaxis()
        ax.set_xlim(-1.3, 1.3)
        ax.set_xticks([-1, 0, 1], labels=["← Sämre", "Riket", "Bättre →"])
        handles = [
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                color=_LIGHT,
                markeredgecolor=_DARK,
                label=unit_label,
            ),
            Line2D(
                [],
                [],
                marker="D",
                linestyle="",
                color=_WHITE,
                markeredgecolor=_DARK,
                label=county_label,
            ),
            Line2D([], [], color="#A6A6A6", linewidth=6, label="Mittersta hälften av kommunerna"),
            Line2D([], [], color="#DDDDDD", linewidth=6, label="10:e–90:e percentilen"),
        ]
        ax.legend(
            handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2, fontsize=8
        )
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
    return ax


def plot_series(
    data: pd.DataFrame,
    *,
    units: Sequence[str],
    labels: Mapping[str, str],
    unit: str = "enhet",
    band: tuple[float, float, float] | None = None,
    band_label: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Yearly shares of some units as lines; optionally a whole-period value as a band.

    ``data``: ``enhet``, ``ar``, ``share`` (missing years leave a gap). ``band`` is
    ``(share, ci_low, ci_high)`` of a unit whose yearly values are not published (its value for
    the whole period, drawn as a line with its 95 % interval across all years).
    """
    with plt.rc_context({**house_style(), "axes.grid.axis": "y"}):
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, 3.2))
        years = sorted(int(v) for v in data["ar"].dropna().unique())
        styles = ("-", "--", ":")
        for j, u in enumerate(units):
            d = data[data[unit] == u].sort_values("ar")
            if d.empty:
                continue
            colour = _DARK if j == len(units) - 1 else PALETTE[j % len(PALETTE)]
            ax.plot(
                d["ar"].astype(int),
                d["share"].astype("float64"),
                styles[j % len(styles)],
                marker="os^"[j % 3],
                markersize=4,
                color=colour,
                label=labels.get(u, u),
            )
        if band is not None and years and not any(is_missing(v) for v in band):
            share, lo, hi = band
            ax.fill_between([years[0], years[-1]], lo, hi, color=_ORANGE, alpha=0.25, linewidth=0)
            ax.plot(
                [years[0], years[-1]], [share, share], color=_ORANGE, linewidth=2, label=band_label
            )
        if years:
            ax.set_xticks(years, labels=[str(y) for y in years])
        _percent_axis(ax.yaxis)
        ax.set_ylabel("Andel")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def percent_text(share: object) -> str:
    """A share for chart labels (normal spaces)."""
    return format_percent(share).replace(NBSP, " ")
