"""Golden outputs for every graph in graphs/: what each command prints, kept in tests/golden/.

Regenerate after an intended change with `python -m tests.golden_cases` (it
also redraws the README's pictures in docs/, with Graphviz), then read the
diff: every changed number must be explained.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cgraph_cli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
COMMANDS = {"run.txt": ["run"], "run.json": ["run", "--json"], "grad.json": ["grad", "--json"]}
PICTURES = ["apples", "apples_oranges"]  # drawn into docs/ for the README


def graph_files() -> list[Path]:
    """Every example graph."""
    return sorted((ROOT / "graphs").glob("*.yaml"))


def scalar_graph_files() -> list[Path]:
    """The examples whose values are numbers (not arrays): what derive, the Hessian and sweeps take."""
    from cgraph_cli.read.loader import load_bytes

    return [graph for graph in graph_files() if not load_bytes(graph.read_bytes(), str(graph)).arrays]


def render(graph: Path, args: list[str]) -> str:
    """What `cgraph ARGS FILE` prints, run from the project root so paths stay relative."""
    result = CliRunner().invoke(cli, [*args, str(graph.relative_to(ROOT))], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def golden_path(graph: Path, suffix: str) -> Path:
    return GOLDEN / f"{graph.stem}.{suffix}"


if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    GOLDEN.mkdir(exist_ok=True)
    for graph in graph_files():
        for suffix, args in COMMANDS.items():
            golden_path(graph, suffix).write_text(render(graph, args), encoding="utf-8")
            print("wrote", golden_path(graph, suffix).relative_to(ROOT))
    for stem in PICTURES:  # needs Graphviz's dot
        result = CliRunner().invoke(cli, ["draw", f"graphs/{stem}.yaml", "--precision", "6", "-o", f"docs/{stem}.svg"])
        assert result.exit_code == 0, result.stderr
        print("wrote", f"docs/{stem}.svg")
    # The README's tornado (needs matplotlib: the plot extra).
    result = CliRunner().invoke(cli, ["tornado", "graphs/subscription_profit.yaml", "--plot", "docs/tornado.svg"])
    assert result.exit_code == 0, result.stderr
    print("wrote docs/tornado.svg")
