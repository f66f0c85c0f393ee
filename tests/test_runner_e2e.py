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

from workbench.release import check_release
from workbench.report import INTERNAL_BANNER

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
    # every public report has its suppression log next to it, named in the page
    for name in html:
        stem = name.removesuffix(".html")
        log = json.loads((period / f"{stem}.suppression.json").read_text(encoding="utf-8"))
        assert log["report"] == name and log["n_cells"] == len(log["cells"]) > 0
        assert log["rules"] == {"min_count": 5, "min_denominator": 10, "secondary": True}
        assert {c["table"] for c in log["cells"]} <= {
            "distribution",
            "registrations_by_year",
            "completeness",
            "completeness_trends",
            "investigation_time",
            "durations",
            "goal_attainment_by_type",
            "breakdown_by_type",
            "rereferral",
            "trends",
            "equal_care_maluppfyllelse",
            "equal_care_sammanbrott",
        }
        assert {c["rule"] for c in log["cells"]} <= {
            "primary",
            "secondary",
            "attribute",
            "denominator",
            "min_count",  # estimates (medians, model results) hidden for small groups
        }
        page = (period / name).read_text(encoding="utf-8")
        assert f'href="{stem}.suppression.json"' in page  # footer link
        assert ".suppression.json</code>" in page and "Röjandekontroll" in page  # appendix
        assert "INTERNT" not in page and INTERNAL_BANNER not in page
    # the release gate passes on what the runner published, warnings included
    gate = check_release([project / "reports"])
    assert gate.clean, [str(f) for f in gate.findings]


def test_gate_fails_a_published_report_once_a_count_shows_one_to_four(project, kernel_ready):
    res = _cli(project, "run", "--kommun", "2281")
    assert res.returncode == 0, res.stderr[-3000:]
    page = project / "reports/2016-2025/2281-sundsvall-10-follow-up.html"
    text = page.read_text(encoding="utf-8")
    start = text.index("<caption>Antal registreringar per år</caption>")
    row = text.index('<th scope="row">', start)
    cell = text.index('<td class="num">', row)
    end = text.index("</td>", cell)
    tampered = text[:cell] + '<td class="num">3' + text[end:]  # a count column of our markup
    bad = project / "tampered.html"
    bad.write_text(tampered, encoding="utf-8")
    gate = check_release([bad])
    assert [f.rule for f in gate.findings] == ["small-count"]
    assert gate.findings[0].location.endswith("row 3, column 2")  # first year, own municipality


LEAKY_CELL = (
    "from IPython.display import HTML\n"
    "HTML('<table><colgroup><col data-kind=\"count\"></colgroup><tr><td>3</td></tr></table>'\n"
    "     '<p>Barn 811218-9876</p><script src=\"https://cdn.example.org/x.js\"></script>'\n"
    "     '<pre>Traceback (most recent call last):</pre>')"
)


def test_runner_withholds_a_report_that_fails_the_release_gate(project, kernel_ready):
    nb = json.loads((project / "notebooks/reports/10-follow-up.ipynb").read_text())
    leak = {"cell_type": "code", "metadata": {}, "source": LEAKY_CELL, "outputs": []}
    leak["execution_count"] = None
    nb["cells"].insert(4, leak)
    (project / "notebooks/reports/98-leaky.ipynb").write_text(json.dumps(nb))
    res = _cli(project, "run", "--kommun", "2281", "--notebook", "98-leaky")
    out = res.stdout + res.stderr
    assert res.returncode == 1, out[-3000:]
    assert re.search(r"2281.*misslyckades.*ReleaseGateError", out), out[-3000:]
    assert "9876" not in out and "811218" not in out  # no value in any message
    period = project / "reports" / "2016-2025"
    assert not list(period.glob("*98-leaky*"))  # neither the HTML nor its log
    reports_json = period / "reports.json"
    assert not reports_json.exists() or "98-leaky" not in reports_json.read_text()
    run_dir = project / "runs/2016-2025/98-leaky"
    assert (run_dir / "2281-sundsvall-98-leaky.REJECTED.html").is_file()
    findings = (run_dir / "2281-sundsvall-98-leaky.release-findings.csv").read_text()
    for rule in ("small-count", "personnummer", "external-resource", "script", "traceback"):
        assert rule in findings
    assert "9876" not in findings


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
    assert not (project / "reports" / "2016-2025").exists()  # nothing published at all
    internal = list((project / "runs").rglob("*.INTERNAL.html"))
    assert len(internal) == 1
    text = internal[0].read_text()
    body = text[text.index("<body>") :]
    assert body.index(INTERNAL_BANNER) < body.index("<main")  # top of the page
    assert "@top-center" in text and INTERNAL_BANNER in text.split("</head>")[0]  # printing
    assert "<strong>Intern rapport.</strong>" in text  # the appendix says so too


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


def test_ingested_data_report_never_contains_key_or_identifiers(
    project, kernel_ready, tmp_path, small_dataset
):
    """From a synthetic export with personnummer to a published report: the key, the numbers
    and the case system's ids appear nowhere in reports/, runs/ or the ingest outputs."""
    import re as _re

    from workbench.dataset import load_registrations
    from workbench.ingest.exports import export_frame, write_csv
    from workbench.ingest.profile import load_profile

    source = load_registrations(small_dataset, kommuner=["2281"])
    export = export_frame(source, load_profile("treserva"), seed=11)
    export["Barnets namn"] = "Kanarie Fågelsson"
    f = write_csv(export, tmp_path / "export.csv", encoding="cp1252")
    key_file = tmp_path / "keys" / "pseudonym.key"
    env_key = {"WORKBENCH_KEY_FILE": str(key_file)}
    exe = Path(sys.executable).parent / "workbench"
    env = {**os.environ, "WORKBENCH_ROOT": str(project), **env_key}
    run = lambda *a: subprocess.run(  # noqa: E731
        [str(exe), *a], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    assert run("key", "init").returncode == 0
    out = tmp_path / "ingested"
    res = run("ingest", str(f), "--profile", "treserva", "--out", str(out), "--accept-quarantine")
    assert res.returncode == 0, res.stderr[-2000:]
    res = run("run", "--kommun", "2281", "--data-dir", str(out))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    secret = key_file.read_text().strip()
    forbidden = {secret, "Kanarie"}
    for p in export["Personnummer"]:
        digits = _re.sub(r"\D", "", p)
        forbidden |= {p, digits, digits[2:], f"{digits[2:8]}-{digits[8:]}"}
    forbidden |= set(export["Insats-id"]) | set(export["Registrerings-id"])
    blobs = []
    for folder in (project / "reports", project / "runs", out, Path(f"{out}-ingest")):
        blobs += [p.read_bytes() for p in folder.rglob("*") if p.is_file()]
    blobs += [res.stdout.encode(), res.stderr.encode()]
    text = b"\n".join(blobs)
    leaked = [s for s in forbidden if s.encode() in text]
    assert not leaked, f"{len(leaked)} forbidden strings found"
    gate = check_release([project / "reports"], forbidden=sorted(forbidden))
    assert gate.passed(strict=True), gate.summary()
