"""The hostile-use cases of the hardening issue: time, peak memory and output size of each.

    python bench/pathological.py [--cgraph PATH] [--limit-gb 8] [--timeout 120]

Each case is a small file that once cost far more than its size. `--cgraph` measures another
installation (an older checkout, say) side by side; a run past the memory limit or the timeout
is reported as such rather than allowed to exhaust the machine.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def product_of_huge_integers() -> str:
    return "inputs: {x: 1" + "0" * 300 + "}\nnodes: {y: {op: mul, inputs: [" + ", ".join(["x"] * 10000) + "]}}\n"


def one_wide_node(n: int = 100_000, width: int = 1000) -> str:
    lines = ["inputs: {x0: 0.5}", "nodes:"]
    lines += [f"  x{i}: {{op: add, inputs: [x{i - 1}, 1]}}" for i in range(1, n - 1)]
    lines.append(f"  wide: {{op: add, inputs: [{', '.join(f'x{i}' for i in range(width))}]}}")
    return "\n".join(lines + ["output: wide"]) + "\n"


def wide_random_dag(n: int = 100_000, fan_in: int = 40_000) -> str:
    rng = random.Random(7)
    lines = ["inputs:"] + [f"  x{i}: {rng.uniform(-1, 1)!r}" for i in range(100)] + ["nodes:"]
    for i in range(100, n - 1):
        a, b = rng.randrange(i), rng.randrange(i)
        lines.append(f"  x{i}: {{op: {rng.choice(['add', 'mul', 'sub'])}, inputs: [x{a}, x{b}]}}")
    lines.append(f"  out: {{op: add, inputs: [{', '.join(f'x{rng.randrange(n - 1)}' for _ in range(fan_in))}]}}")
    return "\n".join(lines + ["output: out"]) + "\n"


def lattice(diamonds: int = 2000) -> str:
    lines = ["inputs: {x0: 1.0}", "nodes:"]
    for k in range(diamonds):
        lines += [
            f"  a{k}: {{op: mul, inputs: [x{k}, 0.5]}}",
            f"  b{k}: {{op: mul, inputs: [x{k}, 0.5]}}",
            f"  x{k + 1}: {{op: add, inputs: [a{k}, b{k}]}}",
        ]
    return "\n".join(lines) + "\n"


CASES = {
    "run: 10,000-factor product of 10**300": (product_of_huge_integers, ["run"]),
    "run: 1e5 nodes, one of 1,000 operands": (one_wide_node, ["run"]),
    "run: wide random 1e5 DAG, 40,000-operand sum": (wide_random_dag, ["run"]),
    "explain --max-paths 100000, 200 KB lattice": (lattice, ["explain", "--wrt", "x0", "--max-paths", "100000"]),
    "run: 500,000-digit number (stderr bytes)": (lambda: "inputs: {x: 1." + "7" * 500_000 + "e99999}\n", ["run"]),
}


def measure(cgraph: str, args: list, path: str, limit: int, timeout: float):
    """(seconds, peak RSS in MB, stdout bytes, stderr bytes, what ended the run)."""

    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([cgraph, args[0], path, *args[1:]], stdout=out, stderr=err, preexec_fn=limits)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                proc.kill()
                _, _, usage = os.wait4(proc.pid, 0)
                return (
                    time.monotonic() - start,
                    usage.ru_maxrss / 1024,
                    out.tell(),
                    err.tell(),
                    f"killed after {timeout:.0f} s",
                )
            time.sleep(0.02)
        seconds = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read(300).decode("utf-8", "replace")
        stopped = f"exit {code}" + (" (out of memory)" if "memory" in text.lower() else "")
        return seconds, usage.ru_maxrss / 1024, out.seek(0, 2), err.seek(0, 2), stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cgraph", default=shutil.which("cgraph", path=str(Path(sys.executable).parent)))
    parser.add_argument("--limit-gb", type=float, default=8)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    limit = int(args.limit_gb * 2**30)
    print(f"{args.cgraph}; memory limit {args.limit_gb:g} GB, timeout {args.timeout:g} s")
    print(f"{'case':48} {'file':>9} {'seconds':>8} {'peak MB':>8} {'stdout':>11} {'stderr':>9}  result")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (make, command) in CASES.items():
            path = Path(tmp) / "case.yaml"
            path.write_text(make(), encoding="utf-8")
            seconds, peak, out, err, stopped = measure(args.cgraph, command, str(path), limit, args.timeout)
            peak_text = "-" if peak is None else f"{peak:,.0f}"
            print(f"{name:48} {path.stat().st_size:>9,} {seconds:>8.2f} {peak_text:>8} {out:>11,} {err:>9,}  {stopped}")


if __name__ == "__main__":
    main()
