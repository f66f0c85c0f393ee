"""Batch runner (issue 9): parallel and executor-agnostic, incremental, per-report timeout.

Kernel tests run real papermill kernels on a copy of the project with the small synthetic dataset
(never real data); each builds at most four small reports.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from workbench.params import ParameterError, load_settings
from workbench.run import (
    ReportTask,
    RunResult,
    _Deadline,
    notebook_path,
    report_inputs,
    run_reports,
    run_task,
    up_to_date,
)

PERIOD_DIR = "2016-2025"


def _make_project(root: Path, dest: Path, data: Path) -> Path:
    for part in ("parameters", "data/reference", "notebooks/reports"):
        shutil.copytree(root / part, dest / part)
    defaults = dest / "parameters" / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("data_dir: data/demo", f"data_dir: {data}"))
    return dest


@pytest.fixture
def project(root, tmp_path, small_dataset, monkeypatch) -> Path:
    """A throw-away project folder using the small dataset; the runner works inside it."""
    proj = _make_project(root, tmp_path / "proj", small_dataset)
    monkeypatch.setenv("WORKBENCH_ROOT", str(proj))
    return proj


def _published(proj: Path) -> dict[str, bytes]:
    """Published pages and suppression logs (reports.json lists them in arrival order)."""
    folder = proj / "reports" / PERIOD_DIR
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "reports.json"}


def _same_code(before: str) -> None:
    """Skips are only expected while src/workbench is unchanged (its digest is an input)."""
    assert report_inputs("0000").parts["package"] == before, (
        "src/workbench was edited while the test ran: rebuilding is then the right answer"
    )


def _edit_notebook(proj: Path, name: str = "10-follow-up") -> None:
    """Change the notebook file's bytes without changing what it computes."""
    path = proj / "notebooks" / "reports" / f"{name}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"]["workbench_test_edit"] = True
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


# -- no kernel -----------------------------------------------------------------------------------
def test_report_inputs_digest_is_stable_and_changes_with_each_input(project):
    base = report_inputs("2281")
    other = report_inputs("2262")
    assert report_inputs("2281").digest == base.digest  # same inputs, same digest
    assert set(base.parts) == {
        "data",
        "settings",
        "notebook",
        "package",
        "reference",
        "audience",
    }
    assert other.digest != base.digest  # another municipality's settings
    internal = report_inputs("2281", audience="internal")
    assert internal.parts["audience"] != base.parts["audience"]
    assert internal.digest != base.digest
    assert report_inputs("2281", period="2020-2025").parts["settings"] != base.parts["settings"]
    _edit_notebook(project)
    edited = report_inputs("2281")
    assert edited.parts["notebook"] != base.parts["notebook"]
    assert {k for k in base.parts if edited.parts[k] != base.parts[k]} == {"notebook"}
    mfile = project / "parameters" / "municipalities" / "2281-sundsvall.yaml"
    mfile.write_text(mfile.read_text() + "min_registrations: 50\n", encoding="utf-8")
    assert report_inputs("2281").parts["settings"] != edited.parts["settings"]
    # 2262 saw the notebook change only
    assert report_inputs("2262").parts["settings"] == other.parts["settings"]


def test_report_inputs_defaults_change_every_municipality(project):
    before = {k: report_inputs(k).digest for k in ("2281", "0000")}
    defaults = project / "parameters" / "defaults.yaml"
    defaults.write_text(
        defaults.read_text().replace("min_registrations: 10", "min_registrations: 11")
    )
    after = {k: report_inputs(k).digest for k in ("2281", "0000")}
    assert all(before[k] != after[k] for k in before)


def test_up_to_date_is_false_without_published_outputs(project):
    settings = load_settings(kommun="2281")
    assert up_to_date(settings, notebook_path("10-follow-up")) is None


def test_deadline_never_returns_less_than_one_second():
    # nbclient reads a timeout of 0 or below as "wait forever" (nbclient.client._get_timeout)
    spent = _Deadline(0.0)
    assert spent({"id": "abc"}) == 1
    assert spent.cell_id == "abc"
    assert 59 <= _Deadline(60)({"id": "x"}) <= 60


def test_run_task_turns_a_bad_task_into_a_failed_result(project):
    task = ReportTask("2281", "no-such-notebook", "", "", "", 60, str(project), str(project / "c"))
    res = run_task(task)
    assert isinstance(res, RunResult)
    assert (res.ok, res.skipped, res.error_type, res.html) == (
        False,
        False,
        "ParameterError",
        None,
    )


def test_run_reports_rejects_a_bad_code_before_any_work(project):
    with pytest.raises(ParameterError):
        run_reports(["2281", "9999"], jobs=2)
    assert not (project / "runs").exists()


# -- with kernels --------------------------------------------------------------------------------
@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_run_reports_output_is_identical_whatever_jobs_order_and_executor(
    root, tmp_path, small_dataset, kernel_ready, monkeypatch
):
    """RELIABILITY.md: same inputs give byte-identical HTML whatever the worker count or order,
    and whether kernels are started cold or forked warm.

    The HTML carries no generated_at field (two serial runs were found byte-identical), so the
    whole files are compared. The first batch runs serially with ordinary (cold) kernels; the
    second runs reversed, with warm kernels, on a process pool passed in, with its own empty
    cache, so its workers recompute the national tables themselves.
    """
    codes = ["2281", "2262", "2260"]
    serial = _make_project(root, tmp_path / "serial", small_dataset)
    monkeypatch.setenv("WORKBENCH_ROOT", str(serial))
    monkeypatch.setenv("WORKBENCH_WARM_KERNELS", "0")
    code = report_inputs("0000").parts["package"]
    res1 = run_reports(codes, jobs=1)
    assert [r.kommun for r in res1] == codes and all(r.ok for r in res1)

    parallel = _make_project(root, tmp_path / "parallel", small_dataset)
    monkeypatch.delenv("WORKBENCH_WARM_KERNELS")
    monkeypatch.setenv("WORKBENCH_ROOT", str(parallel))
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "parallel-cache"))
    arrived: list[str] = []
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    try:
        res2 = run_reports(
            codes[::-1], executor=pool, on_result=lambda r: arrived.append(r.kommun)
        )
        assert pool.submit(int, "7").result() == 7  # the caller's executor is left running
    finally:
        pool.shutdown()
    assert [r.kommun for r in res2] == codes[::-1]  # results in the order asked for
    assert sorted(arrived) == sorted(codes)
    assert all(r.ok and not r.skipped for r in res2), [(r.kommun, r.error_type) for r in res2]
    assert list((tmp_path / "parallel-cache").glob("protected-*"))  # the workers' own cache
    if sys.platform == "linux":  # peak memory per report's kernel and per worker (issue 9)
        assert all(r.kernel_peak_mb and r.kernel_peak_mb > 50 for r in res1 + res2)
        assert all(r.worker_peak_mb and r.worker_peak_mb > 50 for r in res2)
    _same_code(code)
    one, two = _published(serial), _published(parallel)
    assert sorted(one) == sorted(two) and len(one) == 6  # 3 pages + 3 suppression logs
    differing = [name for name in one if one[name] != two[name]]
    assert not differing
    listing = json.loads((parallel / "reports" / PERIOD_DIR / "reports.json").read_text())
    assert sorted(i["kommun"] for i in listing) == sorted(codes)


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_run_reports_skips_unchanged_and_rebuilds_only_changed_parameters(project, kernel_ready):
    codes = ["2281", "2262"]
    code = report_inputs("0000").parts["package"]
    first = run_reports(codes, jobs=1)
    assert [(r.ok, r.skipped) for r in first] == [(True, False)] * 2
    run_dir = project / "runs" / PERIOD_DIR / "10-follow-up"
    stored = json.loads((run_dir / "2281-sundsvall.inputs.json").read_text())
    _same_code(code)
    assert stored["digest"] == report_inputs("2281").digest
    executed = {p.name: p.stat().st_mtime_ns for p in run_dir.glob("*.ipynb")}

    plans: list[tuple[int, int]] = []
    _same_code(code)
    second = run_reports(codes, jobs=1, on_plan=lambda n, s: plans.append((n, s)))
    assert plans == [(0, 2)]
    assert [(r.ok, r.skipped, r.status) for r in second] == [(True, True, "oförändrad")] * 2
    assert [r.html for r in second] == [r.html for r in first]
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.glob("*.ipynb")} == executed

    mfile = project / "parameters" / "municipalities" / "2281-sundsvall.yaml"
    mfile.write_text(mfile.read_text() + "min_registrations: 12\n", encoding="utf-8")
    _same_code(code)
    third = run_reports(codes, jobs=1)
    assert [(r.kommun, r.skipped) for r in third] == [("2281", False), ("2262", True)]
    assert third[0].ok

    # a published page that disappeared is rebuilt, whatever the stored digest says
    (project / "reports" / PERIOD_DIR / "2262-timra-10-follow-up.html").unlink()
    assert up_to_date(load_settings(kommun="2262"), notebook_path("10-follow-up")) is None


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_run_reports_rebuilds_after_notebook_edit_and_with_force(project, kernel_ready):
    code = report_inputs("0000").parts["package"]
    first = run_reports(["2262"], jobs=1)
    assert first[0].ok and not first[0].skipped
    _edit_notebook(project)
    assert run_reports(["2262"], jobs=1)[0].skipped is False
    _same_code(code)
    assert run_reports(["2262"], jobs=1)[0].skipped is True
    forced = run_reports(["2262"], jobs=1, force=True)
    assert forced[0].ok and forced[0].skipped is False


SLEEPY_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "params",
            "metadata": {"tags": ["parameters"]},
            "outputs": [],
            "source": 'kommun: str = "0000"\nperiod: str = ""\ndata_dir: str = ""\n'
            'audience: str = ""',
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "fast",
            "metadata": {},
            "outputs": [],
            "source": "x = 1",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "sleepy",
            "metadata": {},
            "outputs": [],
            "source": "import time\ntime.sleep(120)",
        },
    ],
    "metadata": {
        "kernelspec": {"name": "workbench", "display_name": "workbench", "language": "python"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_run_reports_stops_a_report_that_exceeds_its_timeout(project, kernel_ready):
    nb_path = project / "notebooks" / "reports" / "97-sleepy.ipynb"
    nb_path.write_text(json.dumps(SLEEPY_NOTEBOOK), encoding="utf-8")
    (res,) = run_reports(["2262"], notebook="97-sleepy", timeout=4, jobs=1)
    assert (res.ok, res.error_type) == (False, "CellTimeoutError")
    assert res.seconds < 60  # stopped long before the cell's two minutes
    executed = json.loads(res.notebook.read_text(encoding="utf-8"))
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert "time.sleep" in "".join(code[res.error_cell - 1]["source"])
    assert not list((project / "reports").rglob("*97-sleepy*"))
    assert not (res.notebook.with_suffix(".inputs.json")).exists()  # rebuilt next time


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_run_reports_on_a_dask_local_cluster_gives_the_same_reports(
    root, tmp_path, small_dataset, kernel_ready, monkeypatch
):
    """docs/runner.md: a Dask distributed executor (here a local cluster of two worker
    processes) builds the same reports, byte for byte, as a serial run in this process."""
    distributed = pytest.importorskip("distributed")
    codes = ["2262", "2260"]
    serial = _make_project(root, tmp_path / "serial", small_dataset)
    monkeypatch.setenv("WORKBENCH_ROOT", str(serial))
    code = report_inputs("0000").parts["package"]
    assert all(r.ok for r in run_reports(codes, jobs=1))

    on_dask = _make_project(root, tmp_path / "dask", small_dataset)
    monkeypatch.setenv("WORKBENCH_ROOT", str(on_dask))
    # the session's cache of national tables (test_..._identical_... covers workers that
    # recompute them): the Dask workers get its location from the batch's tasks
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with client.get_executor(pure=False) as ex:
            res = run_reports(codes, executor=ex)
        workers = set(client.run(lambda: __import__("os").getpid()).values())
    assert all(r.ok and not r.skipped for r in res), [(r.kommun, r.error_type) for r in res]
    assert len(workers) == 2
    _same_code(code)
    one, two = _published(serial), _published(on_dask)
    assert sorted(one) == sorted(two) and len(one) == 4
    assert [name for name in one if one[name] != two[name]] == []


def test_notebook_title_is_the_templates_first_heading(root):
    import nbformat

    from workbench.run import DEFAULT_TITLE, notebook_title

    nb = nbformat.read(root / "notebooks/reports/30-comparisons.ipynb", as_version=4)
    assert notebook_title(nb) == "Jämförelser mellan kommuner"
    nb.cells = [c for c in nb.cells if c.cell_type == "code"]
    assert notebook_title(nb) == DEFAULT_TITLE
