from __future__ import annotations

import pandas as pd

from workbench.fmt import NBSP, format_int, format_number, format_percent
from workbench.municipalities import get_municipality, list_counties, list_municipalities, slugify


def test_reference_list_has_290_municipalities_in_21_counties():
    m = list_municipalities()
    assert len(m) == 290 and m["municipality_code"].is_unique
    assert len(list_counties()) == 21
    assert m["municipality_code"].str.fullmatch(r"\d{4}").all()
    assert (m["municipality_code"].str[:2] == m["county_code"]).all()


def test_municipality_codes_keep_leading_zero():
    assert get_municipality("0114").name == "Upplands Väsby"


def test_slugify_handles_swedish_letters():
    assert slugify("Örnsköldsvik") == "ornskoldsvik"
    assert slugify("Upplands Väsby") == "upplands-vasby"


def test_swedish_number_formatting():
    assert format_int(12345) == f"12{NBSP}345"
    assert format_number(1234.56, 1) == f"1{NBSP}234,6"
    assert format_percent(0.125, 1) == f"12,5{NBSP}%"
    assert format_percent(pd.NA) == ".."
    assert format_int(None) == ".."
    assert format_int(0) == "0"
