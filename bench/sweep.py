"""Sweeps: a million scenarios of graphs/apples_oranges.yaml, vectorized, against a Python loop.

    python bench/sweep.py [--repeat 5] [--loop 20000]

The sweep is apple = 1..1000 by 1 and tax = 1..2 by 0.001: 1,001,000
scenarios, every gradient of each. "vectorized" is cgraph's sweep (one
forward and one backward pass over numpy arrays); "scalar loop" is a Python
loop calling cgraph's scalar engine once per scenario, timed on `--loop`
scenarios and scaled to the whole grid; "end to end" is the command, CSV out.
CPU seconds, medians of interleaved runs.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loop", type=int, default=20_000, help="scenarios the scalar loop is timed on")
    args = parser.parse_args()

    from cgraph_cli.commands.sweep import sweep
    from cgraph_cli.core.engine import evaluate
    from cgraph_cli.read.loader import load_text

    plan = load_text((ROOT / "graphs" / "apples_oranges.yaml").read_text())
    apples = [float(a) for a in range(1, 1001)]
    taxes = [1 + k * 0.001 for k in range(1001)]
    total = len(apples) * len(taxes)
    sample = [(a, t) for a in apples for t in taxes][:: max(1, total // args.loop)][: args.loop]

    def vectorized() -> None:
        result = sweep(plan, [("apple", apples), ("tax", taxes)])
        assert result.size == total and not result.failed

    def loop() -> float:
        start = time.process_time()
        for a, t in sample:
            evaluate(plan, {"apple": a, "tax": t})
        return (time.process_time() - start) * total / len(sample)

    def end_to_end() -> float:
        command = [sys.executable, "-m", "cgraph_cli", "run", "graphs/apples_oranges.yaml", "--csv"]
        command += ["--sweep", "apple=1:1000:1", "--sweep", "tax=1:2:0.001"]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    times = interleaved(
        {"vectorized": vectorized, "scalar loop": loop, "end to end": end_to_end}, args.repeat, time.process_time
    )
    print(f"{total:,} scenarios of graphs/apples_oranges.yaml, median of {args.repeat}\n")
    print("| how | seconds | × vectorized |")
    print("|---|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.3f} | {seconds / times['vectorized']:.1f} |")
    print("\nend to end is wall time (start-up, evaluation and 1,001,000 CSV rows); the others CPU time.")


if __name__ == "__main__":
    main()
