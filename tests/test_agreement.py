"""Rater agreement: published reference values, edge cases, properties and the synthetic study.

Reference values and their sources are stated at each test. Cross-checks against statsmodels'
``statsmodels.stats.inter_rater`` (an independent implementation) come on top of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats import inter_rater

import workbench
from workbench import agreement, synth
from workbench.agreement import (
    AgreementResult,
    agreement_by_variable,
    code_agreement,
    cohen_kappa,
    confusion_table,
    fleiss_kappa,
    krippendorff_alpha,
)

U, R, V = "vinjett_id", "bedomare_id", "varde"


def _long(observers: dict[str, str], *, cast=float) -> pd.DataFrame:
    """Reliability data (one whitespace-separated line per observer, '.' = missing) -> long."""
    rows = []
    for name, line in observers.items():
        for j, v in enumerate(line.split()):
            rows.append((f"u{j:02d}", name, None if v in (".", "*") else cast(v)))
    df = pd.DataFrame(rows, columns=[U, R, V])
    return df if cast is not float else df.astype({V: float})


def _from_rows(rows: list[list[object]]) -> pd.DataFrame:
    """Units x rater-slots matrix -> long (rater ids are slot numbers)."""
    return pd.DataFrame(
        [(f"u{i:02d}", f"r{j}", v) for i, row in enumerate(rows) for j, v in enumerate(row)],
        columns=[U, R, V],
    )


def _from_counts(table: np.ndarray, codes: list[object] | None = None) -> pd.DataFrame:
    """Units x codes count table (Fleiss form) -> long with rater slots 0..m-1 per unit."""
    codes = codes or list(range(1, table.shape[1] + 1))
    rows = [[c for c, n in zip(codes, row, strict=True) for _ in range(int(n))] for row in table]
    return _from_rows(rows)


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", Annenberg School for
# Communication Departmental Papers 43, example C: 4 observers x 12 units, values 1-5, missing
# data. The same matrix is in the `krippendorff` PyPI package's tests
# (pln-fing-udelar/fast-krippendorff, tests/test_krippendorff.py) and in R's irr/DescTools
# KrippAlpha example ("the 'C' data from Krippendorff").
KRIPPENDORFF_C = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}

# Fleiss (1971), Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (1 depression,
# 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other). Also R irr::diagnoses and
# statsmodels' test_inter_rater.py. One string per patient, one digit per rating.
DIAGNOSES = (
    "444444 222555 233335 555555 222444 113333 333355 113334 114444 555555 "
    "144444 124444 222333 144444 224445 333335 111455 111112 224444 133555 "
    "555555 244444 224555 114444 144445 222224 111155 224444 133333 555555"
)

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
WIKI_FLEISS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


# --- Krippendorff's alpha: published values ------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    # Krippendorff (2011), example C: nominal .743, ordinal .815, interval .849, ratio .797.
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_alpha_reproduces_krippendorff_2011_example(level, expected):
    res = krippendorff_alpha(_long(KRIPPENDORFF_C), level=level, n_boot=0)
    assert round(res.estimate, 3) == expected
    # Unit 12 has one value only and is dropped: 11 units, 40 pairable values (paper: n = 40).
    assert (res.n_units, res.n_raters, res.n_pairable_values) == (11, 4, 40)
    assert any("single rating dropped" in w for w in res.warnings)


def test_confusion_table_reproduces_krippendorff_2011_coincidences():
    # Krippendorff (2011), example C, coincidence matrix: row 1 = 7, 4/3, 1/3, 1/3, 0 (n_1 = 9);
    # diagonal 7, 10, 8, 4, 3; margins 9, 13, 10, 5, 3; n = 40.
    o = confusion_table(_long(KRIPPENDORFF_C))
    np.testing.assert_allclose(o.loc[1.0].to_numpy(), [7, 4 / 3, 1 / 3, 1 / 3, 0])
    np.testing.assert_allclose(np.diag(o), [7, 10, 8, 4, 3])
    np.testing.assert_allclose(o.sum(axis=1).to_numpy(), [9, 13, 10, 5, 3])
    np.testing.assert_allclose(o.to_numpy(), o.to_numpy().T)
    assert o.to_numpy().sum() == pytest.approx(40)


def test_krippendorff_alpha_reproduces_wikipedia_example():
    # Wikipedia, "Krippendorff's alpha", computational example (3 coders x 15 units):
    # nominal 0.691, interval 0.811 (krippendorff package tests: 0.691358 and 0.810845).
    data = _long(
        {
            "A": "* * * * * 3 4 1 2 1 1 3 3 * 3",
            "B": "1 * 2 1 3 3 4 3 * * * * * * *",
            "C": "* * 2 1 3 4 4 * 2 1 1 3 3 * 4",
        }
    )
    assert krippendorff_alpha(data, n_boot=0).estimate == pytest.approx(0.691358, abs=1e-6)
    interval = krippendorff_alpha(data, level="interval", n_boot=0)
    assert interval.estimate == pytest.approx(0.810845, abs=1e-6)


def test_krippendorff_alpha_two_raters_binary_example():
    # Krippendorff (2011), example A (binary data, two observers, 10 units): alpha = 0.095.
    data = _long({"A": "0 1 0 0 0 0 0 0 1 0", "B": "1 1 1 0 0 1 0 0 0 0"}, cast=int)
    res = krippendorff_alpha(data, n_boot=0)
    assert round(res.estimate, 3) == 0.095
    assert res.n_raters == 2
    # Cohen's kappa on the same data: p_o = .6, p_e = .2*.4 + .8*.6 = .56, kappa = .04/.44
    # (hand computation), cross-checked against statsmodels.
    kappa = cohen_kappa(data)
    assert kappa.estimate == pytest.approx(0.04 / 0.44)
    table = pd.crosstab(data[data[R] == "A"][V].to_numpy(), data[data[R] == "B"][V].to_numpy())
    assert kappa.estimate == pytest.approx(inter_rater.cohens_kappa(table.to_numpy()).kappa)


def test_krippendorff_alpha_matches_the_synthetic_generators_own_computation(vignettes_first):
    # workbench.synth computes nominal alpha with its own code (synth._agreement) and records it
    # rounded to 4 decimals in the ground truth: an independent implementation to agree with.
    tables, truth = vignettes_first
    vr = tables["vignette_ratings"]
    recorded = {
        **{v: r["rater_disagreement"] for v, r in truth["ambiguity"].items()},
        **{v: r["vignettes"] for v, r in truth["clean"].items()},
    }
    for var, report in recorded.items():
        res = krippendorff_alpha(vr[vr["variabel"] == var], n_boot=0)
        assert res.estimate == pytest.approx(report["realised_krippendorff_alpha"], abs=6e-5)


# --- Fleiss' and Cohen's kappa: published values -------------------------------------------------


def test_fleiss_kappa_reproduces_wikipedia_example():
    # Wikipedia, "Fleiss' kappa", worked example: kappa = 0.210.
    res = fleiss_kappa(_from_counts(WIKI_FLEISS))
    assert round(res.estimate, 3) == 0.210
    assert res.estimate == pytest.approx(inter_rater.fleiss_kappa(WIKI_FLEISS), abs=1e-12)
    assert (res.n_units, res.n_raters, res.n_pairable_values) == (10, 14, 140)
    assert res.method == "Fleiss' kappa (1971)"


def test_fleiss_kappa_reproduces_fleiss_1971_diagnoses():
    # Fleiss (1971), Table 1: kappa = 0.430 (R irr::kappam.fleiss(diagnoses) prints 0.43).
    data = _from_rows([[int(c) for c in row] for row in DIAGNOSES.split()])
    assert round(fleiss_kappa(data).estimate, 3) == 0.430


def test_code_agreement_reproduces_fleiss_1971_category_kappas():
    # Category-specific kappas for Fleiss (1971) Table 1 as printed by R
    # irr::kappam.fleiss(diagnoses, detail = TRUE): 0.245 0.245 0.520 0.471 0.566
    # (same values asserted in pyirr's tests).
    data = _from_rows([[int(c) for c in row] for row in DIAGNOSES.split()])
    per_code = code_agreement(data)
    assert per_code["code"].tolist() == [1, 2, 3, 4, 5]
    assert per_code["kappa"].round(3).tolist() == [0.245, 0.245, 0.520, 0.471, 0.566]
    assert per_code["n_values"].sum() == 180
    # Each patient has 15 rater pairs; a disagreeing pair counts once for each of its two codes.
    agreeing = per_code["n_agreeing_pairs"].sum()
    disagreeing = (per_code["n_pairs"].sum() - agreeing) / 2
    assert agreeing + disagreeing == 30 * 15


def test_cohen_kappa_reproduces_wikipedia_example():
    # Wikipedia, "Cohen's kappa", simple example: 50 proposals, both yes 20, A yes/B no 5,
    # A no/B yes 10, both no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4.
    pairs = (
        [("ja", "ja")] * 20 + [("ja", "nej")] * 5 + [("nej", "ja")] * 10 + [("nej", "nej")] * 15
    )
    data = pd.DataFrame(
        [(f"u{i}", r, v) for i, p in enumerate(pairs) for r, v in zip("AB", p, strict=True)],
        columns=[U, R, V],
    ).astype({V: "str"})
    res = cohen_kappa(data)
    assert res.estimate == pytest.approx(0.4)
    assert (res.n_units, res.n_raters, res.n_pairable_values) == (50, 2, 100)


def test_cohen_kappa_reproduces_sas_weighted_example():
    # SAS PROC FREQ printout reproduced in statsmodels' test_inter_rater.py (table10
    # [[0,4,1],[0,8,0],[0,1,5]]): simple kappa 0.4842, Cicchetti-Allison weighted kappa 0.4701.
    table = np.array([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    rows = [[i, j] for i in range(3) for j in range(3) for _ in range(table[i, j])]
    data = _from_rows(rows)
    assert round(cohen_kappa(data).estimate, 4) == 0.4842
    assert round(cohen_kappa(data, weights="linear").estimate, 4) == 0.4701
    quad = inter_rater.cohens_kappa(table, wt="quadratic").kappa
    assert cohen_kappa(data, weights="quadratic").estimate == pytest.approx(quad)


@pytest.mark.parametrize(
    ("weights", "expected"),
    # R irr::kappa2(anxiety[, 2:3]) with weights "unweighted", "equal", "squared": values as
    # printed in statsmodels' test_inter_rater.py (test_cohens_kappa_irr).
    [(None, -0.006289308), ("linear", 0.1459075), ("quadratic", 0.2520325)],
)
def test_cohen_kappa_reproduces_irr_anxiety_example(weights, expected):
    rater2 = "3 6 4 6 2 4 2 4 3 3 2 3 3 3 2 2 1 3 3 4"
    rater3 = "2 1 4 4 3 2 1 6 1 1 1 2 3 3 1 1 3 3 2 2"
    data = _long({"r2": rater2, "r3": rater3}, cast=int)
    assert cohen_kappa(data, weights=weights).estimate == pytest.approx(expected, abs=1e-7)


# --- edge cases ----------------------------------------------------------------------------------


def test_krippendorff_alpha_single_code_is_nan_with_warning():
    data = _long({"A": "x x x .", "B": "x x x x", "C": ". x x x"}, cast=str)
    res = krippendorff_alpha(data)
    assert np.isnan(res.estimate) and np.isnan(res.ci_low) and np.isnan(res.ci_high)
    assert "only one code used: alpha undefined" in res.warnings
    assert np.isnan(fleiss_kappa(data).estimate)
    assert "only one code used: kappa undefined" in fleiss_kappa(data).warnings


def test_agreement_functions_survive_all_missing_values():
    data = pd.DataFrame({U: ["a", "a", "b"], R: ["x", "y", "x"], V: [None, None, None]})
    data = data.astype({V: "str"})
    res = krippendorff_alpha(data)
    assert np.isnan(res.estimate) and res.n_units == 0 and res.n_pairable_values == 0
    assert "no unit has two or more ratings: alpha undefined" in res.warnings
    assert np.isnan(fleiss_kappa(data).estimate)
    assert np.isnan(cohen_kappa(data).estimate)
    assert confusion_table(data).shape == (0, 0)
    assert code_agreement(data).empty


def test_krippendorff_alpha_ignores_a_rater_who_rated_one_otherwise_unrated_unit():
    base = _long(KRIPPENDORFF_C)
    extra = pd.DataFrame({U: ["u99"], R: ["E"], V: [3.0]})
    res = krippendorff_alpha(pd.concat([base, extra], ignore_index=True), n_boot=0)
    assert round(res.estimate, 3) == 0.743
    assert res.n_raters == 4 and res.n_units == 11
    assert "2 units with a single rating dropped (nothing to pair)" in res.warnings


def test_krippendorff_alpha_counts_a_rater_who_rated_one_shared_unit():
    base = _long(KRIPPENDORFF_C)
    extra = pd.DataFrame({U: ["u11"], R: ["E"], V: [3.0]})  # joins B's lone value 3 in unit 12
    res = krippendorff_alpha(pd.concat([base, extra], ignore_index=True), n_boot=0)
    assert (res.n_units, res.n_raters, res.n_pairable_values) == (12, 5, 42)
    assert res.estimate > 0.743  # one more agreeing pair


def test_krippendorff_alpha_gives_identical_estimates_for_str_categorical_and_numeric():
    num = _long(KRIPPENDORFF_C)
    as_str = num.assign(**{V: num[V].map(lambda x: f"k{int(x)}", na_action="ignore")})
    as_str = as_str.astype({V: "str"})
    order = ["k1", "k2", "k3", "k4", "k5"]
    as_cat = as_str.assign(**{V: pd.Categorical(as_str[V], categories=order, ordered=True)})
    as_int = num.astype({V: "Int64"})
    for level in ("nominal", "ordinal"):
        expected = krippendorff_alpha(num, level=level, n_boot=0).estimate
        got = [
            krippendorff_alpha(as_str, level=level, order=order, n_boot=0).estimate,
            krippendorff_alpha(as_cat, level=level, n_boot=0).estimate,
            krippendorff_alpha(as_int, level=level, n_boot=0).estimate,
        ]
        assert got == pytest.approx([expected] * 3, abs=1e-12)
    assert fleiss_kappa(as_str).estimate == pytest.approx(fleiss_kappa(num).estimate)


def test_krippendorff_alpha_is_one_under_perfect_agreement():
    data = _long({"A": "1 2 3 4 .", "B": "1 2 3 4 4", "C": "1 . 3 4 4"})
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert krippendorff_alpha(data, level=level, n_boot=50).estimate == pytest.approx(1.0)
    assert fleiss_kappa(data).estimate == pytest.approx(1.0)


def test_krippendorff_alpha_is_negative_under_systematic_disagreement():
    data = _long({"A": "a b a b a b a b", "B": "b a b a b a b a"}, cast=str)
    res = krippendorff_alpha(data, n_boot=0)
    # Every pair disagrees: n = 16, n_a = n_b = 8, o_ab = o_ba = 8, so
    # alpha = 1 - (n - 1) * 16 / (2 * 8 * 8) = 1 - 15 / 8 (hand computation, Krippendorff 2011).
    assert res.estimate == pytest.approx(1 - 15 / 8)
    assert cohen_kappa(data).estimate == pytest.approx(-1.0)


def test_krippendorff_alpha_ordinal_without_order_explains_how_to_pass_it():
    data = _long({"A": "lag hog", "B": "lag mellan"}, cast=str).astype({V: "str"})
    with pytest.raises(ValueError, match=r"order=\[lowest"):
        krippendorff_alpha(data, level="ordinal")
    unordered = data.assign(**{V: pd.Categorical(data[V])})
    with pytest.raises(ValueError, match="ordered categorical"):
        krippendorff_alpha(unordered, level="ordinal")
    with pytest.raises(ValueError, match="not in the given order"):
        krippendorff_alpha(data, level="ordinal", order=["lag", "hog"])
    with pytest.raises(ValueError, match="numeric values"):
        krippendorff_alpha(data, level="interval")
    with pytest.raises(ValueError, match="order"):
        cohen_kappa(data, weights="linear")


def test_agreement_functions_reject_bad_input_with_a_fix():
    data = _long(KRIPPENDORFF_C)
    with pytest.raises(ValueError, match="agreement_by_variable"):
        krippendorff_alpha(pd.concat([data, data]))
    with pytest.raises(ValueError, match="unit=..., rater=..., value=..."):
        krippendorff_alpha(data, value="no_such_column")
    with pytest.raises(ValueError, match="level must be one of"):
        krippendorff_alpha(data, level="circular")
    with pytest.raises(ValueError, match="exactly two raters, the data have 4"):
        cohen_kappa(data)
    with pytest.raises(ValueError, match="non-negative"):
        krippendorff_alpha(data.assign(**{V: -data[V]}), level="ratio")
    with pytest.raises(ValueError, match="lack a unit or rater id"):
        krippendorff_alpha(data.assign(**{R: data[R].where(data.index > 0)}))


# --- bootstrap -----------------------------------------------------------------------------------


def _simulated(n_units: int, *, n_raters: int = 6, accuracy: float = 0.7, seed: int = 3):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, n_units)
    u = np.repeat(np.arange(n_units), n_raters)
    val = np.where(rng.random(u.size) < accuracy, truth[u], rng.integers(0, 4, u.size))
    return pd.DataFrame({U: u, R: np.tile(np.arange(n_raters), n_units), V: val})


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_units():
    small = krippendorff_alpha(_simulated(20), n_boot=500, seed=1)
    large = krippendorff_alpha(_simulated(320), n_boot=500, seed=1)
    for res in (small, large):
        assert res.ci_low < res.estimate < res.ci_high
        assert "unit bootstrap 500, 95% percentile interval" in res.method
    assert (large.ci_high - large.ci_low) < 0.5 * (small.ci_high - small.ci_low)
    few = krippendorff_alpha(_simulated(8), n_boot=200)
    assert "fewer than 10 units: interval very wide" in few.warnings


def test_bootstrap_is_deterministic_for_a_seed():
    data = _simulated(40)
    a = krippendorff_alpha(data, level="ordinal", n_boot=300, seed=5)
    b = krippendorff_alpha(data, level="ordinal", n_boot=300, seed=5)
    c = krippendorff_alpha(data, level="ordinal", n_boot=300, seed=6)
    assert a == b
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_bootstrap_replicates_equal_alpha_of_the_resampled_units(level):
    # The vectorised replicate formula must equal alpha recomputed from a frame that holds each
    # drawn unit as often as it was drawn.
    data = _long(KRIPPENDORFF_C)
    table = agreement._table(data, unit=U, rater=R, value=V, level=level)
    rng = np.random.default_rng(0)
    n = table.counts.shape[0]
    freq = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(5)])
    reps = agreement._alpha_replicates(table.counts, level, table.scores, freq.astype(float))
    units = sorted(data[U].unique())[:n]  # the pairable units, in first-seen order
    for b in range(freq.shape[0]):
        parts = [
            data[data[U] == unit].assign(**{U: f"{unit}-{copy}"})
            for unit, times in zip(units, freq[b], strict=True)
            for copy in range(times)
        ]
        direct = krippendorff_alpha(pd.concat(parts), level=level, n_boot=0).estimate
        assert reps[b] == pytest.approx(direct, abs=1e-12)


# --- per code ------------------------------------------------------------------------------------


def test_code_agreement_alpha_equals_alpha_of_the_dichotomised_data():
    data = _long(KRIPPENDORFF_C)
    per_code = code_agreement(data)
    for _, row in per_code.iterrows():
        binary = data.assign(**{V: (data[V] == row["code"]).where(data[V].notna())})
        binary = binary.astype({V: "boolean"})
        assert row["alpha"] == pytest.approx(krippendorff_alpha(binary, n_boot=0).estimate)
    # Code 5 is only ever paired with itself: perfect specific agreement.
    assert per_code.set_index("code").loc[5.0, "specific_agreement"] == 1.0


def test_code_agreement_specific_agreement_for_two_raters_is_2a_over_2a_b_c():
    # Two raters: proportion of positive agreement = 2a / (2a + b + c) (Fleiss 1975); Wikipedia
    # Cohen example: a = 20 both "ja", b + c = 15 -> 40 / 55.
    pairs = (
        [("ja", "ja")] * 20 + [("ja", "nej")] * 5 + [("nej", "ja")] * 10 + [("nej", "nej")] * 15
    )
    data = _from_rows([list(p) for p in pairs])
    ja = code_agreement(data).set_index("code").loc["ja"]
    assert ja["specific_agreement"] == pytest.approx(40 / 55)
    assert (ja["n_pairs"], ja["n_agreeing_pairs"], ja["n_values"]) == (35, 20, 55)


def test_confusion_table_lists_every_code_of_the_order():
    data = _long({"A": "a b a", "B": "a a a"}, cast=str)
    table = confusion_table(data, order=["a", "b", "c"])
    assert table.index.tolist() == ["a", "b", "c"] == table.columns.tolist()
    assert table.loc["a", "b"] == table.loc["b", "a"] == 1.0 and table.loc["c"].sum() == 0


# --- by variable and the synthetic vignette study ------------------------------------------------


SYNTH_KOMMUNER = ("2281", "2262", "2284", "0180", "1480")
SECOND_AMBIGUOUS = ("forandring_situation", "utforare", "grundproblematik")


@pytest.fixture(scope="module")
def vignettes_first():
    return synth.generate(synth.SynthConfig(scale=0.01, municipalities=SYNTH_KOMMUNER))


@pytest.fixture(scope="module")
def vignettes_second():
    cfg = synth.SynthConfig(
        seed=7, scale=0.01, municipalities=SYNTH_KOMMUNER, ambiguous_variables=SECOND_AMBIGUOUS
    )
    return synth.generate(cfg)


@pytest.mark.parametrize("which", ["vignettes_first", "vignettes_second"])
def test_agreement_by_variable_ranks_planted_ambiguous_variables_lowest(which, request):
    tables, truth = request.getfixturevalue(which)
    ambiguous, clean = set(truth["ambiguity"]), set(truth["clean"])
    out = agreement_by_variable(tables["vignette_ratings"], n_boot=200)
    assert set(out["variabel"]) == ambiguous | clean
    assert (out["status"] == "ok").all()
    assert set(out["variabel"].head(len(ambiguous))) == ambiguous
    by_var = out.set_index("variabel")
    assert by_var.loc[list(ambiguous), "alpha"].max() < by_var.loc[list(clean), "alpha"].min()
    assert by_var.loc[list(ambiguous), "alpha_ci_high"].max() < 0.6
    assert by_var.loc[list(clean), "fleiss_kappa"].min() > 0.8


def test_agreement_by_variable_marks_thin_variables_not_enough_data():
    good = _long(KRIPPENDORFF_C).assign(variabel="bra")
    thin = pd.DataFrame({U: ["u1", "u1", "u2"], R: ["A", "B", "A"], V: [1.0, 2.0, 1.0]})
    empty = pd.DataFrame({U: ["u1", "u2"], R: ["A", "A"], V: [np.nan, np.nan]})
    data = pd.concat([good, thin.assign(variabel="tunn"), empty.assign(variabel="tom")])
    out = agreement_by_variable(data, n_boot=100).set_index("variabel")
    assert out.loc["bra", "status"] == "ok" and round(out.loc["bra", "alpha"], 3) == 0.743
    for var in ("tunn", "tom"):
        assert out.loc[var, "status"] == "not enough data"
        assert np.isnan(
            out.loc[var, ["alpha", "fleiss_kappa", "alpha_ci_low"]].astype(float)
        ).all()
    assert out.index.tolist() == ["bra", "tom", "tunn"]  # defined alphas first


def test_agreement_by_variable_uses_the_order_for_ordinal_alpha():
    num = _long(KRIPPENDORFF_C)
    words = num.assign(**{V: num[V].map(lambda x: f"k{int(x)}", na_action="ignore")})
    words.loc[0, V] = "kan_ej_bedomas"  # A's value of unit 1: not in the order
    words.loc[len(words)] = ("u11", "E", "kan_ej_bedomas")  # not in the order either
    words = words.astype({V: "str"}).assign(variabel="risk")
    out = agreement_by_variable(
        words, order_by_variable={"risk": ["k1", "k2", "k3", "k4", "k5"]}, n_boot=0
    )
    row = out.iloc[0]
    assert row["level"] == "ordinal"
    expected = krippendorff_alpha(num.drop(index=0), level="ordinal", n_boot=0).estimate
    assert row["alpha"] == pytest.approx(expected)
    assert "2 values outside the order treated as missing for alpha" in row["warnings"]


def test_agreement_by_variable_is_fast_on_a_national_size_study():
    # 300 vignettes x 200 raters x 10 variables = 600 000 ratings with a 1000-replicate bootstrap.
    rng = np.random.default_rng(0)
    u = np.repeat(np.arange(300), 200)
    parts = []
    for j in range(10):
        truth = rng.integers(0, 6, 300)
        val = np.where(rng.random(u.size) < 0.5 + 0.05 * j, truth[u], rng.integers(0, 6, u.size))
        parts.append(
            pd.DataFrame(
                {
                    U: pd.Series(u).map("V{:03d}".format).astype("str"),
                    R: pd.Series(np.tile(np.arange(200), 300)).map("S{:03d}".format),
                    "variabel": f"var{j}",
                    V: pd.Series(val).map("k{}".format).astype("str"),
                }
            )
        )
    data = pd.concat(parts, ignore_index=True)
    out = agreement_by_variable(data)  # a national-size study (speed: see benchmarks, not here)
    assert out["variabel"].tolist() == [f"var{j}" for j in range(10)]  # accuracy rises with j


# --- result object and public API ----------------------------------------------------------------


def test_agreement_result_to_frame_and_html_show_the_numbers_in_swedish():
    res = krippendorff_alpha(_long(KRIPPENDORFF_C), level="ordinal", n_boot=200)
    frame = res.to_frame()
    assert frame.shape == (1, 9)
    assert frame.loc[0, "estimate"] == res.estimate and frame.loc[0, "n_units"] == 11
    page = res._repr_html_()
    assert "Skattning" in page and "0,815" in page and "ordinal" in page
    assert "Krippendorff&#x27;s alpha" in page  # escaped


def test_agreement_result_html_escapes_warnings():
    res = AgreementResult(0.5, np.nan, np.nan, "<script>", "nominal", 3, 2, 6, ("<b>",))
    page = res._repr_html_()
    assert "<script>" not in page and "&lt;b&gt;" in page and "ej beräknat" in page


def test_public_api_exposes_the_agreement_functions():
    assert workbench.krippendorff_alpha is krippendorff_alpha
    assert workbench.fleiss_kappa is fleiss_kappa
    assert workbench.cohen_kappa is cohen_kappa
    assert {"krippendorff_alpha", "fleiss_kappa", "cohen_kappa"} <= set(workbench.__all__)


# --- properties ----------------------------------------------------------------------------------

ratings_matrix = st.lists(
    st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=3, max_size=3),
    min_size=2,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(ratings_matrix, st.permutations(["w", "x", "y", "z"]), st.randoms(use_true_random=False))
def test_krippendorff_alpha_is_invariant_to_code_labels_and_row_order(rows, labels, rnd):
    data = _from_rows(rows).astype({V: "Int64"})
    base = krippendorff_alpha(data, n_boot=0)
    relabelled = data.assign(**{V: data[V].map(lambda x: labels[x], na_action="ignore")})
    idx = list(data.index)
    rnd.shuffle(idx)
    other = krippendorff_alpha(relabelled.loc[idx].astype({V: "str"}), n_boot=0)
    np.testing.assert_allclose(other.estimate, base.estimate, atol=1e-12)
    assert other.n_units == base.n_units
    if np.isfinite(base.estimate):
        assert base.estimate <= 1 + 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=4, max_size=4), min_size=2, max_size=15))
def test_fleiss_kappa_matches_statsmodels_on_complete_data(rows):
    data = _from_rows(rows)
    counts = np.stack([np.bincount(r, minlength=4) for r in rows])
    ours = fleiss_kappa(data).estimate
    if (counts.sum(axis=0) > 0).sum() < 2:
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(inter_rater.fleiss_kappa(counts), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=2, max_size=30),
    st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_matches_statsmodels(pairs, weights):
    data = _from_rows([list(p) for p in pairs])
    table = np.zeros((4, 4))
    for a, b in pairs:
        table[a, b] += 1
    ours = cohen_kappa(data, weights=weights, order=[0, 1, 2, 3]).estimate
    if np.isfinite(ours):
        theirs = inter_rater.cohens_kappa(table, wt=weights, return_results=False)
        assert ours == pytest.approx(theirs, abs=1e-9)
    else:  # undefined only when both raters used one and the same code throughout
        assert np.count_nonzero(table) == 1 and np.trace(table) == len(pairs)
