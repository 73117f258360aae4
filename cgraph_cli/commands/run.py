"""cgraph run: every node's value and gradient, as a table, JSON or CSV."""

from __future__ import annotations

from collections.abc import Iterator

from ..core.errors import shorten
from ..core.graph import element_name
from ..core.op import Undefined, Unused
from ..core.result import Result
from ..show.formats import csv_text, json_strings, to_json
from ..show.numbers import Format, described, entry_format, format_number, gradient_format, shown
from ..show.table import Table, cell, operand_list


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
    names = json_strings(plan.names) + list(map(repr, plan.literals))  # operands' names too
    # Values are finite ints and floats, whose repr is JSON's; an undefined gradient is null, and so
    # is the value of a node not used, with why.
    undefined = {i for i, _ in result.undefined()}
    unused = dict(result.unused())
    fixed = plan.fixed
    labels = {i: f', "label": {text}' for i, text in zip(plan.labels, json_strings(list(plan.labels.values())))}
    for i, text in zip(plan.units, json_strings(list(plan.units.values()))):
        labels[i] = labels.get(i, "") + f', "unit": {text}'
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
                f'"inputs": [{", ".join(map(names.__getitem__, args[i]))}]{labels.get(i, "")}, '
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
        if i in plan.labels:
            node["label"] = plan.labels[i]
        if i in plan.units:
            node["unit"] = plan.units[i]
        if plan.attrs.get(i):
            node["attributes"] = plan.attrs[i]
        node["shape"] = list(plan.shapes[i]) if plan.shapes else []
        node["value"] = result.values[i]
        if type(result.values[i]) is Unused:
            node["not_used"] = result.values[i].reason
        if result.grads[i] is not None:
            node["grad"] = result.grads[i]
        nodes.append(node)
    return to_json({**about(result), "nodes": nodes})


def about(result: Result) -> dict:
    """The head of a result's JSON: the graph, the node differentiated and its value (and, for an
    array output, that gradients are of the sum of its elements)."""
    about = {"graph": result.plan.name, "of": result.of_name, "value": result.value}
    if result.of_text != result.of_name:
        about["grad_of"] = result.of_text
    return about


def run_csv(result: Result) -> str:
    """`cgraph run --csv`: one row per node, its operands separated by spaces; no gradient: empty.
    Where a node was not used, its value is empty and a last column, note, says why."""
    plan = result.plan
    unused = dict(result.unused())
    described_ = bool(plan.labels or plan.units)  # label and unit columns, where the file gives some
    rows: list[list] = [
        ["name", "op", "inputs", "value", "grad"]
        + (["label", "unit"] if described_ else [])
        + (["note"] if unused else [])
    ]
    for i in range(plan.size):
        operands = " ".join(o if type(o) is str else repr(o) for o in plan.operands(i))
        note = [unused[i].reason if i in unused else ""] if unused else []
        if described_:
            note = [plan.labels.get(i, ""), plan.units.get(i, ""), *note]
        rows.extend(
            [name, plan.op_name(i), operands, value, grad, *note]
            for name, value, grad in elements(plan.names[i], result.values[i], result.grads[i])
        )
    return csv_text(rows)


def elements(name: str, value, grad):
    """(name, value, gradient) for a number; for an array, one per element, named NAME[i, j]."""
    if getattr(value, "ndim", 0) == 0 or type(value) is Unused:
        yield name, value, grad
        return
    import numpy as np

    gs = grad if grad is not None and type(grad) is not Undefined else None
    for at in np.ndindex(*value.shape):
        g = grad if gs is None else float(gs[at])
        yield element_name(name, at), float(value[at]), g


def headline(result: Result, num: Format) -> str:
    headline = f"{cell(result.plan.name)}: {cell(result.of_name)} = {shown(result.value, num)}"
    if result.of_text != result.of_name:
        headline += f"; gradients are of {cell(result.of_text)}, the sum of its elements"
    return headline


def run_table(
    result: Result, num: Format = format_number, color: bool = False, all_rows: bool = False, full: bool = False
) -> str:
    """`cgraph run`: one row per node in evaluation order, the output's value above."""
    plan = result.plan
    has_labels = bool(plan.labels or plan.units)
    gnum = gradient_format(num)
    table = Table()
    table.column("node", style="bold", give="fold")
    table.column("op", give="drop")
    table.column("operands", give="wrap")
    table.column("value", "right", "green")
    grads = result.has_grads
    if grads:
        table.column(f"grad d({cell(result.of_text)})/d(node)", "right", "red")
    if has_labels:
        table.column("label", style="dim", give="wrap")
    for i in range(plan.size):
        is_input = plan.is_input(i)
        row = [
            cell(plan.names[i]),
            plan.op_name(i),
            "" if is_input else cell(operand_list(plan.operands(i))),
            shown(result.values[i], entry_format(num, plan.formats.get(i)), full),
        ]
        if grads:
            row.append("" if result.grads[i] is None else shown(result.grads[i], gnum, full, spread=True))
        if has_labels:
            row.append(cell(described(plan, i), 80))
        table.rows.append(row)
    notes = [f"{cell(plan.names[i])}: not used: {shorten(u.reason, 300)}" for i, u in result.unused()]
    return "\n".join([table.draw(headline(result, num), color, all_rows), *notes])
