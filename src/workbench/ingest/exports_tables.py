"""Synthetic exports of the optional tables (provider follow-up, children's survey) for tests.

The counterpart of :mod:`workbench.ingest.exports` for ``table:`` profiles: canonical synthetic
tables rendered in a profile's layout with Swedish labels, synthetic personnummer and the export
system's own ids, plus a free-text column holding a canary string that must never reach the
canonical data. Files made from them are private-zone data like any export.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from workbench.catalogue import Catalogue, load_catalogue
from workbench.ingest.profile import Profile

#: Planted in the free-text column of every export row: must never appear in canonical data.
FREE_TEXT_CANARY = "FRITEXT-KANARIE Kalle bor på Storgatan 1"


def _labels(cat: Catalogue, name: str, s: pd.Series, prof: Profile) -> pd.Series:
    var = cat.variable(name)
    inverse = {code: spelling for spelling, code in prof.values.get(name, {}).items()}
    codes = var.codelist.codes  # type: ignore[union-attr]
    table = {c.code: inverse.get(c.code, c.sv) for c in codes}
    return s.map(table)


def _render(frame: pd.DataFrame, prof: Profile, cat: Catalogue) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    for name, spellings in prof.columns.items():
        if name not in frame:
            continue
        s = frame[name]
        if name in ("utforare_id", "utforare_namn", "lan"):
            pass
        elif name == "besvarad":
            s = s.map({True: "Ja", False: "Nej"})
        elif name in ("ar", "alder"):
            s = s.astype("Int64").astype("str")
        elif cat.variable(name).type == "code":
            s = _labels(cat, name, s, prof)
        elif cat.variable(name).type == "date":
            s = s.dt.strftime("%Y-%m-%d")
        out[spellings[0]] = s.reset_index(drop=True)
    return out


def placement_export(
    tables: dict[str, pd.DataFrame],
    prof: Profile,
    *,
    seed: int = 0,
    reference_date: dt.date | None = None,
    cat: Catalogue | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A provider follow-up export (one row per rating; unrated placements with empty ratings).

    ``tables`` holds ``providers``, ``placements``, ``provider_ratings`` and ``children`` (for
    birth years and sex). Returns the export (all text) and a key frame, row-aligned, with the
    canonical ``placering_id``, ``bedomning_id`` (NA for unrated rows), ``barn_id``,
    ``insats_id`` and the export's ``personnummer``, placement, rating and intervention ids.
    """
    from workbench.pseudonym import synthetic_personnummer

    cat = cat or load_catalogue()
    rng = np.random.default_rng(seed)
    pl, rt, prov = tables["placements"], tables["provider_ratings"], tables["providers"]
    rows = pl.merge(
        rt.drop(columns=["utforare_id", "kommun", "ar"]), on="placering_id", how="left"
    )
    rows = rows.merge(prov, on="utforare_id", how="left", validate="m:1")
    rows = rows.sort_values(["kommun", "startdatum", "placering_id", "bedomning_id"])
    rows = rows.reset_index(drop=True)
    ref = reference_date or dt.date(int(rows["startdatum"].dt.year.max()) + 1, 12, 31)
    chi = tables["children"].set_index("barn_id").reindex(rows["barn_id"].unique())
    year = chi["fodelsear"].fillna(2005).astype(int).to_numpy()
    offset = rng.integers(0, 365, len(chi))
    births = pd.Series(pd.to_datetime([f"{y}-01-01" for y in year]) + pd.to_timedelta(offset, "D"))
    sexes = chi["kon"].where(chi["kon"].isin(["flicka", "pojke"]), "pojke").reset_index(drop=True)
    pnr = synthetic_personnummer(births, sexes, rng=rng, form="12-", reference_date=ref)
    pnr.index = chi.index
    key = pd.DataFrame(
        {
            "placering_id": rows["placering_id"],
            "bedomning_id": rows["bedomning_id"],
            "barn_id": rows["barn_id"],
            "insats_id": rows["insats_id"],
            "personnummer": rows["barn_id"].map(pnr),
            "export_placering": [
                f"PL{c + 1:07d}" for c in pd.factorize(rows["placering_id"], sort=True)[0]
            ],
            "export_bedomning": [
                None if pd.isna(b) else f"BD{c + 1:07d}"
                for b, c in zip(
                    rows["bedomning_id"],
                    pd.factorize(rows["bedomning_id"], sort=True)[0],
                    strict=True,
                )
            ],
            "export_insats": [
                None if pd.isna(i) else f"INS{c + 1:07d}"
                for i, c in zip(
                    rows["insats_id"], pd.factorize(rows["insats_id"], sort=True)[0], strict=True
                )
            ],
        }
    )
    out: dict[str, pd.Series] = {prof.kommun_column[0]: rows["kommun"]}
    ids = prof.identifiers
    out[ids["personnummer"][0]] = key["personnummer"]
    out[ids["placering"][0]] = key["export_placering"]
    if "bedomning" in ids:
        out[ids["bedomning"][0]] = key["export_bedomning"]
    if "insats" in ids:
        out[ids["insats"][0]] = key["export_insats"]
    out.update(_render(rows, prof, cat))
    if prof.ignore:
        out[prof.ignore[0]] = pd.Series(FREE_TEXT_CANARY, index=rows.index)
    frame = pd.DataFrame(out).astype("str")
    return frame, key


def survey_export(
    survey: pd.DataFrame, prof: Profile, *, cat: Catalogue | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A children's survey export (one row per invited child) with a free-text column.

    Returns the export and a row-aligned key frame (``enkat_id``, ``export_enkat``).
    """
    cat = cat or load_catalogue()
    rows = survey.sort_values(["kommun", "ar", "enkat_id"]).reset_index(drop=True)
    key = pd.DataFrame(
        {
            "enkat_id": rows["enkat_id"],
            "export_enkat": [f"S{i + 1:07d}" for i in range(len(rows))],
        }
    )
    out: dict[str, pd.Series] = {prof.kommun_column[0]: rows["kommun"]}
    out[prof.identifiers["enkat"][0]] = key["export_enkat"]
    out.update(_render(rows, prof, cat))
    if prof.ignore:
        text = pd.Series(FREE_TEXT_CANARY, index=rows.index)
        out[prof.ignore[0]] = text.where(rows["besvarad"].to_numpy())
    return pd.DataFrame(out).astype("str"), key


__all__ = ["FREE_TEXT_CANARY", "placement_export", "survey_export"]
