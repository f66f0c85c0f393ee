"""Tests for workbench.analysis and workbench.views_analysis: known answers, edge cases, dtypes.

Reference values name their source. Tiny hand-made frames test the counting rules (gross vs net,
units, periods); the session's synthetic dataset (5 % volume, tests/conftest.py) tests the
pipeline on realistic data and against numbers the generator computes independently.
"""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from workbench import analysis, dataset, synth
from workbench.catalogue import code_order
from workbench.municipalities import NATIONAL, list_municipalities

# Newcombe RG (1998a), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score):
# 81/263 -> 0.2553-0.3662; 0/20 -> 0-0.1611; 1/29 -> 0.0061-0.1718.
NEWCOMBE_WILSON = [(81, 263, 0.2553, 0.3662), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]

# Freireich EJ et al. (1963), Blood 21:699-716, the 6-MP group (weeks; 1 = relapse,
# 0 = censored) and the Kaplan-Meier values of Kleinbaum & Klein (2012), Survival Analysis,
# 3rd ed., ch. 2: S(13) = 0.6902, S(22) = 0.5378, median 23 weeks.
MP6_WEEKS = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
MP6_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]

KOMMUNER = list_municipalities()
K1, K2 = "2281", "2262"  # Sundsvall and Timrå, both in county 22
K_OTHER = "0180"  # Stockholm, county 01


def registrations(rows: list[dict]) -> pd.DataFrame:
    """A tiny registration frame: kommun, ar, ids and whatever columns the rows give."""
    df = pd.DataFrame(rows)
    n = len(df)
    if "registrering_id" not in df:
        df["registrering_id"] = [f"R{i:016x}" for i in range(n)]
    if "insats_id" not in df:
        df["insats_id"] = [f"I{i:016x}" for i in range(n)]
    if "barn_id" not in df:
        df["barn_id"] = [f"B{i:016x}" for i in range(n)]
    if "ar" not in df:
        df["ar"] = 2020
    for c in df.columns:
        values = df[c].dropna()
        if df[c].dtype != object:
            continue
        if "__" in c or not values.map(lambda v: isinstance(v, str)).all():
            df[c] = df[c].astype("boolean")  # multi-select columns are nullable booleans
        else:
            df[c] = df[c].astype("str")
    return df


@pytest.fixture(scope="module")
def regs(small_dataset) -> pd.DataFrame:
    return dataset.load_registrations(small_dataset)


@pytest.fixture(scope="module")
def interventions(small_dataset) -> pd.DataFrame:
    return analysis.load_interventions(small_dataset)


@pytest.fixture(scope="module")
def data_date(small_dataset) -> str:
    return dataset.read_manifest(small_dataset).data_date


def one(table: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for k, v in where.items():
        mask &= (table[k] == v).to_numpy(dtype=bool) if v is not None else table[k].isna()
    rows = table.loc[mask]
    assert len(rows) == 1, (where, len(rows))
    return rows.iloc[0]


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------


def test_unit_map_lists_every_municipality_once_per_level():
    m = analysis.unit_map(("kommun", "lan", "riket"))
    assert len(m) == 3 * len(KOMMUNER)
    assert set(m.loc[m["niva"] == "riket", "enhet"]) == {NATIONAL}
    assert m.loc[(m["niva"] == "lan") & (m["kommun"] == K1), "enhet"].item() == "22"


def test_unit_map_needs_a_lookup_for_municipality_groups():
    with pytest.raises(ValueError, match="groups="):
        analysis.unit_map(("kommungrupp",))
    groups = dict.fromkeys(KOMMUNER["municipality_code"], "C8") | {"0180": "A1"}
    m = analysis.unit_map(("kommungrupp",), groups=groups)
    assert set(m["enhet"]) == {"A1", "C8"}
    with pytest.raises(ValueError, match="lacks 1"):
        analysis.unit_map(("kommungrupp",), groups={k: "X" for k in list(groups)[1:]})
    with pytest.raises(ValueError, match="unknown level"):
        analysis.unit_map(("stadsdel",))


# --------------------------------------------------------------------------------------------
# Counting: known answers and rules
# --------------------------------------------------------------------------------------------


def test_tabulate_gives_newcombe_wilson_intervals_per_municipality():
    rows = []
    for kommun, (x, n, _, _) in zip([K1, K2, K_OTHER], NEWCOMBE_WILSON, strict=True):
        rows += [{"kommun": kommun, "svar": "ja"}] * x + [{"kommun": kommun, "svar": "nej"}] * (
            n - x
        )
    out = analysis.tabulate(registrations(rows), "svar", codes=["ja", "nej"], by_year=False)
    for kommun, (x, n, low, high) in zip([K1, K2, K_OTHER], NEWCOMBE_WILSON, strict=True):
        r = one(out, enhet=kommun, kod="ja")
        assert (r["n"], r["namnare"]) == (x, n)
        assert r["ci_low"] == pytest.approx(low, abs=5e-5)
        assert r["ci_high"] == pytest.approx(high, abs=5e-5)
        assert r["raknas"] == "registreringar"
    county = one(out, niva="lan", enhet="22", kod="ja")
    assert (county["n"], county["namnare"]) == (81 + 0, 263 + 20)
    nation = one(out, niva="riket", enhet=NATIONAL, kod="ja")
    assert (nation["n"], nation["namnare"]) == (82, 312)


def test_tabulate_counts_years_and_the_whole_period():
    rows = [{"kommun": K1, "ar": 2019, "x": "a"}] * 3 + [{"kommun": K1, "ar": 2021, "x": "b"}]
    out = analysis.tabulate(registrations(rows), "x", levels=("kommun",))
    assert list(out["period"].unique()) == ["2019", "2021", "2019–2021"]
    assert one(out, period="2019", kod="a")["n"] == 3
    assert one(out, period="2019–2021", kod="b")["andel"] == pytest.approx(0.25)
    assert out.loc[out["period"] == "2019–2021", "ar"].isna().all()
    assert out.loc[out["period"] == "2021", "ar"].eq(2021).all()


def test_describe_counts_net_children_and_gross_registrations():
    # One child with three registrations: two in family home, one in HVB (DOMAIN.md §5:
    # net totals are not the sum of sub-rows).
    rows = [
        {"kommun": K1, "barn_id": "B1", "insats_id": "I1", "insatstyp": "familjehem"},
        {"kommun": K1, "barn_id": "B1", "insats_id": "I1", "insatstyp": "familjehem"},
        {"kommun": K1, "barn_id": "B1", "insats_id": "I2", "insatstyp": "hvb"},
    ]
    d = registrations(rows)
    gross = analysis.describe(d, "insatstyp", levels=("kommun",), by_year=False)
    assert one(gross, kod="familjehem")["n"] == 2
    assert one(gross, kod="hvb")["namnare"] == 3
    net = analysis.describe(d, "insatstyp", levels=("kommun",), by_year=False, count="barn")
    assert one(net, kod="familjehem")["n"] == 1 and one(net, kod="hvb")["n"] == 1
    assert one(net, kod="hvb")["namnare"] == 1  # codes add up to 2 > 1 child
    assert (net["raknas"] == "barn").all()
    ins = analysis.describe(d, "insatstyp", levels=("kommun",), by_year=False, count="insatser")
    assert one(ins, kod="familjehem")["n"] == 1 and one(ins, kod="hvb")["namnare"] == 2


def test_net_counts_are_deduplicated_across_municipalities_of_a_county():
    # the same child registered in two municipalities of county 22 counts once in the county
    rows = [
        {"kommun": K1, "barn_id": "B1", "kon": "flicka"},
        {"kommun": K2, "barn_id": "B1", "kon": "flicka"},
    ]
    net = analysis.describe(registrations(rows), "kon", count="barn", by_year=False)
    assert one(net, niva="kommun", enhet=K1, kod="flicka")["n"] == 1
    assert one(net, niva="lan", enhet="22", kod="flicka")["n"] == 1
    gross = analysis.describe(registrations(rows), "kon", by_year=False)
    assert one(gross, niva="lan", enhet="22", kod="flicka")["n"] == 2


def test_describe_multi_select_counts_ticks_over_rows_with_any_answer():
    cols = {f"identifierad_utsatthet__{c}": None for c in code_order("identifierad_utsatthet")}
    rows = [
        {
            **cols,
            "identifierad_utsatthet__bevittnat_vald": True,
            "identifierad_utsatthet__utsatt_for_vald": True,
        },
        {**cols, "identifierad_utsatthet__bevittnat_vald": True},
        {**cols, "identifierad_utsatthet__ingen": False},  # filled (False), nothing ticked
        dict(cols),  # not filled in
    ]
    d = registrations([{**r, "kommun": K1} for r in rows])
    out = analysis.describe(d, "identifierad_utsatthet", levels=("kommun",), by_year=False)
    assert one(out, kod="bevittnat_vald")["n"] == 2
    assert one(out, kod="utsatt_for_vald")["n"] == 1
    assert one(out, kod="ingen")["n"] == 0
    assert (out["namnare"] == 3).all()
    assert list(out["kod"]) == list(code_order("identifierad_utsatthet"))


def test_describe_applies_reason_for_ending_only_to_endings():
    rows = [
        {"kommun": K1, "registreringstyp": "avslut", "avslutsorsak": "sammanbrott"},
        {"kommun": K1, "registreringstyp": "uppfoljning", "avslutsorsak": None},
        {"kommun": K1, "registreringstyp": "avslut", "avslutsorsak": None},
    ]
    out = analysis.describe(registrations(rows), "avslutsorsak", levels=("kommun",), by_year=False)
    assert one(out, kod="sammanbrott")["namnare"] == 1


def test_describe_rejects_codes_outside_the_catalogue_and_non_code_variables():
    d = registrations([{"kommun": K1, "kon": "kvinna"}])
    with pytest.raises(ValueError, match="list_variables"):
        analysis.describe(d, "kon")
    with pytest.raises(ValueError, match="intervention_durations"):
        analysis.describe(d, "insats_start")
    with pytest.raises(KeyError, match="list_variables"):
        analysis.describe(d, "no_such_variable")
    with pytest.raises(ValueError, match="count must be"):
        analysis.tabulate(d, "kon", count="personer")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------------


def test_zero_events_and_one_hundred_percent_have_exact_boundary_limits():
    rows = [{"kommun": K1, "kon": "pojke"}] * 12
    out = analysis.describe(registrations(rows), "kon", levels=("kommun",), by_year=False)
    girls, boys = one(out, kod="flicka"), one(out, kod="pojke")
    assert girls["n"] == 0 and girls["andel"] == 0 and girls["ci_low"] == 0.0
    assert boys["andel"] == 1 and boys["ci_high"] == 1.0
    # Wilson upper limit for 0/12: z^2 / (n + z^2) (Newcombe 1998a, method 3 at x = 0)
    z2 = 1.959963984540054**2
    assert girls["ci_high"] == pytest.approx(z2 / (12 + z2), abs=1e-12)


def test_a_municipality_with_three_registrations_is_counted_exactly():
    rows = [{"kommun": K1, "kon": "flicka"}] * 2 + [{"kommun": K1, "kon": "pojke"}]
    out = analysis.describe(registrations(rows), "kon", by_year=False)
    r = one(out, niva="kommun", enhet=K1, kod="flicka")
    assert (r["n"], r["namnare"]) == (2, 3)
    assert r["andel"] == pytest.approx(2 / 3)
    assert set(out["niva"]) == {"kommun", "lan", "riket"}


def test_all_values_missing_gives_a_zero_denominator_and_no_share():
    rows = [{"kommun": K1, "kon": None}] * 4
    out = analysis.describe(registrations(rows), "kon", levels=("kommun",), by_year=False)
    assert (out["namnare"] == 0).all() and out["andel"].isna().all()
    comp = analysis.completeness(registrations(rows), ["kon"], levels=("kommun",), by_year=False)
    assert one(comp, kod="saknas")["andel"] == 1.0


def test_one_category_only_still_lists_every_code():
    rows = [{"kommun": K1, "aktualiseringsvag": "anmalan"}] * 5
    out = analysis.describe(registrations(rows), "aktualiseringsvag", levels=("kommun",))
    assert list(out["kod"].unique()) == list(code_order("aktualiseringsvag"))
    assert one(out, period="2020", kod="ansokan")["n"] == 0


@pytest.mark.parametrize("dtype", ["str", "object", "category"])
def test_string_object_and_categorical_columns_give_identical_tables(dtype):
    rows = [{"kommun": K1, "kon": k} for k in ["flicka", "pojke", "pojke", None]]
    d = registrations(rows)
    expected = analysis.describe(d, "kon", by_year=False)
    d2 = d.assign(kon=d["kon"].astype(dtype), kommun=d["kommun"].astype(dtype))
    got = analysis.describe(d2, "kon", by_year=False)
    pd.testing.assert_frame_equal(got, expected)


def test_all_units_lists_every_unit_with_zeros_and_adds_up():
    rows = [{"kommun": K1, "kon": "flicka"}, {"kommun": K_OTHER, "kon": "pojke"}]
    out = analysis.describe(registrations(rows), "kon", by_year=False, all_units=True)
    n_units = len(KOMMUNER) + KOMMUNER["county_code"].nunique() + 1
    assert len(out) == n_units * len(code_order("kon"))
    kommun = out[out["niva"] == "kommun"]
    assert kommun["n"].sum() == 2
    assert one(out, niva="kommun", enhet="0114", kod="flicka")["n"] == 0


@settings(max_examples=25, deadline=None)
@given(
    st_.lists(
        st_.tuples(
            st_.sampled_from([K1, K2, K_OTHER, "0114"]),
            st_.sampled_from(["flicka", "pojke", "okant", None]),
            st_.integers(2016, 2018),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_property_codes_add_up_and_units_sum_to_their_parents(rows):
    d = registrations([{"kommun": k, "kon": v, "ar": y} for k, v, y in rows])
    out = analysis.describe(d, "kon")
    sums = out.groupby(["niva", "enhet", "period"])["n"].sum()
    denoms = out.groupby(["niva", "enhet", "period"])["namnare"].first()
    pd.testing.assert_series_equal(sums, denoms, check_names=False)
    filled = sum(v is not None for _, v, _ in rows)
    years = [y for _, _, y in rows]
    whole = out["period"] == analysis.period_label((min(years), max(years)))
    nation = out[(out["niva"] == "riket") & whole]
    assert nation["n"].sum() == filled
    lan22 = out[(out["niva"] == "lan") & (out["enhet"] == "22") & whole]
    kom22 = out[out["enhet"].isin([K1, K2]) & whole]
    assert lan22["n"].sum() == kom22["n"].sum()


# --------------------------------------------------------------------------------------------
# Outcomes, completeness and trends on the synthetic dataset
# --------------------------------------------------------------------------------------------


def test_rereferral_reproduces_the_generators_independent_calibration(small_dataset, regs):
    # synth.calibration_metrics computes the KKiK-style rates its own way (DOMAIN.md §5 targets
    # 22 % for 13-20 and 25 % for 0-12); the analysis must give exactly the same shares.
    tables = {
        name: dataset.read_table(small_dataset, name)
        for name in ("registrations", "interventions", "children")
    }
    expected = synth.calibration_metrics(tables)
    out = analysis.rereferral(regs, levels=("riket",), by_year=False)
    old = one(out, aldersgrupp_kkik="13-20", kod="ja")
    young = one(out, aldersgrupp_kkik="0-12", kod="ja")
    assert old["andel"] == pytest.approx(expected["rereferral_13_20"], abs=5e-5)
    assert young["andel"] == pytest.approx(expected["rereferral_0_12"], abs=5e-5)
    nej = one(out, aldersgrupp_kkik="13-20", kod="nej")
    assert nej["andel"] == pytest.approx(1 - old["andel"])


def test_goal_attainment_excludes_not_assessable_from_the_denominator(regs):
    out = analysis.goal_attainment(regs, by=(), levels=("riket",), by_year=False)
    m = regs["maluppfyllelse"]
    helt = one(out, kod="helt")
    assert helt["n"] == (m == "helt").sum()
    assert helt["namnare"] == m.isin(["helt", "delvis", "inte_alls"]).sum()


def test_endings_split_planned_unplanned_and_breakdown_by_type(regs):
    out = analysis.endings(regs, levels=("riket",), by_year=False)
    hvb = out[out["insatstyp"] == "hvb"]
    assert hvb["n"].sum() == hvb["namnare"].iloc[0]
    open_care = out[out["insatstyp"] == "familjebehandling"]
    assert one(open_care, kod="sammanbrott")["n"] == 0  # no planted open-care breakdowns
    assert one(hvb, kod="sammanbrott")["andel"] > 0.1


def test_completeness_finds_the_municipality_that_never_records_risk(regs, small_dataset):
    truth = json.loads((small_dataset / synth.GROUND_TRUTH_FILE).read_text(encoding="utf-8"))
    quirk = next(q["kommun"] for q in truth["quirks"] if q["variable"] == "riskbedomning")
    comp = analysis.completeness(regs, ["riskbedomning", "kon"], levels=("kommun",), by_year=False)
    assert one(comp, enhet=quirk, variabel="riskbedomning", kod="saknas")["andel"] == 1.0
    sums = comp.groupby(["enhet", "variabel"])["n"].sum()
    denoms = comp.groupby(["enhet", "variabel"])["namnare"].first()
    assert (sums == denoms).all()


def test_indicator_trends_detect_the_planted_increase_and_no_change_in_goals(regs):
    talk = analysis.describe(regs, "samtal_med_barnet", levels=("riket",))
    tr = analysis.indicator_trends(talk, codes=["ja"])
    assert one(tr, enhet=NATIONAL)["direction"] == "increasing"
    # goal attainment has no planted trend outside Timrå's recording quirk (synthetic-data.md)
    d = regs[regs["kommun"] != "2262"]
    goal = analysis.goal_attainment(d, by=(), levels=("riket",))
    row = one(analysis.indicator_trends(goal, codes=["helt"]), enhet=NATIONAL)
    assert row["direction"] == "no_evidence"
    assert row["text_sv"].startswith("ingen säker förändring")
    assert "q_value" in tr.columns and tr["q_value"].notna().all()


def test_indicator_trends_say_when_there_are_too_few_years():
    rows = [{"kommun": K1, "ar": y, "x": "a"} for y in (2019, 2020)]
    tr = analysis.indicator_trends(analysis.tabulate(registrations(rows), "x", levels=("kommun",)))
    assert (tr["direction"] == "insufficient_data").all()


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------


def test_intervention_durations_reproduce_the_6mp_kaplan_meier_curve():
    as_of = pd.Timestamp("2025-12-31")
    days = np.array(MP6_WEEKS) * 7
    ended = np.array(MP6_EVENT, dtype=bool)
    start = pd.Series(as_of - pd.to_timedelta(np.where(ended, 400, days), unit="D"))
    end = pd.Series(start + pd.to_timedelta(days, unit="D")).where(ended)
    ins = pd.DataFrame(
        {
            "kommun": K1,
            "insatstyp": "hvb",
            "insats_start": start.astype("datetime64[ns]"),
            "insats_slut": end.astype("datetime64[ns]"),
        }
    )
    weeks = [13, 22]
    out = analysis.intervention_durations(
        ins,
        as_of=as_of,
        months=[w * 7 / analysis.DAYS_PER_MONTH for w in weeks],
        levels=("kommun",),
    )
    med = one(out, matt="median")
    assert med["varde"] * analysis.DAYS_PER_MONTH / 7 == pytest.approx(23)
    assert (med["n"], med["n_events"]) == (21, 9)
    s = out[out["matt"] == "andel_pagaende"]["varde"].to_numpy()
    assert s == pytest.approx([0.6902, 0.5378], abs=5e-5)  # Kleinbaum & Klein (2012), ch. 2


def test_intervention_durations_censor_ongoing_and_skip_invalid_dates():
    as_of = pd.Timestamp("2025-12-31")
    ins = pd.DataFrame(
        {
            "kommun": K1,
            "insatstyp": "familjehem",
            "insats_start": pd.to_datetime(["2025-01-01", "2025-06-01", "2026-02-01", None]),
            "insats_slut": pd.to_datetime([None, "2025-01-01", None, None]),
        }
    )
    out = analysis.intervention_durations(ins, as_of=as_of, levels=("kommun",))
    med = one(out, matt="median")
    assert (med["n"], med["n_events"]) == (1, 0)  # end before start, future start, no start
    assert np.isnan(med["varde"])  # not reached


def test_investigation_times_count_open_cases_correctly():
    as_of = pd.Timestamp("2025-12-31")
    start = pd.Timestamp("2025-01-01")
    ins = pd.DataFrame(
        {
            "kommun": K1,
            "utredning_start": [start, start, start, as_of - pd.Timedelta(days=30), pd.NaT],
            "utredning_slut": [
                start + pd.Timedelta(days=120),  # on time (inclusive limit)
                start + pd.Timedelta(days=121),  # late
                pd.NaT,  # still open, long past the limit: late
                pd.NaT,  # still open, not yet late: unknown, outside the denominator
                pd.NaT,
            ],
        }
    )
    out = analysis.investigation_times(ins, as_of=as_of, levels=("kommun",), by_year=False)
    r = one(out, enhet=K1)
    assert (r["n"], r["n_late"], r["n_open_late"], r["n_undetermined"]) == (1, 1, 1, 1)
    assert r["namnare"] == 3 and r["andel"] == pytest.approx(1 / 3)


def test_durations_on_the_synthetic_data_are_plausible(interventions, data_date):
    dur = analysis.intervention_durations(interventions, as_of=data_date, levels=("riket",))
    med = dur[dur["matt"] == "median"].set_index("insatstyp")["varde"]
    assert med["familjehem"] > med["jourhem"]  # family homes last longer than emergency homes
    fu = analysis.time_to_follow_up(interventions, as_of=data_date, levels=("riket",))
    # first follow-up comes 90-200 days after the start (docs/synthetic-data.md)
    assert 3 < one(fu, matt="median")["varde"] < 7
    inv = analysis.investigation_times(interventions, as_of=data_date, levels=("riket",))
    total = inv[inv["ar"].isna()].iloc[0]
    assert total["andel"] == pytest.approx(0.95, abs=0.02)  # calibration target, DOMAIN.md §5


# --------------------------------------------------------------------------------------------
# Presentation (views_analysis)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def analysis_report(small_dataset):
    from workbench import load_settings
    from workbench.views import FollowUpReport
    from workbench.views_analysis import AnalysisReport

    s = load_settings(kommun="2281", period="2016-2025", data_dir=str(small_dataset), audience="")
    return AnalysisReport.load(FollowUpReport.load(s))


def test_check_durations_hides_small_groups_and_implied_small_counts():
    from workbench.disclosure import DisclosureRules
    from workbench.views_analysis import check_durations

    t = pd.DataFrame(
        {
            "enhet": [K1] * 4,
            "n": [50, 50, 8, 50],
            "n_events": [40, 40, 8, 5],
            "matt": ["andel_pagaende", "andel_pagaende", "andel_pagaende", "median"],
            "varde": [0.5, 0.98, 0.5, 6.0],  # 0.98 * 50 = 49 ongoing, 1 ended: implied small
            "ci_low": [0.4, 0.9, 0.2, 5.0],
            "ci_high": [0.6, 1.0, 0.8, 7.0],
        }
    )
    ct = check_durations(t, DisclosureRules())
    assert list(ct.data["shown"]) == [True, False, False, False]
    shown = ct.to_frame()
    assert shown["varde"].isna().tolist() == [False, True, True, True]


def test_blocks_render_only_protected_or_checked_numbers(analysis_report):
    from workbench.views_analysis import CheckedTable, _require

    with pytest.raises(TypeError, match="protect_linked"):
        _require(pd.DataFrame(), CheckedTable)
    from workbench.disclosure import audit_lp

    pt = analysis_report.protected
    small = (pt.data["n"] >= 1) & (pt.data["n"] < pt.rules.min_count)
    assert small.any() and pt.data.loc[small, "suppressed"].all()
    assert audit_lp(pt).ok  # the LP audit is the oracle for the linked outcome set
    block = analysis_report.goal_attainment_by_type()
    assert "Målen helt uppnådda" in block.html
    assert "application/vnd.workbench.suppression-log+json" in block.data


def test_equal_care_block_hides_small_groups_and_speaks_swedish(analysis_report):
    block = analysis_report.equal_care("maluppfyllelse")
    text = html.unescape(block.html)
    assert "Riket" in text and "justerat för" in text
    assert "Flickor når målen helt i lägre grad än pojkar" in text
    cells = block.data["application/vnd.workbench.suppression-log+json"]["cells"]
    assert all(c["rule"] in ("min_count", "denominator") for c in cells)


def test_trend_and_completeness_blocks_render(analysis_report):
    t = html.unescape(analysis_report.trends().html)
    assert "ökande" in t or "ingen säker förändring" in t
    c = html.unescape(analysis_report.completeness_trends().html)
    assert "Kön" in c


def test_blocks_escape_labels_and_text(analysis_report):
    block = analysis_report._share_by_group(
        table="aterkomst_12man",
        code="nej",
        groups=["13-20"],
        group_label=lambda _g: "<script>alert(1)</script>",
        group_title="<b>rubrik</b>",
        title="Test & <i>titel</i>",
        counted="räknas <img src=x>",
        xlabel="x",
        name="test",
    )
    assert "<script>" not in block.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in block.html
    assert "<b>rubrik" not in block.html and "<i>titel" not in block.html
    assert "<img src=x>" not in block.html


def test_rereferral_kkik_counts_young_people_after_all_care_closed():
    """KKiK (DOMAIN.md §5): a young person is counted once care has fully closed; a replaced or
    overlapping intervention is not a return; a new opening within 12 months is."""
    from workbench.analysis import rereferral_episodes, rereferral_kkik

    d = pd.to_datetime
    ins = pd.DataFrame(
        {
            "barn_id": ["A", "A", "B", "B", "C", "D"],
            "kommun": ["2281"] * 6,
            "fodelsear": [2005, 2005, 2012, 2012, 2004, 2006],
            # A: two overlapping interventions, then nothing: one period, not back
            # B: ends 2019-06-30, new intervention 2020-03-01: back within 12 months
            # C: ended 2020-11-01 but the window has not passed the extract date: unknown
            # D: still ongoing: no period ended
            "insats_start": d(
                [
                    "2018-01-01",
                    "2018-06-01",
                    "2019-01-01",
                    "2020-03-01",
                    "2020-01-01",
                    "2019-01-01",
                ]
            ),
            "insats_slut": d(
                ["2018-09-01", "2019-02-01", "2019-06-30", "2020-09-01", "2020-11-01", None]
            ),
        }
    )
    ep = rereferral_episodes(ins, as_of="2021-06-30").set_index(["barn_id", "ar"])
    assert ep.loc[("A", 2019), "aterkomst_12man"] == False  # noqa: E712 - pd.NA-aware
    assert ep.loc[("B", 2019), "aterkomst_12man"] == True  # noqa: E712
    assert pd.isna(ep.loc[("B", 2020), "aterkomst_12man"])  # window not passed
    assert pd.isna(ep.loc[("C", 2020), "aterkomst_12man"])
    assert "D" not in ep.index.get_level_values("barn_id")
    assert ep.loc[("A", 2019), "aldersgrupp_kkik"] == "13-20"
    assert ep.loc[("B", 2019), "aldersgrupp_kkik"] == "0-12"
    t = rereferral_kkik(ins, as_of="2021-06-30", levels=("kommun",), by_year=False)
    nej = t[(t["kod"] == "nej") & (t["aldersgrupp_kkik"] == "13-20")]
    assert int(nej["n"].iloc[0]) == 1 and int(nej["namnare"].iloc[0]) == 1
    assert set(t["raknas"]) == {"barn"}
