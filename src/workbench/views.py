"""What report notebooks display: charts with alt text and their data tables, from protected tables.

Every block is built from a :class:`workbench.disclosure.ProtectedTable` (renderers refuse
anything else), so an unprotected number cannot reach a page by accident. All text taken from data
or parameters is HTML-escaped here. Labels come from the catalogue.
"""

from __future__ import annotations

import base64
import functools
import html
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench import __version__
from workbench.cache import cache_dir, cache_key, key_digest
from workbench.catalogue import (
    CATEGORY_SV,
    TYPE_SV,
    code_label,
    code_order,
    load_catalogue,
)
from workbench.dataset import load_registrations, read_manifest, write_table
from workbench.disclosure import (
    DisclosureRules,
    ProtectedTable,
    Relation,
    protect_linked,
    protect_related,
    suppression_log,
)
from workbench.fmt import NBSP, SUPPRESSED, format_int, format_percent
from workbench.followup import (
    COMPLETENESS_CODES,
    COMPLETENESS_LABELS_SV,
    UNIT,
    completeness,
    distribution,
    n_registrations,
    registrations_by_year,
)
from workbench.municipalities import (
    NATIONAL,
    NATIONAL_NAME,
    county_name,
    get_municipality,
    hierarchy,
)
from workbench.params import Settings

#: MIME type of the suppression-log slice a block carries in the executed notebook. The HTML
#: template does not render it; the runner collects it into ``<report>.suppression.json``.
SUPPRESSION_LOG_MIME = "application/vnd.workbench.suppression-log+json"
#: MIME type of the report's own metadata (audience, municipality, period) for the exporter.
REPORT_META_MIME = "application/vnd.workbench.report+json"
#: Version of the suppression-log records.
SUPPRESSION_LOG_VERSION = 1


@dataclass(frozen=True)
class Block:
    """A piece of report HTML (already escaped) that notebooks display.

    ``data`` holds extra machine-readable outputs (MIME type -> JSON), e.g. the suppression-log
    slice of the protected table the block shows. They stay in the executed notebook (private
    zone) and are never rendered into the HTML.
    """

    html: str
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def _repr_html_(self) -> str:
        return self.html

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, Any]:
        return {
            "text/html": self.html,
            "text/plain": f"<Block: {len(self.html)} tecken HTML>",
            **self.data,
        }


def report_units(settings: Settings, *, too_few: bool) -> list[str]:
    """The units a report shows: the municipality (unless it has too few data), its county and
    the nation; only the nation for a national report."""
    if settings.is_national:
        return [NATIONAL]
    own = [] if too_few else [settings.kommun]
    return [*own, settings.municipality.county_code, NATIONAL]


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def figure_html(fig: Any, *, alt: str, caption: str) -> str:
    """Render a matplotlib figure as an embedded PNG with alt text, and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        '<figure class="wb-chart">'
        f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def _require_protected(table: object) -> ProtectedTable:
    if not isinstance(table, ProtectedTable):
        raise TypeError(
            "Report blocks only render ProtectedTable objects from workbench.disclosure; "
            f"got {type(table).__name__}. Pass the counts through protect_linked() first."
        )
    return table


def unit_label(unit: str) -> str:
    """Swedish name of a reporting unit: municipality, county or the nation."""
    if unit == NATIONAL:
        return NATIONAL_NAME
    if len(unit) == 2:
        return county_name(unit)
    return get_municipality(unit).name


def _denominator_shown(rows: pd.DataFrame) -> object:
    """The published denominator of one unit × variable, or missing if it is protected."""
    return rows["denominator_shown"].iloc[0]


def colgroup(*kinds: tuple[str, int]) -> str:
    """``<colgroup>`` declaring what each column holds, for the release gate.

    ``data-kind="count"`` marks counts of children or registrations: the gate fails a page on
    any such cell showing 1 .. min_count - 1. See :data:`workbench.release.NON_COUNT_KINDS`.
    """
    cols = "".join(
        f'<col data-kind="{k}">' if span == 1 else f'<col span="{span}" data-kind="{k}">'
        for k, span in kinds
        if span
    )
    return f"<colgroup>{cols}</colgroup>"


def suppression_records(
    table: ProtectedTable,
    *,
    name: str,
    units: Iterable[str],
    variables: Iterable[str],
    rules: DisclosureRules,
) -> dict[str, Any]:
    """The suppression-log slice of the cells a block shows, as JSON-ready records.

    One record per suppressed cell of ``table`` for the given units and variables: ``table``
    (which report table), ``unit``, ``variable``, ``code`` (``None`` for a denominator),
    ``cell`` (``n`` or ``denominator``), ``rule`` and ``pass``. Built from
    :func:`workbench.disclosure.suppression_log`, so it holds no counts and no identifiers.
    """
    log = suppression_log(table)
    unit_col, group_col, code_col = table.keys
    units, variables = list(units), list(variables)
    part = log[log[unit_col].isin(units) & log[group_col].isin(variables)]
    order = {u: i for i, u in enumerate(units)}
    part = part.assign(_u=part[unit_col].map(order)).sort_values("_u", kind="stable")
    cells = [
        {
            "table": name,
            "unit": str(r[unit_col]),
            "variable": str(r[group_col]),
            "code": None if pd.isna(r[code_col]) else str(r[code_col]),
            "cell": str(r["cell"]),
            "rule": str(r["rule"]),
            "pass": int(r["pass"]),
        }
        for r in part.to_dict("records")
    ]
    return suppression_payload(cells, rules)


def suppression_payload(cells: list[dict[str, Any]], rules: DisclosureRules) -> dict[str, Any]:
    """The JSON a block carries under :data:`SUPPRESSION_LOG_MIME`: version, rules and cells."""
    return {
        "version": SUPPRESSION_LOG_VERSION,
        "rules": {
            "min_count": rules.min_count,
            "min_denominator": rules.min_denominator,
            "secondary": rules.secondary,
        },
        "cells": cells,
    }


@dataclass(frozen=True)
class FollowUpReport:
    """Everything the follow-up report notebook shows for one municipality (or the nation)."""

    settings: Settings
    data: pd.DataFrame = field(repr=False)
    manifest: dict[str, Any] = field(repr=False)
    rules: DisclosureRules

    @classmethod
    def load(cls, settings: Settings) -> FollowUpReport:
        """Read the canonical data for the settings' period (the whole nation: comparisons and
        disclosure control need the linked set of all municipalities)."""
        manifest = read_manifest(settings.data_dir)
        data = load_registrations(settings.data_dir, years=settings.period)
        rules = DisclosureRules.from_mapping(settings.disclosure)
        return cls(settings=settings, data=data, manifest=dict(manifest.content), rules=rules)

    # -- which units this report shows ------------------------------------------------------
    @functools.cached_property
    def n_own(self) -> int:
        return n_registrations(self.data, self.settings.kommun)

    @property
    def too_few(self) -> bool:
        return not self.settings.is_national and self.n_own < self.settings.min_registrations

    @property
    def units(self) -> list[str]:
        return report_units(self.settings, too_few=self.too_few)

    # -- protected tables: one linked set for the whole country, computed once per batch ------
    def _protect(
        self,
        counts: Callable[[], pd.DataFrame],
        *,
        additive: dict[str, bool],
        kind: str,
        attribute: bool = True,
    ) -> ProtectedTable:
        return cached_protect(
            counts,
            additive=additive,
            rules=self.rules,
            attribute_rule=attribute,
            key=cache_key(
                kind,
                manifest=self.manifest,
                period=self.settings.period,
                rules=self.settings.disclosure,
                attribute=attribute,
            ),
        )

    def main_counts(self) -> pd.DataFrame:
        """Counts of :attr:`protected`: every distribution and registrations by year."""
        frames = [distribution(self.data, v) for v in report_variables()]
        frames.append(registrations_by_year(self.data, years=self.settings.period))
        return pd.concat(frames, ignore_index=True)

    @functools.cached_property
    def protected_related(self) -> dict[str, ProtectedTable]:
        """The main table (``"main"``) and the analysis outcomes (``"outcomes"``, see
        :func:`workbench.views_analysis.outcome_counts`), protected together across the relations
        between them (:func:`workbench.views_analysis.protect_with_outcomes`); cached per batch.
        """
        from workbench.views_analysis import protect_with_outcomes  # builds on this module

        return protect_with_outcomes(self)

    @functools.cached_property
    def protected(self) -> ProtectedTable:
        """Every distribution the reports can show, plus registrations by year, protected together.

        All catalogue variables are included whatever a municipality has switched off, so that
        every report of a batch shows the same suppression pattern (one linked set). Protected
        together with the analysis outcomes of the same report (:attr:`protected_related`): the
        outcomes per intervention type add up to cells of this table.
        """
        return self.protected_related["main"]

    @staticmethod
    def main_additive() -> dict[str, bool]:
        """Which groups of the main table have codes that add up (all but multi-select)."""
        cat = load_catalogue()
        return {v: cat.variable(v).type != "multi" for v in report_variables()} | {"ar": True}

    @functools.cached_property
    def protected_completeness(self) -> dict[str, ProtectedTable]:
        """Completeness counts per variable, each protected over the national linked set.

        One call per variable: the 27 variables share their denominators, and protecting them as
        one population is too slow. The completeness table therefore publishes shares only, never
        its denominators (see docs/methods.md).
        """
        names = [v.name for v in load_catalogue().variables.values() if not v.derived]
        return {
            name: self._protect(
                functools.partial(completeness, self.data, [name]),
                additive={name: True},
                kind=f"completeness-{name}",
                attribute=False,  # data quality, not an attribute of the children
            )
            for name in names
        }

    # -- blocks ------------------------------------------------------------------------------
    def header(self) -> Block:
        s = self.settings
        m = s.municipality
        where = "hela riket" if s.is_national else f"{m.name} ({m.county_name})"
        parts = [
            f'<p class="wb-meta"><strong>{esc(where)}</strong> · period {esc(s.period_label)} · '
            f"datauttag {esc(self.manifest.get('data_date', 'okänt'))}</p>"
        ]
        if self.manifest.get("synthetic"):
            parts.append(
                '<p class="wb-caveat"><strong>Syntetiska data.</strong> Rapporten bygger på påhittade '
                "demonstrationsdata som efterliknar nationell statistik. Siffrorna beskriver inte "
                "någon verklig kommun.</p>"
            )
        if self.n_own == 0 and not s.is_national:
            parts.append(
                f'<p class="wb-caveat"><strong>Inga registreringar.</strong> {esc(m.name)} har inga '
                f"uppföljningsregistreringar under {esc(s.period_label)}. Rapporten visar bara "
                "länets och rikets resultat.</p>"
            )
        elif self.too_few:
            parts.append(
                f'<p class="wb-caveat"><strong>För få registreringar.</strong> {esc(m.name)} har färre '
                f"än {esc(s.min_registrations)} registreringar under perioden. För att ingen enskild "
                "ska kunna identifieras visas bara länets och rikets resultat.</p>"
            )
        meta = {"audience": s.audience, "kommun": s.kommun, "period": s.period_label}
        return Block("\n".join(parts), data={REPORT_META_MIME: meta})

    def _log(
        self,
        html_text: str,
        table: ProtectedTable,
        *,
        name: str,
        units: Iterable[str],
        variables: Iterable[str],
    ) -> Block:
        """A block carrying the suppression-log slice of what it shows."""
        records = suppression_records(
            table, name=name, units=units, variables=variables, rules=self.rules
        )
        return Block(html_text, data={SUPPRESSION_LOG_MIME: records})

    def _not_in_use(self, variable: str) -> Block | None:
        if variable in self.settings.variables_off:
            label = load_catalogue().variable(variable).sv
            return Block(
                f'<p class="wb-note">{esc(label)} används inte i {esc(self.settings.municipality.name)} '
                "(avstängd i kommunens parametrar).</p>"
            )
        return None

    def distribution(self, variable: str, *, lang: str = "sv") -> Block:
        """Bar chart and table of a variable's codes: shares of registrations per unit."""
        off = self._not_in_use(variable)
        if off:
            return off
        var = load_catalogue().variable(variable)
        pt = _require_protected(self.protected)
        return self._distribution_block(
            pt, variable=variable, title=var.label(lang), multi=var.type == "multi"
        )

    def _distribution_block(
        self, pt: ProtectedTable, *, variable: str, title: str, multi: bool
    ) -> Block:
        from workbench.plots import plot_grouped_bars

        d = pt.data
        d = d[(d["variabel"] == variable) & d[UNIT].isin(self.units)]
        codes = (
            list(code_order(variable))
            if variable in load_catalogue().variables
            else list(dict.fromkeys(d["kod"]))
        )
        d = d.assign(
            kod_label=d["kod"].map(
                lambda c: code_label(variable, c) if variable in load_catalogue().variables else c
            ),
            enhet_label=d[UNIT].map(unit_label),
        )
        d = d.assign(
            _o=d["kod"].map({c: i for i, c in enumerate(codes)}),
            _u=d[UNIT].map({u: i for i, u in enumerate(self.units)}),
        )
        d = d.sort_values(["_u", "_o"])
        ax = plot_grouped_bars(
            d,
            category="kod_label",
            series="enhet_label",
            value="share",
            xlabel="Andel av registreringarna",
        )
        counted = (
            "Andel av registreringar där minst ett alternativ är ifyllt; flera alternativ kan väljas, "
            "så andelarna summerar inte till 100 %."
            if multi
            else "Andel av registreringar där uppgiften är ifylld."
        )
        alt_parts = []
        for unit in self.units:
            rows = d[d[UNIT] == unit]
            vals = ", ".join(f"{r.kod_label} {format_percent(r.share)}" for r in rows.itertuples())
            denom = _denominator_shown(rows) if len(rows) else pd.NA
            alt_parts.append(f"{unit_label(unit)} (underlag {format_int(denom)}): {vals}")
        alt = (
            f"Stapeldiagram, {title.lower()}, andel av registreringarna. "
            + "; ".join(alt_parts)
            + "."
        )
        fig_html = figure_html(
            ax.figure, alt=alt.replace(NBSP, " "), caption=f"{title}. {counted}"
        )
        table = self._table_html(
            d, caption=f"{title}: antal och andel registreringar", first_col=title
        )
        return self._log(
            f"<h3>{esc(title)}</h3>\n{fig_html}\n<details><summary>Tabell: {esc(title)}</summary>\n{table}\n</details>",
            pt,
            name="distribution",
            units=self.units,
            variables=[variable],
        )

    def _table_html(
        self, d: pd.DataFrame, *, caption: str, first_col: str, show_share: bool = True
    ) -> str:
        units = [u for u in self.units if u in set(d[UNIT])]
        head1 = "".join(
            f'<th scope="colgroup" colspan="{2 if show_share else 1}">{esc(unit_label(u))}</th>'
            for u in units
        )
        head2 = "".join(
            '<th scope="col" class="num">Antal</th>'
            + ('<th scope="col" class="num">Andel</th>' if show_share else "")
            for _ in units
        )
        body = []
        for label in dict.fromkeys(d["kod_label"]):
            cells = []
            for u in units:
                r = d[(d[UNIT] == u) & (d["kod_label"] == label)]
                n = r["n_shown"].iloc[0] if len(r) else pd.NA
                cells.append(f'<td class="num">{esc(format_int(n))}</td>')
                if show_share:
                    sh = r["share"].iloc[0] if len(r) else pd.NA
                    cells.append(f'<td class="num">{esc(format_percent(sh))}</td>')
            body.append(f'<tr><th scope="row">{esc(label)}</th>{"".join(cells)}</tr>')
        totals = []
        for u in units:
            rows = d[d[UNIT] == u]
            totals.append(f'<td class="num">{esc(format_int(_denominator_shown(rows)))}</td>')
            if show_share:
                totals.append('<td class="num"></td>')
        body.append(
            f'<tr><th scope="row">Underlag (antal registreringar)</th>{"".join(totals)}</tr>'
        )
        per_unit = ("count", 1), ("share", 1 if show_share else 0)
        cols = colgroup(("label", 1), *(per_unit * len(units)))
        return (
            f'<table class="wb-table"><caption>{esc(caption)}</caption>{cols}'
            f'<thead><tr><td></td>{head1}</tr><tr><th scope="col">{esc(first_col)}</th>{head2}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )

    def registrations_by_year(self) -> Block:
        from workbench.plots import plot_counts_by_year

        pt = _require_protected(self.protected)
        main_unit = (
            NATIONAL
            if self.settings.is_national
            else (
                self.settings.kommun
                if not self.too_few
                else self.settings.municipality.county_code
            )
        )
        d = pt.data[pt.data["variabel"] == "ar"]
        own = d[d[UNIT] == main_unit].sort_values("kod")
        ax = plot_counts_by_year(own)
        name = unit_label(main_unit)
        alt = (
            f"Stapeldiagram, antal registreringar per år i {name}: "
            + ", ".join(f"{r.kod} {format_int(r.n_shown)}" for r in own.itertuples())
            + "."
        ).replace(NBSP, " ")
        fig = figure_html(
            ax.figure,
            alt=alt,
            caption=f"Antal uppföljningsregistreringar per år, {name}. "
            "Varje registrering är en uppföljning eller ett avslut av en insats; ett barn "
            "kan ha flera.",
        )
        d = d[d[UNIT].isin(self.units)].assign(
            kod_label=lambda x: x["kod"], enhet_label=lambda x: x[UNIT].map(unit_label)
        )
        table = self._table_html(
            d.sort_values("kod"),
            caption="Antal registreringar per år",
            first_col="År",
            show_share=False,
        )
        return self._log(
            f"{fig}\n<details><summary>Tabell: registreringar per år</summary>\n{table}\n</details>",
            pt,
            name="registrations_by_year",
            units=self.units,
            variables=["ar"],
        )

    def completeness(self) -> Block:
        """Share of registrations with a known value, unknown, or empty, per variable."""
        unit = self.units[0]
        cat = load_catalogue()
        rows = []
        log_cells: list[dict[str, Any]] = []
        for var, table in self.protected_completeness.items():
            if var not in self.settings.variables_in_use:
                continue
            pt = _require_protected(table)
            log_cells += suppression_records(
                pt, name="completeness", units=[unit], variables=[var], rules=self.rules
            )["cells"]
            v = pt.data[pt.data[UNIT] == unit].set_index("kod")
            cells = "".join(
                f'<td class="num">{esc(format_percent(v.loc[c, "share"]))}</td>'
                for c in COMPLETENESS_CODES
            )
            rows.append(f'<tr><th scope="row">{esc(cat.variable(var).sv)}</th>{cells}</tr>')
        head = "".join(
            f'<th scope="col" class="num">{esc(COMPLETENESS_LABELS_SV[c])}</th>'
            for c in COMPLETENESS_CODES
        )
        table = (
            f'<table class="wb-table"><caption>Fullständighet per variabel, {esc(unit_label(unit))} '
            "(andel av de registreringar där variabeln är aktuell; underlaget är antalet "
            "registreringar, för avslutsorsak antalet avslut)</caption>"
            + colgroup(("label", 1), ("share", len(COMPLETENESS_CODES)))
            + f'<thead><tr><th scope="col">Variabel</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        return Block(
            table, data={SUPPRESSION_LOG_MIME: suppression_payload(log_cells, self.rules)}
        )

    def _disclosure_html(self) -> str:
        return _methods_disclosure_html(self.rules, self.settings)

    def methods(self) -> Block:
        """Data, parameters and disclosure rules behind the report (appendix).

        States the disclosure rules and thresholds in Swedish and names the report's
        suppression log (``<report>.suppression.json``, written by the runner).
        """
        s = self.settings
        cat = load_catalogue()
        tables = self.manifest.get("tables", {})
        checks = "".join(
            f'<tr><th scope="row">{esc(name)}</th><td>{esc(t.get("file", ""))}</td>'
            f'<td class="num">{esc(format_int(t.get("rows")))}</td><td><code>{esc(str(t.get("sha256", ""))[:16])}…</code></td></tr>'
            for name, t in sorted(tables.items())
        )
        var_rows = "".join(
            f'<tr><th scope="row">{esc(v.sv)}</th><td>{esc(CATEGORY_SV[v.category])}</td><td>{esc(TYPE_SV[v.type])}</td>'
            f"<td>{'ja' if v.official_minimum else 'nej'}</td>"
            f"<td>{esc(v.codelist.status if v.codelist else '')}</td>"
            f"<td>{'avstängd' if v.name in s.variables_off else 'används'}</td></tr>"
            for v in cat.variables.values()
        )
        return Block(
            self._disclosure_html() + "<h3>Data</h3>"
            f"<p>Källa: {esc(self.manifest.get('source', ''))}. Variabelkatalog version "
            f"{esc(self.manifest.get('catalogue_version', cat.version))}. workbench {esc(__version__)}. "
            f"Parametrar: {esc(', '.join(s.sources))}.</p>"
            '<table class="wb-table"><caption>Datafiler och kontrollsummor (SHA-256, förkortad)</caption>'
            + colgroup(("label", 2), ("count", 1), ("code", 1))
            + '<thead><tr><th scope="col">Tabell</th><th scope="col">Fil</th><th scope="col" class="num">Rader</th>'
            f'<th scope="col">SHA-256</th></tr></thead><tbody>{checks}</tbody></table>'
            "<h3>Variabler</h3>"
            '<table class="wb-table"><caption>Variabler i uppföljningen</caption><thead><tr>'
            '<th scope="col">Variabel</th><th scope="col">Kategori</th><th scope="col">Typ</th>'
            '<th scope="col">Officiell statistik (minimum)</th><th scope="col">Kodlista</th>'
            f'<th scope="col">I denna rapport</th></tr></thead><tbody>{var_rows}</tbody></table>'
        )


def _methods_disclosure_html(rules: DisclosureRules, settings: Settings) -> str:
    """The appendix's account of the disclosure rules, thresholds, log file and release gate."""
    small = f"1 och {esc(rules.min_count - 1)}"
    if settings.audience == "internal":
        publishing = (
            "<p><strong>Intern rapport.</strong> Rapporten är gjord för forskare och får inte "
            "spridas. Den skrivs aldrig till mappen för publicerade rapporter.</p>"
        )
    else:
        publishing = (
            "<p>Alla dolda celler i rapporten förtecknas i en maskinläsbar fil (tabell, område, "
            "variabel, kod, cell och regel, men inga antal) som publiceras bredvid rapporten. "
            "Den har samma namn som rapportfilen men slutar på <code>.suppression.json</code>; "
            "länken finns i sidfoten.</p>"
            "<p>Innan rapporten publiceras granskas den automatiskt (releasekontroll): inga "
            f"personnummer eller andra id:n, inga antal mellan {small} som inte är dolda, inga "
            "tabeller på radnivå, inga felutskrifter och inga externa resurser eller skript.</p>"
        )
    return (
        "<h3>Röjandekontroll</h3>"
        f"<p>Antal mellan {small} redovisas inte ({SUPPRESSED}). Noll visas som 0. Andelar visas "
        f"bara när underlaget är minst {esc(rules.min_denominator)} registreringar, och aldrig "
        "för ett antal som är dolt.</p>"
        "<p>Om alla registreringar i en grupp har samma svar döljs det värdet, tillsammans med ett "
        "av gruppens nollor, så att det inte går att se att alla har samma svar.</p>"
        "<p>Fler värden döljs vid behov (sekundär röjandekontroll), så att dolda tal inte kan "
        "räknas fram ur summor eller ur kommunernas, länets och rikets värden tillsammans. "
        "Mönstret beräknas en gång för alla kommuner, län och riket och kontrolleras med "
        "linjärprogrammering: varje dolt litet tal måste kunna ligga inom ett intervall som är "
        f"minst {esc(rules.min_count)} brett.</p>"
        f"<p>En kommun med färre än {esc(settings.min_registrations)} registreringar under "
        "perioden får en rapport som bara visar länets och rikets resultat.</p>"
        f"<p>Teckenförklaring: {SUPPRESSED} = uppgiften redovisas inte (för få eller för "
        "osäker).</p>" + publishing
    )


def report_variables() -> list[str]:
    """Catalogue variables that follow-up reports show as distributions (codes, multi, boolean)."""
    return [
        v.name
        for v in load_catalogue().variables.values()
        if v.type in ("code", "multi", "boolean")
    ]


def cached_protect(
    counts: pd.DataFrame | Callable[[], pd.DataFrame],
    *,
    additive: dict[str, bool],
    rules: DisclosureRules,
    key: dict[str, Any],
    attribute_rule: bool = True,
) -> ProtectedTable:
    """:func:`protect_linked` over the national linked set, cached in ``runs/cache``.

    The key holds everything the result depends on (data hashes, period, rules, catalogue and
    package versions and code), so every report of a batch reuses one computation and one
    pattern. ``counts`` may be a function that computes them: it is called only when the cache
    does not hold the result yet, so the other reports of a batch never tabulate the nation.
    """
    base = cache_dir() / f"protected-{key['kind']}-{key_digest(key)}"
    data_path, log_path = base.with_suffix(".data.parquet"), base.with_suffix(".log.parquet")
    hier = hierarchy()
    if data_path.is_file() and log_path.is_file():
        return ProtectedTable(
            data=pd.read_parquet(data_path),
            rules=rules,
            log=pd.read_parquet(log_path),
            keys=(UNIT, "variabel", "kod"),
            hierarchy=hier,
            additive=additive,
        )
    table = protect_linked(
        counts() if callable(counts) else counts,
        unit=UNIT,
        group="variabel",
        code="kod",
        n="n",
        denominator="denominator",
        hierarchy=hier,
        additive_codes=additive,
        rules=rules,
        attribute_rule=attribute_rule,
    )
    write_table(table.data, data_path)
    write_table(table.log, log_path)
    return table


def cached_protect_related(
    compute: Callable[[], tuple[dict[str, pd.DataFrame], list[Relation]]],
    *,
    names: Sequence[str],
    additive: Mapping[str, Mapping[str, bool]],
    rules: DisclosureRules,
    key: dict[str, Any],
    attribute_rule: bool = True,
    audit: bool = True,
) -> dict[str, ProtectedTable]:
    """:func:`~workbench.disclosure.protect_related` over the national linked sets, cached in
    ``runs/cache`` like :func:`cached_protect` (one pair of files per table).

    ``compute`` returns the counts per table and the relations between them; it is called only
    when the cache does not hold every table yet. ``audit``: see ``protect_related``.
    """
    base = cache_dir() / f"protected-{key['kind']}-{key_digest(key)}"
    files = {
        name: (
            base.with_name(f"{base.name}.{name}.data.parquet"),
            base.with_name(f"{base.name}.{name}.log.parquet"),
        )
        for name in names
    }
    hier = hierarchy()
    if all(d.is_file() and lg.is_file() for d, lg in files.values()):
        return {
            name: ProtectedTable(
                data=pd.read_parquet(d),
                rules=rules,
                log=pd.read_parquet(lg),
                keys=(UNIT, "variabel", "kod"),
                hierarchy=hier,
                additive=dict(additive.get(name, {})),
            )
            for name, (d, lg) in files.items()
        }
    counts, relations = compute()
    tables = protect_related(
        {name: counts[name] for name in names},
        relations=relations,
        unit=UNIT,
        group="variabel",
        code="kod",
        n="n",
        denominator="denominator",
        hierarchy=hier,
        additive_codes={name: dict(additive.get(name, {})) for name in names},
        attribute_rule=attribute_rule,
        rules=rules,
        audit=audit,
    )
    for name, (d, lg) in files.items():
        write_table(tables[name].data, d)
        write_table(tables[name].log, lg)
    return tables
