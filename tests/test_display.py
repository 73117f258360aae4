"""Numbers as analysts read them: percents in, display formats and units out, gradients that keep
their digits, computed numbers without float noise, tables that never split a number."""

from __future__ import annotations

import json
import re

import pytest

import cgraph_cli as cg
from cgraph_cli.core.errors import GraphError
from cgraph_cli.read.loader import load_text

CART = """\
inputs:
  price: {value: 2.5, label: price of a cup}
  card_fee: 2.5%
  rent: {value: 900}
constants:
  cups_at_zero: 2000
nodes:
  cups: cups_at_zero - 250 * price
  profit: price * cups * (1 - card_fee) - 1.1 * cups - rent
display:
  price: {format: money, unit: USD}
  profit: {format: "thousands:2", unit: USD a month, label: monthly profit}
  cups: thousands
output: profit
"""


@pytest.mark.parametrize(
    "text, value",
    [("2.5%", 0.025), ("7%", 0.07), ("100%", 1), ("-3.5%", -0.035), ("0.1%", 0.001), ("1e2%", 1.0), ("12.5 %", 0.125)],
)
def test_a_percent_is_the_decimal_it_stands_for(text, value):
    # the decimal divided by 100 exactly, then rounded once: 7% is 0.07, where 7 / 100 * ... would not be
    plan = load_text(f"inputs: {{r: {text}}}\nnodes: {{y: r * 1}}\n")
    assert plan.values[0] == value
    assert load_text(f"inputs: {{r: {{value: {text}}}}}\nnodes: {{y: r * 1}}\n").values[0] == value


def test_a_percent_is_accepted_by_set_and_the_api_and_shown_as_one(invoke, graph_file):
    path = graph_file(CART)
    out = json.loads(invoke("run", path, "--set", "card_fee=3%", "--json").stdout)
    assert next(n for n in out["nodes"] if n["name"] == "card_fee")["value"] == 0.03
    assert cg.load(path).run(set={"card_fee": "3%"}).value == out["value"]
    table = invoke("run", path).stdout
    assert re.search(r"card_fee\s+input\s+2\.5%", table)  # written as a percent, shown as one
    assert re.search(r"card_fee\s+input\s+3%", invoke("run", path, "--set", "card_fee=3%").stdout)


@pytest.mark.parametrize("text", ["abc%", "0x10%", "1_000%", ".inf%", "2.5%%"])
def test_what_is_not_a_percent_is_refused_with_the_number_rule(text):
    with pytest.raises(GraphError) as caught:
        load_text(f"inputs:\n  r: {text}\nnodes: {{y: r * 1}}\n", "f.yaml")
    assert f"input 'r' must be a number, not '{text}'" in str(caught.value)


def test_display_formats_show_money_thousands_and_percent(invoke, graph_file):
    table = invoke("run", graph_file(CART)).stdout
    assert re.search(r"price\s+input\s+2\.50\s", table)  # money: 2 decimals
    assert re.search(r"cups\s+sub\s+cups_at_zero, 250\*price\s+1,375\s", table)  # thousands
    assert "cart: profit = 939.06" not in table  # the headline is the graph's name and the number
    assert re.search(r"profit\s+sub\s.*939\.06\s", table)
    assert "monthly profit (USD a month)" in table and "price of a cup (USD)" in table
    # --decimals sets the places, and the percent stays a percent (not 0.03)
    assert re.search(r"card_fee\s+input\s+2\.50%", invoke("run", graph_file(CART), "--decimals", "2").stdout)


def test_units_and_labels_reach_json_and_csv(invoke, graph_file):
    path = graph_file(CART)
    nodes = {n["name"]: n for n in json.loads(invoke("run", path, "--json").stdout)["nodes"]}
    assert nodes["price"]["unit"] == "USD" and nodes["price"]["label"] == "price of a cup"
    assert nodes["profit"]["label"] == "monthly profit" and nodes["profit"]["value"] == 939.0624999999998
    csv = invoke("run", path, "--csv").stdout.splitlines()
    assert csv[0] == "name,op,inputs,value,grad,label,unit" and csv[1] == "price,input,,2.5,1006.25,price of a cup,USD"
    sweep = invoke("run", path, "--sweep", "price=4:4.5:0.5", "--csv").stdout.splitlines()
    assert sweep[0].startswith("price (USD),profit (USD a month),d(profit)/d(price)")
    assert sweep[1].startswith("4.0,1900.0,")  # every digit in CSV


@pytest.mark.parametrize(
    "display, message",
    [
        ("  prise: money", "display: no input or node 'prise'; did you mean 'price'?"),
        ("  price: dollars", "'dollars' is not a display format"),
        ("  price: percent:x", "the decimals after ':' are a whole number"),
        ("  price: {format: money, colour: red}", "unknown key 'colour'"),
        ("  price: {label: another}", "'price' has a label already"),
    ],
)
def test_a_display_mistake_is_a_located_error(display, message):
    text = CART.split("display:")[0] + "display:\n" + display + "\noutput: profit\n"
    with pytest.raises(GraphError) as caught:
        load_text(text, "f.yaml")
    assert message in str(caught.value) and caught.value.loc is not None


def test_decimals_never_round_a_gradient_to_nothing(invoke, graph_file):
    path = graph_file("inputs: {rent: 900, x: 2}\nnodes:\n  y: 0.3587 * rent + x\n")
    out = invoke("grad", path, "--decimals", "0").stdout
    assert re.search(r"rent\s+900\s+0\.359\s", out), out  # not 0
    table = invoke("run", path, "--decimals", "2").stdout
    assert re.search(r"rent\s+input\s+900\.00\s+0\.359\s", table)  # 0.36 would keep 2 digits: 3 it is


def test_sweep_grid_points_stay_apart_whatever_decimals_say(invoke, graph_file):
    table = invoke("run", graph_file(CART), "--sweep", "rent=900:901:0.5", "--decimals", "0").stdout
    assert re.search(r"^\s*900\s", table, re.M) and re.search(r"^\s*900\.5\s", table, re.M)


def test_tornado_shows_its_own_numbers_without_float_noise_and_json_keeps_them(invoke, graph_file):
    path = graph_file("inputs: {rate: 0.05, base: 1426.7045454545455}\nnodes:\n  y: base * (1 + rate)\n")
    table = invoke("tornado", path, "--swing", "10%").stdout
    assert 0.05 * 1.1 == 0.05500000000000001  # the end cgraph computes
    assert " 0.055 " in table and "0.05500000000000001" not in table
    out = json.loads(invoke("tornado", path, "--swing", "10%", "--json").stdout)
    assert 0.05500000000000001 in [bar["high"] for bar in out["bars"]]


@pytest.mark.parametrize("columns", [70, 80, 100, 120])
@pytest.mark.parametrize("example", ["loan_payment", "subscription_profit", "black_scholes", "coffee_cart"])
def test_a_table_fits_the_terminal_and_never_splits_a_number(invoke, columns, example, monkeypatch):
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "graphs" / f"{example}.yaml"
    monkeypatch.setenv("COLUMNS", str(columns))
    text = invoke("run", str(path)).stdout
    lines = text.splitlines()
    assert all(len(line) <= columns for line in lines[1:] if not line.startswith("(")), text
    out = json.loads(invoke("run", str(path), "--json").stdout)
    body = [re.split(r"\s{2,}", line.strip()) for line in lines[3:]]
    for node in out["nodes"]:  # each value and gradient whole, as a cell of the table
        assert any(repr(node["value"]) in cells for cells in body), (node, text)
        if "grad" in node:
            assert any(repr(node["grad"]) in cells for cells in body), (node, text)


def test_the_notebook_table_carries_labels_and_units(graph_file):
    html = cg.load(graph_file(CART)).run()._repr_html_()
    assert "<th>label</th>" in html and "<td>monthly profit (USD a month)</td>" in html
    assert "<td>price of a cup (USD)</td>" in html


def test_sweeps_and_seek_read_percents_as_set_does(invoke):
    from pathlib import Path

    cart = str(Path(__file__).resolve().parent.parent / "graphs" / "coffee_cart.yaml")
    rows = invoke("run", cart, "--sweep", "card_fee=1%:3%:1%", "--csv").stdout.splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["0.01", "0.02", "0.03"]
    found = json.loads(invoke("seek", cart, "profit=0", "--by", "card_fee", "--between", "1%:100%", "--json").stdout)
    assert found["reached"] == 0.0 or found["bracket"] is not None
