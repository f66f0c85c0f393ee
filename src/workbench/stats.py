"""Statistical building blocks for the follow-up analysis.

Pure, vectorised functions over tidy frames: they group with ``groupby`` and never loop over
municipalities. Each estimate names its method; single results are small frozen dataclasses with
``to_frame()`` and ``_repr_html_()``. Methods and their sources are described in
``docs/methods.md`` (section *Statistical methods*).

* :func:`proportion_ci`, :func:`proportion` -- a share with a Wilson score (default),
  Clopper--Pearson exact or Jeffreys interval.
* :func:`shares_with_ci` -- counts and shares of each category of a variable per group.
* :func:`risk_difference_ci`, :func:`risk_difference` -- difference between two independent
  shares with Newcombe's hybrid score interval (Newcombe 1998, method 10).
* :func:`kaplan_meier` -- product-limit survival curves per group: Greenwood variance, log-log
  pointwise intervals, median with Brookmeyer--Crowley interval, share still ongoing at given
  times and restricted mean.
* :func:`benjamini_hochberg` -- false discovery rate adjusted p-values (q-values).
* :func:`trend_test`, :func:`trend_table` -- Cochran--Armitage test for a trend over years in a
  share, with the annual change and (for one series) the odds ratio per year from a logistic
  regression.
* :func:`within_days_outcome`, :func:`within_days_share` -- share of cases (e.g. investigations)
  closed within a number of days, counting cases that are still open correctly.

The objects here hold unprotected numbers: they belong to the private zone. Anything published
goes through :mod:`workbench.disclosure` first.
"""

from __future__ import annotations

import html
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from workbench import fmt

__all__ = [
    "KMResult",
    "ProportionResult",
    "RiskDifferenceResult",
    "TrendResult",
    "benjamini_hochberg",
    "kaplan_meier",
    "proportion",
    "proportion_ci",
    "risk_difference",
    "risk_difference_ci",
    "shares_with_ci",
    "trend_table",
    "trend_test",
    "within_days_outcome",
    "within_days_share",
]

logger = logging.getLogger(__name__)

ProportionMethod = Literal["wilson", "clopper-pearson", "jeffreys"]

PROPORTION_METHODS: dict[str, str] = {
    "wilson": "Wilson score interval",
    "clopper-pearson": "Clopper-Pearson exact interval",
    "jeffreys": "Jeffreys interval",
}
"""Interval methods for a single proportion and their names."""

_METHOD_SV: dict[str, str] = {
    "wilson": "Wilsonintervall",
    "clopper-pearson": "exakt intervall (Clopper–Pearson)",
    "jeffreys": "Jeffreysintervall",
    "newcombe": "Newcombes hybrida score-intervall",
}

TREND_NO_EVIDENCE_SV = "ingen säker förändring"
TREND_INSUFFICIENT_SV = "för lite data för att bedöma trend (minst 3 år med data behövs)"
MIN_TREND_YEARS = 3

_CI_COLUMNS = ["share", "ci_low", "ci_high", "method"]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _as_float(x: Any) -> tuple[np.ndarray, pd.Index | None]:
    """A 1-d float array (missing -> NaN) and the index when ``x`` is a Series."""
    if isinstance(x, pd.Series):
        s = x
        index: pd.Index | None = x.index
    else:
        s = pd.Series(np.ravel(np.asarray(x, dtype=object)), dtype=object)
        index = None
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    values = pd.to_numeric(s, errors="raise")
    return np.asarray(values.to_numpy(dtype="float64", na_value=np.nan), dtype="float64"), index


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95), not {level!r}")
    return float(sps.norm.ppf(1 - (1 - level) / 2))


def _check_counts(x: np.ndarray, n: np.ndarray, what: str) -> None:
    both = ~np.isnan(x) & ~np.isnan(n)
    bad = int(np.sum((x[both] < 0) | (n[both] < 0) | (x[both] > n[both])))
    if bad:
        raise ValueError(
            f"{what}: {bad} row(s) have a count outside 0 .. denominator; counts and "
            "denominators must be non-negative with count <= denominator"
        )


def _require_columns(data: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise KeyError(
            f"column(s) {missing} not in the data; available columns: {list(data.columns)}"
        )


def _format_p(p: float) -> str:
    if fmt.is_missing(p):
        return "p saknas"
    if p < 0.001:
        return "p < 0,001"
    return f"p = {fmt.format_number(p, 3)}"


def _format_ci_sv(low: float, high: float, level: float) -> str:
    lvl = fmt.format_number(100 * level, 0)
    if fmt.is_missing(low) or fmt.is_missing(high):
        return f"{lvl}{fmt.NBSP}% KI saknas"
    lo = fmt.format_number(100 * low, 1)
    hi = fmt.format_percent(high, 1)
    return f"{lvl}{fmt.NBSP}% KI {lo}–{hi}"


def _group_ids(frame: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    """Integer group ids, in sorted key order (missing keys form their own group)."""
    if not by:
        return np.zeros(len(frame), dtype="int64")
    return (
        frame.groupby(list(by), observed=True, dropna=False, sort=True)
        .ngroup()
        .to_numpy(dtype="int64")
    )


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(escape=True, index=False, na_rep="")


# --------------------------------------------------------------------------------------------
# Single proportions
# --------------------------------------------------------------------------------------------


def _proportion_bounds(
    x: np.ndarray, n: np.ndarray, method: str, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share and interval for arrays of counts; NaN where the denominator is 0 or missing."""
    if method not in PROPORTION_METHODS:
        raise ValueError(
            f"unknown interval method {method!r}; choose one of {list(PROPORTION_METHODS)}"
        )
    z = _z(level)
    alpha = 1 - level
    valid = ~np.isnan(x) & ~np.isnan(n) & (n > 0)
    share = np.full(x.shape, np.nan)
    low = np.full(x.shape, np.nan)
    high = np.full(x.shape, np.nan)
    if not valid.any():
        return share, low, high
    xv, nv = x[valid], n[valid]
    p = xv / nv
    if method == "wilson":
        z2 = z * z
        denom = 1 + z2 / nv
        centre = (p + z2 / (2 * nv)) / denom
        half = z * np.sqrt(np.maximum(p * (1 - p) / nv + z2 / (4 * nv * nv), 0.0)) / denom
        lo, hi = centre - half, centre + half
    elif method == "clopper-pearson":
        with np.errstate(invalid="ignore", divide="ignore"):
            lo = sps.beta.ppf(alpha / 2, xv, nv - xv + 1)
            hi = sps.beta.ppf(1 - alpha / 2, xv + 1, nv - xv)
    else:  # jeffreys, with the boundary modification of Brown, Cai & DasGupta (2001)
        lo = sps.beta.ppf(alpha / 2, xv + 0.5, nv - xv + 0.5)
        hi = sps.beta.ppf(1 - alpha / 2, xv + 0.5, nv - xv + 0.5)
    lo = np.where(xv == 0, 0.0, lo)
    hi = np.where(xv == nv, 1.0, hi)
    share[valid] = p
    low[valid] = np.clip(lo, 0.0, 1.0)
    high[valid] = np.clip(hi, 0.0, 1.0)
    return share, low, high


def proportion_ci(
    successes: Any,
    trials: Any,
    *,
    method: ProportionMethod = "wilson",
    level: float = 0.95,
) -> pd.DataFrame:
    """Share and confidence interval for many proportions at once.

    Parameters
    ----------
    successes, trials
        Counts: scalars, array-likes or Series of equal length (nullable ``Int64`` allowed;
        missing values give a missing result). When ``successes`` is a Series its index is
        kept, so the result lines up with the frame the counts came from.
    method
        ``"wilson"`` (Wilson score interval, the default), ``"clopper-pearson"`` (exact,
        conservative) or ``"jeffreys"`` (equal-tailed Beta(x + 1/2, n - x + 1/2) interval with
        the lower limit 0 at x = 0 and upper limit 1 at x = n, Brown, Cai & DasGupta 2001).
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``share``, ``ci_low``, ``ci_high`` (floats; NaN where ``trials`` is 0 or
        missing) and ``method``.

    Raises
    ------
    ValueError
        When a count is negative or larger than its denominator, or the method is unknown.
    """
    x, index = _as_float(successes)
    n, n_index = _as_float(trials)
    if index is None:
        index = n_index
    if x.shape != n.shape:
        raise ValueError(f"successes and trials must have the same length ({x.size} vs {n.size})")
    _check_counts(x, n, "proportion_ci")
    share, low, high = _proportion_bounds(x, n, method, level)
    out = pd.DataFrame(
        {"share": share, "ci_low": low, "ci_high": high},
        index=index if index is not None else pd.RangeIndex(x.size),
    )
    out["method"] = method
    return out


@dataclass(frozen=True)
class ProportionResult:
    """A share with its confidence interval.

    Attributes
    ----------
    successes, trials
        The counts.
    share
        ``successes / trials`` (NaN when ``trials`` is 0).
    ci_low, ci_high
        Confidence limits.
    method
        Interval method: ``"wilson"`` (Wilson score interval), ``"clopper-pearson"`` or
        ``"jeffreys"``; :attr:`method_name` spells it out.
    level
        Confidence level.
    """

    successes: float
    trials: float
    share: float
    ci_low: float
    ci_high: float
    method: str
    level: float

    @property
    def method_name(self) -> str:
        """The interval's name, e.g. ``"Wilson score interval"``."""
        return PROPORTION_METHODS[self.method]

    def to_frame(self) -> pd.DataFrame:
        """One row: counts, share, limits, method and level."""
        return pd.DataFrame(
            [
                {
                    "successes": self.successes,
                    "trials": self.trials,
                    "share": self.share,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "method": self.method,
                    "level": self.level,
                }
            ]
        )

    def text_sv(self) -> str:
        """Swedish sentence, e.g. ``"31 % (95 % KI 25,5–36,6 %), 81 av 263; Wilsonintervall"``."""
        if fmt.is_missing(self.share):
            return f"andel saknas (0 av 0); {_METHOD_SV[self.method]}"
        return (
            f"{fmt.format_percent(self.share, 1)} "
            f"({_format_ci_sv(self.ci_low, self.ci_high, self.level)}), "
            f"{fmt.format_int(self.successes)} av {fmt.format_int(self.trials)}; "
            f"{_METHOD_SV[self.method]}"
        )

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.text_sv())}</p>"


def proportion(
    successes: int,
    trials: int,
    *,
    method: ProportionMethod = "wilson",
    level: float = 0.95,
) -> ProportionResult:
    """One share with its confidence interval (see :func:`proportion_ci` for the methods).

    Parameters
    ----------
    successes, trials
        The count and its denominator; ``trials == 0`` gives NaN share and limits.
    method
        ``"wilson"`` (default), ``"clopper-pearson"`` or ``"jeffreys"``.
    level
        Confidence level.

    Returns
    -------
    ProportionResult

    Examples
    --------
    >>> r = proportion(81, 263)
    >>> round(r.ci_low, 4), round(r.ci_high, 4)
    (0.2553, 0.3662)
    """
    row = proportion_ci([successes], [trials], method=method, level=level).iloc[0]
    return ProportionResult(
        successes=float(successes),
        trials=float(trials),
        share=float(row["share"]),
        ci_low=float(row["ci_low"]),
        ci_high=float(row["ci_high"]),
        method=method,
        level=level,
    )


# --------------------------------------------------------------------------------------------
# Shares of the categories of a variable
# --------------------------------------------------------------------------------------------


def shares_with_ci(
    data: pd.DataFrame,
    *,
    by: Sequence[str],
    value: str,
    method: ProportionMethod = "wilson",
    level: float = 0.95,
    weight: str | None = None,
) -> pd.DataFrame:
    """Count and share of each category of ``value`` within each group, with intervals.

    The denominator of a group is the number of its rows where ``value`` is filled in
    (missing values are not a category; the completeness tables count them). Groups are the
    observed combinations of ``by`` (a missing key is a group of its own, so no row is lost).
    Categories: when ``value`` is categorical (ordered or not) every category is listed for
    every group, with ``n = 0`` where it does not occur (``observed=False`` semantics); a
    boolean column lists both ``False`` and ``True``; any other dtype lists the categories
    observed in the group. A group whose values are all missing has denominator 0 and NaN
    shares (listed only when the categories are known from the dtype).

    Parameters
    ----------
    data
        Tidy frame, one row per unit counted (or aggregated counts with ``weight``).
    by
        Grouping columns, e.g. ``["kommun", "ar"]``; ``[]`` for one group.
    value
        The variable whose categories are counted.
    method, level
        Interval method and level, see :func:`proportion_ci`.
    weight
        Optional column of frequency weights (counts per row) instead of one per row.

    Returns
    -------
    pandas.DataFrame
        Columns ``*by, value, n, denominator, share, ci_low, ci_high, method``, sorted by
        group and category (category order for categoricals).
    """
    by = list(by)
    cols = [*by, value] + ([weight] if weight else [])
    _require_columns(data, cols)
    reserved = {"n", "denominator", *_CI_COLUMNS, "_w", "_f"}
    clash = [c for c in [*by, value] if c in reserved]
    if clash:
        raise ValueError(f"column name(s) {clash} clash with output columns; rename them first")

    df = data[cols]
    if weight:
        w, _ = _as_float(df[weight])
        w = np.nan_to_num(w, nan=0.0)
    else:
        w = np.ones(len(df))
    filled = df[value].notna().to_numpy(dtype=bool)

    work = df[by].copy() if by else pd.DataFrame(index=df.index)
    work["_w"] = w
    work["_f"] = np.where(filled, w, 0.0)
    if by:
        den = (
            work.groupby(by, observed=True, dropna=False, sort=True)["_f"]
            .sum()
            .rename("denominator")
            .reset_index()
        )
    else:
        den = pd.DataFrame({"denominator": [float(work["_f"].sum())]})

    counted = df.loc[filled, [*by, value]].copy()
    counted["_w"] = w[filled]
    counts = (
        counted.groupby([*by, value], observed=True, dropna=False, sort=True)["_w"]
        .sum()
        .rename("n")
        .reset_index()
    )

    vdtype = df[value].dtype
    categories: pd.Series | None = None
    if isinstance(vdtype, pd.CategoricalDtype):
        categories = pd.Series(vdtype.categories, dtype=vdtype, name=value)
    elif pd.api.types.is_bool_dtype(vdtype):
        categories = pd.Series([False, True], dtype=vdtype, name=value)

    if categories is not None:
        grid = den.merge(categories.to_frame(), how="cross")
        out = grid.merge(counts, on=[*by, value], how="left", sort=False)
        out["n"] = out["n"].fillna(0.0)
    elif by:
        out = counts.merge(den, on=by, how="left", sort=False)
    else:
        out = counts.assign(denominator=den["denominator"].iloc[0] if len(den) else 0.0)

    if weight is None:
        out["n"] = out["n"].astype("int64")
        out["denominator"] = out["denominator"].astype("int64")
    out = out[[*by, value, "n", "denominator"]]
    if len(out):
        out = out.sort_values([*by, value], kind="stable", na_position="last")
    out = out.reset_index(drop=True)
    ci = proportion_ci(out["n"], out["denominator"], method=method, level=level)
    return pd.concat([out, ci], axis=1)


# --------------------------------------------------------------------------------------------
# Difference between two independent proportions
# --------------------------------------------------------------------------------------------


def risk_difference_ci(
    x1: Any,
    n1: Any,
    x2: Any,
    n2: Any,
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """Differences ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval, vectorised.

    Newcombe (1998), "Interval estimation for the difference between independent
    proportions", method 10: the limits combine the two Wilson score intervals
    ``(l1, u1)`` and ``(l2, u2)`` as ``d - sqrt((p1 - l1)^2 + (u2 - p2)^2)`` and
    ``d + sqrt((u1 - p1)^2 + (p2 - l2)^2)``. Well behaved at 0 % and 100 %.

    Parameters
    ----------
    x1, n1, x2, n2
        Counts and denominators of group 1 and group 2 (scalars, arrays or Series).
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``p1``, ``p2``, ``difference``, ``ci_low``, ``ci_high`` (NaN where a
        denominator is 0) and ``method`` (``"newcombe"``).
    """
    a1, index = _as_float(x1)
    b1, _ = _as_float(n1)
    a2, _ = _as_float(x2)
    b2, _ = _as_float(n2)
    if not (a1.shape == b1.shape == a2.shape == b2.shape):
        raise ValueError("x1, n1, x2 and n2 must have the same length")
    _check_counts(a1, b1, "risk_difference (group 1)")
    _check_counts(a2, b2, "risk_difference (group 2)")
    p1, l1, u1 = _proportion_bounds(a1, b1, "wilson", level)
    p2, l2, u2 = _proportion_bounds(a2, b2, "wilson", level)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    out = pd.DataFrame(
        {
            "p1": p1,
            "p2": p2,
            "difference": d,
            "ci_low": np.clip(low, -1.0, 1.0),
            "ci_high": np.clip(high, -1.0, 1.0),
        },
        index=index if index is not None else pd.RangeIndex(a1.size),
    )
    out["method"] = "newcombe"
    return out


@dataclass(frozen=True)
class RiskDifferenceResult:
    """Difference between two independent shares, ``p1 - p2``, with its interval.

    Attributes
    ----------
    x1, n1, x2, n2
        Counts and denominators.
    p1, p2
        The two shares.
    difference
        ``p1 - p2`` (a risk difference in proportion units; x 100 for percentage points).
    ci_low, ci_high
        Confidence limits (Newcombe hybrid score interval, method 10 of Newcombe 1998).
    method, level
        ``"newcombe"`` and the confidence level.
    """

    x1: float
    n1: float
    x2: float
    n2: float
    p1: float
    p2: float
    difference: float
    ci_low: float
    ci_high: float
    method: str
    level: float

    @property
    def method_name(self) -> str:
        """The interval's name."""
        return "Newcombe hybrid score interval (Newcombe 1998, method 10)"

    def to_frame(self) -> pd.DataFrame:
        """One row with all fields."""
        return pd.DataFrame([self.__dict__])

    def text_sv(self) -> str:
        """Swedish sentence: the difference in percentage points with its interval."""
        if fmt.is_missing(self.difference):
            return "skillnad kan inte beräknas (en grupp saknar underlag)"
        lvl = fmt.format_number(100 * self.level, 0)
        return (
            f"skillnad {fmt.format_number(100 * self.difference, 1)} procentenheter "
            f"({lvl}{fmt.NBSP}% KI {fmt.format_number(100 * self.ci_low, 1)} till "
            f"{fmt.format_number(100 * self.ci_high, 1)}); {_METHOD_SV['newcombe']}"
        )

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.text_sv())}</p>"


def risk_difference(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    *,
    method: Literal["newcombe"] = "newcombe",
    level: float = 0.95,
) -> RiskDifferenceResult:
    """Difference ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval.

    Parameters
    ----------
    x1, n1
        Count and denominator of group 1.
    x2, n2
        Count and denominator of group 2.
    method
        Only ``"newcombe"`` (Newcombe 1998, method 10) is implemented.
    level
        Confidence level.

    Returns
    -------
    RiskDifferenceResult

    Examples
    --------
    >>> r = risk_difference(56, 70, 48, 80)
    >>> round(r.ci_low, 4), round(r.ci_high, 4)
    (0.0524, 0.3339)
    """
    if method != "newcombe":
        raise ValueError(f"unknown method {method!r}; only 'newcombe' is implemented")
    row = risk_difference_ci([x1], [n1], [x2], [n2], level=level).iloc[0]
    return RiskDifferenceResult(
        x1=float(x1),
        n1=float(n1),
        x2=float(x2),
        n2=float(n2),
        p1=float(row["p1"]),
        p2=float(row["p2"]),
        difference=float(row["difference"]),
        ci_low=float(row["ci_low"]),
        ci_high=float(row["ci_high"]),
        method=method,
        level=level,
    )


# --------------------------------------------------------------------------------------------
# Multiple comparisons
# --------------------------------------------------------------------------------------------


def benjamini_hochberg(pvalues: Any, *, alpha: float = 0.05) -> pd.DataFrame:
    """Benjamini--Hochberg false discovery rate control.

    The q-value (BH-adjusted p-value) of the i-th smallest of m p-values is
    ``min over j >= i of p_(j) * m / j``, capped at 1; a hypothesis is rejected when its
    q-value is at most ``alpha``, which is the step-up rule of Benjamini & Hochberg (1995).
    Missing p-values are ignored (m counts only the present ones) and get a missing q-value and
    rejection flag.

    Parameters
    ----------
    pvalues
        Array-like or Series of p-values in [0, 1]; a Series keeps its index.
    alpha
        The false discovery rate to control.

    Returns
    -------
    pandas.DataFrame
        Columns ``p_value``, ``q_value`` (float, NaN where p is missing) and ``reject``
        (nullable boolean).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, not {alpha!r}")
    p, index = _as_float(pvalues)
    present = ~np.isnan(p)
    if np.any((p[present] < 0) | (p[present] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    q = np.full(p.shape, np.nan)
    m = int(present.sum())
    if m:
        pv = p[present]
        order = np.argsort(pv, kind="stable")
        scaled = pv[order] * m / np.arange(1, m + 1)
        q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
        qv = np.empty(m)
        qv[order] = q_sorted
        q[present] = qv
    reject = pd.array(np.where(present, q <= alpha, False), dtype="boolean")
    reject[~present] = pd.NA
    return pd.DataFrame(
        {"p_value": p, "q_value": q, "reject": reject},
        index=index if index is not None else pd.RangeIndex(p.size),
    )


# --------------------------------------------------------------------------------------------
# Trend over years
# --------------------------------------------------------------------------------------------


def _year_values(col: pd.Series) -> np.ndarray:
    values, _ = _as_float(col)
    return values


def _yearly_counts(
    data: pd.DataFrame, by: Sequence[str], year: str, successes: str, trials: str
) -> pd.DataFrame:
    """Successes and trials summed per group and year; rows with missing year/trials dropped."""
    _require_columns(data, [*by, year, successes, trials])
    x, _ = _as_float(data[successes])
    n, _ = _as_float(data[trials])
    _check_counts(x, n, "trend test")
    work = data[list(by)].copy() if by else pd.DataFrame(index=data.index)
    work["_year"] = _year_values(data[year])
    work["_x"] = x
    work["_n"] = n
    keep = ~np.isnan(work["_year"].to_numpy()) & ~np.isnan(n) & ~np.isnan(x)
    work = work.loc[keep]
    keys = [*by, "_year"]
    out = work.groupby(keys, observed=True, dropna=False, sort=True)[["_x", "_n"]].sum()
    out = out.reset_index()
    return out.loc[out["_n"] > 0].reset_index(drop=True)


def _trend_text_sv(direction: str, slope: float, p: float) -> str:
    if direction == "insufficient_data":
        return TREND_INSUFFICIENT_SV
    if direction == "no_evidence":
        return f"{TREND_NO_EVIDENCE_SV} ({_format_p(p)})"
    word = "ökande" if direction == "increasing" else "minskande"
    pp = fmt.format_number(abs(100 * slope), 1)
    return f"{word}: i genomsnitt {pp} procentenheter per år ({_format_p(p)})"


def trend_table(
    data: pd.DataFrame,
    *,
    by: Sequence[str],
    year: str,
    successes: str,
    trials: str,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Cochran--Armitage test for a linear trend in a share over years, for every group.

    For each group, with years ``x_i`` as scores, counts ``s_i`` of ``n_i``, ``N = sum n_i``
    and ``p = sum s_i / N``: ``T = sum x_i (s_i - n_i p)``,
    ``Sxx = sum n_i (x_i - xbar)^2`` (``xbar`` weighted by ``n_i``) and
    ``z = T / sqrt(p (1 - p) Sxx)``, two-sided normal p-value (Cochran 1954, Armitage 1955).
    The annual change ``slope = T / Sxx`` is the least-squares slope of the yearly shares on
    year, weighted by ``n_i``, in proportion units per year. Rows of the same group and year
    are summed; years with no trials do not count. A group with fewer than 3 years with data
    gets ``direction = "insufficient_data"``; a group with no (or only) successes has no
    observable change: ``z = 0``, ``p = 1``.

    Vectorised over groups. With many groups, control the false discovery rate with
    :func:`benjamini_hochberg` on ``p_value``.

    Parameters
    ----------
    data
        Tidy frame with one or more rows per group and year.
    by
        Grouping columns (``[]`` for one series).
    year
        Year column (numbers, numeric strings or categories of numbers).
    successes, trials
        Count columns.
    alpha
        Significance level for ``direction``.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``*by, n_years, first_year, last_year, successes, trials,
        share_first, share_last, slope, z, p_value, direction`` (``"increasing"``,
        ``"decreasing"``, ``"no_evidence"`` or ``"insufficient_data"``), ``text_sv`` and
        ``method``.
    """
    by = list(by)
    yc = _yearly_counts(data, by, year, successes, trials)
    if yc.empty:
        cols = [
            *by,
            "n_years",
            "first_year",
            "last_year",
            "successes",
            "trials",
            "share_first",
            "share_last",
            "slope",
            "z",
            "p_value",
            "direction",
            "text_sv",
            "method",
        ]
        return pd.DataFrame({c: data[c].iloc[:0] if c in by else [] for c in cols})
    x0 = float(yc["_year"].min())
    xc = yc["_year"] - x0
    yc["_nx"] = yc["_n"] * xc
    yc["_nxx"] = yc["_n"] * xc * xc
    yc["_sx"] = yc["_x"] * xc
    yc["_share"] = yc["_x"] / yc["_n"]
    gid = _group_ids(yc, by)
    g = yc.groupby(gid, sort=True)
    agg = pd.DataFrame(
        {
            "n_years": g["_year"].size(),
            "first_year": g["_year"].min(),
            "last_year": g["_year"].max(),
            "successes": g["_x"].sum(),
            "trials": g["_n"].sum(),
            "share_first": g["_share"].first(),
            "share_last": g["_share"].last(),
            "_nx": g["_nx"].sum(),
            "_nxx": g["_nxx"].sum(),
            "_sx": g["_sx"].sum(),
        }
    )
    keys = yc[by].groupby(gid, sort=True).first() if by else None
    big_n = agg["trials"].to_numpy()
    pbar = agg["successes"].to_numpy() / big_n
    t_stat = agg["_sx"].to_numpy() - pbar * agg["_nx"].to_numpy()
    sxx = agg["_nxx"].to_numpy() - agg["_nx"].to_numpy() ** 2 / big_n
    enough = agg["n_years"].to_numpy() >= MIN_TREND_YEARS
    degenerate = (pbar <= 0) | (pbar >= 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = t_stat / np.sqrt(pbar * (1 - pbar) * sxx)
        slope = t_stat / sxx
    z = np.where(degenerate, 0.0, z)
    slope = np.where(degenerate, 0.0, slope)
    p = 2 * sps.norm.sf(np.abs(z))
    z = np.where(enough, z, np.nan)
    slope = np.where(enough, slope, np.nan)
    p = np.where(enough, p, np.nan)
    direction = np.where(
        ~enough,
        "insufficient_data",
        np.where(p < alpha, np.where(z > 0, "increasing", "decreasing"), "no_evidence"),
    )
    out = pd.DataFrame(
        {
            "n_years": agg["n_years"].to_numpy(dtype="int64"),
            "first_year": agg["first_year"].to_numpy(),
            "last_year": agg["last_year"].to_numpy(),
            "successes": agg["successes"].to_numpy(),
            "trials": agg["trials"].to_numpy(),
            "share_first": agg["share_first"].to_numpy(),
            "share_last": agg["share_last"].to_numpy(),
            "slope": slope,
            "z": z,
            "p_value": p,
            "direction": direction,
        }
    )
    out["text_sv"] = [
        _trend_text_sv(d, s, pv)
        for d, s, pv in zip(out["direction"], out["slope"], out["p_value"], strict=True)
    ]
    out["method"] = "cochran-armitage"
    if keys is not None:
        out = pd.concat([keys.reset_index(drop=True), out], axis=1)
    return out


@dataclass(frozen=True)
class TrendResult:
    """Test for a trend over years in one share.

    Attributes
    ----------
    n_years
        Years with data (trials > 0).
    first_year, last_year
        Range of those years.
    successes, trials
        Totals over the years.
    z, p_value
        Cochran--Armitage statistic (years as scores) and its two-sided p-value.
    slope
        Annual change in the share (weighted least-squares slope, proportion units per year).
    odds_ratio, or_ci_low, or_ci_high
        Odds ratio per year and its Wald interval from a logistic regression on year
        (statsmodels GLM, Binomial family, logit link); NaN when it cannot be estimated.
    direction
        ``"increasing"``, ``"decreasing"`` (p < alpha), ``"no_evidence"`` or
        ``"insufficient_data"`` (fewer than 3 years with data).
    text_sv
        The conclusion in Swedish, e.g. ``"ingen säker förändring (p = 0,412)"``.
    method, level, alpha
        Method description, interval level and significance level.
    warnings
        Warnings raised while fitting the regression (e.g. perfect separation).
    """

    n_years: int
    first_year: float
    last_year: float
    successes: float
    trials: float
    z: float
    p_value: float
    slope: float
    odds_ratio: float
    or_ci_low: float
    or_ci_high: float
    direction: str
    text_sv: str
    method: str
    level: float
    alpha: float
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """One row with all fields (warnings joined by ``"; "``)."""
        row = dict(self.__dict__)
        row["warnings"] = "; ".join(self.warnings)
        return pd.DataFrame([row])

    def _repr_html_(self) -> str:
        head = f"<p>Trend: {html.escape(self.text_sv)}</p>"
        note = f"<p><small>{html.escape(self.method)}</small></p>"
        return head + note


def trend_test(
    data: pd.DataFrame,
    *,
    year: str,
    successes: str,
    trials: str,
    level: float = 0.95,
    alpha: float = 0.05,
) -> TrendResult:
    """Is a share changing over the years? Cochran--Armitage test plus logistic regression.

    The decision uses the Cochran--Armitage test (see :func:`trend_table`); when
    ``p >= alpha`` the answer is ``"ingen säker förändring"`` (no evidence of change), otherwise
    ``"ökande"`` or ``"minskande"`` with the annual change in percentage points. The odds ratio
    per year comes from a logistic regression of the yearly counts on year (statsmodels GLM,
    Binomial family). Fewer than 3 years with data gives a ``"insufficient_data"`` result,
    not an exception.

    Both assume independent units; registrations of the same child are not, so p-values are
    somewhat too small when children have many registrations per year.

    Parameters
    ----------
    data
        Frame with one row per year (rows of the same year are summed).
    year, successes, trials
        Column names.
    level
        Level of the odds-ratio interval.
    alpha
        Significance level for the conclusion.

    Returns
    -------
    TrendResult
    """
    z_crit = _z(level)
    table = trend_table(data, by=[], year=year, successes=successes, trials=trials, alpha=alpha)
    method = (
        "Cochran-Armitage test for trend (years as scores); odds ratio per year from logistic "
        "regression (statsmodels GLM, Binomial, logit link)"
    )
    if table.empty:
        return TrendResult(
            n_years=0,
            first_year=np.nan,
            last_year=np.nan,
            successes=0.0,
            trials=0.0,
            z=np.nan,
            p_value=np.nan,
            slope=np.nan,
            odds_ratio=np.nan,
            or_ci_low=np.nan,
            or_ci_high=np.nan,
            direction="insufficient_data",
            text_sv=TREND_INSUFFICIENT_SV,
            method=method,
            level=level,
            alpha=alpha,
        )
    row = table.iloc[0]
    odds_ratio = or_low = or_high = np.nan
    caught: list[str] = []
    pbar = row["successes"] / row["trials"]
    if row["direction"] != "insufficient_data" and 0 < pbar < 1:
        import statsmodels.api as sm

        yc = _yearly_counts(data, [], year, successes, trials)
        x = yc["_year"].to_numpy() - yc["_year"].min()
        endog = np.column_stack([yc["_x"].to_numpy(), (yc["_n"] - yc["_x"]).to_numpy()])
        exog = sm.add_constant(x, has_constant="add")
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            try:
                fit = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
                beta, se = float(fit.params[1]), float(fit.bse[1])
                if np.isfinite(beta) and np.isfinite(se):
                    odds_ratio = float(np.exp(beta))
                    or_low = float(np.exp(beta - z_crit * se))
                    or_high = float(np.exp(beta + z_crit * se))
            except (np.linalg.LinAlgError, ValueError) as exc:  # pragma: no cover - defensive
                caught.append(f"{type(exc).__name__} in the logistic regression")
        caught.extend(f"{w.category.__name__}: {w.message}" for w in record)
        if any("PerfectSeparation" in w.category.__name__ for w in record):
            # the maximum likelihood estimate does not exist: no odds ratio to report
            odds_ratio = or_low = or_high = np.nan
            caught.append("odds ratio not estimable (perfect separation)")
        caught = list(dict.fromkeys(caught))
        for msg in caught:
            logger.warning("trend_test: %s", msg)
    return TrendResult(
        n_years=int(row["n_years"]),
        first_year=float(row["first_year"]),
        last_year=float(row["last_year"]),
        successes=float(row["successes"]),
        trials=float(row["trials"]),
        z=float(row["z"]),
        p_value=float(row["p_value"]),
        slope=float(row["slope"]),
        odds_ratio=odds_ratio,
        or_ci_low=or_low,
        or_ci_high=or_high,
        direction=str(row["direction"]),
        text_sv=str(row["text_sv"]),
        method=method,
        level=level,
        alpha=alpha,
        warnings=tuple(caught),
    )


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------


def _event_values(col: pd.Series) -> np.ndarray:
    """Event indicator as floats 0/1 with NaN for missing; anything else is an error."""
    if pd.api.types.is_bool_dtype(col.dtype) or isinstance(col.dtype, pd.BooleanDtype):
        return col.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(col.dtype):
        raise ValueError(
            "the event column must be boolean or 0/1 numeric (1 = the event happened, "
            "0 = censored, e.g. still ongoing)"
        )
    values, _ = _as_float(col)
    present = values[~np.isnan(values)]
    if np.any((present != 0) & (present != 1)):
        raise ValueError("the event column must hold only 0/1 (or True/False) values")
    return values


def _duration_values(col: pd.Series) -> np.ndarray:
    if pd.api.types.is_timedelta64_dtype(col.dtype):
        values = (col / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    else:
        values, _ = _as_float(col)
    if np.any(values[~np.isnan(values)] < 0):
        raise ValueError("durations must be non-negative (check start and end dates)")
    return values


@dataclass(frozen=True, eq=False)
class KMResult:
    """Kaplan--Meier (product-limit) survival curves, one per group.

    "Survival" here is the share still ongoing (e.g. interventions not yet ended) after a
    given time. Greenwood's formula gives the variance; pointwise intervals use the log-log
    transform (``S^exp(+-z * se)`` with ``se = sqrt(G) / |log S|``, ``G`` the Greenwood sum).
    Intervals are NaN where ``S = 1`` (no event yet) or ``S = 0``.

    Attributes
    ----------
    curve
        One row per group and distinct observed time: ``*by, time, n_at_risk, n_events,
        n_censored, survival, std_err`` (Greenwood standard error of ``survival``),
        ``ci_low, ci_high``. Censored observations tied with events count as at risk.
    summary
        One row per group: ``*by, n, n_events, max_time, median, median_ci_low,
        median_ci_high``. The median is the first event time where ``S <= 0.5`` (NaN: not
        reached). Its interval (Brookmeyer & Crowley 1982, log-log transform, as in SAS
        PROC LIFETEST and statsmodels ``SurvfuncRight.quantile_ci``) is the set of event times
        whose pointwise test of ``S(t) = 0.5`` is not rejected: the lower limit is the first
        such time and the upper limit the next event time after the last such time (NaN: not
        reached within follow-up).
    by
        The grouping columns.
    level
        Confidence level.
    n_excluded
        Rows left out because duration or event was missing.
    method
        Description of the method.
    """

    curve: pd.DataFrame
    summary: pd.DataFrame
    by: tuple[str, ...]
    level: float
    n_excluded: int = 0
    method: str = (
        "Kaplan-Meier product-limit estimator; Greenwood variance; log-log pointwise "
        "intervals; median with Brookmeyer-Crowley interval (log-log)"
    )

    def to_frame(self) -> pd.DataFrame:
        """Copy of :attr:`summary` (one row per group)."""
        return self.summary.copy()

    def survival_at(self, times: Sequence[float]) -> pd.DataFrame:
        """Share still ongoing at the given times, per group.

        Parameters
        ----------
        times
            Times in the duration's unit, e.g. ``[6, 12, 24]`` months.

        Returns
        -------
        pandas.DataFrame
            ``*by, time, n_at_risk`` (still under observation at ``time``), ``survival``,
            ``std_err``, ``ci_low``, ``ci_high``. Before the first observed time the survival
            is 1; beyond a group's last observed time it is NaN unless the curve has reached 0
            (the share is not estimable past the end of follow-up).
        """
        t = np.asarray(sorted({float(v) for v in times}), dtype="float64")
        by = list(self.by)
        groups = self.summary[[*by, "max_time"]].copy()
        groups["_gid"] = np.arange(len(groups), dtype="int64")
        left = groups.merge(pd.DataFrame({"time": t}), how="cross")
        curve = self.curve.copy()
        curve["_gid"] = _group_ids(curve, by)
        right = curve[["_gid", "time", "survival", "std_err", "ci_low", "ci_high"]]
        left = left.sort_values("time", kind="stable")
        back = pd.merge_asof(
            left,
            right.sort_values("time", kind="stable"),
            on="time",
            by="_gid",
            direction="backward",
        )
        fwd = pd.merge_asof(
            left[["_gid", "time"]],
            curve[["_gid", "time", "n_at_risk"]].sort_values("time", kind="stable"),
            on="time",
            by="_gid",
            direction="forward",
        )
        back["n_at_risk"] = fwd["n_at_risk"].fillna(0).astype("int64").to_numpy()
        before = back["survival"].isna()
        back.loc[before, "survival"] = 1.0
        back.loc[before, "std_err"] = 0.0
        beyond = (back["time"] > back["max_time"]) & (back["survival"] > 0)
        back.loc[beyond, ["survival", "std_err", "ci_low", "ci_high"]] = np.nan
        back = back.sort_values(["_gid", "time"], kind="stable").reset_index(drop=True)
        return back[[*by, "time", "n_at_risk", "survival", "std_err", "ci_low", "ci_high"]]

    def restricted_mean(self, tau: float) -> pd.DataFrame:
        """Restricted mean duration up to ``tau`` (area under the curve from 0 to ``tau``).

        Variance from Klein & Moeschberger (2003), eq. 4.5.2:
        ``sum over event times t_i <= tau of A_i^2 d_i / (n_i (n_i - d_i))`` with ``A_i`` the
        area under the curve from ``t_i`` to ``tau``; normal interval clipped to [0, tau].

        Parameters
        ----------
        tau
            Horizon, in the duration's unit. NaN for a group whose follow-up ends before
            ``tau`` while the curve is still above 0.

        Returns
        -------
        pandas.DataFrame
            ``*by, tau, rmst, std_err, ci_low, ci_high``.
        """
        by = list(self.by)
        z = _z(self.level)
        c = self.curve[[*by, "time", "n_at_risk", "n_events", "survival"]].copy()
        c["_gid"] = _group_ids(c, by)
        c = c.loc[c["time"] < tau].reset_index(drop=True)
        nxt = c.groupby("_gid")["time"].shift(-1).fillna(tau).to_numpy()
        c["_area"] = c["survival"].to_numpy() * (np.minimum(nxt, tau) - c["time"].to_numpy())
        # A_i: area from t_i to tau = reverse cumulative sum within the group
        c["_tail"] = c.iloc[::-1].groupby("_gid")["_area"].cumsum().iloc[::-1]
        n, d = c["n_at_risk"].to_numpy(float), c["n_events"].to_numpy(float)
        tail = c["_tail"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where((d > 0) & (tail > 0), tail**2 * d / (n * (n - d)), 0.0)
        c["_var"] = term
        g = c.groupby("_gid")
        first_time = g["time"].min()
        groups = self.summary[[*by, "max_time"]].copy()
        groups["_gid"] = np.arange(len(groups), dtype="int64")
        agg = pd.DataFrame(
            {"_area": g["_area"].sum(), "_var": g["_var"].sum(), "_first": first_time}
        )
        out = groups.merge(agg, left_on="_gid", right_index=True, how="left")
        # before the first observed time the curve is 1
        first = out["_first"].fillna(tau).clip(upper=tau)
        rmst = first + out["_area"].fillna(0.0)
        last_surv = (
            self.curve.assign(_gid=_group_ids(self.curve, by)).groupby("_gid")["survival"].last()
        )
        last = out["_gid"].map(last_surv).to_numpy()
        undefined = (out["max_time"].to_numpy() < tau) & (last > 0)
        se = np.sqrt(out["_var"].fillna(0.0).to_numpy())
        rmst = np.where(undefined, np.nan, rmst.to_numpy())
        se = np.where(undefined, np.nan, se)
        res = out[by].copy() if by else pd.DataFrame(index=out.index)
        res["tau"] = float(tau)
        res["rmst"] = rmst
        res["std_err"] = se
        res["ci_low"] = np.clip(rmst - z * se, 0.0, tau)
        res["ci_high"] = np.clip(rmst + z * se, 0.0, tau)
        return res.reset_index(drop=True)

    def _repr_html_(self) -> str:
        lvl = fmt.format_number(100 * self.level, 0)
        head = (
            f"<p>Kaplan–Meier, {html.escape(lvl)} % konfidensintervall. "
            f"<small>{html.escape(self.method)}</small></p>"
        )
        return head + _html_table(self.summary)


def kaplan_meier(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    by: Sequence[str] | None = None,
    level: float = 0.95,
) -> KMResult:
    """Kaplan--Meier curves per group, vectorised (one ``groupby``, no loop over groups).

    Use it for durations where some cases are still ongoing (right-censored), e.g. the length
    of interventions: a naive mean of finished interventions would be biased short.

    Parameters
    ----------
    data
        Tidy frame, one row per case.
    duration
        Time from start to end (event) or to the end of follow-up (censored); numbers in any
        unit, or timedeltas (converted to days). Must be non-negative.
    event
        1/True when the event (e.g. the intervention ended) was observed, 0/False when the case
        is censored (still ongoing). Nullable ``boolean``/``Int64`` allowed.
    by
        Grouping columns; ``None`` or ``[]`` for one curve.
    level
        Confidence level.

    Returns
    -------
    KMResult
        Curves, per-group summary (median with interval), and methods for the share still
        ongoing at given times (:meth:`KMResult.survival_at`) and the restricted mean
        (:meth:`KMResult.restricted_mean`). Zero events, all censored, ties and a single row
        are all allowed. Rows with missing duration or event are left out and counted in
        ``n_excluded``.
    """
    by = list(by or [])
    _require_columns(data, [*by, duration, event])
    z = _z(level)
    t = _duration_values(data[duration])
    e = _event_values(data[event])
    keep = ~np.isnan(t) & ~np.isnan(e)
    n_excluded = int((~keep).sum())
    if n_excluded:
        logger.info("kaplan_meier: %d row(s) without duration or event left out", n_excluded)
    work = data.loc[keep, by].copy() if by else pd.DataFrame(index=data.index[keep])
    work["time"] = t[keep]
    work["_e"] = e[keep]
    work["_gid"] = _group_ids(work, by)

    agg = (
        work.groupby(["_gid", "time"], sort=True)["_e"]
        .agg(["sum", "size"])
        .rename(columns={"sum": "n_events", "size": "_n_obs"})
        .reset_index()
    )
    agg["n_events"] = agg["n_events"].astype("int64")
    agg["n_censored"] = agg["_n_obs"] - agg["n_events"]
    g = agg.groupby("_gid", sort=False)
    total = g["_n_obs"].transform("sum")
    agg["n_at_risk"] = (total - g["_n_obs"].cumsum() + agg["_n_obs"]).astype("int64")
    n = agg["n_at_risk"].to_numpy(float)
    d = agg["n_events"].to_numpy(float)
    agg["_factor"] = 1.0 - d / n
    surv = agg.groupby("_gid", sort=False)["_factor"].cumprod().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        agg["_gw"] = np.where(d > 0, d / (n * (n - d)), 0.0)
    gw = agg.groupby("_gid", sort=False)["_gw"].cumsum().to_numpy()
    interior = (surv > 0) & (surv < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        std_err = np.where(surv > 0, surv * np.sqrt(gw), np.nan)
        se_ll = np.sqrt(gw) / np.abs(np.log(surv))
        ci_low = np.where(interior, surv ** np.exp(z * se_ll), np.nan)
        ci_high = np.where(interior, surv ** np.exp(-z * se_ll), np.nan)
    std_err = np.where(surv >= 1, 0.0, std_err)
    agg["survival"] = surv
    agg["std_err"] = std_err
    agg["ci_low"] = ci_low
    agg["ci_high"] = ci_high

    keys = work.groupby("_gid", sort=True)[by].first() if by else None

    # Summary per group
    gg = agg.groupby("_gid", sort=True)
    summary = pd.DataFrame(
        {
            "n": gg["_n_obs"].sum().astype("int64"),
            "n_events": gg["n_events"].sum().astype("int64"),
            "max_time": gg["time"].max(),
        }
    )
    ev = agg.loc[agg["n_events"] > 0]
    median = ev.loc[ev["survival"] <= 0.5 + 1e-12].groupby("_gid")["time"].first()
    summary["median"] = median.reindex(summary.index)

    # Brookmeyer-Crowley interval for the median (log-log), on event times only
    ev = ev.copy()
    ev["_rank"] = ev.groupby("_gid").cumcount()
    s_ev = ev["survival"].to_numpy()
    gw_ev = gw[(agg["n_events"] > 0).to_numpy()]
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (np.log(-np.log(s_ev)) - np.log(np.log(2.0))) / (np.sqrt(gw_ev) / -np.log(s_ev))
    ev["_in"] = np.abs(stat) <= z
    inside = ev.loc[ev["_in"]]
    lower = inside.groupby("_gid")["time"].first()
    last_rank = inside.groupby("_gid")["_rank"].max()
    nxt = ev[["_gid", "_rank", "time"]].copy()
    nxt["_rank"] -= 1
    upper_map = pd.DataFrame({"_gid": last_rank.index, "_rank": last_rank.to_numpy()}).merge(
        nxt, on=["_gid", "_rank"], how="left"
    )
    upper = pd.Series(upper_map["time"].to_numpy(), index=upper_map["_gid"].to_numpy())
    summary["median_ci_low"] = lower.reindex(summary.index)
    summary["median_ci_high"] = upper.reindex(summary.index)
    summary = summary.reset_index(drop=True)

    curve_cols = [
        "time",
        "n_at_risk",
        "n_events",
        "n_censored",
        "survival",
        "std_err",
        "ci_low",
        "ci_high",
    ]
    curve = agg[["_gid", *curve_cols]]
    if keys is not None:
        curve = keys.merge(curve, left_index=True, right_on="_gid", how="right")
        summary = pd.concat([keys.reset_index(drop=True), summary], axis=1)
    curve = curve[[*by, *curve_cols]].reset_index(drop=True)
    return KMResult(curve=curve, summary=summary, by=tuple(by), level=level, n_excluded=n_excluded)


# --------------------------------------------------------------------------------------------
# Share closed within a number of days
# --------------------------------------------------------------------------------------------


def _as_dates(x: Any, what: str) -> pd.Series:
    s = x if isinstance(x, pd.Series) else pd.Series(x)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    before = s.isna()
    out = pd.to_datetime(s, errors="coerce")
    bad = int((out.isna() & ~before).sum())
    if bad:
        raise ValueError(
            f"{what}: {bad} value(s) could not be read as dates; use ISO dates (YYYY-MM-DD)"
        )
    return out


def within_days_outcome(
    start: Any,
    end: Any,
    *,
    days: int,
    as_of: Any = None,
) -> pd.Series:
    """Per case: closed within ``days`` days? Counting cases still open correctly.

    * closed (``end`` present) with ``end - start <= days``: ``True``;
    * closed after more than ``days`` days: ``False``;
    * still open (``end`` missing) and already open more than ``days`` days on ``as_of``:
      ``False`` -- it can no longer be closed in time;
    * still open for ``days`` days or less on ``as_of``: ``<NA>`` -- not yet known, so it
      is left out of the denominator rather than counted as late or on time;
    * missing ``start``, ``end`` before ``start``, or an open case starting after ``as_of``:
      ``<NA>`` (invalid).

    Parameters
    ----------
    start, end
        Dates (Series, array-like of dates or ISO strings); ``end`` missing = still open.
    days
        The limit, inclusive (e.g. 120 for investigations within four months).
    as_of
        Date of the data extract (the end of follow-up). Default: the latest date in
        ``start`` or ``end``, which assumes the extract was taken right after the last
        recorded date; pass the real extract date when it is known.

    Returns
    -------
    pandas.Series
        Nullable ``boolean``, aligned with ``start``.
    """
    s = _as_dates(start, "start")
    e = _as_dates(end, "end")
    if len(s) != len(e):
        raise ValueError(f"start and end must have the same length ({len(s)} vs {len(e)})")
    e = e.set_axis(s.index)
    if as_of is None:
        latest = pd.concat([s, e]).max()
        ref = pd.Timestamp(latest) if not pd.isna(latest) else pd.NaT
    else:
        ref = pd.Timestamp(as_of)
    limit = pd.Timedelta(days=int(days))
    closed = e.notna() & s.notna()
    elapsed = e - s
    open_ = e.isna() & s.notna()
    open_for = ref - s
    result = pd.Series(pd.NA, index=s.index, dtype="boolean")
    valid_closed = closed & (elapsed >= pd.Timedelta(0))
    result[valid_closed & (elapsed <= limit)] = True
    result[valid_closed & (elapsed > limit)] = False
    result[open_ & (open_for > limit)] = False
    return result


def within_days_share(
    start: Any,
    end: Any,
    *,
    days: int,
    as_of: Any = None,
    by: pd.Series | pd.DataFrame | Sequence[pd.Series] | None = None,
    method: ProportionMethod = "wilson",
    level: float = 0.95,
) -> pd.DataFrame:
    """Share of cases closed within ``days`` days, with a confidence interval, per group.

    Each case is classified by :func:`within_days_outcome`. The denominator is the cases whose
    outcome is known: closed in time, closed late, or still open and already late. Cases still
    open but not yet late are not counted (their outcome is unknown); counting them as on time
    would flatter and as late would penalise a municipality with many recent cases.

    Parameters
    ----------
    start, end, days, as_of
        See :func:`within_days_outcome`.
    by
        Optional grouping aligned with ``start``: a Series, a list of Series or a DataFrame
        (its columns), as for ``DataFrame.groupby``.
    method, level
        Interval method and level (Wilson by default), see :func:`proportion_ci`.

    Returns
    -------
    pandas.DataFrame
        One row per group: grouping columns, ``n_within``, ``n_late`` (closed after the
        limit), ``n_open_late`` (still open, already past the limit), ``n_undetermined``
        (still open, not yet past the limit), ``n_invalid`` (missing or inconsistent dates),
        ``denominator``, ``share``, ``ci_low``, ``ci_high``, ``method``.
    """
    outcome = within_days_outcome(start, end, days=days, as_of=as_of)
    s = _as_dates(start, "start")
    e = _as_dates(end, "end").set_axis(s.index)
    open_ = e.isna() & s.notna()
    valid_closed = e.notna() & s.notna() & (e >= s)
    if as_of is None:
        latest = pd.concat([s, e]).max()
        ref = pd.Timestamp(latest) if not pd.isna(latest) else pd.NaT
    else:
        ref = pd.Timestamp(as_of)
    undetermined = open_ & ((ref - s) <= pd.Timedelta(days=int(days))) & (s <= ref)
    frame = pd.DataFrame(
        {
            "n_within": outcome.fillna(False).to_numpy(dtype=bool),
            "n_late": (valid_closed & ~outcome).fillna(False).to_numpy(dtype=bool),
            "n_open_late": (open_ & ~outcome).fillna(False).to_numpy(dtype=bool),
            "n_undetermined": undetermined.to_numpy(dtype=bool),
        },
        index=s.index,
    )
    frame["n_invalid"] = ~(frame.to_numpy().any(axis=1))
    frame = frame.astype("int64")
    if by is None:
        counts = frame.sum().to_frame().T
        keys: list[str] = []
    else:
        if isinstance(by, pd.DataFrame):
            groupers = [by[c] for c in by.columns]
        elif isinstance(by, pd.Series):
            groupers = [by]
        else:
            groupers = list(by)
        groupers = [g.set_axis(s.index) for g in groupers]
        keys = [
            str(g.name) if g.name is not None else f"group_{i}" for i, g in enumerate(groupers)
        ]
        groupers = [g.rename(k) for g, k in zip(groupers, keys, strict=True)]
        counts = frame.groupby(groupers, observed=True, dropna=False, sort=True).sum()
        counts = counts.reset_index()
    counts["denominator"] = counts["n_within"] + counts["n_late"] + counts["n_open_late"]
    ci = proportion_ci(counts["n_within"], counts["denominator"], method=method, level=level)
    out = pd.concat([counts.reset_index(drop=True), ci.reset_index(drop=True)], axis=1)
    cols = [
        *keys,
        "n_within",
        "n_late",
        "n_open_late",
        "n_undetermined",
        "n_invalid",
        "denominator",
        *_CI_COLUMNS,
    ]
    return out[cols]
