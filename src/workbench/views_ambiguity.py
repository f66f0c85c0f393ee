"""What report 20 (ambiguous variables) shows: the ranking, the evidence charts and the advice.

Same contract as :mod:`workbench.views`. Every count or share of registrations, interventions or
children comes from a :class:`workbench.disclosure.ProtectedTable` protected over the national
linked set (all municipalities, counties and the nation, with the attribute rule off: data
quality is not an attribute of the children), cached once per batch. The texts of
:func:`workbench.ambiguity.explain` are rebuilt here from the published shares, so a suppressed
share reads ``..``. Statistics that are not counts are shown as computed: the vignette study's
agreement coefficients (ratings of invented case descriptions, never children), the spread
between municipalities ``tau`` and the evidence levels. Vignette feedback is aggregated over a
municipality's raters and shown only with at least ``vignettes.min_raters`` of them; nothing is
ever shown per rater. All text from data or parameters is HTML-escaped; labels come from the
catalogue.

Blocks for ``notebooks/reports/20-ambiguous-variables.ipynb``::

    rapport = AmbiguityReport.load(settings)
    rapport.header(); rapport.ranking(); rapport.recommendations()
    rapport.agreement(); rapport.confusion(); rapport.rater_feedback()
    rapport.funnel(); rapport.residual_over_time(); rapport.methods()
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench import __version__
from workbench.ambiguity import (
    EVIDENCE,
    EVIDENCE_SV,
    LEVEL_DOUBTFUL,
    LEVEL_UNCLEAR,
    STATUS_NOT_APPLICABLE,
    AmbiguityAssessment,
    AmbiguityThresholds,
    NationalEvidence,
    assess,
    assessed_variables,
    code_counts,
    explain_frame,
    level_contradiction,
    level_nonresponse,
    level_residual,
    national_evidence,
    rank_variables,
    residual_by_year_counts,
)
from workbench.cache import cached_frame, cached_object
from workbench.catalogue import load_catalogue
from workbench.dataset import DatasetError, load_registrations, read_manifest, read_table
from workbench.disclosure import DisclosureRules, ProtectedTable
from workbench.fmt import NBSP, SUPPRESSED, format_number, format_percent, is_missing
from workbench.followup import UNIT
from workbench.municipalities import (
    NATIONAL,
    list_municipalities,
)
from workbench.params import Settings
from workbench.views import (
    REPORT_META_MIME,
    SUPPRESSION_LOG_MIME,
    Block,
    cache_key,
    cached_protect,
    esc,
    figure_html,
    suppression_payload,
    suppression_records,
    unit_label,
)
from workbench.views import (
    colgroup as _colgroup,
)

__all__ = ["AmbiguityReport"]

_GROUP = "variabel"  # group column of the protected tables
_LEVEL_HTML = {LEVEL_UNCLEAR: "<strong>otydlig</strong>"}


def _code_label(variable: str, code: object) -> str:
    if code == "saknas":
        return "Ej ifylld"
    cl = load_catalogue().variable(variable).codelist
    try:
        return cl.label(str(code)) if cl is not None else str(code)
    except KeyError:
        return str(code)


def _genitive(name: str) -> str:
    """Swedish genitive: "Stockholms", but "Västerås" stays "Västerås"."""
    return name if name.endswith(("s", "x", "z")) else f"{name}s"


def _share_text(x: object) -> str:
    return format_percent(x)


@dataclass(frozen=True)
class AmbiguityReport:
    """Everything report 20 shows for one municipality (or the nation)."""

    settings: Settings
    data: pd.DataFrame = field(repr=False)
    ratings: pd.DataFrame = field(repr=False)
    manifest: dict[str, Any] = field(repr=False)
    rules: DisclosureRules
    thresholds: AmbiguityThresholds
    n_boot: int = 1000

    @classmethod
    def load(cls, settings: Settings) -> AmbiguityReport:
        """Read the canonical data for the period: all municipalities (comparisons and the
        linked set need them) and the vignette ratings (empty when there is no study)."""
        manifest = read_manifest(settings.data_dir)
        data = load_registrations(settings.data_dir, years=settings.period)
        try:
            ratings = read_table(settings.data_dir, "vignette_ratings")
        except DatasetError:  # a dataset without the table: no vignette study
            ratings = pd.DataFrame(columns=["vinjett_id", "bedomare_id", "kommun", "variabel"])
        return cls(
            settings=settings,
            data=data,
            ratings=ratings,
            manifest=dict(manifest.content),
            rules=DisclosureRules.from_mapping(settings.disclosure),
            thresholds=AmbiguityThresholds.from_mapping(settings.ambiguity),
        )

    # -- the unit and the assessment ---------------------------------------------------------
    @functools.cached_property
    def n_own(self) -> int:
        s = self.settings
        return int(len(self.data) if s.is_national else (self.data["kommun"] == s.kommun).sum())

    @property
    def too_few(self) -> bool:
        s = self.settings
        return not s.is_national and self.n_own < s.min_registrations

    @property
    def unit(self) -> str:
        """The unit the ranking describes: the municipality, or the nation when it has too few
        registrations (its own figures are then not shown)."""
        return NATIONAL if self.settings.is_national or self.too_few else self.settings.kommun

    @property
    def variables(self) -> list[str]:
        return [v for v in assessed_variables() if v not in self.settings.variables_off]

    @functools.cached_property
    def evidence(self) -> NationalEvidence:
        """The unit-independent evidence (all municipalities), computed once per batch."""
        s = self.settings
        key = cache_key(
            "ambiguity-national",
            manifest=self.manifest,
            period=s.period,
            rules=s.disclosure,
            thresholds=repr(self.thresholds),
            variables=self.variables,
            n_boot=self.n_boot,
        )
        return cached_object(
            key,
            functools.partial(
                national_evidence,
                self.data,
                self.ratings,
                thresholds=self.thresholds,
                variables=self.variables,
                n_boot=self.n_boot,
            ),
        )

    @functools.cached_property
    def assessment(self) -> AmbiguityAssessment:
        return assess(
            self.data,
            self.ratings,
            kommun=self.unit,
            thresholds=self.thresholds,
            variables=self.variables,
            n_boot=self.n_boot,
            evidence=self.evidence,
        )

    # -- protected tables (one linked set for the whole country, cached per batch) -------------
    def _protect(self, counts: pd.DataFrame, *, kind: str) -> ProtectedTable:
        groups = list(dict.fromkeys(counts[_GROUP]))
        return cached_protect(
            counts,
            additive=dict.fromkeys(groups, True),
            rules=self.rules,
            attribute_rule=False,  # data quality, not an attribute of the children
            key=cache_key(
                kind,
                manifest=self.manifest,
                period=self.settings.period,
                rules=self.settings.disclosure,
                attribute=False,
            ),
        )

    @functools.cached_property
    def protected_quality(self) -> dict[str, ProtectedTable]:
        """Quality status counts (giltig, restkod, okänt, kan ej bedömas, saknas) per variable."""
        q = self.assessment.quality
        return {
            v: self._protect(q[q[_GROUP] == v], kind=f"ambiguity-quality-{v}")
            for v in self.variables
        }

    @functools.cached_property
    def protected_rules(self) -> dict[str, ProtectedTable]:
        """Contradicting and consistent eligible rows per contradiction rule."""
        c = self.assessment.contradiction_counts.rename(columns={"regel": _GROUP})
        return {
            r: self._protect(c[c[_GROUP] == r], kind=f"ambiguity-rule-{r}")
            for r in dict.fromkeys(c[_GROUP])
        }

    @functools.cached_property
    def protected_residual_years(self) -> dict[str, ProtectedTable]:
        """Rows with a residual code per year, per variable with a residual code."""
        s = self.settings
        key = cache_key(
            "ambiguity-residual-counts",
            manifest=self.manifest,
            period=s.period,
            rules=s.disclosure,
            variables=self.variables,
        )
        counts = cached_frame(  # national counts: the same for every report of a batch
            key, lambda: residual_by_year_counts(self.data, self.variables, years=s.period)
        )
        out = {}
        for var in dict.fromkeys(g.split("|")[0] for g in counts[_GROUP]):
            part = counts[counts[_GROUP].str.startswith(f"{var}|")]
            out[var] = self._protect(part, kind=f"ambiguity-residual-{var}")
        return out

    def _cells(self, table: ProtectedTable, *, name: str, groups: Iterable[str]) -> list[dict]:
        return suppression_records(
            table, name=name, units=[self.unit], variables=list(groups), rules=self.rules
        )["cells"]

    # -- published shares ------------------------------------------------------------------------
    def _shown(self, table: ProtectedTable, group: str, unit: str | None = None) -> pd.DataFrame:
        d = table.data
        return d[(d[UNIT] == (unit or self.unit)) & (d[_GROUP] == group)].set_index("kod")

    def published(self, variable: str) -> dict[str, object]:
        """The unit's shares of one variable as they may be published (``<NA>`` = not shown)."""
        out: dict[str, object] = dict.fromkeys(
            (
                "nonresponse_share",
                "missing_share",
                "unknown_share",
                "residual_share",
                "contradiction_share",
            ),
            pd.NA,
        )
        q = self._shown(self.protected_quality[variable], variable)
        share = q["share"]
        parts = [share.get(c, pd.NA) for c in ("saknas", "okant", "ej_bedombart")]
        if not any(is_missing(p) for p in parts):
            out["nonresponse_share"] = float(sum(parts))  # type: ignore[arg-type]
            out["missing_share"] = float(parts[0])  # type: ignore[arg-type]
            out["unknown_share"] = float(parts[1]) + float(parts[2])  # type: ignore[arg-type]
        res, val = q["n_shown"].get("restkod", pd.NA), q["n_shown"].get("giltig", pd.NA)
        if not is_missing(res) and not is_missing(val):
            filled = int(res) + int(val)  # type: ignore[call-overload]
            if filled >= self.rules.min_denominator:
                out["residual_share"] = int(res) / filled  # type: ignore[call-overload]
        rank = self.assessment.ranking.set_index("variable")
        rule = rank.loc[variable, "contradiction_rule"] if variable in rank.index else None
        if isinstance(rule, str) and rule in self.protected_rules:
            c = self._shown(self.protected_rules[rule], rule)
            out["contradiction_share"] = c["share"].get("motsagelse", pd.NA)
        return out

    @functools.cached_property
    def published_ranking(self) -> pd.DataFrame:
        """The ranking rebuilt from what may be published.

        Every share is replaced by its published value, and the levels that rest on a share
        (non-response, residual code, contradictions) are recomputed from it: a share that is
        not published gives ``för lite data``, so no level, verdict or text reveals anything
        about a suppressed count. Verdicts, ranks and texts are then recomputed.
        """
        th = self.thresholds
        r = self.assessment.ranking.copy()
        pub = pd.DataFrame([self.published(v) for v in r["variable"]], index=r.index)
        for col in pub.columns:
            r[col] = pub[col].astype("Float64").astype(float)
        na = STATUS_NOT_APPLICABLE
        r["nonresponse_level"] = [
            level_nonresponse(int(n), s, m, th)
            for n, s, m in zip(r["n"], r["nonresponse_share"], r["missing_share"], strict=True)
        ]
        r["residual_level"] = [
            lv if lv == na else level_residual(True, int(n), s, ratio, bool(v), th)
            for lv, n, s, ratio, v in zip(
                r["residual_level"],
                r["n"],
                r["residual_share"],
                r["residual_ratio"],
                r["residual_varies"],
                strict=True,
            )
        ]
        r["contradiction_level"] = [
            lv if lv == na else level_contradiction(1, th.min_rows if s == s else 0, s, th)
            for lv, s in zip(r["contradiction_level"], r["contradiction_share"], strict=True)
        ]
        derived = [f"{k}_points" for k in EVIDENCE]
        derived += ["score", "n_unclear", "n_assessed", "verdict", "rank"]
        return explain_frame(rank_variables(r.drop(columns=derived), th))

    def _ranking_cells(self) -> list[dict]:
        cells: list[dict] = []
        for v in self.variables:
            cells += self._cells(self.protected_quality[v], name="ambiguity_quality", groups=[v])
        rank = self.assessment.ranking
        for rule in dict.fromkeys(rank["contradiction_rule"].dropna()):
            if rule in self.protected_rules:
                cells += self._cells(
                    self.protected_rules[rule], name="ambiguity_contradiction", groups=[rule]
                )
        return cells

    # -- blocks ----------------------------------------------------------------------------------
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
                "påhittade demonstrationsdata. Siffrorna beskriver inte någon verklig kommun.</p>"
            )
        if not s.is_national and self.n_own == 0:
            parts.append(
                f'<p class="wb-caveat"><strong>Inga registreringar.</strong> {esc(m.name)} har '
                f"inga uppföljningsregistreringar under {esc(s.period_label)}. Rapporten visar "
                "rikets bedömning.</p>"
            )
        elif self.too_few:
            parts.append(
                f'<p class="wb-caveat"><strong>För få registreringar.</strong> {esc(m.name)} har '
                f"färre än {esc(s.min_registrations)} registreringar under perioden. För att "
                "ingen enskild ska kunna identifieras visas rikets bedömning.</p>"
            )
        if s.variables_off:
            labels = ", ".join(load_catalogue().variable(v).sv for v in s.variables_off)
            parts.append(
                f'<p class="wb-note">Avstängda i kommunens parametrar och inte bedömda: '
                f"{esc(labels)}.</p>"
            )
        meta = {"audience": s.audience, "kommun": s.kommun, "period": s.period_label}
        return Block("\n".join(parts), data={REPORT_META_MIME: meta})

    def _evidence_cell(self, row: Mapping[str, Any], kind: str) -> str:
        level = str(row[f"{kind}_level"])
        value = {
            "nonresponse": _share_text(row["nonresponse_share"]),
            "residual": _share_text(row["residual_share"]),
            "agreement": f"α {format_number(row['alpha'], 2)}",
            "between": f"τ {format_number(row['between_tau'], 2)}",
            "contradiction": _share_text(row["contradiction_share"]),
            "instability": "",
        }[kind]
        shown = _LEVEL_HTML.get(level, esc(level))
        if level in (LEVEL_DOUBTFUL, LEVEL_UNCLEAR, "ok") and value:
            return f"<td>{shown} · {esc(value)}</td>"
        return f"<td>{shown}</td>"

    def ranking(self) -> Block:
        """The ranking table: verdict and the level (with its published value) of every kind."""
        r = self.published_ranking
        head = "".join(f'<th scope="col">{esc(EVIDENCE_SV[k])}</th>' for k in EVIDENCE)
        body = []
        for row in r.to_dict("records"):
            verdict = _LEVEL_HTML.get(row["verdict"], esc(row["verdict"]))
            cells = "".join(self._evidence_cell(row, k) for k in EVIDENCE)
            body.append(
                f"<tr><td>{esc(row['rank'])}</td>"
                f'<th scope="row">{esc(row["label_sv"])}</th><td>{verdict}</td>{cells}</tr>'
            )
        caption = (
            f"Variablerna ordnade efter hur otydliga de verkar, {unit_label(self.unit)}. Varje "
            "kolumn är ett underlag: ok, tveksam eller otydlig, med det mått som ligger bakom."
        )
        table = (
            f'<table class="wb-table"><caption>{esc(caption)}</caption>'
            + _colgroup(("label", 3), ("measure", len(EVIDENCE)))
            + '<thead><tr><th scope="col">Rang</th><th scope="col">Variabel</th>'
            f'<th scope="col">Bedömning</th>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table>"
        )
        legend = (
            '<p class="wb-note">Bortfall och restkategori: andel av de registreringar, insatser '
            "eller barn där variabeln är aktuell. α: Krippendorffs alfa i vinjettstudien "
            "(rikets). τ: hur mycket kommunernas fördelning skiljer sig utöver slumpen och "
            "ärendemixen (rikets). Motsägelser: andel där en regel i variabelkatalogen bryts. "
            f"{esc(SUPPRESSED)} = uppgiften redovisas inte.</p>"
        )
        return Block(
            table + legend,
            data={SUPPRESSION_LOG_MIME: suppression_payload(self._ranking_cells(), self.rules)},
        )

    def recommendations(self) -> Block:
        """Plain Swedish text for each flagged variable: observed, likely meaning, advice."""
        r = self.published_ranking
        flagged = r[r["verdict"].isin([LEVEL_UNCLEAR, LEVEL_DOUBTFUL])]
        if flagged.empty:
            return Block(
                '<p class="wb-note">Inga variabler bedöms som tveksamma eller otydliga med de '
                "underlag som finns.</p>"
            )
        parts = []
        for row in flagged.to_dict("records"):
            parts.append(
                f"<h3>{esc(row['label_sv'])}: {esc(row['verdict'])}</h3>"
                f"<p><strong>Det här syns:</strong> {esc(row['observed_sv'])}</p>"
                f"<p><strong>Vad det kan betyda:</strong> {esc(row['meaning_sv'])}</p>"
                f"<p><strong>Förslag:</strong> {esc(row['recommendation_sv'])}</p>"
            )
        return Block(
            "\n".join(parts),
            data={SUPPRESSION_LOG_MIME: suppression_payload(self._ranking_cells(), self.rules)},
        )

    def agreement(self) -> Block:
        """Krippendorff's alpha per variable in the vignette study (chart and table)."""
        from workbench.plots_ambiguity import plot_agreement

        t = self.assessment.agreement.table
        ok = t[t["status"] == "ok"] if "status" in t.columns else t.iloc[:0]
        if ok.empty:
            return Block(
                '<p class="wb-note">Det finns ingen vinjettstudie i data, så samstämmigheten '
                "mellan bedömare är <strong>inte tillgänglig</strong> (ej tillgängligt). Se "
                "docs/vignettes.md för hur en studie görs.</p>"
            )
        cat = load_catalogue()
        ok = ok.assign(label=[cat.variable(v).sv for v in ok["variable"]])
        ax = plot_agreement(ok)
        alt = "Punktdiagram, Krippendorffs alfa per variabel: " + "; ".join(
            f"{r.label} {format_number(r.alpha, 2)}" for r in ok.itertuples()
        )
        fig = figure_html(
            ax.figure,
            alt=alt + ".",
            caption="Samstämmighet när flera socialsekreterare kodade samma fallbeskrivningar "
            "(vinjetter). Streckade linjer: 0,667 (under: otillförlitligt) och 0,800 (över: "
            "tillförlitligt), Krippendorff 2004. Linjerna runt punkterna är 95 % "
            "konfidensintervall.",
        )
        rows = "".join(
            f'<tr><th scope="row">{esc(r.label)}</th>'
            f'<td class="num">{esc(format_number(r.alpha, 2))}</td>'
            f'<td class="num">{esc(format_number(r.alpha_ci_low, 2))}–'
            f"{esc(format_number(r.alpha_ci_high, 2))}</td>"
            f'<td class="num">{esc(format_number(r.fleiss_kappa, 2))}</td>'
            f'<td class="num">{esc(format_number(r.n_units, 0))}</td>'
            f"<td>{esc('ordinal' if r.level == 'ordinal' else 'nominal')}</td></tr>"
            for r in ok.itertuples()
        )
        table = (
            '<table class="wb-table"><caption>Samstämmighet per variabel i vinjettstudien'
            "</caption>"
            # vignettes are invented case descriptions, not children: their number is a measure
            + _colgroup(
                ("label", 1), ("measure", 1), ("interval", 1), ("measure", 2), ("label", 1)
            )
            + '<thead><tr><th scope="col">Variabel</th><th scope="col" class="num">Alfa</th>'
            '<th scope="col" class="num">95 % KI</th><th scope="col" class="num">Fleiss kappa'
            '</th><th scope="col" class="num">Vinjetter</th><th scope="col">Mätnivå</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>"
        )
        missing = t[t["status"] != "ok"]["variable"] if "status" in t else []
        note = ""
        if len(missing):
            names = ", ".join(cat.variable(v).sv for v in missing)
            note = (
                f'<p class="wb-note">Ingår inte i vinjettstudien (ej tillgängligt eller för lite '
                f"data): {esc(names)}.</p>"
            )
        return Block(
            f"{fig}\n<details><summary>Tabell: samstämmighet</summary>\n{table}\n</details>{note}"
        )

    def confusion(self) -> Block:
        """Which codes raters confuse, for the variable with the lowest agreement."""
        from workbench.plots_ambiguity import plot_confusion

        a = self.assessment.agreement
        if a.worst is None or a.confusion is None:
            return Block(
                '<p class="wb-note">Förväxlingstabell: ej tillgänglig (ingen vinjettstudie).</p>'
            )
        var = a.worst
        label = load_catalogue().variable(var).sv
        o = a.confusion
        codes = [_code_label(var, c) for c in o.index]
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = o.div(o.sum(axis=1), axis=0) * 100
        pct.index, pct.columns = codes, codes
        ax = plot_confusion(pct)
        fig = figure_html(
            ax.figure,
            alt=f"Värmekarta över förväxlingar mellan koderna för {label}.",
            caption=f"{label}: när en bedömare valde koden på raden, hur ofta en annan bedömare "
            "av samma vinjett valde koden i kolumnen (procent av raden). Diagonalen är "
            "samstämmighet.",
        )
        head = "".join(f'<th scope="col" class="num">{esc(c)}</th>' for c in codes)
        body = "".join(
            f'<tr><th scope="row">{esc(codes[i])}</th>'
            + "".join(
                f'<td class="num">{esc(format_number(v, 0, missing="."))} %</td>'
                if np.isfinite(v)
                else '<td class="num">.</td>'
                for v in pct.iloc[i].to_numpy(dtype=float)
            )
            + "</tr>"
            for i in range(len(codes))
        )
        table = (
            f'<table class="wb-table"><caption>{esc(label)}: förväxlingar (procent av raden)'
            "</caption>"
            + _colgroup(("label", 1), ("share", len(codes)))
            + f'<thead><tr><th scope="col">Kod</th>{head}</tr></thead><tbody>{body}</tbody>'
            "</table>"
        )
        pc = a.per_code
        per_code = ""
        if pc is not None:
            rows = "".join(
                f'<tr><th scope="row">{esc(_code_label(var, r.code))}</th>'
                f'<td class="num">{esc(format_percent(r.specific_agreement))}</td>'
                f'<td class="num">{esc(format_number(r.kappa, 2))}</td></tr>'
                for r in pc.itertuples()
            )
            per_code = (
                '<table class="wb-table"><caption>Samstämmighet per kod (andel specifik '
                "överensstämmelse och Fleiss kappa för koden mot alla andra)</caption>"
                + _colgroup(("label", 1), ("share", 1), ("measure", 1))
                + '<thead><tr><th scope="col">Kod</th><th scope="col" class="num">Specifik '
                'överensstämmelse</th><th scope="col" class="num">Kappa</th></tr></thead>'
                f"<tbody>{rows}</tbody></table>"
            )
        return Block(
            f"<h3>{esc(label)}</h3>\n{fig}\n<details><summary>Tabell: förväxlingar</summary>\n"
            f"{table}\n{per_code}\n</details>"
        )

    def rater_feedback(self) -> Block:
        """Where the municipality's raters diverge from the national consensus (aggregated)."""
        if self.settings.is_national or self.too_few:
            return Block(
                '<p class="wb-note">Återkopplingen jämför en kommuns bedömare med rikets '
                "samstämmighet och finns i kommunernas rapporter. Den redovisas aldrig per "
                "bedömare.</p>"
            )
        fb = self.assessment.feedback
        name = self.settings.municipality.name
        if fb is None or not (fb["status"] == "ok").any():
            few = fb is not None and (fb["status"] == "för få bedömare").any()
            why = (
                f"för få av kommunens socialsekreterare deltog (minst "
                f"{self.thresholds.min_raters} behövs)"
                if few
                else "kommunen deltog inte i vinjettstudien"
            )
            return Block(f'<p class="wb-note">Ingen återkoppling för {esc(name)}: {esc(why)}.</p>')
        cat = load_catalogue()
        rows = []
        for r in fb[fb["status"] == "ok"].itertuples():
            diverge = (
                f"{_code_label(r.variable, r.consensus_code)} → "
                f"{_code_label(r.variable, r.own_code)}"
                if isinstance(r.consensus_code, str) and isinstance(r.own_code, str)
                else "–"
            )
            rows.append(
                f'<tr><th scope="row">{esc(cat.variable(r.variable).sv)}</th>'
                f'<td class="num">{esc(format_percent(r.agreement))}</td>'
                f'<td class="num">{esc(format_percent(r.agreement_national))}</td>'
                f'<td class="num">{esc(format_number(100 * r.difference, 0))}</td>'
                f"<td>{esc(diverge)}</td></tr>"
            )
        table = (
            f'<table class="wb-table"><caption>{esc(_genitive(name))} bedömare jämfört med riket: andel '
            "bedömningar som stämmer med rikets vanligaste kod för samma vinjett</caption>"
            + _colgroup(("label", 1), ("share", 2), ("measure", 1), ("label", 1))
            + f'<thead><tr><th scope="col">Variabel</th><th scope="col" class="num">{esc(name)}'
            '</th><th scope="col" class="num">Riket</th><th scope="col" class="num">Skillnad '
            '(procentenheter)</th><th scope="col">Vanligaste avvikelse (rikets kod → kommunens)'
            f"</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
        few = fb[fb["status"] == "för få bedömare"]["variable"]
        note = (
            f'<p class="wb-note">För få av kommunens bedömare för: '
            f"{esc(', '.join(cat.variable(v).sv for v in few))}.</p>"
            if len(few)
            else ""
        )
        return Block(
            table + '<p class="wb-note">Sammanställt över kommunens alla bedömare; ingen enskild '
            "socialsekreterare redovisas.</p>" + note
        )

    # -- funnel plot ---------------------------------------------------------------------------
    @functools.cached_property
    def funnel_choice(self) -> tuple[str, str] | None:
        """(variable, code) of the funnel plot: the highest-ranked variable whose
        between-municipality evidence is flagged (else the highest-ranked with evidence), and its
        code with the largest spread."""
        r = self.assessment.ranking
        b = self.assessment.between
        usable = [v for v in r["variable"] if b[v].status == "ok"]
        if not usable:
            return None
        flagged = [
            v
            for v in usable
            if r.set_index("variable").loc[v, "between_level"] in (LEVEL_DOUBTFUL, LEVEL_UNCLEAR)
        ]
        var = (flagged or usable)[0]
        pc = b[var].per_code
        pc = pc[(pc["share"] >= 0.02) & pc["tau"].notna()]
        if pc.empty:
            return None
        top = pc.sort_values(["tau", "share"], ascending=False, kind="stable").iloc[0]
        return var, str(top["code"])

    @functools.cached_property
    def protected_funnel(self) -> ProtectedTable | None:
        choice = self.funnel_choice
        if choice is None:
            return None
        var, code = choice
        counts = code_counts(self.data, var, code)
        return self._protect(counts, kind=f"ambiguity-funnel-{var}-{code}")

    def funnel(self) -> Block:
        """Funnel plot of the most ambiguous variable's most varying code across municipalities."""
        from workbench.plots_ambiguity import plot_funnel

        choice = self.funnel_choice
        pt = self.protected_funnel
        if choice is None or pt is None:
            return Block(
                '<p class="wb-note">Skillnader mellan kommuner: ej tillgängligt (data från '
                "minst två kommuner behövs).</p>"
            )
        var, code = choice
        b = self.assessment.between[var]
        f = b.funnel(code)
        group = f"{var}:{code}"
        d = pt.data
        shown = d[(d[_GROUP] == group) & (d["kod"] == "kod") & d["share"].notna()]
        m = list_municipalities()
        shown = shown[shown[UNIT].isin(m["municipality_code"])]
        f = f[f["kommun"].isin(shown[UNIT])]
        names = dict(zip(m["municipality_code"], m["municipality_name"], strict=True))
        f = f.assign(kommun_label=f["kommun"].map(names))
        pc = b.per_code.set_index("code").loc[code]
        highlight = None if self.settings.is_national else self.settings.kommun
        label = load_catalogue().variable(var).sv
        code_sv = _code_label(var, code)
        ax = plot_funnel(
            f,
            national_share=float(pc["share"]),
            deff=float(pc["deff"]),
            tau=float(pc["tau"]) if np.isfinite(pc["tau"]) else 0.0,
            highlight=highlight,
            ylabel=f"Andel ”{code_sv}” (justerad för ärendemix)",
        )
        p0 = float(pc["share"])
        outside = f[np.abs(f["standardised_share"] - p0) > (f["high998"] - p0)]
        alt = (
            f"Trattdiagram för {label}, koden {code_sv}: kommunernas andel justerad för "
            f"ärendemix mot antal med svar, rikets andel {format_percent(p0)}; "
            f"{len(outside)} av {len(f)} visade kommuner ligger utanför 99,8-procentsgränserna."
        ).replace(NBSP, " ")
        fig = figure_html(
            ax.figure,
            alt=alt,
            caption=f"{label}, andel ”{code_sv}”. Varje punkt är en kommun (bara kommuner vars "
            "andel får redovisas). Gränserna visar hur mycket andelen kan variera av slump "
            "(95 % och 99,8 %); den streckade gränsen tar också med den spridning mellan "
            "kommuner som variabeln har.",
        )
        listed = ", ".join(sorted(outside["kommun_label"].astype(str))) or "inga"
        note = (
            f"<p>Kommuner utanför 99,8-procentsgränserna: {esc(listed)}. Spridningen mellan "
            f"kommunerna utöver slumpen och ärendemixen är τ = {esc(format_number(pc['tau'], 2))}"
            " för koden.</p>"
        )
        cells = suppression_records(
            pt,
            name="ambiguity_funnel",
            units=list(shown[UNIT]),
            variables=[group],
            rules=self.rules,
        )
        return Block(
            f"<h3>{esc(label)}: ”{esc(code_sv)}”</h3>\n{fig}\n{note}",
            data={SUPPRESSION_LOG_MIME: cells},
        )

    def residual_over_time(self) -> Block:
        """Share of residual codes per year, per variable with a residual code, for the unit."""
        from workbench.plots_ambiguity import plot_residual_trend

        tables = self.protected_residual_years
        if not tables:
            return Block('<p class="wb-note">Inga variabler med restkategori.</p>')
        cat = load_catalogue()
        rows = []
        cells: list[dict] = []
        for var, pt in tables.items():
            d = pt.data
            part = d[(d[UNIT] == self.unit) & (d["kod"] == "restkod")]
            for r in part.itertuples():
                rows.append(
                    {
                        "label": cat.variable(var).sv,
                        "ar": int(str(getattr(r, _GROUP)).split("|")[1]),
                        "share": r.share,
                    }
                )
            cells += self._cells(pt, name="ambiguity_residual", groups=list(part[_GROUP]))
        frame = pd.DataFrame(rows)
        ax = plot_residual_trend(frame)
        where = unit_label(self.unit)
        alt = f"Linjediagram, andel med restkod per år i {where}: " + "; ".join(
            f"{lab} " + ", ".join(f"{g.ar} {format_percent(g.share)}" for g in grp.itertuples())
            for lab, grp in frame.groupby("label", sort=False)
        )
        fig = figure_html(
            ax.figure,
            alt=(alt + ".").replace(NBSP, " "),
            caption=f"Andel med restkategorin (annat) bland dem med svar, per år, {where}. "
            "Saknade punkter redovisas inte (för få).",
        )
        years = sorted(frame["ar"].unique())
        head = "".join(f'<th scope="col" class="num">{y}</th>' for y in years)
        wide = frame.pivot_table(
            index="label", columns="ar", values="share", aggfunc="first", sort=False, dropna=False
        )
        body = "".join(
            f'<tr><th scope="row">{esc(lab)}</th>'
            + "".join(
                f'<td class="num">{esc(format_percent(wide.loc[lab].get(y, pd.NA)))}</td>'
                for y in years
            )
            + "</tr>"
            for lab in wide.index
        )
        table = (
            f'<table class="wb-table"><caption>Andel med restkategori per år, {esc(where)}'
            "</caption>"
            + _colgroup(("label", 1), ("share", len(years)))
            + f'<thead><tr><th scope="col">Variabel</th>{head}</tr></thead><tbody>{body}</tbody>'
            "</table>"
        )
        return Block(
            f"{fig}\n<details><summary>Tabell: restkategori per år</summary>\n{table}\n</details>",
            data={SUPPRESSION_LOG_MIME: suppression_payload(cells, self.rules)},
        )

    def methods(self) -> Block:
        """How the evidence is computed, the thresholds and the disclosure rules (appendix)."""
        th = self.thresholds
        rules = self.rules
        items = [
            (
                "Bortfall",
                "andel ej ifyllda, okänt och kan ej bedömas. Tveksam från "
                f"{format_percent(th.nonresponse_moderate)} (eller {format_percent(th.missing_moderate)}"
                f" ej ifyllda), otydlig från {format_percent(th.nonresponse_strong)}.",
            ),
            (
                "Restkategori",
                "andel med koden annat bland dem med svar, jämfört med listans övriga koder och "
                f"med andra kommuner. Tveksam från {format_percent(th.residual_moderate)}, otydlig "
                f"från {format_percent(th.residual_strong)} eller när annat dessutom används mer "
                "än en typisk kod eller varierar mellan kommunerna.",
            ),
            (
                "Samstämmighet",
                "Krippendorffs alfa i vinjettstudien (ordinal för ordnade kodlistor) med 95 % "
                "bootstrapintervall över vinjetter. Tveksam under "
                f"{format_number(th.alpha_moderate, 3)}, otydlig under "
                f"{format_number(th.alpha_strong, 3)} (Krippendorff 2004). Färre än "
                f"{th.min_vignettes} vinjetter eller ett intervall bredare än "
                f"{format_number(th.max_ci_width, 2)}: för lite data.",
            ),
            (
                "Skillnader mellan kommuner",
                "kommunernas förväntade antal per kod räknas fram från rikets andelar inom "
                "grupper av ålder, kön, öppenvård eller placering och år (indirekt "
                "standardisering). Spridningen τ är standardavvikelsen mellan kommunernas "
                "kvoter observerat/förväntat utöver slumpen (Spiegelhalter 2005), med "
                "upprepade registreringar av samma barn beaktade. Testet jämför med simulerade "
                "data utan skillnader mellan kommuner. Tveksam när τ är minst "
                f"{format_number(th.between_moderate, 2)}, otydlig från "
                f"{format_number(th.between_strong, 2)} (p högst {format_number(th.between_p, 3)}).",
            ),
            (
                "Motsägelser",
                "regler i variabelkatalogen (t.ex. öppenvårdsinsats med lagrum LVU 2 § eller 3 §). "
                f"Tveksam från {format_percent(th.contradiction_moderate)}, otydlig från "
                f"{format_percent(th.contradiction_strong)} av raderna där regeln gäller.",
            ),
            (
                "Förändring över tid",
                "ett plötsligt skifte i en kommuns användning av en kod, mer än rikets "
                "utveckling samma år (poängtest för ett nivåskifte, justerat för antalet test "
                f"med Benjamini–Hochberg). Skiftet ska vara minst {format_percent(th.shift_min)}.",
            ),
        ]
        lis = "".join(f"<li><strong>{esc(k)}:</strong> {esc(v)}</li>" for k, v in items)
        return Block(
            "<h3>Så bedöms variablerna</h3>"
            f"<ul>{lis}</ul>"
            "<p>Varje underlag ger ok (0 poäng), tveksam (1) eller otydlig (2). Bedömningen är "
            f"otydlig från {esc(th.verdict_unclear)} poäng eller två otydliga underlag, tveksam "
            f"från {esc(th.verdict_doubtful)} poäng. Med färre än {esc(th.min_rows)} rader för "
            "en variabel blir bedömningen för lite data, aldrig en flagga.</p>"
            "<h3>Röjandekontroll</h3>"
            f"<p>Antal mellan 1 och {esc(rules.min_count - 1)} redovisas inte ({SUPPRESSED}), och "
            f"andelar bara när underlaget är minst {esc(rules.min_denominator)}. Mönstret "
            "beräknas en gång för alla kommuner, län och riket. Vinjettstudiens resultat "
            "redovisas sammanställda, aldrig per socialsekreterare.</p>"
            f"<p>Källa: {esc(self.manifest.get('source', ''))}. Variabelkatalog version "
            f"{esc(self.manifest.get('catalogue_version', load_catalogue().version))}. workbench "
            f"{esc(__version__)}. Parametrar: {esc(', '.join(self.settings.sources))}.</p>"
        )
