"""Synthetic case-system exports, made from the canonical synthetic data through a profile.

Tests and benchmarks need files that look like what municipalities export — labels instead of
codes, profile column names, personnummer — without any real person. This module renders canonical
registrations back into a profile's layout with *synthetic* personnummer (valid check digits; they
may coincide with real persons' numbers, so such files are private-zone data like any export).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.catalogue import Catalogue, load_catalogue
from workbench.ingest.profile import Profile

_STRFTIME = {
    "auto": "%Y-%m-%d",
    "YYYY-MM-DD": "%Y-%m-%d",
    "YYYYMMDD": "%Y%m%d",
    "D/M/YYYY": "%-d/%-m/%Y",
    "M/D/YYYY": "%-m/%-d/%Y",
    "D.M.YYYY": "%-d.%-m.%Y",
    "YYYY/MM/DD": "%Y/%m/%d",
}


def _birth_dates(reg: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
    """A birth date per child consistent with its year of birth and its ages at registration."""
    fy = reg["fodelsear"].astype("Int64")
    d = reg["registreringsdatum"]
    doy = d.dt.day_of_year
    after = (reg["alder"] == d.dt.year - fy - 1).fillna(False)  # birthday later in the year
    lo = doy.where(after).groupby(reg["barn_id"]).max().fillna(0).astype(int) + 1
    hi = doy.where(~after & reg["alder"].notna()).groupby(reg["barn_id"]).min().fillna(365)
    hi = np.maximum(hi.astype(int), lo)
    pick = lo + (rng.random(len(lo)) * (hi - lo + 1)).astype(int).clip(upper=hi - lo)
    year = reg.groupby("barn_id")["fodelsear"].first().astype(int)
    start = pd.to_datetime(year.astype(str) + "-01-01")
    days_in_year = np.where(start.dt.is_leap_year, 366, 365)
    offset = np.minimum(pick.reindex(year.index).to_numpy(), days_in_year) - 1
    return pd.Series(start.to_numpy() + pd.to_timedelta(offset, unit="D"), index=year.index)


def export_frame(
    reg: pd.DataFrame,
    profile: Profile,
    *,
    seed: int = 0,
    labels: str = "sv",
    pnr_form: str = "12-",
    reference_date: dt.date | None = None,
    cat: Catalogue | None = None,
) -> pd.DataFrame:
    """Render canonical registrations (``dataset.load_registrations``) in a profile's layout.

    Parameters
    ----------
    labels
        ``"sv"`` writes Swedish labels (as case systems do), ``"code"`` the catalogue codes.
    pnr_form
        Personnummer form: ``"12"``, ``"12-"`` or ``"10-"`` (see ``synthetic_personnummer``).
    """
    from workbench.pseudonym import synthetic_personnummer

    cat = cat or load_catalogue()
    rng = np.random.default_rng(seed)
    reg = reg.reset_index(drop=True)
    births = _birth_dates(reg, rng)
    sexes = reg.groupby("barn_id")["kon"].first().reindex(births.index)
    sexes = sexes.where(sexes.isin(["flicka", "pojke"]))
    sexes = sexes.fillna(pd.Series(rng.choice(["flicka", "pojke"], len(sexes)), index=sexes.index))
    ref = reference_date or (reg["registreringsdatum"].max().date() + dt.timedelta(days=1))
    pnr = synthetic_personnummer(
        births.reset_index(drop=True),
        sexes.reset_index(drop=True),
        rng=rng,
        form=pnr_form,
        reference_date=ref,
    )
    pnr.index = births.index
    fmt = _STRFTIME.get(profile.date_format, "%Y-%m-%d")
    out: dict[str, pd.Series] = {}
    if profile.kommun_column:
        out[profile.kommun_column[0]] = reg["kommun"]
    ids = profile.identifiers
    out[ids["personnummer"][0]] = reg["barn_id"].map(pnr)
    if "insats" in ids:
        codes = pd.factorize(reg["insats_id"], sort=True)[0]
        out[ids["insats"][0]] = pd.Series([f"INS{c + 1:07d}" for c in codes])
    if "registrering" in ids:
        codes = pd.factorize(reg["registrering_id"], sort=True)[0]
        out[ids["registrering"][0]] = pd.Series([f"REG{c + 1:08d}" for c in codes])
    for var_name, spellings in profile.columns.items():
        var = cat.variable(var_name)
        if var_name not in reg:
            continue
        s = reg[var_name]
        if var.type == "code":
            if labels == "sv":
                inverse = {
                    code: spelling for spelling, code in profile.values.get(var_name, {}).items()
                }
                # the profile's own spelling where it has one (stored normalised), else the label
                table = {c.code: inverse.get(c.code, c.sv) for c in var.codelist.codes}  # type: ignore[union-attr]
                s = s.map(table)
        elif var.type == "date":
            if profile.date_format == "excel_serial":
                s = ((s - pd.Timestamp("1899-12-30")).dt.days).astype("Int64").astype("str")
            else:
                s = s.dt.strftime(fmt)
        elif var.type == "integer":
            s = s.astype("Int64").astype("str")
        out[spellings[0]] = s
    for var_name, spec in profile.multi.items():
        var = cat.variable(var_name)
        codes = var.codelist.code_values  # type: ignore[union-attr]
        cols = [f"{var_name}__{c}" for c in codes]
        if cols[0] not in reg:
            continue
        filled = reg[cols].notna().any(axis=1)
        if spec.column:
            labels_of = {c.code: (c.sv if labels == "sv" else c.code) for c in var.codelist.codes}  # type: ignore[union-attr]
            sep = spec.separator + (" " if spec.separator == "," else "")
            joined = pd.Series("", index=reg.index, dtype="object")
            for c in codes:
                mark = reg[f"{var_name}__{c}"].fillna(False).to_numpy(dtype=bool)
                joined = joined + np.where(mark, labels_of[c] + sep, "")
            joined = joined.str.slice(0, -len(sep)).where(joined != "")
            out[spec.column[0]] = joined.where(filled & (joined != ""))
        else:
            for code, spellings in spec.option_columns.items():
                col = reg[f"{var_name}__{code}"]
                out[spellings[0]] = pd.Series(
                    np.where(col.fillna(False), "X", ""), dtype="str"
                ).where(filled)
    frame = pd.DataFrame(out)
    return frame.astype("str")


def write_csv(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    delimiter: str = ";",
    footer: list[str] | None = None,
) -> Path:
    """Write an export as a case system would (optionally with a totals footer line)."""
    buf = io.StringIO()
    frame.to_csv(buf, sep=delimiter, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    text = buf.getvalue()
    if footer:
        text += "\r\n".join(footer) + "\r\n"
    path = Path(path)
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    date_columns: list[str] | None = None,
    serial_dates: bool = False,
) -> Path:
    """Write an export as an Excel file: text cells, date columns as real dates or serials."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Export"
    ws.append(list(frame.columns))
    date_idx = {frame.columns.get_loc(c) for c in (date_columns or []) if c in frame}
    for row in frame.itertuples(index=False):
        cells: list[object] = []
        for i, v in enumerate(row):
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
                cells.append(None)
            elif i in date_idx:
                d = dt.date.fromisoformat(str(v)[:10])
                cells.append((d - dt.date(1899, 12, 30)).days if serial_dates else d)
            else:
                cells.append(str(v))
        ws.append(cells)
    path = Path(path)
    wb.save(path)
    return path
