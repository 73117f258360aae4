"""The Python API gives the command line's numbers, and its errors carry their place."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cgraph_cli as cg

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def cli_json(invoke, *args):
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_run_gives_every_value_and_gradient_by_name(invoke):
    g = cg.load(GRAPHS / "apples_oranges.yaml")
    run = g.run(set={"tax": 1.2})
    expected = cli_json(invoke, "run", GRAPHS / "apples_oranges.yaml", "--set", "tax=1.2")
    assert run.of == expected["of"] and run.value == expected["value"]
    assert run.values == {node["name"]: node["value"] for node in expected["nodes"]}
    assert run.grads == {node["name"]: node["grad"] for node in expected["nodes"]}


def test_the_books_apples_through_the_api():
    run = cg.load(str(GRAPHS / "apples.yaml")).run()
    assert run.value == 220.00000000000003
    assert (run.grads["apple"], run.grads["apple_num"], run.grads["tax"]) == (2.2, 110.00000000000001, 200)


def test_grad_and_elasticities_are_the_commands(invoke):
    g = cg.load(GRAPHS / "loan_payment.yaml")
    expected = cli_json(invoke, "grad", GRAPHS / "loan_payment.yaml", "--elasticity")
    assert g.grad() == expected["gradients"]
    both = g.grad(elasticity=True)
    assert {name: v["elasticity"] for name, v in both.items()} == expected["elasticities"]
    assert g.inputs == {"principal": 300000, "annual_rate": 0.06, "years": 30}
    assert g.constants == {"months_per_year": 12}


def test_sweep_records_are_the_commands(invoke):
    g = cg.load(GRAPHS / "loan_payment.yaml")
    records = g.sweep({"annual_rate": "0.03:0.05:0.01", "years": [15, 30]}, wrt=["annual_rate"])
    expected = json.loads(
        invoke(
            "grad",
            GRAPHS / "loan_payment.yaml",
            "--wrt",
            "annual_rate",
            "--sweep",
            "annual_rate=0.03:0.05:0.01",
            "--sweep",
            "years=15,30",
            "--json",
        ).stdout
    )
    assert records == expected and len(records) == 6


def test_tornado_check_derive_and_draw(invoke, tmp_path):
    g = cg.load(GRAPHS / "subscription_profit.yaml")
    assert g.tornado() == cli_json(invoke, "tornado", GRAPHS / "subscription_profit.yaml")["bars"]
    checks = g.check()
    assert {c["status"] for c in checks} == {"pass"} and len(checks) == 7
    derived = g.derive("price")
    assert derived.run().value == g.grad(["price"])["price"]
    again = cg.loads(derived.yaml())
    assert again.run().value == derived.run().value
    assert g.draw("dot").startswith("digraph cgraph {")
    mermaid = g.draw("mermaid")
    assert mermaid.startswith("flowchart LR\n")
    for name in ("visitors", "customers", "unit_profit", "profit"):  # every node, and the edge into profit
        assert f'"{name}"' in mermaid or f"<br/>{name}" in mermaid, name
    plan = g.plan
    edges = sum(len(plan.args[i]) for i in range(plan.size)) + 1  # an edge per operand, literals too, and one out
    assert mermaid.count(" -->|") == edges


def test_every_error_is_a_cg_error_with_its_place():
    with pytest.raises(cg.Error) as caught:
        cg.loads("inputs: {unit_cost: 1}\nnodes:\n  y: unit_cots * 2\n")
    error = caught.value
    assert (error.loc.line, error.loc.col) == (3, 6) and "did you mean 'unit_cost'" in error.message
    g = cg.load(GRAPHS / "apples.yaml")
    with pytest.raises(cg.Error, match="did you mean 'apple'"):
        g.run(set={"appel": 1})
    with pytest.raises(cg.Error, match="is undefined"):
        cg.loads("inputs: {x: -2, n: 2}\nnodes: {z: {op: pow, inputs: [x, n]}}\n").grad(wrt=["n"])
    with pytest.raises(cg.Error, match="cannot read"):
        cg.load("/nonexistent/graph.yaml")


def test_an_undefined_gradient_is_none_with_its_reason():
    run = cg.loads("inputs: {x: -2, n: 2}\nnodes: {z: {op: pow, inputs: [x, n]}}\n").run()
    assert run.value == 4 and run.grads["x"] == -4 and run.grads["n"] is None
    assert "ln" in run.undefined["n"] or "negative" in run.undefined["n"]


def test_in_a_notebook_a_run_is_a_table_and_a_graph_a_picture():
    g = cg.load(GRAPHS / "apples.yaml")
    table = g.run()._repr_html_()
    assert "<table>" in table and "<td>apple_price</td>" in table and "220.00000000000003" in table
    picture = g._repr_svg_()
    if shutil.which("dot"):
        assert picture is not None and picture.lstrip().startswith("<?xml")
    else:
        assert picture is None


def test_names_are_escaped_in_a_notebooks_table():
    run = cg.loads('inputs: {"<b>x": 1}\nnodes: {y: {op: neg, inputs: ["<b>x"]}}\n').run()
    assert "<b>x" not in run._repr_html_() and "&lt;b&gt;x" in run._repr_html_()


def test_importing_cgraph_loads_nothing_of_the_api_until_used():
    code = "import sys, cgraph_cli; print('cgraph_cli.api' in sys.modules, 'numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_load_takes_a_path_or_the_text_itself():
    text = (GRAPHS / "apples.yaml").read_text()
    assert cg.load(text).run().value == cg.load(GRAPHS / "apples.yaml").run().value == 220.00000000000003
    assert cg.load('{"inputs": {"x": 2}, "nodes": {"y": {"op": "neg", "inputs": ["x"]}}}').run().value == -2
    with pytest.raises(cg.Error, match="cannot read"):
        cg.load("no_such_graph.yaml")
