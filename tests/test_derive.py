"""Derived graphs: derive -> run equals grad exactly, higher derivatives, and the Hessian."""

from __future__ import annotations

import json
import math

import pytest

from cgraph_cli.commands.derive import derive, hessian
from cgraph_cli.core.engine import evaluate
from cgraph_cli.core.graph import compile_draft as compile_graph
from cgraph_cli.read.loader import load_text
from cgraph_cli.show.formats import graph_yaml

from .conftest import GRAPHS, close_to_difference, graph_derivative, same_pieces
from .golden_cases import scalar_graph_files


def derived_value(plan, wrt, of=None):
    """Derive, write the file, read it back, run it: the whole round trip a user makes."""
    text = graph_yaml(derive(plan, wrt, of), ["test"])
    return load_text(text, "derived.yaml")


@pytest.mark.parametrize("graph", scalar_graph_files(), ids=lambda p: p.stem)
def test_derive_then_run_equals_grad_exactly_for_every_input_and_the_derivative(graph):
    """Consistency: the derived file gives grad's number exactly (the same `local` code run on symbols
    and on numbers). Independent: that number is the derivative, by central differences (and by
    the closed forms of tests/test_examples.py)."""
    plan = load_text(graph.read_text(encoding="utf-8"))
    result = evaluate(plan)
    for inp_name in plan.variable_names:
        derived = derived_value(plan, inp_name)
        # its inputs are the original inputs
        assert derived.input_names == plan.input_names
        assert [derived.values[derived.index[n]] for n in derived.input_names] == [
            plan.values[plan.index[n]] for n in plan.input_names
        ]
        value = evaluate(derived).value
        assert value == result.grad_of(inp_name), inp_name
        assert close_to_difference(value, *graph_derivative(plan, inp_name)), inp_name


def test_derive_with_respect_to_a_node_and_of_another_node():
    plan = load_text((GRAPHS / "apples_oranges.yaml").read_text())
    assert evaluate(derived_value(plan, "all_price")).value == 1.1
    assert evaluate(derived_value(plan, "orange", of="orange_price")).value == 3


def nth_derivative(text: str, wrt: str, n: int):
    plan = load_text(text)
    for _ in range(n):
        plan = derived_value(plan, wrt)
    return evaluate(plan).value


@pytest.mark.parametrize(
    "text, x, first, second",
    [
        ("nodes: {y: {op: pow, inputs: [x, 3]}}", 2.0, lambda x: 3 * x**2, lambda x: 6 * x),
        ("nodes: {y: {op: mul, inputs: [x, x, x]}}", -1.5, lambda x: 3 * x**2, lambda x: 6 * x),
        ("nodes: {y: {op: exp, inputs: [x]}}", 0.7, math.exp, math.exp),
        (
            "nodes: {y: {op: sigmoid, inputs: [x]}}",
            0.3,
            lambda x: (s := 1 / (1 + math.exp(-x))) * (1 - s),
            lambda x: (s := 1 / (1 + math.exp(-x))) * (1 - s) * (1 - 2 * s),
        ),
        (
            "nodes: {y: {op: tanh, inputs: [x]}}",
            0.4,
            lambda x: 1 - math.tanh(x) ** 2,
            lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2),
        ),
        ("nodes: {y: {op: log, inputs: [x]}}", 1.7, lambda x: 1 / x, lambda x: -1 / x**2),
        ("nodes: {y: {op: div, inputs: [1, x]}}", 1.3, lambda x: -1 / x**2, lambda x: 2 / x**3),
        ("nodes: {y: {op: relu, inputs: [x]}}", 0.5, lambda x: 1, lambda x: 0),
        ("nodes: {y: {op: relu, inputs: [x]}}", -0.5, lambda x: 0, lambda x: 0),
    ],
)
def test_second_derivatives_of_known_functions(text, x, first, second):
    text = f"inputs: {{x: {x!r}}}\n{text}\n"
    assert math.isclose(nth_derivative(text, "x", 1), first(x), rel_tol=1e-12, abs_tol=1e-15)
    assert math.isclose(nth_derivative(text, "x", 2), second(x), rel_tol=1e-12, abs_tol=1e-15)


def test_third_derivative_of_x_cubed_is_six_and_fourth_is_zero():
    text = "inputs: {x: 1.5}\nnodes: {y: {op: pow, inputs: [x, 3]}}\n"
    assert nth_derivative(text, "x", 3) == 6
    assert nth_derivative(text, "x", 4) == 0


def test_mixed_partials_of_x_times_y():
    plan = load_text("inputs: {x: 3, y: 5}\nnodes: {z: {op: mul, inputs: [x, y]}}\n")
    dz_dx = derived_value(plan, "x")
    assert evaluate(dz_dx).value == 5
    assert evaluate(derived_value(dz_dx, "y")).value == 1
    assert evaluate(derived_value(dz_dx, "x")).value == 0  # linear in x: 0, not an error


def test_constant_and_unrelated_parts_derive_to_zero():
    plan = load_text(
        "inputs: {x: 2, y: 3}\nnodes:\n  c: {op: add, inputs: [1, 2]}\n  z: {op: mul, inputs: [y, c]}\noutput: z\n"
    )
    assert evaluate(derived_value(plan, "x")).value == 0
    assert evaluate(derived_value(plan, "y")).value == 3
    assert evaluate(derived_value(plan, "z")).value == 1  # d z / d z


def test_derived_names_are_readable_and_simplified():
    plan = load_text((GRAPHS / "neuron.yaml").read_text())
    draft = derive(plan, "w1")
    assert draft.output == "d_y__d_w1" and "d_y__d_z" in draft.names
    assert all(not (op == "mul" and 1 in operands) for op, operands in zip(draft.ops, draft.operands))


def test_a_repeated_operand_gives_both_contributions():
    plan = load_text("inputs: {x: 3.0}\nnodes: {y: {op: mul, inputs: [x, x]}}\n")
    graph = derive(plan, "x")
    assert evaluate(compile_graph(graph)).value == 6.0 == evaluate(plan).grad_of("x")


def test_hessian_matches_finite_differences_of_the_gradient():
    plan = load_text((GRAPHS / "neuron.yaml").read_text())
    names = plan.variable_names
    matrix = hessian(plan, names)
    for b in names:
        for a in names:
            estimate, error = graph_derivative(plan, b, lambda result: result.grad_of(a))
            assert close_to_difference(matrix[a][b], estimate, error), (a, b, matrix[a][b], estimate)
            assert matrix[a][b] == pytest.approx(matrix[b][a], rel=1e-12, abs=0)  # symmetric


def test_cli_derive_round_trip_and_second_derivative(invoke, tmp_path):
    out = tmp_path / "d.yaml"
    result = invoke("derive", GRAPHS / "apples.yaml", "--wrt", "apple", "-o", out)
    assert result.exit_code == 0 and result.stdout == ""
    text = out.read_text()
    assert text.startswith("# d(price)/d(apple) of apples: ")
    assert json.loads(invoke("run", out, "--json").stdout)["value"] == 2.2
    first = invoke("derive", GRAPHS / "chain_rule.yaml", "--wrt", "x").stdout
    second = invoke("derive", "-", "--wrt", "x", input=first).stdout
    assert json.loads(invoke("run", "-", "--json", input=second).stdout)["value"] == 2


def test_cli_grad_order_2(invoke):
    data = json.loads(invoke("grad", GRAPHS / "chain_rule.yaml", "--order", "2", "--json").stdout)
    assert data["hessian"] == {"x": {"x": 2, "y": 2}, "y": {"x": 2, "y": 2}}
    result = invoke("grad", GRAPHS / "chain_rule.yaml", "--order", "2")
    assert result.exit_code == 0 and "d²z/d(row)d(col)" in result.stdout
    bad = invoke("grad", GRAPHS / "chain_rule.yaml", "--order", "2", "--wrt", "t")
    assert bad.exit_code == 2 and "inputs" in bad.stderr


@pytest.mark.parametrize(
    "op, operands",
    [
        ("add", ["x", "y", 2.5]),
        ("mul", ["x", "y", "x"]),
        ("sub", ["x", "y"]),
        ("div", ["x", "y"]),
        ("neg", ["x"]),
        ("pow", ["x", "y"]),
        ("pow", ["x", 3]),
        ("pow", [2, "x"]),
        ("exp", ["x"]),
        ("log", ["x"]),
        ("sigmoid", ["x"]),
        ("relu", ["x"]),
        ("tanh", ["x"]),
        ("step", ["x"]),
    ],
)
def test_every_op_derives_to_backprops_number_and_derives_again(op, operands):
    text = f"inputs: {{x: 1.3, y: 0.7}}\nnodes: {{z: {{op: {op}, inputs: [{', '.join(map(str, operands))}]}}}}\n"
    plan = load_text(text)
    result = evaluate(plan)
    for name in ("x", "y"):
        first = derived_value(plan, name)
        assert evaluate(first).value == result.grad_of(name)
        # the second derivative through the derived graph agrees with a difference of the first
        second = evaluate(derived_value(first, name)).value
        if same_pieces(plan, name):  # (relu and step: no difference at a kink, and 0 elsewhere)
            estimate, error = graph_derivative(plan, name, lambda result: result.grad_of(name))
            assert close_to_difference(second, estimate, error), (name, second, estimate)


def test_derived_files_quote_names_so_they_read_back():
    text = (
        'inputs: {"true": 1.5, 사과: 2, "a\\"b": 3, "x<y&z": 4, yes: 5, "-x": 6, "*a": 7}\n'
        'nodes: {"q#r": {op: mul, inputs: ["true", 사과, "a\\"b", "x<y&z", yes, "-x", "*a"]}}\n'
    )
    plan = load_text(text)
    result = evaluate(plan)
    values = {name: plan.values[plan.index[name]] for name in plan.input_names}
    for inp_name in plan.variable_names:
        value = evaluate(derived_value(plan, inp_name)).value
        assert value == result.grad_of(inp_name)  # consistency
        # independent: d/dx of a product is the product of the others (here all small integers or halves)
        assert value == math.prod(v for name, v in values.items() if name != inp_name)


@pytest.mark.parametrize("seed", range(6))
def test_derive_equals_grad_exactly_where_wide_levels_run_as_groups(seed):
    """Wide levels of like nodes run a list at a time (schedule.py), and nodes with many consumers add
    their contributions in the engine's order: a derived graph must add them in the same order."""
    import random

    from cgraph_cli.core.schedule import GROUP_SIZE, Group, program

    rng = random.Random(seed)
    width = GROUP_SIZE * 6
    lines = ["inputs:"] + [f"  x{i}: {rng.uniform(0.5, 3.0)!r}" for i in range(width)] + ["nodes:"]
    previous = [f"x{i}" for i in range(width)]
    for level in range(4):
        layer = []
        for k in range(width):
            op = rng.choice(["add", "mul", "tanh"])
            a, b = rng.choice(previous[:8]), rng.choice(previous)  # a few nodes get many consumers
            name = f"n{level}_{k}"
            lines.append(f"  {name}: {{op: {op}, inputs: [{a}{'' if op in ('tanh', 'sigmoid') else ', ' + b}]}}")
            layer.append(name)
        previous = layer
    lines.append(f"  out: {{op: add, inputs: [{', '.join(previous)}]}}")
    lines.append("output: out")
    plan = load_text("\n".join(lines) + "\n")
    result = evaluate(plan)
    assert any(type(s) is Group for s in program(plan, result.values).segments)
    for name in ("x0", "x1", f"x{width - 1}", "n0_0"):
        value = evaluate(derived_value(plan, name)).value
        assert value == result.grad_of(name), name  # consistency
        if name.startswith("x"):  # independent: central differences of the whole graph
            assert close_to_difference(value, *graph_derivative(plan, name)), name


@pytest.mark.parametrize(
    ("text", "x", "expected"),
    [
        ("sqrt(relu(x))", -1.0, 0.0),  # 0 near -1; d sqrt/du at u = 0 is infinite, relu sends 0
        ("sqrt(relu(x))", 4.0, 0.25),  # 1 / (2 sqrt(4))
        ("sqrt(max(x, 0))", -2.0, 0.0),
        ("log(where(x > 0, x, 0) + 1) * 0 + sqrt(relu(x))", -3.0, 0.0),
    ],
)
def test_a_derived_graph_selects_and_does_not_multiply(text, x, expected):
    """Hand math. The derived graph runs where backprop does: an op that selects passes 0 to what
    it did not select even where the gradient arriving is not a number (a `where` in the graph)."""
    plan = load_text(f"inputs: {{x: {x}}}\nnodes:\n  y: {text}\n")
    assert evaluate(plan).grad_of("x") == expected
    derived = evaluate(load_text(graph_yaml(derive(plan, "x"), ["test"])))
    assert derived.value == expected


@pytest.mark.parametrize("inputs", ["{a: 1.0, b: -1.0}", "{a: 1.0, b: 0.0}"])
@pytest.mark.parametrize("branch", ["b**a", "a/0.0"])
def test_a_derived_graph_runs_where_a_branch_not_taken_has_no_derivative(inputs, branch):
    """a + where(a, a, BRANCH): d/da = 2 by hand (the taken branch is a). The untaken branch's own
    derivatives have no value (ln of a negative base; a / 0.0 has none at all); the derived graph
    must not need them, as the engine does not."""
    plan = load_text(f'inputs: {inputs}\nnodes:\n  f: "a + where(a, a, {branch})"\n')
    assert evaluate(plan).grad_of("a") == 2.0
    derived = evaluate(load_text(graph_yaml(derive(plan, "a"), ["test"])))
    assert derived.value == 2.0


@pytest.mark.parametrize(
    ("text", "x", "expected"),
    [
        ("abs(x / 5e-324)", 0.0, 0.0),  # abs'(0) = 0, times 1/5e-324 (inf alone): 0 / 5e-324 = 0
        ("sigmoid(log(x))", 5e-310, 1.0),  # x / (1 + x)**2: 1 / x alone overflows, dout / x does not
        ("(x / 5e-324) == x", 0.0, 0.0),  # eq sends 0 to x / 5e-324, which sends 0 / 5e-324 = 0 on
    ],
)
def test_a_derived_graph_puts_dout_into_the_numerator_as_backprop_does(text, x, expected):
    """Hand math (to within rounding); the derived graph gives backprop's number exactly, where a
    local derivative written alone (1 / 5e-324) would leave the float range."""
    plan = load_text(f"inputs: {{x: {x}}}\nnodes:\n  y: {text}\n")
    g = evaluate(plan).grad_of("x")
    assert math.isclose(g, expected, rel_tol=1e-12, abs_tol=0.0)
    assert evaluate(load_text(graph_yaml(derive(plan, "x"), ["test"]))).value == g


@pytest.mark.parametrize("condition", ["1.0", "a"])
def test_a_branch_where_does_not_take_and_that_has_no_value_stays_out_of_the_derivative(condition):
    """Found by the fuzz test: f1 (2.2e-308 ** -2 overflows) is only where's untaken branch. Backprop
    gives d(f2)/d(a) = 1; the derived graph must too, without needing f1 (its local derivative has no
    value, and a formula kept for its part must not become an output that needs one)."""
    text = (
        'inputs: {a: -2.0, b: 0.0}\nnodes:\n  f1: "2.2250738585072014e-308**a + 0*a"\n'
        f'  f2: "--where({condition}, a, f1) + 0*a"\noutput: f2\n'
    )
    plan = load_text(text)
    assert evaluate(plan).grad_of("a") == 1
    for name, want in (("a", 1), ("b", 0)):
        derived = load_text(graph_yaml(derive(plan, name), ["test"]))
        assert evaluate(derived).value == want


def test_log1p_past_two_to_the_53_rounds_alike_in_grad_and_derive():
    """Found by the fuzz test: 1 + 2**53 stayed an exact integer in grad's local derivative, where the
    derived graph's add node rounds it to a float: d/dx log1p(x) was 1 ulp apart."""
    plan = load_text("inputs:\n  x0: 9007199254740992\nnodes:\n  n0: {op: log1p, inputs: [x0]}\n")
    g = evaluate(plan).grad_of("x0")
    assert g == 1 / 9007199254740992.0
    assert evaluate(load_text(graph_yaml(derive(plan, "x0"), ["test"]))).value == g


def test_a_local_derivative_without_a_value_in_a_branch_where_does_not_take_sends_nothing():
    """Found by the fuzz test: the exponent's local derivative of mulpow(x0, -1.0, x0) is
    xlogy(0, -1.0), which has no value whatever the inputs; its node is only in where's untaken
    branch, so backprop never asks for it, and derive must not either."""
    plan = load_text(
        "inputs:\n  x0: 1.0\nnodes:\n  n2: {op: mulpow, inputs: [x0, -1.0, x0]}\n"
        "  n5: {op: abs, inputs: [n2]}\n  n7: {op: where, inputs: [x0, x0, n5]}\noutput: n7\n"
    )
    assert evaluate(plan).grad_of("x0") == 1
    assert evaluate(load_text(graph_yaml(derive(plan, "x0"), ["test"]))).value == 1
