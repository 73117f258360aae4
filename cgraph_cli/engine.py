"""Forward and backward passes over a compiled graph: values, then gradients by the chain rule.

Values are strict: one that is not a finite number stops evaluation with an
error naming the node. Gradients are not: where a local derivative is not a
finite number (ln of a negative base in pow's exponent gradient), the
gradients it feeds are `Undefined`, carrying the reason, and only a command
that needs one of them fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .errors import shorten
from .model import Graph, Plan, compile_graph, paused_gc
from .ops import Number, Undefined, domain_reason, exact, is_finite

_MATH_ERRORS = (ArithmeticError, ValueError)


@dataclass(frozen=True, slots=True)
class Result:
    """Every node's value and its gradient d(of)/d(node), by evaluation position."""

    plan: Plan
    values: list  # positions 0..n-1 are nodes, n.. the constants
    grads: list | None  # positions 0..n-1: a number, or Undefined; None without a backward pass
    of: int
    reached: bytearray  # 1 where the backward pass ran: the node leads to `of`

    @property
    def of_name(self) -> str:
        """The name of the node that was differentiated."""
        return self.plan.decls[self.of].name

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
            raise self.plan.graph.error(f"d({shorten(self.of_name)})/d({shorten(name)}) is undefined: {g.reason}",
                                        self.plan.decls[g.origin].loc)
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
        if not self.reached[i]:
            return [(None, 0) if w else None for w in plan.wanted[i]]
        dout = self.grads[i]
        return [(d, _times(dout, d)) if w else None for w, d in zip(plan.wanted[i], local_grads(plan, self.values, i))]


def evaluate(graph: Graph | Plan, overrides: Mapping[str, Number] | None = None,
             of: str | None = None, gradients: bool = True) -> Result:
    """Run the forward pass, then (unless `gradients` is false) the backward pass from `of`."""
    plan = graph if isinstance(graph, Plan) else compile_graph(graph)
    target = plan.position(of, "--of") if of is not None else plan.index[plan.output()]
    with paused_gc():
        values = forward(plan, overrides or {})
        if not gradients:
            return Result(plan, values, None, target, bytearray(plan.size))
        grads = backward(plan, values, target)
        reached = bytearray(g is not None for g in grads)
        return Result(plan, values, [0 if g is None else g for g in grads], target, reached)


def forward(plan: Plan, overrides: Mapping[str, Number]) -> list:
    """Every node's value in evaluation order, the constants after them."""
    decls = plan.decls
    for name in overrides:
        plan.input_position(name)
    values: list = [None] * plan.size + list(plan.constants)
    ops, args = plan.ops, plan.args
    for i, d in enumerate(decls):
        op = ops[i]
        if op is None:
            values[i] = exact(overrides.get(d.name, d.value))
            continue
        xs = [values[j] for j in args[i]]
        try:
            v = exact(op.forward(*xs))
        except _MATH_ERRORS as e:
            raise node_error(plan, i, xs, domain_reason(e)) from None
        if not is_finite(v):
            raise node_error(plan, i, xs, "the value is not a finite number (overflow)")
        values[i] = v
    return values


def backward(plan: Plan, values: list, of: int) -> list:
    """d(values[of])/d(node) for every node: upstream gradient times local derivative, summed.

    None where the pass never reached (the node does not lead to `of`): its gradient is 0.
    Undefined where a local derivative on the way is not a finite number.
    """
    grads: list = [None] * plan.size
    grads[of] = 1
    ops, args, wanted = plan.ops, plan.args, plan.wanted
    for i in range(of, -1, -1):  # reverse evaluation order: consumers before their operands
        dout = grads[i]
        if dout is None or ops[i] is None:
            continue
        for slot, (j, w, d) in enumerate(zip(args[i], wanted[i], local_grads(plan, values, i))):
            if not w:
                continue  # a constant takes no gradient
            g = _times(dout, d)  # the book's order: dx = dout * y
            before = grads[j]
            if before is not None:  # used by several consumers: the contributions add up
                g = before if type(before) is Undefined else _plus(before, g)
            if type(g) is Undefined and g.origin is None:
                g = _undefined(plan, values, i, slot, g.reason)
            grads[j] = g
    return grads


def local_grads(plan: Plan, values: list, i: int):
    """Node i's local derivative for each operand (Undefined where it is not a number)."""
    xs = [values[j] for j in plan.args[i]]
    try:
        return plan.ops[i].local(values[i], *xs)
    except _MATH_ERRORS as e:
        return (Undefined(domain_reason(e)),) * len(xs)


def _times(dout, d):
    if type(dout) is Undefined:
        return dout
    if type(d) is Undefined:
        return d
    g = exact(dout * d)
    return g if is_finite(g) else Undefined("not a finite number (overflow)")


def _plus(a, b):
    if type(b) is Undefined:
        return b
    s = exact(a + b)
    return s if is_finite(s) else Undefined("not a finite number (overflow)")


def _undefined(plan: Plan, values: list, i: int, slot: int, reason: str) -> Undefined:
    """An undefined gradient that says where it arose: node i's derivative in its operand `slot`."""
    d = plan.decls[i]
    j = plan.args[i][slot]
    xs = [values[k] for k in plan.args[i]]
    return Undefined(f"node '{shorten(d.name)}' = {d.op}({shown_operands(xs)}): the gradient it passes to "
                     f"'{shorten(plan.decls[j].name)}' is undefined: {reason}", i)


def shown_operands(xs: list) -> str:
    """Operand values for a message, the middle of a long list left out."""
    if len(xs) > 8:
        return ", ".join(shorten(repr(x)) for x in xs[:4]) + f", … ({len(xs) - 6:,} more) …, " + \
            ", ".join(shorten(repr(x)) for x in xs[-2:])
    return ", ".join(shorten(repr(x)) for x in xs)


def node_error(plan: Plan, i: int, xs: list, reason: str):
    """The located error for node i, whose value cannot be computed from operands `xs`."""
    d = plan.decls[i]
    return plan.graph.error(f"node '{shorten(d.name)}' = {d.op}({shown_operands(xs)}): {reason}", d.loc)
