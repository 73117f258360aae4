"""Gradient check: backprop against numerical differentiation, input by input (the book's section 5.7).

A central difference (f(x+h) - f(x-h)) / 2h has two errors: truncation,
about h²·|f'''|, and the rounding of f itself, about noise/h, where noise is
what rounding adds to f (ε·|f| at best; far more where large intermediate
values cancel, as revenue - cost does). So no single h suits every input. We
take Ridders' extrapolation of central differences over shrinking steps
(Numerical Recipes, dfridr), which also estimates its own error, add the
rounding noise the graph's values imply, and judge:

- pass: backprop and the difference agree within atol + rtol·max(|bp|, |fd|);
- FAIL: they disagree by more than that and by more than the difference's error;
- inconclusive: they disagree, but no step resolves the difference well enough to say;
- kink: every step crosses a point where an op is not differentiable (relu at 0);
- undefined: backprop's gradient, or f near x, is not a number.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from .engine import Result, evaluate, forward
from .errors import CgraphError, RequestError
from .model import Input, Plan, path_counts
from .ops import Number, Undefined

EPSILON = sys.float_info.epsilon
# Ridders starts from eps·max(1, |x|) times each of these in turn, until one resolves the
# derivative: first larger steps (rounding noise shrinks as 1/h; the extrapolation removes the
# truncation error of a smooth f), then smaller ones (for kinks, domain edges, fine detail).
_STARTS = (1, 10, 100, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12)
# Ridders' tableau: each step 1.4 times smaller; stop when the error grows by SAFE.
_SHRINK, _ROWS, _SAFE = 1.4, 10, 2.0
# Extrapolation weights amplify the noise of each difference; this bounds the factor.
_NOISE_GAIN = 5.0
# A discrepancy is a FAIL only when it is this many times the difference's estimated error.
_ERROR_MARGIN = 3.0

VERDICTS = ("pass", "FAIL", "inconclusive", "kink", "undefined")


@dataclass(frozen=True, slots=True)
class Check:
    """One input's gradient two ways, and the verdict."""

    name: str
    value: Number
    step: float | None  # the step of the difference used
    backprop: Number | None  # None where backprop's gradient is undefined
    numeric: float | None  # None where no difference could be taken
    error: float | None  # the difference's estimated error (truncation and rounding)
    abs_error: float | None
    rel_error: float | None
    status: str  # one of VERDICTS
    note: str = ""


def summary(checks: list[Check]) -> dict[str, int]:
    """How many checks have each verdict."""
    return {v: sum(c.status == v for c in checks) for v in VERDICTS}


def passed(checks: list[Check]) -> bool:
    """Whether the check as a whole passes: nothing failed, and something was compared and agreed."""
    counts = summary(checks)
    return counts["FAIL"] == 0 and counts["pass"] > 0


def check(plan: Plan, names: list[str] | None = None, overrides: dict | None = None, of: str | None = None,
          eps: float = 1e-2, rtol: float = 1e-5, atol: float = 1e-8) -> tuple[Result, list[Check]]:
    """Evaluate, then check the gradient of every input named (default: all)."""
    overrides = overrides or {}
    result = evaluate(plan, overrides, of)
    names = names or [d.name for d in plan.graph.inputs]
    for name in names:
        if not isinstance(plan.decls[plan.position(name, "--wrt")], Input):
            raise RequestError(f"--wrt: '{name}' is a node; gradients are checked with respect to inputs",
                               source=plan.graph.source)
    noise = _rounding_noise(result)
    return result, [_check_input(result, name, overrides, noise, eps, rtol, atol) for name in names]


def _rounding_noise(result: Result) -> float:
    """About how much rounding moves the output: each op rounds its value by up to ε relative,
    and that error reaches the output times the node's gradient (first-order error analysis)."""
    total = 0.0
    for i, op in enumerate(result.plan.ops):
        g = result.grads[i]
        if op is not None and type(g) is not Undefined:
            total += abs(float(result.values[i])) * abs(float(g))
    return EPSILON * total


def _check_input(result: Result, name: str, overrides: dict, noise: float, eps, rtol, atol) -> Check:
    plan = result.plan
    i = plan.index[name]
    x = result.values[i]
    bp = result.grads[i]
    if type(bp) is Undefined:
        return Check(name, x, None, None, None, None, None, None, "undefined", f"backprop: {bp.reason}")
    best, last_problem, kinks = None, "", 0
    for factor in _STARTS:
        h0 = eps * max(1.0, abs(x)) * factor
        try:
            estimate = _ridders(result, i, x, h0, overrides)
        except _Kink as e:
            if e.at_x:
                return Check(name, x, h0, bp, None, None, None, None, "kink", str(e))
            last_problem, kinks = str(e), kinks + 1
            continue
        except CgraphError as e:
            last_problem = f"f(x ± h): {e.message}"
            continue
        numeric, error, h = estimate
        error += _NOISE_GAIN * noise / h
        if best is None or error < best[1]:
            best = (numeric, error, h)
        if error <= 0.1 * (atol + rtol * abs(bp)):
            break  # resolved well enough to judge; smaller steps only add rounding
    if best is None:
        status = "kink" if kinks else "undefined"
        return Check(name, x, None, bp, None, None, None, None, status, last_problem)
    numeric, error, h = best
    abs_error = abs(bp - numeric)
    scale = max(abs(bp), abs(numeric))
    rel_error = abs_error / scale if scale else 0.0
    if abs_error <= atol + rtol * scale:
        status, note = "pass", ""
    elif abs_error > _ERROR_MARGIN * error:
        status, note = "FAIL", ""
    else:
        status = "inconclusive"
        note = (f"the difference is only good to ±{error:.2g} here (rounding of an output of "
                f"{float(result.value):.3g}); no step resolves it")
    return Check(name, x, h, bp, numeric, error, abs_error, rel_error, status, note)


class _Kink(Exception):
    """The step crosses a point where an op on the way to the output is not differentiable."""

    def __init__(self, message: str, at_x: bool):
        super().__init__(message)
        self.at_x = at_x


def _ridders(result: Result, i: int, x, h0: float, overrides: dict):
    """(derivative, estimated error, step) by Ridders' extrapolation from step h0 down."""
    plan = result.plan
    on_path = path_counts(plan, i, result.of)
    name = plan.decls[i].name

    def difference(h):
        up, down = x + h, x - h
        values_up = forward(plan, {**overrides, name: up})
        values_down = forward(plan, {**overrides, name: down})
        _kink_crossed(plan, result, on_path, i, values_up, values_down)
        return (values_up[result.of] - values_down[result.of]) / (up - down)

    table = [[difference(h0)]]
    best, error, best_h, h = table[0][0], math.inf, h0, h0
    for row in range(1, _ROWS):
        h /= _SHRINK
        try:
            entries = [difference(h)]
        except (CgraphError, _Kink):
            break  # a smaller step meets trouble the larger ones did not: keep what we have
        factor = _SHRINK ** 2
        for col in range(1, row + 1):
            entries.append((entries[col - 1] * factor - table[row - 1][col - 1]) / (factor - 1))
            factor *= _SHRINK ** 2
            e = max(abs(entries[col] - entries[col - 1]), abs(entries[col] - table[row - 1][col - 1]))
            if e <= error:
                best, error, best_h = entries[col], e, h
        table.append(entries)
        if abs(entries[row] - table[row - 1][row - 1]) >= _SAFE * error:
            break
    if math.isinf(error):  # a single difference: judge it by its own change from a half step
        error = abs(best - difference(h0 / 2))
    return best, error, best_h


def _kink_crossed(plan: Plan, result: Result, on_path, target: int, up: list, down: list) -> None:
    """Raise _Kink for a node on the way from the input to the output whose operand meets its op's
    kink between x - h and x + h."""
    for i in range(target + 1, result.of + 1):
        op = plan.ops[i]
        if op is None or op.kink is None or not on_path[i]:
            continue
        j = plan.args[i][0]
        lo, mid, hi = down[j], result.values[j], up[j]
        k = op.kink
        where = f"node '{plan.decls[i].name}' ({op.name} at {k!r})"
        if mid == k:
            raise _Kink(f"{where} is not differentiable at x", True)
        if lo == k or hi == k or (lo < k) != (hi < k) or (lo < k) != (mid < k):
            raise _Kink(f"{where} is not differentiable between x - h and x + h", False)
