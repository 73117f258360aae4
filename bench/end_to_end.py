"""End to end: `cgraph run FILE --json` on a layered graph, against a bare `json.load` of the same file.

    python bench/end_to_end.py [--nodes 1000000] [--repeat 3] [--stages]

Each command runs in its own process, interleaved with the others `--repeat`
times; the table gives median wall seconds, the ratio to the floor, and the
peak resident memory of the process, and how long Ctrl-C takes to stop a run at its
worst. The floor is `json.load` with Python's garbage collector off, as cgraph
runs (it pauses the collector while it loads and evaluates); `json.load` with the
collector on is shown for reference. `--stages` also times each stage in one
process (read, parse and check, compile, schedule, forward, backward, output).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import as_json, as_yaml, interleaved, layered  # noqa: E402

# Runs a command and reports its wall time and peak memory (RUSAGE_CHILDREN of this one child).
_MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measured(cmd: list[str], peaks: dict, name: str):
    def run() -> float:
        out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
        seconds, kib = out.stdout.split()
        peaks[name] = max(peaks.get(name, 0), int(kib) * 1024)
        return float(seconds)

    return run


def interrupt_latency(cmd: list[str], seconds: float) -> float:
    """The longest wait, over Ctrl-Cs sent at moments spread over a run, for the process to exit."""
    worst = 0.0
    for k in range(1, 9):
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(seconds * k / 9)
        if process.poll() is not None:
            continue
        start = time.perf_counter()
        process.send_signal(signal.SIGINT)
        process.wait()
        worst = max(worst, time.perf_counter() - start)
    return worst


def stages(path: Path) -> list[tuple[str, float]]:
    """Seconds per stage of `run --json`, in this process."""
    from cgraph_cli.commands.run import run_json
    from cgraph_cli.core.engine import _backward, _forward
    from cgraph_cli.core.graph import compile_draft, paused_gc
    from cgraph_cli.core.schedule import program
    from cgraph_cli.read import loader

    times = []

    def timed(label, fn):
        start = time.perf_counter()
        value = fn()
        times.append((label, time.perf_counter() - start))
        return value

    with paused_gc():
        text = timed("read and decode", lambda: loader._decode(path.read_bytes(), str(path)))
        draft = timed("parse and check", lambda: loader._fast_draft(text, str(path), "graph"))
        plan = timed("compile", lambda: compile_draft(draft))
        timed("schedule", lambda: program(plan, plan.values))
        slots, schedule = timed("forward", lambda: _forward(plan, {}))
        timed("backward", lambda: _backward(plan, slots, schedule, plan.output_position(None)))
        from cgraph_cli.core.engine import evaluate

        result = evaluate(plan)
        timed("output (JSON text)", lambda: "".join(run_json(result)))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", action="store_true", help="also time each stage in one process")
    args = parser.parse_args()
    cgraph = shutil.which("cgraph", path=str(Path(sys.executable).parent)) or shutil.which("cgraph")
    inputs, nodes = layered(args.nodes)
    with tempfile.TemporaryDirectory() as tmp:
        files = {"JSON": Path(tmp) / "layered.json", "YAML": Path(tmp) / "layered.yaml"}
        files["JSON"].write_text(as_json(inputs, nodes))
        files["YAML"].write_text(as_yaml(inputs, nodes))
        peaks: dict = {}
        size = f"JSON, {files['JSON'].stat().st_size / 1e6:.0f} MB"
        floor = f"json.load, collector off ({size})"
        reference = f"json.load, collector on ({size})"
        load = "import gc, json, sys; {}json.load(open(sys.argv[1]))"
        cases = {
            floor: measured([sys.executable, "-c", load.format("gc.disable(); "), str(files["JSON"])], peaks, floor),
            reference: measured([sys.executable, "-c", load.format(""), str(files["JSON"])], peaks, reference),
            "cgraph run --json (JSON)": measured(
                [cgraph, "run", str(files["JSON"]), "--json"], peaks, "cgraph run --json (JSON)"
            ),
            f"cgraph run --json (YAML, {files['YAML'].stat().st_size / 1e6:.0f} MB)": None,
        }
        yaml_case = list(cases)[3]
        cases[yaml_case] = measured([cgraph, "run", str(files["YAML"]), "--json"], peaks, yaml_case)
        medians = interleaved(cases, args.repeat)
        base = medians[floor]
        print(
            f"`cgraph run FILE --json` on a layered graph of {args.nodes:,} nodes; "
            f"median of {args.repeat} interleaved runs\n"
        )
        print("| command | seconds | × the floor | peak memory |")
        print("|---|---|---|---|")
        for name, t in medians.items():
            print(f"| {name} | {t:.2f} | {t / base:.2f} | {peaks[name] / 2**20:,.0f} MiB |")
        latency = max(
            interrupt_latency([cgraph, "run", str(files[kind]), "--json"], medians[name])
            for kind, name in (("JSON", "cgraph run --json (JSON)"), ("YAML", yaml_case))
        )
        print(f"\nCtrl-C at moments spread over either run: answered within {latency:.2f} s at worst.")
        if args.stages:
            for kind, path in files.items():
                print(f"\nstages, {kind} file, in one process:\n")
                print("| stage | seconds |")
                print("|---|---|")
                for label, t in stages(path):
                    print(f"| {label} | {t:.2f} |")


if __name__ == "__main__":
    main()
