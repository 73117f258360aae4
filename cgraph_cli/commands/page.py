"""cgraph page: one self-contained HTML file that steps through a graph's forward and backward passes.

What the page needs is computed here, from an evaluated Result: the graph (names, ops, operands, the
file's labels and function calls), the trace of the passes (every value, every gradient, and what
each node sends each operand: the local derivative and dout times it, as `explain --steps` has
them), and where Graphviz puts each node and edge when it is installed. The page (show/web/)
draws it and steps through it; on a graph of numbers whose ops it knows, it runs both passes
again itself when an input changes, in cgraph's order (core/reference.py's loops).
"""

from __future__ import annotations

import json
import subprocess

from ..core.engine import edge_grads
from ..core.op import Undefined, Unused
from ..core.result import Result
from .draw import ToolMissing, _html, _scene, edge_text

LAYOUTS = ("auto", "graphviz", "dagre")

# The ops the page cannot run again as Python does: JavaScript has no erf to give math.erf's digits.
NOT_LIVE = frozenset({"erf", "erfc", "normal_cdf", "log_normal_cdf", "normal_ppf"})


def _plain(value):
    """A value as JSON can carry it: a number, nested lists for an array, None for one not needed."""
    if type(value) in (Unused, Undefined):
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def trace(result: Result) -> dict:
    """Every value and gradient by position, where the backward pass went, and per node what it sends
    each operand: [local derivative, received] (None for a literal or a constant; a local of None on
    arrays, and where the node is not needed)."""
    plan = result.plan
    sends = {}
    for i in range(plan.size):
        if plan.ops[i] is None:
            continue
        sends[i] = [None if e is None else [_plain(e[0]), _plain(e[1])] for e in edge_grads(result, i)]
    return {
        "values": [_plain(v) for v in result.values[: plan.size]],
        "grads": [None if g is None else _plain(g) for g in result.grads[: plan.size]],
        "reached": [bool(r) for r in result.reached[: plan.size]],  # where the backward pass went
        "sends": sends,
    }


def live_reason(result: Result) -> str | None:
    """Why the page cannot run this graph again when an input changes (None: it can)."""
    plan = result.plan
    if plan.arrays:
        return "a graph of arrays: the page shows cgraph's numbers for the inputs in the file"
    ops = sorted({plan.op_name(i) for i in range(plan.size) if plan.ops[i] is not None} & NOT_LIVE)
    if ops:
        return (
            f"it uses {', '.join(ops)}, which the browser cannot compute to Python's digits: "
            "the page shows cgraph's numbers for the inputs in the file"
        )
    return None


GRAPHVIZ_LIMIT = 1_500  # nodes in the picture: past this, `auto` does not wait for dot (5,000 took > 60 s)


def page(result: Result, layout: str = "auto") -> str:
    """The page, whole: laid out by Graphviz ("graphviz", or "auto" where it is installed and the
    picture has at most GRAPHVIZ_LIMIT nodes), or in the page ("dagre": dagre, or plain columns for
    a picture too large for it)."""
    from ..show.page import page_html

    if layout not in LAYOUTS:
        raise ToolMissing(f"layout {layout!r}: one of {', '.join(LAYOUTS)}")
    placed, scene = None, _scene(result)
    if layout == "graphviz" or (layout == "auto" and len(scene[0]) <= GRAPHVIZ_LIMIT):
        try:
            placed = graphviz_layout(result, scene)
        except ToolMissing:
            if layout == "graphviz":
                raise
        if placed is None and layout == "graphviz":
            raise ToolMissing(
                "--layout graphviz needs Graphviz's dot program, which is not installed "
                "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
                "--layout auto lays the page out with dagre instead"
            )
    return page_html(page_data(result, placed, scene))


def page_data(result: Result, layout: dict | None, scene: tuple | None = None) -> dict:
    """Everything the page shows, as JSON-ready data (`scene`: draw's _scene of the result, where
    already made)."""
    plan = result.plan
    nodes, edges = scene or _scene(result)
    ids = {f"n{i}": i for i in range(plan.size)}
    return {
        "name": plan.name,
        "source": plan.source,
        "of": result.of,
        "n": plan.size,
        "names": plan.names,
        "ops": [None if op is None else plan.op_name(i) for i, op in enumerate(plan.ops)],
        "symbols": {plan.op_name(i): op.symbol for i, op in enumerate(plan.ops) if op is not None},
        "args": [list(a) for a in plan.args],
        "literals": [_plain(v) for v in plan.literals],
        "fixed": sorted(plan.fixed),
        "sinks": [plan.index[name] for name in plan.sinks],
        "labels": {str(i): text for i, text in plan.labels.items()},
        "calls": {str(plan.index[name]): call for name, call in plan.calls.items() if name in plan.index},
        "shapes": {
            str(i): list(result.values[i].shape) for i in range(plan.size) if getattr(result.values[i], "ndim", 0)
        },
        "trace": trace(result),
        "live": live_reason(result),
        "scene": {
            "nodes": [[node_id, kind, name, symbol] for node_id, kind, name, symbol in nodes],
            # source id, target id, the operand's position (None for a literal), the consumer's, and
            # which of its operands this is (an output's arrow: None)
            "edges": _edges(edges, ids),
        },
        "layout": layout,
    }


def _edges(edges: list, ids: dict) -> list:
    """The scene's edges with the operand slot each fills (the scene lists a node's operands in order)."""
    out: list = []
    filled: dict[int, int] = {}
    for source, target, *_ in edges:
        consumer = ids.get(target)
        slot = None
        if consumer is not None:
            slot = filled[consumer] = filled.get(consumer, -1) + 1
        out.append([source, target, ids.get(source), consumer, slot])
    return out


def graphviz_layout(result: Result, scene: tuple | None = None) -> dict | None:
    """Where Graphviz's dot puts each node and edge (points, y down), or None without Graphviz (a
    ToolMissing error where it takes more than a minute).
    Each edge's label is sized for the widest number it shows now, so there is room for them."""
    nodes, edges = scene or _scene(result)
    lines = ["digraph page {", "  graph [rankdir=LR, nodesep=0.35, ranksep=0.9];", '  node [fontname="Helvetica"];']
    lines.append('  edge [fontname="Helvetica", fontsize=12];')
    for node_id, kind, name, symbol in nodes:
        if kind == "op":
            lines.append(f"  {node_id} [shape=circle, width=0.55, label=<{_html(symbol)}>, xlabel=<{_html(name)}>];")
        else:
            lines.append(f"  {node_id} [shape=plaintext, label=<{_html(name)}>];")
    for k, (source, target, value, grad, _) in enumerate(edges):
        texts = [edge_text(value), "" if grad is None else edge_text(grad)]
        wide = "0" * max(8, *(len(t) for t in texts))
        lines.append(f'  {source} -> {target} [id="e{k}", label="{wide}\\n{wide}"];')
    inputs = [node_id for node_id, kind, _, _ in nodes if kind == "input"]
    if inputs:  # down the left edge in file order, as the book lists them (as draw has them)
        lines.append("  { rank=source; " + " ".join(inputs) + "; }")
        if len(inputs) > 1:
            lines.append("  " + " -> ".join(inputs) + " [style=invis];")
    lines.append("}")
    try:
        done = subprocess.run(["dot", "-Tjson"], input="\n".join(lines).encode(), capture_output=True, timeout=60)
    except FileNotFoundError:
        return None
    except subprocess.TimeoutExpired:
        raise ToolMissing(
            "Graphviz's dot took more than 60 s on this graph; --layout dagre lays it out in the page"
        ) from None
    if done.returncode != 0:
        return None
    laid = json.loads(done.stdout)
    height = float(laid["bb"].split(",")[3])

    def point(text: str) -> list[float]:
        x, y = text.split(",")[-2:]
        return [round(float(x), 2), round(height - float(y), 2)]

    placed = {}
    for obj in laid.get("objects", []):
        if "pos" in obj:
            placed[obj["name"]] = point(obj["pos"]) + [float(obj["width"]) * 72, float(obj["height"]) * 72]
    routes = {}
    for edge in laid.get("edges", []):
        if "id" not in edge:
            continue  # (the inputs' invisible chain)
        parts = edge["pos"].split()
        end = point(parts[0]) if parts[0].startswith("e,") else None
        points = [point(p) for p in parts if not p.startswith(("e,", "s,"))]
        routes[edge["id"]] = {"points": points + ([end] if end else []), "label": point(edge["lp"])}
    return {
        "by": "graphviz",
        "width": float(laid["bb"].split(",")[2]),
        "height": height,
        "nodes": placed,
        "edges": [routes.get(f"e{k}") for k in range(len(edges))],
    }
