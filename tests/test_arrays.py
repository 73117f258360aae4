"""Arrays: values, shapes, the book's layers, their backward steps against central differences,
and the book's printed arrays reproduced through the command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cgraph_cli.core import arrays
from cgraph_cli.core.errors import GraphError
from cgraph_cli.core.graph import Draft, compile_draft
from cgraph_cli.core.op import Undefined
from cgraph_cli.core.ops import OPS

from .conftest import GRAPHS, close_to_difference, graph_of, numeric_derivative
from .strategies import examples
from .test_cli import assert_error

ARRAY_OPS = sorted(name for name, op in OPS.items() if op.arrays_only)


def run_json(invoke, *args):
    result = invoke("run", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def node(data: dict, name: str) -> dict:
    return next(n for n in data["nodes"] if n["name"] == name)


# -- the book's printed arrays, through the command line -------------------------------------------


def test_relu_layer_mask_is_the_books(invoke):
    data = run_json(invoke, GRAPHS / "relu_layer.yaml")
    # The book: mask = (x <= 0) is [[False, True], [True, False]]; out = [[1, 0], [0, 3]].
    assert node(data, "mask")["value"] == [[0.0, 1.0], [1.0, 0.0]]
    assert node(data, "out")["value"] == [[1.0, 0.0], [0.0, 3.0]]
    # Backward, dout passes where the mask is 0 (dout = 1: the gradient of the sum).
    assert node(data, "x")["grad"] == [[1.0, 0.0], [0.0, 1.0]]
    assert data["grad_of"] == "sum(out)"


def test_affine_layer_gives_the_books_output_and_db(invoke):
    data = run_json(invoke, GRAPHS / "affine.yaml")
    # The book: X·W = [[0, 0, 0], [10, 10, 10]], B = [1, 2, 3] -> [[1, 2, 3], [11, 12, 13]];
    # for dY = [[1, 2, 3], [4, 5, 6]], dB = [5, 7, 9].
    assert node(data, "Y")["value"] == [[1.0, 2.0, 3.0], [11.0, 12.0, 13.0]]
    assert node(data, "Y")["grad"] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert node(data, "B")["grad"] == [5.0, 7.0, 9.0]
    # dX = dY·Wᵀ and dW = Xᵀ·dY, worked out by hand: W's entries are all 0.5, X = [[0, 0], [10, 10]].
    assert node(data, "X")["grad"] == [[3.0, 3.0], [7.5, 7.5]]
    assert node(data, "W")["grad"] == [[40.0, 50.0, 60.0], [40.0, 50.0, 60.0]]
    grad = invoke("grad", GRAPHS / "affine.yaml", "--wrt", "B", "--json")
    assert json.loads(grad.stdout)["gradients"] == {"B": [5.0, 7.0, 9.0]}


def test_sigmoid_layer_backward_is_dout_y_one_minus_y(invoke):
    data = run_json(invoke, GRAPHS / "sigmoid_layer.yaml")
    x = np.array(node(data, "x")["value"])
    y = 1 / (1 + np.exp(-x))
    assert np.allclose(node(data, "y")["value"], y, rtol=1e-15, atol=0)
    assert np.allclose(node(data, "x")["grad"], y * (1 - y), rtol=1e-12, atol=0)


def test_softmax_with_loss_backward_is_y_minus_t_over_the_batch(invoke):
    data = run_json(invoke, GRAPHS / "softmax_with_loss.yaml")
    x, t = np.array(node(data, "x")["value"]), np.array(node(data, "t")["value"])
    y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert np.allclose(node(data, "y")["value"], y, rtol=1e-14, atol=0)
    assert math.isclose(data["value"], -np.mean(np.log(y[t == 1])), rel_tol=1e-14)
    assert np.allclose(node(data, "x")["grad"], (y - t) / 2, rtol=1e-12, atol=1e-16)
    assert "grad" not in node(data, "t")  # labels are a constant


@pytest.mark.parametrize(
    "y, label, expected",
    [
        # The book's chapter 4 prints these for cross_entropy_error (with its delta of 1e-7).
        ([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0], 2, 0.510825457099338),
        ([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0], 2, 2.302584092994546),
    ],
)
def test_cross_entropy_gives_the_books_numbers(invoke, graph_file, y, label, expected):
    one_hot = [1.0 if k == label else 0.0 for k in range(10)]
    path = graph_file(f"inputs:\n  y: {y}\nconstants:\n  t: {one_hot}\nnodes:\n  E: cross_entropy(y, t)\n")
    assert math.isclose(run_json(invoke, path)["value"], expected, rel_tol=1e-14)
    for y_text, t_text in ((y, label), ([y], [label])):  # the label as a class index: one sample, a batch of one
        path = graph_file(f"inputs:\n  y: {y_text}\nconstants:\n  t: {t_text}\nnodes:\n  E: cross_entropy(y, t)\n")
        assert math.isclose(run_json(invoke, path)["value"], expected, rel_tol=1e-14)


# -- every op's backward step against central differences --------------------------------------------


def _plan(op: str, operands: list, attrs: dict | None = None):
    draft = Draft("t")
    for k, value in enumerate(operands):
        draft.add_input(f"x{k}", value)
    draft.arrays = True
    draft.add_node("y", op, tuple(f"x{k}" for k in range(len(operands))), attrs=attrs)
    return compile_draft(draft)


def _backward_against_differences(op: str, operands: list, attrs: dict | None = None, skip=()):
    """The op's backward step (with a random dout) against central differences of sum(out * dout),
    element by element; and its shape rule against numpy's own result."""
    plan = _plan(op, [np.asarray(v, dtype=float) for v in operands], attrs)
    values, _ = arrays.forward_pass(np, plan, [None if v is None else np.asarray(v, dtype=float) for v in plan.values])
    out = values[-1]
    assert plan.shapes[-1] == out.shape
    dout = np.random.default_rng(7).standard_normal(out.shape)
    grads = arrays.sends(np, plan, values, len(operands), dout)
    for k, (x, g) in enumerate(zip(operands, grads)):
        if k in skip:
            continue
        x = np.asarray(x, dtype=float)
        assert g.shape == x.shape, (op, k)
        scale = float(np.sum(np.abs(out * dout)) + sum(np.sum(np.abs(v)) for v in operands))
        for at in np.ndindex(*x.shape):

            def moved(v, k=k, at=at):
                xs = [np.array(operand, dtype=float) for operand in operands]
                xs[k][at] = v
                return float(np.sum(OPS[op].array(np, *xs, **(attrs or {})) * dout))

            estimate, error = numeric_derivative(moved, float(x[at]), scale)
            assert close_to_difference(g[at], estimate, error), (op, k, at, g[at], estimate, error)


shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)
seeds = st.integers(0, 2**32 - 1)


def _values(seed: int, shape, low=-2.0, high=2.0, away_from_zero=False):
    x = np.random.default_rng(seed).uniform(low, high, shape)
    return np.where(x >= 0, x + 0.2, x - 0.2) if away_from_zero else x


def _broadcast_partner(shape, data):
    """A shape that broadcasts with `shape`: some leading axes dropped, some sizes set to 1."""
    dropped = data.draw(st.integers(0, len(shape)))
    kept = shape[dropped:]
    return tuple(1 if data.draw(st.booleans()) else n for n in kept)


ELEMENTWISE = {  # op -> how its operands' values are drawn (kwargs of _values), per operand
    "add": [{}, {}],
    "sub": [{}, {}],
    "mul": [{}, {}],
    "div": [{}, {"away_from_zero": True}],
    "pow": [{"low": 0.5, "high": 2.0}, {}],
    "max": [{}, {}],
    "min": [{}, {}],
    "xlogy": [{}, {"low": 0.5, "high": 2.0}],
    "where": [{}, {}, {}],
    "exp": [{}],
    "log": [{"low": 0.3, "high": 3.0}],
    "sigmoid": [{}],
    "tanh": [{}],
    "relu": [{"away_from_zero": True}],
    "abs": [{"away_from_zero": True}],
    "sqrt": [{"low": 0.3, "high": 3.0}],
    "sin": [{}],
    "cos": [{}],
    "neg": [{}],
    "sech": [{}],
}


@pytest.mark.parametrize("op", sorted(ELEMENTWISE))
def test_an_element_by_element_op_broadcasts_and_sums_its_gradient_back(op):
    @settings(max_examples=examples(25), deadline=None)
    @given(shapes, seeds, st.data())
    def check(shape, seed, data):
        kinds = ELEMENTWISE[op]
        drawn = [shape] + [_broadcast_partner(shape, data) for _ in kinds[1:]]
        order = data.draw(st.permutations(range(len(kinds))))  # the full shape may be any operand's
        operand_shapes = [drawn[k] for k in order]
        operands = [_values(seed + k, s, **kind) for k, (s, kind) in enumerate(zip(operand_shapes, kinds))]
        if op in ("max", "min"):  # near a tie a difference steps over the kink: it says nothing there
            a, b = np.broadcast_arrays(*operands)
            assume(np.min(np.abs(a - b)) > 0.01)
        _backward_against_differences(op, operands)

    check()


def test_matmul_backward_for_every_kind_of_operand():
    @settings(max_examples=examples(40), deadline=None)
    @given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.sampled_from(["MM", "VM", "MV", "VV"]), seeds)
    def check(n, k, m, kinds, seed):
        x = _values(seed, (n, k) if kinds[0] == "M" else (k,))
        w = _values(seed + 1, (k, m) if kinds[1] == "M" else (k,))
        _backward_against_differences("matmul", [x, w])

    check()


def test_affine_backward_sums_db_over_the_batch():
    @settings(max_examples=examples(40), deadline=None)
    @given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.booleans(), seeds)
    def check(n, k, m, row, seed):
        b = _values(seed + 2, (1, m) if row else (m,))
        _backward_against_differences("affine", [_values(seed, (n, k)), _values(seed + 1, (k, m)), b])

    check()


def test_sum_and_mean_backward_along_any_axes():
    @settings(max_examples=examples(60), deadline=None)
    @given(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), st.data(), st.booleans(), seeds)
    def check(shape, data, keepdims, seed):
        if data.draw(st.booleans()):  # a square (or cube): where a gradient sent along the wrong axis still fits
            shape = (shape[0],) * len(shape)
        axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique_by=lambda a: a % len(shape)))
        axis = data.draw(st.sampled_from([None, tuple(axes), axes[0] if axes else None]))
        for op in ("sum", "mean"):
            _backward_against_differences(op, [_values(seed, shape)], {"axis": axis, "keepdims": keepdims})

    check()


def test_transpose_reshape_and_softmax_backward():
    @settings(max_examples=examples(40), deadline=None)
    @given(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), st.data(), seeds)
    def check(shape, data, seed):
        x = _values(seed, shape)
        order = tuple(data.draw(st.permutations(range(len(shape)))))
        # The same axes, some counted from the end (order of mixed signs is not the axes' order).
        negative = tuple(a - len(shape) if data.draw(st.booleans()) else a for a in order)
        for axes in (None, order, negative):
            _backward_against_differences("transpose", [x], {"axes": axes})
        _backward_against_differences("reshape", [x], {"shape": (-1,)})
        _backward_against_differences("softmax", [x], {"axis": data.draw(st.integers(-len(shape), len(shape) - 1))})

    check()


def test_the_losses_backward_for_one_hot_soft_and_index_labels():
    kinds = ["one-hot", "soft", "weights", "index"]

    @settings(max_examples=examples(40), deadline=None)
    @given(st.integers(1, 4), st.integers(2, 4), st.sampled_from(kinds), st.booleans(), seeds)
    def check(n, classes, labels, batch, seed):
        rng = np.random.default_rng(seed)
        shape = (n, classes) if batch else (classes,)
        x = rng.uniform(-2, 2, shape)
        index = rng.integers(0, classes, shape[:-1])
        t = {
            "one-hot": np.eye(classes)[index],
            "soft": rng.dirichlet(np.ones(classes), shape[:-1]) if batch else rng.dirichlet(np.ones(classes)),
            "weights": rng.uniform(0, 2, shape),  # a row need not sum to 1
            "index": index.astype(float),
        }[labels]
        skip = (1,) if labels == "index" else ()
        _backward_against_differences("softmax_with_loss", [x, t], skip=skip)
        y = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
        _backward_against_differences("cross_entropy", [y, t], skip=skip)

    check()


def test_class_indices_have_no_gradient_and_must_be_whole_classes():
    plan = _plan("softmax_with_loss", [np.zeros((2, 3)), np.array([0.0, 2.0])])
    values, _ = arrays.forward_pass(np, plan, [np.zeros((2, 3)), np.array([0.0, 2.0]), None])
    assert type(arrays.sends(np, plan, values, 2, np.float64(1.0))[1]) is Undefined
    with pytest.raises(GraphError, match="class labels are whole numbers from 0 to 2, not 3.0"):
        arrays.forward_pass(np, plan, [np.zeros((2, 3)), np.array([0.0, 3.0]), None])


def test_every_array_op_gives_a_backward_step_a_shape_rule_and_docs():
    assert (
        sorted(
            ["matmul", "affine", "sum", "mean", "transpose", "reshape", "softmax", "cross_entropy", "softmax_with_loss"]
        )
        == ARRAY_OPS
    )
    for name in ARRAY_OPS:
        op = OPS[name]
        assert op.backward is not None and op.infer is not None, name
        assert op.symbol and op.value_doc and op.local_doc and op.doc, name


# -- values in files, and their mistakes ---------------------------------------------------------------


def test_values_from_nested_lists_files_seeded_draws_and_zeros(graph_file, tmp_path):
    np.save(tmp_path / "W.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    (tmp_path / "x.csv").write_text("# a comment\n1,2\n3,4.5\n")
    path = graph_file(
        """
        inputs:
          a: [[1, 2], [3, 4]]
          W: {file: W.npy}
          x: {file: x.csv, label: points}
          r: {normal: 0.01, shape: [2, 3], seed: 5}
          z: {zeros: [3]}
        nodes:
          s: a + W + x
        """
    )
    plan = graph_of(path.read_text(), str(path))
    value = {name: plan.values[plan.index[name]] for name in ("a", "W", "x", "r", "z")}
    assert value["a"].tolist() == [[1.0, 2.0], [3.0, 4.0]] and value["a"].dtype == float
    assert value["W"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert value["x"].tolist() == [[1.0, 2.0], [3.0, 4.5]]
    assert np.array_equal(value["r"], 0.01 * np.random.default_rng(5).standard_normal((2, 3)))
    assert value["z"].tolist() == [0.0, 0.0, 0.0]
    assert plan.shapes[plan.index["s"]] == (2, 2)


@pytest.mark.parametrize(
    "text, words, line, col",
    [
        ("inputs: {x: [[1, 2], [3]]}\n", "the array is ragged", 1, 22),
        ("inputs: {x: [[1, 2], 3]}\n", "the array is ragged: this has a number", 1, 22),
        ("inputs: {x: [1, .nan]}\n", ".nan is not a finite number", 1, 17),
        ("inputs: {x: [1, abc]}\n", "an element of input 'x' must be a number, not 'abc'", 1, 17),
        ("inputs: {x: {file: nowhere.npy}}\n", "input 'x': cannot read 'nowhere.npy': no such file", 1, 20),
        ("inputs: {x: {file: x.txt}}\n", "cgraph reads arrays from .npy and .csv files", 1, 20),
        ("inputs: {x: {normal: 1}}\n", "input 'x' needs a shape", 1, 22),
        ("inputs: {x: {normal: -1, shape: [2]}}\n", "a standard deviation is 0 or more", 1, 22),
        # Found by the fuzz suite: a draw past a float's range, once written out as inf.
        ("inputs: {x: {normal: 1.7e308, shape: [20]}}\n", "draws numbers past a float's range", 1, 22),
        ("inputs: {x: {normal: 1, shape: [2, 0]}}\n", "a size is a whole number, 1 or more, not 0", 1, 36),
        ("inputs: {x: {normal: 1, shape: [2], seed: 1.5}}\n", "a seed is a whole number", 1, 43),
        ("inputs: {x: {zeros: [2], seed: 1}}\n", "'seed' goes with normal:", 1, 26),
        ("inputs: {x: {value: [1], file: a.npy}}\n", "needs one value", 1, 13),
        (
            "inputs: {x: [[1, 2, 3], [4, 5, 6]], W: [[1, 2], [3, 4]]}\nnodes: {y: x @ W}\n",
            "node 'y': matmul: (2, 3) @ (2, 2): inner dimensions 3 and 2 differ",
            2,
            9,
        ),
        (
            "inputs: {x: [1, 2, 3], y: [1, 2]}\nnodes: {s: x + y}\n",
            "node 's': add: (3,) and (2,) do not broadcast",
            2,
            9,
        ),
        ("inputs: {x: [1, 2]}\nnodes: {s: {op: sum, inputs: [x], axes: 0}}\n", "sum has no attribute 'axes'", 2, 35),
        (
            "inputs: {x: [1, 2]}\nnodes: {s: {op: sum, inputs: [x], axiss: 0}}\n",
            "unknown key 'axiss' in node 's'; did you mean 'axis'?",
            2,
            35,
        ),
        ("inputs: {x: [1, 2]}\nnodes: {s: {op: relu, inputs: [x], axis: 0}}\n", "relu takes no attributes", 2, 36),
        ("inputs: {x: [1, 2]}\nnodes: {s: {op: sum, inputs: [x], keepdims: 1}}\n", "must be true or false", 2, 45),
        ("inputs: {x: [1, 2]}\nnodes: {s: {op: sum, inputs: [x], axis: 1}}\n", "axis 1 is out of range", 2, 9),
        ("inputs: {x: [1, 2]}\nnodes: {s: {op: reshape, inputs: [x], shape: [3]}}\n", "cannot be reshaped", 2, 9),
        ("inputs: {x: 1, y: 2}\nnodes: {s: x @ y}\n", "matmul takes arrays of 1 or 2 dimensions", 2, 9),
        ("inputs: {x: [1.0, 2.0]}\nnodes: {s: log(x - 1)}\n", "element [0]", 2, 9),
        ("inputs: {x: {zeros: [" + ", ".join(["1"] * 70) + "]}}\n", "70 dimensions; an array has at most 32", 1, 21),
        ("inputs: {x: " + "[" * 40 + "1" + "]" * 40 + "}\n", "nest deeper than the 32 dimensions", 1, 45),
        (
            "inputs: {x: [1, 2]}\nnodes: {y: {op: reshape, inputs: [x], shape: [" + "1, " * 40 + "2]}}\n",
            "at most 32",
            2,
            9,
        ),
        ("inputs: {x: [1, 2]}\nnodes: {y: {op: sum, inputs: [x], axis: true}}\n", "not true, a boolean", 2, 41),
        ('inputs: {x: [1, 2]}\nnodes: {s: "sum(x, axis=0)"}\n', "an attribute (axis) goes in the node form", 2, 24),
        # each shape rule's message, word for word
        (
            "inputs: {x: [1, 2, 3], y: [1, 2]}\nnodes: {s: x + y}\n",
            "add: (3,) and (2,) do not broadcast: their dimension 0 (counted from 0) is 3 and 2",
            2,
            9,
        ),
        (
            "inputs: {x: [[1, 2, 3]], y: [[1, 2], [3, 4]]}\nnodes: {s: x * y}\n",
            "(1, 3) and (2, 2) do not broadcast: their dimension 1 (counted from 0) is 3 and 2",
            2,
            9,
        ),
        (
            "inputs: {X: [[1, 2]], W: [[1], [2]], b: [1, 2, 3]}\nnodes: {y: {op: affine, inputs: [X, W, b]}}\n",
            "node 'y': affine: b (3,) does not fit X @ W (1, 1): it must broadcast to it",
            2,
            9,
        ),
        (
            "inputs: {x: [[1, 2, 3]]}\nnodes: {y: {op: transpose, inputs: [x], axes: [0, 0]}}\n",
            "axes [0, 0] must list each axis of (1, 3) once (0 to 1)",
            2,
            9,
        ),
        (
            "inputs: {x: [[1, 2, 3]]}\nnodes: {y: {op: transpose, inputs: [x], axes: [0, 2]}}\n",
            "axes [0, 2] must list each axis of (1, 3) once (0 to 1)",
            2,
            9,
        ),
        (  # -3 is not an axis of 2 dimensions, though -3 % 2 is
            "inputs: {x: [[1, 2, 3]]}\nnodes: {y: {op: transpose, inputs: [x], axes: [0, -3]}}\n",
            "axes [0, -3] must list each axis of (1, 3) once (0 to 1)",
            2,
            9,
        ),
        (
            "inputs: {x: [1, 2, 3, 4]}\nnodes: {y: {op: reshape, inputs: [x], shape: [-1, -1]}}\n",
            "shape [-1, -1]: sizes are 0 or more, and at most one is -1",
            2,
            9,
        ),
        (
            "inputs: {x: [1, 2, 3, 4]}\nnodes: {y: {op: reshape, inputs: [x], shape: [0, -1]}}\n",
            "(4,) (4 elements) cannot be reshaped to [0, -1]",
            2,
            9,
        ),
        (
            "inputs: {x: [[1, 2], [3, 4]]}\nnodes: {y: {op: sum, inputs: [x], axis: [0, -2]}}\n",
            "axis [0, -2] names an axis twice",
            2,
            9,
        ),
        (
            "inputs: {x: [1, 2]}\nnodes: {y: {op: sum, inputs: [x], axis: -2}}\n",
            "axis -2 is out of range for an operand of 1 dimension\n",  # not "dimensions"
            2,
            9,
        ),
        ("inputs: {x: 5.0}\nnodes: {y: {op: sum, inputs: [x], axis: 0}}\n", "operand of 0 dimensions\n", 2, 9),
        (  # 2 is not an axis of 2 dimensions, though 2 % 2 is
            "inputs: {x: [[1, 2, 3]]}\nnodes: {y: {op: transpose, inputs: [x], axes: [2, 1]}}\n",
            "axes [2, 1] must list each axis of (1, 3) once (0 to 1)",
            2,
            9,
        ),
        (
            "inputs: {x: [1, 2, 3, 4]}\nnodes: {y: {op: reshape, inputs: [x], shape: [-2, -2]}}\n",
            "shape [-2, -2]: sizes are 0 or more, and at most one is -1",
            2,
            9,
        ),
        ("inputs: {x: [[1, 2]], y: 3}\nnodes: {s: x @ y}\n", "matmul takes arrays of 1 or 2 dimensions", 2, 9),
        ("inputs: {x: 3, y: [[1, 2]]}\nnodes: {s: x @ y}\n", "matmul takes arrays of 1 or 2 dimensions", 2, 9),
        (
            "inputs: {x: [[1, 2, 3]], y: [[1, 2, 3, 4], [5, 6, 7, 8]]}\nnodes: {s: x @ y}\n",
            "(1, 3) @ (2, 4): inner dimensions 3 and 2 differ",
            2,
            9,
        ),
        (
            "inputs: {x: [[0.5, 0.5, 1], [1, 2, 3]], t: [0, 1, 2]}\nnodes: {y: {op: cross_entropy, inputs: [x, t]}}\n",
            "labels (3,) do not fit probabilities (2, 3): one-hot labels are (2, 3), class indices (2,)",
            2,
            9,
        ),
        (
            "inputs: {x: [1, 2], t: [1]}\nnodes: {y: {op: softmax_with_loss, inputs: [x, t]}}\n",
            "labels (1,) do not fit scores (2,): one-hot labels are (2,), class indices ()",
            2,
            9,
        ),
        (
            "inputs: {x: 1.5, t: 1}\nnodes: {y: {op: softmax_with_loss, inputs: [x, t]}}\n",
            "scores (): a sample (1 dimension) or a batch of them (2), not 0",
            2,
            9,
        ),
        (
            "inputs: {x: [[0.5, 0.5]]}\nconstants: {t: [1.6]}\nnodes: {y: {op: cross_entropy, inputs: [x, t]}}\n",
            "class labels are whole numbers from 0 to 1, not 1.6",
            3,
            9,
        ),
        (
            "inputs: {x: [[0.5, 0.5], [0.5, 0.5]]}\nconstants: {t: [0, -1]}\n"
            "nodes: {y: {op: cross_entropy, inputs: [x, t]}}\n",
            "class labels are whole numbers from 0 to 1, not -1.0",
            3,
            9,
        ),
        (
            "inputs: {x: [[0.5, 0.5], [0.5, 0.5]]}\nconstants: {t: [1, 2]}\n"
            "nodes: {y: {op: softmax_with_loss, inputs: [x, t]}}\n",
            "class labels are whole numbers from 0 to 1, not 2.0",
            3,
            9,
        ),
    ],
)
def test_array_mistakes_are_located_errors(invoke, graph_file, text, words, line, col):
    path = graph_file(text)
    assert_error(invoke("run", path), 1, f"{path}:{line}:{col}: ", words)


def test_a_pickled_npy_file_is_refused_not_run(invoke, graph_file, tmp_path):
    np.save(tmp_path / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_error(invoke("run", graph_file("inputs: {x: {file: p.npy}}\n")), 1, "cannot read 'p.npy'")


def test_a_csv_with_text_or_a_gap_is_a_located_error(invoke, graph_file, tmp_path):
    (tmp_path / "d.csv").write_text("1,2\n3,oops\n")
    assert_error(invoke("run", graph_file("inputs: {x: {file: d.csv}}\n")), 1, "cannot read 'd.csv'", ":1:20:")
    (tmp_path / "h.csv").write_text("x1,x2\n1,2\n")
    assert_error(invoke("run", graph_file("inputs: {x: {file: h.csv}}\n")), 1, "a header line must start with #")
    (tmp_path / "n.csv").write_text("1,2\n3,nan\n")
    assert_error(invoke("run", graph_file("inputs: {x: {file: n.csv}}\n")), 1, "holds nan at [1, 1]")


# -- commands on arrays ----------------------------------------------------------------------------------


def test_tables_show_arrays_compactly_and_whole_with_full(invoke):
    table = invoke("run", GRAPHS / "two_layer_net.yaml").stdout
    assert "(100, 2) [-1.3721, -1.3664, -0.9286, …]" in table
    assert "(2, 10) min " in table  # a large gradient: its smallest and largest
    full = invoke("run", GRAPHS / "two_layer_net.yaml", "--full").stdout
    assert "[0.5907, 1.473]" in full  # the last data row, printed whole
    assert len(full.splitlines()) > 100


def test_csv_gives_one_row_per_element(invoke):
    rows = invoke("run", GRAPHS / "affine.yaml", "--csv").stdout.splitlines()
    assert "B[2],input,,3.0,9.0" in rows and '"Y[1, 2]",affine,X W B,13.0,6.0' in rows
    assert rows[-1] == "L,sum,Y*dY,196.0,1.0"


def test_what_does_not_support_arrays_says_so(invoke):
    path = GRAPHS / "affine.yaml"
    for args in (
        ("derive", path, "--wrt", "X"),
        ("tornado", path),
        ("grad", path, "--order", "2"),
        ("grad", path, "--elasticity"),
        ("run", path, "--sweep", "X=1:2:1"),
    ):
        assert_error(invoke(*args), 2, "works on graphs of numbers, and this one holds arrays")
    assert_error(invoke("run", path, "--set", "X=1"), 2, "--set: 'X' is an array of shape (2, 2)")


def test_check_compares_every_element_or_a_seeded_sample(invoke):
    result = invoke("check", GRAPHS / "two_layer_net.yaml", "--json", "--sample", "7")
    assert result.exit_code == 0, result.stdout
    data = json.loads(result.stdout)
    names = [c["name"] for c in data["checks"]]
    assert len(names) == 7 + 7 + 7 + 2  # W1 (20), b1 (10), W2 (20): 7 each; b2 has 2
    assert all(c["status"] == "pass" for c in data["checks"])
    again = json.loads(invoke("check", GRAPHS / "two_layer_net.yaml", "--json", "--sample", "7").stdout)
    assert [c["name"] for c in again["checks"]] == names  # the same sample every run


def test_check_fails_a_wrong_backward_step(invoke, monkeypatch):
    from cgraph_cli.core import layers

    right = layers.affine.backward

    def wrong(np, dout, out, x, w, b):
        dx, dw, db = right(np, dout, out, x, w, b)
        return dx, dw, db * 1.01

    monkeypatch.setattr(layers.affine, "backward", wrong)
    result = invoke("check", GRAPHS / "affine.yaml", "--json")
    assert result.exit_code == 1
    status = {c["name"]: c["status"] for c in json.loads(result.stdout)["checks"]}
    assert status["B[0]"] == "FAIL" and status["X[0, 0]"] == "pass"


# -- descend ---------------------------------------------------------------------------------------------


def test_descend_on_rosenbrock_gives_dezeros_iterates(invoke):
    result = invoke(
        "descend", GRAPHS / "rosenbrock.yaml", "--vary", "x0,x1", "--lr", "0.001", "--steps", "10000", "--json"
    )
    trace = json.loads(result.stdout)["trace"]
    # By hand: at (0, 2) the gradient is (-2, 400), so one step of 0.001 goes to (0.002, 1.6).
    assert (trace[1]["x0"], trace[1]["x1"]) == (0.002, 1.6)
    # DeZero (step 28) prints variable(0.99449622) variable(0.98900063) at its last iteration.
    assert round(trace[9999]["x0"], 8) == 0.99449622 and round(trace[9999]["x1"], 8) == 0.98900063


def test_descend_trains_the_two_layer_net_and_writes_it(invoke, tmp_path):
    out = tmp_path / "trained.yaml"
    args = ("descend", GRAPHS / "two_layer_net.yaml", "--vary", "W1,b1,W2,b2", "--lr", "0.5", "--steps", "300")
    result = invoke(*args, "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    losses = [row["loss"] for row in data["trace"]]
    assert len(losses) == 301 and losses[0] > 0.5 and losses[-1] < 0.02
    assert all(b <= a * 1.5 for a, b in zip(losses, losses[1:]))  # no blow-up on the way
    # The written graph holds the trained weights: run gives the final loss, exactly.
    assert run_json(invoke, out)["value"] == losses[-1]
    assert "{file:" not in out.read_text()  # the data is written in: the file stands alone


def test_descend_refuses_what_it_cannot_move(invoke):
    net = GRAPHS / "two_layer_net.yaml"
    assert_error(invoke("descend", net, "--vary", "X"), 2, "--vary: 'X' is a constant")
    assert_error(invoke("descend", net, "--vary", "A1"), 2, "--vary: 'A1' is a node")
    assert_error(invoke("descend", net, "--vary", "W11"), 2, "did you mean 'W1'")
    assert_error(invoke("descend", GRAPHS / "affine.yaml", "--vary", "B", "--of", "Y"), 2, "make the loss one")
    too_many = invoke("descend", GRAPHS / "rosenbrock.yaml", "--vary", "x0", "--steps", "2000000")
    assert_error(too_many, 2, "--steps 2,000,000: at most 1,000,000 (each keeps its loss)")


def test_descend_names_the_step_where_it_diverges(invoke):
    result = invoke("descend", GRAPHS / "rosenbrock.yaml", "--vary", "x0,x1", "--lr", "0.1", "--steps", "50")
    assert_error(result, 1, "step 5: node '(x1-x0**2)**2'", "a smaller --lr")


def test_a_graph_of_numbers_never_imports_numpy():
    import subprocess
    import sys

    code = (
        "import sys\nfrom cgraph_cli.cli import cli\n"
        "try:\n    cli.main(['run', sys.argv[1], '--json'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print('numpy' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(GRAPHS / "two_layer_net.yaml")], capture_output=True)
    assert done.stderr.decode().strip().endswith("True")  # (the check can see numpy)
    done = subprocess.run([sys.executable, "-c", code, str(GRAPHS / "neuron.yaml")], capture_output=True)
    assert done.stderr.decode().strip().endswith("False")
    descent = code.replace("['run', sys.argv[1], '--json']", "['descend', sys.argv[1], '--vary', 'x0,x1', '--json']")
    assert descent != code
    done = subprocess.run([sys.executable, "-c", descent, str(GRAPHS / "rosenbrock.yaml")], capture_output=True)
    assert done.stderr.decode().strip().endswith("False")  # descent on numbers: the scalar engine alone


def test_an_array_too_large_for_its_few_bytes_of_file_is_refused(invoke, graph_file):
    column_by_row = (
        "inputs:\n  a: {normal: 1, shape: [20000, 1]}\n  b: {normal: 1, shape: [1, 20000]}\nnodes:\n  c: a @ b\n"
    )
    assert_error(invoke("run", graph_file(column_by_row)), 1, ":5:3: node 'c': matmul", "400,000,000 elements")
    assert_error(invoke("run", graph_file("inputs: {a: {zeros: [100000, 100000]}}\n")), 1, "10,000,000,000 elements")


def test_validate_shows_every_shape(invoke):
    text = invoke("validate", GRAPHS / "affine.yaml").stdout
    assert "    Y (2, 3)\n" in text and "    L ()\n" in text
    data = json.loads(invoke("validate", GRAPHS / "affine.yaml", "--json").stdout)
    assert data["shapes"]["B"] == [3] and data["shapes"]["L"] == []


REUSED = """
inputs:
  W: [[1.0, -2.0], [0.5, 3.0]]
constants:
  X: [[1.0, 2.0], [3.0, -1.0], [0.2, 0.4]]
nodes:
  H: tanh(X @ W)
  L: sum(H @ W + H * W[0])
"""


def test_explain_paths_carry_shares_that_add_up_to_backprop(invoke, graph_file):
    # W reaches L by three paths (directly through H @ W, and through H twice); each share is carried by the
    # backward steps along its path alone, and the shares add up to backprop's gradient.
    path = graph_file(REUSED.replace(" * W[0]", ""))
    data = json.loads(invoke("explain", path, "--wrt", "W", "--json").stdout)
    assert data["path_count"] == 3 and len(data["paths"]) == 3
    assert np.allclose(data["paths_sum"], data["gradient"], rtol=1e-13, atol=0)
    total = sum(np.array(p["product"]) for p in data["paths"])
    assert np.allclose(total, data["gradient"], rtol=1e-13, atol=0)
    element = json.loads(invoke("explain", path, "--wrt", "W[1, 0]", "--json").stdout)
    assert element["gradient"] == data["gradient"][1][0]
    assert math.isclose(sum(p["product"] for p in element["paths"]), element["gradient"], rel_tol=1e-13)
    text = invoke("explain", path, "--wrt", "W[1, 0]").stdout
    assert "3 paths from L back to W[1, 0]" in text and "backward step passes the gradient on" in text
    assert_error(invoke("explain", path, "--wrt", "W[2, 0]"), 2, "an element of it is W[0..1, 0..1]")
    assert_error(invoke("explain", path, "--wrt", "W[a]"), 2, "an element is NAME[i, j]")


def test_explain_steps_show_what_each_backward_step_sends(invoke):
    text = invoke("explain", GRAPHS / "affine.yaml", "--steps").stdout
    assert "Y (affine)  dout = (2, 3) [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]" in text
    assert "B += (3,) [5.0, 7.0, 9.0]" in text


def test_draw_labels_edges_with_shapes_and_small_values(invoke):
    dot = invoke("draw", GRAPHS / "two_layer_net.yaml", "--format", "dot").stdout
    # Named and shaped, as the book's figures 5-25 and 5-29 label them.
    assert 'label=<W1 (2, 10)<br/><font color="#d62728">(2, 10)</font>>' in dot  # W1 -> affine
    assert "label=<X (100, 2)>" in dot  # the data, a constant: no gradient
    assert "b2 (2,) [0.0, 0.0]" in dot  # b2 is small enough to show its values
    mermaid = invoke("draw", GRAPHS / "affine.yaml", "--format", "mermaid").stdout
    assert "B (3,) [1.0, 2.0, 3.0]<br/>grad (3,) [5.0, 7.0, 9.0]" in mermaid


# Class-index labels declared as an input, not a constant: their gradient is undefined.
LABELS_AS_INPUT = (
    "inputs:\n  x: [[1.0, 2.0], [0.5, 0.1]]\n  t: [0, 1]\nnodes:\n  L: {op: softmax_with_loss, inputs: [x, t]}\n"
)


def test_an_undefined_gradient_of_an_array_warns_and_fails_only_when_asked_for(invoke, graph_file):
    path = graph_file(LABELS_AS_INPUT)
    result = invoke("run", path)
    assert result.exit_code == 0 and "undefined" in result.stdout
    assert "warning" in result.stderr and "class indices have no gradient" in result.stderr
    assert_error(invoke("grad", path, "--wrt", "t"), 1, "d(L)/d(t) is undefined")
    assert invoke("grad", path, "--wrt", "x").exit_code == 0


@st.composite
def array_graphs(draw):
    """A random graph of arrays: smooth ops chosen where the shapes fit, a node's value used by
    several others, broadcasting on the way; the last node is the output."""
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(seeds)
    nodes = [("A", (n, k)), ("B", (k, m)), ("c", (m,))]
    lines = [
        "inputs:",
        f"  A: {{normal: 0.7, shape: [{n}, {k}], seed: {seed}}}",
        f"  B: {{normal: 0.7, shape: [{k}, {m}], seed: {seed + 1}}}",
        f"  c: {{normal: 0.7, shape: [{m}], seed: {seed + 2}}}",
        "nodes:",
    ]
    for step in range(draw(st.integers(1, 6))):
        name = f"v{step}"
        x, sx = draw(st.sampled_from(nodes))
        pairs = [(y, sy) for y, sy in nodes if len(sy) == 2 and len(sx) == 2 and sx[1] == sy[0]]
        partners = [(y, sy) for y, sy in nodes if sy == sx or (sx and sy == sx[-1:])]
        choice = draw(st.sampled_from(["unary", "binary", "matmul", "transpose", "sum", "softmax"]))
        if choice == "matmul" and pairs:
            y, sy = draw(st.sampled_from(pairs))
            lines.append(f"  {name}: {x} @ {y}")
            shape = (sx[0], sy[1])
        elif choice == "binary" and partners:
            y, _ = draw(st.sampled_from(partners))
            op = draw(st.sampled_from(["+", "-", "*"]))
            lines.append(f"  {name}: {x} {op} {y}")
            shape = sx
        elif choice == "transpose" and len(sx) == 2:
            lines.append(f"  {name}: transpose({x})")
            shape = sx[::-1]
        elif choice == "sum" and sx:
            axis = draw(st.integers(0, len(sx) - 1))
            keep = draw(st.booleans())
            lines.append(f"  {name}: {{op: sum, inputs: [{x}], axis: {axis}, keepdims: {str(keep).lower()}}}")
            shape = tuple(1 if (a == axis and keep) else s for a, s in enumerate(sx) if keep or a != axis)
        elif choice == "softmax" and sx:
            lines.append(f"  {name}: softmax({x})")
            shape = sx
        else:
            lines.append(f"  {name}: {draw(st.sampled_from(['tanh', 'sigmoid', 'sin']))}({x})")
            shape = sx
        nodes.append((name, shape))
    lines.append(f"  out: sum({nodes[-1][0]} * {nodes[-1][0]})")
    return "\n".join(lines) + "\noutput: out\n"


@settings(max_examples=examples(60), deadline=None)
@given(array_graphs())
def test_random_array_graphs_pass_check_element_by_element(text):
    from cgraph_cli.commands.check import check_gradients

    _, checks = check_gradients(graph_of(text), sample=12)
    assert checks and all(c.status == "pass" for c in checks), [(c.name, c.status, c.note) for c in checks]


def test_the_python_api_refuses_what_needs_numbers_and_runs_arrays():
    import cgraph_cli as cg

    graph = cg.load(str(GRAPHS / "affine.yaml"))
    assert graph.run().value == 196.0
    for call in (lambda: graph.derive("X"), lambda: graph.tornado(), lambda: graph.sweep({"X": [1, 2]})):
        with pytest.raises(cg.Error, match="works on graphs of numbers"):
            call()


def test_descend_csv_has_a_row_per_step_and_the_varied_numbers(invoke):
    args = ("descend", GRAPHS / "rosenbrock.yaml", "--vary", "x0", "--vary", "x1", "--lr", "0.001", "--steps", "2")
    rows = invoke(*args, "--csv").stdout.splitlines()
    assert rows == ["step,loss,x0,x1", "0,401.0,0.0,2.0", "1,256.9947240016001,0.002,1.6", rows[3]]
    table = invoke(*args[:-1], "1000").stdout.splitlines()
    assert len(table) == 3 + 21  # headline, header, rule; about 20 evenly spaced steps and the last
    assert len(invoke(*args[:-1], "1000", "--all").stdout.splitlines()) == 3 + 1001


def test_descend_plots_the_loss_curve(invoke, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "loss.svg"
    result = invoke("descend", GRAPHS / "two_layer_net.yaml", "--vary", "W1,b1,W2,b2", "--steps", "20", "--plot", out)
    assert result.exit_code == 0, result.stderr
    assert out.read_text().startswith("<?xml") and "step" in out.read_text()


def test_the_python_api_descends_and_gives_the_trained_graph():
    import cgraph_cli as cg

    graph = cg.load(str(GRAPHS / "two_layer_net.yaml"))
    done = graph.descend(["W1", "b1", "W2", "b2"], lr=0.5, steps=50)
    assert len(done["losses"]) == 51 and done["losses"][-1] < done["losses"][0] / 5
    assert done["graph"].run().value == done["losses"][-1]
    assert done["final"]["b2"].shape == (2,)
    rosen = cg.load(str(GRAPHS / "rosenbrock.yaml")).descend(["x0", "x1"], lr=0.001, steps=1)
    assert rosen["trace"] == {"x0": [0.0, 0.002], "x1": [2.0, 1.6]}


def test_grad_and_check_take_one_element_too(invoke):
    net = GRAPHS / "two_layer_net.yaml"
    whole = json.loads(invoke("grad", net, "--wrt", "W1", "--json").stdout)["gradients"]["W1"]
    one = json.loads(invoke("grad", net, "--wrt", "W1[1, 3]", "--json").stdout)["gradients"]
    assert one == {"W1[1, 3]": whole[1][3]}
    checks = json.loads(invoke("check", net, "--wrt", "W1[1,3]", "--json").stdout)["checks"]
    assert [(c["name"], c["backprop"], c["status"]) for c in checks] == [("W1[1, 3]", whole[1][3], "pass")]
    assert_error(invoke("grad", net, "--wrt", "W1[2, 0]"), 2, "an element of it is W1[0..1, 0..9]")
    assert_error(invoke("grad", GRAPHS / "apples.yaml", "--wrt", "apple[0]"), 2, "no node 'apple[0]'")


def test_descend_writes_long_runs_in_chunks_that_join_into_one_document(invoke):
    args = ("descend", GRAPHS / "rosenbrock.yaml", "--vary", "x0,x1", "--lr", "0.001", "--steps", "9000")
    data = json.loads(invoke(*args, "--json").stdout)
    assert [row["step"] for row in data["trace"]] == list(range(9001))
    rows = invoke(*args, "--csv").stdout.splitlines()
    assert len(rows) == 9002 and rows[4097].startswith("4096,") and rows[-1].startswith("9000,")


def test_descend_writes_the_trained_graph_on_stdout_alone(invoke):
    args = ("descend", GRAPHS / "rosenbrock.yaml", "--vary", "x0,x1", "--lr", "0.001", "--steps", "1", "-o", "-")
    text = invoke(*args).stdout
    assert "  x0: 0.002\n  x1: 1.6\n" in text and "y from 401.0" not in text  # the graph, no table
    assert_error(invoke(*args, "--json"), 2, "-o - writes the trained graph on stdout")


def test_descend_stops_where_a_varied_gradient_is_undefined(invoke, graph_file):
    result = invoke("descend", graph_file(LABELS_AS_INPUT), "--vary", "x,t", "--steps", "2")
    assert_error(result, 1, ":5:3: step 0: d(L)/d(t) is undefined", "class indices have no gradient")
    assert invoke("descend", graph_file(LABELS_AS_INPUT), "--vary", "x", "--steps", "2").exit_code == 0


def test_small_arrays_of_three_dimensions_print_on_one_line(invoke, graph_file):
    path = graph_file("inputs: {x: [1, 2, 3, 4]}\nnodes: {y: {op: reshape, inputs: [x], shape: [2, -1, 1]}}\n")
    assert "y = (2, 2, 1) [[[1.0], [2.0]], [[3.0], [4.0]]];" in invoke("run", path).stdout


def test_draw_and_explain_steps_show_an_undefined_gradient_of_an_array(invoke, graph_file):
    # x - 1 gets an undefined gradient (sqrt's slope at 0), and draw once handed it to numpy as if
    # it were an array when asking what x - 1 sends on to x.
    path = graph_file("inputs: {x: [1.0, 2.0]}\nnodes: {s: sqrt(x - 1)}\n")
    dot = invoke("draw", path, "--format", "dot")
    assert dot.exit_code == 0, dot.stderr
    assert '<font color="#d62728">undefined</font>' in dot.stdout
    steps = invoke("explain", path, "--steps")
    assert steps.exit_code == 0 and "x += undefined" in steps.stdout
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "cgraph_cli", "draw", str(path), "--format", "dot"], capture_output=True
    )
    assert b"RuntimeWarning" not in done.stderr  # numpy's divide by zero, once printed beside our warnings


def test_descend_that_overflows_an_array_says_so_in_words_alone(graph_file):
    import subprocess
    import sys

    path = graph_file("inputs: {x: [-1.7e308, 1.0]}\nnodes: {L: {op: sum, inputs: [x]}}\n")
    command = [sys.executable, "-m", "cgraph_cli", "descend", str(path), "--vary", "x", "--lr", "1.7e308"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("cgraph: error: ") and "step 1: node 'L'" in done.stderr
    assert "RuntimeWarning" not in done.stderr  # numpy's overflow in the update, once printed first


@pytest.mark.parametrize(
    "text",
    [
        # Values and gradients whose products sum past a float's range (the check's noise estimate).
        "inputs: {x: [1.5e308, 1.6e308]}\nnodes: {m: x * 1, s: sin(m), L: {op: sum, inputs: [s]}}\noutput: L\n",
        # An array output whose sum, the function differentiated, is past a float's range.
        "inputs: {x: [1.5e308, 1.6e308]}\nnodes: {m: x * 1}\n",
    ],
)
def test_check_past_a_floats_range_says_nothing_compared_without_numpys_warnings(graph_file, text):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "cgraph_cli", "check", str(graph_file(text))], capture_output=True, text=True
    )
    assert done.returncode == 1 and "nothing could be compared" in done.stdout
    assert "RuntimeWarning" not in done.stderr


def test_validate_shows_a_reshape_with_minus_one_in_whole_sizes(invoke, graph_file):
    path = graph_file("inputs: {x: [[1, 2, 3], [4, 5, 6]]}\nnodes: {y: {op: reshape, inputs: [x], shape: [3, -1]}}\n")
    out = invoke("validate", path).stdout
    assert "(3, 2)" in out and "3.0" not in out and "2.0" not in out


def test_ops_lists_the_attributes_of_the_array_ops_with_their_defaults(invoke):
    ops = {op["op"]: op for op in json.loads(invoke("ops", "--json").stdout)}
    assert ops["softmax"]["attributes"] == {"axis": -1}
    assert ops["sum"]["attributes"] == ops["mean"]["attributes"] == {"axis": None, "keepdims": False}
    assert ops["transpose"]["attributes"] == {"axes": None} and ops["reshape"]["attributes"] == {"shape": []}


def test_an_array_op_without_its_attributes_takes_their_defaults(invoke, graph_file):
    # softmax along the last axis, a sum of every element, a transpose reversing the axes
    path = graph_file(
        "inputs: {x: [[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]}\n"
        "nodes:\n  p: {op: softmax, inputs: [x]}\n  t: {op: transpose, inputs: [x]}\n  s: {op: sum, inputs: [p]}\n"
        "output: s\n"
    )
    data = run_json(invoke, path)
    assert data["value"] == pytest.approx(2.0, rel=1e-15, abs=0)  # each of the 2 rows sums to 1
    assert node(data, "p")["value"][1] == pytest.approx([1 / 3] * 3, rel=1e-15, abs=0)
    assert node(data, "t")["value"] == [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]


def test_softmax_never_overflows_however_large_its_scores():
    """The book's softmax takes the largest score off before exp (README: so that exp never overflows)."""
    from cgraph_cli.core.layers import softmax

    top = 1000.0 + math.log(3)  # rounded: its distance from 1000 is what the scores say, not log(3)
    third = math.exp(top - 1000.0)
    y = softmax.array(np, np.array([1000.0, top]), axis=-1)
    assert y == pytest.approx([1 / (1 + third), third / (1 + third)], rel=1e-15, abs=0)


@pytest.mark.parametrize("axis", [-2, -1, [-3, -1], [0, 2], None])
def test_negative_axes_count_from_the_end(invoke, graph_file, axis):
    # against numpy's own sum and its gradient (ones), on a 3-D array of distinct values
    x = np.arange(24.0).reshape(2, 3, 4) ** 1.5
    path = graph_file(
        f"inputs: {{x: {x.tolist()}}}\n"
        f"nodes: {{s: {{op: sum, inputs: [x], axis: {json.dumps(axis)}}}, t: sum(s * s)}}\n"
    )
    data = run_json(invoke, path)
    s = x.sum(axis=None if axis is None else tuple(axis) if isinstance(axis, list) else axis)
    assert np.array(node(data, "s")["value"]) == pytest.approx(s, rel=1e-15, abs=0)
    grad = 2 * np.broadcast_to(np.expand_dims(s, tuple(range(3)) if axis is None else axis), x.shape)
    assert np.array(node(data, "x")["grad"]) == pytest.approx(grad, rel=1e-15, abs=0)


def test_sum_and_mean_keep_each_summed_axis_as_1_and_spread_their_gradient(invoke, graph_file):
    # (1, 3) broadcasts with (3, 3); mean's gradient is 1/n of each mean's n elements, n = 2 here
    x, y = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]]), np.arange(9.0).reshape(3, 3)
    path = graph_file(
        f"inputs: {{x: {x.tolist()}, y: {y.tolist()}}}\n"
        "nodes:\n  s: {op: sum, inputs: [x], axis: 0, keepdims: true}\n"
        "  m: {op: mean, inputs: [x], axis: 0}\n  t: sum(s * y) + sum(m * m)\n"
    )
    data = run_json(invoke, path)
    assert node(data, "s")["value"] == [[5.0, 7.0, 10.0]] and node(data, "m")["value"] == [2.5, 3.5, 5.0]
    # d/dx of sum(s * y) is y's column sums, of sum(m * m) is 2m / 2, each spread over its column
    expected = y.sum(axis=0) + x.mean(axis=0)
    assert node(data, "x")["grad"] == np.broadcast_to(expected, x.shape).tolist()


def test_softmax_with_loss_is_exact_at_scores_past_exps_range(invoke, graph_file):
    top = 1000.0 + math.log(3)
    third = math.exp(top - 1000.0)  # the rounded scores' own ratio
    path = graph_file(
        f'inputs: {{x: [1000.0, {top!r}]}}\nconstants: {{t: [0.0, 1.0]}}\nnodes: {{L: "softmax_with_loss(x, t)"}}\n'
    )
    data = run_json(invoke, path)
    assert data["value"] == pytest.approx(math.log1p(1 / third), rel=1e-13, abs=0)  # -log(third / (1 + third))
    assert node(data, "x")["grad"] == pytest.approx([1 / (1 + third), -1 / (1 + third)], rel=1e-14, abs=0)


def test_a_label_past_the_classes_is_one_message_and_nothing_else(invoke, graph_file):
    path = graph_file('inputs: {x: [[0.5, 1.0], [1, 2]]}\nconstants: {t: [0, 5]}\nnodes: {y: "cross_entropy(x, t)"}\n')
    done = invoke("run", path)
    assert done.exit_code == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "class labels are whole numbers from 0 to 1, not 5.0" in done.stderr


def test_a_power_of_arrays_at_base_0_gives_its_exponent_gradient_0(invoke, graph_file):
    # d(x ** n)/dn = x ** n ln x: 0 at x = 0 by convention (xlogy(0, 0) = 0, as PyTorch), 8 ln 2 at (2, 3)
    data = run_json(invoke, graph_file("inputs: {x: [0.0, 2.0], n: [2.0, 3.0]}\nnodes: {y: sum(x ** n)}\n"))
    assert node(data, "n")["grad"] == [0.0, 8 * math.log(2.0)] and node(data, "x")["grad"] == [0.0, 12.0]


@pytest.mark.parametrize(
    "body",
    [
        "log(x) * z + sqrt(z)",  # samples without a value come and go with x
        "where(x > 0, log(x), 0 - x) * z + sqrt(z)",  # a guard: what is needed changes with x
        "(log(z) > 0) + x * 2",  # z's failures stay whatever x does, and reach y as no nan
    ],
)
def test_a_pass_that_changes_one_leaf_computes_again_only_what_it_reaches(body, monkeypatch):
    """The pass Sobol's AB_i designs take (scenarios from a base): every value and first_bad as a
    whole pass over the same scenarios gives, and no node recomputed that the leaf does not reach."""
    from cgraph_cli.read.loader import load_text

    plan = load_text(f"inputs:\n  x: 1\n  z: 1\nnodes:\n  c: exp(z)\n  y: {body} + c\noutput: y\n")
    rng = np.random.default_rng(2)
    x, x2, z = rng.normal(0, 1, (3, 400))
    z[::7] = -1.0
    px, pz, out = plan.index["x"], plan.index["z"], plan.output_position()
    given = plan.given({})
    base = arrays.scenarios(np, plan, given, {px: x, pz: z}, 400, out, gradients=False)
    whole = arrays.scenarios(np, plan, given, {px: x2, pz: z}, 400, out, gradients=False)
    computed = []
    forward = arrays.run_forward
    monkeypatch.setattr(
        arrays, "run_forward", lambda np_, p, v, only=None: computed.append(only) or forward(np_, p, v, only)
    )
    again = arrays.scenarios(np, plan, given, {px: x2}, 400, out, gradients=False, base=base[:2])
    assert plan.index["c"] not in computed[0] and plan.index["y"] in computed[0]
    assert np.array_equal(again[1], whole[1]) and (whole[1] >= 0).any()
    for i in range(plan.size):
        assert np.array_equal(again[0][i], whole[0][i], equal_nan=True), plan.names[i]
