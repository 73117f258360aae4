"""The one error type of cgraph: a message with the place in the file it is about."""

from __future__ import annotations

from operator import itemgetter


class Loc(tuple):
    """A 1-based line and column in a graph file: a tuple (line, col), so places sort in file
    order (a NamedTuple would cost every start a third of a millisecond to define)."""

    __slots__ = ()

    def __new__(cls, line: int, col: int):
        return tuple.__new__(cls, (line, col))

    line = property(itemgetter(0))
    col = property(itemgetter(1))

    def __repr__(self) -> str:
        return f"Loc(line={self.line}, col={self.col})"


class CgraphError(Exception):
    """Something cgraph cannot do, with where (file, line, column) when known."""

    def __init__(self, message: str, loc: Loc | None = None, source: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.source = source

    def __str__(self) -> str:
        where = []
        if self.source is not None:
            where.append(self.source)
        if self.loc is not None:
            where += [str(self.loc.line), str(self.loc.col)]
        prefix = ":".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class GraphError(CgraphError):
    """The graph file is invalid, or its graph cannot be evaluated."""


class RequestError(CgraphError):
    """The caller asked for a name or value the graph does not have (a command-line mistake).

    `role` says which request it was ("set", "of", "wrt", "hessian"), for the command line to name
    in its own words; the core never speaks of options.
    """

    def __init__(self, message: str, source: str | None = None, role: str | None = None):
        super().__init__(message, None, source)
        self.role = role


class RunError(CgraphError):
    """The run itself failed: output cannot be written, input cannot be read, memory ran out."""


def printable(text: str, keep: str = "") -> str:
    """Text with every character that could steer a terminal or hide itself shown as an escape
    (control, format such as bidi overrides, line separators, surrogates); `keep` lists exceptions."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else c.encode("unicode_escape").decode("ascii") for c in text)


def shorten(text: str, most: int = 40) -> str:
    """Text of at most about `most` characters: a long name or number keeps its ends, the middle goes."""
    if len(text) <= most:
        return text
    keep = (most - 1) // 2
    return f"{text[:keep]}…{text[-keep:]}"


def did_you_mean(word: str, choices) -> str:
    """'; did you mean 'x'?' for the closest choice (case aside), or '' when none is close."""
    import difflib

    # A close match differs little in length; past 50,000 candidates, or for a very long
    # word, the comparison would take seconds, so that error gets no suggestion instead.
    if len(word) > 200:
        return ""
    candidates = {c.casefold(): c for c in choices if abs(len(c) - len(word)) <= 3}
    if len(candidates) > 50_000:
        return ""
    close = difflib.get_close_matches(word.casefold(), candidates, n=1, cutoff=0.6)
    return f"; did you mean '{shorten(candidates[close[0]])}'?" if close else ""


def did_you_mean_or_list(word: str, choices, kind: str, most: int = 8) -> str:
    """did_you_mean's hint, or where none is close and there are few choices, all of them
    ('; the inputs are a, b, c')."""
    hint = did_you_mean(word, choices)
    choices = list(choices)
    if hint or not choices or len(choices) > most:
        return hint
    return f"; the {kind} {'is' if len(choices) == 1 else 'are'} {short_list(choices)}"


def short_list(names, most: int = 10) -> str:
    """'a, b, c', or the first `most` names and how many more; each name shortened."""
    names = list(names)
    shown = ", ".join(shorten(n) for n in names[:most])
    return shown if len(names) <= most else f"{shown}, and {len(names) - most:,} more"


def shown_operands(xs) -> str:
    """Operand values for a message: numbers as Python writes them, arrays by their shape, the
    middle of a long list left out."""

    def one(x) -> str:
        shape = getattr(x, "shape", None)
        if shape is None:
            return shorten(repr(x))
        return str(tuple(shape)) if shape else shorten(repr(float(x)))

    if len(xs) > 8:
        return ", ".join(map(one, xs[:4])) + f", … ({len(xs) - 6:,} more) …, " + ", ".join(map(one, xs[-2:]))
    return ", ".join(map(one, xs))


def option_number(value, option: str, least: float = 0.0, above: bool = False, whole: bool = False):
    """A number a command's option (or the API's keyword of the same name) takes: finite, at least
    `least` (above it, with `above`), whole where `whole`; a RequestError naming the option else."""
    import math

    kind = "a whole number" if whole else "a finite number"
    ok = type(value) in (int, float) and math.isfinite(value) and (value > least if above else value >= least)
    if not ok or (whole and value != int(value)):
        bound = "" if least == -math.inf else f" {'above' if above else 'at least'} {least:g}"
        raise RequestError(f"{option} must be {kind}{bound}, not {shorten(repr(value))}", None, option.lstrip("-"))
    return value
