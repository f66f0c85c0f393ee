"""Follow-up analysis: descriptives, completeness, durations, outcomes and trends.

Pure functions over the tidy analysis frames, vectorised over reporting units: every function
counts once per municipality with ``groupby`` and adds the county, municipality-group and national
rows by summing (or, for net counts, de-duplicating) through one municipality -> unit lookup
(:func:`unit_map`). Nothing loops over municipalities or re-reads data.

Frames
------
* **registrations** -- :func:`workbench.dataset.load_registrations`: one row per follow-up or
  ending registration, with the intervention's and the child's columns joined on.
* **interventions** -- :func:`load_interventions`: one row per intervention with the child's
  columns and the date of its first registration (for durations).

Output
------
Long (tidy) tables with the columns ``niva`` (``kommun``, ``lan``, ``kommungrupp`` or
``riket``), ``enhet`` (unit code; ``"0000"`` for the nation), ``period`` (``"2019"`` or
``"2016–2025"``), ``ar`` (the year, ``<NA>`` on whole-period rows), any grouping columns,
``variabel``, ``kod``, ``n``, ``namnare`` (denominator), ``andel`` (share) with its 95 % Wilson
interval ``ci_low`` / ``ci_high``, and ``raknas``: what is counted (``registreringar``,
``insatser``, ``barn`` or ``utredningar``). Counting registrations is *gross* (a child with three
registrations counts three times); counting ``insatser`` or ``barn`` is *net*: each intervention or
child counts once per code, so for net counts the codes of a single-code variable can add up to
more than the denominator (a child can have a family home and an HVB placement in one year;
DOMAIN.md §5).

The numbers are unprotected (private zone). Anything published passes
:mod:`workbench.disclosure` first; see :mod:`workbench.views_analysis`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench import stats
from workbench.catalogue import Catalogue, Variable, code_order, load_catalogue
from workbench.municipalities import NATIONAL, list_municipalities

__all__ = [
    "COUNTED_SV",
    "DAYS_PER_MONTH",
    "DEFAULT_LEVELS",
    "INVESTIGATION_DAYS",
    "KKIK_AGE_BANDS",
    "LEVELS",
    "add_first_registration",
    "completeness",
    "describe",
    "endings",
    "goal_attainment",
    "indicator_trends",
    "intervention_durations",
    "investigation_times",
    "kkik_age_band",
    "load_interventions",
    "period_label",
    "rereferral",
    "tabulate",
    "time_to_follow_up",
    "unit_map",
]

logger = logging.getLogger(__name__)

Level = Literal["kommun", "lan", "kommungrupp", "riket"]
Counted = Literal["registreringar", "insatser", "barn"]

LEVELS: tuple[str, ...] = ("kommun", "lan", "kommungrupp", "riket")
"""Reporting levels, from municipality to nation."""
DEFAULT_LEVELS: tuple[str, ...] = ("kommun", "lan", "riket")
"""Levels used when none are given (the municipality group needs a lookup, see :func:`unit_map`)."""

ID_COLUMN: dict[str, str] = {
    "registreringar": "registrering_id",
    "insatser": "insats_id",
    "barn": "barn_id",
}
COUNTED_SV: dict[str, str] = {
    "registreringar": "registreringar (brutto: ett barn kan ha flera registreringar)",
    "insatser": "insatser (netto: varje insats räknas en gång)",
    "barn": "barn (netto: varje barn räknas en gång)",
    "utredningar": "utredningar (en per insats)",
}
"""What a table counts, in Swedish, keyed by the ``raknas`` value."""

INVESTIGATION_DAYS = 120
"""Investigation time limit: four months, counted as 120 days (inclusive)."""
DAYS_PER_MONTH = 365.25 / 12
"""Days in an average month, for durations reported in months."""
KKIK_AGE_BANDS: dict[str, tuple[int, int]] = {"0-12": (0, 12), "13-20": (13, 20)}
"""Age bands of the KKiK re-referral measure (age at the ending), reported separately."""

GOAL_CODES = ("helt", "ej_helt")
ENDING_CODES = ("planerat", "annat_oplanerat", "sammanbrott")
BOOLEAN_CODES = ("ja", "nej")

_UNIT_COLS = ["niva", "enhet"]
_LEVEL_ORDER = {lv: i for i, lv in enumerate(LEVELS)}
_DASH = "–"


# --------------------------------------------------------------------------------------------
# Units and periods
# --------------------------------------------------------------------------------------------


def unit_map(
    levels: Sequence[str] = DEFAULT_LEVELS,
    *,
    groups: Mapping[str, str] | pd.Series | None = None,
) -> pd.DataFrame:
    """Municipality -> reporting unit lookup: one row per municipality and level.

    Parameters
    ----------
    levels
        Any of ``"kommun"``, ``"lan"``, ``"kommungrupp"`` and ``"riket"``.
    groups
        Municipality code -> group code, needed for ``"kommungrupp"`` unless
        ``data/reference/municipalities.csv`` has a ``municipality_group`` column (e.g. SKR's
        *kommungruppsindelning*, which is not shipped with the project; DOMAIN.md §4).

    Returns
    -------
    pandas.DataFrame
        Columns ``kommun``, ``niva``, ``enhet`` (all ``str``).
    """
    m = list_municipalities()
    codes = m["municipality_code"].astype("str")
    frames = []
    for level in levels:
        if level == "kommun":
            unit = codes
        elif level == "lan":
            unit = m["county_code"].astype("str")
        elif level == "riket":
            unit = pd.Series(NATIONAL, index=m.index, dtype="str")
        elif level == "kommungrupp":
            if groups is None and "municipality_group" in m.columns:
                lookup = dict(zip(codes, m["municipality_group"].astype("str"), strict=True))
            elif groups is None:
                raise ValueError(
                    "level 'kommungrupp' needs a municipality -> group lookup: pass "
                    "groups={kommunkod: gruppkod} (e.g. SKR's kommungruppsindelning) or add a "
                    "'municipality_group' column to data/reference/municipalities.csv; "
                    "see workbench.list_municipalities()"
                )
            else:
                lookup = {str(k): str(v) for k, v in dict(groups).items()}
            unit = codes.map(lookup)
            missing = int(unit.isna().sum())
            if missing:
                raise ValueError(
                    f"the municipality-group lookup lacks {missing} municipality code(s); "
                    "every code of workbench.list_municipalities() needs a group"
                )
        else:
            raise ValueError(f"unknown level {level!r}; choose among {list(LEVELS)}")
        frames.append(
            pd.DataFrame({"kommun": codes.to_numpy(), "niva": level, "enhet": unit.to_numpy()})
        )
    if not frames:
        raise ValueError("at least one level is needed, e.g. levels=('kommun', 'riket')")
    return pd.concat(frames, ignore_index=True).astype("str")


def period_label(years: tuple[int, int]) -> str:
    """``(2016, 2025) -> "2016–2025"``; one year gives ``"2016"``."""
    a, b = int(years[0]), int(years[1])
    return str(a) if a == b else f"{a}{_DASH}{b}"


def _years_of(col: pd.Series, years: tuple[int, int] | None) -> tuple[int, int] | None:
    present = pd.to_numeric(col, errors="coerce").dropna()
    if years is not None:
        return int(years[0]), int(years[1])
    if present.empty:
        return None
    return int(present.min()), int(present.max())


def _year_keys(
    base: pd.DataFrame, year: pd.Series, years: tuple[int, int] | None, by_year: bool
) -> pd.DataFrame:
    """Rows of ``base`` with a ``period`` column: one copy per year, one for the whole period.

    Rows outside ``years`` or without a year are dropped.
    """
    y = pd.to_numeric(year, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    span = _years_of(year, years)
    if span is None:
        return base.iloc[:0].assign(period=pd.Series(dtype="str"))
    keep = ~np.isnan(y) & (y >= span[0]) & (y <= span[1])
    part = base.loc[keep]
    label = period_label(span)
    years_list = [str(v) for v in range(span[0], span[1] + 1)]
    # categorical keys: grouping on codes is much faster than on strings
    categories = [*years_list, label] if label not in years_list else years_list
    codes_year = (y[keep] - span[0]).astype("int64")
    frames = []
    if by_year and span[0] != span[1]:
        frames.append(part.assign(period=pd.Categorical.from_codes(codes_year, categories)))
    whole = np.full(len(part), categories.index(label), dtype="int64")
    frames.append(part.assign(period=pd.Categorical.from_codes(whole, categories)))
    return pd.concat(frames, ignore_index=True)


def _year_column(period: pd.Series) -> pd.Series:
    """``ar``: the year of one-year periods, ``<NA>`` for multi-year periods."""
    p = period.astype("str")
    single = p.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    return pd.to_numeric(p.where(single), errors="coerce").astype("Int64")


def _order_values(col: pd.Series) -> pd.Series:
    """Sort key of a grouping column: catalogue code order for catalogue variables."""
    cat = load_catalogue()
    name = str(col.name)
    if name in cat.variables and cat.variable(name).type in ("code", "boolean"):
        order = {c: i for i, c in enumerate(code_order(name))}
        return col.map(order).fillna(len(order)).astype("int64")
    if name == "aldersgrupp_kkik":
        return col.map({b: i for i, b in enumerate(KKIK_AGE_BANDS)}).fillna(99).astype("int64")
    return col


def _sort_units(out: pd.DataFrame, first: Sequence[str], rest: Sequence[str]) -> pd.DataFrame:
    """Sort by level order, unit, then period (years before the whole period), ``first`` (in
    catalogue code order) and ``rest``."""
    if out.empty:
        return out.reset_index(drop=True)
    key = pd.DataFrame(
        {
            "_l": out["niva"].map(_LEVEL_ORDER).to_numpy(),
            "_u": out["enhet"].to_numpy(),
            "_y": out["ar"].fillna(99999).to_numpy(dtype="int64"),
            **{f"_b{i}": _order_values(out[b]).to_numpy() for i, b in enumerate(first)},
        },
        index=out.index,
    )
    tmp = pd.concat([out, key], axis=1)
    order = ["_l", "_u", "_y", *(f"_b{i}" for i in range(len(first))), *rest]
    tmp = tmp.sort_values(order, kind="stable")
    return tmp.drop(columns=[c for c in key.columns]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# The counting core
# --------------------------------------------------------------------------------------------


def _unit_counts(
    frame: pd.DataFrame, keys: list[str], *, umap: pd.DataFrame, id_col: str | None
) -> pd.DataFrame:
    """Counts per unit x ``keys``: gross (rows) or net (distinct ``id_col`` values).

    Gross counts are summed from municipality to unit; net counts are de-duplicated within each
    unit so that an id seen in two municipalities (a child who moved) still counts once.
    """
    if frame.empty:
        return pd.DataFrame(columns=[*_UNIT_COLS, *keys, "n"])
    umap = umap.assign(
        kommun=pd.Categorical(umap["kommun"], categories=frame["kommun"].cat.categories)
    )
    if id_col is None:
        k = (
            frame.groupby(["kommun", *keys], observed=True, sort=False)
            .size()
            .rename("n")
            .reset_index()
        )
        u = k.merge(umap, on="kommun", how="inner")
        return u.groupby([*_UNIT_COLS, *keys], observed=True, sort=False)["n"].sum().reset_index()
    k = frame[["kommun", *keys, id_col]].drop_duplicates()
    u = k.merge(umap, on="kommun", how="inner").drop_duplicates([*_UNIT_COLS, *keys, id_col])
    return (
        u.groupby([*_UNIT_COLS, *keys], observed=True, sort=False).size().rename("n").reset_index()
    )


def _decat(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical key columns back to ``str`` (on small, aggregated frames)."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(cats, "str")) if cats else frame


def _tabulate_core(
    base: pd.DataFrame,
    *,
    codes: Sequence[str],
    by: list[str],
    umap: pd.DataFrame,
    id_col: str | None,
    all_units: bool,
) -> pd.DataFrame:
    """From rows ``kommun, period, *by, kod, [_id], _filled, _exploded`` to the long table.

    ``base`` holds one row per applicable unit of observation (``_exploded`` False) and, for
    multi-select variables, extra rows per ticked code (``_exploded`` True, never counted in the
    denominator).
    """
    keys = ["period", *by]
    base = base.assign(kod=pd.Categorical(base["kod"], categories=list(codes)))
    applicable = base.loc[~base["_exploded"]]
    filled = applicable.loc[applicable["_filled"]]
    events = base.loc[base["kod"].notna()]
    n = _decat(_unit_counts(events, [*keys, "kod"], umap=umap, id_col=id_col))
    d = _decat(_unit_counts(filled, keys, umap=umap, id_col=id_col)).rename(
        columns={"n": "namnare"}
    )
    if all_units:
        periods = _decat(applicable[["period"]].drop_duplicates())
        by_values = (
            _decat(applicable[by].drop_duplicates())
            if by
            else pd.DataFrame(index=pd.RangeIndex(1))
        )
        units = umap[_UNIT_COLS].drop_duplicates().merge(periods, how="cross")
        units = units.merge(by_values, how="cross") if by else units
    else:
        units = _decat(
            _unit_counts(applicable, keys, umap=umap, id_col=None)[[*_UNIT_COLS, *keys]]
        )
    grid = units.merge(pd.DataFrame({"kod": pd.array(list(codes), dtype="str")}), how="cross")
    out = grid.merge(n, on=[*_UNIT_COLS, *keys, "kod"], how="left").merge(
        d, on=[*_UNIT_COLS, *keys], how="left"
    )
    out["n"] = out["n"].fillna(0).astype("int64")
    out["namnare"] = out["namnare"].fillna(0).astype("int64")
    return out


def _finish(
    out: pd.DataFrame, *, variable: str, codes: Sequence[str], by: list[str], counted: str
) -> pd.DataFrame:
    ci = stats.proportion_ci(out["n"], out["namnare"], method="wilson")
    out = out.assign(
        variabel=variable,
        andel=ci["share"].to_numpy(),
        ci_low=ci["ci_low"].to_numpy(),
        ci_high=ci["ci_high"].to_numpy(),
        raknas=counted,
    )
    out["ar"] = _year_column(out["period"])
    order = {c: i for i, c in enumerate(codes)}
    out["_k"] = out["kod"].map(order)
    cols = [
        "niva",
        "enhet",
        "period",
        "ar",
        *by,
        "variabel",
        "kod",
        "n",
        "namnare",
        "andel",
        "ci_low",
        "ci_high",
        "raknas",
    ]
    out = _sort_units(out, by, ["_k"])
    out = out[cols]
    out["variabel"] = out["variabel"].astype("str")
    return out


def _check_count(count: str) -> str | None:
    if count not in ID_COLUMN:
        raise ValueError(f"count must be one of {list(ID_COLUMN)}, not {count!r}")
    return None if count == "registreringar" else ID_COLUMN[count]


def _as_codes(values: pd.Series) -> pd.Series:
    """Codes as ``str`` with missing kept (categorical, object or ``str`` input)."""
    if pd.api.types.is_bool_dtype(values.dtype) or isinstance(values.dtype, pd.BooleanDtype):
        return values.map({True: "ja", False: "nej"}).astype("str")
    return values.astype("str")


def _kommun_codes(values: pd.Series) -> pd.Categorical:
    """Municipality codes as a categorical over the official list (validated at the boundary)."""
    known = list_municipalities()["municipality_code"].astype("str").tolist()
    codes = values.astype("str")
    out = pd.Categorical(codes, categories=known)
    bad = int((pd.isna(out) & codes.notna().to_numpy()).sum()) + int(codes.isna().sum())
    if bad:
        raise ValueError(
            f"{bad} row(s) have a municipality code that is missing or not a municipality; "
            "see workbench.list_municipalities()"
        )
    return out


def _base_frame(
    data: pd.DataFrame,
    *,
    by: Sequence[str],
    id_col: str | None,
    applicable: np.ndarray,
    extra: Mapping[str, Any],
) -> pd.DataFrame:
    cols: dict[str, Any] = {
        "kommun": _kommun_codes(data["kommun"]),
        "_pos": np.arange(len(data)),
    }
    for b in by:
        cols[b] = _as_codes(data[b]).to_numpy()
    if id_col is not None:
        cols["_id"] = data[id_col].to_numpy()
    cols.update(extra)
    base = pd.DataFrame(cols, index=data.index).loc[applicable]
    if by:
        missing = base[list(by)].isna().any(axis=1)
        if missing.any():
            logger.info("%d row(s) without a value of %s left out", int(missing.sum()), list(by))
            base = base.loc[~missing]
        for b in by:
            base[b] = pd.Categorical(base[b])
    return base


def _check_columns(data: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise KeyError(
            f"column(s) {missing} are not in the data; load registrations with "
            "workbench.dataset.load_registrations() (or interventions with "
            "workbench.analysis.load_interventions())"
        )


def tabulate(
    data: pd.DataFrame,
    column: str,
    *,
    codes: Sequence[str] | None = None,
    variable: str | None = None,
    applicable: pd.Series | np.ndarray | None = None,
    by: Sequence[str] = (),
    levels: Sequence[str] = DEFAULT_LEVELS,
    years: tuple[int, int] | None = None,
    by_year: bool = True,
    count: Counted = "registreringar",
    groups: Mapping[str, str] | pd.Series | None = None,
    all_units: bool = False,
    year_column: str = "ar",
) -> pd.DataFrame:
    """Counts and shares (95 % Wilson intervals) of the codes of any column, for every unit.

    The general tool behind :func:`describe` and the outcome tables: derive a column in the
    analysis frame, then tabulate it per municipality, county, municipality group and nation,
    per year and for the whole period.

    Parameters
    ----------
    data
        The analysis frame (needs ``kommun``, the year column, ``column``, ``by`` and the id
        column of ``count``).
    column
        Column whose values are the codes (``str``, categorical or boolean; booleans become
        ``"ja"``/``"nej"``). Missing values are *not filled in*: they are left out of the
        denominator (the completeness tables count them).
    codes
        Codes in output order; every code is listed for every unit (``n = 0`` where it does not
        occur). Default: the categories of a categorical column, else the observed values sorted.
        A value outside ``codes`` raises ``ValueError``.
    variable
        Name in the ``variabel`` column (default ``column``).
    applicable
        Boolean mask of the rows the question applies to (default all rows).
    by
        Extra grouping columns (e.g. ``["insatstyp"]``); rows missing a ``by`` value are left out.
    levels, groups
        Reporting levels and the municipality-group lookup, see :func:`unit_map`.
    years
        Inclusive years; default the years in the data.
    by_year
        Also give one row per year (besides the whole period).
    count
        ``"registreringar"`` (gross), ``"insatser"`` or ``"barn"`` (net: distinct ids).
    all_units
        List every unit of the levels (zeros included), as disclosure control needs; default only
        units with at least one applicable row in the period.
    year_column
        Column holding the year.

    Returns
    -------
    pandas.DataFrame
        ``niva, enhet, period, ar, *by, variabel, kod, n, namnare, andel, ci_low, ci_high,
        raknas``. ``andel`` is NaN where ``namnare`` is 0.
    """
    by = list(by)
    id_col = _check_count(count)
    _check_columns(data, ["kommun", year_column, column, *by, *([id_col] if id_col else [])])
    values = _as_codes(data[column])
    if codes is None:
        dt = data[column].dtype
        if isinstance(dt, pd.CategoricalDtype):
            codes = [str(c) for c in dt.categories]
        elif pd.api.types.is_bool_dtype(dt) or isinstance(dt, pd.BooleanDtype):
            codes = list(BOOLEAN_CODES)
        else:
            codes = sorted(values.dropna().unique().tolist())
    codes = [str(c) for c in codes]
    unknown = sorted(set(values.dropna().unique()) - set(codes))
    if unknown:
        raise ValueError(
            f"{variable or column}: value(s) {unknown[:5]} are not among the codes {codes}; "
            "see workbench.list_variables() for the catalogue's code lists"
        )
    mask = (
        np.ones(len(data), dtype=bool)
        if applicable is None
        else np.asarray(pd.Series(applicable).fillna(False), dtype=bool)
    )
    base = _base_frame(
        data,
        by=by,
        id_col=id_col,
        applicable=mask,
        extra={
            "kod": values.to_numpy(),
            "_filled": values.notna().to_numpy(),
            "_exploded": np.zeros(len(data), dtype=bool),
            "_year": data[year_column].to_numpy(),
        },
    )
    base = _year_keys(base.drop(columns="_year"), base["_year"], years, by_year)
    umap = unit_map(levels, groups=groups)
    out = _tabulate_core(
        base, codes=codes, by=by, umap=umap, id_col="_id" if id_col else None, all_units=all_units
    )
    return _finish(out, variable=variable or column, codes=codes, by=by, counted=count)


def _applicable_mask(data: pd.DataFrame, var: Variable) -> np.ndarray:
    mask = np.ones(len(data), dtype=bool)
    for col, value in var.applies_when.items():
        mask &= (data[col] == value).fillna(False).to_numpy(dtype=bool)
    return mask


def _describe_multi(
    data: pd.DataFrame,
    var: Variable,
    *,
    by: list[str],
    levels: Sequence[str],
    years: tuple[int, int] | None,
    by_year: bool,
    count: str,
    groups: Mapping[str, str] | pd.Series | None,
    all_units: bool,
) -> pd.DataFrame:
    id_col = _check_count(count)
    cols = list(var.columns)
    codes = list(code_order(var.name))
    _check_columns(data, ["kommun", "ar", *cols, *by, *([id_col] if id_col else [])])
    mask = _applicable_mask(data, var)
    ticks = data[cols].eq(True).fillna(False).to_numpy(dtype=bool)
    filled = data[cols].notna().any(axis=1).to_numpy()
    base = _base_frame(
        data,
        by=by,
        id_col=id_col,
        applicable=mask,
        extra={"_filled": filled, "_exploded": False, "_year": data["ar"].to_numpy()},
    )
    row_i, code_i = np.nonzero(ticks[base["_pos"].to_numpy()])
    exploded = base.iloc[row_i].assign(
        kod=np.asarray(codes, dtype=object)[code_i], _exploded=True, _filled=True
    )
    base = base.assign(kod=pd.Series(pd.NA, index=base.index, dtype="str"))
    both = pd.concat([base, exploded], ignore_index=True)
    both["kod"] = both["kod"].astype("str")
    both = _year_keys(both.drop(columns="_year"), both["_year"], years, by_year)
    out = _tabulate_core(
        both,
        codes=codes,
        by=by,
        umap=unit_map(levels, groups=groups),
        id_col="_id" if id_col else None,
        all_units=all_units,
    )
    return _finish(out, variable=var.name, codes=codes, by=by, counted=count)


def describe(
    data: pd.DataFrame,
    variables: Sequence[str] | str,
    *,
    by: Sequence[str] = (),
    levels: Sequence[str] = DEFAULT_LEVELS,
    years: tuple[int, int] | None = None,
    by_year: bool = True,
    count: Counted = "registreringar",
    groups: Mapping[str, str] | pd.Series | None = None,
    all_units: bool = False,
    cat: Catalogue | None = None,
) -> pd.DataFrame:
    """Distributions of catalogue variables per unit, year and period, with Wilson intervals.

    For a single-code variable the share of a code is ``n(code) / n(filled in)`` among the rows
    the variable applies to (reason for ending: ending registrations). For a multi-select
    variable ``n`` counts rows where the code is ticked and ``namnare`` rows where any code is
    filled in; the shares do not add up to 100 %. Booleans (``aterkomst_12man``) have the codes
    ``ja`` / ``nej``.

    Parameters
    ----------
    data
        Registrations (:func:`workbench.dataset.load_registrations`).
    variables
        Catalogue variables of type code, multi-select or boolean (see
        :func:`workbench.list_variables`).
    by, levels, years, by_year, count, groups, all_units
        See :func:`tabulate`. ``count="barn"`` gives net counts: children with at least one
        registration with the code (DOMAIN.md §5), so the codes need not add up.
    cat
        Catalogue (default the project's).

    Returns
    -------
    pandas.DataFrame
        The long table of :func:`tabulate`, variables in the given order.
    """
    cat = cat or load_catalogue()
    names = [variables] if isinstance(variables, str) else list(variables)
    frames = []
    for name in names:  # a loop over variables, never over municipalities
        var = cat.variable(name)
        if var.type == "multi":
            frames.append(
                _describe_multi(
                    data,
                    var,
                    by=list(by),
                    levels=levels,
                    years=years,
                    by_year=by_year,
                    count=count,
                    groups=groups,
                    all_units=all_units,
                )
            )
        elif var.type in ("code", "boolean"):
            frames.append(
                tabulate(
                    data,
                    name,
                    codes=code_order(name),
                    variable=name,
                    applicable=_applicable_mask(data, var),
                    by=by,
                    levels=levels,
                    years=years,
                    by_year=by_year,
                    count=count,
                    groups=groups,
                    all_units=all_units,
                )
            )
        else:
            raise ValueError(
                f"describe() needs a code, multi-select or boolean variable; {name!r} is "
                f"{var.type}. Durations: intervention_durations(), investigation_times()."
            )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------------------------
# Completeness
# --------------------------------------------------------------------------------------------

COMPLETENESS_CODES = ("kand", "okand", "saknas")


def completeness(
    data: pd.DataFrame,
    variables: Sequence[str] | None = None,
    *,
    levels: Sequence[str] = DEFAULT_LEVELS,
    years: tuple[int, int] | None = None,
    by_year: bool = True,
    groups: Mapping[str, str] | pd.Series | None = None,
    all_units: bool = False,
    cat: Catalogue | None = None,
) -> pd.DataFrame:
    """Share filled in with a known value, unknown / cannot be assessed, and empty, over time.

    Per variable, among the registrations it applies to: ``kod`` ``kand`` (a valid or residual
    code), ``okand`` (a code of kind ``unknown`` or ``not_assessable`` in the catalogue) and
    ``saknas`` (not filled in). The three add up to ``namnare``. Derived variables are skipped.
    Use :func:`indicator_trends` on the result to test whether completeness changes over years.

    Parameters
    ----------
    data
        Registrations.
    variables
        Catalogue variables (default every recorded variable of types code, multi, boolean and
        date).
    levels, years, by_year, groups, all_units, cat
        See :func:`tabulate` and :func:`describe`.

    Returns
    -------
    pandas.DataFrame
        The long table of :func:`tabulate` (counting registrations).
    """
    cat = cat or load_catalogue()
    names = (
        [v.name for v in cat.variables.values() if not v.derived and v.type != "integer"]
        if variables is None
        else list(variables)
    )
    frames = []
    for name in names:
        var = cat.variable(name)
        if var.derived:
            continue
        if var.type == "multi":
            filled = data[list(var.columns)].notna().any(axis=1).to_numpy()
            unknown = np.zeros(len(data), dtype=bool)
        else:
            _check_columns(data, [name])
            col = data[name]
            filled = col.notna().to_numpy()
            unknown_codes = (
                var.codelist.codes_of_kind("unknown", "not_assessable") if var.codelist else ()
            )
            unknown = col.isin(unknown_codes).fillna(False).to_numpy(dtype=bool)
        status = pd.Series(
            np.where(~filled, "saknas", np.where(unknown, "okand", "kand")),
            index=data.index,
            dtype="str",
        )
        frames.append(
            tabulate(
                data.assign(_status=status),
                "_status",
                codes=COMPLETENESS_CODES,
                variable=name,
                applicable=_applicable_mask(data, var),
                levels=levels,
                years=years,
                by_year=by_year,
                groups=groups,
                all_units=all_units,
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------


def goal_attainment(
    data: pd.DataFrame,
    *,
    by: Sequence[str] = ("insatstyp",),
    levels: Sequence[str] = DEFAULT_LEVELS,
    years: tuple[int, int] | None = None,
    by_year: bool = True,
    count: Counted = "registreringar",
    groups: Mapping[str, str] | pd.Series | None = None,
    all_units: bool = False,
) -> pd.DataFrame:
    """Goals fully reached (``maluppfyllelse == "helt"``), per intervention type and unit.

    ``kod`` ``helt`` or ``ej_helt`` (delvis or inte alls); ``namnare`` = helt + delvis + inte alls.
    *Kan ej bedömas* is left out of the denominator (the attainment is unknown, not "not
    reached"); its frequency is in :func:`describe` and :func:`completeness`.

    Returns
    -------
    pandas.DataFrame
        Long table (see :func:`tabulate`) with ``variabel == "maluppfyllelse_helt"``.
    """
    _check_columns(data, ["maluppfyllelse"])
    m = data["maluppfyllelse"].astype("str")
    values = pd.Series(
        np.where(m == "helt", "helt", np.where(m.isin(["delvis", "inte_alls"]), "ej_helt", None)),
        index=data.index,
        dtype="str",
    )
    return tabulate(
        data.assign(_goal=values),
        "_goal",
        codes=GOAL_CODES,
        variable="maluppfyllelse_helt",
        by=by,
        levels=levels,
        years=years,
        by_year=by_year,
        count=count,
        groups=groups,
        all_units=all_units,
    )


def endings(
    data: pd.DataFrame,
    *,
    by: Sequence[str] = ("insatstyp",),
    levels: Sequence[str] = DEFAULT_LEVELS,
    years: tuple[int, int] | None = None,
    by_year: bool = True,
    groups: Mapping[str, str] | pd.Series | None = None,
    all_units: bool = False,
    cat: Catalogue | None = None,
) -> pd.DataFrame:
    """Planned and unplanned endings, and breakdowns (*sammanbrott*), per intervention type.

    Among ending registrations with a reason for ending: ``kod`` ``planerat`` (codes with
    ``planned: true`` in the catalogue), ``sammanbrott`` (placement breakdown) and
    ``annat_oplanerat`` (other unplanned endings). The three add up to ``namnare``; the
    breakdown rate is the share ``sammanbrott`` (meaningful for placements).

    Returns
    -------
    pandas.DataFrame
        Long table (see :func:`tabulate`) with ``variabel == "avslutstyp"``, counting
        registrations (one ending registration per ended intervention).
    """
    cat = cat or load_catalogue()
    _check_columns(data, ["avslutsorsak", "registreringstyp"])
    var = cat.variable("avslutsorsak")
    assert var.codelist is not None
    planned = [c.code for c in var.codelist.codes if c.planned]
    a = data["avslutsorsak"].astype("str")
    kind = np.select(
        [
            a.isna().to_numpy(),
            (a == "sammanbrott").to_numpy(dtype=bool),
            a.isin(planned).to_numpy(),
        ],
        [None, "sammanbrott", "planerat"],
        default="annat_oplanerat",
    )
    values = pd.Series(kind, index=data.index, dtype="str")
    return tabulate(
        data.assign(_ending=values),
        "_ending",
        codes=ENDING_CODES,
        variable="avslutstyp",
        applicable=_applicable_mask(data, var),
        by=by,
        levels=levels,
        years=years,
        by_year=by_year,
        groups=groups,
        all_units=all_units,
    )


def kkik_age_band(age: pd.Series) -> pd.Series:
    """``"0-12"`` / ``"13-20"`` from age in years (KKiK re-referral age bands); else missing."""
    a = pd.to_numeric(age, errors="coerce")
    out = pd.Series(pd.NA, index=age.index, dtype="str")
    for band, (lo, hi) in KKIK_AGE_BANDS.items():
        out = out.mask((a >= lo) & (a <= hi), band)
    return out


def rereferral(
    data: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    levels: Sequence[str] = DEFAULT_LEVELS,
    years: tuple[int, int] | None = None,
    by_year: bool = True,
    groups: Mapping[str, str] | pd.Series | None = None,
    all_units: bool = False,
) -> pd.DataFrame:
    """Re-referral within 12 months of an ending, KKiK-style, for ages 0–12 and 13–20 separately.

    Among ending registrations whose 12-month window has closed (``aterkomst_12man`` known):
    ``kod`` ``ja`` (the child had a new opening within 12 months) or ``nej``. Kommunens Kvalitet
    i Korthet (KKiK) publishes the share **not** returning (``kod == "nej"``): 78 % for 13–20 and
    75 % for 0–12 nationally in 2016 (DOMAIN.md §5). The age band (column
    ``aldersgrupp_kkik``) is the age at the ending registration. KKiK counts young people after
    all interventions have closed; this counts endings of interventions (gross), so a child
    whose intervention was replaced by another counts as returning.

    Returns
    -------
    pandas.DataFrame
        Long table (see :func:`tabulate`) with ``variabel == "aterkomst_12man"`` and the
        grouping column ``aldersgrupp_kkik`` first.
    """
    _check_columns(data, ["aterkomst_12man", "registreringstyp", "alder"])
    band = kkik_age_band(data["alder"])
    applicable = (data["registreringstyp"] == "avslut").fillna(False).to_numpy(dtype=bool)
    return _rereferral_table(
        data.assign(aldersgrupp_kkik=band),
        applicable=applicable,
        by=by,
        levels=levels,
        years=years,
        by_year=by_year,
        groups=groups,
        all_units=all_units,
    )


def _rereferral_table(frame: pd.DataFrame, *, applicable: np.ndarray, by: Sequence[str], **kw):
    """``aterkomst_12man`` (ja / nej) by KKiK age band, for :func:`rereferral` and
    :func:`rereferral_kkik`."""
    return tabulate(
        frame,
        "aterkomst_12man",
        codes=BOOLEAN_CODES,
        variable="aterkomst_12man",
        applicable=applicable,
        by=["aldersgrupp_kkik", *by],
        **kw,
    )


def rereferral_episodes(interventions: pd.DataFrame, *, as_of: Any) -> pd.DataFrame:
    """Closed periods of care per child and whether the child came back within 12 months.

    KKiK's definition counts young people, not interventions: a child is "back" when a new
    intervention opens within 12 months after **all** of the child's interventions have closed.
    Overlapping or touching interventions of one child form one period (an intervention replaced
    by another is not a return); the period ends at the last end date. A period counts when it has
    ended and its 12-month window has passed ``as_of`` (the extract date); per child and year of
    the ending, the last period of the year is kept, so each child counts once a year.

    Returns one row per child and year: ``kommun`` (of the last intervention), ``barn_id``,
    ``ar``, ``slut``, ``alder`` (year of the ending minus year of birth), ``aldersgrupp_kkik`` and
    ``aterkomst_12man`` (boolean: a new opening within 12 months; missing when the window has
    not passed).
    """
    _check_columns(interventions, ["barn_id", "kommun", "insats_start", "insats_slut"])
    as_of = pd.Timestamp(as_of)
    ins = interventions.loc[interventions["insats_start"].notna()]
    start = ins["insats_start"].to_numpy()
    end = ins["insats_slut"].to_numpy()
    open_end = np.isnat(end)
    end_f = np.where(open_end, np.datetime64("2262-01-01"), end)  # ongoing: open to the future
    order = np.lexsort((start, ins["barn_id"].to_numpy()))
    child = ins["barn_id"].to_numpy()[order]
    st, en = start[order], end_f[order]
    kommun = ins["kommun"].to_numpy()[order]
    birth = (
        pd.to_numeric(ins["fodelsear"], errors="coerce").to_numpy()[order]
        if "fodelsear" in ins
        else np.full(len(order), np.nan)
    )
    frame = pd.DataFrame({"barn_id": child, "start": st, "end": en})
    # running maximum of end dates within the child: a new period starts when an intervention
    # starts after everything before it has ended
    run_max = frame.groupby("barn_id", sort=False)["end"].cummax().to_numpy()
    prev_max = np.roll(run_max, 1)
    first = np.r_[True, child[1:] != child[:-1]] if len(child) else np.array([], dtype=bool)
    new_period = first | (st > prev_max)
    period = np.cumsum(new_period) - 1
    per = (
        pd.DataFrame(
            {
                "barn_id": child,
                "period": period,
                "start": st,
                "end": run_max,
                "kommun": kommun,
                "fodelsear": birth,
            }
        )
        .groupby("period", sort=True)
        .agg(
            barn_id=("barn_id", "first"),
            start=("start", "min"),
            slut=("end", "max"),
            kommun=("kommun", "last"),
            fodelsear=("fodelsear", "first"),
        )
    )
    per = per.loc[per["slut"] < pd.Timestamp("2262-01-01")]  # ongoing periods have not ended
    per = per.loc[per["slut"] <= as_of]
    # the next period of the same child
    per = per.sort_values(["barn_id", "start"])
    next_start = per.groupby("barn_id")["start"].shift(-1)
    limit = per["slut"] + pd.DateOffset(months=12)
    back = next_start.notna() & (next_start <= limit)
    known = limit <= as_of
    per["aterkomst_12man"] = pd.array(back.to_numpy(), dtype="boolean")
    per.loc[~known.to_numpy(), "aterkomst_12man"] = pd.NA
    per["ar"] = per["slut"].dt.year.astype("Int64")
    per = per.sort_values(["barn_id", "slut"]).groupby(["barn_id", "ar"]).tail(1)
    per["alder"] = (per["ar"] - pd.to_numeric(per["fodelsear"], errors="coerce")).astype("Int64")
    per["aldersgrupp_kkik"] = kkik_age_band(per["alder"])
    cols = ["kommun", "barn_id", "ar", "slut", "alder", "aldersgrupp_kkik", "aterkomst_12man"]
    return per[cols].reset_index(drop=True)


def rereferral_kkik(
    interventions: pd.DataFrame,
    *,
    as_of: Any,
    by: Sequence[str] = (),
    levels: Sequence[str] = DEFAULT_LEVELS,
    years: tuple[int, int] | None = None,
    by_year: bool = True,
    groups: Mapping[str, str] | pd.Series | None = None,
    all_units: bool = False,
) -> pd.DataFrame:
    """Re-referral within 12 months with KKiK's definition: young people, after all care ended.

    Counts children (once per year of ending, :func:`rereferral_episodes`) by age at the ending,
    0–12 and 13–20. KKiK publishes the share **not** returning (``kod == "nej"``). Same long
    table as :func:`rereferral`, with ``raknas == "barn"``.
    """
    ep = rereferral_episodes(interventions, as_of=as_of)
    known = ep["aterkomst_12man"].notna().to_numpy()
    out = _rereferral_table(
        ep,
        applicable=known,
        by=by,
        levels=levels,
        years=years,
        by_year=by_year,
        groups=groups,
        all_units=all_units,
    )
    out["raknas"] = "barn"
    return out


# --------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------


def indicator_trends(
    table: pd.DataFrame,
    *,
    codes: Sequence[str] | None = None,
    by: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Cochran–Armitage test for a trend over years in each share of a long table.

    Uses the yearly rows (``ar`` present) of a table from :func:`tabulate`, :func:`describe`,
    :func:`completeness` or the outcome functions, one series per unit x grouping x variable x
    code, through :func:`workbench.stats.trend_table`. ``text_sv`` says *ingen säker förändring*
    when p >= ``alpha``. Because many series are tested at once, ``q_value`` gives the
    Benjamini–Hochberg adjusted p-value over all series of the result and ``fdr_reject`` whether
    the change survives that adjustment.

    Parameters
    ----------
    table
        Long table with ``ar``, ``n`` and ``namnare``.
    codes
        Codes to test (default all).
    by
        Grouping columns besides unit, variable and code (default: the columns that are not
        part of the long-table layout and not extra counts named ``n_*``).
    alpha
        Significance level (and false discovery rate).

    Returns
    -------
    pandas.DataFrame
        ``niva, enhet, *grouping, variabel, kod`` and the columns of
        :func:`workbench.stats.trend_table`, plus ``q_value`` and ``fdr_reject``.
    """
    yearly = table.loc[table["ar"].notna()]
    if codes is not None:
        yearly = yearly.loc[yearly["kod"].isin(list(codes))]
    fixed = {"niva", "enhet", "period", "ar", "variabel", "kod", "n", "namnare"}
    fixed |= {"andel", "ci_low", "ci_high", "raknas"}
    grouping = (
        [c for c in table.columns if c not in fixed and not c.startswith("n_")]
        if by is None
        else list(by)
    )
    keys = ["niva", "enhet", *grouping, "variabel", "kod"]
    out = stats.trend_table(
        yearly, by=keys, year="ar", successes="n", trials="namnare", alpha=alpha
    )
    if out.empty:
        return out.assign(
            q_value=pd.Series(dtype="float64"), fdr_reject=pd.Series(dtype="boolean")
        )
    bh = stats.benjamini_hochberg(out["p_value"].to_numpy(), alpha=alpha)
    out["q_value"] = bh["q_value"].to_numpy()
    out["fdr_reject"] = bh["reject"].to_numpy()
    return out


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------


def load_interventions(
    data_dir: str | os.PathLike[str],
    *,
    kommuner: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Interventions with the child's columns and the dates of their first registrations.

    Includes interventions that have no registration yet (needed for durations and time to
    follow-up). Added columns: ``forsta_registrering`` (first registration of any type) and
    ``forsta_uppfoljning`` (first registration of type ``uppfoljning``).
    """
    from workbench.dataset import read_table

    ins = read_table(data_dir, "interventions", kommuner=kommuner)
    chi = read_table(data_dir, "children", kommuner=kommuner).drop(columns=["kommun"])
    reg = read_table(
        data_dir,
        "registrations",
        columns=["insats_id", "registreringsdatum", "registreringstyp"],
        kommuner=kommuner,
    )
    out = ins.merge(chi, on="barn_id", how="left", validate="m:1")
    return add_first_registration(out, reg)


def add_first_registration(
    interventions: pd.DataFrame, registrations: pd.DataFrame
) -> pd.DataFrame:
    """Add ``forsta_registrering`` and ``forsta_uppfoljning`` (dates) to an intervention frame."""
    _check_columns(registrations, ["insats_id", "registreringsdatum", "registreringstyp"])
    first = registrations.groupby("insats_id")["registreringsdatum"].min()
    fu = registrations.loc[registrations["registreringstyp"] == "uppfoljning"]
    first_fu = fu.groupby("insats_id")["registreringsdatum"].min()
    ids = interventions["insats_id"]
    return interventions.assign(
        forsta_registrering=ids.map(first).astype("datetime64[ns]").to_numpy(),
        forsta_uppfoljning=ids.map(first_fu).astype("datetime64[ns]").to_numpy(),
    )


def _as_of(frame: pd.DataFrame, columns: Sequence[str], as_of: Any) -> pd.Timestamp:
    if as_of is not None:
        return pd.Timestamp(as_of)
    latest = pd.concat([frame[c] for c in columns if c in frame]).max()
    logger.info("no as_of given: using the latest date in the data as the end of follow-up")
    return pd.Timestamp(latest)


def _expand(frame: pd.DataFrame, umap: pd.DataFrame) -> pd.DataFrame:
    return frame.merge(umap, on="kommun", how="inner")


def investigation_times(
    interventions: pd.DataFrame,
    *,
    as_of: Any = None,
    days: int = INVESTIGATION_DAYS,
    levels: Sequence[str] = DEFAULT_LEVELS,
    years: tuple[int, int] | None = None,
    by_year: bool = True,
    groups: Mapping[str, str] | pd.Series | None = None,
) -> pd.DataFrame:
    """Share of investigations closed within four months (120 days), counting open ones right.

    One investigation per intervention, by the year the investigation started. Classification
    by :func:`workbench.stats.within_days_outcome`: closed within ``days`` days (``n``), closed
    later (``n_late``), still open on ``as_of`` and already late (``n_open_late``, counted as
    late), still open and not yet late (``n_undetermined``, left out of the denominator) and
    invalid dates (``n_invalid``).

    Parameters
    ----------
    interventions
        :func:`load_interventions` (needs ``kommun``, ``utredning_start``, ``utredning_slut``).
    as_of
        Date of the extract (the dataset's ``data_date``); default the latest date in the data.
    days
        The limit in days (inclusive); four months = 120 days.
    levels, years, by_year, groups
        See :func:`tabulate`.

    Returns
    -------
    pandas.DataFrame
        ``niva, enhet, period, ar, variabel ("utredningstid_inom_4_man"), n, n_late,
        n_open_late, n_undetermined, n_invalid, namnare, andel, ci_low, ci_high, raknas``.
    """
    _check_columns(interventions, ["kommun", "utredning_start", "utredning_slut"])
    ref = _as_of(interventions, ["utredning_start", "utredning_slut"], as_of)
    base = pd.DataFrame(
        {
            "kommun": interventions["kommun"].astype("str").to_numpy(),
            "_start": interventions["utredning_start"].to_numpy(),
            "_end": interventions["utredning_slut"].to_numpy(),
        },
        index=interventions.index,
    )
    base = _year_keys(base, interventions["utredning_start"].dt.year, years, by_year)
    wide = _expand(base, unit_map(levels, groups=groups))
    res = stats.within_days_share(
        wide["_start"],
        wide["_end"],
        days=days,
        as_of=ref,
        by=wide[["niva", "enhet", "period"]],
    )
    res = res.rename(columns={"n_within": "n", "denominator": "namnare", "share": "andel"})
    res["ar"] = _year_column(res["period"])
    res["variabel"] = "utredningstid_inom_4_man"
    res["raknas"] = "utredningar"
    cols = [
        "niva",
        "enhet",
        "period",
        "ar",
        "variabel",
        "n",
        "n_late",
        "n_open_late",
        "n_undetermined",
        "n_invalid",
        "namnare",
        "andel",
        "ci_low",
        "ci_high",
        "raknas",
    ]
    return _sort_units(res, [], [])[cols]


def _km_long(
    frame: pd.DataFrame,
    *,
    by: list[str],
    months: Sequence[float],
    complement: bool,
    measure: str,
    counted: str,
) -> pd.DataFrame:
    """Kaplan–Meier per unit x ``by``: median (months) and the curve at ``months``, long form."""
    keys = [*_UNIT_COLS, *by]
    cols = [*keys, "n", "n_events", "matt", "manader", "varde", "ci_low", "ci_high", "n_at_risk"]
    if frame.empty:
        return pd.DataFrame(columns=[*cols, "raknas"])
    km = stats.kaplan_meier(frame, duration="_months", event="_event", by=keys)
    summ = km.summary
    med = summ[[*keys, "n", "n_events"]].assign(
        matt="median",
        manader=np.nan,
        varde=summ["median"].to_numpy(),
        ci_low=summ["median_ci_low"].to_numpy(),
        ci_high=summ["median_ci_high"].to_numpy(),
        n_at_risk=pd.array([pd.NA] * len(summ), dtype="Int64"),
    )
    at = km.survival_at([float(m) for m in months])
    at = at.merge(summ[[*keys, "n", "n_events"]], on=keys, how="left")
    if complement:
        value = 1.0 - at["survival"]
        low, high = 1.0 - at["ci_high"], 1.0 - at["ci_low"]
    else:
        value, low, high = at["survival"], at["ci_low"], at["ci_high"]
    share = at[[*keys, "n", "n_events"]].assign(
        matt=measure,
        manader=at["time"].to_numpy(),
        varde=value.to_numpy(),
        ci_low=low.to_numpy(),
        ci_high=high.to_numpy(),
        n_at_risk=pd.array(at["n_at_risk"].to_numpy(), dtype="Int64"),
    )
    out = pd.concat([med, share], ignore_index=True)
    out["manader"] = out["manader"].astype("float64")
    out["raknas"] = counted
    out["ar"] = pd.array([pd.NA] * len(out), dtype="Int64")
    order = {"median": 0, measure: 1}
    out["_m"] = out["matt"].map(order)
    out = _sort_units(out, by, ["_m", "manader"])
    return out[[*cols, "raknas"]]


def intervention_durations(
    interventions: pd.DataFrame,
    *,
    as_of: Any = None,
    by: Sequence[str] = ("insatstyp",),
    months: Sequence[float] = (6, 12, 24),
    levels: Sequence[str] = DEFAULT_LEVELS,
    start_years: tuple[int, int] | None = None,
    groups: Mapping[str, str] | pd.Series | None = None,
) -> pd.DataFrame:
    """Length of interventions by type, Kaplan–Meier, with ongoing ones censored.

    Duration from ``insats_start`` to ``insats_slut``, or to ``as_of`` for interventions still
    ongoing (censored: their length is at least that long, so a naive mean of finished ones
    would be biased short). Reported in months (days / 30.44): the median with the
    Brookmeyer–Crowley interval (``matt == "median"``, NaN when not reached) and the share still
    ongoing after 6, 12 and 24 months (``matt == "andel_pagaende"``, NaN past a group's
    follow-up). Interventions without a start, starting after ``as_of`` or ending before their
    start are left out.

    Parameters
    ----------
    interventions
        :func:`load_interventions`.
    as_of
        End of follow-up (the dataset's ``data_date``); default the latest date in the data.
    by
        Grouping columns (default ``insatstyp``).
    months
        Times for the share still ongoing.
    levels, groups
        See :func:`unit_map`.
    start_years
        Only interventions that started in these years (inclusive); default all.

    Returns
    -------
    pandas.DataFrame
        ``niva, enhet, *by, n, n_events (ended), matt, manader, varde, ci_low, ci_high,
        n_at_risk, raknas ("insatser")``.
    """
    by = list(by)
    _check_columns(interventions, ["kommun", "insats_start", "insats_slut", *by])
    ref = _as_of(interventions, ["insats_start", "insats_slut"], as_of)
    start, end = interventions["insats_start"], interventions["insats_slut"]
    ended = end.notna() & (end <= ref)
    stop = end.where(ended, ref)
    days = (stop - start).dt.days.astype("float64")
    ok = start.notna() & (start <= ref) & (days >= 0)
    if start_years is not None:
        ok &= start.dt.year.between(start_years[0], start_years[1])
    n_bad = int((start.notna() & (start <= ref) & (days < 0)).sum())
    if n_bad:
        logger.warning("intervention_durations: %d intervention(s) end before they start", n_bad)
    return _survival_long(
        interventions,
        days=days,
        event=ended,
        ok=ok,
        by=by,
        months=months,
        levels=levels,
        groups=groups,
        complement=False,
        measure="andel_pagaende",
    )


def _survival_long(
    interventions: pd.DataFrame,
    *,
    days: pd.Series,
    event: pd.Series,
    ok: pd.Series,
    by: list[str],
    months: Sequence[float],
    levels: Sequence[str],
    groups: Mapping[str, str] | pd.Series | None,
    complement: bool,
    measure: str,
) -> pd.DataFrame:
    """Kaplan–Meier per unit (and ``by``) of intervention times in months, long form."""
    frame = pd.DataFrame(
        {
            "kommun": interventions["kommun"].astype("str").to_numpy(),
            **{b: _as_codes(interventions[b]).to_numpy() for b in by},
            "_months": (days / DAYS_PER_MONTH).to_numpy(),
            "_event": event.to_numpy(dtype=bool),
        },
        index=interventions.index,
    ).loc[ok.to_numpy(dtype=bool)]
    if by:
        frame = frame.dropna(subset=by)
    wide = _expand(frame, unit_map(levels, groups=groups))
    return _km_long(
        wide, by=by, months=months, complement=complement, measure=measure, counted="insatser"
    )


def time_to_follow_up(
    interventions: pd.DataFrame,
    *,
    as_of: Any = None,
    by: Sequence[str] = (),
    months: Sequence[float] = (6, 12),
    first: Literal["forsta_registrering", "forsta_uppfoljning"] = "forsta_registrering",
    levels: Sequence[str] = DEFAULT_LEVELS,
    start_years: tuple[int, int] | None = None,
    groups: Mapping[str, str] | pd.Series | None = None,
) -> pd.DataFrame:
    """Time from the start of an intervention to its first follow-up registration (Kaplan–Meier).

    The event is the first registration (``first="forsta_registrering"``, any type: a follow-up
    or the ending) or the first registration of type *uppföljning*. Interventions without one are
    censored at their end (no follow-up can come after it) or, if still ongoing, at ``as_of``.
    Reported: the median in months and the share followed up within 6 and 12 months
    (``matt == "andel_uppfoljda"``, one minus the Kaplan–Meier curve).

    Returns
    -------
    pandas.DataFrame
        As :func:`intervention_durations`.
    """
    by = list(by)
    _check_columns(interventions, ["kommun", "insats_start", "insats_slut", first, *by])
    ref = _as_of(interventions, ["insats_start", "insats_slut"], as_of)
    start = interventions["insats_start"]
    fu = interventions[first]
    event = fu.notna() & (fu <= ref)
    end = interventions["insats_slut"]
    censor = end.where(end.notna() & (end <= ref), ref)
    stop = fu.where(event, censor)
    days = (stop - start).dt.days.astype("float64")
    ok = start.notna() & (start <= ref) & (days >= 0)
    if start_years is not None:
        ok &= start.dt.year.between(start_years[0], start_years[1])
    return _survival_long(
        interventions,
        days=days,
        event=event,
        ok=ok,
        by=by,
        months=months,
        levels=levels,
        groups=groups,
        complement=True,
        measure="andel_uppfoljda",
    )
