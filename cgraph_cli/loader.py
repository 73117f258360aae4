"""Graph file text (YAML or JSON) to a validated, compiled graph, every error located.

Two ways in. The fast one reads JSON with `json.loads` (objects as lists of
pairs, so duplicate keys show) and YAML through libyaml's events into plain
lists, then checks and compiles them in one pass: no object per node, no
source position kept. It accepts only what it is sure of. Anything it is not
sure of (a mistake, an alias, the edges form) goes the careful way: the file
is composed into a tree that knows every node's line and column, and checked
rule by rule, so every error names its place exactly.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from operator import itemgetter

from .errors import GraphError, Loc, did_you_mean, shorten
from .graph import Draft, Plan, compile_draft, paused_gc
from .ops import OPS, is_finite
from .yamltree import KIND, Map, NotANumber, Scalar, Seq, compose, looks_like_number, plain_kind, to_number

TOP_KEYS = ("name", "description", "inputs", "nodes", "edges", "output")
INPUT_KEYS = ("value", "label")
NODE_KEYS = ("op", "inputs", "label")
_FORBIDDEN_IN_NAMES = ("=", ",", "->")


def load_bytes(data: bytes, source: str, stem: str | None = None) -> Plan:
    """A compiled graph from the raw bytes of a file; `stem` names it when the file has no `name:`."""
    return load_text(_decode(data, source), source, stem)


def load_text(text: str, source: str = "<string>", stem: str | None = None) -> Plan:
    """A compiled graph from YAML or JSON text, validated: names resolve, counts fit, no cycle."""
    with paused_gc():
        try:
            draft = _fast_draft(text, source, stem or "graph")
            draft.locate = _Locator(text, source)
            return compile_draft(draft)
        except (_NotSure, GraphError):
            pass  # the careful way says exactly what is wrong, and where
        draft = _careful_draft(text, source, stem)
        return compile_draft(draft)  # orders it, or reports a cycle with its path


def _careful_draft(text: str, source: str, stem: str | None) -> Draft:
    root = compose(text, source)
    return _Builder(source, len(text)).build(root, stem)


class _Locator:
    """Where each input and node is declared, found by composing the file with positions on first use."""

    def __init__(self, text: str, source: str):
        self.text, self.source = text, source
        self.locs: Callable[[str], Loc | None] | None = None

    def __call__(self, name: str) -> Loc | None:
        if self.locs is None:
            try:
                self.locs = _Builder(self.source, len(self.text)).build(compose(self.text, self.source), None).locate
            except GraphError:
                self.locs = _nowhere
            self.text = ""
        return self.locs(name) if self.locs is not None else None


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)  # UTF-32 LE starts as UTF-16 LE does


def _nowhere(name: str) -> Loc | None:
    return None


def _decode(data: bytes, source: str) -> str:
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise GraphError(
            f"the file is not {encoding.upper().replace('-SIG', '')} text "
            f"(byte 0x{data[e.start]:02x} cannot be decoded)",
            Loc(line, col),
            source,
        ) from None


class _Builder:
    """Walks the YAML tree into a Graph, raising the first problem with its place."""

    def __init__(self, source: str, text_size: int):
        self.source = source
        # Aliases may repeat a subtree many times; bound the values walked so a
        # "billion laughs" file fails fast instead of expanding.
        self.budget = 4 * text_size + 10_000
        self.decls: dict[str, list] = {}  # name -> [loc, op (None for an input), value, label]
        self.operands: dict[str, list] = {}  # node name -> [(operand, the YAML node it came from)]
        self.from_edges: set[str] = set()  # nodes that take their operands from edges

    def fail(self, message: str, loc: Loc | None) -> GraphError:
        return GraphError(message, loc, self.source)

    # -- walking helpers ---------------------------------------------------

    def mapping(self, node, what: str, allowed: tuple[str, ...] | None = None) -> dict:
        """A mapping's entries as {key text: (key node, value node)}, keys checked."""
        if type(node) is not Map:
            raise self.fail(f"{what} must be a mapping, not {_describe(node)}", node.loc)
        self.spend(len(node.pairs))
        entries: dict = {}
        for key, value in node.pairs:
            name = self.key(key, what)
            if name in entries:
                first = entries[name][0].loc
                raise self.fail(
                    f"duplicate key '{shorten(name)}' in {what} (first at line {first.line}, column {first.col})",
                    key.loc,
                )
            if allowed is not None and name not in allowed:
                raise self.fail(
                    f"unknown key '{shorten(name)}' in {what}{did_you_mean(name, allowed)}"
                    f" (known keys: {', '.join(allowed)})",
                    key.loc,
                )
            entries[name] = (key, value)
        return entries

    def key(self, node, what: str) -> str:
        if type(node) is not Scalar:
            raise self.fail(f"a key in {what} must be a name, not {KIND[type(node)]}", node.loc)
        if node.plain:
            if node.is_null or node.is_bool:
                shown = node.text or "(empty)"
                raise self.fail(
                    f"key {shown} in {what} is read as {'null' if node.is_null else 'a boolean'}"
                    f'; quote it ("{shorten(node.text)}") to use it as a name',
                    node.loc,
                )
            if looks_like_number(node.text):
                raise self.fail(f"key {shorten(node.text)} in {what} is a number; names cannot be numbers", node.loc)
        return node.text

    def spend(self, count: int) -> None:
        self.budget -= count
        if self.budget < 0:
            raise self.fail("anchors and aliases expand this file too far; write the graph out", None)

    def text(self, node, what: str) -> str:
        if type(node) is not Scalar or node.is_null:
            raise self.fail(f"{what} must be text, not {_describe(node)}", node.loc)
        text = node.text
        bad = None if text.isprintable() else next((c for c in text if _steers(c)), None)
        if bad is not None:
            raise self.fail(f"{what} contains the control, bidi or invalid character {_char(bad)}", node.loc)
        return node.text

    def name(self, node: Scalar, what: str) -> str:
        """A name checked against the naming rules."""
        name = node.text
        if name == "":
            raise self.fail(f"{what} must not be empty", node.loc)
        if any(c.isspace() for c in name):
            raise self.fail(f"{what} {shorten(repr(name))} contains whitespace; names cannot", node.loc)
        # Invisible and direction-changing characters would let a printed graph lie about itself.
        bad = None if name.isprintable() else next(c for c in name if not c.isprintable())
        if bad is not None:
            raise self.fail(
                f"{what} {shorten(repr(name))} contains the control, invisible or bidi "
                f"character {_char(bad)}; names cannot",
                node.loc,
            )
        for bad in _FORBIDDEN_IN_NAMES:
            if bad in name:
                raise self.fail(f"{what} '{shorten(name)}' contains '{bad}'; names cannot", node.loc)
        if not node.plain and looks_like_number(name):
            raise self.fail(f"{what} '{shorten(name)}' is a number; names cannot be numbers", node.loc)
        return name

    def number(self, node, what: str):
        """A plain scalar that is a number, else an error that says what it is instead."""
        if type(node) is not Scalar:
            raise self.fail(f"{what} must be a number, not {KIND[type(node)]}", node.loc)
        if not node.plain:
            raise self.fail(f"{what} must be a number, not quoted text '{shorten(node.text)}'", node.loc)
        try:
            kind = plain_kind(node.text)
            if kind == "number":
                return to_number(node.text)
        except NotANumber as e:
            raise self.fail(f"{what}: {e}", node.loc) from None
        text = shorten(node.text)
        shown = {"null": "empty (null)", "bool": f"{text}, a boolean"}.get(kind, f"'{text}'")
        raise self.fail(f"{what} must be a number, not {shown}", node.loc)

    def operand(self, node, what: str):
        """A name (str) or a number literal."""
        if type(node) is not Scalar:
            raise self.fail(f"{what} must be a name or a number, not {KIND[type(node)]}", node.loc)
        if node.plain:
            try:
                kind = plain_kind(node.text)
            except NotANumber as e:
                raise self.fail(f"{what}: {e}", node.loc) from None
            if kind == "number":
                return self.number(node, what)
            if kind != "string":
                raise self.fail(
                    f"{what} must be a name or a number, not "
                    f"{'null' if kind == 'null' else 'the boolean ' + shorten(node.text)}",
                    node.loc,
                )
        return node.text

    # -- the graph ---------------------------------------------------------

    def build(self, root, stem: str | None) -> Draft:
        if root is None:
            raise self.fail("the file is empty; a graph needs inputs and nodes", None)
        top = self.mapping(root, "the graph file", TOP_KEYS)
        entries = {k: v for k, (_, v) in top.items()}

        if "inputs" in entries:
            for key, value in self.mapping(entries["inputs"], "inputs").values():
                self.input(key, value)
        if "nodes" in entries:
            for key, value in self.mapping(entries["nodes"], "nodes").values():
                self.node(key, value)
        self.with_edges(entries.get("edges"))
        self.check_operands()
        if not self.decls:
            raise self.fail("the graph has no inputs and no nodes", root.loc)

        draft = Draft(self.text(entries["name"], "name") if "name" in entries else stem or "graph", self.source)
        if "output" in entries:
            node = entries["output"]
            draft.output = self.text(node, "output")
            if draft.output not in self.decls:
                raise self.fail(
                    f"output '{shorten(draft.output)}' is not an input or node{did_you_mean(draft.output, self.decls)}",
                    node.loc,
                )
        if "description" in entries:
            draft.description = self.text(entries["description"], "description")
        locs = {}
        for name, (loc, op, value, label) in sorted(self.decls.items(), key=lambda item: item[1][0]):
            locs[name] = loc
            if op is None:
                draft.add_input(name, value, label)
            else:
                draft.add_node(name, op, tuple(o for o, _ in self.operands[name]), label)
        draft.locate = locs.get
        return draft

    def add(self, name: str, loc: Loc, op: str | None, value, label: str | None) -> None:
        other = self.decls.get(name)
        if other is not None:
            raise self.fail(
                f"name '{shorten(name)}' is used twice (first at line {other[0].line}); "
                "names are unique across inputs and nodes",
                loc,
            )
        self.decls[name] = [loc, op, value, label]

    def input(self, key: Scalar, value) -> None:
        name = self.name(key, "input name")
        what = f"input '{shorten(name)}'"
        label = None
        if type(value) is Map:
            fields = self.mapping(value, what, INPUT_KEYS)
            if "value" not in fields:
                raise self.fail(f"{what} needs a value: {{value: NUMBER}}", value.loc)
            if "label" in fields:
                label = self.text(fields["label"][1], f"the label of {what}")
            value = fields["value"][1]
        self.add(name, key.loc, None, self.number(value, what), label)

    def node(self, key: Scalar, value) -> None:
        name = self.name(key, "node name")
        what = f"node '{shorten(name)}'"
        label, operands = None, None
        if type(value) is Map:
            fields = self.mapping(value, what, NODE_KEYS)
            if "op" not in fields:
                raise self.fail(f"{what} needs an op: {{op: OP, inputs: [...]}}", value.loc)
            op_node = fields["op"][1]
            if "label" in fields:
                label = self.text(fields["label"][1], f"the label of {what}")
            if "inputs" in fields:
                items = fields["inputs"][1]
                if type(items) is not Seq:
                    raise self.fail(f"the inputs of {what} must be a list, not {_describe(items)}", items.loc)
                self.spend(len(items.items))
                operands = [(self.operand(o, f"an operand of {what}"), o) for o in items.items]
        else:
            op_node = value
        op = self.text(op_node, f"the op of {what}")
        if op not in OPS:
            raise self.fail(
                f"{what}: unknown op '{shorten(op)}'{did_you_mean(op, OPS)} (known ops: {', '.join(OPS)})", op_node.loc
            )
        if operands is None:
            self.from_edges.add(name)
        self.operands[name] = operands or []
        self.add(name, key.loc, op, None, label)

    def with_edges(self, edges) -> None:
        """The edges' operands, filled in to the nodes they point at."""
        if edges is not None:
            if type(edges) is not Seq:
                raise self.fail(
                    f'edges must be a list of "src -> dst" or [src, dst], not {_describe(edges)}', edges.loc
                )
            self.spend(len(edges.items))
            for edge in edges.items:
                self.edge(edge)

    def edge(self, edge) -> None:
        if type(edge) is Scalar and not edge.is_null:
            parts = edge.text.split("->")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise self.fail(f"edge '{shorten(edge.text)}' must be \"src -> dst\"", edge.loc)
            src_text, dst = parts[0].strip(), parts[1].strip()
            src = self.operand(Scalar(src_text, True, edge.mark), f"the source of edge '{shorten(edge.text)}'")
            dst_loc = edge.loc
        elif type(edge) is Seq and len(edge.items) == 2:
            src = self.operand(edge.items[0], "the source of an edge")
            dst_node = edge.items[1]
            if type(dst_node) is not Scalar:
                raise self.fail(f"the target of an edge must be a name, not {KIND[type(dst_node)]}", dst_node.loc)
            dst, dst_loc = dst_node.text, dst_node.loc
        else:
            raise self.fail(f'an edge must be "src -> dst" or [src, dst], not {_describe(edge)}', edge.loc)
        target = self.decls.get(dst)
        if target is None:
            raise self.fail(f"edge to unknown node '{shorten(dst)}'{did_you_mean(dst, self.decls)}", dst_loc)
        if target[1] is None:
            raise self.fail(f"edge to '{shorten(dst)}', which is an input; only nodes take operands", dst_loc)
        if dst not in self.from_edges:
            raise self.fail(
                f"edge to node '{shorten(dst)}', which lists its operands under inputs:; "
                "a node takes operands from inputs: or from edges, not both",
                dst_loc,
            )
        self.operands[dst].append((src, edge))

    def check_operands(self) -> None:
        for name, (loc, op, _, _) in self.decls.items():
            if op is None:
                continue
            for operand, source in self.operands[name]:
                if isinstance(operand, str) and operand not in self.decls:
                    hint = did_you_mean(operand, self.decls)
                    if not hint and looks_like_number(operand):
                        hint = f"; it is quoted, so it is a name: write {shorten(operand)} unquoted for a constant"
                    raise self.fail(f"node '{shorten(name)}': unknown operand '{shorten(operand)}'{hint}", source.loc)
            problem = OPS[op].arity_problem(len(self.operands[name]))
            if problem:
                raise self.fail(f"node '{shorten(name)}': {problem}", loc)


# Bidi embeddings, overrides, isolates and marks: they reorder what a terminal shows.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _steers(c: str) -> bool:
    """Whether a character may not stand in text: controls (but newline and tab) steer a terminal,
    bidi controls reorder what it shows, lone surrogates cannot be written out as UTF-8."""
    import unicodedata

    return c in _BIDI or (unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t")


def _char(c: str) -> str:
    import unicodedata

    return f"U+{ord(c):04X} ({unicodedata.name(c, 'a control character')})"


def _describe(node) -> str:
    if type(node) is Scalar:
        if node.is_null:
            return "null (nothing)"
        return f"'{shorten(node.text)}'"
    return KIND[type(node)]


# -- the fast way in: plain lists, checked in one pass ------------------------------------


class _NotSure(Exception):
    """The fast path cannot vouch for this file; the careful path will say what is wrong, or accept it."""


_SIMPLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")  # most names: valid, and not a number, at a glance


def _fast_draft(text: str, source: str, stem: str) -> Draft:
    """A Draft from text the fast path is sure of, or _NotSure. Objects and mappings are lists of
    (key, value) pairs; scalars are str for text and int/float for numbers."""
    stripped = text.lstrip()
    doc = None
    if stripped.startswith("{"):
        import json

        try:
            doc = json.loads(text, object_pairs_hook=_mapping)
        except (ValueError, RecursionError):
            doc = None  # perhaps a YAML flow mapping, perhaps a mistake
    if doc is None:
        doc = _yaml_pairs(text)
    top = _pairs(doc)
    fields = dict(top)
    if len(fields) != len(top) or not fields.keys() <= set(TOP_KEYS) or "edges" in fields:
        raise _NotSure
    draft = Draft(_text(fields["name"]) if "name" in fields else stem, source)
    if "description" in fields:
        draft.description = _text(fields["description"])
    for key, section in top:  # inputs and nodes in the order the file has them: that is the file order
        if key == "inputs":
            _fast_inputs(draft, section)
        elif key == "nodes":
            _fast_nodes(draft, section)
    if not draft.names:
        raise _NotSure
    if "output" in fields:
        draft.output = _text(fields["output"])
        if draft.output not in set(draft.names):
            raise _NotSure
    return draft


def _fast_inputs(draft: Draft, section) -> None:
    names, ops, operands, values, labels = draft.names, draft.ops, draft.operands, draft.values, draft.labels
    for name, value in _pairs(section):
        _name(name)
        if type(value) is list:  # {value: .., label: ..}
            spec = dict(_pairs(value))
            if len(spec) != len(value) or not spec.keys() <= {"value", "label"} or "value" not in spec:
                raise _NotSure
            if "label" in spec:
                labels[len(names)] = _text(spec["label"])
            value = spec["value"]
        names.append(name)
        ops.append(None)
        operands.append(())
        values.append(_number(value))


def _fast_nodes(draft: Draft, section) -> None:
    names, ops, operands, values, labels = draft.names, draft.ops, draft.operands, draft.values, draft.labels
    simple = _SIMPLE_NAME.match
    for name, spec in _pairs(section):
        if not simple(name):
            _name(name)
        if type(spec) is _Node:  # most nodes: {op: .., inputs: [..]}
            op, args = spec
        else:
            node = dict(_pairs(spec))
            if len(node) != len(spec) or not node.keys() <= {"op", "inputs", "label"}:
                raise _NotSure
            op, args = node.get("op"), node.get("inputs")
            if "label" in node:
                labels[len(names)] = _text(node["label"])
        if type(op) is not str or op not in OPS or type(args) is not list:
            raise _NotSure
        kinds = set(map(type, args))
        if kinds != _TEXT:  # constants among the operands: each a finite number
            if not kinds <= _OPERAND_KINDS:
                raise _NotSure
            args = [a if type(a) is str else _number(a) for a in args]
        names.append(name)
        ops.append(op)
        operands.append(tuple(args))
        values.append(None)


class _Node(tuple):
    """A mapping that is exactly {op: .., inputs: [..]}, kept as (op, operands): most of a big file
    is these, and a pair of pairs in a list would take three times the memory."""

    __slots__ = ()


def _mapping(pairs: list):
    """A mapping as it is read: a _Node when it looks like one, else its list of (key, value) pairs."""
    if len(pairs) == 2:
        (op_key, op), (inputs_key, args) = pairs
        if op_key == "op" and inputs_key == "inputs" and type(op) is str and type(args) is list:
            return _Node((_OP_NAME.get(op, op), args))
    return pairs


_OP_NAME = {name: name for name in OPS}  # one string per op name, however many nodes use it


_TEXT = {str}
_OPERAND_KINDS = {str, int, float}


def _pairs(value) -> list:
    """A mapping's (key, value) pairs with text keys, else _NotSure (an empty [] may be a list)."""
    if type(value) is not list or not value or type(value[0]) is not tuple:
        if value == ():
            return []
        raise _NotSure
    if set(map(type, value)) != _PAIR or set(map(type, map(_first, value))) != _TEXT:
        raise _NotSure
    return value


_PAIR = {tuple}


_first = itemgetter(0)


def _name(name) -> None:
    if _SIMPLE_NAME.match(name):
        return
    if (
        not name
        or not name.isprintable()
        or any(c.isspace() for c in name)
        or any(bad in name for bad in _FORBIDDEN_IN_NAMES)
        or looks_like_number(name)
    ):
        raise _NotSure


def _text(value) -> str:
    if type(value) is not str or not (value.isprintable() or not any(_steers(c) for c in value)):
        raise _NotSure
    return value


def _number(value):
    if type(value) is not int and type(value) is not float or not is_finite(value):
        raise _NotSure
    try:
        return to_number(repr(value)) if type(value) is int and not -(2**53) <= value <= 2**53 else value
    except NotANumber:
        raise _NotSure from None


def _yaml_pairs(text: str):
    """YAML text as plain lists, through libyaml's events: mappings as lists of (key, value) pairs,
    plain scalars resolved by YAML 1.2 (a name stays text, a number becomes one). Anything this
    need not understand (an anchor, an alias, a tag, a boolean, deep nesting) is _NotSure."""
    import yaml
    from yaml.events import (
        AliasEvent,
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
        StreamEndEvent,
    )

    from .yamltree import MAX_DEPTH, _Loader

    loader = _Loader(text)
    stack: list = []  # [items, pending key or _NO_KEY, is a mapping]
    root = _NO_KEY
    try:
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is ScalarEvent:
                if event.anchor is not None or event.tag not in (None, "!"):
                    raise _NotSure
                value = _plain(event.value) if event.implicit[0] else event.value
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.anchor is not None or event.tag not in (None, "!") or len(stack) >= MAX_DEPTH:
                    raise _NotSure
                stack.append([[], _NO_KEY, kind is MappingStartEvent])
                continue
            elif kind is MappingEndEvent:
                value = _mapping(stack.pop()[0])
            elif kind is SequenceEndEvent:
                value = stack.pop()[0]
            elif kind is AliasEvent:
                raise _NotSure
            elif kind is StreamEndEvent:
                if root is _NO_KEY:
                    raise _NotSure
                return root
            else:
                continue  # the stream's and documents' starts and ends
            if not stack:
                if root is not _NO_KEY:
                    raise _NotSure  # a second document
                root = value
                continue
            frame = stack[-1]
            if not frame[2]:
                frame[0].append(value)
            elif frame[1] is _NO_KEY:
                frame[1] = value
            else:
                frame[0].append((frame[1], value))
                frame[1] = _NO_KEY
    except yaml.YAMLError:
        raise _NotSure from None
    finally:
        loader.dispose()


_NO_KEY = object()


def _plain(text: str):
    """A plain scalar by YAML 1.2: text for a name, a number for a number; _NotSure for the rest."""
    if text and text[0] not in "-+.0123456789~":
        if text in ("true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"):
            raise _NotSure
        return text
    try:
        kind = plain_kind(text)
        if kind == "number":
            return to_number(text)
    except NotANumber:
        raise _NotSure from None
    if kind == "string":
        return text
    raise _NotSure
