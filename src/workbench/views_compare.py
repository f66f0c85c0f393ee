"""What the comparison report (``notebooks/reports/30-comparisons.ipynb``) displays.

Same contract as :mod:`workbench.views`: every number on the page comes from a
:class:`workbench.disclosure.ProtectedTable` (through :func:`workbench.compare.published_values`),
every value from data or parameters is HTML-escaped, every chart has alt text and a data table,
and every block carries the suppression-log slice of the cells it shows. Colours never carry
meaning alone: every coloured cell has a text label.

The report compares one municipality (or, for ``kommun = "0000"``, the counties and all
municipalities) with its county, the nation and similar municipalities over the report period.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench import __version__, compare, fmt
from workbench.compare import (
    CLASS_SV,
    FLAG_SV,
    LEVEL_KOMMUN,
    STATUS_NO_DATA,
    STATUS_OK,
    SURVEY_RULES,
    PublishedValues,
    SimilarGroups,
)
from workbench.dataset import extract_date, load_registrations, read_manifest, read_table
from workbench.disclosure import DisclosureRules, ProtectedTable
from workbench.fmt import NBSP, SUPPRESSED, format_int, format_number, format_percent
from workbench.followup import UNIT
from workbench.indicators import (
    KIND_SV,
    Indicator,
    IndicatorSet,
    case_counts,
    linked_counts,
    load_indicators,
    survey_counts,
)
from workbench.municipalities import (
    NATIONAL,
    NATIONAL_NAME,
    county_name,
    list_municipalities,
)
from workbench.params import Settings
from workbench.views import (
    REPORT_META_MIME,
    SUPPRESSION_LOG_MIME,
    Block,
    cache_key,
    cached_protect,
    colgroup,
    esc,
    figure_html,
    suppression_payload,
    suppression_records,
    unit_label,
)

__all__ = ["ComparisonReport", "unit_label"]

NOTEBOOK = "30-comparisons"


def _pct(x: object, decimals: int = 0) -> str:
    return format_percent(x, decimals)


def _ci(low: object, high: object) -> str:
    if fmt.is_missing(low) or fmt.is_missing(high):
        return SUPPRESSED
    return f"{format_number(100 * float(low), 0)}–{format_percent(float(high))}"


def _value(share: object, status: str) -> str:
    """A shown share, or the reason it is not shown."""
    if status == STATUS_OK:
        return _pct(share)
    if status == STATUS_NO_DATA:
        return fmt.NOT_APPLICABLE
    return SUPPRESSED


def _styled(code: str, style: Any) -> str:
    bg, fg, label = style(code)
    return f'<td class="wb-class" style="background-color:{bg};color:{fg}">{esc(label)}</td>'


def _table(caption: str, kinds: Sequence[tuple[str, int]], head: str, body: Iterable[str]) -> str:
    return (
        f'<table class="wb-table"><caption>{esc(caption)}</caption>{colgroup(*kinds)}'
        f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"
    )


def _th(text: str, *, num: bool = False) -> str:
    cls = ' class="num"' if num else ""
    return f'<th scope="col"{cls}>{esc(text)}</th>'


def _td(text: str, *, num: bool = True) -> str:
    cls = ' class="num"' if num else ""
    return f"<td{cls}>{esc(text)}</td>"


def _alt(text: str) -> str:
    return text.replace(NBSP, " ")


@dataclass(frozen=True, eq=False)
class ComparisonReport:
    """Everything the comparison report shows for one municipality (or the nation).

    Built by :meth:`load`. The counts are computed for the whole nation (disclosure control and
    the comparisons need every municipality); they stay in the private zone. Blocks render only
    values from protected tables.
    """

    settings: Settings
    registrations: pd.DataFrame = field(repr=False)
    interventions: pd.DataFrame = field(repr=False)
    survey: pd.DataFrame = field(repr=False)
    manifest: dict[str, Any] = field(repr=False)
    rules: DisclosureRules
    indicators: IndicatorSet

    @classmethod
    def load(cls, settings: Settings) -> ComparisonReport:
        """Read the canonical data (all years: derived indicators look past the period)."""
        manifest = read_manifest(settings.data_dir)
        return cls(
            settings=settings,
            registrations=load_registrations(settings.data_dir),
            interventions=read_table(settings.data_dir, "interventions"),
            survey=read_table(settings.data_dir, "survey"),
            manifest=dict(manifest.content),
            rules=DisclosureRules.from_mapping(settings.disclosure),
            indicators=load_indicators(),
        )

    # -- units --------------------------------------------------------------------------------
    @property
    def kommun(self) -> str:
        return self.settings.kommun

    @property
    def is_national(self) -> bool:
        return self.settings.is_national

    @property
    def county(self) -> str:
        return self.settings.municipality.county_code

    @property
    def as_of(self) -> str:
        return extract_date(self.manifest, fallback=f"{self.settings.period[1]}-12-31")

    @property
    def case_indicators(self) -> list[Indicator]:
        return self.indicators.of_kind("case")

    @property
    def survey_indicators(self) -> list[Indicator]:
        return self.indicators.of_kind("survey")

    def _key(self, kind: str, rules: DisclosureRules) -> dict[str, Any]:
        return cache_key(
            kind,
            manifest=self.manifest,
            period=self.settings.period,
            rules={
                "min_count": rules.min_count,
                "min_denominator": rules.min_denominator,
                "secondary": rules.secondary,
            },
            indicators=self.indicators.version,
        )

    # -- counts and protected tables (national, computed once per batch) ----------------------
    @functools.cached_property
    def counts(self) -> pd.DataFrame:
        """Yearly numerators and denominators of the case indicators (private zone)."""
        return case_counts(
            registrations=self.registrations,
            interventions=self.interventions,
            years=self.settings.period,
            as_of=self.as_of,
            indicators=self.case_indicators,
        )

    @functools.cached_property
    def protected(self) -> ProtectedTable:
        """Whole-period counts of every case indicator, protected over the national linked set."""
        linked = linked_counts(self.counts, by_year=False)
        additive = dict.fromkeys(linked["variabel"].unique().tolist(), True)
        return cached_protect(
            linked,
            additive=additive,
            rules=self.rules,
            key=self._key("compare-period", self.rules),
        )

    @functools.cached_property
    def protected_series(self) -> ProtectedTable:
        """Yearly county and national counts, protected with the counties as lowest level."""
        return compare.protect_series_counts(
            linked_counts(self.counts, by_year=True, units="counties"), rules=self.rules
        )

    @functools.cached_property
    def survey_years(self) -> tuple[int, int]:
        years = pd.to_numeric(self.survey["ar"], errors="coerce").dropna()
        last = min(int(years.max()), self.settings.period[1]) if len(years) else 0
        return (int(years.min()) if len(years) else 0, last)

    @functools.cached_property
    def protected_survey(self) -> ProtectedTable:
        """Survey answers per municipality, county and nation (municipalities, not people)."""
        counts = survey_counts(
            self.survey, years=self.survey_years, indicators=self.survey_indicators
        )
        linked = linked_counts(counts, by_year=True)
        additive = dict.fromkeys(linked["variabel"].unique().tolist(), True)
        return cached_protect(
            linked,
            additive=additive,
            rules=SURVEY_RULES,
            attribute_rule=False,
            key=self._key("compare-survey", SURVEY_RULES),
        )

    @functools.cached_property
    def values(self) -> PublishedValues:
        return compare.published_values(self.protected, indicators=self.indicators)

    @functools.cached_property
    def series_values(self) -> PublishedValues:
        return compare.published_values(self.protected_series, indicators=self.indicators)

    @functools.cached_property
    def survey_values(self) -> PublishedValues:
        return compare.published_values(self.protected_survey, indicators=self.indicators)

    # -- comparisons ----------------------------------------------------------------------------
    @functools.cached_property
    def groups(self) -> SimilarGroups:
        """SKR's kommungrupp if ``data/reference/kommungrupper.csv`` exists, else data-driven."""
        user = compare.load_kommungrupper()
        if user is not None:
            return user
        feats = compare.municipality_features(self.registrations, years=self.settings.period)
        return compare.similar_municipalities(
            feats, source=f"uppföljningsregistreringar {self.settings.period_label}"
        )

    @functools.cached_property
    def stability(self) -> pd.DataFrame | None:
        """Year-to-year overlap of the data-driven groups (None for a user classification)."""
        if self.groups.method != "data":
            return None
        return compare.group_stability(
            self.registrations,
            years=self.settings.period,
            k=self.groups.k or compare.DEFAULT_K,
            weights=self.groups.weights,
        )

    @functools.cached_property
    def benchmark(self) -> compare.BenchmarkResult:
        return compare.benchmarks(self.values, groups=self.groups)

    @functools.cached_property
    def county_benchmark(self) -> compare.BenchmarkResult:
        return compare.benchmarks(self.values, units="lan")

    @functools.cached_property
    def quartile(self) -> compare.QuartileResult:
        return compare.quartiles(self.values)

    @functools.cached_property
    def funnel_results(self) -> dict[str, compare.FunnelResult]:
        return {i.id: compare.funnel(self.values, indicator=i.id) for i in self.case_indicators}

    @functools.cached_property
    def series(self) -> compare.TimeSeriesResult:
        return compare.time_series(self.series_values, period_values=self.values)

    @functools.cached_property
    def own_trends(self) -> pd.DataFrame:
        return compare.checked_trends(
            self.counts, units=[self.kommun], rules=self.rules, indicators=self.indicators
        )

    @functools.cached_property
    def case_survey(self) -> compare.CaseSurveyResult:
        return compare.case_vs_survey(self.values, self.survey_values, year=self.survey_years[1])

    @functools.cached_property
    def survey_table(self) -> compare.SurveyCountyTable:
        return compare.survey_county_table(self.survey_values)

    @functools.cached_property
    def spine(self) -> compare.SpineResult:
        return compare.spine(self.values, kommun=self.kommun, quartile_result=self.quartile)

    # -- suppression log --------------------------------------------------------------------------
    def _log_cells(
        self, table: ProtectedTable, *, name: str, units: Iterable[str], variables: Iterable[str]
    ) -> list[dict[str, Any]]:
        rules = table.rules
        return suppression_records(
            table, name=name, units=units, variables=variables, rules=rules
        )["cells"]

    def _block(self, html_text: str, cells: list[dict[str, Any]]) -> Block:
        return Block(
            html_text, data={SUPPRESSION_LOG_MIME: suppression_payload(cells, self.rules)}
        )

    def _shown_units(self) -> list[str]:
        if self.is_national:
            return [NATIONAL]
        return [self.kommun, self.county, NATIONAL]

    # -- blocks ---------------------------------------------------------------------------------
    def header(self) -> Block:
        """Who and what the report is about, and a caveat for synthetic data."""
        s = self.settings
        m = s.municipality
        where = "hela riket" if s.is_national else f"{m.name} ({m.county_name})"
        parts = [
            f'<p class="wb-meta"><strong>{esc(where)}</strong> · period {esc(s.period_label)} · '
            f"datauttag {esc(self.manifest.get('data_date', 'okänt'))}</p>"
        ]
        if self.manifest.get("synthetic"):
            parts.append(
                '<p class="wb-caveat"><strong>Syntetiska data.</strong> Rapporten bygger på '
                "påhittade demonstrationsdata som efterliknar nationell statistik. Siffrorna "
                "beskriver inte någon verklig kommun.</p>"
            )
        if self.groups.method == "data":
            parts.append(
                '<p class="wb-note">Liknande kommuner är valda utifrån data (storlek och '
                "ärendevolym), inte enligt SKR:s kommungruppsindelning. Se metodavsnittet.</p>"
            )
        meta = {"audience": s.audience, "kommun": s.kommun, "period": s.period_label}
        return Block("\n".join(parts), data={REPORT_META_MIME: meta})

    def overview(self) -> Block:
        """All indicators on one page: spine chart and overview table (Fingertips style)."""
        if self.is_national:
            return self._national_overview()
        from workbench.plots_compare import class_style, plot_spine, quartile_style

        sp = self.spine.data
        labels = {i.id: i.title_sv for i in self.case_indicators}
        name = unit_label(self.kommun)
        ax = plot_spine(sp, labels=labels, unit_label=name, county_label=unit_label(self.county))
        alt = f"Spindeldiagram för {name}, {self.settings.period_label}: " + "; ".join(
            f"{labels[r.indikator]} {_value(r.share, r.status)} "
            f"(riket {_pct(r.riket)}, {CLASS_SV[str(r.klass)].lower()})"
            for r in sp.itertuples()
        )
        fig = figure_html(
            ax.figure,
            alt=_alt(alt),
            caption=(
                "Varje rad är en indikator. Rikets värde är mittlinjen och bättre är alltid till "
                "höger. Grått band: kommunernas 10:e–90:e percentil; mörkare: mittersta hälften."
            ),
        )
        rows = []
        for r in sp.itertuples():
            rows.append(
                f'<tr><th scope="row">{esc(labels[r.indikator])}</th>'
                + _td(_value(r.share, r.status))
                + _td(_ci(r.ci_low, r.ci_high) if r.status == STATUS_OK else SUPPRESSED)
                + _td(format_int(r.denominator))
                + _td(_pct(r.lan))
                + _td(_pct(r.riket))
                + _styled(str(r.klass), class_style)
                + _styled(self._quartile_code(r.indikator), quartile_style)
                + "</tr>"
            )
        head = (
            "<tr>"
            + _th("Indikator")
            + _th(name, num=True)
            + _th(f"95{NBSP}% KI", num=True)
            + _th("Underlag", num=True)
            + _th(unit_label(self.county), num=True)
            + _th(NATIONAL_NAME, num=True)
            + _th("Jämfört med riket")
            + _th("Kvartil bland kommunerna")
            + "</tr>"
        )
        kinds = [
            ("label", 1),
            ("share", 1),
            ("interval", 1),
            ("count", 1),
            ("share", 2),
            ("label", 2),
        ]
        table = _table(
            f"Översikt {name} {self.settings.period_label}: ärendedata", kinds, head, rows
        )
        survey = self._survey_overview()
        cells = self._log_cells(
            self.protected,
            name="compare_values",
            units=self._shown_units(),
            variables=[i.id for i in self.case_indicators],
        )
        return self._block(f"{fig}\n{table}\n{survey}", cells)

    def _quartile_code(self, indicator: str) -> str:
        q = self.quartile.data
        r = q[(q[UNIT] == self.kommun) & (q["indikator"] == indicator)]
        return str(r["kvartil"].iloc[0]) if len(r) else "missing"

    def _survey_overview(self) -> str:
        from workbench.plots_compare import quartile_style

        year = self.survey_years[1]
        sv = self.survey_values.data
        sv = sv[sv["ar"] == year]
        rows = []
        for ind in self.survey_indicators:
            own = sv[(sv[UNIT] == self.kommun) & (sv["indikator"] == ind.id)]
            lan = sv[(sv[UNIT] == self.county) & (sv["indikator"] == ind.id)]
            nat = sv[(sv[UNIT] == NATIONAL) & (sv["indikator"] == ind.id)]
            code = self._answer_code(own)
            rows.append(
                f'<tr><th scope="row">{esc(ind.title_sv)}</th>'
                + _styled(code, quartile_style)
                + _td(_pct(lan["share"].iloc[0]) if len(lan) else SUPPRESSED)
                + _td(_pct(nat["share"].iloc[0]) if len(nat) else SUPPRESSED)
                + "</tr>"
            )
        head = (
            "<tr>"
            + _th("Enkätfråga")
            + _th(f"Svar {unit_label(self.kommun)}")
            + _th(f"Andel ja, {unit_label(self.county)}", num=True)
            + _th(f"Andel ja, {NATIONAL_NAME}", num=True)
            + "</tr>"
        )
        return _table(
            f"Kommunenkäten {year}: kommunens svar och andelen kommuner som svarat ja",
            [("label", 2), ("share", 2)],
            head,
            rows,
        )

    @staticmethod
    def _answer_code(rows: pd.DataFrame) -> str:
        if rows.empty or rows["status"].iloc[0] == STATUS_NO_DATA:
            return "not_answered"
        if rows["status"].iloc[0] != STATUS_OK:
            return "missing"
        return "yes" if float(rows["share"].iloc[0]) >= 0.5 else "no"

    def _national_overview(self) -> Block:
        v = self.values.data
        v = v[v["ar"].isna()]
        cb = self.benchmark.data
        cb = cb[cb["jamforelse"] == "riket"]
        rows = []
        for ind in self.case_indicators:
            nat = v[(v[UNIT] == NATIONAL) & (v["indikator"] == ind.id)].iloc[0]
            muni = v[(v["niva"] == LEVEL_KOMMUN) & (v["indikator"] == ind.id)]
            shown = muni[muni["status"] == STATUS_OK]["share"].astype("float64")
            p10, p90 = (
                (shown.quantile(0.10), shown.quantile(0.90)) if len(shown) else (np.nan, np.nan)
            )
            k = cb[cb["indikator"] == ind.id]["klass"].value_counts()
            better = "better" if ind.polarity != "neither" else "higher"
            worse = "worse" if ind.polarity != "neither" else "lower"
            rows.append(
                f'<tr><th scope="row">{esc(ind.title_sv)}</th>'
                + _td(_value(nat["share"], nat["status"]))
                + _td(_ci(nat["ci_low"], nat["ci_high"]))
                + _td(format_int(nat["denominator"]))
                + _td(f"{_pct(p10)}–{_pct(p90)}" if len(shown) else SUPPRESSED)
                + _td(format_int(int(k.get(better, 0)), missing="0"))
                + _td(format_int(int(k.get("similar", 0)), missing="0"))
                + _td(format_int(int(k.get(worse, 0)), missing="0"))
                + _td(format_int(int(k.get("too_small", 0)), missing="0"))
                + "</tr>"
            )
        head = (
            "<tr>"
            + _th("Indikator")
            + _th(NATIONAL_NAME, num=True)
            + _th(f"95{NBSP}% KI", num=True)
            + _th("Underlag", num=True)
            + _th("Kommunerna, 10:e–90:e percentil", num=True)
            + _th("Kommuner bättre än riket", num=True)
            + _th("Ingen säker skillnad", num=True)
            + _th("Sämre än riket", num=True)
            + _th("För litet underlag", num=True)
            + "</tr>"
        )
        kinds = [
            ("label", 1),
            ("share", 1),
            ("interval", 1),
            ("count", 1),
            ("interval", 1),
            ("measure", 4),
        ]
        table = _table(
            f"Översikt riket {self.settings.period_label}: ärendedata", kinds, head, rows
        )
        cells = self._log_cells(
            self.protected,
            name="compare_values",
            units=[NATIONAL],
            variables=[i.id for i in self.case_indicators],
        )
        note = (
            '<p class="wb-note">Antalet kommuner som är bättre eller sämre än riket avgörs '
            f"med kommunens 95{NBSP}%-konfidensintervall (se metodavsnittet).</p>"
        )
        return self._block(f"{table}\n{note}", cells)

    def benchmarks(self) -> Block:
        """The municipality against its county, the nation and similar municipalities."""
        from workbench.plots_compare import class_style

        if self.is_national:
            return self._county_benchmarks()
        b = self.benchmark.for_unit(self.kommun)
        name = unit_label(self.kommun)
        rows = []
        for ind in self.case_indicators:
            part = b[b["indikator"] == ind.id].set_index("jamforelse")
            own = part.iloc[0]
            cells = [
                _td(_value(own["share"], own["status"])),
                _td(_ci(own["ci_low"], own["ci_high"])),
            ]
            for bench in ("lan", "riket", "liknande"):
                if bench not in part.index:
                    cells += [_td(SUPPRESSED), '<td class="wb-class"></td>']
                    continue
                r = part.loc[bench]
                cells += [_td(_pct(r["jamforelse_andel"])), _styled(str(r["klass"]), class_style)]
            rows.append(f'<tr><th scope="row">{esc(ind.title_sv)}</th>{"".join(cells)}</tr>')
        head = (
            "<tr>"
            + _th("Indikator")
            + _th(name, num=True)
            + _th(f"95{NBSP}% KI", num=True)
            + _th(unit_label(self.county), num=True)
            + _th("Jämfört med länet")
            + _th(NATIONAL_NAME, num=True)
            + _th("Jämfört med riket")
            + _th("Liknande kommuner", num=True)
            + _th("Jämfört med liknande")
            + "</tr>"
        )
        kinds = [("label", 1), ("share", 1), ("interval", 1)] + [("share", 1), ("label", 1)] * 3
        table = _table(
            f"{name} jämfört med länet, riket och liknande kommuner, {self.settings.period_label}",
            kinds,
            head,
            rows,
        )
        members = self.groups.members_of(self.kommun)
        note = (
            '<p class="wb-note">Bättre eller sämre betyder att jämförelsevärdet ligger utanför '
            f"kommunens 95{NBSP}%-konfidensintervall (Wilsonintervall). Polariteten avgör vad som "
            "är bättre: för sammanbrott och återaktualisering är lägre bättre. Länets och rikets "
            "värden omfattar kommunen själv. Liknande kommuner: "
            f"{esc(', '.join(unit_label(m) for m in members))}; deras värde räknas bara på de "
            "kommuner vars värden redovisas.</p>"
        )
        cells = self._log_cells(
            self.protected,
            name="compare_benchmarks",
            units=[self.kommun, *members, self.county, NATIONAL],
            variables=[i.id for i in self.case_indicators],
        )
        return self._block(f"{table}\n{note}", cells)

    def _county_benchmarks(self) -> Block:
        from workbench.plots_compare import class_style

        b = self.county_benchmark.data
        counties = sorted(set(list_municipalities()["county_code"]))
        rows = []
        for c in counties:
            cells = []
            for ind in self.case_indicators:
                r = b[(b[UNIT] == c) & (b["indikator"] == ind.id)].iloc[0]
                cells += [
                    _td(_value(r["share"], r["status"])),
                    _styled(str(r["klass"]), class_style),
                ]
            rows.append(f'<tr><th scope="row">{esc(unit_label(c))}</th>{"".join(cells)}</tr>')
        head = (
            "<tr><td></td>"
            + "".join(
                f'<th scope="colgroup" colspan="2">{esc(i.title_sv)}</th>'
                for i in self.case_indicators
            )
            + "</tr><tr>"
            + _th("Län")
            + (_th("Andel", num=True) + _th("Jämfört med riket")) * len(self.case_indicators)
            + "</tr>"
        )
        kinds = [("label", 1)] + [("share", 1), ("label", 1)] * len(self.case_indicators)
        table = _table(f"Länen jämfört med riket, {self.settings.period_label}", kinds, head, rows)
        cells = self._log_cells(
            self.protected,
            name="compare_benchmarks",
            units=[*counties, NATIONAL],
            variables=[i.id for i in self.case_indicators],
        )
        return self._block(table, cells)

    def quartiles(self) -> Block:
        """Quartile groups of the county's municipalities (Öppna jämförelser colouring)."""
        from workbench.plots_compare import quartile_style

        q = self.quartile.data
        if self.is_national:
            lim = q.drop_duplicates("indikator").set_index("indikator")
            rows = [
                f'<tr><th scope="row">{esc(i.title_sv)}</th>'
                + _td(_pct(lim.loc[i.id, "q25"]))
                + _td(_pct(lim.loc[i.id, "q75"]))
                + f"<td>{esc(i.polarity_sv)}</td></tr>"
                for i in self.case_indicators
            ]
            head = (
                "<tr>"
                + _th("Indikator")
                + _th("Första kvartilen", num=True)
                + _th("Tredje kvartilen", num=True)
                + _th("Polaritet")
                + "</tr>"
            )
            table = _table(
                f"Kvartilgränser bland kommunerna, {self.settings.period_label}",
                [("label", 1), ("share", 2), ("label", 1)],
                head,
                rows,
            )
            return self._block(table, [])
        munis = list(list_municipalities(self.county)["municipality_code"])
        rows = []
        for m in munis:
            cells = []
            for ind in self.case_indicators:
                r = q[(q[UNIT] == m) & (q["indikator"] == ind.id)].iloc[0]
                cells.append(_td(_value(r["share"], r["status"])))
                cells.append(_styled(str(r["kvartil"]), quartile_style))
            label = unit_label(m)
            label_html = f"<strong>{esc(label)}</strong>" if m == self.kommun else esc(label)
            rows.append(f'<tr><th scope="row">{label_html}</th>{"".join(cells)}</tr>')
        head = (
            "<tr><td></td>"
            + "".join(
                f'<th scope="colgroup" colspan="2">{esc(i.title_sv)}</th>'
                for i in self.case_indicators
            )
            + "</tr><tr>"
            + _th("Kommun")
            + (_th("Andel", num=True) + _th("Kvartil")) * len(self.case_indicators)
            + "</tr>"
        )
        kinds = [("label", 1)] + [("share", 1), ("label", 1)] * len(self.case_indicators)
        table = _table(
            f"Kommunerna i {unit_label(self.county)}: kvartil bland landets kommuner, "
            f"{self.settings.period_label}",
            kinds,
            head,
            rows,
        )
        note = (
            '<p class="wb-note">Kvartilerna räknas bland alla kommuner i landet vars värde '
            "redovisas. Färgen visar relativ position, inte ett mål: blått = bästa fjärdedelen, "
            "ljust = mittersta hälften, orange = sämsta fjärdedelen, grått = uppgift saknas. "
            "Varje cell har också en text.</p>"
        )
        cells = self._log_cells(
            self.protected,
            name="compare_quartiles",
            units=munis,
            variables=[i.id for i in self.case_indicators],
        )
        return self._block(f'<div style="overflow-x:auto">{table}</div>\n{note}', cells)

    def funnels(self) -> Block:
        """A funnel plot per case indicator with limits around the national value."""
        from workbench.plots_compare import plot_funnel

        parts = []
        for ind in self.case_indicators:
            f = self.funnel_results[ind.id]
            pts = f.points
            hl = None if self.is_national else self.kommun
            ax = plot_funnel(
                pts,
                limits=f.limits,
                target=f.target,
                highlight=hl,
                highlight_label=unit_label(self.kommun) if hl else "",
                xlabel=f"Underlag (antal {ind.counted_sv}, logaritmisk skala)",
            )
            outside = pts[pts["position"].isin(["above_998", "below_998"])]
            counts = pts["position"].value_counts()
            own = pts[pts[UNIT] == self.kommun]
            own_text = ""
            if hl is not None:
                own_text = (
                    f"{unit_label(self.kommun)} {_pct(own['share'].iloc[0])} "
                    f"(underlag {format_int(own['denominator'].iloc[0])}): "
                    f"{own['position_sv'].iloc[0].lower()}. "
                    if len(own)
                    else f"{unit_label(self.kommun)}: värdet redovisas inte. "
                )
            alt = (
                f"Trattdiagram, {ind.title_sv.lower()}: riket {_pct(f.target)}; "
                f"{format_int(len(pts))} kommuner med redovisat värde, "
                f"{format_int(int(counts.get('inside', 0)), missing='0')} inom gränserna, "
                f"{format_int(len(outside), missing='0')} utanför 99,8 %-gränserna. {own_text}"
            )
            fig = figure_html(
                ax.figure,
                alt=_alt(alt),
                caption=f"{ind.title_sv}: {f.method_sv}.",
            )
            show = pts[
                pts["position"].isin(["above_998", "below_998"]) | (pts[UNIT] == self.kommun)
            ]
            rows = [
                f'<tr><th scope="row">{esc(unit_label(r.enhet))}</th>'
                + _td(_pct(r.share))
                + _td(format_int(r.denominator))
                + f"<td>{esc(r.position_sv)}</td></tr>"
                for r in show.itertuples()
            ]
            head = (
                "<tr>"
                + _th("Kommun")
                + _th("Andel", num=True)
                + _th("Underlag", num=True)
                + _th("Läge")
                + "</tr>"
            )
            table = _table(
                f"{ind.title_sv}: kommuner utanför 99,8{NBSP}%-gränserna"
                + ("" if self.is_national else " och kommunen själv"),
                [("label", 1), ("share", 1), ("count", 1), ("label", 1)],
                head,
                rows,
            )
            disp = f.dispersion
            od = (
                f"Kommunernas värden varierar mer än slumpen förklarar (överspridning, φ = "
                f"{format_number(disp.phi, 2)}); gränserna är därför vidgade."
                if f.adjustment != "none"
                else "Ingen överspridning utöver slumpen; gränserna är exakta binomialgränser."
            )
            parts.append(
                f'<h3>{esc(ind.title_sv)}</h3>\n{fig}\n<p class="wb-note">{esc(od)}</p>\n'
                f"<details><summary>Tabell: {esc(ind.title_sv)}</summary>\n{table}\n</details>"
            )
        intro = (
            '<p class="wb-note">I ett trattdiagram visas varje kommuns andel mot sitt underlag. '
            f"Linjerna är kontrollgränser på 95{NBSP}% (streckad) och 99,8{NBSP}% (heldragen) "
            "kring rikets värde: en liten kommun måste avvika mer för att avvikelsen inte ska "
            "kunna bero på slumpen. Trianglar uppåt (blå) är bättre och nedåt (orange) sämre än "
            f"95{NBSP}%-gränserna.</p>"
        )
        cells = self._log_cells(
            self.protected,
            name="compare_funnels",
            units=[*list_municipalities()["municipality_code"], NATIONAL],
            variables=[i.id for i in self.case_indicators],
        )
        return self._block(intro + "\n".join(parts), cells)

    def time_series(self) -> Block:
        """Yearly county and national values, and the trend of each indicator."""
        from workbench.plots_compare import plot_series

        ts = self.series
        parts = []
        own_trends = None if self.is_national else self.own_trends.set_index("indikator")
        v = self.values.data
        for ind in self.case_indicators:
            units = [u for u in ts.published.get(ind.id, ()) if u in (self.county, NATIONAL)]
            data = ts.values[(ts.values["indikator"] == ind.id) & ts.values[UNIT].isin(units)]
            band = None
            own = v[(v[UNIT] == self.kommun) & (v["indikator"] == ind.id) & v["ar"].isna()]
            if not self.is_national and len(own) and own["status"].iloc[0] == STATUS_OK:
                r = own.iloc[0]
                band = (float(r["share"]), float(r["ci_low"]), float(r["ci_high"]))
            labels = {u: unit_label(u) for u in units}
            ax = plot_series(
                data.assign(share=data["share"].astype("float64")),
                units=units,
                labels=labels,
                band=band,
                band_label=f"{unit_label(self.kommun)} {self.settings.period_label} (hela perioden)",
            )
            yearly = "; ".join(
                f"{labels[u]}: "
                + ", ".join(
                    f"{int(r.ar)} {_pct(r.share) if r.status == STATUS_OK else SUPPRESSED}"
                    for r in data[data[UNIT] == u].itertuples()
                )
                for u in units
            )
            alt = f"Linjediagram, {ind.title_sv.lower()} per år. {yearly or 'Inga årsvärden redovisas'}."
            if band is not None:
                alt += (
                    f" {unit_label(self.kommun)} hela perioden {_pct(band[0])} "
                    f"({_ci(band[1], band[2])})."
                )
            fig = figure_html(ax.figure, alt=_alt(alt), caption=f"{ind.title_sv} per år.")
            trend_units = [u for u in (self.county, NATIONAL) if u in units]
            tr = ts.trends.set_index([UNIT, "indikator"])
            texts = [
                (unit_label(u), str(tr.loc[(u, ind.id), "text_sv"]))
                for u in (self.county, NATIONAL)
                if (u, ind.id) in tr.index and (u in trend_units or u == NATIONAL)
            ]
            if own_trends is not None and ind.id in own_trends.index:
                texts.insert(0, (unit_label(self.kommun), str(own_trends.loc[ind.id, "text_sv"])))
            trend_rows = "".join(
                f'<tr><th scope="row">{esc(u)}</th><td>{esc(t)}</td></tr>' for u, t in texts
            )
            trend_table = _table(
                f"Trend, {ind.title_sv.lower()}",
                [("label", 2)],
                "<tr>" + _th("Område") + _th("Förändring över åren") + "</tr>",
                [trend_rows],
            )
            years_rows = []
            for u in units:
                d = data[data[UNIT] == u]
                years_rows.append(
                    f'<tr><th scope="row">{esc(labels[u])}</th>'
                    + "".join(
                        _td(_pct(r.share) if r.status == STATUS_OK else SUPPRESSED)
                        for r in d.itertuples()
                    )
                    + "</tr>"
                )
            years = [int(y) for y in data["ar"].dropna().unique()]
            year_table = (
                _table(
                    f"{ind.title_sv} per år",
                    [("label", 1), ("share", len(years))],
                    "<tr>"
                    + _th("Område")
                    + "".join(_th(str(y), num=True) for y in years)
                    + "</tr>",
                    years_rows,
                )
                if years
                else ""
            )
            parts.append(
                f"<h3>{esc(ind.title_sv)}</h3>\n{fig}\n{trend_table}\n"
                f"<details><summary>Tabell: {esc(ind.title_sv)} per år</summary>\n{year_table}\n</details>"
            )
        intro = (
            '<p class="wb-note">Kommunens värden per år redovisas inte: åren summerar till '
            "perioden, så ett dolt år skulle kunna räknas fram ur periodens värde. Kommunen visas "
            "därför med sitt värde för hela perioden, och dess utveckling beskrivs med ett "
            "trendtest (Cochran–Armitage) när varje år har tillräckligt underlag. Länets årsvärden "
            "visas när alla län kan redovisas för indikatorn.</p>"
        )
        cells = self._log_cells(
            self.protected_series,
            name="compare_series",
            units=[self.county, NATIONAL] if not self.is_national else [NATIONAL],
            variables=sorted(set(self.protected_series.data["variabel"])),
        )
        return self._block(intro + "\n".join(parts), cells)

    def survey_tables(self) -> Block:
        """Share of municipalities answering yes per county and nation (the survey)."""
        t = self.survey_table.data
        y0, y1 = self.survey_years
        if self.is_national:
            counties = sorted(set(list_municipalities()["county_code"]))
            last = t[t["ar"] == y1]
            rows = []
            for c in [*counties, NATIONAL]:
                cells = []
                for ind in self.survey_indicators:
                    r = last[(last[UNIT] == c) & (last["indikator"] == ind.id)].iloc[0]
                    cells.append(_td(_value(r["share"], r["status"])))
                r0 = last[last[UNIT] == c].iloc[0]
                rows.append(
                    f'<tr><th scope="row">{esc(unit_label(c))}</th>'
                    + _td(
                        f"{format_int(r0['denominator'], missing='0')} av {format_int(r0['kommuner'])}"
                    )
                    + "".join(cells)
                    + "</tr>"
                )
            head = (
                "<tr>"
                + _th("Län")
                + _th("Svarande kommuner", num=True)
                + "".join(_th(i.title_sv, num=True) for i in self.survey_indicators)
                + "</tr>"
            )
            table = _table(
                f"Andel kommuner som svarat ja, per län, {y1}",
                [("label", 1), ("measure", 1), ("share", len(self.survey_indicators))],
                head,
                rows,
            )
            detail = self._survey_years_table([NATIONAL], (y0, y1))
        else:
            table = self._survey_years_table([self.county, NATIONAL], (max(y0, y1 - 5), y1))
            detail = self._survey_years_table([self.county, NATIONAL], (y0, y1))
        note = (
            '<p class="wb-note">Andelen räknas bland de kommuner som besvarat enkäten det året. '
            "Enkätsvaren gäller kommuner, inte personer, och redovisas utan röjandekontroll "
            "(Öppna jämförelser publicerar varje kommuns svar).</p>"
        )
        return self._block(
            f"{table}\n{note}\n<details><summary>Tabell: alla år</summary>\n{detail}\n</details>",
            [],
        )

    def _survey_years_table(self, units: Sequence[str], years: tuple[int, int]) -> str:
        t = self.survey_table.data
        t = t[t["ar"].between(years[0], years[1])]
        ys = list(range(years[0], years[1] + 1))
        rows = []
        for ind in self.survey_indicators:
            for u in units:
                d = t[(t[UNIT] == u) & (t["indikator"] == ind.id)].set_index("ar")
                cells = "".join(
                    _td(
                        _value(d.loc[y, "share"], d.loc[y, "status"])
                        if y in d.index
                        else SUPPRESSED
                    )
                    for y in ys
                )
                rows.append(
                    f'<tr><th scope="row">{esc(ind.title_sv)}, {esc(unit_label(u))}</th>{cells}</tr>'
                )
        head = (
            "<tr>" + _th("Fråga och område") + "".join(_th(str(y), num=True) for y in ys) + "</tr>"
        )
        return _table(
            f"Andel kommuner som svarat ja, {years[0]}–{years[1]}",
            [("label", 1), ("share", len(ys))],
            head,
            rows,
        )

    def case_vs_survey(self) -> Block:
        """Case data beside the municipality's own survey answer; mismatches are flagged."""
        d = self.case_survey.data
        year = self.survey_years[1]
        links = self.case_survey.links
        if self.is_national:
            rows = []
            for link in links:
                part = d[(d["enkat"] == link.survey) & (d["arende"] == link.case)]
                counts = part["flagga"].value_counts()
                rows.append(
                    f'<tr><th scope="row">{esc(self.indicators.get(link.case).title_sv)} / '
                    f"{esc(self.indicators.get(link.survey).title_sv)}</th>"
                    + "".join(_td(format_int(int(counts.get(k, 0)), missing="0")) for k in FLAG_SV)
                    + "</tr>"
                )
            head = (
                "<tr>"
                + _th("Ärendedata / enkätfråga")
                + "".join(_th(v, num=True) for v in FLAG_SV.values())
                + "</tr>"
            )
            table = _table(
                f"Antal kommuner: ärendedata {self.settings.period_label} mot enkätsvaret {year}",
                [("label", 1), ("measure", len(FLAG_SV))],
                head,
                rows,
            )
            cells: list[dict[str, Any]] = []
        else:
            rows = []
            for link in links:
                r = d[
                    (d[UNIT] == self.kommun)
                    & (d["enkat"] == link.survey)
                    & (d["arende"] == link.case)
                ]
                if r.empty:
                    continue
                r = r.iloc[0]
                rows.append(
                    f'<tr><th scope="row">{esc(self.indicators.get(link.survey).title_sv)}</th>'
                    + f"<td>{esc(CLASS_SV[str(r['svar'])])}</td>"
                    + f"<td>{esc(self.indicators.get(link.case).title_sv)}</td>"
                    + _td(_value(r["share"], r["status"]))
                    + _td(_ci(r["ci_low"], r["ci_high"]))
                    + _td(_pct(r["expected_share"]))
                    + f"<td><strong>{esc(r['flagga_sv'])}</strong></td></tr>"
                )
            head = (
                "<tr>"
                + _th(f"Enkätfråga ({year})")
                + _th("Svar")
                + _th(f"Ärendedata ({self.settings.period_label})")
                + _th("Andel", num=True)
                + _th(f"95{NBSP}% KI", num=True)
                + _th("Förväntat vid ja", num=True)
                + _th("Bedömning")
                + "</tr>"
            )
            table = _table(
                f"{unit_label(self.kommun)}: ärendedata och kommunens enkätsvar",
                [("label", 3), ("share", 1), ("interval", 1), ("share", 1), ("label", 1)],
                head,
                rows,
            )
            cells = self._log_cells(
                self.protected,
                name="compare_case_survey",
                units=[self.kommun],
                variables=[link.case for link in links],
            )
        descr = " ".join(link.description_sv for link in links)
        note = (
            f'<p class="wb-note">{esc(descr)} En avvikelse betyder att hela kommunens '
            f"95{NBSP}%-konfidensintervall ligger på fel sida om den förväntade andelen. Det "
            "tyder på att enkätfrågan och ärendedata inte mäter samma sak (ett definitionsproblem), "
            "inte på att kommunen gör fel.</p>"
        )
        return self._block(f"{table}\n{note}", cells)

    def similar(self) -> Block:
        """The group of similar municipalities, how it is chosen and how stable it is."""
        g = self.groups
        parts = [f"<p>{esc(g.description_sv())}</p>"]
        if not self.is_national:
            m = g.members[g.members["kommun"] == self.kommun]
            rows = [
                f'<tr><td class="num">{esc(format_int(r.rang) if not fmt.is_missing(r.rang) else "")}</td>'
                f'<th scope="row">{esc(unit_label(r.medlem))}</th>'
                f"<td>{esc(county_name(r.medlem[:2]))}</td></tr>"
                for r in m.itertuples()
            ]
            parts.append(
                _table(
                    f"Liknande kommuner för {unit_label(self.kommun)}",
                    [("label", 3)],
                    "<tr>" + _th("Nr") + _th("Kommun") + _th("Län") + "</tr>",
                    rows,
                )
            )
        st = self.stability
        if st is not None:
            national = st.groupby("ar")["overlap"].median()
            own = (
                st[st["kommun"] == self.kommun].set_index("ar")["overlap"]
                if not self.is_national
                else None
            )
            years = [int(y) for y in national.index if not np.isnan(national.loc[y])]
            head = "<tr>" + _th("") + "".join(_th(str(y), num=True) for y in years) + "</tr>"
            rows = []
            if own is not None:
                rows.append(
                    f'<tr><th scope="row">{esc(unit_label(self.kommun))}</th>'
                    + "".join(_td(_pct(own.get(y))) for y in years)
                    + "</tr>"
                )
            rows.append(
                '<tr><th scope="row">Alla kommuner (median)</th>'
                + "".join(_td(_pct(national.loc[y])) for y in years)
                + "</tr>"
            )
            parts.append(
                _table(
                    "Gruppens stabilitet: andel av förra årets liknande kommuner som finns kvar "
                    "när gruppen väljs på ett enda års data",
                    [("label", 1), ("share", len(years))],
                    head,
                    rows,
                )
            )
            parts.append(
                '<p class="wb-note">Låg stabilitet betyder att valet av liknande kommuner är '
                "känsligt för slumpmässiga variationer i ett enskilt års volymer. Rapporten "
                "använder därför hela periodens data för att välja gruppen.</p>"
            )
        return Block("\n".join(parts))

    def methods(self) -> Block:
        """Definitions, statistical methods and disclosure rules (appendix)."""
        s = self.settings
        from workbench.indicators import POLARITY_SV

        rows = []
        for ind in self.indicators:
            num, den = ind.definition_sv()
            rows.append(
                f'<tr><th scope="row">{esc(ind.title_sv)}</th><td>{esc(KIND_SV[ind.kind])}</td>'
                f"<td>{esc(ind.description_sv)}</td><td>{esc(POLARITY_SV[ind.polarity])}</td>"
                f'<td class="num">{esc(ind.min_denominator)}</td><td>{esc(ind.source_sv)}</td></tr>'
            )
        defs = _table(
            f"Indikatorer (definitioner version {self.indicators.version})",
            [("label", 4), ("measure", 1), ("label", 1)],
            "<tr>"
            + _th("Indikator")
            + _th("Källa")
            + _th("Definition")
            + _th("Polaritet")
            + _th("Minsta underlag", num=True)
            + _th("Ursprung")
            + "</tr>",
            rows,
        )
        small = f"1 och {self.rules.min_count - 1}"
        text = (
            "<h3>Värden och intervall</h3>"
            "<p>Ärendedata redovisas för hela perioden "
            f"{esc(s.period_label)}. Andelar har 95{NBSP}% konfidensintervall enligt Wilson. "
            "En kommun jämförs med länet, riket och liknande kommuner enligt samma regel som "
            "Public Health Englands Fingertips: skillnaden är säker när jämförelsevärdet ligger "
            "utanför kommunens intervall. Indikatorns polaritet avgör om en högre andel är bättre "
            "eller sämre. Värden med för litet underlag jämförs inte.</p>"
            "<h3>Kvartiler</h3><p>Kommunerna delas in i bästa fjärdedelen, mittersta hälften och "
            "sämsta fjärdedelen utifrån första och tredje kvartilen av alla kommuners redovisade "
            "värden, som i Öppna jämförelser och Kolada. Färgen visar relativ position, inte ett "
            "mål.</p>"
            "<h3>Trattdiagram</h3><p>Kontrollgränserna på 95 och 99,8 procent kring rikets värde "
            "är exakta binomialgränser (Spiegelhalter 2005). När kommunernas värden varierar mer "
            "än slumpen förklarar (överspridning, testad med kommunernas z-värden, winsoriserade "
            "vid 10 procent) vidgas gränserna med en additiv slumpeffekt.</p>"
            "<h3>Liknande kommuner</h3>"
            f"<p>{esc(self.groups.description_sv())}</p>"
            "<h3>Kommunenkäten</h3><p>Andelen kommuner som svarat ja räknas bland de kommuner "
            "som besvarat enkäten. Svaren gäller kommuner, inte personer, och redovisas utan "
            "röjandekontroll.</p>"
            "<h3>Röjandekontroll</h3>"
            f"<p>Antal mellan {esc(small)} redovisas inte ({SUPPRESSED}). Andelar visas bara "
            f"när underlaget är minst {esc(self.rules.min_denominator)}. Om alla i en kommun "
            "har samma utfall döljs värdet. Fler värden döljs vid behov så att inget dolt tal "
            "kan räknas fram ur kommunernas, länets och rikets värden; mönstret beräknas en gång "
            "för hela landet och kontrolleras med linjärprogrammering. Kommunens värden per år "
            "redovisas inte, eftersom åren summerar till perioden.</p>"
            f"<p>Teckenförklaring: {SUPPRESSED} = uppgiften redovisas inte (för få eller för "
            f"osäker); {fmt.NOT_APPLICABLE} = inga fall.</p>"
            f"<p>Data: {esc(self.manifest.get('source', ''))}. workbench {esc(__version__)}. "
            f"Parametrar: {esc(', '.join(s.sources))}.</p>"
        )
        return Block(defs + text)

    # -- Excel ----------------------------------------------------------------------------------
    def excel_tables(self) -> dict[str, Any]:
        """The tables of the Excel appendix, by sheet title (all built from protected tables)."""
        from workbench.excel import Subset

        tables: dict[str, Any] = {}
        if self.is_national:
            tables["Kommunerna jämfört med riket"] = self.benchmark
            tables["Länen jämfört med riket"] = self.county_benchmark
        else:
            tables[f"{unit_label(self.kommun)} jämfört med länet, riket och liknande"] = Subset(
                self.benchmark, units=(self.kommun,)
            )
            tables[f"Kvartiler i {unit_label(self.county)}"] = Subset(
                self.quartile, units=tuple(list_municipalities(self.county)["municipality_code"])
            )
        tables["Kommunenkäten per län och år"] = self.survey_table
        tables["Ärendedata mot enkätsvar"] = Subset(
            self.case_survey,
            units=None if self.is_national else (self.kommun,),
        )
        tables["Indikatorer per år, län och riket"] = self.series
        return tables

    def excel_appendix(self) -> Block:
        """Write the Excel appendix of this report and say where it is."""
        from workbench.excel import write_excel_appendix

        path = write_excel_appendix(self.settings, self.excel_tables())
        where = (
            f'<a href="{esc(path.name)}">{esc(path.name)}</a>'
            if self.settings.audience == "public"
            else f"<code>{esc(path.name)}</code> (intern, i mappen runs/)"
        )
        return Block(
            f"<p>Alla jämförelsetabeller finns också som Excelfil: {where}. Filen har en "
            "innehållsförteckning, en beskrivning av statistiken, definitioner och en flik per "
            "tabell; dolda värden visas som ..</p>"
        )
