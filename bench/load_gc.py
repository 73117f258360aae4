"""Loading a large file with the cyclic garbage collector paused (as cgraph does) and running.

python bench/load_gc.py [--nodes 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import chain_yaml, interleaved  # noqa: E402

from cgraph_cli.read.loader import load_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = chain_yaml(args.nodes)

    def gc_running():
        with mock.patch.object(gc, "disable", lambda: None):  # the loader's pause becomes a no-op
            load_text(text)

    medians = interleaved({"gc paused": lambda: load_text(text), "gc running": gc_running}, args.repeat)
    print(f"load_text of a {args.nodes:,}-node chain, median of {args.repeat} interleaved runs")
    for name, t in medians.items():
        print(f"  {name:12s} {t:6.2f} s")
    print(f"  ratio running/paused: {medians['gc running'] / medians['gc paused']:.2f}x")


if __name__ == "__main__":
    main()
