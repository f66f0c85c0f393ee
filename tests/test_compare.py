"""Comparisons between municipalities: intervals, classification, quartiles, funnel limits,
similar municipalities, survey county tables and case data against the survey.

Known answers are cited where they are used. Synthetic data come from workbench.synth (its
planted truths are in ground_truth.json; docs/synthetic-data.md).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from workbench import compare as C
from workbench import dataset, synth
from workbench import indicators as ind
from workbench.disclosure import DisclosureRules, audit_lp
from workbench.followup import UNIT
from workbench.municipalities import NATIONAL, list_municipalities

RULES = DisclosureRules()
COUNTY_22 = tuple(list_municipalities("22")["municipality_code"])
TIMRA = "2262"


# --------------------------------------------------------------------------------------------
# Helpers: counts -> protected table -> published values (the real chain, no mocks)
# --------------------------------------------------------------------------------------------


def _values_from_counts(counts: pd.DataFrame) -> C.PublishedValues:
    pt = C.protect_case_counts(ind.linked_counts(counts, by_year=False), rules=RULES)
    return C.published_values(pt)


def _counts(
    cells: dict[str, tuple[int, int]], indicator: str = "maluppfyllelse_helt"
) -> pd.DataFrame:
    """Municipality counts {kommun: (n, denominator)} for one indicator and one year."""
    return pd.DataFrame(
        [
            {"kommun": k, "indikator": indicator, "ar": 2020, "n": n, "denominator": d}
            for k, (n, d) in cells.items()
        ]
    )


@pytest.fixture(scope="module")
def county22() -> dict[str, pd.DataFrame]:
    """The demo county Västernorrland at full volume, with its planted quirks (Timrå)."""
    tables, truth = synth.generate(synth.SynthConfig(municipalities=COUNTY_22))
    reg = tables["registrations"].merge(
        tables["interventions"].drop(columns=["kommun", "barn_id"]), on="insats_id"
    )
    reg = reg.merge(tables["children"].drop(columns=["kommun"]), on="barn_id")
    return {"registrations": reg, "interventions": tables["interventions"], "truth": truth}


def _period_values(data: dict, years: tuple[int, int]) -> C.PublishedValues:
    counts = ind.case_counts(
        registrations=data["registrations"],
        interventions=data["interventions"],
        years=years,
        as_of="2025-12-31",
    )
    return _values_from_counts(counts)


# --------------------------------------------------------------------------------------------
# Funnel limits: known answers
# --------------------------------------------------------------------------------------------

# PHEindicatormethods (UKHSA, R package), tests/testthat/testdata_funnel_prop_outputs.csv:
# Fingertips funnel limits for proportions around a baseline of 80.642448 %, in percent.
# Columns: population, lower 95 %, upper 95 %, lower 99.8 %, upper 99.8 %.
PHE_FUNNEL = [
    (3, 35.933491, 100.0, 10.150815, 100.0),
    (10, 56.154344, 100.0, 42.03259, 100.0),
    (102, 72.974925, 88.309971, 68.553233, 92.731663),
    (1008, 78.203374, 83.081521, 76.796814, 84.488082),
    (110000, 80.408963, 80.875933, 80.274317, 81.010578),
]


@pytest.mark.parametrize("row", PHE_FUNNEL, ids=lambda r: f"n={r[0]}")
def test_funnel_limits_wilson_reproduce_phe_fingertips_values(row):
    n, lo95, hi95, lo998, hi998 = row
    p0 = 0.80642448
    a, b = C.funnel_limits(p0, [n], level=0.95, method="wilson")
    c, d = C.funnel_limits(p0, [n], level=0.998, method="wilson")
    got = 100 * np.array([a[0], b[0], c[0], d[0]])
    assert got == pytest.approx([lo95, hi95, lo998, hi998], abs=2e-5)


def _spiegelhalter_exact(p0: float, n: int, p: float) -> float:
    """Spiegelhalter (2005) appendix A.1.1, by summing the binomial pmf with math.comb."""
    cdf = 0.0
    for r in range(n + 1):
        below = cdf
        cdf += math.comb(n, r) * p0**r * (1 - p0) ** (n - r)
        if cdf >= p:
            alpha = (cdf - p) / (cdf - below)
            return min(max((r - alpha) / n, 0.0), 1.0)  # limits are clipped to [0, 1]
    return 1.0


@pytest.mark.parametrize("p0", [0.05, 0.2, 0.6, 0.95])
@pytest.mark.parametrize("n", [7, 25, 120, 400])
def test_funnel_limits_exact_match_an_independent_binomial_computation(p0, n):
    for level in (0.95, 0.998):
        lo, hi = C.funnel_limits(p0, [n], level=level, method="exact")
        tail = (1 - level) / 2
        assert lo[0] == pytest.approx(_spiegelhalter_exact(p0, n, tail), abs=1e-9)
        assert hi[0] == pytest.approx(_spiegelhalter_exact(p0, n, 1 - tail), abs=1e-9)
        # cross-check with scipy's binomial quantiles: r_p - 1 <= n * limit <= r_p
        for limit, p in ((lo[0], tail), (hi[0], 1 - tail)):
            r = sps.binom.ppf(p, n, p0)
            assert r - 1 - 1e-9 <= n * limit <= r + 1e-9


def test_funnel_limits_exact_approach_the_normal_limits_for_large_denominators():
    n = np.array([20_000, 100_000])
    ex = C.funnel_limits(0.3, n, level=0.95, method="exact")
    no = C.funnel_limits(0.3, n, level=0.95, method="normal")
    assert np.allclose(ex, no, atol=2e-4)


def test_funnel_limits_normal_with_overdispersion_follow_spiegelhalter_formulas():
    p0, n = 0.4, np.array([50.0, 500.0])
    z = sps.norm.ppf(0.975)
    se = np.sqrt(p0 * (1 - p0) / n)
    lo, hi = C.funnel_limits(p0, n, level=0.95, method="normal", phi=2.0)
    assert hi == pytest.approx(p0 + z * np.sqrt(2.0) * se)
    lo, hi = C.funnel_limits(p0, n, level=0.95, method="normal", tau2=0.01)
    assert lo == pytest.approx(p0 - z * np.sqrt(se**2 + 0.01))
    with pytest.raises(ValueError, match="method='normal'"):
        C.funnel_limits(p0, n, method="exact", phi=2.0)


def test_overdispersion_matches_a_hand_computation():
    # Spiegelhalter (2005) section 6: z-scores winsorised at 10 %/90 %, phi = mean z^2,
    # tau2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w), w = 1 / s^2.
    x = np.array([10, 30, 12, 45, 8, 60, 25, 5])
    n = np.array([50, 80, 40, 100, 60, 120, 70, 30])
    t = 0.35
    s2 = t * (1 - t) / n
    z = (x / n - t) / np.sqrt(s2)
    lo, hi = np.quantile(z, [0.1, 0.9])
    zw = np.clip(z, lo, hi)
    phi = (zw**2).mean()
    w = 1 / s2
    tau2 = max(0.0, (8 * phi - 7) / (w.sum() - (w**2).sum() / w.sum()))
    got = C.overdispersion(x, n, t)
    assert got.phi == pytest.approx(phi)
    assert got.tau2 == pytest.approx(tau2)
    assert got.present == (8 * phi > sps.chi2.ppf(0.95, 7))


def test_overdispersion_is_found_in_beta_binomial_data_and_not_in_binomial_data():
    rng = np.random.default_rng(20261123)
    n = rng.integers(20, 400, 290)
    binom = rng.binomial(n, 0.4)
    assert not C.overdispersion(binom, n, 0.4).present
    p = rng.beta(0.4 * 20, 0.6 * 20, 290)  # between-unit SD about 0.11
    over = rng.binomial(n, p)
    od = C.overdispersion(over, n, 0.4)
    assert od.present and od.phi > 2 and od.tau2 > 0


def test_funnel_exact_limits_are_as_close_to_nominal_as_discreteness_allows():
    # For an in-control unit (true share = target), the exact probability of lying above the
    # upper 99.8 % limit is bracketed by the tail probabilities of the two counts the
    # interpolated limit lies between (Manktelow & Seaton 2012, PLoS ONE 7:e45723, who show that
    # Spiegelhalter's interpolation can fall on either side of the nominal 0.1 %).
    p0 = 0.3
    for n in (12, 60, 300):
        lo, hi = C.funnel_limits(p0, [n], level=0.998, method="exact")
        r = np.arange(n + 1)
        pmf = sps.binom.pmf(r, n, p0)
        above = pmf[r / n > hi[0]].sum()
        rp = int(sps.binom.ppf(0.999, n, p0))
        assert sps.binom.sf(rp, n, p0) - 1e-12 <= above <= sps.binom.sf(rp - 1, n, p0) + 1e-12
        assert sps.binom.sf(rp, n, p0) <= 0.001 <= sps.binom.sf(rp - 1, n, p0)


def test_published_values_carry_wilson_intervals_with_a_known_answer():
    # Newcombe (1998), Stat Med 17:857-872, Table I: 81 of 263 gives the Wilson score
    # interval 0.2553 to 0.3662.
    v = _values_from_counts(_counts({"0180": (81, 263), "1480": (100, 200)}))
    row = v.data[(v.data[UNIT] == "0180") & v.data["ar"].isna()].iloc[0]
    assert row["status"] == "ok"
    assert (round(row["ci_low"], 4), round(row["ci_high"], 4)) == (0.2553, 0.3662)
    assert v.method == "Wilson score interval"


# --------------------------------------------------------------------------------------------
# Classification against benchmarks
# --------------------------------------------------------------------------------------------


def test_classify_follows_the_fingertips_rule_and_polarity():
    # PHE, "Technical guide: confidence intervals" (Fingertips): significantly different when
    # the benchmark lies outside the area's 95 % interval.
    status = np.array(["ok"] * 6)
    share = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    lo = np.full(6, 0.4)
    hi = np.full(6, 0.6)
    bench = np.array([0.3, 0.7, 0.45, 0.3, 0.7, 0.3])
    pol = np.array(
        [
            "higher_better",
            "higher_better",
            "higher_better",
            "lower_better",
            "lower_better",
            "neither",
        ]
    )
    got = C.classify(
        status=status, share=share, ci_low=lo, ci_high=hi, benchmark=bench, polarity=pol
    )
    assert got.tolist() == ["better", "worse", "similar", "worse", "better", "higher"]


def test_classify_never_classifies_values_that_are_not_shown():
    got = C.classify(
        status=np.array(["too_small", "suppressed", "no_data", "ok"]),
        share=np.array([0.1, np.nan, np.nan, 0.9]),
        ci_low=np.array([0.0, np.nan, np.nan, 0.8]),
        ci_high=np.array([0.5, np.nan, np.nan, 0.95]),
        benchmark=np.array([0.9, 0.5, 0.5, np.nan]),
        polarity=np.array(["higher_better"] * 4),
    )
    assert got.tolist() == ["too_small", "too_small", "missing", "no_benchmark"]


def test_no_difference_is_classified_similar_at_the_expected_rate():
    # A municipality whose true share equals the benchmark is "similar" exactly when the
    # benchmark lies in its Wilson interval; the expected rate is the interval's coverage,
    # computed exactly from the binomial pmf (near 95 %: Brown, Cai & DasGupta 2001).
    from workbench.stats import proportion_ci

    p0, n = 0.42, 150
    r = np.arange(n + 1)
    ci = proportion_ci(r, np.full(n + 1, n))
    covered = (ci["ci_low"] <= p0) & (p0 <= ci["ci_high"])
    expected = float(sps.binom.pmf(r, n, p0)[covered.to_numpy()].sum())
    assert 0.93 <= expected <= 0.97
    rng = np.random.default_rng(7)
    x = rng.binomial(n, p0, 20_000)
    ci = proportion_ci(x, np.full(x.size, n))
    got = C.classify(
        status=np.array(["ok"] * x.size),
        share=ci["share"].to_numpy(),
        ci_low=ci["ci_low"].to_numpy(),
        ci_high=ci["ci_high"].to_numpy(),
        benchmark=np.full(x.size, p0),
        polarity=np.array(["higher_better"] * x.size),
    )
    rate = float(np.mean(got == "similar"))
    se = math.sqrt(expected * (1 - expected) / x.size)
    assert abs(rate - expected) < 4 * se


def test_planted_timra_goal_shift_is_classified_worse_before_2021_and_better_after(county22):
    # Planted quirk (synth.QUIRKS "timra_goal_shift", docs/synthetic-data.md): before 2021 80 %
    # of Timrå's "helt" are recorded "delvis"; from 2021 80 % of "delvis" are recorded "helt".
    quirk = [q for q in county22["truth"]["quirks"] if q["kommun"] == TIMRA]
    assert quirk and quirk[0]["variable"] == "maluppfyllelse" and quirk[0]["year"] == 2021
    for years, expected in (((2016, 2020), "worse"), ((2021, 2025), "better")):
        v = _period_values(county22, years)
        b = C.benchmarks(v).for_unit(TIMRA)
        row = b[(b["indikator"] == "maluppfyllelse_helt") & (b["jamforelse"] == "riket")]
        assert row["klass"].iloc[0] == expected, years
        f = C.funnel(v, indicator="maluppfyllelse_helt")
        pos = f.points.loc[f.points[UNIT] == TIMRA, "klass"].iloc[0]
        assert pos == expected


def test_benchmarks_respect_polarity_of_lower_is_better():
    # Two big municipalities with the same breakdown counts in opposite directions.
    cells = {"2262": (40, 200), "2281": (120, 200), "2280": (80, 200)}
    v = _values_from_counts(_counts(cells, "sammanbrott_placering"))
    b = C.benchmarks(v).data
    b = b[(b["jamforelse"] == "riket") & (b["indikator"] == "sammanbrott_placering")]
    got = b.set_index(UNIT)["klass"]
    # nation = 240 / 600 = 40 %: 20 % breakdowns is better, 60 % worse
    assert got["2262"] == "better" and got["2281"] == "worse" and got["2280"] == "similar"


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=3, max_size=12))
def test_small_denominators_are_never_classified(pairs):
    codes = list(COUNTY_22) + ["0180", "1480", "1280", "0380", "0580"]
    cells = {codes[i]: (a, a + b) for i, (a, b) in enumerate(pairs)}
    cells["0180"] = (300, 700)  # a large municipality keeps the benchmark published
    v = _values_from_counts(_counts(cells))
    b = C.benchmarks(v).data
    small = b["denominator"].isna() | (b["denominator"].fillna(0) < 10)
    assert set(b.loc[small, "klass"]) <= {"too_small", "missing"}
    shown = v.data[v.data["status"] == "ok"]
    assert (shown["denominator"] >= 10).all()


def test_published_values_ignore_the_raw_values_of_suppressed_cells(county22):
    # Everything published is computed from ProtectedTable.to_frame(): changing the raw value of
    # a suppressed cell must change nothing.
    counts = ind.case_counts(
        registrations=county22["registrations"],
        interventions=county22["interventions"],
        years=(2016, 2025),
        as_of="2025-12-31",
    )
    pt = C.protect_case_counts(ind.linked_counts(counts, by_year=False), rules=RULES)
    assert audit_lp(pt).ok
    assert pt.data["suppressed"].any()
    before = C.published_values(pt).data
    tampered = pt.data.copy()
    tampered.loc[tampered["suppressed"], "n"] = 999_999
    pt2 = type(pt)(
        data=tampered,
        rules=pt.rules,
        log=pt.log,
        keys=pt.keys,
        measures=pt.measures,
        hierarchy=pt.hierarchy,
        additive=pt.additive,
    )
    after = C.published_values(pt2).data
    pd.testing.assert_frame_equal(before, after)
    hidden = before[before["status"] == "suppressed"]
    assert hidden["share"].isna().all()


def test_group_benchmark_pools_only_published_members():
    cells = {"2262": (30, 100), "2281": (50, 100), "2280": (2, 6), "2284": (70, 100)}
    v = _values_from_counts(_counts(cells))
    members = pd.DataFrame({"kommun": ["2262"] * 3, "medlem": ["2281", "2280", "2284"]})
    groups = C.SimilarGroups(
        members=members.assign(rang=[1, 2, 3], avstand=0.0), method="data", k=3
    )
    b = C.benchmarks(v, groups=groups).data
    row = b[
        (b[UNIT] == "2262")
        & (b["jamforelse"] == "liknande")
        & (b["indikator"] == "maluppfyllelse_helt")
    ].iloc[0]
    pub = v.data[v.data[UNIT].isin(["2281", "2280", "2284"]) & v.data["ar"].isna()]
    pub = pub[pub["indikator"] == "maluppfyllelse_helt"]
    known = pub[pub["n"].notna() & pub["denominator"].notna()]
    assert "2280" not in set(known[UNIT])  # 2 of 6 is suppressed: left out of the group value
    assert row["jamforelse_antal"] == len(known)
    assert row["jamforelse_andel"] == pytest.approx(known["n"].sum() / known["denominator"].sum())


# --------------------------------------------------------------------------------------------
# Quartiles
# --------------------------------------------------------------------------------------------


def test_quartiles_colour_by_polarity_and_mark_missing():
    shares = [10, 20, 30, 40, 50, 60, 70, 80]  # of 100 each
    codes = list(list_municipalities("01")["municipality_code"])[:9]
    cells = {codes[i]: (s, 100) for i, s in enumerate(shares)}
    cells[codes[8]] = (0, 0)  # no data: missing
    for indicator, top in (("maluppfyllelse_helt", "best"), ("sammanbrott_placering", "worst")):
        v = _values_from_counts(_counts(cells, indicator))
        q = C.quartiles(v).data
        q = q[(q["indikator"] == indicator) & q[UNIT].isin(codes[:9])].set_index(UNIT)
        # the other 282 municipalities have no data; quartiles over the 8 shown values
        assert q.loc[codes[7], "kvartil"] == top
        assert q.loc[codes[0], "kvartil"] == ("worst" if top == "best" else "best")
        assert q.loc[codes[3], "kvartil"] == "middle"
        assert q.loc[codes[8], "kvartil"] == "missing"
        assert q.loc[codes[8], "kvartil_sv"] == "Uppgift saknas"


# --------------------------------------------------------------------------------------------
# Similar municipalities
# --------------------------------------------------------------------------------------------


def test_similar_municipalities_are_the_nearest_on_standardised_features():
    codes = list(list_municipalities()["municipality_code"])
    rng = np.random.default_rng(3)
    feats = pd.DataFrame(
        {
            "kommun": codes,
            "log_barn": rng.normal(5, 1, len(codes)),
            "log_registreringar": rng.normal(6, 2, len(codes)),
            "andel_placering": rng.random(len(codes)),
        }
    )
    g = C.similar_municipalities(feats, k=5)
    z = feats[["log_barn", "log_registreringar"]].to_numpy()
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    i = codes.index("2262")
    dist = np.sqrt(((z - z[i]) ** 2).sum(axis=1))
    dist[i] = np.inf
    expected = [codes[j] for j in np.argsort(dist, kind="stable")[:5]]
    assert g.members_of("2262") == expected
    assert "2262" not in g.members_of("2262")
    assert (g.members.groupby("kommun").size() == 5).all()
    assert "vikt" in g.description_sv() and "euklidiska" in g.description_sv()


def test_load_kommungrupper_reads_a_user_classification_and_rejects_bad_codes(tmp_path):
    assert C.load_kommungrupper(tmp_path / "missing.csv") is None
    good = tmp_path / "kommungrupper.csv"
    good.write_text(
        "kommun,grupp\n0180,A1 Storstäder\n1480,A1 Storstäder\n1280,A1 Storstäder\n2262,B4\n",
        encoding="utf-8",
    )
    g = C.load_kommungrupper(good)
    assert g.method == "kommungrupp"
    assert sorted(g.members_of("0180")) == ["1280", "1480"]
    assert g.members_of("2262") == []
    bad = tmp_path / "bad.csv"
    bad.write_text("kommun,grupp\n180,A1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="leading zero"):
        C.load_kommungrupper(bad)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("kod,kommungrupp\n0180,A1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="columns"):
        C.load_kommungrupper(wrong)


def test_group_stability_is_complete_when_the_data_do_not_change():
    codes = list(list_municipalities()["municipality_code"])
    rng = np.random.default_rng(11)
    size = rng.integers(1, 60, len(codes))
    rows = []
    for year in (2020, 2021, 2022):
        for k, s in zip(codes, size, strict=True):
            for child in range(int(s)):
                rows.append(
                    {
                        "kommun": k,
                        "ar": year,
                        "barn_id": f"{k}-{child}",
                        "insatsgrupp": "oppenvard",
                    }
                )
    reg = pd.DataFrame(rows).astype({"ar": "Int64"})
    st_ = C.group_stability(reg, years=(2020, 2022), k=10)
    assert st_.loc[st_["ar"] > 2020, "overlap"].eq(1.0).all()
    assert st_.loc[st_["ar"] == 2020, "overlap"].isna().all()


# --------------------------------------------------------------------------------------------
# Survey county tables (seed figures) and case data against the survey
# --------------------------------------------------------------------------------------------


def test_survey_county_tables_reproduce_the_seed_figures(small_dataset):
    # DOMAIN.md §4 seed figures, planted exactly in the synthetic survey (ground_truth.json,
    # survey_targets): national shares at anchor years and the 2012 county figures.
    truth = json.loads((small_dataset / synth.GROUND_TRUTH_FILE).read_text())["survey_targets"]
    survey = dataset.read_table(small_dataset, "survey")
    counts = ind.survey_counts(survey)
    pt = C.protect_survey_counts(ind.linked_counts(counts, by_year=True))
    assert not pt.data["suppressed"].any()  # municipalities' answers: nothing suppressed
    table = C.survey_county_table(C.published_values(pt)).data.set_index([UNIT, "indikator", "ar"])
    checked = 0
    for question, years in truth["national"].items():
        for year, target in years.items():
            if target["source"] in ("seed", "confirmed"):
                share = table.loc[(NATIONAL, question, int(year)), "share"]
                assert round(100 * share) == target["percent"], (question, year)
                checked += 1
    assert checked >= 10
    sizes = list_municipalities().groupby("county_code").size()
    for question, years in truth["county"].items():
        for year, counties in years.items():
            for county, target in counties.items():
                row = table.loc[(county, question, int(year))]
                assert row["denominator"] == sizes[county]  # every municipality answered
                if target == "all":
                    assert row["n"] == sizes[county] and row["share"] == 1.0
                else:
                    assert row["n"] == target["count"]
    # the seed text's "one in four in Blekinge" for socialjour 2012: 1 of 5
    blekinge = table.loc[("10", "socialjour_socionom", 2012)]
    assert (blekinge["n"], blekinge["denominator"]) == (1, 5)


def _pv(rows: list[dict], kind: str) -> C.PublishedValues:
    frame = pd.DataFrame(rows)
    frame["niva"] = "kommun"
    return C.PublishedValues(data=frame, kind=kind, rules=RULES, indicators=ind.load_indicators())


def test_case_vs_survey_flags_a_routine_without_talks_as_a_mismatch():
    na = pd.NA
    case = _pv(
        [
            {
                UNIT: "2262",
                "indikator": "samtal_placerade_barn",
                "ar": na,
                "share": 0.5,
                "ci_low": 0.40,
                "ci_high": 0.60,
                "denominator": 100,
                "status": "ok",
            },
            {
                UNIT: "2281",
                "indikator": "samtal_placerade_barn",
                "ar": na,
                "share": 0.9,
                "ci_low": 0.85,
                "ci_high": 0.94,
                "denominator": 300,
                "status": "ok",
            },
            {
                UNIT: "2284",
                "indikator": "samtal_placerade_barn",
                "ar": na,
                "share": 0.9,
                "ci_low": 0.85,
                "ci_high": 0.94,
                "denominator": 300,
                "status": "ok",
            },
            {
                UNIT: "2280",
                "indikator": "samtal_placerade_barn",
                "ar": na,
                "share": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "denominator": 4,
                "status": "too_small",
            },
        ],
        "case",
    )
    survey = _pv(
        [
            {
                UNIT: k,
                "indikator": "rutin_enskilda_samtal",
                "ar": 2025,
                "share": s,
                "status": "ok",
                "denominator": 1,
            }
            for k, s in (("2262", 1.0), ("2281", 1.0), ("2284", 0.0), ("2280", 1.0))
        ],
        "survey",
    )
    case.data["ar"] = case.data["ar"].astype("Int64")
    got = C.case_vs_survey(case, survey, year=2025).data.set_index(UNIT)["flagga"]
    # routine (yes) but the whole interval below 80 % -> mismatch; no routine but talks -> mismatch
    assert got.to_dict() == {
        "2262": "mismatch",
        "2281": "consistent",
        "2284": "mismatch",
        "2280": "too_small",
    }


def test_time_series_shows_county_series_only_when_every_county_can_be_shown(county22):
    counts = ind.case_counts(
        registrations=county22["registrations"],
        interventions=county22["interventions"],
        years=(2016, 2025),
        as_of="2025-12-31",
    )
    series = C.published_values(
        C.protect_series_counts(
            ind.linked_counts(counts, by_year=True, units="counties"), rules=RULES
        )
    )
    period = _values_from_counts(counts)
    ts = C.time_series(series, period_values=period)
    # only county 22 has data: the other counties' yearly cells are zeros (shown), so county
    # series may be published; a series is shown whole or not at all
    for indicator, units in ts.published.items():
        shown = ts.values[ts.values["indikator"] == indicator]
        assert set(shown[UNIT]) == set(units)
        if any(u != NATIONAL for u in units):
            counties = {u for u in units if u != NATIONAL}
            assert len(counties) == 21
    hidden = ts.trends[ts.trends["direction"] == "hidden"]
    assert hidden["slope"].isna().all()


def test_checked_trends_hide_municipalities_with_a_thin_year(county22):
    counts = ind.case_counts(
        registrations=county22["registrations"],
        interventions=county22["interventions"],
        years=(2016, 2025),
        as_of="2025-12-31",
    )
    t = C.checked_trends(counts, units=["2281", "2260"], rules=RULES).set_index(
        [UNIT, "indikator"]
    )
    small = counts[(counts["kommun"] == "2260") & (counts["indikator"] == "sammanbrott_placering")]
    assert (small["denominator"] < 10).any()
    assert t.loc[("2260", "sammanbrott_placering"), "direction"] == "too_small"
    big = counts[(counts["kommun"] == "2281") & (counts["indikator"] == "samtal_med_barnet")]
    assert (big["denominator"] >= 10).all()
    # planted trend (docs/synthetic-data.md): talks with the child rise from 70 % to 90 %
    assert t.loc[("2281", "samtal_med_barnet"), "direction"] == "increasing"


def test_spine_puts_better_to_the_right_for_both_polarities(county22):
    v = _period_values(county22, (2016, 2025))
    sp = C.spine(v, kommun=TIMRA).data.set_index("indikator")
    for ident in ("maluppfyllelse_helt", "sammanbrott_placering"):
        r = sp.loc[ident]
        if r["status"] != "ok":
            continue
        better = (r["share"] > r["riket"]) == (ident == "maluppfyllelse_helt")
        assert (r["pos_share"] > 0) == better
    assert {"p10", "q25", "q75", "p90"} <= set(sp.columns)
    assert not {"min", "max"} & set(sp.columns)  # RELIABILITY.md: never min and max
