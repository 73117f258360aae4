"""Properties over random graphs, each against something worked out apart from backprop: central
differences of the whole graph (conftest.numeric_derivative) over graphs of every op, integer
and float literals, n-ary and repeated operands, and wide levels run a list at a time."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from cgraph_cli.core.engine import evaluate
from cgraph_cli.read.loader import load_text

from .conftest import close_to_difference, graph_derivative, same_pieces
from .strategies import examples, layered_graphs, smooth_graphs


def assert_gradients_match_differences(text: str) -> int:
    """Every input's gradient against a five-point difference of the output; how many were compared."""
    plan = load_text(text)
    result = evaluate(plan)
    compared = 0
    for name in plan.variable_names:
        if not same_pieces(plan, name):
            continue  # a kink within the difference's reach
        estimate, error = graph_derivative(plan, name)
        assert close_to_difference(result.grad_of(name), estimate, error), (name, result.grad_of(name), estimate, text)
        compared += 1
    return compared


@settings(max_examples=examples(200), deadline=None)
@given(smooth_graphs())
def test_every_input_gradient_matches_a_central_difference(text):
    assert_gradients_match_differences(text)


@settings(max_examples=examples(30), deadline=None)
@given(layered_graphs())
def test_wide_levels_run_a_list_at_a_time_match_central_differences(text):
    from cgraph_cli.core.schedule import Group, program

    plan = load_text(text)
    assert any(type(s) is Group for s in program(plan, plan.given({})).segments)  # the grouped path ran
    assert assert_gradients_match_differences(text) >= 1


@settings(max_examples=examples(100), deadline=None)
@given(smooth_graphs())
def test_the_output_gradient_of_itself_is_one_and_json_round_trips(text):
    import json

    from cgraph_cli.commands.run import run_json

    result = evaluate(load_text(text))
    assert result.grads[result.of] == 1
    data = json.loads("".join(run_json(result)))
    assert [n["grad"] for n in data["nodes"]] == result.grads


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53)))
def test_numbers_written_as_python_prints_them_load_back_exactly(x):
    from cgraph_cli.read.syntax import parse_number

    text = repr(x)
    if "inf" in text or "nan" in text:
        return
    assert parse_number(text) == x
    assert load_text(f"inputs: {{v: {text}}}\n").values[0] == x


@settings(max_examples=examples(100), deadline=None)
@given(smooth_graphs())
def test_derived_graphs_match_central_differences_and_consistency_with_grad(text):
    """Independent: a derived graph's value is the derivative, by central differences. Consistency
    (the same `local` code run on symbols and on numbers): it is grad's number exactly."""
    from cgraph_cli.commands.derive import derive
    from cgraph_cli.show.formats import graph_yaml

    plan = load_text(text)
    result = evaluate(plan)
    for name in plan.input_names:
        value = evaluate(load_text(graph_yaml(derive(plan, name), []))).value
        assert value == result.grad_of(name), (name, text)  # consistency
        if same_pieces(plan, name):
            assert close_to_difference(value, *graph_derivative(plan, name)), (name, text)


@settings(max_examples=examples(60), deadline=None)
@given(smooth_graphs(max_inputs=3, max_nodes=8))
def test_second_derivatives_match_differences_of_the_gradient(text):
    from cgraph_cli.commands.derive import hessian

    plan = load_text(text)
    names = plan.input_names
    matrix = hessian(plan, names)
    for b in names:
        if not same_pieces(plan, b):
            continue
        for a in names:
            estimate, error = graph_derivative(plan, b, lambda result: result.grad_of(a))
            # the gradient's own rounding is that of the graph's values, times the derivatives' sizes
            assert close_to_difference(matrix[a][b], estimate, error * 10), (a, b, matrix[a][b], estimate, text)


@given(st.integers(2**53 + 1, 10**300))
def test_integers_too_large_to_stay_exact_are_read_as_the_nearest_float(x):
    from cgraph_cli.read.syntax import parse_number

    assert parse_number(str(x)) == float(x) and type(parse_number(str(x))) is float


def test_the_difference_is_sharp_enough_to_see_a_gradient_off_by_one_part_in_ten_thousand():
    """The tolerance above must not hide a small mistake: a gradient 1e-4 off fails it."""
    text = "inputs: {x: 0.7}\nnodes: {y: {op: sigmoid, inputs: [x]}, z: {op: mul, inputs: [y, x, 3]}}\n"
    plan = load_text(text)
    estimate, error = graph_derivative(plan, "x")
    right = evaluate(plan).grad_of("x")
    assert close_to_difference(right, estimate, error)
    assert not close_to_difference(right * (1 + 1e-4), estimate, error)
    assert not close_to_difference(right * (1 - 1e-5), estimate, error)
    assert math.isclose(right, estimate, rel_tol=1e-9)
