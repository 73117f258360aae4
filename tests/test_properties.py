"""Properties over random graphs: backprop agrees with central differences of the whole graph."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from cgraph_cli.engine import evaluate
from cgraph_cli.loader import load_text

from .conftest import central_difference
from .strategies import smooth_graphs


@settings(max_examples=150, deadline=None)
@given(smooth_graphs())
def test_every_input_gradient_matches_a_central_difference(text):
    plan = load_text(text)
    result = evaluate(plan)
    for inp_name in plan.input_names:
        numeric = central_difference(plan, inp_name, 1e-6)
        assert math.isclose(result.grad_of(inp_name), numeric, rel_tol=1e-4, abs_tol=1e-6), (inp_name, text)


@settings(max_examples=100, deadline=None)
@given(smooth_graphs())
def test_the_output_gradient_of_itself_is_one_and_json_round_trips(text):
    import json

    from cgraph_cli.render import run_json

    result = evaluate(load_text(text))
    assert result.grads[result.of] == 1
    data = json.loads("".join(run_json(result)))
    assert [n["grad"] for n in data["nodes"]] == result.grads


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53)))
def test_numbers_written_as_python_prints_them_load_back_exactly(x):
    from cgraph_cli.syntax import parse_number

    text = repr(x)
    if "inf" in text or "nan" in text:
        return
    assert parse_number(text) == x
    assert load_text(f"inputs: {{v: {text}}}\n").values[0] == x


@settings(max_examples=100, deadline=None)
@given(smooth_graphs())
def test_derived_graphs_run_to_backprops_number_exactly(text):
    from cgraph_cli.render import graph_yaml
    from cgraph_cli.symbolic import derive

    plan = load_text(text)
    result = evaluate(plan)
    for inp_name in plan.input_names:
        derived = load_text(graph_yaml(derive(plan, inp_name), []))
        assert evaluate(derived).value == result.grad_of(inp_name), (inp_name, text)


@settings(max_examples=60, deadline=None)
@given(smooth_graphs(max_inputs=3, max_nodes=8))
def test_second_derivatives_match_differences_of_the_gradient(text):
    from cgraph_cli.symbolic import hessian

    plan = load_text(text)
    names = plan.input_names
    matrix = hessian(plan, names)
    for b in names:
        for a in names:
            numeric = central_difference(plan, b, 1e-5, lambda result: result.grad_of(a))
            assert math.isclose(matrix[a][b], numeric, rel_tol=1e-4, abs_tol=1e-6), (a, b, text)


@given(st.integers(2**53 + 1, 10**300))
def test_integers_too_large_to_stay_exact_are_read_as_the_nearest_float(x):
    from cgraph_cli.syntax import parse_number

    assert parse_number(str(x)) == float(x) and type(parse_number(str(x))) is float
