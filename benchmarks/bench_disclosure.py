"""Benchmark of disclosure control on a national synthetic linked set.

Builds the two linked sets a follow-up report protects, from synthetic registrations generated
here (fixed seed, no real data, nothing read from or written to the project's data or cache):

* **main**: the distribution of every report variable plus registrations per year, for all 290
  municipalities, 21 counties and the nation (about 40,000 rows);
* **completeness**: known / unknown / empty for every recorded variable (about 26,000 rows, all
  variables sharing one population).

For each it times computing the raw counts, ``protect_linked`` and ``audit_lp`` (median of
``--repeat`` runs), checks that the audit passes and that every run gives the same suppression
pattern, and prints the times as a ratio to the raw counts.

Run from the repository root::

    .venv/bin/python benchmarks/bench_disclosure.py            # 30,000 registrations, 3 runs
    .venv/bin/python benchmarks/bench_disclosure.py --rows 10000 --repeat 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import dataset
from workbench.catalogue import load_catalogue
from workbench.disclosure import audit_lp, protect_linked
from workbench.followup import UNIT, completeness, distribution, registrations_by_year
from workbench.municipalities import hierarchy, list_municipalities
from workbench.views import report_variables

PERIOD = (2016, 2025)


def synthetic_dataset(path: Path, *, rows: int, seed: int) -> None:
    """Write a canonical dataset of ``rows`` children, interventions and registrations.

    Values are drawn uniformly from each code list; municipalities get log-normal weights so that
    many of them are small (many small cells, as in real data).
    """
    rng = np.random.default_rng(seed)
    cat = load_catalogue()
    kom = list_municipalities()["municipality_code"].to_numpy()

    def ids(prefix: str, n: int) -> list[str]:
        return [f"{prefix}{x:016x}" for x in rng.integers(0, 2**63, n)]

    w = rng.lognormal(0, 1.2, len(kom))
    k = rng.choice(kom, rows, p=w / w.sum())
    children = pd.DataFrame({"barn_id": ids("B", rows), "kommun": k})
    for v in cat.of_table("children"):
        if v.type == "code":
            children[v.name] = rng.choice(v.codelist.code_values, rows)
        elif v.type == "integer":
            children[v.name] = rng.integers(2000, 2020, rows)
    inter = pd.DataFrame(
        {"insats_id": ids("I", rows), "barn_id": children["barn_id"], "kommun": k}
    )
    d0 = pd.Timestamp(f"{PERIOD[0]}-01-01") + pd.to_timedelta(rng.integers(0, 3500, rows), "D")
    for v in cat.of_table("interventions"):
        if v.type == "code" and v.codelist:
            inter[v.name] = rng.choice(v.codelist.code_values, rows)
        elif v.type == "multi":
            for c in v.columns:
                inter[c] = rng.random(rows) < 0.3
        elif v.type == "date":
            inter[v.name] = d0
    inter["insatsgrupp"] = inter["insatstyp"].map(cat.groups("insatstyp"))
    reg = pd.DataFrame(
        {
            "registrering_id": ids("R", rows),
            "insats_id": inter["insats_id"],
            "barn_id": children["barn_id"],
            "kommun": k,
        }
    )
    for v in cat.of_table("registrations"):
        if v.type == "code" and v.codelist:
            reg[v.name] = rng.choice(v.codelist.code_values, rows)
        elif v.type == "multi":
            for c in v.columns:
                reg[c] = rng.random(rows) < 0.3
        elif v.type == "date":
            reg[v.name] = d0
        elif v.type == "integer":
            reg[v.name] = rng.integers(0, 20, rows)
        elif v.type == "boolean":
            reg[v.name] = pd.array(rng.random(rows) < 0.2, dtype="boolean")
    reg["ar"] = reg["registreringsdatum"].dt.year
    reg["aldersgrupp"] = pd.cut(
        reg["alder"], [-1, 6, 12, 17, 20], labels=["0-6", "7-12", "13-17", "18-20"]
    ).astype(str)
    reg.loc[reg["registreringstyp"] != "avslut", ["avslutsorsak", "aterkomst_12man"]] = None
    vig = pd.DataFrame(
        {
            "vinjett_id": ids("V", 10),
            "bedomare_id": ids("S", 10),
            "kommun": kom[:10],
            "variabel": "kon",
            "varde": "pojke",
        }
    )
    sur = pd.DataFrame(
        {"kommun": kom, "ar": 2020, "fraga": "bbic_licens", "besvarad": True, "svar": True}
    )
    dataset.write_dataset(
        {
            "children": children,
            "interventions": inter,
            "registrations": reg,
            "vignette_ratings": vig,
            "survey": sur,
        },
        path,
        source="benchmark (synthetic)",
        extra={"data_date": f"{PERIOD[1]}-12-31", "synthetic": True},
    )


def main_counts(data: pd.DataFrame) -> pd.DataFrame:
    frames = [distribution(data, v) for v in report_variables()]
    frames.append(registrations_by_year(data, years=PERIOD))
    return pd.concat(frames, ignore_index=True)


def completeness_counts(data: pd.DataFrame) -> pd.DataFrame:
    names = [v.name for v in load_catalogue().variables.values() if not v.derived]
    return completeness(data, names)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[Any]]:
    """Median wall time of ``repeat`` calls, and their results."""
    times, results = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times), results


def bench(name: str, build: Callable[[], pd.DataFrame], additive: dict[str, bool], repeat: int):
    t_raw, tables = timed(build, repeat)
    counts = tables[0]
    hier = hierarchy()
    t_protect, protected = timed(
        lambda: protect_linked(counts, unit=UNIT, hierarchy=hier, additive_codes=additive),
        repeat,
    )
    logs = [p.log for p in protected]
    if not all(log.equals(logs[0]) for log in logs[1:]):
        raise SystemExit(f"{name}: protect_linked gave different patterns across runs")
    table = protected[0]
    t_audit, audits = timed(lambda: audit_lp(table), repeat)
    audit = audits[0]
    if not audit.ok:
        raise SystemExit(f"{name}: the LP audit failed on {len(audit.failures)} cell(s)")
    small = int(((table.data["n"] >= 1) & (table.data["n"] < table.rules.min_count)).sum())
    return {
        "table": name,
        "rows": len(counts),
        "small counts": small,
        "attribute": int((table.data["rule"] == "attribute").sum()),
        "suppressed": int(table.data["suppressed"].sum()),
        "raw counts s": t_raw,
        "protect s": t_protect,
        "audit s": t_audit,
        "protect / raw": t_protect / t_raw,
        "audit / raw": t_audit / t_raw,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=30_000, help="synthetic registrations")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-disclosure-") as tmp:
        synthetic_dataset(Path(tmp), rows=args.rows, seed=args.seed)
        data = dataset.load_registrations(tmp, years=PERIOD)
    cat = load_catalogue()
    names = report_variables()
    additive_main = {v: cat.variable(v).type != "multi" for v in names} | {"ar": True}
    additive_completeness = dict.fromkeys(
        (v.name for v in cat.variables.values() if not v.derived), True
    )
    results = [
        bench("main", lambda: main_counts(data), additive_main, args.repeat),
        bench(
            "completeness",
            lambda: completeness_counts(data),
            additive_completeness,
            args.repeat,
        ),
    ]
    frame = pd.DataFrame(results).set_index("table")
    print(f"{args.rows} synthetic registrations, median of {args.repeat} run(s)")
    with pd.option_context("display.float_format", "{:.2f}".format, "display.width", 120):
        print(frame.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
