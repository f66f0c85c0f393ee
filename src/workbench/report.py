"""HTML export of executed report notebooks and the index page of published reports.

The export uses our own nbconvert template (``templates/workbench``): no code, no prompts, no
stderr, no external resources (no require.js or MathJax from a CDN), ``lang="sv"`` and a
Content-Security-Policy. Values from data are escaped where the HTML is built
(:mod:`workbench.views`); this module only assembles pages.

An ``internal`` report (by the caller's ``audience`` or by the notebook's own settings) carries
the banner "INTERNT — ej för spridning / INTERNAL — not for distribution" at the top of the page
and on every printed page, and is never written into the publish zone ``reports/``.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from workbench import __version__, paths
from workbench.dataset import _atomic_write_bytes
from workbench.views import REPORT_META_MIME

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "workbench"
AUDIENCES = ("public", "internal")
INTERNAL_BANNER = "INTERNT — ej för spridning / INTERNAL — not for distribution"


class PublishZoneError(ValueError):
    """An internal report was about to be written into the publish zone ``reports/``."""


def notebook_audience(nb: nbformat.NotebookNode) -> str:
    """The audience an executed report notebook declares: ``"internal"`` if its header block's
    metadata or its papermill parameters say so, else ``"public"``."""
    params = nb.get("metadata", {}).get("papermill", {}).get("parameters", {}) or {}
    found = [str(params.get("audience", ""))]
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            meta = out.get("data", {}).get(REPORT_META_MIME)
            if isinstance(meta, dict):
                found.append(str(meta.get("audience", "")))
    return "internal" if "internal" in found else "public"


def _refuse_publish_zone(out_path: Path) -> None:
    try:
        reports = paths.reports_dir().resolve()
    except paths.ProjectRootNotFound:
        return  # no project: there is no publish zone to protect
    if out_path.resolve().is_relative_to(reports):
        raise PublishZoneError(
            f"internal reports are never written into the publish zone {reports}; write it "
            "under runs/ (the runner does this for audience=internal)"
        )


def css() -> str:
    return (TEMPLATE_DIR / TEMPLATE_NAME / "workbench.css").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=4)
def _exporter(language: str) -> Any:
    """The configured HTML exporter, built once per process and language: a batch worker
    compiles the templates once, not once per report (the exporter keeps no state between
    notebooks; everything a page varies by is passed in ``resources``)."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        language_code=language,
        anchor_link_text="",  # anchors stay for the table of contents; no pilcrow text
    )
    remover = TagRemovePreprocessor(
        remove_cell_tags={"remove-cell", "parameters", "injected-parameters"}
    )
    exporter.register_preprocessor(remover, enabled=True)
    return exporter


def export_html(
    notebook: nbformat.NotebookNode | Path,
    out_path: Path,
    *,
    title: str,
    audience: str = "public",
    footer: str = "",
    language: str = "sv",
    suppression_log: str = "",
) -> Path:
    """Convert an executed notebook to a self-contained HTML report and write it atomically.

    Parameters
    ----------
    notebook
        The executed notebook (node or path).
    out_path
        Where to write the HTML.
    title, footer, language
        Page title, footer line and ``lang`` attribute.
    audience
        ``"public"`` or ``"internal"``. The report is internal if this *or* the notebook itself
        (:func:`notebook_audience`) says so: it then carries the INTERNAL banner.
    suppression_log
        File name of the report's suppression log, linked from the footer.

    Raises
    ------
    ValueError
        If ``audience`` is not ``public`` or ``internal``.
    PublishZoneError
        If an internal report would be written into ``reports/``.
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, got {audience!r}")
    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, Path) else notebook
    if "internal" in (audience, notebook_audience(nb)):
        audience = "internal"
        _refuse_publish_zone(out_path)
    exporter = _exporter(language)
    resources: dict[str, Any] = {
        "language_code": language,
        "report_title": title,
        "audience": audience,
        "workbench_css": css(),
        "workbench_version": __version__,
        "footer_text": footer,
        "internal_banner": INTERNAL_BANNER,
        "suppression_log_name": suppression_log,
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    _atomic_write_bytes(out_path, body.encode("utf-8"))
    out_path.chmod(0o644)
    return out_path


@dataclass(frozen=True)
class IndexEntry:
    kommun: str
    name: str
    county_code: str
    county_name: str
    period: str
    href: str
    notebook: str


def write_report_list(folder: Path, entries: Iterable[IndexEntry]) -> Path:
    """Record the reports of one period folder (merged with what is already there)."""
    path = folder / "reports.json"
    existing: dict[str, dict[str, str]] = {}
    if path.is_file():
        for item in json.loads(path.read_text(encoding="utf-8")):
            existing[f"{item['kommun']}/{item['notebook']}"] = item
    for e in entries:
        existing[f"{e.kommun}/{e.notebook}"] = e.__dict__
    items = [existing[k] for k in sorted(existing)]
    _atomic_write_bytes(path, (json.dumps(items, ensure_ascii=False, indent=2) + "\n").encode())
    path.chmod(0o644)
    return path


def index_script() -> str:
    """The index page's filter script (the only script we publish; allowlisted by its hash)."""
    return (TEMPLATE_DIR / TEMPLATE_NAME / "index-filter.js").read_text(encoding="utf-8")


def _page(title: str, body: str, *, script: str = "") -> str:
    """A standalone page; an inline ``script`` is allowed by its SHA-256 in the CSP only."""
    import base64
    import hashlib

    script_src = ""
    tail = ""
    if script:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        script_src = f" script-src 'sha256-{digest}';"
        tail = f"<script>{script}</script>\n"
    return (
        '<!DOCTYPE html>\n<html lang="sv">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"img-src data:; style-src 'unsafe-inline';{script_src} base-uri 'none'; "
        "form-action 'none'\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{css()}\n</style>\n</head>\n<body>\n"
        f'<main class="wb-report">\n{body}\n</main>\n{tail}</body>\n</html>\n'
    )


#: Report notebooks in the order the index lists them, with their Swedish link text.
REPORT_LABELS_SV: dict[str, str] = {
    "40-final-report": "Slutrapport",
    "10-follow-up": "Uppföljning",
    "20-ambiguous-variables": "Otydliga variabler",
    "30-comparisons": "Jämförelser",
    "50-placement-providers": "Placeringsutförare",
    "60-childrens-voice": "Barns och ungas röst",
}


def _link(href: str, text: str, label: str) -> str:
    return (
        f'<a href="{html.escape(href, quote=True)}" aria-label="{html.escape(label, quote=True)}">'
        f"{html.escape(text)}</a>"
    )


def _period_section(period: str, items: list[Mapping[str, str]], folder: Path) -> str:
    """One period: a list of counties (in-page links), then one ``<details>`` per county."""
    by_county: dict[tuple[str, str], dict[str, dict[str, Mapping[str, str]]]] = {}
    for it in items:
        key = (it["county_code"], it["county_name"])
        by_county.setdefault(key, {}).setdefault(it["kommun"], {})[it["notebook"]] = it
    counties = sorted(by_county, key=lambda k: (k[0] != "00", k[0]))
    pid = html.escape(f"period-{period}", quote=True)
    nav = "".join(
        f'<li><a href="#{pid}-lan-{html.escape(code, quote=True)}">{html.escape(name)}</a></li>'
        for code, name in counties
    )
    known = list(REPORT_LABELS_SV)
    parts = []
    for code, name in counties:
        rows = []
        for kommun in sorted(by_county[(code, name)]):
            reports = by_county[(code, name)][kommun]
            first = next(iter(reports.values()))
            muni = first["name"]
            cells = []
            for nb in known:
                it = reports.get(nb)
                if it is None:
                    cells.append("<td>.</td>")
                    continue
                href = f"{period}/{it['href']}"
                label = f"{REPORT_LABELS_SV[nb]}, {muni}"
                cells.append(f"<td>{_link(href, REPORT_LABELS_SV[nb], label)}</td>")
            xlsx = ""
            compare = reports.get("30-comparisons")
            if compare is not None:
                book = Path(compare["href"]).with_suffix(".xlsx").name
                if (folder / book).is_file():
                    xlsx = _link(f"{period}/{book}", "Excelbilaga", f"Excelbilaga, {muni}")
            cells.append(f"<td>{xlsx or '.'}</td>")
            search = html.escape(f"{muni} {kommun} {name}", quote=True)
            rows.append(
                f'<tr data-search="{search}"><th scope="row">{html.escape(muni)}</th>'
                f"<td>{html.escape(kommun)}</td>{''.join(cells)}</tr>"
            )
        head = "".join(f'<th scope="col">{html.escape(REPORT_LABELS_SV[n])}</th>' for n in known)
        cid = f"{pid}-lan-{html.escape(code, quote=True)}"
        parts.append(
            f'<details id="{cid}" data-county="{html.escape(code, quote=True)}">'
            f"<summary>{html.escape(name)} "
            f"({len(by_county[(code, name)])} st)</summary>\n"
            '<table class="wb-table">'
            f"<caption>Rapporter i {html.escape(name)}, period {html.escape(period)}</caption>"
            f'<colgroup><col span="{len(known) + 3}" data-kind="label"></colgroup>'
            '<thead><tr><th scope="col">Kommun eller område</th><th scope="col">Kod</th>'
            f'{head}<th scope="col">Excelbilaga</th></tr></thead>\n'
            f"<tbody>\n{chr(10).join(rows)}\n</tbody></table></details>"
        )
    return (
        f'<h2 id="{pid}">Period {html.escape(period)}</h2>\n'
        f'<nav aria-label="Län, period {html.escape(period, quote=True)}"><p>Gå till län '
        f'({len(items)} rapporter):</p><ul class="wb-counties">{nav}</ul></nav>\n'
        + "\n".join(parts)
    )


def write_index(reports_dir: Path) -> Path:
    """Write ``reports/index.html``: every published report, by period and county.

    Each county is a ``<details>`` element reached from an in-page list of counties. A search
    box filters municipalities by name, code or county: a small inline script
    (``templates/workbench/index-filter.js``), allowed by its hash in the page's CSP and in the
    release gate's allowlist; without scripts the page still works (the box stays hidden). Each municipality links to its reports (:data:`REPORT_LABELS_SV`) and the
    Excel appendix.
    """
    sections = []
    lists = sorted(reports_dir.glob("*/reports.json"), reverse=True)
    for path in lists:
        items: list[Mapping[str, str]] = json.loads(path.read_text(encoding="utf-8"))
        if items:
            sections.append(_period_section(path.parent.name, items, path.parent))
    if not sections:
        sections.append("<p>Inga rapporter har publicerats ännu. Kör <code>make demo</code>.</p>")
    body = (
        "<h1>Uppföljning av social barn- och ungdomsvård – rapporter</h1>\n"
        '<p class="wb-meta">Rapporterna bygger på syntetiska demonstrationsdata om inget annat '
        "anges i respektive rapport. Små tal redovisas inte (..). Välj ett län för att se dess "
        "kommuner, eller sök efter en kommun eller ett län.</p>\n"
        '<form id="wb-filter-form" role="search" hidden>'
        '<label for="wb-filter">Sök kommun, kommunkod eller län</label> '
        '<input type="search" id="wb-filter" autocomplete="off">'
        '<p id="wb-filter-status" role="status" aria-live="polite"></p></form>\n'
        + "\n".join(sections)
    )
    out = reports_dir / "index.html"
    page = _page(
        "Rapporter – uppföljning av social barn- och ungdomsvård", body, script=index_script()
    )
    _atomic_write_bytes(out, page.encode())
    out.chmod(0o644)
    return out
