"""The hostile-use reproducers, each kept as a regression test: bounded cost, exact derive, safe files,
undefined gradients that stop only what needs them, escaped output, the environment's failures."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import pytest

from .conftest import GRAPHS

PYTHON = [sys.executable, "-m", "cgraph_cli"]
ENV = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PYTHONIOENCODING")}

POW_AT_ZERO = "inputs: {x: 0, y: 0}\nnodes: {z: {op: pow, inputs: [x, y]}}\n"
POW_NEGATIVE_BASE = "inputs: {x: -2, n: 2}\nnodes: {z: {op: pow, inputs: [x, n]}}\n"


def cgraph(*args, input=None, env=None, limits=(), stdin=None, stdout=None):
    """cgraph in a real process: (exit status, stdout, stderr); `limits` are (resource, value) pairs."""

    def set_limits():
        for which, value in limits:
            resource.setrlimit(which, (value, value))

    kw = {"stdin": stdin} if stdin is not None else {"input": input.encode("utf-8") if input else None}
    done = subprocess.run(
        PYTHON + [str(a) for a in args],
        stdout=stdout or subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**ENV, **(env or {})},
        timeout=120,
        preexec_fn=set_limits if limits else None,
        **kw,
    )
    decode = (lambda b: b.decode("utf-8", "replace")) if isinstance(done.stderr, bytes) else (lambda s: s)
    return done.returncode, decode(done.stdout or b""), decode(done.stderr or b"")


def one_error_line(stderr: str) -> bool:
    return stderr.startswith("cgraph: error: ") and stderr.count("\n") == 1 and "Traceback" not in stderr


# -- 1. a small file never takes long ----------------------------------------------------------


def test_a_product_of_ten_thousand_huge_integers_is_refused_at_once(graph_file):
    text = "inputs: {x: 1" + "0" * 300 + "}\nnodes: {y: {op: mul, inputs: [" + ", ".join(["x"] * 10000) + "]}}\n"
    start = time.monotonic()
    code, out, err = cgraph("run", graph_file(text))
    assert code == 1 and out == "" and one_error_line(err) and "not a finite number" in err
    assert time.monotonic() - start < 10  # it took 44 s; now it takes a start-up and a few ms


def test_small_integers_stay_exact_as_the_book_has_them(invoke):
    data = json.loads(invoke("run", GRAPHS / "apples.yaml", "--json").stdout)
    assert data["nodes"][3]["value"] == 200 and isinstance(data["nodes"][3]["value"], int)


# -- 3. derive gives backprop's number at pow's special points ----------------------------------


@pytest.mark.parametrize("wrt", ["x", "y"])
def test_derive_at_zero_to_the_zero_runs_to_grads_number(invoke, wrt):
    expected = json.loads(invoke("grad", "-", "--json", input=POW_AT_ZERO).stdout)["gradients"][wrt]
    derived = invoke("derive", "-", "--wrt", wrt, input=POW_AT_ZERO)
    assert derived.exit_code == 0, derived.stderr
    ran = invoke("run", "-", "--json", input=derived.stdout)
    assert ran.exit_code == 0, ran.stderr
    assert json.loads(ran.stdout)["value"] == expected == 0
    again = invoke("derive", "-", "--wrt", wrt, input=derived.stdout)  # deriving again keeps working
    assert again.exit_code == 0 and invoke("validate", "-", input=again.stdout).exit_code == 0


def test_the_hessian_at_zero_to_the_zero_does_not_fail(invoke):
    result = invoke("grad", "-", "--order", "2", "--json", input=POW_AT_ZERO)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["hessian"]["x"]["x"] == 0


@pytest.mark.parametrize("x, y", [(0, 2), (0.0, 1), (0, 0.5), (0, 3), (2, 0), (-2, 3), (-1.5, 2.0), (4, -0.5)])
def test_derive_equals_grad_at_pow_points_and_both_are_the_oracles(x, y):
    """Consistency: derive == grad wherever grad gives a number. Independent: grad is the autodiff
    oracle's number at these very points (PyTorch's conventions at 0**0 and a negative base)."""
    from cgraph_cli.commands.derive import derive
    from cgraph_cli.core.engine import evaluate
    from cgraph_cli.core.op import Undefined
    from cgraph_cli.read.loader import load_text
    from cgraph_cli.show.formats import graph_yaml

    from .test_oracle import compare

    text = f"inputs: {{x: {x!r}, y: {y!r}}}\nnodes: {{z: {{op: pow, inputs: [x, y]}}}}\n"
    assert compare(text).compared >= 2
    plan = load_text(text)
    result = evaluate(plan)
    for name in ("x", "y"):
        g = result.grad_of(name)
        if type(g) is Undefined:
            continue
        assert evaluate(load_text(graph_yaml(derive(plan, name), []))).value == g, (x, y, name)


# -- 4. nothing cgraph writes can lose a file ---------------------------------------------------


def test_a_write_cut_short_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "p.txt"
    old = "".join(f"{i}\n" for i in range(1, 2001))
    target.write_text(old)
    code, out, err = cgraph(
        "derive",
        GRAPHS / "subscription_profit.yaml",
        "--wrt",
        "price",
        "-o",
        target,
        limits=[(resource.RLIMIT_FSIZE, 1024)],
    )
    assert code == 1 and one_error_line(err) and "File too large" in err
    assert target.read_text() == old
    assert [p.name for p in tmp_path.iterdir()] == ["p.txt"]  # no temporary left behind


def test_a_write_is_complete_and_keeps_the_targets_mode(tmp_path, invoke):
    target = tmp_path / "d.yaml"
    target.write_text("old")
    target.chmod(0o640)
    assert invoke("derive", GRAPHS / "apples.yaml", "--wrt", "apple", "-o", target).exit_code == 0
    assert target.read_text().startswith("# d(price)/d(apple)") and (target.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["d.yaml"]


@pytest.mark.parametrize(
    "args",
    [
        ["derive", "{in}", "--wrt", "apple", "-o", "{in}"],
        ["derive", "{in}", "--wrt", "apple", "-o", "{dir}/../{dirname}/in.yaml"],
        ["derive", "{in}", "--wrt", "apple", "-o", "{dir}/link.yaml"],
        ["derive", "{in}", "--wrt", "apple", "-o", "{dir}/hard.yaml"],
        ["draw", "{in}", "--format", "dot", "-o", "{in}"],
        ["draw", "{in}", "--format", "mermaid", "-o", "{dir}/link.yaml"],
    ],
)
def test_no_write_replaces_the_input_however_it_is_spelled(tmp_path, invoke, args):
    source = tmp_path / "in.yaml"
    source.write_text((GRAPHS / "apples.yaml").read_text())
    (tmp_path / "link.yaml").symlink_to(source)
    os.link(source, tmp_path / "hard.yaml")
    before = source.read_bytes()
    args = [a.format(**{"in": source, "dir": tmp_path, "dirname": tmp_path.name}) for a in args]
    result = invoke(*args)
    assert result.exit_code == 2 and "is the input file" in result.stderr and result.stdout == ""
    assert source.read_bytes() == before


def test_draws_default_target_is_never_the_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.svg").write_text((GRAPHS / "apples.yaml").read_text())
    code, out, err = cgraph("draw", "x.svg")
    assert code == 2 and "x.svg is the input file" in err
    assert (tmp_path / "x.svg").read_text() == (GRAPHS / "apples.yaml").read_text()


def test_stdin_redirected_from_the_target_is_the_input_too(tmp_path):
    source = tmp_path / "in.yaml"
    source.write_text((GRAPHS / "apples.yaml").read_text())
    with open(source, "rb") as f:
        code, out, err = cgraph("derive", "-", "--wrt", "apple", "-o", source, stdin=f)
    assert code == 2 and "is the input file" in err


def test_a_full_disk_is_an_error_of_the_run_not_of_the_command_line():
    code, out, err = cgraph("derive", GRAPHS / "apples.yaml", "--wrt", "apple", "-o", "/dev/full")
    assert code == 1 and one_error_line(err) and "No space left on device" in err and "--help" not in err


# -- 5. a gradient nobody asked for must not stop the command --------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["grad", "--wrt", "x"],
        ["check", "--wrt", "x"],
        ["draw", "--no-grad", "--format", "dot"],
        ["grad"],
        ["grad", "--order", "2"],
        ["explain", "--wrt", "x"],
        ["draw", "--format", "mermaid"],
        ["run", "--json"],
    ],
)
def test_an_undefined_gradient_not_asked_for_stops_nothing(invoke, graph_file, args):
    result = invoke(*args[:1], graph_file(POW_NEGATIVE_BASE, name="p.yaml"), *args[1:])
    assert result.exit_code == 0, result.stderr
    assert result.stdout


def test_run_shows_undefined_with_one_located_warning_per_node(invoke, graph_file):
    path = graph_file(POW_NEGATIVE_BASE, name="p.yaml")
    result = invoke("run", path)
    assert "undefined" in result.stdout.splitlines()[4]
    assert result.stderr.splitlines() == [
        f"cgraph: warning: {path}:1:17: d(z)/d(n) is undefined: node 'z' = pow(-2, 2): "
        "the gradient it passes to 'n' is undefined: ln of a negative number"
    ]
    data = json.loads(invoke("run", path, "--json").stdout)
    assert [n["grad"] for n in data["nodes"]] == [-4, None, 1]
    assert json.loads(invoke("grad", path, "--json").stdout)["gradients"] == {"x": -4, "n": None}


def test_draw_without_gradients_runs_no_backward_pass(invoke, graph_file):
    result = invoke("draw", graph_file(POW_NEGATIVE_BASE), "--no-grad", "--format", "dot")
    assert result.exit_code == 0 and result.stderr == "" and "#d62728" not in result.stdout


@pytest.mark.parametrize(
    "args",
    [["grad", "--wrt", "n"], ["check", "--wrt", "n"], ["explain", "--wrt", "n"], ["explain", "--steps", "--wrt", "n"]],
)
def test_asking_for_an_undefined_gradient_fails_where_it_arises(invoke, graph_file, args):
    path = graph_file(POW_NEGATIVE_BASE, name="p.yaml")
    result = invoke(*args[:1], path, *args[1:])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"cgraph: error: {path}:2:9: d(z)/d(n) is undefined: node 'z'")


def test_an_undefined_value_is_still_an_error(invoke, graph_file):
    result = invoke("run", graph_file("inputs: {x: -8}\nnodes: {y: {op: pow, inputs: [x, 0.5]}}\n"))
    assert result.exit_code == 1 and "negative base to a fractional power" in result.stderr


# -- 6. what derive writes, cgraph reads back ------------------------------------------------------


@pytest.mark.parametrize(
    "graph_name", ["g\u2028h", "g\u2029h", "a\nb", 'a"b\\c', "#x", "--- y", "true", "사과", "a\tb", "\U0001f600"]
)
@pytest.mark.parametrize("file_name", ["g.yaml", "we\nird.yaml", "a\u2028b.yaml", "#.yaml", 'a"b.yaml'])
def test_derived_files_read_back_whatever_the_names_and_paths(tmp_path, invoke, graph_name, file_name):
    from cgraph_cli.show.formats import yaml_text

    path = tmp_path / file_name
    path.write_text(
        f"name: {yaml_text(graph_name)}\ndescription: {yaml_text('d ' + graph_name)}\n"
        f"inputs: {{x: {{value: 2, label: {yaml_text(graph_name)}}}}}\n"
        "nodes: {y: {op: mul, inputs: [x, x, 3]}}\n",
        encoding="utf-8",
    )
    derived = invoke("derive", path, "--wrt", "x")
    assert derived.exit_code == 0, derived.stderr
    assert all(
        line.startswith(("#", "name:", "description:", "inputs:", "nodes:", "output:", "  "))
        for line in derived.stdout.splitlines()
    )
    ran = invoke("run", "-", "--json", input=derived.stdout)
    assert ran.exit_code == 0, ran.stderr + derived.stdout
    assert json.loads(ran.stdout)["value"] == 12


# -- 7. the environment's problems are the user's errors ----------------------------------------


def test_an_ascii_only_stdout_still_gets_the_output():
    code, out, err = cgraph("run", GRAPHS / "apples.yaml", env={"PYTHONIOENCODING": "ascii"})
    assert code == 0 and err == "" and "220.00000000000003" in out and "-----" in out
    code, out, err = cgraph("ops", env={"PYTHONIOENCODING": "ascii"})
    assert code == 0 and "sigmoid" in out
    korean = "inputs: {사과: 2}\nnodes: {y: {op: neg, inputs: [사과]}}\n"
    code, out, err = cgraph("run", "-", "--json", input=korean, env={"PYTHONIOENCODING": "ascii"})
    assert code == 0 and json.loads(out)["nodes"][0]["name"] == "사과"
    code, out, err = cgraph("draw", "--help", env={"PYTHONIOENCODING": "ascii"})
    assert code == 0 and "Usage" in out


def test_a_full_stdout_is_an_error_of_the_run():
    with open("/dev/full", "w") as full:
        code, out, err = cgraph("run", GRAPHS / "apples.yaml", stdout=full)
    assert code == 1 and one_error_line(err) and "No space left on device" in err


def test_a_closed_stdin_is_an_error_of_the_run():
    done = subprocess.run(" ".join(PYTHON) + " run - <&-", shell=True, capture_output=True, text=True, env=ENV)
    assert done.returncode == 1 and one_error_line(done.stderr) and "standard input" in done.stderr


def test_a_closed_stdout_is_an_error_of_the_run():
    done = subprocess.run(
        " ".join(PYTHON) + f" run {GRAPHS / 'apples.yaml'} >&-",
        shell=True,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert done.returncode == 1 and one_error_line(done.stderr) and "standard output" in done.stderr


@pytest.mark.slow
def test_an_endless_file_is_refused_not_read_until_memory_runs_out():
    code, out, err = cgraph("run", "/dev/zero", limits=[(resource.RLIMIT_AS, 2_000_000_000)])
    assert code == 1 and one_error_line(err) and ("1 GiB" in err or "out of memory" in err)


def test_a_meaningless_eps_is_a_usage_error_even_with_json():
    code, out, err = cgraph("check", GRAPHS / "neuron.yaml", "--eps", "nan", "--json")
    assert code == 2 and out == "" and "--eps" in err


def test_a_closed_pipe_ends_quietly():
    done = subprocess.run(
        " ".join(PYTHON) + f" run {GRAPHS / 'apples.yaml'} --all | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert done.stderr == ""


# -- 8. output and memory bounded by what is useful ------------------------------------------------


@pytest.mark.slow
def test_errors_stay_short_whatever_they_quote(graph_file, invoke):
    digits = "1." + "7" * 500_000 + "e99999"
    cycle = "nodes:\n" + "".join(f"  a{i}: {{op: neg, inputs: [a{(i + 1) % 100_000}]}}\n" for i in range(100_000))
    long_name = "n" * 100_000
    cases = [
        f"inputs: {{x: {digits}}}\n",
        cycle,
        f"inputs: {{x: 1}}\nnodes: {{y: {{op: neg, inputs: [{long_name}]}}}}\n",
        f"inputs:\n  ? {long_name}\n  : 1\n  ? {long_name}\n  : 2\n",
    ]
    for text in cases:
        result = invoke("run", graph_file(text))
        assert result.exit_code == 1 and len(result.stderr) < 400, result.stderr[:400]
    result = invoke("run", graph_file(cycle))
    assert "a0 -> a99999 -> a99998 -> … (99,995 more) … -> a2 -> a1 -> a0" in result.stderr


def test_explain_streams_its_paths_in_bounded_memory(graph_file):
    lines = ["inputs: {x0: 1.0}", "nodes:"]
    for k in range(2000):  # about 200 KB, 2^2000 paths
        lines += [
            f"  a{k}: {{op: mul, inputs: [x{k}, 0.5]}}",
            f"  b{k}: {{op: mul, inputs: [x{k}, 0.5]}}",
            f"  x{k + 1}: {{op: add, inputs: [a{k}, b{k}]}}",
        ]
    path = graph_file("\n".join(lines) + "\n")
    with open(os.devnull, "w") as null:
        code, _, err = cgraph(
            "explain",
            path,
            "--wrt",
            "x0",
            "--max-paths",
            "300",
            stdout=null,
            limits=[(resource.RLIMIT_AS, 1_500_000_000)],
        )
    assert code == 0, err


# -- 9. rough edges a newcomer hit -----------------------------------------------------------------


def test_set_names_an_input_and_suggests_one_case_aside(invoke):
    result = invoke("run", GRAPHS / "apples.yaml", "--set", "appl=3")
    assert result.exit_code == 2 and "no input 'appl'; did you mean 'apple'?" in result.stderr
    result = invoke("run", GRAPHS / "apples.yaml", "--set", "APPLE=3")
    assert result.exit_code == 2 and "did you mean 'apple'?" in result.stderr
    result = invoke("run", GRAPHS / "apples.yaml", "--set", "apple=3", "--set", "apple=4")
    assert result.exit_code == 2 and "--set apple is given more than once" in result.stderr


def test_a_missing_cgraph_file_names_the_variable(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", env={"CGRAPH_FILE": "nope.yaml"})
    assert result.exit_code == 2 and "$CGRAPH_FILE names nope.yaml, which does not exist" in result.stderr


def test_explain_steps_honours_wrt(invoke):
    result = invoke("explain", GRAPHS / "apples_oranges.yaml", "--steps", "--wrt", "orange")
    assert result.exit_code == 0
    assert "orange +=" in result.stdout and "apple +=" not in result.stdout and "tax +=" not in result.stdout


def test_help_names_option_values_plainly(invoke):
    for command in ("run", "grad", "check", "explain", "draw", "derive", "validate"):
        text = invoke(command, "--help").stdout
        assert "RANGE" not in text and "INTEGER" not in text and "FLOAT" not in text, command
    assert "for this run" not in invoke("validate", "--help").stdout


def test_decimals_for_money(invoke):
    result = invoke("run", GRAPHS / "subscription_profit.yaml", "--decimals", "2")
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "subscription_profit: profit = 1508.70"
    assert invoke("run", GRAPHS / "apples.yaml", "--decimals", "2", "--precision", "3").exit_code == 2
