"""cgraph check, a gradient check: backprop against numerical differentiation, input by input (the book's section 5.7).

A central difference (f(x+h) - f(x-h)) / 2h has two errors: truncation,
about h²·|f'''|, and the rounding of f itself, about noise/h, where noise is
what rounding adds to f (ε·|f| at best; far more where large intermediate
values cancel, as revenue - cost does). So no single h suits every input. We
take Ridders' extrapolation of central differences over shrinking steps
(Numerical Recipes, dfridr), which also estimates its own error, add the
rounding noise the graph's values imply. Before calling a disagreement, steps
down to x's own rounding are scanned, since f may change on a finer scale. Then:

- pass: backprop and the difference agree within atol + rtol·max(|bp|, |fd|);
- FAIL: they disagree by more than that and by more than the difference's error,
  over a step where every node on the way is close to linear;
- inconclusive: they disagree, but no step resolves the difference well enough to say;
- kink: every step crosses a point where an op is not differentiable (relu at 0);
- undefined: backprop's gradient, or f near x, is not a number.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

from ..core.engine import edge_grads, evaluate, forward
from ..core.errors import CgraphError, RequestError, option_number
from ..core.graph import Plan, element_name, path_counts
from ..core.op import Number, Undefined
from ..core.result import Result
from ..show.formats import to_json
from ..show.numbers import format_number
from ..show.table import Table, cell

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


def check_gradients(
    plan: Plan,
    names: list[str] | None = None,
    overrides: dict | None = None,
    of: str | None = None,
    eps: float = 1e-2,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    sample: int = 50,
) -> tuple[Result, list[Check]]:
    """Evaluate, then check the gradient of every input named (default: all); of an array, every
    element, or past `sample` elements a seeded sample of that many."""
    option_number(eps, "--eps", above=True)
    option_number(rtol, "--rtol")
    option_number(atol, "--atol")
    option_number(sample, "--sample", least=1, whole=True)
    overrides = overrides or {}
    result = evaluate(plan, overrides, of)
    names = names or [plan.names[i] for i in plan.variables]
    for name in names:
        if not plan.is_input(plan.position(plan.element(name)[0], "wrt")):
            raise RequestError(f"'{name}' is a node; gradients are checked with respect to inputs", plan.source, "wrt")
    if plan.arrays:
        return result, [
            c for name in names for c in _check_array(result, *plan.element(name), overrides, eps, rtol, atol, sample)
        ]
    return result, [_check_input(result, name, overrides, eps, rtol, atol) for name in names]


class _Kink(Exception):
    """The step crosses a point where an op on the way to the output is not differentiable, or
    (`turns`) spans so much of a periodic op's period that the difference says nothing."""

    def __init__(self, message: str, at_x: bool, turns: bool = False):
        super().__init__(message)
        self.at_x, self.turns = at_x, turns


class _Differences:
    """Central differences of the output along one input, each with the rounding noise it carries."""

    def __init__(self, result: Result, i: int, overrides: dict):
        self.result, self.i, self.overrides = result, i, overrides
        plan = result.plan
        self.on_path = path_counts(plan, i, result.of)
        # The nodes whose rounding reaches the output, and how strongly (their gradients).
        self.weights = [
            (k, abs(float(g)))
            for k, g in enumerate(result.grads)
            if not plan.is_input(k) and type(g) is not Undefined and g
        ]
        self.evaluations = 0
        self.size = plan.size

    def nonlinear_node(self, h: float) -> str | None:
        """A node on the way to the output that is far from linear over x ± h: its change over ±h is
        not twice its change over ±h/2 (as it is for any smooth node once h is small). A difference
        over such a step says nothing of the derivative at x."""
        result, plan = self.result, self.result.plan
        x = result.values[self.i]
        name = plan.names[self.i]
        self.evaluations += 4
        at = {step: forward(plan, {**self.overrides, name: x + step}) for step in (h, -h, h / 2, -h / 2)}
        for k in range(self.i + 1, result.of + 1):
            if not self.on_path[k]:
                continue
            m = float(result.values[k])
            wide = float(at[h][k]) - float(at[-h][k])
            narrow = float(at[h / 2][k]) - float(at[-h / 2][k])
            noise = 8 * EPSILON * max(abs(float(at[s][k])) for s in at)
            if abs(wide - 2 * narrow) > 0.1 * abs(wide) + noise and not (abs(wide) <= 0.01 * abs(m)):
                return plan.names[k]
        return None

    def backprop_rounding(self, h: float) -> float:
        """How far rounding alone may have moved backprop's gradient for x: each node's gradient is
        a sum of what its consumers send it, rounded as it is added up (up to ε times the sizes of
        the terms, which cancel where the sum is small), and that error reaches x's gradient times
        d(node)/dx (first-order error analysis; d(node)/dx from the difference over x ± h)."""
        result, plan = self.result, self.result.plan
        n = plan.size
        sent = [0.0] * n  # the sizes of the terms each node's gradient adds up
        for c in range(n):
            if not plan.is_input(c) and result.reached[c]:
                for j, edge in zip(plan.args[c], edge_grads(result, c)):
                    if edge is not None and type(edge[1]) is not Undefined:
                        sent[j] += abs(float(edge[1]))
        x = result.values[self.i]
        name = plan.names[self.i]
        up = forward(plan, {**self.overrides, name: x + h})
        down = forward(plan, {**self.overrides, name: x - h})
        self.evaluations += 2
        total = sent[self.i]  # d(x)/dx = 1
        for k in range(self.i + 1, n):
            if self.on_path[k] and sent[k]:
                total += sent[k] * abs(float(up[k]) - float(down[k])) / (2 * h)
        return EPSILON * total

    def __call__(self, h: float) -> tuple[float, float]:
        """(the difference, its rounding error): each op rounds its value by up to ε relative, and that
        error reaches the output times the node's gradient (first-order error analysis), at x ± h."""
        result, plan = self.result, self.result.plan
        x = result.values[self.i]
        up, down = x + h, x - h
        name = plan.names[self.i]
        self.evaluations += 2
        values_up = forward(plan, {**self.overrides, name: up})
        values_down = forward(plan, {**self.overrides, name: down})
        _kink_crossed(plan, result, self.on_path, self.i, values_up, values_down)
        noise = EPSILON * sum(w * max(abs(float(values_up[k])), abs(float(values_down[k]))) for k, w in self.weights)
        return (values_up[result.of] - values_down[result.of]) / (up - down), noise / (up - down)


def _check_input(result: Result, name: str, overrides: dict, eps, rtol, atol) -> Check:
    plan = result.plan
    i = plan.index[name]
    x = result.values[i]
    bp = result.grads[i]
    if type(bp) is Undefined:
        return Check(name, x, None, None, None, None, None, None, "undefined", f"backprop: {bp.reason}")
    tolerance = atol + rtol * abs(bp)
    difference = _Differences(result, i, overrides)
    best, last_problem, kinks, turns = _estimate(difference, x, eps, tolerance)
    if best is not None and abs(bp - best[0]) > atol + rtol * max(abs(bp), abs(best[0])):
        # Before calling it a FAIL or inconclusive, look at every scale down to x's own rounding:
        # f may change on a scale far finer than any step so far (x / (x + 1e-157) near 0).
        step, resolved = _finest_resolved_step(difference, x, eps, tolerance)
        if step is not None:
            try:
                estimate = _ridders(difference, step)
                if resolved or estimate[1] < best[1]:
                    best = estimate  # a finer resolved step is nearer the limit, whatever coarser ones said
            except (_Kink, CgraphError):
                pass
    return _judged(
        name,
        x,
        bp,
        best,
        (kinks, turns, last_problem),
        atol,
        rtol,
        lambda h: (difference.nonlinear_node(h), difference.backprop_rounding(h)),
    )


def _judged(name: str, x, bp, best, trouble: tuple, atol, rtol, diagnose=None) -> Check:
    """The verdict on backprop's `bp` against the best difference (None: there was none, for the
    `trouble` met: kinks, periodic turns, the last problem). Where they disagree, `diagnose(h)`
    (if given) says whether a node is far from linear over the step, and how far rounding alone
    may move backprop's gradient; either makes the disagreement inconclusive, not a FAIL."""
    if best is None:
        kinks, turns, last_problem = trouble
        status = "kink" if kinks else "inconclusive" if turns else "undefined"
        return Check(name, x, None, bp, None, None, None, None, status, last_problem)
    numeric, error, h = best
    abs_error = abs(bp - numeric)
    scale = max(abs(bp), abs(numeric))
    rel_error = abs_error / scale if scale else 0.0
    bent, rounding = None, 0.0
    if diagnose is not None and abs_error > atol + rtol * scale and abs_error > _ERROR_MARGIN * error:
        bent, rounding = diagnose(h)
    if abs_error <= atol + rtol * scale:
        status, note = "pass", ""
    elif bent is not None:
        status = "inconclusive"
        note = f"node '{bent}' is far from linear over every step that resolves the difference"
    elif abs_error <= _ERROR_MARGIN * rounding:
        status = "inconclusive"
        note = f"large terms cancel in backprop's sums here: rounding alone may move its gradient by ±{rounding:.2g}"
    elif abs_error > _ERROR_MARGIN * error:
        status, note = "FAIL", ""
    else:
        status = "inconclusive"
        note = f"the difference is only good to ±{error:.2g} here (rounding); no step resolves it"
    return Check(name, x, h, bp, numeric, error if math.isfinite(error) else None, abs_error, rel_error, status, note)


def _estimate(difference: Callable[[float], tuple[float, float]], x, eps: float, tolerance: float):
    """Ridders' extrapolation from each starting step in turn, until one resolves the derivative
    well enough to judge: (the best (derivative, error, step) or None, the last problem met, how
    many steps crossed a kink (-1: x is at one), how many spanned a periodic op's turn)."""
    best, last_problem, kinks, turns = None, "", 0, 0
    for factor in _STARTS:
        try:
            estimate = _ridders(difference, eps * max(1.0, abs(x)) * factor)
        except _Kink as e:
            if e.at_x:
                return None, str(e), -1, turns
            last_problem = str(e)
            turns, kinks = turns + e.turns, kinks + (not e.turns)
            continue
        except CgraphError as e:
            last_problem = f"f(x ± h): {e.message}"
            continue
        if best is None or estimate[1] < best[1]:
            best = estimate
        if best[1] <= 0.1 * tolerance:
            break  # resolved well enough to judge
    return best, last_problem, kinks, turns


# The scan for a finer scale: steps 10,000 times smaller each, within a budget of evaluations of f
# (node evaluations, for a large graph: the scan is for a disagreement, never for a pass).
_SCAN_FACTOR, _SCAN_EVALUATIONS, _SCAN_NODE_EVALUATIONS = 1e-4, 2000, 50_000_000


def _finest_resolved_step(difference: _Differences, x, eps: float, tolerance: float) -> tuple[float | None, bool]:
    """Among ever smaller steps down to x's own rounding: the finest whose difference is resolved
    (its change from a half step, plus its rounding, well within tolerance), and True; else the
    one least in doubt and False (None when no difference could be taken)."""
    floor = abs(x) * 4 * EPSILON if x else 1e-315  # at x = 0, into the subnormal floats
    h = eps * max(1.0, abs(x))
    least, least_h, finest = math.inf, None, None
    budget = difference.evaluations + max(200, min(_SCAN_EVALUATIONS, _SCAN_NODE_EVALUATIONS // difference.size))
    while h > floor and difference.evaluations < budget:
        try:
            d1, n1 = difference(h)
            d2, n2 = difference(h / 2)
        except (_Kink, CgraphError):
            h *= _SCAN_FACTOR
            continue
        doubt = abs(d1 - d2) + _NOISE_GAIN * max(n1, n2)
        if doubt < least:
            least, least_h = doubt, h
        if doubt <= 0.1 * tolerance and difference.nonlinear_node(h) is None:
            finest = h  # the derivative is the limit as h shrinks: the finest resolved step is nearest
        h *= _SCAN_FACTOR
    return (finest, True) if finest is not None else (least_h, False)


def _ridders(difference: Callable[[float], tuple[float, float]], h0: float):
    """(derivative, estimated error, step) by Ridders' extrapolation from step h0 down; the error
    is the tableau's own estimate plus the rounding noise of the differences it used."""
    first, noise = difference(h0)
    table = [[first]]
    best, error, best_h, h = first, math.inf, h0, h0
    for row in range(1, _ROWS):
        h /= _SHRINK
        try:
            entry, row_noise = difference(h)
        except (CgraphError, _Kink):
            break  # a smaller step meets trouble the larger ones did not: keep what we have
        noise = max(noise, row_noise)
        entries = [entry]
        factor = _SHRINK**2
        for col in range(1, row + 1):
            entries.append((entries[col - 1] * factor - table[row - 1][col - 1]) / (factor - 1))
            factor *= _SHRINK**2
            if not math.isfinite(entries[col]):
                break  # extrapolating this far leaves the float range
            e = max(abs(entries[col] - entries[col - 1]), abs(entries[col] - table[row - 1][col - 1]))
            if e + _NOISE_GAIN * noise <= error:
                best, error, best_h = entries[col], e + _NOISE_GAIN * noise, h
        table.append(entries)
        if len(entries) <= row or abs(entries[row] - table[row - 1][row - 1]) >= _SAFE * error:
            break
    if math.isinf(error):  # a single difference: judge it by its own change from a half step
        try:
            half, half_noise = difference(h0 / 2)
            error = abs(best - half) + _NOISE_GAIN * max(noise, half_noise)
        except (CgraphError, _Kink):
            pass
    if not math.isfinite(best):
        raise CgraphError("the difference is not a finite number")
    return best, error, best_h


def _kink_crossed(plan: Plan, result: Result, on_path, target: int, up: list, down: list) -> None:
    """Raise _Kink for a node on the way from the input to the output whose operand meets its op's
    kink between x - h and x + h."""
    for i in range(target + 1, result.of + 1):
        op = plan.ops[i]
        if op is None or not on_path[i]:
            continue
        args = plan.args[i]
        if not all(type(values[j]) in (int, float) for values in (down, result.values, up) for j in args):
            continue  # an operand with no value at x - h, x or x + h: a node where does not need there
        if op.period is not None and abs(float(up[args[0]]) - float(down[args[0]])) > op.period / 8:
            raise _Kink(
                f"node '{plan.names[i]}' ({op.name}) turns over within every step x's rounding allows "
                f"(its operand moves by more than an eighth of its period)",
                False,
                turns=True,
            )
        if op.kink is None:
            continue
        lo, mid, hi = (op.kink(*[values[j] for j in args]) for values in (down, result.values, up))
        where = f"node '{plan.names[i]}' ({op.name})"
        if mid is None:
            raise _Kink(f"{where} is not differentiable at x", True)
        if lo != mid or hi != mid:
            raise _Kink(f"{where} is not differentiable between x - h and x + h", False)


# -- arrays: element by element ------------------------------------------------------------------


def elements_checked(size: int, sample: int) -> list[int]:
    """Which elements (flat indices) of an array of `size` are checked: all, or past `sample` a
    sample of that many drawn with a fixed seed (the same ones every run), in order."""
    if size <= sample:
        return list(range(size))
    import random

    return sorted(random.Random(0).sample(range(size), sample))


def _check_array(
    result: Result, name: str, element: tuple | None, overrides: dict, eps, rtol, atol, sample: int
) -> list[Check]:
    """Each element (or a sample of them, or the one `element`) checked against central differences
    of the sum of the output's elements, by Ridders' extrapolation from several starting steps."""
    import numpy as np

    plan = result.plan
    i = plan.index[name]
    value, grad = np.asarray(result.values[i], dtype=float), result.grads[i]
    difference = _ElementDifferences(result, i, overrides)
    checks = []
    flat = elements_checked(value.size, sample) if element is None else [np.ravel_multi_index(element, value.shape)]
    for k in flat:
        at = difference.at = np.unravel_index(k, value.shape)
        label = element_name(name, at) if value.ndim else name
        x = float(value[at])
        if type(grad) is Undefined:
            checks.append(Check(label, x, None, None, None, None, None, None, "undefined", f"backprop: {grad.reason}"))
            continue
        bp = float(np.asarray(grad)[at])
        best, last_problem, kinks, turns = _estimate(difference, x, eps, atol + rtol * abs(bp))
        checks.append(_judged(label, x, bp, best, (kinks, turns, last_problem), atol, rtol))
    return checks


class _ElementDifferences:
    """Central differences of the sum of the output's elements along one element (`at`) of an input
    array, each with the rounding noise it carries (as _Differences, on the array engine)."""

    def __init__(self, result: Result, i: int, overrides: dict):
        import numpy as np

        from ..core.arrays import given_arrays, run

        self.np, self.result, self.i = np, result, i
        self.at: tuple = ()  # the element, set before each check
        plan = result.plan
        self.given = given_arrays(np, plan, overrides)
        self.on_path = path_counts(plan, i, result.of)
        # Every value, worked out once: a difference recomputes only the nodes on the way from the
        # input to the output (a 3000 x 3000 weight's element moves one matmul, not the whole graph).
        self.base = run(np, plan, list(self.given), result.of, gradients=False)[0]
        self.again = [k for k in range(i + 1, result.of + 1) if self.on_path[k] and not plan.is_input(k)]
        # How strongly each node's rounding reaches the output: |value| x |gradient|, summed (inf
        # past a float's range, quietly: then no difference is good enough to judge by).
        with np.errstate(all="ignore"):
            self.noise = EPSILON * sum(
                float(np.sum(np.abs(np.asarray(result.values[k])) * np.abs(np.asarray(g))))
                for k, g in enumerate(result.grads)
                if not plan.is_input(k) and g is not None and type(g) is not Undefined
            )
        self.evaluations = 0

    def _forward(self, x: float) -> list:
        np, plan, values = self.np, self.result.plan, list(self.base)
        moved = values[self.i]
        kept, moved[self.at] = moved[self.at], x  # (moved in place, and put back: no copy of a big input)
        try:
            with np.errstate(all="ignore"):
                for k in self.again:
                    xs = [values[j] for j in plan.args[k]]
                    values[k] = np.asarray(plan.node_op(k).array(np, *xs, **plan.attributes(k)), dtype=float)
                if not all(np.isfinite(values[k]).all() for k in self.again):  # the whole pass says why
                    values = self._whole_pass()
        except (ArithmeticError, ValueError):
            values = self._whole_pass()
        finally:
            moved[self.at] = kept
        self.evaluations += 1
        return values

    def _whole_pass(self) -> list:
        """A whole forward pass from the input as moved: its located error where a value it needs
        is not a number, else its values."""
        from ..core.arrays import run

        given = list(self.given)
        given[self.i] = self.base[self.i].copy()
        return run(self.np, self.result.plan, given, self.result.of, gradients=False)[0]

    def __call__(self, h: float) -> tuple[float, float]:
        np, result = self.np, self.result
        x = float(self.given[self.i][self.at])
        up, down = x + h, x - h
        values_up, values_down = self._forward(up), self._forward(down)
        self._kink_crossed(values_up, values_down)
        with np.errstate(all="ignore"):  # a sum past a float's range is inf: no difference to judge by
            f_up, f_down = float(np.sum(values_up[result.of])), float(np.sum(values_down[result.of]))
        return (f_up - f_down) / (up - down), self.noise / (up - down)

    def _kink_crossed(self, up: list, down: list) -> None:
        """_Kink where an element of a node on the way meets its op's kink between x - h and x + h."""
        np, plan = self.np, self.result.plan
        mid = [np.asarray(v) for v in self.result.values]
        for k in range(self.i + 1, self.result.of + 1):
            op = plan.ops[k]
            if op is None or op.kink is None or not self.on_path[k]:
                continue
            piece = np.frompyfunc(op.kink, len(plan.args[k]), 1)
            lo, at, hi = (piece(*[values[j] for j in plan.args[k]]) for values in (down, mid, up))
            where = f"node '{plan.names[k]}' ({op.name})"
            if np.any(np.equal(at, None)):
                raise _Kink(f"{where} is not differentiable at x (at one of its elements)", True)
            if np.any((lo != at) | (hi != at)):
                raise _Kink(f"{where} is not differentiable between x - h and x + h", False)


def check_verdict(checks) -> str:
    """One line for the whole check: what failed, what agreed, and what could not be compared."""

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
    table = Table()
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
