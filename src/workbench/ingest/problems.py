"""Problems found during ingest: one record per file × row × column × rule, in Swedish and English.

Every rule has a severity: ``fel`` (error: the row is quarantined) or ``varning`` (warning: the row
is kept and the warning reported). Values are shown masked where they could identify someone
(identifiers always; any run of six or more digits in other values) and cut to 40 characters, so
problem lists and ingest reports can be read without exposing case data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

ERROR = "fel"
WARNING = "varning"
PROBLEM_COLUMNS = [
    "fil",
    "rad",
    "kolumn",
    "varde",
    "regel",
    "allvarlighet",
    "meddelande",
    "message",
    "atgard",
    "fix",
]


@dataclass(frozen=True)
class Rule:
    severity: str
    sv: str
    en: str
    fix_sv: str
    fix_en: str


#: Every ingest rule. Messages may use {column}, {value} and {detail}.
RULES: dict[str, Rule] = {
    # identifiers
    "personnummer": Rule(
        ERROR,
        "Ogiltigt personnummer/samordningsnummer ({detail})",
        "Invalid personnummer/samordningsnummer ({detail})",
        "Rätta numret i verksamhetssystemet och exportera igen; exportera id-kolumner som text",
        "Correct the number in the case system and re-export; export identifier columns as text",
    ),
    "kommun_missing": Rule(
        ERROR,
        "Kommunkod saknas",
        "Municipality code missing",
        "Fyll i kommunkoden eller ange --kommun",
        "Fill in the municipality code or pass --kommun",
    ),
    "kommun_unknown": Rule(
        ERROR,
        "Okänd kommunkod ({detail})",
        "Unknown municipality code ({detail})",
        'Använd fyrställig kommunkod som text, t.ex. "0180" (se `workbench.list_municipalities()`)',
        'Use the four-character code as text, e.g. "0180" (see `workbench.list_municipalities()`)',
    ),
    # values
    "unknown_code": Rule(
        ERROR,
        "Värdet finns inte i kodlistan för {column}; närmast: {detail}",
        "Value not in the code list of {column}; closest: {detail}",
        "Lägg till stavningen under values: i profilen, eller rätta värdet i källan "
        "(koder: `workbench variables`)",
        "Add the spelling under values: in the profile, or correct the source value "
        "(codes: `workbench variables`)",
    ),
    "bad_marker": Rule(
        ERROR,
        "Flervalskolumnen ska innehålla ja/nej, 1/0 eller X (fick annat)",
        "Multi-select option column must hold yes/no, 1/0 or X (got something else)",
        "Exportera alternativen som 1/0 eller ja/nej",
        "Export the options as 1/0 or yes/no",
    ),
    "date_invalid": Rule(
        ERROR,
        "Datumet kan inte tolkas med formatet {detail}",
        "The date cannot be read with format {detail}",
        "Kontrollera file.date_format i profilen eller rätta datumet i källan",
        "Check file.date_format in the profile or correct the date in the source",
    ),
    "date_format_undeclared": Rule(
        ERROR,
        "Datumformatet är inte entydigt (dag/månad kan förväxlas) och inte angivet",
        "Date format is ambiguous (day/month order) and not declared",
        'Ange file.date_format i profilen, t.ex. "D/M/YYYY"',
        'Declare file.date_format in the profile, e.g. "D/M/YYYY"',
    ),
    "integer_invalid": Rule(
        ERROR,
        "Inte ett heltal",
        "Not a whole number",
        "Rätta värdet; kontrollera file.decimal i profilen",
        "Correct the value; check file.decimal in the profile",
    ),
    "integer_range": Rule(
        ERROR,
        "Utanför tillåtet intervall {detail}",
        "Outside the allowed range {detail}",
        "Rätta värdet i källan",
        "Correct the value in the source",
    ),
    "required_missing": Rule(
        ERROR,
        "Obligatoriskt värde saknas",
        "Required value missing",
        "Fyll i värdet i verksamhetssystemet och exportera igen",
        "Fill in the value in the case system and re-export",
    ),
    "insats_unidentified": Rule(
        ERROR,
        "Insatsen kan inte identifieras (varken insats-id eller insatsens startdatum)",
        "The intervention cannot be identified (neither an intervention id nor its start date)",
        "Exportera insats-id, eller insatsens startdatum",
        "Export an intervention id, or the intervention's start date",
    ),
    # cross-field rules (DOMAIN.md §6)
    "age_range": Rule(
        ERROR,
        "Åldern vid registreringen är {detail}, tillåtet 0–20 år",
        "Age at registration is {detail}; allowed 0–20 years",
        "Kontrollera personnumret och registreringsdatumet",
        "Check the personnummer and the registration date",
    ),
    "lvu2_over_18": Rule(
        ERROR,
        "LVU 2 § gäller bara barn under 18 år (ålder {detail})",
        "LVU s.2 applies only under 18 (age {detail})",
        "Kontrollera lagrum och ålder",
        "Check the legal basis and the age",
    ),
    "date_order": Rule(
        ERROR,
        "Datumen kommer i omöjlig ordning: {detail}",
        "Dates are in an impossible order: {detail}",
        "Rätta datumen i verksamhetssystemet",
        "Correct the dates in the case system",
    ),
    "date_order_emergency": Rule(
        WARNING,
        "Insatsen startade före utredningens slut (möjligt vid akuta beslut)",
        "The intervention started before the investigation ended (possible after emergency decisions)",
        "Ingen åtgärd om det var ett akut beslut",
        "No action if it was an emergency decision",
    ),
    "reason_without_ending": Rule(
        ERROR,
        "Avslutsorsak angiven fast registreringen inte är ett avslut",
        "Reason for ending given although the registration is not an ending",
        "Ta bort avslutsorsaken eller ändra registreringstyp till avslut",
        "Remove the reason or change the registration type to ending",
    ),
    "ending_without_reason": Rule(
        WARNING,
        "Avslut utan avslutsorsak",
        "Ending without a reason for ending",
        "Fyll i avslutsorsak",
        "Fill in the reason for ending",
    ),
    "second_ending": Rule(
        ERROR,
        "Insatsen har redan ett avslut (högst ett avslut per insats)",
        "The intervention already has an ending (at most one ending per intervention)",
        "Ta bort den dubbla avslutsregistreringen i källan",
        "Remove the duplicate ending registration in the source",
    ),
    "sis_under_sol": Rule(
        WARNING,
        "Placering på SiS enligt SoL är ovanligt",
        "A SiS placement under SoL is rare",
        "Kontrollera lagrum",
        "Check the legal basis",
    ),
    "ending_without_end_date": Rule(
        WARNING,
        "Avslut utan slutdatum för insatsen",
        "Ending without an end date of the intervention",
        "Fyll i insatsens slutdatum",
        "Fill in the intervention's end date",
    ),
    "sex_differs_from_pnr": Rule(
        WARNING,
        "Kön skiljer sig från personnumrets könssiffra",
        "Sex differs from the personnummer's sex digit",
        "Kontrollera; den registrerade uppgiften används",
        "Check; the recorded value is used",
    ),
    "birth_year_differs_from_pnr": Rule(
        WARNING,
        "Födelseår skiljer sig från personnumret",
        "Year of birth differs from the personnummer",
        "Kontrollera; personnumrets födelseår används",
        "Check; the personnummer's year of birth is used",
    ),
    "conflicting_duplicate": Rule(
        ERROR,
        "Samma registrering förekommer flera gånger med olika innehåll",
        "The same registration occurs more than once with different content",
        "Rensa dubbletterna i källan och exportera igen",
        "Remove the duplicates in the source and re-export",
    ),
    "child_conflict": Rule(
        WARNING,
        "Barnets bakgrundsuppgift {column} skiljer sig mellan rader; senaste registreringens värde används",
        "The child's background value {column} differs between rows; the latest registration's is used",
        "Kontrollera uppgiften i verksamhetssystemet",
        "Check the value in the case system",
    ),
    "intervention_conflict": Rule(
        WARNING,
        "Insatsens uppgift {column} skiljer sig mellan rader; senaste registreringens värde används",
        "The intervention's value {column} differs between rows; the latest registration's is used",
        "Kontrollera uppgiften i verksamhetssystemet",
        "Check the value in the case system",
    ),
    # file level
    "column_not_read": Rule(
        WARNING,
        "Kolumnen finns inte i profilen och läses inte",
        "The column is not in the profile and is not read",
        "Lägg till den under columns: eller ignore: i profilen",
        "Add it under columns: or ignore: in the profile",
    ),
    "column_missing": Rule(
        WARNING,
        "Profilens kolumn för {detail} finns inte i filen; variabeln saknas helt",
        "The profile's column for {detail} is not in the file; the variable is all missing",
        "Kontrollera exporten eller profilens stavningar",
        "Check the export or the profile's spellings",
    ),
    "stated_total_mismatch": Rule(
        WARNING,
        "Summaraden anger {detail}",
        "The totals row states {detail}",
        "Kontrollera att hela exporten kom med",
        "Check that the whole export was included",
    ),
}


_DIGITS = re.compile(r"\d{6,}")


def show_value(value: object, *, identifier: bool = False) -> str:
    """A value as it may appear in problem lists: identifiers masked, long digit runs masked."""
    from workbench.pseudonym import mask_identifier

    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[arg-type]
        return ""
    s = str(value)
    if identifier:
        return mask_identifier(s)
    s = _DIGITS.sub(lambda m: "#" * len(m.group()), s)
    return s if len(s) <= 40 else s[:39] + "…"


def problems(
    rule: str,
    *,
    fil: str,
    rad: pd.Series | list[int] | None = None,
    kolumn: str = "",
    varde: pd.Series | list[str] | None = None,
    detail: pd.Series | list[str] | str = "",
    detail_en: str | None = None,
    identifier: bool = False,
) -> pd.DataFrame:
    """Problem records for one rule (vectorised: one row per entry of ``rad``).

    ``detail`` fills ``{detail}`` in both languages unless ``detail_en`` is given for English.
    """
    r = RULES[rule]
    n = 1 if rad is None else len(rad)
    rows = pd.array([pd.NA] * n, dtype="Int64") if rad is None else pd.array(list(rad), "Int64")
    if varde is None:
        shown = [""] * n
    else:
        shown = [show_value(v, identifier=identifier) for v in list(varde)]
    details = [detail] * n if isinstance(detail, str) else [str(d) for d in list(detail)]
    fmt = [dict(column=kolumn, value=v, detail=d) for v, d in zip(shown, details, strict=True)]
    return pd.DataFrame(
        {
            "fil": fil,
            "rad": rows,
            "kolumn": kolumn,
            "varde": shown,
            "regel": rule,
            "allvarlighet": r.severity,
            "meddelande": [r.sv.format(**f) for f in fmt],
            "message": [
                r.en.format(**(f if detail_en is None else {**f, "detail": detail_en}))
                for f in fmt
            ],
            "atgard": r.fix_sv,
            "fix": r.fix_en,
        },
        columns=PROBLEM_COLUMNS,
    )


def empty_problems() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="Int64" if c == "rad" else "str") for c in PROBLEM_COLUMNS}
    )


def concat_problems(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_problems()
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(
        ["fil", "rad", "kolumn", "regel"], na_position="first", ignore_index=True
    )
