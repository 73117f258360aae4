"""The reference engine: backpropagation with nothing in the way, the executable specification.

A topological order (the plan's positions), a loop forward, a loop back that
does ``grad[x] += dout * local`` with each op's own `local`, as micrograd's
backward reads. The fast engines (engine.py on numbers, arrays.py on arrays and
scenarios) must give what this gives, and the tests hold them to it; cgraph
itself runs this where the fast engine meets a value or gradient that is not a
number, to say which node and why.

Two rules beyond the chain rule:
- `where` needs only the branch it takes. A node that only untaken branches use
  is not needed: its failure is no error, and it passes back only zeros.
- Select, don't multiply: where an op that selects (where, relu, max) gives an
  operand the local derivative 0, that operand gets exactly 0, whatever arrives.
"""

from __future__ import annotations

from .errors import shorten
from .graph import Plan
from .op import Undefined, Unused, domain_reason, exact, is_finite

_MATH_ERRORS = (ArithmeticError, ValueError)


def evaluate(plan: Plan, given: list, of: int, gradients: bool = True) -> tuple[list, list | None, bytearray]:
    """Every position's value, d(of)/d(node) (None where nothing arrived) and which nodes are needed;
    the located error of the first needed node without a value. One not needed without one is `Unused`."""
    values, n = list(given), plan.size
    for i, op in enumerate(plan.ops):
        if op is not None:
            xs = [values[j] for j in plan.args[i]]
            v = op(*xs)  # a number, or Undefined saying why there is none
            values[i] = (
                Undefined(plan.node_text(i, xs, v.reason), i) if type(v) is Undefined and v.origin is None else v
            )
    needed = bytearray(n)
    for i in [of, *map(plan.index.__getitem__, plan.sinks)]:
        needed[i] = 1
    for i in range(n - 1, -1, -1):
        op = plan.ops[i]
        if needed[i] and op is not None:
            for j, used in zip(plan.args[i], op.used(*[values[j] for j in plan.args[i]])):
                if used and not plan.is_literal(j):
                    needed[j] = 1
    for i in range(n):
        if type(values[i]) is Undefined:
            if needed[i]:
                raise plan.error(values[i].reason, values[i].origin)
            values[i] = Unused(f"only a branch `where` does not take uses it, and it has no value ({values[i].reason})")
    if not gradients:
        return values, None, needed
    grads: list = [None] * n
    grads[of] = 1
    for i in range(of, -1, -1):
        if grads[i] is not None and plan.ops[i] is not None:
            for j, c in zip(plan.args[i], sends(plan, values, needed, i, grads[i])):
                if c is not None:  # (None: a literal or a constant, which takes no gradient)
                    grads[j] = c if grads[j] is None else _sum(grads[j], c, plan, j)
    return values, grads, needed


def sends(plan: Plan, values: list, needed, i: int, d) -> list:
    """What node i passes back to each operand from `d` arriving at it: d times the local derivative,
    Undefined (saying where) where that is not a number; None for a literal or a constant."""
    op = plan.node_op(i)
    if needed is not None and not needed[i]:  # a node not needed passes back the zero it got
        return [d if plan.takes_gradient(j) else None for j in plan.args[i]]
    xs = [values[j] for j in plan.args[i]]
    out = []
    for k, (j, dj) in enumerate(zip(plan.args[i], local(op, values[i], xs))):
        c = _product(d, dj) if plan.takes_gradient(j) else None
        if type(c) is Undefined and type(d) is not Undefined and not (op.selects and dj == 0):
            c = _product_first(op, d, values[i], xs, k)  # (d / x where 1/x alone overflows)
        if type(c) is Undefined:
            if op.selects and dj == 0:
                c = 0.0  # select, don't multiply
            elif c.origin is None:
                c = Undefined(plan.gradient_text(i, xs, k, c.reason), i)
        out.append(c)
    return out


def local(op, out, xs: list) -> tuple:
    """The op's local derivatives at these numbers, Undefined (saying why) where one is not a number."""
    try:
        ds = op.local(out, *xs)
    except _MATH_ERRORS as e:
        return (Undefined(domain_reason(e)),) * len(xs)
    return tuple(d if type(d) is Undefined or is_finite(d) else Undefined("not a finite number (overflow)") for d in ds)


def _product(d, dj):
    if type(d) is Undefined or type(dj) is Undefined:
        return d if type(d) is Undefined else dj
    c = exact(d * dj)  # integers stay exact while small, as an op's result does
    return c if is_finite(c) else Undefined("not a finite number (overflow)")


def _product_first(op, d, out, xs: list, k: int):
    from .symbols import times_local

    c = times_local(op, d, out, xs, k)
    return c if type(c) is Undefined or is_finite(c) else Undefined("not a finite number (overflow)")


def _sum(g, c, plan: Plan, j: int):
    if type(g) is Undefined or type(c) is Undefined:
        return g if type(g) is Undefined else c
    s = exact(g + c)
    if is_finite(s):
        return s
    return Undefined(f"the gradients arriving at '{shorten(plan.names[j])}' add up past the float range", j)
