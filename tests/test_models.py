"""What engineers ask of a model: elasticities, CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


# -- elasticities ---------------------------------------------------------------------------------


def test_the_elasticity_of_a_power_law_is_its_exponent(invoke, graph_file):
    path = graph_file("inputs: {x: 2.0, k: 7.0}\nnodes:\n  y: k * x ** 2.5\n")
    out = json.loads(invoke("grad", path, "--elasticity", "--json").stdout)
    assert math.isclose(out["elasticities"]["x"], 2.5, rel_tol=1e-15)
    assert math.isclose(out["elasticities"]["k"], 1.0, rel_tol=1e-15)


def test_the_loans_payment_moves_one_percent_per_percent_of_principal(invoke):
    out = json.loads(invoke("grad", GRAPHS / "loan_payment.yaml", "--elasticity", "--json").stdout)
    e = out["elasticities"]
    assert math.isclose(e["principal"], 1.0, rel_tol=1e-15)

    # Worked apart: a 1% higher rate, the rest unchanged, by central difference of the closed form.
    def payment(rate, years=30.0, principal=300000.0):
        r = rate / 12
        return principal * r / (1 - (1 + r) ** -(years * 12))

    h = 1e-6
    numeric = (payment(0.06 * (1 + h)) - payment(0.06 * (1 - h))) / (2 * h) / payment(0.06)
    assert math.isclose(e["annual_rate"], numeric, rel_tol=1e-7)


def test_an_elasticity_where_the_output_is_zero_is_undefined_not_an_error(invoke, graph_file):
    path = graph_file("inputs: {x: 2, y: 2}\nnodes:\n  d: x - y\n")
    result = invoke("grad", path, "--elasticity", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["elasticities"] == {"x": None, "y": None}
    table = invoke("grad", path, "--elasticity").stdout
    assert "undefined" in table


def test_elasticity_is_a_column_of_the_table(invoke):
    table = invoke("grad", GRAPHS / "loan_payment.yaml", "--elasticity").stdout
    header = table.splitlines()[1].split()
    assert header[-1] == "elasticity"


# -- CSV ------------------------------------------------------------------------------------------


def test_run_csv_has_a_row_per_node_that_reads_back_exactly(invoke):
    out = invoke("run", GRAPHS / "tiered_pricing.yaml", "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    by_name = {row["name"]: row for row in rows}
    runs = json.loads(invoke("run", GRAPHS / "tiered_pricing.yaml", "--json").stdout)["nodes"]
    assert [row["name"] for row in rows] == [node["name"] for node in runs]
    for node in runs:
        row = by_name[node["name"]]
        assert float(row["value"]) == node["value"]
        assert row["grad"] == ("" if "grad" not in node else repr(node["grad"]))
        assert row["inputs"].split() == [str(x) for x in node["inputs"]]
    assert by_name["tier"]["op"] == "constant" and by_name["tier"]["grad"] == ""


def test_grad_csv_quotes_what_needs_quoting(invoke, graph_file):
    path = graph_file('inputs: {"a\\"b": 2, c: 3}\nnodes:\n  y: {op: mul, inputs: ["a\\"b", c]}\n')
    out = invoke("grad", path, "--csv", "--elasticity").stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [["wrt", "value", "d(y)/d(wrt)", "elasticity"], ['a"b', "2", "3", "1.0"], ["c", "3", "2", "1.0"]]


@pytest.mark.parametrize("command", [["run", "--json", "--csv"], ["grad", "--csv", "--json"]])
def test_csv_and_json_together_are_a_usage_error(invoke, command):
    result = invoke(command[0], GRAPHS / "apples.yaml", *command[1:])
    assert result.exit_code == 2 and result.stdout == "" and "--json and --csv" in result.stderr


def test_the_hessian_has_no_csv_or_elasticity(invoke):
    result = invoke("grad", GRAPHS / "apples.yaml", "--order", "2", "--csv")
    assert result.exit_code == 2 and result.stdout == ""
