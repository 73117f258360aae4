"""run --sweep, what-if sweeps: the graph run once over a grid of scenarios, side by side in numpy arrays.

`--sweep price=8:14:0.5 --sweep units=1000,1200,1500` asks for every
combination (13 × 3 = 39 scenarios). Each input swept is an array along the
scenario axis; the forward pass runs each node once with its op's array step
(ops.py, `on_arrays`), and one backward pass, each op's own `local` code run on
arrays, gives every scenario's gradients. No Python loop runs over scenarios:
large grids are cut into chunks, to bound memory, and each chunk is one pass.

A value that is not a finite number in one scenario (the log of a negative
price) marks that scenario with the reason; the others are unaffected.
numpy is imported here only, so a graph without a sweep never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from ..core.errors import RequestError, shorten
from ..core.graph import Plan
from ..core.op import Undefined
from ..read.syntax import NotANumber, parse_number
from ..show.formats import csv_text, json_strings
from ..show.numbers import (
    Format,
    computed_format,
    entry_format,
    format_number,
    gradient_format,
    number_format,
    with_unit,
)
from ..show.table import Table, cell, summary_rows

MAX_SCENARIOS = 10_000_000
MAX_WORK = 2_000_000_000  # nodes × scenarios: past this a sweep would run for minutes
CHUNK_CELLS = 8_000_000  # values held at once (× 8 bytes, × about 3: values, gradients, locals)


def parse_sweep(spec: str, source: str | None) -> tuple[str, list[float]]:
    """NAME=START:STOP:STEP (STOP included when a step lands on it) or NAME=V1,V2,... ."""

    def fail(message: str) -> RequestError:
        return RequestError(f"{message} (in '{shorten(spec)}')", source, "sweep")

    name, eq, values = spec.partition("=")
    if not eq or not name:
        raise fail("a sweep is NAME=START:STOP:STEP or NAME=V1,V2,...")

    def number(text: str) -> float:
        text = text.strip()
        try:
            return float(parse_number(text))  # as --set reads it: 1e3, 0x10, 2.5%
        except (NotANumber, OverflowError):
            raise fail(f"'{shorten(text)}' is not a number") from None

    if ":" in values:
        parts = values.split(":")
        if len(parts) != 3:
            raise fail("a range is START:STOP:STEP")
        start, stop, step = map(number, parts)
        steps = (stop - start) / step if step else math.nan
        if not steps >= 0:  # a zero step, or one that goes away from STOP
            raise fail("the step must be nonzero and go from START towards STOP")
        if steps >= MAX_SCENARIOS:
            raise fail(f"the range has more than the {MAX_SCENARIOS:,} values a sweep may have")
        count = math.floor(steps + 1e-9) + 1
        grid = [start + k * step for k in range(count)]  # not a running sum: no drift
        if abs(grid[-1] - stop) <= 1e-9 * abs(step):
            grid[-1] = stop
        return name, grid
    grid = [number(v) for v in values.split(",")]
    return name, grid


class SweepResult:
    """Per scenario: the swept inputs' values, the output's value, the gradients asked for, and
    why a scenario has no value (None where it has one). Columns are numpy arrays."""

    def __init__(self, plan: Plan, of: int, swept: dict, value, grads: dict, values: dict, failed: dict):
        self.plan = plan
        self.of = of
        self.swept = swept  # name -> array of its value in each scenario
        self.value = value  # the output's value in each scenario (nan where it has none)
        self.grads = grads  # name -> array of d(of)/d(name) (nan or inf where undefined)
        self.values = values  # name -> array of the value of each node a gradient is taken for
        self.failed = failed  # scenario -> why it has no value
        self.planned = len(value)  # the scenarios asked for: more than `size` where Ctrl-C stopped it

    @property
    def of_name(self) -> str:
        return self.plan.names[self.of]

    @property
    def size(self) -> int:
        return len(self.value)

    def elasticity(self, name: str):
        """d(of)/d(name) * name / of in each scenario (nan or inf where undefined: of = 0)."""
        import numpy as np

        with np.errstate(all="ignore"):
            return self.grads[name] * self.values[name] / self.value


def sweep(
    plan: Plan,
    sweeps: list[tuple[str, list[float]]],
    overrides: dict | None = None,
    of: str | None = None,
    wrt: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    runner=None,
) -> SweepResult:
    """Every combination of the swept values (the first sweep varies slowest), forward and backward.
    `wrt` names the gradients wanted (default: every input that is not a constant); `progress`,
    if given, is told (scenarios done, scenarios in all) after each chunk."""
    import numpy as np

    from ..core.arrays import scenarios

    plan.numbers_only("a sweep", "sweep")
    target = plan.output_position(of)
    positions = {}
    for name, _ in sweeps:
        if name in positions:
            raise RequestError(f"'{shorten(name)}' is swept twice", plan.source, "sweep")
        positions[name] = plan.input_position(name, "sweep")
    for name in overrides or {}:
        if name in positions:
            raise RequestError(f"'{shorten(name)}' is both set and swept", plan.source, "sweep")
    names = wrt if wrt is not None else plan.variable_names
    wanted = [plan.position(name, "wrt") for name in names]
    total = math.prod(len(values) for _, values in sweeps)  # the grid's scenarios
    if total > MAX_SCENARIOS:
        raise RequestError(f"the sweep has {total:,} scenarios; at most {MAX_SCENARIOS:,}", plan.source, "sweep")
    if total * max(plan.size, 1) > MAX_WORK:
        raise RequestError(
            f"the sweep has {total:,} scenarios of {plan.size:,} nodes each; sweep fewer values "
            f"(at most {MAX_WORK:,} node evaluations)",
            plan.source,
            "sweep",
        )
    if runner is not None:  # on Dask: each chunk's grid made and evaluated where it runs
        return _on_workers(plan, sweeps, overrides or {}, target, names, total, runner, progress)
    given = plan.given(overrides or {})
    # The grid: scenario k's value of each sweep, by mixed-radix digits of k.
    axes = [np.asarray(values, dtype=float) for _, values in sweeps]
    grid = [a.ravel() for a in np.meshgrid(*axes, indexing="ij")]
    chunk = max(1, CHUNK_CELLS // max(plan.size, 1))
    value = np.empty(total)
    grads = {name: np.empty(total) for name in names}
    at = {name: np.empty(total) for name in names}
    failed: dict[int, str] = {}
    done = 0  # the scenarios of the chunks finished
    try:
        for start in range(0, total, chunk):
            stop = min(total, start + chunk)
            leaves = {p: column[start:stop] for p, column in zip(positions.values(), grid)}
            values, first_bad, d = scenarios(np, plan, given, leaves, stop - start, target)
            value[start:stop] = values[target]
            for name, p in zip(names, wanted):
                g = d[p]
                grads[name][start:stop] = 0.0 if g is None else g
                at[name][start:stop] = values[p]
            for k in np.flatnonzero(first_bad >= 0):
                failed[start + int(k)] = _reason(plan, values, int(first_bad[k]), int(k))
                for name in names:  # a scenario without a value has no gradients either
                    grads[name][start + int(k)] = math.nan
            done = stop
            if progress is not None:
                progress(stop, total)
    except KeyboardInterrupt:  # Ctrl-C: the scenarios of the chunks done are the result
        if done == 0:
            raise
        value = value[:done]
        grads = {name: column[:done] for name, column in grads.items()}
        at = {name: column[:done] for name, column in at.items()}
        failed = {k: why for k, why in failed.items() if k < done}
        grid = [column[:done] for column in grid]
    swept = {name: column for (name, _), column in zip(sweeps, grid)}
    result = SweepResult(plan, target, swept, value, grads, at, failed)
    result.planned = total
    return result


def grid_slice(np, sweeps: list, start: int, stop: int) -> list:
    """Scenarios start..stop of the grid, as a column per sweep: scenario k's value of each sweep is
    by the mixed-radix digits of k, the first sweep slowest (as meshgrid's ij order has it)."""
    k = np.arange(start, stop)
    columns = []
    stride = math.prod(len(values) for _, values in sweeps)
    for _, values in sweeps:
        stride //= len(values)
        columns.append(np.asarray(values, dtype=float)[(k // stride) % len(values)])
    return columns


def sweep_chunk(job: dict, start: int, count: int) -> dict:
    """Scenarios start..start+count of a sweep (the job: the graph as text, the sweeps, what to give),
    evaluated wherever this runs: the output, the gradients and values asked for, and why not."""
    import numpy as np

    from ..core.arrays import scenarios
    from .remote import plan_of

    plan = plan_of(job["graph"])
    target = plan.index[job["of"]]
    leaves = {
        plan.index[name]: column
        for (name, _), column in zip(job["sweeps"], grid_slice(np, job["sweeps"], start, start + count))
    }
    values, first_bad, d = scenarios(np, plan, plan.given(job["overrides"]), leaves, count, target)
    grads: dict = {}
    at: dict = {}
    failed: dict = {}
    for name in job["wrt"]:
        p = plan.index[name]
        grads[name] = np.zeros(count) if d[p] is None else np.array(np.broadcast_to(d[p], (count,)))
        at[name] = np.array(np.broadcast_to(values[p], (count,)))
    for k in np.flatnonzero(first_bad >= 0).tolist():
        failed[start + k] = _reason(plan, values, int(first_bad[k]), k)
        for name in job["wrt"]:
            grads[name][k] = math.nan
    return {"value": np.array(np.broadcast_to(values[target], (count,))), "grads": grads, "at": at, "failed": failed}


def _on_workers(plan: Plan, sweeps: list, overrides: dict, target: int, names: list, total: int, runner, progress):
    """The sweep's chunks run by `runner` (remote.on_dask's), put back in order."""
    import numpy as np

    from .remote import graph_text

    job = {
        "graph": graph_text(plan),
        "sweeps": sweeps,
        "overrides": overrides,
        "of": plan.names[target],
        "wrt": names,
    }
    size = max(1, CHUNK_CELLS // max(plan.size, 1))
    spans = [(start, min(size, total - start)) for start in range(0, total, size)]
    parts = runner(sweep_chunk, job, spans, progress)
    value = np.concatenate([part["value"] for part in parts])
    grads = {name: np.concatenate([part["grads"][name] for part in parts]) for name in names}
    at = {name: np.concatenate([part["at"][name] for part in parts]) for name in names}
    failed = {k: why for part in parts for k, why in part["failed"].items()}
    swept = {name: column for (name, _), column in zip(sweeps, grid_slice(np, sweeps, 0, total))}
    result = SweepResult(plan, target, swept, value, grads, at, failed)
    result.planned = total
    return result


def _reason(plan: Plan, values: list, i: int, k: int) -> str:
    """Why node i has no value in scenario k (of this chunk): its op applied to that scenario's
    operands (or, for an input drawn by Monte Carlo, the value it drew)."""

    def at(v):
        return float(v[k]) if getattr(v, "ndim", 0) else float(v)

    if plan.is_input(i):
        return f"input '{plan.names[i]}' drew {at(values[i])!r}, not a finite number"
    xs = [at(values[j]) for j in plan.args[i]]
    got = plan.node_op(i)(*xs)
    return plan.node_text(i, xs, got.reason if type(got) is Undefined else "not a finite number")


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
    table = Table()
    for k, (header, _) in enumerate(columns):
        style = "bold" if k < len(result.swept) else "green" if k == len(result.swept) else "red"
        table.column(cell(header), "right", style, give="drop" if k > len(result.swept) else None)
    if result.failed:
        table.column("why there is no value", style="dim")
    size = result.size
    plan, swept = result.plan, len(result.swept)
    formats = [
        # the grid points as the user would write them (whatever --decimals says: 4.0 and 4.5 are not both
        # 4), the output in its display format, the gradients with their significant digits
        entry_format(computed_format(number_format()), plan.formats.get(plan.index[header]))
        if k < swept
        else entry_format(num, plan.formats.get(plan.index[header]))
        if k == swept
        else gradient_format(num)
        for k, (header, _) in enumerate(columns)
    ]
    for numbers, reason in _sweep_rows(result, columns, summary_rows(size, all_rows)):
        row = ["undefined" if x is None else f(x) for f, x in zip(formats, numbers)]
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
    headers = [with_unit(result.plan, header) for header, _ in columns]
    yield csv_text([headers + (["error"] if result.failed else [])])
    for start in range(0, result.size, 65536):
        stop = min(result.size, start + 65536)
        fields = [_texts(column, start, stop, "") for _, column in columns]
        if result.failed:
            fields.append(_reasons(result, start, stop, lambda reason: csv_text([[reason]]).rstrip("\n")))
        yield "".join(line + "\n" for line in map(",".join, zip(*fields)))
        if progress is not None:
            progress(stop, result.size)
