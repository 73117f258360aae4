"""Two installs of cgraph side by side, in one run: before and after a change, like with like.

    python bench/versus.py BEFORE_PYTHON:BEFORE_BENCH AFTER_PYTHON:AFTER_BENCH [--shapes ...] [--rounds 5]

Each side is a Python with its own cgraph installed (a venv per version, `pip install .`) and the
bench/ folder of its tree (for the same graph shapes, bench/common.py). Rounds alternate the sides
shape by shape, each case in a fresh interpreter, so that the machine's noise hits both alike.
Per case, CPU ns per node through the documented API: `cg.loads` of the graph's JSON text, the
first `run()` (schedule included) reading every input's gradient, a later `run()` the same way,
and micrograd on the same graph in the same interpreter; medians, and micrograd's time over each.
The collector is as users run it: on, cgraph pausing its own while it evaluates.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CASE = r"""
import gc, json, sys, time
sys.path.insert(0, sys.argv[1])
from common import SHAPES, as_json
from engine import micrograd_case
import cgraph_cli as cg
inputs, nodes = SHAPES[sys.argv[2]](int(float(sys.argv[3])))
text = as_json(inputs, nodes)
names = [f"x{i}" for i in range(len(inputs))]
gc.collect()
t = time.process_time(); g = cg.loads(text); load = time.process_time() - t
t = time.process_time(); r = g.run(); [r.grads[k] for k in names]; first = time.process_time() - t
t = time.process_time(); r = g.run(); [r.grads[k] for k in names]; again = time.process_time() - t
mg = micrograd_case(inputs, nodes)
t = time.process_time(); mg(); micro = time.process_time() - t
k = len(nodes) / 1e9
print(json.dumps({"load": load / k, "first": first / k, "again": again / k, "micrograd": micro / k}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", help="PYTHON:BENCH_FOLDER of the version before")
    parser.add_argument("after", help="PYTHON:BENCH_FOLDER of the version after")
    parser.add_argument("--shapes", default="chain,wide,layered,literals,mixed")
    parser.add_argument("--nodes", default="1e5")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sides = {"before": args.before.split(":", 1), "after": args.after.split(":", 1)}
    shapes = args.shapes.split(",")
    results: dict = {(side, shape): [] for side in sides for shape in shapes}
    for _ in range(args.rounds):
        for shape in shapes:
            for side, (python, bench) in sides.items():
                out = subprocess.run(
                    [python, "-c", CASE, bench, shape, args.nodes], capture_output=True, text=True, check=True, cwd="/"
                )
                results[side, shape].append(json.loads(out.stdout))
    print("| shape | side | load | first run | again | micrograd | micrograd ÷ first | micrograd ÷ again |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in shapes:
        for side in sides:
            m = {key: statistics.median(r[key] for r in results[side, shape]) for key in results[side, shape][0]}
            print(
                f"| {shape} | {side} | {m['load']:,.0f} | {m['first']:,.0f} | {m['again']:,.0f} | {m['micrograd']:,.0f}"
                f" | {m['micrograd'] / m['first']:.1f} | {m['micrograd'] / m['again']:.1f} |"
            )


if __name__ == "__main__":
    sys.exit(main())
