"""The careful way into a graph: the file composed as a tree that knows every node's line and
column, checked rule by rule, so that every error names its place exactly (loader.py comes here
whenever its fast path is not sure)."""

from __future__ import annotations

from ..core.errors import GraphError, Loc, did_you_mean, shorten
from ..core.graph import NAMED_NUMBERS, Draft
from ..core.layers import ATTRIBUTE_NAMES
from ..core.ops import OPS
from .syntax import (
    DISPLAY_KEYS,
    INPUT_KEYS,
    NODE_KEYS,
    TOP_KEYS,
    NotANumber,
    display_format,
    looks_like_number,
    name_problem,
    percent,
    plain_kind,
    text_problem,
    to_number,
)
from .yamltree import KIND, Map, Scalar, Seq, compose, describe

LIST_OPS = "`cgraph ops` lists them; a formula needs an operator or a call: x + y, exp(x)"


def careful_draft(text: str, source: str, stem: str | None) -> Draft:
    """A Draft of the file, or the GraphError of its first problem, located."""
    return Builder(source, text).build(compose(text, source), stem)


class _At:
    """An operand of a formula: the formula's node, and its names (name, offset) in the order written
    (for the messages about them)."""

    __slots__ = ("node", "names")

    def __init__(self, node: str, names: list):
        self.node, self.names = node, names


class Builder:
    """Walks the YAML tree into a Graph, raising the first problem with its place."""

    def __init__(self, source: str, text: str):
        self.source = source
        self.text_of_file = text  # to find a formula's tokens in the file
        # Aliases may repeat a subtree many times; bound the values walked so a
        # "billion laughs" file fails fast instead of expanding.
        self.budget = 4 * len(text) + 10_000
        self.decls: dict[str, list] = {}  # name -> [loc, op (None for an input), value, label]
        self.operands: dict[str, list] = {}  # node name -> [(operand, the YAML node it came from)]
        self.from_edges: set[str] = set()  # nodes that take their operands from edges
        self.formulas: dict[str, tuple[str, list[str]]] = {}  # node -> (formula, the parts it made)
        self.parts: dict[str, tuple[str, str | None]] = {}  # a part's node -> (its formula's node, its text)
        self.formula_scalars: dict[str, Scalar] = {}  # a formula's node -> the scalar it is written in
        self.order: dict[str, tuple] = {}  # a formula's node and parts -> where they go in file order
        self.attrs: dict[str, dict] = {}  # a node's attributes (axis: 0)
        self.arrays = False  # some input's value is an array
        self.here: Loc | None = None  # the mapping being read, for an error about it as a whole (values.py)
        self.functions: dict = {}  # the file's functions, by name (formula.Function)
        self.function_scalars: dict[str, tuple] = {}  # a function's signature and name -> (key, body)
        self.calls: dict[str, str] = {}  # a node a call made -> the call's node
        self.formats: dict[str, tuple] = {}  # an entry's display format (syntax.display_format)
        self.units: dict[str, str] = {}
        self.display_labels: dict[str, str] = {}  # a label given under display: (a formula's node)
        self.dists: dict[str, object] = {}  # an input's distribution, for Monte Carlo

    def fail(self, message: str, loc: Loc | None) -> GraphError:
        return GraphError(message, loc, self.source)

    # -- walking helpers ---------------------------------------------------

    def mapping(self, node, what: str, allowed: tuple[str, ...] | None = None) -> dict:
        """A mapping's entries as {key text: (key node, value node)}, keys checked."""
        if type(node) is not Map:
            raise self.fail(f"{what} must be a mapping, not {describe(node)}", node.loc)
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
            raise self.fail(f"{what} must be text, not {describe(node)}", node.loc)
        problem = text_problem(node.text)
        if problem is not None:
            raise self.fail(f"{what} {problem}", node.loc)
        return node.text

    def name(self, node: Scalar, what: str) -> str:
        """A name checked against the naming rules (syntax.name_problem)."""
        problem = name_problem(node.text, quoted=not node.plain)
        if problem is not None:
            raise self.fail(f"{what} {problem}", node.loc)
        return node.text

    def number(self, node, what: str):
        """A plain scalar that is a number, else an error that says what it is instead."""
        if type(node) is not Scalar:
            raise self.fail(f"{what} must be a number, not {KIND[type(node)]}", node.loc)
        if not node.plain:
            raise self.fail(f"{what} must be a number, not quoted text '{shorten(node.text)}'", node.loc)
        try:
            share = percent(node.text)
            if share is not None:
                return share
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

        if "functions" in entries:
            self.functions_section(entries["functions"])
        if "inputs" in entries:
            for key, value in self.mapping(entries["inputs"], "inputs").values():
                self.input(key, value)
        if "constants" in entries:
            for key, value in self.mapping(entries["constants"], "constants").values():
                self.input(key, value, constant=True)
        if "nodes" in entries:
            for key, value in self.mapping(entries["nodes"], "nodes").values():
                self.node(key, value)
        self.with_edges(entries.get("edges"))
        if self.functions:
            from .formula import function_problem

            problem = function_problem(self.functions, self.decls)
            if problem is not None:
                raise self.function_error(problem)
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
        if "display" in entries:
            self.display(entries["display"])
        if "correlations" in entries:
            draft.correlations = self.correlations(entries["correlations"])
        locs = {}
        # File order: where each is declared; a formula's parts just before its node, in the order
        # formula.lower makes them (as the fast way in has them too).
        for name, (loc, op, value, label, constant) in sorted(
            self.decls.items(), key=lambda item: self.order.get(item[0]) or (*item[1][0], 0)
        ):
            locs[name] = loc
            if op is None:
                draft.add_input(name, value, label, constant)
            else:
                draft.add_node(name, op, tuple(o for o, _ in self.operands[name]), label, self.attrs.get(name))
        draft.locate = locs.get
        draft.arrays = self.arrays
        index = {name: k for k, name in enumerate(draft.names)}
        draft.formats = {index[name]: f for name, f in self.formats.items()}
        draft.units = {index[name]: u for name, u in self.units.items()}
        draft.dists = {index[name]: d for name, d in self.dists.items()}
        for name, label in self.display_labels.items():
            draft.labels[index[name]] = label
        draft.formulas, draft.functions, draft.calls = self.formulas, self.functions, self.calls
        return draft

    def correlations(self, section) -> list[tuple[str, str, float]]:
        """`correlations:`, a list of [A, B, RHO]: rank correlations between inputs with distributions,
        each in [-1, 1], each pair once; together they must be a positive semi-definite matrix."""
        if type(section) is not Seq:
            raise self.fail(f"correlations must be a list of [A, B, RHO], not {describe(section)}", section.loc)
        out: list[tuple[str, str, float]] = []
        seen: dict[frozenset, Loc] = {}
        for item in section.items:
            if type(item) is not Seq or len(item.items) != 3:
                raise self.fail(f"a correlation is [A, B, RHO], not {describe(item)}", item.loc)
            a_node, b_node, rho_node = item.items
            names = []
            for node in (a_node, b_node):
                name = self.text(node, "a correlated input")
                if name not in self.decls:
                    raise self.fail(
                        f"correlations: no input '{shorten(name)}'{did_you_mean(name, self.decls)}", node.loc
                    )
                if name not in self.dists:
                    raise self.fail(
                        f"correlations: '{shorten(name)}' has no distribution (give it {{value: ..., dist: ...}})",
                        node.loc,
                    )
                names.append(name)
            rho = float(self.number(rho_node, "a correlation"))
            if not -1 <= rho <= 1:
                raise self.fail(f"the correlation {rho!r} is outside [-1, 1]", rho_node.loc)
            if names[0] == names[1]:
                raise self.fail(f"'{shorten(names[0])}' is correlated with itself", item.loc)
            pair = frozenset(names)
            if pair in seen:
                raise self.fail(
                    f"{names[0]} and {names[1]} are correlated twice (first at line {seen[pair].line})", item.loc
                )
            seen[pair] = item.loc
            out.append((names[0], names[1], rho))
        from ..core.correlation import not_semidefinite

        problem = not_semidefinite(out)
        if problem is not None:
            raise self.fail(f"correlations: {problem}", section.loc)
        return out

    def display(self, section) -> None:
        """The `display:` section: NAME: FORMAT, or NAME: {format: FORMAT, unit: TEXT, label: TEXT}."""
        for name, (key, value) in self.mapping(section, "display").items():
            if name not in self.decls:
                raise self.fail(f"display: no input or node '{shorten(name)}'{did_you_mean(name, self.decls)}", key.loc)
            what = f"the display of '{shorten(name)}'"
            fields = self.mapping(value, what, DISPLAY_KEYS) if type(value) is Map else {"format": (key, value)}
            if "format" in fields:
                node = fields["format"][1]
                try:
                    self.formats[name] = display_format(self.text(node, f"the format of {what}"))
                except NotANumber as e:
                    raise self.fail(f"{what}: {e}", node.loc) from None
            if "unit" in fields:
                self.units[name] = self.text(fields["unit"][1], f"the unit of {what}")
            if "label" in fields:
                if self.decls[name][3] is not None:
                    raise self.fail(f"{what}: '{shorten(name)}' has a label already", fields["label"][0].loc)
                self.display_labels[name] = self.text(fields["label"][1], f"the label of {what}")

    def functions_section(self, section) -> None:
        """The `functions:` section: each `NAME(PARAMETER, ...): BODY` (formula.Function)."""
        from .formula import FunctionError, read_functions

        entries = self.mapping(section, "functions")
        for signature, (key, value) in entries.items():
            self.function_scalars[signature] = (key, value)
            self.function_scalars[signature.split("(", 1)[0].strip()] = (key, value)
        try:
            self.functions = read_functions(
                (signature, self.text(value, f"the body of function {shorten(signature)}"))
                for signature, (_, value) in entries.items()
            )
        except FunctionError as e:
            raise self.function_error(e) from None

    def function_error(self, e) -> GraphError:
        """A FunctionError located: at the signature, or at its token in the body."""
        key, value = self.function_scalars[e.function]
        return self.fail(str(e), key.loc if e.in_signature else self.token_loc(value, e.offset))

    def add(self, name: str, loc: Loc, op: str | None, value, label: str | None, constant: bool = False) -> None:
        other = self.decls.get(name)
        if other is not None:
            part = self.parts.get(name)
            raise self.fail(
                f"name '{shorten(name)}' is used twice (first at line {other[0].line}); "
                "names are unique across inputs and nodes"
                + (f", and a part of the formula of node '{shorten(part[0])}' is named so" if part else ""),
                loc,
            )
        self.decls[name] = [loc, op, value, label, constant]

    def input(self, key: Scalar, value, constant: bool = False) -> None:
        kind = "constant" if constant else "input"
        name = self.name(key, f"{kind} name")
        what = f"{kind} '{shorten(name)}'"
        from .values import input_value, value_of

        if type(value) is Map:
            fields = self.mapping(value, what, INPUT_KEYS)
            self.here = value.loc
            number, label = input_value(self, fields, what)
            written = fields["value"][1] if "value" in fields else None
        else:
            number, label = value_of(self, value, what), None
            written = value
        if type(written) is Scalar and written.plain and written.text.rstrip().endswith("%"):
            self.formats[name] = ("percent", None)  # written as a percent: shown as one
        if type(value) is Map and "dist" in fields:
            from .values import distribution

            self.dists[name] = distribution(self, fields["dist"][1], what)
        self.arrays = self.arrays or hasattr(number, "shape")
        self.add(name, key.loc, None, number, label, constant)

    def node(self, key: Scalar, value) -> None:
        name = self.name(key, "node name")
        what = f"node '{shorten(name)}'"
        label, operands = None, None
        if type(value) is Map:
            if any(type(k) is Scalar and k.text == "dist" for k, _ in value.pairs):
                key = next(k for k, _ in value.pairs if type(k) is Scalar and k.text == "dist")
                raise self.fail(
                    f"{what}: a distribution goes on an input or constant (its value is drawn), not on a node",
                    key.loc,
                )
            fields = self.mapping(value, what, NODE_KEYS + ATTRIBUTE_NAMES)
            if "op" not in fields:
                raise self.fail(f"{what} needs an op: {{op: OP, inputs: [...]}}", value.loc)
            op_node = fields["op"][1]
            if "label" in fields:
                label = self.text(fields["label"][1], f"the label of {what}")
            attrs = {k: v for k, v in fields.items() if k in ATTRIBUTE_NAMES}
            if attrs:
                self.attrs[name] = self.attributes(fields["op"][1], attrs, what)
            if "inputs" in fields:
                items = fields["inputs"][1]
                if type(items) is not Seq:
                    raise self.fail(f"the inputs of {what} must be a list, not {describe(items)}", items.loc)
                self.spend(len(items.items))
                operands = [(self.operand(o, f"an operand of {what}"), o) for o in items.items]
        else:
            op_node = value
            if type(value) is Scalar and value.text not in OPS and not value.is_null:
                return self.formula(name, key, value)
        op = self.text(op_node, f"the op of {what}")
        if op not in OPS:
            raise self.fail(
                f"{what}: unknown op '{shorten(op)}'{did_you_mean(op, OPS)} (`cgraph ops` lists them)", op_node.loc
            )
        if operands is None:
            self.from_edges.add(name)
        self.operands[name] = operands or []
        self.add(name, key.loc, op, None, label)

    def attributes(self, op_node, attrs: dict, what: str) -> dict:
        """A node's attributes, each checked against its op's and read as the op wants it."""
        from .values import attribute

        op = OPS.get(op_node.text) if type(op_node) is Scalar else None
        if op is None:
            return {}  # the op itself is at fault: node() says so
        out = {}
        for name, (key, value) in attrs.items():
            if name not in op.attributes:
                known = ", ".join(op.attributes)
                raise self.fail(
                    f"{what}: {op.name} has no attribute '{name}'{did_you_mean(name, op.attributes)}"
                    + (f" (its attributes: {known})" if known else f" ({op.name} takes no attributes)"),
                    key.loc,
                )
            out[name] = attribute(self, op.attribute_kinds[name], value, f"{what}: {name}")
        return out

    def formula(self, name: str, key: Scalar, scalar: Scalar) -> None:
        """A node written as a formula: each of its parts becomes a node (see formula.py)."""
        from .formula import FormulaError, fresh, lower, parse

        what = f"node '{shorten(name)}'"
        text = self.text(scalar, f"the formula of {what}")
        try:
            root = parse(text, self.functions)
            if root.op == "num":
                raise FormulaError(
                    f"the formula is the number {shorten(text.strip())}; a number goes under inputs: or constants:", 0
                )
            if root.op == "name":  # one word: an op's name mistyped, or a formula that computes nothing
                word = shorten(root.value)
                hint = did_you_mean(root.value, OPS)
                raise FormulaError(
                    f"unknown op '{word}'{hint} ({LIST_OPS})"
                    if hint or text.strip() == root.value
                    else f"the formula only names '{word}'; a node computes something: x + y, exp(x)",
                    root.offset,
                )
            steps = lower(root, name)
        except FormulaError as e:
            raise self.fail(f"{what}: {e}", self.token_loc(scalar, e.offset)) from None
        self.spend(len(steps))
        written = [(o, at) for step in steps for o, at in zip(step.operands, step.offsets) if at is not None]
        written.sort(key=lambda item: item[1])  # the names in the order they are written
        at_formula = _At(name, written)
        self.formula_scalars[name] = scalar
        new = fresh(steps, name, self.parts)
        for k, step in enumerate(new):
            loc = self.token_loc(scalar, step.offset)
            if step.name != name:
                if step.name in self.decls:
                    raise self.fail(
                        f"{what}: its part {shorten(step.text or step.name)} would be a node named "
                        f"'{shorten(step.name)}', which is declared at line {self.decls[step.name][0].line}; "
                        "rename that node",
                        loc,
                    )
                self.order[step.name] = (*key.loc, k - len(new))  # just before the formula's own node
            self.operands[step.name] = [
                (o, scalar if at is None else at_formula) for o, at in zip(step.operands, step.offsets)
            ]
            self.add(step.name, key.loc if step.name == name else loc, step.op, None, step.label)
            if step.call is not None:
                self.calls[step.name] = step.call
        self.formulas[name] = (text, [step.name for step in new[:-1]])

    def token_loc(self, scalar: Scalar, offset: int) -> Loc:
        """Where the character at `offset` of a scalar's text stands in the file: exact where the
        text is written out as it is read (one line, no escapes), else the scalar's start."""
        mark, text = scalar.mark, scalar.text
        start = getattr(mark, "index", None)
        if start is not None and "\n" not in text:
            start += 0 if scalar.plain else 1
            if self.text_of_file[start : start + len(text)] == text:
                return Loc(mark.line + 1, mark.column + 1 + (0 if scalar.plain else 1) + offset)
        return scalar.loc

    def unknown_in_formula(self, at: _At) -> GraphError:
        """The error for a formula's first unknown name, as written, with a hint."""
        scalar = self.formula_scalars[at.node]
        word, offset = next((w, k) for w, k in at.names if w not in self.decls)
        declared = [n for n in self.decls if n not in self.parts]
        written = next((n for n in declared if scalar.text.startswith(n, offset) and n != word), None)
        hint = (
            f"; '{shorten(written)}' cannot be written in a formula (a name there is letters, digits, _ and .); "
            "rename it"
            if written
            else did_you_mean(word, declared)
        )
        loc = self.token_loc(scalar, offset)
        return self.fail(f"node '{shorten(at.node)}': unknown name '{shorten(word)}'{hint}", loc)

    def with_edges(self, edges) -> None:
        """The edges' operands, filled in to the nodes they point at."""
        if edges is not None:
            if type(edges) is not Seq:
                raise self.fail(f'edges must be a list of "src -> dst" or [src, dst], not {describe(edges)}', edges.loc)
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
            raise self.fail(f'an edge must be "src -> dst" or [src, dst], not {describe(edge)}', edge.loc)
        target = self.decls.get(dst)
        if target is None:
            raise self.fail(f"edge to unknown node '{shorten(dst)}'{did_you_mean(dst, self.decls)}", dst_loc)
        if target[1] is None:
            raise self.fail(f"edge to '{shorten(dst)}', which is an input; only nodes take operands", dst_loc)
        if dst in self.formulas:
            raise self.fail(f"edge to node '{shorten(dst)}', which is a formula; it takes no edges", dst_loc)
        if dst not in self.from_edges:
            raise self.fail(
                f"edge to node '{shorten(dst)}', which lists its operands under inputs:; "
                "a node takes operands from inputs: or from edges, not both",
                dst_loc,
            )
        self.operands[dst].append((src, edge))

    def check_operands(self) -> None:
        for name, (loc, op, _, _, _) in self.decls.items():
            if op is None:
                continue
            for operand, source in self.operands[name]:
                if isinstance(operand, str) and operand not in self.decls and operand not in NAMED_NUMBERS:
                    if type(source) is _At:
                        raise self.unknown_in_formula(source)
                    hint = did_you_mean(operand, self.decls)
                    if not hint and looks_like_number(operand):
                        hint = f"; it is quoted, so it is a name: write {shorten(operand)} unquoted for a constant"
                    raise self.fail(f"node '{shorten(name)}': unknown operand '{shorten(operand)}'{hint}", source.loc)
            problem = OPS[op].arity_problem(len(self.operands[name]))
            if problem:
                raise self.fail(f"node '{shorten(name)}': {problem}", loc)
