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
                "doc": op.doc,
                "arrays_only": op.arrays_only,
                "attributes": op.attributes,
            }
            for op in OPS.values()
        ]
    )


def ops_table(color: bool = False) -> str:
    """`cgraph ops`: every op with its operand count, value and local derivatives."""
    table = Table()
    for header in ("op", "symbol", "operands", "value", "local derivative(s)"):
        table.column(header)
    for op in OPS.values():
        table.rows.append([op.name, op.symbol, op.arity_text(), op.value_doc, op.local_doc])
    return table.draw(None, color)
