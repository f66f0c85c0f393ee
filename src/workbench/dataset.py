"""The canonical dataset: table layouts, schemas generated from the catalogue, parquet I/O.

Tables (see ``README.md`` "Data model"): ``children``, ``interventions``, ``registrations``,
``vignette_ratings`` and ``survey``, and the optional tables of placement providers and the
children's survey (``providers``, ``placements``, ``provider_ratings``, ``child_survey``): a
dataset without them is valid, and :func:`read_table` returns them empty. Identifiers are
pseudonymous only. Single-code variables are string columns holding catalogue codes (missing = not filled in);
multi-select variables are one nullable boolean column per code named ``<variable>__<code>`` (all
missing = not filled in).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from workbench import __version__, paths
from workbench.catalogue import CORE_TABLES, Catalogue, load_catalogue
from workbench.catalogue import OPTIONAL_TABLES as _OPTIONAL_TABLES
from workbench.municipalities import list_municipalities

log = logging.getLogger(__name__)

#: Identifier and bookkeeping columns per table (not catalogue variables).
KEY_COLUMNS: dict[str, dict[str, str]] = {
    "children": {"barn_id": "str", "kommun": "str"},
    "interventions": {"insats_id": "str", "barn_id": "str", "kommun": "str"},
    "registrations": {
        "registrering_id": "str",
        "insats_id": "str",
        "barn_id": "str",
        "kommun": "str",
        "ar": "Int64",
    },
    "vignette_ratings": {
        "vinjett_id": "str",
        "bedomare_id": "str",
        "kommun": "str",
        "variabel": "str",
        "varde": "str",
    },
    "survey": {
        "kommun": "str",
        "ar": "Int64",
        "fraga": "str",
        "besvarad": "bool",
        "svar": "boolean",
    },
    # optional tables (issue 10)
    "providers": {"utforare_id": "str", "utforare_namn": "str", "lan": "str"},
    "placements": {
        "placering_id": "str",
        "barn_id": "str",
        "insats_id": "str",
        "kommun": "str",
        "utforare_id": "str",
        "ar": "Int64",
    },
    "provider_ratings": {
        "bedomning_id": "str",
        "placering_id": "str",
        "utforare_id": "str",
        "kommun": "str",
        "ar": "Int64",
    },
    "child_survey": {"enkat_id": "str", "kommun": "str", "ar": "Int64", "besvarad": "bool"},
}
#: Columns that identify a row of each table.
UNIQUE_KEYS: dict[str, list[str]] = {
    "children": ["barn_id"],
    "interventions": ["insats_id"],
    "registrations": ["registrering_id"],
    "vignette_ratings": ["vinjett_id", "bedomare_id", "variabel"],
    "survey": ["kommun", "ar", "fraga"],
    "providers": ["utforare_id"],
    "placements": ["placering_id"],
    "provider_ratings": ["bedomning_id"],
    "child_survey": ["enkat_id"],
}
#: Tables a dataset may lack: :func:`write_dataset` writes them when given, :func:`read_table`
#: returns them empty (with their columns and dtypes) when the manifest does not list them.
OPTIONAL_TABLES: frozenset[str] = frozenset(_OPTIONAL_TABLES)
#: Key columns with their own format instead of the pseudonymous-id pattern (providers are
#: organisations with public names: ``P`` + 5 digits; counties: 2 digits).
KEY_PATTERNS: dict[str, str] = {"utforare_id": r"^P[0-9]{5}$", "lan": r"^[0-9]{2}$"}
#: Key columns that may be missing, per table (a placement's intervention is not always known).
NULLABLE_KEYS: dict[str, tuple[str, ...]] = {"placements": ("insats_id",)}
#: Pseudonymous identifiers: a prefix letter and 16 hex digits (never a personnummer).
ID_PATTERN = r"^[A-Z][0-9a-f]{16}$"
TABLE_FILES = {name: f"{name}.parquet" for name in KEY_COLUMNS}


class DatasetError(RuntimeError):
    """The canonical dataset is missing or invalid; the message names the fix."""


def _dtype_for(var_type: str) -> str:
    return {
        "code": "str",
        "integer": "Int64",
        "date": "datetime64[ns]",
        "boolean": "boolean",
        "multi": "boolean",
    }[var_type]


def table_columns(table: str, cat: Catalogue | None = None) -> dict[str, str]:
    """Ordered column → dtype mapping of one canonical table."""
    cat = cat or load_catalogue()
    cols = dict(KEY_COLUMNS[table])
    for var in cat.of_table(table):
        for col in var.columns:
            cols[col] = _dtype_for(var.type)
    return cols


def schema(table: str, cat: Catalogue | None = None) -> pa.DataFrameSchema:
    """A pandera schema for one canonical table, generated from the catalogue."""
    cat = cat or load_catalogue()
    kommuner = list(list_municipalities()["municipality_code"])
    columns: dict[str, pa.Column] = {}
    for col, dtype in KEY_COLUMNS[table].items():
        checks = []
        if col in KEY_PATTERNS:
            checks.append(pa.Check.str_matches(KEY_PATTERNS[col]))
        elif col == "kommun":
            checks.append(pa.Check.isin(kommuner))
        elif col.endswith("_id"):
            checks.append(pa.Check.str_matches(ID_PATTERN))
        elif col == "fraga":
            checks.append(pa.Check.isin(list(cat.survey_questions)))
        elif col == "variabel":
            checks.append(pa.Check.isin(list(cat.variables)))
        nullable = col in ("varde", "svar") or col in NULLABLE_KEYS.get(table, ())
        columns[col] = pa.Column(dtype, checks=checks, nullable=nullable)
    for var in cat.of_table(table):
        for col in var.columns:
            checks = []
            if var.type == "code":
                allowed = (
                    list(dict.fromkeys(cat.groups(var.groups_of).values()))
                    if var.groups_of
                    else list(var.codelist.code_values)  # type: ignore[union-attr]
                )
                checks.append(pa.Check.isin(allowed))
            elif var.type == "integer" and var.range:
                checks.append(pa.Check.in_range(*var.range))
            columns[col] = pa.Column(_dtype_for(var.type), checks=checks, nullable=True)
    return pa.DataFrameSchema(
        columns,
        strict=True,
        ordered=False,
        unique=UNIQUE_KEYS[table],
        name=table,
        coerce=False,
    )


def conform(table: str, df: pd.DataFrame, cat: Catalogue | None = None) -> pd.DataFrame:
    """Order columns as the schema says and cast to canonical dtypes (missing columns → error)."""
    cols = table_columns(table, cat)
    missing = [c for c in cols if c not in df.columns]
    extra = [c for c in df.columns if c not in cols]
    if missing or extra:
        raise DatasetError(
            f"table {table!r}: missing columns {missing}, unexpected columns {extra}. "
            "See workbench.dataset.table_columns()."
        )
    return df[list(cols)].astype(cols)


def validate(table: str, df: pd.DataFrame, cat: Catalogue | None = None) -> pd.DataFrame:
    """Validate one table against its generated schema (lazy: all problems reported at once).

    First one vectorised pass over exactly the schema's rules (columns, dtypes, non-null
    columns, its ``isin``/``str_matches``/``in_range`` checks, unique keys), mostly in Arrow and
    numpy: a table that passes is returned as it is, without pandera's per-check machinery
    (which holds the GIL and slows the tables written beside it). Any failure, or a rule the
    pass does not know, goes to pandera, which reports every problem as before.
    """
    import operator

    from pandera.engines.pandas_engine import Engine

    sch = schema(table, cat)

    def passes() -> bool:
        if sch.checks or set(df.columns) != set(sch.columns) or df.columns.duplicated().any():
            return False
        for name, col in sch.columns.items():
            s = df[name]
            if col.unique or col.regex or col.dtype is None:
                return False
            if col.dtype.check(Engine.dtype(s.dtype)) is not True:
                return False
            if not col.nullable and s.hasnans:
                return False
            for check in col.checks:  # pandera's checks ignore missing values
                stats = check.statistics
                if check.name == "isin":  # on the distinct values: a few dozen codes
                    distinct = pd.Series(pd.unique(s), dtype=s.dtype).dropna()
                    ok = distinct.isin(stats["allowed_values"])
                elif check.name == "str_matches":
                    values = s.dropna() if s.hasnans else s
                    ok = values.str.match(stats["pattern"], na=False)
                elif check.name == "in_range":  # missing compares as missing: skipped by all()
                    values = s
                    low = operator.le if stats["include_min"] else operator.lt
                    high = operator.ge if stats["include_max"] else operator.gt
                    ok = low(stats["min_value"], values) & high(stats["max_value"], values)
                else:
                    return False
                if not ok.all():
                    return False
        return not (sch.unique and df.duplicated(subset=list(sch.unique)).any())

    if passes():
        return df
    try:
        return sch.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        # failure_cases may hold raw values: report column, check and count only.
        fc = exc.failure_cases
        summary = (
            fc.groupby(["column", "check"], dropna=False).size().reset_index(name="n").to_string()
        )
        raise DatasetError(f"table {table!r} fails its schema:\n{summary}") from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write a parquet table atomically, owner-only (row-level data live in the private zone)."""
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False, compression="zstd")
    _atomic_write_bytes(path, buf.getvalue())


def write_json(obj: Any, path: Path) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"
    _atomic_write_bytes(path, text.encode("utf-8"))
    os.chmod(path, 0o644)


@dataclass(frozen=True)
class Manifest:
    """What a dataset is: its tables' hashes and row counts, catalogue and package versions."""

    data_dir: Path
    content: Mapping[str, Any]

    @property
    def data_hash(self) -> str:
        joined = "".join(t["sha256"] for _, t in sorted(self.content["tables"].items()))
        return hashlib.sha256(joined.encode()).hexdigest()

    @property
    def data_date(self) -> str:
        return str(self.content.get("data_date", ""))


def write_dataset(
    tables: Mapping[str, pd.DataFrame],
    out_dir: Path,
    *,
    source: str,
    extra: Mapping[str, Any] | None = None,
    cat: Catalogue | None = None,
) -> Manifest:
    """Conform, validate and write every canonical table plus ``manifest.json``.

    The manifest records each file's SHA-256 and row count, the catalogue version, the package
    version and ``source`` (e.g. ``"synth seed=20261123"``); later reports cite it. The core tables
    are required; the optional ones (:data:`OPTIONAL_TABLES`) are written when given.
    """
    cat = cat or load_catalogue()
    out_dir.mkdir(parents=True, exist_ok=True)
    missing = [name for name in CORE_TABLES if name not in tables]
    if missing:
        raise DatasetError(f"write_dataset: table {missing[0]!r} is missing")
    unknown = sorted(set(tables) - set(KEY_COLUMNS))
    if unknown:
        raise DatasetError(
            f"write_dataset: unknown table {unknown[0]!r}; tables: {', '.join(KEY_COLUMNS)}"
        )
    names = [name for name in KEY_COLUMNS if name in tables]

    def one(name: str) -> tuple[str, dict[str, Any]]:
        df = validate(name, conform(name, tables[name], cat), cat)
        path = out_dir / TABLE_FILES[name]
        write_table(df, path)
        return name, {"file": path.name, "rows": int(len(df)), "sha256": _sha256(path)}

    # tables are independent: validate and write them side by side (parquet and hashing release
    # the GIL); the files are the same whatever the order
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        info: dict[str, Any] = dict(pool.map(one, names))
    content = {
        "source": source,
        "catalogue_version": cat.version,
        "package_version": __version__,
        "tables": info,
        **dict(extra or {}),
    }
    write_json(content, out_dir / "manifest.json")
    return Manifest(out_dir, content)


def extract_date(content: Mapping[str, Any], *, fallback: str) -> str:
    """The dataset's extract date (``data_date``) as ``YYYY-MM-DD``, or ``fallback``.

    Manifests are written by us, but a hand-edited or foreign one may carry anything there:
    only a real ISO date is used as the "as of" date of durations and 12-month windows.
    """
    import datetime as dt

    value = str(content.get("data_date") or "")[:10]
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        return fallback


def read_manifest(data_dir: str | os.PathLike[str]) -> Manifest:
    d = paths.resolve(data_dir)
    path = d / "manifest.json"
    if not d.is_dir():
        raise DatasetError(
            f"Data directory {d} does not exist. Generate the demo data with `make demo` "
            "(or `workbench synth`), or point data_dir at an ingested dataset."
        )
    if not path.is_file():
        raise DatasetError(
            f"Data directory {d} has no manifest.json, so it is not a canonical dataset. "
            "Create one with `workbench synth` (demo) or `workbench ingest`."
        )
    return Manifest(d, json.loads(path.read_text(encoding="utf-8")))


def read_table(
    data_dir: str | os.PathLike[str],
    table: str,
    *,
    columns: Iterable[str] | None = None,
    kommuner: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read one canonical table, optionally only some columns and municipalities (parquet filters).

    An optional table (:data:`OPTIONAL_TABLES`) that the manifest does not list is returned empty,
    with the table's columns and dtypes.
    """
    manifest = read_manifest(data_dir)
    if kommuner is not None and "kommun" not in KEY_COLUMNS[table]:
        raise DatasetError(f"table {table!r} has no kommun column; read it without kommuner=")
    if table in OPTIONAL_TABLES and table not in manifest.content.get("tables", {}):
        return empty_table(table, columns=columns)
    path = manifest.data_dir / TABLE_FILES[table]
    if not path.is_file():
        raise DatasetError(f"{path} is missing; the dataset in {manifest.data_dir} is incomplete.")
    filters = [("kommun", "in", list(kommuner))] if kommuner is not None else None
    cols = list(columns) if columns is not None else None
    return pd.read_parquet(path, columns=cols, filters=filters)


def load_registrations(
    data_dir: str | os.PathLike[str],
    *,
    kommuner: Iterable[str] | None = None,
    years: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Registrations joined with their intervention and child: one row per registration.

    This is the analysis frame of the follow-up reports (the Webbkollen unit of observation).
    """
    reg = read_table(data_dir, "registrations", kommuner=kommuner)
    if years is not None:
        reg = reg[(reg["ar"] >= years[0]) & (reg["ar"] <= years[1])]
    ins = read_table(data_dir, "interventions", kommuner=kommuner).drop(columns=["kommun"])
    chi = read_table(data_dir, "children", kommuner=kommuner).drop(columns=["kommun"])
    out = reg.merge(ins.drop(columns=["barn_id"]), on="insats_id", how="left", validate="m:1")
    out = out.merge(chi, on="barn_id", how="left", validate="m:1")
    return out.reset_index(drop=True)


def empty_table(
    table: str, *, columns: Iterable[str] | None = None, cat: Catalogue | None = None
) -> pd.DataFrame:
    """A table with no rows and exactly the canonical columns and dtypes of ``table``."""
    cols = table_columns(table, cat)
    wanted = list(columns) if columns is not None else list(cols)
    return pd.DataFrame({c: pd.Series(dtype=cols[c]) for c in wanted})


def has_table(data_dir: str | os.PathLike[str], table: str) -> bool:
    """Whether the dataset's manifest lists ``table`` (optional tables may be absent)."""
    return table in read_manifest(data_dir).content.get("tables", {})


def load_placements(
    data_dir: str | os.PathLike[str],
    *,
    kommuner: Iterable[str] | None = None,
    years: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Placements joined with their provider: one row per placement.

    ``kommuner`` selects the placing municipalities and ``years`` the start years (``ar``). The
    provider's columns are ``utforare_namn``, ``utforartyp``, ``regi`` and ``utforare_lan`` (the
    provider's county, not the placing municipality's). Empty when the dataset has no placements.
    """
    pl = read_table(data_dir, "placements", kommuner=kommuner)
    if years is not None:
        pl = pl[(pl["ar"] >= years[0]) & (pl["ar"] <= years[1])]
    prov = read_table(data_dir, "providers").rename(columns={"lan": "utforare_lan"})
    out = pl.merge(prov, on="utforare_id", how="left", validate="m:1")
    return out.reset_index(drop=True)


def load_provider_ratings(
    data_dir: str | os.PathLike[str],
    *,
    kommuner: Iterable[str] | None = None,
    years: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Ratings joined with their provider and placement: one row per rating.

    ``years`` selects the rating years (``ar``). Added columns: the provider's ``utforare_namn``,
    ``utforartyp``, ``regi``, ``utforare_lan`` and the placement's ``startdatum``, ``slutdatum``,
    ``placering_avslut`` and ``maluppfyllelse``.
    """
    r = read_table(data_dir, "provider_ratings", kommuner=kommuner)
    if years is not None:
        r = r[(r["ar"] >= years[0]) & (r["ar"] <= years[1])]
    prov = read_table(data_dir, "providers").rename(columns={"lan": "utforare_lan"})
    pl = read_table(
        data_dir,
        "placements",
        columns=["placering_id", "startdatum", "slutdatum", "placering_avslut", "maluppfyllelse"],
    )
    out = r.merge(prov, on="utforare_id", how="left", validate="m:1")
    out = out.merge(pl, on="placering_id", how="left", validate="m:1")
    return out.reset_index(drop=True)
