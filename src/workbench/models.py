"""Equal care: do goal attainment and placement breakdown differ between groups of children?

Logistic regressions (statsmodels GLM, Binomial family, logit link, formula API) of an outcome on
sex, origin, identified vulnerability, age band and intervention type, fitted on registrations.
Registrations of the same child, and the children of one municipality, are not independent:
standard errors are **cluster-robust by municipality** (sandwich estimator with the usual
small-sample correction), which is valid for any correlation within a municipality, including
the registrations of one child (children are nested in municipalities). With fewer than
``min_clusters`` municipalities (a county or one municipality) the clusters are the children
instead. ``docs/methods.md`` (*Equal care*) gives the reasons for this choice over GEE and mixed
models.

Each comparison of a group with its reference group is reported as an adjusted odds ratio and an
**average marginal risk difference** (the mean over the sample of the predicted probability with
the group set to the compared level minus set to the reference, with a delta-method interval), in
percentage points, with a Swedish sentence. Many groups are compared at once, so every result
carries Benjamini–Hochberg q-values over all its comparisons, and a difference is called *säker*
only when q <= alpha; otherwise the sentence says *ingen säker skillnad*.

The results hold unprotected numbers (private zone); :mod:`workbench.views_analysis` hides the
comparisons of groups below the disclosure thresholds before anything is shown.
"""

from __future__ import annotations

import html
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from workbench import fmt, stats
from workbench.catalogue import code_label, code_order, load_catalogue

__all__ = [
    "COVARIATES",
    "OUTCOMES",
    "EqualCareResult",
    "OutcomeSpec",
    "equal_care",
    "model_frame",
]

logger = logging.getLogger(__name__)

ClusterChoice = Literal["auto", "kommun", "barn_id", "none"]


@dataclass(frozen=True)
class OutcomeSpec:
    """A binary outcome for the equal-care models.

    Attributes
    ----------
    name
        ``"maluppfyllelse"`` (goals fully reached) or ``"sammanbrott"`` (placement breakdown).
    label_sv
        Swedish name of the outcome.
    verb_sv
        Swedish predicate for sentences (``"når målen helt"``).
    sample_sv
        Which registrations the model uses, in Swedish.
    covariates
        Default covariates (see :data:`COVARIATES`).
    references
        Reference level per covariate where it differs from the default.
    higher_is_better
        Whether a higher share is the better outcome (for wording only).
    """

    name: str
    label_sv: str
    verb_sv: str
    sample_sv: str
    covariates: tuple[str, ...]
    references: Mapping[str, str] = field(default_factory=dict)
    higher_is_better: bool = True


OUTCOMES: dict[str, OutcomeSpec] = {
    "maluppfyllelse": OutcomeSpec(
        name="maluppfyllelse",
        label_sv="måluppfyllelse (målen helt uppnådda)",
        verb_sv="når målen helt",
        sample_sv=(
            "registreringar med måluppfyllelse helt, delvis eller inte alls; "
            "'kan ej bedömas' ingår inte"
        ),
        covariates=("kon", "ursprung", "utsatthet", "aldersgrupp", "insatsgrupp"),
        higher_is_better=True,
    ),
    "sammanbrott": OutcomeSpec(
        name="sammanbrott",
        label_sv="sammanbrott i placeringen",
        verb_sv="får sammanbrott i placeringen",
        sample_sv="avslutade placeringar med angiven avslutsorsak",
        covariates=("kon", "ursprung", "utsatthet", "aldersgrupp", "insatstyp"),
        references={"insatstyp": "familjehem"},
        higher_is_better=False,
    ),
}
"""The outcomes that :func:`equal_care` knows."""

#: Default reference level and the levels a covariate may take (``None``: catalogue codes of
#: kind valid or residual).
COVARIATES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "kon": ("pojke", ("pojke", "flicka")),
    "ursprung": ("sverige", ("sverige", "norden", "eu_ees", "ovriga_varlden")),
    "utsatthet": ("ingen", ("ingen", "utsatt")),
    "aldersgrupp": ("0-6", None),
    "insatsgrupp": ("oppenvard", None),
    "insatstyp": ("strukturerat_program", None),
}
"""Covariates of the models: reference level and allowed levels (unknown codes are excluded)."""

_PLURAL_SV = {"flicka": "flickor", "pojke": "pojkar"}
_VULNERABILITY_SV = {
    "utsatt": "barn med identifierad utsatthet",
    "ingen": "barn utan identifierad utsatthet",
}
_GROUP_SV = {"oppenvard": "barn i öppenvård", "placering": "placerade barn"}
_GROUP_WITHIN_SV = {"oppenvard": "i öppenvård", "placering": "i placering"}
_MINUS = "\u2212"


def _covariate_label_sv(name: str) -> str:
    """Lower-case Swedish name of a covariate, from the catalogue."""
    if name == "utsatthet":
        name = "identifierad_utsatthet"
    label = load_catalogue().variable(name).sv
    return label[:1].lower() + label[1:]


def _level_label_sv(covariate: str, level: str) -> str:
    if covariate == "utsatthet":
        return "Identifierad utsatthet" if level == "utsatt" else "Ingen identifierad utsatthet"
    return code_label(covariate, level)


def group_phrase_sv(covariate: str, level: str) -> str:
    """Swedish noun phrase for a group of children, e.g. ``"flickor"``, ``"barn 13–17 år"``."""
    if covariate == "kon":
        return _PLURAL_SV.get(level, f"barn med kön {code_label('kon', level).lower()}")
    if covariate == "utsatthet":
        return _VULNERABILITY_SV[level]
    if covariate == "ursprung":
        return f"barn med ursprung i {code_label('ursprung', level)}"
    if covariate == "aldersgrupp":
        return f"barn {code_label('aldersgrupp', level)}"
    if covariate == "insatsgrupp":
        return _GROUP_SV.get(level, f"barn med {code_label('insatsgrupp', level).lower()}")
    if covariate == "insatstyp":
        return f"barn med insatstypen {code_label('insatstyp', level)}"
    return f"barn med {covariate} = {level}"


def stratum_phrase_sv(within: str, value: str) -> str:
    """Swedish qualifier for a stratum, e.g. ``"med insatstypen HVB (…)"``."""
    if within == "insatsgrupp":
        return _GROUP_WITHIN_SV.get(value, f"med {code_label('insatsgrupp', value).lower()}")
    if within == "insatstyp":
        return f"med insatstypen {code_label('insatstyp', value)}"
    if within in load_catalogue().variables:
        var = load_catalogue().variable(within)
        return f"med {var.sv.lower()} {code_label(within, value)}"
    return f"med {within} {value}"


def _join_sv(items: Sequence[str]) -> str:
    items = list(items)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " och " + items[-1]


def _num(x: float, decimals: int) -> str:
    return fmt.format_number(x, decimals).replace("-", _MINUS)


# --------------------------------------------------------------------------------------------
# Model frame
# --------------------------------------------------------------------------------------------


def _vulnerability(data: pd.DataFrame) -> pd.Series:
    """``utsatt`` (any identified vulnerability other than 'ingen'), ``ingen``, or missing."""
    var = load_catalogue().variable("identifierad_utsatthet")
    cols = list(var.columns)
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"vulnerability columns {missing[:2]}… are not in the data")
    filled = data[cols].notna().any(axis=1).to_numpy()
    others = [c for c in cols if not c.endswith("__ingen")]
    any_other = data[others].fillna(False).to_numpy(dtype=bool).any(axis=1)
    values = np.where(~filled, None, np.where(any_other, "utsatt", "ingen"))
    return pd.Series(values, index=data.index, dtype="str")


def _allowed_levels(covariate: str) -> tuple[str, ...]:
    ref, allowed = COVARIATES[covariate]
    if allowed is not None:
        return allowed
    cat = load_catalogue()
    var = cat.variable(covariate)
    if var.codelist is None:  # derived grouping variable (insatsgrupp)
        return tuple(code_order(covariate))
    return var.codelist.codes_of_kind("valid", "residual")


def _outcome(data: pd.DataFrame, spec: OutcomeSpec) -> tuple[pd.Series, pd.Series, dict[str, int]]:
    """(sample mask, outcome 0/1, exclusions by reason) for an outcome."""
    if spec.name == "maluppfyllelse":
        m = data["maluppfyllelse"].astype("str")
        sample = m.isin(["helt", "delvis", "inte_alls"]).fillna(False).astype(bool)
        y = (m == "helt").fillna(False).astype("int64")
        excl = {
            "måluppfyllelse kan ej bedömas": int((m == "kan_ej_bedomas").sum()),
            "måluppfyllelse saknas": int(m.isna().sum()),
        }
    elif spec.name == "sammanbrott":
        ending = (data["registreringstyp"] == "avslut").fillna(False).astype(bool)
        placement = (data["insatsgrupp"] == "placering").fillna(False).astype(bool)
        reason = data["avslutsorsak"].astype("str")
        sample = ending & placement & reason.notna()
        y = (reason == "sammanbrott").fillna(False).astype("int64")
        excl = {"avslutsorsak saknas": int((ending & placement & reason.isna()).sum())}
    else:
        raise ValueError(f"unknown outcome {spec.name!r}; choose among {list(OUTCOMES)}")
    return sample, y, excl


def model_frame(
    data: pd.DataFrame,
    *,
    outcome: str,
    covariates: Sequence[str] | None = None,
    references: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows and columns a model uses, with unknown and missing values excluded.

    Parameters
    ----------
    data
        Registrations (:func:`workbench.dataset.load_registrations`); ``str``, ``object`` or
        categorical columns.
    outcome
        A key of :data:`OUTCOMES`.
    covariates
        Names among :data:`COVARIATES` (default the outcome's).
    references
        Reference level per covariate (default :data:`COVARIATES` and the outcome's).

    Returns
    -------
    (frame, excluded)
        ``frame``: ``y`` (0/1), one categorical column per covariate (reference first), ``kommun``
        and ``barn_id``. ``excluded``: ``reason``, ``n`` (registrations left out and why: outcome
        not assessable or missing, a covariate unknown or missing).
    """
    spec = OUTCOMES.get(outcome)
    if spec is None:
        raise ValueError(f"unknown outcome {outcome!r}; choose among {list(OUTCOMES)}")
    covs = list(spec.covariates if covariates is None else covariates)
    unknown = [c for c in covs if c not in COVARIATES]
    if unknown:
        raise ValueError(f"unknown covariate(s) {unknown}; choose among {list(COVARIATES)}")
    refs = {c: COVARIATES[c][0] for c in covs} | dict(spec.references) | dict(references or {})
    sample, y, excl = _outcome(data, spec)
    frame = pd.DataFrame({"y": y}, index=data.index)
    ok = sample.to_numpy(dtype=bool).copy()
    reasons = dict(excl)
    for c in covs:
        values = _vulnerability(data) if c == "utsatthet" else data[c].astype("str")
        allowed = _allowed_levels(c)
        valid = values.isin(allowed).fillna(False).to_numpy(dtype=bool)
        label = _covariate_label_sv(c)
        reasons[f"{label} okänd eller saknas"] = int((ok & ~valid).sum())
        ok &= valid
        ref = refs.get(c, COVARIATES[c][0])
        levels = [ref, *[lv for lv in allowed if lv != ref]]
        frame[c] = pd.Categorical(values.where(valid), categories=levels)
    frame["kommun"] = data["kommun"].astype("str").to_numpy()
    frame["barn_id"] = data["barn_id"].astype("str").to_numpy() if "barn_id" in data else ""
    excluded = pd.DataFrame(
        [{"reason": k, "n": v} for k, v in reasons.items() if v], columns=["reason", "n"]
    )
    return frame.loc[ok].reset_index(drop=True), excluded


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EqualCareResult:
    """Adjusted comparisons of groups of children for one outcome.

    Attributes
    ----------
    outcome
        The :class:`OutcomeSpec`.
    estimates
        One row per stratum x covariate x compared level: ``stratum`` (``"alla"`` without
        stratification), ``covariate``, ``level``, ``reference``, ``n_level``, ``events_level``,
        ``n_reference``, ``events_reference`` (registrations and outcomes in the compared and
        the reference group), ``log_odds``, ``std_err``, ``odds_ratio``, ``or_ci_low``,
        ``or_ci_high``, ``p_value``, ``q_value`` (Benjamini–Hochberg over all rows),
        ``risk_difference`` (average marginal risk difference, proportion units),
        ``rd_ci_low``, ``rd_ci_high``, ``significant`` (q <= alpha) and ``text_sv``.
    models
        One row per stratum: ``stratum``, ``n``, ``n_events``, ``n_clusters``, ``cluster``,
        ``covariates``, ``status`` (``"ok"`` or why it was not fitted) and ``warnings``.
    excluded
        Registrations left out, by reason.
    method
        Description of the model, standard errors and adjustments.
    within
        The stratifying variable, if any.
    level, alpha
        Interval level and false discovery rate.
    """

    outcome: OutcomeSpec
    estimates: pd.DataFrame
    models: pd.DataFrame
    excluded: pd.DataFrame
    method: str
    within: str | None = None
    level: float = 0.95
    alpha: float = 0.05

    def to_frame(self) -> pd.DataFrame:
        """Copy of :attr:`estimates`."""
        return self.estimates.copy()

    def text_sv(self) -> list[str]:
        """The Swedish sentences, one per comparison."""
        return list(self.estimates["text_sv"])

    def _repr_html_(self) -> str:
        head = (
            f"<p><strong>Likvärdig vård: {html.escape(self.outcome.label_sv)}</strong>. "
            f"<small>{html.escape(self.method)}</small></p>"
        )
        items = "".join(f"<li>{html.escape(t)}</li>" for t in self.text_sv())
        table = self.estimates.drop(columns=["text_sv"]).to_html(escape=True, index=False)
        return f"{head}<ul>{items}</ul>{table}"


def _method_text(level: float, cluster_note: str) -> str:
    lvl = fmt.format_number(100 * level, 0)
    return (
        "Logistic regression (statsmodels GLM, Binomial family, logit link, formula API); "
        f"{cluster_note}; adjusted odds ratios with {lvl} % Wald intervals; average marginal "
        "risk differences (predicted probability with the group set to the compared level minus "
        "the reference level, averaged over the sample) with delta-method intervals; "
        "Benjamini-Hochberg q-values over all comparisons"
    )


def _ame(
    exog: np.ndarray,
    params: np.ndarray,
    cov: np.ndarray,
    cols: Sequence[int],
    col: int,
) -> tuple[float, float]:
    """Average marginal risk difference of one dummy vs the reference, and its delta-method SE.

    Counterfactual predictions set every dummy of the covariate (``cols``) to 0 (the reference)
    or set ``col`` to 1; the gradient of the mean difference is
    ``mean(w1 * x1 - w0 * x0)`` with ``w = p (1 - p)``.
    """
    cols = list(cols)
    eta = exog @ params
    eta0 = eta - exog[:, cols] @ params[cols]
    eta1 = eta0 + params[col]
    p0 = 1.0 / (1.0 + np.exp(-eta0))
    p1 = 1.0 / (1.0 + np.exp(-eta1))
    w0, w1 = p0 * (1 - p0), p1 * (1 - p1)
    n = exog.shape[0]
    grad = ((w1 - w0) @ exog) / n
    grad[cols] = 0.0
    grad[col] = w1.mean()
    var = float(grad @ cov @ grad)
    return float(np.mean(p1 - p0)), float(np.sqrt(max(var, 0.0)))


def _drop_degenerate(
    frame: pd.DataFrame, covs: list[str], notes: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Leave out levels without outcome variation (no estimate exists) and one-level covariates."""
    changed = True
    while changed:
        changed = False
        for c in list(covs):
            g = frame.groupby(c, observed=True)["y"].agg(["size", "sum"])
            bad = g.index[(g["sum"] == 0) | (g["sum"] == g["size"])].tolist()
            if bad and len(g) > 1:
                lost = int(frame[c].isin(bad).sum())
                notes.append(
                    f"{_covariate_label_sv(c)}: {len(bad)} kategori(er) utan variation i utfallet "
                    f"uteslutna ({lost} registreringar)"
                )
                frame = frame.loc[~frame[c].isin(bad)]
                changed = True
            present = [lv for lv in frame[c].cat.categories if (frame[c] == lv).any()]
            if len(present) < 2:
                notes.append(f"{_covariate_label_sv(c)}: bara en kategori, ingår inte i modellen")
                covs.remove(c)
                changed = True
                continue
            if frame[c].cat.categories[0] not in present:
                new_ref = present[0]
                notes.append(
                    f"{_covariate_label_sv(c)}: referensen saknas, ny referens "
                    f"{_level_label_sv(c, new_ref)}"
                )
            frame = frame.assign(**{c: frame[c].cat.set_categories(present)})
    return frame, covs


def _fit_one(
    frame: pd.DataFrame,
    covs: list[str],
    *,
    cluster: ClusterChoice,
    min_clusters: int,
    level: float,
) -> tuple[pd.DataFrame, dict[str, object]]:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    notes: list[str] = []
    frame, covs = _drop_degenerate(frame, list(covs), notes)
    n_kommun = int(frame["kommun"].nunique())
    if cluster == "auto":
        cluster = "kommun" if n_kommun >= min_clusters else "barn_id"
    if cluster == "kommun":
        groups = pd.factorize(frame["kommun"])[0]
        note = f"cluster-robust standard errors by municipality ({n_kommun} clusters)"
    elif cluster == "barn_id":
        groups = pd.factorize(frame["barn_id"])[0]
        note = (
            f"cluster-robust standard errors by child ({int(groups.max()) + 1} clusters; "
            f"fewer than {min_clusters} municipalities)"
        )
    else:
        groups = None
        note = "heteroskedasticity-robust (HC1) standard errors, no clustering"
    info: dict[str, object] = {
        "n": len(frame),
        "n_events": int(frame["y"].sum()),
        "n_clusters": int(groups.max()) + 1 if groups is not None and len(frame) else 0,
        "cluster": cluster,
        "covariates": ", ".join(covs),
        "status": "ok",
        "warnings": "; ".join(notes),
        "method_note": note,
    }
    formula = "y ~ " + (" + ".join(covs) if covs else "1")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = smf.glm(formula, frame, family=sm.families.Binomial())
        if groups is not None:
            fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
        else:
            fit = model.fit(cov_type="HC1")
    caught = [f"{w.category.__name__}: {w.message}" for w in record]
    if caught:
        info["warnings"] = "; ".join([*notes, *dict.fromkeys(caught)])
        for msg in dict.fromkeys(caught):
            logger.warning("equal_care: %s", msg)
    names = list(model.exog_names)
    exog = np.asarray(model.exog, dtype="float64")
    params = np.asarray(fit.params, dtype="float64")
    cov = np.asarray(fit.cov_params(), dtype="float64")
    z = float(sps.norm.ppf(1 - (1 - level) / 2))
    rows = []
    for c in covs:
        cats = list(frame[c].cat.categories)
        ref = cats[0]
        dummy = {lv: names.index(f"{c}[T.{lv}]") for lv in cats[1:]}
        counts = frame.groupby(c, observed=True)["y"].agg(["size", "sum"])
        for lv, j in dummy.items():
            beta, se = params[j], float(np.sqrt(max(cov[j, j], 0.0)))
            rd, rd_se = _ame(exog, params, cov, list(dummy.values()), j)
            p = float(2 * sps.norm.sf(abs(beta / se))) if se > 0 else np.nan
            rows.append(
                {
                    "covariate": c,
                    "level": lv,
                    "reference": ref,
                    "n_level": int(counts.loc[lv, "size"]),
                    "events_level": int(counts.loc[lv, "sum"]),
                    "n_reference": int(counts.loc[ref, "size"]),
                    "events_reference": int(counts.loc[ref, "sum"]),
                    "log_odds": float(beta),
                    "std_err": se,
                    "odds_ratio": float(np.exp(beta)),
                    "or_ci_low": float(np.exp(beta - z * se)),
                    "or_ci_high": float(np.exp(beta + z * se)),
                    "p_value": p,
                    "risk_difference": rd,
                    "rd_ci_low": rd - z * rd_se,
                    "rd_ci_high": rd + z * rd_se,
                }
            )
    return pd.DataFrame(rows), info


_ESTIMATE_COLUMNS = [
    "stratum",
    "covariate",
    "level",
    "reference",
    "n_level",
    "events_level",
    "n_reference",
    "events_reference",
    "log_odds",
    "std_err",
    "odds_ratio",
    "or_ci_low",
    "or_ci_high",
    "p_value",
    "q_value",
    "risk_difference",
    "rd_ci_low",
    "rd_ci_high",
    "significant",
    "text_sv",
]


def sentence_sv(
    row: Mapping[str, object],
    *,
    spec: OutcomeSpec,
    adjusted_for: Sequence[str],
    within: str | None,
    level: float,
    alpha: float,
) -> str:
    """The Swedish sentence for one comparison (see :class:`EqualCareResult`)."""
    cov, lv, ref = str(row["covariate"]), str(row["level"]), str(row["reference"])
    v = {
        k: float(row[k])  # type: ignore[arg-type]
        for k in (
            "odds_ratio",
            "or_ci_low",
            "or_ci_high",
            "log_odds",
            "risk_difference",
            "rd_ci_low",
            "rd_ci_high",
            "q_value",
        )
    }
    subject = group_phrase_sv(cov, lv)
    if within is not None and row["stratum"] != "alla":
        subject = f"{subject} {stratum_phrase_sv(within, str(row['stratum']))}"
    other = group_phrase_sv(cov, ref)
    adj = f", justerat för {_join_sv(adjusted_for)}" if adjusted_for else ""
    lvl = f"{fmt.format_number(100 * level, 0)}{fmt.NBSP}% KI"
    or_ci = f"{lvl} {_num(v['or_ci_low'], 2)}–{_num(v['or_ci_high'], 2)}"
    or_text = f"oddskvot {_num(v['odds_ratio'], 2)} ({or_ci})"
    rd_text = (
        f"{_num(100 * v['risk_difference'], 1)} procentenheter "
        f"({lvl} {_num(100 * v['rd_ci_low'], 1)} till {_num(100 * v['rd_ci_high'], 1)})"
    )
    if bool(row["significant"]):
        direction = "i högre grad" if v["log_odds"] > 0 else "i lägre grad"
        return (
            f"{subject[:1].upper()}{subject[1:]} {spec.verb_sv} {direction} än {other}{adj}: "
            f"{or_text}, skillnad {rd_text}."
        )
    tail = ""
    if v["or_ci_low"] > 1 or v["or_ci_high"] < 1:
        tail = (
            " Skillnaden är inte säker när hänsyn tas till att många jämförelser görs "
            f"(q = {_num(v['q_value'], 2)})."
        )
    return (
        f"Ingen säker skillnad mellan {subject} och {other} i hur ofta barnen "
        f"{spec.verb_sv}{adj} (oddskvot {_num(v['odds_ratio'], 2)}; {or_ci}).{tail}"
    )


def equal_care(
    data: pd.DataFrame,
    *,
    outcome: str = "maluppfyllelse",
    covariates: Sequence[str] | None = None,
    references: Mapping[str, str] | None = None,
    within: str | None = None,
    cluster: ClusterChoice = "auto",
    min_clusters: int = 30,
    min_events: int = 10,
    level: float = 0.95,
    alpha: float = 0.05,
) -> EqualCareResult:
    """Adjusted odds ratios and risk differences between groups of children for one outcome.

    Parameters
    ----------
    data
        Registrations (:func:`workbench.dataset.load_registrations`), for any set of
        municipalities.
    outcome
        ``"maluppfyllelse"`` (goals fully reached among helt / delvis / inte alls; *kan ej
        bedömas* is excluded because the attainment is unknown) or ``"sammanbrott"``
        (breakdown among ended placements with a reason for ending).
    covariates, references
        See :func:`model_frame`. Defaults: sex, origin, identified vulnerability, age band and
        intervention group (goal attainment) or placement type (breakdown, reference family
        home).
    within
        Fit one model per value of this covariate (e.g. ``"insatstyp"``), without it as a
        covariate: "girls in HVB compared with boys in HVB".
    cluster
        ``"auto"`` (municipalities when there are at least ``min_clusters``, else children),
        ``"kommun"``, ``"barn_id"`` or ``"none"`` (HC1 robust errors).
    min_clusters
        Fewest municipalities for municipality clusters under ``"auto"``.
    min_events
        A model (stratum) is fitted only with at least this many registrations with and
        without the outcome.
    level, alpha
        Interval level; false discovery rate for calling a difference *säker*.

    Returns
    -------
    EqualCareResult
    """
    spec = OUTCOMES.get(outcome)
    if spec is None:
        raise ValueError(f"unknown outcome {outcome!r}; choose among {list(OUTCOMES)}")
    covs = list(spec.covariates if covariates is None else covariates)
    if within is not None and within not in covs:
        covs.append(within)
    frame, excluded = model_frame(data, outcome=outcome, covariates=covs, references=references)
    fit_covs = [c for c in covs if c != within]
    strata: list[tuple[str, pd.DataFrame]]
    if within is None:
        strata = [("alla", frame)]
    else:
        strata = [
            (str(v), frame.loc[frame[within] == v])
            for v in frame[within].cat.categories
            if (frame[within] == v).any()
        ]
    parts, infos = [], []
    notes = set()
    for name, part in strata:  # a loop over strata (intervention types), not municipalities
        n_ev = int(part["y"].sum())
        if n_ev < min_events or len(part) - n_ev < min_events:
            infos.append(
                {
                    "stratum": name,
                    "n": len(part),
                    "n_events": n_ev,
                    "n_clusters": 0,
                    "cluster": "",
                    "covariates": "",
                    "status": f"för få registreringar med och utan utfallet (minst {min_events})",
                    "warnings": "",
                }
            )
            continue
        est, info = _fit_one(
            part, fit_covs, cluster=cluster, min_clusters=min_clusters, level=level
        )
        notes.add(str(info.pop("method_note")))
        infos.append({"stratum": name, **info})
        if not est.empty:
            parts.append(est.assign(stratum=name))
    est = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            columns=[
                c for c in _ESTIMATE_COLUMNS if c not in ("q_value", "significant", "text_sv")
            ]
        )
    )
    bh = stats.benjamini_hochberg(est["p_value"].to_numpy(dtype="float64"), alpha=alpha)
    est["q_value"] = bh["q_value"].to_numpy()
    est["significant"] = (est["q_value"] <= alpha).fillna(False).astype(bool).to_numpy()
    texts = []
    for row in est.to_dict("records"):
        adjusted = [_covariate_label_sv(c) for c in fit_covs if c != row["covariate"]]
        texts.append(
            sentence_sv(
                row, spec=spec, adjusted_for=adjusted, within=within, level=level, alpha=alpha
            )
        )
    est["text_sv"] = pd.array(texts, dtype="str")
    est = est[_ESTIMATE_COLUMNS].reset_index(drop=True)
    models = pd.DataFrame(
        infos,
        columns=[
            "stratum",
            "n",
            "n_events",
            "n_clusters",
            "cluster",
            "covariates",
            "status",
            "warnings",
        ],
    )
    method = _method_text(level, " / ".join(sorted(notes)) if notes else "no model fitted")
    return EqualCareResult(
        outcome=spec,
        estimates=est,
        models=models,
        excluded=excluded,
        method=method,
        within=within,
        level=level,
        alpha=alpha,
    )
