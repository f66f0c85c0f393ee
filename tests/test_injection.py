"""Injection-safe output: markup planted in data and parameters renders as text.

A copy of the project gets hostile strings in the catalogue's labels (a variable label, two code
labels), in the municipality and county names, and in the dataset manifest's free-text fields.
Report blocks rendered in-process, the runner's published HTML and the index must show them as
text: escaped in the markup, and in a real Chromium no dialog fires and no element is created
from them. The strings are the usual XSS probes (OWASP XSS filter evasion cheat sheet) plus a
markdown link and a Jinja expression.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import launch_chromium

from workbench import catalogue, municipalities
from workbench.release import check_release

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
MARKDOWN = "[x](javascript:alert(1))"
JINJA = "{{7*7}}"

MUNICIPALITY = f"Sundsvall{SCRIPT}"  # 2281
COUNTY = f"Västernorrland{SVG}"  # 22
VARIABLE = f"Kön {JINJA}"  # the label of variable kon
GIRL = IMG  # code label kon/flicka
BOY = MARKDOWN  # code label kon/pojke
SOURCE = f"Källa {JINJA} {SCRIPT}"  # manifest free text
DATA_DATE = f"2025-12-31{IMG}"

PLANTED = (MUNICIPALITY, COUNTY, VARIABLE, GIRL, BOY)
RAW_MARKUP = (
    "<script>alert",
    "<img src=x",
    "<svg onload",
    'href="javascript:',
    'javascript:alert(1)"',
)


def _clear_caches() -> None:
    catalogue.load_catalogue.cache_clear()
    municipalities._table.cache_clear()


@pytest.fixture
def poisoned_project(root, tmp_path, small_dataset, monkeypatch) -> Path:
    """A project copy whose labels, names and dataset free text carry injection strings."""
    proj = tmp_path / "proj"
    for part in ("parameters", "data/reference", "notebooks/reports"):
        shutil.copytree(root / part, proj / part)
    data = tmp_path / "data"
    shutil.copytree(small_dataset, data)
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    manifest["source"] = SOURCE
    manifest["data_date"] = DATA_DATE
    (data / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    defaults = proj / "parameters" / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("data_dir: data/demo", f"data_dir: {data}"))

    cat = proj / "data/reference/catalogue.yaml"
    text = cat.read_text(encoding="utf-8")
    for old, new in (
        ("{code: flicka, sv: Flicka,", f'{{code: flicka, sv: "{GIRL}",'),
        ("{code: pojke, sv: Pojke,", f'{{code: pojke, sv: "{BOY}",'),
        (
            "  - name: kon\n    table: children\n    also_in: [child_survey]\n    sv: Kön\n",
            f'  - name: kon\n    table: children\n    also_in: [child_survey]\n    sv: "{VARIABLE}"\n',
        ),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    cat.write_text(text, encoding="utf-8")

    csv = proj / "data/reference/municipalities.csv"
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    table.loc[table["municipality_code"] == "2281", "municipality_name"] = MUNICIPALITY
    table.loc[table["county_code"] == "22", "county_name"] = COUNTY
    table.to_csv(csv, index=False)

    monkeypatch.setenv("WORKBENCH_ROOT", str(proj))
    _clear_caches()
    yield proj
    _clear_caches()  # other tests must see the real labels again


def _assert_rendered_as_text(markup: str, planted=PLANTED) -> None:
    for raw in RAW_MARKUP:
        assert raw not in markup, raw
    for s in planted:
        assert html.escape(s, quote=True) in markup or html.escape(s, quote=False) in markup, s
    assert "Kön 49" not in markup


def test_report_blocks_escape_labels_names_and_free_text(poisoned_project):
    from workbench.params import load_settings
    from workbench.views import FollowUpReport

    settings = load_settings(kommun="2281")
    assert settings.municipality.name == MUNICIPALITY  # the poisoned copy is in use
    rapport = FollowUpReport.load(settings)
    blocks = [
        rapport.header(),
        rapport.registrations_by_year(),
        rapport.completeness(),
        rapport.distribution("kon"),
        rapport.methods(),
    ]
    markup = "\n".join(b.html for b in blocks)
    _assert_rendered_as_text(markup, (*PLANTED, SOURCE, DATA_DATE))
    # the alt text of the chart carries the code labels, escaped as an attribute value
    assert f'alt="Stapeldiagram, {html.escape(VARIABLE.lower())}' in markup
    assert html.escape(GIRL) in markup.split('alt="Stapeldiagram, kön', 1)[1].split('"', 1)[0]


def test_index_page_escapes_municipality_and_county_names(poisoned_project, tmp_path):
    from workbench.report import IndexEntry, write_index, write_report_list

    reports = tmp_path / "reports"
    (reports / "2016-2025").mkdir(parents=True)
    entry = IndexEntry(
        kommun="2281",
        name=MUNICIPALITY,
        county_code="22",
        county_name=COUNTY,
        period="2016-2025",
        href=f"x{SVG}.html",
        notebook="10-follow-up",
    )
    write_report_list(reports / "2016-2025", [entry])
    markup = write_index(reports).read_text(encoding="utf-8")
    _assert_rendered_as_text(markup, (MUNICIPALITY, COUNTY))
    assert check_release([reports / "index.html"]).clean


@pytest.fixture
def published(poisoned_project, kernel_ready) -> Path:
    """The runner's public report for the poisoned Sundsvall, and the index."""
    exe = Path(sys.executable).parent / "workbench"
    env = {**os.environ, "WORKBENCH_ROOT": str(poisoned_project)}
    res = subprocess.run(
        [str(exe), "run", "--kommun", "2281"],
        cwd=poisoned_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    pages = list((poisoned_project / "reports" / "2016-2025").glob("2281-*.html"))
    assert len(pages) == 1
    return pages[0]


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_published_report_escapes_and_passes_the_gate(published):
    markup = published.read_text(encoding="utf-8")
    _assert_rendered_as_text(markup, PLANTED)
    assert "<title>" in markup and "{{7*7}}" in markup  # Jinja expressions are not evaluated
    gate = check_release([published.parent.parent])
    assert gate.clean, [str(f) for f in gate.findings]


@pytest.fixture
def browser():
    with launch_chromium() as b:
        yield b


_INJECTED_ELEMENTS = """() => ({
  scripts: document.querySelectorAll('script').length,
  svgs: document.querySelectorAll('svg').length,
  handlers: Array.from(document.querySelectorAll('*')).filter(
    e => Array.from(e.attributes).some(a => a.name.toLowerCase().startsWith('on'))).length,
  jsLinks: Array.from(document.querySelectorAll('[href],[src]')).filter(
    e => /^\\s*javascript:/i.test(e.getAttribute('href') || e.getAttribute('src') || '')).length,
  xImages: Array.from(document.images).filter(i => i.getAttribute('src') === 'x').length,
  text: document.body.textContent,
})"""


def _open(browser, page_path: Path) -> tuple[list[str], list[str], dict]:
    """Open a page with every <details> expanded: dialogs, page errors, what the DOM holds."""
    page = browser.new_page()
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_path.as_uri(), wait_until="load")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.wait_for_timeout(300)  # an injected onerror would fire by now
    found = page.evaluate(_INJECTED_ELEMENTS)
    page.close()
    return dialogs, errors, found


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_injected_markup_stays_text_in_the_browser(published, browser):
    for page_path in (published, published.parent.parent / "index.html"):
        dialogs, errors, found = _open(browser, page_path)
        assert dialogs == [] and errors == []
        ours = 1 if page_path.name == "index.html" else 0  # the index's allowlisted filter
        assert {k: v for k, v in found.items() if k != "text"} == {
            "scripts": ours,
            "svgs": 0,
            "handlers": 0,
            "jsLinks": 0,
            "xImages": 0,
        }
        expected = (MUNICIPALITY, COUNTY) if page_path.name == "index.html" else PLANTED
        for s in expected:
            assert s in found["text"], s  # shown to the reader as the literal text


def test_browser_check_sees_markup_that_is_not_escaped(browser, tmp_path):
    """The probe itself can fail: the same strings pasted raw do create elements."""
    page = tmp_path / "raw.html"
    page.write_text(f"<html><body><p>{IMG}</p><p>{SVG}</p></body></html>", encoding="utf-8")
    dialogs, _errors, found = _open(browser, page)
    assert dialogs  # alert(1) fired and the listener saw it
    assert found["xImages"] == 1 and found["svgs"] == 1 and found["handlers"] == 2
