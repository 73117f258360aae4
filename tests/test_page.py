"""cgraph page (issue 19): the page's data, and the page itself driven in a real browser.

The browser tests need Chromium and its driver from the distribution's packages (Debian: chromium
and chromium-driver; `.ci/run` installs them) and Selenium; without them they skip, saying so.
What the page shows after stepping through is read from the page (its table of every node, and
the labels on its edges) and compared with `cgraph run --json`; after an input is typed into the
page, with `cgraph run --set`.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
from pathlib import Path

import pytest

from cgraph_cli.commands.page import NOT_LIVE, graphviz_layout, page_data
from cgraph_cli.core.engine import evaluate
from cgraph_cli.core.ops import OPS
from cgraph_cli.read.loader import load_text
from cgraph_cli.show.page import page_html

from .conftest import GRAPHS

EXAMPLES = sorted(p.stem for p in GRAPHS.glob("*.yaml"))


def _result(path: Path, sets: dict | None = None):
    return evaluate(load_text(path.read_text(encoding="utf-8"), str(path)), sets)


def _page(path: Path, layout: bool = True, sets: dict | None = None) -> str:
    result = _result(path, sets)
    return page_html(page_data(result, graphviz_layout(result) if layout else None))


# -- without a browser ------------------------------------------------------------------------------


def test_the_page_names_nothing_to_fetch():
    html = _page(GRAPHS / "apples.yaml")
    assert " src=" not in html and " href=" not in html and "url(" not in html.replace("url(#arrow)", "")
    assert "default-src 'none'" in html  # and the browser is told to fetch nothing, should anything ask
    addresses = set(re.findall(r'[a-z]+://[^"\s`]*', html))
    assert addresses == {"http://www.w3.org/2000/svg"}, addresses  # the SVG namespace's name, never fetched


def test_a_label_cannot_end_the_pages_script(graph_file):
    path = graph_file(
        """\
        inputs:
          x: {value: 2, label: "</script><script>alert(1)</script><!--"}
        nodes:
          y: x * 3
        """
    )
    html = _page(path)
    assert "alert(1)" in html and "</script><script>alert" not in html and "<!--" not in html


def test_the_page_carries_cgraphs_numbers_and_says_which_graphs_it_cannot_run_again():
    data = page_data(_result(GRAPHS / "apples.yaml"), None)
    assert data["trace"]["values"] == [100, 2, 1.1, 200, 220.00000000000003]  # the book's, figure 5-3
    assert data["trace"]["grads"] == [2.2, 110.00000000000001, 200, 1.1, 1]  # figure 5-14
    assert data["live"] is None
    for stem, why in (("two_layer_net", "a graph of arrays"), ("black_scholes", "erfc")):
        assert why in page_data(_result(GRAPHS / f"{stem}.yaml"), None)["live"]


def test_page_writes_the_files_stem_and_refuses_to_overwrite_its_input(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(GRAPHS / "apples.yaml", "apples.yaml")
    result = invoke("page", "apples.yaml")
    assert result.exit_code == 0, result.stderr
    assert Path("apples.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = invoke("page", "apples.yaml", "-o", "apples.yaml")
    assert result.exit_code == 2 and "apples.yaml" in result.stderr
    result = invoke("page", "apples.yaml", "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("<!DOCTYPE html>")


def test_the_api_writes_the_page_the_command_does(invoke):
    import cgraph_cli as cg

    graph = cg.load(GRAPHS / "apples.yaml")
    assert (
        graph.page(set={"apple": 3})
        == invoke("page", str(GRAPHS / "apples.yaml"), "--set", "apple=3", "-o", "-").stdout
    )
    with pytest.raises(cg.Error, match="layout 'fancy'"):
        graph.page(layout="fancy")


def test_layout_graphviz_without_graphviz_is_a_clear_error(invoke, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = invoke("page", str(GRAPHS / "apples.yaml"), "--layout", "graphviz", "-o", "-")
    assert result.exit_code == 1 and "needs Graphviz's dot program" in result.stderr and not result.stdout
    result = invoke("page", str(GRAPHS / "apples.yaml"), "-o", "-")  # auto: dagre in the page instead
    assert result.exit_code == 0 and "@dagrejs/dagre" in result.stdout and "MIT" in result.stdout


# -- in a real browser -------------------------------------------------------------------------------

RIGHT, LEFT, HOME, END = "\ue014", "\ue012", "\ue011", "\ue010"  # (selenium's Keys)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="Selenium is not installed (pip install selenium)")
    if not CHROMIUM or not DRIVER:
        pytest.skip("no Chromium and ChromeDriver here (Debian: apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1300,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, tmp_path: Path, html: str, name: str = "page.html"):
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    browser.get(path.as_uri())
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    return path


def _press(browser, key: str, times: int = 1) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(browser)
    for _ in range(times):
        chain.send_keys(key)
    chain.perform()


def _shown(browser) -> dict:
    """What the page's table of every node shows now, to full precision: name -> (value, gradient)."""
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#nodes tr')].map(r => "
        "[r.cells[0].textContent, r.cells[1].dataset.value, r.cells[2].dataset.grad])"
    )
    return {row[0].split(" (")[0]: (_number(row[1]), _number(row[2])) for row in rows}


def _number(text):
    return None if text in ("", None) else json.loads(text)


def _expected(invoke, path: Path, *sets: str) -> dict:
    args = [arg for s in sets for arg in ("--set", s)]
    out = json.loads(invoke("run", str(path), *args, "--json").stdout)
    return {node["name"]: (node["value"], node.get("grad")) for node in out["nodes"]}


def _same(got, want) -> bool:
    """The same numbers, bit for bit (an array's, element by element)."""
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_same, got, want))
    return got == want


@pytest.mark.parametrize("stem", EXAMPLES)
def test_stepping_through_every_example_shows_cgraphs_values_and_gradients(browser, tmp_path, invoke, stem):
    path = GRAPHS / f"{stem}.yaml"
    _open(browser, tmp_path, _page(path))
    start = _shown(browser)
    steps = browser.execute_script("return window.cgraphPage.steps().length")
    assert all(g is None for _, g in start.values())  # before backward, no gradient shows
    _press(browser, RIGHT, steps)  # → as many times as there are steps, and one more
    want = _expected(invoke, path)
    got = _shown(browser)
    assert set(got) == set(browser.execute_script("return window.cgraphPage.data.names"))
    for name, (value, grad) in want.items():
        assert _same(got[name][0], value), (name, got[name][0], value)
        assert _same(got[name][1], grad), (name, got[name][1], grad)


@pytest.mark.parametrize("stem", EXAMPLES)
def test_dagre_places_every_node_of_every_example(browser, tmp_path, stem):
    _open(browser, tmp_path, _page(GRAPHS / f"{stem}.yaml", layout=False))
    drawn = browser.execute_script(
        "return [...document.querySelectorAll('#graph .node')].map(g => g.getBBox()).filter(b => b.width > 0).length"
    )
    assert drawn == len(browser.execute_script("return window.cgraphPage.data.scene.nodes"))


def test_the_book_figure_mid_backward(browser, tmp_path):
    """apples_oranges, figure 5-17: after the step at apple_price, apple's edge carries 2.2 in red and
    the step text writes out ∂apple_price/∂apple = apple_num = 2 and 1.1 × 2 = 2.2."""
    _open(browser, tmp_path, _page(GRAPHS / "apples_oranges.yaml"))
    steps = browser.execute_script("return window.cgraphPage.steps().map(s => s.text)")
    at = next(k for k, text in enumerate(steps) if text.startswith("dout = ∂price/∂apple_price"))
    _press(browser, RIGHT, at)
    text = browser.find_element("id", "step-text").text
    assert "∂apple_price/∂apple = apple_num = 2" in text and "1.1 × 2 = 2.2 → apple" in text
    grads = browser.execute_script(
        "return [...document.querySelectorAll('#graph .grad')].map(t => t.dataset.grad).filter(Boolean)"
    )
    assert "2.2" in grads and "110.00000000000001" in grads and "3.3000000000000003" in grads
    _press(browser, LEFT)  # ← goes back a step: apple's gradient is gone again
    grads = browser.execute_script("return [...document.querySelectorAll('#graph .grad')].map(t => t.dataset.grad)")
    assert "2.2" not in grads


def test_a_node_feeding_two_others_shows_the_sum_of_what_flows_back(browser, tmp_path, graph_file):
    path = graph_file("inputs:\n  x: 1.1\nnodes:\n  a: x * 2\n  b: x * 3\n  y: a + b\n")
    _open(browser, tmp_path, _page(path))
    steps = browser.execute_script("return window.cgraphPage.steps().map(s => s.text)")
    assert "∂y/∂x = 5 = 3 + 2" in steps  # b's 3 arrives first: the backward pass meets b before a
    path = graph_file("inputs:\n  x: 1.1\nnodes:\n  a: x * 2\n  c: x * 5\n  y: a + 1\noutput: y\n", "h.yaml")
    _open(browser, tmp_path, _page(path), "h.html")  # c does not lead to y: nothing flows back from it
    steps = browser.execute_script("return window.cgraphPage.steps().map(s => s.text)")
    assert "∂y/∂x = 2" in steps and not any(text.startswith("dout = ∂y/∂c") for text in steps)


LIVE = [stem for stem in EXAMPLES if page_data(_result(GRAPHS / f"{stem}.yaml"), None)["live"] is None]


def _type(browser, name: str, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field = browser.find_element("css selector", f'#inputs input[name="{name}"]')
    field.clear()
    field.send_keys(text, Keys.ENTER)
    browser.execute_script("document.activeElement.blur()")  # (in a field, the keys are the field's)


@pytest.mark.parametrize("stem", LIVE)
def test_an_input_typed_into_the_page_gives_what_run_set_gives(browser, tmp_path, invoke, stem):
    path = GRAPHS / f"{stem}.yaml"
    _open(browser, tmp_path, _page(path))
    data = browser.execute_script("return window.cgraphPage.data")
    first = next(i for i, op in enumerate(data["ops"]) if op is None and str(i) not in data["shapes"])
    name, value = data["names"][first], data["trace"]["values"][first]
    new = repr(value * 1.25 + 0.5 if isinstance(value, float) else value + 1)
    _type(browser, name, new)
    assert browser.find_element("id", "message").text == ""
    _press(browser, END)  # End
    want = _expected(invoke, path, f"{name}={new}")
    got = _shown(browser)
    for node, (v, g) in want.items():
        assert _same(got[node][0], v) and _same(got[node][1], g), (node, got[node], (v, g))


def test_a_value_the_page_cannot_compute_is_said_and_the_last_numbers_kept(browser, tmp_path, graph_file):
    path = graph_file("inputs:\n  x: 4\nnodes:\n  y: log(x) + x\n")
    _open(browser, tmp_path, _page(path))
    _type(browser, "x", "-1")
    assert "log of a non-positive number" in browser.find_element("id", "message").text
    _press(browser, END)
    assert _shown(browser)["y"][0] == math.log(4) + 4
    _type(browser, "x", "abc")
    assert "'abc' is not a number" in browser.find_element("id", "message").text


LIVE_OPS = sorted(name for name, op in OPS.items() if not op.arrays_only and name not in NOT_LIVE)
# operands that must be positive (an input, 0.5 to 3, is): log's, the base of a power, ...
POSITIVE = {"log": (0,), "sqrt": (0,), "log1p": (0,), "div": (1,), "xlogy": (1,), "pow": (0,), "mulpow": (1,)}


def test_the_page_runs_every_op_of_numbers_but_those_it_says_it_cannot(browser, tmp_path):
    _open(browser, tmp_path, _page(GRAPHS / "apples.yaml"))
    assert sorted(browser.execute_script("return window.cgraphPage.ops")) == LIVE_OPS


def _random_graph(rng: random.Random) -> tuple[str, dict]:
    """A random graph of numbers over every op the page runs, and new values for its inputs."""
    inputs = {f"x{k}": round(rng.uniform(0.5, 3), 3) for k in range(rng.randint(1, 4))}
    names = list(inputs)
    lines = []
    for k in range(rng.randint(2, 9)):
        op = OPS[rng.choice(LIVE_OPS)]
        count = rng.randint(op.min_args, op.max_args or op.min_args + 2)
        operands = [rng.choice(names + ["2", "0.5"]) for _ in range(count)]
        for slot in POSITIVE.get(op.name, ()):
            operands[slot] = rng.choice(list(inputs))
        if op.name == "clip":
            operands[1:] = ["0.5", "2.5"]
        if op.name in ("pow", "mulpow"):  # (a modest exponent: no overflow to look for)
            operands[-1] = rng.choice(["2", "0.5", "3", rng.choice(list(inputs))])
        lines.append(f"  n{k}: {{op: {op.name}, inputs: [{', '.join(operands)}]}}")
        names.append(f"n{k}")
    text = "inputs:\n" + "".join(f"  {n}: {v}\n" for n, v in inputs.items()) + "nodes:\n" + "\n".join(lines) + "\n"
    return text, {n: round(v * rng.uniform(0.6, 1.4), 4) for n, v in inputs.items()}


def test_random_graphs_in_the_page_give_cgraphs_numbers(browser, tmp_path, invoke, graph_file):
    rng = random.Random(19)
    checked = 0
    while checked < int(os.environ.get("CGRAPH_PAGE_GRAPHS", 25)):
        text, changes = _random_graph(rng)
        path = graph_file(text, f"r{checked}.yaml")
        run = invoke("run", str(path), *[a for n, v in changes.items() for a in ("--set", f"{n}={v}")], "--json")
        if run.exit_code != 0:  # (a value out of an op's domain at the changed inputs: another graph)
            continue
        _open(browser, tmp_path, _page(path), f"r{checked}.html")
        for name, value in changes.items():
            _type(browser, name, repr(value))
        assert browser.find_element("id", "message").text == "", text
        _press(browser, END)
        got = _shown(browser)
        for node in json.loads(run.stdout)["nodes"]:
            assert _same(got[node["name"]][0], node["value"]), (text, node, got[node["name"]])
            assert _same(got[node["name"]][1], node.get("grad")), (text, node, got[node["name"]])
        checked += 1


def test_the_page_makes_no_network_request(browser, tmp_path):
    browser.get_log("performance")  # (what came before)
    page = _open(browser, tmp_path, _page(GRAPHS / "apples.yaml", layout=False))  # dagre's too
    _press(browser, END)
    asked = [
        json.loads(entry["message"])["message"]["params"].get("request", {}).get("url")
        for entry in browser.get_log("performance")
        if json.loads(entry["message"])["message"]["method"] == "Network.requestWillBeSent"
    ]
    assert asked == [page.as_uri()], asked


def test_dagre_lays_out_every_node_when_graphviz_is_not_there(browser, tmp_path):
    _open(browser, tmp_path, _page(GRAPHS / "black_scholes.yaml", layout=False))
    placed = browser.execute_script("return document.querySelectorAll('#graph .node').length")
    data = page_data(_result(GRAPHS / "black_scholes.yaml"), None)
    assert placed == len(data["scene"]["nodes"])
    boxes = browser.execute_script("return document.querySelectorAll('#graph .call').length")
    assert boxes == len(set(data["calls"].values())) > 0


def _text(x) -> str:
    """A number as the page writes it: Python's repr, an integral value without '.0'."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(float(x))


@pytest.mark.parametrize("wrt", ["x", "a", "tax"])
def test_clicking_a_node_explains_its_paths_as_cgraph_explain_does(browser, tmp_path, invoke, graph_file, wrt):
    path = graph_file("inputs:\n  x: 1.5\n  tax: 1.1\nnodes:\n  a: x * 2\n  b: x * a\n  y: a * b * tax\noutput: y\n")
    _open(browser, tmp_path, _page(path))
    position = browser.execute_script(f"return window.cgraphPage.data.names.indexOf({wrt!r})")
    browser.find_element("css selector", f'[data-node="n{position}"]').click()
    shown = browser.find_element("id", "explain").text.splitlines()
    want = json.loads(invoke("explain", str(path), "--wrt", wrt, "--json").stdout)
    assert f"∂y/∂{wrt} = {_text(want['gradient'])} (backprop)" in shown
    for k, p in enumerate(want["paths"], start=1):
        line = f"path {k}: {' ← '.join(p['nodes'])}: {' × '.join(map(_text, p['locals']))} = {_text(p['product'])}"
        assert line in shown, (line, shown)
    if want["path_count"] > 1:
        assert f"sum of the paths = {_text(want['paths_sum'])}" in shown


def test_a_call_box_folds_and_unfolds(browser, tmp_path):
    _open(browser, tmp_path, _page(GRAPHS / "black_scholes.yaml"))
    box = browser.find_element("css selector", "#graph .call")
    title = box.find_element("css selector", "text")
    title.click()
    assert box.get_attribute("aria-expanded") == "false" and title.text.endswith("▸")
    assert browser.execute_script("return document.querySelectorAll('#graph .node.hidden').length") > 0
    title.click()
    assert browser.execute_script("return document.querySelectorAll('#graph .node.hidden').length") == 0


def test_the_page_is_usable_by_keyboard_and_tells_a_screen_reader_each_step(browser, tmp_path):
    _open(browser, tmp_path, _page(GRAPHS / "apples.yaml"))
    status = browser.find_element("id", "step-text")
    assert status.get_attribute("aria-live") == "polite" and status.get_attribute("role") == "status"
    _press(browser, " ")  # space steps too
    assert status.text == "apple_price = apple × apple_num = 100 × 2 = 200"
    _press(browser, HOME)  # Home
    assert "Press → to run the forward pass" in status.text
    assert browser.find_element("id", "large").get_attribute("aria-pressed") == "false"


def test_light_dark_and_large_type(browser, tmp_path):
    _open(browser, tmp_path, _page(GRAPHS / "two_layer_net.yaml"))
    background = "return getComputedStyle(document.body).backgroundColor"
    light = browser.execute_script(background)
    browser.find_element("id", "theme").click()
    assert browser.execute_script(background) != light == "rgb(255, 255, 255)"
    size = "return getComputedStyle(document.body).fontSize"
    before = browser.execute_script(size)
    browser.find_element("id", "large").click()
    assert float(browser.execute_script(size)[:-2]) > float(before[:-2])
    labels = browser.execute_script("return [...document.querySelectorAll('#graph .label')].map(t => t.textContent)")
    assert "W1 (2, 10)" in labels and "b1 (10,)" in labels  # an array's node says its shape


@pytest.mark.skipif(not os.environ.get("CGRAPH_SCREENSHOT"), reason="makes docs/page_apples.png (CGRAPH_SCREENSHOT=1)")
def test_screenshot_for_the_readme(browser, tmp_path):
    _open(browser, tmp_path, _page(GRAPHS / "apples.yaml"))
    steps = browser.execute_script("return window.cgraphPage.steps().map(s => s.text)")
    _press(browser, RIGHT, next(k for k, t in enumerate(steps) if t.startswith("dout = ∂price/∂apple_price")))
    browser.set_window_size(1100, 760)
    browser.save_screenshot(str(Path(__file__).resolve().parent.parent / "docs" / "page_apples.png"))


def test_a_graph_too_large_for_graphviz_and_dagre_is_laid_out_in_columns(browser, tmp_path, graph_file, monkeypatch):
    """Past GRAPHVIZ_LIMIT nodes `auto` does not wait for dot (5,000 took more than a minute), and
    past 1,500 the page does not ask dagre (its recursion overflows at 5,000): plain columns."""
    from cgraph_cli.commands import page as pages

    lines = ["inputs:\n  a: 0.5\n  b: 1.5\nnodes:\n", "  v0: a * b\n  v1: sin(v0) + 2\n"]
    lines += [f"  v{k}: v{k - 1} * v{k - 2}\n" if k % 2 else f"  v{k}: sin(v{k - 1}) + a\n" for k in range(2, 1600)]
    path = graph_file("".join(lines), "big.yaml")
    called = []
    monkeypatch.setattr(pages, "graphviz_layout", lambda result, scene=None: called.append(1))
    html = pages.page(_result(path))
    assert not called and "@dagrejs/dagre" in html
    _open(browser, tmp_path, html)
    assert browser.execute_script("return document.querySelectorAll('#graph .node').length") > 1600
    _press(browser, END)
    assert _shown(browser)["v1599"][1] == 1


def test_graphviz_too_slow_is_said_under_layout_graphviz_and_passed_over_under_auto(monkeypatch):
    import subprocess

    from cgraph_cli.commands import page as pages
    from cgraph_cli.commands.draw import ToolMissing

    def too_slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], 60)

    monkeypatch.setattr(subprocess, "run", too_slow)
    result = _result(GRAPHS / "apples.yaml")
    with pytest.raises(ToolMissing, match="took more than 60 s"):
        pages.page(result, "graphviz")
    assert "@dagrejs/dagre" in pages.page(result, "auto")


def test_a_branch_where_does_not_take_needs_no_value_in_the_page_either(browser, tmp_path, invoke, graph_file):
    path = graph_file("inputs:\n  x: 2\nnodes:\n  y: where(x > 0, log(x), 0 - x)\n")
    _open(browser, tmp_path, _page(path))
    _type(browser, "x", "-1")
    assert browser.find_element("id", "message").text == ""
    _press(browser, END)
    want = _expected(invoke, path, "x=-1")
    got = _shown(browser)
    for node, (value, grad) in want.items():
        assert got[node] == (value, grad), (node, got[node], (value, grad))
