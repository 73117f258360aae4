"""Coverage-guided fuzzing of the loader and engine with atheris (not part of the default test run).

    pip install atheris
    mkdir -p /tmp/cgraph-corpus && cp tests/corpus/* /tmp/cgraph-corpus/
    python tests/atheris_loader.py /tmp/cgraph-corpus -max_total_time=600

libFuzzer grows the corpus directory with every input that reaches new code. An input that makes
cgraph raise anything but its own located error stops the run and is saved as crash-<hash>:
copy it into tests/corpus/ (named for what it shows), so the default test run replays it.
"""

import sys

import atheris

with atheris.instrument_imports():
    from cgraph_cli.commands.run import run_json
    from cgraph_cli.core.engine import evaluate
    from cgraph_cli.core.errors import CgraphError
    from cgraph_cli.read.loader import load_bytes


def one_input(data: bytes) -> None:
    try:
        plan = load_bytes(data, "fuzz.yaml", "fuzz")
        run_json(evaluate(plan))
    except CgraphError as e:
        if len(str(e)) > 1200:
            raise AssertionError(f"an error message of {len(str(e))} characters") from None


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
