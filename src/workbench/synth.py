"""A realistic, deterministic synthetic national dataset that plants known truths.

:func:`generate` returns the five canonical tables (``children``, ``interventions``,
``registrations``, ``vignette_ratings``, ``survey``) and a ground-truth manifest: a JSON-able dict
holding every parameter the generator used, so tests and methods can check that they find what was
planted (effects, null effects, trends, municipality quirks and ambiguous variables) and nothing
else. :func:`build` writes both with :func:`workbench.dataset.write_dataset`.

How the data come about (see ``docs/synthetic-data.md`` for the full description):

1. **Municipalities** get a synthetic child-care volume proportional to an approximate population
   (hard-coded for the largest and the demo county, a deterministic lognormal for the rest) times
   seeded noise.
2. **Histories** are simulated per child, one round at a time (vectorised over children): the first
   intervention, then replacements (after a breakdown or an ending "replaced by another
   intervention") and re-referrals, each with investigation dates, type, legal basis, duration,
   follow-up registrations and an ending.
3. **Recording** turns true values into recorded ones: every code variable is passed through the
   same generic recording process. Variables listed in ``ambiguous_variables`` get strong
   municipality coding styles, residual-code overuse, planted contradictions and more
   "kan ej bedömas"/"okänt"/missing; ``clean_variables`` get almost none. The outcomes (goal
   attainment, placement breakdown) follow logistic models of the *recorded* covariates, drawn
   after those were recorded, so the planted effects hold exactly in the dataset. The
   municipality quirks of the demo county are applied last.
4. A **vignette study** and a **municipality survey** are generated beside the register.

Everything is drawn from ``numpy.random.SeedSequence`` streams keyed by the seed and a component
name, so the output depends only on the configuration (not on ``PYTHONHASHSEED``), and one
component can change without shifting the draws of the others.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtri

from workbench.catalogue import MULTI_SEP, Catalogue, CodeList, load_catalogue
from workbench.dataset import Manifest, table_columns, write_dataset, write_json
from workbench.municipalities import list_municipalities

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1.0"
GROUND_TRUTH_FILE = "ground_truth.json"


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. The defaults give the national demo dataset.

    Parameters
    ----------
    seed
        Seed of every random stream (a non-negative integer).
    years
        First and last year of the follow-up registrations (inclusive).
    target_registrations
        National number of registrations over all years at ``scale=1`` (hit within ±5%).
    ambiguous_variables, clean_variables
        Code variables (single-code or multi-select, not derived) in which ambiguity is planted,
        and variables that are kept clean. The two must not overlap.
    survey_years
        Years of the municipality survey (inclusive).
    scale
        Multiplies the register volume (tests use e.g. 0.05). The vignette study and the survey
        keep their size.
    municipalities
        Restrict the register, the vignette raters and the survey to these municipality codes
        (``None`` = all 290).
    """

    seed: int = 20261123
    years: tuple[int, int] = (2016, 2025)
    target_registrations: int = 300_000
    ambiguous_variables: tuple[str, ...] = ("riskbedomning", "insatstyp", "insatsens_fokus")
    clean_variables: tuple[str, ...] = (
        "kon",
        "lagrum",
        "aktualiseringsvag",
        "avslutsorsak",
        "samtal_med_barnet",
    )
    survey_years: tuple[int, int] = (2010, 2025)
    scale: float = 1.0
    municipalities: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Accept lists (e.g. from JSON) but store tuples so the config stays hashable.
        for name in ("years", "ambiguous_variables", "clean_variables", "survey_years"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.municipalities is not None:
            object.__setattr__(self, "municipalities", tuple(str(c) for c in self.municipalities))
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"SynthConfig.seed must be a non-negative integer, got {self.seed!r}")
        for name in ("years", "survey_years"):
            span = getattr(self, name)
            if len(span) != 2 or span[0] > span[1]:
                raise ValueError(f"SynthConfig.{name} must be (first, last) with first <= last")
        if self.years[0] < 2000 or self.years[1] > 2035:
            raise ValueError("SynthConfig.years must lie within 2000-2035")
        if not self.scale > 0 or self.target_registrations <= 0:
            raise ValueError("SynthConfig.scale and target_registrations must be positive")
        overlap = sorted(set(self.ambiguous_variables) & set(self.clean_variables))
        if overlap:
            raise ValueError(
                f"Variables {overlap} are both ambiguous and clean; list each in one place only."
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (tuples as lists)."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


# ------------------------------------------------------------------------------------------------
# Calibration tables. Probabilities are keyed by catalogue code; the code lists themselves always
# come from the catalogue (a code missing here gets weight 0, a key missing from the catalogue is
# ignored). [S] = DOMAIN.md §5 / §4, [P] = placeholder invented for the synthetic data.
# ------------------------------------------------------------------------------------------------

#: Approximate populations (rounded, about 2023) [I]: the largest municipalities, the demo county
#: Västernorrland (22) and a few of the smallest. All others get a synthetic size.
KNOWN_POPULATION: dict[str, int] = {
    "0180": 985_000,  # Stockholm
    "1480": 600_000,  # Göteborg
    "1280": 362_000,  # Malmö
    "0380": 245_000,  # Uppsala
    "0580": 167_000,  # Linköping
    "1880": 159_000,  # Örebro
    "1980": 158_000,  # Västerås
    "1283": 152_000,  # Helsingborg
    "0581": 146_000,  # Norrköping
    "0680": 145_000,  # Jönköping
    "2480": 132_000,  # Umeå
    "1281": 129_000,  # Lund
    "1490": 115_000,  # Borås
    "0126": 115_000,  # Huddinge
    "0484": 108_000,  # Eskilstuna
    "0182": 108_000,  # Nacka
    "1380": 104_000,  # Halmstad
    "2180": 104_000,  # Gävle
    "0181": 102_000,  # Södertälje
    "2281": 100_000,  # Sundsvall
    "0780": 97_000,  # Växjö
    "1780": 96_000,  # Karlstad
    "0127": 95_000,  # Botkyrka
    "1290": 87_000,  # Kristianstad
    "1384": 85_000,  # Kungsbacka
    "0184": 85_000,  # Solna
    "0123": 84_000,  # Järfälla
    "2580": 80_000,  # Luleå
    "2482": 78_000,  # Skellefteå
    "0160": 76_000,  # Täby
    "2380": 65_000,  # Östersund
    "2284": 56_000,  # Örnsköldsvik
    "2280": 25_000,  # Härnösand
    "2283": 19_000,  # Sollefteå
    "2262": 18_000,  # Timrå
    "2282": 18_000,  # Kramfors
    "2260": 9_000,  # Ånge
    "2403": 2_500,  # Bjurholm
    "2422": 2_500,  # Sorsele
    "2425": 2_600,  # Dorotea
    "2506": 2_700,  # Arjeplog
}
#: The synthetic lognormal of all other municipalities [P].
SIZE_MEDIAN, SIZE_SIGMA, SIZE_MIN, SIZE_MAX = 16_000, 0.72, 2_500, 65_000
#: Seeded noise (log scale) on the volume per inhabitant [P].
VOLUME_NOISE_SD = 0.25

#: Age at the first opening of a case (non-unaccompanied children), weights for ages 0..20 [P].
AGE_WEIGHTS = [5, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 6, 7, 9, 10, 9, 7, 3, 2, 1]
#: Probability that an intervention is a placement, by age band at the opening [P].
PLACEMENT_SHARE = {"0-6": 0.32, "7-12": 0.26, "13-17": 0.40, "18-20": 0.38}
#: Intervention type within its group, by age band [P] (calibrated to DOMAIN.md §5 ratios).
OPEN_CARE_TYPES = {
    "0-6": {
        "strukturerat_program": 0.10,
        "personligt_stod": 0.03,
        "kontaktperson": 0.08,
        "kontaktfamilj": 0.25,
        "familjebehandling": 0.40,
        "lvu22": 0.01,
        "annan_oppenvard": 0.13,
    },
    "7-12": {
        "strukturerat_program": 0.15,
        "personligt_stod": 0.08,
        "kontaktperson": 0.20,
        "kontaktfamilj": 0.17,
        "familjebehandling": 0.27,
        "lvu22": 0.02,
        "annan_oppenvard": 0.11,
    },
    "13-17": {
        "strukturerat_program": 0.20,
        "personligt_stod": 0.20,
        "kontaktperson": 0.22,
        "kontaktfamilj": 0.03,
        "familjebehandling": 0.17,
        "lvu22": 0.06,
        "annan_oppenvard": 0.12,
    },
    "18-20": {
        "strukturerat_program": 0.15,
        "personligt_stod": 0.45,
        "kontaktperson": 0.22,
        "familjebehandling": 0.05,
        "lvu22": 0.03,
        "annan_oppenvard": 0.10,
    },
}
PLACEMENT_TYPES = {
    "0-6": {
        "familjehem": 0.62,
        "natverkshem": 0.18,
        "jourhem": 0.18,
        "hvb": 0.01,
        "annan_placering": 0.01,
    },
    "7-12": {
        "familjehem": 0.60,
        "natverkshem": 0.14,
        "jourhem": 0.09,
        "hvb": 0.14,
        "sis": 0.005,
        "annan_placering": 0.025,
    },
    "13-17": {
        "familjehem": 0.30,
        "natverkshem": 0.05,
        "jourhem": 0.04,
        "hvb": 0.44,
        "sis": 0.05,
        "stodboende": 0.10,
        "annan_placering": 0.02,
    },
    "18-20": {
        "familjehem": 0.20,
        "natverkshem": 0.03,
        "hvb": 0.38,
        "sis": 0.02,
        "stodboende": 0.35,
        "annan_placering": 0.02,
    },
}
#: When insatstyp is ambiguous, coding styles recode whole interventions (preserving the
#: intervention marginal), but long family-home placements carry more registrations than HVB
#: stays, so registrations flow from family homes to HVB. These factors keep the registration-level
#: family home : HVB ratio at its target.
RECODING_TYPE_FACTOR = {"hvb": 0.93}
#: Boys' share of placements by type [S] DOMAIN.md §5 (2020): family homes 53%, HVB 64%,
#: supported housing 73%; SiS and other [P]. Open care [P].
BOYS_SHARE = {
    "familjehem": 0.53,
    "natverkshem": 0.53,
    "jourhem": 0.53,
    "hvb": 0.64,
    "stodboende": 0.73,
    "sis": 0.70,
    "annan_placering": 0.55,
}
BOYS_SHARE_OPEN_CARE = 0.53
BOYS_SHARE_PLACEMENTS = 0.58
SEX_UNKNOWN_SHARE = 0.002
#: Share of placements under LVU (rest SoL), by type [P]; overall ~30% [S] (DOMAIN.md §5).
LVU_SHARE = {
    "familjehem": 0.37,
    "natverkshem": 0.27,
    "jourhem": 0.48,
    "hvb": 0.44,
    "sis": 0.92,
    "stodboende": 0.03,
    "annan_placering": 0.25,
}
#: Intervention duration: median days and lognormal sigma, by type [P].
DURATION = {
    "familjehem": (520, 0.8),
    "natverkshem": (700, 0.8),
    "jourhem": (100, 0.5),
    "hvb": (240, 0.7),
    "sis": (200, 0.6),
    "stodboende": (320, 0.6),
    "annan_placering": (200, 0.7),
}
DURATION_OPEN_CARE = (200, 0.6)

#: Unaccompanied minors [S]/[P]: mostly boys, origin rest of the world, aged 13-17, arriving in the
#: 2015-2016 wave so that their registrations concentrate in 2016-2017.
UNACCOMPANIED = {
    "share_of_children": 0.06,
    "boys_share": 0.90,
    "ages": {13: 0.12, 14: 0.18, 15: 0.26, 16: 0.26, 17: 0.18},
    "opened_between": ("2015-08-01", "2017-03-31"),
    "opened_peak": "2015-11-15",
    "types": {"hvb": 0.45, "familjehem": 0.22, "natverkshem": 0.08, "stodboende": 0.25},
    "duration_factor": 1.15,
}
ORIGIN = {"sverige": 0.76, "norden": 0.03, "eu_ees": 0.05, "ovriga_varlden": 0.14, "okant": 0.02}

#: Route of opening by age band [P].
OPENING_ROUTE = {
    "0-6": {"anmalan": 0.85, "ansokan": 0.05, "ovrig_information": 0.10},
    "7-12": {"anmalan": 0.80, "ansokan": 0.10, "ovrig_information": 0.10},
    "13-17": {"anmalan": 0.70, "ansokan": 0.20, "ovrig_information": 0.10},
    "18-20": {"anmalan": 0.25, "ansokan": 0.65, "ovrig_information": 0.10},
}
REPORTER = {
    "0-6": {
        "skola": 0.20,
        "halso_sjukvard": 0.30,
        "polis": 0.20,
        "socialtjanst": 0.10,
        "anhorig": 0.10,
        "annan": 0.07,
        "okant": 0.03,
    },
    "7-12": {
        "skola": 0.40,
        "halso_sjukvard": 0.12,
        "polis": 0.18,
        "socialtjanst": 0.10,
        "anhorig": 0.10,
        "annan": 0.07,
        "okant": 0.03,
    },
    "13-17": {
        "skola": 0.30,
        "halso_sjukvard": 0.10,
        "polis": 0.35,
        "socialtjanst": 0.08,
        "anhorig": 0.08,
        "annan": 0.06,
        "okant": 0.03,
    },
    "18-20": {
        "halso_sjukvard": 0.20,
        "polis": 0.35,
        "socialtjanst": 0.20,
        "anhorig": 0.10,
        "annan": 0.10,
        "okant": 0.05,
    },
}
#: Provider type by intervention type [P].
PROVIDER = {
    "_open": {
        "egen_regi": 0.65,
        "annan_offentlig": 0.05,
        "privat": 0.15,
        "ideell": 0.10,
        "okant": 0.05,
    },
    "familjehem": {"egen_regi": 0.70, "privat": 0.25, "ideell": 0.02, "okant": 0.03},
    "natverkshem": {"egen_regi": 0.92, "privat": 0.05, "okant": 0.03},
    "jourhem": {"egen_regi": 0.65, "privat": 0.32, "okant": 0.03},
    "hvb": {
        "egen_regi": 0.15,
        "annan_offentlig": 0.05,
        "privat": 0.72,
        "ideell": 0.05,
        "okant": 0.03,
    },
    "sis": {"annan_offentlig": 0.97, "okant": 0.03},
    "stodboende": {"egen_regi": 0.45, "privat": 0.50, "okant": 0.05},
    "annan_placering": {"egen_regi": 0.40, "privat": 0.40, "annan_offentlig": 0.10, "okant": 0.10},
}
#: Identified vulnerability: P(none) by age band, then code probabilities among the others [P].
NO_VULNERABILITY = {"0-6": 0.30, "7-12": 0.33, "13-17": 0.40, "18-20": 0.45}
VULNERABILITY = {
    "utsatt_for_vald": 0.30,
    "bevittnat_vald": 0.28,
    "hedersrelaterat_vald": 0.05,
    "sexuella_overgrepp": 0.08,
    "foralders_missbruk": 0.25,
    "foralders_psykiska_ohalsa": 0.28,
    "funktionsnedsattning": 0.15,
    "annat": 0.08,
}
#: Underlying problems by age band (independent inclusion probabilities) [P].
PROBLEMS = {
    "0-6": {
        "brister_omsorg": 0.50,
        "vald_i_familjen": 0.30,
        "foraldrars_missbruk": 0.30,
        "relationsproblem": 0.20,
        "psykisk_ohalsa": 0.03,
        "annat": 0.05,
    },
    "7-12": {
        "brister_omsorg": 0.35,
        "vald_i_familjen": 0.25,
        "foraldrars_missbruk": 0.20,
        "relationsproblem": 0.30,
        "utagerande_beteende": 0.20,
        "psykisk_ohalsa": 0.12,
        "skolproblem": 0.15,
        "kriminalitet": 0.02,
        "annat": 0.06,
    },
    "13-17": {
        "brister_omsorg": 0.15,
        "vald_i_familjen": 0.12,
        "foraldrars_missbruk": 0.10,
        "relationsproblem": 0.30,
        "eget_missbruk": 0.20,
        "kriminalitet": 0.25,
        "utagerande_beteende": 0.30,
        "psykisk_ohalsa": 0.25,
        "skolproblem": 0.30,
        "annat": 0.06,
    },
    "18-20": {
        "brister_omsorg": 0.05,
        "relationsproblem": 0.20,
        "eget_missbruk": 0.30,
        "kriminalitet": 0.30,
        "utagerande_beteende": 0.15,
        "psykisk_ohalsa": 0.30,
        "skolproblem": 0.10,
        "annat": 0.08,
    },
    "_unaccompanied": {
        "annat": 0.60,
        "psykisk_ohalsa": 0.25,
        "skolproblem": 0.15,
        "relationsproblem": 0.05,
    },
}
#: Which focus areas fit which underlying problem; the contradiction rule of insatsens_fokus [P].
FOCUS_FOR_PROBLEM = {
    "brister_omsorg": ("foraldraformaga", "sakerhet", "boende_ekonomi"),
    "vald_i_familjen": ("sakerhet", "familj_relationer"),
    "foraldrars_missbruk": ("foraldraformaga", "sakerhet"),
    "relationsproblem": ("familj_relationer",),
    "eget_missbruk": ("halsa", "kansla_beteende"),
    "kriminalitet": ("kansla_beteende", "klara_sig_sjalv"),
    "utagerande_beteende": ("kansla_beteende",),
    "psykisk_ohalsa": ("halsa", "kansla_beteende"),
    "skolproblem": ("utbildning",),
}

#: Investigations closed within four months [S] DOMAIN.md §5 (92-98%, Helsingborg 2014-2016).
INVESTIGATION_WITHIN_4M = 0.95
#: Follow-up registrations: first after 90-200 days, then every 150-210 days, at most three.
MAX_FOLLOW_UPS = 3
#: Re-referral (re-opening) within 12 months of an ending, for endings not replaced by another
#: intervention, by age at the ending; calibrated so that the derived aterkomst_12man is about 22%
#: (13-20) and 25% (0-12) [S] DOMAIN.md §5 (78% / 75% not returning).
RETURN_WITHIN_12M = {"young": 0.26, "old": 0.26}
LATE_RETURN = 0.10
REPLACED_AFTER = {"sammanbrott": 0.80, "ersatt_annan_insats": 0.95}
MAX_ROUNDS = 10
#: Histories start this many days before the window, so that the first year has its stock of
#: ongoing interventions.
HISTORY_LEAD_DAYS = 1100

#: Planted effects: logistic models of the true covariates (log odds ratios).
GOAL_MODEL: dict[str, Any] = {
    "intercept": 0.15,
    "coefficients": {
        "girl": math.log(0.80),
        "origin_norden": 0.0,
        "origin_eu_ees": 0.0,
        "origin_ovriga_varlden": math.log(0.85),
        "vulnerable": math.log(0.75),
        "age_7_12": -0.10,
        "age_13_17": -0.30,
        "age_18_20": -0.15,
        "placement": -0.20,
    },
    "kommun_sd": 0.15,
}
BREAKDOWN_MODEL: dict[str, Any] = {
    "intercept": -2.30,
    "coefficients": {
        "girl": math.log(1.35),
        "origin_norden": 0.0,
        "origin_eu_ees": 0.0,
        "origin_ovriga_varlden": math.log(1.20),
        "vulnerable": math.log(1.50),
        "age_7_12": 0.25,
        "age_13_17": 0.60,
        "age_18_20": 0.20,
        "type_natverkshem": -0.40,
        "type_jourhem": -0.60,
        "type_hvb": 0.35,
        "type_sis": 0.50,
        "type_stodboende": 0.20,
        "type_annan_placering": 0.0,
    },
}
#: Trend: P(planned ending | ending, not breakdown) = expit(intercept + slope * (year - first)).
PLANNED_TREND = {"intercept": logit(0.55), "log_odds_per_year": 0.10}
PLANNED_SPLIT = {"enligt_plan": 0.80, "ersatt_annan_insats": 0.20}
UNPLANNED_SPLIT = {"avbruten_barn_familj": 0.55, "flytt": 0.30, "annat": 0.15}
#: Trend: P(samtal_med_barnet == "ja") rises on the log-odds scale from 70% to 90%.
TALK_TREND = {"first": 0.70, "last": 0.90}
#: Share of true "kan ej bedömas" answers (before recording) [P].
NOT_ASSESSABLE_TRUE = {"maluppfyllelse": 0.04, "riskbedomning": 0.05, "forandring_situation": 0.04}

#: Recording-process strengths by role [P]. ``style`` = municipality coding styles (mean share of
#: rows recoded from the municipality's own code distribution, logit-normal across
#: municipalities, and the SD of the style's code log-weights); ``residual`` = extra share recorded
#: as the residual code; ``not_assessable`` = extra share recorded as kan_ej_bedomas/okant;
#: ``missing`` = share left empty; ``contradiction`` = planted share of the rule's eligible rows;
#: ``vignette_accuracy`` = probability that a rater codes a vignette's true code.
ROLE_PARAMS: dict[str, dict[str, float]] = {
    "ambiguous": {
        "style_mean": 0.30,
        "style_logit_sd": 1.0,
        "style_code_sd": 1.0,
        "residual": 0.08,
        "residual_logit_sd": 0.5,
        "not_assessable": 0.08,
        "missing": 0.06,
        "contradiction": 0.08,
        "vignette_accuracy": 0.65,
        "vignette_rater_sd": 0.4,
    },
    "clean": {
        "style_mean": 0.0,
        "style_logit_sd": 0.0,
        "style_code_sd": 0.0,
        "residual": 0.0,
        "residual_logit_sd": 0.0,
        "not_assessable": 0.0,
        "missing": 0.005,
        "contradiction": 0.0,
        "vignette_accuracy": 0.95,
        "vignette_rater_sd": 0.3,
    },
    "other": {
        "style_mean": 0.0,
        "style_logit_sd": 0.0,
        "style_code_sd": 0.0,
        "residual": 0.0,
        "residual_logit_sd": 0.0,
        "not_assessable": 0.0,
        "missing": 0.02,
        "contradiction": 0.0,
    },
}
MISSING_OPTIONAL = 0.04

#: Municipality quirks planted in the demo county Västernorrland (22) and one outside it.
QUIRKS = {
    "sundsvall_open_care_residual": {
        "kommun": "2281",
        "variable": "insatstyp",
        "code": "annan_oppenvard",
        "rate": 0.93,
    },
    "ornskoldsvik_no_risk": {"kommun": "2284", "variable": "riskbedomning"},
    "timra_goal_shift": {
        "kommun": "2262",
        "variable": "maluppfyllelse",
        "year": 2021,
        "helt_to_delvis_before": 0.80,
        "delvis_to_helt_from": 0.80,
    },
    "kungsbacka_not_assessable": {
        "kommun": "1384",
        "variable": "maluppfyllelse",
        "code": "kan_ej_bedomas",
        "rate": 0.35,
    },
}

#: Vignette study design [P].
VIGNETTES = {
    "n_vignettes": 40,
    "n_raters": 200,
    "n_municipalities": 60,
    "per_rater": (15, 25),
    "skip": 0.02,
}

#: Survey: anchor shares (% yes among respondents) per question and year. ``seed`` = a figure of
#: the seed texts (DOMAIN.md §4, unconfirmed), ``confirmed`` = confirmed later figure, ``P`` = a
#: placeholder that only shapes the curve.
SURVEY_ANCHORS: dict[str, dict[int, tuple[int, str]]] = {
    "bbic_licens": {
        2010: (28, "seed"),
        2012: (61, "seed"),
        2014: (81, "seed"),
        2016: (98, "confirmed"),
        2025: (99, "P"),
    },
    "socialjour_socionom": {
        2010: (40, "P"),
        2011: (45, "seed"),
        2012: (62, "seed"),
        2020: (89, "confirmed"),
        2025: (92, "P"),
    },
    "rutin_enskilda_samtal": {2010: (84, "P"), 2012: (90, "seed"), 2025: (97, "P")},
    "samverkan_forskola": {2010: (62, "P"), 2014: (75, "seed"), 2025: (88, "P")},
    "samverkan_grundskola": {2010: (66, "P"), 2014: (80, "seed"), 2025: (92, "P")},
    "samverkan_bup": {2010: (55, "P"), 2025: (85, "P")},
    "samverkan_bhv": {2010: (45, "P"), 2025: (80, "P")},
    "uppfoljning_oppenvard": {2010: (15, "P"), 2014: (26, "seed"), 2025: (60, "P")},
    "uppfoljning_placering": {2010: (10, "P"), 2014: (16, "seed"), 2025: (50, "P")},
    "personal_socionom_5ar": {2010: (46, "P"), 2014: (50, "seed"), 2025: (56, "P")},
}
#: County figures of the seed texts: "all" responding municipalities, or a share (rounded count).
SURVEY_COUNTY_TARGETS: dict[tuple[str, int], dict[str, str | float]] = {
    ("socialjour_socionom", 2012): {"19": "all", "13": "all", "10": 0.25, "23": 0.25, "07": 0.25},
    ("bbic_licens", 2012): {"18": "all", "06": "all", "24": 0.20, "05": 0.20},
}
SURVEY_RESPONSE = {2012: 0.83, 2013: 0.95}
SURVEY_RESPONSE_DEFAULT = 0.90

_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


# ------------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------------


def _rng(seed: int, *names: str) -> np.random.Generator:
    """An independent random stream for one component (stable across Python processes)."""
    key = [seed & 0xFFFFFFFF, seed >> 32, *(zlib.crc32(n.encode("utf-8")) for n in names)]
    return np.random.default_rng(np.random.SeedSequence(key))


def _draw_rows(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a non-negative weight matrix (rows need not sum to 1)."""
    if len(p) == 0:
        return np.zeros(0, dtype=np.int64)
    c = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * c[:, -1]
    return np.minimum((c <= u[:, None]).sum(axis=1), p.shape[1] - 1)


def _draw(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum())


def _day(s: str) -> int:
    return int(np.datetime64(s, "D").astype(np.int64))


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    dom = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, dom


def _age(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed years between two day arrays (calendar-exact)."""
    y1, m1, d1 = _ymd(birth)
    y2, m2, d2 = _ymd(at)
    return y2 - y1 - ((m2 * 32 + d2) < (m1 * 32 + d1))


def _add_months(days: np.ndarray, months: int) -> np.ndarray:
    idx = pd.DatetimeIndex(np.asarray(days, dtype=np.int64).astype("datetime64[D]"))
    shifted = idx + pd.DateOffset(months=months)
    return shifted.values.astype("datetime64[D]").astype(np.int64)


def _year_of(days: np.ndarray) -> np.ndarray:
    return _ymd(days)[0]


def _hex_ids(rng: np.random.Generator, prefix: str, n: int) -> np.ndarray:
    """Pseudonymous identifiers: ``prefix`` + 16 hex digits, unique, drawn from ``rng``."""
    v = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    while True:
        _, first = np.unique(v, return_index=True)
        if len(first) == n:
            break
        dup = np.setdiff1d(np.arange(n), first)
        v[dup] = rng.integers(0, 2**64, size=len(dup), dtype=np.uint64)
    hexes = _HEX[v.astype(">u8").view(np.uint8).reshape(n, 8)]
    return np.char.add(prefix, hexes.view("S16").ravel().astype("U16"))


class _Codes:
    """A catalogue code list as arrays (positions follow the catalogue order)."""

    def __init__(self, cl: CodeList) -> None:
        self.name = cl.name
        self.codes = cl.code_values
        self.k = len(self.codes)
        self.pos = {c: i for i, c in enumerate(self.codes)}
        self.kind = np.array([c.kind for c in cl.codes])
        self.group = np.array([c.group or "" for c in cl.codes])
        self.planned = np.array([bool(c.planned) for c in cl.codes])

    def i(self, code: str) -> int:
        return self.pos.get(code, -9)

    def has(self, code: str) -> bool:
        return code in self.pos

    def w(self, weights: Mapping[str, float], default: float = 0.0) -> np.ndarray:
        return np.array([float(weights.get(c, default)) for c in self.codes])

    def mask(self, codes: Iterable[str]) -> np.ndarray:
        wanted = set(codes)
        return np.array([c in wanted for c in self.codes])

    def of_kind(self, *kinds: str) -> np.ndarray:
        return np.isin(self.kind, kinds)

    def take(self, x: np.ndarray) -> np.ndarray:
        """Code strings for an index array (-1 → None)."""
        arr = np.array(self.codes + (None,), dtype=object)
        return arr[np.where(x < 0, self.k, x)]


@dataclass
class _World:
    """Columnar working storage. Code variables are int16 positions (-1 = missing)."""

    cfg: SynthConfig
    cat: Catalogue
    kommuner: np.ndarray  # all 290 codes, global order
    lan: np.ndarray
    included: np.ndarray  # bool per global municipality
    size: np.ndarray  # population per global municipality
    weight: np.ndarray  # expected share of registrations per global municipality
    start: int  # first day of the follow-up window
    end: int  # last day (the data date)
    cl: dict[str, _Codes] = field(default_factory=dict)
    ch: dict[str, np.ndarray] = field(default_factory=dict)
    ins: dict[str, np.ndarray] = field(default_factory=dict)
    reg: dict[str, np.ndarray] = field(default_factory=dict)
    multi: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)

    def table_of(self, var: str) -> dict[str, np.ndarray]:
        return {"children": self.ch, "interventions": self.ins, "registrations": self.reg}[
            self.cat.variable(var).table
        ]

    def rows_kommun(self, var: str) -> np.ndarray:
        return self.table_of(var)["kommun"]


# ------------------------------------------------------------------------------------------------
# Municipalities
# ------------------------------------------------------------------------------------------------


def municipality_sizes() -> pd.Series:
    """Synthetic population of every municipality (index = kommun code), deterministic.

    The municipalities in :data:`KNOWN_POPULATION` get an approximate real population; all others
    get quantiles of a lognormal (median 16,000, between 2,500 and 65,000) assigned in a fixed
    pseudo-random order. The result does not depend on the seed. **The sizes are synthetic**: no
    population file is part of the project.
    """
    codes = list_municipalities()["municipality_code"].tolist()
    rest = sorted(
        (c for c in codes if c not in KNOWN_POPULATION),
        key=lambda c: (zlib.crc32(f"size:{c}".encode()), c),
    )
    q = (np.arange(len(rest)) + 0.5) / len(rest)
    sizes = np.exp(math.log(SIZE_MEDIAN) + SIZE_SIGMA * ndtri(q))
    sizes = np.clip(np.round(sizes, -2), SIZE_MIN, SIZE_MAX).astype(int)
    out = dict(zip(rest, sizes.tolist(), strict=True))
    out.update({c: int(v) for c, v in KNOWN_POPULATION.items() if c in codes})
    return pd.Series([out[c] for c in codes], index=pd.Index(codes, name="kommun"), name="size")


def _band_index(w: _World, age: np.ndarray) -> np.ndarray:
    lows = w.truth["band_lows"]
    return np.searchsorted(lows, age, side="right") - 1


# ------------------------------------------------------------------------------------------------
# Histories: children, interventions, registration dates, endings (true values)
# ------------------------------------------------------------------------------------------------


def _type_matrix(w: _World) -> np.ndarray:
    """P(insatstyp | age band) for non-unaccompanied children, shape (bands, K)."""
    T = w.cl["insatstyp"]
    rows = []
    for band in w.truth["bands"]:
        open_w = T.w(OPEN_CARE_TYPES.get(band, {})) * (T.group == "oppenvard")
        place_w = T.w(PLACEMENT_TYPES.get(band, {})) * (T.group == "placering")
        if ROLE_PARAMS[_role(w, "insatstyp")]["style_mean"] > 0:
            place_w = place_w * T.w(RECODING_TYPE_FACTOR, 1.0)
        p_place = PLACEMENT_SHARE.get(band, 0.35)
        row = (1 - p_place) * open_w / max(open_w.sum(), 1e-12)
        row = row + p_place * place_w / max(place_w.sum(), 1e-12)
        rows.append(row)
    return np.array(rows)


def _boys_share(w: _World) -> np.ndarray:
    """Boys' share per insatstyp to generate, so that the *recorded* shares hit the targets.

    When insatstyp is ambiguous, municipality coding styles recode a mean share m of rows within
    their group from (on average) the national distribution, which pulls every type's boys' share
    towards the group's: recorded = (1 - m) * true + m * overall. The true shares are set to
    (target - m * overall) / (1 - m).
    """
    T = w.cl["insatstyp"]
    target = np.where(
        T.group == "placering", T.w(BOYS_SHARE, BOYS_SHARE_OPEN_CARE), BOYS_SHARE_OPEN_CARE
    )
    if "boys_share_true" in w.truth:
        return w.truth["boys_share_true"] + w.truth.get("boys_share_offset", 0.0)
    params = ROLE_PARAMS[_role(w, "insatstyp")]
    if params["style_mean"] > 0:
        share, _ = _style(w, "insatstyp", params)
        m = float((w.weight / w.weight.sum()) @ share)
        place = T.group == "placering"
        overall = BOYS_SHARE_PLACEMENTS
        target = np.where(place, np.clip((target - m * overall) / (1 - m), 0.05, 0.95), target)
        w.truth["boys_share_recoding_compensation"] = {
            "mean_recoded_share": round(m, 4),
            "overall": overall,
        }
    w.truth["boys_share_true"] = target
    return target + w.truth.get("boys_share_offset", 0.0)


def _make_children(w: _World, rng: np.random.Generator, n_per_kommun: np.ndarray) -> None:
    T, K, U, E = w.cl["insatstyp"], w.cl["kon"], w.cl["ursprung"], w.cl["ensamkommande"]
    kommun = np.repeat(np.arange(len(n_per_kommun)), n_per_kommun)
    n = len(kommun)
    ensam = rng.random(n) < UNACCOMPANIED["share_of_children"]
    # Opening of the first case: uniform from three years before the window (so the first year
    # is in steady state); the unaccompanied arrive in the 2015-2016 wave (triangular).
    hist_start = w.start - HISTORY_LEAD_DAYS
    opened = rng.integers(hist_start, w.end + 1, size=n)
    lo, hi = (_day(s) for s in UNACCOMPANIED["opened_between"])
    wave = np.round(rng.triangular(lo, _day(UNACCOMPANIED["opened_peak"]), hi, size=n))
    opened = np.where(ensam, wave.astype(np.int64), opened)
    ages = np.arange(len(AGE_WEIGHTS))
    age = ages[_draw(rng, np.array(AGE_WEIGHTS, float), n)]
    ens_ages = np.array(list(UNACCOMPANIED["ages"]))
    age = np.where(
        ensam, ens_ages[_draw(rng, np.array(list(UNACCOMPANIED["ages"].values())), n)], age
    )
    birth = opened - np.floor((age + rng.random(n)) * 365.2425).astype(np.int64)
    # First intervention type (age band at opening), then sex given type so that the boys'
    # share per placement type hits its target whatever the unaccompanied do.
    band = _band_index(w, age)
    first_type = _draw_rows(rng, _type_matrix(w)[band])
    ens_w = T.w(UNACCOMPANIED["types"])
    first_type = np.where(ensam, _draw(rng, ens_w, n), first_type)
    target = _boys_share(w)
    n_ens = np.bincount(first_type[ensam], minlength=T.k)
    n_non = np.bincount(first_type[~ensam], minlength=T.k)
    with np.errstate(invalid="ignore", divide="ignore"):
        b_non = (target * (n_ens + n_non) - UNACCOMPANIED["boys_share"] * n_ens) / n_non
    b_non = np.clip(np.nan_to_num(b_non, nan=0.5), 0.05, 0.95)
    p_boy = np.where(ensam, UNACCOMPANIED["boys_share"], b_non[first_type])
    boy = rng.random(n) < p_boy
    sex = np.where(boy, K.i("pojke"), K.i("flicka"))
    sex = np.where(rng.random(n) < SEX_UNKNOWN_SHARE, K.i("okant"), sex)
    origin = _draw(rng, U.w(ORIGIN), n)
    origin = np.where(
        ensam, np.where(rng.random(n) < 0.97, U.i("ovriga_varlden"), U.i("okant")), origin
    )
    unacc = np.where(ensam, E.i("ja"), np.where(rng.random(n) < 0.97, E.i("nej"), E.i("okant")))
    unacc = np.where(origin == U.i("sverige"), E.i("nej"), unacc)
    w.ch = {
        "kommun": kommun,
        "birth": birth,
        "ensam": ensam,
        "kon": sex.astype(np.int16),
        "ursprung": origin.astype(np.int16),
        "ensamkommande": unacc.astype(np.int16),
        "first_opened": opened,
        "first_type": first_type,
    }
    w.truth["boys_share_non_unaccompanied_first"] = dict(
        zip(T.codes, np.round(b_non, 4).tolist(), strict=True)
    )


def _multi_draw(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """Independent inclusion per code with at least one code per row (a draw by weight if none)."""
    x = rng.random(p.shape) < p
    empty = ~x.any(axis=1)
    if empty.any():
        pick = _draw_rows(rng, p[empty] + 1e-9)
        x[np.flatnonzero(empty), pick] = True
    return x


def _intervention_batch(
    w: _World, rng: np.random.Generator, cur: dict[str, np.ndarray], first: bool
) -> dict[str, np.ndarray]:
    """Create one round of interventions (one per row of ``cur``) with true values."""
    T, L = w.cl["insatstyp"], w.cl["lagrum"]
    child = cur["child"]
    n = len(child)
    birth = w.ch["birth"][child]
    inv_len = np.where(
        rng.random(n) < INVESTIGATION_WITHIN_4M,
        rng.integers(14, 119, n),
        rng.integers(124, 241, n),
    )
    rep = cur["replaced"]
    # Ordinary opening: opened → investigation (≤14 days) → decision → start.
    u_start = cur["opened"] + rng.integers(0, 15, n)
    u_end = u_start + inv_len
    i_start = u_end + rng.integers(0, 22, n)
    # Replacement: investigated while the previous intervention ran; starts the day after it ended.
    r_end = cur["start"] - rng.integers(1, 8, n)
    r_start = r_end - inv_len
    r_open = r_start - rng.integers(0, 15, n)
    opened = np.where(rep, r_open, cur["opened"])
    u_start = np.where(rep, r_start, u_start)
    u_end = np.where(rep, r_end, u_end)
    i_start = np.where(rep, cur["start"], i_start)
    b21 = _add_months(birth, 12 * 21) - 1
    b18 = _add_months(birth, 12 * 18) - 1
    age_start = _age(birth, i_start)
    ok = (i_start <= w.end) & (age_start <= 20) & (b21 - i_start >= 60)
    sel = np.flatnonzero(ok)
    child, birth, opened = child[sel], birth[sel], opened[sel]
    u_start, u_end, i_start = u_start[sel], u_end[sel], i_start[sel]
    b21, b18, age_start, rep = b21[sel], b18[sel], age_start[sel], rep[sel]
    after_breakdown = cur["after_breakdown"][sel]
    n = len(child)
    ensam = w.ch["ensam"][child]
    band = _band_index(w, age_start)
    sex = w.ch["kon"][child]
    # Type: the first intervention was drawn with the child; later ones by age band, tilted by
    # sex so that the boys' shares per type hold, and a placement after a breakdown.
    if first:
        itype = w.ch["first_type"][child]
    else:
        p = _type_matrix(w)[band]
        b = _boys_share(w)
        is_boy = sex == w.cl["kon"].i("pojke")
        p = p * np.where(is_boy[:, None], b[None, :], 1 - b[None, :])
        p = np.where(after_breakdown[:, None], p * (T.group == "placering")[None, :], p)
        itype = _draw_rows(rng, p)
    placement = T.group[itype] == "placering"
    # Legal basis: open care SoL (LVU 22 for the LVU 22 type); placements SoL or LVU by type and age.
    lvu_p = np.where(ensam, 0.02, T.w(LVU_SHARE)[itype]) * placement
    lvu = rng.random(n) < lvu_p
    u = rng.random(n)
    lvu_code = np.where(
        age_start < 12,
        np.where(u < 0.88, L.i("lvu2"), L.i("lvu6")),
        np.where(
            age_start <= 16,
            np.where(u < 0.35, L.i("lvu2"), np.where(u < 0.92, L.i("lvu3"), L.i("lvu6"))),
            np.where(u < 0.9, L.i("lvu3"), L.i("lvu6")),
        ),
    )
    lagrum = np.where(lvu, lvu_code, L.i("sol"))
    lagrum = np.where(itype == T.i("lvu22"), L.i("lvu22"), lagrum)
    # Duration and end (SoL/LVU care ends before 21; LVU 2 before 18).
    med = np.array([DURATION.get(c, DURATION_OPEN_CARE)[0] for c in T.codes], float)
    sig = np.array([DURATION.get(c, DURATION_OPEN_CARE)[1] for c in T.codes], float)
    dur = med[itype] * np.exp(sig[itype] * rng.standard_normal(n))
    dur = np.where(ensam, dur * UNACCOMPANIED["duration_factor"], dur)
    i_end = i_start + np.maximum(np.round(dur).astype(np.int64), 14)
    i_end = np.minimum(i_end, b21)
    i_end = np.where(lagrum == L.i("lvu2"), np.minimum(i_end, b18), i_end)
    ended = i_end <= w.end
    out = {
        "child": child,
        "opened": opened,
        "u_start": u_start,
        "u_end": u_end,
        "i_start": i_start,
        "i_end": i_end,
        "ended": ended,
        "insatstyp": itype,
        "lagrum": lagrum,
        "replaced_in": rep,
        "band_start": band,
    }
    _intervention_details(w, rng, out, sex, ensam)
    out["avslutsorsak"] = _ending_reasons(w, rng, out)
    return out


def _intervention_details(
    w: _World,
    rng: np.random.Generator,
    out: dict[str, np.ndarray],
    sex: np.ndarray,
    ensam: np.ndarray,
) -> None:
    """Route of opening, reporter, provider, vulnerability, problems and focus (true values)."""
    T = w.cl["insatstyp"]
    A, R, P = w.cl["aktualiseringsvag"], w.cl["anmalare"], w.cl["utforare"]
    V, G, F = w.cl["identifierad_utsatthet"], w.cl["grundproblematik"], w.cl["insatsens_fokus"]
    bands = w.truth["bands"]
    band = out["band_start"]
    itype = out["insatstyp"]
    n = len(itype)
    route = _draw_rows(rng, np.array([A.w(OPENING_ROUTE.get(b, {})) for b in bands])[band])
    route = np.where(
        ensam & (out["replaced_in"] == 0) & (rng.random(n) < 0.6), A.i("ovrig_information"), route
    )
    reporter = _draw_rows(rng, np.array([R.w(REPORTER.get(b, {})) for b in bands])[band])
    reporter = np.where(route == A.i("anmalan"), reporter, -1)
    prov = np.array(
        [
            P.w(PROVIDER.get(c if T.group[i] == "placering" else "_open", {}))
            for i, c in enumerate(T.codes)
        ]
    )
    provider = _draw_rows(rng, prov[itype])
    # Identified vulnerability (multi): "ingen" or one or more of the others.
    none_p = np.array([NO_VULNERABILITY.get(b, 0.35) for b in bands])[band]
    vp = V.w(VULNERABILITY) * (V.kind != "unknown")
    if V.has("ingen"):
        vp[V.i("ingen")] = 0.0
    girl = sex == w.cl["kon"].i("flicka")
    vp_rows = np.tile(vp, (n, 1))
    for code, factor in (("hedersrelaterat_vald", 2.0), ("sexuella_overgrepp", 2.2)):
        if V.has(code):
            vp_rows[:, V.i(code)] *= np.where(girl, factor, 0.5)
    vuln = _multi_draw(rng, vp_rows)
    if V.has("ingen"):
        none = rng.random(n) < none_p
        vuln[none] = False
        vuln[none, V.i("ingen")] = True
    # Underlying problems by age band (unaccompanied: mostly "annat").
    gp = np.array([G.w(PROBLEMS.get(b, {})) for b in bands])[band]
    gp = np.where(ensam[:, None], G.w(PROBLEMS["_unaccompanied"])[None, :], gp)
    problems = _multi_draw(rng, gp)
    # Focus: the areas that fit the problems (each with probability 0.7), at least one.
    fit = np.zeros((G.k, F.k))
    for g, fs in FOCUS_FOR_PROBLEM.items():
        if G.has(g):
            fit[G.i(g), F.mask(fs)] = 1.0
    fp = np.minimum((problems.astype(float) @ fit) * 0.7, 0.7)
    fp = fp + F.w({"annat": 0.04})[None, :]
    if F.has("klara_sig_sjalv"):
        fp[:, F.i("klara_sig_sjalv")] += 0.5 * (itype == T.i("stodboende"))
    only_other = ~(problems.astype(float) @ fit).any(axis=1)
    fp = np.where(only_other[:, None], np.maximum(fp, 0.15), fp)
    focus = _multi_draw(rng, np.minimum(fp, 0.95))
    out.update(
        {
            "aktualiseringsvag": route,
            "anmalare": reporter,
            "utforare": provider,
            "identifierad_utsatthet": vuln,
            "grundproblematik": problems,
            "insatsens_fokus": focus,
        }
    )


def _design(
    w: _World,
    names: Iterable[str],
    *,
    sex: np.ndarray,
    origin: np.ndarray,
    vuln: np.ndarray,
    band: np.ndarray,
    itype: np.ndarray,
) -> np.ndarray:
    """The model matrix (without intercept) of the planted logistic models.

    Every column is a 0/1 indicator that is 0 when its variable is missing (code -1 or an
    all-missing multi-select row), exactly as :func:`_covariate_definitions` states.
    """
    K, U, T, V = w.cl["kon"], w.cl["ursprung"], w.cl["insatstyp"], w.cl["identifierad_utsatthet"]
    group = np.where(itype >= 0, T.group[np.maximum(itype, 0)], "")
    cols = []
    for name in names:
        if name == "girl":
            col = sex == K.i("flicka")
        elif name.startswith("origin_"):
            col = origin == U.i(name.removeprefix("origin_"))
        elif name == "vulnerable":
            other = ~V.mask(["ingen"])
            col = (vuln & other[None, :]).any(axis=1)
        elif name.startswith("age_"):
            col = band == w.truth["band_names"].index(name)
        elif name == "placement":
            col = group == "placering"
        elif name.startswith("type_"):
            col = itype == T.i(name.removeprefix("type_"))
        else:  # pragma: no cover - the tables above are the only callers
            raise KeyError(name)
        cols.append(col.astype(float))
    return np.column_stack(cols) if cols else np.zeros((len(sex), 0))


def _breakdown_probability(
    w: _World,
    *,
    sex: np.ndarray,
    origin: np.ndarray,
    vuln: np.ndarray,
    band: np.ndarray,
    itype: np.ndarray,
) -> np.ndarray:
    T = w.cl["insatstyp"]
    X = _design(
        w,
        BREAKDOWN_MODEL["coefficients"],
        sex=sex,
        origin=origin,
        vuln=vuln,
        band=band,
        itype=itype,
    )
    beta = np.array(list(BREAKDOWN_MODEL["coefficients"].values()))
    placement = (itype >= 0) & (T.group[np.maximum(itype, 0)] == "placering")
    return expit(BREAKDOWN_MODEL["intercept"] + X @ beta) * placement


def _other_reasons(
    w: _World, rng: np.random.Generator, u_plan: np.ndarray, year: np.ndarray, age_end: np.ndarray
) -> np.ndarray:
    """A reason other than breakdown: planned (with the planted trend) or not."""
    Ends = w.cl["avslutsorsak"]
    n = len(u_plan)
    p_plan = expit(
        PLANNED_TREND["intercept"] + PLANNED_TREND["log_odds_per_year"] * (year - w.cfg.years[0])
    )
    planned = u_plan < p_plan
    pw = np.tile(Ends.w(PLANNED_SPLIT, 0.02) * Ends.planned, (n, 1))
    if Ends.has("aldersgrans"):
        pw[:, Ends.i("aldersgrans")] = np.where(
            age_end >= 18, 0.9, np.where(age_end >= 17, 0.15, 0)
        )
    uw = Ends.w(UNPLANNED_SPLIT, 0.02) * ~Ends.planned
    if Ends.has("sammanbrott"):
        uw[Ends.i("sammanbrott")] = 0.0
    return np.where(planned, _draw_rows(rng, pw), _draw(rng, uw, n))


def _ending_reasons(w: _World, rng: np.random.Generator, b: dict[str, np.ndarray]) -> np.ndarray:
    """avslutsorsak of each ended intervention from the true covariates (drives the history).

    The uniforms of the breakdown and planned draws are kept: :func:`_finalise_endings` redraws
    the breakdown decision with the *recorded* covariates using the same uniform, so the planted
    model holds exactly in the recorded data and the decision changes only where recording did.
    """
    Ends = w.cl["avslutsorsak"]
    n = len(b["child"])
    child = b["child"]
    age_end = _age(w.ch["birth"][child], b["i_end"])
    p_break = _breakdown_probability(
        w,
        sex=w.ch["kon"][child],
        origin=w.ch["ursprung"][child],
        vuln=b["identifierad_utsatthet"],
        band=_band_index(w, age_end),
        itype=b["insatstyp"],
    )
    b["u_break"] = rng.random(n)
    b["u_plan"] = rng.random(n)
    reason = _other_reasons(w, rng, b["u_plan"], _year_of(b["i_end"]), age_end)
    reason = np.where(b["u_break"] < p_break, Ends.i("sammanbrott"), reason)
    return np.where(b["ended"], reason, -1)


def _finalise_endings(w: _World, rng: np.random.Generator) -> None:
    """Breakdown decided with the recorded covariates of the ending registration (same uniform)."""
    Ends = w.cl["avslutsorsak"]
    reg, ins = w.reg, w.ins
    rows = np.flatnonzero(reg["ending"])
    ii = reg["ins"][rows]
    itype = ins["insatstyp"][ii]
    vx, _ = w.multi["identifierad_utsatthet"]
    p = _breakdown_probability(
        w,
        sex=w.ch["kon"][reg["child"][rows]],
        origin=w.ch["ursprung"][reg["child"][rows]],
        vuln=vx[rows],
        band=reg["band"][rows],
        itype=itype,
    )
    old = reg["avslutsorsak"][rows].astype(np.int64)
    was = old == Ends.i("sammanbrott")
    now = ins["u_break"][ii] < p
    known = itype >= 0  # an ending without insatstyp keeps its reason (outside the sample)
    new = old.copy()
    new[known & now] = Ends.i("sammanbrott")
    redo = np.flatnonzero(known & was & ~now)
    new[redo] = _other_reasons(
        w, rng, ins["u_plan"][ii[redo]], reg["ar"][rows[redo]], reg["alder"][rows[redo]]
    )
    reg["avslutsorsak"][rows] = new
    w.truth["breakdown_changed_by_recording"] = int((new != old).sum())


def _next_round(
    w: _World, rng: np.random.Generator, b: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Replacements and re-referrals that follow the endings of one round."""
    Ends = w.cl["avslutsorsak"]
    n = len(b["child"])
    birth = w.ch["birth"][b["child"]]
    reason = b["avslutsorsak"]
    p_rep = np.zeros(n)
    for code, p in REPLACED_AFTER.items():
        p_rep = np.where(reason == Ends.i(code), p, p_rep)
    replaced = b["ended"] & (rng.random(n) < p_rep) & (b["i_end"] + 1 <= w.end)
    age_end = _age(birth, b["i_end"])
    p_ret = np.where(age_end <= 12, RETURN_WITHIN_12M["young"], RETURN_WITHIN_12M["old"])
    free = b["ended"] & ~replaced
    ret = free & (rng.random(n) < p_ret)
    late = free & ~ret & (rng.random(n) < LATE_RETURN)
    opened = b["i_end"] + np.where(ret, rng.integers(1, 361, n), rng.integers(370, 1461, n))
    reopen = (ret | late) & (opened <= w.end) & (_age(birth, opened) <= 20)
    go = replaced | reopen
    idx = np.flatnonzero(go)
    return {
        "child": b["child"][idx],
        "opened": opened[idx],
        "start": b["i_end"][idx] + 1,
        "replaced": replaced[idx],
        "after_breakdown": (replaced & (reason == Ends.i("sammanbrott")))[idx],
    }


def _simulate(w: _World, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """All interventions of the generated children, round by round."""
    n = len(w.ch["kommun"])
    cur = {
        "child": np.arange(n),
        "opened": w.ch["first_opened"],
        "start": np.zeros(n, dtype=np.int64),
        "replaced": np.zeros(n, dtype=bool),
        "after_breakdown": np.zeros(n, dtype=bool),
    }
    batches = []
    for r in range(MAX_ROUNDS):
        if len(cur["child"]) == 0:
            break
        batch = _intervention_batch(w, rng, cur, first=r == 0)
        batches.append(batch)
        cur = _next_round(w, rng, batch)
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def _registration_dates(
    w: _World, rng: np.random.Generator, ins: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Follow-up registrations (at most three) and the ending registration, inside the window."""
    n = len(ins["child"])
    f = np.empty((n, MAX_FOLLOW_UPS), dtype=np.int64)
    f[:, 0] = ins["i_start"] + rng.integers(90, 201, n)
    for j in range(1, MAX_FOLLOW_UPS):
        f[:, j] = f[:, j - 1] + rng.integers(150, 211, n)
    limit = np.where(ins["ended"], ins["i_end"] - 7, w.end)
    ok = (f <= limit[:, None]) & (f >= w.start)
    end_ok = ins["ended"] & (ins["i_end"] >= w.start)
    rows, cols = np.nonzero(ok)
    e_rows = np.flatnonzero(end_ok)
    ins_idx = np.concatenate([rows, e_rows])
    date = np.concatenate([f[rows, cols], ins["i_end"][e_rows]])
    ending = np.concatenate([np.zeros(len(rows), bool), np.ones(len(e_rows), bool)])
    order = np.lexsort((date, ins_idx))
    return {"ins": ins_idx[order], "date": date[order], "ending": ending[order]}


def _select(
    w: _World,
    rng: np.random.Generator,
    ins: dict[str, np.ndarray],
    reg: dict[str, np.ndarray],
    expected: np.ndarray,
) -> None:
    """Keep whole children, in random order per municipality, until its volume is reached."""
    n_ch = len(w.ch["kommun"])
    per_child = np.bincount(ins["child"][reg["ins"]], minlength=n_ch)
    kommun = w.ch["kommun"]
    order = np.lexsort((rng.random(n_ch), kommun))
    r_sorted = per_child[order]
    k_sorted = kommun[order]
    cs = np.cumsum(r_sorted)
    first = np.r_[True, k_sorted[1:] != k_sorted[:-1]]
    base = np.maximum.accumulate(np.where(first, cs - r_sorted, 0))
    before = cs - r_sorted - base
    keep_child = np.zeros(n_ch, bool)
    keep_child[order] = before < np.maximum(expected[k_sorted], 1)
    # Interventions shown: kept children, started by the data date, not ended before the window.
    keep_ins = keep_child[ins["child"]] & (~ins["ended"] | (ins["i_end"] >= w.start))
    keep_child &= np.bincount(ins["child"][keep_ins], minlength=n_ch) > 0
    ch_new = np.cumsum(keep_child) - 1
    ins_new = np.cumsum(keep_ins) - 1
    w.ch = {k: v[keep_child] for k, v in w.ch.items()}
    w.ins = {k: v[keep_ins] for k, v in ins.items()}
    w.ins["child"] = ch_new[w.ins["child"]]
    w.ins["kommun"] = w.ch["kommun"][w.ins["child"]]
    keep_reg = keep_ins[reg["ins"]]
    w.reg = {k: v[keep_reg] for k, v in reg.items()}
    w.reg["ins"] = ins_new[w.reg["ins"]]
    w.reg["child"] = w.ins["child"][w.reg["ins"]]
    w.reg["kommun"] = w.ins["kommun"][w.reg["ins"]]


def _derive(w: _World) -> None:
    """Derived values: age, age band, year, re-referral within 12 months, insats_slut."""
    ins, reg = w.ins, w.reg
    birth = w.ch["birth"]
    reg["alder"] = _age(birth[reg["child"]], reg["date"])
    reg["band"] = _band_index(w, reg["alder"])
    reg["ar"] = _year_of(reg["date"])
    ins["slut"] = np.where(ins["ended"], ins["i_end"], -1)
    # aterkomst_12man: another opening of the same child in (end, end + 12 months].
    key = ins["child"].astype(np.int64) * 100_000 + (ins["opened"] - w.start + 20_000)
    order = np.argsort(key, kind="stable")
    skey = key[order]
    end = ins["i_end"]
    pos = np.searchsorted(skey, ins["child"] * 100_000 + (end - w.start + 20_000), side="right")
    limit = _add_months(end, 12)
    nxt = order[np.minimum(pos, len(order) - 1)]
    has = (pos < len(order)) & (ins["child"][nxt] == ins["child"]) & (ins["opened"][nxt] <= limit)
    known = ins["ended"] & (limit <= w.end)
    ins["aterkomst"] = np.where(known, has.astype(np.int8), -1)


def _registration_truth(w: _World, rng: np.random.Generator) -> None:
    """Result and process values of every registration, before their own recording.

    Runs after the background and intervention variables were recorded: the planted goal model
    uses the *recorded* covariates, so it holds exactly in the dataset.
    """
    reg, ins = w.reg, w.ins
    n = len(reg["ins"])
    T, M = w.cl["insatstyp"], w.cl["maluppfyllelse"]
    child, ii = reg["child"], reg["ins"]
    # Goal attainment: kan ej bedömas (MCAR), else the planted logistic model.
    X = _design(
        w,
        GOAL_MODEL["coefficients"],
        sex=w.ch["kon"][child],
        origin=w.ch["ursprung"][child],
        vuln=w.multi["identifierad_utsatthet"][0],
        band=reg["band"],
        itype=ins["insatstyp"][ii],
    )
    beta = np.array(list(GOAL_MODEL["coefficients"].values()))
    lp = GOAL_MODEL["intercept"] + X @ beta + w.truth["goal_kommun_effect"][reg["kommun"]]
    helt = rng.random(n) < expit(lp)
    partly = rng.random(n) < 0.62
    goal = np.where(helt, M.i("helt"), np.where(partly, M.i("delvis"), M.i("inte_alls")))
    goal = np.where(
        rng.random(n) < NOT_ASSESSABLE_TRUE["maluppfyllelse"], M.i("kan_ej_bedomas"), goal
    )
    reg["maluppfyllelse"] = goal
    # Change in the situation and risk share one latent progress score (so they rarely
    # contradict each other in truth).
    z = rng.standard_normal(n) + 0.6 * helt - 0.3 * (goal == M.i("inte_alls")) + 0.1
    C, Rk = w.cl["forandring_situation"], w.cl["riskbedomning"]
    change = np.where(
        z > 0.3, C.i("forbattrad"), np.where(z < -1.0, C.i("forsamrad"), C.i("oforandrad"))
    )
    change = np.where(
        rng.random(n) < NOT_ASSESSABLE_TRUE["forandring_situation"], C.i("kan_ej_bedomas"), change
    )
    r = z + 0.5 * rng.standard_normal(n)
    risk = np.where(r > 0.4, Rk.i("minskad"), np.where(r < -1.0, Rk.i("okad"), Rk.i("oforandrad")))
    risk = np.where(
        rng.random(n) < NOT_ASSESSABLE_TRUE["riskbedomning"], Rk.i("kan_ej_bedomas"), risk
    )
    reg["forandring_situation"], reg["riskbedomning"] = change, risk
    # Talk with the child: the planted trend; the rest by age.
    D = w.cl["delaktighet"]
    y0, y1 = w.cfg.years
    slope = (logit(TALK_TREND["last"]) - logit(TALK_TREND["first"])) / max(y1 - y0, 1)
    w.truth["talk_slope"] = float(slope)
    p_yes = expit(logit(TALK_TREND["first"]) + slope * (reg["ar"] - y0))
    age = reg["alder"]
    other = np.where(
        (age < 4)[:, None],
        D.w({"ej_aktuellt": 0.7, "nej": 0.2, "okant": 0.1})[None, :],
        np.where(
            (age < 13)[:, None],
            D.w({"nej": 0.6, "ej_aktuellt": 0.2, "okant": 0.2})[None, :],
            D.w({"nej": 0.75, "okant": 0.25})[None, :],
        ),
    )
    talk = np.where(rng.random(n) < p_yes, D.i("ja"), _draw_rows(rng, other))
    reg["samtal_med_barnet"] = talk
    view = np.where(
        (talk == D.i("ja"))[:, None],
        D.w({"ja": 0.85, "nej": 0.12, "okant": 0.03})[None, :],
        np.where(
            (talk == D.i("ej_aktuellt"))[:, None],
            D.w({"ej_aktuellt": 0.9, "nej": 0.1})[None, :],
            D.w({"ja": 0.3, "nej": 0.55, "okant": 0.15})[None, :],
        ),
    )
    reg["barnets_asikt_dokumenterad"] = _draw_rows(rng, view)
    S = w.cl["syn_pa_insatsen"]
    zz = z + 0.5 * rng.standard_normal(n)
    opinion = np.where(
        zz > 0.2, S.i("positiv"), np.where(zz < -0.8, S.i("negativ"), S.i("blandad"))
    )
    asked = (talk == D.i("ja")) & (age >= 7)
    child_view = np.where(
        asked & (rng.random(n) < 0.92),
        opinion,
        np.where(rng.random(n) < 0.75, S.i("ej_tillfragad"), S.i("okant")),
    )
    reg["barnets_syn"] = child_view
    u = rng.random(n)
    reg["vardnadshavares_syn"] = np.where(
        u < 0.85, opinion, np.where(u < 0.93, S.i("okant"), S.i("ej_tillfragad"))
    )
    itype = ins["insatstyp"][ii]
    step = np.where((itype >= 0) & (T.group[np.maximum(itype, 0)] == "placering"), 182, 91)
    reg["planerad_uppfoljning"] = np.where(reg["ending"], -1, reg["date"] + step)
    reg["planerad_uppfoljning"] = np.where(rng.random(n) < 0.07, -1, reg["planerad_uppfoljning"])


# ------------------------------------------------------------------------------------------------
# Contradiction rules (one per variable where a rule makes sense). A rule marks, per row, the codes
# that would contradict a related variable; the generic recording process avoids them, and the
# planting step deliberately records them for ambiguous variables.
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    id: str
    description: str
    related: tuple[str, ...]
    #: single-code rules: (n, K) mask of contradicting codes given the related values
    forbidden: Callable[[_World], np.ndarray] | None = None
    #: multi-select or special rules: (eligible rows, violating rows)
    status: Callable[[_World], tuple[np.ndarray, np.ndarray]] | None = None
    #: multi-select or special rules: plant the contradiction on the given rows
    plant: Callable[[_World, np.random.Generator, np.ndarray], None] | None = None


def _ins_of_reg(w: _World, values: np.ndarray) -> np.ndarray:
    return values[w.reg["ins"]]


def _forbid(w: _World, var: str, conditions: Mapping[str, np.ndarray]) -> np.ndarray:
    cl = w.cl[var]
    n = len(w.table_of(var)["kommun"])
    out = np.zeros((n, cl.k), bool)
    for code, cond in conditions.items():
        if cl.has(code):
            out[:, cl.i(code)] = cond
    return out


def _rule_risk(w: _World) -> np.ndarray:
    ch, C = w.reg["forandring_situation"], w.cl["forandring_situation"]
    return _forbid(
        w, "riskbedomning", {"minskad": ch == C.i("forsamrad"), "okad": ch == C.i("forbattrad")}
    )


def _rule_change(w: _World) -> np.ndarray:
    r, R = w.reg["riskbedomning"], w.cl["riskbedomning"]
    return _forbid(
        w,
        "forandring_situation",
        {"forsamrad": r == R.i("minskad"), "forbattrad": r == R.i("okad")},
    )


def _rule_type(w: _World) -> np.ndarray:
    L, T = w.cl["lagrum"], w.cl["insatstyp"]
    residential = np.isin(w.ins["lagrum"], [L.i("lvu2"), L.i("lvu3")])
    return residential[:, None] & (T.group == "oppenvard")[None, :]


def _rule_basis(w: _World) -> np.ndarray:
    T = w.cl["insatstyp"]
    t = w.ins["insatstyp"]
    open_care = (t >= 0) & (T.group[t] == "oppenvard")
    return _forbid(w, "lagrum", {"lvu2": open_care, "lvu3": open_care})


def _rule_provider(w: _World) -> np.ndarray:
    sis = w.ins["insatstyp"] == w.cl["insatstyp"].i("sis")
    return _forbid(w, "utforare", {"egen_regi": sis, "privat": sis, "ideell": sis})


def _rule_ending(w: _World) -> np.ndarray:
    T = w.cl["insatstyp"]
    t = _ins_of_reg(w, w.ins["insatstyp"])
    open_care = (t >= 0) & (T.group[t] == "oppenvard")
    return _forbid(w, "avslutsorsak", {"sammanbrott": open_care})


def _rule_talk(var: str) -> Callable[[_World], np.ndarray]:
    def fn(w: _World) -> np.ndarray:
        return _forbid(w, var, {"ej_aktuellt": w.reg["alder"] >= 13})

    return fn


def _rule_route(w: _World) -> np.ndarray:
    has_reporter = w.ins["anmalare"] >= 0
    return _forbid(
        w, "aktualiseringsvag", {"ansokan": has_reporter, "ovrig_information": has_reporter}
    )


def _rule_unaccompanied(w: _World) -> np.ndarray:
    swedish = w.ch["ursprung"] == w.cl["ursprung"].i("sverige")
    return _forbid(w, "ensamkommande", {"ja": swedish})


def _rule_origin(w: _World) -> np.ndarray:
    ens = w.ch["ensamkommande"] == w.cl["ensamkommande"].i("ja")
    return _forbid(w, "ursprung", {"sverige": ens})


def _reporter_status(w: _World) -> tuple[np.ndarray, np.ndarray]:
    A = w.cl["aktualiseringsvag"]
    route = w.ins["aktualiseringsvag"]
    eligible = (route >= 0) & (route != A.i("anmalan"))
    return eligible, eligible & (w.ins["anmalare"] >= 0)


def _reporter_plant(w: _World, rng: np.random.Generator, rows: np.ndarray) -> None:
    R = w.cl["anmalare"]
    w.ins["anmalare"][rows] = _draw(rng, R.w(REPORTER["13-17"]), len(rows))


def _focus_fit(w: _World) -> np.ndarray:
    G, F = w.cl["grundproblematik"], w.cl["insatsens_fokus"]
    fit = np.zeros((G.k, F.k), bool)
    for g, fs in FOCUS_FOR_PROBLEM.items():
        if G.has(g):
            fit[G.i(g), F.mask(fs)] = True
    return fit


def _focus_status(w: _World) -> tuple[np.ndarray, np.ndarray]:
    G, F = w.cl["grundproblematik"], w.cl["insatsens_fokus"]
    gx, gna = w.multi["grundproblematik"]
    fx, fna = w.multi["insatsens_fokus"]
    fx, fna = fx[w.reg["ins"]], fna[w.reg["ins"]]
    g_other, f_other = G.of_kind("residual"), F.of_kind("residual")
    eligible = ~gna & ~fna & ~(gx & g_other).any(1) & ~(fx & f_other).any(1)
    fits = (gx.astype(np.int32) @ _focus_fit(w).astype(np.int32)) > 0
    return eligible, eligible & ~(fx & fits).any(1)


def _focus_plant(w: _World, rng: np.random.Generator, rows: np.ndarray) -> None:
    """Rows are registrations; the focus of their intervention is replaced by a misfit."""
    F = w.cl["insatsens_fokus"]
    ins_rows = np.unique(w.reg["ins"][rows])
    gx_true = w.ins["grundproblematik"][ins_rows]
    fits = (gx_true.astype(np.int32) @ _focus_fit(w).astype(np.int32)) > 0
    allowed = ~fits & ~F.of_kind("residual")[None, :]
    pick = _draw_rows(rng, allowed.astype(float) + 1e-12)
    fx, fna = w.multi["insatsens_fokus"]
    fx[ins_rows] = False
    fx[ins_rows, pick] = True
    fna[ins_rows] = False


def _problem_forbidden(w: _World) -> np.ndarray:
    G = w.cl["grundproblematik"]
    young = w.reg["alder"] <= 6
    return young[:, None] & G.mask(["eget_missbruk", "kriminalitet"])[None, :]


def _problem_status(w: _World) -> tuple[np.ndarray, np.ndarray]:
    gx, gna = w.multi["grundproblematik"]
    fb = _problem_forbidden(w)
    eligible = ~gna & fb.any(1)
    return eligible, eligible & (gx & fb).any(1)


def _problem_plant(w: _World, rng: np.random.Generator, rows: np.ndarray) -> None:
    gx, _ = w.multi["grundproblematik"]
    fb = _problem_forbidden(w)[rows]
    gx[rows, _draw_rows(rng, fb.astype(float) + 1e-12)] = True


def _vuln_status(w: _World) -> tuple[np.ndarray, np.ndarray]:
    V = w.cl["identifierad_utsatthet"]
    vx, vna = w.multi["identifierad_utsatthet"]
    none = vx[:, V.i("ingen")]
    other = (vx & ~V.mask(["ingen"])[None, :]).any(1)
    return ~vna, ~vna & none & other


def _vuln_plant(w: _World, rng: np.random.Generator, rows: np.ndarray) -> None:
    V = w.cl["identifierad_utsatthet"]
    vx, _ = w.multi["identifierad_utsatthet"]
    none = vx[rows, V.i("ingen")]
    others = (~V.mask(["ingen"]) & V.of_kind("valid")).astype(float)
    pick = _draw(rng, others, len(rows))
    vx[rows[none], pick[none]] = True
    vx[rows[~none], V.i("ingen")] = True


RULES: dict[str, _Rule] = {
    "riskbedomning": _Rule(
        "risk_vs_change",
        "riskbedomning 'minskad' while forandring_situation "
        "is 'forsamrad', or 'okad' while it is 'forbattrad'",
        ("forandring_situation",),
        forbidden=_rule_risk,
    ),
    "forandring_situation": _Rule(
        "risk_vs_change",
        "forandring_situation 'forsamrad' while "
        "riskbedomning is 'minskad', or 'forbattrad' while it is 'okad'",
        ("riskbedomning",),
        forbidden=_rule_change,
    ),
    "insatstyp": _Rule(
        "open_care_under_residential_lvu",
        "an open-care insatstyp with lagrum lvu2/lvu3 (a residential basis)",
        ("lagrum",),
        forbidden=_rule_type,
    ),
    "lagrum": _Rule(
        "open_care_under_residential_lvu",
        "lagrum lvu2/lvu3 (a residential basis) on an open-care insatstyp",
        ("insatstyp",),
        forbidden=_rule_basis,
    ),
    "utforare": _Rule(
        "sis_not_public",
        "insatstyp 'sis' (a state authority) with utforare egen_regi, privat or ideell",
        ("insatstyp",),
        forbidden=_rule_provider,
    ),
    "avslutsorsak": _Rule(
        "breakdown_of_open_care",
        "avslutsorsak 'sammanbrott' (placement breakdown) on an open-care intervention",
        ("insatsgrupp",),
        forbidden=_rule_ending,
    ),
    "samtal_med_barnet": _Rule(
        "not_applicable_for_teenager",
        "'ej_aktuellt' (age or maturity) for a child aged 13 or more",
        ("alder",),
        forbidden=_rule_talk("samtal_med_barnet"),
    ),
    "barnets_asikt_dokumenterad": _Rule(
        "not_applicable_for_teenager",
        "'ej_aktuellt' (age or maturity) for a child aged 13 or more",
        ("alder",),
        forbidden=_rule_talk("barnets_asikt_dokumenterad"),
    ),
    "aktualiseringsvag": _Rule(
        "reporter_without_report",
        "aktualiseringsvag other than 'anmalan' while anmalare is filled in",
        ("anmalare",),
        forbidden=_rule_route,
    ),
    "anmalare": _Rule(
        "reporter_without_report",
        "anmalare filled in while aktualiseringsvag is not 'anmalan'",
        ("aktualiseringsvag",),
        status=_reporter_status,
        plant=_reporter_plant,
    ),
    "ensamkommande": _Rule(
        "unaccompanied_born_in_sweden",
        "ensamkommande 'ja' with ursprung 'sverige'",
        ("ursprung",),
        forbidden=_rule_unaccompanied,
    ),
    "ursprung": _Rule(
        "unaccompanied_born_in_sweden",
        "ursprung 'sverige' with ensamkommande 'ja'",
        ("ensamkommande",),
        forbidden=_rule_origin,
    ),
    "insatsens_fokus": _Rule(
        "focus_vs_problem",
        "none of the intervention's focus areas fits any "
        "of the registration's grundproblematik (rows with 'annat' on either "
        "side excluded)",
        ("grundproblematik",),
        status=_focus_status,
        plant=_focus_plant,
    ),
    "grundproblematik": _Rule(
        "problem_implausible_for_age",
        "grundproblematik 'eget_missbruk' or 'kriminalitet' for a child aged 0-6",
        ("alder",),
        status=_problem_status,
        plant=_problem_plant,
    ),
    "identifierad_utsatthet": _Rule(
        "none_with_other",
        "identifierad_utsatthet 'ingen' together with another code",
        (),
        status=_vuln_status,
        plant=_vuln_plant,
    ),
}


def _hard_forbidden(w: _World, var: str) -> np.ndarray | None:
    """Codes the recording process never produces for a row (DOMAIN.md §6 cross-field rules)."""
    L, T = w.cl["lagrum"], w.cl["insatstyp"]
    if var == "insatstyp":
        paired = w.ins["lagrum"] == L.i("lvu22")
        out = np.zeros((len(paired), T.k), bool)
        out[:, T.i("lvu22")] = ~paired
        out[paired] = True
        out[paired, T.i("lvu22")] = False
        return out
    if var == "lagrum":
        paired = w.ins["insatstyp"] == T.i("lvu22")
        last_age = np.zeros(len(paired), dtype=np.int64)
        np.maximum.at(last_age, w.reg["ins"], w.reg["alder"])
        placement = (w.ins["insatstyp"] >= 0) & (T.group[w.ins["insatstyp"]] == "placering")
        return _forbid(
            w,
            "lagrum",
            {
                "lvu22": ~paired,
                "sol": paired,
                "lvu6": paired,
                "lvu3": paired,
                "lvu2": paired | (last_age >= 18),
            },
        ) | (placement[:, None] & L.mask(["lvu22"])[None, :])
    if var == "avslutsorsak":
        return _forbid(w, var, {"aldersgrans": w.reg["alder"] < 17})
    return None


# ------------------------------------------------------------------------------------------------
# Recording: the generic process that turns true values into recorded ones
# ------------------------------------------------------------------------------------------------


def _role(w: _World, var: str) -> str:
    if var in w.cfg.ambiguous_variables:
        return "ambiguous"
    if var in w.cfg.clean_variables:
        return "clean"
    return "other"


def _recordable(cat: Catalogue) -> list[str]:
    """Code variables that are recorded (not derived, not the registration type)."""
    return [
        v.name
        for v in cat.variables.values()
        if v.type in ("code", "multi")
        and not v.derived
        and not v.groups_of
        and v.name != "registreringstyp"
    ]


def _applicable(w: _World, var: str) -> np.ndarray:
    tab = w.table_of(var)
    n = len(tab["kommun"])
    if var == "avslutsorsak":
        return w.reg["ending"].copy()
    if var == "anmalare":
        return w.ins["aktualiseringsvag"] == w.cl["aktualiseringsvag"].i("anmalan")
    return np.ones(n, bool)


def _style(w: _World, var: str, params: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Municipality coding styles: (miscoding share per municipality, code weights (M, K))."""
    cl = w.cl[var]
    rng = _rng(w.cfg.seed, "style", var)
    m = len(w.kommuner)
    z = rng.standard_normal(m)
    zc = rng.standard_normal((m, cl.k))
    if params["style_mean"] <= 0:
        return np.zeros(m), np.ones((m, cl.k))
    share = expit(logit(params["style_mean"]) + params["style_logit_sd"] * z)
    return share, np.exp(params["style_code_sd"] * zc)


def _national_marginal(w: _World, var: str) -> np.ndarray:
    cl = w.cl[var]
    if var in w.multi:
        x, na = w.multi[var]
        p = x[~na].mean(axis=0) if (~na).any() else np.full(cl.k, 0.1)
        return np.clip(p, 0.01, 0.95)
    x = w.table_of(var)[var]
    p = np.bincount(x[x >= 0], minlength=cl.k).astype(float) + 0.5
    return p / p.sum()


def _style_weights(
    w: _World, var: str, pi: np.ndarray, tilt: np.ndarray, share: np.ndarray
) -> np.ndarray:
    """Per-municipality code distributions that leave the national marginal unchanged.

    Rows recoded in municipality k (volume x recoded share) move from the national marginal to
    the municipality's style, so the styles are centred with those weights.
    """
    cl = w.cl[var]
    styleable = cl.of_kind("valid", "residual")
    q = pi[None, :] * tilt * styleable[None, :]
    groups = [cl.group == g for g in dict.fromkeys(cl.group.tolist())]
    wt = w.weight * share / max(float(w.weight @ share), 1e-12)
    for _ in range(3):
        for g in groups:
            sub = q[:, g]
            sub = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1e-12)
            target = pi[g] / max(pi[g].sum(), 1e-12)
            mean = wt @ sub
            q[:, g] = sub * np.where(mean > 0, target / np.maximum(mean, 1e-12), 0)[None, :]
    return q


def _record_single(w: _World, var: str, rng: np.random.Generator, report: dict[str, Any]) -> None:
    cl = w.cl[var]
    role = _role(w, var)
    params = ROLE_PARAMS[role]
    tab = w.table_of(var)
    x = tab[var].astype(np.int64)
    kommun = tab["kommun"]
    app = _applicable(w, var)
    styleable = cl.of_kind("valid", "residual")
    rule = RULES.get(var)
    hard = _hard_forbidden(w, var)

    def blocked() -> np.ndarray:
        out = np.zeros((len(x), cl.k), bool)
        if rule is not None and rule.forbidden is not None:
            tab[var] = x
            out |= rule.forbidden(w)
        if hard is not None:
            out |= hard
        return out

    mechanisms: list[str] = []
    share, tilt = _style(w, var, params)
    if params["style_mean"] > 0:
        pi = _national_marginal(w, var)
        q = _style_weights(w, var, pi, tilt, share)
        filled = (x >= 0) & app
        rows = np.flatnonzero(
            filled & styleable[np.maximum(x, 0)] & (rng.random(len(x)) < share[kommun])
        )
        same_group = cl.group[None, :] == cl.group[x[rows]][:, None]
        p = q[kommun[rows]] * same_group * ~blocked()[rows]
        ok = p.sum(axis=1) > 0
        x[rows[ok]] = _draw_rows(rng, p[ok])
        mechanisms.append("municipality_variation")
        report["municipality_variation"] = {
            "mean_recoded_share": params["style_mean"],
            "recoded_share_logit_sd": params["style_logit_sd"],
            "style_code_log_sd": params["style_code_sd"],
            "recoded_within_group": bool((cl.group != "").any()),
            "recoded_share_by_kommun": {
                k: round(float(s), 4)
                for k, s, inc in zip(w.kommuner, share, w.included, strict=True)
                if inc
            },
            "description": "with the municipality's recoded share, a row's code is redrawn from "
            "the municipality's own code distribution (national marginal tilted by "
            "exp(sd * N(0,1)) per code, size-weighted mean = national marginal)",
        }
    residual = cl.of_kind("residual")
    if params["residual"] > 0:
        if residual.any():
            rz = _rng(w.cfg.seed, "residual", var).standard_normal(len(w.kommuner))
            r_k = expit(logit(params["residual"]) + params["residual_logit_sd"] * rz)
            res_of_group = {
                g: np.flatnonzero(residual & (cl.group == g))
                for g in dict.fromkeys(cl.group.tolist())
            }
            target = np.array(
                [res_of_group[g][0] if len(res_of_group[g]) else -1 for g in cl.group]
            )
            cand = (x >= 0) & app & (cl.kind[np.maximum(x, 0)] == "valid")
            cand &= target[np.maximum(x, 0)] >= 0
            rows = np.flatnonzero(cand & (rng.random(len(x)) < r_k[kommun]))
            new = target[x[rows]]
            allowed = ~blocked()[rows, new]
            x[rows[allowed]] = new[allowed]
            mechanisms.append("residual_overuse")
            report["residual_overuse"] = {
                "codes": [cl.codes[i] for i in np.flatnonzero(residual)],
                "extra_rate": params["residual"],
                "rate_logit_sd_between_kommuner": params["residual_logit_sd"],
            }
        else:
            report["residual_overuse"] = {"skipped": "the code list has no residual code"}
    if rule is not None and params["contradiction"] > 0:
        tab[var] = x
        _plant_contradiction(w, var, rule, rng, params["contradiction"], app)
        x = tab[var].astype(np.int64)
        mechanisms.append("contradiction")
    na_codes = np.flatnonzero(cl.of_kind("not_assessable", "unknown"))
    if params["not_assessable"] > 0:
        if len(na_codes):
            rows = np.flatnonzero(
                (x >= 0)
                & app
                & ~np.isin(x, na_codes)
                & (rng.random(len(x)) < params["not_assessable"])
            )
            x[rows] = na_codes[0]
            mechanisms.append("not_assessable")
            report["not_assessable"] = {
                "code": cl.codes[na_codes[0]],
                "extra_rate": params["not_assessable"],
            }
        else:
            report["not_assessable"] = {"skipped": "the code list has no okant/kan_ej_bedomas"}
    p_missing = params["missing"]
    if role == "other" and w.cat.variable(var).optional:
        p_missing = MISSING_OPTIONAL
    x[app & (rng.random(len(x)) < p_missing)] = -1
    if role == "ambiguous":
        mechanisms.append("missing")
    report["missing_rate"] = p_missing
    tab[var] = x.astype(np.int16)
    report["mechanisms"] = mechanisms


def _plant_contradiction(
    w: _World, var: str, rule: _Rule, rng: np.random.Generator, rate: float, app: np.ndarray
) -> None:
    """Record a contradiction on a share ``rate`` of the rule's eligible rows."""
    eligible, viol = _rule_status(w, var, rule)
    if len(eligible) == len(app):  # (the focus rule is evaluated per registration)
        eligible &= app
    base = viol[eligible].mean() if eligible.any() else 0.0
    p = max(rate - base, 0.0) / max(1 - base, 1e-9)
    rows = np.flatnonzero(eligible & ~viol & (rng.random(len(eligible)) < p))
    if rule.plant is not None:
        rule.plant(w, rng, rows)
        return
    assert rule.forbidden is not None
    fb = rule.forbidden(w)[rows]
    fb &= ~w.cl[var].of_kind("residual")[None, :] | (fb.sum(axis=1, keepdims=True) == 1)
    w.table_of(var)[var][rows] = _draw_rows(rng, fb.astype(float) + 1e-12)


def _rule_status(w: _World, var: str, rule: _Rule) -> tuple[np.ndarray, np.ndarray]:
    if rule.status is not None:
        return rule.status(w)
    assert rule.forbidden is not None
    fb = rule.forbidden(w)
    x = w.table_of(var)[var].astype(np.int64)
    filled = x >= 0
    eligible = filled & fb.any(axis=1)
    viol = filled & fb[np.arange(len(x)), np.maximum(x, 0)]
    return eligible, viol


def _record_multi(w: _World, var: str, rng: np.random.Generator, report: dict[str, Any]) -> None:
    cl = w.cl[var]
    role = _role(w, var)
    params = ROLE_PARAMS[role]
    x, na = w.multi[var]
    kommun = w.rows_kommun(var)
    n = len(na)
    mechanisms: list[str] = []
    exclusive = cl.mask(["ingen"]) if var == "identifierad_utsatthet" else np.zeros(cl.k, bool)
    share, tilt = _style(w, var, params)
    if params["style_mean"] > 0:
        p = _national_marginal(w, var)
        styleable = cl.of_kind("valid", "residual") & ~exclusive
        logits = logit(p)[None, :] + np.log(tilt)
        rows = np.flatnonzero(~na & (rng.random(n) < share[kommun]))
        new = rng.random((len(rows), cl.k)) < expit(logits[kommun[rows]])
        new &= styleable[None, :]
        if var == "grundproblematik":
            new &= ~_problem_forbidden(w)[rows]
        had_exclusive = (x[rows] & exclusive[None, :]).any(axis=1)
        keep = ~new.any(axis=1) | had_exclusive
        x[rows[~keep]] = new[~keep]
        mechanisms.append("municipality_variation")
        report["municipality_variation"] = {
            "mean_recoded_share": params["style_mean"],
            "recoded_share_logit_sd": params["style_logit_sd"],
            "style_code_log_sd": params["style_code_sd"],
            "recoded_share_by_kommun": {
                k: round(float(s), 4)
                for k, s, inc in zip(w.kommuner, share, w.included, strict=True)
                if inc
            },
            "description": "with the municipality's recoded share, a row's codes are redrawn "
            "independently with the national inclusion rate shifted by the "
            "municipality's per-code logit style",
        }
    residual = cl.of_kind("residual")
    if params["residual"] > 0:
        if residual.any():
            rz = _rng(w.cfg.seed, "residual", var).standard_normal(len(w.kommuner))
            r_k = expit(logit(params["residual"]) + params["residual_logit_sd"] * rz)
            rows = np.flatnonzero(
                ~na & ~(x & exclusive[None, :]).any(1) & (rng.random(n) < r_k[kommun])
            )
            only = rng.random(len(rows)) < 0.5
            x[rows[only]] = False
            x[np.ix_(rows, np.flatnonzero(residual))] = True
            mechanisms.append("residual_overuse")
            report["residual_overuse"] = {
                "codes": [cl.codes[i] for i in np.flatnonzero(residual)],
                "extra_rate": params["residual"],
                "rate_logit_sd_between_kommuner": params["residual_logit_sd"],
                "description": "the residual code is added; in half of the rows it replaces all "
                "other codes",
            }
        else:
            report["residual_overuse"] = {"skipped": "the code list has no residual code"}
    rule = RULES.get(var)
    if rule is not None and params["contradiction"] > 0:
        _plant_contradiction(w, var, rule, rng, params["contradiction"], ~na)
        x, na = w.multi[var]
        mechanisms.append("contradiction")
    if params["not_assessable"] > 0:
        report["not_assessable"] = {"skipped": "multi-select: not assessable = not filled in"}
    p_missing = params["missing"] + (params["not_assessable"] if role == "ambiguous" else 0.0)
    if role == "other" and w.cat.variable(var).optional:
        p_missing = MISSING_OPTIONAL
    gone = rng.random(n) < p_missing
    na |= gone
    x[na] = False
    if role == "ambiguous":
        mechanisms.append("missing")
    report["missing_rate"] = p_missing
    report["mechanisms"] = mechanisms


def _record(w: _World, variables: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Apply the recording process to code variables (in the order given)."""
    reports: dict[str, dict[str, Any]] = {}
    for var in variables:
        rng = _rng(w.cfg.seed, "record", var)
        report: dict[str, Any] = {
            "table": w.cat.variable(var).table,
            "type": w.cat.variable(var).type,
            "role": _role(w, var),
        }
        if var in w.multi:
            _record_multi(w, var, rng, report)
        else:
            _record_single(w, var, rng, report)
        rule = RULES.get(var)
        if rule is not None:
            shared = [v for v, r in RULES.items() if r.id == rule.id and v != var]
            report["contradiction"] = {
                "rule": rule.id,
                "description": rule.description,
                "related": list(rule.related),
                "rate_planted": ROLE_PARAMS[_role(w, var)]["contradiction"],
                "shared_with": shared,
                "rate_definition": "violating rows / eligible rows (rows where the related "
                "values make a contradiction possible)",
            }
            if shared:
                report["contradiction"]["note"] = (
                    f"the rule is shared with {', '.join(shared)}: contradictions planted there "
                    "also show in this variable's realised rate"
                )
        else:
            report["contradiction"] = {"skipped": "no contradiction rule for this variable"}
        reports[var] = report
    return reports


def _apply_quirks(w: _World) -> list[dict[str, Any]]:
    """The planted municipality quirks (only for municipalities in the configuration)."""
    rng = _rng(w.cfg.seed, "quirks")
    index = {k: i for i, k in enumerate(w.kommuner)}
    out = []
    T = w.cl["insatstyp"]
    M = w.cl["maluppfyllelse"]
    for name, q in QUIRKS.items():
        k = index[q["kommun"]]
        if not w.included[k]:
            continue
        entry = {"name": name, **q}
        if name == "sundsvall_open_care_residual":
            t = w.ins["insatstyp"]
            rows = np.flatnonzero(
                (w.ins["kommun"] == k)
                & (t >= 0)
                & (t != T.i("lvu22"))
                & (T.group[np.maximum(t, 0)] == "oppenvard")
                & (rng.random(len(t)) < q["rate"])
            )
            t[rows] = T.i(q["code"])
            entry["description"] = (
                "codes ~90% of open care as 'annan_oppenvard' (all open-care "
                "types except lvu22, which is tied to its legal basis)"
            )
        elif name == "ornskoldsvik_no_risk":
            w.reg["riskbedomning"][w.reg["kommun"] == k] = -1
            entry["description"] = "never fills in riskbedomning (all <NA>)"
        elif name == "timra_goal_shift":
            g = w.reg["maluppfyllelse"]
            here = w.reg["kommun"] == k
            before = here & (w.reg["ar"] < q["year"])
            after = here & (w.reg["ar"] >= q["year"])
            u = rng.random(len(g))
            g[before & (g == M.i("helt")) & (u < q["helt_to_delvis_before"])] = M.i("delvis")
            g[after & (g == M.i("delvis")) & (u < q["delvis_to_helt_from"])] = M.i("helt")
            entry["description"] = (
                "coding practice of maluppfyllelse changes in 2021: before, "
                "most 'helt' are recorded 'delvis'; from 2021 most 'delvis' "
                "are recorded 'helt' (a level shift, no real change)"
            )
        elif name == "kungsbacka_not_assessable":
            g = w.reg["maluppfyllelse"]
            rows = (w.reg["kommun"] == k) & (g >= 0) & (rng.random(len(g)) < q["rate"])
            g[rows] = M.i(q["code"])
            entry["description"] = "records 'kan_ej_bedomas' in maluppfyllelse far more often"
        entry["kommun_name"] = str(w.truth["names"][k])
        out.append(entry)
    return out


# ------------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------------


def _str_col(cl: _Codes, x: np.ndarray) -> pd.Series:
    cat = pd.Categorical.from_codes(np.asarray(x, dtype=np.int64), categories=list(cl.codes))
    return pd.Series(cat).astype("str")


def _date_col(days: np.ndarray) -> pd.Series:
    d = np.asarray(days, dtype=np.int64)
    arr = d.astype("datetime64[D]").astype("datetime64[ns]")
    arr[d < 0] = np.datetime64("NaT")
    return pd.Series(arr)


def _bool_col(values: np.ndarray, na: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(np.asarray(values, bool), np.asarray(na, bool))


def _frames(w: _World) -> dict[str, pd.DataFrame]:
    cat = w.cat
    kommun_codes = w.kommuner
    ids = _rng(w.cfg.seed, "ids")
    ch_id = _hex_ids(ids, "B", len(w.ch["kommun"]))
    ins_id = _hex_ids(ids, "I", len(w.ins["kommun"]))
    reg_id = _hex_ids(ids, "R", len(w.reg["kommun"]))
    cols: dict[str, dict[str, Any]] = {"children": {}, "interventions": {}, "registrations": {}}
    cols["children"].update(barn_id=ch_id, kommun=kommun_codes[w.ch["kommun"]])
    cols["interventions"].update(
        insats_id=ins_id, barn_id=ch_id[w.ins["child"]], kommun=kommun_codes[w.ins["kommun"]]
    )
    cols["registrations"].update(
        registrering_id=reg_id,
        insats_id=ins_id[w.reg["ins"]],
        barn_id=ch_id[w.reg["child"]],
        kommun=kommun_codes[w.reg["kommun"]],
        ar=w.reg["ar"],
    )
    dates = {
        "aktualiseringsdatum": w.ins["opened"],
        "utredning_start": w.ins["u_start"],
        "utredning_slut": w.ins["u_end"],
        "insats_start": w.ins["i_start"],
        "insats_slut": w.ins["slut"],
        "registreringsdatum": w.reg["date"],
        "planerad_uppfoljning": w.reg["planerad_uppfoljning"],
    }
    R = w.cl["registreringstyp"]
    for table in ("children", "interventions", "registrations"):
        tab = {"children": w.ch, "interventions": w.ins, "registrations": w.reg}[table]
        for var in cat.of_table(table):
            name = var.name
            if var.type == "multi":
                x, na = w.multi[name]
                for j, code in enumerate(var.codelist.code_values):  # type: ignore[union-attr]
                    cols[table][f"{name}{MULTI_SEP}{code}"] = _bool_col(x[:, j], na)
            elif var.type == "date":
                cols[table][name] = _date_col(dates[name])
            elif name == "fodelsear":
                cols[table][name] = _year_of(w.ch["birth"])
            elif name == "alder":
                cols[table][name] = w.reg["alder"]
            elif name == "aldersgrupp":
                cols[table][name] = _str_col(w.cl["aldersgrupp"], w.reg["band"])
            elif name == "insatsgrupp":
                T = w.cl["insatstyp"]
                t = w.ins["insatstyp"]
                groups = list(dict.fromkeys(g for g in T.group.tolist() if g))
                gi = np.array([groups.index(g) if g else -1 for g in T.group])
                cols[table][name] = pd.Series(
                    pd.Categorical.from_codes(
                        np.where(t >= 0, gi[np.maximum(t, 0)], -1), categories=groups
                    )
                ).astype("str")
            elif name == "registreringstyp":
                cols[table][name] = _str_col(
                    R, np.where(w.reg["ending"], R.i("avslut"), R.i("uppfoljning"))
                )
            elif name == "aterkomst_12man":
                a = w.ins["aterkomst"][w.reg["ins"]]
                show = w.reg["ending"] & (a >= 0)
                cols[table][name] = _bool_col(a == 1, ~show)
            elif var.type == "code":
                cols[table][name] = _str_col(w.cl[name], tab[name])
            else:  # pragma: no cover - a new catalogue type needs code here
                raise NotImplementedError(f"synth cannot generate {name!r} ({var.type})")
    frames = {}
    for table, c in cols.items():
        df = pd.DataFrame(
            {
                k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v)
                for k, v in c.items()
            }
        )
        frames[table] = df.astype(table_columns(table, cat))
    frames["children"] = frames["children"].sort_values(["kommun", "barn_id"], ignore_index=True)
    frames["interventions"] = frames["interventions"].sort_values(
        ["kommun", "insats_start", "insats_id"], ignore_index=True
    )
    frames["registrations"] = frames["registrations"].sort_values(
        ["kommun", "registreringsdatum", "registrering_id"], ignore_index=True
    )
    return frames


# ------------------------------------------------------------------------------------------------
# Vignette study
# ------------------------------------------------------------------------------------------------


def _agreement(vignette: np.ndarray, value: np.ndarray) -> tuple[float, float]:
    """Pairwise percent agreement and Krippendorff's alpha (nominal) of one variable's ratings."""
    ok = value >= 0
    v, x = vignette[ok], value[ok]
    if len(x) == 0:
        return float("nan"), float("nan")
    k = int(x.max()) + 1
    counts = np.zeros((int(vignette.max()) + 1, k))
    np.add.at(counts, (v, x), 1)
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts, m = counts[pairable], m[pairable]
    same = (counts * (counts - 1)).sum(axis=1)
    pa = same.sum() / (m * (m - 1)).sum()
    n_tot = m.sum()
    n_c = counts.sum(axis=0)
    d_o = ((m**2 - (counts**2).sum(axis=1)) / (m - 1)).sum()
    d_e = (n_tot**2 - (n_c**2).sum()) / (n_tot - 1)
    alpha = 1 - d_o / d_e if d_e > 0 else float("nan")
    return float(pa), float(alpha)


def _vignettes(w: _World, reports: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame, dict]:
    cfg = w.cfg
    rng = _rng(cfg.seed, "vignettes")
    variables = [
        v for v in _recordable(w.cat) if v in cfg.ambiguous_variables or v in cfg.clean_variables
    ]
    inc = np.flatnonzero(w.included)
    n_v, n_r = VIGNETTES["n_vignettes"], VIGNETTES["n_raters"]
    n_m = min(VIGNETTES["n_municipalities"], len(inc), n_r)
    size = w.size[inc].astype(float)
    chosen = np.sort(rng.choice(inc, size=n_m, replace=False, p=size / size.sum()))
    extra = rng.multinomial(n_r - n_m, w.size[chosen] / w.size[chosen].sum())
    rater_kommun = np.repeat(chosen, 1 + extra)
    lo, hi = VIGNETTES["per_rater"]
    n_rated = rng.integers(lo, hi + 1, n_r)
    rank = np.argsort(np.argsort(rng.random((n_r, n_v)), axis=1), axis=1)
    rater, vignette = np.nonzero(rank < n_rated[:, None])
    v_ids = _hex_ids(rng, "V", n_v)
    r_ids = _hex_ids(rng, "S", n_r)
    parts = []
    truth: dict[str, dict[str, str]] = {vid: {} for vid in v_ids.tolist()}
    summary: dict[str, Any] = {}
    for var in variables:
        cl = w.cl[var]
        role = _role(w, var)
        params = ROLE_PARAMS[role]
        vr = _rng(cfg.seed, "vignette", var)
        valid = cl.of_kind("valid")
        true_code = _draw(vr, valid.astype(float), n_v)
        z = vr.standard_normal(n_r)
        acc = expit(logit(params["vignette_accuracy"]) + params["vignette_rater_sd"] * z)
        tc = true_code[vignette]
        n = len(rater)
        if role == "ambiguous":
            share, tilt = _style(w, var, ROLE_PARAMS["ambiguous"])
            pi = _national_marginal(w, var)
            pi = pi / pi.sum()
            q = pi[None, :] * tilt * cl.of_kind("valid", "residual")[None, :]
            style = q[rater_kommun[rater]] * (cl.group[None, :] == cl.group[tc][:, None])
            style = style / np.maximum(style.sum(axis=1, keepdims=True), 1e-12)
            res = cl.of_kind("residual")[None, :] & (cl.group[None, :] == cl.group[tc][:, None])
            res = res / np.maximum(res.sum(axis=1, keepdims=True), 1)
            na = cl.of_kind("not_assessable", "unknown").astype(float)
            na = np.tile(na / max(na.sum(), 1), (n, 1))
            w_res = 0.25 * (res.sum(axis=1) > 0)
            w_na = 0.25 * (na.sum(axis=1) > 0)
            confusion = (1 - w_res - w_na)[:, None] * style + w_res[:, None] * res
            confusion = confusion + w_na[:, None] * na
            mech = {
                "confusion": "50% the rater's municipality style (same group), 25% the "
                "residual code, 25% okant/kan_ej_bedomas (weights moved to the "
                "style when the code list lacks that kind)"
            }
        else:
            confusion = np.tile(valid.astype(float), (n, 1))
            mech = {"confusion": "uniform over the valid codes"}
        wrong = _draw_rows(vr, confusion)
        value = np.where(vr.random(n) < acc[rater], tc, wrong)
        value = np.where(vr.random(n) < VIGNETTES["skip"], -1, value)
        pa, alpha = _agreement(vignette, value)
        for vid, code in zip(v_ids.tolist(), cl.take(true_code).tolist(), strict=True):
            truth[vid][var] = code
        summary[var] = {
            "role": role,
            "accuracy": params["vignette_accuracy"],
            "rater_accuracy_logit_sd": params["vignette_rater_sd"],
            **mech,
            "realised_percent_agreement": round(pa, 4),
            "realised_krippendorff_alpha": round(alpha, 4),
        }
        reports[var]["rater_disagreement" if role == "ambiguous" else "vignettes"] = summary[var]
        if role == "ambiguous":
            reports[var]["mechanisms"].insert(0, "rater_disagreement")
        parts.append(
            pd.DataFrame(
                {
                    "vinjett_id": v_ids[vignette],
                    "bedomare_id": r_ids[rater],
                    "kommun": w.kommuner[rater_kommun[rater]],
                    "variabel": var,
                    "varde": _str_col(cl, value),
                }
            )
        )
    df = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({c: pd.Series(dtype="str") for c in table_columns("vignette_ratings")})
    )
    df = df.astype(table_columns("vignette_ratings", w.cat))
    df = df.sort_values(["vinjett_id", "bedomare_id", "variabel"], ignore_index=True)
    meta = {
        "design": {
            "n_vignettes": n_v,
            "n_raters": n_r,
            "n_rater_municipalities": int(n_m),
            "vignettes_per_rater": [lo, hi],
            "skip_rate": VIGNETTES["skip"],
            "true_code": "uniform over the valid codes of each variable",
            "multi_select": "a multi-select variable is rated as one primary code (varde = the "
            "code chosen as primary)",
        },
        "variables": summary,
        "truth": truth,
        "raters": {
            rid: str(w.kommuner[k]) for rid, k in zip(r_ids.tolist(), rater_kommun, strict=True)
        },
    }
    return df, meta


# ------------------------------------------------------------------------------------------------
# Municipality survey
# ------------------------------------------------------------------------------------------------


def _best_count(n: int, pct: float) -> int:
    """The count whose share of ``n`` rounds to ``pct`` (closest to it)."""
    c = int(round(pct / 100 * n))
    for cand in (c, c - 1, c + 1):
        if 0 <= cand <= n and n and round(100 * cand / n) == pct:
            return cand
    return min(max(c, 0), n)


def _survey(w: _World) -> tuple[pd.DataFrame, dict[str, Any]]:
    cfg = w.cfg
    rng = _rng(cfg.seed, "survey")
    y0, y1 = cfg.survey_years
    years = np.arange(y0, y1 + 1)
    inc = np.flatnonzero(w.included)
    lan = w.lan[inc]
    m = len(inc)
    forced: dict[int, np.ndarray] = {}
    for (_, year), counties in SURVEY_COUNTY_TARGETS.items():
        f = forced.setdefault(year, np.zeros(m, bool))
        f |= np.isin(lan, list(counties))
    respond = np.zeros((len(years), m), bool)
    for i, y in enumerate(years):
        rate = SURVEY_RESPONSE.get(int(y), SURVEY_RESPONSE_DEFAULT)
        f = forced.get(int(y), np.zeros(m, bool))
        n_resp = _best_count(m, round(100 * rate))
        order = np.argsort(rng.random(m) - 2.0 * f)
        respond[i, order[: max(n_resp, int(f.sum()))]] = True
    questions = list(w.cat.survey_questions)
    adoption: dict[str, np.ndarray] = {}
    targets: dict[str, Any] = {}
    met = True
    for qn in questions:
        qrng = _rng(cfg.seed, "survey", qn)
        anchors = {
            y: a
            for y, a in SURVEY_ANCHORS.get(qn, {2010: (50, "P"), 2025: (80, "P")}).items()
            if y0 <= y <= y1
        }
        if y0 not in anchors:
            first = min(anchors) if anchors else None
            anchors[y0] = (anchors[first][0] if first else 50, "P")
        adopt, ok = _adoption(qn, anchors, years, respond, lan, qrng)
        met &= ok
        adoption[qn] = adopt
        targets[qn] = {
            str(y): {"percent": p, "source": s} for y, (p, s) in sorted(anchors.items())
        }
    rows_k, rows_y, rows_q, answered, answer = [], [], [], [], []
    for i, y in enumerate(years):
        for qn in questions:
            rows_k.append(w.kommuner[inc])
            rows_y.append(np.full(m, y))
            rows_q.append(np.full(m, qn, dtype=object))
            answered.append(respond[i])
            answer.append(adoption[qn] <= y)
    resp_all = np.concatenate(answered)
    df = pd.DataFrame(
        {
            "kommun": np.concatenate(rows_k),
            "ar": np.concatenate(rows_y),
            "fraga": np.concatenate(rows_q),
            "besvarad": resp_all,
            "svar": _bool_col(np.concatenate(answer), ~resp_all),
        }
    ).astype(table_columns("survey", w.cat))
    qorder = {q: i for i, q in enumerate(questions)}
    df = df.sort_values(
        ["kommun", "ar", "fraga"],
        key=lambda s: s.map(qorder) if s.name == "fraga" else s,
        ignore_index=True,
    )
    county = {
        qn: {
            str(y): {
                c: (
                    v
                    if v == "all"
                    else {"share": v, "count": int(round(v * int((lan == c).sum())))}
                )
                for c, v in counties.items()
            }
        }
        for (qn, y), counties in SURVEY_COUNTY_TARGETS.items()
    }
    meta = {
        "national": targets,
        "county": county,
        "response_rate": {
            str(y): SURVEY_RESPONSE.get(int(y), SURVEY_RESPONSE_DEFAULT) for y in years
        },
        "forced_respondents": {
            str(y): sorted({str(c) for c in lan[f]}) for y, f in forced.items()
        },
        "monotone": "a municipality that says yes keeps saying yes (adoption year per question)",
        "targets_met": bool(met),
    }
    return df, meta


def _adoption(
    qn: str,
    anchors: Mapping[int, tuple[int, str]],
    years: np.ndarray,
    respond: np.ndarray,
    lan: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, bool]:
    """Adoption year per municipality so that every anchor share (among respondents) is exact."""
    m = len(lan)
    u = rng.random(m)
    adopt = np.full(m, 10_000)
    constraints = {y: c for (q, y), c in SURVEY_COUNTY_TARGETS.items() if q == qn}
    share_counties = {c: y for y, cs in constraints.items() for c, v in cs.items() if v != "all"}
    ok = True
    prev = None
    for y in sorted(anchors):
        pct = anchors[y][0]
        yi = int(np.searchsorted(years, y))
        resp = respond[yi]
        adopted = adopt <= y
        new = np.zeros(m, bool)
        for c, rule in constraints.get(y, {}).items():
            members = np.flatnonzero(lan == c)
            if rule == "all":
                new[members[~adopted[members]]] = True
            else:
                want = int(round(float(rule) * len(members)))
                have = int(adopted[members].sum())
                cand = members[~adopted[members]]
                cand = cand[np.argsort(u[cand])]
                new[cand[: max(want - have, 0)]] = True
                ok &= have <= want
        locked = np.isin(lan, [c for c, yc in share_counties.items() if yc >= y])
        n_resp = int(resp.sum())
        goal = _best_count(n_resp, pct)
        have = int(((adopted | new) & resp).sum())
        pool = ~adopted & ~new & ~locked
        cand = np.flatnonzero(pool & resp)
        cand = cand[np.argsort(u[cand])]
        need = goal - have
        ok &= 0 <= need <= len(cand)
        chosen = cand[: max(min(need, len(cand)), 0)]
        new[chosen] = True
        frac = len(chosen) / max(len(cand), 1)
        nonresp = np.flatnonzero(pool & ~resp)
        new[nonresp[rng.random(len(nonresp)) < frac]] = True
        lo = years[0] if prev is None else prev + 1
        adopt[new] = rng.integers(lo, y + 1, int(new.sum())) if prev is not None else years[0]
        prev = y
    return adopt, bool(ok)


# ------------------------------------------------------------------------------------------------
# Ground truth and calibration report
# ------------------------------------------------------------------------------------------------

CALIBRATION_TARGETS: dict[str, dict[str, Any]] = {
    "boys_share_familjehem_incl_natverkshem_jourhem": {
        "target": 0.53,
        "source": "DOMAIN.md §5 (2020: family homes 53% boys)",
    },
    "boys_share_hvb": {"target": 0.64, "source": "DOMAIN.md §5 (2020: HVB 64% boys)"},
    "boys_share_stodboende": {"target": 0.73, "source": "DOMAIN.md §5 (supported housing 73%)"},
    "boys_share_placements": {"target": 0.58, "source": "DOMAIN.md §5 (overall 58% boys)"},
    "sol_share_placements": {
        "target": 0.70,
        "source": "DOMAIN.md §5 (73% SoL, 33% LVU; one lagrum per intervention here)",
    },
    "lvu_share_placements": {"target": 0.30, "source": "DOMAIN.md §5"},
    "age_15_plus_share_placements": {"target": 0.55, "source": "DOMAIN.md §5 (about 55% 15+)"},
    "family_home_to_hvb_ratio": {
        "target": round(19_400 / 8_300, 3),
        "source": "DOMAIN.md §5 (19,400 in family homes, 8,300 in HVB)",
    },
    "rereferral_13_20": {"target": 0.22, "source": "DOMAIN.md §5 (78% not returning, 13-20)"},
    "rereferral_0_12": {"target": 0.25, "source": "DOMAIN.md §5 (75% not returning, 0-12)"},
    "investigation_within_4_months": {
        "target": 0.95,
        "source": "DOMAIN.md §5 (92-98%, Helsingborg)",
    },
}


def calibration_metrics(tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """The calibration metrics of :data:`CALIBRATION_TARGETS` computed on canonical tables.

    Placement metrics are computed on registrations of placements (insatsgrupp "placering"),
    one share per registration year, then averaged over years. Re-referral uses ending
    registrations with a known ``aterkomst_12man``; investigations use interventions.
    """
    reg = tables["registrations"]
    ins = tables["interventions"]
    chi = tables["children"]
    cols = ["insats_id", "insatstyp", "insatsgrupp", "lagrum"]
    d = (
        reg[["insats_id", "barn_id", "ar", "alder", "registreringstyp", "aterkomst_12man"]]
        .merge(ins[cols], on="insats_id", how="left")
        .merge(chi[["barn_id", "kon"]], on="barn_id", how="left")
    )
    pl = d[d["insatsgrupp"] == "placering"]

    def yearly(frame: pd.DataFrame, num: pd.Series) -> float:
        by = num.groupby(frame["ar"]).mean()
        return float(by.mean())

    sexed = pl[pl["kon"].isin(["flicka", "pojke"])]
    boy = sexed["kon"] == "pojke"
    fh = sexed["insatstyp"].isin(["familjehem", "natverkshem", "jourhem"])
    out = {
        "boys_share_familjehem_incl_natverkshem_jourhem": yearly(sexed[fh], boy[fh]),
        "boys_share_hvb": yearly(
            sexed[sexed["insatstyp"] == "hvb"], boy[sexed["insatstyp"] == "hvb"]
        ),
        "boys_share_stodboende": yearly(
            sexed[sexed["insatstyp"] == "stodboende"], boy[sexed["insatstyp"] == "stodboende"]
        ),
        "boys_share_placements": yearly(sexed, boy),
    }
    lag = pl[pl["lagrum"].notna()]
    out["sol_share_placements"] = yearly(lag, lag["lagrum"] == "sol")
    out["lvu_share_placements"] = yearly(lag, lag["lagrum"].str.startswith("lvu"))
    out["age_15_plus_share_placements"] = yearly(pl, pl["alder"] >= 15)
    counts = pl.groupby("ar")["insatstyp"].agg(
        lambda s: (
            s.isin(["familjehem", "natverkshem", "jourhem"]).sum() / max((s == "hvb").sum(), 1)
        )
    )
    out["family_home_to_hvb_ratio"] = float(counts.mean())
    end = d[(d["registreringstyp"] == "avslut") & d["aterkomst_12man"].notna()]
    old = end[end["alder"] >= 13]
    young = end[end["alder"] <= 12]
    out["rereferral_13_20"] = float(old["aterkomst_12man"].astype(bool).mean())
    out["rereferral_0_12"] = float(young["aterkomst_12man"].astype(bool).mean())
    limit = ins["utredning_start"] + pd.DateOffset(months=4)
    out["investigation_within_4_months"] = float((ins["utredning_slut"] <= limit).mean())
    return {k: round(v, 4) for k, v in out.items()}


def _model_manifest(
    w: _World, model: Mapping[str, Any], *, outcome: str, sample: str, extra: Mapping[str, Any]
) -> dict[str, Any]:
    coef = dict(model["coefficients"])
    names = list(coef)
    return {
        "family": "binomial (logit link)",
        "outcome": outcome,
        "sample": sample,
        "formula": "y ~ " + " + ".join(names),
        "intercept": model["intercept"],
        "coefficients": coef,
        "odds_ratios": {k: round(math.exp(v), 6) for k, v in coef.items()},
        "null_effects": [k for k, v in coef.items() if v == 0.0 and k.startswith("origin_")],
        "covariates": _covariate_definitions(w, names),
        "covariate_values": "the recorded values in the dataset (outcomes are drawn after the "
        "covariates were recorded, so the model holds exactly in the data; "
        "an indicator is 0 when its variable is missing). For a covariate "
        "in ambiguous_variables the effect is an effect of the recorded code",
        **extra,
    }


def _covariate_definitions(w: _World, names: Iterable[str]) -> dict[str, str]:
    out = {}
    for name in names:
        if name == "girl":
            out[name] = "kon == 'flicka' (baseline 'pojke'; 'okant' is rare)"
        elif name.startswith("origin_"):
            out[name] = f"ursprung == '{name.removeprefix('origin_')}' (baseline 'sverige')"
        elif name == "vulnerable":
            out[name] = "any identifierad_utsatthet__<code> True for a code other than 'ingen'"
        elif name.startswith("age_"):
            band = w.truth["bands"][w.truth["band_names"].index(name)]
            out[name] = f"aldersgrupp == '{band}' (baseline '{w.truth['bands'][0]}')"
        elif name == "placement":
            out[name] = "insatsgrupp == 'placering' (baseline 'oppenvard')"
        elif name.startswith("type_"):
            out[name] = f"insatstyp == '{name.removeprefix('type_')}' (baseline 'familjehem')"
    return out


# ------------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------------


def _check_config(cfg: SynthConfig, cat: Catalogue) -> None:
    allowed = _recordable(cat)
    for name in (*cfg.ambiguous_variables, *cfg.clean_variables):
        if name not in cat.variables:
            raise ValueError(
                f"SynthConfig names unknown variable {name!r}. Call workbench.list_variables() "
                "to see the catalogue."
            )
        if name not in allowed:
            raise ValueError(
                f"SynthConfig: {name!r} cannot be ambiguous or clean: only recorded code or "
                f"multi-select variables can ({', '.join(allowed)})."
            )
    if cfg.municipalities is not None:
        known = set(list_municipalities()["municipality_code"])
        bad = [c for c in cfg.municipalities if c not in known]
        if bad or not cfg.municipalities:
            raise ValueError(
                f"SynthConfig.municipalities has unknown codes {bad}; call "
                "workbench.list_municipalities() for valid codes."
            )


def _world(cfg: SynthConfig, cat: Catalogue) -> _World:
    mun = list_municipalities()
    sizes = municipality_sizes()
    codes = mun["municipality_code"].to_numpy(dtype=object).astype(str)
    included = (
        np.ones(len(codes), bool)
        if cfg.municipalities is None
        else np.isin(codes, list(cfg.municipalities))
    )
    size = sizes.reindex(codes).to_numpy(dtype=float)
    noise = _rng(cfg.seed, "volume").standard_normal(len(codes))
    # National weights (also for a subset, so that a municipality's volume and coding style do
    # not depend on which other municipalities are generated).
    weight = size * np.exp(VOLUME_NOISE_SD * noise - VOLUME_NOISE_SD**2 / 2)
    w = _World(
        cfg=cfg,
        cat=cat,
        kommuner=codes,
        lan=mun["county_code"].to_numpy().astype(str),
        included=included,
        size=size,
        weight=weight,
        start=_day(f"{cfg.years[0]}-01-01"),
        end=_day(f"{cfg.years[1]}-12-31"),
    )
    w.truth["names"] = mun["municipality_name"].to_numpy().astype(str)
    for var in cat.variables.values():
        if var.codelist is not None:
            w.cl[var.name] = _Codes(var.codelist)
    w.cl["delaktighet"] = _Codes(cat.codelists["delaktighet"])
    w.cl["syn_pa_insatsen"] = _Codes(cat.codelists["syn_pa_insatsen"])
    bands = list(w.cl["aldersgrupp"].codes)
    w.truth["bands"] = bands
    w.truth["band_lows"] = np.array([int(b.split("-")[0]) for b in bands])
    w.truth["band_names"] = ["age_" + b.replace("-", "_") for b in bands]
    sd = GOAL_MODEL["kommun_sd"] if "maluppfyllelse" not in cfg.clean_variables else 0.0
    w.truth["goal_kommun_sd"] = sd
    effect = sd * _rng(cfg.seed, "goal-kommun").standard_normal(len(codes))
    # Centred so that the size-weighted mean is 0: the intercept is then the national one.
    w.truth["goal_kommun_effect"] = effect - (weight / weight.sum()) @ effect
    return w


#: Registrations per generated child before selection (measured); children are generated with a
#: margin and then selected, so this only sets the margin.
_REGS_PER_CHILD = 2.3
_GENERATION_MARGIN = 1.5


def generate(config: SynthConfig | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """Generate the five canonical tables and the ground-truth manifest.

    Parameters
    ----------
    config
        What to generate (default :class:`SynthConfig`).

    Returns
    -------
    tables, ground_truth
        ``tables`` maps each canonical table name to a DataFrame with exactly the columns and
        dtypes of :func:`workbench.dataset.table_columns`. ``ground_truth`` is a JSON-able dict of
        every planted truth and parameter (see ``docs/synthetic-data.md``).
    """
    cfg = config or SynthConfig()
    cat = load_catalogue()
    _check_config(cfg, cat)
    w = _world(cfg, cat)
    expected = cfg.target_registrations * cfg.scale * w.weight / w.weight.sum() * w.included
    n_gen = np.where(
        w.included, np.ceil(expected * _GENERATION_MARGIN / _REGS_PER_CHILD) + 6, 0
    ).astype(int)
    # Two passes: the first measures the boys' share per type that the history simulation
    # produces (later interventions, the unaccompanied), the second corrects the generation shares.
    ins, reg = _histories(w, n_gen)
    realised = _boys_share_realised(w, ins, reg)
    target = _boys_share(w)
    w.truth["boys_share_offset"] = np.where(np.isnan(realised), 0.0, target - realised)
    ins, reg = _histories(w, n_gen)
    _select(w, _rng(cfg.seed, "select"), ins, reg, np.ceil(expected))
    _derive(w)
    reg_ins = w.reg["ins"]
    for var in ("identifierad_utsatthet", "grundproblematik"):
        w.multi[var] = (w.ins[var][reg_ins].copy(), np.zeros(len(reg_ins), bool))
    fx = w.ins.pop("insatsens_fokus")
    w.multi["insatsens_fokus"] = (fx.copy(), np.zeros(len(fx), bool))
    for var in ("kon", "ursprung", "ensamkommande"):
        w.ch[var] = w.ch[var].astype(np.int16)
    for var in ("insatstyp", "lagrum", "aktualiseringsvag", "anmalare", "utforare"):
        w.ins[var] = w.ins[var].astype(np.int16)
    w.reg["avslutsorsak"] = np.where(w.reg["ending"], w.ins["avslutsorsak"][reg_ins], -1)
    # Pass 1: background and intervention variables; then the outcomes from the recorded
    # covariates; pass 2: the registration variables.
    recordable = _recordable(cat)
    first = [
        v
        for v in recordable
        if cat.variable(v).table != "registrations" or cat.variable(v).type == "multi"
    ]
    second = [v for v in recordable if v not in first]
    truth_rates = {var: _rule_rate(w, var, RULES[var]) for var in first if var in RULES}
    reports = _record(w, first)
    _finalise_endings(w, _rng(cfg.seed, "endings"))
    _registration_truth(w, _rng(cfg.seed, "registrations"))
    for var in second:
        w.reg[var] = w.reg[var].astype(np.int16)
    truth_rates.update({var: _rule_rate(w, var, RULES[var]) for var in second if var in RULES})
    w.truth["rule_status_truth"] = truth_rates
    reports.update(_record(w, second))
    reports = {v: reports[v] for v in recordable}
    quirks = _apply_quirks(w)
    tables = _frames(w)
    tables["vignette_ratings"], vignette_meta = _vignettes(w, reports)
    tables["survey"], survey_meta = _survey(w)
    for var, rule in RULES.items():
        if "contradiction" in reports[var] and "rule" in reports[var]["contradiction"]:
            reports[var]["contradiction"]["realised_rate"] = _rule_rate(w, var, rule)
            reports[var]["contradiction"]["rate_in_true_values"] = w.truth["rule_status_truth"][
                var
            ]
    truth = _ground_truth(w, tables, reports, quirks, vignette_meta, survey_meta, expected)
    # issue 10: the optional provider and children's survey tables (own module and streams)
    from workbench.synth_followup import generate_followup

    followup, followup_truth = generate_followup(tables, cfg)
    tables.update(followup)
    truth.update(followup_truth)
    return tables, truth


def _histories(
    w: _World, n_gen: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = _rng(w.cfg.seed, "histories")
    _make_children(w, rng, n_gen)
    ins = _simulate(w, rng)
    return ins, _registration_dates(w, rng, ins)


def _boys_share_realised(
    w: _World, ins: dict[str, np.ndarray], reg: dict[str, np.ndarray]
) -> np.ndarray:
    """Boys' share per true insatstyp over the registrations of a simulated history.

    As in :func:`calibration_metrics`: one share per registration year, averaged over years.
    """
    K, T = w.cl["kon"], w.cl["insatstyp"]
    sex = w.ch["kon"][ins["child"][reg["ins"]]]
    itype = ins["insatstyp"][reg["ins"]]
    year = _year_of(reg["date"]) - w.cfg.years[0]
    known = sex != K.i("okant")
    cell = (itype * 1000 + year)[known]
    size = T.k * 1000
    boys = np.bincount(cell, weights=(sex[known] == K.i("pojke")), minlength=size)
    total = np.bincount(cell, minlength=size).astype(float)
    boys, total = boys.reshape(T.k, 1000), total.reshape(T.k, 1000)
    usable = total >= 10
    share = np.divide(boys, total, out=np.zeros_like(boys), where=usable)
    n_years = usable.sum(axis=1)
    mean = np.divide(share.sum(axis=1), n_years, out=np.full(T.k, np.nan), where=n_years > 0)
    return np.where(total.sum(axis=1) >= 50, mean, np.nan)


def _rule_rate(w: _World, var: str, rule: _Rule) -> float:
    eligible, viol = _rule_status(w, var, rule)
    return round(float(viol[eligible].mean()), 4) if eligible.any() else 0.0


def _ground_truth(
    w: _World,
    tables: Mapping[str, pd.DataFrame],
    reports: dict[str, Any],
    quirks: list[dict[str, Any]],
    vignette_meta: dict,
    survey_meta: dict,
    expected: np.ndarray,
) -> dict[str, Any]:
    cfg = w.cfg
    reg = tables["registrations"]
    per_kommun = reg.groupby("kommun").size()
    inc_codes = w.kommuner[w.included]
    ambiguous = {v: reports[v] for v in cfg.ambiguous_variables}
    clean = {v: reports[v] for v in cfg.clean_variables}
    other = {v: r for v, r in reports.items() if v not in ambiguous and v not in clean}
    realised = calibration_metrics(tables)
    planned_codes = [c.code for c in w.cat.codelists["avslutsorsak"].codes if c.planned]
    y0 = cfg.years[0]
    return {
        "generator": {"module": "workbench.synth", "version": GENERATOR_VERSION},
        "config": cfg.to_dict(),
        "data_date": f"{cfg.years[1]}-12-31",
        "catalogue_version": w.cat.version,
        "municipality_size": {
            k: int(s) for k, s, i in zip(w.kommuner, w.size, w.included, strict=True) if i
        },
        "municipality_size_note": (
            "SYNTHETIC: approximate real populations for "
            f"{len(KNOWN_POPULATION)} municipalities (largest, county 22, a few of the smallest); "
            f"all others lognormal quantiles (median {SIZE_MEDIAN}, sigma {SIZE_SIGMA}, "
            f"clipped to {SIZE_MIN}-{SIZE_MAX}) in a fixed pseudo-random order"
        ),
        "municipality_size_known": sorted(c for c in KNOWN_POPULATION if c in set(inc_codes)),
        "volume": {
            "target_registrations": int(round(cfg.target_registrations * cfg.scale)),
            "registrations": int(len(reg)),
            "interventions": int(len(tables["interventions"])),
            "children": int(len(tables["children"])),
            "expected_registrations_by_kommun": {
                k: round(float(e), 2)
                for k, e, i in zip(w.kommuner, expected, w.included, strict=True)
                if i
            },
            "registrations_by_kommun": {k: int(per_kommun.get(k, 0)) for k in inc_codes},
            "volume_noise_log_sd": VOLUME_NOISE_SD,
            "registrations_per_intervention": round(
                len(reg) / max(len(tables["interventions"]), 1), 3
            ),
            "follow_ups": "first 90-200 days after the start, then every 150-210 days, at most "
            f"{MAX_FOLLOW_UPS}; plus one ending registration (avslut) if the "
            "intervention ended by the data date",
        },
        "calibration": {
            k: {**v, "realised": realised.get(k)} for k, v in CALIBRATION_TARGETS.items()
        },
        "calibration_note": (
            "placement metrics on registrations of placements, one share per year, averaged "
            "over years; see workbench.synth.calibration_metrics"
        ),
        "effects": {
            "goal_attainment": _model_manifest(
                w,
                GOAL_MODEL,
                outcome="maluppfyllelse == 'helt'",
                sample="registrations with maluppfyllelse in ('helt', 'delvis', 'inte_alls')",
                extra={
                    "kommun_random_intercept_sd": w.truth["goal_kommun_sd"],
                    "kommun_effects": {
                        k: round(float(e), 5)
                        for k, e, i in zip(
                            w.kommuner, w.truth["goal_kommun_effect"], w.included, strict=True
                        )
                        if i
                    },
                    "not_helt": "delvis 62%, inte_alls 38% (independent of covariates)",
                    "true_not_assessable": NOT_ASSESSABLE_TRUE["maluppfyllelse"],
                    "exclude_for_recovery": [
                        q["kommun"] for q in quirks if q["variable"] == "maluppfyllelse"
                    ],
                },
            ),
            "breakdown": _model_manifest(
                w,
                BREAKDOWN_MODEL,
                outcome="avslutsorsak == 'sammanbrott'",
                sample="ending registrations (registreringstyp 'avslut') of placements "
                "(insatsgrupp 'placering')",
                extra={
                    "kommun_random_intercept_sd": 0.0,
                    "age": "aldersgrupp of the ending registration",
                    "history_decisions_changed_by_recording": int(
                        w.truth.get("breakdown_changed_by_recording", 0)
                    ),
                    "history_note": "the history used the same model on the true covariates; the "
                    "recorded ending redraws breakdown from the recorded covariates with the same "
                    "uniform, so only rows whose covariates were recorded differently change",
                },
            ),
        },
        "null_effects": {
            "goal_attainment": ["origin_norden", "origin_eu_ees"],
            "breakdown": ["origin_norden", "origin_eu_ees"],
            "note": "odds ratio exactly 1 in the data-generating model",
        },
        "trends": {
            "planned_endings": {
                "definition": "P(avslutsorsak in planned codes | ending, avslutsorsak != "
                "'sammanbrott') = expit(intercept + log_odds_per_year * "
                f"(ar - {y0}))",
                "planned_codes": planned_codes,
                "intercept": round(float(PLANNED_TREND["intercept"]), 6),
                "log_odds_per_year": PLANNED_TREND["log_odds_per_year"],
            },
            "samtal_med_barnet": {
                "definition": "P(samtal_med_barnet == 'ja') among filled-in registrations = "
                f"expit(logit({TALK_TREND['first']}) + log_odds_per_year * "
                f"(ar - {y0}))",
                "first_year_share": TALK_TREND["first"],
                "last_year_share": TALK_TREND["last"],
                "log_odds_per_year": round(w.truth["talk_slope"], 6),
            },
            "no_trend": {
                "goal_attainment": "the goal-attainment model has no year term (outside the "
                "Timrå quirk)",
                "rereferral": "aterkomst_12man has no planted year trend",
            },
        },
        "unaccompanied": {
            **{
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in UNACCOMPANIED.items()
                if k != "ages"
            },
            "ages": {str(a): p for a, p in UNACCOMPANIED["ages"].items()},
            "origin": "ovriga_varlden (97%), okant (3%)",
            "lagrum": "sol (98%)",
        },
        "quirks": quirks,
        "ambiguity": ambiguous,
        "clean": clean,
        "other_variables": other,
        "vignettes": vignette_meta,
        "survey_targets": survey_meta,
        "simplifications": [
            "one lagrum per intervention (in reality a child can have SoL and LVU in a year)",
            "a child's interventions follow one another (no concurrent interventions)",
            "every opening of a case leads to an intervention (investigations without an "
            "intervention are not generated)",
            "identifierad_utsatthet and grundproblematik are true per intervention and repeated "
            "on its registrations (recording noise is per registration)",
            "interventions that started by the data date but have no registration yet are in "
            "the interventions table",
            "planerad_uppfoljning may lie after the data date (a planned date)",
            "aterkomst_12man = another aktualiseringsdatum of the same child in the interventions "
            "table within (insats_slut, insats_slut + 12 months]; <NA> when that window reaches "
            "beyond the data date",
        ],
    }


def generator_digest() -> str:
    """SHA-256 of the generator's code and the catalogue: demo data made by another version of
    the generator (e.g. before new tables were added) are stale, and ``workbench demo``
    rebuilds them."""
    import hashlib

    from workbench import paths

    here = Path(__file__).parent
    h = hashlib.sha256()
    for f in (
        here / "synth.py",
        here / "synth_followup.py",
        paths.reference_dir() / "catalogue.yaml",
    ):
        h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def build(out_dir: Path, config: SynthConfig | None = None) -> Manifest:
    """Generate the dataset and write it (parquet tables, manifest.json, ground_truth.json).

    The same configuration gives byte-identical files.

    Parameters
    ----------
    out_dir
        Folder to write (created if needed), e.g. ``data/demo``.
    config
        What to generate (default :class:`SynthConfig`).
    """
    cfg = config or SynthConfig()
    out_dir = Path(out_dir)
    tables, truth = generate(cfg)
    manifest = write_dataset(
        tables,
        out_dir,
        source=f"synth seed={cfg.seed}",
        extra={
            "synthetic": True,
            "config": cfg.to_dict(),
            "data_date": f"{cfg.years[1]}-12-31",
            "generator_digest": generator_digest(),
        },
    )
    write_json(truth, out_dir / GROUND_TRUTH_FILE)
    log.info(
        "synthetic dataset written to %s (%s registrations)",
        out_dir,
        manifest.content["tables"]["registrations"]["rows"],
    )
    return manifest


__all__ = [
    "CALIBRATION_TARGETS",
    "GROUND_TRUTH_FILE",
    "SynthConfig",
    "build",
    "calibration_metrics",
    "generate",
    "municipality_sizes",
]
