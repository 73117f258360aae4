"""Rendering: the same table from rich and from the plain layout used for large graphs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cgraph_cli.commands.run import run_table
from cgraph_cli.core.engine import evaluate
from cgraph_cli.show import table
from cgraph_cli.show.formats import json_strings, to_json
from cgraph_cli.show.numbers import format_number
from cgraph_cli.show.table import RICH_MAX_ROWS, SUMMARY_ROWS

from .conftest import graph_of
from .golden_cases import graph_files


@pytest.mark.parametrize("graph", graph_files(), ids=lambda p: p.stem)
@pytest.mark.parametrize("color", [False, True])
def test_plain_layout_matches_rich_layout(graph, color, monkeypatch):
    result = evaluate(graph_of(graph.read_text(encoding="utf-8"), str(graph)))
    by_rich = run_table(result, color=color)
    monkeypatch.setattr(table, "RICH_MAX_ROWS", 0)
    by_hand = run_table(result, color=color, all_rows=True)
    if color:  # rich styles the padding too; compare what is shown, colour aside
        import re

        strip = re.compile(r"\x1b\[[0-9;]*m")
        by_rich, by_hand = (
            "\n".join(line.rstrip() for line in strip.sub("", t).splitlines()) for t in (by_rich, by_hand)
        )
        assert "\x1b[" in run_table(result, color=True)
    assert by_hand == by_rich


def test_large_tables_show_their_ends_and_every_row_when_asked():
    n = RICH_MAX_ROWS + 500
    text = "inputs: {x0: 0.1}\nnodes:\n" + "".join(
        f"  x{i}: {{op: add, inputs: [x{i - 1}, 0.1]}}\n" for i in range(1, n)
    )
    result = evaluate(graph_of(text))
    lines = run_table(result, all_rows=True).splitlines()
    assert len(lines) == 3 + n
    assert lines[-1].split() == [f"x{n - 1}", "add", f"x{n - 2},", "0.1", repr(result.value), "1"]
    summary = run_table(result).splitlines()
    assert len(summary) == 3 + 2 * SUMMARY_ROWS + 1
    assert summary[-1] == lines[-1] and summary[3] == lines[3]
    assert f"… {n - 2 * SUMMARY_ROWS:,} more rows (--all prints every row) …" in summary


def test_tables_stay_narrow_whatever_the_graph_holds():
    # one node with 1,000 operands and a long name padded every row to their width
    long_name = "n" * 1000
    text = "inputs: {x: 1.0}\nnodes:\n" + f"  {long_name}: {{op: add, inputs: [{', '.join(['x'] * 1000)}]}}\n"
    table = run_table(evaluate(graph_of(text)))
    assert max(len(line) for line in table.splitlines()) < 300
    assert "x, x, x, … (997 more)" in table


def test_precision_formats_significant_digits():
    assert format_number(220.00000000000003) == "220.00000000000003"
    assert format_number(220.00000000000003, 4) == "220"
    assert format_number(0.000123456, 2) == "0.00012"
    assert format_number(200) == "200"


@pytest.mark.parametrize(
    "value, precision, shown",
    [
        (1272.7, 3, "1270"),
        (20000, 1, "20000"),
        (20000.0, 2, "20000"),
        (-1272.7, 3, "-1270"),
        (123456789012345.6, 3, "123000000000000"),
        (0.0001234, 2, "0.00012"),
        (1e15, 3, "1e+15"),
        (0.00001234, 2, "1.2e-05"),
        (999999.0, 2, "1000000"),
    ],
)
def test_precision_never_uses_exponent_form_for_ordinary_magnitudes(value, precision, shown):
    assert format_number(value, precision) == shown


def test_decimals_are_fixed_places():
    assert format_number(1272.7312, decimals=2) == "1272.73"
    assert format_number(20000, decimals=2) == "20000.00"
    assert format_number(0.005, decimals=0) == "0"


def test_json_never_holds_nan_or_infinity():
    with pytest.raises(ValueError):
        to_json({"x": float("inf")})


@given(st.lists(st.text(), max_size=5))
def test_json_strings_are_what_json_writes(texts):
    assert json_strings(texts) == [json.dumps(t, ensure_ascii=False) for t in texts]
