"""Benchmark of ``workbench ingest`` on a large cp1252 semicolon CSV export.

Builds (once, cached in ``benchmarks/results/``) a synthetic Treserva-style export of about
``--rows`` registrations in Windows-1252 with semicolons and synthetic personnummer, then, in
the same run on the same machine:

* **baseline**: a bare ``pandas.read_csv`` of the file with known settings
  (``sep=";"``, ``encoding="cp1252"``, ``dtype=str``), median of ``--repeat`` runs;
* **ingest**: the whole ingest (read, structural rows, mapping, validation, personnummer,
  pseudonyms, cross-field rules, tables, parquet, report), each run in a fresh Python process so
  its peak memory (max RSS) is measured on its own; median of ``--repeat`` runs.

Prints the times, the ratio ingest / bare read (target: at most 3×) and the peak memory of the
ingest process (target: under 2 GB).

Run from the repository root::

    .venv/bin/python benchmarks/bench_ingest.py                      # 1,000,000 rows, 3 runs
    .venv/bin/python benchmarks/bench_ingest.py --rows 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from workbench.ingest.core import ingest
from workbench.pseudonym import load_key
t0 = time.perf_counter()
res = ingest([Path(sys.argv[1])], profile="treserva", out_dir=Path(sys.argv[2]), key=load_key(Path(sys.argv[3])),
             accept_quarantine=True)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "read": res.rows_read,
                  "accepted": res.rows_accepted, "quarantined": res.rows_quarantined,
                  "balanced": res.balanced, "steps": res.timings, "cpu": res.cpu}))
"""


def build_export(rows: int, seed: int) -> Path:
    """The cached synthetic export (cp1252, semicolons) of about ``rows`` registrations."""
    from workbench import synth
    from workbench.dataset import load_registrations
    from workbench.ingest.exports import export_frame, write_csv
    from workbench.ingest.profile import load_profile

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"export-{rows}-{seed}.cp1252.csv"
    if path.is_file():
        return path
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = synth.SynthConfig(seed=seed, scale=rows / synth.SynthConfig().target_registrations)
        synth.build(Path(tmp) / "d", cfg)
        reg = load_registrations(Path(tmp) / "d")
    frame = export_frame(reg, load_profile("treserva"), seed=seed)
    write_csv(frame, path, encoding="cp1252", delimiter=";")
    os.chmod(path, 0o600)
    print(f"built {path.name}: {len(frame):,} rows in {time.perf_counter() - t0:.0f} s")
    return path


def bare_read(path: Path) -> float:
    t0 = time.perf_counter()
    df = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    seconds = time.perf_counter() - t0
    assert len(df) > 0
    return seconds


def ingest_once(path: Path, key: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), str(Path(tmp) / "out"), str(key)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20261123)
    args = ap.parse_args()

    from workbench.pseudonym import init_key

    path = build_export(args.rows, args.seed)
    size = path.stat().st_size
    with tempfile.TemporaryDirectory() as kd:
        key = Path(kd) / "bench.key"
        init_key(key)
        bare = [bare_read(path) for _ in range(args.repeat)]
        runs = [ingest_once(path, key) for _ in range(args.repeat)]
    t_bare = statistics.median(bare)
    t_ing = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak"] for r in runs)
    r0 = runs[0]
    print(f"file: {path.name}, {size / 1e6:.0f} MB, {r0['read']:,} rows read")
    print(
        f"  rows accepted {r0['accepted']:,}, quarantined {r0['quarantined']:,}, "
        f"balanced {r0['balanced']}"
    )
    print(f"{'step':<34}{'median s':>10}{'ratio':>8}")
    print(f"{'bare pandas.read_csv (baseline)':<34}{t_bare:>10.2f}{1:>8.2f}")
    print(f"{'workbench ingest (whole pipeline)':<34}{t_ing:>10.2f}{t_ing / t_bare:>8.2f}")
    print(f"peak memory of the ingest process: {peak / 2**30:.2f} GB (target < 2 GB)")
    steps = {k: statistics.median(r["steps"].get(k, 0.0) for r in runs) for k in r0["steps"]}
    print(
        "ingest steps, median wall seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
    )
    ok = t_ing / t_bare <= 3 and peak < 2 * 2**30
    print("targets met" if ok else "TARGETS NOT MET (ratio <= 3, peak < 2 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
