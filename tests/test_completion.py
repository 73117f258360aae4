"""Shell completion that knows the graph: file names, and the names in the file given earlier on the
line for --wrt, --of, --set, --vary, --by and seek's NODE=TARGET (the way bash asks, through
_CGRAPH_COMPLETE=bash_complete)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"
CART = str(GRAPHS / "coffee_cart.yaml")
INPUTS = ["price", "unit_cost", "card_fee", "rent"]


def complete(line: str) -> list[tuple[str, str]]:
    """What cgraph offers bash for the last word of `line` (a trailing space: a new word)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    env = {**os.environ, "COMP_WORDS": line, "COMP_CWORD": str(cword), "_CGRAPH_COMPLETE": "bash_complete"}
    done = subprocess.run([sys.executable, "-m", "cgraph_cli"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [tuple(item.split(",", 1)) for item in done.stdout.splitlines() if item]  # type: ignore[misc]


def values(line: str) -> list[str]:
    return [value for _, value in complete(line)]


def test_a_file_argument_completes_file_names():
    assert complete("cgraph run graphs/co") == [("file", "graphs/co")]


@pytest.mark.parametrize(
    "line, expected",
    [
        (f"cgraph grad {CART} --wrt ca", ["card_fee"]),
        (f"cgraph grad {CART} --wrt cups", ["cups_at_zero", "cups_per_dollar", "cups_per_dollar*price", "cups"]),
        (f"cgraph run {CART} --of prof", ["profit"]),
        (f"cgraph run {CART} --set r", ["rent="]),
        (f"cgraph run {CART} --set cups_", ["cups_at_zero=", "cups_per_dollar="]),  # constants can be set
        (f"cgraph run {CART} --sweep pr", ["price="]),
        (f"cgraph descend {CART} --vary price,u", ["price,unit_cost"]),
        (f"cgraph seek {CART} prof", ["profit="]),
        (f"cgraph seek {CART} profit=0 --by ", INPUTS),
        (f"cgraph optimize {CART} --vary ", INPUTS),  # inputs, not the constants: they take no gradient
        (f"cgraph optimize {CART} --maximize pro", ["profit"]),
    ],
)
def test_names_come_from_the_file_earlier_on_the_line(line, expected):
    assert values(line) == expected


def test_without_a_readable_file_there_is_nothing_to_offer_and_no_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: {x: [\n")
    assert values(f"cgraph grad {bad} --wrt ") == []
    assert values(f"cgraph grad {tmp_path / 'missing.yaml'} --wrt ") == []
