"""Reading layer of ingestion: one export file (CSV or Excel .xlsx) → raw strings with row numbers.

:func:`read_export` detects what can be detected safely (encoding, delimiter, header row,
structural rows) and refuses with an :class:`ExportError` what would otherwise be a silent guess:
an undeclared encoding that is neither UTF-8 nor cp1252, mojibake, an ambiguous delimiter, ragged
rows, title rows above the header, duplicate or unnamed columns with values, identifiers stored as
numbers and impossible Excel date serials. Values are kept exactly as in the file (strings; an
empty or whitespace-only cell is missing); conversion to codes, dates and numbers happens later
(:mod:`workbench.ingest.values`).

Row numbers (``_rad``) are those a user sees when opening the file in Excel or LibreOffice, with
the header on its own row number (1 when it is the first row). In a CSV file a quoted field that
spans several lines is one record and so one row: ``_rad`` counts records, not text lines.

Structural rows are counted, never treated as data (``RawExport.structural``):

* ``empty``: every cell empty or whitespace (``;;;;`` too, even with more fields than the header);
* ``repeated_header``: every cell equals the header, compared case- and whitespace-insensitively;
* ``footer``: the first non-empty cell, casefolded, stripped and without ``:``, starts with one of
  the words ``totalt``, ``summa``, ``total``, ``antal rader`` or ``sum`` as a whole word (the next
  character is not a letter, so ``Summering`` or ``Totalförsvaret`` are not footers), **and** every
  other non-empty cell of the row is a number (``3``, ``1 234``, ``12,5``). A row that starts with
  such a word but carries other values (dates, codes, identifiers) is data. The integers in a
  footer row (also inside its first cell, as in ``Summa: 1 234 rader``) are ``stated_totals``.

Rows above the header (leading blank rows, or title rows when ``header_row`` is declared) are not
rows read: ``rows_read`` counts the rows below the header. In a sheet, empty rows after the last
non-empty row are not rows read either (Excel keeps formatted empty rows there); in a CSV file
every record counts, a trailing blank line too.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import hashlib
import io
import itertools
import logging
import re
import warnings
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DELIMITERS", "ENCODINGS", "FOOTER_WORDS", "ExportError", "RawExport", "read_export"]

logger = logging.getLogger(__name__)

DELIMITERS: tuple[str, ...] = (";", ",", "\t")
"""Delimiters recognised in CSV files, in the order they are tried."""

ENCODINGS: tuple[str, ...] = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1")
"""Encodings a profile may declare (besides ``"auto"``)."""

FOOTER_WORDS: tuple[str, ...] = ("totalt", "summa", "total", "antal rader", "sum")
"""First words of a footer (totals) row, casefolded."""

HEADER_SEARCH_ROWS = 20
"""How many rows are searched for the header (and for title rows above it)."""

_MAX_SLICES = 200  # up to this many structural rows, data is cut out by slicing, not by a take

_CP1252_SPECIALS = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
# UTF-8 read as cp1252/latin-1: a lead byte C2/C3 becomes Â/Ã followed by what the continuation
# byte 80-BF decodes to; E2 80 (dashes, quotes) becomes â€; a UTF-8 BOM becomes ï»¿. U+FFFD is a
# replacement character from an earlier lossy conversion; C1 controls (U+0080-U+009F) appear when
# cp1252 text is read as latin-1 or when UTF-8 was decoded byte by byte.
_MOJIBAKE = re.compile(
    "[\u00c2\u00c3][\u0080-\u00bf" + _CP1252_SPECIALS + "]|\u00e2\u20ac|\u00ef\u00bb\u00bf"
    "|\ufffd|[\u0080-\u009f]"
)

_NUMBER = r"[+-]?(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,]\d+)?"
_NUMBER_CELL = re.compile(rf"\s*({_NUMBER})\s*")
_NUMBER_IN_TEXT = re.compile(rf"(?<![\w.,]){_NUMBER}(?![\w])")
# A footer word, as a whole word (not followed by a letter), then the rest of the first cell.
_FOOTER = re.compile(
    "(" + "|".join(map(re.escape, FOOTER_WORDS)) + r")(?![^\W\d_])(.*)", re.DOTALL
)
# Cheap vectorised prefilters on the first column, written so that pandas can hand them to
# pyarrow's RE2 (no \s, no look-around, no \u escapes: the whitespace class holds the characters).
_WS = "[ \t\r\n\x0b\x0c\xa0\u2007\u202f]"
_FOOTER_PREFILTER = f"^{_WS}*(?:total|sum|antal{_WS}+rader)"
_SCIENTIFIC = f"^{_WS}*[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+{_WS}*$"

_SKIPPED_LINE = re.compile(r"[Ss]kipping line (\d+): expected \d+ fields, saw (\d+)")
_FIELDS = re.compile(r"[Ee]xpected (\d+) fields in line (\d+)")

_EMPTY = re.compile(rb"[\s;,\"'\x00]*\Z")  # nothing but whitespace, delimiters, quotes
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# -- errors -----------------------------------------------------------------------------------------


class ExportError(RuntimeError):
    """A file cannot be read safely; the message names file, row, column, problem and fix.

    Attributes
    ----------
    path : Path
        The file.
    row : int or None
        Row number as seen in Excel/LibreOffice (header = its own row number), or for decoding
        errors the text line.
    column : str or None
        Column name from the header (or a position such as ``"kolumn 4"`` for unnamed columns).
    rule : str
        Short code of the failed rule, e.g. ``"mojibake"``, ``"ragged_row"``,
        ``"ambiguous_delimiter"``, ``"numeric_id"``.
    problem_sv, problem_en : str
        What is wrong (Swedish, English). Never contains an identifier or free text from the file.
    fix_sv, fix_en : str
        What the user should do.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        rule: str,
        problem_sv: str,
        problem_en: str,
        fix_sv: str,
        fix_en: str,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.rule = rule
        self.row = row
        self.column = column
        self.problem_sv = problem_sv
        self.problem_en = problem_en
        self.fix_sv = fix_sv
        self.fix_en = fix_en
        super().__init__(self._message())

    def _where(self, row: str, column: str) -> str:
        parts = [self.path.name]
        if self.row is not None:
            parts.append(f"{row} {self.row}")
        if self.column is not None:
            parts.append(f'{column} "{self.column}"')
        return ", ".join(parts)

    def _message(self) -> str:
        sv = f"{self._where('rad', 'kolumn')}: {self.problem_sv} Åtgärd: {self.fix_sv}"
        en = f"{self._where('row', 'column')}: {self.problem_en} Fix: {self.fix_en}"
        return f"{sv}\n{en}"

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self):  # picklable across processes despite keyword-only arguments
        kwargs = {
            k: getattr(self, k)
            for k in ("rule", "problem_sv", "problem_en", "fix_sv", "fix_en", "row", "column")
        }
        return (functools.partial(type(self), **kwargs), (self.path,))


def _error(path: Path, rule: str, problem: tuple[str, str], fix: tuple[str, str], **kw: Any):
    return ExportError(
        path,
        rule=rule,
        problem_sv=problem[0],
        problem_en=problem[1],
        fix_sv=fix[0],
        fix_en=fix[1],
        **kw,
    )


_FIX_REEXPORT = (
    "Exportera filen på nytt direkt från verksamhetssystemet, utan att öppna och spara om den i "
    "ett annat program.",
    "Export the file again directly from the case system, without opening and re-saving it in "
    "another program.",
)


# -- result -----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RawExport:
    """One export file read as raw strings (see the module docstring for the rules).

    Attributes
    ----------
    path : Path
        The file read.
    sha256 : str
        SHA-256 of the file's bytes (the bytes that were parsed).
    size : int
        File size in bytes.
    format : str
        ``"csv"`` or ``"xlsx"``.
    encoding : str or None
        ``"utf-8"``, ``"utf-8-sig"``, ``"utf-16"``, ``"cp1252"`` or ``"latin-1"`` (CSV only).
    delimiter : str or None
        ``";"``, ``","`` or ``"\\t"`` (CSV only).
    sheet : str or None
        Name of the sheet read (xlsx only).
    header : tuple of str
        Column names as in the file, whitespace-stripped; unique case- and space-insensitively.
    data : DataFrame
        Column ``_rad`` (int, row number as seen in Excel/LibreOffice) and one ``str`` column per
        header name, values exactly as in the file; empty or whitespace-only cells are missing.
    structural : DataFrame
        Rows not in ``data``: ``_rad`` (int), ``kind`` (``"empty"``, ``"repeated_header"``,
        ``"footer"``) and ``detail`` (for footers the first word and the stated numbers).
    stated_totals : tuple of int
        Integers found in footer rows, in row order.
    header_row : int
        Row number of the header.
    """

    path: Path
    sha256: str
    size: int
    format: str
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    header: tuple[str, ...]
    data: pd.DataFrame
    structural: pd.DataFrame
    stated_totals: tuple[int, ...]
    header_row: int = 1

    @property
    def rows_read(self) -> int:
        """Rows below the header: data rows plus structural rows."""
        return len(self.data) + len(self.structural)

    def to_frame(self) -> pd.DataFrame:
        """A one-row summary (file, format, encoding, counts); never any cell value."""
        kinds = self.structural["kind"].value_counts()
        return pd.DataFrame(
            {
                "fil": [self.path.name],
                "format": [self.format],
                "teckenkodning": [self.encoding or ""],
                "avgransare": [{"\t": "tab"}.get(self.delimiter or "", self.delimiter or "")],
                "blad": [self.sheet or ""],
                "rubrikrad": [self.header_row],
                "kolumner": [len(self.header)],
                "rader_lasta": [self.rows_read],
                "datarader": [len(self.data)],
                "tomma_rader": [int(kinds.get("empty", 0))],
                "upprepade_rubriker": [int(kinds.get("repeated_header", 0))],
                "summarader": [int(kinds.get("footer", 0))],
                "angivna_summor": [", ".join(map(str, self.stated_totals))],
                "sha256": [self.sha256],
            }
        )

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, escape=True)

    def __repr__(self) -> str:  # never the data: rows are about children
        return (
            f"RawExport({self.path.name!r}, format={self.format!r}, encoding={self.encoding!r}, "
            f"delimiter={self.delimiter!r}, sheet={self.sheet!r}, columns={len(self.header)}, "
            f"rows_read={self.rows_read}, data={len(self.data)}, "
            f"structural={len(self.structural)})"
        )


# -- helpers ----------------------------------------------------------------------------------------


def _norm(value: object) -> str:
    """Case- and whitespace-insensitive form of a header name or cell (missing → "")."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return "".join(str(value).split()).casefold()


def _blank(value: object) -> bool:
    return _norm(value) == ""


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their line endings, lazily (no copy of the whole text)."""
    pos = 0
    n = len(text)
    while pos < n:
        end = text.find("\n", pos)
        end = n if end < 0 else end + 1
        yield text[pos:end]
        pos = end


def _csv_records(text: str, delimiter: str, limit: int | None, path: Path) -> list[list[str]]:
    """The first ``limit`` records (all when None), with standard CSV quoting."""
    reader = csv.reader(_lines(text), delimiter=delimiter, quotechar='"', doublequote=True)
    out: list[list[str]] = []
    try:
        for rec in reader:
            out.append(rec)
            if limit is not None and len(out) >= limit:
                break
    except csv.Error as exc:
        raise _error(
            path,
            "malformed_csv",
            (
                f"Raden kan inte tolkas som CSV ({exc}).",
                f"The row cannot be parsed as CSV ({exc}).",
            ),
            _FIX_REEXPORT,
            row=reader.line_num or None,
        ) from exc
    return out


def _mojibake_snippet(s: str) -> tuple[str, str]:
    """The offending characters and, when recoverable, what they were meant to be."""
    m = _MOJIBAKE.search(s)
    if m is None:  # pragma: no cover - callers only pass matching strings
        return "", ""
    start = m.start()
    seq = s[start : start + 3] if s[start] == "\u00e2" else m.group()
    if seq.startswith(("\u00c2", "\u00c3", "\u00e2", "\u00ef")):
        for enc in ("cp1252", "latin-1"):
            try:
                return seq, seq.encode(enc).decode("utf-8")
            except UnicodeError:
                continue
    return seq, ""


def _mojibake_error(path: Path, s: str, row: int | None, column: str | None) -> ExportError:
    seq, meant = _mojibake_snippet(s)
    shown = f'"{seq!r}"'[1:-1] if seq and not seq.isprintable() else f'"{seq}"'
    hint_sv = f' (troligen "{meant}")' if meant else ""
    hint_en = f' (probably "{meant}")' if meant else ""
    return _error(
        path,
        "mojibake",
        (
            f"Texten innehåller {shown}{hint_sv}: filen har någon gång konverterats med fel "
            "teckenkodning (t.ex. UTF-8 läst som Windows-1252/Latin-1), eller innehåller "
            "ersättnings- eller styrtecken.",
            f"The text contains {shown}{hint_en}: the file was at some point converted with the "
            "wrong encoding (e.g. UTF-8 read as Windows-1252/Latin-1), or contains replacement "
            "or control characters.",
        ),
        (
            _FIX_REEXPORT[0] + " Om profilen anger en teckenkodning (encoding), kontrollera att "
            "den stämmer, eller ange auto.",
            _FIX_REEXPORT[1] + " If the profile declares an encoding, check that it is right, or "
            "use auto.",
        ),
        row=row,
        column=column,
    )


# -- encodings --------------------------------------------------------------------------------------


def _canonical_encoding(encoding: str) -> str:
    if encoding == "auto":
        return "auto"
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = ""
    name = {"iso8859-1": "latin-1", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(name, name)
    if name not in ENCODINGS:
        raise ValueError(f"encoding must be 'auto' or one of {ENCODINGS}, got {encoding!r}")
    return name


def _decode_line(raw: bytes, exc: UnicodeDecodeError, encoding: str) -> int:
    return raw[: exc.start].decode(encoding, errors="replace").count("\n") + 1


def _decode(raw: bytes, encoding: str, path: Path) -> tuple[bytes, str, str]:
    """Validate the encoding without keeping a decoded copy of the file.

    Returns the bytes to parse (without BOM; UTF-16 re-encoded as UTF-8), their encoding
    (``utf-8``, ``cp1252`` or ``latin-1``) and the file's encoding as reported.
    """
    bom = None
    if raw.startswith(codecs.BOM_UTF8):
        bom = "utf-8-sig"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        bom = "utf-16"
    if bom is not None:
        compatible = {"utf-8-sig": ("auto", "utf-8", "utf-8-sig"), "utf-16": ("auto", "utf-16")}
        if encoding not in compatible[bom]:
            raise _error(
                path,
                "bom_mismatch",
                (
                    f"Filen börjar med en byte order mark för {bom} men profilen anger "
                    f"{encoding}.",
                    f"The file starts with a byte order mark for {bom} but the profile declares "
                    f"{encoding}.",
                ),
                (
                    f"Ange encoding: {bom} (eller auto) i profilen.",
                    f"Declare encoding: {bom} (or auto) in the profile.",
                ),
            )
        try:
            text = raw.decode(bom)
        except UnicodeDecodeError as exc:
            raise _decode_error(path, bom, _decode_line(raw, exc, bom)) from exc
        if bom == "utf-16":
            return text.encode("utf-8"), "utf-8", bom
        return raw[len(codecs.BOM_UTF8) :], "utf-8", bom
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    if encoding == "utf-16":  # declared, without BOM
        try:
            return raw.decode("utf-16").encode("utf-8"), "utf-8", "utf-16"
        except UnicodeDecodeError as exc:
            raise _decode_error(path, "utf-16", _decode_line(raw, exc, "utf-16")) from exc
    if encoding in ("cp1252", "latin-1"):
        _check_single_byte(raw, encoding, path, None)
        return raw, encoding, encoding
    try:
        _validate_utf8(raw)
    except UnicodeDecodeError as exc:
        if encoding == "utf-8":
            raise _decode_error(path, "utf-8", _decode_line(raw, exc, "utf-8")) from exc
        utf8_line = _decode_line(raw, exc, "utf-8")
    else:
        return raw, "utf-8", "utf-8"
    _check_single_byte(raw, "cp1252", path, utf8_line)
    if _mojibake_suspected(raw, "cp1252") and _MOJIBAKE.search(raw.decode("cp1252")):
        # Valid UTF-8 sequences (read as cp1252 they become Ã¶ ...) mixed with invalid bytes.
        raise _error(
            path,
            "mixed_encoding",
            (
                "Filen blandar teckenkodningar: det mesta är UTF-8, men rad "
                f"{utf8_line} innehåller byte som inte är giltig UTF-8.",
                f"The file mixes encodings: most of it is UTF-8, but line {utf8_line} contains "
                "bytes that are not valid UTF-8.",
            ),
            _FIX_REEXPORT,
            row=utf8_line,
        )
    return raw, "cp1252", "cp1252"


_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


def _check_single_byte(raw: bytes, encoding: str, path: Path, utf8_line: int | None) -> None:
    """cp1252 leaves five bytes undefined; latin-1 decodes everything."""
    if encoding != "cp1252" or not any(b in raw for b in _CP1252_UNDEFINED):
        return
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = _decode_line(raw, exc, "cp1252")
        if utf8_line is None:
            raise _decode_error(path, "cp1252", line) from exc
        raise _error(
            path,
            "decode_error",
            (
                f"Filen är varken giltig UTF-8 (fel på rad {utf8_line}) eller Windows-1252 "
                f"(fel på rad {line}).",
                f"The file is neither valid UTF-8 (error at line {utf8_line}) nor Windows-1252 "
                f"(error at line {line}).",
            ),
            (
                _FIX_REEXPORT[0] + " Ange annars rätt encoding i profilen.",
                _FIX_REEXPORT[1] + " Otherwise declare the right encoding in the profile.",
            ),
            row=utf8_line,
        ) from exc


def _decode_error(path: Path, encoding: str, line: int) -> ExportError:
    return _error(
        path,
        "decode_error",
        (
            f"Filen kan inte läsas med teckenkodningen {encoding} (första felet på rad {line}).",
            f"The file cannot be decoded as {encoding} (first error at line {line}).",
        ),
        (
            "Ange rätt encoding i profilen (eller auto), eller exportera filen på nytt.",
            "Declare the right encoding in the profile (or auto), or export the file again.",
        ),
        row=line,
    )


def _validate_utf8(raw: bytes) -> None:
    """Raise the :class:`UnicodeDecodeError` of ``raw.decode("utf-8")``, if any.

    The first 64 KiB are tried first: a Windows-1252 export usually fails in its header, and a
    failed ``decode`` of the whole file still costs a pass over all of it. The error (its
    ``start``) is the one the whole decode reports; an incomplete character at the end of the
    prefix is not an error.
    """
    codecs.getincrementaldecoder("utf-8")().decode(raw[: 1 << 16], final=False)
    raw.decode("utf-8")


def _is_utf8(raw: bytes) -> bool:
    try:
        _validate_utf8(raw)
    except UnicodeDecodeError:
        return False
    return True


# Single bytes that every mojibake sequence contains, per encoding of the file. Searching one byte
# is a memchr (milliseconds for 250 MB); longer needles and regular expressions cost a full slow
# pass, so they only run after a hit.
_MOJIBAKE_BYTE = {
    # Â = C3 82, Ã = C3 83, â€ = .. E2 82 AC, ï»¿ = C3 AF .., U+FFFD = EF BF BD
    "utf-8": (b"\x82", b"\x83", b"\xaf", b"\xef"),
    # Â, Ã, â, ï themselves
    "cp1252": (b"\xc2", b"\xc3", b"\xe2", b"\xef"),
    "latin-1": (b"\xc2", b"\xc3", b"\xe2", b"\xef", *(bytes([b]) for b in range(0x80, 0xA0))),
}
_MOJIBAKE_UTF8 = (
    b"\xc3\x82",
    b"\xc3\x83",
    b"\xc3\xa2\xe2\x82\xac",
    b"\xc3\xaf\xc2\xbb",
    b"\xef\xbf\xbd",
)


def _mojibake_suspected(src: bytes, encoding: str) -> bool:
    """Fast whole-file check on the bytes (substring searches, no per-row work).

    A hit only means "look closer": the caller confirms it with :data:`_MOJIBAKE` on the text.
    """
    if any(b in src for b in _MOJIBAKE_BYTE[encoding]) and (
        encoding != "utf-8" or any(n in src for n in _MOJIBAKE_UTF8)
    ):
        return True
    if encoding == "utf-8":  # C1 characters are C2 80 .. C2 9F
        return b"\xc2" in src and re.search(b"\xc2[\x80-\x9f]", src) is not None
    return False  # Python's cp1252 never decodes to a C1 control character; latin-1 above


def _head_text(src: bytes, encoding: str) -> Iterator[tuple[str, bool]]:
    """Growing decoded prefixes of ``src`` and whether each is the whole file."""
    size = 1 << 16
    while True:
        complete = size >= len(src)
        yield src[:size].decode(encoding, errors="strict" if complete else "ignore"), complete
        if complete:
            return
        size *= 4


def _head_records(
    src: bytes, encoding: str, delimiters: Sequence[str], limit: int, path: Path
) -> dict[str, list[list[str]]]:
    """The first ``limit`` records per candidate delimiter, decoding only a prefix of the file."""
    for text, complete in _head_text(src, encoding):
        try:
            out = {d: _csv_records(text, d, limit + 1, path) for d in delimiters}
        except ExportError:
            if complete:
                raise
            continue  # the prefix may end inside a quoted field
        # In a partial prefix the last record may be cut: keep only records followed by another.
        if complete or all(len(r) > limit for r in out.values()):
            return {d: r[:limit] for d, r in out.items()}
    raise AssertionError("unreachable")  # pragma: no cover


# -- header and delimiter ---------------------------------------------------------------------------


def _score(fields: Sequence[object], expected: set[str]) -> int:
    return sum(1 for f in fields if _norm(f) in expected)


def _title_check(
    path: Path,
    rows_by_delim: dict[Any, list[list[Any]]],
    first: int,
    expected: set[str],
) -> None:
    """Refuse title rows above the header: the first non-empty row matches no expected column
    while a later row among the first :data:`HEADER_SEARCH_ROWS` does."""
    if not expected:
        return

    def best(i: int) -> int:
        return max(
            _score(rows[i - 1], expected) for rows in rows_by_delim.values() if len(rows) >= i
        )

    if best(first) > 0:
        return
    n = max(len(rows) for rows in rows_by_delim.values())
    later = [(best(i), i) for i in range(first + 1, min(n, HEADER_SEARCH_ROWS) + 1)]
    top = max(later, default=(0, 0))
    if top[0] > 0:
        row = min(i for s, i in later if s == top[0])
        raise _error(
            path,
            "title_rows",
            (
                f"Rad {first} ser inte ut som en rubrikrad, men rad {row} har kända kolumnnamn: "
                "filen har troligen titelrader ovanför rubrikraden.",
                f"Row {first} does not look like a header, but row {row} has known column names: "
                "the file probably has title rows above the header.",
            ),
            (
                f"Ta bort raderna ovanför rubrikraden, eller ange header_row: {row} i profilen.",
                f"Remove the rows above the header, or set header_row: {row} in the profile.",
            ),
            row=row,
        )


def _pick_header_row(path: Path, rows: Sequence[Sequence[Any]], header_row: int | None) -> int:
    """1-based row number of the header: declared, or the first non-empty row."""
    if header_row is not None:
        if len(rows) < header_row or all(_blank(v) for v in rows[header_row - 1]):
            raise _error(
                path,
                "header_row_missing",
                (
                    f"Den angivna rubrikraden (header_row: {header_row}) finns inte eller är tom.",
                    f"The declared header row (header_row: {header_row}) is missing or empty.",
                ),
                (
                    "Kontrollera header_row i profilen (radnumret som i Excel).",
                    "Check header_row in the profile (the row number as shown in Excel).",
                ),
                row=header_row,
            )
        return header_row
    for i, rec in enumerate(rows, start=1):
        if not all(_blank(v) for v in rec):
            return i
    raise _error(
        path,
        "no_header",
        (
            f"Ingen rubrikrad bland de första {len(rows)} raderna (alla är tomma).",
            f"No header among the first {len(rows)} rows (they are all empty).",
        ),
        (
            "Ta bort de tomma raderna överst, eller ange header_row i profilen.",
            "Remove the empty rows at the top, or set header_row in the profile.",
        ),
    )


def _choose_delimiter(
    path: Path, rows_by_delim: dict[str, list[list[str]]], h: int, expected: set[str]
) -> str:
    """The delimiter splitting the header into >= 2 fields that match most expected names."""
    options = []
    for d, rows in rows_by_delim.items():
        fields = rows[h - 1] if len(rows) >= h else []
        if len(fields) >= 2:
            options.append((_score(fields, expected), d))
    names = {";": "semikolon (;)", ",": "komma (,)", "\t": "tab"}
    if not options:
        raise _error(
            path,
            "no_delimiter",
            (
                f"Rubrikraden (rad {h}) delas inte i flera kolumner av semikolon, komma eller tab.",
                f"The header (row {h}) is not split into several columns by semicolon, comma or "
                "tab.",
            ),
            (
                "Kontrollera att filen är en CSV-export med rubrikrad, eller ange delimiter i "
                "profilen.",
                "Check that the file is a CSV export with a header row, or declare delimiter in "
                "the profile.",
            ),
            row=h,
        )
    options.sort(key=lambda o: -o[0])
    if len(options) > 1 and options[0][0] == options[1][0]:
        tied = " / ".join(names[d] for s, d in options if s == options[0][0])
        raise _error(
            path,
            "ambiguous_delimiter",
            (
                f"Avgränsaren kan inte avgöras säkert: rubrikraden (rad {h}) kan delas med {tied}.",
                f"The delimiter cannot be determined safely: the header (row {h}) can be split by "
                f"{tied.replace('semikolon', 'semicolon').replace('komma', 'comma')}.",
            ),
            (
                "Ange delimiter i profilen (';', ',' eller 'tab').",
                "Declare delimiter in the profile (';', ',' or 'tab').",
            ),
            row=h,
        )
    return options[0][1]


def _header_names(path: Path, fields: Sequence[object], h: int) -> list[str]:
    names = [_cell_str(v) or "" for v in fields]
    names = [n.strip() for n in names]
    seen: dict[str, str] = {}
    for n in names:
        if not n:
            continue
        key = _norm(n)
        if key == "_rad":
            raise _error(
                path,
                "reserved_column",
                (
                    'Kolumnnamnet "_rad" är reserverat för radnummer.',
                    'The column name "_rad" is reserved for row numbers.',
                ),
                ("Byt namn på kolumnen i exporten.", "Rename the column in the export."),
                row=h,
                column=n,
            )
        if key in seen:
            raise _error(
                path,
                "duplicate_column",
                (
                    f'Kolumnnamnet "{n}" förekommer flera gånger i rubrikraden'
                    + (f' (även som "{seen[key]}").' if seen[key] != n else "."),
                    f'The column name "{n}" occurs more than once in the header'
                    + (f' (also as "{seen[key]}").' if seen[key] != n else "."),
                ),
                (
                    "Ge kolumnerna unika namn i exporten (eller ta bort dubbletten).",
                    "Give the columns unique names in the export (or remove the duplicate).",
                ),
                row=h,
                column=n,
            )
        seen[key] = n
    return names


# -- structural rows --------------------------------------------------------------------------------


def _blank_to_na(body: pd.DataFrame) -> pd.DataFrame:
    """Whitespace-only values → missing (empty strings are already missing)."""
    for c in body.columns:
        s = body[c]
        ws = s.str.isspace()
        if ws.any():
            body[c] = s.mask(ws)
    return body


def _footer(values: Sequence[str]) -> tuple[str, list[int]] | None:
    """(detail, totals) when the non-empty cells ``values`` form a footer row, else None."""
    first = values[0]
    key = " ".join(first.casefold().replace(":", " ").split())
    m = _FOOTER.match(key)
    if m is None:
        return None
    numbers = []
    for v in values[1:]:
        nm = _NUMBER_CELL.fullmatch(v)
        if nm is None:
            return None
        numbers.append(nm.group(1))
    numbers = [n.group() for n in _NUMBER_IN_TEXT.finditer(m.group(2))] + numbers
    totals = [int(re.sub(r"[\s+]", "", n)) for n in numbers if not re.search(r"[.,]", n)]
    label = " ".join(first.replace(":", " ").split())[: len(m.group(1))]
    detail = " ".join([label, *map(str, totals)])
    return detail, totals


def _contains(s: pd.Series, pattern: str) -> np.ndarray:
    """Case-insensitive regex search as a writable bool array (pyarrow's RE2 when it can)."""
    try:
        hit = s.str.contains(pattern, case=False, regex=True)
    except Exception:  # noqa: BLE001 - RE2 may reject a pattern; Python's re will not
        hit = s.astype(object).map(
            lambda v: isinstance(v, str) and re.search(pattern, v, re.IGNORECASE) is not None
        )
    return np.array(hit, dtype=bool)


def _classify(
    body: pd.DataFrame, header: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str], list[int]]:
    """Positions of structural rows, their kinds, details and the stated totals.

    ``body`` has positional columns of dtype str (missing = NA). Vectorised: only rows whose first
    cell could start a repeated header or a footer are examined one by one.
    """
    n = len(body)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object), [], []
    notna = body.notna().to_numpy()
    empty = ~notna.any(axis=1)
    # A repeated header's first non-empty cell is the first named column; a footer's is its word.
    head0 = next((k for k in map(_norm, header) if k), "")
    pattern = _FOOTER_PREFILTER
    if head0:
        pattern += f"|^{_WS}*" + f"{_WS}*".join(re.escape(ch) for ch in head0) + f"{_WS}*$"
    cand = _contains(body.iloc[:, 0], pattern)
    # Rows whose first column is empty: their first non-empty cell is further right.
    idx0 = np.flatnonzero(~notna[:, 0] & ~empty)
    if idx0.size:
        sub = body.iloc[idx0]
        first = sub.iloc[:, 0]
        for j in range(1, sub.shape[1]):
            first = first.fillna(sub.iloc[:, j])
        cand[idx0] = _contains(first, pattern)
    cand &= ~empty
    kinds = np.full(n, "", dtype=object)
    details = np.full(n, "", dtype=object)
    kinds[empty] = "empty"
    totals: list[int] = []
    idx = np.flatnonzero(cand)
    if idx.size:
        header_norm = [_norm(h) for h in header]
        sub = body.iloc[idx].astype(object).to_numpy()
        for pos, row in zip(idx, sub, strict=True):
            if [_norm(v) for v in row] == header_norm:
                kinds[pos] = "repeated_header"
                continue
            values = [v for v in row if isinstance(v, str)]
            found = _footer(values)
            if found is not None:
                kinds[pos] = "footer"
                details[pos] = found[0]
                totals.extend(found[1])
    pos = np.flatnonzero(kinds != "")
    return pos, kinds[pos], list(details[pos]), totals


def _assemble(
    path: Path,
    body: pd.DataFrame,
    rad: np.ndarray,
    names: list[str],
    header_row: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[int, ...], np.ndarray]:
    """Split ``body`` (positional str columns) into data and structural rows.

    Returns data (``_rad`` + named columns), structural rows, stated totals and the positions in
    ``body`` of the data rows.
    """
    pos, kinds, details, totals = _classify(body, names)
    keep = np.ones(len(body), dtype=bool)
    keep[pos] = False
    if keep.all():
        data = body
    elif len(pos) <= _MAX_SLICES:
        # A few structural rows (a footer, some blank lines): concatenating the slices between
        # them only chains Arrow chunks, where a take would copy every column.
        bounds = [-1, *pos.tolist(), len(body)]
        parts = [body.iloc[a + 1 : b] for a, b in itertools.pairwise(bounds) if b > a + 1]
        if len(parts) > 1:
            data = pd.concat(parts, ignore_index=True)
        else:
            data = parts[0] if parts else body.iloc[:0]
    else:
        data = body.iloc[np.flatnonzero(keep)]
    data_rad = rad[keep]
    # Unnamed columns: dropped when empty in every data row, refused otherwise.
    unnamed = [i for i, n in enumerate(names) if not n]
    for i in unnamed:
        filled = data.iloc[:, i].notna().to_numpy()
        if filled.any():
            row = int(data_rad[np.argmax(filled)])
            raise _error(
                path,
                "unnamed_column",
                (
                    f"Kolumn {i + 1} saknar namn i rubrikraden (rad {header_row}) men innehåller "
                    "värden.",
                    f"Column {i + 1} has no name in the header (row {header_row}) but contains "
                    "values.",
                ),
                (
                    "Ge kolumnen ett namn i exporten, eller ta bort den.",
                    "Give the column a name in the export, or remove it.",
                ),
                row=row,
                column=f"kolumn {i + 1}",
            )
    named = [i for i, n in enumerate(names) if n]
    data = data.iloc[:, named] if unnamed else data
    data = data.set_axis([names[i] for i in named], axis=1)
    data = data.reset_index(drop=True)
    for c in data.columns:
        if data[c].dtype != "str":
            data[c] = data[c].astype("str")
    data.insert(0, "_rad", data_rad.astype(np.int64))
    structural = pd.DataFrame(
        {
            "_rad": rad[pos].astype(np.int64),
            "kind": pd.array(list(kinds), dtype="str"),
            "detail": pd.array(list(details), dtype="str"),
        }
    )
    return data, structural, tuple(totals), np.flatnonzero(keep)


def _locate_mojibake(
    path: Path, names: Sequence[str], body: pd.DataFrame, rad: np.ndarray, header_row: int
) -> ExportError | None:
    """The first cell (header first, then by row) with mojibake, as an error; None if none."""
    for n in names:
        if _MOJIBAKE.search(n):
            return _mojibake_error(path, n, header_row, n)
    best: tuple[int, int] | None = None
    for j in range(body.shape[1]):
        s = body.iloc[:, j]
        hit = s.astype(object).map(
            lambda v: isinstance(v, str) and _MOJIBAKE.search(v) is not None
        )
        hit = hit.to_numpy(dtype=bool)
        if hit.any():
            i = int(np.argmax(hit))
            if best is None or rad[i] < rad[best[0]]:
                best = (i, j)
    if best is None:
        return None
    i, j = best
    return _mojibake_error(path, body.iat[i, j], int(rad[i]), names[j] or f"kolumn {j + 1}")


# -- CSV --------------------------------------------------------------------------------------------


def _ragged_error(path: Path, row: int, n_fields: int, n_header: int, header_row: int):
    return _error(
        path,
        "ragged_row",
        (
            f"Raden har {n_fields} fält men rubrikraden (rad {header_row}) har {n_header}: "
            "exporten är trasig (t.ex. en avgränsare i en text utan citattecken, eller en extra "
            "avgränsare i slutet av raden).",
            f"The row has {n_fields} fields but the header (row {header_row}) has {n_header}: the "
            "export is broken (e.g. a delimiter inside unquoted text, or an extra delimiter at "
            "the end of the row).",
        ),
        (
            "Exportera på nytt med citattecken runt textfält, eller rätta raden i "
            "verksamhetssystemet.",
            "Export again with text fields quoted, or correct the row in the case system.",
        ),
        row=row,
    )


def _c_parse(
    path: Path, source: bytes, encoding: str, delimiter: str, width: int, h: int
) -> tuple[pd.DataFrame, dict[int, int]]:
    """Records below the header as ``width`` str columns (NA for empty), and the records with
    more fields than ``width`` (absolute record number → number of fields) that were skipped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            body = pd.read_csv(
                io.BytesIO(source),
                sep=delimiter,
                header=None,
                names=list(range(width)),
                index_col=False,  # never an implicit index; a wide first row is checked before
                skiprows=h,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                engine="c",
                skip_blank_lines=False,
                quotechar='"',
                doublequote=True,
                encoding=encoding,
                on_bad_lines="warn",
            )
        except pd.errors.EmptyDataError:
            body = pd.DataFrame({i: pd.array([], dtype="str") for i in range(width)})
        except pd.errors.ParserError as exc:
            m = _FIELDS.search(str(exc))
            raise _error(
                path,
                "malformed_csv",
                (
                    "Filen kan inte tolkas som CSV (t.ex. ett citattecken som aldrig avslutas).",
                    "The file cannot be parsed as CSV (e.g. a quote that is never closed).",
                ),
                _FIX_REEXPORT,
                row=int(m.group(2)) if m else None,
            ) from exc
    bad: dict[int, int] = {}
    for w in caught:
        msg = str(w.message)
        if not issubclass(w.category, pd.errors.ParserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif _SKIPPED_LINE.search(msg):
            bad.update((int(r), int(k)) for r, k in _SKIPPED_LINE.findall(msg))
        elif "Length of header" not in msg:  # a wide first row is checked by the caller
            raise _error(
                path,
                "malformed_csv",
                (
                    "Filen kan inte tolkas säkert som CSV.",
                    "The file cannot be parsed safely as CSV.",
                ),
                _FIX_REEXPORT,
            )
    return body, bad


def _arrow_parse(
    source: bytes, encoding: str, delimiter: str, width: int, h: int
) -> pd.DataFrame | None:
    """The common case through pyarrow's multi-threaded CSV parser, or None to fall back.

    Only files in which every record below the header has exactly ``width`` fields qualify: a
    blank line, a short or a long record makes pyarrow's row numbering differ from the file's,
    so any such record (or any parse error) sends the file to the C parser, which handles them.
    The result is the same frame the C parser gives (str columns 0..width-1, NA for empty).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    irregular: list[int] = []

    def on_invalid(row: object) -> str:
        irregular.append(1)
        return "skip"

    names = [str(i) for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(source),  # Arrow's own zero-copy stream: no Python file object
            read_options=pacsv.ReadOptions(
                encoding=encoding, skip_rows=h, column_names=names, block_size=1 << 20
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, LookupError, ValueError):
        return None
    if irregular:
        return None
    return pd.DataFrame(
        {i: pd.array(table.column(str(i)), dtype="str") for i in range(width)},
        columns=range(width),
    )


def _parse_body(
    path: Path, source: bytes, encoding: str, delimiter: str, n: int, h: int
) -> pd.DataFrame:
    """Records below the header as ``n`` str columns; row i is record ``h + 1 + i``.

    Records with more fields than the header are allowed only when every field is blank (such
    a row is then an empty structural row); any other is a ragged row and refused. They are rare,
    so they cost a second parse, wide enough for all fields.
    """
    fast = _arrow_parse(source, encoding, delimiter, n, h)
    if fast is not None:
        return fast
    body, bad = _c_parse(path, source, encoding, delimiter, n, h)
    if not bad:
        return body
    del body
    wide, still = _c_parse(path, source, encoding, delimiter, max(bad.values()), h)
    if still:  # pragma: no cover - the wide parse has room for every record
        raise _ragged_error(path, min(still), still[min(still)], n, h)
    rows = np.asarray(sorted(bad), dtype=np.int64) - h - 1
    sub = _blank_to_na(wide.iloc[rows].reset_index(drop=True))
    filled = sub.notna().to_numpy().any(axis=1)
    if filled.any():
        first = int(rows[np.argmax(filled)]) + h + 1
        raise _ragged_error(path, first, bad[first], n, h)
    return wide.iloc[:, :n]


def _read_csv(
    path: Path,
    raw: bytes,
    *,
    encoding: str,
    delimiter: str,
    header_row: int | None,
    expected: set[str],
    id_columns: set[str],
) -> dict[str, Any]:
    src, src_encoding, used = _decode(raw, encoding, path)
    if _EMPTY.match(src):
        raise _error(
            path,
            "empty_file",
            ("Filen är tom.", "The file is empty."),
            (
                "Kontrollera exporten: välj rätt period och urval och exportera igen.",
                "Check the export: choose the right period and selection and export again.",
            ),
        )
    if b"\x00" in src:
        raise _error(
            path,
            "nul_bytes",
            (
                "Filen innehåller NUL-tecken: den är troligen UTF-16 utan byte order mark, eller "
                "inte en textfil.",
                "The file contains NUL characters: it is probably UTF-16 without a byte order "
                "mark, or not a text file.",
            ),
            (
                "Ange encoding: utf-16 i profilen, eller exportera som CSV (UTF-8 eller "
                "Windows-1252).",
                "Declare encoding: utf-16 in the profile, or export as CSV (UTF-8 or "
                "Windows-1252).",
            ),
        )
    suspect = _mojibake_suspected(src, src_encoding) and bool(
        _MOJIBAKE.search(src.decode(src_encoding))
    )
    limit = (header_row or HEADER_SEARCH_ROWS) + HEADER_SEARCH_ROWS + 1
    candidates = DELIMITERS if delimiter == "auto" else (delimiter,)
    prefix = _head_records(src, src_encoding, candidates, limit, path)
    some = prefix[candidates[0]]
    h = _pick_header_row(path, some, header_row)
    if header_row is None:
        _title_check(path, prefix, h, expected)
    if delimiter == "auto":
        delimiter = _choose_delimiter(path, prefix, h, expected)
    records = prefix[delimiter]
    names = _header_names(path, records[h - 1], h)
    n = len(names)
    for i, rec in enumerate(records[h:], start=h + 1):
        if len(rec) > n and not all(_blank(v) for v in rec):
            raise _ragged_error(path, i, len(rec), n, h)

    # The body: pandas' C parser on the same bytes; record numbers in its messages are absolute.
    body = _parse_body(path, src, src_encoding, delimiter, n, h)
    rad = np.arange(h + 1, h + 1 + len(body), dtype=np.int64)
    body = _blank_to_na(body)
    if suspect:
        err = _locate_mojibake(path, names, body, rad, h)
        if err is None:  # above the header or in a skipped row: name the text line
            full_text = src.decode(src_encoding)
            at = _MOJIBAKE.search(full_text)
            if at is not None:
                err = _mojibake_error(
                    path, at.group(), full_text.count("\n", 0, at.start()) + 1, None
                )
        if err is not None:
            if used in ("cp1252", "latin-1") and _is_utf8(raw):
                err.problem_sv += f" Filen är giltig UTF-8 men lästes som {used}."
                err.problem_en += f" The file is valid UTF-8 but was read as {used}."
                err.fix_sv = "Ange encoding: utf-8 (eller auto) i profilen."
                err.fix_en = "Declare encoding: utf-8 (or auto) in the profile."
                err.args = (err._message(),)
            raise err
    data, structural, totals, _ = _assemble(path, body, rad, names, header_row=h)
    for c in data.columns[1:]:
        if _norm(c) in id_columns:
            sci = _contains(data[c], _SCIENTIFIC)
            if sci.any():
                raise _numeric_id_error(path, int(data["_rad"].iat[int(np.argmax(sci))]), c, True)
    return {
        "format": "csv",
        "encoding": used,
        "delimiter": delimiter,
        "sheet": None,
        "header": tuple(n for n in names if n),
        "data": data,
        "structural": structural,
        "stated_totals": totals,
        "header_row": h,
    }


# -- Excel ------------------------------------------------------------------------------------------


def _cell_str(v: object) -> str | None:
    """One Excel cell as the string a user would type (None when empty)."""
    if v is None:
        return None
    if isinstance(v, str):
        return None if not v.strip() else v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, dt.datetime):
        if v.time() == dt.time(0, 0):
            return v.date().isoformat()
        return v.isoformat(timespec="seconds")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return str(v)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numeric_id_error(path: Path, row: int, column: str, scientific: bool = False) -> ExportError:
    what_sv = "i exponentform (t.ex. 1,91212E+11)" if scientific else "som ett tal"
    what_en = "in scientific notation (e.g. 1.91212E+11)" if scientific else "as a number"
    return _error(
        path,
        "scientific_id" if scientific else "numeric_id",
        (
            f"En identifierare är lagrad {what_sv}: inledande nollor och siffror kan ha gått "
            "förlorade. Inget har lästs in.",
            f"An identifier is stored {what_en}: leading zeros and digits may have been lost. "
            "Nothing was ingested.",
        ),
        (
            "Formatera kolumnen som text i verksamhetssystemets export (eller i Excel före "
            "inklistring) och exportera på nytt.",
            "Format the column as text in the case system's export (or in Excel before pasting) "
            "and export again.",
        ),
        row=row,
        column=column,
    )


def _serial_to_iso(path: Path, value: float, epoch: dt.datetime, row: int, column: str) -> str:
    from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

    bad_sv = bad_en = ""
    if value < 1:
        bad_sv, bad_en = "är mindre än 1 och inget datum", "is below 1 and not a date"
    elif epoch == WINDOWS_EPOCH and 60 <= value < 61:
        bad_sv = "är 1900-02-29, en dag som inte finns (Excels skottårsfel)"
        bad_en = "is 1900-02-29, a day that does not exist (Excel's leap-year bug)"
    if not bad_sv:
        try:
            d = from_excel(value, epoch=epoch)
        except (OverflowError, ValueError):
            bad_sv, bad_en = "ligger utanför möjliga datum", "is outside the possible dates"
        else:
            return _cell_str(d) or ""
    raise _error(
        path,
        "excel_date_serial",
        (
            f"Ett datum lagrat som Excel-serienummer {bad_sv}.",
            f"A date stored as an Excel serial number {bad_en}.",
        ),
        (
            "Kontrollera datumet i verksamhetssystemet och formatera kolumnen som datum eller "
            "text (ÅÅÅÅ-MM-DD) i exporten.",
            "Check the date in the case system and format the column as a date or as text "
            "(YYYY-MM-DD) in the export.",
        ),
        row=row,
        column=column,
    )


def _open_sheet(path: Path, raw: bytes, sheet: str | int | None):
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zipfile, KeyError, XML errors: all "unreadable"
        raise _error(
            path,
            "unreadable_xlsx",
            (
                f"Filen kan inte läsas som Excel-arbetsbok (.xlsx): {type(exc).__name__}.",
                f"The file cannot be read as an Excel workbook (.xlsx): {type(exc).__name__}.",
            ),
            (
                "Spara filen som .xlsx eller exportera som CSV.",
                "Save the file as .xlsx or export as CSV.",
            ),
        ) from exc
    visible = [ws for ws in wb.worksheets if getattr(ws, "sheet_state", "visible") == "visible"]
    ws = None
    if sheet is None:
        ws = visible[0] if visible else None
    elif isinstance(sheet, int):
        ws = visible[sheet] if -len(visible) <= sheet < len(visible) else None
    else:
        by_name = {w.title: w for w in wb.worksheets}
        ws = by_name.get(sheet) or next(
            (w for t, w in by_name.items() if _norm(t) == _norm(sheet)), None
        )
    if ws is None:
        names = ", ".join(f'"{w.title}"' for w in visible) or "-"
        wb.close()
        raise _error(
            path,
            "sheet_not_found",
            (
                f"Bladet {sheet!r} finns inte (synliga blad: {names}).",
                f"Sheet {sheet!r} not found (visible sheets: {names}).",
            ),
            (
                "Ange rätt sheet i profilen (namn, eller nummer från 0 bland synliga blad).",
                "Set the right sheet in the profile (name, or number from 0 among visible sheets).",
            ),
        )
    return wb, ws


def _read_xlsx(
    path: Path,
    raw: bytes,
    *,
    sheet: str | int | None,
    header_row: int | None,
    expected: set[str],
    date_columns: set[str],
    id_columns: set[str],
) -> dict[str, Any]:
    wb, ws = _open_sheet(path, raw, sheet)
    try:
        ws.reset_dimensions()  # exporters often write wrong dimensions; read every row
        rows = [tuple(r) for r in ws.iter_rows(min_row=1, values_only=True)]
        epoch = wb.epoch
        title = ws.title
    finally:
        wb.close()
    while rows and all(_blank(_cell_str(v)) for v in rows[-1]):
        rows.pop()  # trailing empty rows that Excel keeps after deleting content
    if not rows:
        raise _error(
            path,
            "empty_file",
            (f'Bladet "{title}" är tomt.', f'The sheet "{title}" is empty.'),
            (
                "Kontrollera exporten, eller ange rätt sheet i profilen.",
                "Check the export, or set the right sheet in the profile.",
            ),
        )
    limit = (header_row or HEADER_SEARCH_ROWS) + HEADER_SEARCH_ROWS
    head = [[_cell_str(v) for v in r] for r in rows[:limit]]
    h = _pick_header_row(path, head, header_row)
    if header_row is None:
        _title_check(path, {None: head}, h, expected)
    names = _header_names(path, head[h - 1], h)
    body_rows = rows[h:]
    width = max([len(names), *(len(r) for r in body_rows)])
    names = names + [""] * (width - len(names))
    raw_cols = [[r[j] if j < len(r) else None for r in body_rows] for j in range(width)]
    body = pd.DataFrame(
        {j: pd.array([_cell_str(v) for v in col], dtype="str") for j, col in enumerate(raw_cols)},
        columns=range(width),
    )
    rad = np.arange(h + 1, h + 1 + len(body_rows), dtype=np.int64)
    err = _locate_mojibake(path, names, body, rad, h)  # sheets are small: check every cell
    if err is not None:
        raise err
    data, structural, totals, kept = _assemble(path, body, rad, names, header_row=h)
    for j, name in enumerate(names):
        if not name:
            continue
        key = _norm(name)
        if key not in id_columns and key not in date_columns:
            continue
        col = raw_cols[j]
        if key in id_columns:
            for p in kept:
                if _is_number(col[p]):
                    raise _numeric_id_error(path, int(rad[p]), name)
        if key in date_columns:
            values = np.array(data[name].astype(object), dtype=object)
            changed = False
            for k, p in enumerate(kept):
                if _is_number(col[p]):
                    values[k] = _serial_to_iso(path, col[p], epoch, int(rad[p]), name)
                    changed = True
            if changed:
                data[name] = pd.array(values, dtype="str")
    return {
        "format": "xlsx",
        "encoding": None,
        "delimiter": None,
        "sheet": title,
        "header": tuple(n for n in names if n),
        "data": data,
        "structural": structural,
        "stated_totals": totals,
        "header_row": h,
    }


# -- entry point ------------------------------------------------------------------------------------


def read_export(
    path: str | Path,
    *,
    encoding: str = "auto",
    delimiter: str = "auto",
    sheet: str | int | None = None,
    header_row: int | None = None,
    date_columns: Collection[str] = (),
    id_columns: Collection[str] = (),
    expected_columns: Collection[str] = (),
) -> RawExport:
    """Read one export file (CSV or .xlsx) into raw strings with row numbers.

    The format is recognised from the file's first bytes (a zip archive is .xlsx; an old binary
    .xls is refused), otherwise CSV. Structural rows (empty, repeated header, footer) are counted
    apart from the data; see the module docstring for the exact rules.

    Parameters
    ----------
    path
        The export file.
    encoding
        CSV only. ``"auto"``: a byte order mark gives ``utf-8-sig``/``utf-16``; otherwise strict
        UTF-8, else cp1252. Or one of :data:`ENCODINGS` (a declared encoding that fails to decode
        is an error naming the line).
    delimiter
        CSV only. ``"auto"``: from the header line, among :data:`DELIMITERS`, the one splitting
        it into at least two fields that match most ``expected_columns``; a tie is an error.
    sheet
        xlsx only. Sheet name (hidden sheets only when named), or 0-based position among the
        visible sheets; default the first visible sheet.
    header_row
        1-based row number of the header as shown in Excel; default the first non-empty row.
    date_columns
        xlsx only. Columns whose numeric cells are Excel date serials (converted to ISO dates
        with the workbook's epoch; 1900-02-29, which Excel invents, is refused).
    id_columns
        Identifier columns: a numeric xlsx cell, or a CSV value in scientific notation, is an
        error (digits and leading zeros are lost).
    expected_columns
        Header names the profile accepts (any spelling), for delimiter detection and to notice
        title rows above the header. Compared case- and whitespace-insensitively, as are
        ``date_columns`` and ``id_columns``.

    Returns
    -------
    RawExport
        Data (``_rad`` + one str column per header name), structural rows and stated totals.

    Raises
    ------
    ExportError
        When the file cannot be read safely (the message says where, what and how to fix it).
    ValueError
        For an unknown ``encoding`` or ``delimiter`` argument or ``header_row`` below 1.

    Notes
    -----
    CSV is parsed by pandas' C parser from the same bytes that are hashed. ``_rad`` counts
    records: a quoted field spanning several lines is one row. Warnings raised while parsing are
    captured with :func:`warnings.catch_warnings`, which is not thread-safe.
    """
    path = Path(path)
    encoding = _canonical_encoding(encoding)
    if delimiter in ("tab", "\\t"):
        delimiter = "\t"
    if delimiter != "auto" and delimiter not in DELIMITERS:
        raise ValueError(f"delimiter must be 'auto' or one of {DELIMITERS}, got {delimiter!r}")
    if header_row is not None and (isinstance(header_row, bool) or header_row < 1):
        raise ValueError(f"header_row is a row number from 1, got {header_row!r}")
    raw = path.read_bytes()
    # The file's SHA-256 is computed on a second thread while the file is parsed: hashlib
    # releases the GIL for large inputs, and the parser leaves part of the second core idle.
    hashing = ThreadPoolExecutor(max_workers=1)
    digest = hashing.submit(lambda: hashlib.sha256(raw).hexdigest())
    hashing.shutdown(wait=False)  # the thread ends when the hash is done
    expected = {_norm(c) for c in expected_columns} - {""}
    ids = {_norm(c) for c in id_columns} - {""}
    dates = {_norm(c) for c in date_columns} - {""}
    if _EMPTY.match(raw):
        raise _error(
            path,
            "empty_file",
            ("Filen är tom.", "The file is empty."),
            (
                "Kontrollera exporten: välj rätt period och urval och exportera igen.",
                "Check the export: choose the right period and selection and export again.",
            ),
        )
    if raw.startswith(_OLE2_MAGIC):
        raise _error(
            path,
            "xls_format",
            (
                "Filen är en äldre Excel-fil (.xls) eller en krypterad arbetsbok.",
                "The file is an old Excel file (.xls) or an encrypted workbook.",
            ),
            (
                "Spara den som .xlsx (utan lösenord) eller exportera som CSV.",
                "Save it as .xlsx (without password) or export as CSV.",
            ),
        )
    if raw.startswith(_ZIP_MAGIC):
        parts = _read_xlsx(
            path,
            raw,
            sheet=sheet,
            header_row=header_row,
            expected=expected,
            date_columns=dates,
            id_columns=ids,
        )
    else:
        parts = _read_csv(
            path,
            raw,
            encoding=encoding,
            delimiter=delimiter,
            header_row=header_row,
            expected=expected,
            id_columns=ids,
        )
    result = RawExport(path=path, sha256=digest.result(), size=len(raw), **parts)
    logger.info(
        "read %s: %s, encoding=%s, delimiter=%r, header row %d, %d columns, %d rows read "
        "(%d data, %d structural)",
        path.name,
        result.format,
        result.encoding,
        result.delimiter,
        result.header_row,
        len(result.header),
        result.rows_read,
        len(result.data),
        len(result.structural),
    )
    return result
