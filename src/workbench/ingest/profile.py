"""Export profiles: how one case system's (or survey tool's) export maps onto the catalogue.

A profile is a YAML file in ``data/reference/profiles/`` (users may add their own, or pass a path).
It says which file columns hold which canonical variable (several spellings each), how values map
onto catalogue codes beyond the catalogue's own labels and variants, how multi-select variables are
laid out, which columns hold identifiers, and the file's format where it cannot be detected safely
(date format, decimal separator, and optionally encoding and delimiter).

Values are matched case- and whitespace-insensitively (see :func:`normalise_label`).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench import paths
from workbench.catalogue import Catalogue, Variable, load_catalogue


class ProfileError(ValueError):
    """A profile is malformed or does not fit the file; the message names the entry and the fix."""


#: Date formats a profile may declare, as users write them → strptime pattern.
DATE_FORMATS: dict[str, str | None] = {
    "auto": None,  # ISO 8601 (YYYY-MM-DD) or YYYYMMDD: unambiguous, detected per value
    "YYYY-MM-DD": "%Y-%m-%d",
    "YYYYMMDD": "%Y%m%d",
    "D/M/YYYY": "%d/%m/%Y",
    "M/D/YYYY": "%m/%d/%Y",
    "D.M.YYYY": "%d.%m.%Y",
    "YYYY/MM/DD": "%Y/%m/%d",
    "excel_serial": None,  # days since 1899-12-30 (Excel's 1900 date system)
}
ENCODINGS = ("auto", "utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1")
DELIMITERS = ("auto", ";", ",", "\t")
#: Identifier roles a profile can map. Only ``personnummer`` is required.
IDENTIFIER_ROLES = ("personnummer", "insats", "registrering")
_TOP_KEYS = {
    "name",
    "title_sv",
    "title_en",
    "system",
    "status",
    "description",
    "file",
    "kommun",
    "identifiers",
    "columns",
    "multi",
    "values",
    "ignore",
    "table",  # an export of an optional table (workbench.ingest.tables), not a case export
}
_FILE_KEYS = {"encoding", "delimiter", "decimal", "date_format", "sheet", "header_row"}
_TRUE = ("1", "ja", "j", "x", "sant", "true", "yes", "y")
_FALSE = ("0", "nej", "n", "falskt", "false", "no")


def normalise_label(value: str) -> str:
    """The form used to compare spellings: casefolded, whitespace collapsed, dashes unified.

    ``"Flicka "``, ``"FLICKA"`` and ``" flicka"`` all give ``"flicka"``; ``"LVU 2 §"`` gives
    ``"lvu 2 §"``. A trailing full stop is dropped. Nothing else is changed (å ä ö are kept).
    """
    s = " ".join(str(value).casefold().split())
    s = s.replace("\u2013", "-").replace("\u2014", "-").replace("\u00a0", " ")
    return s.rstrip(".").strip()


@dataclass(frozen=True)
class MultiSpec:
    """How a multi-select variable is laid out in the file."""

    variable: str
    column: tuple[str, ...] = ()  # one column holding codes joined by `separator`
    separator: str = ","
    option_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # code → spellings


@dataclass(frozen=True)
class Profile:
    """A parsed, catalogue-checked export profile."""

    name: str
    path: Path
    sha256: str
    title_sv: str
    title_en: str
    system: str
    status: str
    encoding: str
    delimiter: str
    decimal: str
    date_format: str
    sheet: str | int | None
    header_row: int | None
    kommun_column: tuple[str, ...]
    identifiers: Mapping[str, tuple[str, ...]]
    columns: Mapping[str, tuple[str, ...]]  # single-column variables → spellings
    multi: Mapping[str, MultiSpec]
    values: Mapping[str, Mapping[str, str]]  # variable → normalised spelling → code
    ignore: tuple[str, ...]
    #: None for a case export; else the optional table the export feeds (``placements``:
    #: providers, placements and ratings; ``child_survey``), see :mod:`workbench.ingest.tables`.
    table: str | None = None

    # -- what the reader needs --------------------------------------------------------------
    def all_spellings(self) -> list[str]:
        """Every column spelling the profile knows (for header and delimiter detection)."""
        out: list[str] = [*self.kommun_column, *self.ignore]
        for spellings in (*self.identifiers.values(), *self.columns.values()):
            out.extend(spellings)
        for m in self.multi.values():
            out.extend(m.column)
            for spellings in m.option_columns.values():
                out.extend(spellings)
        return out

    def date_variables(self, cat: Catalogue) -> list[str]:
        return [v for v in self.columns if cat.variable(v).type == "date"]


# -- value lookup ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeLookup:
    """Normalised spelling → code for one variable (catalogue codes, labels, variants, profile)."""

    variable: str
    table: Mapping[str, str]
    codes: tuple[str, ...]

    def closest(self, value: str, n: int = 3) -> list[str]:
        """The catalogue codes whose spellings are closest to ``value`` (for error messages)."""
        hits = difflib.get_close_matches(
            normalise_label(value), list(self.table), n=n * 3, cutoff=0.5
        )
        return list(dict.fromkeys(self.table[h] for h in hits))[:n]


def code_lookup(cat: Catalogue, variable: str, profile: Profile | None = None) -> CodeLookup:
    """Build the value lookup of one coded (single or multi) variable."""
    var = cat.variable(variable)
    if var.codelist is None:
        raise ProfileError(f"{variable!r} has no code list")
    table: dict[str, str] = {}

    def add(spelling: str, code: str, where: str) -> None:
        key = normalise_label(spelling)
        if not key:
            return
        if key in table and table[key] != code:
            raise ProfileError(
                f"{where}: the spelling {spelling!r} of {variable!r} maps to both "
                f"{table[key]!r} and {code!r}. Remove one of them."
            )
        table[key] = code

    for c in var.codelist.codes:
        add(c.code, c.code, "catalogue")
        add(c.code.replace("_", " "), c.code, "catalogue")
        add(c.sv, c.code, "catalogue")
        add(c.en, c.code, "catalogue")
    for c in var.codelist.codes:  # variants last: a clash with a label is a catalogue error
        for v in c.variants:
            add(v, c.code, "catalogue variants")
    if profile is not None:
        for spelling, code in profile.values.get(variable, {}).items():
            table[spelling] = code  # profile entries win: they were checked against the codes
    return CodeLookup(variable, table, var.codelist.code_values)


def parse_bool_marker(value: str) -> bool | None:
    """A cell of a one-column-per-option layout: True, False, or None when not understood."""
    key = normalise_label(value)
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return None


# -- loading --------------------------------------------------------------------------------------


def profiles_dir() -> Path:
    return paths.reference_dir() / "profiles"


def list_profiles() -> list[str]:
    """Names of the profiles in ``data/reference/profiles/``."""
    d = profiles_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def _spellings(raw: Any, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, Sequence) or not raw or not all(isinstance(s, str) for s in raw):
        raise ProfileError(
            f"{where}: expected a column name or a list of column names (text in quotes), "
            f"got {raw!r}."
        )
    return tuple(s.strip() for s in raw)


def parse_profile(raw: Mapping[str, Any], *, path: Path, cat: Catalogue | None = None) -> Profile:
    """Check a profile's structure and every variable and code against the catalogue."""
    cat = cat or load_catalogue()
    where = str(path)
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}: a profile is a YAML mapping (name:, columns:, …).")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ProfileError(
            f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}."
        )
    if raw.get("table") is not None:
        from workbench.ingest.tables import parse_table_profile

        return parse_table_profile(raw, path=path, cat=cat)
    name = str(raw.get("name") or path.stem)
    f = raw.get("file") or {}
    bad = set(f) - _FILE_KEYS
    if bad:
        raise ProfileError(
            f"{where}: unknown file: keys {sorted(bad)}; allowed {sorted(_FILE_KEYS)}."
        )
    encoding = str(f.get("encoding", "auto"))
    if encoding not in ENCODINGS:
        raise ProfileError(f"{where}: file.encoding {encoding!r} not one of {ENCODINGS}.")
    delimiter = f.get("delimiter", "auto")
    delimiter = {"tab": "\t", "\\t": "\t", "semikolon": ";", "komma": ","}.get(
        delimiter, delimiter
    )
    if delimiter not in DELIMITERS:
        raise ProfileError(
            f"{where}: file.delimiter {delimiter!r} not one of ';' ',' 'tab' 'auto'."
        )
    decimal = str(f.get("decimal", ","))
    if decimal not in (",", "."):
        raise ProfileError(f"{where}: file.decimal must be ',' or '.', got {decimal!r}.")
    date_format = str(f.get("date_format", "auto"))
    if date_format not in DATE_FORMATS:
        raise ProfileError(
            f"{where}: file.date_format {date_format!r} not one of {list(DATE_FORMATS)}. "
            "Day/month order cannot be guessed safely, so it must be declared."
        )
    header_row = f.get("header_row")
    if header_row is not None and (not isinstance(header_row, int) or header_row < 1):
        raise ProfileError(f"{where}: file.header_row is a row number from 1, got {header_row!r}.")

    kommun_column = (
        _spellings(raw["kommun"]["column"], f"{where}: kommun.column") if raw.get("kommun") else ()
    )

    ids_raw = raw.get("identifiers") or {}
    bad = set(ids_raw) - set(IDENTIFIER_ROLES)
    if bad:
        raise ProfileError(
            f"{where}: identifiers: unknown roles {sorted(bad)}; use {IDENTIFIER_ROLES}."
        )
    if "personnummer" not in ids_raw:
        raise ProfileError(
            f"{where}: identifiers.personnummer is required (the child's personnummer column; it "
            "is pseudonymised and never kept)."
        )
    identifiers = {k: _spellings(v, f"{where}: identifiers.{k}") for k, v in ids_raw.items()}

    columns: dict[str, tuple[str, ...]] = {}
    for var_name, spell in (raw.get("columns") or {}).items():
        var = _recorded_variable(cat, var_name, f"{where}: columns")
        if var.type == "multi":
            raise ProfileError(
                f"{where}: columns.{var_name} is a multi-select variable: describe it under multi: "
                "with column + separator, or columns: one per option."
            )
        columns[var_name] = _spellings(spell, f"{where}: columns.{var_name}")

    multi: dict[str, MultiSpec] = {}
    for var_name, spec in (raw.get("multi") or {}).items():
        var = _recorded_variable(cat, var_name, f"{where}: multi")
        if var.type != "multi":
            raise ProfileError(f"{where}: multi.{var_name} is not a multi-select variable.")
        if not isinstance(spec, Mapping) or ("column" in spec) == ("columns" in spec):
            raise ProfileError(
                f"{where}: multi.{var_name} needs either column: (with separator:) or columns: "
                "(a mapping code → column name), not both."
            )
        if "column" in spec:
            multi[var_name] = MultiSpec(
                var_name,
                column=_spellings(spec["column"], f"{where}: multi.{var_name}.column"),
                separator=str(spec.get("separator", ",")),
            )
        else:
            opts: dict[str, tuple[str, ...]] = {}
            for code, spell in spec["columns"].items():
                if code not in var.codelist.code_values:  # type: ignore[union-attr]
                    raise ProfileError(
                        f"{where}: multi.{var_name}.columns: {code!r} is not a code of "
                        f"{var_name}; codes: {list(var.codelist.code_values)}."  # type: ignore[union-attr]
                    )
                opts[code] = _spellings(spell, f"{where}: multi.{var_name}.columns.{code}")
            multi[var_name] = MultiSpec(var_name, option_columns=opts)

    values: dict[str, dict[str, str]] = {}
    for var_name, mapping in (raw.get("values") or {}).items():
        var = _recorded_variable(cat, var_name, f"{where}: values")
        if var.codelist is None:
            raise ProfileError(f"{where}: values.{var_name}: the variable has no code list.")
        if not isinstance(mapping, Mapping):
            raise ProfileError(f"{where}: values.{var_name} must map spellings to codes.")
        out: dict[str, str] = {}
        for spelling, code in mapping.items():
            code = str(code)
            if code not in var.codelist.code_values:
                close = difflib.get_close_matches(code, var.codelist.code_values, n=3)
                raise ProfileError(
                    f"{where}: values.{var_name}: {spelling!r} maps to {code!r}, which is not a "
                    f"code of {var_name}. Did you mean {close or list(var.codelist.code_values)}?"
                )
            out[normalise_label(str(spelling))] = code
        values[var_name] = out

    ignore = tuple(str(s).strip() for s in (raw.get("ignore") or []))
    prof = Profile(
        name=name,
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "",
        title_sv=str(raw.get("title_sv", name)),
        title_en=str(raw.get("title_en", name)),
        system=str(raw.get("system", "")),
        status=str(raw.get("status", "")),
        encoding=encoding,
        delimiter=delimiter,
        decimal=decimal,
        date_format=date_format,
        sheet=f.get("sheet"),
        header_row=header_row,
        kommun_column=kommun_column,
        identifiers=identifiers,
        columns=columns,
        multi=multi,
        values=values,
        ignore=ignore,
    )
    _check_unique_spellings(prof)
    for var_name in [*prof.columns, *prof.multi]:
        if cat.variable(var_name).codelist is not None:
            code_lookup(cat, var_name, prof)  # raises on clashing spellings
    return prof


def _recorded_variable(cat: Catalogue, name: str, where: str) -> Variable:
    if name not in cat.variables:
        close = difflib.get_close_matches(name, list(cat.variables), n=3)
        raise ProfileError(
            f"{where}: {name!r} is not a catalogue variable. Did you mean {close}? "
            "List them with `workbench variables`."
        )
    var = cat.variable(name)
    if var.derived:
        raise ProfileError(
            f"{where}: {name!r} is derived by workbench (from dates and other variables) and is "
            "not read from exports. Remove it from the profile."
        )
    if var.table not in ("children", "interventions", "registrations"):
        raise ProfileError(f"{where}: {name!r} belongs to table {var.table!r}, not a case export.")
    return var


def _check_unique_spellings(prof: Profile) -> None:
    seen: dict[str, str] = {}
    entries: list[tuple[str, str]] = [("kommun", s) for s in prof.kommun_column]
    entries += [(f"identifiers.{k}", s) for k, v in prof.identifiers.items() for s in v]
    entries += [(f"columns.{k}", s) for k, v in prof.columns.items() for s in v]
    for k, m in prof.multi.items():
        entries += [(f"multi.{k}", s) for s in m.column]
        entries += [(f"multi.{k}.{c}", s) for c, v in m.option_columns.items() for s in v]
    entries += [("ignore", s) for s in prof.ignore]
    for role, spelling in entries:
        key = normalise_label(spelling)
        if key in seen and seen[key] != role:
            raise ProfileError(
                f"{prof.path}: the column name {spelling!r} is used for both {seen[key]} and "
                f"{role}. Each file column may map to one thing only."
            )
        seen[key] = role


def load_profile(name_or_path: str | Path, *, cat: Catalogue | None = None) -> Profile:
    """Load a profile by name (``data/reference/profiles/<name>.yaml``) or by path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        path = p
    else:
        path = profiles_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ProfileError(
                f"No profile {str(name_or_path)!r}. Profiles: {list_profiles()} (in "
                f"{profiles_dir()}), or pass the path of a .yaml file. Create one with "
                "`workbench profile suggest FILE`."
            )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    return parse_profile(raw or {}, path=path, cat=cat)


# -- matching a file's header ---------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderMatch:
    """Which file column holds what, for one profile and one file header."""

    kommun: str | None
    identifiers: Mapping[str, str]  # role → file column
    columns: Mapping[str, str]  # variable → file column
    multi_column: Mapping[str, str]  # variable → file column (separator layout)
    multi_options: Mapping[str, Mapping[str, str]]  # variable → code → file column
    ignored: tuple[str, ...]  # file columns the profile says to skip
    unmapped: tuple[str, ...]  # file columns the profile does not know (not read)
    missing: tuple[str, ...]  # profile entries with no column in the file

    @property
    def n_matched(self) -> int:
        return (
            len(self.identifiers)
            + len(self.columns)
            + len(self.multi_column)
            + sum(len(v) for v in self.multi_options.values())
            + (self.kommun is not None)
        )


def match_header(prof: Profile, header: Sequence[str]) -> HeaderMatch:
    """Map the file's header onto the profile (spellings compared with :func:`normalise_label`)."""
    by_norm: dict[str, str] = {}
    for h in header:
        by_norm.setdefault(normalise_label(h), h)
    used: set[str] = set()
    missing: list[str] = []

    def find(spellings: Sequence[str], label: str) -> str | None:
        for s in spellings:
            col = by_norm.get(normalise_label(s))
            if col is not None:
                used.add(col)
                return col
        missing.append(label)
        return None

    kommun = find(prof.kommun_column, "kommun") if prof.kommun_column else None
    identifiers = {r: c for r, s in prof.identifiers.items() if (c := find(s, r)) is not None}
    columns = {v: c for v, s in prof.columns.items() if (c := find(s, v)) is not None}
    multi_column: dict[str, str] = {}
    multi_options: dict[str, dict[str, str]] = {}
    for v, m in prof.multi.items():
        if m.column:
            if (c := find(m.column, v)) is not None:
                multi_column[v] = c
        else:
            opts = {
                code: c for code, s in m.option_columns.items() if (c := find(s, f"{v}.{code}"))
            }
            if opts:
                multi_options[v] = opts
    ignored = tuple(c for s in prof.ignore if (c := by_norm.get(normalise_label(s))) is not None)
    used.update(ignored)
    unmapped = tuple(h for h in header if h not in used)
    return HeaderMatch(
        kommun,
        identifiers,
        columns,
        multi_column,
        multi_options,
        ignored,
        unmapped,
        tuple(missing),
    )
