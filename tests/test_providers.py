"""Placement providers: statistics against known answers, disclosure and "too few ratings".

Small frames that follow issue 10's data contract are built here (synthetic, seeded); the
report blocks and the Excel summary are rendered from them without a kernel.
"""

from __future__ import annotations

import math
import re
import zipfile

import numpy as np
import pandas as pd
import pytest

from workbench import providers as pv
from workbench.disclosure import DisclosureRules, audit_lp

RULES = DisclosureRules()
YEARS = (2020, 2024)


def make_tables(
    spec: list[tuple[str, str, str, int, float, int, float]], *, seed: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """providers, placements, provider_ratings from (id, name, type, n_placements,
    breakdown probability, n_ratings, rating shift) per provider."""
    rng = np.random.default_rng(seed)
    prov, plac, rat = [], [], []
    k = 0
    for pid, name, typ, n_pl, p_break, n_rat, shift in spec:
        prov.append(
            {
                "utforare_id": pid,
                "utforare_namn": name,
                "utforartyp": typ,
                "regi": "enskild",
                "lan": "22",
            }
        )
        ids = []
        for _ in range(n_pl):
            k += 1
            ar = int(rng.integers(YEARS[0], YEARS[1] + 1))
            start = pd.Timestamp(f"{ar}-03-01")
            ongoing = rng.random() < 0.15
            u = rng.random()
            avslut = (
                None
                if ongoing
                else (
                    "sammanbrott"
                    if u < p_break
                    else ("planerat" if u < p_break + 0.6 else "annat")
                )
            )
            mal = None if ongoing else str(rng.choice(["helt", "delvis", "inte_alls"]))
            pid_l = f"L{k:016x}"
            ids.append(pid_l)
            plac.append(
                {
                    "placering_id": pid_l,
                    "barn_id": f"B{k:016x}",
                    "insats_id": None,
                    "kommun": "2281",
                    "utforare_id": pid,
                    "ar": ar,
                    "startdatum": start,
                    "slutdatum": None if ongoing else start + pd.Timedelta(days=200),
                    "placering_avslut": avslut,
                    "maluppfyllelse": mal,
                }
            )
        for j in range(n_rat):
            k += 1
            ar = int(rng.integers(YEARS[0], YEARS[1] + 1))
            row = {
                "bedomning_id": f"Q{k:016x}",
                "placering_id": ids[j % len(ids)] if ids else f"L{k:016x}",
                "utforare_id": pid,
                "kommun": "2281",
                "ar": ar,
                "bedomningsdatum": pd.Timestamp(f"{ar}-06-01"),
            }
            for q in pv.RATING_QUESTIONS:
                if rng.random() < 0.08:
                    row[q] = "vet_ej"
                else:
                    row[q] = str(int(np.clip(np.round(rng.normal(3.6 + shift, 0.9)), 1, 5)))
            row["placera_igen"] = "ja" if rng.random() < 0.75 + shift / 4 else "nej"
            rat.append(row)
    providers = pd.DataFrame(prov)
    placements = pd.DataFrame(plac)
    placements["ar"] = placements["ar"].astype("Int64")
    ratings = pd.DataFrame(rat)
    ratings["ar"] = ratings["ar"].astype("Int64")
    return providers, placements, ratings


SPEC = [
    ("P00001", "HVB Björkgården", "hvb", 60, 0.15, 40, 0.0),
    ("P00002", "HVB Ekudden", "hvb", 70, 0.15, 45, 0.0),
    ("P00003", "HVB Granen", "hvb", 80, 0.55, 60, -1.2),  # planted clearly worse
    ("P00004", "HVB Aspen", "hvb", 65, 0.15, 42, 0.0),
    ("P00005", "HVB Lärkan", "hvb", 9, 0.15, 2, 0.0),  # two ratings: never a value
    ("P00006", "Familjehem Nord", "familjehemsorg", 50, 0.10, 30, 0.0),
    ("P00007", "Familjehem Syd", "familjehemsorg", 55, 0.10, 35, 0.0),
    ("P00008", "Stödboende Norr", "stodboende", 40, 0.10, 25, 0.0),
    ("P00009", "Stödboende Söder", "stodboende", 45, 0.10, 28, 0.0),
]


@pytest.fixture(scope="module")
def tables():
    return make_tables(SPEC)


@pytest.fixture(scope="module")
def summary(tables):
    providers, placements, ratings = tables
    hier = pv.provider_hierarchy(providers)
    ppt = pv.protect_provider_counts(
        pv.placement_counts(providers, placements, years=YEARS), hierarchy=hier, rules=RULES
    )
    rpt = pv.protect_provider_counts(
        pv.rating_counts(providers, ratings, years=YEARS),
        hierarchy=hier,
        rules=RULES,
        attribute_rule=False,
    )
    return (
        pv.provider_summary(
            ppt,
            rpt,
            pv.rating_moments(providers, ratings, years=YEARS),
            providers,
            min_ratings=5,
            raw_ratings=pv.ratings_per_provider(ratings, years=YEARS),
        ),
        ppt,
        rpt,
    )


# -- statistics against known answers -----------------------------------------------------------


def test_mean_ci_matches_the_textbook_t_interval():
    # values 1..5: mean 3, sd sqrt(2.5); t(0.975, 4) = 2.776445
    vals = np.array([1, 2, 3, 4, 5], dtype=float)
    mean, sd, lo, hi = pv.mean_ci(len(vals), vals.sum(), (vals**2).sum())
    assert mean == 3.0 and sd == pytest.approx(math.sqrt(2.5))
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)
    assert lo == pytest.approx(3 - half, abs=1e-6) and hi == pytest.approx(3 + half, abs=1e-6)


def test_mean_ci_of_one_value_has_no_interval():
    mean, sd, lo, hi = pv.mean_ci(1, 4.0, 16.0)
    assert mean == 4.0 and math.isnan(lo) and math.isnan(hi)


def test_wilson_interval_used_for_shares_matches_known_answer(summary):
    # Wilson 95 % for 81/263 (Newcombe 1998, table I example): 0.2553 to 0.3662
    from workbench.stats import proportion_ci

    ci = proportion_ci(81, 263).iloc[0]
    assert ci["ci_low"] == pytest.approx(0.2553, abs=1e-4)
    assert ci["ci_high"] == pytest.approx(0.3662, abs=1e-4)
    s = summary[0].measure("sammanbrott").set_index("enhet")
    row = s.loc["hvb"]
    expect = proportion_ci(row["x"], row["n"]).iloc[0]
    assert row["ci_low"] == pytest.approx(expect["ci_low"])


def test_welch_difference_matches_known_answer():
    # two samples, computed by hand: m1 5, v1 2.5, n1 5; m2 3, v2 1, n2 10
    d, lo, hi = pv.welch_difference(5, 2.5, 5, 3, 1.0, 10)
    se = math.sqrt(2.5 / 5 + 1 / 10)
    df = (0.6**2) / ((0.5**2) / 4 + (0.1**2) / 9)
    from scipy import stats

    half = stats.t.ppf(0.975, df) * se
    assert d == 2 and lo == pytest.approx(2 - half) and hi == pytest.approx(2 + half)


def test_shrink_proportions_pulls_small_units_harder_towards_the_pool():
    x = [2, 50, 10, 30]
    n = [4, 100, 50, 100]
    sh = pv.shrink_proportions(x, n)
    mu = sum(x) / sum(n)
    assert sh.attrs["mu"] == pytest.approx(mu)
    assert sh.attrs["tau2"] > 0
    raw = np.array(x) / np.array(n)
    moved = np.abs(raw - sh["shrunk"].to_numpy()) / np.abs(raw - mu)
    assert moved[0] > moved[1]  # 4 placements move further than 100
    assert ((sh["shrunk"] - mu) * (raw - mu) >= 0).all()  # never past the pool
    assert (sh["low"] <= sh["shrunk"]).all() and (sh["shrunk"] <= sh["high"]).all()


def test_shrink_proportions_without_between_variance_pools_completely():
    sh = pv.shrink_proportions([10, 10, 10], [100, 100, 100])
    assert sh.attrs["tau2"] == 0
    assert np.allclose(sh["shrunk"], 0.1)


def test_shrink_means_matches_the_normal_normal_formula():
    means, var, n = [4.0, 3.0], [1.0, 1.0], [10, 10]
    sh = pv.shrink_means(means, var, n, mu=3.5)
    # v = 0.1 each; DL: w = 10, ybar 3.5, Q = 10*0.25*2 = 5, c = 20 - 200/20 = 10, tau2 = 0.4
    assert sh.attrs["tau2"] == pytest.approx(0.4)
    b = 0.4 / 0.5
    assert sh["shrunk"].tolist() == pytest.approx([3.5 + b * 0.5, 3.5 - b * 0.5])


def test_classification_needs_the_interval_to_exclude_zero():
    assert pv.classify_difference(0.01, 0.2, 1) == pv.CLASS_BETTER
    assert pv.classify_difference(0.01, 0.2, -1) == pv.CLASS_WORSE
    assert pv.classify_difference(-0.3, -0.1, -1) == pv.CLASS_BETTER
    assert pv.classify_difference(-0.1, 0.2, 1) == pv.CLASS_SAME
    assert pv.classify_difference(math.nan, 0.2, 1) == pv.CLASS_NONE


# -- summary -----------------------------------------------------------------------------------


def _summary_of(spec, *, seed=1):
    providers, placements, ratings = make_tables(spec, seed=seed)
    hier = pv.provider_hierarchy(providers)
    ppt = pv.protect_provider_counts(
        pv.placement_counts(providers, placements, years=YEARS), hierarchy=hier, rules=RULES
    )
    rpt = pv.protect_provider_counts(
        pv.rating_counts(providers, ratings, years=YEARS),
        hierarchy=hier,
        rules=RULES,
        attribute_rule=False,
    )
    return pv.provider_summary(
        ppt,
        rpt,
        pv.rating_moments(providers, ratings, years=YEARS),
        providers,
        min_ratings=5,
        raw_ratings=pv.ratings_per_provider(ratings, years=YEARS),
    )


def test_planted_worse_provider_is_clearly_worse_and_others_are_not():
    big = [(pid, name, typ, 4 * n, p, 3 * r, sh) for pid, name, typ, n, p, r, sh in SPEC]
    s = _summary_of([row for row in big if row[0] != "P00005"])
    br = s.measure("sammanbrott").set_index("enhet")
    assert br.loc["P00003", "klass"] == pv.CLASS_WORSE
    assert br.loc["P00003", "diff_low"] > 0
    assert br.loc["P00003", "adjusted_level"] == pytest.approx(1 - 0.05 / 4)
    for mid in ("betyg_behandling", "placera_igen"):
        m = s.measure(mid).set_index("enhet")
        assert m.loc["P00003", "klass"] == pv.CLASS_WORSE
    for pid in ("P00001", "P00002", "P00004"):
        assert br.loc[pid, "klass"] != pv.CLASS_WORSE


def test_without_planted_differences_nobody_is_classified():
    flat = [(pid, name, typ, n, 0.15, r, 0.0) for pid, name, typ, n, _p, r, _sh in SPEC]
    d = _summary_of(flat, seed=7).data
    klass = d.loc[d["niva"] == "provider", "klass"]
    # Bonferroni-adjusted: with no real differences a classification is rare (none here)
    assert (klass.isin([pv.CLASS_BETTER, pv.CLASS_WORSE])).sum() <= 1


def test_provider_with_two_ratings_has_no_value_in_the_summary(summary):
    s = summary[0]
    rows = s.data[s.data["enhet"] == "P00005"]
    assert (rows["status"] == pv.STATUS_FEW).all()
    assert rows[["x", "n", "value", "ci_low", "ci_high", "shrunk", "diff"]].isna().all().all()
    c = s.counts.set_index("enhet").loc["P00005"]
    assert pd.isna(c["avslutade"]) and pd.isna(c["bedomningar"])


def test_type_average_counts_every_placement_of_the_type(summary, tables):
    providers, placements, _ = tables
    s = summary[0]
    hvb = s.counts.set_index("enhet").loc["hvb"]
    ids = providers.loc[providers["utforartyp"] == "hvb", "utforare_id"]
    ended = placements["slutdatum"].notna() & placements["utforare_id"].isin(ids)
    assert hvb["avslutade"] == ended.sum()


def test_protected_provider_tables_pass_the_lp_audit(summary):
    _, ppt, rpt = summary
    assert audit_lp(ppt).ok and audit_lp(rpt).ok
    # the two ratings of P00005 are a small count: suppressed
    d = rpt.data
    row = d[(d["enhet"] == "P00005") & (d["variabel"] == "bedomningar")]
    assert row["denominator_shown"].isna().all()


def test_no_published_share_implies_a_small_numerator(summary):
    d = summary[0].data
    ok = d[(d["status"] == "ok") & d["x"].notna()]
    assert not ((ok["x"] > 0) & (ok["x"] < 5)).any()
    assert not ((ok["n"] > 0) & (ok["n"] < 10)).any()


def test_selection_is_checked_against_the_data(tables):
    from workbench.params import ParameterError

    providers = tables[0]
    pv.check_selection(providers, utforare="P00001", utforartyp="hvb")
    pv.check_selection(providers, utforare="", utforartyp="")
    with pytest.raises(ParameterError, match="provider-report --help"):
        pv.check_selection(providers, utforare="P99999", utforartyp="")
    with pytest.raises(ParameterError, match="utförartyp"):
        pv.check_selection(providers, utforare="", utforartyp="sis")
    with pytest.raises(ParameterError, match="är av typen"):
        pv.check_selection(providers, utforare="P00001", utforartyp="stodboende")


def test_providers_are_ordered_by_name_never_by_estimate(tables):
    providers = tables[0]
    order = pv.units_of(providers, providers["utforare_id"])
    names = providers.set_index("utforare_id").loc[order, "utforare_namn"].tolist()
    assert names == sorted(names, key=str.casefold)


def test_yearly_trend_of_types(tables):
    providers, placements, ratings = tables
    counts = pv.yearly_counts(providers, placements, ratings, years=YEARS)
    pt = pv.protect_provider_counts(
        counts, hierarchy=pv.provider_hierarchy(providers), rules=RULES
    )
    assert audit_lp(pt).ok
    tr = pv.yearly_trend(pt, years=YEARS).data
    assert set(tr["enhet"]) == {"hvb", "familjehemsorg", "stodboende", "0000"}
    assert (tr.loc[tr["status"] == "ok", "value"].between(0, 1)).all()
    assert (tr["enhet"] == "0000").sum() == 2 * (YEARS[1] - YEARS[0] + 1)


# -- trend per provider ------------------------------------------------------------------------


def test_cochran_armitage_matches_agresti_known_answer():
    # Agresti, Categorical Data Analysis: infant malformation by alcohol consumption, scores
    # 0, 0.5, 1.5, 4, 7: z² = 6.57, P = 0.01 (z = 2.56)
    present = [48, 38, 5, 1, 1]
    absent = [17066, 14464, 788, 126, 37]
    n = [a + b for a, b in zip(present, absent, strict=True)]
    slope, z, p = pv.cochran_armitage(present, n, [0, 0.5, 1.5, 4, 7])
    assert z == pytest.approx(2.563, abs=1e-3) and z**2 == pytest.approx(6.57, abs=0.01)
    assert p == pytest.approx(0.0104, abs=1e-4) and slope > 0
    assert pv.cochran_armitage([0, 0, 0], [10, 10, 10], [1, 2, 3]) == (0.0, 0.0, 1.0)
    assert math.isnan(pv.cochran_armitage([1, 2], [10, 10], [5, 5])[1])


def test_linear_trend_from_yearly_moments_equals_ols_on_the_values():
    from scipy import stats

    rng = np.random.default_rng(3)
    year = rng.integers(2020, 2025, 60)
    value = np.clip(np.round(3 + 0.2 * (year - 2022) + rng.normal(0, 1, 60)), 1, 5)
    g = pd.DataFrame({"ar": year, "v": value, "v2": value**2}).groupby("ar")
    slope, se, t, p = pv.linear_trend(
        g.size(), g["v"].sum(), g["v2"].sum(), g.size().index.to_numpy()
    )
    ref = stats.linregress(year, value)
    assert slope == pytest.approx(ref.slope) and se == pytest.approx(ref.stderr)
    assert p == pytest.approx(ref.pvalue)
    assert math.isnan(pv.linear_trend([1, 1], [3, 4], [9, 16], [2020, 2021])[0])


def test_adjust_pvalues_holm_and_benjamini_hochberg_known_answers():
    p = [0.01, 0.04, 0.03, 0.005, math.nan]
    # Holm: sorted 0.005·4, 0.01·3, 0.03·2, 0.04·1, made monotone
    assert pv.adjust_pvalues(p)[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: 0.005·4/1, 0.01·4/2, 0.03·4/3, 0.04·4/4, cumulative minimum from the top
    assert pv.adjust_pvalues(p, method="bh")[:4] == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert math.isnan(pv.adjust_pvalues(p)[4])
    with pytest.raises(ValueError, match="holm"):
        pv.adjust_pvalues(p, method="bonf")


def _with_year_pattern(tables, *, up: str, down: str, two_years: str, seed: int = 11):
    """Plant a strong increase (ratings and breakdowns) for ``up``, a decrease in the ratings
    for ``down`` and put every placement and rating of ``two_years`` in two years."""
    rng = np.random.default_rng(seed)
    providers, placements, ratings = (t.copy() for t in tables)
    for pid, sign in ((up, 1), (down, -1)):
        r = (ratings["utforare_id"] == pid).to_numpy()
        step = ratings.loc[r, "ar"].astype(int).to_numpy() - YEARS[0]  # 0..4
        for q in pv.RATING_QUESTIONS:
            base = 3 + sign * (step - 2) + rng.integers(-1, 2, r.sum())
            ratings.loc[r, q] = np.clip(base, 1, 5).astype(str)
    pl = (placements["utforare_id"] == up) & placements["slutdatum"].notna()
    step = placements.loc[pl, "slutdatum"].dt.year.to_numpy() - YEARS[0]
    broke = rng.random(pl.sum()) < 0.05 + 0.2 * step
    before = placements.loc[pl, "placering_avslut"].astype(str).replace("sammanbrott", "planerat")
    placements.loc[pl, "placering_avslut"] = np.where(broke, "sammanbrott", before)
    r = ratings["utforare_id"] == two_years
    y2 = 2023 + ratings.loc[r, "ar"].astype(int) % 2
    ratings.loc[r, "ar"] = y2
    ratings.loc[r, "bedomningsdatum"] = pd.to_datetime(y2.astype(str) + "-06-01")
    pl2 = placements["utforare_id"] == two_years
    y2 = 2023 + placements.loc[pl2, "ar"].astype(int) % 2
    start = pd.to_datetime(y2.astype(str) + "-03-01")
    placements.loc[pl2, "ar"] = y2
    placements.loc[pl2, "startdatum"] = start
    ended = pl2 & placements["slutdatum"].notna()
    placements.loc[ended, "slutdatum"] = start[ended[pl2]] + pd.Timedelta(days=200)
    return providers, placements, ratings


def _trend_of(tables):
    providers, placements, ratings = tables
    hier = pv.provider_hierarchy(providers)
    ppt = pv.protect_provider_counts(
        pv.placement_counts(providers, placements, years=YEARS), hierarchy=hier, rules=RULES
    )
    rpt = pv.protect_provider_counts(
        pv.rating_counts(providers, ratings, years=YEARS),
        hierarchy=hier,
        rules=RULES,
        attribute_rule=False,
    )
    s = pv.provider_summary(
        ppt,
        rpt,
        pv.rating_moments(providers, ratings, years=YEARS),
        providers,
        min_ratings=5,
        raw_ratings=pv.ratings_per_provider(ratings, years=YEARS),
    )
    return pv.provider_trends(pv.trend_moments(providers, placements, ratings, years=YEARS), s)


@pytest.fixture(scope="module")
def planted_trend(tables):
    return _trend_of(_with_year_pattern(tables, up="P00001", down="P00007", two_years="P00006"))


def test_planted_strong_increase_and_decrease_are_found(planted_trend):
    tr = planted_trend
    for q in pv.RATING_QUESTIONS:
        assert tr.verdict("P00001", q) == pv.TREND_UP, q
        assert tr.verdict("P00007", q) == pv.TREND_DOWN, q
    assert tr.verdict("P00001", "sammanbrott") == pv.TREND_UP
    d = tr.to_frame().set_index(["enhet", "matt"])
    assert d.loc[("P00001", "sammanbrott"), "estimate"] > 0.1  # > 10 points per year
    assert (d["p_adjusted"].dropna() >= d["p_value"].dropna()).all()


@pytest.fixture(scope="module")
def flat_trend(tables):
    return _trend_of(tables)


def test_flat_data_gives_no_certain_change(flat_trend, planted_trend):
    d = flat_trend.to_frame()
    tested = d[d["p_value"].notna()]
    assert len(tested) >= 30
    assert (tested["verdict"] == pv.TREND_FLAT).all(), tested[
        tested["verdict"] != "ingen_saker_forandring"
    ]
    # the planted providers' neighbours stay flat even beside strong trends
    p = planted_trend.to_frame()
    others = p[~p["enhet"].isin(["P00001", "P00007"]) & p["p_value"].notna()]
    assert (others["verdict"] == pv.TREND_FLAT).all()


def test_two_years_of_data_give_too_little_data(planted_trend):
    d = planted_trend.to_frame().set_index(["enhet", "matt"])
    for mid in pv.TREND_MEASURES:
        row = d.loc[("P00006", mid)]
        assert row["verdict"] == pv.TREND_LITTLE and row["n_years"] == 2
        assert row["reason"] in (pv.TREND_REASON_YEARS, pv.TREND_REASON_HIDDEN)
        assert math.isnan(row["p_value"])
    assert (d.xs("P00006")["reason"] == pv.TREND_REASON_YEARS).any()


def test_trend_is_withheld_where_the_period_value_is_not_shown(summary, flat_trend):
    s = summary[0].data.set_index(["enhet", "matt"])["status"]
    d = flat_trend.to_frame()
    hidden = 0
    for r in d.itertuples():
        if s[(r.enhet, r.matt)] not in ("ok", "few_ratings"):
            assert r.verdict == pv.TREND_LITTLE and r.reason == pv.TREND_REASON_HIDDEN
            hidden += 1
        elif s[(r.enhet, r.matt)] == "ok":
            assert r.verdict != pv.TREND_FEW and not np.isnan(r.p_value)
    assert hidden  # the small frames hide some values (e.g. a breakdown share)


def test_provider_with_two_ratings_has_no_trend(planted_trend):
    d = planted_trend.to_frame()
    rows = d[d["enhet"] == "P00005"]
    assert len(rows) == len(pv.TREND_MEASURES)
    assert (rows["verdict"] == pv.TREND_FEW).all()
    assert (rows["reason"] == pv.TREND_REASON_MIN_RATINGS).all()
    assert rows[["estimate", "statistic", "p_value", "p_adjusted"]].isna().all().all()
    assert list(planted_trend.published().columns) == [
        "enhet",
        "utforartyp",
        "matt",
        "verdict",
        "reason",
    ]


def test_planted_trends_of_the_synthetic_data_are_recovered():
    from workbench import synth

    tables, truth = synth.generate(synth.SynthConfig(scale=0.1))
    planted = truth["providers"]["planted_trends"]
    assert {p["direction"] for p in planted} == {pv.TREND_UP, pv.TREND_DOWN}
    years = (2016, 2025)
    providers, placements, ratings = (
        tables["providers"],
        tables["placements"],
        tables["provider_ratings"],
    )
    hier = pv.provider_hierarchy(providers)
    s = pv.provider_summary(
        pv.protect_provider_counts(
            pv.placement_counts(providers, placements, years=years), hierarchy=hier, rules=RULES
        ),
        pv.protect_provider_counts(
            pv.rating_counts(providers, ratings, years=years),
            hierarchy=hier,
            rules=RULES,
            attribute_rule=False,
        ),
        pv.rating_moments(providers, ratings, years=years),
        providers,
        min_ratings=5,
        raw_ratings=pv.ratings_per_provider(ratings, years=years),
    )
    tr = pv.provider_trends(pv.trend_moments(providers, placements, ratings, years=years), s)
    for p in planted:
        hits = [tr.verdict(p["utforare_id"], q) for q in p["measures"]]
        assert hits.count(p["direction"]) >= 3, (p, hits)
        assert not set(hits) - {p["direction"], pv.TREND_FLAT}
    d = tr.to_frame()
    ids = [p["utforare_id"] for p in planted]
    noise = d[~d["enhet"].isin(ids) & d["verdict"].isin([pv.TREND_UP, pv.TREND_DOWN])]
    assert len(noise) <= 1, noise  # Holm over every provider and measure: noise is rare


# -- report blocks and the Excel summary (no kernel) -------------------------------------------

INJECTION = '<script>alert(1)</script>$\\frac{1}{2}$ & "HVB"'


@pytest.fixture(scope="module")
def report(tables):
    from workbench.params import load_settings
    from workbench.views_providers import ProviderReport

    providers, placements, ratings = tables
    providers = providers.copy()
    providers.loc[providers["utforare_id"] == "P00004", "utforare_namn"] = INJECTION
    settings = load_settings(kommun="0000", period=f"{YEARS[0]}-{YEARS[1]}")
    return ProviderReport(
        settings=settings,
        providers=providers,
        placements=placements,
        ratings=ratings,
        manifest={"source": "test", "data_date": "2024-12-31", "synthetic": True},
        rules=RULES,
    )


@pytest.fixture(scope="module")
def blocks(report):
    return {
        "header": report.header(),
        "placements": report.placements_table(),
        "ratings": report.ratings_table(),
        "comparison": report.comparison(),
        "forest": report.forest("betyg_behandling"),
        "forest_share": report.forest("placera_igen"),
        "trend": report.trend_table(),
        "provider_trend": report.provider_trend_table(),
        "methods": report.methods(),
    }


def test_report_blocks_escape_provider_names(blocks):
    html = "\n".join(b.html for b in blocks.values())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_provider_with_two_ratings_is_listed_never_drawn_or_valued(report, blocks):
    name = "HVB Lärkan"
    for key in ("placements", "ratings", "comparison", "provider_trend"):
        html = blocks[key].html
        row = html.split(f'<th scope="row">{name}</th>', 1)[1].split("</tr>", 1)[0]
        assert "för få bedömningar" in row.lower()
        text = re.sub(r"<[^>]+>", "", row).replace("färre än 5", "")
        assert not any(ch.isdigit() for ch in text), text
    forest = blocks["forest"].html
    alt = forest.split('alt="', 1)[1].split('"', 1)[0]
    assert name not in alt  # not in the chart (its alt text lists every drawn value)
    assert f"{name} (för få bedömningar)" in forest  # listed beside it
    for b in blocks.values():
        log = b.data.get("application/vnd.workbench.suppression-log+json")
        for cell in (log or {}).get("cells", []):
            assert set(cell) == {"table", "unit", "variable", "code", "cell", "rule", "pass"}
    log = blocks["placements"].data["application/vnd.workbench.suppression-log+json"]
    assert any(c["unit"] == "P00005" and c["rule"] == "min_ratings" for c in log["cells"])
    log = blocks["provider_trend"].data["application/vnd.workbench.suppression-log+json"]
    assert any(c["unit"] == "P00005" and c["rule"] == "min_ratings" for c in log["cells"])
    assert not any(
        c["unit"] == "P00005" and c["variable"].startswith("trend_") for c in log["cells"]
    )


def test_provider_trend_table_shows_words_only_and_logs_withheld_verdicts(report, blocks):
    html = blocks["provider_trend"].html
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells and set(cells) <= set(pv.TREND_SV.values()), set(cells)  # words, no numbers
    assert "Så läser du tabellen" in html and "ingen säker förändring" in html
    trend = report.provider_trend.to_frame()
    withheld = trend[trend["reason"].isin([pv.TREND_REASON_HIDDEN, pv.TREND_REASON_YEARS])]
    log = blocks["provider_trend"].data["application/vnd.workbench.suppression-log+json"]
    logged = {(c["unit"], c["variable"]) for c in log["cells"] if c["cell"] == "verdict"}
    assert logged == {(r.enhet, f"trend_{r.matt}") for r in withheld.itertuples()}
    assert log["rules"]["trend_min_years"] == pv.TREND_MIN_YEARS


def test_report_blocks_pass_the_release_gate(blocks, tmp_path):
    from workbench.release import check_release

    page = tmp_path / "r.html"
    page.write_text(
        '<!DOCTYPE html><html lang="sv"><body>'
        + "\n".join(b.html for b in blocks.values())
        + "</body></html>",
        encoding="utf-8",
    )
    gate = check_release([page], min_count=5)
    assert gate.ok, gate.to_frame().to_string()


def test_excel_summary_has_one_row_per_provider_and_passes_the_gate(report, tmp_path):
    from openpyxl import load_workbook

    from workbench.excel import build_provider_workbook
    from workbench.release import check_release

    cols, rows = report.excel_rows()
    data = build_provider_workbook(
        heading="Test",
        subtitle="Test",
        about=report.excel_about(),
        columns=cols,
        rows=rows,
        created=pd.Timestamp("2024-12-31").to_pydatetime(),
        source="test",
    )
    path = tmp_path / "s.xlsx"
    path.write_bytes(data)
    assert check_release([path], min_count=5).passed(strict=True)
    ws = load_workbook(path)["Utförare"]
    values = [[c.value for c in r] for r in ws.iter_rows(min_row=5, max_row=4 + len(rows))]
    ids = [v[1] for v in values if v[1]]
    assert len(ids) == len(set(ids)) == 9  # every provider once
    few = next(v for v in values if v[1] == "P00005")
    assert few[6] == "För få bedömningar"
    assert all(v in ("..", "", None, "För få bedömningar") for v in few[5:])
    assert few[0] == "HVB Lärkan"
    heads = [h for h, _ in cols]
    trend_cols = [i for i, h in enumerate(heads) if h == "Trend under perioden"]
    assert len(trend_cols) == len(pv.TREND_MEASURES)
    verdicts = set(pv.TREND_SV.values())
    for v in values:
        for i in trend_cols:
            if v[1] == "P00005":
                assert v[i] == ".."
            elif v[1]:
                assert v[i] in verdicts, (v[1], v[i])
            else:
                assert v[i] in ("", None)  # types: the yearly values are in the report
    with zipfile.ZipFile(path) as z:
        assert not any(n.startswith("xl/comments") for n in z.namelist())
    assert (
        build_provider_workbook(
            heading="Test",
            subtitle="Test",
            about=report.excel_about(),
            columns=cols,
            rows=rows,
            created=pd.Timestamp("2024-12-31").to_pydatetime(),
            source="test",
        )
        == data
    )  # deterministic


def test_excel_number_never_writes_a_whole_small_share_as_a_number():
    from workbench.excel import excel_number

    assert excel_number(4.0) == "4,0" and excel_number(4.5) == 4.5
    assert excel_number(12, count=True) == 12 and excel_number(pd.NA) == ".."
