"""Helpers shared by the benchmarks: a chain graph file, and medians of interleaved runs."""

from __future__ import annotations

import statistics
import time


def chain_yaml(n: int) -> str:
    """A chain x0 -> x1 -> ... of n nodes (one input, n - 1 add nodes) as YAML text."""
    lines = ["# a chain for benchmarks", "inputs: {x0: 0.5}", "nodes:"]
    lines += [f"  x{i}: {{op: add, inputs: [x{i - 1}, 1]}}" for i in range(1, n)]
    return "\n".join(lines) + "\n"


def interleaved(cases: dict, repeat: int) -> dict:
    """Run each case once per round, `repeat` rounds, so noise hits all alike; median seconds each."""
    times: dict = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}
