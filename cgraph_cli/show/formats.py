"""Text for programs: JSON (strict: no NaN or Infinity), CSV, and YAML for the graphs cgraph writes."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..core.graph import Draft
from ..core.op import Undefined, Unused


def _json_default(value):
    if type(value) in (Undefined, Unused):
        return None  # an undefined gradient, or the value of a node not used, is null in JSON
    if hasattr(value, "tolist"):
        return value.tolist()  # an array: nested lists (its values are finite: the engine checks)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_json(data) -> str:
    """JSON text; refuses NaN and infinities (the engine never lets them through)."""
    import json

    return json.dumps(data, ensure_ascii=False, allow_nan=False, default=_json_default)


_JSON_ESCAPES = {
    **{code: f"\\u{code:04x}" for code in range(32)},
    8: "\\b",
    9: "\\t",
    10: "\\n",
    12: "\\f",
    13: "\\r",
    34: '\\"',
    92: "\\\\",
}


def json_strings(texts: list[str]) -> list[str]:
    """Each text as a JSON string, as json.dumps(ensure_ascii=False) writes it; quick when, as
    almost always, no text needs an escape."""
    joined = "".join(texts)
    if joined.isprintable() and '"' not in joined and "\\" not in joined:
        return [f'"{text}"' for text in texts]
    return [f'"{text.translate(_JSON_ESCAPES)}"' for text in texts]


def csv_text(rows: Iterable[list]) -> str:
    """Rows as CSV text (RFC 4180 quoting; numbers at full precision; no number: an empty cell)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(
            ["" if x is None or type(x) in (Undefined, Unused) else x if type(x) is str else repr(x) for x in row]
        )
    return out.getvalue()


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")

_YAML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def yaml_escape(text: str) -> str:
    """Text as it may stand inside a YAML double-quoted scalar or a comment: everything that is
    not printable (controls, line and paragraph separators, bidi and other format characters,
    NEL, BOM) as an escape, so the text can never start a line of its own."""
    out = []
    for c in text:
        if c in _YAML_ESCAPES:
            out.append(_YAML_ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        else:
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def yaml_text(text: str) -> str:
    """Any text as a YAML scalar that cgraph reads back as exactly that text."""
    return f'"{yaml_escape(text)}"'


def yaml_name(name: str) -> str:
    """A name as YAML: plain where it reads back as that name, else double-quoted."""
    from ..read.syntax import plain_kind

    if _PLAIN_NAME.fullmatch(name) and plain_kind(name) == "string":
        return name
    return yaml_text(name)


def _yaml_operand(operand) -> str:
    return yaml_name(operand) if isinstance(operand, str) else repr(operand)


def _yaml_value(value) -> str:
    """A number, or an array as nested lists, as Python writes them: they read back exactly."""
    return repr(value.tolist()) if hasattr(value, "tolist") else repr(value)


def _yaml_attribute(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else repr(list(value)) if isinstance(value, tuple) else repr(value)


def graph_yaml(draft: Draft, header: list[str]) -> str:
    """A graph as a cgraph YAML file (numbers as Python writes them, so they read back exactly)."""
    lines = [f"# {yaml_escape(h)}" for h in header]
    lines.append(f"name: {yaml_name(draft.name)}")
    if draft.description:
        lines.append(f"description: {yaml_text(draft.description)}")
    if draft.functions:
        lines.append("functions:")
        lines.extend(f"  {yaml_text(f.signature)}: {yaml_text(f.text)}" for f in draft.functions.values())
    parts = {part for _, made in draft.formulas.values() for part in made}  # a formula makes them again
    leaves = [k for k, op in enumerate(draft.ops) if op is None]
    for section, constant in (("inputs", False), ("constants", True)):
        entries = [k for k in leaves if (k in draft.fixed) == constant]
        if entries:
            lines.append(f"{section}:")
        for k in entries:
            value = _yaml_value(draft.values[k])
            extra = f", label: {yaml_text(draft.labels[k])}" if k in draft.labels else ""
            extra += f", dist: {yaml_text(draft.dists[k].text)}" if k in draft.dists else ""  # type: ignore[attr-defined]
            if extra:
                value = f"{{value: {value}{extra}}}"
            lines.append(f"  {yaml_name(draft.names[k])}: {value}")
    nodes = [k for k, op in enumerate(draft.ops) if op is not None and draft.names[k] not in parts]
    if nodes:
        lines.append("nodes:")
    for k in nodes:
        name = draft.names[k]
        if name in draft.formulas:
            lines.append(f"  {yaml_name(name)}: {yaml_text(draft.formulas[name][0])}")
            continue
        label = f", label: {yaml_text(draft.labels[k])}" if k in draft.labels else ""
        label += "".join(f", {key}: {_yaml_attribute(v)}" for key, v in draft.attrs.get(k, {}).items())
        operands = ", ".join(map(_yaml_operand, draft.operands[k]))
        lines.append(f"  {yaml_name(name)}: {{op: {draft.ops[k]}, inputs: [{operands}]{label}}}")
    if draft.correlations:
        lines.append("correlations:")
        lines.extend(f"  - [{yaml_name(a)}, {yaml_name(b)}, {rho!r}]" for a, b, rho in draft.correlations)
    if draft.output is not None:
        lines.append(f"output: {yaml_name(draft.output)}")
    return "\n".join(lines) + "\n"
