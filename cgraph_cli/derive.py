"""Reverse mode, source to source: the backward pass written out as a graph of its own.

`derive(plan, wrt)` returns a Graph whose output is d(of)/d(wrt). Its nodes do
the engine's arithmetic in the engine's order (each op's symbolic local
derivatives mirror its numeric ones), so running it gives backprop's number to
the last digit, and deriving it again gives the second derivative.
"""

from __future__ import annotations

import itertools
from collections import Counter

from .errors import RequestError
from .model import Graph, Input, Node, Plan, path_counts
from .ops import OPS


class _Emitter:
    """Collects new nodes with unique, readable names; folds operations on constants."""

    def __init__(self, taken):
        self.taken = set(taken)
        self.nodes: list[list] = []  # [name, op, operands]; names may be changed until the end

    def unique(self, want: str) -> str:
        name, k = want, 2
        while name in self.taken:
            name, k = f"{want}_{k}", k + 1
        self.taken.add(name)
        return name

    def emit(self, want: str, op: str, *args):
        """A node `op(*args)`, or what it reduces to: the simplifications here change no value
        (x * 1 and x + 0 are x exactly in floating point; operands are finite, so x * 0 is 0)."""
        if op == "mul":
            if any(_is(a, 0) for a in args):
                return 0
            args = tuple(a for a in args if not _is(a, 1))
            if len(args) < 2:
                return args[0] if args else 1
            if len(args) == 2 and (_is(args[0], -1) or _is(args[1], -1)):
                return self.emit(want, "neg", args[1] if _is(args[0], -1) else args[0])
        elif op == "add":
            args = tuple(a for a in args if not _is(a, 0))
            if len(args) < 2:
                return args[0] if args else 0
        elif (op == "sub" and _is(args[1], 0)) or (op in ("div", "pow") and _is(args[1], 1)):
            return args[0]
        elif op == "pow" and _is(args[1], 0):
            return 1
        if all(not isinstance(a, str) for a in args):
            try:
                return OPS[op].forward(list(args))  # the same arithmetic the node would do
            except (ArithmeticError, ValueError):
                pass  # leave it to fail when the derived graph runs, as backprop would
        name = self.unique(want)
        self.nodes.append([name, op, args])
        return name

    def rename(self, old: str, want: str, since: int = 0) -> str:
        """Give node `old` a better name; only nodes from `since` on may refer to it."""
        new = self.unique(want)
        self.taken.discard(old)
        for node in self.nodes[since:]:
            if node[0] == old:
                node[0] = new
            node[2] = tuple(new if a == old else a for a in node[2])
        return new


def _is(ref, number) -> bool:
    return not isinstance(ref, str) and ref == number


def derive(plan: Plan, wrt: str, of: str | None = None, overrides: dict | None = None) -> Graph:
    """A graph computing d(of)/d(wrt) from the same inputs (their values as `overrides` sets them)."""
    for name in overrides or {}:
        plan.input_position(name)
    target = plan.position(wrt, "--wrt")
    out = plan.position(of, "--of") if of is not None else plan.index[plan.output()]
    decls, args, n = plan.decls, plan.args, plan.size
    of_name = decls[out].name
    between = path_counts(plan, target, out)  # nonzero where d(out)/d(target) flows
    emitter = _Emitter(d.name for d in decls)

    def d_name(i: int) -> str:
        return f"d_{of_name}__d_{decls[i].name}"

    uses = [0] * n  # how many contributions each node will receive
    for i in range(target + 1, out + 1):
        if between[i]:
            for j in args[i]:
                if j < n and between[j]:
                    uses[j] += 1
    received: list[list] = [[] for _ in range(n)]
    grads: dict[int, object] = {}

    for i in range(out, target - 1, -1):  # reverse evaluation order, as backward() runs
        if not between[i]:
            continue
        if i == out:
            dout = 1  # d(of)/d(of)
        else:
            dout = received[i][0]
            for k, g in enumerate(received[i][1:], start=1):  # contributions add up in arrival order
                last = k == len(received[i]) - 1
                dout = emitter.emit(d_name(i) if last else f"{d_name(i)}__sum{k}", "add", dout, g)
        grads[i] = dout
        op = plan.ops[i]
        if i == target or op is None:
            continue
        refs = [decls[j].name if j < n else plan.constants[j - n] for j in args[i]]
        wanted = [j < n and bool(between[j]) for j in args[i]]
        prefix = f"d_{decls[i].name}__local"
        local_names = itertools.count(1)
        start = len(emitter.nodes)
        locals_ = op.symbolic(lambda o, *a: emitter.emit(f"{prefix}{next(local_names)}", o, *a),
                              refs, decls[i].name, wanted)
        repeated = {j for j, k in Counter(args[i]).items() if k > 1}
        locals_ = _name_locals(emitter, start, decls, i, args[i], wanted, locals_, repeated)
        for slot, (j, w, local) in enumerate(zip(args[i], wanted, locals_)):
            if not w:
                continue
            if uses[j] == 1:
                want = d_name(j)
            else:
                want = f"{d_name(j)}__via_{decls[i].name}" + (f"_{slot + 1}" if j in repeated else "")
            received[j].append(emitter.emit(want, "mul", dout, local))  # the book's dx = dout * local

    result = grads.get(target, 0)
    final = f"d_{of_name}__d_{wrt}"
    original = {d.name for d in decls}
    if isinstance(result, str) and result not in original and result != final:
        result = emitter.rename(result, final)
    elif not isinstance(result, str) or result in original:
        # A constant or an existing node: the output still needs a node of its own.
        name = emitter.unique(final)
        emitter.nodes.append([name, "add", (result, 0)])
        result = name
    return _assemble(plan, emitter, result, of_name, wrt, overrides or {})


def _name_locals(emitter, start, decls, i, operands, wanted, locals_, repeated) -> list:
    """Rename the local derivatives just made (nodes from `start` on) after what they are: d_y__d_z
    is dy/dz, and the nodes made on the way to it d_y__d_z__1, ... (an op makes one operand's at a time)."""
    fresh = [node[0] for node in emitter.nodes[start:]]
    named = []
    for slot, (j, w, d) in enumerate(zip(operands, wanted, locals_)):
        if w and isinstance(d, str) and d in fresh:
            want = f"d_{decls[i].name}__d_{decls[j].name}" + (f"_{slot + 1}" if j in repeated else "")
            helpers = fresh[:fresh.index(d)]
            fresh = fresh[fresh.index(d) + 1:]
            for k, helper in enumerate(helpers, start=1):
                emitter.rename(helper, f"{want}__{k}", start)
            d = emitter.rename(d, want, start)
        named.append(d)
    return named


def _assemble(plan: Plan, emitter: _Emitter, result: str, of_name: str, wrt: str, overrides: dict) -> Graph:
    """The original inputs, the forward nodes the new nodes need, then the new nodes."""
    needed = {result}
    for name, _, operands in emitter.nodes:
        needed.update(a for a in operands if isinstance(a, str))
    for d in reversed(plan.decls):  # forward nodes the needed ones use, transitively
        if d.name in needed and isinstance(d, Node):
            needed.update(o for o in d.operands if isinstance(o, str))
    kept = [Input(d.name, overrides[d.name], d.label, d.loc) if isinstance(d, Input) and d.name in overrides else d
            for d in plan.decls if isinstance(d, Input) or d.name in needed]
    new = [Node(name, op, tuple(operands)) for name, op, operands in emitter.nodes]
    return Graph(f"d_{of_name}__d_{wrt}", tuple(kept + new), output=result,
                 description=f"d({of_name})/d({wrt}) of {plan.graph.name}",
                 source=plan.graph.source)


def hessian(plan: Plan, names: list[str], overrides=None, of: str | None = None) -> dict:
    """Second derivatives d²(of)/d(a)d(b) for inputs a, b: backprop through each derived gradient."""
    from .engine import evaluate
    from .model import compile_graph

    for name in names:
        if not isinstance(plan.decls[plan.position(name, "--wrt")], Input):
            raise RequestError(f"--order 2: '{name}' is a node; second derivatives are taken "
                               "with respect to inputs", source=plan.graph.source)
    rows = {}
    for a in names:
        derived = evaluate(compile_graph(derive(plan, a, of)), overrides)
        rows[a] = {b: derived.grad_of(b) for b in names}
    return rows
