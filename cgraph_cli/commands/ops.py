"""cgraph ops: the table of operations, each with its value and local derivatives, from the registry itself."""

from __future__ import annotations

from ..core.ops import OPS
from ..show.formats import to_json
from ..show.table import Table


def ops_json() -> str:
    """`cgraph ops --json`: the op table."""
    return to_json(
        [
            {
                "op": op.name,
                "operands": op.arity_text(),
                "symbol": op.symbol,
                "value": op.value_doc,
                "derivatives": op.local_doc,
                "domain": op.domain,
                "at_kinks": op.kinks,
                "doc": op.doc,
                "arrays_only": op.arrays_only,
                "attributes": op.attributes,
            }
            for op in listed()
        ]
    )


def ops_table(color: bool = False) -> str:
    """`cgraph ops`: every op with its operand count, value and local derivatives."""
    table = Table()
    for header in ("op", "symbol", "operands", "value", "local derivative(s)"):
        table.column(header)
    for op in listed():
        table.rows.append([op.name, op.symbol, op.arity_text(), op.value_doc, op.local_doc])
    return table.draw(None, color)


def listed() -> list:
    """The ops as the docs list them: those of numbers, then those of arrays alone, each in the
    order they are defined (whichever module was imported first)."""
    return sorted(OPS.values(), key=lambda op: op.arrays_only)


def ops_markdown() -> str:
    """`cgraph ops --markdown`: the README's table of operations, made from the registry itself."""
    header = ["op", "operands", "value", "local derivative(s)", "domain", "at kinks", "on arrays"]
    rows = [
        [op.name, op.arity_text(), op.value_doc, op.local_doc, op.domain, op.kinks, _on_arrays(op)] for op in listed()
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _on_arrays(op) -> str:
    return "arrays alone" if op.arrays_only else "element by element"
