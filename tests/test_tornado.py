"""The tornado: each input down and up by a swing, the output at each end, widest bar first."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"
PROFIT = GRAPHS / "subscription_profit.yaml"


def test_each_end_is_the_output_with_that_one_input_moved(invoke):
    out = json.loads(invoke("tornado", PROFIT, "--json").stdout)
    assert out["of"] == "profit" and out["swing"] == "10%"
    inputs = json.loads(invoke("grad", PROFIT, "--json").stdout)["gradients"]
    assert {bar["name"] for bar in out["bars"]} == set(inputs)
    for bar in out["bars"]:
        x = bar["value"]
        assert bar["low"] == x - abs(x) * 0.1 and bar["high"] == x + abs(x) * 0.1
        for end, moved in (("output_low", bar["low"]), ("output_high", bar["high"])):
            run = json.loads(invoke("run", PROFIT, "--set", f"{bar['name']}={moved!r}", "--json").stdout)
            assert bar[end] == run["value"], (bar["name"], end)
        assert bar["range"] == abs(bar["output_high"] - bar["output_low"])
    ranges = [bar["range"] for bar in out["bars"]]
    assert ranges == sorted(ranges, reverse=True) and out["bars"][0]["name"] == "price"


def test_an_absolute_swing_moves_each_input_by_that_amount(invoke, graph_file):
    path = graph_file("inputs: {x: 3, y: 10}\nnodes:\n  z: x * x + y\n")
    bars = json.loads(invoke("tornado", path, "--swing", "+-1", "--json").stdout)["bars"]
    assert bars == [
        {
            "name": "x",
            "value": 3,
            "low": 2.0,
            "high": 4.0,
            "output_low": 14.0,
            "output_high": 26.0,
            "range": 12.0,
            "errors": None,
        },
        {
            "name": "y",
            "value": 10,
            "low": 9.0,
            "high": 11.0,
            "output_low": 18.0,
            "output_high": 20.0,
            "range": 2.0,
            "errors": None,
        },
    ]


def test_constants_are_not_moved_and_cannot_be_asked_for(invoke):
    bars = json.loads(invoke("tornado", GRAPHS / "loan_payment.yaml", "--json").stdout)["bars"]
    assert [bar["name"] for bar in bars] == ["principal", "annual_rate", "years"]
    result = invoke("tornado", GRAPHS / "loan_payment.yaml", "--wrt", "months_per_year")
    assert result.exit_code == 2 and "is a constant" in result.stderr and result.stdout == ""


def test_an_end_without_a_value_is_undefined_and_the_rest_stand(invoke, graph_file):
    path = graph_file("inputs: {x: 0.05, y: 2}\nnodes:\n  z: log(x) * y\n")
    result = invoke("tornado", path, "--swing", "+-0.1", "--json")
    assert result.exit_code == 0, result.stderr
    bars = {bar["name"]: bar for bar in json.loads(result.stdout)["bars"]}
    assert bars["x"]["output_low"] is None and bars["x"]["range"] is None
    assert "log of a non-positive number" in bars["x"]["errors"][0]
    assert bars["y"]["range"] is not None
    assert list(bars) == ["y", "x"]  # an undefined bar goes last
    table = invoke("tornado", path, "--swing", "+-0.1").stdout
    assert "undefined" in table and "x at -: " in table


def test_the_table_draws_bars_scaled_to_the_widest(invoke, graph_file):
    path = graph_file("inputs: {x: 3, y: 10}\nnodes:\n  z: x * x + y\n")
    lines = invoke("tornado", path, "--swing", "±1").stdout.splitlines()
    assert lines[0] == "g: z = 19, each input ±1"
    x_bar, y_bar = lines[3].split()[-1], lines[4].split()[-1]
    assert x_bar.count("█") == 24 and x_bar.count("░") == round(5 / 7 * 24)  # 26 - 19 = 7 is the widest
    assert y_bar.count("█") == round(1 / 7 * 24) and y_bar.count("░") == round(1 / 7 * 24)


def test_tornado_csv_reads_back(invoke):
    rows = list(csv.DictReader(io.StringIO(invoke("tornado", GRAPHS / "tiered_pricing.yaml", "--csv").stdout)))
    assert [row["name"] for row in rows][:2] == ["list_price", "units"]
    assert float(rows[0]["range"]) == float(rows[0]["output_high"]) - float(rows[0]["output_low"])


@pytest.mark.parametrize("swing", ["abc", "0", "-5%", ".nan%", "0%", "1e999", "+-0", "+-1%", "±", "+-abc"])
def test_a_meaningless_swing_is_a_usage_error(invoke, swing):
    result = invoke("tornado", PROFIT, "--swing", swing)
    assert result.exit_code == 2 and result.stdout == "" and "--swing" in result.stderr


def test_a_swing_with_no_unit_is_refused_with_both_spellings_it_could_mean(invoke):
    # --swing 10 once moved every input by ±10: a fee rate of 0.025 went to -9.975
    result = invoke("tornado", PROFIT, "--swing", "10")
    assert result.exit_code == 2 and result.stdout == ""
    assert "has no unit: write 10% to move each input by that percentage of its value, or +-10" in result.stderr
    percent, amount = (json.loads(invoke("tornado", PROFIT, "--swing", s, "--json").stdout) for s in ("10%", "+-10"))
    assert percent["swing"] != amount["swing"]


def test_the_plot_is_an_svg_or_png_picture(invoke, tmp_path):
    pytest.importorskip("matplotlib")
    svg = tmp_path / "t.svg"
    result = invoke("tornado", PROFIT, "--plot", svg)
    assert result.exit_code == 0, result.stderr
    text = svg.read_text()
    assert text.startswith("<?xml")
    # the bars are named by the inputs' labels (subscription_profit.yaml's), as analysts read them
    assert "price per month" in text and "payment fee as a share of price" in text and "fee_rate" not in text
    again = tmp_path / "again.svg"
    invoke("tornado", PROFIT, "--plot", again)
    assert again.read_text() == text  # the same numbers draw the same file
    png = tmp_path / "t.png"
    invoke("tornado", PROFIT, "--plot", png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_plot_needs_an_svg_or_png_name_and_never_the_input(invoke, tmp_path):
    result = invoke("tornado", PROFIT, "--plot", tmp_path / "t.pdf")
    assert result.exit_code == 2 and ".svg or .png" in result.stderr
    copy = tmp_path / "model.svg"
    copy.write_text(PROFIT.read_text())
    result = invoke("tornado", copy, "--plot", copy)  # refused before anything is drawn, matplotlib or not
    assert result.exit_code == 2 and "is the input file" in result.stderr and result.stdout == ""
    assert copy.read_text() == PROFIT.read_text()


def test_without_matplotlib_the_plot_says_how_to_get_it(invoke, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    result = invoke("tornado", PROFIT, "--plot", tmp_path / "t.svg")
    assert result.exit_code == 1 and result.stdout == ""
    assert "pip install 'cgraph[plot]'" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "t.svg").exists()


def test_a_graph_without_inputs_has_nothing_to_move(invoke, graph_file):
    path = graph_file("constants: {k: 2}\nnodes:\n  y: k * 3\n")
    result = invoke("tornado", path)
    assert result.exit_code == 0 and result.stdout.splitlines()[-1] == "no inputs to move (constants are not moved)"
    assert json.loads(invoke("tornado", path, "--json").stdout)["bars"] == []
