"""The package's layers, read from its source: every import, those inside functions included.

    core      ops, graphs and the engines (nothing here prints or reads a file)
    read      files in: YAML, JSON, formulas, array files, located errors
    show      what every command shows alike: numbers as text, tables, JSON, CSV, YAML, plots
    commands  one module per command: what it computes and how it is shown
    cli, api  the command line and the Python API, thin: options and arguments to commands

An import may point down, or sideways within a layer; never up. And no cycle, counting the
imports made inside functions (kept there for start-up time): they must point down too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cgraph_cli"
LAYERS = ["core", "read", "show", "commands", "cli", "api", "__init__", "__main__"]
# cli and api stand side by side at the top; the package's __init__ and __main__ above them.
RANK = {"core": 0, "read": 1, "show": 2, "commands": 3, "cli": 4, "api": 4, "__init__": 5, "__main__": 5}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(module imported, line) for every import of the package's own modules in the file, at any depth."""
    me = module_name(path).split(".")
    package = me if is_package(path) else me[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
            elif node.module and node.module.split(".")[0] == "cgraph_cli":
                base, node_module = [], node.module.split(".", 1)[1] if "." in node.module else ""
                node = ast.ImportFrom(module=node_module or None, names=node.names, level=1, lineno=node.lineno)
            else:
                continue
            prefix = base + (node.module.split(".") if node.module else [])
            for alias in node.names:
                candidate = ".".join([*prefix, alias.name])
                target = candidate if _exists(candidate) else ".".join(prefix)
                found.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cgraph_cli."):
                    found.append((alias.name.split(".", 1)[1], node.lineno))
    return [(target, line) for target, line in found if target and target != "__version__"]


def _exists(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def layer_of(module: str) -> str:
    return module.split(".")[0] if module else "__init__"


def graph() -> dict[str, list[tuple[str, int]]]:
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_is_in_a_layer():
    assert {layer_of(m) for m in graph()} <= set(LAYERS), sorted(graph())


def test_no_import_points_up():
    upward = [
        f"{module} (line {line}) imports {target}"
        for module, targets in graph().items()
        for target, line in targets
        if target and RANK[layer_of(target)] > RANK[layer_of(module)]
    ]
    assert upward == []


def test_no_import_cycle_even_through_imports_inside_functions():
    edges = {module: {target for target, _ in targets if target != module} for module, targets in graph().items()}
    # A package's __init__ (a docstring here) is imported by its modules' own import; not an edge.
    cycles = []
    state: dict[str, int] = {}  # 1: on the walk's path, 2: done
    for start in sorted(edges):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        state[start] = 1
        while stack:
            module, following = stack[-1]
            nxt = next(following, None)
            if nxt is None:
                state[module] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt) :] + [nxt]))
            elif not state.get(nxt) and nxt in edges:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(edges[nxt]))))
                path.append(nxt)
    assert cycles == []


def test_the_layer_packages_hold_no_code():
    """A layer's __init__ says what the layer is, and imports nothing: importing one of its modules
    must not load the others (start-up time)."""
    for layer in ("core", "read", "show", "commands"):
        tree = ast.parse((PACKAGE / layer / "__init__.py").read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), layer
        assert all(isinstance(node, ast.Expr) for node in tree.body), layer


def test_the_reader_sees_imports_inside_functions():
    """The check itself: a function-level import of a module above is found (planted in a copy)."""
    planted = PACKAGE / "core" / "op.py"
    tree = imports_of(planted)
    text = planted.read_text(encoding="utf-8") + "\n\ndef _planted():\n    from ..commands import run\n"
    copy = PACKAGE / "core" / "_planted_for_test.py"
    try:
        copy.write_text(text, encoding="utf-8")
        found = imports_of(copy)
    finally:
        copy.unlink()
    assert ("commands.run", text.count("\n") - 0) in found or any(t == "commands.run" for t, _ in found)
    assert not any(t == "commands.run" for t, _ in tree)
