"""Hypothesis strategies for cgraph's property tests, in one place."""

from hypothesis import strategies as st


def reals(low: float = -10.0, high: float = 10.0):
    """Finite floats in [low, high], no NaN or infinity."""
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


def away_from(value: float, gap: float, low: float = -10.0, high: float = 10.0):
    """Finite floats in [low, high] at least `gap` away from `value` (kinks, poles)."""
    return reals(low, high).filter(lambda x: abs(x - value) >= gap)


# Operand points per op where the op is smooth, so a central difference is a fair check.
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
    "relu": st.lists(away_from(0.0, 0.01), min_size=1, max_size=1),
    "tanh": st.lists(reals(-4, 4), min_size=1, max_size=1),
    "step": st.lists(away_from(0.0, 0.01), min_size=1, max_size=1),
    "xlogy": st.tuples(reals(-3, 3), reals(0.1, 20.0)).map(list),
    "mulpow": st.tuples(reals(-3, 3), reals(0.2, 4.0), reals(-3.0, 3.0)).map(list),
}


SMOOTH_OPS = {"add": 2, "mul": 2, "sub": 2, "neg": 1, "tanh": 1, "sigmoid": 1}


@st.composite
def smooth_graphs(draw, max_inputs: int = 4, max_nodes: int = 12):
    """A random DAG of smooth, bounded ops over a few inputs, as YAML text; its last node is the output."""
    n_inputs = draw(st.integers(1, max_inputs))
    names = [f"x{i}" for i in range(n_inputs)]
    lines = ["inputs:"] + [f"  {n}: {draw(reals(-2, 2))!r}" for n in names] + ["nodes:"]
    for i in range(draw(st.integers(1, max_nodes))):
        op = draw(st.sampled_from(sorted(SMOOTH_OPS)))
        operands = [draw(st.sampled_from(names)) for _ in range(SMOOTH_OPS[op])]
        name = f"n{i}"
        lines.append(f"  {name}: {{op: {op}, inputs: [{', '.join(operands)}]}}")
        names.append(name)
    lines.append(f"output: {names[-1]}")
    return "\n".join(lines) + "\n"
