"""The options every command shares (--set, --of, --json, number formats) and the graph file they read."""

from __future__ import annotations

import functools
import math
import os
import sys

import click

from ..core.errors import RunError, printable
from .terminal import drop_pending, write_text

DEFAULT_FILE = "cgraph.yaml"


class SetValue(click.ParamType):
    """`NAME=VALUE` with VALUE a number as YAML 1.2 reads one (1e3, -0.5, 0x10)."""

    name = "NAME=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        from ..read.syntax import NotANumber, parse_number

        name, sep, text = value.partition("=")
        name = name.strip()
        if not sep or not name:
            self.fail(f"'{value}' is not NAME=VALUE", param, ctx)
        try:
            return name, parse_number(text)
        except NotANumber as e:
            self.fail(f"'{value}': {e}", param, ctx)


class FiniteFloat(click.ParamType):
    """A finite number, at least 0 (or above 0): NaN, infinities and negatives mean nothing here."""

    def __init__(self, metavar: str, positive: bool):
        self.name, self.positive = metavar, positive

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"'{value}' is not a number", param, ctx)
        if not math.isfinite(number) or number < 0 or (self.positive and number == 0):
            self.fail(f"'{value}' must be a finite number {'above' if self.positive else 'at least'} 0", param, ctx)
        return number


# -- completion that knows the graph ------------------------------------------------------


def complete_file(ctx, param, incomplete: str) -> list:
    """FILE: the shell completes file names."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(incomplete, type="file")]


def _names_in_graph(ctx, which: str) -> list[str]:
    """The names of the graph named earlier on the line (or $CGRAPH_FILE, ./cgraph.yaml): its inputs
    ("inputs", constants too for "settable"), or every input and node ("all"). Nothing where the file
    cannot be read: completion never fails, and never prints."""
    file = ctx.params.get("file") or _file_on_the_line() or os.environ.get("CGRAPH_FILE") or DEFAULT_FILE
    try:
        from ..read.loader import load_bytes, read_all

        with open(file, "rb") as f:
            plan = load_bytes(read_all(f, file), file)
    except Exception:  # noqa: BLE001 (a half-written file, a directory, no file: no names)
        return []
    if which == "all":
        return list(plan.names)
    positions = plan.inputs if which == "settable" else plan.variables
    return [plan.names[i] for i in positions]


def _file_on_the_line() -> str | None:
    """The graph file named on the line being completed (click parses no arguments at all when the
    option being completed has no value yet: `--wrt <TAB>`): its first word that is a file."""
    import shlex

    try:
        words = shlex.split(os.environ.get("COMP_WORDS", ""))[1:]
    except ValueError:  # a quote not closed yet
        words = os.environ.get("COMP_WORDS", "").split()[1:]
    return next((w for w in words if not w.startswith("-") and "=" not in w and os.path.isfile(w)), None)


def complete_names(which: str, suffix: str = "", listed: bool = False):
    """A shell_complete for options naming the graph's entries (see _names_in_graph): NAME, or
    NAME= (`suffix`) for --set and NODE=TARGET, or the last of a comma-separated list (`listed`)."""

    def complete(ctx, param, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        head, _, last = incomplete.rpartition(",") if listed else ("", "", incomplete)
        head = f"{head}," if head else ""
        return [
            CompletionItem(f"{head}{name}{suffix}") for name in _names_in_graph(ctx, which) if name.startswith(last)
        ]

    return complete


file_argument = click.argument("file", required=False, metavar="[FILE]", shell_complete=complete_file)


def set_option(help: str = "Override an input for this run (repeatable)."):
    return click.option(
        "--set",
        "sets",
        multiple=True,
        type=SetValue(),
        metavar="NAME=VALUE",
        help=help,
        shell_complete=complete_names("settable", "="),
    )


def distinct_sets(sets) -> dict:
    """--set's (name, value) pairs as a dict; a name given twice is a usage error."""
    names = [name for name, _ in sets]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise click.UsageError(f"--set {printable(twice)} is given more than once")
    return dict(sets)


def graph_options(set_help: str = "Override an input for this run (repeatable)."):
    """FILE, --set and --of: what every command that reads a graph takes; FILE arrives compiled."""

    def decorate(func):
        @file_argument
        @set_option(set_help)
        @click.option(
            "--of",
            "of",
            metavar="NODE",
            help="The node to differentiate (default: the file's output).",
            shell_complete=complete_names("all"),
        )
        @functools.wraps(func)
        def wrapper(file, sets, of, **kwargs):
            sets = distinct_sets(sets)
            return func(read_graph(file), sets, of, **kwargs)

        return wrapper

    return decorate


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout, for scripts.")

csv_option = click.option("--csv", "as_csv", is_flag=True, help="Print CSV on stdout, for spreadsheets.")


def one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise click.UsageError("--json and --csv cannot be used together; choose one")


sweep_option = click.option(
    "--sweep",
    "sweeps",
    multiple=True,
    metavar="NAME=VALUES",
    help="Run every combination of these values of input NAME: START:STOP:STEP (STOP included) "
    "or V1,V2,... (repeatable: a grid). One row per scenario.",
    shell_complete=complete_names("settable", "="),
)

all_option = click.option(
    "--all",
    "all_rows",
    is_flag=True,
    help="Print every row of a table (past 2,000 rows, only the first and last are shown).",
)

full_option = click.option(
    "--full",
    is_flag=True,
    help="Print arrays whole (a table shows an array of more than 6 elements by its shape and a few of them).",
)


def number_options(func):
    """--precision N and --decimals N; the command gets `num`, the number format they ask for."""

    @click.option(
        "--precision",
        type=click.IntRange(1, 17),
        metavar="N",
        help="Show numbers with N significant digits (default: all, as Python prints them).",
    )
    @click.option(
        "--decimals",
        type=click.IntRange(0, 20),
        metavar="N",
        help="Show numbers with N decimal places (for money: --decimals 2).",
    )
    @functools.wraps(func)
    def wrapper(*args, precision, decimals, **kwargs):
        from ..show.numbers import number_format

        if precision is not None and decimals is not None:
            raise click.UsageError("--precision and --decimals cannot be used together")
        return func(*args, num=number_format(precision, decimals), **kwargs)

    return wrapper


def read_graph(file: str | None):
    """Load the graph named on the command line, $CGRAPH_FILE, or ./cgraph.yaml (and, as the graph's
    tables will go to this terminal, tell them how wide it is: no number split across lines)."""
    from ..read.loader import load_bytes, read_all
    from ..show import table
    from .terminal import table_width

    table.WIDTH = table_width()

    if file is None:
        from_env = os.environ.get("CGRAPH_FILE")
        file = from_env or DEFAULT_FILE
        if file != "-" and not os.path.exists(file):
            if from_env:
                raise click.UsageError(f"$CGRAPH_FILE names {printable(file)}, which does not exist")
            raise click.UsageError(
                f"no FILE given and {file} does not exist (name a file, use - for standard input, or set $CGRAPH_FILE)"
            )
    if file == "-":
        if sys.stdin is None:
            raise RunError("cannot read standard input: it is closed")
        data = read_all(sys.stdin.buffer, "standard input")
        _remember_input(sys.stdin)
        return load_bytes(data, "<stdin>", "stdin")
    try:
        f = open(file, "rb")  # noqa: SIM115 (closed by the `with` below, once opening is known to work)
    except OSError as e:
        raise click.UsageError(f"cannot read {printable(file)}: {e.strerror or e}") from None
    with f:
        _remember_input(f)
        data = read_all(f, printable(file))
    return load_bytes(data, file, os.path.splitext(os.path.basename(file))[0])


def _remember_input(stream) -> None:
    """Note which file the graph came from, so that nothing cgraph writes can replace it."""
    try:
        st = os.fstat(stream.fileno())
        click.get_current_context().meta["cgraph.input"] = (st.st_dev, st.st_ino)
    except (OSError, ValueError, RuntimeError):  # not a real file (a test's stream), or no context
        pass


def write_output(out: str | None, data: bytes) -> None:
    """Bytes to the file OUT, atomically (saying so on stderr); to stdout when OUT is None or -."""
    if out is None or out == "-":
        if sys.stdout is None:
            raise RunError("standard output is closed")
        try:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            drop_pending(sys.stdout)
            raise RunError(f"cannot write to standard output: {e.strerror or e}") from None
        return
    from ..show.files import SameFile, write_atomically

    try:
        write_atomically(out, data, click.get_current_context().meta.get("cgraph.input"))
    except SameFile:
        raise _over_the_input(out) from None
    except OSError as e:
        raise RunError(f"cannot write {printable(out)}: {e.strerror or e}") from None
    try:
        write_text(sys.stderr, [f"cgraph: wrote {printable(out)}\n"])
    except (RunError, BrokenPipeError):
        pass  # the file is written; only the note about it is lost


def _over_the_input(out: str) -> click.UsageError:
    return click.UsageError(
        f"{printable(out)} is the input file; cgraph will not write over its input (choose another file)"
    )


def refuse_the_input(out: str | None) -> None:
    """A usage error, before anything is computed, where OUT is the file the graph was read from."""
    from ..show.files import is_source

    if out is not None and out != "-" and is_source(out, click.get_current_context().meta.get("cgraph.input")):
        raise _over_the_input(out)


def plot_format(plot: str | None) -> str | None:
    """svg or png, from the file name --plot was given (None without --plot)."""
    if plot is None:
        return None
    fmt = os.path.splitext(plot)[1].lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise click.UsageError(f"--plot {printable(plot)}: the file must end in .svg or .png")
    refuse_the_input(plot)
    return fmt


def write_plot(plot: str, draw) -> None:
    """Write the picture draw() makes to `plot`; one line and exit 1 where matplotlib is missing."""
    try:
        picture = draw()
    except ImportError:
        raise RunError("--plot needs matplotlib: pip install 'cgraph[plot]' (or pip install matplotlib)") from None
    write_output(plot, picture)
