"""Accessibility of the published pages: axe-core in headless Chromium (WCAG 2.1 AA bar).

Three page loads: the final report (40), the follow-up report (10) and the index page, built from
two papermill runs with the real 'workbench' kernel on the small synthetic dataset. axe-core comes
from the PyPI package ``axe-playwright-python`` (its bundled ``axe.min.js``); Chromium is Debian's.
Without either the tests skip with a visible reason, except under CI=true where they fail.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from pathlib import Path

import papermill as pm
import pytest
from conftest import launch_chromium

from workbench.report import IndexEntry, export_html, write_index, write_report_list

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]
REPORTS = Path(__file__).resolve().parents[1] / "notebooks" / "reports"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
BLOCKING = {"serious", "critical"}


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing under CI=true: `make test` should have installed it")
    pytest.skip(f"{what} not installed; accessibility tests skipped")


@pytest.fixture(scope="module")
def axe_script() -> str:
    try:
        files = importlib.resources.files("axe_playwright_python")
    except ModuleNotFoundError:
        _missing("axe-playwright-python (pip install -e '.[dev]')")
    return (files / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


@pytest.fixture(scope="module")
def published(small_dataset, kernel_ready, tmp_path_factory) -> dict[str, Path]:
    """Reports 40 and 10 for Sundsvall in a publish-zone-like folder, and its index page."""
    root = tmp_path_factory.mktemp("a11y") / "reports"
    folder = root / "2016-2025"
    folder.mkdir(parents=True)
    out, entries = {}, []
    for nb_name in ("40-final-report", "10-follow-up"):
        nb = pm.execute_notebook(
            str(REPORTS / f"{nb_name}.ipynb"),
            str(folder.parent / f"{nb_name}.ipynb"),
            parameters={"kommun": "2281", "data_dir": str(small_dataset)},
            kernel_name=kernel_ready,
            progress_bar=False,
            cwd=str(folder.parent),
        )
        name = f"2281-sundsvall-{nb_name}.html"
        out[nb_name] = export_html(nb, folder / name, title=f"Sundsvall {nb_name}")
        entries.append(
            IndexEntry(
                "2281", "Sundsvall", "22", "Västernorrlands län", folder.name, name, nb_name
            )
        )
    write_report_list(folder, entries)
    out["index"] = write_index(root)
    return out


def _audit(browser, axe_script: str, path: Path, *, screenshot: str = "") -> dict:
    """Load a page, collect requests and console errors, run axe-core, report what matters."""
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    requests, failed, errors = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / screenshot))
    images = page.evaluate(
        "Array.from(document.images).map(i => [i.naturalWidth, i.getAttribute('alt') || ''])"
    )
    lang = page.evaluate("document.documentElement.lang")
    page.evaluate(axe_script)
    results = page.evaluate(
        "axe.run(document, {resultTypes: ['violations'], "
        "runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
        "'best-practice']}})"
    )
    page.close()
    violations = [
        {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
        for v in results["violations"]
    ]
    return {
        "external": [u for u in requests if not u.startswith(("file:", "data:"))],
        "failed": failed,
        "errors": errors,
        "images": images,
        "lang": lang,
        "violations": violations,
        "blocking": [v for v in violations if v["impact"] in BLOCKING],
    }


@pytest.fixture(scope="module")
def audits(browser, axe_script, published) -> dict[str, dict]:
    out = {
        "40-final-report": _audit(
            browser, axe_script, published["40-final-report"], screenshot="final-report-first.png"
        ),
        "10-follow-up": _audit(browser, axe_script, published["10-follow-up"]),
        "index": _audit(browser, axe_script, published["index"]),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe-violations.json").write_text(
        json.dumps({k: v["violations"] for k, v in out.items()}, indent=2), encoding="utf-8"
    )
    return out


@pytest.mark.parametrize("page", ["40-final-report", "10-follow-up", "index"])
def test_page_has_no_serious_or_critical_axe_violation(audits, page):
    assert audits[page]["blocking"] == [], audits[page]["blocking"]


@pytest.mark.parametrize("page", ["40-final-report", "10-follow-up", "index"])
def test_page_makes_no_external_or_failed_request_and_logs_no_error(audits, page):
    a = audits[page]
    assert a["external"] == [] and a["failed"] == [] and a["errors"] == []
    assert a["lang"] == "sv"


def test_final_report_images_load_and_have_descriptive_alt_text(audits):
    images = audits["40-final-report"]["images"]
    assert len(images) >= 10
    assert all(w > 100 and len(alt) > 40 for w, alt in images), images[:3]
    assert all(w > 100 and len(alt) > 40 for w, alt in audits["10-follow-up"]["images"])


def test_final_report_first_page_screenshot_is_saved(audits):
    shot = ARTIFACTS / "final-report-first.png"
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank image
