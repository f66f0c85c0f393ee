"""pyproject.toml and environment.yml pin the same version ranges; the layout is as designed."""

from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name


def _pyproject(root):
    data = tomllib.loads((root / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    out = {canonicalize_name(r.name): r.specifier for r in map(Requirement, deps)}
    out["python"] = SpecifierSet(data["project"]["requires-python"])
    return out


def _environment(root):
    env = yaml.safe_load((root / "environment.yml").read_text())
    out = {}
    pip_section = None
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section = [d for d in dep.get("pip") if not d.startswith("-e ")]
            for req in pip_section:  # PyPI-only packages are pinned in the pip section
                m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", req)
                assert m, req
                out[canonicalize_name(m.group(1))] = SpecifierSet(m.group(2).replace(" ", ""))
            pip_section = [d for d in dep.get("pip") if d.startswith("-e ")]
            continue
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", dep)
        assert m, dep
        out[canonicalize_name(m.group(1))] = SpecifierSet(m.group(2).replace(" ", ""))
    return out, pip_section


def test_environment_yml_pins_match_pyproject(root):
    py = _pyproject(root)
    env, pip_section = _environment(root)
    env.pop("pip", None)
    assert set(env) == set(py), (
        f"only in env: {set(env) - set(py)}, only in pyproject: {set(py) - set(env)}"
    )
    for name, spec in py.items():
        assert env[name] == spec, f"{name}: pyproject {spec} != environment.yml {env[name]}"
    assert pip_section == ["-e ."]


def test_every_dependency_has_upper_and_lower_bound(root):
    for name, spec in _pyproject(root).items():
        ops = {s.operator for s in spec}
        assert ">=" in ops and "<" in ops, f"{name} needs a range like >=X,<Y, has {spec}"


def test_layout_has_designed_top_level_folders(root):
    for part in [
        "notebooks/reports",
        "src/workbench",
        "data/reference",
        "parameters",
        "reports",
        "tests",
        "environment.yml",
        "README.md",
        "pyproject.toml",
        "Makefile",
        ".ci/run",
    ]:
        assert (root / part).exists(), part


def test_ci_runs_exactly_the_readme_test_command(root):
    readme = (root / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    ci = (root / ".ci" / "run").read_text()
    commands = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands[-1] == "make test"


def test_makefile_targets_have_help_lines(root):
    text = (root / "Makefile").read_text()
    for target in ["help", "demo", "test", "lab", "reports"]:
        assert re.search(rf"^{target}:.*## ", text, re.M), target


def test_private_zones_are_git_ignored(root):
    ignored = (root / ".gitignore").read_text().splitlines()
    for entry in ["data/demo/", "runs/", "reports/*", ".venv/"]:
        assert entry in ignored
