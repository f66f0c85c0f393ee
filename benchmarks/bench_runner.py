"""Benchmark of the batch runner (issue 9): naive CLI loop vs ``workbench run`` vs a warm floor.

Two notebooks are measured, each on its own sample of municipalities:

* ``representative``: ``benchmarks/notebooks/representative.ipynb``, the issue's representative
  notebook (pandas + seaborn + statsmodels, two charts and one model, reading only its
  municipality's rows and columns from parquet). Its own work is small, so it measures what the
  runner adds: kernel start, imports, CLI start, export.
* ``10-follow-up``: the full follow-up report (about 20 tables and 17 charts per municipality,
  each beside its county and the nation). Its own work dominates; it measures how close the
  runner gets to the floor on a real report.

For each, in one run, on one machine, on a throw-away copy of the project (parameters, reference
data, notebooks) and its own cache:

* **(a) naive loop**: per municipality, the papermill CLI then the ``jupyter nbconvert`` CLI,
  one after another; the median per report is extrapolated to 290 municipalities;
* **(b) runner**: :func:`workbench.run.run_reports` (the Python API behind ``workbench run``)
  with ``jobs`` = cores, ``force=True``; then a no-change rerun of the same sample (every report
  skipped); with ``--all``, also all 290 municipalities and their no-change rerun;
* **(c) floor**: the report notebook's own code cells executed in this warm Python process
  (no Jupyter, no kernel, no HTML export), with each block rendered to HTML (tables and charts),
  per municipality; divided by the number of cores for the ideal parallel floor.

The shared national computations (linked-set disclosure control, national models) are cached
by the package itself; one untimed warm-up report fills the cache first, so all three measure
the per-report work. Peak memory is the largest resident set of the process tree (this process,
workers, kernels and CLIs, sampled with psutil every 0.1 s) and of any single process in it.

Data: ``data/demo`` if it exists (the national synthetic dataset), else a synthetic dataset
built here at ``--scale``. Never real data. Run from the repository root::

    .venv/bin/python benchmarks/bench_runner.py                       # both notebooks
    .venv/bin/python benchmarks/bench_runner.py --notebook representative --all   # + all 290
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
N_MUNICIPALITIES = 290
BIN = Path(sys.executable).parent
REPRESENTATIVE = REPO / "benchmarks" / "notebooks" / "representative.ipynb"
#: notebook -> default sample (the representative notebook is quick: a larger sample)
SAMPLES = {
    "representative": ["0180", "1480", "2281", "2262", "1280", "0380", "0580", "1880"],
    "10-follow-up": ["0180", "1480", "2281", "2262"],
}


class PeakMemory:
    """Largest RSS of this process plus all its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.tree_mb = 0.0
        self.single_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        rss = []
        for p in [me, *me.children(recursive=True)]:
            try:
                rss.append(p.memory_info().rss / 2**20)
            except psutil.Error:  # the process ended between listing and reading
                continue
        self.tree_mb = max(self.tree_mb, sum(rss))
        self.single_mb = max(self.single_mb, max(rss, default=0.0))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def make_project(dest: Path, data: Path) -> Path:
    for part in ("parameters", "data/reference", "notebooks/reports"):
        shutil.copytree(REPO / part, dest / part)
    # the runner builds notebooks from the project's report folder
    shutil.copy2(REPRESENTATIVE, dest / "notebooks/reports" / REPRESENTATIVE.name)
    defaults = dest / "parameters" / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("data_dir: data/demo", f"data_dir: {data}"))
    return dest


def use_project(project: Path, cache: Path) -> None:
    os.environ["WORKBENCH_ROOT"] = str(project)
    os.environ["WORKBENCH_CACHE"] = str(cache)


def notebook_cells(project: Path, notebook: str) -> list[str]:
    nb = json.loads((project / "notebooks/reports" / f"{notebook}.ipynb").read_text())
    return [
        "".join(c["source"])
        for c in nb["cells"]
        if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", [])
    ]


def render(value: Any) -> str:
    if hasattr(value, "_repr_mimebundle_"):
        bundle = value._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        return str(data.get("text/html", ""))
    if hasattr(value, "_repr_html_"):
        return str(value._repr_html_())
    return ""


def floor_one(cells: list[str], kommun: str) -> int:
    """Run the notebook's code cells in this process; returns the HTML characters rendered."""
    ns: dict[str, Any] = {"kommun": kommun, "period": "", "data_dir": "", "audience": ""}
    size = 0
    for src in cells:
        tree = ast.parse(src)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), ns)  # noqa: S102 - our own committed notebook
        if last is not None:
            size += len(render(eval(compile(ast.Expression(last.value), "<cell>", "eval"), ns)))
    return size


def naive_one(project: Path, out: Path, kommun: str, notebook: str) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    nb_out = out / f"{kommun}.ipynb"
    nb_in = project / "notebooks/reports" / f"{notebook}.ipynb"
    pm = [str(BIN / "papermill"), str(nb_in), str(nb_out), "-k", "workbench"]
    subprocess.run([*pm, "-r", "kommun", kommun, "--no-progress-bar"], env=env, check=True,
                   cwd=project, capture_output=True)  # fmt: skip
    subprocess.run(
        [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb_out)],
        env=env,
        check=True,
        cwd=project,
        capture_output=True,
    )


def runner(codes: list[str], *, notebook: str, jobs: int, force: bool) -> tuple[float, list[Any]]:
    from workbench.run import run_reports

    t0 = time.perf_counter()
    results = run_reports(codes, notebook=notebook, jobs=jobs, force=force)
    wall = time.perf_counter() - t0
    failed = [(r.kommun, r.error_type) for r in results if not r.ok]
    if failed:
        raise SystemExit(f"runner: failed reports {failed}")
    return wall, results


def bench_notebook(
    notebook: str, sample: list[str], *, data: Path, tmp: Path, jobs: int, run_all: bool
) -> dict[str, float]:
    """(a), (b), (c) for one notebook; prints a table and returns the ratios."""
    cache = tmp / f"cache-{notebook}"
    print(f"\n=== {notebook}: sample {sample}; jobs {jobs}; cores {psutil.cpu_count()}")

    # warm-up (untimed): fill the package's cache of national computations
    floor_proj = make_project(tmp / f"floor-{notebook}", data)
    use_project(floor_proj, cache)
    cells = notebook_cells(floor_proj, notebook)
    floor_one(cells, sample[0])

    # (c) the floor: the same cells in this warm process
    c_times = []
    with PeakMemory() as mem_c:
        for k in sample:
            t0 = time.perf_counter()
            floor_one(cells, k)
            c_times.append(time.perf_counter() - t0)
    c_med = statistics.median(c_times)

    # (a) the naive loop: papermill CLI + nbconvert CLI per municipality, serial
    naive_proj = make_project(tmp / f"naive-{notebook}", data)
    use_project(naive_proj, cache)
    out = tmp / f"naive-out-{notebook}"
    out.mkdir()
    a_times = []
    with PeakMemory() as mem_a:
        for k in sample:
            t0 = time.perf_counter()
            naive_one(naive_proj, out, k, notebook)
            a_times.append(time.perf_counter() - t0)
    a_med = statistics.median(a_times)

    # (b) the runner (pool start included), then a no-change rerun
    run_proj = make_project(tmp / f"runner-{notebook}", data)
    use_project(run_proj, cache)
    with PeakMemory() as mem_b:
        b_wall, b_res = runner(sample, notebook=notebook, jobs=jobs, force=True)
    b_per = b_wall / len(sample)
    t0 = time.perf_counter()
    _, rerun = runner(sample, notebook=notebook, jobs=jobs, force=False)
    b_rerun = time.perf_counter() - t0
    n_skipped = sum(r.skipped for r in rerun)

    print(f"\n{'step':58s} {'seconds':>9s} {'peak tree MB':>13s} {'peak 1 proc':>12s}")

    def row(label: str, sec: float, mem: PeakMemory | None = None) -> None:
        tree = f"{mem.tree_mb:13.0f}" if mem else f"{'':13s}"
        single = f"{mem.single_mb:12.0f}" if mem else f"{'':12s}"
        print(f"{label:58s} {sec:9.2f} {tree} {single}")

    row("(a) naive CLI loop, median per report", a_med, mem_a)
    row(f"(a) extrapolated to {N_MUNICIPALITIES}", a_med * N_MUNICIPALITIES)
    row(f"(b) workbench run, wall per report (jobs={jobs})", b_per, mem_b)
    row("(b)   median report time inside a worker", statistics.median(r.seconds for r in b_res))
    row(f"(b) extrapolated to {N_MUNICIPALITIES}", b_per * N_MUNICIPALITIES)
    row(f"(b) no-change rerun of the sample ({n_skipped}/{len(sample)} skipped)", b_rerun)
    kernels = [r.kernel_peak_mb for r in b_res if r.kernel_peak_mb]
    workers = [r.worker_peak_mb for r in b_res if r.worker_peak_mb]
    if kernels and workers:
        print(
            f"(b) peak memory: kernel median {statistics.median(kernels):.0f} MB, max "
            f"{max(kernels):.0f} MB; worker process max {max(workers):.0f} MB"
        )
    row("(c) floor, median per report, one warm process", c_med, mem_c)
    row(f"(c) floor per report over {jobs} cores", c_med / jobs)
    if run_all:
        from workbench.municipalities import list_municipalities

        codes = list(list_municipalities()["municipality_code"])
        with PeakMemory() as mem_all:
            all_wall, _ = runner(codes, notebook=notebook, jobs=jobs, force=False)
        row(f"(b) all {len(codes)} municipalities", all_wall, mem_all)
        t0 = time.perf_counter()
        _, again = runner(codes, notebook=notebook, jobs=jobs, force=False)
        n_again = sum(r.skipped for r in again)
        row(
            f"(b) no-change rerun of all ({n_again}/{len(codes)} skipped)",
            time.perf_counter() - t0,
        )
        # the sample's reports were already built: the batch built the others
        per_all = all_wall / max(1, len(codes) - len(sample))
        row("(b) all: wall per report built (pool start included)", per_all)
        print(
            f"{notebook}, all {len(codes)}: ratio (a)/(b) {a_med / per_all:5.1f}x (target >= 10x); "
            f"(b)/(c) {per_all / (c_med / jobs):5.1f}x (target <= 3x)"
        )
    ratios = {"a/b": a_med / b_per, "b/c": b_per / (c_med / jobs)}
    print(f"\n{notebook}, sample: ratio (a)/(b): {ratios['a/b']:5.1f}x   (target >= 10x)")
    print(f"{notebook}, sample: ratio (b)/(c): {ratios['b/c']:5.1f}x   (target <= 3x)")
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--notebook",
        action="append",
        choices=sorted(SAMPLES),
        help="notebook to measure (repeatable; default both)",
    )
    ap.add_argument("--kommun", action="append", help="sample municipality (repeatable)")
    ap.add_argument("--jobs", type=int, default=0, help="workers for (b); default: cores")
    ap.add_argument("--all", action="store_true", help="also run all 290 in (b)")
    ap.add_argument("--data", type=Path, help="canonical dataset (default data/demo)")
    ap.add_argument("--scale", type=float, default=1.0, help="synthetic volume if no data")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from workbench.run import default_jobs

    jobs = args.jobs or default_jobs()
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as tmp_s:
        tmp = Path(tmp_s)
        data = args.data or REPO / "data" / "demo"
        if not (data / "manifest.json").is_file():
            from workbench import synth

            data = tmp / "data"
            synth.build(data, synth.SynthConfig(scale=args.scale))
        print(f"data {data}")
        summary = {}
        for notebook in args.notebook or list(SAMPLES):
            sample = args.kommun or SAMPLES[notebook]
            summary[notebook] = bench_notebook(
                notebook, sample, data=data, tmp=tmp, jobs=jobs, run_all=args.all
            )
        print("\nsummary")
        for notebook, r in summary.items():
            print(f"  {notebook:16s} (a)/(b) {r['a/b']:5.1f}x   (b)/(c) {r['b/c']:5.1f}x")


if __name__ == "__main__":
    main()
