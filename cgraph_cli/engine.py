"""Forward and backward passes over a compiled graph: values, then gradients by the chain rule.

The engine only moves values between positions and asks the op table to
compute: it never looks inside a value but through `is_finite`, `*` and `+`.
So values could become arrays by giving the op table array functions (and
seeding the backward pass with ones) without rewriting these loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .model import Graph, Plan, compile_graph, paused_gc
from .ops import Number, OpDomainError, is_finite

_MATH_ERRORS = (ArithmeticError, ValueError)


@dataclass(frozen=True, slots=True)
class Result:
    """Every node's value and its gradient d(of)/d(node), by evaluation position."""

    plan: Plan
    values: list  # positions 0..n-1 are nodes, n.. the constants
    grads: list  # positions 0..n-1
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

    def grad_of(self, name: str) -> Number:
        """d(of)/d(name) for a named node."""
        return self.grads[self.plan.index[name]]

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
        return [(d, dout * d) if w else None for w, d in zip(plan.wanted[i], local_grads(plan, self.values, i))]


def evaluate(graph: Graph | Plan, overrides: Mapping[str, Number] | None = None,
             of: str | None = None) -> Result:
    """Run the forward pass, then the backward pass from `of` (default: the graph's output)."""
    plan = graph if isinstance(graph, Plan) else compile_graph(graph)
    target = plan.position(of, "--of") if of is not None else plan.index[plan.output()]
    with paused_gc():
        values = forward(plan, overrides or {})
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
            values[i] = overrides.get(d.name, d.value)
            continue
        xs = [values[j] for j in args[i]]
        try:
            v = op.forward(xs)
        except _MATH_ERRORS as e:
            raise _node_error(plan, i, xs, _reason(e)) from None
        if not is_finite(v):
            raise _node_error(plan, i, xs, "the value is not a finite number (overflow)")
        values[i] = v
    return values


def backward(plan: Plan, values: list, of: int) -> list:
    """d(values[of])/d(node) for every node: upstream gradient times local derivative, summed.

    None where the pass never reached (the node does not lead to `of`); its gradient is 0.
    """
    grads: list = [None] * plan.size
    grads[of] = 1
    ops, args, wanted = plan.ops, plan.args, plan.wanted
    for i in range(of, -1, -1):  # reverse evaluation order: consumers before their operands
        dout = grads[i]
        if dout is None or ops[i] is None:
            continue
        for j, w, d in zip(args[i], wanted[i], local_grads(plan, values, i)):
            if not w:
                continue  # a constant takes no gradient
            g = dout * d  # the book's order: dx = dout * y
            if grads[j] is not None:
                g = grads[j] + g  # used by several consumers: the contributions add up
            if not is_finite(g):
                raise _node_error(plan, i, [values[k] for k in args[i]],
                                  "gradient: the value is not a finite number (overflow)")
            grads[j] = g
    return grads


def local_grads(plan: Plan, values: list, i: int) -> list:
    """Node i's local derivative for each operand (None for a constant): its op's backward step."""
    xs = [values[j] for j in plan.args[i]]
    try:
        return plan.ops[i].local_grads(xs, values[i], plan.wanted[i])
    except _MATH_ERRORS as e:
        raise _node_error(plan, i, xs, "gradient: " + _reason(e)) from None


def _reason(e: Exception) -> str:
    if isinstance(e, OpDomainError):
        return str(e)
    if isinstance(e, ZeroDivisionError):
        return "division by zero"
    if isinstance(e, OverflowError):
        return "the value is not a finite number (overflow)"
    return f"not a real number ({e})"


def _node_error(plan: Plan, i: int, xs: list, reason: str):
    d = plan.decls[i]
    shown = ", ".join(repr(x) for x in xs[:8]) + (f", ... ({len(xs)} operands)" if len(xs) > 8 else "")
    return plan.graph.error(f"node '{d.name}' = {d.op}({shown}): {reason}", d.loc)
