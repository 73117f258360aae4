"""A tornado: each input moved down and up by a swing, one at a time, and how far the output moves.

The bars are sorted by how far the output moves (the widest on top, the
shape that gives the chart its name). Each end is a forward pass of the
scalar engine with one input changed, so its digits are a `cgraph run
--set` of that point. A point where the output has no value (the log of a
negative price) leaves that end undefined, with the reason, and the rest
stand.
"""

from __future__ import annotations

import math

from .errors import GraphError, RequestError, shorten
from .graph import Plan
from .ops import Undefined

MAX_WORK = 200_000_000  # forward passes × nodes: past this a tornado would run for minutes


def parse_swing(text: str) -> tuple[str, float]:
    """'10%' -> ('relative', 0.1); '2.5' -> ('absolute', 2.5). A usage error for anything else."""
    from .syntax import NotANumber, plain_kind, to_number

    relative = text.endswith("%")
    number = text[:-1] if relative else text
    try:
        if plain_kind(number) != "number":
            raise NotANumber(text)
        amount = float(to_number(number))
    except (NotANumber, OverflowError):
        raise RequestError(f"the swing '{shorten(text)}' is not a number or a percentage", None, "swing") from None
    if not math.isfinite(amount) or amount <= 0:
        raise RequestError(f"the swing '{shorten(text)}' must be above 0", None, "swing")
    return ("relative", amount / 100) if relative else ("absolute", amount)


class Bar:
    """One input's bar: its value, the values it was moved to (None past a float's range), and the
    output at each (a number or Undefined)."""

    __slots__ = ("name", "value", "low", "high", "out_low", "out_high")

    def __init__(self, name: str, value, low, high, out_low, out_high):
        self.name, self.value, self.low, self.high = name, value, low, high
        self.out_low, self.out_high = out_low, out_high

    @property
    def width(self) -> float:
        """How far the output moves between the two ends (-1 where an end is undefined: last)."""
        if type(self.out_low) is Undefined or type(self.out_high) is Undefined:
            return -1.0
        width = abs(self.out_high - self.out_low)
        return width if math.isfinite(width) else -1.0  # (two ends a float's range apart)


class Tornado:
    """The output's value at the inputs as they are, and one bar per input, widest first."""

    def __init__(self, plan: Plan, of: int, value, swing: tuple[str, float], bars: list[Bar]):
        self.plan, self.of, self.value, self.swing, self.bars = plan, of, value, swing, bars

    @property
    def of_name(self) -> str:
        return self.plan.names[self.of]

    @property
    def swing_text(self) -> str:
        return self.text(self.swing)

    @staticmethod
    def text(swing: tuple[str, float]) -> str:
        """A swing as the command line writes it: 10%, ±2.5."""
        kind, amount = swing
        return f"{amount * 100:g}%" if kind == "relative" else f"±{amount:g}"


def tornado(
    plan: Plan, swing: tuple[str, float], overrides: dict | None = None, of: str | None = None, names=None
) -> Tornado:
    """Move each input in `names` (default: every input that is not a constant) down and up by the
    swing, the others at their values (and `overrides`), and take the output at each end."""
    from .engine import forward

    plan.numbers_only("tornado")
    overrides = dict(overrides or {})
    target = plan.output_position(of)
    names = list(names) if names else plan.variable_names
    for name in names:
        p = plan.input_position(name, "wrt")
        if p in plan.fixed:
            raise RequestError(f"'{shorten(name)}' is a constant; a tornado moves inputs", plan.source, "wrt")
    if 2 * len(names) * max(plan.size, 1) > MAX_WORK:
        raise RequestError(
            f"a tornado of {len(names):,} inputs over {plan.size:,} nodes is too much work; choose inputs with --wrt",
            plan.source,
            "wrt",
        )
    values = forward(plan, overrides)
    kind, amount = swing
    bars = []
    for name in names:
        x = values[plan.index[name]]
        step = abs(x) * amount if kind == "relative" else amount
        low, high = x - step, x + step
        ends = []
        for moved, way in ((low, "down"), (high, "up")):
            if not math.isfinite(moved):  # (an input of 1e308 moved up by 100%)
                by = Tornado.text(swing).lstrip("±")
                ends.append(Undefined(f"'{shorten(name)}' moved {way} by {by} is past a float's range"))
                continue
            try:
                ends.append(forward(plan, {**overrides, name: moved})[target])
            except GraphError as e:  # the output has no value there
                ends.append(Undefined(e.message))
        bars.append(Bar(name, x, *(v if math.isfinite(v) else None for v in (low, high)), *ends))
    bars.sort(key=lambda bar: -bar.width)  # stable: ties keep the file's order
    return Tornado(plan, target, values[target], swing, bars)
