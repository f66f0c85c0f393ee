"""Ingest of municipal exports: formats, profiles, validation, quarantine, pseudonyms, provenance.

Every export fixture is made here from the synthetic data through a profile
(:func:`workbench.ingest.exports.export_frame`): synthetic personnummer, no real person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.dataset import load_registrations, read_manifest, read_table
from workbench.ingest.core import IngestError, ingest
from workbench.ingest.exports import export_frame, write_csv, write_xlsx
from workbench.ingest.profile import load_profile
from workbench.ingest.read import ExportError
from workbench.pseudonym import init_key, luhn_check_digit

KOMMUNER = ["2281", "2262"]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory):
    return init_key(tmp_path_factory.mktemp("keys") / "test.key")


@pytest.fixture(scope="module")
def source(small_dataset: Path) -> pd.DataFrame:
    """Canonical registrations of two municipalities (a few hundred rows)."""
    return load_registrations(small_dataset, kommuner=KOMMUNER)


@pytest.fixture(scope="module")
def treserva():
    return load_profile("treserva")


@pytest.fixture(scope="module")
def export(source: pd.DataFrame, treserva) -> pd.DataFrame:
    return export_frame(source, treserva, seed=7)


def _run(tmp: Path, files, key, profile="treserva", **kw):
    out = tmp / "out"
    return ingest(files, profile=profile, out_dir=out, key=key, **kw), out


def _table_hashes(out: Path) -> dict[str, str]:
    return {k: v["sha256"] for k, v in read_manifest(out).content["tables"].items()}


def _all_bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- round trip -----------------------------------------------------------------------------------


def test_ingest_round_trip_recovers_the_canonical_values(tmp_path, export, source, key):
    f = write_csv(export, tmp_path / "treserva.csv", encoding="cp1252", delimiter=";")
    res, out = _run(tmp_path, [f], key)
    assert res.balanced and res.written
    reg = read_table(out, "registrations")
    assert len(reg) == len(source) == res.rows_accepted
    assert res.n_errors == 0, res.problems.query("allvarlighet == 'fel'").head()
    for var in ("registreringstyp", "maluppfyllelse", "riskbedomning", "avslutsorsak"):
        pd.testing.assert_series_equal(
            reg[var].value_counts(dropna=False).sort_index(),
            source[var].value_counts(dropna=False).sort_index(),
            check_names=False,
        )
    for col in ("identifierad_utsatthet__bevittnat_vald", "grundproblematik__annat"):
        assert reg[col].sum() == source[col].sum()
        assert reg[col].isna().sum() == source[col].isna().sum()
    assert sorted(reg["registreringsdatum"]) == sorted(source["registreringsdatum"])
    ins = read_table(out, "interventions")
    assert len(ins) == source["insats_id"].nunique()
    assert (
        ins["insatstyp"]
        .value_counts()
        .sort_index()
        .equals(source.drop_duplicates("insats_id")["insatstyp"].value_counts().sort_index())
    )
    chi = read_table(out, "children")
    assert len(chi) == source["barn_id"].nunique()
    src_sex = source.drop_duplicates("barn_id")["kon"].value_counts().sort_index()
    assert chi["kon"].value_counts().sort_index().equals(src_sex)
    # derived age equals the source's age (birth dates were made consistent with it)
    merged = reg.sort_values(["registreringsdatum", "registreringstyp"]).reset_index(drop=True)
    assert merged["alder"].between(0, 20).all()
    assert (reg["ar"] == reg["registreringsdatum"].dt.year).all()
    assert reg["aldersgrupp"].notna().all()
    # ids are pseudonyms, never the source's
    assert reg["barn_id"].str.fullmatch(r"B[0-9a-f]{16}").all()
    assert not set(reg["barn_id"]) & set(source["barn_id"])


def test_ingest_cp1252_semicolon_equals_its_utf8_twins(tmp_path, export, key):
    hashes = []
    for i, (enc, delim) in enumerate(
        [("cp1252", ";"), ("utf-8", ";"), ("utf-8-sig", ";"), ("utf-16", ";")]
    ):
        d = tmp_path / str(i)
        d.mkdir()
        f = write_csv(export, d / "export.csv", encoding=enc, delimiter=delim)
        res, out = _run(d, [f], key)
        assert res.written
        hashes.append(_table_hashes(out))
    assert all(h == hashes[0] for h in hashes)


def test_ingest_excel_dates_and_serials_equal_the_csv(tmp_path, export, key, treserva):
    date_cols = [
        treserva.columns[v][0]
        for v in treserva.date_variables(
            __import__("workbench.catalogue", fromlist=["x"]).load_catalogue()
        )
        if treserva.columns[v][0] in export
    ]
    results = []
    for name, serial in (("dates", False), ("serials", True)):
        d = tmp_path / name
        d.mkdir()
        f = write_xlsx(export, d / "export.xlsx", date_columns=date_cols, serial_dates=serial)
        res, out = _run(d, [f], key)
        assert res.written and res.n_errors == 0
        results.append(_table_hashes(out))
    d = tmp_path / "csv"
    d.mkdir()
    res, out = _run(d, [write_csv(export, d / "e.csv")], key)
    assert results[0] == results[1] == _table_hashes(out)


def test_ingest_label_variants_map_to_one_code(tmp_path, export, key):
    e = export.copy()
    variants = ["Flicka", "F", "2", "flicka ", " FLICKA"]
    girls = e.index[e["Kön"] == "Flicka"]
    assert len(girls) >= len(variants)
    for i, idx in enumerate(girls):
        e.loc[idx, "Kön"] = variants[i % len(variants)]
    f = write_csv(e, tmp_path / "e.csv")
    res, out = _run(tmp_path, [f], key)
    assert res.n_errors == 0
    chi = read_table(out, "children")
    base = tmp_path / "base"
    base.mkdir()
    _, out0 = _run(base, [write_csv(export, base / "e.csv")], key)
    assert chi["kon"].value_counts().equals(read_table(out0, "children")["kon"].value_counts())


# -- structural rows, duplicates, counts ------------------------------------------------------------


def test_ingest_counts_structural_rows_and_duplicates(tmp_path, export, key):
    e = export.head(40)
    header = ";".join(e.columns)
    body = e.to_csv(sep=";", index=False, header=False, lineterminator="\n").splitlines()
    lines = [
        header,
        *body[:20],
        "",
        header,
        *body[20:],
        body[3],
        body[3],
        ";" * (len(e.columns) - 1),
    ]
    lines.append("Totalt;99")
    f = tmp_path / "e.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res, out = _run(tmp_path, [f], key)
    r = res.files.iloc[0]
    assert r["dubbletter"] == 2
    assert r["tomma_rader"] == 2 and r["upprepade_rubriker"] == 1 and r["summarader"] == 1
    assert (
        r["rader_lasta"] == r["accepterade"] + r["karantan"] + r["dubbletter"] + r["strukturrader"]
    )
    assert r["accepterade"] == 40
    assert "stated_total_mismatch" in set(res.problems["regel"])


def test_ingest_conflicting_duplicates_are_quarantined(tmp_path, export, key):
    e = export.head(30).copy()
    twin = e.iloc[[5]].copy()
    twin["Måluppfyllelse"] = "Inte alls" if e.iloc[5]["Måluppfyllelse"] != "Inte alls" else "Helt"
    e = pd.concat([e, twin], ignore_index=True)
    res, _ = _run(tmp_path, [write_csv(e, tmp_path / "e.csv")], key, accept_quarantine=True)
    q = res.problems[res.problems["regel"] == "conflicting_duplicate"]
    assert len(q) == 2 and res.rows_quarantined == 2 and res.balanced


# -- identifiers -------------------------------------------------------------------------------------


def _bad_luhn(pnr: str) -> str:
    digits = re.sub(r"\D", "", pnr)
    wrong = (int(digits[-1]) + 1) % 10
    return pnr[:-1] + str(wrong)


def test_ingest_bad_personnummer_are_quarantined_and_masked(tmp_path, export, key):
    e = export.head(50).copy()
    col = "Personnummer"
    planted = {
        0: _bad_luhn(e.loc[0, col]),
        1: "21" + re.sub(r"\D", "", e.loc[1, col])[2:],  # born in the 2100s: in the future
        2: re.sub(r"\D", "", e.loc[2, col])[3:],  # 9 digits: leading zero dropped
        3: "19991399-1234",
        4: "",
    }
    for i, v in planted.items():
        e.loc[i, col] = v
    f = write_csv(e, tmp_path / "e.csv")
    res, out = _run(tmp_path, [f], key)
    assert not res.written and not (out / "manifest.json").exists()
    pn = res.problems[res.problems["regel"] == "personnummer"]
    assert set(pn["rad"]) == {2, 3, 4, 5, 6}  # header is row 1
    assert res.rows_quarantined == 5 and res.balanced
    q = pd.read_csv(res.report_dir / "quarantine.csv", sep=";", dtype=str, encoding="utf-8-sig")
    assert len(q) == 5 and q["regler"].str.contains("personnummer").all()
    text = "".join(p.read_text(encoding="utf-8-sig") for p in res.report_dir.iterdir())
    for v in planted.values():
        if v:
            assert v not in text
    # with --accept-quarantine the accepted rows are written
    res2, out2 = _run(tmp_path / "acc", [f], key, accept_quarantine=True)
    assert res2.written and len(read_table(out2, "registrations")) == 45


def test_ingest_rejects_a_file_with_identifiers_in_scientific_notation(tmp_path, export, key):
    e = export.head(10).copy()
    e.loc[3, "Personnummer"] = "1,91212E+11"
    f = write_csv(e, tmp_path / "e.csv")
    with pytest.raises(ExportError, match="rad 5.*Personnummer"):
        _run(tmp_path, [f], key)
    assert not (tmp_path / "out").exists()


def test_ingest_outputs_never_contain_identifiers_or_ignored_columns(
    tmp_path, export, key, caplog
):
    e = export.copy()
    e["Barnets namn"] = [f"Kanariefågel-{i} Testsson" for i in range(len(e))]
    e["Fritext om barnet"] = "CANARY-free-text"
    f = write_csv(e, tmp_path / "e.csv", encoding="cp1252")
    with caplog.at_level("DEBUG"):
        res, out = _run(tmp_path, [f], key, accept_quarantine=True)
    secrets = set(e["Personnummer"]) | set(e["Insats-id"]) | set(e["Registrerings-id"])
    secrets |= {re.sub(r"\D", "", s) for s in e["Personnummer"]}
    secrets |= {re.sub(r"\D", "", s)[2:] for s in e["Personnummer"]}
    blobs = [caplog.text.encode()]
    for folder in (out, res.report_dir):
        blobs += list(_all_bytes(folder).values())
    for p in out.glob("*.parquet"):
        blobs.append(pd.read_parquet(p).to_csv().encode())
    joined = b"\n".join(blobs)
    assert b"Kanarief" not in joined and b"CANARY" not in joined
    for s in secrets:
        assert s.encode() not in joined, "an identifier leaked"
    assert "Fritext om barnet" in set(
        res.problems.loc[res.problems["regel"] == "column_not_read", "kolumn"]
    )


def test_ingest_key_is_required_and_changes_pseudonyms(tmp_path, export, monkeypatch):
    from workbench.pseudonym import PseudonymKeyError

    f = write_csv(export.head(20), tmp_path / "e.csv")
    monkeypatch.delenv("WORKBENCH_KEY", raising=False)
    monkeypatch.setenv("WORKBENCH_KEY_FILE", str(tmp_path / "nokey"))
    with pytest.raises(PseudonymKeyError, match="key init"):
        ingest([f], profile="treserva", out_dir=tmp_path / "o")
    k1, k2 = init_key(tmp_path / "k1"), init_key(tmp_path / "k2")
    ingest([f], profile="treserva", out_dir=tmp_path / "o1", key=k1)
    ingest([f], profile="treserva", out_dir=tmp_path / "o2", key=k2)
    a, b = read_table(tmp_path / "o1", "children"), read_table(tmp_path / "o2", "children")
    assert len(a) == len(b) and not set(a["barn_id"]) & set(b["barn_id"])
    assert read_manifest(tmp_path / "o1").content["ingest"]["key_id"] == k1.key_id


# -- cross-field rules ---------------------------------------------------------------------------------


def test_ingest_cross_field_rules_give_errors_and_warnings(tmp_path, export, key):
    e = export.head(60).copy()
    ending = e.index[_is_ending(e)]
    follow = e.index[~_is_ending(e)]
    assert len(ending) >= 2 and len(follow) >= 3
    # reason for ending on a follow-up
    e.loc[follow[0], "Avslutsorsak"] = "Avslutad enligt plan"
    # impossible date order
    e.loc[follow[1], "Utredning slut"] = "1999-01-01"
    e.loc[follow[1], "Utredning start"] = "2000-01-01"
    # LVU 2 for an 18+ year old: make the child old (born 20 years before the registration)
    i = follow[2]
    e.loc[i, "Lagrum"] = "LVU 2 §"
    reg_year = int(e.loc[i, "Registreringsdatum"][:4])
    e.loc[i, "Personnummer"] = _pnr(dt.date(reg_year - 19, 1, 1))
    # ending without reason: warning only
    e.loc[ending[0], "Avslutsorsak"] = ""
    f = write_csv(e, tmp_path / "e.csv")
    res, _ = _run(tmp_path, [f], key, accept_quarantine=True)
    rules = res.problems.groupby("regel")["allvarlighet"].first().to_dict()
    assert rules["reason_without_ending"] == "fel"
    assert rules["date_order"] == "fel"
    assert rules["lvu2_over_18"] == "fel"
    assert rules["ending_without_reason"] == "varning"
    assert res.rows_quarantined == 3 and res.balanced


def _is_ending(e: pd.DataFrame) -> pd.Series:
    return e["Registreringstyp"].str.casefold().str.startswith("avslut")


def _pnr(birth: dt.date, serial: str = "123") -> str:
    nine = birth.strftime("%y%m%d") + serial
    return birth.strftime("%Y%m%d") + "-" + serial + str(luhn_check_digit(nine))


def test_ingest_second_ending_of_one_intervention_is_an_error(tmp_path, export, key):
    e = export.copy()
    endings = e[_is_ending(e)].head(1)
    twin = endings.copy()
    twin["Registreringsdatum"] = (
        pd.to_datetime(twin["Registreringsdatum"]) + pd.Timedelta(days=3)
    ).dt.strftime("%Y-%m-%d")
    twin["Registrerings-id"] = "REG-EXTRA-1"
    e = pd.concat([e, twin], ignore_index=True)
    res, _ = _run(tmp_path, [write_csv(e, tmp_path / "e.csv")], key, accept_quarantine=True)
    second = res.problems[res.problems["regel"] == "second_ending"]
    assert len(second) == 1 and int(second["rad"].iloc[0]) == len(e) + 1


def test_ingest_unknown_codes_are_listed_with_counts_and_closest(tmp_path, export, key):
    e = export.copy()
    e.loc[e.index[:3], "Insatstyp"] = "Famijehem"
    res, _ = _run(tmp_path, [write_csv(e, tmp_path / "e.csv")], key, accept_quarantine=True)
    u = res.unknown_codes
    row = u[(u["variabel"] == "insatstyp") & (u["varde"] == "Famijehem")]
    assert int(row["antal"].iloc[0]) == 3 and "familjehem" in row["narmast"].iloc[0]


def test_ingest_dates_in_undeclared_day_month_form_are_refused(tmp_path, export, key):
    e = export.head(20).copy()
    e["Registreringsdatum"] = pd.to_datetime(e["Registreringsdatum"]).dt.strftime("%d/%m/%Y")
    f = write_csv(e, tmp_path / "e.csv")
    with pytest.raises(IngestError, match="date_format"):
        _run(tmp_path, [f], key)  # no date readable: the reference date is unknown
    res, _ = _run(tmp_path, [f], key, reference_date=dt.date(2026, 1, 1))
    assert "date_invalid" in set(res.problems["regel"]) or "date_format_undeclared" in set(
        res.problems["regel"]
    )
    assert not res.written


# -- profiles --------------------------------------------------------------------------------------


def test_ingest_wrong_profile_names_the_better_one(tmp_path, export, key):
    f = write_csv(export.head(10), tmp_path / "e.csv")
    with pytest.raises(IngestError, match="treserva"):
        ingest([f], profile="lifecare", out_dir=tmp_path / "o", key=key)


@pytest.mark.parametrize("name", ["lifecare", "viva", "combine", "uppfoljningsenkat"])
def test_ingest_every_bundled_profile_round_trips(tmp_path, source, key, name):
    prof = load_profile(name)
    e = export_frame(source, prof, seed=3, labels="code" if name == "combine" else "sv")
    delim = {"viva": "\t", "combine": ","}.get(name, ";")
    f = write_csv(e, tmp_path / "e.csv", delimiter=delim)
    kw = {} if prof.kommun_column else {"kommun": KOMMUNER[0]}
    res, out = _run(tmp_path, [f], key, profile=name, accept_quarantine=True, **kw)
    assert res.balanced
    errors = res.problems[res.problems["allvarlighet"] == "fel"]
    if "insats" in prof.identifiers:
        assert errors.empty, errors[["regel", "kolumn"]].head()
        expected = len(source)
    else:  # without an intervention id, a row without a start date cannot be placed
        assert set(errors["regel"]) <= {"insats_unidentified"}
        expected = len(source) - int(source["insats_start"].isna().sum())
    assert len(read_table(out, "registrations")) == expected == res.rows_accepted


def test_profile_suggest_maps_columns_and_lists_unknown_values(tmp_path, export):
    from workbench.ingest.suggest import suggest_profile

    e = export.head(50).copy()
    e["Barnets namn"] = "Test Testsson"
    e.loc[e.index[:2], "Insatstyp"] = "Helt okänd insats"
    f = write_csv(e, tmp_path / "e.csv")
    s = suggest_profile(f, name="min-export")
    assert s.profile["identifiers"]["personnummer"] == ["Personnummer"]
    assert s.profile["columns"]["insatstyp"] == ["Insatstyp"]
    assert s.profile["file"]["delimiter"] == ";"
    assert "Barnets namn" in s.profile["ignore"]
    assert "Helt okänd insats" in set(s.unmapped_values["varde"])
    (tmp_path / "p.yaml").write_text(s.yaml_text, encoding="utf-8")
    prof = load_profile(tmp_path / "p.yaml")
    assert prof.name == "min-export"


# -- files, provenance, idempotence -------------------------------------------------------------------


def test_ingest_empty_and_header_only_files(tmp_path, export, key):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ExportError):
        _run(tmp_path, [empty], key)
    header = write_csv(export.head(0), tmp_path / "header.csv")
    with pytest.raises(IngestError, match="reference-date"):
        _run(tmp_path, [header], key)
    res, out = _run(tmp_path, [header], key, reference_date=dt.date(2024, 1, 1))
    assert res.rows_read == 0 and res.written
    assert len(read_table(out, "registrations")) == 0


def test_ingest_manifest_records_provenance_and_reruns_byte_identically(tmp_path, export, key):
    a = write_csv(export.head(80), tmp_path / "a.csv", encoding="cp1252")
    b = write_csv(export.iloc[80:], tmp_path / "b.csv")
    res, out = _run(tmp_path, [a, b], key)
    m = read_manifest(out).content
    files = {f["fil"]: f for f in m["ingest"]["files"]}
    assert files["a.csv"]["sha256"] == hashlib.sha256(a.read_bytes()).hexdigest()
    assert files["b.csv"]["storlek"] == b.stat().st_size
    assert m["ingest"]["profile"]["name"] == "treserva" and m["catalogue_version"]
    assert m["package_version"] and m["ingest"]["ingested_at"]
    first = {**_all_bytes(out), **{f"r/{k}": v for k, v in _all_bytes(res.report_dir).items()}}
    res2, _ = _run(tmp_path, [b, a], key)  # order of the files does not matter
    again = {**_all_bytes(out), **{f"r/{k}": v for k, v in _all_bytes(res2.report_dir).items()}}
    assert first == again
    assert (out / "registrations.parquet").stat().st_mode & 0o077 == 0


def test_ingest_failure_leaves_the_previous_dataset_untouched(tmp_path, export, key):
    good = write_csv(export.head(30), tmp_path / "good.csv")
    _, out = _run(tmp_path, [good], key)
    before = _all_bytes(out)
    e = export.head(30).copy()
    e.loc[0, "Personnummer"] = "not a number"
    bad = write_csv(e, tmp_path / "bad.csv")
    res, _ = _run(tmp_path, [bad], key)
    assert not res.written and _all_bytes(out) == before


def test_ingest_report_is_swedish_html_without_scripts(tmp_path, export, key):
    res, _ = _run(tmp_path, [write_csv(export.head(30), tmp_path / "e.csv")], key)
    html = (res.report_dir / "ingest-report.html").read_text(encoding="utf-8")
    assert '<html lang="sv">' in html and "<script" not in html
    assert "http:" not in html and "https:" not in html
    assert "Lästa rader" in html and "Ifyllnadsgrad" in html
    md = (res.report_dir / "ingest-report.md").read_text(encoding="utf-8")
    assert f"lästa {res.rows_read} = accepterade {res.rows_accepted}" in md


def test_ingested_data_feed_the_report_layer(tmp_path, export, key):
    from workbench.params import load_settings
    from workbench.views import FollowUpReport

    _, out = _run(tmp_path, [write_csv(export, tmp_path / "e.csv")], key)
    settings = load_settings(kommun=KOMMUNER[0], data_dir=str(out), period="2016-2025")
    rep = FollowUpReport.load(settings)
    assert rep.n_own > 0
    assert "<table" in rep.registrations_by_year()._repr_html_()


# -- CLI ----------------------------------------------------------------------------------------------


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_cli_key_init_and_ingest_exit_codes(tmp_path, export):
    env = {"WORKBENCH_KEY_FILE": str(tmp_path / "cfg" / "pseudonym.key")}
    r = _cli("key", "init", env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cfg" / "pseudonym.key").stat().st_mode & 0o777 == 0o600
    e = export.head(30).copy()
    e.loc[0, "Personnummer"] = _bad_luhn(e.loc[0, "Personnummer"])
    f = write_csv(e, tmp_path / "e.csv")
    out = tmp_path / "out"
    r = _cli("ingest", str(f), "--profile", "treserva", "--out", str(out), env=env)
    assert r.returncode == 1 and "karantän" in r.stderr
    assert e.loc[0, "Personnummer"] not in r.stdout + r.stderr
    r = _cli(
        "ingest",
        str(f),
        "--profile",
        "treserva",
        "--out",
        str(out),
        "--accept-quarantine",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    r = _cli("ingest", str(f), "--profile", "nosuchprofile", "--out", str(out), env=env)
    assert r.returncode == 2 and "treserva" in r.stderr


# -- conservation (property-based) ------------------------------------------------------------------


def test_ingest_conserves_rows_for_any_mix_of_valid_and_invalid(tmp_path_factory, export, key):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    base = export.head(40).reset_index(drop=True)
    breakers = {
        "pnr": lambda r: r.__setitem__("Personnummer", _bad_luhn(r["Personnummer"])),
        "code": lambda r: r.__setitem__("Insatstyp", "Ingen sådan"),
        "date": lambda r: r.__setitem__("Registreringsdatum", "2021-13-45"),
        "blank": None,
        "dup": None,
    }

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(["ok", *breakers]), min_size=1, max_size=40))
    def check(kinds):
        rows, blanks = [], 0
        for i, kind in enumerate(kinds):
            r = base.iloc[i % len(base)].copy()
            if kind == "blank":
                blanks += 1
                rows.append(pd.Series({c: "" for c in base.columns}))
                continue
            if kind in ("pnr", "code", "date"):
                breakers[kind](r)
            rows.append(r)
            if kind == "dup":
                rows.append(r.copy())
        frame = pd.DataFrame(rows).reset_index(drop=True)
        d = tmp_path_factory.mktemp("prop")
        f = write_csv(frame, d / "e.csv")
        if frame["Registreringsdatum"].replace("", np.nan).isna().all():
            return
        res, _ = _run(d, [f], key, accept_quarantine=True, reference_date=dt.date(2026, 1, 1))
        r0 = res.files.iloc[0]
        assert r0["rader_lasta"] == len(frame)
        assert res.balanced
        assert r0["tomma_rader"] == blanks

    check()


def test_ingest_summary_json_is_machine_readable(tmp_path, export, key):
    res, _ = _run(tmp_path, [write_csv(export.head(30), tmp_path / "e.csv")], key)
    s = json.loads((res.report_dir / "ingest.json").read_text(encoding="utf-8"))
    assert (
        s["rows"]["read"]
        == s["rows"]["accepted"]
        + s["rows"]["quarantined"]
        + s["rows"]["duplicates"]
        + s["rows"]["structural"]
    )


def test_ingest_conflicting_background_uses_the_latest_value_and_warns(tmp_path, export, key):
    e = export.copy()
    pnr = e["Personnummer"].value_counts()
    child = pnr.index[pnr >= 2][0]
    rows = e.index[e["Personnummer"] == child]
    dates = pd.to_datetime(e.loc[rows, "Registreringsdatum"])
    first, last = dates.idxmin(), dates.idxmax()
    e.loc[rows, "Födelselandsgrupp"] = "Sverige"
    e.loc[last, "Födelselandsgrupp"] = "Norden utom Sverige"
    res, out = _run(tmp_path, [write_csv(e, tmp_path / "e.csv")], key)
    warn = res.problems[res.problems["regel"] == "child_conflict"]
    assert set(warn["kolumn"]) == {"ursprung"}
    assert set(warn["rad"]) == {int(i) + 2 for i in rows if i != last}
    assert first != last
    from workbench.pseudonym import pseudonymise

    canonical = pd.Series([re.sub(r"\D", "", child)])
    barn_id = pseudonymise(canonical, key, domain="barn", prefix="B").iloc[0]
    chi = read_table(out, "children").set_index("barn_id")
    assert chi.loc[barn_id, "ursprung"] == "norden"


def test_ingest_reads_decimal_comma_whole_numbers_and_rejects_fractions(tmp_path, export, key):
    e = export.head(30).copy()
    e["Födelseår"] = e["Födelseår"] + ",0"  # "2009,0": a whole number written by a spreadsheet
    e.loc[0, "Födelseår"] = "2009,5"
    res, out = _run(tmp_path, [write_csv(e, tmp_path / "e.csv")], key, accept_quarantine=True)
    bad = res.problems[res.problems["regel"] == "integer_invalid"]
    assert list(bad["rad"]) == [2] and list(bad["kolumn"]) == ["fodelsear"]
    assert res.rows_quarantined == 1
    assert "birth_year_differs_from_pnr" not in set(res.problems["regel"])  # 2009,0 == 2009


@pytest.mark.parametrize("ids", ["plain", "pseudonyms"])
def test_ingest_rereferral_equals_a_brute_force_oracle(ids: str):
    """_rereferral (sorted keys + searchsorted) against a plain loop over every ending."""
    from workbench.ingest.core import _rereferral

    rng = np.random.default_rng(5)
    n_ins = 400
    start = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 2000, n_ins), unit="D")
    ins = pd.DataFrame(
        {
            "insats_id": [f"I{i:03d}" for i in range(n_ins)],
            "barn_id": [f"B{i:02d}" for i in rng.integers(0, 60, n_ins)],
            "aktualiseringsdatum": (
                start - pd.to_timedelta(rng.integers(0, 60, n_ins), unit="D")
            ).where(rng.random(n_ins) > 0.2),
            "insats_start": start,
            "insats_slut": (start + pd.to_timedelta(rng.integers(1, 700, n_ins), unit="D")).where(
                rng.random(n_ins) > 0.3
            ),
        }
    )
    reg = ins.sample(300, replace=True, random_state=1)[["insats_id", "barn_id"]].copy()
    reg["registreringsdatum"] = ins.set_index("insats_id").loc[
        reg["insats_id"], "insats_start"
    ].to_numpy() + pd.Timedelta(days=30)
    reg["registreringstyp"] = np.where(rng.random(len(reg)) < 0.6, "avslut", "uppfoljning")
    reg = reg.reset_index(drop=True)
    if ids == "pseudonyms":  # the pipeline's ids: the join runs on their 64-bit numbers
        from workbench.pseudonym import PseudonymKey, pseudonymise

        k = PseudonymKey(bytes(range(32)))
        for col, prefix in (("insats_id", "I"), ("barn_id", "B")):
            ins[col] = pseudonymise(ins[col].astype("str"), k, domain="t", prefix=prefix)
            reg[col] = pseudonymise(reg[col].astype("str"), k, domain="t", prefix=prefix)
    data_end = pd.Timestamp("2023-06-30")
    got = _rereferral(reg, ins, data_end)
    opened = ins["aktualiseringsdatum"].fillna(ins["insats_start"])
    for i, r in reg.iterrows():
        if r["registreringstyp"] != "avslut":
            assert pd.isna(got[i])
            continue
        own = ins[ins["insats_id"] == r["insats_id"]].iloc[0]
        end = own["insats_slut"] if pd.notna(own["insats_slut"]) else r["registreringsdatum"]
        limit = end + pd.DateOffset(months=12)
        if limit > data_end:
            assert pd.isna(got[i])
            continue
        others = (ins["barn_id"] == r["barn_id"]) & (ins["insats_id"] != r["insats_id"])
        expected = bool(((opened > end) & (opened <= limit) & others).any())
        assert bool(got[i]) == expected, (i, expected)


# -- integer fast paths of the pipeline (pseudonyms as 64-bit numbers) -----------------------------


def _pseudonyms(n: int, prefix: str, seed: int, distinct: int | None = None) -> pd.Series:
    """Synthetic pseudonyms made by the real function (repeats when ``distinct`` < ``n``)."""
    from workbench.pseudonym import PseudonymKey, pseudonymise

    rng = np.random.default_rng(seed)
    raw = pd.Series([f"id-{v}" for v in rng.integers(0, distinct or 10**9, n)], dtype="str")
    return pseudonymise(raw, PseudonymKey(bytes(range(32))), domain="t", prefix=prefix)


def test_pseudonym_numbers_sort_and_compare_exactly_as_the_texts():
    from workbench.ingest.core import _pseudonym_numbers

    ids = _pseudonyms(3000, "R", seed=1, distinct=1500)
    numbers = _pseudonym_numbers(ids)
    assert numbers is not None and numbers.dtype == np.uint64
    text_order = ids.reset_index(drop=True).sort_values(kind="stable").index.to_numpy()
    assert (np.argsort(numbers, kind="stable") == text_order).all()
    same_number = numbers[:, None] == numbers[None, :300]
    same_text = ids.to_numpy()[:, None] == ids.to_numpy()[None, :300]
    assert (same_number == same_text).all()
    # a slice keeps its offset into the parent's buffers
    assert (_pseudonym_numbers(ids.iloc[100:200]) == numbers[100:200]).all()
    # anything that is not a column of one-prefix pseudonyms falls back (None)
    for other in (
        pd.concat([ids.iloc[:5], _pseudonyms(5, "B", seed=2)]),  # two prefixes
        pd.Series([*ids.iloc[:5], None], dtype="str"),  # missing
        pd.Series([v.upper() for v in ids.iloc[:5]], dtype="str"),  # not lowercase hex
        pd.Series(["R123", "R456"], dtype="str"),  # wrong length
        pd.Series(["2281", "0180"], dtype="str"),
        pd.Series([], dtype="str"),
    ):
        assert _pseudonym_numbers(other) is None


def test_sorted_positions_equal_a_stable_pandas_sort():
    from workbench.ingest.core import _sorted_positions

    rng = np.random.default_rng(3)
    n = 2000
    dates = pd.Series(pd.Timestamp("1965-01-01") + pd.to_timedelta(rng.integers(0, 30000, n), "D"))
    df = pd.DataFrame(
        {
            "kommun": pd.Series(rng.choice(["2281", "0180", "2262"], n), dtype="str").where(
                rng.random(n) > 0.05
            ),
            "datum": dates.where(rng.random(n) > 0.05).dt.floor("365D"),  # ties, NaT, pre-1970
            "id": _pseudonyms(n, "R", seed=4, distinct=900),  # ties
            "text": pd.Series(rng.choice(["b", "a", "c", "ab"], n), dtype="str"),  # fallback
            "tal": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        }
    )
    df.loc[rng.random(n) < 0.05, "tal"] = pd.NA
    for by in (
        ["kommun", "datum", "id"],
        ["kommun", "id"],
        ["id"],
        ["text", "tal"],
        ["datum", "text", "id"],
    ):
        expected = df.sort_values(by, kind="stable").index.to_numpy()
        assert (_sorted_positions(df, by) == expected).all(), by


def test_positions_in_equals_index_get_indexer():
    from workbench.ingest.core import _positions_in

    hay = _pseudonyms(500, "I", seed=5).drop_duplicates().reset_index(drop=True)
    absent = _pseudonyms(20, "I", seed=6)
    needles = pd.concat([hay.sample(300, replace=True, random_state=1), absent], ignore_index=True)
    expected = pd.Index(hay).get_indexer(needles)
    assert (_positions_in(hay, needles) == expected).all()
    assert (expected[-20:] == -1).all()
    # other prefix with the same hex digits: absent, as in the text
    other = pd.Series(["B" + v[1:] for v in hay.iloc[:10]], dtype="str")
    assert (_positions_in(hay, other) == -1).all()
    plain = pd.Series(["a", "b", "c"], dtype="str")
    assert _positions_in(plain, pd.Series(["c", "x"], dtype="str")).tolist() == [2, -1]


@pytest.mark.parametrize("key_kind", ["pseudonym", "text"])
def test_latest_equals_a_plain_loop_oracle(key_kind: str):
    """_latest (integer codes, one pass per column) against a loop over every group."""
    from workbench.ingest.core import _latest, _Stage

    rng = np.random.default_rng(8)
    n = 600
    key = (
        _pseudonyms(n, "B", seed=9, distinct=80)
        if key_kind == "pseudonym"
        else pd.Series([f"k{v}" for v in rng.integers(0, 80, n)], dtype="str")
    )
    gap = rng.random((5, n)) < 0.3
    df = pd.DataFrame(
        {
            "_fil": "f.csv",
            "_rad": np.arange(2, n + 2),
            "barn_id": key,
            "kon": pd.Categorical(rng.choice(["flicka", "pojke"], n), ["flicka", "pojke"]),
            "start": pd.Series(  # dates before and after 1970, NaT
                pd.Timestamp("1960-01-01") + pd.to_timedelta(rng.integers(0, 3, n) * 9000, "D")
            ).astype("datetime64[ns]"),
            "fodelsear": pd.array(rng.integers(2005, 2008, n), dtype="Int64"),
            "ensam": pd.array(rng.random(n) < 0.5, dtype="boolean"),
            "ursprung": pd.Series(rng.choice(["sverige", "europa"], n), dtype="str"),
        }
    )
    for j, c in enumerate(["kon", "start", "fodelsear", "ensam", "ursprung"]):
        df[c] = df[c].mask(gap[j])
    rank = rng.permutation(n)
    cols = ["kon", "start", "fodelsear", "ensam", "ursprung"]
    conflicts: list = []
    got = _latest(df, "barn_id", cols, conflicts, "child_conflict", rank)
    stage = _Stage(df, pd.Series(False, index=df.index), [])
    for rule, mask, col in conflicts:
        assert rule == "child_conflict"
        stage.flag(rule, pd.Series(mask, index=df.index), kolumn=col)

    flagged = {
        (c, int(r)) for p in stage.found for c, r in zip(p["kolumn"], p["rad"], strict=True)
    }
    expected_flags = set()
    groups = sorted(df["barn_id"].unique())
    assert got["barn_id"].tolist() == groups
    for g_i, g in enumerate(groups):
        rows = np.flatnonzero((df["barn_id"] == g).to_numpy())
        for c in cols:
            present = [r for r in rows if pd.notna(df[c].iat[r])]
            value = got[c].iat[g_i]
            if not present:
                assert pd.isna(value), (g, c)
                continue
            latest = max(present, key=lambda r: rank[r])
            assert value == df[c].iat[latest], (g, c)
            expected_flags |= {
                (c, int(df["_rad"].iat[r])) for r in present if df[c].iat[r] != df[c].iat[latest]
            }
    assert flagged == expected_flags
    assert (got.dtypes[cols] == df.dtypes[cols]).all()


@pytest.mark.parametrize("with_id", [True, False])
def test_exact_duplicates_equal_pandas_duplicated(with_id: bool):
    from workbench.ingest.core import _exact_duplicates

    rng = np.random.default_rng(11)
    n = 400
    df = pd.DataFrame(
        {
            "_id_personnummer": pd.Series(rng.choice(["p1", "p2", "p3"], n), dtype="str"),
            "_id_registrering": pd.Series(
                [f"R{v}" for v in rng.integers(0, 250, n)], dtype="str"
            ).where(rng.random(n) > 0.1),
            "registreringsdatum": pd.Series(
                rng.choice(["2024-01-01", "2024-02-01"], n), dtype="str"
            ),
            "kon": pd.Series(rng.choice(["Flicka", "Pojke", None], n), dtype="str"),
        }
    )
    copies = df.sample(80, random_state=2)
    copies.loc[copies.index[:20], "kon"] = "Annan"  # same keys, one column differs: not exact
    df = pd.concat([df, copies], ignore_index=True).sample(frac=1, random_state=3)
    df = df.reset_index(drop=True)
    if not with_id:
        df = df.drop(columns="_id_registrering")
    columns = list(df.columns)
    got = _exact_duplicates(df, columns)
    expected = df[columns].duplicated(keep="first")
    assert got.tolist() == expected.tolist()
    assert int(got.sum()) >= 60  # at least the copies left unchanged


def _broken(table: pd.DataFrame, how: str) -> pd.DataFrame:
    t = table.copy()
    if how == "id_pattern":
        t.loc[3, "barn_id"] = "B12345"
    elif how == "unknown_kommun":
        t.loc[0, "kommun"] = "9999"
    elif how == "age_out_of_range":
        t.loc[5, "alder"] = 21
    elif how == "duplicate_id":
        t.loc[7, "registrering_id"] = t.loc[8, "registrering_id"]
    elif how == "missing_id":
        t.loc[2, "insats_id"] = None
    elif how == "unknown_code":
        t.loc[4, "registreringstyp"] = "okand"
    elif how == "extra_column":
        t["namn"] = "x"
    elif how == "missing_column":
        t = t.drop(columns="maluppfyllelse")
    elif how == "wrong_dtype":
        t["alder"] = t["alder"].astype("float64")
    return t


@pytest.mark.parametrize(
    "how",
    [
        "id_pattern",
        "unknown_kommun",
        "age_out_of_range",
        "duplicate_id",
        "missing_id",
        "unknown_code",
        "extra_column",
        "missing_column",
        "wrong_dtype",
    ],
)
def test_dataset_validate_fast_pass_catches_what_pandera_catches(small_dataset, how):
    """The vectorised pass at write returns a valid table untouched; a broken one still fails
    with pandera's report (the same check names and counts as pandera alone)."""
    import pandera.pandas as pa

    from workbench.dataset import DatasetError, conform, schema, validate

    table = conform("registrations", read_table(small_dataset, "registrations").head(50))
    assert validate("registrations", table) is table
    broken = _broken(table, how)
    with pytest.raises(DatasetError, match="fails its schema") as caught:
        validate("registrations", broken)
    with pytest.raises(pa.errors.SchemaErrors) as by_pandera:
        schema("registrations").validate(broken, lazy=True)
    fc = by_pandera.value.failure_cases
    summary = fc.groupby(["column", "check"], dropna=False).size().reset_index(name="n")
    assert summary.to_string() in str(caught.value)


def test_prefetched_factorizations_equal_direct_ones_in_any_order():
    from workbench.ingest.core import _Prefetch
    from workbench.ingest.values import factorize

    rng = np.random.default_rng(21)
    frame = pd.DataFrame(
        {
            c: pd.Series(rng.choice(["a", "b", "ö", None], 1000), dtype="str")
            for c in ("x", "y", "z", "w")
        }
    )
    prefetch = _Prefetch(frame, ["x", "y", "z", "w"], depth=2)
    try:
        for name in ("x", "z", "y", "w", "x"):  # out of order, and once more than listed
            codes, uniques = prefetch.take(name)
            expected_codes, expected_uniques = factorize(frame[name])
            assert (codes == expected_codes).all()
            assert uniques.tolist() == expected_uniques.tolist()
    finally:
        prefetch.close()
