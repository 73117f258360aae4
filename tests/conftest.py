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
    """A Graph from (dedented) YAML text."""
    return load_text(textwrap.dedent(text), source, "test").graph


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
