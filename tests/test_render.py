"""Rendering: the same table from rich and from the plain layout used for large graphs."""

from __future__ import annotations

import pytest

from cgraph_cli import render
from cgraph_cli.engine import evaluate

from .conftest import graph_of
from .golden_cases import graph_files


@pytest.mark.parametrize("graph", graph_files(), ids=lambda p: p.stem)
@pytest.mark.parametrize("color", [False, True])
def test_plain_layout_matches_rich_layout(graph, color, monkeypatch):
    result = evaluate(graph_of(graph.read_text(encoding="utf-8")))
    by_rich = render.run_table(result, color=color)
    monkeypatch.setattr(render, "RICH_MAX_ROWS", 0)
    by_hand = render.run_table(result, color=color)
    if color:  # rich styles the padding too; compare what is shown, colour aside
        import re
        strip = re.compile(r"\x1b\[[0-9;]*m")
        by_rich, by_hand = ("\n".join(line.rstrip() for line in strip.sub("", t).splitlines())
                            for t in (by_rich, by_hand))
        assert "\x1b[" in render.run_table(result, color=True)
    assert by_hand == by_rich


def test_large_tables_keep_every_row_and_digit():
    n = render.RICH_MAX_ROWS + 500
    text = "inputs: {x0: 0.1}\nnodes:\n" + "".join(f"  x{i}: {{op: add, inputs: [x{i - 1}, 0.1]}}\n"
                                                  for i in range(1, n))
    result = evaluate(graph_of(text))
    lines = render.run_table(result).splitlines()
    assert len(lines) == 3 + n
    assert lines[-1].split() == [f"x{n - 1}", "add", f"x{n - 2},", "0.1", repr(result.value), "1"]


def test_precision_formats_significant_digits():
    assert render.format_number(220.00000000000003) == "220.00000000000003"
    assert render.format_number(220.00000000000003, 4) == "220"
    assert render.format_number(0.000123456, 2) == "0.00012"
    assert render.format_number(200) == "200"


def test_json_never_holds_nan_or_infinity():
    with pytest.raises(ValueError):
        render.to_json({"x": float("inf")})
