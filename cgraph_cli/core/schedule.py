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
from itertools import repeat
from typing import Any

from .graph import Plan

# Local-derivative patterns a single node's backward step handles inline; OTHER runs the op's `local`.
ONES, PLUS_MINUS, MINUS, SWAP, OUT, OTHER = range(6)
_PATTERN_WORDS = {("1", "-1"): PLUS_MINUS, ("-1",): MINUS, ("x1", "x0"): SWAP, ("out",): OUT}

GROUP_SIZE = 16  # fewer nodes of one op in one level run one at a time: a group's setup would not pay


class Run:
    """Nodes run one after another. Per node, a forward tuple (operand count, slot, first operand's
    slot, second operand's or all of them, forward function, whether the value may be an integer)
    and a backward tuple (pattern of the local derivatives, slot, operand slots, op, plan position),
    the backward ones in reverse order."""

    __slots__ = ("forward", "backward")

    def __init__(self, plan: Plan, positions: list[int], slot: list[int], ints: list[bool], how: Callable, same: bool):
        ops, all_args = plan.ops, plan.args
        if same:  # every value kept at its own position (a file in dependency order, run node by node)
            args = [all_args[p] for p in positions]
        else:
            at = slot.__getitem__
            args = [tuple(map(at, all_args[p])) for p in positions]
        kinds = list(map(how, [ops[p] for p in positions], map(len, args)))  # (forward function, derivative pattern)
        self.forward = [
            (len(a), slot[p], a[0], a[1] if len(a) == 2 else a, f, ints[p])
            for p, a, (f, _) in zip(positions, args, kinds)
        ]
        self.backward = [(pattern, slot[p], a, ops[p], p) for p, a, (_, pattern) in zip(positions, args, kinds)][::-1]


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
        ops, all_args = plan.ops, plan.args
        ints = [type(v) is int for v in values]  # which values may be integers (constants included)
        level = [0] * len(values)  # inputs and constants are level 0
        width = [0] * (len(ops) + 1)  # how many nodes each level has
        some_int = any(ints)  # until a value may be an integer, no operand need be looked at for one
        for p, op in enumerate(ops):
            if op is None:
                continue
            args = all_args[p]
            lv = level[p] = 1 + max(map(level.__getitem__, args))
            width[lv] += 1
            # x * 2 is a float where x is (floats_stay); step(x) may be an integer whatever x is.
            if not op.floats_stay or some_int and all(map(ints.__getitem__, args)):
                ints[p] = some_int = True
        alike: dict[tuple, list] = {}  # (level, op, operand count) -> float nodes that may be a group
        if max(width) >= GROUP_SIZE:  # (a chain has no level that wide)
            for p, op in enumerate(ops):
                if op is not None and width[level[p]] >= GROUP_SIZE and not ints[p] and len(all_args[p]) <= 2:
                    alike.setdefault((level[p], op, len(all_args[p])), []).append(p)
        groups = [members for members in alike.values() if len(members) >= GROUP_SIZE]
        layout = [[p] for p in plan.inputs]  # inputs first, then the nodes as they are scheduled
        if not groups:  # node by node, in evaluation order
            layout.extend([p] for p in range(len(ops)) if ops[p] is not None)
        else:  # level by level; a level's group at the place of its first member
            at_level: list[list] = [[] for _ in range(max(level) + 1)]
            group_of = {members[0]: members for members in groups}
            grouped = set().union(*groups)
            for p in range(len(ops)):
                if ops[p] is None:
                    continue
                if p not in grouped:
                    at_level[level[p]].append([p])
                elif p in group_of:
                    at_level[level[p]].append(group_of[p])
            for units in at_level:
                layout.extend(units)
        slot = list(range(len(values)))
        x = 0
        for unit in layout:
            for p in unit:
                slot[p] = x
                x += 1
        self.slot = slot
        same = slot == list(range(len(slot)))
        self._by_position: Callable[[list], Any] | None = None
        self.segments: list = []
        known: dict[tuple, tuple] = {}  # (op, operand count) -> (its forward function, its derivatives' pattern)

        def how(op, count: int) -> tuple:
            kind = known.get((op, count))
            if kind is None:
                kind = known[op, count] = (op.fast.get(count) or op.forward, pattern(op, count))
            return kind

        singles: list[int] = []  # nodes run one after another since the last group
        for unit in layout[len(plan.inputs) :]:
            if len(unit) == 1:
                singles.append(unit[0])
                continue
            if singles:
                self.segments.append(Run(plan, singles, slot, ints, how, same))
                singles = []
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
        if singles:
            self.segments.append(Run(plan, singles, slot, ints, how, same))

    def backward_units(self) -> list:
        """The order backward takes the nodes in: ("node", p) or ("group", positions), for
        `cgraph derive` to add contributions up alike."""
        units: list = []
        for segment in reversed(self.segments):
            if type(segment) is Group:
                units.append(("group", segment.positions))
            else:
                units.extend(("node", step[4]) for step in segment.backward)
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
