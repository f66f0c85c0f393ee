"""What the follow-up report shows of the analysis: outcomes, durations, equal care and trends.

Same contract as :mod:`workbench.views`: every block renders only numbers that passed disclosure
control. Counts and shares come from a :class:`workbench.disclosure.ProtectedTable` computed once
over the national linked set (all municipalities, counties and the nation). Statistics that are
not counts (Kaplan–Meier medians and shares still ongoing, regression results, trend tests) come
from a :class:`CheckedTable`, built only by the ``check_*`` functions here, which hide:

* a median or a share still ongoing with fewer than ``min_denominator`` interventions behind it,
  or whose implied number of ended or ongoing interventions is below ``min_count``;
* a regression comparison when the compared or the reference group has fewer than
  ``min_count`` registrations with or without the outcome, or the model has fewer than
  ``min_denominator`` registrations;
* a trend when any year has fewer than ``min_denominator`` registrations behind its share.

All text from data or parameters is HTML-escaped; labels come from the catalogue.

Blocks for ``notebooks/reports/10-follow-up.ipynb`` (the lead wires them in)::

    from workbench.views_analysis import AnalysisReport
    analys = AnalysisReport.load(rapport)          # rapport = FollowUpReport.load(settings)
    analys.goal_attainment_by_type()
    analys.breakdown_by_type()
    analys.rereferral()
    analys.investigation_time()
    analys.durations()
    analys.equal_care("maluppfyllelse")
    analys.equal_care("sammanbrott")
    analys.trends()
    analys.completeness_trends()
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench import analysis, fmt, stats
from workbench.cache import cache_dir, cached_frame, key_digest
from workbench.catalogue import code_label, code_order, load_catalogue
from workbench.dataset import _atomic_write_bytes, extract_date, write_table
from workbench.disclosure import DisclosureRules, ProtectedTable, Relation, check_relations
from workbench.fmt import NBSP, format_int, format_number, format_percent
from workbench.followup import UNIT
from workbench.models import OUTCOMES, EqualCareResult, equal_care, group_phrase_sv
from workbench.municipalities import NATIONAL
from workbench.views import (
    SUPPRESSION_LOG_MIME,
    Block,
    FollowUpReport,
    cache_key,
    cached_protect_related,
    colgroup,
    esc,
    figure_html,
    suppression_payload,
    suppression_records,
    unit_label,
)

__all__ = [
    "AnalysisReport",
    "CheckedTable",
    "check_durations",
    "check_equal_care",
    "check_trends",
    "outcome_counts",
    "outcome_relations",
    "protect_with_outcomes",
]

logger = logging.getLogger(__name__)

RULE_TOO_FEW = "min_count"
RULE_DENOMINATOR = "denominator"

#: Grouping key of the linked outcome set: ``<table>:<group value>``.
_SEP = ":"
_TREND_LABELS = (
    "Samtal med barnet genomfört",
    "Målen helt uppnådda",
    "Avslut enligt plan",
    "Sammanbrott i placeringar",
    "Ej återaktualiserade inom 12 månader",
    "Utredningar klara inom fyra månader",
)


# --------------------------------------------------------------------------------------------
# Checked (non-count) statistics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CheckedTable:
    """Statistics that are not counts, after the disclosure check. Built by ``check_*`` only.

    Attributes
    ----------
    data
        The estimates plus ``shown`` (bool) and ``reason`` (``""``, ``"min_count"`` or
        ``"denominator"``). ``data`` still holds hidden values: private zone. Publish
        :meth:`to_frame`.
    rules
        The thresholds applied.
    kind
        Which check built it (``"durations"``, ``"equal_care"``, ``"trends"``).
    values
        Columns that are masked where ``shown`` is False.
    """

    data: pd.DataFrame
    rules: DisclosureRules
    kind: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        missing = [c for c in ("shown", "reason", *self.values) if c not in self.data]
        if missing:
            raise ValueError(f"not a checked table: columns {missing} are missing")

    def to_frame(self) -> pd.DataFrame:
        """Copy with every value column missing where the row is not shown."""
        out = self.data.copy()
        hide = ~out["shown"].to_numpy(dtype=bool)
        for c in self.values:
            out[c] = out[c].astype(object).mask(hide)
        return out

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(escape=True, index=False, na_rep=fmt.SUPPRESSED)


def _require(table: object, kind: type) -> Any:
    if not isinstance(table, kind):
        raise TypeError(
            f"Analysis blocks render only {kind.__name__} objects; got {type(table).__name__}. "
            "Pass counts through protect_linked() and estimates through the check_* functions."
        )
    return table


def check_durations(table: pd.DataFrame, rules: DisclosureRules) -> CheckedTable:
    """Hide Kaplan–Meier medians and shares with too few interventions behind them.

    A median needs ``n_events >= min_denominator`` (it is one of the event times); a share
    still ongoing (or followed up) at a time needs ``n >= min_denominator`` and implied numbers
    of ended and ongoing interventions (``n * share`` and ``n * (1 - share)``) of at least
    ``min_count`` each, so that it reveals neither a small group nor that all share one fate.
    """
    d = table.copy()
    n = d["n"].to_numpy(dtype="float64")
    events = d["n_events"].to_numpy(dtype="float64")
    v = pd.to_numeric(d["varde"], errors="coerce").to_numpy(dtype="float64")
    is_median = (d["matt"] == "median").to_numpy()
    too_few = np.where(is_median, events < rules.min_denominator, n < rules.min_denominator)
    implied_small = ~is_median & ((n * v < rules.min_count) | (n * (1 - v) < rules.min_count))
    shown = ~too_few & ~implied_small & np.isfinite(v)
    d["shown"] = shown
    d["reason"] = np.where(
        shown, "", np.where(too_few, RULE_DENOMINATOR, np.where(np.isfinite(v), RULE_TOO_FEW, ""))
    )
    return CheckedTable(d, rules, "durations", ("varde", "ci_low", "ci_high"))


def check_equal_care(result: EqualCareResult, rules: DisclosureRules) -> CheckedTable:
    """Hide regression comparisons of groups below the disclosure thresholds.

    A comparison is shown only when the compared and the reference group each have at least
    ``min_count`` registrations with and without the outcome, and its model at least
    ``min_denominator`` registrations.
    """
    d = result.estimates.copy()
    model_n = result.models.set_index("stratum")["n"]
    cells = np.column_stack(
        [
            d["events_level"],
            d["n_level"] - d["events_level"],
            d["events_reference"],
            d["n_reference"] - d["events_reference"],
        ]
    ).astype("float64")
    small = (cells < rules.min_count).any(axis=1) if len(d) else np.zeros(0, bool)
    model_small = d["stratum"].map(model_n).fillna(0).to_numpy() < rules.min_denominator
    shown = ~small & ~model_small
    d["shown"] = shown
    d["reason"] = np.where(shown, "", np.where(model_small, RULE_DENOMINATOR, RULE_TOO_FEW))
    values = (
        "odds_ratio",
        "or_ci_low",
        "or_ci_high",
        "risk_difference",
        "rd_ci_low",
        "rd_ci_high",
        "p_value",
        "q_value",
        "text_sv",
        "n_level",
        "events_level",
        "n_reference",
        "events_reference",
    )
    return CheckedTable(d, rules, "equal_care", values)


def check_trends(
    trends: pd.DataFrame, yearly: pd.DataFrame, rules: DisclosureRules
) -> CheckedTable:
    """Hide trend conclusions resting on a year with fewer than ``min_denominator`` behind it.

    ``yearly`` is the long table the trends were computed from (its yearly rows); a series is
    shown when every year with data has ``namnare >= min_denominator`` and there are at least
    three such years.
    """
    keys = [c for c in ("niva", "enhet", "variabel", "kod") if c in trends.columns]
    extra = [c for c in trends.columns if c in yearly.columns and c not in keys]
    extra = [c for c in extra if c not in ("n", "namnare", "andel", "ci_low", "ci_high", "ar")]
    k = [*keys, *extra]
    y = yearly.loc[yearly["ar"].notna() & (yearly["namnare"] > 0)]
    smallest = y.groupby(k, observed=True, dropna=False)["namnare"].min().rename("_min")
    d = trends.merge(smallest.reset_index(), on=k, how="left")
    ok = (d["_min"].fillna(0) >= rules.min_denominator) & (d["n_years"] >= 3)
    d = d.drop(columns="_min")
    d["shown"] = ok.to_numpy(dtype=bool)
    d["reason"] = np.where(d["shown"], "", RULE_DENOMINATOR)
    return CheckedTable(d, rules, "trends", ("text_sv", "slope", "p_value", "q_value"))


# --------------------------------------------------------------------------------------------
# The linked set of outcome counts
# --------------------------------------------------------------------------------------------


def _linked(long: pd.DataFrame, table: str, by: str | None) -> pd.DataFrame:
    """A long analysis table as protect_linked input: enhet, variabel (table:group), kod, n,
    denominator."""
    group = long[by].astype("str") if by else pd.Series("alla", index=long.index, dtype="str")
    return pd.DataFrame(
        {
            UNIT: long["enhet"].to_numpy(),
            "variabel": (table + _SEP + group).to_numpy(),
            "kod": long["kod"].astype("str").to_numpy(),
            "n": long["n"].to_numpy(dtype="int64"),
            "denominator": long["namnare"].to_numpy(dtype="int64"),
        }
    )


def outcome_counts(
    data: pd.DataFrame,
    interventions: pd.DataFrame,
    *,
    years: tuple[int, int],
    as_of: Any,
) -> pd.DataFrame:
    """Every outcome count the analysis blocks show, for all units, in protect_linked form.

    Groups (``variabel``): ``maluppfyllelse_helt:<insatstyp>`` (helt / ej_helt),
    ``avslutstyp:<insatstyp>`` (planerat / annat_oplanerat / sammanbrott),
    ``aterkomst_12man:<0-12|13-20>`` (ja / nej) and ``utredningstid:alla`` (inom / sen:
    closed late or still open and late). Whole period, every municipality, county and the nation
    (zeros included). All groups' codes add up to their denominators.
    """
    common = {"levels": ("kommun", "lan", "riket"), "years": years, "by_year": False}
    goal = analysis.goal_attainment(data, by=["insatstyp"], all_units=True, **common)
    ends = analysis.endings(data, by=["insatstyp"], all_units=True, **common)
    rer = analysis.rereferral_kkik(interventions, as_of=as_of, all_units=True, **common)
    inv = analysis.investigation_times(
        interventions, as_of=as_of, years=years, by_year=False, levels=common["levels"]
    )
    units = analysis.unit_map(common["levels"])[["enhet"]].drop_duplicates()
    inv = units.merge(inv, left_on="enhet", right_on="enhet", how="left")
    late = (inv["n_late"].fillna(0) + inv["n_open_late"].fillna(0)).astype("int64")
    within = inv["n"].fillna(0).astype("int64")
    inv_long = pd.DataFrame(
        {
            "enhet": np.repeat(inv["enhet"].to_numpy(), 2),
            "kod": np.tile(["inom", "sen"], len(inv)),
            "n": np.column_stack([within, late]).ravel(),
            "namnare": np.repeat((within + late).to_numpy(), 2),
        }
    )
    frames = [
        _linked(goal, "maluppfyllelse_helt", "insatstyp"),
        _linked(ends, "avslutstyp", "insatstyp"),
        _linked(rer, "aterkomst_12man", "aldersgrupp_kkik"),
        _linked(inv_long, "utredningstid", None),
    ]
    return pd.concat(frames, ignore_index=True)


def _ending_codes() -> dict[str, list[str]]:
    """Main-table codes of ``avslutsorsak`` behind each ending type of ``avslutstyp``."""
    var = load_catalogue().variable("avslutsorsak")
    assert var.codelist is not None
    codes = var.codelist.codes
    return {
        "planerat": [c.code for c in codes if c.planned],
        "sammanbrott": ["sammanbrott"],
        "annat_oplanerat": [c.code for c in codes if not c.planned and c.code != "sammanbrott"],
    }


def outcome_relations(main: pd.DataFrame, outcomes: pd.DataFrame) -> list[Relation]:
    """The exact relations between the main table (``"main"``) and the outcomes (``"outcomes"``).

    Per unit, with ``t`` running over the intervention types:

    * ``maluppfyllelse`` helt = sum_t ``maluppfyllelse_helt:t`` helt; delvis + inte_alls =
      sum_t ``ej_helt``; the ``maluppfyllelse`` total = sum_t totals + kan_ej_bedomas (both
      count registrations with the goal attainment filled in, over the same period);
    * ``avslutsorsak`` sammanbrott = sum_t ``avslutstyp:t`` sammanbrott; the planned codes
      (``planned: true`` in the catalogue) = sum_t planerat; the other unplanned codes = sum_t
      annat_oplanerat; the ``avslutsorsak`` total = sum_t totals (ending registrations with a
      reason).

    They hold by definition when every such registration has an intervention type (the by-type
    tables leave out rows without one); :func:`protect_with_outcomes` keeps only the relations
    that hold on the raw counts, so a unit with such rows keeps an inequality, not an equation.
    ``aterkomst_12man`` and ``utredningstid`` count children and investigations: no exact
    relation to the main table.
    """
    groups = outcomes["variabel"].astype("str").drop_duplicates().tolist()
    goal = [g for g in groups if g.startswith("maluppfyllelse_helt" + _SEP)]
    ends = [g for g in groups if g.startswith("avslutstyp" + _SEP)]
    units = main[UNIT].astype("str").drop_duplicates().tolist()
    ending = _ending_codes()
    out: list[Relation] = []

    def rel(u: str, total: list[tuple[str, str | None]], table: list[str], code: str | None):
        if total and table:
            out.append(
                Relation(
                    total=[("main", u, g, c) for g, c in total],
                    parts=[("outcomes", u, g, code) for g in table],
                )
            )

    for u in units:
        rel(u, [("maluppfyllelse", "helt")], goal, "helt")
        rel(u, [("maluppfyllelse", "delvis"), ("maluppfyllelse", "inte_alls")], goal, "ej_helt")
        if goal:
            out.append(
                Relation(
                    total=("main", u, "maluppfyllelse", None),
                    parts=[("outcomes", u, g, None) for g in goal]
                    + [("main", u, "maluppfyllelse", "kan_ej_bedomas")],
                )
            )
        for kind, codes in ending.items():
            rel(u, [("avslutsorsak", c) for c in codes], ends, kind)
        rel(u, [("avslutsorsak", None)], ends, None)
    return out


def protect_with_outcomes(
    report: FollowUpReport, interventions: pd.DataFrame | None = None
) -> dict[str, ProtectedTable]:
    """The main table and the outcome counts protected together (report 10 shows both).

    Uses :func:`~workbench.disclosure.protect_related` with :func:`outcome_relations`, through
    the batch cache: the counts (and the interventions, when not given) are read and tabulated
    only when the cache misses.
    """
    s = report.settings
    as_of = extract_date(report.manifest, fallback=f"{s.period[1]}-12-31")

    def compute() -> tuple[dict[str, pd.DataFrame], list[Relation]]:
        ins = analysis.load_interventions(s.data_dir) if interventions is None else interventions
        counts = {
            "main": report.main_counts(),
            "outcomes": outcome_counts(report.data, ins, years=s.period, as_of=as_of),
        }
        relations = outcome_relations(counts["main"], counts["outcomes"])
        holds = check_relations(counts, relations, unit=UNIT)
        if not all(holds):
            logger.info(
                "%d of %d main-outcome relations do not hold exactly (registrations without an "
                "intervention type) and are left out",
                holds.count(False),
                len(holds),
            )
        return counts, [r for r, ok in zip(relations, holds, strict=True) if ok]

    key = cache_key(
        "main-outcomes",
        manifest=report.manifest,
        period=s.period,
        rules=s.disclosure,
        relations="outcomes-v1",
    )
    # every outcome group's codes add up to its denominator (unlisted groups count as additive)
    return cached_protect_related(
        compute,
        names=("main", "outcomes"),
        additive={"main": report.main_additive(), "outcomes": {}},
        rules=report.rules,
        key=key,
    )


# --------------------------------------------------------------------------------------------
# Presentation helpers
# --------------------------------------------------------------------------------------------


def _ci_text(low: object, high: object, *, percent: bool, decimals: int = 0) -> str:
    if fmt.is_missing(low) or fmt.is_missing(high):
        return fmt.SUPPRESSED
    if percent:
        return (
            f"{format_number(100 * float(low), decimals)}–{format_percent(float(high), decimals)}"
        )
    return f"{format_number(float(low), decimals)}–{format_number(float(high), decimals)}"


def _level_of(unit: str) -> str:
    return "riket" if unit == NATIONAL else ("lan" if len(unit) == 2 else "kommun")


# --------------------------------------------------------------------------------------------
# The report's analysis blocks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AnalysisReport:
    """The analysis blocks of the follow-up report for one municipality (or the nation).

    Built on a :class:`workbench.views.FollowUpReport` (its settings, national registrations,
    disclosure rules and units: the municipality, its county and the nation).
    """

    report: FollowUpReport
    interventions: pd.DataFrame

    @classmethod
    def load(cls, report: FollowUpReport) -> AnalysisReport:
        """Read the interventions (with first registration dates) beside the report's data."""
        return cls(
            report=report, interventions=analysis.load_interventions(report.settings.data_dir)
        )

    # -- shared state ------------------------------------------------------------------------
    @property
    def rules(self) -> DisclosureRules:
        return self.report.rules

    @property
    def units(self) -> list[str]:
        return self.report.units

    @property
    def as_of(self) -> str:
        return extract_date(
            self.report.manifest, fallback=f"{self.report.settings.period[1]}-12-31"
        )

    @property
    def main_unit(self) -> str:
        """The unit trends and models describe: the municipality, else its county, else Riket."""
        return self.units[0]

    def _key(self, kind: str) -> dict[str, Any]:
        s = self.report.settings
        return cache_key(kind, manifest=self.report.manifest, period=s.period, rules=s.disclosure)

    @functools.cached_property
    def protected(self) -> ProtectedTable:
        """Outcome counts of :func:`outcome_counts`, protected over the national linked set and
        together with the report's main table (:func:`protect_with_outcomes`)."""
        if "protected_related" not in self.report.__dict__:
            # first use in this report: reuse the interventions already read on a cache miss
            self.report.__dict__["protected_related"] = protect_with_outcomes(
                self.report, self.interventions
            )
        return self.report.protected_related["outcomes"]

    def _log(
        self, html_text: str, table: ProtectedTable, *, name: str, groups: Sequence[str]
    ) -> Block:
        records = suppression_records(
            table, name=name, units=self.units, variables=groups, rules=self.rules
        )
        return Block(html_text, data={SUPPRESSION_LOG_MIME: records})

    def _checked_log(
        self,
        html_text: str,
        checked: CheckedTable,
        *,
        name: str,
        unit_col: str | None,
        variable: str,
    ) -> Block:
        hidden = checked.data.loc[~checked.data["shown"] & (checked.data["reason"] != "")]
        cells = [
            {
                "table": name,
                "unit": str(r[unit_col]) if unit_col else "",
                "variable": variable,
                "code": None,
                "cell": "estimate",
                "rule": str(r["reason"]),
                "pass": 0,
            }
            for r in hidden.to_dict("records")
        ]
        return Block(
            html_text, data={SUPPRESSION_LOG_MIME: suppression_payload(cells, self.rules)}
        )

    # -- shares by intervention type ----------------------------------------------------------
    def _share_by_group(
        self,
        *,
        table: str,
        code: str,
        groups: Sequence[str],
        group_label: Any,
        group_title: str,
        title: str,
        counted: str,
        xlabel: str,
        name: str,
    ) -> Block:
        from workbench.plots import plot_grouped_bars

        pt = _require(self.protected, ProtectedTable)
        keys = [f"{table}{_SEP}{g}" for g in groups]
        d = pt.data
        d = d[d["variabel"].isin(keys) & (d["kod"] == code) & d[UNIT].isin(self.units)].copy()
        d["group"] = d["variabel"].str.split(_SEP, n=1).str[1]
        d["kod_label"] = d["group"].map(group_label)
        d["enhet_label"] = d[UNIT].map(unit_label)
        ci = stats.proportion_ci(d["n"], d["denominator"])
        shown = d["share"].notna().to_numpy()
        d["ci_low"] = np.where(shown, ci["ci_low"].to_numpy(), np.nan)
        d["ci_high"] = np.where(shown, ci["ci_high"].to_numpy(), np.nan)
        d["_g"] = d["group"].map({g: i for i, g in enumerate(groups)})
        d["_u"] = d[UNIT].map({u: i for i, u in enumerate(self.units)})
        d = d.sort_values(["_g", "_u"])
        present = [g for g in groups if (d["group"] == g).any()]
        chart = plot_grouped_bars(
            d.assign(share=d["share"].astype("Float64")),
            category="kod_label",
            series="enhet_label",
            value="share",
            xlabel=xlabel,
        )
        alt = (
            f"Stapeldiagram, {title.lower()}. "
            + "; ".join(
                f"{unit_label(u)}: "
                + ", ".join(
                    f"{r.kod_label} {format_percent(r.share)}"
                    for r in d[d[UNIT] == u].itertuples()
                )
                for u in self.units
            )
            + "."
        ).replace(NBSP, " ")
        fig = figure_html(chart.figure, alt=alt, caption=f"{title}. {counted}")
        head1 = "".join(
            f'<th scope="colgroup" colspan="3">{esc(unit_label(u))}</th>' for u in self.units
        )
        head2 = "".join(
            '<th scope="col" class="num">Andel</th><th scope="col" class="num">95 % KI</th>'
            '<th scope="col" class="num">Underlag</th>'
            for _ in self.units
        )
        body = []
        for g in present:
            cells = []
            for u in self.units:
                r = d[(d["group"] == g) & (d[UNIT] == u)]
                if r.empty:
                    cells.append('<td class="num">..</td>' * 3)
                    continue
                row = r.iloc[0]
                cells.append(
                    f'<td class="num">{esc(format_percent(row["share"]))}</td>'
                    f'<td class="num">{esc(_ci_text(row["ci_low"], row["ci_high"], percent=True))}</td>'
                    f'<td class="num">{esc(format_int(row["denominator_shown"]))}</td>'
                )
            body.append(f'<tr><th scope="row">{esc(group_label(g))}</th>{"".join(cells)}</tr>')
        kinds = [("label", 1)] + [("share", 1), ("interval", 1), ("count", 1)] * len(self.units)
        tbl = (
            f'<table class="wb-table"><caption>{esc(title)}</caption>{colgroup(*kinds)}'
            f'<thead><tr><td></td>{head1}</tr><tr><th scope="col">{esc(group_title)}</th>{head2}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>"
        )
        html_text = (
            f'<h3>{esc(title)}</h3>\n{fig}\n<p class="wb-note">{esc(counted)}</p>\n'
            f"<details><summary>Tabell: {esc(title)}</summary>\n{tbl}\n</details>"
        )
        return self._log(html_text, pt, name=name, groups=keys)

    def goal_attainment_by_type(self) -> Block:
        """Share of registrations where the goals were fully reached, per intervention type."""
        types = list(code_order("insatstyp"))
        return self._share_by_group(
            table="maluppfyllelse_helt",
            code="helt",
            groups=types,
            group_label=lambda g: code_label("insatstyp", g),
            group_title="Insatstyp",
            title="Målen helt uppnådda, per insatstyp",
            counted=(
                "Andel av uppföljningsregistreringarna där målen bedömts helt uppnådda, av dem "
                "där måluppfyllelsen bedömts (helt, delvis eller inte alls). Registreringar där "
                "måluppfyllelsen inte kunde bedömas ingår inte. Ett barn kan ha flera "
                "registreringar. 95 % KI: Wilsonintervall."
            ),
            xlabel="Andel av registreringarna",
            name="goal_attainment_by_type",
        )

    def breakdown_by_type(self) -> Block:
        """Share of ended placements that ended in a breakdown (*sammanbrott*), per type."""
        groups = load_catalogue().groups("insatstyp")
        types = [t for t in code_order("insatstyp") if groups.get(t) == "placering"]
        return self._share_by_group(
            table="avslutstyp",
            code="sammanbrott",
            groups=types,
            group_label=lambda g: code_label("insatstyp", g),
            group_title="Placeringstyp",
            title="Sammanbrott, per placeringstyp",
            counted=(
                "Andel av avslutade placeringar (avslutsregistreringar med angiven avslutsorsak) "
                "som avslutades genom sammanbrott. 95 % KI: Wilsonintervall."
            ),
            xlabel="Andel av avslutade placeringar",
            name="breakdown_by_type",
        )

    def rereferral(self) -> Block:
        """KKiK-style share not returning within 12 months, ages 0–12 and 13–20."""
        return self._share_by_group(
            table="aterkomst_12man",
            code="nej",
            groups=list(analysis.KKIK_AGE_BANDS),
            group_label=lambda g: f"{g.replace('-', '–')} år",
            group_title="Ålder vid avslut",
            title="Ej återaktualiserade inom 12 månader efter avslut",
            counted=(
                "Andel av barnen och ungdomarna som inte fick en ny insats inom 12 månader "
                "efter att alla deras insatser avslutats, efter ålder vid avslutet (som i "
                "Kommunens Kvalitet i Korthet; varje barn räknas en gång per år). Avslut de "
                "senaste 12 månaderna före uttaget ingår inte. 95 % KI: Wilsonintervall."
            ),
            xlabel="Andel av barnen",
            name="rereferral",
        )

    def investigation_time(self) -> Block:
        """Share of investigations closed within four months (120 days)."""
        return self._share_by_group(
            table="utredningstid",
            code="inom",
            groups=["alla"],
            group_label=lambda _g: "Utredningar",
            group_title="",
            title="Utredningar avslutade inom fyra månader",
            counted=(
                "Andel av utredningarna som avslutades inom 120 dagar från start, efter året "
                "utredningen inleddes. Pågående utredningar som redan passerat 120 dagar räknas "
                "som sena; pågående som ännu inte passerat gränsen ingår inte. "
                "95 % KI: Wilsonintervall."
            ),
            xlabel="Andel av utredningarna",
            name="investigation_time",
        )

    # -- durations ---------------------------------------------------------------------------
    @functools.cached_property
    def checked_durations(self) -> CheckedTable:
        """Kaplan–Meier durations by intervention type and time to follow-up, checked."""
        # One unit at a time: the county's and the nation's estimates are the same for every
        # report of a batch, so they are computed once and cached.
        parts = [
            self._unit_durations(u)
            if _level_of(u) == "kommun"
            else self._cached_frame(
                f"analysis-durations-{u}", functools.partial(self._unit_durations, u)
            )
            for u in self.units
        ]
        both = pd.concat(parts, ignore_index=True)
        return check_durations(both.reset_index(drop=True), self.rules)

    def _unit_durations(self, unit: str) -> pd.DataFrame:
        """Kaplan–Meier durations and time to follow-up of one unit (municipality, county or
        the nation), unchecked."""
        level = _level_of(unit)
        units = analysis.unit_map((level,))
        keep = units.loc[units["enhet"] == unit, "kommun"].unique()
        ins = self.interventions
        ins = ins[ins["kommun"].isin(keep).to_numpy(dtype=bool)]
        start = self.report.settings.period
        dur = analysis.intervention_durations(
            ins,
            as_of=self.as_of,
            by=["insatstyp"],
            months=(12,),
            start_years=start,
            levels=(level,),
        ).assign(tabell="langd")
        fu = analysis.time_to_follow_up(
            ins, as_of=self.as_of, months=(6,), start_years=start, levels=(level,)
        ).assign(tabell="uppfoljning", insatstyp="alla")
        both = pd.concat([dur, fu], ignore_index=True)
        return both[both["enhet"] == unit].reset_index(drop=True)

    def durations(self) -> Block:
        """Median intervention length and share still ongoing after 12 months, per type."""
        ct = _require(self.checked_durations, CheckedTable)
        d = ct.to_frame()
        units = [u for u in self.units if (d["enhet"] == u).any()]
        dur = d[d["tabell"] == "langd"]
        types = [t for t in code_order("insatstyp") if (dur["insatstyp"] == t).any()]

        def cell(u: str, t: str, matt: str, table: pd.DataFrame) -> str:
            r = table[(table["enhet"] == u) & (table["insatstyp"] == t) & (table["matt"] == matt)]
            if r.empty or fmt.is_missing(r["varde"].iloc[0]):
                return f'<td class="num">{fmt.SUPPRESSED}</td>'
            v = r.iloc[0]
            if matt == "median":
                text = (
                    f"{format_number(v['varde'], 1)} "
                    f"({_ci_text(v['ci_low'], v['ci_high'], percent=False, decimals=1)})"
                )
            else:
                text = (
                    f"{format_percent(v['varde'])} "
                    f"({_ci_text(v['ci_low'], v['ci_high'], percent=True)})"
                )
            return f'<td class="num">{esc(text)}</td>'

        head1 = "".join(
            f'<th scope="colgroup" colspan="2">{esc(unit_label(u))}</th>' for u in units
        )
        head2 = "".join(
            '<th scope="col" class="num">Median, månader (95 % KI)</th>'
            '<th scope="col" class="num">Pågår efter 12 månader (95 % KI)</th>'
            for _ in units
        )
        rows = "".join(
            f'<tr><th scope="row">{esc(code_label("insatstyp", t))}</th>'
            + "".join(cell(u, t, "median", dur) + cell(u, t, "andel_pagaende", dur) for u in units)
            + "</tr>"
            for t in types
        )
        kinds = [("label", 1)] + [("measure", 1), ("share", 1)] * len(units)
        t1 = (
            '<table class="wb-table"><caption>Insatsernas längd (Kaplan–Meier; pågående insatser '
            f"räknas till datauttaget {esc(self.as_of)})</caption>{colgroup(*kinds)}"
            f'<thead><tr><td></td>{head1}</tr><tr><th scope="col">Insatstyp</th>{head2}</tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
        fu = d[d["tabell"] == "uppfoljning"]
        rows2 = "".join(
            f'<tr><th scope="row">{esc(unit_label(u))}</th>'
            + cell(u, "alla", "median", fu)
            + cell(u, "alla", "andel_uppfoljda", fu)
            + "</tr>"
            for u in units
        )
        t2 = (
            '<table class="wb-table"><caption>Tid från insatsens start till första '
            "registrering (uppföljning eller avslut)</caption>"
            + colgroup(*[("label", 1), ("measure", 1), ("share", 1)])
            + '<thead><tr><th scope="col">Område</th><th scope="col" class="num">Median, månader '
            '(95 % KI)</th><th scope="col" class="num">Uppföljda inom 6 månader (95 % KI)</th>'
            f"</tr></thead><tbody>{rows2}</tbody></table>"
        )
        note = (
            "Insatser som startat under perioden. Längden skattas med Kaplan–Meier-metoden så att "
            "insatser som fortfarande pågår räknas med (ett medelvärde av avslutade insatser "
            "skulle ge för korta tider). Median visas när minst "
            f"{self.rules.min_denominator} insatser har avslutats; andelar när underlaget är minst "
            f"{self.rules.min_denominator} och inga små grupper kan räknas fram "
            f"({fmt.SUPPRESSED} annars)."
        )
        return self._checked_log(
            f'<h3>Insatsernas längd och tid till uppföljning</h3>\n<p class="wb-note">{esc(note)}</p>\n{t1}\n{t2}',
            ct,
            name="durations",
            unit_col="enhet",
            variable="insatsens_langd",
        )

    # -- equal care --------------------------------------------------------------------------
    def _national_model(self, outcome: str) -> EqualCareResult:
        """The national model, cached on disk per dataset, period and package version."""
        base = cache_dir() / f"model-{outcome}-{key_digest(self._key(f'equal-care-{outcome}'))}"
        est_path, mod_path = (
            base.with_suffix(".estimates.parquet"),
            base.with_suffix(".models.parquet"),
        )
        meta_path = base.with_suffix(".json")
        if est_path.is_file() and mod_path.is_file() and meta_path.is_file():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            return EqualCareResult(
                outcome=OUTCOMES[outcome],
                estimates=pd.read_parquet(est_path),
                models=pd.read_parquet(mod_path),
                excluded=pd.DataFrame(meta["excluded"], columns=["reason", "n"]),
                method=meta["method"],
            )
        res = equal_care(self.report.data, outcome=outcome)
        write_table(res.estimates, est_path)
        write_table(res.models, mod_path)
        meta = json.dumps({"method": res.method, "excluded": res.excluded.to_dict("records")})
        _atomic_write_bytes(meta_path, meta.encode("utf-8"))  # parallel workers read it
        return res

    def equal_care(self, outcome: str = "maluppfyllelse") -> Block:
        """Adjusted comparisons of groups of children (sex, origin, vulnerability, age, type).

        Shows the national model and, when the municipality has enough registrations, its own
        model (clustered by child); comparisons of small groups are hidden.
        """
        spec = OUTCOMES[outcome]
        parts: list[tuple[str, CheckedTable]] = []
        s = self.report.settings
        if not s.is_national and not self.report.too_few:
            own = self.report.data[self.report.data["kommun"] == s.kommun]
            res = equal_care(own, outcome=outcome, cluster="barn_id")
            if (res.models["status"] == "ok").any():
                parts.append((s.kommun, check_equal_care(res, self.rules)))
        parts.append((NATIONAL, check_equal_care(self._national_model(outcome), self.rules)))
        sections = []
        log_cells: list[dict[str, Any]] = []
        for unit, ct in parts:
            ct = _require(ct, CheckedTable)
            d = ct.to_frame()
            items = "".join(f"<li>{esc(t)}</li>" for t in d["text_sv"] if not fmt.is_missing(t))
            hidden = int((~ct.data["shown"]).sum())
            rows = []
            for r in d.to_dict("records"):
                label = (
                    f"{group_phrase_sv(r['covariate'], r['level'])} jämfört med "
                    f"{group_phrase_sv(r['covariate'], r['reference'])}"
                )
                if r["shown"]:
                    orr = (
                        f"{format_number(r['odds_ratio'], 2)} "
                        f"({_ci_text(r['or_ci_low'], r['or_ci_high'], percent=False, decimals=2)})"
                    )
                    rd = (
                        f"{format_number(100 * r['risk_difference'], 1)} "
                        f"({format_number(100 * r['rd_ci_low'], 1)} till "
                        f"{format_number(100 * r['rd_ci_high'], 1)})"
                    ).replace("-", "\u2212")
                    sure = "ja" if r["significant"] else "nej"
                else:
                    orr = rd = sure = fmt.SUPPRESSED
                rows.append(
                    f'<tr><th scope="row">{esc(label[:1].upper() + label[1:])}</th>'
                    f'<td class="num">{esc(orr)}</td><td class="num">{esc(rd)}</td>'
                    f"<td>{esc(sure)}</td></tr>"
                )
                if not r["shown"]:
                    log_cells.append(
                        {
                            "table": f"equal_care_{outcome}",
                            "unit": unit,
                            "variable": str(r["covariate"]),
                            "code": str(r["level"]),
                            "cell": "estimate",
                            "rule": str(r["reason"]),
                            "pass": 0,
                        }
                    )
            table = (
                f'<table class="wb-table"><caption>{esc(spec.label_sv[:1].upper() + spec.label_sv[1:])}, '
                f"{esc(unit_label(unit))}: justerade jämförelser</caption>"
                + colgroup(*[("label", 1), ("measure", 1), ("measure", 1), ("label", 1)])
                + '<thead><tr><th scope="col">Jämförelse</th>'
                '<th scope="col" class="num">Oddskvot (95 % KI)</th>'
                '<th scope="col" class="num">Skillnad, procentenheter (95 % KI)</th>'
                '<th scope="col">Säker skillnad</th></tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table>"
            )
            hidden_note = (
                f'<p class="wb-note">{hidden} jämförelse(r) visas inte: för få registreringar '
                "i någon av grupperna.</p>"
                if hidden
                else ""
            )
            sections.append(
                f"<h4>{esc(unit_label(unit))}</h4><ul>{items}</ul>{hidden_note}"
                f"<details><summary>Tabell: {esc(unit_label(unit))}</summary>{table}</details>"
            )
        intro = (
            f"Jämförelser av {spec.label_sv} mellan grupper av barn, justerade för de andra "
            f"bakgrundsfaktorerna (logistisk regression). Underlag: {spec.sample_sv}. "
            "Oddskvot under 1 och negativ skillnad betyder att gruppen har utfallet mer sällan än "
            "jämförelsegruppen. En skillnad kallas säker bara om den håller när hänsyn tas till att "
            "många jämförelser görs samtidigt (Benjamini–Hochberg). Osäkerheten tar hänsyn till "
            "att registreringar i samma kommun (eller för samma barn) hänger ihop."
        )
        title = f"Likvärdig vård: {spec.label_sv}"
        return Block(
            f'<h3>{esc(title)}</h3>\n<p class="wb-note">{esc(intro)}</p>\n' + "\n".join(sections),
            data={SUPPRESSION_LOG_MIME: suppression_payload(log_cells, self.rules)},
        )

    # -- trends ------------------------------------------------------------------------------
    def _trend_units(self) -> list[str]:
        return list(dict.fromkeys([self.main_unit, NATIONAL]))

    def _unit_rows(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
        """The rows of the main unit's municipalities, and the unit's level."""
        level = _level_of(self.main_unit)
        umap = analysis.unit_map((level,))
        kommuner = umap.loc[umap["enhet"] == self.main_unit, "kommun"]
        return frame.loc[frame["kommun"].isin(kommuner).to_numpy(dtype=bool)], level

    def _cached_frame(self, kind: str, compute: Any) -> pd.DataFrame:
        """A national result cached in the private cache (same for every report of a batch)."""
        return cached_frame(self._key(kind), compute)

    def _indicator_trends(self, data: pd.DataFrame, ins: pd.DataFrame, level: str) -> pd.DataFrame:
        years = self.report.settings.period
        common = {"levels": (level,), "years": years}
        pl = data.loc[(data["insatsgrupp"] == "placering").fillna(False).to_numpy(dtype=bool)]
        inv = analysis.investigation_times(ins, as_of=self.as_of, **common).assign(kod="inom")
        tables = [
            (analysis.describe(data, "samtal_med_barnet", **common), "ja"),
            (analysis.goal_attainment(data, by=(), **common), "helt"),
            (analysis.endings(data, by=(), **common), "planerat"),
            (analysis.endings(pl, by=(), **common), "sammanbrott"),
            (analysis.rereferral_kkik(ins, as_of=self.as_of, **common), "nej"),
            (inv, "inom"),
        ]
        checked = []
        for i, (tab, code) in enumerate(tables):
            tab = tab.assign(variabel=f"{i:02d}|{_TREND_LABELS[i]}")
            tr = analysis.indicator_trends(tab, codes=[code])
            checked.append(check_trends(tr, tab, self.rules).data)
        return pd.concat(checked, ignore_index=True)

    @functools.cached_property
    def checked_trends(self) -> CheckedTable:
        """Trend conclusions for the report's indicators, main unit and nation, checked."""
        data, ins = self.report.data, self.interventions
        parts = [
            self._cached_frame(
                "analysis-trends-national", lambda: self._indicator_trends(data, ins, "riket")
            )
        ]
        if self.main_unit != NATIONAL:
            own, level = self._unit_rows(data)
            own_ins, _ = self._unit_rows(ins)
            parts.insert(0, self._indicator_trends(own, own_ins, level))
        d = pd.concat(parts, ignore_index=True)
        return CheckedTable(d, self.rules, "trends", ("text_sv", "slope", "p_value", "q_value"))

    def _trend_block(self, ct: CheckedTable, *, title: str, row_label: str, name: str) -> Block:
        d = ct.to_frame()
        units = [u for u in self._trend_units() if (d["enhet"] == u).any()]
        labels = list(dict.fromkeys(d.sort_values("variabel")["variabel"]))
        rows = []
        for lab in labels:
            cells = []
            for u in units:
                r = d[(d["variabel"] == lab) & (d["enhet"] == u)]
                text = (
                    "för få registreringar per år för att bedöma trend"
                    if r.empty or fmt.is_missing(r["text_sv"].iloc[0])
                    else str(r["text_sv"].iloc[0])
                )
                cells.append(f"<td>{esc(text)}</td>")
            shown_label = lab.split("|", 1)[1] if "|" in lab else lab
            rows.append(f'<tr><th scope="row">{esc(shown_label)}</th>{"".join(cells)}</tr>')
        head = "".join(f'<th scope="col">{esc(unit_label(u))}</th>' for u in units)
        period = analysis.period_label(self.report.settings.period)
        table = (
            f'<table class="wb-table"><caption>{esc(title)} {esc(period)}</caption>'
            + colgroup(*[("label", 1), ("label", len(units))])
            + f'<thead><tr><th scope="col">{esc(row_label)}</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        note = (
            "Förändring över åren testas med Cochran–Armitages trendtest. 'Ingen säker förändring' "
            "betyder att data inte visar någon tydlig förändring, inte att värdet är oförändrat. "
            f"En trend bedöms bara när varje år har minst {self.rules.min_denominator} "
            "registreringar bakom andelen och minst tre år har data."
        )
        return self._checked_log(
            f'<h3>{esc(title)}</h3>\n<p class="wb-note">{esc(note)}</p>\n{table}',
            ct,
            name=name,
            unit_col="enhet",
            variable="trend",
        )

    def trends(self) -> Block:
        """Change over the years in the main indicators, for the main unit and the nation."""
        return self._trend_block(
            _require(self.checked_trends, CheckedTable),
            title="Förändring över tid",
            row_label="Indikator",
            name="trends",
        )

    def _completeness_trends(self, data: pd.DataFrame, level: str) -> pd.DataFrame:
        cat = load_catalogue()
        names = [
            v
            for v in self.report.settings.variables_in_use
            if not cat.variable(v).derived and cat.variable(v).type in ("code", "multi")
        ]
        comp = analysis.completeness(
            data, names, levels=(level,), years=self.report.settings.period
        )
        order = {n: i for i, n in enumerate(names)}
        comp = comp.assign(
            variabel=comp["variabel"].map(lambda v: f"{order[v]:02d}|{cat.variable(v).sv}")
        )
        tr = analysis.indicator_trends(comp, codes=["kand"])
        return check_trends(tr, comp, self.rules).data

    @functools.cached_property
    def checked_completeness_trends(self) -> CheckedTable:
        """Trend in the share filled in with a known value, per code variable in use, checked.

        Date variables are left out: an end date is empty by design while an intervention is
        ongoing, so its completeness falls towards the data date without any recording problem.
        """
        data = self.report.data
        in_use = "-".join(sorted(self.report.settings.variables_in_use))
        kind = "analysis-completeness-trends-" + hashlib.sha256(in_use.encode()).hexdigest()[:8]
        parts = [self._cached_frame(kind, lambda: self._completeness_trends(data, "riket"))]
        if self.main_unit != NATIONAL:
            own, level = self._unit_rows(data)
            parts.insert(0, self._completeness_trends(own, level))
        d = pd.concat(parts, ignore_index=True)
        return CheckedTable(d, self.rules, "trends", ("text_sv", "slope", "p_value", "q_value"))

    def completeness_trends(self) -> Block:
        """Whether the share of registrations with a known value changes over the years."""
        return self._trend_block(
            _require(self.checked_completeness_trends, CheckedTable),
            title="Fullständighet över tid (andel ifyllda med känt värde)",
            row_label="Variabel",
            name="completeness_trends",
        )
