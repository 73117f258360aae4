"""The terminal: what cgraph writes to stdout and stderr, and how (colour, encodings, warnings).

Nothing is written to stdout before a command has all of it: an error midway
leaves stdout empty (see `emit`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..core.errors import RunError, printable

MAX_WARNINGS = 20


def color_enabled(stream) -> bool:
    """Colour only on a terminal; never with NO_COLOR set, always with FORCE_COLOR set."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


# Where a stream cannot encode cgraph's symbols (PYTHONIOENCODING=ascii), their ASCII forms.
_ASCII_FORMS = str.maketrans(
    {
        "─": "-",
        "×": "x",
        "→": "->",
        "÷": "/",
        "−": "-",
        "σ": "sigmoid",
        "…": "...",
        "²": "^2",
        "±": "+/-",
        "≤": "<=",
        "≥": ">=",
        "≠": "!=",
        "√": "sqrt",
        "░": "-",
        "█": "#",
        "│": "|",
    }
)


def _encodable(text: str, stream, is_json: bool = False) -> str:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf16", "utf32"):
        return text
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        pass
    if is_json:  # JSON's own escapes keep the data exact
        return "".join(c if ord(c) < 128 else _json_escape(c) for c in text)
    return text.translate(_ASCII_FORMS).encode(encoding, "backslashreplace").decode(encoding)


def _json_escape(c: str) -> str:
    code = ord(c)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def write_text(stream, chunks, is_json: bool = False) -> None:
    """Text to stdout or stderr; an OSError becomes a RunError saying which stream failed."""
    name = "standard output" if stream is sys.stdout else "standard error"
    if stream is None:
        raise RunError(f"{name} is closed")
    try:
        for chunk in chunks:
            stream.write(_encodable(chunk, stream, is_json))
        stream.flush()
    except BrokenPipeError:
        raise  # the reader went away: quietly done (see _Cli.main)
    except OSError as e:
        drop_pending(stream)
        raise RunError(f"cannot write to {name}: {e.strerror or e}") from None


def drop_pending(stream) -> None:
    """Point a failed stream at /dev/null, so what is left in its buffer cannot fail again at exit."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def emit(text, is_json: bool = False) -> None:
    """Output on stdout: one text, or text chunks written as they are made (explain's paths)."""
    chunks = [text] if isinstance(text, str) else text
    write_text(sys.stdout, _ending_in_newline(chunks), is_json)


def _ending_in_newline(chunks):
    last = ""
    for chunk in chunks:
        if last:
            yield last
        last = chunk
    yield last.rstrip("\n") + "\n"


def _say(kind: str, style: str, message: str, hint: str = "") -> None:
    stream = sys.stderr
    if stream is None:
        return
    prefix = click.style(f"cgraph: {kind}:", fg=style, bold=True) if color_enabled(stream) else f"cgraph: {kind}:"
    try:
        write_text(stream, [f"{prefix} {printable(message)}{hint}\n"])
    except (RunError, BrokenPipeError):
        pass  # nowhere left to say it


def report(message: str, hint: str = "") -> None:
    """An error, on stderr, as one line (control characters and line breaks shown as escapes),
    then perhaps a hint line of our own."""
    _say("error", "red", message, hint)


def warn(message: str) -> None:
    """A warning, on stderr."""
    _say("warning", "yellow", message)


def warn_undefined(items, source: str | None) -> None:
    """One located warning per (where, message), at most MAX_WARNINGS, then how many more; `where`
    is called for the Loc (finding it may mean reading the file again)."""
    items = list(items)
    for where_of, message in items[:MAX_WARNINGS]:
        loc = where_of()
        where = f"{source}:{loc.line}:{loc.col}: " if source and loc else (f"{source}: " if source else "")
        warn(where + message)
    more = len(items) - MAX_WARNINGS
    if more > 0:
        warn(f"… and {more:,} more undefined gradients")


def warn_result(result, names=None) -> None:
    """Warn of every undefined gradient of `result` (or of the named nodes only)."""
    plan = result.plan
    wanted = None if names is None else {plan.index[n] for n in names}
    undefined = [(i, u) for i, u in result.undefined() if wanted is None or i in wanted]
    warn_undefined(
        [
            (lambda i=i: plan.loc(i), f"d({result.of_name})/d({plan.names[i]}) is undefined: {u.reason}")
            for i, u in undefined
        ],
        plan.source,
    )


def help_width() -> int:
    """The width click's help would find through shutil, which costs every start 1.5 ms to import:
    the terminal's columns ($COLUMNS first), at most 80, less a margin of 2, at least 50."""
    try:
        columns = int(os.environ.get("COLUMNS", 0)) or os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout, not a terminal
        columns = 80
    return max(min(columns or 80, 80) - 2, 50)


def table_width() -> int | None:
    """How wide tables may be: $COLUMNS where set, else the terminal's width when stdout is one;
    None (as wide as a table is) for a pipe or a file."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
        if not columns and sys.stdout is not None and sys.stdout.isatty():
            columns = os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None
    return columns if columns > 0 else None


def tolerate_encodings() -> None:
    """Streams that cannot encode a character write it as an escape instead of failing (click's
    help and messages are written by click itself)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", "strict") == "strict":
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


class Progress:
    """A progress bar on stderr, only on a terminal, shown once the work has taken a second."""

    def __init__(self, what: str):
        import time

        self.what, self.started, self.clock = what, time.monotonic(), time.monotonic
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if done >= total or self.clock() - self.started < 1 or not sys.stderr.isatty():
                return
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def stdout_color() -> bool:
    return color_enabled(sys.stdout)
