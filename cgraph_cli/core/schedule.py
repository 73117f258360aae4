"""How the engine runs a plan: a schedule of single nodes and of wide groups, worked out once.

Nodes are taken level by level (a node's level is one more than its deepest
operand's). Where a level holds many float nodes of the same op, they form a
group that the engine computes a whole list at a time with `map` over the op's
forward step (a builtin where the op names one): C does the looping, not
Python. A chain has one node per level, and runs node by node.

The engine keeps values in the schedule's own order ("slots"): a group's
members stand side by side, so a level of results is stored with one slice.
Results are put back in evaluation order at the end.

Each op's local derivatives are learned once by running its `local` code on
symbols (as `cgraph derive` does). That gives their pattern for single nodes
(all 1, the other operand, ...) and a small program over lists for groups.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain, compress, repeat
from operator import itemgetter
from typing import Any, cast

from .graph import Plan
from .op import Op

# Local-derivative patterns a single node's backward step handles inline; OTHER runs the op's `local`.
ONES, PLUS_MINUS, MINUS, SWAP, OUT, OTHER = range(6)
_PATTERN_WORDS = {("1", "-1"): PLUS_MINUS, ("-1",): MINUS, ("x1", "x0"): SWAP, ("out",): OUT}

GROUP_SIZE = 16  # fewer nodes of one op in one level run one at a time: a group's setup would not pay


class Run:
    """Nodes run one after another, kept as columns (a schedule is made on every first evaluation of
    a graph: columns are quicker to make than a tuple per node). `forward` gives per node, in order:
    operand count, slot, first operand's slot, second operand's (or all of them), forward function,
    whether the value may be an integer. `backward` gives per node, in reverse order: pattern of the
    local derivatives, slot, operand slots, op, plan position."""

    __slots__ = ("counts", "slots", "args", "ops", "positions", "functions", "patterns", "firsts", "seconds", "ints")

    def __init__(self, plan: Plan, positions: list[int], slot: list[int], ints: list[bool], kinds: dict, same: bool):
        self.positions = positions
        self.args = args = list(map(plan.args.__getitem__, positions))
        self.slots = positions
        if not same:
            at = slot.__getitem__
            self.args = args = [(slot[a[0]], slot[a[1]]) if len(a) == 2 else tuple(map(at, a)) for a in args]
            self.slots = list(map(slot.__getitem__, positions))
        self.ops = list(map(plan.ops.__getitem__, positions))
        self.counts = counts = list(map(len, args))
        self.functions, self.patterns = zip(*map(kinds.__getitem__, zip(self.ops, counts)))
        self.firsts = list(map(_FIRST, args))
        self.seconds = [a[1] if len(a) == 2 else a for a in args]  # the second operand of two; else all of them
        self.ints = list(map(ints.__getitem__, positions))

    @property
    def forward(self):
        return zip(self.counts, self.slots, self.firsts, self.seconds, self.functions, self.ints)

    @property
    def backward(self):
        columns = (self.patterns, self.slots, self.args, self.ops, self.positions)
        return zip(*map(reversed, columns))


_FIRST = itemgetter(0)


class _Kinds(dict):
    """(op, operand count) -> (its forward function, its local derivatives' pattern), found when asked."""

    def __missing__(self, key: tuple) -> tuple:
        op, count = key
        kind = self[key] = (op.fast.get(count) or op.forward, pattern(op, count))
        return kind


class Group:
    """Many float nodes of one op and operand count in one level, side by side in slots start..stop."""

    __slots__ = ("start", "stop", "positions", "operands", "getters", "f", "op", "derivatives", "integer_operands")

    def __init__(
        self, start: int, positions: list[int], operands: list[list[int]], op, integer_operands: bool, wanted: tuple
    ):
        from operator import itemgetter

        self.start, self.stop = start, start + len(positions)
        self.positions = positions  # the members' plan positions, in evaluation order
        self.operands = operands  # operands[k][m]: the slot of member m's operand k
        self.getters = [itemgetter(*slots) for slots in operands]  # each operand's values, a list at a time
        self.op = op
        self.f = op.fast.get(len(operands)) or op.forward  # a builtin where the op names one
        # (an operand that is a literal in every member takes no gradient: its derivative is not worked out)
        self.derivatives = vector_local(op, len(operands), wanted)
        self.integer_operands = integer_operands  # whether some operand may be an integer


class Program:
    """The schedule of one plan for one kind of inputs (which of them are integers).

    `slot[p]` is where plan position p's value is kept (constants keep their positions n..);
    `segments` are the Runs and Groups in order.
    """

    __slots__ = ("slot", "segments", "_by_position")

    def __init__(self, plan: Plan, values: list):
        ops, all_args = cast("list[Op]", plan.ops), plan.args  # (read at nodes' positions only)
        nodes = list(compress(range(len(ops)), ops))  # positions with an op, in evaluation order
        level = [0] * len(values)  # inputs and literals are level 0
        width = [0] * (len(ops) + 1)  # how many nodes each level has
        for p in nodes:  # (written out for one and two operands, as the engine's loops are)
            args = all_args[p]
            if len(args) == 2:
                a, b = level[args[0]], level[args[1]]
                lv = (a if a > b else b) + 1
            elif len(args) == 1:
                lv = level[args[0]] + 1
            else:
                lv = max(map(level.__getitem__, args)) + 1
            level[p] = lv
            width[lv] += 1
        ints = [type(v) is int for v in values]  # which values may be integers (literals included)
        if any(ints) or not all(op.floats_stay for op in set(map(ops.__getitem__, nodes))):
            some_int = any(ints)  # until a value may be an integer, no operand need be looked at for one
            for p in nodes:  # x * 2 is a float where x is (floats_stay); step(x) may be an integer whatever x is
                if not ops[p].floats_stay:
                    ints[p] = some_int = True
                elif some_int:
                    args = all_args[p]
                    if ints[args[0]] and (len(args) == 1 or ints[args[-1]] and all(map(ints.__getitem__, args))):
                        ints[p] = True
        alike: dict[tuple, list] = {}  # (level, op, operand count) -> float nodes that may be a group
        if max(width) >= GROUP_SIZE:  # (a chain has no level that wide)
            for p in nodes:
                lv = level[p]
                if width[lv] >= GROUP_SIZE and not ints[p] and len(all_args[p]) <= 2:
                    key = (lv, ops[p], len(all_args[p]))
                    members = alike.get(key)
                    if members is None:
                        alike[key] = [p]
                    else:
                        members.append(p)
        groups = [members for members in alike.values() if len(members) >= GROUP_SIZE]
        layout: list = [nodes]  # the nodes as scheduled: runs (lists) and groups (tuples)
        if groups:  # level by level; a level's group at the place of its first member
            at_level: list[list] = [[] for _ in range(max(level) + 1)]
            group_of = {members[0]: members for members in groups}
            grouped = set().union(*groups)
            for p in nodes:
                if p not in grouped:
                    at_level[level[p]].append(p)
                elif p in group_of:
                    at_level[level[p]].append(group_of[p])
            layout = [[]]
            for p in chain.from_iterable(at_level):
                if type(p) is int:
                    layout[-1].append(p)
                else:
                    layout += [tuple(p), []]
        # slots: the inputs first, then the nodes as scheduled; literals keep their positions
        order = [*plan.inputs, *chain.from_iterable(layout)]
        same = order == list(range(len(order)))  # a file in dependency order, run node by node
        slot = list(range(len(values)))
        if not same:
            for x, p in enumerate(order):
                slot[p] = x
        self.slot = slot
        self._by_position: Callable[[list], Any] | None = None
        kinds = _Kinds()
        self.segments: list = []
        for unit in layout:
            if type(unit) is list:
                if unit:
                    self.segments.append(Run(plan, unit, slot, ints, kinds, same))
                continue
            columns = list(zip(*map(all_args.__getitem__, unit)))  # each operand's plan positions
            self.segments.append(
                Group(
                    slot[unit[0]],
                    unit,
                    [[slot[j] for j in column] for column in columns],
                    ops[unit[0]],
                    any(any(map(ints.__getitem__, column)) for column in columns),
                    tuple(not all(map(plan.is_literal, column)) for column in columns),
                )
            )

    def backward_units(self) -> list:
        """The order backward takes the nodes in: ("node", p) or ("group", positions), for
        `cgraph derive` to add contributions up alike."""
        units: list = []
        for segment in reversed(self.segments):
            if type(segment) is Group:
                units.append(("group", segment.positions))
            else:
                units.extend(("node", p) for p in reversed(segment.positions))
        return units

    def in_evaluation_order(self, slots: list, n: int) -> list:
        """A list kept by slot, put back in evaluation order (positions 0..n-1)."""
        by_position = self._by_position
        if by_position is None:
            from operator import itemgetter

            identity = self.slot[:n] == list(range(n))  # a file in dependency order, run node by node
            by_position = (lambda kept: kept[:n]) if identity else itemgetter(*self.slot[:n])
            self._by_position = by_position
        return list(by_position(slots))


def program(plan: Plan, values: list) -> Program:
    """The plan's schedule for these inputs' kinds (made once and kept on the plan)."""
    key = tuple(type(values[i]) is int for i in plan.inputs)
    cache = plan.program if plan.program is not None else {}
    plan.program = cache
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        cache[key] = Program(plan, values)
    return cache[key]


def _symbolic_local(op, count: int):
    """The op's local derivatives run on symbols: (the nodes they were built of, the results)."""
    from .symbols import symbolic_local

    return symbolic_local(op, count)


def pattern(op, count: int) -> int:
    """The pattern of an op's local derivatives for `count` operands: all 1 (add, of any count), 1 and
    -1 (sub), -1 (neg), each the other operand (mul of two), the output itself (exp); else OTHER."""
    if count not in op.learned:
        from .symbols import Sym

        _, ds = _symbolic_local(op, count)
        words = tuple(d.name if type(d) is Sym and d.name else repr(d) for d in ds)
        op.learned[count] = ONES if set(words) == {"1"} else _PATTERN_WORDS.get(words, OTHER)
    return op.learned[count]


def vector_local(op, count: int, wanted: tuple | None = None):
    """The op's local derivatives as a program over lists: (code, results). Registers 0..count hold
    the outputs and the operands; each code line (function, per argument a register or a constant)
    adds one; each result is ("reg", k) or ("const", number). Learned from `local` run on symbols,
    so a group does exactly the arithmetic a single node does. Where `wanted` says an operand's
    derivative is not wanted (a literal's), its result is None and no line works only for it
    (pow's ln x, which a negative base has not, for the exponent 2 of x ** 2)."""
    wanted = wanted or (True,) * count
    key = ("vector", count, wanted)
    if key not in op.learned:
        from .symbols import Sym

        nodes, ds = _symbolic_local(op, count)
        registers: dict[str | int, int] = {"out": 0, **{f"x{k}": k + 1 for k in range(count)}}

        def ref(a):
            if type(a) is not Sym:
                return ("const", a)
            return ("reg", registers[a.name] if a.name else registers[id(a)])

        code: list = []
        for node in nodes:
            registers[id(node)] = count + 1 + len(code)
            code.append((node.op.fast.get(len(node.args)) or node.op.forward, [ref(a) for a in node.args]))
        results = [ref(d) if w else None for d, w in zip(ds, wanted)]
        live = {v for r in results if r is not None and r[0] == "reg" for v in [r[1]]}
        for line in range(len(code) - 1, -1, -1):  # what the wanted results are made of
            if count + 1 + line in live:
                live.update(v for kind, v in code[line][1] if kind == "reg")
            else:
                code[line] = (None, [])  # a line no wanted result needs: skipped
        op.learned[key] = (code, results)
    return op.learned[key]


def run_vector_local(program, outs, operands: list, size: int) -> list:
    """Run a vector_local program on lists: the local derivatives, one list (or constant) per operand."""
    code, results = program
    registers = [outs, *operands]
    for f, args in code:
        registers.append(
            None
            if f is None
            else list(map(f, *[registers[v] if kind == "reg" else repeat(v, size) for kind, v in args]))
        )
    return [None if r is None else registers[r[1]] if r[0] == "reg" else r[1] for r in results]
