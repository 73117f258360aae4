"""cgraph explain: the chain rule spelled out, every path from the output back to a node; backward, step by step.

Computed over an evaluated Result, and turned into text below (explain_text, steps_text). Paths
are found one at a time, as they are printed: their number can explode (a
lattice of n diamonds has 2^n), so memory never holds more than one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..core.engine import edge_grads
from ..core.graph import path_counts
from ..core.op import Number, Undefined
from ..core.result import Result
from ..show.formats import to_json
from ..show.numbers import Format, arrays_too, format_number, plural
from ..show.table import cell


@dataclass(frozen=True, slots=True)
class Path:
    """One path from the output back to the node asked about, with the local derivative on each edge."""

    nodes: tuple[str, ...]  # output first, the node asked about last
    slots: tuple[int, ...]  # nodes[k+1] is operand number slots[k] (from 0) of nodes[k]
    locals: tuple[Number, ...]  # d(nodes[k])/d(nodes[k+1]) along this edge
    product: Number  # 1 x locals[0] x locals[1] x ..., left to right as backprop multiplies


class Explanation:
    """All the ways d(of)/d(wrt) is made up: the paths (found lazily, up to a limit), how many
    there are, and, once they have all been listed, their sum.

    On a graph of arrays a local derivative is a matrix, not a number, so a path carries the
    gradient itself: from the output (an array of ones) each node's backward step passes it on
    along the path's next edge alone, and what reaches `wrt` is the path's share (Path.product;
    Path.locals is empty). The shares add up to backprop's gradient, the backward pass being
    linear. `wrt` may name one element of an array, `W1[0, 1]`: then each share is that element's.
    """

    def __init__(self, result: Result, wrt: str, max_paths: int):
        plan = result.plan
        self.result = result
        name, self.element = plan.element(wrt)
        self.target = plan.position(name, "wrt")
        self.of, self.wrt = result.of_text, wrt
        self.counts = path_counts(plan, self.target, result.of)
        self.path_count: int = self.counts[result.of]  # all paths, counted without listing them
        self.gradient = self._at_element(result.grads[self.target])  # what backprop gives
        self.max_paths = max_paths
        self.listed = 0  # how many paths have been listed so far
        self.paths_sum: Number | None = None  # the sum over the listed paths, once they are all the paths
        if self.path_count == 0:
            self.paths_sum = 0

    @property
    def paths(self) -> Iterator[Path]:
        """The paths, depth first from the output, operands in order: deterministic, no recursion,
        each kept as links back to its start so a long chain is not copied at every step."""
        result, plan, counts = self.result, self.result.plan, self.counts
        total = None
        carry = _carry(result) if plan.arrays else None
        seed: Any = 1 if carry is None else carry(result.of, None, None)
        stack: list[tuple[int, Any, Any]] = (
            [(result.of, None, seed)] if self.path_count else []
        )  # (node, link to the path so far, product: on arrays, the gradient carried this far)
        while stack and self.listed < self.max_paths:
            i, link, product = stack.pop()
            if i == self.target:
                path = _path(plan, result.of, link, self._at_element(product))
                total = path.product if total is None else total + path.product
                self.listed += 1
                if self.listed == self.path_count:
                    self.paths_sum = total
                yield path
                continue
            branches = []
            if carry is not None:
                for slot, (j, sent) in enumerate(zip(plan.args[i], carry(i, product, counts))):
                    if sent is not None:
                        branches.append((j, (link, slot, j, None), sent))
                stack.extend(reversed(branches))
                continue
            for slot, (j, edge) in enumerate(zip(plan.args[i], edge_grads(result, i))):
                if edge is not None and not plan.is_literal(j) and counts[j]:
                    branches.append((j, (link, slot, j, edge[0]), product * edge[0]))
            stack.extend(reversed(branches))

    def _at_element(self, value):
        """The element asked for of an array (a number), or the value itself."""
        if self.element is None or type(value) is Undefined:
            return value
        return float(value[self.element]) if getattr(value, "ndim", 0) else value

    def repeated(self, node: str, operand: str) -> bool:
        """Whether `node` takes `operand` more than once (so its paths need telling apart)."""
        plan = self.result.plan
        j = plan.index[operand]
        return sum(1 for k in plan.args[plan.index[node]] if k == j) > 1


def explain(result: Result, wrt: str, max_paths: int = 20) -> Explanation:
    """The paths from the output back to `wrt` (at most `max_paths`), their count, and their sum."""
    return Explanation(result, wrt, max_paths)


def _path(plan, of: int, link, product) -> Path:
    edges = []
    while link is not None:
        link, slot, operand, local = link
        edges.append((slot, operand, local))
    edges.reverse()
    return Path(
        (plan.names[of],) + tuple(plan.names[j] for _, j, _ in edges),
        tuple(slot for slot, _, _ in edges),
        tuple(local for _, _, local in edges if local is not None),
        product,
    )


def _carry(result: Result):
    """carry(i, dout, counts): what node i's backward step sends each operand from `dout` (None for
    an operand on no path to the target); carry(of, None, None) is the seed, ones."""
    import numpy as np

    from ..core.arrays import sends

    plan = result.plan

    def carry(i: int, dout, counts):
        if dout is None:
            return np.ones_like(result.values[i], dtype=float)
        sent = sends(np, plan, result.values, i, dout)
        return [g if not plan.is_literal(j) and counts[j] else None for j, g in zip(plan.args[i], sent)]

    return carry


@dataclass(frozen=True, slots=True)
class Step:
    """One node's backward step: its upstream gradient, and what each operand receives."""

    node: str
    op: str
    upstream: Number
    sends: tuple[tuple[str, Number, Number], ...]  # (operand, local derivative, received)


def steps(result: Result, wrt: str | None = None) -> list[Step]:
    """The backward pass as it runs: for each node from the output back, what its operands receive;
    with `wrt`, only the steps on the way to that node, and only what is sent towards it."""
    plan = result.plan
    on_way = None if wrt is None else path_counts(plan, plan.position(wrt, "wrt"), result.of)
    out = []
    for i in range(result.of, -1, -1):
        if plan.is_input(i) or not result.reached[i] or (on_way is not None and not on_way[i]):
            continue  # what the backward pass did not visit, or what does not lead to wrt
        sends = tuple(
            (plan.names[j], edge[0], edge[1])
            for j, edge in zip(plan.args[i], edge_grads(result, i))
            if edge is not None and (on_way is None or on_way[j])
        )
        if sends:
            out.append(Step(plan.names[i], plan.op_name(i), result.grads[i], sends))
    return out


def _slot_note(e, p, k) -> str:
    """' (operand 2)' where the consumer takes this operand more than once, so two paths differ visibly."""
    return f" (operand {p.slots[k] + 1})" if e.repeated(p.nodes[k], p.nodes[k + 1]) else ""


def explain_text(explanation, num: Format = format_number) -> Iterator[str]:
    """`cgraph explain`, line by line (each ending in a newline) as the paths are found: each path
    from the output back to the node, its local derivatives and their product; then the sum."""
    e = explanation
    total = e.path_count
    num = arrays_too(num)
    yield f"d{cell(e.of)}/d{cell(e.wrt)} = {num(e.gradient)}  (backprop)\n"
    if not total:
        yield (
            f"no path leads from {cell(e.of)} back to {cell(e.wrt)}: {cell(e.of)} does not depend on it, "
            "so the gradient is 0\n"
        )
        return
    along = "it" if total == 1 else "each"
    arrays = e.result.plan.arrays
    yield (
        f"{plural(total, 'path')} from {cell(e.of)} back to {cell(e.wrt)}; along {along}, "
        + (
            "each node's backward step passes the gradient on (ones from the output first); "
            "what reaches the end is the path's share:\n"
            if arrays
            else "the product of the local derivatives (d(output)/d(output) = 1 first):\n"
        )
    )
    made_by_calls = e.result.plan.calls
    calls: set[str] = set()
    for p in e.paths:
        calls.update(made_by_calls[name] for name in p.nodes if name in made_by_calls)
        route = cell(p.nodes[0]) + "".join(
            f" → {cell(name)}{_slot_note(e, p, k)}" for k, name in enumerate(p.nodes[1:])
        )
        if arrays:
            yield f"  {route}: {num(p.product)}\n"
            continue
        yield f"  {route}: {' × '.join(['1'] + [num(d) for d in p.locals])} = {num(p.product)}\n"
    if calls:  # where the nodes of a function's calls came from
        plan = e.result.plan
        yield (
            "  (calls of the file's functions on these paths: "
            + "; ".join(
                f"{cell(call)}, made by {cell(plan.labels.get(plan.index[call], call))}" for call in sorted(calls)
            )
            + ")\n"
        )
    if e.listed < total:
        yield (
            f"  ... {plural(total - e.listed, 'more path')} not listed (--max-paths); the total comes from backprop\n"
        )
    else:
        yield (
            f"sum over {'the path' if total == 1 else f'all {total} paths'}: {num(e.paths_sum)}"
            + (
                ""
                if arrays or e.paths_sum == e.gradient
                else f"  (backprop's {num(e.gradient)} adds the same terms in another order)"
            )
            + "\n"
        )


def explain_json(graph_name: str, value, explanation) -> Iterator[str]:
    """`cgraph explain --json`, written as the paths are found (so memory is bounded by one path)."""
    e = explanation
    yield (
        to_json(
            {
                "graph": graph_name,
                "of": e.of,
                "wrt": e.wrt,
                "value": value,
                "gradient": e.gradient,
                "path_count": e.path_count,
            }
        )[:-1]
        + ', "paths": ['
    )
    for k, p in enumerate(e.paths):
        yield ("" if k == 0 else ", ") + to_json(
            {"nodes": list(p.nodes), "operand_slots": list(p.slots), "locals": list(p.locals), "product": p.product}
        )
    yield f'], "paths_listed": {e.listed}, "paths_sum": {to_json(e.paths_sum)}}}'


def steps_text(result: Result, steps, num: Format = format_number) -> str:
    """`cgraph explain --steps`: the backward pass node by node, as the book's layers run it."""
    num = arrays_too(num)
    arrays = result.plan.arrays
    lines = [
        f"backward pass from {cell(result.of_name)}, d{cell(result.of_text)}/d{cell(result.of_name)} = "
        + ("ones; each node's backward step sends its operands:" if arrays else "1; ")
        + ("" if arrays else "each node sends dout × local derivative to its operands:")
    ]
    for s in steps:
        sends = ",  ".join(
            f"{cell(to)} += {num(got)}"
            if local is None
            else f"{cell(to)} += {num(s.upstream)} × {num(local)} = {num(got)}"
            for to, local, got in s.sends
        )
        lines.append(
            f"  {cell(s.node)} ({s.op}{_call_note(result.plan, s.node)})  dout = {num(s.upstream)}  →  {sends}"
        )
    return "\n".join(lines)


def _call_note(plan, node: str) -> str:
    """`, in N(d1)` for a node a call of a function of the file made (`, N(x) = ...` for its result)."""
    call = plan.calls.get(node)
    if call is None:
        return ""
    label = plan.labels.get(plan.index[node], "")
    return f", {label}" if call == node and label else f", in {cell(call)}"


def steps_json(result: Result, steps) -> str:
    """`cgraph explain --steps --json`."""
    return to_json(
        {
            "graph": result.plan.name,
            "of": result.of_name,
            "value": result.value,
            "steps": [
                {
                    "node": s.node,
                    "op": s.op,
                    "upstream": s.upstream,
                    "sends": [{"to": to, "local": local, "receives": got} for to, local, got in s.sends],
                }
                for s in steps
            ],
        }
    )
