"""Results to text: rich tables for people, JSON for scripts. Nothing here computes.

rich is imported only inside the table functions, so `--json` never pays for it.
"""

from __future__ import annotations

import json
from typing import Iterable

from .engine import Result
from .errors import short_list
from .model import Input, Plan
from .ops import OPS


def format_number(value, precision: int | None = None) -> str:
    """Python's shortest round-trip form, or `precision` significant digits."""
    if precision is None:
        return repr(value)
    return f"{value:.{precision}g}"


def _operand_text(operand) -> str:
    return operand if isinstance(operand, str) else repr(operand)


def to_json(data) -> str:
    """JSON text; refuses NaN and infinities (the engine never lets them through)."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False)


def run_json(result: Result) -> str:
    """`cgraph run --json`: the graph, the node differentiated, and every node's value and gradient."""
    plan = result.plan
    nodes = [{"name": d.name, "op": "input" if isinstance(d, Input) else d.op,
              "inputs": [] if isinstance(d, Input) else list(d.operands),
              "value": result.values[i], "grad": result.grads[i]}
             for i, d in enumerate(plan.decls)]
    return to_json({"graph": plan.graph.name, "of": result.of_name, "value": result.value, "nodes": nodes})


def grad_json(result: Result, wrt: Iterable[str]) -> str:
    """`cgraph grad --json`: d(of)/d(name) for each name asked for."""
    return to_json({"graph": result.plan.graph.name, "of": result.of_name, "value": result.value,
                    "gradients": {name: result.grad_of(name) for name in wrt}})


def validate_json(plan: Plan, output: str | None, sinks: list[str]) -> str:
    """`cgraph validate --json`: what the file holds."""
    graph = plan.graph
    return to_json({"graph": graph.name, "valid": True,
                    "inputs": [d.name for d in graph.inputs],
                    "nodes": [d.name for d in graph.nodes if not isinstance(d, Input)],
                    "output": output, "sinks": sinks})


def ops_json() -> str:
    """`cgraph ops --json`: the op table."""
    return to_json([{"op": op.name, "operands": op.arity_text(), "symbol": op.symbol,
                     "value": op.formula, "derivatives": op.derivative, "doc": op.doc}
                    for op in OPS.values()])


# rich spends about 0.3 ms a row; past this many rows we lay the table out ourselves,
# in the same columns, so a 100,000-node graph prints in seconds rather than minutes.
RICH_MAX_ROWS = 2000

_STYLES = {"bold": "1", "green": "32", "red": "31", "dim": "2"}  # as ANSI codes, for the plain layout


class _Table:
    """Columns and rows of text; drawn by rich, or plainly in the same layout when large."""

    def __init__(self):
        self.columns: list[tuple[str, str, str | None]] = []  # (header, justify, style)
        self.rows: list[list[str]] = []

    def column(self, header: str, justify: str = "left", style: str | None = None) -> None:
        self.columns.append((header, justify, style))

    def draw(self, headline: str | None, color: bool) -> str:
        if len(self.rows) > RICH_MAX_ROWS:
            return self._draw_plain(headline, color)
        return self._draw_rich(headline, color)

    def _draw_rich(self, headline, color) -> str:
        from io import StringIO

        from rich import box
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for header, justify, style in self.columns:
            table.add_column(header, justify=justify, style=style, no_wrap=True)
        # Never narrower than the table's natural width: a narrow terminal wraps the long
        # lines itself, where rich would squeeze columns and crop digits and labels.
        console = Console(file=StringIO(), force_terminal=color, no_color=not color,
                          color_system="standard" if color else None, width=100_000,
                          highlight=False, emoji=False, markup=False, soft_wrap=False)
        for row in self.rows:
            table.add_row(*row)
        if headline is not None:
            console.print(Text(headline, style="bold"))
        console.print(table)
        return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())

    def _draw_plain(self, headline, color) -> str:
        from rich.cells import cell_len

        widths = [cell_len(h) for h, _, _ in self.columns]
        for row in self.rows:
            for i, cell in enumerate(row):
                n = cell_len(cell)
                if n > widths[i]:
                    widths[i] = n

        def line(cells, styles):
            parts = []
            for cell, (_, justify, _), w, style in zip(cells, self.columns, widths, styles):
                pad = " " * (w - cell_len(cell))
                text = pad + cell if justify == "right" else cell + pad
                parts.append(f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if color and style and cell else text)
            return "   ".join(parts).rstrip()

        out = [] if headline is None else [f"\x1b[1m{headline}\x1b[0m" if color else headline]
        out.append(line([h for h, _, _ in self.columns], ["bold"] * len(widths)))
        out.append("─" * (sum(widths) + 3 * (len(widths) - 1)))
        styles = [s for _, _, s in self.columns]
        out.extend(line(row, styles) for row in self.rows)
        return "\n".join(out)


def _headline(result: Result, precision: int | None) -> str:
    return f"{result.plan.graph.name}: {result.of_name} = {format_number(result.value, precision)}"


def run_table(result: Result, precision: int | None = None, color: bool = False) -> str:
    """`cgraph run`: one row per node in evaluation order, the output's value above."""
    plan = result.plan
    has_labels = any(d.label for d in plan.decls)
    table = _Table()
    table.column("node", style="bold")
    table.column("op")
    table.column("operands")
    table.column("value", "right", "green")
    table.column(f"grad d({result.of_name})/d(node)", "right", "red")
    if has_labels:
        table.column("label", style="dim")
    values, grads = result.values, result.grads
    for i, d in enumerate(plan.decls):
        is_input = isinstance(d, Input)
        row = [d.name, "input" if is_input else d.op,
               "" if is_input else ", ".join(map(_operand_text, d.operands)),
               format_number(values[i], precision), format_number(grads[i], precision)]
        if has_labels:
            row.append(d.label or "")
        table.rows.append(row)
    return table.draw(_headline(result, precision), color)


def grad_table(result: Result, wrt: Iterable[str], precision: int | None = None, color: bool = False) -> str:
    """`cgraph grad`: d(of)/d(name) for each name asked for."""
    table = _Table()
    table.column("wrt", style="bold")
    table.column("value", "right", "green")
    table.column(f"d({result.of_name})/d(wrt)", "right", "red")
    for name in wrt:
        table.rows.append([name, format_number(result.value_of(name), precision),
                           format_number(result.grad_of(name), precision)])
    return table.draw(_headline(result, precision), color)


def validate_text(plan: Plan, source: str, output: str | None, sinks: list[str]) -> str:
    """`cgraph validate`: a short account of what the file holds."""
    graph = plan.graph
    inputs = graph.inputs
    nodes = [d for d in graph.nodes if not isinstance(d, Input)]
    counts: dict[str, int] = {}
    for d in nodes:
        counts[d.op] = counts.get(d.op, 0) + 1
    lines = [f"{source}: valid graph '{graph.name}'"]
    if graph.description:
        lines.append(f"  {graph.description}")
    lines.append(f"  inputs: {len(inputs)}" + (f" ({short_list([d.name for d in inputs])})" if inputs else ""))
    lines.append(f"  nodes: {len(nodes)}" + (" (" + ", ".join(f"{n} {op}" for op, n in counts.items()) + ")"
                                              if nodes else ""))
    if output is not None:
        lines.append(f"  output: {output}")
    else:
        lines.append(f"  output: ambiguous, several nodes are consumed by nothing ({short_list(sinks)}); "
                     "add 'output:' or pass --of")
    return "\n".join(lines)


def ops_table(color: bool = False) -> str:
    """`cgraph ops`: every op with its operand count, value and local derivatives."""
    table = _Table()
    for header in ("op", "symbol", "operands", "value", "local derivative(s)"):
        table.column(header)
    for op in OPS.values():
        table.rows.append([op.name, op.symbol, op.arity_text(), op.formula, op.derivative])
    return table.draw(None, color)


def _slot_note(e, p, k) -> str:
    """' (operand 2)' where the consumer takes this operand more than once, so two paths differ visibly."""
    return f" (operand {p.slots[k] + 1})" if p.nodes[k + 1] in e.repeated.get(p.nodes[k], ()) else ""


def explain_text(explanation, precision: int | None = None) -> str:
    """`cgraph explain`: each path from the output back to the node, its local derivatives and product."""
    e = explanation
    num = lambda v: format_number(v, precision)  # noqa: E731
    total = e.path_count
    lines = [f"d{e.of}/d{e.wrt} = {num(e.gradient)}  (backprop)",
             f"{total} path{'' if total == 1 else 's'} from {e.of} back to {e.wrt}; along each, "
             "the product of the local derivatives (d(output)/d(output) = 1 first):"]
    for p in e.paths:
        route = p.nodes[0] + "".join(f" → {name}{_slot_note(e, p, k)}" for k, name in enumerate(p.nodes[1:]))
        lines.append(f"  {route}: {' × '.join(['1'] + [num(d) for d in p.locals])} = {num(p.product)}")
    if len(e.paths) < total:
        lines.append(f"  ... {total - len(e.paths)} more path{'' if total - len(e.paths) == 1 else 's'} "
                     f"not listed (--max-paths); the total comes from backprop")
    elif total:
        lines.append(f"sum over {'the path' if total == 1 else f'all {total} paths'}: {num(e.paths_sum)}"
                     + ("" if e.paths_sum == e.gradient else
                        f"  (backprop's {num(e.gradient)} adds the same terms in another order)"))
    else:
        lines.append(f"  none: {e.of} does not depend on {e.wrt}, so the gradient is 0")
    return "\n".join(lines)


def explain_json(graph_name: str, value, explanation) -> str:
    """`cgraph explain --json`: the paths, how many there are, and the totals."""
    e = explanation
    return to_json({"graph": graph_name, "of": e.of, "wrt": e.wrt, "value": value, "gradient": e.gradient,
                    "path_count": e.path_count, "paths_listed": len(e.paths),
                    "paths_sum": e.paths_sum,
                    "paths": [{"nodes": list(p.nodes), "operand_slots": list(p.slots), "locals": list(p.locals),
                               "product": p.product} for p in e.paths]})


def steps_text(result: Result, steps, precision: int | None = None) -> str:
    """`cgraph explain --steps`: the backward pass node by node, as the book's layers run it."""
    num = lambda v: format_number(v, precision)  # noqa: E731
    lines = [f"backward pass from {result.of_name}, d{result.of_name}/d{result.of_name} = 1; "
             "each node sends dout × local derivative to its operands:"]
    for s in steps:
        sends = ",  ".join(f"{to} += {num(s.upstream)} × {num(local)} = {num(got)}" for to, local, got in s.sends)
        lines.append(f"  {s.node} ({s.op})  dout = {num(s.upstream)}  →  {sends}")
    return "\n".join(lines)


def steps_json(result: Result, steps) -> str:
    """`cgraph explain --steps --json`."""
    return to_json({"graph": result.plan.graph.name, "of": result.of_name, "value": result.value,
                    "steps": [{"node": s.node, "op": s.op, "upstream": s.upstream,
                               "sends": [{"to": to, "local": local, "receives": got}
                                         for to, local, got in s.sends]} for s in steps]})


_PLAIN_NAME = __import__("re").compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def _yaml_name(name: str) -> str:
    """A name as YAML that cgraph reads back as that name: plain where safe, else double-quoted."""
    from .yamltree import plain_kind

    if _PLAIN_NAME.fullmatch(name) and plain_kind(name) == "string":
        return name
    return json.dumps(name, ensure_ascii=False)


def _yaml_operand(operand) -> str:
    return _yaml_name(operand) if isinstance(operand, str) else repr(operand)


def graph_yaml(graph, header: list[str]) -> str:
    """A Graph as a cgraph YAML file (numbers as Python writes them, so they read back exactly)."""
    lines = [f"# {h}" for h in header]
    lines.append(f"name: {_yaml_name(graph.name)}")
    if graph.description:
        lines.append(f"description: {json.dumps(graph.description, ensure_ascii=False)}")
    inputs = graph.inputs
    if inputs:
        lines.append("inputs:")
        for d in inputs:
            value = repr(d.value)
            if d.label:
                value = f"{{value: {value}, label: {json.dumps(d.label, ensure_ascii=False)}}}"
            lines.append(f"  {_yaml_name(d.name)}: {value}")
    nodes = [d for d in graph.nodes if not isinstance(d, Input)]
    if nodes:
        lines.append("nodes:")
        for d in nodes:
            label = f", label: {json.dumps(d.label, ensure_ascii=False)}" if d.label else ""
            operands = ", ".join(map(_yaml_operand, d.operands))
            lines.append(f"  {_yaml_name(d.name)}: {{op: {d.op}, inputs: [{operands}]{label}}}")
    if graph.output is not None:
        lines.append(f"output: {_yaml_name(graph.output)}")
    return "\n".join(lines) + "\n"


def check_table(result: Result, checks, color: bool = False) -> str:
    """`cgraph check`: each input's gradient by backprop and by central difference, and the verdict."""
    table = _Table()
    table.column("input", style="bold")
    table.column("value", "right")
    table.column("h", "right")
    table.column("backprop", "right", "green")
    table.column("numeric", "right")
    table.column("abs error", "right")
    table.column("rel error", "right")
    table.column("status", style="bold")
    blank = "-"
    for c in checks:
        table.rows.append([c.name, format_number(c.value), f"{c.step:.3g}", format_number(c.backprop),
                           blank if c.numeric is None else format_number(c.numeric),
                           blank if c.abs_error is None else f"{c.abs_error:.2e}",
                           blank if c.rel_error is None else f"{c.rel_error:.2e}",
                           c.status + (f" ({c.note})" if c.note else "")])
    counts = {status: sum(c.status == status for c in checks) for status in ("FAIL", "kink", "undefined")}
    verdict = f"{counts['FAIL']} FAILED" if counts["FAIL"] else "all agree"
    others = [f"{n} {status}" for status, n in counts.items() if n and status != "FAIL"]
    if others:
        verdict += f" ({', '.join(others)}: not checked)" if not counts["FAIL"] else f", {', '.join(others)}"
    headline = (f"{result.plan.graph.name}: d{result.of_name}/d(input), backprop vs central difference: "
                + verdict)
    return table.draw(headline, color)


def check_json(result: Result, checks) -> str:
    """`cgraph check --json`."""
    return to_json({"graph": result.plan.graph.name, "of": result.of_name, "value": result.value,
                    "passed": not any(c.status == "FAIL" for c in checks),
                    "checks": [{"name": c.name, "value": c.value, "step": c.step, "backprop": c.backprop,
                                "numeric": c.numeric, "abs_error": c.abs_error, "rel_error": c.rel_error,
                                "status": c.status, "note": c.note} for c in checks]})


def hessian_table(result: Result, hessian: dict, precision: int | None = None, color: bool = False) -> str:
    """`cgraph grad --order 2`: the matrix of second derivatives."""
    names = list(hessian)
    table = _Table()
    table.column(f"d²{result.of_name}/d(row)d(col)", style="bold")
    for name in names:
        table.column(name, "right")
    for a in names:
        table.rows.append([a] + [format_number(hessian[a][b], precision) for b in names])
    return table.draw(_headline(result, precision), color)


def hessian_json(result: Result, hessian: dict) -> str:
    """`cgraph grad --order 2 --json`: {"hessian": {"x": {"x": .., "y": ..}, ...}}."""
    return to_json({"graph": result.plan.graph.name, "of": result.of_name, "value": result.value,
                    "hessian": hessian})
