"""Scale: a million-node chain through the engine in memory, and a 100,000-node file through the CLI.

    python bench/scale.py [--nodes 1000000] [--file-nodes 100000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import chain_yaml  # noqa: E402

from cgraph_cli.engine import backward, forward  # noqa: E402
from cgraph_cli.model import Graph, Input, Node, compile_graph  # noqa: E402


def timed(label: str, fn):
    start = time.perf_counter()
    value = fn()
    print(f"  {label:40s} {time.perf_counter() - start:7.2f} s")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--file-nodes", type=int, default=100_000)
    args = parser.parse_args()
    n = args.nodes

    print(f"engine, a chain of {n:,} nodes built in memory")
    graph = timed("build records", lambda: Graph("chain", tuple(
        [Input("x0", 0.5)] + [Node(f"x{i}", "add", (f"x{i - 1}", 1)) for i in range(1, n)])))
    plan = timed("compile (topological order)", lambda: compile_graph(graph))
    values = timed("forward", lambda: forward(plan, {}))
    grads = timed("backward", lambda: backward(plan, values, plan.size - 1))
    assert values[plan.size - 1] == 0.5 + (n - 1) and grads[0] == 1

    cgraph = shutil.which("cgraph", path=str(Path(sys.executable).parent)) or shutil.which("cgraph")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chain.yaml"
        path.write_text(chain_yaml(args.file_nodes))
        size = path.stat().st_size / 1e6
        print(f"CLI, a chain of {args.file_nodes:,} nodes in a {size:.1f} MB YAML file")
        for cmd in (["validate"], ["run", "--json"], ["grad", "--json"], ["run"]):
            timed("cgraph " + " ".join(cmd), lambda: subprocess.run(
                [cgraph, cmd[0], str(path), *cmd[1:]], check=True, stdout=subprocess.DEVNULL))


if __name__ == "__main__":
    main()
