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
import pyarrow as pa

from workbench.ingest.profile import DATE_FORMATS, CodeLookup, normalise_label, parse_bool_marker

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_COMPACT = re.compile(r"^\d{8}$")
_AMBIGUOUS = re.compile(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}$")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


#: :func:`factorize`'s result; every converter accepts it precomputed (``factorized=``), e.g.
#: from a second thread while the previous column is converted.
Factorized = tuple[np.ndarray, pd.Series]


def factorize(s: pd.Series) -> Factorized:
    """Integer codes per row (-1 = missing) and the distinct values, in order of appearance.

    Every converter works on the distinct values only and broadcasts back with ``take``: a
    million-row column usually has a few dozen distinct values.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype="object")


def broadcast(
    codes: np.ndarray, values: np.ndarray | list, *, index: pd.Index, dtype: str, na=None
) -> pd.Series:
    """Per-row values from per-distinct-value results (missing rows get ``na``).

    Text goes through an Arrow dictionary array (a C++ cast, about ten times faster than building
    a million Python strings); other dtypes through a numpy object table.
    """
    if dtype == "str" and na is None:
        vals = [None if v is None or v is pd.NA else str(v) for v in values]
        idx = np.where(codes < 0, 0, codes).astype(np.int32)
        mask = codes < 0
        if vals:
            dictionary = pa.array(vals, type=pa.large_string())
            # values that are themselves missing: mask their rows too
            missing_value = np.array([v is None for v in vals] + [True])
            mask = mask | missing_value[codes]
            arr = pa.DictionaryArray.from_arrays(pa.array(idx, mask=mask), dictionary)
            chunked = pa.chunked_array([arr.cast(pa.large_string())])
        else:
            chunked = pa.chunked_array([pa.nulls(len(codes), type=pa.large_string())])
        return pd.Series(pd.array(chunked, dtype="str"), index=index)
    table = np.empty(len(values) + 1, dtype=object)
    table[: len(values)] = values
    table[-1] = na
    return pd.Series(table[codes], index=index).astype(dtype)


def convert_codes(
    s: pd.Series, lookup: CodeLookup, *, factorized: Factorized | None = None
) -> tuple[pd.Series, pd.Series]:
    """Codes from spellings; returns (codes, mask of unknown non-missing values).

    The codes are a categorical over the variable's whole code list (one byte per row instead
    of a string): the canonical tables cast them to ``str`` when they are written.
    """
    codes, uniq = factorized if factorized is not None else factorize(s)
    position = {c: i for i, c in enumerate(lookup.codes)}
    mapped = [lookup.table.get(normalise_label(v)) for v in uniq]
    table = np.array([position[m] if m is not None else -1 for m in mapped] + [-1], dtype=np.int16)
    known = np.array([m is not None for m in mapped] + [True])
    cat = pd.Categorical.from_codes(table[codes], categories=list(lookup.codes))
    return pd.Series(cat, index=s.index), pd.Series(~known[codes], index=s.index)


def convert_multi_separated(
    s: pd.Series, lookup: CodeLookup, separator: str, *, factorized: Factorized | None = None
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """One column of joined codes → one boolean column per code.

    Returns (frame code → boolean, mask of rows with an unknown part, the first unknown part).
    An empty cell leaves the variable missing (all NA) for that row.
    """
    codes, uniq = factorized if factorized is not None else factorize(s)
    sets: list[frozenset[str]] = []
    bads: list[str | None] = []
    for v in uniq:
        found: set[str] = set()
        bad: str | None = None
        for p in (x.strip() for x in str(v).split(separator)):
            if not p:
                continue
            code = lookup.table.get(normalise_label(p))
            if code is None:
                bad = bad or p
            else:
                found.add(code)
        sets.append(frozenset(found))
        bads.append(bad)
    filled_u = np.array(
        [bool(f) or b is not None for f, b in zip(sets, bads, strict=True)] + [False]
    )
    filled = filled_u[codes]
    out = {}
    for code in lookup.codes:
        has = np.array([code in f for f in sets] + [False])[codes]
        arr = pd.array(has, dtype="boolean")
        arr[~filled] = pd.NA
        out[code] = pd.Series(arr, index=s.index)
    bad_part = broadcast(codes, bads, index=s.index, dtype="str")
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
    values: dict[str, np.ndarray] = {}  # per row: 1 marked, 0 not marked, -1 empty or bad
    bad: dict[str, pd.Series] = {}
    any_filled = np.zeros(len(index), dtype=bool)
    for code, s in cols.items():
        codes_, uniq = factorize(s)
        parsed = [parse_bool_marker(v) for v in uniq]
        state = np.array([-1 if p is None else int(p) for p in parsed] + [-1], dtype=np.int8)
        is_bad = np.array([p is None for p in parsed] + [False])
        row_state = state[codes_]
        values[code] = row_state
        bad[code] = pd.Series(is_bad[codes_], index=index)
        any_filled |= row_state >= 0
    out = {}
    for code in codes:
        marked = values[code] == 1 if code in values else np.zeros(len(index), dtype=bool)
        arr = pd.array(marked, dtype="boolean")
        arr[~any_filled] = pd.NA
        out[code] = pd.Series(arr, index=index)
    return pd.DataFrame(out, index=index), bad


def convert_dates(
    s: pd.Series, date_format: str, *, factorized: Factorized | None = None
) -> tuple[pd.Series, pd.Series, pd.Series]:
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

    codes, uniq = factorized if factorized is not None else factorize(s)
    if uniq.empty:
        empty = pd.Series(False, index=s.index)
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]"), empty, empty.copy()
    parsed = parse(uniq).to_numpy(dtype="datetime64[ns]")
    table = np.append(parsed, np.datetime64("NaT", "ns"))
    dates = pd.Series(table[codes], index=s.index, dtype="datetime64[ns]")
    bad_u = np.append(np.isnat(parsed), False)
    undeclared_u = np.zeros(len(bad_u), dtype=bool)
    if date_format == "auto":
        amb = np.array([bool(_AMBIGUOUS.match(str(v).strip())) for v in uniq] + [False])
        undeclared_u = bad_u & amb
        bad_u = bad_u & ~amb
    return (
        dates,
        pd.Series(bad_u[codes], index=s.index),
        pd.Series(undeclared_u[codes], index=s.index),
    )


def convert_integers(
    s: pd.Series,
    decimal: str,
    value_range: tuple[int, int] | None,
    *,
    factorized: Factorized | None = None,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Whole numbers (``"2012"``, ``"2012,0"`` with decimal comma); (Int64, invalid, out of range)."""

    def parse(u: pd.Series) -> pd.Series:
        t = u.astype("str").str.strip().str.replace("\u00a0", "", regex=False)
        t = t.str.replace(" ", "", regex=False)
        if decimal == ",":
            t = t.str.replace(",", ".", regex=False)
        num = pd.to_numeric(t, errors="coerce")
        return num.where(num.notna() & (num == np.floor(num)))

    codes, uniq = factorized if factorized is not None else factorize(s)
    if uniq.empty:
        none = pd.Series(False, index=s.index)
        return pd.Series(pd.NA, index=s.index, dtype="Int64"), none, none.copy()
    parsed = parse(uniq).to_numpy(dtype="float64")
    table = np.append(parsed, np.nan)
    num = pd.Series(table[codes], index=s.index)
    invalid = pd.Series(np.append(np.isnan(parsed), False)[codes], index=s.index)
    out_of_range = pd.Series(False, index=s.index)
    if value_range is not None:
        out_of_range = num.notna() & ((num < value_range[0]) | (num > value_range[1]))
    return num.round().astype("Int64"), invalid, out_of_range
