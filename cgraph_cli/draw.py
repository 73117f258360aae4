"""Pictures of a graph like the book's figures: Graphviz DOT and Mermaid text, and SVG/PNG through Graphviz.

Inputs stand as plain labels at the left, operations as circles with their
symbol, data flows left to right, and on every edge the forward value sits
above the gradient (in red) that flows back along it.
"""

from __future__ import annotations

import hashlib

from .engine import Result
from .errors import CgraphError
from .model import Input
from .render import format_number

GRAPHVIZ_FORMATS = ("svg", "png")
TEXT_FORMATS = ("dot", "mermaid")


class ToolMissing(CgraphError):
    """An external program cgraph needs is not installed."""


def _edges(result: Result, show_grad: bool):
    """(source id, source label or None, target position, value, gradient or None) per operand slot.

    A constant operand gets its own source id and label (it is drawn as plain
    text where it is used); a node operand is drawn from the node itself.
    """
    plan = result.plan
    n = plan.size
    for i in range(n):
        if plan.ops[i] is None:
            continue
        received = result.edge_grads(i) if show_grad else [None] * len(plan.args[i])
        for slot, (j, edge) in enumerate(zip(plan.args[i], received)):
            if j < n:
                yield f"n{j}", None, i, result.values[j], (edge[1] if edge is not None else None)
            else:
                yield f"c{i}_{slot}", result.values[j], i, result.values[j], None


def _sinks(result: Result) -> list[int]:
    """The nodes whose value leaves the picture on an arrow of its own: `of`, and what nothing consumes."""
    plan = result.plan
    consumed = {j for args in plan.args for j in args}
    return [i for i in range(plan.size) if i == result.of or (plan.ops[i] is not None and i not in consumed)]


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def to_dot(result: Result, show_grad: bool = True, precision: int | None = None) -> str:
    """The graph as Graphviz DOT, laid out left to right like the book's figures."""
    plan = result.plan
    num = lambda v: _html(format_number(v, precision))  # noqa: E731

    def edge_label(value, grad):
        text = num(value)
        if grad is not None:
            text += f'<br/><font color="#d62728">{num(grad)}</font>'
        return f"<{text}>"

    lines = []
    inputs = []
    for i, d in enumerate(plan.decls):
        if isinstance(d, Input):
            inputs.append(f"n{i}")
            lines.append(f'  n{i} [shape=plaintext, label=<<b>{_html(d.name)}</b>>];')
        else:
            symbol = _html(plan.ops[i].symbol)
            lines.append(f'  n{i} [shape=circle, label=<<font point-size="16">{symbol}</font>>, '
                         f'xlabel=<<font point-size="10" color="#555555">{_html(d.name)}</font>>];')
    for source, constant, i, value, grad in _edges(result, show_grad):
        if constant is not None:
            lines.append(f'  {source} [shape=plaintext, fontcolor="#555555", label=<{num(constant)}>];')
        lines.append(f"  {source} -> n{i} [label={edge_label(value, grad)}];")
    for i in _sinks(result):
        grad = result.grads[i] if show_grad else None
        lines.append(f'  out{i} [shape=plaintext, label=<{_html(plan.decls[i].name)}>];')
        lines.append(f"  n{i} -> out{i} [label={edge_label(result.values[i], grad)}];")
    if inputs:
        # Inputs down the left edge in file order, as the book lists them; invisible edges fix the order.
        lines.append("  { rank=source; " + " ".join(inputs) + "; }")
        if len(inputs) > 1:
            lines.append("  " + " -> ".join(inputs) + " [style=invis];")
    body = "\n".join(lines)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
    title = _html(f"{plan.graph.name}: {result.of_name} = {format_number(result.value, precision)}")
    return "\n".join([
        "digraph cgraph {",
        f'  graph [rankdir=LR, nodesep=0.35, ranksep=0.9, fontname="Helvetica", labelloc=t, '
        f'label=<<b>{title}</b>>, comment="cgraph {digest}"];',
        '  node [fontname="Helvetica", width=0.5, height=0.5, margin=0.02];',
        '  edge [fontname="Helvetica", fontsize=11, arrowsize=0.7];',
        body,
        "}",
    ]) + "\n"


def dot_digest(dot: str) -> str:
    """The content hash a DOT text carries in its comment, which Graphviz copies into the SVG."""
    marker = 'comment="cgraph '
    start = dot.index(marker) + len(marker)
    return dot[start:start + 16]


def _mermaid(text: str) -> str:
    # Mermaid's entity codes (#code;) keep quotes, pipes and brackets from ending a label early;
    # '#' goes first, so a name's own '#' cannot start an entity.
    for char, code in (("#", "#35;"), ("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"),
                       ("|", "#124;")):
        text = text.replace(char, code)
    return text


def to_mermaid(result: Result, show_grad: bool = True, precision: int | None = None) -> str:
    """The graph as a Mermaid flowchart (GitHub renders it in Markdown)."""
    plan = result.plan
    num = lambda v: _mermaid(format_number(v, precision))  # noqa: E731

    def label(value, grad):
        return num(value) if grad is None else f"{num(value)}<br/>grad {num(grad)}"

    lines = ["flowchart LR"]
    for i, d in enumerate(plan.decls):
        name = _mermaid(d.name)
        if isinstance(d, Input):
            lines.append(f'  n{i}["{name}"]')
        else:
            lines.append(f'  n{i}(("{_mermaid(plan.ops[i].symbol)}<br/>{name}"))')
    for source, constant, i, value, grad in _edges(result, show_grad):
        if constant is not None:
            lines.append(f'  {source}["{num(constant)}"]')
        lines.append(f'  {source} -->|"{label(value, grad)}"| n{i}')
    for i in _sinks(result):
        grad = result.grads[i] if show_grad else None
        lines.append(f'  out{i}["{_mermaid(plan.decls[i].name)}"]')
        lines.append(f'  n{i} -->|"{label(result.values[i], grad)}"| out{i}')
        lines.append(f"  style out{i} fill:none,stroke:none")
    for i, d in enumerate(plan.decls):
        if isinstance(d, Input):
            lines.append(f"  style n{i} fill:none,stroke:none")
    return "\n".join(lines) + "\n"


def graphviz(dot: str, fmt: str) -> bytes:
    """Render DOT text to SVG or PNG with Graphviz's `dot` program."""
    import subprocess

    try:
        done = subprocess.run(["dot", f"-T{fmt}"], input=dot.encode("utf-8"), capture_output=True, timeout=120)
    except FileNotFoundError:
        raise ToolMissing(f"--format {fmt} needs Graphviz's dot program, which is not installed "
                          "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
                          "--format dot and --format mermaid need nothing") from None
    except subprocess.TimeoutExpired:
        raise ToolMissing("Graphviz's dot took more than 120 s; try --format dot") from None
    if done.returncode != 0:
        raise ToolMissing(f"Graphviz's dot failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout
