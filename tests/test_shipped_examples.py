"""The example graphs ship inside the package: `cgraph examples` lists, prints and copies them out,
so every --help example works after a plain install (the repository's graphs/ is the same folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import cgraph_cli as cg

from .conftest import GRAPHS


def _on_disk() -> dict[str, bytes]:
    return {
        name[: -len(".yaml")]: (GRAPHS / name).read_bytes() for name in os.listdir(GRAPHS) if name.endswith(".yaml")
    }


def test_every_graph_of_the_repository_is_listed(invoke):
    done = invoke("examples", "--json")
    assert done.exit_code == 0
    listed = json.loads(done.stdout)
    assert sorted(e["name"] for e in listed) == sorted(_on_disk())
    assert {e["name"]: e["needs"] for e in listed}["two_layer_net"] == ["data/xor_points.csv", "data/xor_labels.csv"]
    table = invoke("examples").stdout
    assert "apples" in table and "Buying apples with tax" in table
    assert max(map(len, table.splitlines())) <= 130  # a description's first sentence, not a paragraph


def test_an_example_by_name_is_its_file_on_stdout(invoke):
    done = invoke("examples", "apples")
    assert done.exit_code == 0 and done.stdout_bytes == (GRAPHS / "apples.yaml").read_bytes()
    assert invoke("examples", "apples.yaml").stdout_bytes == done.stdout_bytes


def test_copied_examples_are_the_files_and_run_from_where_they_land(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = invoke("examples", "--copy", "graphs")
    assert done.exit_code == 0, done.stderr
    for name, data in _on_disk().items():
        assert (tmp_path / "graphs" / f"{name}.yaml").read_bytes() == data
    assert (tmp_path / "graphs" / "data" / "xor_points.csv").read_bytes() == (
        GRAPHS / "data" / "xor_points.csv"
    ).read_bytes()
    ours = invoke("run", "graphs/two_layer_net.yaml", "--json")
    theirs = invoke("run", GRAPHS / "two_layer_net.yaml", "--json")
    assert json.loads(ours.stdout)["value"] == json.loads(theirs.stdout)["value"]  # the data files came along


def test_copying_replaces_no_file_and_writes_nothing_when_it_would(invoke, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "neuron.yaml").write_text("mine", encoding="utf-8")
    done = invoke("examples", "--copy", target, "apples", "neuron")
    assert done.exit_code == 1 and "is there already" in done.stderr and done.stdout == ""
    assert sorted(os.listdir(target)) == ["neuron.yaml"]
    assert (target / "neuron.yaml").read_text(encoding="utf-8") == "mine"
    (tmp_path / "file").write_text("x", encoding="utf-8")
    done = invoke("examples", "--copy", tmp_path / "file", "apples")
    assert done.exit_code == 1 and "is a file, not a folder" in done.stderr


def test_an_unknown_example_is_a_usage_error_with_a_suggestion(invoke):
    done = invoke("examples", "apple")
    assert done.exit_code == 2 and "did you mean 'apples'" in done.stderr and done.stdout == ""
    assert "cgraph examples" in invoke("examples", "zzz").stderr


def test_the_python_api_lists_and_loads_examples():
    assert sorted(e["name"] for e in cg.examples()) == sorted(_on_disk())
    assert cg.example("apples").run().grads["apple"] == 2.2  # the book's figure 5-16
    with pytest.raises(cg.Error, match="no example"):
        cg.example("nope")


@pytest.mark.slow
def test_a_wheel_holds_the_examples_and_every_subpackage(tmp_path):
    """A plain install (not editable) has what the examples and the layers need: a wheel's files."""
    root = GRAPHS.resolve().parent.parent
    build = tmp_path / "src"
    shutil.copytree(root, build, ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", "build", "__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, build],  # as pip installs it
        capture_output=True,
        text=True,
    )
    if (
        done.returncode
        and "setuptools" in done.stderr
        and ("connection" in done.stderr.lower() or "No matching" in done.stderr)
    ):
        pytest.skip("pip cannot fetch setuptools to build a wheel here (no package index)")
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name.startswith("cgraph_cli-")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"cgraph_cli/examples/apples.yaml", "cgraph_cli/examples/data/xor_points.csv"} <= names
    for layer in ("core", "read", "show", "commands", "cli"):
        assert f"cgraph_cli/{layer}/__init__.py" in names, layer


def test_examples_refuses_what_it_cannot_do_in_words(invoke, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("x", encoding="utf-8")
    done = invoke("examples", "--copy", blocked / "sub", "apples")  # a folder under a file
    assert done.exit_code == 1 and "cannot write" in done.stderr and done.stdout == ""
    done = invoke("examples", "--copy", "", "apples")
    assert done.exit_code == 2 and "--copy needs a folder" in done.stderr
    done = invoke("examples", "--json", "apples")
    assert done.exit_code == 2 and done.stdout == ""
