"""Children's and young people's own voice (brukarmedverkan): the child survey analysed.

The canonical table ``child_survey`` holds one row per invited child (13–20 years, placed or in
open care): whether the child answered at all (``besvarad``) and five Likert items coded ``1``
(*stämmer inte alls*) … ``5`` (*stämmer helt*) or ``vet_ej``. This module computes, as pure
functions over tidy frames:

* **counts over the linked set** (:func:`survey_counts`): per municipality, county and the nation,
  per item and per group of children (all, sex, age band 13–15/16–17/18–20, placed/open care),
  the invited children split into *agree* (4–5), *do not agree* (1–3) and *no position* (*vet
  ej*, the item skipped or the survey not answered); *vet ej* against everyone else; and the
  response split into answered / not answered. All groups of one population share the number invited, so
  :func:`workbench.disclosure.protect_linked` treats them as one family;
* **response rates** (:func:`response_rates`) and **shares agreeing** (:func:`agreement`) with
  Wilson intervals, from counts that may already be protected (a missing count gives a missing
  share). Results are withheld when fewer than ``min_answers`` children of a group answered
  (as the SKR survey does), and a share is not shown when fewer than ``min_denominator``
  substantive answers lie behind it;
* a **proportional-odds model** (ordered logit, :class:`statsmodels.miscmodels.ordinal_model.
  OrderedModel`) per item (:func:`ordinal_model`) with odds ratios and Wald intervals, and a
  **Brant test** of the proportional-odds assumption (:func:`brant_test`) reported as a caveat
  when it fails. Groups with fewer than ``min_answers`` substantive answers are left out of a
  model, and a model with fewer than ``min_answers`` answers in all is not fitted.

Results hold unprotected numbers (private zone); :mod:`workbench.views_voice` shows them only
after disclosure control. ``docs/methods.md`` (*Barns och ungas röst*) describes the methods.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from workbench import stats
from workbench.disclosure import Relation, check_relations
from workbench.followup import UNIT
from workbench.municipalities import NATIONAL, list_municipalities

__all__ = [
    "AGE_BANDS",
    "ANSWER_CODES",
    "DIMENSIONS",
    "ITEMS",
    "AgreementTable",
    "BrantResult",
    "OrdinalResult",
    "ResponseTable",
    "age_band",
    "agreement",
    "brant_test",
    "ordered_logit",
    "ordinal_model",
    "prepare_survey",
    "response_rates",
    "survey_counts",
    "survey_relations",
]

logger = logging.getLogger(__name__)

#: The survey's Likert items (columns of ``child_survey``), in report order.
ITEMS: tuple[str, ...] = (
    "kanner_mig_trygg",
    "blir_lyssnad_pa",
    "vet_min_plan",
    "far_hjalp_skola",
    "helhet",
)
#: Swedish item texts used when the catalogue has no entry for an item (the data contract's text).
ITEM_TEXT_SV: dict[str, str] = {
    "kanner_mig_trygg": "Jag känner mig trygg",
    "blir_lyssnad_pa": "Jag blir lyssnad på",
    "vet_min_plan": "Jag vet vad som ska hända (min plan)",
    "far_hjalp_skola": "Jag får hjälp med skolan",
    "helhet": "Jag är nöjd med stödet, helhetsbedömning",
}
#: Substantive answers in order; 4 and 5 count as agreeing.
LIKERT: tuple[str, ...] = ("1", "2", "3", "4", "5")
AGREE: tuple[str, ...] = ("4", "5")
DONT_KNOW = "vet_ej"
#: Age bands of the survey (derived from ``alder``, never stored).
AGE_BANDS: tuple[str, ...] = ("13-15", "16-17", "18-20")
_AGE_EDGES: tuple[tuple[str, int, int], ...] = (
    ("13-15", 13, 15),
    ("16-17", 16, 17),
    ("18-20", 18, 20),
)
#: Groups of children: dimension -> levels (``alla`` = everyone invited). Sex keeps ``okant`` so
#: that the levels add up to everyone; reports show girls and boys.
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "alla": ("alla",),
    "kon": ("flicka", "pojke", "okant"),
    "aldersband": AGE_BANDS,
    "enkatgrupp": ("placerad", "oppenvard"),
}
#: Codes of an item group in the linked counts (they add up to the children invited):
#: agreeing (4-5), not agreeing (1-3), and no position (*vet ej*, the item skipped, or the survey
#: not answered). The last is large wherever some children did not answer, so the complementary
#: suppression of a small count rarely has to hide one of the two counts behind a share.
ANSWER_CODES: tuple[str, ...] = ("instammer", "instammer_inte", "ej_stallning")
#: *Vet ej* is counted in a group of its own per item: ``vet_ej`` and everyone else invited.
VET_EJ_CODES: tuple[str, ...] = ("vet_ej", "ovriga")
#: Prefix of the table name of an item's *vet ej* group (``vet_ej.<item>``).
VET_EJ_TABLE = "vet_ej."
#: Codes of the response group ``svar`` in the linked counts.
RESPONSE_CODES: tuple[str, ...] = ("besvarad", "ej_besvarad")
RESPONSE = "svar"
#: Separators of the linked counts' group key: ``<item or svar>:<dimension>=<level>``.
SEP, EQ = ":", "="

#: Reasons a result is not shown.
REASON_TOO_FEW_ANSWERS = "for_fa_svar"
REASON_DENOMINATOR = "denominator"
REASON_SUPPRESSED = "suppressed"

#: Reference levels of the ordinal models' covariates.
REFERENCES: dict[str, str] = {
    "kon": "pojke",
    "aldersband": "13-15",
    "enkatgrupp": "oppenvard",
    "omrade": "ovriga_landet",
}
#: Levels a model covariate may take (other values, e.g. ``okant`` sex, are left out).
MODEL_LEVELS: dict[str, tuple[str, ...]] = {
    "kon": ("pojke", "flicka"),
    "aldersband": AGE_BANDS,
    "enkatgrupp": ("oppenvard", "placerad"),
    "omrade": ("ovriga_landet", "kommunen"),
}


def group_key(table: str, dimension: str, level: str) -> str:
    """The linked counts' group key, e.g. ``"kanner_mig_trygg:kon=flicka"``."""
    return f"{table}{SEP}{dimension}{EQ}{level}"


def all_group_keys() -> list[str]:
    """Every group key of :func:`survey_counts` (the response group and each item, per level)."""
    return [
        group_key(table, dim, level)
        for dim, levels in DIMENSIONS.items()
        for table in _tables()
        for level in levels
    ]


def split_group_key(key: str) -> tuple[str, str, str]:
    """``(table, dimension, level)`` of a group key made by :func:`group_key`."""
    table, rest = key.split(SEP, 1)
    dimension, level = rest.split(EQ, 1)
    return table, dimension, level


# --------------------------------------------------------------------------------------------
# Preparing the survey
# --------------------------------------------------------------------------------------------


def age_band(alder: pd.Series) -> pd.Series:
    """The survey's age band (``13-15``, ``16-17``, ``18-20``) of each age; missing outside."""
    age = pd.to_numeric(alder, errors="coerce").astype("Float64")
    out = pd.Series(pd.NA, index=alder.index, dtype="str")
    for label, lo, hi in _AGE_EDGES:
        out = out.mask(((age >= lo) & (age <= hi)).fillna(False), label)
    return out


def prepare_survey(data: pd.DataFrame, *, years: tuple[int, int] | None = None) -> pd.DataFrame:
    """The child survey ready for analysis: years filtered, string codes, ``aldersband`` added.

    Parameters
    ----------
    data
        Rows of ``child_survey`` (at least ``kommun``, ``ar``, ``kon``, ``alder``, ``enkatgrupp``,
        ``besvarad`` and the items of :data:`ITEMS`).
    years
        Inclusive survey years to keep; ``None`` keeps all.

    Returns
    -------
    pandas.DataFrame
        A copy with ``kommun``, ``kon``, ``enkatgrupp`` and the items as ``str`` (items missing
        where the child did not answer), ``besvarad`` as ``bool`` and ``aldersband`` added.
    """
    d = data
    if years is not None and len(d):
        ar = pd.to_numeric(d["ar"], errors="coerce")
        d = d[((ar >= years[0]) & (ar <= years[1])).fillna(False)]
    d = d.copy()
    for col in ("kommun", "kon", "enkatgrupp", *ITEMS):
        d[col] = d[col].astype("str")
    d["besvarad"] = d["besvarad"].astype("boolean").fillna(False).astype(bool)
    for item in ITEMS:  # an answer recorded for a child who did not answer is not an answer
        d[item] = d[item].mask(~d["besvarad"])
    d["aldersband"] = age_band(d["alder"])
    return d.reset_index(drop=True)


def _answer_code(values: pd.Series) -> pd.Series:
    """Map an item's answers to :data:`ANSWER_CODES`."""
    v = values.astype("str")
    out = pd.Series("ej_stallning", index=v.index, dtype="str")
    out = out.mask(v.isin(list(LIKERT)).fillna(False), "instammer_inte")
    out = out.mask(v.isin(list(AGREE)).fillna(False), "instammer")
    return out


def _vet_ej_code(values: pd.Series) -> pd.Series:
    """Map an item's answers to :data:`VET_EJ_CODES`."""
    v = values.astype("str")
    return pd.Series(
        np.where((v == DONT_KNOW).fillna(False), "vet_ej", "ovriga"), index=v.index, dtype="str"
    )


def _tables() -> dict[str, tuple[str, ...]]:
    """Table name -> its codes, in linked-count order."""
    out: dict[str, tuple[str, ...]] = {RESPONSE: RESPONSE_CODES}
    for item in ITEMS:
        out[item] = ANSWER_CODES
        out[VET_EJ_TABLE + item] = VET_EJ_CODES
    return out


# --------------------------------------------------------------------------------------------
# Linked counts
# --------------------------------------------------------------------------------------------


def survey_counts(data: pd.DataFrame) -> pd.DataFrame:
    """Counts of the prepared survey for every municipality, county and the nation.

    Parameters
    ----------
    data
        Output of :func:`prepare_survey` (all municipalities: the linked set).

    Returns
    -------
    pandas.DataFrame
        ``protect_linked`` input: ``enhet``, ``variabel`` (``<item or svar>:<dimension>=<level>``,
        see :func:`group_key`), ``kod`` (:data:`ANSWER_CODES` or :data:`RESPONSE_CODES`), ``n``
        and ``denominator`` (children invited in the unit × group). Every unit lists every code
        of every group, zeros included; county and national rows are sums of municipalities.
    """
    m = list_municipalities()[["municipality_code", "county_code"]].astype("str")
    municipalities = m["municipality_code"].tolist()
    tables = {
        RESPONSE: pd.Series(
            np.where(data["besvarad"], "besvarad", "ej_besvarad"), index=data.index, dtype="str"
        )
    }
    for item in ITEMS:
        tables[item] = _answer_code(data[item])
        tables[VET_EJ_TABLE + item] = _vet_ej_code(data[item])
    codes_of = _tables()
    frames = []
    for dim, levels in DIMENSIONS.items():
        level = (
            pd.Series("alla", index=data.index, dtype="str")
            if dim == "alla"
            else data[dim].astype("str")
        )
        for table, codes in tables.items():
            keys = pd.DataFrame({"kommun": data["kommun"], "level": level, "kod": codes})
            keys = keys[keys["level"].isin(list(levels)).fillna(False)]
            counts = keys.groupby(["kommun", "level", "kod"], observed=True).size()
            all_codes = codes_of[table]
            full = pd.MultiIndex.from_product(
                [municipalities, list(levels), list(all_codes)], names=["kommun", "level", "kod"]
            )
            n = counts.reindex(full, fill_value=0).rename("n").reset_index()
            n["variabel"] = table + SEP + dim + EQ + n["level"]
            frames.append(n.drop(columns="level"))
    per_muni = pd.concat(frames, ignore_index=True)
    county = per_muni.merge(m, left_on="kommun", right_on="municipality_code")
    lan = county.groupby(["county_code", "variabel", "kod"], sort=False)["n"].sum().reset_index()
    lan = lan.rename(columns={"county_code": UNIT})
    riket = per_muni.groupby(["variabel", "kod"], sort=False)["n"].sum().reset_index()
    riket[UNIT] = NATIONAL
    out = pd.concat([per_muni.rename(columns={"kommun": UNIT}), lan, riket], ignore_index=True)[
        [UNIT, "variabel", "kod", "n"]
    ]
    out["n"] = out["n"].astype("int64")
    out["denominator"] = out.groupby([UNIT, "variabel"], sort=False)["n"].transform("sum")
    out[UNIT] = out[UNIT].astype("str")
    out["variabel"] = out["variabel"].astype("str")
    out["kod"] = out["kod"].astype("str")
    return out


def survey_relations(counts: pd.DataFrame, *, table: str = "voice") -> list[Relation]:
    """The breakdowns of :func:`survey_counts` as relations to the overall figures.

    Per unit, table (response and each item) and code: the levels of each dimension (sex with
    ``okant``, the three age bands, placed and open care) add up to ``alla``; so do the numbers
    invited (the denominators, shared by all tables of one group of children). Only relations
    that hold on ``counts`` are returned: a child without a sex, an age in a band or a group is
    counted in ``alla`` only, and in that unit the breakdown is an inequality, not an equation.
    ``table`` is the table name the relations use for these counts.
    """
    units = counts[UNIT].astype("str").drop_duplicates().tolist()
    out: list[Relation] = []
    for u in units:
        for dim, levels in DIMENSIONS.items():
            if dim == "alla":
                continue
            out.append(
                Relation(
                    total=(table, u, group_key(RESPONSE, "alla", "alla"), None),
                    parts=[(table, u, group_key(RESPONSE, dim, lv), None) for lv in levels],
                )
            )
            for name, codes in _tables().items():
                for code in codes:
                    out.append(
                        Relation(
                            total=(table, u, group_key(name, "alla", "alla"), code),
                            parts=[(table, u, group_key(name, dim, lv), code) for lv in levels],
                        )
                    )
    holds = check_relations({table: counts}, out, unit=UNIT)
    if not all(holds):
        logger.info(
            "%d of %d survey breakdown relations do not hold exactly (children without a level) "
            "and are left out",
            holds.count(False),
            len(holds),
        )
    return [r for r, ok in zip(out, holds, strict=True) if ok]


# --------------------------------------------------------------------------------------------
# Response rates and shares agreeing (from raw or protected counts)
# --------------------------------------------------------------------------------------------


def _wide(counts: pd.DataFrame, n_col: str) -> pd.DataFrame:
    """Unit × group rows with one column per code (missing where a count is not shown)."""
    d = counts[[UNIT, "variabel", "kod", n_col]].copy()
    d[n_col] = pd.to_numeric(d[n_col], errors="coerce").astype("Float64")
    wide = d.pivot_table(
        index=[UNIT, "variabel"], columns="kod", values=n_col, aggfunc="first", dropna=False
    )
    wide.columns = [str(c) for c in wide.columns]
    wide = wide.reset_index()
    parts = wide["variabel"].map(split_group_key)
    wide["tabell"] = parts.str[0].astype("str")
    wide["dimension"] = parts.str[1].astype("str")
    wide["niva"] = parts.str[2].astype("str")
    return wide


@dataclass(frozen=True)
class ResponseTable:
    """Response rates: children invited and answering, per unit and group of children.

    Attributes
    ----------
    data
        One row per unit × group: ``enhet``, ``dimension``, ``niva``, ``invited``, ``answered``
        (``Float64``, missing where not shown), ``rate``, ``ci_low``, ``ci_high`` (Wilson 95 %),
        ``shown`` and ``reason``.
    method
        How the interval was computed.
    """

    data: pd.DataFrame
    method: str = "Wilson score interval, 95 %"

    def to_frame(self) -> pd.DataFrame:
        """Copy of :attr:`data`."""
        return self.data.copy()

    def _repr_html_(self) -> str:
        return self.data.to_html(escape=True, index=False, na_rep="..")


def response_rates(
    counts: pd.DataFrame,
    *,
    n: str = "n",
    denominator: str = "denominator",
    min_denominator: int = 10,
) -> ResponseTable:
    """Share of invited children who answered, with Wilson intervals, per unit and group.

    Parameters
    ----------
    counts
        :func:`survey_counts` output, or its protected version (``ProtectedTable.to_frame()``:
        counts missing where suppressed).
    n, denominator
        Columns holding the counts and the number invited.
    min_denominator
        A rate is shown only when at least this many were invited.

    Returns
    -------
    ResponseTable
    """
    d = counts[counts["variabel"].str.startswith(RESPONSE + SEP)]
    w = _wide(d, n)
    inv = (
        d.drop_duplicates([UNIT, "variabel"])
        .set_index([UNIT, "variabel"])[denominator]
        .pipe(pd.to_numeric, errors="coerce")
        .astype("Float64")
    )
    w["invited"] = inv.reindex(pd.MultiIndex.from_frame(w[[UNIT, "variabel"]])).to_numpy()
    w["answered"] = w["besvarad"]
    hidden = w["answered"].isna() | w["invited"].isna()
    small = (w["invited"].fillna(0) < min_denominator).to_numpy(dtype=bool)
    ok = ~hidden.to_numpy(dtype=bool) & ~small
    ci = stats.proportion_ci(
        np.where(ok, w["answered"].fillna(0).to_numpy(dtype=float), 0.0),
        np.where(ok, w["invited"].fillna(0).to_numpy(dtype=float), 0.0),
        method="wilson",
    )
    out = w[[UNIT, "dimension", "niva", "invited", "answered"]].copy()
    for col, src in (("rate", "share"), ("ci_low", "ci_low"), ("ci_high", "ci_high")):
        out[col] = pd.array(np.where(ok, ci[src].to_numpy(), np.nan), dtype="Float64")
        out[col] = out[col].mask(~ok)
    out["shown"] = ok
    out["reason"] = np.where(ok, "", np.where(hidden, REASON_SUPPRESSED, REASON_DENOMINATOR))
    out["reason"] = out["reason"].astype("str")
    return ResponseTable(out.reset_index(drop=True))


@dataclass(frozen=True)
class AgreementTable:
    """Share of children agreeing (4–5 of the substantive answers 1–5) per item, unit and group.

    Attributes
    ----------
    data
        One row per unit × item × group: ``enhet``, ``tabell`` (item), ``dimension``, ``niva``,
        ``answered`` (children in the group who answered the survey), ``n_agree``,
        ``n_disagree``, ``n_vet_ej``, ``substantive`` (agree + do not agree), ``share`` (agreeing
        of substantive), ``ci_low``, ``ci_high`` (Wilson 95 %), ``vet_ej_share`` (*vet ej* of the
        children who answered the item), ``shown`` and ``reason`` (``""``, ``"for_fa_svar"``:
        fewer than ``min_answers`` answered; ``"suppressed"``: a count is hidden by disclosure
        control; ``"denominator"``: fewer than ``min_denominator`` substantive answers).
    min_answers, min_denominator
        Thresholds applied.
    method
        Interval method.
    """

    data: pd.DataFrame
    min_answers: int
    min_denominator: int
    method: str = "Wilson score interval, 95 %"

    def to_frame(self) -> pd.DataFrame:
        """Copy with counts and shares missing where the row is withheld (too few answered)."""
        out = self.data.copy()
        few = (out["reason"] == REASON_TOO_FEW_ANSWERS).to_numpy()
        for c in ("n_agree", "n_disagree", "n_vet_ej", "substantive", "vet_ej_share"):
            out[c] = out[c].mask(few)
        return out

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(escape=True, index=False, na_rep="..")


def agreement(
    counts: pd.DataFrame,
    *,
    n: str = "n",
    answered_from: str | None = None,
    min_answers: int = 10,
    min_denominator: int = 10,
) -> AgreementTable:
    """Share agreeing (answers 4–5 of 1–5) with Wilson intervals; *vet ej* reported separately.

    Parameters
    ----------
    counts
        :func:`survey_counts` output or its protected version (counts missing where suppressed).
        The number who answered a group comes from the ``svar`` group of the same unit.
    n
        Column holding the counts (the published ones: missing where suppressed).
    answered_from
        Column holding the *raw* counts, used only to decide whether enough children answered
        (e.g. ``"n"`` of ``ProtectedTable.data``, where ``n_shown`` is published). The decision
        publishes no number, and a group where everyone answered (its count hidden by the
        attribute rule) keeps its results. ``None``: take the number answered from ``n``.
    min_answers
        Results of a unit × group are withheld when fewer children than this answered the survey
        (or, without ``answered_from``, when that number is suppressed).
    min_denominator
        A share agreeing is shown only when at least this many substantive answers lie behind
        it (and the *vet ej* share only when this many answered the item).

    Returns
    -------
    AgreementTable
    """
    w = _wide(counts, n)
    resp = w[w["tabell"] == RESPONSE].set_index([UNIT, "dimension", "niva"])["besvarad"]
    vet = w[w["tabell"].str.startswith(VET_EJ_TABLE)].copy()
    vet["tabell"] = vet["tabell"].str.removeprefix(VET_EJ_TABLE)
    vet = vet.set_index([UNIT, "tabell", "dimension", "niva"])["vet_ej"]
    d = w[w["tabell"].isin(list(ITEMS))].copy()
    idx = pd.MultiIndex.from_frame(d[[UNIT, "dimension", "niva"]])
    d["answered"] = resp.reindex(idx).to_numpy()
    gate = d["answered"]
    if answered_from is not None:
        raw = _wide(counts[counts["variabel"].str.startswith(RESPONSE + SEP)], answered_from)
        raw = raw.set_index([UNIT, "dimension", "niva"])["besvarad"]
        gate = pd.Series(raw.reindex(idx).to_numpy(), index=d.index)
    d["n_agree"] = d["instammer"]
    d["n_disagree"] = d["instammer_inte"]
    d["n_vet_ej"] = vet.reindex(
        pd.MultiIndex.from_frame(d[[UNIT, "tabell", "dimension", "niva"]])
    ).to_numpy()
    d["substantive"] = d["n_agree"] + d["n_disagree"]
    item_answers = d["substantive"] + d["n_vet_ej"]
    few = (gate.isna() | (gate < min_answers)).to_numpy(dtype=bool)
    hidden = (d["n_agree"].isna() | d["n_disagree"].isna()).to_numpy(dtype=bool)
    small = (d["substantive"].fillna(0) < min_denominator).to_numpy(dtype=bool)
    ok = ~few & ~hidden & ~small
    ci = stats.proportion_ci(
        np.where(ok, d["n_agree"].fillna(0).to_numpy(dtype=float), 0.0),
        np.where(ok, d["substantive"].fillna(0).to_numpy(dtype=float), 0.0),
        method="wilson",
    )
    for col, src in (("share", "share"), ("ci_low", "ci_low"), ("ci_high", "ci_high")):
        d[col] = pd.array(np.where(ok, ci[src].to_numpy(), np.nan), dtype="Float64")
        d[col] = d[col].mask(~ok)
    vet_ok = (
        ~few
        & ~(d["n_vet_ej"].isna() | item_answers.isna()).to_numpy(dtype=bool)
        & (item_answers.fillna(0) >= min_denominator).to_numpy(dtype=bool)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        vshare = (d["n_vet_ej"] / item_answers).astype("Float64")
    d["vet_ej_share"] = vshare.mask(~vet_ok)
    d["shown"] = ok
    d["reason"] = np.where(
        ok,
        "",
        np.where(
            few, REASON_TOO_FEW_ANSWERS, np.where(hidden, REASON_SUPPRESSED, REASON_DENOMINATOR)
        ),
    )
    d["reason"] = d["reason"].astype("str")
    cols = [
        UNIT,
        "tabell",
        "dimension",
        "niva",
        "answered",
        "n_agree",
        "n_disagree",
        "n_vet_ej",
        "substantive",
        "share",
        "ci_low",
        "ci_high",
        "vet_ej_share",
        "shown",
        "reason",
    ]
    return AgreementTable(
        d[cols].reset_index(drop=True), min_answers=min_answers, min_denominator=min_denominator
    )


# --------------------------------------------------------------------------------------------
# Proportional-odds models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrantResult:
    """Brant's (1990) Wald test of the proportional-odds (parallel lines) assumption.

    The cumulative binary logits ``P(y > j)`` are fitted separately for every cut ``j``; under
    proportional odds their slopes are equal. The test compares them with their joint covariance.

    Attributes
    ----------
    chi2, df, p_value
        Omnibus test over all terms (``nan`` when it could not be computed).
    terms
        One row per term: ``term``, ``chi2``, ``df``, ``p_value``, and the slope per cut
        (columns ``cut_<j>``), for reading which term departs.
    cuts
        The cuts used (answers above which ``y > j``); cuts with too few answers on one side are
        left out.
    holds
        ``False`` when ``p_value < alpha``; ``None`` when the test was not computed.
    """

    chi2: float
    df: int
    p_value: float
    terms: pd.DataFrame
    cuts: tuple[str, ...]
    alpha: float = 0.05
    method: str = "Brant (1990) Wald test on separate cumulative logits"

    @property
    def holds(self) -> bool | None:
        if not np.isfinite(self.p_value):
            return None
        return bool(self.p_value >= self.alpha)


def _design(frame: pd.DataFrame, covariates: Mapping[str, str]) -> pd.DataFrame:
    """Treatment-coded dummies ``<covariate>[T.<level>]`` for string or categorical columns."""
    cols = {}
    for cov, ref in covariates.items():
        values = frame[cov].astype("str")
        levels = [lv for lv in dict.fromkeys(sorted(values.dropna().unique())) if lv != ref]
        order = MODEL_LEVELS.get(cov)
        if order:
            levels = [lv for lv in order if lv in set(levels)]
        for lv in levels:
            cols[f"{cov}[T.{lv}]"] = (values == lv).fillna(False).astype("float64").to_numpy()
    return pd.DataFrame(cols, index=frame.index)


def brant_test(
    y: pd.Series, X: pd.DataFrame, *, min_per_side: int = 10, alpha: float = 0.05
) -> BrantResult:
    """Brant's test of proportional odds for an ordered outcome and a numeric design.

    Parameters
    ----------
    y
        Ordered categorical outcome (categories in order).
    X
        Covariates without a constant (e.g. treatment dummies).
    min_per_side
        A cut is used only when at least this many observations lie on each side.
    alpha
        Level at which the assumption is said not to hold.
    """
    import statsmodels.api as sm

    cats = list(y.cat.categories)
    codes = y.cat.codes.to_numpy()
    Xc = np.column_stack([np.ones(len(X)), X.to_numpy(dtype="float64")])
    p = X.shape[1]
    cuts, betas, infos, fitted = [], [], [], []
    for j in range(len(cats) - 1):
        above = (codes > j).astype("float64")
        if min(above.sum(), len(above) - above.sum()) < min_per_side:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = sm.Logit(above, Xc).fit(disp=False, maxiter=200)
        except Exception:  # perfect separation or a singular design: the cut is unusable
            continue
        pi = res.predict(Xc)
        info = Xc.T @ (Xc * (pi * (1 - pi))[:, None])
        if not np.all(np.isfinite(res.params)) or np.linalg.cond(info) > 1e12:
            continue
        cuts.append(str(cats[j]))
        betas.append(np.asarray(res.params))
        infos.append(np.linalg.inv(info))
        fitted.append(pi)
    terms = pd.DataFrame({"term": list(X.columns)})
    for c, b in zip(cuts, betas, strict=True):
        terms[f"cut_{c}"] = b[1:]
    nan_result = BrantResult(np.nan, 0, np.nan, terms, tuple(cuts), alpha)
    k = len(cuts)
    if k < 2 or p == 0:
        return nan_result
    # Joint covariance of the cut-wise estimates (Brant 1990, eq. 2.3): for cuts j < l the
    # events are nested, so Cov(1[y>j], 1[y>l]) = pi_l - pi_j * pi_l.
    V = np.zeros((k * (p + 1), k * (p + 1)))
    for a in range(k):
        for b in range(a, k):
            if a == b:
                block = infos[a]
            else:
                w = fitted[b] - fitted[a] * fitted[b]
                block = infos[a] @ (Xc.T @ (Xc * w[:, None])) @ infos[b]
            V[a * (p + 1) : (a + 1) * (p + 1), b * (p + 1) : (b + 1) * (p + 1)] = block
            V[b * (p + 1) : (b + 1) * (p + 1), a * (p + 1) : (a + 1) * (p + 1)] = block.T
    slopes = [i for a in range(k) for i in range(a * (p + 1) + 1, (a + 1) * (p + 1))]
    beta = np.concatenate([b[1:] for b in betas])
    Vs = V[np.ix_(slopes, slopes)]

    def wald(cols: Sequence[int]) -> tuple[float, int]:
        # Contrasts: slope of cut 0 minus slope of cut a, for the given terms.
        rows = []
        for a in range(1, k):
            for c in cols:
                r = np.zeros(k * p)
                r[c] = 1.0
                r[a * p + c] = -1.0
                rows.append(r)
        D = np.array(rows)
        diff = D @ beta
        cov = D @ Vs @ D.T
        stat = float(diff @ np.linalg.pinv(cov) @ diff)
        return stat, D.shape[0]

    per = []
    for c in range(p):
        s, df = wald([c])
        per.append((s, df, float(sps.chi2.sf(s, df))))
    terms["chi2"] = [x[0] for x in per]
    terms["df"] = [x[1] for x in per]
    terms["p_value"] = [x[2] for x in per]
    chi2, df = wald(list(range(p)))
    return BrantResult(
        float(chi2), int(df), float(sps.chi2.sf(chi2, df)), terms, tuple(cuts), alpha
    )


@dataclass(frozen=True)
class OrdinalResult:
    """A proportional-odds model of one item (ordered logit).

    Attributes
    ----------
    item
        The survey item.
    status
        ``"ok"``, ``"too_few"`` (fewer than ``min_answers`` substantive answers) or ``"failed"``.
    n
        Substantive answers in the model.
    estimates
        One row per compared group: ``covariate``, ``level``, ``reference``, ``n_level``
        (answers in the group), ``log_or``, ``se``, ``odds_ratio``, ``ci_low``, ``ci_high``
        (95 % Wald, on the odds-ratio scale), ``p_value``. An odds ratio above 1 means the group
        answers higher (agrees more) than the reference group.
    thresholds
        The cut points on the logit scale, ``cut`` (e.g. ``"1|2"``) and ``value``.
    proportional_odds
        Brant's test (:func:`brant_test`), or ``None`` when the model was not fitted.
    excluded
        Groups left out because fewer than ``min_answers`` answered: ``covariate``, ``level``,
        ``n``.
    warnings
        Caveats in Swedish (e.g. the proportional-odds assumption does not hold).
    """

    item: str
    status: str
    n: int
    estimates: pd.DataFrame
    thresholds: pd.DataFrame
    proportional_odds: BrantResult | None
    excluded: pd.DataFrame
    warnings: tuple[str, ...] = ()
    method: str = (
        "Proportional-odds (ordered logit) model, statsmodels OrderedModel, maximum likelihood; "
        "95 % Wald intervals; Brant test of proportional odds"
    )

    def to_frame(self) -> pd.DataFrame:
        """The estimates with the item and the model's status."""
        return self.estimates.assign(item=self.item, status=self.status)

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(escape=True, index=False)


_EST_COLUMNS = (
    "covariate",
    "level",
    "reference",
    "n_level",
    "log_or",
    "se",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "p_value",
)


def ordered_logit(
    frame: pd.DataFrame, *, outcome: str, covariates: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """Fit an ordered logit of ``outcome`` (ordered categorical) on treatment-coded covariates.

    Returns ``(estimates, thresholds, statsmodels result)``; the estimates follow statsmodels'
    parametrisation ``P(y <= j) = F(theta_j - x'beta)``, so ``exp(beta)`` is the odds ratio of
    answering higher.
    """
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    X = _design(frame, covariates)
    y = frame[outcome]
    if X.shape[1] == 0:
        raise ValueError("the model has no covariate with two or more levels")
    model = OrderedModel(y, X, distr="logit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(method="bfgs", disp=False, maxiter=2000, gtol=1e-8)
    names = list(X.columns)
    params = np.asarray(res.params)
    bse = np.asarray(res.bse)
    z = sps.norm.ppf(0.975)
    rows = []
    for i, name in enumerate(names):
        cov, level = name.split("[T.", 1)
        level = level.rstrip("]")
        b, se = float(params[i]), float(bse[i])
        rows.append(
            {
                "covariate": cov,
                "level": level,
                "reference": covariates[cov],
                "n_level": int(X[name].sum()),
                "log_or": b,
                "se": se,
                "odds_ratio": float(np.exp(b)),
                "ci_low": float(np.exp(b - z * se)),
                "ci_high": float(np.exp(b + z * se)),
                "p_value": float(2 * sps.norm.sf(abs(b / se))) if se > 0 else np.nan,
            }
        )
    cats = [str(c) for c in y.cat.categories]
    th = model.transform_threshold_params(params)[1:-1]
    thresholds = pd.DataFrame(
        {"cut": [f"{a}|{b}" for a, b in zip(cats[:-1], cats[1:], strict=True)], "value": th}
    )
    return pd.DataFrame(rows, columns=list(_EST_COLUMNS)), thresholds, res


def _empty_result(
    item: str, status: str, n: int, excluded: pd.DataFrame, text: str
) -> OrdinalResult:
    return OrdinalResult(
        item=item,
        status=status,
        n=n,
        estimates=pd.DataFrame(columns=list(_EST_COLUMNS)),
        thresholds=pd.DataFrame(columns=["cut", "value"]),
        proportional_odds=None,
        excluded=excluded,
        warnings=(text,) if text else (),
    )


def ordinal_model(
    data: pd.DataFrame,
    item: str,
    *,
    covariates: Sequence[str] = ("kon", "aldersband", "enkatgrupp"),
    kommun: str | None = None,
    min_answers: int = 10,
    alpha: float = 0.05,
) -> OrdinalResult:
    """Proportional-odds model of one item on sex, age band and group (ordered logit).

    Parameters
    ----------
    data
        Prepared survey (:func:`prepare_survey`); only substantive answers 1–5 are modelled
        (*vet ej* and no answer are left out).
    item
        One of :data:`ITEMS`.
    covariates
        Covariates among ``kon``, ``aldersband``, ``enkatgrupp`` (references in
        :data:`REFERENCES`).
    kommun
        If given, adds ``omrade``: this municipality compared with the rest of the country
        (only when the municipality has at least ``min_answers`` substantive answers).
    min_answers
        Groups (covariate levels) with fewer substantive answers are left out of the model; a
        model with fewer answers in all is not fitted (status ``"too_few"``).
    alpha
        Level of the proportional-odds test.

    Returns
    -------
    OrdinalResult
    """
    d = data[data[item].isin(list(LIKERT)).fillna(False)].copy()
    excluded_rows: list[dict[str, object]] = []
    covs = list(covariates)
    if kommun is not None:
        d["omrade"] = np.where(d["kommun"] == kommun, "kommunen", "ovriga_landet")
        covs.append("omrade")
    for cov in covs:
        allowed = MODEL_LEVELS[cov]
        values = d[cov].astype("str")
        d = d[values.isin(list(allowed)).fillna(False)]
        sizes = d[cov].astype("str").value_counts()
        for lv in allowed:
            if 0 < int(sizes.get(lv, 0)) < min_answers:
                excluded_rows.append({"covariate": cov, "level": lv, "n": int(sizes.get(lv, 0))})
        small = [lv for lv in allowed if int(sizes.get(lv, 0)) < min_answers]
        d = d[~d[cov].astype("str").isin(small)]
    excluded = pd.DataFrame(excluded_rows, columns=["covariate", "level", "n"])
    n = len(d)
    if n < min_answers:
        return _empty_result(item, "too_few", n, excluded, "För få svar för att skatta en modell.")
    refs = {c: REFERENCES[c] for c in covs if d[c].astype("str").nunique() > 1}
    refs = {c: r for c, r in refs.items() if (d[c].astype("str") == r).any()}
    d[item] = pd.Categorical(d[item].astype("str"), categories=list(LIKERT), ordered=True)
    present = [c for c in LIKERT if (d[item] == c).any()]
    if len(present) < 2 or not refs:
        return _empty_result(
            item, "too_few", n, excluded, "Svaren varierar för lite för att skatta en modell."
        )
    d[item] = d[item].cat.set_categories(present, ordered=True)
    try:
        est, thresholds, _res = ordered_logit(d, outcome=item, covariates=refs)
    except (ValueError, np.linalg.LinAlgError) as exc:
        logger.warning("ordinal model for %s failed: %s", item, type(exc).__name__)
        return _empty_result(item, "failed", n, excluded, "Modellen kunde inte skattas.")
    brant = brant_test(d[item], _design(d, refs), alpha=alpha)
    notes = []
    if brant.holds is False:
        p_text = (
            "< 0,001" if brant.p_value < 0.001 else "= " + f"{brant.p_value:.3f}".replace(".", ",")
        )
        notes.append(
            f"Antagandet om proportionella odds håller inte (Brants test, p {p_text}). "
            "Oddskvoterna är ett genomsnitt över svarsstegen; skillnaden är inte lika stor vid "
            "alla steg."
        )
    if not np.all(np.isfinite(est["se"].to_numpy(dtype=float))):
        notes.append("Osäkerheten kunde inte skattas för alla jämförelser.")
    return OrdinalResult(
        item=item,
        status="ok",
        n=n,
        estimates=est,
        thresholds=thresholds,
        proportional_odds=brant,
        excluded=excluded,
        warnings=tuple(notes),
    )


@dataclass(frozen=True)
class VoiceSettings:
    """The ``voice:`` block of the parameters (see ``parameters/defaults.yaml``)."""

    min_answers: int = 10

    @classmethod
    def from_mapping(cls, m: Mapping[str, object] | None) -> VoiceSettings:
        """Validate the ``voice:`` block: ``min_answers`` a positive integer; no other keys."""
        m = dict(m or {})
        unknown = sorted(str(k) for k in m if k != "min_answers")
        if unknown:
            raise ValueError(f"unknown voice setting(s) {unknown}; known: ['min_answers']")
        v = m.get("min_answers", cls.min_answers)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"voice.min_answers must be a positive integer (unquoted), got {v!r}")
        return cls(min_answers=int(v))
