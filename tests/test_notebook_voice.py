"""Notebook 60 (Barns och ungas röst) executed by papermill with the real 'workbench' kernel.

The dataset is the small synthetic one with its ``child_survey`` replaced by a survey made here:
a strong planted difference (girls answer lower on "Jag känner mig trygg"), Stockholm (0180) with
many answers and Ånge (2260) with three invited children. Two runs share one module fixture: the
large municipality (numbers, model, release gate, browser and axe-core checks) and the tiny one
("för få svar", no values of its own).
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

import numpy as np
import pandas as pd
import papermill as pm
import pytest
from conftest import launch_chromium

from workbench import dataset
from workbench.fmt import format_percent
from workbench.municipalities import hierarchy
from workbench.release import check_release
from workbench.report import export_html

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]
NOTEBOOK = (
    Path(__file__).resolve().parents[1] / "notebooks" / "reports" / "60-childrens-voice.ipynb"
)
ITEMS = ("kanner_mig_trygg", "blir_lyssnad_pa", "vet_min_plan", "far_hjalp_skola", "helhet")
LARGE, TINY = "0180", "2260"
GIRL_SHIFT = -1.5  # log odds, strong enough to be seen in a test-sized dataset


def _survey(seed: int = 11) -> pd.DataFrame:
    """Invited children: 1500 in Stockholm, 3 in Ånge, ~10 in every other municipality."""
    rng = np.random.default_rng(seed)
    codes = [c for c in hierarchy()["kommun"] if c not in (LARGE, TINY)]
    kommun = np.concatenate([np.repeat(codes, 10), np.repeat([LARGE], 1500), [TINY] * 3])
    n = len(kommun)
    kon = rng.choice(["flicka", "pojke"], n)
    grp = rng.choice(["placerad", "oppenvard"], n)
    answered = rng.random(n) < 0.7
    answered[kommun == TINY] = True
    cuts = np.array([-2.5, -1.5, -0.4, 0.9])
    items = {}
    for item in ITEMS:
        eta = GIRL_SHIFT * (kon == "flicka") if item == "kanner_mig_trygg" else np.zeros(n)
        y = 1 + ((eta + rng.logistic(size=n))[:, None] > cuts[None, :]).sum(axis=1)
        v = np.where(rng.random(n) < 0.04, "vet_ej", y.astype(str)).astype(object)
        v[~answered] = None
        items[item] = pd.array(v, dtype="str")
    return pd.DataFrame(
        {
            "enkat_id": [f"E{i:016x}" for i in range(n)],
            "kommun": pd.array(kommun, dtype="str"),
            "ar": pd.array(rng.integers(2020, 2026, n), dtype="Int64"),
            "kon": pd.array(kon, dtype="str"),
            "alder": pd.array(rng.integers(13, 21, n), dtype="Int64"),
            "enkatgrupp": pd.array(grp, dtype="str"),
            "besvarad": answered,
            **items,
        }
    )


@pytest.fixture(scope="module")
def survey_dataset(small_dataset, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("voice") / "data"
    manifest = dataset.read_manifest(small_dataset)
    tables = {
        name: dataset.read_table(small_dataset, name)
        for name in manifest.content["tables"]
        if name != "child_survey"
    }
    survey = _survey()
    tables["child_survey"] = survey
    dataset.write_dataset(tables, out, source="test_notebook_voice")
    return out, survey


@pytest.fixture(scope="module")
def reports(survey_dataset, kernel_ready, tmp_path_factory) -> dict[str, Path]:
    data_dir, _ = survey_dataset
    tmp = tmp_path_factory.mktemp("voice-run")
    out = {}
    for code in (LARGE, TINY):
        nb = pm.execute_notebook(
            str(NOTEBOOK),
            str(tmp / f"{code}.ipynb"),
            parameters={"kommun": code, "data_dir": str(data_dir)},
            kernel_name=kernel_ready,
            progress_bar=False,
            cwd=str(tmp),
        )
        out[code] = export_html(nb, tmp / f"{code}-60.html", title=f"Barns och ungas röst {code}")
    return out


def test_voice_report_is_clean_and_passes_the_release_gate(reports):
    for path in reports.values():
        text = path.read_text(encoding="utf-8")
        assert '<html lang="sv">' in text
        assert "Traceback" not in text and "Warning" not in text
        assert "<script" not in text.lower()
        assert not re.search(r"""(src|href)=["']https?://""", text)
        assert "load_settings" not in text and "import " not in text
        assert not re.search(r"E[0-9a-f]{16}", text)  # no survey id
    gate = check_release(list(reports.values()), min_count=5)
    assert gate.ok, gate.to_frame().to_string()


def test_voice_report_shows_the_recounted_share_agreeing_for_the_municipality(
    reports, survey_dataset
):
    _, survey = survey_dataset
    text = reports[LARGE].read_text(encoding="utf-8")
    assert "Stockholm" in text and "Stockholms län" in text and "Riket" in text
    own = survey[(survey["kommun"] == LARGE) & survey["besvarad"] & (survey["ar"] >= 2016)]
    answers = own["helhet"].dropna()
    substantive = answers[answers.isin(list("12345"))]
    share = substantive.isin(["4", "5"]).mean()
    row = text.split("Jag är nöjd med stödet, helhetsbedömning</th>", 1)[1]
    assert row.startswith(f'<td class="num">{format_percent(share)}</td>')
    # response rate of the municipality, recounted
    rate = format_percent(own.shape[0] / (survey["kommun"] == LARGE).sum())
    assert rate in text


def test_voice_report_model_shows_girls_lower_on_feeling_safe(reports):
    text = reports[LARGE].read_text(encoding="utf-8")
    models = text.split("Oddskvot att svara högre", 1)[1].split("</table>", 1)[0]
    row = models.split("Flickor jämfört med pojkar</th>", 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert len(cells) == 5
    odds, low, high = (
        float(x.replace(",", ".")) for x in re.match(r"(\S+) \((\S+)–(\S+)\)", cells[0]).groups()
    )
    assert high < 1 and abs(np.log(odds) - GIRL_SHIFT) < 0.4  # kanner_mig_trygg: planted
    for other in cells[1:]:  # nothing planted on the other items
        lo, hi = (
            float(x.replace(",", ".")) for x in re.search(r"\((\S+)–(\S+)\)", other).groups()
        )
        assert lo < 1.6 and hi > 0.6
    assert "Stockholm jämfört med övriga landet" in models


def test_tiny_municipality_gets_too_few_answers_and_no_values_of_its_own(reports):
    text = reports[TINY].read_text(encoding="utf-8")
    assert "För få svar" in text and "Ånge" in text
    # no column for the municipality: only the county and the nation
    assert ">Ånge</th>" not in text
    assert 'scope="colgroup">Västernorrlands län</th>' in text
    assert 'scope="colgroup">Riket</th>' in text and 'scope="colgroup">Ånge' not in text
    assert "Ånge jämfört med övriga landet" not in text


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


def test_voice_report_opens_in_a_browser_without_requests_or_errors_and_passes_axe(
    browser, reports
):
    try:
        axe = (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text(
            encoding="utf-8"
        )
    except ModuleNotFoundError:
        pytest.skip("axe-playwright-python not installed")
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(reports[LARGE].as_uri(), wait_until="load")
    images = page.evaluate(
        "Array.from(document.images).map(i => [i.naturalWidth, i.getAttribute('alt') || ''])"
    )
    page.evaluate(axe)
    results = page.evaluate(
        "axe.run(document, {resultTypes: ['violations'], runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    page.close()
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert errors == []
    assert len(images) == 4 and all(w > 100 and len(alt) > 40 for w, alt in images)
    blocking = [v["id"] for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert blocking == []
