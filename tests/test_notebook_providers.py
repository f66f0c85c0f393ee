"""Notebook 50 (placement providers) executed by papermill with the real 'workbench' kernel.

One run for the nation on the small synthetic dataset (5 % volume, built by the session
fixture), in a throw-away copy of the project (the notebook writes its Excel summary into the
copy's publish zone); the HTML is exported with our template. Shared by every test here: the
release gate, "too few ratings", escaping of provider names, and the browser and axe checks.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import shutil
from pathlib import Path

import papermill as pm
import pytest
from conftest import launch_chromium

from workbench import dataset
from workbench.release import check_release
from workbench.report import export_html

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]
NAME = "50-placement-providers"


@pytest.fixture(scope="module")
def executed(root, small_dataset, kernel_ready, tmp_path_factory) -> dict:
    import os

    proj = tmp_path_factory.mktemp("providers") / "proj"
    for part in ("parameters", "data/reference", "notebooks/reports"):
        shutil.copytree(root / part, proj / part)
    defaults = proj / "parameters" / "defaults.yaml"
    defaults.write_text(
        defaults.read_text().replace("data_dir: data/demo", f"data_dir: {small_dataset}")
    )
    old = os.environ.get("WORKBENCH_ROOT")
    os.environ["WORKBENCH_ROOT"] = str(proj)  # the kernel inherits it
    try:
        out = proj / "runs" / "0000.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        nb = pm.execute_notebook(
            str(proj / "notebooks" / "reports" / f"{NAME}.ipynb"),
            str(out),
            parameters={"kommun": "0000"},
            kernel_name=kernel_ready,
            progress_bar=False,
            cwd=str(proj),
        )
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_ROOT", None)
        else:
            os.environ["WORKBENCH_ROOT"] = old
    html = export_html(nb, proj / "runs" / "0000.html", title="Placeringsutförare, riket")
    truth = json.loads((small_dataset / "ground_truth.json").read_text(encoding="utf-8"))
    return {
        "proj": proj,
        "nb": nb,
        "html": html,
        "text": html.read_text(encoding="utf-8"),
        "xlsx": proj / "reports" / "2016-2025" / f"0000-riket-{NAME}.xlsx",
        "truth": truth["providers"],
        "providers": dataset.read_table(small_dataset, "providers"),
    }


def test_provider_report_exports_clean_html_that_passes_the_gate(executed):
    text = executed["text"]
    assert '<html lang="sv">' in text
    assert "Traceback" not in text and "<script" not in text.lower()
    assert not re.search(r"""(src|href)=["']https?://""", text)
    assert "load_settings" not in text and "import " not in text
    gate = check_release([executed["html"]], min_count=5)
    assert gate.passed(strict=True), gate.to_frame().to_string()
    assert "Placeringar och hur de avslutades" in text and 'alt="Intervalldiagram' in text


def test_excel_summary_is_published_beside_the_report_and_passes_the_gate(executed):
    xlsx = executed["xlsx"]
    assert xlsx.is_file()
    assert check_release([xlsx], min_count=5).passed(strict=True)
    assert f'href="{xlsx.name}"' in executed["text"]


def _row_text(text: str, name: str) -> list[str]:
    from html import escape

    rows = text.split(f'<th scope="row">{escape(name, quote=True)}</th>')[1:]
    return [re.sub(r"<[^>]+>", " ", r.split("</tr>", 1)[0]) for r in rows]


def test_provider_with_two_ratings_never_has_a_value(executed):
    from openpyxl import load_workbook

    two = executed["truth"]["exactly_two_ratings"]
    assert two, "the synthetic data should plant providers with exactly two ratings"
    names = executed["providers"].set_index("utforare_id")["utforare_namn"]
    wb = load_workbook(executed["xlsx"])["Utförare"]
    for pid in two:
        name = str(names.loc[pid])
        rows = _row_text(executed["text"], name)
        assert rows, f"{pid} should be listed in the national report"
        for row in rows:
            assert "för få bedömningar" in row.lower()
            assert not re.search(r"\d", row.replace("färre än 5", "")), row
        for alt in re.findall(r'alt="([^"]*)"', executed["text"]):
            assert name not in alt  # never drawn
        xrow = next(r for r in wb.iter_rows(values_only=True) if r[1] == pid)
        assert all(v in (None, "", "..", "För få bedömningar") for v in xrow[5:]), xrow
    for cell in executed["nb"].cells:
        for out in cell.get("outputs", []):
            log = out.get("data", {}).get("application/vnd.workbench.suppression-log+json")
            for c in (log or {}).get("cells", []):
                assert set(c) == {"table", "unit", "variable", "code", "cell", "rule", "pass"}


def test_trend_per_provider_is_shown_in_words_and_finds_the_planted_trends(executed):
    from openpyxl import load_workbook

    text = executed["text"]
    assert "Trend per utförare" in text and "Så läser du tabellen" in text
    planted = executed["truth"]["planted_trends"]
    assert planted, "the synthetic data should plant rating trends"
    names = executed["providers"].set_index("utforare_id")["utforare_namn"]
    ws = load_workbook(executed["xlsx"])["Utförare"]
    heads = next(r for r in ws.iter_rows(values_only=True) if r[0] == "Utförare")
    trend_cols = [i for i, h in enumerate(heads) if h == "Trend under perioden"]
    assert len(trend_cols) == 6
    for p in planted:
        word, opposite = (
            ("ökande", "minskande") if p["direction"] == "okande" else ("minskande", "ökande")
        )
        rows = [r for r in _row_text(text, str(names.loc[p["utforare_id"]])) if word in r]
        assert len(rows) == 1, p  # its row of the trend table
        assert rows[0].count(word) >= 2 and opposite not in rows[0], rows[0]
        assert not re.search(r"\d", rows[0])  # a verdict, never a number
        xrow = next(r for r in ws.iter_rows(values_only=True) if r[1] == p["utforare_id"])
        assert word in [xrow[i] for i in trend_cols]


def test_provider_names_from_data_are_escaped(executed):
    names = executed["providers"]["utforare_namn"].astype(str)
    tricky = [n for n in names if "&" in n or '"' in n]
    assert tricky, "the synthetic data should hold a provider name with & and quotes"
    from html import escape

    # the exporter re-serialises the page: quotes in text need no escaping there, & does
    assert escape(tricky[0], quote=False) in executed["text"]
    assert f">{tricky[0]}<" not in executed["text"]


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


def test_provider_report_in_the_browser_loads_nothing_external_and_passes_axe(executed, browser):
    try:
        axe = (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text(
            encoding="utf-8"
        )
    except ModuleNotFoundError:
        pytest.skip("axe-playwright-python not installed")
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    requests, failed, errors = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(Path(executed["html"]).as_uri(), wait_until="load")
    external = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert external == [] and failed == [] and errors == []
    assert page.evaluate("document.documentElement.lang") == "sv"
    images = page.evaluate(
        "Array.from(document.images).map(i => [i.naturalWidth, i.getAttribute('alt') || ''])"
    )
    assert images and all(w > 100 and len(alt) > 40 for w, alt in images)
    page.evaluate(axe)
    res = page.evaluate(
        "axe.run(document, {resultTypes: ['violations'], runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    page.close()
    blocking = [
        (v["id"], v["impact"]) for v in res["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert blocking == []
