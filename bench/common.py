"""What the benchmarks share: graph shapes, graph files, and medians of interleaved runs.

Shapes (every node leads to the output, so every gradient is worked for):
  chain     each node takes the one before it (and an input): one node per level;
  wide      each node takes two random earlier nodes: a random DAG, few levels, scattered reads;
  layered   layers of 1,000; each node takes nodes of the layer before: the shape of a network;
  literals  layered, its mul nodes taking a literal (the integer 2 or the float 0.5), as
            formulas write `x * 2`: integers keep cgraph off its fastest path;
  mixed     layered, as formulas write models: every other layer a tanh of the one before, the
            layers between mixing add, sub 1, mul by 0.5 or 2, div by 3, pow 2, neg and relu.
Ops of the first three: add and sub of two nodes, mul of a node and an input in [0.5, 1], tanh of
a node: values stay bounded at any size. The last node adds up every node nothing else uses.
A literal operand is written ("lit", value).
"""

from __future__ import annotations

import json
import random
import statistics
import time

OPS = ["add", "mul", "sub", "tanh"]


def _node(rng, op: str, a: int, b: int, inputs: int) -> tuple:
    if op == "tanh":
        return ("tanh", a)
    if op == "mul":
        return ("mul", a, rng.randrange(inputs))
    return (op, a, b)


def _close(inputs: list, nodes: list) -> tuple[list, list]:
    used = set()
    for node in nodes:
        used.update(a for a in node[1:] if not isinstance(a, tuple))
    k = len(inputs)
    sinks = [k + j for j in range(len(nodes)) if k + j not in used]
    if len(sinks) > 1:
        nodes.append(("add", *sinks))
    return inputs, nodes


def chain(n: int, seed: int = 1) -> tuple[list, list]:
    rng = random.Random(seed)
    inputs = [rng.uniform(0.5, 1.0) for _ in range(2)]
    return _close(inputs, [_node(rng, OPS[i % 4], i - 1, rng.randrange(2), 2) for i in range(2, n)])


def wide(n: int, seed: int = 2) -> tuple[list, list]:
    rng = random.Random(seed)
    k = max(2, n // 100)
    inputs = [rng.uniform(0.5, 1.0) for _ in range(k)]
    return _close(inputs, [_node(rng, rng.choice(OPS), rng.randrange(i), rng.randrange(i), k) for i in range(k, n - 1)])


def layered(n: int, width: int = 1000, seed: int = 3) -> tuple[list, list]:
    rng = random.Random(seed)
    inputs = [rng.uniform(0.5, 1.0) for _ in range(width)]
    nodes: list = []
    previous, i = list(range(width)), width
    while i < n - 1:
        layer = []
        for _ in range(min(width, n - 1 - i)):
            nodes.append(_node(rng, rng.choice(OPS), rng.choice(previous), rng.choice(previous), width))
            layer.append(i)
            i += 1
        previous = layer
    return _close(inputs, nodes)


def literals(n: int, width: int = 1000, seed: int = 4) -> tuple[list, list]:
    rng = random.Random(seed)
    inputs = [rng.uniform(0.5, 1.0) for _ in range(width)]
    nodes: list = []
    previous, i = list(range(width)), width
    while i < n - 1:
        layer = []
        for _ in range(min(width, n - 1 - i)):
            op, a, b = rng.choice(OPS), rng.choice(previous), rng.choice(previous)
            nodes.append(("mul", a, ("lit", rng.choice([2, 0.5]))) if op == "mul" else _node(rng, op, a, b, width))
            layer.append(i)
            i += 1
        previous = layer
    return _close(inputs, nodes)


_MIXED = [
    lambda a, b: ("add", a, b),
    lambda a, b: ("sub", a, ("lit", 1)),
    lambda a, b: ("mul", a, ("lit", 0.5)),
    lambda a, b: ("mul", a, ("lit", 2)),
    lambda a, b: ("div", a, ("lit", 3)),
    lambda a, b: ("pow", a, ("lit", 2)),
    lambda a, b: ("neg", a),
    lambda a, b: ("relu", a),
]


def mixed(n: int, width: int = 1000, seed: int = 5) -> tuple[list, list]:
    rng = random.Random(seed)
    inputs = [rng.uniform(-1.0, 1.0) for _ in range(width)]
    nodes: list = []
    previous, i, level = list(range(width)), width, 0
    while i < n - 1:
        layer = []
        for _ in range(min(width, n - 1 - i)):
            a, b = rng.choice(previous), rng.choice(previous)
            nodes.append(("tanh", a) if level % 2 else rng.choice(_MIXED)(a, b))
            layer.append(i)
            i += 1
        previous, level = layer, level + 1
    return _close(inputs, nodes)


SHAPES = {"chain": chain, "wide": wide, "layered": layered, "literals": literals, "mixed": mixed}


def operand_text(a, prefix: str = "x") -> str:
    """A node's operand as a file writes it: a name, or a literal number."""
    return repr(a[1]) if isinstance(a, tuple) else f"{prefix}{a}"


def as_json(inputs: list, nodes: list) -> str:
    """A shape as a cgraph JSON file."""
    k = len(inputs)
    doc = {
        "inputs": {f"x{i}": v for i, v in enumerate(inputs)},
        "nodes": {
            f"x{k + j}": {"op": op, "inputs": [a[1] if isinstance(a, tuple) else f"x{a}" for a in args]}
            for j, (op, *args) in enumerate(nodes)
        },
        "output": f"x{k + len(nodes) - 1}",
    }
    return json.dumps(doc)


def as_yaml(inputs: list, nodes: list) -> str:
    """A shape as a cgraph YAML file."""
    k = len(inputs)
    lines = ["inputs:"] + [f"  x{i}: {v!r}" for i, v in enumerate(inputs)] + ["nodes:"]
    lines += [
        f"  x{k + j}: {{op: {op}, inputs: [{', '.join(operand_text(a) for a in args)}]}}"
        for j, (op, *args) in enumerate(nodes)
    ]
    lines.append(f"output: x{k + len(nodes) - 1}")
    return "\n".join(lines) + "\n"


def chain_yaml(n: int) -> str:
    """A chain x0 -> x1 -> ... of n nodes (one input, n - 1 add nodes) as YAML text."""
    lines = ["# a chain for benchmarks", "inputs: {x0: 0.5}", "nodes:"]
    lines += [f"  x{i}: {{op: add, inputs: [x{i - 1}, 1]}}" for i in range(1, n)]
    return "\n".join(lines) + "\n"


def interleaved(cases: dict, repeat: int, clock=time.perf_counter) -> dict:
    """Run each case once per round, `repeat` rounds, so noise hits all alike; median seconds each.
    A case may return its own measured seconds (to leave out its setup); else the call is timed."""
    times: dict = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            start = clock()
            measured = fn()
            times[name].append(measured if isinstance(measured, float) else clock() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}
