"""The final report (notebook 40): the Webbkollen-style document stakeholders read.

:class:`FinalReport` composes the existing report objects (:class:`~workbench.views.FollowUpReport`,
:class:`~workbench.views_analysis.AnalysisReport`, :class:`~workbench.views_ambiguity.AmbiguityReport`
and :class:`~workbench.views_compare.ComparisonReport`) and adds the blocks only the final report
has: a table of contents, a summary of the five most important findings (generated from the
protected and checked results, never written by hand), background, data and method, lessons,
an appendix of variables and code lists, provenance, and (national report) the published reference
values that this version reproduces, computed when the report is made.

Every number in a sentence here comes from a protected table, a checked table or published
comparison values; all text is HTML-escaped.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import pandas as pd

from workbench import __version__, fmt
from workbench.catalogue import CATEGORY_SV, TYPE_SV, load_catalogue
from workbench.fmt import format_int, format_number, format_percent
from workbench.followup import UNIT
from workbench.models import equal_care
from workbench.municipalities import NATIONAL
from workbench.params import Settings
from workbench.views import (
    Block,
    FollowUpReport,
    _methods_disclosure_html,
    colgroup,
    esc,
    unit_label,
)
from workbench.views_ambiguity import AmbiguityReport
from workbench.views_analysis import AnalysisReport, CheckedTable, check_equal_care
from workbench.views_compare import ComparisonReport
from workbench.views_voice import VoiceReport

logger = logging.getLogger(__name__)

#: The final report's sections (level, title) in order: the notebook's markdown headings must
#: be exactly these (tests/test_final_report.py checks it against a committed snapshot).
SECTIONS: tuple[tuple[int, str], ...] = (
    (2, "Sammanfattning"),
    (2, "Bakgrund och syfte"),
    (2, "Data och metod"),
    (2, "Målgrupp"),
    (2, "Grundproblematik"),
    (2, "Insatser"),
    (2, "Resultat"),
    (2, "Likvärdig vård"),
    (2, "Jämförelser"),
    (2, "Barns och ungas röst"),
    (2, "Otydliga variabler och rekommendationer"),
    (2, "Lärdomar och nästa steg"),
    (2, "Bilaga A: Variabler och kodlistor"),
    (2, "Bilaga B: Röjandekontroll"),
    (2, "Bilaga C: Ursprung och spårbarhet"),
    (2, "Bilaga D: Verifierade metoder"),
)

#: Order in which the summary takes findings of each kind (one of each first).
FINDING_KINDS = ("equal_care", "comparison", "ambiguity", "completeness", "trend")
N_FINDINGS = 5
#: Below this share of registrations filled in with a known value, completeness is a finding.
COMPLETENESS_FINDING_BELOW = 0.9


def heading_anchor(text: str) -> str:
    """The ``id`` nbconvert gives a markdown heading (``nbconvert.filters.strings.add_anchor``):
    spaces become ``-`` and the rest is percent-encoded."""
    return quote(text.replace(" ", "-"), safe="?/:@!$&'()*+,;=")


def _join_sv(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " och " + items[-1]


@dataclass(frozen=True)
class Finding:
    """One generated finding for the summary: its kind, a weight for ordering, Swedish text."""

    kind: str
    weight: float
    text_sv: str


@dataclass(frozen=True)
class VerifiedMethod:
    """A published reference value and what this version of workbench computes for it."""

    method: str
    source: str
    expected: float
    computed: float
    decimals: int

    @property
    def reproduced(self) -> bool:
        return round(self.computed, self.decimals) == round(self.expected, self.decimals)


@dataclass(frozen=True)
class MethodsVerification:
    """The published reference values recomputed by this version (see :func:`verify_methods`)."""

    checks: tuple[VerifiedMethod, ...]

    @property
    def all_reproduced(self) -> bool:
        return all(c.reproduced for c in self.checks)

    def to_frame(self) -> pd.DataFrame:
        """One row per check: method, source, expected, computed, decimals, reproduced."""
        return pd.DataFrame(
            [
                {
                    "method": c.method,
                    "source": c.source,
                    "expected": c.expected,
                    "computed": c.computed,
                    "decimals": c.decimals,
                    "reproduced": c.reproduced,
                }
                for c in self.checks
            ]
        )

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(escape=True, index=False)


def verify_methods() -> MethodsVerification:
    """Run the published-reference-value checks with the package's own functions.

    Newcombe (1998a) Table I: Wilson interval for 81/263 is 0.2553-0.3662; Newcombe (1998b)
    Table II method 10: 56/70 - 48/80 gives 0.0524-0.3339; Krippendorff (2011) example C:
    nominal alpha 0.743; Fleiss (1971) Table 1: kappa 0.430. The data are the papers' own.
    """
    from workbench import stats
    from workbench.agreement import fleiss_kappa, krippendorff_alpha

    wilson = stats.proportion_ci([81], [263], method="wilson").iloc[0]
    rd = stats.risk_difference_ci([56], [70], [48], [80]).iloc[0]
    kripp_c = {
        "A": "1 2 3 3 2 1 4 1 2 . . .",
        "B": "1 2 3 3 2 2 4 1 2 5 . 3",
        "C": ". 3 3 3 2 3 4 2 2 5 1 .",
        "D": "1 2 3 3 2 4 4 1 2 5 1 .",
    }
    rows = [
        (f"u{j:02d}", obs, None if v == "." else float(v))
        for obs, line in kripp_c.items()
        for j, v in enumerate(line.split())
    ]
    kdata = pd.DataFrame(rows, columns=["vinjett_id", "bedomare_id", "varde"]).astype(
        {"varde": float}
    )
    alpha = krippendorff_alpha(kdata, level="nominal", n_boot=0).estimate
    diagnoses = (
        "444444 222555 233335 555555 222444 113333 333355 113334 114444 555555 "
        "144444 124444 222333 144444 224445 333335 111455 111112 224444 133555 "
        "555555 244444 224555 114444 144445 222224 111155 224444 133333 555555"
    )
    fdata = pd.DataFrame(
        [
            (f"u{i:02d}", f"r{j}", int(c))
            for i, row in enumerate(diagnoses.split())
            for j, c in enumerate(row)
        ],
        columns=["vinjett_id", "bedomare_id", "varde"],
    )
    kappa = fleiss_kappa(fdata).estimate
    n98a = "Newcombe (1998a), Statistics in Medicine 17:857–872, tabell I"
    n98b = "Newcombe (1998b), Statistics in Medicine 17:873–890, tabell II, metod 10"
    k11 = "Krippendorff (2011), Computing Krippendorff's Alpha-Reliability, exempel C"
    f71 = "Fleiss (1971), Psychological Bulletin 76:378–382, tabell 1"
    return MethodsVerification(
        (
            VerifiedMethod(
                "Wilsonintervall, 81 av 263, nedre gräns", n98a, 0.2553, wilson.ci_low, 4
            ),
            VerifiedMethod(
                "Wilsonintervall, 81 av 263, övre gräns", n98a, 0.3662, wilson.ci_high, 4
            ),
            VerifiedMethod("Skillnad 56/70 − 48/80, nedre gräns", n98b, 0.0524, rd.ci_low, 4),
            VerifiedMethod("Skillnad 56/70 − 48/80, övre gräns", n98b, 0.3339, rd.ci_high, 4),
            VerifiedMethod("Krippendorffs alfa, nominal", k11, 0.743, alpha, 3),
            VerifiedMethod("Fleiss kappa, 30 patienter, 6 bedömare", f71, 0.430, kappa, 3),
        )
    )


@dataclass(frozen=True, eq=False)
class FinalReport:
    """The final report for one municipality (or the nation), composed of the other reports.

    Attributes
    ----------
    followup, analysis, ambiguity, comparison
        The report objects of notebooks 10, 20 and 30; the notebook shows their blocks directly.
    """

    settings: Settings
    followup: FollowUpReport
    analysis: AnalysisReport
    ambiguity: AmbiguityReport
    comparison: ComparisonReport

    @classmethod
    def load(cls, settings: Settings) -> FinalReport:
        """Load the four report objects for the settings (each reads the canonical data)."""
        followup = FollowUpReport.load(settings)
        return cls(
            settings=settings,
            followup=followup,
            analysis=AnalysisReport.load(followup),
            ambiguity=AmbiguityReport.load(settings),
            comparison=ComparisonReport.load(settings),
        )

    @functools.cached_property
    def voice(self) -> VoiceReport:
        """The child survey (report 60), loaded when the final report first shows it."""
        return VoiceReport.load(self.settings)

    # -- shared ------------------------------------------------------------------------------
    @property
    def main_unit(self) -> str:
        """The unit the report describes: the municipality, else its county, else the nation."""
        return self.followup.units[0]

    @property
    def where(self) -> str:
        s = self.settings
        return "hela riket" if s.is_national else s.municipality.name

    def header(self) -> Block:
        """The header of report 10 (place, period, data date, caveats and report metadata)."""
        return self.followup.header()

    def contents(self) -> Block:
        """Table of contents linking every section heading."""
        items = "".join(
            f'<li><a href="#{esc(heading_anchor(title))}">{esc(title)}</a></li>'
            for level, title in SECTIONS
            if level == 2
        )
        return Block(
            '<nav class="wb-toc" aria-labelledby="wb-toc-title">'
            f'<p id="wb-toc-title" class="wb-toc-title">Innehåll</p><ol>{items}</ol></nav>'
        )

    # -- findings ----------------------------------------------------------------------------
    def _equal_care_findings(self) -> list[Finding]:
        s = self.settings
        out: list[Finding] = []
        for outcome in ("maluppfyllelse", "sammanbrott"):
            checked: list[tuple[str, CheckedTable]] = []
            if not s.is_national and not self.followup.too_few:
                own = self.followup.data[self.followup.data["kommun"] == s.kommun]
                res = equal_care(own, outcome=outcome, cluster="barn_id")
                if (res.models["status"] == "ok").any():
                    checked.append((s.kommun, check_equal_care(res, self.analysis.rules)))
            if not checked:
                national = self.analysis._national_model(outcome)
                checked.append((NATIONAL, check_equal_care(national, self.analysis.rules)))
            unit, ct = checked[0]
            d = ct.to_frame()
            d = d[d["shown"].astype(bool) & d["significant"].fillna(False).astype(bool)]
            for r in d.to_dict("records"):
                out.append(
                    Finding(
                        "equal_care",
                        abs(float(r["risk_difference"])),
                        f"Likvärdig vård ({unit_label(unit)}): {r['text_sv']}",
                    )
                )
        return out

    def _comparison_findings(self) -> list[Finding]:
        c = self.comparison
        titles = {i.id: i.title_sv for i in c.case_indicators}
        out: list[Finding] = []
        if self.settings.is_national:
            b = c.benchmark.data
            b = b[(b["jamforelse"] == "riket") & b["indikator"].isin(list(titles))]
            for ind, rows in b.groupby("indikator", sort=True):
                worse = int((rows["klass"] == "worse").sum())
                better = int((rows["klass"] == "better").sum())
                if worse + better == 0:
                    continue
                out.append(
                    Finding(
                        "comparison",
                        float(worse + better),
                        f"{titles[str(ind)]}: {format_int(worse)} kommuner har ett säkert sämre "
                        f"och {format_int(better)} ett säkert bättre värde än riket.",
                    )
                )
            return out
        unit = self.main_unit
        b = (c.county_benchmark if len(unit) == 2 else c.benchmark).for_unit(unit)
        b = b[(b["jamforelse"] == "riket") & b["klass"].isin(["better", "worse"])]
        b = b[b["indikator"].isin(list(titles)) & b["share"].notna()]
        b = b[b["jamforelse_andel"].notna()]
        for r in b.to_dict("records"):
            word = "bättre" if r["klass"] == "better" else "sämre"
            out.append(
                Finding(
                    "comparison",
                    abs(float(r["share"]) - float(r["jamforelse_andel"])),
                    f"{titles[r['indikator']]}: {unit_label(unit)} har ett säkert {word} värde "
                    f"än riket ({format_percent(r['share'])} mot "
                    f"{format_percent(r['jamforelse_andel'])}).",
                )
            )
        return out

    def _ambiguity_findings(self) -> list[Finding]:
        r = self.ambiguity.published_ranking
        unclear = r[r["verdict"] == "otydlig"].sort_values("rank")
        if unclear.empty:
            doubtful = r[r["verdict"] == "tveksam"].sort_values("rank")
            if doubtful.empty:
                return []
            names = [str(x).lower() for x in doubtful["label_sv"]]
            return [
                Finding(
                    "ambiguity",
                    float(len(names)),
                    f"Ingen variabel bedöms som otydlig, men {format_int(len(names))} som "
                    f"tveksamma: {_join_sv(names)}.",
                )
            ]
        names = [str(x).lower() for x in unclear["label_sv"]]
        return [
            Finding(
                "ambiguity",
                float(len(names)),
                f"{format_int(len(names))} variabler bedöms som otydliga och bör ses över: "
                f"{_join_sv(names)}. Förslag finns i avsnittet om otydliga variabler.",
            )
        ]

    def _completeness_findings(self) -> list[Finding]:
        unit = self.main_unit
        cat = load_catalogue()
        rows = []
        for var, pt in self.followup.protected_completeness.items():
            if var not in self.settings.variables_in_use:
                continue
            d = pt.data[(pt.data[UNIT] == unit) & (pt.data["kod"] == "kand")]
            if d.empty or fmt.is_missing(d["share"].iloc[0]):
                continue
            rows.append((float(d["share"].iloc[0]), cat.variable(var).sv))
        low = sorted(r for r in rows if r[0] < COMPLETENESS_FINDING_BELOW)
        if not low:
            return []
        shown = [f"{name.lower()} ({format_percent(share)})" for share, name in low[:3]]
        return [
            Finding(
                "completeness",
                1.0 - low[0][0],
                f"Fullständighet i {unit_label(unit)}: {format_int(len(low))} variabler är "
                f"ifyllda med känt värde i mindre än {format_percent(COMPLETENESS_FINDING_BELOW)} "
                f"av registreringarna, lägst {_join_sv(shown)}.",
            )
        ]

    def _trend_findings(self) -> list[Finding]:
        d = self.analysis.checked_trends.to_frame()
        d = d[
            (d["enhet"] == self.main_unit)
            & d["shown"].astype(bool)
            & d["direction"].isin(["increasing", "decreasing"])
        ]
        out = []
        for r in d.drop_duplicates("variabel").to_dict("records"):
            label = str(r["variabel"]).split("|", 1)[-1]
            out.append(
                Finding(
                    "trend",
                    abs(float(r["slope"])),
                    f"Förändring över tid i {unit_label(self.main_unit)}: {label.lower()}, "
                    f"{r['text_sv']}.",
                )
            )
        return out

    @functools.cached_property
    def findings(self) -> tuple[Finding, ...]:
        """The summary's findings: the strongest of each kind first, then the next strongest.

        Generated from the checked and protected results only; at most :data:`N_FINDINGS`.
        """
        by_kind = {
            "equal_care": self._equal_care_findings(),
            "comparison": self._comparison_findings(),
            "ambiguity": self._ambiguity_findings(),
            "completeness": self._completeness_findings(),
            "trend": self._trend_findings(),
        }
        ranked = {k: sorted(v, key=lambda f: -f.weight) for k, v in by_kind.items()}
        chosen: list[Finding] = []
        depth = 0
        while len(chosen) < N_FINDINGS and any(len(v) > depth for v in ranked.values()):
            for kind in FINDING_KINDS:
                if len(ranked[kind]) > depth and len(chosen) < N_FINDINGS:
                    chosen.append(ranked[kind][depth])
            depth += 1
        logger.info("final report: %d findings", len(chosen))
        return tuple(chosen)

    def summary(self) -> Block:
        """The five most important findings in plain Swedish, generated from the results."""
        s = self.settings
        items = "".join(f"<li>{esc(f.text_sv)}</li>" for f in self.findings)
        caveat = ""
        if self.followup.too_few:
            caveat = (
                f'<p class="wb-caveat">{esc(s.municipality.name)} har för få registreringar för '
                f"egna resultat. Sammanfattningen gäller {esc(unit_label(self.main_unit))} och "
                "riket.</p>"
            )
        if not items:
            items = "<li>Data visar inga säkra skillnader eller förändringar.</li>"
        return Block(
            f"<p>Uppföljningen av den sociala barn- och ungdomsvården i {esc(self.where)} "
            f"under {esc(s.period_label)} i fem punkter. Punkterna tas fram automatiskt ur "
            "resultaten, med samma regler för alla kommuner.</p>"
            f'{caveat}<ol class="wb-findings">{items}</ol>'
        )

    # -- text sections -----------------------------------------------------------------------
    def background(self) -> Block:
        """Background and purpose, in the spirit of SKL's Webbkollen barn och unga."""
        return Block(
            "<p>Kommunerna följer upp insatser till barn och unga enligt BBIC (Barns behov i "
            "centrum). Varje gång en insats följs upp eller avslutas registreras uppgifter om "
            "barnet, grundproblematiken, insatsen och resultatet.</p>"
            "<p>Rapporten sammanställer de registreringarna i samma anda som SKL:s projekt "
            "<em>Webbkollen barn och unga</em>: vad som har följts upp, hur variablerna har "
            "fungerat, vad resultaten visar, vilka variabler som är otydliga och vad man kan "
            "lära sig. Syftet är att ge underlag för att utveckla verksamheten och "
            "uppföljningen, inte att bedöma enskilda handläggare.</p>"
            "<p>Det som räknas är registreringar, inte barn: ett barn kan ha flera insatser och "
            "varje insats kan följas upp flera gånger.</p>"
        )

    def data_and_method(self) -> Block:
        """Period, registrations, variables in use, the rules applied."""
        s = self.settings
        f = self.followup
        cat = load_catalogue()
        in_use = [cat.variable(v).sv.lower() for v in s.variables_in_use]
        n_text = (
            format_int(f.n_own)
            if s.is_national or not f.too_few
            else f"färre än {format_int(s.min_registrations)}"
        )
        return Block(
            f"<p>Perioden är {esc(s.period_label)}. Data togs ut "
            f"{esc(f.manifest.get('data_date', 'okänt datum'))}. Antal uppföljningsregistreringar "
            f"i {esc(self.where)}: {esc(n_text)}.</p>"
            f"<p>Variabler som används ({esc(format_int(len(in_use)))} st): "
            f"{esc(_join_sv(in_use))}.</p>"
            "<p>Andelar beräknas bland de registreringar där uppgiften är ifylld, med 95 % "
            "konfidensintervall (Wilson). Skillnader mellan grupper av barn skattas med logistisk "
            "regression, justerad för ålder, ursprung, utsatthet och insatstyp, och räknas som "
            "säkra först efter korrektion för många jämförelser (Benjamini–Hochberg). Trender "
            "testas med Cochran–Armitages test. Jämförelser med länet och riket följer "
            "Fingertips metod: ett värde är bättre eller sämre bara om jämförelsevärdet ligger "
            "utanför kommunens konfidensintervall. Alla tal har gått igenom röjandekontroll "
            "(bilaga B).</p>"
        )

    def disclosure(self) -> Block:
        """The disclosure rules and thresholds (appendix B)."""
        return Block(_methods_disclosure_html(self.followup.rules, self.settings))

    def lessons(self) -> Block:
        """Lessons and next steps, generated from the ambiguity verdicts and completeness."""
        r = self.ambiguity.published_ranking
        unclear = r[r["verdict"].isin(["otydlig", "tveksam"])].sort_values("rank")
        items = [
            f"{row['label_sv']}: {row['recommendation_sv']}"
            for row in unclear.head(3).to_dict("records")
            if not fmt.is_missing(row.get("recommendation_sv"))
        ]
        comp = [f.text_sv for f in self._completeness_findings()]
        steps = [
            *items,
            *(f"Se över registreringen där fullständigheten är låg. {t}" for t in comp),
            "Gå igenom resultaten tillsammans med de handläggare som registrerar, och följ upp "
            "samma indikatorer nästa år för att se om förändringarna håller i sig.",
        ]
        lis = "".join(f"<li>{esc(t)}</li>" for t in steps)
        return Block(
            "<p>Förslagen nedan bygger på bedömningen av variablerna och på fullständigheten i "
            f"data; de gäller {esc(self.where)}.</p><ul>{lis}</ul>"
        )

    # -- appendix ----------------------------------------------------------------------------
    def appendix_variables(self) -> Block:
        """Variable definitions and code lists with their official or placeholder status."""
        cat = load_catalogue()
        status_sv = {"official": "officiell", "placeholder": "preliminär (platshållare)"}
        rows = []
        lists = []
        seen: set[str] = set()
        for v in cat.variables.values():
            cl = v.codelist
            rows.append(
                f'<tr><th scope="row">{esc(v.sv)}</th><td>{esc(CATEGORY_SV[v.category])}</td>'
                f"<td>{esc(TYPE_SV[v.type])}</td>"
                f"<td>{'ja' if v.official_minimum else 'nej'}</td>"
                f"<td>{esc(status_sv[cl.status]) if cl else '.'}</td>"
                f"<td>{'används' if v.name in self.settings.variables_in_use else 'används inte'}"
                "</td></tr>"
            )
            if cl is None or cl.name in seen:
                continue
            seen.add(cl.name)
            codes = "".join(
                f'<tr><th scope="row">{esc(c.code)}</th><td>{esc(c.sv)}</td></tr>'
                for c in cl.codes
            )
            lists.append(
                f"<details><summary>Kodlista {esc(cl.name)} ({esc(status_sv[cl.status])})"
                f'</summary><table class="wb-table"><caption>Kodlista {esc(cl.name)}, '
                f"{esc(status_sv[cl.status])}. Källa: {esc(cl.source)}</caption>"
                + colgroup(("code", 1), ("label", 1))
                + '<thead><tr><th scope="col">Kod</th><th scope="col">Benämning</th></tr>'
                f"</thead><tbody>{codes}</tbody></table></details>"
            )
        table = (
            '<table class="wb-table"><caption>Variabler i uppföljningen, version '
            f"{esc(cat.version)}</caption>"
            + colgroup(("label", 6))
            + '<thead><tr><th scope="col">Variabel</th><th scope="col">Kategori</th>'
            '<th scope="col">Typ</th><th scope="col">Officiell statistik (minimum)</th>'
            '<th scope="col">Kodlistans status</th><th scope="col">I denna rapport</th></tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
        )
        note = (
            '<p class="wb-note">En preliminär kodlista är en platshållare tills den officiella '
            "listan finns; resultat för sådana variabler ska läsas med försiktighet.</p>"
        )
        return Block(table + note + "<h3>Kodlistor</h3>" + "".join(lists))

    def provenance(self) -> Block:
        """Data manifest checksums, parameters, package version and date."""
        s = self.settings
        m = self.followup.manifest
        checks = "".join(
            f'<tr><th scope="row">{esc(name)}</th><td>{esc(t.get("file", ""))}</td>'
            f'<td class="num">{esc(format_int(t.get("rows")))}</td>'
            f"<td><code>{esc(t.get('sha256', ''))}</code></td></tr>"
            for name, t in sorted(m.get("tables", {}).items())
        )
        params = [
            ("Kommunkod", s.kommun),
            ("Period", s.period_label),
            ("Målgrupp för rapporten", s.audience),
            ("Parameterfiler", ", ".join(s.sources)),
            ("Variabelkatalog", load_catalogue().version),
            ("workbench", __version__),
            ("Datauttag", str(m.get("data_date", "okänt"))),
        ]
        prow = "".join(
            f'<tr><th scope="row">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in params
        )
        # The one field that differs between two runs on the same inputs (declared generated_at).
        today = date.today().isoformat()
        prow += (
            '<tr><th scope="row">Rapporten skapad</th><td>'
            f'<time class="wb-generated-at" datetime="{today}">{today}</time></td></tr>'
        )
        return Block(
            '<table class="wb-table"><caption>Parametrar och versioner</caption>'
            + colgroup(("label", 2))
            + '<thead><tr><th scope="col">Uppgift</th><th scope="col">Värde</th></tr></thead>'
            f"<tbody>{prow}</tbody></table>"
            '<table class="wb-table"><caption>Datafiler och kontrollsummor (SHA-256)</caption>'
            + colgroup(("label", 2), ("count", 1), ("code", 1))
            + '<thead><tr><th scope="col">Tabell</th><th scope="col">Fil</th>'
            '<th scope="col" class="num">Rader</th><th scope="col">SHA-256</th></tr></thead>'
            f'<tbody>{checks}</tbody></table><p class="wb-meta">Källa: '
            f"{esc(m.get('source', ''))}.</p>"
        )

    def methods_verified(self) -> Block:
        """National report: published reference values reproduced by this version, computed now.

        Municipal reports refer to the national report instead (the checks do not depend on the
        municipality).
        """
        if not self.settings.is_national:
            return Block(
                '<p class="wb-note">Kontrollen av att metoderna ger publicerade referensvärden '
                "redovisas i den nationella rapporten. Den gäller samma version av workbench "
                f"({esc(__version__)}).</p>"
            )
        checks = verify_methods().checks
        rows = "".join(
            f'<tr><th scope="row">{esc(v.method)}</th><td>{esc(v.source)}</td>'
            f'<td class="num">{esc(format_number(v.expected, v.decimals))}</td>'
            f'<td class="num">{esc(format_number(v.computed, v.decimals))}</td>'
            f"<td>{'ja' if v.reproduced else 'NEJ'}</td></tr>"
            for v in checks
        )
        ok = sum(v.reproduced for v in checks)
        return Block(
            f"<p>workbench {esc(__version__)} räknade om {esc(format_int(len(checks)))} "
            f"publicerade referensvärden när rapporten skapades; {esc(format_int(ok))} "
            "återskapades på angivet antal decimaler.</p>"
            '<table class="wb-table"><caption>Publicerade referensvärden och värden beräknade '
            "av denna version</caption>"
            + colgroup(("label", 2), ("measure", 2), ("label", 1))
            + '<thead><tr><th scope="col">Metod och exempel</th><th scope="col">Källa</th>'
            '<th scope="col" class="num">Publicerat</th><th scope="col" class="num">Beräknat</th>'
            f'<th scope="col">Återskapat</th></tr></thead><tbody>{rows}</tbody></table>'
        )
