"""Indicator definitions (data/reference/indicators.yaml) and the counts behind them.

Counts are checked against hand counts of tiny frames and against a plain pandas recount of the
synthetic data; nothing here is mocked.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import indicators as ind
from workbench.catalogue import load_catalogue
from workbench.followup import UNIT
from workbench.municipalities import NATIONAL, list_municipalities

CASE_IDS = {
    "avslut_enligt_plan",
    "sammanbrott_placering",
    "maluppfyllelse_helt",
    "samtal_med_barnet",
    "samtal_placerade_barn",
    "uppfoljning_i_tid",
    "utredning_inom_4_man",
    "aterkomst_12man",
}


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(ind.load_indicators().path.read_text(encoding="utf-8"))


def test_list_indicators_lists_the_case_and_survey_indicators_of_the_issue():
    table = ind.list_indicators()
    assert set(table.loc[table["kind"] == "case", "id"]) >= CASE_IDS
    # every catalogue survey question is a survey indicator (BBIC licence, socialjour, ...)
    survey = set(ind.list_indicators(kind="survey")["id"])
    assert survey == set(load_catalogue().survey_questions)
    assert set(table["polarity"]) <= set(ind.POLARITIES)
    assert table["title_sv"].str.len().min() > 3 and table["source_sv"].str.len().min() > 3


def test_indicator_polarity_is_as_domain_says():
    # DOMAIN.md §5: re-referral is reported as "not returning" being good; breakdowns are bad.
    assert ind.get_indicator("aterkomst_12man").polarity == "lower_better"
    assert ind.get_indicator("sammanbrott_placering").polarity == "lower_better"
    assert ind.get_indicator("maluppfyllelse_helt").polarity == "higher_better"
    assert ind.get_indicator("bbic_licens").polarity == "higher_better"


def test_planned_condition_uses_the_catalogue_planned_flag():
    cond = ind.get_indicator("avslut_enligt_plan").numerator[0]
    codes = load_catalogue().variable("avslutsorsak").codelist.codes
    expected = {c.code for c in codes if c.planned}
    frame = pd.DataFrame({"avslutsorsak": pd.array([c.code for c in codes] + [None], dtype="str")})
    hit = set(frame.loc[cond.mask(frame), "avslutsorsak"])
    assert hit == expected == {"enligt_plan", "aldersgrans", "ersatt_annan_insats"}


def test_get_indicator_unknown_id_names_list_indicators():
    with pytest.raises(ind.IndicatorError, match="list_indicators"):
        ind.get_indicator("finns_inte")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["indicators"][2]["denominator"].update(
                {"maluppfyllelse": ["helt", "bra"]}
            ),
            "valid codes",
        ),
        (lambda r: r["indicators"][2].update({"polarity": "up"}), "polarity"),
        (
            lambda r: r["indicators"][2]["numerator"].update({"no_such_column": ["x"]}),
            "cannot be filtered",
        ),
        (lambda r: r["indicators"].append(copy.deepcopy(r["indicators"][0])), "duplicated"),
        (lambda r: r["indicators"][9].update({"question": "okand_fraga"}), "survey question"),
        (lambda r: r["indicators"][2].update({"min_denominator": 0}), "min_denominator"),
        (lambda r: r["links"][0].update({"expected_share": 1.5}), "expected_share"),
    ],
)
def test_parse_indicators_rejects_bad_definitions_with_a_fix(raw, change, message):
    bad = copy.deepcopy(raw)
    change(bad)
    with pytest.raises(ind.IndicatorError, match=message):
        ind.parse_indicators(bad)


def _reg(rows: list[dict]) -> pd.DataFrame:
    cols = {
        "registrering_id": "str",
        "insats_id": "str",
        "barn_id": "str",
        "kommun": "str",
        "ar": "Int64",
        "registreringstyp": "str",
        "registreringsdatum": "datetime64[ns]",
        "planerad_uppfoljning": "datetime64[ns]",
        "avslutsorsak": "str",
        "maluppfyllelse": "str",
        "samtal_med_barnet": "str",
        "insatsgrupp": "str",
        "aterkomst_12man": "boolean",
    }
    frame = pd.DataFrame(rows)
    for c, t in cols.items():
        if c not in frame:
            frame[c] = None
        frame[c] = frame[c].astype(t)
    return frame


def _counts_of(counts: pd.DataFrame, kommun: str, indicator: str) -> tuple[int, int]:
    r = counts[(counts["kommun"] == kommun) & (counts["indikator"] == indicator)]
    return int(r["n"].sum()), int(r["denominator"].sum())


def test_case_counts_equal_hand_counts_of_a_tiny_frame():
    rows = [
        # Timrå: three endings (2 planned, 1 breakdown of a placement), one not filled in
        {
            "registrering_id": "R1",
            "insats_id": "I1",
            "kommun": "2262",
            "ar": 2020,
            "registreringstyp": "avslut",
            "avslutsorsak": "enligt_plan",
            "insatsgrupp": "oppenvard",
        },
        {
            "registrering_id": "R2",
            "insats_id": "I2",
            "kommun": "2262",
            "ar": 2020,
            "registreringstyp": "avslut",
            "avslutsorsak": "aldersgrans",
            "insatsgrupp": "placering",
        },
        {
            "registrering_id": "R3",
            "insats_id": "I3",
            "kommun": "2262",
            "ar": 2021,
            "registreringstyp": "avslut",
            "avslutsorsak": "sammanbrott",
            "insatsgrupp": "placering",
        },
        {
            "registrering_id": "R4",
            "insats_id": "I4",
            "kommun": "2262",
            "ar": 2021,
            "registreringstyp": "avslut",
            "avslutsorsak": None,
            "insatsgrupp": "placering",
        },
        # goal attainment: helt, delvis, kan_ej_bedomas (not counted)
        {
            "registrering_id": "R5",
            "insats_id": "I5",
            "kommun": "2262",
            "ar": 2020,
            "registreringstyp": "uppfoljning",
            "maluppfyllelse": "helt",
            "samtal_med_barnet": "ja",
        },
        {
            "registrering_id": "R6",
            "insats_id": "I5",
            "kommun": "2262",
            "ar": 2021,
            "registreringstyp": "uppfoljning",
            "maluppfyllelse": "delvis",
            "samtal_med_barnet": "ej_aktuellt",
        },
        {
            "registrering_id": "R7",
            "insats_id": "I6",
            "kommun": "2281",
            "ar": 2020,
            "registreringstyp": "uppfoljning",
            "maluppfyllelse": "kan_ej_bedomas",
            "samtal_med_barnet": "nej",
        },
        # outside the years: not counted
        {
            "registrering_id": "R8",
            "insats_id": "I7",
            "kommun": "2281",
            "ar": 2015,
            "registreringstyp": "uppfoljning",
            "maluppfyllelse": "helt",
        },
    ]
    reg = _reg(rows)
    ins = pd.DataFrame(
        {
            "kommun": pd.array([], dtype="str"),
            "utredning_start": pd.Series([], dtype="datetime64[ns]"),
            "utredning_slut": pd.Series([], dtype="datetime64[ns]"),
        }
    )
    c = ind.case_counts(
        registrations=reg, interventions=ins, years=(2016, 2025), as_of="2025-12-31"
    )
    assert _counts_of(c, "2262", "avslut_enligt_plan") == (2, 3)
    assert _counts_of(c, "2262", "sammanbrott_placering") == (1, 2)
    assert _counts_of(c, "2262", "maluppfyllelse_helt") == (1, 2)
    assert _counts_of(c, "2281", "maluppfyllelse_helt") == (0, 0)
    assert _counts_of(c, "2262", "samtal_med_barnet") == (1, 1)
    assert _counts_of(c, "2281", "samtal_med_barnet") == (0, 1)
    # all 290 municipalities x 10 years x 8 indicators, zeros included
    assert len(c) == 290 * 10 * len(CASE_IDS)
    assert (c["n"] <= c["denominator"]).all()


def test_follow_up_in_time_looks_at_the_next_registration_of_the_same_intervention():
    d = pd.Timestamp
    reg = _reg(
        [
            # planned 2020-06-01, next registration 2020-05-20: in time
            {
                "registrering_id": "R1",
                "insats_id": "I1",
                "kommun": "2262",
                "ar": 2020,
                "registreringstyp": "uppfoljning",
                "registreringsdatum": d("2020-03-01"),
                "planerad_uppfoljning": d("2020-06-01"),
            },
            {
                "registrering_id": "R2",
                "insats_id": "I1",
                "kommun": "2262",
                "ar": 2020,
                "registreringstyp": "uppfoljning",
                "registreringsdatum": d("2020-05-20"),
                "planerad_uppfoljning": d("2020-09-01"),
            },
            # planned 2020-09-01, next 2020-10-15: late
            {
                "registrering_id": "R3",
                "insats_id": "I1",
                "kommun": "2262",
                "ar": 2020,
                "registreringstyp": "avslut",
                "registreringsdatum": d("2020-10-15"),
            },
            # another intervention's registration in between must not count as "next"
            {
                "registrering_id": "R4",
                "insats_id": "I2",
                "kommun": "2262",
                "ar": 2020,
                "registreringstyp": "uppfoljning",
                "registreringsdatum": d("2020-08-01"),
                "planerad_uppfoljning": d("2026-06-01"),
            },  # not yet due: left out
            # due, never followed up: late
            {
                "registrering_id": "R5",
                "insats_id": "I3",
                "kommun": "2262",
                "ar": 2021,
                "registreringstyp": "uppfoljning",
                "registreringsdatum": d("2021-01-10"),
                "planerad_uppfoljning": d("2021-04-10"),
            },
        ]
    )
    out = ind.derive(reg, ["uppfoljning_i_tid"], as_of="2025-12-31")["uppfoljning_i_tid"]
    assert out.tolist() == [True, False, pd.NA, pd.NA, False]


def test_investigation_in_time_counts_open_late_ones_and_leaves_recent_ones_out():
    d = pd.Timestamp
    ins = pd.DataFrame(
        {
            "kommun": pd.array(["2262"] * 4, dtype="str"),
            "utredning_start": [
                d("2025-01-01"),
                d("2025-01-01"),
                d("2025-01-01"),
                d("2025-11-01"),
            ],
            "utredning_slut": [d("2025-05-01"), d("2025-05-02"), pd.NaT, pd.NaT],
        }
    )
    out = ind.derive(ins, ["utredning_inom_4_man"], as_of="2025-12-31")["utredning_inom_4_man"]
    # 120 days (inclusive) is the limit: Jan 1 -> May 1 is 120 days
    assert out.tolist() == [True, False, False, pd.NA]


def test_survey_counts_count_yes_among_municipalities_that_answered():
    survey = pd.DataFrame(
        {
            "kommun": pd.array(["2262", "2281", "2284", "2262"], dtype="str"),
            "ar": pd.array([2012, 2012, 2012, 2013], dtype="Int64"),
            "fraga": pd.array(["bbic_licens"] * 4, dtype="str"),
            "besvarad": [True, True, False, True],
            "svar": pd.array([True, False, None, True], dtype="boolean"),
        }
    )
    c = ind.survey_counts(survey, years=(2012, 2013))
    c = c[c["indikator"] == "bbic_licens"].set_index(["kommun", "ar"])
    assert tuple(c.loc[("2262", 2012), ["n", "denominator"]]) == (1, 1)
    assert tuple(c.loc[("2281", 2012), ["n", "denominator"]]) == (0, 1)
    assert tuple(c.loc[("2284", 2012), ["n", "denominator"]]) == (0, 0)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 289), st.integers(2016, 2018), st.integers(0, 30), st.integers(0, 30)
        ),
        min_size=1,
        max_size=40,
    ),
    st.booleans(),
)
def test_linked_counts_add_up_through_counties_to_the_nation(cells, by_year):
    codes = list(list_municipalities()["municipality_code"])
    counts = (
        pd.DataFrame(
            [
                {
                    "kommun": codes[k],
                    "indikator": "maluppfyllelse_helt",
                    "ar": y,
                    "n": a,
                    "denominator": a + b,
                }
                for k, y, a, b in cells
            ]
        )
        .groupby(["kommun", "indikator", "ar"], as_index=False)
        .sum()
    )
    linked = ind.linked_counts(counts, by_year=by_year)
    yes = linked[linked["kod"] == ind.YES]
    no = linked[linked["kod"] == ind.NO]
    # ja + nej = the denominator in every unit and group
    merged = yes.merge(no, on=[UNIT, "variabel"], suffixes=("_y", "_n"))
    assert (merged["n_y"] + merged["n_n"] == merged["denominator_y"]).all()
    # the nation is the sum over all municipalities, per group
    nat = yes[yes[UNIT] == NATIONAL].set_index("variabel")["n"]
    if by_year:
        expected = counts.groupby("ar")["n"].sum()
        expected.index = [f"maluppfyllelse_helt:{y}" for y in expected.index]
    else:
        expected = pd.Series({"maluppfyllelse_helt": counts["n"].sum()})
    pd.testing.assert_series_equal(
        nat.sort_index(), expected.sort_index(), check_names=False, check_dtype=False
    )
    # each county is the sum of its municipalities
    county = codes[0][:2]
    in_county = counts["kommun"].str.startswith(county)
    assert yes.loc[yes[UNIT] == county, "n"].sum() == counts.loc[in_county, "n"].sum()
    # every unit: 290 municipalities, 21 counties, the nation
    assert yes[UNIT].nunique() == 290 + 21 + 1


def test_case_counts_agree_with_a_plain_recount_of_synthetic_data():
    from workbench import synth

    tables, _ = synth.generate(synth.SynthConfig(municipalities=("2262", "2281")))
    reg = tables["registrations"].merge(
        tables["interventions"].drop(columns=["kommun", "barn_id"]), on="insats_id"
    )
    c = ind.case_counts(
        registrations=reg,
        interventions=tables["interventions"],
        years=(2016, 2025),
        as_of="2025-12-31",
    )
    sub = reg[reg["kommun"] == "2281"]
    goal = sub["maluppfyllelse"].isin(["helt", "delvis", "inte_alls"]).fillna(False)
    expected = (int((sub.loc[goal, "maluppfyllelse"] == "helt").sum()), int(goal.sum()))
    assert _counts_of(c, "2281", "maluppfyllelse_helt") == expected
    ends = sub[(sub["registreringstyp"] == "avslut") & sub["aterkomst_12man"].notna()]
    assert _counts_of(c, "2281", "aterkomst_12man") == (
        int(ends["aterkomst_12man"].astype(bool).sum()),
        len(ends),
    )
    assert np.all(c.loc[~c["kommun"].isin(["2262", "2281"]), "denominator"] == 0)
