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


def nested(builder, seq: Seq, what: str):
    """A nested list of numbers as an array: rectangular, each element a finite number."""
    import numpy as np

    shape: list[int] = []
    level = [seq]
    while True:  # one nesting level at a time: every list at a level has the same length
        first = level[0]
        if type(first) is not Seq:
            break
        if len(shape) == MAX_DIMS:
            raise builder.fail(
                f"{what}: the lists nest deeper than the {MAX_DIMS} dimensions an array may have", first.loc
            )
        size = len(first.items)
        if size == 0:
            raise builder.fail(f"{what}: an array needs at least one element, not an empty list", first.loc)
        for s in level:
            if type(s) is not Seq or len(s.items) != size:
                got = f"{len(s.items)} elements" if type(s) is Seq else "a number"
                raise builder.fail(
                    f"{what}: the array is ragged: this has {got} where the first list at its depth has {size}"
                    + ("" if type(s) is Seq else " elements"),
                    s.loc,
                )
        builder.spend(size * len(level))
        shape.append(size)
        level = [item for s in level for item in s.items]
    numbers = []
    for item in level:
        if type(item) is Seq:
            raise builder.fail(f"{what}: the array is ragged: a list where a number is expected", item.loc)
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
        raise builder.fail(f"{what}: a standard deviation is 0 or more, not {std!r}", std_node.loc)
    if "shape" not in fields:
        raise builder.fail(f"{what} needs a shape: {{normal: STD, shape: [...], seed: N}}", std_node.loc)
    shape = read_shape(builder, fields["shape"][1], f"the shape of {what}")
    seed = _whole(builder, fields["seed"][1], f"{what}: a seed", 0) if "seed" in fields else 0
    with np.errstate(all="ignore"):
        drawn = std * np.random.default_rng(seed).standard_normal(shape)
    if not_finite_at(np, drawn) is not None:
        raise builder.fail(f"{what}: a standard deviation of {std!r} draws numbers past a float's range", std_node.loc)
    return drawn


def _whole(builder, node, what: str, least: int) -> int:
    """A whole number, `least` or more (`what` says what it is, for the message)."""
    n = builder.number(node, what)
    if type(n) is not int or n < least:
        raise builder.fail(f"{what} is a whole number, {least} or more, not {n!r}", node.loc)
    return n


def read_shape(builder, node, what: str) -> tuple[int, ...]:
    """A shape: a list of sizes, each a whole number 1 or more (a number alone is a 1-D shape)."""
    items = node.items if type(node) is Seq else [node]
    if len(items) > MAX_DIMS:
        raise builder.fail(f"{what}: {len(items)} dimensions; an array has at most {MAX_DIMS}", node.loc)
    shape = tuple(_whole(builder, item, f"{what}: a size", 1) for item in items)
    if math.prod(shape) > MAX_ELEMENTS:
        raise builder.fail(f"{what}: {math.prod(shape):,} elements; at most {MAX_ELEMENTS:,}", node.loc)
    return shape


def from_file(builder, name: str, node: Scalar, what: str):
    """An array from a .npy or .csv file, its path relative to the graph file's folder."""
    import numpy as np

    source = builder.source
    base = os.path.dirname(source) if source and not source.startswith("<") else ""
    path = os.path.join(base, os.path.expanduser(name))
    kind = os.path.splitext(name)[1].lower()
    if kind not in (".npy", ".csv"):
        raise builder.fail(f"{what}: cgraph reads arrays from .npy and .csv files, not '{shorten(name)}'", node.loc)
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
                raise builder.fail(f"{what}: '{shorten(name)}' holds no numbers", node.loc)
    except (OSError, ValueError, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if kind == ".csv" and "at row 0," in reason:
            reason += " (a header line must start with #)"
        raise builder.fail(f"{what}: cannot read '{shorten(name)}': {shorten(reason, 200)}", node.loc) from None
    array = np.array(array, dtype=float)
    if array.ndim > MAX_DIMS:
        raise builder.fail(f"{what}: '{shorten(name)}' has {array.ndim} dimensions; at most {MAX_DIMS}", node.loc)
    if array.size > MAX_ELEMENTS:
        raise builder.fail(
            f"{what}: '{shorten(name)}' holds {array.size:,} numbers; at most {MAX_ELEMENTS:,}", node.loc
        )
    if array.size == 0:
        raise builder.fail(f"{what}: '{shorten(name)}' holds no numbers", node.loc)
    at = not_finite_at(np, array)
    if at is not None:
        shown = array[at]
        raise builder.fail(f"{what}: '{shorten(name)}' holds {shown} at {list(at)}, not a finite number", node.loc)
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
        raise builder.fail(f"{what}: '{shorten(name)}' has {len(shape)} dimensions; at most {MAX_DIMS}", node.loc)
    if math.prod(shape) > MAX_ELEMENTS:
        raise builder.fail(
            f"{what}: '{shorten(name)}' holds {math.prod(shape):,} numbers; at most {MAX_ELEMENTS:,}", node.loc
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
        if type(node) is not Scalar or not node.plain or not node.is_bool:
            raise builder.fail(f"{what} must be true or false, not {describe(node)}", node.loc)
        return node.text.lower() == "true"
    if kind in ("axis", "axes") and type(node) is Scalar and node.plain and node.is_null:
        return None
    items = node.items if type(node) is Seq else None
    if items is None and kind in ("axes", "shape"):
        raise builder.fail(f"{what} must be a list of whole numbers, not {describe(node)}", node.loc)
    numbers = []
    for item in items if items is not None else [node]:
        n = builder.number(item, f"{what}")
        if type(n) is not int:
            raise builder.fail(f"{what} must be whole numbers, not {n!r}", item.loc)
        numbers.append(n)
    return numbers[0] if items is None else tuple(numbers)
