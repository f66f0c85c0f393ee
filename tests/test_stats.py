"""Tests for workbench.stats: published known answers, cross-checks and edge cases.

Every reference value names its source. Cross-checks use independent implementations in
statsmodels (proportion_confint, confint_proportions_2indep, SurvfuncRight, multipletests,
Table.test_ordinal_association, Logit).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.contingency_tables import Table
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from workbench import stats

# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------

# Newcombe RG (1998a). Two-sided confidence intervals for the single proportion: comparison of
# seven methods. Statistics in Medicine 17:857-872, Table I: the four worked examples.
# Method 3 (Wilson score, no continuity correction) and method 5 (Clopper-Pearson "exact").
# The Wilson values are also asserted by an independent implementation's test suite (a JS
# "wilson" test citing Newcombe 1998a Table I, found via code search) and by statsmodels below.
NEWCOMBE_1998A = [
    # x, n, wilson (low, high), clopper-pearson (low, high)
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0000, 0.1611), (0.0000, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]

# Newcombe RG (1998b). Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Statistics in Medicine 17:873-890, Table II, method 10 (hybrid
# score), examples (a)-(h). (a) and (b) are also asserted by the R package propint's tests
# ("ci.two.indep.props produces the results reported in Newcombe1998").
NEWCOMBE_1998B = [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
    (10, 10, 0, 10, 0.6075, 1.0000),
]

# Freireich EJ et al. (1963), Blood 21:699-716: remission times in weeks of 42 leukaemia
# patients, 6-MP vs placebo (the "Gehan" data; Kleinbaum & Klein, Survival Analysis, 3rd ed.,
# ch. 2; Collett, Modelling Survival Data in Medical Research). 1 = relapse, 0 = censored.
MP6_WEEKS = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
MP6_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO_WEEKS = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
# Kleinbaum & Klein (2012), 3rd ed., ch. 2, KM table for the 6-MP group: S(t) to 4 decimals,
# median 23 weeks; Greenwood standard errors as printed by standard survival software for these
# data (and cross-checked against statsmodels SurvfuncRight below).
MP6_KM = {
    6: (0.8571, 0.0764),
    7: (0.8067, 0.0869),
    10: (0.7529, 0.0963),
    13: (0.6902, 0.1068),
    16: (0.6275, 0.1141),
    22: (0.5378, 0.1282),
    23: (0.4482, 0.1346),
}

# Mills & Graubard (1987) infant sex-organ malformation by mother's alcohol consumption
# (0, <1, 1-2, 3-5, >=6 drinks/day), as in Agresti, Categorical Data Analysis (2nd ed. 2002,
# section 3.4, test of linear trend): with scores (0, 0.5, 1.5, 4, 7) the statistic is
# M^2 = 6.57 (P = 0.01); with equally spaced scores (1..5) M^2 = 1.83 (P = 0.18), z = 1.35.
# (The brief quoted z = 1.35 for the midpoint scores; that value belongs to the equally spaced
# scores. Midpoint scores give z = 2.56.)
MALFORMATION_PRESENT = [48, 38, 5, 1, 1]
MALFORMATION_ABSENT = [17066, 14464, 788, 126, 37]

# Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate. JRSS B 57:289-300,
# the paper's worked example: 15 p-values; at q* = 0.05 the procedure rejects the 4 smallest.
BH_1995 = [
    0.0001,
    0.0004,
    0.0019,
    0.0095,
    0.0201,
    0.0278,
    0.0298,
    0.0344,
    0.0459,
    0.3240,
    0.4262,
    0.5719,
    0.6528,
    0.7590,
    1.0000,
]


def _six_mp_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "weeks": MP6_WEEKS + PLACEBO_WEEKS,
            "relapse": MP6_EVENT + [1] * len(PLACEBO_WEEKS),
            "grupp": pd.Categorical(["6-MP"] * 21 + ["placebo"] * 21),
        }
    )


# --------------------------------------------------------------------------------------------
# Single proportions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "n", "wilson", "_cp"), NEWCOMBE_1998A)
def test_proportion_ci_wilson_matches_newcombe_1998a_table_i(x, n, wilson, _cp):
    out = stats.proportion_ci([x], [n], method="wilson").iloc[0]
    assert round(out["ci_low"], 4) == wilson[0]
    assert round(out["ci_high"], 4) == wilson[1]
    sm_low, sm_high = proportion_confint(x, n, method="wilson")
    assert out["ci_low"] == pytest.approx(sm_low, abs=1e-12)
    assert out["ci_high"] == pytest.approx(sm_high, abs=1e-12)
    assert out["share"] == pytest.approx(x / n)
    assert out["method"] == "wilson"


@pytest.mark.parametrize(("x", "n", "_w", "cp"), NEWCOMBE_1998A)
def test_proportion_ci_clopper_pearson_matches_newcombe_1998a_table_i(x, n, _w, cp):
    out = stats.proportion_ci([x], [n], method="clopper-pearson").iloc[0]
    assert round(out["ci_low"], 4) == cp[0]
    assert round(out["ci_high"], 4) == cp[1]
    sm_low, sm_high = proportion_confint(x, n, method="beta")
    assert out["ci_low"] == pytest.approx(sm_low, abs=1e-10)
    assert out["ci_high"] == pytest.approx(sm_high, abs=1e-10)


def test_proportion_ci_jeffreys_matches_statsmodels_inside_and_is_modified_at_boundaries():
    # Inside (0 < x < n) the Jeffreys interval is the equal-tailed Beta(x+1/2, n-x+1/2)
    # interval: statsmodels' method="jeffreys" computes the same thing independently.
    x = np.array([1, 5, 81, 15, 28])
    n = np.array([29, 10, 263, 148, 29])
    out = stats.proportion_ci(x, n, method="jeffreys")
    sm_low, sm_high = proportion_confint(x, n, method="jeffreys")
    np.testing.assert_allclose(out["ci_low"], sm_low, atol=1e-10)
    np.testing.assert_allclose(out["ci_high"], sm_high, atol=1e-10)
    # Brown, Cai & DasGupta (2001), Statist. Sci. 16:101-133, section 4.1.2: lower limit 0 at
    # x = 0 and upper limit 1 at x = n.
    edge = stats.proportion_ci([0, 20], [20, 20], method="jeffreys")
    assert edge["ci_low"].iloc[0] == 0.0
    assert edge["ci_high"].iloc[1] == 1.0
    # The other limit is the Beta quantile: for 0/20 the upper limit is Beta(0.5, 20.5)'s
    # 97.5th percentile, 0.1166 (statsmodels gives the same value).
    assert round(edge["ci_high"].iloc[0], 4) == round(
        proportion_confint(0, 20, method="jeffreys")[1], 4
    )


def test_proportion_ci_zero_events_has_lower_limit_exactly_zero():
    out = stats.proportion_ci([0, 0, 0], [20, 3, 1000], method="wilson")
    assert (out["ci_low"] == 0.0).all()
    assert (out["share"] == 0.0).all()
    assert (out["ci_high"] > 0).all()
    for method in ("clopper-pearson", "jeffreys"):
        assert stats.proportion(0, 20, method=method).ci_low == 0.0


def test_proportion_ci_hundred_percent_has_upper_limit_exactly_one_and_mirrors_zero():
    full = stats.proportion(20, 20)
    empty = stats.proportion(0, 20)
    assert full.share == 1.0
    assert full.ci_high == 1.0
    # Wilson is symmetric: the interval for 20/20 mirrors the one for 0/20 (Newcombe 1998a
    # Table I, 0/20: 0.0000-0.1611).
    assert full.ci_low == pytest.approx(1 - empty.ci_high, abs=1e-12)
    assert round(full.ci_low, 4) == round(1 - 0.1611, 4)
    assert stats.proportion(20, 20, method="clopper-pearson").ci_high == 1.0


def test_proportion_ci_three_trials_matches_statsmodels_for_every_count():
    x = np.array([0, 1, 2, 3])
    n = np.array([3, 3, 3, 3])
    for method, sm_method in (("wilson", "wilson"), ("clopper-pearson", "beta")):
        out = stats.proportion_ci(x, n, method=method)
        sm_low, sm_high = proportion_confint(x, n, method=sm_method)
        np.testing.assert_allclose(out["ci_low"], sm_low, atol=1e-10)
        np.testing.assert_allclose(out["ci_high"], sm_high, atol=1e-10)


def test_proportion_ci_zero_trials_gives_nan():
    out = stats.proportion_ci([0, 3], [0, 10])
    assert math.isnan(out["share"].iloc[0])
    assert math.isnan(out["ci_low"].iloc[0])
    assert math.isnan(out["ci_high"].iloc[0])
    assert out["share"].iloc[1] == pytest.approx(0.3)
    assert math.isnan(stats.proportion(0, 0).share)


def test_proportion_ci_nullable_int64_with_missing_keeps_index_and_gives_nan():
    x = pd.Series([81, pd.NA, 0], dtype="Int64", index=["a", "b", "c"])
    n = pd.Series([263, 10, pd.NA], dtype="Int64", index=["a", "b", "c"])
    out = stats.proportion_ci(x, n)
    assert list(out.index) == ["a", "b", "c"]
    assert round(out.loc["a", "ci_low"], 4) == 0.2553
    assert out.loc[["b", "c"], ["share", "ci_low", "ci_high"]].isna().all().all()


def test_proportion_ci_count_above_denominator_raises():
    with pytest.raises(ValueError, match="outside 0 .. denominator"):
        stats.proportion_ci([5], [4])
    with pytest.raises(ValueError, match="outside"):
        stats.proportion_ci([-1], [4])


def test_proportion_ci_unknown_method_and_bad_level_raise():
    with pytest.raises(ValueError, match="unknown interval method"):
        stats.proportion_ci([1], [2], method="wald")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level"):
        stats.proportion_ci([1], [2], level=95)


def test_proportion_ci_level_changes_width_as_statsmodels():
    out = stats.proportion_ci([15], [148], level=0.99).iloc[0]
    sm_low, sm_high = proportion_confint(15, 148, alpha=0.01, method="wilson")
    assert out["ci_low"] == pytest.approx(sm_low, abs=1e-12)
    assert out["ci_high"] == pytest.approx(sm_high, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    st_.integers(min_value=1, max_value=500).flatmap(
        lambda n: st_.tuples(st_.integers(min_value=0, max_value=n), st_.just(n))
    )
)
def test_proportion_ci_agrees_with_statsmodels_and_contains_share(xn):
    x, n = xn
    for method, sm_method in (("wilson", "wilson"), ("clopper-pearson", "beta")):
        r = stats.proportion(x, n, method=method)
        assert 0.0 <= r.ci_low <= r.share <= r.ci_high <= 1.0
        sm_low, sm_high = proportion_confint(x, n, method=sm_method)
        assert r.ci_low == pytest.approx(sm_low, abs=1e-9)
        assert r.ci_high == pytest.approx(sm_high, abs=1e-9)


def test_proportion_result_to_frame_and_html_name_the_method():
    r = stats.proportion(81, 263)
    frame = r.to_frame()
    assert len(frame) == 1
    assert frame.loc[0, "method"] == "wilson"
    assert r.method_name == "Wilson score interval"
    page = r._repr_html_()
    assert "Wilsonintervall" in page
    assert "81 av 263" in page
    assert "25,5" in page  # Swedish decimal comma


# --------------------------------------------------------------------------------------------
# shares_with_ci
# --------------------------------------------------------------------------------------------


def test_shares_with_ci_counts_shares_and_wilson_limits_per_group():
    data = pd.DataFrame(
        {
            "kommun": ["A"] * 263 + ["B"] * 148,
            "utfall": ["ja"] * 81 + ["nej"] * 182 + ["ja"] * 15 + ["nej"] * 133,
        }
    )
    out = stats.shares_with_ci(data, by=["kommun"], value="utfall")
    assert list(out.columns) == [
        "kommun",
        "utfall",
        "n",
        "denominator",
        "share",
        "ci_low",
        "ci_high",
        "method",
    ]
    a_yes = out[(out["kommun"] == "A") & (out["utfall"] == "ja")].iloc[0]
    assert (a_yes["n"], a_yes["denominator"]) == (81, 263)
    # Newcombe 1998a Table I: 81/263 -> 0.2553-0.3662, 15/148 -> 0.0624-0.1605
    assert (round(a_yes["ci_low"], 4), round(a_yes["ci_high"], 4)) == (0.2553, 0.3662)
    b_yes = out[(out["kommun"] == "B") & (out["utfall"] == "ja")].iloc[0]
    assert (round(b_yes["ci_low"], 4), round(b_yes["ci_high"], 4)) == (0.0624, 0.1605)
    assert out.groupby("kommun")["share"].sum().tolist() == pytest.approx([1.0, 1.0])


def test_shares_with_ci_unordered_categorical_lists_zero_count_categories():
    dtype = pd.CategoricalDtype(["HVB", "familjehem", "öppenvård"])
    data = pd.DataFrame(
        {"kommun": ["A", "A", "A", "B"], "insats": pd.Series(["HVB"] * 3 + ["familjehem"])}
    )
    data["insats"] = data["insats"].astype(dtype)
    out = stats.shares_with_ci(data, by=["kommun"], value="insats")
    assert len(out) == 6
    a = out[out["kommun"] == "A"]
    assert a["insats"].astype(str).tolist() == ["HVB", "familjehem", "öppenvård"]
    assert a["n"].tolist() == [3, 0, 0]
    zero = a.iloc[1]
    assert zero["share"] == 0.0
    assert zero["ci_low"] == 0.0
    assert zero["ci_high"] > 0.0
    assert isinstance(out["insats"].dtype, pd.CategoricalDtype)


def test_shares_with_ci_ordered_categorical_keeps_category_order():
    dtype = pd.CategoricalDtype(["låg", "medel", "hög"], ordered=True)
    data = pd.DataFrame({"risk": pd.Series(["hög", "låg", "hög"], dtype=dtype)})
    out = stats.shares_with_ci(data, by=[], value="risk")
    assert out["risk"].astype(str).tolist() == ["låg", "medel", "hög"]
    assert out["n"].tolist() == [1, 0, 2]
    assert out["denominator"].tolist() == [3, 3, 3]
    assert out["risk"].dtype == dtype


def test_shares_with_ci_one_category_only_gives_share_one():
    data = pd.DataFrame({"kommun": ["A"] * 5, "kon": ["flicka"] * 5})
    out = stats.shares_with_ci(data, by=["kommun"], value="kon")
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["n"], row["denominator"], row["share"], row["ci_high"]) == (5, 5, 1.0, 1.0)
    assert row["ci_low"] == pytest.approx(proportion_confint(5, 5, method="wilson")[0])


def test_shares_with_ci_three_registrations_matches_proportion():
    data = pd.DataFrame({"kommun": ["X"] * 3, "mal": ["uppnått", "ej", "uppnått"]})
    out = stats.shares_with_ci(data, by=["kommun"], value="mal")
    row = out[out["mal"] == "uppnått"].iloc[0]
    expected = stats.proportion(2, 3)
    assert (row["n"], row["denominator"]) == (2, 3)
    assert row["ci_low"] == pytest.approx(expected.ci_low)
    assert row["ci_high"] == pytest.approx(expected.ci_high)


def test_shares_with_ci_all_missing_categorical_gives_zero_denominator_and_nan_shares():
    dtype = pd.CategoricalDtype(["ja", "nej"])
    data = pd.DataFrame(
        {"kommun": ["A", "A", "B"], "v": pd.Series([None, None, "ja"], dtype=dtype)}
    )
    out = stats.shares_with_ci(data, by=["kommun"], value="v")
    a = out[out["kommun"] == "A"]
    assert len(a) == 2
    assert (a["denominator"] == 0).all()
    assert (a["n"] == 0).all()
    assert a["share"].isna().all()
    b = out[out["kommun"] == "B"]
    assert b["share"].tolist() == [1.0, 0.0]


def test_shares_with_ci_all_missing_string_column_gives_empty_frame():
    data = pd.DataFrame({"kommun": ["A", "A"], "v": pd.Series([None, None], dtype="str")})
    out = stats.shares_with_ci(data, by=["kommun"], value="v")
    assert out.empty
    assert "share" in out.columns


def test_shares_with_ci_missing_values_are_left_out_of_the_denominator():
    data = pd.DataFrame({"v": pd.Series(["a", None, "b", "a"], dtype="str")})
    out = stats.shares_with_ci(data, by=[], value="v")
    assert out["denominator"].tolist() == [3, 3]
    assert out["n"].tolist() == [2, 1]


def test_shares_with_ci_pandas_str_dtype_groups_and_values():
    data = pd.DataFrame(
        {
            "kommun": pd.Series(["0180", "0180", "2281", "2281"], dtype="str"),
            "kon": pd.Series(["pojke", "flicka", "flicka", "flicka"], dtype="str"),
        }
    )
    assert data["kommun"].dtype == "str"
    out = stats.shares_with_ci(data, by=["kommun"], value="kon")
    got = {(k, v): s for k, v, s in zip(out["kommun"], out["kon"], out["share"], strict=True)}
    assert got == {("0180", "flicka"): 0.5, ("0180", "pojke"): 0.5, ("2281", "flicka"): 1.0}


def test_shares_with_ci_nullable_boolean_lists_both_values():
    data = pd.DataFrame(
        {"kommun": ["A", "A", "A"], "ensamkommande": pd.array([True, True, pd.NA], "boolean")}
    )
    out = stats.shares_with_ci(data, by=["kommun"], value="ensamkommande")
    assert out["ensamkommande"].tolist() == [False, True]
    assert out["n"].tolist() == [0, 2]
    assert out["denominator"].tolist() == [2, 2]


def test_shares_with_ci_nullable_int64_value_counts_observed_codes():
    data = pd.DataFrame({"kod": pd.array([1, 2, 2, pd.NA], dtype="Int64")})
    out = stats.shares_with_ci(data, by=[], value="kod")
    assert out["kod"].tolist() == [1, 2]
    assert out["n"].tolist() == [1, 2]
    assert out["denominator"].tolist() == [3, 3]


def test_shares_with_ci_missing_group_key_is_kept_as_its_own_group():
    data = pd.DataFrame({"lan": ["X", None, None], "v": ["a", "a", "b"]})
    out = stats.shares_with_ci(data, by=["lan"], value="v")
    assert out["n"].sum() == 3
    assert out["lan"].isna().sum() == 2


def test_shares_with_ci_weight_equals_expanded_rows():
    agg = pd.DataFrame({"k": ["A", "A", "B"], "v": ["x", "y", "x"], "antal": [3, 1, 2]})
    rows = agg.loc[agg.index.repeat(agg["antal"]), ["k", "v"]].reset_index(drop=True)
    weighted = stats.shares_with_ci(agg, by=["k"], value="v", weight="antal")
    plain = stats.shares_with_ci(rows, by=["k"], value="v")
    np.testing.assert_allclose(weighted["share"], plain["share"])
    np.testing.assert_allclose(weighted["ci_low"], plain["ci_low"])
    np.testing.assert_allclose(weighted["n"], plain["n"])


def test_shares_with_ci_unknown_column_raises_with_available_columns():
    with pytest.raises(KeyError, match="available columns"):
        stats.shares_with_ci(pd.DataFrame({"a": [1]}), by=["kommun"], value="a")


# --------------------------------------------------------------------------------------------
# Risk difference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "low", "high"), NEWCOMBE_1998B)
def test_risk_difference_matches_newcombe_1998b_table_ii_method_10(x1, n1, x2, n2, low, high):
    r = stats.risk_difference(x1, n1, x2, n2)
    assert round(r.ci_low, 4) == low
    assert round(r.ci_high, 4) == high
    assert r.difference == pytest.approx(x1 / n1 - x2 / n2)
    sm_low, sm_high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    assert r.ci_low == pytest.approx(sm_low, abs=1e-10)
    assert r.ci_high == pytest.approx(sm_high, abs=1e-10)


def test_risk_difference_ci_is_vectorised_and_keeps_index():
    idx = pd.Index(["k1", "k2"])
    out = stats.risk_difference_ci(pd.Series([56, 9], index=idx), [70, 10], [48, 3], [80, 10])
    assert list(out.index) == ["k1", "k2"]
    assert out["ci_low"].round(4).tolist() == [0.0524, 0.1705]
    assert (out["method"] == "newcombe").all()


def test_risk_difference_zero_denominator_gives_nan_and_html_says_so():
    r = stats.risk_difference(1, 5, 0, 0)
    assert math.isnan(r.difference) and math.isnan(r.ci_low) and math.isnan(r.ci_high)
    assert "kan inte beräknas" in r._repr_html_()


def test_risk_difference_unknown_method_raises():
    with pytest.raises(ValueError, match="newcombe"):
        stats.risk_difference(1, 2, 1, 2, method="wald")  # type: ignore[arg-type]


def test_risk_difference_result_text_in_percentage_points():
    r = stats.risk_difference(56, 70, 48, 80)
    assert "20,0 procentenheter" in r.text_sv()
    assert "5,2 till 33,4" in r.text_sv()
    assert r.to_frame().loc[0, "method"] == "newcombe"


# --------------------------------------------------------------------------------------------
# Benjamini-Hochberg
# --------------------------------------------------------------------------------------------


def test_benjamini_hochberg_rejects_four_in_the_1995_example():
    out = stats.benjamini_hochberg(BH_1995, alpha=0.05)
    assert int(out["reject"].sum()) == 4
    assert out["reject"].iloc[:4].all()
    reject, q, _, _ = multipletests(BH_1995, alpha=0.05, method="fdr_bh")
    np.testing.assert_allclose(out["q_value"], q, atol=1e-12)
    assert out["reject"].to_numpy(dtype=bool).tolist() == reject.tolist()


def test_benjamini_hochberg_hand_computed_five_pvalues():
    # p sorted: .005 .01 .03 .04 .20 -> p*m/i: .025 .025 .05 .05 .20; running minimum from
    # the top leaves them unchanged. Unsorted input order is restored.
    p = [0.01, 0.04, 0.03, 0.005, 0.20]
    out = stats.benjamini_hochberg(p, alpha=0.05)
    np.testing.assert_allclose(out["q_value"], [0.025, 0.05, 0.05, 0.025, 0.20])
    assert out["reject"].tolist() == [True, True, True, True, False]


def test_benjamini_hochberg_ignores_missing_pvalues():
    p = pd.Series([0.01, np.nan, 0.04], index=["x", "y", "z"])
    out = stats.benjamini_hochberg(p)
    assert list(out.index) == ["x", "y", "z"]
    assert math.isnan(out.loc["y", "q_value"])
    assert out["reject"].isna().tolist() == [False, True, False]
    # m = 2 present p-values: q = (0.02, 0.04)
    assert out.loc["x", "q_value"] == pytest.approx(0.02)
    assert out.loc["z", "q_value"] == pytest.approx(0.04)


def test_benjamini_hochberg_all_missing_and_empty_inputs():
    out = stats.benjamini_hochberg([np.nan, np.nan])
    assert out["q_value"].isna().all()
    assert out["reject"].isna().all()
    assert stats.benjamini_hochberg([]).empty


def test_benjamini_hochberg_rejects_pvalues_outside_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.benjamini_hochberg([0.5, 1.2])


@settings(max_examples=100, deadline=None)
@given(st_.lists(st_.floats(min_value=0, max_value=1), min_size=1, max_size=60))
def test_benjamini_hochberg_agrees_with_statsmodels(pvalues):
    out = stats.benjamini_hochberg(pvalues, alpha=0.1)
    reject, q, _, _ = multipletests(pvalues, alpha=0.1, method="fdr_bh")
    np.testing.assert_allclose(out["q_value"], q, atol=1e-12)
    assert out["reject"].to_numpy(dtype=bool).tolist() == reject.tolist()


# --------------------------------------------------------------------------------------------
# Trend
# --------------------------------------------------------------------------------------------


def _malformation(scores) -> pd.DataFrame:
    present = np.array(MALFORMATION_PRESENT)
    absent = np.array(MALFORMATION_ABSENT)
    return pd.DataFrame({"score": scores, "x": present, "n": present + absent})


def test_trend_table_cochran_armitage_matches_agresti_malformation_example():
    midpoints = stats.trend_table(
        _malformation([0, 0.5, 1.5, 4, 7]), by=[], year="score", successes="x", trials="n"
    ).iloc[0]
    # Agresti M^2 = (N-1) r^2 = 6.57, P = 0.01; the Cochran-Armitage z^2 = N r^2 differs only
    # in the factor N/(N-1) (N = 32574).
    big_n = 32574
    assert round(midpoints["z"] ** 2 * (big_n - 1) / big_n, 2) == 6.57
    assert round(midpoints["p_value"], 2) == 0.01
    equal = stats.trend_table(
        _malformation([1, 2, 3, 4, 5]), by=[], year="score", successes="x", trials="n"
    ).iloc[0]
    assert round(equal["z"], 2) == 1.35
    assert round(equal["z"] ** 2 * (big_n - 1) / big_n, 2) == 1.83
    assert round(equal["p_value"], 2) == 0.18
    assert equal["direction"] == "no_evidence"
    assert midpoints["direction"] == "increasing"


def test_trend_table_matches_statxact_asymptotic_pvalues_for_graubard_korn_scores():
    # Cytel StatXact example 6 (Cochran-Armitage trend test, Graubard & Korn data): asymptotic
    # two-sided p = .0078 with scores (0, 0.5, 1.5, 4, 8) and .1765 with equally spaced scores.
    gk = stats.trend_table(
        _malformation([0, 0.5, 1.5, 4, 8]), by=[], year="score", successes="x", trials="n"
    ).iloc[0]
    assert gk["p_value"] == pytest.approx(0.0078, abs=5e-5)
    eq = stats.trend_table(
        _malformation([1, 2, 3, 4, 5]), by=[], year="score", successes="x", trials="n"
    ).iloc[0]
    assert eq["p_value"] == pytest.approx(0.1765, abs=2e-4)


def test_trend_table_z_agrees_with_statsmodels_ordinal_association():
    scores = np.array([0, 0.5, 1.5, 4, 7])
    table = Table(np.c_[MALFORMATION_PRESENT, MALFORMATION_ABSENT])
    sm = table.test_ordinal_association(row_scores=scores, col_scores=np.array([1, 0]))
    ours = stats.trend_table(_malformation(scores), by=[], year="score", successes="x", trials="n")
    # statsmodels uses the permutation variance (N-1 denominator): z differs by sqrt(N/(N-1)).
    big_n = 32574
    assert ours["z"].iloc[0] * math.sqrt((big_n - 1) / big_n) == pytest.approx(sm.zscore, rel=1e-9)


def test_trend_test_increasing_share_reports_okande_with_annual_change():
    data = pd.DataFrame(
        {"ar": [2019, 2020, 2021, 2022], "x": [10, 14, 20, 26], "n": [100, 100, 100, 100]}
    )
    r = stats.trend_test(data, year="ar", successes="x", trials="n")
    assert r.direction == "increasing"
    assert r.p_value < 0.05
    # weighted least-squares slope of the yearly shares on year (equal n): 0.054 per year
    assert r.slope == pytest.approx(0.054)
    assert r.text_sv.startswith("ökande: i genomsnitt 5,4 procentenheter per år")
    assert r.odds_ratio > 1 and r.or_ci_low > 1
    assert r.n_years == 4


def test_trend_test_decreasing_share_reports_minskande():
    data = pd.DataFrame({"ar": [2018, 2019, 2020], "x": [60, 40, 20], "n": [100, 100, 100]})
    r = stats.trend_test(data, year="ar", successes="x", trials="n")
    assert r.direction == "decreasing"
    assert r.text_sv.startswith("minskande")
    assert r.odds_ratio < 1 and r.or_ci_high < 1


def test_trend_test_flat_share_reports_ingen_saker_forandring():
    data = pd.DataFrame(
        {"ar": [2019, 2020, 2021, 2022], "x": [20, 22, 19, 21], "n": [100, 100, 100, 100]}
    )
    r = stats.trend_test(data, year="ar", successes="x", trials="n")
    assert r.p_value >= 0.05
    assert r.direction == "no_evidence"
    assert r.text_sv.startswith("ingen säker förändring")
    assert r.or_ci_low < 1 < r.or_ci_high


def test_trend_test_odds_ratio_equals_individual_level_logistic_regression():
    import statsmodels.api as sm

    data = pd.DataFrame(
        {"ar": [2019, 2020, 2021, 2022], "x": [3, 7, 6, 12], "n": [40, 35, 30, 42]}
    )
    r = stats.trend_test(data, year="ar", successes="x", trials="n")
    rows = []
    for year, x, n in data.itertuples(index=False):
        rows += [(year - 2019, 1)] * x + [(year - 2019, 0)] * (n - x)
    ind = pd.DataFrame(rows, columns=["t", "y"])
    fit = sm.Logit(ind["y"], sm.add_constant(ind["t"])).fit(disp=0)
    assert r.odds_ratio == pytest.approx(math.exp(fit.params["t"]), rel=1e-6)
    low, high = np.exp(fit.conf_int().loc["t"])
    assert r.or_ci_low == pytest.approx(low, rel=1e-5)
    assert r.or_ci_high == pytest.approx(high, rel=1e-5)


def test_trend_test_fewer_than_three_years_is_insufficient_not_an_error():
    data = pd.DataFrame({"ar": [2021, 2022, 2023], "x": [1, 2, 0], "n": [10, 12, 0]})
    r = stats.trend_test(data, year="ar", successes="x", trials="n")
    assert r.direction == "insufficient_data"
    assert r.n_years == 2
    assert math.isnan(r.p_value)
    assert "minst 3 år" in r.text_sv
    empty = stats.trend_test(data.iloc[:0], year="ar", successes="x", trials="n")
    assert empty.direction == "insufficient_data"
    assert empty.n_years == 0


def test_trend_test_zero_events_every_year_has_no_change_and_no_exception():
    data = pd.DataFrame({"ar": [2019, 2020, 2021], "x": [0, 0, 0], "n": [5, 3, 8]})
    r = stats.trend_test(data, year="ar", successes="x", trials="n")
    assert r.direction == "no_evidence"
    assert r.p_value == 1.0
    assert math.isnan(r.odds_ratio)
    full = stats.trend_test(data.assign(x=data["n"]), year="ar", successes="x", trials="n")
    assert full.direction == "no_evidence"


def test_trend_test_accepts_string_and_categorical_year_and_nullable_counts():
    base = pd.DataFrame({"x": [10, 14, 20, 26], "n": [100, 100, 100, 100]})
    ref = stats.trend_test(
        base.assign(ar=[2019, 2020, 2021, 2022]), year="ar", successes="x", trials="n"
    )
    as_str = base.assign(ar=pd.Series(["2019", "2020", "2021", "2022"], dtype="str"))
    as_cat = base.assign(ar=pd.Categorical([2019, 2020, 2021, 2022], ordered=True))
    nullable = base.astype("Int64").assign(ar=[2019, 2020, 2021, 2022])
    for frame in (as_str, as_cat, nullable):
        r = stats.trend_test(frame, year="ar", successes="x", trials="n")
        assert r.z == pytest.approx(ref.z)
        assert r.odds_ratio == pytest.approx(ref.odds_ratio)


def test_trend_test_sums_several_rows_per_year():
    split = pd.DataFrame(
        {"ar": [2019, 2019, 2020, 2021, 2021], "x": [4, 6, 14, 10, 10], "n": [50, 50, 100, 60, 40]}
    )
    whole = pd.DataFrame({"ar": [2019, 2020, 2021], "x": [10, 14, 20], "n": [100, 100, 100]})
    a = stats.trend_test(split, year="ar", successes="x", trials="n")
    b = stats.trend_test(whole, year="ar", successes="x", trials="n")
    assert a.z == pytest.approx(b.z)


def test_trend_table_per_group_equals_trend_test_per_group():
    rng = np.random.default_rng(4)
    rows = []
    for kommun in ["0180", "1480", "2281"]:
        for year in range(2016, 2024):
            n = int(rng.integers(5, 60))
            rows.append((kommun, year, int(rng.binomial(n, 0.1 + 0.01 * (year - 2016))), n))
    rows.append(("9999", 2020, 1, 3))  # a municipality with one year only
    data = pd.DataFrame(rows, columns=["kommun", "ar", "x", "n"])
    table = stats.trend_table(data, by=["kommun"], year="ar", successes="x", trials="n")
    assert table["kommun"].tolist() == ["0180", "1480", "2281", "9999"]
    for kommun, sub in data.groupby("kommun"):
        r = stats.trend_test(sub, year="ar", successes="x", trials="n")
        row = table[table["kommun"] == kommun].iloc[0]
        assert row["direction"] == r.direction
        if r.direction != "insufficient_data":
            assert row["z"] == pytest.approx(r.z)
            assert row["slope"] == pytest.approx(r.slope)


def test_trend_result_to_frame_and_html():
    data = pd.DataFrame({"ar": [2019, 2020, 2021], "x": [20, 22, 19], "n": [100, 100, 100]})
    r = stats.trend_test(data, year="ar", successes="x", trials="n")
    frame = r.to_frame()
    assert len(frame) == 1
    assert frame.loc[0, "direction"] == "no_evidence"
    assert "Cochran-Armitage" in r._repr_html_()
    assert "ingen säker förändring" in r._repr_html_()


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------


def test_kaplan_meier_matches_published_6mp_survival_and_greenwood_se():
    km = stats.kaplan_meier(_six_mp_frame(), duration="weeks", event="relapse", by=["grupp"])
    curve = km.curve[(km.curve["grupp"] == "6-MP") & (km.curve["n_events"] > 0)]
    for _, row in curve.iterrows():
        s, se = MP6_KM[int(row["time"])]
        assert round(row["survival"], 4) == s
        assert round(row["std_err"], 4) == se
    summary = km.summary.set_index("grupp")
    assert summary.loc["6-MP", "median"] == 23
    assert summary.loc["placebo", "median"] == 8  # Kleinbaum & Klein ch. 2: placebo median 8
    assert summary.loc["6-MP", "n_events"] == 9
    assert summary.loc["6-MP", "n"] == 21


def test_kaplan_meier_agrees_with_statsmodels_survfuncright_per_group():
    km = stats.kaplan_meier(_six_mp_frame(), duration="weeks", event="relapse", by=["grupp"])
    frame = _six_mp_frame()
    for name, sub in frame.groupby("grupp", observed=True):
        sf = SurvfuncRight(sub["weeks"].to_numpy(float), sub["relapse"].to_numpy(float))
        ours = km.curve[(km.curve["grupp"] == name) & (km.curve["n_events"] > 0)]
        np.testing.assert_allclose(ours["time"], sf.surv_times)
        np.testing.assert_allclose(ours["survival"], sf.surv_prob, atol=1e-12)
        np.testing.assert_allclose(ours["std_err"], sf.surv_prob_se, atol=1e-12)
        np.testing.assert_array_equal(ours["n_at_risk"], sf.n_risk)
        row = km.summary[km.summary["grupp"] == name].iloc[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            low, high = sf.quantile_ci(0.5, method="cloglog")
        assert row["median"] == sf.quantile(0.5)
        assert row["median_ci_low"] == low
        assert (math.isnan(row["median_ci_high"]) and math.isinf(high)) or row[
            "median_ci_high"
        ] == high


def test_kaplan_meier_median_ci_for_6mp_is_13_to_not_reached():
    # Brookmeyer-Crowley with log-log transform, as SAS PROC LIFETEST: lower limit 13 weeks,
    # upper limit not reached (statsmodels SurvfuncRight.quantile_ci gives (13, inf)).
    km = stats.kaplan_meier(_six_mp_frame(), duration="weeks", event="relapse", by=["grupp"])
    row = km.summary[km.summary["grupp"] == "6-MP"].iloc[0]
    assert row["median_ci_low"] == 13
    assert math.isnan(row["median_ci_high"])


def test_kaplan_meier_log_log_limits_follow_the_transform_of_greenwood_se():
    # Kalbfleisch & Prentice (2002) eq. 1.13: S^exp(+-z * se / |S log S|), with S and se taken
    # from statsmodels' independent estimate.
    km = stats.kaplan_meier(_six_mp_frame(), duration="weeks", event="relapse", by=["grupp"])
    sub = _six_mp_frame().query("grupp == '6-MP'")
    sf = SurvfuncRight(sub["weeks"].to_numpy(float), sub["relapse"].to_numpy(float))
    z = 1.959963984540054
    theta = sf.surv_prob_se / np.abs(sf.surv_prob * np.log(sf.surv_prob))
    ours = km.curve[(km.curve["grupp"] == "6-MP") & (km.curve["n_events"] > 0)]
    np.testing.assert_allclose(ours["ci_low"], sf.surv_prob ** np.exp(z * theta), atol=1e-10)
    np.testing.assert_allclose(ours["ci_high"], sf.surv_prob ** np.exp(-z * theta), atol=1e-10)


def test_kaplan_meier_random_groups_with_ties_agree_with_statsmodels():
    rng = np.random.default_rng(11)
    n = 600
    data = pd.DataFrame(
        {
            "kommun": rng.choice(["0114", "0180", "1280"], size=n),
            "insats": rng.choice(["HVB", "familjehem"], size=n),
            "manader": rng.integers(0, 30, size=n),  # integer months: many ties
            "avslutad": rng.random(n) < 0.7,
        }
    )
    km = stats.kaplan_meier(data, duration="manader", event="avslutad", by=["kommun", "insats"])
    assert len(km.summary) == 6
    for (kommun, insats), sub in data.groupby(["kommun", "insats"]):
        sf = SurvfuncRight(sub["manader"].to_numpy(float), sub["avslutad"].to_numpy(float))
        mask = (km.curve["kommun"] == kommun) & (km.curve["insats"] == insats)
        ours = km.curve[mask & (km.curve["n_events"] > 0)]
        np.testing.assert_allclose(ours["survival"], sf.surv_prob, atol=1e-12)
        np.testing.assert_allclose(ours["std_err"], sf.surv_prob_se, atol=1e-12, equal_nan=True)
        row = km.summary[(km.summary["kommun"] == kommun) & (km.summary["insats"] == insats)]
        assert row["n"].iloc[0] == len(sub)
        with np.errstate(divide="ignore", invalid="ignore"):
            low, high = sf.quantile_ci(0.5, method="cloglog")
        assert np.isclose(row["median_ci_low"].iloc[0], low, equal_nan=True)
        expected_high = np.nan if np.isinf(high) else high
        assert np.isclose(row["median_ci_high"].iloc[0], expected_high, equal_nan=True)


def test_kaplan_meier_survival_at_gives_share_ongoing_at_given_times():
    km = stats.kaplan_meier(_six_mp_frame(), duration="weeks", event="relapse", by=["grupp"])
    at = km.survival_at([6, 12, 24, 40])
    mp = at[at["grupp"] == "6-MP"].set_index("time")
    assert round(mp.loc[6.0, "survival"], 4) == 0.8571  # S(6), Kleinbaum & Klein
    assert round(mp.loc[12.0, "survival"], 4) == 0.7529  # S(10) carries to week 12
    assert round(mp.loc[24.0, "survival"], 4) == 0.4482  # S(23)
    assert mp.loc[12.0, "n_at_risk"] == 12  # weeks >= 12: 13,16,...,35
    assert math.isnan(mp.loc[40.0, "survival"])  # beyond follow-up (35 weeks)
    placebo = at[at["grupp"] == "placebo"].set_index("time")
    assert placebo.loc[40.0, "survival"] == 0.0  # everyone relapsed by week 23
    row = km.curve[(km.curve["grupp"] == "6-MP") & (km.curve["time"] == 10)].iloc[0]
    assert mp.loc[12.0, "ci_low"] == row["ci_low"]


def test_kaplan_meier_before_first_time_survival_is_one():
    km = stats.kaplan_meier(_six_mp_frame(), duration="weeks", event="relapse")
    at = km.survival_at([0.5])
    assert at["survival"].iloc[0] == 1.0
    assert at["n_at_risk"].iloc[0] == 42


def test_kaplan_meier_zero_events_all_censored():
    data = pd.DataFrame({"d": [3, 5, 5, 9], "e": [0, 0, 0, 0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        km = stats.kaplan_meier(data, duration="d", event="e")
    assert (km.curve["survival"] == 1.0).all()
    assert (km.curve["std_err"] == 0.0).all()
    row = km.summary.iloc[0]
    assert row["n_events"] == 0
    assert math.isnan(row["median"]) and math.isnan(row["median_ci_low"])
    assert km.survival_at([4])["survival"].iloc[0] == 1.0


def test_kaplan_meier_single_row_event_and_censored():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = stats.kaplan_meier(pd.DataFrame({"d": [7], "e": [1]}), duration="d", event="e")
        cens = stats.kaplan_meier(pd.DataFrame({"d": [7], "e": [0]}), duration="d", event="e")
    assert one.curve["survival"].tolist() == [0.0]
    assert one.summary["median"].iloc[0] == 7
    assert math.isnan(one.curve["std_err"].iloc[0])
    assert cens.curve["survival"].tolist() == [1.0]
    assert math.isnan(cens.summary["median"].iloc[0])


def test_kaplan_meier_ties_between_events_and_censoring_count_censored_as_at_risk():
    # At t = 2: 2 events and 1 censored among 4 at risk -> S = 1 - 2/4 = 0.5; at t = 3 the one
    # remaining case has the event -> S = 0. Median: first time S <= 0.5, i.e. 2.
    data = pd.DataFrame({"d": [2, 2, 2, 3], "e": [1, 1, 0, 1]})
    km = stats.kaplan_meier(data, duration="d", event="e")
    assert km.curve["n_at_risk"].tolist() == [4, 1]
    assert km.curve["survival"].tolist() == [0.5, 0.0]
    assert km.curve["n_censored"].tolist() == [1, 0]
    assert km.summary["median"].iloc[0] == 2


def test_kaplan_meier_nullable_boolean_event_and_int64_duration_with_missing():
    data = pd.DataFrame(
        {
            "d": pd.array([6, 6, 7, pd.NA, 10], dtype="Int64"),
            "e": pd.array([True, False, True, True, pd.NA], dtype="boolean"),
            "kon": pd.Series(["flicka"] * 5, dtype="str"),
        }
    )
    km = stats.kaplan_meier(data, duration="d", event="e", by=["kon"])
    assert km.n_excluded == 2
    assert km.summary["n"].iloc[0] == 3
    assert km.curve["survival"].round(4).tolist() == [round(2 / 3, 4), 0.0]


def test_kaplan_meier_ordered_categorical_groups_keep_order_and_dtype():
    dtype = pd.CategoricalDtype(["0-6", "7-12", "13-17"], ordered=True)
    data = pd.DataFrame(
        {
            "ald": pd.Series(["13-17", "0-6", "13-17", "7-12"], dtype=dtype),
            "d": [1, 2, 3, 4],
            "e": [1, 1, 0, 1],
        }
    )
    km = stats.kaplan_meier(data, duration="d", event="e", by=["ald"])
    assert km.summary["ald"].astype(str).tolist() == ["0-6", "7-12", "13-17"]
    assert km.summary["ald"].dtype == dtype
    at = km.survival_at([1.5])
    assert at["ald"].astype(str).tolist() == ["0-6", "7-12", "13-17"]
    assert at["survival"].tolist() == [1.0, 1.0, 0.5]


def test_kaplan_meier_timedelta_durations_are_days():
    days = pd.to_timedelta([10, 20, 30], unit="D")
    a = stats.kaplan_meier(pd.DataFrame({"d": days, "e": [1, 1, 0]}), duration="d", event="e")
    b = stats.kaplan_meier(
        pd.DataFrame({"d": [10, 20, 30], "e": [1, 1, 0]}), duration="d", event="e"
    )
    pd.testing.assert_frame_equal(a.curve, b.curve)


def test_kaplan_meier_rejects_negative_durations_and_non_binary_events():
    with pytest.raises(ValueError, match="non-negative"):
        stats.kaplan_meier(pd.DataFrame({"d": [-1, 2], "e": [1, 1]}), duration="d", event="e")
    with pytest.raises(ValueError, match="0/1"):
        stats.kaplan_meier(pd.DataFrame({"d": [1, 2], "e": [1, 2]}), duration="d", event="e")
    with pytest.raises(ValueError, match="boolean or 0/1"):
        stats.kaplan_meier(
            pd.DataFrame({"d": [1, 2], "e": ["ja", "nej"]}), duration="d", event="e"
        )


def _rmst_reference(times, events, tau):
    """Independent loop: area under the step function and Klein & Moeschberger variance."""
    t = np.asarray(times, float)
    e = np.asarray(events, float)
    uniq = np.unique(t)
    steps = []  # (time, S after time, n, d)
    s = 1.0
    for u in uniq:
        n = np.sum(t >= u)
        d = np.sum((t == u) & (e == 1))
        s *= 1 - d / n
        steps.append((u, s, n, d))
    knots = [0.0] + [u for u, *_ in steps if u < tau] + [tau]
    values = [1.0] + [sv for u, sv, *_ in steps if u < tau]
    area = sum(v * (b - a) for v, a, b in zip(values, knots[:-1], knots[1:], strict=True))
    var = 0.0
    for u, _sv, n, d in steps:
        if d == 0 or u >= tau:
            continue
        tail = sum(
            v * (b - max(a, u))
            for v, a, b in zip(values, knots[:-1], knots[1:], strict=True)
            if b > u
        )
        if tail > 0:
            var += tail**2 * d / (n * (n - d))
    return area, math.sqrt(var)


def test_kaplan_meier_restricted_mean_matches_independent_calculation():
    km = stats.kaplan_meier(_six_mp_frame(), duration="weeks", event="relapse", by=["grupp"])
    res = km.restricted_mean(23).set_index("grupp")
    area, se = _rmst_reference(MP6_WEEKS, MP6_EVENT, 23)
    assert res.loc["6-MP", "rmst"] == pytest.approx(area)
    assert res.loc["6-MP", "std_err"] == pytest.approx(se)
    area_p, se_p = _rmst_reference(PLACEBO_WEEKS, [1] * 21, 23)
    # With no censoring the restricted mean at the last time equals the plain mean.
    assert area_p == pytest.approx(np.mean(PLACEBO_WEEKS))
    assert res.loc["placebo", "rmst"] == pytest.approx(area_p)
    assert res.loc["placebo", "std_err"] == pytest.approx(se_p)
    assert math.isnan(km.restricted_mean(40).set_index("grupp").loc["6-MP", "rmst"])


def test_kaplan_meier_result_to_frame_and_html():
    km = stats.kaplan_meier(_six_mp_frame(), duration="weeks", event="relapse", by=["grupp"])
    assert km.to_frame().shape[0] == 2
    page = km._repr_html_()
    assert "Kaplan" in page and "Greenwood" in page and "6-MP" in page


# --------------------------------------------------------------------------------------------
# Share closed within a number of days
# --------------------------------------------------------------------------------------------


def _investigations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "start": pd.to_datetime(
                [
                    "2024-01-01",  # closed after 100 days -> within
                    "2024-01-01",  # closed after exactly 120 days -> within (inclusive)
                    "2024-01-01",  # closed after 130 days -> late
                    "2024-01-01",  # still open on 2024-12-31 (365 days) -> late
                    "2024-12-01",  # still open, 30 days on 2024-12-31 -> not yet known
                    "2024-05-01",  # end before start -> invalid
                    None,  # no start date -> invalid
                ]
            ),
            "end": pd.to_datetime(
                ["2024-04-10", "2024-04-30", "2024-05-10", None, None, "2024-04-01", None]
            ),
            "kommun": ["A", "A", "A", "B", "B", "B", "B"],
        }
    )


def test_within_days_outcome_classifies_open_cases_correctly():
    d = _investigations()
    out = within = stats.within_days_outcome(d["start"], d["end"], days=120, as_of="2024-12-31")
    assert within.dtype == "boolean"
    assert out.tolist() == [True, True, False, False, pd.NA, pd.NA, pd.NA]


def test_within_days_share_counts_ongoing_late_cases_and_leaves_out_undetermined():
    d = _investigations()
    out = stats.within_days_share(d["start"], d["end"], days=120, as_of="2024-12-31")
    row = out.iloc[0]
    assert row[["n_within", "n_late", "n_open_late", "n_undetermined", "n_invalid"]].tolist() == [
        2,
        1,
        1,
        1,
        2,
    ]
    assert row["denominator"] == 4
    expected = stats.proportion(2, 4)
    assert row["share"] == 0.5
    assert row["ci_low"] == pytest.approx(expected.ci_low)
    assert row["ci_high"] == pytest.approx(expected.ci_high)
    assert row["method"] == "wilson"


def test_within_days_share_by_group():
    d = _investigations()
    out = stats.within_days_share(
        d["start"], d["end"], days=120, as_of="2024-12-31", by=d["kommun"]
    )
    assert out["kommun"].tolist() == ["A", "B"]
    assert out["denominator"].tolist() == [3, 1]
    assert out["share"].tolist() == pytest.approx([2 / 3, 0.0])
    assert out["n_invalid"].tolist() == [0, 2]


def test_within_days_share_default_as_of_is_latest_date():
    d = _investigations().iloc[:5]
    # latest date present: 2024-12-01 (a start). The case open since then has 0 days -> unknown;
    # the one open since 2024-01-01 has 335 days -> late.
    out = stats.within_days_share(d["start"], d["end"], days=120)
    assert out["n_open_late"].iloc[0] == 1
    assert out["n_undetermined"].iloc[0] == 1


def test_within_days_share_accepts_iso_strings_and_rejects_garbage():
    out = stats.within_days_share(
        ["2024-01-01", "2024-02-01"], ["2024-02-01", None], days=120, as_of="2024-03-01"
    )
    assert out["n_within"].iloc[0] == 1 and out["n_undetermined"].iloc[0] == 1
    with pytest.raises(ValueError, match="could not be read as dates"):
        stats.within_days_share(["not a date"], [None], days=120)


def test_within_days_share_all_missing_gives_nan_share():
    out = stats.within_days_share(
        pd.Series([None, None], dtype="datetime64[ns]"),
        pd.Series([None, None], dtype="datetime64[ns]"),
        days=120,
        as_of="2024-01-01",
    )
    assert out["denominator"].iloc[0] == 0
    assert out["n_invalid"].iloc[0] == 2
    assert math.isnan(out["share"].iloc[0])


def test_within_days_outcome_open_exactly_the_limit_is_not_yet_known():
    # Open for exactly 120 days on the extract date: it can still be closed that day with
    # end - start = 120 <= 120, so the outcome is unknown; 121 days open is late.
    start = pd.to_datetime(["2024-01-01", "2024-01-01"])
    end = pd.Series([pd.NaT, pd.NaT])
    exactly = stats.within_days_share(start, end, days=120, as_of="2024-04-30")
    assert exactly["n_undetermined"].iloc[0] == 2 and exactly["denominator"].iloc[0] == 0
    late = stats.within_days_share(start, end, days=120, as_of="2024-05-01")
    assert late["n_open_late"].iloc[0] == 2 and late["share"].iloc[0] == 0.0


def test_trend_test_perfect_separation_gives_no_odds_ratio_but_keeps_the_test():
    data = pd.DataFrame({"ar": [2019, 2020, 2021], "x": [0, 0, 5], "n": [5, 5, 5]})
    r = stats.trend_test(data, year="ar", successes="x", trials="n")
    assert r.direction == "increasing"
    assert math.isnan(r.odds_ratio) and math.isnan(r.or_ci_low)
    assert any("perfect separation" in w for w in r.warnings)
    assert len(r.warnings) == len(set(r.warnings))
