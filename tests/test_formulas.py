"""Formulas and constants: Python's digits, readable part names, located errors, derive round trips."""

from __future__ import annotations

import json
import math
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cgraph_cli.core.engine import evaluate
from cgraph_cli.core.errors import GraphError
from cgraph_cli.read.formula import FormulaError, lower, parse
from cgraph_cli.read.loader import load_text

from .conftest import close_to_difference, graph_derivative
from .strategies import examples


def value(text: str, **sets):
    return evaluate(load_text(text), sets).value


# -- Python's digits -------------------------------------------------------------------------


def test_the_books_apples_as_one_formula_give_the_books_digits(invoke, graph_file):
    path = graph_file("inputs: {apple: 100, apple_num: 2, tax: 1.1}\nnodes:\n  price: apple * apple_num * tax\n")
    out = json.loads(invoke("run", path, "--json").stdout)
    assert out["value"] == 220.00000000000003 == 100 * 2 * 1.1
    grads = {node["name"]: node["grad"] for node in out["nodes"]}
    assert grads == {"apple": 2.2, "apple_num": 110.00000000000001, "tax": 200, "apple*apple_num": 1.1, "price": 1}


_NAMES = ["a", "b", "c"]


@st.composite
def expressions(draw, depth: int = 4):
    """A random expression over a, b, c and small literals, as Python writes it."""
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from([*_NAMES, "2", "0.5", "3", "1e-3", "7"]))
    kind = draw(st.sampled_from(["+", "-", "*", "/", "**", "neg", "paren"]))
    if kind == "neg":
        return "-" + draw(expressions(depth - 1))
    if kind == "paren":
        return "(" + draw(expressions(depth - 1)) + ")"
    space = draw(st.sampled_from(["", " "]))
    if kind == "**":  # (left)**leaf: a tower such as 3**3**3**3 would take Python (the oracle) minutes
        return "(" + draw(expressions(depth - 1)) + ")" + space + kind + space + draw(expressions(0))
    return draw(expressions(depth - 1)) + space + kind + space + draw(expressions(depth - 1))


@settings(max_examples=examples(400), deadline=None)
@given(
    expressions(),
    st.lists(st.floats(-4, 4, allow_nan=False).filter(lambda x: abs(x) > 1e-3), min_size=3, max_size=3),
)
def test_a_formula_gives_exactly_the_digits_python_gives(formula, numbers):
    scope = dict(zip(_NAMES, numbers))
    assume(parse(formula).op not in ("name", "num"))  # a node must compute something
    try:
        expected = eval(formula, {"__builtins__": {}}, dict(scope))  # the oracle: Python itself
    except (ArithmeticError, ValueError):
        return
    assume(isinstance(expected, float | int) and not isinstance(expected, bool))
    if isinstance(expected, int):
        assume(abs(expected) <= 2**53)  # past that cgraph works in floats (README: Numbers)
    assume(math.isfinite(expected) and abs(expected) < 1e300)
    a, b, c = numbers
    text = f"inputs: {{a: {a!r}, b: {b!r}, c: {c!r}}}\nnodes:\n  y: {json.dumps(formula)}\noutput: y\n"
    try:
        got = value(text)
    except GraphError as e:  # cgraph refuses what Python would round past (an intermediate overflow)
        assume("finite" not in str(e) and "overflow" not in str(e))
        raise
    assert got == expected and type(got) is type(expected), formula


def test_operators_bind_and_group_as_pythons_do():
    x = 3
    cases = {"-x**2": -(x**2), "2**3**2": 2**3**2, "x - 2 - 1": x - 2 - 1, "x / 2 / 3": x / 2 / 3, "x^2": x**2}
    for formula, expected in cases.items():
        assert value(f'inputs: {{x: 3}}\nnodes:\n  y: "{formula}"\n') == expected, formula


def test_literals_alone_are_worked_out_once_into_a_constant():
    plan = load_text("inputs: {x: 2.0}\nnodes:\n  y: -1/6 * x\n")
    assert plan.literals == [-1 / 6]  # one constant, not nodes for 1, -1 and -1/6
    assert [plan.names[i] for i in range(plan.size)] == ["x", "y"]
    assert evaluate(plan).value == -1 / 6 * 2.0


# -- parts are nodes with readable names --------------------------------------------------------

PROFIT = """\
inputs: {price: 10, units: 1200, unit_cost: 4.5}
constants: {fixed: 3000}
nodes:
  revenue: price * units
  profit: revenue - units * unit_cost - fixed
output: profit
"""


def test_each_part_of_a_formula_is_a_node_named_by_its_text(invoke, graph_file):
    path = graph_file(PROFIT)
    nodes = json.loads(invoke("run", path, "--json").stdout)["nodes"]
    by_name = {node["name"]: node for node in nodes}
    assert by_name["units*unit_cost"]["inputs"] == ["units", "unit_cost"]
    assert by_name["revenue-units*unit_cost"]["inputs"] == ["revenue", "units*unit_cost"]
    assert by_name["profit"]["inputs"] == ["revenue-units*unit_cost", "fixed"]
    assert by_name["profit"]["value"] == 10 * 1200 - 1200 * 4.5 - 3000
    out = json.loads(invoke("grad", path, "--wrt", "units*unit_cost", "--json").stdout)
    assert out["gradients"] == {"units*unit_cost": -1}


def test_a_part_written_twice_is_one_node_used_twice():
    plan = load_text("inputs: {a: 2, b: 3}\nnodes:\n  y: (a*b) / (1 + a*b)\n  z: a*b + y\noutput: z\n")
    assert plan.names.count("a*b") == 1
    result = evaluate(plan)
    # dz/da through a*b three times: 1 + d/d(ab) of ab/(1+ab) = 1 + 1/(1+ab)^2, times b
    assert math.isclose(result.grad_of("a"), 3 * (1 + 1 / 49), rel_tol=1e-15)


def test_a_long_part_is_named_after_its_node_and_place():
    terms = " + ".join(f"x{i}" for i in range(30))
    inputs = ", ".join(f"x{i}: {i}" for i in range(30))
    plan = load_text(f"inputs: {{{inputs}}}\nnodes:\n  total: {terms}\n")
    names = [plan.names[i] for i in range(plan.size) if plan.ops[i] is not None]
    assert names[:3] == ["x0+x1", "x0+x1+x2", "x0+x1+x2+x3"]
    assert all(len(name) <= 48 for name in names)
    assert "total.29" not in names and any(name.startswith("total.") for name in names) and names[-1] == "total"
    assert evaluate(plan).value == sum(range(30))


def test_a_part_named_like_a_declared_node_is_refused():
    with pytest.raises(GraphError, match=r"its part a\*b would be a node named 'a\*b', which is declared"):
        load_text('inputs: {a: 1, b: 2}\nnodes:\n  "a*b": {op: add, inputs: [a, b]}\n  y: a*b + 1\noutput: y\n')


def test_formulas_mix_with_op_nodes_and_edges(invoke, graph_file):
    path = graph_file(
        "inputs: {x: 2, y: 3}\nnodes:\n  p: mul\n  q: p * x + 1\n  r: {op: exp, inputs: [q]}\nedges: [x -> p, y -> p]\n"
    )
    out = json.loads(invoke("run", path, "--json").stdout)
    assert out["value"] == math.exp(2 * 3 * 2 + 1)


def test_validate_shows_what_each_formula_became(invoke, graph_file):
    out = invoke("validate", graph_file(PROFIT)).stdout
    assert "constants: 1 (fixed)" in out
    assert "profit: revenue - units * unit_cost - fixed" in out
    assert "units*unit_cost = mul(units, unit_cost)" in out
    assert "profit = sub(revenue-units*unit_cost, fixed)" in out
    data = json.loads(invoke("validate", graph_file(PROFIT), "--json").stdout)
    assert [n["name"] for n in data["formulas"]["profit"]["nodes"]] == [
        "units*unit_cost",
        "revenue-units*unit_cost",
        "profit",
    ]


# -- errors point into the formula -------------------------------------------------------------


@pytest.mark.parametrize(
    "line, message, column",
    [
        ("  profit: units * unit_cots - 3", "node 'profit': unknown name 'unit_cots'; did you mean 'unit_cost'?", 19),
        ('  profit: "units * unit_cots - 3"', "unknown name 'unit_cots'; did you mean 'unit_cost'?", 20),
        ("  profit: units * ", "node 'profit': expected an operand after '*'", 18),
        ("  profit: units", "node 'profit': unknown op 'units'", 11),
        ("  profit: units * * 2", "expected an operand after '*', found '*'", 19),
        ("  profit: units * (2 + 3", "'(' is never closed", 19),
        ("  profit: units + 2)", "')' has no matching '('", 20),
        ("  profit: 2units", "'2units' is not a number; write * for a product (2*x)", 11),
        ("  profit: expp(units)", "unknown function 'expp'; did you mean 'exp'?", 11),
        ("  profit: units < 2 < 3", "comparisons cannot be chained", 21),
        ("  profit: max()", "max takes 1 or more operands, got 0", 11),
        ("  profit: units * (1 / 0)", "1/0 has no value: division by zero", 22),
        ("  profit: units = 2", "unexpected character '=' in a formula; compare with '=='", 17),
        ("  profit: units[0]", "unexpected character '['", 16),
        ("  profit: 1_000 * units", "digit separators", 11),
        (
            '  profit: "42"',
            "node 'profit': the formula is the number 42; a number goes under inputs: or constants:",
            12,
        ),
    ],
)
def test_errors_point_at_the_token_at_fault(line, message, column):
    text = f"inputs: {{units: 2, unit_cost: 3}}\nnodes:\n{line}\n"
    with pytest.raises(GraphError) as caught:
        load_text(text, "f.yaml")
    error = caught.value
    assert message in str(error)
    assert (error.loc.line, error.loc.col) == (3, column), str(error)


def test_a_name_a_formula_cannot_hold_is_named_in_the_error():
    with pytest.raises(GraphError) as caught:
        load_text("inputs: {apple-price: 1, x: 2}\nnodes:\n  y: x * apple-price\n", "f.yaml")
    assert "unknown name 'apple'; 'apple-price' cannot be written in a formula" in str(caught.value)
    assert (caught.value.loc.line, caught.value.loc.col) == (3, 10)


def test_the_first_unknown_name_as_written_is_the_one_reported():
    with pytest.raises(GraphError) as caught:
        load_text("inputs: {a: 1}\nnodes:\n  y: a * 2 + (bb - a) * cc\n", "f.yaml")
    assert "unknown name 'bb'" in str(caught.value) and caught.value.loc.col == 15


def test_a_formula_error_through_the_cli_is_one_located_line(invoke, graph_file):
    path = graph_file("inputs: {unit_cost: 1, units: 2}\nnodes:\n  profit: units * unit_cots\n")
    result = invoke("run", path)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        f"cgraph: error: {path}:3:19: node 'profit': unknown name 'unit_cots'; did you mean 'unit_cost'?\n"
    )


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os').system('touch pwned')",
        "x.__class__",
        "(lambda: 1)()",
        "eval('1')",
        "x if x else x",
        "[x for x in x]",
        "open('f')",
        "x; import os",
        "x @ x",
        "x % 2",
        "x // 2",
        "`x`",
    ],
)
def test_a_formula_cannot_run_code(formula, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GraphError):
        load_text(f"inputs: {{x: 1}}\nnodes:\n  y: {json.dumps(formula)}\n")
    assert not (tmp_path / "pwned").exists()


def test_no_python_evaluator_is_used_to_read_formulas():
    import inspect

    import cgraph_cli.read.formula as formula

    source = inspect.getsource(formula)
    for word in ("eval(", "exec(", "compile(", "import ast", "getattr("):
        assert word not in source


@settings(max_examples=examples(500), deadline=None)
@given(st.text(alphabet="ab1.e()+-*/^<>=,x _ ", max_size=30))
def test_any_text_is_a_formula_or_a_formula_error(text):
    try:
        root = parse(text)
        lower(root, "y")
    except FormulaError as e:
        assert 0 <= e.offset <= len(text)


def test_deep_and_long_formulas_cost_time_in_proportion_to_their_size():
    deep = "(" * 50_000 + "x" + ")" * 50_000 + " + 1"
    long = " + ".join(["x"] * 20_000)
    for formula in (deep, long):
        start = time.process_time()
        plan = load_text(f'inputs: {{x: 1}}\nnodes:\n  y: "{formula}"\n')
        assert evaluate(plan).value == (2 if formula is deep else 20_000)
        assert time.process_time() - start < 10


# -- constants -----------------------------------------------------------------------------------


def test_a_constant_takes_part_but_gets_no_gradient(invoke, graph_file):
    path = graph_file(PROFIT)
    grads = json.loads(invoke("grad", path, "--json").stdout)["gradients"]
    assert set(grads) == {"price", "units", "unit_cost"}
    nodes = {node["name"]: node for node in json.loads(invoke("run", path, "--json").stdout)["nodes"]}
    assert nodes["fixed"] == {"name": "fixed", "op": "constant", "inputs": [], "value": 3000}
    table = invoke("run", path).stdout
    assert [line.split() for line in table.splitlines() if line.startswith("fixed")] == [["fixed", "constant", "3000"]]
    checked = json.loads(invoke("check", path, "--json").stdout)
    assert {c["name"] for c in checked["checks"]} == {"price", "units", "unit_cost"}


def test_a_constant_can_be_set_but_not_differentiated(invoke, graph_file):
    path = graph_file(PROFIT)
    out = json.loads(invoke("run", path, "--set", "fixed=1000", "--json").stdout)
    assert out["value"] == 10 * 1200 - 1200 * 4.5 - 1000
    for args in (["grad", "--wrt", "fixed"], ["check", "--wrt", "fixed"], ["explain", "--wrt", "fixed"]):
        result = invoke(*args[:1], path, *args[1:])
        assert result.exit_code == 2 and "'fixed' is a constant" in result.stderr, args
        assert result.stdout == ""


def test_a_constants_undefined_gradient_is_no_warning(invoke, graph_file):
    path = graph_file("inputs: {x: -2}\nconstants: {n: 2}\nnodes:\n  z: x ** n\n")
    result = invoke("run", path)
    assert result.exit_code == 0 and result.stderr == ""


# -- derive writes formulas back ----------------------------------------------------------------

TIERED = """\
inputs: {q: 1200, p: 10, a: 2, b: 3}
constants: {tier: 1000}
nodes:
  rate: where(q >= tier, 0.9 * p, p)
  bill: rate * q + max(a, b, 1) - abs(a - b) + sqrt(q) * sin(a) * cos(b)
output: bill
"""


@pytest.mark.parametrize("wrt", ["q", "p", "a", "b"])
def test_derive_writes_formulas_back_and_its_output_gives_grads_numbers(invoke, graph_file, wrt):
    path = graph_file(TIERED)
    derived = invoke("derive", path, "--wrt", wrt).stdout
    assert '  rate: "where(q >= tier, 0.9 * p, p)"' in derived or "rate" not in derived
    assert "constants:\n  tier: 1000" in derived
    again = invoke("run", "-", "--json", input=derived)
    assert again.exit_code == 0, again.stderr
    grad = json.loads(invoke("grad", path, "--wrt", wrt, "--json").stdout)["gradients"][wrt]
    assert json.loads(again.stdout)["value"] == grad
    plan = load_text(TIERED)
    assert close_to_difference(grad, *graph_derivative(plan, wrt))


def test_max_shares_its_gradient_at_a_tie_through_a_formula(invoke, graph_file):
    path = graph_file("inputs: {x: 2, y: 2}\nnodes:\n  m: max(x, y) + abs(x - y)\n")
    grads = json.loads(invoke("grad", path, "--json").stdout)["gradients"]
    assert grads == {"x": 0.5, "y": 0.5}


def test_dezeros_step_24_functions_give_its_printed_gradients(invoke, graph_file):
    # DeZero (Deep Learning from Scratch 3), step 24 prints these for (x, y) = (1, 1).
    from pathlib import Path

    goldstein = Path(__file__).resolve().parent.parent / "graphs" / "goldstein_price.yaml"
    assert json.loads(invoke("grad", goldstein, "--json").stdout)["gradients"] == {"x": -5376.0, "y": 8064.0}
    matyas = graph_file("inputs: {x: 1.0, y: 1.0}\nnodes:\n  z: 0.26 * (x ** 2 + y ** 2) - 0.48 * x * y\n")
    grads = json.loads(invoke("grad", matyas, "--json").stdout)["gradients"]
    assert grads == {"x": 0.040000000000000036, "y": 0.040000000000000036}
    sphere = graph_file("inputs: {x: 1.0, y: 1.0}\nnodes:\n  z: x ** 2 + y ** 2\n", name="sphere.yaml")
    assert json.loads(invoke("grad", sphere, "--json").stdout)["gradients"] == {"x": 2.0, "y": 2.0}


# -- pi, e and ln, as analysts write them ---------------------------------------------------------


def test_pi_e_and_ln_in_formulas(monkeypatch):
    from cgraph_cli.read import located

    text = 'inputs: {r: 2.0}\nnodes:\n  area: "pi * r ** 2"\n  growth: "e ** r + ln(r)"\n  total: area + growth\n'
    monkeypatch.setattr(located, "careful_draft", lambda *a: pytest.fail("the careful way was taken"))
    result = evaluate(load_text(text), of="total")
    assert result.value == math.pi * 4.0 + (math.e**2.0 + math.log(2.0))
    # d/dr (π r² + e^r + ln r) = 2πr + e^r + 1/r, by hand
    assert math.isclose(result.grad_of("r"), 2 * math.pi * 2.0 + math.e**2.0 + 0.5, rel_tol=1e-15)


def test_a_graph_s_own_e_or_pi_is_the_one_a_formula_means():
    assert evaluate(load_text('inputs: {e: 2, r: 3}\nnodes: {y: "e * r"}\n')).value == 6
    assert evaluate(load_text('inputs: {pi: 3, r: 3}\nnodes: {y: "pi * r"}\n')).value == 9


@pytest.mark.parametrize(
    "text, words",
    [
        ('inputs: {r: 3}\nnodes: {y: "pie * r"}\n', "unknown name 'pie'"),
        ('inputs: {r: 3}\nnodes: {y: "lnn(r)"}\n', "unknown function 'lnn'"),
        ('inputs: {r: 3}\nnodes: {y: "ln(r, r)"}\n', "log takes 1 operand, got 2"),
    ],
)
def test_near_misses_of_the_named_numbers_and_ln_are_still_errors(text, words):
    with pytest.raises(GraphError) as e:
        load_text(text)
    assert words in str(e.value)


# -- functions of the file -----------------------------------------------------------------------

_SOFT = (
    "functions:\n"
    "  sq(t): t * t\n"
    "  hyp(a, b): sqrt(sq(a) + sq(b))\n"
    "inputs: {x: 3.0, y: 4.0}\n"
    "nodes:\n"
    "  h: hyp(x, y) + sq(x - y)\n"
)


def test_a_function_call_gives_what_the_same_formula_written_out_gives():
    called = evaluate(load_text(_SOFT))
    assert called.value == math.sqrt(3.0 * 3.0 + 4.0 * 4.0) + (3.0 - 4.0) * (3.0 - 4.0) == 6.0
    # d/dx = x / hyp + 2 (x - y) = 3/5 - 2; d/dy = 4/5 + 2, by hand
    assert called.grad_of("x") == 3 / 5 - 2 and called.grad_of("y") == 4 / 5 + 2
    plan = load_text(_SOFT)
    for name in ("x", "y"):
        assert close_to_difference(evaluate(plan).grad_of(name), *graph_derivative(plan, name))


def test_a_calls_parts_are_nodes_named_by_their_text_and_marked_with_the_call(invoke, graph_file):
    out = json.loads(invoke("run", graph_file(_SOFT), "--json").stdout)
    nodes = {node["name"]: node for node in out["nodes"]}
    assert {"sq(x)", "sq(y)", "sq(x)+sq(y)", "hyp(x,y)", "x-y", "sq(x-y)", "h"} == nodes.keys() - {"x", "y"}
    assert nodes["sq(x)"]["label"] == "sq(t) = t * t"  # the call's result: the function's definition
    assert nodes["sq(x)+sq(y)"]["label"] == "in hyp(x,y)"  # a part inside the call
    assert nodes["hyp(x,y)"]["value"] == 5.0 and nodes["sq(x-y)"]["value"] == 1.0
    table = invoke("run", graph_file(_SOFT)).stdout
    assert "in hyp(x,y)" in table and "sq(t) = t * t" in table


def test_a_function_called_twice_with_the_same_operands_is_one_set_of_nodes():
    plan = load_text("functions: {f(t): exp(t) + 1}\ninputs: {x: 0.5}\nnodes:\n  y: f(x) * f(x)\n")
    assert plan.names.count("f(x)") == 1 and plan.names.count("exp(x)") == 1
    assert evaluate(plan).grad_of("x") == 2 * (math.exp(0.5) + 1) * math.exp(0.5)


def test_a_body_may_use_the_graphs_entries_pi_and_e():
    text = "functions: {grow(t): rate * t * e ** 0 + pi * 0}\ninputs: {rate: 2.0, x: 3.0}\nnodes: {y: grow(x)}\n"
    result = evaluate(load_text(text))
    assert result.value == 6.0 and result.grad_of("rate") == 3.0 and result.grad_of("x") == 2.0


def test_a_graph_with_functions_is_written_back_and_reads_the_same(invoke, graph_file):
    from cgraph_cli.show.formats import graph_yaml

    plan = load_text(_SOFT)
    again = load_text(graph_yaml(plan.to_draft({"x": 6.0}), []))
    assert evaluate(again).value == math.sqrt(36.0 + 16.0) + 4.0
    derived = invoke("derive", graph_file(_SOFT), "--wrt", "x")
    assert derived.exit_code == 0 and "functions:" in derived.stdout
    assert json.loads(invoke("run", "-", "--json", input=derived.stdout).stdout)["value"] == 3 / 5 - 2


_HEADER = "inputs: {x: 1.0, rate: 2.0}\n"


@pytest.mark.parametrize(
    "functions, node, message, line, column",
    [
        ("  f(t): f(t) + 1", "f(x)", "f() is called inside its own body", 2, 9),
        ("  f(t): g(t)\n  g(t): 2 * f(t)", "f(x)", "f() is called inside its own body", 3, 13),
        ("  f(t): t + 1", "f(x, x)", "f() takes 1 operand (f(t)), not 2", None, None),
        ("  f(a, b): a * b", "f(x)", "f() takes 2 operands (f(a, b)), not 1", None, None),
        ("  f(rate): rate * 2", "f(x)", "parameter 'rate' is also the name of an input or node", 2, 3),
        ("  f(t): t * ratee", "f(x)", "function f: unknown name 'ratee'; did you mean 'rate'?", 2, 13),
        ("  f(t): t * u", "f(x)", "unknown name 'u' (its parameters: t)", 2, 13),
        ("  f(t): t *", "f(x)", "function f: expected an operand after '*'", 2, 12),
        ("  f(t, t): t", "f(x)", "parameter 't' is named twice", 2, 3),
        ("  f t: t", "f(x)", "'f t' is not a function's signature: write NAME(PARAMETER, ...)", 2, 3),
        ("  exp(t): t", "exp(x)", "exp is an op's name; name the function otherwise", 2, 3),
        ("  f(t): t\n  f(u): u", "f(x)", "function f is declared twice (f(t) first)", 3, 3),
        ("  f(t): 2", "g(x)", "unknown function 'g'", None, None),
    ],
)
def test_a_function_s_mistakes_are_located_errors(functions, node, message, line, column):
    text = f"functions:\n{functions}\n{_HEADER}nodes:\n  y: {node} + 1\n"
    with pytest.raises(GraphError) as caught:
        load_text(text, "f.yaml")
    error = caught.value
    assert message in str(error), str(error)
    if line is None:  # at the call, in the formula that makes it
        line, column = text.count("\n"), 6
    assert (error.loc.line, error.loc.col) == (line, column), str(error)


def test_a_function_s_mistake_through_the_cli_is_one_line_and_no_output(invoke, graph_file):
    result = invoke("run", graph_file("functions: {f(t): f(t)}\ninputs: {x: 1}\nnodes: {y: f(x)}\n"))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "cannot call itself" in result.stderr


def test_draw_boxes_each_call_s_nodes_under_the_call_s_name(invoke, graph_file):
    path = graph_file(_SOFT)
    dot = invoke("draw", path, "--format", "dot").stdout
    boxes = [line for line in dot.splitlines() if "subgraph cluster_" in line]
    assert len(boxes) == 4 and any("hyp(x,y)" in box and box.count("; n") == 1 for box in boxes)
    hyp = next(box for box in boxes if "hyp(x,y)" in box)
    ids = hyp.rsplit(";", 2)[-2].split()  # the nodes hyp(x, y) made: sq(x)+sq(y) and hyp(x,y)
    named = {line.split()[0]: line for line in dot.splitlines() if "xlabel" in line}
    assert sorted(">" + named[i].split('color="#555555">')[1].split("<")[0] for i in ids) == [
        ">hyp(x,y)",
        ">sq(x)+sq(y)",
    ]
    mermaid = invoke("draw", path, "--format", "mermaid").stdout
    assert '  subgraph call2["hyp(x,y)"]\n' in mermaid


def test_calls_that_double_at_each_level_are_refused_quickly():
    lines = ["functions:", "  f0(x): x * x + 1"]
    lines += [f"  f{k}(x): f{k - 1}(x) * f{k - 1}(x + 1)" for k in range(1, 40)]
    text = "\n".join(lines) + "\ninputs: {x: 1}\nnodes:\n  y: f39(x) + f39(x)\n"
    start = time.perf_counter()
    with pytest.raises(GraphError) as caught:
        load_text(text, "f.yaml")
    assert time.perf_counter() - start < 10
    assert "the calls of functions make more than 200,000 nodes" in str(caught.value)
    assert caught.value.loc is not None


def test_explain_says_which_call_made_the_nodes_on_its_paths(invoke, graph_file):
    path = graph_file(_SOFT)
    paths = invoke("explain", path, "--wrt", "x").stdout
    assert "(calls of the file's functions on these paths: hyp(x,y), made by hyp(a, b) = sqrt(sq(a) + sq(b));" in paths
    steps = invoke("explain", path, "--steps").stdout
    assert "  sq(x)+sq(y) (add, in hyp(x,y))  dout = " in steps
    assert "  hyp(x,y) (sqrt, hyp(a, b) = sqrt(sq(a) + sq(b)))  dout = 1" in steps


def test_validate_lists_the_functions(invoke, graph_file):
    path = graph_file(_SOFT)
    assert "  functions: 2, each call's parts nodes:\n    sq(t): t * t\n" in invoke("validate", path).stdout
    out = json.loads(invoke("validate", path, "--json").stdout)
    assert out["functions"] == {"sq(t)": "t * t", "hyp(a, b)": "sqrt(sq(a) + sq(b))"}


@settings(max_examples=examples(200), deadline=None)
@given(
    expressions(),
    st.lists(st.floats(-4, 4, allow_nan=False).filter(lambda x: abs(x) > 1e-3), min_size=3, max_size=3),
    st.permutations(["x", "y", "z"]),
)
def test_a_call_gives_pythons_digits_and_gradients_for_any_body(body, numbers, order):
    # f(a, b, c) = body, called with the inputs in some order: Python's function call is the oracle
    # for the value, and central differences for each input's gradient
    assume(parse(body).op not in ("name", "num"))
    scope = dict(zip(order, numbers))
    try:
        expected = eval(f"lambda a, b, c: {body}", {"__builtins__": {}})(*(scope[n] for n in order))
    except (ArithmeticError, ValueError):
        return
    assume(isinstance(expected, float | int) and not isinstance(expected, bool))
    assume(math.isfinite(expected) and abs(expected) < 1e12)
    text = (
        f"functions:\n  f(a, b, c): {json.dumps(body)}\n"
        f"inputs: {{{', '.join(f'{n}: {scope[n]!r}' for n in ('x', 'y', 'z'))}}}\n"
        f'nodes:\n  out: "f({", ".join(order)}) + 0"\n'
    )
    try:
        plan = load_text(text)
        result = evaluate(plan)
    except GraphError as e:
        assume("finite" not in str(e) and "overflow" not in str(e) and "undefined" not in str(e))
        raise
    assert result.value == expected, (body, order)
    for name in ("x", "y", "z"):
        g = result.grad_of(name)
        assume(type(g) in (int, float))
        estimate, error = graph_derivative(plan, name)
        assume(math.isfinite(estimate) and error < 1e-3 * max(1.0, abs(estimate)))
        assert close_to_difference(g, estimate, error), (body, name, g, estimate)
