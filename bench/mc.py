"""Monte Carlo: samples per second with every gradient, against numpy by hand and against SALib;
Dask's overhead and speed-up; peak memory.

    python bench/mc.py [--samples 1000000] [--repeat 3] [--sobol 32768,131072] [--dask 10000000] [--memory 1e6,1e7]

model   a model of about 120 nodes (3 uncertain inputs, 20 terms sin(a·k/10)·b + c·k, their sum),
        `cgraph mc`'s engine (monte_carlo: drawing, forward, every gradient) against the same
        model written by hand in numpy (drawing with numpy, the values and the three gradients
        worked out on paper). Target: within 2x.
sobol   first-order and total Sobol indices with 95% intervals at the same N: cgraph mc --sobol
        (which also runs the N samples of the plain report) against SALib (its Saltelli sampler,
        the hand model over the N·(D+2) rows, sobol.analyze with as many bootstrap resamples).
        Target: >= 10x faster to the same interval width; both widths are printed.
dask    the streamed run of graphs/subscription_profit.yaml (three uncertain inputs) in process,
        on a local cluster of 1 and of 2 worker processes (started before timing; their start
        is printed apart): the overhead per chunk, and the speed-up. Target: >= 1.6x with 2.
memory  peak resident memory of `cgraph mc` (a fresh process, /usr/bin/time -v) at each size.
CPU or wall seconds as said; medians of interleaved runs (bench/common.py), the collector on for all.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TERMS = 20


def model_text() -> str:
    terms = "\n".join(f"  t{k}: sin(a * {k / 10!r}) * b + c * {k}" for k in range(1, TERMS + 1))
    total = " + ".join(f"t{k}" for k in range(1, TERMS + 1))
    return (
        "inputs:\n"
        '  a: {value: 1, dist: "uniform(0, 2)"}\n'
        '  b: {value: 2, dist: "normal(2, 0.5)"}\n'
        '  c: {value: 1, dist: "triangular(0, 1, 3)"}\n'
        f"nodes:\n{terms}\n  f: {total}\noutput: f\n"
    )


def by_hand(np, n: int, seed: int):
    """The model by hand: draws, the value and the three gradients, over n samples."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2, n)
    b = rng.normal(2, 0.5, n)
    c = rng.triangular(0, 1, 3, n)
    f, ga, gb = np.zeros(n), np.zeros(n), np.zeros(n)
    gc = np.full(n, TERMS * (TERMS + 1) / 2)
    for k in range(1, TERMS + 1):
        w = k / 10
        s = np.sin(a * w)
        f += s * b + c * k
        ga += np.cos(a * w) * w * b
        gb += s
    return f, ga, gb, gc


def hand_values(np, x):
    """The model's values at rows (a, b, c): for SALib."""
    a, b, c = x[:, 0], x[:, 1], x[:, 2]
    f = np.zeros(len(x))
    for k in range(1, TERMS + 1):
        f += np.sin(a * k / 10) * b + c * k
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sobol", default="32768,131072", help="each N for the Sobol comparison")
    parser.add_argument("--dask", type=int, default=10_000_000, help="samples for the Dask runs (0: none)")
    parser.add_argument("--memory", default="1e6,1e7", help="sample counts for the memory runs")
    args = parser.parse_args()

    import numpy as np

    from cgraph_cli.commands.mc import monte_carlo
    from cgraph_cli.read.loader import load_text

    plan = load_text(model_text())
    n = args.samples
    print(f"model: {plan.size} nodes, {n:,} samples, every gradient")
    times = interleaved(
        {"cgraph": lambda: monte_carlo(plan, n) and None, "numpy by hand": lambda: by_hand(np, n, 0) and None},
        args.repeat,
        time.process_time,
    )
    for name, t in times.items():
        print(f"  {name:<14} {t:8.3f} s CPU   {n / t / 1e6:7.2f} M samples/s")
    print(f"  ratio cgraph / numpy by hand: {times['cgraph'] / times['numpy by hand']:.2f}x  (target <= 2x)")

    for big_n in map(int, filter(None, args.sobol.split(","))):
        sobol_bench(np, plan, big_n, args.repeat)

    if args.dask:
        dask_bench(args.dask)
    for size in filter(None, args.memory.split(",")):
        peak(int(float(size)))


def sobol_bench(np, plan, big_n: int, repeat: int) -> None:
    try:
        from SALib.analyze import sobol as salib_sobol
        from SALib.sample import sobol as salib_sample
    except ImportError:
        print("sobol: SALib is not installed (pip install SALib); skipped")
        return
    from cgraph_cli.commands.mc import monte_carlo

    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 2], [2, 0.5], [0, 1, 3]],
               "dists": ["unif", "norm", "triang"]}  # fmt: skip
    problem["bounds"][2] = [0, 3, 1 / 3]  # SALib's triangular: [lo, hi, the mode's place in between]
    salib_n = 1 << round(math.log2(big_n))
    out: dict = {}

    def ours() -> None:
        out["ours"] = monte_carlo(plan, big_n, sobol=True).sobol

    def salib() -> None:
        x = salib_sample.sample(problem, salib_n, calc_second_order=False, seed=0)
        out["salib"] = salib_sobol.analyze(
            problem, hand_values(np, x), calc_second_order=False, num_resamples=200, seed=0
        )

    t = interleaved({"cgraph mc --sobol": ours, "SALib": salib}, repeat, time.process_time)
    print(f"sobol: N = {big_n:,} (SALib: {salib_n:,}), 3 inputs, 200 bootstrap resamples")
    for name, secs in t.items():
        print(f"  {name:<18} {secs:8.3f} s CPU")
    print(f"  ratio SALib / cgraph: {t['SALib'] / t['cgraph mc --sobol']:.2f}x  (target >= 10x)")
    for k, name in enumerate("abc"):
        mine, theirs = out["ours"]["indices"][name], out["salib"]
        print(
            f"  {name}: S1 {mine['first']:.4f} ±{(mine['first_ci'][1] - mine['first_ci'][0]) / 2:.4f} "
            f"vs {theirs['S1'][k]:.4f} ±{theirs['S1_conf'][k]:.4f}; "
            f"ST {mine['total']:.4f} ±{(mine['total_ci'][1] - mine['total_ci'][0]) / 2:.4f} "
            f"vs {theirs['ST'][k]:.4f} ±{theirs['ST_conf'][k]:.4f}"
        )


def dask_bench(n: int) -> None:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask: not installed (the dist extra); skipped")
        return
    import cgraph_cli as cg
    from cgraph_cli.commands import mc
    from cgraph_cli.commands.remote import in_process, on_dask

    graph = cg.load(ROOT / "graphs" / "subscription_profit.yaml")
    dists = {"visitors": "normal(20000, 2000)", "conversion": "uniform(0.02, 0.04)", "churn": "pert(0.03, 0.05, 0.09)"}
    chosen = dict(mc.parse_dist_option(f"{k}={v}", None) for k, v in dists.items())
    chunks = math.ceil(n / max(1, min(mc.CHUNK_CELLS // graph.plan.size, 1_000_000)))

    def run(runner) -> float:
        start = time.perf_counter()
        result = mc.monte_carlo(graph.plan, n, dists=chosen, runner=runner)
        assert result.totals["valid"] == n
        return time.perf_counter() - start

    here = run(in_process)
    print(f"dask: {n:,} samples of subscription_profit.yaml, {chunks} chunks a pass, 3 passes (wall seconds)")
    print(f"  in process        {here:8.2f} s")
    from cgraph_cli.commands.remote import worker_environment

    for workers in (1, 2):
        start = time.perf_counter()
        with worker_environment():
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
        with cluster, Client(cluster) as client:
            started = time.perf_counter() - start
            there = run(on_dask(client))
        overhead = (there - here) / (2 * chunks + 1) if workers == 1 else None
        print(
            f"  {workers} worker{'s' * (workers > 1)}         {there:8.2f} s   (cluster start {started:.2f} s)"
            + (f"   overhead {1000 * overhead:.1f} ms a chunk" if overhead is not None else "")
            + (f"   speed-up {here / there:.2f}x (target >= 1.6x)" if workers == 2 else "")
        )


def peak(n: int) -> None:
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "cgraph_cli", "mc", "graphs/subscription_profit.yaml"]
    command += ["--dist", "visitors=normal(20000, 2000)", "--dist", "conversion=uniform(0.02, 0.04)"]
    command += ["--dist", "churn=pert(0.03, 0.05, 0.09)", "--samples", str(n), "--json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)
    if rss is None:
        print(f"memory: {n:,} samples: /usr/bin/time gave nothing ({done.returncode})")
        return
    print(
        f"memory: {n:,} samples: peak {int(rss.group(1)) / 1024:.0f} MB resident, {wall.group(1) if wall else '?'} wall"
    )


if __name__ == "__main__":
    main()
