"""The command line through click's runner: stdout and stderr apart, exit codes, every command."""

from __future__ import annotations

import json

import pytest

from cgraph_cli.cli import cli

from .bad_files import BAD
from .conftest import GRAPHS

APPLES = GRAPHS / "apples.yaml"


def assert_error(result, code: int, *words: str):
    """Exit `code`, nothing on stdout, one `cgraph: error:` message holding `words`, no traceback."""
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("cgraph: error: ")
    assert "Traceback" not in result.stderr
    for w in words:
        assert w in result.stderr


def test_run_prints_the_output_value_and_a_row_per_node(invoke):
    result = invoke("run", APPLES)
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "apples: price = 220.00000000000003"
    rows = [line.split() for line in lines[3:]]
    assert [r[0] for r in rows] == ["apple", "apple_num", "tax", "apple_price", "price"]
    assert rows[1][-2:] == ["2", "110.00000000000001"]
    assert rows[4][-2:] == ["220.00000000000003", "1"]


def test_run_precision(invoke):
    result = invoke("run", APPLES, "--precision", "3")
    assert result.stdout.splitlines()[0] == "apples: price = 220"
    assert result.stdout.splitlines()[4].split()[-2:] == ["2", "110"]


def test_run_json_is_the_spec_shape(invoke):
    result = invoke("run", APPLES, "--json")
    data = json.loads(result.stdout)
    assert data["graph"] == "apples" and data["of"] == "price" and data["value"] == 220.00000000000003
    assert data["nodes"][0] == {"name": "apple", "op": "input", "inputs": [], "value": 100, "grad": 2.2}
    assert data["nodes"][3] == {
        "name": "apple_price",
        "op": "mul",
        "inputs": ["apple", "apple_num"],
        "value": 200,
        "grad": 1.1,
    }
    assert result.stderr == ""


def test_grad_json_is_the_spec_shape(invoke):
    result = invoke("grad", APPLES, "--wrt", "apple", "--json")
    assert json.loads(result.stdout) == {
        "graph": "apples",
        "of": "price",
        "value": 220.00000000000003,
        "gradients": {"apple": 2.2},
    }


def test_grad_defaults_to_every_input_and_takes_nodes(invoke):
    data = json.loads(invoke("grad", GRAPHS / "apples_oranges.yaml", "--json").stdout)
    assert data["gradients"] == {
        "apple": 2.2,
        "apple_num": 110.00000000000001,
        "orange": 3.3000000000000003,
        "orange_num": 165.0,
        "tax": 650,
    }
    data = json.loads(invoke("grad", APPLES, "--wrt", "apple_price", "--wrt", "tax", "--json").stdout)
    assert data["gradients"] == {"apple_price": 1.1, "tax": 200}


def test_grad_table(invoke):
    result = invoke("grad", APPLES, "--wrt", "apple")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].split() == ["apple", "100", "2.2"]


def test_of_another_node(invoke):
    data = json.loads(invoke("grad", APPLES, "--of", "apple_price", "--json").stdout)
    assert data["of"] == "apple_price" and data["value"] == 200
    assert data["gradients"] == {"apple": 2, "apple_num": 100, "tax": 0}


def test_set_overrides_inputs(invoke):
    data = json.loads(invoke("run", APPLES, "--set", "apple=150", "--set", "tax=1e0", "--json").stdout)
    assert data["value"] == 300.0 and data["nodes"][0]["value"] == 150


def test_stdin_and_graph_name(invoke):
    data = json.loads(invoke("run", "-", "--json", input=APPLES.read_text()).stdout)
    assert data["graph"] == "apples"
    text = "inputs: {x: 2}\nnodes: {y: {op: mul, inputs: [x, x]}}\n"
    data = json.loads(invoke("run", "-", "--json", input=text).stdout)
    assert data["graph"] == "stdin" and data["value"] == 4


def test_graph_name_defaults_to_the_file_stem(invoke, graph_file):
    path = graph_file("inputs: {x: 2}\nnodes: {y: {op: neg, inputs: [x]}}\n", name="my.model.yaml")
    assert json.loads(invoke("run", path, "--json").stdout)["graph"] == "my.model"


def test_default_file_from_env_then_cwd(invoke, graph_file, tmp_path, monkeypatch):
    path = graph_file("inputs: {x: 2}\nnodes: {y: {op: neg, inputs: [x]}}\n", name="env.yaml")
    assert json.loads(invoke("run", "--json", env={"CGRAPH_FILE": str(path)}).stdout)["value"] == -2
    monkeypatch.chdir(tmp_path)
    assert_error(invoke("run", env={"CGRAPH_FILE": None}), 2, "cgraph.yaml does not exist")
    graph_file("inputs: {x: 5}\nnodes: {y: {op: neg, inputs: [x]}}\n", name="cgraph.yaml")
    assert json.loads(invoke("run", "--json", env={"CGRAPH_FILE": None}).stdout)["value"] == -5


def test_validate(invoke):
    result = invoke("validate", APPLES)
    assert result.exit_code == 0
    assert "valid graph 'apples'" in result.stdout and "output: price" in result.stdout
    data = json.loads(invoke("validate", APPLES, "--json").stdout)
    assert data["valid"] is True and data["inputs"] == ["apple", "apple_num", "tax"] and data["output"] == "price"


def test_validate_reports_an_ambiguous_output_without_failing(invoke, graph_file):
    path = graph_file("inputs: {x: 1}\nnodes: {a: {op: neg, inputs: [x]}, b: {op: exp, inputs: [x]}}\n")
    result = invoke("validate", path)
    assert result.exit_code == 0 and "ambiguous" in result.stdout and "a, b" in result.stdout
    assert_error(invoke("run", path), 1, "ambiguous", "a, b", "--of")


def test_ops_lists_every_op_from_the_table(invoke):
    from cgraph_cli.core.ops import OPS

    result = invoke("ops")
    for op in OPS.values():
        assert op.name in result.stdout and op.local_doc in result.stdout
    # the ops of numbers, then those of arrays alone, each in the order defined, whatever was imported first
    listed = [o.name for o in OPS.values() if not o.arrays_only] + [o.name for o in OPS.values() if o.arrays_only]
    assert [o["op"] for o in json.loads(invoke("ops", "--json").stdout)] == listed
    assert listed[:3] == ["add", "mul", "sub"] and listed[-1] == "softmax_with_loss"


def test_every_command_has_help_with_examples(invoke):
    assert "Examples" in invoke("--help").stdout
    for name in cli.commands:
        result = invoke(name, "--help")
        assert result.exit_code == 0 and "Examples:" in result.stdout and "cgraph " + name in result.stdout


def test_version(invoke):
    from cgraph_cli import __version__

    assert invoke("--version").stdout.strip() == f"cgraph {__version__}"


# Command-line mistakes: exit 2.
@pytest.mark.parametrize(
    "args, words",
    [
        (["run", APPLES, "--bogus"], ["No such option", "--bogus", "Try 'cgraph run --help'"]),
        (["run", "no/such/file.yaml"], ["cannot read no/such/file.yaml"]),
        (["run", GRAPHS], ["cannot read"]),
        (["grad", APPLES, "--wrt", "appel"], ["--wrt", "'appel'", "did you mean 'apple'?"]),
        (["run", APPLES, "--of", "prise"], ["--of", "did you mean 'price'?"]),
        (["run", APPLES, "--set", "appel=1"], ["--set", "did you mean 'apple'?"]),
        (["run", APPLES, "--set", "price=1"], ["not an input"]),
        (["run", APPLES, "--set", "apple"], ["'apple' is not NAME=VALUE"]),
        (["run", APPLES, "--set", "apple=abc"], ["not a number"]),
        (["run", APPLES, "--set", "apple=true"], ["boolean"]),
        (["run", APPLES, "--set", "apple=.inf"], ["not a finite number"]),
        (["run", APPLES, "--precision", "0"], ["--precision"]),
        (["validate", APPLES, "--of", "nope"], ["--of"]),
        (["frobnicate"], ["No such command"]),
    ],
)
def test_command_line_mistakes_exit_2(invoke, args, words):
    assert_error(invoke(*args), 2, *words)


# Bad graphs: exit 1, message located.
@pytest.mark.parametrize(
    "text, words",
    [
        (
            "inputs: {x: 1}\nnodes: {y: {op: div, inputs: [x, 0]}}\n",
            ["g.yaml:2:9: node 'y' = div(1, 0): division by zero"],
        ),
        ("inputs: {x: 0}\nnodes: {y: {op: log, inputs: [x]}}\n", ["g.yaml:2:9:", "log of a non-positive number"]),
        ("inputs: {x: 1000}\nnodes: {y: {op: exp, inputs: [x]}}\n", ["g.yaml:2:9:", "exp(1000)", "overflow"]),
        ("inputs: {x: -8}\nnodes: {y: {op: pow, inputs: [x, 0.5]}}\n", ["negative base to a fractional power"]),
        ("inputs: {x: 1}\nnodse: {}\n", ["g.yaml:2:1: unknown key 'nodse'", "did you mean 'nodes'?"]),
        ("nodes:\n  a: {op: neg, inputs: [b]}\n  b: {op: neg, inputs: [a]}\n", ["cycle: a -> b -> a"]),
    ],
)
def test_bad_graphs_exit_1_with_a_located_message(invoke, graph_file, text, words):
    assert_error(invoke("run", graph_file(text)), 1, *words)


def test_undecodable_and_empty_files(invoke, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"inputs: {x: \xfe}\n")
    assert_error(invoke("run", bad), 1, "bad.yaml:1:13:", "not UTF-8")
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    assert_error(invoke("validate", empty), 1, "empty")


def test_stdin_errors_are_located_in_stdin(invoke):
    assert_error(invoke("run", "-", input="inputs: {x: yes}\n"), 1, "<stdin>:1:13:")


def test_no_colour_in_pipes_and_forced_colour(invoke):
    assert "\x1b[" not in invoke("run", APPLES).stdout
    assert "\x1b[" in invoke("run", APPLES, env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in invoke("run", APPLES, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout


def test_an_internal_error_is_one_line_not_a_traceback(invoke, monkeypatch):
    from cgraph_cli.core import engine

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(engine, "evaluate", broken)
    result = invoke("run", APPLES)
    assert result.exit_code == 70 and result.stdout == ""
    assert result.stderr == "cgraph: error: internal error: KeyError: 'boom' (please report this with the file)\n"


def test_bare_cgraph_prints_help_on_stderr_and_exits_2(invoke):
    result = invoke()
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("Usage: cgraph") and "cgraph: error" not in result.stderr


@pytest.mark.parametrize("text, words, line, col", BAD)
def test_every_bad_file_exits_1_with_its_located_message(invoke, graph_file, text, words, line, col):
    path = graph_file(text)
    where = f"{path}:{line}:{col}: " if line is not None else f"{path}: "
    assert_error(invoke("validate", path), 1, where, words)
    assert_error(invoke("run", path, "--json"), 1, where, words)


def test_control_characters_in_messages_are_shown_escaped(invoke, graph_file):
    result = invoke("run", graph_file('"\\x1b[2J": 1\n'))
    assert result.exit_code == 1 and "\x1b" not in result.stderr and "\\x1b[2J" in result.stderr
    result = invoke("grad", GRAPHS / "apples.yaml", "--wrt", "\x1b[31mred")
    assert result.exit_code == 2 and "\x1b" not in result.stderr


def test_cgraph_file_may_name_standard_input(invoke):
    result = invoke("run", "--json", input=(GRAPHS / "apples.yaml").read_text(), env={"CGRAPH_FILE": "-"})
    assert json.loads(result.stdout)["value"] == 220.00000000000003
