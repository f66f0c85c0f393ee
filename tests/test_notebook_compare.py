"""Notebook 30 (comparisons) executed by papermill with the real 'workbench' kernel.

Runs on the small synthetic dataset in a throw-away copy of the project (the notebook writes its
Excel appendix into the copy's publish zone): a large municipality, a tiny one and the nation.
Key numbers in the exported HTML are checked against a recount of the data, and the HTML and the
Excel appendix are passed through the release gate.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import papermill as pm
import pytest

from workbench import dataset
from workbench.fmt import format_percent
from workbench.release import check_release
from workbench.report import export_html

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


@pytest.fixture
def project(root, tmp_path, small_dataset, monkeypatch) -> Path:
    proj = tmp_path / "proj"
    for part in ("parameters", "data/reference", "notebooks/reports"):
        shutil.copytree(root / part, proj / part)
    defaults = proj / "parameters" / "defaults.yaml"
    defaults.write_text(
        defaults.read_text().replace("data_dir: data/demo", f"data_dir: {small_dataset}")
    )
    monkeypatch.setenv("WORKBENCH_ROOT", str(proj))  # the kernel inherits it
    return proj


def _run(project: Path, kommun: str, kernel: str) -> str:
    nb_in = project / "notebooks" / "reports" / "30-comparisons.ipynb"
    out = project / "runs" / f"{kommun}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    nb = pm.execute_notebook(
        str(nb_in),
        str(out),
        parameters={"kommun": kommun},
        kernel_name=kernel,
        progress_bar=False,
        cwd=str(project),
    )
    html = export_html(nb, project / "runs" / f"{kommun}.html", title=f"Jämförelser {kommun}")
    return html.read_text(encoding="utf-8")


def _assert_clean(text: str, html_path: Path) -> None:
    assert '<html lang="sv">' in text
    assert "Traceback" not in text and "Warning" not in text
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)=["']https?://""", text)
    assert "load_settings" not in text and "import " not in text
    gate = check_release([html_path], min_count=5)
    assert gate.ok, gate.to_frame().to_string()


def test_comparison_report_for_a_municipality_shows_its_numbers_and_writes_excel(
    project, small_dataset, kernel_ready
):
    text = _run(project, "2281", kernel_ready)
    _assert_clean(text, project / "runs" / "2281.html")
    assert "Sundsvall" in text and "Västernorrlands län" in text and "Riket" in text
    assert text.count('alt="Trattdiagram') == 8 and 'alt="Spindeldiagram' in text
    # the period share of goals fully attained, recounted from the registrations
    reg = dataset.read_table(small_dataset, "registrations", columns=["kommun", "maluppfyllelse"])
    own = reg.loc[reg["kommun"] == "2281", "maluppfyllelse"]
    valid = own.isin(["helt", "delvis", "inte_alls"]).fillna(False)
    share = (own[valid] == "helt").mean()
    cell = f'<th scope="row">Målen helt uppfyllda</th><td class="num">{format_percent(share)}</td>'
    assert cell in text
    xlsx = project / "reports" / "2016-2025" / "2281-sundsvall-30-comparisons.xlsx"
    assert xlsx.is_file()
    assert check_release([xlsx], min_count=5).ok
    assert 'href="2281-sundsvall-30-comparisons.xlsx"' in text


def test_comparison_report_for_a_tiny_municipality_classifies_nothing(
    project, small_dataset, kernel_ready
):
    reg = dataset.read_table(small_dataset, "registrations", columns=["kommun"])
    counts = reg["kommun"].value_counts()
    tiny = counts[(counts > 0) & (counts < 10)]
    if tiny.empty:
        pytest.fail(
            "the small synthetic dataset should contain a municipality with 1-9 registrations"
        )
    code = str(tiny.index[0])
    text = _run(project, code, kernel_ready)
    _assert_clean(text, project / "runs" / f"{code}.html")
    overview = text.split("Översikt", 1)[1].split("</table>", 1)[0]
    assert "För litet underlag" in overview
    assert ">Bättre<" not in overview and ">Sämre<" not in overview


def test_national_comparison_report_runs(project, kernel_ready):
    text = _run(project, "0000", kernel_ready)
    _assert_clean(text, project / "runs" / "0000.html")
    assert "hela riket" in text and "Länen jämfört med riket" in text
    assert "Stockholms län" in text and "Norrbottens län" in text
    assert (project / "reports" / "2016-2025" / "0000-riket-30-comparisons.xlsx").is_file()
