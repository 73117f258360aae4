"""The engine against micrograd, PyTorch's scalar autograd, and a plain Python interpreter.

    python bench/engine.py [--sizes 1e5,1e6] [--repeat 3] [--shapes chain,wide,layered]

CPU nanoseconds per node for a forward and a backward pass that gives every node's gradient, on
the same graphs (bench/common.py), interleaved round by round so that noise hits all alike;
medians, and cgraph's speed as a multiple of each other's. cgraph is timed from a compiled plan
(loading is bench/end_to_end.py's business); micrograd and PyTorch build their graph as they
compute, so that is in theirs. micrograd and PyTorch are optional (pip install -e ".[bench]";
PyTorch's CPU build is enough): a missing one is left out of the table.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHAPES, interleaved  # noqa: E402

from cgraph_cli.engine import evaluate  # noqa: E402
from cgraph_cli.graph import Draft, compile_draft, paused_gc  # noqa: E402
from cgraph_cli.schedule import program  # noqa: E402


def cgraph_case(inputs, nodes):
    draft = Draft("bench")
    k = len(inputs)
    for i, v in enumerate(inputs):
        draft.add_input(f"x{i}", v)
    for j, (op, *args) in enumerate(nodes):
        draft.add_node(f"x{k + j}", op, tuple(f"x{a}" for a in args))
    plan = compile_draft(draft)
    with paused_gc():  # as the first evaluation makes it
        start = time.process_time()
        program(plan, plan.values)  # the schedule is made once per plan
        schedule_seconds = time.process_time() - start

    def run():
        start = time.process_time()
        evaluate(plan)
        return time.process_time() - start

    run.schedule_seconds = schedule_seconds
    return run


def plain_case(inputs, nodes):
    """A plain interpreter: an if per op, floats only, no checks: the floor of a Python loop."""

    def run():
        k = len(inputs)
        values = list(inputs) + [0.0] * len(nodes)
        tanh = math.tanh
        start = time.process_time()
        for j, node in enumerate(nodes):
            op = node[0]
            if op == "add":
                v = values[node[1]]
                for a in node[2:]:
                    v = v + values[a]
            elif op == "mul":
                v = values[node[1]] * values[node[2]]
            elif op == "sub":
                v = values[node[1]] - values[node[2]]
            else:
                v = tanh(values[node[1]])
            values[k + j] = v
        grads = [0.0] * len(values)
        grads[-1] = 1.0
        for j in range(len(nodes) - 1, -1, -1):
            node, d = nodes[j], grads[k + j]
            op = node[0]
            if op == "add":
                for a in node[1:]:
                    grads[a] += d
            elif op == "mul":
                grads[node[1]] += d * values[node[2]]
                grads[node[2]] += d * values[node[1]]
            elif op == "sub":
                grads[node[1]] += d
                grads[node[2]] -= d
            else:
                y = values[k + j]
                grads[node[1]] += d * (1 - y * y)
        return time.process_time() - start

    return run


def replay(vs: list, nodes, tanh, keep=None) -> list:
    """The graph's nodes computed on an autograd library's values `vs` (its inputs), each op as that
    library writes it; `keep(x)` is called on each node (PyTorch's retain_grad)."""
    for op, *args in nodes:
        x = vs[args[0]]
        if op == "add":
            for a in args[1:]:
                x = x + vs[a]
        elif op == "mul":
            x = x * vs[args[1]]
        elif op == "sub":
            x = x - vs[args[1]]
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
        start = time.process_time()
        vs = replay([Value(x) for x in inputs], nodes, Value.tanh)
        vs[-1].backward()
        result.append(time.process_time() - start)

    def run():
        # micrograd's topological sort recurses once per node: room for a million-deep chain
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(nodes) + 1000))
        threading.stack_size(1 << 29)
        result: list = []
        worker = threading.Thread(target=build_and_run, args=(result,))
        worker.start()
        worker.join()
        return result[0]

    return run


def torch_case(inputs, nodes):
    import torch

    torch.set_num_threads(1)

    def run():
        start = time.process_time()
        vs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
        vs = replay(vs, nodes, torch.tanh, torch.Tensor.retain_grad)  # every node's gradient, as cgraph gives
        vs[-1].backward()
        return time.process_time() - start

    return run


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def measure(shape: str, n: int, repeat: int) -> dict:
    """Median CPU ns per node for each engine on one graph."""
    inputs, nodes = SHAPES[shape](n)
    cases = {"cgraph": cgraph_case(inputs, nodes), "plain Python": plain_case(inputs, nodes)}
    schedule_seconds = cases["cgraph"].schedule_seconds
    if available("micrograd"):
        cases["micrograd"] = micrograd_case(inputs, nodes)
    if available("torch"):
        cases["PyTorch"] = torch_case(inputs, nodes)
    gc.collect()
    medians = interleaved(cases, repeat, clock=time.process_time)
    medians["schedule"] = schedule_seconds
    return {name: seconds / n * 1e9 for name, seconds in medians.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e5,1e6")
    parser.add_argument("--shapes", default="chain,wide,layered")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        "| shape | nodes | cgraph | plain Python | micrograd | PyTorch, every grad | × micrograd | × PyTorch "
        "| cgraph's schedule, once |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for shape in args.shapes.split(","):
        for size in args.sizes.split(","):
            n = int(float(size))
            ns = measure(shape, n, args.repeat)
            cells = [f"{ns[k]:,.0f}" if k in ns else "-" for k in ("cgraph", "plain Python", "micrograd", "PyTorch")]
            ratios = [f"{ns[k] / ns['cgraph']:.1f}" if k in ns else "-" for k in ("micrograd", "PyTorch")]
            print(f"| {shape} | {n:,} | " + " | ".join([*cells, *ratios, f"{ns['schedule']:,.0f}"]) + " |", flush=True)
    print(
        "\nCPU ns per node for a forward and a backward pass giving every node's gradient (median of"
        " interleaved runs); × is cgraph's speed-up. cgraph's schedule (levels, groups, derivative shapes)"
        " is made once per graph, on its first evaluation, and is not in its column; micrograd and PyTorch"
        " build their graph as they compute, which is in theirs."
    )


if __name__ == "__main__":
    main()
