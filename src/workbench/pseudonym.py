"""Personnummer validation and keyed pseudonymisation of identifiers.

Two concerns of the ingest boundary live here:

* **Validation** of Swedish personnummer and samordningsnummer (Skatteverket, SKV 704
  "Personnummer"; SKV 707 "Samordningsnummer"). :func:`parse_personnummer` is vectorised over a
  :class:`pandas.Series`, returns the canonical 12-digit form and derived facts (birth date, sex,
  samordningsnummer) and, for every invalid value, one stable short reason code from
  :data:`REASONS`. The century of 10-digit forms comes from the export's *reference date*, never
  from today's date, so the same file always parses the same way.
* **Pseudonymisation** with HMAC-SHA-256 under a secret key kept outside the repository
  (:class:`PseudonymKey`, :func:`init_key`, :func:`load_key`, :func:`pseudonymise`). A plain hash
  of a personnummer is reversible by enumeration (about 16 million candidates for two decades of
  births), a keyed hash is not without the key.

Identifiers are never written to logs or messages; use :func:`mask_identifier` to refer to one.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
import secrets
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

log = logging.getLogger(__name__)

__all__ = [
    "ID_PATTERN",
    "REASONS",
    "PseudonymKey",
    "PseudonymKeyError",
    "default_key_path",
    "init_key",
    "is_valid_personnummer",
    "load_key",
    "luhn_check_digit",
    "mask_identifier",
    "parse_personnummer",
    "pseudonymise",
    "synthetic_personnummer",
]

_CHUNK = 100_000  # distinct values pseudonymised per batch
#: From this many distinct values on, a helper process hashes half of them on the second core.
_SHARE_FROM = 200_000
#: Pseudonymous identifiers: one capital letter and 16 hex digits (as ``workbench.dataset``).
ID_PATTERN = r"^[A-Z][0-9a-f]{16}$"

#: Reason code → (Swedish, English) explanation with the fix. Codes are stable: quarantine files
#: and downstream reports refer to them.
REASONS: dict[str, tuple[str, str]] = {
    "missing": (
        "Personnummer saknas. Fyll i personnummer eller samordningsnummer i verksamhetssystemet "
        "och exportera igen.",
        "Identifier is missing. Fill in the personal identity or coordination number in the case "
        "system and re-export.",
    ),
    "format": (
        "Felaktigt format. Tillåtna former: ÅÅÅÅMMDDNNNK, ÅÅÅÅMMDD-NNNK, ÅÅMMDD-NNNK, ÅÅMMDDNNNK "
        "och ÅÅMMDD+NNNK. Kontrollera exportens kolumn för personnummer.",
        "Invalid format. Accepted forms: YYYYMMDDNNNC, YYYYMMDD-NNNC, YYMMDD-NNNC, YYMMDDNNNC and "
        "YYMMDD+NNNC. Check the identifier column of the export.",
    ),
    "date": (
        "Datumdelen är inget giltigt datum (samordningsnummer har dag + 60). Rätta numret i "
        "verksamhetssystemet.",
        "The date part is not a valid calendar date (coordination numbers have day + 60). "
        "Correct the number in the case system.",
    ),
    "luhn": (
        "Kontrollsiffran stämmer inte, troligen ett skrivfel. Rätta numret i verksamhetssystemet.",
        "The check digit does not match, probably a typing error. Correct the number in the "
        "case system.",
    ),
    "future": (
        "Födelsedatumet ligger efter exportens referensdatum. Kontrollera numret och "
        "referensdatumet.",
        "The birth date is after the export's reference date. Check the number and the "
        "reference date.",
    ),
    "leading_zero_lost": (
        "9 eller 11 siffror: den inledande nollan har troligen tappats när kolumnen lagrades som "
        "tal (Excel). Exportera personnummer som text.",
        "9 or 11 digits: the leading zero was probably lost when the column was stored as a "
        "number (Excel). Re-export identifiers as text.",
    ),
    "scientific_notation": (
        "Numret står i exponentform (t.ex. 1,91212E+11) eftersom kolumnen lagrades som tal "
        "(Excel); siffror har gått förlorade. Exportera personnummer som text.",
        "The number is in scientific notation (e.g. 1.91212E+11) because the column was stored "
        "as a number (Excel); digits have been lost. Re-export identifiers as text.",
    ),
}

# Earliest accepted birth year: nobody born earlier ever held a personnummer (introduced 1947),
# and it keeps every birth date inside the datetime64[ns] range.
_MIN_YEAR = 1800
_SHAPE = r"(?:[0-9]{8}|[0-9]{6})[-+]?[0-9]{4}"
_LEADING_ZERO_LOST = r"[0-9]{9}|[0-9]{11}"
_SCIENTIFIC = r"[0-9]+(?:[.,][0-9]*)?[eE][-+]?[0-9]+"
# Luhn: digits in odd positions (from the left, of the last ten) are doubled and their digit
# sum taken; a lookup table does both at once.
_LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.uint8)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_SEX_CODES = ("flicka", "pojke")  # even, odd second-to-last digit
_PARSE_COLUMNS = ("canonical", "valid", "reason", "samordningsnummer", "birth_date", "sex")


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _luhn_sums(digits: np.ndarray) -> np.ndarray:
    """Luhn sums of the rows of an ``(n, k)`` digit matrix, weights 2, 1, 2, ... from the left."""
    doubled = _LUHN_DOUBLED[digits[:, 0::2]].sum(axis=1, dtype=np.int64)
    return doubled + digits[:, 1::2].sum(axis=1, dtype=np.int64)


def luhn_check_digit(nine_digits: str) -> int:
    """The Luhn (mod 10) check digit of the nine digits ``YYMMDDNNN`` of a personnummer.

    Parameters
    ----------
    nine_digits
        Exactly nine ASCII digits: the 10-digit form without its check digit.

    Returns
    -------
    int
        The check digit (0–9), per Skatteverket SKV 704.

    Raises
    ------
    ValueError
        If ``nine_digits`` is not nine ASCII digits.

    Examples
    --------
    >>> luhn_check_digit("811218987")
    6
    """
    if not re.fullmatch(r"[0-9]{9}", nine_digits):
        raise ValueError("luhn_check_digit needs exactly nine digits (YYMMDDNNN).")
    digits = np.frombuffer(nine_digits.encode("ascii"), dtype=np.uint8).reshape(1, 9) - 48
    return int((10 - _luhn_sums(digits)[0] % 10) % 10)


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = _DAYS_IN_MONTH[np.clip(month, 0, 12)]
    return np.where((month == 2) & leap, 29, days)


def _to_datetime64(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Dates from valid integer parts as ``datetime64[ns]``."""
    dates = (
        (year - 1970).astype("datetime64[Y]")
        + (month - 1).astype("timedelta64[M]")
        + (day - 1).astype("timedelta64[D]")
    )
    return dates.astype("datetime64[ns]")


def _parse_unique(texts: pd.Series, reference_date: datetime.date) -> dict[str, np.ndarray]:
    """Parse distinct, non-missing values (``str`` Series, default index) into column arrays."""
    n = len(texts)
    stripped = texts.str.strip()
    reason = np.full(n, None, dtype=object)
    reason[(stripped.str.len() == 0).to_numpy(dtype=bool)] = "missing"

    matched = stripped.str.fullmatch(_SHAPE).to_numpy(dtype=bool)
    plus = stripped.str.contains("+", regex=False).to_numpy(dtype=bool) & matched
    matched_digits = stripped[matched].str.replace(r"[-+]", "", regex=True)
    twelve = np.zeros(n, dtype=bool)
    twelve[matched] = (matched_digits.str.len() == 12).to_numpy(dtype=bool)
    # A century and a '+' contradict each other: the 12-digit forms never carry '+'.
    shape_ok = matched & ~(twelve & plus)
    digit_text = matched_digits[shape_ok[matched]]

    unparsed = reason == None  # noqa: E711 (elementwise comparison on an object array)
    no_shape = unparsed & ~shape_ok
    if no_shape.any():
        rest = stripped[no_shape]
        sci = rest.str.fullmatch(_SCIENTIFIC).to_numpy(dtype=bool)
        lost = rest.str.fullmatch(_LEADING_ZERO_LOST).to_numpy(dtype=bool)
        reason[no_shape] = np.where(sci, "scientific_notation", "format")
        idx = np.flatnonzero(no_shape)
        reason[idx[lost]] = "leading_zero_lost"

    canonical = np.full(n, None, dtype=object)
    samordning = np.zeros(n, dtype=bool)
    birth_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    sex = np.full(n, None, dtype=object)

    rows = np.flatnonzero(shape_ok)
    if rows.size:
        # Pad 10-digit forms with a placeholder century so every row is a 12-digit matrix row.
        texts12 = digit_text.where(twelve[rows], "00" + digit_text)
        blob = "".join(texts12.tolist()).encode("ascii")
        digits = np.frombuffer(blob, dtype=np.uint8).reshape(-1, 12) - 48
        tw = twelve[rows]

        def number(first: int) -> np.ndarray:
            return digits[:, first].astype(np.int64) * 10 + digits[:, first + 1]

        yy = number(2)
        month = number(4)
        raw_day = number(6)
        is_samordning = raw_day > 60
        day = np.where(is_samordning, raw_day - 60, raw_day)

        # Century: the latest year <= the reference year ending in YY whose birthday is not
        # after the reference date; '+' (aged 100 or more) means one century earlier still.
        ref_year = reference_date.year
        ref_md = reference_date.month * 100 + reference_date.day
        year = ref_year - (ref_year - yy) % 100
        year = np.where((year == ref_year) & (month * 100 + day > ref_md), year - 100, year)
        year = np.where(plus[rows], year - 100, year)
        year = np.where(tw, number(0) * 100 + yy, year)

        date_ok = (
            (year >= _MIN_YEAR)
            & (month >= 1)
            & (month <= 12)
            & (day >= 1)
            & (day <= _days_in_month(year, month))
        )
        luhn_ok = _luhn_sums(digits[:, 2:]) % 10 == 0
        ref_ymd = ref_year * 10000 + ref_md
        future = year * 10000 + month * 100 + day > ref_ymd
        row_reason = np.where(
            ~date_ok, "date", np.where(~luhn_ok, "luhn", np.where(future, "future", ""))
        )
        ok = row_reason == ""
        reason[rows[~ok]] = row_reason[~ok]

        good = rows[ok]
        if good.size:
            full = digits[ok]  # boolean indexing copies
            century = year[ok] // 100
            full[:, 0] = century // 10
            full[:, 1] = century % 10
            codes = (full + 48).tobytes()
            canonical[good] = np.frombuffer(codes, dtype="S12").astype(str)
            samordning[good] = is_samordning[ok]
            birth_date[good] = _to_datetime64(year[ok], month[ok], day[ok])
            sex[good] = np.where(digits[ok, 10] % 2 == 1, _SEX_CODES[1], _SEX_CODES[0])

    return {
        "canonical": canonical,
        "reason": reason,
        "samordningsnummer": samordning,
        "birth_date": birth_date,
        "sex": sex,
    }


def parse_personnummer(values: pd.Series, *, reference_date: datetime.date) -> pd.DataFrame:
    """Validate personnummer and samordningsnummer and derive birth date and sex (vectorised).

    Accepted forms (surrounding whitespace is ignored): ``YYYYMMDDNNNC``, ``YYYYMMDD-NNNC``,
    ``YYMMDD-NNNC``, ``YYMMDDNNNC`` and ``YYMMDD+NNNC``. ``C`` is the Luhn check digit over the
    last ten digits; samordningsnummer carry day + 60 (Skatteverket SKV 704 and SKV 707). For the
    10-digit forms the birth year is the latest year not after ``reference_date``'s year ending
    in ``YY`` such that the birth date is not after ``reference_date``; ``+`` (the person is 100
    or older at the reference date) moves it one century earlier.

    Parameters
    ----------
    values
        Identifiers as text. Missing values are reported with reason ``missing``; values that
        are not strings are converted with ``str`` first (so numbers from Excel are reported as
        ``format``, ``leading_zero_lost`` or ``scientific_notation``).
    reference_date
        The date the export was taken (from the export, never today's date).

    Returns
    -------
    pandas.DataFrame
        Same index as ``values``, columns ``canonical`` (str, 12 digits; NA if invalid),
        ``valid`` (bool), ``reason`` (str, a key of :data:`REASONS`; NA if valid),
        ``samordningsnummer`` (boolean; NA if invalid), ``birth_date`` (datetime64[ns]; NaT if
        invalid) and ``sex`` (catalogue code ``"flicka"`` or ``"pojke"`` from the parity of the
        second-to-last digit; NA if invalid). Reason precedence: ``missing``,
        ``scientific_notation``/``leading_zero_lost``/``format``, ``date``, ``luhn``,
        ``future``. Birth years before 1800 count as ``date``; a 12-digit form with ``+`` is
        ``format``.

    Notes
    -----
    Work is done once per distinct value, with the Luhn sums computed in numpy, so a million
    rows take well under two seconds.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if isinstance(uniques.dtype, pd.StringDtype):
        texts = pd.Series(uniques.array, dtype="str")
    else:
        # Mixed objects (e.g. numbers read from Excel): compare them as their text.
        texts = pd.Series([str(value) for value in uniques], dtype="str")
    parts = _parse_unique(texts, reference_date)

    # Missing input rows (code -1) take an extra trailing "missing" entry.
    take = np.where(codes < 0, len(texts), codes)

    def pick(arr: np.ndarray, fill: object) -> np.ndarray:
        extended = np.concatenate([arr, np.array([fill], dtype=arr.dtype)])
        return extended[take]

    reason = pick(parts["reason"], "missing")
    valid = pd.isna(reason)
    samordning = pd.array(pick(parts["samordningsnummer"], False), dtype="boolean")
    samordning[~valid] = pd.NA
    index = values.index
    return pd.DataFrame(
        {
            "canonical": pd.Series(pick(parts["canonical"], None), index=index, dtype="str"),
            "valid": pd.Series(valid, index=index, dtype=bool),
            "reason": pd.Series(reason, index=index, dtype="str"),
            "samordningsnummer": pd.Series(samordning, index=index),
            "birth_date": pd.Series(
                pick(parts["birth_date"], np.datetime64("NaT")),
                index=index,
                dtype="datetime64[ns]",
            ),
            "sex": pd.Series(pick(parts["sex"], None), index=index, dtype="str"),
        },
        index=index,
        columns=list(_PARSE_COLUMNS),
    )


def is_valid_personnummer(value: str, *, reference_date: datetime.date) -> bool:
    """Whether one value is a valid personnummer or samordningsnummer at ``reference_date``.

    Same rules as :func:`parse_personnummer`, which is the one to use on columns.
    """
    return bool(
        parse_personnummer(pd.Series([value], dtype=object), reference_date=reference_date)[
            "valid"
        ].iloc[0]
    )


def mask_identifier(value: str) -> str:
    """Mask an identifier for messages and quarantine reports: never echo it.

    Every letter and digit becomes ``#``; separators, whitespace and length are kept, so the
    shape of a bad value remains visible (``"811218-9876"`` → ``"######-####"``).
    """
    return re.sub(r"[^\W_]", "#", str(value))


def synthetic_personnummer(
    birth_dates: pd.Series,
    sexes: pd.Series,
    *,
    rng: np.random.Generator,
    samordning: float = 0.0,
    form: str = "12",
    reference_date: datetime.date | None = None,
) -> pd.Series:
    """Valid synthetic personnummer for tests and synthetic exports.

    The numbers have a correct Luhn check digit and the sex parity of ``sexes``, but they are
    drawn at random and **may coincide with real persons' numbers**: treat them like real ones
    and never publish them either.

    Parameters
    ----------
    birth_dates
        Birth dates (datetime-like); NaT gives NA.
    sexes
        ``"flicka"`` or ``"pojke"`` per row, aligned by position with ``birth_dates``; NA
        gives NA.
    rng
        Random generator for the serial numbers and the samordningsnummer draws.
    samordning
        Probability that a number is a samordningsnummer (day + 60).
    form
        ``"12"`` (``YYYYMMDDNNNC``), ``"12-"`` (``YYYYMMDD-NNNC``) or ``"10-"``
        (``YYMMDD-NNNC``, with ``+`` instead of ``-`` for people aged 100 or more at
        ``reference_date``, which this form requires).
    reference_date
        Reference date of the 10-digit form.

    Returns
    -------
    pandas.Series
        ``str`` Series with the index of ``birth_dates``.
    """
    if form not in ("12", "12-", "10-"):
        raise ValueError(f"form must be '12', '12-' or '10-', not {form!r}.")
    if not 0.0 <= samordning <= 1.0:
        raise ValueError("samordning is a probability between 0 and 1.")
    if form == "10-" and reference_date is None:
        raise ValueError("form '10-' needs reference_date to choose between '-' and '+'.")
    if len(birth_dates) != len(sexes):
        raise ValueError("birth_dates and sexes must have the same length.")
    dates = pd.to_datetime(pd.Series(birth_dates)).reset_index(drop=True)
    sex = pd.Series(sexes, dtype=object).reset_index(drop=True)
    unknown = ~(sex.isin(_SEX_CODES) | sex.isna())
    if unknown.any():
        raise ValueError("sexes must hold 'flicka' or 'pojke' (or NA).")
    present = (dates.notna() & sex.notna()).to_numpy()
    n = len(dates)
    # Draws for every row, present or not, so the stream does not depend on missingness.
    first_two = rng.integers(1, 100, size=n)
    parity_pick = rng.integers(0, 5, size=n)
    sam_draw = rng.random(size=n) < samordning

    year = dates.dt.year.fillna(2000).to_numpy(dtype=np.int64)
    month = dates.dt.month.fillna(1).to_numpy(dtype=np.int64)
    day = dates.dt.day.fillna(1).to_numpy(dtype=np.int64)
    odd = (sex == _SEX_CODES[1]).to_numpy(dtype=bool)
    third = parity_pick * 2 + odd
    serial = first_two * 10 + third
    raw_day = np.where(sam_draw, day + 60, day)

    digits = np.stack(
        [
            year // 1000,
            year // 100 % 10,
            year // 10 % 10,
            year % 10,
            month // 10,
            month % 10,
            raw_day // 10,
            raw_day % 10,
            serial // 100,
            serial // 10 % 10,
            serial % 10,
            np.zeros(n, dtype=np.int64),
        ],
        axis=1,
    ).astype(np.uint8)
    digits[:, 11] = (10 - _luhn_sums(digits[:, 2:11]) % 10) % 10
    chars = digits + ord("0")
    if form == "12-":
        chars = np.insert(chars, 8, ord("-"), axis=1)
    elif form == "10-":
        assert reference_date is not None
        ref_md = reference_date.month * 100 + reference_date.day
        age = reference_date.year - year - (month * 100 + day > ref_md)
        if (present & (age < 0)).any():
            raise ValueError("birth dates after reference_date cannot be written in form '10-'.")
        chars = np.insert(chars[:, 2:], 6, ord("-"), axis=1)
        chars[age >= 100, 6] = ord("+")
    width = chars.shape[1]
    text = np.frombuffer(np.ascontiguousarray(chars).tobytes(), dtype=f"S{width}").astype(str)
    out = np.where(present, text.astype(object), None)
    return pd.Series(out, index=pd.Series(birth_dates).index, dtype="str", name="personnummer")


# --------------------------------------------------------------------------------------------
# Keys and pseudonyms
# --------------------------------------------------------------------------------------------

_KEY_BYTES = 32
_KEY_ENV = "WORKBENCH_KEY"
_KEY_FILE_ENV = "WORKBENCH_KEY_FILE"
_FIX_INIT = "`workbench key init`"


class PseudonymKeyError(RuntimeError):
    """The pseudonymisation key is missing, unsafe or malformed; the message names the fix.

    Messages are bilingual (``"svenska / English"``) and never contain the key.
    """


def _key_id(secret: bytes) -> str:
    return "k-" + hashlib.sha256(b"workbench-key-id\0" + secret).hexdigest()[:12]


@dataclass(frozen=True)
class PseudonymKey:
    """A secret HMAC key and its non-reversible id.

    The secret never appears in ``repr`` or ``str``; ``key_id`` (``"k-"`` and 12 hex digits of a
    domain-separated SHA-256 of the secret) is safe to record in run manifests.
    """

    secret: bytes = field(repr=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) < _KEY_BYTES:
            raise PseudonymKeyError(
                f"Nyckeln är för kort (minst {_KEY_BYTES} byte). Skapa en ny med {_FIX_INIT}. / "
                f"The key is too short (at least {_KEY_BYTES} bytes). Create one with {_FIX_INIT}."
            )
        object.__setattr__(self, "key_id", _key_id(self.secret))


def default_key_path() -> Path:
    """Where the key file lives unless told otherwise.

    ``$WORKBENCH_KEY_FILE`` if set, else ``$XDG_CONFIG_HOME/workbench/pseudonym.key`` (default
    ``~/.config/workbench/pseudonym.key``): outside any repository.
    """
    explicit = os.environ.get(_KEY_FILE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config).expanduser() / "workbench" / "pseudonym.key"


def _git_work_tree(path: Path) -> Path | None:
    """The enclosing git working tree of ``path`` (a file that need not exist), if any."""
    for parent in path.parents:
        if (parent / ".git").exists():
            return parent
    return None


def _make_private_dirs(directory: Path) -> None:
    missing = []
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for new in reversed(missing):
        new.mkdir(mode=0o700)
        os.chmod(new, 0o700)  # mkdir's mode is filtered by the umask


def init_key(path: Path | None = None, *, force: bool = False) -> PseudonymKey:
    """Create a new random key file (32 bytes from :mod:`secrets`, written as hex, mode 0600).

    Parameters
    ----------
    path
        Key file; default :func:`default_key_path`. Missing directories are created with mode
        0700.
    force
        Overwrite an existing key. Every pseudonym made with the old key then becomes
        unlinkable to new data.

    Returns
    -------
    PseudonymKey

    Raises
    ------
    PseudonymKeyError
        If ``path`` is inside a git working tree, or a key exists and ``force`` is false.
    """
    target = Path(path).expanduser() if path is not None else default_key_path()
    target = target.absolute()
    tree = _git_work_tree(target)
    if tree is not None:
        raise PseudonymKeyError(
            f"Nyckelfilen {target} ligger i git-arbetskatalogen {tree}. Nyckeln måste ligga "
            "utanför repot så att den aldrig checkas in; välj en annan sökväg (standard: "
            "~/.config/workbench/pseudonym.key). / "
            f"The key file {target} is inside the git working tree {tree}. The key must live "
            "outside the repository so it is never committed; choose another path (default: "
            "~/.config/workbench/pseudonym.key)."
        )
    if target.exists() and not force:
        raise PseudonymKeyError(
            f"Det finns redan en nyckel i {target}. Att skriva över den gör alla tidigare "
            "pseudonymer omöjliga att länka till nya data; använd force bara om det är avsikten. "
            f"/ A key already exists at {target}. Overwriting it makes all earlier pseudonyms "
            "unlinkable to new data; use force only if that is intended."
        )
    _make_private_dirs(target.parent)
    secret = secrets.token_bytes(_KEY_BYTES)
    data = (secret.hex() + "\n").encode("ascii")
    # Created with 0600 from the start (no window with wider permissions); a fresh file,
    # renamed over the old one on force, so an existing file's mode is never inherited.
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if force:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails if a key appeared meanwhile
    except FileExistsError:
        raise PseudonymKeyError(
            f"Det finns redan en nyckel i {target}. / A key already exists at {target}."
        ) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    key = PseudonymKey(secret)
    log.info("Created pseudonymisation key %s at %s", key.key_id, target)
    return key


def _key_from_hex(text: str, source: str) -> PseudonymKey:
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        raise PseudonymKeyError(
            f"Nyckeln i {source} är felformad (ska vara hex-text). Skapa en ny med {_FIX_INIT} "
            f"eller återställ den från säkerhetskopian. / The key in {source} is malformed "
            f"(must be hex text). Create one with {_FIX_INIT} or restore it from the backup."
        ) from None
    if len(secret) < _KEY_BYTES:
        raise PseudonymKeyError(
            f"Nyckeln i {source} är för kort ({len(secret)} byte, minst {_KEY_BYTES}). Skapa en "
            f"ny med {_FIX_INIT}. / The key in {source} is too short ({len(secret)} bytes, at "
            f"least {_KEY_BYTES}). Create one with {_FIX_INIT}."
        )
    return PseudonymKey(secret)


def _read_key_file(path: Path) -> PseudonymKey:
    if os.name == "posix":
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise PseudonymKeyError(
                f"Nyckelfilen {path} kan läsas av andra (behörighet {mode:o}). Kör "
                f"`chmod 600 {path}`. / The key file {path} is readable by group or others "
                f"(mode {mode:o}). Run `chmod 600 {path}`."
            )
    return _key_from_hex(path.read_text(encoding="ascii", errors="replace"), str(path))


def load_key(path: Path | None = None) -> PseudonymKey:
    """Load the pseudonymisation key.

    Looks, in order, at ``path``; the environment variable ``WORKBENCH_KEY`` (hex, at least 32
    bytes once decoded); :func:`default_key_path`. Never pass the key as a papermill parameter:
    papermill copies parameters into the notebook.

    Raises
    ------
    PseudonymKeyError
        No key found (fix: run ``workbench key init``), key file readable by group or others
        (fix: ``chmod 600``), or a malformed or too short key.
    """
    if path is not None:
        target = Path(path).expanduser()
        if not target.is_file():
            raise PseudonymKeyError(
                f"Nyckelfilen {target} finns inte. Kör {_FIX_INIT} eller ange rätt sökväg. / "
                f"The key file {target} does not exist. Run {_FIX_INIT} or give the right path."
            )
        key = _read_key_file(target)
        source = str(target)
    elif os.environ.get(_KEY_ENV):
        key = _key_from_hex(
            os.environ[_KEY_ENV], f"miljövariabeln/environment variable {_KEY_ENV}"
        )
        source = _KEY_ENV
    else:
        target = default_key_path()
        if not target.is_file():
            raise PseudonymKeyError(
                f"Ingen pseudonymiseringsnyckel hittades ({target}, {_KEY_ENV}). Kör "
                f"{_FIX_INIT}. / No pseudonymisation key found ({target}, {_KEY_ENV}). Run "
                f"{_FIX_INIT}."
            )
        key = _read_key_file(target)
        source = str(target)
    log.debug("Loaded pseudonymisation key %s from %s", key.key_id, source)
    return key


_SHA256_BLOCK = 64
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ID_HEX = 16  # hex digits of the HMAC kept in a pseudonym (64 bits)


def _hmac_states(secret: bytes, message_prefix: bytes) -> tuple[object, object]:
    """The keyed inner and outer SHA-256 states of HMAC-SHA-256 (RFC 2104).

    HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)), K0 the key padded to the block size
    (hashed first when longer). Both keyed states are computed once; every message then costs
    two ``copy()`` of a state and two short updates, all in C (``hmac.HMAC.copy`` adds a layer of
    Python per message). The inner state has already been fed ``message_prefix``, so a message
    ``m`` gives ``hmac.new(secret, message_prefix + m, "sha256")`` (tested).
    """
    if len(secret) > _SHA256_BLOCK:
        secret = hashlib.sha256(secret).digest()
    k0 = secret.ljust(_SHA256_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in k0))
    inner.update(message_prefix)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in k0))
    return inner, outer


def _hmac_digests(inner: object, outer: object, texts: list[str]) -> np.ndarray:
    """The first 8 bytes of HMAC-SHA-256 of each text (UTF-8), as an ``(n, 8)`` uint8 array."""
    inner_copy, outer_copy = inner.copy, outer.copy  # type: ignore[attr-defined]

    def digest(message: bytes) -> bytes:
        i = inner_copy()
        i.update(message)
        o = outer_copy()
        o.update(i.digest())
        return o.digest()

    blob = b"".join(map(digest, [text.encode("utf-8") for text in texts]))
    return np.frombuffer(blob, dtype=np.uint8).reshape(-1, 32)[:, : _ID_HEX // 2]


def _hex_ids(prefix: str, digests: np.ndarray) -> pa.Array:
    """``prefix`` + lowercase hex of each row of ``digests`` as an Arrow ``large_string`` array.

    Built as one fixed-width byte matrix (vectorised), not one Python string per identifier.
    """
    n, width = len(digests), 1 + 2 * digests.shape[1]
    chars = np.empty((n, width), dtype=np.uint8)
    chars[:, 0] = ord(prefix)
    chars[:, 1::2] = _HEX_DIGITS[digests >> 4]
    chars[:, 2::2] = _HEX_DIGITS[digests & 0x0F]
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())
    )


# The helper runs ``python -I -S -c _HELPER``: the standard library only (starts in a few
# milliseconds). It reads the secret, the message prefix and the messages from its standard input
# (never from its command line or environment) and writes the first 8 bytes of each HMAC-SHA-256,
# computed as in :func:`_hmac_states` and :func:`_hmac_digests` (tested against ``hmac.new``).
_HELPER = r"""
import hashlib, struct, sys
data = sys.stdin.buffer.read()
n_secret, n_prefix, n = struct.unpack_from("<III", data)
at = 12
secret = data[at : at + n_secret]
at += n_secret
prefix = data[at : at + n_prefix]
at += n_prefix
lengths = struct.unpack_from(f"<{n}I", data, at)
at += 4 * n
if len(secret) > 64:
    secret = hashlib.sha256(secret).digest()
k0 = secret.ljust(64, b"\0")
inner = hashlib.sha256(bytes(b ^ 0x36 for b in k0))
inner.update(prefix)
outer = hashlib.sha256(bytes(b ^ 0x5C for b in k0))
out = []
for length in lengths:
    i = inner.copy()
    i.update(data[at : at + length])
    at += length
    o = outer.copy()
    o.update(i.digest())
    out.append(o.digest()[:8])
sys.stdout.buffer.write(b"".join(out))
"""


def _second_core_idle() -> bool:
    """Whether a core is probably free for the helper (1-minute load below the cores - 1).

    Measured on a 2-core machine (1.8 million distinct values): with the second core idle, the
    helper saves about a fifth of the pseudonym step; with another job on it, it costs a little,
    so it is not started then. Pseudonyms are the same either way.
    """
    cores = os.cpu_count() or 1
    try:
        return cores > 1 and os.getloadavg()[0] < cores - 1
    except OSError:  # pragma: no cover - no load average on this platform
        return cores > 1


class _HelperHashes:
    """HMAC digests of some messages computed by a helper process while the caller hashes others.

    :meth:`result` returns them as an ``(n, 8)`` uint8 array. Should the helper fail to start,
    fail or time out, the digests are computed in this process instead (same values): sharing
    the work is an optimisation, never a condition.
    """

    def __init__(self, secret: bytes, message_prefix: bytes, texts: list[str]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._secret, self._prefix, self._texts = secret, message_prefix, texts
        messages = [text.encode("utf-8") for text in texts]
        payload = b"".join(
            [
                struct.pack("<III", len(secret), len(message_prefix), len(messages)),
                secret,
                message_prefix,
                np.fromiter(map(len, messages), dtype="<u4", count=len(messages)).tobytes(),
                *messages,
            ]
        )
        del messages
        self._pool = ThreadPoolExecutor(max_workers=1)  # feeds and drains the pipes
        try:
            self._proc: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _HELPER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self._proc = None
        self._future = (
            self._pool.submit(self._exchange, self._proc, payload)
            if self._proc is not None
            else None
        )

    @staticmethod
    def _exchange(proc: subprocess.Popen, payload: bytes) -> bytes:
        """Send the payload in one write, then read the digests (the GIL is free meanwhile)."""
        assert proc.stdin is not None and proc.stdout is not None
        with proc.stdin:  # the helper reads all its input before it writes anything
            proc.stdin.write(payload)
        out = proc.stdout.read()
        proc.wait(timeout=60)
        return out

    def cancel(self) -> None:
        """Stop the helper (the caller failed): nothing is left running."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._proc is not None:
            self._proc.wait()

    def result(self) -> np.ndarray:
        out = b""
        try:
            if self._future is not None:
                out = self._future.result(timeout=600)
        except Exception:  # noqa: BLE001 - any failure: compute the digests here instead
            out = b""
        finally:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            self._pool.shutdown(wait=True)
        n = len(self._texts)
        if self._proc is not None and self._proc.returncode == 0 and len(out) == 8 * n:
            return np.frombuffer(out, dtype=np.uint8).reshape(n, 8)
        log.debug("pseudonym helper process unavailable; hashing in this process")
        inner, outer = _hmac_states(self._secret, self._prefix)
        return _hmac_digests(inner, outer, self._texts)


def pseudonymise(values: pd.Series, key: PseudonymKey, *, domain: str, prefix: str) -> pd.Series:
    """Keyed pseudonyms: ``prefix`` + the first 16 hex digits of an HMAC-SHA-256.

    The message is ``domain`` (UTF-8), the unit separator ``0x1f`` and the value (UTF-8), so
    the same value gives unrelated pseudonyms in different domains (e.g. ``"barn"`` and
    ``"insats"``). Results match :data:`ID_PATTERN`.

    Parameters
    ----------
    values
        Identifiers as strings (canonical personnummer, case numbers, ...); NA stays NA.
    key
        From :func:`load_key`.
    domain
        What the identifier identifies; non-empty, without ``0x1f``.
    prefix
        One capital letter A–Z.

    Returns
    -------
    pandas.Series
        ``str`` Series with the index and name of ``values``.

    Raises
    ------
    ValueError
        Bad ``prefix`` or ``domain``.
    TypeError
        Non-string values (numbers from Excel would pseudonymise differently from their text).
    """
    if not re.fullmatch(r"[A-Z]", prefix):
        raise ValueError("prefix must be one capital letter A-Z.")
    if not domain or "\x1f" in domain:
        raise ValueError("domain must be a non-empty string without the unit separator 0x1f.")
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    checked = isinstance(uniques.dtype, pd.StringDtype)  # str dtype holds only strings
    uniques = np.asarray(uniques, dtype=object)
    if not checked and not all(isinstance(text, str) for text in uniques):
        raise TypeError("pseudonymise needs string values; read identifiers as text.")
    message_prefix = domain.encode("utf-8") + b"\x1f"
    inner, outer = _hmac_states(key.secret, message_prefix)
    # Many distinct values: a helper process hashes the second half meanwhile (second core).
    n_local = len(uniques)
    helper = None
    if len(uniques) >= _SHARE_FROM and _second_core_idle():
        n_local = len(uniques) // 2
        helper = _HelperHashes(key.secret, message_prefix, uniques[n_local:].tolist())
    pieces = []
    try:
        for start in range(0, n_local, _CHUNK):  # chunks bound the Python objects alive at once
            texts = uniques[start : min(start + _CHUNK, n_local)].tolist()
            pieces.append(_hex_ids(prefix, _hmac_digests(inner, outer, texts)))
    except BaseException:
        if helper is not None:
            helper.cancel()
        raise
    if helper is not None:
        pieces.append(_hex_ids(prefix, helper.result()))
    dictionary = pa.concat_arrays(pieces) if pieces else pa.array([], type=pa.large_string())
    indices = pa.array(np.where(codes < 0, 0, codes).astype(np.int32), mask=codes < 0)
    if len(dictionary):
        column = pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string())
    else:
        column = pa.nulls(len(codes), type=pa.large_string())
    result = pd.array(pa.chunked_array([column]), dtype="str")
    return pd.Series(result, index=values.index, name=values.name, dtype="str")
