"""Comparing municipalities the way Öppna jämförelser, Kolada and England's Fingertips do.

Everything here starts from a :class:`workbench.disclosure.ProtectedTable`: the indicator counts
of :mod:`workbench.indicators`, protected over the national linked set (all municipalities, all
counties and the nation). :func:`published_values` reads the **published** cells only, so every
value, interval, benchmark, classification and funnel point computed from it can be derived from
what is published: nothing suppressed can leak through a comparison.

* :func:`published_values` -- values per unit, indicator and year (and for the whole period),
  with 95 % Wilson score intervals.
* :func:`benchmarks` -- each municipality (or county) against its county, the nation and a group
  of similar municipalities: better / no clear difference / worse, by polarity (the Fingertips
  rule: the benchmark outside the unit's 95 % interval).
* :func:`quartiles` -- Öppna jämförelser / Kolada quartile groups (best 25 %, middle 50 %,
  worst 25 %, missing).
* :func:`funnel_limits`, :func:`overdispersion`, :func:`funnel` -- funnel plots around the
  national value (exact binomial, Wilson/PHE or normal limits at 95 % and 99.8 %; Spiegelhalter's
  multiplicative or additive overdispersion adjustment where the data are overdispersed).
* :func:`municipality_features`, :func:`similar_municipalities`, :func:`load_kommungrupper`,
  :func:`group_stability` -- groups of similar municipalities: SKR's kommungrupp when the user
  provides it, otherwise the nearest municipalities on size and case volume.
* :func:`survey_county_table` -- the share of municipalities answering yes per county and nation.
* :func:`case_vs_survey` -- case data beside the municipality's own survey answer.
* :func:`spine`, :func:`time_series` -- one municipality's overview and trends.

Methods and sources: ``docs/methods.md``, section *Comparisons between municipalities*.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from workbench import fmt, paths, stats
from workbench.disclosure import DisclosureRules, ProtectedTable, protect_linked
from workbench.followup import UNIT
from workbench.indicators import SEP, YES, IndicatorSet, Link, load_indicators
from workbench.municipalities import (
    NATIONAL,
    InvalidCodeError,
    hierarchy,
    list_municipalities,
    normalise_kommun,
)

__all__ = [
    "CLASS_SV",
    "QUARTILE_SV",
    "SURVEY_RULES",
    "BenchmarkResult",
    "CaseSurveyResult",
    "FunnelResult",
    "Overdispersion",
    "PublishedValues",
    "QuartileResult",
    "SimilarGroups",
    "SpineResult",
    "SurveyCountyTable",
    "TimeSeriesResult",
    "benchmarks",
    "case_vs_survey",
    "checked_trends",
    "classify",
    "county_hierarchy",
    "funnel",
    "funnel_limits",
    "group_stability",
    "load_kommungrupper",
    "municipality_features",
    "overdispersion",
    "protect_case_counts",
    "protect_series_counts",
    "protect_survey_counts",
    "published_values",
    "quartiles",
    "similar_municipalities",
    "spine",
    "survey_county_table",
    "time_series",
]

logger = logging.getLogger(__name__)

LEVEL_KOMMUN, LEVEL_LAN, LEVEL_RIKET = "kommun", "lan", "riket"
LEVEL_SV = {LEVEL_KOMMUN: "kommun", LEVEL_LAN: "län", LEVEL_RIKET: "riket"}

STATUS_OK, STATUS_SUPPRESSED, STATUS_TOO_SMALL, STATUS_NO_DATA = (
    "ok",
    "suppressed",
    "too_small",
    "no_data",
)
STATUS_SV = {
    STATUS_OK: "",
    STATUS_SUPPRESSED: fmt.SUPPRESSED,
    STATUS_TOO_SMALL: "för litet underlag",
    STATUS_NO_DATA: "inga data",
}

#: Classification of a value against a benchmark (codes are English, labels Swedish).
CLASS_SV: dict[str, str] = {
    "better": "Bättre",
    "similar": "Ingen säker skillnad",
    "worse": "Sämre",
    "higher": "Högre",
    "lower": "Lägre",
    "too_small": "För litet underlag",
    "missing": "Uppgift saknas",
    "no_benchmark": "Jämförelsevärde saknas",
    "yes": "Ja",
    "no": "Nej",
    "not_answered": "Ej besvarad",
}
#: Quartile groups of Öppna jämförelser / Kolada, by polarity.
QUARTILE_SV: dict[str, str] = {
    "best": f"Bästa 25{fmt.NBSP}%",
    "middle": f"Mellersta 50{fmt.NBSP}%",
    "worst": f"Sämsta 25{fmt.NBSP}%",
    "high": f"Högsta 25{fmt.NBSP}%",
    "low": f"Lägsta 25{fmt.NBSP}%",
    "missing": "Uppgift saknas",
    "yes": "Ja",
    "no": "Nej",
    "not_answered": "Ej besvarad",
}
BENCHMARK_SV = {"lan": "Länet", "riket": "Riket", "liknande": "Liknande kommuner"}

#: Disclosure rules for the municipality survey. Its counts are municipalities (public bodies
#: whose answers Öppna jämförelser publishes by name), not people: no threshold applies, but the
#: tables still pass through :func:`protect_linked` so that renderers only ever see protected
#: tables. See docs/methods.md.
SURVEY_RULES = DisclosureRules(min_count=1, min_denominator=1, secondary=False)

WILSON = "Wilson score interval"
MIN_QUARTILE_UNITS = 4
"""Fewer municipalities with a value than this: no quartiles for that indicator and year."""

Year = int | None | Literal["all"]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _level_of(units: pd.Series) -> np.ndarray:
    u = units.astype("str").to_numpy(dtype=object)
    lens = np.array([len(x) for x in u])
    return np.where(u == NATIONAL, LEVEL_RIKET, np.where(lens == 2, LEVEL_LAN, LEVEL_KOMMUN))


def _f(s: pd.Series) -> np.ndarray:
    """Float array with NaN for missing values."""
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _int_or_na(x: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Nullable integers from floats (NaN -> <NA>)."""
    return pd.Series(np.asarray(x, dtype="float64")).round().astype("Int64").array


def _ar_key(ar: pd.Series) -> np.ndarray:
    """Year as an integer join key, 0 for the whole period."""
    return pd.to_numeric(ar, errors="coerce").fillna(0).to_numpy(dtype=np.int64)


def _select_year(frame: pd.DataFrame, year: Year) -> pd.DataFrame:
    if isinstance(year, str):
        if year != "all":
            raise ValueError(f"year must be an int, None (whole period) or 'all', got {year!r}")
        return frame
    if year is None:
        return frame[frame["ar"].isna()]
    return frame[frame["ar"] == int(year)]


def _html(frame: pd.DataFrame) -> str:
    return frame.to_html(escape=True, index=False, na_rep=fmt.SUPPRESSED)


def _polarity(inds: IndicatorSet, ids: pd.Series) -> np.ndarray:
    pol = {i.id: i.polarity for i in inds}
    return ids.map(pol).to_numpy(dtype=object)


def _kind(inds: IndicatorSet, ids: pd.Series) -> np.ndarray:
    kind = {i.id: i.kind for i in inds}
    return ids.map(kind).to_numpy(dtype=object)


# --------------------------------------------------------------------------------------------
# Protection and published values
# --------------------------------------------------------------------------------------------


def protect_case_counts(linked: pd.DataFrame, *, rules: DisclosureRules) -> ProtectedTable:
    """Protect the case indicators' counts over the national linked set.

    ``linked`` is :func:`workbench.indicators.linked_counts` with ``by_year=False``: one group
    per indicator with the codes ``ja`` / ``nej`` for every municipality, county and the nation.
    The attribute rule applies: a unit where everyone (or no one) has the outcome is flagged,
    as in the follow-up report ("all 12 placements ended in breakdown" discloses).
    """
    return protect_linked(
        linked,
        unit=UNIT,
        hierarchy=hierarchy(),
        additive_codes=True,
        rules=rules,
        attribute_rule=True,
    )


def county_hierarchy() -> pd.DataFrame:
    """A hierarchy whose lowest level is the counties: counties add up to the nation."""
    counties = sorted(set(list_municipalities()["county_code"]))
    return pd.DataFrame({"kommun": counties, "lan": "00"})


def protect_series_counts(linked: pd.DataFrame, *, rules: DisclosureRules) -> ProtectedTable:
    """Protect yearly county and national counts (``linked_counts(by_year=True,
    units="counties")``), the counties being the lowest level of the linked set.

    Municipalities' yearly values are never published (see :func:`time_series`), so the yearly
    set is the counties and the nation only.
    """
    return protect_linked(
        linked,
        unit=UNIT,
        hierarchy=county_hierarchy(),
        additive_codes=True,
        rules=rules,
        attribute_rule=True,
    )


def protect_survey_counts(
    linked: pd.DataFrame, *, rules: DisclosureRules = SURVEY_RULES
) -> ProtectedTable:
    """Protect the survey counts (``linked_counts(by_year=True)`` of :func:`survey_counts`).

    With the default :data:`SURVEY_RULES` nothing is suppressed: the counts are municipalities,
    whose answers are public. Pass the report's rules to treat them like counts of people.
    """
    return protect_linked(
        linked,
        unit=UNIT,
        hierarchy=hierarchy(),
        additive_codes=True,
        rules=rules,
        attribute_rule=False,
    )


@dataclass(frozen=True, eq=False)
class PublishedValues:
    """Indicator values computed from the published cells of a protected table.

    Attributes
    ----------
    data
        One row per unit, indicator and year (``ar`` missing = the whole period): ``enhet``,
        ``niva`` (``kommun``, ``lan``, ``riket``), ``indikator``, ``ar``, ``n`` and
        ``denominator`` (``Int64``, missing where not published), ``share``, ``ci_low``,
        ``ci_high`` (95 % Wilson score interval; NaN unless ``status == "ok"``) and ``status``:
        ``ok`` (shown), ``suppressed`` (hidden by disclosure control), ``too_small``
        (denominator below the indicator's minimum) or ``no_data`` (denominator 0).
    kind
        ``"case"`` or ``"survey"``.
    rules
        The disclosure rules of the protected table.
    indicators
        The indicator definitions.
    level
        Confidence level of the intervals.
    """

    data: pd.DataFrame
    kind: str
    rules: DisclosureRules
    indicators: IndicatorSet
    level: float = 0.95
    method: str = WILSON

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()

    def _repr_html_(self) -> str:
        return _html(self.data.head(50))

    def years(self) -> list[int]:
        """Years with yearly rows, ascending."""
        return sorted(int(y) for y in self.data["ar"].dropna().unique())


def _group_values_of(f: pd.DataFrame) -> pd.DataFrame:
    """Numerator and denominator per unit and group from the ``ja`` rows of a protected table.

    Groups are ``<indicator>`` (whole period, ``ar`` missing) or ``<indicator>:<year>``.
    """
    yes = f[f["kod"] == YES]
    group = yes["variabel"].astype("str")
    has_year = group.str.contains(SEP, regex=False)
    parts = group.str.rsplit(SEP, n=1, expand=True)
    ident = np.where(has_year, parts[0], group)
    year = (
        pd.to_numeric(parts[1].where(has_year), errors="coerce")
        if parts.shape[1] > 1
        else (pd.Series(np.nan, index=yes.index))
    )
    return pd.DataFrame(
        {
            UNIT: yes[UNIT].to_numpy(),
            "variabel": ident,
            "ar": pd.array(year.to_numpy(), dtype="Float64").astype("Int64"),
            "_n": _f(yes["n"]),
            "_d": _f(yes["denominator"]),
        }
    )


def published_values(
    table: ProtectedTable,
    *,
    indicators: IndicatorSet | None = None,
    level: float = 0.95,
) -> PublishedValues:
    """Values, intervals and status of every unit and indicator, from published cells only.

    Reads :meth:`ProtectedTable.to_frame` (suppressed cells are missing there): the numerator
    is the ``ja`` cell and the denominator the group's denominator. A share is shown when both
    are published, the denominator reaches the indicator's ``min_denominator`` (and the rules'
    ``min_denominator``) and neither the numerator nor the rest of the denominator is a small
    count (a defensive check: the disclosure control already rules this out).

    Parameters
    ----------
    table
        Output of :func:`protect_case_counts`, :func:`protect_series_counts` or
        :func:`protect_survey_counts`.
    indicators
        Definitions (default :func:`workbench.indicators.load_indicators`).
    level
        Level of the Wilson score intervals.

    Returns
    -------
    PublishedValues
        ``ar`` is missing on whole-period rows.
    """
    if not isinstance(table, ProtectedTable):
        raise TypeError(
            "published_values() reads only ProtectedTable objects; pass the counts through "
            "protect_case_counts() or protect_survey_counts() first"
        )
    inds = indicators or load_indicators()
    f = table.to_frame()
    raw = _group_values_of(f)
    rules = table.rules
    ids = raw["variabel"]
    unknown = sorted(set(ids) - set(inds.indicators))
    if unknown:
        raise ValueError(
            f"protected table holds unknown indicator(s) {unknown}; see list_indicators()"
        )
    kinds = {inds.get(i).kind for i in set(ids)}
    if len(kinds) > 1:
        raise ValueError("protect case and survey indicators in separate tables")
    kind = kinds.pop() if kinds else "case"
    min_den = np.maximum(
        ids.map({i.id: i.min_denominator for i in inds}).to_numpy(dtype="float64"),
        float(rules.min_denominator),
    )
    n, d = raw["_n"].to_numpy(), raw["_d"].to_numpy()

    def small(x: np.ndarray) -> np.ndarray:
        return (x >= 1) & (x < rules.min_count)

    with np.errstate(invalid="ignore"):
        hidden = np.isnan(n) | np.isnan(d)
        tiny = ~hidden & (small(n) | small(d - n))
        status = np.select(
            [hidden, d == 0, tiny, d < min_den],
            [STATUS_SUPPRESSED, STATUS_NO_DATA, STATUS_SUPPRESSED, STATUS_TOO_SMALL],
            STATUS_OK,
        )
    ok = status == STATUS_OK
    n = np.where(tiny, np.nan, n)
    ci = stats.proportion_ci(np.where(ok, n, np.nan), np.where(ok, d, np.nan), level=level)
    out = pd.DataFrame(
        {
            UNIT: raw[UNIT].astype("str").to_numpy(),
            "niva": _level_of(raw[UNIT]),
            "indikator": ids.astype("str").to_numpy(),
            "ar": raw["ar"].to_numpy(),
            "n": _int_or_na(n),
            "denominator": _int_or_na(d),
            "share": ci["share"].to_numpy(),
            "ci_low": ci["ci_low"].to_numpy(),
            "ci_high": ci["ci_high"].to_numpy(),
            "status": status.astype(object),
        }
    )
    out["ar"] = out["ar"].astype("Int64")
    out["status"] = out["status"].astype("str")
    order = {i.id: k for k, i in enumerate(inds)}
    unit_rank = {u: k for k, u in enumerate(_unit_order())}
    out = out.assign(
        _u=out[UNIT].map(unit_rank), _i=out["indikator"].map(order), _a=_ar_key(out["ar"])
    ).sort_values(["_u", "_i", "_a"], kind="stable")
    out = out.drop(columns=["_u", "_i", "_a"]).reset_index(drop=True)
    return PublishedValues(data=out, kind=kind, rules=rules, indicators=inds, level=level)


def _unit_order() -> list[str]:
    from workbench.followup import all_units

    return all_units()


# --------------------------------------------------------------------------------------------
# Classification against a benchmark
# --------------------------------------------------------------------------------------------


def classify(
    *,
    status: np.ndarray,
    share: np.ndarray,
    ci_low: np.ndarray,
    ci_high: np.ndarray,
    benchmark: np.ndarray,
    polarity: np.ndarray,
    kind: np.ndarray | None = None,
) -> np.ndarray:
    """Classify values against benchmarks (vectorised), by polarity.

    Method (PHE Fingertips, "Technical guide: confidence intervals"; Public Health England
    2018): a value is *significantly higher* than the benchmark when the benchmark lies below the
    value's 95 % interval, *lower* when it lies above it, and *similar* otherwise. With
    ``polarity == "higher_better"`` higher is ``better``, with ``"lower_better"`` it is
    ``worse``; with ``"neither"`` the result stays ``higher``/``lower``. A value that is not shown
    (status other than ``ok``) is ``too_small`` (suppressed or below the minimum denominator) or
    ``missing`` (no data); a missing benchmark gives ``no_benchmark``. Survey values (kind
    ``"survey"``) are the municipality's own answer: ``yes``, ``no`` or ``not_answered``.

    Returns
    -------
    numpy.ndarray
        Class codes (keys of :data:`CLASS_SV`).
    """
    status = np.asarray(status, dtype=object)
    share = np.asarray(share, dtype="float64")
    lo = np.asarray(ci_low, dtype="float64")
    hi = np.asarray(ci_high, dtype="float64")
    bench = np.asarray(benchmark, dtype="float64")
    pol = np.asarray(polarity, dtype=object)
    with np.errstate(invalid="ignore"):
        higher = bench < lo
        lower = bench > hi
    up = np.where(
        pol == "higher_better", "better", np.where(pol == "lower_better", "worse", "higher")
    )
    down = np.where(
        pol == "higher_better", "worse", np.where(pol == "lower_better", "better", "lower")
    )
    out = np.where(higher, up, np.where(lower, down, "similar")).astype(object)
    out = np.where(np.isnan(bench), "no_benchmark", out)
    out = np.where(status == STATUS_NO_DATA, "missing", out)
    out = np.where((status == STATUS_SUPPRESSED) | (status == STATUS_TOO_SMALL), "too_small", out)
    if kind is not None:
        survey = np.asarray(kind, dtype=object) == "survey"
        answer = np.where(
            status == STATUS_NO_DATA,
            "not_answered",
            np.where(status != STATUS_OK, "too_small", np.where(share >= 0.5, "yes", "no")),
        )
        out = np.where(survey, answer, out)
    return out.astype(object)


@dataclass(frozen=True, eq=False)
class BenchmarkResult:
    """Each unit against its benchmarks (long form).

    ``data`` columns: ``enhet, indikator, ar, share, ci_low, ci_high, n, denominator, status,
    jamforelse`` (``lan``, ``riket`` or ``liknande``), ``jamforelse_enhet`` (county code,
    ``"0000"`` or the group's name), ``jamforelse_andel``, ``jamforelse_ci_low``,
    ``jamforelse_ci_high``, ``jamforelse_n``, ``jamforelse_denominator``, ``jamforelse_antal``
    (municipalities with published values behind a group value), ``klass`` (code) and
    ``klass_sv``.
    """

    data: pd.DataFrame
    level: float
    method: str = (
        "Fingertips: the benchmark outside the unit's 95 % Wilson score interval "
        "(PHE, Technical guide: confidence intervals)"
    )

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()

    def _repr_html_(self) -> str:
        cols = ["enhet", "indikator", "ar", "share", "jamforelse", "jamforelse_andel", "klass_sv"]
        return f"<p>{html.escape(self.method)}</p>" + _html(self.data[cols].head(50))

    def for_unit(self, unit: str) -> pd.DataFrame:
        return self.data[self.data[UNIT] == unit].reset_index(drop=True)


def _group_values(
    muni: pd.DataFrame,
    groups: SimilarGroups,
    inds: IndicatorSet,
    rules: DisclosureRules,
    level: float,
) -> pd.DataFrame:
    """Pooled value of each municipality's group, from its members' published counts."""
    codes = list(list_municipalities()["municipality_code"])
    known = (muni["n"].notna() & muni["denominator"].notna()).to_numpy()
    work = pd.DataFrame(
        {
            UNIT: muni[UNIT].to_numpy(),
            "indikator": muni["indikator"].to_numpy(),
            "_a": _ar_key(muni["ar"]),
            "_n": np.where(known, _f(muni["n"]), 0.0),
            "_d": np.where(known, _f(muni["denominator"]), 0.0),
            "_k": known.astype("float64"),
        }
    )
    wide = work.pivot_table(
        index=UNIT,
        columns=["indikator", "_a"],
        values=["_n", "_d", "_k"],
        aggfunc="sum",
        fill_value=0.0,
        dropna=False,
    )
    wide = wide.reindex(codes).fillna(0.0)
    m = groups.matrix()
    cols = wide["_n"].columns
    gn = m @ wide["_n"][cols].to_numpy()
    gd = m @ wide["_d"][cols].to_numpy()
    gk = m @ wide["_k"][cols].to_numpy()
    out = pd.DataFrame(
        {
            UNIT: np.repeat(np.array(codes, dtype=object), len(cols)),
            "indikator": np.tile(cols.get_level_values(0).to_numpy(dtype=object), len(codes)),
            "_a": np.tile(cols.get_level_values(1).to_numpy(dtype=np.int64), len(codes)),
            "jamforelse_n": gn.ravel(),
            "jamforelse_denominator": gd.ravel(),
            "jamforelse_antal": gk.ravel(),
        }
    )
    ci = stats.proportion_ci(out["jamforelse_n"], out["jamforelse_denominator"], level=level)
    min_den = out["indikator"].map({i.id: i.min_denominator for i in inds}).to_numpy()
    ok = out["jamforelse_denominator"].to_numpy() >= np.maximum(min_den, rules.min_denominator)
    out["jamforelse_andel"] = np.where(ok, ci["share"], np.nan)
    out["jamforelse_ci_low"] = np.where(ok, ci["ci_low"], np.nan)
    out["jamforelse_ci_high"] = np.where(ok, ci["ci_high"], np.nan)
    out["jamforelse_enhet"] = groups.label_of(out[UNIT])
    return out


def benchmarks(
    values: PublishedValues,
    *,
    groups: SimilarGroups | None = None,
    year: Year = None,
    units: Literal["kommun", "lan"] = "kommun",
    level: float | None = None,
) -> BenchmarkResult:
    """Every municipality (or county) against its benchmarks, classified by polarity.

    Benchmarks: for municipalities the county, the nation and (when ``groups`` is given) the
    pooled value of its group of similar municipalities; for counties the nation. The group
    value sums the published numerators and denominators of the group's members (members whose
    counts are suppressed are left out, so the group value is computable from what is
    published). Classification: :func:`classify`. The county and national values include the
    municipality itself, as in Fingertips; the group of similar municipalities does not.

    Parameters
    ----------
    values
        :func:`published_values`.
    groups
        :func:`similar_municipalities` or :func:`load_kommungrupper` groups.
    year
        A year, ``None`` for the whole period, or ``"all"`` for every year and the period.
    units
        ``"kommun"`` or ``"lan"``.
    level
        Interval level of the group values (default: that of ``values``).

    Returns
    -------
    BenchmarkResult
    """
    level = values.level if level is None else level
    inds = values.indicators
    sel = _select_year(values.data, year).assign(_a=lambda x: _ar_key(x["ar"]))
    base = sel[sel["niva"] == units].reset_index(drop=True)
    ref_cols = [UNIT, "indikator", "_a", "share", "ci_low", "ci_high", "n", "denominator"]
    ref = sel[ref_cols].rename(
        columns={
            UNIT: "jamforelse_enhet",
            "share": "jamforelse_andel",
            "ci_low": "jamforelse_ci_low",
            "ci_high": "jamforelse_ci_high",
            "n": "jamforelse_n",
            "denominator": "jamforelse_denominator",
        }
    )
    # a benchmark value that is not shown (status not ok) is no benchmark
    ref_ok = sel["status"].to_numpy() == STATUS_OK
    ref.loc[~ref_ok, ["jamforelse_andel", "jamforelse_ci_low", "jamforelse_ci_high"]] = np.nan
    frames = []
    targets: list[tuple[str, np.ndarray]] = [("riket", np.full(len(base), NATIONAL, dtype=object))]
    if units == "kommun":
        lan = base[UNIT].str.slice(0, 2).to_numpy(dtype=object)
        targets.insert(0, ("lan", lan))
    for name, target in targets:
        b = base.assign(jamforelse=name, jamforelse_enhet=target)
        b = b.merge(ref, on=["jamforelse_enhet", "indikator", "_a"], how="left")
        b["jamforelse_antal"] = np.nan
        frames.append(b)
    if groups is not None and units == "kommun":
        gv = _group_values(sel[sel["niva"] == LEVEL_KOMMUN], groups, inds, values.rules, level)
        b = base.assign(jamforelse="liknande").merge(gv, on=[UNIT, "indikator", "_a"], how="left")
        frames.append(b)
    out = pd.concat(frames, ignore_index=True)
    out["klass"] = classify(
        status=out["status"].to_numpy(),
        share=_f(out["share"]),
        ci_low=_f(out["ci_low"]),
        ci_high=_f(out["ci_high"]),
        benchmark=_f(out["jamforelse_andel"]),
        polarity=_polarity(inds, out["indikator"]),
        kind=_kind(inds, out["indikator"]),
    )
    out["klass_sv"] = out["klass"].map(CLASS_SV)
    order = {"lan": 0, "riket": 1, "liknande": 2}
    ind_order = {i.id: k for k, i in enumerate(inds)}
    unit_rank = {u: k for k, u in enumerate(_unit_order())}
    out = out.assign(
        _u=out[UNIT].map(unit_rank),
        _i=out["indikator"].map(ind_order),
        _j=out["jamforelse"].map(order),
    ).sort_values(["_u", "_i", "_a", "_j"], kind="stable")
    cols = [
        UNIT,
        "indikator",
        "ar",
        "share",
        "ci_low",
        "ci_high",
        "n",
        "denominator",
        "status",
        "jamforelse",
        "jamforelse_enhet",
        "jamforelse_andel",
        "jamforelse_ci_low",
        "jamforelse_ci_high",
        "jamforelse_n",
        "jamforelse_denominator",
        "jamforelse_antal",
        "klass",
        "klass_sv",
    ]
    out = out[cols].reset_index(drop=True)
    for c in ("jamforelse", "jamforelse_enhet", "klass", "klass_sv"):
        out[c] = out[c].astype("str")
    return BenchmarkResult(data=out, level=level)


# --------------------------------------------------------------------------------------------
# Quartiles
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class QuartileResult:
    """Quartile group of every unit's value (Öppna jämförelser / Kolada colouring).

    ``data`` columns: ``enhet, indikator, ar, share, status, q25, q75, kvartil`` (code: ``best``,
    ``middle``, ``worst``; ``high``, ``middle``, ``low`` for polarity ``neither``; ``missing``;
    survey answers ``yes``, ``no``, ``not_answered``) and ``kvartil_sv``.
    """

    data: pd.DataFrame
    method: str = (
        "Quartiles (numpy linear interpolation) of the shown values of all units of the level; "
        "values on a quartile limit belong to the outer group"
    )

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()

    def _repr_html_(self) -> str:
        return _html(self.data.head(50))


def quartiles(
    values: PublishedValues, *, year: Year = None, units: Literal["kommun", "lan"] = "kommun"
) -> QuartileResult:
    """Best 25 % / middle 50 % / worst 25 % of the units' shown values, by polarity.

    The first and third quartiles ``q25`` and ``q75`` are computed per indicator and year over
    the units of the level whose value is shown (status ``ok``; at least
    :data:`MIN_QUARTILE_UNITS`). For ``higher_better`` a value ``>= q75`` is ``best`` and
    ``<= q25`` ``worst``; ``lower_better`` the reverse; ``neither`` gives ``high`` / ``low``.
    A value that is not shown is ``missing``. Survey indicators show the unit's own answer
    (``yes`` / ``no`` / ``not_answered``), as Öppna jämförelser colours them.
    """
    inds = values.indicators
    sel = _select_year(values.data, year)
    sel = sel[sel["niva"] == units].reset_index(drop=True)
    ok = sel["status"] == STATUS_OK
    key = ["indikator", "_a"]
    work = sel.assign(_a=_ar_key(sel["ar"]), _s=_f(sel["share"]).copy())
    shown = work[ok.to_numpy()]
    g = shown.groupby(key, sort=False)["_s"]
    q = pd.DataFrame(
        {"q25": g.quantile(0.25), "q75": g.quantile(0.75), "_cnt": g.size()}
    ).reset_index()
    q.loc[q["_cnt"] < MIN_QUARTILE_UNITS, ["q25", "q75"]] = np.nan
    work = work.merge(q.drop(columns="_cnt"), on=key, how="left")
    s, q25, q75 = work["_s"].to_numpy(), _f(work["q25"]), _f(work["q75"])
    pol = _polarity(inds, work["indikator"])
    with np.errstate(invalid="ignore"):
        top, bottom = s >= q75, s <= q25
    hi = np.where(pol == "higher_better", "best", np.where(pol == "lower_better", "worst", "high"))
    lo = np.where(pol == "higher_better", "worst", np.where(pol == "lower_better", "best", "low"))
    code = np.where(top, hi, np.where(bottom, lo, "middle")).astype(object)
    code = np.where(np.isnan(q25) | ~ok.to_numpy() | np.isnan(s), "missing", code)
    survey = _kind(inds, work["indikator"]) == "survey"
    st = work["status"].to_numpy()
    answer = np.where(
        st == STATUS_NO_DATA,
        "not_answered",
        np.where(st != STATUS_OK, "missing", np.where(s >= 0.5, "yes", "no")),
    )
    code = np.where(survey, answer, code)
    work["kvartil"] = pd.array(code.astype(str), dtype="str")
    work["kvartil_sv"] = work["kvartil"].map(QUARTILE_SV).astype("str")
    cols = [UNIT, "indikator", "ar", "share", "status", "q25", "q75", "kvartil", "kvartil_sv"]
    return QuartileResult(data=work[cols].reset_index(drop=True))


# --------------------------------------------------------------------------------------------
# Funnel plots
# --------------------------------------------------------------------------------------------

FunnelMethod = Literal["exact", "wilson", "normal"]
Adjustment = Literal["auto", "none", "multiplicative", "additive"]
FUNNEL_METHOD_SV = {
    "exact": "exakta binomialgränser (Spiegelhalter 2005, med interpolation)",
    "wilson": "Wilsongränser (PHE Fingertips)",
    "normal": "normalapproximation (Spiegelhalter 2005)",
}


def funnel_limits(
    target: float,
    denominators: Any,
    *,
    level: float = 0.95,
    method: FunnelMethod = "exact",
    phi: float = 1.0,
    tau2: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper funnel-plot control limits for a proportion around ``target``.

    Methods
    -------
    ``"exact"``
        Exact binomial limits with Spiegelhalter's interpolation (Spiegelhalter 2005, "Funnel
        plots for comparing institutional performance", Stat Med 24:1185-1202, appendix A.1.1):
        with ``r_p`` the smallest count with ``P(R <= r_p) >= p`` under Binomial(n, target),
        ``alpha = (P(R <= r_p) - p) / P(R = r_p)`` and the limit ``(r_p - alpha) / n``, for
        ``p = (1 - level) / 2`` and ``1 - (1 - level) / 2``.
    ``"wilson"``
        The proportions whose Wilson score interval just reaches ``target`` (PHE Fingertips
        funnel method, as in the ``PHEindicatormethods`` R package): consistent with
        classifying a value by whether the benchmark lies in its Wilson interval.
    ``"normal"``
        ``target ± z sqrt(phi target (1 - target) / n + tau2)``: the normal approximation, with
        Spiegelhalter's multiplicative (``phi``) or additive random-effects (``tau2``)
        overdispersion adjustment. ``phi`` and ``tau2`` are only used by this method.

    Limits are clipped to [0, 1]; a denominator of 0 gives NaN.
    """
    n = np.asarray(denominators, dtype="float64")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    if method not in FUNNEL_METHOD_SV:
        raise ValueError(f"unknown funnel method {method!r}; use {list(FUNNEL_METHOD_SV)}")
    if (phi != 1.0 or tau2 != 0.0) and method != "normal":
        raise ValueError("overdispersion adjustments (phi, tau2) need method='normal'")
    p0 = float(target)
    alpha = (1 - level) / 2
    z = float(sps.norm.ppf(1 - alpha))
    valid = n > 0
    safe = np.where(valid, n, 1.0)
    if method == "normal":
        half = z * np.sqrt(phi * p0 * (1 - p0) / safe + tau2)
        lo, hi = p0 - half, p0 + half
    elif method == "wilson":
        c = z * z / safe
        lo = _wilson_lower(p0, c)
        hi = _wilson_upper(p0, c)
    else:
        lo = _binomial_limit(p0, safe, alpha)
        hi = _binomial_limit(p0, safe, 1 - alpha)
    lo = np.where(valid, np.clip(lo, 0.0, 1.0), np.nan)
    hi = np.where(valid, np.clip(hi, 0.0, 1.0), np.nan)
    return lo, hi


def _wilson_upper(p0: float, c: np.ndarray) -> np.ndarray:
    """Upper funnel limit: the share whose Wilson lower limit equals ``p0``."""
    return 1.0 - _wilson_lower(1.0 - p0, c)


def _wilson_lower(p0: float, c: np.ndarray) -> np.ndarray:
    """Lower funnel limit: the share whose Wilson upper limit equals ``p0``.

    The Wilson upper limit of an observed share ``p`` with ``c = z^2 / n`` is
    ``(p + c/2 + sqrt(c p (1 - p) + c^2 / 4)) / (1 + c)``. Setting it to ``p0`` and squaring
    gives ``(1 + c) p^2 - (2k + c) p + (k^2 - c^2/4) = 0`` with ``k = p0 (1 + c) - c/2``; the
    smaller root is the limit (it is negative, hence clipped to 0, for tiny ``n``).
    """
    k = p0 * (1 + c) - c / 2
    disc = (2 * k + c) ** 2 - 4 * (1 + c) * (k * k - c * c / 4)
    return ((2 * k + c) - np.sqrt(np.maximum(disc, 0.0))) / (2 * (1 + c))


def _binomial_limit(p0: float, n: np.ndarray, p: float) -> np.ndarray:
    if p0 <= 0 or p0 >= 1:
        return np.full(n.shape, p0)
    r = sps.binom.ppf(p, n, p0)
    f_r = sps.binom.cdf(r, n, p0)
    f_below = sps.binom.cdf(r - 1, n, p0)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(f_r > f_below, (f_r - p) / (f_r - f_below), 0.0)
    return (r - alpha) / n


@dataclass(frozen=True)
class Overdispersion:
    """Spiegelhalter's (2005) overdispersion estimate for proportions around a target.

    Attributes
    ----------
    phi
        Multiplicative overdispersion: the mean squared winsorised z-score.
    tau2
        Additive random-effects variance (DerSimonian-Laird form on the proportion scale).
    n_units
        Units used.
    statistic, critical
        ``n_units * phi`` and the ``level`` quantile of chi-square with ``n_units - 1`` df.
    present
        ``statistic > critical``: the data vary more than binomial chance allows.
    winsor
        Share winsorised in each tail (0.10 as in Spiegelhalter 2005).
    """

    phi: float
    tau2: float
    n_units: int
    statistic: float
    critical: float
    present: bool
    winsor: float

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])

    def _repr_html_(self) -> str:
        return _html(self.to_frame())


def overdispersion(
    successes: Any,
    trials: Any,
    target: float,
    *,
    winsor: float = 0.10,
    level: float = 0.95,
) -> Overdispersion:
    """Estimate overdispersion of proportions around ``target`` (Spiegelhalter 2005, §5-6).

    With ``z_i = (y_i - t) / sqrt(t (1 - t) / n_i)``, winsorised at the ``winsor`` and
    ``1 - winsor`` quantiles of the z-scores: ``phi = sum z_w^2 / I``. Overdispersion is
    *present* when ``I phi`` exceeds the ``level`` quantile of chi-square on ``I - 1`` degrees of
    freedom. The additive random-effects variance is
    ``tau2 = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w))`` with
    ``w_i = n_i / (t (1 - t))`` (Spiegelhalter 2005, eq. for the additive model; also
    Spiegelhalter et al. 2012, JRSS A 175:1-47).
    """
    x = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    keep = ~np.isnan(x) & ~np.isnan(n) & (n > 0)
    x, n = x[keep], n[keep]
    t = float(target)
    units = int(len(n))
    if units < 2 or not 0 < t < 1:
        return Overdispersion(1.0, 0.0, units, float("nan"), float("nan"), False, winsor)
    s2 = t * (1 - t) / n
    z = (x / n - t) / np.sqrt(s2)
    lo, hi = np.quantile(z, [winsor, 1 - winsor])
    zw = np.clip(z, lo, hi)
    phi = float(np.sum(zw * zw) / units)
    w = 1 / s2
    stat = units * phi
    crit = float(sps.chi2.ppf(level, units - 1))
    tau2 = max(0.0, (stat - (units - 1)) / (w.sum() - (w * w).sum() / w.sum()))
    return Overdispersion(phi, float(tau2), units, float(stat), crit, bool(stat > crit), winsor)


POSITION_SV = {
    "above_998": f"Över 99,8{fmt.NBSP}%-gränsen",
    "above_95": f"Över 95{fmt.NBSP}%-gränsen",
    "inside": "Inom gränserna",
    "below_95": f"Under 95{fmt.NBSP}%-gränsen",
    "below_998": f"Under 99,8{fmt.NBSP}%-gränsen",
}


@dataclass(frozen=True, eq=False)
class FunnelResult:
    """A funnel plot's data: points, control limits and the overdispersion estimate.

    Attributes
    ----------
    indicator, year
        What is plotted (``year`` None: the whole period).
    target
        The national value (the centre line); NaN when it is not published.
    points
        ``enhet, n, denominator, share, lower_95, upper_95, lower_998, upper_998, position``
        (``above_998`` … ``below_998``, see :data:`POSITION_SV`), ``position_sv`` and ``klass``
        (outside the 95 % limits: better / worse by polarity, else similar).
    limits
        The curves: ``denominator, lower_95, upper_95, lower_998, upper_998``.
    method
        ``exact``, ``wilson`` or ``normal``; with an overdispersion adjustment, ``normal``.
    adjustment
        ``none``, ``multiplicative`` or ``additive``.
    dispersion
        :class:`Overdispersion`.
    """

    indicator: str
    year: int | None
    target: float
    points: pd.DataFrame
    limits: pd.DataFrame
    method: str
    adjustment: str
    dispersion: Overdispersion
    levels: tuple[float, float] = (0.95, 0.998)

    def to_frame(self) -> pd.DataFrame:
        return self.points.copy()

    def _repr_html_(self) -> str:
        head = (
            f"<p>Trattdiagram {html.escape(self.indicator)}: {html.escape(FUNNEL_METHOD_SV[self.method])}, "
            f"överspridning {html.escape(self.adjustment)}</p>"
        )
        return head + _html(self.points.head(50))

    @property
    def method_sv(self) -> str:
        text = FUNNEL_METHOD_SV[self.method]
        if self.adjustment == "additive":
            text += ", justerade för överspridning (additiv slumpeffekt)"
        elif self.adjustment == "multiplicative":
            text += ", justerade för överspridning (multiplikativ faktor)"
        return text


def funnel(
    values: PublishedValues,
    *,
    indicator: str,
    year: int | None = None,
    units: Literal["kommun", "lan"] = "kommun",
    method: FunnelMethod = "exact",
    adjustment: Adjustment = "auto",
    levels: tuple[float, float] = (0.95, 0.998),
    grid: int = 120,
) -> FunnelResult:
    """Funnel plot of one indicator: shown values against their denominators, with limits.

    The centre line is the national value. Points are the units whose value is shown.
    ``adjustment="auto"`` (default) tests for overdispersion (:func:`overdispersion`) and, where
    it is present, widens the limits by Spiegelhalter's additive random-effects model (normal
    limits ``t ± z sqrt(t(1-t)/n + tau2)``); otherwise the limits are ``method``'s.
    ``"multiplicative"`` and ``"additive"`` apply that adjustment where overdispersion is
    present; ``"none"`` never adjusts.
    """
    inds = values.indicators
    ind = inds.get(indicator)
    sel = _select_year(values.data, year)
    sel = sel[sel["indikator"] == ind.id]
    nat = sel[(sel[UNIT] == NATIONAL) & (sel["status"] == STATUS_OK)]
    target = float(nat["share"].iloc[0]) if len(nat) else float("nan")
    pts = sel[(sel["niva"] == units) & (sel["status"] == STATUS_OK)].reset_index(drop=True)
    n, d = _f(pts["n"]), _f(pts["denominator"])
    disp = overdispersion(n, d, target) if np.isfinite(target) else overdispersion([], [], 0.5)
    adj = "none"
    if adjustment in ("auto", "additive", "multiplicative") and disp.present:
        adj = "additive" if adjustment == "auto" else adjustment
    elif adjustment not in ("auto", "none", "additive", "multiplicative"):
        raise ValueError(f"unknown adjustment {adjustment!r}")
    used = "normal" if adj != "none" else method
    kw: dict[str, float] = {}
    if adj == "multiplicative":
        kw["phi"] = disp.phi
    elif adj == "additive":
        kw["tau2"] = disp.tau2
    top = max(float(np.nanmax(d)) if len(d) else 10.0, 10.0) * 1.05
    curve_n = np.unique(np.round(np.geomspace(1, top, grid)))
    limits = pd.DataFrame({"denominator": curve_n})
    point_limits = {}
    for lvl, tag in zip(levels, ("95", "998"), strict=True):
        if np.isfinite(target):
            lo, hi = funnel_limits(target, curve_n, level=lvl, method=used, **kw)
            plo, phi_ = funnel_limits(target, d, level=lvl, method=used, **kw)
        else:
            lo = hi = np.full(len(curve_n), np.nan)
            plo = phi_ = np.full(len(d), np.nan)
        limits[f"lower_{tag}"], limits[f"upper_{tag}"] = lo, hi
        point_limits[f"lower_{tag}"], point_limits[f"upper_{tag}"] = plo, phi_
    s = _f(pts["share"])
    with np.errstate(invalid="ignore"):
        position = np.select(
            [
                s > point_limits["upper_998"],
                s > point_limits["upper_95"],
                s < point_limits["lower_998"],
                s < point_limits["lower_95"],
            ],
            ["above_998", "above_95", "below_998", "below_95"],
            "inside",
        )
    position = np.where(np.isnan(point_limits["upper_95"]), "inside", position)
    pol = ind.polarity
    up = {"higher_better": "better", "lower_better": "worse"}.get(pol, "higher")
    down = {"higher_better": "worse", "lower_better": "better"}.get(pol, "lower")
    klass = np.where(
        np.isin(position, ["above_95", "above_998"]),
        up,
        np.where(np.isin(position, ["below_95", "below_998"]), down, "similar"),
    )
    points = pd.DataFrame(
        {
            UNIT: pts[UNIT].to_numpy(),
            "n": pts["n"].to_numpy(),
            "denominator": pts["denominator"].to_numpy(),
            "share": s,
            **point_limits,
            "position": position.astype(str),
        }
    )
    points["position_sv"] = points["position"].map(POSITION_SV)
    points["klass"] = klass.astype(str)
    points["klass_sv"] = points["klass"].map(CLASS_SV)
    return FunnelResult(
        indicator=ind.id,
        year=year,
        target=target,
        points=points,
        limits=limits,
        method=used,
        adjustment=adj,
        dispersion=disp,
        levels=levels,
    )


# --------------------------------------------------------------------------------------------
# Similar municipalities
# --------------------------------------------------------------------------------------------

DEFAULT_K = 10
#: Weights of the standardised features in the distance between municipalities.
DEFAULT_WEIGHTS: Mapping[str, float] = {"log_barn": 1.0, "log_registreringar": 1.0}
FEATURES_SV: dict[str, str] = {
    "log_barn": "antal barn med minst en registrering (logaritm; mått på barnbefolkningens storlek)",
    "log_registreringar": "antal uppföljningsregistreringar (logaritm; ärendevolym)",
    "andel_placering": "andel registreringar som gäller placeringar (ärendemix)",
}
KOMMUNGRUPP_FILE = "kommungrupper.csv"
KOMMUNGRUPP_COLUMNS = ("kommun", "grupp")


def municipality_features(
    registrations: pd.DataFrame, *, years: tuple[int, int], by_year: bool = False
) -> pd.DataFrame:
    """Size and case-volume features per municipality (and year), for choosing neighbours.

    The data hold no population, so the number of distinct children with a registration stands
    in for the size of the child population; the number of registrations measures case volume;
    the share of registrations about placements describes the case mix. Features are computed
    from the unprotected data and never published; only the resulting groups are.

    Returns
    -------
    pandas.DataFrame
        ``kommun`` (all 290), ``ar`` (when ``by_year``), ``barn``, ``registreringar``,
        ``andel_placering``, ``log_barn``, ``log_registreringar``.
    """
    reg = registrations[registrations["ar"].between(years[0], years[1])]
    keys = ["kommun", "ar"] if by_year else ["kommun"]
    placed = (reg["insatsgrupp"] == "placering").fillna(False).astype("int64")
    g = reg.assign(_p=placed).groupby(keys, observed=True)
    feat = pd.DataFrame(
        {
            "barn": g["barn_id"].nunique(),
            "registreringar": g.size(),
            "_p": g["_p"].sum(),
        }
    )
    codes = list(list_municipalities()["municipality_code"])
    if by_year:
        idx = pd.MultiIndex.from_product(
            [codes, range(years[0], years[1] + 1)], names=["kommun", "ar"]
        )
    else:
        idx = pd.Index(codes, name="kommun")
    feat = feat.reindex(idx, fill_value=0).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        feat["andel_placering"] = np.where(
            feat["registreringar"] > 0, feat["_p"] / feat["registreringar"], 0.0
        )
    feat["log_barn"] = np.log1p(feat["barn"].astype("float64"))
    feat["log_registreringar"] = np.log1p(feat["registreringar"].astype("float64"))
    return feat.drop(columns="_p")


@dataclass(frozen=True, eq=False)
class SimilarGroups:
    """Each municipality's group of similar municipalities.

    Attributes
    ----------
    members
        ``kommun, medlem, rang, avstand`` (rank and distance for the data-driven choice; missing
        for a user classification).
    method
        ``"data"`` (nearest neighbours) or ``"kommungrupp"`` (user-provided classification).
    k
        Group size of the data-driven choice.
    weights
        Feature weights of the data-driven choice.
    group_of
        For a user classification: municipality -> group name.
    source
        Where the groups come from (years of data or the file).
    """

    members: pd.DataFrame
    method: str
    k: int | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    group_of: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    def to_frame(self) -> pd.DataFrame:
        return self.members.copy()

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.description_sv())}</p>" + _html(self.members.head(50))

    def members_of(self, kommun: str) -> list[str]:
        """The group of one municipality (itself excluded), nearest first."""
        return self.members.loc[self.members["kommun"] == kommun, "medlem"].tolist()

    def matrix(self) -> np.ndarray:
        """290 x 290 0/1 matrix: row = municipality, column = member of its group."""
        codes = list(list_municipalities()["municipality_code"])
        pos = {c: i for i, c in enumerate(codes)}
        m = np.zeros((len(codes), len(codes)))
        rows = self.members["kommun"].map(pos).to_numpy()
        cols = self.members["medlem"].map(pos).to_numpy()
        m[rows, cols] = 1.0
        return m

    def label_of(self, kommun: pd.Series) -> np.ndarray:
        """Name of each municipality's comparison group (for tables)."""
        if self.method == "kommungrupp":
            return kommun.map(self.group_of).fillna("").to_numpy(dtype=object)
        return np.full(len(kommun), f"{self.k} liknande kommuner", dtype=object)

    def description_sv(self) -> str:
        """The method in Swedish, for the report appendix."""
        if self.method == "kommungrupp":
            return (
                "Liknande kommuner är kommunerna i samma kommungrupp enligt den indelning som "
                f"användaren lagt in ({self.source}), utom kommunen själv."
            )
        feats = "; ".join(
            f"{FEATURES_SV[f]} med vikt {fmt.format_number(w, 1)}"
            for f, w in self.weights.items()
            if w
        )
        return (
            f"Liknande kommuner är de {self.k} kommuner som ligger närmast kommunen på: {feats}. "
            "Varje variabel standardiseras (medelvärde 0 och standardavvikelse 1 över landets "
            "290 kommuner) och avståndet är det viktade euklidiska avståndet. Lika avstånd "
            f"avgörs av kommunkoden. Underlag: {self.source}. SKR:s kommungruppsindelning "
            "används i stället om den finns i data/reference/kommungrupper.csv."
        )


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    return np.where(sd > 0, (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)


def similar_municipalities(
    features: pd.DataFrame,
    *,
    k: int = DEFAULT_K,
    weights: Mapping[str, float] | None = None,
    source: str = "",
) -> SimilarGroups:
    """The ``k`` nearest municipalities of each municipality (data-driven similar group).

    Each feature is standardised over the municipalities (mean 0, SD 1); the distance is
    ``sqrt(sum_f w_f (z_if - z_jf)^2)``. A municipality is not its own neighbour; ties are
    broken by municipality code, so the choice is deterministic.

    Parameters
    ----------
    features
        :func:`municipality_features` (one row per municipality).
    k
        Group size (default 10).
    weights
        Feature -> weight (default :data:`DEFAULT_WEIGHTS`); features are keys of
        :data:`FEATURES_SV`.
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = sorted(set(weights) - set(FEATURES_SV))
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; choose among {list(FEATURES_SV)}")
    if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
        raise ValueError("weights must be non-negative and at least one positive")
    codes = features["kommun"].astype("str").to_numpy(dtype=object)
    if len(set(codes)) != len(codes):
        raise ValueError("features must have one row per municipality (pass by_year=False)")
    if not 1 <= k < len(codes):
        raise ValueError(f"k must be between 1 and {len(codes) - 1}, got {k}")
    names = [f for f, w in weights.items() if w > 0]
    z = _standardise(features[names].to_numpy(dtype="float64"))
    w = np.array([weights[f] for f in names])
    diff = z[:, None, :] - z[None, :, :]
    dist = np.sqrt((diff * diff * w).sum(axis=2))
    np.fill_diagonal(dist, np.inf)
    rank_code = np.argsort(np.argsort(codes))
    order = np.lexsort((np.broadcast_to(rank_code, dist.shape), dist), axis=1)[:, :k]
    rows = np.repeat(np.arange(len(codes)), k)
    cols = order.ravel()
    members = pd.DataFrame(
        {
            "kommun": codes[rows],
            "medlem": codes[cols],
            "rang": np.tile(np.arange(1, k + 1), len(codes)),
            "avstand": dist[rows, cols],
        }
    ).astype({"kommun": "str", "medlem": "str"})
    return SimilarGroups(members=members, method="data", k=k, weights=weights, source=source)


def load_kommungrupper(path: str | Path | None = None) -> SimilarGroups | None:
    """SKR's kommungruppsindelning (or any classification) from a CSV file, if it exists.

    The file (default ``data/reference/kommungrupper.csv``, not bundled) is UTF-8 with the
    columns ``kommun`` (4-character code, e.g. ``0180``) and ``grupp`` (group name, e.g.
    ``A1 Storstäder``), one row per municipality. A municipality's similar municipalities are
    the others in its group. Municipalities missing from the file get no group (logged).

    Returns
    -------
    SimilarGroups or None
        None when the file does not exist.

    Raises
    ------
    ValueError
        Wrong columns, unknown or duplicated codes, or empty group names.
    """
    p = Path(path) if path is not None else paths.reference_dir() / KOMMUNGRUPP_FILE
    if not p.is_file():
        return None
    raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    if tuple(raw.columns) != KOMMUNGRUPP_COLUMNS:
        raise ValueError(
            f"{p.name}: expected the columns {list(KOMMUNGRUPP_COLUMNS)}, found "
            f"{list(raw.columns)}"
        )
    try:
        codes = [normalise_kommun(c, allow_national=False) for c in raw["kommun"]]
    except InvalidCodeError as exc:
        raise ValueError(f"{p.name}: {exc}") from None
    if len(set(codes)) != len(codes):
        raise ValueError(f"{p.name}: a municipality is listed more than once")
    groups = raw["grupp"].str.strip()
    if (groups == "").any():
        raise ValueError(f"{p.name}: every municipality needs a group name in column grupp")
    group_of = dict(zip(codes, groups, strict=True))
    missing = sorted(set(list_municipalities()["municipality_code"]) - set(group_of))
    if missing:
        logger.warning("%s: %d municipalities have no group", p.name, len(missing))
    frame = pd.DataFrame({"kommun": codes, "grupp": groups.to_numpy()})
    pairs = frame.merge(frame, on="grupp", suffixes=("", "_m"))
    pairs = pairs[pairs["kommun"] != pairs["kommun_m"]]
    members = pd.DataFrame(
        {
            "kommun": pairs["kommun"].to_numpy(),
            "medlem": pairs["kommun_m"].to_numpy(),
            "rang": np.nan,
            "avstand": np.nan,
        }
    ).astype({"kommun": "str", "medlem": "str"})
    members = members.sort_values(["kommun", "medlem"]).reset_index(drop=True)
    return SimilarGroups(members=members, method="kommungrupp", group_of=group_of, source=p.name)


def group_stability(
    registrations: pd.DataFrame,
    *,
    years: tuple[int, int],
    k: int = DEFAULT_K,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """How much each municipality's data-driven group changes from one year to the next.

    Groups are chosen per year (:func:`similar_municipalities` on that year's features); the
    overlap in a year is the share of the previous year's group that is still in the group.

    Returns
    -------
    pandas.DataFrame
        ``kommun, ar, overlap`` (NaN in the first year) and ``n_common``.
    """
    feat = municipality_features(registrations, years=years, by_year=True)
    prev: dict[str, set[str]] | None = None
    rows = []
    for year in range(years[0], years[1] + 1):
        g = similar_municipalities(
            feat[feat["ar"] == year].reset_index(drop=True), k=k, weights=weights
        )
        cur = g.members.groupby("kommun")["medlem"].agg(set).to_dict()
        common = {c: len(cur[c] & prev[c]) if prev else np.nan for c in cur}
        rows.append(
            pd.DataFrame(
                {
                    "kommun": list(cur),
                    "ar": year,
                    "n_common": [common[c] for c in cur],
                    "overlap": [common[c] / k if prev else np.nan for c in cur],
                }
            )
        )
        prev = cur
    return pd.concat(rows, ignore_index=True).astype({"kommun": "str"})


# --------------------------------------------------------------------------------------------
# Survey tables and case data against the survey
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SurveyCountyTable:
    """Share of municipalities answering yes, per county and nationally, per question and year.

    ``data`` columns: ``enhet`` (county code or ``"0000"``), ``niva``, ``indikator``, ``ar``,
    ``n`` (municipalities answering yes), ``denominator`` (municipalities that answered),
    ``kommuner`` (municipalities in the unit), ``share`` and ``status``.
    """

    data: pd.DataFrame
    rules: DisclosureRules

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()

    def _repr_html_(self) -> str:
        return _html(self.data.head(50))


def survey_county_table(
    values: PublishedValues, *, years: tuple[int, int] | None = None
) -> SurveyCountyTable:
    """The survey's county and national table (the share among municipalities that answered)."""
    if values.kind != "survey":
        raise ValueError("survey_county_table() needs published survey values")
    d = values.data[values.data["niva"] != LEVEL_KOMMUN]
    if years is not None:
        d = d[d["ar"].between(years[0], years[1])]
    m = list_municipalities()
    size = m.groupby("county_code").size().to_dict() | {NATIONAL: len(m)}
    d = d.assign(kommuner=d[UNIT].map(size).astype("int64"))
    cols = [UNIT, "niva", "indikator", "ar", "n", "denominator", "kommuner", "share", "status"]
    return SurveyCountyTable(data=d[cols].reset_index(drop=True), rules=values.rules)


@dataclass(frozen=True, eq=False)
class CaseSurveyResult:
    """Case-based values beside the municipality's own survey answer, with mismatch flags.

    ``data`` columns: ``enhet, ar, enkat`` (survey indicator), ``arende`` (case indicator),
    ``svar`` (``yes``, ``no``, ``not_answered``), ``share``, ``ci_low``, ``ci_high``,
    ``denominator``, ``status``, ``expected_share``, ``flagga`` (``consistent``, ``mismatch``,
    ``too_small``, ``not_answered``) and ``flagga_sv``.
    """

    data: pd.DataFrame
    links: tuple[Link, ...]

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()

    def _repr_html_(self) -> str:
        return _html(self.data.head(50))


FLAG_SV = {
    "consistent": "Stämmer",
    "mismatch": "Avviker – pröva definitionen",
    "too_small": "För litet underlag",
    "not_answered": "Enkäten ej besvarad",
}


def case_vs_survey(
    case: PublishedValues,
    survey: PublishedValues,
    *,
    year: int | None = None,
    links: Sequence[Link] | None = None,
    units: Iterable[str] | None = None,
) -> CaseSurveyResult:
    """Put a case indicator beside the survey answer that speaks of the same thing.

    The case value is the whole period's (``case`` rows with ``ar`` missing); the survey answer
    is the municipality's answer in ``year`` (default: the last survey year with answers up to
    the case period's end). For each link (``indicators.yaml`` ``links:``): with the answer
    ``ja`` the case share is expected to reach ``expected_share``, and the pair is a
    *mismatch* when the whole 95 % interval lies below it; with ``nej`` it is a mismatch when
    the whole interval lies above it. A mismatch is evidence of a definition problem (what
    counts as a routine, or as a talk held), not a verdict. Case values not shown are
    ``too_small``.
    """
    links = tuple(links if links is not None else case.indicators.links)
    cd = case.data[(case.data["niva"] == LEVEL_KOMMUN) & case.data["ar"].isna()]
    sd = survey.data[survey.data["niva"] == LEVEL_KOMMUN]
    if year is None:
        answered = sd[sd["status"] != STATUS_NO_DATA]
        year = int(answered["ar"].max()) if len(answered) else int(sd["ar"].max())
    sd = sd[sd["ar"] == year]
    if units is not None:
        keep = set(units)
        cd, sd = cd[cd[UNIT].isin(keep)], sd[sd[UNIT].isin(keep)]
    frames = []
    for link in links:
        c = cd[cd["indikator"] == link.case]
        s = sd[sd["indikator"] == link.survey][[UNIT, "share", "status"]]
        s = s.rename(columns={"share": "_svar", "status": "_sstatus"})
        j = c.merge(s, on=UNIT, how="left")
        st = j["_sstatus"].fillna(STATUS_NO_DATA).to_numpy()
        ans = _f(j["_svar"])
        svar = np.where(st == STATUS_OK, np.where(ans >= 0.5, "yes", "no"), "not_answered")
        lo, hi = _f(j["ci_low"]), _f(j["ci_high"])
        e = link.expected_share
        with np.errstate(invalid="ignore"):
            mismatch = ((svar == "yes") & (hi < e)) | ((svar == "no") & (lo > e))
        flag = np.where(
            svar == "not_answered",
            "not_answered",
            np.where(
                j["status"].to_numpy() != STATUS_OK,
                "too_small",
                np.where(mismatch, "mismatch", "consistent"),
            ),
        )
        frames.append(
            pd.DataFrame(
                {
                    UNIT: j[UNIT].to_numpy(),
                    "ar": year,
                    "enkat": link.survey,
                    "arende": link.case,
                    "svar": svar.astype(str),
                    "share": _f(j["share"]),
                    "ci_low": lo,
                    "ci_high": hi,
                    "denominator": j["denominator"].to_numpy(),
                    "status": j["status"].to_numpy(),
                    "expected_share": e,
                    "flagga": flag.astype(str),
                }
            )
        )
    cols = [
        UNIT,
        "ar",
        "enkat",
        "arende",
        "svar",
        "share",
        "ci_low",
        "ci_high",
        "denominator",
        "status",
        "expected_share",
        "flagga",
    ]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    out["flagga_sv"] = out["flagga"].map(FLAG_SV)
    out["svar_sv"] = out["svar"].map(CLASS_SV)
    out["ar"] = out["ar"].astype("Int64")
    return CaseSurveyResult(data=out.reset_index(drop=True), links=links)


# --------------------------------------------------------------------------------------------
# One municipality: spine chart and time series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SpineResult:
    """One municipality's case indicators against the national spread (Fingertips spine chart).

    ``data`` columns per indicator: ``indikator, share, ci_low, ci_high, denominator, status,
    lan, riket, p10, q25, q75, p90`` (percentiles of the municipalities' shown values; the
    minimum and maximum are never shown), ``klass`` (against the nation) and ``klass_sv``,
    ``kvartil_sv``, and positions on a common scale where the national value is 0 and
    *better is to the right* (``pos_*``, in units of the largest distance from the national
    value to P10, P90 or the municipality).
    """

    kommun: str
    year: int | None
    data: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()

    def _repr_html_(self) -> str:
        return _html(self.data)


def spine(
    values: PublishedValues,
    *,
    kommun: str,
    year: int | None = None,
    quartile_result: QuartileResult | None = None,
) -> SpineResult:
    """A municipality's overview: its value, county, nation and the national spread per indicator.

    The spread is shown as the 10th, 25th, 75th and 90th percentiles of the municipalities'
    shown values (not the minimum and maximum: RELIABILITY.md forbids publishing them).
    """
    inds = [i for i in values.indicators if i.kind == "case"]
    sel = _select_year(values.data, year)
    sel = sel[sel["indikator"].isin([i.id for i in inds])]
    muni = sel[(sel["niva"] == LEVEL_KOMMUN) & (sel["status"] == STATUS_OK)]
    g = muni.groupby("indikator")["share"]
    spread = pd.DataFrame(
        {
            "p10": g.quantile(0.10),
            "q25": g.quantile(0.25),
            "q75": g.quantile(0.75),
            "p90": g.quantile(0.90),
        }
    )
    own = sel[sel[UNIT] == kommun].set_index("indikator")
    lan = sel[(sel[UNIT] == kommun[:2]) & (sel["status"] == STATUS_OK)].set_index("indikator")
    nat = sel[(sel[UNIT] == NATIONAL) & (sel["status"] == STATUS_OK)].set_index("indikator")
    ids = [i.id for i in inds]
    out = pd.DataFrame({"indikator": ids})
    for col in ("share", "ci_low", "ci_high", "denominator", "status"):
        out[col] = out["indikator"].map(own[col]).to_numpy()
    out["lan"] = out["indikator"].map(lan["share"]).astype("float64")
    out["riket"] = out["indikator"].map(nat["share"]).astype("float64")
    for col in ("p10", "q25", "q75", "p90"):
        out[col] = out["indikator"].map(spread[col]).astype("float64")
    out["status"] = out["status"].fillna(STATUS_NO_DATA).astype("str")
    pol = np.array([i.polarity for i in inds], dtype=object)
    out["klass"] = classify(
        status=out["status"].to_numpy(),
        share=_f(out["share"]),
        ci_low=_f(out["ci_low"]),
        ci_high=_f(out["ci_high"]),
        benchmark=out["riket"].to_numpy(),
        polarity=pol,
    )
    out["klass_sv"] = out["klass"].map(CLASS_SV)
    if quartile_result is not None:
        q = quartile_result.data
        q = q[q[UNIT] == kommun].set_index("indikator")["kvartil_sv"]
        out["kvartil_sv"] = out["indikator"].map(q).fillna(QUARTILE_SV["missing"])
    centre = out["riket"].to_numpy()
    ends = (
        np.column_stack([out["p10"].to_numpy(), out["p90"].to_numpy(), _f(out["share"])])
        - centre[:, None]
    )
    with np.errstate(invalid="ignore"):
        half = np.nanmax(np.abs(ends), axis=1)
    half = np.where((half > 0) & np.isfinite(half), half, 1.0)
    sign = np.where(pol == "lower_better", -1.0, 1.0)
    for col in ("share", "lan", "p10", "q25", "q75", "p90"):
        out[f"pos_{col}"] = sign * (_f(out[col]) - centre) / half
    return SpineResult(kommun=kommun, year=year, data=out)


@dataclass(frozen=True, eq=False)
class TimeSeriesResult:
    """Yearly values of counties and the nation, and the trend of each published series.

    Attributes
    ----------
    values
        Published yearly values (``enhet, indikator, ar, n, denominator, share, ci_low, ci_high,
        status``) of the series that may be shown.
    trends
        ``enhet, indikator, n_years, slope, p_value, direction, text_sv``: Cochran-Armitage test
        on the published yearly counts (``direction == "hidden"`` where the series is not
        published).
    published
        Per indicator, the units whose yearly series are published.
    """

    values: pd.DataFrame
    trends: pd.DataFrame
    published: Mapping[str, tuple[str, ...]]
    method: str = "Cochran-Armitage test for trend (years as scores) on published yearly counts"

    def to_frame(self) -> pd.DataFrame:
        return self.values.copy()

    def _repr_html_(self) -> str:
        return _html(self.trends)


TREND_HIDDEN_SV = "ingen trend redovisas (för litet underlag något år)"


def time_series(
    series: PublishedValues,
    *,
    period_values: PublishedValues,
    indicators: Sequence[str] | None = None,
) -> TimeSeriesResult:
    """Which yearly county and national series may be published, and their trends.

    ``series`` comes from :func:`protect_series_counts` (counties and nation by year). A
    municipality's yearly values are never published beside its whole-period value, because
    the years add up to the period (a suppressed year would be the period minus the others).
    Yearly county and national values reveal nothing about the municipalities' period values
    (any split of the municipalities' period counts over the years is consistent with them), so
    they can be published, on two conditions per indicator: every county's yearly counts are
    published (otherwise the nation minus the published counties gives the rest back, and only
    the national series is shown), and each county's whole-period counts are published in
    ``period_values`` (otherwise the years would add up to a suppressed period value).
    """
    ids = (
        list(indicators)
        if indicators is not None
        else [i.id for i in series.indicators if i.kind == "case"]
    )
    d = series.data
    d = d[d["indikator"].isin(ids) & d["ar"].notna()].reset_index(drop=True)
    complete = (d["n"].notna() & d["denominator"].notna()).groupby([d[UNIT], d["indikator"]]).all()
    pv = period_values.data
    pv = pv[pv["ar"].isna() & pv["niva"].isin([LEVEL_LAN, LEVEL_RIKET])]
    period_ok = (
        (pv["n"].notna() & pv["denominator"].notna()).groupby([pv[UNIT], pv["indikator"]]).all()
    )
    published: dict[str, tuple[str, ...]] = {}
    for ind in ids:
        ok = (
            complete.xs(ind, level="indikator")
            if ind in complete.index.get_level_values(1)
            else pd.Series(dtype=bool)
        )
        pok = (
            period_ok.xs(ind, level="indikator")
            if ind in period_ok.index.get_level_values(1)
            else pd.Series(dtype=bool)
        )
        ok = ok & pok.reindex(ok.index, fill_value=False)
        counties = [u for u in ok.index if u != NATIONAL]
        units: list[str] = []
        if counties and all(ok[c] for c in counties):
            units += sorted(counties)
        if ok.get(NATIONAL, False):
            units.append(NATIONAL)
        published[ind] = tuple(units)
    keep = np.array(
        [u in published.get(i, ()) for u, i in zip(d[UNIT], d["indikator"], strict=True)],
        dtype=bool,
    )
    shown_vals = d[keep].reset_index(drop=True)
    usable = shown_vals[shown_vals["status"] == STATUS_OK].assign(
        _n=lambda x: _f(x["n"]), _d=lambda x: _f(x["denominator"])
    )
    trends = stats.trend_table(
        usable, by=[UNIT, "indikator"], year="ar", successes="_n", trials="_d"
    )
    keys = d[[UNIT, "indikator"]].drop_duplicates().astype("str")
    t = keys.merge(trends, on=[UNIT, "indikator"], how="left")
    pub = np.array(
        [u in published.get(i, ()) for u, i in zip(t[UNIT], t["indikator"], strict=True)],
        dtype=bool,
    )
    t["direction"] = np.where(~pub, "hidden", t["direction"].fillna("insufficient_data"))
    t["text_sv"] = np.where(
        ~pub, TREND_HIDDEN_SV, t["text_sv"].fillna(stats.TREND_INSUFFICIENT_SV)
    )
    for c in ("slope", "p_value"):
        t[c] = np.where(pub, _f(t[c]), np.nan)
    t["n_years"] = pd.to_numeric(t["n_years"], errors="coerce").fillna(0).astype("int64")
    cols = [UNIT, "indikator", "n_years", "slope", "p_value", "direction", "text_sv"]
    return TimeSeriesResult(
        values=shown_vals, trends=t[cols].reset_index(drop=True), published=published
    )


def checked_trends(
    counts: pd.DataFrame,
    *,
    units: Sequence[str],
    rules: DisclosureRules,
    indicators: IndicatorSet | None = None,
) -> pd.DataFrame:
    """Trend conclusions for municipalities, whose yearly values are not published.

    The Cochran-Armitage test (:func:`workbench.stats.trend_table`) on the municipality's
    yearly counts from :func:`workbench.indicators.case_counts`. Only the conclusion (direction,
    change in percentage points per year, p-value) is shown, and only when every year of the
    period has a denominator of at least the indicator's and the rules' ``min_denominator`` and
    there are at least three years; otherwise ``direction = "too_small"`` (as the follow-up
    report's trend check, :func:`workbench.views_analysis.check_trends`).

    Returns
    -------
    pandas.DataFrame
        ``enhet, indikator, n_years, slope, p_value, direction, text_sv``.
    """
    inds = indicators or load_indicators()
    c = counts[counts["kommun"].isin(list(units))].rename(columns={"kommun": UNIT})
    min_den = c["indikator"].map({i.id: i.min_denominator for i in inds})
    c = c.assign(_small=c["denominator"] < np.maximum(min_den, rules.min_denominator))
    small = c.groupby([UNIT, "indikator"])["_small"].any()
    trends = stats.trend_table(
        c, by=[UNIT, "indikator"], year="ar", successes="n", trials="denominator"
    )
    t = trends.merge(small.rename("_s").reset_index(), on=[UNIT, "indikator"], how="right")
    hide = t["_s"].fillna(True).to_numpy(dtype=bool) | (t["n_years"].fillna(0) < 3).to_numpy()
    t["direction"] = np.where(hide, "too_small", t["direction"].fillna("too_small"))
    t["text_sv"] = np.where(
        hide,
        "för litet underlag för att bedöma trend (för få fall något år)",
        t["text_sv"].fillna(""),
    )
    for col in ("slope", "p_value"):
        t[col] = np.where(hide, np.nan, _f(t[col]))
    t["n_years"] = pd.to_numeric(t["n_years"], errors="coerce").fillna(0).astype("int64")
    cols = [UNIT, "indikator", "n_years", "slope", "p_value", "direction", "text_sv"]
    return t[cols].astype({UNIT: "str", "indikator": "str"}).reset_index(drop=True)
