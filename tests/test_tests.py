"""The suite checked for its own traps: tolerances that make a comparison vacuous."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# Each comparison with a relative tolerance, and the absolute tolerance it adds when none is given:
# pytest.approx adds 1e-12 and numpy 1e-8, which swamp any relative tolerance for values below them
# (approx(1e-160, rel=1e-15) accepted 0; allclose(0.5, ..., rtol=1e-15) accepted 0.5 + 5e-9).
HIDDEN_ABSOLUTE = {"approx": ("rel", "abs"), "allclose": ("rtol", "atol"), "isclose": ("rtol", "atol")}


def comparisons_without_their_absolute_tolerance(source: str) -> list[int]:
    lines = []
    for call in ast.walk(ast.parse(source)):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        owner = getattr(getattr(func, "value", None), "id", None)
        if name not in HIDDEN_ABSOLUTE or owner == "math":  # math.isclose's abs_tol is 0 unless given
            continue
        relative, absolute = HIDDEN_ABSOLUTE[name]
        given = {k.arg for k in call.keywords}
        if relative in given and absolute not in given:
            lines.append(call.lineno)
    return lines


def test_every_relative_tolerance_states_its_absolute_one():
    found = {
        f"{path.name}:{line}"
        for path in TESTS.glob("*.py")
        for line in comparisons_without_their_absolute_tolerance(path.read_text())
    }
    assert not found, f"say abs=/atol= (0 where values may be tiny) at {sorted(found)}"


def test_the_check_sees_each_kind_of_comparison():
    source = (
        "pytest.approx(1e-160, rel=1e-15)\n"
        "np.allclose(a, b, rtol=1e-15)\n"
        "np.isclose(a, b, rtol=1e-15)\n"
        "math.isclose(a, b, rel_tol=1e-15)\n"
        "pytest.approx(1.0, rel=1e-15, abs=0)\n"
        "np.allclose(a, b, rtol=1e-15, atol=0)\n"
    )
    assert comparisons_without_their_absolute_tolerance(source) == [1, 2, 3]


def test_every_planted_bug_still_applies_to_the_code_it_names():
    """dev/planted_bugs.py patches text that must occur exactly once in its file: after code moves
    (the package's layers), a bug that no longer applies would measure nothing."""
    import importlib.util

    root = TESTS.parent
    spec = importlib.util.spec_from_file_location("planted_bugs", root / "dev" / "planted_bugs.py")
    assert spec is not None and spec.loader is not None
    planted = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(planted)
    for name, (_, file, text, replacement) in planted.BUGS.items():
        source = (root / file).read_text(encoding="utf-8")
        assert source.count(text) == 1, (name, file)
        assert replacement != text, name
