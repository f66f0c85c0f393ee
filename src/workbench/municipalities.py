"""Municipalities (kommuner) and counties (län): lookup and code validation.

Kommunkod is a 4-character string ("0114", "0180"); the first two characters are the länskod.
The whole country (Riket) has the pseudo-code ``"0000"`` (as in Kolada). Codes are validated at
every boundary with :func:`normalise_kommun`, which also repairs the one papermill trap that can
be repaired unambiguously and explains the ones that cannot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from workbench import paths

NATIONAL = "0000"
NATIONAL_NAME = "Riket"


class InvalidCodeError(ValueError):
    """A municipality or county code that does not exist or has the wrong type."""


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    county_code: str
    county_name: str

    @property
    def is_national(self) -> bool:
        return self.code == NATIONAL

    @property
    def slug(self) -> str:
        return slugify(self.name)


def slugify(name: str) -> str:
    """ASCII slug for file names: 'Örnsköldsvik' -> 'ornskoldsvik', 'Upplands Väsby' -> 'upplands-vasby'."""
    table = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u", " ": "-"})
    out = name.lower().translate(table)
    return "".join(ch for ch in out if ch.isalnum() or ch == "-").strip("-")


@functools.cache
def _table() -> pd.DataFrame:
    path = paths.reference_dir() / "municipalities.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    expected = ["municipality_code", "municipality_name", "county_code", "county_name"]
    if list(df.columns) != expected:
        raise ValueError(f"{path}: expected columns {expected}, found {list(df.columns)}")
    return df


def list_municipalities(county: str | None = None) -> pd.DataFrame:
    """All 290 municipalities (code, name, county code, county name), optionally for one county."""
    df = _table().copy()
    if county is not None:
        county = normalise_county(county)
        df = df[df["county_code"] == county]
    return df.reset_index(drop=True)


def list_counties() -> pd.DataFrame:
    """The 21 counties (code, name) with their number of municipalities."""
    df = _table()
    out = (
        df.groupby(["county_code", "county_name"], as_index=False)
        .size()
        .rename(columns={"size": "n_municipalities"})
    )
    return out.sort_values("county_code").reset_index(drop=True)


def hierarchy() -> pd.DataFrame:
    """Municipality → county mapping (columns ``kommun``, ``lan``) for linked tables."""
    df = _table()
    return pd.DataFrame({"kommun": df["municipality_code"], "lan": df["county_code"]})


def normalise_kommun(value: object, *, allow_national: bool = True) -> str:
    """Validate a municipality code and return it as a 4-character string.

    Accepts ``"0180"``. An integer is accepted only where the 4-digit code can be restored
    unambiguously: papermill's ``-p kommun 0180`` arrives as the integer 180, which is restored
    to ``"0180"``. PyYAML reads an unquoted ``0114`` as the octal number 76; that cannot be told
    apart from a typo, so it is rejected with a message naming the fix.

    Raises
    ------
    InvalidCodeError
        For unknown codes, wrong types and YAML-octal look-alikes.
    """
    valid = set(_table()["municipality_code"])
    if allow_national:
        valid.add(NATIONAL)
    fix = (
        'Write the code as a quoted string: in YAML `kommun: "0114"`, with papermill '
        "`-r kommun 0114` (raw string). Call workbench.list_municipalities() for valid codes."
    )
    if isinstance(value, bool):
        raise InvalidCodeError(
            f"Municipality code must be a 4-character string, got {value!r}. {fix}"
        )
    if isinstance(value, int):
        # YAML 1.1 reads an unquoted code with a leading zero and digits 0-7 as octal, so only
        # values below 0o1000 can be such a misreading.
        octal = format(value, "o").zfill(4) if 0 <= value < 0o1000 else ""
        if octal in valid and octal != str(value).zfill(4):
            raise InvalidCodeError(
                f"Municipality code {value} cannot be restored unambiguously: it is YAML's octal "
                f"reading of the unquoted code {octal} (PyYAML reads {octal} as {value})"
                + (
                    f", and also papermill's reading of {str(value).zfill(4)}"
                    if str(value).zfill(4) in valid
                    else ""
                )
                + f". {fix}"
            )
        candidate = str(value).zfill(4) if 0 <= value <= 9999 else str(value)
        if candidate in valid:
            return candidate
        raise InvalidCodeError(f"Unknown municipality code {value!r} (as {candidate!r}). {fix}")
    if isinstance(value, str):
        code = value.strip()
        if code in valid:
            return code
        if code.isdigit() and len(code) < 4 and code.zfill(4) in valid:
            raise InvalidCodeError(
                f"Municipality code {value!r} has lost its leading zero (should it be "
                f"{code.zfill(4)!r}?). {fix}"
            )
        raise InvalidCodeError(f"Unknown municipality code {value!r}. {fix}")
    raise InvalidCodeError(
        f"Municipality code must be a 4-character string, got {type(value).__name__} {value!r}. {fix}"
    )


def normalise_county(value: object) -> str:
    """Validate a county code (2-character string, e.g. ``"22"``) and return it."""
    valid = set(_table()["county_code"])
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value).zfill(2)
    if isinstance(value, str) and value.strip() in valid:
        return value.strip()
    raise InvalidCodeError(
        f'Unknown county code {value!r}. County codes are 2-character strings such as "22"; '
        "call workbench.list_counties() for the list."
    )


def get_municipality(code: object) -> Municipality:
    """Look up one municipality (or Riket for ``"0000"``)."""
    code = normalise_kommun(code)
    if code == NATIONAL:
        return Municipality(NATIONAL, NATIONAL_NAME, "00", NATIONAL_NAME)
    row = _table().set_index("municipality_code").loc[code]
    return Municipality(code, row["municipality_name"], row["county_code"], row["county_name"])


def county_name(county_code: str) -> str:
    county_code = normalise_county(county_code)
    df = _table()
    return str(df.loc[df["county_code"] == county_code, "county_name"].iloc[0])
