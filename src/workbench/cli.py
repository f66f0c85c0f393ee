"""Command line: ``workbench synth | params init | run | index | kernel install | variables``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from workbench import paths

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False
)
params_app = typer.Typer(no_args_is_help=True, help="Parameter files.")
kernel_app = typer.Typer(no_args_is_help=True, help="The Jupyter kernel 'workbench'.")
app.add_typer(params_app, name="params")
app.add_typer(kernel_app, name="kernel")
console = Console(stderr=True)


def _fail(msg: str) -> None:
    typer.echo(f"Fel / Error: {msg}", err=True)
    raise typer.Exit(2)


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("data/demo"),
    seed: Annotated[int, typer.Option(help="Random seed")] = 20261123,
    scale: Annotated[float, typer.Option(help="Volume multiplier (1.0 = national)")] = 1.0,
    ambiguous: Annotated[
        list[str] | None,
        typer.Option(
            help="Variables made ambiguous on purpose (repeatable; default: riskbedomning, "
            "insatstyp, insatsens_fokus)"
        ),
    ] = None,
    clean: Annotated[
        list[str] | None, typer.Option(help="Variables made clean on purpose (repeatable)")
    ] = None,
) -> None:
    """Generate the deterministic synthetic national dataset and its ground-truth manifest."""
    import time

    from workbench import synth as synth_mod

    t0 = time.perf_counter()
    extra = {}
    if ambiguous:
        extra["ambiguous_variables"] = tuple(ambiguous)
    if clean:
        extra["clean_variables"] = tuple(clean)
    try:
        cfg = synth_mod.SynthConfig(seed=seed, scale=scale, **extra)
    except ValueError as exc:
        _fail(str(exc))
    manifest = synth_mod.build(paths.resolve(out), cfg)
    rows = {k: v["rows"] for k, v in manifest.content["tables"].items()}
    typer.echo(
        f"Syntetiska data i {paths.resolve(out)} ({time.perf_counter() - t0:.1f} s): {rows}"
    )


@params_app.command("init")
def params_init(
    overwrite: Annotated[bool, typer.Option(help="Rewrite existing files")] = False,
) -> None:
    """Write parameters/municipalities/<code>-<slug>.yaml for all 290 municipalities."""
    from workbench.params import init_parameter_files

    written = init_parameter_files(overwrite=overwrite)
    typer.echo(
        f"{len(written)} parameterfiler skrivna i {paths.parameters_dir() / 'municipalities'}"
    )


@params_app.command("check")
def params_check() -> None:
    """Load every parameter file and check codes and names."""
    from workbench.params import ParameterError, check_municipality_file, load_settings

    try:
        load_settings()
        files = sorted((paths.parameters_dir() / "municipalities").glob("*.yaml"))
        for f in files:
            check_municipality_file(f)
            load_settings(kommun=f.name.split("-", 1)[0])
    except ParameterError as exc:
        _fail(str(exc))
    typer.echo(f"OK: defaults.yaml och {len(files)} kommunfiler")


@kernel_app.command("install")
def kernel_install() -> None:
    """Register the 'workbench' kernel in this environment (history kept in memory only)."""
    from workbench.kernel import install_kernel

    typer.echo(f"Kernel 'workbench' installerad i {install_kernel()}")


@app.command()
def variables(
    category: Annotated[str | None, typer.Option(help="background, process or result")] = None,
) -> None:
    """List the catalogue's follow-up variables."""
    from workbench.catalogue import list_variables

    df = list_variables(category=category)
    table = Table(
        "variabel", "benämning", "kategori", "typ", "officiell minimum", "valfri", "kodlista"
    )
    for r in df.itertuples(index=False):
        table.add_row(
            r.variabel,
            r.benamning,
            r.kategori,
            r.typ,
            "ja" if r.officiell_minimum else "",
            "ja" if r.valfri else "",
            f"{r.kodlista} ({r.kodlista_status})" if r.kodlista else "",
        )
    Console().print(table)


# -- ingest, profiles and the pseudonymisation key -----------------------------------------------
profile_app = typer.Typer(no_args_is_help=True, help="Export profiles (data/reference/profiles).")
key_app = typer.Typer(
    no_args_is_help=True, help="The pseudonymisation key (kept outside the repo)."
)
app.add_typer(profile_app, name="profile")
app.add_typer(key_app, name="key")


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV or Excel export files")],
    profile: Annotated[str, typer.Option(help="Profile name or path to a profile .yaml")],
    out: Annotated[Path, typer.Option(help="Output folder for the canonical dataset")] = Path(
        "data/processed/ingest"
    ),
    kommun: Annotated[
        str | None, typer.Option(help="Kommunkod for files without a municipality column")
    ] = None,
    reference_date: Annotated[
        str | None,
        typer.Option(help="Export date YYYY-MM-DD (century of 10-digit personnummer)"),
    ] = None,
    key_file: Annotated[Path | None, typer.Option(help="Pseudonymisation key file")] = None,
    accept_quarantine: Annotated[
        bool, typer.Option(help="Write the dataset even though rows were quarantined")
    ] = False,
    report_dir: Annotated[
        Path | None, typer.Option(help="Folder for report, problems and quarantine")
    ] = None,
    into: Annotated[
        Path | None,
        typer.Option(
            help="Existing dataset to add the tables of a provider or survey profile to "
            "(profiles with table:; without --into they make a new dataset in --out)"
        ),
    ] = None,
) -> None:
    """Ingest municipal exports: validate, pseudonymise, quarantine bad rows, write the dataset.

    Exit code 0 when the dataset was written without errors, 1 when rows were quarantined and
    --accept-quarantine was not given (the dataset is then not written), 2 when the files cannot
    be ingested at all (wrong profile, missing key, unreadable file).
    """
    import datetime as dt

    from workbench.ingest.core import IngestError
    from workbench.ingest.core import ingest as run_ingest
    from workbench.ingest.profile import ProfileError
    from workbench.ingest.read import ExportError
    from workbench.ingest.report import report_paths
    from workbench.municipalities import InvalidCodeError
    from workbench.pseudonym import PseudonymKeyError, load_key

    try:
        ref = dt.date.fromisoformat(reference_date) if reference_date else None
    except ValueError:
        _fail(f"--reference-date {reference_date!r} is not a date YYYY-MM-DD.")
    from workbench.dataset import DatasetError
    from workbench.ingest.profile import load_profile
    from workbench.ingest.tables import TableIngestError, ingest_tables

    try:
        key = load_key(key_file)
        prof = load_profile(profile)
        if prof.table is not None:  # provider follow-up or children's survey (issue 10)
            result = ingest_tables(
                files,
                profile=prof,
                into=paths.resolve(into) if into else None,
                out_dir=None if into else paths.resolve(out),
                key=key,
                kommun=kommun,
                reference_date=ref,
                accept_quarantine=accept_quarantine,
                report_dir=paths.resolve(report_dir) if report_dir else None,
            )
        elif into is not None:
            _fail(f"--into is for profiles with table: (e.g. barnenkat); {profile!r} is not one.")
        else:
            result = run_ingest(
                files,
                profile=prof,
                out_dir=paths.resolve(out),
                key=key,
                kommun=kommun,
                reference_date=ref,
                accept_quarantine=accept_quarantine,
                report_dir=paths.resolve(report_dir) if report_dir else None,
            )
    except (
        IngestError,
        ProfileError,
        ExportError,
        PseudonymKeyError,
        InvalidCodeError,
        TableIngestError,
        DatasetError,
    ) as exc:
        _fail(str(exc))
    table = Table("fil", "lästa", "accepterade", "karantän", "dubbletter", "strukturrader")
    for r in result.files.itertuples(index=False):
        table.add_row(
            r.fil,
            str(r.rader_lasta),
            str(r.accepterade),
            str(r.karantan),
            str(r.dubbletter),
            str(r.strukturrader),
        )
    Console().print(table)
    rp = report_paths(result.report_dir)
    typer.echo(
        f"Fel {result.n_errors}, varningar {result.n_warnings}. Rapport: {rp['report_html']}"
    )
    if result.written:
        typer.echo(f"Dataset: {result.out_dir} (nyckel-id {result.key_id})")
        raise typer.Exit(0)
    typer.echo(
        f"Datasetet skrevs INTE / dataset NOT written: {result.rows_quarantined} rader i karantän "
        f"({rp['quarantine']}). Rätta källan, eller kör igen med --accept-quarantine.",
        err=True,
    )
    raise typer.Exit(1)


@profile_app.command("list")
def profile_list() -> None:
    """List the export profiles."""
    from workbench.ingest.profile import list_profiles, load_profile

    table = Table("profil", "system", "status", "titel")
    for name in list_profiles():
        p = load_profile(name)
        table.add_row(p.name, p.system, p.status, p.title_sv)
    Console().print(table)


@profile_app.command("suggest")
def profile_suggest(
    file: Annotated[Path, typer.Argument(help="An export file (CSV or Excel)")],
    out: Annotated[Path | None, typer.Option(help="Write the proposal here")] = None,
    name: Annotated[str | None, typer.Option(help="Profile name")] = None,
) -> None:
    """Propose a profile from a file's columns and values, listing what could not be mapped."""
    from workbench.ingest.read import ExportError
    from workbench.ingest.suggest import suggest_profile

    try:
        s = suggest_profile(file, name=name)
    except ExportError as exc:
        _fail(str(exc))
    if out:
        out.write_text(s.yaml_text, encoding="utf-8")
        typer.echo(f"Förslag skrivet till {out}")
    else:
        typer.echo(s.yaml_text)
    typer.echo(
        f"Ej mappade kolumner: {len(s.unmapped_columns)}; okända värden: {len(s.unmapped_values)}",
        err=True,
    )


@key_app.command("init")
def key_init(
    path: Annotated[
        Path | None, typer.Option(help="Key file (default: ~/.config/workbench)")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing key (breaks linkage!)")] = False,
) -> None:
    """Create the pseudonymisation key (32 random bytes, file mode 0600, outside the repo)."""
    from workbench.pseudonym import PseudonymKeyError, default_key_path, init_key

    try:
        key = init_key(path, force=force)
    except PseudonymKeyError as exc:
        _fail(str(exc))
    typer.echo(f"Nyckel skapad i {path or default_key_path()} (nyckel-id {key.key_id})")


@key_app.command("id")
def key_id(
    path: Annotated[Path | None, typer.Option(help="Key file")] = None,
) -> None:
    """Show the id of the key in use (never the key)."""
    from workbench.pseudonym import PseudonymKeyError, load_key

    try:
        typer.echo(load_key(path).key_id)
    except PseudonymKeyError as exc:
        _fail(str(exc))


def _select_codes(kommun: list[str], lan: str | None, all_: bool, national: bool) -> list[str]:
    from workbench.municipalities import (
        NATIONAL,
        InvalidCodeError,
        list_municipalities,
        normalise_county,
        normalise_kommun,
    )

    codes: list[str] = []
    try:
        codes += [normalise_kommun(k) for k in kommun]
        if lan:
            codes += list(list_municipalities(normalise_county(lan))["municipality_code"])
    except InvalidCodeError as exc:
        _fail(str(exc))
    if all_:
        codes += list(list_municipalities()["municipality_code"])
    if national:
        codes.append(NATIONAL)
    if not codes:
        _fail("Ange --kommun KOD, --lan KOD, --all eller --national.")
    return list(dict.fromkeys(codes))


def _run_batch(
    codes: list[str],
    *,
    notebook: str,
    period: str,
    data_dir: str,
    audience: str,
    timeout: int,
    jobs: int | None = None,
    force: bool = False,
) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from workbench.params import ParameterError
    from workbench.report import write_index
    from workbench.run import default_jobs, run_reports

    jobs = jobs or default_jobs()
    results = []
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "klara {task.fields[ok]} · fel {task.fields[failed]} · kvar {task.fields[left]}"
        ),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(
            f"Rapporter ({jobs} parallella)", total=len(codes), ok=0, failed=0, left=len(codes)
        )

        def on_plan(to_build: int, skipped: int) -> None:
            # unchanged reports are not counted in the bar, so the ETA is that of real builds
            progress.update(task, total=len(codes) - skipped, left=len(codes) - skipped)

        def on_result(res):  # noqa: ANN001
            results.append(res)
            if res.skipped:
                counts["skipped"] += 1
                return
            counts["ok" if res.ok else "failed"] += 1
            done = counts["ok"] + counts["failed"]
            left = len(codes) - counts["skipped"] - done
            progress.update(
                task, completed=done, ok=counts["ok"], failed=counts["failed"], left=left
            )

        try:
            run_reports(
                codes,
                notebook=notebook,
                period=period,
                data_dir=data_dir,
                audience=audience,
                timeout=timeout,
                on_result=on_result,
                jobs=jobs,
                force=force,
                on_plan=on_plan,
            )
        except ParameterError as exc:
            _fail(str(exc))
    failed = counts["failed"]
    table = Table("kod", "kommun", "status", "sekunder", "kärna MB", "fel (typ, cell)")
    for r in sorted(results, key=lambda r: (r.ok, r.skipped, r.kommun)):
        table.add_row(
            r.kommun,
            r.name,
            r.status,
            "" if r.skipped else f"{r.seconds:.1f}",
            "" if r.kernel_peak_mb is None else f"{r.kernel_peak_mb:.0f}",
            "" if r.ok else f"{r.error_type}, cell {r.error_cell}",
        )
    workers = [r.worker_peak_mb for r in results if r.worker_peak_mb is not None]
    kernels = [r.kernel_peak_mb for r in results if r.kernel_peak_mb is not None]
    # piped or logged output: wide enough that an error and its cell stay on one line
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    if kernels and workers:
        typer.echo(
            f"Största minne: kärna {max(kernels):.0f} MB, arbetsprocess {max(workers):.0f} MB "
            "(toppvärden, RSS)."
        )
    typer.echo(
        f"Byggda {counts['ok']}, oförändrade (hoppades över) {counts['skipped']}, "
        f"misslyckade {failed} av {len(results)} rapporter."
        + (" Bygg om alla med --force." if counts["skipped"] else "")
    )
    if (paths.reports_dir()).is_dir():
        idx = write_index(paths.reports_dir())
        typer.echo(f"Index: {idx}")
    published = sorted({str(r.html.parent) for r in results if r.ok and r.html})
    for p in published:
        typer.echo(f"Rapporter: {p}")
    if failed:
        typer.echo(
            f"{failed} av {len(results)} rapporter misslyckades; körda notebooks finns i "
            f"{paths.runs_dir()} (internt).",
            err=True,
        )
    return 1 if failed else 0


@app.command()
def run(
    kommun: Annotated[
        list[str], typer.Option("--kommun", "-k", help="Kommunkod, e.g. 0180 (repeatable)")
    ] = [],  # noqa: B006
    lan: Annotated[
        str | None, typer.Option(help="All municipalities of a county, e.g. 22")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="All 290 municipalities")] = False,
    national: Annotated[bool, typer.Option("--national", help="Also the national report")] = False,
    notebook: Annotated[
        str, typer.Option(help="Report notebook in notebooks/reports")
    ] = "10-follow-up",
    period: Annotated[str, typer.Option(help='"YYYY-YYYY"; default from parameters')] = "",
    data_dir: Annotated[str, typer.Option(help="Canonical dataset folder")] = "",
    audience: Annotated[str, typer.Option(help="public or internal")] = "",
    timeout: Annotated[int, typer.Option(help="Seconds allowed per report")] = 600,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Reports built in parallel; default: all cores"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild reports whose inputs have not changed")
    ] = False,
) -> None:
    """Run report notebooks through papermill and export HTML, in parallel and incrementally.

    A report is rebuilt only if its inputs changed (data, parameters, notebook, package);
    one municipality's failure does not stop the others; exit code 1 if any failed."""
    codes = _select_codes(kommun, lan, all_, national)
    raise typer.Exit(
        _run_batch(
            codes,
            notebook=notebook,
            period=period,
            data_dir=data_dir,
            audience=audience,
            timeout=timeout,
            jobs=jobs,
            force=force,
        )
    )


@app.command("provider-report")
def provider_report(
    kommun: Annotated[
        str, typer.Option("--kommun", "-k", help="Kommunkod, e.g. 2281; 0000 for the nation")
    ],
    provider: Annotated[
        str, typer.Option("--provider", help="Provider code, e.g. P00042 (default: all)")
    ] = "",
    type_: Annotated[
        str,
        typer.Option("--type", help="Provider type: hvb, familjehemsorg or stodboende"),
    ] = "",
    period: Annotated[str, typer.Option(help='"YYYY-YYYY"; default from parameters')] = "",
    data_dir: Annotated[str, typer.Option(help="Canonical dataset folder")] = "",
    audience: Annotated[str, typer.Option(help="public or internal")] = "",
    timeout: Annotated[int, typer.Option(help="Seconds allowed for the report")] = 600,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if the inputs have not changed")
    ] = False,
    list_providers: Annotated[
        bool, typer.Option("--list", help="List the providers' codes, names and types and exit")
    ] = False,
) -> None:
    """Placement-provider report on demand (notebook 50-placement-providers): per provider,
    placements ended as planned or in a breakdown, goal attainment, the social workers' ratings
    with intervals, compared with all providers of the same type. Writes the HTML report and an
    Excel summary for procurement beside it and prints their paths.

    Without --provider the report shows the providers located in the municipality's county
    (all providers for --kommun 0000), optionally only those of --type."""
    from workbench.municipalities import InvalidCodeError, normalise_kommun
    from workbench.params import ParameterError, check_provider_parameters, load_settings
    from workbench.run import run_reports

    try:
        code = normalise_kommun(kommun)
        utforare, utforartyp = check_provider_parameters(provider, type_)
        settings = load_settings(kommun=code, period=period, data_dir=data_dir, audience=audience)
        from workbench import providers as pv
        from workbench.dataset import read_table

        table = read_table(settings.data_dir, "providers")
        if list_providers:
            out = Table("kod", "utförare", "typ", "län")
            for r in table.sort_values("utforare_id").itertuples(index=False):
                out.add_row(r.utforare_id, r.utforare_namn, r.utforartyp, r.lan)
            Console().print(out)
            raise typer.Exit(0)
        if table.empty:
            _fail(
                f"The dataset in {settings.data_dir} has no provider tables (providers, "
                "placements, provider_ratings); generate the demo data with `workbench synth`."
            )
        pv.check_selection(table, utforare=utforare, utforartyp=utforartyp)
    except (InvalidCodeError, ParameterError) as exc:
        _fail(str(exc))
    results = run_reports(
        [code],
        notebook="50-placement-providers",
        period=period,
        data_dir=data_dir,
        audience=audience,
        timeout=timeout,
        jobs=1,
        force=force,
        extra={"utforare": utforare, "utforartyp": utforartyp},
    )
    res = results[0]
    if not res.ok or res.html is None:
        typer.echo(
            f"Rapporten misslyckades / report failed: {res.error_type}, cell {res.error_cell}. "
            f"Den körda notebooken finns i {paths.runs_dir()} (internt).",
            err=True,
        )
        raise typer.Exit(1)
    from workbench.excel import provider_summary_path

    typer.echo(f"Rapport: {res.html}" + (" (oförändrad)" if res.skipped else ""))
    xlsx = provider_summary_path(settings, {"utforare": utforare, "utforartyp": utforartyp})
    if xlsx.is_file():
        typer.echo(f"Excel: {xlsx}")
    if paths.reports_dir().is_dir() and res.html.is_relative_to(paths.reports_dir()):
        from workbench.report import write_index

        write_index(paths.reports_dir())


#: The report notebooks `workbench demo` builds, in order (the final report last: it reads the
#: caches the others fill).
DEMO_NOTEBOOKS = (
    "10-follow-up",
    "20-ambiguous-variables",
    "30-comparisons",
    "50-placement-providers",
    "60-childrens-voice",
    "40-final-report",
)


def _demo_data_stale(data: Path) -> bool:
    """True when the demo data are missing or were made by another version of the generator."""
    import json

    from workbench.synth import generator_digest

    manifest = data / "manifest.json"
    if not manifest.is_file():
        return True
    made_by = json.loads(manifest.read_text(encoding="utf-8")).get("generator_digest")
    if made_by != generator_digest():
        typer.echo(f"Demodata i {data} är gjorda av en annan version av generatorn: byggs om.")
        return True
    return False


@app.command()
def demo(
    regenerate: Annotated[
        bool, typer.Option(help="Rebuild the demo data even if present")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Reports built in parallel; default: all cores"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild reports whose inputs have not changed")
    ] = False,
    notebooks: Annotated[
        list[str] | None,
        typer.Option("--notebook", help="Only these report notebooks (repeatable); default all"),
    ] = None,
) -> None:
    """Generate the demo data if needed, run every report notebook for the demo selection
    (Västernorrland and the nation), write the index and run the release gate."""
    from workbench.params import demo_selection

    data = paths.demo_data_dir()
    if regenerate or _demo_data_stale(data):
        synth(out=data)
    codes, national = demo_selection()
    if national:
        codes.append("0000")
    status = 0
    for notebook in notebooks or DEMO_NOTEBOOKS:
        typer.echo(f"== {notebook}")
        status |= _run_batch(
            codes,
            notebook=notebook,
            period="",
            data_dir="",
            audience="public",
            timeout=600,
            jobs=jobs,
            force=force,
        )
    from workbench import release

    gate = release.check_release([paths.reports_dir()], min_count=release.default_min_count())
    for finding in gate.findings:
        typer.echo(str(finding), err=True)
    typer.echo(f"Utgivningskontroll / release gate: {gate.summary()}")
    raise typer.Exit(status or (0 if gate.passed(strict=True) else 1))


@app.command()
def index() -> None:
    """Write reports/index.html linking every published report."""
    from workbench.report import write_index

    paths.reports_dir().mkdir(exist_ok=True)
    typer.echo(f"Index: {write_index(paths.reports_dir())}")


@app.command("check-release")
def check_release(
    targets: Annotated[
        list[Path],
        typer.Argument(help="Files or folders to check, e.g. reports", show_default=False),
    ],
    forbid_file: Annotated[
        Path | None,
        typer.Option("--forbid-file", help="Forbidden strings (canaries, key), one per line"),
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Largest DataFrame table allowed (rows)")] = 50,
    min_count: Annotated[
        int | None, typer.Option(help="Counts 1..min_count-1 must be '..'; default: parameters")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Warnings fail the check too")] = False,
) -> None:
    """Release gate: scan HTML, Excel and notebooks before sharing (exit 1 on findings)."""
    from workbench import release

    try:
        forbidden = release.read_forbidden_file(forbid_file) if forbid_file else ()
        report = release.check_release(
            targets,
            forbidden=forbidden,
            min_count=release.default_min_count() if min_count is None else min_count,
            max_rows=max_rows,
        )
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    for finding in report.findings:
        typer.echo(str(finding))
    typer.echo(report.summary())
    raise typer.Exit(0 if report.passed(strict=strict) else 1)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except Exception as exc:  # a clear message, never a traceback of data
        if isinstance(exc, (SystemExit, typer.Exit)):
            raise
        typer.echo(f"Fel / Error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
