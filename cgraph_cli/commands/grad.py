"""cgraph grad: d(of)/d(NAME) for the inputs asked for, with elasticities; the Hessian with --order 2."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.result import Result
from ..show.formats import csv_text, to_json
from ..show.numbers import Format, entry_format, format_number, gradient_format, shown
from ..show.table import Table, cell
from .run import about, elements, headline


def grad_json(result: Result, wrt: Iterable[str], elasticities: dict | None = None) -> str:
    """`cgraph grad --json`: d(of)/d(name) for each name asked for (and its elasticity)."""
    data = {
        **about(result),
        "gradients": {name: result.grad_of(name) for name in wrt},
    }
    if elasticities is not None:
        data["elasticities"] = elasticities
    return to_json(data)


def grad_csv(result: Result, wrt: list[str], elasticities: dict | None = None) -> str:
    """`cgraph grad --csv`: one row per name asked for: value, gradient (and elasticity)."""
    header = ["wrt", "value", f"d({result.of_text})/d(wrt)"] + (["elasticity"] if elasticities else [])
    rows = [
        [element, value, grad] + ([elasticities[name]] if elasticities else [])
        for name in wrt
        for element, value, grad in elements(name, result.value_of(name), result.grad_of(name))
    ]
    return csv_text([header, *rows])


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
    table = Table()
    table.column("wrt", style="bold")
    table.column("value", "right", "green")
    table.column(f"d({cell(result.of_text)})/d(wrt)", "right", "red")
    if elasticities is not None:
        table.column("elasticity", "right")
    for name in wrt:
        i = result.plan.index.get(name)
        value_num = entry_format(num, result.plan.formats.get(i) if i is not None else None)
        row = [cell(name), shown(result.value_of(name), value_num, full)]
        row.append(shown(result.grad_of(name), gradient_format(num), full, True))
        if elasticities is not None:
            row.append(num(elasticities[name]))
        table.rows.append(row)
    return table.draw(headline(result, num), color, all_rows)


def hessian_table(result: Result, hessian: dict, num: Format = format_number, color: bool = False) -> str:
    """`cgraph grad --order 2`: the matrix of second derivatives."""
    names = list(hessian)
    table = Table()
    table.column(f"d²{cell(result.of_name)}/d(row)d(col)", style="bold")
    for name in names:
        table.column(cell(name), "right")
    for a in names:
        table.rows.append([cell(a)] + [num(hessian[a][b]) for b in names])
    return table.draw(headline(result, num), color)


def hessian_json(result: Result, hessian: dict) -> str:
    """`cgraph grad --order 2 --json`: {"hessian": {"x": {"x": .., "y": ..}, ...}}."""
    return to_json({"graph": result.plan.name, "of": result.of_name, "value": result.value, "hessian": hessian})
