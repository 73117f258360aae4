"""What-if sweeps: every scenario's numbers as a scalar run gives them, in one vectorized pass."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgraph_cli.commands.sweep import parse_sweep, sweep
from cgraph_cli.core.engine import evaluate
from cgraph_cli.core.errors import GraphError, RequestError
from cgraph_cli.core.op import Undefined
from cgraph_cli.core.ops import OPS
from cgraph_cli.read.loader import load_text

from .conftest import close_to_difference, numeric_derivative
from .strategies import NUMBER_OPS, OP_DOMAINS, any_graphs, examples
from .test_oracle import compare

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def plan_of(name: str):
    return load_text((GRAPHS / f"{name}.yaml").read_text(encoding="utf-8"))


# -- each op's step on arrays is its forward step ----------------------------------------------

# numpy's own exp, log, tanh, cosh and pow may differ from the C library's in the last bit.
_ULPS = {
    "exp": 2,
    "log": 2,
    "tanh": 2,
    "sech": 2,
    "pow": 2,
    "sigmoid": 4,
    "mulpow": 4,
    "xlogy": 4,
    "log1p": 2,
    "expm1": 2,
}
# scipy.special's erf family on arrays and Python's math on numbers: each within ulps of the truth, but
# where erfc's argument x/√2 rounds, the result moves by about x² ulps (x = -6: 36); likewise Φ⁻¹.
_ULPS |= {"erf": 4, "normal_pdf": 4, "erfc": 24, "normal_cdf": 160, "log_normal_cdf": 200, "normal_ppf": 16}


def _close(a: float, b: float, ulps: int) -> bool:
    return a == b or abs(a - b) <= ulps * math.ulp(max(abs(a), abs(b)))


@pytest.mark.parametrize("name", NUMBER_OPS)
def test_an_ops_array_step_and_local_derivatives_are_its_numbers_and_the_derivative(name):
    """Consistency: on arrays, an op's step and its `local` (the same code, its op calls bound to the
    array steps) give the scalar numbers. Independent: those local derivatives are the array step's
    own central differences."""
    op = OPS[name]

    @settings(max_examples=examples(100), deadline=None)
    @given(OP_DOMAINS[name])
    def check(xs):
        out = op.forward(*xs)
        arrays = [np.array([float(x), float(x)]) for x in xs]
        with np.errstate(all="ignore"):
            got = op.array(np, *arrays)
            assert _close(float(got[1]), float(out), _ULPS.get(name, 0)), (xs, got, out)
            ds = op.array_local(np)(got, *arrays)
        for k, (d_array, d) in enumerate(zip(ds, op.local(out, *xs))):
            d_array = float(np.broadcast_to(d_array, (2,))[0])
            # (ln Φ's derivative is e^(ln φ - ln Φ) in the left tail, Φ⁻¹'s e^(y²/2): they move by
            # the value's own difference, times |ln Φ| and y² relative)
            y = abs(float(out))
            inherited = {"log_normal_cdf": 1 + y, "normal_ppf": 1 + y * y}.get(name, 1)
            assert _close(d_array, float(d), 8 + 2 * _ULPS.get(name, 0) * inherited), xs

            def moved(v, k=k):
                ys = [np.array([float(x)]) for x in xs]
                ys[k] = np.array([v])
                return float(op.array(np, *ys)[0])

            estimate, error = numeric_derivative(moved, float(xs[k]), abs(float(out)) + sum(map(abs, xs)))
            assert close_to_difference(d_array, estimate, error), (name, xs, k, d_array, estimate)

    check()


@pytest.mark.parametrize(
    "name, xs", [("log", [0.0]), ("log", [-1.0]), ("div", [1.0, 0.0]), ("sqrt", [-1.0]), ("pow", [-8.0, 1 / 3])]
)
def test_where_a_forward_step_has_no_value_its_array_step_is_not_finite(name, xs):
    assert type(OPS[name](*xs)) is Undefined
    with np.errstate(all="ignore"):
        assert not np.isfinite(OPS[name].array(np, *[np.array([x]) for x in xs])).any()


# -- the grid ----------------------------------------------------------------------------------


def test_a_range_includes_its_stop_and_has_no_drift():
    name, values = parse_sweep("price=8:14:0.5", None)
    assert name == "price" and values == [8 + k * 0.5 for k in range(13)] and values[-1] == 14
    assert parse_sweep("x=0:1:0.1", None)[1][-1] == 1.0 and len(parse_sweep("x=0:1:0.1", None)[1]) == 11
    assert parse_sweep("x=14:8:-2", None)[1] == [14, 12, 10, 8]
    assert parse_sweep("units=1000,1200,1500", None)[1] == [1000, 1200, 1500]
    assert parse_sweep("x=1e3,-0.5", None)[1] == [1000.0, -0.5]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("price", "NAME=START:STOP:STEP"),
        ("=1,2", "NAME=START:STOP:STEP"),
        ("price=1:2", "START:STOP:STEP"),
        ("price=1:2:0", "nonzero"),
        ("price=2:1:1", "towards STOP"),
        ("price=a,b", "'a' is not a number"),
        ("price=1,.nan", "'.nan' is not a number"),
        ("price=0:1e9:1", "more than the 10,000,000 values"),
        ("price=0:1:1e-320", "more than the 10,000,000 values"),
    ],
)
def test_a_malformed_sweep_is_a_usage_error(invoke, spec, message):
    result = invoke("run", GRAPHS / "apples.yaml", "--sweep", spec)
    assert result.exit_code == 2 and result.stdout == "", result.stderr
    assert message in result.stderr and "--sweep" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sweep", "appel=1,2"], "did you mean 'apple'"),
        (["--sweep", "price=1,2"], "is a node, not an input"),
        (["--sweep", "apple=1,2", "--sweep", "apple=3"], "swept twice"),
        (["--sweep", "apple=1,2", "--set", "apple=3"], "both set and swept"),
        (["--sweep", "apple=0:999:1", "--sweep", "tax=0:999:1", "--sweep", "apple_num=1:20:1"], "at most"),
    ],
)
def test_a_sweep_of_what_cannot_be_swept_is_a_usage_error(invoke, args, message):
    result = invoke("run", GRAPHS / "apples.yaml", *args)
    assert result.exit_code == 2 and result.stdout == "" and message in result.stderr, result.stderr
    assert "--sweep" in result.stderr or "--set" in args


# -- every scenario as a scalar run gives it ------------------------------------------------------


def test_every_scenario_is_the_scalar_run_to_the_last_digit_and_the_closed_form():
    """Consistency: every scenario's numbers are the scalar run's, digit for digit. Independent: they
    are the model's closed form, price = (apple·apple_num + orange·orange_num)·tax, and its
    derivatives, worked out in exact fractions (within the rounding of a few float operations)."""
    from fractions import Fraction as F

    plan = plan_of("apples_oranges")
    sweeps = [("apple", [90.0, 100.0, 110.5]), ("tax", [1.0, 1.1, 1.25]), ("orange_num", [0.0, 3.0])]
    result = sweep(plan, sweeps)
    assert result.size == 18 and not result.failed
    fixed = {name: plan.values[plan.index[name]] for name in ("apple_num", "orange")}
    k = 0
    for apple in sweeps[0][1]:  # the first sweep varies slowest
        for tax in sweeps[1][1]:
            for orange_num in sweeps[2][1]:
                scalar = evaluate(plan, {"apple": apple, "tax": tax, "orange_num": orange_num})
                assert result.swept["apple"][k] == apple and result.swept["orange_num"][k] == orange_num
                assert result.value[k] == scalar.value
                for name in plan.variable_names:
                    assert result.grads[name][k] == scalar.grad_of(name), name
                a, an, o, on, t = F(apple), F(fixed["apple_num"]), F(fixed["orange"]), F(orange_num), F(tax)
                exact = {
                    "apple": an * t,
                    "apple_num": a * t,
                    "orange": on * t,
                    "orange_num": o * t,
                    "tax": a * an + o * on,
                }
                # four roundings of positive terms, half an ulp each: 4.4e-16 at most
                assert math.isclose(result.value[k], (a * an + o * on) * t, rel_tol=5e-16)
                for name, d in exact.items():
                    assert math.isclose(result.grads[name][k], d, rel_tol=5e-16, abs_tol=0), (name, k)
                k += 1


def test_the_books_apples_at_the_books_point_in_a_sweep(invoke):
    out = json.loads(invoke("run", GRAPHS / "apples_oranges.yaml", "--sweep", "tax=1.1,1.2", "--json").stdout)
    first = out[0]
    assert first["tax"] == 1.1 and first["price"] == 715.0000000000001
    assert first["d(price)/d(apple)"] == 2.2 and first["d(price)/d(apple_num)"] == 110.00000000000001
    assert first["d(price)/d(orange)"] == 3.3000000000000003 and first["d(price)/d(tax)"] == 650


def test_a_sweep_with_pow_and_div_matches_scalar_runs_within_rounding():
    plan = plan_of("loan_payment")
    rates = [0.01 * k for k in range(1, 11)]
    result = sweep(plan, [("annual_rate", rates), ("years", [5, 15, 30])], wrt=["annual_rate", "years", "r"])
    for k in range(result.size):
        scalar = evaluate(plan, {"annual_rate": result.swept["annual_rate"][k], "years": result.swept["years"][k]})
        assert math.isclose(result.value[k], scalar.value, rel_tol=1e-14)
        for name in ("annual_rate", "years", "r"):
            assert math.isclose(result.grads[name][k], scalar.grad_of(name), rel_tol=1e-13), name


def test_the_sweep_is_one_vectorized_pass_not_a_loop_over_scenarios(monkeypatch):
    import cgraph_cli.core.engine as engine

    monkeypatch.setattr(engine, "evaluate", lambda *a, **k: pytest.fail("a scalar run per scenario"))
    calls = []
    plan = plan_of("tiered_pricing")
    steps = {i: plan.ops[i].array for i in range(plan.size) if plan.ops[i] is not None}
    for i, step in steps.items():
        monkeypatch.setattr(plan.ops[i], "array", lambda np, *xs, step=step: calls.append(1) or step(np, *xs))
    sweep(plan, [("units", list(range(0, 3000, 3)))])
    assert len(calls) <= len(steps)  # each node's step once, over all 1,000 scenarios together


def test_a_scenario_without_a_value_is_marked_and_the_rest_stand(invoke, graph_file):
    path = graph_file("inputs: {price: 2.0, k: 3}\nnodes:\n  y: k * log(price)\n")
    result = invoke("run", path, "--sweep", "price=-1,0.5,2", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows[0]["y"] is None and "log of a non-positive number" in rows[0]["error"]
    assert rows[0]["d(y)/d(price)"] is None  # no value, so no gradient either
    assert "log(price)" in rows[0]["error"] and "-1.0" in rows[0]["error"]
    assert rows[1]["error"] is None and rows[1]["y"] == 3 * math.log(0.5)
    assert rows[2]["d(y)/d(price)"] == 3 * (1 / 2.0)
    table = invoke("run", path, "--sweep", "price=-1,0.5,2").stdout
    assert "1 without a value" in table.splitlines()[0] and "log of a non-positive number" in table
    lines = list(csv.reader(io.StringIO(invoke("run", path, "--sweep", "price=-1,0.5,2", "--csv").stdout)))
    assert lines[0][-1] == "error" and lines[1][1] == "" and "log" in lines[1][-1] and lines[2][-1] == ""


def test_an_undefined_gradient_in_a_scenario_is_undefined_there_only(invoke, graph_file):
    path = graph_file("inputs: {x: 4.0}\nnodes:\n  y: sqrt(x)\n")
    rows = json.loads(invoke("run", path, "--sweep", "x=0,4", "--json").stdout)
    assert rows[0]["y"] == 0.0 and rows[0]["d(y)/d(x)"] is None
    assert rows[1]["d(y)/d(x)"] == 0.25 and "error" not in rows[1]


def test_grad_sweep_gives_the_wrt_names_and_their_elasticities(invoke):
    args = ["--wrt", "annual_rate", "--sweep", "years=10:30:10", "--elasticity", "--csv"]
    rows = list(csv.DictReader(io.StringIO(invoke("grad", GRAPHS / "loan_payment.yaml", *args).stdout)))
    assert list(rows[0]) == ["years", "payment", "d(payment)/d(annual_rate)", "elasticity(annual_rate)"]
    assert [float(r["years"]) for r in rows] == [10, 20, 30]
    last = rows[-1]
    scalar = json.loads(invoke("grad", GRAPHS / "loan_payment.yaml", "--elasticity", "--json").stdout)
    assert math.isclose(float(last["elasticity(annual_rate)"]), scalar["elasticities"]["annual_rate"], rel_tol=1e-13)


def test_a_big_sweep_table_is_summarized(invoke):
    result = invoke("run", GRAPHS / "apples.yaml", "--sweep", "apple=1:3000:1")
    lines = result.stdout.splitlines()
    assert lines[0] == "apples: price over 3,000 scenarios"
    assert any("2,900 more rows (--all prints every row)" in line for line in lines)
    assert len(lines) < 120


def test_constants_and_sets_take_part_in_a_sweep(invoke):
    args = ["--sweep", "units=500,1500", "--set", "tier=1200", "--json"]
    rows = json.loads(invoke("run", GRAPHS / "tiered_pricing.yaml", *args).stdout)
    for row in rows:
        scalar = json.loads(
            invoke(
                "run", GRAPHS / "tiered_pricing.yaml", "--set", f"units={row['units']}", "--set", "tier=1200", "--json"
            ).stdout
        )
        assert row["invoice"] == scalar["value"]
        assert "d(invoice)/d(tier)" not in row  # a constant has no gradient


def test_a_constant_cannot_be_asked_for_in_a_sweep():
    with pytest.raises(RequestError, match="is a constant"):
        sweep(plan_of("tiered_pricing"), [("units", [1.0])], wrt=["tier"])


def test_run_sweep_gives_the_wrt_gradients_only(invoke):
    args = ["--sweep", "years=15,30", "--wrt", "annual_rate", "--json"]
    rows = json.loads(invoke("run", GRAPHS / "loan_payment.yaml", *args).stdout)
    assert [list(row) for row in rows] == [["years", "payment", "d(payment)/d(annual_rate)"]] * 2
    result = invoke("run", GRAPHS / "loan_payment.yaml", "--wrt", "years")
    assert result.exit_code == 2 and "cgraph grad --wrt" in result.stderr and result.stdout == ""


@settings(max_examples=examples(150), deadline=None)
@given(any_graphs(hostile=False, max_nodes=8), st.lists(st.floats(-3, 3), min_size=1, max_size=4))
def test_every_scenario_of_a_random_graph_is_its_scalar_run_and_the_oracles(text, xs):
    """Consistency: values and gradients of each scenario against a scalar run at that point, equal
    within a few ulps (numpy's exp, log, tanh and pow may round differently), and undefined where it
    is. Independent: that scalar run agrees with the autodiff oracle (tests/test_oracle.py)."""
    try:
        plan = load_text(text)
    except GraphError:
        return
    name = plan.variable_names[0]
    result = sweep(plan, [(name, xs)])
    for k, x in enumerate(xs):
        compare(text, overrides={name: x})  # independent: the scalar run at this point is the oracle's
        try:
            scalar = evaluate(plan, {name: x})
        except GraphError:
            assert k in result.failed  # no value in the scalar run: marked in the sweep
            continue
        assert k not in result.failed, result.failed.get(k)
        if _turns_on_a_last_bit(plan, scalar):
            continue
        assert _near(result.value[k], scalar.value), (x, result.value[k], scalar.value)
        for wrt in plan.variable_names:
            g = scalar.grad_of(wrt)
            if type(g) is not Undefined and math.isfinite(result.grads[wrt][k]):
                assert _near(result.grads[wrt][k], g), (wrt, x, result.grads[wrt][k], g)


def _turns_on_a_last_bit(plan, scalar) -> bool:
    """Whether a sin or cos turns on its operand's last bit (|operand| past 1e3): there numpy's pow or
    exp, a last bit off libm's, moves the result by more than a few ulps (sin(1e-4 ** -5), found by
    the property test in CI)."""
    return any(
        op is not None and op.period is not None and abs(scalar.values[plan.args[i][0]]) > 1e3
        for i, op in enumerate(plan.ops)
    )


def _near(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_a_constants_division_by_zero_marks_the_scenario_not_the_run(invoke, graph_file):
    # Found by the property test: 1/0 in div's local derivative raised on a Python float constant.
    path = graph_file("inputs: {x0: 0.0}\nnodes:\n  n0: {op: div, inputs: [x0, 0.0]}\n")
    result = invoke("run", path, "--sweep", "x0=0,1", "--json")
    assert result.exit_code == 0, result.stderr
    assert [("division by zero" in row["error"]) for row in json.loads(result.stdout)] == [True, True]


@pytest.mark.parametrize("xs", [[0.25, 2.225073858507203e-309, 0.75], [1e200, 1e200, 1e-200], [1e-200, 1e-200, 1e200]])
def test_a_product_out_of_the_normal_range_has_the_scalar_digits_in_a_sweep(xs):
    # Found by the property test: the array step once took the plain product where the scalar rescales.
    plan = load_text("inputs: {a: 1.0, b: 1.0, c: 1.0}\nnodes: {p: {op: mul, inputs: [a, b, c]}}\n")
    result = sweep(plan, [("a", [xs[0]])], {"b": xs[1], "c": xs[2]})
    assert result.value[0] == evaluate(plan, {"a": xs[0], "b": xs[1], "c": xs[2]}).value
