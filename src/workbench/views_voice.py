"""What report 60 (*Barns och ungas röst*) and the final report show of the child survey.

Same contract as :mod:`workbench.views`: every count passes through disclosure control over the
national linked set (all municipalities, counties and the nation, every item and group of
children protected together in one :func:`~workbench.views.cached_protect` call), and shares,
intervals and model results are computed only from the published counts (:mod:`workbench.voice`).
On top of the disclosure rules, results of a group are withheld ("för få svar") when fewer than
``voice.min_answers`` children of it answered, and a municipality with fewer answers in all gets
a report with its county and the nation only. Model comparisons of groups below that minimum are
not fitted. All text from data or parameters is HTML-escaped; labels come from the catalogue.

Blocks for ``notebooks/reports/60-childrens-voice.ipynb``::

    rapport = VoiceReport.load(settings)
    rapport.header(); rapport.response_rates(); rapport.overview()
    rapport.by_group("kon"); rapport.by_group("aldersband"); rapport.by_group("enkatgrupp")
    rapport.item_tables(); rapport.models(); rapport.methods()
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench import fmt
from workbench.catalogue import code_label, load_catalogue
from workbench.dataset import read_manifest, read_table
from workbench.disclosure import DisclosureRules, ProtectedTable
from workbench.fmt import NBSP, SUPPRESSED, format_int, format_number, format_percent
from workbench.followup import UNIT
from workbench.params import Settings
from workbench.views import (
    REPORT_META_MIME,
    SUPPRESSION_LOG_MIME,
    Block,
    _require_protected,
    cache_key,
    cached_protect_related,
    colgroup,
    esc,
    figure_html,
    report_units,
    suppression_payload,
    suppression_records,
    unit_label,
)
from workbench.voice import (
    DIMENSIONS,
    ITEMS,
    REASON_TOO_FEW_ANSWERS,
    RESPONSE,
    AgreementTable,
    OrdinalResult,
    ResponseTable,
    VoiceSettings,
    agreement,
    all_group_keys,
    group_key,
    ordinal_model,
    prepare_survey,
    response_rates,
    survey_counts,
    survey_relations,
)

__all__ = ["VOICE_NOTEBOOK", "VoiceReport", "voice_report_href"]

#: Stem of the full report's notebook (the final report links to its HTML).
VOICE_NOTEBOOK = "60-childrens-voice"
#: Label written where a group's results are withheld because too few answered.
TOO_FEW_SV = "för få svar"
#: Dimensions shown in the group tables, and the levels shown (unknown sex is not shown).
SHOWN_LEVELS: dict[str, tuple[str, ...]] = {
    "alla": ("alla",),
    "kon": ("flicka", "pojke"),
    "aldersband": DIMENSIONS["aldersband"],
    "enkatgrupp": DIMENSIONS["enkatgrupp"],
}
DIMENSION_SV = {
    "alla": "Alla",
    "kon": "Kön",
    "aldersband": "Ålder",
    "enkatgrupp": "Placerad eller i öppenvård",
}
_AGE_SV = {"13-15": "13–15 år", "16-17": "16–17 år", "18-20": "18–20 år"}
_COMPARISON_SV = {
    ("kon", "flicka"): "Flickor jämfört med pojkar",
    ("aldersband", "16-17"): "16–17 år jämfört med 13–15 år",
    ("aldersband", "18-20"): "18–20 år jämfört med 13–15 år",
    ("enkatgrupp", "placerad"): "Placerade jämfört med barn i öppenvård",
}
_MINUS = "\u2212"


def level_label(dimension: str, level: str) -> str:
    """Swedish label of a group of children, e.g. ``"Flicka"``, ``"13–15 år"``, ``"Alla"``."""
    if dimension == "alla":
        return "Alla"
    if dimension == "aldersband":
        return _AGE_SV.get(level, level)
    return code_label(dimension, level)


def item_label(item: str) -> str:
    """The item's statement in Swedish, from the catalogue."""
    return load_catalogue().variable(item).sv


def voice_report_href(settings: Settings) -> str:
    """File name of report 60 for the settings' municipality (same folder as the other reports)."""
    m = settings.municipality
    return f"{m.code}-{m.slug}-{VOICE_NOTEBOOK}.html"


def _ci(low: object, high: object) -> str:
    if fmt.is_missing(low) or fmt.is_missing(high):
        return SUPPRESSED
    return f"{format_number(100 * float(low), 0)}–{format_percent(float(high))}"


def _load_survey(settings: Settings) -> pd.DataFrame:
    return prepare_survey(read_table(settings.data_dir, "child_survey"), years=settings.period)


@dataclass(frozen=True, eq=False)
class VoiceReport:
    """Everything report 60 shows for one municipality (or the nation)."""

    settings: Settings
    data: pd.DataFrame = field(repr=False)
    manifest: dict[str, Any] = field(repr=False)
    rules: DisclosureRules
    voice: VoiceSettings

    @classmethod
    def load(cls, settings: Settings) -> VoiceReport:
        """Read the child survey of the settings' period for the whole nation (linked set)."""
        manifest = read_manifest(settings.data_dir)
        return cls(
            settings=settings,
            data=_load_survey(settings),
            manifest=dict(manifest.content),
            rules=DisclosureRules.from_mapping(settings.disclosure),
            voice=VoiceSettings.from_mapping(settings.voice),
        )

    # -- which units and items ----------------------------------------------------------------
    @property
    def has_data(self) -> bool:
        return bool(len(self.data)) and bool(self.data["besvarad"].any())

    @functools.cached_property
    def n_own_answered(self) -> int:
        s = self.settings
        d = self.data if s.is_national else self.data[self.data["kommun"] == s.kommun]
        return int(d["besvarad"].sum())

    @property
    def too_few(self) -> bool:
        return not self.settings.is_national and self.n_own_answered < self.voice.min_answers

    @property
    def units(self) -> list[str]:
        return report_units(self.settings, too_few=self.too_few)

    @property
    def main_unit(self) -> str:
        return self.units[0]

    @property
    def items(self) -> list[str]:
        """Items in report order, without those the municipality has switched off."""
        return [i for i in ITEMS if i not in self.settings.variables_off]

    # -- protected and derived tables ---------------------------------------------------------
    @functools.cached_property
    def protected(self) -> ProtectedTable:
        """Every survey count, protected once over the national linked set (all units, items
        and groups of children together; the groups of one population share its total)."""
        key = cache_key(
            "voice-related",
            manifest=self.manifest,
            period=self.settings.period,
            rules=self.settings.disclosure,
            relations="breakdowns-v1",
        )

        def compute() -> tuple[dict[str, pd.DataFrame], list]:  # only on a cache miss
            counts = survey_counts(self.data)
            return {"voice": counts}, survey_relations(counts, table="voice")

        # the breakdowns (sex, age band, group) add up to everyone: protected across those
        # relations too, so no group's count is everyone minus the other groups. Without the LP
        # stage: over ~26,000 relations it joins the whole national table into one component
        # and takes far too long (docs/disclosure.md, Limits)
        return cached_protect_related(
            compute,
            names=("voice",),
            additive={"voice": dict.fromkeys(all_group_keys(), True)},  # codes add up
            rules=self.rules,
            key=key,
            audit=False,
        )["voice"]

    @functools.cached_property
    def agreement(self) -> AgreementTable:
        """Shares agreeing from the published counts only (withheld below ``min_answers``)."""
        pt = _require_protected(self.protected)
        return agreement(
            pt.data,  # published counts in n_shown; the raw n only decides "för få svar"
            n="n_shown",
            answered_from="n",
            min_answers=self.voice.min_answers,
            min_denominator=self.rules.min_denominator,
        )

    @functools.cached_property
    def response(self) -> ResponseTable:
        pt = _require_protected(self.protected)
        return response_rates(pt.to_frame(), min_denominator=self.rules.min_denominator)

    @functools.cached_property
    def model_results(self) -> dict[str, OrdinalResult]:
        """One proportional-odds model per item: national data, with this municipality compared
        with the rest of the country when it has enough answers."""
        kommun = None if self.settings.is_national or self.too_few else self.settings.kommun
        min_n = max(self.voice.min_answers, self.rules.min_denominator)
        return {
            item: ordinal_model(self.data, item, kommun=kommun, min_answers=min_n)
            for item in self.items
        }

    # -- suppression log ----------------------------------------------------------------------
    def _log_cells(self, name: str, tables: Sequence[str], dims: Iterable[str]) -> list[dict]:
        groups = [group_key(t, d, lv) for t in tables for d in dims for lv in DIMENSIONS[d]]
        cells = suppression_records(
            self.protected, name=name, units=self.units, variables=groups, rules=self.rules
        )["cells"]
        a = self.agreement.data
        few = a[
            a[UNIT].isin(self.units)
            & a["tabell"].isin(list(tables))
            & a["dimension"].isin(list(dims))
            & (a["reason"] == REASON_TOO_FEW_ANSWERS)
        ]
        cells += [
            {
                "table": name,
                "unit": str(r[UNIT]),
                "variable": group_key(r["tabell"], r["dimension"], r["niva"]),
                "code": None,
                "cell": "share",
                "rule": "min_answers",
                "pass": 0,
            }
            for r in few.to_dict("records")
        ]
        return cells

    def _block(self, html_text: str, cells: list[dict]) -> Block:
        return Block(
            html_text, data={SUPPRESSION_LOG_MIME: suppression_payload(cells, self.rules)}
        )

    # -- blocks -------------------------------------------------------------------------------
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
                '<p class="wb-caveat"><strong>Syntetiska data.</strong> Rapporten bygger på '
                "påhittade demonstrationsdata. Svaren kommer inte från några verkliga barn.</p>"
            )
        if not self.has_data:
            parts.append(
                '<p class="wb-caveat"><strong>Inga enkätsvar.</strong> Datamängden innehåller '
                f"ingen barnenkät för {esc(s.period_label)}.</p>"
            )
        elif self.too_few:
            parts.append(
                f'<p class="wb-caveat"><strong>För få svar.</strong> {esc(m.name)} har färre än '
                f"{esc(self.voice.min_answers)} besvarade enkäter under perioden. Resultaten "
                "redovisas inte, så att ingen enskild kan identifieras och inga slutsatser dras "
                "av ett fåtal svar. Rapporten visar länets och rikets resultat.</p>"
            )
        meta = {"audience": s.audience, "kommun": s.kommun, "period": s.period_label}
        return Block("\n".join(parts), data={REPORT_META_MIME: meta})

    def response_rates(self) -> Block:
        """Invited, answered and the response rate per unit and group of children."""
        r = self.response.data
        r = r[r[UNIT].isin(self.units)]
        head1 = "".join(
            f'<th scope="colgroup" colspan="4">{esc(unit_label(u))}</th>' for u in self.units
        )
        head2 = (
            '<th scope="col" class="num">Inbjudna</th><th scope="col" class="num">Svarat</th>'
            '<th scope="col" class="num">Svarsfrekvens</th><th scope="col" class="num">95 % KI</th>'
        ) * len(self.units)
        body = []
        for dim, levels in SHOWN_LEVELS.items():
            for lv in levels:
                cells = []
                for u in self.units:
                    row = r[(r[UNIT] == u) & (r["dimension"] == dim) & (r["niva"] == lv)]
                    if row.empty:
                        cells.append(f'<td class="num">{SUPPRESSED}</td>' * 4)
                        continue
                    x = row.iloc[0]
                    cells.append(
                        f'<td class="num">{esc(format_int(x["invited"]))}</td>'
                        f'<td class="num">{esc(format_int(x["answered"]))}</td>'
                        f'<td class="num">{esc(format_percent(x["rate"]))}</td>'
                        f'<td class="num">{esc(_ci(x["ci_low"], x["ci_high"]))}</td>'
                    )
                label = level_label(dim, lv)
                body.append(f'<tr><th scope="row">{esc(label)}</th>{"".join(cells)}</tr>')
        kinds = [("label", 1)] + [("count", 2), ("rate", 1), ("interval", 1)] * len(self.units)
        table = (
            '<table class="wb-table"><caption>Svarsfrekvens: barn och unga som bjudits in och som '
            f"har svarat, {esc(self.settings.period_label)}</caption>{colgroup(*kinds)}"
            f'<thead><tr><td></td>{head1}</tr><tr><th scope="col">Grupp</th>{head2}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
        note = (
            '<p class="wb-note">Svarsfrekvens = andel av de inbjudna som har besvarat enkäten. '
            "Vid låg svarsfrekvens kan de som svarat skilja sig från dem som inte svarat.</p>"
        )
        cells = self._log_cells("response_rates", [RESPONSE], SHOWN_LEVELS)
        return self._block(table + note, cells)

    def _share_rows(self, unit_filter: Sequence[str]) -> pd.DataFrame:
        a = self.agreement.data
        a = a[a[UNIT].isin(list(unit_filter)) & a["tabell"].isin(self.items)].copy()
        a["missing_label"] = [
            f"{SUPPRESSED} {TOO_FEW_SV}" if r == REASON_TOO_FEW_ANSWERS else SUPPRESSED
            for r in a["reason"]
        ]
        return a

    def overview(self) -> Block:
        """Chart and table: share agreeing per item, municipality vs county vs nation."""
        from workbench.plots_voice import plot_shares_with_ci

        a = self._share_rows(self.units)
        a = a[a["dimension"] == "alla"]
        a = a.assign(
            label=a["tabell"].map(item_label),
            series=a[UNIT].map(unit_label),
            _i=a["tabell"].map({t: i for i, t in enumerate(self.items)}),
            _u=a[UNIT].map({u: i for i, u in enumerate(self.units)}),
        ).sort_values(["_i", "_u"])
        ax = plot_shares_with_ci(a, xlabel="Andel som instämmer (svar 4 eller 5), 95 % KI")
        alt = (
            "Stapeldiagram med konfidensintervall, andel som instämmer per påstående. "
            + "; ".join(
                f"{item_label(t)}: "
                + ", ".join(
                    f"{unit_label(r[UNIT])} {format_percent(r['share'])}"
                    if r["shown"]
                    else f"{unit_label(r[UNIT])} {r['missing_label']}"
                    for r in a[a["tabell"] == t].to_dict("records")
                )
                for t in self.items
            )
        )
        fig = figure_html(
            ax.figure,
            alt=(alt + ".").replace(NBSP, " "),
            caption="Andel som instämmer (svarat 4 eller 5 på en skala 1–5) av dem som tagit "
            "ställning. Strecken visar 95 % konfidensintervall. Vet inte räknas inte.",
        )
        table = self._item_table(a, "alla", "alla", caption="Andel som instämmer per påstående")
        cells = self._log_cells("overview", self.items, ["alla"])
        return self._block(
            f"{fig}\n<details><summary>Tabell: andel som instämmer</summary>\n{table}\n</details>",
            cells,
        )

    def _item_table(self, a: pd.DataFrame, dim: str, level: str, *, caption: str) -> str:
        """Rows: items; per unit share agreeing, interval, substantive answers, vet inte."""
        head1 = "".join(
            f'<th scope="colgroup" colspan="4">{esc(unit_label(u))}</th>' for u in self.units
        )
        head2 = (
            '<th scope="col" class="num">Instämmer</th><th scope="col" class="num">95 % KI</th>'
            '<th scope="col" class="num">Underlag</th><th scope="col" class="num">Vet inte</th>'
        ) * len(self.units)
        body = []
        for item in self.items:
            cells = []
            for u in self.units:
                row = a[
                    (a["tabell"] == item)
                    & (a[UNIT] == u)
                    & (a["dimension"] == dim)
                    & (a["niva"] == level)
                ]
                cells.append(self._share_cells(row))
            body.append(f'<tr><th scope="row">{esc(item_label(item))}</th>{"".join(cells)}</tr>')
        kinds = [("label", 1)] + [("share", 1), ("interval", 1), ("count", 1), ("share", 1)] * len(
            self.units
        )
        return (
            f'<table class="wb-table"><caption>{esc(caption)}</caption>{colgroup(*kinds)}'
            f'<thead><tr><td></td>{head1}</tr><tr><th scope="col">Påstående</th>{head2}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>"
        )

    @staticmethod
    def _share_cells(row: pd.DataFrame) -> str:
        if row.empty:
            return f'<td class="num">{SUPPRESSED}</td>' * 4
        x = row.iloc[0]
        if x["reason"] == REASON_TOO_FEW_ANSWERS:
            return (
                f'<td class="num">{SUPPRESSED} {esc(TOO_FEW_SV)}</td>'
                + f'<td class="num">{SUPPRESSED}</td>' * 3
            )
        return (
            f'<td class="num">{esc(format_percent(x["share"]))}</td>'
            f'<td class="num">{esc(_ci(x["ci_low"], x["ci_high"]))}</td>'
            f'<td class="num">{esc(format_int(x["substantive"]))}</td>'
            f'<td class="num">{esc(format_percent(x["vet_ej_share"]))}</td>'
        )

    def by_group(self, dimension: str) -> Block:
        """Share agreeing per item for the groups of one dimension (sex, age band or group):
        a chart for the report's main unit and a table for every unit."""
        from workbench.plots_voice import plot_shares_with_ci

        levels = SHOWN_LEVELS[dimension]
        unit = self.main_unit
        a = self._share_rows(self.units)
        a = a[a["dimension"] == dimension]
        own = a[a[UNIT] == unit]
        own = own[own["niva"].isin(list(levels))].assign(
            label=lambda x: x["tabell"].map(item_label),
            series=lambda x: [level_label(dimension, lv) for lv in x["niva"]],
            _i=lambda x: x["tabell"].map({t: i for i, t in enumerate(self.items)}),
            _l=lambda x: x["niva"].map({lv: i for i, lv in enumerate(levels)}),
        )
        own = own.sort_values(["_i", "_l"])
        title = DIMENSION_SV[dimension]
        ax = plot_shares_with_ci(own, xlabel="Andel som instämmer (svar 4 eller 5), 95 % KI")
        alt = (
            f"Stapeldiagram med konfidensintervall, andel som instämmer per påstående och "
            f"{title.lower()}, {unit_label(unit)}. "
            + "; ".join(
                f"{item_label(t)}: "
                + ", ".join(
                    f"{r['series']} "
                    + (format_percent(r["share"]) if r["shown"] else r["missing_label"])
                    for r in own[own["tabell"] == t].to_dict("records")
                )
                for t in self.items
            )
            + "."
        ).replace(NBSP, " ")
        fig = figure_html(
            ax.figure,
            alt=alt,
            caption=f"Andel som instämmer per {title.lower()}, {unit_label(unit)}. Strecken visar "
            "95 % konfidensintervall.",
        )
        tables = "".join(
            "<details><summary>Tabell: "
            f"{esc(level_label(dimension, lv))}</summary>"
            + self._item_table(
                a, dimension, lv, caption=f"Andel som instämmer, {level_label(dimension, lv)}"
            )
            + "</details>"
            for lv in levels
        )
        cells = self._log_cells(f"by_group_{dimension}", self.items, [dimension])
        return self._block(f"{fig}\n{tables}", cells)

    def models(self) -> Block:
        """Proportional-odds models: odds ratios (95 % KI) of answering higher, per item."""
        res = self.model_results
        kommun_row = not self.settings.is_national and not self.too_few
        comparisons = list(_COMPARISON_SV)
        if kommun_row:
            comparisons.append(("omrade", "kommunen"))
        head = "".join(
            f'<th scope="col" class="num">{esc(item_label(i))}</th>' for i in self.items
        )
        body = []
        cells: list[dict] = []
        for cov, lv in comparisons:
            label = (
                f"{self.settings.municipality.name} jämfört med övriga landet"
                if cov == "omrade"
                else _COMPARISON_SV[(cov, lv)]
            )
            tds = []
            for item in self.items:
                r = res[item]
                e = r.estimates
                e = e[(e["covariate"] == cov) & (e["level"] == lv)]
                if r.status != "ok" or e.empty:
                    tds.append(f'<td class="num">{SUPPRESSED}</td>')
                    cells.append(
                        {
                            "table": "models",
                            "unit": self.main_unit,
                            "variable": item,
                            "code": f"{cov}={lv}",
                            "cell": "estimate",
                            "rule": "min_answers",
                            "pass": 0,
                        }
                    )
                    continue
                x = e.iloc[0]
                text = (
                    f"{format_number(x['odds_ratio'], 2)} ({format_number(x['ci_low'], 2)}–"
                    f"{format_number(x['ci_high'], 2)})"
                )
                tds.append(f'<td class="num">{esc(text)}</td>')
            body.append(f'<tr><th scope="row">{esc(label)}</th>{"".join(tds)}</tr>')
        table = (
            '<table class="wb-table"><caption>Oddskvot att svara högre (instämma mer) med 95 % '
            "konfidensintervall, ordinal logistisk regression</caption>"
            + colgroup(("label", 1), ("measure", len(self.items)))
            + f'<thead><tr><th scope="col">Jämförelse</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
        caveats = []
        for item in self.items:
            r = res[item]
            for w in r.warnings:
                caveats.append(f"{item_label(item)}: {w}")
            if len(r.excluded):
                caveats.append(
                    f"{item_label(item)}: {format_int(len(r.excluded))} grupp(er) med färre än "
                    f"{format_int(max(self.voice.min_answers, self.rules.min_denominator))} svar "
                    "ingår inte i modellen."
                )
        caveat_html = (
            '<div class="wb-caveat"><p><strong>Förbehåll.</strong></p><ul>'
            + "".join(f"<li>{esc(c)}</li>" for c in caveats)
            + "</ul></div>"
            if caveats
            else '<p class="wb-note">Antagandet om proportionella odds håller för alla '
            "påståenden (Brants test, 5 % nivå).</p>"
        )
        intro = (
            "Modellen jämför hur grupper av barn svarar på hela skalan 1–5, med hänsyn tagen till "
            "kön, ålder och om barnet är placerat eller i öppenvård samtidigt. En oddskvot över 1 "
            "betyder att gruppen oftare svarar högre (instämmer mer) än jämförelsegruppen, under 1 "
            "att den svarar lägre. Om intervallet inte innehåller 1 är skillnaden statistiskt "
            "säkerställd på 5 % nivå. Modellen bygger på svaren i hela landet"
            + (
                f"; raden för {self.settings.municipality.name} jämför kommunens barn med barnen "
                "i resten av landet med samma kön, ålder och grupp."
                if kommun_row
                else "."
            )
        )
        return self._block(
            f'<p class="wb-note">{esc(intro)}</p>{table}{caveat_html}',
            cells,
        )

    def methods(self) -> Block:
        """Method notes and caveats in Swedish."""
        r = self.rules
        return Block(
            "<h3>Enkäten</h3>"
            "<p>Barn och unga från 13 år som är placerade eller har insatser i öppenvård bjuds in "
            "att svara på fem påståenden på en skala från 1 (stämmer inte alls) till 5 (stämmer "
            "helt), eller vet inte. Enkäten är en del av brukarmedverkan: barnens egna "
            "erfarenheter ska tas tillvara i utvecklingen av verksamheten. Fritextsvar sparas "
            "inte i analysdata och redovisas aldrig.</p>"
            "<h3>Andel som instämmer</h3>"
            "<p>Andelen som instämmer är andelen som svarat 4 eller 5 av dem som tagit ställning "
            "(svar 1–5). Vet inte redovisas separat, som andel av dem som besvarat påståendet. "
            "Konfidensintervallen (95 %) är Wilsonintervall. Åldern är barnets ålder det år "
            "enkäten besvarades, i grupperna 13–15, 16–17 och 18–20 år.</p>"
            "<h3>Ordinal modell</h3>"
            "<p>Skillnader mellan grupper skattas med en ordinal logistisk regression "
            "(proportionella odds) som använder hela svarsskalan. Modellen antar att en "
            "skillnad mellan grupper är lika stor vid alla steg på skalan; antagandet prövas med "
            "Brants test, och när det inte håller står det som ett förbehåll vid resultaten.</p>"
            "<h3>Röjandekontroll och för få svar</h3>"
            f"<p>Resultat för en grupp redovisas inte när färre än {esc(self.voice.min_answers)} "
            "har svarat (för få svar), som i SKR:s brukarundersökning. Antal mellan 1 och "
            f"{esc(r.min_count - 1)} redovisas inte ({SUPPRESSED}), och en andel visas bara när "
            f"minst {esc(r.min_denominator)} svar ligger bakom den. Fler värden döljs vid behov "
            "så att dolda tal inte kan räknas fram ur kommunernas, länets och rikets värden. "
            "Grupper med för få svar ingår inte i modellerna.</p>"
            "<h3>Att läsa resultaten</h3>"
            "<p>Svaren beskriver de barn som svarat. När svarsfrekvensen är låg kan de som "
            "svarat skilja sig från dem som inte gjort det. Små skillnader mellan kommuner "
            "och år ska läsas med försiktighet: se konfidensintervallen.</p>"
        )

    # -- final report ---------------------------------------------------------------------------
    def headline(self) -> Block:
        """The final report's section: share agreeing per item (with interval) for the
        municipality, county and nation, the response rate, suppression notes and a link to
        report 60."""
        href = voice_report_href(self.settings)
        link = (
            f"<p>Hela redovisningen, uppdelad på kön, ålder och placerade eller öppenvård, med "
            f'modeller och metod, finns i rapporten <a href="{esc(href)}">Barns och ungas röst</a>.'
            "</p>"
        )
        if not self.has_data:
            return Block(
                '<p class="wb-note">Datamängden innehåller ingen barnenkät för perioden.</p>'
                + link
            )
        a = self._share_rows(self.units)
        a = a[a["dimension"] == "alla"]
        table = self._item_table(
            a, "alla", "alla", caption="Andel som instämmer per påstående, 95 % KI"
        )
        r = self.response.data
        rates = []
        for u in self.units:
            row = r[(r[UNIT] == u) & (r["dimension"] == "alla")]
            rate = row["rate"].iloc[0] if len(row) else pd.NA
            rates.append(f"{unit_label(u)} {format_percent(rate)}")
        notes = []
        if self.too_few:
            notes.append(
                f"{self.settings.municipality.name} har färre än {self.voice.min_answers} "
                "besvarade enkäter; kommunens resultat redovisas inte (för få svar)."
            )
        withheld = a[(a[UNIT].isin(self.units)) & ~a["shown"].astype(bool)]
        if len(withheld) and not self.too_few:
            notes.append(
                f"{format_int(len(withheld))} värde(n) visas inte ({SUPPRESSED}): för få svar "
                "eller dolda av röjandekontrollen."
            )
        note_html = "".join(f'<p class="wb-caveat">{esc(n)}</p>' for n in notes)
        intro = (
            "<p>Barn och unga från 13 år som är placerade eller har öppenvårdsinsatser svarar "
            "på fem påståenden om trygghet, delaktighet, planering, skola och stödet som helhet. "
            "Tabellen visar andelen som instämmer (svar 4 eller 5 av 5) med 95 % "
            f"konfidensintervall. Svarsfrekvens: {esc('; '.join(rates).replace(NBSP, ' '))}.</p>"
        )
        cells = self._log_cells("voice_headline", self.items, ["alla"])
        return self._block(
            intro + note_html + table + link,
            cells,
        )
