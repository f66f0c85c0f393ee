"""Turn raw export strings into canonical values, vectorised over unique values.

Each converter returns the converted column and a mask of rows whose value could not be converted
(plus, where useful, a detail per row for the problem message). Missing input stays missing and is
never an error here: completeness is measured, not enforced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench.ingest.profile import DATE_FORMATS, CodeLookup, normalise_label, parse_bool_marker

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_COMPACT = re.compile(r"^\d{8}$")
_AMBIGUOUS = re.compile(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}$")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def convert_codes(s: pd.Series, lookup: CodeLookup) -> tuple[pd.Series, pd.Series]:
    """Codes from spellings; returns (codes as str with NA, mask of unknown non-missing values)."""
    uniq = s.dropna().unique()
    table = {v: lookup.table.get(normalise_label(v)) for v in uniq}
    codes = s.map(table)
    unknown = s.notna() & codes.isna()
    return codes.astype("str"), unknown


def convert_multi_separated(
    s: pd.Series, lookup: CodeLookup, separator: str
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """One column of joined codes → one boolean column per code.

    Returns (frame code → boolean, mask of rows with an unknown part, the first unknown part).
    An empty cell leaves the variable missing (all NA) for that row.
    """
    uniq = s.dropna().unique()
    parsed: dict[str, tuple[frozenset[str], str | None]] = {}
    for v in uniq:
        parts = [p for p in (x.strip() for x in v.split(separator)) if p]
        codes: set[str] = set()
        bad: str | None = None
        for p in parts:
            code = lookup.table.get(normalise_label(p))
            if code is None:
                bad = bad or p
            else:
                codes.add(code)
        parsed[v] = (frozenset(codes), bad)
    filled = s.notna() & s.map({k: bool(v[0]) or v[1] is not None for k, v in parsed.items()})
    filled = filled.fillna(False).astype(bool)
    out = {}
    for code in lookup.codes:
        col = s.map({k: code in v[0] for k, v in parsed.items()})
        out[code] = col.where(filled).astype("boolean")
    bad_part = s.map({k: v[1] for k, v in parsed.items()})
    unknown = bad_part.notna()
    return pd.DataFrame(out, index=s.index), unknown, bad_part


def convert_multi_columns(
    cols: dict[str, pd.Series], codes: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """One column per option → boolean per code; returns (frame, code → mask of bad markers).

    A row where every option cell is empty leaves the variable missing; otherwise empty option
    cells count as "not marked" (False). Codes without a column in the file are False when the
    row is filled (the export cannot say them; the profile lists which options exist).
    """
    index = next(iter(cols.values())).index
    values: dict[str, pd.Series] = {}
    bad: dict[str, pd.Series] = {}
    for code, s in cols.items():
        table = {v: parse_bool_marker(v) for v in s.dropna().unique()}
        b = s.map(table)
        bad[code] = s.notna() & b.isna()
        values[code] = b
    any_filled = pd.Series(False, index=index)
    for code, s in cols.items():
        any_filled |= s.notna() & ~bad[code]
    out = {}
    for code in codes:
        if code in values:
            col = values[code].fillna(False).astype(bool)
        else:
            col = pd.Series(False, index=index)
        out[code] = col.where(any_filled).astype("boolean")
    return pd.DataFrame(out, index=index), bad


def convert_dates(s: pd.Series, date_format: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Dates from text; returns (datetime64[ns], mask invalid, mask format not declared).

    ISO 8601 dates (``2021-03-04``, also with a time) are always accepted: they are unambiguous and
    Excel date cells arrive in that form. ``auto`` also accepts ``YYYYMMDD``; day/month forms such
    as ``4/3/2021`` must be declared in the profile, never guessed.
    """
    fmt = DATE_FORMATS[date_format]

    def parse(u: pd.Series) -> pd.Series:
        u = u.astype("str").str.strip()
        out = pd.Series(pd.NaT, index=u.index, dtype="datetime64[ns]")
        iso = u.str.match(_ISO)
        out[iso] = pd.to_datetime(u[iso].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        rest = ~iso
        if date_format in ("auto", "YYYYMMDD"):
            compact = rest & u.str.match(_COMPACT)
            out[compact] = pd.to_datetime(u[compact], format="%Y%m%d", errors="coerce")
        elif date_format == "excel_serial":
            num = pd.to_numeric(u[rest].str.replace(",", ".", regex=False), errors="coerce")
            ok = num.notna() & (num >= 1) & (num < 2_958_466)
            out[num[ok].index] = _EXCEL_EPOCH + pd.to_timedelta(np.floor(num[ok]), unit="D")
        elif fmt is not None:
            out[rest] = pd.to_datetime(u[rest], format=fmt, errors="coerce")
        return out

    uniq = pd.Series(s.dropna().unique(), dtype="object")
    if uniq.empty:
        empty = pd.Series(False, index=s.index)
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]"), empty, empty.copy()
    parsed = parse(uniq)
    table = dict(zip(uniq, parsed, strict=True))
    dates = pd.Series(s.map(table), index=s.index).astype("datetime64[ns]")
    bad = s.notna() & dates.isna()
    undeclared = pd.Series(False, index=s.index)
    if date_format == "auto":
        amb = {v: bool(_AMBIGUOUS.match(str(v).strip())) for v in uniq}
        undeclared = bad & s.map(amb).fillna(False).astype(bool)
        bad &= ~undeclared
    return dates, bad, undeclared


def convert_integers(
    s: pd.Series, decimal: str, value_range: tuple[int, int] | None
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Whole numbers (``"2012"``, ``"2012,0"`` with decimal comma); (Int64, invalid, out of range)."""

    def parse(u: pd.Series) -> pd.Series:
        t = u.astype("str").str.strip().str.replace("\u00a0", "", regex=False)
        t = t.str.replace(" ", "", regex=False)
        if decimal == ",":
            t = t.str.replace(",", ".", regex=False)
        num = pd.to_numeric(t, errors="coerce")
        return num.where(num.notna() & (num == np.floor(num)))

    uniq = pd.Series(s.dropna().unique(), dtype="object")
    if uniq.empty:
        none = pd.Series(False, index=s.index)
        return pd.Series(pd.NA, index=s.index, dtype="Int64"), none, none.copy()
    table = dict(zip(uniq, parse(uniq), strict=True))
    num = pd.to_numeric(s.map(table), errors="coerce")
    invalid = s.notna() & num.isna()
    out_of_range = pd.Series(False, index=s.index)
    if value_range is not None:
        out_of_range = num.notna() & ((num < value_range[0]) | (num > value_range[1]))
    return num.round().astype("Int64"), invalid, out_of_range
