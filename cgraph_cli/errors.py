"""The one error type of cgraph: a message with the place in the file it is about."""

from __future__ import annotations

from typing import NamedTuple


class Loc(NamedTuple):
    """A 1-based line and column in a graph file (a tuple: cheap to make by the million)."""

    line: int
    col: int


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
    """The caller asked for a name or value the graph does not have (a command-line mistake)."""


def did_you_mean(word: str, choices) -> str:
    """'; did you mean 'x'?' for the closest choice, or '' when none is close."""
    import difflib

    # A close match differs little in length; past 50,000 candidates the comparison
    # would take seconds, so a huge graph gets no suggestion rather than a slow error.
    candidates = [c for c in choices if abs(len(c) - len(word)) <= 3]
    if len(candidates) > 50_000:
        return ""
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def short_list(names, most: int = 10) -> str:
    """'a, b, c', or the first `most` names and how many more."""
    names = list(names)
    if len(names) <= most:
        return ", ".join(names)
    return ", ".join(names[:most]) + f", and {len(names) - most} more"
