"""cgraph seek: the input value that makes a node hit a target, checked against answers worked out
apart (closed forms in mpmath, scipy's brentq on the formula written in Python)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mpmath as mp
import pytest

import cgraph_cli as cg

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def _as_close_as_floats_allow(graph, node: str, by: str, answer: float, target: float) -> None:
    """The node at the answer is the target, or the target lies between the node's values at the
    answer and at one of its neighbouring floats, the nearer of the two to it (no float between)."""
    at = lambda x: graph.run(set={by: x}, of=node).value  # noqa: E731
    miss = at(answer) - target
    if miss == 0:
        return
    sides = [at(math.nextafter(answer, toward)) - target for toward in (math.inf, -math.inf)]
    other = next(side for side in sides if side * miss <= 0)
    assert abs(miss) <= abs(other)


def test_the_loan_rate_for_a_given_payment_is_the_one_brentq_finds_on_the_formula():
    from scipy.optimize import brentq

    graph = cg.load(GRAPHS / "loan_payment.yaml")
    target = 1500.0

    def payment(annual_rate):  # the formula, written apart: P r / (1 - (1 + r)^-n)
        r = annual_rate / 12
        return 300000 * r / (1 - (1 + r) ** -360)

    expected = brentq(lambda a: payment(a) - target, 0.01, 0.2, xtol=1e-300, rtol=4 * 2.0**-52)
    found = graph.seek("payment", target, "annual_rate")
    assert abs(found["value"] - expected) <= 4 * math.ulp(expected)
    assert found["reached"] == graph.run(set={"annual_rate": found["value"]}).value
    _as_close_as_floats_allow(graph, "payment", "annual_rate", found["value"], target)
    assert found["evaluations"] <= 15  # Newton with the exact derivative: a handful of steps
    newton = [step for step in found["iterations"] if step["step"] == "newton"]
    assert len(newton) >= 3 and all(step["derivative"] > 0 for step in newton)


def _break_even_prices() -> tuple[mp.mpf, mp.mpf]:
    """The coffee cart's profit (p(1 - f) - c)(A - B p) - R = 0, a quadratic: both roots, in mpmath."""
    mp.mp.dps = 50
    c, f, R, A, B = mp.mpf("1.1"), mp.mpf("0.025"), mp.mpf(900), mp.mpf(2000), mp.mpf(250)
    a, b, k = -B * (1 - f), A * (1 - f) + B * c, -(A * c + R)
    root = mp.sqrt(b * b - 4 * a * k)
    return tuple(sorted(((-b + root) / (2 * a), (-b - root) / (2 * a))))  # type: ignore[return-value]


def test_the_coffee_carts_break_even_prices_are_the_quadratics_roots():
    graph = cg.load(GRAPHS / "coffee_cart.yaml")
    low, high = _break_even_prices()
    found = graph.seek("profit", 0, "price")  # from 2.5: the lower root
    assert abs(found["value"] - float(low)) <= 2 * math.ulp(float(low))
    _as_close_as_floats_allow(graph, "profit", "price", found["value"], 0.0)
    other = graph.seek("profit", 0, "price", between=(4, 9))
    assert abs(other["value"] - float(high)) <= 2 * math.ulp(float(high))
    _as_close_as_floats_allow(graph, "profit", "price", other["value"], 0.0)


def test_the_implied_volatility_prices_the_call_at_the_target_by_the_closed_form():
    graph = cg.load(GRAPHS / "black_scholes.yaml")
    sigma = graph.seek("call", 5, "sigma")["value"]
    mp.mp.dps = 40
    S, K, r, T, s = mp.mpf(42), mp.mpf(40), mp.mpf("0.1"), mp.mpf("0.5"), mp.mpf(sigma)
    d1 = (mp.log(S / K) + (r + s**2 / 2) * T) / (s * mp.sqrt(T))
    call = S * mp.ncdf(d1) - K * mp.exp(-r * T) * mp.ncdf(d1 - s * mp.sqrt(T))
    assert abs(call - 5) < 1e-14


def test_a_start_far_off_or_a_flat_start_is_bracketed_and_still_exact():
    graph = cg.loads("inputs: {x: 0.0}\nnodes:\n  y: relu(x - 3) ** 3 + relu(x - 3)\n")
    found = graph.seek("y", 10, "x")  # d/dx is 0 at the start: Newton cannot begin, a bracket can
    # (x - 3)**3 + (x - 3) = 10 at x - 3 = 2
    assert found["value"] == 5.0 and found["reached"] == 10.0
    assert any(step["step"] == "bracket" for step in found["iterations"])


def test_the_cli_answers_in_a_line_the_iterations_on_request_and_json(invoke):
    path = str(GRAPHS / "coffee_cart.yaml")
    line = invoke("seek", path, "profit=0", "--by", "price")
    assert line.exit_code == 0, line.stderr
    assert (
        line.stdout.startswith("coffee_cart: profit = 0.0 at price = 1.71575506112844") and line.stdout.count("\n") == 1
    )
    table = invoke("seek", path, "profit=0", "--by", "price", "--iterations").stdout
    assert "d(profit)/d(price)" in table and "newton" in table and "start" in table
    out = json.loads(invoke("seek", path, "profit=0", "--by", "price", "--json").stdout)
    assert out["of"] == "profit" and out["by"] == "price" and out["target"] == 0
    assert out["value"] == cg.load(path).seek("profit", 0, "price")["value"]


def test_o_writes_the_graph_at_the_answer(invoke, tmp_path):
    out = tmp_path / "even.yaml"
    done = invoke("seek", str(GRAPHS / "coffee_cart.yaml"), "profit=0", "--by", "price", "-o", str(out))
    assert done.exit_code == 0, done.stderr
    assert cg.load(out).run().value == 0.0


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["cups=100", "--by", "rent"], 1, "no value of rent between"),
        (["cups=100", "--by", "rent"], 1, "its derivative is 0 at the start"),
        (["profit=5000", "--by", "price"], 1, "comes closest, 1965.63"),
        (["profit=0", "--by", "price", "--between", "1:1.5"], 1, "between 1.0 and 1.5 makes profit = 0"),
        (["proft=0", "--by", "price"], 2, "NODE=TARGET: the graph has no node 'proft'; did you mean 'profit'?"),
        (["profit=0", "--by", "prise"], 2, "--by: the graph has no node 'prise'; did you mean 'price'?"),
        (["profit=0", "--by", "cups"], 2, "'cups' is a node; seek moves an input"),
        (["profit=0", "--by", "cups_per_dollar"], 2, "'cups_per_dollar' is a constant"),
        (["profit=0", "--by", "price", "--set", "price=3"], 2, "'price' is both set and sought"),
        (["profit=0", "--by", "price", "--between", "3:1"], 2, "LO must be below HI"),
        (["profit", "--by", "price"], 2, "'profit' is not NAME=VALUE"),
        (["profit=abc", "--by", "price"], 2, "'profit=abc'"),
    ],
)
def test_what_seek_cannot_do_is_one_clear_line(invoke, args, code, words):
    result = invoke("seek", str(GRAPHS / "coffee_cart.yaml"), *args)
    assert result.exit_code == code and result.stdout == ""
    assert words in result.stderr, result.stderr


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(0.1, 10),
    b=st.floats(-10, 10),
    target=st.floats(-50, 50),
    start=st.floats(-3, 3),
)
def test_any_answer_is_the_float_whose_node_comes_closest(a, b, target, start):
    # exp(x) * a + b * x is monotone for b >= 0 and has one minimum otherwise: a root may or may not exist
    graph = cg.loads(f"inputs: {{x: {start!r}}}\nnodes:\n  y: {a!r} * exp(x) + {b!r} * x + sin(x)\n")
    try:
        found = graph.seek("y", target, "x")
    except cg.Error as e:
        assert "no value of x between" in str(e) or "has no value" in str(e)
        return
    _as_close_as_floats_allow(graph, "y", "x", found["value"], target)


@pytest.mark.parametrize(
    "formula, target, words",
    [
        ("where(x > 3, 1, -1)", 0, "y jumps past 0 between x = 3.0 and 3.0000000000000004 (from -1.0 to 1.0)"),
        ("1 / (x - 3)", 0, "but has no value at 3.0 between them: it is not continuous there"),
        ("x ** 2 + 1", 0, "no value of x between"),
    ],
)
def test_a_sign_change_that_is_not_a_root_is_no_answer(formula, target, words):
    graph = cg.loads(f'inputs: {{x: 2.0}}\nnodes:\n  y: "{formula}"\n')
    with pytest.raises(cg.Error) as caught:
        graph.seek("y", target, "x")
    assert words in str(caught.value)
