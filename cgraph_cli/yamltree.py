"""YAML text to a small tree of marked nodes, read with YAML 1.2's core schema.

PyYAML alone resolves plain scalars by YAML 1.1, keeps the last of duplicate
keys, and composes recursively (deep nesting overflows the C stack of its
libyaml binding). So we take only its parser's events and compose them here,
iteratively, with every node keeping its line and column. Nothing in a file
can construct an object: tags are refused and scalars stay text until the
loader asks what they mean.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from .errors import GraphError, Loc, shorten
from .ops import exact

# A graph file needs four levels; far more is hostile or a mistake.
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Marked:
    """A node that knows where it starts; the Loc is made only when asked for (most never are)."""

    __slots__ = ("mark",)
    mark: Any  # PyYAML's Mark: 0-based line and column

    @property
    def loc(self) -> Loc:
        """1-based line and column."""
        return Loc(self.mark.line + 1, self.mark.column + 1)


class Scalar(_Marked):
    """A scalar as written: its text, whether it was plain (unquoted), and where."""

    __slots__ = ("text", "plain")

    def __init__(self, text: str, plain: bool, mark):
        self.text, self.plain, self.mark = text, plain, mark

    @property
    def is_null(self) -> bool:
        """Whether YAML reads this scalar as null (empty, ~, null)."""
        return self.plain and self.text in _NULL

    @property
    def is_bool(self) -> bool:
        """Whether YAML 1.2 reads this scalar as a boolean (true, False, ...; not yes or on)."""
        return self.plain and self.text in _BOOL


class Seq(_Marked):
    """A sequence of nodes."""

    __slots__ = ("items",)

    def __init__(self, mark):
        self.items: list = []
        self.mark = mark


class Map(_Marked):
    """A mapping, as (key, value) pairs in file order, duplicates not yet checked."""

    __slots__ = ("pairs", "_key")

    def __init__(self, mark):
        self.pairs: list = []
        self.mark = mark
        self._key = None


KIND = {Scalar: "a scalar", Seq: "a list", Map: "a mapping"}


def _loc(mark) -> Loc:
    return Loc(mark.line + 1, mark.column + 1)


def compose(text: str, source: str):
    """The single document in `text` as a tree, or None when there is none."""
    try:
        return _compose(text, source)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise GraphError(f"invalid YAML: {e.problem or e.context}", _loc(mark) if mark else None, source) from None
    except yaml.reader.ReaderError as e:
        raise GraphError(
            f"invalid YAML: {e.reason} (character {e.character!r})", _position_loc(text, e.position), source
        ) from None
    except yaml.YAMLError as e:
        raise GraphError(f"invalid YAML: {e}", None, source) from None


def _position_loc(text: str, position: int) -> Loc:
    line = text.count("\n", 0, position)
    return Loc(line + 1, position - (text.rfind("\n", 0, position) + 1) + 1)


def _compose(text: str, source: str):
    loader = _Loader(text)
    try:
        root = None
        stack: list = []  # open collections, each with its anchor
        anchors: dict = {}
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is ScalarEvent:
                _check_tag(event, source)
                node = Scalar(event.value, event.implicit[0], event.start_mark)
                if event.anchor is not None:
                    anchors[event.anchor] = node
            elif kind is AliasEvent:
                anchored = anchors.get(event.anchor)
                if anchored is None:
                    raise GraphError(
                        f"alias *{event.anchor} names no anchor defined before it "
                        "(an anchor cannot be used inside itself)",
                        _loc(event.start_mark),
                        source,
                    )
                node = anchored
            elif kind is SequenceStartEvent or kind is MappingStartEvent:
                _check_tag(event, source)
                if len(stack) >= MAX_DEPTH:
                    raise GraphError(f"the file nests deeper than {MAX_DEPTH} levels", _loc(event.start_mark), source)
                stack.append(((Seq if kind is SequenceStartEvent else Map)(event.start_mark), event.anchor))
                continue
            elif kind is SequenceEndEvent or kind is MappingEndEvent:
                node, anchor = stack.pop()
                if anchor is not None:
                    anchors[anchor] = node  # only once complete: an anchor never contains itself
            elif kind is DocumentStartEvent:
                if root is not None:
                    raise GraphError(
                        "the file holds more than one YAML document; a graph file is one",
                        _loc(event.start_mark),
                        source,
                    )
                continue
            elif kind is StreamEndEvent:
                return root
            else:
                continue  # the stream's start, a document's end
            if stack:
                _attach(stack[-1][0], node)
            else:
                root = node
    finally:
        loader.dispose()


def _attach(parent, node) -> None:
    """Put a finished node into its open parent collection."""
    if type(parent) is Seq:
        parent.items.append(node)
    elif parent._key is None:
        parent._key = node
    else:
        parent.pairs.append((parent._key, node))
        parent._key = None


def _check_tag(event, source: str) -> None:
    if event.tag not in (None, "!"):
        raise GraphError(
            f"YAML tags such as {event.tag} are not allowed: a graph file is plain data", _loc(event.start_mark), source
        )


# YAML 1.2 core schema, https://yaml.org/spec/1.2.2/#1032-tag-resolution
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true", "True", "TRUE", "false", "False", "FALSE"}
_INF_NAN = {sign + inf for sign in ("", "-", "+") for inf in (".inf", ".Inf", ".INF")} | {".nan", ".NaN", ".NAN"}
_NUMBER_START = frozenset("-+.0123456789~")  # every number, 1.1 or 1.2, starts with one of these (and ~)
_YAML11 = yaml.resolver.Resolver()
_YAML11_NUMBER = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


class NotANumber(ValueError):
    """Text that looks like a number but is not one cgraph accepts, with the reason."""


def plain_kind(text: str) -> str:
    """What a plain scalar is by YAML 1.2: 'null', 'bool', 'number' or 'string'.

    Raises NotANumber for number-like text cgraph refuses (.inf, .nan, and what
    YAML 1.1 would read as another number than YAML 1.2 does).
    """
    if text and text[0] not in _NUMBER_START:  # most scalars are names: decide them fast
        return "string" if text not in _BOOL and text not in _NULL else ("bool" if text in _BOOL else "null")
    if text in _NULL:
        return "null"
    if text in _BOOL:
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
    if _YAML11.resolve(yaml.ScalarNode, text, (True, False)) in _YAML11_NUMBER:
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


def parse_number(text: str):
    """A number from text as a plain YAML 1.2 scalar would give it; ValueError if it is not one."""
    text = text.strip()
    kind = plain_kind(text)
    if kind != "number":
        raise NotANumber(f"'{shorten(text)}' is not a number" + (" (it is a boolean)" if kind == "bool" else ""))
    return to_number(text)
