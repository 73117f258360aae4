"""Pictures: DOT and Mermaid text, real Graphviz renders, escaping, and the README's pictures kept current."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from cgraph_cli.commands import draw
from cgraph_cli.core.engine import edge_grads, evaluate
from cgraph_cli.show.numbers import format_number

from .conftest import GRAPHS, ROOT, graph_of
from .golden_cases import PICTURES, scalar_graph_files

HAVE_DOT = shutil.which("dot") is not None


@pytest.fixture
def needs_dot():
    """Graphviz's dot: CI installs it and must not skip; elsewhere the render tests skip without it."""
    if not HAVE_DOT:
        if os.environ.get("CI"):
            pytest.fail("CI must have Graphviz's dot (see .ci/run)")
        pytest.skip("Graphviz's dot is not installed")


def svg_texts(svg: bytes) -> list[str]:
    """Every piece of text an SVG shows."""
    root = ET.fromstring(svg)
    return [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text]


def edge_numbers(result):
    """Every value and gradient the picture must show: per edge, and on each output's arrow."""
    plan = result.plan
    expected = set()
    for i in range(plan.size):
        expected.add(format_number(result.values[i]))
        for edge in edge_grads(result, i):
            if edge is not None:
                expected.add(format_number(edge[1]))
    expected.add(format_number(result.grads[result.of]))
    return expected


@pytest.mark.parametrize("graph", scalar_graph_files(), ids=lambda p: p.stem)
def test_svg_parses_and_shows_every_name_value_and_gradient(graph, needs_dot):
    result = evaluate(graph_of(graph.read_text(encoding="utf-8")))
    texts = svg_texts(draw.graphviz(draw.to_dot(result), "svg"))
    for name in result.plan.names:
        assert name in texts
    for number in edge_numbers(result):
        assert number in texts, number


def test_book_figure_5_16_edges_carry_value_over_gradient():
    result = evaluate(graph_of((GRAPHS / "apples.yaml").read_text()))
    dot = draw.to_dot(result)
    assert 'n0 -> n3 [label=<100<br/><font color="#d62728">2.2</font>>];' in dot  # apple -> ×
    assert 'n2 -> n4 [label=<1.1<br/><font color="#d62728">200</font>>];' in dot  # tax -> ×
    assert 'n4 -> out4 [label=<220.00000000000003<br/><font color="#d62728">1</font>>];' in dot
    assert "rankdir=LR" in dot and "shape=circle" in dot and "×" in dot


def test_no_grad_draws_values_only():
    result = evaluate(graph_of((GRAPHS / "apples.yaml").read_text()), gradients=False)
    assert not result.has_grads  # no backward pass at all
    dot = draw.to_dot(result)
    assert "#d62728" not in dot and "label=<100>" in dot
    assert "grad" not in draw.to_mermaid(result)


def test_each_edge_shows_what_flows_back_along_it():
    # x is used twice: each edge carries its own share, and the shares add up to x's gradient
    result = evaluate(
        graph_of("inputs: {x: 3}\nnodes:\n  a: {op: mul, inputs: [x, 2]}\n  b: {op: add, inputs: [a, x]}\n")
    )
    dot = draw.to_dot(result)
    assert 'n0 -> n1 [label=<3<br/><font color="#d62728">2</font>>];' in dot
    assert 'n0 -> n2 [label=<3<br/><font color="#d62728">1</font>>];' in dot
    assert "c1_1 [shape=plaintext" in dot and "c1_1 -> n1 [label=<2>];" in dot  # a constant: no gradient
    assert result.grad_of("x") == 3


HOSTILE = (
    'inputs: {"a\\"b": 1, "x<y&z": 2, 사과: 3, "</font>": 4}\n'
    'nodes: {"q\'r": {op: add, inputs: ["a\\"b", "x<y&z", 사과, "</font>"]}}\n'
)


def test_dot_escapes_names(needs_dot):
    result = evaluate(graph_of(HOSTILE))
    dot = draw.to_dot(result)
    assert "a&quot;b" in dot and "x&lt;y&amp;z" in dot and "&lt;/font&gt;" in dot and "사과" in dot
    texts = svg_texts(draw.graphviz(dot, "svg"))
    for name in ('a"b', "x<y&z", "사과", "</font>", "q'r"):
        assert name in texts


def test_mermaid_escapes_names():
    text = draw.to_mermaid(evaluate(graph_of(HOSTILE)))
    assert "a#quot;b" in text and "x#lt;y#amp;z" in text and "#lt;/font#gt;" in text and "사과" in text
    for line in text.splitlines()[1:]:
        if '"' in line:  # every quoted label holds no other quote
            assert line.count('"') == 2, line


def test_cli_writes_svg_named_after_the_file_stem_by_default(invoke, tmp_path, monkeypatch, needs_dot):
    monkeypatch.chdir(tmp_path)
    result = invoke("draw", GRAPHS / "apples.yaml")
    assert result.exit_code == 0 and result.stdout == ""
    assert "apples: price = 220.00000000000003" in svg_texts((tmp_path / "apples.svg").read_bytes())
    result = invoke("draw", GRAPHS / "apples.yaml", "--format", "png", "-o", "out.png")
    assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")


def test_cli_text_formats_go_to_stdout(invoke):
    assert invoke("draw", GRAPHS / "apples.yaml", "--format", "dot").stdout.startswith("digraph cgraph {")
    assert invoke("draw", GRAPHS / "apples.yaml", "--format", "mermaid").stdout.startswith("flowchart LR")


def test_missing_graphviz_is_a_clear_error(invoke, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    monkeypatch.chdir(tmp_path)
    result = invoke("draw", GRAPHS / "apples.yaml")
    assert result.exit_code == 1 and result.stdout == ""
    assert "needs Graphviz's dot program" in result.stderr and "--format dot" in result.stderr
    assert not (tmp_path / "apples.svg").exists()


def test_an_unwritable_output_is_an_error_of_the_run(invoke, tmp_path):
    result = invoke("draw", GRAPHS / "apples.yaml", "--format", "dot", "-o", tmp_path / "no" / "such.dot")
    assert result.exit_code == 1 and "cannot write" in result.stderr and "--help" not in result.stderr


@pytest.mark.parametrize("stem", PICTURES)
def test_readme_pictures_are_up_to_date(stem):
    """The committed SVG was rendered from the DOT cgraph makes today (its hash is in the SVG)."""
    result = evaluate(graph_of((GRAPHS / f"{stem}.yaml").read_text()))
    digest = draw.dot_digest(draw.to_dot(result, precision=6))
    svg = (ROOT / "docs" / f"{stem}.svg").read_text(encoding="utf-8")
    assert f"<!-- cgraph {digest} -->" in svg, "regenerate with: python -m tests.golden_cases"


def test_mermaid_escapes_pipes_and_hashes():
    text = draw.to_mermaid(
        evaluate(graph_of('inputs: {"a|b": 1, "c#quot;": 2}\nnodes: {s: {op: add, inputs: ["a|b", "c#quot;"]}}\n'))
    )
    assert "a#124;b" in text and "c#35;quot;" in text and "a|b" not in text
