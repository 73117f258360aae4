"""YAML text to a small tree of marked nodes, read with YAML 1.2's core schema.

PyYAML alone resolves plain scalars by YAML 1.1, keeps the last of duplicate
keys, and composes recursively (deep nesting overflows the C stack of its
libyaml binding). So we take only its parser's events and compose them here,
iteratively, with every node keeping its line and column. Nothing in a file
can construct an object: tags are refused and scalars stay text until the
loader asks what they mean.
"""

from __future__ import annotations

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

from ..core.errors import GraphError, Loc, shorten
from .syntax import BOOL, NULL

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
        return self.plain and self.text in NULL

    @property
    def is_bool(self) -> bool:
        """Whether YAML 1.2 reads this scalar as a boolean (true, False, ...; not yes or on)."""
        return self.plain and self.text in BOOL


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


def describe(node) -> str:
    if type(node) is Scalar:
        if node.is_null:
            return "null (nothing)"
        return f"'{shorten(node.text)}'"
    kind = KIND.get(type(node))
    return kind if kind is not None else repr(node)  # (a plain value of the fast way in: never shown)
