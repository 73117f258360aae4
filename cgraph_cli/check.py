"""Gradient check: backprop against central differences, input by input (the book's section 5.7)."""

from __future__ import annotations

from dataclasses import dataclass

from .engine import Result, evaluate, forward
from .errors import CgraphError, RequestError
from .model import Input, Plan, path_counts
from .ops import Number


@dataclass(frozen=True, slots=True)
class Check:
    """One input's gradient two ways, and the verdict."""

    name: str
    value: Number
    step: float
    backprop: Number
    numeric: float | None  # None where the difference could not be taken
    abs_error: float | None
    rel_error: float | None
    status: str  # "ok", "FAIL", "kink" (not differentiable there) or "undefined"
    note: str = ""


def check_gradients(result: Result, names: list[str], overrides: dict, eps: float = 1e-6,
                    rtol: float = 1e-5, atol: float = 1e-8) -> list[Check]:
    """For each input named: backprop's gradient, a central difference, and whether they agree.

    The step is h = eps * max(1, |x|): relative to the input's size, so large
    inputs are not perturbed below their own rounding, and absolute near zero.
    They agree when |backprop - numeric| <= atol + rtol * max(|backprop|, |numeric|).
    """
    plan = result.plan
    checks = []
    for name in names:
        i = plan.position(name, "--wrt")
        if not isinstance(plan.decls[i], Input):
            raise RequestError(f"--wrt: '{name}' is a node; gradients are checked with respect to inputs",
                               source=plan.graph.source)
        x = result.values[i]
        h = eps * max(1.0, abs(x))
        grad = result.grads[i]
        try:
            up = forward(plan, {**overrides, name: x + h})
            down = forward(plan, {**overrides, name: x - h})
        except CgraphError as e:
            checks.append(Check(name, x, h, grad, None, None, None, "undefined", f"x ± h: {e.message}"))
            continue
        kink = _kink_crossed(plan, result, i, up, down)
        numeric = (up[result.of] - down[result.of]) / (2 * h)
        abs_error = abs(grad - numeric)
        scale = max(abs(grad), abs(numeric))
        rel_error = abs_error / scale if scale else 0.0
        if kink:
            status, note = "kink", f"{kink} is not differentiable between x - h and x + h"
        elif abs_error <= atol + rtol * scale:
            status, note = "ok", ""
        else:
            status, note = "FAIL", ""
        checks.append(Check(name, x, h, grad, numeric, abs_error, rel_error, status, note))
    return checks


def _kink_crossed(plan: Plan, result: Result, target: int, up: list, down: list) -> str | None:
    """A node on the way from the input to the output whose operand meets its op's kink within ±h."""
    on_path = path_counts(plan, target, result.of)
    for i in range(target + 1, result.of + 1):
        op = plan.ops[i]
        if op is None or op.kink is None or not on_path[i]:
            continue
        j = plan.args[i][0]
        lo, mid, hi = down[j], result.values[j], up[j]
        k = op.kink
        if lo == k or mid == k or hi == k or (lo < k) != (hi < k) or (lo < k) != (mid < k):
            return f"node '{plan.decls[i].name}' ({op.name} at {k!r})"
    return None


def check(plan: Plan, names: list[str] | None = None, overrides: dict | None = None, of: str | None = None,
          **tolerances) -> tuple[Result, list[Check]]:
    """Evaluate, then check the gradient of every input named (default: all)."""
    overrides = overrides or {}
    result = evaluate(plan, overrides, of)
    names = names or [d.name for d in plan.graph.inputs]
    return result, check_gradients(result, names, overrides, **tolerances)
