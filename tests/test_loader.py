"""The loader: both file forms, YAML 1.2 numbers, and a located error for every bad file."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cgraph_cli.core.errors import GraphError
from cgraph_cli.read import syntax
from cgraph_cli.read.loader import load_bytes, load_text

from .bad_files import BAD
from .conftest import described, graph_of
from .golden_cases import scalar_graph_files
from .strategies import any_graphs, examples, formula_graphs


def error_of(text: str) -> GraphError:
    with pytest.raises(GraphError) as e:
        graph_of(text)
    return e.value


def test_operands_listed_under_each_node():
    graph = graph_of("""
        inputs: {apple: 100, apple_num: 2, tax: 1.1}
        nodes:
          apple_price: {op: mul, inputs: [apple, apple_num]}
          price: {op: mul, inputs: [apple_price, tax], label: what we pay}
    """)
    assert described(graph) == [
        ("apple", 100),
        ("apple_num", 2),
        ("tax", 1.1),
        ("apple_price", "mul", ("apple", "apple_num")),
        ("price", "mul", ("apple_price", "tax"), "what we pay"),
    ]
    assert graph.name == "test"  # no name: key, so the file's stem


def test_edges_give_the_same_graph_as_listed_operands():
    listed = graph_of("""
        inputs: {apple: 100, apple_num: 2, tax: 1.1}
        nodes: {apple_price: {op: mul, inputs: [apple, apple_num]}, price: {op: mul, inputs: [apple_price, tax]}}
    """)
    edges = graph_of("""
        inputs: {apple: 100, apple_num: 2, tax: 1.1}
        nodes: {apple_price: mul, price: {op: mul}}
        edges:
          - apple -> apple_price
          - [apple_num, apple_price]
          - apple_price->price
          - tax -> price
    """)
    assert described(listed) == described(edges)


def test_number_literals_are_constants_and_duplicates_are_kept():
    graph = graph_of("""
        inputs: {x: 3}
        nodes: {y: {op: mul, inputs: [x, x, 2.5, -1, 1e3, 0x10, 0o17]}}
    """)
    assert graph.operands(1) == ("x", "x", 2.5, -1, 1000.0, 16, 15)


@pytest.mark.parametrize(
    "text, value",
    [
        ("1e3", 1000.0),
        ("2.5e3", 2500.0),
        ("1e+3", 1000.0),
        ("-.5", -0.5),
        ("+7", 7),
        ("1.", 1.0),
        ("0", 0),
    ],
)
def test_yaml_1_2_numbers(text, value):
    graph = graph_of(f"inputs: {{x: {text}}}")
    assert graph.values[0] == value and type(graph.values[0]) is type(value)


def test_yaml_1_1_booleans_are_plain_names():
    graph = graph_of("""
        inputs: {on: 1, off: 2, yes: 3, no: 4}
        nodes: {s: {op: add, inputs: [on, off, yes, no]}}
    """)
    assert [graph.names[i] for i in graph.inputs] == ["on", "off", "yes", "no"]


def test_any_script_is_fine_in_names():
    graph = graph_of("""
        inputs: {사과: 100, 개수: 2}
        nodes: {가격: {op: mul, inputs: [사과, 개수]}}
    """)
    assert graph.operands(2) == ("사과", "개수")


def test_quoted_keys_that_look_like_booleans_are_names():
    graph = graph_of("""
        inputs: {"true": 1, 'null': 2}
        nodes: {s: {op: add, inputs: ["true", "null"]}}
    """)
    assert graph.operands(2) == ("true", "null")


def test_input_with_value_and_label():
    graph = graph_of("inputs: {x: {value: 2, label: the x}}")
    assert described(graph) == [("x", 2, "the x")]


def test_json_is_accepted():
    graph = load_text('{"inputs": {"a": 1, "b": 2}, "nodes": {"s": {"op": "add", "inputs": ["a", "b"]}}}')
    assert described(graph)[2] == ("s", "add", ("a", "b"))


def test_anchors_and_aliases_within_bounds():
    graph = graph_of("""
        inputs: {a: 1, b: 2}
        nodes:
          s: {op: add, inputs: &pair [a, b]}
          m: {op: mul, inputs: *pair}
          t: {op: add, inputs: [s, m]}
    """)
    assert graph.operands(3) == ("a", "b")


def test_utf8_bom_and_utf16_are_read():
    text = "inputs: {x: 1}\nnodes: {y: {op: neg, inputs: [x]}}\n"
    with_bom = load_bytes(b"\xef\xbb\xbf" + text.encode(), "f")
    assert described(with_bom) == described(load_bytes(text.encode("utf-16"), "f"))


@pytest.mark.parametrize("text, words, line, col", BAD)
def test_bad_files_get_a_located_error(text, words, line, col):
    e = error_of(text)
    assert words in e.message
    assert len(e.message) <= 200, e.message  # short whatever the input (the ops are not listed)
    assert e.source == "test.yaml"
    if line is None:
        assert e.loc is None
    else:
        assert (e.loc.line, e.loc.col) == (line, col)


def test_undecodable_bytes_are_located():
    with pytest.raises(GraphError) as e:
        load_bytes(b"inputs:\n  x: \xff\n", "bad.yaml")
    assert str(e.value) == "bad.yaml:2:6: the file is not UTF-8 text (byte 0xff cannot be decoded)"


def test_control_characters_are_an_error():
    e = error_of("inputs: {x: 1}\x01\n")
    assert "invalid YAML" in e.message


def test_billion_laughs_fails_fast():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("inputs: {x: 1}")
    lines.append("nodes: {y: {op: add, inputs: *a8}}")
    e = error_of("\n".join(lines))
    assert "unknown key 'a0'" in e.message  # unknown keys stop it before any expansion


def test_aliases_that_expand_too_far_are_refused():
    lines = ["inputs: {x: 1}", "nodes:", "  n0: {op: add, inputs: &ops [" + ", ".join(["x"] * 1000) + "]}"]
    lines += [f"  n{i}: {{op: add, inputs: *ops}}" for i in range(1, 2000)]
    e = error_of("\n".join(lines))
    assert "anchors and aliases expand this file too far" in e.message


def test_a_quoted_number_operand_is_a_name_and_the_error_says_so():
    e = error_of('inputs: {x: 1}\nnodes: {y: {op: add, inputs: [x, "2"]}}\n')
    assert "unknown operand '2'; it is quoted, so it is a name: write 2 unquoted" in e.message


def _drafts(text: str):
    from cgraph_cli.read.loader import _fast_draft
    from cgraph_cli.read.located import careful_draft as _careful_draft

    return _fast_draft(text, "f.yaml", "f"), _careful_draft(text, "f.yaml", "f")


def _same(fast, careful) -> None:
    for field in (
        "name",
        "description",
        "output",
        "names",
        "ops",
        "operands",
        "values",
        "labels",
        "fixed",
        "formulas",
        "correlations",
    ):
        a, b = getattr(fast, field), getattr(careful, field)
        assert a == b and [type(x) for x in (a if isinstance(a, list) else [a])] == [
            type(x) for x in (b if isinstance(b, list) else [b])
        ], field
    assert [(f.signature, f.text) for f in fast.functions.values()] == [
        (f.signature, f.text) for f in careful.functions.values()
    ]
    assert {k: d.text for k, d in fast.dists.items()} == {k: d.text for k, d in careful.dists.items()}


def as_json(text: str) -> str:
    """The same graph written as JSON."""
    import json

    from cgraph_cli.read.located import careful_draft as _careful_draft

    d = _careful_draft(text, "f.yaml", "f")
    leaves = [
        (
            k,
            n,
            {"value": v, **({"label": d.labels[k]} if k in d.labels else {}), "dist": d.dists[k].text}
            if k in d.dists
            else ({"value": v, "label": d.labels[k]} if k in d.labels else v),
        )
        for k, (n, v, op) in enumerate(zip(d.names, d.values, d.ops))
        if op is None
    ]
    inputs = {n: v for k, n, v in leaves if k not in d.fixed}
    constants = {n: v for k, n, v in leaves if k in d.fixed}
    parts = {part for _, made in d.formulas.values() for part in made}  # a formula makes them again
    nodes = {
        n: d.formulas[n][0]
        if n in d.formulas
        else {"op": op, "inputs": list(o), **({"label": d.labels[k]} if k in d.labels else {})}
        for k, (n, op, o) in enumerate(zip(d.names, d.ops, d.operands))
        if op is not None and n not in parts
    }
    doc = {
        "name": d.name,
        **({"description": d.description} if d.description else {}),
        **({"functions": {f.signature: f.text for f in d.functions.values()}} if d.functions else {}),
        "inputs": inputs,
        **({"correlations": [list(c) for c in d.correlations]} if d.correlations else {}),
        **({"constants": constants} if constants else {}),
        "nodes": nodes,
        **({"output": d.output} if d.output else {}),
    }
    return json.dumps(doc, ensure_ascii=False)


@pytest.mark.parametrize("graph", scalar_graph_files(), ids=lambda p: p.stem)
def test_the_fast_way_in_reads_every_example_as_the_careful_way_does(graph):
    text = graph.read_text(encoding="utf-8")
    if "edges:" in text:
        pytest.skip("the edges form always goes the careful way")
    _same(*_drafts(text))
    _same(*_drafts(as_json(text)))


def test_the_fast_way_in_reads_constants_as_the_careful_way_does():
    text = "inputs: {x: 2}\nconstants: {k: 3, m: {value: 4, label: four}}\nnodes: {y: {op: mul, inputs: [x, k, m]}}\n"
    fast, careful = _drafts(text)
    _same(fast, careful)
    assert fast.fixed == {1, 2}
    _same(*_drafts(as_json(text)))


@settings(max_examples=examples(200), deadline=None)
@given(st.one_of(any_graphs(), formula_graphs()))
def test_the_fast_way_in_reads_random_graphs_as_the_careful_way_does(text):
    from cgraph_cli.read.loader import _NotSure

    try:
        fast, careful = _drafts(text)
    except (_NotSure, GraphError):
        return  # a file the fast way leaves to the careful one, or one with a mistake
    _same(fast, careful)


def test_ordinary_files_take_the_fast_way(monkeypatch):
    from cgraph_cli.read import loader, located

    def careful(*args):
        raise AssertionError("the careful way was taken")

    texts = [graph.read_text(encoding="utf-8") for graph in scalar_graph_files()]  # arrays go the careful way
    texts = [t for t in texts if "edges:" not in t]  # the edges form goes the careful way
    texts += [as_json(t) for t in texts]
    monkeypatch.setattr(located, "careful_draft", careful)
    for text in texts:
        loader.load_text(text, "f.yaml")


@pytest.mark.parametrize("text", [text for text, *_ in BAD])
def test_every_bad_file_is_refused_by_the_fast_way(text):
    from cgraph_cli.core.graph import compile_draft
    from cgraph_cli.read.loader import _fast_draft, _NotSure

    with pytest.raises((_NotSure, GraphError)):
        compile_draft(_fast_draft(text, "f.yaml", "f"))


_CORE_SCHEMA = {  # YAML 1.2's core schema, as the spec writes it
    "int": re.compile(r"[-+]?[0-9]+"),
    "octal": re.compile(r"0o[0-7]+"),
    "hex": re.compile(r"0x[0-9a-fA-F]+"),
    "float": re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"),
}


@given(st.one_of(st.text(), st.text(alphabet="0123456789+-.eExoabcdfABCDF_ ", max_size=8)))
@example("1.")
@example(".5")
@example("-.5e-3")
@example("0o17")
@example("0x1F")
@example("1e")
@example(".")
@example("+-1")
def test_number_forms_are_the_core_schemas(text):
    ours = {"int": syntax._is_int, "octal": syntax._is_octal, "hex": syntax._is_hex, "float": syntax._is_float}
    for form, pattern in _CORE_SCHEMA.items():
        assert ours[form](text) == bool(pattern.fullmatch(text)), form


ARRAY_FILES = {
    "yaml": """\
inputs:
  X: [[1.0, 2.0], [3.0, 4.0]]
  W: {value: [[0.5], [-1.5]], label: weights}
  b: {zeros: [1]}
  N: {normal: 0.5, shape: [2, 1], seed: 3}
  D: {file: data.csv}
  k: {value: 2, label: a number}
nodes:
  s: {op: mean, inputs: [X], axis: 0}
  y: "sum(X @ W + b + N + D) * k + sum(s)"
""",
    "json": '{"inputs": {"X": [[1.0, 2.0], [3.0, 4.0]], "W": {"value": [[0.5], [-1.5]], "label": "weights"},'
    ' "b": {"zeros": [1]}, "N": {"normal": 0.5, "shape": [2, 1], "seed": 3}, "D": {"file": "data.csv"},'
    ' "k": {"value": 2, "label": "a number"}}, "nodes": {"s": {"op": "mean", "inputs": ["X"], "axis": 0,'
    ' "keepdims": false}, "y": "sum(X @ W + b + N + D) * k + sum(s)"}}',
}


@pytest.mark.parametrize("kind", sorted(ARRAY_FILES))
def test_a_file_with_arrays_is_read_once_by_the_same_rules(kind, tmp_path, monkeypatch):
    """No file is parsed twice on the way to a successful run: the fast way reads arrays (lists,
    zeros, normal draws, files) by values.py's rules, as the careful way does, to the same plan."""
    import numpy as np

    from cgraph_cli.read import located

    (tmp_path / "data.csv").write_text("1\n2\n", encoding="utf-8")
    path = tmp_path / f"g.{kind}"
    path.write_text(ARRAY_FILES[kind], encoding="utf-8")
    careful = located.careful_draft(ARRAY_FILES[kind], str(path), "g")

    def parsed_again(*args, **kwargs):
        raise AssertionError("the careful way parsed the file again")

    monkeypatch.setattr(located, "careful_draft", parsed_again)
    plan = load_text(ARRAY_FILES[kind], str(path), "g")
    assert plan.arrays and careful.arrays
    for name, value in zip(careful.names, careful.values):
        mine = plan.values[plan.index[name]]
        assert type(mine) is type(value) and np.array_equal(mine, value) if value is not None else mine is None, name
    assert plan.labels[plan.index["W"]] == "weights" and plan.labels[plan.index["k"]] == "a number"
    assert plan.attributes(plan.index["s"]) == {"axis": 0, "keepdims": False}  # (node attributes too)
    assert plan.values[plan.index["N"]].tolist() == (0.5 * np.random.default_rng(3).standard_normal((2, 1))).tolist()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[[1, 2], [3]]", "ragged"),
        ("[]", "at least one element"),
        ("{zeros: [0]}", "a size is a whole number, 1 or more"),
        ("{normal: -1, shape: [2]}", "0 or more"),
        ("{value: 1, zeros: [2]}", "needs one value"),
        ("{zeros: [2], seed: 1}", "'seed' goes with normal"),
        ("{file: nope.csv}", "cannot read 'nope.csv'"),
    ],
)
def test_an_array_the_rules_refuse_is_a_located_error_from_either_way(value, message, tmp_path):
    """The fast way is not sure, and the careful way says where: the same rule, its message located."""
    text = f"inputs:\n  x: {value}\nnodes:\n  y: sum(x)\n"
    with pytest.raises(GraphError, match=re.escape(message)) as caught:
        load_text(text, str(tmp_path / "g.yaml"))
    assert caught.value.loc is not None and caught.value.loc.line == 2


def test_every_example_but_the_edges_form_is_parsed_once(monkeypatch):
    from pathlib import Path

    from cgraph_cli.read import located

    graphs = Path(__file__).resolve().parent.parent / "graphs"
    again: list[str] = []
    careful = located.careful_draft
    monkeypatch.setattr(
        located, "careful_draft", lambda text, source, stem: again.append(source) or careful(text, source, stem)
    )
    for path in sorted(graphs.glob("*.yaml")):
        load_bytes(path.read_bytes(), str(path))
    assert [Path(p).name for p in again] == ["apples_edges.yaml"]  # (the edges form goes the careful way)


@st.composite
def shuffled_drafts(draw):
    """A DAG declared in any order: nodes of one, two or three operands, each a name declared
    anywhere in the file or a literal number (first, second or both), and the names in file order."""
    inputs = draw(st.integers(1, 3))
    count = draw(st.integers(1, 8))
    names = [f"i{k}" for k in range(inputs)] + [f"n{k}" for k in range(count)]
    nodes = []
    for k in range(count):  # node k may use the inputs and nodes 0..k-1 (a DAG), or literals
        earlier = names[: inputs + k]
        operand = st.one_of(st.sampled_from(earlier), st.integers(-3, 3), st.floats(-2, 2, allow_nan=False))
        arity = draw(st.sampled_from([1, 2, 2, 3]))
        nodes.append(("neg" if arity == 1 else "add", tuple(draw(st.lists(operand, min_size=arity, max_size=arity)))))
    order = draw(st.permutations(range(inputs + count)))  # the file's order of declaration
    return inputs, names, nodes, order


@given(shuffled_drafts())
@settings(max_examples=examples(300))
def test_compiling_indexes_every_operand_and_orders_every_node_after_its_operands(case):
    # What the compiler must give, stated without its code: each node's operands as written (names
    # and the literal numbers, in place), every name operand evaluated before its node, and a file
    # already in dependency order kept in its own order.
    from cgraph_cli.core.graph import Draft, compile_draft

    inputs, names, nodes, order = case
    draft = Draft("t")
    for k in order:
        if k < inputs:
            draft.add_input(names[k], 1.0)
        else:
            draft.add_node(names[k], *nodes[k - inputs])
    plan = compile_draft(draft)
    for k in range(inputs, len(names)):
        i = plan.index[names[k]]
        written = nodes[k - inputs][1]
        assert plan.operands(i) == written
        assert [type(o) for o in plan.operands(i)] == [type(o) for o in written]
        assert all(plan.is_literal(j) or j < i for j in plan.args[i])
    declared_before = {names[k]: r for r, k in enumerate(order)}
    if all(
        declared_before[o] < declared_before[names[k]]
        for k in range(inputs, len(names))
        for o in nodes[k - inputs][1]
        if type(o) is str
    ):  # a file in dependency order is evaluated in its own order
        assert [plan.index[draft.names[r]] for r in range(len(order))] == list(range(len(order)))
