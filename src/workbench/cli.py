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
    codes: list[str], *, notebook: str, period: str, data_dir: str, audience: str, timeout: int
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
    from workbench.run import run_reports

    failed = 0
    results = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("klara {task.fields[ok]} · fel {task.fields[failed]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("Rapporter", total=len(codes), ok=0, failed=0)

        def on_result(res):  # noqa: ANN001
            nonlocal failed
            failed += 0 if res.ok else 1
            progress.update(task, advance=1, ok=len(results) + 1 - failed, failed=failed)
            results.append(res)

        try:
            run_reports(
                codes,
                notebook=notebook,
                period=period,
                data_dir=data_dir,
                audience=audience,
                timeout=timeout,
                on_result=on_result,
            )
        except ParameterError as exc:
            _fail(str(exc))
    table = Table("kod", "kommun", "status", "sekunder", "fel (typ, cell)")
    for r in results:
        table.add_row(
            r.kommun,
            r.name,
            r.status,
            f"{r.seconds:.1f}",
            "" if r.ok else f"{r.error_type}, cell {r.error_cell}",
        )
    Console().print(table)
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
    timeout: Annotated[int, typer.Option(help="Seconds per notebook cell")] = 600,
) -> None:
    """Run report notebooks through papermill and export HTML (one municipality's failure does
    not stop the others; exit code 1 if any failed)."""
    codes = _select_codes(kommun, lan, all_, national)
    raise typer.Exit(
        _run_batch(
            codes,
            notebook=notebook,
            period=period,
            data_dir=data_dir,
            audience=audience,
            timeout=timeout,
        )
    )


@app.command()
def demo(
    regenerate: Annotated[
        bool, typer.Option(help="Rebuild the demo data even if present")
    ] = False,
) -> None:
    """Generate the demo data if needed, run the demo selection and write the index."""
    from workbench.params import demo_selection

    data = paths.demo_data_dir()
    if regenerate or not (data / "manifest.json").is_file():
        synth(out=data)
    codes, national = demo_selection()
    if national:
        codes.append("0000")
    raise typer.Exit(
        _run_batch(
            codes, notebook="10-follow-up", period="", data_dir="", audience="public", timeout=600
        )
    )


@app.command()
def index() -> None:
    """Write reports/index.html linking every published report."""
    from workbench.report import write_index

    paths.reports_dir().mkdir(exist_ok=True)
    typer.echo(f"Index: {write_index(paths.reports_dir())}")


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
