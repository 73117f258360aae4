"""An evaluation's result: every node's value and gradient d(of)/d(node) by position, and what commands read of them."""

from __future__ import annotations

from .errors import shorten
from .graph import Plan
from .op import Number, Undefined, Unused, is_finite


class Result:
    """Every node's value and its gradient d(of)/d(node), by evaluation position."""

    __slots__ = ("plan", "values", "grads", "has_grads", "of", "reached", "needed")

    def __init__(self, plan: Plan, values: list, grads: list | None, of: int, reached: bytearray, needed=None):
        self.plan = plan
        self.values = values  # positions 0..n-1 are nodes, n.. the constants
        self.has_grads = grads is not None  # false when no backward pass ran (draw --no-grad)
        self.grads: list = grads if grads is not None else []  # 0..n-1: a number, Undefined, None (a constant)
        self.of = of
        self.reached = reached  # 1 where the backward pass ran: the node leads to `of`
        # 0 where a node is not needed (only branches `where` does not take use it), element by
        # element on arrays; None: not worked out (every value and gradient was a number)
        self.needed = needed

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

    def unused(self) -> list[tuple[int, Unused]]:
        """(position, Unused) for every node not used here that has no value, in evaluation order."""
        if self.needed is None:
            return []  # (the fast engine ran: every value is a number)
        return [(i, v) for i, v in enumerate(self.values[: self.plan.size]) if type(v) is Unused]
