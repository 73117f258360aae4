"""The graph as frozen records, and its compiled, topologically ordered form."""

from __future__ import annotations

import gc
import heapq
from contextlib import contextmanager
from dataclasses import dataclass, field

from .errors import GraphError, Loc, RequestError, did_you_mean, short_list, shorten
from .ops import OPS, Number, Op

# An operand is the name of an input or node (str), or a constant (a number).
Operand = str | int | float


@dataclass(frozen=True, slots=True)
class Input:
    """A leaf of the graph: a named number that gets a gradient."""

    name: str
    value: Number
    label: str | None = None
    loc: Loc | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Node:
    """An operation applied to operands (names or constants), in order, duplicates kept."""

    name: str
    op: str
    operands: tuple[Operand, ...]
    label: str | None = None
    loc: Loc | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Graph:
    """A whole graph file: inputs and nodes in file order, and the chosen output."""

    name: str
    nodes: tuple[Input | Node, ...]
    output: str | None = None
    description: str | None = None
    source: str | None = field(default=None, compare=False)

    @property
    def inputs(self) -> tuple[Input, ...]:
        """The inputs, in file order."""
        return tuple(n for n in self.nodes if isinstance(n, Input))

    def error(self, message: str, loc: Loc | None = None) -> GraphError:
        """A GraphError located in this graph's file."""
        return GraphError(message, loc, self.source)


@dataclass(frozen=True, slots=True)
class Plan:
    """A graph compiled for evaluation: parallel lists indexed by evaluation position.

    Positions 0..n-1 are the graph's inputs and nodes in evaluation order;
    positions n.. hold the constants, so every operand is just a position.
    """

    graph: Graph
    decls: tuple[Input | Node, ...]  # in evaluation order
    ops: tuple[Op | None, ...]  # None for an input
    args: tuple[tuple[int, ...], ...]  # operand positions
    wanted: tuple[tuple[bool, ...], ...]  # whether each operand takes a gradient
    constants: tuple[Number, ...]
    index: dict[str, int]
    sinks: tuple[str, ...]  # op nodes nothing consumes, in evaluation order

    @property
    def size(self) -> int:
        """How many inputs and nodes the graph has."""
        return len(self.decls)

    def position(self, name: str, what: str) -> int:
        """The evaluation position of `name`, or a RequestError that suggests a close name."""
        try:
            return self.index[name]
        except KeyError:
            raise RequestError(f"{what}: the graph has no node '{shorten(name)}'"
                               f"{did_you_mean(name, self.index)}", source=self.graph.source) from None

    def input_position(self, name: str) -> int:
        """The position of an input that --set may override; a RequestError for anything else."""
        i = self.index.get(name)
        if i is None:
            inputs = [d.name for d in self.graph.inputs]
            raise RequestError(f"--set: the graph has no input '{shorten(name)}'{did_you_mean(name, inputs)}",
                               source=self.graph.source)
        if not isinstance(self.decls[i], Input):
            raise RequestError(f"--set: '{shorten(name)}' is a node, not an input; only inputs can be set",
                               source=self.graph.source)
        return i

    def default_output(self) -> str | None:
        """The file's output, else the one node nothing consumes; None when that is ambiguous."""
        if self.graph.output is not None:
            return self.graph.output
        return self.sinks[0] if len(self.sinks) == 1 else None

    def output(self) -> str:
        """The node to differentiate when no other is asked for; an error listing the candidates."""
        name = self.default_output()
        if name is not None:
            return name
        if not self.sinks:
            raise self.graph.error("the graph is empty")
        raise self.graph.error("several nodes are consumed by nothing, so the output is ambiguous: "
                               + short_list(self.sinks) + "; add 'output:' to the file or pass --of")


def path_counts(plan: Plan, source: int, sink: int) -> list[int]:
    """For each node, how many paths lead from `source` through it to `sink` (0: it is on none).

    A path is a chain of operand slots, so `mul: [x, x]` is two. Counted forward
    from `source` in evaluation order, so a lattice of n diamonds with 2^n paths
    costs n steps; nodes that do not lead on to `sink` are then set to 0.
    """
    n = plan.size
    counts = [0] * n
    counts[source] = 1
    for i in range(source + 1, sink + 1):
        if plan.ops[i] is not None:
            counts[i] = sum(counts[j] for j in plan.args[i] if j < n)
    leads = [False] * n
    leads[sink] = True
    for i in range(sink, source - 1, -1):
        if leads[i]:
            for j in plan.args[i]:
                if j < n:
                    leads[j] = True
    return [c if lead else 0 for c, lead in zip(counts, leads)]


@contextmanager
def paused_gc():
    """Pause the cyclic garbage collector while building many small objects that form no cycles.

    It would otherwise walk them again and again: loading a 100,000-node file
    takes twice as long with it running (bench/load_gc.py). Nests safely.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compile_graph(graph: Graph) -> Plan:
    """Order the graph topologically (ties in file order) and index its operands.

    The order is Kahn's algorithm that always takes the ready node that comes
    first in the file, so a file written in dependency order evaluates in its
    own order. Iterative: a chain a million deep is fine.
    """
    with paused_gc():
        return _compile(graph)


def _compile(graph: Graph) -> Plan:
    decls = graph.nodes
    n = len(decls)
    where = {d.name: i for i, d in enumerate(decls)}
    if len(where) != n:
        raise graph.error("names must be unique across inputs and nodes")
    constants: list[Number] = []
    ops: list[Op | None] = []
    file_args: list[tuple[int, ...]] = []  # operand positions in file order; constants at n..
    in_order = True  # every operand declared before its consumer: file order is the evaluation order
    for i, d in enumerate(decls):
        if type(d) is Input:
            ops.append(None)
            file_args.append(())
            continue
        args = []
        for o in d.operands:
            if type(o) is str:
                p = where.get(o)
                if p is None:
                    raise graph.error(f"node '{shorten(d.name)}': unknown operand '{shorten(o)}'"
                                      f"{did_you_mean(o, where)}", d.loc)
                in_order = in_order and p < i
            else:
                p = n + len(constants)
                constants.append(o)
            args.append(p)
        op = OPS.get(d.op)
        if op is None:
            raise graph.error(f"node '{shorten(d.name)}': unknown op '{shorten(d.op)}'{did_you_mean(d.op, OPS)}",
                              d.loc)
        problem = op.arity_problem(len(args))
        if problem:
            raise graph.error(f"node '{shorten(d.name)}': {problem}", d.loc)
        ops.append(op)
        file_args.append(tuple(args))

    if in_order:
        order = range(n)
        args_in_order = file_args
    else:
        order = _kahn(graph, file_args)
        rank = [0] * n
        for r, i in enumerate(order):
            rank[i] = r
        args_in_order = [tuple(rank[p] if p < n else p for p in file_args[i]) for i in order]
        ops = [ops[i] for i in order]

    consumed = [False] * n
    wanted_forms: dict = {}  # one shared tuple per pattern: a million nodes share a few
    wanted = []
    for args in args_in_order:
        w = tuple(p < n for p in args)
        wanted.append(wanted_forms.setdefault(w, w))
        for p in args:
            if p < n:
                consumed[p] = True
    ordered = tuple(decls[i] for i in order)
    if any(op is not None for op in ops):
        sinks = tuple(d.name for d, op, c in zip(ordered, ops, consumed) if op is not None and not c)
    else:
        sinks = tuple(d.name for d in ordered)  # only inputs: an input is its own output
    return Plan(graph, ordered, tuple(ops), tuple(args_in_order), tuple(wanted), tuple(constants),
                {d.name: r for r, d in enumerate(ordered)}, sinks)


def _kahn(graph, file_args) -> list[int]:
    n = len(graph.nodes)
    operand_pos = [[p for p in ps if p < n] for ps in file_args]
    pending = [len(set(ps)) for ps in operand_pos]
    consumers: list[list[int]] = [[] for _ in range(n)]
    for i, ps in enumerate(operand_pos):
        for p in set(ps):
            consumers[p].append(i)
    ready = [i for i, c in enumerate(pending) if c == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for c in consumers[i]:
            pending[c] -= 1
            if pending[c] == 0:
                heapq.heappush(ready, c)
    if len(order) < n:
        raise _cycle_error(graph, operand_pos, pending)
    return order


def _cycle_error(graph, operand_pos, pending) -> GraphError:
    decls = graph.nodes
    # Every node left pending has an operand that is pending too, so walking
    # operands from one of them must come back to a node already seen.
    start = next(i for i, c in enumerate(pending) if c > 0)
    seen: dict[int, int] = {}
    walk = []
    i = start
    while i not in seen:
        seen[i] = len(walk)
        walk.append(i)
        i = next(p for p in operand_pos[i] if pending[p] > 0)
    cycle = walk[seen[i]:]
    cycle.reverse()  # walked against the data; turn it to the direction data flows
    first = cycle.index(min(cycle))  # start at the node that comes first in the file
    cycle = cycle[first:] + cycle[:first]
    names = [shorten(decls[j].name) for j in cycle + cycle[:1]]
    if len(names) > 8:  # a long cycle: its start and end, and how many nodes between
        names = names[:3] + [f"… ({len(names) - 6:,} more) …"] + names[-3:]
    path = " -> ".join(names)
    return graph.error(f"the graph has a cycle: {path}", decls[cycle[0]].loc)
