"""The error type's text, and name suggestions."""

from cgraph_cli.core.errors import CgraphError, Loc, did_you_mean


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
