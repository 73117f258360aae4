"""Start-up: wall time of `cgraph run` against importing its two unavoidable dependencies.

    python bench/startup.py [--repeat 21]
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    cgraph = shutil.which("cgraph", path=str(Path(sys.executable).parent)) or shutil.which("cgraph")
    apples = str(ROOT / "graphs" / "apples.yaml")

    def runner(cmd):
        return lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    cases = {
        "python -c pass": runner([sys.executable, "-c", "pass"]),
        "python -c 'import yaml, click'": runner([sys.executable, "-c", "import yaml, click"]),
        "cgraph run apples.yaml --json": runner([cgraph, "run", apples, "--json"]),
        "cgraph run apples.yaml (table)": runner([cgraph, "run", apples]),
    }
    medians = interleaved(cases, args.repeat)
    base = medians["python -c 'import yaml, click'"]
    print(f"median of {args.repeat} interleaved runs each")
    for name, t in medians.items():
        print(f"  {name:34s} {t * 1000:7.1f} ms   {t / base:5.2f}x of import yaml, click")
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "cgraph_cli", "run", apples, "--json"],
                         capture_output=True, text=True, check=True)
    rich = [line for line in out.stderr.splitlines() if "rich" in line]
    print(f"  modules from rich imported by run --json: {len(rich)}")


if __name__ == "__main__":
    main()
