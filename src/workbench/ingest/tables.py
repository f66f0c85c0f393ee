"""Ingest exports of the optional tables: provider follow-up and the children's survey (issue 10).

A profile with ``table: placements`` describes a county's provider follow-up export (one row per
social worker's rating, with the placement's and the provider's columns; a placement not rated
yet may have a row with empty rating columns). It feeds three tables: ``providers``,
``placements`` and ``provider_ratings``. A profile with ``table: child_survey`` describes a
survey tool's export (one row per invited child) and feeds ``child_survey``.

The same guarantees as the case ingest (:mod:`workbench.ingest.core`), built from its public
parts (:func:`~workbench.ingest.read.read_export`, :func:`~workbench.ingest.profile.match_header`,
the converters of :mod:`~workbench.ingest.values`, :func:`~workbench.ingest.problems.problems`,
:func:`~workbench.pseudonym.parse_personnummer` and :func:`~workbench.pseudonym.pseudonymise`,
:func:`~workbench.ingest.report.write_ingest_outputs`):

- columns the profile does not map, and those under ``ignore:`` (free text), are never read;
- personnummer become keyed pseudonyms (``barn_id``, the same as the case ingest's, so a
  placement links to the child's interventions) and are never stored; the export's own ids of
  placements, ratings, interventions and survey answers become pseudonyms too;
- every problem names file, row, column, rule and fix with masked values; rows with an error go
  to ``quarantine.csv``; per file rows read = accepted + quarantined + duplicates + structural;
- the tables are written into an existing canonical dataset (``into``: copied, written and
  swapped in atomically, replacing the tables this profile feeds, the manifest updated with the
  inputs' SHA-256) or as a new dataset with empty core tables (``out_dir``).

Provider ids (``P`` + five digits) and names are public facts about organisations and are kept
as they are.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import __version__
from workbench.catalogue import Catalogue, load_catalogue
from workbench.dataset import (
    CORE_TABLES,
    KEY_PATTERNS,
    TABLE_FILES,
    _sha256,
    conform,
    empty_table,
    read_manifest,
    validate,
    write_dataset,
    write_json,
    write_table,
)
from workbench.ingest.core import file_record, mapped_raw
from workbench.ingest.problems import ERROR, RULES, WARNING, Rule, concat_problems, problems
from workbench.ingest.profile import (
    DATE_FORMATS,
    DELIMITERS,
    ENCODINGS,
    Profile,
    ProfileError,
    code_lookup,
    load_profile,
    match_header,
    normalise_label,
    parse_bool_marker,
)
from workbench.municipalities import list_municipalities

_SEP = "\x1f"
_PROVENANCE_COLUMNS = (
    "fil",
    "sha256",
    "storlek",
    "rader_lasta",
    "accepterade",
    "karantan",
    "dubbletter",
    "strukturrader",
)


@dataclass(frozen=True)
class TableSpec:
    """What a table profile may map and what it feeds."""

    outputs: tuple[str, ...]  # canonical tables written
    roles: Mapping[str, bool]  # identifier role → required
    extra_columns: tuple[str, ...]  # non-catalogue columns that may be mapped under columns:
    required_columns: tuple[str, ...]  # columns the file must have


SPECS: dict[str, TableSpec] = {
    "placements": TableSpec(
        outputs=("providers", "placements", "provider_ratings"),
        roles={"personnummer": True, "placering": True, "bedomning": False, "insats": False},
        extra_columns=("utforare_id", "utforare_namn", "lan"),
        required_columns=("utforare_id", "utforare_namn", "lan", "startdatum"),
    ),
    "child_survey": TableSpec(
        outputs=("child_survey",),
        roles={"enkat": True},
        extra_columns=("ar", "besvarad"),
        required_columns=("ar",),
    ),
}
RATING_COLUMNS = (
    "bedomningsdatum",
    "betyg_behandling",
    "betyg_samarbete",
    "betyg_trygghet",
    "betyg_mal",
    "placera_igen",
)
PLACEMENT_COLUMNS = (
    "barn_id",
    "insats_id",
    "kommun",
    "utforare_id",
    "startdatum",
    "slutdatum",
    "placering_avslut",
    "maluppfyllelse",
)
PROVIDER_COLUMNS = ("utforare_namn", "lan", "utforartyp", "regi")
SURVEY_ITEMS = ("kanner_mig_trygg", "blir_lyssnad_pa", "vet_min_plan", "far_hjalp_skola", "helhet")
SURVEY_AGES = (13, 20)

#: Rules of these exports (registered in :data:`workbench.ingest.problems.RULES` when used).
TABLE_RULES: dict[str, Rule] = {
    "provider_id_format": Rule(
        ERROR,
        "Utförar-id ska vara P och fem siffror, t.ex. P00042",
        "The provider id must be P and five digits, e.g. P00042",
        "Rätta utförar-id i exporten (länets utförarregister)",
        "Correct the provider id in the export (the county's provider register)",
    ),
    "row_conflict": Rule(
        ERROR,
        "Samma {detail} förekommer på flera rader med olika innehåll ({column})",
        "The same {detail} occurs on several rows with different content ({column})",
        "Rensa dubbletterna i källan och exportera igen",
        "Remove the duplicates in the source and re-export",
    ),
    "provider_conflict": Rule(
        WARNING,
        "Utförarens uppgift {column} skiljer sig mellan rader; den vanligaste används",
        "The provider's value {column} differs between rows; the most common one is used",
        "Kontrollera utförarregistret",
        "Check the provider register",
    ),
    "ending_without_end_date": Rule(
        ERROR,
        "Placeringens avslut är angivet men slutdatum saknas",
        "The placement's ending is given but its end date is missing",
        "Fyll i slutdatum eller ta bort avslutet",
        "Fill in the end date or remove the ending",
    ),
    "answers_without_response": Rule(
        ERROR,
        "Svar finns fast enkäten är markerad som obesvarad",
        "Answers are present although the survey is marked as not answered",
        "Kontrollera kolumnen för besvarad enkät i exporten",
        "Check the answered column in the export",
    ),
}


class TableIngestError(RuntimeError):
    """The export cannot be ingested at all; the message names the file and the fix."""


def _register_rules() -> None:
    for name, rule in TABLE_RULES.items():
        RULES.setdefault(name, rule)


# -- profiles ------------------------------------------------------------------------------------


def _spellings(raw: Any, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, Sequence) or not raw or not all(isinstance(s, str) for s in raw):
        raise ProfileError(f"{where}: expected a column name or a list of column names.")
    return tuple(s.strip() for s in raw)


def table_variables(table: str, cat: Catalogue) -> list[str]:
    """Catalogue variables a profile for ``table`` may map (of every table it feeds)."""
    names: list[str] = []
    for out in SPECS[table].outputs:
        names += [v.name for v in cat.of_table(out) if v.name not in names]
    return names


def parse_table_profile(
    raw: Mapping[str, Any], *, path: Path, cat: Catalogue | None = None
) -> Profile:
    """Check a ``table:`` profile against the catalogue (called by ``parse_profile``)."""
    cat = cat or load_catalogue()
    where = str(path)
    table = raw.get("table")
    if table not in SPECS:
        raise ProfileError(f"{where}: table must be one of {list(SPECS)}, got {table!r}.")
    spec = SPECS[table]
    if raw.get("multi"):
        raise ProfileError(f"{where}: multi: is not used by table profiles.")
    f = raw.get("file") or {}
    encoding = str(f.get("encoding", "auto"))
    delimiter = {"tab": "\t", "\\t": "\t"}.get(f.get("delimiter", "auto"), f.get("delimiter"))
    date_format = str(f.get("date_format", "auto"))
    decimal = str(f.get("decimal", ","))
    if encoding not in ENCODINGS or delimiter not in DELIMITERS or decimal not in (",", "."):
        raise ProfileError(f"{where}: file.encoding, file.delimiter or file.decimal invalid.")
    if date_format not in DATE_FORMATS:
        raise ProfileError(
            f"{where}: file.date_format {date_format!r} not one of {list(DATE_FORMATS)}."
        )
    ids_raw = raw.get("identifiers") or {}
    bad = set(ids_raw) - set(spec.roles)
    if bad:
        raise ProfileError(
            f"{where}: identifiers: unknown roles {sorted(bad)}; use {list(spec.roles)}."
        )
    for role, required in spec.roles.items():
        if required and role not in ids_raw:
            raise ProfileError(f"{where}: identifiers.{role} is required for table {table}.")
    identifiers = {k: _spellings(v, f"{where}: identifiers.{k}") for k, v in ids_raw.items()}
    allowed = [*table_variables(table, cat), *spec.extra_columns]
    columns: dict[str, tuple[str, ...]] = {}
    for name, spell in (raw.get("columns") or {}).items():
        if name not in allowed:
            close = difflib.get_close_matches(str(name), allowed, n=3)
            raise ProfileError(
                f"{where}: columns.{name} is not a column of table {table}. Did you mean "
                f"{close}? Allowed: {allowed}."
            )
        columns[name] = _spellings(spell, f"{where}: columns.{name}")
    missing = [c for c in spec.required_columns if c not in columns]
    if missing:
        raise ProfileError(f"{where}: columns {missing} are required for table {table}.")
    values: dict[str, dict[str, str]] = {}
    for name, mapping in (raw.get("values") or {}).items():
        var = cat.variable(name) if name in allowed and name not in spec.extra_columns else None
        if var is None or var.codelist is None or not isinstance(mapping, Mapping):
            raise ProfileError(f"{where}: values.{name}: not a coded column of table {table}.")
        out: dict[str, str] = {}
        for spelling, code in mapping.items():
            if str(code) not in var.codelist.code_values:
                raise ProfileError(
                    f"{where}: values.{name}: {spelling!r} maps to {code!r}, not a code of "
                    f"{name} ({list(var.codelist.code_values)})."
                )
            out[normalise_label(str(spelling))] = str(code)
        values[name] = out
    prof = Profile(
        name=str(raw.get("name") or path.stem),
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "",
        title_sv=str(raw.get("title_sv", path.stem)),
        title_en=str(raw.get("title_en", path.stem)),
        system=str(raw.get("system", "")),
        status=str(raw.get("status", "")),
        encoding=encoding,
        delimiter=str(delimiter),
        decimal=decimal,
        date_format=date_format,
        sheet=f.get("sheet"),
        header_row=f.get("header_row"),
        kommun_column=(
            _spellings(raw["kommun"]["column"], f"{where}: kommun.column")
            if raw.get("kommun")
            else ()
        ),
        identifiers=identifiers,
        columns=columns,
        multi={},
        values=values,
        ignore=tuple(str(s).strip() for s in (raw.get("ignore") or [])),
        table=str(table),
    )
    seen: dict[str, str] = {}
    for role, spellings in [
        ("kommun", prof.kommun_column),
        *((f"identifiers.{k}", v) for k, v in identifiers.items()),
        *((f"columns.{k}", v) for k, v in columns.items()),
        ("ignore", prof.ignore),
    ]:
        for s in spellings:
            if seen.setdefault(normalise_label(s), role) != role:
                raise ProfileError(f"{where}: the column name {s!r} is used twice.")
    for name in columns:
        if name not in spec.extra_columns and cat.variable(name).codelist is not None:
            code_lookup(cat, name, prof)
    return prof


# -- the pipeline --------------------------------------------------------------------------------


@dataclass
class _Problems:
    frame: pd.DataFrame  # _fil, _rad
    error: np.ndarray
    found: list[pd.DataFrame]

    def flag(
        self,
        rule: str,
        mask: pd.Series | np.ndarray,
        *,
        kolumn: str = "",
        varde: pd.Series | None = None,
        detail: str = "",
        identifier: bool = False,
    ) -> None:
        m = np.asarray(pd.Series(mask).fillna(False), dtype=bool)
        if not m.any():
            return
        sub = self.frame.loc[m]
        for fil, rows in sub.groupby("_fil", sort=False).groups.items():
            self.found.append(
                problems(
                    rule,
                    fil=str(fil),
                    rad=sub.loc[rows, "_rad"],
                    kolumn=kolumn,
                    varde=None if varde is None else varde.loc[rows],
                    detail=detail,
                    identifier=identifier,
                )
            )
        if RULES[rule].severity == ERROR:
            self.error |= m


def _read_files(
    paths: list[Path], prof: Profile, cat: Catalogue, kommun: str | None
) -> tuple[pd.DataFrame, list[dict[str, Any]], list[pd.DataFrame]]:
    from workbench.ingest.read import read_export

    spec = SPECS[str(prof.table)]
    date_cols = [
        s
        for v, spellings in prof.columns.items()
        if v not in spec.extra_columns and cat.variable(v).type == "date"
        for s in spellings
    ]
    id_cols = [s for spellings in prof.identifiers.values() for s in spellings]
    mapped, rows, found = [], [], []
    raws = sorted(
        (
            read_export(
                p,
                encoding=prof.encoding,
                delimiter=prof.delimiter,
                sheet=prof.sheet,
                header_row=prof.header_row,
                date_columns=date_cols,
                id_columns=[*id_cols, *prof.kommun_column],
                expected_columns=prof.all_spellings(),
            )
            for p in paths
        ),
        key=lambda r: (r.path.name, r.sha256),
    )
    for order, raw in enumerate(raws):
        name = raw.path.name
        match = match_header(prof, raw.header)
        lacking = [
            f"{r} {list(prof.identifiers[r])}"
            for r, required in spec.roles.items()
            if required and r not in match.identifiers
        ]
        if not match.kommun and prof.kommun_column and kommun is None:
            lacking.append(f"kommun {list(prof.kommun_column)} (or pass --kommun)")
        lacking += [
            f"{c} {list(prof.columns[c])}" for c in spec.required_columns if c not in match.columns
        ]
        if lacking:
            raise TableIngestError(
                f"{name}: profilen {prof.name!r} passar inte filen / profile {prof.name!r} does "
                f"not fit the file: required columns not found: {'; '.join(lacking)}. The "
                f"file's columns: {list(raw.header)}. Add the spellings to the profile or choose "
                "another --profile."
            )
        for col in match.unmapped:
            found.append(problems("column_not_read", fil=name, kolumn=col))
        for label in match.missing:
            if label != "kommun":
                found.append(problems("column_missing", fil=name, detail=label))
        m = mapped_raw(raw, match)
        m.insert(0, "_fil", name)
        m.insert(1, "_forder", order)
        mapped.append(m)
        rows.append(
            {
                **file_record(name, raw),
                "summa_angiven": ", ".join(str(x) for x in raw.stated_totals),
            }
        )
    return pd.concat(mapped, ignore_index=True), rows, found


def _convert(
    raw: pd.DataFrame, prof: Profile, cat: Catalogue, kommun: str | None, pr: _Problems
) -> pd.DataFrame:
    from workbench.ingest.values import convert_codes, convert_dates, convert_integers

    spec = SPECS[str(prof.table)]
    out = pd.DataFrame(index=raw.index)
    codes = set(list_municipalities()["municipality_code"])
    k = raw["kommun"].str.strip() if "kommun" in raw else pd.Series(pd.NA, index=raw.index)
    if kommun is not None:
        k = k.fillna(kommun)
    elif "kommun" not in raw:
        raise TableIngestError(
            "The profile has no kommun column and no --kommun was given. Pass the "
            "municipality's code, e.g. --kommun 0180 (list: `workbench.list_municipalities()`)."
        )
    pr.flag("kommun_missing", k.isna(), kolumn="kommun")
    unknown = k.notna() & ~k.isin(codes)
    pr.flag("kommun_unknown", unknown, kolumn="kommun", varde=k)
    out["kommun"] = k.where(~unknown).astype("str")
    for name in prof.columns:
        if name not in raw:
            continue
        s = raw[name]
        if name == "utforare_id":
            v = s.str.strip().str.upper()
            bad = v.notna() & ~v.str.fullmatch(KEY_PATTERNS["utforare_id"][1:-1]).fillna(False)
            pr.flag("provider_id_format", bad, kolumn=name, varde=s)
            out[name] = v.where(~bad).astype("str")
        elif name == "utforare_namn":
            out[name] = s.str.strip().astype("str")
        elif name == "lan":
            v = s.str.strip().str.zfill(2)
            lans = set(list_municipalities()["county_code"])
            bad = v.notna() & ~v.isin(lans)
            pr.flag("unknown_code", bad, kolumn=name, varde=s, detail="länskod, t.ex. 22")
            out[name] = v.where(~bad).astype("str")
        elif name == "besvarad":
            parsed = s.map(parse_bool_marker, na_action="ignore")
            bad = s.notna() & parsed.isna()
            pr.flag("unknown_code", bad, kolumn=name, varde=s, detail="ja / nej")
            out[name] = parsed.astype("boolean")
        elif name == "ar":
            conv, bad, oor = convert_integers(s, prof.decimal, (2000, 2100))
            pr.flag("integer_invalid", bad, kolumn=name, varde=s)
            pr.flag("integer_range", oor, kolumn=name, varde=s, detail="2000–2100")
            out[name] = conv.where(~oor)
        else:
            var = cat.variable(name)
            if var.type == "code":
                lookup = code_lookup(cat, name, prof)
                conv, unknown = convert_codes(s, lookup)
                for value in sorted(s[unknown].unique()):
                    pr.flag(
                        "unknown_code",
                        unknown & (s == value),
                        kolumn=name,
                        varde=s,
                        detail=", ".join(lookup.closest(str(value))) or "–",
                    )
                out[name] = conv.astype("str")
            elif var.type == "date":
                conv, bad, undeclared = convert_dates(s, prof.date_format)
                pr.flag("date_invalid", bad, kolumn=name, varde=s, detail=prof.date_format)
                pr.flag("date_format_undeclared", undeclared, kolumn=name, varde=s)
                out[name] = conv
            elif var.type == "integer":
                rng = SURVEY_AGES if name == "alder" else var.range
                conv, bad, oor = convert_integers(s, prof.decimal, rng)
                pr.flag("integer_invalid", bad, kolumn=name, varde=s)
                detail = f"{rng[0]}–{rng[1]}" if rng else ""
                pr.flag("integer_range", oor, kolumn=name, varde=s, detail=detail)
                out[name] = conv.where(~oor)
    for c in spec.required_columns:  # the columns exist (checked when the header was matched)
        pr.flag("required_missing", out[c].isna(), kolumn=c)
    return out


def _pseudonymise_ids(
    df: pd.DataFrame, raw: pd.DataFrame, table: str, key: Any, pr: _Problems, ref: dt.date
) -> pd.DataFrame:
    from workbench.pseudonym import parse_personnummer, pseudonymise

    def ref_key(role: str) -> pd.Series:
        v = raw[f"_id_{role}"].str.strip() if f"_id_{role}" in raw else None
        if v is None:
            return pd.Series(pd.NA, index=raw.index, dtype="str")
        return (df["kommun"] + _SEP + "ref" + _SEP + v.where(v != "")).astype("str")

    for role, required in SPECS[table].roles.items():
        if required and role != "personnummer":
            pr.flag("required_missing", raw[f"_id_{role}"].isna(), kolumn=role)
    if table == "placements":
        pn = parse_personnummer(raw["_id_personnummer"], reference_date=ref)
        for code in pn["reason"].dropna().unique():
            pr.flag(
                "personnummer",
                (pn["reason"] == code).fillna(False),
                kolumn="personnummer",
                varde=raw["_id_personnummer"],
                detail=str(code),
                identifier=True,
            )
        # the same keyed pseudonyms as the case ingest: barn_id and insats_id link to its tables
        df["barn_id"] = pseudonymise(pn["canonical"], key, domain="barn", prefix="B")
        df["insats_id"] = pseudonymise(ref_key("insats"), key, domain="insats", prefix="I")
        pkey = ref_key("placering")
        df["placering_id"] = pseudonymise(pkey, key, domain="placering", prefix="L")
        rkey = ref_key("bedomning")
        dates = df["bedomningsdatum"].dt.strftime("%Y-%m-%d") if "bedomningsdatum" in df else None
        if dates is not None:
            rkey = rkey.fillna(pkey + _SEP + dates)
        df["bedomning_id"] = pseudonymise(rkey, key, domain="bedomning", prefix="Q")
    else:
        ekey = (df["ar"].astype("str") + _SEP + ref_key("enkat")).astype("str")
        df["enkat_id"] = pseudonymise(ekey, key, domain="enkat", prefix="E")
    return df


def _row_rules(df: pd.DataFrame, table: str, pr: _Problems) -> pd.DataFrame:
    has = df.columns.__contains__
    if table == "placements":
        for late in ("slutdatum", "bedomningsdatum"):
            if has(late):
                wrong = df[late].notna() & df["startdatum"].notna() & (df[late] < df["startdatum"])
                pr.flag("date_order", wrong, kolumn=late, detail=f"{late} < startdatum")
        if has("placering_avslut"):
            no_end = df["placering_avslut"].notna()
            no_end &= df["slutdatum"].isna() if has("slutdatum") else True
            pr.flag("ending_without_end_date", no_end, kolumn="placering_avslut")
        present = [c for c in RATING_COLUMNS if has(c)]
        rated = df[present].notna().any(axis=1) if present else pd.Series(False, index=df.index)
        df["_rated"] = rated
        if has("bedomningsdatum"):
            pr.flag(
                "required_missing", rated & df["bedomningsdatum"].isna(), kolumn="bedomningsdatum"
            )
    else:
        present = [c for c in SURVEY_ITEMS if has(c)]
        answers = df[present].notna().any(axis=1) if present else pd.Series(False, index=df.index)
        if has("besvarad"):
            pr.flag("answers_without_response", answers & (df["besvarad"] == False))  # noqa: E712
            df["besvarad"] = df["besvarad"].fillna(answers).astype(bool)
        else:
            df["besvarad"] = answers
    return df


def _conflicts(
    df: pd.DataFrame, ok: np.ndarray, by: str, cols: Sequence[str], pr: _Problems, what: str
) -> None:
    """Rows of one id whose columns differ: every row of that id is an error."""
    sub = df.loc[ok & df[by].notna().to_numpy()]
    dup = sub[by].duplicated(keep=False)
    if not dup.any():
        return
    groups = sub.loc[dup]
    present = [c for c in cols if c in groups]
    n = groups.groupby(by)[present].nunique(dropna=False)
    for c in present:
        bad = n.index[n[c] > 1]
        if len(bad):
            pr.flag("row_conflict", df[by].isin(bad) & ok, kolumn=c, detail=what)


def _mode_per(df: pd.DataFrame, by: str, col: str) -> pd.Series:
    counts = df.groupby([by, col], dropna=True).size().reset_index(name="n")
    counts = counts.sort_values([by, "n", col], ascending=[True, False, True])
    return counts.drop_duplicates(by).set_index(by)[col]


def _build(df: pd.DataFrame, table: str, pr: _Problems, cat: Catalogue) -> dict[str, pd.DataFrame]:
    def frame(name: str, data: pd.DataFrame) -> pd.DataFrame:
        out = empty_table(name, cat=cat)
        cols = {c: (data[c] if c in data else pd.Series(pd.NA, index=data.index)) for c in out}
        return conform(name, pd.DataFrame(cols, index=data.index), cat).reset_index(drop=True)

    if table == "child_survey":
        s = df.copy()
        for c in SURVEY_ITEMS:
            if c in s:
                s[c] = s[c].where(s["besvarad"])
        s = s.sort_values(["kommun", "ar", "enkat_id"])
        return {"child_survey": frame("child_survey", s)}
    pl = df.sort_values(["_forder", "_rad"]).drop_duplicates("placering_id")
    pl = pl.assign(ar=pl["startdatum"].dt.year.astype("Int64"))
    pl = pl.sort_values(["kommun", "startdatum", "placering_id"])
    rt = df[df["_rated"]].drop_duplicates("bedomning_id")
    rt = rt.assign(ar=rt["bedomningsdatum"].dt.year.astype("Int64"))
    rt = rt.sort_values(["kommun", "bedomningsdatum", "bedomning_id"])
    prov = pd.DataFrame({"utforare_id": sorted(df["utforare_id"].dropna().unique())})
    for c in PROVIDER_COLUMNS:
        if c in df:
            n = df.groupby("utforare_id")[c].nunique()
            differs = n.index[n > 1]
            pr.flag("provider_conflict", df["utforare_id"].isin(differs), kolumn=c)
            prov[c] = prov["utforare_id"].map(_mode_per(df, "utforare_id", c))
    return {
        "providers": frame("providers", prov),
        "placements": frame("placements", pl),
        "provider_ratings": frame("provider_ratings", rt),
    }


def _completeness(tables: Mapping[str, pd.DataFrame], cat: Catalogue) -> pd.DataFrame:
    rows = []
    for name, t in tables.items():
        for var in cat.of_table(name):
            n = len(t)
            filled = t[var.name].notna()
            soft = var.codelist.codes_of_kind("unknown", "not_assessable") if var.codelist else ()
            unknown = t[var.name].isin(list(soft)) if soft else pd.Series(False, index=t.index)
            rows.append(
                {
                    "variabel": var.name,
                    "etikett": var.sv,
                    "tabell": name,
                    "harledd": False,
                    "n": n,
                    "ifylld_kand": (int(filled.sum()) - int(unknown.sum())) / n if n else np.nan,
                    "okand_ej_bedomd": int(unknown.sum()) / n if n else np.nan,
                    "saknas": (n - int(filled.sum())) / n if n else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _unknown_codes(probs: pd.DataFrame) -> pd.DataFrame:
    u = probs[probs["regel"] == "unknown_code"]
    out = (
        u.assign(narmast=u["message"].str.split("closest: ").str[-1])
        .groupby(["kolumn", "varde", "narmast"], sort=True)
        .size()
        .reset_index(name="antal")
        .rename(columns={"kolumn": "variabel"})
    )
    return out.reindex(columns=["variabel", "varde", "antal", "narmast"])


def _hash(parts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _write_into(
    tables: Mapping[str, pd.DataFrame], into: Path, provenance: dict[str, Any], cat: Catalogue
) -> None:
    """Copy the dataset, write the tables and the updated manifest, swap the copy into place."""
    manifest = dict(read_manifest(into).content)
    tmp = Path(tempfile.mkdtemp(dir=into.parent, prefix=f".{into.name}.tmp-"))
    try:
        shutil.copytree(into, tmp, dirs_exist_ok=True)
        info = dict(manifest.get("tables", {}))
        for name, df in tables.items():
            path = tmp / TABLE_FILES[name]
            write_table(validate(name, conform(name, df, cat), cat), path)
            info[name] = {"file": path.name, "rows": int(len(df)), "sha256": _sha256(path)}
        manifest["tables"] = info
        ingests = dict(manifest.get("ingest_tables", {}))
        ingests[provenance["table"]] = provenance
        manifest["ingest_tables"] = ingests
        write_json(manifest, tmp / "manifest.json")
        os.chmod(tmp, 0o700)
        old = into.with_name(f".{into.name}.old-{os.getpid()}")
        os.replace(into, old)
        os.replace(tmp, into)
        shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_new(
    tables: Mapping[str, pd.DataFrame],
    out: Path,
    provenance: dict[str, Any],
    cat: Catalogue,
    prof: Profile,
    reference_date: dt.date,
) -> None:
    all_tables = {t: empty_table(t, cat=cat) for t in CORE_TABLES}
    all_tables.update(tables)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        write_dataset(
            all_tables,
            tmp,
            source=f"ingest profile={prof.name}",
            extra={
                "data_date": reference_date.isoformat(),
                "ingest_tables": {provenance["table"]: provenance},
            },
            cat=cat,
        )
        os.chmod(tmp, 0o700)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def ingest_tables(
    files: Sequence[str | os.PathLike[str]],
    *,
    profile: str | Path | Profile,
    into: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    key: Any = None,
    kommun: str | None = None,
    reference_date: dt.date | None = None,
    accept_quarantine: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
):
    """Ingest provider follow-up or children's survey exports into a canonical dataset.

    Parameters
    ----------
    files
        CSV or Excel exports of one ``table:`` profile (combined; order does not matter).
    profile
        A profile with ``table: placements`` or ``table: child_survey``.
    into
        An existing canonical dataset: the tables this profile feeds are replaced (the others
        are kept) in a copy that is swapped into place; its manifest gains the new tables'
        hashes and ``ingest_tables.<table>`` (input hash, files' SHA-256, profile, key id).
    out_dir
        Instead of ``into``: a new dataset with empty core tables (replaced atomically).
    key, kommun, reference_date, accept_quarantine, report_dir
        As :func:`workbench.ingest.core.ingest`. ``reference_date`` (for 10-digit personnummer)
        defaults to the latest date in the files. The report goes to
        ``<dataset>-ingest-<profile>`` by default.

    Returns
    -------
    workbench.ingest.core.IngestResult
    """
    from workbench.ingest.core import IngestResult
    from workbench.ingest.report import write_ingest_outputs
    from workbench.municipalities import normalise_kommun
    from workbench.pseudonym import load_key

    _register_rules()
    cat = load_catalogue()
    prof = profile if isinstance(profile, Profile) else load_profile(profile, cat=cat)
    if prof.table not in SPECS:
        raise TableIngestError(
            f"Profile {prof.name!r} is a case export: use `workbench ingest` without --into."
        )
    if (into is None) == (out_dir is None):
        raise TableIngestError("Give exactly one of --into DATASET_DIR or --out NEW_DIR.")
    target = Path(into if into is not None else out_dir)  # type: ignore[arg-type]
    if into is not None:
        read_manifest(target)  # an existing canonical dataset, or a DatasetError naming the fix
    if key is None:
        key = load_key()
    if kommun is not None:
        kommun = normalise_kommun(kommun, allow_national=False)
    paths_in = [Path(f) for f in files]
    if not paths_in:
        raise TableIngestError("No input files given.")
    for p in paths_in:
        if not p.is_file():
            raise TableIngestError(f"{p}: no such file.")
    rep = (
        Path(report_dir)
        if report_dir is not None
        else target.with_name(f"{target.name}-ingest-{prof.name}")
    )
    table = str(prof.table)

    raw, file_rows, found = _read_files(paths_in, prof, cat, kommun)
    content = [c for c in raw.columns if c not in ("_fil", "_forder", "_rad")]
    dup = raw.duplicated(content, keep="first").to_numpy()
    dup_per_file = raw.loc[dup].groupby("_fil").size()
    raw = raw.loc[~dup].reset_index(drop=True)
    pr = _Problems(raw[["_fil", "_rad"]].copy(), np.zeros(len(raw), dtype=bool), found)
    df = _convert(raw, prof, cat, kommun, pr)
    df = pd.concat([raw[["_fil", "_forder", "_rad"]], df], axis=1)
    if reference_date is None:  # from the data, never today's date (idempotent input hash)
        if table == "placements":
            dates = [df[c] for c in ("bedomningsdatum", "slutdatum", "startdatum") if c in df]
            latest = max((d.max() for d in dates if d.notna().any()), default=None)
            reference_date = latest.date() if latest is not None else None
        elif df["ar"].notna().any():
            reference_date = dt.date(int(df["ar"].max()), 12, 31)
        if reference_date is None:
            raise TableIngestError(
                "No valid date in the files, so the export's reference date is unknown. Pass "
                "--reference-date YYYY-MM-DD (the export date)."
            )
    df = _pseudonymise_ids(df, raw, table, key, pr, reference_date)
    df = _row_rules(df, table, pr)
    if table == "placements":
        _conflicts(df, ~pr.error, "placering_id", PLACEMENT_COLUMNS, pr, "placering")
        _conflicts(df, ~pr.error, "bedomning_id", RATING_COLUMNS, pr, "bedömning")
    else:
        cols = ["kommun", "ar", "kon", "alder", "enkatgrupp", "besvarad", *SURVEY_ITEMS]
        _conflicts(df, ~pr.error, "enkat_id", cols, pr, "enkätsvar")
    quarantined = pr.error
    kept = df.loc[~quarantined]
    tables = _build(kept, table, pr, cat)

    counts = pd.DataFrame(file_rows)
    counts["dubbletter"] = counts["fil"].map(dup_per_file).fillna(0).astype(int)
    q = df.loc[quarantined].groupby("_fil").size()
    counts["karantan"] = counts["fil"].map(q).fillna(0).astype(int)
    counts["accepterade"] = counts["fil"].map(kept.groupby("_fil").size()).fillna(0).astype(int)
    probs = concat_problems(pr.found)
    input_hash = _hash(
        [
            *(f"{r['fil']}:{r['sha256']}" for r in file_rows),
            f"profile:{prof.sha256}",
            f"catalogue:{cat.version}:{hashlib.sha256(cat.path.read_bytes()).hexdigest()}",
            f"package:{__version__}",
            f"key:{key.key_id}",
            f"kommun:{kommun}",
            f"reference:{reference_date.isoformat()}",
        ]
    )
    try:
        prev = json.loads((rep / "ingest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        prev = {}
    ingested_at = (
        prev.get("ingested_at")
        if prev.get("input_hash") == input_hash
        else dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    n_errors = int((probs["allvarlighet"] == ERROR).sum())
    write = n_errors == 0 or accept_quarantine
    result = IngestResult(
        out_dir=target,
        report_dir=rep,
        profile=prof.name,
        key_id=key.key_id,
        files=counts,
        problems=probs,
        unknown_codes=_unknown_codes(probs),
        completeness=_completeness(tables, cat),
        table_rows={k: len(v) for k, v in tables.items()},
        written=write,
        reference_date=reference_date.isoformat(),
        input_hash=input_hash,
        ingested_at=str(ingested_at),
    )
    if not result.balanced:  # an internal invariant: never let rows vanish silently
        raise TableIngestError(f"Row counts do not balance: {counts.to_dict('records')}")
    q_raw = raw.loc[quarantined, ["_fil", "_forder", "_rad", *content]]
    write_ingest_outputs(result, raw.loc[quarantined, ["_fil", "_rad"]], q_raw, prof)
    if write:
        provenance = {
            "table": table,
            "input_hash": input_hash,
            "ingested_at": ingested_at,
            "profile": {"name": prof.name, "sha256": prof.sha256, "system": prof.system},
            "key_id": key.key_id,
            "reference_date": reference_date.isoformat(),
            "files": [{k: r[k] for k in _PROVENANCE_COLUMNS} for r in counts.to_dict("records")],
        }
        if into is not None:
            _write_into(tables, target, provenance, cat)
        else:
            _write_new(tables, target, provenance, cat, prof, reference_date)
    return result


__all__ = ["SPECS", "TableIngestError", "ingest_tables", "parse_table_profile", "table_variables"]
