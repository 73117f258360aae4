"""The fuzz suite: random texts, random graphs over every op with hostile numbers, random command
lines. What must hold for all of them:

- the exit status is 0, 1 or 2 (never 70, never a traceback), stdout is empty on an error, and
  an error message is short;
- derive then run equals grad exactly, wherever grad gives a number;
- check never FAILs a correct gradient;
- every file write is whole or not at all.

The default run tries a bounded number of examples per property (the "default" profile in
conftest.py). For a long hunt: `pytest tests/test_fuzz.py --hypothesis-profile=fuzz` (20,000 each).
Inputs that ever failed live in tests/corpus/ and are replayed by the default run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgraph_cli.cli import cli
from cgraph_cli.core.errors import GraphError
from cgraph_cli.core.op import Undefined
from cgraph_cli.read.loader import load_text

from .strategies import almost_yaml, any_graphs, array_files, formula_graphs

CORPUS = Path(__file__).resolve().parent / "corpus"
SLOW = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)


def run_cli(args, input=None):
    return CliRunner().invoke(cli, args, input=input, catch_exceptions=False)


def assert_well_behaved(result, args):
    """Exit 0, 1 or 2; no traceback; on an error, empty stdout and one short message."""
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (args, result.stderr)
    verdict = args[0] == "check" and result.exit_code == 1 and result.stdout  # a check's FAIL is output
    if result.exit_code != 0 and not verdict:
        assert result.stdout == "", args
        assert result.stderr.startswith("cgraph: error: "), (args, result.stderr)
        assert len(result.stderr) < 1200, (args, result.stderr[:300])


COMMANDS = [
    ["run"],
    ["run", "--json"],
    ["grad", "--json"],
    ["validate"],
    ["draw", "--format", "dot"],
    ["draw", "--format", "mermaid", "--no-grad"],
    ["explain", "--steps"],
    ["grad", "--order", "2"],
    ["run", "--precision", "3"],
    ["check", "--json"],
]


@SLOW
@given(almost_yaml())
def test_the_loader_raises_nothing_but_located_graph_errors(text):
    try:
        load_text(text, "fuzz.yaml")
    except GraphError as e:
        assert len(str(e)) < 1200


@SLOW
@given(almost_yaml(), st.sampled_from(COMMANDS))
def test_every_command_behaves_on_almost_yaml(text, command):
    args = [command[0], "-", *command[1:]]
    assert_well_behaved(run_cli(args, input=text), args)


@SLOW
@given(st.one_of(any_graphs(), formula_graphs()), st.sampled_from(COMMANDS))
def test_every_command_behaves_on_hostile_graphs(text, command):
    args = [command[0], "-", *command[1:]]
    assert_well_behaved(run_cli(args, input=text), args)


@SLOW
@given(st.one_of(any_graphs(), formula_graphs()))
def test_derive_equals_grad_and_both_agree_with_the_oracle_on_hostile_graphs(text):
    """Consistency: derive then run equals grad exactly, wherever grad gives a number (both run the
    same `local` code). Independent, on the same graphs: values and gradients agree with the
    autodiff oracle within rounding (tests/test_oracle.py)."""
    from cgraph_cli.commands.derive import derive
    from cgraph_cli.core.engine import evaluate
    from cgraph_cli.show.formats import graph_yaml

    from .test_oracle import compare

    compare(text)  # asserts on any disagreement; a graph without a value must have none there either
    try:
        plan = load_text(text)
        result = evaluate(plan)
    except GraphError:
        return  # a value that is not a number: nothing to derive
    for inp_name in plan.variable_names:
        g = result.grad_of(inp_name)
        if type(g) is Undefined:
            continue
        derived = load_text(graph_yaml(derive(plan, inp_name), ["fuzz"]))
        assert evaluate(derived).value == g, (inp_name, text)


@SLOW
@given(
    any_graphs(
        hostile=False,
        ops=["add", "mul", "sub", "div", "neg", "pow", "exp", "log", "sigmoid", "relu", "tanh", "step"]
        + ["sqrt", "sin", "cos", "abs", "max", "min", "where", "lt", "ge"],
    )
)
def test_check_never_fails_a_correct_gradient(text):
    from cgraph_cli.commands.check import check_gradients as check

    try:
        _, checks = check(load_text(text))
    except GraphError:
        return
    assert not [c for c in checks if c.status == "FAIL"], (
        text,
        [(c.name, c.backprop, c.numeric, c.error) for c in checks],
    )


@SLOW
@given(any_graphs(hostile=True, max_nodes=5))
def test_check_never_fails_a_correct_gradient_at_hostile_magnitudes(text):
    from cgraph_cli.commands.check import check_gradients as check

    try:
        _, checks = check(load_text(text))
    except GraphError:
        return
    assert not [c for c in checks if c.status == "FAIL"], text


_WORDS = [
    "run",
    "grad",
    "validate",
    "ops",
    "draw",
    "explain",
    "check",
    "derive",
    "--json",
    "--wrt",
    "x0",
    "n0",
    "--of",
    "--set",
    "x0=1",
    "x0=nan",
    "x0=",
    "=1",
    "nope=2",
    "--precision",
    "0",
    "3",
    "99",
    "--decimals",
    "--eps",
    "nan",
    "-1",
    "1e-3",
    "--rtol",
    "--atol",
    "--max-paths",
    "--steps",
    "--order",
    "2",
    "--format",
    "svg",
    "dot",
    "mermaid",
    "--no-grad",
    "-o",
    "-",
    "--all",
    "--help",
    "--version",
    "-",
    "FILE",
    "--bogus",
    "tornado",
    "--swing",
    "10%",
    "-5%",
    "--plot",
    "--csv",
    "--elasticity",
    "--sweep",
    "x0=1:3:0.5",
    "x1=1,2,3",
    "x0=1:2:0",
    "n0=1,2",
]


@SLOW
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8))
def test_random_command_lines_behave(tmp_path_factory, words):
    graph = "inputs: {x0: 1.5, x1: -2}\nnodes: {n0: {op: mul, inputs: [x0, x1]}, n1: {op: exp, inputs: [n0]}}\n"
    if "-o" in words and words[-1] == "-o":
        words = words[:-1]
    args = ["-" if w == "FILE" else w for w in words]
    for flag, name in (("-o", "out.txt"), ("--plot", "out.svg")):  # never write into the working tree
        if flag in args:
            i = args.index(flag)
            if i + 1 < len(args) and args[i + 1] != "-":
                args[i + 1] = str(tmp_path_factory.mktemp("out") / name)
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))  # draw writes FILE-stem.svg into the working directory
    try:
        result = run_cli(args, input=graph)
    finally:
        os.chdir(here)
    assert result.exit_code in (0, 1, 2), (args, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (args, result.stderr)
    if result.exit_code:
        assert result.stdout == "" or args[0] == "check", args


@SLOW
@given(st.integers(0, 4000), st.binary(min_size=0, max_size=50))
def test_every_write_is_whole_or_not_at_all(tmp_path_factory, cut, old):
    """A write that fails after `cut` bytes (as a full disk or a file size limit would) leaves the
    old file as it was and nothing else behind; one that succeeds leaves the whole new file."""
    from cgraph_cli.show import files

    directory = tmp_path_factory.mktemp("w")
    target = directory / "out.yaml"
    target.write_bytes(old)
    data = bytes(range(256)) * 16

    real_fdopen = os.fdopen

    class Failing:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, chunk):
            if self.written + len(chunk) > cut:
                self.f.write(chunk[: max(0, cut - self.written)])
                raise OSError(28, "No space left on device")
            self.written += len(chunk)
            return self.f.write(chunk)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    files.os.fdopen = lambda fd, mode: Failing(real_fdopen(fd, mode))
    try:
        files.write_atomically(str(target), data)
        assert target.read_bytes() == data
    except OSError:
        assert target.read_bytes() == old
    finally:
        files.os.fdopen = real_fdopen
    assert [p.name for p in directory.iterdir()] == ["out.yaml"]


def corpus_files():
    return sorted(CORPUS.glob("*"))


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
@pytest.mark.parametrize("command", COMMANDS[:8], ids=" ".join)
def test_every_input_that_ever_failed_stays_fixed(path, command):
    args = [command[0], "-", *command[1:]]
    assert_well_behaved(run_cli(args, input=path.read_bytes()), args)


def test_the_corpus_is_there():
    assert len(corpus_files()) >= 10


@pytest.mark.parametrize("path", [p for p in corpus_files() if p.suffix == ".yaml"], ids=lambda p: p.name)
def test_corpus_graphs_derive_to_grads_number_and_agree_with_the_oracle(path):
    """Consistency (derive == grad) and, on the same graph, the independent oracle."""
    from cgraph_cli.commands.derive import derive
    from cgraph_cli.core.engine import evaluate
    from cgraph_cli.show.formats import graph_yaml

    from .test_oracle import compare, compare_arrays

    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        plan = load_text(text)
        result = evaluate(plan)
    except GraphError:
        return
    (compare_arrays if plan.arrays else compare)(text)
    if plan.arrays:
        return  # derive takes graphs of numbers
    for inp_name in plan.variable_names:
        g = result.grad_of(inp_name)
        if type(g) is not Undefined:
            assert evaluate(load_text(graph_yaml(derive(plan, inp_name), []))).value == g


def test_json_of_every_corpus_graph_reads_back_as_the_run():
    from cgraph_cli.core.engine import evaluate

    read = 0
    for path in corpus_files():
        result = run_cli(["run", "-", "--json"], input=path.read_bytes())
        if result.exit_code != 0:
            continue
        data = json.loads(result.stdout)
        run = evaluate(load_text(path.read_text(encoding="utf-8", errors="replace")))
        assert data["value"] == _plain(run.value) and data["of"] == run.of_name, path.name
        assert [n["name"] for n in data["nodes"]] == list(run.plan.names), path.name
        grads = [_plain(g) if type(g) is not Undefined else None for g in run.grads]
        assert [n.get("grad") for n in data["nodes"]] == grads, path.name
        read += 1
    assert read >= 5


def _plain(value):
    return value.tolist() if hasattr(value, "tolist") else value


@pytest.mark.parametrize("path", [p for p in corpus_files() if p.suffix == ".yaml"], ids=lambda p: p.name)
def test_check_fails_no_corpus_graph(path):
    from cgraph_cli.commands.check import check_gradients

    try:
        _, checks = check_gradients(load_text(path.read_text(encoding="utf-8", errors="replace")))
    except GraphError:
        return
    assert "FAIL" not in [c.status for c in checks]


@SLOW
@given(
    array_files(),
    st.sampled_from(
        [
            ["run"],
            ["run", "--json"],
            ["check"],
            ["explain", "--steps"],
            ["validate"],
            ["draw", "--format", "dot"],
            ["descend", "--vary", "a,b", "--steps", "3"],
        ]
    ),
)
def test_any_array_file_gets_an_answer_in_words(tmp_path_factory, text, command):
    path = tmp_path_factory.mktemp("arrays") / "g.yaml"
    path.write_text(text)
    args = [*command, str(path)]
    result = run_cli(args)
    assert "Warning:" not in result.stderr, (args, result.stderr)  # no numpy warning beside cgraph's own words
    assert_well_behaved(result, args)
