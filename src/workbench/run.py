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

Batches (:func:`run_reports`) run in parallel on any :class:`concurrent.futures.Executor`
(default: a process pool of ``jobs`` workers; each report still gets a fresh kernel), and are
incremental: a report whose inputs (:func:`report_inputs`) are unchanged since its last
successful build is skipped. See ``docs/runner.md``.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import __version__, paths
from workbench.cache import code_digest, digest_files
from workbench.dataset import _atomic_write_bytes, read_manifest
from workbench.kernel import KERNEL_NAME
from workbench.municipalities import NATIONAL, get_municipality
from workbench.params import (
    ParameterError,
    RunParameters,
    Settings,
    load_settings,
    normalise_notebook_parameters,
    normalise_run_parameters,
)

log = logging.getLogger(__name__)

DEFAULT_NOTEBOOK = "10-follow-up"
#: Version of the inputs record; bump it when :func:`report_inputs` changes what it hashes.
INPUTS_SCHEMA = 1


@dataclass(frozen=True)
class RunResult:
    """Outcome of one report: built, skipped as unchanged, or failed (type and cell only)."""

    kommun: str
    name: str
    ok: bool
    seconds: float
    html: Path | None
    notebook: Path | None
    error_type: str = ""
    error_cell: int | None = None
    #: True when the report was not rebuilt because its inputs had not changed.
    skipped: bool = False
    #: Peak resident memory (MB) of the report's kernel and of the process that ran the report
    #: (a batch worker: its peak so far), where known (Linux).
    kernel_peak_mb: float | None = None
    worker_peak_mb: float | None = None

    @property
    def status(self) -> str:
        if self.skipped:
            return "oförändrad"
        return "ok" if self.ok else "misslyckades"


def notebook_path(name: str) -> Path:
    path = paths.notebooks_dir() / (name if name.endswith(".ipynb") else f"{name}.ipynb")
    if not path.is_file():
        available = sorted(p.stem for p in paths.notebooks_dir().glob("*.ipynb"))
        raise ParameterError(f"No report notebook {name!r}; available: {available}.")
    return path


def default_jobs() -> int:
    """Number of worker processes by default: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# -- where one report's files live ---------------------------------------------------------------
@dataclass(frozen=True)
class ReportFiles:
    """The files of one report run: private run folder, staged and published outputs."""

    run_dir: Path
    notebook: Path
    staged_html: Path
    published_html: Path
    published_log: Path
    inputs: Path
    public: bool

    @classmethod
    def of(
        cls, settings: Settings, nb_in: Path, extra: Mapping[str, str] | None = None
    ) -> ReportFiles:
        muni = settings.municipality
        stem = f"{muni.code}-{muni.slug}{variant_suffix(extra)}"
        run_dir = paths.runs_dir() / settings.period_slug / nb_in.stem
        report_name = f"{stem}-{nb_in.stem}"
        public = settings.audience == "public"
        # Public reports are staged in the private run folder and published only after the
        # gate; internal reports are never written into the publish zone.
        staged = run_dir / (f"{report_name}.html" if public else f"{report_name}.INTERNAL.html")
        dest = paths.reports_dir() / settings.period_slug
        return cls(
            run_dir=run_dir,
            notebook=run_dir / f"{stem}.ipynb",
            staged_html=staged,
            published_html=dest / f"{report_name}.html" if public else staged,
            published_log=dest / f"{report_name}.suppression.json" if public else staged,
            inputs=run_dir / f"{stem}.inputs.json",
            public=public,
        )

    def outputs_exist(self) -> bool:
        return self.published_html.is_file() and self.published_log.is_file()


def variant_suffix(extra: Mapping[str, str] | None) -> str:
    """File-name suffix of a notebook's own parameters, e.g. ``-utforartyp-hvb``; ``""`` when
    none is set, so reports without them keep their names."""
    return "".join(f"-{k}-{v}" for k, v in (extra or {}).items() if v)


# -- incremental builds: what a report depends on ------------------------------------------------
@dataclass(frozen=True)
class ReportInputs:
    """Everything one report's output depends on, as SHA-256 digests.

    ``digest`` is the hash of all ``parts``; a report is rebuilt when it differs from the one
    stored beside its executed notebook (``runs/<period>/<notebook>/<stem>.inputs.json``).
    """

    kommun: str
    notebook: str
    digest: str
    parts: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        doc = {
            "schema": INPUTS_SCHEMA,
            "kommun": self.kommun,
            "notebook": self.notebook,
            "digest": self.digest,
            "parts": dict(self.parts),
        }
        return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text if isinstance(text, bytes) else text.encode()).hexdigest()


def batch_parts(nb_in: Path) -> dict[str, str]:
    """The input digests every report of a batch shares: notebook, package, reference data.

    Computed once per batch (and passed to the workers), so a file edited while a batch runs
    makes the next batch rebuild, never skip.
    """
    ref = paths.reference_dir()
    return {
        "notebook": _sha(nb_in.read_bytes()),
        "package": _sha(f"{__version__}\0{code_digest()}"),
        "reference": digest_files([p for p in ref.rglob("*") if p.is_file()], ref),
    }


def inputs_of(
    settings: Settings,
    nb_in: Path,
    *,
    data_hash: str | None = None,
    shared: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> ReportInputs:
    """:class:`ReportInputs` of a report from its validated settings and notebook file.

    Parts: the dataset's manifest hash (all tables; the linked-set protection reads the whole
    nation), the merged settings of this municipality (defaults included), the notebook's bytes,
    the package version and code digest, the reference data (catalogue, municipalities,
    indicators) and the audience. ``data_hash`` and ``shared`` (:func:`batch_parts`) are
    computed here when not given.
    """
    if data_hash is None:
        data_hash = read_manifest(settings.data_dir).data_hash
    shared = batch_parts(nb_in) if shared is None else shared
    parts = {
        "data": data_hash,
        "settings": _sha(json.dumps(settings.describe(), sort_keys=True, default=str)),
        "notebook": shared["notebook"],
        "package": shared["package"],
        "reference": shared["reference"],
        "audience": _sha(settings.audience),
    }
    if extra:  # only notebooks with their own parameters get this part (older records stay valid)
        parts["notebook_parameters"] = _sha(json.dumps(dict(extra), sort_keys=True))
    digest = _sha(json.dumps({"schema": INPUTS_SCHEMA, **parts}, sort_keys=True))
    return ReportInputs(settings.kommun, nb_in.stem, digest, parts)


def report_inputs(
    kommun: str,
    *,
    notebook: str = DEFAULT_NOTEBOOK,
    period: str = "",
    data_dir: str = "",
    audience: str = "",
    extra: Mapping[str, str] | None = None,
) -> ReportInputs:
    """The inputs of one report, as the runner hashes them to decide whether to rebuild it.

    Raises
    ------
    ParameterError
        If the parameters or the notebook name are invalid.
    """
    settings = load_settings(kommun=kommun, period=period, data_dir=data_dir, audience=audience)
    nb_in = notebook_path(notebook)
    extra = normalise_notebook_parameters(nb_in.stem, extra or {})
    return inputs_of(settings, nb_in, extra=extra)


def _stored_digest(path: Path) -> str | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc.get("digest") if doc.get("schema") == INPUTS_SCHEMA else None


def up_to_date(
    settings: Settings,
    nb_in: Path,
    *,
    inputs: ReportInputs | None = None,
    extra: Mapping[str, str] | None = None,
) -> Path | None:
    """The report's published HTML if it exists and was built from the same inputs, else None.

    ``inputs`` are the report's current inputs (default: :func:`inputs_of` now).
    """
    files = ReportFiles.of(settings, nb_in, extra)
    if not files.outputs_exist():
        return None
    stored = _stored_digest(files.inputs)
    if stored is None or stored != (inputs or inputs_of(settings, nb_in, extra=extra)).digest:
        return None
    return files.published_html


def _failed_cell(nb_path: Path, cell_id: str | None = None) -> int | None:
    """Index (1-based, code cells counted) of the cell that raised, from the saved notebook.

    ``cell_id`` names the cell that was running when the report's time ran out (a timed-out
    cell has no error output).
    """
    import nbformat

    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception:  # noqa: BLE001 - a half-written notebook just gives no cell number
        return None
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code_cells, start=1):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
        if cell_id is not None and cell.get("id") == cell_id:
            return i
    return None


class _Deadline:
    """nbclient ``timeout_func``: each cell may use what is left of the report's time budget."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.cell_id: str | None = None

    def __call__(self, cell: Any) -> int:
        self.cell_id = cell.get("id")
        # nbclient reads 0 or a negative value as "no timeout": never return less than 1
        return max(1, math.ceil(self.end - time.monotonic()))


def run_one(
    kommun: str,
    *,
    notebook: str = DEFAULT_NOTEBOOK,
    period: str = "",
    data_dir: str = "",
    audience: str = "",
    timeout: int = 600,
    inputs: ReportInputs | None = None,
    extra: Mapping[str, str] | None = None,
) -> RunResult:
    """Execute one report notebook for one municipality and export its HTML if it succeeds.

    ``extra`` holds the notebook's own parameters (``params.NOTEBOOK_PARAMETERS``); set values
    are passed to papermill, hashed and appended to the report's file name.
    Always builds (no up-to-date check; see :func:`run_reports`). ``timeout`` is the wall-clock
    budget in seconds for executing the whole notebook (kernel start excluded); a report that
    exceeds it fails with ``CellTimeoutError`` and the cell that was running. On success the
    report's :class:`ReportInputs` (``inputs``, default: hashed now, before the run) are stored
    beside the executed notebook.
    """
    import papermill as pm

    from workbench.forkserver import warm_enabled
    from workbench.kernel import IPCKernelManager, WarmIPCKernelManager, last_kernel_peak_mb
    from workbench.report import export_html

    run = normalise_run_parameters(
        {"kommun": kommun, "period": period, "data_dir": data_dir, "audience": audience}
    )
    settings = load_settings(**run.as_dict())
    muni = settings.municipality
    nb_in = notebook_path(notebook)
    extra = normalise_notebook_parameters(nb_in.stem, extra or {})
    stem = f"{muni.code}-{muni.slug}{variant_suffix(extra)}"
    files = ReportFiles.of(settings, nb_in, extra)
    if inputs is None:  # hashed before running: what this build is made from
        inputs = inputs_of(settings, nb_in, extra=extra)
    run_dir = files.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o700)
    # A build that fails or is interrupted must not look up to date later.
    files.inputs.unlink(missing_ok=True)
    nb_out = files.notebook
    public = files.public
    html_out = files.staged_html
    report_name = html_out.name.removesuffix(".INTERNAL.html").removesuffix(".html")
    start = time.perf_counter()
    deadline = _Deadline(timeout)
    last_kernel_peak_mb()  # forget an earlier report's kernel
    try:
        executed = pm.execute_notebook(
            str(nb_in),
            str(nb_out),
            parameters={**run.as_dict(), **extra},
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            log_output=False,
            timeout_func=deadline,  # per-report budget, passed on to nbclient
            # the kernel is used once and keeps nothing (history in memory): stop it at once
            # instead of a graceful shutdown polled every 0.1 s
            shutdown_kernel="immediate",
            cwd=str(paths.project_root()),
            # IPC: no TCP ports for other local users; warm: forked from a pre-imported server
            kernel_manager_class=WarmIPCKernelManager if warm_enabled() else IPCKernelManager,
        )
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the batch
        ename = getattr(exc, "ename", type(exc).__name__)
        timed_out = isinstance(exc, TimeoutError)
        cell = _failed_cell(nb_out, deadline.cell_id if timed_out else None)
        log.warning("report %s failed: %s in cell %s", stem, ename, cell)
        return RunResult(
            muni.code,
            muni.name,
            False,
            time.perf_counter() - start,
            None,
            nb_out,
            error_type=str(ename),
            error_cell=cell,
            **_memory(),
        )
    title = (
        f"{notebook_title(executed)} – "
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
        _atomic_write_bytes(files.inputs, inputs.to_json().encode("utf-8"))
        return RunResult(
            muni.code, muni.name, True, time.perf_counter() - start, html_out, nb_out, **_memory()
        )
    write_report_suppression_log(
        executed, log_out, report=html_out.name, kommun=muni.code, period=settings.period_slug
    )
    published = _gate_and_publish(
        html_out, log_out, files.published_html.parent, settings=settings
    )
    seconds = time.perf_counter() - start
    if published is None:
        return RunResult(
            muni.code,
            muni.name,
            False,
            seconds,
            None,
            nb_out,
            error_type="ReleaseGateError",
            **_memory(),
        )
    _atomic_write_bytes(files.inputs, inputs.to_json().encode("utf-8"))
    return RunResult(muni.code, muni.name, True, seconds, published, nb_out, **_memory())


def _memory() -> dict[str, float | None]:
    """Peak memory of the report's kernel (recorded at its shutdown) and of this process."""
    from workbench.kernel import last_kernel_peak_mb

    try:
        import resource

        worker: float | None = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except ImportError:  # not on POSIX
        worker = None
    return {"kernel_peak_mb": last_kernel_peak_mb(), "worker_peak_mb": worker}


DEFAULT_TITLE = "Uppföljning av social barn- och ungdomsvård"


def notebook_title(nb: Any) -> str:
    """The report's page title: the notebook's first level-1 heading (``# ...``), else
    :data:`DEFAULT_TITLE`. Headings are written by us in the committed template, not by data."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for line in str(cell.get("source", "")).splitlines():
            if line.startswith("# ") and line[2:].strip():
                return line[2:].strip()
    return DEFAULT_TITLE


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
            "rule": "primary, attribute, linked, secondary eller denominator (se docs/disclosure.md)",
            "pass": "0 primär/attribut, därefter varv i den sekundära röjandekontrollen",
        },
        "n_cells": len(payload["cells"]),
        "cells": payload["cells"],
    }
    text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    _atomic_write_bytes(path, text.encode("utf-8"))
    path.chmod(0o644)
    return path


def _move_atomic(src: Path, dest: Path) -> Path:
    """Move a file into place so readers see the old or the new file, never half of one."""
    try:
        os.replace(src, dest)
    except OSError:  # another file system: copy beside the target, then rename
        _atomic_write_bytes(dest, src.read_bytes())
        src.unlink()
    return dest


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
    # The log first: a report page is never published without the log its footer links to.
    published_log = _move_atomic(log_path, dest / log_path.name)
    published = _move_atomic(html_path, dest / html_path.name)
    published_log.chmod(0o644)
    published.chmod(0o644)
    return published


# -- batches -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportTask:
    """One report of a batch, as sent to a worker (picklable; carries the project location so
    a worker on another machine or with another environment finds the same project)."""

    kommun: str
    notebook: str
    period: str
    data_dir: str
    audience: str
    timeout: int
    root: str
    cache: str
    #: The inputs the batch hashed for this report, stored when it succeeds.
    inputs: ReportInputs | None = None
    #: The notebook's own parameters (validated), see ``params.NOTEBOOK_PARAMETERS``.
    extra: Mapping[str, str] = field(default_factory=dict)


def run_task(task: ReportTask) -> RunResult:
    """Run one :class:`ReportTask` in the current process (the function executors call).

    Never raises for a report's own failure: any error becomes a failed :class:`RunResult` with
    the exception type only (messages can carry data values).
    """
    # Workers started elsewhere (another host, a pool created before the variables were set)
    # must use the batch's project and cache; a local worker already has the same values.
    for var, value in (("WORKBENCH_ROOT", task.root), ("WORKBENCH_CACHE", task.cache)):
        if os.environ.get(var) != value:
            os.environ[var] = value
    try:
        return run_one(
            task.kommun,
            notebook=task.notebook,
            period=task.period,
            data_dir=task.data_dir,
            audience=task.audience,
            timeout=task.timeout,
            inputs=task.inputs,
            extra=task.extra,
        )
    except Exception as exc:  # noqa: BLE001 - one report's failure never stops the batch
        log.warning("report %s not run: %s", task.kommun, type(exc).__name__)
        muni = get_municipality(task.kommun)
        return RunResult(muni.code, muni.name, False, 0.0, None, None, type(exc).__name__)


def _failed(kommun: str, error_type: str) -> RunResult:
    muni = get_municipality(kommun)
    return RunResult(muni.code, muni.name, False, 0.0, None, None, error_type=error_type)


def _record_index(res: RunResult, notebook: str) -> None:
    """Add a published report to its period's ``reports.json`` (parent process only: the file
    is read, merged and rewritten, so workers never touch it)."""
    from workbench.report import IndexEntry, write_report_list

    if not (res.ok and res.html is not None and res.html.is_relative_to(paths.reports_dir())):
        return
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


def start_worker() -> None:
    """Worker initialiser: start this worker's kernel fork server now, while the batch is
    being planned, so the first report does not wait for its imports."""
    from workbench.forkserver import ForkServer, ForkServerError, warm_enabled
    from workbench.kernel import kernel_env

    if warm_enabled():
        try:
            ForkServer.get(kernel_env())
        except ForkServerError as exc:  # the reports fall back to ordinary kernels
            log.warning("no warm kernels in this worker: %s", exc)


def _new_pool(workers: int) -> cf.Executor:
    # spawn: workers start clean (no copy of the parent's threads, locks or progress bar)
    return cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
    )


def run_reports(
    codes: Sequence[str],
    *,
    notebook: str = DEFAULT_NOTEBOOK,
    period: str = "",
    data_dir: str = "",
    audience: str = "",
    timeout: int = 600,
    on_result: Callable[[RunResult], None] | None = None,
    jobs: int | None = 1,
    executor: cf.Executor | None = None,
    force: bool = False,
    on_plan: Callable[[int, int], None] | None = None,
    extra: Mapping[str, str] | None = None,
) -> list[RunResult]:
    """Run the report for each code, in parallel and incrementally; failures are collected,
    never raised.

    Parameters
    ----------
    codes
        Municipality codes (``"0000"`` for the nation). All are validated before any kernel
        starts.
    notebook, period, data_dir, audience
        Run parameters shared by the batch (empty: from the parameter files).
    timeout
        Wall-clock seconds allowed for executing each report's notebook.
    on_result
        Called in this process with each :class:`RunResult` as it arrives (skipped reports
        first, then in order of completion).
    jobs
        Worker processes when no ``executor`` is given; ``None`` means one per core
        (:func:`default_jobs`); ``1`` runs every report in this process, one after another.
    executor
        Any :class:`concurrent.futures.Executor` to run the reports on, e.g. a
        ``ProcessPoolExecutor`` or ``distributed.Client(...).get_executor()``; its workers must
        see the project folder, the dataset and the cache at the same paths. It is not shut
        down here. When given, ``jobs`` is ignored.
    force
        Rebuild every report even if its inputs are unchanged.
    on_plan
        Called once before any report runs with ``(to_build, skipped)``.
    extra
        The notebook's own parameters (``params.NOTEBOOK_PARAMETERS``), shared by the batch;
        set values are part of each report's inputs and file name.

    Returns
    -------
    list of RunResult
        In the order of ``codes``, whatever order the reports finished in. Unchanged reports
        have ``skipped=True``.

    Notes
    -----
    Each report runs in a fresh kernel in a worker, with papermill and nbconvert called through
    their Python APIs. In a large batch the first report to build runs alone, so that the
    national computations every report shares (linked-set disclosure control, national models)
    are computed once and cached (``paths.cache_dir()``) before the other workers read them; in
    a batch of at most twice as many reports as workers, all start at once.
    """
    # Validate every code before starting any kernel: a typo fails the batch at once.
    runs: list[RunParameters] = [
        normalise_run_parameters(
            {"kommun": c, "period": period, "data_dir": data_dir, "audience": audience}
        )
        for c in codes
    ]
    nb_in = notebook_path(notebook)
    extra = normalise_notebook_parameters(nb_in.stem, extra or {})
    # The data folder is shared by the batch: a missing one fails at once with the fix.
    data_hash = read_manifest(
        load_settings(kommun=NATIONAL, period=period, data_dir=data_dir).data_dir
    ).data_hash
    shared = batch_parts(nb_in)
    root, cache = str(paths.project_root()), str(paths.cache_dir())
    results: dict[int, RunResult] = {}
    pending: list[tuple[int, ReportTask]] = []

    def done(i: int, res: RunResult) -> None:
        results[i] = res
        # a skipped report is listed since it was built; a selection made with the notebook's
        # own parameters (e.g. one provider type) is published but not listed in the index
        if not res.skipped and not variant_suffix(extra):
            _record_index(res, notebook)
        if on_result:
            on_result(res)

    settled: list[tuple[int, RunResult]] = []  # skipped as unchanged, or invalid settings
    for i, run in enumerate(runs):
        try:
            settings = load_settings(**run.as_dict())
            inputs = inputs_of(settings, nb_in, data_hash=data_hash, shared=shared, extra=extra)
            html = None if force else up_to_date(settings, nb_in, inputs=inputs, extra=extra)
        except ParameterError as exc:  # e.g. a broken municipality file: that report only
            log.warning("report %s not run: %s", run.kommun, exc)
            settled.append((i, _failed(run.kommun, "ParameterError")))
            continue
        if html is not None:
            muni = settings.municipality
            nb_out = ReportFiles.of(settings, nb_in, extra).notebook
            settled.append(
                (i, RunResult(muni.code, muni.name, True, 0.0, html, nb_out, "", None, True))
            )
            continue
        task = ReportTask(
            run.kommun, notebook, period, data_dir, audience, timeout, root, cache, inputs, extra
        )
        pending.append((i, task))
    n_skipped = sum(r.skipped for _, r in settled)
    if on_plan:
        on_plan(len(pending), n_skipped)
    for i, res in settled:
        done(i, res)
    if n_skipped:
        log.info("%d reports unchanged, not rebuilt", n_skipped)

    workers = default_jobs() if jobs is None else max(1, int(jobs))
    if executor is None and (workers == 1 or len(pending) <= 1):
        for i, task in pending:
            done(i, run_task(task))
        return [results[i] for i in range(len(runs))]

    own = executor is None
    pool = executor or _new_pool(min(workers, len(pending)))
    try:
        # In a large batch the first report runs alone: it fills the shared cache (national
        # tables and models) that the others then read instead of each recomputing it. In a
        # small batch that would cost more wall time than the duplicated work it saves.
        rest = pending
        if len(pending) > 2 * _workers_of(pool, workers):
            first, rest = pending[0], pending[1:]
            done(first[0], _result_of(pool.submit(run_task, first[1]), first[1]))
        futures = {pool.submit(run_task, task): (i, task) for i, task in rest}
        for fut in cf.as_completed(futures):
            i, task = futures[fut]
            done(i, _result_of(fut, task))
    finally:
        if own:
            # On an interrupt, queued reports are dropped; finished ones are kept and skipped
            # as unchanged when the batch is run again.
            pool.shutdown(wait=True, cancel_futures=True)
    return [results[i] for i in range(len(runs))]


def _workers_of(executor: cf.Executor, default: int) -> int:
    """Worker count of a standard pool (``_max_workers``), else ``default``."""
    return int(getattr(executor, "_max_workers", 0) or default)


def _result_of(fut: cf.Future, task: ReportTask) -> RunResult:
    """The future's result, or a failed result if the worker itself died (e.g. out of memory)."""
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - a dead worker fails its report, not the batch
        log.warning("report %s: worker failed: %s", task.kommun, type(exc).__name__)
        return _failed(task.kommun, type(exc).__name__)
