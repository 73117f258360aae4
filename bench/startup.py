"""Start-up: wall time of small cgraph commands against importing what they cannot avoid.

    python bench/startup.py [--repeat 41]

Runs with the Python it is started with, so it measures that environment's
install of cgraph (a plain install, or `pip install -e`, which may add an
import hook to every start). Each command is run `--repeat` times,
interleaved, and the median wall time is compared with its floor:

    cgraph run apples.yaml --json   vs  python -c "import yaml, click"
    cgraph run apples.yaml          vs  python -c "import yaml, click, rich.console, rich.table"
    cgraph --help                   vs  python -c "import click"
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=41)
    args = parser.parse_args()
    cgraph = shutil.which("cgraph", path=str(Path(sys.executable).parent)) or shutil.which("cgraph")
    apples = str(ROOT / "graphs" / "apples.yaml")

    def runner(cmd):
        return lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    py = sys.executable
    pairs = [  # (command, its floor)
        (
            "cgraph run apples.yaml --json",
            [cgraph, "run", apples, "--json"],
            "import yaml, click",
            [py, "-c", "import yaml, click"],
        ),
        (
            "cgraph run apples.yaml",
            [cgraph, "run", apples],
            "import yaml, click, rich.console, rich.table",
            [py, "-c", "import yaml, click, rich.console, rich.table"],
        ),
        ("cgraph --help", [cgraph, "--help"], "import click", [py, "-c", "import click"]),
    ]
    cases = {"python -c pass": runner([py, "-c", "pass"])}
    for name, cmd, floor, floor_cmd in pairs:
        cases[name] = runner(cmd)
        cases[floor] = runner(floor_cmd)
    medians = interleaved(cases, args.repeat)
    print(f"start-up, median wall time of {args.repeat} interleaved runs ({sys.executable})\n")
    print("| command | ms | floor | floor ms | ratio |")
    print("|---|---|---|---|---|")
    for name, _, floor, _ in pairs:
        print(
            f'| `{name}` | {medians[name] * 1000:.1f} | `python -c "{floor}"` | {medians[floor] * 1000:.1f} '
            f"| {medians[name] / medians[floor]:.2f} |"
        )
    print(f"\n`python -c pass`: {medians['python -c pass'] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
