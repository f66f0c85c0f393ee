"""HTML export of executed report notebooks and the index page of published reports.

The export uses our own nbconvert template (``templates/workbench``): no code, no prompts, no
stderr, no external resources (no require.js or MathJax from a CDN), ``lang="sv"`` and a
Content-Security-Policy. Values from data are escaped where the HTML is built
(:mod:`workbench.views`); this module only assembles pages.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from workbench import __version__
from workbench.dataset import _atomic_write_bytes

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "workbench"


def css() -> str:
    return (TEMPLATE_DIR / TEMPLATE_NAME / "workbench.css").read_text(encoding="utf-8")


def export_html(
    notebook: nbformat.NotebookNode | Path,
    out_path: Path,
    *,
    title: str,
    audience: str = "public",
    footer: str = "",
    language: str = "sv",
) -> Path:
    """Convert an executed notebook to a self-contained HTML report and write it atomically."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, Path) else notebook
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
    resources: dict[str, Any] = {
        "language_code": language,
        "report_title": title,
        "audience": audience,
        "workbench_css": css(),
        "workbench_version": __version__,
        "footer_text": footer,
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


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="sv">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{css()}\n</style>\n</head>\n<body>\n"
        f'<main class="wb-report">\n{body}\n</main>\n</body>\n</html>\n'
    )


def write_index(reports_dir: Path) -> Path:
    """Write ``reports/index.html`` linking every published report, grouped by period and county."""
    sections = []
    lists = sorted(reports_dir.glob("*/reports.json"), reverse=True)
    for path in lists:
        items: list[Mapping[str, str]] = json.loads(path.read_text(encoding="utf-8"))
        if not items:
            continue
        period = path.parent.name
        rows = []
        for it in sorted(
            items, key=lambda i: (i["county_code"] != "00", i["county_code"], i["kommun"])
        ):
            href = f"{period}/{it['href']}"
            rows.append(
                "<tr>"
                f'<td><a href="{html.escape(href, quote=True)}">{html.escape(it["name"])}</a></td>'
                f"<td>{html.escape(it['kommun'])}</td>"
                f"<td>{html.escape(it['county_name'])}</td>"
                f"<td>{html.escape(it['notebook'])}</td>"
                "</tr>"
            )
        sections.append(
            f'<h2 id="period-{html.escape(period, quote=True)}">Period {html.escape(period)}</h2>\n'
            '<table class="wb-table">\n'
            f"<caption>Publicerade rapporter för perioden {html.escape(period)} "
            f"({len(items)} st)</caption>\n"
            '<thead><tr><th scope="col">Kommun eller område</th><th scope="col">Kod</th>'
            '<th scope="col">Län</th><th scope="col">Rapport</th></tr></thead>\n'
            f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>"
        )
    if not sections:
        sections.append("<p>Inga rapporter har publicerats ännu. Kör <code>make demo</code>.</p>")
    body = (
        "<h1>Uppföljning av social barn- och ungdomsvård – rapporter</h1>\n"
        '<p class="wb-meta">Rapporterna bygger på syntetiska demonstrationsdata om inget annat '
        "anges i respektive rapport. Små tal redovisas inte (..).</p>\n" + "\n".join(sections)
    )
    out = reports_dir / "index.html"
    _atomic_write_bytes(
        out, _page("Rapporter – uppföljning av social barn- och ungdomsvård", body).encode()
    )
    out.chmod(0o644)
    return out
