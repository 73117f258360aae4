"""The engine on hand-built graphs: the book's numbers, the chain rule, shared nodes, depth."""

from __future__ import annotations

import math

import pytest

from cgraph_cli.core.engine import edge_grads, evaluate
from cgraph_cli.core.errors import GraphError, RequestError
from cgraph_cli.core.op import Undefined

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


# --- the engine's edges, each against numbers worked out by hand --------------------------------


def _run(text: str, of: str | None = None):
    from cgraph_cli.read.loader import load_text

    return evaluate(load_text(text), of=of)


def test_elasticity_is_the_gradient_times_the_input_over_the_output():
    # y = 3x² + x at x = 2: y = 14, dy/dx = 6x + 1 = 13, elasticity 13 · 2 / 14
    result = _run("inputs: {x: 2.0}\nnodes: {y: 3 * x ** 2 + x}\n")
    assert result.elasticity("x") == 13.0 * 2.0 / 14.0
    assert _run("inputs: {x: 3}\nnodes: {y: x * -2}\n").elasticity("x") == 1.0  # -2 · 3 / -6


def test_elasticity_is_undefined_at_an_output_of_0_an_undefined_gradient_or_an_overflow():
    zero = _run("inputs: {x: 2.0}\nnodes: {y: x - 2}\n").elasticity("x")
    assert type(zero) is Undefined and zero.reason == "the output is 0, so it has no percent change"
    kink = _run("inputs: {x: 0.0}\nnodes: {y: sqrt(x) + 1}\n")
    assert kink.elasticity("x") is kink.grad_of("x") and "division by zero" in kink.grad_of("x").reason
    # dy/dx = c = 1e10 and x = 1e300: their product passes a float's range though y itself is finite
    below = math.nextafter(1e300, 0)
    big = _run(f"inputs: {{x: 1e300, c: 1e10}}\nconstants: {{x0: {below!r}}}\nnodes: {{y: c * (x - x0)}}\n")
    assert big.grad_of("x") == 1e10 and math.isfinite(big.value)
    assert type(big.elasticity("x")) is Undefined and big.elasticity("x").reason == "not a finite number (overflow)"


def test_what_each_edge_carries_back_a_constant_a_literal_and_a_node_that_does_not_lead_to_the_output():
    result = _run(
        "inputs: {x: 3, u: 5}\nconstants: {k: 2}\n"
        "nodes:\n  a: {op: mul, inputs: [x, k]}\n  b: {op: mul, inputs: [a, 4]}\n  dead: {op: mul, inputs: [u, x]}\n",
        of="b",
    )
    at = result.plan.index
    assert edge_grads(result, at["x"]) == []  # an input has no operands
    assert edge_grads(result, at["b"]) == [(4, 4), None]  # a literal takes nothing back
    assert edge_grads(result, at["a"]) == [(2, 8), None]  # nor does a constant
    assert edge_grads(result, at["dead"]) == [(None, 0), (None, 0)]  # never reached: sends nothing
    assert result.grad_of("x") == 8 and result.grad_of("u") == 0 and result.grad_of("k") is None
    # a literal is no operand that takes a gradient, reached or not (here the graph's only literals)
    dead = _run("inputs: {x: 3, u: 5}\nnodes: {b: {op: mul, inputs: [x, x]}, d: {op: mul, inputs: [u, 7, 8]}}", of="b")
    assert edge_grads(dead, dead.plan.index["d"]) == [(None, 0), None, None]


def test_negative_integers_stay_integers():
    result = _run("inputs: {x: 3}\nnodes: {y: x * -2, z: y - 1}\n", of="z")
    assert (type(result.value), result.value) == (int, -7)
    assert (type(result.value_of("y")), result.value_of("y")) == (int, -6)
    assert (type(result.grad_of("x")), result.grad_of("x")) == (int, -2)


TWO_53 = 2**53


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("members", [2, 3, 20])  # node by node, an n-ary add's sends, a wide level a list at a time
@pytest.mark.parametrize("past", [0, 1])
def test_gradients_added_up_to_2_to_the_53_stay_integers_and_one_past_become_floats(sign, members, past):
    # x feeds `members` nodes m_i = x * c_i whose literals add up to ±(2**53 + past); every partial sum
    # before the last is within ±2**53, so the sum is exact: an int at 2**53, the nearest float past it
    total = TWO_53 + past
    cs = [total // members] * (members - 1)
    cs.append(total - sum(cs))
    lines = "".join(f"  m{i}: {{op: mul, inputs: [x, {sign * c}]}}\n" for i, c in enumerate(cs))
    out = ", ".join(f"m{i}" for i in range(members))
    result = _run(f"inputs: {{x: 1}}\nnodes:\n{lines}  out: {{op: add, inputs: [{out}]}}\n")
    g = result.grad_of("x")
    assert (type(g), g) == ((int, sign * TWO_53) if not past else (float, sign * 9007199254740992.0))


@pytest.mark.parametrize(
    "c, d, expected",
    [
        (2**26, 2**27, (int, TWO_53)),
        (2**26, -(2**27), (int, -TWO_53)),
        (3, 3002399751580331, (float, 9007199254740992.0)),  # 3 · 3002399751580331 = 2**53 + 1
        (3, -3002399751580331, (float, -9007199254740992.0)),
    ],
)
def test_a_gradient_that_is_a_product_past_2_to_the_53_becomes_a_float(c, d, expected):
    # d(out)/dx = d · c, the chain rule's product of two integers, in each backward path
    result = _run(f"inputs: {{x: 1}}\nnodes: {{m: {{op: mul, inputs: [x, {c}]}}, out: {{op: mul, inputs: [m, {d}]}}}}")
    assert (type(result.grad_of("x")), result.grad_of("x")) == expected
    result = _run(f"inputs: {{x: 1}}\nnodes: {{m: {{op: mul, inputs: [x, {c}]}}, out: {{op: neg, inputs: [m]}}}}\n")
    assert (type(result.grad_of("x")), result.grad_of("x")) == (int, -c)


def test_a_long_operand_list_in_a_message_shows_its_ends_and_counts_the_rest():
    values = [f"{k}e100" for k in range(1, 11)]
    with pytest.raises(GraphError) as e:
        _run(f"inputs: {{x: 1.0}}\nnodes: {{y: {{op: mul, inputs: [{', '.join(values)}]}}}}\n")
    assert "mul(1e+100, 2e+100, 3e+100, 4e+100, … (4 more) …, 9e+100, 1e+101): not a finite number" in str(e.value)


def test_a_gradient_that_overflows_on_the_way_back_is_undefined_at_every_node_behind_it_saying_where():
    # values are finite (y = 1, z = 1e10); d(z)/d(b) = 1e10 · a = 1e310 is not, nor is anything behind b
    chain = "".join(f"  c{k}: {{op: mul, inputs: [c{k - 1}, 1.0]}}\n" for k in range(1, 6))
    result = _run(
        "inputs: {a: 1e300, c0: 1e-300}\n"
        f"nodes:\n{chain}  b: {{op: mul, inputs: [c5, 1.0]}}\n"
        "  y: {op: mul, inputs: [a, b]}\n  z: {op: mul, inputs: [y, 1e10]}\n"
    )
    assert result.value == 1e10 and result.grad_of("y") == 1e10 and result.grad_of("a") == 1e10 * 1e-300
    reason = "node 'y' = mul(1e+300, 1e-300): the gradient it passes to 'b' is undefined: not a finite number"
    reason += " (overflow)"
    for name in ["b", "c5", "c4", "c3", "c2", "c1", "c0"]:
        g = result.grad_of(name)
        assert type(g) is Undefined and g.reason == reason, name
        assert g.origin == result.plan.index["y"]


def test_a_result_reads_a_node_an_element_of_an_array_and_says_what_its_gradients_are_of():
    numbers = _run("inputs: {x: 3.0}\nnodes: {y: x * x}\n")
    assert numbers.of_text == "y" and numbers.value_of("x") == 3.0 and numbers.grad_of("x") == 6.0
    arrays = _run("inputs: {W: [[1.0, 2.0], [3.0, 4.0]]}\nnodes: {y: W * W}\n")
    assert arrays.of_text == "sum(y)"  # an array output: the gradients are of the sum of its elements
    assert arrays.value_of("W[1, 0]") == 3.0 and arrays.grad_of("W[1, 0]") == 6.0 and arrays.grad_of("W[0, 1]") == 4.0
    assert arrays.value_of("y").tolist() == [[1.0, 4.0], [9.0, 16.0]]
