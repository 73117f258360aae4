"""cgraph descend, gradient descent: move some inputs against the gradient, step by step, to make the output small.

The book's training loop, `network.params[key] -= learning_rate * grad[key]`:
each step is one forward and one backward pass (on arrays, each node one numpy
call), then every input varied moves by -lr times its gradient. The output must
be a number: the loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial

from ..core.arrays import as_number
from ..core.errors import CgraphError, RequestError, option_number, shorten
from ..core.graph import Plan
from ..core.op import Undefined
from ..show.formats import csv_text, to_json
from ..show.numbers import Format, described, format_number
from ..show.plot import axis_scale, picture, pyplot
from ..show.table import Table, cell

MAX_STEPS = 1_000_000  # each step keeps its loss


class Descent:
    """The loss before each step and after the last (steps + 1 of them); the inputs varied, their
    values at the end, and, for those that are numbers, their value before each step (`trace`)."""

    def __init__(self, plan: Plan, of: int, vary: list[str], lr: float):
        self.plan, self.of, self.vary, self.lr = plan, of, vary, lr
        self.losses: list[float] = []
        self.trace: dict[str, list[float]] = {}  # a varied input that is a number -> its values
        self.final: dict = {}  # each varied input -> its value after the last step
        self.stopped: str | None = None  # why it stopped before --steps: --tol met, or interrupted
        self.interrupted = False

    @property
    def of_name(self) -> str:
        return self.plan.names[self.of]


def descend(
    plan: Plan,
    vary: list[str],
    lr: float,
    steps: int,
    overrides: dict | None = None,
    of: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    tol: float | None = None,
) -> Descent:
    """`steps` steps of gradient descent on the inputs `vary`; `progress(done, total)` is told as it
    goes. With `tol`, it stops early where the gradient's norm, or the loss's change in a step, falls
    to `tol` or below. Ctrl-C stops it too: what was done is returned, marked interrupted."""
    option_number(lr, "--lr", above=True)
    option_number(steps, "--steps", least=0, whole=True)
    if tol is not None:
        option_number(tol, "--tol")
    if steps > MAX_STEPS:
        raise RequestError(f"--steps {steps:,}: at most {MAX_STEPS:,} (each keeps its loss)", plan.source)
    target = plan.output_position(of)
    if not vary:
        raise RequestError("name the inputs to vary (--vary W1,b1)", plan.source, "vary")
    for name in vary:
        i = plan.position(name, "vary")
        if not plan.is_input(i):
            raise RequestError(f"'{shorten(name)}' is a node; only inputs can be varied", plan.source, "vary")
        if name in (overrides or {}):
            raise RequestError(f"'{shorten(name)}' is both set and varied", plan.source, "vary")
    if plan.shapes is not None and plan.shapes[target] != ():
        raise RequestError(
            f"'{shorten(plan.names[target])}' is an array of shape {plan.shapes[target]}; descend makes a "
            "number small: make the loss one (sum or mean)",
            plan.source,
            "of",
        )
    run = Descent(plan, target, list(vary), lr)
    # The varied inputs' values, one pass (forward and backward), and how to move them quietly: on
    # arrays an overflow is numpy's warning, and the next pass says it in cgraph's words.
    current, one_pass, quiet = (_on_arrays if plan.arrays else _on_numbers)(plan, vary, overrides or {}, target)
    run.trace = {name: [] for name, value in current.items() if not _is_array(value)}  # the numbers
    reached = dict(current)  # the values whose loss is the last one recorded
    try:
        for k in range(steps + 1):
            with _at_step(k):
                loss, grads = one_pass(current, k < steps)  # no backward pass after the last step
            run.losses.append(loss)
            for name, values in run.trace.items():
                values.append(as_number(current[name]))
            reached = dict(current)
            if k == steps:
                break
            if tol is not None:
                run.stopped = _converged(run.losses, grads, tol)
                if run.stopped is not None:
                    run.stopped = f"{run.stopped} at step {k:,}"
                    break
            with quiet():
                for name, g in grads.items():
                    current[name] = current[name] - lr * g
            if progress is not None:
                progress(k + 1, steps)
    except KeyboardInterrupt:  # Ctrl-C: the steps done so far are the result
        done = min([len(run.losses), *map(len, run.trace.values())])
        del run.losses[done:]
        for values in run.trace.values():
            del values[done:]
        if not run.losses:
            raise
        run.interrupted = True
        run.stopped = f"interrupted (Ctrl-C) after step {done - 1:,}"
    run.final = {name: as_number(value) for name, value in reached.items()}
    return run


def _converged(losses: list, grads: dict, tol: float) -> str | None:
    """Why descent may stop (--tol): the gradient's norm, or the loss's last change, at tol or below."""
    import math

    norm = math.sqrt(sum(float((g * g).sum()) if _is_array(g) else float(g) ** 2 for g in grads.values()))
    if norm <= tol:
        return f"the gradient's norm {norm:.3g} fell to --tol {tol!r}"
    if len(losses) > 1 and abs(losses[-1] - losses[-2]) <= tol:
        return f"the loss changed by {abs(losses[-1] - losses[-2]):.3g}, within --tol {tol!r}"
    return None


def _on_numbers(plan: Plan, vary: list[str], overrides: dict, target: int):
    """The varied inputs' values, and one pass of the scalar engine (the book's digits): current
    values -> (the loss, each varied input's gradient when asked for)."""
    from ..core.engine import evaluate

    def one_pass(current: dict, gradients: bool):
        result = evaluate(plan, {**overrides, **current}, plan.names[target], gradients)
        return result.value, {name: result.needed_grad(name) for name in current} if gradients else {}

    return {name: plan.values[plan.index[name]] for name in vary}, one_pass, nullcontext


def _on_arrays(plan: Plan, vary: list[str], overrides: dict, target: int):
    """The varied inputs' values, and one forward and backward pass on the array engine: current
    values -> (the loss, the gradient of each varied input the loss depends on, when asked for)."""
    import numpy as np

    from ..core.arrays import given_arrays, run

    given = given_arrays(np, plan, overrides)
    positions = {name: plan.index[name] for name in vary}

    def one_pass(current: dict, gradients: bool):
        values = list(given)
        for name, p in positions.items():
            values[p] = current[name]
        values, _, grads = run(np, plan, values, target, gradients)
        if grads is None:
            return float(values[target]), {}
        out = {}
        for name, p in positions.items():
            g = grads[p]
            if type(g) is Undefined:
                raise plan.error(f"d({plan.names[target]})/d({name}) is undefined: {g.reason}", g.origin)
            if g is not None:  # None: the loss does not depend on it
                out[name] = g
        return float(values[target]), out

    return {name: given[p] for name, p in positions.items()}, one_pass, partial(np.errstate, all="ignore")


def _is_array(value) -> bool:
    return getattr(value, "ndim", 0) > 0


@contextmanager
def _at_step(k: int):
    """Name the step in an error: where descent leaves the numbers, and when."""
    try:
        yield
    except CgraphError as e:
        if isinstance(e, RequestError):
            raise
        hint = "; a smaller --lr may keep the steps from diverging" if k else ""
        e.message = f"step {k}: {e.message}{hint}"
        raise


DESCENT_ROWS = 20  # a table shows the loss at about this many steps, evenly spaced (--all: every step)


def _descent_rows(run, all_rows: bool) -> list[int]:
    last = len(run.losses) - 1
    if all_rows or last <= DESCENT_ROWS:
        return list(range(last + 1))
    every = -(-last // DESCENT_ROWS)
    return sorted({*range(0, last, every), last})


def descend_table(run, num: Format = format_number, color: bool = False, all_rows: bool = False) -> str:
    """`cgraph descend`: the loss at evenly spaced steps (and each varied input that is a number)."""
    table = Table()
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
        + (f"; stopped: {run.stopped}" if run.stopped else "")
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
        "stopped": run.stopped,
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
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5))
    scale, label = axis_scale(run.losses, described(run.plan, run.of) or run.of_name)
    losses = [loss / scale for loss in run.losses]
    if scale == 1 and min(losses) > 1e-300:  # (a log axis down to the subnormals overflows its ticks)
        axes.set_yscale("log")
    axes.plot(range(len(losses)), losses, color="#1f77b4")
    axes.set_xlabel("step")
    axes.set_ylabel(label)
    axes.set_title(f"{run.plan.name}: gradient descent, lr {run.lr!r}")
    return picture(plt, figure, fmt)
