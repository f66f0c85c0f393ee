"""Indicator definitions for comparing municipalities, and the counts behind them.

Definitions live in ``data/reference/indicators.yaml`` (see the comments there): each indicator has
a Swedish title and description, a numerator and a denominator given as filters on the canonical
data (or a question of the municipality survey), a unit, a polarity (is a higher value better,
worse, or neither), a minimum denominator and a source. :func:`list_indicators` lists them.

:func:`case_counts` and :func:`survey_counts` count numerator and denominator per municipality and
year, vectorised over municipalities (no loops over them). :func:`linked_counts` adds county and
national rows and lays the counts out for :func:`workbench.disclosure.protect_linked`. Counts are
unprotected: they belong to the private zone until :mod:`workbench.compare` has protected them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from workbench import paths, stats
from workbench.catalogue import load_catalogue
from workbench.followup import UNIT, all_units
from workbench.municipalities import NATIONAL, list_municipalities

__all__ = [
    "DERIVED",
    "INVESTIGATION_DAYS",
    "POLARITIES",
    "Condition",
    "Indicator",
    "IndicatorError",
    "IndicatorSet",
    "Link",
    "case_counts",
    "derive",
    "get_indicator",
    "linked_counts",
    "list_indicators",
    "load_indicators",
    "survey_counts",
]

logger = logging.getLogger(__name__)

Kind = Literal["case", "survey"]
Polarity = Literal["higher_better", "lower_better", "neither"]

POLARITIES: tuple[str, ...] = ("higher_better", "lower_better", "neither")
POLARITY_SV: dict[str, str] = {
    "higher_better": "högre är bättre",
    "lower_better": "lägre är bättre",
    "neither": "varken högre eller lägre är bättre",
}
KIND_SV: dict[str, str] = {"case": "ärendedata", "survey": "kommunenkät"}
INVESTIGATION_DAYS = 120
"""Investigation time limit: four months, counted as 120 days (inclusive)."""
YES, NO = "ja", "nej"
#: Separator between indicator and year in a group name (``"maluppfyllelse_helt:2019"``).
SEP = ":"
_TABLES = ("registrations", "interventions")
_COND_KEYS = ("in", "not_in", "filled", "planned")


class IndicatorError(ValueError):
    """The indicator file is malformed or an indicator is unknown; the message names the fix."""


# --------------------------------------------------------------------------------------------
# Definitions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One filter condition on one column; every given part must hold.

    ``codes``: the value is one of these; ``not_codes``: filled with none of these; ``filled``:
    filled in (True) or empty (False); ``equals``: a boolean column has this value; ``planned``:
    the code's catalogue ``planned`` flag (avslutsorsak) is this value.
    """

    column: str
    codes: tuple[str, ...] | None = None
    not_codes: tuple[str, ...] | None = None
    filled: bool | None = None
    equals: bool | None = None
    planned: bool | None = None

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of ``frame`` where the condition holds (missing values never match a code)."""
        s = frame[self.column]
        m = np.ones(len(frame), dtype=bool)
        if self.codes is not None:
            m &= s.isin(list(self.codes)).fillna(False).to_numpy(dtype=bool)
        if self.not_codes is not None:
            m &= (s.notna() & ~s.isin(list(self.not_codes))).fillna(False).to_numpy(dtype=bool)
        if self.filled is not None:
            m &= s.notna().to_numpy(dtype=bool) == self.filled
        if self.equals is not None:
            m &= (s == self.equals).fillna(False).to_numpy(dtype=bool)
        if self.planned is not None:
            codes = _planned_codes(self.column, self.planned)
            m &= s.isin(list(codes)).fillna(False).to_numpy(dtype=bool)
        return m

    def describe_sv(self) -> str:
        """The condition in words, with the catalogue's labels (for the definitions)."""
        name = _column_label(self.column)
        parts = []
        if self.codes is not None:
            parts.append(f"{name} är {_codes_sv(self.column, self.codes)}")
        if self.not_codes is not None:
            parts.append(f"{name} är inte {_codes_sv(self.column, self.not_codes)}")
        if self.filled is not None:
            parts.append(f"{name} är {'ifylld' if self.filled else 'inte ifylld'}")
        if self.equals is not None:
            parts.append(f"{name} är {'ja' if self.equals else 'nej'}")
        if self.planned is not None:
            kind = "planerat" if self.planned else "oplanerat"
            codes = _codes_sv(self.column, _planned_codes(self.column, self.planned))
            parts.append(f"{name} är ett {kind} avslut ({codes})")
        return " och ".join(parts)


#: Swedish names of the derived columns.
DERIVED_SV: dict[str, str] = {
    "utredning_inom_4_man": "utredningen avslutad inom fyra månader",
    "utredning_ar": "året då utredningen inleddes",
    "uppfoljning_i_tid": "nästa registrering senast planerat uppföljningsdatum",
    "uppfoljning_ar": "året för det planerade uppföljningsdatumet",
}


def _lower(label: str) -> str:
    """Lower-case the first letter unless the word is an abbreviation (HVB, SiS, LVU)."""
    return label[:1].lower() + label[1:] if label[:2].istitle() else label


def _column_label(column: str) -> str:
    if column in DERIVED_SV:
        return DERIVED_SV[column]
    if column == "ar":
        return "registreringsår"
    var = load_catalogue().variables.get(column)
    return _lower(var.sv) if var is not None else column


def _codes_sv(column: str, codes: Sequence[str]) -> str:
    from workbench.catalogue import code_label

    cat = load_catalogue()
    var = cat.variables.get(column)
    out = []
    for c in codes:
        try:
            label = code_label(column, c) if var is not None and var.codelist else c
        except KeyError:
            label = c
        out.append(_lower(label))
    if len(out) == 1:
        return out[0]
    return ", ".join(out[:-1]) + " eller " + out[-1]


@dataclass(frozen=True)
class Indicator:
    """One indicator (see ``data/reference/indicators.yaml`` for the fields).

    Attributes
    ----------
    id, kind
        Identifier and ``"case"`` (follow-up data) or ``"survey"`` (municipality survey).
    title_sv, title_en, description_sv
        Labels; the description says exactly what is counted.
    table, year
        Case indicators: the canonical table (``registrations`` or ``interventions``) and the
        column giving a row's year. Survey indicators: ``survey`` and ``ar``.
    denominator, numerator
        Filters (tuples of :class:`Condition`); the numerator's rows are a subset of the
        denominator's. Empty for survey indicators.
    question
        Survey indicators: the catalogue survey question.
    counted_sv, unit_sv
        What one row is, and the unit of the value.
    polarity
        ``"higher_better"``, ``"lower_better"`` or ``"neither"``.
    min_denominator
        Smallest denominator for which a value is shown and classified.
    source_sv
        Where the definition comes from.
    """

    id: str
    kind: Kind
    title_sv: str
    title_en: str
    description_sv: str
    table: str
    year: str
    polarity: Polarity
    min_denominator: int
    counted_sv: str
    unit_sv: str
    source_sv: str
    denominator: tuple[Condition, ...] = ()
    numerator: tuple[Condition, ...] = ()
    question: str | None = None

    @property
    def polarity_sv(self) -> str:
        return POLARITY_SV[self.polarity]

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns the filters and the year read."""
        cols = [self.year, *(c.column for c in (*self.denominator, *self.numerator))]
        return tuple(dict.fromkeys(cols))

    def masks(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Denominator and numerator rows of ``frame`` (numerator within denominator)."""
        den = np.ones(len(frame), dtype=bool)
        for c in self.denominator:
            den &= c.mask(frame)
        num = den.copy()
        for c in self.numerator:
            num &= c.mask(frame)
        return den, num

    def definition_sv(self) -> tuple[str, str]:
        """Numerator and denominator in words."""
        if self.kind == "survey":
            return (
                f"kommuner som svarat ja på frågan {self.question}",
                "kommuner som besvarat enkäten",
            )
        den = " och ".join(c.describe_sv() for c in self.denominator) or "alla"
        num = " och ".join(c.describe_sv() for c in self.numerator)
        return f"{num} (bland nämnarens {self.counted_sv})", f"{self.counted_sv} där {den}"


@dataclass(frozen=True)
class Link:
    """A case-based indicator and a survey question that speak of the same thing."""

    survey: str
    case: str
    expected_share: float
    description_sv: str


@dataclass(frozen=True)
class IndicatorSet:
    """All indicator definitions of one file, in file order."""

    version: str
    indicators: Mapping[str, Indicator]
    links: tuple[Link, ...] = field(default_factory=tuple)
    path: Path | None = None

    def __iter__(self) -> Any:
        return iter(self.indicators.values())

    def __len__(self) -> int:
        return len(self.indicators)

    def get(self, indicator_id: str) -> Indicator:
        try:
            return self.indicators[indicator_id]
        except KeyError:
            raise IndicatorError(
                f"Unknown indicator {indicator_id!r}. Call "
                "workbench.indicators.list_indicators() for the ids defined in "
                f"{self.path or 'indicators.yaml'}."
            ) from None

    def of_kind(self, kind: str) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.kind == kind]


# --------------------------------------------------------------------------------------------
# Parsing and validation (once, at the boundary)
# --------------------------------------------------------------------------------------------


@functools.cache
def _planned_codes(variable: str, planned: bool) -> tuple[str, ...]:
    var = load_catalogue().variable(variable)
    if var.codelist is None:
        return ()
    return tuple(c.code for c in var.codelist.codes if c.planned is planned)


def _allowed_columns(table: str) -> dict[str, tuple[str, ...] | str | None]:
    """Columns a filter may read: name -> allowed codes, ``"boolean"``, ``"date"`` or None."""
    cat = load_catalogue()
    tables = (
        ("registrations", "interventions", "children")
        if table == "registrations"
        else ("interventions",)
    )
    out: dict[str, tuple[str, ...] | str | None] = {}
    for t in tables:
        for var in cat.of_table(t):
            if var.type == "code":
                if var.groups_of:
                    out[var.name] = tuple(dict.fromkeys(cat.groups(var.groups_of).values()))
                else:
                    out[var.name] = var.codelist.code_values  # type: ignore[union-attr]
            elif var.type == "boolean":
                out[var.name] = "boolean"
            elif var.type in ("integer", "date"):
                out[var.name] = var.type
    if table == "registrations":
        out["ar"] = "integer"
    for name, spec in DERIVED.items():
        if spec.table == table:
            out[name] = spec.kind
    return out


def _parse_condition(where: str, column: str, raw: Any, allowed: Mapping[str, Any]) -> Condition:
    if column not in allowed:
        raise IndicatorError(
            f"{where}: column {column!r} cannot be filtered on; known columns are "
            f"{sorted(allowed)} (see workbench.list_variables())."
        )
    spec = allowed[column]
    codes_ok = spec if isinstance(spec, tuple) else None

    def check_codes(values: Any, key: str) -> tuple[str, ...]:
        if not isinstance(values, list) or not values:
            raise IndicatorError(f"{where}: {column}.{key} must be a non-empty list of codes")
        vals = tuple(str(v) for v in values)
        if codes_ok is None:
            raise IndicatorError(f"{where}: {column} has no code list; use filled or true/false")
        bad = [v for v in vals if v not in codes_ok]
        if bad:
            raise IndicatorError(
                f"{where}: codes {bad} are not codes of {column}; valid codes: {list(codes_ok)}"
            )
        return vals

    if isinstance(raw, bool):
        if spec != "boolean":
            raise IndicatorError(f"{where}: {column} is not a yes/no column; give a list of codes")
        return Condition(column, equals=raw)
    if isinstance(raw, list):
        return Condition(column, codes=check_codes(raw, "in"))
    if isinstance(raw, Mapping):
        unknown = sorted(str(k) for k in raw if k not in _COND_KEYS)
        if unknown:
            raise IndicatorError(
                f"{where}: unknown condition key(s) {unknown} for {column}; use {_COND_KEYS}"
            )
        kw: dict[str, Any] = {}
        if "in" in raw:
            kw["codes"] = check_codes(raw["in"], "in")
        if "not_in" in raw:
            kw["not_codes"] = check_codes(raw["not_in"], "not_in")
        for key in ("filled", "planned"):
            if key in raw:
                if not isinstance(raw[key], bool):
                    raise IndicatorError(f"{where}: {column}.{key} must be true or false")
                kw[key] = raw[key]
        if "planned" in kw and not _planned_codes(column, True):
            raise IndicatorError(
                f"{where}: {column} has no codes marked planned in the catalogue; "
                "planned: only works for avslutsorsak"
            )
        if not kw:
            raise IndicatorError(f"{where}: empty condition for {column}")
        return Condition(column, **kw)
    raise IndicatorError(
        f"{where}: the condition on {column} must be a list of codes, true/false or a mapping "
        f"with keys {_COND_KEYS}"
    )


def _text(raw: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise IndicatorError(f"{where}: {key} must be a non-empty string")
    return " ".join(value.split())


def _parse_indicator(i: int, raw: Any) -> Indicator:
    if not isinstance(raw, Mapping):
        raise IndicatorError(f"indicators[{i}] must be a mapping")
    ident = raw.get("id")
    if not isinstance(ident, str) or not ident.replace("_", "").isalnum() or SEP in ident:
        raise IndicatorError(f"indicators[{i}]: id must be a string of letters, digits and _")
    where = f"indicator {ident!r}"
    kind = raw.get("kind")
    if kind not in ("case", "survey"):
        raise IndicatorError(f"{where}: kind must be 'case' or 'survey', got {kind!r}")
    polarity = raw.get("polarity")
    if polarity not in POLARITIES:
        raise IndicatorError(f"{where}: polarity must be one of {POLARITIES}, got {polarity!r}")
    min_den = raw.get("min_denominator", 1 if kind == "survey" else 10)
    if isinstance(min_den, bool) or not isinstance(min_den, int) or min_den < 1:
        raise IndicatorError(f"{where}: min_denominator must be a positive integer")
    cat = load_catalogue()
    if kind == "survey":
        question = raw.get("question")
        if question not in cat.survey_questions:
            raise IndicatorError(
                f"{where}: question {question!r} is not a survey question of the catalogue; "
                f"known: {list(cat.survey_questions)}"
            )
        extra = sorted(k for k in ("table", "year", "numerator", "denominator") if k in raw)
        if extra:
            raise IndicatorError(f"{where}: survey indicators take no {extra}")
        q = cat.survey_questions[question]
        return Indicator(
            id=ident,
            kind="survey",
            title_sv=_text(raw, "title_sv", where, q.sv),
            title_en=_text(raw, "title_en", where, q.en),
            description_sv=_text(raw, "description_sv", where),
            table="survey",
            year="ar",
            polarity=polarity,
            min_denominator=min_den,
            counted_sv=_text(raw, "counted_sv", where, "kommuner"),
            unit_sv=_text(raw, "unit_sv", where, "procent av kommunerna"),
            source_sv=_text(raw, "source_sv", where),
            question=question,
        )
    table = raw.get("table")
    if table not in _TABLES:
        raise IndicatorError(f"{where}: table must be one of {_TABLES}, got {table!r}")
    allowed = _allowed_columns(table)
    year = raw.get("year")
    if year not in allowed or allowed[year] not in ("integer", "date"):
        raise IndicatorError(f"{where}: year must be a year column of {table}, got {year!r}")
    filters = {}
    for part in ("denominator", "numerator"):
        spec = raw.get(part)
        if not isinstance(spec, Mapping) or not spec:
            raise IndicatorError(
                f"{where}: {part} must be a non-empty mapping column -> condition"
            )
        filters[part] = tuple(
            _parse_condition(f"{where} {part}", str(col), cond, allowed)
            for col, cond in spec.items()
        )
    return Indicator(
        id=ident,
        kind="case",
        title_sv=_text(raw, "title_sv", where),
        title_en=_text(raw, "title_en", where),
        description_sv=_text(raw, "description_sv", where),
        table=table,
        year=year,
        polarity=polarity,
        min_denominator=min_den,
        counted_sv=_text(raw, "counted_sv", where),
        unit_sv=_text(raw, "unit_sv", where),
        source_sv=_text(raw, "source_sv", where),
        denominator=filters["denominator"],
        numerator=filters["numerator"],
    )


def parse_indicators(raw: Any, *, path: Path | None = None) -> IndicatorSet:
    """Validate the contents of an indicator file (see ``data/reference/indicators.yaml``).

    Raises
    ------
    IndicatorError
        Naming the indicator and field at fault and how to fix it.
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("indicators"), list):
        raise IndicatorError(f"{path}: expected a mapping with a list under 'indicators'")
    version = raw.get("version")
    if not isinstance(version, str):
        raise IndicatorError(f'{path}: version must be a quoted string such as "2026.1"')
    items = [_parse_indicator(i, r) for i, r in enumerate(raw["indicators"])]
    ids = [i.id for i in items]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise IndicatorError(f"{path}: duplicated indicator id(s) {dup}")
    by_id = {i.id: i for i in items}
    links = []
    for j, link in enumerate(raw.get("links") or []):
        where = f"links[{j}]"
        if not isinstance(link, Mapping):
            raise IndicatorError(f"{where} must be a mapping")
        s, c = link.get("survey"), link.get("case")
        if s not in by_id or by_id[s].kind != "survey":
            raise IndicatorError(f"{where}: survey must name a survey indicator, got {s!r}")
        if c not in by_id or by_id[c].kind != "case":
            raise IndicatorError(f"{where}: case must name a case indicator, got {c!r}")
        share = link.get("expected_share")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
            raise IndicatorError(f"{where}: expected_share must be a number between 0 and 1")
        links.append(Link(s, c, float(share), _text(link, "description_sv", where)))
    return IndicatorSet(version=version, indicators=by_id, links=tuple(links), path=path)


@functools.cache
def _load(path: str) -> IndicatorSet:
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise IndicatorError(f"{p}: not valid YAML ({exc})") from None
    return parse_indicators(raw, path=p)


def load_indicators(path: str | Path | None = None) -> IndicatorSet:
    """Read and validate the indicator definitions (default ``data/reference/indicators.yaml``)."""
    p = Path(path) if path is not None else paths.reference_dir() / "indicators.yaml"
    return _load(str(p.resolve()))


def get_indicator(indicator_id: str) -> Indicator:
    """One indicator by id; an unknown id names :func:`list_indicators`."""
    return load_indicators().get(indicator_id)


def list_indicators(*, kind: str | None = None) -> pd.DataFrame:
    """All indicators: id, kind, Swedish title, polarity, unit, minimum denominator, source.

    Parameters
    ----------
    kind
        ``"case"`` or ``"survey"`` to list only those.
    """
    rows = [
        {
            "id": i.id,
            "kind": i.kind,
            "title_sv": i.title_sv,
            "description_sv": i.description_sv,
            "counted_sv": i.counted_sv,
            "unit_sv": i.unit_sv,
            "polarity": i.polarity,
            "min_denominator": i.min_denominator,
            "source_sv": i.source_sv,
        }
        for i in load_indicators()
        if kind is None or i.kind == kind
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Derived columns
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Derivation:
    table: str
    kind: str  # "boolean" or "integer"
    needs: tuple[str, ...]
    compute: Callable[[pd.DataFrame, pd.Timestamp], pd.Series]


def _investigation_in_time(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    return stats.within_days_outcome(
        frame["utredning_start"], frame["utredning_slut"], days=INVESTIGATION_DAYS, as_of=as_of
    )


def _investigation_year(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    return frame["utredning_start"].dt.year.astype("Int64")


def _follow_up_in_time(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Was the next registration of the intervention made by the planned follow-up date?

    Only follow-up registrations whose planned date is filled and has passed on ``as_of`` are
    judged; every other row is missing. The frame must hold all registrations of each
    intervention (not only those of the report period), or a later registration is not seen.
    """
    order = np.lexsort(
        (
            frame["registrering_id"].to_numpy(dtype=object),
            frame["registreringsdatum"].to_numpy(),
            frame["insats_id"].to_numpy(dtype=object),
        )
    )
    ordered = frame.iloc[order]
    nxt = ordered.groupby("insats_id", sort=False)["registreringsdatum"].shift(-1)
    next_date = pd.Series(pd.NaT, index=frame.index, dtype=frame["registreringsdatum"].dtype)
    next_date.iloc[order] = nxt.to_numpy()
    planned = frame["planerad_uppfoljning"]
    eligible = (
        (frame["registreringstyp"] == "uppfoljning").fillna(False)
        & planned.notna()
        & (planned <= as_of)
    )
    on_time = next_date.notna() & (next_date <= planned)
    out = pd.Series(on_time.to_numpy(dtype=bool), index=frame.index, dtype="boolean")
    return out.mask(~eligible.to_numpy(dtype=bool))


def _follow_up_year(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    return frame["planerad_uppfoljning"].dt.year.astype("Int64")


DERIVED: dict[str, _Derivation] = {
    "utredning_inom_4_man": _Derivation(
        "interventions", "boolean", ("utredning_start", "utredning_slut"), _investigation_in_time
    ),
    "utredning_ar": _Derivation(
        "interventions", "integer", ("utredning_start",), _investigation_year
    ),
    "uppfoljning_i_tid": _Derivation(
        "registrations",
        "boolean",
        (
            "insats_id",
            "registrering_id",
            "registreringsdatum",
            "registreringstyp",
            "planerad_uppfoljning",
        ),
        _follow_up_in_time,
    ),
    "uppfoljning_ar": _Derivation(
        "registrations", "integer", ("planerad_uppfoljning",), _follow_up_year
    ),
}
"""Columns computed from the canonical data: name -> table, type and function."""


def derive(frame: pd.DataFrame, names: Iterable[str], *, as_of: Any) -> pd.DataFrame:
    """``frame`` with the derived columns ``names`` added (those already present are kept)."""
    ref = pd.Timestamp(as_of)
    new = {n: DERIVED[n].compute(frame, ref) for n in names if n not in frame.columns}
    return frame.assign(**new) if new else frame


# --------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------


def _kommun_codes(kommun: pd.Series, codes: Sequence[str]) -> np.ndarray:
    return pd.Categorical(kommun.astype("str"), categories=list(codes)).codes.astype(np.int64)


def _grid(
    kommun_idx: np.ndarray,
    year: np.ndarray,
    masks: Sequence[np.ndarray],
    *,
    n_kommun: int,
    years: tuple[int, int],
) -> list[np.ndarray]:
    """Counts of each mask on a municipality x year grid (flattened, kommun-major)."""
    y0, y1 = years
    ny = y1 - y0 + 1
    ok = (kommun_idx >= 0) & ~np.isnan(year) & (year >= y0) & (year <= y1)
    cell = kommun_idx[ok] * ny + (year[ok].astype(np.int64) - y0)
    return [np.bincount(cell[m[ok]], minlength=n_kommun * ny).astype(np.int64) for m in masks]


def _long(
    indicator: str, counts: tuple[np.ndarray, np.ndarray], years: tuple[int, int]
) -> pd.DataFrame:
    codes = list(list_municipalities()["municipality_code"])
    ny = years[1] - years[0] + 1
    den, num = counts
    return pd.DataFrame(
        {
            "kommun": np.repeat(np.array(codes, dtype=object), ny),
            "indikator": indicator,
            "ar": np.tile(np.arange(years[0], years[1] + 1, dtype=np.int64), len(codes)),
            "n": num,
            "denominator": den,
        }
    )


def case_counts(
    *,
    registrations: pd.DataFrame,
    interventions: pd.DataFrame,
    years: tuple[int, int],
    as_of: Any,
    indicators: Iterable[Indicator] | None = None,
) -> pd.DataFrame:
    """Numerator and denominator of every case indicator per municipality and year.

    Parameters
    ----------
    registrations
        :func:`workbench.dataset.load_registrations` for **all** years (derived columns such as
        ``uppfoljning_i_tid`` look at the next registration, which may lie outside the period).
    interventions
        The canonical ``interventions`` table.
    years
        First and last year counted (inclusive), by each indicator's year column.
    as_of
        Date of the data extract (``manifest.data_date``); open cases are judged on it.
    indicators
        Default: every case indicator of :func:`load_indicators`.

    Returns
    -------
    pandas.DataFrame
        ``kommun, indikator, ar, n, denominator`` for all 290 municipalities, every indicator and
        every year (zeros included), in municipality, indicator and year order.
    """
    inds = [i for i in (indicators or load_indicators()) if i.kind == "case"]
    frames = {"registrations": registrations, "interventions": interventions}
    codes = list(list_municipalities()["municipality_code"])
    out = []
    for table in _TABLES:
        mine = [i for i in inds if i.table == table]
        if not mine:
            continue
        needed = {c for i in mine for c in i.columns if c in DERIVED}
        frame = derive(frames[table], sorted(needed), as_of=as_of)
        kidx = _kommun_codes(frame["kommun"], codes)
        for ind in mine:
            den, num = ind.masks(frame)
            year = pd.to_numeric(frame[ind.year], errors="coerce")
            if pd.api.types.is_datetime64_any_dtype(frame[ind.year].dtype):
                year = frame[ind.year].dt.year
            y = year.to_numpy(dtype="float64", na_value=np.nan)
            d, n = _grid(kidx, y, [den, num], n_kommun=len(codes), years=years)
            out.append(_long(ind.id, (d, n), years))
    if not out:
        return pd.DataFrame(columns=["kommun", "indikator", "ar", "n", "denominator"])
    order = {i.id: k for k, i in enumerate(inds)}
    res = pd.concat(out, ignore_index=True)
    res = res.assign(_o=res["indikator"].map(order)).sort_values(
        ["kommun", "_o", "ar"], kind="stable"
    )
    return (
        res.drop(columns="_o").reset_index(drop=True).astype({"kommun": "str", "indikator": "str"})
    )


def survey_counts(
    survey: pd.DataFrame,
    *,
    years: tuple[int, int] | None = None,
    indicators: Iterable[Indicator] | None = None,
) -> pd.DataFrame:
    """Municipalities answering yes (``n``) and answering at all (``denominator``) per question.

    One row per municipality, survey indicator and year (all 290 municipalities; a municipality
    that did not answer has ``denominator = 0``). ``years`` defaults to the survey's years.
    """
    inds = [i for i in (indicators or load_indicators()) if i.kind == "survey"]
    if years is None:
        yr = pd.to_numeric(survey["ar"], errors="coerce")
        years = (int(yr.min()), int(yr.max()))
    codes = list(list_municipalities()["municipality_code"])
    kidx = _kommun_codes(survey["kommun"], codes)
    y = pd.to_numeric(survey["ar"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    answered = survey["besvarad"].fillna(False).to_numpy(dtype=bool)
    yes = answered & (survey["svar"] == True).fillna(False).to_numpy(dtype=bool)  # noqa: E712
    out = []
    for ind in inds:
        q = (survey["fraga"] == ind.question).fillna(False).to_numpy(dtype=bool)
        d, n = _grid(kidx, y, [q & answered, q & yes], n_kommun=len(codes), years=years)
        out.append(_long(ind.id, (d, n), years))
    res = pd.concat(out, ignore_index=True)
    order = {i.id: k for k, i in enumerate(inds)}
    res = res.assign(_o=res["indikator"].map(order)).sort_values(
        ["kommun", "_o", "ar"], kind="stable"
    )
    return (
        res.drop(columns="_o").reset_index(drop=True).astype({"kommun": "str", "indikator": "str"})
    )


def linked_counts(
    counts: pd.DataFrame,
    *,
    by_year: bool,
    units: Literal["all", "counties"] = "all",
) -> pd.DataFrame:
    """Municipality counts with county and national rows, laid out for ``protect_linked``.

    Each unit gets one group per indicator (``by_year=False``: the whole period, ``variabel`` =
    the indicator id) or per indicator and year (``by_year=True``: ``variabel`` =
    ``"<indicator>:<year>"``), with the codes ``ja`` (the numerator) and ``nej`` (the rest of
    the denominator). The codes add up to the denominator, so the attribute rule of
    :func:`workbench.disclosure.protect_linked` sees a unit where everyone has (or nobody has)
    the outcome.

    A report publishes either the whole period for every unit, or yearly values: publishing
    both for the same units would add relations between groups (the years sum to the period)
    that one call of ``protect_linked`` does not know. See docs/methods.md.

    Parameters
    ----------
    counts
        :func:`case_counts` or :func:`survey_counts`.
    by_year
        Yearly groups instead of whole-period groups.
    units
        ``"all"``: every municipality, county and the nation; ``"counties"``: the counties and
        the nation only (for yearly county series, protected with the counties as the lowest
        level).

    Returns
    -------
    pandas.DataFrame
        ``enhet, variabel, kod, n, denominator`` (zeros included).
    """
    m = list_municipalities()[["municipality_code", "county_code"]]
    lan_of = dict(zip(m["municipality_code"], m["county_code"], strict=True))
    k = counts[counts["kommun"].isin(lan_of)]
    # every municipality of every group (zeros included): the linked set must be complete
    groups = k[["indikator", "ar"]].drop_duplicates()
    full = pd.DataFrame({"kommun": list(lan_of)}).merge(groups, how="cross")
    k = full.merge(k, on=["kommun", "indikator", "ar"], how="left")
    k[["n", "denominator"]] = k[["n", "denominator"]].fillna(0).astype("int64")
    if not by_year:
        k = k.groupby(["kommun", "indikator"], as_index=False, sort=False)[
            ["n", "denominator"]
        ].sum()
    keys = ["indikator", "ar"] if by_year else ["indikator"]
    lan = (
        k.assign(kommun=k["kommun"].map(lan_of))
        .groupby(["kommun", *keys], as_index=False, sort=False)[["n", "denominator"]]
        .sum()
    )
    nat = (
        k.groupby(keys, as_index=False, sort=False)[["n", "denominator"]]
        .sum()
        .assign(kommun=NATIONAL)
    )
    parts = [lan, nat[list(lan.columns)]]
    if units == "all":
        parts.insert(0, k[list(lan.columns)])
    elif units != "counties":
        raise ValueError(f"units must be 'all' or 'counties', got {units!r}")
    frame = pd.concat(parts, ignore_index=True).rename(columns={"kommun": UNIT})
    group = frame["indikator"].astype("str")
    if by_year:
        group = group + SEP + frame["ar"].astype("int64").astype(str)
    yes_rows = pd.DataFrame(
        {
            UNIT: frame[UNIT].to_numpy(),
            "variabel": group.to_numpy(),
            "kod": YES,
            "n": frame["n"].to_numpy(dtype=np.int64),
            "denominator": frame["denominator"].to_numpy(dtype=np.int64),
        }
    )
    no_rows = yes_rows.assign(
        kod=NO, n=(frame["denominator"] - frame["n"]).to_numpy(dtype=np.int64)
    )
    out = pd.concat([yes_rows, no_rows], ignore_index=True)
    unit_order = {u: i for i, u in enumerate(all_units())}
    out = out.assign(_u=out[UNIT].map(unit_order)).sort_values(
        ["_u", "variabel", "kod"], kind="stable"
    )
    return (
        out.drop(columns="_u")
        .reset_index(drop=True)
        .astype({UNIT: "str", "variabel": "str", "kod": "str"})
    )
