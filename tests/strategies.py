"""Hypothesis strategies for cgraph's property tests, in one place."""

import math
import os

from hypothesis import strategies as st

from cgraph_cli.core.ops import OPS

# CGRAPH_QUICK=1 tries a tenth of the examples each property test asks for: for mutation testing
# (dev/mutation.py), where the suite runs once per mutant, and for a quick inner loop.
QUICK = os.environ.get("CGRAPH_QUICK") == "1"


def examples(n: int) -> int:
    """How many examples a property test tries: n, or a tenth of it (at least 5) with CGRAPH_QUICK=1."""
    return max(5, n // 10) if QUICK else n


def reals(low: float = -10.0, high: float = 10.0):
    """Finite floats in [low, high], no NaN or infinity."""
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


def away_from(value: float, gap: float, low: float = -10.0, high: float = 10.0):
    """Finite floats in [low, high] at least `gap` away from `value` (kinks, poles)."""
    return reals(low, high).filter(lambda x: abs(x - value) >= gap)


def _apart(xs, gap: float) -> bool:
    """Whether no two of xs are within `gap` of each other (max, min and comparisons are smooth there)."""
    ordered = sorted(xs)
    return all(b - a >= gap for a, b in zip(ordered, ordered[1:]))


# Operand points per op where the op is smooth, so a central difference is a fair check.
# The ops of numbers (each has a domain below); the ops of arrays alone are drawn in test_arrays.py.
NUMBER_OPS = sorted(name for name, op in OPS.items() if not op.arrays_only)

OP_DOMAINS = {
    "add": st.lists(reals(), min_size=2, max_size=5),
    "mul": st.lists(reals(-3, 3), min_size=2, max_size=5),
    "sub": st.lists(reals(), min_size=2, max_size=2),
    "div": st.tuples(reals(), away_from(0.0, 0.5)).map(list),
    "neg": st.lists(reals(), min_size=1, max_size=1),
    "pow": st.tuples(reals(0.2, 4.0), reals(-3.0, 3.0)).map(list),
    "exp": st.lists(reals(-5, 5), min_size=1, max_size=1),
    "log": st.lists(reals(0.1, 50.0), min_size=1, max_size=1),
    "sigmoid": st.lists(reals(-8, 8), min_size=1, max_size=1),
    "relu": st.lists(away_from(0.0, 0.05), min_size=1, max_size=1),
    "tanh": st.lists(reals(-4, 4), min_size=1, max_size=1),
    "step": st.lists(away_from(0.0, 0.05), min_size=1, max_size=1),
    "xlogy": st.tuples(reals(-3, 3), reals(0.1, 20.0)).map(list),
    "mulpow": st.tuples(reals(-3, 3), reals(0.2, 4.0), reals(-3.0, 3.0)).map(list),
    "sech": st.lists(reals(-8, 8), min_size=1, max_size=1),
    "sqrt": st.lists(reals(0.1, 50.0), min_size=1, max_size=1),
    "sin": st.lists(reals(), min_size=1, max_size=1),
    "cos": st.lists(reals(), min_size=1, max_size=1),
    "abs": st.lists(away_from(0.0, 0.05), min_size=1, max_size=1),
    "max": st.lists(reals(), min_size=1, max_size=4).filter(lambda xs: _apart(xs, 0.05)),
    "min": st.lists(reals(), min_size=1, max_size=4).filter(lambda xs: _apart(xs, 0.05)),
    "where": st.tuples(st.sampled_from([0, 1, -2.5]), reals(), reals()).map(list),
    **{
        name: st.tuples(reals(), reals()).filter(lambda xs: _apart(xs, 0.05)).map(list)
        for name in ("lt", "le", "gt", "ge", "eq")
    },
    "erf": st.lists(reals(-3, 3), min_size=1, max_size=1),
    "erfc": st.lists(reals(-3, 3), min_size=1, max_size=1),
    "normal_pdf": st.lists(reals(-6, 6), min_size=1, max_size=1),
    "normal_cdf": st.lists(reals(-6, 6), min_size=1, max_size=1),
    "log_normal_cdf": st.lists(reals(-45, 8), min_size=1, max_size=1),
    "normal_ppf": st.lists(reals(0.01, 0.99), min_size=1, max_size=1),
    "log1p": st.lists(reals(-0.8, 20.0), min_size=1, max_size=1),
    "expm1": st.lists(reals(-5, 5), min_size=1, max_size=1),
    "softplus": st.lists(reals(-20, 20), min_size=1, max_size=1),
    **{
        name: st.lists(reals().filter(lambda x, op=name: _off_the_jumps(op, x)), min_size=1, max_size=1)
        for name in ("floor", "ceil", "round")
    },
    "clip": st.tuples(reals(), reals(-3, 0), reals(0.2, 3)).filter(lambda xs: _apart(xs, 0.05)).map(list),
}


def _off_the_jumps(op: str, x: float) -> bool:
    """Whether a rounding op is flat around x, with a margin: away from its jumps (whole numbers
    for floor and ceil, halves for round)."""
    jump = math.floor(x + 0.5) if op != "round" else math.floor(x) + 0.5
    return abs(x - jump) > _MARGIN


# Where each op is smooth, with room to spare: a central difference's steps (1e-3 relative, a few
# times over) must not reach a kink, a pole or the edge of a domain. Per op, a test of its operands.
_MARGIN = 0.05


def _smooth_here(op: str, xs: list) -> bool:
    """Whether op is smooth at operands xs, with a margin, and its value moderate."""
    if op in ("relu", "abs", "step"):
        return abs(xs[0]) > _MARGIN
    if op in ("max", "min", "lt", "le", "gt", "ge", "eq"):
        return _apart(xs, _MARGIN)
    if op == "where":
        return abs(xs[0]) > _MARGIN
    if op == "div":
        return abs(xs[1]) > 0.2
    if op in ("log", "sqrt"):
        return xs[0] > 0.2
    if op == "pow":
        return xs[0] > 0.2 and abs(xs[1]) < 3
    if op == "xlogy":
        return xs[1] > 0.2
    if op == "mulpow":
        return xs[1] > 0.2 and abs(xs[2]) < 3
    if op in ("exp", "expm1"):
        return xs[0] < 5
    if op == "log1p":
        return xs[0] > -0.8
    if op == "normal_ppf":
        return 0.02 < xs[0] < 0.98
    if op in ("floor", "ceil", "round"):
        return _off_the_jumps(op, xs[0])
    if op == "clip":
        return xs[2] - xs[1] > 0.2 and _apart(xs, _MARGIN)
    return True


@st.composite
def smooth_graphs(draw, max_inputs: int = 4, max_nodes: int = 12, ops=None):
    """A random DAG over every op of numbers (or `ops`), each node at a point where its op is
    smooth with room to spare; n-ary operands, repeated operands, integer and float literals;
    inputs between -2 and 2. As YAML text; its last node is the output."""
    from cgraph_cli.core.ops import OPS

    rng = draw(st.randoms(use_true_random=False))
    ops = sorted(ops or ARITY)
    count = rng.randint(1, max_inputs)
    values = {f"x{i}": rng.choice([rng.uniform(-2, 2), rng.randint(-2, 2) or 1]) for i in range(count)}
    lines = ["inputs:"] + [f"  {name}: {v!r}" for name, v in values.items()] + ["nodes:"]
    names = list(values)
    for i in range(draw(st.integers(1, max_nodes))):
        for _ in range(20):  # a few tries at operands where the op drawn is smooth
            op = rng.choice(ops)
            low, high = ARITY[op]
            count = rng.randint(low, 5 if high >= 3 and op in ("add", "mul", "max", "min") else high)
            operands = []
            for k in range(count):
                if k and rng.random() < 0.25:
                    operands.append(rng.choice([rng.uniform(-2, 2), rng.randint(-3, 3)]))  # a literal
                elif k and rng.random() < 0.1 and op not in ("max", "min", "lt", "le", "gt", "ge", "eq"):
                    operands.append(rng.choice(operands))  # the same operand again
                else:
                    operands.append(rng.choice(names))
            xs = [values[a] if isinstance(a, str) else a for a in operands]
            if not _smooth_here(op, xs):
                continue
            try:
                v = OPS[op].forward(*xs)
            except (ArithmeticError, ValueError):
                continue
            if abs(v) < 100:
                break
        else:
            continue
        name = f"n{i}"
        values[name] = v
        lines.append(f"  {name}: {{op: {op}, inputs: [{', '.join(map(str, operands))}]}}")
        names.append(name)
    if names[-1].startswith("x"):  # no node was smooth enough: one that always is
        lines.append(f"  n0: {{op: add, inputs: [{names[-1]}, 1.5]}}")
        names.append("n0")
    lines.append(f"output: {names[-1]}")
    return "\n".join(lines) + "\n"


# The ops a wide level may be made of: a level of 16 or more like float nodes of one or two operands,
# of an op with a builtin of its own (Op.fast), runs a list at a time (schedule.py).
LEVEL_OPS = ["add", "mul", "sub", "div", "neg", "tanh", "sin", "cos", "exp", "abs"]


@st.composite
def layered_graphs(draw, ops=LEVEL_OPS):
    """Levels of 16 to 24 like nodes over floats (the engine's grouped path), each reading the level
    before, some with float literals; the output adds up the last level. As YAML text."""
    rng = draw(st.randoms(use_true_random=False))
    lines = ["inputs:"] + [f"  x{i}: {rng.uniform(0.5, 1.5)!r}" for i in range(4)] + ["nodes:"]
    previous = [f"x{i}" for i in range(4)]
    for level in range(rng.randint(2, 3)):
        op = rng.choice(ops)
        arity = ARITY[op][0] if ARITY[op][1] == 1 else 2
        names = []
        for k in range(rng.randint(16, 24)):
            operands = [rng.choice(previous) for _ in range(arity)]
            if op == "div" or arity == 2 and rng.random() < 0.3:  # (a level divides by literals alone)
                operands[1] = repr(rng.uniform(0.5, 1.5))
            names.append(f"l{level}_{k}")
            lines.append(f"  {names[-1]}: {{op: {op}, inputs: [{', '.join(operands)}]}}")
        previous = names
    lines.append(f"  out: {{op: add, inputs: [{', '.join(previous)}]}}")
    lines.append("output: out")
    return "\n".join(lines) + "\n"


# -- for the fuzz suite: every op, hostile numbers, text that is almost YAML -------------------

# Numbers where arithmetic goes wrong: zeros of both signs, the float range's ends, subnormals,
# exp's overflow edge, integers past 2**53, kinks.
HOSTILE_NUMBERS = [
    0,
    -0.0,
    0.0,
    1,
    -1,
    2,
    0.5,
    -0.5,
    1e308,
    -1e308,
    1e-308,
    5e-324,
    -5e-324,
    709.0,
    710.0,
    -745.0,
    1e150,
    1e-150,
    2**53,
    2**53 + 1,
    10**300,
    30.0,
    -30.0,
    800.0,
    -800.0,
    3,
    1e-7,
]

ARITY = {
    "add": (2, 4),
    "mul": (2, 4),
    "sub": (2, 2),
    "div": (2, 2),
    "neg": (1, 1),
    "pow": (2, 2),
    "exp": (1, 1),
    "log": (1, 1),
    "sigmoid": (1, 1),
    "relu": (1, 1),
    "tanh": (1, 1),
    "step": (1, 1),
    "xlogy": (2, 2),
    "mulpow": (3, 3),
    "sech": (1, 1),
    "sqrt": (1, 1),
    "sin": (1, 1),
    "cos": (1, 1),
    "abs": (1, 1),
    "max": (1, 3),
    "min": (1, 3),
    "where": (3, 3),
    "lt": (2, 2),
    "le": (2, 2),
    "gt": (2, 2),
    "ge": (2, 2),
    "eq": (2, 2),
    **dict.fromkeys(("erf", "erfc", "normal_pdf", "normal_cdf", "log_normal_cdf", "normal_ppf"), (1, 1)),
    **dict.fromkeys(("log1p", "expm1", "softplus", "floor", "ceil", "round"), (1, 1)),
    "clip": (3, 3),
}


def numbers(hostile: bool = True):
    """Ordinary numbers, and the hostile ones."""
    plain = st.one_of(reals(-5, 5), st.integers(-5, 5))
    return st.one_of(plain, st.sampled_from(HOSTILE_NUMBERS)) if hostile else plain


@st.composite
def any_graphs(draw, max_inputs: int = 4, max_nodes: int = 10, hostile: bool = True, ops=None):
    """A random DAG over every op (or `ops`), inputs and constants drawn from `numbers`, as YAML text."""
    ops = sorted(ops or ARITY)
    n_inputs = draw(st.integers(1, max_inputs))
    names = [f"x{i}" for i in range(n_inputs)]
    lines = ["inputs:"] + [f"  {n}: {draw(numbers(hostile))!r}" for n in names] + ["nodes:"]
    for i in range(draw(st.integers(1, max_nodes))):
        op = draw(st.sampled_from(ops))
        low, high = ARITY[op]
        operands = [
            draw(st.one_of(st.sampled_from(names), numbers(hostile).map(repr))) if k else draw(st.sampled_from(names))
            for k in range(draw(st.integers(low, high)))
        ]
        lines.append(f"  n{i}: {{op: {op}, inputs: [{', '.join(operands)}]}}")
        names.append(f"n{i}")
    lines.append(f"output: {names[-1]}")
    return "\n".join(lines) + "\n"


# Pieces of YAML and of cgraph's format, to be strung together into almost-valid files.
_FRAGMENTS = [
    "inputs:",
    "nodes:",
    "edges:",
    "output:",
    "name:",
    "description:",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "  ",
    "x",
    "y",
    "z",
    "1",
    "-0.0",
    "1e3",
    "012",
    "1_000",
    ".inf",
    ".nan",
    "true",
    "null",
    "~",
    "&a",
    "*a",
    "!!str",
    "!!python/object:os.system",
    "---",
    "...",
    "#",
    "'",
    '"',
    "\\",
    "->",
    "{op: add, inputs: [x, y]}",
    "{op: mul}",
    "mul",
    "pow",
    "log",
    "x -> y",
    "[x, y]",
    "\t",
    "\r\n",
    "\ufeff",
    "\x00",
    "\u202e",
    "사과",
    "? ",
    "|",
    ">",
    "%YAML 1.2",
    "<<: *a",
    "1e400",
    "0x1F",
    "-",
]


def almost_yaml():
    """Text strung together from YAML and cgraph fragments: mostly invalid, sometimes a graph."""
    return st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join)


# -- formulas -------------------------------------------------------------------------------------

_CALLS = ["exp", "log", "sqrt", "sin", "cos", "abs", "tanh", "sigmoid", "relu", "max", "min", "where"]


@st.composite
def formula_texts(draw, names: list[str], depth: int = 3):
    """A random formula over `names`: operators, comparisons, calls and literals, spaced at random."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(st.sampled_from(names), numbers(hostile=False).map(lambda x: repr(abs(x)))))
    kind = draw(st.sampled_from(["+", "-", "*", "/", "**", "^", "<", ">=", "neg", "call", "paren"]))
    if kind == "neg":
        return "-" + draw(formula_texts(names, depth - 1))
    if kind == "paren":
        return "(" + draw(formula_texts(names, depth - 1)) + ")"
    if kind == "call":
        fn = draw(st.sampled_from(_CALLS))
        count = {"max": draw(st.integers(1, 3)), "min": draw(st.integers(1, 3)), "where": 3}.get(fn, 1)
        return f"{fn}({', '.join(draw(formula_texts(names, depth - 1)) for _ in range(count))})"
    space = draw(st.sampled_from(["", " "]))
    left, right = draw(formula_texts(names, depth - 1)), draw(formula_texts(names, depth - 1))
    return f"({left}){space}{kind}{space}({right})" if kind in ("<", ">=") else f"{left}{space}{kind}{space}{right}"


@st.composite
def formula_graphs(draw, max_nodes: int = 4):
    """A graph of formula nodes (and a constant) over a few inputs, as YAML text."""
    import json

    names = ["a", "b"]
    lines = [
        f"inputs: {{a: {draw(reals(-3, 3))!r}, b: {draw(reals(-3, 3))!r}}}",
        f"constants: {{k: {draw(reals(0.5, 2))!r}}}",
    ]
    lines.append("nodes:")
    for i in range(draw(st.integers(1, max_nodes))):
        text = draw(formula_texts(names + ["k"]))
        lines.append(f"  f{i}: {json.dumps(text + ' + 0*a')}")  # every formula computes something
        names.append(f"f{i}")
    lines.append(f"output: {names[-1]}")
    return "\n".join(lines) + "\n"


@st.composite
def array_files(draw):
    """Graph files with arrays, mostly plausible and often wrong: values as nested lists (some ragged,
    empty or holding text), generated arrays with odd shapes and seeds, any op on any operands,
    attributes right or wrong. For the fuzz suite: whatever they say, cgraph answers in words."""
    numbers = st.one_of(st.floats(-3, 3), st.integers(-3, 3), st.sampled_from([0, 1e308, -1e-310, 710]))
    scalar = st.one_of(numbers, st.sampled_from(["x", "true", "null", ".nan", "'1'"]))

    def nested(depth):
        if depth == 0:
            return scalar.map(str)
        return st.lists(nested(depth - 1), min_size=0, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")

    def rectangular(sizes):  # a well-formed array of those sizes, of plain numbers
        count = 1
        for n in sizes:
            count *= n

        def build(flat, sizes):
            if not sizes:
                return flat.pop()
            return "[" + ", ".join(build(flat, sizes[1:]) for _ in range(sizes[0])) + "]"

        return st.lists(st.floats(-3, 3).map(repr), min_size=count, max_size=count).map(lambda f: build(f, sizes))

    sizes = st.lists(st.integers(1, 3), min_size=0, max_size=2)
    shape = st.lists(st.integers(-1, 4), min_size=0, max_size=3).map(lambda s: "[" + ", ".join(map(str, s)) + "]")
    good = sizes.map(lambda s: "[" + ", ".join(map(str, s)) + "]")
    value = st.one_of(
        sizes.flatmap(rectangular),
        sizes.flatmap(rectangular),
        sizes.flatmap(rectangular),
        st.builds(lambda s, seed: f"{{normal: 0.5, shape: {s}, seed: {seed}}}", good, st.integers(0, 3)),
        st.integers(1, 3).flatmap(nested),
        numbers.map(str),
        st.builds(lambda s, n, seed: f"{{normal: {n}, shape: {s}, seed: {seed}}}", shape, numbers, st.integers(-1, 3)),
        shape.map(lambda s: f"{{zeros: {s}}}"),
        st.sampled_from(["{file: missing.npy}", "{file: x.txt}", "{value: [1, 2], label: a}", "{zeros: 2}"]),
    )
    names = ["a", "b", "c"]
    lines = ["inputs:"] + [f"  {name}: {draw(value)}" for name in names] + ["nodes:"]
    attribute = st.sampled_from(
        [
            "",
            ", axis: 0",
            ", axis: -1",
            ", axis: [0, 1]",
            ", axis: 5",
            ", keepdims: true",
            ", keepdims: 2",
            ", shape: [-1]",
            ", shape: [2, -1]",
            ", shape: [0]",
            ", axes: [1, 0]",
            ", axes: [0, 0]",
            ", axiss: 1",
        ]
    )
    for k in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(sorted(OPS)))
        count = draw(st.integers(OPS[op].min_args, min(OPS[op].max_args or 3, 3)))
        operands = [draw(st.sampled_from(names)) for _ in range(count)]
        if draw(st.booleans()):
            lines.append(f"  n{k}: {{op: {op}, inputs: [{', '.join(operands)}]{draw(attribute)}}}")
        else:
            symbol = draw(st.sampled_from(["@", "+", "*", "-", "/"]))
            lines.append(f"  n{k}: {operands[0]} {symbol} {operands[-1]}")
        names.append(f"n{k}")
    return "\n".join(lines) + f"\noutput: {names[-1]}\n"
