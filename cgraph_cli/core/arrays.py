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

from collections.abc import Mapping

from .errors import RequestError, shorten, shown_operands
from .graph import Plan, shape_of
from .layers import sum_to, text
from .op import OpDomainError, Undefined, Unused, domain_reason
from .result import Result


def not_finite_at(np, v, among=None) -> tuple[int, ...] | None:
    """Where the first element of `v` (of those `among` marks, if given) that is not a finite number
    stands (None where all are)."""
    bad = ~np.isfinite(v)
    if among is not None:
        bad &= among
    return first_at(np, bad)


def first_at(np, mask) -> tuple[int, ...] | None:
    """Where the first true element of a mask stands (None where none is)."""
    if not mask.any():
        return None
    return tuple(int(k) for k in np.unravel_index(int(np.flatnonzero(mask)[0]), np.shape(mask)))


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
    error of the first needed node with an element that is not a finite number."""
    return evaluate(plan, overrides, gradients=False).values


def forward_pass(np, plan: Plan, values: list, of: int | None = None) -> tuple[list, list | None]:
    """Fill in every node's value in `values` (the inputs' and constants' given, as float arrays), in
    evaluation order. Returns them and which elements are needed (None: all, every value being a
    number and no `where` choosing); the located error of the first node needed for `of` (and
    the sinks) that has no value."""
    bad = run_forward(np, plan, values)
    if not bad and not has_guards(plan):
        return values, None
    needed = needed_masks(np, plan, values, plan.output_position() if of is None else of)
    for i in range(plan.size):
        at = None if plan.ops[i] is None else not_finite_at(np, values[i], needed[i])
        if at is not None:
            xs = [values[j] for j in plan.args[i]]
            raise plan.error(plan.node_text(i, xs, _why_not_finite(np, plan, i, xs, values[i], at)), i)
    return values, needed


def run_forward(np, plan: Plan, values: list, only: set | None = None) -> bool:
    """The forward pass, whatever the values (of the nodes in `only`, where given): whether some
    element is not a finite number."""
    bad = False
    with np.errstate(all="ignore"):
        for i, op in enumerate(plan.ops):
            if op is None or (only is not None and i not in only):
                continue
            xs = [values[j] for j in plan.args[i]]
            try:
                v = np.asarray(op.array(np, *xs, **plan.attributes(i)), dtype=float)
            except (OpDomainError, ArithmeticError, ValueError) as e:
                raise plan.error(plan.node_text(i, xs, domain_reason(e)), i) from None
            values[i] = v
            bad = bad or not np.isfinite(v).all()
    return bad


def has_guards(plan: Plan) -> bool:
    """Whether some node uses only some of its operands (a `where`): then which elements are needed
    is worked out on every pass, for a node not needed is not differentiated either."""
    return any(op is not None and op.uses is not None for op in plan.ops)


def element_by_element(op) -> bool:
    """Whether an op works element by element (broadcasting its operands), as the ops of numbers do."""
    return op.infer is None and not op.arrays_only


def needed_masks(np, plan: Plan, values: list, of: int) -> list:
    """For every position, which of its elements the values of `of` and of the sinks are made of
    (reference.py's rule, element by element: `where` needs only the branch it takes in each)."""
    n = plan.size
    needed: list = [None] * n
    for i in [of, *map(plan.index.__getitem__, plan.sinks)]:
        needed[i] = np.ones(np.shape(values[i]), dtype=bool)
    for i in range(n - 1, -1, -1):
        op, mask = plan.ops[i], needed[i]
        if op is None or mask is None:
            continue
        xs = [values[j] for j in plan.args[i]]
        if not element_by_element(op):  # an op of arrays alone needs all of its operands, or none
            masks = [np.full(np.shape(x), mask.any()) for x in xs]
        else:
            masks = [
                sum_to(np, np.broadcast_to(mask & used, mask.shape), np.shape(x)) > 0
                for x, used in zip(xs, op.used(*xs))
            ]
        for j, m in zip(plan.args[i], masks):
            if not plan.is_literal(j):
                needed[j] = m if needed[j] is None else needed[j] | m
    return [np.zeros(np.shape(v), dtype=bool) if m is None else m for v, m in zip(values, needed)]


def _failed_masks(np, plan: Plan, values: list) -> list:
    """For every position, which of its elements have no value: not a finite number, or made from an
    element without one (relu of nan is no number, whatever numpy's maximum says), as ops.Op reads it."""
    failed: list = []
    for i, op in enumerate(plan.ops):
        bad = ~np.isfinite(values[i])
        if op is not None:
            xs = [values[j] for j in plan.args[i]]
            for j, used in zip(plan.args[i], op.used(*xs)):
                if not plan.is_literal(j):
                    arrived = failed[j] & used if element_by_element(op) else np.full(bad.shape, failed[j].any())
                    bad = bad | np.broadcast_to(arrived, bad.shape)
        failed.append(bad)
    return failed


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


def backward(np, plan: Plan, values: list, target: int, needed: list | None = None, strict: bool = True) -> list:
    """d(sum of target's elements)/d(node) for every node, by evaluation position: each node's
    backward step from the gradient arriving at it, added up over its consumers. None where
    nothing arrived (the node does not lead to the target). Where a gradient has an element that
    is not a number, Undefined saying where that first arose (unless not `strict`: a sweep keeps
    nan and inf, each scenario on its own)."""
    n = plan.size
    grads: list = [None] * n
    grads[target] = np.ones_like(values[target])
    why: dict[int, Undefined] = {}  # a gradient that is not a number everywhere -> where that arose
    with np.errstate(all="ignore"):
        for i in range(target, -1, -1):
            dout = grads[i]
            if dout is None or plan.ops[i] is None:
                continue
            sent = sends(np, plan, values, i, dout, None if needed is None else needed[i], strict=False)
            for k, (j, g) in enumerate(zip(plan.args[i], sent)):
                if not plan.takes_gradient(j):
                    continue
                if type(g) is Undefined or type(grads[j]) is Undefined:  # (an op's own step may say why)
                    grads[j] = grads[j] if type(grads[j]) is Undefined else _located(plan, values, i, k, g)
                    continue
                if strict and j not in why and not np.isfinite(g).all():  # (a sweep keeps its nan: no need)
                    why[j] = why[i] if i in why else _located(plan, values, i, k, g)
                total = g if grads[j] is None else grads[j] + g
                if strict and j not in why and not np.isfinite(total).all():  # as reference.py says it
                    why[j] = Undefined(
                        f"the gradients arriving at '{shorten(plan.names[j])}' add up past the float range", j
                    )
                grads[j] = total
    if strict:
        for j, reason in why.items():
            if type(grads[j]) is not Undefined and not np.isfinite(grads[j]).all():
                grads[j] = reason
    return grads


def _located(plan: Plan, values: list, i: int, k: int, g) -> Undefined:
    """Why the gradient node i passes to its operand k is undefined, as an Undefined at node i."""
    if type(g) is Undefined:
        return (
            g if g.origin is not None else Undefined(plan.gradient_text(i, _operands(plan, values, i), k, g.reason), i)
        )
    import numpy as np

    g = np.asarray(g)
    at = not_finite_at(np, g) or ()
    reason = f"element {list(at)} is not a finite number" if g.ndim else "not a finite number"
    return Undefined(plan.gradient_text(i, _operands(plan, values, i), k, reason), i)


def _operands(plan: Plan, values: list, i: int) -> list:
    return [values[j] for j in plan.args[i]]


def sends(np, plan: Plan, values: list, i: int, dout, needed=None, strict: bool = True) -> list:
    """What node i passes to each operand: its op's backward step from `dout` (or dout times its
    local derivatives, summed back to the operand's shape). `needed`: which of node i's elements
    are needed (None: all); as in reference.py, an element not needed passes back the zero it
    got, and an op that selects passes exactly 0 to what it did not select. `strict`: Undefined,
    saying where, for a gradient with an element that is not a number. `values` by evaluation
    position, numbers or arrays (a Result's too: only node i's and its operands' are read)."""
    from .symbols import times_local

    op = plan.node_op(i)
    out = np.asarray(values[i], dtype=float)
    xs = [np.asarray(values[j], dtype=float) for j in plan.args[i]]
    if type(dout) is Undefined:
        return [dout] * len(xs)
    with np.errstate(all="ignore"):  # a gradient that is no number is said below, not warned of
        if not element_by_element(op):
            if needed is not None and not needed.any():
                gs = [np.zeros_like(x) for x in xs]
            else:
                assert op.backward is not None  # (an op of arrays alone gives its backward step)
                gs = list(op.backward(np, dout, out, *xs, **plan.attributes(i)))
        else:
            gs = []
            for k, (d, x) in enumerate(zip(op.array_local(np)(out, *xs), xs)):
                # (a local derivative of exactly 1, add's and sub's: dout itself, not a product of it)
                c = np.broadcast_to(dout if type(d) is int and d == 1 else dout * d, out.shape)
                if not np.isfinite(c).all():  # as reference.py: d / x where 1/x alone overflows
                    first = times_local(op, dout, out, xs, k, lambda o, *a: o.array(np, *a))
                    c = np.where(np.isfinite(c), c, first)
                if op.selects and not np.isfinite(c).all():
                    c = np.where(np.equal(d, 0), 0.0, c)  # select, don't multiply
                if needed is not None and not needed.all():
                    c = np.where(needed, c, dout)
                gs.append(sum_to(np, c, x.shape))
    if not strict:
        return gs
    return [
        _located(plan, values, i, k, g)
        if not plan.is_literal(j) and (type(g) is Undefined or not np.isfinite(g).all())
        else g
        for k, (j, g) in enumerate(zip(plan.args[i], gs))
    ]


def edge_sends(result: Result, i: int) -> list:
    """What node i sent each operand on the backward pass: (None, gradient) per operand (no local
    derivative: an array op's is a matrix, not a number), None for a constant."""
    import numpy as np

    plan = result.plan
    dout = result.grads[i]
    needed = None if result.needed is None else result.needed[i]
    sent = sends(np, plan, result.values, i, dout if type(dout) is Undefined else np.asarray(dout, dtype=float), needed)
    return [(None, as_number(g)) if plan.takes_gradient(j) else None for j, g in zip(plan.args[i], sent)]


def run(np, plan: Plan, values: list, target: int, gradients: bool = True) -> tuple[list, list | None, list | None]:
    """The array engine's pass from the given values (inputs' and literals' as float arrays): every
    value, which elements are needed (None: all), and d(sum of target)/d(node) (unless not
    `gradients`); the located error of the first needed node without a value."""
    values, needed = forward_pass(np, plan, values, target)
    return values, needed, backward(np, plan, values, target, needed) if gradients else None


def downstream(plan: Plan, starts) -> set:
    """The nodes whose values are made from those at the positions `starts`."""
    made = set(starts)
    for i in range(plan.size):
        if plan.ops[i] is not None and not made.isdisjoint(plan.args[i]):
            made.add(i)
    return made


def scenarios(np, plan: Plan, given: list, leaves: dict, size: int, target: int, gradients: bool = True, base=None):
    """The array engine over a scenario axis: every node's values and gradients (None unless
    `gradients`; nan or inf in a scenario where one is not a number), and per scenario the first
    needed node, in evaluation order, without a finite value (-1: none). `base`: the values and
    first_bad of a pass over the same scenarios, of which only `leaves` change: then only the
    nodes made from them are computed again."""
    if base is None:
        values = [None if v is None else np.full(size, v, dtype=float) for v in given[: plan.size]]
        values += [np.float64(v) for v in plan.literals]
    else:
        values = list(base[0])
    for p, column in leaves.items():
        values[p] = column
    if base is None:
        bad = run_forward(np, plan, values)
    else:  # (without guards, what is needed is the same in every pass: base's first_bad says it)
        bad = run_forward(np, plan, values, downstream(plan, leaves)) or bool((base[1] >= 0).any())
    for i in range(plan.size):  # (a node of constants alone has one value for every scenario)
        values[i] = np.broadcast_to(values[i], (size,))
    needed = needed_masks(np, plan, values, target) if bad or has_guards(plan) else None
    first_bad = np.full(size, -1)
    if needed is not None:
        for i in range(plan.size):
            first_bad[(first_bad < 0) & ~np.isfinite(values[i]) & needed[i]] = i
    return values, first_bad, backward(np, plan, values, target, needed, strict=False) if gradients else None


def evaluate(plan: Plan, overrides: Mapping | None = None, of: str | None = None, gradients: bool = True) -> Result:
    """Forward, then (unless `gradients` is false) backward from `of` (from the sum of its elements,
    where it is an array)."""
    import numpy as np

    target = plan.output_position(of)
    n = plan.size
    values, needed, grads = run(np, plan, given_arrays(np, plan, overrides or {}), target, gradients)
    shown = _as_numbers(values)
    if needed is not None:  # a value not needed here that has none: say so, not nan (nor relu(nan) = 0)
        for i, failed in enumerate(_failed_masks(np, plan, values)):
            at = first_at(np, failed)
            if at is not None:
                where = f"element {list(at)}" if np.ndim(values[i]) else "the value"
                shown[i] = Unused(f"only a branch `where` does not take uses {where}, and it has no value there")
    if grads is None:
        return Result(plan, shown, None, target, bytearray(n))
    reached = bytearray(g is not None for g in grads)
    for i in range(n):
        if grads[i] is None:
            grads[i] = np.zeros_like(values[i])
    for i in plan.fixed:
        grads[i] = None
    return Result(plan, shown, _as_numbers(grads), target, reached, needed)


def as_number(value):
    """A value of no dimensions as a Python float (so it prints, and compares, as a number does);
    an array or a number as it is."""
    return float(value) if getattr(value, "ndim", None) == 0 else value


def _as_numbers(values: list) -> list:
    return list(map(as_number, values))
