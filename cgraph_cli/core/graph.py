"""A graph as a file declares it (Draft), and compiled for evaluation (Plan): flat lists by position.

No object per node: a million-node graph is a handful of lists. Where a node
stands in its file (line, column) is found only when a message needs it.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from contextlib import contextmanager
from itertools import compress, repeat
from operator import is_not, not_

from .errors import (
    GraphError,
    Loc,
    RequestError,
    did_you_mean,
    did_you_mean_or_list,
    short_list,
    shorten,
    shown_operands,
)
from .layers import ShapeError, broadcast, text
from .op import Number, Op, is_finite
from .ops import OPS


def _number(value):
    """A value given for an input as a Python int or float (numpy's too); None for anything else."""
    from numbers import Integral, Real

    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    value = int(value) if isinstance(value, Integral) else float(value)
    return value if is_finite(value) else None


class Draft:
    """A graph as declared, in file order: one entry per input or node in parallel lists."""

    __slots__ = (
        "name",
        "description",
        "output",
        "names",
        "ops",
        "operands",
        "values",
        "labels",
        "formats",
        "units",
        "dists",
        "correlations",
        "source",
        "locate",
        "fixed",
        "formulas",
        "functions",
        "calls",
        "attrs",
        "arrays",
    )

    def __init__(self, name: str, source: str | None = None):
        self.name = name
        self.description: str | None = None
        self.output: str | None = None
        self.names: list[str] = []
        self.ops: list[str | None] = []  # None for an input
        self.operands: list[tuple] = []  # names (str) and literals (numbers); () for an input
        self.values: list = []  # an input's value; None for a node
        self.labels: dict[int, str] = {}
        # How an entry's value is shown: (kind, decimals) as read.syntax.display_format gives it
        # (`2.5%` in the file: percent); and its unit (USD, cups), by file index.
        self.formats: dict[int, tuple] = {}
        self.units: dict[int, str] = {}
        self.dists: dict[int, object] = {}  # an input's distribution (core/distributions.py), by file index
        self.correlations: list[tuple[str, str, float]] = []  # rank correlations between inputs drawn
        self.source = source
        self.locate: Callable[[str], Loc | None] | None = (
            None  # name -> Loc | None, where the file declares it; made when first needed
        )
        self.fixed: set[int] = set()  # the entries of `constants:`: inputs that get no gradient
        # A node written as a formula -> (its text, the names of the nodes its parts became).
        self.formulas: dict[str, tuple[str, list[str]]] = {}
        self.functions: dict = {}  # the file's functions: name -> read.formula.Function
        self.calls: dict[str, str] = {}  # a node a call of a function made -> the call's node
        self.attrs: dict[int, dict] = {}  # a node's attributes (axis: 0), by file index
        self.arrays = False  # some value is an array: the graph is evaluated by arrays.py

    def add_input(self, name: str, value: Number, label: str | None = None, constant: bool = False) -> None:
        """Declare an input (a constant: one that is not differentiated)."""
        if label:
            self.labels[len(self.names)] = label
        if constant:
            self.fixed.add(len(self.names))
        self.names.append(name)
        self.ops.append(None)
        self.operands.append(())
        self.values.append(value)

    def add_node(
        self, name: str, op: str, operands: tuple, label: str | None = None, attrs: dict | None = None
    ) -> None:
        """Declare an op node (with its attributes, axis: 0)."""
        if label:
            self.labels[len(self.names)] = label
        if attrs:
            self.attrs[len(self.names)] = attrs
        self.names.append(name)
        self.ops.append(op)
        self.operands.append(operands)
        self.values.append(None)


class Plan:
    """A graph compiled for evaluation: parallel lists indexed by evaluation position.

    Positions 0..n-1 are the inputs and nodes in evaluation order (topological,
    ties in file order); positions n.. hold the literals (numbers written in an
    operand list: the 2 of `x * 2`), so every operand is just a position. The
    file's constants are inputs that take no gradient: their positions are `fixed`.
    """

    __slots__ = (
        "names",
        "ops",
        "args",
        "values",
        "literals",
        "index",
        "labels",
        "formats",
        "units",
        "dists",
        "correlations",
        "file_order",
        "name",
        "description",
        "output",
        "source",
        "_sinks",
        "_locate",
        "program",
        "_inputs",
        "fixed",
        "formulas",
        "functions",
        "calls",
        "attrs",
        "arrays",
        "shapes",
    )

    def __init__(
        self,
        draft: Draft,
        order: list[int] | None,
        args: list[tuple[int, ...]],
        literals: list,
        ops: list,
        index: dict | None,
    ):
        """`order` lists the draft's entries in evaluation order (None: the file order); `ops` are
        the op definitions in that order; `index` maps names to positions where already made."""
        n = len(draft.names)
        if order is None:
            self.names, self.values, self.labels = draft.names, draft.values, draft.labels
            self.file_order: range | list[int] = range(n)
        else:
            self.names = [draft.names[k] for k in order]
            self.values = [draft.values[k] for k in order]
            rank = [0] * n
            for i, k in enumerate(order):
                rank[k] = i
            self.labels = {rank[k]: text for k, text in draft.labels.items()}
            self.file_order = rank
        self.formats = draft.formats if order is None else {rank[k]: f for k, f in draft.formats.items()}
        self.units = draft.units if order is None else {rank[k]: u for k, u in draft.units.items()}
        self.dists = draft.dists if order is None else {rank[k]: d for k, d in draft.dists.items()}
        self.correlations = draft.correlations
        self.fixed = draft.fixed if order is None else {rank[k] for k in draft.fixed}  # positions
        self.attrs = draft.attrs if order is None else {rank[k]: a for k, a in draft.attrs.items()}
        # An array graph is evaluated by arrays.py: some value is an array, or an op or attribute
        # needs arrays. Its shapes are inferred and checked when it is loaded.
        self.arrays = draft.arrays or bool(draft.attrs)
        self.shapes: list | None = None
        self.formulas, self.functions, self.calls = draft.formulas, draft.functions, draft.calls
        self.ops: list[Op | None] = ops
        self.args = args
        self.literals = literals  # numbers written as operands, at positions n..
        self.index = index if index is not None else {name: i for i, name in enumerate(self.names)}
        self.name, self.description, self.output = draft.name, draft.description, draft.output
        self.source = draft.source
        self._locate = draft.locate
        self.program: dict | None = None  # the engine's schedules, made on first evaluation
        self._inputs: list[int] | None = None
        self._sinks: list[str] | None = None

    @property
    def size(self) -> int:
        """How many inputs and nodes the graph has."""
        return len(self.names)

    def is_input(self, i: int) -> bool:
        """Whether position i is an input (or a constant): it has no op."""
        return self.ops[i] is None

    def is_literal(self, j: int) -> bool:
        """Whether operand position j is a literal number (the 2 of `x * 2`): they stand past the nodes."""
        return j >= len(self.names)

    def takes_gradient(self, j: int) -> bool:
        """Whether position j is given a gradient: an input or a node, not a literal nor a constant."""
        return j < len(self.names) and j not in self.fixed

    @property
    def inputs(self) -> list[int]:
        """The positions of the inputs, in file order."""
        if self._inputs is None:
            order = self.file_order  # (a range where the file order is the evaluation order)
            ops = self.ops if type(order) is range else map(self.ops.__getitem__, order)
            self._inputs = list(compress(order, map(not_, ops)))
        return self._inputs

    @property
    def sinks(self) -> list[str]:
        """The names of the nodes nothing consumes, in evaluation order (of only inputs: the inputs)."""
        if self._sinks is None:
            ops, n = self.ops, self.size
            if any(map(is_not, ops, repeat(None))):
                consumed = bytearray(n + len(self.literals))
                for args in self.args:
                    for j in args:
                        consumed[j] = 1
                self._sinks = [self.names[i] for i in range(n) if not consumed[i] and ops[i] is not None]
            else:
                self._sinks = list(self.names)  # only inputs: an input is its own output
        return self._sinks

    @property
    def input_names(self) -> list[str]:
        """The names of the inputs, in file order."""
        return [self.names[i] for i in self.inputs]

    @property
    def variables(self) -> list[int]:
        """The positions of the inputs that are differentiated (not constants), in file order."""
        return [i for i in self.inputs if i not in self.fixed]

    @property
    def variable_names(self) -> list[str]:
        """The names of the inputs that are differentiated, in file order."""
        return [self.names[i] for i in self.variables]

    def made_by(self) -> dict[str, str]:
        """Each node a formula's part became -> the node whose formula made it (the first, if shared)."""
        owners: dict[str, str] = {}
        for node, (_, parts) in self.formulas.items():
            for part in parts:
                owners.setdefault(part, node)
        return owners

    def to_draft(self, values: dict | None = None) -> Draft:
        """The graph as a Draft again, in file order, with new `values` (name -> value) for some inputs."""
        values = values or {}
        draft = Draft(self.name, self.source)
        draft.description, draft.output, draft.formulas = self.description, self.output, self.formulas
        draft.functions, draft.calls, draft.arrays = self.functions, self.calls, self.arrays
        draft.correlations = self.correlations
        for i in self.file_order:
            k = len(draft.names)
            if i in self.formats:
                draft.formats[k] = self.formats[i]
            if i in self.units:
                draft.units[k] = self.units[i]
            if i in self.dists:
                draft.dists[k] = self.dists[i]
            name, op = self.names[i], self.ops[i]
            if op is None:
                value = values.get(name, self.values[i])
                draft.add_input(name, value, self.labels.get(i), i in self.fixed)
            else:
                draft.add_node(name, op.name, self.operands(i), self.labels.get(i), self.attrs.get(i))
        return draft

    def operands(self, i: int) -> tuple:
        """Node i's operands as written: names, and the literal numbers."""
        n = len(self.names)
        return tuple(self.names[p] if p < n else self.literals[p - n] for p in self.args[i])

    def attributes(self, i: int) -> dict:
        """Node i's attributes (axis: 0), each as the file gives it or else its op's default."""
        given = self.attrs.get(i)
        defaults = self.node_op(i).attributes
        return {**defaults, **given} if given else defaults

    def node_op(self, i: int) -> Op:
        """The op of node i, for code that knows position i is a node."""
        op = self.ops[i]
        if op is None:
            raise ValueError(f"position {i} is an input, not a node")
        return op

    def op_name(self, i: int) -> str:
        """'input', 'constant', or the name of node i's op."""
        op = self.ops[i]
        if op is None:
            return "constant" if i in self.fixed else "input"
        return op.name

    def node_text(self, i: int, xs: list, reason: str) -> str:
        """What is wrong at node i, with operands `xs`: "node 'y' = div(0, 0.0): division by zero"."""
        return f"node '{shorten(self.names[i])}' = {self.op_name(i)}({shown_operands(xs)}): {reason}"

    def gradient_text(self, i: int, xs: list, k: int, reason: str) -> str:
        """Why the gradient node i passes to its operand k is undefined."""
        target = shorten(self.names[self.args[i][k]])
        return self.node_text(i, xs, f"the gradient it passes to '{target}' is undefined: {reason}")

    def loc(self, i: int) -> Loc | None:
        """Where the file declares position i (found on first use: most runs never need it)."""
        return self._locate(self.names[i]) if self._locate is not None else None

    def error(self, message: str, i: int | None = None) -> GraphError:
        """A GraphError in this graph's file, at node i when given."""
        return GraphError(message, None if i is None else self.loc(i), self.source)

    def position(self, name: str, role: str) -> int:
        """The position of `name`, or a RequestError (for `role`: wrt, of) that suggests a close name;
        a constant is refused as what to differentiate with respect to."""
        i = self.index.get(name)
        if i is None:
            raise RequestError(
                f"the graph has no node '{shorten(name)}'{did_you_mean(name, self.index)}", self.source, role
            )
        if i in self.fixed and role != "of":
            raise RequestError(
                f"'{shorten(name)}' is a constant, and constants are not differentiated; "
                "declare it under inputs: for its gradient",
                self.source,
                role,
            )
        return i

    def element(self, wrt: str) -> tuple[str, tuple[int, ...] | None]:
        """`W1[0, 1]`, one element of an array, as ('W1', (0, 1)), checked against W1's shape (a
        RequestError for `wrt` when it does not fit); any other name as (name, None)."""
        import re

        match = None if wrt in self.index or not self.arrays else re.fullmatch(r"(.+)\[(.*)\]", wrt)
        if match is None or match.group(1) not in self.index:
            return wrt, None
        name = match.group(1)
        shape = self.shapes[self.index[name]] if self.shapes else ()
        try:
            index = tuple(int(k) for k in match.group(2).split(",")) if match.group(2).strip() else ()
        except ValueError:
            raise RequestError(
                f"'{shorten(wrt)}': an element is NAME[i, j], whole numbers", self.source, "wrt"
            ) from None
        if len(index) != len(shape) or not all(0 <= k < n for k, n in zip(index, shape)):
            raise RequestError(
                f"'{shorten(wrt)}': '{shorten(name)}' has shape {shape}; an element of it is "
                f"{name}[{', '.join(f'0..{n - 1}' for n in shape)}]",
                self.source,
                "wrt",
            )
        return name, index

    def numbers_only(self, what: str, role: str | None = None) -> None:
        """A RequestError for what works on graphs of numbers alone (`what`: a command or option),
        asked of a graph of arrays."""
        if self.arrays:
            raise RequestError(f"{what} works on graphs of numbers, and this one holds arrays", self.source, role)

    def given(self, overrides) -> list:
        """Every position's given value (None for a node), then the literals: the file's values
        with `overrides` (input or constant name -> value) set."""
        given = self.values + self.literals
        for name, value in overrides.items():
            i = self.input_position(name)
            value = _number(value)
            if value is None:  # (a bool, text, nan: not a number)
                raise RequestError(
                    f"--set {shorten(name)}: the value must be a finite number, not {shorten(repr(overrides[name]))}",
                    self.source,
                    "set",
                )
            given[i] = value
        return given

    def input_position(self, name: str, role: str = "set") -> int:
        """The position of an input (or constant) that may be set, swept or moved (`role`); a
        RequestError for anything else."""
        i = self.index.get(name)
        if i is None:
            inputs = [self.names[k] for k in self.inputs]
            kind = "inputs and constants" if self.fixed else "inputs"
            raise RequestError(
                f"the graph has no input '{shorten(name)}'{did_you_mean_or_list(name, inputs, kind)}",
                self.source,
                role,
            )
        if self.ops[i] is not None:
            verb = {"set": "set", "sweep": "swept"}.get(role, "moved")
            raise RequestError(
                f"'{shorten(name)}' is a node, not an input; only inputs can be {verb}", self.source, role
            )
        return i

    def default_output(self) -> str | None:
        """The file's output, else the one node nothing consumes; None when that is ambiguous."""
        if self.output is not None:
            return self.output
        return self.sinks[0] if len(self.sinks) == 1 else None

    def output_position(self, of: str | None = None) -> int:
        """The node to differentiate: `of`, else the output; an error listing the candidates."""
        if of is not None:
            return self.position(of, "of")
        name = self.default_output()
        if name is not None:
            return self.index[name]
        if not self.sinks:
            raise self.error("the graph is empty")
        raise self.error(
            "several nodes are consumed by nothing, so the output is ambiguous: "
            + short_list(self.sinks)
            + "; add 'output:' to the file or pass --of"
        )


def element_name(name: str, at: tuple) -> str:
    """One element of an array, as Plan.element reads it: W1[0, 1]."""
    return f"{name}[{', '.join(map(str, at))}]"


_OP_OF: dict = {None: None, **OPS}


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
            counts[i] = sum(counts[j] for j in plan.args[i] if not plan.is_literal(j))
    leads = bytearray(n)
    leads[sink] = 1
    for i in range(sink, source - 1, -1):
        if leads[i]:
            for j in plan.args[i]:
                if j < n:
                    leads[j] = 1
    return [c if lead else 0 for c, lead in zip(counts, leads)]


@contextmanager
def paused_gc():
    """Pause the cyclic garbage collector while building many small objects that form no cycles.

    It would otherwise walk them again and again: loading a large file takes
    twice as long with it running (bench/load_gc.py). Nests safely.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compile_draft(draft: Draft) -> Plan:
    """Order the graph topologically (ties in file order) and index its operands.

    The order is Kahn's algorithm that always takes the ready node that comes
    first in the file, so a file written in dependency order evaluates in its
    own order. Iterative: a chain a million deep is fine. Errors name the node
    and, where the draft can say, its place in the file.
    """
    names, ops, operands = draft.names, draft.ops, draft.operands
    n = len(names)
    where = dict(zip(names, range(n)))
    if len(where) != n:
        raise _draft_error(draft, "names must be unique across inputs and nodes")
    definitions = list(map(_OP_OF.get, ops))
    literals: list = []
    file_args: list[tuple[int, ...]] = []
    late = False  # some operand declared after its consumer: then the file order is not the evaluation order
    # Written out for one and two operands (most nodes), as the engine's loops are: a graph is
    # compiled before its first evaluation, and this is its one loop over every node.
    for k in range(n):
        definition = definitions[k]
        if definition is None:
            unknown = ops[k]
            if unknown is None:  # an input
                file_args.append(())
                continue
            raise _draft_error(
                draft,
                f"node '{shorten(names[k])}': unknown op '{shorten(unknown)}'{did_you_mean(unknown, OPS)}",
                names[k],
            )
        o = operands[k]
        count = len(o)
        mark = len(literals)
        args: tuple[int, ...]
        try:  # written out for the common counts; an unknown name raises, and the careful way says which
            if count == 2:  # names, or a literal number (the 2 of `x * 2`: it stands at n + its index)
                x, y = o
                if type(x) is str:
                    a = where[x]
                else:
                    a = n + len(literals)
                    literals.append(x)
                if type(y) is str:
                    b = where[y]
                else:
                    b = n + len(literals)
                    literals.append(y)
                args = (a, b)
                late = late or k <= a < n or k <= b < n
            elif count == 1:
                args = (where[o[0]],)
                late = late or args[0] >= k
            else:
                args = tuple(map(where.__getitem__, o))
                late = late or max(args) >= k
        except (KeyError, TypeError):  # a literal number among one or many, or an unknown name
            del literals[mark:]
            args = _operand_positions(draft, k, where, literals)
            late = late or any(k <= p < n for p in args)
        if count < definition.min_args or count > (definition.max_args or count):
            raise _draft_error(draft, f"node '{shorten(names[k])}': {definition.arity_problem(count)}", names[k])
        file_args.append(args)
        if definition.arrays_only:
            draft.arrays = True
    if not late:  # most files are written in dependency order: then that is the evaluation order
        plan = Plan(draft, None, file_args, literals, definitions, where)
    else:
        order = _kahn(draft, file_args)
        rank = [0] * n
        for r, k in enumerate(order):
            rank[k] = r
        ordered = [tuple(rank[p] if p < n else p for p in file_args[k]) for k in order]
        plan = Plan(draft, order, ordered, literals, [definitions[k] for k in order], None)
    if plan.arrays:
        plan.shapes = infer_shapes(plan)
    return plan


# Numbers an operand may name (a formula's `2 * pi`), where no input or node of the graph has that name.
NAMED_NUMBERS = {"pi": math.pi, "e": math.e}


def _operand_positions(draft: Draft, k: int, where: dict, literals: list) -> tuple[int, ...]:
    """Node k's operand positions where some operand is a number (a literal, at n..) or unknown."""
    n = len(draft.names)
    args = []
    for o in draft.operands[k]:
        if type(o) is str and o not in where and o in NAMED_NUMBERS:  # pi and e, where no entry has the name
            o = NAMED_NUMBERS[o]
        if type(o) is str:
            p = where.get(o)
            if p is None:
                raise _draft_error(
                    draft,
                    f"node '{shorten(draft.names[k])}': unknown operand '{shorten(o)}'{did_you_mean(o, where)}",
                    draft.names[k],
                )
        else:
            p = n + len(literals)
            literals.append(o)
        args.append(p)
    return tuple(args)


def _draft_error(draft: Draft, message: str, name: str | None = None) -> GraphError:
    loc = draft.locate(name) if (name is not None and draft.locate is not None) else None
    return GraphError(message, loc, draft.source)


def _kahn(draft: Draft, file_args) -> list[int]:
    import heapq

    n = len(draft.names)
    operand_pos = [[p for p in ps if p < n] for ps in file_args]
    pending = [len(set(ps)) for ps in operand_pos]
    consumers: list[list[int]] = [[] for _ in range(n)]
    for k, ps in enumerate(operand_pos):
        for p in set(ps):
            consumers[p].append(k)
    ready = [k for k, c in enumerate(pending) if c == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        k = heapq.heappop(ready)
        order.append(k)
        for c in consumers[k]:
            pending[c] -= 1
            if pending[c] == 0:
                heapq.heappush(ready, c)
    if len(order) < n:
        raise _cycle_error(draft, operand_pos, pending)
    return order


def _cycle_error(draft: Draft, operand_pos, pending) -> GraphError:
    names = draft.names
    # Every node left pending has an operand that is pending too, so walking
    # operands from one of them must come back to a node already seen.
    start = next(k for k, c in enumerate(pending) if c > 0)
    seen: dict[int, int] = {}
    walk: list[int] = []
    k = start
    while k not in seen:
        seen[k] = len(walk)
        walk.append(k)
        k = next(p for p in operand_pos[k] if pending[p] > 0)
    cycle = walk[seen[k] :]
    cycle.reverse()  # walked against the data; turn it to the direction data flows
    first = cycle.index(min(cycle))  # start at the node that comes first in the file
    cycle = cycle[first:] + cycle[:first]
    shown = [shorten(names[j]) for j in cycle + cycle[:1]]
    if len(shown) > 8:  # a long cycle: its start and end, and how many nodes between
        shown = shown[:3] + [f"… ({len(shown) - 6:,} more) …"] + shown[-3:]
    return _draft_error(draft, f"the graph has a cycle: {' -> '.join(shown)}", names[cycle[0]])


# -- shapes of an array graph, inferred and checked before anything is evaluated -------------


def shape_of(value) -> tuple[int, ...]:
    """The shape of a value: () for a number."""
    return tuple(getattr(value, "shape", ()))


# The most elements any array may hold (80 MB of float64): past it a few bytes of file (a matmul of
# a column by a row) could ask for gigabytes.
MAX_ELEMENTS = 10_000_000


# The most elements all of a graph's values may hold together (400 MB of float64; a pass keeps every
# value, and as many gradients, for the backward pass): 25 nodes of {zeros: [10000000]} took 4 GB.
MAX_GRAPH_ELEMENTS = 50_000_000


def infer_shapes(plan: Plan) -> list[tuple[int, ...]]:
    """Every position's shape (values by evaluation position, then the literals), or the located
    error of the first node whose operands' shapes do not fit its op or whose result is too large."""
    n = plan.size
    shapes: list = [shape_of(v) for v in plan.values] + [()] * len(plan.literals)
    total = 0  # elements so far, in evaluation order
    for i in range(n):
        op = plan.ops[i]
        if op is None:
            total += math.prod(shapes[i])
            continue
        operand_shapes = [shapes[j] for j in plan.args[i]]
        try:
            shapes[i] = (op.infer or broadcast)(*operand_shapes, **plan.attributes(i))
        except ShapeError as e:
            raise plan.error(f"node '{shorten(plan.names[i])}': {op.name}: {e}", i) from None
        if math.prod(shapes[i]) > MAX_ELEMENTS:
            raise plan.error(
                f"node '{shorten(plan.names[i])}': {op.name} of {', '.join(map(text, operand_shapes))} would hold "
                f"{math.prod(shapes[i]):,} elements; an array holds at most {MAX_ELEMENTS:,}",
                i,
            )
        total += math.prod(shapes[i])
        if total > MAX_GRAPH_ELEMENTS:
            raise plan.error(
                f"node '{shorten(plan.names[i])}': the graph's values up to here hold {total:,} numbers; "
                f"a graph's values hold at most {MAX_GRAPH_ELEMENTS:,} in all (400 MB)",
                i,
            )
    return shapes
