"""Benchmark of the follow-up analysis on the national synthetic dataset (all 290 municipalities).

Reads the demo dataset (``data/demo``; built with ``workbench.synth.build`` when missing, about
five seconds) and times, as the median of ``--repeat`` runs:

* **read** -- ``load_registrations`` + ``load_interventions`` (the baseline of the ratios);
* **descriptives** -- every report variable for every municipality, county and the nation, per
  year and for the whole period (gross), and the background variables counted as children (net);
* **completeness** -- every recorded variable, per year;
* **outcomes** -- goal attainment and endings by intervention type, re-referral by KKiK age band;
* **durations** -- investigation time, Kaplan–Meier intervention length by type, time to
  follow-up;
* **trends** -- a Cochran–Armitage test for every unit x variable x code series of the
  descriptives, with Benjamini–Hochberg q-values;
* **models** -- the equal-care regressions for goal attainment and breakdown (national, cluster-
  robust by municipality) and goal attainment stratified by intervention type.

Every step computes all units at once (groupby over municipalities), so the ratio to the read
time stays small; a loop that re-read data per municipality would be about 290 x the read time.
A separate pass measures each step's peak traced memory with ``tracemalloc`` (not timed), and
the process's peak resident memory is printed at the end.

Run from the repository root::

    .venv/bin/python benchmarks/bench_analysis.py            # 3 runs per step
    .venv/bin/python benchmarks/bench_analysis.py --repeat 1 --data-dir /tmp/other
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import analysis, dataset, models, paths, synth
from workbench.catalogue import load_catalogue
from workbench.views import report_variables

BACKGROUND = ["kon", "aldersgrupp", "ursprung", "ensamkommande", "identifierad_utsatthet"]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def peak_traced_mb(fn: Callable[[], Any]) -> float:
    """Peak memory traced by tracemalloc during one call, in MB (numpy and pandas buffers)."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def rows_of(result: Any) -> int:
    if isinstance(result, pd.DataFrame):
        return len(result)
    if isinstance(result, tuple | list):
        return sum(rows_of(r) for r in result)
    if isinstance(result, models.EqualCareResult):
        return len(result.estimates)
    return 0


def steps(data: pd.DataFrame, ins: pd.DataFrame, as_of: str) -> dict[str, Callable[[], Any]]:
    names = report_variables()
    cat = load_catalogue()
    recorded = [v.name for v in cat.variables.values() if not v.derived and v.type != "integer"]
    described: dict[str, pd.DataFrame] = {}

    def descriptives() -> tuple[pd.DataFrame, pd.DataFrame]:
        gross = analysis.describe(data, names)
        described["gross"] = gross
        net = analysis.describe(data, BACKGROUND, count="barn")
        return gross, net

    def trends() -> pd.DataFrame:
        table = described.get("gross")
        if table is None:
            table = analysis.describe(data, names)
        return analysis.indicator_trends(table)

    return {
        "descriptives": descriptives,
        "completeness": lambda: analysis.completeness(data, recorded),
        "outcomes": lambda: (
            analysis.goal_attainment(data),
            analysis.endings(data),
            analysis.rereferral(data),
        ),
        "durations": lambda: (
            analysis.investigation_times(ins, as_of=as_of),
            analysis.intervention_durations(ins, as_of=as_of),
            analysis.time_to_follow_up(ins, as_of=as_of),
        ),
        "trends": trends,
        "models": lambda: (
            models.equal_care(data, outcome="maluppfyllelse"),
            models.equal_care(data, outcome="sammanbrott"),
            models.equal_care(data, outcome="maluppfyllelse", within="insatstyp"),
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="canonical dataset (default data/demo)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    args = parser.parse_args(argv)

    data_dir = args.data_dir or paths.demo_data_dir()
    if not (data_dir / "manifest.json").is_file():
        print(f"{data_dir} has no dataset: building the national synthetic dataset …")
        synth.build(data_dir)
    as_of = dataset.read_manifest(data_dir).data_date

    def read() -> tuple[pd.DataFrame, pd.DataFrame]:
        return dataset.load_registrations(data_dir), analysis.load_interventions(data_dir)

    t_read, (data, ins) = timed(read, args.repeat)
    print(
        f"{len(data):,} registrations, {len(ins):,} interventions, "
        f"{data['kommun'].nunique()} municipalities; median of {args.repeat} run(s)"
    )
    results = []
    for name, fn in steps(data, ins, as_of).items():
        t, out = timed(fn, args.repeat)
        results.append(
            {"step": name, "seconds": t, "ratio to read": t / t_read, "rows out": rows_of(out)}
        )
    total = sum(r["seconds"] for r in results)
    results.append(
        {"step": "all analysis", "seconds": total, "ratio to read": total / t_read, "rows out": 0}
    )
    results.insert(0, {"step": "read", "seconds": t_read, "ratio to read": 1.0, "rows out": 0})
    if not args.no_memory:
        mem = {"read": peak_traced_mb(read)}
        for name, fn in steps(data, ins, as_of).items():
            mem[name] = peak_traced_mb(fn)
        for r in results:
            r["peak traced MB"] = mem.get(r["step"], float("nan"))
    frame = pd.DataFrame(results).set_index("step")
    with pd.option_context("display.float_format", "{:.2f}".format, "display.width", 120):
        print(frame.to_string())
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(f"peak resident memory of the process: {peak_rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
