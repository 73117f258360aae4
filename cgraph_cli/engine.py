"""Forward and backward passes over a compiled graph: values, then gradients by the chain rule.

Values are strict: one that is not a finite number stops evaluation with an
error naming the node. Gradients are not: where a local derivative is not a
finite number (ln of a negative base in pow's exponent gradient), the
gradients it feeds are `Undefined`, carrying the reason, and only a command
that needs one of them fails.

The loops are flat and lean, and the engine knows no op by name: schedule.py
learns the shape of each op's local derivatives from the op's own `local`
code ("each operand gets dout" is add's; "dout times the other" is mul's) and
groups wide levels of like nodes to be computed a list at a time. Finiteness
is checked for a whole pass at once; only a failed check looks closer.
Integers stay exact while small (the book's 2 apples) and become floats past
2**53, at the same points a derived graph's ops do.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from itertools import compress, repeat
from operator import is_not, mul, neg, not_

from .errors import shorten
from .graph import Plan, paused_gc
from .ops import EXACT_INT, Number, Undefined, domain_reason, exact, is_finite
from .schedule import MINUS, ONES, OTHER, OUT, PLUS_MINUS, SWAP, Group, Program, program, run_vector_local, shape

_MATH_ERRORS = (ArithmeticError, ValueError)
_IS_NOT_NONE = partial(is_not, None)


class Result:
    """Every node's value and its gradient d(of)/d(node), by evaluation position."""

    __slots__ = ("plan", "values", "grads", "has_grads", "of", "reached")

    def __init__(self, plan: Plan, values: list, grads: list | None, of: int, reached: bytearray):
        self.plan = plan
        self.values = values  # positions 0..n-1 are nodes, n.. the constants
        self.has_grads = grads is not None  # false when no backward pass ran (draw --no-grad)
        self.grads: list = grads if grads is not None else []  # 0..n-1: a number, Undefined, None (a constant)
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

    @property
    def of_text(self) -> str:
        """What the gradients are of: the output, or for an array output the sum of its elements."""
        return f"sum({self.of_name})" if getattr(self.value, "ndim", 0) else self.of_name

    def value_of(self, name: str) -> Number:
        """The value of a named node (or of one element of an array, `W1[0, 1]`)."""
        return self._at(name, self.values)

    def grad_of(self, name: str):
        """d(of)/d(name) for a named node (or one element of an array): a number, or Undefined."""
        return self._at(name, self.grads)

    def _at(self, name: str, values: list):
        i = self.plan.index.get(name)
        if i is not None:
            return values[i]
        name, element = self.plan.element(name)
        value = values[self.plan.index[name]]
        return float(value[element]) if element is not None and hasattr(value, "shape") else value

    def needed_grad(self, name: str) -> Number:
        """d(of)/d(name), or the error saying why it is undefined (for a command that needs it)."""
        g = self.grad_of(name)
        if type(g) is Undefined:
            raise self.plan.error(f"d({shorten(self.of_name)})/d({shorten(name)}) is undefined: {g.reason}", g.origin)
        return g

    def elasticity(self, name: str):
        """d(of)/d(name) * name / of: the percent change of the output per percent change of `name`
        (Undefined where the gradient is, or where the output is 0)."""
        g = self.grad_of(name)
        if type(g) is Undefined:
            return g
        if self.value == 0:
            return Undefined("the output is 0, so it has no percent change")
        e = g * self.value_of(name) / self.value
        return e if is_finite(e) else Undefined("not a finite number (overflow)")

    def undefined(self) -> list[tuple[int, Undefined]]:
        """(position, Undefined) for every node whose gradient is undefined, in evaluation order."""
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
        if plan.arrays:  # an array op has no local derivative to show: only what it sends
            from .arrays import edge_sends

            return edge_sends(self, i)
        dout = self.grads[i]
        return [
            (d, _times(dout, d)) if j < n and j not in plan.fixed else None
            for j, d in zip(plan.args[i], local_grads(plan, self.values, i))
        ]


def evaluate(
    plan: Plan, overrides: Mapping[str, Number] | None = None, of: str | None = None, gradients: bool = True
) -> Result:
    """Run the forward pass, then (unless `gradients` is false) the backward pass from `of`."""
    if plan.arrays:
        from . import arrays

        return arrays.evaluate(plan, overrides, of, gradients)
    target = plan.output_position(of)
    n = plan.size
    with paused_gc():
        slots, schedule = _forward(plan, overrides or {})
        values = schedule.in_evaluation_order(slots, n) + plan.constants
        if not gradients:
            return Result(plan, values, None, target, bytearray(n))
        grads = schedule.in_evaluation_order(_backward(plan, slots, schedule, target), n)
        if not is_finite(sum(filter(_IS_NOT_NONE, grads))):  # inf, nan and Undefined all reach the sum
            _settle(plan, values, grads, target)
        reached = bytearray(map(_IS_NOT_NONE, grads))
        for i in compress(range(n), map(not_, reached)):  # what the pass never reached has gradient 0
            grads[i] = 0
        for i in plan.fixed:  # a constant has no gradient
            grads[i] = None
        return Result(plan, values, grads, target, reached)


def forward(plan: Plan, overrides: Mapping[str, Number]) -> list:
    """Every node's value in evaluation order, the constants after them."""
    if plan.arrays:
        from . import arrays

        return arrays.forward(plan, overrides)
    slots, schedule = _forward(plan, overrides)
    return schedule.in_evaluation_order(slots, plan.size) + plan.constants


# -- forward -----------------------------------------------------------------------------------


def _forward(plan: Plan, overrides: Mapping[str, Number]) -> tuple[list, Program]:
    """The values kept by slot (see schedule.py), and the schedule."""
    given = plan.given(overrides)
    schedule = program(plan, given)
    slots = [None] * plan.size + plan.constants
    slot = schedule.slot
    for p in plan.inputs:
        slots[slot[p]] = given[p]
    big = EXACT_INT
    try:
        for segment in schedule.segments:
            if type(segment) is Group:  # a level's like nodes, a list at a time
                slots[segment.start : segment.stop] = map(segment.f, *[get(slots) for get in segment.getters])
                continue
            for count, x, a, b, f, maybe_int in segment.forward:
                if count == 2:
                    v = f(slots[a], slots[b])
                elif count == 1:
                    v = f(slots[a])
                else:  # b holds all the operands
                    v = f(*[slots[j] for j in b])
                if maybe_int and type(v) is int and not -big <= v <= big:
                    v = exact(v)
                slots[x] = v
    except _MATH_ERRORS:
        _raise_bad_value(plan, given)
    if not is_finite(sum(slots)):  # inf and nan reach the sum; a finite sum means every value is
        _raise_bad_value(plan, given)
    return slots, schedule


def _raise_bad_value(plan: Plan, values: list) -> None:
    """The error for the first node, in evaluation order, whose value is not a finite number: the
    values are worked out again one node at a time, each op's own forward step saying what is wrong."""
    values = values[:]
    for i, op in enumerate(plan.ops):
        if op is None:
            continue
        xs = [values[j] for j in plan.args[i]]
        try:
            v = exact(op.forward(*xs))
        except _MATH_ERRORS as e:
            raise node_error(plan, i, xs, domain_reason(e)) from None
        if not is_finite(v):
            raise node_error(plan, i, xs, "the value is not a finite number (overflow)")
        values[i] = v
    # Every value is finite though their sum is not (it overflowed): nothing is wrong.


# -- backward --------------------------------------------------------------------------------------
#
# Integers stay exact while small (the seed d(of)/d(of) is the integer 1, so add and sub pass
# integer gradients on): a product or sum that is an integer past 2**53 becomes a float, as an
# op's result does, so none grows without bound and derive's nodes do the same arithmetic.


def _backward(plan: Plan, slots: list, schedule: Program, of: int) -> list:
    """d(of)/d(node) by slot: upstream gradient times local derivative, summed over consumers.

    None where the pass never reached (the node does not lead to `of`): its gradient is 0.
    Undefined where a local derivative on the way is not a finite number.
    """
    grads: list = [None] * len(slots)  # constants' slots are written and ignored
    grads[schedule.slot[of]] = 1
    for segment in reversed(schedule.segments):
        if type(segment) is Group:
            _group_backward(plan, slots, grads, segment)
        else:
            _run_backward(plan, slots, grads, segment.backward)
    return grads


def _run_backward(plan: Plan, slots: list, grads: list, steps: list) -> None:
    """The backward steps of nodes run one at a time (in reverse), by the shape of their derivatives:
    each node passes dout times its local derivative to its operands (at most two here; more, and
    anything unusual, in _sends), and contributions from several consumers add up."""
    big = EXACT_INT
    for shape_, x, args, op, p in steps:
        d = grads[x]
        if d is None:
            continue  # the node does not lead to `of`
        b = None
        if shape_ == SWAP:  # the book's MulLayer: dx = dout * y, dy = dout * x
            a, b = args
            c, e = d * slots[b], d * slots[a]
        elif shape_ == ONES:  # the book's AddLayer: each operand gets dout
            if len(args) != 2:
                _add(grads, [(a, d) for a in args])
                continue
            (a, b), c, e = args, d, d
        elif shape_ == PLUS_MINUS:
            (a, b), c, e = args, d, -d
        elif len(args) == 1:
            a = args[0]
            if shape_ == OUT:
                c = d * slots[x]
            elif shape_ == MINUS:
                c = -d
            else:  # dout times its op's `local` on numbers (the careful way if that raises)
                try:
                    c = d * op.numeric_local(slots[x], slots[a])[0]
                except _MATH_ERRORS:
                    c = _careful_sends(plan, p, slots[x], [slots[a]], args, d)[0][1]
        else:
            _add(grads, _sends(plan, slots, x, args, op, p, d))
            continue
        # Written out twice rather than called: this is the engine's innermost loop.
        if type(c) is int and not -big <= c <= big:
            c = exact(c)  # an integer product past 2**53: a float, as a mul node's would be
        g = grads[a]
        if g is None:
            grads[a] = c
        else:
            g = g + c
            grads[a] = g if type(g) is not int or -big <= g <= big else exact(g)
        if b is not None:
            if type(e) is int and not -big <= e <= big:
                e = exact(e)
            g = grads[b]
            if g is None:
                grads[b] = e
            else:
                g = g + e
                grads[b] = g if type(g) is not int or -big <= g <= big else exact(g)


def _add(grads: list, sends) -> None:
    """Add contributions into the gradients; an integer product or sum past 2**53 becomes a float."""
    big = EXACT_INT
    for a, c in sends:
        if type(c) is int and not -big <= c <= big:
            c = exact(c)
        g = grads[a]
        if g is None:
            grads[a] = c
        else:
            g = g + c
            grads[a] = g if type(g) is not int or -big <= g <= big else exact(g)


def _sends(plan: Plan, slots: list, x: int, args, op, p: int, d) -> list:
    """(operand slot, contribution) for each operand of the node in slot x, by its op's `local` run
    on numbers (the careful way where that raises)."""
    xs = [slots[a] for a in args]
    try:
        ds = op.numeric_local(slots[x], *xs)
    except _MATH_ERRORS:
        return _careful_sends(plan, p, slots[x], xs, args, d)
    return [(a, d * dj) for a, dj, j in zip(args, ds, plan.args[p]) if j < plan.size]


def _careful_sends(plan: Plan, p: int, out, xs: list, targets, d) -> list:
    """The contributions of node p (plan position) to its operands (`targets`), with the op calls
    proper: where a local derivative is not a number, Undefined, saying which node and why."""
    ds = local_grads(plan, [], p, out, xs)
    sends = []
    for slot_, (target, j, dj) in enumerate(zip(targets, plan.args[p], ds)):
        if j < plan.size:  # a constant takes no gradient
            c = _times(d, dj)
            if type(c) is Undefined and c.origin is None:
                c = _undefined(plan, p, xs, slot_, c.reason)
            sends.append((target, c))
    return sends


def _group_backward(plan: Plan, slots: list, grads: list, group: Group) -> None:
    """A group's backward step a list at a time: its op's local derivatives as a vector program, times
    the douts, added into the operands' gradients slot by slot (every member's first operand, then
    every member's second: `cgraph derive` adds a group's contributions in this order too)."""
    douts = grads[group.start : group.stop]
    size = group.stop - group.start

    def one_at_a_time(shape_: int) -> None:
        _run_backward(
            plan,
            slots,
            grads,
            [
                (shape_, group.start + m, tuple(ks[m] for ks in group.operands), group.op, p)
                for m, p in enumerate(group.positions)
            ],
        )

    if None in douts:  # some members do not lead to `of`: take the members one at a time
        return one_at_a_time(shape(group.op, len(group.operands)))
    try:
        operands = [get(slots) for get in group.getters]
        derivatives = run_vector_local(group.derivatives, slots[group.start : group.stop], operands, size)
        sends = [
            douts
            if type(d) is int and d == 1
            else list(map(neg, douts))
            if type(d) is int and d == -1
            else list(map(mul, douts, repeat(d, size) if type(d) in (int, float) else d))
            for d in derivatives
        ]
    except _MATH_ERRORS:  # a local derivative that is not a number somewhere: one at a time, carefully
        return one_at_a_time(OTHER)
    if group.integer_operands and int in map(type, douts):  # integer products past 2**53: floats
        sends = [cs if cs is douts or int not in map(type, cs) else list(map(exact, cs)) for cs in sends]
    big = EXACT_INT
    for targets, cs in zip(group.operands, sends):
        if int not in map(type, cs):  # float contributions: every sum is a float (the common case)
            for a, c in zip(targets, cs):
                g = grads[a]
                grads[a] = c if g is None else g + c
            continue
        for a, c in zip(targets, cs):
            g = grads[a]
            if g is None:
                grads[a] = c
            else:
                g = g + c
                grads[a] = g if type(g) is not int or -big <= g <= big else exact(g)


def _settle(plan: Plan, values: list, grads: list, of: int) -> None:
    """Turn every gradient that is not a finite number into Undefined, saying where it arose:
    at a consumer whose own gradient is fine, the product or sum it passes on overflowed."""
    n = plan.size
    consumers: list[list[int]] = [[] for _ in range(n)]
    for c in range(n):
        for j in plan.args[c]:
            if j < n:
                consumers[j].append(c)
    for j in range(n - 1, -1, -1):
        g = grads[j]
        if g is None or type(g) is Undefined or is_finite(g):
            continue
        cause = next((grads[c] for c in consumers[j] if type(grads[c]) is Undefined), None)
        if cause is None:
            c = next((c for c in consumers[j] if grads[c] is not None), j)
            slot_ = plan.args[c].index(j) if c != j else 0
            cause = _undefined(plan, c, [values[k] for k in plan.args[c]], slot_, "not a finite number (overflow)")
        grads[j] = cause


def local_grads(plan: Plan, values: list, i: int, out=None, xs: list | None = None):
    """Node i's local derivative for each operand (Undefined where it is not a number), by its op's
    `local` code with the op calls proper; from `values` by evaluation position, or `out` and `xs`."""
    if xs is None:
        xs, out = [values[j] for j in plan.args[i]], values[i]
    try:
        ds = plan.node_op(i).local(out, *xs)
    except _MATH_ERRORS as e:
        return (Undefined(domain_reason(e)),) * len(xs)
    return tuple(d if type(d) is Undefined or is_finite(d) else Undefined("not a finite number (overflow)") for d in ds)


def _times(dout, d):
    if type(dout) is Undefined:
        return dout
    if type(d) is Undefined:
        return d
    g = exact(dout * d)
    return g if is_finite(g) else Undefined("not a finite number (overflow)")


def _undefined(plan: Plan, i: int, xs: list, slot_: int, reason: str) -> Undefined:
    """An undefined gradient that says where it arose: node i's derivative in its operand `slot_`."""
    j = plan.args[i][slot_]
    return Undefined(
        f"node '{shorten(plan.names[i])}' = {plan.op_name(i)}({shown_operands(xs)}): the gradient "
        f"it passes to '{shorten(plan.names[j])}' is undefined: {reason}",
        i,
    )


def shown_operands(xs: list) -> str:
    """Operand values for a message, the middle of a long list left out."""
    if len(xs) > 8:
        return (
            ", ".join(shorten(repr(x)) for x in xs[:4])
            + f", … ({len(xs) - 6:,} more) …, "
            + ", ".join(shorten(repr(x)) for x in xs[-2:])
        )
    return ", ".join(shorten(repr(x)) for x in xs)


def node_error(plan: Plan, i: int, xs: list, reason: str):
    """The located error for node i, whose value cannot be computed from operands `xs`."""
    return plan.error(f"node '{shorten(plan.names[i])}' = {plan.op_name(i)}({shown_operands(xs)}): {reason}", i)
