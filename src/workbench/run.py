"""The report runner: papermill with the ``workbench`` kernel, then HTML export.

One report per municipality (or the nation). Executed notebooks and logs go to the private
zone ``runs/``; only the exported HTML of a successful public run goes to ``reports/<period>/``,
together with its suppression log ``<report>.suppression.json`` (every suppressed cell the report
shows: table, unit, variable, code, cell, rule; no counts). Both are first written to the run
folder and checked by the release gate (:func:`workbench.release.check_release`); a report with
any finding of severity error is kept in ``runs/`` (``*.REJECTED.html`` beside a findings CSV)
and the run fails with error type ``ReleaseGateError``. Internal reports are written to ``runs/``
only, never to ``reports/``.

A failing municipality is reported by exception type and cell number only (exception messages
can carry data values), its notebook stays in ``runs/``, and the other reports still run.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.dataset import _atomic_write_bytes, read_manifest
from workbench.kernel import KERNEL_NAME
from workbench.municipalities import NATIONAL, get_municipality
from workbench.params import ParameterError, Settings, load_settings, normalise_run_parameters

log = logging.getLogger(__name__)

DEFAULT_NOTEBOOK = "10-follow-up"


@dataclass(frozen=True)
class RunResult:
    kommun: str
    name: str
    ok: bool
    seconds: float
    html: Path | None
    notebook: Path | None
    error_type: str = ""
    error_cell: int | None = None

    @property
    def status(self) -> str:
        return "ok" if self.ok else "misslyckades"


def notebook_path(name: str) -> Path:
    path = paths.notebooks_dir() / (name if name.endswith(".ipynb") else f"{name}.ipynb")
    if not path.is_file():
        available = sorted(p.stem for p in paths.notebooks_dir().glob("*.ipynb"))
        raise ParameterError(f"No report notebook {name!r}; available: {available}.")
    return path


def _failed_cell(nb_path: Path) -> int | None:
    """Index (1-based, code cells counted) of the cell that raised, from the saved notebook."""
    import nbformat

    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception:  # noqa: BLE001 - a half-written notebook just gives no cell number
        return None
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code_cells, start=1):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
    return None


def run_one(
    kommun: str,
    *,
    notebook: str = DEFAULT_NOTEBOOK,
    period: str = "",
    data_dir: str = "",
    audience: str = "",
    timeout: int = 600,
) -> RunResult:
    """Execute one report notebook for one municipality and export its HTML if it succeeds."""
    import papermill as pm

    from workbench.kernel import IPCKernelManager
    from workbench.report import export_html

    run = normalise_run_parameters(
        {"kommun": kommun, "period": period, "data_dir": data_dir, "audience": audience}
    )
    settings = load_settings(**run.as_dict())
    muni = settings.municipality
    stem = f"{muni.code}-{muni.slug}"
    nb_in = notebook_path(notebook)
    run_dir = paths.runs_dir() / settings.period_slug / nb_in.stem
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o700)
    nb_out = run_dir / f"{stem}.ipynb"
    report_name = f"{stem}-{nb_in.stem}"
    public = settings.audience == "public"
    # Public reports are staged in the private run folder and published only after the gate;
    # internal reports are never written into the publish zone.
    html_out = run_dir / (f"{report_name}.html" if public else f"{report_name}.INTERNAL.html")
    start = time.perf_counter()
    try:
        executed = pm.execute_notebook(
            str(nb_in),
            str(nb_out),
            parameters=run.as_dict(),
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout,
            cwd=str(paths.project_root()),
            kernel_manager_class=IPCKernelManager,  # no TCP ports for other local users
        )
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the batch
        ename = getattr(exc, "ename", type(exc).__name__)
        log.warning("report %s failed: %s in cell %s", stem, ename, _failed_cell(nb_out))
        return RunResult(
            muni.code,
            muni.name,
            False,
            time.perf_counter() - start,
            None,
            nb_out,
            error_type=str(ename),
            error_cell=_failed_cell(nb_out),
        )
    title = (
        "Uppföljning av social barn- och ungdomsvård – "
        f"{muni.name if muni.code != NATIONAL else 'Riket'} {settings.period_label}"
    )
    log_out = run_dir / f"{report_name}.suppression.json"
    export_html(
        executed,
        html_out,
        title=title,
        audience=settings.audience,
        footer=f"workbench – {muni.name} – period {settings.period_label}",
        language=settings.language,
        suppression_log=log_out.name if public else "",
    )
    if not public:
        return RunResult(muni.code, muni.name, True, time.perf_counter() - start, html_out, nb_out)
    write_report_suppression_log(
        executed, log_out, report=html_out.name, kommun=muni.code, period=settings.period_slug
    )
    published = _gate_and_publish(
        html_out, log_out, paths.reports_dir() / settings.period_slug, settings=settings
    )
    seconds = time.perf_counter() - start
    if published is None:
        return RunResult(
            muni.code, muni.name, False, seconds, None, nb_out, error_type="ReleaseGateError"
        )
    return RunResult(muni.code, muni.name, True, seconds, published, nb_out)


def suppression_log_payload(nb: Any) -> dict[str, Any]:
    """Merge the suppression-log slices that a report's blocks left in the executed notebook.

    Returns ``{"rules": ..., "cells": [...]}``: the cells in the order the report shows them,
    without duplicates. ``rules`` is ``None`` when no block carried a slice (no protected table
    was shown, so nothing can have been suppressed).
    """
    from workbench.views import SUPPRESSION_LOG_MIME

    rules, cells, seen = None, [], set()
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            part = out.get("data", {}).get(SUPPRESSION_LOG_MIME)
            if not isinstance(part, dict):
                continue
            rules = rules or dict(part.get("rules") or {})
            for rec in part.get("cells", []):
                key = json.dumps(rec, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    cells.append(dict(rec))
    return {"rules": rules, "cells": cells}


def write_report_suppression_log(
    nb: Any, path: Path, *, report: str, kommun: str, period: str
) -> Path:
    """Write ``<report>.suppression.json``: every suppressed cell of every protected table the
    report shows (table, unit, variable, code, cell, rule, pass), no counts, no identifiers."""
    payload = suppression_log_payload(nb)
    doc = {
        "report": report,
        "kommun": kommun,
        "period": period,
        "rules": payload["rules"],
        "columns": {
            "table": "rapportens tabell (distribution, registrations_by_year, completeness)",
            "unit": "kommun-, läns- eller rikskod (0000)",
            "variable": "variabel i katalogen (ar = registreringsår)",
            "code": "kod; null för underlaget (nämnaren)",
            "cell": "n (antal) eller denominator (underlag)",
            "rule": "primary, attribute, secondary eller denominator (se docs/disclosure.md)",
            "pass": "0 primär/attribut, därefter varv i den sekundära röjandekontrollen",
        },
        "n_cells": len(payload["cells"]),
        "cells": payload["cells"],
    }
    text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    _atomic_write_bytes(path, text.encode("utf-8"))
    path.chmod(0o644)
    return path


def _gate_and_publish(
    html_path: Path, log_path: Path, dest: Path, *, settings: Settings
) -> Path | None:
    """Run the release gate on a staged report and its log; publish both or neither.

    Returns the published HTML path, or ``None`` when the gate found an error: the report is
    then renamed ``*.REJECTED.html`` in the run folder next to ``*.release-findings.csv``.
    """
    from workbench.disclosure import DisclosureRules
    from workbench.release import check_release

    rules = DisclosureRules.from_mapping(settings.disclosure)
    gate = check_release([html_path, log_path], min_count=rules.min_count)
    if not gate.ok:
        stem = html_path.name.removesuffix(".html")
        findings = html_path.with_name(f"{stem}.release-findings.csv")
        _atomic_write_bytes(findings, gate.to_frame().to_csv(index=False).encode("utf-8"))
        html_path.replace(html_path.with_name(f"{stem}.REJECTED.html"))
        # rules and counts only: never a value found
        log.warning("report %s withheld by the release gate: %s", stem, gate.rule_counts())
        return None
    if gate.warnings:
        log.warning("report %s: release gate warnings %s", html_path.stem, gate.rule_counts())
    dest.mkdir(parents=True, exist_ok=True)
    published_log = Path(shutil.move(log_path, dest / log_path.name))
    published = Path(shutil.move(html_path, dest / html_path.name))
    published_log.chmod(0o644)
    published.chmod(0o644)
    return published


def run_reports(
    codes: Sequence[str],
    *,
    notebook: str = DEFAULT_NOTEBOOK,
    period: str = "",
    data_dir: str = "",
    audience: str = "",
    timeout: int = 600,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run the report for each code in turn; failures are collected, never raised."""
    from workbench.report import IndexEntry, write_report_list

    # Validate every code before starting any kernel: a typo fails the batch at once.
    runs = [
        normalise_run_parameters(
            {"kommun": c, "period": period, "data_dir": data_dir, "audience": audience}
        )
        for c in codes
    ]
    notebook_path(notebook)
    # The data folder is shared by the batch: a missing one fails at once with the fix.
    read_manifest(load_settings(kommun=NATIONAL, period=period, data_dir=data_dir).data_dir)
    results = []
    for run in runs:
        try:
            res = run_one(
                run.kommun,
                notebook=notebook,
                period=period,
                data_dir=data_dir,
                audience=audience,
                timeout=timeout,
            )
        except ParameterError as exc:  # e.g. a broken municipality file: that report only
            log.warning("report %s not run: %s", run.kommun, exc)
            muni = get_municipality(run.kommun)
            res = RunResult(
                muni.code, muni.name, False, 0.0, None, None, error_type="ParameterError"
            )
        results.append(res)
        if res.ok and res.html is not None and res.html.is_relative_to(paths.reports_dir()):
            muni = get_municipality(res.kommun)
            write_report_list(
                res.html.parent,
                [
                    IndexEntry(
                        kommun=muni.code,
                        name=muni.name,
                        county_code=muni.county_code,
                        county_name=muni.county_name,
                        period=res.html.parent.name,
                        href=res.html.name,
                        notebook=Path(notebook).stem,
                    )
                ],
            )
        if on_result:
            on_result(res)
    return results
