"""cgraph tornado: each input moved down and up by a swing, one at a time, and how far the output moves.

The bars are sorted by how far the output moves (the widest on top, the
shape that gives the chart its name). Each end is a forward pass of the
scalar engine with one input changed, so its digits are a `cgraph run
--set` of that point. A point where the output has no value (the log of a
negative price) leaves that end undefined, with the reason, and the rest
stand.
"""

from __future__ import annotations

import math

from ..core.errors import GraphError, RequestError, shorten
from ..core.graph import Plan
from ..core.op import Undefined
from ..show.formats import csv_text, to_json
from ..show.numbers import Format, computed_format, described, entry_format, format_number
from ..show.plot import axis_scale, picture, pyplot
from ..show.table import Table, cell

MAX_WORK = 200_000_000  # forward passes × nodes: past this a tornado would run for minutes


def parse_swing(text: str) -> tuple[str, float]:
    """'10%' -> ('relative', 0.1); '+-2.5' or '±2.5' -> ('absolute', 2.5). A bare number is refused:
    10 could mean 10% or ±10, and taken as an amount it once moved a fee rate of 0.025 to -9.975."""
    from ..read.syntax import NotANumber, plain_kind, to_number

    relative = text.endswith("%")
    sign = next((s for s in ("+-", "±") if text.startswith(s)), "")
    number = text[:-1] if relative else text[len(sign) :]
    try:
        if plain_kind(number) != "number" or (relative and sign):
            raise NotANumber(text)
        amount = float(to_number(number))
    except (NotANumber, OverflowError):
        raise RequestError(
            f"the swing '{shorten(text)}' is not a percentage (10%) nor an amount (+-2.5)", None, "swing"
        ) from None
    if not math.isfinite(amount) or amount <= 0:
        raise RequestError(f"the swing '{shorten(text)}' must be above 0", None, "swing")
    if not relative and not sign:
        raise RequestError(
            f"the swing '{shorten(text)}' has no unit: write {shorten(text)}% to move each input by that "
            f"percentage of its value, or +-{shorten(text)} to move each by that amount",
            None,
            "swing",
        )
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
    from ..core.engine import forward

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


BAR_HALF = 24  # cells each side of the output's value


def _bar_cells(result, bar, scale: float) -> str:
    """One input's bar: ░ where moving the input down takes the output, █ where moving it up does,
    either side of │, the output's value."""
    left, right = [" "] * BAR_HALF, [" "] * BAR_HALF
    for end, mark in ((bar.out_low, "░"), (bar.out_high, "█")):
        if type(end) is Undefined or scale == 0:
            continue
        cells = min(BAR_HALF, round(abs(end - result.value) / scale * BAR_HALF))
        side = left if end < result.value else right
        for k in range(cells):
            if side is left:
                left[BAR_HALF - 1 - k] = mark
            else:
                right[k] = mark
    return "".join(left) + "│" + "".join(right)


def tornado_table(result, num: Format = format_number, color: bool = False) -> str:
    """`cgraph tornado`: one row per input, the one that moves the output most first, with its bar."""
    ends = [end for bar in result.bars for end in (bar.out_low, bar.out_high) if type(end) is not Undefined]
    scale = max((abs(end - result.value) for end in ends), default=0.0)
    table = Table()
    table.column("input", style="bold")
    table.column("value", "right")
    amount = result.swing_text.lstrip("±")
    table.column(f"-{amount}", "right")
    table.column(f"+{amount}", "right")
    table.column(f"{cell(result.of_name)} at -", "right", "green")
    table.column(f"{cell(result.of_name)} at +", "right", "green")
    table.column("range", "right", "red")
    plan = result.plan
    num = computed_format(num)  # the ends and the outputs there are cgraph's numbers: no float noise
    out = entry_format(num, plan.formats.get(plan.index[result.of_name]))
    table.column(f"░ input down, █ input up, │ {cell(result.of_name)} = {out(result.value)}")
    for bar in result.bars:
        width = bar.width
        inp = entry_format(num, plan.formats.get(plan.index[bar.name]))
        table.rows.append(
            [
                cell(bar.name),
                inp(bar.value),
                "undefined" if bar.low is None else inp(bar.low),
                "undefined" if bar.high is None else inp(bar.high),
                out(bar.out_low),
                out(bar.out_high),
                "undefined" if width < 0 else out(width),
                _bar_cells(result, bar, scale),
            ]
        )
    headline = f"{cell(result.plan.name)}: {cell(result.of_name)} = {out(result.value)}, each input ±{amount}"
    notes = [
        f"{cell(bar.name)} at {end}: {cell(reason.reason, 200)}"
        for bar in result.bars
        for end, reason in (("-", bar.out_low), ("+", bar.out_high))
        if type(reason) is Undefined
    ]
    notes += [
        f"{cell(bar.name)}: its two ends are further apart than a float can hold"
        for bar in result.bars
        if bar.width < 0 and Undefined not in (type(bar.out_low), type(bar.out_high))
    ]
    if not result.bars:
        return headline + "\nno inputs to move (constants are not moved)"
    text = table.draw(headline, color, all_rows=True)
    return text + ("\n" + "\n".join(notes) if notes else "")


def tornado_records(result) -> list[dict]:
    plan = result.plan
    return [
        {
            "name": bar.name,
            **{
                key: texts[plan.index[bar.name]]
                for key, texts in (("label", plan.labels), ("unit", plan.units))
                if plan.index[bar.name] in texts
            },
            "value": bar.value,
            "low": bar.low,
            "high": bar.high,
            "output_low": bar.out_low,
            "output_high": bar.out_high,
            "range": None if bar.width < 0 else bar.width,
            "errors": [e.reason for e in (bar.out_low, bar.out_high) if type(e) is Undefined] or None,
        }
        for bar in result.bars
    ]


def tornado_json(result) -> str:
    """`cgraph tornado --json`: {"graph", "of", "value", "swing", "bars": [...]}, widest bar first."""
    data = {
        "graph": result.plan.name,
        "of": result.of_name,
        "value": result.value,
        "swing": result.swing_text,
        "bars": tornado_records(result),
    }
    return to_json(data)


def tornado_csv(result) -> str:
    """`cgraph tornado --csv`: a row per input, widest bar first."""
    records = tornado_records(result)
    keys = ["name", "value", "low", "high", "output_low", "output_high", "range"]
    keys += [key for key in ("label", "unit") if any(key in record for record in records)]
    rows = [[record.get(k, "") for k in keys] for record in records]
    return csv_text([keys, *rows])


def tornado_plot(result, fmt: str) -> bytes:
    """The tornado as an SVG or PNG picture, drawn by matplotlib (ImportError where it is missing)."""
    plt = pyplot()
    bars = [bar for bar in result.bars if bar.width >= 0][::-1]  # widest on top
    ends = [float(end) for bar in bars for end in (bar.out_low, bar.out_high)]
    of = result.plan.index[result.of_name]
    scale, label = axis_scale([float(result.value), *ends], described(result.plan, of) or str(result.of_name))
    base = float(result.value) / scale
    figure, axes = plt.subplots(figsize=(7, 0.45 * len(bars) + 1.4))
    for y, bar in enumerate(bars):
        for end, color, way in ((bar.out_low, "#1f77b4", "input down"), (bar.out_high, "#d62728", "input up")):
            at = float(end) / scale
            axes.barh(y, at - base, left=base, color=color, height=0.6, label=way if y == 0 else None)
    axes.axvline(base, color="black", linewidth=0.8)
    plan = result.plan
    axes.set_yticks(range(len(bars)), [described(plan, plan.index[bar.name]) or bar.name for bar in bars])
    axes.set_xlabel(f"{label} (at the inputs' values: {float(result.value):.6g})")
    axes.set_title(f"{result.plan.name}: {result.of_name}, each input ±{result.swing_text.lstrip('±')}")
    if bars:
        axes.legend(loc="lower right", fontsize="small")
    return picture(plt, figure, fmt)
