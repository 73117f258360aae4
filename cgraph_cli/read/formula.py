"""Formulas: a node written as arithmetic, `profit: revenue - units * unit_cost - fixed`.

A formula is read into a tree and the tree into ordinary nodes: each
operation in it becomes a node of the graph (the formula's own node is the
last one), named by its text written without spaces (`units*unit_cost`), so
`run`, `draw`, `explain`, `--of` and `--wrt` all see it. Nothing is
evaluated by Python: the tokens are numbers, names, ``+ - * / @ ** ^``, the
comparisons ``< <= > >= ==``, parentheses and calls of cgraph's ops by name.
There is no attribute access and no other call, so a formula cannot run code.

Operators bind and group as Python's do (``-x**2`` is ``-(x**2)``, ``2**3**2``
is ``2**(3**2)``, ``a - b - c`` is ``(a - b) - c``), and each becomes the op
that does Python's arithmetic, so a formula gives Python's digits. A part made
of numbers alone (``1/6``) is worked out once, by the op itself, into a
constant.

The reader is iterative (an operator stack, as in Dijkstra's shunting yard),
so no nesting depth can exhaust Python's stack.
"""

from __future__ import annotations

from ..core.errors import did_you_mean, shorten
from ..core.layers import ATTRIBUTE_NAMES
from ..core.op import Undefined
from ..core.ops import OPS
from .syntax import NotANumber, plain_kind, to_number

# Operator -> (op, precedence, right-associative). Unary minus binds at 4: below **, above * and /.
BINARY = {
    "<": ("lt", 1, False),
    "<=": ("le", 1, False),
    ">": ("gt", 1, False),
    ">=": ("ge", 1, False),
    "==": ("eq", 1, False),
    "+": ("add", 2, False),
    "-": ("sub", 2, False),
    "*": ("mul", 3, False),
    "/": ("div", 3, False),
    "@": ("matmul", 3, False),  # as Python's @: a matrix product, binding as * does
    "**": ("pow", 5, True),
    "^": ("pow", 5, True),  # as spreadsheets write the power
}
UNARY_PRECEDENCE = 4
ATOM = 6
COMPARISONS = {"lt", "le", "gt", "ge", "eq"}
_SYMBOL = {op: symbol for symbol, (op, _, _) in BINARY.items() if symbol != "^"}

# A sub-expression whose text is longer than this is named after its formula's node and its
# place in the formula instead (`profit.3`): names stay short, and the cost stays linear.
MAX_NAME = 48

_TWO_CHAR = ("**", "<=", ">=", "==")
_ONE_CHAR = set("+-*/@^<>(),")


class FormulaError(ValueError):
    """A formula that cannot be read, and the offset in its text of the token at fault."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


class Expr:
    """A node of a formula's tree: a number ("num"), a name ("name"), or an op applied to args.
    `text` is its canonical text (None when longer than MAX_NAME), `precedence` how tightly it binds."""

    __slots__ = ("op", "args", "offset", "value", "text", "precedence", "parenthesized", "call", "within")

    def __init__(self, op: str, args: list, offset: int, value=None, text: str | None = None, precedence=ATOM):
        self.op, self.args, self.offset, self.value = op, args, offset, value
        self.text, self.precedence = text, precedence
        self.parenthesized = False
        # What a call of a function of the file made: on the node that is the call's result,
        # `call` = (the Function, its operands); on the nodes inside it, `within` = that node.
        self.call: tuple | None = None
        self.within: Expr | None = None


def tokens(text: str) -> list[tuple]:
    """(kind, text, offset, value) per token: kind 'num' (value: the number), 'name' or 'sym';
    then ('end', '', len(text), None)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            i += 1
            while i < n and (
                _word_char(text[i]) or (text[i] in "+-" and text[i - 1] in "eE" and _decimal(text, start))
            ):
                i += 1
            word = text[start:i]
            try:
                if plain_kind(word) != "number":
                    hint = "; write * for a product (2*x)" if word.lstrip("0123456789.")[:1].isalpha() else ""
                    raise NotANumber(f"'{shorten(word)}' is not a number{hint}")
                value = to_number(word)
            except NotANumber as e:
                raise FormulaError(str(e), start) from None
            out.append(("num", word, start, value))
            continue
        if _word_char(c) and c != ".":
            while i < n and _word_char(text[i]):
                i += 1
            out.append(("name", text[start:i], start, None))
            continue
        if text.startswith(_TWO_CHAR, i):
            out.append(("sym", text[i : i + 2], start, None))
            i += 2
            continue
        if c in _ONE_CHAR:
            out.append(("sym", c, start, None))
            i += 1
            continue
        hint = "; compare with '=='" if c == "=" else ""
        word = text[:i].rstrip().rsplit("(", 1)[-1].rsplit(",", 1)[-1].strip()
        if c == "=" and word in ATTRIBUTE_NAMES:
            hint = f"; an attribute ({word}) goes in the node form: {{op: ..., inputs: [...], {word}: ...}}"
        raise FormulaError(f"unexpected character {c!r} in a formula{hint}", start)
    out.append(("end", "", n, None))
    return out


def _word_char(c: str) -> bool:
    return c == "." or c == "_" or c.isalnum() or ("a" + c).isidentifier()


def _decimal(text: str, start: int) -> bool:
    """Whether the number starting at `start` is decimal so far (so an e is its exponent, not hex)."""
    return not text.startswith(("0x", "0X", "0o", "0O"), start)


# Other names of ops in formulas: ln(x) is log(x), the natural logarithm, as analysts write it.
ALIASES = {"ln": "log"}


def parse(text: str, functions: dict | None = None) -> Expr:
    """The formula's tree, or FormulaError at the token where it goes wrong. A call of one of
    `functions` (the file's, by name) is expanded into the function's body (see Function)."""
    functions = functions or {}
    operands: list[Expr] = []
    # Pending operators: ("bin", symbol, offset), ("neg"/"pos", symbol, offset), ("(", "(", offset),
    # ("call", op name, offset, how many operands were on the stack when its "(" came).
    stack: list[tuple] = []
    expect_operand = True
    previous = None  # the previous token's text, for messages
    toks = tokens(text)
    k = 0
    while True:
        kind, word, offset, value = toks[k]
        k += 1
        if expect_operand:
            if kind == "num":
                operands.append(Expr("num", [], offset, value, word))
                expect_operand = False
            elif kind == "name" and toks[k][1] == "(":
                word = word if word in functions else ALIASES.get(word, word)
                if word not in OPS and word not in functions:
                    hint = did_you_mean(word, [*OPS, *functions]) or " (`cgraph ops` lists the functions there are)"
                    raise FormulaError(f"unknown function '{shorten(word)}'{hint}", offset)
                k += 1
                stack.append(("call", word, offset, len(operands)))
                if toks[k][1] == ")":  # f(): no operands
                    k += 1
                    _finish_call(stack.pop(), operands, functions)
                    expect_operand = False
            elif kind == "name":
                operands.append(Expr("name", [], offset, word, word))
                expect_operand = False
            elif word == "(":
                stack.append(("(", "(", offset))
            elif word in ("-", "+"):
                stack.append(("neg" if word == "-" else "pos", word, offset))
            elif kind == "end":
                raise FormulaError(
                    f"expected an operand after '{previous}'" if previous else "the formula is empty", offset
                )
            elif previous is None:
                raise FormulaError(f"expected an operand before '{word}'", offset)
            else:
                raise FormulaError(f"expected an operand after '{previous}', found '{word}'", offset)
        elif word in BINARY:
            _, precedence, right = BINARY[word]
            while stack and stack[-1][0] in ("bin", "neg", "pos"):
                top_precedence = UNARY_PRECEDENCE if stack[-1][0] != "bin" else BINARY[stack[-1][1]][1]
                if top_precedence > precedence or (top_precedence == precedence and not right):
                    _reduce(stack.pop(), operands)
                else:
                    break
            stack.append(("bin", word, offset))
            expect_operand = True
        elif word == ")" or word == ",":
            while stack and stack[-1][0] in ("bin", "neg", "pos"):
                _reduce(stack.pop(), operands)
            if not stack:
                raise FormulaError(
                    "')' has no matching '('" if word == ")" else "',' outside the parentheses of a call", offset
                )
            if stack[-1][0] == "call":
                if word == ")":
                    _finish_call(stack.pop(), operands, functions)
                else:
                    expect_operand = True
            elif word == ")":
                stack.pop()
                operands[-1].parenthesized = True
            else:
                raise FormulaError("',' outside the parentheses of a call", offset)
        elif kind == "end":
            while stack:
                entry = stack.pop()
                if entry[0] in ("(", "call"):
                    raise FormulaError("'(' is never closed", entry[2])
                _reduce(entry, operands)
            return operands[0]
        else:
            raise FormulaError(f"expected an operator after '{previous}', found '{word}'", offset)
        previous = toks[k - 1][1]


def _reduce(entry: tuple, operands: list[Expr]) -> None:
    kind, word, offset = entry
    if kind == "pos":
        return  # +x is x
    if kind == "neg":
        x = operands.pop()
        operands.append(_apply("neg", [x], offset, UNARY_PRECEDENCE))
        return
    y, x = operands.pop(), operands.pop()
    op, precedence, right = BINARY[word]
    if op in COMPARISONS:
        for side in (x, y):
            if side.op in COMPARISONS and not side.parenthesized:
                raise FormulaError("comparisons cannot be chained (a < b < c); write where() twice", offset)
    operands.append(_apply(op, [x, y], offset, precedence, right))


def _finish_call(entry: tuple, operands: list[Expr], functions: dict) -> None:
    _, name, offset, first = entry
    args = operands[first:]
    del operands[first:]
    if name in functions:
        operands.append(functions[name].expand(args, offset, functions))
        return
    problem = OPS[name].arity_problem(len(args))
    if problem:
        raise FormulaError(problem, offset)
    operands.append(_apply(name, args, offset, ATOM))


def _apply(op: str, args: list[Expr], offset: int, precedence: int, right: bool = False) -> Expr:
    """An op node, with its canonical text when short: Python's spelling, no spaces, parentheses
    only where grouping needs them."""
    texts = [a.text for a in args]
    text = None
    if None not in texts:
        if precedence == ATOM:  # a call
            text = f"{op}({','.join(texts)})"  # type: ignore[arg-type]
        elif op == "neg":
            (x,) = args
            text = "-" + (f"({x.text})" if x.precedence < UNARY_PRECEDENCE or x.op == "neg" else x.text)  # type: ignore[operator]
        else:
            x, y = args
            # The side that would group the other way is parenthesized (and a chained comparison).
            left_tight = x.precedence > precedence or (x.precedence == precedence and not right)
            right_tight = y.precedence > precedence or (y.precedence == precedence and right)
            if precedence == 1:
                left_tight, right_tight = x.precedence > 1, y.precedence > 1
            lhs = x.text if left_tight else f"({x.text})"
            rhs = y.text if right_tight else f"({y.text})"
            text = f"{lhs}{_SYMBOL[op]}{rhs}"
        if len(text) > MAX_NAME:
            text = None
    return Expr(op, args, offset, None, text, precedence)


class FunctionError(FormulaError):
    """A problem with a function of the file: in its signature (`N(x)`) or at `offset` in its body."""

    def __init__(self, message: str, offset: int, function: str, in_signature: bool = False):
        super().__init__(message, offset)
        self.function, self.in_signature = function, in_signature


class Function:
    """A function of the file, `N(x): 0.5 * erfc(-x / sqrt(2))`: a formula with parameters.

    A call is not a new kind of node: it is the body's tree again with the operands in place of
    the parameters, so its parts become ordinary nodes (named by their text, `-d1/sqrt(2)`, the
    result by the call's, `N(d1)`) whose local derivatives are their ops'. The parts are marked
    with the call they came from, for `run`, `explain` and `draw` to show.
    """

    __slots__ = ("name", "params", "text", "tree", "busy", "size")

    def __init__(self, signature: str, text: str):
        try:
            toks = tokens(signature)
        except FormulaError:
            toks = []
        words = [word for _, word, _, _ in toks]
        names, commas = toks[2:-2:2], words[3:-2:2]
        if (
            len(toks) < 4
            or toks[0][0] != "name"
            or words[1] != "("
            or words[-2] != ")"
            or any(kind != "name" for kind, _, _, _ in names)
            or any(c != "," for c in commas)
            or len(names) != len(commas) + (1 if names else 0)
        ):
            raise FunctionError(
                f"'{shorten(signature)}' is not a function's signature: write NAME(PARAMETER, ...), as N(x)",
                0,
                signature,
                True,
            )
        self.name = words[0]
        self.params: dict[str, int] = {}
        for _, param, _, _ in names:
            if param in self.params:
                raise FunctionError(f"function {self.name}: parameter '{param}' is named twice", 0, self.name, True)
            self.params[param] = len(self.params)
        if self.name in OPS or self.name in ALIASES:
            raise FunctionError(
                f"function {self.name}: {self.name} is an op's name; name the function otherwise", 0, self.name, True
            )
        self.text = text
        self.tree: Expr | None = None
        self.busy = False
        self.size = 0  # how many op nodes a call makes

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"

    def body(self, functions: dict) -> Expr:
        """The body's tree, read on first use (its own calls expanded); a call of itself, directly
        or through another function, is FunctionError."""
        if self.tree is None:
            self.busy = True
            try:
                self.tree = parse(self.text, functions)
                self.size = sum(1 for _ in _walk(self.tree))
            except FunctionError:
                raise
            except FormulaError as e:
                raise FunctionError(f"function {self.name}: {e}", e.offset, self.name) from None
            finally:
                self.busy = False
        return self.tree

    def free_names(self) -> list[tuple[str, int]]:
        """The names its body uses that are not its parameters, with their offsets: graph entries,
        or pi and e, or unknown."""
        toks = tokens(self.text)
        return [
            (word, offset)
            for (kind, word, offset, _), after in zip(toks, toks[1:])
            if kind == "name" and after[1] != "(" and word not in self.params
        ]

    def expand(self, args: list[Expr], offset: int, functions: dict) -> Expr:
        """The tree of a call at `offset` with operands `args`: a copy of the body, the operands in
        place of the parameters, the copies marked as made by this call."""
        if len(args) != len(self.params):
            raise FormulaError(
                f"{self.name}() takes {_count(len(self.params))} ({self.signature}), not {len(args)}", offset
            )
        if self.busy:
            raise FormulaError(
                f"{self.name}() is called inside its own body (directly or through another function); "
                "a function cannot call itself",
                offset,
            )
        tree = self.body(functions)
        if tree.op == "num":
            return tree
        if type(functions) is Functions:  # calls of calls grow as powers: a file makes at most MAX_EXPANDED
            functions.budget -= self.size
            if functions.budget < 0:
                raise FormulaError(
                    f"the calls of functions make more than {MAX_EXPANDED:,} nodes (this call of {self.name} "
                    f"makes {self.size:,}); a function that calls another several times doubles with each level",
                    offset,
                )
        copies: dict[int, Expr] = {}
        stack: list[tuple[Expr, bool]] = [(tree, False)]
        while stack:  # (iterative: a body may nest deeply)
            expr, ready = stack.pop()
            if id(expr) in copies:
                continue
            below = expr.args + (expr.call[1] if expr.call else [])
            if expr.op == "num":
                copies[id(expr)] = expr
            elif expr.op == "name":
                k = self.params.get(expr.value)
                copies[id(expr)] = args[k] if k is not None else Expr("name", [], offset, expr.value, expr.value)
            elif not ready:
                stack.append((expr, True))
                stack.extend((a, False) for a in below)
            else:
                copy = _apply(expr.op, [copies[id(a)] for a in expr.args], offset, expr.precedence, expr.op == "pow")
                copy.parenthesized = expr.parenthesized
                if expr.call:
                    function, inner = expr.call
                    copy.call = (function, [copies[id(a)] for a in inner])
                    copy.text = _call_text(function.name, copy.call[1])
                copies[id(expr)] = copy
        root = copies[id(tree)]
        if tree.op == "name":
            return root  # a body that is one name: the call is that operand
        for original in _walk(tree):  # made by this call, or by a call inside its body
            copy = copies[id(original)]
            if copy is not root:
                copy.within = root if original.within is None else copies[id(original.within)]
        root.call = (self, args)
        root.text, root.precedence, root.parenthesized = _call_text(self.name, args), ATOM, False
        return root


def _count(n: int) -> str:
    return f"{n} operand" + ("" if n == 1 else "s")


def _call_text(name: str, args: list[Expr]) -> str | None:
    texts = [a.text for a in args]
    if None in texts:
        return None
    text = f"{name}({','.join(texts)})"  # type: ignore[arg-type]
    return text if len(text) <= MAX_NAME else None


def _walk(tree: Expr):
    """Every op node of a tree (operands of calls included), each once."""
    seen: set[int] = set()
    stack = [tree]
    while stack:
        expr = stack.pop()
        if id(expr) in seen or expr.op in ("num", "name"):
            continue
        seen.add(id(expr))
        yield expr
        stack.extend(expr.args)
        if expr.call:
            stack.extend(expr.call[1])


MAX_EXPANDED = 200_000


class Functions(dict):
    """The file's functions by name, and how many more nodes their calls may make."""

    def __init__(self):
        super().__init__()
        self.budget = MAX_EXPANDED


def read_functions(entries) -> dict[str, Function]:
    """The file's `functions:` section, (signature, body text) pairs, as {name: Function}, every
    body read (so a mistake, or a recursion, is found where it is written). FunctionError else."""
    functions = Functions()
    for signature, text in entries:
        function = Function(signature, text)
        if function.name in functions:
            raise FunctionError(
                f"function {function.name} is declared twice ({functions[function.name].signature} first)",
                0,
                function.name,
                True,
            )
        functions[function.name] = function
    for function in functions.values():
        function.body(functions)
    return functions


def function_problem(functions: dict[str, Function], names) -> FunctionError | None:
    """The first function whose parameter is also a graph entry's name (it would shadow it), or
    whose body names what is neither a parameter, a graph entry, pi nor e."""
    from ..core.graph import NAMED_NUMBERS

    for function in functions.values():
        for param in function.params:
            if param in names:
                return FunctionError(
                    f"function {function.name}: parameter '{shorten(param)}' is also the name of an input or node "
                    "of the graph, which it would hide; rename the parameter",
                    0,
                    function.name,
                    True,
                )
        for word, offset in function.free_names():
            if word not in names and word not in NAMED_NUMBERS:
                known = [*function.params, *names]
                return FunctionError(
                    f"function {function.name}: unknown name '{shorten(word)}'{did_you_mean(word, known)}"
                    f" (its parameters: {', '.join(function.params) or 'none'})",
                    offset,
                    function.name,
                )
    return None


def difference(x: Expr, y: Expr) -> Expr:
    """The tree of x - y (optimize's constraint `a <= b` is `a - b <= 0`)."""
    return _apply("sub", [x, y], x.offset, BINARY["-"][1])


class Step:
    """One node a formula makes: its name, op, operands (names and numbers) with the offsets of
    the name tokens, its offset in the formula and its canonical text (None when long)."""

    __slots__ = ("name", "op", "operands", "offsets", "offset", "text", "label", "call")

    def __init__(self, name: str, op: str, operands: tuple, offsets: tuple, offset: int, text: str | None):
        self.name, self.op, self.operands, self.offsets = name, op, operands, offsets
        self.offset, self.text = offset, text
        # Made by a call of a function of the file: the call's node, and a label that says so.
        self.call: str | None = None
        self.label: str | None = None


def lower(root: Expr, node: str) -> list[Step]:
    """The nodes a formula's tree becomes, operands before the nodes using them; the last is `node`.

    A part made of numbers alone becomes the number the op gives (FormulaError where it has none).
    A part is named by its text, else `node.k` (its k-th part, counted as they are made).
    """
    steps: list[Step] = []
    inside: list[tuple[Step, Expr]] = []  # the steps inside a call, and the call's node
    result: dict[int, tuple] = {}  # id(expr) -> (operand, offset of its token or None)
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        expr, ready = stack.pop()
        if id(expr) in result:
            continue  # (a call's operand used twice in its body: one node)
        if expr.op == "num":
            result[id(expr)] = (expr.value, None)
            continue
        if expr.op == "name":
            result[id(expr)] = (expr.value, expr.offset)
            continue
        if not ready:
            stack.append((expr, True))
            stack.extend((a, False) for a in reversed(expr.args))
            continue
        operands = tuple(result[id(a)][0] for a in expr.args)
        offsets = tuple(result[id(a)][1] for a in expr.args)
        if expr is not root and not any(type(o) is str for o in operands):  # numbers alone: a constant
            value = OPS[expr.op](*operands)
            if type(value) is Undefined:
                raise FormulaError(f"{expr.text or expr.op} has no value: {value.reason}", expr.offset)
            result[id(expr)] = (value, None)
            continue
        name = node if expr is root else expr.text or f"{node}.{len(steps) + 1}"
        step = Step(name, expr.op, operands, offsets, expr.offset, expr.text)
        if expr.call:
            step.label, step.call = f"{expr.call[0].signature} = {expr.call[0].text.strip()}", name
        elif expr.within is not None:
            inside.append((step, expr.within))
        steps.append(step)
        result[id(expr)] = (name, None)
    for step, within in inside:  # (a call's node is named after the nodes inside it)
        call = result[id(within)][0]
        if type(call) is str:
            step.label, step.call = f"in {call}", call
    return steps


def fresh(steps: list[Step], node: str, parts: dict) -> list[Step]:
    """The steps that make a new node: all of them but the parts made already, by an earlier
    formula or earlier in this one, with the same text (that part is one node, used again).
    `parts` maps each part made so far to (its formula's node, its text) and gains the new ones."""
    new = []
    for step in steps:
        if step.name != node:
            known = parts.get(step.name)
            if known is not None and step.text is not None and known[1] == step.text:
                continue
            parts[step.name] = (node, step.text)
        new.append(step)
    return new
