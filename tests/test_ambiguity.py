"""Ambiguous variables: each kind of evidence, the ranking, the vignette loader and the rules.

The synthetic datasets plant ambiguity in named variables and keep others clean
(docs/synthetic-data.md); the ground-truth manifest says which mechanism was planted where. The
method is never told the names: the tests check that it finds them, on two datasets with
different seeds and different planted variables. Hand-made frames check each metric's arithmetic.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import ambiguity as amb
from workbench import synth
from workbench.ambiguity import (
    LEVEL_DOUBTFUL,
    LEVEL_OK,
    LEVEL_UNCLEAR,
    STATUS_NOT_APPLICABLE,
    STATUS_TOO_FEW,
    STATUS_UNAVAILABLE,
    AmbiguityThresholds,
    VignetteFileError,
)
from workbench.catalogue import CatalogueError, load_catalogue, parse_catalogue
from workbench.municipalities import NATIONAL, list_municipalities

FLAGGED = (LEVEL_DOUBTFUL, LEVEL_UNCLEAR)
#: Which kind of evidence must show each planted mechanism (names of the ground-truth manifest).
MECHANISM_EVIDENCE = {
    "rater_disagreement": "agreement",
    "municipality_variation": "between",
    "residual_overuse": "residual",
    "contradiction": "contradiction",
    "not_assessable": "nonresponse",
    "missing": "nonresponse",
}
DATASETS = {
    # the default planted variables (Webbkollen's three)
    "default": synth.SynthConfig(scale=0.15),
    # another seed and other planted variables; clean ones untouched by the municipality quirks
    "other": synth.SynthConfig(
        seed=7,
        scale=0.15,
        ambiguous_variables=("forandring_situation", "utforare", "grundproblematik"),
        clean_variables=("kon", "lagrum", "aktualiseringsvag", "samtal_med_barnet", "barnets_syn"),
    ),
}


def _analysis_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Registrations joined with their intervention and child (as dataset.load_registrations)."""
    ins = tables["interventions"].drop(columns=["kommun", "barn_id"])
    chi = tables["children"].drop(columns=["kommun"])
    out = tables["registrations"].merge(ins, on="insats_id", how="left", validate="m:1")
    return out.merge(chi, on="barn_id", how="left", validate="m:1")


@pytest.fixture(scope="module", params=list(DATASETS))
def planted(request):
    """(ground truth, national assessment) of one synthetic dataset."""
    tables, truth = synth.generate(DATASETS[request.param])
    result = amb.assess(_analysis_frame(tables), tables["vignette_ratings"], n_boot=200)
    return truth, result


@pytest.fixture(scope="module")
def county():
    """Västernorrland at full volume, where the municipality quirks are planted."""
    codes = tuple(list_municipalities("22")["municipality_code"])
    tables, truth = synth.generate(synth.SynthConfig(scale=1.0, municipalities=codes))
    return _analysis_frame(tables), tables["vignette_ratings"], truth


# ------------------------------------------------------------------------------------------------
# Planted truths
# ------------------------------------------------------------------------------------------------


def test_assess_ranks_every_planted_variable_above_every_clean_one(planted):
    truth, result = planted
    rank = result.ranking.set_index("variable")["rank"]
    ambiguous = truth["config"]["ambiguous_variables"]
    clean = truth["config"]["clean_variables"]
    assert max(rank[v] for v in ambiguous) < min(rank[v] for v in clean)
    verdicts = result.ranking.set_index("variable")["verdict"]
    assert all(verdicts[v] == "otydlig" for v in ambiguous)
    assert not any(verdicts[v] == "otydlig" for v in clean)


def test_assess_attributes_each_planted_mechanism_to_its_kind_of_evidence(planted):
    truth, result = planted
    rows = result.ranking.set_index("variable")
    missed = [
        (var, mech)
        for var, report in truth["ambiguity"].items()
        for mech in report["mechanisms"]
        if rows.loc[var, f"{MECHANISM_EVIDENCE[mech]}_level"] not in FLAGGED
    ]
    assert not missed


def test_assess_gives_clean_variables_no_unclear_evidence_except_shared_rules(planted):
    truth, result = planted
    rows = result.ranking.set_index("variable")
    ambiguous = set(truth["config"]["ambiguous_variables"])
    cat = load_catalogue()
    for var in truth["config"]["clean_variables"]:
        for kind in ("nonresponse", "residual", "agreement", "between", "instability"):
            assert rows.loc[var, f"{kind}_level"] != LEVEL_UNCLEAR, (var, kind)
        # a contradiction shows a pair of answers that do not fit, not which one is wrong: a
        # rule shared with a planted variable may flag the clean partner too
        if rows.loc[var, "contradiction_level"] == LEVEL_UNCLEAR:
            assert any(set(r.related) & ambiguous for r in cat.rules_for(var)), var


def test_assess_finds_the_municipality_quirks_in_the_right_evidence(county):
    data, ratings, truth = county
    quirks = {q["name"]: q for q in truth["quirks"]}
    expected = {
        "timra_goal_shift": "instability",  # coding of maluppfyllelse changes in 2021
        "sundsvall_open_care_residual": "residual",  # 93 % of open care as "annan öppenvård"
        "ornskoldsvik_no_risk": "nonresponse",  # riskbedomning never filled in
    }
    for name, kind in expected.items():
        q = quirks[name]
        result = amb.assess(data, ratings, kommun=q["kommun"], n_boot=0)
        row = result.ranking.set_index("variable").loc[q["variable"]]
        assert row[f"{kind}_level"] == LEVEL_UNCLEAR, (name, row[f"{kind}_level"])
        if kind == "instability":
            assert row["instability_year"] == q["year"]


def test_assess_without_vignettes_marks_agreement_unavailable(county):
    data, _, _ = county
    result = amb.assess(data, None, kommun="2281", n_boot=0)
    assert set(result.ranking["agreement_level"]) == {STATUS_UNAVAILABLE}
    assert (
        result.agreement.worst is None and result.feedback["status"].eq(STATUS_UNAVAILABLE).all()
    )


def test_assess_with_one_municipality_marks_between_municipalities_unavailable(county):
    data, ratings, _ = county
    one = data[data["kommun"] == "2281"]
    result = amb.assess(one, ratings, kommun="2281", n_boot=0)
    assert set(result.ranking["between_level"]) <= {STATUS_UNAVAILABLE, STATUS_NOT_APPLICABLE}
    assert {r.status for r in result.between.values()} <= {
        STATUS_UNAVAILABLE,
        STATUS_NOT_APPLICABLE,
    }


# ------------------------------------------------------------------------------------------------
# Hand-made frames: each metric
# ------------------------------------------------------------------------------------------------


def _rows(values: dict[str, list], kommun: str | list[str] = "2281") -> pd.DataFrame:
    n = len(next(iter(values.values())))
    k = [kommun] * n if isinstance(kommun, str) else kommun
    return pd.DataFrame({"kommun": pd.Series(k, dtype="str"), **values})


def test_nonresponse_counts_missing_unknown_and_not_assessable_with_a_wilson_interval():
    # Newcombe RG (1998). Statistics in Medicine 17:857-872, Table I: 81/263 gives the Wilson
    # 95 % interval 0.2553-0.3662.
    values = ["okad"] * 182 + [None] * 40 + ["kan_ej_bedomas"] * 41
    df = _rows({"riskbedomning": pd.Series(values, dtype="str")})
    out = amb.nonresponse(df, kommun="2281", variables=["riskbedomning"])
    row = out.iloc[0]
    assert (row["n"], row["n_missing"], row["n_not_assessable"], row["n_unknown"]) == (
        263,
        40,
        41,
        0,
    )
    assert row["share"] == pytest.approx(81 / 263)
    assert (round(row["ci_low"], 4), round(row["ci_high"], 4)) == (0.2553, 0.3662)


def test_quality_counts_add_up_for_every_municipality_county_and_the_nation():
    df = _rows(
        {"avslutsorsak": pd.Series(["annat", "flytt", None, "annat"], dtype="str")},
        kommun=["2281", "2281", "2262", "0180"],
    ).assign(registreringstyp="avslut")
    q = amb.quality_counts(df, ["avslutsorsak"])
    assert len(q[q["enhet"].str.len() == 4]) == 5 * (len(list_municipalities()) + 1)
    nat = q[q["enhet"] == NATIONAL].set_index("kod")["n"]
    assert nat.to_dict() == {"giltig": 1, "restkod": 2, "okant": 0, "ej_bedombart": 0, "saknas": 1}
    lan = q[q["enhet"] == "22"].set_index("kod")["n"]
    assert lan["restkod"] == 1 and lan["saknas"] == 1 and lan["giltig"] == 1
    assert (
        q.groupby(["enhet", "variabel"])["n"].sum()
        == q.groupby(["enhet", "variabel"])["denominator"].first()
    ).all()


def test_residual_use_compares_annat_with_the_other_codes():
    # 6 of 20 endings are "annat"; the six valid codes have shares 8, 2, 2, 1, 1, 0 of 20, so
    # the median valid share is 1.5/20 and "annat" is used 4 times as often as a typical code.
    codes = (
        ["annat"] * 6
        + ["enligt_plan"] * 8
        + ["flytt"] * 2
        + ["sammanbrott"] * 2
        + ["aldersgrans"]
        + ["ersatt_annan_insats"]
    )
    df = _rows({"avslutsorsak": pd.Series(codes, dtype="str")}).assign(registreringstyp="avslut")
    out = amb.residual_use(df, kommun="2281", variables=["avslutsorsak"]).iloc[0]
    assert (out["n"], out["n_residual"]) == (20, 6)
    assert out["share"] == pytest.approx(0.3)
    assert out["median_valid_share"] == pytest.approx(1.5 / 20)
    assert out["ratio_to_valid"] == pytest.approx(4.0)


def _case_mix_frame(seed: int, spread: float, n_kommun: int = 40, rows: int = 300) -> pd.DataFrame:
    """Municipalities that differ in age mix; P(samtal 'ja') depends on age only, times a
    municipality factor with SD ``spread`` (0 = no municipality effect)."""
    rng = np.random.default_rng(seed)
    kommuner = list(list_municipalities()["municipality_code"][:n_kommun])
    parts = []
    for i, k in enumerate(kommuner):
        old = i / n_kommun  # share of 13-17-year-olds runs from 0 to almost 1
        age = np.where(rng.random(rows) < old, "13-17", "0-6")
        p = np.where(age == "13-17", 0.8, 0.3) * (1 + spread * rng.standard_normal())
        yes = rng.random(rows) < np.clip(p, 0.01, 0.99)
        parts.append(
            pd.DataFrame(
                {
                    "kommun": k,
                    "aldersgrupp": age,
                    "samtal_med_barnet": np.where(yes, "ja", "nej"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True).astype("str")


def test_between_municipalities_adjusts_for_case_mix():
    df = _case_mix_frame(1, spread=0.0)
    adjusted = amb.between_municipalities(df, "samtal_med_barnet", case_mix=("aldersgrupp",))
    crude = amb.between_municipalities(df, "samtal_med_barnet", case_mix=())
    assert adjusted.status == "ok" and adjusted.n_municipalities == 40
    assert adjusted.tau < 0.05 and adjusted.p_value > 0.01  # age explains the differences
    assert crude.tau > 0.2 and crude.p_value < 1e-6  # without case mix they look like variation


def test_between_municipalities_estimates_the_planted_spread():
    # planted: municipality factors with SD 0.25 on P(ja), i.e. SD of O/E about 0.25
    df = _case_mix_frame(2, spread=0.25)
    res = amb.between_municipalities(df, "samtal_med_barnet", case_mix=("aldersgrupp",))
    assert res.p_value < 1e-6
    per = res.per_code.set_index("code")
    assert 0.12 < per.loc["ja", "tau"] < 0.4
    assert amb.level_between(res.status, res.tau, res.p_value, AmbiguityThresholds()) in FLAGGED


def test_between_municipalities_funnel_limits_are_binomial_around_the_national_share():
    df = _case_mix_frame(3, spread=0.0)
    res = amb.between_municipalities(df, "samtal_med_barnet", case_mix=(), cluster=None)
    f = res.funnel("ja")
    p0 = f.attrs["national_share"]
    se = np.sqrt(p0 * (1 - p0) / f["n"])
    assert np.allclose(f["high95"], p0 + 1.959964 * se, atol=1e-6)
    assert np.allclose(f["low998"], p0 - 3.090232 * se, atol=1e-6)


def test_between_municipalities_with_a_single_code_in_use_is_not_applicable():
    df = _rows({"registreringstyp": ["uppfoljning"] * 60}, kommun=["2281", "2262"] * 30)
    res = amb.between_municipalities(df, "registreringstyp", min_municipalities=2, min_rows=10)
    assert res.status == STATUS_NOT_APPLICABLE and np.isnan(res.tau)


def _shift_frame(shift_kommun: str | None, trend: bool = False) -> pd.DataFrame:
    """20 municipalities x 10 years x 30 rows of maluppfyllelse; one municipality may switch
    from mostly 'delvis' to mostly 'helt' in 2021; ``trend`` moves every municipality alike."""
    rng = np.random.default_rng(5)
    kommuner = list(list_municipalities()["municipality_code"][:20])
    parts = []
    for k in kommuner:
        for year in range(2016, 2026):
            p = 0.3 + (0.04 * (year - 2016) if trend else 0.0)
            if k == shift_kommun:
                p = 0.1 if year < 2021 else 0.8
            helt = rng.random(30) < p
            parts.append(
                pd.DataFrame(
                    {"kommun": k, "ar": year, "maluppfyllelse": np.where(helt, "helt", "delvis")}
                )
            )
    return pd.concat(parts, ignore_index=True).astype({"kommun": "str", "maluppfyllelse": "str"})


def test_instability_finds_a_level_shift_and_its_year():
    out = amb.instability(_shift_frame("0114"), "maluppfyllelse")
    hits = out[out["flagged"]]
    assert set(hits["kommun"]) == {"0114"}
    assert set(hits["change_year"]) == {2021}
    helt = hits[hits["code"] == "helt"].iloc[0]
    assert helt["shift"] > 0.5


def test_instability_does_not_flag_a_national_trend():
    out = amb.instability(_shift_frame(None, trend=True), "maluppfyllelse")
    assert len(out) > 0 and not out["flagged"].any()


def _rule_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kommun": "2281",
            "registrering_id": [f"R{i}" for i in range(6)],
            "insats_id": [f"I{i}" for i in range(6)],
            "alder": pd.array([3, 15, 15, 8, 16, 5], dtype="Int64"),
            "lagrum": ["lvu2", "lvu3", "sol", "lvu2", "lvu2", None],
            "insatstyp": ["kontaktperson", "hvb", "kontaktperson", "familjehem", "hvb", "sis"],
            "samtal_med_barnet": ["ej_aktuellt", "ej_aktuellt", "ja", None, "nej", "ja"],
            "aktualiseringsvag": ["anmalan", "ansokan", "ansokan", None, "ovrig_information", "x"],
            "anmalare": [None, "polis", None, None, None, None],
        }
    ).astype("str")


def test_evaluate_rule_applies_group_codes_and_age_conditions():
    cat = load_catalogue()
    df = _rule_frame()
    _, eligible, bad = amb.evaluate_rule(df, cat.rules["open_care_under_residential_lvu"])
    # eligible: lagrum lvu2/lvu3 and insatstyp filled (rows 0, 1, 3, 4); open care: row 0
    assert eligible.tolist() == [True, True, False, True, True, False]
    assert bad.tolist() == [True, False, False, False, False, False]
    _, eligible, bad = amb.evaluate_rule(
        df.assign(alder=df["alder"].astype("Int64")), cat.rules["talk_not_applicable_for_teenager"]
    )
    # 13 or older and filled: rows 1, 2, 4; "ej aktuellt" among them: row 1
    assert eligible.tolist() == [False, True, True, False, True, False]
    assert bad.tolist() == [False, True, False, False, False, False]


def test_evaluate_rule_counts_empty_rows_when_the_contradiction_is_being_filled_in():
    cat = load_catalogue()
    df = _rule_frame().drop(columns=["aktualiseringsvag"])
    df["aktualiseringsvag"] = ["anmalan", "ansokan", "ansokan", None, "ovrig_information", None]
    _, eligible, bad = amb.evaluate_rule(df, cat.rules["reporter_without_report"])
    # route filled and not anmälan: rows 1, 2, 4 (anmalare empty in 2 and 4 still counts)
    assert eligible.tolist() == [False, True, True, False, True, False]
    assert bad.tolist() == [False, True, False, False, False, False]


def test_evaluate_rule_mapping_rule_flags_focus_that_fits_no_problem():
    cat = load_catalogue()
    var_f, var_g = cat.variable("insatsens_fokus"), cat.variable("grundproblematik")
    df = pd.DataFrame({"kommun": ["2281"] * 3})
    for col in var_f.columns + var_g.columns:
        df[col] = pd.array([False, False, False], dtype="boolean")
    df["insatsens_fokus__utbildning"] = pd.array([True, True, True], dtype="boolean")
    df["grundproblematik__skolproblem"] = pd.array([True, False, False], dtype="boolean")
    df["grundproblematik__kriminalitet"] = pd.array([False, True, False], dtype="boolean")
    df["grundproblematik__annat"] = pd.array([False, False, True], dtype="boolean")
    _, eligible, bad = amb.evaluate_rule(df, cat.rules["focus_vs_problem"])
    # school problems fit education; crime does not; "annat" rows are not judged
    assert eligible.tolist() == [True, True, False]
    assert bad.tolist() == [False, True, False]


def test_contradictions_give_the_share_of_eligible_rows_per_rule():
    cat = load_catalogue()
    out = amb.contradictions(
        _rule_frame(), kommun="2281", rules=[cat.rules["open_care_under_residential_lvu"]]
    ).iloc[0]
    assert (out["n_eligible"], out["n_contradicting"]) == (4, 1)
    assert out["share"] == pytest.approx(0.25)


def _ratings(table: dict[str, list[str | None]], variable: str = "kon", kommun: str = "2281"):
    """Long ratings from {rater: [value per vignette]}."""
    rows = [
        {
            "vinjett_id": f"V{j:016x}",
            "bedomare_id": f"S{hash((r, kommun)) & 0xFFFFFFFFFFFF:016x}",
            "kommun": kommun,
            "variabel": variable,
            "varde": v,
        }
        for r, values in table.items()
        for j, v in enumerate(values)
        if v != "-"
    ]
    return pd.DataFrame(rows).astype("str")


def test_rater_agreement_with_two_raters_only_gives_an_alpha_and_its_level():
    a = ["flicka", "pojke"] * 6
    b = ["flicka", "pojke"] * 5 + ["pojke", "flicka"]
    out = amb.rater_agreement(_ratings({"r1": a, "r2": b}), variables=["kon"], n_boot=200)
    row = out.table.set_index("variable").loc["kon"]
    assert row["n_units"] == 12 and row["n_raters"] == 2
    # nominal alpha for 2 raters and no missing: 1 - (n - 1) * D_o / D_e with n = 24 values,
    # 2 disagreeing units -> o_12 = o_21 = 2; n_flicka = n_pojke = 12: 1 - 23 * 4 / (2 * 144)
    assert row["alpha"] == pytest.approx(1 - 23 * 4 / (2 * 144))
    assert out.worst == "kon" and out.confusion.loc["flicka", "pojke"] == pytest.approx(2)


def test_rater_agreement_ignores_a_rater_who_rated_one_unit_alone():
    a = ["flicka", "pojke"] * 6 + ["-"]
    b = ["flicka", "pojke"] * 5 + ["pojke", "flicka"] + ["-"]
    c = ["-"] * 12 + ["pojke"]  # rated only vignette 13, which nobody else rated
    base = amb.rater_agreement(_ratings({"r1": a, "r2": b}), variables=["kon"], n_boot=0)
    more = amb.rater_agreement(_ratings({"r1": a, "r2": b, "r3": c}), variables=["kon"], n_boot=0)
    assert more.table["alpha"].iloc[0] == pytest.approx(base.table["alpha"].iloc[0])
    assert "single rating dropped" in more.table["warnings"].iloc[0]


def test_rater_agreement_with_one_code_only_is_too_few_data_not_a_flag():
    out = amb.rater_agreement(
        _ratings({f"r{i}": ["flicka"] * 12 for i in range(3)}), variables=["kon"], n_boot=0
    )
    row = out.table.iloc[0]
    level = amb.level_agreement(
        row["status"], row["n_units"], row["alpha"], np.nan, np.nan, AmbiguityThresholds()
    )
    assert np.isnan(row["alpha"]) and level == STATUS_TOO_FEW


def test_rater_feedback_compares_with_the_consensus_of_other_municipalities():
    national = _ratings(
        {f"n{i}": ["flicka", "pojke", "flicka", "pojke"] for i in range(5)}, kommun="0180"
    )
    # three local raters: two follow the consensus, one swaps the codes of vignettes 1 and 2
    local = _ratings(
        {
            "a": ["flicka", "pojke", "flicka", "pojke"],
            "b": ["flicka", "pojke", "flicka", "pojke"],
            "c": ["pojke", "flicka", "flicka", "pojke"],
        }
    )
    out = amb.rater_feedback(pd.concat([national, local]), "2281", variables=["kon"]).iloc[0]
    assert out["status"] == "ok" and out["n_raters"] == 3
    assert out["agreement"] == pytest.approx(10 / 12)
    assert out["agreement_national"] == pytest.approx(30 / 32)
    assert {out["consensus_code"], out["own_code"]} == {"flicka", "pojke"}
    assert not {"bedomare_id", "rater"} & set(out.index)  # nothing per rater


def test_rater_feedback_hides_everything_below_min_raters():
    national = _ratings({f"n{i}": ["flicka", "pojke"] * 3 for i in range(4)}, kommun="0180")
    local = _ratings({"a": ["pojke", "flicka"] * 3, "b": ["flicka", "pojke"] * 3})
    out = amb.rater_feedback(pd.concat([national, local]), "2281", variables=["kon"]).iloc[0]
    assert out["status"] == "för få bedömare"
    assert pd.isna(out["agreement"]) and pd.isna(out["n_raters"])


def test_assess_on_an_all_missing_variable_gives_a_nonresponse_flag_and_nothing_else():
    df = _rows(
        {
            "riskbedomning": pd.Series([None] * 40, dtype="str"),
            "ar": pd.array([2020, 2021] * 20, dtype="Int64"),
        }
    )
    result = amb.assess(df, None, kommun="2281", variables=["riskbedomning"], n_boot=0)
    row = result.ranking.iloc[0]
    assert row["nonresponse_level"] == LEVEL_UNCLEAR and row["nonresponse_share"] == 1.0
    for kind in ("residual", "agreement", "between", "contradiction", "instability"):
        assert row[f"{kind}_level"] not in FLAGGED, kind


# ------------------------------------------------------------------------------------------------
# Levels, ranking and text
# ------------------------------------------------------------------------------------------------


def test_levels_follow_the_thresholds_and_small_numbers_never_flag():
    th = AmbiguityThresholds()
    assert amb.level_nonresponse(100, 0.20, 0.0, th) == LEVEL_UNCLEAR
    assert amb.level_nonresponse(100, 0.06, 0.05, th) == LEVEL_DOUBTFUL
    assert amb.level_nonresponse(100, 0.09, 0.04, th) == LEVEL_OK
    assert amb.level_nonresponse(29, 0.90, 0.90, th) == STATUS_TOO_FEW
    assert amb.level_residual(True, 100, 0.12, 1.2, False, th) == LEVEL_UNCLEAR
    assert amb.level_residual(True, 100, 0.12, 0.5, False, th) == LEVEL_DOUBTFUL
    assert amb.level_residual(True, 100, 0.06, 0.5, True, th) == LEVEL_DOUBTFUL
    assert amb.level_residual(False, 100, np.nan, np.nan, False, th) == STATUS_NOT_APPLICABLE
    assert amb.level_agreement("ok", 40, 0.66, 0.6, 0.7, th) == LEVEL_UNCLEAR
    assert amb.level_agreement("ok", 40, 0.70, 0.6, 0.8, th) == LEVEL_DOUBTFUL
    assert amb.level_agreement("ok", 40, 0.85, 0.8, 0.9, th) == LEVEL_OK
    assert amb.level_agreement("ok", 40, 0.30, 0.0, 0.6, th) == STATUS_TOO_FEW  # wide interval
    assert amb.level_agreement("ok", 9, 0.30, 0.2, 0.4, th) == STATUS_TOO_FEW
    assert amb.level_between("ok", 0.25, 0.0001, th) == LEVEL_UNCLEAR
    assert amb.level_between("ok", 0.25, 0.01, th) == LEVEL_OK  # not significant
    assert amb.level_contradiction(1, 100, 0.05, th) == LEVEL_UNCLEAR
    assert amb.level_contradiction(0, 100, np.nan, th) == STATUS_NOT_APPLICABLE
    assert amb.level_instability(100, 5, th) == LEVEL_UNCLEAR
    assert amb.level_instability(100, 1, th) == LEVEL_DOUBTFUL
    assert amb.level_instability(1, 1, th) == LEVEL_UNCLEAR


def test_rank_variables_counts_points_and_orders_by_verdict_and_score():
    def ev(name, n=100, alpha=np.nan, **levels):
        row = {"variable": name, "n": n, "alpha": alpha}
        row.update({f"{k}_level": levels.get(k, LEVEL_OK) for k in amb.EVIDENCE})
        return row

    frame = pd.DataFrame(
        [
            ev("kon"),
            ev("insatstyp", alpha=0.4, agreement=LEVEL_UNCLEAR, between=LEVEL_UNCLEAR),
            ev("lagrum", nonresponse=LEVEL_DOUBTFUL, residual=LEVEL_DOUBTFUL),
            ev("utforare", n=5, nonresponse=LEVEL_UNCLEAR, between=LEVEL_UNCLEAR),
            ev("riskbedomning", alpha=0.5, agreement=LEVEL_UNCLEAR, between=LEVEL_UNCLEAR),
            ev("ursprung", **dict.fromkeys(amb.EVIDENCE, STATUS_UNAVAILABLE)),
        ]
    )
    out = amb.rank_variables(frame)
    assert out["variable"].tolist() == [
        "insatstyp",  # two unclear kinds, lowest alpha first among equal scores
        "riskbedomning",
        "lagrum",  # 2 points: tveksam
        "kon",
        "utforare",  # fewer than min_rows rows: för lite data, last
        "ursprung",  # nothing assessable
    ]
    verdict = out.set_index("variable")["verdict"]
    assert verdict["insatstyp"] == "otydlig" and verdict["lagrum"] == "tveksam"
    assert verdict["kon"] == "tydlig" and verdict["utforare"] == STATUS_TOO_FEW
    assert verdict["ursprung"] == STATUS_TOO_FEW
    assert out.set_index("variable").loc["insatstyp", "score"] == 4


def test_explain_writes_observation_meaning_and_advice_with_suppressed_shares_as_dots():
    row = {
        "variable": "insatstyp",
        "unit": "2281",
        "verdict": "otydlig",
        "nonresponse_level": LEVEL_OK,
        "residual_level": LEVEL_UNCLEAR,
        "agreement_level": LEVEL_UNCLEAR,
        "between_level": LEVEL_DOUBTFUL,
        "contradiction_level": LEVEL_OK,
        "instability_level": LEVEL_OK,
        "between_tau": 0.15,
        "between_own_code": np.nan,  # the municipality is not itself an outlier
        "residual_share": np.nan,  # suppressed in a report
        "residual_ratio": 2.0,
        "residual_varies": True,
        "alpha": 0.44,
        "alpha_ci_low": 0.41,
        "alpha_ci_high": 0.46,
        "confused_a": "lvu22",
        "confused_b": "annan_oppenvard",
    }
    text = amb.explain(row)
    assert "””" not in text["observed_sv"]  # no empty code names from missing values
    assert "Restkategorin (”annat”) används för .. av insatserna" in text["observed_sv"]
    assert "Krippendorffs alfa 0,44" in text["observed_sv"]
    assert "”Annan öppenvård”" in text["recommendation_sv"]
    assert "dela upp ”annat”" in text["recommendation_sv"]
    assert amb.explain({**row, "verdict": STATUS_TOO_FEW})["observed_sv"].startswith("För få")


# ------------------------------------------------------------------------------------------------
# Thresholds, parameters and catalogue rules
# ------------------------------------------------------------------------------------------------


def test_thresholds_in_defaults_yaml_equal_the_documented_defaults():
    from workbench import load_settings

    settings = load_settings()
    assert AmbiguityThresholds.from_mapping(settings.ambiguity) == AmbiguityThresholds()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"nonresponse": {"moderat": 0.1}}, "nonresponse must be a mapping"),
        ({"agreement": {"moderate": 0.5, "strong": 0.7}}, "alpha_strong must not exceed"),
        ({"residual": {"moderate": 1.5}}, r"\(0, 1\]"),
        ({"min_rows": 0}, "positive integer"),
        ({"case_mix": ["alder_grupp"]}, "list_variables"),
        ({"threshold": 1}, "unknown key"),
    ],
)
def test_thresholds_from_mapping_rejects_bad_values_naming_the_fix(mapping, message):
    with pytest.raises(ValueError, match=message):
        AmbiguityThresholds.from_mapping(mapping)


def test_catalogue_rules_parse_and_judge_existing_variables():
    cat = load_catalogue()
    assert len(cat.rules) >= 10
    for rule in cat.rules.values():
        assert rule.variable in cat.variables and rule.sv
        assert all(c in cat.variables for c in rule.columns)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["rules"][0].update(variable="nope"), "not a catalogue variable"),
        (
            lambda r: r["rules"][2].update(contradicts={"insatstyp": ["oppen"]}),
            "not codes of 'insatstyp'",
        ),
        (lambda r: r["rules"][2].update(fit={"variable": "lagrum", "map": {}}), "not both|empty"),
        (lambda r: r["rules"].append(dict(r["rules"][0])), "duplicate rule id"),
        (lambda r: r["rules"][2].update(when={"lagrum": {"group": "x"}}), "no code group"),
    ],
)
def test_parse_catalogue_rejects_malformed_rules(root, mutate, message):
    import yaml

    raw = copy.deepcopy(yaml.safe_load((root / "data/reference/catalogue.yaml").read_text()))
    mutate(raw)
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(raw, path=root / "x.yaml")


# ------------------------------------------------------------------------------------------------
# Vignette template and loader
# ------------------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "vinjetter.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_vignette_template_has_the_columns_and_only_example_rows(root):
    path = root / "data" / "reference" / "vignette-template.csv"
    df = pd.read_csv(path, dtype=str)
    assert tuple(df.columns) == amb.VIGNETTE_COLUMNS and len(df) == 2
    with pytest.raises(VignetteFileError, match="remove the template's example rows"):
        amb.load_vignette_ratings(path)


def test_load_vignette_ratings_gives_the_canonical_validated_table(tmp_path):
    path = _write(
        tmp_path,
        "\ufeffvinjett_id;bedomare_id;kommun;variabel;varde\n"
        'V01;S01;"0180";riskbedomning;Minskad risk\n'
        "V01;S02;0180;riskbedomning;minskad\n"
        "V01;S01;2281;insatstyp;HVB\n"
        "V02;S01;0180;riskbedomning;\n",
    )
    out = amb.load_vignette_ratings(path, study="test")
    assert list(out.columns) == list(amb.VIGNETTE_COLUMNS) and len(out) == 4
    assert out["vinjett_id"].str.match(r"^V[0-9a-f]{16}$").all()
    assert out["bedomare_id"].str.match(r"^S[0-9a-f]{16}$").all()
    # a label and a variant spelling become codes; an empty value is a skipped item
    assert out["varde"].tolist().count("minskad") == 2 and "hvb" in set(out["varde"])
    assert out["varde"].isna().sum() == 1
    # S01 in two municipalities is two raters; V01 is the same vignette everywhere
    assert out["bedomare_id"].nunique() == 3 and out["vinjett_id"].nunique() == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("V01,Anna Svensson,0180,kon,flicka", "short code"),
        ("V01,S191212121212,0180,kon,flicka", "short code"),
        ("V01,S01,180,kon,flicka", "four-digit municipality code"),
        ("V01,S01,0180,kön,flicka", "list_variables"),
        ("V01,S01,0180,kon,kanske", "not a code of the row's variable"),
    ],
)
def test_load_vignette_ratings_rejects_bad_rows_without_echoing_them(tmp_path, row, message):
    path = _write(tmp_path, "vinjett_id,bedomare_id,kommun,variabel,varde\n" + row + "\n")
    with pytest.raises(VignetteFileError, match=message) as info:
        amb.load_vignette_ratings(path)
    assert "Anna" not in str(info.value) and "191212" not in str(info.value)
    assert "line" in str(info.value)


def test_load_vignette_ratings_rejects_duplicated_ratings(tmp_path):
    path = _write(
        tmp_path,
        "vinjett_id,bedomare_id,kommun,variabel,varde\n"
        "V01,S01,0180,kon,flicka\nV01,S01,0180,kon,pojke\n",
    )
    with pytest.raises(VignetteFileError, match="more than once"):
        amb.load_vignette_ratings(path)


# ------------------------------------------------------------------------------------------------
# The report's published ranking
# ------------------------------------------------------------------------------------------------


def test_report_levels_rest_only_on_published_shares(small_dataset):
    import dataclasses

    from workbench import load_settings
    from workbench.views_ambiguity import AmbiguityReport

    report = AmbiguityReport.load(load_settings(kommun="2281", data_dir=str(small_dataset)))
    report = dataclasses.replace(report, n_boot=0)
    r = report.published_ranking
    for kind, share in (
        ("nonresponse", "nonresponse_share"),
        ("residual", "residual_share"),
        ("contradiction", "contradiction_share"),
    ):
        hidden = r[r[share].isna()]
        assert hidden[f"{kind}_level"].isin([STATUS_TOO_FEW, STATUS_NOT_APPLICABLE]).all(), kind
    assert (r["rank"] == np.arange(1, len(r) + 1)).all()
    assert "..." not in "".join(r["observed_sv"])


def test_plot_funnel_draws_only_published_points_and_rings_the_own_municipality():
    from workbench.plots_ambiguity import plot_funnel

    data = pd.DataFrame(
        {
            "kommun": ["0114", "0115", "0117", "0120"],
            "kommun_label": ["A", "B", "C", "D"],
            "n": [50, 200, 20, 80],
            "standardised_share": [0.2, 0.25, np.nan, 0.6],  # C is not published
        }
    )
    ax = plot_funnel(data, national_share=0.25, highlight="0120")
    inside, outside, ring = (c.get_offsets() for c in ax.collections)
    assert len(inside) == 2 and len(outside) == 1 and len(ring) == 1  # D is far outside
    assert outside[0][1] == pytest.approx(0.6) and ring[0][1] == pytest.approx(0.6)
    assert [t.get_text() for t in ax.texts] == ["D"]


def test_assess_with_precomputed_national_evidence_gives_the_same_assessment(county):
    """A batch computes the unit-independent evidence once (views_ambiguity caches it): every
    unit's assessment must be exactly what assess() computes on its own."""
    data, ratings, _ = county
    names = amb.assessed_variables()[:6]
    ev = amb.national_evidence(data, ratings, variables=names, n_boot=50)
    for unit in ("2281", amb.NATIONAL):
        alone = amb.assess(data, ratings, kommun=unit, variables=names, n_boot=50)
        shared = amb.assess(data, ratings, kommun=unit, variables=names, n_boot=50, evidence=ev)
        pd.testing.assert_frame_equal(alone.ranking, shared.ranking)
        pd.testing.assert_frame_equal(alone.contradictions, shared.contradictions)
    with pytest.raises(ValueError, match="computed for"):
        amb.assess(data, ratings, kommun="2281", variables=names[:3], evidence=ev)
