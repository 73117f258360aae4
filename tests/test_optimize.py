"""cgraph optimize: optima and shadow prices checked against textbook answers and closed forms."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import cgraph_cli as cg

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def near(got: float, want: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return abs(got - want) <= rel * abs(want) + abs_


def test_rosenbrock_s_minimum_is_found_by_newton_with_the_exact_hessian():
    found = cg.load(GRAPHS / "rosenbrock.yaml").optimize(["x0", "x1"], minimize="y")
    assert found["method"] == "trust-exact" and found["success"]
    assert near(found["inputs"]["x0"], 1.0) and near(found["inputs"]["x1"], 1.0) and found["value"] <= 1e-20


def test_rosenbrock_from_a_latin_hypercube_of_starts_keeps_the_best():
    found = cg.load(GRAPHS / "rosenbrock.yaml").optimize(["x0=-2:2", "x1=-2:2"], minimize="y", starts=6, seed=3)
    assert len(found["starts"]) == 6 and found["value"] == min(s["value"] for s in found["starts"])
    assert near(found["inputs"]["x0"], 1.0, 1e-7) and near(found["inputs"]["x1"], 1.0, 1e-7)
    again = cg.load(GRAPHS / "rosenbrock.yaml").optimize(["x0=-2:2", "x1=-2:2"], minimize="y", starts=6, seed=3)
    assert [s["start"] for s in again["starts"]] == [s["start"] for s in found["starts"]]  # seeded
    other = cg.load(GRAPHS / "rosenbrock.yaml").optimize(["x0=-2:2", "x1=-2:2"], minimize="y", starts=6, seed=4)
    assert [s["start"] for s in other["starts"]] != [s["start"] for s in found["starts"]]


# Nocedal & Wright, Numerical Optimization (2nd ed.), example 12.1 (and 12.3 as an inequality):
# min x1 + x2 subject to x1² + x2² = 2 (or <= 2): x* = (-1, -1), multiplier λ* = 1/2 for
# c(x) = 2 - x1² - x2², so d(optimum)/d(the bound 2) = -1/2.
_NW = "inputs: {x1: 0.5, x2: 0.3}\nnodes:\n  f: x1 + x2\n"


@pytest.mark.parametrize("sense", ["<=", "=="])
def test_nocedal_and_wright_example_12_1_gives_its_optimum_and_multiplier(sense):
    found = cg.loads(_NW).optimize(["x1", "x2"], minimize="f", subject_to=[f"x1 ** 2 + x2 ** 2 {sense} 2"])
    assert found["method"] == "SLSQP" and found["success"]
    assert near(found["inputs"]["x1"], -1.0, 1e-7) and near(found["inputs"]["x2"], -1.0, 1e-7)
    (constraint,) = found["constraints"]
    assert constraint["binds"] and near(constraint["value"], 2.0, 1e-9)
    assert near(constraint["shadow_price"], -0.5, 1e-6)


def test_a_consumer_s_shadow_price_is_the_marginal_utility_of_income():
    # max sqrt(x y) subject to x + 2 y <= I: x = I/2, y = I/4, U = sqrt(I²/8), dU/dI = 1/sqrt(8)
    text = "inputs: {x: 1.0, y: 1.0}\nnodes:\n  utility: sqrt(x * y)\n"
    found = cg.loads(text).optimize(["x=0.01:", "y=0.01:"], maximize="utility", subject_to=["x + 2 * y <= 100"])
    assert near(found["inputs"]["x"], 50.0, 1e-7) and near(found["inputs"]["y"], 25.0, 1e-7)
    assert near(found["value"], math.sqrt(1250.0), 1e-12)
    (budget,) = found["constraints"]
    assert budget["binds"] and near(budget["shadow_price"], 1 / math.sqrt(8), 1e-6)
    # and the shadow price is what the optimum moves by when the budget does (solved again)
    more = cg.loads(text).optimize(["x=0.01:", "y=0.01:"], maximize="utility", subject_to=["x + 2 * y <= 100.01"])
    assert near((more["value"] - found["value"]) / 0.01, budget["shadow_price"], 1e-4)


_A, _B, _C, _F = 2000, 250, 1.1, 0.025  # coffee_cart.yaml: cups = A - B p, cost c, card fee f


def _profit_slope(p: float) -> float:
    """d(profit)/d(price) by hand: (A - 2 B p)(1 - f) + B c."""
    return (_A - 2 * _B * p) * (1 - _F) + _B * _C


def test_the_coffee_cart_s_best_price_is_the_closed_form():
    found = cg.load(GRAPHS / "coffee_cart.yaml").optimize(["price=1:9"], maximize="profit")
    best = (_A * (1 - _F) + _B * _C) / (2 * _B * (1 - _F))  # where the slope is 0
    assert near(found["inputs"]["price"], best, 1e-9) and found["vary"][0]["at_bound"] is None


def test_a_binding_constraint_and_a_binding_bound_get_their_shadow_prices():
    cart = cg.load(GRAPHS / "coffee_cart.yaml")
    found = cart.optimize(["price=1:9"], maximize="profit", subject_to=["cups >= 900"])
    assert near(found["inputs"]["price"], 4.4, 1e-9)  # cups = 900 at p = (2000 - 900) / 250
    (cups,) = found["constraints"]
    # d(profit*)/d(900) = d(profit)/dp × dp/d(cups) = slope(4.4) × (-1/250) = -0.32
    assert cups["binds"] and near(cups["shadow_price"], _profit_slope(4.4) * (-1 / _B), 1e-6)
    capped = cart.optimize(["price=1:4"], maximize="profit")
    (price,) = capped["vary"]
    assert price["value"] == 4.0 and price["at_bound"] == "upper"
    assert near(price["shadow_price"], _profit_slope(4.0), 1e-9)  # d(profit*)/d(the upper bound)


def test_a_constraint_that_does_not_bind_has_slack_and_no_price():
    found = cg.load(GRAPHS / "coffee_cart.yaml").optimize(["price=1:9"], maximize="profit", subject_to=["cups >= 100"])
    (cups,) = found["constraints"]
    assert not cups["binds"] and cups["shadow_price"] == 0 and near(cups["slack"], cups["value"] - 100)


def test_the_cli_reports_as_a_solver_does_and_writes_the_graph_at_the_optimum(invoke, tmp_path):
    path = str(GRAPHS / "coffee_cart.yaml")
    args = ["optimize", path, "--maximize", "profit", "--vary", "price=1:9", "--subject-to", "cups >= 900"]
    table = invoke(*args)
    assert table.exit_code == 0, table.stderr
    assert "profit maximized to 1971.0000000000005 at price = 4.4 (SLSQP" in table.stdout
    assert "cups >= 900" in table.stdout and "shadow price" in table.stdout and "yes" in table.stdout
    out = json.loads(invoke(*args, "--json").stdout)
    assert out["sense"] == "maximize" and out["constraints"][0]["binds"] is True
    csv = invoke(*args, "--csv").stdout.splitlines()
    assert csv[0] == "kind,name,value,lower,upper,slack,binds,shadow_price" and csv[-1].startswith("constraint,")
    target = tmp_path / "best.yaml"
    assert invoke(*args, "-o", str(target)).exit_code == 0
    assert cg.load(target).inputs["price"] == out["inputs"]["price"]


def test_a_kink_at_the_start_is_a_warning_from_the_gradient_check(invoke, graph_file):
    path = graph_file("inputs: {x: 0.0}\nnodes:\n  y: relu(x) + (x - 2) ** 2\n")
    result = invoke("optimize", path, "--minimize", "y", "--vary", "x")
    assert result.exit_code == 0 and "warning" in result.stderr and "gradient check differs" in result.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--vary", "price"], "say what to optimize"),
        (["--maximize", "profit", "--minimize", "profit", "--vary", "price"], "say what to optimize"),
        (["--maximize", "proft", "--vary", "price"], "--of: the graph has no node 'proft'; did you mean 'profit'?"),
        (["--maximize", "profit", "--vary", "cups"], "'cups' is a node; only inputs can be varied"),
        (["--maximize", "profit", "--vary", "price=9:1"], "'price=9:1': LO must be below HI"),
        (["--maximize", "profit", "--vary", "price=a:b"], "--vary: 'price=a:b'"),
        (["--maximize", "profit", "--vary", "price", "--starts", "3"], "--starts needs bounds"),
        (["--maximize", "profit", "--vary", "price", "--subject-to", "cupz >= 9"], "unknown name 'cupz'"),
        (["--maximize", "profit", "--vary", "price", "--subject-to", "cups + 9"], "a constraint compares"),
        (["--maximize", "profit", "--vary", "price", "--subject-to", "cups >="], "expected an operand"),
        (["--maximize", "profit", "--vary", "price,price"], "'price' is varied twice"),
    ],
)
def test_what_optimize_cannot_do_is_one_clear_line(invoke, args, words):
    result = invoke("optimize", str(GRAPHS / "coffee_cart.yaml"), *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert words in result.stderr, result.stderr


def test_a_point_without_a_value_asks_for_bounds(invoke, graph_file):
    path = graph_file("inputs: {x: 2.0}\nnodes:\n  y: log(x) + x ** 2\n")
    result = invoke("optimize", path, "--minimize", "y", "--vary", "x")
    assert result.exit_code == 1 and result.stdout == ""
    assert "bound the inputs with --vary NAME=LO:HI" in result.stderr
    bounded = json.loads(invoke("optimize", path, "--minimize", "y", "--vary", "x=0.5:", "--json").stdout)
    (x,) = bounded["vary"]  # y rises for every x > 0: the least is at the bound, which moves it by y' = 1/x + 2x
    assert x["value"] == 0.5 and x["at_bound"] == "lower" and near(x["shadow_price"], 3.0, 1e-9)
