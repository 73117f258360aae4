"""The defects found at the edges (issue 16), each at its root, each a regression test."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from cgraph_cli.core.engine import evaluate
from cgraph_cli.read.loader import load_text

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def _run_json(invoke, *args):
    done = invoke("run", *args, "--json")
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


# -- an n-ary mul of 0-d values keeps shape () on its rescaling path ------------------------------


@pytest.mark.parametrize(
    ("factors", "expected"),
    [("s, 2, 3", 6e-310), ("s, 1e-200, 1e-200, 1e200", 1.0)],
)
def test_an_nary_mul_of_0d_values_is_0d(invoke, graph_file, factors, expected):
    """Hand math: 1e-310 × 2 × 3 = 6e-310 (a subnormal partial product is taken again with its
    exponents apart); 1e200 × 1e-200 × 1e-200 × 1e200 = 1 (a partial product of 1e-200)."""
    first = "1e-310" if "2, 3" in factors else "1e200"
    text = f"inputs: {{a: [{first}]}}\nnodes:\n  s: sum(a)\n  p: mul({factors})\n"
    data = _run_json(invoke, graph_file(text))
    p = next(node for node in data["nodes"] if node["name"] == "p")
    assert p["shape"] == [] and p["value"] == pytest.approx(expected, rel=1e-15, abs=0)
    descended = invoke("descend", graph_file(text), "--vary", "a", "--steps", "1", "--json")
    assert descended.exit_code == 0, descended.stderr


# -- a .npy is judged by its header before it is read ---------------------------------------------


def _npy_claiming(path, count: int) -> None:
    header = repr({"descr": "<f8", "fortran_order": False, "shape": (count,)})
    header += " " * (118 - len(header) - 10 - 1) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())


@pytest.mark.parametrize("count", [10**20, 10**12, 10_000_001])
def test_a_npy_header_claiming_too_many_numbers_is_refused_before_reading(invoke, tmp_path, count):
    _npy_claiming(tmp_path / "w.npy", count)
    (tmp_path / "g.yaml").write_text("inputs:\n  x: {file: w.npy}\nnodes:\n  y: x * 2\n")
    done = invoke("run", tmp_path / "g.yaml")
    assert done.exit_code == 1
    assert f"g.yaml:2:13: input 'x': 'w.npy' holds {count:,} numbers; at most 10,000,000" in done.stderr


# -- CSV files as spreadsheets and editors write them -----------------------------------------------


@pytest.mark.parametrize("text", ["", "# a comment only\n", "\n\n", "# header\n\n# more\n"])
def test_a_csv_without_numbers_is_one_located_error_and_no_warning(invoke, tmp_path, text):
    (tmp_path / "d.csv").write_text(text)
    (tmp_path / "g.yaml").write_text("inputs:\n  x: {file: d.csv}\nnodes:\n  y: x * 2\n")
    done = invoke("run", tmp_path / "g.yaml")
    assert done.exit_code == 1
    assert done.stderr == f"cgraph: error: {tmp_path / 'g.yaml'}:2:13: input 'x': 'd.csv' holds no numbers\n"


def test_a_csv_with_a_byte_order_mark_is_read(invoke, tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark."""
    (tmp_path / "d.csv").write_bytes(b"\xef\xbb\xbf1.5,2\r\n3,4\r\n")
    (tmp_path / "g.yaml").write_text("inputs:\n  x: {file: d.csv}\nnodes:\n  y: sum(x)\n")
    data = _run_json(invoke, tmp_path / "g.yaml")
    assert data["value"] == 10.5


# -- one number is a number, however it is given -----------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "npy", "zeros", "normal"])
def test_a_value_of_no_dimensions_is_a_number(invoke, tmp_path, kind):
    """A one-number CSV, a 0-d .npy, {zeros: []}: the graph stays a graph of numbers, so --sweep,
    tornado, --elasticity and derive take it, and descend -o writes back what it reported."""
    if kind == "csv":
        (tmp_path / "x.csv").write_text("0.75\n")
        given, x = "{file: x.csv}", 0.75
    elif kind == "npy":
        np.save(tmp_path / "x.npy", np.array(0.75))
        given, x = "{file: x.npy}", 0.75
    elif kind == "zeros":
        given, x = "{zeros: []}", 0.0
    else:
        given, x = "{normal: 1, shape: [], seed: 3}", float(np.random.default_rng(3).standard_normal(()))
    path = tmp_path / "g.yaml"
    path.write_text(f"inputs:\n  x: {given}\n  b: 0.5\nnodes:\n  y: (x - 0.3) * (x - 0.3) + b\n")
    data = _run_json(invoke, path)
    assert data["nodes"][0]["value"] == x and "shape" not in data["nodes"][0]
    assert data["nodes"][0]["grad"] == pytest.approx(2 * (x - 0.3), rel=1e-15, abs=1e-300)
    for args in (["run", "--sweep", "b=1,2"], ["tornado"], ["grad", "--elasticity"], ["derive", "--wrt", "x"]):
        done = invoke(*args[:1], path, *args[1:])
        assert done.exit_code == 0, (args, done.stderr)
    trained = tmp_path / "trained.yaml"
    done = invoke("descend", path, "--vary", "x", "--steps", "40", "--lr", "0.3", "-o", trained, "--json")
    assert done.exit_code == 0, done.stderr
    assert _run_json(invoke, trained)["value"] == json.loads(done.stdout)["loss"]


# -- messages stay short -----------------------------------------------------------------------------


def test_an_unknown_word_as_a_formula_does_not_list_every_op(invoke, graph_file):
    for formula, words in (("x.real", "did you mean 'relu'?"), ("(x)", "the formula only names 'x'")):
        done = invoke("run", graph_file(f'inputs: {{x: 1}}\nnodes:\n  y: "{formula}"\n'))
        message = done.stderr.split("g.yaml:3:")[-1]
        assert done.exit_code == 1 and words in message and len(message) < 160, done.stderr
        assert "cross_entropy" not in done.stderr


def test_the_values_of_a_graph_of_one_number_file_are_exact():
    plan = load_text("inputs: {x: {zeros: []}}\nnodes: {y: x + 1}\n")
    assert not plan.arrays and evaluate(plan).value == 1.0


# -- numbers past a float's range in tornado and descend output ------------------------------------

BIG = "inputs: {x: 1e308, y: 2}\nnodes:\n  z: x * 1e-308 + y\n"


@pytest.mark.parametrize("swing", ["100%", "+-1e308"])
def test_a_tornado_end_past_a_floats_range_is_undefined_not_inf(invoke, graph_file, swing):
    """x = 1e308 moved up by 100% (or by 1e308) is past a float's range: that end has no value,
    says why, and the JSON stays JSON (it was exit 70: out of range floats)."""
    path = graph_file(BIG)
    done = invoke("tornado", path, "--swing", swing, "--json")
    assert done.exit_code == 0, done.stderr
    bar = next(b for b in json.loads(done.stdout)["bars"] if b["name"] == "x")
    assert bar["high"] is None and bar["output_high"] is None and bar["range"] is None
    assert bar["low"] == 0.0 and bar["output_low"] == 2.0  # hand math: 0 * 1e-308 + 2
    assert "past a float's range" in bar["errors"][0]
    csv_rows = invoke("tornado", path, "--swing", swing, "--csv").stdout.splitlines()
    assert "inf" not in "".join(csv_rows) and csv_rows[1 if swing == "+-1e308" else 2].startswith("x,1e+308,0.0,,2.0,,")
    table = invoke("tornado", path, "--swing", swing)
    assert table.exit_code == 0 and "inf" not in table.stdout and "past a float's range" in table.stdout


def test_tornado_and_descend_plots_of_numbers_near_a_floats_end(invoke, graph_file, tmp_path):
    pytest.importorskip("matplotlib")
    done = invoke("tornado", graph_file(BIG), "--swing", "+-1e308", "--plot", tmp_path / "t.svg", "--json")
    assert done.exit_code == 0 and done.stderr == f"cgraph: wrote {tmp_path / 't.svg'}\n", done.stderr
    assert (tmp_path / "t.svg").read_bytes().startswith(b"<?xml")
    # a loss near 1.7e308: a log axis (and a linear one) overflows its ticks unless scaled
    path = graph_file("inputs: {x: 1e154}\nnodes:\n  y: x * x * 1.7\n", "d.yaml")
    done = invoke(
        "descend", path, "--vary", "x", "--steps", "2", "--lr", "1e-10", "--plot", tmp_path / "d.png", "--json"
    )
    assert done.exit_code == 0 and done.stderr == f"cgraph: wrote {tmp_path / 'd.png'}\n", done.stderr
    assert json.loads(done.stdout)["loss"] == pytest.approx(1.7e308, rel=1e-8, abs=0)
    assert (tmp_path / "d.png").read_bytes().startswith(b"\x89PNG")


# -- the Python API refuses what the command line refuses --------------------------------------------


def _api_error(call) -> str:
    import cgraph_cli as cg

    with pytest.raises(cg.Error) as e:
        call()
    return e.value.message


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda g: g.check(eps=0), "--eps must be a finite number above 0, not 0"),
        (lambda g: g.check(eps=float("nan")), "--eps must be a finite number above 0"),
        (lambda g: g.check(atol=float("inf")), "--atol must be a finite number at least 0, not inf"),
        (lambda g: g.check(rtol=-1), "--rtol must be a finite number at least 0"),
        (lambda g: g.check(sample=0), "--sample must be a whole number at least 1"),
        (lambda g: g.descend(["apple"], lr=-1), "--lr must be a finite number above 0, not -1"),
        (lambda g: g.descend(["apple"], steps=2.5), "--steps must be a whole number"),
        (lambda g: g.descend(["apple"], steps=10**7), "--steps 10,000,000: at most 1,000,000"),
        (lambda g: g.sweep({"apple": ["a"]}), "'a' is not a number"),
        (lambda g: g.sweep({"apple": [1, True]}), "'True' is not a number"),
        (lambda g: g.run(set={"apple": "3x"}), "--set apple: '3x' is not a number"),
        (lambda g: g.run(set={"apple": True}), "--set apple: the value must be a finite number, not True"),
        (lambda g: g.run(set={"apple": float("inf")}), "the value must be a finite number, not inf"),
        (lambda g: g.run(set={"apple": [1, 2]}), "the value must be a finite number, not [1, 2]"),
    ],
)
def test_the_api_refuses_what_the_command_line_refuses(call, words):
    import cgraph_cli as cg

    assert words in _api_error(lambda: call(cg.load(str(GRAPHS / "apples.yaml"))))


def test_the_api_takes_what_the_command_line_takes(invoke):
    import cgraph_cli as cg

    g = cg.load(str(GRAPHS / "apples.yaml"))
    assert g.run(set={"apple": "3"}).value == g.run(set={"apple": 3}).value == 3 * 2 * 1.1
    net = cg.load(str(GRAPHS / "two_layer_net.yaml"))
    by_cli = json.loads(invoke("grad", GRAPHS / "two_layer_net.yaml", "--wrt", "W1[0, 1]", "--json").stdout)
    assert net.grad(wrt=["W1[0, 1]"]) == by_cli["gradients"]


def test_the_api_does_not_read_an_endless_file():
    import cgraph_cli as cg

    assert "larger than 1 GiB" in _api_error(lambda: cg.load("/dev/zero"))


# -- an undefined gradient names the node where it arose ---------------------------------------------


@pytest.mark.parametrize("x", ["1e-310", "[1e-310, 1.0]"])
@pytest.mark.parametrize("order", [("c: x * 2", "l: log(x)"), ("l: log(x)", "c: x * 2")])
def test_the_warning_names_the_node_where_the_gradient_became_undefined(invoke, graph_file, x, order):
    """d/dx log(x) = 1/x overflows at 1e-310; mul(x, 2) passes 2 and is not to blame, in whatever
    order the file declares them (the old engine named the first consumer it found)."""
    y = "l + c" if x.startswith("1") else "sum(l + c)"
    done = invoke("run", graph_file(f"inputs: {{x: {x}}}\nnodes:\n  {order[0]}\n  {order[1]}\n  y: {y}\n"))
    assert done.exit_code == 0
    assert "node 'l' = log(" in done.stderr and "node 'c'" not in done.stderr, done.stderr


# -- memory is bounded per graph, not only per node --------------------------------------------------


def test_a_graph_whose_values_together_pass_the_budget_is_refused_before_running(invoke, graph_file):
    """25 nodes chained on 10 million zeros (a 457-byte file) took 4.1 GB: now the node at which the
    values pass 50,000,000 numbers is named, before anything is computed."""
    chain = "".join(f"  n{k}: n{k - 1} + 1\n" for k in range(2, 26))
    path = graph_file(f"inputs:\n  x: {{zeros: [10000000]}}\nnodes:\n  n1: x + 1\n{chain}")
    done = invoke("run", path, "--json")
    assert done.exit_code == 1 and done.stdout == ""
    assert f"{path}:8:3: node 'n5': the graph's values up to here hold 60,000,000 numbers" in done.stderr
    assert "at most 50,000,000" in done.stderr


# -- check recomputes only what a moved element reaches ---------------------------------------------


def test_check_recomputes_only_the_nodes_between_the_moved_input_and_the_output(monkeypatch):
    """A difference along W's element moves only the nodes on the way from W to the output: the
    branch of V (as large as you like) is worked out once, not once per difference."""
    from cgraph_cli.commands.check import check_gradients
    from cgraph_cli.core.ops import OPS

    plan = load_text(
        "inputs:\n  W: [[0.5, -1.0], [2.0, 0.25]]\n  V: {normal: 1, shape: [50, 50], seed: 1}\n"
        "nodes:\n  a: sum(tanh(W))\n  b: sum(tanh(V))\n  L: a * b\n"
    )
    calls = {"W": 0, "V": 0}
    step = OPS["tanh"].array

    def counted(np_, x):
        calls["V" if x.shape == (50, 50) else "W"] += 1
        return step(np_, x)

    monkeypatch.setattr(OPS["tanh"], "array", counted)
    _, checks = check_gradients(plan, ["W"])
    assert [c.status for c in checks] == ["pass"] * 4
    assert calls["W"] > 20  # every difference moves tanh(W)
    assert calls["V"] <= 3  # the run, the differences' one base pass, and nothing per difference
