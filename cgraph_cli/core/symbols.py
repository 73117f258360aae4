"""Local derivatives on symbols: the same `local` code that computes a derivative on numbers writes it out as nodes.

Arithmetic on a `Sym` adds a node (through an `Emitter`, which reduces x * 1
and x + 0 as floating point does). The engine learns the pattern of each op's
local derivatives from them (schedule.py); `cgraph derive` writes whole
backward passes with them (commands/derive.py).
"""

from __future__ import annotations

from . import ops
from .op import Undefined, is_finite


class Sym:
    """A node of the graph being written: an existing one (by name), or a new one (op and operands)."""

    __slots__ = ("emitter", "name", "want", "op", "args")

    def __init__(self, emitter, name=None, want=None, op=None, args=()):
        self.emitter, self.name, self.want, self.op, self.args = emitter, name, want, op, args

    def apply(self, op, args):
        """What ops.Op calls when one of its operands is a symbol: a node, or what it simplifies to."""
        return self.emitter.emit(op, args)

    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __neg__(self):
        return ops.neg(self)


def _key(op, args) -> tuple:
    return (op.name,) + tuple(id(a) if type(a) is Sym else repr(a) for a in args)


def is_exactly(ref, number) -> bool:
    return type(ref) is not Sym and ref == number


class Emitter:
    """Collects the new nodes, each with a wanted name; simplifies where no number changes."""

    def __init__(self):
        self.nodes: list[Sym] = []
        self.prefix = "d"  # wanted names of nodes made by arithmetic: prefix1, prefix2, ...
        self.made: dict = {}  # (op, operands) -> the node that computes it, so none is made twice

    def known(self, node: Sym, op, args) -> None:
        """Record that `node` computes op(*args) (an existing node, to be reused rather than repeated)."""
        self.made[_key(op, args)] = node

    def call(self, op, *args):
        """op(*args) as a node (or what it reduces to): times_local's way to apply an op."""
        return self.emit(op, args)

    def emit(self, op, args, want: str | None = None):
        """The node op(*args), or what it reduces to. The reductions change no value: x * 1 and
        x + 0 are x exactly in floating point, and operands are finite, so x * 0 is 0."""
        args = tuple(args)
        for a in args:  # a part made of constants only that has no value: no node can compute it
            if type(a) is Undefined:
                return a
            if type(a) is not Sym and not is_finite(a):
                return Undefined("not a finite number (overflow)")
        if op.simplify is not None:  # the op's own reductions (ops.py: x * 1 is x)
            reduced = op.simplify(*args)
            if type(reduced) is list:
                args = tuple(reduced)  # the operands left, of the same op
            elif reduced is not None:
                return reduced
        if all(type(a) is not Sym for a in args):
            value = op(*args)  # the same arithmetic the node would do
            if type(value) is not Undefined:
                return value  # else a node, to fail when the derived graph runs, as backprop does
        key = _key(op, args)
        node = self.made.get(key)
        if node is None:  # the same op on the same operands gives the same number: made once
            node = self.made[key] = Sym(self, want=want or f"{self.prefix}{len(self.nodes) + 1}", op=op, args=args)
            self.nodes.append(node)
        return node


def symbolic_local(op, count: int) -> tuple[list, tuple]:
    """The op's local derivatives for `count` operands run on symbols named out, x0, x1, ...: (the
    nodes they were built of, in order, and the derivatives). Worked out once per op and count."""
    key = ("symbols", count)
    if key not in op.learned:
        emitter = Emitter()
        ds = op.local(Sym(emitter, name="out"), *[Sym(emitter, name=f"x{k}") for k in range(count)])
        op.learned[key] = (emitter.nodes, ds)
    return op.learned[key]


def times_local(op, d, out, xs: list, k: int, call=lambda op, *args: op(*args)):
    """d times op's local derivative for operand k, with d multiplied in before any division
    (d / x, not d × (1/x)), so the product is a number wherever it is one, though the local
    derivative alone may overflow (1/x at x = 5e-310). `call` applies an op (numbers by default)."""
    nodes, ds = symbolic_local(op, len(xs))
    at = {"out": out, **{f"x{m}": x for m, x in enumerate(xs)}}
    value: dict[int, object] = {}

    def of(e):
        return e if type(e) is not Sym else at[e.name] if e.name else value[id(e)]

    for node in nodes:  # (in the order they were made: operands first)
        value[id(node)] = call(node.op, *map(of, node.args))
    path, e = [], ds[k]  # d goes into the numerator: down through each op linear in its first operand
    while type(e) is Sym and e.name is None and e.op.linear_in_first and len(e.args) <= 2:
        path.append(e)
        e = e.args[0]
    c = call(ops.mul, d, of(e))
    for e in reversed(path):
        c = call(e.op, c, *map(of, e.args[1:]))
    return c
