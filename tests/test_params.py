from __future__ import annotations

import pytest
import yaml

from workbench import params
from workbench.municipalities import InvalidCodeError, list_municipalities, normalise_kommun
from workbench.params import ParameterError, load_settings, normalise_run_parameters


def test_parameter_files_exist_for_all_290_and_match_their_codes(root):
    files = sorted((root / "parameters/municipalities").glob("*.yaml"))
    assert len(files) == 290
    codes = set(list_municipalities()["municipality_code"])
    for f in files:
        raw = params.check_municipality_file(f)
        assert raw["kommun"] in codes


def test_every_parameter_file_loads_into_settings(root):
    for f in sorted((root / "parameters/municipalities").glob("*.yaml")):
        s = load_settings(kommun=f.name.split("-", 1)[0])
        assert s.kommun == f.name.split("-", 1)[0]


def test_load_settings_merges_defaults_with_run_parameters():
    s = load_settings(kommun="2281", period="2020-2022", audience="internal")
    assert s.period == (2020, 2022) and s.audience == "internal"
    assert s.disclosure["min_count"] == 5
    assert s.municipality.name == "Sundsvall"


def test_load_settings_restores_papermill_integer_code():
    assert load_settings(kommun=180).kommun == "0180"
    assert load_settings(kommun=2281).kommun == "2281"
    assert load_settings(kommun=0).kommun == "0000"


def test_load_settings_rejects_yaml_octal_code_with_fix():
    with pytest.raises(ParameterError, match="octal.*quoted string"):
        load_settings(kommun=76)  # PyYAML's reading of unquoted 0114


def test_integer_code_that_is_also_a_yaml_octal_reading_is_rejected():
    # 114 is papermill's reading of "0114" but also PyYAML's reading of unquoted 0162.
    with pytest.raises(InvalidCodeError, match="unambiguously"):
        normalise_kommun(114)


@pytest.mark.parametrize("bad", ["180", "9999", "abc", 3.5, True, None])
def test_normalise_kommun_rejects_bad_codes(bad):
    with pytest.raises(InvalidCodeError, match="list_municipalities"):
        normalise_kommun(bad)


def test_run_parameters_reject_unknown_names():
    with pytest.raises(ParameterError, match="Unknown parameter"):
        normalise_run_parameters({"kommun": "0180", "kommunn": "x"})


@pytest.mark.parametrize("period", ["2016-2010", "16-25", "20160-2025", "abc"])
def test_run_parameters_reject_malformed_period(period):
    with pytest.raises(ParameterError, match="period"):
        normalise_run_parameters({"kommun": "0180", "period": period})


def test_run_parameters_reject_unknown_audience():
    with pytest.raises(ParameterError, match="audience"):
        normalise_run_parameters({"kommun": "0180", "audience": "press"})


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_yaml_loader_rejects_unquoted_code(tmp_path):
    p = _write(tmp_path, "0114-upplands-vasby.yaml", "kommun: 0114\n")
    assert yaml.safe_load(p.read_text())["kommun"] == 76  # the trap itself
    with pytest.raises(ParameterError, match="octal"):
        params.check_municipality_file(p)


def test_yaml_loader_rejects_code_not_matching_file_name(tmp_path):
    p = _write(tmp_path, "0114-upplands-vasby.yaml", 'kommun: "0115"\n')
    with pytest.raises(ParameterError, match="does not match"):
        params.check_municipality_file(p)


def test_yaml_loader_rejects_unknown_keys(tmp_path):
    p = _write(tmp_path, "0114-upplands-vasby.yaml", 'kommun: "0114"\nperiode: "2016"\n')
    with pytest.raises(ParameterError, match="unknown key"):
        params.check_municipality_file(p)


@pytest.fixture
def sundsvall_file(tmp_path, monkeypatch, root):
    """A copy of the project's parameters and reference data; returns Sundsvall's YAML path."""
    import shutil

    shutil.copytree(root / "parameters", tmp_path / "parameters")
    shutil.copytree(root / "data/reference", tmp_path / "data/reference")
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    return tmp_path / "parameters/municipalities/2281-sundsvall.yaml"


def test_municipality_file_overrides_defaults_key_by_key(sundsvall_file):
    sundsvall_file.write_text(
        'kommun: "2281"\nvariables_off: [riskbedomning]\nmin_registrations: 20\n'
    )
    s = load_settings(kommun="2281")
    assert s.variables_off == ("riskbedomning",)
    assert "riskbedomning" not in s.variables_in_use
    assert s.min_registrations == 20
    assert s.disclosure == {"min_count": 5, "min_denominator": 10, "secondary": True}
    assert load_settings(kommun="2262").variables_off == ()


def test_municipality_file_cannot_change_disclosure_rules(tmp_path):
    p = _write(tmp_path, "2281-sundsvall.yaml", 'kommun: "2281"\ndisclosure:\n  min_count: 3\n')
    with pytest.raises(ParameterError, match="only be set in parameters/defaults.yaml"):
        params.check_municipality_file(p)


def test_switching_off_a_non_optional_variable_is_rejected(sundsvall_file):
    sundsvall_file.write_text('kommun: "2281"\nvariables_off: [kon]\n')
    with pytest.raises(ParameterError, match="not optional"):
        load_settings(kommun="2281")


def test_demo_selection_is_vasternorrland_and_nation():
    codes, national = params.demo_selection()
    assert codes == ["2260", "2262", "2280", "2281", "2282", "2283", "2284"]
    assert national is True


def test_notebook_parameters_validated_with_defaults_and_become_file_suffix(monkeypatch):
    from workbench import params
    from workbench.run import variant_suffix

    spec = (
        params.ParamSpec("utforare", str, "", "leverantörens id"),
        params.ParamSpec("utforartyp", str, "", "typ"),
    )
    monkeypatch.setitem(params.NOTEBOOK_PARAMETERS, "99-test", spec)
    out = params.normalise_notebook_parameters("99-test", {"utforartyp": " hvb "})
    assert out == {"utforare": "", "utforartyp": "hvb"}
    assert variant_suffix(out) == "-utforartyp-hvb"
    assert variant_suffix({}) == ""
    with pytest.raises(params.ParameterError, match="Unknown parameter"):
        params.normalise_notebook_parameters("99-test", {"provider": "x"})
    with pytest.raises(params.ParameterError, match="not a code"):
        params.normalise_notebook_parameters("99-test", {"utforare": "../../etc"})
    with pytest.raises(params.ParameterError, match="must be a string"):
        params.normalise_notebook_parameters("99-test", {"utforare": 42})
    # notebooks without their own parameters take none
    with pytest.raises(params.ParameterError, match="no notebook-specific"):
        params.normalise_notebook_parameters("10-follow-up", {"utforare": "P00001"})
