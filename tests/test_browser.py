"""Reports open in a real headless Chromium: charts load, nothing is fetched from outside.

Uses Debian's Chromium (installed by `make test` where it can). Without a browser the tests skip
with a visible reason, except under CI=true where a missing browser is a failure.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm
import pytest
from conftest import launch_chromium

from workbench.report import INTERNAL_BANNER, export_html

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "reports" / "10-follow-up.ipynb"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


@pytest.fixture(scope="module")
def report_html(small_dataset, kernel_ready, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    nb = pm.execute_notebook(
        str(NOTEBOOK),
        str(tmp / "r.ipynb"),
        parameters={"kommun": "2281", "data_dir": str(small_dataset)},
        kernel_name=kernel_ready,
        progress_bar=False,
        cwd=str(tmp),
    )
    return export_html(nb, tmp / "2281.html", title="Sundsvall")


def test_report_opens_with_charts_and_no_external_requests(browser, report_html):
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    requests, failed, errors = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report_html.as_uri(), wait_until="load")
    external = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert external == [] and failed == [] and errors == []
    assert page.evaluate("document.documentElement.lang") == "sv"
    images = page.evaluate(
        "Array.from(document.images).map(i => [i.naturalWidth, i.getAttribute('alt') || ''])"
    )
    assert len(images) >= 10
    assert all(w > 100 and len(alt) > 40 for w, alt in images), images[:3]
    headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
    assert [h.strip() for h in headings][:3] == [
        "Om rapporten",
        "Registreringar",
        "Fullständighet",
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-first-page.png"))
    page.close()


_PAGE_RULES = """() => Array.from(document.styleSheets).flatMap(s => Array.from(s.cssRules))
  .filter(r => r.constructor.name === 'CSSPageRule').map(r => r.cssText)"""


def test_internal_report_carries_the_banner_on_screen_and_on_every_printed_page(
    browser, report_html
):
    nb = nbformat.read(report_html.parent / "r.ipynb", as_version=4)
    internal = export_html(
        nb, report_html.parent / "2281.INTERNAL.html", title="Sundsvall", audience="internal"
    )
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(internal.as_uri(), wait_until="load")
    banner = page.locator(".wb-internal")
    assert banner.is_visible() and INTERNAL_BANNER in banner.inner_text()
    assert page.evaluate("document.querySelector('.wb-internal').getBoundingClientRect().top") == 0
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    scrolled, top = page.evaluate(
        "[window.scrollY, document.querySelector('.wb-internal').getBoundingClientRect().top]"
    )
    assert scrolled > 1000 and top == 0  # sticky: still at the top after scrolling
    # printed: a page-margin box repeats the banner at the top of every page
    rules = page.evaluate(_PAGE_RULES)
    assert any("@top-center" in r and INTERNAL_BANNER in r for r in rules), rules
    page.emulate_media(media="print")
    assert banner.is_visible()
    assert page.title().startswith("INTERNT")
    page.close()


def test_public_report_has_no_internal_banner(browser, report_html):
    page = browser.new_page()
    page.goto(report_html.as_uri(), wait_until="load")
    assert page.locator(".wb-internal").count() == 0
    assert not any("INTERNT" in r for r in page.evaluate(_PAGE_RULES))
    assert "INTERNT" not in page.title()
    page.close()


def test_index_search_filters_municipalities_under_its_csp(browser, tmp_path):
    """The index's only script (allowlisted by hash in the CSP) filters by name, code or county."""
    from workbench.municipalities import get_municipality
    from workbench.release import check_release
    from workbench.report import IndexEntry, write_index, write_report_list

    period = tmp_path / "2016-2025"
    period.mkdir()
    entries = []
    for code in ("2281", "2262", "0180", "1480"):
        m = get_municipality(code)
        href = f"{code}-{m.slug}-10-follow-up.html"
        (period / href).write_text("<!DOCTYPE html><html lang='sv'><title>x</title></html>")
        entries.append(
            IndexEntry(
                code, m.name, m.county_code, m.county_name, "2016-2025", href, "10-follow-up"
            )
        )
    write_report_list(period, entries)
    index = write_index(tmp_path)
    assert check_release([index]).passed(strict=True)
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(index.as_uri())
    box = page.locator("#wb-filter")
    assert box.is_visible()  # the script ran: CSP allowed it
    box.fill("sund")
    visible = page.locator("tr[data-search]:visible")
    assert visible.count() == 1 and "Sundsvall" in visible.first.inner_text()
    box.fill("Stockholms")
    assert page.locator("tr[data-search]:visible").count() == 1  # by county name
    box.fill("")
    assert page.locator("details[data-county]:visible").count() == 3
    assert not errors, errors
    page.close()
