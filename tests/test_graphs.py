"""Every example in graphs/: it validates, runs, matches its golden output, and its gradients
agree with central differences of the whole graph."""

from __future__ import annotations

import json
import math
import re

import pytest

from cgraph_cli.core.engine import evaluate

from .conftest import ROOT, close_to_difference, graph_derivative, graph_of, same_pieces
from .golden_cases import COMMANDS, golden_path, graph_files, render, scalar_graph_files

GRAPH_FILES = graph_files()
SCALAR_FILES = scalar_graph_files()

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def same_within_reordering(expected: str, got: str) -> bool:
    """Whether two outputs of an array graph say the same, each number within 1e-12 relative.

    numpy's sums and BLAS's matrix products add in an order that depends on the processor's
    vector width, so a sum of k terms may move by about k·ε·Σ|terms| from one machine to the
    next (seen: 1.3e-15 relative on the two-layer net). The words and the layout must match,
    but for the width of a number's column."""
    numbers_e, numbers_g = _NUMBER.findall(expected), _NUMBER.findall(got)
    words_e, words_g = (" ".join(_NUMBER.sub("#", text).split()) for text in (expected, got))
    return (
        words_e == words_g
        and len(numbers_e) == len(numbers_g)
        and all(math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15) for a, b in zip(numbers_e, numbers_g))
    )


def test_the_examples_the_issue_asks_for_exist():
    names = {p.stem for p in GRAPH_FILES}
    assert {"apples", "apples_oranges", "apples_edges", "chain_rule", "neuron"} <= names
    assert len(names) >= 6


@pytest.mark.parametrize("graph", GRAPH_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("suffix", COMMANDS)
def test_output_matches_golden_file(graph, suffix, monkeypatch):
    """A graph of numbers prints exactly its golden text, digit for digit; an array graph the same
    words and numbers within the reordering of numpy's sums (see same_within_reordering)."""
    monkeypatch.chdir(ROOT)
    got, expected = render(graph, COMMANDS[suffix]), golden_path(graph, suffix).read_text(encoding="utf-8")
    if graph in SCALAR_FILES:
        assert got == expected
    else:
        assert got == expected or same_within_reordering(expected, got)


def test_the_reordering_allowance_is_narrow():
    line = "W1  input  (2, 10)  min -0.0037575971272775723 max 0.14713056057330987"
    assert same_within_reordering(line, line.replace("0.0037575971272775723", "0.003757597127277574"))
    assert not same_within_reordering(line, line.replace("0.0037575971272775723", "0.00375759713"))
    assert not same_within_reordering(line, line.replace("min", "max"))
    assert not same_within_reordering(line, line.replace("(2, 10)", "(2, 11)"))


@pytest.mark.parametrize("graph", GRAPH_FILES, ids=lambda p: p.stem)
def test_every_example_starts_with_a_comment_saying_what_it_shows(graph):
    assert graph.read_text(encoding="utf-8").startswith("# ")


@pytest.mark.parametrize("graph", scalar_graph_files(), ids=lambda p: p.stem)
def test_input_gradients_agree_with_central_differences(graph):
    g = graph_of(graph.read_text(encoding="utf-8"))
    result = evaluate(g)
    for inp_name in g.variable_names:
        assert same_pieces(g, inp_name), inp_name  # no example sits at a kink
        estimate, error = graph_derivative(g, inp_name)
        assert close_to_difference(result.grad_of(inp_name), estimate, error), (inp_name, estimate, error)


def test_apples_edges_is_the_same_graph_as_apples():
    a = json.loads(golden_path(ROOT / "graphs/apples.yaml", "run.json").read_text())
    b = json.loads(golden_path(ROOT / "graphs/apples_edges.yaml", "run.json").read_text())
    assert a["nodes"] == b["nodes"] and a["value"] == b["value"]
