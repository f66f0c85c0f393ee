"""``workbench profile suggest FILE``: propose an export profile from a file's header and values.

The proposal is a starting point a researcher edits, never a silent guess: every mapping it makes
is written out in the YAML, and everything it could not map (columns, values, the date format when
day and month cannot be told apart) is listed for a decision.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from workbench.catalogue import Catalogue, load_catalogue
from workbench.ingest.profile import code_lookup, normalise_label, parse_profile

_ID_HINTS = {
    "personnummer": (
        "personnummer",
        "personnr",
        "pnr",
        "person nr",
        "personnummer barn",
        "pers nr",
    ),
    "insats": ("insats id", "insatsid", "insats-id", "insatsnummer", "beslut id"),
    "registrering": ("registrerings id", "registreringsid", "registrering id", "uppföljnings id"),
}
_KOMMUN_HINTS = ("kommun", "kommunkod", "kommun kod", "kommunnummer")
_FREE_TEXT_HINTS = ("namn", "name", "anteckning", "kommentar", "fritext", "handläggare", "adress")
_SEPARATORS = (",", ";", "|", "/")


@dataclass(frozen=True)
class Suggestion:
    """A proposed profile (YAML text) and what could not be mapped."""

    yaml_text: str
    profile: dict
    unmapped_columns: tuple[str, ...]
    unmapped_values: pd.DataFrame  # variable, column, value, n, closest
    notes: tuple[str, ...]


def _simplify(label: str) -> str:
    s = normalise_label(re.sub(r"\(.*?\)", "", label))
    return s.replace("_", " ").replace("-", " ").strip()


def _candidates(cat: Catalogue) -> dict[str, str]:
    """Simplified spelling → variable, from names and Swedish/English labels."""
    out: dict[str, str] = {}
    for var in cat.variables.values():
        if var.derived or var.table not in ("children", "interventions", "registrations"):
            continue
        for s in (var.name, var.sv, var.en):
            out.setdefault(_simplify(s), var.name)
    return out


def _match_variable(header: str, cands: dict[str, str]) -> str | None:
    h = _simplify(header)
    if h in cands:
        return cands[h]
    close = difflib.get_close_matches(h, list(cands), n=1, cutoff=0.82)
    return cands[close[0]] if close else None


def _date_format(values: pd.Series) -> tuple[str, str | None]:
    """The date format the values show, and a note when it cannot be decided safely."""
    v = values.dropna().astype("str").str.strip()
    if v.empty:
        return "auto", None
    if v.str.match(r"^\d{4}-\d{2}-\d{2}").all() or v.str.match(r"^\d{8}$").all():
        return "auto", None
    m = v.str.extract(r"^(\d{1,2})([/.])(\d{1,2})\2(\d{4})$")
    if m[0].notna().all():
        a, b = m[0].astype(int), m[2].astype(int)
        sep = m[1].iloc[0]
        if sep == ".":
            return "D.M.YYYY", None
        if (a > 12).any() and (b <= 12).all():
            return "D/M/YYYY", None
        if (b > 12).any() and (a <= 12).all():
            return "M/D/YYYY", None
        return "auto", (
            "Dates like 3/4/2021 cannot be told apart (day/month); set file.date_format to "
            '"D/M/YYYY" or "M/D/YYYY" after checking the case system.'
        )
    num = pd.to_numeric(v, errors="coerce")
    if num.notna().all() and num.between(20000, 80000).all():
        return "excel_serial", "Dates look like Excel serial numbers; check a few by hand."
    return "auto", "Some dates have an unknown format; check file.date_format."


def suggest_profile(path: str | Path, *, name: str | None = None) -> Suggestion:
    """Propose a profile for one export file (see the module docstring)."""
    from workbench.ingest.read import read_export

    cat = load_catalogue()
    path = Path(path)
    raw = read_export(path)
    data = raw.data
    cands = _candidates(cat)
    columns: dict[str, list[str]] = {}
    multi: dict[str, dict] = {}
    identifiers: dict[str, list[str]] = {}
    kommun: list[str] = []
    ignore: list[str] = []
    unmapped: list[str] = []
    notes: list[str] = []
    date_format = "auto"
    for h in raw.header:
        simple = _simplify(h)
        role = next((r for r, hints in _ID_HINTS.items() if simple in hints), None)
        if role and role not in identifiers:
            identifiers[role] = [h]
            continue
        if simple in _KOMMUN_HINTS and not kommun:
            kommun = [h]
            continue
        if any(hint in simple for hint in _FREE_TEXT_HINTS):
            ignore.append(h)
            notes.append(
                f"{h!r}: looks like names or free text; listed under ignore: (never read)."
            )
            continue
        # "Variable: code" one column per option
        if ":" in h:
            left, right = (p.strip() for p in h.split(":", 1))
            var = _match_variable(left, cands)
            if var and cat.variable(var).type == "multi":
                code = code_lookup(cat, var).table.get(normalise_label(right))
                if code:
                    multi.setdefault(var, {"columns": {}})["columns"][code] = [h]
                    continue
        var = _match_variable(h, cands)
        if var is None or var in columns or var in multi:
            unmapped.append(h)
            continue
        vtype = cat.variable(var).type
        if vtype == "multi":
            sample = data[h].dropna().astype("str")
            sep = max(_SEPARATORS, key=lambda s: sample.str.count(re.escape(s)).sum())
            multi[var] = {"column": [h], "separator": sep}
        else:
            columns[var] = [h]
            if vtype == "date":
                fmt, note = _date_format(data[h])
                if fmt != "auto":
                    date_format = fmt
                if note:
                    notes.append(f"{h!r}: {note}")
    if "personnummer" not in identifiers:
        notes.append(
            "No personnummer column recognised: set identifiers.personnummer to the child's "
            "personnummer column (required)."
        )
    decimal = ","
    if "fodelsear" in columns:
        s = data[columns["fodelsear"][0]].dropna().astype("str")
        if s.str.contains(r"\.\d", regex=True).any():
            decimal = "."
    prof: dict = {
        "name": name or re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-"),
        "title_sv": f"Förslag från {path.name}",
        "title_en": f"Suggested from {path.name}",
        "system": "",
        "status": "draft",
        "file": {
            "encoding": "auto",
            "delimiter": {"\t": "tab"}.get(raw.delimiter or "", raw.delimiter or "auto"),
            "decimal": decimal,
            "date_format": date_format,
        },
    }
    if kommun:
        prof["kommun"] = {"column": kommun}
    prof["identifiers"] = identifiers
    prof["columns"] = columns
    if multi:
        prof["multi"] = multi
    # values the catalogue does not know
    rows = []
    values: dict[str, dict[str, str]] = {}
    for var, cols in columns.items():
        if cat.variable(var).codelist is None:
            continue
        lookup = code_lookup(cat, var)
        counts = data[cols[0]].dropna().value_counts()
        for value, n in counts.items():
            if normalise_label(str(value)) not in lookup.table:
                closest = lookup.closest(str(value))
                rows.append(
                    {
                        "variabel": var,
                        "kolumn": cols[0],
                        "varde": value,
                        "antal": int(n),
                        "narmast": ", ".join(closest),
                    }
                )
    for var, spec in multi.items():
        if "column" not in spec:
            continue
        lookup = code_lookup(cat, var)
        parts = (
            data[spec["column"][0]].dropna().astype("str").str.split(spec["separator"]).explode()
        )
        for value, n in parts.str.strip().value_counts().items():
            if value and normalise_label(value) not in lookup.table:
                rows.append(
                    {
                        "variabel": var,
                        "kolumn": spec["column"][0],
                        "varde": value,
                        "antal": int(n),
                        "narmast": ", ".join(lookup.closest(value)),
                    }
                )
    if values:
        prof["values"] = values
    if ignore:
        prof["ignore"] = ignore
    unmapped_values = pd.DataFrame(
        rows, columns=["variabel", "kolumn", "varde", "antal", "narmast"]
    )
    text = _render(prof, unmapped, unmapped_values, notes)
    if "personnummer" in identifiers:
        parse_profile(yaml.safe_load(text), path=path.with_suffix(".yaml"), cat=cat)  # self-check
    return Suggestion(text, prof, tuple(unmapped), unmapped_values, tuple(notes))


def _render(
    prof: dict, unmapped: Sequence[str], values: pd.DataFrame, notes: Sequence[str]
) -> str:
    from workbench.pseudonym import mask_identifier

    head = [
        "# Export profile proposed by `workbench profile suggest`. Check every line before use.",
        "# Save as data/reference/profiles/<name>.yaml (or pass the path to --profile).",
    ]
    for n in notes:
        head.append(f"# NOTE: {n}")
    if unmapped:
        head.append("# Columns not mapped (not read unless you add them under columns:/ignore:):")
        head += [f"#   - {c}" for c in unmapped]
    body = yaml.safe_dump(prof, allow_unicode=True, sort_keys=False, width=100)
    tail = []
    if not values.empty:
        tail.append(
            "# Values not in the catalogue (add under values: <variable>: {spelling: code}):"
        )
        tail.append("# values:")
        for var, grp in values.groupby("variabel", sort=True):
            tail.append(f"#   {var}:")
            for r in grp.itertuples(index=False):
                shown = (
                    r.varde
                    if not re.search(r"\d{6,}", str(r.varde))
                    else mask_identifier(str(r.varde))
                )
                tail.append(
                    f"#     {yaml.safe_dump(str(shown)).strip().removesuffix('...').strip()}: "
                    f"?   # {r.antal} rows; closest: {r.narmast or '-'}"
                )
    return "\n".join(head) + "\n" + body + ("\n".join(tail) + "\n" if tail else "")
