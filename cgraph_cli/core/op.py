"""What an op is: its forward step, its local derivatives and what it knows of itself, registered by name in OPS.

The ops themselves are in ops.py (on numbers) and layers.py (on arrays
alone). `Undefined` and `Unused` are the values a node has where it has no
number, saying why. Read the table through `ops.OPS`: importing ops registers
every op, those of arrays too.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Number = int | float

# Integers stay exact (the book's 2 apples at 100 are 200, not 200.0) while a float
# holds them exactly; past that they become floats, so no product of huge integers
# can cost time quadratic in the file (10,000 factors of 10**300 would).
EXACT_INT = 2**53


class OpDomainError(ArithmeticError):
    """A value that is not a finite real number, with the reason why."""


def exact(value):
    """An int past ±2**53 as a float (OverflowError past a float's range); anything else unchanged."""
    if type(value) is int and not -EXACT_INT <= value <= EXACT_INT:
        return float(value)
    return value


def is_finite(value) -> bool:
    """Whether a value is a finite real number (an int too large for a float is not)."""
    try:
        return math.isfinite(value)
    except (OverflowError, TypeError):
        return False


class Undefined:
    """A local derivative that is not a finite number, and why. Arithmetic on it stays undefined,
    so an op can return all its local derivatives and the engine use only those it needs."""

    __slots__ = ("reason", "origin")

    def __init__(self, reason: str, origin: int | None = None):
        self.reason = reason
        self.origin = origin  # the node whose local derivative it was, once the engine knows

    def _same(self, *_):
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __neg__ = _same

    def __repr__(self) -> str:
        return f"Undefined({self.reason!r})"


class Unused:
    """The value of a node the result does not need here, which has none (only a branch `where`
    does not take uses it: `principal * rate / (1 - (1 + rate) ** -n)` at rate 0), and why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unused({self.reason!r})"


def _no_derivatives(out, *xs) -> tuple:
    raise NotImplementedError("an op must give its local derivatives (@op_name.derivatives)")


def _no_array_step(np, *xs):
    raise NotImplementedError("an op must give its step on arrays (@op_name.on_arrays)")


class Op:
    """One operation: its forward step, its local derivatives, and how the docs write it."""

    def __init__(
        self,
        forward,
        name,
        *,
        operands,
        symbol,
        value,
        local,
        kink=None,
        fast=None,
        period=None,
        attributes=None,
        uses=None,
        selects=False,
        floats_stay=False,
        linear_in_first=False,
        domain="all",
        kinks="none",
    ):
        self.forward = forward  # (*operands) -> value; raises for a value that is not real
        self.local: Callable[..., tuple] = _no_derivatives  # (out, *operands) -> one per operand
        self._numeric = None  # the same code run on numbers alone (see _on_numbers), made when first used
        self.array: Callable = _no_array_step  # (np, *operands, **attributes) -> value: the step on arrays
        self._array_local: Callable | None = None
        # An op on arrays that is not element by element (matmul, sum, softmax) gives its backward
        # step itself, as the book's layers do: (np, dout, out, *operands, **attributes) -> one
        # gradient per operand, each of its operand's shape. None: dout times `local`, summed back
        # over the axes broadcasting added (arrays.py).
        self.backward: Callable | None = None
        # (*operand shapes, **attributes) -> the result's shape, ShapeError where they do not fit;
        # None: numpy's broadcasting of the operands.
        self.infer: Callable | None = None
        # A node's attributes: name -> (kind, default). The kind says what a file may give and the
        # reader takes (read/values.py): "axis" (null, a whole number or a list of them), "axes" (null
        # or a list of whole numbers), "shape" (a list of sizes, one may be -1), "flag" (true or false).
        self.attribute_kinds: dict = {name: kind for name, (kind, _) in (attributes or {}).items()}
        self.attributes: dict = {name: default for name, (_, default) in (attributes or {}).items()}
        self.arrays_only = False  # an op of arrays alone (layers.py): it has no step on plain numbers
        self.learned: dict = {}  # what the engine learned of the local derivatives (schedule.py, symbols.py)
        # A builtin that computes exactly `forward` for this many operands (the engine's fast path;
        # a test checks they agree): {2: operator.add} says add of two is Python's own +.
        self.fast = fast or {}
        self.name = name
        self.min_args, self.max_args = operands if isinstance(operands, tuple) else (operands, operands)
        self.symbol = symbol
        self.value_doc = value  # the value and the local derivatives as the docs write them
        self.local_doc = local
        self.domain = domain  # where the value is a finite real number, in the docs' words
        self.kinks = kinks  # the derivative's convention where the op is not differentiable
        self.doc = (forward.__doc__ or "").strip()
        # (*operands) -> which smooth piece of the op they are on, None exactly at a kink: where the
        # op is not differentiable (relu: the sign of x). None for an op smooth everywhere.
        self.kink = kink
        self.period = period  # a periodic op's period (sin: 2π): a difference over more says nothing
        # (*operands) -> for each operand, whether the value is made of it here (on arrays, where);
        # None: all of them. `where` uses its condition and the branch it takes: what only the
        # other branch uses is not needed.
        self.uses: Callable | None = uses
        # An op that selects (where, relu, max): an operand it did not select (local derivative
        # exactly 0) gets exactly 0 back, even where what arrives is not a number.
        self.selects = selects
        # (*operands) -> what a node of this op reduces to where some operands are known numbers
        # (x * 1 is x): a value, or a list of the operands left (x * 1 * y is x * y); None where
        # nothing reduces. Derive writes no node it need not (symbols.py).
        self.simplify: Callable | None = None
        # Whether a float operand always gives a float (x * 2, relu(x)): the value is an integer only
        # where every operand is. False (step, comparisons, max, where): an integer may come of floats.
        # The schedule groups a level's nodes of an op only where none may be an integer.
        self.floats_stay = floats_stay
        # Whether op(d * x, ...) is d * op(x, ...) (x / y, -x, x * y): then a gradient d goes into
        # the first operand before the rest is done, d / y rather than d * (1 / y), where 1 / y
        # alone would leave the float range (symbols.times_local).
        self.linear_in_first = linear_in_first

    def __call__(self, *args):
        """Apply the op: to numbers, its value (Undefined where there is none); to symbols, a node."""
        for a in args:
            if type(a) not in (int, float, Undefined):
                return a.apply(self, args)  # a symbol of `cgraph derive`
        for a in args if self.uses is None else [a for a, used in zip(args, self.used(*args)) if used]:
            if type(a) is Undefined:
                return a
            if not is_finite(a):
                return Undefined(f"{self.name} of a value that is not a finite number")
        try:
            value = exact(self.forward(*args))
        except (ArithmeticError, ValueError) as e:
            return Undefined(domain_reason(e))
        return value if is_finite(value) else Undefined("not a finite number (overflow)")

    def used(self, *xs) -> tuple:
        """For each operand, whether the value is made of it here: all of them, but where `uses`
        says otherwise (`where` uses its condition and the branch it takes)."""
        return tuple(self.uses(*xs)) if self.uses is not None else (True,) * len(xs)

    def derivatives(self, local):
        """Decorator: set the op's local derivatives (written below its forward step)."""
        self.local = local
        self._numeric = None
        self.learned = {}
        return self

    def simplified(self, rule):
        """Decorator: set what a node of this op reduces to where some operands are known numbers,
        `rule(*operands)`: a value, the list of operands left, or None. Each keeps the value exactly."""
        self.simplify = rule
        return self

    def on_arrays(self, step):
        """Decorator: set the op's forward step on numpy arrays, `step(np, *operands)` (a sweep's
        scenarios side by side). Where there is no real value it gives nan or inf, not an error."""
        self.array = step
        return self

    def backward_step(self, step):
        """Decorator: set the op's backward step on arrays, `step(np, dout, out, *operands, **attributes)`."""
        self.backward = step
        return self

    def shape_rule(self, rule):
        """Decorator: set the op's shape rule, `rule(*operand shapes, **attributes) -> shape`."""
        self.infer = rule
        return self

    def array_local(self, np):
        """`local` run on numpy arrays: the op calls in it bound to the ops' array steps."""
        if self._array_local is None:
            from functools import partial

            self._array_local = _bound(self.local, lambda op: partial(op.array, np))
        return self._array_local

    @property
    def numeric_local(self):
        """`local` for numbers only: op calls bound to the raw forward steps (see _on_numbers)."""
        if self._numeric is None:
            self._numeric = _on_numbers(self.local)
        return self._numeric

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

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OPS: dict[str, Op] = {}


def op(name, **knowledge):
    """Decorator: register a forward step as the op `name` of the table (`knowledge`: Op's keywords:
    operands, symbol, value and local as the docs write them, and what the op knows of itself)."""

    def register(forward) -> Op:
        OPS[name] = Op(forward, name, **knowledge)
        return OPS[name]

    return register


def domain_reason(e: Exception) -> str:
    """Why a value is not a finite real number, from the exception computing it raised."""
    if isinstance(e, OpDomainError):
        return str(e)
    if isinstance(e, ZeroDivisionError):
        return "division by zero"
    if isinstance(e, OverflowError):
        return "not a finite number (overflow)"
    return f"not a real number ({e})"


def _on_numbers(local):
    """The same local-derivative code with each op call bound to the op's raw forward step: the
    engine's fast way to run it on numbers. Where a value is not real it raises, and the engine
    takes the careful way (the op calls proper, which say Undefined and why)."""
    return _bound(local, lambda op: op.forward)


def _bound(local, step):
    """`local` with each op it calls by name bound to step(op)."""
    import types

    scope = dict(local.__globals__)
    scope.update({name: step(value) for name, value in scope.items() if isinstance(value, Op)})
    return types.FunctionType(local.__code__, scope, local.__name__, local.__defaults__, local.__closure__)
