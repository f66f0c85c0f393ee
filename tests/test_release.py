"""The release gate (workbench.release), the `check-release` command, per-report suppression logs,
the INTERNAL marking of exported HTML and the git-ignore rules for executed notebooks.

Everything here is fast (no kernel). The gate on real reports written by the runner is tested in
tests/test_runner_e2e.py. Identifiers used below are published textbook examples, never real
people's numbers:

* 640823-3234: the worked example in Skatteverket's brochure "Personnummer" (SKV 704): born
  1964-08-23, birth number 323, check digit 4.
* 811218-9876: the Luhn worked example used on Wikipedia ("Personal identity number (Sweden)")
  and in many validator guides (digit sum 44, check digit 6).
* 701063-2391: Skatteverket's samordningsnummer example (SKV 707; also Wikipedia): born
  1970-10-03, day + 60 = 63, birth number 239, check digit 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from typer.testing import CliRunner

from workbench import release
from workbench.disclosure import DisclosureRules, protect_linked
from workbench.release import (
    Finding,
    ReleaseGateError,
    ReleaseReport,
    check_release,
    read_forbidden_file,
    require_release,
)
from workbench.report import INTERNAL_BANNER, PublishZoneError, export_html, notebook_audience
from workbench.run import suppression_log_payload, write_report_suppression_log
from workbench.views import (
    REPORT_META_MIME,
    SUPPRESSION_LOG_MIME,
    Block,
    suppression_records,
)

PNR_SKV = "640823-3234"
PNR_LUHN_EXAMPLE = "811218-9876"
SAMORDNING_SKV = "701063-2391"


def _page(body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="sv">\n<head>\n<meta charset="utf-8">\n'
        f"<title>t</title>\n{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _line(body: str, needle: str, head: str = "") -> str:
    """``line N`` of the first line of ``_page(body)`` that contains ``needle``."""
    lines = _page(body, head).splitlines()
    return f"line {next(i for i, ln in enumerate(lines, start=1) if needle in ln)}"


def _scan(tmp_path: Path, body: str, *, name: str = "r.html", head: str = "", **kw):
    path = tmp_path / name
    path.write_text(_page(body, head), encoding="utf-8")
    return check_release([path], **kw)


def _rules(report: ReleaseReport) -> list[str]:
    return [f.rule for f in report.findings]


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _assert_never_shown(report: ReleaseReport, secret: str) -> None:
    """The secret (or its digits) appears in no finding, no frame cell and no summary."""
    text = "\n".join(str(f) for f in report.findings) + report.to_frame().to_csv()
    text += report.summary() + report._repr_html_()
    assert secret not in text
    if len(_digits(secret)) >= 6:
        assert _digits(secret) not in _digits(text)


# ---------------------------------------------------------------------------------------------
# Identifiers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (PNR_SKV, "personnummer"),
        (PNR_SKV.replace("-", ""), "personnummer"),
        ("19" + PNR_SKV, "personnummer"),
        ("19" + PNR_SKV.replace("-", ""), "personnummer"),
        (PNR_SKV.replace("-", "+"), "personnummer"),  # the year the person turns 100
        (PNR_LUHN_EXAMPLE, "personnummer"),
        (SAMORDNING_SKV, "samordningsnummer"),
        ("19" + SAMORDNING_SKV.replace("-", ""), "samordningsnummer"),
        ("640823-3235", "possible-identifier"),  # wrong check digit
        ("641323-3237", "possible-identifier"),  # valid check digit, month 13
        ("0701234567", "possible-identifier"),  # ten digits: could be one, still an error
    ],
)
def test_check_release_flags_identifier_patterns_as_errors(tmp_path, text, rule):
    report = _scan(tmp_path, f"<p>Uppgift: {text} slut</p>")
    assert _rules(report) == [rule]
    assert report.findings[0].severity == "error" and not report.ok
    assert report.findings[0].location == _line("<p>Uppgift", "Uppgift")
    assert report.findings[0].excerpt == re.sub(r"[0-9]", "#", text)
    _assert_never_shown(report, text)


@pytest.mark.parametrize(
    "text",
    [
        "2016-01-01",
        "20160101",
        "period 2016–2025 och 2016-2025",
        "12 345 678 registreringar",
        "12345678901",  # 11 digits
        "1234567890123",  # 13 digits
        "kvot 0,6408233234",  # decimals, not an identifier
        "1234567890,5",
        # a SHA-256-like hex digest with a ten-digit run inside
        "ab6408233234cdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "kod 0180 och 2281, år 2021",
    ],
)
def test_check_release_ignores_dates_years_hashes_and_decimals(tmp_path, text):
    report = _scan(
        tmp_path, f"<p>{text}</p>", head="<style>.x { width: 0.123456789012px; }</style>"
    )
    assert report.clean, [str(f) for f in report.findings]


def test_check_release_scans_attributes_comments_and_file_names(tmp_path):
    body = (
        f'<img src="data:image/png;base64,AAAA" alt="Barn {PNR_SKV}">\n'
        f"<!-- {PNR_LUHN_EXAMPLE} -->\n"
    )
    report = _scan(tmp_path, body, name=f"rapport-{SAMORDNING_SKV}.html")
    by_location = {(f.location, f.rule) for f in report.findings}
    assert by_location == {
        ("file name", "samordningsnummer"),
        (_line(body, "<img"), "personnummer"),
        (_line(body, "<!--"), "personnummer"),
    }
    _assert_never_shown(report, PNR_SKV)


def test_check_release_does_not_read_embedded_image_payloads(tmp_path):
    payload = "QUJD" + "6408233234" + "RUZH"  # base64 text may hold any digit run
    report = _scan(tmp_path, f'<img src="data:image/png;base64,{payload}" alt="Diagram">')
    assert report.clean


def test_check_release_flags_pseudonymous_ids_like_the_dataset_pattern(tmp_path):
    from workbench.dataset import ID_PATTERN

    pseudonym = "B0123456789abcdef"
    assert re.fullmatch(ID_PATTERN, pseudonym)  # the canonical data's own id pattern
    report = _scan(
        tmp_path,
        f"<p>{pseudonym}</p><p>b0123456789abcdef x{pseudonym}0 {pseudonym}ab</p>",
    )
    assert _rules(report) == ["pseudonym"]
    _assert_never_shown(report, pseudonym)


# ---------------------------------------------------------------------------------------------
# Small counts
# ---------------------------------------------------------------------------------------------

_TABLE = """
<table class="wb-table"><caption>Antal</caption>
<colgroup><col data-kind="label"><col data-kind="count"><col data-kind="share"></colgroup>
<thead><tr><th scope="col">Ålder</th><th scope="col">Antal</th><th scope="col">Andel</th></tr></thead>
<tbody>
<tr><th scope="row">0–6</th><td class="num">{a}</td><td class="num">3 %</td></tr>
<tr><th scope="row">7–12</th><td class="num">..</td><td class="num">4</td></tr>
<tr><th scope="row">2016</th><td class="num">12 345</td><td class="num">0</td></tr>
<tr><th scope="row">Summa</th><td class="num">0</td><td class="num">{b}</td></tr>
</tbody></table>
"""


def test_check_release_fails_a_count_column_showing_one_to_four(tmp_path):
    report = _scan(tmp_path, _TABLE.format(a="3", b=""))
    assert _rules(report) == ["small-count"]
    f = report.findings[0]
    assert f.location.endswith("table 1, row 2, column 2") and f.severity == "error"
    assert f.excerpt == "#"


def test_check_release_accepts_suppressed_zero_shares_years_and_age_bands(tmp_path):
    report = _scan(tmp_path, _TABLE.format(a="..", b=""))
    assert report.clean, [str(f) for f in report.findings]


def test_check_release_cell_kind_overrides_its_column(tmp_path):
    body = _TABLE.format(a="..", b="").replace(
        '<td class="num">4</td>', '<td class="num" data-kind="count">4</td>'
    )
    assert _rules(_scan(tmp_path, body)) == ["small-count"]


def test_check_release_warns_on_unmarked_small_numbers(tmp_path):
    body = "<table><tr><td>Antal</td><td>2</td><td>1 234</td><td>5</td></tr></table>"
    report = _scan(tmp_path, body)
    assert _rules(report) == ["unmarked-small-number"]
    assert report.ok and not report.clean
    assert report.passed() and not report.passed(strict=True)
    assert report.findings[0].location.endswith("table 1, row 1, column 2")


def test_check_release_threshold_follows_min_count(tmp_path):
    body = _TABLE.format(a="3", b="").replace("12 345", "2")
    assert _rules(_scan(tmp_path, body)) == ["small-count", "small-count"]
    assert _rules(_scan(tmp_path, body, min_count=3)) == ["small-count"]  # only the 2
    assert _scan(tmp_path, body, min_count=2).clean


def test_check_release_checks_inline_svg_text(tmp_path):
    body = (
        '<svg><text>3</text><text data-kind="count">2</text><text data-kind="year">4</text></svg>'
    )
    report = _scan(tmp_path, body)
    assert [(f.rule, f.severity) for f in report.findings] == [
        ("unmarked-small-number", "warning"),
        ("small-count", "error"),
    ]


# ---------------------------------------------------------------------------------------------
# Row-level data
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["barn_id", "insats_id", "personnummer", "Födelsedatum"])
def test_check_release_flags_identifier_and_date_columns(tmp_path, column):
    frame = pd.DataFrame({column: ["..", ".."], "kon": ["flicka", "pojke"]})
    report = _scan(tmp_path, frame.to_html(index=False))
    assert _rules(report) == ["row-level-column"]


def test_check_release_flags_large_dataframe_renderings(tmp_path):
    big = pd.DataFrame({"kon": ["flicka", "pojke"] * 30, "ar": [2020] * 60}, index=range(100, 160))
    report = _scan(tmp_path, big.to_html())
    assert _rules(report) == ["dataframe-rows"]
    assert report.findings[0].location == f"{_line(big.to_html(), '<table')}, table 1"
    assert _scan(tmp_path, big.head(50).to_html()).clean  # exactly N rows is allowed
    assert _scan(tmp_path, big.to_html(), max_rows=100).clean


# ---------------------------------------------------------------------------------------------
# External resources, scripts, active content
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "rule"),
    [
        ('<img src="https://example.org/a.png" alt="x">', "external-resource"),
        ('<img src="//cdn.example.org/a.png" alt="x">', "external-resource"),
        ('<a href="http://example.org/">länk</a>', "external-resource"),
        ('<link rel="stylesheet" href="https://cdn.example.org/a.css">', "external-resource"),
        ('<p style="background: url(https://example.org/t.gif)">x</p>', "external-resource"),
        ("<style>@import url('https://fonts.example.org/f.css');</style>", "external-resource"),
        ('<style>@import "//fonts.example.org/f.css";</style>', "external-resource"),
        ('<img src="file:///home/x/a.png" alt="x">', "external-resource"),
        ('<a href="javascript:alert(1)">x</a>', "unsafe-url"),
        ('<a href=" java\tscript:alert(1)">x</a>', "unsafe-url"),
        ('<a href="data:text/html,hej">x</a>', "unsafe-url"),
        ("<script>var x = 1;</script>", "script"),
        ('<script src="app.js"></script>', "script"),
        ('<iframe src="a.html"></iframe>', "active-content"),
        ('<object data="a.swf"></object>', "active-content"),
        ('<embed src="a.swf">', "active-content"),
        ('<img src="x.png" alt="x" onerror="alert(1)">', "event-handler"),
        ('<svg onload="alert(1)"></svg>', "event-handler"),
    ],
)
def test_check_release_flags_external_and_active_content(tmp_path, snippet, rule):
    report = _scan(tmp_path, snippet)
    assert rule in _rules(report), [str(f) for f in report.findings]
    assert not report.ok


def test_check_release_allows_local_links_fragments_and_data_images(tmp_path):
    body = (
        '<a href="#Om-rapporten">Om</a> <a href="2016-2025/2281-sundsvall.html">S</a> '
        '<a href="mailto:statistik@example.org">mejl</a> '
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="diagram">'
    )
    assert _scan(tmp_path, body).clean


def test_check_release_script_allowlist_is_by_sha256(tmp_path):
    body = "console.log('mall');"
    digest = hashlib.sha256(body.encode()).hexdigest()
    snippet = f"<script>{body}</script>"
    assert _rules(_scan(tmp_path, snippet)) == ["script"]
    assert _scan(tmp_path, snippet, script_allowlist=[digest]).clean
    assert _rules(_scan(tmp_path, "<script>x()</script>", script_allowlist=[digest])) == ["script"]


# ---------------------------------------------------------------------------------------------
# Execution leaks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "rule"),
    [
        ("<pre>Traceback (most recent call last):\n  x</pre>", "traceback"),
        ("<pre>\x1b[0;31mValueError\x1b[0m</pre>", "traceback"),
        ('<span class="ansi-red-fg">ValueError</span>', "traceback"),
        ('<div data-mime-type="application/vnd.jupyter.stderr">x</div>', "stderr-output"),
        ("<pre>/opt/venv/lib/python3.12/site-packages/workbench/views.py:12</pre>", "source-path"),
        ("<pre>FutureWarning: something</pre>", "warning-output"),
    ],
)
def test_check_release_flags_tracebacks_warnings_and_source_paths(tmp_path, snippet, rule):
    assert rule in _rules(_scan(tmp_path, snippet))


def test_source_path_excerpt_shows_only_the_file_name(tmp_path):
    report = _scan(
        tmp_path, "<pre>/home/anna.svensson/src/workbench/views.py:3: UserWarning: x</pre>"
    )
    paths = [f for f in report.findings if f.rule == "source-path"]
    assert [f.excerpt for f in paths] == ["…/views.py"]
    assert "anna" not in "".join(str(f) for f in report.findings)


# ---------------------------------------------------------------------------------------------
# Forbidden strings (canaries, keys)
# ---------------------------------------------------------------------------------------------


def test_check_release_finds_forbidden_strings_without_printing_them(tmp_path):
    canary = "Hemlis-7f3a-Ellinor"
    key = "s3cr3t-pseudonym-key"
    body = f'<p>Fritext: {canary.lower()}</p><img src="x.png" alt="{key}">'
    report = _scan(tmp_path, body, name=f"{canary}.html", forbidden=[canary, key])
    assert sorted((f.location, f.rule) for f in report.findings) == [
        ("file name", "forbidden-string"),
        (_line(body, "Fritext"), "forbidden-string"),
        (_line(body, "Fritext"), "forbidden-string"),
    ]
    _assert_never_shown(report, canary)
    _assert_never_shown(report, key)
    assert "Ellinor" not in str(report) and "s3cr3t" not in str(report)


def test_read_forbidden_file_skips_blank_lines_and_rejects_short_strings(tmp_path):
    f = tmp_path / "forbid.txt"
    f.write_text("KANARIE-1\n\n  nyckel-abc  \n", encoding="utf-8")
    assert read_forbidden_file(f) == ("KANARIE-1", "nyckel-abc")
    f.write_text("KANARIE-1\nab\n", encoding="utf-8")
    with pytest.raises(ValueError, match="at least 4 characters"):
        read_forbidden_file(f)
    with pytest.raises(FileNotFoundError):
        read_forbidden_file(tmp_path / "missing.txt")


# ---------------------------------------------------------------------------------------------
# A deliberately unprotected report fails; folders, notebooks, Excel, other files
# ---------------------------------------------------------------------------------------------

UNPROTECTED = """
<main class="wb-report">
<h2>Registreringar</h2>
<table class="wb-table"><caption>Antal registreringar per år</caption>
<colgroup><col data-kind="label"><col data-kind="count"></colgroup>
<thead><tr><th scope="col">År</th><th scope="col" class="num">Antal</th></tr></thead>
<tbody><tr><th scope="row">2020</th><td class="num">3</td></tr>
<tr><th scope="row">2021</th><td class="num">1</td></tr>
<tr><th scope="row">2022</th><td class="num">27</td></tr></tbody></table>
<p>Ärende för barn 811218-9876 avslutat.</p>
<script src="https://cdn.example.org/plotly.min.js"></script>
<pre>Traceback (most recent call last):
  File "/srv/workbench/src/workbench/views.py", line 10, in distribution
KeyError: 'kon'</pre>
</main>
"""


def test_check_release_fails_a_deliberately_unprotected_report(tmp_path):
    report = _scan(tmp_path, UNPROTECTED, name="0000-riket-10-follow-up.html")
    assert not report.ok
    found = {(f.rule, f.location) for f in report.findings}

    def at(needle: str) -> str:
        return _line(UNPROTECTED, needle)

    assert ("small-count", f"{at('>2020<')}, table 1, row 2, column 2") in found
    assert ("small-count", f"{at('>2021<')}, table 1, row 3, column 2") in found
    assert ("personnummer", at("Ärende")) in found
    assert {("external-resource", at("<script")), ("script", at("<script"))} <= found
    assert ("traceback", at("Traceback")) in found and ("source-path", at("File ")) in found
    with pytest.raises(ReleaseGateError) as info:
        require_release([tmp_path])
    assert "small-count ×2" in str(info.value) and "9876" not in str(info.value)


def test_check_release_walks_folders_and_judges_file_types(tmp_path):
    (tmp_path / "2016-2025").mkdir()
    (tmp_path / "2016-2025" / "a.html").write_text(_page("<p>ok</p>"), encoding="utf-8")
    (tmp_path / "2016-2025" / "a.suppression.json").write_text('{"cells": []}', encoding="utf-8")
    (tmp_path / "figur.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"6408233234")
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    (tmp_path / "anteckning.docx").write_bytes(b"PK")
    (tmp_path / "app.js").write_text("alert(1)", encoding="utf-8")
    (tmp_path / "trasig.html").write_bytes(b"\xff\xfe<p>")
    report = check_release([tmp_path])
    assert len(report.files) == 7
    got = {(Path(f.file).name, f.rule, f.severity) for f in report.findings}
    assert got == {
        ("data.parquet", "data-file", "error"),
        ("anteckning.docx", "unexpected-file", "warning"),
        ("app.js", "script", "error"),
        ("trasig.html", "unreadable", "error"),
    }


def test_check_release_rejects_missing_paths_and_bad_thresholds(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_release([tmp_path / "nope"])
    with pytest.raises(ValueError, match="min_count"):
        check_release([tmp_path], min_count=0)


def _notebook(outputs: list, execution_count: int | None = 1) -> nbformat.NotebookNode:
    cell = new_code_cell(source="rapport.header()", outputs=outputs)
    cell.execution_count = execution_count
    return new_notebook(cells=[cell])


def test_check_release_treats_any_executed_notebook_as_a_finding(tmp_path):
    nb = _notebook(
        [
            new_output("display_data", data={"text/html": f"<p>{PNR_SKV}</p>"}),
            new_output("error", ename="KeyError", evalue="'x'", traceback=["Traceback"]),
            new_output("stream", name="stderr", text="warn"),
        ]
    )
    path = tmp_path / "2281-sundsvall.ipynb"
    nbformat.write(nb, path)
    report = check_release([path])
    found = {(f.rule, f.location) for f in report.findings}
    assert ("executed-notebook", "cell 1") in found
    assert ("personnummer", "cell 1, output 1 (data.text/html)") in found
    assert ("traceback", "cell 1, output 2") in found
    assert ("stderr-output", "cell 1, output 3") in found
    clean = tmp_path / "mall.ipynb"
    nbformat.write(_notebook([], execution_count=None), clean)
    only = check_release([clean])
    assert _rules(only) == ["notebook"] and only.ok


def _workbook(path: Path, **extras) -> Path:
    from openpyxl import Workbook
    from openpyxl.comments import Comment

    wb = Workbook()
    ws = wb.active
    ws.title = "Tabell"
    ws.append(["Kön", "Antal", "År"])
    ws.append(["Flicka", "..", 2020])
    ws.append(["Pojke", 12, 2021])
    wb.properties.creator = extras.get("creator", "workbench")
    if "pnr" in extras:
        ws["A5"] = f"Barn {extras['pnr']}"
    if "small" in extras:
        ws["B6"] = extras["small"]
    if extras.get("comment"):
        ws["A1"].comment = Comment("kontrollera", "Analytiker")
    if extras.get("hidden"):
        wb.create_sheet("Rådata").sheet_state = "hidden"
    if extras.get("link"):
        ws["C1"].hyperlink = "https://example.org/data"
    wb.save(path)
    if extras.get("pivot"):
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("xl/pivotCache/pivotCacheDefinition1.xml", "<pivotCacheDefinition/>")
    return path


def test_check_release_passes_a_clean_workbook(tmp_path):
    assert check_release([_workbook(tmp_path / "ok.xlsx")]).clean


def test_check_release_scans_every_part_of_a_workbook(tmp_path):
    path = _workbook(
        tmp_path / "t.xlsx",
        creator="Anna Analytiker",
        pnr=PNR_SKV,
        small=3,
        comment=True,
        hidden=True,
        link=True,
        pivot=True,
    )
    report = check_release([path])
    found = {(f.rule, f.location) for f in report.findings}
    assert ("personnummer", "xl/worksheets/sheet1.xml A5") in found  # openpyxl: inline string
    assert ("unmarked-small-number", "xl/worksheets/sheet1.xml B6") in found
    assert ("hidden-sheet", "xl/workbook.xml sheet 2") in found
    assert ("author", "docProps/core.xml <creator>") in found
    assert ("comment", "xl/comments/comment1.xml") in found
    assert ("pivot-cache", "xl/pivotCache/pivotCacheDefinition1.xml") in found
    assert any(
        r == "external-resource" and loc.endswith(".rels <Relationship>") for r, loc in found
    )
    _assert_never_shown(report, PNR_SKV)
    assert "Anna" not in str(report.to_frame().to_csv())


# ---------------------------------------------------------------------------------------------
# The report object and the command line
# ---------------------------------------------------------------------------------------------


def test_release_report_is_frozen_and_tabulates_findings(tmp_path):
    report = _scan(tmp_path, f"<p>{PNR_SKV}</p><table><tr><td>2</td></tr></table>")
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.findings = ()  # type: ignore[misc]
    frame = report.to_frame()
    assert list(frame.columns) == ["file", "location", "rule", "severity", "message", "excerpt"]
    assert list(frame["rule"]) == ["personnummer", "unmarked-small-number"]
    assert report.rule_counts() == {"personnummer": 1, "unmarked-small-number": 1}
    assert report.summary().startswith("Releasekontroll: 1 filer granskade, 1 fel, 1 varningar")
    assert isinstance(report.findings[0], Finding)
    assert "<table" in report._repr_html_()


def _cli(*args: str):
    from workbench.cli import app

    return CliRunner().invoke(app, list(args))


def test_check_release_command_exits_one_naming_file_and_location(tmp_path):
    (tmp_path / "r.html").write_text(_page(UNPROTECTED), encoding="utf-8")
    res = _cli("check-release", str(tmp_path), "--min-count", "5")
    assert res.exit_code == 1
    cell = f"{_line(UNPROTECTED, '>2020<')}, table 1, row 2, column 2"
    assert f"{tmp_path / 'r.html'}:{cell}: error [small-count]" in res.output
    assert f"{tmp_path / 'r.html'}:{_line(UNPROTECTED, 'Ärende')}: error [personnummer]" in (
        res.output
    )
    assert "Releasekontroll: 1 filer granskade" in res.output
    assert "9876" not in res.output and "811218" not in res.output


def test_check_release_command_exit_codes_for_clean_warnings_and_canaries(tmp_path):
    page = tmp_path / "r.html"
    page.write_text(_page("<p>Inga små tal.</p>"), encoding="utf-8")
    assert _cli("check-release", str(page)).exit_code == 0
    page.write_text(_page("<table><tr><td>2</td></tr></table>"), encoding="utf-8")
    assert _cli("check-release", str(page)).exit_code == 0  # a warning only
    assert _cli("check-release", "--strict", str(page)).exit_code == 1
    forbid = tmp_path / "forbid.txt"
    forbid.write_text("Hemlisfågel-42\n", encoding="utf-8")
    page.write_text(_page("<p>hemlisfågel-42</p>"), encoding="utf-8")
    res = _cli("check-release", "--forbid-file", str(forbid), str(page))
    assert res.exit_code == 1 and "forbidden-string" in res.output
    assert "emlisfågel" not in res.output
    missing = _cli("check-release", str(tmp_path / "saknas"))
    assert missing.exit_code == 2


# ---------------------------------------------------------------------------------------------
# Suppression logs per report
# ---------------------------------------------------------------------------------------------


def _tiny_protected():
    hier = pd.DataFrame({"kommun": ["0101", "0102", "0103"], "lan": ["01", "01", "01"]})
    values = {"0101": (2, 30), "0102": (15, 14), "0103": (12, 20)}  # flickor, pojkar
    rows = []
    for unit, members in [
        *((m, [m]) for m in values),
        ("01", list(values)),
        ("0000", list(values)),
    ]:
        f = sum(values[m][0] for m in members)
        p = sum(values[m][1] for m in members)
        for code, n in (("flicka", f), ("pojke", p)):
            rows.append(
                {"kommun": unit, "variabel": "kon", "kod": code, "n": n, "denominator": f + p}
            )
    return protect_linked(pd.DataFrame(rows), hierarchy=hier, rules=DisclosureRules())


def test_suppression_records_list_the_shown_units_cells_without_values():
    pt = _tiny_protected()
    payload = suppression_records(
        pt,
        name="distribution",
        units=["0101", "01", "0000"],
        variables=["kon"],
        rules=pt.rules,
    )
    assert payload["rules"] == {"min_count": 5, "min_denominator": 10, "secondary": True}
    cells = payload["cells"]
    shown = pt.log[pt.log["kommun"].isin(["0101", "01", "0000"])]
    assert len(cells) == len(shown) >= 1
    assert {
        "table": "distribution",
        "unit": "0101",
        "variable": "kon",
        "code": "flicka",
        "cell": "n",
        "rule": "primary",
        "pass": 0,
    } in cells
    assert all(
        set(c) == {"table", "unit", "variable", "code", "cell", "rule", "pass"} for c in cells
    )
    raw = set(pt.data["n"].astype(int).astype(str))
    assert not any(str(v) in raw for c in cells for k, v in c.items() if k == "pass" and v > 4)
    other = suppression_records(pt, name="d", units=["0103"], variables=["kon"], rules=pt.rules)
    assert all(c["unit"] == "0103" for c in other["cells"])


def test_block_carries_its_log_slice_outside_the_html():
    block = Block("<p>x</p>", data={SUPPRESSION_LOG_MIME: {"cells": []}})
    bundle = block._repr_mimebundle_()
    assert bundle["text/html"] == "<p>x</p>" and SUPPRESSION_LOG_MIME in bundle
    assert block == Block("<p>x</p>")  # the data does not change what the block shows


def test_runner_merges_log_slices_and_writes_a_gate_clean_json(tmp_path):
    rules = {"min_count": 5, "min_denominator": 10, "secondary": True}
    a = {
        "table": "distribution",
        "unit": "2281",
        "variable": "kon",
        "code": "flicka",
        "cell": "n",
        "rule": "primary",
        "pass": 0,
    }
    b = {**a, "unit": "22", "rule": "secondary", "pass": 1}
    outs = [
        new_output(
            "display_data", data={"text/html": "<p/>", REPORT_META_MIME: {"audience": "public"}}
        ),
        new_output(
            "display_data",
            data={
                "text/html": "<p/>",
                SUPPRESSION_LOG_MIME: {"version": 1, "rules": rules, "cells": [a, b]},
            },
        ),
        new_output(
            "display_data",
            data={
                "text/html": "<p/>",
                SUPPRESSION_LOG_MIME: {"version": 1, "rules": rules, "cells": [b]},
            },
        ),
    ]
    nb = _notebook(outs)
    assert suppression_log_payload(nb) == {"rules": rules, "cells": [a, b]}
    path = write_report_suppression_log(
        nb,
        tmp_path / "2281-sundsvall-10-follow-up.suppression.json",
        report="2281-sundsvall-10-follow-up.html",
        kommun="2281",
        period="2016-2025",
    )
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["n_cells"] == 2 and doc["cells"] == [a, b] and doc["rules"] == rules
    assert doc["report"] == "2281-sundsvall-10-follow-up.html"
    assert check_release([path]).clean
    empty = suppression_log_payload(_notebook([]))
    assert empty == {"rules": None, "cells": []}


# ---------------------------------------------------------------------------------------------
# Audience: the INTERNAL banner and the publish zone
# ---------------------------------------------------------------------------------------------


def _report_notebook(audience: str) -> nbformat.NotebookNode:
    return _notebook(
        [
            new_output(
                "display_data",
                data={"text/html": "<p>Rapport</p>", REPORT_META_MIME: {"audience": audience}},
            )
        ]
    )


def test_export_marks_internal_reports_and_only_them(tmp_path):
    public = export_html(_report_notebook("public"), tmp_path / "p.html", title="R").read_text()
    internal = export_html(
        _report_notebook("public"), tmp_path / "i.html", title="R", audience="internal"
    ).read_text()
    declared = export_html(
        _report_notebook("internal"), tmp_path / "d.html", title="R"
    ).read_text()
    assert INTERNAL_BANNER == "INTERNT — ej för spridning / INTERNAL — not for distribution"
    assert (
        INTERNAL_BANNER not in public and "INTERNT" not in public and "@top-center" not in public
    )
    for text in (internal, declared):
        body = text[text.index("<body>") :]
        assert body.index(INTERNAL_BANNER) < body.index('<main class="wb-report">')  # at the top
        assert re.search(r"@page \{ @top-center \{ content: \"INTERNT — ej för spridning", text)
        assert "<title>INTERNT – R</title>" in text
    assert REPORT_META_MIME not in public  # metadata stays in the notebook
    assert check_release([tmp_path / "p.html"]).clean


def test_notebook_audience_reads_metadata_and_papermill_parameters():
    assert notebook_audience(_report_notebook("internal")) == "internal"
    assert notebook_audience(_report_notebook("public")) == "public"
    nb = _notebook([])
    nb.metadata["papermill"] = {"parameters": {"audience": "internal"}}
    assert notebook_audience(nb) == "internal"


def test_export_refuses_internal_reports_in_the_publish_zone(tmp_path, monkeypatch):
    (tmp_path / "parameters").mkdir()
    (tmp_path / "parameters" / "defaults.yaml").write_text("schema_version: 1\n")
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    target = tmp_path / "reports" / "2016-2025" / "x.html"
    with pytest.raises(PublishZoneError, match="never written into the publish zone"):
        export_html(_report_notebook("public"), target, title="R", audience="internal")
    with pytest.raises(PublishZoneError):  # the notebook's own audience counts too
        export_html(_report_notebook("internal"), target, title="R")
    assert not target.exists()
    export_html(_report_notebook("public"), target, title="R")  # public is fine
    assert target.is_file()
    with pytest.raises(ValueError, match="audience"):
        export_html(_report_notebook("public"), tmp_path / "y.html", title="R", audience="x")


# ---------------------------------------------------------------------------------------------
# Executed notebooks never reach git
# ---------------------------------------------------------------------------------------------


def test_gitignore_keeps_runs_and_published_notebooks_out_of_git(root):
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = [
        "runs/2016-2025/10-follow-up/2281-sundsvall.ipynb",
        "runs/2016-2025/10-follow-up/2281-sundsvall-10-follow-up.INTERNAL.html",
        "runs/cache/protected-main-x.data.parquet",
        "reports/2016-2025/2281-sundsvall.ipynb",
        "reports/2016-2025/2281-sundsvall-10-follow-up.html",
        "reports/2016-2025/2281-sundsvall-10-follow-up.suppression.json",
        "reports/index.html",
        "notebooks/reports/10-follow-up.papermill.ipynb",
    ]
    res = subprocess.run(
        ["git", "check-ignore", "--no-index", *ignored], cwd=root, capture_output=True, text=True
    )
    assert sorted(res.stdout.split()) == sorted(ignored), res.stdout + res.stderr
    kept = subprocess.run(
        ["git", "check-ignore", "--no-index", "notebooks/reports/10-follow-up.ipynb"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert kept.returncode == 1  # the template itself is committed


def test_default_min_count_comes_from_the_parameters():
    assert release.default_min_count() == 5  # parameters/defaults.yaml: disclosure.min_count
