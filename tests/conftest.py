"""Shared helpers: load a graph from text, and run the CLI in-process."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from cgraph_cli.cli import cli
from cgraph_cli.read.loader import load_text

from .strategies import examples

# Property tests that set no count of their own (the fuzz suite) try this many examples, the same
# ones every run (derandomized: a run that passed passes again, in CI too); the "fuzz" profile hunts
# new ones, longer: pytest tests/test_fuzz.py --hypothesis-profile=fuzz
settings.register_profile("default", max_examples=examples(150), deadline=None, derandomize=True)
settings.register_profile("fuzz", max_examples=20_000, deadline=None)
settings.load_profile("default")

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "graphs"


def graph_of(text: str, source: str = "test.yaml"):
    """A compiled graph from (dedented) YAML text."""
    return load_text(textwrap.dedent(text), source, "test")


def plan_of(*entries, output: str | None = None, source: str | None = None, name: str = "g"):
    """A compiled graph from Python: ("x", 1.5) is an input, ("y", "mul", "x", 2) a node."""
    from cgraph_cli.core.graph import Draft, compile_draft

    draft = Draft(name, source)
    for entry in entries:
        if len(entry) == 2:
            draft.add_input(*entry)
        else:
            draft.add_node(entry[0], entry[1], tuple(entry[2:]))
    draft.output = output
    return compile_draft(draft)


@pytest.fixture
def invoke():
    """Run `cgraph ARGS` in-process; returns click's Result with stdout and stderr apart."""

    def run(*args, input=None, env=None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture
def graph_file(tmp_path):
    """Write (dedented) YAML to a file and return its path."""

    def write(text: str, name: str = "g.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


EPS = sys.float_info.epsilon
TINY = 5e-324  # the smallest float: what a result that underflows may lose


def numeric_derivative(f, x: float, scale: float) -> tuple[float, float]:
    """f'(x) by central differences, worked out apart from backprop, and a bound on its error.

    Five-point stencils (truncation error O(h⁴)) at h = 1e-3·max(1, |x|) and at 2h. Their
    difference bounds the finer one's truncation error (Richardson: a sixteenth of it, taken
    as a third to be safe), and rounding adds at most about 3ε·scale/h, where `scale` bounds
    the magnitudes f's arithmetic works with, and 3·TINY/h where it underflows (f(±h) of
    0 * 5e-324 is 0, though the slope is 5e-324). Returns (the finer estimate, its error bound)."""

    def stencil(h: float) -> float:
        h = (x + h) - x  # a step the float x can take exactly
        return (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h), h

    fine, h = stencil(1e-3 * max(1.0, abs(x)))
    coarse, _ = stencil(2e-3 * max(1.0, abs(x)))
    return fine, abs(fine - coarse) / 3 + 3 * (EPS * scale + TINY) / h


def close_to_difference(got: float, estimate: float, error: float) -> bool:
    """Whether backprop's `got` agrees with a difference `estimate` of error bound `error`: within
    that bound twice over, and 1e-7 relative (what a five-point difference is good for)."""
    return abs(got - estimate) <= 2 * error + 1e-7 * abs(estimate)


def magnitudes(result) -> float:
    """How large the numbers are that a graph's arithmetic works with: its values' sum (for the
    rounding error of differences of its output)."""
    return sum(abs(float(v)) for v in result.values[: result.plan.size]) + 1.0


def graph_derivative(graph, name: str, read=lambda result: result.value) -> tuple[float, float]:
    """numeric_derivative of read(evaluate(graph at name = v)) at name's value: by default the output."""
    from cgraph_cli.core.engine import evaluate

    result = evaluate(graph)
    return numeric_derivative(
        lambda v: float(read(evaluate(graph, {name: v}))), float(result.value_of(name)), magnitudes(result)
    )


def same_pieces(graph, name: str) -> bool:
    """Whether every node stays on the same smooth piece of its op (the same side of relu's 0, the same
    operand largest) over the steps graph_derivative takes along `name`: else a difference says nothing."""
    from cgraph_cli.core.engine import evaluate

    def pieces(result):
        plan = result.plan
        return [
            plan.ops[i].kink(*[result.values[j] for j in plan.args[i]]) if plan.ops[i].kink else 0
            for i in range(plan.size)
            if plan.ops[i] is not None
        ]

    from cgraph_cli.core.errors import GraphError

    x = float(evaluate(graph).value_of(name))
    here = pieces(evaluate(graph))
    span = 4e-3 * max(1.0, abs(x))
    try:
        return all(pieces(evaluate(graph, {name: x + t * span})) == here for t in (-1.0, -0.5, 0.5, 1.0))
    except GraphError:
        return False  # the edge of a domain is within reach


# Hand-built graphs for the engine tests, in the words of the book's figures.
def Input(name: str, value):  # noqa: N802 - reads as a declaration
    """An input entry for `Graph`."""
    return (name, value)


def Node(name: str, op: str, operands: tuple):  # noqa: N802
    """A node entry for `Graph`."""
    return (name, op, *operands)


def Graph(name: str, entries, output: str | None = None, source: str | None = None):  # noqa: N802
    """A compiled graph from Input and Node entries."""
    return plan_of(*entries, output=output, source=source, name=name)


def described(plan) -> list[tuple]:
    """A compiled graph in file order as plain tuples: (name, value) for an input, (name, op, operands)
    for a node, a label last where there is one."""
    out = []
    for i in plan.file_order:
        entry = (
            (plan.names[i], plan.values[i])
            if plan.ops[i] is None
            else (plan.names[i], plan.ops[i].name, plan.operands(i))
        )
        out.append(entry + ((plan.labels[i],) if i in plan.labels else ()))
    return out


def ctrl_c_on_call(real, n: int):
    """`real`, but its n-th call raises KeyboardInterrupt, as Ctrl-C would arrive during it."""
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return interrupted
