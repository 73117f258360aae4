"""Gradient descent: move some inputs against the gradient, step by step, to make the output small.

The book's training loop, `network.params[key] -= learning_rate * grad[key]`:
each step is one forward and one backward pass (on arrays, each node one numpy
call), then every input varied moves by -lr times its gradient. The output must
be a number: the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

from .errors import CgraphError, RequestError, shorten
from .graph import Plan


class Descent:
    """The loss before each step and after the last (steps + 1 of them); the inputs varied, their
    values at the end, and, for those that are numbers, their value before each step (`trace`)."""

    def __init__(self, plan: Plan, of: int, vary: list[str], lr: float):
        self.plan, self.of, self.vary, self.lr = plan, of, vary, lr
        self.losses: list[float] = []
        self.trace: dict[str, list[float]] = {}  # a varied input that is a number -> its values
        self.final: dict = {}  # each varied input -> its value after the last step

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
) -> Descent:
    """`steps` steps of gradient descent on the inputs `vary`; `progress(done, total)` is told as it goes."""
    target = plan.output_position(of)
    if not vary:
        raise RequestError("name the inputs to vary (--vary W1,b1)", plan.source, "vary")
    positions = []
    for name in vary:
        i = plan.position(name, "vary")
        if plan.ops[i] is not None:
            raise RequestError(f"'{shorten(name)}' is a node; only inputs can be varied", plan.source, "vary")
        if name in (overrides or {}):
            raise RequestError(f"'{shorten(name)}' is both set and varied", plan.source, "vary")
        positions.append(i)
    if plan.shapes is not None and plan.shapes[target] != ():
        raise RequestError(
            f"'{shorten(plan.names[target])}' is an array of shape {plan.shapes[target]}; descend makes a "
            "number small: make the loss one (sum or mean)",
            plan.source,
            "of",
        )
    run = Descent(plan, target, list(vary), lr)
    step = _array_step if plan.arrays else _number_step
    values = step(plan, positions, overrides or {}, target, lr, steps, run, progress)
    run.final = dict(zip(vary, values))
    return run


def _number_step(plan: Plan, positions, overrides, target, lr, steps, run, progress) -> list:
    """Descent on a graph of numbers, by the scalar engine (the book's digits)."""
    from .engine import evaluate

    names = [plan.names[i] for i in positions]
    current = {name: plan.values[i] for name, i in zip(names, positions)}
    run.trace = {name: [] for name in names}
    for k in range(steps + 1):
        with _at_step(k):
            result = evaluate(plan, {**overrides, **current}, plan.names[target])
            run.losses.append(result.value)
            for name in names:
                run.trace[name].append(current[name])
            if k == steps:
                break
            for name in names:
                current[name] = current[name] - lr * result.needed_grad(name)
        if progress is not None:
            progress(k + 1, steps)
    return [current[name] for name in names]


def _array_step(plan: Plan, positions, overrides, target, lr, steps, run, progress) -> list:
    """Descent on a graph of arrays: a forward and a backward pass on the array engine per step."""
    import numpy as np

    from .arrays import backward, forward_pass, given_arrays

    given = given_arrays(np, plan, overrides)
    scalars = [p for p in positions if given[p].ndim == 0]
    run.trace = {plan.names[p]: [] for p in scalars}
    for k in range(steps + 1):
        with _at_step(k):
            values = forward_pass(np, plan, list(given))
        run.losses.append(float(values[target]))
        for p in scalars:
            run.trace[plan.names[p]].append(float(given[p]))
        if k == steps:
            break
        grads = backward(np, plan, values, target)
        for p in positions:
            g = grads[p]
            if g is None:
                continue  # the output does not depend on it
            if not hasattr(g, "shape"):  # Undefined
                raise CgraphError(f"step {k}: d({plan.names[target]})/d({plan.names[p]}) is undefined: {g.reason}")
            given[p] = given[p] - lr * g
        if progress is not None:
            progress(k + 1, steps)
    return [float(given[p]) if given[p].ndim == 0 else given[p] for p in positions]


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
