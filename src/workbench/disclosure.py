"""Statistical disclosure control for published count tables.

Every number that reaches a report passes through :func:`protect_linked`, which returns a
:class:`ProtectedTable`: the only table type renderers accept. The rules (``docs/disclosure.md``):

* **primary** -- counts 1 .. ``min_count - 1`` are suppressed; zero is shown. A unit x group whose
  denominator is itself in that range is suppressed as a whole (the population identifies too).
* **denominator** -- a share is hidden when its denominator is below ``min_denominator``, when its
  count is suppressed, or when the denominator itself is suppressed.
* **attribute** -- when everyone in a unit x group (single-select variable) falls into one code,
  that cell is suppressed, together with one zero of the same row so the row no longer proves it.
* **secondary** -- complementary suppressions over the *linked set* (codes add up to the
  denominator, municipalities to their county, counties to the nation, per variable and code),
  first by a deterministic line heuristic and then, until :func:`audit_lp` is satisfied, by
  LP-guided repair.
* **linked** -- a cell forced because another table of the same report relates to it
  (:func:`protect_related` with :class:`Relation`), then protected like a primary cell.

:func:`audit_lp` is the test oracle: for every suppressed cell it computes, with the HiGHS LP
solver (``highspy``), the interval an intruder can derive from everything that is published, the
additivity constraints and non-negativity.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import highspy
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

__all__ = [
    "NATIONAL",
    "SUPPRESSED",
    "AuditResult",
    "DisclosureRules",
    "ProtectedTable",
    "Relation",
    "audit_lp",
    "audit_related",
    "check_relations",
    "protect_linked",
    "protect_related",
    "suppression_log",
    "write_suppression_log",
]

logger = logging.getLogger(__name__)

NATIONAL = "0000"
"""Pseudo unit code for the whole country (Riket)."""

SUPPRESSED = ".."
"""Symbol shown for a suppressed cell."""

RULE_NONE = ""
RULE_PRIMARY = "primary"
RULE_SECONDARY = "secondary"
RULE_DENOMINATOR = "denominator"
RULE_ATTRIBUTE = "attribute"
RULE_LINKED = "linked"

CELL_COUNT = "n"
CELL_DENOMINATOR = "denominator"

_ADDED_COLUMNS = ("n_shown", "denominator_shown", "share", "suppressed", "rule")
_HIERARCHY_COLUMNS = ("kommun", "lan")


# Warm-started re-solves: only the objective changes between solves, so the last optimal basis
# stays primal feasible and primal simplex needs few iterations; presolve would discard it.
def _new_highs() -> Any:
    """A HiGHS instance, without the copyright banner HiGHS >= 1.16 writes to the C-level stdout
    on its first construction in a process (it would land in CLI output and notebook streams)."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h


_HIGHS_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {
        "output_flag": False,
        "presolve": "off",
        "solver": "simplex",
        "simplex_strategy": 4,  # primal
        "random_seed": 0,
    }
)
_DUAL_EPS = 1e-9


# --------------------------------------------------------------------------------------------
# Public result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureRules:
    """Thresholds for disclosure control; all of them are configuration.

    Parameters
    ----------
    min_count
        Counts ``1 .. min_count - 1`` are suppressed (zero is shown). Also the width an intruder's
        feasible interval for a sensitive cell must at least have (see :func:`audit_lp`).
    min_denominator
        Shares are hidden when their denominator is below this.
    secondary
        Whether to add complementary (secondary) suppressions. ``False`` gives primary suppression
        only, which is *not* safe for publication; it exists for audits and teaching.
    """

    min_count: int = 5
    min_denominator: int = 10
    secondary: bool = True

    def __post_init__(self) -> None:
        for name in ("min_count", "min_denominator"):
            value = getattr(self, name)
            if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
                raise ValueError(
                    f"disclosure rule {name!r} must be an integer, got {value!r} "
                    f"({type(value).__name__}); write it unquoted in the YAML file"
                )
            if value < 1:
                raise ValueError(f"disclosure rule {name!r} must be at least 1, got {value}")
            object.__setattr__(self, name, int(value))
        if not isinstance(self.secondary, bool | np.bool_):
            raise ValueError(
                f"disclosure rule 'secondary' must be true or false, got {self.secondary!r}"
            )
        object.__setattr__(self, "secondary", bool(self.secondary))

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> DisclosureRules:
        """Build rules from a settings mapping (e.g. the ``suppression`` block of defaults.yaml).

        Parameters
        ----------
        m
            Keys among ``min_count``, ``min_denominator`` and ``secondary``; missing keys take the
            defaults.

        Raises
        ------
        ValueError
            If a key is unknown (the message names it and lists the known keys) or a value has the
            wrong type or range.
        """
        if not isinstance(m, Mapping):
            raise ValueError(f"disclosure rules must be a mapping, got {type(m).__name__}")
        known = ("min_count", "min_denominator", "secondary")
        unknown = sorted(str(k) for k in m if k not in known)
        if unknown:
            raise ValueError(
                f"unknown disclosure rule key(s): {', '.join(repr(k) for k in unknown)}; "
                f"known keys are {', '.join(known)}"
            )
        return cls(**{str(k): v for k, v in m.items()})


@dataclass(frozen=True, eq=False)
class ProtectedTable:
    """A table that has passed disclosure control. The only table type renderers accept.

    Build it with :func:`protect_linked`, not by hand.

    Attributes
    ----------
    data
        The original columns (sorted by unit, group and code; fresh index) plus ``n_shown``
        (nullable ``Int64``, ``<NA>`` where suppressed), ``denominator_shown`` (``Int64``, ``<NA>``
        where the unit x group total is suppressed), ``share`` (``Float64``, ``n / denominator``,
        ``<NA>`` where suppressed, not applicable or the denominator is too small), ``suppressed``
        (bool, the count is suppressed) and ``rule`` (``""``, ``"primary"``, ``"attribute"``,
        ``"linked"`` (forced by a related table), ``"secondary"`` or ``"denominator"``: share
        hidden only). ``data`` still holds the raw
        counts: it belongs to the private zone. Publish :meth:`to_frame`.
    rules
        The rules applied.
    log
        One row per suppressed cell: the key columns, ``cell`` (``"n"`` or ``"denominator"``),
        ``rule`` and ``pass`` (0 primary/attribute, then one number per secondary sweep or repair
        round). No raw values.
    keys, measures
        Names of the unit, group and code columns, and of the count and denominator columns.
    hierarchy
        The municipality -> county lookup the table was protected with (used by :func:`audit_lp`).
    additive
        Per group, whether its codes add up to the denominator.
    """

    data: pd.DataFrame
    rules: DisclosureRules
    log: pd.DataFrame
    keys: tuple[str, str, str] = ("kommun", "variabel", "kod")
    measures: tuple[str, str] = ("n", "denominator")
    hierarchy: pd.DataFrame | None = None
    additive: Mapping[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in (*self.keys, *self.measures, *_ADDED_COLUMNS) if c not in self.data]
        if missing:
            raise ValueError(
                f"not a protected table: columns {missing} are missing; build it with "
                "workbench.disclosure.protect_linked()"
            )

    def to_frame(self) -> pd.DataFrame:
        """Publishable copy of :attr:`data`.

        The raw count and denominator columns are replaced by their shown values: ``<NA>`` wherever
        the count, respectively the unit x group denominator, is suppressed. No suppressed raw
        value survives in any column.
        """
        n_col, d_col = self.measures
        out = self.data.copy()
        out[n_col] = out["n_shown"].copy()
        out[d_col] = out["denominator_shown"].copy()
        return out

    def _repr_html_(self) -> str:
        shown = self.to_frame()
        display = shown.astype(object).mask(shown.isna(), SUPPRESSED)
        return display.to_html(escape=True, index=False)


@dataclass(frozen=True, eq=False)
class AuditResult:
    """Outcome of the linear-programming audit of a :class:`ProtectedTable`.

    Method: for each suppressed cell, the HiGHS LP solver minimises and maximises the cell
    subject to every published cell, all additivity constraints and non-negativity. A
    cell is *sensitive* when its value is in ``1 .. min_count - 1`` or it carries the attribute
    rule; it is protected when ``upper - lower >= min_count`` (for attribute cells also: the rest
    of its row can be at least ``min_count``). Other suppressed cells have required width 0.

    Attributes
    ----------
    ok
        True when every suppressed cell is protected.
    cells
        One row per suppressed cell (the key columns, ``cell``, ``rule``, ``sensitive``,
        ``lower``, ``upper`` (``inf`` when unbounded), ``width``, ``required_width``,
        ``rest_upper`` (attribute cells only) and ``protected``). No raw values.
    min_count
        Threshold used for the required width.
    """

    ok: bool
    cells: pd.DataFrame
    min_count: int
    method: str = "LP feasibility interval (HiGHS simplex via highspy)"

    @property
    def failures(self) -> pd.DataFrame:
        """The rows of :attr:`cells` that are not protected."""
        return self.cells.loc[~self.cells["protected"]].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """Copy of :attr:`cells`."""
        return self.cells.copy()

    def _repr_html_(self) -> str:
        head = f"<p>LP audit ({self.method}): {'ok' if self.ok else 'FAILED'}</p>"
        return head + self.cells.to_html(escape=True, index=False)


# --------------------------------------------------------------------------------------------
# Internal model: one linear system per family of groups sharing a denominator
# --------------------------------------------------------------------------------------------


@dataclass
class _Model:
    """Cells and linear relations of one linked set.

    A family is a set of groups whose denominators are identical in every unit: they describe the
    same population, so the unit totals are one cell shared by all of them (a total suppressed in
    one group and published in another would otherwise be recovered).
    """

    groups: tuple[str, ...]
    unit: np.ndarray  # object, per cell
    group: np.ndarray  # object, per cell (None for totals)
    code: np.ndarray  # object, per cell (None for totals)
    is_total: np.ndarray  # bool
    value: np.ndarray  # int64
    total_of: dict[str, int]
    code_cell: dict[tuple[str, str, str], int]
    lines: list[tuple[int, np.ndarray]]  # (total, members): total == sum(members)
    ineqs: list[tuple[int, int]]  # (member, total): member <= total (multi-select)
    row_line: dict[int, int]  # code cell -> its code line (additive groups)
    parent_line: dict[int, int]  # cell -> hierarchy line where it is a member
    cell_lines: list[list[int]]  # lines containing each cell
    cell_ineqs: list[list[int]]  # ineqs containing each cell
    eq_matrix: sparse.csr_array  # lines x cells: +1 member, -1 total (row == 0)
    ub_matrix: sparse.csr_array  # ineqs x cells: +1 member, -1 total (row <= 0)
    eq_by_cell: sparse.csc_array  # the same, by column
    ub_by_cell: sparse.csc_array

    @property
    def size(self) -> int:
        return len(self.value)


@dataclass
class _State:
    supp: np.ndarray
    rule: np.ndarray
    pass_no: np.ndarray
    sensitive: np.ndarray
    attr_row: dict[int, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, size: int) -> _State:
        return cls(
            supp=np.zeros(size, dtype=bool),
            rule=np.full(size, RULE_NONE, dtype=object),
            pass_no=np.full(size, -1, dtype=np.int64),
            sensitive=np.zeros(size, dtype=bool),
        )

    def mark(self, cells: Iterable[int], rule: str, pass_no: int) -> int:
        added = 0
        for c in cells:
            if not self.supp[c]:
                self.supp[c] = True
                self.rule[c] = rule
                self.pass_no[c] = pass_no
                added += 1
        return added


@dataclass(frozen=True)
class _Interval:
    lower: float
    upper: float
    rest_upper: float
    binding_lines: tuple[int, ...]
    binding_ineqs: tuple[int, ...]

    def protected(self, required: float, attribute: bool, min_count: int, tol: float) -> bool:
        ok = self.upper - self.lower >= required - tol
        if attribute:
            ok = ok and self.rest_upper >= min_count - tol
        return bool(ok)


@dataclass(frozen=True)
class _Hierarchy:
    county_of: Mapping[str, str]
    municipalities_of: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_frame(cls, hierarchy: pd.DataFrame) -> _Hierarchy:
        if not isinstance(hierarchy, pd.DataFrame):
            raise ValueError("hierarchy must be a DataFrame with columns 'kommun' and 'lan'")
        missing = [c for c in _HIERARCHY_COLUMNS if c not in hierarchy.columns]
        if missing:
            raise ValueError(
                f"hierarchy lacks column(s) {missing}; it needs 'kommun' (4-character "
                "municipality code) and 'lan' (2-character county code), e.g. "
                "data/reference/municipalities.csv with municipality_code -> kommun and "
                "county_code -> lan"
            )
        h = hierarchy.loc[:, list(_HIERARCHY_COLUMNS)]
        if h.isna().to_numpy().any():
            raise ValueError("hierarchy has missing municipality or county codes")
        kommun = h["kommun"].astype(str).to_numpy(dtype=object)
        lan = h["lan"].astype(str).to_numpy(dtype=object)
        county_of: dict[str, str] = {}
        for k, c in zip(kommun, lan, strict=True):
            if county_of.setdefault(k, c) != c:
                raise ValueError(f"hierarchy puts municipality {k!r} in two counties")
        overlap = (set(county_of) & set(lan)) | ({NATIONAL} & (set(county_of) | set(lan)))
        if overlap:
            raise ValueError(
                f"hierarchy codes {sorted(overlap)} are used both as municipality, county or "
                f"national ({NATIONAL!r}) codes"
            )
        by_county: dict[str, list[str]] = {}
        for k, c in county_of.items():
            by_county.setdefault(c, []).append(k)
        return cls(
            county_of=MappingProxyType(county_of),
            municipalities_of=MappingProxyType(
                {c: tuple(sorted(v)) for c, v in by_county.items()}
            ),
        )


def _order_key(s: pd.Series) -> np.ndarray:
    """Deterministic order of key values: category order for categoricals, else string order."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy(dtype=np.int64)
    values = s.astype(str).to_numpy(dtype=object)
    uniq = sorted(set(values))
    rank = {v: i for i, v in enumerate(uniq)}
    return np.array([rank[v] for v in values], dtype=np.int64)


def _normalise(
    counts: pd.DataFrame, *, keys: tuple[str, str, str], measures: tuple[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate ``counts`` and return (sorted copy of counts, aligned normalised frame)."""
    if not isinstance(counts, pd.DataFrame):
        raise ValueError(f"counts must be a pandas DataFrame, got {type(counts).__name__}")
    needed = (*keys, *measures)
    if len(set(needed)) != len(needed):
        raise ValueError(f"column arguments must be distinct, got {needed}")
    missing = [c for c in needed if c not in counts.columns]
    if missing:
        raise ValueError(
            f"counts lacks column(s) {missing}; pass the names with unit=, group=, code=, n=, "
            "denominator="
        )
    clash = [c for c in _ADDED_COLUMNS if c in counts.columns]
    if clash:
        raise ValueError(f"counts already has column(s) {clash} that protect_linked() adds")
    extra_numeric = [
        c
        for c in counts.columns
        if c not in needed and pd.api.types.is_numeric_dtype(counts[c].dtype)
    ]
    if extra_numeric:
        raise ValueError(
            f"counts has extra numeric column(s) {extra_numeric} that could carry a suppressed "
            "value (e.g. a precomputed share); drop them and use ProtectedTable.data['share']"
        )
    for k in keys:
        if counts[k].isna().any():
            raise ValueError(f"key column {k!r} has missing values")

    unit_col, group_col, code_col = keys
    n_col, d_col = measures
    values: dict[str, np.ndarray] = {}
    for col in measures:
        num = pd.to_numeric(counts[col], errors="coerce")
        arr = num.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(
                f"column {col!r} must hold non-negative whole numbers without missing values; "
                f"{int(bad.sum())} row(s) do not"
            )
        values[col] = arr.astype(np.int64)

    norm = pd.DataFrame(
        {
            "_u": counts[unit_col].astype(str).to_numpy(dtype=object),
            "_g": counts[group_col].astype(str).to_numpy(dtype=object),
            "_c": counts[code_col].astype(str).to_numpy(dtype=object),
            "_n": values[n_col],
            "_d": values[d_col],
            "_uk": _order_key(counts[unit_col]),
            "_gk": _order_key(counts[group_col]),
            "_ck": _order_key(counts[code_col]),
        }
    )
    order = np.lexsort((norm["_ck"].to_numpy(), norm["_gk"].to_numpy(), norm["_uk"].to_numpy()))
    norm = norm.iloc[order].reset_index(drop=True)
    frame = counts.iloc[order].reset_index(drop=True)

    dup = norm.duplicated(["_u", "_g", "_c"])
    if dup.any():
        first = norm.loc[dup].iloc[0]
        raise ValueError(
            f"counts has {int(dup.sum())} duplicated (unit, group, code) row(s), e.g. "
            f"({first['_u']!r}, {first['_g']!r}, {first['_c']!r}); aggregate them first"
        )
    d_range = norm.groupby(["_u", "_g"], sort=False)["_d"].agg(["min", "max"])
    varying = d_range.loc[d_range["min"] != d_range["max"]]
    if len(varying):
        u, g = varying.index[0]
        raise ValueError(
            f"the denominator must be the same for every code of a unit x group; it varies in "
            f"{len(varying)} unit x group(s), e.g. ({u!r}, {g!r})"
        )
    over = norm["_n"] > norm["_d"]
    if over.any():
        first = norm.loc[over].iloc[0]
        raise ValueError(
            f"{int(over.sum())} count(s) exceed their denominator, e.g. "
            f"({first['_u']!r}, {first['_g']!r}, {first['_c']!r})"
        )
    per_group_codes = norm.groupby("_g", sort=False)["_c"].nunique()
    per_unit_codes = norm.groupby(["_g", "_u"], sort=False)["_c"].size()
    expected = per_group_codes.reindex(per_unit_codes.index.get_level_values("_g")).to_numpy()
    short = per_unit_codes.to_numpy() != expected
    if short.any():
        g, u = per_unit_codes.index[np.flatnonzero(short)[0]]
        raise ValueError(
            f"every unit of a group must list every code of that group; e.g. unit {u!r} lacks "
            f"codes of group {g!r}. Add the missing codes with n = 0"
        )
    return frame, norm


def _resolve_additive(
    additive_codes: bool | Mapping[str, bool], groups: Sequence[str]
) -> dict[str, bool]:
    if isinstance(additive_codes, bool | np.bool_):
        return {g: bool(additive_codes) for g in groups}
    if not isinstance(additive_codes, Mapping):
        raise ValueError("additive_codes must be a bool or a mapping group -> bool")
    resolved = {str(k): v for k, v in additive_codes.items()}
    for k, v in resolved.items():
        if not isinstance(v, bool | np.bool_):
            raise ValueError(f"additive_codes[{k!r}] must be true or false, got {v!r}")
    unknown = sorted(set(resolved) - set(groups))
    if unknown:
        logger.debug("additive_codes names group(s) not in the table: %s", unknown)
    # Unlisted groups are treated as additive: the safer default, and a wrong guess is caught by
    # the check that the codes sum to the denominator.
    return {g: bool(resolved.get(g, True)) for g in groups}


def _unit_lines(units: set[str], hier: _Hierarchy) -> list[tuple[str, list[str]]]:
    """Hierarchy relations among the units present: (total unit, member units)."""
    unknown = sorted(
        u
        for u in units
        if u != NATIONAL and u not in hier.county_of and u not in hier.municipalities_of
    )
    if unknown:
        raise ValueError(
            f"unit code(s) {unknown[:5]} are neither municipalities nor counties in the hierarchy "
            f"nor {NATIONAL!r}; unit codes are strings with leading zeros ('0180', '01')"
        )
    lines: list[tuple[str, list[str]]] = []
    for county in sorted(c for c in units if c in hier.municipalities_of):
        members = list(hier.municipalities_of[county])
        absent = [m for m in members if m not in units]
        if absent:
            raise ValueError(
                f"county {county!r} is in the table but its municipalities {absent[:5]} are not; "
                "protect the whole linked set (or pass a hierarchy restricted to the "
                "municipalities you publish)"
            )
        lines.append((county, members))
    if NATIONAL in units:
        members = []
        for county in sorted(hier.municipalities_of):
            if county in units:
                members.append(county)
                continue
            munis = list(hier.municipalities_of[county])
            if not all(m in units for m in munis):
                raise ValueError(
                    f"the national total {NATIONAL!r} is in the table but county {county!r} (or "
                    "all of its municipalities) is not; include it or restrict the hierarchy"
                )
            members.extend(munis)
        if members:
            lines.append((NATIONAL, members))
    return lines


def _families(norm: pd.DataFrame) -> list[tuple[str, ...]]:
    """Groups with identical denominators in identical units (same population), in group order."""
    rows = norm.drop_duplicates(["_g", "_u"])
    signature: dict[tuple, list[str]] = {}
    group_order = rows.drop_duplicates("_g").sort_values("_gk")["_g"].tolist()
    by_group = {g: sub for g, sub in rows.groupby("_g", sort=False)}
    for g in group_order:
        sub = by_group[g].sort_values("_u")
        key = (tuple(sub["_u"]), tuple(int(x) for x in sub["_d"]))
        signature.setdefault(key, []).append(g)
    return [tuple(gs) for gs in signature.values()]


def _build_model(
    norm: pd.DataFrame, groups: tuple[str, ...], hier: _Hierarchy, additive: Mapping[str, bool]
) -> _Model:
    fam = norm.loc[norm["_g"].isin(groups)]
    unit_order = fam.drop_duplicates("_u").sort_values(["_uk", "_u"])["_u"].tolist()
    codes: dict[str, list[str]] = {
        g: sub.drop_duplicates("_c").sort_values(["_ck", "_c"])["_c"].tolist()
        for g, sub in fam.groupby("_g", sort=False)
    }
    n_of = dict(zip(zip(fam["_u"], fam["_g"], fam["_c"], strict=True), fam["_n"], strict=True))
    d_of = dict(zip(fam["_u"], fam["_d"], strict=False))

    unit: list[str] = []
    grp: list[str | None] = []
    cod: list[str | None] = []
    is_total: list[bool] = []
    value: list[int] = []
    total_of: dict[str, int] = {}
    code_cell: dict[tuple[str, str, str], int] = {}
    for u in unit_order:
        total_of[u] = len(value)
        unit.append(u)
        grp.append(None)
        cod.append(None)
        is_total.append(True)
        value.append(int(d_of[u]))
        for g in groups:
            for c in codes[g]:
                code_cell[(u, g, c)] = len(value)
                unit.append(u)
                grp.append(g)
                cod.append(c)
                is_total.append(False)
                value.append(int(n_of[(u, g, c)]))

    lines: list[tuple[int, np.ndarray]] = []
    ineqs: list[tuple[int, int]] = []
    row_line: dict[int, int] = {}
    parent_line: dict[int, int] = {}
    for u in unit_order:
        for g in groups:
            members = [code_cell[(u, g, c)] for c in codes[g]]
            if additive[g]:
                for m in members:
                    row_line[m] = len(lines)
                lines.append((total_of[u], np.array(members, dtype=np.int64)))
            else:
                ineqs.extend((m, total_of[u]) for m in members)

    def cell(u: str, key: tuple[str, str] | None) -> int:
        return total_of[u] if key is None else code_cell[(u, key[0], key[1])]

    ulines = _unit_lines(set(unit_order), hier)
    keys: list[tuple[str, str] | None] = [None] + [(g, c) for g in groups for c in codes[g]]
    for key in keys:
        for total_unit, member_units in ulines:
            members = [cell(m, key) for m in member_units]
            for m in members:
                parent_line[m] = len(lines)
            lines.append((cell(total_unit, key), np.array(members, dtype=np.int64)))

    val = np.array(value, dtype=np.int64)
    bad = [lid for lid, (t, ms) in enumerate(lines) if val[t] != val[ms].sum()]
    if bad:
        t, ms = lines[bad[0]]
        what = "codes" if not any(m in parent_line for m in ms) else "units"
        hint = (
            "; for a multi-select variable pass additive_codes={group: False}"
            if what == "codes"
            else "; county and national figures must be the sums of the units below them"
        )
        raise ValueError(
            f"{len(bad)} additivity relation(s) do not hold, e.g. the {what} of unit "
            f"{unit[t]!r} (group {grp[ms[0]]!r}, code {cod[t]!r}) do not sum to their total{hint}"
        )

    size = len(val)
    cell_lines: list[list[int]] = [[] for _ in range(size)]
    for lid, (t, ms) in enumerate(lines):
        cell_lines[t].append(lid)
        for m in ms:
            cell_lines[m].append(lid)
    cell_ineqs: list[list[int]] = [[] for _ in range(size)]
    for iid, (m, t) in enumerate(ineqs):
        cell_ineqs[m].append(iid)
        cell_ineqs[t].append(iid)

    def incidence(totals: Sequence[int], members: Sequence[np.ndarray]) -> sparse.csr_array:
        """Rows ``sum(members) - total``: +1 for each member, -1 for the total."""
        sizes = np.array([len(m) for m in members], dtype=np.int64)
        rows = np.concatenate([np.repeat(np.arange(len(totals)), sizes), np.arange(len(totals))])
        cols = np.concatenate([*members, np.asarray(totals, dtype=np.int64)]).astype(np.int64)
        data = np.concatenate([np.ones(int(sizes.sum())), -np.ones(len(totals))])
        return sparse.csr_array((data, (rows, cols)), shape=(len(totals), size))

    eq_matrix = incidence([t for t, _ in lines], [ms for _, ms in lines])
    ub_matrix = incidence([t for _, t in ineqs], [np.array([m], dtype=np.int64) for m, _ in ineqs])
    return _Model(
        groups=groups,
        unit=np.array(unit, dtype=object),
        group=np.array(grp, dtype=object),
        code=np.array(cod, dtype=object),
        is_total=np.array(is_total, dtype=bool),
        value=val,
        total_of=total_of,
        code_cell=code_cell,
        lines=lines,
        ineqs=ineqs,
        row_line=row_line,
        parent_line=parent_line,
        cell_lines=cell_lines,
        cell_ineqs=cell_ineqs,
        eq_matrix=eq_matrix,
        ub_matrix=ub_matrix,
        eq_by_cell=eq_matrix.tocsc(),
        ub_by_cell=ub_matrix.tocsc(),
    )


def _build_models(
    norm: pd.DataFrame, hier: _Hierarchy, additive: Mapping[str, bool]
) -> list[_Model]:
    return [_build_model(norm, fam, hier, additive) for fam in _families(norm)]


# --------------------------------------------------------------------------------------------
# Linear programming: feasible intervals of suppressed cells
# --------------------------------------------------------------------------------------------


def _components(model: _Model, supp: np.ndarray) -> dict[int, np.ndarray]:
    """Connected components of suppressed cells through the relations that touch them.

    Keyed by the smallest cell of each component, cells sorted. Two suppressed cells are linked
    when a relation holds both. Components are independent linear programs.
    """
    cells = np.flatnonzero(supp)
    if not len(cells):
        return {}
    incidence = sparse.vstack(
        [model.eq_by_cell[:, cells], model.ub_by_cell[:, cells]], format="csr"
    )
    incidence.data = np.ones_like(incidence.data)
    if incidence.shape[0]:
        graph = sparse.block_array([[None, incidence.T], [incidence, None]], format="csr")
        labels = csgraph.connected_components(graph, directed=False)[1][: len(cells)]
    else:
        labels = np.arange(len(cells))
    order = np.lexsort((cells, labels))
    parts = np.split(cells[order], np.flatnonzero(np.diff(labels[order])) + 1)
    return {int(p.min()): np.sort(p) for p in parts}


@dataclass(frozen=True)
class _Optimum:
    value: float  # -inf when unbounded
    lines: frozenset[int]  # relations with a non-zero dual (binding)
    ineqs: frozenset[int]


class _ComponentLP:
    """The LP of one component of unknowns, built once in HiGHS and re-solved per objective.

    Columns are the component's suppressed cells (non-negative); rows are the relations that hold
    any of them, with the published cells moved to the right-hand side. Only the objective
    changes between solves, so each solve is a warm start (primal simplex from the previous
    optimal basis, which stays feasible): a few iterations instead of a solve from scratch.
    """

    def __init__(self, lp: _LinkedLP, cells: np.ndarray) -> None:
        model = lp.model
        self.cells = cells
        self.eq_rows = np.unique(model.eq_by_cell[:, cells].indices)
        self.ub_rows = np.unique(model.ub_by_cell[:, cells].indices)
        a_eq = model.eq_matrix[self.eq_rows]
        a_ub = model.ub_matrix[self.ub_rows]
        # Every other cell of these rows is published (a suppressed one would be in the component).
        b_eq = -(a_eq @ lp.published)
        b_ub = -(a_ub @ lp.published)
        a = sparse.vstack([a_eq[:, cells], a_ub[:, cells]], format="csr")
        n, m = len(cells), a.shape[0]
        inf = highspy.kHighsInf
        spec = highspy.HighsLp()
        spec.num_col_ = n
        spec.num_row_ = m
        spec.col_cost_ = np.zeros(n)
        spec.col_lower_ = np.zeros(n)
        spec.col_upper_ = np.full(n, inf)
        spec.row_lower_ = np.concatenate([b_eq, np.full(len(b_ub), -inf)])
        spec.row_upper_ = np.concatenate([b_eq, b_ub])
        spec.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        spec.a_matrix_.num_col_ = n
        spec.a_matrix_.num_row_ = m
        spec.a_matrix_.start_ = a.indptr.astype(np.int32)
        spec.a_matrix_.index_ = a.indices.astype(np.int32)
        spec.a_matrix_.value_ = a.data.astype(np.float64)
        self.highs = _new_highs()
        for option, value in _HIGHS_OPTIONS.items():
            self.highs.setOptionValue(option, value)
        if self.highs.passModel(spec) != highspy.HighsStatus.kOk:
            raise RuntimeError("disclosure audit LP could not be set up in HiGHS")
        self._cost_cols = np.zeros(0, dtype=np.int32)

    def minimise(self, objective: Mapping[int, float]) -> tuple[bool, np.ndarray, np.ndarray]:
        """Minimise ``sum(coef * cell)``; return (unbounded, optimal values of ``cells``, row
        duals: equalities first, then inequalities)."""
        h = self.highs
        if len(self._cost_cols):
            h.changeColsCost(len(self._cost_cols), self._cost_cols, np.zeros(len(self._cost_cols)))
        cols = np.searchsorted(self.cells, list(objective)).astype(np.int32)
        h.changeColsCost(len(cols), cols, np.array(list(objective.values()), dtype=np.float64))
        self._cost_cols = cols
        done = (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kUnbounded)
        h.run()
        status = h.getModelStatus()
        if status not in done:
            # Not expected (the true values are feasible): solve once more from scratch rather
            # than trust a warm start that went wrong.
            h.clearSolver()
            h.run()
            status = h.getModelStatus()
        if status not in done:
            raise RuntimeError(f"disclosure audit LP failed: {h.modelStatusToString(status)}")
        if status == highspy.HighsModelStatus.kUnbounded:
            return True, np.zeros(0), np.zeros(0)
        sol = h.getSolution()
        return False, np.asarray(sol.col_value), np.asarray(sol.row_dual)


class _LinkedLP:
    """The audit LPs of one linked set under one suppression pattern.

    Unknowns are the suppressed cells (non-negative); every relation holds, with the published
    cells as constants. The unknowns fall into connected components (no relation holds cells of
    two of them), which are independent LPs: solving them apart gives the intervals of the whole.

    Every optimum is a feasible point, and so are the true values. ``seen_lo`` / ``seen_hi`` keep
    the smallest and largest value seen per cell: an inner bound of each feasible interval, which
    can prove a cell wide enough without an LP of its own. ``cap`` is an outer bound from
    non-negativity alone (a published total minus its published members, on a relation where
    every other unknown is a member). A seen point that reaches ``cap``, or 0, gives that bound
    exactly.
    """

    def __init__(self, model: _Model, supp: np.ndarray, attr_row: Mapping[int, int]) -> None:
        self.model = model
        self.supp = supp
        self.attr_row = attr_row
        self.value = model.value.astype(np.float64)
        self.published = np.where(supp, 0.0, self.value)
        self.tol = _tolerance(model)
        self.seen_lo = self.value.copy()
        self.seen_hi = self.value.copy()
        self.cap = self._caps()
        # Attribute cells whose row total is suppressed too: largest (total - cell) seen.
        pairs = [(c, int(model.lines[lid][0])) for c, lid in sorted(attr_row.items())]
        pairs = [(c, t) for c, t in pairs if supp[c] and supp[t]]
        self.rest_index = {c: i for i, (c, _) in enumerate(pairs)}
        self.rest_cells = np.array([c for c, _ in pairs], dtype=np.int64)
        self.rest_totals = np.array([t for _, t in pairs], dtype=np.int64)
        self.rest_seen = self.value[self.rest_totals] - self.value[self.rest_cells]
        self.components = _components(model, supp)
        self.owner = np.full(model.size, -1, dtype=np.int64)
        for root, cells in self.components.items():
            self.owner[cells] = root
        self._lps: dict[int, _ComponentLP] = {}
        self._memo: dict[tuple[tuple[int, float], ...], _Optimum] = {}

    def _caps(self) -> np.ndarray:
        supp = self.supp
        cap = np.full(len(supp), np.inf)
        for mat in (self.model.eq_matrix, self.model.ub_matrix):
            coo = mat.tocoo()
            hidden = supp[coo.col]
            # A row reads sum(+1 cells) - sum(-1 cells) (== or <=) 0. When no -1 cell is unknown,
            # each unknown +1 cell is at most (published -1 side) - (published +1 side).
            open_side = np.zeros(mat.shape[0], dtype=bool)
            np.logical_or.at(open_side, coo.row, hidden & (coo.data < 0))
            rhs = -(mat @ self.published)
            take = hidden & (coo.data > 0) & ~open_side[coo.row]
            np.minimum.at(cap, coo.col[take], rhs[coo.row[take]])
        return cap

    def minimise(self, objective: Mapping[int, float]) -> _Optimum:
        """Minimum of ``sum(coef * cell)`` (cells of one component) and the relations binding it."""
        key = tuple(sorted((int(c), float(a)) for c, a in objective.items()))
        known = self._memo.get(key)
        if known is not None:
            return known
        root = int(self.owner[key[0][0]])
        lp = self._lps.get(root)
        if lp is None:
            lp = self._lps[root] = _ComponentLP(self, self.components[root])
        unbounded, x, duals = lp.minimise(dict(key))
        if unbounded:
            result = _Optimum(-np.inf, frozenset(), frozenset())
        else:
            self._record(lp.cells, x)
            binding = np.flatnonzero(np.abs(duals) > _DUAL_EPS)
            n_eq = len(lp.eq_rows)
            result = _Optimum(
                value=float(sum(a * x[np.searchsorted(lp.cells, c)] for c, a in key)),
                lines=frozenset(lp.eq_rows[binding[binding < n_eq]].tolist()),
                ineqs=frozenset(lp.ub_rows[binding[binding >= n_eq] - n_eq].tolist()),
            )
        self._memo[key] = result
        return result

    def _record(self, cells: np.ndarray, x: np.ndarray) -> None:
        self.seen_lo[cells] = np.minimum(self.seen_lo[cells], x)
        self.seen_hi[cells] = np.maximum(self.seen_hi[cells], x)
        if len(self.rest_cells):
            point = self.value.copy()
            point[cells] = x
            rest = point[self.rest_totals] - point[self.rest_cells]
            np.maximum(self.rest_seen, rest, out=self.rest_seen)

    def upper(self, cell: int) -> float:
        """Exact maximum of ``cell``."""
        if self.seen_hi[cell] >= self.cap[cell] - self.tol:
            return float(self.cap[cell])
        return -self.minimise({cell: -1.0}).value

    def lower(self, cell: int) -> float:
        """Exact minimum of ``cell``."""
        if self.seen_lo[cell] <= self.tol:
            return 0.0
        return max(self.minimise({cell: 1.0}).value, 0.0)

    def seen_protected(self, cell: int, min_count: int) -> bool:
        """Whether the points seen so far already prove ``cell`` protected (sufficient only)."""
        need = min_count - self.tol
        if self.seen_hi[cell] - self.seen_lo[cell] < need:
            return False
        if cell not in self.attr_row:
            return True
        i = self.rest_index.get(cell)
        if i is not None:
            return bool(self.rest_seen[i] >= need)
        row_total = int(self.model.lines[self.attr_row[cell]][0])
        return bool(self.value[row_total] - self.seen_lo[cell] >= need)

    def rest_upper(self, cell: int, lower: float) -> float:
        """Exact maximum of (row total - cell) for an attribute cell, given its exact minimum;
        NaN for other cells."""
        if cell not in self.attr_row:
            return np.nan
        row_total = int(self.model.lines[self.attr_row[cell]][0])
        if not self.supp[row_total]:
            return float(self.value[row_total]) - lower
        return -self.minimise({cell: 1.0, row_total: -1.0}).value

    def interval(self, cell: int) -> _Interval:
        """Exact interval of ``cell`` (and ``rest_upper`` for attribute cells), with the relations
        that bind its optima."""
        low = self.minimise({cell: 1.0})
        high = self.minimise({cell: -1.0})
        lines, ineqs = low.lines | high.lines, low.ineqs | high.ineqs
        rest = np.nan
        if cell in self.attr_row:
            row_total = int(self.model.lines[self.attr_row[cell]][0])
            if self.supp[row_total]:
                r = self.minimise({cell: 1.0, row_total: -1.0})
                rest = -r.value
                lines, ineqs = lines | r.lines, ineqs | r.ineqs
            else:
                rest = float(self.value[row_total]) - low.value
        return _Interval(
            lower=max(low.value, 0.0),
            upper=-high.value,
            rest_upper=rest,
            binding_lines=tuple(sorted(lines)),
            binding_ineqs=tuple(sorted(ineqs)),
        )


def _intervals(
    model: _Model, supp: np.ndarray, targets: Iterable[int], attr_row: Mapping[int, int]
) -> dict[int, _Interval]:
    """Exact feasible interval of each target cell given everything published in ``model``.

    All maxima first, then all minima: an optimum often puts other cells at 0 or at their cap,
    which settles their bound without an LP of their own.
    """
    lp = _LinkedLP(model, supp, attr_row)
    todo = sorted({int(t) for t in targets})
    upper = {t: lp.upper(t) for t in todo}
    lower = {t: lp.lower(t) for t in todo}
    return {t: _Interval(lower[t], upper[t], lp.rest_upper(t, lower[t]), (), ()) for t in todo}


def _screen(
    model: _Model,
    supp: np.ndarray,
    targets: Iterable[int],
    attr_row: Mapping[int, int],
    min_count: int,
    cache: dict[tuple[int, ...], dict[int, _Interval | None]],
) -> dict[int, _Interval | None]:
    """Per sensitive target: None when it is protected, else its exact interval.

    Same verdict as :func:`_intervals` with the audit criterion, with fewer LPs: a cell is
    protected as soon as two feasible points seen differ by ``min_count`` in it (and, for an
    attribute cell, the rest of its row reaches ``min_count`` in one of them); the LP for its
    maximum (for an attribute cell: its minimum) comes first. Failing cells get their exact
    interval and the relations binding its optima, which guide the repair. ``cache`` keeps
    results per component (same suppressed cells, same LP) across repair rounds.
    """
    lp = _LinkedLP(model, supp, attr_row)
    out: dict[int, _Interval | None] = {}
    results: dict[int, dict[int, _Interval | None]] = {}  # per component root
    for t in sorted({int(t) for t in targets}):
        root = int(lp.owner[t])
        done = results.get(root)
        if done is None:
            done = results[root] = cache.setdefault(tuple(lp.components[root].tolist()), {})
        if t not in done:
            done[t] = _verdict(lp, t, min_count)
        out[t] = done[t]
    return out


def _verdict(lp: _LinkedLP, cell: int, min_count: int) -> _Interval | None:
    """None when ``cell`` is protected, else its exact interval (see :func:`_screen`)."""
    if lp.seen_protected(cell, min_count):
        return None
    first = {cell: 1.0} if cell in lp.attr_row else {cell: -1.0}
    if lp.minimise(first).value == -np.inf and cell not in lp.attr_row:
        return None
    if lp.seen_protected(cell, min_count):
        return None
    iv = lp.interval(cell)
    attribute = cell in lp.attr_row
    return None if iv.protected(min_count, attribute, min_count, lp.tol) else iv


def _tolerance(model: _Model) -> float:
    return 1e-6 * max(1.0, float(model.value.max(initial=0)))


# --------------------------------------------------------------------------------------------
# Suppression
# --------------------------------------------------------------------------------------------


def _primary(model: _Model, rules: DisclosureRules, state: _State) -> None:
    v = model.value
    small = (v >= 1) & (v < rules.min_count)
    state.sensitive |= small
    state.mark(np.flatnonzero(small & ~model.is_total), RULE_PRIMARY, 0)
    state.mark(np.flatnonzero(small & model.is_total), RULE_PRIMARY, 0)
    # The population that defines a unit x group identifies too: suppress the whole row.
    for (u, _g, _c), cell in model.code_cell.items():
        if state.supp[model.total_of[u]]:
            state.mark([cell], RULE_PRIMARY, 0)


def _attribute(model: _Model, rules: DisclosureRules, state: _State) -> None:
    v = model.value
    for lid in sorted(set(model.row_line.values())):
        t, ms = model.lines[lid]
        if state.supp[t] or v[t] < 1 or len(ms) < 2:
            continue
        hit = ms[v[ms] == v[t]]
        if len(hit) != 1:
            continue
        d = int(hit[0])
        state.mark([d], RULE_ATTRIBUTE, 0)
        state.sensitive[d] = True
        state.attr_row[d] = lid
        logger.info(
            "attribute disclosure: everyone in unit %s, group %s has code %s; suppressed",
            model.unit[d],
            model.group[d],
            model.code[d],
        )
        if rules.secondary:
            zero = _attribute_companion(model, state, lid, exclude=d)
            if zero is not None:
                state.mark([zero], RULE_SECONDARY, 0)


def _parent_value(model: _Model, cell: int) -> int:
    lid = model.parent_line.get(cell)
    return 0 if lid is None else int(model.value[model.lines[lid][0]])


def _attribute_companion(model: _Model, state: _State, lid: int, exclude: int) -> int | None:
    """A published zero of the row whose column is not all zero (so the zero is not pinned)."""
    zeros = [
        int(m)
        for m in model.lines[lid][1]
        if m != exclude and not state.supp[m] and model.value[m] == 0
    ]
    if not zeros:
        return None
    unpinned = [z for z in zeros if z not in model.parent_line or _parent_value(model, z) > 0]
    return (unpinned or zeros)[0]


def _smallest(model: _Model, cells: Iterable[int]) -> int | None:
    best = None
    for c in cells:
        key = (int(model.value[c]), int(c))
        if best is None or key < best:
            best = key
    return None if best is None else best[1]


def _complement(model: _Model, state: _State, lid: int) -> int | None:
    """Next cell to suppress on a line with exactly one suppressed cell."""
    t, ms = model.lines[lid]
    v = model.value
    pick = _smallest(model, (int(m) for m in ms if not state.supp[m] and v[m] > 0))
    if pick is None and not state.supp[t] and v[t] > 0:
        pick = int(t)
    return pick


def _sweep(model: _Model, state: _State, pass_no: int) -> int:
    """Secondary suppression by lines, iterated until no line has a single suppressed cell."""
    while True:
        pass_no += 1
        changed = 0
        # Suppressed cells per line, kept up to date as cells are marked during the sweep (lines
        # are visited in order, each seeing the marks made before it).
        count = (abs(model.eq_matrix) @ state.supp.astype(np.int64)).tolist()
        for lid in range(len(count)):
            if count[lid] != 1:
                continue
            pick = _complement(model, state, lid)
            if pick is not None and state.mark([pick], RULE_SECONDARY, pass_no):
                changed += 1
                for other in model.cell_lines[pick]:
                    count[other] += 1
        if not changed:
            return pass_no - 1


def _repair_candidate(model: _Model, state: _State, cell: int, interval: _Interval) -> int | None:
    """Cell to suppress next so that the failing ``cell`` gets a wider interval.

    Looks first at the relations that bind the LP optimum (non-zero duals), then at every relation
    of the cell, then outward through the suppressed cells it is linked with.
    """
    v = model.value
    attribute_line = state.attr_row.get(cell)

    def choose(lines: Iterable[int], ineqs: Iterable[int]) -> int | None:
        lines = sorted(set(lines))
        members = (int(m) for lid in lines for m in model.lines[lid][1])
        pick = _smallest(model, (m for m in members if not state.supp[m] and v[m] > 0))
        if pick is not None:
            return pick
        if attribute_line is not None and attribute_line in lines:
            pick = _attribute_companion(model, state, attribute_line, exclude=cell)
            if pick is not None:
                return pick
        totals = [int(model.lines[lid][0]) for lid in lines]
        totals += [int(c) for iid in ineqs for c in model.ineqs[iid]]
        return _smallest(model, (t for t in totals if not state.supp[t] and v[t] > 0))

    pick = choose(interval.binding_lines, interval.binding_ineqs)
    if pick is not None:
        return pick
    seen_cells = {cell}
    frontier = [cell]
    seen_lines: set[int] = set()
    seen_ineqs: set[int] = set()
    while frontier:
        lines = {lid for c in frontier for lid in model.cell_lines[c]} - seen_lines
        ineqs = {iid for c in frontier for iid in model.cell_ineqs[c]} - seen_ineqs
        pick = choose(lines, ineqs)
        if pick is not None:
            return pick
        seen_lines |= lines
        seen_ineqs |= ineqs
        linked = {int(m) for lid in lines for m in (*model.lines[lid][1], model.lines[lid][0])}
        linked |= {int(c) for iid in ineqs for c in model.ineqs[iid]}
        frontier = sorted(c for c in linked - seen_cells if state.supp[c])
        seen_cells |= set(frontier)
    return None


def _repair(
    model: _Model,
    rules: DisclosureRules,
    state: _State,
    pass_no: int,
    settled: Iterable[int] = (),
) -> int:
    """Add suppressions until the LP audit protects every sensitive cell.

    Suppressing more cells only turns known constants into unknowns, so a feasible interval can
    only widen: a cell once found protected stays protected and is not solved again. Each round
    screens the unsettled cells with :func:`_screen` (the audit's verdict, with fewer LPs) and
    fixes, per round, failures whose binding relations do not overlap.
    """
    cache: dict[tuple[int, ...], dict[int, _Interval | None]] = {}
    settled = {int(c) for c in settled}
    while True:
        targets = [
            int(t) for t in np.flatnonzero(state.supp & state.sensitive) if t not in settled
        ]
        intervals = _screen(model, state.supp, targets, state.attr_row, rules.min_count, cache)
        picks: list[int] = []
        touched: set[int] = set()
        unfixable = 0
        for t in targets:
            iv = intervals[t]
            if iv is None:
                settled.add(t)
                continue
            # Fix failures that do not interact in the same round; the others wait for the
            # next LP, since an earlier pick may already have widened them.
            involved = set(iv.binding_lines) or set(model.cell_lines[t])
            if involved & touched:
                continue
            pick = _repair_candidate(model, state, t, iv)
            if pick is None:
                unfixable += 1
                continue
            touched |= involved | set(model.cell_lines[pick])
            if pick not in picks:
                picks.append(pick)
        if not picks:
            if unfixable:
                logger.warning(
                    "%d sensitive cell(s) in groups %s cannot be protected further: nothing "
                    "linked to them is left to suppress",
                    unfixable,
                    list(model.groups),
                )
            return pass_no
        pass_no += 1
        state.mark(picks, RULE_SECONDARY, pass_no)
        pass_no = _sweep(model, state, pass_no)


def _protect_model(
    model: _Model,
    rules: DisclosureRules,
    attribute_rule: bool = True,
    forced: Iterable[int] = (),
) -> _State:
    state = _State.empty(model.size)
    _primary(model, rules, state)
    if attribute_rule:
        _attribute(model, rules, state)
    # Cells another table relates to: suppressed and then protected like primary cells (after
    # the population rule, which a forced denominator must not trigger).
    for cell in sorted(int(c) for c in forced):
        if state.mark([cell], RULE_LINKED, 0):
            state.sensitive[cell] = True
    if rules.secondary:
        pass_no = _sweep(model, state, 0)
        _repair(model, rules, state, pass_no)
    return state


def _extend(model: _Model, rules: DisclosureRules, state: _State, forced: Iterable[int]) -> None:
    """Add forced cells to a protected state and protect them, keeping every suppression made.

    Suppressing more cells only widens intervals, so the sensitive cells already protected stay
    protected: only the new ones are screened.
    """
    settled = np.flatnonzero(state.supp & state.sensitive).tolist()
    added = [c for c in sorted(int(c) for c in forced) if state.mark([c], RULE_LINKED, 0)]
    state.sensitive[added] = True
    if added and rules.secondary:
        pass_no = _sweep(model, state, int(state.pass_no.max(initial=0)))
        _repair(model, rules, state, pass_no, settled=settled)


def _cell_maps(
    norm: pd.DataFrame, models: Sequence[_Model], states: Sequence[_State]
) -> dict[str, np.ndarray]:
    """Per row of ``norm``: count suppressed/rule/pass, denominator suppressed/rule/pass."""
    size = len(norm)
    out = {
        "supp": np.zeros(size, dtype=bool),
        "rule": np.full(size, RULE_NONE, dtype=object),
        "pass": np.full(size, -1, dtype=np.int64),
        "dsupp": np.zeros(size, dtype=bool),
        "drule": np.full(size, RULE_NONE, dtype=object),
        "dpass": np.full(size, -1, dtype=np.int64),
    }
    model_of = {g: (m, s) for m, s in zip(models, states, strict=True) for g in m.groups}
    for i, (u, g, c) in enumerate(zip(norm["_u"], norm["_g"], norm["_c"], strict=True)):
        model, state = model_of[g]
        cell = model.code_cell[(u, g, c)]
        tot = model.total_of[u]
        out["supp"][i] = state.supp[cell]
        out["rule"][i] = state.rule[cell]
        out["pass"][i] = state.pass_no[cell]
        out["dsupp"][i] = state.supp[tot]
        out["drule"][i] = state.rule[tot]
        out["dpass"][i] = state.pass_no[tot]
    return out


def _log_frame(
    norm: pd.DataFrame, maps: Mapping[str, np.ndarray], keys: tuple[str, str, str]
) -> pd.DataFrame:
    unit_col, group_col, code_col = keys
    counts = norm.loc[maps["supp"]].assign(
        _cell=CELL_COUNT,
        _rule=maps["rule"][maps["supp"]],
        _pass=maps["pass"][maps["supp"]],
        _ord=1,
    )
    first = ~norm.duplicated(["_u", "_g"]).to_numpy()
    dmask = maps["dsupp"] & first
    dens = norm.loc[dmask].assign(
        _c=None,
        _ck=-1,
        _cell=CELL_DENOMINATOR,
        _rule=maps["drule"][dmask],
        _pass=maps["dpass"][dmask],
        _ord=0,
    )
    both = pd.concat([dens, counts], ignore_index=True)
    both = both.sort_values(["_uk", "_u", "_gk", "_g", "_ord", "_ck", "_c"], na_position="first")
    return pd.DataFrame(
        {
            unit_col: pd.array(both["_u"].tolist(), dtype="str"),
            group_col: pd.array(both["_g"].tolist(), dtype="str"),
            code_col: pd.array(both["_c"].tolist(), dtype="str"),
            "cell": pd.array(both["_cell"].tolist(), dtype="str"),
            "rule": pd.array(both["_rule"].tolist(), dtype="str"),
            "pass": both["_pass"].to_numpy(dtype=np.int64),
        }
    )


@dataclass
class _Prepared:
    """One table's validated counts and the linear models of its families."""

    frame: pd.DataFrame
    norm: pd.DataFrame
    hierarchy: pd.DataFrame
    additive: dict[str, bool]
    models: list[_Model]
    model_of_group: dict[str, int]


def _prepare(
    counts: pd.DataFrame,
    *,
    keys: tuple[str, str, str],
    measures: tuple[str, str],
    hierarchy: pd.DataFrame,
    additive_codes: bool | Mapping[str, bool],
) -> _Prepared:
    frame, norm = _normalise(counts, keys=keys, measures=measures)
    hier = _Hierarchy.from_frame(hierarchy)
    groups = norm.drop_duplicates("_g")["_g"].tolist()
    additive = _resolve_additive(additive_codes, groups)
    models = _build_models(norm, hier, additive)
    return _Prepared(
        frame=frame,
        norm=norm,
        hierarchy=hierarchy.loc[:, list(_HIERARCHY_COLUMNS)].copy(),
        additive=additive,
        models=models,
        model_of_group={g: i for i, m in enumerate(models) for g in m.groups},
    )


def _locate(prep: _Prepared, key: Sequence[Any], *, what: str) -> tuple[int, int]:
    """(model index, cell index) of a (unit, group, code) key; code None is the denominator."""
    return _locate_in(prep.models, prep.model_of_group, key, what=what)


def _locate_in(
    models: Sequence[_Model], model_of_group: Mapping[str, int], key: Sequence[Any], *, what: str
) -> tuple[int, int]:
    if isinstance(key, str) or len(key) != 3:
        raise ValueError(f"{what} {key!r} must be (unit, group, code); code None = total")
    u, g, c = (None if x is None else str(x) for x in key)
    mi = model_of_group.get(str(g))
    model = None if mi is None else models[mi]
    if model is None or u not in model.total_of:
        raise ValueError(f"{what} {tuple(key)!r} names a unit or group that is not in the table")
    if c is None:
        return mi, model.total_of[u]
    cell = model.code_cell.get((u, str(g), c))
    if cell is None:
        raise ValueError(f"{what} {tuple(key)!r} names a code that is not in the table")
    return mi, cell


def _forced_by_model(prep: _Prepared, forced: Iterable[Sequence[Any]]) -> list[frozenset[int]]:
    out: list[set[int]] = [set() for _ in prep.models]
    for key in forced:
        mi, cell = _locate(prep, key, what="forced cell")
        out[mi].add(cell)
    return [frozenset(s) for s in out]


def _assemble(
    prep: _Prepared,
    states: Sequence[_State],
    *,
    rules: DisclosureRules,
    keys: tuple[str, str, str],
    measures: tuple[str, str],
) -> ProtectedTable:
    norm, frame = prep.norm, prep.frame
    maps = _cell_maps(norm, prep.models, states)
    n_raw = norm["_n"].to_numpy()
    d_raw = norm["_d"].to_numpy()
    supp, dsupp = maps["supp"], maps["dsupp"]
    share_ok = ~supp & ~dsupp & (d_raw >= rules.min_denominator) & (d_raw > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = n_raw / np.where(d_raw > 0, d_raw, 1)
    rule = np.where(
        supp,
        maps["rule"],
        np.where((d_raw > 0) & (dsupp | (d_raw < rules.min_denominator)), RULE_DENOMINATOR, ""),
    )
    data = frame.assign(
        n_shown=pd.array(np.where(supp, 0, n_raw), dtype="Int64"),
        denominator_shown=pd.array(np.where(dsupp, 0, d_raw), dtype="Int64"),
        share=pd.array(np.where(share_ok, ratio, 0.0), dtype="Float64"),
        suppressed=supp.copy(),
        rule=pd.array(rule.tolist(), dtype="str"),
    )
    data["n_shown"] = data["n_shown"].mask(supp)
    data["denominator_shown"] = data["denominator_shown"].mask(dsupp)
    data["share"] = data["share"].mask(~share_ok)
    log = _log_frame(norm, maps, keys)
    logger.info(
        "disclosure control: %d of %d count cells suppressed (%s); %d denominators suppressed",
        int(supp.sum()),
        len(supp),
        ", ".join(f"{r}: {k}" for r, k in log["rule"].value_counts().sort_index().items()),
        int((log["cell"] == CELL_DENOMINATOR).sum()),
    )
    return ProtectedTable(
        data=data,
        rules=rules,
        log=log,
        keys=keys,
        measures=measures,
        hierarchy=prep.hierarchy.copy(),
        additive=MappingProxyType(dict(prep.additive)),
    )


def protect_linked(
    counts: pd.DataFrame,
    *,
    unit: str = "kommun",
    group: str = "variabel",
    code: str = "kod",
    n: str = "n",
    denominator: str = "denominator",
    hierarchy: pd.DataFrame,
    additive_codes: bool | Mapping[str, bool] = True,
    rules: DisclosureRules = DisclosureRules(),
    attribute_rule: bool = True,
    forced: Iterable[Sequence[Any]] = (),
) -> ProtectedTable:
    """Apply disclosure control to a linked set of count tables.

    ``attribute_rule=False`` turns off group attribute disclosure for tables whose codes are not
    attributes of the children, such as completeness (filled in / unknown / empty): "every
    registration has its sex recorded" reveals nothing about anyone.

    Parameters
    ----------
    counts
        Long form: one row per (unit, group, code) with the count ``n`` and the ``denominator`` of
        the unit x group (the same for every code). Units are municipality codes ("0180"), county
        codes ("01") and :data:`NATIONAL`. Every unit of a group lists every code of that group
        (zeros included). County and national rows must equal the sums of the units below them.
    unit, group, code, n, denominator
        Column names.
    hierarchy
        Columns ``kommun`` and ``lan``: which municipalities add up to which county; all counties
        add up to the nation. A county present in ``counts`` needs all of its municipalities, the
        nation needs all counties (or, for a county not shown, all of its municipalities).
    additive_codes
        Whether the codes of a group add up to its denominator (single-select variable). A bool for
        all groups or a mapping group -> bool (unlisted groups: True). Multi-select groups
        (False) are linked through the unit hierarchy only, with ``n <= denominator``.
    rules
        Thresholds; default :class:`DisclosureRules`.
    forced
        Cells to suppress whatever their value: (unit, group, code) keys, code ``None`` for the
        unit x group denominator. They are logged with rule ``"linked"`` (another table of the
        report relates to them, see :func:`protect_related`) and protected like primary cells:
        secondary suppression and the LP repair give each an interval at least ``min_count``
        wide. A forced cell that is suppressed anyway keeps its own rule. Empty: the result is
        the same as without the argument.

    Returns
    -------
    ProtectedTable
        Rows sorted by unit, group and code; ``log`` lists every suppressed cell.

    Notes
    -----
    Groups whose denominators agree in every unit are treated as one population: their unit
    totals are one shared cell, suppressed together. Secondary suppression first runs a line
    heuristic (a relation with exactly one suppressed cell gets its smallest non-zero published
    member suppressed, the total only when nothing else is left; ties by unit/code order), then
    repairs every sensitive cell that :func:`audit_lp` would fail, guided by the LP duals. The
    result is deterministic and independent of row order.

    Raises
    ------
    ValueError
        On missing or malformed columns, duplicated keys, unknown unit codes, incomplete linked
        sets, additivity relations that do not hold, or a forced key not in the table.
    """
    keys = (unit, group, code)
    measures = (n, denominator)
    prep = _prepare(
        counts, keys=keys, measures=measures, hierarchy=hierarchy, additive_codes=additive_codes
    )
    forced_cells = _forced_by_model(prep, forced)
    states = [
        _protect_model(m, rules, attribute_rule, f)
        for m, f in zip(prep.models, forced_cells, strict=True)
    ]
    return _assemble(prep, states, rules=rules, keys=keys, measures=measures)


# --------------------------------------------------------------------------------------------
# Audit and log
# --------------------------------------------------------------------------------------------


@dataclass
class _Published:
    """What one protected table publishes, as LP models: per family the model, the suppressed
    cells, the attribute cells (cell -> its code line) and the sensitive cells."""

    norm: pd.DataFrame
    models: list[_Model]
    supps: list[np.ndarray]
    attr_rows: list[dict[int, int]]
    sensitives: list[np.ndarray]
    rule_of: dict[tuple[str, str, str], str]
    drule_of: dict[tuple[str, str], str]


def _published(
    table: ProtectedTable,
    *,
    hierarchy: pd.DataFrame | None = None,
    additive_codes: bool | Mapping[str, bool] | None = None,
) -> _Published:
    k_unit, k_group, _ = table.keys
    n_col, d_col = table.measures
    hierarchy = table.hierarchy if hierarchy is None else hierarchy
    if hierarchy is None:
        raise ValueError("the table carries no hierarchy; pass hierarchy=")
    data = table.data
    base = data.drop(columns=list(_ADDED_COLUMNS))
    _, norm = _normalise(base, keys=table.keys, measures=table.measures)
    # Row order of table.data is already canonical, so norm rows align with data rows.
    shown = table.to_frame()
    n_hidden = shown[n_col].isna().to_numpy()
    d_hidden = shown[d_col].isna().to_numpy()
    rules = table.rules
    hier = _Hierarchy.from_frame(hierarchy)
    groups = norm.drop_duplicates("_g")["_g"].tolist()
    if additive_codes is None:
        additive = {g: bool(table.additive.get(g, True)) for g in groups}
    else:
        additive = _resolve_additive(additive_codes, groups)
    models = _build_models(norm, hier, additive)
    rule_of = dict(
        zip(
            zip(norm["_u"], norm["_g"], norm["_c"], strict=True),
            data["rule"].astype(str),
            strict=True,
        )
    )
    dlog = table.log.loc[table.log["cell"] == CELL_DENOMINATOR]
    drule_of = dict(
        zip(
            zip(dlog[k_unit].astype(str), dlog[k_group].astype(str), strict=True),
            dlog["rule"].astype(str),
            strict=True,
        )
    )
    supps, attr_rows, sensitives = [], [], []
    for model in models:
        supp = np.zeros(model.size, dtype=bool)
        sub = norm["_g"].isin(model.groups).to_numpy()
        for u, g, c, nh, dh in zip(
            norm.loc[sub, "_u"],
            norm.loc[sub, "_g"],
            norm.loc[sub, "_c"],
            n_hidden[sub],
            d_hidden[sub],
            strict=True,
        ):
            supp[model.code_cell[(u, g, c)]] |= bool(nh)
            supp[model.total_of[u]] |= bool(dh)
        attr_row = {
            cell: model.row_line[cell]
            for (u, g, c), cell in model.code_cell.items()
            if supp[cell] and rule_of.get((u, g, c)) == RULE_ATTRIBUTE and cell in model.row_line
        }
        # Cells forced by a related table are protected like primary cells (rule "linked").
        linked = [
            cell
            for (u, g, c), cell in model.code_cell.items()
            if supp[cell] and rule_of.get((u, g, c)) == RULE_LINKED
        ]
        linked += [
            model.total_of[u]
            for (u, g), r in drule_of.items()
            if r == RULE_LINKED and g in model.groups and supp[model.total_of[u]]
        ]
        v = model.value
        sensitive = ((v >= 1) & (v < rules.min_count)) | np.isin(
            np.arange(model.size), [*attr_row, *linked]
        )
        supps.append(supp)
        attr_rows.append(attr_row)
        sensitives.append(sensitive)
    return _Published(norm, models, supps, attr_rows, sensitives, rule_of, drule_of)


def _audit_rows(
    pub: _Published,
    mi: int,
    cells: Iterable[int],
    intervals: Mapping[int, _Interval],
    *,
    keys: tuple[str, str, str],
    min_count: int,
    tol: float,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Audit rows of model ``mi``'s suppressed ``cells`` (``intervals`` keyed by cell +
    ``offset``)."""
    k_unit, k_group, k_code = keys
    model = pub.models[mi]
    attr_row, sensitive = pub.attr_rows[mi], pub.sensitives[mi]
    rows: list[dict[str, Any]] = []
    for t in cells:
        t = int(t)
        iv = intervals[t + offset]
        required = float(min_count) if sensitive[t] else 0.0
        is_attr = t in attr_row
        protected = iv.protected(required, is_attr, min_count, tol)
        u = model.unit[t]
        if model.is_total[t]:
            cell_groups = [(g, None, pub.drule_of.get((u, g), "")) for g in model.groups]
        else:
            g, c = model.group[t], model.code[t]
            cell_groups = [(g, c, pub.rule_of.get((u, g, c), ""))]
        for g, c, r in cell_groups:
            rows.append(
                {
                    k_unit: u,
                    k_group: g,
                    k_code: c,
                    "cell": CELL_DENOMINATOR if model.is_total[t] else CELL_COUNT,
                    "rule": r,
                    "sensitive": bool(sensitive[t]),
                    "lower": iv.lower,
                    "upper": iv.upper,
                    "width": iv.upper - iv.lower,
                    "required_width": required,
                    "rest_upper": iv.rest_upper if is_attr else np.nan,
                    "protected": protected,
                }
            )
    return rows


_AUDIT_TYPES = {
    "cell": "str",
    "rule": "str",
    "sensitive": bool,
    "protected": bool,
    "lower": float,
    "upper": float,
    "width": float,
    "required_width": float,
    "rest_upper": float,
}


def _audit_frame(
    rows: list[dict[str, Any]], key_columns: Sequence[str], min_count: int
) -> AuditResult:
    *_, k_code = key_columns
    columns = [*key_columns, "cell", "rule", "sensitive", "lower", "upper", "width"]
    columns += ["required_width", "rest_upper", "protected"]
    cells = pd.DataFrame(rows, columns=columns)
    if len(cells):
        sort = [*key_columns[:-1], "cell", k_code]
        cells = cells.sort_values(sort, na_position="first")
    cells = cells.reset_index(drop=True).astype(
        {**{k: "str" for k in key_columns}, **_AUDIT_TYPES}
    )
    ok = bool(cells["protected"].all())
    if not ok:
        logger.warning(
            "LP audit: %d suppressed cell(s) are not protected", int((~cells["protected"]).sum())
        )
    return AuditResult(ok=ok, cells=cells, min_count=min_count)


def audit_lp(
    table: ProtectedTable,
    *,
    hierarchy: pd.DataFrame | None = None,
    additive_codes: bool | Mapping[str, bool] | None = None,
) -> AuditResult:
    """Audit a protected table by linear programming (the test oracle).

    Starts from what is published (:meth:`ProtectedTable.to_frame`): every shown count and
    denominator is known; every ``<NA>`` is unknown. For every suppressed cell, HiGHS minimises
    and maximises the cell subject to: codes add up to the denominator (additive groups) or are
    at most the denominator (multi-select groups); municipalities add up to their county and
    counties (or, for a county not shown, its municipalities) to the nation, for every group and
    code and for the denominators; all cells non-negative. One LP per connected component of
    suppressed cells within a linked set (independent subproblems, same intervals), built once
    and re-solved per objective from the previous optimal basis. A bound is taken without an LP
    of its own only where it is provably exact: the minimum is 0 when a feasible point already
    seen puts the cell at 0, the maximum is the non-negativity cap (a published total minus its
    published members) when a feasible point already reaches it.

    Criterion (tau-Argus / sdcTable "protection interval"): a *sensitive* cell -- value in
    ``1 .. min_count - 1``, or flagged by the attribute rule -- is protected when
    ``upper - lower >= rules.min_count``: the intruder's interval contains at least
    ``min_count + 1`` whole numbers, so it reaches ``min_count`` or beyond and the cell cannot be
    shown to be a small count. An attribute cell also needs ``rest_upper >= min_count``: the rest
    of its row (denominator minus the cell) may be that large, so nobody can prove that everyone
    shares the outcome. Secondary cells and suppressed zeros are not confidential themselves
    (required width 0); their intervals are reported.

    Parameters
    ----------
    table
        Output of :func:`protect_linked`.
    hierarchy, additive_codes
        Override the linked set stored in ``table`` (e.g. to audit against a stricter assumption).

    Returns
    -------
    AuditResult
    """
    pub = _published(table, hierarchy=hierarchy, additive_codes=additive_codes)
    rows: list[dict[str, Any]] = []
    for mi, model in enumerate(pub.models):
        supp = pub.supps[mi]
        targets = np.flatnonzero(supp)
        intervals = _intervals(model, supp, targets, pub.attr_rows[mi])
        rows += _audit_rows(
            pub,
            mi,
            targets,
            intervals,
            keys=table.keys,
            min_count=table.rules.min_count,
            tol=_tolerance(model),
        )
    return _audit_frame(rows, list(table.keys), table.rules.min_count)


# --------------------------------------------------------------------------------------------
# Relations between the tables of one report
# --------------------------------------------------------------------------------------------

TableCell = tuple[str, str, str, "str | None"]
"""A cell of one of a report's tables: (table, unit, group, code); code ``None`` = denominator."""

_Ref = tuple[int, int, int]  # (table index, model index, cell index)


def _as_table_cell(cell: Sequence[Any]) -> tuple[str, str, str, str | None]:
    if isinstance(cell, str) or len(cell) != 4:
        raise ValueError(
            f"a related cell must be (table, unit, group, code) with code None for the "
            f"denominator, got {cell!r}"
        )
    t, u, g, c = cell
    return str(t), str(u), str(g), None if c is None else str(c)


@dataclass(frozen=True)
class Relation:
    """An exact linear relation between cells of the protected tables of one report.

    ``sum(total) == sum(parts)`` for the raw counts, e.g. the goal attainment of each
    intervention type adding up to the goal attainment of all registrations in the main table:
    ``Relation(total=("main", "2281", "maluppfyllelse", "helt"), parts=[("outcomes", "2281",
    "maluppfyllelse_helt:hvb", "helt"), ...])``. ``total`` is one cell or a sequence of cells;
    each cell is ``(table, unit, group, code)`` with code ``None`` for the unit x group
    denominator. Declare only relations that hold by definition (:func:`check_relations` tests
    them on the raw counts); :func:`protect_related` keeps each of them with at least two
    unknowns.
    """

    total: Any
    parts: Any

    def __post_init__(self) -> None:
        total = self.total
        single = isinstance(total, tuple | list) and len(total) == 4 and isinstance(total[0], str)
        totals = (total,) if single else tuple(total)
        totals = tuple(_as_table_cell(c) for c in totals)
        parts = tuple(_as_table_cell(c) for c in self.parts)
        if not totals or not parts:
            raise ValueError("a relation needs at least one total cell and one part")
        if len(set(totals + parts)) != len(totals) + len(parts):
            raise ValueError(f"a relation names the same cell twice: {totals} = {parts}")
        object.__setattr__(self, "total", totals)
        object.__setattr__(self, "parts", parts)

    @property
    def cells(self) -> tuple[tuple[str, str, str, str | None], ...]:
        return (*self.total, *self.parts)


def _raw_values(
    counts: pd.DataFrame, keys: tuple[str, str, str], measures: tuple[str, str]
) -> dict[tuple[str, str, str | None], int]:
    unit, group, code = keys
    n, d = measures
    u = counts[unit].astype(str).tolist()
    g = counts[group].astype(str).tolist()
    c = counts[code].astype(str).tolist()
    out: dict[tuple[str, str, str | None], int] = dict(
        zip(zip(u, g, c, strict=True), counts[n].astype("int64").tolist(), strict=True)
    )
    dens = counts[d].astype("int64").tolist()
    out.update(zip(zip(u, g, [None] * len(u), strict=True), dens, strict=True))
    return out


def check_relations(
    counts: Mapping[str, pd.DataFrame],
    relations: Iterable[Relation],
    *,
    unit: str = "kommun",
    group: str = "variabel",
    code: str = "kod",
    n: str = "n",
    denominator: str = "denominator",
) -> list[bool]:
    """Whether each relation holds on the raw counts (``counts``: table name -> counts in
    :func:`protect_linked` form). A relation naming a cell that is not in its table raises
    ``ValueError``."""
    keys, measures = (unit, group, code), (n, denominator)
    values = {name: _raw_values(frame, keys, measures) for name, frame in counts.items()}

    def value(cell: tuple[str, str, str, str | None]) -> int:
        t, u, g, c = cell
        table = values.get(t)
        if table is None or (u, g, c) not in table:
            raise ValueError(f"related cell {cell!r} is not in the tables {sorted(values)}")
        return table[(u, g, c)]

    return [sum(value(c) for c in r.total) == sum(value(c) for c in r.parts) for r in relations]


_Resolved = tuple[tuple[_Ref, ...], tuple[_Ref, ...], tuple[float, ...]]


def _resolve(
    preps: Sequence[_Prepared], names: Sequence[str], relations: Iterable[Relation]
) -> list[_Resolved]:
    """Relations as model cells: (totals, parts, coefficients of totals + parts). Groups of one
    population share their denominator cell, so a cell named twice gets the summed coefficient.
    """
    index = {name: i for i, name in enumerate(names)}
    out = []
    for r in relations:
        coef: dict[_Ref, float] = {}
        for side, sign in ((r.total, -1.0), (r.parts, 1.0)):
            for t, u, g, c in side:
                if t not in index:
                    raise ValueError(f"a relation names table {t!r}, not among {list(names)}")
                ti = index[t]
                mi, cell = _locate(preps[ti], (u, g, c), what=f"related cell of table {t!r}")
                coef[(ti, mi, cell)] = coef.get((ti, mi, cell), 0.0) + sign
        totals = tuple(ref for ref, a in coef.items() if a < 0)
        parts = tuple(ref for ref, a in coef.items() if a > 0)
        if totals or parts:
            out.append((totals, parts, tuple(coef[ref] for ref in (*totals, *parts))))
    return out


def _relation_picks(
    resolved: Sequence[_Resolved],
    is_supp: Any,
    value: Any,
) -> list[_Ref]:
    """Cells to force so that no relation has exactly one unknown.

    Relations are visited in order; a cell picked for one relation counts as unknown for the
    relations after it. The pick is the smallest non-zero published part (ties: relation order),
    else the smallest non-zero published total, else the first published zero.
    """
    picked: set[_Ref] = set()
    out: list[_Ref] = []
    for totals, parts, _ in resolved:
        unknown = sum(1 for c in (*totals, *parts) if c in picked or is_supp(c))
        if unknown != 1:
            continue
        pick = None
        for side in (parts, totals):
            shown = [
                (value(c), i, c)
                for i, c in enumerate(side)
                if c not in picked and not is_supp(c) and value(c) > 0
            ]
            if shown:
                pick = min(shown)[2]
                break
        if pick is None:  # everything published is zero: hide a zero rather than give it away
            pick = next(c for c in (*parts, *totals) if c not in picked and not is_supp(c))
        picked.add(pick)
        out.append(pick)
    return out


def _per_table(value: Any, names: Sequence[str], default: Any) -> dict[str, Any]:
    """A per-table argument: a mapping table name -> value (unlisted: ``default``) or one value
    for every table."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"per-table argument names unknown table(s) {unknown}")
        return {name: value.get(name, default) for name in names}
    return dict.fromkeys(names, default if value is None else value)


def _lp_picks(
    preps: Sequence[_Prepared],
    states: Sequence[Sequence[_State]],
    resolved: Sequence[_Resolved],
    rules: DisclosureRules,
    settled: set[_Ref],
) -> list[_Ref]:
    """Cells to force so that the LP over all tables and relations protects every sensitive cell.

    Only components of suppressed cells that a relation joins are screened: every other
    component is the one its own table's repair already passed. For each failing cell, the
    smallest non-zero published cell of the relations binding its optimum (else of every relation
    holding it) is forced; one pick per component and round. ``settled`` holds the cells found
    protected in earlier rounds: suppressions only accumulate, so they stay protected.
    """
    refs = [(ti, mi) for ti, p in enumerate(preps) for mi in range(len(p.models))]
    flat = {ref: i for i, ref in enumerate(refs)}
    models = [preps[ti].models[mi] for ti, mi in refs]
    off = np.cumsum([0, *(m.size for m in models)]).tolist()
    extra = [
        (
            np.array([off[flat[(ti, mi)]] + c for ti, mi, c in (*tot, *parts)], dtype=np.int64),
            np.array(coefs, dtype=np.float64),
        )
        for tot, parts, coefs in resolved
    ]
    combined, cell_off, line_off = _combine(models, extra)
    flat_states = [states[ti][mi] for ti, mi in refs]
    supp = np.concatenate([st.supp for st in flat_states])
    sensitive = np.concatenate([st.sensitive for st in flat_states])
    attr_row = {
        c + cell_off[i]: lid + line_off[i]
        for i, st in enumerate(flat_states)
        for c, lid in st.attr_row.items()
    }
    related = np.zeros(combined.size, dtype=bool)
    for cols, _ in extra:
        related[cols] = True
    comps = _components(combined, supp)
    joined = [cells for cells in comps.values() if (related[cells] & supp[cells]).any()]
    ref_of = np.repeat(np.arange(len(refs)), np.diff(cell_off))

    def ref(c: int) -> _Ref:
        i = int(ref_of[c])
        return (*refs[i], c - cell_off[i])

    targets = [
        int(t) for cells in joined for t in cells if sensitive[t] and ref(int(t)) not in settled
    ]
    if not targets:
        return []
    verdicts = _screen(combined, supp, targets, attr_row, rules.min_count, {})
    settled.update(ref(t) for t in targets if verdicts[t] is None)
    logger.info(
        "cross-table LP stage: %d sensitive cell(s) screened, %d too narrow",
        len(targets),
        sum(verdicts[t] is not None for t in targets),
    )
    owner = {int(t): root for root, cells in comps.items() for t in cells}
    eq = combined.eq_matrix
    eq_cols = combined.eq_by_cell
    value = combined.value
    picks: list[int] = []
    done: set[int] = set()
    for t in sorted(targets):
        iv = verdicts[t]
        if iv is None or owner[t] in done:
            continue
        rows = list(iv.binding_lines) or eq_cols[:, [t]].indices.tolist()
        cand = {int(c) for r in rows for c in eq[[r], :].indices}
        shown = [(int(value[c]), c) for c in cand if not supp[c] and value[c] > 0]
        if not shown:  # fall back to every relation holding the cell
            rows = eq_cols[:, [t]].indices.tolist()
            cand = {int(c) for r in rows for c in eq[[r], :].indices}
            shown = [(int(value[c]), c) for c in cand if not supp[c] and value[c] > 0]
        if shown:
            picks.append(min(shown)[1])
            done.add(owner[t])
        else:
            logger.warning(
                "cross-table protection: a sensitive cell of groups %s cannot be protected "
                "further through the relations (nothing published is left to force)",
                str(combined.group[t]),
            )
    return [ref(c) for c in sorted(set(picks))]


def protect_related(
    counts: Mapping[str, pd.DataFrame],
    *,
    relations: Iterable[Relation],
    hierarchy: pd.DataFrame,
    additive_codes: Mapping[str, bool | Mapping[str, bool]] | None = None,
    attribute_rule: bool | Mapping[str, bool] = True,
    rules: DisclosureRules = DisclosureRules(),
    unit: str = "kommun",
    group: str = "variabel",
    code: str = "kod",
    n: str = "n",
    denominator: str = "denominator",
    max_rounds: int = 50,
    audit: bool = True,
) -> dict[str, ProtectedTable]:
    """Protect the tables of one report together, across the relations between them.

    Each table is protected by :func:`protect_linked` (its own linked set). Then, round by
    round, every relation with exactly one unknown cell (a suppressed total with all parts
    published, or a published total with exactly one part suppressed) gets one more cell
    forced (rule ``"linked"``, protected like a primary cell, as :func:`protect_linked`'s
    ``forced``): the smallest non-zero published part, else the total, ties by relation order.
    The families with new forced cells are protected further from where they stood (line
    heuristic and LP repair for the new cells; no suppression is ever removed), until no
    relation has exactly one unknown. With ``audit`` (the default) the LP of :func:`audit_related` is then solved over
    the components of suppressed cells that a relation joins, and for every sensitive cell whose
    interval is too narrow (several relations together can pin it, e.g. the parts' denominators
    minus another code's parts) the smallest non-zero published cell of the relations binding
    its optimum is forced, and the loop goes on. Forced cells only accumulate, so the loop ends;
    it raises ``RuntimeError`` if it needs more than ``max_rounds`` rounds. Without relations
    the result equals :func:`protect_linked` per table.

    The first stage alone removes exact recomputation through any single declared relation;
    with ``audit`` the result passes :func:`audit_related`. Relations that are not declared
    (inequalities, other reports, other periods) are not covered.

    Parameters
    ----------
    counts
        Table name -> counts in :func:`protect_linked` form (the same column names throughout).
    relations
        :class:`Relation` objects naming cells of these tables; each must hold on the raw counts.
    hierarchy, rules, unit, group, code, n, denominator
        As in :func:`protect_linked`, shared by all tables.
    additive_codes
        Table name -> ``additive_codes`` of :func:`protect_linked` (unlisted tables: True).
    attribute_rule
        A bool for all tables or table name -> bool.
    max_rounds
        Rounds of forcing allowed before giving up.
    audit
        Also force cells until the LP over the tables and relations passes (see above).

    Returns
    -------
    dict
        Table name -> :class:`ProtectedTable`, in the order of ``counts``.
    """
    names = list(counts)
    keys, measures = (unit, group, code), (n, denominator)
    relations = list(relations)
    additive = _per_table(additive_codes, names, True)
    attribute = _per_table(attribute_rule, names, True)
    holds = check_relations(
        counts, relations, unit=unit, group=group, code=code, n=n, denominator=denominator
    )
    if not all(holds):
        bad = relations[holds.index(False)]
        raise ValueError(
            f"{holds.count(False)} relation(s) do not hold on the raw counts, e.g. "
            f"{bad.total} = {bad.parts}; declare only relations that hold by definition"
        )
    preps = [
        _prepare(
            counts[name],
            keys=keys,
            measures=measures,
            hierarchy=hierarchy,
            additive_codes=additive[name],
        )
        for name in names
    ]
    resolved = _resolve(preps, names, relations)
    states = [
        [_protect_model(m, rules, attribute[name]) for m in p.models]
        for name, p in zip(names, preps, strict=True)
    ]

    def is_supp(ref: _Ref) -> bool:
        return bool(states[ref[0]][ref[1]].supp[ref[2]])

    def value(ref: _Ref) -> int:
        return int(preps[ref[0]].models[ref[1]].value[ref[2]])

    rounds = 0
    settled: set[_Ref] = set()
    while True:
        picks = _relation_picks(resolved, is_supp, value)
        if not picks and audit and resolved and rules.secondary:
            picks = _lp_picks(preps, states, resolved, rules, settled)
        if not picks:
            break
        rounds += 1
        if rounds > max_rounds:
            raise RuntimeError(
                f"cross-table protection did not converge in {max_rounds} rounds: "
                f"{len(picks)} cell(s) would still need forcing"
            )
        new: dict[tuple[int, int], list[int]] = {}
        for ti, mi, cell in picks:
            new.setdefault((ti, mi), []).append(cell)
        changed = sorted(new)
        for ti, mi in changed:
            _extend(preps[ti].models[mi], rules, states[ti][mi], new[(ti, mi)])
        logger.info(
            "cross-table protection, round %d: %d cell(s) forced in %d family(ies)",
            rounds,
            len(picks),
            len(changed),
        )
    return {
        name: _assemble(p, st, rules=rules, keys=keys, measures=measures)
        for name, p, st in zip(names, preps, states, strict=True)
    }


def _combine(
    models: Sequence[_Model], extra: Sequence[tuple[np.ndarray, np.ndarray]]
) -> tuple[_Model, list[int], list[int]]:
    """One model holding ``models`` side by side plus the ``extra`` equality rows (columns and
    coefficients in combined cell numbers). Only what the audit LPs use is filled in."""
    cell_off = np.cumsum([0, *(m.size for m in models)]).tolist()
    line_off = np.cumsum([0, *(len(m.lines) for m in models)]).tolist()
    ineq_off = np.cumsum([0, *(len(m.ineqs) for m in models)]).tolist()
    size = cell_off[-1]

    def stack(mats: list[sparse.csr_array], offs: list[int], rows: int, extra_rows=()) -> Any:
        r, c, d = [], [], []
        for mat, co, ro in zip(mats, cell_off, offs, strict=False):
            coo = mat.tocoo()
            r.append(coo.row + ro)
            c.append(coo.col + co)
            d.append(coo.data)
        for i, (cols, coefs) in enumerate(extra_rows):
            r.append(np.full(len(cols), rows + i))
            c.append(np.asarray(cols, dtype=np.int64))
            d.append(np.asarray(coefs, dtype=np.float64))
        shape = (rows + len(extra_rows), size)
        if not r:
            return sparse.csr_array(shape)
        return sparse.csr_array(
            (np.concatenate(d), (np.concatenate(r), np.concatenate(c))), shape=shape
        )

    eq = stack([m.eq_matrix for m in models], line_off, line_off[-1], extra)
    ub = stack([m.ub_matrix for m in models], ineq_off, ineq_off[-1])
    lines = [
        (int(t) + co, ms + co)
        for m, co in zip(models, cell_off, strict=False)
        for t, ms in m.lines
    ]
    for cols, coefs in extra:
        cols, coefs = np.asarray(cols), np.asarray(coefs)
        lines.append((int((cols[coefs < 0] if (coefs < 0).any() else cols)[0]), cols[coefs > 0]))
    model = _Model(
        groups=tuple(g for m in models for g in m.groups),
        unit=np.concatenate([m.unit for m in models]) if models else np.zeros(0, dtype=object),
        group=np.concatenate([m.group for m in models]) if models else np.zeros(0, dtype=object),
        code=np.concatenate([m.code for m in models]) if models else np.zeros(0, dtype=object),
        is_total=np.concatenate([m.is_total for m in models]) if models else np.zeros(0, bool),
        value=np.concatenate([m.value for m in models]) if models else np.zeros(0, np.int64),
        total_of={},
        code_cell={},
        lines=lines,
        ineqs=[
            (a + co, b + co) for m, co in zip(models, cell_off, strict=False) for a, b in m.ineqs
        ],
        row_line={},
        parent_line={},
        cell_lines=[],
        cell_ineqs=[],
        eq_matrix=eq,
        ub_matrix=ub,
        eq_by_cell=eq.tocsc(),
        ub_by_cell=ub.tocsc(),
    )
    return model, cell_off, line_off


def audit_related(
    tables: Mapping[str, ProtectedTable],
    relations: Iterable[Relation],
    *,
    only_related: bool = False,
) -> AuditResult:
    """LP audit of a report's protected tables together with the relations between them.

    The same criterion as :func:`audit_lp`, over one system: every table's own relations (codes,
    hierarchy, shared populations), every :class:`Relation` as an equality, non-negativity, and
    everything the tables publish. Cells forced by a relation (rule ``"linked"``) count as
    sensitive. ``cells`` has a ``table`` column first. The tables must share key names and rules.
    Slower than :func:`audit_lp` on large tables (the relations join components); it is the test
    oracle of :func:`protect_related`. ``only_related`` audits only the suppressed cells of
    components that a relation joins (the others have the intervals :func:`audit_lp` gives).
    """
    names = list(tables)
    if not names:
        raise ValueError("no tables to audit")
    first = tables[names[0]]
    for name in names[1:]:
        if tables[name].keys != first.keys or tables[name].rules != first.rules:
            raise ValueError("audit_related needs tables with the same key columns and rules")
    pubs = [_published(tables[name]) for name in names]
    models = [m for p in pubs for m in p.models]
    model_base = np.cumsum([0, *(len(p.models) for p in pubs)]).tolist()
    index = {name: i for i, name in enumerate(names)}
    group_maps = [{g: i for i, m in enumerate(p.models) for g in m.groups} for p in pubs]
    extra_refs = []
    for r in relations:
        row: list[tuple[int, int, float]] = []  # (table, model, cell) later offset
        for side, coef in ((r.total, -1.0), (r.parts, 1.0)):
            for t, u, g, c in side:
                if t not in index:
                    raise ValueError(f"a relation names table {t!r}, not among {names}")
                mi, cell = _locate_in(
                    pubs[index[t]].models,
                    group_maps[index[t]],
                    (u, g, c),
                    what=f"related cell of table {t!r}",
                )
                row.append((model_base[index[t]] + mi, cell, coef))
        extra_refs.append(row)
    cell_off = np.cumsum([0, *(m.size for m in models)]).tolist()
    extra = [
        (
            np.array([cell_off[mi] + cell for mi, cell, _ in row], dtype=np.int64),
            np.array([coef for *_, coef in row]),
        )
        for row in extra_refs
    ]
    combined, cell_off, line_off = _combine(models, extra)
    supp = np.concatenate([s for p in pubs for s in p.supps])
    attr_row = {
        cell + cell_off[model_base[ti] + mi]: lid + line_off[model_base[ti] + mi]
        for ti, p in enumerate(pubs)
        for mi, rows in enumerate(p.attr_rows)
        for cell, lid in rows.items()
    }
    targets = np.flatnonzero(supp)
    if only_related:
        related = np.zeros(combined.size, dtype=bool)
        for cols, _ in extra:
            related[cols] = True
        keep = np.zeros(combined.size, dtype=bool)
        for cells in _components(combined, supp).values():
            if related[cells].any():
                keep[cells] = True
        targets = np.flatnonzero(supp & keep)
    intervals = _intervals(combined, supp, targets, attr_row)
    tol = _tolerance(combined)
    chosen = np.zeros(combined.size, dtype=bool)
    chosen[targets] = True
    rows: list[dict[str, Any]] = []
    for ti, p in enumerate(pubs):
        for mi in range(len(p.models)):
            off = cell_off[model_base[ti] + mi]
            cells = np.flatnonzero(p.supps[mi] & chosen[off : off + p.models[mi].size])
            part = _audit_rows(
                p,
                mi,
                cells,
                intervals,
                keys=first.keys,
                min_count=first.rules.min_count,
                tol=tol,
                offset=off,
            )
            rows += [{"table": names[ti], **r} for r in part]
    return _audit_frame(rows, ["table", *first.keys], first.rules.min_count)


def suppression_log(table: ProtectedTable) -> pd.DataFrame:
    """Machine-readable suppression log: unit, group, code, cell, rule, pass (no raw values).

    Sorted by unit, group, cell (denominator first) and code, in the table's order.
    """
    return table.log.copy()


def write_suppression_log(table: ProtectedTable, path: str | os.PathLike[str]) -> Path:
    """Write :func:`suppression_log` as UTF-8 CSV, atomically (temporary file, then rename).

    The file holds no raw counts, so it may accompany a report. Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = suppression_log(table).to_csv(index=False, lineterminator="\n")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("wrote suppression log %s (%d cells)", path, len(table.log))
    return path
