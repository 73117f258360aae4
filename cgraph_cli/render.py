"""Results to text: rich tables for people, JSON for scripts, YAML for derived graphs. Nothing here computes.

rich is imported only inside the table functions, so `--json` never pays for it.
Tables stay bounded whatever the graph holds: long cells are shortened in the
middle, and past a few thousand rows only the first and last are shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .engine import Result
from .errors import printable, short_list, shorten
from .graph import Draft, Plan, element_name
from .ops import OPS, Undefined, Unused


def format_number(value, precision: int | None = None, decimals: int | None = None) -> str:
    """Python's shortest round-trip form; or `precision` significant digits, in exponent form only
    outside 1e-4 <= |x| < 1e15 (so money reads 1270, not 1.27e+03); or `decimals` fixed places."""
    if type(value) is Undefined:
        return "undefined"
    if type(value) is Unused:
        return "not used"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    if precision is None:
        return repr(value)
    text = f"{value:.{precision}g}"
    if "e" in text and 1e-4 <= abs(float(text)) < 1e15:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    return text


Format = Callable[[object], str]

# An array of at most this many elements is shown whole in a table; a larger one by its shape and
# first few elements (a value) or its smallest and largest (a gradient), unless --full.
SMALL_ARRAY = 6


def shown(value, num: Format, full: bool = False, spread: bool = False) -> str:
    """A number by `num`; an array by its shape and elements (all of them when small or `full`, one
    row per line; else its first few, or with `spread` its min and max)."""
    if getattr(value, "ndim", None) is None:
        return num(value)
    shape = str(tuple(value.shape))
    if value.size <= SMALL_ARRAY or full:
        import numpy as np

        formatter: Any = {"all": lambda x: num(x.item())}
        text = np.array2string(value, 10**9, threshold=value.size + 1, separator=", ", formatter=formatter)
        return f"{shape} {' '.join(text.split())}" if value.size <= SMALL_ARRAY else f"{shape}\n{text}"
    if spread:
        return f"{shape} min {num(float(value.min()))} max {num(float(value.max()))}"
    return f"{shape} [{', '.join(num(x) for x in value.flat[:3].tolist())}, …]"


def number_format(precision: int | None = None, decimals: int | None = None) -> Format:
    """format_number with the digits a command line asked for."""
    return lambda value: format_number(value, precision, decimals)


def _json_default(value):
    if type(value) in (Undefined, Unused):
        return None  # an undefined gradient, or the value of a node not used, is null in JSON
    if hasattr(value, "tolist"):
        return value.tolist()  # an array: nested lists (its values are finite: the engine checks)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_json(data) -> str:
    """JSON text; refuses NaN and infinities (the engine never lets them through)."""
    import json

    return json.dumps(data, ensure_ascii=False, allow_nan=False, default=_json_default)


_JSON_ESCAPES = {
    **{code: f"\\u{code:04x}" for code in range(32)},
    8: "\\b",
    9: "\\t",
    10: "\\n",
    12: "\\f",
    13: "\\r",
    34: '\\"',
    92: "\\\\",
}


def json_strings(texts: list[str]) -> list[str]:
    """Each text as a JSON string, as json.dumps(ensure_ascii=False) writes it; quick when, as
    almost always, no text needs an escape."""
    joined = "".join(texts)
    if joined.isprintable() and '"' not in joined and "\\" not in joined:
        return [f'"{text}"' for text in texts]
    return [f'"{text.translate(_JSON_ESCAPES)}"' for text in texts]


def run_json(result: Result) -> Iterator[str]:
    """`cgraph run --json`: the graph, the node differentiated, and every node's value and gradient,
    written a few thousand nodes at a time (a million nodes need no second copy as one text).
    Each piece is put together from the JSON forms of names and numbers: a dict per node and a
    general encoder would take twice as long (and `json` costs every start a millisecond)."""
    plan = result.plan
    if plan.arrays:
        yield _arrays_json(result)
        return
    graph, of = json_strings([plan.name, result.of_name])
    yield f'{{"graph": {graph}, "of": {of}, "value": {result.value!r}, "nodes": ['
    n, ops, args = plan.size, plan.ops, plan.args
    names = json_strings(plan.names) + list(map(repr, plan.constants))  # operands' names too
    # Values are finite ints and floats, whose repr is JSON's; an undefined gradient is null, and so
    # is the value of a node not used, with why.
    undefined = {i for i, _ in result.undefined()}
    unused = dict(result.unused())
    fixed = plan.fixed
    for start in range(0, n, 4096):
        stop = min(n, start + 4096)
        values = map(repr, result.values[start:stop])
        grads = map(repr, result.grads[start:stop])
        pieces = []
        for i, value, grad in zip(range(start, stop), values, grads):
            if i in unused:
                value = f'null, "not_used": {json_strings([unused[i].reason])[0]}'
            op = ops[i]
            kind = op.name if op is not None else "constant" if i in fixed else "input"
            pieces.append(
                f'{{"name": {names[i]}, "op": "{kind}", '
                f'"inputs": [{", ".join(map(names.__getitem__, args[i]))}], '
                f'"value": {value}' + ("}" if grad == "None" else f', "grad": {"null" if i in undefined else grad}}}')
            )
        yield ("" if start == 0 else ", ") + ", ".join(pieces)
    yield "]}"


def _arrays_json(result: Result) -> str:
    """`cgraph run --json` for an array graph: values and gradients as nested lists, with shapes."""
    plan = result.plan
    nodes = []
    for i in range(plan.size):
        node: dict = {"name": plan.names[i], "op": plan.op_name(i), "inputs": list(plan.operands(i))}
        if plan.attrs.get(i):
            node["attributes"] = plan.attrs[i]
        node["shape"] = list(plan.shapes[i]) if plan.shapes else []
        node["value"] = result.values[i]
        if type(result.values[i]) is Unused:
            node["not_used"] = result.values[i].reason
        if result.grads[i] is not None:
            node["grad"] = result.grads[i]
        nodes.append(node)
    return to_json({**_about(result), "nodes": nodes})


def _about(result: Result) -> dict:
    """The head of a result's JSON: the graph, the node differentiated and its value (and, for an
    array output, that gradients are of the sum of its elements)."""
    about = {"graph": result.plan.name, "of": result.of_name, "value": result.value}
    if result.of_text != result.of_name:
        about["grad_of"] = result.of_text
    return about


def grad_json(result: Result, wrt: Iterable[str], elasticities: dict | None = None) -> str:
    """`cgraph grad --json`: d(of)/d(name) for each name asked for (and its elasticity)."""
    data = {
        **_about(result),
        "gradients": {name: result.grad_of(name) for name in wrt},
    }
    if elasticities is not None:
        data["elasticities"] = elasticities
    return to_json(data)


def csv_text(rows: Iterable[list]) -> str:
    """Rows as CSV text (RFC 4180 quoting; numbers at full precision; no number: an empty cell)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(
            ["" if x is None or type(x) in (Undefined, Unused) else x if type(x) is str else repr(x) for x in row]
        )
    return out.getvalue()


def run_csv(result: Result) -> str:
    """`cgraph run --csv`: one row per node, its operands separated by spaces; no gradient: empty.
    Where a node was not used, its value is empty and a last column, note, says why."""
    plan = result.plan
    unused = dict(result.unused())
    rows: list[list] = [["name", "op", "inputs", "value", "grad"] + (["note"] if unused else [])]
    for i in range(plan.size):
        operands = " ".join(o if type(o) is str else repr(o) for o in plan.operands(i))
        note = [unused[i].reason if i in unused else ""] if unused else []
        rows.extend(
            [name, plan.op_name(i), operands, value, grad, *note]
            for name, value, grad in _elements(plan.names[i], result.values[i], result.grads[i])
        )
    return csv_text(rows)


def _elements(name: str, value, grad):
    """(name, value, gradient) for a number; for an array, one per element, named NAME[i, j]."""
    if getattr(value, "ndim", 0) == 0 or type(value) is Unused:
        yield name, value, grad
        return
    import numpy as np

    gs = grad if grad is not None and type(grad) is not Undefined else None
    for at in np.ndindex(*value.shape):
        g = grad if gs is None else float(gs[at])
        yield element_name(name, at), float(value[at]), g


def grad_csv(result: Result, wrt: list[str], elasticities: dict | None = None) -> str:
    """`cgraph grad --csv`: one row per name asked for: value, gradient (and elasticity)."""
    header = ["wrt", "value", f"d({result.of_text})/d(wrt)"] + (["elasticity"] if elasticities else [])
    rows = [
        [element, value, grad] + ([elasticities[name]] if elasticities else [])
        for name in wrt
        for element, value, grad in _elements(name, result.value_of(name), result.grad_of(name))
    ]
    return csv_text([header, *rows])


def validate_json(plan: Plan, output: str | None, sinks: list[str]) -> str:
    """`cgraph validate --json`: what the file holds."""
    owners = plan.made_by()
    return to_json(
        {
            "graph": plan.name,
            "valid": True,
            "inputs": [plan.names[i] for i in plan.variables],
            "constants": [plan.names[i] for i in plan.inputs if i in plan.fixed],
            "nodes": [plan.names[i] for i in plan.file_order if plan.ops[i] is not None],
            "formulas": {
                node: {"formula": text, "nodes": [_node_record(plan, part) for part in _expansion(plan, node, owners)]}
                for node, (text, _) in plan.formulas.items()
            },
            "output": output,
            "sinks": sinks,
            **({} if plan.shapes is None else {"shapes": {plan.names[i]: plan.shapes[i] for i in range(plan.size)}}),
        }
    )


def _expansion(plan: Plan, node: str, owners: dict[str, str]) -> list[str]:
    """The nodes a formula became: its parts (those another formula made first too), then itself;
    `owners` is plan.made_by()."""
    parts, seen, stack = [], {node}, [node]
    while stack:  # the parts it reaches, without going into another formula's own node
        for o in plan.operands(plan.index[stack.pop()]):
            if isinstance(o, str) and o in owners and o not in seen:
                seen.add(o)
                parts.append(o)
                stack.append(o)
    return sorted(parts, key=plan.index.__getitem__) + [node]


def _node_record(plan: Plan, name: str) -> dict:
    i = plan.index[name]
    return {"name": name, "op": plan.op_name(i), "inputs": list(plan.operands(i))}


def ops_json() -> str:
    """`cgraph ops --json`: the op table."""
    return to_json(
        [
            {
                "op": op.name,
                "operands": op.arity_text(),
                "symbol": op.symbol,
                "value": op.formula,
                "derivatives": op.derivative,
                "doc": op.doc,
                "arrays_only": op.arrays_only,
                "attributes": op.attributes,
            }
            for op in OPS.values()
        ]
    )


# rich spends about 0.3 ms a row; past this many rows we lay the table out ourselves, in
# the same columns, and show only the first and last rows unless every row is asked for.
RICH_MAX_ROWS = 2000
SUMMARY_ROWS = 50  # shown at each end of a summarized table
CELL_WIDTH = 60  # a longer name or operand list is shortened in the middle

_STYLES = {"bold": "1", "green": "32", "red": "31", "dim": "2"}  # as ANSI codes, for the plain layout


def cell(text: str, most: int = CELL_WIDTH) -> str:
    """Text fit for a table cell: nothing that steers the terminal, and bounded in width."""
    return shorten(printable(text), most)


def operand_list(operands) -> str:
    """'a, b, c', or for a long list 'x1, x2, x3, … (997 more)'."""
    texts = [o if isinstance(o, str) else repr(o) for o in operands[:4]]
    if len(operands) > 4:
        texts = texts[:3] + [f"… ({len(operands) - 3:,} more)"]
    return ", ".join(texts)


def summary_rows(total: int, all_rows: bool):
    """The rows a table of `total` rows shows (all, or its two ends): to format only those."""
    if total <= RICH_MAX_ROWS or all_rows:
        return range(total)
    return [*range(SUMMARY_ROWS), *range(total - SUMMARY_ROWS, total)]


class _Table:
    """Columns and rows of text; drawn by rich, or plainly in the same layout when large."""

    def __init__(self):
        self.columns: list[tuple[str, Any, str | None]] = []  # (header, justify as rich takes it, style)
        self.rows: list[list[str]] = []

    def column(self, header: str, justify: str = "left", style: str | None = None) -> None:
        self.columns.append((header, justify, style))

    def draw(self, headline: str | None, color: bool, all_rows: bool = False, total: int | None = None) -> str:
        """The table; past RICH_MAX_ROWS rows, its first and last SUMMARY_ROWS unless `all_rows`.
        `total`: the table has this many rows, of which `rows` holds just those ends (summary_rows)."""
        total = len(self.rows) if total is None else total
        if total <= RICH_MAX_ROWS:
            return self._draw_rich(headline, color)
        if all_rows:
            return self._draw_plain(headline, color, self.rows)
        note = f"… {total - 2 * SUMMARY_ROWS:,} more rows (--all prints every row) …"
        return self._draw_plain(headline, color, self.rows[:SUMMARY_ROWS] + [note] + self.rows[-SUMMARY_ROWS:])

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
        console = Console(
            file=(text := StringIO()),
            force_terminal=color,
            no_color=not color,
            color_system="standard" if color else None,
            width=100_000,
            highlight=False,
            emoji=False,
            markup=False,
            soft_wrap=False,
        )
        for row in self.rows:
            table.add_row(*row)
        if headline is not None:
            console.print(Text(headline, style="bold"))
        console.print(table)
        return "\n".join(line.rstrip() for line in text.getvalue().splitlines())

    def _draw_plain(self, headline, color, rows) -> str:
        from rich.cells import cell_len

        widths = [cell_len(h) for h, _, _ in self.columns]
        for row in rows:
            if isinstance(row, list):
                for i, text in enumerate(row):
                    widths[i] = max(widths[i], cell_len(text))

        def line(cells, styles):
            parts = []
            for text, (_, justify, _), w, style in zip(cells, self.columns, widths, styles):
                pad = " " * (w - cell_len(text))
                text = pad + text if justify == "right" else text + pad
                parts.append(f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if color and style and text.strip() else text)
            return "   ".join(parts).rstrip()

        out = [] if headline is None else [f"\x1b[1m{headline}\x1b[0m" if color else headline]
        out.append(line([h for h, _, _ in self.columns], ["bold"] * len(widths)))
        out.append("─" * (sum(widths) + 3 * (len(widths) - 1)))
        styles = [s for _, _, s in self.columns]
        out.extend(line(row, styles) if isinstance(row, list) else row for row in rows)
        return "\n".join(out)


def _headline(result: Result, num: Format) -> str:
    headline = f"{cell(result.plan.name)}: {cell(result.of_name)} = {shown(result.value, num)}"
    if result.of_text != result.of_name:
        headline += f"; gradients are of {cell(result.of_text)}, the sum of its elements"
    return headline


def run_table(
    result: Result, num: Format = format_number, color: bool = False, all_rows: bool = False, full: bool = False
) -> str:
    """`cgraph run`: one row per node in evaluation order, the output's value above."""
    plan = result.plan
    has_labels = bool(plan.labels)
    table = _Table()
    table.column("node", style="bold")
    table.column("op")
    table.column("operands")
    table.column("value", "right", "green")
    grads = result.has_grads
    if grads:
        table.column(f"grad d({cell(result.of_text)})/d(node)", "right", "red")
    if has_labels:
        table.column("label", style="dim")
    for i in range(plan.size):
        is_input = plan.ops[i] is None
        row = [
            cell(plan.names[i]),
            plan.op_name(i),
            "" if is_input else cell(operand_list(plan.operands(i))),
            shown(result.values[i], num, full),
        ]
        if grads:
            row.append("" if result.grads[i] is None else shown(result.grads[i], num, full, spread=True))
        if has_labels:
            row.append(cell(plan.labels.get(i, ""), 80))
        table.rows.append(row)
    notes = [f"{cell(plan.names[i])}: not used: {shorten(u.reason, 300)}" for i, u in result.unused()]
    return "\n".join([table.draw(_headline(result, num), color, all_rows), *notes])


def grad_table(
    result: Result,
    wrt: Iterable[str],
    num: Format = format_number,
    color: bool = False,
    all_rows: bool = False,
    elasticities: dict | None = None,
    full: bool = False,
) -> str:
    """`cgraph grad`: d(of)/d(name) for each name asked for (and its elasticity)."""
    table = _Table()
    table.column("wrt", style="bold")
    table.column("value", "right", "green")
    table.column(f"d({cell(result.of_text)})/d(wrt)", "right", "red")
    if elasticities is not None:
        table.column("elasticity", "right")
    for name in wrt:
        row = [cell(name), shown(result.value_of(name), num, full), shown(result.grad_of(name), num, full, True)]
        if elasticities is not None:
            row.append(num(elasticities[name]))
        table.rows.append(row)
    return table.draw(_headline(result, num), color, all_rows)


def validate_text(plan: Plan, source: str, output: str | None, sinks: list[str]) -> str:
    """`cgraph validate`: a short account of what the file holds."""
    inputs = plan.variables
    constants = [i for i in plan.inputs if i in plan.fixed]
    nodes = [i for i in plan.file_order if plan.ops[i] is not None]
    counts: dict[str, int] = {}
    for i in nodes:
        counts[plan.op_name(i)] = counts.get(plan.op_name(i), 0) + 1
    lines = [f"{cell(source)}: valid graph '{cell(plan.name)}'"]
    if plan.description:
        lines.append(f"  {cell(plan.description, 200)}")
    lines.append(f"  inputs: {len(inputs):,}" + (f" ({short_list(plan.names[i] for i in inputs)})" if inputs else ""))
    if constants:
        lines.append(f"  constants: {len(constants):,} ({short_list(plan.names[i] for i in constants)})")
    lines.append(
        f"  nodes: {len(nodes):,}"
        + (" (" + ", ".join(f"{n:,} {op}" for op, n in counts.items()) + ")" if nodes else "")
    )
    if plan.formulas:
        lines.append(f"  formulas: {len(plan.formulas):,}, each part a node:")
        owners = plan.made_by()
        for shown, (node, (text, _)) in enumerate(plan.formulas.items()):
            if shown >= 200:
                lines.append(f"    … and the rest of {len(plan.formulas):,} formulas (--json has them all)")
                break
            lines.append(f"    {cell(node)}: {cell(text, 200)}")
            for name in _expansion(plan, node, owners):
                i = plan.index[name]
                lines.append(f"      {cell(name)} = {plan.op_name(i)}({cell(operand_list(plan.operands(i)), 200)})")
    if plan.shapes is not None:
        lines.append("  shapes (checked before evaluation):")
        lines.extend(f"    {cell(plan.names[i])} {plan.shapes[i]}" for i in summary_rows(plan.size, False))
    if output is not None:
        lines.append(f"  output: {cell(output)}")
    else:
        lines.append(
            f"  output: ambiguous, several nodes are consumed by nothing ({short_list(sinks)}); "
            "add 'output:' or pass --of"
        )
    return printable("\n".join(lines), keep="\n")


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
    return f" (operand {p.slots[k] + 1})" if e.repeated(p.nodes[k], p.nodes[k + 1]) else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def explain_text(explanation, num: Format = format_number) -> Iterator[str]:
    """`cgraph explain`, line by line (each ending in a newline) as the paths are found: each path
    from the output back to the node, its local derivatives and their product; then the sum."""
    e = explanation
    total = e.path_count
    num = _arrays_too(num)
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
        f"{_plural(total, 'path')} from {cell(e.of)} back to {cell(e.wrt)}; along {along}, "
        + (
            "each node's backward step passes the gradient on (ones from the output first); "
            "what reaches the end is the path's share:\n"
            if arrays
            else "the product of the local derivatives (d(output)/d(output) = 1 first):\n"
        )
    )
    for p in e.paths:
        route = cell(p.nodes[0]) + "".join(
            f" → {cell(name)}{_slot_note(e, p, k)}" for k, name in enumerate(p.nodes[1:])
        )
        if arrays:
            yield f"  {route}: {num(p.product)}\n"
            continue
        yield f"  {route}: {' × '.join(['1'] + [num(d) for d in p.locals])} = {num(p.product)}\n"
    if e.listed < total:
        yield (
            f"  ... {_plural(total - e.listed, 'more path')} not listed (--max-paths); the total comes from backprop\n"
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


def _arrays_too(num: Format) -> Format:
    """`num` for numbers; an array shown compactly (its gradient's spread, when large)."""
    return lambda value: shown(value, num, spread=True)


def steps_text(result: Result, steps, num: Format = format_number) -> str:
    """`cgraph explain --steps`: the backward pass node by node, as the book's layers run it."""
    num = _arrays_too(num)
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
        lines.append(f"  {cell(s.node)} ({s.op})  dout = {num(s.upstream)}  →  {sends}")
    return "\n".join(lines)


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


# -- derived graphs as YAML --------------------------------------------------------------

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_YAML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def yaml_escape(text: str) -> str:
    """Text as it may stand inside a YAML double-quoted scalar or a comment: everything that is
    not printable (controls, line and paragraph separators, bidi and other format characters,
    NEL, BOM) as an escape, so the text can never start a line of its own."""
    out = []
    for c in text:
        if c in _YAML_ESCAPES:
            out.append(_YAML_ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        else:
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def yaml_text(text: str) -> str:
    """Any text as a YAML scalar that cgraph reads back as exactly that text."""
    return f'"{yaml_escape(text)}"'


def yaml_name(name: str) -> str:
    """A name as YAML: plain where it reads back as that name, else double-quoted."""
    from .syntax import plain_kind

    if _PLAIN_NAME.fullmatch(name) and plain_kind(name) == "string":
        return name
    return yaml_text(name)


def _yaml_operand(operand) -> str:
    return yaml_name(operand) if isinstance(operand, str) else repr(operand)


def _yaml_value(value) -> str:
    """A number, or an array as nested lists, as Python writes them: they read back exactly."""
    return repr(value.tolist()) if hasattr(value, "tolist") else repr(value)


def _yaml_attribute(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else repr(list(value)) if isinstance(value, tuple) else repr(value)


def graph_yaml(draft: Draft, header: list[str]) -> str:
    """A graph as a cgraph YAML file (numbers as Python writes them, so they read back exactly)."""
    lines = [f"# {yaml_escape(h)}" for h in header]
    lines.append(f"name: {yaml_name(draft.name)}")
    if draft.description:
        lines.append(f"description: {yaml_text(draft.description)}")
    parts = {part for _, made in draft.formulas.values() for part in made}  # a formula makes them again
    leaves = [k for k, op in enumerate(draft.ops) if op is None]
    for section, constant in (("inputs", False), ("constants", True)):
        entries = [k for k in leaves if (k in draft.fixed) == constant]
        if entries:
            lines.append(f"{section}:")
        for k in entries:
            value = _yaml_value(draft.values[k])
            if k in draft.labels:
                value = f"{{value: {value}, label: {yaml_text(draft.labels[k])}}}"
            lines.append(f"  {yaml_name(draft.names[k])}: {value}")
    nodes = [k for k, op in enumerate(draft.ops) if op is not None and draft.names[k] not in parts]
    if nodes:
        lines.append("nodes:")
    for k in nodes:
        name = draft.names[k]
        if name in draft.formulas:
            lines.append(f"  {yaml_name(name)}: {yaml_text(draft.formulas[name][0])}")
            continue
        label = f", label: {yaml_text(draft.labels[k])}" if k in draft.labels else ""
        label += "".join(f", {key}: {_yaml_attribute(v)}" for key, v in draft.attrs.get(k, {}).items())
        operands = ", ".join(map(_yaml_operand, draft.operands[k]))
        lines.append(f"  {yaml_name(name)}: {{op: {draft.ops[k]}, inputs: [{operands}]{label}}}")
    if draft.output is not None:
        lines.append(f"output: {yaml_name(draft.output)}")
    return "\n".join(lines) + "\n"


# -- check and the Hessian -----------------------------------------------------------------


def check_verdict(checks) -> str:
    """One line for the whole check: what failed, what agreed, and what could not be compared."""
    from .gradcheck import summary

    counts = summary(checks)
    others = ", ".join(f"{n:,} {status}" for status, n in counts.items() if n and status not in ("pass", "FAIL"))
    if not checks:
        return "nothing to check: the graph has no inputs"
    if counts["FAIL"]:
        return (
            f"{counts['FAIL']:,} FAILED"
            + (f", {counts['pass']:,} agree" if counts["pass"] else "")
            + (f", {others}" if others else "")
        )
    if not counts["pass"]:
        return f"nothing could be compared ({others}): not a pass"
    if others:
        return f"{counts['pass']:,} agree ({others}: not compared)"
    return "all agree"


def check_table(result: Result, checks, color: bool = False, all_rows: bool = False) -> str:
    """`cgraph check`: each input's gradient by backprop and by central difference, and the verdict."""
    table = _Table()
    table.column("input", style="bold")
    table.column("value", "right")
    table.column("h", "right")
    table.column("backprop", "right", "green")
    table.column("numeric", "right")
    table.column("± (its error)", "right")
    table.column("abs error", "right")
    table.column("rel error", "right")
    table.column("status", style="bold")
    blank = "-"

    def short(x):
        return blank if x is None else f"{x:.2e}"

    for c in checks:
        table.rows.append(
            [
                cell(c.name),
                format_number(c.value),
                blank if c.step is None else f"{c.step:.3g}",
                blank if c.backprop is None else format_number(c.backprop),
                blank if c.numeric is None else format_number(c.numeric),
                short(c.error),
                short(c.abs_error),
                short(c.rel_error),
                c.status + (f" ({cell(c.note, 200)})" if c.note else ""),
            ]
        )
    headline = (
        f"{cell(result.plan.name)}: d{cell(result.of_text)}/d(input), "
        f"backprop vs numerical difference: {check_verdict(checks)}"
    )
    return table.draw(headline, color, all_rows)


def check_json(result: Result, checks) -> str:
    """`cgraph check --json`."""
    from .gradcheck import passed, summary

    return to_json(
        {
            "graph": result.plan.name,
            "of": result.of_name,
            "value": result.value,
            "passed": passed(checks),
            "verdict": check_verdict(checks),
            "counts": summary(checks),
            "checks": [
                {
                    "name": c.name,
                    "value": c.value,
                    "step": c.step,
                    "backprop": c.backprop,
                    "numeric": c.numeric,
                    "error": c.error,
                    "abs_error": c.abs_error,
                    "rel_error": c.rel_error,
                    "status": c.status,
                    "note": c.note,
                }
                for c in checks
            ],
        }
    )


def hessian_table(result: Result, hessian: dict, num: Format = format_number, color: bool = False) -> str:
    """`cgraph grad --order 2`: the matrix of second derivatives."""
    names = list(hessian)
    table = _Table()
    table.column(f"d²{cell(result.of_name)}/d(row)d(col)", style="bold")
    for name in names:
        table.column(cell(name), "right")
    for a in names:
        table.rows.append([cell(a)] + [num(hessian[a][b]) for b in names])
    return table.draw(_headline(result, num), color)


def hessian_json(result: Result, hessian: dict) -> str:
    """`cgraph grad --order 2 --json`: {"hessian": {"x": {"x": .., "y": ..}, ...}}."""
    return to_json({"graph": result.plan.name, "of": result.of_name, "value": result.value, "hessian": hessian})


# -- sweeps --------------------------------------------------------------------------------------


def _sweep_columns(result, elasticities: bool) -> list[tuple[str, Any]]:
    """(header, column of numbers) for a sweep's output: the swept inputs, the output, the gradients
    (and elasticities); nan and inf stand where a number is undefined."""
    of = result.of_name
    columns = [(name, column) for name, column in result.swept.items()]
    columns.append((of, result.value))
    columns += [(f"d({of})/d({name})", g) for name, g in result.grads.items()]
    if elasticities:
        columns += [(f"elasticity({name})", result.elasticity(name)) for name in result.grads]
    return columns


def _sweep_rows(result, columns, indices) -> Iterator[tuple[list, str | None]]:
    """Rows of Python numbers (None where undefined) and the reason a scenario failed, or None."""
    import math

    lists = [column.tolist() for _, column in columns]
    for k in indices:
        yield [x if math.isfinite(x) else None for x in (values[k] for values in lists)], result.failed.get(k)


def sweep_records(result, elasticities: bool = False) -> list[dict]:
    """A sweep as records keyed as its CSV's columns (None where a number is undefined; "error"
    where some scenario has no value): what --json writes, as Python values."""
    columns = _sweep_columns(result, elasticities)
    headers = [header for header, _ in columns]
    records = []
    for numbers, reason in _sweep_rows(result, columns, range(result.size)):
        record = dict(zip(headers, numbers))
        if result.failed:
            record["error"] = reason
        records.append(record)
    return records


def _texts(column, start: int, stop: int, undefined: str) -> list[str]:
    """A slice of a column as text, each number as Python writes it (`undefined` where it is not finite)."""
    import numpy as np

    part = column[start:stop]
    texts = list(map(repr, part.tolist()))
    for k in np.flatnonzero(~np.isfinite(part)).tolist():
        texts[k] = undefined
    return texts


def _reasons(result, start: int, stop: int, quote) -> list[str]:
    return [quote(result.failed[k]) if k in result.failed else "" for k in range(start, stop)]


def sweep_table(
    result, num: Format = format_number, color: bool = False, all_rows: bool = False, elasticities: bool = False
) -> str:
    """`--sweep`: one row per scenario, the swept inputs first; past 2,000 rows the first and last."""
    columns = _sweep_columns(result, elasticities)
    table = _Table()
    for k, (header, _) in enumerate(columns):
        style = "bold" if k < len(result.swept) else "green" if k == len(result.swept) else "red"
        table.column(cell(header), "right", style)
    if result.failed:
        table.column("why there is no value", style="dim")
    size = result.size
    for numbers, reason in _sweep_rows(result, columns, summary_rows(size, all_rows)):
        row = ["undefined" if x is None else num(x) for x in numbers]
        if result.failed:
            row.append(cell(reason or "", 120))
        table.rows.append(row)
    failed = f", {len(result.failed):,} without a value" if result.failed else ""
    headline = f"{cell(result.plan.name)}: {cell(result.of_name)} over {size:,} scenarios{failed}"
    return table.draw(headline, color, all_rows, size)


def sweep_json(result, elasticities: bool = False, progress=None) -> Iterator[str]:
    """`--sweep --json`: a list of records, one per scenario, keyed as the CSV's columns (null where a
    number is undefined; "error" where some scenario has no value), written a few thousand at a time."""
    columns = _sweep_columns(result, elasticities)
    keys = [key + ": " for key in json_strings([header for header, _ in columns])]
    yield "["
    for start in range(0, result.size, 4096):
        stop = min(result.size, start + 4096)
        fields = [
            [key + text for text in _texts(column, start, stop, "null")] for key, (_, column) in zip(keys, columns)
        ]
        if result.failed:
            errors = _reasons(result, start, stop, lambda reason: json_strings([reason])[0])
            fields.append(['"error": ' + (error or "null") for error in errors])
        records = ["{" + ", ".join(row) + "}" for row in zip(*fields)]
        yield ("" if start == 0 else ", ") + ", ".join(records)
        if progress is not None:
            progress(stop, result.size)
    yield "]"


def sweep_csv(result, elasticities: bool = False, progress=None) -> Iterator[str]:
    """`--sweep --csv`: a header, then a row per scenario (an empty cell where a number is undefined)."""
    columns = _sweep_columns(result, elasticities)
    yield csv_text([[header for header, _ in columns] + (["error"] if result.failed else [])])
    for start in range(0, result.size, 65536):
        stop = min(result.size, start + 65536)
        fields = [_texts(column, start, stop, "") for _, column in columns]
        if result.failed:
            fields.append(_reasons(result, start, stop, lambda reason: csv_text([[reason]]).rstrip("\n")))
        yield "".join(line + "\n" for line in map(",".join, zip(*fields)))
        if progress is not None:
            progress(stop, result.size)


# -- tornado -------------------------------------------------------------------------------------

BAR_HALF = 24  # cells each side of the output's value


def _bar_cells(result, bar, scale: float) -> str:
    """One input's bar: ░ where moving the input down takes the output, █ where moving it up does,
    either side of │, the output's value."""
    left, right = [" "] * BAR_HALF, [" "] * BAR_HALF
    for end, mark in ((bar.out_low, "░"), (bar.out_high, "█")):
        if type(end) is Undefined or scale == 0:
            continue
        cells = min(BAR_HALF, round(abs(end - result.value) / scale * BAR_HALF))
        side = left if end < result.value else right
        for k in range(cells):
            if side is left:
                left[BAR_HALF - 1 - k] = mark
            else:
                right[k] = mark
    return "".join(left) + "│" + "".join(right)


def tornado_table(result, num: Format = format_number, color: bool = False) -> str:
    """`cgraph tornado`: one row per input, the one that moves the output most first, with its bar."""
    ends = [end for bar in result.bars for end in (bar.out_low, bar.out_high) if type(end) is not Undefined]
    scale = max((abs(end - result.value) for end in ends), default=0.0)
    table = _Table()
    table.column("input", style="bold")
    table.column("value", "right")
    amount = result.swing_text.lstrip("±")
    table.column(f"-{amount}", "right")
    table.column(f"+{amount}", "right")
    table.column(f"{cell(result.of_name)} at -", "right", "green")
    table.column(f"{cell(result.of_name)} at +", "right", "green")
    table.column("range", "right", "red")
    table.column(f"░ input down, █ input up, │ {cell(result.of_name)} = {num(result.value)}")
    for bar in result.bars:
        width = bar.width
        table.rows.append(
            [
                cell(bar.name),
                num(bar.value),
                "undefined" if bar.low is None else num(bar.low),
                "undefined" if bar.high is None else num(bar.high),
                num(bar.out_low),
                num(bar.out_high),
                "undefined" if width < 0 else num(width),
                _bar_cells(result, bar, scale),
            ]
        )
    headline = f"{cell(result.plan.name)}: {cell(result.of_name)} = {num(result.value)}, each input ±{amount}"
    notes = [
        f"{cell(bar.name)} at {end}: {cell(reason.reason, 200)}"
        for bar in result.bars
        for end, reason in (("-", bar.out_low), ("+", bar.out_high))
        if type(reason) is Undefined
    ]
    notes += [
        f"{cell(bar.name)}: its two ends are further apart than a float can hold"
        for bar in result.bars
        if bar.width < 0 and Undefined not in (type(bar.out_low), type(bar.out_high))
    ]
    if not result.bars:
        return headline + "\nno inputs to move (constants are not moved)"
    text = table.draw(headline, color, all_rows=True)
    return text + ("\n" + "\n".join(notes) if notes else "")


def tornado_records(result) -> list[dict]:
    return [
        {
            "name": bar.name,
            "value": bar.value,
            "low": bar.low,
            "high": bar.high,
            "output_low": bar.out_low,
            "output_high": bar.out_high,
            "range": None if bar.width < 0 else bar.width,
            "errors": [e.reason for e in (bar.out_low, bar.out_high) if type(e) is Undefined] or None,
        }
        for bar in result.bars
    ]


def tornado_json(result) -> str:
    """`cgraph tornado --json`: {"graph", "of", "value", "swing", "bars": [...]}, widest bar first."""
    data = {
        "graph": result.plan.name,
        "of": result.of_name,
        "value": result.value,
        "swing": result.swing_text,
        "bars": tornado_records(result),
    }
    return to_json(data)


def tornado_csv(result) -> str:
    """`cgraph tornado --csv`: a row per input, widest bar first."""
    keys = ["name", "value", "low", "high", "output_low", "output_high", "range"]
    rows = [[record[k] for k in keys] for record in tornado_records(result)]
    return csv_text([keys, *rows])


def tornado_plot(result, fmt: str) -> bytes:
    """The tornado as an SVG or PNG picture, drawn by matplotlib (ImportError where it is missing)."""
    plt = _pyplot()
    bars = [bar for bar in result.bars if bar.width >= 0][::-1]  # widest on top
    ends = [float(end) for bar in bars for end in (bar.out_low, bar.out_high)]
    scale, label = _axis_scale([float(result.value), *ends], str(result.of_name))
    base = float(result.value) / scale
    figure, axes = plt.subplots(figsize=(7, 0.45 * len(bars) + 1.4))
    for y, bar in enumerate(bars):
        for end, color, way in ((bar.out_low, "#1f77b4", "input down"), (bar.out_high, "#d62728", "input up")):
            at = float(end) / scale
            axes.barh(y, at - base, left=base, color=color, height=0.6, label=way if y == 0 else None)
    axes.axvline(base, color="black", linewidth=0.8)
    axes.set_yticks(range(len(bars)), [bar.name for bar in bars])
    axes.set_xlabel(f"{label} (at the inputs' values: {float(result.value):.6g})")
    axes.set_title(f"{result.plan.name}: {result.of_name}, each input ±{result.swing_text.lstrip('±')}")
    if bars:
        axes.legend(loc="lower right", fontsize="small")
    return _picture(plt, figure, fmt)


def _axis_scale(numbers, label: str) -> tuple[float, str]:
    """What to divide the numbers on an axis by, and its label: 1, or where they come near a float's
    end (where matplotlib's ticks overflow) a power of ten, which the label says."""
    top = max(map(abs, numbers), default=0.0)
    if top <= 1e300:
        return 1, label
    exponent = math.floor(math.log10(top))
    return 10.0**exponent, f"{label} (× 1e{exponent})"


def _pyplot():
    """matplotlib's pyplot, drawing to files (ImportError where matplotlib is missing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "cgraph"  # the same picture for the same numbers
    return plt


def _picture(plt, figure, fmt: str) -> bytes:
    """A finished figure as SVG or PNG bytes (an SVG without a date: the same numbers, the same file)."""
    import io
    import warnings

    out = io.BytesIO()
    with warnings.catch_warnings():  # matplotlib's own warnings are not the user's business
        warnings.simplefilter("ignore")
        figure.tight_layout()
        figure.savefig(out, format=fmt, metadata={"Date": None} if fmt == "svg" else {}, dpi=120)
    plt.close(figure)
    return out.getvalue()


# -- descend ---------------------------------------------------------------------------------------

DESCENT_ROWS = 20  # a table shows the loss at about this many steps, evenly spaced (--all: every step)


def _descent_rows(run, all_rows: bool) -> list[int]:
    last = len(run.losses) - 1
    if all_rows or last <= DESCENT_ROWS:
        return list(range(last + 1))
    every = -(-last // DESCENT_ROWS)
    return sorted({*range(0, last, every), last})


def descend_table(run, num: Format = format_number, color: bool = False, all_rows: bool = False) -> str:
    """`cgraph descend`: the loss at evenly spaced steps (and each varied input that is a number)."""
    table = _Table()
    table.column("step", "right")
    table.column(cell(run.of_name), "right", "green")
    for name in run.trace:
        table.column(cell(name), "right")
    for k in _descent_rows(run, all_rows):
        table.rows.append([f"{k:,}", num(run.losses[k])] + [num(values[k]) for values in run.trace.values()])
    steps = len(run.losses) - 1
    headline = (
        f"{cell(run.plan.name)}: {cell(run.of_name)} from {num(run.losses[0])} to {num(run.losses[-1])} in "
        f"{steps:,} step{'s' * (steps != 1)} of gradient descent (lr {run.lr!r}) on {', '.join(map(cell, run.vary))}"
    )
    return table.draw(headline, color, all_rows=True)


def descend_records(run, start: int = 0, stop: int | None = None) -> list[dict]:
    """One record per step (from `start` to `stop`): the loss before it, and the varied numbers."""
    stop = len(run.losses) if stop is None else min(stop, len(run.losses))
    return [
        {"step": k, "loss": run.losses[k], **{name: values[k] for name, values in run.trace.items()}}
        for k in range(start, stop)
    ]


_CHUNK = 4096  # steps written at a time: a million steps need no second copy as one text


def descend_json(run) -> Iterator[str]:
    """`cgraph descend --json`, written a few thousand steps at a time."""
    about = {
        "graph": run.plan.name,
        "of": run.of_name,
        "lr": run.lr,
        "steps": len(run.losses) - 1,
        "vary": run.vary,
        "loss": run.losses[-1],
        "final": run.final,
    }
    yield to_json(about)[:-1] + ', "trace": ['
    for start in range(0, len(run.losses), _CHUNK):
        records = descend_records(run, start, start + _CHUNK)
        yield ("" if start == 0 else ", ") + ", ".join(map(to_json, records))
    yield "]}"


def descend_csv(run) -> Iterator[str]:
    """`cgraph descend --csv`: step, loss (and the varied numbers) per step, a few thousand at a time."""
    yield csv_text([["step", "loss", *run.trace]])
    for start in range(0, len(run.losses), _CHUNK):
        yield csv_text([*r.values()] for r in descend_records(run, start, start + _CHUNK))


def descend_plot(run, fmt: str) -> bytes:
    """The loss curve, as SVG or PNG bytes (matplotlib: the plot extra)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5))
    scale, label = _axis_scale(run.losses, run.of_name)
    losses = [loss / scale for loss in run.losses]
    if scale == 1 and min(losses) > 1e-300:  # (a log axis down to the subnormals overflows its ticks)
        axes.set_yscale("log")
    axes.plot(range(len(losses)), losses, color="#1f77b4")
    axes.set_xlabel("step")
    axes.set_ylabel(label)
    axes.set_title(f"{run.plan.name}: gradient descent, lr {run.lr!r}")
    return _picture(plt, figure, fmt)
