"""The reference engine is the executable specification: every engine gives its numbers.

On random graphs of every op (hostile numbers, `where` guards, literals), the fast engine on
numbers, the array engine and the sweep's scenario axis give the reference engine's values and
gradients: bit for bit where the arithmetic order is the same (the fast engine on graphs too
narrow to group), within numpy's last bits elsewhere; the same errors and the same nodes not
used. The rules the reference engine adds to the chain rule (`where` needs only its taken branch;
select, don't multiply) are checked against hand math.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cgraph_cli.commands.sweep import sweep
from cgraph_cli.core import arrays, reference
from cgraph_cli.core.engine import evaluate
from cgraph_cli.core.errors import GraphError
from cgraph_cli.core.op import Undefined, Unused
from cgraph_cli.read.loader import load_text

from .strategies import any_graphs, examples

LOAN = """\
inputs: {principal: 12000, rate: 0, n: 12}
nodes:
  payment: "where(rate == 0, principal / n, principal * rate / (1 - (1 + rate) ** (-n)))"
output: payment
"""


def _reference(plan, overrides=None, of=None):
    given = plan.given(overrides or {})
    return reference.evaluate(plan, given, plan.output_position(of))


# -- the loan of the issue: `where` needs only the branch it takes -------------------------------


def test_the_loan_at_rate_0_is_the_taken_branchs_in_every_engine():
    """Hand math: at rate 0 payment = principal / n = 1000; d/d(principal) = 1/n, d/d(n) =
    -principal/n**2 = -83.33..., d/d(rate) = 0 (the taken branch does not use rate)."""
    plan = load_text(LOAN)
    expected = {"principal": 1 / 12, "n": -12000 / 12**2, "rate": 0.0}
    result = evaluate(plan)
    assert result.value == 1000.0
    for name, g in expected.items():
        assert result.grad_of(name) == g, name
    values, grads, _ = _reference(plan)
    assert values[plan.index["payment"]] == 1000.0
    assert {name: grads[plan.index[name]] for name in expected} == expected
    swept = sweep(plan, [("rate", [0.0, 0.01])])
    assert not swept.failed
    assert swept.value[0] == 1000.0
    for name, g in expected.items():
        assert swept.grads[name][0] == g, name
    # at 1%: the annuity formula, its rate derivative against a central difference
    r, n, p = 0.01, 12, 12000
    assert swept.value[1] == pytest.approx(p * r / (1 - (1 + r) ** -n), rel=1e-14, abs=0)
    h = 1e-6
    f = lambda r: p * r / (1 - (1 + r) ** -n)  # noqa: E731
    assert swept.grads["rate"][1] == pytest.approx((f(r + h) - f(r - h)) / (2 * h), rel=1e-6, abs=0)


def test_the_loan_says_which_node_was_not_used_and_why(invoke, graph_file):
    path = graph_file(LOAN)
    bad = "principal*rate/(1-(1+rate)**(-n))"
    shown = invoke("run", path, "--json")
    assert shown.exit_code == 0, shown.stderr
    nodes = {node["name"]: node for node in json.loads(shown.stdout)["nodes"]}
    assert nodes[bad]["value"] is None and "division by zero" in nodes[bad]["not_used"]
    assert "`where` does not take" in nodes[bad]["not_used"]
    assert nodes["principal"]["grad"] == 1 / 12 and nodes["rate"]["grad"] == 0
    assert "not_used" not in nodes["payment"]
    table = invoke("run", path)
    assert table.exit_code == 0 and table.stderr == ""
    assert "not used" in table.stdout and "division by zero" in table.stdout.splitlines()[-1]
    rows = invoke("run", path, "--csv").stdout.splitlines()
    assert rows[0] == "name,op,inputs,value,grad,note"
    row = next(r for r in rows if r.startswith(bad + ","))
    assert ",,0," in row and "division by zero" in row
    assert all(r.endswith(",") for r in rows[1:] if not r.startswith(bad + ","))  # an empty note elsewhere
    swept = invoke("run", path, "--sweep", "rate=0,0.01", "--json")
    assert swept.exit_code == 0, swept.stderr
    first = json.loads(swept.stdout)[0]
    assert first["payment"] == 1000.0 and first["d(payment)/d(principal)"] == 1 / 12


def test_a_failure_a_needed_node_meets_is_still_the_located_error(invoke, graph_file):
    """Only what the taken branch (or another sink) needs may fail; the error names the first such node."""
    path = graph_file(LOAN.replace("rate: 0,", "rate: 0.0,").replace("rate == 0", "rate == 1"))
    done = invoke("run", path)
    assert done.exit_code == 1
    assert "division by zero" in done.stderr and "principal*rate/(1-(1+rate)**(-n))" in done.stderr
    other_sink = graph_file("inputs: {x: 0}\nnodes:\n  y: where(x == 0, 1, log(x))\n  z: log(x)\noutput: y\n")
    done = invoke("run", other_sink)
    assert done.exit_code == 1 and "node 'z'" in done.stderr


def test_where_on_arrays_needs_only_the_taken_branch_element_by_element():
    """y = sum(where(x > 0, log(x), 0)) at x = [0, 2, -1]: log's nan and -inf are in untaken elements;
    dy/dx = [0, 1/2, 0]."""
    plan = load_text("inputs: {x: [0.0, 2.0, -1.0]}\nnodes:\n  w: where(x > 0, log(x), 0)\n  y: sum(w)\n")
    result = evaluate(plan)
    assert result.value == math.log(2.0)
    assert result.grad_of("x").tolist() == [0.0, 0.5, 0.0]
    assert type(result.value_of("log(x)")) is Unused


@pytest.mark.parametrize("inputs", ["{x: 0}", "{x: [0.0, 1.0]}"])
def test_a_node_made_from_an_unused_node_without_a_value_has_none_either(inputs):
    """relu(0/0) is no number (numpy's maximum says 0.0, a comparison of nan says 0): where only the
    untaken branch uses them, every engine says they were not used, as the reference engine does."""
    total = "  y: sum(w)\n" if "[" in inputs else ""
    text = f"inputs: {inputs}\nnodes:\n  r: relu(x / x)\n  e: (x / x) == 0\n  w: where(x > 0, r + e, 1)\n{total}"
    plan = load_text(text)
    result = evaluate(plan)
    assert type(result.value_of("r")) is Unused and type(result.value_of("e")) is Unused
    if inputs == "{x: 0}":
        values, _, _ = _reference(plan)
        assert type(values[plan.index["r"]]) is Unused and type(values[plan.index["e"]]) is Unused
    else:
        assert result.value == 2.0  # 1 at x = 0; relu(1) + (1 == 0) at x = 1


def test_the_sweep_marks_a_scenario_only_where_a_needed_node_fails():
    plan = load_text("inputs: {x: 1}\nnodes:\n  y: where(x > 0, log(x), x * 2)\n")
    result = sweep(plan, [("x", [-1.0, 0.0, 4.0])])
    assert not result.failed
    assert result.value.tolist() == [-2.0, 0.0, math.log(4.0)]
    assert result.grads["x"].tolist() == [2.0, 2.0, 0.25]
    result = sweep(load_text("inputs: {x: 1}\nnodes:\n  y: where(x > -5, log(x), x)\n"), [("x", [-1.0, 4.0])])
    assert list(result.failed) == [0] and "log" in result.failed[0]


# -- select, don't multiply --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "x", "expected"),
    [
        ("y: sqrt(relu(x))", -1.0, 0.0),  # the function is 0 near -1
        ("y: sqrt(max(x, 0))", -2.0, 0.0),
        ("y: sqrt(where(x > 0, x, 0))", -3.0, 0.0),
    ],
)
def test_an_op_that_selects_passes_exactly_0_to_what_it_did_not_select(text, x, expected):
    plan = load_text(f"inputs: {{x: {x}}}\nnodes:\n  {text}\n")
    result = evaluate(plan)
    assert result.grad_of("x") == expected
    assert _reference(plan)[1][plan.index["x"]] == expected


def test_multiplying_by_an_infinite_slope_is_still_undefined():
    """Not a selection: sqrt(x * x) at 0 (|x|, not differentiable there) stays undefined."""
    result = evaluate(load_text("inputs: {x: 0.0}\nnodes:\n  y: sqrt(x * x)\n"))
    assert type(result.grad_of("x")) is Undefined


# -- the defect list's literal operand ----------------------------------------------------------


@pytest.mark.parametrize(
    "nodes", ['y: "sqrt(0)"\n  z: x * y', "a: {op: sqrt, inputs: [0]}\n  z: {op: add, inputs: [x, a]}"]
)
@pytest.mark.parametrize("command", [["run"], ["grad"], ["explain", "--steps"], ["draw", "--format", "dot"]])
def test_an_op_of_a_literal_zero_whose_slope_is_infinite_runs(invoke, graph_file, nodes, command):
    """sqrt(0) has an infinite slope, but a literal takes no gradient: nothing is sent to it."""
    path = graph_file(f"inputs: {{x: 1}}\nnodes:\n  {nodes}\n")
    done = invoke(*command, path)
    assert done.exit_code == 0, done.stderr


# -- every engine gives the reference engine's numbers ------------------------------------------

WHERE_OPS = ["where", "log", "div", "sqrt", "pow", "mul", "add", "sub", "relu", "exp", "gt", "eq", "max", "neg"]
EXACT_WHERE_OPS = ["where", "div", "sqrt", "mul", "add", "sub", "relu", "gt", "eq", "max", "neg", "abs", "step"]


def _same(a, b, ulps: int = 0, atol: float = 0.0) -> bool:
    if type(a) is Undefined or type(b) is Undefined:
        return type(a) is type(b)
    if type(a) is Unused or type(b) is Unused:
        return type(a) is type(b)
    a, b = float(a), float(b)
    close = abs(a - b) <= max(atol, ulps * math.ulp(max(abs(a), abs(b))))
    return a == b or close or (a != a and b != b)


def _both(run):
    try:
        return run(), None
    except GraphError as e:
        return None, e.message


@st.composite
def guarded_graphs(draw, ops=WHERE_OPS):
    """A random graph whose nodes all feed one output through `where` guards (so a node that fails
    may be one the output does not need): the sinks of any_graphs folded together pairwise by
    where(x > c, a, b), the guard's input and threshold drawn."""
    text = draw(any_graphs(ops=ops, max_nodes=8))
    lines = text.splitlines()[:-1]  # (without its output line)
    names = [line.split(":")[0].strip() for line in lines if line.startswith("  ")]
    nodes = [name for name in names if name.startswith("n")]
    used = {word.strip(" []{},") for line in lines for word in line.split("inputs:")[-1].split(",")[:20]}
    sinks = [name for name in nodes if name not in used] or nodes[-1:]
    inputs = [name for name in names if name.startswith("x")]
    k = 0
    while len(sinks) > 1:
        a, b = sinks.pop(), sinks.pop()
        guard = f"{draw(st.sampled_from(inputs))} > {draw(st.sampled_from([-1, 0, 0.5, 2]))}"
        lines.append(f"  g{k}: where({guard}, {a}, {b})")
        sinks.append(f"g{k}")
        k += 1
    return "\n".join([*lines, f"output: {sinks[0]}"]) + "\n"


@settings(max_examples=examples(400), deadline=None)
@given(st.one_of(guarded_graphs(), guarded_graphs(EXACT_WHERE_OPS), any_graphs()))
def test_every_engine_gives_the_reference_engines_numbers(text):
    try:
        plan = load_text(text)
    except GraphError:
        return
    ref, ref_error = _both(lambda: _reference(plan))
    fast, fast_error = _both(lambda: evaluate(plan))
    assert ref_error == fast_error  # the same node, the same words
    if ref is None:
        event("no value: the same error")
        return
    event("some node not used" if any(type(v) is Unused for v in ref[0]) else "values")
    values, grads, _ = ref
    n = plan.size
    for i in range(n):  # bit for bit: these graphs are too narrow to be grouped
        assert _same(fast.values[i], values[i]), (plan.names[i], fast.values[i], values[i])
        g = 0 if grads[i] is None else grads[i]
        if i not in plan.fixed:
            assert _same(fast.grads[i], g), (plan.names[i], fast.grads[i], g)
    if not all(op is None or op.name in EXACT_OPS for op in plan.ops):
        return  # numpy's exp, log, tanh, pow round their last bit otherwise than libm's (test_sweep.py)
    on_arrays = arrays.evaluate(plan)
    first = plan.inputs[0]
    scenarios = sweep(plan, [(plan.names[first], [float(plan.values[first])])], wrt=plan.variable_names)
    assert not scenarios.failed, scenarios.failed
    # Bit for bit: IEEE arithmetic in the same order, on numbers or on arrays; except that numbers
    # keep integers exact (1 + 2**53 + 1 is 2**53 + 2) where arrays hold floats (2**53): past 2**53
    # an integer's sum may differ by its last bits.
    given = [v for v in [*plan.values, *plan.literals] if type(v) is int]
    numbers = [abs(float(v)) for v in [*values, *grads] if type(v) in (int, float)]
    largest = max(numbers, default=0.0)
    exact_past_floats = given and largest >= 2**53 and math.isfinite(largest)  # integers kept exact
    atol = 16 * math.ulp(largest) if exact_past_floats else 0.0
    assert _same(scenarios.value[0], values[plan.output_position()], atol=atol)
    for i in range(n):
        assert _same(on_arrays.values[i], values[i], atol=atol), (plan.names[i], on_arrays.values[i], values[i])
    for i in plan.variables:
        g = 0 if grads[i] is None else grads[i]
        assert _same(on_arrays.grads[i], g, atol=atol), (plan.names[i], on_arrays.grads[i], g)
        if type(g) is not Undefined:
            got = scenarios.grads[plan.names[i]][0]
            assert _same(got, g, atol=atol), (plan.names[i], got, g)


# Ops whose result IEEE arithmetic fixes to the last bit, on numbers and in numpy alike.
EXACT_OPS = {"add", "sub", "mul", "div", "neg", "sqrt", "relu", "max", "min", "where", "abs", "step"}
EXACT_OPS |= {"lt", "le", "gt", "ge", "eq"}


def test_the_reference_engine_is_short():
    """The algorithm a learner reads: at most about 80 lines of code."""
    import inspect

    lines = [
        line for line in inspect.getsource(reference).splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    code = len(lines) - len(reference.__doc__.splitlines())
    assert code <= 85, code


def test_the_reference_engine_agrees_with_the_books_digits():
    plan = load_text(
        "inputs: {apple: 100, apple_num: 2, orange: 150, orange_num: 3, tax: 1.1}\n"
        "nodes:\n  a: {op: mul, inputs: [apple, apple_num]}\n  o: {op: mul, inputs: [orange, orange_num]}\n"
        "  s: {op: add, inputs: [a, o]}\n  price: {op: mul, inputs: [s, tax]}\n"
    )
    values, grads, _ = _reference(plan)
    got = {name: grads[plan.index[name]] for name in ("apple", "apple_num", "orange", "orange_num", "tax")}
    assert values[plan.index["price"]] == 715.0000000000001
    assert got == {
        "apple": 2.2,
        "apple_num": 110.00000000000001,
        "orange": 3.3000000000000003,
        "orange_num": 165.0,
        "tax": 650,
    }
    assert type(got["tax"]) is int


def test_a_graph_of_numbers_on_the_array_engine_is_not_an_array_graph():
    assert np.ndim(arrays.evaluate(load_text("inputs: {x: 2}\nnodes: {y: x * 3}\n")).value) == 0


# -- a local derivative that overflows where the product does not -------------------------------


@pytest.mark.parametrize(
    ("text", "x", "expected"),
    [
        # σ'(ln x) / x = σ(ln x) σ(-ln x) / x, and σ(ln x) = x / (1 + x): 1 / (1 + x)**2, 1 to the last bit
        ("y: sigmoid(log(x))", 5e-310, 1 / (1 + 5e-310) ** 2),
        # d/dx (tiny * sqrt(x)) = tiny / (2 sqrt(x)); 1/(2 sqrt(x)) alone is finite here, so: hand math
        ("y: sqrt(x) * 1e-300", 1e-320, 1e-300 * 0.5 / math.sqrt(1e-320)),
    ],
)
def test_dout_goes_into_the_numerator_before_the_division(text, x, expected):
    """dout / x, not dout × (1/x): the product is a number though 1/x alone overflows."""
    plan = load_text(f"inputs: {{x: {x!r}}}\nnodes:\n  {text}\n")
    g = evaluate(plan).grad_of("x")
    assert g == pytest.approx(expected, rel=1e-13, abs=0)
    on_arrays = arrays.evaluate(plan).grad_of("x")
    assert float(on_arrays) == pytest.approx(expected, rel=1e-13, abs=0)
    swept = sweep(plan, [("x", [x])])
    assert swept.grads["x"][0] == pytest.approx(expected, rel=1e-13, abs=0)


def test_a_product_that_overflows_itself_is_still_undefined():
    """d/dx log(x) * 1e300 at x = 1e-300: 1e600 is past a float whichever way it is multiplied."""
    result = evaluate(load_text("inputs: {x: 1e-300}\nnodes:\n  y: log(x) * 1e300\n"))
    assert type(result.grad_of("x")) is Undefined


def test_gradients_that_add_up_past_the_float_range_are_undefined_in_every_engine():
    """d/dx of x * x * 1e308 at x = 1 is 1e308 + 1e308: past the float range, in every engine."""
    plan = load_text("inputs: {x: 1}\nnodes:\n  y: {op: mul, inputs: [x, x, 1e308]}\n")
    _, grads, _ = _reference(plan)
    assert type(grads[plan.index["x"]]) is Undefined
    assert type(evaluate(plan).grad_of("x")) is Undefined
    g = arrays.evaluate(plan).grad_of("x")
    assert type(g) is Undefined and "add up past the float range" in g.reason
