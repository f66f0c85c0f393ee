"""What the placement-provider report (``notebooks/reports/50-placement-providers.ipynb``) shows.

Same contract as :mod:`workbench.views`: every number comes from a protected table (through
:func:`workbench.providers.provider_summary`), every value from data or parameters — provider
names above all — is HTML-escaped, every chart has alt text and a data table, and every block
carries the suppression-log slice of what it shows. Providers with too few ratings are listed,
never drawn and never given a value. Providers are ordered by name, never by an estimate.

Which providers: ``utforare`` (one provider), else those of ``utforartyp`` (or all types) that
are located in the municipality's county (``lan`` of the provider), or every provider in the
national report. The measures are always computed over all ratings and placements with the
provider in the data (every placing municipality): a provider's quality is not a property of
one municipality, and per-municipality counts would mostly be suppressed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench import __version__, fmt
from workbench import providers as pv
from workbench.dataset import read_manifest, read_table, write_table
from workbench.disclosure import DisclosureRules, ProtectedTable
from workbench.fmt import NBSP, SUPPRESSED, format_int, format_number, format_percent
from workbench.municipalities import NATIONAL, county_name
from workbench.params import Settings, check_provider_parameters
from workbench.views import (
    REPORT_META_MIME,
    SUPPRESSION_LOG_MIME,
    Block,
    colgroup,
    esc,
    figure_html,
    suppression_payload,
    suppression_records,
)

__all__ = ["NOTEBOOK", "ProviderReport"]

NOTEBOOK = "50-placement-providers"
REGI_SV = {"offentlig": "Offentlig", "enskild": "Enskild"}
SHARE_MEASURES = ("sammanbrott", "planerat", "maluppfyllelse")
RATING_MEASURES = (*pv.RATING_QUESTIONS, "placera_igen")
RULE_MIN_RATINGS = "min_ratings"


def _th(text: str, *, num: bool = False, scope: str = "col") -> str:
    cls = ' class="num"' if num else ""
    return f'<th scope="{scope}"{cls}>{esc(text)}</th>'


def _td(text: str, *, num: bool = True, span: int = 1) -> str:
    cls = ' class="num"' if num else ""
    colspan = f' colspan="{span}"' if span > 1 else ""
    return f"<td{cls}{colspan}>{esc(text)}</td>"


def _table(caption: str, kinds: Sequence[tuple[str, int]], head: str, body: Iterable[str]) -> str:
    return (
        f'<table class="wb-table"><caption>{esc(caption)}</caption>{colgroup(*kinds)}'
        f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"
    )


def _value_text(row: Any, kind: str) -> str:
    if row is None:
        return SUPPRESSED
    if row["status"] != pv.STATUS_OK:
        return pv.STATUS_SV[row["status"]]
    if kind == "share":
        return format_percent(row["value"])
    return format_number(row["value"], 1)


def _ci_text(row: Any, kind: str) -> str:
    if row is None or row["status"] != pv.STATUS_OK:
        return ""
    lo, hi = row["ci_low"], row["ci_high"]
    if fmt.is_missing(lo) or fmt.is_missing(hi):
        return SUPPRESSED
    if kind == "share":
        return f"{format_number(100 * float(lo), 0)}–{format_percent(float(hi))}"
    return f"{format_number(lo, 1)}–{format_number(hi, 1)}"


def _diff_text(row: Any, kind: str) -> str:
    if row is None or fmt.is_missing(row["diff"]):
        return ""
    if kind == "share":
        pp = lambda v: format_number(100 * float(v), 0)  # noqa: E731 - local formatter
        return (
            f"{'+' if row['diff'] > 0 else ''}{pp(row['diff'])} ({pp(row['diff_low'])} till "
            f"{pp(row['diff_high'])}) procentenheter"
        )
    return (
        f"{'+' if row['diff'] > 0 else ''}{format_number(row['diff'], 2)} "
        f"({format_number(row['diff_low'], 2)} till {format_number(row['diff_high'], 2)})"
    )


def _plain(text: str) -> str:
    """Text for matplotlib: no-break spaces as spaces, ``$`` escaped (no mathtext from data)."""
    return text.replace(NBSP, " ").replace("$", r"\$")


@dataclass(frozen=True, eq=False)
class ProviderReport:
    """Everything the provider report shows for one selection (see the module docstring)."""

    settings: Settings
    providers: pd.DataFrame = field(repr=False)
    placements: pd.DataFrame = field(repr=False)
    ratings: pd.DataFrame = field(repr=False)
    manifest: dict[str, Any] = field(repr=False)
    rules: DisclosureRules
    utforare: str = ""
    utforartyp: str = ""
    min_ratings: int = 5

    @classmethod
    def load(
        cls, settings: Settings, *, utforare: str = "", utforartyp: str = ""
    ) -> ProviderReport:
        """Read the provider tables and validate the selection against them.

        Raises
        ------
        workbench.params.ParameterError
            On a malformed or unknown provider or type (the message names
            ``workbench provider-report --help``).
        """
        utforare, utforartyp = check_provider_parameters(utforare, utforartyp)
        data_dir = settings.data_dir
        providers = read_table(data_dir, "providers")
        pv.check_selection(providers, utforare=utforare, utforartyp=utforartyp)
        return cls(
            settings=settings,
            providers=providers,
            placements=read_table(data_dir, "placements"),
            ratings=read_table(data_dir, "provider_ratings"),
            manifest=dict(read_manifest(data_dir).content),
            rules=DisclosureRules.from_mapping(settings.disclosure),
            utforare=utforare,
            utforartyp=utforartyp,
            min_ratings=int((settings.providers or {}).get("min_ratings", 5)),
        )

    # -- selection ---------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return self.providers.empty

    @functools.cached_property
    def names(self) -> dict[str, str]:
        return dict(
            zip(
                self.providers["utforare_id"].astype(str),
                self.providers["utforare_namn"].astype(str),
                strict=True,
            )
        )

    @functools.cached_property
    def selected(self) -> list[str]:
        """Provider ids the report shows, ordered by name."""
        p = self.providers[self.providers["utforartyp"].isin(list(pv.PROVIDER_TYPES))]
        if self.utforare:
            return [self.utforare]
        if self.utforartyp:
            p = p[p["utforartyp"] == self.utforartyp]
        if not self.settings.is_national:
            p = p[p["lan"].astype(str) == self.settings.municipality.county_code]
        return pv.units_of(self.providers, p["utforare_id"])

    @functools.cached_property
    def types(self) -> list[str]:
        """Provider types shown: the chosen one, else those of the selected providers."""
        if self.utforartyp:
            return [self.utforartyp]
        of = self.providers.set_index("utforare_id")["utforartyp"]
        present = {str(of.loc[u]) for u in self.selected}
        return [t for t in pv.PROVIDER_TYPES if t in present] or list(pv.PROVIDER_TYPES)

    def _of_type(self, t: str) -> list[str]:
        of = self.providers.set_index("utforare_id")["utforartyp"]
        return [u for u in self.selected if str(of.loc[u]) == t]

    # -- protected tables (computed once per batch, cached) ------------------------------------
    def _cached(self, kind: str, counts: Any, *, attribute: bool) -> ProtectedTable:
        from workbench.cache import cache_dir, cache_key, key_digest

        hier = pv.provider_hierarchy(self.providers)
        if not self.manifest.get("tables"):  # frames not read from a dataset: nothing to key on
            return pv.protect_provider_counts(
                counts(), hierarchy=hier, rules=self.rules, attribute_rule=attribute
            )
        key = cache_key(
            kind,
            manifest=self.manifest,
            period=self.settings.period,
            rules=self.settings.disclosure,
            attribute=attribute,
        )
        base = cache_dir() / f"protected-{kind}-{key_digest(key)}"
        data_path, log_path = base.with_suffix(".data.parquet"), base.with_suffix(".log.parquet")
        if data_path.is_file() and log_path.is_file():
            data = pd.read_parquet(data_path)
            return ProtectedTable(
                data=data,
                rules=self.rules,
                log=pd.read_parquet(log_path),
                keys=(pv.UNIT, "variabel", "kod"),
                hierarchy=hier,
                additive=dict.fromkeys(data["variabel"].unique().tolist(), True),
            )
        table = pv.protect_provider_counts(
            counts(), hierarchy=hier, rules=self.rules, attribute_rule=attribute
        )
        write_table(table.data, data_path)
        write_table(table.log, log_path)
        return table

    @functools.cached_property
    def protected_placements(self) -> ProtectedTable:
        years = self.settings.period
        return self._cached(
            "providers-placements",
            lambda: pv.placement_counts(self.providers, self.placements, years=years),
            attribute=True,
        )

    @functools.cached_property
    def protected_ratings(self) -> ProtectedTable:
        years = self.settings.period
        return self._cached(
            "providers-ratings",
            lambda: pv.rating_counts(self.providers, self.ratings, years=years),
            attribute=False,  # a number of ratings, not an attribute of the children
        )

    @functools.cached_property
    def protected_yearly(self) -> ProtectedTable:
        years = self.settings.period
        return self._cached(
            "providers-yearly",
            lambda: pv.yearly_counts(self.providers, self.placements, self.ratings, years=years),
            attribute=True,
        )

    @functools.cached_property
    def summary(self) -> pv.ProviderSummary:
        years = self.settings.period
        return pv.provider_summary(
            self.protected_placements,
            self.protected_ratings,
            pv.rating_moments(self.providers, self.ratings, years=years),
            self.providers,
            min_ratings=self.min_ratings,
            raw_ratings=pv.ratings_per_provider(self.ratings, years=years),
        )

    @functools.cached_property
    def trend(self) -> pv.YearlyTrend:
        return pv.yearly_trend(self.protected_yearly, years=self.settings.period)

    @functools.cached_property
    def provider_trend(self) -> pv.ProviderTrend:
        """Trend verdict per provider and measure (:func:`workbench.providers.provider_trends`),
        over every provider of the data, so that a provider's verdict is the same in every
        report."""
        years = self.settings.period
        return pv.provider_trends(
            pv.trend_moments(self.providers, self.placements, self.ratings, years=years),
            self.summary,
        )

    @functools.cached_property
    def _trend_rows(self) -> dict[tuple[str, str], Any]:
        d = self.provider_trend.published()
        return {(r[pv.UNIT], r["matt"]): r for r in d.to_dict("records")}

    def trend_text(self, unit: str, measure: str) -> str:
        """The published trend verdict of a provider (never a number)."""
        r = self._trend_rows.get((unit, measure))
        return pv.TREND_SV[r["verdict"]] if r is not None else pv.TREND_SV[pv.TREND_LITTLE]

    @functools.cached_property
    def _rows(self) -> dict[tuple[str, str], Any]:
        d = self.summary.data
        return {(r[pv.UNIT], r["matt"]): r for r in d.to_dict("records")}

    @functools.cached_property
    def _counts(self) -> dict[str, Any]:
        return {r[pv.UNIT]: r for r in self.summary.counts.to_dict("records")}

    def few(self, unit: str) -> bool:
        return self._counts.get(unit, {}).get("status") == pv.STATUS_FEW

    # -- labels --------------------------------------------------------------------------------
    def label(self, unit: str) -> str:
        if unit == pv.ALL_PROVIDERS:
            return "Alla utförare"
        if unit in pv.PROVIDER_TYPES:
            return f"Alla: {pv.PROVIDER_TYPES[unit]}"
        return self.names.get(unit, unit)

    def _regi(self, unit: str) -> str:
        p = self.providers.set_index("utforare_id")
        return (
            REGI_SV.get(str(p.loc[unit, "regi"]), str(p.loc[unit, "regi"]))
            if unit in p.index
            else ""
        )

    # -- suppression log ---------------------------------------------------------------------------
    def _log_cells(self, units: Sequence[str], *, name: str) -> list[dict[str, Any]]:
        shown = [u for u in units if not self.few(u)]
        cells = suppression_records(
            self.protected_placements,
            name=name,
            units=[*shown, *pv.PROVIDER_TYPES, pv.ALL_PROVIDERS],
            variables=["avslut", "maluppfyllelse"],
            rules=self.rules,
        )["cells"]
        cells += suppression_records(
            self.protected_ratings,
            name=name,
            units=[*pv.PROVIDER_TYPES, pv.ALL_PROVIDERS],
            variables=["bedomningar"],
            rules=self.rules,
        )["cells"]
        cells += [
            {
                "table": name,
                "unit": u,
                "variable": "*",
                "code": None,
                "cell": "all",
                "rule": RULE_MIN_RATINGS,
                "pass": 0,
            }
            for u in units
            if self.few(u)
        ]
        return cells

    def _block(self, html_text: str, units: Sequence[str], *, name: str) -> Block:
        payload = suppression_payload(self._log_cells(units, name=name), self.rules)
        payload["rules"]["min_ratings"] = self.min_ratings
        return Block(html_text, data={SUPPRESSION_LOG_MIME: payload})

    # -- blocks --------------------------------------------------------------------------------
    def header(self) -> Block:
        s = self.settings
        m = s.municipality
        where = "hela riket" if s.is_national else f"{m.name} ({m.county_name})"
        if self.utforare:
            chosen = f"utförare {self.label(self.utforare)} ({self.utforare})"
        elif self.utforartyp:
            chosen = f"utförartyp {pv.PROVIDER_TYPES[self.utforartyp]}"
        else:
            chosen = "alla utförartyper"
        parts = [
            f'<p class="wb-meta"><strong>{esc(where)}</strong> · {esc(chosen)} · period '
            f"{esc(s.period_label)} · datauttag {esc(self.manifest.get('data_date', 'okänt'))}</p>"
        ]
        if self.manifest.get("synthetic"):
            parts.append(
                '<p class="wb-caveat"><strong>Syntetiska data.</strong> Rapporten bygger på '
                "påhittade demonstrationsdata. Utförarna och siffrorna finns inte i verkligheten."
                "</p>"
            )
        if self.empty:
            parts.append(
                '<p class="wb-caveat"><strong>Inga uppgifter om utförare.</strong> Datamängden '
                "saknar tabellerna över utförare, placeringar och bedömningar.</p>"
            )
        elif not self.selected:
            county = county_name(s.municipality.county_code) if not s.is_national else ""
            parts.append(
                f'<p class="wb-note">Det finns inga utförare av vald typ i {esc(county)}. '
                "Rapporten visar genomsnitten för hela landet; välj en utförare med "
                "<code>--provider</code> för att se en utförare i ett annat län.</p>"
            )
        elif not s.is_national and not self.utforare:
            parts.append(
                f'<p class="wb-note">Rapporten visar utförare med verksamhet i '
                f"{esc(m.county_name)}. Alla mått räknas på alla placeringar och bedömningar hos "
                "utföraren, oavsett vilken kommun som placerat.</p>"
            )
        meta = {
            "audience": s.audience,
            "kommun": s.kommun,
            "period": s.period_label,
            "utforare": self.utforare,
            "utforartyp": self.utforartyp,
        }
        return Block("\n".join(parts), data={REPORT_META_MIME: meta})

    def _provider_cells(self, unit: str, measures: Sequence[str]) -> str:
        out = []
        for mid in measures:
            m = pv.MEASURES[mid]
            row = self._rows.get((unit, mid))
            out.append(_td(_value_text(row, m.kind)) + _td(_ci_text(row, m.kind)))
        return "".join(out)

    def placements_table(self) -> Block:
        """Per type: placements started and ended, breakdown, planned endings, goal attainment."""
        if self.empty:
            return Block("")
        parts = []
        for t in self.types:
            units = [t, *self._of_type(t)]
            rows = []
            for u in units:
                c = self._counts.get(u, {})
                head = f'<tr><th scope="row">{esc(self.label(u))}</th>'
                regi = "" if u in pv.PROVIDER_TYPES else self._regi(u)
                if self.few(u):
                    rows.append(
                        head
                        + _td(regi, num=False)
                        + _td(
                            f"För få bedömningar (färre än {self.min_ratings}); inga värden "
                            "visas.",
                            num=False,
                            span=1 + 2 * len(SHARE_MEASURES),
                        )
                        + "</tr>"
                    )
                    continue
                rows.append(
                    head
                    + _td(regi, num=False)
                    + _td(format_int(c.get("avslutade")))
                    + self._provider_cells(u, SHARE_MEASURES)
                    + "</tr>"
                )
            head = (
                "<tr>"
                + _th("Utförare")
                + _th("Regi")
                + _th("Avslutade placeringar", num=True)
                + "".join(
                    _th(pv.MEASURES[mid].sv, num=True) + _th(f"95{NBSP}% KI", num=True)
                    for mid in SHARE_MEASURES
                )
                + "</tr>"
            )
            parts.append(f"<h3>{esc(pv.PROVIDER_TYPES[t])}</h3>")
            parts.append(
                _table(
                    f"{pv.PROVIDER_TYPES[t]}: placeringar som avslutades "
                    f"{self.settings.period_label} och hur",
                    [("label", 2), ("count", 1), *(("share", 1), ("interval", 1)) * 3],
                    head,
                    rows,
                )
            )
        note = (
            '<p class="wb-note">Placeringar som avslutades under perioden; pågående placeringar '
            "räknas inte. Måluppfyllelsen räknas bland de avslutade placeringar där den kunnat "
            "bedömas. Intervallen är 95 % konfidensintervall enligt "
            f"Wilson. {SUPPRESSED} = redovisas inte (för få eller för osäkert).</p>"
        )
        return self._block("\n".join(parts) + note, self.selected, name="provider_placements")

    def ratings_table(self) -> Block:
        """Per type: the social workers' mean ratings and "would place again"."""
        if self.empty:
            return Block("")
        parts = []
        for t in self.types:
            units = [t, *self._of_type(t)]
            rows = []
            for u in units:
                head = f'<tr><th scope="row">{esc(self.label(u))}</th>'
                c = self._counts.get(u, {})
                n = format_int(c.get("bedomningar")) if u in pv.PROVIDER_TYPES else ""
                if self.few(u):
                    rows.append(
                        head
                        + _td(
                            f"För få bedömningar (färre än {self.min_ratings}); inga värden "
                            "visas.",
                            num=False,
                            span=1 + 2 * len(RATING_MEASURES),
                        )
                        + "</tr>"
                    )
                    continue
                rows.append(head + _td(n) + self._provider_cells(u, RATING_MEASURES) + "</tr>")
            head = (
                "<tr>"
                + _th("Utförare")
                + _th("Bedömningar", num=True)
                + "".join(
                    _th(pv.MEASURES[mid].sv, num=True) + _th(f"95{NBSP}% KI", num=True)
                    for mid in RATING_MEASURES
                )
                + "</tr>"
            )
            parts.append(f"<h3>{esc(pv.PROVIDER_TYPES[t])}</h3>")
            parts.append(
                _table(
                    f"{pv.PROVIDER_TYPES[t]}: socialsekreterarnas bedömningar "
                    f"{self.settings.period_label} (medelbetyg 1–5 och andel som skulle placera "
                    "igen)",
                    [
                        ("label", 1),
                        ("count", 1),
                        *(("measure", 1), ("interval", 1)) * len(pv.RATING_QUESTIONS),
                        ("share", 1),
                        ("interval", 1),
                    ],
                    head,
                    rows,
                )
            )
        note = (
            '<p class="wb-note">Medelbetyg på skalan 1 (mycket dåligt) till 5 (mycket bra) med 95 '
            "% konfidensintervall (t-fördelningen); svaret vet ej räknas inte. Ett medelvärde eller "
            f"en andel visas bara när minst {self.rules.min_denominator} svar finns. Antalet "
            "bedömningar redovisas för typerna men inte per utförare.</p>"
        )
        return self._block("\n".join(parts) + note, self.selected, name="provider_ratings")

    def comparison(self) -> Block:
        """Each provider against the other providers of its type, per measure."""
        if self.empty:
            return Block("")
        measures = list(pv.MEASURES)
        parts = []
        for t in self.types:
            units = self._of_type(t)
            if not units:
                continue
            rows = []
            detail = []
            for u in units:
                if self.few(u):
                    rows.append(
                        f'<tr><th scope="row">{esc(self.label(u))}</th>'
                        + _td("för få bedömningar", num=False, span=len(measures))
                        + "</tr>"
                    )
                    continue
                cells = []
                for mid in measures:
                    r = self._rows.get((u, mid))
                    text = (
                        pv.CLASS_SV.get(r["klass"], "") or pv.STATUS_SV[r["status"]]
                        if r is not None
                        else SUPPRESSED
                    )
                    cells.append(_td(text or SUPPRESSED, num=False))
                    if r is not None and not fmt.is_missing(r["diff"]):
                        m = pv.MEASURES[mid]
                        detail.append(
                            f'<tr><th scope="row">{esc(self.label(u))}</th>'
                            + _td(m.sv, num=False)
                            + _td(_diff_text(r, m.kind))
                            + _td(format_percent(r["adjusted_level"], 2))
                            + _td(pv.CLASS_SV[r["klass"]], num=False)
                            + "</tr>"
                        )
                rows.append(f'<tr><th scope="row">{esc(self.label(u))}</th>{"".join(cells)}</tr>')
            head = (
                "<tr>"
                + _th("Utförare")
                + "".join(_th(pv.MEASURES[m].sv) for m in measures)
                + "</tr>"
            )
            parts.append(f"<h3>{esc(pv.PROVIDER_TYPES[t])}</h3>")
            parts.append(
                _table(
                    f"{pv.PROVIDER_TYPES[t]}: jämfört med övriga utförare av samma typ",
                    [("label", 1 + len(measures))],
                    head,
                    rows,
                )
            )
            if detail:
                dhead = (
                    "<tr>"
                    + _th("Utförare")
                    + _th("Mått")
                    + _th("Skillnad mot övriga (justerat intervall)", num=True)
                    + _th("Konfidensnivå", num=True)
                    + _th("Bedömning")
                    + "</tr>"
                )
                parts.append(
                    "<details><summary>Tabell: skillnader mot övriga utförare</summary>"
                    + _table(
                        f"{pv.PROVIDER_TYPES[t]}: skillnad mot övriga utförare av samma typ",
                        [("label", 2), ("interval", 1), ("share", 1), ("label", 1)],
                        dhead,
                        detail,
                    )
                    + "</details>"
                )
        note = (
            '<p class="wb-note">En utförare sägs vara <strong>tydligt bättre</strong> eller '
            "<strong>tydligt sämre</strong> bara när hela konfidensintervallet för skillnaden mot "
            "övriga utförare av samma typ ligger på ena sidan om noll. Intervallen är "
            "Bonferronijusterade för antalet utförare av typen, så att slumpen sällan ger någon "
            "utförare en bedömning. Annars: går inte att skilja från genomsnittet. Utförarna "
            "står i bokstavsordning, inte i rangordning.</p>"
        )
        return self._block("\n".join(parts) + note, self.selected, name="provider_comparison")

    def forest(self, measure: str) -> Block:
        """Caterpillar plot of one measure per type: intervals against the type average."""
        from workbench.plots_providers import plot_provider_intervals

        if self.empty:
            return Block("")
        m = pv.MEASURES[measure]
        parts = []
        for t in self.types:
            units = self._of_type(t)
            typ = self._rows.get((t, measure))
            if not units or typ is None or typ["status"] != pv.STATUS_OK:
                continue
            drawn = [u for u in units if self._rows[(u, measure)]["status"] == pv.STATUS_OK]
            left = [u for u in units if u not in drawn]
            avg = _value_text(typ, m.kind)
            if drawn:
                d = pd.DataFrame([self._rows[(u, measure)] for u in drawn])
                d["label"] = [_plain(self.label(u)) for u in drawn]
                ax = plot_provider_intervals(
                    d,
                    average=float(typ["value"]),
                    percent=m.kind == "share",
                    xlabel=f"{m.sv} ({'andel' if m.kind == 'share' else 'medelbetyg 1–5'})",
                )
                alt = (
                    f"Intervalldiagram, {m.sv.lower()}, {pv.PROVIDER_TYPES[t]}; genomsnitt "
                    f"{avg}: "
                    + "; ".join(
                        f"{self.label(u)} {_value_text(self._rows[(u, measure)], m.kind)} "
                        f"({_ci_text(self._rows[(u, measure)], m.kind)})"
                        for u in drawn
                    )
                    + "."
                )
                parts.append(
                    figure_html(
                        ax.figure,
                        alt=alt.replace(NBSP, " "),
                        caption=f"{m.sv}, {pv.PROVIDER_TYPES[t]}: varje utförares värde med 95 "
                        "% konfidensintervall, krympt skattning (romb) och typens genomsnitt "
                        "(streckad linje). Utförarna står i bokstavsordning.",
                    )
                )
                rows = [
                    f'<tr><th scope="row">{esc(self.label(u))}</th>'
                    + _td(_value_text(self._rows[(u, measure)], m.kind))
                    + _td(_ci_text(self._rows[(u, measure)], m.kind))
                    + _td(self._shrunk_text(self._rows[(u, measure)], m.kind))
                    + "</tr>"
                    for u in drawn
                ]
                kind = "share" if m.kind == "share" else "measure"
                parts.append(
                    "<details><summary>Tabell: diagrammets värden</summary>"
                    + _table(
                        f"{m.sv}, {pv.PROVIDER_TYPES[t]} (genomsnitt {avg})",
                        [("label", 1), (kind, 1), ("interval", 1), (kind, 1)],
                        "<tr>"
                        + _th("Utförare")
                        + _th("Värde", num=True)
                        + _th(f"95{NBSP}% KI", num=True)
                        + _th("Krympt skattning", num=True)
                        + "</tr>",
                        rows,
                    )
                    + "</details>"
                )
            if left:
                why = ", ".join(
                    f"{self.label(u)} ("
                    + (
                        "för få bedömningar"
                        if self.few(u)
                        else "för litet underlag eller dolt"
                        if self._rows[(u, measure)]["status"] != pv.STATUS_NONE
                        else "inga fall"
                    )
                    + ")"
                    for u in left
                )
                parts.append(
                    f'<p class="wb-note">Visas inte i diagrammet ({esc(pv.PROVIDER_TYPES[t])}): '
                    f"{esc(why)}.</p>"
                )
        if not parts:
            parts.append('<p class="wb-note">Inga utförare med redovisade värden.</p>')
        return self._block(
            f"<h3>{esc(m.sv)}</h3>\n" + "\n".join(parts), self.selected, name="provider_forest"
        )

    @staticmethod
    def _shrunk_text(row: Any, kind: str) -> str:
        if row is None or fmt.is_missing(row["shrunk"]):
            return ""
        return (
            format_percent(row["shrunk"]) if kind == "share" else format_number(row["shrunk"], 1)
        )

    def trend_table(self) -> Block:
        """Breakdown and "would place again" per year, per type and all providers."""
        from workbench.plots_providers import plot_yearly_shares

        if self.empty:
            return Block("")
        d = self.trend.data
        units = [*self.types, pv.ALL_PROVIDERS]
        y0, y1 = self.settings.period
        years = list(range(y0, y1 + 1))
        parts = []
        for mid in ("sammanbrott", "placera_igen"):
            m = pv.MEASURES[mid]
            part = d[(d["matt"] == mid) & d[pv.UNIT].isin(units)]
            ax = plot_yearly_shares(
                part.assign(label=part[pv.UNIT].map(self.label)),
                series="label",
                ylabel=f"{m.sv} (andel)",
            )
            rows = []
            for u in units:
                r = part[part[pv.UNIT] == u].set_index("ar")
                cells = "".join(
                    _td(_value_text(r.loc[y], "share") if y in r.index else SUPPRESSED)
                    for y in years
                )
                rows.append(f'<tr><th scope="row">{esc(self.label(u))}</th>{cells}</tr>')
            alt = (
                f"Linjediagram, {m.sv.lower()} per år: "
                + "; ".join(
                    f"{self.label(u)} "
                    + ", ".join(
                        f"{y} {_value_text(part[(part[pv.UNIT] == u) & (part['ar'] == y)].iloc[0], 'share')}"
                        for y in years
                    )
                    for u in units
                )
                + "."
            )
            parts.append(f"<h3>{esc(m.sv)} per år</h3>")
            parts.append(
                figure_html(
                    ax.figure,
                    alt=alt.replace(NBSP, " "),
                    caption=f"{m.sv} per år med 95 % konfidensintervall (Wilson), per "
                    "utförartyp och för alla utförare. "
                    + (
                        "Placeringar räknas efter det år de avslutades."
                        if mid == "sammanbrott"
                        else "Bedömningar räknas efter bedömningsår."
                    ),
                )
            )
            parts.append(
                "<details><summary>Tabell: värden per år</summary>"
                + _table(
                    f"{m.sv} per år",
                    [("label", 1), ("share", len(years))],
                    "<tr>" + _th("") + "".join(_th(str(y), num=True) for y in years) + "</tr>",
                    rows,
                )
                + "</details>"
            )
        cells = suppression_records(
            self.protected_yearly,
            name="provider_trend",
            units=units,
            variables=[f"{g}_{y}" for g in ("avslut", "placera_igen") for y in years],
            rules=self.rules,
        )["cells"]
        note = (
            '<p class="wb-note">Utförarnas egna värden per år redovisas inte: de är för få, och '
            "åren summerar till periodens värden.</p>"
        )
        return Block(
            "\n".join(parts) + note,
            data={SUPPRESSION_LOG_MIME: suppression_payload(cells, self.rules)},
        )

    def provider_trend_table(self) -> Block:
        """Per type: each provider's trend verdict per measure (words only, never numbers)."""
        if self.empty:
            return Block("")
        measures = list(pv.TREND_MEASURES)
        parts = []
        for t in self.types:
            units = self._of_type(t)
            if not units:
                continue
            rows = []
            for u in units:
                head = f'<tr><th scope="row">{esc(self.label(u))}</th>'
                if self.few(u):
                    rows.append(
                        head
                        + _td(pv.TREND_SV[pv.TREND_FEW], num=False, span=len(measures))
                        + "</tr>"
                    )
                    continue
                rows.append(
                    head
                    + "".join(_td(self.trend_text(u, mid), num=False) for mid in measures)
                    + "</tr>"
                )
            parts.append(f"<h3>{esc(pv.PROVIDER_TYPES[t])}</h3>")
            parts.append(
                _table(
                    f"{pv.PROVIDER_TYPES[t]}: trend per utförare {self.settings.period_label}",
                    [("label", 1 + len(measures))],
                    "<tr>"
                    + _th("Utförare")
                    + "".join(_th(pv.MEASURES[m].sv) for m in measures)
                    + "</tr>",
                    rows,
                )
            )
        if not parts:
            parts.append('<p class="wb-note">Inga utförare att visa.</p>')
        note = (
            '<p class="wb-note"><strong>Så läser du tabellen.</strong> Trenden säger om måttet '
            "har blivit högre (<strong>ökande</strong>) eller lägre (<strong>minskande</strong>) "
            "år för år under perioden. För sammanbrott är minskande en förbättring; för "
            "övriga mått är ökande en förbättring. En trend anges bara när förändringen är så "
            "tydlig att den knappast är slump, även med hänsyn till att alla utförare och mått "
            "prövas samtidigt; annars står det <strong>ingen säker förändring</strong>, vilket "
            "inte betyder att inget har förändrats. <strong>För lite data</strong>: utförarens "
            "värde för perioden visas inte, eller uppgifterna finns från färre än "
            f"{pv.TREND_MIN_YEARS} år. Värden per år redovisas inte för enskilda utförare; "
            "därför anges trenden bara i ord.</p>"
        )
        return self._trend_block("\n".join(parts) + note, self.selected)

    def _trend_block(self, html_text: str, units: Sequence[str]) -> Block:
        name = "provider_trend_verdicts"
        cells = self._log_cells(units, name=name)
        wanted = set(units)
        d = self.provider_trend.published()
        held = d[
            d[pv.UNIT].isin(wanted)
            & d["reason"].isin([pv.TREND_REASON_HIDDEN, pv.TREND_REASON_YEARS])
        ]
        cells += [
            {
                "table": name,
                "unit": r[pv.UNIT],
                "variable": f"trend_{r['matt']}",
                "code": None,
                "cell": "verdict",
                "rule": r["reason"],
                "pass": 0,
            }
            for r in held.to_dict("records")
        ]
        payload = suppression_payload(cells, self.rules)
        payload["rules"]["min_ratings"] = self.min_ratings
        payload["rules"]["trend_min_years"] = pv.TREND_MIN_YEARS
        return Block(html_text, data={SUPPRESSION_LOG_MIME: payload})

    def methods(self) -> Block:
        """Measures, statistical methods and disclosure rules (appendix)."""
        small = f"1 och {self.rules.min_count - 1}"
        rows = [
            f'<tr><th scope="row">{esc(m.sv)}</th><td>{esc(m.description_sv)}</td>'
            f"<td>{esc('lägre är bättre' if m.polarity < 0 else 'högre är bättre')}</td></tr>"
            for m in pv.MEASURES.values()
        ]
        defs = _table(
            "Mått i rapporten",
            [("label", 3)],
            "<tr>" + _th("Mått") + _th("Definition") + _th("Riktning") + "</tr>",
            rows,
        )
        s = self.settings
        text = (
            "<h3>Intervall och jämförelser</h3>"
            "<p>Andelar har 95 % konfidensintervall enligt Wilson, medelbetyg 95 % "
            "konfidensintervall enligt t-fördelningen (svaret vet ej räknas inte). Varje utförare "
            "jämförs med övriga utförare av samma typ: skillnaden har ett intervall enligt "
            "Newcombe (andelar) eller Welch (medelbetyg), Bonferronijusterat för antalet "
            "utförare av typen med värden. Bara när det justerade intervallet inte innehåller "
            "noll kallas utföraren tydligt bättre eller tydligt sämre.</p>"
            "<p>Den krympta skattningen (empirisk Bayes) drar små utförares värden mot typens "
            "genomsnitt i proportion till hur osäkra de är: beta-binomialmodell för andelar, "
            "normal-normalmodell för medelbetyg. Den visar vad som är rimligt att vänta sig, "
            "men används inte för att rangordna.</p>"
            "<p>Utförarna ordnas alltid i bokstavsordning. En rangordning efter skattningarna "
            "skulle till stor del spegla slumpen.</p>"
            "<h3>Trend per utförare</h3>"
            "<p>Trenden prövas med Cochran–Armitages test för andelar (sammanbrott efter det år "
            "placeringen avslutades, skulle placera igen efter bedömningsår) och med en linjär "
            "regression av betygen på bedömningsår för medelbetygen. P-värdena Holmjusteras "
            "över alla utförare och mått i data, så att slumpen sällan kallas en trend och så "
            "att en utförares trend är densamma i alla rapporter. Ökande eller minskande anges "
            "bara när det justerade p-värdet är under 5 %. En trend prövas bara när "
            "utförarens värde för perioden redovisas och uppgifter finns från minst "
            f"{pv.TREND_MIN_YEARS} år; annars för lite data. Värden per år redovisas inte för "
            "enskilda utförare, och inte heller trendens storlek: bara ett omdöme i ord, som "
            "inte avslöjar något antal.</p>"
            "<h3>Röjandekontroll och för få bedömningar</h3>"
            f"<p>Antal mellan {esc(small)} redovisas inte ({SUPPRESSED}). Antalen per utförare, "
            "typ och alla utförare skyddas tillsammans, så att inget dolt tal kan räknas fram ur "
            "summorna; mönstret kontrolleras med linjärprogrammering. Andelar och medelvärden "
            f"visas bara när minst {esc(self.rules.min_denominator)} placeringar eller svar "
            "ligger bakom dem, och aldrig så att de avslöjar ett litet antal. Antalet "
            "bedömningar och svarsfördelningarna redovisas inte per utförare.</p>"
            f"<p>En utförare med färre än {esc(self.min_ratings)} bedömningar under perioden "
            "visas utan några värden alls: för få bedömningar. Gränsen ställs in med "
            "<code>providers: min_ratings</code> i parameters/defaults.yaml.</p>"
            f"<p>Teckenförklaring: {SUPPRESSED} = uppgiften redovisas inte (för få eller för "
            f"osäker); {fmt.NOT_APPLICABLE} = inga fall.</p>"
            f"<p>Data: {esc(self.manifest.get('source', ''))}. workbench {esc(__version__)}. "
            f"Parametrar: {esc(', '.join(s.sources))}.</p>"
        )
        return Block(defs + text)

    # -- Excel ----------------------------------------------------------------------------------
    def excel_rows(self) -> tuple[tuple[tuple[str, str], ...], list[tuple[Any, ...]]]:
        """The provider summary for procurement: one row per provider (types first)."""
        from workbench.excel import excel_number

        cols: list[tuple[str, str]] = [
            ("Utförare", "label"),
            ("Utförarkod", "code"),
            ("Typ", "label"),
            ("Regi", "label"),
            ("Län", "label"),
            ("Avslutade placeringar", "count"),
            ("Status", "label"),
        ]
        for m in pv.MEASURES.values():
            unit = " (%)" if m.kind == "share" else " (1–5)"
            cols += [
                (f"{m.sv}{unit}", "share" if m.kind == "share" else "measure"),
                ("95 % KI, nedre", "share" if m.kind == "share" else "measure"),
                ("95 % KI, övre", "share" if m.kind == "share" else "measure"),
                ("Jämfört med övriga av typen", "label"),
            ]
            if m.id in pv.TREND_MEASURES:
                cols.append(("Trend under perioden", "label"))
        of = self.providers.set_index("utforare_id")
        rows: list[tuple[Any, ...]] = []
        for u in [*self.types, *[x for t in self.types for x in self._of_type(t)]]:
            c = self._counts.get(u, {})
            few = self.few(u)
            is_type = u in pv.PROVIDER_TYPES
            typ = u if is_type else str(of.loc[u, "utforartyp"])
            row: list[Any] = [
                self.label(u),
                "" if is_type else u,
                pv.PROVIDER_TYPES[typ],
                "" if is_type else self._regi(u),
                "" if is_type else county_name(str(of.loc[u, "lan"])),
                SUPPRESSED if few else excel_number(c.get("avslutade"), count=True),
                "För få bedömningar" if few else ("Genomsnitt för typen" if is_type else ""),
            ]
            for m in pv.MEASURES.values():
                r = self._rows.get((u, m.id))
                scale = 100.0 if m.kind == "share" else 1.0
                if r is None or r["status"] != pv.STATUS_OK:
                    sym = (
                        fmt.NOT_APPLICABLE
                        if r is not None and r["status"] == pv.STATUS_NONE
                        else SUPPRESSED
                    )
                    row += [sym, sym, sym, ""]
                    if m.id in pv.TREND_MEASURES:
                        row.append(SUPPRESSED if few else self._excel_trend(u, m.id))
                    continue
                row += [
                    excel_number(scale * float(r["value"])),
                    excel_number(scale * float(r["ci_low"])),
                    excel_number(scale * float(r["ci_high"])),
                    pv.CLASS_SV.get(r["klass"], "") if not is_type else "",
                ]
                if m.id in pv.TREND_MEASURES:
                    row.append(self._excel_trend(u, m.id))
            rows.append(tuple(row))
        return tuple(cols), rows

    def _excel_trend(self, unit: str, measure: str) -> str:
        if unit in pv.PROVIDER_TYPES:
            return ""  # types: see the yearly values in the report
        return self.trend_text(unit, measure)

    def excel_about(self) -> list[str]:
        s = self.settings
        lines = [
            f"Uppföljning av placeringsutförare, period {s.period_label}.",
            "En rad per utförare med de mått som rapporten visar; typernas genomsnitt står först. "
            "Måtten räknas på alla placeringar och bedömningar hos utföraren, oavsett placerande "
            "kommun.",
            *(f"{m.sv}: {m.description_sv}" for m in pv.MEASURES.values()),
            "Andelar i procent med 95 % konfidensintervall enligt Wilson; medelbetyg 1–5 med 95 % "
            "konfidensintervall enligt t-fördelningen. Jämfört med övriga av typen: tydligt "
            "bättre/sämre när det Bonferronijusterade intervallet för skillnaden (Newcombe "
            "respektive Welch) inte innehåller noll, annars går inte att skilja från "
            "genomsnittet.",
            f"Röjandekontroll: antal mellan 1 och {self.rules.min_count - 1} redovisas inte (..); "
            "antalen per utförare, typ och alla utförare skyddas tillsammans så att inget dolt tal "
            "kan räknas fram (kontrollerat med linjärprogrammering); andelar och medelvärden "
            f"kräver minst {self.rules.min_denominator} placeringar eller svar och visas aldrig "
            "så att de avslöjar ett litet antal.",
            f"Utförare med färre än {self.min_ratings} bedömningar under perioden visas utan "
            "värden (För få bedömningar).",
            "Trend under perioden: ökande eller minskande när måttet förändrats år för år så "
            "tydligt att det knappast är slump (Cochran–Armitage för andelar, linjär regression "
            "på år för medelbetyg, Holmjusterat över alla utförare och mått, 5 %); annars ingen "
            "säker förändring. För lite data: värdet visas inte eller färre än "
            f"{pv.TREND_MIN_YEARS} år med uppgifter. Trenden anges bara i ord; värden per år "
            "redovisas inte för enskilda utförare.",
            "Utförarna står i bokstavsordning; tabellen är ingen rangordning.",
            f"Data: {self.manifest.get('source', '')}, uttag {self.manifest.get('data_date', '')}. "
            f"Framställd med workbench {__version__}.",
        ]
        if self.manifest.get("synthetic"):
            lines.insert(1, "Syntetiska data: utförarna och siffrorna är påhittade.")
        return lines

    def excel_summary(self) -> Block:
        """Write the Excel provider summary and say where it is."""
        from workbench.excel import write_provider_summary

        if self.empty:
            return Block("")
        cols, rows = self.excel_rows()
        path = write_provider_summary(
            self.settings,
            columns=cols,
            rows=rows,
            about=self.excel_about(),
            extra={"utforare": self.utforare, "utforartyp": self.utforartyp},
        )
        where = (
            f'<a href="{esc(path.name)}">{esc(path.name)}</a>'
            if self.settings.audience == "public"
            else f"<code>{esc(path.name)}</code> (intern, i mappen runs/)"
        )
        return self._block(
            f"<p>Sammanställningen per utförare finns som Excelfil för upphandling: {where}. En "
            "rad per utförare med måtten och deras intervall, en flik som beskriver måtten och "
            "röjandekontrollen; dolda värden visas som ..</p>",
            self.selected,
            name="provider_excel",
        )


def provider_ids_for_help(data_dir: Any) -> pd.DataFrame:
    """Provider codes, names and types (public information) for the CLI's listing."""
    p = read_table(data_dir, "providers")
    return p.sort_values("utforare_id")[["utforare_id", "utforare_namn", "utforartyp", "lan"]]


__all__ += ["provider_ids_for_help", "NATIONAL"]
