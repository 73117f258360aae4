"""cgraph page: the page's size, and how long the page takes to run both passes again when an input
changes, in headless Chromium (Debian's chromium and chromium-driver, driven by Selenium).

    python bench/page.py [--nodes 1000] [--repeat 21]

size    the HTML of apples.yaml and two_layer_net.yaml, with Graphviz's layout and with dagre's.
rerun   a graph of --nodes nodes (a chain of sin, mul and add over 4 inputs, each node using the
        two before it): the time from an input's change event to the page redrawn (both passes,
        the steps' text, every label), and the passes alone (window.cgraphPage.evaluate); medians
        of --repeat runs in the page (performance.now), after 3 warm-up runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def html_of(path: Path, layout: bool) -> str:
    from cgraph_cli.commands.page import graphviz_layout, page_data
    from cgraph_cli.core.engine import evaluate
    from cgraph_cli.read.loader import load_text
    from cgraph_cli.show.page import page_html

    result = evaluate(load_text(path.read_text(encoding="utf-8"), str(path)))
    return page_html(page_data(result, graphviz_layout(result) if layout else None))


def big_graph(n: int) -> str:
    lines = ["inputs:", "  a: 0.5", "  b: 1.5", "  c: 2.5", "  d: 0.25", "nodes:"]
    names = ["a", "b", "c", "d"]
    for k in range(n):
        op = ("sin", "mul", "add")[k % 3]
        operands = [names[-1]] if op == "sin" else [names[-1], names[-2]]
        lines.append(f"  v{k}: {{op: {op}, inputs: [{', '.join(operands)}]}}")
        names.append(f"v{k}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    for stem in ("apples", "two_layer_net"):
        sizes = [len(html_of(ROOT / "graphs" / f"{stem}.yaml", layout).encode()) for layout in (True, False)]
        print(f"size: {stem}.yaml: {sizes[0] / 1024:.1f} KB (Graphviz's layout), {sizes[1] / 1024:.1f} KB (dagre's)")

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "big.yaml"
            source.write_text(big_graph(args.nodes), encoding="utf-8")
            page = Path(folder) / "big.html"
            page.write_text(html_of(source, True), encoding="utf-8")
            driver.get(page.as_uri())
            whole, passes = driver.execute_script(
                """
                const [field] = document.querySelectorAll('#inputs input'), page = window.cgraphPage;
                const whole = [], passes = [], values = page.trace().values.slice();
                for (let k = 0; k < arguments[0] + 3; k++) {
                  field.value = String(0.5 + k / 1000);
                  let t = performance.now();
                  field.dispatchEvent(new Event('change'));
                  whole.push(performance.now() - t);
                  values[0] = 0.5 + k / 1000;
                  t = performance.now();
                  page.evaluate(values);
                  passes.push(performance.now() - t);
                }
                return [whole.slice(3), passes.slice(3)];
                """,
                args.repeat,
            )
            print(f"rerun: {args.nodes} nodes: {statistics.median(whole):.1f} ms to the page redrawn, "
                  f"{statistics.median(passes):.2f} ms for both passes alone (medians of {args.repeat})")  # fmt: skip
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
