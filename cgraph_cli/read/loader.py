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

from ..core.errors import CgraphError, GraphError, Loc, RunError
from ..core.graph import Draft, Plan, compile_draft, paused_gc
from ..core.layers import ATTRIBUTE_NAMES
from ..core.op import EXACT_INT, is_finite
from ..core.ops import OPS
from .syntax import (
    INPUT_KEYS,
    TOP_KEYS,
    NotANumber,
    name_problem,
    plain_kind,
    text_problem,
    to_number,
)

MAX_FILE_BYTES = 1 << 30  # no graph file is larger; /dev/zero is refused, not read until memory runs out


def read_all(f, name: str) -> bytes:
    """All of a file, stream or device, refusing more than MAX_FILE_BYTES."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_FILE_BYTES:
            chunk = f.read(1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise RunError(f"cannot read {name}: {e.strerror or e}") from None
    raise CgraphError(f"{name} is larger than {MAX_FILE_BYTES >> 30} GiB; no graph file is that large")


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
        from .located import careful_draft  # (imports the YAML parser: a valid JSON file never gets here)

        draft = careful_draft(text, source, stem)
        return compile_draft(draft)  # orders it, or reports a cycle with its path


class _Locator:
    """Where each input and node is declared, found by composing the file with positions on first use."""

    def __init__(self, text: str, source: str):
        self.text, self.source = text, source
        self.locs: Callable[[str], Loc | None] | None = None

    def __call__(self, name: str) -> Loc | None:
        if self.locs is None:
            from .located import Builder
            from .yamltree import compose

            try:
                self.locs = Builder(self.source, self.text).build(compose(self.text, self.source), None).locate
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
    if len(fields) != len(top) or not fields.keys() <= set(TOP_KEYS) or fields.keys() & _CAREFUL_SECTIONS:
        raise _NotSure
    draft = Draft(_text(fields["name"]) if "name" in fields else stem, source)
    if "description" in fields:
        draft.description = _text(fields["description"])
    if "functions" in fields:
        draft.functions = _fast_functions(fields["functions"])
    for key, section in top:  # inputs and nodes in the order the file has them: that is the file order
        if key == "inputs" or key == "constants":
            _fast_inputs(draft, section, key == "constants")
        elif key == "nodes":
            _fast_nodes(draft, section)
    if not draft.names:
        raise _NotSure
    if "correlations" in fields:
        _fast_correlations(draft, fields["correlations"])
    if draft.functions:
        from .formula import function_problem

        if function_problem(draft.functions, set(draft.names)) is not None:
            raise _NotSure
    if "output" in fields:
        draft.output = _text(fields["output"])
        if draft.output not in set(draft.names):
            raise _NotSure
    return draft


def _fast_inputs(draft: Draft, section, constant: bool) -> None:
    names, ops, operands, values = draft.names, draft.ops, draft.operands, draft.values
    for name, value in _pairs(section):
        _name(name)
        if constant:
            draft.fixed.add(len(names))
        # {value: .., label: ..}, {zeros: [..]}, ..., or an array [..]; most inputs: a number
        value = _fast_value(draft, name, value, constant) if type(value) is list else _number(value)
        names.append(name)
        ops.append(None)
        operands.append(())
        values.append(value)


def _fast_value(draft: Draft, name: str, value: list, constant: bool):
    """An input's value written as a mapping or a list, read by the rules the careful way reads it
    by (values.py), on plain lists; what those rules would refuse is _NotSure, for it to say where."""
    from .values import input_value, nested

    reader = _Reader(draft.source)
    what = f"{'constant' if constant else 'input'} '{name}'"
    if value and type(value[0]) is tuple:  # a mapping
        spec = _pairs(value)
        fields = {key: (key, item) for key, item in spec}
        if len(fields) != len(spec) or not fields.keys() <= set(INPUT_KEYS):
            raise _NotSure
        value, label = input_value(reader, fields, what)
        if label is not None:
            draft.labels[len(draft.names)] = label
        if "dist" in fields:
            from .values import distribution

            draft.dists[len(draft.names)] = distribution(reader, fields["dist"][1], what)
    else:
        value = nested(reader, value, what)
    draft.arrays = draft.arrays or hasattr(value, "shape")
    return value


class _Reader:
    """What values.py asks of the careful way's builder, for the fast way's plain lists and numbers:
    every error it would locate is _NotSure here (the careful way then says where)."""

    here = None

    def __init__(self, source: str | None):
        self.source = source

    def fail(self, message: str, loc) -> _NotSure:
        return _NotSure(message)

    def number(self, value, what: str):
        return _number(value)

    def text(self, value, what: str) -> str:
        return _text(value)

    def spend(self, count: int) -> None:
        pass  # (the careful way's guard against aliases that expand: the fast way takes none)


def _fast_nodes(draft: Draft, section) -> None:
    names, ops, operands, values, labels = draft.names, draft.ops, draft.operands, draft.values, draft.labels
    simple = _SIMPLE_NAME.match
    parts: dict[str, tuple] = {}  # the nodes formulas have made so far (formula.fresh)
    for name, spec in _pairs(section):
        if not simple(name):
            _name(name)
        if type(spec) is str:  # a formula (an op's name alone is the edges form: the careful way)
            _fast_formula(draft, name, spec, parts)
            continue
        if type(spec) is _Node:  # most nodes: {op: .., inputs: [..]}
            op, args = spec
        else:
            node = dict(_pairs(spec))
            if len(node) != len(spec) or not node.keys() <= _NODE_KEYS:
                raise _NotSure
            op, args = node.get("op"), node.get("inputs")
            if "label" in node:
                labels[len(names)] = _text(node["label"])
            if node.keys() - _PLAIN_NODE_KEYS:
                _fast_attributes(draft, name, op, node)
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


def _fast_attributes(draft: Draft, name: str, op, node: dict) -> None:
    """A node's attributes (axis: 0), read by the rules the careful way reads them by (values.py)."""
    from .values import attribute

    kinds = OPS[op].attribute_kinds if type(op) is str and op in OPS else {}
    if not node.keys() - _PLAIN_NODE_KEYS <= kinds.keys():
        raise _NotSure  # an attribute the op has not: the careful way says which it has
    reader = _Reader(draft.source)
    what = f"node '{name}'"
    draft.attrs[len(draft.names)] = {
        key: attribute(reader, kinds[key], value, f"{what}: {key}")
        for key, value in node.items()
        if key not in _PLAIN_NODE_KEYS
    }


def _fast_correlations(draft: Draft, section) -> None:
    """`correlations:` as located.py reads it, on plain lists; anything amiss is _NotSure."""
    from ..core.correlation import not_semidefinite

    drawn = {draft.names[k] for k in draft.dists}
    if type(section) is not list:
        raise _NotSure
    pairs: list[tuple[str, str, float]] = []
    for item in section:
        if type(item) is not list or len(item) != 3:
            raise _NotSure
        a, b, rho = _text(item[0]), _text(item[1]), float(_number(item[2]))
        if a not in drawn or b not in drawn or a == b or not -1 <= rho <= 1:
            raise _NotSure
        if any({a, b} == {x, y} for x, y, _ in pairs):
            raise _NotSure
        pairs.append((a, b, rho))
    if not_semidefinite(pairs) is not None:
        raise _NotSure
    draft.correlations = pairs


def _fast_functions(section) -> dict:
    """The `functions:` section read (formula.read_functions); anything amiss is _NotSure."""
    from .formula import FormulaError, read_functions

    try:
        return read_functions((_text(signature), _text(body)) for signature, body in _pairs(section))
    except FormulaError:
        raise _NotSure from None


def _fast_formula(draft: Draft, name: str, text: str, parts: dict) -> None:
    """A formula's nodes, its parts first, as the careful way makes them (located.py): the same
    names, shared parts, order and record; anything amiss is _NotSure, for the careful way to say."""
    from .formula import FormulaError, fresh, lower, parse

    if text in OPS:
        raise _NotSure
    try:
        root = parse(_text(text), draft.functions)
        if root.op == "num" or root.op == "name":
            raise _NotSure
        steps = lower(root, name)
    except FormulaError:
        raise _NotSure from None
    new = fresh(steps, name, parts)
    for step in new:
        if step.call is not None:
            draft.calls[step.name] = step.call
        draft.add_node(step.name, step.op, step.operands, step.label)
    draft.formulas[name] = (text, [step.name for step in new[:-1]])


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


_CAREFUL_SECTIONS = {"edges", "display"}  # read the careful way alone
_PLAIN_NODE_KEYS = {"op", "inputs", "label"}
_NODE_KEYS = _PLAIN_NODE_KEYS | set(ATTRIBUTE_NAMES)
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
    if not _SIMPLE_NAME.match(name) and name_problem(name) is not None:
        raise _NotSure  # the careful way says what is wrong with it, where


def _text(value) -> str:
    if type(value) is not str or text_problem(value) is not None:
        raise _NotSure
    return value


def _number(value):
    if type(value) is not int and type(value) is not float or not is_finite(value):
        raise _NotSure
    try:
        return to_number(repr(value)) if type(value) is int and not -EXACT_INT <= value <= EXACT_INT else value
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
                value = _plain_scalar(event.value) if event.implicit[0] else event.value
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


def _plain_scalar(text: str):
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
