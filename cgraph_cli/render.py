"""Results to text: rich tables for people, JSON for scripts. Nothing here computes.

rich is imported only inside the table functions, so `--json` never pays for it.
"""

from __future__ import annotations

import json
from typing import Iterable

from .engine import Result
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


def _console(color: bool, width: int | None):
    from io import StringIO

    from rich.console import Console

    return Console(file=StringIO(), force_terminal=color, no_color=not color,
                   color_system="standard" if color else None, width=width or 100_000,
                   highlight=False, emoji=False, markup=False, soft_wrap=False)


def _draw(renderables, color: bool, width: int | None) -> str:
    console = _console(color, width)
    for r in renderables:
        console.print(r)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())


def _headline(result: Result, precision: int | None):
    from rich.text import Text

    line = Text()
    line.append(result.plan.graph.name, style="bold")
    line.append(": ")
    line.append(result.of_name, style="bold cyan")
    line.append(" = " + format_number(result.value, precision), style="bold")
    return line


def run_table(result: Result, precision: int | None = None, color: bool = False,
              width: int | None = None) -> str:
    """`cgraph run`: one row per node in evaluation order, the output's value above."""
    from rich import box
    from rich.table import Table

    plan = result.plan
    has_labels = any(d.label for d in plan.decls)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("node", style="bold", overflow="fold")
    table.add_column("op")
    table.add_column("operands", overflow="fold")
    table.add_column("value", justify="right", no_wrap=True, style="green")
    table.add_column(f"grad d({result.of_name})/d(node)", justify="right", no_wrap=True, style="red")
    if has_labels:
        table.add_column("label", overflow="fold", style="dim")
    for i, d in enumerate(plan.decls):
        is_input = isinstance(d, Input)
        row = [d.name, "input" if is_input else d.op,
               "" if is_input else ", ".join(_operand_text(o) for o in d.operands),
               format_number(result.values[i], precision), format_number(result.grads[i], precision)]
        if has_labels:
            row.append(d.label or "")
        table.add_row(*row)
    return _draw([_headline(result, precision), table], color, width)


def grad_table(result: Result, wrt: Iterable[str], precision: int | None = None, color: bool = False,
               width: int | None = None) -> str:
    """`cgraph grad`: d(of)/d(name) for each name asked for."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("wrt", style="bold", overflow="fold")
    table.add_column("value", justify="right", no_wrap=True, style="green")
    table.add_column(f"d({result.of_name})/d(wrt)", justify="right", no_wrap=True, style="red")
    for name in wrt:
        table.add_row(name, format_number(result.value_of(name), precision),
                      format_number(result.grad_of(name), precision))
    return _draw([_headline(result, precision), table], color, width)


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
    lines.append(f"  inputs: {len(inputs)}" + (f" ({_short_list([d.name for d in inputs])})" if inputs else ""))
    lines.append(f"  nodes: {len(nodes)}" + (" (" + ", ".join(f"{n} {op}" for op, n in counts.items()) + ")"
                                              if nodes else ""))
    if output is not None:
        lines.append(f"  output: {output}")
    else:
        lines.append(f"  output: ambiguous, several nodes are consumed by nothing ({_short_list(sinks)}); "
                     "add 'output:' or pass --of")
    return "\n".join(lines)


def _short_list(names: list[str], most: int = 10) -> str:
    if len(names) <= most:
        return ", ".join(names)
    return ", ".join(names[:most]) + f", ... {len(names) - most} more"


def ops_table(color: bool = False, width: int | None = None) -> str:
    """`cgraph ops`: every op with its operand count, value and local derivatives."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("op", "symbol", "operands", "value", "local derivative(s)"):
        table.add_column(name)
    for op in OPS.values():
        table.add_row(op.name, op.symbol, op.arity_text(), op.formula, op.derivative)
    return _draw([table], color, width)
