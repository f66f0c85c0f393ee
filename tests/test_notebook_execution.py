"""Report notebooks executed by papermill with the real 'workbench' kernel, exported to HTML.

Runs on small synthetic data made by the tests: a large municipality, a tiny one, and one with no
registrations at all. Key numbers in the HTML are checked against the data.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest

from workbench import dataset
from workbench.fmt import format_int
from workbench.report import export_html

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "reports" / "10-follow-up.ipynb"
EMPTY = "2283"  # Sollefteå: all its rows are removed in the `empty_dataset` fixture


@pytest.fixture(scope="module")
def empty_dataset(small_dataset, tmp_path_factory) -> Path:
    """The small dataset with every row of one municipality removed (an empty municipality)."""
    tables = {
        t: dataset.read_table(small_dataset, t).query("kommun != @EMPTY")
        for t in dataset.CORE_TABLES
    }
    out = tmp_path_factory.mktemp("empty") / "data"
    dataset.write_dataset(tables, out, source="test: small synthetic without 2283")
    return out


def _counts(data_dir: Path) -> pd.Series:
    reg = dataset.read_table(data_dir, "registrations", columns=["kommun"])
    return reg["kommun"].value_counts()


def _run(data_dir: Path, kommun: str, tmp_path: Path, kernel: str) -> str:
    out = tmp_path / f"{kommun}.ipynb"
    nb = pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"kommun": kommun, "data_dir": str(data_dir)},
        kernel_name=kernel,
        progress_bar=False,
        cwd=str(tmp_path),
    )
    html_path = export_html(nb, tmp_path / f"{kommun}.html", title=f"Rapport {kommun}")
    return html_path.read_text(encoding="utf-8")


def _assert_clean_html(text: str) -> None:
    assert '<html lang="sv">' in text
    assert "Traceback" not in text and "Warning" not in text
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)=["']https?://""", text), "external resource"
    assert "load_settings" not in text and "import " not in text  # no code


def test_report_for_large_municipality_shows_its_numbers(small_dataset, tmp_path, kernel_ready):
    text = _run(small_dataset, "0180", tmp_path, kernel_ready)
    _assert_clean_html(text)
    assert "Stockholm" in text and "Stockholms län" in text and "Riket" in text
    reg = dataset.read_table(small_dataset, "registrations", columns=["kommun", "ar"])
    per_year = reg[reg["kommun"] == "0180"]["ar"].value_counts()
    year = int(per_year.idxmax())
    # the year's count appears in the registrations table row of the municipality
    assert f'<th scope="row">{year}</th><td class="num">{format_int(per_year.max())}</td>' in text
    assert text.count("<img ") >= 10 and text.count('alt="Stapeldiagram') >= 10


def test_report_for_tiny_municipality_shows_only_county_and_nation(
    small_dataset, tmp_path, kernel_ready
):
    counts = _counts(small_dataset)
    tiny = counts[(counts > 0) & (counts < 10)]
    if tiny.empty:
        pytest.fail(
            "the small synthetic dataset should contain a municipality with 1-9 registrations"
        )
    code = str(tiny.index[0])
    text = _run(small_dataset, code, tmp_path, kernel_ready)
    _assert_clean_html(text)
    assert "För få registreringar" in text
    # its own count must not be published anywhere as a number next to its name
    assert "Riket" in text


def test_report_for_empty_municipality_is_clearly_labelled(empty_dataset, tmp_path, kernel_ready):
    text = _run(empty_dataset, EMPTY, tmp_path, kernel_ready)
    _assert_clean_html(text)
    assert "Inga registreringar" in text and "Sollefteå" in text


def test_national_report_is_the_same_template(small_dataset, tmp_path, kernel_ready):
    text = _run(small_dataset, "0000", tmp_path, kernel_ready)
    _assert_clean_html(text)
    total = len(dataset.read_table(small_dataset, "registrations", columns=["kommun"]))
    assert "hela riket" in text
    assert format_int(total) in text


def _papermill_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "papermill"
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_papermill_cli_by_hand_restores_integer_code(small_dataset, tmp_path, kernel_ready):
    out = tmp_path / "out.ipynb"
    res = _papermill_cli(
        [
            str(NOTEBOOK),
            str(out),
            "-k",
            kernel_ready,
            "-p",
            "kommun",
            "0180",
            "-p",
            "data_dir",
            str(small_dataset),
        ],
        tmp_path,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    text = out.read_text()
    assert "Stockholm" in text


def test_papermill_cli_with_yaml_octal_code_fails_at_once_naming_the_fix(
    small_dataset, tmp_path, kernel_ready
):
    params = tmp_path / "p.yaml"
    params.write_text(f"kommun: 0114\ndata_dir: {small_dataset}\n")  # unquoted: YAML reads 76
    out = tmp_path / "out.ipynb"
    res = _papermill_cli(
        [str(NOTEBOOK), str(out), "-k", kernel_ready, "-f", str(params)], tmp_path
    )
    assert res.returncode != 0
    text = out.read_text()
    assert "ParameterError" in text and "quoted string" in text
    import nbformat

    nb = nbformat.read(out, as_version=4)
    failed = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        and any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    assert failed and nb.cells[failed[0]].source.count("load_settings(") == 1  # the setup cell


def test_missing_data_directory_fails_with_clear_message(tmp_path, kernel_ready):
    out = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(
            str(NOTEBOOK),
            str(out),
            parameters={"kommun": "2281", "data_dir": str(tmp_path / "nope")},
            kernel_name=kernel_ready,
            progress_bar=False,
        )
    assert info.value.ename == "DatasetError"
    assert "does not exist" in info.value.evalue


def test_executed_notebooks_are_not_left_in_the_repository(root):
    tracked = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=root, capture_output=True, text=True
    )
    files = [f for f in tracked.stdout.split() if f]
    # templates only: report and exploratory notebooks, and the runner benchmark's notebook
    # (test_notebook_hygiene checks that none of them carries outputs)
    assert files and all(f.startswith(("notebooks/", "benchmarks/notebooks/")) for f in files)
    shutil.which("git")
