"""The engine against micrograd, PyTorch's scalar autograd and a plain Python loop, like with like.

    python bench/engine.py [--sizes 1e5] [--repeat 5] [--shapes chain,wide,layered,literals,mixed]
                           [--collector shipped,on,off]

CPU nanoseconds per node for a forward and a backward pass that gives every input's and node's
gradient, on the same graphs (bench/common.py), each engine's runs interleaved round by round with
the others' so that noise hits all alike; medians, and cgraph's speed as a multiple of micrograd's.

The same conditions for every engine:

- Python's cyclic garbage collector, in three settings, each its own table:
  `shipped`, every engine as its users run it: the collector on, and cgraph pausing it while it
  evaluates (its design, see graph.paused_gc); `on`, the collector on everywhere, cgraph's own
  pause turned off; `off`, the collector off everywhere.
- One-off costs: micrograd and PyTorch build their graph as they compute, so every run of theirs
  is a first one. cgraph's `first` column is what a user pays for a graph built in Python: compile,
  schedule and the first `Graph.run()` of the documented API (its result dicts included); `again`
  is a later `run()` of the same graph. Parsing a file is bench/end_to_end.py's business.
- Agreement: before anything is timed, every engine's output and every input's gradient is
  checked against cgraph's (1e-9 relative); engines that disagree are not compared.

micrograd and PyTorch are optional (pip install -e ".[bench]"; PyTorch's CPU build is enough): a
missing one is left out of the table.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHAPES, interleaved  # noqa: E402

import cgraph_cli.core.engine  # noqa: E402
from cgraph_cli.api import Graph  # noqa: E402
from cgraph_cli.core.graph import Draft, compile_draft  # noqa: E402

COLLECTOR = {
    "shipped": "as users run them: the collector on; cgraph pauses it while it evaluates",
    "on": "the collector on for every engine (cgraph's own pause turned off)",
    "off": "the collector off for every engine",
}


@contextlib.contextmanager
def collector(state: str):
    """Python's garbage collector in one of the COLLECTOR states, for the engines run inside."""
    own_pause = cgraph_cli.core.engine.paused_gc
    if state == "on":
        cgraph_cli.core.engine.paused_gc = contextlib.nullcontext
    was = gc.isenabled()
    gc.enable() if state in ("shipped", "on") else gc.disable()
    try:
        yield
    finally:
        cgraph_cli.core.engine.paused_gc = own_pause
        gc.enable() if was else gc.disable()


def operand(a, values):
    """A node's operand: a value by position, or a literal number as it is."""
    return a[1] if isinstance(a, tuple) else values[a]


def draft_of(inputs, nodes) -> Draft:
    draft = Draft("bench")
    k = len(inputs)
    for i, v in enumerate(inputs):
        draft.add_input(f"x{i}", v)
    for j, (op, *args) in enumerate(nodes):
        draft.add_node(f"x{k + j}", op, tuple(a[1] if isinstance(a, tuple) else f"x{a}" for a in args))
    return draft


def cgraph_cases(inputs, nodes):
    """cgraph's two columns: the first run of a graph built in Python (compile, schedule, run()),
    and a later run() of it. Each returns (output, input gradients) for the agreement check."""
    draft = draft_of(inputs, nodes)
    names = [f"x{i}" for i in range(len(inputs))]
    kept: dict = {}

    def first():
        with cgraph_cli.core.engine.paused_gc():  # as the loader compiles (turned off with the collector "on")
            plan = compile_draft(draft)
        graph = kept["graph"] = Graph(plan)
        run = graph.run()
        return run.value, [run.grads[n] for n in names]

    def again():
        run = kept["graph"].run()
        return run.value, [run.grads[n] for n in names]

    return first, again


def plain_case(inputs, nodes):
    """A plain interpreter: an if per op, floats only, no checks: the floor of a Python loop."""

    def run():
        k = len(inputs)
        values = list(inputs) + [0.0] * len(nodes)
        tanh = math.tanh
        for j, node in enumerate(nodes):
            op, x = node[0], operand(node[1], values)
            if op == "add":
                for a in node[2:]:
                    x = x + operand(a, values)
            elif op == "mul":
                x = x * operand(node[2], values)
            elif op == "sub":
                x = x - operand(node[2], values)
            elif op == "div":
                x = x / operand(node[2], values)
            elif op == "pow":
                x = x ** operand(node[2], values)
            elif op == "neg":
                x = -x
            elif op == "relu":
                x = x if x > 0 else 0.0
            else:
                x = tanh(x)
            values[k + j] = x
        grads = [0.0] * len(values)
        grads[-1] = 1.0
        for j in range(len(nodes) - 1, -1, -1):
            node, d = nodes[j], grads[k + j]
            op, a = node[0], node[1]
            b = node[2] if len(node) > 2 else None
            if op == "add":
                for c in node[1:]:
                    grads[c] += d
            elif op == "mul":
                grads[a] += d * operand(b, values)
                if not isinstance(b, tuple):
                    grads[b] += d * values[a]
            elif op == "sub":
                grads[a] += d
                if not isinstance(b, tuple):
                    grads[b] -= d
            elif op == "div":
                grads[a] += d / operand(b, values)
            elif op == "pow":
                p = operand(b, values)
                grads[a] += d * p * values[a] ** (p - 1)
            elif op == "neg":
                grads[a] -= d
            elif op == "relu":
                grads[a] += d if values[a] > 0 else 0.0
            else:
                y = values[k + j]
                grads[a] += d * (1 - y * y)
        return values[-1], grads[:k]

    return run


def replay(vs: list, nodes, tanh, relu, keep=None) -> list:
    """The graph's nodes computed on an autograd library's values `vs` (its inputs), each op as that
    library writes it, literals as plain numbers; `keep(x)` is called on each node (PyTorch's
    retain_grad)."""
    for op, *args in nodes:
        x = operand(args[0], vs)
        if op == "add":
            for a in args[1:]:
                x = x + operand(a, vs)
        elif op == "mul":
            x = x * operand(args[1], vs)
        elif op == "sub":
            x = x - operand(args[1], vs)
        elif op == "div":
            x = x / operand(args[1], vs)
        elif op == "pow":
            x = x ** operand(args[1], vs)
        elif op == "neg":
            x = -x
        elif op == "relu":
            x = relu(x)
        else:
            x = tanh(x)
        if keep is not None:
            keep(x)
        vs.append(x)
    return vs


def micrograd_case(inputs, nodes):
    from micrograd.engine import Value

    if not hasattr(Value, "tanh"):

        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,), "tanh")

            def _backward():
                self.grad += (1 - t * t) * out.grad

            out._backward = _backward
            return out

        Value.tanh = tanh

    def build_and_run(result):
        xs = [Value(x) for x in inputs]
        vs = replay(list(xs), nodes, Value.tanh, Value.relu)
        vs[-1].backward()
        result.append((vs[-1].data, [x.grad for x in xs]))

    def run():
        # micrograd's topological sort recurses once per node: room for a deep chain, in a thread
        # (made before the clock starts: see timed)
        result: list = []
        worker = threading.Thread(target=build_and_run, args=(result,))
        worker.start()
        worker.join()
        return result[0]

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(nodes) + 1000))
    threading.stack_size(1 << 29)
    return run


def torch_case(inputs, nodes):
    import torch

    torch.set_num_threads(1)

    def run():
        xs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
        vs = replay(list(xs), nodes, torch.tanh, torch.relu, torch.Tensor.retain_grad)  # every node's gradient
        vs[-1].backward()
        return vs[-1].item(), [0.0 if x.grad is None else x.grad.item() for x in xs]

    return run


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def agree(reference, other) -> bool:
    """Whether another engine's (output, input gradients) is cgraph's, within 1e-9 relative."""
    (value, grads), (value2, grads2) = reference, other
    scale = max(1.0, max((abs(g) for g in grads), default=0.0))
    return math.isclose(value, value2, rel_tol=1e-9, abs_tol=1e-12) and all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * scale) for a, b in zip(grads, grads2)
    )


def timed(fn):
    """fn as an interleaved case: the CPU seconds of one call."""

    def run() -> float:
        start = time.process_time()
        fn()
        return time.process_time() - start

    return run


def measure(shape: str, n: int, repeat: int, states: list[str]) -> dict:
    """Median CPU ns per node of each engine, per collector state, on one graph."""
    inputs, nodes = SHAPES[shape](n)
    first, again = cgraph_cases(inputs, nodes)
    engines = {"cgraph, first": first, "cgraph, again": again, "plain Python": plain_case(inputs, nodes)}
    if available("micrograd"):
        engines["micrograd"] = micrograd_case(inputs, nodes)
    if available("torch"):
        engines["PyTorch"] = torch_case(inputs, nodes)
    reference = first()
    for name, run in list(engines.items()):
        if not agree(reference, run()):
            print(f"warning: {name} disagrees with cgraph on {shape}; left out", file=sys.stderr)
            del engines[name]
    out = {}
    for state in states:
        gc.collect()
        with collector(state):
            medians = interleaved({name: timed(run) for name, run in engines.items()}, repeat, time.process_time)
        out[state] = {name: seconds / len(nodes) * 1e9 for name, seconds in medians.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e5")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--collector", default="shipped,on,off", help="the collector states to measure")
    args = parser.parse_args()
    states = args.collector.split(",")
    rows: dict = {state: [] for state in states}
    for shape in args.shapes.split(","):
        for size in args.sizes.split(","):
            n = int(float(size))
            for state, ns in measure(shape, n, args.repeat, states).items():
                rows[state].append((shape, n, ns))
    columns = ("cgraph, first", "cgraph, again", "micrograd", "PyTorch", "plain Python")
    for state in states:
        print(f"\nCollector {state}: {COLLECTOR[state]}\n")
        print("| shape | nodes | " + " | ".join(columns) + " | micrograd ÷ first | micrograd ÷ again |")
        print("|---|---|" + "---|" * (len(columns) + 2))
        for shape, n, ns in rows[state]:
            cells = [f"{ns[k]:,.0f}" if k in ns else "-" for k in columns]
            firsts = ("cgraph, first", "cgraph, again")
            ratios = [f"{ns['micrograd'] / ns[k]:.1f}" if "micrograd" in ns else "-" for k in firsts]
            print(f"| {shape} | {n:,} | " + " | ".join(cells + ratios) + " |")
    print(
        "\nCPU ns per node, forward and backward with every gradient; medians of "
        f"{args.repeat} interleaved runs. cgraph's first run includes compiling the graph and its schedule."
    )


if __name__ == "__main__":
    main()
