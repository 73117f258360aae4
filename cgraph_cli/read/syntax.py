"""The words of a graph file: its keys, what plain scalars mean by YAML 1.2's core schema, and
which characters names and text may hold.

Shared by both ways into a graph (loader.py's fast path and located.py's
careful one), and by the command line's --set. Imports no YAML parser:
a JSON file never needs one.
"""

from __future__ import annotations

import math

from ..core.errors import shorten
from ..core.op import exact

TOP_KEYS = (
    "name",
    "description",
    "functions",
    "inputs",
    "constants",
    "nodes",
    "edges",
    "output",
    "display",
    "correlations",
)
DISPLAY_KEYS = ("format", "unit", "label")
INPUT_KEYS = ("value", "label", "file", "normal", "shape", "seed", "zeros", "dist")
NODE_KEYS = ("op", "inputs", "label")  # and the attributes its op declares (core/layers.py)
FORBIDDEN_IN_NAMES = ("=", ",", "->")

# YAML 1.2 core schema, https://yaml.org/spec/1.2.2/#1032-tag-resolution
NULL = {"", "~", "null", "Null", "NULL"}
BOOL = {"true", "True", "TRUE", "false", "False", "FALSE"}
_INF_NAN = {sign + inf for sign in ("", "-", "+") for inf in (".inf", ".Inf", ".INF")} | {".nan", ".NaN", ".NAN"}
_NUMBER_START = frozenset("-+.0123456789~")  # every number, 1.1 or 1.2, starts with one of these (and ~)
_YAML11_NUMBER = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


class NotANumber(ValueError):
    """Text that looks like a number but is not one cgraph accepts, with the reason."""


def plain_kind(text: str) -> str:
    """What a plain scalar is by YAML 1.2: 'null', 'bool', 'number' or 'string'.

    Raises NotANumber for number-like text cgraph refuses (.inf, .nan, and what
    YAML 1.1 would read as another number than YAML 1.2 does).
    """
    if text and text[0] not in _NUMBER_START:  # most scalars are names: decide them fast
        return "string" if text not in BOOL and text not in NULL else ("bool" if text in BOOL else "null")
    if text in NULL:
        return "null"
    if text in BOOL:
        return "bool"
    if text in _INF_NAN:
        raise NotANumber(f"{shorten(text)} is not a finite number")
    if _is_int(text) and len(_unsigned(text)) > 1 and _unsigned(text)[0] == "0":
        raise NotANumber(
            f"{shorten(text)} has a leading zero, which YAML 1.1 reads as octal "
            f"and YAML 1.2 as decimal; write it without the zero (or 0o.. for octal)"
        )
    if _is_int(text) or _is_octal(text) or _is_hex(text) or _is_float(text):
        return "number"
    import yaml  # only for text that is no number by YAML 1.2: is it one by YAML 1.1?

    if yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False)) in _YAML11_NUMBER:
        raise NotANumber(
            f"{shorten(text)} is a number in YAML 1.1 but text in YAML 1.2 "
            "(digit separators, base 60, binary or signed hex); write it as a plain decimal"
        )
    return "string"


# The core schema's number forms, as string tests (regular expressions would cost every start
# their compiling): int [-+]?[0-9]+, octal 0o[0-7]+, hex 0x[0-9a-fA-F]+,
# float [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?


def _digits(text: str, allowed: str = "0123456789") -> bool:
    return text != "" and not text.strip(allowed)


def _unsigned(text: str) -> str:
    return text[1:] if text[:1] in ("-", "+") else text


def _is_int(text: str) -> bool:
    return _digits(_unsigned(text))


def _is_octal(text: str) -> bool:
    return text[:2] == "0o" and _digits(text[2:], "01234567")


def _is_hex(text: str) -> bool:
    return text[:2] == "0x" and _digits(text[2:], "0123456789abcdefABCDEF")


def _is_float(text: str) -> bool:
    mantissa, e, exponent = _unsigned(text).replace("E", "e").partition("e")
    whole, dot, fraction = mantissa.partition(".")
    if whole == "":  # .5
        mantissa_ok = dot == "." and _digits(fraction)
    else:  # 5, 5. or 5.25
        mantissa_ok = _digits(whole) and (fraction == "" or _digits(fraction))
    return mantissa_ok and (not e or _is_int(exponent))


def looks_like_number(text: str) -> bool:
    """Whether text reads as a number, or as number-like text cgraph refuses (so no name may be it)."""
    try:
        return plain_kind(text) == "number"
    except NotANumber:
        return True


def to_number(text: str):
    """The number a plain scalar of kind 'number' stands for; NotANumber if it overflows."""
    value: int | float
    if _is_octal(text):
        value = int(text[2:], 8)
    elif _is_hex(text):
        value = int(text[2:], 16)
    elif _is_int(text):
        if not math.isfinite(float(text)):  # before int(): no huge digit strings
            raise NotANumber(f"{shorten(text)} overflows a float")
        value = int(text)
    else:
        value = float(text)
    try:
        if math.isfinite(value):
            return exact(value)  # an integer too large to stay exact is a float from here on
    except OverflowError:
        pass
    raise NotANumber(f"{shorten(text)} overflows a float")


def percent(text: str) -> float | None:
    """The number a percent stands for, `2.5%` -> 0.025 (the decimal 2.5e-2 rounded once, so 7%
    is 0.07, not 7/100's 0.07000000000000001), or None if the text is not a decimal and '%'."""
    body = text.strip()
    if not body.endswith("%"):
        return None
    body = body[:-1].rstrip()
    if not body or body[0] not in _NUMBER_START or not (_is_int(body) or _is_float(body)) or body in _INF_NAN:
        return None
    from decimal import Decimal

    try:
        value = float(Decimal(body).scaleb(-2))
    except ArithmeticError:
        value = math.inf
    if not math.isfinite(value):
        raise NotANumber(f"{shorten(text)} overflows a float")
    return value


FORMATS = ("plain", "percent", "money", "thousands", "decimals")


def display_format(text: str) -> tuple[str, int | None]:
    """A display format as a file writes it: `percent`, `percent:1`, `money` (thousands separators
    and 2 decimals), `thousands`, `thousands:0`, `decimals:3`, `plain`; as (kind, decimals or None).
    NotANumber (with the formats there are) for anything else."""
    kind, colon, digits = text.strip().partition(":")
    kind = kind.strip()
    places = None
    if colon:
        if not digits.strip().isdigit() or int(digits) > 20:
            raise NotANumber(f"'{shorten(text)}': the decimals after ':' are a whole number from 0 to 20")
        places = int(digits)
    if kind not in FORMATS or (kind == "decimals" and places is None):
        raise NotANumber(
            f"'{shorten(text)}' is not a display format; the formats: plain, percent, money, thousands "
            "(each may take :N decimals, as percent:1), decimals:N"
        )
    return kind, 2 if kind == "money" and places is None else places


def parse_number(text: str):
    """A number from text as a plain YAML 1.2 scalar would give it, or a percent (2.5%);
    NotANumber if it is neither."""
    text = text.strip()
    share = percent(text)
    if share is not None:
        return share
    kind = plain_kind(text)
    if kind != "number":
        raise NotANumber(f"'{shorten(text)}' is not a number" + (" (it is a boolean)" if kind == "bool" else ""))
    return to_number(text)


def parse_range(text: str, open_ends: bool = False) -> tuple:
    """LO:HI as two numbers, LO below HI; with `open_ends`, either may be left out (None: 0: or :10).
    NotANumber says what is wrong."""
    lo, colon, hi = text.partition(":")
    if not colon:
        raise NotANumber("write LO:HI" + (" (either may be left out: 0: or :10)" if open_ends else ""))
    lower, upper = (None if open_ends and not t.strip() else float(parse_number(t)) for t in (lo, hi))
    if lower is not None and upper is not None and not lower < upper:
        raise NotANumber("LO must be below HI")
    return lower, upper


# Bidi embeddings, overrides, isolates and marks: they reorder what a terminal shows.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def steers(c: str) -> bool:
    """Whether a character may not stand in text: controls (but newline and tab) steer a terminal,
    bidi controls reorder what it shows, lone surrogates cannot be written out as UTF-8."""
    import unicodedata

    return c in _BIDI or (unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t")


def char_name(c: str) -> str:
    import unicodedata

    return f"U+{ord(c):04X} ({unicodedata.name(c, 'a control character')})"


def name_problem(name: str, quoted: bool = True) -> str | None:
    """What is wrong with a name, in the words of an error about it (None: nothing). Both ways in
    (read/loader.py) hold names to this. A number written plain is a number, not a name: only a
    quoted one (`"12"`) can be taken for a name, and is refused."""
    if name == "":
        return "must not be empty"
    if any(c.isspace() for c in name):
        return f"{shorten(repr(name))} contains whitespace; names cannot"
    # Invisible and direction-changing characters would let a printed graph lie about itself.
    bad = None if name.isprintable() else next(c for c in name if not c.isprintable())
    if bad is not None:
        return f"{shorten(repr(name))} contains the control, invisible or bidi character {char_name(bad)}; names cannot"
    for bad in FORBIDDEN_IN_NAMES:
        if bad in name:
            return f"'{shorten(name)}' contains '{bad}'; names cannot"
    if quoted and looks_like_number(name):
        return f"'{shorten(name)}' is a number; names cannot be numbers"
    return None


def text_problem(text: str) -> str | None:
    """What is wrong with a label, a description or a name of a file (None: nothing): a character
    that could steer a terminal or hide itself. Both ways in hold text to this."""
    bad = None if text.isprintable() else next((c for c in text if steers(c)), None)
    return None if bad is None else f"contains the control, bidi or invalid character {char_name(bad)}"
