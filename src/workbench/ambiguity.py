"""Which follow-up variables are ambiguous? Evidence per variable, a ranking and plain advice.

Webbkollen found some follow-up variables hard to interpret (the risk assessment, the
intervention type "open care", the focus of the intervention). This module finds such variables
in any dataset, without a list of suspects: six kinds of evidence are computed for every recorded
code variable of the catalogue, each with its own documented metric, and combined into a ranking
whose contributing evidence stays visible.

Evidence (the ``kind`` names used in the ranking)
--------------------------------------------------
``nonresponse``
    Share of applicable rows left empty (``saknas``), coded "okänt" (kind ``unknown``) or "kan ej
    bedömas" (kind ``not_assessable``), with a Wilson interval (:func:`nonresponse`).
``residual``
    Share of filled rows coded with a residual code ("annat", kind ``residual``; multi-select:
    a residual code ticked), compared with the variable's other codes (ratio to the median share
    of its valid codes) and with other municipalities (the residual code's between-municipality
    spread and funnel outliers) (:func:`residual_use`).
``agreement``
    Rater agreement in a vignette study: Krippendorff's alpha (ordinal for ordered code lists,
    else nominal) with a unit-bootstrap interval and Fleiss' kappa
    (:func:`workbench.agreement.agreement_by_variable`), the confusion table of the least reliable
    variable and agreement per code (:func:`rater_agreement`). Without ratings: "ej tillgängligt".
``between``
    Unexplained variation between municipalities (:func:`between_municipalities`). Each code is
    treated as a yes/no outcome. Its expected count in a municipality comes from indirect
    standardisation: the national share of the code within case-mix strata (by default age band,
    sex, open care or placement, and year; never the variable itself or a variable derived from
    it), summed over the municipality's rows. The z-score of a municipality is
    ``(O - E) / sqrt(deff * n * pi * (1 - pi))`` with ``pi = E / n``. ``deff`` is a design
    effect for rows clustered within children: the sum of squared child-level residual sums
    (around the municipality-adjusted expectation) over ``sum p (1 - p)``, at least 1; it stops
    repeated registrations of one intervention from looking like variation. The overdispersion
    ``phi`` is the mean squared z-score after 10 % winsorising (Spiegelhalter 2005, Stat Med
    24:1185), divided by its mean over 200 simulated datasets without municipality effects
    (binomial or, for single-code variables, multinomial counts on the effective sample sizes
    ``n / deff``), so 1 means "no more variation than chance" even for sparse cells; winsorising
    keeps one deviant municipality (a local quirk) from counting as spread. ``tau`` is the
    between-municipality SD of the standardised ratios ``O / E`` beyond chance, the moment
    estimate ``tau^2 = (phi - 1) / mean(E / (deff (1 - pi)))`` of Spiegelhalter's additive
    random-effects model; being based on the winsorised ``phi`` it is robust, and conservative
    when the differences between municipalities are heavy-tailed. Per variable, ``phi`` and ``tau`` are the code-share-weighted mean and
    root mean square, and the p-value compares the share-weighted winsorised statistic with its
    simulated null distribution (normal approximation). Funnel outliers are municipalities
    beyond the 99.8 % limits by the exact binomial tail on the effective sample size. With one
    municipality: "ej tillgängligt".
``contradiction``
    Share of eligible rows that contradict a related variable, by the rules of the catalogue's
    ``rules:`` section (:func:`contradictions`); "ej tillämpligt" without a rule.
``instability``
    Abrupt changes in a municipality's coding over time (:func:`instability`). For each
    municipality and code (the codes plus "saknas"), a level shift in the log-odds at a change
    year is tested with the score test of a logistic model with offset ``logit(p)``. ``p`` is
    the national share of the code that year, so national trends are not shifts. The model has
    a municipality intercept fitted under the null; the statistic is divided by the square root
    of the design effect. It is maximised over change years with at least 10 rows each side; the
    p-value is Bonferroni-adjusted over the change years tried, and the Benjamini-Hochberg
    q-value is taken over all municipality x code tests of the variable. Only codes a
    municipality used, and did not use, at least 5 times are tested. A shift counts when
    ``q < 0.05`` and the share moves at least 15 percentage points beyond its expected change.

Levels, score and verdict
-------------------------
Each kind gets a level: ``ok`` (0 points), ``tveksam`` (1) or ``otydlig`` (2), or a status
without points: ``ej tillgängligt`` (no data of that kind), ``ej tillämpligt`` (e.g. no residual
code, no rule) or ``för lite data`` (too few rows, vignettes or municipalities: small numbers
never raise a flag). Thresholds are configuration (:class:`AmbiguityThresholds`, the
``ambiguity:`` block of ``parameters/defaults.yaml``). The score is the sum of points; the
verdict is ``otydlig`` from ``verdict.unclear`` points or two ``otydlig`` kinds, ``tveksam``
from ``verdict.doubtful`` points, else ``tydlig``; ``för lite data`` when the unit has fewer
than ``min_rows`` rows for the variable or no kind could be assessed. The ranking orders by
verdict, score, number of ``otydlig`` kinds and lowest alpha.

For a municipality, nonresponse, residual, contradiction and instability evidence are its own.
Agreement is the national vignette study's, and between-municipality evidence is the national
spread, raised when the municipality is itself a funnel outlier.

All results hold unprotected numbers: they belong to the private zone. Reports show them through
:mod:`workbench.views_ambiguity`, which protects every count and share first.
"""

from __future__ import annotations

import html
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from workbench.catalogue import Catalogue, Rule, Variable, load_catalogue
from workbench.fmt import format_int, format_number, format_percent
from workbench.municipalities import NATIONAL, list_municipalities

log = logging.getLogger(__name__)

__all__ = [
    "EVIDENCE",
    "AmbiguityAssessment",
    "AmbiguityThresholds",
    "BetweenResult",
    "NationalEvidence",
    "assess",
    "national_evidence",
    "assessed_variables",
    "between_municipalities",
    "code_counts",
    "compact",
    "contradiction_counts",
    "contradictions",
    "evaluate_rule",
    "explain",
    "instability",
    "load_vignette_ratings",
    "nonresponse",
    "quality_counts",
    "rank_variables",
    "rater_agreement",
    "rater_feedback",
    "residual_by_year_counts",
    "residual_use",
    "unit_rows",
]

UNIT = "enhet"
#: Evidence kinds, in the order reports show them.
EVIDENCE: tuple[str, ...] = (
    "nonresponse",
    "residual",
    "agreement",
    "between",
    "contradiction",
    "instability",
)
EVIDENCE_SV: dict[str, str] = {
    "nonresponse": "Bortfall",
    "residual": "Restkategori",
    "agreement": "Samstämmighet mellan bedömare",
    "between": "Skillnader mellan kommuner",
    "contradiction": "Motsägelser",
    "instability": "Förändring över tid",
}
LEVEL_OK, LEVEL_DOUBTFUL, LEVEL_UNCLEAR = "ok", "tveksam", "otydlig"
STATUS_UNAVAILABLE = "ej tillgängligt"
STATUS_NOT_APPLICABLE = "ej tillämpligt"
STATUS_TOO_FEW = "för lite data"
POINTS = {LEVEL_OK: 0, LEVEL_DOUBTFUL: 1, LEVEL_UNCLEAR: 2}
VERDICT_CLEAR, VERDICT_DOUBTFUL, VERDICT_UNCLEAR = "tydlig", "tveksam", "otydlig"
VERDICTS: tuple[str, ...] = (VERDICT_UNCLEAR, VERDICT_DOUBTFUL, VERDICT_CLEAR, STATUS_TOO_FEW)
#: Codes of :func:`quality_counts` (they add up to the applicable rows).
QUALITY_CODES: tuple[str, ...] = ("giltig", "restkod", "okant", "ej_bedombart", "saknas")
QUALITY_LABELS_SV = {
    "giltig": "Giltig kod",
    "restkod": "Restkategori (annat)",
    "okant": "Okänt",
    "ej_bedombart": "Kan ej bedömas",
    "saknas": "Ej ifylld",
}
#: Codes of :func:`contradiction_counts` and :func:`residual_by_year_counts`.
CONTRADICTION_CODES: tuple[str, ...] = ("motsagelse", "forenlig")
RESIDUAL_CODES: tuple[str, ...] = ("restkod", "ovrig")
MISSING_CODE = "saknas"
Z_998 = float(sps.norm.ppf(0.999))  # 99.8 % two-sided funnel limit
Z_95 = float(sps.norm.ppf(0.975))
MIN_SIDE = 10  # rows each side of a change year
MIN_EVENTS = 5  # a municipality must use a code, and not use it, this often for a change test
N_SIM = 200  # simulated null datasets per code for the overdispersion test
_UNIT_KEY = {
    "children": "barn_id",
    "interventions": "insats_id",
    "registrations": "registrering_id",
}
_TABLE_DEPTH = {"children": 0, "interventions": 1, "registrations": 2}


# ------------------------------------------------------------------------------------------------
# Thresholds (the `ambiguity:` block of the parameter files)
# ------------------------------------------------------------------------------------------------

#: YAML section -> {YAML key: attribute}. Top-level keys map to themselves.
_SECTIONS: dict[str, dict[str, str]] = {
    "vignettes": {
        "min_vignettes": "min_vignettes",
        "min_raters": "min_raters",
        "max_ci_width": "max_ci_width",
    },
    "nonresponse": {
        "moderate": "nonresponse_moderate",
        "strong": "nonresponse_strong",
        "missing_moderate": "missing_moderate",
    },
    "residual": {"moderate": "residual_moderate", "strong": "residual_strong"},
    "agreement": {"moderate": "alpha_moderate", "strong": "alpha_strong"},
    "between": {
        "moderate": "between_moderate",
        "strong": "between_strong",
        "p_value": "between_p",
    },
    "contradiction": {"moderate": "contradiction_moderate", "strong": "contradiction_strong"},
    "instability": {
        "min_shift": "shift_min",
        "q_value": "shift_q",
        "strong_share": "shift_strong_share",
    },
    "verdict": {"doubtful": "verdict_doubtful", "unclear": "verdict_unclear"},
}
_TOP_KEYS = ("case_mix", "min_rows", "min_municipalities")


@dataclass(frozen=True)
class AmbiguityThresholds:
    """Thresholds of the evidence levels and the verdict (all configuration).

    Shares are proportions (0.10 = 10 %). ``*_moderate`` gives the level ``tveksam``,
    ``*_strong`` the level ``otydlig``; for agreement the levels apply *below* the alpha values
    (Krippendorff 2004: alpha >= 0.800 reliable, 0.667-0.800 tentative conclusions only).
    Build from the ``ambiguity:`` block of the parameter files with :meth:`from_mapping`.
    """

    case_mix: tuple[str, ...] = ("aldersgrupp", "kon", "insatsgrupp", "ar")
    min_rows: int = 30
    min_municipalities: int = 5
    min_vignettes: int = 10
    min_raters: int = 3
    max_ci_width: float = 0.4
    nonresponse_moderate: float = 0.10
    nonresponse_strong: float = 0.20
    missing_moderate: float = 0.05
    residual_moderate: float = 0.10
    residual_strong: float = 0.20
    alpha_moderate: float = 0.800
    alpha_strong: float = 0.667
    between_moderate: float = 0.10
    between_strong: float = 0.20
    between_p: float = 0.001
    contradiction_moderate: float = 0.02
    contradiction_strong: float = 0.05
    shift_min: float = 0.15
    shift_q: float = 0.05
    shift_strong_share: float = 0.05
    verdict_doubtful: int = 2
    verdict_unclear: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "case_mix", tuple(str(c) for c in self.case_mix))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "case_mix":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"ambiguity threshold {f.name} must be a number, got {value!r}")
            if f.type == "int" or f.name.startswith(("min_", "verdict_")):
                if not isinstance(value, int) or value < 1:
                    raise ValueError(f"ambiguity threshold {f.name} must be a positive integer")
            elif not 0 < value <= 1:
                raise ValueError(f"ambiguity threshold {f.name} must lie in (0, 1], got {value}")
        pairs = [
            ("nonresponse_moderate", "nonresponse_strong"),
            ("residual_moderate", "residual_strong"),
            ("between_moderate", "between_strong"),
            ("contradiction_moderate", "contradiction_strong"),
            ("alpha_strong", "alpha_moderate"),
            ("verdict_doubtful", "verdict_unclear"),
        ]
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"ambiguity thresholds: {low} must not exceed {high}")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | None) -> AmbiguityThresholds:
        """Thresholds from the ``ambiguity:`` mapping of the parameter files.

        Raises
        ------
        ValueError
            Unknown keys (the message lists the known ones) or values of the wrong type/range.
        """
        m = dict(m or {})
        kwargs: dict[str, Any] = {}
        unknown = sorted(set(m) - set(_SECTIONS) - set(_TOP_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key(s) {unknown} under ambiguity:; known keys are "
                f"{sorted([*_TOP_KEYS, *_SECTIONS])}"
            )
        for key in _TOP_KEYS:
            if key in m:
                kwargs[key] = m[key]
        if "case_mix" in kwargs:
            cm = kwargs["case_mix"]
            known = set(load_catalogue().variables) | {"ar"}
            if not isinstance(cm, list) or not all(isinstance(c, str) for c in cm):
                raise ValueError("ambiguity.case_mix must be a list of variable names")
            unknown_cm = [c for c in cm if c not in known]
            if unknown_cm:
                raise ValueError(
                    f"ambiguity.case_mix names {unknown_cm}, which are not catalogue variables "
                    "(or ar, the year); see workbench.list_variables()"
                )
        for section, keys in _SECTIONS.items():
            sub = m.get(section)
            if sub is None:
                continue
            if not isinstance(sub, Mapping) or set(sub) - set(keys):
                raise ValueError(f"ambiguity.{section} must be a mapping with keys {sorted(keys)}")
            for key, attr in keys.items():
                if key in sub:
                    kwargs[attr] = sub[key]
        return cls(**kwargs)


# ------------------------------------------------------------------------------------------------
# Rows of a variable and their codes
# ------------------------------------------------------------------------------------------------


def assessed_variables(cat: Catalogue | None = None) -> list[str]:
    """Variables the ambiguity evidence is computed for: recorded code and multi-select ones."""
    cat = cat or load_catalogue()
    return [
        v.name
        for v in cat.variables.values()
        if v.type in ("code", "multi") and not v.derived and v.codelist is not None
    ]


def _applicable(data: pd.DataFrame, var: Variable) -> pd.DataFrame:
    mask = np.ones(len(data), dtype=bool)
    for col, value in var.applies_when.items():
        mask &= (data[col] == value).fillna(False).to_numpy(dtype=bool)
    return data[mask]


def _dedupe(data: pd.DataFrame, table: str) -> pd.DataFrame:
    """One row per unit of ``table``: the first registration of each child or intervention."""
    key = _UNIT_KEY[table]
    if key == "registrering_id" or key not in data.columns:
        return data
    pos = np.arange(len(data))
    order = [c for c in ("registreringsdatum", "registrering_id") if c in data.columns]
    if order:  # sort only the ordering columns, not the wide frame
        pos = data[order].reset_index(drop=True).sort_values(order, kind="stable").index.to_numpy()
    codes, _ = pd.factorize(data[key])
    _, first = np.unique(codes[pos], return_index=True)
    return data.iloc[np.sort(pos[first])]


def compact(data: pd.DataFrame) -> pd.DataFrame:
    """The analysis frame with its text columns as categoricals: the same values, but the many
    row selections of :func:`assess` take integer codes instead of strings (much faster)."""
    text = [
        c
        for c in data.columns
        if pd.api.types.is_string_dtype(data[c])
        and not isinstance(data[c].dtype, pd.CategoricalDtype)
    ]
    return data.astype(dict.fromkeys(text, "category")) if text else data


def unit_rows(data: pd.DataFrame, variable: str, *, cat: Catalogue | None = None) -> pd.DataFrame:
    """The rows a variable is judged on: its catalogue unit, where it applies.

    ``data`` is the registration-level analysis frame (:func:`workbench.dataset.load_registrations`).
    A children-table variable is judged once per child and an interventions-table variable once
    per intervention (the values of their first registration in the period); registration
    variables once per registration, only where they apply (``applies_when``). Frames without
    the id columns are taken as one row per unit.
    """
    cat = cat or load_catalogue()
    var = cat.variable(variable)
    return _dedupe(_applicable(data, var), var.table)


def _multi_ticked(sub: pd.DataFrame, var: Variable) -> tuple[np.ndarray, np.ndarray]:
    """(rows x codes ticked, rows filled) of a multi-select variable."""
    assert var.codelist is not None
    cols = [c for c in var.columns if c in sub.columns]
    if len(cols) != len(var.columns):
        missing = sorted(set(var.columns) - set(cols))[:3]
        raise ValueError(f"columns {missing} of {var.name!r} are missing from the data")
    block = sub[cols]
    filled = block.notna().any(axis=1).to_numpy()
    ticked = block.fillna(False).astype(bool).to_numpy()
    return ticked, filled


def _single_codes(sub: pd.DataFrame, var: Variable) -> np.ndarray:
    """Integer code positions of a single-code variable (-1 = empty)."""
    assert var.codelist is not None
    if var.name not in sub.columns:
        raise ValueError(f"column {var.name!r} is missing from the data")
    codes = var.codelist.code_values
    idx = pd.Index(codes).get_indexer(sub[var.name])
    bad = sub[var.name].notna().to_numpy() & (idx < 0)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} values of {var.name!r} are not codes of its code list; validate "
            "the data (workbench.dataset.validate) or map them to catalogue codes first"
        )
    return idx.astype(np.int64)


def _kinds(var: Variable) -> np.ndarray:
    assert var.codelist is not None
    return np.array([c.kind for c in var.codelist.codes])


def _status(sub: pd.DataFrame, var: Variable) -> np.ndarray:
    """Quality status of each row: one of :data:`QUALITY_CODES`."""
    kinds = _kinds(var)
    if var.type == "multi":
        ticked, filled = _multi_ticked(sub, var)
        residual = (ticked & (kinds == "residual")[None, :]).any(axis=1)
        return np.where(~filled, "saknas", np.where(residual, "restkod", "giltig"))
    idx = _single_codes(sub, var)
    kind = np.where(idx >= 0, kinds[np.maximum(idx, 0)], "")
    return np.select(
        [idx < 0, kind == "residual", kind == "unknown", kind == "not_assessable"],
        ["saknas", "restkod", "okant", "ej_bedombart"],
        default="giltig",
    )


def _code_matrix(sub: pd.DataFrame, var: Variable) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(rows x codes) indicators of the valid and residual codes, rows with such a code, codes."""
    assert var.codelist is not None
    kinds = _kinds(var)
    keep = np.isin(kinds, ["valid", "residual"])
    codes = [c for c, k in zip(var.codelist.code_values, keep, strict=True) if k]
    if var.type == "multi":
        ticked, filled = _multi_ticked(sub, var)
        x = ticked[:, keep]
        return x, filled & x.any(axis=1), codes
    idx = _single_codes(sub, var)
    x = np.zeros((len(sub), len(var.codelist.codes)), dtype=bool)
    ok = idx >= 0
    x[np.flatnonzero(ok), idx[ok]] = True
    x = x[:, keep]
    return x, x.any(axis=1), codes


# ------------------------------------------------------------------------------------------------
# Counts for every municipality, county and the nation (the linked set disclosure control needs)
# ------------------------------------------------------------------------------------------------


def _all_units(per_kommun: pd.DataFrame, group: str, codes_of: Mapping[str, Sequence[str]]):
    """Municipality x group x code counts (zeros filled) plus county and national rows, with the
    group's denominator (the sum over its codes)."""
    m = list_municipalities()[["municipality_code", "county_code"]]
    frames = []
    for g, codes in codes_of.items():
        idx = pd.MultiIndex.from_product(
            [m["municipality_code"], list(codes)], names=[UNIT, "kod"]
        )
        part = per_kommun[per_kommun[group] == g]
        k = part.set_index([UNIT, "kod"])["n"].reindex(idx, fill_value=0).reset_index()
        frames.append(k.assign(**{group: g}))
    if not frames:
        return pd.DataFrame(columns=[UNIT, group, "kod", "n", "denominator"])
    k = pd.concat(frames, ignore_index=True)
    k["n"] = k["n"].astype("int64")
    lan_of = dict(zip(m["municipality_code"], m["county_code"], strict=True))
    lan = (
        k.assign(**{UNIT: k[UNIT].map(lan_of)})
        .groupby([UNIT, group, "kod"], as_index=False, sort=False)["n"]
        .sum()
    )
    nat = (
        k.groupby([group, "kod"], as_index=False, sort=False)["n"].sum().assign(**{UNIT: NATIONAL})
    )
    out = pd.concat([k, lan, nat], ignore_index=True)
    den = out.groupby([UNIT, group], sort=False)["n"].transform("sum")
    out = out.assign(denominator=den.astype("int64"))
    return out[[UNIT, group, "kod", "n", "denominator"]].reset_index(drop=True)


def quality_counts(
    data: pd.DataFrame, variables: Sequence[str] | None = None, *, cat: Catalogue | None = None
) -> pd.DataFrame:
    """Rows per quality status of each variable, for every municipality, county and the nation.

    Codes (:data:`QUALITY_CODES`): ``giltig`` (a valid code), ``restkod`` (a residual code; a
    multi-select variable with a residual code ticked), ``okant``, ``ej_bedombart`` and
    ``saknas`` (empty). They add up to ``denominator``, the variable's applicable rows at its unit
    (:func:`unit_rows`).

    Returns
    -------
    pandas.DataFrame
        Columns ``enhet``, ``variabel``, ``kod``, ``n``, ``denominator``.
    """
    cat = cat or load_catalogue()
    names = list(variables) if variables is not None else assessed_variables(cat)
    parts = []
    for name in names:
        sub = unit_rows(data, name, cat=cat)
        st = _status(sub, cat.variable(name))
        parts.append(
            pd.DataFrame({UNIT: sub["kommun"].to_numpy(), "variabel": name, "kod": st})
            .groupby([UNIT, "variabel", "kod"], as_index=False)
            .size()
            .rename(columns={"size": "n"})
        )
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return _all_units(long, "variabel", {n: QUALITY_CODES for n in names})


def code_counts(
    data: pd.DataFrame, variable: str, code: str, *, cat: Catalogue | None = None
) -> pd.DataFrame:
    """Rows with one code (``kod``) and with another valid or residual code (``ovrig``), for every
    municipality, county and the nation (the counts behind a funnel plot of that code). Group
    ``"<variable>:<code>"``; columns ``enhet``, ``variabel``, ``kod``, ``n``, ``denominator``."""
    cat = cat or load_catalogue()
    sub = unit_rows(data, variable, cat=cat)
    x, ok, codes = _code_matrix(sub, cat.variable(variable))
    if code not in codes:
        raise KeyError(f"{code!r} is not a valid or residual code of {variable!r}: {codes}")
    group = f"{variable}:{code}"
    label = np.where(x[:, codes.index(code)], "kod", "ovrig")[ok]
    long = (
        pd.DataFrame({UNIT: sub["kommun"].to_numpy()[ok], "variabel": group, "kod": label})
        .groupby([UNIT, "variabel", "kod"], as_index=False)
        .size()
        .rename(columns={"size": "n"})
    )
    return _all_units(long, "variabel", {group: ("kod", "ovrig")})


def _shares_of(counts: pd.DataFrame, unit: str, group: str) -> pd.DataFrame:
    """Wide counts (group x code) of one unit."""
    part = counts[counts[UNIT] == unit]
    return part.pivot_table(index=group, columns="kod", values="n", aggfunc="sum", fill_value=0)


def _wilson(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from workbench.stats import proportion_ci

    ci = proportion_ci(x, n)
    return ci["ci_low"].to_numpy(), ci["ci_high"].to_numpy()


def nonresponse(
    data: pd.DataFrame,
    *,
    kommun: str = NATIONAL,
    variables: Sequence[str] | None = None,
    cat: Catalogue | None = None,
    counts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Non-response per variable in one unit: empty, "okänt" and "kan ej bedömas".

    Parameters
    ----------
    data
        Registration-level analysis frame.
    kommun
        A municipality code, a county code or ``"0000"`` for the nation.
    counts
        :func:`quality_counts` of ``data`` if already computed.

    Returns
    -------
    pandas.DataFrame
        One row per variable: ``variable``, ``n`` (applicable rows), ``n_missing``,
        ``n_unknown``, ``n_not_assessable``, ``share_missing``, ``share_unknown``,
        ``share_not_assessable``, ``share`` (all three together) and its Wilson 95 % interval
        ``ci_low``, ``ci_high`` (NaN when ``n`` is 0).
    """
    cat = cat or load_catalogue()
    if counts is None:
        counts = quality_counts(data, variables, cat=cat)
    names = list(variables) if variables is not None else list(dict.fromkeys(counts["variabel"]))
    w = _shares_of(counts, kommun, "variabel").reindex(names, fill_value=0)
    w = w.reindex(columns=list(QUALITY_CODES), fill_value=0)
    n = w.sum(axis=1).to_numpy(dtype=float)
    x = (w["saknas"] + w["okant"] + w["ej_bedombart"]).to_numpy(dtype=float)
    low, high = _wilson(x, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "variable": names,
                "n": n.astype(np.int64),
                "n_missing": w["saknas"].to_numpy(dtype=np.int64),
                "n_unknown": w["okant"].to_numpy(dtype=np.int64),
                "n_not_assessable": w["ej_bedombart"].to_numpy(dtype=np.int64),
                "share_missing": w["saknas"].to_numpy() / n,
                "share_unknown": w["okant"].to_numpy() / n,
                "share_not_assessable": w["ej_bedombart"].to_numpy() / n,
                "share": x / n,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return out


# ------------------------------------------------------------------------------------------------
# Between municipalities: indirect standardisation, overdispersion, funnel limits
# ------------------------------------------------------------------------------------------------


def _covariates(
    data: pd.DataFrame, variable: str, case_mix: Sequence[str], cat: Catalogue
) -> tuple[str, ...]:
    """Case-mix columns usable for a variable: present, never the variable or derived from it."""
    out = []
    for cov in case_mix:
        if cov == variable or cov not in data.columns:
            continue
        cv = cat.variables.get(cov)
        if cv is not None and cv.groups_of == variable:
            continue
        out.append(cov)
    return tuple(out)


@dataclass(frozen=True)
class _Standardised:
    kommuner: np.ndarray  # (M,) codes
    codes: list[str]
    share: np.ndarray  # (K,) national share of each code
    observed: np.ndarray  # (M, K)
    expected: np.ndarray  # (M, K)
    variance: np.ndarray  # (M, K) sum p (1 - p), before the design effect
    n: np.ndarray  # (M,) rows
    deff: np.ndarray  # (K,)
    rows: int


def _strata(sub: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    if not covariates or sub.empty:
        return np.zeros(len(sub), dtype=np.int64)
    return sub.groupby(list(covariates), dropna=False, sort=True).ngroup().to_numpy(np.int64)


def _by(idx: np.ndarray, x: np.ndarray, size: int) -> np.ndarray:
    """Column sums of ``x`` (rows x K) per group ``idx`` (size groups x K)."""
    return np.stack(
        [np.bincount(idx, weights=x[:, j], minlength=size) for j in range(x.shape[1])], axis=1
    )


def _standardise(
    sub: pd.DataFrame, x: np.ndarray, covariates: Sequence[str], cluster: str | None
) -> _Standardised:
    """Observed and case-mix expected counts per municipality and code, and design effects."""
    x = x.astype(float)
    strata = _strata(sub, covariates)
    n_s = int(strata.max()) + 1 if len(strata) else 0
    k_idx, kommuner = pd.factorize(sub["kommun"], sort=True)
    m = len(kommuner)
    ns = np.bincount(strata, minlength=n_s).astype(float)
    p = _by(strata, x, n_s) / np.maximum(ns, 1.0)[:, None]
    nks = np.bincount(k_idx * n_s + strata, minlength=m * n_s).reshape(m, n_s).astype(float)
    expected = nks @ p
    variance = nks @ (p * (1.0 - p))
    observed = _by(k_idx, x, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(expected > 0, observed / expected, 1.0)
    deff = np.ones(x.shape[1])
    if cluster is not None and cluster in sub.columns and len(sub):
        c_idx, c_uniq = pd.factorize(sub[cluster])
        for j in range(x.shape[1]):
            pj = np.clip(p[strata, j] * ratio[k_idx, j], 0.0, 1.0)
            resid = np.bincount(c_idx, weights=x[:, j] - pj, minlength=len(c_uniq))
            den = float((pj * (1.0 - pj)).sum())
            if den > 0:
                deff[j] = max(1.0, float((resid**2).sum()) / den)
    return _Standardised(
        kommuner=np.asarray(kommuner, dtype=object),
        codes=[],
        share=x.mean(axis=0) if len(x) else np.zeros(x.shape[1]),
        observed=observed,
        expected=expected,
        variance=variance,
        n=np.bincount(k_idx, minlength=m).astype(float),
        deff=deff,
        rows=len(sub),
    )


@dataclass(frozen=True)
class BetweenResult:
    """Unexplained between-municipality variation of one variable.

    Attributes
    ----------
    variable
        The variable.
    phi, tau, p_value
        Robust overdispersion (1 = chance only), between-municipality SD of the standardised
        ratios beyond chance, and the p-value of the simulation test (module docstring).
    n, n_municipalities
        Rows with a valid or residual code, and municipalities among them.
    status
        ``"ok"``, ``"ej tillgängligt"`` (one municipality), ``"för lite data"`` or
        ``"ej tillämpligt"`` (one code in use: nothing can vary).
    per_code
        Per code: ``code``, ``share`` (national), ``n_municipalities``, ``deff``, ``phi``,
        ``tau``, ``p_value``, ``n_high``, ``n_low`` (municipalities above/below the 99.8 %
        limits).
    per_municipality
        Per municipality and code: ``kommun``, ``code``, ``n``, ``observed``, ``expected``,
        ``ratio`` (``O / E``), ``z`` and ``outlier`` (``"high"``, ``"low"`` or ``""``).
    covariates
        Case-mix covariates used.
    method
        The method in words.
    warnings
        Caveats.
    """

    variable: str
    phi: float
    tau: float
    p_value: float
    n: int
    n_municipalities: int
    status: str
    per_code: pd.DataFrame = field(repr=False)
    per_municipality: pd.DataFrame = field(repr=False)
    covariates: tuple[str, ...] = ()
    method: str = ""
    warnings: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The per-code table."""
        return self.per_code.copy()

    def funnel(self, code: str) -> pd.DataFrame:
        """Funnel-plot data of one code: one row per municipality.

        Columns ``kommun``, ``n``, ``standardised_share`` (``national share x O / E``), ``z``,
        ``outlier``, and the limits ``low95``, ``high95``, ``low998``, ``high998`` (binomial with
        the national share at ``n``, widened by the design effect) and ``low_od``, ``high_od``
        (99.8 % limits allowing for the between-municipality spread ``tau``).
        """
        pc = self.per_code.set_index("code")
        if code not in pc.index:
            raise KeyError(f"{code!r} is not a code of {self.variable!r}: {list(pc.index)}")
        p0 = float(pc.loc[code, "share"])
        deff = float(pc.loc[code, "deff"])
        tau = float(pc.loc[code, "tau"]) if np.isfinite(pc.loc[code, "tau"]) else 0.0
        d = self.per_municipality[self.per_municipality["code"] == code]
        n = d["n"].to_numpy(dtype=float)
        se = np.sqrt(deff * p0 * (1 - p0) / np.maximum(n, 1.0))
        se_od = np.sqrt(se**2 + (tau * p0) ** 2)
        out = pd.DataFrame(
            {
                "kommun": d["kommun"].to_numpy(),
                "n": d["n"].to_numpy(),
                "standardised_share": p0 * d["ratio"].to_numpy(),
                "z": d["z"].to_numpy(),
                "outlier": d["outlier"].to_numpy(),
                "low95": p0 - Z_95 * se,
                "high95": p0 + Z_95 * se,
                "low998": p0 - Z_998 * se,
                "high998": p0 + Z_998 * se,
                "low_od": p0 - Z_998 * se_od,
                "high_od": p0 + Z_998 * se_od,
            }
        )
        out.attrs["national_share"] = p0
        return out.reset_index(drop=True)

    def _repr_html_(self) -> str:
        head = (
            f"<p>{html.escape(self.variable)}: φ = {html.escape(format_number(self.phi, 2))}, "
            f"τ = {html.escape(format_number(self.tau, 2))}, "
            f"{html.escape(format_int(self.n_municipalities))} kommuner "
            f"({html.escape(self.status)})</p>"
        )
        return head + self.per_code.to_html(index=False, escape=True)


_BETWEEN_METHOD = (
    "indirect standardisation by case-mix strata; z-scores with a child-cluster design effect; "
    "10 %-winsorised overdispersion (Spiegelhalter 2005) rescaled by its simulated null mean; "
    "tau = between-municipality SD of O/E (additive random effects, moment estimate); "
    "test against 200 simulated datasets without municipality effects"
)


def _winsorised_phi(z: np.ndarray) -> np.ndarray:
    """Mean squared z after winsorising each row at its 10th and 90th percentiles."""
    lo, hi = np.quantile(z, [0.1, 0.9], axis=-1, keepdims=True)
    return np.mean(np.clip(z, lo, hi) ** 2, axis=-1)


def _simulate_null(
    st: _Standardised,
    pi: np.ndarray,
    ok: np.ndarray,
    *,
    multinomial: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """Standardised counts (sims x M x K) of datasets without municipality effects: binomial
    (multi-select) or multinomial (one code per row) counts on the effective sample sizes
    ``n / deff`` with each municipality's case-mix expected shares."""
    m, k = pi.shape
    p = np.where(ok, np.clip(pi, 1e-12, 1 - 1e-12), 0.0)
    if multinomial:
        n_eff = np.maximum(np.rint(st.n / float(np.average(st.deff, weights=st.share + 1e-12))), 1)
        pv = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
        counts = rng.multinomial(n_eff.astype(np.int64), pv, size=(N_SIM, m)).astype(float)
        n_eff = np.repeat(n_eff[:, None], k, axis=1)
        p = pv
    else:
        n_eff = np.maximum(np.rint(st.n[:, None] / st.deff[None, :]), 1)
        counts = rng.binomial(n_eff.astype(np.int64), p, size=(N_SIM, m, k)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts - n_eff * p) / np.sqrt(n_eff * p * (1 - p))


def _code_stats(
    st: _Standardised, *, seed_key: str, multinomial: bool
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-code dispersion statistics, z-scores (M x K), exact outlier flags (M x K: +1 above
    the 99.8 % limit, -1 below), and the observed and simulated winsorised phi per code
    (K and sims x K) for the variable-level test."""
    k = st.observed.shape[1]
    n = st.n[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        pi = np.where(n > 0, st.expected / n, np.nan)
        var = st.deff[None, :] * n * pi * (1.0 - pi)
        z = (st.observed - st.expected) / np.sqrt(var)
    ok = np.isfinite(z) & (var > 0)
    rng = np.random.default_rng(zlib.crc32(seed_key.encode("utf-8")))
    z_sim = _simulate_null(st, np.nan_to_num(pi), ok, multinomial=multinomial, rng=rng)
    flags = np.zeros(z.shape, dtype=np.int8)
    observed_phi = np.full(k, np.nan)
    null_phi = np.full((N_SIM, k), np.nan)
    rows = []
    for j in range(k):
        okj = ok[:, j]
        zj = z[okj, j]
        n_eff = np.maximum(np.rint(st.n[okj] / st.deff[j]), 1.0)
        pij = np.clip(pi[okj, j], 1e-12, 1 - 1e-12)
        # exact binomial tails on the effective sample size for the funnel outliers
        o_eff = np.rint(st.observed[okj, j] / st.deff[j])
        high = sps.binom.sf(o_eff - 1, n_eff, pij) < (1 - 0.998) / 2
        low = sps.binom.cdf(o_eff, n_eff, pij) < (1 - 0.998) / 2
        flags[np.flatnonzero(okj)[high], j] = 1
        flags[np.flatnonzero(okj)[low], j] = -1
        phi = tau = p = np.nan
        if zj.size >= 2:
            observed_phi[j] = float(_winsorised_phi(zj))
            null_phi[:, j] = _winsorised_phi(z_sim[:, okj, j])
            mean0, sd0 = float(null_phi[:, j].mean()), float(null_phi[:, j].std(ddof=1))
            if mean0 > 0 and sd0 > 0:
                phi = observed_phi[j] / mean0
                p = float(sps.norm.sf((observed_phi[j] - mean0) / sd0))
                w = st.expected[okj, j] / (st.deff[j] * (1.0 - pij))
                tau = float(np.sqrt(max(0.0, (phi - 1.0) / float(np.mean(w)))))
        rows.append(
            {
                "code": st.codes[j],
                "share": float(st.share[j]),
                "n_municipalities": int(okj.sum()),
                "deff": float(st.deff[j]),
                "phi": phi,
                "tau": tau,
                "p_value": p,
                "n_high": int(high.sum()),
                "n_low": int(low.sum()),
            }
        )
    return pd.DataFrame(rows), z, flags, observed_phi, null_phi


def between_municipalities(
    data: pd.DataFrame,
    variable: str,
    *,
    case_mix: Sequence[str] = AmbiguityThresholds.case_mix,
    min_municipalities: int = 5,
    min_rows: int = 30,
    cluster: str | None = "barn_id",
    cat: Catalogue | None = None,
) -> BetweenResult:
    """How much more a variable's codes differ between municipalities than chance and case mix
    explain (method in the module docstring).

    Parameters
    ----------
    data
        Registration-level analysis frame of all municipalities.
    variable
        A code or multi-select catalogue variable.
    case_mix
        Covariates of the indirect standardisation; those absent from ``data``, the variable
        itself and variables derived from it are skipped.
    min_municipalities, min_rows
        Fewer municipalities with data, or fewer rows, give ``status = "för lite data"``;
        one municipality gives ``"ej tillgängligt"``.
    cluster
        Column of the clusters rows are nested in (children); ``None`` for none.

    Returns
    -------
    BetweenResult
    """
    cat = cat or load_catalogue()
    var = cat.variable(variable)
    sub = unit_rows(data, variable, cat=cat)
    x, ok, codes = _code_matrix(sub, var)
    sub, x = sub[ok], x[ok]
    covs = _covariates(sub, variable, case_mix, cat)
    st = _standardise(sub, x, covs, cluster)
    st = _Standardised(**{**st.__dict__, "codes": codes})
    per_code, z, flags, obs_phi, null_phi = _code_stats(
        st, seed_key=variable, multinomial=var.type != "multi"
    )
    m_idx, c_idx = np.meshgrid(np.arange(len(st.kommuner)), np.arange(len(codes)), indexing="ij")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(st.expected > 0, st.observed / st.expected, np.nan)
    per_m = pd.DataFrame(
        {
            "kommun": st.kommuner[m_idx.ravel()],
            "code": np.asarray(codes, dtype=object)[c_idx.ravel()],
            "n": np.repeat(st.n, len(codes)).astype(np.int64),
            "observed": st.observed.ravel(),
            "expected": st.expected.ravel(),
            "ratio": ratio.ravel(),
            "z": z.ravel(),
        }
    )
    ff = flags.ravel()
    per_m["outlier"] = np.where(ff > 0, "high", np.where(ff < 0, "low", ""))
    used = per_code[(per_code["share"] > 0) & per_code["phi"].notna()]
    n_mun = len(st.kommuner)
    warnings: list[str] = []
    missing_covs = [c for c in case_mix if c not in covs and c != variable]
    if missing_covs:
        warnings.append(f"case-mix covariates not used: {', '.join(missing_covs)}")
    if n_mun < 2:
        status = STATUS_UNAVAILABLE
    elif int((per_code["share"] > 0).sum()) < 2:
        status = STATUS_NOT_APPLICABLE
    elif n_mun < min_municipalities or st.rows < min_rows or used.empty:
        status = STATUS_TOO_FEW
    else:
        status = "ok"
    phi = tau = p = np.nan
    if status == "ok":
        # share-weighted over the codes; the test compares the weighted observed winsorised phi
        # with the same sum over the simulated datasets (codes simulated jointly)
        j = used.index.to_numpy()
        w = used["share"].to_numpy() / used["share"].sum()
        phi = float((w * used["phi"].to_numpy()).sum())
        tau = float(np.sqrt((w * used["tau"].to_numpy() ** 2).sum()))
        t_obs = float((w * obs_phi[j]).sum())
        t_null = null_phi[:, j] @ w
        sd0 = float(t_null.std(ddof=1))
        p = float(sps.norm.sf((t_obs - t_null.mean()) / sd0)) if sd0 > 0 else np.nan
    return BetweenResult(
        variable=variable,
        phi=phi,
        tau=tau,
        p_value=p,
        n=st.rows,
        n_municipalities=n_mun,
        status=status,
        per_code=per_code,
        per_municipality=per_m,
        covariates=covs,
        method=_BETWEEN_METHOD,
        warnings=tuple(warnings),
    )


# ------------------------------------------------------------------------------------------------
# Residual categories
# ------------------------------------------------------------------------------------------------


def residual_use(
    data: pd.DataFrame,
    *,
    kommun: str = NATIONAL,
    variables: Sequence[str] | None = None,
    between: Mapping[str, BetweenResult] | None = None,
    cat: Catalogue | None = None,
) -> pd.DataFrame:
    """Use of the residual code ("annat") per variable, against its other codes and other units.

    Parameters
    ----------
    data
        Registration-level analysis frame (all municipalities, for the national comparison).
    kommun
        The unit described: a municipality, a county or ``"0000"``.
    between
        :func:`between_municipalities` results by variable, for the comparison with other
        municipalities (computed here when missing).

    Returns
    -------
    pandas.DataFrame
        One row per variable: ``variable``, ``has_residual``, ``n`` (rows of the unit with a
        valid or residual code), ``n_residual``, ``share`` (with a residual code),
        ``share_national``, ``median_valid_share`` (median share of the variable's valid codes in
        the unit), ``ratio_to_valid`` (``share / median_valid_share``: above 1 the residual code
        is used more than a typical code), ``tau_residual``, ``p_residual`` (between-municipality
        spread of the residual code, its largest over residual codes) and ``outlier`` (the
        unit's funnel position on a residual code: ``"high"``, ``"low"`` or ``""``; for the
        nation the number of municipalities above the 99.8 % limit, as text).
    """
    cat = cat or load_catalogue()
    names = list(variables) if variables is not None else assessed_variables(cat)
    rows = []
    for name in names:
        var = cat.variable(name)
        kinds = _kinds(var)
        has = bool((kinds == "residual").any())
        sub_all = unit_rows(data, name, cat=cat)
        x_all, ok_all, codes = _code_matrix(sub_all, var)
        res_set = set(var.codelist.codes_of_kind("residual"))  # type: ignore[union-attr]
        res_cols = [i for i, c in enumerate(codes) if c in res_set]
        val_cols = [i for i in range(len(codes)) if i not in res_cols]
        here = (
            np.ones(len(sub_all), bool)
            if kommun == NATIONAL
            else _in_unit(sub_all["kommun"].to_numpy(), kommun)
        )
        x, ok = x_all[here & ok_all], int((here & ok_all).sum())
        rec: dict[str, Any] = {"variable": name, "has_residual": has, "n": ok}
        if has:
            n_res = int(x[:, res_cols].any(axis=1).sum()) if ok else 0
            nat = x_all[ok_all]
            valid_shares = x[:, val_cols].mean(axis=0) if ok else np.full(len(val_cols), np.nan)
            median_valid = float(np.median(valid_shares)) if len(val_cols) else np.nan
            share = n_res / ok if ok else np.nan
            rec.update(
                n_residual=n_res,
                share=share,
                share_national=float(nat[:, res_cols].any(axis=1).mean()) if len(nat) else np.nan,
                median_valid_share=median_valid,
                ratio_to_valid=share / median_valid
                if median_valid and median_valid > 0
                else np.nan,
            )
            b = (between or {}).get(name) or between_municipalities(data, name, cat=cat)
            res_codes = [codes[i] for i in res_cols]
            pc = b.per_code[b.per_code["code"].isin(res_codes)]
            rec["tau_residual"] = float(pc["tau"].max()) if len(pc) else np.nan
            rec["p_residual"] = float(pc["p_value"].min()) if len(pc) else np.nan
            pm = b.per_municipality[b.per_municipality["code"].isin(res_codes)]
            if kommun == NATIONAL:
                rec["outlier"] = str(int((pm["outlier"] == "high").sum()))
            else:
                own = pm[pm["kommun"] == kommun]["outlier"]
                rec["outlier"] = (
                    "high" if (own == "high").any() else ("low" if (own == "low").any() else "")
                )
        rows.append(rec)
    cols = [
        "variable",
        "has_residual",
        "n",
        "n_residual",
        "share",
        "share_national",
        "median_valid_share",
        "ratio_to_valid",
        "tau_residual",
        "p_residual",
        "outlier",
    ]
    out = pd.DataFrame(rows).reindex(columns=cols)
    out["outlier"] = [o if isinstance(o, str) else "" for o in out["outlier"]]
    return out


def _in_unit(kommun_codes: np.ndarray, unit: str) -> np.ndarray:
    """Rows of a municipality, a county (two digits) or the nation."""
    if unit == NATIONAL:
        return np.ones(len(kommun_codes), bool)
    codes = pd.Series(kommun_codes, dtype="str")
    if len(unit) == 2:
        return codes.str.slice(0, 2).eq(unit).fillna(False).to_numpy(dtype=bool)
    return codes.eq(unit).fillna(False).to_numpy(dtype=bool)


def residual_by_year_counts(
    data: pd.DataFrame,
    variables: Sequence[str] | None = None,
    *,
    years: tuple[int, int],
    cat: Catalogue | None = None,
) -> pd.DataFrame:
    """Rows with a residual code per year, for every municipality, county and the nation.

    Groups are ``"<variable>|<year>"``; codes ``restkod`` and ``ovrig`` (another valid code) add
    up to the rows with a valid or residual code that year. Only variables with a residual code.
    """
    cat = cat or load_catalogue()
    names = [
        n
        for n in (variables if variables is not None else assessed_variables(cat))
        if "residual" in _kinds(cat.variable(n))
    ]
    parts = []
    groups: dict[str, tuple[str, ...]] = {}
    for name in names:
        var = cat.variable(name)
        sub = unit_rows(data, name, cat=cat)
        x, ok, codes = _code_matrix(sub, var)
        res = np.isin(codes, var.codelist.codes_of_kind("residual"))  # type: ignore[union-attr]
        year = sub["ar"].to_numpy(dtype=float, na_value=np.nan)
        keep = ok & (year >= years[0]) & (year <= years[1])
        label = np.where(x[:, res].any(axis=1), "restkod", "ovrig")[keep]
        grp = np.array([f"{name}|{int(y)}" for y in year[keep]], dtype=object)
        for y in range(years[0], years[1] + 1):
            groups[f"{name}|{y}"] = RESIDUAL_CODES
        parts.append(
            pd.DataFrame({UNIT: sub["kommun"].to_numpy()[keep], "variabel": grp, "kod": label})
            .groupby([UNIT, "variabel", "kod"], as_index=False)
            .size()
            .rename(columns={"size": "n"})
        )
    long = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=[UNIT, "variabel", "kod", "n"])
    )
    return _all_units(long, "variabel", groups)


# ------------------------------------------------------------------------------------------------
# Instability over time: a change-point score test per municipality and code
# ------------------------------------------------------------------------------------------------


def _status_matrix(sub: pd.DataFrame, var: Variable) -> tuple[np.ndarray, list[str]]:
    """(rows x codes) indicators of every code plus "saknas" (empty), for all rows."""
    assert var.codelist is not None
    codes = [*var.codelist.code_values, MISSING_CODE]
    if var.type == "multi":
        ticked, filled = _multi_ticked(sub, var)
        return np.column_stack([ticked & filled[:, None], ~filled]), codes
    idx = _single_codes(sub, var)
    x = np.zeros((len(sub), len(codes)), dtype=bool)
    x[np.arange(len(sub)), np.where(idx >= 0, idx, len(codes) - 1)] = True
    return x, codes


def instability(
    data: pd.DataFrame,
    variable: str,
    *,
    min_shift: float = 0.15,
    q_value: float = 0.05,
    cluster: str | None = "barn_id",
    cat: Catalogue | None = None,
) -> pd.DataFrame:
    """Abrupt changes in each municipality's use of each code (method in the module docstring).

    Parameters
    ----------
    data
        Registration-level analysis frame with a year column ``ar``, all municipalities.
    variable
        The variable.
    min_shift
        Smallest change in share (beyond the expected change) that counts as a shift.
    q_value
        False discovery rate over all municipality x code tests of the variable.
    cluster
        Column of the clusters rows are nested in (its design effect widens the test).

    Returns
    -------
    pandas.DataFrame
        One row per municipality x code with at least 3 years of data and the code neither
        never nor always used: ``kommun``, ``code``, ``n``, ``n_years``, ``change_year``
        (first year after the change), ``share_before``, ``share_after``, ``expected_change``,
        ``shift`` (observed minus expected change in the share), ``z``, ``p_value``
        (Bonferroni over the change years tried), ``q_value`` (Benjamini-Hochberg) and
        ``flagged`` (``q_value < q_value`` and ``|shift| >= min_shift``).
    """
    from workbench.stats import MIN_TREND_YEARS, benjamini_hochberg

    cat = cat or load_catalogue()
    var = cat.variable(variable)
    cols = [
        "kommun",
        "code",
        "n",
        "n_years",
        "change_year",
        "share_before",
        "share_after",
        "expected_change",
        "shift",
        "z",
        "p_value",
        "q_value",
        "flagged",
    ]
    sub = unit_rows(data, variable, cat=cat)
    if "ar" not in sub.columns:
        return pd.DataFrame(columns=cols)
    sub = sub[sub["ar"].notna()]
    if sub.empty:
        return pd.DataFrame(columns=cols)
    x, codes = _status_matrix(sub, var)
    # expected: the national share that year (case mix within a municipality changes little
    # from year to year, and case-mix strata split by year are too sparse)
    covs = ("ar",)
    st = _standardise(sub, x, covs, cluster)
    strata = _strata(sub, covs)
    k_idx, kommuner = pd.factorize(sub["kommun"], sort=True)
    years_all = sub["ar"].to_numpy(dtype=np.int64)
    years, y_idx = np.unique(years_all, return_inverse=True)
    m, k, ny = len(kommuner), x.shape[1], len(years)
    # groups: municipality x stratum (the strata include the year)
    n_s = int(strata.max()) + 1
    g_idx, g_first, g_of_row = np.unique(
        k_idx * n_s + strata, return_index=True, return_inverse=True
    )
    g_n = np.bincount(g_of_row, minlength=len(g_idx)).astype(float)
    g_obs = _by(g_of_row, x.astype(float), len(g_idx))
    ns = np.bincount(strata, minlength=n_s).astype(float)
    p_s = _by(strata, x.astype(float), n_s) / np.maximum(ns, 1.0)[:, None]
    g_p = p_s[strata[g_first]]
    g_k = k_idx[g_first]
    g_y = y_idx[g_first]
    offset = np.log(np.clip(g_p, 1e-9, 1 - 1e-9) / (1 - np.clip(g_p, 1e-9, 1 - 1e-9)))
    obs_k = _by(g_k, g_obs, m)
    n_k = np.bincount(g_k, weights=g_n, minlength=m)
    testable = (obs_k >= MIN_EVENTS) & (n_k[:, None] - obs_k >= MIN_EVENTS)
    alpha = np.zeros((m, k))
    for _ in range(50):  # Newton for the municipality intercept under the null
        mu = 1.0 / (1.0 + np.exp(-(offset + alpha[g_k])))
        grad = _by(g_k, g_obs - g_n[:, None] * mu, m)
        hess = _by(g_k, g_n[:, None] * mu * (1 - mu), m)
        step = np.where(hess > 1e-12, grad / np.maximum(hess, 1e-12), 0.0)
        alpha = np.clip(alpha + step, -20, 20)
        if np.nanmax(np.abs(step)) < 1e-8:
            break
    mu = 1.0 / (1.0 + np.exp(-(offset + alpha[g_k])))
    flat = g_k * ny + g_y
    size = m * ny

    def per_year(v: np.ndarray) -> np.ndarray:
        return _by(flat, v, size).reshape(m, ny, k)

    a = per_year(g_obs - g_n[:, None] * mu)
    w = per_year(g_n[:, None] * mu * (1 - mu))
    obs = per_year(g_obs)
    exp_ = per_year(g_n[:, None] * g_p)
    n_y = np.bincount(flat, weights=g_n, minlength=size).reshape(m, ny)
    # "after" sums for a change at year index s (years[s:]), s = 1 .. ny - 1
    rev = lambda v: np.flip(np.cumsum(np.flip(v, axis=1), axis=1), axis=1)[:, 1:]  # noqa: E731
    a_after, w_after = rev(a), rev(w)
    o_after, e_after = rev(obs), rev(exp_)
    n_after = rev(n_y[:, :, None])[:, :, 0]
    w_tot, o_tot, e_tot = w.sum(axis=1), obs.sum(axis=1), exp_.sum(axis=1)
    n_tot = n_y.sum(axis=1)
    n_before = n_tot[:, None] - n_after
    info = w_after * (w_tot[:, None, :] - w_after) / np.maximum(w_tot[:, None, :], 1e-12)
    valid = (n_after >= MIN_SIDE)[:, :, None] & (n_before >= MIN_SIDE)[:, :, None] & (info > 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        zs = np.where(valid, a_after / np.sqrt(info * st.deff[None, None, :]), 0.0)
    best = np.argmax(np.abs(zs), axis=1)  # (m, k)
    mi, ci = np.meshgrid(np.arange(m), np.arange(k), indexing="ij")
    z = zs[mi, best, ci]
    n_valid = valid.sum(axis=1)
    n_years = (n_y > 0).sum(axis=1)
    p = np.minimum(1.0, n_valid * 2 * sps.norm.sf(np.abs(z)))
    keep = testable & (n_valid > 0) & (n_years[:, None] >= MIN_TREND_YEARS)
    na = n_after[mi, best]
    nb = n_tot[:, None] - na
    oa, ea = o_after[mi, best, ci], e_after[mi, best, ci]
    ob, eb = o_tot - oa, e_tot - ea
    with np.errstate(invalid="ignore", divide="ignore"):
        share_b, share_a = ob / nb, oa / na
        exp_change = ea / na - eb / nb
    out = pd.DataFrame(
        {
            "kommun": np.asarray(kommuner, dtype=object)[mi[keep]],
            "code": np.asarray(codes, dtype=object)[ci[keep]],
            "n": n_tot[mi[keep]].astype(np.int64),
            "n_years": n_years[mi[keep]].astype(np.int64),
            "change_year": years[best[keep] + 1].astype(np.int64),
            "share_before": share_b[keep],
            "share_after": share_a[keep],
            "expected_change": exp_change[keep],
            "shift": (share_a - share_b - exp_change)[keep],
            "z": z[keep],
            "p_value": p[keep],
        }
    )
    out["q_value"] = benjamini_hochberg(out["p_value"])["q_value"].to_numpy() if len(out) else []
    out["flagged"] = (out["q_value"] < q_value) & (out["shift"].abs() >= min_shift)
    return out[cols].reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# Contradictions (rules of the catalogue)
# ------------------------------------------------------------------------------------------------


def _rule_readable(data: pd.DataFrame, rule: Rule, cat: Catalogue) -> bool:
    """Whether every column a rule reads is in the data (else the rule cannot be applied)."""
    return all(set(cat.variable(c).columns) <= set(data.columns) for c in rule.columns)


def _rule_table(rule: Rule, cat: Catalogue) -> str:
    """The finest table among the variables a rule reads (its unit of evaluation)."""
    tables = [cat.variable(c).table for c in rule.columns]
    return max(tables, key=lambda t: _TABLE_DEPTH.get(t, 2))


def _condition(sub: pd.DataFrame, cond: Any, cat: Catalogue) -> np.ndarray:
    var = cat.variable(cond.column)
    ok = np.ones(len(sub), dtype=bool)
    if var.type == "multi":
        assert var.codelist is not None
        ticked, filled = _multi_ticked(sub, var)
        codes = list(var.codelist.code_values)

        def any_of(values: Sequence[str]) -> np.ndarray:
            return ticked[:, [codes.index(v) for v in values]].any(axis=1)

        if cond.codes is not None:
            ok &= any_of(cond.codes)
        if cond.not_codes is not None:
            ok &= filled & ~any_of(cond.not_codes)
        if cond.other_than is not None:
            ok &= any_of([c for c in codes if c not in cond.other_than])
        if cond.group is not None:
            ok &= any_of([c.code for c in var.codelist.codes if c.group == cond.group])
        if cond.filled is not None:
            ok &= filled == cond.filled
        return ok
    if cond.column not in sub.columns:
        raise ValueError(f"column {cond.column!r} (used by a contradiction rule) is missing")
    s = sub[cond.column]
    filled = s.notna().to_numpy()
    if cond.codes is not None:
        ok &= s.isin(list(cond.codes)).to_numpy(dtype=bool)
    if cond.not_codes is not None:
        ok &= filled & ~s.isin(list(cond.not_codes)).to_numpy(dtype=bool)
    if cond.other_than is not None:
        ok &= filled & ~s.isin(list(cond.other_than)).to_numpy(dtype=bool)
    if cond.group is not None:
        assert var.codelist is not None
        members = [c.code for c in var.codelist.codes if c.group == cond.group]
        ok &= s.isin(members).to_numpy(dtype=bool)
    if cond.filled is not None:
        ok &= filled == cond.filled
    if cond.min is not None or cond.max is not None:
        num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if cond.min is not None:
            ok &= num >= cond.min
        if cond.max is not None:
            ok &= num <= cond.max
    return ok


def _filled(sub: pd.DataFrame, var: Variable) -> np.ndarray:
    if var.type == "multi":
        return _multi_ticked(sub, var)[1]
    return sub[var.name].notna().to_numpy()


def evaluate_rule(
    data: pd.DataFrame, rule: Rule, *, cat: Catalogue | None = None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Apply one contradiction rule.

    Rows are those of the finest table the rule reads (e.g. registrations when it reads
    ``alder``), where the judged variable applies; without ``count_empty`` only rows where the
    judged variable is filled in.

    Returns
    -------
    (rows, eligible, contradicting)
        The rows and two boolean arrays over them.
    """
    cat = cat or load_catalogue()
    var = cat.variable(rule.variable)
    sub = _dedupe(_applicable(data, var), _rule_table(rule, cat))
    own_filled = _filled(sub, var)
    if rule.fit is not None:
        other = cat.variable(rule.fit.variable)
        assert var.codelist is not None and other.codelist is not None
        f_codes, g_codes = list(var.codelist.code_values), list(other.codelist.code_values)
        f_x = _multi_ticked(sub, var)[0] if var.type == "multi" else _one_hot(sub, var)
        g_x = _multi_ticked(sub, other)[0] if other.type == "multi" else _one_hot(sub, other)
        fit = np.zeros((len(g_codes), len(f_codes)), dtype=bool)
        for g, fs in rule.fit.mapping.items():
            fit[g_codes.index(g), [f_codes.index(f) for f in fs]] = True
        f_res = _kinds(var) == "residual"
        g_res = _kinds(other) == "residual"
        eligible = (
            own_filled
            & _filled(sub, other)
            & ~(f_x & f_res[None, :]).any(axis=1)
            & ~(g_x & g_res[None, :]).any(axis=1)
        )
        fits = (g_x.astype(np.int32) @ fit.astype(np.int32)) > 0
        return sub, eligible, eligible & ~(f_x & fits).any(axis=1)
    eligible = np.zeros(len(sub), dtype=bool)
    contradicting = np.zeros(len(sub), dtype=bool)
    for case in rule.cases:
        when = np.ones(len(sub), dtype=bool)
        for cond in case.when:
            when &= _condition(sub, cond, cat)
        then = np.ones(len(sub), dtype=bool)
        for cond in case.contradicts:
            then &= _condition(sub, cond, cat)
        eligible |= when
        contradicting |= when & then
    if not rule.count_empty:
        eligible &= own_filled
    return sub, eligible, contradicting & eligible


def _one_hot(sub: pd.DataFrame, var: Variable) -> np.ndarray:
    assert var.codelist is not None
    idx = _single_codes(sub, var)
    x = np.zeros((len(sub), len(var.codelist.codes)), dtype=bool)
    x[np.flatnonzero(idx >= 0), idx[idx >= 0]] = True
    return x


def contradiction_counts(
    data: pd.DataFrame, *, rules: Sequence[Rule] | None = None, cat: Catalogue | None = None
) -> pd.DataFrame:
    """Eligible rows that contradict (``motsagelse``) or not (``forenlig``) per rule, for every
    municipality, county and the nation. Columns ``enhet``, ``regel``, ``kod``, ``n``,
    ``denominator`` (the eligible rows)."""
    cat = cat or load_catalogue()
    rules = list(rules) if rules is not None else list(cat.rules.values())
    parts = []
    for rule in rules:
        sub, eligible, bad = evaluate_rule(data, rule, cat=cat)
        label = np.where(bad, "motsagelse", "forenlig")[eligible]
        parts.append(
            pd.DataFrame(
                {UNIT: sub["kommun"].to_numpy()[eligible], "regel": rule.id, "kod": label}
            )
            .groupby([UNIT, "regel", "kod"], as_index=False)
            .size()
            .rename(columns={"size": "n"})
        )
    long = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=[UNIT, "regel", "kod", "n"])
    )
    return _all_units(long, "regel", {r.id: CONTRADICTION_CODES for r in rules})


def contradictions(
    data: pd.DataFrame,
    *,
    kommun: str = NATIONAL,
    rules: Sequence[Rule] | None = None,
    cat: Catalogue | None = None,
    counts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Share of eligible rows that contradict each rule, in one unit.

    Returns
    -------
    pandas.DataFrame
        One row per rule: ``rule``, ``variable`` (judged), ``related``, ``description_sv``,
        ``n_eligible``, ``n_contradicting``, ``share`` and its Wilson 95 % interval
        ``ci_low``, ``ci_high``.
    """
    cat = cat or load_catalogue()
    rules = list(rules) if rules is not None else list(cat.rules.values())
    if counts is None:
        counts = contradiction_counts(data, rules=rules, cat=cat)
    w = _shares_of(counts, kommun, "regel").reindex([r.id for r in rules], fill_value=0)
    w = w.reindex(columns=list(CONTRADICTION_CODES), fill_value=0)
    n = w.sum(axis=1).to_numpy(dtype=float)
    x = w["motsagelse"].to_numpy(dtype=float)
    low, high = _wilson(x, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "rule": [r.id for r in rules],
                "variable": [r.variable for r in rules],
                "related": [", ".join(r.related) for r in rules],
                "description_sv": [r.sv for r in rules],
                "n_eligible": n.astype(np.int64),
                "n_contradicting": x.astype(np.int64),
                "share": x / n,
                "ci_low": low,
                "ci_high": high,
            }
        )


# ------------------------------------------------------------------------------------------------
# Rater agreement (vignette studies) and feedback to a municipality
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementEvidence:
    """Rater agreement per variable from a vignette study.

    Attributes
    ----------
    table
        One row per variable: the columns of :func:`workbench.agreement.agreement_by_variable`
        (``variabel`` renamed ``variable``) plus ``confused_a``, ``confused_b`` and
        ``confused_share`` (the pair of different codes most often given to the same vignette,
        and the share of pairable values in that confusion). Variables without ratings have
        ``status = "ej tillgängligt"``.
    worst
        The variable with the lowest alpha (``None`` without ratings).
    confusion
        Its coincidence matrix (which codes are confused with which), codes in catalogue order.
    per_code
        Its agreement per code (:func:`workbench.agreement.code_agreement`).
    """

    table: pd.DataFrame
    worst: str | None = None
    confusion: pd.DataFrame | None = field(default=None, repr=False)
    per_code: pd.DataFrame | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False, escape=True)


def _rated(ratings: pd.DataFrame | None, names: Sequence[str]) -> pd.DataFrame:
    if ratings is None or ratings.empty:
        return pd.DataFrame(columns=["vinjett_id", "bedomare_id", "kommun", "variabel", "varde"])
    return ratings[ratings["variabel"].isin(list(names))]


def _used_order(sub: pd.DataFrame, var: Variable) -> list[str]:
    assert var.codelist is not None
    used = set(sub["varde"].dropna())
    return [c for c in var.codelist.code_values if c in used]


def rater_agreement(
    ratings: pd.DataFrame | None,
    *,
    variables: Sequence[str] | None = None,
    cat: Catalogue | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    min_units: int = 2,
) -> AgreementEvidence:
    """Krippendorff's alpha (with a bootstrap interval), Fleiss' kappa and confusions per variable.

    Parameters
    ----------
    ratings
        The canonical ``vignette_ratings`` table (one row per vignette x rater x variable), or
        ``None``/empty when the municipality has no vignette study.
    variables
        Variables to report (default: every assessed variable); those without ratings are
        listed as ``"ej tillgängligt"``.
    n_boot, seed, min_units
        As in :func:`workbench.agreement.agreement_by_variable`.

    Notes
    -----
    Ordered code lists (``ordered: true`` in the catalogue) get ordinal alpha over their valid
    codes ("kan ej bedömas" is then missing for alpha); others nominal alpha.
    """
    from workbench.agreement import agreement_by_variable, code_agreement, confusion_table

    cat = cat or load_catalogue()
    names = list(variables) if variables is not None else assessed_variables(cat)
    rated = _rated(ratings, names)
    orders = {
        n: list(cat.variable(n).codelist.codes_of_kind("valid"))  # type: ignore[union-attr]
        for n in set(rated["variabel"])
        if cat.variable(n).codelist is not None and cat.variable(n).codelist.ordered  # type: ignore[union-attr]
    }
    if len(rated):
        table = agreement_by_variable(
            rated, order_by_variable=orders, n_boot=n_boot, seed=seed, min_units=min_units
        ).rename(columns={"variabel": "variable"})
    else:
        table = pd.DataFrame(columns=["variable", "status"])
    confused = []
    for name in table["variable"]:
        sub = rated[rated["variabel"] == name]
        o = confusion_table(sub, order=_used_order(sub, cat.variable(name))).to_numpy()
        total = o.sum()
        off = np.triu(o, k=1)
        if total > 0 and off.max() > 0:
            i, j = np.unravel_index(np.argmax(off), off.shape)
            codes = _used_order(sub, cat.variable(name))
            confused.append((codes[i], codes[j], float(2 * off[i, j] / total)))
        else:
            confused.append((None, None, np.nan))
    table = table.assign(
        confused_a=[c[0] for c in confused],
        confused_b=[c[1] for c in confused],
        confused_share=[c[2] for c in confused],
    )
    missing = [n for n in names if n not in set(table["variable"])]
    if missing:
        extra = pd.DataFrame({"variable": missing, "status": STATUS_UNAVAILABLE})
        table = pd.concat([table, extra], ignore_index=True) if len(table) else extra
    ok = table[table["status"] == "ok"] if "status" in table else table.iloc[:0]
    worst = str(ok.iloc[0]["variable"]) if len(ok) else None
    confusion = per_code = None
    if worst is not None:
        sub = rated[rated["variabel"] == worst]
        order = _used_order(sub, cat.variable(worst))
        confusion = confusion_table(sub, order=order)
        per_code = code_agreement(sub, order=order)
    return AgreementEvidence(
        table=table.reset_index(drop=True), worst=worst, confusion=confusion, per_code=per_code
    )


def rater_feedback(
    ratings: pd.DataFrame | None,
    kommun: str,
    *,
    min_raters: int = 3,
    variables: Sequence[str] | None = None,
    cat: Catalogue | None = None,
) -> pd.DataFrame:
    """Where a municipality's raters diverge from the national consensus, aggregated over raters.

    The consensus of a vignette and variable is the code most raters *outside* the municipality
    gave (no consensus on a tie), so neither side is compared with itself. The municipality's
    agreement is the share of its raters' ratings equal to the consensus; the national figure
    is the same share for every rating in the study, each against the consensus without its
    own municipality. Nothing is reported per rater, and nothing at all for a variable rated by
    fewer than ``min_raters`` of the municipality's raters (``status = "för få bedömare"``).

    Returns
    -------
    pandas.DataFrame
        One row per variable: ``variable``, ``n_raters`` (the municipality's raters, or
        ``<NA>`` when fewer than ``min_raters``), ``agreement`` (municipality),
        ``agreement_national``, ``difference``, ``consensus_code`` and ``own_code`` (the most
        common divergence: the consensus code and the code given instead), ``divergence_share``
        (its share of the municipality's ratings) and ``status`` (``"ok"``,
        ``"för få bedömare"`` or ``"ej tillgängligt"``).
    """
    cat = cat or load_catalogue()
    names = list(variables) if variables is not None else assessed_variables(cat)
    cols = [
        "variable",
        "n_raters",
        "agreement",
        "agreement_national",
        "difference",
        "consensus_code",
        "own_code",
        "divergence_share",
        "status",
    ]
    rated = _rated(ratings, names)
    rated = rated[rated["varde"].notna()]
    rows = []
    for name in names:
        sub = rated[rated["variabel"] == name]
        own = sub["kommun"] == kommun
        n_raters = int(sub.loc[own, "bedomare_id"].nunique())
        if sub.empty or n_raters == 0:
            rows.append({"variable": name, "status": STATUS_UNAVAILABLE})
            continue
        if n_raters < min_raters:
            rows.append({"variable": name, "status": "för få bedömare"})
            continue
        agree, consensus = _leave_municipality_out(sub)
        has = consensus.notna().to_numpy()
        mine = own.to_numpy() & has
        others = ~own.to_numpy() & has
        a_own = float(agree[mine].mean()) if mine.any() else np.nan
        a_nat = float(agree[has].mean()) if has.any() else np.nan
        div = sub[mine & ~agree].assign(_c=consensus[mine & ~agree])
        pair = div.groupby(["_c", "varde"]).size().sort_values(ascending=False, kind="stable")
        top = pair.index[0] if len(pair) else (None, None)
        rows.append(
            {
                "variable": name,
                "n_raters": n_raters,
                "agreement": a_own,
                "agreement_national": a_nat if others.any() else np.nan,
                "difference": a_own - a_nat,
                "consensus_code": top[0],
                "own_code": top[1],
                "divergence_share": float(pair.iloc[0] / mine.sum()) if len(pair) else 0.0,
                "status": "ok",
            }
        )
    out = pd.DataFrame(rows).reindex(columns=cols)
    out["n_raters"] = out["n_raters"].astype("Int64")
    return out


def _leave_municipality_out(sub: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    """Per rating: whether it equals the modal code of the vignette among other municipalities'
    raters, and that consensus code (``<NA>`` on a tie or without other raters)."""
    v_idx, _ = pd.factorize(sub["vinjett_id"])
    k_idx, _ = pd.factorize(sub["kommun"])
    c_idx, c_uniq = pd.factorize(sub["varde"])
    n_v, n_c = int(v_idx.max()) + 1, len(c_uniq)
    total = np.bincount(v_idx * n_c + c_idx, minlength=n_v * n_c).reshape(n_v, n_c)
    n_k = int(k_idx.max()) + 1
    pair, pair_idx = np.unique(v_idx * n_k + k_idx, return_inverse=True)
    own = np.zeros((len(pair), n_c))
    np.add.at(own, (pair_idx, c_idx), 1)
    lmo = total[pair // n_k] - own  # each vignette's counts without the rater's municipality
    best = lmo.argmax(axis=1)
    top = lmo.max(axis=1)
    unique = (lmo == top[:, None]).sum(axis=1) == 1
    cons = np.where(unique & (top > 0), best, -1)[pair_idx]
    agree = cons == c_idx
    labels = pd.Series(
        np.where(cons >= 0, np.asarray(c_uniq, dtype=object)[np.maximum(cons, 0)], None),
        index=sub.index,
        dtype="object",
    )
    return agree, labels


# ------------------------------------------------------------------------------------------------
# Levels of each kind of evidence
# ------------------------------------------------------------------------------------------------


def _finite(x: object) -> bool:
    try:
        return bool(np.isfinite(float(x)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def level_nonresponse(n: int, share: float, share_missing: float, th: AmbiguityThresholds) -> str:
    """``otydlig`` from ``nonresponse.strong``; ``tveksam`` from ``nonresponse.moderate`` or
    ``nonresponse.missing_moderate`` empty; ``för lite data`` below ``min_rows`` rows."""
    if n < th.min_rows or not _finite(share):
        return STATUS_TOO_FEW
    if share >= th.nonresponse_strong:
        return LEVEL_UNCLEAR
    if share >= th.nonresponse_moderate or share_missing >= th.missing_moderate:
        return LEVEL_DOUBTFUL
    return LEVEL_OK


def level_residual(
    has_residual: bool, n: int, share: float, ratio: float, varies: bool, th: AmbiguityThresholds
) -> str:
    """``otydlig`` from ``residual.strong``, or from ``residual.moderate`` when the residual code
    is also used more than a typical valid code (``ratio >= 1``) or varies between
    municipalities (``varies``); ``tveksam`` from ``residual.moderate``, or from half of it when
    it varies."""
    if not has_residual:
        return STATUS_NOT_APPLICABLE
    if n < th.min_rows or not _finite(share):
        return STATUS_TOO_FEW
    if share >= th.residual_strong:
        return LEVEL_UNCLEAR
    if share >= th.residual_moderate:
        return LEVEL_UNCLEAR if (_finite(ratio) and ratio >= 1.0) or varies else LEVEL_DOUBTFUL
    if share >= th.residual_moderate / 2 and varies:
        return LEVEL_DOUBTFUL
    return LEVEL_OK


def level_agreement(
    status: str,
    n_units: float,
    alpha: float,
    ci_low: float,
    ci_high: float,
    th: AmbiguityThresholds,
) -> str:
    """Krippendorff (2004): ``otydlig`` below ``agreement.strong`` (0.667), ``tveksam`` below
    ``agreement.moderate`` (0.800). Fewer than ``min_vignettes`` vignettes, an undefined alpha or
    an interval wider than ``max_ci_width`` give ``för lite data``; no ratings ``ej
    tillgängligt``."""
    if status == STATUS_UNAVAILABLE:
        return STATUS_UNAVAILABLE
    if not _finite(alpha) or not _finite(n_units) or n_units < th.min_vignettes:
        return STATUS_TOO_FEW
    if _finite(ci_low) and _finite(ci_high) and ci_high - ci_low > th.max_ci_width:
        return STATUS_TOO_FEW
    if alpha < th.alpha_strong:
        return LEVEL_UNCLEAR
    if alpha < th.alpha_moderate:
        return LEVEL_DOUBTFUL
    return LEVEL_OK


def level_between(status: str, tau: float, p_value: float, th: AmbiguityThresholds) -> str:
    """``otydlig`` when the spread ``tau`` reaches ``between.strong`` and ``p <= between.p_value``;
    ``tveksam`` from ``between.moderate``."""
    if status != "ok":
        return status
    if _finite(p_value) and p_value <= th.between_p and _finite(tau):
        if tau >= th.between_strong:
            return LEVEL_UNCLEAR
        if tau >= th.between_moderate:
            return LEVEL_DOUBTFUL
    return LEVEL_OK


def level_contradiction(n_rules: int, n: int, share: float, th: AmbiguityThresholds) -> str:
    """The highest contradiction share of the variable's rules (with ``min_rows`` eligible rows):
    ``otydlig`` from ``contradiction.strong``, ``tveksam`` from ``contradiction.moderate``."""
    if n_rules == 0:
        return STATUS_NOT_APPLICABLE
    if n < th.min_rows or not _finite(share):
        return STATUS_TOO_FEW
    if share >= th.contradiction_strong:
        return LEVEL_UNCLEAR
    if share >= th.contradiction_moderate:
        return LEVEL_DOUBTFUL
    return LEVEL_OK


def level_instability(n_tested: int, n_flagged: int, th: AmbiguityThresholds) -> str:
    """Nationally: ``otydlig`` when at least 3 municipalities and ``instability.strong_share`` of
    those tested shift, ``tveksam`` from one. For one municipality (``n_tested == 1``): its own
    shift gives ``otydlig``."""
    if n_tested == 0:
        return STATUS_TOO_FEW
    if n_tested == 1:
        return LEVEL_UNCLEAR if n_flagged else LEVEL_OK
    if n_flagged >= max(3, th.shift_strong_share * n_tested):
        return LEVEL_UNCLEAR
    if n_flagged >= 1:
        return LEVEL_DOUBTFUL
    return LEVEL_OK


def _max_level(*levels: str) -> str:
    scored = [lv for lv in levels if lv in POINTS]
    if not scored:
        return levels[0]
    return max(scored, key=POINTS.__getitem__)


# ------------------------------------------------------------------------------------------------
# Ranking and plain-language explanations
# ------------------------------------------------------------------------------------------------


def rank_variables(
    evidence: pd.DataFrame, thresholds: AmbiguityThresholds | None = None
) -> pd.DataFrame:
    """Score, verdict and rank from the evidence levels (no black box: only counted levels).

    Parameters
    ----------
    evidence
        One row per variable with ``variable``, ``<kind>_level`` for every kind of
        :data:`EVIDENCE` (a level or a status), optionally ``n`` (rows of the unit; fewer than
        ``min_rows`` gives ``för lite data``) and ``alpha`` (ties are broken by the lowest).
    thresholds
        ``verdict.doubtful``, ``verdict.unclear`` and ``min_rows``.

    Returns
    -------
    pandas.DataFrame
        The input plus ``<kind>_points``, ``score`` (sum of points: ``tveksam`` 1,
        ``otydlig`` 2), ``n_unclear`` (kinds at ``otydlig``), ``n_assessed`` (kinds with a
        level), ``verdict`` and ``rank`` (1 = most ambiguous), sorted by rank.
    """
    th = thresholds or AmbiguityThresholds()
    out = evidence.copy()
    pts = pd.DataFrame(
        {f"{k}_points": out[f"{k}_level"].map(POINTS).astype("Int64") for k in EVIDENCE},
        index=out.index,
    )
    out = pd.concat([out, pts], axis=1)
    out["score"] = pts.sum(axis=1, skipna=True).astype("int64")
    out["n_unclear"] = (pts == 2).sum(axis=1).astype("int64")
    out["n_assessed"] = pts.notna().sum(axis=1).astype("int64")
    too_few = out["n_assessed"] == 0
    if "n" in out:
        too_few |= out["n"].fillna(0) < th.min_rows
    verdict = np.where(
        (out["score"] >= th.verdict_unclear) | (out["n_unclear"] >= 2),
        VERDICT_UNCLEAR,
        np.where(out["score"] >= th.verdict_doubtful, VERDICT_DOUBTFUL, VERDICT_CLEAR),
    )
    out["verdict"] = np.where(too_few, STATUS_TOO_FEW, verdict)
    order = {v: i for i, v in enumerate(VERDICTS)}
    alpha = out["alpha"] if "alpha" in out else pd.Series(np.nan, index=out.index)
    key = pd.DataFrame(
        {
            "v": out["verdict"].map(order),
            "s": -out["score"],
            "u": -out["n_unclear"],
            "a": pd.to_numeric(alpha, errors="coerce").fillna(2.0),
            "name": out["variable"].astype(str),
        }
    )
    out = out.loc[key.sort_values(["v", "s", "u", "a", "name"], kind="stable").index]
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)


_NOUN = {"children": "barnen", "interventions": "insatserna", "registrations": "registreringarna"}
_NOUN_INDEF = {"children": "barn", "interventions": "insatser", "registrations": "registreringar"}


def _text(x: object) -> str | None:
    """A non-empty string, or ``None`` for missing values (NaN, NA, None, "")."""
    return x if isinstance(x, str) and x else None


def _pct(x: object) -> str:
    return format_percent(x)


def _code_sv(variable: str, code: object, cat: Catalogue) -> str:
    if code is None or (isinstance(code, float) and np.isnan(code)) or code is pd.NA:
        return ""
    if code == MISSING_CODE:
        return "ej ifylld"
    try:
        return cat.variable(variable).codelist.label(str(code))  # type: ignore[union-attr]
    except (KeyError, AttributeError):
        return str(code)


def explain(row: Mapping[str, Any], *, cat: Catalogue | None = None) -> dict[str, str]:
    """Plain Swedish text for one ranked variable: what was observed, what it likely means and
    what to do (in the spirit of Webbkollen: define clearly, guide, merge or split codes, or drop
    the variable).

    ``row`` is a row of the ranking (:func:`assess`). Shares that are missing (e.g. suppressed
    by disclosure control in a report) are written ``..``.

    Returns
    -------
    dict
        ``observed_sv``, ``meaning_sv`` and ``recommendation_sv``.
    """
    cat = cat or load_catalogue()
    name = str(row["variable"])
    var = cat.variable(name)
    noun = _NOUN.get(var.table, "registreringarna")
    noun_indef = _NOUN_INDEF.get(var.table, "registreringar")
    local = str(row.get("unit", NATIONAL)) != NATIONAL
    flagged = {k for k in EVIDENCE if row.get(f"{k}_level") in (LEVEL_DOUBTFUL, LEVEL_UNCLEAR)}
    observed: list[str] = []
    meaning: list[str] = []
    advice: list[str] = []
    if row.get("verdict") == STATUS_TOO_FEW:
        return {
            "observed_sv": "För få uppgifter för en bedömning.",
            "meaning_sv": "Små tal ger osäkra mått; variabeln bedöms inte här.",
            "recommendation_sv": "Se rikets bedömning av variabeln.",
        }
    if not flagged:
        return {
            "observed_sv": "Inga tecken på oklarhet i de underlag som finns.",
            "meaning_sv": "Variabeln verkar förstås och användas på samma sätt.",
            "recommendation_sv": "Ingen åtgärd behövs.",
        }
    unclear = {k for k in flagged if row.get(f"{k}_level") == LEVEL_UNCLEAR}
    if {"nonresponse", "agreement"} <= unclear and len(unclear) >= 3:
        advice.append(
            "Överväg att ta bort variabeln eller göra den frivillig tills den har fått en "
            "tydligare definition (Webbkollen: börja med få, väl definierade variabler)."
        )
    if "agreement" in flagged:
        a, b = _text(row.get("confused_a")), _text(row.get("confused_b"))
        pair = ""
        if a and b:
            pair = f" Oftast förväxlas ”{_code_sv(name, a, cat)}” och ”{_code_sv(name, b, cat)}”."
        observed.append(
            "När socialsekreterare kodade samma fallbeskrivningar (vinjetter) blev "
            f"samstämmigheten låg: Krippendorffs alfa {format_number(row.get('alpha'), 2)} "
            f"(95 % konfidensintervall {format_number(row.get('alpha_ci_low'), 2)}–"
            f"{format_number(row.get('alpha_ci_high'), 2)}; 1 betyder full samstämmighet och "
            "under 0,67 räknas som otillförlitligt)." + pair
        )
        meaning.append("Handläggare tolkar variabeln eller dess koder olika.")
        merge = (
            f" och överväg att slå ihop eller skarpare avgränsa ”{_code_sv(name, a, cat)}” och "
            f"”{_code_sv(name, b, cat)}”"
            if pair
            else ""
        )
        advice.append(f"Skriv en tydligare definition med exempel, ge gemensam vägledning{merge}.")
    if "nonresponse" in flagged:
        unknown = row.get("unknown_share")
        detail = f"{_pct(row.get('missing_share'))} är inte ifyllda"
        if var.type != "multi":
            detail += f" och {_pct(unknown)} har svaret okänt eller kan ej bedömas"
        observed.append(
            f"{_pct(row.get('nonresponse_share'))} av {noun} saknar ett användbart svar: {detail}."
        )
        meaning.append(
            "Uppgiften är svår att ta fram eller att bedöma, eller så är det oklart när den ska "
            "fyllas i."
        )
        advice.append(
            "Förtydliga när variabeln ska fyllas i och vad som krävs för att kunna bedöma den; "
            "pröva om svaret ”kan ej bedömas” behövs."
        )
    if "residual" in flagged:
        more = []
        if _finite(row.get("residual_ratio")) and float(row["residual_ratio"]) >= 1:
            more.append("oftare än en typisk kod i listan")
        if row.get("residual_varies"):
            more.append(
                "oftare än i de flesta andra kommuner"
                if local
                else "olika mycket i olika kommuner"
            )
        observed.append(
            f"Restkategorin (”annat”) används för {_pct(row.get('residual_share'))} av {noun} "
            "med svar" + (", " + " och ".join(more) if more else "") + "."
        )
        meaning.append(
            "Kodlistan passar inte det som förekommer i verksamheten, eller så är koderna svåra "
            "att skilja åt."
        )
        advice.append(
            "Se över kodlistan: dela upp ”annat” i de vanligaste fallen, lägg till koder som "
            "saknas eller beskriv med exempel vad varje kod omfattar."
        )
    if "between" in flagged:
        text = (
            f"Kommunerna fördelar {noun} mellan koderna olika, mer än slumpen och skillnader i "
            "ärendenas sammansättning (ålder, kön, öppenvård eller placering, år) förklarar: "
            f"spridningen mellan kommunerna är τ = {format_number(row.get('between_tau'), 2)} "
            "(0 betyder ingen skillnad utöver slumpen, 0,2 att kommunernas andelar typiskt "
            "skiljer sig 20 % från det förväntade)."
        )
        code = _text(row.get("between_own_code"))
        if local and code:
            direction = "oftare" if row.get("between_own_direction") == "high" else "mer sällan"
            text += (
                f" Kommunen använder själv koden ”{_code_sv(name, code, cat)}” tydligt "
                f"{direction} än förväntat."
            )
        observed.append(text)
        meaning.append(
            "Kommunerna har olika praxis för hur variabeln kodas, så jämförelser mellan "
            "kommuner blir osäkra."
        )
        advice.append(
            "Jämför lokala rutiner och förval i verksamhetssystemen och ta fram gemensam "
            "vägledning för hur variabeln ska kodas."
        )
    if "contradiction" in flagged:
        observed.append(
            f"{_pct(row.get('contradiction_share'))} av de {noun_indef} där regeln gäller motsäger en "
            f"annan uppgift: {_text(row.get('contradiction_rule_sv')) or ''}."
        )
        meaning.append(
            "Variabeln förstås på ett annat sätt än uppgiften den jämförs med, eller fylls i vid "
            "fel tillfälle. En motsägelse visar att två svar inte passar ihop, inte vilket som "
            "är fel."
        )
        advice.append(
            "Lägg in en kontroll i verksamhetssystemet och beskriv hur variablerna hänger ihop."
        )
    if "instability" in flagged:
        if local and _text(row.get("instability_code")):
            up = (
                "ökade"
                if _finite(row.get("instability_shift")) and row["instability_shift"] > 0
                else "minskade"
            )
            observed.append(
                f"Kommunens användning av ”{_code_sv(name, row['instability_code'], cat)}” "
                f"{up} tydligt från {row.get('instability_year')}, mer än utvecklingen i riket "
                "förklarar."
            )
        else:
            observed.append(
                f"Kodningen ändrades tydligt över tid i {format_int(row.get('instability_n'))} "
                "kommuner, mer än utvecklingen i riket förklarar."
            )
        meaning.append(
            "Rutiner, system eller tolkning har ändrats, så jämförelser mellan åren före och "
            "efter blir osäkra."
        )
        advice.append(
            "Ta reda på vad som ändrades (ny rutin, nytt verksamhetssystem, ny tolkning) och "
            "dokumentera det; jämför inte åren före och efter utan förbehåll."
        )
    return {
        "observed_sv": " ".join(observed),
        "meaning_sv": " ".join(dict.fromkeys(meaning)),
        "recommendation_sv": " ".join(dict.fromkeys(advice)),
    }


def explain_frame(ranking: pd.DataFrame, *, cat: Catalogue | None = None) -> pd.DataFrame:
    """The ranking with the three text columns of :func:`explain` (re)computed for every row."""
    cat = cat or load_catalogue()
    texts = pd.DataFrame(
        [explain(r, cat=cat) for r in ranking.to_dict("records")], index=ranking.index
    )
    rest = ranking.drop(columns=[c for c in texts.columns if c in ranking.columns])
    return pd.concat([rest, texts], axis=1)


# ------------------------------------------------------------------------------------------------
# The whole assessment
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AmbiguityAssessment:
    """All evidence for one unit (a municipality or the nation) and the ranking of variables.

    Attributes
    ----------
    unit
        Municipality code or ``"0000"``.
    thresholds
        The thresholds used.
    ranking
        One row per variable, ranked (see :func:`rank_variables`), with the metrics of every
        kind of evidence, their levels, score, verdict and the texts of :func:`explain`.
    nonresponse, residual, contradictions
        The unit's tables from :func:`nonresponse`, :func:`residual_use` and
        :func:`contradictions`.
    agreement
        The national vignette study (:func:`rater_agreement`).
    between
        :func:`between_municipalities` per variable (national).
    instability
        :func:`instability` per variable (all municipalities).
    feedback
        :func:`rater_feedback` for a municipality (``None`` for the nation).
    quality, contradiction_counts
        The counts behind the shares, for every municipality, county and the nation (what
        reports protect before showing).
    """

    unit: str
    thresholds: AmbiguityThresholds
    ranking: pd.DataFrame = field(repr=False)
    nonresponse: pd.DataFrame = field(repr=False)
    residual: pd.DataFrame = field(repr=False)
    agreement: AgreementEvidence = field(repr=False)
    between: Mapping[str, BetweenResult] = field(repr=False)
    contradictions: pd.DataFrame = field(repr=False)
    instability: Mapping[str, pd.DataFrame] = field(repr=False)
    feedback: pd.DataFrame | None = field(repr=False)
    quality: pd.DataFrame = field(repr=False)
    contradiction_counts: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The ranking: one row per variable."""
        return self.ranking.copy()

    def _repr_html_(self) -> str:
        cols = ["rank", "variable", "verdict", "score", *(f"{k}_level" for k in EVIDENCE)]
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in cols) + "</tr>"
            for r in self.ranking[cols].to_dict("records")
        )
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class NationalEvidence:
    """The evidence :func:`assess` computes over all municipalities, the same for every unit:
    quality counts, between-municipality variation, the vignette study's agreement, the
    contradiction counts and the instability tests, for the variables ``names``."""

    names: tuple[str, ...]
    quality: pd.DataFrame = field(repr=False)
    between: dict[str, BetweenResult] = field(repr=False)
    agreement: AgreementEvidence = field(repr=False)
    #: Ids of the contradiction rules that could be evaluated on the data.
    rules: tuple[str, ...]
    contradiction_counts: pd.DataFrame = field(repr=False)
    instability: dict[str, pd.DataFrame] = field(repr=False)


def national_evidence(
    data: pd.DataFrame,
    ratings: pd.DataFrame | None = None,
    *,
    thresholds: AmbiguityThresholds | None = None,
    variables: Sequence[str] | None = None,
    cat: Catalogue | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> NationalEvidence:
    """The unit-independent part of :func:`assess` (all municipalities' data; see there)."""
    cat = cat or load_catalogue()
    th = thresholds or AmbiguityThresholds()
    names = list(variables) if variables is not None else assessed_variables(cat)
    data = compact(data)
    between = {
        n: between_municipalities(
            data,
            n,
            case_mix=th.case_mix,
            min_municipalities=th.min_municipalities,
            min_rows=th.min_rows,
            cat=cat,
        )
        for n in names
    }
    rules = [r for r in cat.rules.values() if r.variable in names and _rule_readable(data, r, cat)]
    return NationalEvidence(
        names=tuple(names),
        quality=quality_counts(data, names, cat=cat),
        between=between,
        agreement=rater_agreement(ratings, variables=names, cat=cat, n_boot=n_boot, seed=seed),
        rules=tuple(r.id for r in rules),
        contradiction_counts=contradiction_counts(data, rules=rules, cat=cat),
        instability={
            n: instability(data, n, min_shift=th.shift_min, q_value=th.shift_q, cat=cat)
            for n in names
        },
    )


def assess(
    data: pd.DataFrame,
    ratings: pd.DataFrame | None = None,
    *,
    kommun: str = NATIONAL,
    thresholds: AmbiguityThresholds | None = None,
    variables: Sequence[str] | None = None,
    cat: Catalogue | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    evidence: NationalEvidence | None = None,
) -> AmbiguityAssessment:
    """Compute every kind of evidence and rank the variables for a municipality or the nation.

    Parameters
    ----------
    data
        Registration-level analysis frame of **all** municipalities
        (:func:`workbench.dataset.load_registrations`): comparisons need the others.
    ratings
        The canonical ``vignette_ratings`` table, or ``None`` when there is no vignette study.
    kommun
        Municipality code, or ``"0000"`` for the nation.
    thresholds
        Levels and verdict thresholds (default :class:`AmbiguityThresholds`).
    variables
        Variables to assess (default :func:`assessed_variables`; e.g. leave out variables a
        municipality has switched off).
    n_boot, seed
        Bootstrap of the agreement intervals.
    evidence
        The evidence that is the same for every unit (:func:`national_evidence` of the same
        data, ratings, thresholds and variables), e.g. computed once per batch; computed here
        when not given.

    Returns
    -------
    AmbiguityAssessment
    """
    cat = cat or load_catalogue()
    th = thresholds or AmbiguityThresholds()
    names = list(variables) if variables is not None else assessed_variables(cat)
    national = kommun == NATIONAL
    data = compact(data)
    if evidence is None:
        evidence = national_evidence(
            data, ratings, thresholds=th, variables=names, cat=cat, n_boot=n_boot, seed=seed
        )
    elif list(evidence.names) != names:
        raise ValueError(
            f"national evidence was computed for {list(evidence.names)}, not for {names}"
        )
    quality, between, agr = evidence.quality, evidence.between, evidence.agreement
    ccounts, inst = evidence.contradiction_counts, evidence.instability
    rules = [cat.rules[r] for r in evidence.rules]
    nr = nonresponse(data, kommun=kommun, variables=names, cat=cat, counts=quality)
    res = residual_use(data, kommun=kommun, variables=names, between=between, cat=cat)
    con = contradictions(data, kommun=kommun, rules=rules, cat=cat, counts=ccounts)
    feedback = (
        None
        if national
        else rater_feedback(ratings, kommun, min_raters=th.min_raters, variables=names, cat=cat)
    )
    rows = []
    nr_by, res_by = nr.set_index("variable"), res.set_index("variable")
    agr_by = agr.table.set_index("variable")
    for name in names:
        var = cat.variable(name)
        n = int(nr_by.loc[name, "n"])
        rec: dict[str, Any] = {
            "variable": name,
            "label_sv": var.sv,
            "unit": kommun,
            "table": var.table,
            "n": n,
        }
        # non-response
        q = nr_by.loc[name]
        rec.update(
            nonresponse_share=q["share"],
            missing_share=q["share_missing"],
            unknown_share=q["share_unknown"] + q["share_not_assessable"],
        )
        rec["nonresponse_level"] = level_nonresponse(n, q["share"], q["share_missing"], th)
        # residual codes
        r = res_by.loc[name]
        if national:
            varies = bool(
                _finite(r["tau_residual"])
                and r["tau_residual"] >= th.between_moderate
                and _finite(r["p_residual"])
                and r["p_residual"] <= th.between_p
            )
        else:
            varies = r["outlier"] == "high"
        rec.update(
            residual_share=r["share"],
            residual_ratio=r["ratio_to_valid"],
            residual_varies=varies,
        )
        rec["residual_level"] = level_residual(
            bool(r["has_residual"]), int(r["n"]), r["share"], r["ratio_to_valid"], varies, th
        )
        # rater agreement (national vignette study)
        a = agr_by.loc[name]
        rec.update(
            alpha=a.get("alpha", np.nan),
            alpha_ci_low=a.get("alpha_ci_low", np.nan),
            alpha_ci_high=a.get("alpha_ci_high", np.nan),
            agreement_n_units=a.get("n_units", np.nan),
            confused_a=a.get("confused_a"),
            confused_b=a.get("confused_b"),
        )
        rec["agreement_level"] = level_agreement(
            str(a.get("status")),
            rec["agreement_n_units"],
            rec["alpha"],
            rec["alpha_ci_low"],
            rec["alpha_ci_high"],
            th,
        )
        # between municipalities
        b = between[name]
        pm = b.per_municipality
        rec.update(
            between_phi=b.phi,
            between_tau=b.tau,
            between_p=b.p_value,
            between_outliers=int(pm.loc[pm["outlier"] != "", "kommun"].nunique()),
        )
        level_b = level_between(b.status, b.tau, b.p_value, th)
        rec["between_own_code"] = rec["between_own_direction"] = None
        if not national:
            own = pm[(pm["kommun"] == kommun) & (pm["outlier"] != "")]
            own_level = LEVEL_OK
            if len(own):
                top = own.loc[own["z"].abs().idxmax()]
                rec["between_own_code"] = top["code"]
                rec["between_own_direction"] = top["outlier"]
                big = top["ratio"] >= 2 or top["ratio"] <= 0.5
                own_level = LEVEL_UNCLEAR if big else LEVEL_DOUBTFUL
            if b.status == "ok":
                level_b = _max_level(level_b, own_level)
            if n < th.min_rows and b.status == "ok":
                level_b = STATUS_TOO_FEW
        rec["between_level"] = level_b
        # contradictions
        c = con[con["variable"] == name]
        enough = c[c["n_eligible"] >= th.min_rows]
        if len(enough):
            worst = enough.loc[enough["share"].idxmax()]
            rec.update(
                contradiction_share=worst["share"],
                contradiction_rule=worst["rule"],
                contradiction_rule_sv=worst["description_sv"],
            )
        else:
            rec.update(contradiction_share=np.nan, contradiction_rule=None)
            rec["contradiction_rule_sv"] = None
        rec["contradiction_level"] = level_contradiction(
            len(c),
            int(c["n_eligible"].max()) if len(c) else 0,
            rec["contradiction_share"],
            th,
        )
        # instability
        t = inst[name]
        rec.update(instability_n=np.nan, instability_code=None, instability_year=None)
        rec["instability_shift"] = np.nan
        if national:
            n_tested = int(t["kommun"].nunique())
            n_flagged = int(t.loc[t["flagged"], "kommun"].nunique())
            rec["instability_n"] = n_flagged
        else:
            own_t = t[t["kommun"] == kommun]
            n_tested = 1 if len(own_t) and n >= th.min_rows else 0
            hits = own_t[own_t["flagged"]]
            n_flagged = int(len(hits) > 0)
            if len(hits):
                top = hits.loc[hits["z"].abs().idxmax()]
                rec.update(
                    instability_code=top["code"],
                    instability_year=int(top["change_year"]),
                    instability_shift=float(top["shift"]),
                )
        rec["instability_level"] = level_instability(n_tested, n_flagged, th)
        rows.append(rec)
    ranking = explain_frame(rank_variables(pd.DataFrame(rows), th), cat=cat)
    log.info(
        "ambiguity: %d variables assessed for %s; verdicts %s",
        len(ranking),
        kommun,
        ranking["verdict"].value_counts().to_dict(),
    )
    return AmbiguityAssessment(
        unit=kommun,
        thresholds=th,
        ranking=ranking,
        nonresponse=nr,
        residual=res,
        agreement=agr,
        between=between,
        contradictions=con,
        instability=inst,
        feedback=feedback,
        quality=quality,
        contradiction_counts=ccounts,
    )


# ------------------------------------------------------------------------------------------------
# Vignette studies: the fill-in template and its loader
# ------------------------------------------------------------------------------------------------

#: Columns of ``data/reference/vignette-template.csv`` (see ``docs/vignettes.md``).
VIGNETTE_COLUMNS: tuple[str, ...] = ("vinjett_id", "bedomare_id", "kommun", "variabel", "varde")
_LOCAL_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$"
_EXAMPLE_PREFIX = "EXEMPEL"


class VignetteFileError(ValueError):
    """A vignette file does not follow the template; the message names rows and the fix."""


def _rows_text(mask: np.ndarray, k: int = 5) -> str:
    """File line numbers (header = line 1) of the first failing rows; never their values."""
    lines = (np.flatnonzero(mask) + 2).tolist()
    more = f" and {len(lines) - k} more" if len(lines) > k else ""
    return ", ".join(str(x) for x in lines[:k]) + more


def _canonical_id(prefix: str, *parts: str) -> str:
    import hashlib

    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return prefix + digest[:16]


def load_vignette_ratings(
    path: str | Path, *, study: str = "", cat: Catalogue | None = None
) -> pd.DataFrame:
    """Read a filled-in vignette template and validate it into the canonical
    ``vignette_ratings`` layout.

    The file (``data/reference/vignette-template.csv``, documented in ``docs/vignettes.md``)
    has one row per vignette x social worker x variable with the columns
    :data:`VIGNETTE_COLUMNS`; comma or semicolon separated, UTF-8 (with or without BOM).
    Identifiers are the study's own short codes (e.g. ``V01``, ``S07``), never names or
    personnummer: letters, digits, ``-`` and ``_``, at most 24 characters. They become
    pseudonymous canonical ids (``V``/``S`` + 16 hex digits, SHA-256 of the study name and the
    code; a rater's code is taken within its municipality). ``varde`` is a catalogue code, its
    Swedish label or an accepted spelling (case-insensitive); empty means the rater skipped it.

    Parameters
    ----------
    path
        The CSV file.
    study
        A name for the study, so two studies' codes ``V01`` do not become the same vignette.

    Returns
    -------
    pandas.DataFrame
        The canonical ``vignette_ratings`` table, validated.

    Raises
    ------
    VignetteFileError
        Missing columns, example rows left in, names or numbers in id columns, unknown
        municipality codes, variables or codes, and duplicated vignette x rater x variable rows.
        Messages give line numbers and the fix, never the values.
    """
    from workbench.dataset import DatasetError, conform, validate
    from workbench.municipalities import InvalidCodeError, normalise_kommun

    cat = cat or load_catalogue()
    p = Path(path)
    text = p.read_text(encoding="utf-8-sig")
    first = text.splitlines()[0] if text else ""
    sep = ";" if first.count(";") > first.count(",") else ","
    import io

    raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in VIGNETTE_COLUMNS if c not in raw.columns]
    if missing:
        raise VignetteFileError(
            f"{p.name}: columns {missing} are missing; start from "
            "data/reference/vignette-template.csv (columns "
            f"{', '.join(VIGNETTE_COLUMNS)})"
        )
    df = raw[list(VIGNETTE_COLUMNS)].apply(lambda s: s.str.strip())
    df = df[(df != "").any(axis=1)].reset_index(drop=True)
    problems: list[str] = []
    example = (
        df["vinjett_id"].str.upper().str.startswith(_EXAMPLE_PREFIX)
        | df["bedomare_id"].str.upper().str.startswith(_EXAMPLE_PREFIX)
    ).to_numpy()
    if example.any():
        problems.append(f"lines {_rows_text(example)}: remove the template's example rows")
    for col in ("vinjett_id", "bedomare_id"):
        s = df[col]
        empty = (s == "").to_numpy()
        if empty.any():
            problems.append(f"lines {_rows_text(empty)}: {col} is empty")
        long_digits = s.str.count(r"\d").to_numpy() >= 6
        bad = ~s.str.match(_LOCAL_ID).to_numpy() | long_digits
        bad &= ~empty & ~example
        if bad.any():
            problems.append(
                f"lines {_rows_text(bad)}: {col} must be a short code such as V01 or S07 "
                "(letters, digits, - and _; no names, spaces or personnummer)"
            )
    kommun = []
    bad_k = np.zeros(len(df), dtype=bool)
    for i, value in enumerate(df["kommun"]):
        try:
            kommun.append(normalise_kommun(value, allow_national=False))
        except InvalidCodeError:
            kommun.append(value)
            bad_k[i] = True
    if bad_k.any():
        problems.append(
            f"lines {_rows_text(bad_k)}: kommun must be a four-digit municipality code as text "
            '("0180"; Excel drops the leading zero unless the column is text). See '
            "workbench.list_municipalities()"
        )
    df["kommun"] = kommun
    allowed = set(assessed_variables(cat))
    bad_v = ~df["variabel"].isin(list(allowed)).to_numpy()
    if bad_v.any():
        problems.append(
            f"lines {_rows_text(bad_v)}: variabel must be a code or multi-select catalogue "
            "variable name such as riskbedomning; see workbench.list_variables()"
        )
    values = np.array(df["varde"].tolist(), dtype=object)
    bad_c = np.zeros(len(df), dtype=bool)
    for name in set(df.loc[~bad_v, "variabel"]):
        cl = cat.variable(name).codelist
        assert cl is not None
        lookup: dict[str, str] = {}
        for c in cl.codes:
            for label in (c.code, c.sv, *c.variants):
                lookup[" ".join(str(label).lower().split())] = c.code
        rows = (df["variabel"] == name).to_numpy()
        for i in np.flatnonzero(rows):
            v = values[i]
            if v == "":
                values[i] = None
                continue
            code = lookup.get(" ".join(str(v).lower().split()))
            if code is None:
                bad_c[i] = True
            values[i] = code
    if bad_c.any():
        problems.append(
            f"lines {_rows_text(bad_c)}: varde is not a code of the row's variable; use the "
            "codes listed by workbench.list_variables() (or leave it empty for a skipped item)"
        )
    key = df[["vinjett_id", "bedomare_id", "kommun", "variabel"]].apply(
        lambda s: s.str.lower() if s.name != "kommun" else s
    )
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        problems.append(
            f"lines {_rows_text(dup)}: the same vignette, rater and variable occur more than "
            "once; keep one rating per rater and vignette"
        )
    if problems:
        raise VignetteFileError(f"{p.name}: " + "; ".join(problems))
    out = pd.DataFrame(
        {
            "vinjett_id": [_canonical_id("V", study, "vinjett", v) for v in df["vinjett_id"]],
            "bedomare_id": [
                _canonical_id("S", study, "bedomare", k, r)
                for k, r in zip(df["kommun"], df["bedomare_id"], strict=True)
            ],
            "kommun": df["kommun"],
            "variabel": df["variabel"],
            "varde": pd.Series(values, dtype="str"),
        }
    )
    try:
        return validate("vignette_ratings", conform("vignette_ratings", out, cat), cat)
    except DatasetError as exc:  # pragma: no cover - the checks above cover the schema
        raise VignetteFileError(f"{p.name}: {exc}") from None
