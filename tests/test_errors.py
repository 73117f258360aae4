"""The error type's text, and name suggestions."""

import pytest

from cgraph_cli.core.errors import CgraphError, GraphError, Loc, did_you_mean
from cgraph_cli.read.loader import load_text

from .conftest import GRAPHS


def test_error_text_has_file_line_and_column_when_known():
    assert str(CgraphError("bad", Loc(3, 7), "g.yaml")) == "g.yaml:3:7: bad"
    assert str(CgraphError("bad", None, "g.yaml")) == "g.yaml: bad"
    assert str(CgraphError("bad")) == "bad"


def test_suggestions():
    assert did_you_mean("appel", ["apple", "tax"]) == "; did you mean 'apple'?"
    assert did_you_mean("zzz", ["apple", "tax"]) == ""


def test_no_suggestion_among_too_many_similar_names():
    names = [f"node_{i}" for i in range(60_000)]
    assert did_you_mean("node_123x", names) == ""
    assert did_you_mean("node_123x", names[:1000]) == "; did you mean 'node_123'?"


def test_a_missing_input_lists_the_few_there_are_and_an_unknown_function_points_to_cgraph_ops(invoke):
    loan = GRAPHS / "loan_payment.yaml"
    result = invoke("run", loan, "--set", "interest=0.05")
    assert result.exit_code == 2 and result.stdout == ""
    assert "no input 'interest'; the inputs and constants are principal, annual_rate, years, months_per_year" in (
        result.stderr
    )
    assert "did you mean 'principal'?" in invoke("run", loan, "--set", "principl=1").stderr  # a near miss: the nearest
    with pytest.raises(GraphError) as e:
        load_text('inputs: {r: 3}\nnodes: {y: "lnn(r)"}\n')
    assert "unknown function 'lnn' (`cgraph ops` lists the functions there are)" in str(e.value)
