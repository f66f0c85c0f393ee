"""The variable catalogue: follow-up variables, their code lists and the canonical schemas.

The catalogue (``data/reference/catalogue.yaml``) is the single source of labels, codes,
accepted spellings and types. Schemas for the canonical tables are generated from it, so adding a
variable to the YAML is enough for loaders, validation and reports to know it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

from workbench import paths

Category = Literal["background", "process", "result"]
Level = Literal["individual", "operational", "national"]
VarType = Literal["code", "multi", "date", "integer", "boolean"]
CodeKind = Literal["valid", "residual", "unknown", "not_assessable"]

#: Tables every canonical dataset has (the case-level follow-up and its studies).
CORE_TABLES = ("children", "interventions", "registrations", "vignette_ratings", "survey")
#: Tables a dataset may lack (issue 10: placement providers and the children's survey); their
#: variables live in :attr:`Catalogue.optional_table_variables`, not in
#: :attr:`Catalogue.variables`.
OPTIONAL_TABLES = ("providers", "placements", "provider_ratings", "child_survey")
TABLES = CORE_TABLES + OPTIONAL_TABLES
_CATEGORIES = ("background", "process", "result")
_LEVELS = ("individual", "operational", "national")
_TYPES = ("code", "multi", "date", "integer", "boolean")
_KINDS = ("valid", "residual", "unknown", "not_assessable")
#: Separator between a multi-select variable and its code in the wide boolean columns.
MULTI_SEP = "__"

CATEGORY_SV = {"background": "Bakgrund", "process": "Process", "result": "Resultat"}
TYPE_SV = {
    "code": "en kod",
    "multi": "flerval",
    "date": "datum",
    "integer": "heltal",
    "boolean": "ja/nej",
}


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the entry and the fix."""


@dataclass(frozen=True)
class Code:
    code: str
    sv: str
    en: str
    kind: CodeKind = "valid"
    variants: tuple[str, ...] = ()
    group: str | None = None
    planned: bool | None = None


@dataclass(frozen=True)
class CodeList:
    name: str
    status: Literal["official", "placeholder"]
    source: str
    codes: tuple[Code, ...]
    ordered: bool = False
    version: str | None = None

    @property
    def code_values(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.codes)

    def label(self, code: str, lang: str = "sv") -> str:
        for c in self.codes:
            if c.code == code:
                return c.sv if lang == "sv" else c.en
        raise KeyError(f"Code {code!r} is not in code list {self.name!r}: {self.code_values}")

    def codes_of_kind(self, *kinds: CodeKind) -> tuple[str, ...]:
        return tuple(c.code for c in self.codes if c.kind in kinds)


@dataclass(frozen=True)
class Variable:
    name: str
    table: str
    sv: str
    en: str
    category: Category
    levels: tuple[Level, ...]
    type: VarType
    official_minimum: bool
    optional: bool
    codelist: CodeList | None = None
    derived: bool = False
    range: tuple[int, int] | None = None
    unit_sv: str | None = None
    groups_of: str | None = None
    applies_when: Mapping[str, str] = field(default_factory=dict)
    #: Further tables that carry this variable as a column (e.g. ``kon`` in ``child_survey``).
    also_in: tuple[str, ...] = ()

    def label(self, lang: str = "sv") -> str:
        return self.sv if lang == "sv" else self.en

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names in the canonical table (one per code for multi-select variables)."""
        if self.type == "multi":
            assert self.codelist is not None
            return tuple(f"{self.name}{MULTI_SEP}{c}" for c in self.codelist.code_values)
        return (self.name,)


@dataclass(frozen=True)
class SurveyQuestion:
    name: str
    sv: str
    en: str


@dataclass(frozen=True)
class Condition:
    """One condition of a contradiction rule on one column (all given parts must hold).

    ``codes``: the value is one of these (multi-select: one of them is ticked); ``not_codes``:
    filled with none of these; ``group``: the code belongs to this catalogue group (e.g.
    ``oppenvard``); ``filled``: filled in or empty; ``min``/``max``: numeric bounds (e.g. on
    ``alder``); ``other_than``: some code outside this list is ticked (multi-select) or the value
    is outside it (single code).
    """

    column: str
    codes: tuple[str, ...] | None = None
    not_codes: tuple[str, ...] | None = None
    group: str | None = None
    filled: bool | None = None
    min: float | None = None
    max: float | None = None
    other_than: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RuleCase:
    """Rows where every ``when`` condition holds are eligible; they contradict when every
    ``contradicts`` condition holds too."""

    when: tuple[Condition, ...]
    contradicts: tuple[Condition, ...]


@dataclass(frozen=True)
class FitRule:
    """A mapping rule: at least one ticked code of the rule's variable must fit a ticked code of
    ``variable`` (``mapping``: code of ``variable`` -> codes of the rule's variable that fit)."""

    variable: str
    mapping: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Rule:
    """A contradiction rule between a variable and related variables (``rules:`` section).

    Attributes
    ----------
    id
        Unique identifier.
    variable
        The variable the rule judges (its rows, applicability and unit).
    related
        The other variables the rule reads.
    sv, en
        What a contradiction is, in plain words.
    cases
        Alternative cases (a row is eligible if any case's ``when`` holds, and contradicts if a
        case's ``when`` and ``contradicts`` both hold).
    count_empty
        Whether rows where the judged variable is empty are eligible (for rules whose
        contradiction is that the variable is filled in at all).
    fit
        A mapping rule instead of cases.
    """

    id: str
    variable: str
    related: tuple[str, ...]
    sv: str
    en: str
    cases: tuple[RuleCase, ...] = ()
    count_empty: bool = False
    fit: FitRule | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Every variable the rule reads, the judged one first."""
        cols = [self.variable, *self.related]
        for case in self.cases:
            cols += [c.column for c in (*case.when, *case.contradicts)]
        if self.fit is not None:
            cols.append(self.fit.variable)
        return tuple(dict.fromkeys(cols))


@dataclass(frozen=True)
class Catalogue:
    version: str
    path: Path
    tables: Mapping[str, Mapping[str, Any]]
    codelists: Mapping[str, CodeList]
    variables: Mapping[str, Variable]
    survey_questions: Mapping[str, SurveyQuestion]
    rules: Mapping[str, Rule] = field(default_factory=dict)
    #: Variables of the optional tables (:data:`OPTIONAL_TABLES`). Kept apart from
    #: :attr:`variables` (the case-level variables that reports, ingest and the ambiguity analysis
    #: iterate over); :meth:`variable`, :meth:`of_table` and :attr:`all_variables` see both.
    optional_table_variables: Mapping[str, Variable] = field(default_factory=dict)

    @property
    def all_variables(self) -> dict[str, Variable]:
        """Every variable of every table (case-level first, then the optional tables')."""
        return {**self.variables, **self.optional_table_variables}

    def rules_for(self, variable: str) -> list[Rule]:
        """Contradiction rules that judge ``variable``."""
        return [r for r in self.rules.values() if r.variable == variable]

    def variable(self, name: str) -> Variable:
        try:
            return self.variables[name]
        except KeyError:
            if name in self.optional_table_variables:
                return self.optional_table_variables[name]
            raise KeyError(
                f"Unknown variable {name!r}. Call workbench.list_variables() to see the catalogue."
            ) from None

    def of_table(self, table: str) -> list[Variable]:
        return [v for v in self.all_variables.values() if v.table == table or table in v.also_in]

    def groups(self, variable: str) -> dict[str, str]:
        """Code → group for a code list with groups (e.g. insatstyp → oppenvard/placering)."""
        var = self.variable(variable)
        assert var.codelist is not None
        return {c.code: c.group for c in var.codelist.codes if c.group}

    def to_frame(self, *, table: str | None = None) -> pd.DataFrame:
        """One row per variable: the case-level ones, or those of ``table`` (any table)."""
        rows = []
        for v in self.variables.values() if table is None else self.of_table(table):
            rows.append(
                {
                    "variabel": v.name,
                    "benamning": v.sv,
                    "label_en": v.en,
                    "kategori": v.category,
                    "niva": ", ".join(v.levels),
                    "typ": v.type,
                    "tabell": v.table if table is None else table,
                    "officiell_minimum": v.official_minimum,
                    "valfri": v.optional,
                    "harledd": v.derived,
                    "kodlista": v.codelist.name if v.codelist else "",
                    "kodlista_status": v.codelist.status if v.codelist else "",
                    "koder": ", ".join(v.codelist.code_values) if v.codelist else "",
                }
            )
        return pd.DataFrame(rows)


def _fail(where: str, msg: str) -> CatalogueError:
    return CatalogueError(f"catalogue {where}: {msg}")


def _parse_codelist(name: str, raw: Mapping[str, Any]) -> CodeList:
    status = raw.get("status")
    if status not in ("official", "placeholder"):
        raise _fail(f"codelist {name!r}", "status must be 'official' or 'placeholder'")
    codes = []
    seen: set[str] = set()
    for i, c in enumerate(raw.get("codes") or []):
        code = c.get("code")
        if not isinstance(code, str) or not code:
            raise _fail(
                f"codelist {name!r} code #{i + 1}", "code must be a non-empty quoted string"
            )
        if code in seen:
            raise _fail(f"codelist {name!r}", f"duplicate code {code!r}")
        seen.add(code)
        kind = c.get("kind", "valid")
        if kind not in _KINDS:
            raise _fail(f"codelist {name!r} code {code!r}", f"kind must be one of {_KINDS}")
        for key in ("sv", "en"):
            if not isinstance(c.get(key), str):
                raise _fail(f"codelist {name!r} code {code!r}", f"missing {key} label")
        codes.append(
            Code(
                code=code,
                sv=c["sv"],
                en=c["en"],
                kind=kind,
                variants=tuple(str(v) for v in c.get("variants") or ()),
                group=c.get("group"),
                planned=c.get("planned"),
            )
        )
    if not codes:
        raise _fail(f"codelist {name!r}", "has no codes")
    return CodeList(
        name=name,
        status=status,
        source=str(raw.get("source", "")),
        codes=tuple(codes),
        ordered=bool(raw.get("ordered", False)),
        version=raw.get("version"),
    )


_CONDITION_KEYS = ("in", "not_in", "group", "filled", "min", "max", "other_than")


def _variable_codes(variables: Mapping[str, Variable], name: str) -> tuple[str, ...] | None:
    """Codes a rule may name for a variable (``None``: a numeric or date column)."""
    var = variables[name]
    if var.groups_of:
        cl = variables[var.groups_of].codelist
        assert cl is not None
        return tuple(dict.fromkeys(c.group for c in cl.codes if c.group))
    if var.type == "boolean":
        return BOOLEAN_CODES
    return var.codelist.code_values if var.codelist is not None else None


def _parse_condition(
    where: str, column: str, raw: Any, variables: Mapping[str, Variable]
) -> Condition:
    if column not in variables:
        raise _fail(where, f"{column!r} is not a catalogue variable")
    if isinstance(raw, list):
        raw = {"in": raw}
    if not isinstance(raw, Mapping) or not raw or set(raw) - set(_CONDITION_KEYS):
        raise _fail(
            where,
            f"the condition on {column!r} must be a list of codes or a mapping with keys among "
            f"{_CONDITION_KEYS}",
        )
    known = _variable_codes(variables, column)
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("in", "not_in", "other_than"):
        if key in raw:
            values = raw[key]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise _fail(where, f"{column}.{key} must be a list of quoted codes")
            bad = [v for v in values if known is None or v not in known]
            if bad:
                raise _fail(where, f"codes {bad} are not codes of {column!r}: {known}")
            lists[key] = tuple(values)
    group = raw.get("group")
    var = variables[column]
    if group is not None:
        cl = var.codelist
        groups = {c.group for c in cl.codes if c.group} if cl is not None else set()
        if group not in groups:
            raise _fail(
                where, f"{column!r} has no code group {group!r} (groups: {sorted(groups)})"
            )
    for key in ("min", "max"):
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], int | float)):
            raise _fail(where, f"{column}.{key} must be a number")
    if "filled" in raw and not isinstance(raw["filled"], bool):
        raise _fail(where, f"{column}.filled must be true or false")
    return Condition(
        column=column,
        codes=lists.get("in"),
        not_codes=lists.get("not_in"),
        group=group,
        filled=raw.get("filled"),
        min=raw.get("min"),
        max=raw.get("max"),
        other_than=lists.get("other_than"),
    )


def _parse_conditions(
    where: str, raw: Any, variables: Mapping[str, Variable]
) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise _fail(where, "conditions must be a mapping {variable: condition}")
    return tuple(_parse_condition(where, str(k), v, variables) for k, v in raw.items())


def _parse_rule(i: int, raw: Mapping[str, Any], variables: Mapping[str, Variable]) -> Rule:
    rid = raw.get("id")
    where = f"rule #{i + 1} ({rid!r})"
    if not isinstance(rid, str) or not rid.isidentifier():
        raise _fail(where, "id must be an identifier such as open_care_under_residential_lvu")
    name = raw.get("variable")
    if name not in variables:
        raise _fail(where, f"variable {name!r} is not a catalogue variable")
    for key in ("sv", "en"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _fail(where, f"missing {key} description")
    related = tuple(str(r) for r in raw.get("related") or ())
    for r in related:
        if r not in variables:
            raise _fail(where, f"related variable {r!r} is not a catalogue variable")
    raw_cases = raw.get("cases")
    if raw_cases is None and ("when" in raw or "contradicts" in raw):
        raw_cases = [{"when": raw.get("when"), "contradicts": raw.get("contradicts")}]
    cases = []
    for j, c in enumerate(raw_cases or []):
        if not isinstance(c, Mapping):
            raise _fail(where, "each case must be a mapping with when: and contradicts:")
        contradicts = _parse_conditions(f"{where} case {j + 1}", c.get("contradicts"), variables)
        if not contradicts:
            raise _fail(where, f"case {j + 1} has no contradicts: conditions")
        cases.append(
            RuleCase(
                when=_parse_conditions(f"{where} case {j + 1}", c.get("when"), variables),
                contradicts=contradicts,
            )
        )
    fit = None
    raw_fit = raw.get("fit")
    if raw_fit is not None:
        other = raw_fit.get("variable") if isinstance(raw_fit, Mapping) else None
        if other not in variables:
            raise _fail(where, f"fit.variable {other!r} is not a catalogue variable")
        own_codes = _variable_codes(variables, name) or ()
        other_codes = _variable_codes(variables, other) or ()
        mapping: dict[str, tuple[str, ...]] = {}
        for key, fits in (raw_fit.get("map") or {}).items():
            if key not in other_codes or not isinstance(fits, list):
                raise _fail(where, f"fit.map key {key!r} must be a code of {other!r}")
            bad = [f for f in fits if f not in own_codes]
            if bad:
                raise _fail(where, f"fit.map[{key!r}] names codes {bad} not in {name!r}")
            mapping[str(key)] = tuple(fits)
        if not mapping:
            raise _fail(where, "fit.map is empty")
        fit = FitRule(variable=other, mapping=mapping)
    if bool(cases) == (fit is not None):
        raise _fail(where, "give either when:/contradicts: (or cases:) or fit:, not both")
    count_empty = raw.get("count_empty", False)
    if not isinstance(count_empty, bool):
        raise _fail(where, "count_empty must be true or false")
    return Rule(
        id=rid,
        variable=name,
        related=related,
        sv=raw["sv"],
        en=raw["en"],
        cases=tuple(cases),
        count_empty=count_empty,
        fit=fit,
    )


def parse_rules(raw: Any, variables: Mapping[str, Variable]) -> dict[str, Rule]:
    """Validate the ``rules:`` section (contradiction rules between variables)."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise _fail("rules", "must be a list of rules")
    rules: dict[str, Rule] = {}
    for i, r in enumerate(raw):
        if not isinstance(r, Mapping):
            raise _fail(f"rule #{i + 1}", "must be a mapping")
        rule = _parse_rule(i, r, variables)
        if rule.id in rules:
            raise _fail(f"rule #{i + 1}", f"duplicate rule id {rule.id!r}")
        rules[rule.id] = rule
    return rules


def parse_catalogue(raw: Mapping[str, Any], *, path: Path) -> Catalogue:
    """Validate a loaded catalogue mapping and build the :class:`Catalogue`."""
    if not isinstance(raw.get("version"), str):
        raise _fail("version", 'must be a quoted string such as "2026.1"')
    codelists = {n: _parse_codelist(n, c) for n, c in (raw.get("codelists") or {}).items()}
    variables: dict[str, Variable] = {}
    for i, v in enumerate(raw.get("variables") or []):
        name = v.get("name")
        where = f"variable #{i + 1} ({name!r})"
        if not isinstance(name, str) or not name.isidentifier() or MULTI_SEP in name:
            raise _fail(where, "name must be a Python identifier without '__'")
        also_in = tuple(v.get("also_in") or ())
        if any(t not in OPTIONAL_TABLES for t in also_in):
            raise _fail(where, f"also_in must list tables among {OPTIONAL_TABLES}")
        if name in variables:
            raise _fail(where, "duplicate variable name")
        if v.get("table") not in TABLES:
            raise _fail(where, f"table must be one of {TABLES}")
        if v.get("category") not in _CATEGORIES:
            raise _fail(where, f"category must be one of {_CATEGORIES}")
        levels = tuple(v.get("levels") or ())
        if not levels or any(lv not in _LEVELS for lv in levels):
            raise _fail(where, f"levels must be a non-empty list of {_LEVELS}")
        if v.get("type") not in _TYPES:
            raise _fail(where, f"type must be one of {_TYPES}")
        for key in ("official_minimum", "optional"):
            if not isinstance(v.get(key), bool):
                raise _fail(where, f"{key} must be true or false")
        cl = None
        if v["type"] in ("code", "multi") and v.get("groups_of") is None:
            cl_name = v.get("codelist")
            if cl_name not in codelists:
                raise _fail(where, f"codelist {cl_name!r} is not defined under codelists:")
            cl = codelists[cl_name]
        rng = v.get("range")
        variables[name] = Variable(
            name=name,
            table=v["table"],
            sv=v["sv"],
            en=v["en"],
            category=v["category"],
            levels=levels,  # type: ignore[arg-type]
            type=v["type"],
            official_minimum=v["official_minimum"],
            optional=v["optional"],
            codelist=cl,
            derived=bool(v.get("derived", False)),
            range=tuple(rng) if rng else None,  # type: ignore[arg-type]
            unit_sv=v.get("unit_sv"),
            groups_of=v.get("groups_of"),
            applies_when=dict(v.get("applies_when") or {}),
            also_in=also_in,
        )
    for name, var in variables.items():
        if var.groups_of and var.groups_of not in variables:
            raise _fail(f"variable {name!r}", f"groups_of {var.groups_of!r} is not a variable")
        if var.optional and var.official_minimum:
            raise _fail(f"variable {name!r}", "an official-minimum variable cannot be optional")
    optional_vars = {n: v for n, v in variables.items() if v.table in OPTIONAL_TABLES}
    variables = {n: v for n, v in variables.items() if n not in optional_vars}
    questions = {
        q["name"]: SurveyQuestion(q["name"], q["sv"], q["en"])
        for q in raw.get("survey_questions") or []
    }
    return Catalogue(
        version=raw["version"],
        path=path,
        tables=dict(raw.get("tables") or {}),
        codelists=codelists,
        variables=variables,
        survey_questions=questions,
        rules=parse_rules(raw.get("rules"), variables),
        optional_table_variables=optional_vars,
    )


@functools.cache
def load_catalogue(path: str | None = None) -> Catalogue:
    """Load and validate the variable catalogue (cached).

    Parameters
    ----------
    path
        A catalogue YAML; default ``data/reference/catalogue.yaml``.
    """
    p = Path(path) if path else paths.reference_dir() / "catalogue.yaml"
    with open(p, encoding="utf-8") as fh:
        # libyaml's parser when available: the same safe loader's types, about 8x faster (every
        # report kernel reads the catalogue once)
        raw = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    return parse_catalogue(raw, path=p)


def list_variables(
    *, category: str | None = None, optional: bool | None = None, table: str | None = None
) -> pd.DataFrame:
    """The catalogue as a table: one row per variable, with labels, type, level and code list.

    Printed in a notebook it shows every follow-up variable the workbench knows. ``table``
    lists the variables of one table instead, e.g. ``"child_survey"`` or ``"provider_ratings"``
    (the optional tables' variables are listed only this way).
    """
    if table is not None and table not in TABLES:
        raise KeyError(f"Unknown table {table!r}; tables: {', '.join(TABLES)}")
    df = load_catalogue().to_frame(table=table)
    if category is not None:
        df = df[df["kategori"] == category]
    if optional is not None:
        df = df[df["valfri"] == optional]
    return df.reset_index(drop=True)


def group_variable_values(cat: Catalogue, var: Variable) -> tuple[str, ...]:
    """Values of a derived grouping variable (e.g. insatsgrupp from insatstyp's groups)."""
    assert var.groups_of
    groups = cat.groups(var.groups_of)
    return tuple(dict.fromkeys(groups.values()))


GROUP_LABELS_SV = {"oppenvard": "Öppenvård", "placering": "Placering"}
GROUP_LABELS_EN = {"oppenvard": "Open care", "placering": "Placement"}
BOOLEAN_CODES = ("ja", "nej")
BOOLEAN_LABELS = {"sv": {"ja": "Ja", "nej": "Nej"}, "en": {"ja": "Yes", "nej": "No"}}


def code_label(variable: str, code: str, *, lang: str = "sv") -> str:
    """Human label of a code of a variable (also for derived grouping variables)."""
    cat = load_catalogue()
    var = cat.variable(variable)
    if var.groups_of:
        return (GROUP_LABELS_SV if lang == "sv" else GROUP_LABELS_EN).get(code, code)
    if var.type == "boolean":
        return BOOLEAN_LABELS["sv" if lang == "sv" else "en"][code]
    assert var.codelist is not None
    return var.codelist.label(code, lang)


def code_order(variable: str) -> tuple[str, ...]:
    """The catalogue order of a variable's codes (for tables and charts)."""
    cat = load_catalogue()
    var = cat.variable(variable)
    if var.groups_of:
        return group_variable_values(cat, var)
    if var.type == "boolean":
        return BOOLEAN_CODES
    assert var.codelist is not None
    return var.codelist.code_values
