"""Placement providers (utförare): follow-up measures per provider, compared with their type.

Pure functions over the canonical tables ``providers``, ``placements`` and ``provider_ratings``
(issue 10's data contract). The flow is the one of every report:

1. :func:`placement_counts`, :func:`rating_counts` and :func:`yearly_counts` count per provider,
   per provider type (``utforartyp``) and for all providers (``"0000"``), in long form;
2. :func:`protect_provider_counts` passes them through
   :func:`workbench.disclosure.protect_linked`, with providers as the lowest level of the linked
   set (providers add up to their type, types to the total; :func:`provider_hierarchy`);
3. :func:`provider_summary` computes the published measures from the *protected* counts only
   (plus the private rating moments of :func:`rating_moments`, used only where the protected
   count of answers behind a mean is shown and large enough): shares with Wilson intervals, mean
   ratings with t-intervals, the difference from the other providers of the same type with a
   Bonferroni-adjusted interval, an empirical-Bayes shrunken estimate and a classification
   (:data:`CLASS_SV`).

Providers with fewer ratings than ``min_ratings`` get no value at all ("för få bedömningar"),
whatever their placements. Providers are never ranked on a point estimate: the report orders
them by name (docs/methods.md, "Placeringsutförare").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from workbench.disclosure import NATIONAL, DisclosureRules, ProtectedTable, protect_linked
from workbench.stats import proportion_ci, risk_difference_ci

__all__ = [
    "ALL_PROVIDERS",
    "CLASS_SV",
    "MEASURES",
    "PROVIDER_TYPES",
    "RATING_QUESTIONS",
    "Measure",
    "ProviderSummary",
    "TREND_MEASURES",
    "TREND_SV",
    "ProviderTrend",
    "YearlyTrend",
    "adjust_pvalues",
    "cochran_armitage",
    "linear_trend",
    "provider_trends",
    "trend_moments",
    "check_selection",
    "classify_difference",
    "mean_ci",
    "placement_counts",
    "protect_provider_counts",
    "provider_hierarchy",
    "provider_summary",
    "rating_counts",
    "rating_moments",
    "shrink_means",
    "shrink_proportions",
    "welch_difference",
    "yearly_counts",
    "yearly_trend",
]

#: Pseudo unit of all providers together (the national total of the linked set).
ALL_PROVIDERS = NATIONAL
UNIT = "enhet"
#: Provider types (code list ``utforartyp``) in report order, with Swedish labels.
PROVIDER_TYPES: dict[str, str] = {
    "hvb": "HVB",
    "familjehemsorg": "Konsulentstödd familjehemsverksamhet",
    "stodboende": "Stödboende",
}
RATING_QUESTIONS: tuple[str, ...] = (
    "betyg_behandling",
    "betyg_samarbete",
    "betyg_trygghet",
    "betyg_mal",
)
#: Codes of the placement groups (every unit lists every code).
AVSLUT_CODES = ("planerat", "sammanbrott", "annat")
#: Goal attainment: fully or partly attained together (the measure's numerator), so that fewer
#: cells are small and need suppression.
MAL_CODES = ("helt_delvis", "inte_alls", "ej_bedomd")
IGEN_CODES = ("ja", "nej", "vet_ej")
SUBSTANTIVE = ("1", "2", "3", "4", "5")

STATUS_OK = "ok"
STATUS_FEW = "few_ratings"
STATUS_SUPPRESSED = "suppressed"
STATUS_SMALL = "small"
STATUS_NONE = "none"
#: Status -> what a report shows instead of a value.
STATUS_SV: dict[str, str] = {
    STATUS_OK: "",
    STATUS_FEW: "för få bedömningar",
    STATUS_SUPPRESSED: "..",
    STATUS_SMALL: "..",
    STATUS_NONE: ".",
}

CLASS_BETTER = "battre"
CLASS_WORSE = "samre"
CLASS_SAME = "ingen_skillnad"
CLASS_NONE = "ej_bedomd"
CLASS_SV: dict[str, str] = {
    CLASS_BETTER: "tydligt bättre",
    CLASS_WORSE: "tydligt sämre",
    CLASS_SAME: "går inte att skilja från genomsnittet",
    CLASS_NONE: "",
}


@dataclass(frozen=True)
class Measure:
    """One follow-up measure of a provider.

    ``kind`` is ``"share"`` (numerator codes over denominator codes of one protected group) or
    ``"mean"`` (mean rating 1–5 of one question). ``polarity`` is +1 when higher is better.
    """

    id: str
    sv: str
    kind: str
    group: str
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()
    polarity: int = 1
    counted_sv: str = ""
    description_sv: str = ""


MEASURES: dict[str, Measure] = {
    m.id: m
    for m in (
        Measure(
            "sammanbrott",
            "Sammanbrott",
            "share",
            "avslut",
            ("sammanbrott",),
            AVSLUT_CODES,
            -1,
            "avslutade placeringar",
            "Andel av placeringarna som avslutades under perioden som slutade i ett sammanbrott "
            "(oplanerat avslut).",
        ),
        Measure(
            "planerat",
            "Avslutad som planerat",
            "share",
            "avslut",
            ("planerat",),
            AVSLUT_CODES,
            1,
            "avslutade placeringar",
            "Andel av placeringarna som avslutades under perioden som avslutades som planerat.",
        ),
        Measure(
            "maluppfyllelse",
            "Målen helt eller delvis uppfyllda",
            "share",
            "maluppfyllelse",
            ("helt_delvis",),
            ("helt_delvis", "inte_alls"),
            1,
            "avslutade placeringar där måluppfyllelsen kunnat bedömas",
            "Andel av de avslutade placeringarna där målen uppfyllts helt eller delvis, bland dem "
            "där måluppfyllelsen kunnat bedömas.",
        ),
        Measure(
            "placera_igen",
            "Skulle placera igen",
            "share",
            "placera_igen",
            ("ja",),
            ("ja", "nej"),
            1,
            "bedömningar med svaret ja eller nej",
            "Andel av socialsekreterarnas bedömningar som svarat ja på frågan om de skulle placera "
            "hos utföraren igen (vet ej räknas inte).",
        ),
        Measure(
            "betyg_behandling",
            "Behandlingens innehåll",
            "mean",
            "betyg_behandling",
            polarity=1,
            counted_sv="bedömningar med betyg 1–5",
            description_sv="Medelbetyg 1–5 (1 = mycket dåligt, 5 = mycket bra) för behandlingens "
            "innehåll; vet ej räknas inte.",
        ),
        Measure(
            "betyg_samarbete",
            "Samarbete med socialtjänsten",
            "mean",
            "betyg_samarbete",
            polarity=1,
            counted_sv="bedömningar med betyg 1–5",
            description_sv="Medelbetyg 1–5 för samarbetet med socialtjänsten; vet ej räknas inte.",
        ),
        Measure(
            "betyg_trygghet",
            "Trygghet för den unga",
            "mean",
            "betyg_trygghet",
            polarity=1,
            counted_sv="bedömningar med betyg 1–5",
            description_sv="Medelbetyg 1–5 för den ungas trygghet; vet ej räknas inte.",
        ),
        Measure(
            "betyg_mal",
            "Placeringens mål uppnådda",
            "mean",
            "betyg_mal",
            polarity=1,
            counted_sv="bedömningar med betyg 1–5",
            description_sv="Medelbetyg 1–5 för hur väl placeringens mål uppnåtts; vet ej räknas "
            "inte.",
        ),
    )
}


# --------------------------------------------------------------------------------------------
# Selection (validated at the boundary)
# --------------------------------------------------------------------------------------------


def check_selection(providers: pd.DataFrame, *, utforare: str, utforartyp: str) -> None:
    """Check a report's provider and type selection against the data.

    Raises
    ------
    workbench.params.ParameterError
        When the provider id is not in ``providers``, the type is not a provider type, or the
        provider is not of the given type; the message names ``workbench provider-report
        --help`` and how to list the ids.
    """
    from workbench.params import ParameterError

    hint = (
        "Se `workbench provider-report --help`; `workbench provider-report --kommun 0000 "
        "--list` listar utförarnas koder (kolumnen utforare_id i tabellen providers)."
    )
    if utforartyp and utforartyp not in PROVIDER_TYPES:
        raise ParameterError(
            f"Okänd utförartyp {utforartyp!r}; välj en av {list(PROVIDER_TYPES)}. {hint}"
        )
    if not utforare:
        return
    known = providers.set_index("utforare_id")["utforartyp"] if len(providers) else pd.Series()
    if utforare not in known.index:
        raise ParameterError(f"Utförare {utforare!r} finns inte i data. {hint}")
    if utforartyp and str(known.loc[utforare]) != utforartyp:
        raise ParameterError(
            f"Utförare {utforare!r} är av typen {known.loc[utforare]!r}, inte {utforartyp!r}. "
            f"{hint}"
        )


# --------------------------------------------------------------------------------------------
# Counts (private zone)
# --------------------------------------------------------------------------------------------


def provider_hierarchy(providers: pd.DataFrame) -> pd.DataFrame:
    """The linked set's hierarchy: provider -> its type, types -> all providers (``"0000"``).

    Returned in the column names :func:`workbench.disclosure.protect_linked` expects
    (``kommun`` = provider id, ``lan`` = provider type).
    """
    p = providers[providers["utforartyp"].isin(list(PROVIDER_TYPES))]
    return pd.DataFrame(
        {"kommun": p["utforare_id"].astype(str), "lan": p["utforartyp"].astype(str)}
    ).reset_index(drop=True)


def _in_years(frame: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    ar = pd.to_numeric(frame["ar"], errors="coerce")
    return frame[(ar >= years[0]) & (ar <= years[1])]


def _long_counts(
    frame: pd.DataFrame,
    *,
    providers: pd.DataFrame,
    groups: Mapping[str, tuple[str, Sequence[str]]],
    levels: Sequence[str] = ("provider", "type", "all"),
) -> pd.DataFrame:
    """Counts per unit x group x code, zeros included, for providers, types and all.

    ``groups`` maps a group name to (column of ``frame`` holding the code, the codes).
    ``frame`` must carry ``utforare_id`` and ``utforartyp``.
    """
    prov = providers[providers["utforartyp"].isin(list(PROVIDER_TYPES))]
    units: list[tuple[str, pd.Series]] = []
    if "provider" in levels:
        units.append(("provider", frame["utforare_id"].astype(str)))
    if "type" in levels:
        units.append(("type", frame["utforartyp"].astype(str)))
    if "all" in levels:
        units.append(("all", pd.Series(ALL_PROVIDERS, index=frame.index, dtype="str")))
    all_units = {
        "provider": prov["utforare_id"].astype(str).tolist(),
        "type": list(PROVIDER_TYPES),
        "all": [ALL_PROVIDERS],
    }
    parts = []
    for group, (col, codes) in groups.items():
        codes = list(codes)
        for level, unit in units:
            idx = pd.MultiIndex.from_product([all_units[level], codes], names=[UNIT, "kod"])
            n = (
                pd.DataFrame({UNIT: unit, "kod": frame[col].astype(str)})
                .groupby([UNIT, "kod"])
                .size()
                .reindex(idx, fill_value=0)
                .rename("n")
                .reset_index()
            )
            n["denominator"] = n.groupby(UNIT)["n"].transform("sum")
            n["variabel"] = group
            parts.append(n)
    out = pd.concat(parts, ignore_index=True)[[UNIT, "variabel", "kod", "n", "denominator"]]
    out["n"] = out["n"].astype("int64")
    out["denominator"] = out["denominator"].astype("int64")
    return out


def _with_type(frame: pd.DataFrame, providers: pd.DataFrame) -> pd.DataFrame:
    types = providers.set_index("utforare_id")["utforartyp"]
    out = frame.assign(utforartyp=frame["utforare_id"].map(types))
    return out[out["utforartyp"].isin(list(PROVIDER_TYPES))]


def _ended_in(placements: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    """Placements that ended in ``years`` (by the year of ``slutdatum``), with ``_slutar``."""
    end = pd.to_datetime(placements["slutdatum"], errors="coerce")
    ended = end.notna() | placements["placering_avslut"].notna()
    year = end.dt.year.astype("Float64").fillna(pd.to_numeric(placements["ar"]).astype("Float64"))
    out = placements.assign(_slutar=year)
    return out[ended & (year >= years[0]) & (year <= years[1])]


def _avslut_code(placements: pd.DataFrame) -> pd.Series:
    avslut = placements["placering_avslut"].astype("str")
    # ended without a recorded reason counts as "other or unknown" (kind residual)
    return avslut.where(avslut.isin(["planerat", "sammanbrott"]), "annat")


def _mal_code(placements: pd.DataFrame) -> pd.Series:
    mal = placements["maluppfyllelse"].astype("str")
    code = mal.where(mal.isin(["helt", "delvis", "inte_alls"]), "ej_bedomd")
    return code.where(~code.isin(["helt", "delvis"]), "helt_delvis")


def placement_counts(
    providers: pd.DataFrame, placements: pd.DataFrame, *, years: tuple[int, int]
) -> pd.DataFrame:
    """Placements that ended in ``years`` per provider, type and all providers (private zone).

    Two groups over the same population (so they share one total in the linked set):
    ``avslut`` (:data:`AVSLUT_CODES`: ended as planned, breakdown, other or unknown) and
    ``maluppfyllelse`` (:data:`MAL_CODES`; ``ej_bedomd`` = cannot be assessed or missing).
    Ongoing placements are not counted: their number is often small, and it is not needed by
    any measure (a published started count beside the ended count would give it away).
    """
    p = _with_type(_ended_in(placements, years), providers)
    p = p.assign(_avslut=_avslut_code(p), _mal=_mal_code(p))
    return _long_counts(
        p,
        providers=providers,
        groups={"avslut": ("_avslut", AVSLUT_CODES), "maluppfyllelse": ("_mal", MAL_CODES)},
    )


def _igen_code(col: pd.Series) -> pd.Series:
    s = col.astype("str")
    return s.where(s.isin(["ja", "nej"]), "vet_ej")


def rating_counts(
    providers: pd.DataFrame, ratings: pd.DataFrame, *, years: tuple[int, int]
) -> pd.DataFrame:
    """Number of ratings made in ``years`` per provider type and for all providers (private).

    One group, ``bedomningar``, with the single code ``antal``: the only count of ratings that
    is published, and only for types and all providers. A provider's own number of ratings is
    not published (it would have to be suppressed, with complements, wherever a provider has
    1–4 ratings); nor is how the answers are distributed (ratings 1–5, ``vet_ej``, yes/no),
    which appears only as means and shares with intervals (see :func:`provider_summary`).
    """
    r = _with_type(_in_years(ratings, years), providers)
    r = r.assign(_antal="antal")
    return _long_counts(
        r,
        providers=providers,
        groups={"bedomningar": ("_antal", ("antal",))},
        levels=("type", "all"),
    )


def rating_moments(
    providers: pd.DataFrame, ratings: pd.DataFrame, *, years: tuple[int, int]
) -> pd.DataFrame:
    """Count, sum and sum of squares of the answers per unit and question (private zone).

    Rating questions: the ratings 1–5 (``vet_ej`` and missing excluded; ``n_other`` counts
    them). ``placera_igen``: ``ja`` = 1, ``nej`` = 0 (don't know and missing in ``n_other``).
    Columns ``enhet``, ``variabel``, ``n``, ``sum``, ``sumsq``, ``n_other``.
    """
    r = _with_type(_in_years(ratings, years), providers)
    rows = []
    for q in (*RATING_QUESTIONS, "placera_igen"):
        s = r[q].astype("str")
        if q == "placera_igen":
            v = s.map({"ja": 1.0, "nej": 0.0}).astype("float64")
        else:
            v = pd.to_numeric(s.where(s.isin(list(SUBSTANTIVE))), errors="coerce")
        d = pd.DataFrame(
            {"p": r["utforare_id"].astype(str), "t": r["utforartyp"].astype(str), "v": v}
        )
        d["a"] = ALL_PROVIDERS
        d["one"] = d["v"].notna().astype("int64")
        d["v0"] = d["v"].fillna(0.0)
        d["v2"] = d["v0"] ** 2
        d["other"] = 1 - d["one"]
        for col in ("p", "t", "a"):
            g = d.groupby(col).agg(
                n=("one", "sum"), sum=("v0", "sum"), sumsq=("v2", "sum"), n_other=("other", "sum")
            )
            rows.append(g.rename_axis(UNIT).reset_index().assign(variabel=q))
    out = pd.concat(rows, ignore_index=True)
    out["n"] = out["n"].astype("int64")
    out["n_other"] = out["n_other"].astype("int64")
    return out[[UNIT, "variabel", "n", "sum", "sumsq", "n_other"]]


def yearly_counts(
    providers: pd.DataFrame,
    placements: pd.DataFrame,
    ratings: pd.DataFrame,
    *,
    years: tuple[int, int],
) -> pd.DataFrame:
    """Per year, for types and all providers only: placement endings and "would place again".

    Groups ``avslut_<year>`` (placements that ended that year, :data:`AVSLUT_CODES`) and
    ``placera_igen_<year>`` (ratings made that year, :data:`IGEN_CODES`). Providers' own yearly
    figures are not published (the years would add up to the period figures).
    """
    p = _with_type(_ended_in(placements, years), providers)
    p = p.assign(_avslut=_avslut_code(p), ar=p["_slutar"])
    r = _with_type(_in_years(ratings, years), providers)
    r = r.assign(_igen=_igen_code(r["placera_igen"]))
    parts = []
    for y in range(years[0], years[1] + 1):
        py = p[pd.to_numeric(p["ar"]) == y]
        ry = r[pd.to_numeric(r["ar"]) == y]
        parts.append(
            _long_counts(
                py,
                providers=providers,
                groups={f"avslut_{y}": ("_avslut", AVSLUT_CODES)},
                levels=("type", "all"),
            )
        )
        parts.append(
            _long_counts(
                ry,
                providers=providers,
                groups={f"placera_igen_{y}": ("_igen", IGEN_CODES)},
                levels=("type", "all"),
            )
        )
    return pd.concat(parts, ignore_index=True)


def protect_provider_counts(
    counts: pd.DataFrame,
    *,
    hierarchy: pd.DataFrame,
    rules: DisclosureRules,
    attribute_rule: bool = True,
) -> ProtectedTable:
    """Disclosure control over the providers' linked set (provider -> type -> all).

    Yearly tables hold only types and all providers; their hierarchy is then the types alone.
    """
    units = set(counts[UNIT].astype(str))
    hier = hierarchy
    if not units & set(hierarchy["kommun"]):  # types and total only: types are the lowest level
        hier = pd.DataFrame({"kommun": list(PROVIDER_TYPES), "lan": "99"})
    return protect_linked(
        counts,
        unit=UNIT,
        group="variabel",
        code="kod",
        hierarchy=hier,
        additive_codes=True,
        rules=rules,
        attribute_rule=attribute_rule,
    )


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def mean_ci(
    n: float, total: float, sumsq: float, *, level: float = 0.95
) -> tuple[float, float, float, float]:
    """Mean, standard deviation and t-interval of values given their count, sum and sum of
    squares: ``mean ± t_{n-1, (1+level)/2} · sd / sqrt(n)``. NaN where ``n < 2``."""
    if n < 1:
        return (math.nan, math.nan, math.nan, math.nan)
    mean = total / n
    if n < 2:
        return (mean, math.nan, math.nan, math.nan)
    var = max((sumsq - n * mean * mean) / (n - 1), 0.0)
    sd = math.sqrt(var)
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return (mean, sd, mean - half, mean + half)


def welch_difference(
    m1: float, v1: float, n1: float, m2: float, v2: float, n2: float, *, level: float = 0.95
) -> tuple[float, float, float]:
    """Difference ``m1 - m2`` of two independent means with Welch's t-interval
    (Welch–Satterthwaite degrees of freedom). ``v1``, ``v2`` are sample variances."""
    if n1 < 2 or n2 < 2:
        return (math.nan, math.nan, math.nan)
    se2 = v1 / n1 + v2 / n2
    d = m1 - m2
    if se2 <= 0:
        return (d, d, d)
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    half = float(sps.t.ppf(0.5 + level / 2, df)) * math.sqrt(se2)
    return (d, d - half, d + half)


def classify_difference(low: float, high: float, polarity: int) -> str:
    """Better / worse only when the (adjusted) interval of the difference excludes zero."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return CLASS_NONE
    if low > 0:
        return CLASS_BETTER if polarity > 0 else CLASS_WORSE
    if high < 0:
        return CLASS_WORSE if polarity > 0 else CLASS_BETTER
    return CLASS_SAME


def shrink_proportions(
    x: Sequence[float], n: Sequence[float], *, level: float = 0.95
) -> pd.DataFrame:
    """Empirical-Bayes (beta-binomial) shrinkage of proportions ``x / n`` towards their pool.

    The prior Beta(μM, (1-μ)M) has the pooled share μ = Σx/Σn and the between-unit variance τ²
    estimated by the method of moments,
    τ² = max(0, (Σ nᵢ(pᵢ-μ)² - (k-1)μ(1-μ)) / (Σnᵢ - Σnᵢ²/Σnᵢ)), so M = μ(1-μ)/τ² - 1
    (τ² = 0: every estimate is μ). Each unit's posterior is Beta(x + μM, n - x + (1-μ)M): the
    shrunken estimate is its mean, the interval its equal-tailed quantiles.

    Returns a frame with ``shrunk``, ``low``, ``high`` (aligned with the input) and attributes
    ``attrs["mu"]``, ``attrs["tau2"]``, ``attrs["prior_size"]`` (M).
    """
    xa = np.asarray(x, dtype=float)
    na = np.asarray(n, dtype=float)
    ok = na > 0
    k = int(ok.sum())
    out = pd.DataFrame({"shrunk": np.nan, "low": np.nan, "high": np.nan}, index=range(len(xa)))
    if k == 0:
        out.attrs.update(mu=math.nan, tau2=math.nan, prior_size=math.nan)
        return out
    xs, ns = xa[ok], na[ok]
    mu = xs.sum() / ns.sum()
    p = xs / ns
    big_n = ns.sum()
    denom = big_n - (ns**2).sum() / big_n
    between = (ns * (p - mu) ** 2).sum() - (k - 1) * mu * (1 - mu)
    tau2 = max(0.0, between / denom) if denom > 0 else 0.0
    alpha = 1 - level
    if mu <= 0 or mu >= 1:
        shrunk = np.full(k, mu)
        lo, hi = shrunk.copy(), shrunk.copy()
        m_size = math.inf
    elif tau2 <= 0:
        m_size = math.inf
        shrunk = np.full(k, mu)
        lo, hi = shrunk.copy(), shrunk.copy()
    else:
        m_size = max(mu * (1 - mu) / tau2 - 1, 1e-9)
        a = xs + mu * m_size
        b = ns - xs + (1 - mu) * m_size
        shrunk = a / (a + b)
        lo = sps.beta.ppf(alpha / 2, a, b)
        hi = sps.beta.ppf(1 - alpha / 2, a, b)
    out.loc[np.flatnonzero(ok), "shrunk"] = shrunk
    out.loc[np.flatnonzero(ok), "low"] = lo
    out.loc[np.flatnonzero(ok), "high"] = hi
    out.attrs.update(mu=float(mu), tau2=float(tau2), prior_size=float(m_size))
    return out


def shrink_means(
    means: Sequence[float],
    variances: Sequence[float],
    n: Sequence[float],
    *,
    mu: float,
    level: float = 0.95,
) -> pd.DataFrame:
    """Empirical-Bayes (normal-normal) shrinkage of means towards ``mu`` (the type average).

    Each unit's mean has sampling variance vᵢ = s²/nᵢ, with s² the pooled within-unit variance.
    The between-unit variance τ² is the DerSimonian–Laird moment estimate. The shrunken estimate
    is μ + Bᵢ(ȳᵢ - μ) with Bᵢ = τ²/(τ² + vᵢ), its interval ± z·sqrt(Bᵢ vᵢ).
    """
    y = np.asarray(means, dtype=float)
    s2 = np.asarray(variances, dtype=float)
    na = np.asarray(n, dtype=float)
    ok = np.isfinite(y) & np.isfinite(s2) & (na >= 2)
    out = pd.DataFrame({"shrunk": np.nan, "low": np.nan, "high": np.nan}, index=range(len(y)))
    k = int(ok.sum())
    if k == 0:
        out.attrs.update(mu=mu, tau2=math.nan)
        return out
    pooled = ((na[ok] - 1) * s2[ok]).sum() / max((na[ok] - 1).sum(), 1.0)
    v = pooled / na[ok]
    w = 1 / np.where(v > 0, v, np.inf)
    tau2 = 0.0
    if k > 1 and np.isfinite(w).all() and w.sum() > 0:
        ybar = (w * y[ok]).sum() / w.sum()
        q = (w * (y[ok] - ybar) ** 2).sum()
        c = w.sum() - (w**2).sum() / w.sum()
        tau2 = max(0.0, (q - (k - 1)) / c) if c > 0 else 0.0
    b = tau2 / (tau2 + v) if tau2 > 0 else np.zeros(k)
    shrunk = mu + b * (y[ok] - mu)
    z = float(sps.norm.ppf(0.5 + level / 2))
    half = z * np.sqrt(b * v)
    idx = np.flatnonzero(ok)
    out.loc[idx, "shrunk"] = shrunk
    out.loc[idx, "low"] = shrunk - half
    out.loc[idx, "high"] = shrunk + half
    out.attrs.update(mu=float(mu), tau2=float(tau2))
    return out


# --------------------------------------------------------------------------------------------
# Published summary
# --------------------------------------------------------------------------------------------


def _shown(pt: ProtectedTable) -> dict[tuple[str, str, str], Any]:
    d = pt.data
    return dict(
        zip(
            zip(d[UNIT].astype(str), d["variabel"].astype(str), d["kod"].astype(str), strict=True),
            d["n_shown"],
            strict=True,
        )
    )


def _totals(pt: ProtectedTable) -> dict[tuple[str, str], Any]:
    d = pt.data.drop_duplicates([UNIT, "variabel"])
    return dict(
        zip(
            zip(d[UNIT].astype(str), d["variabel"].astype(str), strict=True),
            d["denominator_shown"],
            strict=True,
        )
    )


def _derived_sum(
    shown: Mapping[tuple[str, str, str], Any],
    totals: Mapping[tuple[str, str], Any],
    unit: str,
    group: str,
    codes: Sequence[str],
    all_codes: Sequence[str],
) -> float:
    """The sum of ``codes`` as derivable from what is published, else NaN."""
    vals = [shown.get((unit, group, c)) for c in codes]
    if all(not _missing(v) for v in vals):
        return float(sum(int(v) for v in vals))
    total = totals.get((unit, group))
    rest = [shown.get((unit, group, c)) for c in all_codes if c not in codes]
    if not _missing(total) and all(not _missing(v) for v in rest):
        return float(int(total) - sum(int(v) for v in rest))
    return math.nan


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _share_status(x: float, n: float, *, small: int, min_den: int) -> str:
    """Whether a share ``x / n`` may be shown: never with a hidden or small numerator or
    denominator (it would imply a count of 1 .. small - 1), nor below ``min_den``."""
    if math.isnan(x) or math.isnan(n) or 0 < x < small or 0 < n < small:
        return STATUS_SUPPRESSED
    if n == 0:
        return STATUS_NONE
    if n < min_den:
        return STATUS_SMALL
    return STATUS_OK


def _wilson(x: float, n: float, level: float) -> tuple[float, float, float]:
    ci = proportion_ci(x, n, level=level).iloc[0]
    return float(ci["share"]), float(ci["ci_low"]), float(ci["ci_high"])


@dataclass(frozen=True, eq=False)
class ProviderSummary:
    """The published follow-up measures per provider, type and all providers.

    Built by :func:`provider_summary` from protected tables only. ``data`` has one row per unit
    (``enhet``) and measure (``matt``): ``niva`` (``provider``/``type``/``all``),
    ``utforartyp``, ``status`` (``ok``, ``few_ratings``, ``suppressed``, ``small``, ``none``),
    ``x`` and ``n`` (published numerator and denominator of a share; ``n`` is the number of
    ratings behind a mean), ``value`` (share 0–1 or mean 1–5), ``ci_low``/``ci_high`` (Wilson
    for shares, t for means, 95 %), ``shrunk``/``shrunk_low``/``shrunk_high`` (empirical
    Bayes), ``diff``/``diff_low``/``diff_high`` (provider minus the other providers of its type,
    interval Bonferroni-adjusted over the providers of the type with a value: Newcombe for
    shares, Welch for means), ``klass`` (:data:`CLASS_SV` keys) and ``adjusted_level``.
    ``counts`` holds the published counts per unit (started, ended, ratings; ``<NA>`` hidden).
    Every value is missing unless ``status == "ok"``.
    """

    data: pd.DataFrame
    counts: pd.DataFrame
    min_ratings: int
    rules: DisclosureRules
    level: float = 0.95
    method: str = (
        "Wilson (andelar), t-intervall (medelbetyg); skillnad mot övriga utförare av samma typ "
        "med Newcombe/Welch och Bonferronijustering; empirisk Bayes-krympning (beta-binomial "
        "respektive normal-normal)"
    )

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()

    def _repr_html_(self) -> str:
        return self.data.to_html(escape=True, index=False)

    def measure(self, measure: str) -> pd.DataFrame:
        return self.data[self.data["matt"] == measure].reset_index(drop=True)


def provider_summary(
    placements_pt: ProtectedTable,
    ratings_pt: ProtectedTable,
    moments: pd.DataFrame,
    providers: pd.DataFrame,
    *,
    min_ratings: int,
    raw_ratings: Mapping[str, int],
    level: float = 0.95,
) -> ProviderSummary:
    """Published measures per provider, type and all providers (see :class:`ProviderSummary`).

    Parameters
    ----------
    placements_pt, ratings_pt
        Protected :func:`placement_counts` and :func:`rating_counts`.
    moments
        :func:`rating_moments` (private); a mean is computed only where the protected count of
        ratings 1–5 behind it is shown and at least ``rules.min_denominator``.
    providers
        The providers table (id, name, type).
    min_ratings
        Providers with fewer ratings than this in the period get no value at all.
    raw_ratings
        Number of ratings per provider id (private): decides "för få bedömningar" also when the
        published count is hidden.
    """
    for pt in (placements_pt, ratings_pt):
        if not isinstance(pt, ProtectedTable):
            raise TypeError("provider_summary takes ProtectedTable objects (protect_linked)")
    rules = placements_pt.rules
    shown = {**_shown(placements_pt), **_shown(ratings_pt)}
    totals = {**_totals(placements_pt), **_totals(ratings_pt)}
    mom = moments.set_index([UNIT, "variabel"])
    prov = providers[providers["utforartyp"].isin(list(PROVIDER_TYPES))]
    type_of = dict(
        zip(prov["utforare_id"].astype(str), prov["utforartyp"].astype(str), strict=True)
    )
    units = [
        *((u, "provider", type_of[u]) for u in prov["utforare_id"].astype(str)),
        *((t, "type", t) for t in PROVIDER_TYPES),
        (ALL_PROVIDERS, "all", ""),
    ]
    few = {
        u
        for u, lvl, _ in units
        if lvl == "provider" and int(raw_ratings.get(u, 0)) < int(min_ratings)
    }
    min_den = rules.min_denominator
    small = rules.min_count

    count_rows = []
    for u, lvl, t in units:
        hide = u in few
        ended = totals.get((u, "avslut"))
        n_ratings = totals.get((u, "bedomningar"))
        count_rows.append(
            {
                UNIT: u,
                "niva": lvl,
                "utforartyp": t,
                "avslutade": pd.NA if hide or _missing(ended) else int(ended),
                "bedomningar": pd.NA if hide or _missing(n_ratings) else int(n_ratings),
                "bedomningar_status": STATUS_FEW
                if hide
                else (STATUS_OK if lvl != "provider" else "not_published"),
                "status": STATUS_FEW if hide else STATUS_OK,
            }
        )
    counts = pd.DataFrame(count_rows)
    for c in ("avslutade", "bedomningar"):
        counts[c] = counts[c].astype("Int64")

    rows = []
    for u, lvl, t in units:
        for m in MEASURES.values():
            row: dict[str, Any] = {UNIT: u, "niva": lvl, "utforartyp": t, "matt": m.id}
            value = low = high = math.nan
            x = n = math.nan
            var = math.nan
            if u in few:
                status = STATUS_FEW
            elif m.group in ("avslut", "maluppfyllelse"):
                codes = AVSLUT_CODES if m.group == "avslut" else MAL_CODES
                x = _derived_sum(shown, totals, u, m.group, m.numerator, codes)
                n = _derived_sum(shown, totals, u, m.group, m.denominator, codes)
                status = _share_status(x, n, small=small, min_den=min_den)
                if status == STATUS_OK:
                    value, low, high = _wilson(x, n, level)
            else:  # from the ratings: shown only with a shown number of ratings
                mm = mom.loc[(u, m.group)] if (u, m.group) in mom.index else None
                n = 0.0 if mm is None else float(mm["n"])
                if lvl != "provider" and _missing(totals.get((u, "bedomningar"))):
                    status = STATUS_SUPPRESSED
                elif m.kind == "share":
                    x = float(mm["sum"]) if mm is not None else 0.0
                    # neither the yes nor the no answers may be a small number
                    status = _share_status(x, n, small=small, min_den=min_den)
                    if status == STATUS_OK and 0 < n - x < small:
                        status = STATUS_SUPPRESSED
                    if status == STATUS_OK:
                        value, low, high = _wilson(x, n, level)
                else:
                    status = STATUS_NONE if n == 0 else STATUS_SMALL if n < min_den else STATUS_OK
                    if status == STATUS_OK:
                        assert mm is not None
                        value, sd, low, high = mean_ci(
                            n, float(mm["sum"]), float(mm["sumsq"]), level=level
                        )
                        var = sd * sd
            if status != STATUS_OK:
                x = n = math.nan
            row.update(
                status=status, x=x, n=n, value=value, ci_low=low, ci_high=high, sample_var=var
            )
            rows.append(row)
    data = pd.DataFrame(rows)
    data = _compare_within_type(data, moments=mom, level=level)
    rated = data["matt"].isin(["placera_igen", *RATING_QUESTIONS])
    data.loc[rated, ["x", "n"]] = math.nan  # answer counts are never published
    return ProviderSummary(
        data=data.reset_index(drop=True),
        counts=counts,
        min_ratings=int(min_ratings),
        rules=rules,
        level=level,
    )


def _compare_within_type(
    data: pd.DataFrame, *, moments: pd.DataFrame, level: float
) -> pd.DataFrame:
    """Add shrinkage, the difference from the other providers of the type and the class."""
    data = data.assign(
        shrunk=math.nan,
        shrunk_low=math.nan,
        shrunk_high=math.nan,
        diff=math.nan,
        diff_low=math.nan,
        diff_high=math.nan,
        klass=CLASS_NONE,
        adjusted_level=math.nan,
    )
    for (t, mid), part in data[data["niva"] == "provider"].groupby(
        ["utforartyp", "matt"], sort=False
    ):
        m = MEASURES[mid]
        ok = part[part["status"] == STATUS_OK]
        typ = data[(data[UNIT] == t) & (data["matt"] == mid)].iloc[0]
        if ok.empty or typ["status"] != STATUS_OK:
            continue
        k = len(ok)
        adj = 1 - (1 - level) / k  # Bonferroni over the providers of the type with a value
        if m.kind == "share":
            sh = shrink_proportions(ok["x"].to_numpy(), ok["n"].to_numpy(), level=level)
            rest_x = float(typ["x"]) - ok["x"].to_numpy()
            rest_n = float(typ["n"]) - ok["n"].to_numpy()
            valid = rest_n > 0
            diff = risk_difference_ci(
                ok["x"].to_numpy(),
                ok["n"].to_numpy(),
                np.where(valid, rest_x, 0.0),
                np.where(valid, rest_n, 1.0),
                level=adj,
            )
            d, lo, hi = (
                np.where(valid, diff["difference"], np.nan),
                np.where(valid, diff["ci_low"], np.nan),
                np.where(valid, diff["ci_high"], np.nan),
            )
        else:
            sh = shrink_means(
                ok["value"].to_numpy(),
                ok["sample_var"].to_numpy(),
                ok["n"].to_numpy(),
                mu=float(typ["value"]),
                level=level,
            )
            tm = moments.loc[(t, m.group)]
            d, lo, hi = [], [], []
            for r in ok.itertuples():
                pm_ = moments.loc[(r.enhet, m.group)]
                rn = float(tm["n"] - pm_["n"])
                rs = float(tm["sum"] - pm_["sum"])
                rq = float(tm["sumsq"] - pm_["sumsq"])
                rmean, rsd, _, _ = mean_ci(rn, rs, rq) if rn >= 2 else (math.nan,) * 4
                dd = welch_difference(r.value, r.sample_var, r.n, rmean, rsd * rsd, rn, level=adj)
                d.append(dd[0])
                lo.append(dd[1])
                hi.append(dd[2])
            d, lo, hi = np.array(d), np.array(lo), np.array(hi)
        idx = ok.index
        data.loc[idx, "shrunk"] = sh["shrunk"].to_numpy()
        data.loc[idx, "shrunk_low"] = sh["low"].to_numpy()
        data.loc[idx, "shrunk_high"] = sh["high"].to_numpy()
        data.loc[idx, "diff"] = d
        data.loc[idx, "diff_low"] = lo
        data.loc[idx, "diff_high"] = hi
        data.loc[idx, "adjusted_level"] = adj
        data.loc[idx, "klass"] = [
            classify_difference(a, b, m.polarity) for a, b in zip(lo, hi, strict=True)
        ]
    return data.drop(columns=["sample_var"])


# --------------------------------------------------------------------------------------------
# Trend (types and all providers)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class YearlyTrend:
    """Breakdown share and "would place again" share per year, per type and all providers.

    ``data``: ``enhet``, ``ar``, ``matt`` (``sammanbrott`` / ``placera_igen``), ``status``,
    ``value``, ``ci_low``, ``ci_high`` (Wilson, 95 %), ``n`` (published denominator).
    """

    data: pd.DataFrame
    method: str = "Wilson 95 %"

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()

    def _repr_html_(self) -> str:
        return self.data.to_html(escape=True, index=False)


def yearly_trend(
    pt: ProtectedTable, *, years: tuple[int, int], level: float = 0.95
) -> YearlyTrend:
    """Yearly shares from the protected :func:`yearly_counts` (see :class:`YearlyTrend`)."""
    if not isinstance(pt, ProtectedTable):
        raise TypeError("yearly_trend takes a ProtectedTable (protect_provider_counts)")
    shown, totals = _shown(pt), _totals(pt)
    small, min_den = pt.rules.min_count, pt.rules.min_denominator
    rows = []
    for u in [*PROVIDER_TYPES, ALL_PROVIDERS]:
        for y in range(years[0], years[1] + 1):
            for mid, group in (
                ("sammanbrott", f"avslut_{y}"),
                ("placera_igen", f"placera_igen_{y}"),
            ):
                m = MEASURES[mid]
                codes = AVSLUT_CODES if mid == "sammanbrott" else IGEN_CODES
                x = _derived_sum(shown, totals, u, group, m.numerator, codes)
                n = _derived_sum(shown, totals, u, group, m.denominator, codes)
                value = low = high = math.nan
                if math.isnan(x) or math.isnan(n) or 0 < x < small or 0 < n < small:
                    status, n = STATUS_SUPPRESSED, math.nan
                elif n == 0:
                    status = STATUS_NONE
                elif n < min_den:
                    status, n = STATUS_SMALL, math.nan
                else:
                    status = STATUS_OK
                    ci = proportion_ci(x, n, level=level).iloc[0]
                    value, low, high = (
                        float(ci["share"]),
                        float(ci["ci_low"]),
                        float(ci["ci_high"]),
                    )
                rows.append(
                    {
                        UNIT: u,
                        "ar": y,
                        "matt": mid,
                        "status": status,
                        "value": value,
                        "ci_low": low,
                        "ci_high": high,
                        "n": n,
                    }
                )
    return YearlyTrend(pd.DataFrame(rows))


# --------------------------------------------------------------------------------------------
# Trend per provider (a verdict, never yearly values)
# --------------------------------------------------------------------------------------------

#: Measures with a per-provider trend: breakdown, "would place again" and every rating question.
TREND_MEASURES: tuple[str, ...] = ("sammanbrott", "placera_igen", *RATING_QUESTIONS)
#: Fewer years with data than this: "för lite data".
TREND_MIN_YEARS = 3
TREND_UP = "okande"
TREND_DOWN = "minskande"
TREND_FLAT = "ingen_saker_forandring"
TREND_LITTLE = "for_lite_data"
TREND_FEW = STATUS_FEW
#: Verdict -> what a report shows.
TREND_SV: dict[str, str] = {
    TREND_UP: "ökande",
    TREND_DOWN: "minskande",
    TREND_FLAT: "ingen säker förändring",
    TREND_LITTLE: "för lite data",
    TREND_FEW: "för få bedömningar",
}
#: Why a verdict is withheld (the suppression log's rule).
TREND_REASON_MIN_RATINGS = "min_ratings"
TREND_REASON_HIDDEN = "trend_value_not_shown"
TREND_REASON_YEARS = "trend_min_years"


def cochran_armitage(
    x: Sequence[float], n: Sequence[float], scores: Sequence[float]
) -> tuple[float, float, float]:
    """Cochran–Armitage test for a linear trend in proportions ``x / n`` over ``scores``.

    With N = Σnᵢ, p̄ = Σxᵢ/N and s̄ = Σnᵢsᵢ/N:
    z = Σxᵢ(sᵢ − s̄) / sqrt(p̄(1 − p̄) Σnᵢ(sᵢ − s̄)²), two-sided p from the standard normal
    (Armitage 1955; Agresti, *Categorical Data Analysis*, the linear-trend test for a 2 × I
    table). The slope is the least-squares slope of the proportion on the score,
    Σxᵢ(sᵢ − s̄) / Σnᵢ(sᵢ − s̄)² (change of the share per unit of score).

    Returns
    -------
    slope, z, p
        NaN when the scores do not vary; ``(0, 0, 1)`` when every outcome is the same (p̄ is 0
        or 1: nothing can change).
    """
    xa, na, sa = (np.asarray(v, dtype=float) for v in (x, n, scores))
    big_n = na.sum()
    if big_n <= 0:
        return (math.nan, math.nan, math.nan)
    sbar = (na * sa).sum() / big_n
    sxx = (na * (sa - sbar) ** 2).sum()
    if sxx <= 0:
        return (math.nan, math.nan, math.nan)
    pbar = xa.sum() / big_n
    t = (xa * (sa - sbar)).sum()
    if pbar <= 0 or pbar >= 1:
        return (0.0, 0.0, 1.0)
    z = t / math.sqrt(pbar * (1 - pbar) * sxx)
    return (t / sxx, z, float(2 * sps.norm.sf(abs(z))))


def linear_trend(
    n: Sequence[float], total: Sequence[float], sumsq: Sequence[float], scores: Sequence[float]
) -> tuple[float, float, float, float]:
    """Least-squares slope of individual values on a score, from per-score moments.

    Each group i holds nᵢ values with sum ``total[i]`` and sum of squares ``sumsq[i]`` at score
    sᵢ. The fit is ordinary least squares of the values on the score (intercept included):
    b = Sxy/Sxx, se = sqrt(RSS/(N − 2)/Sxx), t = b/se with N − 2 degrees of freedom, two-sided
    p (the usual t-test of a regression slope).

    Returns
    -------
    slope, se, t, p
        NaN when N < 3 or the scores do not vary.
    """
    na, ta, qa, sa = (np.asarray(v, dtype=float) for v in (n, total, sumsq, scores))
    big_n = na.sum()
    if big_n < 3:
        return (math.nan, math.nan, math.nan, math.nan)
    sbar = (na * sa).sum() / big_n
    ybar = ta.sum() / big_n
    sxx = (na * (sa - sbar) ** 2).sum()
    if sxx <= 0:
        return (math.nan, math.nan, math.nan, math.nan)
    sxy = ((sa - sbar) * ta).sum()
    syy = qa.sum() - big_n * ybar * ybar
    b = sxy / sxx
    rss = max(syy - b * sxy, 0.0)
    df = big_n - 2
    se = math.sqrt(rss / df / sxx)
    if se == 0:
        return (b, 0.0, math.inf if b else 0.0, 0.0 if b else 1.0)
    t = b / se
    return (b, se, t, float(2 * sps.t.sf(abs(t), df)))


def adjust_pvalues(p: Sequence[float], *, method: str = "holm") -> np.ndarray:
    """Multiplicity-adjusted p-values: ``"holm"`` (Holm 1979, family-wise error) or ``"bh"``
    (Benjamini–Hochberg 1995, false discovery rate). NaN stays NaN and is not counted."""
    pa = np.asarray(p, dtype=float)
    out = np.full(len(pa), np.nan)
    ok = np.flatnonzero(np.isfinite(pa))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(pa[ok], kind="stable")]
    ps = pa[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ps)
    elif method == "bh":
        adj = np.minimum.accumulate((m / np.arange(1, m + 1) * ps)[::-1])[::-1]
    else:
        raise ValueError(f"unknown method {method!r}; use 'holm' or 'bh'")
    out[order] = np.minimum(adj, 1.0)
    return out


def _year_moments(
    unit: pd.Series, year: pd.Series, value: pd.Series, measure: str
) -> pd.DataFrame:
    d = pd.DataFrame(
        {
            UNIT: unit.astype(str).to_numpy(),
            "ar": pd.to_numeric(year, errors="coerce").to_numpy(dtype=float),
            "v": pd.to_numeric(value, errors="coerce").to_numpy(dtype=float),
        }
    ).dropna()
    d["v2"] = d["v"] ** 2
    g = d.groupby([UNIT, "ar"]).agg(n=("v", "size"), sum=("v", "sum"), sumsq=("v2", "sum"))
    out = g.reset_index().assign(matt=measure)
    out["ar"] = out["ar"].astype("int64")
    out["n"] = out["n"].astype("int64")
    return out[[UNIT, "matt", "ar", "n", "sum", "sumsq"]]


def trend_moments(
    providers: pd.DataFrame,
    placements: pd.DataFrame,
    ratings: pd.DataFrame,
    *,
    years: tuple[int, int],
) -> pd.DataFrame:
    """Per provider, trend measure and year: count, sum and sum of squares (private zone).

    ``sammanbrott``: placements that ended that year (1 = breakdown, 0 = any other ending, as
    the measure's denominator); ``placera_igen``: ratings made that year (ja = 1, nej = 0);
    rating questions: the ratings 1–5 made that year. Columns ``enhet``, ``matt``, ``ar``,
    ``n``, ``sum``, ``sumsq``. Never published: only :func:`provider_trends`' verdicts are.
    """
    p = _with_type(_ended_in(placements, years), providers)
    parts = [
        _year_moments(
            p["utforare_id"],
            p["_slutar"],
            (_avslut_code(p) == "sammanbrott").astype("float64"),
            "sammanbrott",
        )
    ]
    r = _with_type(_in_years(ratings, years), providers)
    igen = r["placera_igen"].astype("str").map({"ja": 1.0, "nej": 0.0})
    parts.append(_year_moments(r["utforare_id"], r["ar"], igen, "placera_igen"))
    for q in RATING_QUESTIONS:
        s = r[q].astype("str")
        v = pd.to_numeric(s.where(s.isin(list(SUBSTANTIVE))), errors="coerce")
        parts.append(_year_moments(r["utforare_id"], r["ar"], v, q))
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True, eq=False)
class ProviderTrend:
    """Per provider and measure: is it changing over the period? (see :func:`provider_trends`)

    ``data`` has one row per provider (``enhet``, ``utforartyp``) and measure (``matt``,
    :data:`TREND_MEASURES`) with the published ``verdict`` (:data:`TREND_SV` keys) and
    ``reason`` (why a verdict is withheld: ``min_ratings``, ``trend_value_not_shown``,
    ``trend_min_years``; empty otherwise), and the internal test statistics ``n_years``,
    ``estimate`` (change per year: of the share, or of the mean rating), ``statistic`` (z or
    t), ``p_value`` and ``p_adjusted``. Only ``verdict`` is ever published: the statistics come
    from the providers' yearly counts, which are not published (docs/methods.md).
    """

    data: pd.DataFrame
    alpha: float
    adjust: str
    min_years: int
    method: str = (
        "Cochran–Armitage (andelar) och minsta kvadrat-lutning med t-test (medelbetyg) över "
        "år; Holmjustering över alla utförare och mått"
    )

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()

    def published(self) -> pd.DataFrame:
        """The columns a report may show: unit, type, measure, verdict, reason."""
        return self.data[[UNIT, "utforartyp", "matt", "verdict", "reason"]].copy()

    def _repr_html_(self) -> str:
        return self.published().to_html(escape=True, index=False)

    def verdict(self, unit: str, measure: str) -> str:
        d = self.data
        hit = d[(d[UNIT] == unit) & (d["matt"] == measure)]
        return str(hit["verdict"].iloc[0]) if len(hit) else TREND_LITTLE


def provider_trends(
    moments: pd.DataFrame,
    summary: ProviderSummary,
    *,
    min_years: int = TREND_MIN_YEARS,
    alpha: float = 0.05,
    adjust: str = "holm",
) -> ProviderTrend:
    """Trend verdict per provider and measure: ökande, minskande, ingen säker förändring, för
    lite data or för få bedömningar.

    A provider gets a tested verdict for a measure only when the summary shows its period value
    (status ``ok``: enough ratings, a published denominator of at least ``min_denominator``,
    no share that implies a small count) and it has data in at least ``min_years`` years of
    the period; otherwise "för lite data" (or "för få bedömningar" below ``min_ratings``). The
    test is Cochran–Armitage on the yearly shares (:func:`cochran_armitage`) or the t-test of
    the least-squares slope of the ratings on year (:func:`linear_trend`). The p-values are
    adjusted over every tested provider and measure of the data together (Holm by default,
    ``"bh"`` for Benjamini–Hochberg), so that noise is rarely called a trend and a verdict does
    not depend on which providers one report lists; ökande or minskande only when the adjusted
    p-value is below ``alpha``.

    Parameters
    ----------
    moments
        :func:`trend_moments` (private).
    summary
        :func:`provider_summary` of the same period: decides which values may be shown.
    """
    d = summary.data
    status = dict(zip(zip(d[UNIT], d["matt"], strict=True), d["status"], strict=True))
    prov = d[d["niva"] == "provider"].drop_duplicates(UNIT)
    # years with data per (provider, measure) as arrays n, sum, sumsq, year (one sort, no
    # per-group pandas indexing: the national data have some 2 000 groups)
    m = moments[moments["n"] > 0].sort_values([UNIT, "matt", "ar"], kind="stable")
    vals = m[["n", "sum", "sumsq", "ar"]].to_numpy(dtype=float)
    key = list(zip(m[UNIT].astype(str), m["matt"].astype(str), strict=True))
    starts = [i for i in range(len(key)) if i == 0 or key[i] != key[i - 1]]
    groups = {key[a]: vals[a:b] for a, b in zip(starts, [*starts[1:], len(key)], strict=True)}
    rows = []
    for u, t in zip(prov[UNIT], prov["utforartyp"], strict=True):
        for mid in TREND_MEASURES:
            row: dict[str, Any] = {
                UNIT: u,
                "utforartyp": t,
                "matt": mid,
                "verdict": TREND_LITTLE,
                "reason": "",
                "n_years": 0,
                "estimate": math.nan,
                "statistic": math.nan,
                "p_value": math.nan,
            }
            st = status.get((u, mid), STATUS_NONE)
            g = groups.get((u, mid))
            row["n_years"] = 0 if g is None else int(len(g))
            if st == STATUS_FEW:
                row.update(verdict=TREND_FEW, reason=TREND_REASON_MIN_RATINGS)
            elif st != STATUS_OK:
                row["reason"] = TREND_REASON_HIDDEN
            elif g is None or len(g) < min_years:
                row["reason"] = TREND_REASON_YEARS
            else:
                n, total, sumsq, year = g.T
                if MEASURES[mid].kind == "share":
                    est, stat, p = cochran_armitage(total, n, year)
                else:
                    est, _se, stat, p = linear_trend(n, total, sumsq, year)
                row.update(estimate=est, statistic=stat, p_value=p, verdict=TREND_FLAT)
            rows.append(row)
    data = pd.DataFrame(rows)
    # one family: every tested provider and measure of the data (the whole table a reader scans)
    data["p_adjusted"] = adjust_pvalues(data["p_value"], method=adjust)
    sig = data["p_adjusted"] < alpha
    data.loc[sig & (data["estimate"] > 0), "verdict"] = TREND_UP
    data.loc[sig & (data["estimate"] < 0), "verdict"] = TREND_DOWN
    return ProviderTrend(data=data, alpha=alpha, adjust=adjust, min_years=int(min_years))


def ratings_per_provider(ratings: pd.DataFrame, *, years: tuple[int, int]) -> dict[str, int]:
    """Number of ratings per provider id in ``years`` (private: decides "för få bedömningar")."""
    r = _in_years(ratings, years)
    return {str(k): int(v) for k, v in r["utforare_id"].astype(str).value_counts().items()}


def units_of(providers: pd.DataFrame, ids: Iterable[str]) -> list[str]:
    """Provider ids in report order: by name (never by an estimate), then id."""
    p = providers[providers["utforare_id"].isin(list(ids))]
    p = p.assign(_k=p["utforare_namn"].astype(str).str.casefold())
    return p.sort_values(["_k", "utforare_id"])["utforare_id"].astype(str).tolist()
