"""Numbers as text: every digit by default (the shortest that reads back as the same float), or as asked."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..core.op import Undefined, Unused


def format_number(value, precision: int | None = None, decimals: int | None = None) -> str:
    """Python's shortest round-trip form; or `precision` significant digits, in exponent form only
    outside 1e-4 <= |x| < 1e15 (so money reads 1270, not 1.27e+03); or `decimals` fixed places."""
    if type(value) is Undefined:
        return "undefined"
    if type(value) is Unused:
        return "not used"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    if precision is None:
        return repr(value)
    text = f"{value:.{precision}g}"
    if "e" in text and 1e-4 <= abs(float(text)) < 1e15:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    return text


Format = Callable[[object], str]

# An array of at most this many elements is shown whole in a table; a larger one by its shape and
# first few elements (a value) or its smallest and largest (a gradient), unless --full.
SMALL_ARRAY = 6


def shown(value, num: Format, full: bool = False, spread: bool = False) -> str:
    """A number by `num`; an array by its shape and elements (all of them when small or `full`, one
    row per line; else its first few, or with `spread` its min and max)."""
    if getattr(value, "ndim", None) is None:
        return num(value)
    shape = str(tuple(value.shape))
    if value.size <= SMALL_ARRAY or full:
        import numpy as np

        formatter: Any = {"all": lambda x: num(x.item())}
        text = np.array2string(value, 10**9, threshold=value.size + 1, separator=", ", formatter=formatter)
        return f"{shape} {' '.join(text.split())}" if value.size <= SMALL_ARRAY else f"{shape}\n{text}"
    if spread:
        return f"{shape} min {num(float(value.min()))} max {num(float(value.max()))}"
    return f"{shape} [{', '.join(num(x) for x in value.flat[:3].tolist())}, …]"


class NumberFormat:
    """format_number with the digits a command line asked for (--precision, --decimals), in the
    display format a file gives an entry (`percent`, `money`, ...: read.syntax.display_format)."""

    def __init__(self, precision: int | None = None, decimals: int | None = None, kind: tuple | None = None):
        self.precision, self.decimals, self.kind = precision, decimals, kind

    def __call__(self, value) -> str:
        if self.kind is None or type(value) is not float and type(value) is not int or not math.isfinite(value):
            return format_number(value, self.precision, self.decimals)
        kind, places = self.kind
        places = self.decimals if self.decimals is not None else places
        if kind == "percent":
            return (_shortest(value, 2) if places is None else f"{value * 100:.{places}f}") + "%"
        if kind in ("money", "thousands"):
            return _grouped(_shortest(value, 0)) if places is None else f"{value:,.{places}f}"
        if kind == "decimals" and places is not None:
            return f"{value:.{places}f}"
        return format_number(value, self.precision, self.decimals)

    def computed(self) -> NumberFormat:
        """For numbers cgraph computed itself (grid points, a tornado's ends): without float noise
        (`clean`) unless --precision or --decimals asks for digits."""
        if self.precision is not None or self.decimals is not None:
            return self
        return _Clean(None, None, self.kind)

    def entry(self, kind: tuple | None) -> NumberFormat:
        """This format for an entry the file gives a display format (None: as it is)."""
        return self if kind is None else NumberFormat(self.precision, self.decimals, kind)

    def gradient(self) -> NumberFormat:
        """For gradients: --decimals, but never fewer than GRADIENT_DIGITS significant digits (a
        d(profit)/d(rent) of 0.3587 is not 0 at --decimals 0)."""
        return self if self.decimals is None else _KeepDigits(self.precision, self.decimals)


class _Clean(NumberFormat):
    def __call__(self, value) -> str:
        if type(value) is not float or not math.isfinite(value):
            return NumberFormat.__call__(self, value)
        if self.kind is None:
            return clean(value)
        return NumberFormat.__call__(self, float(clean(value)))

    def entry(self, kind: tuple | None) -> NumberFormat:
        return self if kind is None else _Clean(None, None, kind)


GRADIENT_DIGITS = 3


class _KeepDigits(NumberFormat):
    def __call__(self, value) -> str:
        text = format_number(value, None, self.decimals)
        if type(value) in (int, float) and value != 0 and math.isfinite(value):
            digits = text.lstrip("-+0.").replace(".", "")
            if len(digits) < GRADIENT_DIGITS:
                return format_number(value, GRADIENT_DIGITS)
        return text


def _shortest(value, shift: int) -> str:
    """The shortest decimal that reads back as `value` (Python's repr), times 10**shift, exactly."""
    from decimal import Decimal

    text = format(Decimal(repr(value)).scaleb(shift), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _grouped(text: str) -> str:
    """1234567.25 as 1,234,567.25."""
    sign = "-" if text.startswith("-") else ""
    whole, dot, fraction = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"


def number_format(precision: int | None = None, decimals: int | None = None) -> NumberFormat:
    """format_number with the digits a command line asked for."""
    return NumberFormat(precision, decimals)


def entry_format(num: Format, kind: tuple | None) -> Format:
    """`num` for an entry with display format `kind` (a plain function `num` stays as it is)."""
    if kind is None:
        return num
    return num.entry(kind) if isinstance(num, NumberFormat) else NumberFormat(kind=kind)


def computed_format(num: Format) -> Format:
    """`num` for numbers cgraph computed itself: without float noise (NumberFormat.computed)."""
    return num.computed() if isinstance(num, NumberFormat) else num


def estimate_format(num: Format, digits: int = 6) -> Format:
    """`num` for statistical estimates (a Monte Carlo mean): `digits` significant digits unless the
    command line asked for its own; their last digits are noise of another kind."""
    if isinstance(num, NumberFormat) and num.precision is None and num.decimals is None:
        return NumberFormat(digits, None, num.kind)
    return num


def gradient_format(num: Format) -> Format:
    """`num` for gradients: --decimals never rounds one to nothing."""
    return num.gradient() if isinstance(num, NumberFormat) else num


def clean(value) -> str:
    """A number cgraph computed itself (a sweep's grid point, a tornado's end) without the noise of
    its last bits: the shortest text of at most 12 significant digits within 1e-12 of it
    (0.05 * 1.1 shows as 0.055, not 0.05500000000000001). JSON and CSV keep every digit."""
    if type(value) is not float or not math.isfinite(value) or value == 0:
        return format_number(value)
    for digits in range(1, 13):
        text = format_number(value, digits)
        if abs(float(text) - value) <= 1e-12 * abs(value):
            return text
    return repr(value)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def arrays_too(num: Format) -> Format:
    """`num` for numbers; an array shown compactly (its gradient's spread, when large)."""
    return lambda value: shown(value, num, spread=True)


def described(plan, i: int) -> str:
    """An entry's label with its unit, as tables and plots show it: `price of a cup (USD)`."""
    label, unit = plan.labels.get(i, ""), plan.units.get(i)
    return f"{label} ({unit})".lstrip() if unit else label


def with_unit(plan, name: str) -> str:
    """A CSV column's header: the name, and the unit where the file gives one (`profit (USD)`)."""
    i = plan.index.get(name)
    unit = plan.units.get(i) if i is not None else None
    return f"{name} ({unit})" if unit else name
