"""cgraph draw: pictures of a graph like the book's figures: DOT and Mermaid text, SVG/PNG through Graphviz.

Inputs stand as plain labels at the left, operations as circles with their
symbol, data flows left to right, and on every edge the forward value sits
above the gradient (in red) that flows back along it.
"""

from __future__ import annotations

import hashlib

from ..core.engine import edge_grads
from ..core.errors import CgraphError
from ..core.op import Undefined
from ..core.result import Result
from ..show.numbers import SMALL_ARRAY, format_number, number_format, shown

GRAPHVIZ_FORMATS = ("svg", "png")


class ToolMissing(CgraphError):
    """An external program cgraph needs is not installed."""


def _scene(result: Result):
    """What a picture shows, in no format yet: nodes as (id, kind, name, symbol), kind one of
    input, op, constant, output; edges as (source id, target id, value, gradient or None, the
    name of what flows: an array's edge is labelled with it, `X (2, 2)`, as the book's figures do).

    An edge's gradient is what flows back along it: the operand's share from that consumer.
    A constant is drawn as plain text where it is used; every node whose value leaves the
    graph (the one differentiated, and any nothing consumes) gets an arrow to its name.
    """
    plan = result.plan
    n = plan.size
    show_grad = result.has_grads
    nodes: list[tuple] = []
    edges: list[tuple] = []
    for i, name in enumerate(plan.names):
        op = plan.ops[i]
        nodes.append((f"n{i}", "input" if op is None else "op", name, None if op is None else op.symbol))
    consumed = set()
    for i in range(n):
        if plan.is_input(i):
            continue
        shares = edge_grads(result, i) if show_grad else [None] * len(plan.args[i])
        for slot, (j, share) in enumerate(zip(plan.args[i], shares)):
            if not plan.is_literal(j):
                consumed.add(j)
                edges.append((f"n{j}", f"n{i}", result.values[j], None if share is None else share[1], plan.names[j]))
            else:
                nodes.append((f"c{i}_{slot}", "constant", format_number(result.values[j]), None))
                edges.append((f"c{i}_{slot}", f"n{i}", result.values[j], None, None))
    for i in range(n):
        if i == result.of or (not plan.is_input(i) and i not in consumed):
            nodes.append((f"out{i}", "output", plan.names[i], None))
            edges.append((f"n{i}", f"out{i}", result.values[i], result.grads[i] if show_grad else None, plan.names[i]))
    return nodes, edges


def _calls(result: Result, nodes: list[tuple]) -> dict[str, list[str]]:
    """The nodes each call of a function of the file made, by the call's node name: the picture
    draws a box around them, named by the call (`N(d1)`)."""
    calls = result.plan.calls
    boxes: dict[str, list[str]] = {}
    for node_id, kind, name, _ in nodes:
        if kind == "op" and name in calls:
            boxes.setdefault(calls[name], []).append(node_id)
    return boxes


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def edge_text(value, precision: int | None = None) -> str:
    """A number on an edge; an array as its shape, as the book's figures 5-25 and 5-29 label
    them, with its elements when there are few (at most 6)."""
    if getattr(value, "ndim", None) is None or type(value) is Undefined:
        return format_number(value, precision)
    if value.size > SMALL_ARRAY:
        return str(tuple(value.shape))
    return shown(value, number_format(precision))


def _named(name: str | None, value) -> str:
    """'X ' before an array's label (`X (2, 2)`, as figures 5-25 and 5-29 have it); '' for a number."""
    return f"{name} " if name is not None and getattr(value, "ndim", 0) > 0 else ""


def to_dot(result: Result, precision: int | None = None) -> str:
    """The graph as Graphviz DOT, laid out left to right like the book's figures (gradients
    only where the result has them)."""
    num = lambda v: _html(edge_text(v, precision))  # noqa: E731
    nodes, edges = _scene(result)
    shapes = {
        "input": lambda name, _: f"shape=plaintext, label=<<b>{_html(name)}</b>>",
        "op": lambda name, symbol: (
            f'shape=circle, label=<<font point-size="16">{_html(symbol)}</font>>, '
            f'xlabel=<<font point-size="10" color="#555555">{_html(name)}</font>>'
        ),
        "constant": lambda name, _: f'shape=plaintext, fontcolor="#555555", label=<{_html(name)}>',
        "output": lambda name, _: f"shape=plaintext, label=<{_html(name)}>",
    }
    lines = [f"  {node_id} [{shapes[kind](name, symbol)}];" for node_id, kind, name, symbol in nodes]
    for k, (call, ids) in enumerate(_calls(result, nodes).items()):
        lines.append(
            f'  subgraph cluster_{k} {{ label=<<font point-size="10">{_html(call)}</font>>; '
            f'style="rounded,dashed"; color="#999999"; {" ".join(ids)}; }}'
        )
    for source, target, value, grad, name in edges:
        label = _html(_named(name, value)) + num(value)
        label += "" if grad is None else f'<br/><font color="#d62728">{num(grad)}</font>'
        lines.append(f"  {source} -> {target} [label=<{label}>];")
    inputs = [node_id for node_id, kind, _, _ in nodes if kind == "input"]
    if inputs:
        # Inputs down the left edge in file order, as the book lists them; invisible edges fix the order.
        lines.append("  { rank=source; " + " ".join(inputs) + "; }")
        if len(inputs) > 1:
            lines.append("  " + " -> ".join(inputs) + " [style=invis];")
    body = "\n".join(lines)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
    title = _html(f"{result.plan.name}: {result.of_name} = {edge_text(result.value, precision)}")
    return (
        "\n".join(
            [
                "digraph cgraph {",
                f'  graph [rankdir=LR, nodesep=0.35, ranksep=0.9, fontname="Helvetica", labelloc=t, '
                f'label=<<b>{title}</b>>, comment="cgraph {digest}"];',
                '  node [fontname="Helvetica", width=0.5, height=0.5, margin=0.02];',
                '  edge [fontname="Helvetica", fontsize=11, arrowsize=0.7];',
                body,
                "}",
            ]
        )
        + "\n"
    )


def dot_digest(dot: str) -> str:
    """The content hash a DOT text carries in its comment, which Graphviz copies into the SVG."""
    marker = 'comment="cgraph '
    start = dot.index(marker) + len(marker)
    return dot[start : start + 16]


def _mermaid(text: str) -> str:
    # Mermaid's entity codes (#code;) keep quotes, pipes and brackets from ending a label early;
    # '#' goes first, so a name's own '#' cannot start an entity.
    for char, code in (("#", "#35;"), ("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;")):
        text = text.replace(char, code)
    return text


def to_mermaid(result: Result, precision: int | None = None) -> str:
    """The graph as a Mermaid flowchart (GitHub renders it in Markdown)."""
    num = lambda v: _mermaid(edge_text(v, precision))  # noqa: E731
    nodes, edges = _scene(result)
    lines = ["flowchart LR"]
    plain = []
    for node_id, kind, name, symbol in nodes:
        if kind == "op":
            lines.append(f'  {node_id}(("{_mermaid(symbol)}<br/>{_mermaid(name)}"))')
        else:
            lines.append(f'  {node_id}["{_mermaid(name)}"]')
            plain.append(node_id)
    for k, (call, ids) in enumerate(_calls(result, nodes).items()):
        lines += [f'  subgraph call{k}["{_mermaid(call)}"]', *(f"    {node_id}" for node_id in ids), "  end"]
    for source, target, value, grad, name in edges:
        label = _mermaid(_named(name, value)) + num(value) + ("" if grad is None else f"<br/>grad {num(grad)}")
        lines.append(f'  {source} -->|"{label}"| {target}')
    lines += [f"  style {node_id} fill:none,stroke:none" for node_id in plain]  # labels, not boxes
    return "\n".join(lines) + "\n"


def graphviz(dot: str, fmt: str) -> bytes:
    """Render DOT text to SVG or PNG with Graphviz's `dot` program."""
    import subprocess

    try:
        done = subprocess.run(["dot", f"-T{fmt}"], input=dot.encode("utf-8"), capture_output=True, timeout=120)
    except FileNotFoundError:
        raise ToolMissing(
            f"--format {fmt} needs Graphviz's dot program, which is not installed "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
            "--format dot and --format mermaid need nothing"
        ) from None
    except subprocess.TimeoutExpired:
        raise ToolMissing("Graphviz's dot took more than 120 s; try --format dot") from None
    if done.returncode != 0:
        raise ToolMissing(f"Graphviz's dot failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout
