"""Issue 10 data layer: provider follow-up and children's survey tables, synthetic data, ingest.

Synthetic data only, made here; exports are rendered from the synthetic tables through the
profiles (``workbench.ingest.exports_tables``).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import dataset, synth
from workbench.catalogue import list_variables, load_catalogue
from workbench.ingest.exports import write_csv
from workbench.ingest.exports_tables import FREE_TEXT_CANARY, placement_export, survey_export
from workbench.ingest.profile import load_profile
from workbench.ingest.tables import TableIngestError, ingest_tables
from workbench.municipalities import list_municipalities
from workbench.pseudonym import init_key, pseudonymise

OPTIONAL = ("providers", "placements", "provider_ratings", "child_survey")
SEP = "\x1f"


@pytest.fixture(scope="module")
def small() -> tuple[dict[str, pd.DataFrame], dict]:
    return synth.generate(synth.SynthConfig(scale=0.1))


@pytest.fixture(scope="module")
def national() -> tuple[dict[str, pd.DataFrame], dict]:
    return synth.generate(synth.SynthConfig())


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory):
    return init_key(tmp_path_factory.mktemp("keys") / "test.key")


@pytest.fixture(scope="module")
def core_dataset(small, tmp_path_factory) -> Path:
    """A canonical dataset with the core tables only (as a case ingest writes)."""
    tables, _ = small
    out = tmp_path_factory.mktemp("core") / "data"
    dataset.write_dataset({t: tables[t] for t in dataset.CORE_TABLES}, out, source="test")
    return out


# --- catalogue --------------------------------------------------------------------------------


def test_catalogue_has_the_optional_tables_code_lists_and_variables():
    cat = load_catalogue()
    assert set(OPTIONAL) <= set(cat.tables)
    for name in ("utforartyp", "regi", "placering_avslut", "betyg5", "enkatgrupp", "instamning5"):
        cl = cat.codelists[name]
        assert cl.status == "placeholder" and cl.source
    assert cat.codelists["betyg5"].code_values == ("1", "2", "3", "4", "5", "vet_ej")
    assert cat.codelists["betyg5"].codes_of_kind("unknown") == ("vet_ej",)
    assert cat.variable("kanner_mig_trygg").sv == "Jag känner mig trygg"
    assert cat.variable("betyg_trygghet").table == "provider_ratings"
    assert [v.name for v in cat.of_table("child_survey")][:3] == ["kon", "alder", "enkatgrupp"]
    assert "maluppfyllelse" in [v.name for v in cat.of_table("placements")]


def test_case_level_variables_exclude_the_optional_tables():
    cat = load_catalogue()
    assert not {v.table for v in cat.variables.values()} & set(OPTIONAL)
    assert "kanner_mig_trygg" not in cat.variables
    assert "kanner_mig_trygg" in cat.all_variables
    df = list_variables(table="provider_ratings")
    assert set(df["variabel"]) >= {"betyg_behandling", "placera_igen"}
    assert (df["tabell"] == "provider_ratings").all()
    with pytest.raises(KeyError, match="Unknown table"):
        list_variables(table="nope")


def test_table_columns_follow_the_contract():
    assert list(dataset.table_columns("providers")) == [
        "utforare_id",
        "utforare_namn",
        "lan",
        "utforartyp",
        "regi",
    ]
    pl = dataset.table_columns("placements")
    assert pl["ar"] == "Int64" and pl["slutdatum"] == "datetime64[ns]"
    cs = dataset.table_columns("child_survey")
    assert cs["besvarad"] == "bool" and cs["alder"] == "Int64" and "fritext" not in cs


# --- dataset -----------------------------------------------------------------------------------


def test_optional_tables_read_empty_with_schema_columns(core_dataset):
    for name in OPTIONAL:
        df = dataset.read_table(core_dataset, name)
        assert df.empty
        assert {c: str(t) for c, t in df.dtypes.items()} == dataset.table_columns(name)
        assert not dataset.has_table(core_dataset, name)
    assert list(dataset.read_table(core_dataset, "placements", columns=["ar"]).columns) == ["ar"]
    assert dataset.load_placements(core_dataset).empty


def test_write_dataset_requires_core_tables_and_writes_optional_ones(small, tmp_path):
    tables, _ = small
    with pytest.raises(dataset.DatasetError, match="children"):
        dataset.write_dataset({"providers": tables["providers"]}, tmp_path / "x", source="t")
    with pytest.raises(dataset.DatasetError, match="unknown table"):
        dataset.write_dataset({**tables, "nope": tables["providers"]}, tmp_path / "y", source="t")
    m = dataset.write_dataset(tables, tmp_path / "z", source="t")
    assert set(OPTIONAL) <= set(m.content["tables"])
    joined = dataset.load_placements(tmp_path / "z", kommuner=["0180"])
    assert len(joined) and joined["utforare_namn"].notna().all()
    with pytest.raises(dataset.DatasetError, match="no kommun column"):
        dataset.read_table(tmp_path / "z", "providers", kommuner=["0180"])


def test_schema_checks_provider_ids_and_allows_unknown_interventions(small):
    tables, _ = small
    prov = tables["providers"].copy()
    prov.loc[0, "utforare_id"] = "Babcdef0123456789"
    with pytest.raises(dataset.DatasetError, match="utforare_id"):
        dataset.validate("providers", dataset.conform("providers", prov))
    pl = tables["placements"].copy()
    pl.loc[0, "insats_id"] = None
    dataset.validate("placements", dataset.conform("placements", pl))


# --- synthetic data --------------------------------------------------------------------------


def test_followup_tables_are_deterministic_and_conform():
    cfg = synth.SynthConfig(scale=0.02)
    a, ta = synth.generate(cfg)
    b, tb = synth.generate(cfg)
    for name in OPTIONAL:
        pd.testing.assert_frame_equal(a[name], b[name])
        assert list(a[name].columns) == list(dataset.table_columns(name))
        dataset.validate(name, dataset.conform(name, a[name]))
    for k in ("providers", "child_survey"):
        assert json.dumps(ta[k], sort_keys=True) == json.dumps(tb[k], sort_keys=True)
    c, _ = synth.generate(synth.SynthConfig(seed=5, scale=0.02))
    assert not c["placements"]["placering_id"].equals(a["placements"]["placering_id"])


def test_placements_follow_their_interventions(small):
    tables, _ = small
    pl = tables["placements"].merge(
        tables["interventions"], on="insats_id", how="left", suffixes=("", "_i")
    )
    assert pl["insatstyp"].notna().all()
    assert (pl["barn_id"] == pl["barn_id_i"]).all() and (pl["kommun"] == pl["kommun_i"]).all()
    assert (pl["startdatum"] == pl["insats_start"]).all()
    assert pl["slutdatum"].equals(pl["insats_slut"].rename("slutdatum"))
    assert (pl["placering_avslut"].isna() == pl["slutdatum"].isna()).all()
    assert pl.loc[pl["slutdatum"].isna(), "maluppfyllelse"].isna().all()
    typ = pl.merge(tables["providers"], on="utforare_id")
    expected = {"hvb": "hvb", "familjehem": "familjehemsorg", "jourhem": "familjehemsorg"}
    expected["stodboende"] = "stodboende"
    assert (typ["insatstyp"].map(expected) == typ["utforartyp"]).all()
    rt = tables["provider_ratings"].merge(tables["placements"], on="placering_id")
    assert (rt["utforare_id_x"] == rt["utforare_id_y"]).all()
    assert (rt["bedomningsdatum"] >= rt["startdatum"]).all()
    assert (rt["bedomningsdatum"] <= pd.Timestamp("2025-12-31")).all()
    assert tables["providers"]["lan"].nunique() == 21


def test_national_volumes_are_realistic(national):
    tables, truth = national
    prov = tables["providers"]
    assert 250 <= len(prov) <= 350
    assert (prov["utforartyp"] == "hvb").mean() > 0.5
    n_ended = tables["placements"]["slutdatum"].notna().sum()
    assert 0.7 * n_ended <= len(tables["provider_ratings"]) <= 1.1 * n_ended
    cs = tables["child_survey"]
    assert 0.50 <= cs["besvarad"].mean() <= 0.60
    assert cs["alder"].between(13, 20).all()
    assert cs.loc[~cs["besvarad"], ["kanner_mig_trygg", "helhet"]].isna().all().all()


def _breakdown_share(tables, ids) -> float:
    pl = tables["placements"]
    done = pl[pl["slutdatum"].notna() & pl["utforare_id"].isin(ids)]
    return float((done["placering_avslut"] == "sammanbrott").mean())


def test_planted_providers_differ_clearly_from_the_rest(small):
    tables, truth = small
    tp = truth["providers"]
    worse, better = tp["clearly_worse"], tp["clearly_better"]
    assert len(worse) >= 3 and len(better) >= 3
    others = sorted(set(tables["providers"]["utforare_id"]) - set(worse) - set(better))
    rest = _breakdown_share(tables, others)
    assert _breakdown_share(tables, worse) > rest + 0.15
    assert _breakdown_share(tables, better) < rest - 0.15
    rt = tables["provider_ratings"]
    agree = rt["betyg_behandling"].isin(["4", "5"])
    assert (
        agree[rt["utforare_id"].isin(worse)].mean()
        < agree[rt["utforare_id"].isin(others)].mean() - 0.2
    )
    assert (
        agree[rt["utforare_id"].isin(better)].mean()
        > agree[rt["utforare_id"].isin(others)].mean() + 0.1
    )
    for e in tp["effects"]:
        assert e["n_ratings"] >= 15, e


def test_small_providers_are_planted_and_recorded(small, national):
    for tables, truth in (small, national):
        n = tables["provider_ratings"].groupby("utforare_id").size()
        tp = truth["providers"]
        assert tp["exactly_two_ratings"] and all(n[i] == 2 for i in tp["exactly_two_ratings"])
        few = {f["utforare_id"]: f["n_ratings"] for f in tp["few_ratings"]}
        assert few == {i: int(k) for i, k in n[n < tp["minimum_ratings"]].items()}
        assert any(3 <= k <= 4 for k in few.values())


def _fit_po(y: pd.Series, X: pd.DataFrame) -> pd.Series:
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = OrderedModel(y.astype(int), X, distr="logit").fit(method="bfgs", disp=False)
    return res.params[list(X.columns)]


def test_ordinal_model_recovers_the_planted_survey_shifts(national):
    tables, truth = national
    cs = tables["child_survey"]
    a = cs[cs["besvarad"]].copy()
    lan = list_municipalities().set_index("municipality_code")["county_code"]
    X = pd.DataFrame(
        {
            "flicka_placerad": ((a["kon"] == "flicka") & (a["enkatgrupp"] == "placerad")),
            "aldersband_18_20": a["alder"] >= 18,
            "lan": a["kommun"].map(lan) == "22",
        },
        index=a.index,
    ).astype(float)
    which = {"kanner_mig_trygg": "flicka_placerad", "vet_min_plan": "aldersband_18_20"}
    which["blir_lyssnad_pa"] = "lan"
    planted = {e["item"]: e["log_odds_shift"] for e in truth["child_survey"]["effects"]}
    for item, col in which.items():
        ok = a[item].isin(list("12345"))
        est = _fit_po(a.loc[ok, item], X[ok])
        assert abs(est[col] - planted[item]) < 0.3, (item, est.to_dict())
        others = est.drop(col)
        assert (others.abs() < 0.3).all(), (item, est.to_dict())


def test_ordinal_model_recovers_provider_rating_shifts(national):
    tables, truth = national
    rt = tables["provider_ratings"]
    shift = {e["utforare_id"]: e["rating_shift"] for e in truth["providers"]["effects"]}
    ok = rt["betyg_trygghet"].isin(list("12345"))
    s = rt.loc[ok, "utforare_id"].map(shift).fillna(0.0)
    X = pd.DataFrame({"worse": s < 0, "better": s > 0}).astype(float)
    est = _fit_po(rt.loc[ok, "betyg_trygghet"], X)
    w = np.mean([v for v in shift.values() if v < 0])
    b = np.mean([v for v in shift.values() if v > 0])
    assert abs(est["worse"] - w) < 0.25 and abs(est["better"] - b) < 0.25


def test_survey_response_rates_differ_by_group_and_tiny_municipalities_exist(national):
    tables, truth = national
    cs = tables["child_survey"]
    rates = cs.groupby("enkatgrupp")["besvarad"].mean()
    assert rates["oppenvard"] - rates["placerad"] > 0.04
    old = cs.groupby(cs["alder"] >= 18)["besvarad"].mean()
    assert old[False] - old[True] > 0.05
    resp = truth["child_survey"]["response"]
    assert resp["by_enkatgrupp"]["placerad"]["rate"] == round(rates["placerad"], 4)
    answered = cs.groupby("kommun")["besvarad"].sum()
    tiny = sorted(answered.index[(answered >= 1) & (answered <= 4)])
    assert tiny and tiny == truth["child_survey"]["municipalities_with_1_to_4_answers"]


def test_ground_truth_json_has_the_contract_keys(small):
    _, truth = small
    json.dumps(truth)
    e = truth["providers"]["effects"][0]
    assert {
        "utforare_id",
        "utforartyp",
        "breakdown_probability",
        "rating_shift",
        "n_placements",
    } <= set(e)
    items = {x["item"] for x in truth["child_survey"]["effects"]}
    assert items == {"kanner_mig_trygg", "vet_min_plan", "blir_lyssnad_pa"}


# --- ingest -----------------------------------------------------------------------------------


def _ps(values: pd.Series, key, domain: str, prefix: str) -> pd.Series:
    return pseudonymise(values.astype("str"), key, domain=domain, prefix=prefix)


@pytest.fixture(scope="module")
def exports(small, tmp_path_factory):
    tables, _ = small
    d = tmp_path_factory.mktemp("exports")
    pl_frame, pl_key = placement_export(tables, load_profile("placeringsuppfoljning"))
    sv_frame, sv_key = survey_export(tables["child_survey"], load_profile("barnenkat"))
    write_csv(pl_frame, d / "placeringar.csv", encoding="cp1252")
    write_csv(sv_frame, d / "barnenkat.csv")
    return {"dir": d, "pl": (pl_frame, pl_key), "sv": (sv_frame, sv_key)}


@pytest.fixture(scope="module")
def ingested(exports, core_dataset, key, tmp_path_factory) -> Path:
    import shutil

    target = tmp_path_factory.mktemp("ingested") / "data"
    shutil.copytree(core_dataset, target)
    r1 = ingest_tables(
        [exports["dir"] / "placeringar.csv"], profile="placeringsuppfoljning", into=target, key=key
    )
    r2 = ingest_tables(
        [exports["dir"] / "barnenkat.csv"], profile="barnenkat", into=target, key=key
    )
    assert r1.written and r2.written and r1.n_errors == 0 and r2.n_errors == 0
    assert r1.balanced and r2.balanced
    return target


def test_placement_export_round_trips(small, exports, ingested, key):
    tables, _ = small
    _, k = exports["pl"]
    kommun = tables["placements"].set_index("placering_id")["kommun"]
    pl_map = dict(
        zip(
            k["placering_id"],
            _ps(
                k["placering_id"].map(kommun) + SEP + "ref" + SEP + k["export_placering"],
                key,
                "placering",
                "L",
            ),
            strict=True,
        )
    )
    rated = k[k["bedomning_id"].notna()]
    rt_map = dict(
        zip(
            rated["bedomning_id"],
            _ps(
                rated["placering_id"].map(kommun) + SEP + "ref" + SEP + rated["export_bedomning"],
                key,
                "bedomning",
                "Q",
            ),
            strict=True,
        )
    )
    barn_map = dict(
        zip(
            k["barn_id"],
            _ps(k["personnummer"].str.replace("-", ""), key, "barn", "B"),
            strict=True,
        )
    )
    ins = k.dropna(subset=["insats_id"])
    ins_map = dict(
        zip(
            ins["insats_id"],
            _ps(
                ins["placering_id"].map(kommun) + SEP + "ref" + SEP + ins["export_insats"],
                key,
                "insats",
                "I",
            ),
            strict=True,
        )
    )
    exp = tables["placements"].assign(
        placering_id=lambda d: d["placering_id"].map(pl_map),
        barn_id=lambda d: d["barn_id"].map(barn_map),
        insats_id=lambda d: d["insats_id"].map(ins_map),
    )
    got = dataset.read_table(ingested, "placements")
    key_cols = ["placering_id"]
    pd.testing.assert_frame_equal(
        got.sort_values(key_cols, ignore_index=True),
        dataset.conform("placements", exp).sort_values(key_cols, ignore_index=True),
    )
    exp_r = tables["provider_ratings"].assign(
        bedomning_id=lambda d: d["bedomning_id"].map(rt_map),
        placering_id=lambda d: d["placering_id"].map(pl_map),
    )
    got_r = dataset.read_table(ingested, "provider_ratings")
    pd.testing.assert_frame_equal(
        got_r.sort_values("bedomning_id", ignore_index=True),
        dataset.conform("provider_ratings", exp_r).sort_values("bedomning_id", ignore_index=True),
    )
    used = tables["providers"][
        tables["providers"]["utforare_id"].isin(tables["placements"]["utforare_id"])
    ]
    pd.testing.assert_frame_equal(
        dataset.read_table(ingested, "providers"), used.reset_index(drop=True)
    )
    # the case tables are untouched; the manifest cites the input
    for t in dataset.CORE_TABLES:
        pd.testing.assert_frame_equal(dataset.read_table(ingested, t), tables[t])
    m = dataset.read_manifest(ingested).content
    files = m["ingest_tables"]["placements"]["files"]
    digest = __import__("hashlib").sha256((exports["dir"] / "placeringar.csv").read_bytes())
    assert files[0]["sha256"] == digest.hexdigest()


def test_survey_export_round_trips(small, exports, ingested, key):
    tables, _ = small
    _, k = exports["sv"]
    cs = tables["child_survey"].set_index("enkat_id")
    ids = _ps(
        k["enkat_id"].map(cs["ar"]).astype("str")
        + SEP
        + k["enkat_id"].map(cs["kommun"])
        + SEP
        + "ref"
        + SEP
        + k["export_enkat"],
        key,
        "enkat",
        "E",
    )
    exp = tables["child_survey"].assign(
        enkat_id=lambda d: d["enkat_id"].map(dict(zip(k["enkat_id"], ids, strict=True)))
    )
    got = dataset.read_table(ingested, "child_survey")
    pd.testing.assert_frame_equal(
        got.sort_values("enkat_id", ignore_index=True),
        dataset.conform("child_survey", exp).sort_values("enkat_id", ignore_index=True),
    )


def _text_of_outputs(*dirs: Path) -> str:
    parts = []
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.suffix == ".parquet":
                df = pd.read_parquet(p)
                parts.append(df.astype("str").to_csv())
            elif p.is_file():
                parts.append(p.read_text(encoding="utf-8-sig", errors="replace"))
    return "\n".join(parts)


def test_free_text_and_personnummer_never_reach_outputs(exports, ingested):
    reports = [
        ingested.with_name(f"data-ingest-{p}") for p in ("placeringsuppfoljning", "barnenkat")
    ]
    assert all((d / "quarantine.csv").is_file() for d in reports)
    assert FREE_TEXT_CANARY in _text_of_outputs(exports["dir"])  # the scan sees the canary
    text = _text_of_outputs(ingested, *reports)
    assert FREE_TEXT_CANARY not in text and "Storgatan" not in text
    pnr = exports["pl"][1]["personnummer"]
    assert not any(p in text or p.replace("-", "") in text for p in pnr.head(200))
    assert not re.search(r"\b(19|20)\d{6}-?\d{4}\b", text)
    for col in ("Kommentar", "Fritext"):
        assert col not in dataset.table_columns("child_survey")


def test_bad_rows_go_to_quarantine_with_reasons(exports, core_dataset, key, tmp_path):
    import shutil

    frame, _ = exports["pl"]
    bad = frame.head(40).copy()
    bad.loc[0, "Barnets personnummer"] = "20091107-0572"  # wrong check digit
    bad.loc[1, "Behandlingens innehåll"] = "Jättebra"
    bad.loc[2, "Utförar-id"] = "X123"
    bad.loc[3, "Placeringens slut"] = "2000-01-01"
    path = write_csv(bad, tmp_path / "bad.csv")
    target = tmp_path / "data"
    shutil.copytree(core_dataset, target)
    before = dataset.read_manifest(target).content
    res = ingest_tables([path], profile="placeringsuppfoljning", into=target, key=key)
    assert not res.written and res.rows_quarantined == 4
    assert res.rows_read == res.rows_accepted + res.rows_quarantined == 40
    assert dataset.read_manifest(target).content == before  # nothing written
    q = pd.read_csv(res.report_dir / "quarantine.csv", sep=";", encoding="utf-8-sig", dtype=str)
    rules = set(",".join(q["regler"]).replace(" ", "").split(","))
    assert {"personnummer", "unknown_code", "provider_id_format", "date_order"} <= rules
    assert "20091107-0572" not in q.to_csv() and "##" in q.to_csv()
    probs = res.problems
    assert (probs.loc[probs["regel"] == "unknown_code", "kolumn"] == "betyg_behandling").all()
    assert probs["atgard"].str.len().gt(0).all()
    res2 = ingest_tables(
        [path], profile="placeringsuppfoljning", into=target, key=key, accept_quarantine=True
    )
    assert res2.written and dataset.has_table(target, "placements")
    assert res2.table_rows["placements"] == bad.iloc[4:]["Placerings-id"].nunique()


def test_survey_rules_quarantine_impossible_answers(exports, key, tmp_path):
    frame, _ = exports["sv"]
    bad = frame.head(30).copy()
    answered = bad.index[bad["Besvarad"] == "Ja"]
    unanswered = bad.index[bad["Besvarad"] == "Nej"]
    bad.loc[answered[0], "Ålder"] = "12"
    bad.loc[unanswered[0], "Jag känner mig trygg"] = "Stämmer helt"
    path = write_csv(bad, tmp_path / "s.csv")
    res = ingest_tables([path], profile="barnenkat", out_dir=tmp_path / "new", key=key)
    assert res.rows_quarantined == 2 and not res.written
    assert set(res.problems.loc[res.problems["allvarlighet"] == "fel", "regel"]) == {
        "integer_range",
        "answers_without_response",
    }


def test_new_dataset_has_empty_core_tables(exports, key, tmp_path):
    res = ingest_tables(
        [exports["dir"] / "barnenkat.csv"], profile="barnenkat", out_dir=tmp_path / "new", key=key
    )
    assert res.written
    assert dataset.read_table(tmp_path / "new", "children").empty
    assert len(dataset.read_table(tmp_path / "new", "child_survey")) == len(exports["sv"][0])


def test_wrong_profile_or_target_gives_clear_errors(exports, key, tmp_path):
    with pytest.raises(TableIngestError, match="Utförar-id"):
        ingest_tables(
            [exports["dir"] / "barnenkat.csv"],
            profile="placeringsuppfoljning",
            out_dir=tmp_path / "x",
            key=key,
        )
    with pytest.raises(dataset.DatasetError, match="does not exist"):
        ingest_tables(
            [exports["dir"] / "barnenkat.csv"],
            profile="barnenkat",
            into=tmp_path / "nope",
            key=key,
        )
    with pytest.raises(TableIngestError, match="case export"):
        ingest_tables(
            [exports["dir"] / "barnenkat.csv"], profile="treserva", into=tmp_path, key=key
        )


def test_cli_ingest_into_adds_the_survey_table(exports, core_dataset, key, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from workbench.cli import app

    target = tmp_path / "data"
    shutil.copytree(core_dataset, target)
    key_file = tmp_path / "cli.key"
    init_key(key_file)
    args = ["ingest", str(exports["dir"] / "barnenkat.csv"), "--profile", "barnenkat"]
    result = CliRunner().invoke(app, [*args, "--into", str(target), "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert dataset.has_table(target, "child_survey")
    bad = CliRunner().invoke(
        app,
        [
            "ingest",
            str(exports["dir"] / "barnenkat.csv"),
            "--profile",
            "treserva",
            "--into",
            str(target),
            "--key-file",
            str(key_file),
        ],
    )
    assert bad.exit_code == 2
