"""The fast engine on numbers: what reference.py does, in the same arithmetic order, quicker.

Values are strict: one that is not a finite number stops evaluation with an
error naming the node (unless only a branch `where` does not take uses it).
Gradients are not: where a local derivative is not a finite number (ln of a
negative base in pow's exponent gradient), the gradients it feeds are
`Undefined`, carrying the reason, and only a command that needs one of them
fails. The fast loops only notice that something is not a number; the
reference engine then runs and says where and why.

The loops are flat and lean, and the engine knows no op by name: schedule.py
learns the pattern of each op's local derivatives from the op's own `local`
code ("each operand gets dout" is add's; "dout times the other" is mul's) and
groups wide levels of like nodes to be computed a list at a time. Finiteness
is checked for a whole pass at once.
Integers stay exact while small (the book's 2 apples) and become floats past
2**53, at the same points a derived graph's ops do.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import compress, repeat
from operator import is_not, mul, neg, not_

from . import reference
from .graph import Plan, paused_gc
from .op import EXACT_INT, Number, Undefined, exact, is_finite
from .result import Result
from .schedule import MINUS, ONES, OTHER, OUT, PLUS_MINUS, SWAP, Group, Program, pattern, program, run_vector_local

_MATH_ERRORS = (ArithmeticError, ValueError)
_NAN = float("nan")


def evaluate(
    plan: Plan, overrides: Mapping[str, Number] | None = None, of: str | None = None, gradients: bool = True
) -> Result:
    """Run the forward pass, then (unless `gradients` is false) the backward pass from `of`."""
    if plan.arrays:
        from . import arrays

        return arrays.evaluate(plan, overrides, of, gradients)
    target = plan.output_position(of)
    n = plan.size
    given = plan.given(overrides or {})
    with paused_gc():
        values, grads = _fast(plan, given, target, gradients)
        needed: bytearray | None = None
        if values is None:  # something is not a number: the reference engine says which node and why
            values, grads, needed = reference.evaluate(plan, given, target, gradients)
        if grads is None:
            return Result(plan, values, None, target, bytearray(n), needed)
        reached = bytearray(map(is_not, grads, repeat(None)))
        if 0 in reached:
            for i in compress(range(n), map(not_, reached)):  # what the pass never reached has gradient 0
                grads[i] = 0
        for i in plan.fixed:  # a constant has no gradient
            grads[i] = None
        return Result(plan, values, grads, target, reached, needed)


def edge_grads(result: Result, i: int) -> list:
    """What each operand of node i receives from it: upstream gradient x local derivative.

    (local, received) per operand, None for a constant. A node the backward
    pass never reached (it does not lead to `of`) sends nothing: (None, 0).
    """
    plan = result.plan
    if plan.ops[i] is None:
        return []
    if not result.reached[i]:
        return [None if plan.is_literal(j) else (None, 0) for j in plan.args[i]]
    if plan.arrays:  # an array op has no local derivative to show: only what it sends
        from .arrays import edge_sends

        return edge_sends(result, i)
    sent = reference.sends(plan, result.values, result.needed, i, result.grads[i])
    if result.needed is not None and not result.needed[i]:  # its local derivatives do not matter here
        return [None if c is None else (None, c) for c in sent]
    xs = [result.values[j] for j in plan.args[i]]
    return [None if c is None else (d, c) for c, d in zip(sent, reference.local(plan.ops[i], result.values[i], xs))]


def forward(plan: Plan, overrides: Mapping[str, Number]) -> list:
    """Every node's value in evaluation order, the constants after them (`Unused` for one not needed)."""
    return evaluate(plan, overrides, gradients=False).values


def _fast(plan: Plan, given: list, of: int, gradients: bool) -> tuple[list | None, list | None]:
    """Values and gradients by evaluation position, the fast way; (None, None) where some value or
    gradient is not a finite number (the reference engine then works out what to say)."""
    n = plan.size
    slots, schedule = _forward(plan, given)
    if slots is None:
        return None, None
    values = schedule.in_evaluation_order(slots, n) + plan.literals
    if not gradients:
        return values, None
    grads = schedule.in_evaluation_order(_backward(plan, slots, schedule, of), n)
    if not is_finite(sum(compress(grads, map(is_not, grads, repeat(None))))):  # inf and nan reach the sum
        return None, None
    return values, grads


# -- forward -----------------------------------------------------------------------------------


def _forward(plan: Plan, given: list) -> tuple[list | None, Program]:
    """The values kept by slot (see schedule.py), and the schedule; None for the values where one
    is not a finite number."""
    schedule = program(plan, given)
    slots = [None] * plan.size + plan.literals
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
        return None, schedule
    if not is_finite(sum(slots)):  # inf and nan reach the sum; a finite sum means every value is
        return None, schedule
    return slots, schedule


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
    """The backward steps of nodes run one at a time (in reverse), by the pattern of their derivatives:
    each node passes dout times its local derivative to its operands (at most two here; more, and
    anything unusual, in _sends), and contributions from several consumers add up."""
    big = EXACT_INT
    for kind, x, args, op, p in steps:
        d = grads[x]
        if d is None:
            continue  # the node does not lead to `of`
        b = None
        if kind == SWAP:  # the book's MulLayer: dx = dout * y, dy = dout * x
            a, b = args
            c, e = d * slots[b], d * slots[a]
        elif kind == ONES:  # the book's AddLayer: each operand gets dout
            if len(args) != 2:
                _add(grads, [(a, d) for a in args])
                continue
            (a, b), c, e = args, d, d
        elif kind == PLUS_MINUS:
            (a, b), c, e = args, d, -d
        elif len(args) == 1:
            a = args[0]
            if kind == OUT:
                c = d * slots[x]
            elif kind == MINUS:
                c = -d
            else:  # dout times its op's `local` on numbers (the careful way if that raises)
                try:
                    c = d * op.numeric_local(slots[x], slots[a])[0]
                except _MATH_ERRORS:
                    c = _NAN  # not a number: the reference engine says why
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
    except (
        _MATH_ERRORS
    ):  # the careful way: a derivative a literal operand takes (ln of pow's negative base) is no matter
        ds = [_NAN if type(dj) is Undefined else dj for dj in reference.local(op, slots[x], xs)]
    return [(a, d * dj) for a, dj, j in zip(args, ds, plan.args[p]) if not plan.is_literal(j)]


def _group_backward(plan: Plan, slots: list, grads: list, group: Group) -> None:
    """A group's backward step a list at a time: its op's local derivatives as a vector program, times
    the douts, added into the operands' gradients slot by slot (every member's first operand, then
    every member's second: `cgraph derive` adds a group's contributions in this order too)."""
    douts = grads[group.start : group.stop]
    size = group.stop - group.start

    def one_at_a_time(kind: int) -> None:
        _run_backward(
            plan,
            slots,
            grads,
            [
                (kind, group.start + m, tuple(ks[m] for ks in group.operands), group.op, p)
                for m, p in enumerate(group.positions)
            ],
        )

    if None in douts:  # some members do not lead to `of`: take the members one at a time
        return one_at_a_time(pattern(group.op, len(group.operands)))
    try:
        operands = [get(slots) for get in group.getters]
        derivatives = run_vector_local(group.derivatives, slots[group.start : group.stop], operands, size)
        sends = [
            None  # (a literal's: not wanted)
            if d is None
            else douts
            if type(d) is int and d == 1
            else list(map(neg, douts))
            if type(d) is int and d == -1
            else list(map(mul, douts, repeat(d, size) if type(d) in (int, float) else d))
            for d in derivatives
        ]
    except _MATH_ERRORS:  # a local derivative that is not a number somewhere: one at a time, carefully
        return one_at_a_time(OTHER)
    if group.integer_operands and int in map(type, douts):  # integer products past 2**53: floats
        sends = [cs if cs is None or cs is douts or int not in map(type, cs) else list(map(exact, cs)) for cs in sends]
    big = EXACT_INT
    for targets, cs in zip(group.operands, sends):
        if cs is None:
            continue
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
