"""cgraph derive and grad --order 2: reverse mode, source to source; the backward pass as a graph of its own.

`derive(plan, wrt)` returns a Draft whose output is d(of)/d(wrt). It runs each
op's own `local` code (ops.py) on symbols (symbols.py) instead of numbers: arithmetic
on a `Sym` adds a node to the new graph. So the derived graph does exactly the
engine's arithmetic in the engine's order, and running it gives backprop's
number to the last digit, wherever backprop gives one; deriving it again gives
the second derivative (`hessian`).
"""

from __future__ import annotations

from collections import Counter

from ..core import ops
from ..core.errors import GraphError, RequestError
from ..core.graph import Draft, Plan, path_counts
from ..core.op import Undefined, domain_reason, is_finite
from ..core.symbols import Emitter, Sym, is_exactly, times_local


def derive(plan: Plan, wrt: str, of: str | None = None, overrides: dict | None = None) -> Draft:
    """A graph computing d(of)/d(wrt) from the same inputs (their values as `overrides` sets them)."""
    from ..core import reference
    from ..core.schedule import program

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
    refs = [Sym(emitter, name=name) for name in names] + list(plan.literals)
    for i, op in enumerate(plan.ops):
        if op is not None:
            emitter.known(refs[i], op, [refs[j] for j in args[i]])

    def d_name(i: int) -> str:
        return f"d_{of_name}__d_{names[i]}"

    uses = [0] * n  # how many contributions each node will receive
    for i in range(target + 1, out + 1):
        if between[i]:
            for j in args[i]:
                if not plan.is_literal(j) and between[j]:
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
        """What node i passes each operand that leads back to wrt: (operand, dout × local), one per operand."""
        op = plan.node_op(i)
        emitter.prefix = f"d_{names[i]}__local"
        start = len(emitter.nodes)
        try:
            locals_ = op.local(refs[i], *[refs[j] for j in args[i]])
        except (ArithmeticError, ValueError) as e:
            if i not in unneeded:
                raise plan.error(
                    f"node '{names[i]}': its local derivatives cannot be written: {domain_reason(e)}", i
                ) from None
            locals_ = (0,) * len(args[i])  # a node without a value anywhere (a / 0.0) is never needed
        if i in unneeded:  # a local with no value whatever the inputs (xlogy(0, -1.0)): as the engine, 0
            locals_ = tuple(0 if type(d) is Undefined else d for d in locals_)
        wanted = [not plan.is_literal(j) and bool(between[j]) for j in args[i]]
        repeated = {j for j, k in Counter(args[i]).items() if k > 1}
        _name_locals(emitter.nodes[start:], names, i, args[i], wanted, locals_, repeated)
        sends = []
        for k, (j, w, local) in enumerate(zip(args[i], wanted, locals_)):
            if w:
                want = (
                    d_name(j)
                    if uses[j] == 1
                    else f"{d_name(j)}__via_{names[i]}" + (f"_{k + 1}" if j in repeated else "")
                )
                sends.append((k, j, dout, local, want, op.selects, i in unneeded, i))
        return sends

    def _overflows_alone(local, i: int, k: int) -> bool:
        """Whether operand k's local derivative of node i is no number here (1/x at x = 5e-310)."""
        if type(local) is not Sym:
            return type(local) is Undefined or not is_finite(local)
        xs = [values[m] for m in args[i]]
        return type(reference.local(plan.node_op(i), values[i], xs)[k]) is Undefined

    def emit(sends) -> None:
        for k, j, dout, local, want, selects, unneeded, i in sends:
            if ((selects or unneeded) and is_exactly(local, 0)) or (unneeded and is_exactly(dout, 0)):
                received[j].append(0)  # select, don't multiply: 0, whatever dout is; not needed: the 0 it got
            elif unneeded and type(dout) is Sym:  # dout is 0 here: its locals may have no value, and need none
                product = emitter.emit(ops.mul, (dout, local), f"{want}__if_sent")
                received[j].append(emitter.emit(ops.OPS["where"], (dout, product, 0), want))
            elif selects and type(local) is Sym and type(dout) is Sym:  # 0 where not selected, dout or not
                product = emitter.emit(ops.mul, (dout, local), f"{want}__selected")
                received[j].append(emitter.emit(ops.OPS["where"], (local, product, 0), want))
            elif _overflows_alone(local, i, k):
                # 1/x alone overflows where dout / x need not: dout goes into the numerator, as backprop does
                operands = [refs[m] for m in args[i]]
                received[j].append(times_local(plan.node_op(i), dout, refs[i], operands, k, emitter.call))
            else:
                received[j].append(emitter.emit(ops.mul, (dout, local), want))  # the book's dx = dout * local

    # The engine's backward order (schedule.py): contributions arrive, and add up, in the same order.
    for kind, unit in program(plan, values).backward_units():
        members = [i for i in ([unit] if kind == "node" else unit) if between[i] and i != target]
        pending = [sends_of(i, dout_of(i)) for i in members]
        if kind == "node" or len(pending) < 2:
            for sends in pending:
                emit(sends)
        else:  # a group passes on operand by operand: every member's first operand, then every second
            for k in range(len(args[unit[0]])):
                emit([send for sends in pending for send in sends if send[0] == k])
    result = dout_of(target) if target == out or received[target] else 0

    final = f"d_{of_name}__d_{wrt}"
    if type(result) is Undefined:
        raise plan.error(f"d({of_name})/d({wrt}) is undefined whatever the inputs: {result.reason}")
    if type(result) is Sym and result.name is None:
        result.want = final
    else:  # a constant or an existing node: the output still needs a node of its own
        result = Sym(emitter, want=final, op=ops.add, args=(result, 0))
        emitter.nodes.append(result)
    return _assemble(plan, emitter, result, of_name, wrt, overrides, unneeded)


def _name_locals(fresh: list, names, i, operands, wanted, locals_, repeated) -> None:
    """Name the local derivatives just made after what they are: d_y__d_z is dy/dz, and the
    nodes made on the way to it d_y__d_z__1, ... (a node shared by two goes with the first)."""
    claimed = set()
    for k, (j, w, d) in enumerate(zip(operands, wanted, locals_)):
        if not (w and type(d) is Sym and d.name is None and id(d) not in claimed):
            continue
        d.want = f"d_{names[i]}__d_{names[j]}" + (f"_{k + 1}" if j in repeated else "")
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


def _assemble(
    plan: Plan, emitter: Emitter, result: Sym, of_name: str, wrt: str, overrides: dict, unneeded: set
) -> Draft:
    """The original inputs, the forward nodes the new nodes need, then the new nodes (unused ones left out).

    A forward node kept that nothing kept consumes is an output of the new graph, and so needed. Where
    it is one `where` does not need here (it may have no value: a formula kept for its part), its
    consumers come too, up to the original's outputs, so it stays as unneeded as it was."""
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
        uses = [o for o in plan.operands(i) if isinstance(o, str)] if not plan.is_input(i) else []
        owner = owners.get(plan.names[i])
        for name in uses + ([owner] if owner else []):
            if name not in needed:
                needed.add(name)
                pending.append(name)
    consumed = {o for name in needed for o in plan.operands(plan.index[name]) if isinstance(o, str)}
    consumed |= {a.name for s in emitter.nodes if id(s) in used for a in s.args if type(a) is Sym and a.name}
    pending = [name for name in needed if name not in consumed and plan.index[name] in unneeded]
    consumers: dict[str, list[str]] = {}
    for i in range(plan.size):
        for o in plan.operands(i) if not plan.is_input(i) else ():
            if isinstance(o, str):
                consumers.setdefault(o, []).append(plan.names[i])
    while pending:
        for name in consumers.get(pending.pop(), []):
            i = plan.index[name]
            for part in [name, owners.get(name)] + [o for o in plan.operands(i) if isinstance(o, str)]:
                if part is not None and part not in needed:
                    needed.add(part)
                    pending.append(part)
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
    draft.output, draft.functions = result.name, plan.functions
    for i in plan.file_order:
        name = plan.names[i]
        if plan.is_input(i):
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
    from ..core.engine import evaluate
    from ..core.graph import compile_draft

    for name in names:
        if not plan.is_input(plan.position(name, "wrt")):
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
