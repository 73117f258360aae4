"""cgraph examples: the graphs that come with cgraph, listed, printed, or copied out to try.

They are the files of the repository's graphs/ folder, installed inside the
package, so every `--help` example (`cgraph run graphs/apples.yaml`) works
after `cgraph examples --copy graphs`, wherever cgraph was installed from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import RequestError, RunError, did_you_mean, shorten
from ..show.formats import to_json
from ..show.table import Table

FOLDER = Path(__file__).resolve().parent.parent / "examples"
_DATA_FILE = re.compile(r"\{file:\s*([^}\s]+)\s*\}")  # a data file an example reads: {file: data/x.csv}


@dataclass(frozen=True)
class Example:
    name: str  # the file's name without .yaml
    description: str
    path: Path

    def needs(self) -> list[str]:
        """The data files the example reads, relative to it (data/xor_points.csv)."""
        return _DATA_FILE.findall(self.path.read_text(encoding="utf-8"))


def examples() -> list[Example]:
    """Every example, by name."""
    return [Example(path.stem, _description(path), path) for path in sorted(FOLDER.glob("*.yaml"))]


def example(name: str) -> Example:
    """The example of that name (apples or apples.yaml), or the error saying which there are."""
    stem = name.removesuffix(".yaml")
    found = {e.name: e for e in examples()}
    if stem not in found:
        hint = did_you_mean(stem, found) or " (`cgraph examples` lists them)"
        raise RequestError(f"there is no example '{shorten(name)}'{hint}")
    return found[stem]


def copy_examples(folder: str, names: list[str]) -> list[Path]:
    """Copy the examples named (all, where none is) and the data files they read into `folder`
    (made if need be), refusing before anything is written where a file there would be replaced."""
    if not folder:
        raise RequestError("--copy needs a folder to copy into (. for this one)")
    chosen = [example(name) for name in names] if names else examples()
    target = Path(folder)
    copies: dict[Path, Path] = {}
    for e in chosen:
        copies[target / e.path.name] = e.path
        for data in e.needs():
            copies[target / data] = e.path.parent / data
    there = [str(path) for path in copies if path.exists()]
    if there:
        raise RunError(f"{shorten(there[0])} is there already; cgraph examples --copy replaces no file")
    if target.exists() and not target.is_dir():
        raise RunError(f"{shorten(folder)} is a file, not a folder")
    for path, source in copies.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(source.read_bytes())
        except OSError as e:
            raise RunError(f"cannot write {shorten(str(path))}: {e.strerror or e}") from None
    return list(copies)


def _description(path: Path) -> str:
    """An example's description, as cgraph reads it."""
    from ..read.loader import load_bytes

    return load_bytes(path.read_bytes(), str(path)).description or ""


def examples_table(color: bool = False) -> str:
    """`cgraph examples`: each example's name and description."""
    table = Table()
    table.column("example")
    table.column("description")
    table.rows.extend([e.name, _first_sentence(e.description)] for e in examples())
    return table.draw(None, color)


def _first_sentence(text: str, most: int = 100) -> str:
    end = text.find(". ")
    text = text if end < 0 else text[: end + 1]
    return text if len(text) <= most else text[: most - 1] + "…"


def examples_json() -> str:
    """`cgraph examples --json`."""
    return to_json([{"name": e.name, "description": e.description, "needs": e.needs()} for e in examples()])
