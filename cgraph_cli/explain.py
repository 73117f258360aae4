"""The chain rule spelled out: every path from the output back to a node, and the backward pass step by step.

Pure computation over an evaluated Result; render.py turns it into text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .engine import Result
from .model import Input, path_counts
from .ops import Number


@dataclass(frozen=True, slots=True)
class Path:
    """One path from the output back to the node asked about, with the local derivative on each edge."""

    nodes: tuple[str, ...]  # output first, the node asked about last
    slots: tuple[int, ...]  # nodes[k+1] is operand number slots[k] (from 0) of nodes[k]
    locals: tuple[Number, ...]  # d(nodes[k])/d(nodes[k+1]) along this edge
    product: Number  # 1 x locals[0] x locals[1] x ..., left to right as backprop multiplies


@dataclass(frozen=True, slots=True)
class Explanation:
    """All the ways d(of)/d(wrt) is made up: the paths (up to a limit), how many there are, and the total."""

    of: str
    wrt: str
    paths: tuple[Path, ...]
    path_count: int  # all paths, counted without listing them
    paths_sum: Number | None  # the sum over the listed paths, when they are all the paths
    gradient: Number  # what backprop gives
    repeated: dict[str, frozenset[str]]  # node -> operands it takes more than once (on listed paths)


@dataclass(frozen=True, slots=True)
class Step:
    """One node's backward step: its upstream gradient, and what each operand receives."""

    node: str
    op: str
    upstream: Number
    sends: tuple[tuple[str, Number, Number], ...]  # (operand, local derivative, received)


def explain(result: Result, wrt: str, max_paths: int = 20) -> Explanation:
    """The paths from the output back to `wrt` (at most `max_paths`), their count, and their sum."""
    plan = result.plan
    target = plan.position(wrt, "--wrt")
    of = result.of
    counts = path_counts(plan, target, of)
    paths: list[Path] = []
    if counts[of]:
        # Depth first from the output towards `wrt`, through nodes that lead there; an explicit
        # stack (no recursion), operands in their order so the listing is deterministic, and
        # each path kept as links back to its start so a long chain is not copied at every step.
        stack = [(of, None, 1)]  # (node, link to the path so far, product so far)
        while stack and len(paths) < max_paths:
            i, link, product = stack.pop()
            if i == target:
                paths.append(_path(plan, of, link, product))
                continue
            branches = []
            for slot, (j, edge) in enumerate(zip(plan.args[i], result.edge_grads(i))):
                if edge is not None and j < plan.size and counts[j]:
                    branches.append((j, (link, slot, j, edge[0]), product * edge[0]))
            stack.extend(reversed(branches))
    complete = len(paths) == counts[of]
    total = None
    if complete and paths:
        total = paths[0].product
        for p in paths[1:]:
            total = total + p.product
    elif complete:
        total = 0
    repeated = {}
    for name in {n for p in paths for n in p.nodes}:
        i = plan.index[name]
        uses = Counter(j for j in plan.args[i] if j < plan.size)
        twice = frozenset(plan.decls[j].name for j, n in uses.items() if n > 1)
        if twice:
            repeated[name] = twice
    return Explanation(plan.decls[of].name, wrt, tuple(paths), counts[of], total, result.grads[target], repeated)


def _path(plan, of: int, link, product) -> Path:
    edges = []
    while link is not None:
        link, slot, operand, local = link
        edges.append((slot, operand, local))
    edges.reverse()
    return Path((plan.decls[of].name,) + tuple(plan.decls[j].name for _, j, _ in edges),
                tuple(slot for slot, _, _ in edges), tuple(local for _, _, local in edges), product)


def steps(result: Result) -> list[Step]:
    """The backward pass as it runs: for each node from the output back, what its operands receive."""
    plan = result.plan
    out = []
    for i in range(result.of, -1, -1):
        d = plan.decls[i]
        if isinstance(d, Input) or not result.reached[i]:  # what the backward pass did not visit
            continue
        sends = tuple((plan.decls[j].name, edge[0], edge[1])
                      for j, edge in zip(plan.args[i], result.edge_grads(i)) if edge is not None)
        out.append(Step(d.name, d.op, result.grads[i], sends))
    return out
