"""cgraph seek, goal seek: the value of one input that makes a node hit a target.

The break-even price (profit = 0 --by price), the rate for a given payment
(payment = 1800 --by annual_rate). Newton's method with the exact derivative
backprop gives, d(node)/d(input): x <- x - (f(x) - target) / f'(x), a handful
of steps from a good start. Where Newton cannot go on (a flat derivative, a
point where the graph has no value, a step that does not close in), the root
is bracketed, a and b with the node on either side of the target, and Newton
goes on inside the bracket, halving it where its step would leave it (the
safeguarded Newton of Numerical Recipes' rtsafe). The search ends where the
node hits the target exactly, or the bracket holds two neighbouring floats:
of those, the one whose node comes closer to the target is the answer.
"""

from __future__ import annotations

import math

from ..core.errors import CgraphError, RequestError, option_number, shorten
from ..core.graph import Plan
from ..core.op import Undefined
from ..show.formats import to_json
from ..show.numbers import Format, format_number
from ..show.table import Table, cell

MAX_EVALUATIONS = 400  # Newton takes a handful; halving a bracket of floats takes at most about 2,100 bits / 1
NEWTON_ALONE = 40  # Newton steps before the root is bracketed instead
REACH = 2.0**40  # a root is looked for at most this many times the start's size away from it


class Seek:
    """What `seek` found: the input's `value` where the node comes to `reached`, each point tried
    (`iterations`: the input's value, the node's value, its derivative or None, how the point was
    chosen), and the bracket (lo, hi) around the root, if one was needed."""

    def __init__(self, plan: Plan, node: str, target: float, by: str, start: float):
        self.plan, self.node, self.target, self.by, self.start = plan, node, target, by, start
        self.iterations: list[tuple[float, float | None, float | None, str]] = []
        self.bracket: tuple[float, float] | None = None
        self.value = start
        self.reached: float | None = None

    @property
    def miss(self) -> float:
        """How far the node is from the target at the answer."""
        return abs(self.reached - self.target) if self.reached is not None else math.inf


def seek(
    plan: Plan,
    node: str,
    target: float,
    by: str,
    overrides: dict | None = None,
    start: float | None = None,
    within: tuple[float, float] | None = None,
) -> Seek:
    """The value of input `by` at which `node` equals `target` (starting from `start`, default the
    input's value; looking only in `within` = (lo, hi) when given)."""
    overrides = dict(overrides or {})
    option_number(target, "the target", least=-math.inf)
    i = plan.position(by, "by")
    if not plan.is_input(i):
        raise RequestError(f"'{shorten(by)}' is a node; seek moves an input", plan.source, "by")
    if i in plan.fixed:
        raise RequestError(
            f"'{shorten(by)}' is a constant, which has no gradient; seek moves an input", plan.source, "by"
        )
    if by in overrides:
        raise RequestError(f"'{shorten(by)}' is both set and sought", plan.source, "by")
    of = plan.position(node, "goal")
    if plan.arrays and (getattr(plan.values[i], "ndim", 0) > 0 or (plan.shapes and plan.shapes[of] != ())):
        raise RequestError("seek moves one number to make another hit a target: both must be numbers", plan.source)
    if start is None:
        start = float(overrides.get(by, plan.values[i]))
    option_number(start, "--from", least=-math.inf)
    if within is not None:
        lo, hi = (option_number(end, "--between", least=-math.inf) for end in within)
        if not lo < hi:
            raise RequestError(f"--between {lo!r}:{hi!r}: the low end must be below the high end", plan.source)
        if not lo <= start <= hi:
            start = lo + (hi - lo) / 2
    found = Seek(plan, plan.names[of], target, by, start)
    _Search(found, overrides, within).run()
    return found


class _Search:
    """One search: every point tried is kept, and the best, and the tightest bracket seen."""

    def __init__(self, found: Seek, overrides: dict, within: tuple[float, float] | None):
        self.found, self.overrides, self.within = found, overrides, within
        self.below: float | None = None  # the input's value nearest the root where node < target
        self.above: float | None = None  # ... and where node > target
        self.best: tuple[float, float] | None = None  # (miss, input's value)

    def point(self, x: float, how: str) -> tuple[float | None, float | None]:
        """(node - target, its derivative) at x, either None where the graph has no value there."""
        from ..core.engine import evaluate

        found = self.found
        if len(found.iterations) >= MAX_EVALUATIONS:
            raise _Stop
        try:
            result = evaluate(found.plan, {**self.overrides, found.by: x}, found.node)
        except RequestError:
            raise
        except CgraphError:
            found.iterations.append((x, None, None, how))
            return None, None
        value = float(result.value)
        grad = result.needed_grad(found.by) if result.has_grads else None
        slope = float(grad) if type(grad) is not Undefined and grad is not None else None
        found.iterations.append((x, value, slope, how))
        f = value - found.target
        if not math.isfinite(f):
            return None, slope
        if self.best is None or abs(f) < self.best[0]:
            self.best = (abs(f), x)
        if f < 0 and _tighter(x, self.below, self.above):
            self.below = x
        elif f > 0 and _tighter(x, self.above, self.below):
            self.above = x
        return f, slope

    @property
    def bracket(self) -> tuple[float, float] | None:
        if self.below is None or self.above is None:
            return None
        return (min(self.below, self.above), max(self.below, self.above))

    def run(self) -> None:
        found = self.found
        try:
            near = self.newton(found.start)
            if self.best is not None and self.best[0] != 0:
                self.find_bracket(*near)
                self.bracketed()
        except _Stop:
            pass
        if self.best is None:
            raise CgraphError(
                f"{shorten(found.node)} has no value at {shorten(found.by)} = {found.start!r} nor anywhere tried "
                "near it; try --from or --between",
                None,
                found.plan.source,
            )
        if self.best[0] != 0:
            if self.bracket is None or not self._tight():
                raise self.no_root()
            lo, hi = found.bracket = self.bracket  # the root lies between these neighbouring floats
            values = self._tried(lo)[0], self._tried(hi)[0]
            self.best = min((abs(v - found.target), x) for x, v in zip(found.bracket, values))
            # From one float to the next the node moves by about its slope times their distance (and
            # rounding); by far more, it jumps: a `where`, a step, a pole.
            slope = max(abs(self._tried(lo)[1] or 0.0), abs(self._tried(hi)[1] or 0.0))
            step = 4 * slope * (hi - lo) + 1e-9 * max(abs(found.target), *map(abs, values), 1.0)
            if abs(values[1] - values[0]) > step:
                raise CgraphError(
                    f"{shorten(found.node)} jumps past {found.target!r} between {shorten(found.by)} = {lo!r} and "
                    f"{hi!r} (from {values[0]!r} to {values[1]!r}) without taking it: it is not continuous there",
                    None,
                    found.plan.source,
                )
        found.value = self.best[1]
        found.reached = self._tried(found.value)[0]

    def newton(self, x: float) -> tuple[float, float]:
        """Newton's method alone from x, until it hits the target, brackets it, cannot go on, or
        its step is below the input's precision: where to look for a bracket next, and how far
        apart to put its first points."""
        x0 = x
        reach = REACH * (abs(x0) or 1.0)
        f, slope = self.point(x, "start")
        for _ in range(NEWTON_ALONE):
            if f is None or slope is None or slope == 0 or not math.isfinite(slope):
                break
            if f == 0 or self.bracket is not None:
                return x, math.ulp(x)
            step = f / slope
            if not math.isfinite(step) or self._outside(x - step) or abs(x - step - x0) > reach:
                break
            if abs(step) < math.ulp(x):  # as close as the input's floats go: the root is next to x
                return x, math.ulp(x)
            x -= step
            f, slope = self.point(x, "newton")
        return x0, abs(x0) * 0.01 or 0.01

    def find_bracket(self, x0: float, step: float) -> None:
        """Points out from x0, doubling the distance each time (or across --between), until the
        node is on both sides of the target."""
        if self.bracket is not None:
            return
        if self.within is not None:
            lo, hi = self.within
            for k in range(1, 65):  # a grid across the range, finer each round
                n = 2**k
                for j in range(1, n, 2) if k > 1 else range(0, n + 1):
                    self.point(lo + (hi - lo) * j / n, "bracket")
                    if self.bracket is not None:
                        return
            return
        reach = REACH * (abs(self.found.start) or 1.0)
        while step <= reach:
            for x in (x0 + step, x0 - step):
                self.point(x, "bracket")
                if self.bracket is not None:
                    return
            step *= 2

    def bracketed(self) -> None:
        """Newton inside the bracket, halving it where a step would leave it, until it holds two
        neighbouring floats (or the node hits the target)."""
        if self.bracket is None:
            return
        x = self.best[1]  # type: ignore[index]
        value, slope = self._tried(x)
        f: float | None = value - self.found.target
        steps = [math.inf, math.inf]  # the last two steps' sizes
        while not self._tight() and f != 0:
            lo, hi = self.bracket  # (not None: bracketed() starts with one)
            if f is None:
                found = self.found
                raise CgraphError(
                    f"{shorten(found.node)} passes {found.target!r} between {shorten(found.by)} = {lo!r} and {hi!r} "
                    f"but has no value at {x!r} between them: it is not continuous there",
                    None,
                    found.plan.source,
                )
            step = f / slope if slope else math.nan
            # Newton's step where it stays inside and closes in (at least halving every other step,
            # as rtsafe asks: near the root rounding makes Newton wander), else halve the bracket.
            if math.isfinite(step) and lo < x - step < hi and abs(step) <= steps[0] / 2:
                x, how = x - step, "newton"
            else:
                x, how = lo + (hi - lo) / 2, "halving"
                step = (hi - lo) / 2
            steps = [steps[1], abs(step)]
            f, slope = self.point(x, how)

    def _tried(self, x: float) -> tuple[float, float | None]:
        """The node's value and its derivative (None where it has none) at a point already tried."""
        return next((v, d) for y, v, d, _ in reversed(self.found.iterations) if y == x and v is not None)

    def _outside(self, x: float) -> bool:
        return self.within is not None and not self.within[0] <= x <= self.within[1]

    def _tight(self) -> bool:
        lo, hi = self.bracket  # type: ignore[misc]
        return math.nextafter(lo, math.inf) >= hi

    def no_root(self) -> CgraphError:
        found, (_, closest) = self.found, self.best  # type: ignore[misc]
        tried = [(x, v) for x, v, _, _ in found.iterations if v is not None]
        xs = [x for x, _ in tried]
        values = [v for _, v in tried]
        slope = found.iterations[0][2]
        flat = " (its derivative is 0 at the start: it does not move with it)" if slope == 0 else ""
        where = f"between {min(xs)!r} and {max(xs)!r}"
        return CgraphError(
            f"no value of {shorten(found.by)} {where} makes {shorten(found.node)} = {found.target!r}{flat}: "
            f"it goes from {min(values)!r} to {max(values)!r} there, and comes closest, "
            f"{self._tried(closest)[0]!r}, at {shorten(found.by)} = {closest!r}; try --from or --between",
            None,
            found.plan.source,
        )


def _tighter(x: float, same_side: float | None, other_side: float | None) -> bool:
    """Whether x, on one side of the target, brackets the root closer than `same_side` did."""
    return same_side is None or other_side is None or abs(x - other_side) < abs(same_side - other_side)


class _Stop(Exception):
    """The search has tried MAX_EVALUATIONS points."""


def seek_table(found: Seek, num: Format = format_number, color: bool = False, iterations: bool = False) -> str:
    """`cgraph seek`: the answer, and each point tried on request."""
    plan = found.plan
    headline = (
        f"{cell(plan.name)}: {cell(found.node)} = {num(found.reached)} at {cell(found.by)} = {num(found.value)} "
        f"(target {num(found.target)}; {len(found.iterations)} evaluations"
        + (f"; the root lies between {num(found.bracket[0])} and {num(found.bracket[1])}" if found.bracket else "")
        + ")"
    )
    if not iterations:
        return headline + "\n"
    table = Table()
    table.column("k", "right")
    table.column(cell(found.by), "right", "green")
    table.column(cell(found.node), "right")
    table.column(f"d({cell(found.node)})/d({cell(found.by)})", "right")
    table.column("step")
    for k, (x, value, slope, how) in enumerate(found.iterations):
        table.rows.append(
            [str(k), num(x), "no value" if value is None else num(value), "" if slope is None else num(slope), how]
        )
    return table.draw(headline, color, all_rows=True)


def seek_record(found: Seek) -> dict:
    return {
        "graph": found.plan.name,
        "of": found.node,
        "target": found.target,
        "by": found.by,
        "value": found.value,
        "reached": found.reached,
        "evaluations": len(found.iterations),
        "bracket": list(found.bracket) if found.bracket else None,
        "iterations": [
            {"by": x, "value": value, "derivative": slope, "step": how} for x, value, slope, how in found.iterations
        ],
    }


def seek_json(found: Seek) -> str:
    return to_json(seek_record(found))
