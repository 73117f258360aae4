"""Every benchmark, one markdown report: the machine, the engine, end to end, start-up.

    python bench/report.py [--quick]

`--quick` runs the small sizes only (1e4 nodes, fewer repeats: a minute, to
see that it all works); the full report (1e5 and 1e6 nodes, as in the README)
takes about half an hour on a 2-core machine, most of it micrograd and
PyTorch. Run it on a quiet machine: every ratio is measured side by side,
but a busy machine still widens the spread.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{datetime.date.today()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes only, to see that it all works")
    args = parser.parse_args()
    engine = ["--sizes", "1e4", "--repeat", "1"] if args.quick else []
    end_to_end = ["--nodes", "10000", "--repeat", "1"] if args.quick else []
    startup = ["--repeat", "5"] if args.quick else []
    sweeps = ["--repeat", "1", "--loop", "2000"] if args.quick else []
    descent = ["--repeat", "1", "--steps", "100"] if args.quick else []
    print(f"Measured {machine()}.\n")
    print("### Engine\n")
    print(run("engine.py", *engine))
    print("\n### End to end\n")
    print(run("end_to_end.py", *end_to_end))
    print("\n### Start-up\n")
    print(run("startup.py", *startup))
    print("\n### Sweeps\n")
    print(run("sweep.py", *sweeps))
    print("\n### Gradient descent on arrays\n")
    print(run("descend.py", *descent))


if __name__ == "__main__":
    main()
