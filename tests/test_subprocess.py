"""The installed `cgraph` as a user runs it: a real process, real pipes, real exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import GRAPHS

BIN = Path(sys.executable).parent
CGRAPH = shutil.which("cgraph", path=str(BIN)) or shutil.which("cgraph")
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
ENV.pop("FORCE_COLOR", None)


@pytest.fixture(scope="module")
def cgraph():
    assert CGRAPH, "the cgraph console script is not installed: pip install -e '.[test]'"

    def run(*args, input=None, **kw):
        return subprocess.run(
            [CGRAPH, *map(str, args)], input=input, capture_output=True, text=True, env=ENV, timeout=300, **kw
        )

    return run


def test_run_as_a_user_would(cgraph):
    result = cgraph("run", GRAPHS / "apples.yaml")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.splitlines()[0] == "apples: price = 220.00000000000003"


def test_json_through_a_pipe_and_stdin(cgraph):
    text = (GRAPHS / "apples_oranges.yaml").read_text()
    data = json.loads(cgraph("run", "-", "--json", input=text).stdout)
    assert data["value"] == 715.0000000000001 and data["graph"] == "apples_oranges"


def test_python_dash_m_works_too():
    result = subprocess.run(
        [sys.executable, "-m", "cgraph_cli", "grad", GRAPHS / "apples.yaml", "--wrt", "tax", "--json"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert json.loads(result.stdout)["gradients"] == {"tax": 200}


def test_errors_have_no_traceback_and_the_right_exit_code(cgraph, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: {x: 0}\nnodes: {y: {op: log, inputs: [x]}}\n")
    result = cgraph("run", bad)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"cgraph: error: {bad}:2:9: node 'y' = log(0): log of a non-positive number\n"
    result = cgraph("run", bad, "--nope")
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr


def test_json_does_not_import_rich():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cgraph_cli", "run", GRAPHS / "apples.yaml", "--json"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert result.returncode == 0
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    assert "yaml" in imported and not [m for m in imported if m.startswith("rich")]


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    big = tmp_path / "wide.yaml"
    big.write_text(
        "inputs: {x: 1}\nnodes:\n"
        + "".join(f"  n{i}: {{op: neg, inputs: [x]}}\n" for i in range(3000))
        + "output: n0\n"
    )
    producer = subprocess.Popen([CGRAPH, "run", big], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    producer.stdout.readline()
    producer.stdout.close()  # like `| head -1`
    stderr = producer.stderr.read().decode()
    producer.wait(timeout=120)
    assert "Traceback" not in stderr and "Exception" not in stderr


@pytest.mark.slow
def test_a_100k_node_chain_through_the_whole_cli(cgraph, tmp_path):
    n = 100_000
    path = tmp_path / "chain.yaml"
    path.write_text(
        "inputs: {x0: 0.5}\nnodes:\n" + "".join(f"  x{i}: {{op: add, inputs: [x{i - 1}, 1]}}\n" for i in range(1, n))
    )
    result = cgraph("grad", path, "--wrt", "x0", "--wrt", f"x{n // 2}", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "graph": "chain",
        "of": f"x{n - 1}",
        "value": 0.5 + (n - 1),
        "gradients": {"x0": 1, f"x{n // 2}": 1},
    }
