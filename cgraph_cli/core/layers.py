"""The ops of arrays alone: the book's layers (Affine, Softmax-with-Loss) and what they are made of.

Each op is written as the book writes a layer: its forward step on numpy arrays,
then its backward step, which takes `dout` (the gradient arriving from above,
the shape of the op's result) and returns one gradient per operand, each the
shape of its operand. Then its shape rule: what the result's shape is, checked
before anything is evaluated, with the reason when the operands do not fit.

The element-by-element ops (add, relu, exp, ...) need no backward step of their
own: on arrays their `local` (ops.py) is multiplied by `dout` and summed back
over any axes broadcasting added (arrays.py). `np` is passed in, so importing
this module imports no numpy: a graph of numbers never loads it.
"""

from __future__ import annotations

from .op import OPS, Op, OpDomainError, Undefined

Shape = tuple[int, ...]

# The book's cross_entropy_error adds this to y before the log, so that log(0) never happens.
DELTA = 1e-7
# numpy's arrays have at most 64 dimensions; a graph's, at most this many.
MAX_DIMS = 32


class ShapeError(ValueError):
    """Operand shapes an op cannot take, and why."""


def array_op(name, **knowledge):
    """Decorator: register the forward step on arrays, `step(np, *operands, **attributes)`, of an op
    that has no step on plain numbers (`knowledge`: Op's keywords, as @op takes them)."""

    def register(step) -> Op:
        def on_numbers(*xs):
            raise OpDomainError(f"{name} works on arrays; its operands here are numbers")

        new = Op(on_numbers, name, **knowledge)
        new.doc = (step.__doc__ or "").strip()
        new.array = step
        new.arrays_only = True
        new.derivatives(_no_local)
        OPS[name] = new
        return new

    return register


def _no_local(out, *xs):
    raise NotImplementedError("an op of arrays alone has a backward step, not local derivatives")


def text(shape: Shape) -> str:
    """A shape as numpy prints it: (2, 3), (3,), ()."""
    return str(tuple(shape))


def broadcast(*shapes):
    """numpy's broadcasting of operand shapes, or ShapeError saying which dimensions clash."""
    ndim = max(map(len, shapes))
    out = []
    for k in range(-ndim, 0):
        sizes = {s[k] for s in shapes if len(s) >= -k} - {1}
        if len(sizes) > 1:
            raise ShapeError(
                f"{' and '.join(map(text, shapes))} do not broadcast: their dimension {ndim + k} "
                f"(counted from 0) is {' and '.join(str(s[k]) for s in shapes if len(s) >= -k)}"
                " (numpy's rule: equal, or 1)"
            )
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def sum_to(np, g, shape):
    """g summed over the axes broadcasting added, back to an operand's `shape` (the book's
    dB = np.sum(dout, axis=0): b was added to every row)."""
    if g.shape == tuple(shape):
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    kept = tuple(k for k, size in enumerate(shape) if size == 1 and g.shape[k] != 1)
    return g.sum(axis=kept, keepdims=True) if kept else g


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """An axis attribute (None: all; a number; a list) as a tuple of axes counted from 0."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {a} is out of range for an operand of {ndim} dimension{'s' * (ndim != 1)}")
    out = tuple(sorted(a % ndim for a in axes))
    if len(set(out)) != len(out):
        raise ShapeError(f"axis {list(axes)} names an axis twice")
    return out


def _batch(x) -> int:
    """The batch size: rows of a 2-D operand, 1 for a single sample (1-D)."""
    return x.shape[0] if x.ndim == 2 else 1


# --- matmul: the product inside the book's Affine layer --------------------------------------


@array_op(
    "matmul",
    operands=2,
    symbol="@",
    value="X @ W",
    local="dX = dout @ Wᵀ, dW = Xᵀ @ dout",
    domain="shapes that fit (k of X's columns, k of W's rows)",
)
def matmul(np, x, w):
    """Matrix product of 1-D or 2-D arrays, as numpy's @ (a formula's X @ W)."""
    return x @ w


@matmul.backward_step
def matmul(np, dout, out, x, w):
    # As 2-D: a vector x is one row, a vector w one column.
    x2, w2 = x.reshape(-1, x.shape[-1]), w.reshape(w.shape[0], -1)
    d2 = np.reshape(dout, (x2.shape[0], w2.shape[1]))
    return (d2 @ w2.T).reshape(x.shape), (x2.T @ d2).reshape(w.shape)


@matmul.shape_rule
def matmul(x, w):
    if not 1 <= len(x) <= 2 or not 1 <= len(w) <= 2:
        raise ShapeError(f"{text(x)} @ {text(w)}: matmul takes arrays of 1 or 2 dimensions")
    if x[-1] != w[0]:
        raise ShapeError(f"{text(x)} @ {text(w)}: inner dimensions {x[-1]} and {w[0]} differ")
    return x[:-1] + w[1:]


# --- affine: the book's Affine layer, X·W + B -------------------------------------------------


@array_op(
    "affine",
    operands=3,
    symbol="affine",
    value="X @ W + b",
    local="dX = dout @ Wᵀ, dW = Xᵀ @ dout, db = dout summed over the batch",
    domain="shapes that fit, b one per column",
)
def affine(np, x, w, b):
    """The book's Affine layer: X @ W + b, b added to every row."""
    return x @ w + b


@affine.backward_step
def affine(np, dout, out, x, w, b):
    dx, dw = matmul.backward(np, dout, out, x, w)
    return dx, dw, sum_to(np, dout, b.shape)  # dB = np.sum(dout, axis=0)


@affine.shape_rule
def affine(x, w, b):
    product = matmul.infer(x, w)
    if len(b) > len(product) or broadcast(product, b) != product:
        raise ShapeError(f"b {text(b)} does not fit X @ W {text(product)}: it must broadcast to it")
    return product


# --- sum, mean --------------------------------------------------------------------------------


@array_op(
    "sum",
    operands=1,
    symbol="Σ",
    value="sum of the elements (along axis)",
    local="1 for each element",
    attributes={"axis": ("axis", None), "keepdims": ("flag", False)},
)
def sum_(np, x, axis, keepdims):
    """Sum of the elements, or along `axis` (a number or a list); `keepdims` keeps summed axes as 1."""
    return np.sum(x, axis=None if axis is None else _axes(axis, x.ndim), keepdims=keepdims)


@sum_.backward_step
def sum_(np, dout, out, x, axis, keepdims):
    axes = _axes(axis, x.ndim)
    d = dout if keepdims else np.expand_dims(dout, axes)
    return (np.broadcast_to(d, x.shape).copy(),)  # every element gets the dout of its sum


@sum_.shape_rule
def sum_(x, axis, keepdims):
    axes = _axes(axis, len(x))
    return tuple(1 if k in axes else size for k, size in enumerate(x) if keepdims or k not in axes)


@array_op(
    "mean",
    operands=1,
    symbol="mean",
    value="mean of the elements (along axis)",
    local="1/n for each element",
    attributes={"axis": ("axis", None), "keepdims": ("flag", False)},
)
def mean(np, x, axis, keepdims):
    """Mean of the elements, or along `axis` (a number or a list); `keepdims` keeps averaged axes as 1."""
    return np.mean(x, axis=None if axis is None else _axes(axis, x.ndim), keepdims=keepdims)


@mean.backward_step
def mean(np, dout, out, x, axis, keepdims):
    (d,) = sum_.backward(np, dout, out, x, axis, keepdims)
    return (d / (x.size // max(out.size, 1)),)  # each element is 1/n of its mean


mean.shape_rule(sum_.infer)


# --- transpose, reshape -----------------------------------------------------------------------


@array_op(
    "transpose",
    operands=1,
    symbol="ᵀ",
    value="Xᵀ (axes reversed, or in the order of axes)",
    local="dout transposed back",
    attributes={"axes": ("axes", None)},
)
def transpose(np, x, axes):
    """The axes reversed (a matrix's transpose), or put in the order `axes` lists."""
    return np.transpose(x, axes)


@transpose.backward_step
def transpose(np, dout, out, x, axes):
    return (np.transpose(dout, None if axes is None else np.argsort([a % x.ndim for a in axes])),)


@transpose.shape_rule
def transpose(x, axes):
    if axes is None:
        return x[::-1]
    if sorted(a % len(x) if -len(x) <= a < len(x) else a for a in axes) != list(range(len(x))):
        raise ShapeError(f"axes {list(axes)} must list each axis of {text(x)} once (0 to {len(x) - 1})")
    return tuple(x[a] for a in axes)


@array_op(
    "reshape",
    operands=1,
    symbol="reshape",
    value="X with the shape `shape`",
    local="dout reshaped back",
    attributes={"shape": ("shape", ())},
    domain="as many elements as before",
)
def reshape(np, x, shape):
    """The same elements in another shape (one dimension may be -1: whatever fits)."""
    return np.reshape(x, shape)


@reshape.backward_step
def reshape(np, dout, out, x, shape):
    return (np.reshape(dout, x.shape),)


@reshape.shape_rule
def reshape(x, shape):
    if len(shape) > MAX_DIMS:
        raise ShapeError(f"shape has {len(shape)} dimensions; at most {MAX_DIMS}")
    size = 1
    for n in x:
        size *= n
    known = 1
    for n in shape:
        known *= n if n != -1 else 1
    if list(shape).count(-1) > 1 or any(n < -1 for n in shape):
        raise ShapeError(f"shape {list(shape)}: sizes are 0 or more, and at most one is -1")
    if -1 in shape:
        if known == 0 or size % known:
            raise ShapeError(f"{text(x)} ({size} elements) cannot be reshaped to {list(shape)}")
        return tuple(size // known if n == -1 else n for n in shape)
    if known != size:
        raise ShapeError(f"{text(x)} ({size} elements) cannot be reshaped to {text(tuple(shape))} ({known} elements)")
    return tuple(shape)


# --- softmax, cross entropy, and the book's Softmax-with-Loss -----------------------------------


@array_op(
    "softmax",
    operands=1,
    symbol="softmax",
    value="exp(x) / sum(exp(x)) along axis",
    local="y * (dout - sum(dout * y))",
    attributes={"axis": ("axis", -1)},
)
def softmax(np, x, axis):
    """exp(x) / Σ exp(x) along `axis` (each row of a batch), with the row's largest value taken
    off first, so that exp never overflows."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@softmax.backward_step
def softmax(np, dout, out, x, axis):
    return (out * (dout - np.sum(dout * out, axis=axis, keepdims=True)),)


@softmax.shape_rule
def softmax(x, axis):
    if not x:
        raise ShapeError("softmax takes an array of 1 dimension or more, not a number")
    _axes(axis, len(x))
    return x


def _one_hot(np, t, y):
    """Labels as one-hot rows of y's shape: t itself when it is one-hot (or soft) labels, else
    class indices turned into rows. The shape rule has checked the shapes; an index that is not
    a class (2.5, -1, 10 of 10 classes) is an OpDomainError here, where the values are known."""
    if t.shape == y.shape:
        return t
    classes = y.shape[-1]
    if not np.all((t == np.round(t)) & (t >= 0) & (t < classes)):
        bad = float(t.flat[int(np.flatnonzero((t != np.round(t)) | (t < 0) | (t >= classes))[0])])
        raise OpDomainError(f"class labels are whole numbers from 0 to {classes - 1}, not {bad!r}")
    return np.eye(classes)[t.astype(int)]


def _labels(y, t, what: str):
    """The shape rule of a loss: one sample or a batch, labels one-hot (y's shape) or class
    indices (one per sample); the loss is a number."""
    if not 1 <= len(y) <= 2:
        raise ShapeError(f"{what} {text(y)}: a sample (1 dimension) or a batch of them (2), not {len(y)}")
    if t != y and t != y[:-1]:
        raise ShapeError(
            f"labels {text(t)} do not fit {what} {text(y)}: one-hot labels are {text(y)}, class indices {text(y[:-1])}"
        )
    return ()


_INDICES = "class indices have no gradient (declare the labels under constants:)"


@array_op(
    "cross_entropy",
    operands=2,
    symbol="CE",
    value="-sum(t * ln(y + 1e-7)) / batch",
    local="dy = -t / (y + 1e-7) / batch",
    domain="y + 1e-7 > 0; t of y's shape",
)
def cross_entropy(np, y, t):
    """The book's cross_entropy_error: -Σ t·ln(y + 1e-7) over a batch, divided by its size; the
    labels t are one-hot (or soft) rows, or class indices."""
    return -np.sum(_one_hot(np, t, y) * np.log(y + DELTA)) / _batch(y)


@cross_entropy.backward_step
def cross_entropy(np, dout, out, y, t):
    n = _batch(y)
    dt = -np.log(y + DELTA) / n * dout if t.shape == y.shape else Undefined(_INDICES)
    return -_one_hot(np, t, y) / (y + DELTA) / n * dout, dt


@cross_entropy.shape_rule
def cross_entropy(y, t):
    return _labels(y, t, "probabilities")


@array_op(
    "softmax_with_loss",
    operands=2,
    symbol="SoftmaxWithLoss",
    value="cross entropy of softmax(x) against labels t, the batch mean",
    local="dx = (softmax(x) - t) / batch",
    domain="t of x's shape",
)
def softmax_with_loss(np, x, t):
    """The book's Softmax-with-Loss layer: the cross entropy of softmax(x) against the labels t
    (one-hot rows, or class indices), averaged over the batch. Written with log-softmax, so the
    loss is exact and its backward step the book's (y - t) / batch_size exactly."""
    return -np.sum(_one_hot(np, t, x) * _log_softmax(np, x)) / _batch(x)


@softmax_with_loss.backward_step
def softmax_with_loss(np, dout, out, x, t):
    n, t1, log_y = _batch(x), _one_hot(np, t, x), _log_softmax(np, x)
    dx = (np.exp(log_y) * np.sum(t1, axis=-1, keepdims=True) - t1) / n  # (y - t) / batch_size, one-hot t
    dt = -log_y / n * dout if t.shape == x.shape else Undefined(_INDICES)
    return dx * dout, dt


@softmax_with_loss.shape_rule
def softmax_with_loss(x, t):
    return _labels(x, t, "scores")


def _log_softmax(np, x):
    """ln softmax(x) along the last axis, as x - max - ln Σ exp(x - max): no exp overflows, and
    no log of a probability that rounded to 0."""
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


# Every attribute a node may have, as the ops of arrays declare them (only they take any).
ATTRIBUTE_NAMES = tuple(dict.fromkeys(name for op in OPS.values() for name in op.attributes))
