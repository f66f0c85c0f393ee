"""Follow-up descriptives: counts per municipality, county and nation in long form.

Every function takes the registration-level analysis frame (one row per follow-up or ending
registration, see :func:`workbench.dataset.load_registrations`) and returns tidy counts with the
columns ``enhet`` (unit: municipality code, county code or ``"0000"``), ``variabel``, ``kod``,
``n`` and ``denominator``. All 290 municipalities and 21 counties are present (zeros included) so
that disclosure control can be computed over the whole linked set at once.

What is counted is stated with each function: these are **registrations** (the Webbkollen unit:
one per follow-up or ending of an intervention), not children and not interventions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from workbench.catalogue import Catalogue, Variable, code_order, load_catalogue
from workbench.municipalities import NATIONAL, list_municipalities

UNIT = "enhet"
COMPLETENESS_CODES = ("kand", "okand", "saknas")
COMPLETENESS_LABELS_SV = {
    "kand": "Ifylld med känt värde",
    "okand": "Okänt eller kan ej bedömas",
    "saknas": "Ej ifylld",
}


def all_units() -> list[str]:
    """Every reporting unit in linked-set order: municipalities, counties, the nation."""
    m = list_municipalities()
    return [*m["municipality_code"], *sorted(m["county_code"].unique()), NATIONAL]


def _applicable(df: pd.DataFrame, var: Variable) -> pd.DataFrame:
    """Rows the variable applies to (e.g. reason for ending only on ending registrations)."""
    mask = pd.Series(True, index=df.index)
    for col, value in var.applies_when.items():
        mask &= df[col] == value
    return df[mask]


def _aggregate(per_kommun: pd.DataFrame, codes: Sequence[str]) -> pd.DataFrame:
    """From municipality × code counts (all codes present) add county and national rows."""
    m = list_municipalities()[["municipality_code", "county_code"]]
    full_index = pd.MultiIndex.from_product(
        [m["municipality_code"], list(codes)], names=[UNIT, "kod"]
    )
    k = per_kommun.set_index([UNIT, "kod"])["n"].reindex(full_index, fill_value=0).reset_index()
    k["n"] = k["n"].astype("int64")
    lan_of = dict(zip(m["municipality_code"], m["county_code"], strict=True))
    lan = k.assign(**{UNIT: k[UNIT].map(lan_of)}).groupby([UNIT, "kod"], as_index=False)["n"].sum()
    nat = k.groupby("kod", as_index=False)["n"].sum().assign(**{UNIT: NATIONAL})
    out = pd.concat([k, lan, nat[[UNIT, "kod", "n"]]], ignore_index=True)
    order = {c: i for i, c in enumerate(codes)}
    unit_order = {u: i for i, u in enumerate(all_units())}
    out = out.sort_values(
        [UNIT, "kod"], key=lambda s: s.map(unit_order if s.name == UNIT else order)
    )
    return out.reset_index(drop=True)


def _with_denominator(counts: pd.DataFrame, denom: pd.DataFrame) -> pd.DataFrame:
    return counts.merge(denom, on=UNIT, how="left", validate="m:1")


def distribution(df: pd.DataFrame, variable: str, *, cat: Catalogue | None = None) -> pd.DataFrame:
    """Registrations per code of one variable, for every municipality, county and the nation.

    For a single-code variable ``denominator`` is the number of applicable registrations where
    the variable is filled in, so the codes add up to it. For a multi-select variable ``n`` counts
    registrations where the code is ticked and ``denominator`` those where any code is filled in;
    codes do not add up (a registration can tick several).
    """
    cat = cat or load_catalogue()
    var = cat.variable(variable)
    codes = code_order(variable)
    sub = _applicable(df, var)
    if var.type == "multi":
        cols = list(var.columns)
        filled = sub[cols].notna().any(axis=1)
        long = (
            sub.loc[filled, ["kommun", *cols]]
            .groupby("kommun")[cols]
            .sum()
            .rename(columns=dict(zip(cols, codes, strict=True)))
            .reset_index()
            .melt(id_vars="kommun", var_name="kod", value_name="n")
            .rename(columns={"kommun": UNIT})
        )
        counts = _aggregate(long, codes)
        dk = sub.loc[filled].groupby("kommun").size().rename("n").reset_index()
        dk = dk.rename(columns={"kommun": UNIT}).assign(kod="_alla")
        denom = _aggregate(dk, ["_alla"]).drop(columns="kod").rename(columns={"n": "denominator"})
    elif var.type in ("code", "boolean"):
        values = sub[variable]
        if var.type == "boolean":
            values = values.map({True: "ja", False: "nej"})
            codes = ("ja", "nej")
        long = (
            pd.DataFrame({UNIT: sub["kommun"], "kod": values})
            .dropna()
            .groupby([UNIT, "kod"])
            .size()
            .rename("n")
            .reset_index()
        )
        unknown = sorted(set(long["kod"]) - set(codes))
        if unknown:
            raise ValueError(f"{variable}: codes {unknown} are not in the catalogue")
        counts = _aggregate(long, codes)
        denom = (
            counts.groupby(UNIT, as_index=False)["n"].sum().rename(columns={"n": "denominator"})
        )
    else:
        raise ValueError(
            f"distribution() needs a code, multi-select or boolean variable: {variable}"
        )
    out = _with_denominator(counts, denom)
    out.insert(1, "variabel", variable)
    return out[[UNIT, "variabel", "kod", "n", "denominator"]]


def registrations_by_year(df: pd.DataFrame, *, years: tuple[int, int]) -> pd.DataFrame:
    """Number of registrations per year (codes are years as strings; they add up to the period)."""
    codes = [str(y) for y in range(years[0], years[1] + 1)]
    sub = df[df["ar"].between(years[0], years[1])]
    long = (
        pd.DataFrame({UNIT: sub["kommun"], "kod": sub["ar"].astype("int64").astype(str)})
        .groupby([UNIT, "kod"])
        .size()
        .rename("n")
        .reset_index()
    )
    counts = _aggregate(long, codes)
    denom = counts.groupby(UNIT, as_index=False)["n"].sum().rename(columns={"n": "denominator"})
    out = _with_denominator(counts, denom)
    out.insert(1, "variabel", "ar")
    return out[[UNIT, "variabel", "kod", "n", "denominator"]]


def completeness(
    df: pd.DataFrame, variables: Iterable[str], *, cat: Catalogue | None = None
) -> pd.DataFrame:
    """Per variable: registrations with a known value, with unknown / cannot be assessed, and empty.

    The three codes ``kand``, ``okand``, ``saknas`` add up to the applicable registrations.
    Derived variables are skipped (they are computed, not recorded).
    """
    cat = cat or load_catalogue()
    frames = []
    for name in variables:
        var = cat.variable(name)
        if var.derived:
            continue
        sub = _applicable(df, var)
        if var.type == "multi":
            filled = sub[list(var.columns)].notna().any(axis=1).to_numpy()
            unknown = np.zeros(len(sub), dtype=bool)
        else:
            col = sub[name]
            filled = col.notna().to_numpy()
            unknown_codes = (
                var.codelist.codes_of_kind("unknown", "not_assessable") if var.codelist else ()
            )
            unknown = (
                col.isin(unknown_codes).to_numpy() if unknown_codes else np.zeros(len(sub), bool)
            )
        status = np.where(~filled, "saknas", np.where(unknown, "okand", "kand"))
        long = (
            pd.DataFrame({UNIT: sub["kommun"].to_numpy(), "kod": status})
            .groupby([UNIT, "kod"])
            .size()
            .rename("n")
            .reset_index()
        )
        counts = _aggregate(long, COMPLETENESS_CODES)
        denom = (
            counts.groupby(UNIT, as_index=False)["n"].sum().rename(columns={"n": "denominator"})
        )
        part = _with_denominator(counts, denom)
        part.insert(1, "variabel", name)
        frames.append(part[[UNIT, "variabel", "kod", "n", "denominator"]])
    return pd.concat(frames, ignore_index=True)


def n_registrations(df: pd.DataFrame, kommun: str) -> int:
    """Registrations of one municipality (or all, for the nation) in the frame."""
    return int(len(df) if kommun == NATIONAL else (df["kommun"] == kommun).sum())
