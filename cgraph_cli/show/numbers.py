"""Numbers as text: every digit by default (the shortest that reads back as the same float), or as asked."""

from __future__ import annotations

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


def number_format(precision: int | None = None, decimals: int | None = None) -> Format:
    """format_number with the digits a command line asked for."""
    return lambda value: format_number(value, precision, decimals)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def arrays_too(num: Format) -> Format:
    """`num` for numbers; an array shown compactly (its gradient's spread, when large)."""
    return lambda value: shown(value, num, spread=True)
