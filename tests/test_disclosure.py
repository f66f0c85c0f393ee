"""Tests for workbench.disclosure: suppression rules, linked-set suppression and the LP audit."""

from __future__ import annotations

import csv
import html
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.disclosure import (
    NATIONAL,
    SUPPRESSED,
    AuditResult,
    DisclosureRules,
    ProtectedTable,
    audit_lp,
    protect_linked,
    suppression_log,
    write_suppression_log,
)

# ---------------------------------------------------------------------------------------------
# Synthetic table builders (no real data)
# ---------------------------------------------------------------------------------------------

Values = Mapping[str, Mapping[str, Mapping[str, int]]]  # kommun -> group -> code -> n


def make_hierarchy(spec: Mapping[str, int]) -> pd.DataFrame:
    """``{"01": 3}`` -> municipalities 0101, 0102, 0103 in county 01."""
    rows = [
        {"kommun": f"{lan}{i:02d}", "lan": lan}
        for lan, size in spec.items()
        for i in range(1, size + 1)
    ]
    return pd.DataFrame(rows)


def make_counts(
    values: Values,
    hierarchy: pd.DataFrame,
    *,
    denominators: Mapping[str, Mapping[str, int]] | None = None,
    counties: bool = True,
    national: bool = True,
) -> pd.DataFrame:
    """Long-form counts for municipalities plus their county and national sums.

    Denominators default to the sum of the codes (single-select); pass ``denominators``
    (kommun -> group -> d) for multi-select groups.
    """
    county_of = dict(zip(hierarchy["kommun"], hierarchy["lan"], strict=True))
    rows = []

    def emit(unit: str, members: list[str]) -> None:
        for g in values[members[0]]:
            codes = values[members[0]][g]
            d = sum(
                denominators[m][g]
                if denominators and g in denominators[m]
                else sum(values[m][g].values())
                for m in members
            )
            for c in codes:
                n = sum(values[m][g][c] for m in members)
                rows.append({"kommun": unit, "variabel": g, "kod": c, "n": n, "denominator": d})

    for m in values:
        emit(m, [m])
    if counties:
        for lan in sorted(set(county_of.values())):
            emit(lan, [m for m in values if county_of[m] == lan])
    if national:
        emit(NATIONAL, list(values))
    return pd.DataFrame(rows)


def row(table: ProtectedTable, unit: str, code: str, group: str = "x") -> pd.Series:
    d = table.data
    hit = d.loc[(d["kommun"] == unit) & (d["variabel"] == group) & (d["kod"] == code)]
    assert len(hit) == 1
    return hit.iloc[0]


def suppressed_cells(table: ProtectedTable) -> set[tuple[str, str, str]]:
    d = table.data.loc[table.data["suppressed"]]
    return set(zip(d["kommun"], d["variabel"], d["kod"], strict=True))


def assert_nothing_leaks(table: ProtectedTable) -> None:
    """to_frame() carries no raw count or denominator where the cell is suppressed."""
    out = table.to_frame()
    supp = table.data["suppressed"].to_numpy()
    assert out.loc[supp, "n"].isna().all()
    assert out.loc[supp, "share"].isna().all()
    assert out.loc[~supp, "n"].notna().all()
    assert (out.loc[~supp, "n"].to_numpy() == table.data.loc[~supp, "n"].to_numpy()).all()
    dhidden = out["denominator"].isna().to_numpy()
    assert out.loc[dhidden, "share"].isna().all()
    raw_n = table.data["n"].to_numpy()
    small = (raw_n >= 1) & (raw_n < table.rules.min_count)
    numeric = out.select_dtypes("number")
    # No numeric column repeats a small suppressed count in its row.
    for col in numeric.columns:
        vals = numeric[col].to_numpy(dtype="float64", na_value=np.nan)
        clash = supp & small & (vals == raw_n)
        assert not clash.any(), col


TWO_COUNTIES = make_hierarchy({"01": 3, "02": 2})


def small_table(**overrides: Mapping[str, int]) -> pd.DataFrame:
    """Two counties, five municipalities, one single-select group with codes a, b, c."""
    base = {
        "0101": {"a": 30, "b": 20, "c": 17},
        "0102": {"a": 10, "b": 12, "c": 9},
        "0103": {"a": 8, "b": 9, "c": 6},
        "0201": {"a": 6, "b": 15, "c": 7},
        "0202": {"a": 5, "b": 7, "c": 11},
    }
    base.update(overrides)
    return make_counts({k: {"x": v} for k, v in base.items()}, TWO_COUNTIES)


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


def test_rules_from_mapping_reads_known_keys():
    rules = DisclosureRules.from_mapping(
        {"min_count": 3, "min_denominator": 20, "secondary": True}
    )
    assert rules == DisclosureRules(min_count=3, min_denominator=20, secondary=True)
    assert DisclosureRules.from_mapping({}) == DisclosureRules()


def test_rules_from_mapping_rejects_unknown_keys_by_name():
    with pytest.raises(ValueError, match=r"'min_cunt'.*'treshold'|'treshold'.*'min_cunt'"):
        DisclosureRules.from_mapping({"min_cunt": 3, "treshold": 1, "min_count": 5})


@pytest.mark.parametrize(
    "mapping",
    [
        {"min_count": "5"},
        {"min_count": 0},
        {"min_count": True},
        {"min_denominator": 2.5},
        {"secondary": "yes"},
    ],
)
def test_rules_from_mapping_rejects_bad_values(mapping):
    with pytest.raises(ValueError):
        DisclosureRules.from_mapping(mapping)


def test_rules_are_frozen():
    with pytest.raises(AttributeError):
        DisclosureRules().min_count = 3  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Primary suppression and shares
# ---------------------------------------------------------------------------------------------


def test_primary_zero_is_shown():
    pt = protect_linked(
        small_table(**{"0101": {"a": 30, "b": 0, "c": 37}}), hierarchy=TWO_COUNTIES
    )
    r = row(pt, "0101", "b")
    assert not r["suppressed"]
    assert r["n_shown"] == 0
    assert r["rule"] == ""
    assert r["share"] == 0.0


@pytest.mark.parametrize("small", [1, 2, 3, 4])
def test_primary_counts_one_to_four_are_suppressed(small):
    pt = protect_linked(
        small_table(**{"0101": {"a": 30, "b": small, "c": 37 - small}}), hierarchy=TWO_COUNTIES
    )
    r = row(pt, "0101", "b")
    assert r["suppressed"]
    assert r["rule"] == "primary"
    assert pd.isna(r["n_shown"]) and pd.isna(r["share"])
    primary = pt.data.loc[pt.data["rule"] == "primary"]
    assert set(zip(primary["kommun"], primary["kod"], strict=True)) == {("0101", "b")}


def test_primary_threshold_five_is_shown_by_default():
    pt = protect_linked(small_table(), hierarchy=TWO_COUNTIES)
    assert not row(pt, "0202", "a")["suppressed"]  # n = 5
    assert pt.log.empty


def test_primary_threshold_is_configurable():
    counts = small_table()
    pt = protect_linked(counts, hierarchy=TWO_COUNTIES, rules=DisclosureRules(min_count=7))
    primary = pt.data.loc[pt.data["rule"] == "primary"]
    assert set(zip(primary["kommun"], primary["kod"], strict=True)) == {
        ("0103", "c"),
        ("0201", "a"),
        ("0202", "a"),
    }
    assert audit_lp(pt).ok
    lax = protect_linked(counts, hierarchy=TWO_COUNTIES, rules=DisclosureRules(min_count=3))
    assert not lax.data["suppressed"].any()


def test_share_hidden_when_denominator_below_min_denominator():
    values = {
        "0101": {"x": {"a": 4, "b": 3}},  # denominator 7: counts shown (min_count 3), share hidden
        "0102": {"x": {"a": 20, "b": 30}},
    }
    hier = make_hierarchy({"01": 2})
    rules = DisclosureRules(min_count=3)
    pt = protect_linked(make_counts(values, hier, national=False), hierarchy=hier, rules=rules)
    for code in ("a", "b"):
        r = row(pt, "0101", code)
        assert not r["suppressed"]
        assert r["rule"] == "denominator"
        assert pd.isna(r["share"])
        assert r["denominator_shown"] == 7
    assert row(pt, "0102", "a")["share"] == pytest.approx(0.4)
    assert not pt.data["suppressed"].any()
    assert pt.log.empty  # a hidden share is not a suppression of the count


def test_share_min_denominator_is_configurable():
    values = {"0101": {"x": {"a": 12, "b": 8}}, "0102": {"x": {"a": 20, "b": 30}}}
    hier = make_hierarchy({"01": 2})
    counts = make_counts(values, hier, national=False)
    pt = protect_linked(counts, hierarchy=hier, rules=DisclosureRules(min_denominator=25))
    assert pd.isna(row(pt, "0101", "a")["share"])
    assert row(pt, "0102", "a")["share"] == pytest.approx(0.4)


def test_share_hidden_when_count_suppressed():
    pt = protect_linked(
        small_table(**{"0101": {"a": 30, "b": 2, "c": 35}}), hierarchy=TWO_COUNTIES
    )
    supp = pt.data.loc[pt.data["suppressed"]]
    assert len(supp) >= 2
    assert supp["share"].isna().all()
    assert supp["n_shown"].isna().all()


def test_denominator_small_suppresses_whole_unit_group():
    pt = protect_linked(small_table(**{"0103": {"a": 3, "b": 0, "c": 0}}), hierarchy=TWO_COUNTIES)
    rows = pt.data.loc[pt.data["kommun"] == "0103"]
    assert rows["suppressed"].all()
    assert (rows["rule"] == "primary").all()
    assert rows["denominator_shown"].isna().all()
    assert rows["share"].isna().all()
    # the county total must not recover the municipality's denominator either
    dlog = pt.log.loc[pt.log["cell"] == "denominator"]
    assert ("0103", "primary") in set(zip(dlog["kommun"], dlog["rule"], strict=True))
    assert len(dlog) >= 2
    out = pt.to_frame()
    assert out.loc[out["kommun"] == "0103", ["n", "denominator"]].isna().all().all()
    assert audit_lp(pt).ok


def test_share_hidden_when_denominator_suppressed_by_secondary():
    # 0103's small denominator is covered by 0101's total (32 < 47), but 0101's code c is not
    # needed as a complement (0102's c = 7 is smaller), so c stays shown without a share.
    pt = protect_linked(
        small_table(
            **{
                "0101": {"a": 6, "b": 6, "c": 20},
                "0102": {"a": 20, "b": 20, "c": 7},
                "0103": {"a": 3, "b": 0, "c": 0},
            }
        ),
        hierarchy=TWO_COUNTIES,
    )
    assert pd.isna(row(pt, "0101", "c")["denominator_shown"])
    hidden = pt.data.loc[pt.data["denominator_shown"].isna() & ~pt.data["suppressed"]]
    assert len(hidden)  # some other municipality's denominator covers 0103's
    assert hidden["share"].isna().all()
    assert (hidden["rule"] == "denominator").all()


# ---------------------------------------------------------------------------------------------
# Secondary suppression over the linked set
# ---------------------------------------------------------------------------------------------


def test_county_single_small_municipality_gets_second_municipality_suppressed():
    # Code b is small only in 0102: county 01 - (0101 + 0103) would recover it.
    pt = protect_linked(
        small_table(**{"0102": {"a": 10, "b": 2, "c": 19}}), hierarchy=TWO_COUNTIES
    )
    col = pt.data.loc[(pt.data["kod"] == "b") & pt.data["kommun"].isin(["0101", "0102", "0103"])]
    assert col["suppressed"].sum() >= 2
    assert row(pt, "0102", "b")["rule"] == "primary"
    # the complement is the smallest non-zero published cell of the column: 0103 (9 < 20)
    assert row(pt, "0103", "b")["rule"] == "secondary"
    assert not row(pt, "01", "b")["suppressed"]
    # 0102's row then needs a complement too (a = 10), which 0103's row mirrors: a rectangle.
    assert suppressed_cells(pt) == {
        ("0102", "x", "a"),
        ("0102", "x", "b"),
        ("0103", "x", "a"),
        ("0103", "x", "b"),
    }
    audit = audit_lp(pt)
    assert audit.ok
    small = audit.cells.loc[(audit.cells["kommun"] == "0102") & (audit.cells["kod"] == "b")]
    assert (small["lower"].iloc[0], small["upper"].iloc[0]) == pytest.approx((0, 11))


def test_code_line_single_suppressed_code_gets_complement():
    # A unit with no parent line: only the codes -> denominator relation links the cell.
    values = {"0101": {"x": {"a": 3, "b": 12, "c": 7, "d": 40}}}
    hier = make_hierarchy({"01": 1})
    counts = make_counts(values, hier, counties=False, national=False)
    pt = protect_linked(counts, hierarchy=hier)
    assert row(pt, "0101", "a")["rule"] == "primary"
    # smallest non-zero published code is c (7); the total stays published
    assert row(pt, "0101", "c")["rule"] == "secondary"
    assert not row(pt, "0101", "b")["suppressed"]
    assert pt.data["denominator_shown"].notna().all()
    assert audit_lp(pt).ok


def test_code_line_total_suppressed_when_nothing_else_left():
    values = {"0101": {"x": {"a": 3, "b": 0, "c": 0, "d": 0}, "y": {"p": 9, "q": 22}}}
    hier = make_hierarchy({"01": 1})
    counts = make_counts(values, hier, counties=False, national=False)
    counts.loc[counts["variabel"] == "x", "denominator"] = 3
    pt = protect_linked(counts, hierarchy=hier)
    # denominator 3 is primary itself; everything in the row is suppressed
    assert pt.data.loc[pt.data["variabel"] == "x", "suppressed"].all()


def test_secondary_ties_broken_by_code_order():
    values = {"0101": {"x": {"a": 3, "b": 9, "c": 9, "d": 9}}}
    hier = make_hierarchy({"01": 1})
    pt = protect_linked(make_counts(values, hier, counties=False, national=False), hierarchy=hier)
    assert row(pt, "0101", "b")["rule"] == "secondary"
    assert not row(pt, "0101", "c")["suppressed"]
    assert not row(pt, "0101", "d")["suppressed"]


def test_secondary_false_gives_primary_only():
    pt = protect_linked(
        small_table(**{"0102": {"a": 10, "b": 2, "c": 19}}),
        hierarchy=TWO_COUNTIES,
        rules=DisclosureRules(secondary=False),
    )
    assert suppressed_cells(pt) == {("0102", "x", "b")}


def test_two_small_cells_on_one_line_are_widened():
    # 1 + 2 suppressed side by side: their sum (3) would be known, interval [0, 3].
    values = {"0101": {"x": {"a": 1, "b": 2, "c": 20, "d": 40}}}
    hier = make_hierarchy({"01": 1})
    counts = make_counts(values, hier, counties=False, national=False)
    unprotected = protect_linked(counts, hierarchy=hier, rules=DisclosureRules(secondary=False))
    audit = audit_lp(unprotected)
    assert not audit.ok
    assert set(audit.failures["kod"]) == {"a", "b"}
    assert (audit.failures["upper"] == 3).all()
    pt = protect_linked(counts, hierarchy=hier)
    assert row(pt, "0101", "c")["rule"] == "secondary"
    assert audit_lp(pt).ok


def test_rectangle_of_small_cells_is_repaired_by_lp():
    # Four primary cells in a 2 x 2 rectangle: every line has two suppressed cells, so the line
    # heuristic is satisfied, but the LP pins each cell to [0, 2].
    hier = make_hierarchy({"01": 3})
    values = {
        "0101": {"x": {"a": 1, "b": 1, "c": 30}},
        "0102": {"x": {"a": 1, "b": 1, "c": 25}},
        "0103": {"x": {"a": 20, "b": 18, "c": 16}},
    }
    counts = make_counts(values, hier, national=False)
    primary_only = protect_linked(counts, hierarchy=hier, rules=DisclosureRules(secondary=False))
    audit = audit_lp(primary_only)
    assert not audit.ok
    assert len(audit.failures) == 4
    pt = protect_linked(counts, hierarchy=hier)
    result = audit_lp(pt)
    assert result.ok, result.failures
    assert pt.log["pass"].max() >= 1


def test_attribute_all_in_one_code_is_flagged():
    # All 6 placements in 0201 are LVU.
    pt = protect_linked(small_table(**{"0201": {"a": 6, "b": 0, "c": 0}}), hierarchy=TWO_COUNTIES)
    r = row(pt, "0201", "a")
    assert r["suppressed"] and r["rule"] == "attribute"
    assert ("0201", "x", "a", "n", "attribute", 0) in set(
        pt.log.itertuples(index=False, name=None)
    )
    # a zero of the row is suppressed too, so the row no longer proves "everyone has a"
    zeros = pt.data.loc[(pt.data["kommun"] == "0201") & (pt.data["kod"] != "a")]
    assert zeros["suppressed"].any()
    audit = audit_lp(pt)
    assert audit.ok
    cell = audit.cells.loc[(audit.cells["kommun"] == "0201") & (audit.cells["kod"] == "a")]
    assert cell["rest_upper"].iloc[0] >= 5


def test_attribute_without_companion_fails_audit():
    pt = protect_linked(
        small_table(**{"0201": {"a": 6, "b": 0, "c": 0}}),
        hierarchy=TWO_COUNTIES,
        rules=DisclosureRules(secondary=False),
    )
    assert row(pt, "0201", "a")["rule"] == "attribute"
    audit = audit_lp(pt)
    assert not audit.ok
    assert audit.failures["rest_upper"].iloc[0] == 0


def test_multiselect_group_has_no_code_line_complement():
    # Multi-select: codes do not add up to the denominator (a child can have several).
    hier = make_hierarchy({"01": 1})
    values = {"0101": {"m": {"a": 3, "b": 12, "c": 25}}}
    den = {"0101": {"m": 30}}
    counts = make_counts(values, hier, denominators=den, counties=False, national=False)
    with pytest.raises(ValueError, match="additive_codes"):
        protect_linked(counts, hierarchy=hier)
    pt = protect_linked(counts, hierarchy=hier, additive_codes={"m": False})
    assert suppressed_cells(pt) == {("0101", "m", "a")}
    assert pt.additive == {"m": False}
    audit = audit_lp(pt)
    assert audit.ok
    assert audit.cells["upper"].iloc[0] == 30  # bounded by the denominator only


def test_multiselect_group_linked_through_hierarchy():
    hier = make_hierarchy({"01": 3})
    values = {
        "0101": {"m": {"a": 3, "b": 12}},
        "0102": {"m": {"a": 9, "b": 14}},
        "0103": {"m": {"a": 11, "b": 6}},
    }
    den = {"0101": {"m": 14}, "0102": {"m": 20}, "0103": {"m": 15}}
    counts = make_counts(values, hier, denominators=den, national=False)
    pt = protect_linked(counts, hierarchy=hier, additive_codes=False)
    assert row(pt, "0101", "a", "m")["rule"] == "primary"
    assert row(pt, "0102", "a", "m")["rule"] == "secondary"  # 9 < 11 within county 01
    assert not row(pt, "0101", "b", "m")["suppressed"]  # no code line in a multi-select group
    assert audit_lp(pt).ok
    unprotected = protect_linked(
        counts, hierarchy=hier, additive_codes=False, rules=DisclosureRules(secondary=False)
    )
    assert not audit_lp(unprotected).ok


def test_groups_sharing_a_population_suppress_denominators_together():
    # x (single-select) and y (multi-select) describe the same children: same denominators.
    hier = make_hierarchy({"01": 3})
    values = {
        "0101": {"x": {"a": 9, "b": 6}, "y": {"p": 8, "q": 5}},
        "0102": {"x": {"a": 9, "b": 2}, "y": {"p": 3, "q": 10}},
        "0103": {"x": {"a": 1, "b": 1}, "y": {"p": 2, "q": 1}},
    }
    dens = {k: {"y": sum(v["x"].values())} for k, v in values.items()}
    counts = make_counts(values, hier, denominators=dens, national=False)
    additive = {"x": True, "y": False}

    def hidden(table: ProtectedTable, group: str) -> pd.Series:
        d = table.data.loc[table.data["variabel"] == group]
        return d.groupby("kommun")["denominator_shown"].first().isna()

    # Protected one at a time, the two tables would hide different denominators of one population
    apart_x = protect_linked(
        counts[counts["variabel"] == "x"], hierarchy=hier, additive_codes=additive
    )
    apart_y = protect_linked(
        counts[counts["variabel"] == "y"], hierarchy=hier, additive_codes=additive
    )
    assert not hidden(apart_x, "x").equals(hidden(apart_y, "y"))
    # ... so protect_linked treats their totals as one shared cell.
    pt = protect_linked(counts, hierarchy=hier, additive_codes=additive)
    assert hidden(pt, "x").equals(hidden(pt, "y"))
    assert hidden(pt, "x")["0103"]
    dlog = pt.log.loc[pt.log["cell"] == "denominator"]
    assert set(dlog["variabel"]) == {"x", "y"}
    assert audit_lp(pt).ok


# ---------------------------------------------------------------------------------------------
# LP audit
# ---------------------------------------------------------------------------------------------


def test_audit_fails_on_primary_only_table():
    counts = small_table(**{"0102": {"a": 10, "b": 2, "c": 19}})
    pt = protect_linked(counts, hierarchy=TWO_COUNTIES, rules=DisclosureRules(secondary=False))
    audit = audit_lp(pt)
    assert isinstance(audit, AuditResult)
    assert not audit.ok
    fail = audit.failures
    assert list(fail["kod"]) == ["b"] and list(fail["kommun"]) == ["0102"]
    assert fail["lower"].iloc[0] == pytest.approx(2)
    assert fail["upper"].iloc[0] == pytest.approx(2)
    assert "FAILED" in audit._repr_html_()


def test_audit_intervals_contain_true_values_and_report_no_raw_values():
    pt = protect_linked(
        small_table(**{"0102": {"a": 10, "b": 2, "c": 19}}), hierarchy=TWO_COUNTIES
    )
    audit = audit_lp(pt)
    assert audit.ok and audit.failures.empty
    assert "n" not in audit.cells.columns and "value" not in audit.cells.columns
    merged = audit.cells.loc[audit.cells["cell"] == "n"].merge(
        pt.data, on=["kommun", "variabel", "kod"]
    )
    assert ((merged["lower"] <= merged["n"]) & (merged["n"] <= merged["upper"])).all()
    assert (merged["required_width"] == np.where(merged["n"].between(1, 4), 5.0, 0.0)).all()


def test_audit_stricter_hierarchy_override_is_used():
    # Protect a municipality-only table, then audit as if its county total were published too.
    hier = make_hierarchy({"01": 2})
    values = {"0101": {"x": {"a": 3, "b": 30}}, "0102": {"x": {"a": 20, "b": 30}}}
    counts = make_counts(values, hier, counties=False, national=False)
    pt = protect_linked(counts, hierarchy=hier)
    assert audit_lp(pt).ok
    with pytest.raises(ValueError):
        audit_lp(pt, additive_codes={"x": "yes"})  # type: ignore[dict-item]


@st.composite
def linked_tables(draw):
    """Random municipality/county/nation tables with one or two groups."""
    n_counties = draw(st.integers(1, 3))
    sizes = {f"{i + 1:02d}": draw(st.integers(1, 3)) for i in range(n_counties)}
    hier = make_hierarchy(sizes)
    kommuner = list(hier["kommun"])
    cell = st.one_of(st.just(0), st.integers(1, 4), st.integers(5, 30))
    n_groups = draw(st.integers(1, 2))
    values: dict[str, dict[str, dict[str, int]]] = {k: {} for k in kommuner}
    denominators: dict[str, dict[str, int]] = {k: {} for k in kommuner}
    additive: dict[str, bool] = {}
    for gi in range(n_groups):
        g = f"g{gi}"
        codes = [f"c{j}" for j in range(draw(st.integers(1, 4)))]
        additive[g] = draw(st.booleans())
        shared = gi > 0 and not additive[g] and draw(st.booleans())
        for k in kommuner:
            if shared:  # multi-select over the same children as group g0
                d = denominators[k].get("g0", sum(values[k]["g0"].values()))
                counts = {c: draw(st.integers(0, d)) for c in codes}
            else:
                counts = {c: draw(cell) for c in codes}
                d = sum(counts.values()) if additive[g] else max(counts.values()) + draw(cell)
            values[k][g] = counts
            if not additive[g]:
                denominators[k][g] = d
    counties = draw(st.booleans())
    national = draw(st.booleans()) if counties else False
    counts = make_counts(
        values, hier, denominators=denominators, counties=counties, national=national
    )
    rules = DisclosureRules(min_count=draw(st.sampled_from([3, 5])))
    return counts, hier, additive, rules


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(linked_tables())
def test_audit_passes_on_random_hierarchical_tables(case):
    counts, hier, additive, rules = case
    pt = protect_linked(counts, hierarchy=hier, additive_codes=additive, rules=rules)
    audit = audit_lp(pt)
    assert audit.ok, audit.failures
    assert_nothing_leaks(pt)
    # every primary cell is suppressed and every suppressed count is logged
    small = pt.data["n"].between(1, rules.min_count - 1)
    assert pt.data.loc[small, "suppressed"].all()
    assert int(pt.data["suppressed"].sum()) == int((pt.log["cell"] == "n").sum())
    # the true value of every suppressed cell lies inside its LP interval
    merged = audit.cells.loc[audit.cells["cell"] == "n"].merge(
        pt.data, on=["kommun", "variabel", "kod"]
    )
    assert (merged["lower"] <= merged["n"] + 1e-6).all()
    assert (merged["n"] <= merged["upper"] + 1e-6).all()


def reference_intervals(table: ProtectedTable) -> pd.DataFrame:
    """The audit LP written out plainly, as an independent oracle for :func:`audit_lp`.

    One LP over every unknown of the table (no components, no warm starts, no shortcuts),
    solved with ``scipy.optimize.linprog`` from scratch for each bound. Built only from what is
    published, the hierarchy and the additivity flags; groups whose denominators agree in every
    unit share them (as ``protect_linked`` assumes). Returns the audit's key columns with
    ``lower``, ``upper`` and ``rest_upper``.
    """
    from scipy.optimize import linprog

    data = table.data
    shown = table.to_frame()
    hier = table.hierarchy
    county_of = dict(zip(hier["kommun"], hier["lan"], strict=True))
    units = set(data["kommun"])
    groups = list(dict.fromkeys(data["variabel"]))
    codes = {g: list(dict.fromkeys(data.loc[data["variabel"] == g, "kod"])) for g in groups}
    raw_den = data.groupby(["variabel", "kommun"])["denominator"].first()
    family: dict[str, str] = {}
    for g in groups:
        signature = tuple(raw_den[g].sort_index().items())
        family[g] = next(
            (f for f in family.values() if tuple(raw_den[f].sort_index().items()) == signature), g
        )
    n_shown = {
        (u, g, c): v
        for u, g, c, v in zip(
            shown["kommun"], shown["variabel"], shown["kod"], shown["n"], strict=True
        )
    }
    d_shown = {
        (u, family[g]): v
        for u, g, v in zip(shown["kommun"], shown["variabel"], shown["denominator"], strict=True)
    }
    index: dict[tuple, int] = {}
    for key, v in [*n_shown.items(), *d_shown.items()]:
        if pd.isna(v):
            index.setdefault(key, len(index))

    def term(key: tuple, shown_value) -> tuple[dict[int, float], float]:
        return ({index[key]: 1.0}, 0.0) if key in index else ({}, float(shown_value))

    def cell(u: str, g: str, c: str | None) -> tuple[dict[int, float], float]:
        if c is None:
            return term((u, family[g]), d_shown[(u, family[g])])
        return term((u, g, c), n_shown[(u, g, c)])

    eq, ub = [], []  # (coefs, rhs): coefs @ x == / <= rhs

    def relation(plus: list, minus: list, rows: list) -> None:
        coefs: dict[int, float] = {}
        rhs = 0.0
        for sign, side in ((1.0, plus), (-1.0, minus)):
            for co, const in side:
                for j, a in co.items():
                    coefs[j] = coefs.get(j, 0.0) + sign * a
                rhs -= sign * const
        if any(coefs.values()):
            rows.append((coefs, rhs))

    for u in sorted(units):
        for g in groups:
            members = [cell(u, g, c) for c in codes[g]]
            if table.additive.get(g, True):
                relation(members, [cell(u, g, None)], eq)
            else:
                for m in members:
                    relation([m], [cell(u, g, None)], ub)
    hier_lines = [
        (lan, [k for k in sorted(county_of) if county_of[k] == lan])
        for lan in sorted(set(county_of.values()))
        if lan in units
    ]
    if NATIONAL in units:
        below = []
        for lan in sorted(set(county_of.values())):
            below += (
                [lan] if lan in units else [k for k in sorted(county_of) if county_of[k] == lan]
            )
        hier_lines.append((NATIONAL, below))
    keys = [(g, c) for g in groups for c in codes[g]] + [
        (g, None) for g in dict.fromkeys(family.values())
    ]
    for total, below in hier_lines:
        for g, c in keys:
            relation([cell(m, g, c) for m in below], [cell(total, g, c)], eq)

    def dense(rows: list) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not rows:
            return None, None
        a = np.zeros((len(rows), len(index)))
        for r, (co, _) in enumerate(rows):
            for j, v in co.items():
                a[r, j] = v
        return a, np.array([b for _, b in rows])

    a_eq, b_eq = dense(eq)
    a_ub, b_ub = dense(ub)

    def optimum(c: np.ndarray) -> float:
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
        if res.status == 3:
            return -np.inf
        assert res.status == 0, res.message
        return float(res.fun)

    rows = []
    for (u, g, c), v in n_shown.items():
        if pd.isna(v):
            j = index[(u, g, c)]
            e = np.zeros(len(index))
            e[j] = 1.0
            rest = np.nan
            attr = data.loc[
                (data["kommun"] == u) & (data["variabel"] == g) & (data["kod"] == c), "rule"
            ]
            if attr.iloc[0] == "attribute":
                dkey = (u, family[g])
                if dkey in index:
                    e2 = e.copy()
                    e2[index[dkey]] -= 1.0
                    rest = -optimum(e2)
                else:
                    rest = float(d_shown[dkey]) - optimum(e)
            rows.append(
                {
                    "kommun": u,
                    "variabel": g,
                    "kod": c,
                    "cell": "n",
                    "lower": optimum(e),
                    "upper": -optimum(-e),
                    "rest_upper": rest,
                }
            )
    for (u, f), v in d_shown.items():
        if pd.isna(v):
            e = np.zeros(len(index))
            e[index[(u, f)]] = 1.0
            lo, hi = optimum(e), -optimum(-e)
            for g in groups:
                if family[g] == f:
                    rows.append(
                        {
                            "kommun": u,
                            "variabel": g,
                            "kod": None,
                            "cell": "denominator",
                            "lower": lo,
                            "upper": hi,
                            "rest_upper": np.nan,
                        }
                    )
    return pd.DataFrame(
        rows, columns=["kommun", "variabel", "kod", "cell", "lower", "upper", "rest_upper"]
    )


def assert_audit_matches_reference(table: ProtectedTable) -> None:
    audit = audit_lp(table).cells
    ref = reference_intervals(table)
    key = ["kommun", "variabel", "cell", "kod"]
    got = audit[[*key, "lower", "upper", "rest_upper"]].astype({"kod": object})
    got["kod"] = got["kod"].where(got["cell"] == "n", None)
    merged = got.merge(ref, on=key, how="outer", suffixes=("", "_ref"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both"]
    for col in ("lower", "upper", "rest_upper"):
        a = merged[col].to_numpy(dtype=float)
        b = merged[f"{col}_ref"].to_numpy(dtype=float)
        b = np.where(col == "lower", np.maximum(b, 0.0), b)  # the audit reports max(lower, 0)
        same = (a == b) | (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=0, atol=1e-6)
        assert same.all(), merged.loc[~same, [*key, col, f"{col}_ref"]]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(linked_tables(), st.booleans())
def test_audit_intervals_equal_a_plain_linprog_reference(case, secondary):
    # The audit solves components with warm starts and settles some bounds without an LP of their
    # own (a feasible point at 0 or at a non-negativity cap); none of that may change an interval.
    counts, hier, additive, rules = case
    rules = DisclosureRules(min_count=rules.min_count, secondary=secondary)
    pt = protect_linked(counts, hierarchy=hier, additive_codes=additive, rules=rules)
    assert_audit_matches_reference(pt)


def random_national_table(seed: int, n_counties: int = 4, size: int = 5) -> tuple:
    """A larger linked set (many small cells, one shared population, a multi-select group)."""
    rng = np.random.default_rng(seed)
    hier = make_hierarchy({f"{i + 1:02d}": size for i in range(n_counties)})
    values: dict[str, dict[str, dict[str, int]]] = {}
    dens: dict[str, dict[str, int]] = {}
    for k in hier["kommun"]:
        x = {c: int(rng.choice([0, 1, 2, 3, 8, 20])) for c in "abcd"}
        kind = rng.random()
        if kind < 0.15:  # everyone in one code: attribute disclosure
            x = {c: 0 for c in "abcd"} | {str(rng.choice(list("abcd"))): int(rng.integers(5, 30))}
        elif kind < 0.25:  # a small population: the whole unit x group is suppressed
            x = {c: 0 for c in "abcd"} | {"a": int(rng.integers(1, 3)), "b": 1}
        y = {c: int(rng.integers(0, 4)) for c in "pq"}
        y["r"] = sum(x.values()) - sum(y.values())
        if y["r"] < 0:
            y["p"], y["q"], y["r"] = sum(x.values()), 0, 0
        m = {c: int(rng.integers(0, sum(x.values()) + 1)) for c in "uv"}
        values[k] = {"x": x, "y": y, "m": m}
        dens[k] = {"m": sum(x.values())}
    counts = make_counts(values, hier, denominators=dens)
    return counts, hier, {"x": True, "y": True, "m": False}


@pytest.mark.parametrize("secondary", [True, False])
@pytest.mark.parametrize("seed", [4, 7])
def test_audit_on_a_larger_linked_set_equals_the_reference(seed, secondary):
    # seed 4: with secondary suppression, two attribute cells whose denominators are hidden too
    counts, hier, additive = random_national_table(seed)
    rules = DisclosureRules(secondary=secondary)
    pt = protect_linked(counts, hierarchy=hier, additive_codes=additive, rules=rules)
    assert audit_lp(pt).ok is secondary
    assert_audit_matches_reference(pt)


def test_protect_is_deterministic_on_a_larger_linked_set():
    counts, hier, additive = random_national_table(11)
    first = protect_linked(counts, hierarchy=hier, additive_codes=additive)
    assert audit_lp(first).ok
    again = protect_linked(
        counts.sample(frac=1, random_state=3),
        hierarchy=hier.sample(frac=1, random_state=3),
        additive_codes=additive,
    )
    pd.testing.assert_frame_equal(first.log, again.log)
    pd.testing.assert_frame_equal(audit_lp(first).cells, audit_lp(again).cells)


# ---------------------------------------------------------------------------------------------
# Determinism, dtypes, publication safety
# ---------------------------------------------------------------------------------------------


def rich_table() -> pd.DataFrame:
    return small_table(
        **{
            "0102": {"a": 10, "b": 2, "c": 19},
            "0201": {"a": 6, "b": 0, "c": 0},
            "0103": {"a": 1, "b": 1, "c": 21},
        }
    )


def test_protect_is_deterministic_under_row_shuffle():
    counts = rich_table()
    first = protect_linked(counts, hierarchy=TWO_COUNTIES)
    for seed in range(3):
        shuffled = counts.sample(frac=1, random_state=seed)
        hier = TWO_COUNTIES.sample(frac=1, random_state=seed)
        again = protect_linked(shuffled, hierarchy=hier)
        pd.testing.assert_frame_equal(first.data, again.data)
        pd.testing.assert_frame_equal(first.log, again.log)
        pd.testing.assert_frame_equal(first.to_frame(), again.to_frame())
        pd.testing.assert_frame_equal(audit_lp(first).cells, audit_lp(again).cells)


@pytest.mark.parametrize("dtype", ["string", "category", "object", "str"])
def test_protect_accepts_string_and_categorical_keys(dtype):
    counts = rich_table()
    reference = protect_linked(counts, hierarchy=TWO_COUNTIES)
    typed = counts.astype({"kommun": dtype, "variabel": dtype, "kod": dtype})
    hier = TWO_COUNTIES.astype(dtype)
    pt = protect_linked(typed, hierarchy=hier)
    assert suppressed_cells(pt) == suppressed_cells(reference)
    assert pt.data["kommun"].dtype == typed["kommun"].dtype
    pd.testing.assert_frame_equal(pt.log, reference.log)
    assert audit_lp(pt).ok


def test_protect_categorical_code_order_breaks_ties():
    values = {"0101": {"x": {"a": 3, "b": 9, "c": 9}}}
    hier = make_hierarchy({"01": 1})
    counts = make_counts(values, hier, counties=False, national=False)
    counts["kod"] = pd.Categorical(counts["kod"], categories=["a", "c", "b"])
    pt = protect_linked(counts, hierarchy=hier)
    assert list(pt.data["kod"]) == ["a", "c", "b"]
    assert row(pt, "0101", "c")["rule"] == "secondary"
    assert not row(pt, "0101", "b")["suppressed"]


def test_protect_does_not_modify_input():
    counts = rich_table()
    before = counts.copy()
    protect_linked(counts, hierarchy=TWO_COUNTIES)
    pd.testing.assert_frame_equal(counts, before)


def test_to_frame_never_contains_suppressed_raw_count():
    pt = protect_linked(rich_table(), hierarchy=TWO_COUNTIES)
    assert pt.data["suppressed"].sum() >= 6
    assert_nothing_leaks(pt)
    out = pt.to_frame()
    assert out["n"].dtype == "Int64" and out["denominator"].dtype == "Int64"
    assert out["share"].dtype == "Float64"
    assert out["suppressed"].dtype == bool
    # the copy is independent of the table
    out.loc[:, "n"] = 999
    assert (pt.to_frame()["n"] != 999).any()


def test_to_frame_hides_suppressed_denominators():
    pt = protect_linked(small_table(**{"0103": {"a": 3, "b": 0, "c": 0}}), hierarchy=TWO_COUNTIES)
    out = pt.to_frame()
    assert out.loc[out["kommun"] == "0103", "denominator"].isna().all()
    assert 3 not in set(out.loc[out["kommun"] == "0103"].select_dtypes("number").stack())


def test_repr_html_escapes_values():
    counts = small_table()
    counts["variabel"] = "<script>alert(1)</script>"
    pt = protect_linked(counts, hierarchy=TWO_COUNTIES)
    out = pt._repr_html_()
    assert "<script>" not in out
    assert html.escape("<script>alert(1)</script>") in out


def test_repr_html_shows_suppression_symbol():
    pt = protect_linked(rich_table(), hierarchy=TWO_COUNTIES)
    assert SUPPRESSED in pt._repr_html_()


def test_protected_table_rejects_raw_frame():
    with pytest.raises(ValueError, match="protect_linked"):
        ProtectedTable(data=small_table(), rules=DisclosureRules(), log=pd.DataFrame())


# ---------------------------------------------------------------------------------------------
# Suppression log
# ---------------------------------------------------------------------------------------------


def test_suppression_log_lists_every_suppressed_cell_without_values():
    pt = protect_linked(rich_table(), hierarchy=TWO_COUNTIES)
    log = suppression_log(pt)
    assert list(log.columns) == ["kommun", "variabel", "kod", "cell", "rule", "pass"]
    assert set(log["rule"]) <= {"primary", "secondary", "attribute"}
    counted = log.loc[log["cell"] == "n"]
    assert set(zip(counted["kommun"], counted["variabel"], counted["kod"], strict=True)) == (
        suppressed_cells(pt)
    )
    assert (log.loc[log["rule"] != "secondary", "pass"] == 0).all()
    assert (log.loc[log["rule"] == "secondary", "pass"] >= 0).all()
    log.loc[:, "rule"] = "changed"
    assert (suppression_log(pt)["rule"] != "changed").all()


def test_write_suppression_log_is_sorted_and_deterministic(tmp_path):
    counts = rich_table()
    a = write_suppression_log(protect_linked(counts, hierarchy=TWO_COUNTIES), tmp_path / "a.csv")
    b = write_suppression_log(
        protect_linked(counts.sample(frac=1, random_state=1), hierarchy=TWO_COUNTIES),
        tmp_path / "sub" / "b.csv",
    )
    assert a.read_bytes() == b.read_bytes()
    with a.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["kommun", "variabel", "kod", "cell", "rule", "pass"]
    keys = [(r["kommun"], r["variabel"], r["cell"] != "denominator", r["kod"]) for r in rows]
    assert keys == sorted(keys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "sub"]


# ---------------------------------------------------------------------------------------------
# Validation at the boundary
# ---------------------------------------------------------------------------------------------


def test_protect_rejects_county_that_is_not_the_sum_of_its_municipalities():
    counts = small_table()
    bad = counts["kommun"].eq("01") & counts["kod"].eq("a")
    counts.loc[bad, "n"] = counts.loc[bad, "n"] + 1
    with pytest.raises(ValueError, match="additivity"):
        protect_linked(counts, hierarchy=TWO_COUNTIES)


def test_protect_rejects_incomplete_linked_set():
    counts = small_table()
    counts = counts.loc[counts["kommun"] != "0103"]
    with pytest.raises(ValueError, match="'0103'"):
        protect_linked(counts, hierarchy=TWO_COUNTIES)


def test_protect_rejects_unknown_unit_codes():
    counts = small_table()
    counts["kommun"] = counts["kommun"].replace({"0101": "101"})
    with pytest.raises(ValueError, match="leading zeros"):
        protect_linked(counts, hierarchy=TWO_COUNTIES)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.assign(n=c["n"].astype("float64").where(c.index != 0)), "whole numbers"),
        (lambda c: c.assign(n=c["n"].where(c.index != 0, -1)), "whole numbers"),
        (lambda c: pd.concat([c, c.iloc[[0]]]), "duplicated"),
        (lambda c: c.drop(index=[0]), "missing codes"),
        (lambda c: c.drop(columns=["denominator"]), "denominator"),
        (lambda c: c.assign(andel=0.5), "andel"),
        (lambda c: c.assign(rule="x"), "rule"),
    ],
)
def test_protect_rejects_malformed_counts(change, message):
    with pytest.raises(ValueError, match=message):
        protect_linked(change(small_table()), hierarchy=TWO_COUNTIES)


def test_protect_rejects_varying_denominator_within_unit_group():
    counts = small_table()
    counts.loc[0, "denominator"] = counts.loc[0, "denominator"] + 1
    with pytest.raises(ValueError, match="same for every code"):
        protect_linked(counts, hierarchy=TWO_COUNTIES)


def test_protect_rejects_bad_hierarchy():
    with pytest.raises(ValueError, match="'lan'"):
        protect_linked(small_table(), hierarchy=TWO_COUNTIES.rename(columns={"lan": "county"}))


def test_protect_handles_national_only_and_empty_tables():
    values = {"0101": {"x": {"a": 3, "b": 30}}}
    counts = make_counts(values, make_hierarchy({"01": 1}), counties=False)
    national = counts.loc[counts["kommun"] == NATIONAL]
    empty_hier = pd.DataFrame(
        {"kommun": pd.Series([], dtype=str), "lan": pd.Series([], dtype=str)}
    )
    pt = protect_linked(national, hierarchy=empty_hier)
    assert suppressed_cells(pt) == {(NATIONAL, "x", "a"), (NATIONAL, "x", "b")}
    assert audit_lp(pt).ok
    none = protect_linked(counts.iloc[0:0], hierarchy=empty_hier)
    assert none.data.empty and none.log.empty and audit_lp(none).ok


def test_protect_accepts_custom_column_names():
    counts = small_table().rename(
        columns={
            "kommun": "unit",
            "variabel": "var",
            "kod": "code",
            "n": "count",
            "denominator": "d",
        }
    )
    pt = protect_linked(
        counts,
        unit="unit",
        group="var",
        code="code",
        n="count",
        denominator="d",
        hierarchy=TWO_COUNTIES,
    )
    assert pt.keys == ("unit", "var", "code")
    assert list(pt.log.columns[:3]) == ["unit", "var", "code"]
    assert audit_lp(pt).ok
    out = pt.to_frame()
    assert {"count", "d", "n_shown", "share"} <= set(out.columns)


def test_protect_linked_without_attribute_rule_shows_everyone_in_one_code():
    """Completeness-style tables: 'all registrations filled in' is not an attribute disclosure."""
    from workbench.disclosure import audit_lp

    hier = pd.DataFrame({"kommun": ["0001", "0002"], "lan": ["01", "01"]})
    rows = []
    for unit, known in (("0001", 20), ("0002", 30), ("01", 50), (NATIONAL, 50)):
        rows += [
            {"kommun": unit, "variabel": "kon", "kod": "kand", "n": known, "denominator": known},
            {"kommun": unit, "variabel": "kon", "kod": "saknas", "n": 0, "denominator": known},
        ]
    counts = pd.DataFrame(rows)
    with_rule = protect_linked(counts, hierarchy=hier)
    without = protect_linked(counts, hierarchy=hier, attribute_rule=False)
    assert (with_rule.data["rule"] == "attribute").any()
    assert not without.data["suppressed"].any()
    assert audit_lp(without).ok
