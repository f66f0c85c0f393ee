"""Excel appendix of the comparison report, laid out like Socialstyrelsen's statistical tables.

The workbook has a contents sheet (``Innehåll``) with links to every table, an "about the
statistics" sheet (``Om statistiken``), the indicator definitions (``Definitioner``) and one
sheet per table (``Tabell 1``, ``Tabell 2`` …), each with a title, a header row, the values and
footnotes (source and symbols). Values that are not published are written as the symbols ``..``
(suppressed or too uncertain) and ``.`` (no cases). Shares are percent values (0–100).

Only published tables go in: a :class:`workbench.disclosure.ProtectedTable` or a result of
:mod:`workbench.compare` (all of which are computed from protected tables); anything else is
refused. Every sheet is visible; there are no comments, no pivot caches and no author names
(the creator is ``workbench``). The same inputs give byte-identical files: the document dates
are the data extract's date and the zip entries carry a fixed timestamp.

:func:`write_excel_appendix` puts a public appendix in the publish zone next to the report
(``reports/<period>/<code>-<slug>-30-comparisons.xlsx``), after the release gate has passed it,
and an internal one in ``runs/`` only.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import __version__, fmt, paths
from workbench.compare import (
    BENCHMARK_SV,
    CLASS_SV,
    QUARTILE_SV,
    STATUS_NO_DATA,
    STATUS_OK,
    BenchmarkResult,
    CaseSurveyResult,
    PublishedValues,
    QuartileResult,
    SurveyCountyTable,
    TimeSeriesResult,
)
from workbench.disclosure import ProtectedTable
from workbench.followup import UNIT
from workbench.indicators import KIND_SV, POLARITY_SV, IndicatorSet, load_indicators

__all__ = [
    "PUBLISHABLE",
    "Sheet",
    "excel_number",
    "write_provider_summary",
    "Subset",
    "build_workbook",
    "excel_path",
    "sheet_for",
    "write_excel_appendix",
    "write_workbook",
]

logger = logging.getLogger(__name__)

NOTEBOOK = "30-comparisons"
CREATOR = "workbench"
SYMBOLS_SV = (
    f"Teckenförklaring: {fmt.SUPPRESSED} = uppgiften redovisas inte (för få fall eller för "
    f"osäker); {fmt.NOT_APPLICABLE} = inga fall."
)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_HEADER_FILL = "DDE5EE"

#: Types whose contents may go into the appendix.
PUBLISHABLE: tuple[type, ...] = (
    ProtectedTable,
    PublishedValues,
    BenchmarkResult,
    QuartileResult,
    SurveyCountyTable,
    CaseSurveyResult,
    TimeSeriesResult,
)


@dataclass(frozen=True)
class Subset:
    """A publishable table restricted to some units (``None``: all)."""

    table: Any
    units: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Sheet:
    """One table sheet: title, columns (header, kind), rows and footnotes.

    Kinds: ``label`` (text), ``year``, ``count`` (whole number), ``share`` (percent 0–100).
    A cell may hold a symbol string (``..``, ``.``) instead of a number.
    """

    title: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[Any, ...], ...]
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# From published tables to sheets
# --------------------------------------------------------------------------------------------


@functools.cache
def _unit(code: str) -> str:
    from workbench.views_compare import unit_label

    return unit_label(str(code))


def _pct(share: object, status: str = STATUS_OK) -> object:
    if status == STATUS_NO_DATA:
        return fmt.NOT_APPLICABLE
    if status != STATUS_OK or fmt.is_missing(share):
        return fmt.SUPPRESSED
    return 100.0 * float(share)  # unrounded: whole percents 1-4 would read as counts


def _count(x: object) -> object:
    return fmt.SUPPRESSED if fmt.is_missing(x) else int(x)  # type: ignore[call-overload]


def _year(ar: object, period: str) -> object:
    return period if fmt.is_missing(ar) else int(ar)  # type: ignore[call-overload]


def _title(inds: IndicatorSet, ident: str) -> str:
    return inds.get(ident).title_sv if ident in inds.indicators else ident


def _restrict(frame: pd.DataFrame, units: tuple[str, ...] | None, col: str = UNIT) -> pd.DataFrame:
    return frame if units is None else frame[frame[col].isin(units)]


def sheet_for(
    title: str, source: Any, *, period: str, indicators: IndicatorSet | None = None
) -> Sheet:
    """Lay out one published table as a sheet.

    Raises
    ------
    TypeError
        If ``source`` is not a protected table or a comparison result (or a :class:`Subset` of
        one): the appendix is built only from protected tables.
    """
    units = None
    if isinstance(source, Subset):
        source, units = source.table, source.units
    if not isinstance(source, PUBLISHABLE):
        raise TypeError(
            "The Excel appendix is built only from ProtectedTable objects and comparison "
            f"results computed from them; got {type(source).__name__}. Pass counts through "
            "protect_linked() (workbench.compare.protect_case_counts) first."
        )
    inds = indicators or load_indicators()
    if isinstance(source, ProtectedTable):
        return _protected_sheet(title, source, units)
    if isinstance(source, PublishedValues):
        return _values_sheet(title, source.data, units, period, inds)
    if isinstance(source, TimeSeriesResult):
        return _values_sheet(title, source.values, units, period, inds)
    if isinstance(source, BenchmarkResult):
        return _benchmark_sheet(title, source, units, period, inds)
    if isinstance(source, QuartileResult):
        return _quartile_sheet(title, source, units, period, inds)
    if isinstance(source, SurveyCountyTable):
        return _survey_sheet(title, source, units, inds)
    return _case_survey_sheet(title, source, units, period, inds)


def _protected_sheet(title: str, pt: ProtectedTable, units: tuple[str, ...] | None) -> Sheet:
    unit_col, group_col, code_col = pt.keys
    d = _restrict(pt.to_frame(), units, unit_col)
    rows = tuple(
        (
            _unit(r[unit_col]),
            str(r[unit_col]),
            str(r[group_col]),
            str(r[code_col]),
            _count(r["n_shown"]),
            _count(r["denominator_shown"]),
            fmt.SUPPRESSED if fmt.is_missing(r["share"]) else 100.0 * float(r["share"]),
        )
        for r in d.to_dict("records")
    )
    cols = (
        ("Område", "label"),
        ("Områdeskod", "label"),
        ("Grupp", "label"),
        ("Kod", "label"),
        ("Antal", "count"),
        ("Underlag", "count"),
        ("Andel (%)", "share"),
    )
    return Sheet(title, cols, rows)


def _values_sheet(
    title: str,
    d: pd.DataFrame,
    units: tuple[str, ...] | None,
    period: str,
    inds: IndicatorSet,
) -> Sheet:
    d = _restrict(d, units)
    rows = tuple(
        (
            _unit(r[UNIT]),
            _title(inds, r["indikator"]),
            _year(r["ar"], period),
            _pct(r["share"], r["status"]),
            _pct(r["ci_low"], r["status"]),
            _pct(r["ci_high"], r["status"]),
            _count(r["n"]),
            _count(r["denominator"]),
        )
        for r in d.to_dict("records")
    )
    cols = (
        ("Område", "label"),
        ("Indikator", "label"),
        ("År", "year"),
        ("Andel (%)", "share"),
        ("95 % KI, nedre (%)", "share"),
        ("95 % KI, övre (%)", "share"),
        ("Täljare", "count"),
        ("Nämnare", "count"),
    )
    return Sheet(title, cols, rows, ("Konfidensintervall: Wilson, 95 %.",))


def _benchmark_sheet(
    title: str,
    res: BenchmarkResult,
    units: tuple[str, ...] | None,
    period: str,
    inds: IndicatorSet,
) -> Sheet:
    d = _restrict(res.data, units)
    rows = []
    for r in d.to_dict("records"):
        bench = r["jamforelse_enhet"]
        bench_name = _unit(bench) if r["jamforelse"] != "liknande" else bench
        rows.append(
            (
                _unit(r[UNIT]),
                _title(inds, r["indikator"]),
                _year(r["ar"], period),
                _pct(r["share"], r["status"]),
                _pct(r["ci_low"], r["status"]),
                _pct(r["ci_high"], r["status"]),
                _count(r["denominator"]),
                BENCHMARK_SV[r["jamforelse"]],
                bench_name,
                _pct(r["jamforelse_andel"], STATUS_OK),
                CLASS_SV[r["klass"]],
            )
        )
    cols = (
        ("Område", "label"),
        ("Indikator", "label"),
        ("År", "year"),
        ("Andel (%)", "share"),
        ("95 % KI, nedre (%)", "share"),
        ("95 % KI, övre (%)", "share"),
        ("Underlag", "count"),
        ("Jämförelse", "label"),
        ("Jämförelseområde", "label"),
        ("Jämförelsevärde (%)", "share"),
        ("Bedömning", "label"),
    )
    notes = (
        "Bedömning: jämförelsevärdet ligger utanför områdets 95 % konfidensintervall (Wilson) "
        "= Bättre/Sämre enligt indikatorns polaritet; annars Ingen säker skillnad.",
        "Liknande kommuners värde räknas på de kommuner i gruppen vars värden redovisas.",
    )
    return Sheet(title, cols, tuple(rows), notes)


def _quartile_sheet(
    title: str,
    res: QuartileResult,
    units: tuple[str, ...] | None,
    period: str,
    inds: IndicatorSet,
) -> Sheet:
    d = _restrict(res.data, units)
    rows = tuple(
        (
            _unit(r[UNIT]),
            _title(inds, r["indikator"]),
            _year(r["ar"], period),
            _pct(r["share"], r["status"]),
            QUARTILE_SV[r["kvartil"]].replace(fmt.NBSP, " "),
            _pct(r["q25"], STATUS_OK),
            _pct(r["q75"], STATUS_OK),
        )
        for r in d.to_dict("records")
    )
    cols = (
        ("Område", "label"),
        ("Indikator", "label"),
        ("År", "year"),
        ("Andel (%)", "share"),
        ("Kvartil", "label"),
        ("Första kvartilen, alla kommuner (%)", "share"),
        ("Tredje kvartilen, alla kommuner (%)", "share"),
    )
    return Sheet(title, cols, rows, ("Kvartiler av alla kommuners redovisade värden.",))


def _survey_sheet(
    title: str, res: SurveyCountyTable, units: tuple[str, ...] | None, inds: IndicatorSet
) -> Sheet:
    d = _restrict(res.data, units)
    rows = tuple(
        (
            _unit(r[UNIT]),
            _title(inds, r["indikator"]),
            int(r["ar"]),
            _pct(r["share"], r["status"]),
            # counts of municipalities as text: "12 av 13" (municipalities, not people)
            f"{fmt.format_int(r['n'], missing=fmt.SUPPRESSED)} av "
            f"{fmt.format_int(r['denominator'], missing=fmt.SUPPRESSED)}",
            f"{fmt.format_int(r['denominator'], missing=fmt.SUPPRESSED)} av "
            f"{fmt.format_int(r['kommuner'])}",
        )
        for r in d.to_dict("records")
    )
    cols = (
        ("Område", "label"),
        ("Fråga", "label"),
        ("År", "year"),
        ("Andel ja (%)", "share"),
        ("Kommuner som svarat ja", "label"),
        ("Kommuner som besvarat enkäten", "label"),
    )
    notes = (
        "Andelen räknas bland kommuner som besvarat enkäten. Svaren gäller kommuner, inte "
        "personer, och redovisas utan röjandekontroll.",
    )
    return Sheet(title, cols, rows, notes)


def _case_survey_sheet(
    title: str,
    res: CaseSurveyResult,
    units: tuple[str, ...] | None,
    period: str,
    inds: IndicatorSet,
) -> Sheet:
    d = _restrict(res.data, units)
    rows = tuple(
        (
            _unit(r[UNIT]),
            _title(inds, r["enkat"]),
            int(r["ar"]),
            CLASS_SV[r["svar"]],
            _title(inds, r["arende"]),
            period,
            _pct(r["share"], r["status"]),
            _pct(r["ci_low"], r["status"]),
            _pct(r["ci_high"], r["status"]),
            _pct(r["expected_share"], STATUS_OK),
            r["flagga_sv"],
        )
        for r in d.to_dict("records")
    )
    cols = (
        ("Kommun", "label"),
        ("Enkätfråga", "label"),
        ("Enkätår", "year"),
        ("Svar", "label"),
        ("Ärendedata", "label"),
        ("Period", "label"),
        ("Andel (%)", "share"),
        ("95 % KI, nedre (%)", "share"),
        ("95 % KI, övre (%)", "share"),
        ("Förväntad andel vid ja (%)", "share"),
        ("Bedömning", "label"),
    )
    notes = (
        "Avviker: hela konfidensintervallet ligger på fel sida om den förväntade andelen. Det "
        "tyder på ett definitionsproblem, inte på att kommunen gör fel.",
    )
    return Sheet(title, cols, rows, notes)


# --------------------------------------------------------------------------------------------
# The workbook
# --------------------------------------------------------------------------------------------


def _deterministic_zip(data: bytes, modified: dt.datetime) -> bytes:
    """Rewrite an xlsx zip with a fixed timestamp on every entry (byte-identical reruns).

    openpyxl stamps ``dcterms:modified`` with the time of saving; it is set back to
    ``modified`` (the data extract's date) here.
    """
    stamp = modified.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    body,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def _definition_rows(inds: IndicatorSet) -> list[tuple[Any, ...]]:
    rows = []
    for ind in inds:
        num, den = ind.definition_sv()
        rows.append(
            (
                ind.title_sv,
                ind.id,
                KIND_SV[ind.kind],
                ind.description_sv,
                num,
                den,
                ind.unit_sv,
                POLARITY_SV[ind.polarity],
                f"minst {ind.min_denominator} {ind.counted_sv}",
                ind.source_sv,
            )
        )
    return rows


def _new_workbook(heading: str, created: dt.datetime) -> Any:
    """An empty workbook with the document properties every file of ours carries (fixed
    creation time and no "last modified by", so the same content gives the same bytes)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = None
    wb.properties.title = heading
    wb.properties.created = created
    wb.properties.modified = created
    return wb


def build_workbook(
    sheets: Sequence[Sheet],
    *,
    heading: str,
    subtitle: str,
    about: Sequence[str],
    indicators: IndicatorSet,
    created: dt.datetime,
    source: str,
) -> bytes:
    """The appendix as xlsx bytes: contents, about, definitions, then one sheet per table."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.hyperlink import Hyperlink

    bold = Font(bold=True)
    big = Font(bold=True, size=14)
    head_fill = PatternFill("solid", fgColor=_HEADER_FILL)
    rule = Border(bottom=Side(style="thin", color="808080"))
    wrap = Alignment(wrap_text=True, vertical="top")
    right = Alignment(horizontal="right")

    wb = _new_workbook(heading, created)

    contents = wb.active
    contents.title = "Innehåll"
    contents["A1"] = heading
    contents["A1"].font = big
    contents["A2"] = subtitle
    contents["A4"] = "Innehåll"
    contents["A4"].font = bold
    index = [("Om statistiken", "Om statistiken"), ("Definitioner", "Definitioner")]
    index += [(f"Tabell {i}", f"Tabell {i}. {s.title}") for i, s in enumerate(sheets, start=1)]
    for row, (name, text) in enumerate(index, start=5):
        cell = contents.cell(row=row, column=1, value=text)
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=f"'{name}'!A1", display=text)
        cell.font = Font(color="0B5A8C", underline="single")
    contents.column_dimensions["A"].width = 100

    ab = wb.create_sheet("Om statistiken")
    ab["A1"] = "Om statistiken"
    ab["A1"].font = big
    for row, text in enumerate(about, start=3):
        c = ab.cell(row=row, column=1, value=text)
        c.alignment = wrap
    ab.column_dimensions["A"].width = 110

    de = wb.create_sheet("Definitioner")
    de["A1"] = f"Definitioner av indikatorerna (version {indicators.version})"
    de["A1"].font = big
    heads = (
        "Indikator",
        "Id",
        "Källa",
        "Beskrivning",
        "Täljare",
        "Nämnare",
        "Enhet",
        "Polaritet",
        "Minsta underlag",
        "Ursprung",
    )
    for col, h in enumerate(heads, start=1):
        c = de.cell(row=3, column=col, value=h)
        c.font, c.fill, c.border, c.alignment = bold, head_fill, rule, wrap
    for row, values in enumerate(_definition_rows(indicators), start=4):
        for col, v in enumerate(values, start=1):
            de.cell(row=row, column=col, value=v).alignment = wrap
    for col, width in enumerate((32, 24, 12, 60, 40, 40, 14, 22, 18, 40), start=1):
        de.column_dimensions[get_column_letter(col)].width = width
    de.freeze_panes = "A4"

    for i, sheet in enumerate(sheets, start=1):
        ws = wb.create_sheet(f"Tabell {i}")
        ws["A1"] = f"Tabell {i}. {sheet.title}"
        ws["A1"].font = Font(bold=True, size=12)
        ws["A2"] = subtitle
        for col, (h, _kind) in enumerate(sheet.columns, start=1):
            c = ws.cell(row=4, column=col, value=h)
            c.font, c.fill, c.border, c.alignment = bold, head_fill, rule, wrap
        widths = [max(10, min(40, len(h) + 2)) for h, _ in sheet.columns]
        for r, values in enumerate(sheet.rows, start=5):
            for col, ((_h, kind), v) in enumerate(
                zip(sheet.columns, values, strict=True), start=1
            ):
                if isinstance(v, float | np.floating) and not np.isfinite(v):
                    v = fmt.SUPPRESSED
                if isinstance(v, np.integer):
                    v = int(v)
                c = ws.cell(row=r, column=col, value=v)
                if isinstance(v, str) and kind in ("count", "share"):
                    c.alignment = right
                elif kind == "share":
                    c.number_format = "0.0"
                elif kind == "count":
                    c.number_format = "#,##0"
                if kind == "label" and isinstance(v, str):
                    widths[col - 1] = max(widths[col - 1], min(50, len(v) + 2))
        last = 5 + len(sheet.rows)
        for k, note in enumerate((f"Källa: {source}.", SYMBOLS_SV, *sheet.notes), start=1):
            ws.cell(row=last + k, column=1, value=note)
        for col, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(col)].width = width
        ws.freeze_panes = "A5"

    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_zip(buf.getvalue(), created)


def _about(settings: Any, manifest: Mapping[str, Any], rules: Any) -> list[str]:
    m = settings.municipality
    where = "hela riket" if settings.is_national else f"{m.name} ({m.county_name})"
    lines = [
        f"Jämförelser mellan kommuner för {where}, period {settings.period_label}.",
        "Ärendedata är uppföljningsregistreringar (vid uppföljning eller avslut av en insats) och "
        "insatser enligt BBIC:s variabler för systematisk uppföljning. Kommunenkäten är en "
        "enkät till kommunerna i Öppna jämförelsers anda.",
        "Värden för ärendedata gäller hela perioden. Andelar har 95 % konfidensintervall enligt "
        "Wilson. En kommun är bättre eller sämre än ett jämförelsevärde när jämförelsevärdet "
        "ligger utanför kommunens intervall (samma regel som Public Health Englands Fingertips); "
        "polariteten i definitionerna avgör vad som är bättre.",
        "Kvartiler: bästa fjärdedelen, mittersta hälften och sämsta fjärdedelen av alla kommuners "
        "redovisade värden, som i Öppna jämförelser och Kolada.",
        f"Röjandekontroll: antal mellan 1 och {rules.min_count - 1} redovisas inte; andelar kräver "
        f"ett underlag på minst {rules.min_denominator}; om alla i en kommun har samma utfall "
        "döljs värdet; fler värden döljs så att inget dolt tal kan räknas fram ur kommunernas, "
        "länets och rikets värden (kontrollerat med linjärprogrammering). Kommunenkätens svar "
        "gäller kommuner och redovisas utan röjandekontroll.",
        SYMBOLS_SV,
        f"Data: {manifest.get('source', '')}, uttag {manifest.get('data_date', '')}. "
        f"Framställd med workbench {__version__}.",
    ]
    if manifest.get("synthetic"):
        lines.insert(
            1,
            "Syntetiska data: siffrorna är påhittade demonstrationsdata och beskriver ingen "
            "verklig kommun.",
        )
    if settings.audience == "internal":
        lines.insert(0, "INTERNT — ej för spridning / INTERNAL — not for distribution.")
    return lines


def excel_path(settings: Any) -> Path:
    """Where the appendix of a run goes.

    Public: ``reports/<period>/<code>-<slug>-30-comparisons.xlsx`` (next to the HTML report).
    Internal: ``runs/<period>/30-comparisons/<code>-<slug>-30-comparisons.INTERNAL.xlsx``; never
    the publish zone.
    """
    m = settings.municipality
    stem = f"{m.code}-{m.slug}-{NOTEBOOK}"
    if settings.audience == "public":
        return paths.reports_dir() / settings.period_slug / f"{stem}.xlsx"
    return paths.runs_dir() / settings.period_slug / NOTEBOOK / f"{stem}.INTERNAL.xlsx"


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_workbook(
    path: str | os.PathLike[str],
    tables: Mapping[str, Any],
    *,
    heading: str,
    subtitle: str,
    about: Sequence[str],
    period: str,
    created: dt.datetime,
    source: str,
    indicators: IndicatorSet | None = None,
) -> Path:
    """Build the appendix from ``tables`` (sheet title -> published table) and write it."""
    inds = indicators or load_indicators()
    sheets = [sheet_for(t, src, period=period, indicators=inds) for t, src in tables.items()]
    data = build_workbook(
        sheets,
        heading=heading,
        subtitle=subtitle,
        about=about,
        indicators=inds,
        created=created,
        source=source,
    )
    p = Path(path)
    _atomic_write(p, data, 0o644)
    return p


def write_excel_appendix(settings: Any, tables: Mapping[str, Any]) -> Path:
    """Write the Excel appendix of one comparison report and return its path.

    The path comes from :func:`excel_path`. A public appendix is first written to the run
    folder in ``runs/`` (private zone) and checked by the release gate
    (:func:`workbench.release.check_release`); only if it passes is it moved into
    ``reports/``. A rejected file stays in ``runs/`` as ``*.REJECTED.xlsx`` and
    :class:`workbench.release.ReleaseGateError` is raised. An internal appendix is written to
    ``runs/`` only.

    Parameters
    ----------
    settings
        The run's :class:`workbench.params.Settings`.
    tables
        Sheet title -> a :class:`workbench.disclosure.ProtectedTable`, a comparison result of
        :mod:`workbench.compare` or a :class:`Subset` of one.
    """
    from workbench.dataset import read_manifest
    from workbench.disclosure import DisclosureRules

    manifest = dict(read_manifest(settings.data_dir).content)
    rules = DisclosureRules.from_mapping(settings.disclosure)
    m = settings.municipality
    where = "Riket" if settings.is_national else f"{m.name} ({m.county_name})"
    heading = f"Jämförelser mellan kommuner – {where}"
    if settings.audience == "internal":
        heading = f"INTERNT — ej för spridning. {heading}"
    date = str(manifest.get("data_date") or f"{settings.period[1]}-12-31")
    created = dt.datetime.fromisoformat(date) if len(date) >= 10 else dt.datetime(2000, 1, 1)
    final = excel_path(settings)
    kwargs: dict[str, Any] = {
        "heading": heading,
        "subtitle": f"{where}, {settings.period_label}. Uppgifter uttagna {date}.",
        "about": _about(settings, manifest, rules),
        "period": settings.period_label,
        "created": created,
        "source": f"workbench, {manifest.get('source', '')}",
    }
    if settings.audience != "public":
        path = write_workbook(final, tables, **kwargs)
        os.chmod(path, 0o600)
        logger.info("wrote internal Excel appendix %s", path.name)
        return path
    from workbench.release import ReleaseGateError, check_release

    stage_dir = paths.runs_dir() / settings.period_slug / NOTEBOOK
    stage_dir.mkdir(parents=True, exist_ok=True)
    staged = write_workbook(stage_dir / final.name, tables, **kwargs)
    report = check_release([staged], min_count=rules.min_count)
    if not report.ok:
        rejected = staged.with_name(staged.name.replace(".xlsx", ".REJECTED.xlsx"))
        os.replace(staged, rejected)
        counts = ", ".join(f"{rule} ×{n}" for rule, n in report.rule_counts().items())
        raise ReleaseGateError(f"Excel appendix rejected by the release gate ({counts})")
    _atomic_write(final, staged.read_bytes(), 0o644)
    staged.unlink()
    logger.info("published Excel appendix %s", final.name)
    return final


# --------------------------------------------------------------------------------------------
# Provider summary for procurement (report 50-placement-providers)
# --------------------------------------------------------------------------------------------

PROVIDER_NOTEBOOK = "50-placement-providers"


def excel_number(x: object, *, count: bool = False) -> object:
    """A published number for a sheet cell: ``..`` when missing; a count as an integer; any
    other whole value from 1 to 4 (a share or mean that happens to be whole) as text with a
    decimal comma, so that it cannot be read as a small count (by a reader or the gate)."""
    if fmt.is_missing(x):
        return fmt.SUPPRESSED
    if count:
        return int(x)  # type: ignore[call-overload]
    v = float(x)  # type: ignore[arg-type]
    if v.is_integer() and 1 <= v < 5:
        return fmt.format_number(v, 1)
    return v


def provider_summary_path(settings: Any, extra: Mapping[str, str] | None = None) -> Path:
    """Where the provider summary goes: next to the report, with the report's variant suffix
    (``reports/<period>/<code>-<slug>[-utforartyp-hvb]-50-placement-providers.xlsx``); an
    internal one under ``runs/`` only."""
    from workbench.run import variant_suffix

    m = settings.municipality
    stem = f"{m.code}-{m.slug}{variant_suffix(extra)}-{PROVIDER_NOTEBOOK}"
    if settings.audience == "public":
        return paths.reports_dir() / settings.period_slug / f"{stem}.xlsx"
    return paths.runs_dir() / settings.period_slug / PROVIDER_NOTEBOOK / f"{stem}.INTERNAL.xlsx"


def build_provider_workbook(
    *,
    heading: str,
    subtitle: str,
    about: Sequence[str],
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    created: dt.datetime,
    source: str,
) -> bytes:
    """Workbook: ``Om statistiken`` (measures and disclosure rules), then ``Utförare`` (one
    row per provider). Same layout, styles and determinism as :func:`build_workbook`."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor=_HEADER_FILL)
    rule = Border(bottom=Side(style="thin", color="808080"))
    wrap = Alignment(wrap_text=True, vertical="top")
    right = Alignment(horizontal="right")
    wb = _new_workbook(heading, created)

    ab = wb.active
    ab.title = "Om statistiken"
    ab["A1"] = heading
    ab["A1"].font = Font(bold=True, size=14)
    ab["A2"] = subtitle
    for row, text in enumerate(about, start=4):
        ab.cell(row=row, column=1, value=text).alignment = wrap
    ab.cell(row=5 + len(about), column=1, value=SYMBOLS_SV)
    ab.column_dimensions["A"].width = 110

    ws = wb.create_sheet("Utförare")
    ws["A1"] = f"Tabell 1. {heading}"
    ws["A1"].font = Font(bold=True, size=12)
    ws["A2"] = subtitle
    for col, (h, _kind) in enumerate(columns, start=1):
        c = ws.cell(row=4, column=col, value=h)
        c.font, c.fill, c.border, c.alignment = bold, head_fill, rule, wrap
    widths = [max(10, min(40, len(h) + 2)) for h, _ in columns]
    for r, values in enumerate(rows, start=5):
        for col, ((_h, kind), v) in enumerate(zip(columns, values, strict=True), start=1):
            if isinstance(v, np.integer):
                v = int(v)
            c = ws.cell(row=r, column=col, value=v)
            if isinstance(v, str) and kind in ("count", "share", "measure"):
                c.alignment = right
            elif kind == "share":
                c.number_format = "0.0"
            elif kind == "measure":
                c.number_format = "0.00"
            elif kind == "count":
                c.number_format = "#,##0"
            if kind == "label" and isinstance(v, str):
                widths[col - 1] = max(widths[col - 1], min(50, len(v) + 2))
    last = 5 + len(rows)
    for k, note in enumerate((f"Källa: {source}.", SYMBOLS_SV), start=1):
        ws.cell(row=last + k, column=1, value=note)
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "B5"
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_zip(buf.getvalue(), created)


def write_provider_summary(
    settings: Any,
    *,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    about: Sequence[str],
    extra: Mapping[str, str] | None = None,
) -> Path:
    """Write the provider summary workbook of report 50 and return its path.

    Rows must hold published values only (built from :class:`workbench.providers.
    ProviderSummary`, itself computed from protected tables). As for
    :func:`write_excel_appendix`: a public workbook is staged in ``runs/``, checked by the
    release gate and only then moved into ``reports/``; a rejected one stays in ``runs/`` as
    ``*.REJECTED.xlsx`` and :class:`workbench.release.ReleaseGateError` is raised.
    """
    from workbench.dataset import read_manifest
    from workbench.disclosure import DisclosureRules

    manifest = dict(read_manifest(settings.data_dir).content)
    rules = DisclosureRules.from_mapping(settings.disclosure)
    m = settings.municipality
    where = "Riket" if settings.is_national else f"{m.name} ({m.county_name})"
    heading = f"Placeringsutförare – uppföljning per utförare – {where}"
    if settings.audience == "internal":
        heading = f"INTERNT — ej för spridning. {heading}"
    date = str(manifest.get("data_date") or f"{settings.period[1]}-12-31")
    created = dt.datetime.fromisoformat(date) if len(date) >= 10 else dt.datetime(2000, 1, 1)
    data = build_provider_workbook(
        heading=heading,
        subtitle=f"{where}, {settings.period_label}. Uppgifter uttagna {date}.",
        about=about,
        columns=columns,
        rows=rows,
        created=created,
        source=f"workbench, {manifest.get('source', '')}",
    )
    final = provider_summary_path(settings, extra)
    if settings.audience != "public":
        _atomic_write(final, data, 0o600)
        return final
    from workbench.release import ReleaseGateError, check_release

    stage_dir = paths.runs_dir() / settings.period_slug / PROVIDER_NOTEBOOK
    stage_dir.mkdir(parents=True, exist_ok=True)
    staged = stage_dir / final.name
    _atomic_write(staged, data, 0o644)
    report = check_release([staged], min_count=rules.min_count)
    if not report.ok:
        rejected = staged.with_name(staged.name.replace(".xlsx", ".REJECTED.xlsx"))
        os.replace(staged, rejected)
        counts = ", ".join(f"{rule} ×{n}" for rule, n in report.rule_counts().items())
        raise ReleaseGateError(f"provider summary rejected by the release gate ({counts})")
    _atomic_write(final, staged.read_bytes(), 0o644)
    staged.unlink()
    logger.info("published provider summary %s", final.name)
    return final
