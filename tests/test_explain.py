"""The chain rule spelled out: paths, their count without listing them, and the backward steps."""

from __future__ import annotations

import json
import math

import pytest

from cgraph_cli.commands.explain import explain, steps
from cgraph_cli.core.engine import evaluate

from .conftest import GRAPHS, graph_of
from .golden_cases import scalar_graph_files


def evaluated(text):
    return evaluate(graph_of(text))


def test_figure_5_5_the_one_path_to_apple():
    e = explain(evaluated((GRAPHS / "apples.yaml").read_text()), "apple")
    assert [(p.nodes, p.locals, p.product) for p in e.paths] == [(("price", "apple_price", "apple"), (1.1, 2), 2.2)]
    assert (e.path_count, e.paths_sum, e.gradient) == (1, 2.2, 2.2)


def test_a_node_used_twice_has_a_path_per_use():
    # b = x*x + x: paths b->a->x (slot 0), b->a->x (slot 1), b->x; 3 + 3 + 1 = 7 = 2x + 1
    e = explain(
        evaluated("inputs: {x: 3}\nnodes:\n  a: {op: mul, inputs: [x, x]}\n  b: {op: add, inputs: [a, x]}\n"), "x"
    )
    assert [(p.nodes, p.slots, p.product) for p in e.paths] == [
        (("b", "a", "x"), (0, 0), 3),
        (("b", "a", "x"), (0, 1), 3),
        (("b", "x"), (1,), 1),
    ]
    assert (e.path_count, e.paths_sum, e.gradient) == (3, 7, 7)


@pytest.mark.parametrize("graph", scalar_graph_files(), ids=lambda p: p.stem)
def test_the_paths_add_up_to_backprop_for_every_input_of_every_example(graph):
    result = evaluated(graph.read_text(encoding="utf-8"))
    for inp_name in result.plan.variable_names:
        e = explain(result, inp_name)
        paths = list(e.paths)
        assert len(paths) == e.path_count == e.listed
        assert math.isclose(e.paths_sum, result.grad_of(inp_name), rel_tol=1e-12, abs_tol=1e-12)
        for p in paths:  # each product is the locals multiplied in backprop's order
            product = 1
            for d in p.locals:
                product = product * d
            assert p.product == product


def diamonds(n: int) -> str:
    """A lattice of n diamonds: 2^n paths from the output back to x0, gradient exactly 1."""
    lines = ["inputs: {x0: 1.0}", "nodes:"]
    for k in range(n):
        lines += [
            f"  a{k}: {{op: mul, inputs: [x{k}, 0.5]}}",
            f"  b{k}: {{op: mul, inputs: [x{k}, 0.5]}}",
            f"  x{k + 1}: {{op: add, inputs: [a{k}, b{k}]}}",
        ]
    return "\n".join(lines) + "\n"


def test_exploding_path_counts_are_counted_not_listed():
    result = evaluated(diamonds(60))
    e = explain(result, "x0", max_paths=20)
    paths = list(e.paths)
    assert e.path_count == 2**60 and len(paths) == 20 and e.paths_sum is None
    assert e.gradient == 1.0
    assert all(p.product == 0.5**60 for p in paths)  # a half at every diamond


def test_max_paths_zero_lists_none_but_counts_all():
    e = explain(evaluated(diamonds(3)), "x0", max_paths=0)
    assert (e.path_count, list(e.paths)) == (8, [])


def test_no_path_means_gradient_zero():
    e = explain(evaluated("inputs: {x: 1, y: 2}\nnodes: {z: {op: neg, inputs: [x]}}\noutput: z\n"), "y")
    assert (e.path_count, list(e.paths), e.paths_sum, e.gradient) == (0, [], 0, 0)


def test_a_long_chain_has_one_path_listed_without_recursion():
    n = 50_000
    text = "inputs: {x0: 1}\nnodes:\n" + "".join(f"  x{i}: {{op: add, inputs: [x{i - 1}, 1]}}\n" for i in range(1, n))
    e = explain(evaluated(text), "x0")
    (path,) = e.paths
    assert e.path_count == 1 and len(path.nodes) == n and path.product == 1


def test_steps_are_the_books_layer_calls_in_reverse():
    taken = steps(evaluated((GRAPHS / "apples_oranges.yaml").read_text()))
    assert [(s.node, s.upstream) for s in taken] == [
        ("price", 1),
        ("all_price", 1.1),
        ("orange_price", 1.1),
        ("apple_price", 1.1),
    ]
    assert taken[0].sends == (("all_price", 1.1, 1.1), ("tax", 650, 650))
    assert taken[3].sends == (("apple", 2, 2.2), ("apple_num", 100, 110.00000000000001))


def test_cli_explain_text_and_json(invoke):
    result = invoke("explain", GRAPHS / "apples.yaml", "--wrt", "apple")
    assert result.exit_code == 0
    assert "price → apple_price → apple: 1 × 1.1 × 2 = 2.2" in result.stdout
    data = json.loads(invoke("explain", GRAPHS / "apples.yaml", "--wrt", "apple", "--json").stdout)
    assert data["gradient"] == 2.2 and data["path_count"] == 1
    assert data["paths"] == [
        {"nodes": ["price", "apple_price", "apple"], "operand_slots": [0, 0], "locals": [1.1, 2], "product": 2.2}
    ]


def test_cli_explain_says_how_many_paths_were_left_out(invoke, graph_file):
    result = invoke("explain", graph_file(diamonds(40)), "--wrt", "x0", "--max-paths", "3")
    assert result.exit_code == 0
    assert f"{2**40} paths" in result.stdout and f"{2**40 - 3} more paths not listed" in result.stdout


def test_cli_explain_steps(invoke):
    result = invoke("explain", GRAPHS / "apples.yaml", "--steps")
    assert "apple += 1.1 × 2 = 2.2" in result.stdout
    assert "apple_num += 1.1 × 100 = 110.00000000000001" in result.stdout
    data = json.loads(invoke("explain", GRAPHS / "apples.yaml", "--steps", "--json").stdout)
    assert data["steps"][0] == {
        "node": "price",
        "op": "mul",
        "upstream": 1,
        "sends": [{"to": "apple_price", "local": 1.1, "receives": 1.1}, {"to": "tax", "local": 200, "receives": 200}],
    }


def test_cli_explain_needs_wrt_or_steps_and_a_known_name(invoke):
    result = invoke("explain", GRAPHS / "apples.yaml")
    assert result.exit_code == 2 and "--wrt" in result.stderr and result.stdout == ""
    result = invoke("explain", GRAPHS / "apples.yaml", "--wrt", "appel")
    assert result.exit_code == 2 and "did you mean 'apple'?" in result.stderr


def test_cli_text_tells_repeated_operands_apart(invoke):
    result = invoke(
        "explain",
        "-",
        "--wrt",
        "x",
        input="inputs: {x: 3}\nnodes:\n  a: {op: mul, inputs: [x, x]}\n  b: {op: add, inputs: [a, x]}\n",
    )
    assert "b → a → x (operand 1): 1 × 1 × 3 = 3" in result.stdout
    assert "b → a → x (operand 2): 1 × 1 × 3 = 3" in result.stdout
    assert "b → x: 1 × 1 = 1" in result.stdout and "sum over all 3 paths: 7" in result.stdout


def test_paths_through_a_node_whose_gradient_is_zero_still_show_their_locals():
    # relu blocks the gradient at x < 0: the path is there, its product is 0
    result = evaluated("inputs: {x: -1.0}\nnodes:\n  r: {op: relu, inputs: [x]}\n  z: {op: mul, inputs: [r, 3]}\n")
    e = explain(result, "x")
    assert [(p.nodes, p.locals, p.product) for p in e.paths] == [(("z", "r", "x"), (3, 0), 0)]
    assert e.gradient == 0
    blocked = evaluated("inputs: {x: 2.0}\nnodes:\n  s: {op: step, inputs: [x]}\n  z: {op: mul, inputs: [s, x]}\n")
    assert [p.product for p in explain(blocked, "x").paths] == [0, 1]
