"""The report runner: papermill with the ``workbench`` kernel, then HTML export.

One report per municipality (or the nation). Executed notebooks and logs go to the private
zone ``runs/``; only the exported HTML of a successful public run goes to ``reports/<period>/``.
A failing municipality is reported by exception type and cell number only (exception messages
can carry data values), its notebook stays in ``runs/``, and the other reports still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench import paths
from workbench.dataset import read_manifest
from workbench.kernel import KERNEL_NAME
from workbench.municipalities import NATIONAL, get_municipality
from workbench.params import ParameterError, load_settings, normalise_run_parameters

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
    if settings.audience == "public":
        html_out = paths.reports_dir() / settings.period_slug / f"{stem}-{nb_in.stem}.html"
    else:  # internal reports are never written into the publish zone
        html_out = run_dir / f"{stem}-{nb_in.stem}.INTERNAL.html"
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
    export_html(
        executed,
        html_out,
        title=title,
        audience=settings.audience,
        footer=f"workbench – {muni.name} – period {settings.period_label}",
        language=settings.language,
    )
    return RunResult(muni.code, muni.name, True, time.perf_counter() - start, html_out, nb_out)


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
