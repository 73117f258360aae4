"""The ops: each one's forward step and local derivatives, written once, side by side.

An op is local computation, as in the book's MulLayer and AddLayer: `forward`
sees only the operands; `local` sees the operands and the value `forward`
produced, and returns d(out)/d(operand) for each operand. The engine
multiplies those by the upstream gradient (``dx = dout * local``).

`local` is ordinary arithmetic (``+ - * /`` and unary minus) and calls of ops
(``sigmoid(-x)``). On numbers it computes the derivative; on the symbols
`cgraph derive` passes in, the same code writes the derivative out as graph
nodes. So a derived graph does backprop's arithmetic by construction. Rules
that keep the two in step: use ops, not `math`, for anything but ``+ - * /``;
never divide by a value `local` computed (x / inf would hide an overflow).
"""

from __future__ import annotations

import math
import operator
import sys

from .op import OPS as OPS  # the table, every op in it (the ops of arrays too: see the last line)
from .op import OpDomainError, exact, op

# --- the ops, each forward step followed by its local derivatives -------------------------


@op(
    "add",
    operands=(2, None),
    symbol="+",
    value="x1 + x2 + ...",
    local="1 for each",
    fast={2: operator.add},
    floats_stay=True,
)
def add(*xs):
    """Sum of the operands, left to right."""
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


@add.derivatives
def add(out, *xs):
    return (1,) * len(xs)


@add.on_arrays
def add(np, *xs):
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


@add.simplified
def add(*xs):
    # x + 0 is x exactly in floating point
    kept = [x for x in xs if not _is(x, 0)]
    if len(kept) == len(xs):
        return None
    return kept if len(kept) > 1 else kept[0] if kept else 0


@op(
    "mul",
    operands=(2, None),
    symbol="×",
    value="x1 * x2 * ...",
    local="the product of the others",
    fast={2: operator.mul},
    floats_stay=True,
    linear_in_first=True,
)
def mul(*xs):
    """Product of the operands, left to right."""
    return product(xs)


# Past this many operands the product of the others, one operand at a time, is quadratic
# work; products of the operands before and after each one keep it linear.
MUL_EXACT_LIMIT = 64


@mul.derivatives
def mul(out, *xs):
    n = len(xs)
    if n == 2:
        x, y = xs
        return y, x  # the book's MulLayer: dx = dout * y, dy = dout * x
    if n <= MUL_EXACT_LIMIT:
        return tuple(mul(*xs[:i], *xs[i + 1 :]) for i in range(n))  # the others, left to right
    before, after = [1] * n, [1] * n
    for i in range(1, n):
        before[i] = mul(before[i - 1], xs[i - 1])
    for i in range(n - 2, -1, -1):
        after[i] = mul(xs[i + 1], after[i + 1])
    return tuple(mul(b, a) for b, a in zip(before, after))


@mul.on_arrays
def mul(np, *xs):
    total = xs[0]
    for x in xs[1:]:
        total = total * x
    if len(xs) == 2:
        return total
    # Where `product` would take the product again with exponents apart (a partial product out
    # of the normal range, or a result of 0 or inf from operands that are not), do the same there.
    columns = np.broadcast_arrays(*[np.atleast_1d(np.asarray(x, dtype=float)) for x in xs])
    partial, redo = columns[0], np.zeros(columns[0].shape, dtype=bool)
    for x in columns[1:-1]:
        partial = partial * x
        redo |= (partial != 0) & (np.abs(partial) < _NORMAL_MIN)
    redo |= ~np.isfinite(total) | ((total == 0) & np.all([c != 0 for c in columns], axis=0))
    if not redo.any():
        return total
    total = np.array(np.broadcast_to(total, partial.shape), dtype=float)
    for k in np.flatnonzero(redo).tolist():  # rare, and one at a time as the scalar step does it
        try:
            total.flat[k] = _scaled_product([c.flat[k] for c in columns])
        except (OverflowError, ValueError):
            total.flat[k] = np.inf
    return total.reshape(np.broadcast_shapes(*[np.shape(x) for x in xs]))  # () for 0-d operands, not (1,)


@mul.simplified
def mul(*xs):
    # x * 0 is 0 (operands are finite), x * 1 is x, x * -1 is -x, all exactly
    if any(_is(x, 0) for x in xs):
        return 0
    kept = [x for x in xs if not _is(x, 1)]
    if len(kept) == 2 and (_is(kept[0], -1) or _is(kept[1], -1)):
        return neg(kept[1] if _is(kept[0], -1) else kept[0])
    if len(kept) == len(xs):
        return None
    return kept if len(kept) > 1 else kept[0] if kept else 1


@op(
    "sub",
    operands=2,
    symbol="−",
    value="x - y",
    local="1, -1",
    fast={2: operator.sub},
    floats_stay=True,
)
def sub(x, y):
    """Difference."""
    return x - y


@sub.derivatives
def sub(out, x, y):
    return 1, -1


@sub.on_arrays
def sub(np, x, y):
    return x - y


@sub.simplified
def sub(x, y):
    return x if _is(y, 0) else None


@op(
    "div",
    operands=2,
    symbol="÷",
    value="x / y",
    local="1/y, -x/y^2",
    fast={2: operator.truediv},
    floats_stay=True,
    linear_in_first=True,
    domain="y ≠ 0",
)
def div(x, y):
    """Quotient."""
    if y == 0:
        raise OpDomainError("division by zero")
    return x / y


@div.derivatives
def div(out, x, y):
    # -(x/y)/y, not -x/y**2: y**2 leaves the float range long before the quotient does
    # (as PyTorch computes it); out is x/y.
    return 1 / y, -out / y


@div.on_arrays
def div(np, x, y):
    return x / y


@div.simplified
def div(x, y):
    return x if _is(y, 1) else None


@op(
    "neg",
    operands=1,
    symbol="−",
    value="-x",
    local="-1",
    fast={1: operator.neg},
    floats_stay=True,
    linear_in_first=True,
)
def neg(x):
    """Negation."""
    return -x


@neg.derivatives
def neg(out, x):
    return (-1,)


@neg.on_arrays
def neg(np, x):
    return -x


def _power_piece(x, y):
    """The smooth piece of x ** y: smooth everywhere for a whole exponent of 1 or more (x**2);
    else x's side of 0 (None at 0, where 0**0, 0**0.5 and 0**-1 have no derivative to compare)."""
    if float(y).is_integer() and y >= 1:
        return 0
    return None if x == 0 else x > 0


@op(
    "pow",
    operands=2,
    symbol="^",
    value="x ** y",
    local="y * x**(y-1), x**y * ln x",
    kink=_power_piece,
    floats_stay=True,
    domain="not 0 to a negative power, nor a negative base to a fractional one",
    kinks="d(x**0)/dx = 0; d/dy = 0 at x = 0, undefined for x < 0",
)
def pow_(x, y):
    """Power; the exponent's gradient needs x > 0 (0 at x = 0)."""
    return power(x, y)


@pow_.derivatives
def pow_(out, x, y):
    # At the kinks, PyTorch's conventions: d(x**0)/dx = 0 everywhere (mulpow is 0 where its
    # first operand is), and the exponent's gradient is 0 at x = 0 (xlogy(0, 0) = 0).
    return mulpow(y, x, y - 1), out * xlogy(step(x), x)


@pow_.on_arrays
def pow_(np, x, y):
    return np.power(x, y)


@pow_.simplified
def pow_(x, y):
    return x if _is(y, 1) else None


@op(
    "exp",
    operands=1,
    symbol="exp",
    value="e^x",
    local="e^x",
    fast={1: math.exp},
    floats_stay=True,
    domain="all (e^x past the float range overflows)",
)
def exp(x):
    """Exponential."""
    return math.exp(x)


@exp.derivatives
def exp(out, x):
    return (out,)


@exp.on_arrays
def exp(np, x):
    return np.exp(x)


@op(
    "log",
    operands=1,
    symbol="log",
    value="ln x",
    local="1/x",
    fast={1: math.log},
    floats_stay=True,
    domain="x > 0",
)
def log(x):
    """Natural logarithm, x > 0."""
    if x <= 0:
        raise OpDomainError("log of a non-positive number")
    return math.log(x)


@log.derivatives
def log(out, x):
    return (1 / x,)


@log.on_arrays
def log(np, x):
    return np.log(x)  # nan below 0, -inf at 0: no value either way


@op(
    "sigmoid",
    operands=1,
    symbol="σ",
    value="1 / (1 + e^-x)",
    local="y * (1 - y)",
    floats_stay=True,
)
def sigmoid(x):
    """Logistic sigmoid, computed without overflow."""
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    e = math.exp(x)  # so that exp never overflows: sigmoid(-1000) is 0, not an error
    return e / (1 + e)


@sigmoid.derivatives
def sigmoid(out, x):
    # y * (1 - y) written as σ(x)·σ(-x): 1 - y cancels where y is near 1 (at x = 40 it is 0,
    # the derivative 4.2e-18).
    return (out * sigmoid(-x),)


@sigmoid.on_arrays
def sigmoid(np, x):
    e = np.exp(-np.abs(x))  # e^-|x| never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sign(x):
    """The smooth piece of relu, step and abs: x's side of 0 (None at 0)."""
    return None if x == 0 else x > 0


@op(
    "relu",
    operands=1,
    symbol="relu",
    value="max(0, x)",
    local="1 if x > 0 else 0",
    kink=_sign,
    selects=True,
    floats_stay=True,
    kinks="relu'(0) = 0",
)
def relu(x):
    """Rectified linear unit; its derivative at 0 is 0."""
    return x if x > 0 else x - x  # x - x: a zero of x's own type


@relu.derivatives
def relu(out, x):
    return (step(x),)  # relu'(0) = 0, as PyTorch has it


@relu.on_arrays
def relu(np, x):
    return np.where(x > 0, x, 0.0)


@op(
    "tanh",
    operands=1,
    symbol="tanh",
    value="tanh x",
    local="1 - y^2",
    fast={1: math.tanh},
    floats_stay=True,
)
def tanh(x):
    """Hyperbolic tangent."""
    return math.tanh(x)


@tanh.derivatives
def tanh(out, x):
    s = sech(x)  # 1 - y**2 = sech(x)**2, without the cancellation of 1 - y*y near |y| = 1
    return (s * s,)


@tanh.on_arrays
def tanh(np, x):
    return np.tanh(x)


@op(
    "sech",
    operands=1,
    symbol="sech",
    value="1 / cosh x",
    local="-y * tanh x",
    floats_stay=True,
)
def sech(x):
    """Hyperbolic secant, tanh's derivative's square root (0 where cosh leaves the float range)."""
    try:
        return 1 / math.cosh(x)
    except OverflowError:
        return 0.0


@sech.derivatives
def sech(out, x):
    return (-out * tanh(x),)


@sech.on_arrays
def sech(np, x):
    return 1 / np.cosh(x)


@op(
    "step",
    operands=1,
    symbol="step",
    value="1 if x > 0 else 0",
    local="0",
    kink=_sign,
    selects=True,
    kinks="0 everywhere, at 0 too",
)
def step(x):
    """Heaviside step, relu's derivative (so derived graphs can say it); its derivative is 0."""
    return 1 if x > 0 else 0


@step.derivatives
def step(out, x):
    return (0,)


@step.on_arrays
def step(np, x):
    return np.where(x > 0, 1.0, 0.0)


@op(
    "xlogy",
    operands=2,
    symbol="xlogy",
    value="x * ln y, 0 where x = 0",
    local="ln y, x/y",
    domain="y > 0, or y = 0 where x = 0",
    kinks="0 where x = 0",
)
def xlogy(x, y):
    """x·ln y, and 0 where x = 0 (as PyTorch and SciPy); y < 0 has no real log, even there."""
    if y < 0:
        raise OpDomainError("ln of a negative number")
    if x == 0:
        return x  # (0 itself, of its own type)
    if y == 0:
        raise OpDomainError("ln 0 is not finite")
    return x * math.log(y)


@xlogy.derivatives
def xlogy(out, x, y):
    return log(y), div(x, y)


@xlogy.on_arrays
def xlogy(np, x, y):
    x_log_y = np.where(x == 0, 0.0, x * np.log(np.where(y > 0, y, np.nan)))
    return np.where(y < 0, np.nan, x_log_y)


@op(
    "mulpow",
    operands=3,
    symbol="mulpow",
    value="a * x ** b, 0 where a = 0",
    local="x**b, a*b * x**(b-1), a * x**b * ln x",
    kink=lambda a, x, b: _power_piece(x, b),
    domain="pow's, except where a = 0 (0)",
    kinks="as pow's; d/dx = 0 where b = 0",
)
def mulpow(a, x, b):
    """a·x^b, and 0 where a = 0: pow's base gradient y·x^(y-1), with d(x**0)/dx = 0 at x = 0 too."""
    if a == 0:
        return a  # (0 itself, of its own type)
    return a * power(x, b)


@mulpow.derivatives
def mulpow(out, a, x, b):
    # a·b·x^(b-1) as (a·x^(b-1))·b: still 0 where a is, and a·b cannot underflow first.
    return pow_(x, b), mulpow(a, x, b - 1) * b, out * xlogy(step(x), x)


@mulpow.on_arrays
def mulpow(np, a, x, b):
    return np.where(a == 0, 0.0, a * np.power(x, b))


@mulpow.simplified
def mulpow(a, x, b):
    if _is(a, 0) or _is(b, 0):
        return a  # a * x**0 is a; 0 where a is 0
    if _is(b, 1):
        return mul(a, x)
    if _is(a, 1):
        return pow_(x, b)
    return None


@op(
    "sqrt",
    operands=1,
    symbol="√",
    value="√x",
    local="1 / (2√x)",
    fast={1: math.sqrt},
    floats_stay=True,
    domain="x ≥ 0",
    kinks="undefined at 0 (an infinite slope)",
)
def sqrt(x):
    """Square root, x >= 0 (its derivative at 0 is not finite)."""
    if x < 0:
        raise OpDomainError("square root of a negative number")
    return math.sqrt(x)


@sqrt.derivatives
def sqrt(out, x):
    return (0.5 / out,)


@sqrt.on_arrays
def sqrt(np, x):
    return np.sqrt(x)


@op(
    "sin",
    operands=1,
    symbol="sin",
    value="sin x",
    local="cos x",
    fast={1: math.sin},
    period=math.tau,
    floats_stay=True,
)
def sin(x):
    """Sine (radians)."""
    return math.sin(x)


@sin.derivatives
def sin(out, x):
    return (cos(x),)


@sin.on_arrays
def sin(np, x):
    return np.sin(x)


@op(
    "cos",
    operands=1,
    symbol="cos",
    value="cos x",
    local="-sin x",
    fast={1: math.cos},
    period=math.tau,
    floats_stay=True,
)
def cos(x):
    """Cosine (radians)."""
    return math.cos(x)


@cos.derivatives
def cos(out, x):
    return (-sin(x),)


@cos.on_arrays
def cos(np, x):
    return np.cos(x)


@op(
    "abs",
    operands=1,
    symbol="|x|",
    value="x if x >= 0 else -x",
    local="1 if x > 0, -1 if x < 0, 0 at 0",
    kink=_sign,
    fast={1: abs},
    floats_stay=True,
    kinks="0 at 0",
)
def abs_(x):
    """Absolute value; its derivative at 0 is 0 (as PyTorch)."""
    return abs(x)


@abs_.derivatives
def abs_(out, x):
    return (step(x) - step(-x),)


@abs_.on_arrays
def abs_(np, x):
    return np.abs(x)


def _argmax(*xs):
    """The smooth piece of max: which operand is the largest (None at a tie)."""
    top = max(xs)
    return xs.index(top) if xs.count(top) == 1 else None


def _argmin(*xs):
    """The smooth piece of min: which operand is the smallest (None at a tie)."""
    low = min(xs)
    return xs.index(low) if xs.count(low) == 1 else None


@op(
    "max",
    operands=(1, None),
    symbol="max",
    value="the largest operand",
    local="1 for the largest (shared evenly at a tie)",
    kink=_argmax,
    selects=True,
    kinks="shared evenly at a tie",
)
def max_(*xs):
    """The largest operand; at a tie the gradient is shared evenly by the tied ones (as torch.maximum)."""
    return max(xs)


@max_.derivatives
def max_(out, *xs):
    # 1 for the operand that is the result, 0 for the others; 1/k each for k tied ones.
    if len(xs) == 1:
        return (1,)
    hits = [eq(x, out) for x in xs]
    count = add(*hits)
    return tuple(hit / count for hit in hits)


@max_.on_arrays
def max_(np, *xs):
    top = xs[0]
    for x in xs[1:]:
        top = np.maximum(top, x)
    return top


@op(
    "min",
    operands=(1, None),
    symbol="min",
    value="the smallest operand",
    local="1 for the smallest (shared evenly at a tie)",
    kink=_argmin,
    selects=True,
    kinks="shared evenly at a tie",
)
def min_(*xs):
    """The smallest operand; at a tie the gradient is shared evenly by the tied ones (as torch.minimum)."""
    return min(xs)


min_.derivatives(max_.local)  # the same words: 1 for the operand that is the result, shared at a tie


@min_.on_arrays
def min_(np, *xs):
    low = xs[0]
    for x in xs[1:]:
        low = np.minimum(low, x)
    return low


@op(
    "where",
    operands=3,
    symbol="where",
    value="a if c else b (c ≠ 0 picks a)",
    local="0, 1 or 0, 0 or 1",
    kink=lambda c, a, b: c != 0,
    uses=lambda c, a, b: (True, c != 0, c == 0),
    selects=True,
    domain="all; only the branch taken is needed",
    kinks="none to c; only the branch taken gets dout",
)
def where(c, a, b):
    """a where c is not 0, else b: tiered prices and brackets. No gradient flows into c."""
    return a if c != 0 else b


@where.derivatives
def where(out, c, a, b):
    return 0, where(c, 1, 0), where(c, 0, 1)


@where.on_arrays
def where(np, c, a, b):
    return np.where(c != 0, a, b)


def _comparison(name, symbol, test, doc):
    def forward(x, y):
        return 1 if test(x, y) else 0

    forward.__doc__ = doc
    compare = op(
        name,
        operands=2,
        symbol=symbol,
        value=f"1 if x {symbol} y else 0",
        local="0, 0",
        kink=_order,
        selects=True,
        kinks="0 at the jump too",
    )(forward)

    @compare.derivatives
    def compare(out, x, y):
        return 0, 0

    @compare.on_arrays
    def compare(np, x, y):
        return np.where(test(x, y), 1.0, 0.0)

    return compare


def _order(x, y):
    """The smooth piece of a comparison: which side of y x is on (None where they are equal)."""
    return None if x == y else x < y


lt = _comparison("lt", "<", operator.lt, "1 if x < y, else 0 (a formula's x < y); its derivatives are 0.")
le = _comparison("le", "<=", operator.le, "1 if x <= y, else 0 (a formula's x <= y); its derivatives are 0.")
gt = _comparison("gt", ">", operator.gt, "1 if x > y, else 0 (a formula's x > y); its derivatives are 0.")
ge = _comparison("ge", ">=", operator.ge, "1 if x >= y, else 0 (a formula's x >= y); its derivatives are 0.")
eq = _comparison("eq", "==", operator.eq, "1 if x == y, else 0 (a formula's x == y); its derivatives are 0.")


# --- the ops of pricing and statistics models -------------------------------------------------
# On numbers, Python's math module (erf and erfc to about 1 ulp) and statistics.NormalDist (Φ⁻¹,
# Wichura's algorithm); on arrays, scipy.special (imported only when an array graph uses one).

_FOUR_SQRT_PI = 4 * math.sqrt(math.pi)
_SQRT_TAU = math.sqrt(math.tau)  # √(2π)
_LOG_SQRT_TAU = 0.5 * math.log(math.tau)
_SQRT2 = math.sqrt(2)


def _special(name: str):
    """A function of scipy.special, for the array steps (imported when first needed)."""
    import scipy.special

    return getattr(scipy.special, name)


@op(
    "erf",
    operands=1,
    symbol="erf",
    value="(2/√π) ∫₀ˣ e^(-t²) dt",
    local="(2/√π) e^(-x²)",
    fast={1: math.erf},
    floats_stay=True,
)
def erf(x):
    """The error function."""
    return math.erf(x)


@erf.derivatives
def erf(out, x):
    # (2/√π) e^(-x²) as 4√π φ(x)²: no x² to overflow where e^(-x²) is simply 0
    return (_FOUR_SQRT_PI * (normal_pdf(x) * normal_pdf(x)),)


@erf.on_arrays
def erf(np, x):
    return _special("erf")(x)


@op(
    "erfc",
    operands=1,
    symbol="erfc",
    value="1 - erf x, without its cancellation",
    local="-(2/√π) e^(-x²)",
    fast={1: math.erfc},
    floats_stay=True,
)
def erfc(x):
    """The complementary error function, 1 - erf(x) kept accurate where erf(x) is near 1."""
    return math.erfc(x)


@erfc.derivatives
def erfc(out, x):
    return (-_FOUR_SQRT_PI * (normal_pdf(x) * normal_pdf(x)),)


@erfc.on_arrays
def erfc(np, x):
    return _special("erfc")(x)


@op(
    "normal_pdf",
    operands=1,
    symbol="φ",
    value="e^(-x²/2) / √(2π)",
    local="-x φ(x)",
    floats_stay=True,
)
def normal_pdf(x):
    """The standard normal density φ(x)."""
    return math.exp(-0.5 * x * x) / _SQRT_TAU


@normal_pdf.derivatives
def normal_pdf(out, x):
    return (-x * out,)


@normal_pdf.on_arrays
def normal_pdf(np, x):
    return np.exp(-0.5 * x * x) / _SQRT_TAU


@op(
    "normal_cdf",
    operands=1,
    symbol="Φ",
    value="erfc(-x/√2) / 2",
    local="φ(x)",
    floats_stay=True,
)
def normal_cdf(x):
    """The standard normal distribution function Φ(x), accurate in both tails."""
    return 0.5 * math.erfc(-x / _SQRT2)


@normal_cdf.derivatives
def normal_cdf(out, x):
    return (normal_pdf(x),)


@normal_cdf.on_arrays
def normal_cdf(np, x):
    return _special("ndtr")(x)


@op(
    "log_normal_cdf",
    operands=1,
    symbol="ln Φ",
    value="ln Φ(x), far into the left tail",
    local="φ(x) / Φ(x)",
    floats_stay=True,
)
def log_normal_cdf(x):
    """ln Φ(x), accurate where Φ(x) itself underflows (x = -40: -804.6084420137538)."""
    if x > 0:
        return math.log1p(-0.5 * math.erfc(x / _SQRT2))  # ln(1 - Φ(-x)): no cancellation as Φ nears 1
    if x > -30:
        return math.log(0.5 * math.erfc(-x / _SQRT2))
    return -0.5 * (x * x) - math.log(-x) - _LOG_SQRT_TAU + math.log1p(_tail_series(x))


def _tail_series(x):
    """Φ(x) = φ(x)/(-x) · (1 + this) far in the left tail: -1/x² + 3/x⁴ - 15/x⁶ + ..., ten terms
    (the next is below 1e-21 of 1 for x ≤ -30). Plain arithmetic, so `local` may use it on symbols."""
    term, series, x2 = 1.0, 0.0, x * x
    for k in range(1, 11):
        term = term * (1 - 2 * k) / x2
        series = series + term
    return series


@log_normal_cdf.derivatives
def log_normal_cdf(out, x):
    # φ(x)/Φ(x): as the ratio above -5; as e^(ln φ(x) - ln Φ(x)) down to -30, where both underflow;
    # further down -x / (1 + the tail series), as the value is taken there. (Each branch is
    # computed where it is a number: the ratio at max(x, -5), the series at min(x, -30).)
    high, low = max_(x, -5), min_(x, -30)
    ratio = normal_pdf(high) / normal_cdf(high)
    tail = -low / (1 + _tail_series(low))
    return (where(gt(x, -5), ratio, where(gt(x, -30), exp(-(x * x) / 2 - _LOG_SQRT_TAU - out), tail)),)


@log_normal_cdf.on_arrays
def log_normal_cdf(np, x):
    return _special("log_ndtr")(x)


@op(
    "normal_ppf",
    operands=1,
    symbol="Φ⁻¹",
    value="the x where Φ(x) = p",
    local="1 / φ(Φ⁻¹(p))",
    floats_stay=True,
    domain="0 < p < 1",
)
def normal_ppf(p):
    """The standard normal quantile Φ⁻¹(p), 0 < p < 1."""
    from statistics import NormalDist

    if not 0 < p < 1:
        raise OpDomainError("the normal quantile needs 0 < p < 1")
    return NormalDist().inv_cdf(p)


@normal_ppf.derivatives
def normal_ppf(out, p):
    return (_SQRT_TAU * exp(out * out / 2),)  # 1/φ(out), with no division by a computed value


@normal_ppf.on_arrays
def normal_ppf(np, p):
    return _special("ndtri")(np.where((p > 0) & (p < 1), p, np.nan))


@op(
    "log1p",
    operands=1,
    symbol="log1p",
    value="ln(1 + x), exact near 0",
    local="1 / (1 + x)",
    fast={1: math.log1p},
    floats_stay=True,
    domain="x > -1",
)
def log1p(x):
    """ln(1 + x), accurate for small x."""
    if x <= -1:
        raise OpDomainError("log1p of a number at or below -1")
    return math.log1p(x)


@log1p.derivatives
def log1p(out, x):
    # 1.0 + x, not 1 + x: past 2**53 an integer 1 + x would stay exact here, where a derived
    # graph's add node (an op's result) becomes a float: both must round alike.
    return (1 / (1.0 + x),)


@log1p.on_arrays
def log1p(np, x):
    return np.log1p(np.where(x > -1, x, np.nan))


@op(
    "expm1",
    operands=1,
    symbol="expm1",
    value="e^x - 1, exact near 0",
    local="e^x",
    fast={1: math.expm1},
    floats_stay=True,
    domain="all (e^x past the float range overflows)",
)
def expm1(x):
    """e^x - 1, accurate for small x."""
    return math.expm1(x)


@expm1.derivatives
def expm1(out, x):
    return (exp(x),)


@expm1.on_arrays
def expm1(np, x):
    return np.expm1(x)


@op(
    "softplus",
    operands=1,
    symbol="softplus",
    value="ln(1 + e^x)",
    local="σ(x)",
    floats_stay=True,
)
def softplus(x):
    """ln(1 + e^x), with no overflow (softplus(1000) is 1000)."""
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


@softplus.derivatives
def softplus(out, x):
    return (sigmoid(x),)


@softplus.on_arrays
def softplus(np, x):
    return np.logaddexp(0.0, x)


def _rounding(name: str, rounded, doc: str, kink, jumps: str):
    """A rounding op: `rounded` on numbers (a float stays a float) and on arrays; its derivative is 0."""

    def forward(x):
        return x if type(x) is int else float(rounded(x))

    forward.__doc__ = f"{doc}; its derivative is 0 (it jumps {jumps})."
    step_op = op(
        name, operands=1, symbol=name, value=doc, local="0", kink=kink, floats_stay=True, kinks=f"0, jumps {jumps}"
    )(forward)

    @step_op.derivatives
    def step_op(out, x):
        return (0,)

    @step_op.on_arrays
    def step_op(np, x):
        return getattr(np, name)(x)  # (np.round, as Python's round: a half to the even neighbour)

    return step_op


def _whole_piece(x):
    """The smooth piece of floor and ceil: the whole number below x (None where x is whole: a jump)."""
    below = math.floor(x)
    return None if x == below else below


def _half_piece(x):
    """The smooth piece of round: the whole number x rounds to (None at a half: a jump)."""
    return None if x - math.floor(x) == 0.5 else round(x)


floor = _rounding("floor", math.floor, "the largest whole number ≤ x", _whole_piece, "at each whole number")
ceil = _rounding("ceil", math.ceil, "the smallest whole number ≥ x", _whole_piece, "at each whole number")
round_ = _rounding("round", round, "x to the nearest whole number, a half to the even one", _half_piece, "at each half")


def _clip_piece(x, lo, hi):
    """The smooth piece of clip: below, inside or above the range (None on an edge)."""
    return None if x in (lo, hi) else (x > lo) + (x > hi)


@op(
    "clip",
    operands=3,
    symbol="clip",
    value="lo if x < lo, hi if x > hi, else x",
    local="1 inside [lo, hi]; to lo below it, to hi above",
    kink=_clip_piece,
    selects=True,
    domain="lo ≤ hi",
    kinks="x's at the edges (as torch.clamp)",
)
def clip(x, lo, hi):
    """x held within [lo, hi]; the gradient goes to x inside the range, edges included."""
    if lo > hi:
        raise OpDomainError("clip needs lo ≤ hi")
    return lo if x < lo else hi if x > hi else x


@clip.derivatives
def clip(out, x, lo, hi):
    return ge(x, lo) * le(x, hi), lt(x, lo), gt(x, hi)


@clip.on_arrays
def clip(np, x, lo, hi):
    return np.where(lo <= hi, np.where(x < lo, lo, np.where(x > hi, hi, x)), np.nan)


# --- arithmetic the forward steps share ---------------------------------------------------


def product(xs):
    """x1 * x2 * ... left to right, exact while integers stay small.

    Where a partial product leaves the normal float range though the whole need not
    (1e200 * 1e200 * 1e-200; a subnormal partial loses most of its digits), it is taken
    again with the exponents kept apart: the same digits wherever the plain product keeps them.
    """
    p = xs[0]
    clean = True
    for x in xs[1:-1]:
        p = exact(p * x)
        if p and abs(p) < _NORMAL_MIN:  # (one past the largest float is inf: the end sees that)
            clean = False
    p = exact(p * xs[-1])  # (mul has two operands or more)
    if not clean or (p == 0 and all(xs)) or not math.isfinite(p):
        return _scaled_product(xs)
    return p


_NORMAL_MIN = sys.float_info.min  # the smallest float with all its digits (2.2e-308)


def _scaled_product(xs) -> float:
    mantissa, exponent = 1.0, 0
    for x in xs:
        m, e = math.frexp(x)
        mantissa, e2 = math.frexp(mantissa * m)
        exponent += e + e2
    return math.ldexp(mantissa, exponent)  # OverflowError where the product itself is too large


def _int_power_too_big(x, y) -> bool:
    # Python computes int ** int exactly; refuse before a huge exponent costs time and memory.
    return isinstance(x, int) and isinstance(y, int) and y > 0 and abs(x) > 1 and y * math.log2(abs(x)) > 1100


def power(x, y):
    """x ** y where it is a finite real number; OpDomainError where it is not."""
    if x == 0 and y < 0:
        raise OpDomainError("zero to a negative power")
    if x < 0 and not float(y).is_integer():
        raise OpDomainError("a negative base to a fractional power")
    if _int_power_too_big(x, y):
        raise OverflowError("result too large")
    return x**y


def _is(x, number) -> bool:
    """Whether an operand is that very number (not a symbol of derive's, which is no number yet)."""
    return type(x) in (int, float) and x == number


from . import layers  # noqa: E402,F401  (the ops of arrays alone register themselves in OPS)
