"""Plant known bugs in a copy of cgraph, one at a time, and count the tests that catch each.

The ten bugs are the ones issue 15 planted by hand: small, plausible slips at the edges (a
derivative's order, a kink's convention, a boundary constant, a tolerance). Each must be caught
by at least three tests that do not share the code under test. Usage:

    python dev/planted_bugs.py                  # every bug, the whole suite, as CI runs it
    python dev/planted_bugs.py --only relu0     # one bug
    python dev/planted_bugs.py -- -m "not slow" # arguments after -- go to pytest

Each run copies the tracked files to a temporary folder, applies one patch (its text must occur
exactly once, so a patch that no longer applies is an error, not a silent pass), and runs pytest
there with that copy first on the path. It prints a markdown table, and with --names the failing
tests of each bug.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (what the bug is, file, text, replacement)
BUGS = {
    "mul-swap": (
        "mul (n = 2) returns (x, y) instead of (y, x)",
        "cgraph_cli/core/ops.py",
        "        return y, x  # the book's MulLayer",
        "        return x, y  # the book's MulLayer",
    ),
    "add-drop": (
        "add's derivative drops the last operand",
        "cgraph_cli/core/ops.py",
        "    return (1,) * len(xs)\n",
        "    return (1,) * (len(xs) - 1)\n",
    ),
    "sigmoid": (
        "sigmoid' = y(1 + y)",
        "cgraph_cli/core/ops.py",
        "    return (out * sigmoid(-x),)",
        "    return (out * (1 + out),)",
    ),
    "where-both": (
        "where sends the gradient to both branches",
        "cgraph_cli/core/ops.py",
        "    return 0, where(c, 1, 0), where(c, 0, 1)",
        "    return 0, 1, 1",
    ),
    "sum-axis": (
        "sum's backward ignores its axis (d = dout)",
        "cgraph_cli/core/layers.py",
        "    d = dout if keepdims else np.expand_dims(dout, axes)",
        "    d = dout",
    ),
    "exact+1": (
        "EXACT_INT = 2**53 + 1",
        "cgraph_cli/core/op.py",
        "EXACT_INT = 2**53\n",
        "EXACT_INT = 2**53 + 1\n",
    ),
    "exact-1": (
        "EXACT_INT = 2**53 - 1",
        "cgraph_cli/core/op.py",
        "EXACT_INT = 2**53\n",
        "EXACT_INT = 2**53 - 1\n",
    ),
    "check-tol": (
        "check's pass tolerance x 100",
        "cgraph_cli/commands/check.py",
        "    if abs_error <= atol + rtol * scale:\n",
        "    if abs_error <= 100 * (atol + rtol * scale):\n",
    ),
    "check-margin": (
        "check's FAIL margin x 100",
        "cgraph_cli/commands/check.py",
        "_ERROR_MARGIN = 3.0\n",
        "_ERROR_MARGIN = 300.0\n",
    ),
    "relu0": (
        "relu'(0) = 1",
        "cgraph_cli/core/ops.py",
        "    return (step(x),)  # relu'(0) = 0",
        "    return (ge(x, 0),)  # relu'(0) = 0",
    ),
}


def project_files(root: Path) -> list[str]:
    """The files git tracks, or would (not ignored), in the work tree as it is."""
    listing = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    out = subprocess.run(listing, cwd=root, capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name]


def copy_tree(root: Path, into: Path) -> None:
    for name in project_files(root):
        source = root / name
        if not source.exists():
            continue  # deleted in the work tree, not yet committed
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def plant(tree: Path, file: str, old: str, new: str) -> None:
    path = tree / file
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise SystemExit(f"the patch does not apply: {old!r} occurs {text.count(old)} times in {file}")
    path.write_text(text.replace(old, new), encoding="utf-8")


def run_suite(tree: Path, pytest_args: list[str]) -> tuple[int, int, list[str], float]:
    """(failed, passed, the failing tests' ids, seconds) of pytest run in `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *pytest_args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    failed = int(m.group(1)) if (m := re.search(r"(\d+) failed", tail)) else 0
    failed += int(m.group(1)) if (m := re.search(r"(\d+) errors?", tail)) else 0
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", tail)) else 0
    names = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.MULTILINE)
    if not passed and not failed:
        raise SystemExit(f"pytest said nothing countable:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return failed, passed, names, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(BUGS), help="plant only this bug (repeatable)")
    parser.add_argument("--names", action="store_true", help="list the failing tests of each bug")
    parser.add_argument("--source", type=Path, default=ROOT, help="the work tree to copy (default: this one)")
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = parser.parse_args()
    print("| planted bug | tests that failed | tests run | seconds |")
    print("|---|---|---|---|")
    caught: dict[str, list[str]] = {}
    for name in args.only or BUGS:
        what, file, old, new = BUGS[name]
        with tempfile.TemporaryDirectory(prefix="cgraph-plant-") as tmp:
            tree = Path(tmp)
            copy_tree(args.source, tree)
            plant(tree, file, old, new)
            failed, passed, names, seconds = run_suite(tree, args.pytest_args)
        caught[name] = names
        print(f"| {what} | {failed} | {failed + passed} | {seconds:.0f} |", flush=True)
    if args.names:
        for name, names in caught.items():
            print(f"\n{name}:")
            for test in names:
                print("  ", test)


if __name__ == "__main__":
    main()
