"""The op table: every operation's forward step and local derivatives, in one place.

Each op is local computation, as in the book's MulLayer and AddLayer: the
forward step sees only its operands; the local derivatives see only the
operands and the value the forward step produced. The engine multiplies them
by the upstream gradient (``dx = dout * local``), so that is done in one place.

Values are Python numbers today. Nothing here depends on that but the few
``math`` calls, so an array backend can swap in its own functions per op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

Number = int | float
Forward = Callable[[Sequence[Number]], Number]
# (operands, output, wanted) -> one local derivative per operand; None where not wanted.
LocalGrads = Callable[[Sequence[Number], Number, Sequence[bool]], list]
# The same local derivatives written as graph nodes, for `cgraph derive`:
# (emit, operand refs, output ref, wanted) -> one ref per operand (None where not wanted),
# where a ref is a node name or a number and emit(op, *refs) adds a node and returns its ref.
# Each must do the arithmetic of its LocalGrads in the same order, so that a derived
# graph computes backprop's numbers exactly.
SymbolicGrads = Callable[[Callable, Sequence, object, Sequence[bool]], list]


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: its arity, forward step, local derivatives and how to write it."""

    name: str
    min_args: int
    max_args: int | None  # None: no upper bound
    forward: Forward
    local_grads: LocalGrads
    symbol: str
    formula: str
    derivative: str
    doc: str
    symbolic: SymbolicGrads
    kink: float | None = None  # where the op is not differentiable in its operand (relu: 0)

    def arity_text(self) -> str:
        """'2', '1' or '2 or more', as the docs write the operand count."""
        if self.max_args is None:
            return f"{self.min_args} or more"
        return str(self.min_args)

    def arity_problem(self, count: int) -> str | None:
        """Why this op cannot take `count` operands, or None when it can."""
        if count >= self.min_args and (self.max_args is None or count <= self.max_args):
            return None
        plural = "" if self.arity_text() == "1" else "s"
        return f"{self.name} takes {self.arity_text()} operand{plural}, got {count}"


class OpDomainError(ArithmeticError):
    """A value or derivative that is not a finite real number, with the reason why."""


def _add(xs):
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


def _add_grads(xs, out, wanted):
    return [1 if w else None for w in wanted]


def _add_sym(emit, xs, out, wanted):
    return [1 if w else None for w in wanted]


def _product(xs):
    result = xs[0]
    for x in xs[1:]:
        result = result * x
    return result


# Above this many operands a product of the others per operand is quadratic work;
# prefix and suffix products keep it linear at the cost of a different rounding order.
_MUL_EXACT_LIMIT = 64


def _mul_grads(xs, out, wanted):
    n = len(xs)
    if n == 2:  # the book's MulLayer: x gets y, y gets x
        return [xs[1] if wanted[0] else None, xs[0] if wanted[1] else None]
    if n <= _MUL_EXACT_LIMIT:
        return [_product([x for j, x in enumerate(xs) if j != i]) if w else None
                for i, w in enumerate(wanted)]
    prefix = [1] * n
    for i in range(1, n):
        prefix[i] = prefix[i - 1] * xs[i - 1]
    suffix = [1] * n
    for i in range(n - 2, -1, -1):
        suffix[i] = xs[i + 1] * suffix[i + 1]
    return [prefix[i] * suffix[i] if w else None for i, w in enumerate(wanted)]


def _mul_sym(emit, xs, out, wanted):
    if len(xs) == 2:
        return [xs[1] if wanted[0] else None, xs[0] if wanted[1] else None]
    # Left to right, as _mul_grads does up to _MUL_EXACT_LIMIT operands (past it, the last
    # digit may differ from the engine's prefix/suffix products).
    return [emit("mul", *[x for j, x in enumerate(xs) if j != i]) if w else None for i, w in enumerate(wanted)]


def _sub(xs):
    return xs[0] - xs[1]


def _sub_grads(xs, out, wanted):
    return [1 if wanted[0] else None, -1 if wanted[1] else None]


def _sub_sym(emit, xs, out, wanted):
    return [1 if wanted[0] else None, -1 if wanted[1] else None]


def _div(xs):
    x, y = xs
    if y == 0:
        raise OpDomainError("division by zero")
    return x / y


def _div_grads(xs, out, wanted):
    x, y = xs
    return [1 / y if wanted[0] else None, -x / y ** 2 if wanted[1] else None]


def _div_sym(emit, xs, out, wanted):
    x, y = xs
    return [emit("div", 1, y) if wanted[0] else None,
            emit("div", emit("neg", x), emit("pow", y, 2)) if wanted[1] else None]


def _neg(xs):
    return -xs[0]


def _neg_grads(xs, out, wanted):
    return [-1]


def _neg_sym(emit, xs, out, wanted):
    return [-1]


def _int_power_too_big(x, y) -> bool:
    # Python computes int ** int exactly; refuse before a huge exponent costs time and memory.
    return (isinstance(x, int) and isinstance(y, int) and y > 0 and abs(x) > 1
            and y * math.log2(abs(x)) > 1100)


def _power(x, y):
    if x == 0 and y < 0:
        raise OpDomainError("zero to a negative power")
    if x < 0 and not float(y).is_integer():
        raise OpDomainError("a negative base to a fractional power")
    if _int_power_too_big(x, y):
        raise OverflowError("result too large")
    return x ** y


def _pow(xs):
    return _power(xs[0], xs[1])


def _pow_grads(xs, out, wanted):
    x, y = xs
    grads = [None, None]
    if wanted[0]:
        # d(x**0)/dx is 0 everywhere, x = 0 included (as PyTorch has it).
        if x == 0 and 0 < y < 1:
            raise OpDomainError("the base's gradient y * x**(y-1) is infinite at x = 0 for 0 < y < 1")
        grads[0] = 0 if y == 0 else y * _power(x, y - 1)
    if wanted[1]:
        if x > 0:
            grads[1] = out * math.log(x)
        elif x == 0 and y >= 0:
            grads[1] = 0  # the limit from the right; PyTorch's choice too
        else:
            raise OpDomainError("the exponent's gradient needs ln of the base, which is not positive")
    return grads


def _pow_sym(emit, xs, out, wanted):
    x, y = xs
    grads = [None, None]
    if wanted[0]:
        grads[0] = 0 if y == 0 else emit("mul", y, emit("pow", x, emit("sub", y, 1)))
    if wanted[1]:
        grads[1] = emit("mul", out, emit("log", x))
    return grads


def _exp(xs):
    return math.exp(xs[0])


def _exp_grads(xs, out, wanted):
    return [out]


def _exp_sym(emit, xs, out, wanted):
    return [out]


def _log(xs):
    if xs[0] <= 0:
        raise OpDomainError("log of a non-positive number")
    return math.log(xs[0])


def _log_grads(xs, out, wanted):
    return [1 / xs[0]]


def _log_sym(emit, xs, out, wanted):
    return [emit("div", 1, xs[0])]


def _sigmoid(xs):
    x = xs[0]
    # Two forms so that exp never overflows: sigmoid(-1000) is 0, not an error.
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    e = math.exp(x)
    return e / (1 + e)


def _sigmoid_grads(xs, out, wanted):
    return [out * (1 - out)]


def _sigmoid_sym(emit, xs, out, wanted):
    return [emit("mul", out, emit("sub", 1, out))]


def _relu(xs):
    x = xs[0]
    return x if x > 0 else x - x  # x - x: a zero of x's own type


def _relu_grads(xs, out, wanted):
    return [1 if xs[0] > 0 else 0]  # relu'(0) = 0, as PyTorch has it


def _relu_sym(emit, xs, out, wanted):
    return [emit("step", xs[0])]


def _step(xs):
    return 1 if xs[0] > 0 else 0


def _step_grads(xs, out, wanted):
    return [0]


def _step_sym(emit, xs, out, wanted):
    return [0]


def _tanh(xs):
    return math.tanh(xs[0])


def _tanh_grads(xs, out, wanted):
    return [1 - out * out]


def _tanh_sym(emit, xs, out, wanted):
    return [emit("sub", 1, emit("mul", out, out))]


OPS: dict[str, Op] = {op.name: op for op in [
    Op("add", 2, None, _add, _add_grads, "+", "x1 + x2 + ...", "1 for each",
       "Sum of the operands, left to right.", _add_sym),
    Op("mul", 2, None, _product, _mul_grads, "×", "x1 * x2 * ...", "the product of the others",
       "Product of the operands, left to right.", _mul_sym),
    Op("sub", 2, 2, _sub, _sub_grads, "−", "x - y", "1, -1", "Difference.", _sub_sym),
    Op("div", 2, 2, _div, _div_grads, "÷", "x / y", "1/y, -x/y^2", "Quotient.", _div_sym),
    Op("neg", 1, 1, _neg, _neg_grads, "−", "-x", "-1", "Negation.", _neg_sym),
    Op("pow", 2, 2, _pow, _pow_grads, "^", "x ** y", "y * x**(y-1), x**y * ln x",
       "Power; the exponent's gradient needs x > 0 (0 at x = 0 for y >= 0).", _pow_sym),
    Op("exp", 1, 1, _exp, _exp_grads, "exp", "e^x", "e^x", "Exponential.", _exp_sym),
    Op("log", 1, 1, _log, _log_grads, "log", "ln x", "1/x", "Natural logarithm, x > 0.", _log_sym),
    Op("sigmoid", 1, 1, _sigmoid, _sigmoid_grads, "σ", "1 / (1 + e^-x)", "y * (1 - y)",
       "Logistic sigmoid, computed without overflow.", _sigmoid_sym),
    Op("relu", 1, 1, _relu, _relu_grads, "relu", "max(0, x)", "1 if x > 0 else 0",
       "Rectified linear unit; its derivative at 0 is 0.", _relu_sym, kink=0),
    Op("tanh", 1, 1, _tanh, _tanh_grads, "tanh", "tanh x", "1 - y^2", "Hyperbolic tangent.", _tanh_sym),
    Op("step", 1, 1, _step, _step_grads, "step", "1 if x > 0 else 0", "0",
       "Heaviside step, relu's derivative (so derived graphs can say it); its derivative is 0.",
       _step_sym, kink=0),
]}


def is_finite(value) -> bool:
    """Whether a value is a finite real number (an int too large for a float is not)."""
    try:
        return math.isfinite(value)
    except (OverflowError, TypeError):
        return False
