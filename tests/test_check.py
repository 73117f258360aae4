"""Gradient check: passes on every example, fails loudly on a wrong op, tells kinks apart."""

from __future__ import annotations

import json

import pytest

from cgraph_cli import ops
from cgraph_cli.check import check
from cgraph_cli.loader import load_text

from .conftest import GRAPHS
from .golden_cases import graph_files


@pytest.mark.parametrize("graph", graph_files(), ids=lambda p: p.stem)
def test_check_passes_on_every_example(graph, invoke):
    result = invoke("check", graph)
    assert result.exit_code == 0, result.stdout
    assert "all agree" in result.stdout and "FAIL" not in result.stdout


def test_a_deliberately_wrong_op_fails_loudly(invoke, monkeypatch):
    real = ops.OPS["mul"]
    wrong = ops.Op(**{f: getattr(real, f) for f in real.__dataclass_fields__} |
                   {"local_grads": lambda xs, out, wanted: [1.01 * g if g is not None else None
                                                           for g in real.local_grads(xs, out, wanted)]})
    monkeypatch.setitem(ops.OPS, "mul", wrong)
    result = invoke("check", GRAPHS / "apples.yaml")
    assert result.exit_code == 1
    assert "FAILED" in result.stdout and result.stdout.count("FAIL") >= 4
    data = json.loads(invoke("check", GRAPHS / "apples.yaml", "--json").stdout)
    assert data["passed"] is False and {c["status"] for c in data["checks"]} == {"FAIL"}


def test_relu_at_its_kink_is_reported_not_failed(invoke, graph_file):
    path = graph_file("inputs: {x: 0, y: 2}\nnodes:\n  r: {op: relu, inputs: [x]}\n"
                      "  z: {op: add, inputs: [r, y]}\n")
    result = invoke("check", path, "--json")
    assert result.exit_code == 0
    statuses = {c["name"]: c["status"] for c in json.loads(result.stdout)["checks"]}
    assert statuses == {"x": "kink", "y": "ok"}


def test_a_kink_elsewhere_does_not_taint_other_inputs():
    plan = load_text("inputs: {x: 0, y: 2}\nnodes:\n  r: {op: relu, inputs: [x]}\n"
                     "  s: {op: mul, inputs: [y, y]}\n  z: {op: add, inputs: [r, s]}\n")
    _, checks = check(plan)
    assert [(c.name, c.status) for c in checks] == [("x", "kink"), ("y", "ok")]


def test_a_function_undefined_within_the_step_is_reported(invoke, graph_file):
    path = graph_file("inputs: {x: 1e-7}\nnodes: {y: {op: log, inputs: [x]}}\n")
    data = json.loads(invoke("check", path, "--json").stdout)
    assert data["checks"][0]["status"] == "undefined" and "log" in data["checks"][0]["note"]


def test_the_step_scales_with_the_input():
    plan = load_text("inputs: {big: 1e6, small: 0.001}\nnodes: {z: {op: mul, inputs: [big, small]}}\n")
    _, checks = check(plan, eps=1e-6)
    assert [c.step for c in checks] == [1.0, 1e-6]
    assert all(c.status == "ok" for c in checks)


def test_check_wrt_and_tolerances(invoke):
    data = json.loads(invoke("check", GRAPHS / "apples.yaml", "--wrt", "tax", "--json").stdout)
    assert [c["name"] for c in data["checks"]] == ["tax"]
    assert data["checks"][0]["backprop"] == 200
    assert invoke("check", GRAPHS / "apples.yaml", "--eps", "0").exit_code == 2
    assert invoke("check", GRAPHS / "apples.yaml", "--wrt", "price").exit_code == 2
