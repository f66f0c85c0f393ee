"""Personnummer validation and keyed pseudonymisation (workbench.pseudonym).

Known answers are worked by hand from the rules in Skatteverket SKV 704 "Personnummer" and
SKV 707 "Samordningsnummer" (Luhn mod 10 over the last ten digits, weights 2-1-2-..., digit sums
of the products; samordningsnummer have day + 60; '+' from the year a person turns 100). All
numbers here are synthetic examples, never real persons' data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import stat
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.pseudonym import (
    ID_PATTERN,
    REASONS,
    PseudonymKey,
    PseudonymKeyError,
    default_key_path,
    init_key,
    is_valid_personnummer,
    load_key,
    luhn_check_digit,
    mask_identifier,
    parse_personnummer,
    pseudonymise,
    synthetic_personnummer,
)

REF = dt.date(2025, 6, 1)
SECRET_A = bytes(range(32))
SECRET_B = bytes(range(1, 33))


def parse_one(value: object, reference_date: dt.date = REF) -> pd.Series:
    return parse_personnummer(
        pd.Series([value], dtype=object), reference_date=reference_date
    ).iloc[0]


def with_check(nine: str) -> str:
    """The ten digits YYMMDDNNNC for nine digits (check digit from luhn_check_digit)."""
    return nine + str(luhn_check_digit(nine))


# --------------------------------------------------------------------------------------------
# Luhn and accepted forms
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nine", "expected"),
    [
        # 8 1 1 2 1 8 9 8 7 → 16,1,2,2,2,8,18,8,14 → digit sums 7+1+2+2+2+8+9+8+5 = 44 → 6.
        # The classic example 811218-9876 (Wikipedia "Personnummer i Sverige").
        ("811218987", 6),
        # SKV 704's example 640823-3234: 12,4,0,8,4,3,6,2,6 → 3+4+0+8+4+3+6+2+6 = 36 → 4.
        ("640823323", 4),
        # SKV 707's samordningsnummer example 701063-2391: 5+0+2+0+3+3+4+3+9 = 29 → 1.
        ("701063239", 1),
        # Only the last digit counts: 5 doubled = 10 → 1 + 0 = 1 → check digit 9.
        ("000000005", 9),
    ],
)
def test_luhn_check_digit_matches_hand_computation(nine: str, expected: int) -> None:
    assert luhn_check_digit(nine) == expected


def test_luhn_check_digit_zero_when_sum_is_multiple_of_ten() -> None:
    # "590000000": 5 doubled = 10 → 1, plus 9 → sum 10 → check digit 0 (hand computation).
    assert luhn_check_digit("590000000") == 0


@pytest.mark.parametrize("bad", ["81121898", "8112189876", "81121898a", "８１１２１８９８７"])
def test_luhn_check_digit_rejects_other_than_nine_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        luhn_check_digit(bad)


@pytest.mark.parametrize(
    "value",
    [
        "198112189876",
        "19811218-9876",
        "811218-9876",
        "8112189876",
        " 811218-9876\t",
        "\n8112189876 ",
    ],
)
def test_parse_personnummer_accepts_every_form(value: str) -> None:
    row = parse_one(value)
    assert row["valid"]
    assert pd.isna(row["reason"])
    assert row["canonical"] == "198112189876"
    assert row["birth_date"] == pd.Timestamp("1981-12-18")
    assert row["sex"] == "pojke"  # second-to-last digit 7 is odd
    assert not row["samordningsnummer"]


def test_parse_personnummer_sex_from_second_to_last_digit_parity() -> None:
    # SKV 704 example 640823-3234: second-to-last digit 3 → odd → "pojke".
    row = parse_one("640823-3234")
    assert row["valid"] and row["canonical"] == "196408233234" and row["sex"] == "pojke"
    # 640823324 by hand: 12→3, 4, 0, 8, 4, 3, 6, 2, 8 → 38 → check digit 2; even digit 4.
    row = parse_one("640823-3242")
    assert row["valid"] and row["sex"] == "flicka"
    assert parse_one("640823-3240")["reason"] == "luhn"


def test_parse_personnummer_plus_means_one_century_earlier() -> None:
    row = parse_one("811218+9876")
    assert row["valid"]
    assert row["canonical"] == "188112189876"
    assert row["birth_date"] == pd.Timestamp("1881-12-18")


def test_parse_personnummer_plus_with_twelve_digits_is_format_error() -> None:
    assert parse_one("19811218+9876")["reason"] == "format"


def test_parse_personnummer_century_comes_from_reference_date_not_today() -> None:
    ten = "260315-" + with_check("260315123")[6:]
    before = parse_one(ten, reference_date=dt.date(2025, 6, 1))
    after = parse_one(ten, reference_date=dt.date(2027, 1, 1))
    assert before["birth_date"] == pd.Timestamp("1926-03-15")
    assert after["birth_date"] == pd.Timestamp("2026-03-15")
    assert before["canonical"][:2] == "19" and after["canonical"][:2] == "20"


def test_parse_personnummer_birthday_later_in_reference_year_goes_back_a_century() -> None:
    ten = with_check("250602123")  # born 2 June of a year ending 25
    assert parse_one(ten, reference_date=dt.date(2025, 6, 2))["birth_date"] == pd.Timestamp(
        "2025-06-02"
    )
    assert parse_one(ten, reference_date=dt.date(2025, 6, 1))["birth_date"] == pd.Timestamp(
        "1925-06-02"
    )


def test_parse_personnummer_samordningsnummer_day_plus_sixty() -> None:
    # SKV 707 example 701063-2391: day 63 → 3 October 1970; second-to-last digit 9 → odd.
    row = parse_one("701063-2391")
    assert row["valid"]
    assert row["samordningsnummer"]
    assert row["canonical"] == "197010632391"  # canonical keeps the +60 day
    assert row["birth_date"] == pd.Timestamp("1970-10-03")
    assert row["sex"] == "pojke"


@pytest.mark.parametrize(("day", "valid"), [(61, True), (91, True), (92, False), (60, False)])
def test_parse_personnummer_samordningsnummer_day_range(day: int, valid: bool) -> None:
    value = with_check(f"0101{day:02d}234")
    row = parse_one(value)
    assert bool(row["valid"]) is valid
    if not valid:
        assert row["reason"] == "date"


@pytest.mark.parametrize(
    ("nine", "reason"),
    [
        ("001301234", "date"),  # month 13
        ("010000234", "date"),  # day 0
        ("010132234", "date"),  # 32 January
        ("010431234", "date"),  # 31 April
    ],
)
def test_parse_personnummer_impossible_dates(nine: str, reason: str) -> None:
    assert parse_one(with_check(nine))["reason"] == reason


def test_parse_personnummer_feb_29_only_in_leap_years() -> None:
    assert parse_one(with_check("000229234"))["birth_date"] == pd.Timestamp("2000-02-29")
    assert parse_one(with_check("010229234"))["reason"] == "date"
    # 1900 was not a leap year (divisible by 100, not 400); 2000 was.
    assert parse_one("19" + with_check("000229234"))["reason"] == "date"
    assert parse_one("20" + with_check("000229234"))["valid"]
    # Samordningsnummer on 29 February: day 89.
    assert parse_one(with_check("000289234"))["birth_date"] == pd.Timestamp("2000-02-29")


def test_parse_personnummer_wrong_check_digit_is_luhn() -> None:
    row = parse_one("811218-9875")
    assert not row["valid"]
    assert row["reason"] == "luhn"
    assert pd.isna(row["canonical"]) and pd.isna(row["birth_date"]) and pd.isna(row["sex"])
    assert pd.isna(row["samordningsnummer"])


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("501011234", "leading_zero_lost"),  # 050101-1234 stored as a number in Excel
        ("20501011234", "leading_zero_lost"),  # 11 digits: also typical of a numeric column
        ("81121898", "format"),  # 8 digits
        ("8112189876543", "format"),  # 13 digits
        ("50101-1234", "format"),  # a separator means text, not an Excel number
    ],
)
def test_parse_personnummer_nine_or_eleven_digits_is_leading_zero_lost(
    value: str, reason: str
) -> None:
    assert parse_one(value)["reason"] == reason


@pytest.mark.parametrize("value", ["1,91212E+11", "1.91212e11", "1.91212E+11", "2E+11", "1,9e-3"])
def test_parse_personnummer_scientific_notation(value: str) -> None:
    assert parse_one(value)["reason"] == "scientific_notation"


def test_parse_personnummer_future_birth_date_with_twelve_digits() -> None:
    value = "20" + with_check("260315123")
    row = parse_one(value, reference_date=dt.date(2025, 6, 1))
    assert row["reason"] == "future"
    assert parse_one(value, reference_date=dt.date(2026, 3, 15))["valid"]


@pytest.mark.parametrize("value", [None, np.nan, pd.NA, "", "   ", "\t"])
def test_parse_personnummer_missing(value: object) -> None:
    assert parse_one(value)["reason"] == "missing"


@pytest.mark.parametrize(
    "value",
    ["811218 9876", "811218--9876", "811218_9876", "81-1218-9876", "abc", "８１１２１８-９８７６"],
)
def test_parse_personnummer_other_text_is_format(value: str) -> None:
    assert parse_one(value)["reason"] == "format"


def test_parse_personnummer_keeps_index_dtypes_and_order() -> None:
    values = pd.Series(
        ["811218-9876", None, "811218-9875", "811218-9876", "701063-2391"],
        index=["e", "d", "c", "b", "a"],
        dtype="str",
    )
    out = parse_personnummer(values, reference_date=REF)
    assert list(out.index) == ["e", "d", "c", "b", "a"]
    assert list(out.columns) == [
        "canonical",
        "valid",
        "reason",
        "samordningsnummer",
        "birth_date",
        "sex",
    ]
    assert out["valid"].dtype == bool
    assert out["samordningsnummer"].dtype == "boolean"
    assert out["birth_date"].dtype == "datetime64[ns]"
    assert out["canonical"].dtype == "str" and out["reason"].dtype == "str"
    assert out["valid"].tolist() == [True, False, False, True, True]
    assert out["reason"].tolist()[1:3] == ["missing", "luhn"]
    assert out["samordningsnummer"].tolist() == [False, pd.NA, pd.NA, False, True]


def test_parse_personnummer_empty_series() -> None:
    out = parse_personnummer(pd.Series([], dtype="str"), reference_date=REF)
    assert out.empty and out["valid"].dtype == bool


def test_is_valid_personnummer_scalar() -> None:
    assert is_valid_personnummer("811218-9876", reference_date=REF)
    assert not is_valid_personnummer("811218-9875", reference_date=REF)


def test_reasons_have_swedish_and_english_text_with_fix() -> None:
    assert set(REASONS) == {
        "missing",
        "format",
        "date",
        "luhn",
        "future",
        "leading_zero_lost",
        "scientific_notation",
    }
    for sv, en in REASONS.values():
        assert sv and en and sv != en
    for code in ("leading_zero_lost", "scientific_notation"):
        assert "Exportera personnummer som text" in REASONS[code][0]
        assert "Re-export identifiers as text" in REASONS[code][1]


def test_parse_personnummer_reasons_are_keys_of_reasons() -> None:
    values = pd.Series(
        ["811218-9875", "", "1,2E+11", "501011234", "x", "20" + with_check("990101123")]
    )
    reasons = parse_personnummer(values, reference_date=REF)["reason"]
    assert set(reasons) <= set(REASONS)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("811218-9876", "######-####"),
        (" 19811218 9876", " ######## ####"),
        ("1,91E+11", "#,###+##"),
    ],
)
def test_mask_identifier_keeps_only_separators_and_length(value: str, masked: str) -> None:
    assert mask_identifier(value) == masked
    assert len(mask_identifier(value)) == len(value)


# --------------------------------------------------------------------------------------------
# Synthetic numbers and properties
# --------------------------------------------------------------------------------------------

birth_dates = st.dates(min_value=dt.date(1901, 1, 1), max_value=REF)
sexes = st.sampled_from(["flicka", "pojke"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.lists(st.tuples(birth_dates, sexes), min_size=1, max_size=20),
    form=st.sampled_from(["12", "12-", "10-"]),
    samordning=st.sampled_from([0.0, 0.5, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_synthetic_personnummer_always_parse_with_same_birth_date_and_sex(
    people: list[tuple[dt.date, str]], form: str, samordning: float, seed: int
) -> None:
    dates = pd.Series(pd.to_datetime([d for d, _ in people]), index=range(5, 5 + len(people)))
    sex = pd.Series([s for _, s in people], index=dates.index)
    numbers = synthetic_personnummer(
        dates,
        sex,
        rng=np.random.default_rng(seed),
        samordning=samordning,
        form=form,
        reference_date=REF,
    )
    assert list(numbers.index) == list(dates.index)
    parsed = parse_personnummer(numbers, reference_date=REF)
    assert parsed["valid"].all(), parsed["reason"].tolist()
    assert (parsed["birth_date"] == dates).all()
    assert (parsed["sex"] == sex).all()
    if samordning == 1.0:
        assert parsed["samordningsnummer"].all()
    if samordning == 0.0:
        assert not parsed["samordningsnummer"].any()


@settings(max_examples=200, deadline=None)
@given(
    birth=birth_dates,
    sex=sexes,
    seed=st.integers(0, 2**32 - 1),
    position=st.integers(0, 11),
    shift=st.integers(1, 9),
)
def test_parse_personnummer_single_digit_change_is_detected(
    birth: dt.date, sex: str, seed: int, position: int, shift: int
) -> None:
    number = synthetic_personnummer(
        pd.Series([pd.Timestamp(birth)]), pd.Series([sex]), rng=np.random.default_rng(seed)
    ).iloc[0]
    digit = (int(number[position]) + shift) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    row = parse_one(changed)
    # Luhn detects every single-digit substitution in the last ten digits; a changed century
    # moves the birth date (or makes it impossible or future).
    assert (not row["valid"]) or row["birth_date"] != pd.Timestamp(birth)
    if position >= 2:
        assert not row["valid"]


def test_synthetic_personnummer_ten_digit_form_uses_plus_from_hundred() -> None:
    dates = pd.Series(pd.to_datetime(["1925-06-01", "1925-06-02", "2010-01-01"]))
    numbers = synthetic_personnummer(
        dates,
        pd.Series(["flicka", "pojke", "flicka"]),
        rng=np.random.default_rng(1),
        form="10-",
        reference_date=REF,
    )
    assert [n[6] for n in numbers] == ["+", "-", "-"]  # 100 on the reference date itself


def test_synthetic_personnummer_rejects_bad_arguments() -> None:
    dates = pd.Series(pd.to_datetime(["2010-01-01"]))
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="reference_date"):
        synthetic_personnummer(dates, pd.Series(["pojke"]), rng=rng, form="10-")
    with pytest.raises(ValueError, match="form"):
        synthetic_personnummer(dates, pd.Series(["pojke"]), rng=rng, form="10")
    with pytest.raises(ValueError, match="flicka"):
        synthetic_personnummer(dates, pd.Series(["M"]), rng=rng)
    with pytest.raises(ValueError, match="after reference_date"):
        synthetic_personnummer(
            pd.Series(pd.to_datetime(["2030-01-01"])),
            pd.Series(["pojke"]),
            rng=rng,
            form="10-",
            reference_date=REF,
        )


def test_synthetic_personnummer_missing_inputs_give_na() -> None:
    numbers = synthetic_personnummer(
        pd.Series(pd.to_datetime(["2010-01-01", None, "2011-01-01"])),
        pd.Series(["pojke", "flicka", None]),
        rng=np.random.default_rng(0),
    )
    assert numbers.isna().tolist() == [False, True, True]


def test_parse_and_pseudonymise_two_hundred_thousand_values() -> None:
    # Shows the vectorised path handles a realistic export size; deliberately not timed.
    rng = np.random.default_rng(2025)
    n = 200_000
    dates = pd.Series(pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.integers(0, 9000, n), "D"))
    sex = pd.Series(rng.choice(["flicka", "pojke"], n))
    numbers = synthetic_personnummer(
        dates, sex, rng=rng, samordning=0.02, form="10-", reference_date=REF
    )
    parsed = parse_personnummer(numbers, reference_date=REF)
    assert parsed["valid"].all()
    assert (parsed["birth_date"] == dates).all()
    ids = pseudonymise(parsed["canonical"], PseudonymKey(SECRET_A), domain="barn", prefix="B")
    assert ids.str.fullmatch(ID_PATTERN[1:-1]).all()
    assert ids.nunique() == parsed["canonical"].nunique()


# --------------------------------------------------------------------------------------------
# Pseudonyms
# --------------------------------------------------------------------------------------------


def test_pseudonymise_follows_the_documented_hmac_formula() -> None:
    # Independent construction with the standard library (RFC 2104 HMAC, FIPS 180-4 SHA-256).
    value = "198112189876"
    expected = "B" + hmac.new(SECRET_A, b"barn\x1f" + value.encode(), "sha256").hexdigest()[:16]
    out = pseudonymise(pd.Series([value]), PseudonymKey(SECRET_A), domain="barn", prefix="B")
    assert out.iloc[0] == expected


def test_pseudonymise_matches_dataset_id_pattern_and_keeps_na() -> None:
    from workbench.dataset import ID_PATTERN as DATASET_ID_PATTERN

    assert ID_PATTERN == DATASET_ID_PATTERN
    values = pd.Series(["198112189876", None, "197010632391", "198112189876"], index=[9, 8, 7, 6])
    out = pseudonymise(values, PseudonymKey(SECRET_A), domain="barn", prefix="B")
    assert list(out.index) == [9, 8, 7, 6]
    assert out.isna().tolist() == [False, True, False, False]
    assert all(re.match(DATASET_ID_PATTERN, v) for v in out.dropna())
    assert out.iloc[0] == out.iloc[3] != out.iloc[2]


@pytest.mark.parametrize("prefix", ["", "b", "BB", "Å", "1"])
def test_pseudonymise_rejects_bad_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        pseudonymise(pd.Series(["x"]), PseudonymKey(SECRET_A), domain="barn", prefix=prefix)


def test_pseudonymise_rejects_numbers_and_bad_domain() -> None:
    key = PseudonymKey(SECRET_A)
    with pytest.raises(TypeError):
        pseudonymise(pd.Series([8112189876], dtype=object), key, domain="barn", prefix="B")
    with pytest.raises(ValueError, match="domain"):
        pseudonymise(pd.Series(["x"]), key, domain="", prefix="B")
    with pytest.raises(ValueError, match="domain"):
        pseudonymise(pd.Series(["x"]), key, domain="a\x1fb", prefix="B")


def _per_row_hmac(values: pd.Series, secret: bytes, domain: str, prefix: str) -> list:
    """The documented formula applied row by row with the standard library (the oracle)."""
    return [
        None
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
        else prefix
        + hmac.new(secret, domain.encode() + b"\x1f" + v.encode(), "sha256").hexdigest()[:16]
        for v in values
    ]


@pytest.mark.parametrize("key_bytes", [32, 64, 65, 100])
def test_pseudonymise_of_distinct_values_equals_per_row_hmac(monkeypatch, key_bytes: int) -> None:
    # Each distinct value is hashed once and the result spread back to its rows; keys longer
    # than SHA-256's 64-byte block are hashed first (RFC 2104). Small chunks cross boundaries.
    import workbench.pseudonym as pseudonym

    monkeypatch.setattr(pseudonym, "_CHUNK", 7)
    rng = np.random.default_rng(key_bytes)
    secret = bytes(rng.integers(0, 256, key_bytes, dtype=np.uint8))
    distinct = [f"{n:012d}" for n in rng.integers(10**11, 10**12, 40)]
    distinct += ["", "åäö-ÅÄÖ", "x\x1fy", "€ 1", "19811218-9876"]
    values = pd.Series(rng.choice(np.array(distinct, dtype=object), 500), dtype="str")
    values[rng.random(500) < 0.1] = None
    for domain, prefix in (("barn", "B"), ("registrering", "R")):
        out = pseudonymise(values, PseudonymKey(secret), domain=domain, prefix=prefix)
        expected = _per_row_hmac(values, secret, domain, prefix)
        assert [None if pd.isna(v) else v for v in out] == expected
        assert out.dtype == "str"


@pytest.mark.parametrize(
    "helper",
    [
        "real",  # the helper process hashes the second half of the distinct values
        "import sys; sys.exit(3)",  # fails: this process hashes them instead
        "import sys; sys.stdin.buffer.read(); sys.stdout.buffer.write(b'short')",  # wrong size
    ],
)
def test_pseudonymise_shared_with_a_helper_process_equals_per_row_hmac(monkeypatch, helper):
    import workbench.pseudonym as pseudonym

    monkeypatch.setattr(pseudonym, "_second_core_idle", lambda: True)  # whatever the load
    monkeypatch.setattr(pseudonym, "_SHARE_FROM", 50)
    if helper != "real":
        monkeypatch.setattr(pseudonym, "_HELPER", helper)
    rng = np.random.default_rng(17)
    secret = bytes(rng.integers(0, 256, 80, dtype=np.uint8))  # longer than a block: hashed
    distinct = [f"2281\x1fref\x1fREG{n:08d}" for n in rng.integers(0, 10**8, 300)]
    distinct += ["åäö", "", "€"]
    values = pd.Series(rng.choice(np.array(distinct, dtype=object), 900), dtype="str")
    values[rng.random(900) < 0.05] = None
    hashed_here = []
    own = pseudonym._hmac_digests
    monkeypatch.setattr(
        pseudonym,
        "_hmac_digests",
        lambda i, o, texts: hashed_here.append(len(texts)) or own(i, o, texts),
    )
    out = pseudonymise(values, PseudonymKey(secret), domain="registrering", prefix="R")
    expected = _per_row_hmac(values, secret, "registrering", "R")
    assert [None if pd.isna(v) else v for v in out] == expected
    n = values.nunique()
    assert sum(hashed_here) == (n // 2 if helper == "real" else n)


def test_pseudonymise_failing_meanwhile_leaves_no_helper_process(monkeypatch) -> None:
    import psutil

    import workbench.pseudonym as pseudonym

    monkeypatch.setattr(pseudonym, "_second_core_idle", lambda: True)
    monkeypatch.setattr(pseudonym, "_SHARE_FROM", 50)
    # a helper that would take long: it must be stopped, not waited for
    monkeypatch.setattr(pseudonym, "_HELPER", "import sys, time; time.sleep(60)")

    def broken(inner, outer, texts):
        raise MemoryError("synthetic failure in this process")

    monkeypatch.setattr(pseudonym, "_hmac_digests", broken)
    values = pd.Series([f"id-{i}" for i in range(200)], dtype="str")
    # other tests in this worker may have left their own long-lived children (e.g. a kernel
    # fork server): only the helper started here must be gone
    before = {c.pid for c in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    with pytest.raises(MemoryError):
        pseudonymise(values, PseudonymKey(SECRET_A), domain="barn", prefix="B")
    assert time.monotonic() - started < 30  # stopped, not waited for
    after = {c.pid for c in psutil.Process().children(recursive=True)}
    assert after - before == set()


def test_pseudonym_helper_only_when_a_core_is_idle(monkeypatch) -> None:
    import workbench.pseudonym as pseudonym

    monkeypatch.setattr(pseudonym.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(pseudonym.os, "getloadavg", lambda: (0.3, 0.5, 0.5))
    assert pseudonym._second_core_idle()
    monkeypatch.setattr(pseudonym.os, "getloadavg", lambda: (1.4, 0.5, 0.5))  # another job
    assert not pseudonym._second_core_idle()
    monkeypatch.setattr(pseudonym.os, "cpu_count", lambda: 1)
    monkeypatch.setattr(pseudonym.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert not pseudonym._second_core_idle()


def test_pseudonymise_object_values_equal_str_values_and_empty_input() -> None:
    key = PseudonymKey(SECRET_A)
    texts = ["198112189876", "197010632391", None, "198112189876"]
    as_object = pseudonymise(pd.Series(texts, dtype=object), key, domain="barn", prefix="B")
    as_str = pseudonymise(pd.Series(texts, dtype="str"), key, domain="barn", prefix="B")
    pd.testing.assert_series_equal(as_object, as_str)
    assert as_str.tolist()[:2] == _per_row_hmac(pd.Series(texts[:2]), SECRET_A, "barn", "B")
    empty = pseudonymise(pd.Series([], dtype="str"), key, domain="barn", prefix="B")
    assert len(empty) == 0 and empty.dtype == "str"
    missing = pseudonymise(pd.Series([None, None], dtype="str"), key, domain="barn", prefix="B")
    assert missing.isna().all()


identifiers = st.text(alphabet="0123456789", min_size=10, max_size=12)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(identifiers, min_size=1, max_size=10))
def test_pseudonymise_deterministic_keyed_and_domain_separated(values: list[str]) -> None:
    series = pd.Series(values)
    key_a, key_b = PseudonymKey(SECRET_A), PseudonymKey(SECRET_B)
    first = pseudonymise(series, key_a, domain="barn", prefix="B")
    again = pseudonymise(series, PseudonymKey(bytes(SECRET_A)), domain="barn", prefix="B")
    other_key = pseudonymise(series, key_b, domain="barn", prefix="B")
    other_domain = pseudonymise(series, key_a, domain="insats", prefix="B")
    assert first.tolist() == again.tolist()
    for value, a, b, c in zip(values, first, other_key, other_domain, strict=True):
        assert a != b and a != c
        assert a[1:] not in hashlib.sha256(value.encode()).hexdigest()
        assert a[1:] not in hashlib.sha256(b"barn\x1f" + value.encode()).hexdigest()
        assert value not in a


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Key configuration pointing into tmp_path (environment variables are configuration)."""
    monkeypatch.delenv("WORKBENCH_KEY", raising=False)
    monkeypatch.delenv("WORKBENCH_KEY_FILE", raising=False)
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config / "workbench" / "pseudonym.key"


def test_pseudonym_key_repr_and_str_hide_secret() -> None:
    key = PseudonymKey(SECRET_A)
    for text in (repr(key), str(key), f"{key}"):
        assert SECRET_A.hex() not in text
        assert repr(SECRET_A) not in text
        assert key.key_id in text
    assert re.fullmatch(r"k-[0-9a-f]{12}", key.key_id)
    expected = "k-" + hashlib.sha256(b"workbench-key-id\0" + SECRET_A).hexdigest()[:12]
    assert key.key_id == expected
    assert PseudonymKey(SECRET_B).key_id != key.key_id


def test_pseudonym_key_rejects_short_secret() -> None:
    with pytest.raises(PseudonymKeyError, match="workbench key init") as info:
        PseudonymKey(b"\x01" * 31)
    assert " / " in str(info.value)


def test_default_key_path_env_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WORKBENCH_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_key_path() == tmp_path / "xdg" / "workbench" / "pseudonym.key"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_key_path() == Path.home() / ".config" / "workbench" / "pseudonym.key"
    monkeypatch.setenv("WORKBENCH_KEY_FILE", str(tmp_path / "k.key"))
    assert default_key_path() == tmp_path / "k.key"


def test_init_key_creates_0600_file_in_0700_dir(key_env: Path) -> None:
    old = os.umask(0)  # even with a permissive umask nothing is group/world accessible
    try:
        key = init_key()
    finally:
        os.umask(old)
    assert stat.S_IMODE(key_env.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_env.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_env.parent.parent.stat().st_mode) == 0o700
    assert bytes.fromhex(key_env.read_text().strip()) == key.secret
    assert len(key.secret) == 32
    assert load_key() == key
    assert [p.name for p in key_env.parent.iterdir()] == ["pseudonym.key"]  # no temp left


def test_init_key_refuses_overwrite_unless_forced(key_env: Path) -> None:
    first = init_key()
    with pytest.raises(PseudonymKeyError, match="unlinkable"):
        init_key()
    assert load_key() == first
    key_env.chmod(0o644)  # a forced replacement must not inherit the old mode
    second = init_key(force=True)
    assert second.key_id != first.key_id
    assert stat.S_IMODE(key_env.stat().st_mode) == 0o600
    assert load_key() == second


def test_init_key_refuses_path_inside_git_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    target = repo / "secrets" / "pseudonym.key"
    with pytest.raises(PseudonymKeyError, match="outside the repository"):
        init_key(target)
    assert not (repo / "secrets").exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_load_key_rejects_group_readable_file(key_env: Path, mode: int) -> None:
    key = init_key()
    key_env.chmod(mode)
    with pytest.raises(PseudonymKeyError) as info:
        load_key()
    message = str(info.value)
    assert f"chmod 600 {key_env}" in message
    assert key.secret.hex() not in message


def test_load_key_without_any_key_says_run_init(key_env: Path) -> None:
    with pytest.raises(PseudonymKeyError, match="workbench key init"):
        load_key()
    with pytest.raises(PseudonymKeyError, match="workbench key init"):
        load_key(key_env.parent / "missing.key")


def test_load_key_from_environment(monkeypatch: pytest.MonkeyPatch, key_env: Path) -> None:
    monkeypatch.setenv("WORKBENCH_KEY", SECRET_B.hex())
    assert load_key().secret == SECRET_B
    # An explicit path comes first, the environment before the default file.
    file_key = init_key(key_env.parent / "explicit.key")
    assert load_key(key_env.parent / "explicit.key") == file_key
    init_key()
    assert load_key().secret == SECRET_B


@pytest.mark.parametrize(
    "content", ["not hex at all", "abc", ("ab" * 16)[:-1], "00" * 16, "zz" + "00" * 40]
)
def test_load_key_rejects_malformed_or_short_keys_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, key_env: Path, content: str
) -> None:
    monkeypatch.setenv("WORKBENCH_KEY", content)
    with pytest.raises(PseudonymKeyError) as env_error:
        load_key()
    monkeypatch.delenv("WORKBENCH_KEY")
    key_env.parent.mkdir(parents=True)
    key_env.write_text(content)
    key_env.chmod(0o600)
    with pytest.raises(PseudonymKeyError) as file_error:
        load_key()
    for error in (env_error, file_error):
        assert " / " in str(error.value)  # bilingual
        trace = "".join(traceback.format_exception(error.value))
        assert content not in trace


def test_key_never_logged(key_env: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="workbench.pseudonym"):
        key = init_key()
        load_key()
    assert key.key_id in caplog.text
    assert key.secret.hex() not in caplog.text
