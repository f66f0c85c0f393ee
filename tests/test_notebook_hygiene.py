"""Notebook hygiene without a kernel: parameters cell, no outputs, no logic, workbench imports only."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from workbench.params import NOTEBOOK_PARAMETERS, RUN_PARAMETERS

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((ROOT / "notebooks" / "reports").glob("*.ipynb"))
ALL_NOTEBOOKS = sorted(
    [*(ROOT / "notebooks").rglob("*.ipynb"), *(ROOT / "benchmarks" / "notebooks").glob("*.ipynb")]
)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell: dict) -> str:
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


def test_there_is_at_least_one_report_template():
    assert any(p.name == "10-follow-up.ipynb" for p in TEMPLATES)


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs_or_execution_counts(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: outputs committed"
            assert cell.get("execution_count") is None, f"{path.name}: execution count committed"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_declares_workbench_kernel(path):
    meta = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    assert meta["kernelspec"]["name"] == "workbench"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_has_one_parameters_cell_right_after_title(path):
    cells = _cells(path)
    tagged = [
        i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    assert tagged == [1], f"parameters cell at {tagged}"
    assert cells[0]["cell_type"] == "markdown" and _src(cells[0]).startswith("# ")


def _parameters(path):
    """The run parameters every report takes, then the notebook's own (if any)."""
    return (*RUN_PARAMETERS, *NOTEBOOK_PARAMETERS.get(path.stem, ()))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_parameters_cell_is_annotated_literals_matching_the_schema(path):
    cell = _cells(path)[1]
    src = _src(cell)
    tree = ast.parse(src)
    found = {}
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), f"not an annotated assignment: {ast.unparse(node)}"
        assert isinstance(node.value, ast.Constant), f"not a literal: {ast.unparse(node)}"
        found[node.target.id] = (node.annotation.id, node.value.value)
    for line in src.splitlines():
        assert "#" in line, f"parameter without a trailing comment: {line}"
    expected = {p.name: (p.type.__name__, p.default) for p in _parameters(path)}
    assert found == expected


FORBIDDEN = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.Lambda,
    ast.ListComp,
    ast.DictComp,
    ast.SetComp,
    ast.GeneratorExp,
)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_has_no_business_logic(path):
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        src = _src(cell)
        assert len(src.strip().splitlines()) <= 8, f"cell too long, move it to the package:\n{src}"
        for node in ast.walk(ast.parse(src)):
            assert not isinstance(node, FORBIDDEN), f"{type(node).__name__} in notebook:\n{src}"
            if isinstance(node, ast.Import):
                pytest.fail(f"plain import in notebook: {ast.unparse(node)}")
            if isinstance(node, ast.ImportFrom):
                assert node.module == "workbench" or node.module.startswith(
                    ("workbench.", "IPython.display")
                )
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("open", "exec", "eval", "print"), ast.unparse(node)
            if isinstance(node, ast.Attribute):
                assert not node.attr.startswith("to_") or node.attr in ("to_frame",), ast.unparse(
                    node
                )


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_setup_cell_is_tagged_for_removal_and_loads_settings_once(path):
    cells = _cells(path)
    setup = cells[2]
    assert "remove-cell" in setup["metadata"].get("tags", [])
    assert _src(setup).count("load_settings(") == 1
    assert sum(_src(c).count("load_settings(") for c in cells) == 1


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_papermill_infers_every_parameter_with_its_help_text(path):
    import papermill as pm

    inferred = pm.inspect_notebook(str(path))
    assert set(inferred) == {p.name for p in _parameters(path)}
    for p in _parameters(path):
        assert inferred[p.name]["inferred_type_name"] == "str"
        assert inferred[p.name]["help"] == p.help
