"""Integers stay exact while a float holds them exactly, |n| ≤ 2**53, and become the nearest float
past it (README: Numbers): at the boundary itself, in every place that keeps integers. Each test
goes through a different part of cgraph, and each compares with numbers written out by hand:
2**53 = 9007199254740992, and 2**53 + 1 = 9007199254740993, which a float cannot hold."""

from __future__ import annotations

import json

import pytest

from cgraph_cli.core.engine import evaluate
from cgraph_cli.read.loader import load_bytes, load_text

TWO_53 = 9007199254740992


def typed(value):
    return (type(value).__name__, value)


@pytest.mark.parametrize(
    "text",
    [
        "inputs: {a: 9007199254740992, b: 9007199254740993, c: -9007199254740992, d: -9007199254740993}\n",
        '{"inputs": {"a": 9007199254740992, "b": 9007199254740993, "c": -9007199254740992, "d": -9007199254740993}}',
        # an alias sends the file the careful way (located.py), which must read numbers alike
        "inputs: {a: &n 9007199254740992, b: 9007199254740993, c: -9007199254740992, d: -9007199254740993}\n",
    ],
    ids=["yaml", "json", "careful"],
)
def test_the_file_keeps_two_to_the_53_an_integer_and_makes_one_more_a_float(text):
    plan = load_bytes(text.encode(), "t.yaml")
    values = dict(zip(plan.names, plan.values))
    assert typed(values["a"]) == ("int", TWO_53) and typed(values["c"]) == ("int", -TWO_53)
    assert typed(values["b"]) == ("float", 9007199254740992.0) and typed(values["d"]) == ("float", -9007199254740992.0)


def test_a_product_that_reaches_two_to_the_53_stays_an_integer_and_one_past_it_is_a_float():
    plan = load_text(
        "inputs: {h: 4503599627370496}\n"  # 2**52
        "nodes:\n"
        "  top: {op: mul, inputs: [h, 2]}\n"  # 2**53 exactly: an integer
        "  past: {op: add, inputs: [top, 1]}\n"  # 2**53 + 1: the nearest float
        "  below: {op: sub, inputs: [0, past]}\n"
        "  out: {op: add, inputs: [below, top]}\n"
    )
    result = evaluate(plan)
    assert typed(result.value_of("top")) == ("int", TWO_53)
    assert typed(result.value_of("past")) == ("float", 9007199254740992.0)
    assert typed(result.value_of("below")) == ("float", -9007199254740992.0)


def test_gradients_that_add_up_to_two_to_the_53_stay_integers_and_past_it_become_floats():
    # d(out)/dx adds 2**52 twice (exactly 2**53), d(out)/dy adds one more (2**53 + 1: a float)
    plan = load_text(
        "inputs: {x: 1, y: 1}\n"
        "nodes:\n"
        "  a: {op: mul, inputs: [x, 4503599627370496]}\n"
        "  b: {op: mul, inputs: [x, 4503599627370496]}\n"
        "  c: {op: mul, inputs: [y, 9007199254740992]}\n"
        "  out: {op: add, inputs: [a, b, c, y]}\n"
    )
    result = evaluate(plan)
    assert typed(result.grad_of("x")) == ("int", TWO_53)
    assert typed(result.grad_of("y")) == ("float", 9007199254740992.0)


def test_a_formulas_constant_worked_out_at_two_to_the_53_stays_an_integer():
    plan = load_text("inputs: {x: 1}\nnodes:\n  y: x * (2**52 * 2)\n  z: x * (2**53 + 1)\n  s: y + z\n")
    result = evaluate(plan)
    assert typed(result.value_of("y")) == ("int", TWO_53)
    assert typed(result.value_of("z")) == ("float", 9007199254740992.0)


def test_json_writes_two_to_the_53_as_an_integer_and_one_more_as_a_float(invoke, graph_file):
    path = graph_file("inputs: {h: 4503599627370496}\nnodes:\n  top: h * 2\n  past: top + 1\n")
    out = invoke("run", path, "--json").stdout
    assert '"value": 9007199254740992,' in out and '"value": 9007199254740992.0,' in out
    values = {n["name"]: n["value"] for n in json.loads(out)["nodes"]}
    assert typed(values["top"]) == ("int", TWO_53) and typed(values["past"]) == ("float", 9007199254740992.0)


def test_derive_writes_the_same_integers_and_floats(invoke, graph_file):
    path = graph_file("inputs: {x: 3}\nnodes:\n  y: x * 4503599627370496 * 2 + x\n")
    derived = invoke("derive", path, "--wrt", "x")
    assert derived.exit_code == 0, derived.stderr
    value = json.loads(invoke("run", "-", "--json", input=derived.stdout).stdout)["value"]
    assert typed(value) == ("float", 9007199254740992.0)  # 2**53 + 1 is past exact
    grad = json.loads(invoke("grad", path, "--wrt", "x", "--json").stdout)["gradients"]["x"]
    assert typed(grad) == typed(value)
