"""Rater agreement from vignette studies: which follow-up variables do social workers code alike?

In a vignette study many social workers (raters) code the same written case descriptions
(vignettes, the *units*). The functions here take any long frame with one row per unit x rater
and a value (the canonical ``vignette_ratings`` table has the columns ``vinjett_id``,
``bedomare_id``, ``kommun``, ``variabel``, ``varde``; filter it to one ``variabel`` first, or use
:func:`agreement_by_variable`). Missing ratings (an NA value or an absent row) are allowed.

Methods
-------
Krippendorff's alpha (:func:`krippendorff_alpha`)
    ``alpha = 1 - D_o / D_e`` computed from the coincidence matrix ``o_ck`` (Krippendorff 2011,
    "Computing Krippendorff's Alpha-Reliability"): every unit with ``m_u >= 2`` values contributes
    each ordered pair of its values with weight ``1 / (m_u - 1)``; units with fewer than two
    values are dropped (they hold no pairable value). Difference functions: nominal
    (``c != k``), ordinal (squared distance between the cumulative-frequency midpoints of the
    ranks), interval (``(c - k)^2``) and ratio (``((c - k) / (c + k))^2``).
    Interval: a percentile bootstrap over **units** (vignettes are resampled with replacement,
    alpha recomputed, including the ordinal metric's marginal frequencies), as recommended for
    alpha by Zapf et al. (2016, BMC Med Res Methodol 16:93). This is not the Hayes &
    Krippendorff (2007) resampling of coincidences: resampling units keeps each vignette's
    ratings together, which is the sampling design of a vignette study.
Fleiss' kappa (:func:`fleiss_kappa`)
    Fleiss (1971): ``(P_bar - P_e) / (1 - P_e)`` with ``P_bar`` the mean per-unit proportion of
    agreeing rater pairs and ``P_e`` the sum of squared pooled code shares. When units have
    different numbers of ratings (missing ratings), ``P_bar`` is the mean over units with at least
    two ratings of each unit's own agreement proportion (the usual generalisation; identical to
    Fleiss (1971) when every unit has the same number of ratings).
Cohen's kappa (:func:`cohen_kappa`)
    Cohen (1960) for exactly two raters over the units both rated; weighted kappa (Cohen 1968)
    with linear (Cicchetti-Allison) or quadratic (Fleiss-Cohen) disagreement weights on the code
    positions of the order.
Per code (:func:`code_agreement`)
    Proportion of specific agreement generalised to many raters (Uebersax; Cicchetti & Feinstein
    1990), Fleiss' (1971) category-specific kappa and Krippendorff's alpha for the code against
    all others (the data dichotomised), all from the coincidence matrix.

Reliability data can carry no personal data: results hold counts, codes and coefficients only.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.fmt import NOT_APPLICABLE, format_int, format_number

log = logging.getLogger(__name__)

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")
#: Below this many units the bootstrap interval gets a warning (it is very wide and unstable).
FEW_UNITS = 10
#: Status values of :func:`agreement_by_variable`.
STATUS_OK, STATUS_UNDEFINED, STATUS_NOT_ENOUGH = "ok", "undefined", "not enough data"

_LEVEL_SV = {"nominal": "nominal", "ordinal": "ordinal", "interval": "intervall", "ratio": "kvot"}
_BOOT_CELLS = 4_000_000  # bound on floats held per bootstrap batch

W_ONE_CODE = "only one code used: {stat} undefined"
W_NO_UNITS = "no unit has two or more ratings: {stat} undefined"
W_FEW_UNITS = f"fewer than {FEW_UNITS} units: interval very wide"


@dataclass(frozen=True)
class AgreementResult:
    """One agreement coefficient with its interval, counts and caveats.

    Attributes
    ----------
    estimate
        The coefficient; ``nan`` when undefined (no pairable values, or one code only).
    ci_low, ci_high
        Confidence interval; ``nan`` when not computed.
    method
        The coefficient and interval method, e.g. ``"Krippendorff's alpha (ordinal), unit
        bootstrap 1000, 95% percentile interval"``.
    level
        Level of measurement the coefficient treats the values at.
    n_units
        Units with at least two pairable values (for Cohen's kappa: units rated by both raters).
    n_raters
        Distinct raters with at least one value in those units.
    n_pairable_values
        Values in those units.
    warnings
        Plain-text caveats (e.g. ``"only one code used: alpha undefined"``).
    """

    estimate: float
    ci_low: float
    ci_high: float
    method: str
    level: str
    n_units: int
    n_raters: int
    n_pairable_values: int
    warnings: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row: the attributes as columns, ``warnings`` joined with ``"; "``."""
        return pd.DataFrame(
            {
                "estimate": [self.estimate],
                "ci_low": [self.ci_low],
                "ci_high": [self.ci_high],
                "method": [self.method],
                "level": [self.level],
                "n_units": [self.n_units],
                "n_raters": [self.n_raters],
                "n_pairable_values": [self.n_pairable_values],
                "warnings": ["; ".join(self.warnings)],
            }
        )

    def _repr_html_(self) -> str:
        def num(x: float) -> str:
            return format_number(x, 3, missing=NOT_APPLICABLE)

        ci = (
            f"{num(self.ci_low)} – {num(self.ci_high)}"
            if np.isfinite(self.ci_low) and np.isfinite(self.ci_high)
            else "ej beräknat"
        )
        rows = [
            ("Skattning", num(self.estimate)),
            ("Konfidensintervall", ci),
            ("Metod", self.method),
            ("Mätnivå", _LEVEL_SV.get(self.level, self.level)),
            ("Enheter med minst två bedömningar", format_int(self.n_units)),
            ("Bedömare", format_int(self.n_raters)),
            ("Parbara värden", format_int(self.n_pairable_values)),
            ("Varningar", "; ".join(self.warnings) or "inga"),
        ]
        body = "".join(
            f"<tr><th scope='row'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table class='wb-agreement'>{body}</table>"


# ------------------------------------------------------------------------------------------------
# Boundary: long frame -> unit x code counts
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """Counts of one variable's ratings: pairable units x codes."""

    counts: np.ndarray  # float, units with >= 2 values x codes
    categories: tuple[Hashable, ...]  # code values in order
    scores: np.ndarray | None  # numeric value per code (interval/ratio), else None
    n_raters: int  # raters with a value in a pairable unit
    n_raters_total: int  # raters in the data (any row)
    n_single: int  # units with exactly one value
    unit_rater_value: tuple[np.ndarray, np.ndarray, np.ndarray]  # all non-missing ratings


def _short(values: Sequence[Any], k: int = 5) -> str:
    """A few example values, truncated (codes only; never a whole free-text field)."""
    shown = [str(v)[:20] for v in list(values)[:k]]
    more = f" and {len(values) - k} more" if len(values) > k else ""
    return ", ".join(repr(s) for s in shown) + more


def _encode(
    s: pd.Series, *, level: str, order: Sequence[Any] | None, value: str
) -> tuple[np.ndarray, tuple[Hashable, ...], np.ndarray | None]:
    """Integer codes (-1 = missing), the code values in order and numeric scores."""
    is_cat = isinstance(s.dtype, pd.CategoricalDtype)
    if order is not None:
        cats = list(order)
        if len(set(cats)) != len(cats):
            raise ValueError("order lists a code more than once; give each code once")
        index = pd.Index(cats)
        if is_cat:  # map the categories once, not every row
            where = index.get_indexer(s.cat.categories)
            raw = s.cat.codes.to_numpy()
            codes = np.full(len(raw), -1, dtype=np.int64)
            codes[raw >= 0] = where[raw[raw >= 0]]
        else:
            codes = index.get_indexer(s).astype(np.int64)
        unknown = s.notna().to_numpy() & (codes < 0)
        if unknown.any():
            bad = pd.unique(s[unknown].astype(object))
            raise ValueError(
                f"{int(unknown.sum())} values of {value!r} are not in the given order "
                f"({_short(bad)}); add them to order=[...] or set them to missing first"
            )
    elif is_cat:
        cats = list(s.cat.categories)
        codes = s.cat.codes.to_numpy().astype(np.int64)
        if level == "ordinal" and not s.cat.ordered:
            raise ValueError(_need_order(value))
    else:
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if level == "ordinal" and not numeric:
            raise ValueError(_need_order(value))
        try:
            codes, uniques = pd.factorize(s, sort=True)
        except TypeError as exc:
            raise ValueError(
                f"values of {value!r} mix types that cannot be sorted; convert the column to "
                "one type (e.g. .astype('str')) or pass order=[...]"
            ) from exc
        codes = np.asarray(codes, dtype=np.int64)
        cats = list(uniques)
    scores = None
    if level in ("interval", "ratio"):
        try:
            scores = np.asarray(cats, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"level={level!r} needs numeric values in {value!r}; convert with pd.to_numeric, "
                "or use level='ordinal' with order=[...] for ordered codes"
            ) from exc
        if level == "ratio" and (scores < 0).any():
            raise ValueError("level='ratio' needs non-negative values; use level='interval'")
    return codes, tuple(cats), scores


def _need_order(value: str) -> str:
    return (
        f"ordinal agreement (level='ordinal', weighted kappa) needs the order of the codes in "
        f"{value!r}: pass order=[lowest, ..., "
        "highest], or give the column an ordered categorical dtype "
        "(pd.Categorical(values, categories=[...], ordered=True))"
    )


def _table(
    data: pd.DataFrame,
    *,
    unit: str,
    rater: str,
    value: str,
    level: str = "nominal",
    order: Sequence[Any] | None = None,
) -> _Table:
    """Validate a long frame and count each unit's values per code."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    missing = [c for c in (unit, rater, value) if c not in data.columns]
    if missing:
        raise ValueError(
            f"columns {missing} not found; name the unit, rater and value columns with "
            f"unit=..., rater=..., value=... (the frame has {list(data.columns)[:10]})"
        )
    no_id = data[unit].isna().to_numpy() | data[rater].isna().to_numpy()
    if no_id.any():
        raise ValueError(
            f"{int(no_id.sum())} rows lack a unit or rater id; drop or complete them first"
        )
    u_codes, u_uniques = pd.factorize(data[unit])
    r_codes, r_uniques = pd.factorize(data[rater])
    n_u, n_r = len(u_uniques), len(r_uniques)
    key = u_codes.astype(np.int64) * max(n_r, 1) + r_codes
    n_dup = len(key) - len(np.unique(key))
    if n_dup:
        raise ValueError(
            f"{n_dup} (unit, rater) pairs occur more than once: each rater gives at most one "
            "value per unit. Filter to one variable first (e.g. data[data['variabel'] == ...]) "
            "or use agreement_by_variable()"
        )
    v_codes, cats, scores = _encode(data[value], level=level, order=order, value=value)
    ok = v_codes >= 0
    u, r, v = u_codes[ok].astype(np.int64), r_codes[ok].astype(np.int64), v_codes[ok]
    k = len(cats)
    counts = np.bincount(u * k + v, minlength=n_u * k).reshape(n_u, k).astype(float)
    m = counts.sum(axis=1)
    pairable = m >= 2
    in_pairable = pairable[u] if len(u) else np.zeros(0, bool)
    table = _Table(
        counts=counts[pairable],
        categories=cats,
        scores=scores,
        n_raters=int(np.unique(r[in_pairable]).size),
        n_raters_total=n_r,
        n_single=int((m == 1).sum()),
        unit_rater_value=(u, r, v),
    )
    log.debug("agreement table: %d units, %d pairable, %d codes", n_u, table.counts.shape[0], k)
    return table


# ------------------------------------------------------------------------------------------------
# Coincidences and alpha (vectorised over units and bootstrap replicates)
# ------------------------------------------------------------------------------------------------


def _coincidences(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's o_ck: sum over units of (n_u n_u' - diag n_u) / (m_u - 1)."""
    w = 1.0 / (counts.sum(axis=1) - 1.0)
    o = (counts * w[:, None]).T @ counts
    o[np.diag_indices_from(o)] -= counts.T @ w
    return o


def _delta(level: str, n_c: np.ndarray | None, scores: np.ndarray | None, k: int) -> np.ndarray:
    """Squared difference function delta^2_ck (k x k, or batch x k x k for ordinal)."""
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        assert n_c is not None
        mid = np.cumsum(n_c, axis=-1) - n_c / 2.0  # midpoint rank of each code
        return (mid[..., None, :] - mid[..., :, None]) ** 2
    assert scores is not None
    diff = scores[None, :] - scores[:, None]
    if level == "interval":
        return diff**2
    tot = scores[None, :] + scores[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tot > 0, (diff / np.where(tot > 0, tot, 1.0)) ** 2, 0.0)


def _alpha_value(o: np.ndarray, level: str, scores: np.ndarray | None) -> float:
    n_c = o.sum(axis=1)
    n = n_c.sum()
    delta = _delta(level, n_c, scores, len(n_c))
    observed = (o * delta).sum()
    expected = n_c @ delta @ n_c
    if not expected > 0:
        return float("nan")
    return float(1.0 - (n - 1.0) * observed / expected)


def _alpha_replicates(
    counts: np.ndarray, level: str, scores: np.ndarray | None, freq: np.ndarray
) -> np.ndarray:
    """Alpha of each bootstrap replicate; ``freq[b, u]`` = how often unit u is drawn.

    Works on per-unit sums, never on per-pair terms: with ``n_u`` a unit's code counts and
    ``w_u = 1 / (m_u - 1)``, the unit adds ``w_u * n_u' delta n_u`` to the observed
    disagreement. For the ordinal metric (whose delta depends on each replicate's marginals) that
    quadratic form is ``2 m_u sum_c n_uc mid_c^2 - 2 (sum_c n_uc mid_c)^2``.
    """
    m = counts.sum(axis=1)
    w = 1.0 / (m - 1.0)
    n_c = freq @ counts  # replicate marginals
    n = n_c.sum(axis=1)
    k = counts.shape[1]
    if level == "ordinal":
        mid = np.cumsum(n_c, axis=1) - n_c / 2.0
        a1 = counts @ mid.T  # units x replicates
        a2 = counts @ (mid**2).T
        per_unit = w[:, None] * (2.0 * m[:, None] * a2 - 2.0 * a1**2)
        observed = np.einsum("bu,ub->b", freq, per_unit)
        expected = 2.0 * n * (n_c * mid**2).sum(axis=1) - 2.0 * (n_c * mid).sum(axis=1) ** 2
    else:
        delta = _delta(level, None, scores, k)
        per_unit = w * np.einsum("uc,ck,uk->u", counts, delta, counts)
        observed = freq @ per_unit
        expected = np.einsum("bc,ck,bk->b", n_c, delta, n_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 - (n - 1.0) * observed / expected
    # Rounding can leave a tiny positive expected disagreement when one code is left.
    return np.where(expected > 1e-9 * np.maximum(n, 1.0) ** 2, out, np.nan)


def _bootstrap(
    counts: np.ndarray, level: str, scores: np.ndarray | None, n_boot: int, seed: int
) -> np.ndarray:
    """Unit bootstrap: ``n_boot`` replicates, each drawing all units with replacement."""
    n_units = counts.shape[0]
    rng = np.random.default_rng(seed)
    batch = max(1, min(n_boot, _BOOT_CELLS // max(n_units, counts.shape[1] ** 2, 1)))
    out = np.empty(n_boot)
    for start in range(0, n_boot, batch):
        b = min(batch, n_boot - start)
        draws = rng.integers(0, n_units, size=(b, n_units))
        flat = (np.arange(b)[:, None] * n_units + draws).ravel()
        freq = np.bincount(flat, minlength=b * n_units).reshape(b, n_units).astype(float)
        out[start : start + b] = _alpha_replicates(counts, level, scores, freq)
    return out


def _check_boot(n_boot: int, ci: float) -> None:
    if not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer (0 = no interval), got {n_boot}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie strictly between 0 and 1 (e.g. 0.95), got {ci}")


def _alpha_result(t: _Table, *, level: str, n_boot: int, seed: int, ci: float) -> AgreementResult:
    counts = t.counts
    n_units = counts.shape[0]
    warnings: list[str] = []
    if t.n_single:
        warnings.append(f"{t.n_single} units with a single rating dropped (nothing to pair)")
    method = f"Krippendorff's alpha ({level})"
    estimate = lo = hi = float("nan")
    if n_units == 0:
        warnings.append(W_NO_UNITS.format(stat="alpha"))
    else:
        o = _coincidences(counts)
        if int((o.sum(axis=1) > 0).sum()) < 2:
            warnings.append(W_ONE_CODE.format(stat="alpha"))
        else:
            estimate = _alpha_value(o, level, t.scores)
            if n_units < FEW_UNITS:
                warnings.append(W_FEW_UNITS)
    if n_boot > 0 and np.isfinite(estimate):
        if n_units < 2:
            warnings.append("fewer than 2 units: no interval")
        else:
            reps = _bootstrap(counts, level, t.scores, n_boot, seed)
            undefined = int(np.isnan(reps).sum())
            if undefined:
                warnings.append(
                    f"{undefined} of {n_boot} bootstrap replicates undefined (one code only); "
                    "interval from the rest"
                )
            if undefined < n_boot:
                q = np.nanquantile(reps, [(1 - ci) / 2, (1 + ci) / 2])
                lo, hi = float(q[0]), float(q[1])
            method += f", unit bootstrap {n_boot}, {ci:.0%} percentile interval"
    return AgreementResult(
        estimate=estimate,
        ci_low=lo,
        ci_high=hi,
        method=method,
        level=level,
        n_units=n_units,
        n_raters=t.n_raters,
        n_pairable_values=int(counts.sum()),
        warnings=tuple(warnings),
    )


# ------------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------------


def krippendorff_alpha(
    data: pd.DataFrame,
    *,
    unit: str = "vinjett_id",
    rater: str = "bedomare_id",
    value: str = "varde",
    level: Level = "nominal",
    order: Sequence[Any] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> AgreementResult:
    """Krippendorff's alpha with a unit-bootstrap confidence interval.

    Parameters
    ----------
    data
        Long frame: one row per unit x rater (at most one), a value per row; NA = missing.
    unit, rater, value
        Column names of the unit (vignette), the rater and the value.
    level
        ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``.
    order
        Code order, lowest first. Needed for ordinal codes that are not numbers (else taken
        from an ordered categorical column); for nominal data it only sets the code order.
    n_boot
        Bootstrap replicates (0 = no interval).
    seed
        Seed of the bootstrap (the result is deterministic for a given seed).
    ci
        Confidence level of the percentile interval.

    Returns
    -------
    AgreementResult
        ``estimate`` is ``nan`` (with a warning) when no unit has two values or only one code is
        used. Units with a single value are dropped (Krippendorff's rule).

    Notes
    -----
    Alpha from the coincidence matrix (Krippendorff 2011). Interval: percentile bootstrap over
    units (Zapf et al. 2016), recomputing alpha (and for ordinal data its metric) per replicate.

    Raises
    ------
    ValueError
        Unknown columns or level, duplicated unit x rater rows, ordinal codes without an order,
        values outside ``order``, non-numeric values at interval or ratio level.
    """
    _check_boot(n_boot, ci)
    t = _table(data, unit=unit, rater=rater, value=value, level=level, order=order)
    return _alpha_result(t, level=level, n_boot=n_boot, seed=seed, ci=ci)


def _fleiss_result(t: _Table) -> AgreementResult:
    counts = t.counts
    n_units = counts.shape[0]
    warnings: list[str] = []
    if t.n_single:
        warnings.append(f"{t.n_single} units with a single rating dropped (nothing to pair)")
    m = counts.sum(axis=1)
    method = "Fleiss' kappa (1971)"
    estimate = float("nan")
    if n_units == 0:
        warnings.append(W_NO_UNITS.format(stat="kappa"))
    else:
        if np.unique(m).size > 1:
            method += "; unequal ratings per unit: mean of per-unit agreement"
        p_i = (counts * (counts - 1.0)).sum(axis=1) / (m * (m - 1.0))
        p_j = counts.sum(axis=0) / m.sum()
        p_e = float((p_j**2).sum())
        if (p_j > 0).sum() < 2:
            warnings.append(W_ONE_CODE.format(stat="kappa"))
        else:
            estimate = float((p_i.mean() - p_e) / (1.0 - p_e))
    return AgreementResult(
        estimate=estimate,
        ci_low=float("nan"),
        ci_high=float("nan"),
        method=method,
        level="nominal",
        n_units=n_units,
        n_raters=t.n_raters,
        n_pairable_values=int(counts.sum()),
        warnings=tuple(warnings),
    )


def fleiss_kappa(
    data: pd.DataFrame,
    *,
    unit: str = "vinjett_id",
    rater: str = "bedomare_id",
    value: str = "varde",
) -> AgreementResult:
    """Fleiss' kappa for many raters and nominal codes.

    Parameters
    ----------
    data
        Long frame: one row per unit x rater (at most one); NA = missing.
    unit, rater, value
        Column names of the unit, the rater and the value.

    Returns
    -------
    AgreementResult
        No interval (``ci_low``/``ci_high`` are ``nan``). Units with fewer than two ratings are
        dropped.

    Notes
    -----
    Fleiss (1971): ``kappa = (P_bar - P_e) / (1 - P_e)``. With unequal numbers of ratings per
    unit, ``P_bar`` is the mean of each unit's own proportion of agreeing pairs and ``P_e`` uses
    the pooled code shares; with equal numbers this is exactly Fleiss (1971).
    """
    return _fleiss_result(_table(data, unit=unit, rater=rater, value=value))


def cohen_kappa(
    data: pd.DataFrame,
    *,
    unit: str = "vinjett_id",
    rater: str = "bedomare_id",
    value: str = "varde",
    weights: Literal["linear", "quadratic"] | None = None,
    order: Sequence[Any] | None = None,
) -> AgreementResult:
    """Cohen's kappa (weighted or not) for exactly two raters.

    Parameters
    ----------
    data
        Long frame with exactly two distinct raters; units that only one of them rated are
        dropped (with a warning).
    unit, rater, value
        Column names of the unit, the rater and the value.
    weights
        ``None`` (Cohen 1960), ``"linear"`` (Cicchetti-Allison) or ``"quadratic"``
        (Fleiss-Cohen) disagreement weights on the codes' positions in the order (Cohen 1968).
    order
        Code order for weighted kappa (else an ordered categorical's categories, or numeric
        values sorted). Unused codes in ``order`` count as positions.

    Returns
    -------
    AgreementResult
        No interval.

    Raises
    ------
    ValueError
        Not exactly two raters; ``weights`` unknown; weighted kappa without an order.
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    level = "nominal" if weights is None else "ordinal"
    t = _table(data, unit=unit, rater=rater, value=value, level=level, order=order)
    if t.n_raters_total != 2:
        raise ValueError(
            f"Cohen's kappa needs exactly two raters, the data have {t.n_raters_total}; use "
            "fleiss_kappa() or krippendorff_alpha() for more raters, or filter to two"
        )
    u, r, v = t.unit_rater_value
    k = len(t.categories)
    n_u = int(u.max()) + 1 if len(u) else 0
    pairs = np.full((n_u, 2), -1, dtype=np.int64)
    pairs[u, r] = v
    both = (pairs >= 0).all(axis=1)
    one = int(((pairs >= 0).sum(axis=1) == 1).sum())
    warnings: list[str] = []
    if one:
        warnings.append(f"{one} units rated by only one of the raters dropped")
    n = int(both.sum())
    estimate = float("nan")
    if weights is None:
        method = "Cohen's kappa"
    else:
        name = "Cicchetti-Allison" if weights == "linear" else "Fleiss-Cohen"
        method = f"Cohen's weighted kappa, {weights} weights ({name})"
    if n == 0:
        warnings.append("no unit rated by both raters: kappa undefined")
    else:
        a, b = pairs[both, 0], pairs[both, 1]
        p = np.bincount(a * k + b, minlength=k * k).reshape(k, k) / n
        pos = np.arange(k, dtype=float)
        dist = np.abs(pos[:, None] - pos[None, :])
        # Scaling by (k - 1) cancels in the ratio, so the weights are left unscaled.
        dis = {None: (dist > 0).astype(float), "linear": dist, "quadratic": dist**2}[weights]
        expected = float((dis * np.outer(p.sum(axis=1), p.sum(axis=0))).sum())
        if expected > 0:
            estimate = float(1.0 - (dis * p).sum() / expected)
        else:
            warnings.append(W_ONE_CODE.format(stat="kappa"))
    return AgreementResult(
        estimate=estimate,
        ci_low=float("nan"),
        ci_high=float("nan"),
        method=method,
        level=level,
        n_units=n,
        n_raters=2 if n else 0,
        n_pairable_values=2 * n,
        warnings=tuple(warnings),
    )


def confusion_table(
    data: pd.DataFrame,
    *,
    unit: str = "vinjett_id",
    rater: str = "bedomare_id",
    value: str = "varde",
    order: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Which codes are confused with which: Krippendorff's coincidence matrix ``o_ck``.

    Cell (c, k) counts the pairs of values c and k given to the same unit by different raters,
    each unit's pairs weighted ``1 / (m_u - 1)`` so that a unit contributes its ``m_u`` values
    (Krippendorff 2011). The matrix is symmetric; row sums are the codes' pairable values and
    the diagonal holds agreements. Off-diagonal cells show confusions.

    Parameters
    ----------
    data
        Long frame: one row per unit x rater; NA = missing.
    unit, rater, value
        Column names.
    order
        Code order of rows and columns (else categorical categories or sorted values). All
        codes of ``order`` or of a categorical appear, used or not.

    Returns
    -------
    pandas.DataFrame
        Codes x codes, float; index and columns named after ``value``.
    """
    t = _table(data, unit=unit, rater=rater, value=value, order=order)
    k = len(t.categories)
    o = _coincidences(t.counts) if t.counts.shape[0] else np.zeros((k, k))
    labels = pd.Index(list(t.categories), name=value)
    return pd.DataFrame(o, index=labels, columns=labels.copy())


def code_agreement(
    data: pd.DataFrame,
    *,
    unit: str = "vinjett_id",
    rater: str = "bedomare_id",
    value: str = "varde",
    order: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Agreement per code: how reliably raters use each code.

    Parameters
    ----------
    data
        Long frame: one row per unit x rater; NA = missing. Units with fewer than two values
        are dropped.
    unit, rater, value
        Column names.
    order
        Row order of the codes (else categorical categories or sorted values).

    Returns
    -------
    pandas.DataFrame
        One row per code: ``code``; ``n_values`` (pairable values of the code); ``n_pairs``
        (rater pairs within a unit that include the code); ``n_agreeing_pairs`` (both gave the
        code); ``specific_agreement`` = ``2 * agreeing / (2 * agreeing + disagreeing pairs)``,
        the proportion of specific agreement generalised to many raters (Uebersax;
        Cicchetti & Feinstein 1990); ``kappa``, Fleiss' (1971) category-specific kappa
        ``1 - n (n_c - o_cc) / (n_c (n - n_c))`` (generalised to unequal ratings per unit via the
        coincidences ``o``); and ``alpha``, nominal Krippendorff's alpha for the code against all
        others, ``1 - (n - 1) (n_c - o_cc) / (n_c (n - n_c))``. Coefficients are ``nan`` for
        unused codes, or when only one code is used.
    """
    t = _table(data, unit=unit, rater=rater, value=value, order=order)
    counts = t.counts
    k = len(t.categories)
    if counts.shape[0]:
        o = _coincidences(counts)
        m = counts.sum(axis=1)[:, None]
        agreeing = (counts * (counts - 1.0) / 2.0).sum(axis=0)
        disagreeing = (counts * (m - counts)).sum(axis=0)
    else:
        o = np.zeros((k, k))
        agreeing = disagreeing = np.zeros(k)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    wrong = n_c - np.diag(o)
    with np.errstate(divide="ignore", invalid="ignore"):
        spec = np.where(n_c > 0, 2 * agreeing / (2 * agreeing + disagreeing), np.nan)
        denom = n_c * (n - n_c)
        kappa = np.where(denom > 0, 1.0 - n * wrong / denom, np.nan)
        alpha = np.where(denom > 0, 1.0 - (n - 1.0) * wrong / denom, np.nan)
    return pd.DataFrame(
        {
            "code": pd.Series(list(t.categories), dtype=object),
            "n_values": np.rint(n_c).astype(np.int64),
            "n_pairs": np.rint(agreeing + disagreeing).astype(np.int64),
            "n_agreeing_pairs": np.rint(agreeing).astype(np.int64),
            "specific_agreement": spec,
            "kappa": kappa,
            "alpha": alpha,
        }
    )


def agreement_by_variable(
    ratings: pd.DataFrame,
    *,
    variable: str = "variabel",
    unit: str = "vinjett_id",
    rater: str = "bedomare_id",
    value: str = "varde",
    order_by_variable: Mapping[str, Sequence[Any]] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    min_units: int = 2,
) -> pd.DataFrame:
    """Alpha (with interval) and Fleiss' kappa for every variable of a vignette study.

    Parameters
    ----------
    ratings
        Long frame with a variable column, e.g. the canonical ``vignette_ratings`` table.
    variable, unit, rater, value
        Column names.
    order_by_variable
        ``{variable: [lowest, ..., highest]}``: those variables get ordinal alpha; values of
        such a variable outside its order (e.g. ``"kan_ej_bedomas"``) are treated as missing
        for alpha, with a warning. Other variables get nominal alpha.
    n_boot, seed, ci
        Bootstrap settings of :func:`krippendorff_alpha` (the same seed for every variable).
    min_units
        Fewest units with two or more ratings for a verdict; below it the row has status
        ``"not enough data"`` and no coefficients (never an error).

    Returns
    -------
    pandas.DataFrame
        One row per variable, lowest alpha first (undefined last): ``variable`` (named as the
        input column), ``level``, ``alpha``, ``alpha_ci_low``, ``alpha_ci_high``,
        ``fleiss_kappa``, ``observed_agreement`` (share of pairable values whose pair partners
        agree, ``sum o_cc / n``), ``n_units``, ``n_raters``, ``n_pairable_values``, ``status``
        (``"ok"``, ``"undefined"`` or ``"not enough data"``), ``method`` and ``warnings``.
    """
    _check_boot(n_boot, ci)
    if variable not in ratings.columns:
        raise ValueError(f"column {variable!r} not found; name it with variable=...")
    orders = dict(order_by_variable or {})
    rows = []
    for var, sub in ratings.groupby(variable, sort=True, observed=True, dropna=True):
        order = orders.get(var)
        level = "nominal" if order is None else "ordinal"
        nominal = _table(sub, unit=unit, rater=rater, value=value)
        extra: list[str] = []
        if order is None:
            table = nominal
        else:
            vals = sub[value]
            outside = vals.notna() & ~vals.isin(list(order))
            if outside.any():
                extra.append(
                    f"{int(outside.sum())} values outside the order treated as missing for alpha"
                )
                sub = sub.assign(**{value: vals.where(~outside)})
            table = _table(sub, unit=unit, rater=rater, value=value, level=level, order=order)
        a = _alpha_result(table, level=level, n_boot=n_boot, seed=seed, ci=ci)
        kappa = _fleiss_result(nominal)
        o = _coincidences(nominal.counts) if nominal.counts.shape[0] else np.zeros((1, 1))
        observed = float(np.trace(o) / o.sum()) if o.sum() > 0 else float("nan")
        enough = a.n_units >= min_units
        status = STATUS_OK if np.isfinite(a.estimate) else STATUS_UNDEFINED
        warnings = [*extra, *a.warnings]
        if not enough:
            status = STATUS_NOT_ENOUGH
            warnings.append(f"fewer than {min_units} units with two or more ratings")
        rows.append(
            {
                variable: var,
                "level": level,
                "alpha": a.estimate if enough else np.nan,
                "alpha_ci_low": a.ci_low if enough else np.nan,
                "alpha_ci_high": a.ci_high if enough else np.nan,
                "fleiss_kappa": kappa.estimate if enough else np.nan,
                "observed_agreement": observed if enough else np.nan,
                "n_units": a.n_units,
                "n_raters": a.n_raters,
                "n_pairable_values": a.n_pairable_values,
                "status": status,
                "method": a.method,
                "warnings": "; ".join(warnings),
            }
        )
    columns = [
        variable,
        "level",
        "alpha",
        "alpha_ci_low",
        "alpha_ci_high",
        "fleiss_kappa",
        "observed_agreement",
        "n_units",
        "n_raters",
        "n_pairable_values",
        "status",
        "method",
        "warnings",
    ]
    out = pd.DataFrame(rows, columns=columns)
    out = out.sort_values(["alpha", variable], na_position="last", kind="stable")
    return out.reset_index(drop=True)
