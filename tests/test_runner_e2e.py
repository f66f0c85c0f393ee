"""End to end: `workbench run` + index on a copy of the project, with real papermill and kernels."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


@pytest.fixture
def project(root, tmp_path, small_dataset) -> Path:
    """A throw-away project folder (parameters, reference data, notebooks) using the small data."""
    proj = tmp_path / "proj"
    for part in ("parameters", "data/reference", "notebooks/reports"):
        shutil.copytree(root / part, proj / part)
    defaults = proj / "parameters" / "defaults.yaml"
    defaults.write_text(
        defaults.read_text().replace("data_dir: data/demo", f"data_dir: {small_dataset}")
    )
    return proj


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "workbench"
    env = {**os.environ, "WORKBENCH_ROOT": str(project)}
    return subprocess.run(
        [str(exe), *args], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )


def test_run_two_municipalities_publishes_html_and_index(project, kernel_ready):
    res = _cli(project, "run", "--kommun", "2281", "--kommun", "2262")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    period = project / "reports" / "2016-2025"
    html = sorted(p.name for p in period.glob("*.html"))
    assert html == ["2262-timra-10-follow-up.html", "2281-sundsvall-10-follow-up.html"]
    index = (project / "reports" / "index.html").read_text()
    for name in html:
        assert f'href="2016-2025/{name}"' in index
    assert "Sundsvall" in index and "Timrå" in index
    # executed notebooks are internal: in runs/, never in reports/
    assert sorted(
        p.name for p in (project / "runs" / "2016-2025" / "10-follow-up").glob("*.ipynb")
    ) == ["2262-timra.ipynb", "2281-sundsvall.ipynb"]
    assert not list((project / "reports").rglob("*.ipynb"))
    assert "reports" in res.stderr + res.stdout  # says where the reports are
    listing = json.loads((period / "reports.json").read_text())
    assert {i["kommun"] for i in listing} == {"2281", "2262"}


def test_one_failing_municipality_does_not_stop_the_others(project, kernel_ready):
    nb = json.loads((project / "notebooks/reports/10-follow-up.ipynb").read_text())
    # a report notebook that fails in the kernel for Timrå only
    nb["cells"][2]["source"] += '\nassert settings.kommun != "2262", "planted failure"'
    (project / "notebooks/reports/99-fails.ipynb").write_text(json.dumps(nb))
    res = _cli(project, "run", "--kommun", "2262", "--kommun", "2281", "--notebook", "99-fails")
    assert res.returncode == 1
    out = res.stdout + res.stderr
    assert "AssertionError" in out and "planted failure" not in out  # type only, never the message
    m = re.search(r"2262.*misslyckades.*AssertionError, cell (\d+)", out)
    assert m, out
    executed = json.loads((project / "runs/2016-2025/99-fails/2262-timra.ipynb").read_text())
    code_cells = [c for c in executed["cells"] if c["cell_type"] == "code"]
    failing = code_cells[int(m.group(1)) - 1]
    assert "planted failure" in "".join(failing["source"])
    period = project / "reports" / "2016-2025"
    assert [p.name for p in period.glob("*.html")] == ["2281-sundsvall-99-fails.html"]


def test_internal_audience_is_never_written_to_reports(project, kernel_ready):
    res = _cli(project, "run", "--kommun", "2281", "--audience", "internal")
    assert res.returncode == 0, res.stderr[-3000:]
    assert not list((project / "reports").rglob("*.html")) or not list(
        (project / "reports").rglob("*INTERNAL*")
    )
    internal = list((project / "runs").rglob("*.INTERNAL.html"))
    assert len(internal) == 1
    assert "INTERNT" in internal[0].read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--kommun", "9999"], "Unknown municipality code"),
        (["run", "--lan", "99"], "Unknown county code"),
        (["run", "--kommun", "2281", "--period", "2025-2016"], "period"),
        (["run", "--kommun", "2281", "--data-dir", "/nonexistent/x"], "does not exist"),
        (["run"], "--kommun"),
    ],
)
def test_runner_rejects_bad_input_before_starting_kernels(project, args, message):
    res = _cli(project, *args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert not (project / "runs").exists()
