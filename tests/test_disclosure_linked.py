"""Disclosure across the tables of one report: forced cells and cross-table relations (issue 8).

The oracle is an LP written here with scipy's ``linprog`` over everything the tables publish,
their own relations (codes add up to the denominator), the declared cross-table relations and
non-negativity: independent of the HiGHS machinery in ``workbench.disclosure``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from workbench.disclosure import (
    DisclosureRules,
    Relation,
    audit_lp,
    audit_related,
    check_relations,
    protect_linked,
    protect_related,
)

U = "0114"
H = pd.DataFrame({"kommun": [U, "0115"], "lan": ["01", "01"]})
H1 = pd.DataFrame({"kommun": [U], "lan": ["01"]})


def _table(groups: dict[str, dict[str, int]], unit: str = U) -> pd.DataFrame:
    rows = [
        (unit, g, c, v, sum(codes.values()))
        for g, codes in groups.items()
        for c, v in codes.items()
    ]
    return pd.DataFrame(rows, columns=["kommun", "variabel", "kod", "n", "denominator"])


def _oracle(tables: dict[str, pd.DataFrame], relations: list[Relation], min_count: int = 5):
    """Feasible interval of every suppressed cell (scipy linprog, one LP per bound), and
    whether each sensitive one (raw value 1..min_count-1 or rule attribute/linked) is wide
    enough. Only for tables of single units with additive codes (what these tests build)."""
    var: dict[tuple, int] = {}
    const: dict[tuple, float] = {}
    raw: dict[tuple, int] = {}
    rule: dict[tuple, str] = {}
    for name, t in tables.items():
        shown = t.to_frame()
        for r, s in zip(t.data.itertuples(), shown.itertuples(), strict=True):
            key = (name, r.kommun, r.variabel, r.kod)
            dkey = (name, r.kommun, r.variabel, None)
            raw[key], raw[dkey] = int(r.n), int(r.denominator)
            rule[key] = r.rule
            if pd.isna(s.n):
                var.setdefault(key, len(var))
            else:
                const[key] = float(s.n)
            if pd.isna(s.denominator):
                var.setdefault(dkey, len(var))
                rule[dkey] = "denominator"
            else:
                const[dkey] = float(s.denominator)
    log_rule = {}
    for name, t in tables.items():
        for r in t.log.itertuples():
            code = None if pd.isna(r.kod) else r.kod
            log_rule[(name, r.kommun, r.variabel, code)] = r.rule
    # groups sharing a population share one denominator unknown
    eqs: list[tuple[list[tuple[tuple, float]]]] = []
    for name, t in tables.items():
        for (u, g), sub in t.data.groupby(["kommun", "variabel"]):
            terms = [((name, u, g, c), 1.0) for c in sub["kod"]] + [((name, u, g, None), -1.0)]
            eqs.append(terms)
    for r in relations:
        eqs.append([(c, -1.0) for c in r.total] + [(c, 1.0) for c in r.parts])
    a_eq, b_eq = [], []
    for terms in eqs:
        row, rhs = np.zeros(len(var)), 0.0
        for key, coef in terms:
            if key in var:
                row[var[key]] += coef
            else:
                rhs -= coef * const[key]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    out = {}
    for key, i in var.items():
        c = np.zeros(len(var))
        c[i] = 1
        lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs").fun
        hi = -linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs").fun
        sensitive = 1 <= raw[key] < min_count or log_rule.get(key) in ("attribute", "linked")
        out[key] = (lo, hi, (hi - lo >= min_count - 1e-6) if sensitive else True)
    return out


def _ok(oracle: dict) -> bool:
    return all(p for *_, p in oracle.values())


# --------------------------------------------------------------------------------------------
# Two tables where naive protection leaves a cell recoverable
# --------------------------------------------------------------------------------------------

# A (main): everyone's goal attainment; B (by type): the same, split by intervention type.
A_SUM = {"mal": {"helt": 33, "ej": 40}}
B_SUM = {"mal:x": {"helt": 3, "ej": 10}, "mal:y": {"helt": 30, "ej": 30}}
# A hides its 3 and a complement (helt); B publishes everything: A's helt is B's sum.
A_TOT = {"mal": {"helt": 12, "ej": 30, "kan": 3}}
B_TOT = {"mal:x": {"helt": 6, "ej": 20}, "mal:y": {"helt": 6, "ej": 10}}


def _relations(codes: tuple[str, ...]) -> list[Relation]:
    return [
        Relation(total=("A", U, "mal", c), parts=[("B", U, "mal:x", c), ("B", U, "mal:y", c)])
        for c in codes
    ]


def _naive(a: dict, b: dict) -> dict:
    return {
        "A": protect_linked(_table(a), hierarchy=H1),
        "B": protect_linked(_table(b), hierarchy=H1),
    }


@pytest.mark.parametrize(
    ("a", "b", "cell"),
    [
        (A_SUM, B_SUM, ("B", U, "mal:x", "helt")),  # a shown total minus the shown parts
        (A_TOT, B_TOT, ("A", U, "mal", "kan")),  # a hidden total from its shown parts
    ],
)
def test_naive_protection_leaves_a_small_count_recoverable_across_two_tables(a, b, cell):
    naive = _naive(a, b)
    assert all(audit_lp(t).ok for t in naive.values())  # each table alone is fine
    rel = _relations(("helt", "ej"))
    lo, hi, ok = _oracle(naive, rel)[cell]
    assert not ok and hi - lo < 1  # recomputed exactly
    assert not audit_related(naive, rel).ok


@pytest.mark.parametrize(("a", "b"), [(A_SUM, B_SUM), (A_TOT, B_TOT)])
def test_protect_related_leaves_no_small_count_recoverable_across_the_tables(a, b):
    rel = _relations(("helt", "ej"))
    out = protect_related({"A": _table(a), "B": _table(b)}, relations=rel, hierarchy=H1)
    oracle = _oracle(out, rel)
    assert _ok(oracle), {k: v for k, v in oracle.items() if not v[2]}
    assert audit_related(out, rel).ok
    assert all(audit_lp(t).ok for t in out.values())
    assert "linked" in set(out["B"].log["rule"]) | set(out["A"].log["rule"])


def test_single_relation_rule_alone_is_not_enough_but_the_lp_stage_is():
    # Forcing only until no relation has one unknown leaves A's kan = 45 - 30 - (26 + 16 - 30):
    # the two relations and B's denominators together pin it. The LP stage closes that.
    rel = _relations(("helt", "ej"))
    counts = {"A": _table(A_TOT), "B": _table(B_TOT)}
    first = protect_related(counts, relations=rel, hierarchy=H1, audit=False)
    lo, hi, ok = _oracle(first, rel)[("A", U, "mal", "kan")]
    assert not ok and hi - lo < 1
    # ... yet no single relation has exactly one unknown
    for r in rel:
        hidden = [c for c in r.cells if pd.isna(_shown(first, c))]
        assert len(hidden) != 1
    full = protect_related(counts, relations=rel, hierarchy=H1)
    assert _ok(_oracle(full, rel))


def _shown(tables: dict, cell: tuple) -> object:
    t, u, g, c = cell
    d = tables[t].to_frame()
    row = d[(d["kommun"] == u) & (d["variabel"] == g)]
    return row["denominator"].iloc[0] if c is None else row.loc[row["kod"] == c, "n"].iloc[0]


def test_audit_related_agrees_with_the_scipy_oracle():
    rel = _relations(("helt", "ej"))
    for a, b in [(A_SUM, B_SUM), (A_TOT, B_TOT)]:
        for tables in (
            _naive(a, b),
            protect_related({"A": _table(a), "B": _table(b)}, relations=rel, hierarchy=H1),
        ):
            oracle = _oracle(tables, rel)
            cells = audit_related(tables, rel).cells
            for r in cells.itertuples():
                code = None if r.cell == "denominator" else r.kod
                lo, hi, ok = oracle[(r.table, r.kommun, r.variabel, code)]
                assert (r.lower, r.upper) == pytest.approx((lo, hi), abs=1e-6)
                assert bool(r.protected) == ok


def test_random_related_tables_pass_the_oracle():
    rng = np.random.default_rng(8)
    for _ in range(12):
        by_type = {
            f"mal:{t}": {c: int(rng.choice([0, 1, 2, 3, 6, 9, 15])) for c in ("helt", "ej")}
            for t in "xyz"
        }
        main = {
            "mal": {
                "helt": sum(g["helt"] for g in by_type.values()),
                "ej": sum(g["ej"] for g in by_type.values()),
                "kan": int(rng.choice([0, 2, 7])),
            }
        }
        rel = [
            Relation(total=("A", U, "mal", c), parts=[("B", U, f"mal:{t}", c) for t in "xyz"])
            for c in ("helt", "ej")
        ]
        out = protect_related(
            {"A": _table(main), "B": _table(by_type)}, relations=rel, hierarchy=H1
        )
        oracle = _oracle(out, rel)
        assert _ok(oracle), (main, by_type, {k: v for k, v in oracle.items() if not v[2]})


# --------------------------------------------------------------------------------------------
# Breakdowns of one table (report 60's shape): groups of one population add up to "alla"
# --------------------------------------------------------------------------------------------


def test_breakdown_groups_in_one_table_are_protected_against_the_overall_figure():
    # Girls + boys = everyone; the girls' "ja" is 2. Protected alone, "alla" shows 32 and the
    # boys 30, so the girls' 2 is 32 - 30.
    counts = pd.concat(
        [
            _table({"svar:alla": {"ja": 32, "nej": 40}}),
            _table({"svar:flicka": {"ja": 2, "nej": 15}}),
            _table({"svar:pojke": {"ja": 30, "nej": 25}}),
        ],
        ignore_index=True,
    )
    rel = [
        Relation(
            total=("voice", U, "svar:alla", c),
            parts=[("voice", U, "svar:flicka", c), ("voice", U, "svar:pojke", c)],
        )
        for c in ("ja", "nej", None)
    ]
    naive = {"voice": protect_linked(counts, hierarchy=H1)}
    assert not _ok(_oracle(naive, rel))
    out = protect_related({"voice": counts}, relations=rel, hierarchy=H1)
    assert _ok(_oracle(out, rel))
    assert audit_related(out, rel).ok


# --------------------------------------------------------------------------------------------
# forced=
# --------------------------------------------------------------------------------------------


def _two_units() -> pd.DataFrame:
    return pd.concat(
        [
            _table({"g": {"a": 20, "b": 30, "c": 25}}, U),
            _table({"g": {"a": 40, "b": 12, "c": 18}}, "0115"),
            _table({"g": {"a": 60, "b": 42, "c": 43}}, "01"),
        ],
        ignore_index=True,
    )


def test_forced_cells_are_suppressed_logged_as_linked_and_protected():
    t = protect_linked(_two_units(), hierarchy=H, forced=[(U, "g", "b"), ("0115", "g", None)])
    log = t.log.set_index(["kommun", "variabel", "cell"])
    forced = t.log[t.log["rule"] == "linked"]
    assert sorted(zip(forced["kommun"], forced["cell"], strict=True)) == [
        (U, "n"),
        ("0115", "denominator"),
    ]
    assert log.loc[("0115", "g", "denominator"), "pass"] == 0
    # the forced count is not recoverable: its interval is at least min_count wide
    cells = audit_lp(t).cells
    row = cells[(cells["kommun"] == U) & (cells["kod"] == "b")].iloc[0]
    assert row["sensitive"] and row["rule"] == "linked" and row["width"] >= 5
    assert audit_lp(t).ok
    # a forced denominator hides the shares of its row but not its counts
    shown = t.to_frame()
    muni = shown[shown["kommun"] == "0115"]
    assert muni["share"].isna().all() and muni["n"].notna().any()


def test_empty_forced_gives_identical_output():
    rng = np.random.default_rng(3)
    counts = _two_units()
    m1 = rng.integers(0, 6, size=3)
    counts.loc[counts["kommun"] == U, "n"] = m1
    counts.loc[counts["kommun"] == U, "denominator"] = int(m1.sum())
    m2 = counts.loc[counts["kommun"] == "0115", "n"].to_numpy()
    counts.loc[counts["kommun"] == "01", "n"] = m1 + m2
    counts.loc[counts["kommun"] == "01", "denominator"] = int((m1 + m2).sum())
    a = protect_linked(counts, hierarchy=H)
    b = protect_linked(counts, hierarchy=H, forced=[])
    c = protect_related({"t": counts}, relations=[], hierarchy=H)["t"]
    for other in (b, c):
        pd.testing.assert_frame_equal(a.data, other.data)
        pd.testing.assert_frame_equal(a.log, other.log)


def test_forced_and_relations_reject_unknown_cells_and_relations_that_do_not_hold():
    with pytest.raises(ValueError, match="not in the table"):
        protect_linked(_two_units(), hierarchy=H, forced=[(U, "g", "zz")])
    with pytest.raises(ValueError, match="not in the table"):
        protect_linked(_two_units(), hierarchy=H, forced=[("0180", "g", None)])
    wrong = [Relation(total=("A", U, "mal", "helt"), parts=[("B", U, "mal:x", "helt")])]
    counts = {"A": _table(A_SUM), "B": _table(B_SUM)}
    assert check_relations(counts, wrong) == [False]
    with pytest.raises(ValueError, match="do not hold"):
        protect_related(counts, relations=wrong, hierarchy=H1)
    with pytest.raises(ValueError, match="same cell twice"):
        Relation(total=("A", U, "mal", "helt"), parts=[("A", U, "mal", "helt")])


def test_protect_related_fails_loudly_when_it_does_not_converge():
    rel = _relations(("helt", "ej"))
    counts = {"A": _table(A_TOT), "B": _table(B_TOT)}
    with pytest.raises(RuntimeError, match="did not converge"):
        protect_related(counts, relations=rel, hierarchy=H1, max_rounds=0)


def test_protect_related_is_independent_of_row_order():
    rel = _relations(("helt", "ej"))
    a = protect_related({"A": _table(A_TOT), "B": _table(B_TOT)}, relations=rel, hierarchy=H1)
    shuffled = {
        "A": _table(A_TOT).sample(frac=1, random_state=1),
        "B": _table(B_TOT).sample(frac=1, random_state=2),
    }
    b = protect_related(shuffled, relations=rel, hierarchy=H1)
    for k in a:
        pd.testing.assert_frame_equal(a[k].log, b[k].log)


def test_rules_without_secondary_still_force_but_add_nothing_else():
    rel = _relations(("helt", "ej"))
    rules = DisclosureRules(secondary=False)
    out = protect_related(
        {"A": _table(A_SUM), "B": _table(B_SUM)}, relations=rel, hierarchy=H1, rules=rules
    )
    assert set(itertools.chain(*(t.log["rule"] for t in out.values()))) <= {"primary", "linked"}


# --------------------------------------------------------------------------------------------
# Reports 10 and 60 on the small synthetic dataset (through the view objects, no kernel)
# --------------------------------------------------------------------------------------------


def _hidden_cells(tables: dict) -> set[tuple]:
    """Every hidden cell of the protected tables, as (table, unit, group, code or None)."""
    out = set()
    for name, t in tables.items():
        d = t.data
        for u, g, c in d.loc[d["suppressed"], ["enhet", "variabel", "kod"]].itertuples(
            index=False
        ):
            out.add((name, u, g, c))
        dens = d.loc[d["denominator_shown"].isna(), ["enhet", "variabel"]].drop_duplicates()
        out |= {(name, u, g, None) for u, g in dens.itertuples(index=False)}
    return out


@pytest.fixture(scope="module")
def analysis_report(small_dataset):
    from workbench import load_settings
    from workbench.views import FollowUpReport
    from workbench.views_analysis import AnalysisReport

    s = load_settings(kommun="2281", period="2016-2025", data_dir=str(small_dataset), audience="")
    return AnalysisReport.load(FollowUpReport.load(s))


@pytest.mark.slow
def test_report_10_main_table_and_outcomes_pass_the_audit_over_their_relations(analysis_report):
    from workbench.views_analysis import outcome_counts, outcome_relations

    a = analysis_report
    tables = {"main": a.report.protected, "outcomes": a.protected}
    counts = {
        "main": a.report.main_counts(),
        "outcomes": outcome_counts(
            a.report.data, a.interventions, years=a.report.settings.period, as_of=a.as_of
        ),
    }
    rels = outcome_relations(counts["main"], counts["outcomes"])
    holds = check_relations(counts, rels, unit="enhet")
    kept = [r for r, ok in zip(rels, holds, strict=True) if ok]
    assert kept  # some units have every registration typed
    hidden = _hidden_cells(tables)
    for r in kept:
        assert sum(c in hidden for c in r.cells) != 1
    assert all(audit_lp(t).ok for t in tables.values())
    assert audit_related(tables, kept, only_related=True).ok  # the LP over both tables


def test_report_10_protection_is_cached_once_and_counts_are_not_recomputed(
    analysis_report, monkeypatch
):
    from workbench import load_settings, views_analysis
    from workbench.views import FollowUpReport
    from workbench.views_analysis import AnalysisReport

    first = analysis_report
    before = (first.report.protected.log, first.protected.log)

    def boom(*args, **kwargs):
        raise AssertionError("counts recomputed although the cache holds the result")

    monkeypatch.setattr(FollowUpReport, "main_counts", boom)
    monkeypatch.setattr(views_analysis, "outcome_counts", boom)
    s = load_settings(
        kommun="2262",
        period="2016-2025",
        data_dir=str(first.report.settings.data_dir),
        audience="",
    )
    other = AnalysisReport.load(FollowUpReport.load(s))
    pd.testing.assert_frame_equal(other.report.protected.log, before[0])
    pd.testing.assert_frame_equal(other.protected.log, before[1])


@pytest.mark.slow
def test_report_60_breakdowns_leave_no_group_recoverable_from_everyone(small_dataset):
    from workbench import load_settings
    from workbench.views_voice import VoiceReport
    from workbench.voice import survey_counts, survey_relations

    s = load_settings(kommun="2281", period="2016-2025", data_dir=str(small_dataset), audience="")
    v = VoiceReport.load(s)
    table = v.protected
    assert "linked" in set(table.log["rule"])
    rels = survey_relations(survey_counts(v.data))
    assert rels
    hidden = _hidden_cells({"voice": table})
    for r in rels:
        assert sum(c in hidden for c in r.cells) != 1
