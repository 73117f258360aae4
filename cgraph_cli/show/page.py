"""The page of `cgraph page`: the data `commands/page.py` made, put into one HTML file with its
style and script (show/web/), and dagre (MIT, show/web/dagre-LICENSE) where Graphviz laid
nothing out. No file it needs is fetched: it works from a disk or a USB stick, offline."""

from __future__ import annotations

import json
import re
from importlib import resources

DAGRE_VERSION = "@dagrejs/dagre 3.1.3"


def _part(name: str) -> str:
    return resources.files(__package__).joinpath("web").joinpath(name).read_text(encoding="utf-8")


def page_html(data: dict) -> str:
    """The page, whole. The data is JSON inside a script element, every '<' written as \\u003c, so
    no name or label in it can end the element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).replace("<", "\\u003c")
    dagre = ""
    if data.get("layout") is None:
        dagre = f"/* {DAGRE_VERSION}, MIT licence:\n{_part('dagre-LICENSE')}*/\n{_part('dagre.min.js')}"
    parts = {"CSS": _part("page.css"), "DATA": text, "DAGRE": dagre, "JS": _part("page.js")}
    return re.sub(r"/\*(CSS|DATA|DAGRE|JS)\*/", lambda m: parts[m.group(1)], _part("page.html"))  # (one pass)
