"""The ingest pipeline: export files + profile + key → canonical dataset, quarantine and report.

Steps (one direction, each counted):

1. read each file (:mod:`workbench.ingest.read`): structural rows (blank, repeated header,
   totals) are recognised and counted, never treated as data;
2. map its header onto the profile; columns the profile does not know are not read at all (so
   names and free text never enter the pipeline) and are listed as warnings;
3. remove exact duplicate rows (counted), convert values to catalogue codes, dates and numbers;
4. validate personnummer and derive birth date, sex, age and age band; apply the cross-field
   rules of DOMAIN.md §6; rows with an error go to the quarantine file with their reasons;
5. replace identifiers by keyed pseudonyms (HMAC-SHA-256) and build the tables ``children``,
   ``interventions`` and ``registrations``; derive re-referral within 12 months;
6. write the dataset atomically (a temporary folder swapped into place) with a manifest citing
   every input's SHA-256, the profile, catalogue, package and key id.

Per file: rows read = accepted + quarantined + exact duplicates + structural rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import __version__
from workbench.catalogue import Catalogue, load_catalogue
from workbench.dataset import KEY_COLUMNS, table_columns, write_dataset
from workbench.ingest.problems import (
    ERROR,
    RULES,
    WARNING,
    concat_problems,
    problems,
)
from workbench.ingest.profile import (
    HeaderMatch,
    Profile,
    ProfileError,
    code_lookup,
    list_profiles,
    load_profile,
    match_header,
    normalise_label,
)
from workbench.ingest.read import RawExport, read_export
from workbench.ingest.values import (
    broadcast,
    convert_codes,
    convert_dates,
    convert_integers,
    convert_multi_columns,
    convert_multi_separated,
)
from workbench.municipalities import list_municipalities

log = logging.getLogger(__name__)

#: Columns a file must have for its rows to be placed at all.
REQUIRED_VARIABLES = ("registreringsdatum", "registreringstyp")
_PNR_REASONS = {
    "missing": ("saknas", "missing"),
    "format": ("fel format", "wrong format"),
    "date": ("inget giltigt födelsedatum", "no valid birth date"),
    "luhn": ("fel kontrollsiffra", "wrong check digit"),
    "future": ("födelsedatum efter referensdatum", "birth date after the reference date"),
    "leading_zero_lost": (
        "inledande nolla saknas, troligen sparat som tal i Excel",
        "leading zero lost, probably stored as a number in Excel",
    ),
    "scientific_notation": (
        "sparat som tal i Excel (exponentform)",
        "stored as a number in Excel (scientific notation)",
    ),
}
_AGE_BANDS = ((0, 6, "0-6"), (7, 12, "7-12"), (13, 17, "13-17"), (18, 20, "18-20"))


class IngestError(RuntimeError):
    """The ingest cannot proceed (wrong profile, missing key, unreadable file); names the fix."""


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did: counts per file, problems, and where everything was written."""

    out_dir: Path
    report_dir: Path
    profile: str
    key_id: str
    files: pd.DataFrame  # one row per input file with all counts
    problems: pd.DataFrame  # every problem (masked values)
    unknown_codes: pd.DataFrame  # variable, value, n, closest codes
    completeness: pd.DataFrame  # variable, filled, unknown, missing shares
    table_rows: dict[str, int] = field(default_factory=dict)
    written: bool = False
    reference_date: str = ""
    input_hash: str = ""
    ingested_at: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per step (benchmarks)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per step
    peak_gb: dict[str, float] = field(default_factory=dict)  # peak memory after each step

    @property
    def n_errors(self) -> int:
        return int((self.problems["allvarlighet"] == ERROR).sum())

    @property
    def n_warnings(self) -> int:
        return int((self.problems["allvarlighet"] == WARNING).sum())

    @property
    def rows_read(self) -> int:
        return int(self.files["rader_lasta"].sum())

    @property
    def rows_accepted(self) -> int:
        return int(self.files["accepterade"].sum())

    @property
    def rows_quarantined(self) -> int:
        return int(self.files["karantan"].sum())

    @property
    def balanced(self) -> bool:
        """Rows read = accepted + quarantined + duplicates + structural rows, for every file."""
        f = self.files
        rest = f["accepterade"] + f["karantan"] + f["dubbletter"] + f["strukturrader"]
        return bool((f["rader_lasta"] == rest).all())


# -- reading and mapping ----------------------------------------------------------------------------


def _read(path: Path, prof: Profile, cat: Catalogue) -> RawExport:
    date_cols = [s for v in prof.date_variables(cat) for s in prof.columns[v]]
    id_cols = [s for spellings in prof.identifiers.values() for s in spellings]
    return read_export(
        path,
        encoding=prof.encoding,
        delimiter=prof.delimiter,
        sheet=prof.sheet,
        header_row=prof.header_row,
        date_columns=date_cols,
        id_columns=[*id_cols, *prof.kommun_column],
        expected_columns=prof.all_spellings(),
    )


def _profile_scores(header: Sequence[str], cat: Catalogue) -> list[tuple[int, str]]:
    scores = []
    for name in list_profiles():
        try:
            p = load_profile(name, cat=cat)
        except ProfileError:
            continue
        scores.append((match_header(p, header).n_matched, name))
    return sorted(scores, reverse=True)


def _check_match(raw: RawExport, match: HeaderMatch, prof: Profile, cat: Catalogue) -> None:
    missing = []
    if "personnummer" not in match.identifiers:
        missing.append(f"personnummer {list(prof.identifiers['personnummer'])}")
    for v in REQUIRED_VARIABLES:
        if v not in match.columns:
            missing.append(f"{v} {list(prof.columns.get(v, ()))}")
    if not missing:
        return
    best = [f"{n} ({s})" for s, n in _profile_scores(raw.header, cat)[:3] if s > 0]
    raise IngestError(
        f"{raw.path.name}: profilen {prof.name!r} passar inte filen / profile {prof.name!r} does "
        f"not fit the file: required columns not found: {'; '.join(missing)}. The file's columns: "
        f"{list(raw.header)}. Profiles that match best (matched columns): {best or 'none'}. "
        f"Choose another --profile, add the spellings to the profile, or create one with "
        f"`workbench profile suggest {raw.path.name}`."
    )


def file_record(name: str, raw: RawExport) -> dict[str, Any]:
    """One input file's provenance and row counts, as the ingest reports list them."""
    s = raw.structural
    return {
        "fil": name,
        "sha256": raw.sha256,
        "storlek": raw.size,
        "format": raw.format,
        "teckenkodning": raw.encoding or "",
        "avgransare": {"\t": "tab"}.get(raw.delimiter or "", raw.delimiter or ""),
        "rader_lasta": raw.rows_read,
        "tomma_rader": int((s["kind"] == "empty").sum()),
        "upprepade_rubriker": int((s["kind"] == "repeated_header").sum()),
        "summarader": int((s["kind"] == "footer").sum()),
        "strukturrader": int(len(s)),
        "datarader": int(len(raw.data)),
    }


def mapped_raw(raw: RawExport, match: HeaderMatch) -> pd.DataFrame:
    """The file's read columns renamed to canonical keys (raw strings), plus _rad."""
    cols: dict[str, pd.Series] = {"_rad": raw.data["_rad"]}
    if match.kommun:
        cols["kommun"] = raw.data[match.kommun]
    for role, c in match.identifiers.items():
        cols[f"_id_{role}"] = raw.data[c]
    for v, c in match.columns.items():
        cols[v] = raw.data[c]
    for v, c in match.multi_column.items():
        cols[v] = raw.data[c]
    for v, opts in match.multi_options.items():
        for code, c in opts.items():
            cols[f"{v}__{code}"] = raw.data[c]
    return pd.DataFrame(cols)


# -- conversion ----------------------------------------------------------------------------------


@dataclass
class _Stage:
    """The combined staged rows of all files and the problems found so far."""

    frame: pd.DataFrame
    error: pd.Series
    found: list[pd.DataFrame]

    def flag(
        self,
        rule: str,
        mask: pd.Series,
        *,
        kolumn: str = "",
        varde: pd.Series | None = None,
        detail: pd.Series | str = "",
        detail_en: str | None = None,
        identifier: bool = False,
    ) -> None:
        mask = mask.fillna(False).astype(bool) if mask.dtype != bool else mask
        if not mask.any():
            return
        f = self.frame.loc[mask]
        for fil, rows in f.groupby("_fil", sort=False).groups.items():
            sub = f.loc[rows]
            self.found.append(
                problems(
                    rule,
                    fil=str(fil),
                    rad=sub["_rad"],
                    kolumn=kolumn,
                    varde=None if varde is None else varde.loc[rows],
                    detail=detail if isinstance(detail, str) else detail.loc[rows],
                    detail_en=detail_en,
                    identifier=identifier,
                )
            )
        if RULES[rule].severity == ERROR:
            self.error |= mask


def _exact_duplicates(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Rows identical to an earlier row in every column read (first occurrence kept).

    Candidates are rows that repeat the identifying columns (personnummer, dates, ids); only they
    are compared in full, so the check costs a few column hashes, and equality is always exact.
    A row identical to another repeats each of its values, so the registration id alone (nearly
    unique when the export has one) first narrows the candidates cheaply.
    """
    dup = np.zeros(len(frame), dtype=bool)
    if not len(frame) or not columns:
        return pd.Series(dup, index=frame.index)
    keys = [
        c
        for c in columns
        if c.startswith("_id_") or c in ("registreringsdatum", "registreringstyp", "insats_start")
    ] or columns
    if "_id_registrering" in keys:
        cand = frame["_id_registrering"].duplicated(keep=False).to_numpy(copy=True)
    else:
        cand = np.ones(len(frame), dtype=bool)
    if cand.any():
        sub = frame[keys] if cand.all() else frame.loc[cand, keys]
        cand[cand] = pd.util.hash_pandas_object(sub, index=False).duplicated(keep=False).to_numpy()
    if cand.any():
        sub = frame.loc[cand, columns]
        dup[np.flatnonzero(cand)[sub.duplicated(keep="first").to_numpy()]] = True
    return pd.Series(dup, index=frame.index)


def _closest_detail(values: pd.Series, unknown: pd.Series, lookup) -> pd.Series:
    """The closest catalogue codes of each unknown value (computed once per distinct value)."""
    sub = values[unknown]
    closest = {v: ", ".join(lookup.closest(v)) or "-" for v in sub.unique()}
    return sub.map(closest).astype("str")


class _Prefetch:
    """Factorizes the next columns on a second thread while the current one is converted.

    :func:`workbench.ingest.values.factorize` of a text column is Arrow's hashing, which runs
    without the GIL, while a conversion is mostly Python and numpy: the two overlap. At most
    ``depth`` results wait, so memory stays a few integer columns. Results equal a direct call.
    """

    def __init__(self, frame: pd.DataFrame, names: list[str], depth: int = 2) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from workbench.ingest.values import factorize

        self._frame, self._names, self._factorize = frame, names, factorize
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: dict[str, Any] = {}
        self._next = 0
        for _ in range(depth):
            self._submit()

    def _submit(self) -> None:
        if self._next < len(self._names):
            name = self._names[self._next]
            self._pending[name] = self._pool.submit(self._factorize, self._frame[name])
            self._next += 1

    def take(self, name: str):
        """The factorization of column ``name`` (computed here if it was not prefetched)."""
        future = self._pending.pop(name, None)
        self._submit()
        return future.result() if future is not None else self._factorize(self._frame[name])

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()


def _convert(
    raw_all: pd.DataFrame, prof: Profile, cat: Catalogue, kommun: str | None, stage: _Stage
) -> pd.DataFrame:
    """Canonical typed columns for every recorded variable present in the files."""
    variables = [
        v
        for v in cat.variables.values()
        if not v.derived and v.table in ("children", "interventions", "registrations")
    ]
    prefetch = _Prefetch(
        raw_all,
        [
            v.name
            for v in variables
            if v.name in raw_all
            and (
                v.type in ("code", "date", "integer")
                or (v.type == "multi" and v.name in prof.multi)
            )
        ],
    )
    try:
        return _convert_columns(raw_all, prof, cat, kommun, stage, variables, prefetch)
    finally:
        prefetch.close()


def _convert_columns(
    raw_all: pd.DataFrame,
    prof: Profile,
    cat: Catalogue,
    kommun: str | None,
    stage: _Stage,
    variables: list,
    prefetch: _Prefetch,
) -> pd.DataFrame:
    out: dict[str, pd.Series] = {}
    index = raw_all.index
    # municipality
    codes = set(list_municipalities()["municipality_code"])
    if "kommun" in raw_all:
        k = raw_all["kommun"].str.strip()
        if kommun is not None:
            k = k.fillna(kommun)
        stage.flag("kommun_missing", k.isna(), kolumn="kommun")
        unknown = k.notna() & ~k.isin(codes)
        detail = k.where(~(unknown & k.str.fullmatch(r"\d{3}")), "inledande nolla saknas?")
        stage.flag("kommun_unknown", unknown, kolumn="kommun", varde=k, detail=detail.fillna(""))
        out["kommun"] = k.where(~unknown)
    else:
        if kommun is None:
            raise IngestError(
                "The profile has no kommun column and no --kommun was given. Pass the "
                "municipality's code, e.g. --kommun 0180 (list: `workbench.list_municipalities()`)."
            )
        out["kommun"] = pd.Series(kommun, index=index, dtype="str")

    for var in variables:
        name = var.name
        if var.type == "multi":
            lookup = code_lookup(cat, name, prof)
            spec = prof.multi.get(name)
            option_cols = [c for c in raw_all.columns if c.startswith(f"{name}__")]
            if spec is not None and spec.column and name in raw_all:
                frame, unknown, bad = convert_multi_separated(
                    raw_all[name], lookup, spec.separator, factorized=prefetch.take(name)
                )
                if unknown.any():
                    stage.flag(
                        "unknown_code",
                        unknown,
                        kolumn=name,
                        varde=bad,
                        detail=_closest_detail(bad, unknown, lookup),
                    )
            elif option_cols:
                frame, bads = convert_multi_columns(
                    {c.split("__", 1)[1]: raw_all[c] for c in option_cols}, lookup.codes
                )
                for code, mask in bads.items():
                    col = f"{name}__{code}"
                    stage.flag("bad_marker", mask, kolumn=col, varde=raw_all[col])
            else:
                continue
            for code in lookup.codes:
                out[f"{name}__{code}"] = frame[code]
            continue
        if name not in raw_all:
            continue
        s = raw_all[name]
        if var.type == "code":
            lookup = code_lookup(cat, name, prof)
            conv, unknown = convert_codes(s, lookup, factorized=prefetch.take(name))
            if unknown.any():
                stage.flag(
                    "unknown_code",
                    unknown,
                    kolumn=name,
                    varde=s,
                    detail=_closest_detail(s, unknown, lookup),
                )
            out[name] = conv
        elif var.type == "date":
            conv, bad, undeclared = convert_dates(
                s, prof.date_format, factorized=prefetch.take(name)
            )
            stage.flag("date_invalid", bad, kolumn=name, varde=s, detail=prof.date_format)
            stage.flag("date_format_undeclared", undeclared, kolumn=name, varde=s)
            out[name] = conv
        elif var.type == "integer":
            conv, bad, out_of_range = convert_integers(
                s, prof.decimal, var.range, factorized=prefetch.take(name)
            )
            stage.flag("integer_invalid", bad, kolumn=name, varde=s)
            rng = f"{var.range[0]}–{var.range[1]}" if var.range else ""
            stage.flag("integer_range", out_of_range, kolumn=name, varde=s, detail=rng)
            out[name] = conv.where(~out_of_range)
    return pd.DataFrame(out, index=index)


def _age_years(birth: pd.Series, at: pd.Series) -> pd.Series:
    """Completed years between two dates (vectorised; NA when either is missing)."""
    years = at.dt.year - birth.dt.year
    before = (at.dt.month * 100 + at.dt.day) < (birth.dt.month * 100 + birth.dt.day)
    return (years - before.astype("Int64")).astype("Int64")


def age_band(age: pd.Series) -> pd.Series:
    """The catalogue's age band (0-6, 7-12, 13-17, 18-20) of completed years."""
    out = pd.Series(pd.NA, index=age.index, dtype="str")
    for lo, hi, code in _AGE_BANDS:
        out = out.mask((age >= lo) & (age <= hi), code)
    return out


def _identifiers(
    df: pd.DataFrame, raw_all: pd.DataFrame, stage: _Stage, reference_date: dt.date
) -> pd.DataFrame:
    """Validate personnummer and derive birth date and sex (the number itself is dropped later)."""
    from workbench.pseudonym import parse_personnummer

    pn = parse_personnummer(raw_all["_id_personnummer"], reference_date=reference_date)
    reason = pn["reason"]
    for code in reason.dropna().unique():
        mask = (reason == code).fillna(False).astype(bool)
        sv, en = _PNR_REASONS.get(code, (code, code))
        stage.flag(
            "personnummer",
            mask,
            kolumn="personnummer",
            varde=raw_all["_id_personnummer"],
            detail=sv,
            detail_en=en,
            identifier=True,
        )
    df = df.assign(_pnr=pn["canonical"], _birth=pn["birth_date"], _sex_pnr=pn["sex"])
    return df


def _row_rules(df: pd.DataFrame, stage: _Stage, cat: Catalogue) -> pd.DataFrame:
    """Derived variables and the cross-field rules of DOMAIN.md §6 that look at one row."""
    has = df.columns.__contains__
    for v in REQUIRED_VARIABLES:
        stage.flag("required_missing", df[v].isna(), kolumn=v)
    # sex and year of birth: recorded values win for sex, the number wins for year of birth
    if has("kon"):
        kon = df["kon"].astype("str")
        differs = kon.isin(["flicka", "pojke"]) & df["_sex_pnr"].notna()
        differs &= kon != df["_sex_pnr"]
        stage.flag("sex_differs_from_pnr", differs.fillna(False), kolumn="kon")
        df["kon"] = kon.fillna(df["_sex_pnr"])
    else:
        df["kon"] = df["_sex_pnr"]
    birth_year = df["_birth"].dt.year.astype("Int64")
    if has("fodelsear"):
        differs = df["fodelsear"].notna() & birth_year.notna() & (df["fodelsear"] != birth_year)
        stage.flag("birth_year_differs_from_pnr", differs, kolumn="fodelsear")
    df["fodelsear"] = birth_year
    # age at registration and year
    age = _age_years(df["_birth"], df["registreringsdatum"])
    bad_age = age.notna() & ((age < 0) | (age > 20))
    stage.flag("age_range", bad_age, kolumn="alder", detail=age.astype("str").fillna(""))
    df["alder"] = age.where(~bad_age)
    df["aldersgrupp"] = age_band(df["alder"])
    df["ar"] = df["registreringsdatum"].dt.year.astype("Int64")
    if has("insatstyp"):
        groups = cat.groups("insatstyp")
        df["insatsgrupp"] = df["insatstyp"].map(groups).astype("str")
    # intervention identification
    ref = df["_insats_ref"] if has("_insats_ref") else pd.Series(pd.NA, index=df.index)
    derivable = df["insats_start"].notna()
    stage.flag("insats_unidentified", ref.isna() & ~derivable, kolumn="insats")
    # legal basis
    if has("lagrum"):
        lvu2 = (df["lagrum"] == "lvu2") & (df["alder"] >= 18)
        stage.flag("lvu2_over_18", lvu2, kolumn="lagrum", detail=df["alder"].astype("str"))
        if has("insatstyp"):
            stage.flag("sis_under_sol", (df["insatstyp"] == "sis") & (df["lagrum"] == "sol"))
    # date order: impossible orders are errors; an intervention before the investigation's end
    # is a warning (emergency decisions)
    pairs = [
        ("aktualiseringsdatum", "utredning_start"),
        ("utredning_start", "utredning_slut"),
        ("insats_start", "insats_slut"),
        ("insats_start", "registreringsdatum"),
    ]
    for early, late in pairs:
        if has(early) and has(late):
            wrong = df[early].notna() & df[late].notna() & (df[late] < df[early])
            stage.flag("date_order", wrong, kolumn=late, detail=f"{late} < {early}")
    if has("utredning_slut") and has("insats_start"):
        emergency = df["insats_start"] < df["utredning_slut"]
        stage.flag("date_order_emergency", emergency.fillna(False), kolumn="insats_start")
    # reason for ending present iff the registration is an ending
    ending = df["registreringstyp"] == "avslut"
    if has("avslutsorsak"):
        stage.flag(
            "reason_without_ending",
            df["avslutsorsak"].notna() & df["registreringstyp"].notna() & ~ending,
            kolumn="avslutsorsak",
        )
        stage.flag(
            "ending_without_reason", ending & df["avslutsorsak"].isna(), kolumn="avslutsorsak"
        )
    else:
        stage.flag("ending_without_reason", ending, kolumn="avslutsorsak")
    if has("insats_slut"):
        stage.flag(
            "ending_without_end_date", ending & df["insats_slut"].isna(), kolumn="insats_slut"
        )
    return df


def _pseudonymise(df: pd.DataFrame, key: Any) -> pd.DataFrame:
    """Keyed pseudonyms for child, intervention and registration (the raw values are dropped).

    An intervention is identified by the case system's id when the profile maps one, else by
    the child, the intervention type and the start date; a registration by its id, else by its
    intervention, date and type. Keys are built only for the rows that need them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from workbench.pseudonym import pseudonymise

    sep = "\x1f"

    def iso(dates: pd.Series) -> pd.Series:
        return dates.dt.strftime("%Y-%m-%d")

    def joined(*parts: pd.Series | str) -> pd.Series:
        """``a + sep + b + ...`` (missing when a part is missing) in one pass of Arrow."""
        args = [
            pa.scalar(x, pa.large_string())
            if isinstance(x, str)
            else pa.array(x.array).cast(pa.large_string())
            for x in parts
        ]
        out = pc.binary_join_element_wise(*args, pa.scalar(sep, pa.large_string()))
        return pd.Series(pd.array(out, dtype="str"), index=df.index)

    df["barn_id"] = pseudonymise(df["_pnr"], key, domain="barn", prefix="B")
    insats_key = pd.Series(pd.NA, index=df.index, dtype="str")
    if "_insats_ref" in df:
        insats_key = joined(df["kommun"], "ref", df["_insats_ref"])
    need = insats_key.isna()
    if need.any():
        d = df.loc[need]
        insats_key = insats_key.mask(
            need,
            d["kommun"]
            + sep
            + d["_pnr"]
            + sep
            + d["insatstyp"].astype("str").fillna("")
            + sep
            + iso(d["insats_start"]),
        )
    df["_insats_key"] = insats_key
    df["insats_id"] = pseudonymise(insats_key, key, domain="insats", prefix="I")
    reg_key = pd.Series(pd.NA, index=df.index, dtype="str")
    if "_registrering_ref" in df:
        reg_key = joined(df["kommun"], "ref", df["_registrering_ref"])
    need = reg_key.isna()
    if need.any():
        d = df.loc[need]
        reg_key = reg_key.mask(
            need,
            d["_insats_key"]
            + sep
            + iso(d["registreringsdatum"])
            + sep
            + d["registreringstyp"].astype("str"),
        )
    df["registrering_id"] = pseudonymise(reg_key, key, domain="registrering", prefix="R")
    return df


def _cross_row_rules(df: pd.DataFrame, stage: _Stage, content_cols: list[str]) -> None:
    """Conflicting duplicates of one registration and more than one ending per intervention."""
    ok = ~stage.error.to_numpy()
    ids = df["registrering_id"]
    numbers = _pseudonym_numbers(ids)  # the same duplicates, hashed as integers
    dup = pd.Series(numbers if numbers is not None else ids).duplicated(keep=False).to_numpy()
    dup = dup & ok
    if dup.any():  # few rows: compare their full content
        groups = df.loc[dup]
        conflicting = groups.groupby("registrering_id")[content_cols].nunique(dropna=False).gt(1)
        bad_ids = conflicting.index[conflicting.any(axis=1)]
        stage.flag("conflicting_duplicate", ids.isin(bad_ids) & ok)
    ok = ~stage.error.to_numpy()
    ending = ok & (df["registreringstyp"] == "avslut").fillna(False).to_numpy()
    pos = np.flatnonzero(ending)
    if len(pos):
        sort = np.lexsort(
            (
                df["_rad"].to_numpy()[pos],
                df["_forder"].to_numpy()[pos],
                df["registreringsdatum"].to_numpy()[pos],
            )
        )
        ordered = pos[sort]
        extra = pd.Series(df["insats_id"].to_numpy()[ordered]).duplicated(keep="first").to_numpy()
        mask = np.zeros(len(df), dtype=bool)
        mask[ordered[extra]] = True
        stage.flag("second_ending", pd.Series(mask, index=df.index), kolumn="registreringstyp")


def _release_memory() -> None:
    """Give freed Arrow buffers back to the system (the allocator keeps them otherwise)."""
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()


# Pseudonyms are one capital letter and 16 lowercase hex digits: their text order is the order of
# the 64-bit number the hex digits spell, which sorts and searches far faster than the text.
_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
_HEX_VALUE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10)
_HEX_VALUE[np.frombuffer(b"abcdef", dtype=np.uint8)] = np.arange(10, 16)


def _pseudonym_numbers(s: pd.Series) -> np.ndarray | None:
    """The 64-bit numbers of a column of pseudonyms with one prefix, or None if it is not one.

    Equal numbers ⇔ equal texts, and the numbers sort as the texts do (no missing values).
    """
    import pyarrow as pa

    arr = pa.array(s.array)  # the column's own Arrow buffers (no Python strings)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    n = len(arr)
    if n == 0 or arr.null_count:
        return None
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=n + 1, offset=8 * arr.offset)
    if (np.diff(offsets) != 17).any():
        return None
    chars = np.frombuffer(data_buf, dtype=np.uint8, count=17 * n, offset=int(offsets[0]))
    chars = chars.reshape(n, 17)
    if (chars[:, 0] != chars[0, 0]).any() or not 65 <= chars[0, 0] <= 90:
        return None
    nibbles = _HEX_VALUE[chars[:, 1:]]
    if (nibbles == 255).any():
        return None
    pairs = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]  # (n, 8) bytes, most significant first
    return np.ascontiguousarray(pairs).view(">u8").ravel().astype(np.uint64)


def _order_codes(s: pd.Series) -> np.ndarray:
    """Integers that sort as ``s`` sorts (missing values last), as ``sort_values`` orders them."""
    if s.dtype.kind == "M":
        v = s.to_numpy(dtype="datetime64[ns]").view(np.int64)
        return np.where(np.isnat(s.to_numpy(dtype="datetime64[ns]")), np.iinfo(np.int64).max, v)
    if s.dtype == "str":
        numbers = _pseudonym_numbers(s)
        if numbers is not None:
            return numbers
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes).astype(np.int64)


def _sorted_positions(df: pd.DataFrame, by: list[str]) -> np.ndarray:
    """Row positions of ``df.sort_values(by, kind="stable")`` (missing values last), on integers.

    Sorting on the columns' integer codes (``np.lexsort`` is stable) gives the same order as
    pandas' sort of the text, several times faster on a million pseudonyms.
    """
    return np.lexsort([_order_codes(df[c]) for c in reversed(by)])


def _positions_in(unique: pd.Series, values: pd.Series) -> np.ndarray:
    """Position in ``unique`` (distinct values) of each of ``values``, -1 when absent.

    ``pd.Index(unique).get_indexer(values)``, on the pseudonyms' integers when both columns are
    pseudonyms with the same prefix.
    """
    hay, needles = _pseudonym_numbers(unique), _pseudonym_numbers(values)
    if hay is None or needles is None or unique.iat[0][0] != values.iat[0][0]:
        return pd.Index(unique).get_indexer(values)
    order = np.argsort(hay, kind="stable")
    at = np.minimum(np.searchsorted(hay[order], needles), len(hay) - 1)
    return np.where(hay[order][at] == needles, order[at], -1)


def _time_order(df: pd.DataFrame) -> np.ndarray:
    """Row positions in time order: registration date, then file, then row in the file."""
    return np.lexsort(
        (df["_rad"].to_numpy(), df["_forder"].to_numpy(), df["registreringsdatum"].to_numpy())
    )


def _value_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integers equal exactly when the values are equal, and where a value is present.

    The column's own numbers where it has them (category codes, dates, integers, booleans,
    pseudonyms' 64-bit numbers); ``pd.factorize`` only for other text.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = np.asarray(values.array.codes)
        return codes, codes >= 0
    if dtype.kind == "M":
        dates = values.to_numpy(dtype="datetime64[ns]")
        return dates.view(np.int64), ~np.isnat(dates)
    if dtype in ("Int64", "boolean"):
        present = values.notna().to_numpy()
        return values.to_numpy(dtype=np.int64, na_value=0), present
    numbers = _pseudonym_numbers(values) if dtype == "str" else None
    if numbers is not None:
        return numbers, np.ones(len(numbers), dtype=bool)
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return codes, codes >= 0


def _latest(
    df: pd.DataFrame,
    key: str,
    cols: list[str],
    conflicts: list[tuple[str, np.ndarray, str]],
    rule: str,
    rank: np.ndarray,
) -> pd.DataFrame:
    """One row per ``key``: the latest registration's non-missing values; conflicts listed.

    ``rank`` is each row's position in time order (:func:`_time_order`). Works on integer codes
    (:func:`_value_codes`), so a million rows stay fast: for each column, the value of the
    latest row with a value in each group is chosen, and every other row with a different
    non-missing value gets a warning: ``(rule, row mask, column)`` is appended to
    ``conflicts`` for the caller to flag (this function touches no shared state, so it can run
    on a second thread).
    """
    numbers = _pseudonym_numbers(df[key])
    if numbers is not None:  # groups in the text order of the key, found on integers
        _, first, group = np.unique(numbers, return_index=True, return_inverse=True)
        key_column = df[key].iloc[first].reset_index(drop=True)
    else:
        group, keys = pd.factorize(df[key], sort=True)
        key_column = pd.Series(np.asarray(keys, dtype=object)).astype(df[key].dtype)
    n_groups = len(key_column)
    by_rank = np.empty(len(rank), dtype=np.int64)
    by_rank[rank] = np.arange(len(rank))  # time position → row
    out: dict[str, object] = {key: key_column}
    for col in cols:
        if col == key:
            continue
        values = df[col]
        codes, present = _value_codes(values)
        best = np.full(n_groups, -1, dtype=np.int64)  # latest time position with a value
        np.maximum.at(best, group[present], rank[present])
        found = best >= 0
        row = np.where(found, by_rank[np.maximum(best, 0)], 0)
        chosen_code = codes[row]  # groups without a value have no present row to compare
        if col != "kommun" and not col.startswith("_"):
            differs = present & (codes != chosen_code[group])
            if differs.any():
                conflicts.append((rule, differs, col))
        taken = values.iloc[row].reset_index(drop=True)
        out[col] = taken if found.all() else taken.where(pd.Series(found))
    return pd.DataFrame(out)


def _rereferral(reg: pd.DataFrame, ins: pd.DataFrame, data_end: pd.Timestamp) -> pd.Series:
    """Re-referral within 12 months of an ending (KKiK-style, within the ingested data).

    For an ending registration: True if the same child has another intervention opened
    (aktualiseringsdatum, else investigation start, else intervention start) in (end, end + 12
    months]; NA when the 12-month window reaches past the data's end or the end date is unknown.
    """
    out = pd.Series(pd.NA, index=reg.index, dtype="boolean")
    ending = reg["registreringstyp"] == "avslut"
    if not ending.any():
        return out
    opened = pd.Series(pd.NaT, index=ins.index, dtype="datetime64[ns]")
    for c in ("insats_start", "utredning_start", "aktualiseringsdatum"):  # best last
        if c in ins:
            opened = ins[c].combine_first(opened)
    e = reg.loc[ending, ["barn_id", "insats_id", "registreringsdatum"]]
    pos = _positions_in(ins["insats_id"], e["insats_id"])  # one join for both lookups
    if "insats_slut" in ins:
        end = pd.Series(ins["insats_slut"].to_numpy()[pos], index=e.index)
    else:
        end = e["registreringsdatum"]
    end = end.fillna(e["registreringsdatum"])
    limit = end + pd.DateOffset(months=12)
    # count the child's openings in (end, limit] with one sorted array of (child, day) keys
    both = pd.concat([ins["barn_id"], e["barn_id"]], ignore_index=True)
    numbers = _pseudonym_numbers(both)
    child, _ = pd.factorize(numbers if numbers is not None else both)
    child_ins, child_e = child[: len(ins)].astype(np.int64), child[len(ins) :].astype(np.int64)
    day = np.int64(86_400 * 10**9)
    scale = np.int64(10**7)  # more days than any date in range

    def days(d: pd.Series) -> np.ndarray:
        return d.to_numpy(dtype="datetime64[ns]").astype(np.int64) // day

    op = opened.to_numpy(dtype="datetime64[ns]")
    valid = ~np.isnat(op)
    keys = np.sort(child_ins[valid] * scale + op[valid].astype(np.int64) // day)
    lo = child_e * scale + days(end)
    hi = child_e * scale + days(limit)
    count = np.searchsorted(keys, hi, side="right") - np.searchsorted(keys, lo, side="right")
    # the ended intervention's own opening never counts as a return
    own = pd.Series(opened.to_numpy()[pos], index=e.index)
    own_days = days(own)
    own_in = ~np.isnat(own.to_numpy(dtype="datetime64[ns]"))
    own_in &= (own_days > days(end)) & (own_days <= days(limit))
    back = (count - own_in.astype(np.int64)) > 0
    known = (limit <= data_end).to_numpy()
    values = pd.array(back, dtype="boolean")
    values[~known] = pd.NA
    out.loc[e.index] = values
    return out


def _system_allocator(fn):
    """Run ``fn`` with Arrow's system allocator (freed buffers go back to the OS at once)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import pyarrow as pa

        previous = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())
        try:
            return fn(*args, **kwargs)
        finally:
            pa.set_memory_pool(previous)

    return wrapper


class _Clock:
    """Seconds per pipeline step (wall and CPU), for the benchmark's breakdown (never data)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self._t = time.perf_counter()
        self._c = time.process_time()

    def lap(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._t
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu - self._c
        self._t, self._c = now, cpu
        try:  # peak resident memory so far (Linux: KiB), to see which step sets the peak
            import resource

            self.peak[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        except ImportError:  # pragma: no cover - not on POSIX
            pass


# -- the pipeline ---------------------------------------------------------------------------------


def _hash_inputs(parts: Sequence[str]) -> str:
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()


@_system_allocator
def ingest(
    files: Sequence[str | os.PathLike[str]],
    *,
    profile: str | Path | Profile,
    out_dir: str | os.PathLike[str],
    key: Any = None,
    kommun: str | None = None,
    reference_date: dt.date | None = None,
    accept_quarantine: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
) -> IngestResult:
    """Ingest municipal export files into a canonical dataset in ``out_dir``.

    Parameters
    ----------
    files
        CSV or Excel exports of one profile (several files are combined; order does not matter).
    profile
        A profile name in ``data/reference/profiles/``, a path, or a loaded :class:`Profile`.
    out_dir
        Where the canonical dataset is written (private zone; replaced atomically).
    key
        The pseudonymisation key (:func:`workbench.pseudonym.load_key` when omitted).
    kommun
        Municipality code for files without a municipality column.
    reference_date
        The export's reference date, used to place 10-digit personnummer in their century and to
        know which 12-month re-referral windows are complete. Default: the latest registration
        date in the files.
    accept_quarantine
        Write the dataset even though rows were quarantined (they are always kept in
        ``quarantine.csv``). Without it, errors leave any earlier dataset untouched.
    report_dir
        Where the ingest report, problem list and quarantine go (default ``<out_dir>-ingest``).

    Notes
    -----
    While it runs, Arrow allocates from the system allocator, which returns freed column
    buffers to the operating system at once (the default pool keeps them), so a million-row
    export peaks well under 2 GB. The previous pool is restored afterwards.
    """
    from workbench.municipalities import normalise_kommun
    from workbench.pseudonym import load_key

    cat = load_catalogue()
    prof = profile if isinstance(profile, Profile) else load_profile(profile, cat=cat)
    if key is None:
        key = load_key()
    if kommun is not None:
        kommun = normalise_kommun(kommun, allow_national=False)
    out = Path(out_dir)
    rep = Path(report_dir) if report_dir is not None else out.with_name(out.name + "-ingest")
    paths_in = [Path(f) for f in files]
    if not paths_in:
        raise IngestError("No input files given.")
    for p in paths_in:
        if not p.is_file():
            raise IngestError(f"{p}: no such file.")

    clock = _Clock()
    raws: list[RawExport] = []
    for p in paths_in:
        raws.append(_read(p, prof, cat))
    raws.sort(key=lambda r: (r.path.name, r.sha256))
    names = [r.path.name for r in raws]
    if len(set(names)) != len(names):
        names = [str(r.path) for r in raws]

    file_rows: list[dict[str, Any]] = []
    found: list[pd.DataFrame] = []
    mapped: list[pd.DataFrame] = []
    for order, (raw, name) in enumerate(zip(raws, names, strict=True)):
        match = match_header(prof, raw.header)
        _check_match(raw, match, prof, cat)
        for col in match.unmapped:
            found.append(problems("column_not_read", fil=name, kolumn=col))
        for label in match.missing:
            if label in ("kommun", "personnummer") or label in REQUIRED_VARIABLES:
                continue
            found.append(problems("column_missing", fil=name, detail=label))
        m = mapped_raw(raw, match)
        m.insert(0, "_fil", name)
        m.insert(1, "_forder", order)
        mapped.append(m)
        file_rows.append({**file_record(name, raw), "stated_totals": list(raw.stated_totals)})
    clock.lap("read")
    inputs = [(r.path.name, r.sha256) for r in raws]
    raws.clear()  # the files' frames are referenced by `mapped` only from here: free the rest
    del raw
    raw_all = pd.concat(mapped, ignore_index=True) if len(mapped) > 1 else mapped[0]
    del mapped
    # exact duplicates: identical in every column read (across files too), first occurrence kept
    content = [c for c in raw_all.columns if c not in ("_fil", "_forder", "_rad")]
    dup = _exact_duplicates(raw_all, content)
    dup_per_file = raw_all.loc[dup].groupby("_fil").size()
    raw_all = raw_all.loc[~dup].reset_index(drop=True)

    stage = _Stage(
        raw_all[["_fil", "_forder", "_rad"]].copy(), pd.Series(False, index=raw_all.index), found
    )
    clock.lap("dedupe")
    df = _convert(raw_all, prof, cat, kommun, stage)
    df = pd.concat([raw_all[["_fil", "_forder", "_rad"]], df], axis=1)
    for v in (*REQUIRED_VARIABLES, "insatstyp", "insats_start"):
        if v not in df:
            df[v] = pd.Series(
                pd.NA, index=df.index, dtype="datetime64[ns]" if "start" in v else "str"
            )
    for role in ("insats", "registrering"):
        if f"_id_{role}" in raw_all:
            ref = raw_all[f"_id_{role}"].str.strip()
            df[f"_{role}_ref"] = ref.where(ref != "")
    if reference_date is None:
        latest = df["registreringsdatum"].max()
        if pd.isna(latest):
            unread = int(
                df["registreringsdatum"].isna().sum() - raw_all["registreringsdatum"].isna().sum()
            )
            hint = (
                f" {unread} registration dates could not be read with file.date_format "
                f"{prof.date_format!r}: check the profile."
                if unread
                else ""
            )
            raise IngestError(
                "No valid registration date in the files, so the reference date for 10-digit "
                "personnummer is unknown. Pass --reference-date YYYY-MM-DD (the export date)."
                + hint
            )
        reference_date = latest.date()
    ref_ts = pd.Timestamp(reference_date)
    stage.frame = df
    clock.lap("convert")
    df = _identifiers(df, raw_all, stage, reference_date)
    stage.frame = df
    clock.lap("personnummer")
    df = _row_rules(df, stage, cat)
    stage.frame = df
    clock.lap("row_rules")
    df = _pseudonymise(df, key)
    stage.frame = df
    recorded = [
        c
        for c in df.columns
        if not c.startswith("_") and c not in ("barn_id", "insats_id", "registrering_id")
    ]
    clock.lap("pseudonyms")
    _cross_row_rules(df, stage, recorded)

    quarantined = stage.error.to_numpy()
    q_staged = df.loc[quarantined, ["_fil", "_rad"]]
    q_raw = raw_all.loc[quarantined]
    del raw_all  # the raw strings are no longer needed: free them before building tables
    # accepted rows in the canonical order of the registrations table, taken in one pass
    keep = np.flatnonzero(~quarantined)
    keys = df.loc[keep, ["kommun", "registreringsdatum", "registrering_id"]].reset_index(drop=True)
    canonical = _sorted_positions(keys, list(keys.columns))
    needed = {
        c for t in ("children", "interventions", "registrations") for c in table_columns(t, cat)
    }
    needed |= {"_fil", "_forder", "_rad"}
    _release_memory()
    rows = keep[canonical]
    columns: dict[str, pd.Series] = {}
    for c in [c for c in df.columns if c in needed]:  # column by column: peak = df + 1 column
        columns[c] = df.pop(c).iloc[rows].reset_index(drop=True)
    del df
    kept = pd.DataFrame(columns)
    del columns
    _release_memory()
    counts = pd.DataFrame(file_rows)
    counts["dubbletter"] = counts["fil"].map(dup_per_file).fillna(0).astype(int)
    counts["karantan"] = counts["fil"].map(q_staged.groupby("_fil").size()).fillna(0)
    counts["karantan"] = counts["karantan"].astype(int)
    counts["accepterade"] = counts["fil"].map(kept.groupby("_fil").size()).fillna(0).astype(int)
    for row in counts.to_dict("records"):
        for total in row["stated_totals"]:
            if total not in (row["datarader"], row["datarader"] + row["upprepade_rubriker"]):
                stage.found.append(
                    problems(
                        "stated_total_mismatch",
                        fil=row["fil"],
                        detail=f"{total} rader, filen har {row['datarader']} / "
                        f"{total} rows, the file has {row['datarader']}",
                    )
                )
    counts["summa_angiven"] = counts.pop("stated_totals").map(
        lambda t: ", ".join(str(x) for x in t)
    )

    # tables
    clock.lap("cross_row")
    tables = _build_tables(kept, cat, stage, ref_ts)
    stage.frame, stage.error = kept.iloc[:0], stage.error.iloc[:0]  # no more row checks
    del kept
    _release_memory()
    probs = concat_problems(stage.found)
    clock.lap("tables")
    unknown = _unknown_codes(probs)
    completeness = _completeness(tables, cat)

    files_part = [f"{name}:{sha}" for name, sha in inputs]
    input_hash = _hash_inputs(
        [
            *files_part,
            f"profile:{prof.sha256}",
            f"catalogue:{cat.version}:{hashlib.sha256(cat.path.read_bytes()).hexdigest()}",
            f"package:{__version__}",
            f"key:{key.key_id}",
            f"kommun:{kommun}",
            f"reference:{reference_date.isoformat()}",
        ]
    )
    ingested_at = _previous_time(rep, input_hash) or dt.datetime.now(dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    n_errors = int((probs["allvarlighet"] == ERROR).sum())
    write = n_errors == 0 or accept_quarantine
    result = IngestResult(
        out_dir=out,
        report_dir=rep,
        profile=prof.name,
        key_id=key.key_id,
        files=counts,
        problems=probs,
        unknown_codes=unknown,
        completeness=completeness,
        table_rows={k: len(v) for k, v in tables.items()},
        written=write,
        reference_date=reference_date.isoformat(),
        input_hash=input_hash,
        ingested_at=ingested_at,
        timings=clock.laps,
        cpu=clock.cpu,
        peak_gb=clock.peak,
    )
    if not result.balanced:  # an internal invariant: never let rows vanish silently
        raise IngestError(f"Row counts do not balance: {counts.to_dict('records')}")

    from workbench.ingest.report import write_ingest_outputs

    clock.lap("summaries")
    write_ingest_outputs(result, q_staged, q_raw, prof)
    del q_raw
    _release_memory()
    clock.lap("report")
    if write:
        provenance = {
            "input_hash": input_hash,
            "ingested_at": ingested_at,
            "profile": {"name": prof.name, "sha256": prof.sha256, "system": prof.system},
            "key_id": key.key_id,
            "reference_date": reference_date.isoformat(),
            "files": [
                {
                    k: r[k]
                    for k in (
                        "fil",
                        "sha256",
                        "storlek",
                        "rader_lasta",
                        "accepterade",
                        "karantan",
                        "dubbletter",
                        "strukturrader",
                    )
                }
                for r in counts.to_dict("records")
            ],
        }
        _write_dataset_atomically(tables, out, cat, prof, provenance, reference_date)
        clock.lap("write")
    return result


def _previous_time(rep: Path, input_hash: str) -> str | None:
    """The earlier ingest time when the same inputs were ingested before (idempotent output)."""
    path = rep / "ingest.json"
    try:
        prev = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return prev.get("ingested_at") if prev.get("input_hash") == input_hash else None


def _build_tables(
    kept: pd.DataFrame, cat: Catalogue, stage: _Stage, data_end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """The canonical tables from the accepted rows (conflicts between rows are warnings)."""
    stage.frame = kept
    stage.error = pd.Series(False, index=kept.index)
    tables: dict[str, pd.DataFrame] = {}
    layouts = {t: table_columns(t, cat) for t in ("children", "interventions", "registrations")}

    def fill(frame: pd.DataFrame, table: str) -> pd.DataFrame:
        cols = layouts[table]
        out: dict[str, pd.Series] = {}
        for c, dtype in cols.items():
            if c not in frame:
                out[c] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
            elif isinstance(frame[c].dtype, pd.CategoricalDtype):  # codes → text, via Arrow
                cat = frame[c].array
                out[c] = broadcast(cat.codes, list(cat.categories), index=frame.index, dtype="str")
            else:
                out[c] = frame[c].astype(dtype)
        return pd.DataFrame(out)

    order = _time_order(kept)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    child_cols = [c for c in layouts["children"] if c not in ("barn_id",) and c in kept]
    ins_cols = [c for c in layouts["interventions"] if c not in ("insats_id",) and c in kept]
    child_conflicts: list[tuple[str, np.ndarray, str]] = []
    ins_conflicts: list[tuple[str, np.ndarray, str]] = []

    def children_table() -> pd.DataFrame:
        children = _latest(kept, "barn_id", child_cols, child_conflicts, "child_conflict", rank)
        # sorted while the codes are still categorical (cheap to reorder), then filled as text
        order = _sorted_positions(children, ["kommun", "barn_id"])
        return fill(children.take(order).reset_index(drop=True), "children")

    # The children and the registrations' text columns are built on a second thread while this
    # one builds the interventions: much of the work is Arrow and numpy, which release the GIL.
    # Neither touches shared state; the results are the same as one after the other.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        children_done = pool.submit(children_table)
        # already in canonical order; the re-referral column needs the interventions
        registrations_done = pool.submit(fill, kept, "registrations")
        interventions = _latest(
            kept, "insats_id", ins_cols, ins_conflicts, "intervention_conflict", rank
        )
        rereferral = _rereferral(kept, interventions, data_end)
        order = _sorted_positions(interventions, ["kommun", "insats_start", "insats_id"])
        interventions_sorted = interventions.take(order).reset_index(drop=True)
        tables["interventions"] = fill(interventions_sorted, "interventions")
        tables["children"] = children_done.result()
        registrations = registrations_done.result()
    if "aterkomst_12man" in layouts["registrations"]:
        registrations["aterkomst_12man"] = rereferral.astype(
            layouts["registrations"]["aterkomst_12man"]
        )
    tables["registrations"] = registrations
    for rule, mask, col in [*child_conflicts, *ins_conflicts]:  # in the order of a serial run
        stage.flag(rule, pd.Series(mask, index=kept.index), kolumn=col)
    tables = {t: tables[t] for t in ("children", "interventions", "registrations")}
    for t in ("vignette_ratings", "survey"):
        tables[t] = pd.DataFrame({c: pd.Series(dtype=d) for c, d in table_columns(t, cat).items()})
    return tables


def _unknown_codes(probs: pd.DataFrame) -> pd.DataFrame:
    u = probs[probs["regel"] == "unknown_code"]
    if u.empty:
        return pd.DataFrame(columns=["variabel", "varde", "antal", "narmast"])
    out = (
        u.assign(narmast=u["meddelande"].str.split("närmast: ").str[-1])
        .groupby(["kolumn", "varde", "narmast"], sort=True)
        .size()
        .reset_index(name="antal")
        .rename(columns={"kolumn": "variabel"})
        .sort_values(["variabel", "antal"], ascending=[True, False], ignore_index=True)
    )
    return out[["variabel", "varde", "antal", "narmast"]]


def _completeness(tables: dict[str, pd.DataFrame], cat: Catalogue) -> pd.DataFrame:
    """Per recorded variable: share filled with a known value, unknown/not assessable, missing."""
    rows = []
    for var in cat.variables.values():
        if var.table not in ("children", "interventions", "registrations"):
            continue
        df = tables[var.table]
        n = len(df)
        if var.type == "multi":
            filled = df[list(var.columns)].notna().any(axis=1)
            unknown = pd.Series(False, index=df.index)
        else:
            filled = df[var.name].notna()
            soft = var.codelist.codes_of_kind("unknown", "not_assessable") if var.codelist else ()
            unknown = df[var.name].isin(list(soft)) if soft else pd.Series(False, index=df.index)
        if var.applies_when:
            ((cond_var, cond_val),) = var.applies_when.items()
            applies = (
                df[cond_var] == cond_val if cond_var in df else pd.Series(True, index=df.index)
            )
            n = int(applies.sum())
            filled, unknown = filled & applies, unknown & applies
        rows.append(
            {
                "variabel": var.name,
                "etikett": var.sv,
                "tabell": var.table,
                "harledd": var.derived,
                "n": n,
                "ifylld_kand": (int(filled.sum()) - int(unknown.sum())) / n if n else np.nan,
                "okand_ej_bedomd": int(unknown.sum()) / n if n else np.nan,
                "saknas": (n - int(filled.sum())) / n if n else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _write_dataset_atomically(
    tables: dict[str, pd.DataFrame],
    out: Path,
    cat: Catalogue,
    prof: Profile,
    provenance: dict[str, Any],
    reference_date: dt.date,
) -> None:
    """Write into a sibling temporary folder, then swap it into place (no half-written dataset)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        write_dataset(
            tables,
            tmp,
            source=f"ingest profile={prof.name}",
            extra={"data_date": reference_date.isoformat(), "ingest": provenance},
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


__all__ = ["IngestError", "IngestResult", "age_band", "ingest", "KEY_COLUMNS", "normalise_label"]
