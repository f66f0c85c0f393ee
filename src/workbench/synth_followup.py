"""Synthetic placement-provider follow-up and children's survey (issue 10), with planted truths.

:func:`generate_followup` turns the synthetic register (``children``, ``interventions``,
``registrations`` from :func:`workbench.synth.generate`) into the four optional tables
``providers``, ``placements``, ``provider_ratings`` and ``child_survey`` and the ground-truth
sections ``providers`` and ``child_survey``. :func:`workbench.synth.generate` calls it, so the
demo dataset holds all four tables.

How the data come about (``docs/synthetic-data.md``, "Placement providers and the children's
survey"):

1. **Providers** (~300 at ``scale=1``: HVB, family-home organisations, supported housing) are
   spread over the counties in proportion to the county's placements of their type (each county
   has at least a few), each with a lognormal capacity weight.
2. **Placements** are the register's placement interventions: ``hvb`` → an HVB, ``familjehem`` or
   ``jourhem`` with a private or non-profit provider (``utforare``) → a family-home organisation,
   ``stodboende`` → supported housing. Dates, child, municipality and the ending (from the
   intervention's ending registration: planned, breakdown, other) and goal attainment come from the
   register. The provider is drawn (80 % within the county) with probability proportional to
   capacity × P(this ending | provider): that plants each provider's breakdown probability while
   keeping the register's endings.
3. **Ratings**: most ended placements get one social worker's rating, some ongoing ones a rating
   after six months. The four 1–5 items follow a proportional-odds (latent logistic) model with
   the provider's ``rating_shift`` as the only predictor, so an ordinal model recovers it.
4. **Children's survey**: every child aged 13–20 with a placement or an open-care intervention
   on 1 October of the last three years is invited; the response (about 55 %) and the five
   Likert items follow logistic / proportional-odds models with planted group differences.

Everything is drawn from streams keyed by the seed and a component name, so the register is
untouched by this module and the same configuration gives the same tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from workbench.catalogue import Catalogue, load_catalogue
from workbench.dataset import table_columns
from workbench.municipalities import list_municipalities

if TYPE_CHECKING:
    from workbench.synth import SynthConfig

GENERATOR_VERSION = "1.1"

# ------------------------------------------------------------------------------------------------
# Parameters ([P] = placeholder invented for the synthetic data)
# ------------------------------------------------------------------------------------------------

#: Placements per provider on average [P] (about 200 HVB, 50 family-home organisations and 50
#: supported-housing providers at scale 1), and the minimum per county with placements.
PLACEMENTS_PER_PROVIDER = {"hvb": 60, "familjehemsorg": 120, "stodboende": 100}
PROVIDER_MIN_PER_COUNTY = {"hvb": 2, "familjehemsorg": 1, "stodboende": 1}
#: Share of providers in public ownership, by type [P].
PUBLIC_SHARE = {"hvb": 0.20, "familjehemsorg": 0.08, "stodboende": 0.45}
#: Lognormal sigma of the capacity weights (a few large providers, many small) [P].
CAPACITY_SIGMA = 0.9
#: Intervention type → provider type; family homes only with a private or non-profit provider.
PROVIDER_TYPE_OF = {
    "hvb": "hvb",
    "familjehem": "familjehemsorg",
    "jourhem": "familjehemsorg",
    "stodboende": "stodboende",
}
FAMILY_HOME_PROVIDERS = ("privat", "ideell")
#: Probability that a placement goes to a provider in the placing municipality's county [P].
IN_COUNTY = 0.80
#: The register's reason for ending → the placement's ending.
ENDING_OF = {
    "enligt_plan": "planerat",
    "ersatt_annan_insats": "planerat",
    "sammanbrott": "sammanbrott",
    "avbruten_barn_familj": "sammanbrott",
    "flytt": "annat",
    "aldersgrans": "annat",
    "annat": "annat",
}
ENDING_FALLBACK = {"planerat": 0.55, "sammanbrott": 0.30, "annat": 0.15}

#: Planted providers: (type, county or None, relative risk of breakdown, rating log-odds shift).
#: One clearly worse and one clearly better HVB sit in the demo county Västernorrland (22).
PLANTED_WORSE = [
    ("hvb", "22", 1.8, -1.2),
    ("hvb", "01", 1.8, -1.2),
    ("hvb", "14", 1.7, -1.0),
    ("familjehemsorg", "01", 1.7, -1.0),
]
PLANTED_BETTER = [
    ("hvb", "22", 0.35, 1.0),
    ("hvb", "01", 0.35, 1.0),
    ("hvb", "12", 0.40, 0.9),
    ("stodboende", "01", 0.40, 0.9),
]
#: Capacity of a planted provider: this quantile of its type's weights, times this factor.
PLANTED_CAPACITY = (0.90, 1.5)
#: Tiny providers: (type, county, number of placements; all ended and rated once each).
TINY_PROVIDERS = [("hvb", "22", 2), ("hvb", "01", 3), ("stodboende", "12", 4), ("hvb", "14", 2)]
#: Planted trends in the ratings 1–5: (type, log-odds per year). The null provider of the type
#: with the most placements gets a rating shift that changes linearly by this much per year,
#: centred on the mean year of its ratings so that its average over the period is unchanged
#: ("would place again" keeps shift 0: its yes-share is not linear in the shift). Only these
#: providers' ratings change; every other draw is the same.
PLANTED_TRENDS = [("hvb", 0.6), ("familjehemsorg", -0.6)]
#: Ratings: P(rated) for ended placements, ongoing ones (after 6 months) and the delays [P].
RATED_ENDED = 0.85
RATED_ONGOING = 0.30
RATING_DELAY_DAYS = 45
#: Baseline distribution of the 1–5 ratings (a provider with shift 0) [P].
RATING_BASE = {
    "betyg_behandling": [0.05, 0.10, 0.25, 0.40, 0.20],
    "betyg_samarbete": [0.04, 0.08, 0.20, 0.43, 0.25],
    "betyg_trygghet": [0.03, 0.07, 0.20, 0.42, 0.28],
    "betyg_mal": [0.07, 0.13, 0.30, 0.35, 0.15],
}
RATING_VET_EJ = {"betyg_behandling": 0.03, "betyg_samarbete": 0.02, "betyg_trygghet": 0.03}
RATING_VET_EJ_GOAL = {"ended": 0.05, "ongoing": 0.20}
#: placera_igen: P(ja) = expit(logit(PLACE_AGAIN_BASE) + PLACE_AGAIN_SLOPE × rating_shift).
PLACE_AGAIN_BASE = 0.78
PLACE_AGAIN_SLOPE = 1.2
PLACE_AGAIN_OKANT = 0.04
#: Minimum number of ratings behind a published provider value (issue 8's threshold rule).
MIN_RATINGS = 5

#: The children's survey: years (the last N of the register), survey day, ages [P].
CHILD_SURVEY_YEARS = 3
CHILD_SURVEY_DAY = "10-01"
CHILD_SURVEY_AGES = (13, 20)
AGE_BANDS = {"13-15": (13, 15), "16-17": (16, 17), "18-20": (18, 20)}
#: Response: overall target and log-odds effects by group; county effect sd [P].
RESPONSE_TARGET = 0.55
RESPONSE_EFFECTS = {
    "enkatgrupp": {"placerad": -0.30},
    "kon": {"flicka": 0.25},
    "aldersband": {"18-20": -0.50},
}
RESPONSE_COUNTY_SD = 0.15
#: Baseline answer distributions 1–5 (reference group) and "vet inte" shares [P].
SURVEY_BASE = {
    "kanner_mig_trygg": [0.04, 0.06, 0.15, 0.35, 0.40],
    "blir_lyssnad_pa": [0.06, 0.09, 0.20, 0.35, 0.30],
    "vet_min_plan": [0.08, 0.12, 0.22, 0.30, 0.28],
    "far_hjalp_skola": [0.07, 0.10, 0.23, 0.32, 0.28],
    "helhet": [0.04, 0.08, 0.20, 0.38, 0.30],
}
SURVEY_VET_EJ = {"vet_min_plan": 0.07}
SURVEY_VET_EJ_DEFAULT = 0.04
SURVEY_ITEM_MISSING = 0.02
#: Planted group differences (log-odds shifts of the proportional-odds latent).
SURVEY_SHIFTED_COUNTY = "22"
SURVEY_EFFECTS: list[dict[str, Any]] = [
    {
        "item": "kanner_mig_trygg",
        "group": {"kon": "flicka", "enkatgrupp": "placerad"},
        "log_odds_shift": -0.8,
    },
    {"item": "vet_min_plan", "group": {"aldersband": "18-20"}, "log_odds_shift": -0.6},
    {"item": "blir_lyssnad_pa", "group": {"lan": SURVEY_SHIFTED_COUNTY}, "log_odds_shift": -0.7},
]

_STEMS = [
    "Björk",
    "Tall",
    "Gran",
    "Ek",
    "Lind",
    "Asp",
    "Rönn",
    "Al",
    "Sjö",
    "Berg",
    "Ängs",
    "Sol",
    "Ljung",
    "Hag",
    "Lärk",
    "Äppel",
    "Hassel",
    "Vide",
    "Ask",
    "Lönn",
    "Mos",
    "Myr",
    "Kvarn",
    "Bäck",
    "Strand",
    "Skogs",
    "Fjäll",
    "Sälg",
    "Hägg",
    "En",
]
_ENDS = [
    "gården",
    "backen",
    "hemmet",
    "udden",
    "viken",
    "dalen",
    "lunden",
    "höjden",
    "torpet",
    "näset",
    "gläntan",
    "bo",
]


def _rng(seed: int, *names: str) -> np.random.Generator:
    from workbench.synth import _rng as synth_rng

    return synth_rng(seed, "followup", *names)


def _hex_ids(rng: np.random.Generator, prefix: str, n: int) -> np.ndarray:
    from workbench.synth import _hex_ids as synth_hex_ids

    return synth_hex_ids(rng, prefix, n)


def _cutpoints(probs: list[float]) -> np.ndarray:
    """Proportional-odds cut-points θ_k = logit P(Y ≤ k) of a baseline distribution."""
    return logit(np.cumsum(probs)[:-1])


def _ordinal(rng: np.random.Generator, theta: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Draws 1..K with P(Y ≤ k) = expit(θ_k − η): a logistic latent η + ε cut at θ."""
    latent = eta + rng.logistic(size=len(eta))
    return 1 + (latent[:, None] > theta[None, :]).sum(axis=1)


def _band(age: np.ndarray) -> np.ndarray:
    out = np.full(len(age), "", dtype=object)
    for band, (lo, hi) in AGE_BANDS.items():
        out[(age >= lo) & (age <= hi)] = band
    return out


# ------------------------------------------------------------------------------------------------
# Providers and placements
# ------------------------------------------------------------------------------------------------


def _placement_frame(tables: Mapping[str, pd.DataFrame], cfg: SynthConfig) -> pd.DataFrame:
    """Placement interventions of the register that a provider follow-up covers."""
    ins = tables["interventions"]
    reg = tables["registrations"]
    keep = ins["insatstyp"].isin(list(PROVIDER_TYPE_OF)) & ins["insats_start"].notna()
    fam = ins["insatstyp"].isin(["familjehem", "jourhem"])
    keep &= ~fam | ins["utforare"].isin(list(FAMILY_HOME_PROVIDERS))
    years = ins["insats_start"].dt.year
    keep &= (years >= cfg.years[0]) & (years <= cfg.years[1])
    pl = ins.loc[
        keep, ["insats_id", "barn_id", "kommun", "insatstyp", "insats_start", "insats_slut"]
    ]
    ending = reg.loc[
        reg["registreringstyp"] == "avslut", ["insats_id", "avslutsorsak", "maluppfyllelse"]
    ].drop_duplicates("insats_id")
    pl = pl.merge(ending, on="insats_id", how="left", validate="1:1")
    pl = pl.sort_values(["insats_start", "insats_id"], ignore_index=True)
    mun = list_municipalities().set_index("municipality_code")["county_code"]
    pl["lan"] = pl["kommun"].map(mun).astype("str")
    pl["utforartyp"] = pl["insatstyp"].map(PROVIDER_TYPE_OF).astype("str")
    return pl


def _make_providers(rng: np.random.Generator, pl: pd.DataFrame) -> pd.DataFrame:
    counties = sorted(pl["lan"].unique())
    rows = []
    for typ, size in PLACEMENTS_PER_PROVIDER.items():
        per = pl.loc[pl["utforartyp"] == typ].groupby("lan").size().reindex(counties, fill_value=0)
        target = max(round(per.sum() / size), PROVIDER_MIN_PER_COUNTY[typ] * len(counties))
        share = per.to_numpy() / max(per.sum(), 1)
        n = np.maximum(PROVIDER_MIN_PER_COUNTY[typ], np.floor(share * target)).astype(int)
        for lan, k in zip(counties, n, strict=True):
            for _ in range(k):
                rows.append({"utforartyp": typ, "lan": lan})
    prov = pd.DataFrame(rows)
    prov["regi"] = np.where(
        rng.random(len(prov)) < prov["utforartyp"].map(PUBLIC_SHARE).to_numpy(),
        "offentlig",
        "enskild",
    )
    prov["weight"] = rng.lognormal(0.0, CAPACITY_SIGMA, len(prov))
    prov["relative_risk"] = 1.0
    prov["rating_shift"] = 0.0
    prov["planted"] = ""
    prov["tiny"] = 0
    # planted providers: a large existing provider of the type in the county (or the nation)
    for label, planted in (("worse", PLANTED_WORSE), ("better", PLANTED_BETTER)):
        for typ, lan, rr, shift in planted:
            cand = prov.index[
                (prov["utforartyp"] == typ) & (prov["planted"] == "") & (prov["lan"] == lan)
            ]
            if len(cand) == 0:  # county not generated (municipalities=...): another one
                cand = prov.index[(prov["utforartyp"] == typ) & (prov["planted"] == "")]
            if len(cand) < 2:  # keep at least one null provider of the type
                continue
            j = cand[0]
            q, factor = PLANTED_CAPACITY
            typ_w = prov.loc[prov["utforartyp"] == typ, "weight"]
            prov.loc[j, ["weight", "relative_risk", "rating_shift", "planted"]] = [
                float(np.quantile(typ_w, q) * factor),
                rr,
                shift,
                label,
            ]
    for typ, lan, k in TINY_PROVIDERS:
        lan_used = lan if lan in counties else counties[0]
        rows = {"utforartyp": typ, "lan": lan_used, "regi": "enskild", "weight": 0.0}
        rows.update(relative_risk=1.0, rating_shift=0.0, planted="", tiny=k)
        prov = pd.concat([prov, pd.DataFrame([rows])], ignore_index=True)
    # ids P + 5 digits in random order; names from stems, unique within the type
    numbers = rng.permutation(len(prov)) + 1
    prov["utforare_id"] = [f"P{n:05d}" for n in numbers]
    combos = [s + e for s in _STEMS for e in _ENDS]
    pattern = {"hvb": "HVB {}", "familjehemsorg": "{} Familjevård", "stodboende": "Stödboendet {}"}
    names = np.empty(len(prov), dtype=object)
    for typ, idx in sorted(prov.groupby("utforartyp").indices.items()):
        order = rng.permutation(len(combos))
        for i, j in enumerate(idx):
            stem = combos[order[i % len(combos)]].capitalize()
            suffix = f" {i // len(combos) + 1}" if i >= len(combos) else ""
            names[j] = pattern[str(typ)].format(stem) + suffix
    prov["utforare_namn"] = names
    # a real-looking name with characters that output must escape (& and quotes)
    first_stod = prov.index[prov["utforartyp"] == "stodboende"][0]
    prov.loc[first_stod, "utforare_namn"] = 'Stödboendet Ek & Ås "Unga vuxna"'
    return prov


def _base_of_set(w: np.ndarray, rr: np.ndarray, target: float) -> float:
    """Base q0 of a candidate set: capacity-weighted mean of clip(rr × q0) equals ``target``."""
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        mean = float((w * np.clip(rr * mid, 0.01, 0.95)).sum() / w.sum())
        lo, hi = (mid, hi) if mean < target else (lo, mid)
    return (lo + hi) / 2


def _assign(
    rng: np.random.Generator, pl: pd.DataFrame, prov: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Provider per placement, and the chosen provider's breakdown probability in its set.

    Per candidate set (the type's providers in the county, or in the nation), P(breakdown | j) =
    clip(relative_risk_j × q0), with q0 such that the set's capacity-weighted mean equals the set's
    realised breakdown share; then P(j | ending) ∝ capacity_j × P(ending | j) keeps every
    placement's register ending and gives provider j breakdowns with probability P(breakdown | j).
    """
    rr = prov["relative_risk"].to_numpy()
    w = prov["weight"].to_numpy()
    outcome = np.where(
        pl["placering_avslut"].isna(),
        "ongoing",
        np.where(pl["placering_avslut"] == "sammanbrott", "b", "nb"),
    )
    in_county = rng.random(len(pl)) < IN_COUNTY
    typ_arr = prov["utforartyp"].to_numpy()
    lan_arr = prov["lan"].to_numpy()
    has_local = {(t, lan) for t, lan, wt in zip(typ_arr, lan_arr, w, strict=True) if wt > 0}
    scope = np.where(
        in_county
        & np.array(
            [(t, lan) in has_local for t, lan in zip(pl["utforartyp"], pl["lan"], strict=True)]
        ),
        pl["lan"].to_numpy(),
        "all",
    )
    out = np.full(len(pl), -1)
    prob = np.full(len(pl), np.nan)
    keys = pd.DataFrame({"t": pl["utforartyp"].to_numpy(), "s": scope})
    for (typ, sc), idx in sorted(keys.groupby(["t", "s"]).indices.items()):
        cand = (typ_arr == typ) & (w > 0)
        if sc != "all":
            cand &= lan_arr == sc
        c = np.flatnonzero(cand)
        oc = outcome[idx]
        ended = oc != "ongoing"
        target = float((oc[ended] == "b").mean()) if ended.any() else 0.3
        q = np.clip(rr[c] * _base_of_set(w[c], rr[c], target), 0.01, 0.95)
        for o, factor in (("b", q), ("nb", 1 - q), ("ongoing", np.ones(len(c)))):
            sub = idx[oc == o]
            if len(sub):
                p = w[c] * factor
                pick = rng.choice(len(c), size=len(sub), p=p / p.sum())
                out[sub] = c[pick]
                prob[sub] = q[pick]
    return out, prob


def _tiny_placements(
    rng: np.random.Generator, pl: pd.DataFrame, prov: pd.DataFrame, who: np.ndarray
) -> None:
    """Move exactly k ended placements (from null providers) to each tiny provider."""
    null = (prov["relative_risk"] == 1.0).to_numpy() & (prov["tiny"] == 0).to_numpy()
    taken = np.zeros(len(pl), dtype=bool)
    for j in np.flatnonzero(prov["tiny"].to_numpy() > 0):
        k = int(prov.loc[j, "tiny"])
        typ, lan = prov.loc[j, "utforartyp"], prov.loc[j, "lan"]
        ok = (
            (pl["utforartyp"] == typ).to_numpy()
            & pl["slutdatum"].notna().to_numpy()
            & null[who]
            & ~taken
        )
        local = ok & (pl["lan"] == lan).to_numpy()
        pool = np.flatnonzero(local if local.sum() >= k else ok)
        k = min(k, len(pool))  # a small test dataset may not have enough
        prov.loc[j, "tiny"] = k
        pick = rng.choice(pool, size=k, replace=False)
        who[pick] = j
        taken[pick] = True


def _placements(
    rng: np.random.Generator, tables: Mapping[str, pd.DataFrame], cfg: SynthConfig
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    pl = _placement_frame(tables, cfg)
    ended = pl["insats_slut"].notna()
    avslut = pl["avslutsorsak"].map(ENDING_OF)
    fallback = rng.choice(
        list(ENDING_FALLBACK), size=len(pl), p=np.array(list(ENDING_FALLBACK.values()))
    )
    avslut = avslut.where(avslut.notna(), pd.Series(fallback, index=pl.index))
    pl["placering_avslut"] = avslut.where(ended)
    pl["maluppfyllelse"] = pl["maluppfyllelse"].where(ended)
    pl["startdatum"] = pl["insats_start"]
    pl["slutdatum"] = pl["insats_slut"]
    done = pl[ended]
    base = (done["placering_avslut"] == "sammanbrott").groupby(done["utforartyp"]).mean().to_dict()
    base = {t: float(base.get(t, 0.25)) for t in PLACEMENTS_PER_PROVIDER}
    prov = _make_providers(rng, pl)
    who, prob = _assign(rng, pl, prov)
    _tiny_placements(rng, pl, prov, who)
    pl["provider"] = who
    pl["breakdown_probability"] = prob
    _plant_trends(pl, prov)
    return pl, prov, base


def _plant_trends(pl: pd.DataFrame, prov: pd.DataFrame) -> None:
    """Mark :data:`PLANTED_TRENDS`' providers (deterministic: no random draw)."""
    prov["trend"] = 0.0
    n = np.bincount(pl["provider"].to_numpy(), minlength=len(prov))
    null = (prov["planted"] == "").to_numpy() & (prov["tiny"] == 0).to_numpy()
    for typ, slope in PLANTED_TRENDS:
        cand = np.flatnonzero(null & (prov["utforartyp"] == typ).to_numpy() & (n > 0))
        if len(cand) < 2:  # keep at least one null provider of the type
            continue
        j = cand[np.argmax(n[cand])]  # first of the largest: ties by position
        prov.loc[j, "trend"] = slope


def _ratings(
    rng: np.random.Generator, pl: pd.DataFrame, prov: pd.DataFrame, data_date: pd.Timestamp
) -> pd.DataFrame:
    n = len(pl)
    ended = pl["slutdatum"].notna().to_numpy()
    tiny = (prov["tiny"].to_numpy() > 0)[pl["provider"].to_numpy()]
    delay = pd.to_timedelta(rng.integers(0, RATING_DELAY_DAYS + 1, n), unit="D")
    date_ended = pl["slutdatum"] + delay
    date_ongoing = pl["startdatum"] + pd.to_timedelta(180, unit="D") + delay
    date = date_ended.where(ended, date_ongoing)
    u = rng.random(n)
    rated = np.where(ended, u < RATED_ENDED, u < RATED_ONGOING) | tiny
    rated &= (date <= data_date).to_numpy()
    # a tiny provider's placements are all rated, on a date before the data date
    date = date.where(~(tiny & (date > data_date).to_numpy()), pl["slutdatum"])
    rated |= tiny
    r = pl.loc[rated].reset_index(drop=True)
    rdate = date[rated].reset_index(drop=True)
    m = len(r)
    shift = prov["rating_shift"].to_numpy()[r["provider"].to_numpy()]
    # planted trends (ratings 1-5 only): a linear change per year, centred on the provider's
    # mean rating year
    slope = prov["trend"].to_numpy()[r["provider"].to_numpy()]
    year = rdate.dt.year.to_numpy(dtype=float)
    centre = pd.Series(year).groupby(r["provider"].to_numpy()).transform("mean").to_numpy()
    trended = shift + slope * (year - centre)
    out = pd.DataFrame(
        {
            "placering_id": r["placering_id"],
            "utforare_id": prov["utforare_id"].to_numpy()[r["provider"].to_numpy()],
            "kommun": r["kommun"],
            "ar": rdate.dt.year,
            "bedomningsdatum": rdate,
        }
    )
    r_ended = r["slutdatum"].notna().to_numpy()
    for item, probs in RATING_BASE.items():
        y = _ordinal(rng, _cutpoints(probs), trended).astype(str).astype(object)
        p_unknown = (
            np.where(r_ended, RATING_VET_EJ_GOAL["ended"], RATING_VET_EJ_GOAL["ongoing"])
            if item == "betyg_mal"
            else np.full(m, RATING_VET_EJ[item])
        )
        y[rng.random(m) < p_unknown] = "vet_ej"
        out[item] = y
    p_ja = expit(logit(PLACE_AGAIN_BASE) + PLACE_AGAIN_SLOPE * shift)
    again = np.where(rng.random(m) < p_ja, "ja", "nej").astype(object)
    again[rng.random(m) < PLACE_AGAIN_OKANT] = "okant"
    out["placera_igen"] = again
    out["bedomning_id"] = _hex_ids(rng, "Q", m)
    return out


# ------------------------------------------------------------------------------------------------
# Children's survey
# ------------------------------------------------------------------------------------------------


def _survey_population(tables: Mapping[str, pd.DataFrame], cfg: SynthConfig) -> pd.DataFrame:
    ins = tables["interventions"][
        ["barn_id", "kommun", "insatsgrupp", "insats_start", "insats_slut", "insats_id"]
    ]
    ins = ins[ins["insatsgrupp"].notna() & ins["insats_start"].notna()]
    chi = tables["children"][["barn_id", "kon", "fodelsear"]]
    first = max(cfg.years[0], cfg.years[1] - CHILD_SURVEY_YEARS + 1)
    frames = []
    for year in range(first, cfg.years[1] + 1):
        day = pd.Timestamp(f"{year}-{CHILD_SURVEY_DAY}")
        act = ins[
            (ins["insats_start"] <= day)
            & (ins["insats_slut"].isna() | (ins["insats_slut"] >= day))
        ]
        act = act.merge(chi, on="barn_id", how="inner")
        age = year - act["fodelsear"].astype("float")
        act = act[(age >= CHILD_SURVEY_AGES[0]) & (age <= CHILD_SURVEY_AGES[1])].copy()
        act["alder"] = (year - act["fodelsear"]).astype("int64")
        act["ar"] = year
        act["enkatgrupp"] = np.where(act["insatsgrupp"] == "placering", "placerad", "oppenvard")
        # one invitation per child and year: the placement if any, else the latest intervention
        act = act.sort_values(
            ["barn_id", "enkatgrupp", "insats_start", "insats_id"],
            ascending=[True, False, False, True],
        )
        frames.append(act.drop_duplicates("barn_id"))
    pop = pd.concat(frames, ignore_index=True)
    pop = pop.sort_values(["ar", "kommun", "barn_id"], ignore_index=True)
    mun = list_municipalities().set_index("municipality_code")["county_code"]
    pop["lan"] = pop["kommun"].map(mun).astype("str")
    pop["aldersband"] = _band(pop["alder"].to_numpy())
    return pop[["kommun", "lan", "ar", "kon", "alder", "aldersband", "enkatgrupp"]]


def _group_mask(pop: pd.DataFrame, group: Mapping[str, str]) -> np.ndarray:
    mask = np.ones(len(pop), dtype=bool)
    for col, value in group.items():
        mask &= (pop[col] == value).to_numpy()
    return mask


def _child_survey(
    rng: np.random.Generator, tables: Mapping[str, pd.DataFrame], cfg: SynthConfig
) -> tuple[pd.DataFrame, dict[str, Any]]:
    pop = _survey_population(tables, cfg)
    n = len(pop)
    lin = np.zeros(n)
    for col, effects in RESPONSE_EFFECTS.items():
        for value, beta in effects.items():
            lin += beta * (pop[col] == value).to_numpy()
    counties = sorted(pop["lan"].unique())
    county_fx = dict(zip(counties, rng.normal(0, RESPONSE_COUNTY_SD, len(counties)), strict=True))
    lin += pop["lan"].map(county_fx).to_numpy()
    # intercept so that the expected overall response is the target (bisection)
    lo, hi = -5.0, 5.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expit(mid + lin).mean() < RESPONSE_TARGET else (lo, mid)
    intercept = (lo + hi) / 2
    answered = rng.random(n) < expit(intercept + lin)
    out = pop[["kommun", "ar", "kon", "alder", "enkatgrupp"]].copy()
    out["besvarad"] = answered
    k = int(answered.sum())
    sub = pop[answered].reset_index(drop=True)
    items: dict[str, Any] = {}
    for item, probs in SURVEY_BASE.items():
        eta = np.zeros(k)
        for fx in SURVEY_EFFECTS:
            if fx["item"] == item:
                eta += fx["log_odds_shift"] * _group_mask(sub, fx["group"])
        y = _ordinal(rng, _cutpoints(probs), eta).astype(str).astype(object)
        vet = SURVEY_VET_EJ.get(item, SURVEY_VET_EJ_DEFAULT)
        u = rng.random(k)
        y[u < vet] = "vet_ej"
        y[(u >= vet) & (u < vet + SURVEY_ITEM_MISSING)] = None
        col = np.full(n, None, dtype=object)
        col[answered] = y
        out[item] = col
        items[item] = {
            "baseline_probabilities": list(probs),
            "cutpoints": [float(t) for t in _cutpoints(probs)],
            "vet_ej_share": vet,
            "missing_share_among_answered": SURVEY_ITEM_MISSING,
        }
    out["enkat_id"] = _hex_ids(rng, "E", n)
    pop = pop.assign(besvarad=answered)

    def rates(col: str) -> dict[str, dict[str, float | int]]:
        g = pop.groupby(col)["besvarad"]
        return {
            str(key): {"invited": int(c), "answered": int(s), "rate": round(float(s / c), 4)}
            for key, c, s in zip(g.size().index, g.size(), g.sum(), strict=True)
        }

    per_kommun = pop.groupby("kommun")["besvarad"].sum()
    per_kommun_year = pop.groupby(["kommun", "ar"])["besvarad"].sum()
    tiny = sorted(str(k) for k in per_kommun.index[(per_kommun >= 1) & (per_kommun <= 4)])
    truth = {
        "years": sorted(int(y) for y in pop["ar"].unique()),
        "survey_day": CHILD_SURVEY_DAY,
        "population": (
            "every child aged 13-20 (survey year - fodelsear) with a placement or an open-care "
            "intervention (recorded insatsgrupp) active on the survey day; one invitation per "
            "child "
            "and year (the placement if several); no barn_id is stored (an anonymous survey)"
        ),
        "age_bands": {b: list(r) for b, r in AGE_BANDS.items()},
        "response": {
            "model": "logit P(besvarad) = intercept + group effects + county effect",
            "target_overall": RESPONSE_TARGET,
            "intercept": round(intercept, 6),
            "log_odds_effects": RESPONSE_EFFECTS,
            "county_effects": {c: round(float(v), 6) for c, v in county_fx.items()},
            "realised_overall": round(float(answered.mean()), 4) if n else None,
            "by_enkatgrupp": rates("enkatgrupp"),
            "by_kon": rates("kon"),
            "by_aldersband": rates("aldersband"),
        },
        "item_model": (
            "proportional odds: P(svar <= k) = expit(cutpoint_k - eta), eta = sum of the planted "
            "shifts of the child's groups (0 otherwise); vet_ej and missing answers are drawn "
            "independently of eta, so an ordinal model on the answers 1-5 recovers the shifts"
        ),
        "items": items,
        "effects": SURVEY_EFFECTS,
        "null_effects": [
            {"item": "kanner_mig_trygg", "group": {"kon": "flicka", "enkatgrupp": "oppenvard"}},
            {"item": "blir_lyssnad_pa", "group": {"kon": "flicka"}},
            {"item": "helhet", "group": "any (no planted difference)"},
            {"item": "far_hjalp_skola", "group": "any (no planted difference)"},
        ],
        "agreeing": "answers 4 or 5; vet_ej and missing are non-substantive",
        "counts": {"invited": n, "answered": k},
        "municipalities_with_1_to_4_answers": tiny,
        "kommun_years_with_1_to_4_answers": int(
            ((per_kommun_year >= 1) & (per_kommun_year <= 4)).sum()
        ),
    }
    return out, truth


# ------------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------------


def _conform(name: str, df: pd.DataFrame, cat: Catalogue, sort: list[str]) -> pd.DataFrame:
    cols = table_columns(name, cat)
    df = df[list(cols)].astype(cols)
    return df.sort_values(sort, ignore_index=True)


def generate_followup(
    tables: Mapping[str, pd.DataFrame], cfg: SynthConfig
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The four optional tables from the synthetic register, and their ground truth.

    Parameters
    ----------
    tables
        At least ``children``, ``interventions`` and ``registrations`` of
        :func:`workbench.synth.generate`.
    cfg
        The register's configuration (seed, years, scale).

    Returns
    -------
    tables, truth
        ``providers``, ``placements``, ``provider_ratings`` and ``child_survey`` with exactly the
        canonical columns and dtypes; ``truth`` has the ground-truth keys ``providers`` and
        ``child_survey`` (see ``docs/synthetic-data.md``).
    """
    cat = load_catalogue()
    data_date = pd.Timestamp(f"{cfg.years[1]}-12-31")
    pl, prov, base = _placements(_rng(cfg.seed, "placements"), tables, cfg)
    pl["placering_id"] = _hex_ids(_rng(cfg.seed, "placement-ids"), "L", len(pl))
    pl["utforare_id"] = prov["utforare_id"].to_numpy()[pl["provider"].to_numpy()]
    pl["ar"] = pl["startdatum"].dt.year
    ratings = _ratings(_rng(cfg.seed, "ratings"), pl, prov, data_date)
    survey, survey_truth = _child_survey(_rng(cfg.seed, "child-survey"), tables, cfg)
    out = {
        "providers": _conform("providers", prov, cat, ["utforare_id"]),
        "placements": _conform("placements", pl, cat, ["kommun", "startdatum", "placering_id"]),
        "provider_ratings": _conform(
            "provider_ratings", ratings, cat, ["kommun", "bedomningsdatum", "bedomning_id"]
        ),
        "child_survey": _conform("child_survey", survey, cat, ["kommun", "ar", "enkat_id"]),
    }
    truth = {
        "providers": _provider_truth(prov, pl, ratings, base),
        "child_survey": survey_truth,
    }
    return out, truth


def _provider_truth(
    prov: pd.DataFrame, pl: pd.DataFrame, ratings: pd.DataFrame, base: Mapping[str, float]
) -> dict[str, Any]:
    ids = prov["utforare_id"]
    n_pl = pl.groupby("utforare_id").size().reindex(ids, fill_value=0)
    done = pl[pl["slutdatum"].notna()]
    n_end = done.groupby("utforare_id").size().reindex(ids, fill_value=0)
    n_b = (
        (done["placering_avslut"] == "sammanbrott")
        .groupby(done["utforare_id"])
        .sum()
        .reindex(ids, fill_value=0)
    )
    n_r = ratings.groupby("utforare_id").size().reindex(ids, fill_value=0)
    # expected breakdown share of the provider's ended placements (its sets' probabilities)
    q_mean = done.groupby("utforare_id")["breakdown_probability"].mean()
    trends = []
    for _, p in prov[prov["trend"] != 0].sort_values("utforare_id").iterrows():
        i = p["utforare_id"]
        yrs = ratings.loc[ratings["utforare_id"] == i, "ar"].astype(float)
        trends.append(
            {
                "utforare_id": i,
                "utforartyp": p["utforartyp"],
                "lan": p["lan"],
                "direction": "okande" if p["trend"] > 0 else "minskande",
                "log_odds_per_year": float(p["trend"]),
                "centre_year": round(float(yrs.mean()), 4),
                "measures": list(RATING_BASE),
                "n_ratings": int(n_r[i]),
            }
        )
    effects = []
    for _, p in prov[prov["planted"] != ""].sort_values("utforare_id").iterrows():
        i = p["utforare_id"]
        effects.append(
            {
                "utforare_id": i,
                "utforartyp": p["utforartyp"],
                "lan": p["lan"],
                "planted": p["planted"],
                "breakdown_relative_risk": float(p["relative_risk"]),
                "breakdown_probability": (
                    round(float(q_mean[i]), 4) if i in q_mean.index else None
                ),
                "rating_shift": float(p["rating_shift"]),
                "n_placements": int(n_pl[i]),
                "n_ended": int(n_end[i]),
                "n_breakdowns": int(n_b[i]),
                "n_ratings": int(n_r[i]),
            }
        )
    few = [
        {"utforare_id": str(i), "n_ratings": int(n_r[i])}
        for i in sorted(ids[(n_r < MIN_RATINGS).to_numpy() & (n_r > 0).to_numpy()])
    ]
    return {
        "generator": {"module": "workbench.synth_followup", "version": GENERATOR_VERSION},
        "model": (
            "placements are the register's placement interventions; the provider is drawn with "
            "probability proportional to capacity x P(the placement's ending | provider), where "
            "P(breakdown | provider) = relative_risk x q0 of its candidate set (the type's "
            "providers in the county, 80%, or in the nation), q0 chosen so that the set's "
            "capacity-weighted mean equals the set's breakdown share in the register; "
            "breakdown_probability in effects is its mean over the provider's ended placements; "
            "ratings "
            "1-5 follow a proportional-odds model with cut-points from the baseline distributions "
            "and eta = rating_shift (the only predictor); placera_igen = ja with probability "
            "expit(logit(base) + slope x rating_shift)"
        ),
        "base_breakdown_probability": {t: round(v, 4) for t, v in base.items()},
        "rating_baseline_probabilities": RATING_BASE,
        "rating_cutpoints": {k: [float(t) for t in _cutpoints(v)] for k, v in RATING_BASE.items()},
        "place_again": {"base": PLACE_AGAIN_BASE, "slope": PLACE_AGAIN_SLOPE},
        "effects": effects,
        "clearly_worse": [e["utforare_id"] for e in effects if e["planted"] == "worse"],
        "clearly_better": [e["utforare_id"] for e in effects if e["planted"] == "better"],
        "null_providers": (
            "every provider not in effects has relative_risk 1 and rating_shift 0: differences "
            "between them are noise (the planted_trends providers have rating_shift 0 on "
            "average over their ratings)"
        ),
        "planted_trends": trends,
        "trend_model": (
            "planted_trends: eta = rating_shift + log_odds_per_year x (year - centre_year) for "
            "the provider's ratings 1-5 (year of the rating); placera_igen and breakdowns have "
            "no planted trend"
        ),
        "minimum_ratings": MIN_RATINGS,
        "few_ratings": few,
        "exactly_two_ratings": [f["utforare_id"] for f in few if f["n_ratings"] == 2],
        "tiny_providers": [
            {"utforare_id": str(p["utforare_id"]), "n_placements": int(p["tiny"])}
            for _, p in prov[prov["weight"] == 0].sort_values("utforare_id").iterrows()
        ],
        "counts": {
            "providers": int(len(prov)),
            "placements": int(len(pl)),
            "ratings": int(len(ratings)),
            "by_type": {str(k): int(v) for k, v in prov.groupby("utforartyp").size().items()},
        },
        "escaping_canary": "one provider name contains & and double quotes",
    }


__all__ = ["GENERATOR_VERSION", "MIN_RATINGS", "generate_followup"]
