"""What an ingest leaves for the researcher: report (Markdown and HTML), problems, quarantine.

All of it lives in the private zone (default ``<out_dir>-ingest/``, owner-only files): the
quarantine holds the rejected rows (identifiers masked) so nothing is lost, but it is still case
data. Problem lists and reports show masked values only.
"""

from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from workbench.dataset import _atomic_write_bytes
from workbench.fmt import format_int, format_percent
from workbench.ingest.problems import ERROR, RULES, show_value

if TYPE_CHECKING:
    from workbench.ingest.core import IngestResult
    from workbench.ingest.profile import Profile

FILES = {
    "report_md": "ingest-report.md",
    "report_html": "ingest-report.html",
    "problems": "problems.csv",
    "quarantine": "quarantine.csv",
    "summary": "ingest.json",
}


def _csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV as Swedish Excel opens it: semicolons, UTF-8 with BOM."""
    buf = io.StringIO()
    df.to_csv(buf, sep=";", index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8-sig")


def quarantine_frame(
    staged: pd.DataFrame, raw: pd.DataFrame, problems: pd.DataFrame
) -> pd.DataFrame:
    """Rejected rows with their reasons: file, row, rules, messages and the values read (masked ids)."""
    errors = problems[problems["allvarlighet"] == ERROR]
    reasons = errors.groupby(["fil", "rad"], sort=False).agg(
        regler=("regel", lambda s: ", ".join(dict.fromkeys(s))),
        orsaker=("meddelande", lambda s: " | ".join(dict.fromkeys(s))),
    )
    out = pd.DataFrame({"fil": staged["_fil"], "rad": staged["_rad"].astype("Int64")})
    keyed = out.merge(reasons, left_on=["fil", "rad"], right_index=True, how="left")
    values = raw.drop(columns=[c for c in ("_fil", "_forder", "_rad") if c in raw])
    for c in values.columns:
        if c.startswith("_id_"):
            values[c] = values[c].map(lambda v: show_value(v, identifier=True), na_action="ignore")
    values = values.rename(columns=lambda c: c.removeprefix("_id_"))
    return pd.concat([keyed.reset_index(drop=True), values.reset_index(drop=True)], axis=1)


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_(inga / none)_\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [str(v).replace("|", "\\|").replace("\n", " ") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _html_table(df: pd.DataFrame, caption: str) -> str:
    if df.empty:
        return f"<p>{html.escape(caption)}: inga.</p>"
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="wb-table"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _sections(result: IngestResult) -> list[tuple[str, str, pd.DataFrame]]:
    f = result.files
    counts = pd.DataFrame(
        {
            "Fil": f["fil"],
            "Format": f["format"] + " " + f["teckenkodning"] + " " + f["avgransare"],
            "Lästa rader": f["rader_lasta"].map(format_int),
            "Accepterade": f["accepterade"].map(format_int),
            "Karantän": f["karantan"].map(format_int),
            "Dubbletter": f["dubbletter"].map(format_int),
            "Tomma": f["tomma_rader"].map(format_int),
            "Upprepade rubriker": f["upprepade_rubriker"].map(format_int),
            "Summarader": f["summarader"].map(format_int),
            "Angiven summa": f["summa_angiven"],
        }
    )
    p = result.problems
    by_rule = (
        p.groupby(["allvarlighet", "regel"], sort=True)
        .agg(antal=("regel", "size"), rader=("rad", "nunique"))
        .reset_index()
    )
    by_rule["beskrivning"] = by_rule["regel"].map(lambda r: RULES[r].sv.split(" ({")[0])
    by_rule["åtgärd"] = by_rule["regel"].map(lambda r: RULES[r].fix_sv)
    by_rule = by_rule.sort_values(["allvarlighet", "antal"], ascending=[True, False])
    by_rule = by_rule.rename(columns={"allvarlighet": "Allvarlighet", "regel": "Regel"})
    by_column = (
        p[p["kolumn"] != ""]
        .groupby(["kolumn", "regel"], sort=True)
        .size()
        .reset_index(name="antal")
        .rename(columns={"kolumn": "Kolumn", "regel": "Regel", "antal": "Antal"})
    )
    c = result.completeness
    comp = pd.DataFrame(
        {
            "Variabel": c["variabel"],
            "Etikett": c["etikett"],
            "Underlag": c["n"].map(format_int),
            "Ifylld (känd)": c["ifylld_kand"].map(lambda x: format_percent(x, 1, missing="–")),
            "Okänd/kan ej bedömas": c["okand_ej_bedomd"].map(
                lambda x: format_percent(x, 1, missing="–")
            ),
            "Saknas": c["saknas"].map(lambda x: format_percent(x, 1, missing="–")),
        }
    )
    unknown = result.unknown_codes.rename(
        columns={"variabel": "Variabel", "varde": "Värde", "antal": "Antal", "narmast": "Närmast"}
    )
    first = p.head(200)[["fil", "rad", "kolumn", "varde", "regel", "allvarlighet", "meddelande"]]
    first = first.astype({"rad": "str"})
    return [
        ("Filer och rader", "Files and rows", counts),
        ("Problem per regel", "Problems by rule", by_rule),
        ("Problem per kolumn", "Problems by column", by_column),
        ("Okända koder", "Unknown codes", unknown),
        ("Ifyllnadsgrad per variabel (accepterade rader)", "Completeness", comp),
        ("De första 200 problemen (värden maskerade)", "First 200 problems", first.fillna("")),
    ]


def _status(result: IngestResult) -> tuple[str, str]:
    if result.written and result.n_errors == 0:
        return "ok", "Datasetet skrevs. / The dataset was written."
    if result.written:
        return (
            "accepterad karantän",
            "Datasetet skrevs med --accept-quarantine; raderna i karantän ingår inte. / "
            "Written with --accept-quarantine; quarantined rows are not included.",
        )
    return (
        "fel",
        "Datasetet skrevs INTE: rätta felen och kör igen, eller godkänn karantänen med "
        "--accept-quarantine. Ett tidigare dataset i utmappen är oförändrat. / The dataset was "
        "NOT written: fix the errors and re-run, or accept the quarantine.",
    )


def render_markdown(result: IngestResult, prof: Profile) -> str:
    status, text = _status(result)
    lines = [
        f"# Ingestrapport – {prof.title_sv}",
        "",
        f"- Status: **{status}**. {text}",
        f"- Profil: `{prof.name}` ({prof.system}), sha256 `{prof.sha256[:12]}`",
        f"- Referensdatum: {result.reference_date}; nyckel-id: `{result.key_id}`",
        f"- Inläst: {result.ingested_at}; indata-hash `{result.input_hash[:16]}`",
        f"- Rader: lästa {result.rows_read} = accepterade {result.rows_accepted} + karantän "
        f"{result.rows_quarantined} + dubbletter {int(result.files['dubbletter'].sum())} + "
        f"strukturrader {int(result.files['strukturrader'].sum())}",
        f"- Fel: {result.n_errors}; varningar: {result.n_warnings}",
        f"- Tabeller: {', '.join(f'{k} {v}' for k, v in result.table_rows.items())}",
        f"- Utdata: `{result.out_dir}`; karantän och problemlista: `{result.report_dir}`",
        "",
    ]
    for sv, en, df in _sections(result):
        lines += [f"## {sv} / {en}", "", _md_table(df), ""]
    return "\n".join(lines)


def _css() -> str:
    # the report stylesheet, read directly (importing workbench.report would load nbconvert)
    return (Path(__file__).parents[1] / "templates" / "workbench" / "workbench.css").read_text(
        encoding="utf-8"
    )


def render_html(result: IngestResult, prof: Profile) -> str:
    status, text = _status(result)
    e = html.escape
    facts = [
        ("Status", f"{status}. {text}"),
        ("Profil", f"{prof.name} ({prof.system})"),
        ("Referensdatum", result.reference_date),
        ("Nyckel-id", result.key_id),
        ("Inläst", result.ingested_at),
        (
            "Rader",
            f"lästa {format_int(result.rows_read)} = accepterade "
            f"{format_int(result.rows_accepted)} + karantän "
            f"{format_int(result.rows_quarantined)} + dubbletter "
            f"{format_int(result.files['dubbletter'].sum())} + strukturrader "
            f"{format_int(result.files['strukturrader'].sum())}",
        ),
        ("Fel / varningar", f"{result.n_errors} / {result.n_warnings}"),
    ]
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in facts)
    body = [f"<h1>Ingestrapport – {e(prof.title_sv)}</h1>", f"<dl>{dl}</dl>"]
    for sv, en, df in _sections(result):
        body.append(f'<h2>{e(sv)} <span lang="en">/ {e(en)}</span></h2>')
        body.append(_html_table(df, sv))
    return (
        '<!DOCTYPE html>\n<html lang="sv">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n"
        f"<title>Ingestrapport – {e(prof.name)}</title>\n<style>\n{_css()}\n</style>\n</head>\n"
        f'<body>\n<main class="wb-report">\n{"".join(body)}\n</main>\n</body>\n</html>\n'
    )


def summary(result: IngestResult) -> dict:
    p = result.problems
    return {
        "input_hash": result.input_hash,
        "ingested_at": result.ingested_at,
        "profile": result.profile,
        "key_id": result.key_id,
        "reference_date": result.reference_date,
        "written": result.written,
        "rows": {
            "read": result.rows_read,
            "accepted": result.rows_accepted,
            "quarantined": result.rows_quarantined,
            "duplicates": int(result.files["dubbletter"].sum()),
            "structural": int(result.files["strukturrader"].sum()),
        },
        "files": result.files.to_dict("records"),
        "problems": p.groupby("regel").size().astype(int).to_dict(),
        "errors": result.n_errors,
        "warnings": result.n_warnings,
        "tables": result.table_rows,
    }


def write_ingest_outputs(
    result: IngestResult, staged_q: pd.DataFrame, raw_q: pd.DataFrame, prof: Profile
) -> None:
    """Write report, problems, quarantine and summary into ``result.report_dir`` (owner-only)."""
    d = result.report_dir
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    _atomic_write_bytes(d / FILES["problems"], _csv_bytes(result.problems))
    q = quarantine_frame(staged_q, raw_q, result.problems)
    _atomic_write_bytes(d / FILES["quarantine"], _csv_bytes(q))
    _atomic_write_bytes(d / FILES["report_md"], render_markdown(result, prof).encode("utf-8"))
    _atomic_write_bytes(d / FILES["report_html"], render_html(result, prof).encode("utf-8"))
    text = json.dumps(summary(result), ensure_ascii=False, indent=2, sort_keys=True, default=str)
    _atomic_write_bytes(d / FILES["summary"], (text + "\n").encode("utf-8"))


def report_paths(report_dir: Path) -> dict[str, Path]:
    return {k: report_dir / v for k, v in FILES.items()}
