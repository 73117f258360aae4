"""What the speed and start-up numbers rely on, checked structurally (fast, no timing)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import GRAPHS

PACKAGE = Path(__file__).resolve().parent.parent / "cgraph_cli"

_IMPORTED_BY = """
import sys
from cgraph_cli.cli import cli
code = cli.main(sys.argv[1:], standalone_mode=False)
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def modules_imported_by(*args: str) -> set[str]:
    """The modules a cgraph command line imports, run in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _IMPORTED_BY, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stderr.split()[-1000:])  # the module list is the last line


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.fixture
def json_graph(tmp_path):
    path = tmp_path / "apples.json"
    path.write_text('{"inputs": {"a": 100, "n": 2}, "nodes": {"cost": {"op": "mul", "inputs": ["a", "n"]}}}')
    return str(path)


def test_run_json_of_a_json_file_imports_neither_yaml_nor_rich(json_graph):
    imported = modules_imported_by("run", json_graph, "--json")
    assert "cgraph_cli.core.engine" in imported  # it did run
    assert not top_level(imported) & {"yaml", "rich", "dataclasses", "decimal", "shutil"}


def test_run_json_of_a_yaml_file_imports_no_rich_json_or_dataclasses():
    imported = modules_imported_by("run", str(GRAPHS / "apples.yaml"), "--json")
    assert "yaml" in top_level(imported)
    assert not top_level(imported) & {"rich", "json", "dataclasses", "decimal", "shutil"}


def test_help_imports_nothing_of_the_core():
    imported = modules_imported_by("--help")
    ours = {m for m in imported if m.startswith("cgraph_cli.")}
    assert not {m for m in ours if not m.startswith("cgraph_cli.cli")} - {"cgraph_cli.core", "cgraph_cli.core.errors"}
    assert not top_level(imported) & {"yaml", "rich", "shutil"}


def test_no_function_of_the_core_calls_itself():
    # A million-node chain must not need a million stack frames: every walk is a loop.
    recursive = []
    for path in PACKAGE.rglob("*.py"):
        for fn in ast.walk(ast.parse(path.read_text())):
            # (an op's derivatives, written under its name, call the op of that name, not themselves)
            if isinstance(fn, ast.FunctionDef) and not any(
                isinstance(d, ast.Attribute) and d.attr == "derivatives" for d in fn.decorator_list
            ):
                called = {c.func.id for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
                called |= {
                    c.func.attr
                    for c in ast.walk(fn)
                    if isinstance(c, ast.Call)
                    and isinstance(c.func, ast.Attribute)
                    and isinstance(c.func.value, ast.Name)
                    and c.func.value.id == "self"
                }
                if fn.name in called:
                    recursive.append(f"{path.name}:{fn.lineno} {fn.name}")
    assert recursive == []


def test_numpy_is_imported_only_when_a_sweep_runs():
    assert "numpy" not in top_level(modules_imported_by("run", str(GRAPHS / "loan_payment.yaml")))
    assert "numpy" not in top_level(modules_imported_by("grad", str(GRAPHS / "apples.yaml"), "--elasticity", "--csv"))
    swept = modules_imported_by("run", str(GRAPHS / "apples.yaml"), "--sweep", "apple=1,2", "--json")
    assert "numpy" in top_level(swept) and "rich" not in top_level(swept)


def test_a_json_file_with_formulas_imports_no_yaml_parser(tmp_path):
    path = tmp_path / "profit.json"
    path.write_text('{"inputs": {"p": 10, "u": 3}, "constants": {"f": 5}, "nodes": {"y": "p * u - f"}}')
    imported = modules_imported_by("run", str(path), "--json")
    assert "cgraph_cli.read.formula" in imported and "yaml" not in top_level(imported)
