"""Stopping early: descend --tol and its reason; Ctrl-C in descend and --sweep keeps what was done."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cgraph_cli as cg

from .conftest import ctrl_c_on_call

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def test_tol_stops_descent_where_the_loss_stops_moving_and_says_so(invoke):
    args = ["descend", str(GRAPHS / "rosenbrock.yaml"), "--vary", "x0,x1", "--lr", "0.001", "--steps", "200000"]
    out = json.loads(invoke(*args, "--tol", "1e-14", "--json").stdout)
    steps = out["steps"]
    assert (
        steps < 200000 and out["stopped"].startswith("the loss changed by") and f"at step {steps:,}" in out["stopped"]
    )
    losses = [record["loss"] for record in out["trace"]]
    assert abs(losses[-1] - losses[-2]) <= 1e-14 < min(abs(a - b) for a, b in zip(losses[:-2], losses[1:-1]))
    table = invoke(*args, "--tol", "1e-14").stdout
    assert "stopped: the loss changed by" in table.splitlines()[0]
    full = json.loads(invoke(*args[:-1], "1000", "--json").stdout)
    assert full["stopped"] is None and full["steps"] == 1000


def test_tol_stops_where_the_gradient_vanishes():
    graph = cg.loads("inputs: {x: 3.0, y: -1.0}\nnodes:\n  f: (x - 1) ** 2 + (y + 2) ** 2\n")
    # with lr 0.5 a step x -= 0.5 * 2 (x - 1) lands on the minimum: the gradient is 0 at step 1,
    # where the loss has just fallen by 5
    from cgraph_cli.commands.descend import descend

    run = descend(graph.plan, ["x", "y"], 0.5, 1000, tol=1e-9)
    assert run.losses == [5.0, 0.0] and run.final == {"x": 1.0, "y": -2.0}
    assert run.stopped == "the gradient's norm 0 fell to --tol 1e-09 at step 1"


def test_ctrl_c_in_descend_prints_the_steps_done_and_exits_130(tmp_path):
    env = {**os.environ, "COLUMNS": "200"}
    args = [sys.executable, "-m", "cgraph_cli", "descend", str(GRAPHS / "rosenbrock.yaml"), "--vary", "x0,x1"]
    proc = subprocess.Popen(
        [*args, "--lr", "0.001", "--steps", "1000000", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    data = json.loads(out)
    assert data["stopped"].startswith("interrupted (Ctrl-C) after step") and 0 < data["steps"] < 1000000
    assert len(data["trace"]) == data["steps"] + 1 and data["loss"] == data["trace"][-1]["loss"]
    assert "interrupted (Ctrl-C)" in err


def test_ctrl_c_in_a_sweep_keeps_the_chunks_done(invoke, graph_file, monkeypatch):
    from cgraph_cli.commands import sweep as sweep_module
    from cgraph_cli.core import arrays

    monkeypatch.setattr(arrays, "scenarios", ctrl_c_on_call(arrays.scenarios, 3))
    monkeypatch.setattr(sweep_module, "CHUNK_CELLS", 20)  # 10 scenarios a chunk for this graph of 2 nodes
    path = graph_file("inputs: {x: 1.0}\nnodes:\n  y: x * x\n")
    result = invoke("run", path, "--sweep", "x=0:99:1", "--csv")
    assert result.exit_code == 130
    rows = result.stdout.splitlines()
    assert rows[0] == "x,y,d(y)/d(x)" and len(rows) == 1 + 20  # the two chunks done, whole
    assert rows[-1] == "19.0,361.0,38.0" and "20 of 100 scenarios done" in result.stderr


@pytest.mark.parametrize("tol", ["-1", "nan"])
def test_a_meaningless_tol_is_refused(invoke, tol):
    result = invoke("descend", str(GRAPHS / "rosenbrock.yaml"), "--vary", "x0", "--tol", tol)
    assert result.exit_code == 2 and "--tol" in result.stderr and math.isfinite(1.0)


def test_ctrl_c_in_optimize_keeps_the_best_of_the_starts_done(invoke, monkeypatch):
    import scipy.optimize

    monkeypatch.setattr(scipy.optimize, "minimize", ctrl_c_on_call(scipy.optimize.minimize, 3))
    args = ["optimize", str(GRAPHS / "rosenbrock.yaml"), "--minimize", "y", "--vary", "x0=-2:2,x1=-2:2"]
    result = invoke(*args, "--starts", "5", "--json")
    assert result.exit_code == 130
    out = json.loads(result.stdout)
    assert len(out["starts"]) == 2 and out["value"] == min(start["value"] for start in out["starts"])
    assert "interrupted (Ctrl-C) after 2 of 5 starts" in result.stderr
