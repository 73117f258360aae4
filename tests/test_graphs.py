"""Every example in graphs/: it validates, runs, matches its golden output, and its gradients
agree with central differences of the whole graph."""

from __future__ import annotations

import json
import math

import pytest

from cgraph_cli.engine import evaluate

from .conftest import ROOT, central_difference, graph_of
from .golden_cases import COMMANDS, golden_path, graph_files, render, scalar_graph_files

GRAPH_FILES = graph_files()


def test_the_examples_the_issue_asks_for_exist():
    names = {p.stem for p in GRAPH_FILES}
    assert {"apples", "apples_oranges", "apples_edges", "chain_rule", "neuron"} <= names
    assert len(names) >= 6


@pytest.mark.parametrize("graph", GRAPH_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("suffix", COMMANDS)
def test_output_matches_golden_file(graph, suffix, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert render(graph, COMMANDS[suffix]) == golden_path(graph, suffix).read_text(encoding="utf-8")


@pytest.mark.parametrize("graph", GRAPH_FILES, ids=lambda p: p.stem)
def test_every_example_starts_with_a_comment_saying_what_it_shows(graph):
    assert graph.read_text(encoding="utf-8").startswith("# ")


@pytest.mark.parametrize("graph", scalar_graph_files(), ids=lambda p: p.stem)
def test_input_gradients_agree_with_central_differences(graph):
    g = graph_of(graph.read_text(encoding="utf-8"))
    result = evaluate(g)
    for inp_name in g.variable_names:
        numeric = central_difference(g, inp_name, 1e-6 * max(1.0, abs(result.value_of(inp_name))))
        assert math.isclose(result.grad_of(inp_name), numeric, rel_tol=1e-5, abs_tol=1e-6), inp_name


def test_apples_edges_is_the_same_graph_as_apples():
    a = json.loads(golden_path(ROOT / "graphs/apples.yaml", "run.json").read_text())
    b = json.loads(golden_path(ROOT / "graphs/apples_edges.yaml", "run.json").read_text())
    assert a["nodes"] == b["nodes"] and a["value"] == b["value"]
