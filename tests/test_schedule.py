"""The engine's plan of work (schedule.py): which nodes run a list at a time, the shape it learns
for each op's local derivatives, and that a schedule is made once. Its numbers are the oracle's
business (tests/test_oracle.py runs wide levels, in any file order); these are its decisions."""

from __future__ import annotations

import random

import pytest

from cgraph_cli.core.engine import evaluate
from cgraph_cli.core.ops import OPS
from cgraph_cli.core.schedule import GROUP_SIZE, MINUS, ONES, OTHER, OUT, PLUS_MINUS, SWAP, Group, pattern, program
from cgraph_cli.read.loader import load_text

from .test_oracle import compare


@pytest.mark.parametrize(
    "op, count, expected",
    [
        ("add", 2, ONES),
        ("add", 3, ONES),
        ("add", 5, ONES),
        ("sub", 2, PLUS_MINUS),
        ("neg", 1, MINUS),
        ("mul", 2, SWAP),
        ("mul", 3, OTHER),
        ("exp", 1, OUT),
        ("tanh", 1, OTHER),
        ("div", 2, OTHER),
        ("max", 2, OTHER),
    ],
)
def test_the_pattern_of_each_ops_local_derivatives(op, count, expected):
    assert pattern(OPS[op], count) == expected


def level(width: int, op: str = "mul", operand: str = "x1", value: str = "1.5") -> str:
    """Inputs x0 and x1, then `width` nodes of one op in one level, summed."""
    nodes = [
        f"  n{k}: {{op: {op}, inputs: [x0{', ' + operand if op not in ('tanh', 'sigmoid') else ''}]}}"
        for k in range(width)
    ]
    total = f"  out: {{op: add, inputs: [{', '.join(f'n{k}' for k in range(width))}]}}"
    return f"inputs: {{x0: 0.75, x1: {value}}}\nnodes:\n" + "\n".join(nodes) + f"\n{total}\noutput: out\n"


def groups(text: str) -> list[Group]:
    plan = load_text(text)
    return [s for s in program(plan, plan.given({})).segments if type(s) is Group]


def test_a_level_of_group_size_like_float_nodes_runs_as_one_group_and_one_fewer_does_not():
    assert [len(g.positions) for g in groups(level(GROUP_SIZE))] == [GROUP_SIZE]
    assert groups(level(GROUP_SIZE - 1)) == []
    assert [len(g.positions) for g in groups(level(3 * GROUP_SIZE, "tanh"))] == [3 * GROUP_SIZE]


@pytest.mark.parametrize(
    "text",
    [
        level(GROUP_SIZE, value="2").replace("x0: 0.75", "x0: 3"),  # integers stay exact, node by node
        level(GROUP_SIZE, "max"),  # max(x, 0) may be the integer 0 whatever x is: not floats_stay
        level(GROUP_SIZE, operand="x1, 1.5"),  # three operands
    ],
    ids=["integers", "an integer may come of floats", "three operands"],
)
def test_what_does_not_run_as_a_group(text):
    assert groups(text) == []
    assert compare(text).compared > 2 * GROUP_SIZE  # and the numbers are right all the same


@pytest.mark.parametrize(
    "text",
    [
        level(GROUP_SIZE, value="2"),  # x0 * 2 of a float x0 is a float: formulas write `x * 2`
        level(GROUP_SIZE, operand="2"),  # a literal integer operand
        level(GROUP_SIZE, "sigmoid"),  # an op with no builtin runs its own forward step on lists
        level(GROUP_SIZE, "pow", operand="2"),
    ],
    ids=["an integer input", "an integer literal", "no builtin", "pow of a literal"],
)
def test_float_nodes_with_integer_operands_run_as_a_group(text):
    assert [len(g.positions) for g in groups(text)] == [GROUP_SIZE]
    assert compare(text).compared > 2 * GROUP_SIZE


def test_every_op_said_to_keep_floats_gives_a_float_of_floats():
    """floats_stay is what lets a level group: an op that says it must never give an integer of a
    float operand (relu(-1.5) is -0.0 + ..., not the integer 0)."""
    samples = [-2.5, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0]
    for op in OPS.values():
        if not op.floats_stay:
            continue
        count = op.min_args
        for k in range(count):
            for x in samples:
                xs = [2] * count
                xs[k] = x
                v = op(*xs)
                assert type(v) is not int, (op.name, xs, v)


def test_integer_products_past_two_to_the_53_in_a_wide_level_become_floats():
    # A level of integer products: run node by node, each past 2**53 is the nearest float.
    text = level(GROUP_SIZE, operand="x1", value="4503599627370497").replace("x0: 0.75", "x0: 3")
    result = evaluate(load_text(text))
    assert {type(result.value_of(f"n{k}")) for k in range(GROUP_SIZE)} == {float}
    assert result.value_of("n0") == float(3 * 4503599627370497) != 3 * 4503599627370497


def test_a_schedule_is_made_once_per_kind_of_inputs_and_kept():
    plan = load_text(level(GROUP_SIZE))
    first = program(plan, plan.given({}))
    evaluate(plan)
    assert program(plan, plan.given({})) is first  # the same schedule again
    ints = program(plan, plan.given({"x1": 2}))  # an integer input is another kind
    assert ints is not first and program(plan, plan.given({"x1": 3})) is ints


def test_the_kept_schedules_are_bounded():
    names = [f"x{k}" for k in range(5)]
    text = (
        "inputs: {"
        + ", ".join(f"{n}: 1.5" for n in names)
        + "}\nnodes:\n  y: {op: add, inputs: ["
        + ", ".join(names)
        + "]}\n"
    )
    plan = load_text(text)
    for kinds in range(32):  # 32 kinds of inputs: each a mix of integers and floats
        program(plan, plan.given({n: 2 if kinds >> k & 1 else 2.5 for k, n in enumerate(names)}))
        assert len(plan.program) <= 9
    assert len(plan.program) >= 1


def test_wide_levels_in_any_file_order_give_the_oracles_numbers():
    """A file need not list its nodes level by level: the schedule runs them level by level and
    puts the results back in evaluation order."""
    rng = random.Random(5)
    for _ in range(5):
        lines = level(2 * GROUP_SIZE, "tanh").splitlines()
        nodes = lines[2:-2]
        chain = [f"  c{k}: {{op: add, inputs: [{'x1' if k == 0 else f'c{k - 1}'}, n{k}]}}" for k in range(6)]
        body = nodes + chain
        rng.shuffle(body)
        total = lines[-2].replace("inputs: [", "inputs: [c5, ")
        text = "\n".join(lines[:2] + body + [total, lines[-1]]) + "\n"
        plan = load_text(text)
        schedule = program(plan, plan.given({}))
        assert schedule.slot[: plan.size] != list(range(plan.size))  # kept apart from evaluation order
        assert compare(text).compared > 4 * GROUP_SIZE
