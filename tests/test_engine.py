"""The engine on hand-built graphs: the book's numbers, the chain rule, shared nodes, depth."""

from __future__ import annotations

import math

import pytest

from cgraph_cli.engine import evaluate
from cgraph_cli.errors import GraphError, RequestError
from cgraph_cli.ops import Undefined

from .conftest import Graph, Input, Node

APPLES = Graph(
    "apples",
    (
        Input("apple", 100),
        Input("apple_num", 2),
        Input("tax", 1.1),
        Node("apple_price", "mul", ("apple", "apple_num")),
        Node("price", "mul", ("apple_price", "tax")),
    ),
)

APPLES_ORANGES = Graph(
    "apples_oranges",
    (
        Input("apple", 100),
        Input("apple_num", 2),
        Input("orange", 150),
        Input("orange_num", 3),
        Input("tax", 1.1),
        Node("apple_price", "mul", ("apple", "apple_num")),
        Node("orange_price", "mul", ("orange", "orange_num")),
        Node("all_price", "add", ("apple_price", "orange_price")),
        Node("price", "mul", ("all_price", "tax")),
    ),
)


def book_apples():
    """Figure 5-16 computed the book's way, with MulLayer's arithmetic written out."""
    apple, apple_num, tax = 100, 2, 1.1
    apple_price = apple * apple_num
    price = apple_price * tax
    dprice = 1
    dapple_price, dtax = dprice * tax, dprice * apple_price
    dapple, dapple_num = dapple_price * apple_num, dapple_price * apple
    return price, {"apple": dapple, "apple_num": dapple_num, "tax": dtax}


def test_apples_match_the_book_to_the_last_digit():
    result = evaluate(APPLES)
    assert repr(result.value) == "220.00000000000003"
    assert [repr(result.grad_of(n)) for n in ("apple", "apple_num", "tax")] == ["2.2", "110.00000000000001", "200"]
    price, grads = book_apples()
    assert result.value == price and {n: result.grad_of(n) for n in grads} == grads


def test_apples_oranges_match_the_book_to_the_last_digit():
    result = evaluate(APPLES_ORANGES)
    assert repr(result.value) == "715.0000000000001"
    got = [repr(result.grad_of(n)) for n in ("apple", "apple_num", "orange", "orange_num", "tax")]
    assert got == ["2.2", "110.00000000000001", "3.3000000000000003", "165.0", "650"]


def test_a_node_used_twice_gets_both_contributions():
    # y = x * x: dy/dx = 2x
    graph = Graph("sq", (Input("x", 3.0), Node("y", "mul", ("x", "x"))))
    assert evaluate(graph).grad_of("x") == 6.0


def test_gradients_from_several_consumers_add_up():
    # z = a*b + a: dz/da = b + 1
    graph = Graph("g", (Input("a", 2.0), Input("b", 5.0), Node("ab", "mul", ("a", "b")), Node("z", "add", ("ab", "a"))))
    assert evaluate(graph).grad_of("a") == 6.0


def test_chain_rule_on_figure_5_7():
    # z = (x + y)^2 at x=1, y=2: dz/dx = dz/dy = 2 * (x + y) = 6
    graph = Graph("c", (Input("x", 1), Input("y", 2), Node("t", "add", ("x", "y")), Node("z", "pow", ("t", 2))))
    result = evaluate(graph)
    assert (result.value, result.grad_of("x"), result.grad_of("y"), result.grad_of("t")) == (9, 6, 6, 6)


def test_a_node_with_no_path_to_the_output_has_gradient_zero():
    graph = Graph(
        "g",
        (Input("x", 2.0), Input("unused", 7.0), Node("side", "neg", ("unused",)), Node("y", "exp", ("x",))),
        output="y",
    )
    result = evaluate(graph)
    assert result.grad_of("unused") == 0 and result.grad_of("side") == 0
    assert result.value_of("side") == -7.0  # still evaluated forward


def test_of_differentiates_another_node():
    result = evaluate(APPLES, of="apple_price")
    assert (result.value, result.grad_of("apple"), result.grad_of("tax"), result.grad_of("price")) == (200, 2, 0, 0)


def test_overrides_change_an_input_for_one_run():
    result = evaluate(APPLES, {"apple": 150})
    assert result.value == 150 * 2 * 1.1
    assert evaluate(APPLES).value_of("apple") == 100


def test_overrides_and_of_must_name_inputs_and_nodes():
    with pytest.raises(RequestError, match="did you mean 'apple'") as e:
        evaluate(APPLES, {"appel": 1})
    assert e.value.role == "set"
    with pytest.raises(RequestError, match="not an input"):
        evaluate(APPLES, {"price": 1})
    with pytest.raises(RequestError, match="did you mean 'price'") as e:
        evaluate(APPLES, of="prize")
    assert e.value.role == "of" and "--" not in e.value.message  # the core names roles, not options


def test_evaluation_order_is_topological_with_ties_in_file_order():
    graph = Graph(
        "g",
        (
            Node("c", "add", ("b", "x")),
            Input("x", 1),
            Node("b", "neg", ("x",)),
            Node("d", "neg", ("x",)),
            Node("out", "add", ("c", "d")),
        ),
    )
    assert graph.names == ["x", "b", "c", "d", "out"]


def test_constants_take_no_gradient_so_pow_of_a_negative_base_is_fine():
    graph = Graph("g", (Input("x", -3), Node("y", "pow", ("x", 2))))
    result = evaluate(graph)
    assert (result.value, result.grad_of("x")) == (9, -6)


def test_math_errors_name_the_node_op_and_operands():
    graph = Graph("g", (Input("x", 1), Input("y", 0), Node("q", "div", ("x", "y"))), source="g.yaml")
    with pytest.raises(GraphError) as e:
        evaluate(graph)
    assert str(e.value) == "g.yaml: node 'q' = div(1, 0): division by zero"


def test_the_exponents_gradient_at_a_negative_base_is_undefined_and_stops_nothing_else():
    graph = Graph("g", (Input("x", -2.0), Input("n", 2.0), Node("p", "pow", ("x", "n"))), source="g.yaml")
    result = evaluate(graph)
    assert result.value == 4.0 and result.grad_of("x") == -4.0
    undefined = result.grad_of("n")
    assert type(undefined) is Undefined and "node 'p' = pow(-2.0, 2.0)" in undefined.reason
    assert [i for i, _ in result.undefined()] == [1]
    with pytest.raises(GraphError, match=r"d\(p\)/d\(n\) is undefined: node 'p' = pow\(-2.0, 2.0\)"):
        result.needed_grad("n")


def test_an_undefined_gradient_flows_on_to_what_feeds_it():
    graph = Graph("g", (Input("x", -2.0), Input("k", 1.0), Node("n", "add", ("k", 1)), Node("p", "pow", ("x", "n"))))
    result = evaluate(graph)
    assert [result.plan.names[i] for i, _ in result.undefined()] == ["k", "n"]
    assert result.grad_of("x") == -4.0


def test_overflow_is_an_error_not_infinity():
    graph = Graph("g", (Input("x", 1e308), Node("y", "mul", ("x", 10))))
    with pytest.raises(GraphError, match="not a finite number"):
        evaluate(graph)


def test_a_gradient_that_overflows_is_undefined_and_the_value_still_shown():
    # x*y*z = 1e200 is finite, but d/dy = x*z = 1e400 is not
    graph = Graph("g", (Input("x", 1e200), Input("y", 1e-200), Input("z", 1e200), Node("p", "mul", ("x", "y", "z"))))
    result = evaluate(graph)
    assert result.value == pytest.approx(1e200) and type(result.grad_of("y")) is Undefined
    assert result.grad_of("x") == pytest.approx(1.0)


def test_a_huge_product_of_huge_integers_is_refused_at_once():
    # 10,000 factors of 10**300 as exact integers took 44 s (quadratic); floats overflow at the second
    import time

    nodes = (Input("x", 10**300), Node("y", "mul", ("x",) * 10_000))
    start = time.process_time()
    with pytest.raises(GraphError, match="not a finite number"):
        evaluate(Graph("g", nodes))
    assert time.process_time() - start < 2


def test_ambiguous_output_lists_the_candidates():
    graph = Graph("g", (Input("x", 1), Node("a", "neg", ("x",)), Node("b", "exp", ("x",))))
    with pytest.raises(GraphError, match="ambiguous: a, b"):
        evaluate(graph)
    assert evaluate(graph, of="b").value == math.e


@pytest.mark.slow
def test_a_million_node_chain_evaluates_without_recursion():
    n = 1_000_000
    nodes = [Input("x0", 0.5)] + [Node(f"x{i}", "add", (f"x{i - 1}", 1)) for i in range(1, n)]
    result = evaluate(Graph("chain", tuple(nodes)))
    assert result.value == 0.5 + (n - 1)
    assert result.grad_of("x0") == 1


def test_a_long_chain_in_reverse_file_order_evaluates():
    n = 50_000
    nodes = [Node(f"x{i}", "neg", (f"x{i - 1}",)) for i in range(n - 1, 0, -1)] + [Input("x0", 2)]
    result = evaluate(Graph("chain", tuple(nodes)))
    assert result.value == (2 if (n - 1) % 2 == 0 else -2)
    assert result.grad_of("x0") == (1 if (n - 1) % 2 == 0 else -1)
