"""Forward and backward passes over a compiled graph: values, then gradients by the chain rule.

Values are strict: one that is not a finite number stops evaluation with an
error naming the node. Gradients are not: where a local derivative is not a
finite number (ln of a negative base in pow's exponent gradient), the
gradients it feeds are `Undefined`, carrying the reason, and only a command
that needs one of them fails.

The loops are flat and lean, and the engine knows no op by name. It learns
the *shape* of each op's local derivatives by running the op's own `local`
code on symbols once: "each operand gets dout" comes from add's definition,
"each operand gets dout times the other" from mul's. Nodes whose derivatives
have no such shape run their `local` on numbers. Finiteness is checked for a
whole pass at once; only a failed check looks closer. Integers stay exact
while small (the book's 2 apples), and only nodes that may hold integers pay
for the check that keeps them small.
"""

from __future__ import annotations

from functools import partial
from operator import is_not
from typing import Mapping

from .errors import shorten
from .graph import Plan, paused_gc
from .ops import EXACT_INT, Number, Undefined, domain_reason, exact, is_finite

_MATH_ERRORS = (ArithmeticError, ValueError)
_IS_NOT_NONE = partial(is_not, None)

# Local-derivative shapes the backward loop handles itself; OTHER runs the op's `local`.
_ONES, _PLUS_MINUS, _MINUS, _SWAP, _OUT, _OTHER = range(6)
_SHAPE_WORDS = {("1", "1"): _ONES, ("1", "-1"): _PLUS_MINUS, ("-1",): _MINUS, ("x1", "x0"): _SWAP,
                ("out",): _OUT}


class Result:
    """Every node's value and its gradient d(of)/d(node), by evaluation position."""

    __slots__ = ("plan", "values", "grads", "of", "reached")

    def __init__(self, plan: Plan, values: list, grads: list | None, of: int, reached: bytearray):
        self.plan = plan
        self.values = values  # positions 0..n-1 are nodes, n.. the constants
        self.grads = grads  # positions 0..n-1: a number, or Undefined; None without a backward pass
        self.of = of
        self.reached = reached  # 1 where the backward pass ran: the node leads to `of`

    @property
    def of_name(self) -> str:
        """The name of the node that was differentiated."""
        return self.plan.names[self.of]

    @property
    def value(self) -> Number:
        """The value of the node that was differentiated."""
        return self.values[self.of]

    def value_of(self, name: str) -> Number:
        """The value of a named node."""
        return self.values[self.plan.index[name]]

    def grad_of(self, name: str):
        """d(of)/d(name) for a named node: a number, or Undefined."""
        return self.grads[self.plan.index[name]]

    def needed_grad(self, name: str) -> Number:
        """d(of)/d(name), or the error saying why it is undefined (for a command that needs it)."""
        g = self.grad_of(name)
        if type(g) is Undefined:
            raise self.plan.error(f"d({shorten(self.of_name)})/d({shorten(name)}) is undefined: {g.reason}",
                                  g.origin)
        return g

    def undefined(self) -> list[tuple[int, Undefined]]:
        """(position, Undefined) for every node whose gradient is undefined, in evaluation order."""
        if self.grads is None:
            return []
        return [(i, g) for i, g in enumerate(self.grads) if type(g) is Undefined]

    def edge_grads(self, i: int) -> list:
        """What each operand of node i receives from it: upstream gradient x local derivative.

        (local, received) per operand, None for a constant. A node the backward
        pass never reached (it does not lead to `of`) sends nothing: (None, 0).
        """
        plan = self.plan
        if plan.ops[i] is None:
            return []
        n = plan.size
        if not self.reached[i]:
            return [(None, 0) if j < n else None for j in plan.args[i]]
        dout = self.grads[i]
        return [(d, _times(dout, d)) if j < n else None
                for j, d in zip(plan.args[i], local_grads(plan, self.values, i))]


def evaluate(plan: Plan, overrides: Mapping[str, Number] | None = None,
             of: str | None = None, gradients: bool = True) -> Result:
    """Run the forward pass, then (unless `gradients` is false) the backward pass from `of`."""
    target = plan.output_position(of)
    with paused_gc():
        values = forward(plan, overrides or {})
        if not gradients:
            return Result(plan, values, None, target, bytearray(plan.size))
        grads = backward(plan, values, target)
        reached = bytearray(g is not None for g in grads)
        return Result(plan, values, [0 if g is None else g for g in grads], target, reached)


# -- how a plan runs: made once per plan (and per output, and kind of inputs) ------------------


class _Program:
    """How one plan runs, for one kind of inputs (which are integers): per node, the forward
    function and whether its value may be an integer; per output, the backward steps in reverse
    order, each with the shape of its local derivatives and whether what it passes may be an
    integer (then its arithmetic is checked to keep integers small)."""

    __slots__ = ("forward", "ints", "backwards")

    def __init__(self, plan: Plan, values: list):
        ints = [type(v) is int for v in values]
        steps = []
        for i, op in enumerate(plan.ops):
            if op is None:
                continue
            args = plan.args[i]
            fast = op.fast.get(len(args))
            # A builtin (+, -, *) gives an integer only from integers; an op of ours may (step does).
            ints[i] = fast is None or any(ints[j] for j in args)
            steps.append((len(args), i, args, fast or op.forward, ints[i]))
        self.forward, self.ints, self.backwards = steps, ints, {}

    def backward(self, plan: Plan, of: int) -> list:
        """The backward steps from `of`. d(of)/d(of) is the integer 1, and a gradient stays an
        integer while every contribution is one: through 1s, -1s and integer factors."""
        if of in self.backwards:
            return self.backwards[of]
        ints = self.ints
        grad_ints: list = [None] * (plan.size + len(plan.constants))  # None: no contribution yet
        grad_ints[of] = True
        steps = []
        for i in range(of, -1, -1):
            op = plan.ops[i]
            if op is None or grad_ints[i] is None:
                continue
            args = plan.args[i]
            shape = _shape(op, len(args))
            passes = grad_ints[i] and (shape in (_ONES, _PLUS_MINUS, _MINUS) or shape == _OTHER
                                       or (shape == _SWAP and (ints[args[0]] or ints[args[1]]))
                                       or (shape == _OUT and ints[i]))
            for j in args:
                grad_ints[j] = passes if grad_ints[j] is None else grad_ints[j] and passes
            steps.append((_OTHER if passes else shape, i, args, op, bool(passes)))
        self.backwards[of] = steps
        return steps


def _program(plan: Plan, values: list) -> _Program:
    key = tuple(type(values[i]) is int for i in range(plan.size) if plan.ops[i] is None)
    cache = plan.program if plan.program is not None else {}
    plan.program = cache
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        cache[key] = _Program(plan, values)
    return cache[key]


def _shape(op, count: int) -> int:
    """The shape of an op's local derivatives for `count` operands, learned by running its `local`
    on symbols (as `cgraph derive` does): all 1 (add), 1 and -1 (sub), -1 (neg), each the other
    operand (mul of two), the output itself (exp); anything else runs on numbers per node."""
    if count not in op.shapes:
        from .symbolic import Emitter, Sym

        emitter = Emitter()
        ds = op.local(Sym(emitter, name="out"), *[Sym(emitter, name=f"x{k}") for k in range(count)])
        words = tuple(d.name if type(d) is Sym and d.name else repr(d) for d in ds)
        op.shapes[count] = _ONES if count > 2 and set(words) == {"1"} else _SHAPE_WORDS.get(words, _OTHER)
    return op.shapes[count]


# -- forward -----------------------------------------------------------------------------------


def forward(plan: Plan, overrides: Mapping[str, Number]) -> list:
    """Every node's value in evaluation order, the constants after them."""
    values = plan.values + plan.constants
    for name, value in overrides.items():
        values[plan.input_position(name)] = value
    if any(type(v) is int and not -EXACT_INT <= v <= EXACT_INT for v in values):
        values = [exact(v) for v in values]
    i = -1
    try:
        for count, i, args, f, maybe_int in _program(plan, values).forward:
            if count == 2:
                v = f(values[args[0]], values[args[1]])
            elif count == 1:
                v = f(values[args[0]])
            else:
                v = f(*[values[j] for j in args])
            if maybe_int and type(v) is int and not -EXACT_INT <= v <= EXACT_INT:
                v = exact(v)
            values[i] = v
    except _MATH_ERRORS as e:
        _raise_bad_value(plan, values, i, e)
    if not is_finite(sum(values)):  # inf and nan reach the sum; a finite sum means every value is
        _raise_bad_value(plan, values, plan.size, None)
    return values


def _raise_bad_value(plan: Plan, values: list, failed: int, error: Exception | None) -> None:
    """The error for the first node whose value is not a finite number: an overflow (inf) before
    node `failed`, where its op raised, else node `failed` itself."""
    for i in range(min(failed, plan.size)):
        if plan.ops[i] is not None and not is_finite(values[i]):
            raise node_error(plan, i, [values[j] for j in plan.args[i]], "the value is not a finite number (overflow)")
    if error is not None:
        xs = [values[j] for j in plan.args[failed]]
        try:  # the op's own forward step says best what went wrong
            plan.ops[failed].forward(*xs)
            reason = domain_reason(error)
        except _MATH_ERRORS as e:
            reason = domain_reason(e)
        raise node_error(plan, failed, xs, reason)
    # Every value is finite though their sum is not (it overflowed): nothing is wrong.


# -- backward --------------------------------------------------------------------------------


def backward(plan: Plan, values: list, of: int) -> list:
    """d(values[of])/d(node) for every node: upstream gradient times local derivative, summed.

    None where the pass never reached (the node does not lead to `of`): its gradient is 0.
    Undefined where a local derivative on the way is not a finite number.
    """
    n = plan.size
    grads: list = [None] * (n + len(plan.constants))  # constants' slots are written and ignored
    grads[of] = 1
    for shape, i, args, op, ints in _program(plan, values).backward(plan, of):
        d = grads[i]
        if d is None:
            continue  # the node does not lead to `of`
        if shape == _ONES:  # the book's AddLayer: each operand gets dout
            for j in args:
                g = grads[j]
                grads[j] = d if g is None else g + d
        elif shape == _SWAP:  # the book's MulLayer: dx = dout * y, dy = dout * x
            a, b = args
            g = grads[a]
            c = d * values[b]
            grads[a] = c if g is None else g + c
            g = grads[b]
            c = d * values[a]
            grads[b] = c if g is None else g + c
        elif shape == _PLUS_MINUS:
            a, b = args
            g = grads[a]
            grads[a] = d if g is None else g + d
            g = grads[b]
            c = -d
            grads[b] = c if g is None else g + c
        elif shape == _MINUS:
            a = args[0]
            g = grads[a]
            c = -d
            grads[a] = c if g is None else g + c
        elif shape == _OUT:
            a = args[0]
            g = grads[a]
            c = d * values[i]
            grads[a] = c if g is None else g + c
        else:
            _local_step(plan, values, grads, i, args, op, d, ints)
    grads = grads[:n]
    if not is_finite(sum(filter(_IS_NOT_NONE, grads))):  # inf, nan and Undefined all reach the sum
        _settle(plan, values, grads, of)
    return grads


def _local_step(plan: Plan, values: list, grads: list, i: int, args, op, d, ints: bool) -> None:
    """Node i's backward step by its op's `local` code run on numbers; where that raises, the
    careful way (op calls that say Undefined and why), which marks only the operands it concerns."""
    xs = [values[j] for j in args]
    try:
        ds = op.numeric_local(values[i], *xs)
    except _MATH_ERRORS:
        ds = local_grads(plan, values, i)
    n = plan.size
    for slot, (j, dj) in enumerate(zip(args, ds)):
        if j >= n:
            continue  # a constant takes no gradient
        c = _times(d, dj)
        if type(c) is Undefined:
            if c.origin is None:
                c = _undefined(plan, values, i, slot, c.reason)
        elif ints:
            c = exact(c)
        g = grads[j]
        if g is not None:
            c = g + c
            if ints and type(c) is int:
                c = exact(c)
        grads[j] = c


def _settle(plan: Plan, values: list, grads: list, of: int) -> None:
    """Turn every gradient that is not a finite number into Undefined, saying where it arose:
    at a consumer whose own gradient is fine, the product or sum it passes on overflowed."""
    n = plan.size
    consumers: list[list[int]] = [[] for _ in range(n)]
    for c in range(of + 1):
        for j in plan.args[c]:
            if j < n:
                consumers[j].append(c)
    for j in range(of, -1, -1):
        g = grads[j]
        if g is None or type(g) is Undefined or is_finite(g):
            continue
        cause = next((grads[c] for c in consumers[j] if type(grads[c]) is Undefined), None)
        if cause is None:
            c = next((c for c in consumers[j] if grads[c] is not None), j)
            slot = plan.args[c].index(j) if c != j else 0
            cause = _undefined(plan, values, c, slot, "not a finite number (overflow)")
        grads[j] = cause


def local_grads(plan: Plan, values: list, i: int):
    """Node i's local derivative for each operand (Undefined where it is not a number), by its op's
    `local` code with proper op calls."""
    xs = [values[j] for j in plan.args[i]]
    try:
        ds = plan.ops[i].local(values[i], *xs)
    except _MATH_ERRORS as e:
        return (Undefined(domain_reason(e)),) * len(xs)
    return tuple(d if type(d) is Undefined or is_finite(d) else Undefined("not a finite number (overflow)")
                 for d in ds)


def _times(dout, d):
    if type(dout) is Undefined:
        return dout
    if type(d) is Undefined:
        return d
    g = exact(dout * d)
    return g if is_finite(g) else Undefined("not a finite number (overflow)")


def _undefined(plan: Plan, values: list, i: int, slot: int, reason: str) -> Undefined:
    """An undefined gradient that says where it arose: node i's derivative in its operand `slot`."""
    j = plan.args[i][slot]
    xs = [values[k] for k in plan.args[i]]
    return Undefined(f"node '{shorten(plan.names[i])}' = {plan.ops[i].name}({shown_operands(xs)}): the gradient "
                     f"it passes to '{shorten(plan.names[j])}' is undefined: {reason}", i)


def shown_operands(xs: list) -> str:
    """Operand values for a message, the middle of a long list left out."""
    if len(xs) > 8:
        return ", ".join(shorten(repr(x)) for x in xs[:4]) + f", … ({len(xs) - 6:,} more) …, " + \
            ", ".join(shorten(repr(x)) for x in xs[-2:])
    return ", ".join(shorten(repr(x)) for x in xs)


def node_error(plan: Plan, i: int, xs: list, reason: str):
    """The located error for node i, whose value cannot be computed from operands `xs`."""
    return plan.error(f"node '{shorten(plan.names[i])}' = {plan.ops[i].name}({shown_operands(xs)}): {reason}", i)
