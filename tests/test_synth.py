"""The synthetic national dataset hits its own calibration targets and plants what it says.

Most tests share one dataset at 10 % volume; one test generates the full national volume (a few
seconds) for the per-municipality guarantees.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from workbench import dataset, synth
from workbench.catalogue import load_catalogue
from workbench.municipalities import list_municipalities

SCALE = 0.1
SECOND_AMBIGUOUS = ("forandring_situation", "utforare", "grundproblematik")


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, pd.DataFrame], dict]:
    return synth.generate(synth.SynthConfig(scale=SCALE))


@pytest.fixture(scope="module")
def tables(generated) -> dict[str, pd.DataFrame]:
    return generated[0]


@pytest.fixture(scope="module")
def truth(generated) -> dict:
    return generated[1]


@pytest.fixture(scope="module")
def merged(tables) -> pd.DataFrame:
    """Registrations with their intervention and child (the analysis frame)."""
    ins = tables["interventions"].drop(columns=["kommun", "barn_id"])
    chi = tables["children"].drop(columns=["kommun"])
    return tables["registrations"].merge(ins, on="insats_id").merge(chi, on="barn_id")


@pytest.fixture(scope="module")
def national() -> tuple[dict[str, pd.DataFrame], dict]:
    return synth.generate(synth.SynthConfig())


@pytest.fixture(scope="module")
def second() -> tuple[dict[str, pd.DataFrame], dict]:
    return synth.generate(
        synth.SynthConfig(seed=7, scale=0.05, ambiguous_variables=SECOND_AMBIGUOUS)
    )


# --- configuration, determinism, schema ----------------------------------------------------------


def test_config_rejects_a_variable_both_ambiguous_and_clean():
    with pytest.raises(ValueError, match="both ambiguous and clean"):
        synth.SynthConfig(ambiguous_variables=("kon",), clean_variables=("kon",))


@pytest.mark.parametrize("name", ["no_such_variable", "aldersgrupp", "alder"])
def test_generate_rejects_unknown_or_derived_variables(name):
    with pytest.raises(ValueError, match="list_variables|cannot be ambiguous"):
        synth.generate(synth.SynthConfig(scale=0.01, ambiguous_variables=(name,)))


def test_generate_rejects_unknown_municipality():
    with pytest.raises(ValueError, match="list_municipalities"):
        synth.generate(synth.SynthConfig(scale=0.01, municipalities=("9999",)))


def test_generate_is_deterministic():
    cfg = synth.SynthConfig(scale=0.02)
    a_tables, a_truth = synth.generate(cfg)
    b_tables, b_truth = synth.generate(cfg)
    for name in dataset.KEY_COLUMNS:
        pd.testing.assert_frame_equal(a_tables[name], b_tables[name])
    assert json.dumps(a_truth, sort_keys=True) == json.dumps(b_truth, sort_keys=True)


def test_generate_depends_on_the_seed():
    a, _ = synth.generate(synth.SynthConfig(scale=0.02))
    b, _ = synth.generate(synth.SynthConfig(seed=1, scale=0.02))
    assert not a["children"]["barn_id"].equals(b["children"]["barn_id"])


def test_tables_have_exactly_the_canonical_columns_and_dtypes(tables):
    for name in dataset.KEY_COLUMNS:
        expected = dataset.table_columns(name)
        assert list(tables[name].columns) == list(expected), name
        for col, dtype in expected.items():
            assert str(tables[name][col].dtype) == dtype, (name, col)


def test_tables_pass_the_canonical_schemas(tables):
    for name in dataset.KEY_COLUMNS:
        dataset.validate(name, dataset.conform(name, tables[name]))
    vr = tables["vignette_ratings"]
    assert not vr.duplicated(["vinjett_id", "bedomare_id", "variabel"]).any()


def test_build_writes_a_valid_dataset_and_ground_truth(tmp_path):
    cfg = synth.SynthConfig(scale=0.02)
    manifest = synth.build(tmp_path / "a", cfg)
    assert manifest.content["synthetic"] is True
    assert manifest.content["source"] == f"synth seed={cfg.seed}"
    assert manifest.data_date == "2025-12-31"
    truth = json.loads((tmp_path / "a" / synth.GROUND_TRUTH_FILE).read_text(encoding="utf-8"))
    assert truth["config"] == cfg.to_dict()


def test_build_is_byte_identical_for_the_same_config(tmp_path):
    cfg = synth.SynthConfig(scale=0.02)
    synth.build(tmp_path / "a", cfg)
    synth.build(tmp_path / "b", cfg)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes(), n


def test_ground_truth_is_json_with_native_types(truth):
    def walk(x):
        if isinstance(x, dict):
            assert all(isinstance(k, str) for k in x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        else:
            assert x is None or type(x) in (str, int, float, bool), type(x)

    walk(truth)
    json.dumps(truth)
    for key in (
        "municipality_size",
        "effects",
        "null_effects",
        "trends",
        "quirks",
        "ambiguity",
        "clean",
        "vignettes",
        "survey_targets",
        "calibration",
    ):
        assert key in truth


def test_ids_are_pseudonymous_and_unique(tables):
    prefixes = {
        "barn_id": "B",
        "insats_id": "I",
        "registrering_id": "R",
        "vinjett_id": "V",
        "bedomare_id": "S",
    }
    for name, df in tables.items():
        for col, prefix in prefixes.items():
            if col in df.columns:
                assert df[col].str.fullmatch(prefix + r"[0-9a-f]{16}").all(), (name, col)
    assert tables["children"]["barn_id"].is_unique
    assert tables["interventions"]["insats_id"].is_unique
    assert tables["registrations"]["registrering_id"].is_unique


def test_codes_come_from_the_catalogue(tables):
    cat = load_catalogue()
    for name in ("children", "interventions", "registrations"):
        for var in cat.of_table(name):
            if var.type == "code" and var.codelist is not None:
                values = set(tables[name][var.name].dropna())
                assert values <= set(var.codelist.code_values), var.name


# --- volume and structure -------------------------------------------------------------------------


def test_volume_is_the_target_times_scale(tables):
    n = len(tables["registrations"])
    assert abs(n - 300_000 * SCALE) <= 0.05 * 300_000 * SCALE
    per_ins = tables["registrations"].groupby("insats_id").size()
    assert 1.5 <= per_ins.mean() <= 3.0
    assert per_ins.max() <= synth.MAX_FOLLOW_UPS + 1
    assert tables["interventions"].groupby("barn_id").size().max() >= 3  # children with several


def test_national_volume_covers_every_municipality_and_has_tiny_years(national):
    tables, truth = national
    reg = tables["registrations"]
    assert abs(len(reg) - 300_000) <= 15_000
    per_kommun = reg.groupby("kommun").size()
    assert len(per_kommun) == 290 and per_kommun.min() >= 1
    per_year = reg.groupby(["kommun", "ar"]).size().unstack(fill_value=0)
    assert ((per_year <= 4).sum(axis=1) > 0).sum() >= 3  # tiny municipalities with 0-4 in a year
    sizes = pd.Series(truth["municipality_size"])
    assert len(sizes) == 290 and sizes.min() >= 2_400
    assert sizes["0180"] == max(sizes) and 12_000 <= sizes.median() <= 20_000
    # volume proportional to size (with noise)
    assert np.corrcoef(np.log(sizes[per_kommun.index]), np.log(per_kommun))[0, 1] > 0.9


def test_dates_are_in_process_order(tables, merged):
    ins = tables["interventions"]
    assert (ins["aktualiseringsdatum"] <= ins["utredning_start"]).all()
    assert (ins["utredning_start"] <= ins["utredning_slut"]).all()
    assert (ins["utredning_slut"] <= ins["insats_start"]).all()
    assert (merged["insats_start"] <= merged["registreringsdatum"]).all()
    ended = merged[merged["insats_slut"].notna()]
    assert (ended["registreringsdatum"] <= ended["insats_slut"]).all()
    for df in tables.values():
        for col in df.columns:
            if str(df[col].dtype).startswith("datetime64"):
                assert (df[col].dropna().dt.normalize() == df[col].dropna()).all(), col


def test_endings_and_rereferral_follow_the_rules(tables, merged):
    reg = tables["registrations"]
    end = reg[reg["registreringstyp"] == "avslut"]
    assert end["insats_id"].is_unique
    assert reg.loc[reg["registreringstyp"] != "avslut", "avslutsorsak"].isna().all()
    assert reg.loc[reg["registreringstyp"] != "avslut", "aterkomst_12man"].isna().all()
    e = merged[merged["registreringstyp"] == "avslut"]
    assert (e["registreringsdatum"] == e["insats_slut"]).all()
    n_slut = tables["interventions"]["insats_slut"].notna().sum()
    assert n_slut == len(end)
    beyond = e["insats_slut"] + pd.DateOffset(months=12) > pd.Timestamp("2025-12-31")
    assert e.loc[beyond, "aterkomst_12man"].isna().all()
    assert e.loc[~beyond, "aterkomst_12man"].notna().all()
    # derivable from the interventions table
    ins = tables["interventions"][["barn_id", "aktualiseringsdatum"]]
    sample = e.loc[~beyond, ["barn_id", "insats_slut", "aterkomst_12man"]].head(300)
    for _, row in sample.iterrows():
        opened = ins.loc[ins["barn_id"] == row["barn_id"], "aktualiseringsdatum"]
        window = (opened > row["insats_slut"]) & (
            opened <= row["insats_slut"] + pd.DateOffset(months=12)
        )
        assert bool(window.any()) == bool(row["aterkomst_12man"])


def test_ages_and_legal_bases_are_valid(tables, merged):
    reg = tables["registrations"]
    assert reg["alder"].between(0, 20).all()
    bands = {"0-6": (0, 6), "7-12": (7, 12), "13-17": (13, 17), "18-20": (18, 20)}
    for band, (lo, hi) in bands.items():
        assert reg.loc[reg["aldersgrupp"] == band, "alder"].between(lo, hi).all()
    assert (reg["ar"] == reg["registreringsdatum"].dt.year).all()
    assert ((merged["ar"] - merged["fodelsear"] - merged["alder"]).between(0, 1)).all()
    assert not ((merged["lagrum"] == "lvu2") & (merged["alder"] >= 18)).any()
    groups = load_catalogue().groups("insatstyp")
    ins = tables["interventions"]
    assert (ins["insatstyp"].map(groups).fillna("-") == ins["insatsgrupp"].fillna("-")).all()


def test_multi_select_rows_are_all_missing_or_filled(tables):
    for name, prefix in (
        ("registrations", "identifierad_utsatthet__"),
        ("registrations", "grundproblematik__"),
        ("interventions", "insatsens_fokus__"),
    ):
        block = tables[name][[c for c in tables[name].columns if c.startswith(prefix)]]
        na = block.isna()
        assert (na.all(axis=1) | ~na.any(axis=1)).all(), prefix
        assert na.all(axis=1).any() and (~na.all(axis=1)).any()


# --- calibration (DOMAIN.md §5) -------------------------------------------------------------------


def test_calibration_metrics_hit_their_targets(national):
    tables, truth = national
    got = synth.calibration_metrics(tables)
    tolerance = {  # the national dataset (DOMAIN.md §5 targets)
        "boys_share_familjehem_incl_natverkshem_jourhem": 0.02,
        "boys_share_hvb": 0.02,
        "boys_share_stodboende": 0.025,
        "boys_share_placements": 0.02,
        "sol_share_placements": 0.02,
        "lvu_share_placements": 0.02,
        "age_15_plus_share_placements": 0.02,
        "family_home_to_hvb_ratio": 0.15,
        "rereferral_13_20": 0.015,
        "rereferral_0_12": 0.015,
        "investigation_within_4_months": 0.01,
    }
    for key, tol in tolerance.items():
        target = synth.CALIBRATION_TARGETS[key]["target"]
        assert abs(got[key] - target) <= tol, (key, got[key], target)
        assert truth["calibration"][key]["realised"] == got[key]


def test_calibration_placement_boys_shares_computed_independently(merged):
    pl = merged[(merged["insatsgrupp"] == "placering") & merged["kon"].isin(["flicka", "pojke"])]
    boys = (pl["kon"] == "pojke").groupby(pl["ar"]).mean().mean()
    assert 0.55 <= boys <= 0.61
    hvb = pl[pl["insatstyp"] == "hvb"]
    assert 0.61 <= (hvb["kon"] == "pojke").mean() <= 0.68


def test_unaccompanied_are_concentrated_in_2016_2017(merged):
    ens = merged[merged["ensamkommande"] == "ja"]
    per_year = ens.groupby("ar").size()
    assert per_year.idxmax() in (2016, 2017)
    assert per_year.loc[[2016, 2017]].sum() >= 0.4 * per_year.sum()
    assert per_year.get(2024, 0) + per_year.get(2025, 0) < 0.02 * per_year.sum()
    children = ens.drop_duplicates("barn_id")
    assert (children["kon"] == "pojke").mean() > 0.85
    assert (children["ursprung"] == "ovriga_varlden").mean() > 0.9
    first = ens.sort_values("registreringsdatum").drop_duplicates("barn_id")
    assert (first["alder"].between(13, 18)).mean() > 0.9
    assert (first["insatsgrupp"].dropna() == "placering").mean() > 0.85


# --- planted effects ------------------------------------------------------------------------------


def _design(d: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The manifest's covariate definitions (an indicator is 0 when its variable is missing)."""
    vuln = [
        c
        for c in d.columns
        if c.startswith("identifierad_utsatthet__") and not c.endswith("__ingen")
    ]
    out = {}
    for n in names:
        if n == "girl":
            out[n] = d["kon"] == "flicka"
        elif n.startswith("origin_"):
            out[n] = d["ursprung"] == n.removeprefix("origin_")
        elif n == "vulnerable":
            out[n] = d[vuln].fillna(False).any(axis=1)
        elif n.startswith("age_"):
            out[n] = d["aldersgrupp"] == n.removeprefix("age_").replace("_", "-")
        elif n == "placement":
            out[n] = d["insatsgrupp"] == "placering"
        elif n.startswith("type_"):
            out[n] = d["insatstyp"] == n.removeprefix("type_")
    return sm.add_constant(pd.DataFrame(out).fillna(False).astype(float))


def _fit(d: pd.DataFrame, y: pd.Series, spec: dict):
    X = _design(d, list(spec["coefficients"]))
    groups = pd.factorize(d["kommun"])[0]
    return sm.GLM(y.astype(float), X, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )


def test_goal_attainment_effects_are_recovered_by_a_clustered_glm(merged, truth):
    spec = truth["effects"]["goal_attainment"]
    assert spec["formula"].startswith("y ~ girl")
    d = merged[
        merged["maluppfyllelse"].isin(["helt", "delvis", "inte_alls"])
        & ~merged["kommun"].isin(spec["exclude_for_recovery"])
    ]
    fit = _fit(d, d["maluppfyllelse"] == "helt", spec)
    ci = fit.conf_int()  # 95%
    for name in ("girl", "vulnerable"):
        true = spec["coefficients"][name]
        assert ci.loc[name, 0] <= true <= ci.loc[name, 1], (name, fit.params[name], true)
    wide = fit.conf_int(alpha=0.01)  # the null effects: no false positive at the 1% level
    for name in ("origin_norden", "origin_eu_ees"):
        assert wide.loc[name, 0] <= 0.0 <= wide.loc[name, 1], (name, fit.params[name])
    assert spec["odds_ratios"]["girl"] == pytest.approx(0.80)
    assert spec["odds_ratios"]["vulnerable"] == pytest.approx(0.75)
    assert fit.params["girl"] < -0.1 and fit.params["vulnerable"] < -0.1


def test_breakdown_effects_are_recovered_by_a_clustered_glm(merged, truth):
    spec = truth["effects"]["breakdown"]
    d = merged[
        (merged["registreringstyp"] == "avslut")
        & (merged["insatsgrupp"] == "placering")
        & merged["avslutsorsak"].notna()
    ]
    fit = _fit(d, d["avslutsorsak"] == "sammanbrott", spec)
    ci = fit.conf_int()
    for name in ("girl", "vulnerable", "type_hvb"):
        true = spec["coefficients"][name]
        assert ci.loc[name, 0] <= true <= ci.loc[name, 1], (name, fit.params[name], true)
    assert spec["odds_ratios"]["girl"] == pytest.approx(1.35)


def test_null_effects_are_exactly_zero_in_the_manifest(truth):
    for model in ("goal_attainment", "breakdown"):
        for name in truth["null_effects"][model]:
            assert truth["effects"][model]["coefficients"][name] == 0.0
        assert set(truth["effects"][model]["null_effects"]) == {"origin_norden", "origin_eu_ees"}


def test_planted_trends_show_in_the_data(merged, truth):
    talk = merged[merged["samtal_med_barnet"].notna()]
    yes = (talk["samtal_med_barnet"] == "ja").groupby(talk["ar"]).mean()
    assert yes[2016] == pytest.approx(0.70, abs=0.03)
    assert yes[2025] == pytest.approx(0.90, abs=0.03)
    trend = truth["trends"]["planned_endings"]
    e = merged[
        (merged["registreringstyp"] == "avslut")
        & merged["avslutsorsak"].notna()
        & (merged["avslutsorsak"] != "sammanbrott")
    ]
    y = e["avslutsorsak"].isin(trend["planned_codes"]).astype(float)
    X = sm.add_constant((e["ar"] - 2016).astype(float))
    slope = sm.GLM(y, X, family=sm.families.Binomial()).fit().params["ar"]
    assert slope == pytest.approx(trend["log_odds_per_year"], abs=0.03)
    assert "goal_attainment" in truth["trends"]["no_trend"]


# --- municipality quirks --------------------------------------------------------------------------


def test_sundsvall_codes_open_care_as_other(tables):
    ins = tables["interventions"]
    open_care = ins[ins["insatsgrupp"] == "oppenvard"]
    share = (open_care["insatstyp"] == "annan_oppenvard").groupby(open_care["kommun"]).mean()
    assert share["2281"] >= 0.85
    assert share.drop("2281").median() < 0.35


def test_ornskoldsvik_never_fills_in_risk(tables):
    reg = tables["registrations"]
    assert (reg["kommun"] == "2284").sum() > 20
    assert reg.loc[reg["kommun"] == "2284", "riskbedomning"].isna().all()
    assert reg.loc[reg["kommun"] != "2284", "riskbedomning"].notna().mean() > 0.8


def test_timra_goal_coding_shifts_in_2021(merged):
    t = merged[
        (merged["kommun"] == "2262")
        & merged["maluppfyllelse"].isin(["helt", "delvis", "inte_alls"])
    ]
    before, after = t[t["ar"] < 2021], t[t["ar"] >= 2021]
    assert (before["maluppfyllelse"] == "delvis").mean() > 0.55
    assert (after["maluppfyllelse"] == "helt").mean() > 0.5
    assert (before["maluppfyllelse"] == "helt").mean() < 0.2


def test_one_municipality_outside_county_22_overuses_not_assessable(tables, truth):
    reg = tables["registrations"]
    share = reg.groupby("kommun")["maluppfyllelse"].apply(lambda s: (s == "kan_ej_bedomas").mean())
    big = reg.groupby("kommun").size() >= 100
    top = share[big].idxmax()
    assert not top.startswith("22") and share[top] > 0.25
    assert any(q["kommun"] == top for q in truth["quirks"])


# --- ambiguity ------------------------------------------------------------------------------------


def _percent_agreement(vr: pd.DataFrame) -> pd.Series:
    """Pairwise percent agreement per variable (pairs of raters of the same vignette)."""
    out = {}
    for var, d in vr.dropna(subset=["varde"]).groupby("variabel"):
        counts = d.groupby(["vinjett_id", "varde"]).size()
        per = counts.groupby(level=0)
        agree = (counts * (counts - 1)).groupby(level=0).sum()
        m = per.sum()
        out[var] = agree.sum() / (m * (m - 1)).sum()
    return pd.Series(out)


def test_vignette_study_has_the_planned_design(tables):
    vr = tables["vignette_ratings"]
    assert vr["vinjett_id"].nunique() == 40
    assert vr["bedomare_id"].nunique() == 200
    assert 50 <= vr["kommun"].nunique() <= 60
    assert (vr.groupby("bedomare_id")["kommun"].nunique() == 1).all()
    per_rater = vr.groupby("bedomare_id")["vinjett_id"].nunique()
    assert per_rater.between(15, 25).all()
    assert vr["varde"].isna().mean() == pytest.approx(0.02, abs=0.01)
    cfg = synth.SynthConfig()
    assert set(vr["variabel"]) == set(cfg.ambiguous_variables) | set(cfg.clean_variables)


def test_ambiguous_variables_have_lower_rater_agreement(tables, truth):
    pa = _percent_agreement(tables["vignette_ratings"])
    ambiguous, clean = list(truth["ambiguity"]), list(truth["clean"])
    assert pa[ambiguous].max() < pa[clean].min()
    assert pa[ambiguous].max() < 0.65 and pa[clean].min() > 0.85
    for var in ambiguous:
        alpha = truth["ambiguity"][var]["rater_disagreement"]["realised_krippendorff_alpha"]
        assert 0.3 <= alpha <= 0.5


def _dispersion(df: pd.DataFrame, var: str, min_rows: int = 150) -> float:
    """Chi-square / df of the municipality x code table (1 = no variation beyond chance)."""
    d = df[df[var].notna()]
    big = d["kommun"].value_counts()
    d = d[d["kommun"].isin(big[big >= min_rows].index)]
    table = pd.crosstab(d["kommun"], d[var])
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.values.sum()
    chi2 = ((table.values - expected) ** 2 / expected).sum()
    return chi2 / ((table.shape[0] - 1) * (table.shape[1] - 1))


def test_ambiguous_variables_vary_between_municipalities_beyond_chance(national):
    reg, ins = national[0]["registrations"], national[0]["interventions"]
    ambiguous = [
        _dispersion(reg[reg["kommun"] != "2284"], "riskbedomning"),
        _dispersion(ins[ins["kommun"] != "2281"], "insatstyp"),
    ]
    clean = [
        _dispersion(ins, "lagrum"),
        _dispersion(ins, "aktualiseringsvag"),
        _dispersion(reg, "samtal_med_barnet"),
    ]
    assert min(ambiguous) > 2 * max(clean)
    assert max(clean) < 1.6


def test_ambiguous_variables_overuse_residual_and_not_assessable(merged, truth):
    riskmiss = merged.loc[merged["kommun"] != "2284", "riskbedomning"]
    assert riskmiss.isna().mean() > 0.04 and (riskmiss == "kan_ej_bedomas").mean() > 0.09
    assert merged["kon"].isna().mean() < 0.02 and merged["lagrum"].isna().mean() < 0.02
    assert (merged["forandring_situation"] == "kan_ej_bedomas").mean() < 0.07
    ins = truth["ambiguity"]["insatstyp"]
    assert "residual_overuse" in ins["mechanisms"]
    assert truth["ambiguity"]["riskbedomning"]["residual_overuse"]["skipped"]


def test_contradictions_are_planted_at_the_stated_rate(merged, truth):
    risk = truth["ambiguity"]["riskbedomning"]["contradiction"]
    assert risk["rate_planted"] == 0.08
    d = merged[
        merged["riskbedomning"].notna()
        & merged["forandring_situation"].isin(["forsamrad", "forbattrad"])
    ]
    bad = ((d["riskbedomning"] == "minskad") & (d["forandring_situation"] == "forsamrad")) | (
        (d["riskbedomning"] == "okad") & (d["forandring_situation"] == "forbattrad")
    )
    assert bad.mean() == pytest.approx(risk["realised_rate"], abs=0.01)
    assert 0.05 <= bad.mean() <= 0.10
    open_lvu = (merged["insatsgrupp"] == "oppenvard") & merged["lagrum"].isin(["lvu2", "lvu3"])
    assert open_lvu.any()
    for var, report in truth["clean"].items():
        c = report["contradiction"]
        if "rule" in c and not c["shared_with"]:
            assert c["realised_rate"] < 0.01, var


def test_second_config_plants_ambiguity_in_other_variables(second):
    tables, truth = second
    assert list(truth["ambiguity"]) == list(SECOND_AMBIGUOUS)
    for var in SECOND_AMBIGUOUS:
        assert {"rater_disagreement", "municipality_variation", "contradiction"} <= set(
            truth["ambiguity"][var]["mechanisms"]
        )
    assert "riskbedomning" in truth["other_variables"]
    pa = _percent_agreement(tables["vignette_ratings"])
    assert pa[list(SECOND_AMBIGUOUS)].max() < pa[list(truth["clean"])].min()
    assert "riskbedomning" not in set(tables["vignette_ratings"]["variabel"])
    reg, ins = tables["registrations"], tables["interventions"]
    assert _dispersion(ins, "utforare", 80) > 3 * _dispersion(ins, "lagrum", 80)
    assert (reg["forandring_situation"] == "kan_ej_bedomas").mean() > 0.09
    sis = ins[ins["insatstyp"] == "sis"]
    assert sis["utforare"].isin(["egen_regi", "privat", "ideell"]).any()


def test_municipality_subset_keeps_national_volumes():
    county = tuple(list_municipalities("22")["municipality_code"])
    tables, truth = synth.generate(synth.SynthConfig(scale=0.2, municipalities=county))
    assert set(tables["registrations"]["kommun"]) == set(county)
    assert set(tables["survey"]["kommun"]) == set(county)
    expected = truth["volume"]["expected_registrations_by_kommun"]
    assert sum(expected.values()) < 0.05 * 300_000 * 0.2
    assert {q["kommun"] for q in truth["quirks"]} == {"2281", "2284", "2262"}


# --- survey ---------------------------------------------------------------------------------------


def test_survey_reproduces_the_seed_figures(tables, truth):
    s = tables["survey"]
    questions = list(load_catalogue().survey_questions)
    assert len(s) == 290 * 16 * len(questions)
    assert (
        s.loc[~s["besvarad"], "svar"].isna().all() and s.loc[s["besvarad"], "svar"].notna().all()
    )
    answered = s[s["besvarad"]]
    share = (answered.groupby(["fraga", "ar"])["svar"].mean() * 100).round()
    seed_figures = {
        ("bbic_licens", 2010): 28,
        ("bbic_licens", 2012): 61,
        ("bbic_licens", 2014): 81,
        ("bbic_licens", 2016): 98,
        ("socialjour_socionom", 2011): 45,
        ("socialjour_socionom", 2012): 62,
        ("socialjour_socionom", 2020): 89,
        ("rutin_enskilda_samtal", 2012): 90,
        ("uppfoljning_oppenvard", 2014): 26,
        ("uppfoljning_placering", 2014): 16,
        ("samverkan_forskola", 2014): 75,
        ("samverkan_grundskola", 2014): 80,
        ("personal_socionom_5ar", 2014): 50,
    }
    for (q, y), pct in seed_figures.items():
        assert share[(q, y)] == pct, (q, y, share[(q, y)])
        assert truth["survey_targets"]["national"][q][str(y)]["percent"] == pct
    rate = (s.groupby("ar")["besvarad"].mean() * 100).round()
    assert rate[2012] == 83 and rate[2013] == 95 and rate[2016] == 90
    assert truth["survey_targets"]["targets_met"] is True


def test_survey_reproduces_the_county_figures(tables):
    s = tables["survey"].assign(lan=lambda d: d["kommun"].str[:2])
    for q, counties in (
        ("socialjour_socionom", {"19": 1.0, "13": 1.0, "10": 0.2, "23": 0.25, "07": 0.25}),
        ("bbic_licens", {"18": 1.0, "06": 1.0, "24": 0.2, "05": 3 / 13}),
    ):
        d = s[(s["fraga"] == q) & (s["ar"] == 2012)]
        for lan, share in counties.items():
            c = d[d["lan"] == lan]
            assert c["besvarad"].all(), (q, lan)
            assert c["svar"].astype(float).mean() == pytest.approx(share), (q, lan)


def test_survey_answers_are_monotone_per_municipality(tables):
    s = tables["survey"][tables["survey"]["besvarad"]].sort_values("ar")
    drops = s.groupby(["kommun", "fraga"])["svar"].apply(
        lambda v: int((v.astype(int).diff() < 0).sum())
    )
    assert drops.sum() == 0
