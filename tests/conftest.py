"""Shared helpers: load a graph from text, and run the CLI in-process."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from cgraph_cli.cli import cli
from cgraph_cli.loader import load_text

# Property tests that set no count of their own (the fuzz suite) try this many examples; the "fuzz"
# profile hunts longer: pytest tests/test_fuzz.py --hypothesis-profile=fuzz
settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("fuzz", max_examples=20_000, deadline=None)
settings.load_profile("default")

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "graphs"


def graph_of(text: str, source: str = "test.yaml"):
    """A compiled graph from (dedented) YAML text."""
    return load_text(textwrap.dedent(text), source, "test")


def plan_of(*entries, output: str | None = None, source: str | None = None, name: str = "g"):
    """A compiled graph from Python: ("x", 1.5) is an input, ("y", "mul", "x", 2) a node."""
    from cgraph_cli.graph import Draft, compile_draft

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


def central_difference(graph, name: str, h: float, read=lambda result: result.value):
    """(read(at name + h) - read(at name - h)) / 2h: what a derivative should be, worked out apart.

    `read` picks what to difference from each evaluation: the output's value by
    default, or e.g. a gradient, for second derivatives.
    """
    from cgraph_cli.engine import evaluate

    x = evaluate(graph).value_of(name)
    return (read(evaluate(graph, {name: x + h})) - read(evaluate(graph, {name: x - h}))) / (2 * h)


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
