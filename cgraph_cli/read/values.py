"""Array values as a graph file gives them, read into numpy arrays, every mistake located.

An input or constant may be a nested list (`x: [[1.0, -0.5], [-2.0, 3.0]]`), a
file next to the graph file (`{file: W1.npy}`, `{file: data.csv}`), a seeded
random array (`{normal: 0.01, shape: [2, 3], seed: 0}`, the book's
`weight_init_std * np.random.randn(2, 3)`), or zeros (`{zeros: [3]}`, the book's
`np.zeros(3)`). Every array holds finite float64 numbers. A file is read as
data only: .npy without pickles, .csv as numbers.
"""

from __future__ import annotations

import math
import os

from ..core.arrays import not_finite_at
from ..core.errors import shorten
from ..core.graph import MAX_ELEMENTS
from ..core.layers import MAX_DIMS
from .yamltree import Scalar, Seq, describe

MAX_FILE_BYTES = 1 << 30

# Each rule here is called by both ways in (read/loader.py): the careful way passes the file's tree
# (Seq, Scalar) and a builder that locates every error; the fast way passes plain lists and numbers
# and a reader whose every error is "not sure" (the careful way then says where).


def _items(node) -> list | None:
    """A list's items: a Seq's in the careful tree, a list's on the fast way; None for anything else."""
    return node.items if type(node) is Seq else node if type(node) is list else None


def _loc(node):
    return getattr(node, "loc", None)


def input_value(builder, fields: dict, what: str):
    """An input's or constant's value and label from its mapping's entries ({key: (key node, value
    node)}): {value: NUMBER or [...]}, {file: PATH}, {normal: STD, shape: [...], seed: N} or {zeros: [...]}."""
    label = builder.text(fields["label"][1], f"the label of {what}") if "label" in fields else None
    sources = [k for k in ("value", "file", "normal", "zeros") if k in fields]
    if len(sources) != 1:
        raise builder.fail(
            f"{what} needs one value: {{value: NUMBER or [...]}}, {{file: PATH}}, "
            f"{{normal: STD, shape: [...], seed: N}} or {{zeros: [...]}}"
            + (f", not {' and '.join(sources)}" if sources else ""),
            builder.here,
        )
    for extra in ("shape", "seed"):
        if extra in fields and sources != ["normal"]:
            raise builder.fail(f"{what}: '{extra}' goes with normal:", _loc(fields[extra][0]))
    if sources != ["value"]:
        array = generated(builder, fields, what)
        return (float(array) if array.ndim == 0 else array), label  # one number (a one-number CSV) is a number
    return value_of(builder, fields["value"][1], what), label


def distribution(builder, node, what: str):
    """An input's `dist:` (core/distributions.py): its text read, the error located at it."""
    from ..core.distributions import DistributionError, parse_distribution
    from .syntax import parse_number

    text = builder.text(node, f"the distribution of {what}")
    try:
        return parse_distribution(text, parse_number)
    except DistributionError as e:
        raise builder.fail(f"{what}: {e}", _loc(node)) from None


def value_of(builder, node, what: str):
    """A value as written: a number, or a nested list of numbers (an array)."""
    return nested(builder, node, what) if _items(node) is not None else builder.number(node, what)


def nested(builder, seq, what: str):
    """A nested list of numbers as an array: rectangular, each element a finite number."""
    import numpy as np

    shape: list[int] = []
    level = [seq]
    while True:  # one nesting level at a time: every list at a level has the same length
        first = _items(level[0])
        if first is None:
            break
        if len(shape) == MAX_DIMS:
            raise builder.fail(
                f"{what}: the lists nest deeper than the {MAX_DIMS} dimensions an array may have", _loc(level[0])
            )
        size = len(first)
        if size == 0:
            raise builder.fail(f"{what}: an array needs at least one element, not an empty list", _loc(level[0]))
        for s in level:
            items = _items(s)
            if items is None or len(items) != size:
                got = f"{len(items)} elements" if items is not None else "a number"
                raise builder.fail(
                    f"{what}: the array is ragged: this has {got} where the first list at its depth has {size}"
                    + ("" if items is not None else " elements"),
                    _loc(s),
                )
        builder.spend(size * len(level))
        shape.append(size)
        level = [item for s in level for item in _items(s)]  # type: ignore[union-attr]
    numbers = []
    for item in level:
        if _items(item) is not None:
            raise builder.fail(f"{what}: the array is ragged: a list where a number is expected", _loc(item))
        numbers.append(float(builder.number(item, f"an element of {what}")))
    return np.array(numbers, dtype=float).reshape(shape)


def generated(builder, fields: dict, what: str):
    """An array from a file, a seeded normal draw, or zeros."""
    import numpy as np

    if "file" in fields:
        _, node = fields["file"]
        return from_file(builder, builder.text(node, f"the file of {what}"), node, what)
    if "zeros" in fields:
        return np.zeros(read_shape(builder, fields["zeros"][1], f"the shape of {what}"))
    std_node = fields["normal"][1]
    std = builder.number(std_node, f"the normal: (standard deviation) of {what}")
    if std < 0:
        raise builder.fail(f"{what}: a standard deviation is 0 or more, not {std!r}", _loc(std_node))
    if "shape" not in fields:
        raise builder.fail(f"{what} needs a shape: {{normal: STD, shape: [...], seed: N}}", _loc(std_node))
    shape = read_shape(builder, fields["shape"][1], f"the shape of {what}")
    seed = _whole(builder, fields["seed"][1], f"{what}: a seed", 0) if "seed" in fields else 0
    with np.errstate(all="ignore"):
        drawn = std * np.random.default_rng(seed).standard_normal(shape)
    if not_finite_at(np, drawn) is not None:
        raise builder.fail(
            f"{what}: a standard deviation of {std!r} draws numbers past a float's range", _loc(std_node)
        )
    return drawn


def _whole(builder, node, what: str, least: int) -> int:
    """A whole number, `least` or more (`what` says what it is, for the message)."""
    n = builder.number(node, what)
    if type(n) is not int or n < least:
        raise builder.fail(f"{what} is a whole number, {least} or more, not {n!r}", _loc(node))
    return n


def read_shape(builder, node, what: str) -> tuple[int, ...]:
    """A shape: a list of sizes, each a whole number 1 or more (a number alone is a 1-D shape)."""
    items = _items(node)
    if items is None:
        items = [node]
    if len(items) > MAX_DIMS:
        raise builder.fail(f"{what}: {len(items)} dimensions; an array has at most {MAX_DIMS}", _loc(node))
    shape = tuple(_whole(builder, item, f"{what}: a size", 1) for item in items)
    if math.prod(shape) > MAX_ELEMENTS:
        raise builder.fail(f"{what}: {math.prod(shape):,} elements; at most {MAX_ELEMENTS:,}", _loc(node))
    return shape


def from_file(builder, name: str, node: Scalar, what: str):
    """An array from a .npy or .csv file, its path relative to the graph file's folder."""
    import numpy as np

    source = builder.source
    base = os.path.dirname(source) if source and not source.startswith("<") else ""
    path = os.path.join(base, os.path.expanduser(name))
    kind = os.path.splitext(name)[1].lower()
    if kind not in (".npy", ".csv"):
        raise builder.fail(f"{what}: cgraph reads arrays from .npy and .csv files, not '{shorten(name)}'", _loc(node))
    try:
        if not os.path.isfile(path):
            raise OSError("no such file" if not os.path.exists(path) else "not a regular file")
        if os.path.getsize(path) > MAX_FILE_BYTES:
            raise OSError(f"larger than {MAX_FILE_BYTES >> 30} GiB")
        if kind == ".npy":
            _judge_npy_header(builder, np, path, name, node, what)
            array = np.load(path, allow_pickle=False)  # data only: a pickle could run code
        else:
            array = _read_csv(np, path)
            if array is None:
                raise builder.fail(f"{what}: '{shorten(name)}' holds no numbers", _loc(node))
    except (OSError, ValueError, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if kind == ".csv" and "at row 0," in reason:
            reason += " (a header line must start with #)"
        raise builder.fail(f"{what}: cannot read '{shorten(name)}': {shorten(reason, 200)}", _loc(node)) from None
    array = np.array(array, dtype=float)
    if array.ndim > MAX_DIMS:
        raise builder.fail(f"{what}: '{shorten(name)}' has {array.ndim} dimensions; at most {MAX_DIMS}", _loc(node))
    if array.size > MAX_ELEMENTS:
        raise builder.fail(
            f"{what}: '{shorten(name)}' holds {array.size:,} numbers; at most {MAX_ELEMENTS:,}", _loc(node)
        )
    if array.size == 0:
        raise builder.fail(f"{what}: '{shorten(name)}' holds no numbers", _loc(node))
    at = not_finite_at(np, array)
    if at is not None:
        shown = array[at]
        raise builder.fail(f"{what}: '{shorten(name)}' holds {shown} at {list(at)}, not a finite number", _loc(node))
    return array


def _judge_npy_header(builder, np, path: str, name: str, node, what: str) -> None:
    """Refuse a .npy by its header, before reading its data: what it holds and how many numbers
    (a header may claim 10**20 of them in a file of a hundred bytes)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)
    if dtype.kind not in "biuf":
        raise ValueError(f"it holds {dtype} values, not numbers")
    if len(shape) > MAX_DIMS:
        raise builder.fail(f"{what}: '{shorten(name)}' has {len(shape)} dimensions; at most {MAX_DIMS}", _loc(node))
    if math.prod(shape) > MAX_ELEMENTS:
        raise builder.fail(
            f"{what}: '{shorten(name)}' holds {math.prod(shape):,} numbers; at most {MAX_ELEMENTS:,}", _loc(node)
        )


def _read_csv(np, path: str):
    """The numbers of a CSV file (comma-separated, lines starting with # skipped, a UTF-8 byte-order
    mark as spreadsheets write it allowed); None where it holds none."""
    import warnings

    with open(path, encoding="utf-8-sig") as f:
        lines = f.read().splitlines()
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.loadtxt(lines, delimiter=",", dtype=float, comments="#")


def attribute(builder, kind: str, node, what: str):
    """A node's attribute of the kind its op declares (core/op.py): axis (null, a number or a list of
    them), flag (true or false), axes (null or a list of axes), shape (a list of sizes, one may be -1)."""
    if kind == "flag":
        if type(node) is bool:  # (the fast way's JSON true)
            return node
        if type(node) is not Scalar or not node.plain or not node.is_bool:
            raise builder.fail(f"{what} must be true or false, not {describe(node)}", _loc(node))
        return node.text.lower() == "true"
    if kind in ("axis", "axes") and (node is None or type(node) is Scalar and node.plain and node.is_null):
        return None
    items = _items(node)
    if items is None and kind in ("axes", "shape"):
        raise builder.fail(f"{what} must be a list of whole numbers, not {describe(node)}", _loc(node))
    numbers = []
    for item in items if items is not None else [node]:
        n = builder.number(item, f"{what}")
        if type(n) is not int:
            raise builder.fail(f"{what} must be whole numbers, not {n!r}", _loc(item))
        numbers.append(n)
    return numbers[0] if items is None else tuple(numbers)
