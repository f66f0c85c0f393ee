"""Benchmark of the comparison layer: all indicators x 290 municipalities x 10 years.

Generates the national synthetic dataset in memory (``workbench.synth``, fixed seed; nothing is
read from or written to the project's data or cache) and times, as the median of ``--repeat``
runs:

* **raw counts** -- numerator and denominator of every case indicator per municipality and
  year, plus the survey counts (:func:`workbench.indicators.case_counts`, ``survey_counts``);
* **protect** -- disclosure control of one linked set per year (each year as its own report
  period: 290 municipalities, 21 counties and the nation), reported for reference;
* **compare** -- for every year: published values with Wilson intervals, classification of every
  municipality against its county, the nation and its 10 similar municipalities, quartile groups
  and a funnel plot (limits and overdispersion) for every case indicator; plus the choice of
  similar municipalities. The target is under 10 seconds on 2 cores.

Times are printed with their ratio to the raw counts.

Run from the repository root::

    .venv/bin/python benchmarks/bench_compare.py              # scale 1 (300,000 registrations)
    .venv/bin/python benchmarks/bench_compare.py --scale 0.2 --repeat 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from workbench import compare, indicators, synth
from workbench.disclosure import DisclosureRules

YEARS = (2016, 2025)
TARGET_SECONDS = 10.0


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[Any]]:
    """Median wall time of ``repeat`` calls, and their results."""
    times, results = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times), results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="register volume multiplier")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)

    tables, _ = synth.generate(synth.SynthConfig(seed=args.seed, scale=args.scale))
    reg = tables["registrations"].merge(
        tables["interventions"].drop(columns=["kommun", "barn_id"]), on="insats_id"
    )
    ins, survey = tables["interventions"], tables["survey"]
    inds = indicators.load_indicators()
    case_ids = [i.id for i in inds.of_kind("case")]
    rules = DisclosureRules()

    def raw() -> pd.DataFrame:
        counts = indicators.case_counts(
            registrations=reg, interventions=ins, years=YEARS, as_of=f"{YEARS[1]}-12-31"
        )
        indicators.survey_counts(survey)
        return counts

    t_raw, counts = timed(raw, args.repeat)
    counts = counts[0]
    years = range(YEARS[0], YEARS[1] + 1)

    def protect() -> list[Any]:
        return [
            compare.protect_case_counts(
                indicators.linked_counts(counts[counts["ar"] == y], by_year=False), rules=rules
            )
            for y in years
        ]

    t_protect, protected = timed(protect, args.repeat)
    protected = protected[0]

    def comparisons() -> int:
        feats = compare.municipality_features(reg, years=YEARS)
        groups = compare.similar_municipalities(feats)
        rows = 0
        for pt in protected:
            values = compare.published_values(pt, indicators=inds)
            bench = compare.benchmarks(values, groups=groups)
            compare.quartiles(values)
            for ident in case_ids:
                compare.funnel(values, indicator=ident)
            rows += int((bench.data["klass"] != "").sum())
        return rows

    t_compare, classified = timed(comparisons, args.repeat)
    n_cells = len(counts)
    print(
        f"scale {args.scale}: {len(reg):,} registrations; {len(case_ids)} case indicators x "
        f"290 municipalities x {len(years)} years = {n_cells:,} municipality-years; "
        f"{classified[0]:,} classifications; median of {args.repeat} run(s)"
    )
    frame = pd.DataFrame(
        [
            {"stage": "raw counts", "seconds": t_raw, "ratio to raw counts": 1.0},
            {
                "stage": "protect (10 linked sets)",
                "seconds": t_protect,
                "ratio to raw counts": t_protect / t_raw,
            },
            {
                "stage": "compare (values, intervals, classes, quartiles, funnels)",
                "seconds": t_compare,
                "ratio to raw counts": t_compare / t_raw,
            },
        ]
    ).set_index("stage")
    with pd.option_context("display.float_format", "{:.2f}".format, "display.width", 120):
        print(frame.to_string())
    verdict = "meets" if t_compare < TARGET_SECONDS else "MISSES"
    print(f"compare {verdict} the target of {TARGET_SECONDS:.0f} s")
    return 0 if t_compare < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
