"""The release gate: a last check of everything about to be shared from the publish zone.

:func:`check_release` scans HTML (text, attributes, comments, styles, table cells, inline SVG),
Excel workbooks (every XML part of the zip, plus comments, pivot caches, hidden sheets, macros,
external links and author names), notebooks (an executed notebook in the publish zone is itself a
finding), other text files and every file name. It reports:

* identifiers: personnummer and samordningsnummer (10 or 12 digits, with or without ``-``/``+``,
  bounded by non-digits; a valid check digit and date gives ``personnummer`` or
  ``samordningsnummer``, anything else of that shape ``possible-identifier``), pseudonymous ids
  (:data:`workbench.dataset.ID_PATTERN`) and caller-supplied forbidden strings (canaries, keys);
* small counts: a table cell or SVG text marked ``data-kind="count"`` (on the cell or on its
  ``<col>``) holding an integer ``1 .. min_count - 1`` is an error; an *unmarked* cell or SVG text
  holding such a number is a warning, because it may be a count;
* row-level data: a table with an identifier or date column, or a pandas ``class="dataframe"``
  table with more than ``max_rows`` rows;
* active or external content: any external URL in ``src``/``href``/``url()``/``@import``,
  ``javascript:`` URLs, any ``<script>`` whose SHA-256 is not allowlisted, ``<iframe>``,
  ``<object>``, ``<embed>``, event-handler attributes;
* leaks from execution: tracebacks, ANSI escape codes, stderr outputs, Python warnings and paths
  to source files.

Findings never carry the identifier or string found: excerpts have every digit masked as ``#``
and the match itself fully masked. The rules and the ``data-kind`` vocabulary are documented in
``docs/disclosure.md`` ("Release gate").
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pandas as pd

from workbench.dataset import ID_PATTERN

__all__ = [
    "COUNT_KIND",
    "NON_COUNT_KINDS",
    "RULES",
    "Finding",
    "ReleaseGateError",
    "ReleaseReport",
    "check_release",
    "default_min_count",
    "read_forbidden_file",
    "require_release",
]

logger = logging.getLogger(__name__)

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"

DEFAULT_MIN_COUNT = 5
"""Counts ``1 .. DEFAULT_MIN_COUNT - 1`` must be suppressed (as ``disclosure.min_count``)."""

DEFAULT_MAX_ROWS = 50
"""Largest pandas DataFrame rendering (body rows) a published page may hold."""


def _our_scripts() -> frozenset[str]:
    import hashlib
    from pathlib import Path

    path = Path(__file__).parent / "templates" / "workbench" / "index-filter.js"
    return frozenset({hashlib.sha256(path.read_bytes()).hexdigest()})


SCRIPT_ALLOWLIST: frozenset[str] = _our_scripts()
"""SHA-256 (hex) of inline ``<script>`` bodies we publish: only the index page's filter
(``templates/workbench/index-filter.js``); report pages carry no script."""

COUNT_KIND = "count"
"""``data-kind`` of a cell (or its ``<col>``) that holds a count of children or events."""

NON_COUNT_KINDS = frozenset({"share", "rate", "measure", "year", "label", "code", "interval"})
"""``data-kind`` values that mark a number as something other than a count."""

#: rule -> (severity, description in Swedish for the command line and the report)
RULES: dict[str, tuple[Severity, str]] = {
    "personnummer": (ERROR, "personnummer (giltigt datum och kontrollsiffra)"),
    "samordningsnummer": (ERROR, "samordningsnummer (dag + 60, giltig kontrollsiffra)"),
    "possible-identifier": (
        ERROR,
        "10 eller 12 siffror i personnummerform (ogiltig kontrollsiffra eller datum)",
    ),
    "pseudonym": (ERROR, "pseudonymiserat id"),
    "forbidden-string": (ERROR, "förbjuden sträng (t.ex. kanariefågel eller nyckel)"),
    "small-count": (ERROR, "antal under tröskeln (1 till min_count − 1) som inte är dolt (..)"),
    "unmarked-small-number": (
        WARNING,
        "omarkerat tal under tröskeln i tabellcell eller diagramtext: kan vara ett antal",
    ),
    "row-level-column": (ERROR, "tabell med id- eller datumkolumn (data på radnivå)"),
    "dataframe-rows": (ERROR, "DataFrame-tabell med för många rader (data på radnivå)"),
    "external-resource": (ERROR, "extern adress (http:, https:, //, file:)"),
    "unsafe-url": (ERROR, "otillåten adress (javascript:, data: som inte är en bild …)"),
    "script": (ERROR, "skript som inte kommer från vår mall"),
    "active-content": (ERROR, "aktivt innehåll (iframe, object, embed, makro …)"),
    "event-handler": (ERROR, "händelseattribut (onload, onerror …)"),
    "traceback": (ERROR, "felutskrift (traceback eller ANSI-färgkoder)"),
    "stderr-output": (ERROR, "utskrift till stderr från en kodcell"),
    "source-path": (ERROR, "sökväg till källkod (från en varning eller ett fel)"),
    "warning-output": (WARNING, "Python-varning i utdata"),
    "executed-notebook": (ERROR, "körd notebook i publiceringsmappen"),
    "notebook": (WARNING, "notebook i publiceringsmappen"),
    "hidden-sheet": (ERROR, "dolt kalkylblad"),
    "hidden-cells": (WARNING, "dolda rader eller kolumner"),
    "comment": (ERROR, "kommentarer i arbetsboken"),
    "pivot-cache": (ERROR, "pivottabell eller pivotcache (innehåller underliggande data)"),
    "author": (ERROR, "författarnamn i dokumentegenskaperna"),
    "data-file": (ERROR, "datafil i publiceringsmappen"),
    "unreadable": (ERROR, "filen kan inte läsas och därför inte granskas"),
    "unexpected-file": (WARNING, "okänd filtyp i publiceringsmappen"),
}


class ReleaseGateError(RuntimeError):
    """Raised by :func:`require_release` when a file fails the gate.

    The message names rules and counts only, never a value found.
    """


@dataclass(frozen=True)
class Finding:
    """One problem found by the gate.

    Attributes
    ----------
    file
        The file, as given or found under a given folder.
    location
        Where in the file: ``line 12, table 3, row 4, column 2``, ``xl/worksheets/sheet1.xml B7``,
        ``cell 4, output 1`` or ``file name``.
    rule
        A key of :data:`RULES`.
    severity
        ``"error"`` or ``"warning"``.
    excerpt
        Masked context: every digit is ``#``, the match itself is masked entirely.
    """

    file: str
    location: str
    rule: str
    severity: Severity
    excerpt: str = ""

    @property
    def message(self) -> str:
        return RULES[self.rule][1]

    def __str__(self) -> str:
        tail = f" «{self.excerpt}»" if self.excerpt else ""
        return f"{self.file}:{self.location}: {self.severity} [{self.rule}] {self.message}{tail}"


@dataclass(frozen=True)
class ReleaseReport:
    """Result of :func:`check_release`.

    Attributes
    ----------
    findings
        Every finding, in file order and then position.
    files
        The files scanned.
    min_count, max_rows
        The thresholds used.
    """

    findings: tuple[Finding, ...]
    files: tuple[str, ...]
    min_count: int = DEFAULT_MIN_COUNT
    max_rows: int = DEFAULT_MAX_ROWS

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == WARNING)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings may remain; see :meth:`passed`)."""
        return not self.errors

    @property
    def clean(self) -> bool:
        """True when there is no finding at all."""
        return not self.findings

    def passed(self, *, strict: bool = False) -> bool:
        """Whether the files may be released: no errors, and with ``strict`` no warnings."""
        return self.clean if strict else self.ok

    def rule_counts(self) -> dict[str, int]:
        """Number of findings per rule (no values)."""
        return dict(sorted(Counter(f.rule for f in self.findings).items()))

    def summary(self) -> str:
        """One Swedish line: files, errors, warnings and findings per rule."""
        head = (
            f"Releasekontroll: {len(self.files)} filer granskade, {len(self.errors)} fel, "
            f"{len(self.warnings)} varningar"
        )
        counts = ", ".join(f"{rule} {n}" for rule, n in self.rule_counts().items())
        return f"{head} ({counts})." if counts else f"{head}."

    def to_frame(self) -> pd.DataFrame:
        """One row per finding: file, location, rule, severity, message, excerpt."""
        cols = ["file", "location", "rule", "severity", "message", "excerpt"]
        rows = [
            [f.file, f.location, f.rule, f.severity, f.message, f.excerpt] for f in self.findings
        ]
        return pd.DataFrame(rows, columns=cols, dtype="str")

    def _repr_html_(self) -> str:
        import html

        table = self.to_frame().to_html(index=False, escape=True) if self.findings else ""
        return f"<p>{html.escape(self.summary())}</p>{table}"


# Patterns
# --------------------------------------------------------------------------------------------

# 10 or 12 digits, optionally with - or + before the last four, bounded by non-digits; digits
# that continue a decimal number (0.1234567890) or go on as one (1234567890.5) are not a match.
_PNR_RE = re.compile(
    r"(?<![0-9])(?<![0-9][.,])(?P<date>(?:[0-9]{2})?[0-9]{6})(?P<sep>[-+]?)(?P<tail>[0-9]{4})"
    r"(?![0-9])(?![.,][0-9])"
)
_HEX = frozenset("0123456789abcdefABCDEF")
_HEX_TOKEN_MIN = 16  # a digit run inside a hex token this long is a hash, not an identifier
_PSEUDONYM_RE = re.compile(rf"(?<![0-9A-Za-z]){ID_PATTERN.strip('^$')}(?![0-9A-Za-z])")
_TRACEBACK_RE = re.compile(r"Traceback \(most recent call last\)")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]?")
_SOURCE_PATH_RE = re.compile(
    r"(?:(?:[A-Za-z]:)?[\\/](?:[\w.\-]+[\\/])*[\w.\-]+\.py\b|\bsite-packages[\\/][\w.\-\\/]*)"
)
_WARNING_RE = re.compile(r"\b[A-Z]\w*Warning: ")
_CSS_URL_RE = re.compile(r"url\(\s*(?P<q>['\"]?)(?P<u>.*?)(?P=q)\s*\)", re.IGNORECASE | re.DOTALL)
# @import "x.css" (the url("x.css") form is found by _CSS_URL_RE)
_CSS_IMPORT_RE = re.compile(r"@import\s+(?P<q>['\"])(?P<u>[^'\"]+)(?P=q)", re.IGNORECASE)
_CSS_SCRIPT_RE = re.compile(r"expression\s*\(|-moz-binding|behavior\s*:", re.IGNORECASE)
_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_INT_RE = re.compile(r"^(?:0|[1-9][0-9]{0,2}(?:[ \u00a0\u202f][0-9]{3})*|[1-9][0-9]*)$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ROW_LEVEL_EXACT = _words(
    "id pnr personnr personnummer samordningsnummer namn name fritext kommentar anteckning"
)
_ROW_LEVEL_SUFFIX = ("_id", "datum", "_date")

_URL_ATTRS = _words(
    "src href srcset action formaction data poster background xlink:href cite longdesc "
    "manifest ping codebase lowsrc dynsrc"
)
_IMAGE_TAGS = frozenset({"img", "source", "picture", "image", "input", "video"})
_ACTIVE_TAGS = frozenset(
    {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal"}
)
_EXTERNAL_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "sftp", "ws", "wss", "file", "smb"})
_HARMLESS_SCHEMES = frozenset({"mailto", "tel"})

_HTML_EXTS = frozenset({".html", ".htm", ".xhtml", ".svg"})
_TEXT_EXTS = frozenset({".json", ".csv", ".tsv", ".txt", ".md", ".css", ".yaml", ".yml"})
_IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico"})
_DATA_EXTS = _words(
    ".parquet .feather .arrow .pkl .pickle .sqlite .db .duckdb .dta .sav .sas7bdat .rds .rdata "
    ".npy .npz .h5 .hdf5 .xls .xlsm .xlsb .ods"
)
_XLSX_AUTHOR_OK = frozenset({"", "openpyxl", "workbench"})
_MAX_PART_BYTES = 200_000_000  # an XML part larger than this is not read (zip bomb guard)
_DATA_URI_KEYS = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


def _luhn_ok(ten: str) -> bool:
    total = 0
    for i, ch in enumerate(ten[:9]):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return (10 - total % 10) % 10 == int(ten[9])


def _classify_identifier(date: str, tail: str) -> str:
    """``personnummer``, ``samordningsnummer`` or ``possible-identifier`` (Skatteverket SKV 704)."""
    ten = date[-6:] + tail
    if not _luhn_ok(ten):
        return "possible-identifier"
    month, day = int(ten[2:4]), int(ten[4:6])
    if len(date) == 8:
        century = int(date[:2])
        if century not in (18, 19, 20):
            return "possible-identifier"
        year = int(date[:4])
    else:
        year = 2000  # a leap year: 29 February is a possible birth date
    if not 1 <= month <= 12:
        return "possible-identifier"
    last = calendar.monthrange(year, month)[1]
    if 1 <= day <= last:
        return "personnummer"
    if 61 <= day <= last + 60:
        return "samordningsnummer"
    return "possible-identifier"


def _inside_hex_token(text: str, start: int, end: int) -> bool:
    a, b = start, end
    while a > 0 and text[a - 1] in _HEX:
        a -= 1
    while b < len(text) and text[b] in _HEX:
        b += 1
    return b - a >= _HEX_TOKEN_MIN and (a, b) != (start, end)


def _parse_count(text: str) -> int | None:
    """The integer a cell shows, if it is a plain Swedish-formatted integer (``12 345``)."""
    t = text.strip()
    if not t or not _INT_RE.match(t):
        return None
    return int(re.sub(r"[^0-9]", "", t))


def _printable(s: str, limit: int = 80) -> str:
    s = re.sub(r"[\x00-\x1f\x7f]", "·", s)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _hide(s: str) -> str:
    return re.sub(r"[0-9A-Za-z]", "#", s)


def read_forbidden_file(path: str | Path) -> tuple[str, ...]:
    """Forbidden strings from a UTF-8 file, one per line (blank lines are skipped).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If a line is shorter than 4 characters (it would match almost anywhere).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"forbidden-strings file {p} does not exist")
    lines = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    return _check_forbidden(ln for ln in lines if ln)


def _check_forbidden(strings: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(s for s in strings))
    short = [i for i, s in enumerate(out, start=1) if len(s) < 4]
    if short:
        raise ValueError(
            f"forbidden strings must be at least 4 characters; entries {short} are shorter"
        )
    return out


def default_min_count() -> int:
    """``disclosure.min_count`` from the project's parameters, or 5 outside a project."""
    try:
        from workbench.disclosure import DisclosureRules
        from workbench.params import load_settings

        return DisclosureRules.from_mapping(load_settings().disclosure).min_count
    except Exception:  # noqa: BLE001 - no project or broken parameters: the documented default
        logger.info("release gate: no project parameters; min_count %d", DEFAULT_MIN_COUNT)
        return DEFAULT_MIN_COUNT


# The scanner
# --------------------------------------------------------------------------------------------


class _Gate:
    def __init__(
        self,
        *,
        forbidden: Sequence[str],
        min_count: int,
        max_rows: int,
        script_allowlist: frozenset[str],
    ) -> None:
        self.forbidden = [re.compile(re.escape(s), re.IGNORECASE) for s in forbidden]
        self.min_count = min_count
        self.max_rows = max_rows
        self.script_allowlist = script_allowlist
        self.findings: list[Finding] = []
        self.file = ""

    # -- findings ---------------------------------------------------------------------------
    def emit(self, location: str, rule: str, excerpt: str = "") -> None:
        self.findings.append(
            Finding(self.file, location, rule, RULES[rule][0], _printable(self._mask(excerpt)))
        )

    def _mask(self, s: str) -> str:
        return re.sub(r"[0-9]", "#", self.mask_matches(s))

    def mask_matches(self, s: str) -> str:
        """``s`` with every identifier, pseudonym and forbidden string masked (other digits
        stay: used for file paths)."""
        for pat in self.forbidden:
            s = pat.sub("«…»", s)
        s = _PSEUDONYM_RE.sub(lambda m: "#" * len(m.group()), s)
        return _PNR_RE.sub(
            lambda m: (
                m.group() if _inside_hex_token(m.string, m.start(), m.end()) else _hide(m.group())
            ),
            s,
        )

    # -- text rules -------------------------------------------------------------------------
    def scan_text(self, text: str, where: Callable[[int], str], *, execution: bool = True) -> None:
        """Identifier, pseudonym and forbidden-string rules, plus (``execution``) tracebacks,
        ANSI codes, warnings and source paths."""
        if not text:
            return
        for m in _PNR_RE.finditer(text):
            if _inside_hex_token(text, m.start(), m.end()):
                continue
            rule = _classify_identifier(m.group("date"), m.group("tail"))
            self.emit(where(m.start()), rule, _hide(m.group()))
        for m in _PSEUDONYM_RE.finditer(text):
            self.emit(where(m.start()), "pseudonym", _hide(m.group()))
        for i, pat in enumerate(self.forbidden, start=1):
            for m in pat.finditer(text):
                self.emit(where(m.start()), "forbidden-string", f"sträng nr {i}")
        if not execution:
            return
        for m in _TRACEBACK_RE.finditer(text):
            self.emit(where(m.start()), "traceback", m.group())
        m = _ANSI_RE.search(text)
        if m:
            self.emit(where(m.start()), "traceback", "ESC[…")
        for m in _SOURCE_PATH_RE.finditer(text):
            name = re.split(r"[\\/]", m.group())[-1]
            self.emit(where(m.start()), "source-path", f"…/{name}")
        for m in _WARNING_RE.finditer(text):
            self.emit(where(m.start()), "warning-output", m.group())

    def check_url(self, value: str, location: str, *, image: bool, css: bool = False) -> None:
        compact = re.sub(r"[\x00-\x20]", "", value).lower()
        rule = None
        if compact.startswith(("//", "\\\\")):
            rule = "external-resource"
        else:
            m = _SCHEME_RE.match(compact)
            if m:
                scheme = m.group(1)
                if scheme in _EXTERNAL_SCHEMES:
                    rule = "external-resource"
                elif scheme == "data":
                    if not (css or (image and compact.startswith("data:image/"))):
                        rule = "unsafe-url"
                elif scheme not in _HARMLESS_SCHEMES:
                    rule = "unsafe-url"
        if rule:
            parts = urlsplit(value.strip())
            scheme = f"{parts.scheme}:" if parts.scheme else ""
            shown = f"{scheme}//{parts.netloc}/…" if parts.netloc else value.strip()[:24]
            self.emit(location, rule, shown)

    def scan_css(self, css: str, where: Callable[[int], str]) -> None:
        for m in _CSS_URL_RE.finditer(css):
            self.check_url(m.group("u"), where(m.start()), image=True, css=True)
        for m in _CSS_IMPORT_RE.finditer(css):
            self.check_url(m.group("u"), where(m.start()), image=False, css=True)
        for m in _CSS_SCRIPT_RE.finditer(css):
            self.emit(where(m.start()), "script", m.group())

    def check_small(self, value: int | None, kind: str | None, location: str) -> None:
        if value is None or not 1 <= value < self.min_count:
            return
        if kind == COUNT_KIND:
            self.emit(location, "small-count", "#")
        elif kind not in NON_COUNT_KINDS:
            self.emit(location, "unmarked-small-number", "#")

    # -- files ------------------------------------------------------------------------------
    def scan_file(self, path: Path, display: str, name_for_rules: str) -> None:
        self.file = self.mask_matches(display)  # a file name may itself hold an identifier
        self.scan_text(name_for_rules, lambda _i: "file name", execution=False)
        ext = path.suffix.lower()
        if ext in _HTML_EXTS:
            text = self._read_text(path)
            if text is not None:
                _HtmlScanner(self).scan(text)
        elif ext == ".xlsx":
            self._scan_xlsx(path)
        elif ext == ".ipynb":
            text = self._read_text(path)
            if text is not None:
                self._scan_notebook(text)
        elif ext == ".js":
            self.emit("file", "script", path.name)
        elif ext in _TEXT_EXTS:
            text = self._read_text(path)
            if text is not None:
                where = _line_locator(text)
                self.scan_text(text, where)
                if ext == ".css":
                    self.scan_css(text, where)
        elif ext in _DATA_EXTS:
            self.emit("file", "data-file", ext)
        elif ext in _IMAGE_EXTS:
            pass  # embedded-image pixels are not scanned (see docs/disclosure.md)
        else:
            self.emit("file", "unexpected-file", ext or "(ingen ändelse)")

    def _read_text(self, path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError) as exc:
            self.emit("file", "unreadable", type(exc).__name__)
            return None

    # -- notebooks --------------------------------------------------------------------------
    def _scan_notebook(self, text: str) -> None:
        try:
            nb = json.loads(text)
        except json.JSONDecodeError:
            self.emit("file", "unreadable", "JSONDecodeError")
            return
        cells = nb.get("cells", []) if isinstance(nb, dict) else []
        executed = [
            i
            for i, c in enumerate(cells, start=1)
            if isinstance(c, dict)
            and c.get("cell_type") == "code"
            and (c.get("outputs") or c.get("execution_count") is not None)
        ]
        if executed:
            self.emit(f"cell {executed[0]}", "executed-notebook", f"{len(executed)} celler")
        else:
            self.emit("file", "notebook")
        for i, cell in enumerate(cells, start=1):
            outputs = cell.get("outputs", []) if isinstance(cell, dict) else []
            for j, out in enumerate(outputs, start=1):
                if isinstance(out, dict) and out.get("output_type") == "error":
                    self.emit(f"cell {i}, output {j}", "traceback", str(out.get("ename", ""))[:40])
                if isinstance(out, dict) and out.get("name") == "stderr":
                    self.emit(f"cell {i}, output {j}", "stderr-output")
        self._walk_json(nb, [])

    def _walk_json(self, node: Any, path: list[str | int]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in _DATA_URI_KEYS:
                    continue  # base64 image data: not text
                self._walk_json(v, [*path, k])
        elif isinstance(node, list):
            if node and all(isinstance(x, str) for x in node):
                self._scan_json_string("".join(node), path)
            else:
                for i, v in enumerate(node):
                    self._walk_json(v, [*path, i])
        elif isinstance(node, str):
            self._scan_json_string(node, path)

    def _scan_json_string(self, text: str, path: list[str | int]) -> None:
        loc = _notebook_location(path)
        self.scan_text(text, lambda _i: loc)

    # -- Excel ------------------------------------------------------------------------------
    def _scan_xlsx(self, path: Path) -> None:
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            self.emit("file", "unreadable", type(exc).__name__)
            return
        with zf:
            infos = sorted(
                zf.infolist(), key=lambda i: (i.filename != "xl/sharedStrings.xml", i.filename)
            )
            shared: list[str] = []
            for info in infos:
                name = info.filename
                self._xlsx_part_rules(name)
                if not name.lower().endswith((".xml", ".rels", ".vml")):
                    continue
                if info.file_size > _MAX_PART_BYTES:
                    self.emit(name, "unreadable", "för stor del")
                    continue
                try:
                    root = ET.fromstring(zf.read(name))
                except ET.ParseError:
                    self.emit(name, "unreadable", "ParseError")
                    continue
                if name == "xl/sharedStrings.xml":
                    shared = ["".join(si.itertext()) for si in root if _local(si.tag) == "si"]
                self._scan_xml_part(name, root, shared)

    def _xlsx_part_rules(self, name: str) -> None:
        low = name.lower()
        if low.startswith(("xl/comments", "xl/threadedcomments/", "xl/persons/")):
            self.emit(name, "comment")
        elif low.startswith(("xl/pivotcache/", "xl/pivottables/")):
            self.emit(name, "pivot-cache")
        elif low.endswith(".bin") and ("vba" in low or "activex" in low):
            self.emit(name, "active-content", "makro")
        elif low.startswith(("xl/externallinks/", "xl/querytables/")) or low == (
            "xl/connections.xml"
        ):
            self.emit(name, "external-resource", "extern datakälla")

    def _scan_xml_part(self, name: str, root: ET.Element, shared: list[str]) -> None:
        low = name.lower()
        in_cells: set[int] = set()
        if low.startswith("xl/worksheets/") and low.endswith(".xml"):
            for c in root.iter():
                if _local(c.tag) != "c":
                    continue
                in_cells.update(id(e) for e in c.iter())
                self._scan_xlsx_cell(name, c, shared)
            for e in root.iter():
                if _local(e.tag) in ("row", "col") and e.get("hidden") in ("1", "true"):
                    self.emit(
                        f"{name} {_local(e.tag)} {e.get('r') or e.get('min') or ''}".strip(),
                        "hidden-cells",
                    )
        if low == "xl/workbook.xml":
            sheets = [e for e in root.iter() if _local(e.tag) == "sheet"]
            for i, sheet in enumerate(sheets, start=1):
                if sheet.get("state") in ("hidden", "veryHidden"):
                    self.emit(f"{name} sheet {i}", "hidden-sheet", sheet.get("state", ""))
        if low == "docprops/core.xml" or low == "docprops/app.xml":
            for e in root.iter():
                named = _local(e.tag) in ("creator", "lastModifiedBy", "Manager", "Company")
                if named and (e.text or "").strip().lower() not in _XLSX_AUTHOR_OK:
                    self.emit(f"{name} <{_local(e.tag)}>", "author", "namn")
        if low.endswith(".rels"):
            for e in root.iter():
                if _local(e.tag) == "Relationship" and e.get("TargetMode") == "External":
                    self.check_url(e.get("Target", ""), f"{name} <Relationship>", image=False)
        strings = iter(range(len(shared))) if low == "xl/sharedstrings.xml" else None
        for e in root.iter():
            if id(e) in in_cells:
                continue
            local = _local(e.tag)
            loc = f"{name} <{local}>"
            if strings is not None and local == "si":
                loc = f"{name} string {next(strings) + 1}"
                self.scan_text("".join(e.itertext()), lambda _i, loc=loc: loc)
                in_cells.update(id(x) for x in e.iter())
                continue
            if e.text and e.text.strip():
                self.scan_text(e.text, lambda _i, loc=loc: loc)
            for k, v in e.attrib.items():
                if _local(k) != "Target" or not low.endswith(".rels"):
                    self.scan_text(v, lambda _i, loc=loc: loc, execution=False)

    def _scan_xlsx_cell(self, name: str, c: ET.Element, shared: list[str]) -> None:
        ref = c.get("r", "?")
        loc = f"{name} {ref}"
        kind = c.get("t", "n")
        v = next((e for e in c if _local(e.tag) == "v"), None)
        f = next((e for e in c if _local(e.tag) == "f"), None)
        raw = (v.text or "") if v is not None else ""
        if f is not None and f.text and re.search(r"https?:|//|WEBSERVICE", f.text, re.I):
            self.emit(loc, "external-resource", "formel")
        if kind == "s":
            try:
                text = shared[int(raw)]
            except (ValueError, IndexError):
                text = ""
            self.check_small(_parse_count(text), None, loc)
            return  # its text is scanned once, in sharedStrings.xml
        if kind == "inlineStr":
            text = "".join(x.text or "" for x in c.iter() if _local(x.tag) == "t")
            self.check_small(_parse_count(text), None, loc)
        elif kind == "str":
            text = raw
            self.check_small(_parse_count(text), None, loc)
        elif kind == "n":
            text = raw
            try:
                num = float(raw)
            except ValueError:
                num = None
            if num is not None and num.is_integer():
                self.check_small(int(num), None, loc)
        else:  # booleans, errors, dates: no counts
            text = raw
        self.scan_text(text, lambda _i: loc)
        if f is not None and f.text:
            self.scan_text(f.text, lambda _i: loc, execution=False)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _line_locator(text: str, first_line: int = 1) -> Callable[[int], str]:
    def where(offset: int) -> str:
        return f"line {first_line + text.count(chr(10), 0, offset)}"

    return where


def _notebook_location(path: list[str | int]) -> str:
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        loc = f"cell {path[1] + 1}"
        rest = path[2:]
        if len(rest) >= 2 and rest[0] == "outputs" and isinstance(rest[1], int):
            loc += f", output {rest[1] + 1}"
            rest = rest[2:]
        tail = ".".join(str(p) for p in rest)
        return f"{loc} ({tail})" if tail else loc
    return ".".join(str(p) for p in path) or "notebook"


@dataclass
class _Cell:
    tag: str
    line: int
    col: int
    colspan: int
    kind: str | None
    scope: str
    chunks: list[str] = field(default_factory=list)


@dataclass
class _Table:
    index: int
    line: int
    dataframe: bool
    section: str = ""
    row: int = 0
    body_rows: int = 0
    col: int = 0
    col_kinds: list[str | None] = field(default_factory=list)
    colgroup: dict[str, Any] | None = None
    cell: _Cell | None = None
    flagged_header: bool = False

    def kind_at(self, col: int) -> str | None:
        return self.col_kinds[col] if 0 <= col < len(self.col_kinds) else None

    def end_colgroup(self) -> None:
        if self.colgroup is not None and not self.colgroup["has_col"]:
            self.col_kinds.extend([self.colgroup["kind"]] * self.colgroup["span"])
        self.colgroup = None


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1000))
    except ValueError:
        return 1


def _kind(value: str | None) -> str | None:
    return value.strip().lower() if value and value.strip() else None


class _HtmlScanner(HTMLParser):
    """One pass over an HTML (or SVG) document, reporting into a :class:`_Gate`."""

    def __init__(self, gate: _Gate) -> None:
        super().__init__(convert_charrefs=True)
        self.gate = gate
        self.tables: list[_Table] = []
        self.n_tables = 0
        self.script: tuple[int, list[str], bool] | None = None
        self.style_depth = 0
        self.svg_text: tuple[int, list[str], str | None] | None = None

    def scan(self, text: str) -> None:
        self.feed(text)
        self.close()
        while self.tables:
            self._end_table()

    def _loc(self, line: int | None = None) -> str:
        return f"line {line if line is not None else self.getpos()[0]}"

    def _where(self, data: str) -> Callable[[int], str]:
        return _line_locator(data, self.getpos()[0])

    # -- tags ---------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        g = self.gate
        line = self.getpos()[0]
        loc = self._loc(line)
        amap = {k: v for k, v in attrs}
        for name, value in attrs:
            if name.startswith("on"):
                g.emit(loc, "event-handler", f"<{tag} {name}=…>")
            if value is None:
                continue
            if name in _URL_ATTRS:
                urls = (
                    [p.strip().split(" ")[0] for p in value.split(",")]
                    if name == "srcset"
                    else [value]
                )
                for url in urls:
                    g.check_url(url, loc, image=tag in _IMAGE_TAGS or tag == "image")
            if name == "style":
                g.scan_css(value, lambda _i: loc)
            if name == "class" and re.search(r"(?:^|\s)ansi-", value):
                g.emit(loc, "traceback", "ANSI-färgkod")
            if name == "data-mime-type" and value == "application/vnd.jupyter.stderr":
                g.emit(loc, "stderr-output")
            scanned = (
                value.split(",", 1)[0] if value.lower().lstrip().startswith("data:") else value
            )
            g.scan_text(scanned, lambda _i: loc, execution=False)
        if tag in _ACTIVE_TAGS:
            g.emit(loc, "active-content", f"<{tag}>")
        if tag == "meta" and (amap.get("http-equiv") or "").lower() == "refresh":
            target = re.split(r"url\s*=", amap.get("content") or "", maxsplit=1, flags=re.I)
            if len(target) == 2:
                g.check_url(target[1].strip(" '\""), loc, image=False)
        if tag == "script":
            self.script = (line, [], "src" in amap)
        elif tag == "style":
            self.style_depth += 1
        elif tag == "table":
            self.n_tables += 1
            classes = (amap.get("class") or "").split()
            self.tables.append(_Table(self.n_tables, line, dataframe="dataframe" in classes))
        elif self.tables:
            self._table_tag(tag, amap, line)
        if tag == "text" and self.svg_text is None:
            self.svg_text = (line, [], _kind(amap.get("data-kind")))

    def _table_tag(self, tag: str, amap: dict[str, str | None], line: int) -> None:
        t = self.tables[-1]
        if tag == "colgroup":
            t.end_colgroup()
            t.colgroup = {
                "kind": _kind(amap.get("data-kind")),
                "span": _span(amap.get("span")),
                "has_col": False,
            }
        elif tag == "col":
            kind = _kind(amap.get("data-kind"))
            if kind is None and t.colgroup is not None:
                kind = t.colgroup["kind"]
            if t.colgroup is not None:
                t.colgroup["has_col"] = True
            t.col_kinds.extend([kind] * _span(amap.get("span")))
        elif tag in ("thead", "tbody", "tfoot"):
            t.end_colgroup()
            self._end_cell()
            t.section = tag
        elif tag == "tr":
            t.end_colgroup()
            self._end_cell()
            t.row += 1
            t.col = 0
            if t.section != "thead":
                t.body_rows += 1
        elif tag in ("td", "th"):
            self._end_cell()
            t.cell = _Cell(
                tag=tag,
                line=line,
                col=t.col,
                colspan=_span(amap.get("colspan")),
                kind=_kind(amap.get("data-kind")),
                scope=(amap.get("scope") or "").lower(),
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self.script is not None:
            line, chunks, has_src = self.script
            self.script = None
            body = "".join(chunks)
            digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
            if has_src or digest not in self.gate.script_allowlist:
                self.gate.emit(self._loc(line), "script", f"<script> {body[:30]}")
        elif tag == "style":
            self.style_depth = max(0, self.style_depth - 1)
        elif tag == "text" and self.svg_text is not None:
            line, chunks, kind = self.svg_text
            self.svg_text = None
            self.gate.check_small(_parse_count("".join(chunks)), kind, f"line {line}, svg text")
        elif self.tables:
            t = self.tables[-1]
            if tag in ("td", "th", "tr"):
                self._end_cell()
            elif tag == "colgroup":
                t.end_colgroup()
            elif tag == "table":
                self._end_table()

    def handle_data(self, data: str) -> None:
        if self.script is not None:
            self.script[1].append(data)
            self.gate.scan_text(data, self._where(data), execution=False)
            return
        where = self._where(data)
        if self.style_depth:
            self.gate.scan_css(data, where)
            self.gate.scan_text(data, where, execution=False)
            return
        self.gate.scan_text(data, where)
        if self.tables and self.tables[-1].cell is not None:
            self.tables[-1].cell.chunks.append(data)
        if self.svg_text is not None:
            self.svg_text[1].append(data)

    def handle_comment(self, data: str) -> None:
        self.gate.scan_text(data, self._where(data))

    # -- tables -------------------------------------------------------------------------------
    def _end_cell(self) -> None:
        if not self.tables or self.tables[-1].cell is None:
            return
        t = self.tables[-1]
        c = t.cell
        t.cell = None
        assert c is not None
        text = " ".join("".join(c.chunks).split())
        loc = f"line {c.line}, table {t.index}, row {t.row}, column {c.col + 1}"
        header = c.tag == "th" and (t.section == "thead" or c.scope in ("col", "colgroup"))
        if header and not t.flagged_header and _is_row_level_header(text):
            t.flagged_header = True
            self.gate.emit(loc, "row-level-column", text[:40])
        kind = c.kind or t.kind_at(c.col)
        self.gate.check_small(_parse_count(text), kind, loc)
        t.col += c.colspan

    def _end_table(self) -> None:
        self._end_cell()
        t = self.tables.pop()
        if t.dataframe and t.body_rows > self.gate.max_rows:
            self.gate.emit(
                f"line {t.line}, table {t.index}",
                "dataframe-rows",
                f"{t.body_rows} rader > {self.gate.max_rows}",
            )


def _is_row_level_header(text: str) -> bool:
    norm = "_".join(text.strip().lower().split())
    return bool(norm) and (norm in _ROW_LEVEL_EXACT or norm.endswith(_ROW_LEVEL_SUFFIX))


# Public entry points
# --------------------------------------------------------------------------------------------


def _expand(paths: Iterable[str | Path]) -> list[tuple[Path, str, str]]:
    """(path, display name, name the file-name rules see) for every file under ``paths``."""
    out: list[tuple[Path, str, str]] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                out.append((f, str(f), str(f.relative_to(p))))
        elif p.is_file():
            out.append((p, str(p), p.name))
        else:
            raise FileNotFoundError(f"{p} does not exist (give files or folders to check)")
    return out


def check_release(
    paths: Iterable[str | Path],
    *,
    forbidden: Iterable[str] = (),
    min_count: int = DEFAULT_MIN_COUNT,
    max_rows: int = DEFAULT_MAX_ROWS,
    script_allowlist: Iterable[str] = SCRIPT_ALLOWLIST,
) -> ReleaseReport:
    """Scan files and folders that are about to be shared.

    Parameters
    ----------
    paths
        Files and folders (searched recursively). ``.html``/``.htm``/``.svg``, ``.xlsx`` and
        ``.ipynb`` are scanned in depth; ``.json``, ``.csv``, ``.md``, ``.txt``, ``.css`` as text;
        data files (``.parquet``, ``.pkl``, ``.xls`` …) are errors and unknown types warnings.
    forbidden
        Strings that must not occur anywhere (case-insensitive), e.g. canaries or a key; each at
        least 4 characters. They are never printed.
    min_count
        Counts ``1 .. min_count - 1`` must be suppressed (``disclosure.min_count``).
    max_rows
        Largest pandas ``class="dataframe"`` table (body rows) allowed.
    script_allowlist
        SHA-256 (hex) of inline script bodies that are allowed.

    Returns
    -------
    ReleaseReport
        ``ok`` is False when any error was found.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ValueError
        If a forbidden string is shorter than 4 characters or a threshold is below 1.
    """
    if min_count < 1 or max_rows < 0:
        raise ValueError(f"min_count must be >= 1 and max_rows >= 0, got {min_count}, {max_rows}")
    gate = _Gate(
        forbidden=_check_forbidden(forbidden),
        min_count=int(min_count),
        max_rows=int(max_rows),
        script_allowlist=frozenset(s.lower() for s in script_allowlist),
    )
    files = _expand(paths)
    for path, display, name in files:
        gate.scan_file(path, display, name)
    report = ReleaseReport(
        findings=tuple(gate.findings),
        files=tuple(gate.mask_matches(d) for _, d, _ in files),
        min_count=int(min_count),
        max_rows=int(max_rows),
    )
    logger.info("%s", report.summary())
    return report


def require_release(
    paths: Iterable[str | Path], *, strict: bool = False, **kwargs: Any
) -> ReleaseReport:
    """:func:`check_release`, raising :class:`ReleaseGateError` unless the files pass.

    The error message names the rules and counts, never a value found.
    """
    report = check_release(paths, **kwargs)
    if not report.passed(strict=strict):
        counts = ", ".join(f"{rule} ×{n}" for rule, n in report.rule_counts().items())
        raise ReleaseGateError(
            f"release gate failed: {len(report.errors)} error(s), {len(report.warnings)} "
            f"warning(s) ({counts})"
        )
    return report
