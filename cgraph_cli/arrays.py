"""The array engine: a graph whose values are numpy arrays, forward and backward, a node at a time.

A graph is evaluated here when an input or constant is an array, or a node uses
an op of arrays alone (layers.py) or an attribute. Each node is one numpy call,
so a node over a 100 × 10 batch costs what numpy costs, with no Python loop over
elements. Shapes are inferred and checked when the graph is loaded, before
anything is evaluated.

Backward: an op of arrays alone gives its own backward step, as the book's layers
do; an element-by-element op gives `dout * local` (its own `local` code from
ops.py, run on arrays), summed back over the axes broadcasting added. The
gradient of an array output is the gradient of the sum of its elements (the
seed is an array of ones).

Scalar graphs never come here, and never import numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .engine import Result, shown_operands
from .errors import RequestError, shorten
from .graph import Plan
from .layers import ShapeError, broadcast, sum_to, text
from .ops import OpDomainError, Undefined, domain_reason


def shape_of(value) -> tuple[int, ...]:
    """The shape of a value: () for a number."""
    return tuple(getattr(value, "shape", ()))


# The most elements any array may hold (80 MB of float64): past it a few bytes of file (a matmul of
# a column by a row) could ask for gigabytes.
MAX_ELEMENTS = 10_000_000


def infer_shapes(plan: Plan) -> list[tuple[int, ...]]:
    """Every position's shape (values by evaluation position, then the constants), or the located
    error of the first node whose operands' shapes do not fit its op or whose result is too large."""
    n = plan.size
    shapes: list = [shape_of(v) for v in plan.values] + [()] * len(plan.constants)
    for i in range(n):
        op = plan.ops[i]
        if op is None:
            continue
        operand_shapes = [shapes[j] for j in plan.args[i]]
        try:
            shapes[i] = (op.infer or broadcast)(*operand_shapes, **plan.attributes(i))
        except ShapeError as e:
            raise plan.error(f"node '{shorten(plan.names[i])}': {op.name}: {e}", i) from None
        if math.prod(shapes[i]) > MAX_ELEMENTS:
            raise plan.error(
                f"node '{shorten(plan.names[i])}': {op.name} of {', '.join(map(text, operand_shapes))} would hold "
                f"{math.prod(shapes[i]):,} elements; an array holds at most {MAX_ELEMENTS:,}",
                i,
            )
    return shapes


def not_finite_at(np, v) -> tuple[int, ...] | None:
    """Where the first element of `v` that is not a finite number stands (None where all are)."""
    if np.isfinite(v).all():
        return None
    return tuple(int(k) for k in np.unravel_index(int(np.flatnonzero(~np.isfinite(v))[0]), np.shape(v)))


def given_arrays(np, plan: Plan, overrides: Mapping) -> list:
    """The values a run starts from as float arrays: inputs (with --set) and constants."""
    given = plan.given(overrides)
    for name in overrides:
        i = plan.index[name]
        if shape_of(plan.values[i]) != ():
            raise RequestError(
                f"'{shorten(name)}' is an array of shape {text(shape_of(plan.values[i]))}; "
                "--set gives numbers to inputs that are numbers",
                plan.source,
                "set",
            )
    return [None if v is None else np.asarray(v, dtype=float) for v in given]


def forward(plan: Plan, overrides: Mapping) -> list:
    """Every node's value (numpy arrays) in evaluation order, the constants after them; the located
    error of the first node with an element that is not a finite number."""
    import numpy as np

    return forward_pass(np, plan, given_arrays(np, plan, overrides))


def forward_pass(np, plan: Plan, values: list) -> list:
    """Fill in every node's value in `values` (the inputs' and constants' given, as float arrays),
    in evaluation order; the located error of the first node that has no finite value."""
    with np.errstate(all="ignore"):
        for i, op in enumerate(plan.ops):
            if op is None:
                continue
            xs = [values[j] for j in plan.args[i]]
            try:
                v = np.asarray(op.array(np, *xs, **plan.attributes(i)), dtype=float)
            except (OpDomainError, ArithmeticError, ValueError) as e:
                raise _node_error(plan, i, xs, domain_reason(e)) from None
            at = not_finite_at(np, v)
            if at is not None:
                raise _node_error(plan, i, xs, _why_not_finite(np, plan, i, xs, v, at))
            values[i] = v
    return values


def _why_not_finite(np, plan: Plan, i: int, xs: list, v, at: tuple) -> str:
    """Why element `at` of node i is not a finite number (the op on that element's operands)."""
    where = f"element {list(at)}" if v.ndim else "the value"
    op = plan.node_op(i)
    reason = "not a finite number"
    if not op.arrays_only:
        scalars = [float(np.broadcast_to(x, v.shape)[at]) for x in xs]
        got = op(*scalars)
        if type(got) is Undefined:
            reason = got.reason
        where += f" ({op.name}({shown_operands(scalars)}))"
    return f"{where}: {reason}"


def _node_error(plan: Plan, i: int, xs: list, reason: str):
    shapes = ", ".join(text(shape_of(x)) if shape_of(x) else repr(float(x)) for x in xs)
    return plan.error(f"node '{shorten(plan.names[i])}' = {plan.op_name(i)}({shapes}): {reason}", i)


def backward(np, plan: Plan, values: list, target: int) -> list:
    """d(sum of target's elements)/d(node) for every node, by evaluation position: each node's
    backward step from the gradient arriving at it, added up over its consumers. None where
    nothing arrived (the node does not lead to the target); Undefined where a step gave no number."""
    n = plan.size
    grads: list = [None] * n
    grads[target] = np.ones_like(values[target])
    with np.errstate(all="ignore"):
        for i in range(target, -1, -1):
            dout = grads[i]
            if dout is None or plan.ops[i] is None:
                continue
            for j, g in zip(plan.args[i], sends(np, plan, values, i, dout)):
                if j >= n or j in plan.fixed:
                    continue
                if type(grads[j]) is Undefined:
                    continue  # undefined stays undefined, saying where it first arose
                grads[j] = g if grads[j] is None or type(g) is Undefined else grads[j] + g
    return grads


def sends(np, plan: Plan, values: list, i: int, dout) -> list:
    """What node i passes to each operand: its op's backward step from `dout` (or dout times its
    local derivatives, summed back to the operand's shape); Undefined, saying where, for a
    gradient that is not a number. `values` by evaluation position, numbers or arrays (a
    Result's too: only node i's and its operands' are read)."""
    op = plan.node_op(i)
    out = np.asarray(values[i], dtype=float)
    xs = [np.asarray(values[j], dtype=float) for j in plan.args[i]]
    if type(dout) is Undefined:
        return [dout] * len(xs)
    with np.errstate(all="ignore"):  # a gradient that is no number is said below, not warned of
        if op.backward is not None:
            gs = list(op.backward(np, dout, out, *xs, **plan.attributes(i)))
        else:
            local = op.array_local(np)(out, *xs)
            gs = [sum_to(np, np.broadcast_to(dout * d, out.shape), x.shape) for d, x in zip(local, xs)]
    sent = []
    for j, g in zip(plan.args[i], gs):
        if type(g) is not Undefined:
            g = np.asarray(g, dtype=float)
            at = not_finite_at(np, g)
            if at is not None:
                g = Undefined(f"element {list(at)} is not a finite number" if g.ndim else "not a finite number")
        if type(g) is Undefined and g.origin is None and j < plan.size:
            g = Undefined(
                f"node '{shorten(plan.names[i])}' = {op.name}(…): the gradient it passes to "
                f"'{shorten(plan.names[j])}' is undefined: {g.reason}",
                i,
            )
        sent.append(g)
    return sent


def edge_sends(result: Result, i: int) -> list:
    """What node i sent each operand on the backward pass: (None, gradient) per operand (no local
    derivative: an array op's is a matrix, not a number), None for a constant."""
    import numpy as np

    plan = result.plan
    dout = result.grads[i]
    sent = sends(np, plan, result.values, i, dout if type(dout) is Undefined else np.asarray(dout, dtype=float))
    return [None if j >= plan.size or j in plan.fixed else (None, plain(g)) for j, g in zip(plan.args[i], sent)]


def evaluate(plan: Plan, overrides: Mapping | None = None, of: str | None = None, gradients: bool = True) -> Result:
    """Forward, then (unless `gradients` is false) backward from `of` (from the sum of its elements,
    where it is an array)."""
    import numpy as np

    target = plan.output_position(of)
    n = plan.size
    values = forward_pass(np, plan, given_arrays(np, plan, overrides or {}))
    if not gradients:
        return Result(plan, _plain(values), None, target, bytearray(n))
    grads = backward(np, plan, values, target)
    reached = bytearray(g is not None for g in grads)
    for i in range(n):
        if grads[i] is None:
            grads[i] = np.zeros_like(values[i])
    for i in plan.fixed:
        grads[i] = None
    return Result(plan, _plain(values), _plain(grads), target, reached)


def plain(value):
    """A value of no dimensions as a Python float (so it prints, and compares, as a number does);
    an array or a number as it is."""
    return float(value) if getattr(value, "ndim", None) == 0 else value


def _plain(values: list) -> list:
    return list(map(plain, values))
