"""Gradient descent on graphs/two_layer_net.yaml: cgraph's step against the same step in plain numpy.

    python bench/descend.py [--repeat 5] [--steps 1000] [--batch 100]

"cgraph descend" is one step of cgraph's descent (the array engine: a forward
and a backward pass, one numpy call per node, then the update); "plain numpy"
is the book's TwoLayerNet step written out by hand (Affine, ReLU, Affine,
Softmax-with-Loss forward, their backward, the update), on the same data and
weights. `--batch` repeats the data to make the batch larger. Milliseconds per
step, medians of interleaved runs of `--steps` steps each; "end to end" is the
command itself (`cgraph descend ... --steps N --json`), start-up and loading included.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NET = ROOT / "graphs" / "two_layer_net.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100, help="rows of data (the 100 points, repeated)")
    args = parser.parse_args()

    import numpy as np

    from cgraph_cli.commands.descend import descend
    from cgraph_cli.read.loader import load_bytes

    plan = load_bytes(NET.read_bytes(), str(NET))
    for name in ("X", "t"):  # a larger batch: the same points again
        i = plan.index[name]
        reps = -(-args.batch // len(plan.values[i]))
        plan.values[i] = np.concatenate([plan.values[i]] * reps)[: args.batch]
    start = {name: plan.values[plan.index[name]].copy() for name in ("W1", "b1", "W2", "b2")}
    X, t = plan.values[plan.index["X"]], plan.values[plan.index["t"]].astype(int)
    lr = 0.5

    def by_cgraph() -> float:
        began = time.process_time()
        run = descend(plan, ["W1", "b1", "W2", "b2"], lr, args.steps)
        by_cgraph.loss = run.losses[-1]
        return time.process_time() - began

    def by_numpy() -> float:
        W1, b1, W2, b2 = (start[k].copy() for k in ("W1", "b1", "W2", "b2"))
        n = len(X)
        began = time.process_time()
        for _ in range(args.steps + 1):
            a1 = X @ W1 + b1
            z1 = np.where(a1 > 0, a1, 0.0)
            a2 = z1 @ W2 + b2
            shifted = a2 - a2.max(axis=1, keepdims=True)
            log_y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            loss = -log_y[np.arange(n), t].sum() / n
            dy = np.exp(log_y)
            dy[np.arange(n), t] -= 1
            dy /= n
            dW2, db2 = z1.T @ dy, dy.sum(axis=0)
            dz1 = dy @ W2.T
            da1 = dz1 * (a1 > 0)
            dW1, db1 = X.T @ da1, da1.sum(axis=0)
            W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
        by_numpy.loss = loss
        return time.process_time() - began

    times = interleaved({"cgraph descend": by_cgraph, "plain numpy": by_numpy}, args.repeat)
    ms = {name: 1000 * seconds / (args.steps + 1) for name, seconds in times.items()}
    ratio = ms["cgraph descend"] / ms["plain numpy"]
    print(f"two_layer_net, batch {args.batch}, 2 -> 10 -> 2, {args.steps} steps, median of {args.repeat}, CPU ms/step")
    print(f"  cgraph descend  {ms['cgraph descend']:8.4f}   final loss {by_cgraph.loss:.6g}")
    print(f"  plain numpy     {ms['plain numpy']:8.4f}   final loss {by_numpy.loss:.6g}")
    print(f"  ratio           {ratio:8.2f}")
    if args.batch == 100:
        command = [sys.executable, "-m", "cgraph_cli", "descend", str(NET), "--vary", "W1,b1,W2,b2"]
        command += ["--lr", "0.5", "--steps", str(args.steps), "--json"]
        walls = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            walls.append(time.perf_counter() - began)
        print(f"  end to end      {sorted(walls)[len(walls) // 2]:8.3f} s wall for the command")


if __name__ == "__main__":
    main()
