"""Reverse mode, source to source: the backward pass written out as a graph of its own.

`derive(plan, wrt)` returns a Draft whose output is d(of)/d(wrt). It runs each
op's own `local` code (ops.py) on symbols instead of numbers: arithmetic on a
`Sym` adds a node to the new graph. So the derived graph does exactly the
engine's arithmetic in the engine's order, and running it gives backprop's
number to the last digit, wherever backprop gives one; deriving it again gives
the second derivative.
"""

from __future__ import annotations

from collections import Counter

from . import ops
from .errors import GraphError, RequestError
from .graph import Draft, Plan, path_counts
from .ops import Undefined


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


def _is(ref, number) -> bool:
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

    def emit(self, op, args, want: str | None = None):
        """The node op(*args), or what it reduces to. The reductions change no value: x * 1 and
        x + 0 are x exactly in floating point, and operands are finite, so x * 0 is 0."""
        args = tuple(args)
        for a in args:  # a part made of constants only that has no value: no node can compute it
            if type(a) is Undefined:
                return a
            if type(a) is not Sym and not ops.is_finite(a):
                return Undefined("not a finite number (overflow)")
        name = op.name
        if name == "mul":
            if any(_is(a, 0) for a in args):
                return 0
            args = tuple(a for a in args if not _is(a, 1))
            if len(args) < 2:
                return args[0] if args else 1
            if len(args) == 2 and (_is(args[0], -1) or _is(args[1], -1)):
                return ops.neg(args[1] if _is(args[0], -1) else args[0])
        elif name == "add":
            args = tuple(a for a in args if not _is(a, 0))
            if len(args) < 2:
                return args[0] if args else 0
        elif (name == "sub" and _is(args[1], 0)) or (name in ("div", "pow") and _is(args[1], 1)):
            return args[0]
        elif name == "mulpow":
            a, x, b = args
            if _is(a, 0) or _is(b, 0):
                return a  # a * x**0 is a; 0 where a is 0
            if _is(b, 1):
                return ops.mul(a, x)
            if _is(a, 1):
                return ops.pow_(x, b)
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
    if key not in op.shapes:
        emitter = Emitter()
        ds = op.local(Sym(emitter, name="out"), *[Sym(emitter, name=f"x{k}") for k in range(count)])
        op.shapes[key] = (emitter.nodes, ds)
    return op.shapes[key]


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
    path, e = [], ds[k]  # d goes into the numerator: down through div, neg and mul's first operand
    while type(e) is Sym and e.name is None and (e.op in (ops.div, ops.neg) or e.op is ops.mul and len(e.args) == 2):
        path.append(e)
        e = e.args[0]
    c = call(ops.mul, d, of(e))
    for e in reversed(path):
        c = call(e.op, c, *map(of, e.args[1:]))
    return c


def derive(plan: Plan, wrt: str, of: str | None = None, overrides: dict | None = None) -> Draft:
    """A graph computing d(of)/d(wrt) from the same inputs (their values as `overrides` sets them)."""
    from . import reference
    from .schedule import program

    plan.numbers_only("derive")
    overrides = overrides or {}
    # A graph whose values cannot be computed has no derivative to write; the nodes `where` does
    # not need here pass back 0 here, and must not fail to: their sends are guarded.
    values, _, needed = reference.evaluate(plan, plan.given(overrides), plan.output_position(of), gradients=False)
    unneeded = {i for i in range(plan.size) if not needed[i]}
    target = plan.position(wrt, "wrt")
    out = plan.output_position(of)
    names, args, n = plan.names, plan.args, plan.size
    of_name = names[out]
    between = path_counts(plan, target, out)  # nonzero where d(out)/d(target) flows
    emitter = Emitter()
    refs = [Sym(emitter, name=name) for name in names] + list(plan.constants)
    for i, op in enumerate(plan.ops):
        if op is not None:
            emitter.known(refs[i], op, [refs[j] for j in args[i]])

    def d_name(i: int) -> str:
        return f"d_{of_name}__d_{names[i]}"

    uses = [0] * n  # how many contributions each node will receive
    for i in range(target + 1, out + 1):
        if between[i]:
            for j in args[i]:
                if j < n and between[j]:
                    uses[j] += 1
    received: list[list] = [[] for _ in range(n)]

    def dout_of(i: int):
        """d(of)/d(node i): its contributions added up in the order they arrived, as backward does."""
        if i == out:
            return 1  # d(of)/d(of)
        dout = received[i][0]
        for k, g in enumerate(received[i][1:], start=1):
            last = k == len(received[i]) - 1
            dout = emitter.emit(ops.add, (dout, g), d_name(i) if last else f"{d_name(i)}__sum{k}")
        return dout

    def sends_of(i: int, dout) -> list:
        """What node i passes each operand that leads back to wrt: (operand, dout × local), one per slot."""
        op = plan.node_op(i)
        emitter.prefix = f"d_{names[i]}__local"
        start = len(emitter.nodes)
        try:
            locals_ = op.local(refs[i], *[refs[j] for j in args[i]])
        except (ArithmeticError, ValueError) as e:
            if i not in unneeded:
                raise plan.error(
                    f"node '{names[i]}': its local derivatives cannot be written: {ops.domain_reason(e)}", i
                ) from None
            locals_ = (0,) * len(args[i])  # a node without a value anywhere (a / 0.0) is never needed
        wanted = [j < n and bool(between[j]) for j in args[i]]
        repeated = {j for j, k in Counter(args[i]).items() if k > 1}
        _name_locals(emitter.nodes[start:], names, i, args[i], wanted, locals_, repeated)
        sends = []
        for slot, (j, w, local) in enumerate(zip(args[i], wanted, locals_)):
            if w:
                want = (
                    d_name(j)
                    if uses[j] == 1
                    else f"{d_name(j)}__via_{names[i]}" + (f"_{slot + 1}" if j in repeated else "")
                )
                sends.append((slot, j, dout, local, want, op.selects, i in unneeded))
        return sends

    def emit(slot_sends) -> None:
        for _, j, dout, local, want, selects, unneeded in slot_sends:
            if (selects or unneeded) and _is(local, 0):
                received[j].append(0)  # select, don't multiply: 0, whatever dout is
            elif unneeded and type(dout) is Sym:  # dout is 0 here: its locals may have no value, and need none
                product = emitter.emit(ops.mul, (dout, local), f"{want}__if_sent")
                received[j].append(emitter.emit(ops.OPS["where"], (dout, product, 0), want))
            elif selects and type(local) is Sym and type(dout) is Sym:  # 0 where not selected, dout or not
                product = emitter.emit(ops.mul, (dout, local), f"{want}__selected")
                received[j].append(emitter.emit(ops.OPS["where"], (local, product, 0), want))
            else:
                received[j].append(emitter.emit(ops.mul, (dout, local), want))  # the book's dx = dout * local

    # The engine's backward order (schedule.py): contributions arrive, and add up, in the same order.
    for kind, unit in program(plan, values).backward_units():
        members = [i for i in ([unit] if kind == "node" else unit) if between[i] and i != target]
        pending = [sends_of(i, dout_of(i)) for i in members]
        if kind == "node" or len(pending) < 2:
            for sends in pending:
                emit(sends)
        else:  # a group passes on slot by slot: every member's first operand, then every second
            for slot in range(len(args[unit[0]])):
                emit([send for sends in pending for send in sends if send[0] == slot])
    result = dout_of(target) if target == out or received[target] else 0

    final = f"d_{of_name}__d_{wrt}"
    if type(result) is Undefined:
        raise plan.error(f"d({of_name})/d({wrt}) is undefined whatever the inputs: {result.reason}")
    if type(result) is Sym and result.name is None:
        result.want = final
    else:  # a constant or an existing node: the output still needs a node of its own
        result = Sym(emitter, want=final, op=ops.add, args=(result, 0))
        emitter.nodes.append(result)
    return _assemble(plan, emitter, result, of_name, wrt, overrides)


def _name_locals(fresh: list, names, i, operands, wanted, locals_, repeated) -> None:
    """Name the local derivatives just made after what they are: d_y__d_z is dy/dz, and the
    nodes made on the way to it d_y__d_z__1, ... (a node shared by two goes with the first)."""
    claimed = set()
    for slot, (j, w, d) in enumerate(zip(operands, wanted, locals_)):
        if not (w and type(d) is Sym and d.name is None and id(d) not in claimed):
            continue
        d.want = f"d_{names[i]}__d_{names[j]}" + (f"_{slot + 1}" if j in repeated else "")
        claimed.add(id(d))
        # The fresh nodes this derivative depends on, in the order they were made.
        needed, stack = set(), [d]
        while stack:
            for a in stack.pop().args:
                if type(a) is Sym and a.name is None and id(a) not in needed and id(a) not in claimed:
                    needed.add(id(a))
                    stack.append(a)
        helpers = [s for s in fresh if id(s) in needed]
        for k, helper in enumerate(helpers, start=1):
            helper.want = f"{d.want}__{k}"
            claimed.add(id(helper))


def _assemble(plan: Plan, emitter: Emitter, result: Sym, of_name: str, wrt: str, overrides: dict) -> Draft:
    """The original inputs, the forward nodes the new nodes need, then the new nodes (unused ones left out)."""
    used, stack = {id(result)}, [result]
    needed = set()  # names of existing nodes the new ones use
    while stack:
        for a in stack.pop().args:
            if type(a) is Sym:
                if a.name is not None:
                    needed.add(a.name)
                elif id(a) not in used:
                    used.add(id(a))
                    stack.append(a)
    # Forward nodes the needed ones use, transitively; a formula's part comes with its formula,
    # which is written back as the formula (it makes the part again when read).
    owners = plan.made_by()
    pending = list(needed)
    while pending:
        i = plan.index[pending.pop()]
        uses = [o for o in plan.operands(i) if isinstance(o, str)] if plan.ops[i] is not None else []
        owner = owners.get(plan.names[i])
        for name in uses + ([owner] if owner else []):
            if name not in needed:
                needed.add(name)
                pending.append(name)
    taken = set(plan.names)
    for node in emitter.nodes:  # names are given in order, so the first of two alike keeps the plain one
        if id(node) in used:
            # A part's name may hold what a declared name cannot (max(a,b), q>=1): not a new node's.
            want = node.want.replace(",", ";").replace("=", "_")
            name, k = want, 2
            while name in taken:
                name, k = f"{want}_{k}", k + 1
            taken.add(name)
            node.name = name
    draft = Draft(f"d_{of_name}__d_{wrt}", plan.source)
    draft.description = f"d({of_name})/d({wrt}) of {plan.name}"
    draft.output = result.name
    for i in plan.file_order:
        name = plan.names[i]
        if plan.ops[i] is None:
            draft.add_input(name, overrides.get(name, plan.values[i]), plan.labels.get(i), i in plan.fixed)
        elif name in needed:
            draft.add_node(name, plan.op_name(i), plan.operands(i), plan.labels.get(i))
            if name in plan.formulas:
                draft.formulas[name] = plan.formulas[name]
    for s in emitter.nodes:
        if id(s) in used:
            draft.add_node(s.name, s.op.name, tuple(a.name if type(a) is Sym else a for a in s.args))
    return draft


def hessian(plan: Plan, names: list[str], overrides=None, of: str | None = None) -> dict:
    """Second derivatives d²(of)/d(a)d(b) for inputs a, b: backprop through each derived gradient.

    An entry is Undefined where the gradient it differentiates is (its graph cannot be evaluated).
    """
    plan.numbers_only("the Hessian", "hessian")
    from .engine import evaluate
    from .graph import compile_draft

    for name in names:
        if plan.ops[plan.position(name, "wrt")] is not None:
            raise RequestError(
                f"'{name}' is a node; second derivatives are taken with respect to inputs", plan.source, "hessian"
            )
    of_name = plan.names[plan.output_position(of)]
    rows: dict[str, dict] = {}
    for a in names:
        try:
            derived = evaluate(compile_draft(derive(plan, a, of, overrides)), overrides)
        except GraphError as e:  # the first derivative itself is not a number here
            derived, first = None, e.message
        rows[a] = {}
        for b in names:
            g = Undefined(first) if derived is None else derived.grad_of(b)
            if type(g) is Undefined:
                reason = g.reason
                g = Undefined(f"d²({of_name})/d({a})d({b}) is undefined: {reason}", plan.index[b])
            rows[a][b] = g
    return rows
