from __future__ import annotations

import copy

import pytest
import yaml

from workbench.catalogue import CatalogueError, list_variables, load_catalogue, parse_catalogue

DOMAIN_VARIABLES = [
    "kon",
    "fodelsear",
    "ursprung",
    "ensamkommande",
    "aldersgrupp",
    "identifierad_utsatthet",
    "grundproblematik",
    "aktualiseringsvag",
    "anmalare",
    "aktualiseringsdatum",
    "utredning_start",
    "utredning_slut",
    "insatstyp",
    "lagrum",
    "insatsens_fokus",
    "utforare",
    "insats_start",
    "insats_slut",
    "samtal_med_barnet",
    "barnets_asikt_dokumenterad",
    "maluppfyllelse",
    "riskbedomning",
    "forandring_situation",
    "barnets_syn",
    "vardnadshavares_syn",
    "avslutsorsak",
    "aterkomst_12man",
]


def test_catalogue_has_every_domain_variable():
    cat = load_catalogue()
    missing = [v for v in DOMAIN_VARIABLES if v not in cat.variables]
    assert not missing


def test_catalogue_variables_have_labels_category_level_type():
    for v in load_catalogue().variables.values():
        assert v.sv and v.en and v.category in ("background", "process", "result")
        assert v.levels and v.type in ("code", "multi", "date", "integer", "boolean")
        if v.type in ("code", "multi") and not v.groups_of:
            assert v.codelist is not None and v.codelist.status in ("official", "placeholder")


def test_catalogue_codes_unique_and_labelled_in_swedish():
    for cl in load_catalogue().codelists.values():
        codes = cl.code_values
        assert len(codes) == len(set(codes))
        assert all(c.sv for c in cl.codes)


def test_catalogue_variants_do_not_map_to_two_codes():
    for cl in load_catalogue().codelists.values():
        seen = {}
        for c in cl.codes:
            for label in (c.code, c.sv, *c.variants):
                key = " ".join(str(label).lower().split())
                assert seen.setdefault(key, c.code) == c.code, f"{cl.name}: {label!r} ambiguous"


def test_catalogue_official_minimum_variables_are_never_optional():
    for v in load_catalogue().variables.values():
        assert not (v.official_minimum and v.optional), v.name


def test_catalogue_multi_select_columns_named_by_code():
    var = load_catalogue().variable("insatsens_fokus")
    assert var.columns[0] == "insatsens_fokus__halsa"
    assert len(var.columns) == len(var.codelist.codes)


def test_list_variables_lists_every_variable():
    df = list_variables()
    assert len(df) == len(load_catalogue().variables)
    assert {"variabel", "benamning", "kategori", "typ", "valfri"} <= set(df.columns)
    assert set(list_variables(optional=True)["variabel"]) >= {"riskbedomning", "insatsens_fokus"}


def _raw(root):
    return yaml.safe_load((root / "data/reference/catalogue.yaml").read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["variables"][0].update(category="bakgrund"), "category"),
        (lambda r: r["variables"][0].update(codelist="nope"), "codelist"),
        (
            lambda r: r["codelists"]["kon"]["codes"].append(
                dict(r["codelists"]["kon"]["codes"][0])
            ),
            "duplicate",
        ),
        (lambda r: r.update(version=2026.1), "version"),
        (lambda r: r["variables"].append(dict(r["variables"][0])), "duplicate"),
    ],
)
def test_parse_catalogue_rejects_malformed_entries(root, mutate, message):
    raw = copy.deepcopy(_raw(root))
    mutate(raw)
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(raw, path=root / "x.yaml")
