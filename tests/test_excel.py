"""The Excel appendix: structure, symbols, no comments or author names, publish zone, gate."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from workbench import excel, indicators
from workbench.compare import protect_case_counts
from workbench.disclosure import DisclosureRules, protect_linked
from workbench.municipalities import hierarchy
from workbench.params import load_settings
from workbench.release import ReleaseGateError, check_release


@pytest.fixture
def project(root, tmp_path, monkeypatch) -> Path:
    """A throw-away project folder (parameters and reference data) so nothing lands in the repo."""
    proj = tmp_path / "proj"
    for part in ("parameters", "data/reference"):
        shutil.copytree(root / part, proj / part)
    monkeypatch.setenv("WORKBENCH_ROOT", str(proj))
    return proj


@pytest.fixture
def report(project, small_dataset):
    from workbench.views_compare import ComparisonReport

    settings = load_settings(kommun="2281", data_dir=str(small_dataset))
    return ComparisonReport.load(settings)


def _sheets(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path)


def test_excel_appendix_has_contents_about_definitions_and_one_sheet_per_table(report, project):
    tables = report.excel_tables()
    path = excel.write_excel_appendix(report.settings, tables)
    assert path == project / "reports" / "2016-2025" / "2281-sundsvall-30-comparisons.xlsx"
    wb = _sheets(path)
    expected = ["Innehåll", "Om statistiken", "Definitioner"] + [
        f"Tabell {i}" for i in range(1, len(tables) + 1)
    ]
    assert wb.sheetnames == expected
    contents = [c.value for c in wb["Innehåll"]["A"] if c.value]
    for i, title in enumerate(tables, start=1):
        assert f"Tabell {i}. {title}" in contents
        assert wb[f"Tabell {i}"]["A1"].value == f"Tabell {i}. {title}"
    links = [c.hyperlink.location for c in wb["Innehåll"]["A"] if c.hyperlink]
    assert links == [f"'{name}'!A1" for name in expected[1:]]
    defs = [r[0] for r in wb["Definitioner"].iter_rows(min_row=4, values_only=True)]
    assert set(defs) == {i.title_sv for i in indicators.load_indicators()}
    about = " ".join(c.value for c in wb["Om statistiken"]["A"] if c.value)
    assert "Röjandekontroll" in about and "Wilson" in about and ".." in about


def test_excel_appendix_has_only_visible_sheets_no_comments_and_no_author(report):
    path = excel.write_excel_appendix(report.settings, report.excel_tables())
    wb = _sheets(path)
    assert all(ws.sheet_state == "visible" for ws in wb.worksheets)
    names = zipfile.ZipFile(path).namelist()
    assert not [n for n in names if "comment" in n.lower() or "pivot" in n.lower()]
    assert not [n for n in names if n.startswith(("xl/externalLinks", "xl/vba"))]
    core = zipfile.ZipFile(path).read("docProps/core.xml").decode()
    assert "<dc:creator>workbench</dc:creator>" in core
    assert "lastModifiedBy" not in core
    # document dates are the data extract's date, not the time of writing (reproducible)
    assert core.count("2025-12-31T00:00:00Z") == 2
    assert wb.properties.creator == "workbench"
    rels = "".join(zipfile.ZipFile(path).read(n).decode() for n in names if n.endswith(".rels"))
    assert 'TargetMode="External"' not in rels  # contents links point inside the workbook


def test_excel_appendix_passes_the_release_gate_without_findings(report):
    path = excel.write_excel_appendix(report.settings, report.excel_tables())
    gate = check_release([path], min_count=5)
    assert gate.clean, gate.to_frame().to_string()


def test_excel_appendix_is_byte_identical_on_a_rerun(report):
    first = excel.write_excel_appendix(report.settings, report.excel_tables()).read_bytes()
    second = excel.write_excel_appendix(report.settings, report.excel_tables()).read_bytes()
    assert first == second


def test_suppressed_cells_are_written_as_symbols(tmp_path):
    # 2280 has 2 of 6: counts 1-4 are suppressed (docs/disclosure.md) and must read "..".
    counts = pd.DataFrame(
        [
            {"kommun": k, "indikator": "maluppfyllelse_helt", "ar": 2020, "n": n, "denominator": d}
            for k, (n, d) in {"2262": (30, 100), "2281": (50, 100), "2280": (2, 6)}.items()
        ]
    )
    pt = protect_case_counts(
        indicators.linked_counts(counts, by_year=False), rules=DisclosureRules()
    )
    path = excel.write_workbook(
        tmp_path / "t.xlsx",
        {"Skyddad tabell": pt},
        heading="Test",
        subtitle="Test",
        about=["Test"],
        period="2020",
        created=pd.Timestamp("2025-12-31").to_pydatetime(),
        source="test",
    )
    ws = _sheets(path)["Tabell 1"]
    rows = list(ws.iter_rows(min_row=5, values_only=True))
    shown = pt.to_frame()
    suppressed_units = set(shown.loc[shown["n"].isna(), "enhet"])
    assert "2280" in suppressed_units
    data_rows = [r for r in rows if r[1] in set(shown["enhet"])]
    assert len(data_rows) == len(shown)
    n_of = {
        (u, g, c): n
        for u, g, c, n in zip(
            shown["enhet"], shown["variabel"], shown["kod"], shown["n"], strict=True
        )
    }
    for r in data_rows:
        expected = n_of[(r[1], r[2], r[3])]
        assert r[4] == (".." if pd.isna(expected) else int(expected))
    r2280 = [r for r in data_rows if r[1] == "2280"]
    assert r2280 and all(r[4] == ".." and r[6] == ".." for r in r2280)
    assert any(r[4] == 0 for r in data_rows)  # zero is shown as 0
    assert any(str(r[0]).startswith("Teckenförklaring") for r in rows)


def test_excel_refuses_tables_that_are_not_protected(tmp_path):
    frame = pd.DataFrame({"enhet": ["2281"], "n": [3]})
    with pytest.raises(TypeError, match="ProtectedTable"):
        excel.sheet_for("Oskyddad", frame, period="2020")
    with pytest.raises(TypeError, match="ProtectedTable"):
        excel.sheet_for("Oskyddad", excel.Subset(frame), period="2020")


def test_internal_appendix_goes_to_runs_never_to_reports(project, small_dataset):
    from workbench.views_compare import ComparisonReport

    settings = load_settings(kommun="2281", data_dir=str(small_dataset), audience="internal")
    rep = ComparisonReport.load(settings)
    path = excel.write_excel_appendix(settings, rep.excel_tables())
    assert path.parent == project / "runs" / "2016-2025" / "30-comparisons"
    assert path.name.endswith(".INTERNAL.xlsx")
    assert not (project / "reports").exists() or not list((project / "reports").rglob("*.xlsx"))
    assert _sheets(path)["Innehåll"]["A1"].value.startswith("INTERNT")
    assert (path.stat().st_mode & 0o077) == 0  # owner-only in the private zone


def test_public_appendix_rejected_by_the_gate_is_not_published(project, small_dataset):
    # A group name shaped like a pseudonymous id (dataset.ID_PATTERN) is an error for the gate.
    codes = hierarchy()
    counts = pd.DataFrame(
        {
            "kommun": list(codes["kommun"]) * 2,
            "variabel": "B0123456789abcdef",
            "kod": ["ja"] * len(codes) + ["nej"] * len(codes),
            "n": 10,
            "denominator": 20,
        }
    )
    lan = counts.assign(
        kommun=counts["kommun"].map(dict(zip(codes["kommun"], codes["lan"], strict=True)))
    )
    lan = lan.groupby(["kommun", "variabel", "kod"], as_index=False)[["n", "denominator"]].sum()
    nat = (
        lan.groupby(["variabel", "kod"], as_index=False)[["n", "denominator"]]
        .sum()
        .assign(kommun="0000")
    )
    linked = pd.concat([counts, lan, nat], ignore_index=True)
    pt = protect_linked(linked, hierarchy=codes, rules=DisclosureRules())
    settings = load_settings(kommun="2281", data_dir=str(small_dataset))
    with pytest.raises(ReleaseGateError):
        excel.write_excel_appendix(settings, {"Tabell": pt})
    assert not (project / "reports").exists() or not list((project / "reports").rglob("*.xlsx"))
    rejected = list((project / "runs").rglob("*.REJECTED.xlsx"))
    assert len(rejected) == 1


def test_injected_indicator_title_is_escaped_in_html_and_kept_as_text_in_excel(
    project, small_dataset
):
    from workbench.views_compare import ComparisonReport

    path = project / "data" / "reference" / "indicators.yaml"
    evil = '<img src=x onerror="alert(1)">'
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "title_sv: Målen helt uppfyllda", f"title_sv: '{evil}'"
        ),
        encoding="utf-8",
    )
    settings = load_settings(kommun="2281", data_dir=str(small_dataset))
    rep = ComparisonReport.load(settings)
    assert rep.indicators.get("maluppfyllelse_helt").title_sv == evil
    for block in (rep.overview(), rep.benchmarks(), rep.quartiles(), rep.methods()):
        assert evil not in block.html and "<img src=x" not in block.html
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in block.html
    out = excel.write_excel_appendix(settings, rep.excel_tables())
    titles = [r[1] for r in _sheets(out)["Tabell 1"].iter_rows(min_row=5, values_only=True)]
    assert evil in titles  # plain text in a cell, never markup
