"""An autodiff oracle that shares no code with cgraph: HIPS autograd's reverse mode over numpy.

Every cgraph op is written again here, from its documented definition (the README's table of
ops and its conventions at kinks), in autograd's numpy. autograd then differentiates those
definitions with its own gradient rules (`autograd/numpy/numpy_vjps.py`): nothing of cgraph's
`local` code, its engines or its schedule takes part. A graph is run node by node in cgraph's
evaluation order, so each value is computed from the same operands by the same IEEE operations
where cgraph's are exact (+ − × ÷ √, comparisons, max, min, where), and by numpy's exp, log,
tanh ... where cgraph uses the C library's (a last-bit difference, bounded by the tests).

Every node's gradient comes out of one backward pass: each position's value has a zero added
(-0.0, the one number whose addition changes no float, not even -0.0), and the gradient of the
output with respect to that zero is the gradient with respect to the position.

The conventions at the kinks are the documented ones, and each is written here the way autograd
then keeps it: relu'(0) = 0 and step' = 0 (a `where` on x > 0), abs'(0) = 0 (autograd's rule),
max and min share the gradient evenly among tied operands (autograd's rule for `np.max` over a
stack), `where` sends nothing to its condition and nothing to the branch it does not take,
comparisons have derivative 0, and pow's exponent gradient is 0 at base 0 (autograd's rule).
autograd is chosen over JAX (a 600 MB install) and PyTorch (2 GB) because it installs in a
second on top of the numpy cgraph already uses, so CI runs it every time.
"""

from __future__ import annotations

import autograd.numpy as anp
import autograd.scipy.special as asp
import autograd.scipy.stats.norm as norm
import numpy as np
from autograd import grad
from autograd.extend import defvjp, primitive
from autograd.tracer import getval

# The book's cross_entropy_error adds this to y before the log (README, Arrays).
DELTA = 1e-7


def _unbroadcast(g, x):
    """g summed back over the axes broadcasting added to x's shape."""
    shape = np.shape(x)
    g = np.sum(g, axis=tuple(range(np.ndim(g) - len(shape)))) if np.ndim(g) > len(shape) else g
    kept = tuple(k for k, n in enumerate(shape) if n == 1 and np.shape(g)[k] != 1)
    return np.sum(g, axis=kept, keepdims=True) if kept else g


@primitive
def sigmoid(x):
    """1 / (1 + e^-x), computed as the README says (no overflow): e^-|x| never overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# The textbook derivative, y(1 - y) (cgraph computes it as σ(x)·σ(-x)).
defvjp(sigmoid, lambda ans, x: lambda g: g * ans * (1 - ans))


@primitive
def div(x, y):
    """x / y."""
    return np.divide(x, y)


# -x/y² as -(x/y)/y, as PyTorch writes it: autograd's own -x / y**2 loses y² below 1e-154.
defvjp(
    div,
    lambda ans, x, y: lambda g: _unbroadcast(g / y, x),
    lambda ans, x, y: lambda g: _unbroadcast(-g * ans / y, y),
)


@primitive
def expm1(x):
    """e^x - 1, its derivative e^x (autograd's own takes it as expm1(x) + 1, which is 0 where
    e^x is below half an ulp of 1: a gradient of 3e-18 would read as 0)."""
    return np.expm1(x)


defvjp(expm1, lambda ans, x: lambda g: g * np.exp(x))


@primitive
def ndtri(p):
    """Φ⁻¹ by SciPy (Cephes' algorithm; cgraph's is Wichura's, in Python's statistics); no value
    outside 0 < p < 1. Its derivative, 1/φ(Φ⁻¹(p)), below."""
    import scipy.special

    return scipy.special.ndtri(np.where((p > 0) & (p < 1), p, np.nan))


defvjp(ndtri, lambda ans, p: lambda g: g * np.sqrt(2 * np.pi) * np.exp(ans * ans / 2))


def clip(x, lo, hi):
    """x held within [lo, hi], the gradient to whichever is the result; no value where lo > hi."""
    inside = anp.where(getval(x) > getval(hi), hi, x)
    held = anp.where(getval(x) < getval(lo), lo, inside)
    return anp.where(getval(lo) <= getval(hi), held, np.nan)


@primitive
def xlogy(x, y):
    """x·ln y, and 0 where x = 0 (as SciPy's xlogy); no number where y < 0, even there."""
    with np.errstate(all="ignore"):
        return np.where(y < 0, np.nan, np.where(x == 0, 0.0, x * np.log(y)))


defvjp(
    xlogy,
    lambda ans, x, y: lambda g: _unbroadcast(g * np.log(y), x),
    lambda ans, x, y: lambda g: _unbroadcast(g * x / y, y),
)


@primitive
def mulpow(a, x, b):
    """a·x^b, and 0 where a = 0 (even where x^b is not a number)."""
    with np.errstate(all="ignore"):
        return np.where(a == 0, 0.0, a * np.power(x, b))


# d/da = x^b; d/dx = a·b·x^(b-1), 0 where a·b = 0 (d(x**0)/dx = 0); d/db = a·x^b·ln x, 0 where
# a = 0 or x = 0 (pow's exponent gradient at base 0).
defvjp(
    mulpow,
    lambda ans, a, x, b: lambda g: _unbroadcast(g * np.power(x, b), a),
    lambda ans, a, x, b: lambda g: _unbroadcast(g * np.where(a * b == 0, 0.0, a * b * np.power(x, b - 1)), x),
    lambda ans, a, x, b: lambda g: _unbroadcast(g * np.where((a == 0) | (x == 0), 0.0, ans * _ln(x)), b),
)


def _ln(x):
    """ln x, no number for x < 0."""
    with np.errstate(all="ignore"):
        return np.log(np.where(x < 0, np.nan, x))


def _sum(xs):
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


def _product(xs):
    """Left to right; where that underflows to 0 or overflows though the whole product need not
    (0.5 * 5e-324 * 2.0), the factors again in an order that keeps each partial product in range:
    the largest and the smallest in turn. (cgraph takes such a product with the exponents apart:
    this reaches the same value its own way.)"""
    total = xs[0]
    for x in xs[1:]:
        total = total * x
    raw = [getval(x) for x in xs]  # (autograd's boxes' values; torch's tensors as numpy)
    raw = [r.detach().numpy() if hasattr(r, "detach") else r for r in raw]
    if any(np.ndim(r) for r in raw) or not all(np.isfinite(raw)) or 0 in raw:
        return total
    value = float(total.detach()) if hasattr(total, "detach") else getval(total)
    if value != 0 and np.isfinite(value):
        return total
    order = sorted(range(len(xs)), key=lambda k: abs(raw[k]))
    turns = []
    while order:
        turns.append(order.pop())  # the largest left
        if order:
            turns.append(order.pop(0))  # the smallest left
    total = xs[turns[0]]
    for k in turns[1:]:
        total = total * xs[k]
    return total


def _axes(axis, ndim):
    if axis is None:
        return None
    return tuple(a % ndim for a in ([axis] if isinstance(axis, int) else axis))


def _batch(y):
    return y.shape[0] if anp.ndim(y) == 2 else 1


def _one_hot(t, y):
    t = getval(t)
    if np.shape(t) == np.shape(y):
        return t
    return np.eye(np.shape(y)[-1])[np.asarray(t).astype(int)]


def _log_softmax(x):
    shifted = x - anp.max(x, axis=-1, keepdims=True)
    return shifted - anp.log(anp.sum(anp.exp(shifted), axis=-1, keepdims=True))


def _softmax(x, axis=-1):
    e = anp.exp(x - anp.max(x, axis=axis, keepdims=True))
    return e / anp.sum(e, axis=axis, keepdims=True)


def _broadcast(xs):
    """The operands broadcast to one shape, each plus -0.0 (which changes no float)."""
    zeros = np.full(np.broadcast_shapes(*(np.shape(x) for x in xs)), -0.0)
    return [x + zeros for x in xs]


# Each op from its documented definition: (operands, attributes) -> value.
OPS = {
    "add": lambda xs, a: _sum(xs),
    "mul": lambda xs, a: _product(xs),
    "sub": lambda xs, a: xs[0] - xs[1],
    "div": lambda xs, a: div(xs[0], xs[1]),
    "neg": lambda xs, a: -xs[0],
    "pow": lambda xs, a: anp.power(xs[0], xs[1]),
    "exp": lambda xs, a: anp.exp(xs[0]),
    "log": lambda xs, a: anp.log(xs[0]),
    "sigmoid": lambda xs, a: sigmoid(xs[0]),
    "relu": lambda xs, a: anp.where(xs[0] > 0, xs[0], 0.0),
    "tanh": lambda xs, a: anp.tanh(xs[0]),
    # 1 / cosh x as 2e^-|x| / (1 + e^-2|x|): no cosh to overflow, so no 0 × ∞ in its gradient
    "sech": lambda xs, a: 2 * anp.exp(-anp.abs(xs[0])) / (1 + anp.exp(-2 * anp.abs(xs[0]))),
    "step": lambda xs, a: anp.where(xs[0] > 0, 1.0, 0.0),
    "xlogy": lambda xs, a: xlogy(xs[0], xs[1]),
    "mulpow": lambda xs, a: mulpow(*xs),
    "sqrt": lambda xs, a: anp.sqrt(xs[0]),
    "sin": lambda xs, a: anp.sin(xs[0]),
    "cos": lambda xs, a: anp.cos(xs[0]),
    "abs": lambda xs, a: anp.abs(xs[0]),
    "max": lambda xs, a: anp.max(anp.stack(_broadcast(xs)), axis=0),
    "min": lambda xs, a: anp.min(anp.stack(_broadcast(xs)), axis=0),
    # (operands broadcast first: autograd's rule for where does not sum a broadcast gradient back)
    "where": lambda xs, a: anp.where(*_broadcast([getval(xs[0]) != 0, xs[1], xs[2]])),
    "lt": lambda xs, a: anp.where(getval(xs[0]) < getval(xs[1]), 1.0, 0.0),
    "le": lambda xs, a: anp.where(getval(xs[0]) <= getval(xs[1]), 1.0, 0.0),
    "gt": lambda xs, a: anp.where(getval(xs[0]) > getval(xs[1]), 1.0, 0.0),
    "ge": lambda xs, a: anp.where(getval(xs[0]) >= getval(xs[1]), 1.0, 0.0),
    "eq": lambda xs, a: anp.where(getval(xs[0]) == getval(xs[1]), 1.0, 0.0),
    # the ops of pricing and statistics, from autograd's scipy (its own gradients)
    "erf": lambda xs, a: asp.erf(xs[0]),
    "erfc": lambda xs, a: asp.erfc(xs[0]),
    "normal_pdf": lambda xs, a: norm.pdf(xs[0]),
    "normal_cdf": lambda xs, a: norm.cdf(xs[0]),
    "log_normal_cdf": lambda xs, a: norm.logcdf(xs[0]),
    "normal_ppf": lambda xs, a: ndtri(xs[0]),
    "log1p": lambda xs, a: anp.log1p(xs[0]),
    "expm1": lambda xs, a: expm1(xs[0]),
    "softplus": lambda xs, a: anp.logaddexp(0.0, xs[0]),
    "floor": lambda xs, a: anp.floor(xs[0]),
    "ceil": lambda xs, a: anp.ceil(xs[0]),
    "round": lambda xs, a: anp.round(xs[0]),
    "clip": lambda xs, a: clip(*_broadcast(xs)),
    # the ops of arrays alone
    "matmul": lambda xs, a: anp.matmul(xs[0], xs[1]),
    "affine": lambda xs, a: anp.matmul(xs[0], xs[1]) + xs[2],
    "sum": lambda xs, a: anp.sum(xs[0], axis=_axes(a.get("axis"), anp.ndim(xs[0])), keepdims=a.get("keepdims", False)),
    "mean": lambda xs, a: anp.mean(
        xs[0], axis=_axes(a.get("axis"), anp.ndim(xs[0])), keepdims=a.get("keepdims", False)
    ),
    # (axes counted from 0: autograd's transpose rule inverts them with argsort, as cgraph once did)
    "transpose": lambda xs, a: anp.transpose(xs[0], _axes(a.get("axes"), anp.ndim(xs[0]))),
    "reshape": lambda xs, a: anp.reshape(xs[0], a.get("shape", ())),
    "softmax": lambda xs, a: _softmax(xs[0], a.get("axis", -1)),
    "cross_entropy": lambda xs, a: (
        -anp.sum(_one_hot(xs[1], xs[0]) * anp.log(xs[0] + DELTA)) / _batch(xs[0])
        if np.shape(xs[1]) != np.shape(xs[0])
        else -anp.sum(xs[1] * anp.log(xs[0] + DELTA)) / _batch(xs[0])
    ),
    "softmax_with_loss": lambda xs, a: (
        -anp.sum(_one_hot(xs[1], xs[0]) * _log_softmax(xs[0])) / _batch(xs[0])
        if np.shape(xs[1]) != np.shape(xs[0])
        else -anp.sum(xs[1] * _log_softmax(xs[0])) / _batch(xs[0])
    ),
}


def run(plan, given: list, of: int):
    """Every position's value and d(sum of node `of`)/d(position), by autograd.

    `given` holds the values a run starts from, by position (cgraph's `Plan.given`: inputs and
    constants, None for a node). Returns (values, grads): float64 arrays (0-d for a number) by
    evaluation position, the literal constants after the nodes in `values`."""
    n = plan.size
    literals = [np.float64(c) for c in plan.literals]
    seen: list = [None] * n

    def graph(zeros):
        values: list = [None] * n + literals
        for i in range(n):
            op = plan.ops[i]
            if op is None:
                v = np.asarray(given[i], dtype=float)
            else:
                xs = [values[j] for j in plan.args[i]]
                with np.errstate(all="ignore"):
                    v = OPS[op.name](xs, plan.attrs.get(i, {}))
            values[i] = v + zeros[i]
            seen[i] = np.asarray(getval(values[i]), dtype=float)
        return anp.sum(values[of])

    shapes = [np.shape(np.asarray(given[i], dtype=float)) if plan.ops[i] is None else None for i in range(n)]
    # A node's shape is known only once it is computed: run once without gradients to learn them.
    graph([np.float64(-0.0)] * n)
    zeros = [np.full(np.shape(seen[i]) if shapes[i] is None else shapes[i], -0.0) for i in range(n)]
    with np.errstate(all="ignore"):
        grads = grad(graph)(zeros)
    return seen + literals, [np.asarray(g, dtype=float) for g in grads]


def torch_run(plan, given: list, of: int):
    """The same as `run`, by PyTorch's float64 autograd (the deeper, optional oracle: `pip install
    torch`); each node's gradient through `retain_grad`."""
    import torch

    def stack(xs):
        shape = torch.broadcast_shapes(*(x.shape for x in xs))
        return torch.stack([x.expand(shape) for x in xs])

    ops = {
        "add": lambda xs: _sum(xs),
        "mul": lambda xs: _product(xs),
        "sub": lambda xs: xs[0] - xs[1],
        "div": lambda xs: xs[0] / xs[1],
        "neg": lambda xs: -xs[0],
        "pow": lambda xs: torch.pow(xs[0], xs[1]),
        "exp": lambda xs: torch.exp(xs[0]),
        "log": lambda xs: torch.log(xs[0]),
        "sigmoid": lambda xs: torch.sigmoid(xs[0]),
        "relu": lambda xs: torch.relu(xs[0]),
        "tanh": lambda xs: torch.tanh(xs[0]),
        "sech": lambda xs: 2 * torch.exp(-xs[0].abs()) / (1 + torch.exp(-2 * xs[0].abs())),
        "step": lambda xs: torch.where(xs[0].detach() > 0, 1.0, 0.0).double(),
        "xlogy": lambda xs: torch.where(xs[1] < 0, torch.nan, torch.xlogy(xs[0], xs[1])),
        "mulpow": lambda xs: torch.where(
            (xs[0].detach() == 0) & ~torch.isfinite(torch.pow(xs[1], xs[2]).detach()),
            0.0,
            xs[0] * torch.pow(xs[1], xs[2]),
        ).double(),
        "sqrt": lambda xs: torch.sqrt(xs[0]),
        "sin": lambda xs: torch.sin(xs[0]),
        "cos": lambda xs: torch.cos(xs[0]),
        "abs": lambda xs: torch.abs(xs[0]),
        "max": lambda xs: torch.amax(stack(xs), dim=0),  # amax shares the gradient evenly at a tie
        "min": lambda xs: torch.amin(stack(xs), dim=0),
        "where": lambda xs: torch.where(xs[0].detach() != 0, xs[1], xs[2]),
        "lt": lambda xs: torch.where(xs[0].detach() < xs[1].detach(), 1.0, 0.0).double(),
        "le": lambda xs: torch.where(xs[0].detach() <= xs[1].detach(), 1.0, 0.0).double(),
        "gt": lambda xs: torch.where(xs[0].detach() > xs[1].detach(), 1.0, 0.0).double(),
        "ge": lambda xs: torch.where(xs[0].detach() >= xs[1].detach(), 1.0, 0.0).double(),
        "eq": lambda xs: torch.where(xs[0].detach() == xs[1].detach(), 1.0, 0.0).double(),
        "erf": lambda xs: torch.erf(xs[0]),
        "erfc": lambda xs: torch.erfc(xs[0]),
        "normal_pdf": lambda xs: torch.exp(-0.5 * xs[0] * xs[0]) / (2 * torch.pi) ** 0.5,
        # (torch.special.ndtr is 1 + erf, 0 in the far left tail: erfc keeps Φ(-30) = 4.9e-198)
        "normal_cdf": lambda xs: 0.5 * torch.erfc(-xs[0] / 2**0.5),
        "log_normal_cdf": lambda xs: torch.special.log_ndtr(xs[0]),
        "normal_ppf": lambda xs: torch.special.ndtri(xs[0]),
        "log1p": lambda xs: torch.log1p(xs[0]),
        # (value expm1's; gradient e^x, not torch's expm1(x) + 1, which is 0 far below 0)
        "expm1": lambda xs: torch.expm1(xs[0].detach()) + (torch.exp(xs[0]) - torch.exp(xs[0]).detach()),
        "softplus": lambda xs: torch.logaddexp(torch.zeros_like(xs[0]), xs[0]),
        "floor": lambda xs: torch.floor(xs[0]),
        "ceil": lambda xs: torch.ceil(xs[0]),
        "round": lambda xs: torch.round(xs[0]),
        "clip": lambda xs: torch.where(
            xs[1].detach() <= xs[2].detach(),
            torch.where(
                xs[0].detach() < xs[1].detach(), xs[1], torch.where(xs[0].detach() > xs[2].detach(), xs[2], xs[0])
            ),
            torch.nan,
        ),
    }
    n = plan.size
    literals = [torch.tensor(float(c), dtype=torch.float64) for c in plan.literals]
    values: list = [None] * n + literals
    for i in range(n):
        op = plan.ops[i]
        if op is None:
            t = torch.tensor(np.asarray(given[i], dtype=float), dtype=torch.float64, requires_grad=True)
        else:
            t = ops[op.name]([values[j] for j in plan.args[i]])
            if not t.requires_grad:  # no operand needs a gradient; still collect what arrives here
                t = t.double().detach().requires_grad_()
            elif not t.is_leaf:
                t.retain_grad()
        values[i] = t
    if values[of].requires_grad:
        values[of].sum().backward()
    grads = [np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy().astype(float) for t in values[:n]]
    return [t.detach().numpy().astype(float) for t in values], grads
