"""The command line: parse options, read the file, call the core, print. Nothing else.

Errors become `cgraph: error: FILE:LINE:COL: message` in one place
(`_Cli.main`): exit 1 for a bad graph or a failed run, 2 for a bad command line.
"""

from __future__ import annotations

import functools
import gc
import math
import os
import sys
from collections.abc import Iterator
from enum import IntEnum
from typing import Any

import click

from . import __version__
from .errors import CgraphError, RequestError, RunError, printable

DEFAULT_FILE = "cgraph.yaml"
MAX_WARNINGS = 20


class Exit(IntEnum):
    """cgraph's exit statuses."""

    OK = 0
    FAILED = 1  # the graph file is invalid or cannot be evaluated, or the run failed
    USAGE = 2  # the command line is wrong
    INTERNAL = 70  # a bug of ours (EX_SOFTWARE)
    INTERRUPTED = 130


# The option that made each kind of request the core may refuse.
_OPTION_OF_ROLE = {
    "set": "--set",
    "of": "--of",
    "wrt": "--wrt",
    "hessian": "--order 2",
    "sweep": "--sweep",
    "vary": "--vary",
    "elasticity": "--elasticity",
}

# click 8.2+ raises this for a group called with no arguments; older clicks print help themselves.
_NoArgsIsHelp = getattr(click.exceptions, "NoArgsIsHelpError", ())


def color_enabled(stream) -> bool:
    """Colour only on a terminal; never with NO_COLOR set, always with FORCE_COLOR set."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


# -- writing to the terminal, whatever it can take ------------------------------------

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


def _write_text(stream, chunks, is_json: bool = False) -> None:
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
        _drop_pending(stream)
        raise RunError(f"cannot write to {name}: {e.strerror or e}") from None


def _drop_pending(stream) -> None:
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
    _write_text(sys.stdout, _ending_in_newline(chunks), is_json)


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
        _write_text(stream, [f"{prefix} {printable(message)}{hint}\n"])
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


def _warn_result(result, names=None) -> None:
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


class _Cli(click.Group):
    """The `cgraph` group; turns every error into one line on stderr and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        _tolerate_encodings()
        was_collecting = gc.isenabled()
        gc.disable()  # a run builds millions of small objects that form no cycles
        try:
            rv = super().main(args, prog_name or "cgraph", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else Exit.OK
        except _NoArgsIsHelp as e:  # bare `cgraph`: the help, which is not an error message
            _write_text(sys.stderr, [e.format_message() + "\n"])
            code = e.exit_code
        except click.UsageError as e:
            hint = f"\nTry '{e.ctx.command_path} --help' for help." if e.ctx is not None else ""
            report(e.format_message(), hint)
            code = e.exit_code
        except click.ClickException as e:
            report(e.format_message())
            code = e.exit_code
        except click.Abort:  # Ctrl-C; click has already ended the line
            code = Exit.INTERRUPTED
        except RequestError as e:
            if e.role is not None:  # the core names the request; the command line names its option
                e.message = f"{_OPTION_OF_ROLE[e.role]}: {e.message}"
            report(str(e))
            code = Exit.USAGE
        except CgraphError as e:
            report(str(e))
            code = Exit.FAILED
        except BrokenPipeError:  # `cgraph run big.yaml | head`: the reader has all it wanted
            _drop_pending(sys.stdout)
            code = Exit.FAILED
        except MemoryError:
            report("out of memory")
            code = Exit.FAILED
        except OSError as e:  # the machine, not the graph or a bug: a full disk, a closed stream
            report(f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
            code = Exit.FAILED
        except Exception as e:  # a bug of ours: still one line, never a traceback
            report(f"internal error: {type(e).__name__}: {e} (please report this with the file)")
            code = Exit.INTERNAL
        finally:
            if was_collecting:
                gc.enable()
        if standalone_mode:
            sys.exit(int(code))
        return int(code)

    def make_context(self, info_name, args, parent=None, **extra):
        extra.setdefault("terminal_width", _help_width())
        return super().make_context(info_name, args, parent, **extra)


def _help_width() -> int:
    """The width click's help would find through shutil, which costs every start 1.5 ms to import:
    the terminal's columns ($COLUMNS first), at most 80, less a margin of 2, at least 50."""
    try:
        columns = int(os.environ.get("COLUMNS", 0)) or os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout, not a terminal
        columns = 80
    return max(min(columns or 80, 80) - 2, 50)


def _tolerate_encodings() -> None:
    """Streams that cannot encode a character write it as an escape instead of failing (click's
    help and messages are written by click itself)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", "strict") == "strict":
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


# -- options -------------------------------------------------------------------------------


class SetValue(click.ParamType):
    """`NAME=VALUE` with VALUE a number as YAML 1.2 reads one (1e3, -0.5, 0x10)."""

    name = "NAME=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        from .syntax import NotANumber, parse_number

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


def graph_options(set_help: str = "Override an input for this run (repeatable)."):
    """FILE, --set and --of: what every command that reads a graph takes; FILE arrives compiled."""

    def decorate(func):
        @click.argument("file", required=False, metavar="[FILE]")
        @click.option("--set", "sets", multiple=True, type=SetValue(), metavar="NAME=VALUE", help=set_help)
        @click.option("--of", "of", metavar="NODE", help="The node to differentiate (default: the file's output).")
        @functools.wraps(func)
        def wrapper(file, sets, of, **kwargs):
            names = [name for name, _ in sets]
            twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
            if twice is not None:
                raise click.UsageError(f"--set {printable(twice)} is given more than once")
            return func(read_graph(file), dict(sets), of, **kwargs)

        return wrapper

    return decorate


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout, for scripts.")
csv_option = click.option("--csv", "as_csv", is_flag=True, help="Print CSV on stdout, for spreadsheets.")


def _one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise click.UsageError("--json and --csv cannot be used together; choose one")


sweep_option = click.option(
    "--sweep",
    "sweeps",
    multiple=True,
    metavar="NAME=VALUES",
    help="Run every combination of these values of input NAME: START:STOP:STEP (STOP included) "
    "or V1,V2,... (repeatable: a grid). One row per scenario.",
)


class _Progress:
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


def _run_sweep(plan, specs, sets, of, wrt, as_json, as_csv, num, all_rows, elasticity=False) -> None:
    """--sweep: every scenario of the grid, vectorized (sweep.py), as a table, JSON records or CSV."""
    from . import render
    from .sweep import parse_sweep, sweep

    sweeps = [parse_sweep(spec, plan.source) for spec in specs]
    progress = _Progress("evaluating the scenarios")
    try:
        result = sweep(plan, sweeps, sets, of, wrt, progress)
    finally:
        progress.close()
    progress = _Progress("writing the scenarios")
    try:
        if as_json or as_csv:
            emit((render.sweep_json if as_json else render.sweep_csv)(result, elasticity, progress), True)
        else:
            emit(render.sweep_table(result, num, _stdout_color(), all_rows, elasticity))
    finally:
        progress.close()


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
        from .render import number_format

        if precision is not None and decimals is not None:
            raise click.UsageError("--precision and --decimals cannot be used together")
        return func(*args, num=number_format(precision, decimals), **kwargs)

    return wrapper


# -- reading the graph and writing files ------------------------------------------------------


def read_graph(file: str | None):
    """Load the graph named on the command line, $CGRAPH_FILE, or ./cgraph.yaml."""
    from .loader import load_bytes, read_all

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
            _drop_pending(sys.stdout)
            raise RunError(f"cannot write to standard output: {e.strerror or e}") from None
        return
    from .files import SameFile, write_atomically

    try:
        write_atomically(out, data, click.get_current_context().meta.get("cgraph.input"))
    except SameFile:
        raise _over_the_input(out) from None
    except OSError as e:
        raise RunError(f"cannot write {printable(out)}: {e.strerror or e}") from None
    try:
        _write_text(sys.stderr, [f"cgraph: wrote {printable(out)}\n"])
    except (RunError, BrokenPipeError):
        pass  # the file is written; only the note about it is lost


def _over_the_input(out: str) -> click.UsageError:
    return click.UsageError(
        f"{printable(out)} is the input file; cgraph will not write over its input (choose another file)"
    )


def refuse_the_input(out: str | None) -> None:
    """A usage error, before anything is computed, where OUT is the file the graph was read from."""
    from .files import is_source

    if out is not None and out != "-" and is_source(out, click.get_current_context().meta.get("cgraph.input")):
        raise _over_the_input(out)


def _stdout_color() -> bool:
    return color_enabled(sys.stdout)


# -- the commands -----------------------------------------------------------------------------


@click.group(name="cgraph", cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="cgraph", message="%(prog)s %(version)s", help="Show the version and exit."
)
def cli():
    """Evaluate a computational graph forward and backward, node by node.

    A YAML file declares inputs and operation nodes; cgraph computes every
    node's value (forward pass) and its gradient (backward pass, by the chain rule).

    \b
    Examples:
      cgraph run graphs/apples.yaml
      cgraph grad graphs/apples.yaml --wrt apple
      cgraph run graphs/apples.yaml --set apple=150 --json | jq .value
      cgraph run graphs/loan_payment.yaml --sweep annual_rate=0.03:0.08:0.01 --csv
      cgraph tornado graphs/subscription_profit.yaml
    """


@cli.command()
@graph_options()
@json_option
@csv_option
@sweep_option
@click.option(
    "--wrt",
    multiple=True,
    metavar="NAME",
    help="With --sweep: the gradients to give, with respect to NAME (repeatable; default: every input).",
)
@number_options
@all_option
@full_option
def run(plan, sets, of, as_json, as_csv, sweeps, wrt, num, all_rows, full):
    """Run forward and backward; print every node's value and gradient.

    One row per node in evaluation order: name, op, operands, value, and the
    gradient d(of)/d(node). A gradient that is not a number (ln of a negative
    base in pow's exponent gradient) is shown as "undefined", with a warning.

    \b
    Examples:
      cgraph run graphs/apples.yaml
      cgraph run graphs/apples.yaml --set apple=150 --precision 4
      cgraph run graphs/subscription_profit.yaml --decimals 2
      cgraph run graphs/neuron.yaml --of z --json
      cgraph run graphs/loan_payment.yaml --csv > nodes.csv
      cgraph run graphs/loan_payment.yaml --sweep annual_rate=0.03:0.08:0.01 --sweep years=15,30
      cat graphs/apples.yaml | cgraph run -
    """
    from . import render
    from .engine import evaluate

    _one_format(as_json, as_csv)
    if sweeps:
        wanted = list(dict.fromkeys(wrt)) or None
        return _run_sweep(plan, sweeps, sets, of, wanted, as_json, as_csv, num, all_rows)
    if wrt:
        raise click.UsageError("--wrt on run chooses a sweep's gradients; without --sweep, use cgraph grad --wrt")
    result = evaluate(plan, sets, of)
    text: Iterator[str] | str
    if as_json:
        text = render.run_json(result)
    elif as_csv:
        text = render.run_csv(result)
    else:
        text = render.run_table(result, num, _stdout_color(), all_rows, full)
    _warn_result(result)
    emit(text, as_json or as_csv)


@cli.command()
@graph_options()
@json_option
@click.option(
    "--wrt",
    multiple=True,
    metavar="NAME",
    help="Differentiate with respect to NAME, an input or node (repeatable; default: every input).",
)
@click.option(
    "--order",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    metavar="N",
    help="2: the matrix of second derivatives (Hessian) with respect to the --wrt inputs.",
)
@click.option(
    "--elasticity",
    is_flag=True,
    help="Also the elasticity of each: d(of)/d(NAME) * NAME / of, the percent change of the output "
    "per percent change of NAME.",
)
@csv_option
@sweep_option
@number_options
@all_option
@full_option
def grad(plan, sets, of, as_json, wrt, order, elasticity, as_csv, sweeps, num, all_rows, full):
    """Print d(of)/d(NAME) for each --wrt NAME (default: every input).

    A gradient asked for with --wrt must be a number; without --wrt, one that
    is not is shown as "undefined" (null in JSON), with a warning.
    With --order 2, the Hessian: d²(of)/d(a)d(b) for every pair of --wrt
    inputs, by backprop through the derived gradient graphs (cgraph derive).

    \b
    Examples:
      cgraph grad graphs/apples.yaml --wrt apple
      cgraph grad graphs/apples_oranges.yaml --wrt apple --wrt tax --json
      cgraph grad graphs/apples.yaml --of apple_price
      cgraph grad graphs/neuron.yaml --order 2 --wrt w1 --wrt w2
      cgraph grad graphs/loan_payment.yaml --elasticity
      cgraph grad graphs/subscription_profit.yaml --elasticity --csv
      cgraph grad graphs/loan_payment.yaml --wrt annual_rate --sweep years=10:30:5 --elasticity
    """
    from . import render
    from .engine import evaluate

    _one_format(as_json, as_csv)
    if order == 2 and (elasticity or as_csv):
        raise click.UsageError("--order 2 gives the Hessian, as a table or --json; not with --elasticity or --csv")
    if elasticity:
        plan.numbers_only("an elasticity", "elasticity")
    if sweeps:
        if order == 2:
            raise click.UsageError("--order 2 and --sweep cannot be used together")
        wanted = list(dict.fromkeys(wrt)) or None
        return _run_sweep(plan, sweeps, sets, of, wanted, as_json, as_csv, num, all_rows, elasticity)
    names = list(dict.fromkeys(wrt)) or [plan.names[i] for i in plan.variables]
    for name in names:
        plan.position(plan.element(name)[0], "wrt")
    result = evaluate(plan, sets, of)
    if order == 2:
        from .symbolic import hessian

        matrix = hessian(plan, names, sets, of)
        text = (
            render.hessian_json(result, matrix)
            if as_json
            else render.hessian_table(result, matrix, num, _stdout_color())
        )
        warn_undefined(
            [
                (lambda g=g: plan.loc(g.origin), g.reason)
                for row in matrix.values()
                for g in row.values()
                if type(g) is not int and type(g) is not float
            ],
            plan.source,
        )
        emit(text, as_json)
        return
    if wrt:
        for name in names:
            result.needed_grad(name)
    else:
        _warn_result(result, names)
    elasticities = {name: result.elasticity(name) for name in names} if elasticity else None
    if as_json:
        text = render.grad_json(result, names, elasticities)
    elif as_csv:
        text = render.grad_csv(result, names, elasticities)
    else:
        text = render.grad_table(result, names, num, _stdout_color(), all_rows, elasticities, full)
    emit(text, as_json or as_csv)


@cli.command()
@graph_options(set_help="Check that NAME is an input and VALUE a number (repeatable).")
@json_option
def validate(plan, sets, of, as_json):
    """Check a graph file without evaluating it, and say what it holds.

    \b
    Examples:
      cgraph validate graphs/apples.yaml
      cgraph validate graphs/apples.yaml --json
    """
    from . import render

    for name in sets:
        plan.input_position(name)
    if of is not None:
        plan.position(of, "of")
    output = of if of is not None else plan.default_output()
    sinks = list(plan.sinks)
    source = plan.source or plan.name
    emit(
        render.validate_json(plan, output, sinks) if as_json else render.validate_text(plan, source, output, sinks),
        as_json,
    )


@cli.command()
@json_option
def ops(as_json):
    """List the operations with their values and local derivatives.

    \b
    Examples:
      cgraph ops
      cgraph ops --json | jq '.[].op'
    """
    from . import render

    emit(render.ops_json() if as_json else render.ops_table(_stdout_color()), as_json)


@cli.command()
@graph_options()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["svg", "png", "dot", "mermaid"]),
    default="svg",
    show_default=True,
    help="svg and png are rendered by Graphviz's dot; dot and mermaid are text.",
)
@click.option(
    "-o",
    "--output",
    "out",
    metavar="OUT",
    help="Where to write (- for stdout). Default: FILE's stem + .svg/.png; dot and mermaid to stdout.",
)
@click.option("--no-grad", is_flag=True, help="Forward values only: no backward pass, no gradients.")
@click.option(
    "--precision",
    type=click.IntRange(1, 17),
    metavar="N",
    help="Show numbers with N significant digits (default: all, as Python prints them).",
)
def draw(plan, sets, of, fmt, out, no_grad, precision):
    """Draw the graph like the book's figures: values above the edges, gradients below in red.

    Inputs stand at the left as plain labels, operations are circles with
    their symbol (×, +, −, ÷, exp, σ, ...), and data flows left to right.
    A file is written to a temporary name and renamed into place; the input
    file itself is never a target.

    \b
    Examples:
      cgraph draw graphs/apples.yaml                      # writes apples.svg
      cgraph draw graphs/apples.yaml --format png -o apples.png
      cgraph draw graphs/apples.yaml --format mermaid     # paste into GitHub Markdown
      cgraph draw graphs/neuron.yaml --format dot | dot -Tpdf -o neuron.pdf
    """
    from . import pictures
    from .engine import evaluate

    if out is None and fmt in pictures.GRAPHVIZ_FORMATS:
        source = plan.source or "graph"
        stem = "stdin" if source == "<stdin>" else os.path.splitext(os.path.basename(source))[0]
        out = f"{stem}.{fmt}"
    refuse_the_input(out)  # (the default target too: `cgraph draw x.svg` reads x.svg)
    result = evaluate(plan, sets, of, gradients=not no_grad)
    if fmt == "mermaid":
        data = pictures.to_mermaid(result, precision).encode("utf-8")
    else:
        data = pictures.to_dot(result, precision).encode("utf-8")
        if fmt in pictures.GRAPHVIZ_FORMATS:
            data = pictures.graphviz(data.decode("utf-8"), fmt)
    _warn_result(result)
    write_output(out, data)


@cli.command()
@graph_options()
@json_option
@click.option("--wrt", metavar="NAME", help="The input or node to explain d(of)/d(NAME) for.")
@click.option("--steps", is_flag=True, help="Show the backward pass node by node (with --wrt: on the way to NAME).")
@click.option(
    "--max-paths",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    metavar="N",
    help="List at most N paths; all are still counted.",
)
@number_options
def explain(plan, sets, of, as_json, wrt, steps, max_paths, num):
    """Spell out the chain rule: every path from the output back to NAME.

    Each path shows the local derivative on each edge and their product;
    the products add up to `cgraph grad`'s number. With --steps, the
    backward pass as it runs: each node's upstream gradient times its local
    derivatives, and what every operand receives (with --wrt, only the steps
    on the way to NAME).

    \b
    Examples:
      cgraph explain graphs/apples.yaml --wrt apple
      cgraph explain graphs/apples_oranges.yaml --steps
      cgraph explain graphs/neuron.yaml --steps --wrt w1
      cgraph explain graphs/neuron.yaml --wrt w1 --json
      cgraph explain graphs/two_layer_net.yaml --wrt 'W1[0, 1]'
    """
    from . import chainrule, render
    from .engine import evaluate

    if wrt is None and not steps:
        raise click.UsageError("explain needs --wrt NAME (or --steps)")
    name = wrt
    if wrt is not None:
        name = plan.element(wrt)[0]
        plan.position(name, "wrt")
    result = evaluate(plan, sets, of)
    if name is not None:
        result.needed_grad(name)
    else:
        _warn_result(result)
    if steps:
        taken = chainrule.steps(result, name)
        emit(render.steps_json(result, taken) if as_json else render.steps_text(result, taken, num), as_json)
        return
    explanation = chainrule.explain(result, wrt, max_paths)
    emit(
        render.explain_json(plan.name, result.value, explanation) if as_json else render.explain_text(explanation, num),
        as_json,
    )


@cli.command()
@graph_options()
@json_option
@click.option("--wrt", multiple=True, metavar="NAME", help="Check this input (repeatable; default: every input).")
@click.option(
    "--eps",
    type=FiniteFloat("E", positive=True),
    default=1e-2,
    show_default=True,
    help="The first relative step: h starts at E * max(1, |x|) and shrinks.",
)
@click.option(
    "--rtol", type=FiniteFloat("R", positive=False), default=1e-5, show_default=True, help="Relative tolerance."
)
@click.option(
    "--atol", type=FiniteFloat("A", positive=False), default=1e-8, show_default=True, help="Absolute tolerance."
)
@click.option(
    "--sample",
    type=click.IntRange(1),
    default=50,
    show_default=True,
    metavar="N",
    help="Of an array input, check every element up to N; past that, N of them drawn with a fixed seed.",
)
@all_option
def check(plan, sets, of, as_json, wrt, eps, rtol, atol, sample, all_rows):
    """Check backprop against numerical differentiation (central differences).

    For each input x, the derivative is estimated from central differences
    (f(x+h) - f(x-h)) / 2h over shrinking steps h, extrapolated to h = 0
    (Ridders' method), which also estimates the estimate's own error; the
    rounding of f (large where big values cancel) is added to that error.

    \b
    Verdicts, per input:
      pass          |backprop - numeric| <= atol + rtol * max(|backprop|, |numeric|)
      FAIL          they differ by more, and by more than the numeric error
      inconclusive  they differ, but the difference is too inexact to say
      kink          every step crosses a point where an op has a kink (relu at 0)
      undefined     backprop's gradient, or f near x, is not a number
    Exit status 1 when any FAILs, or when nothing could be compared.

    \b
    Examples:
      cgraph check graphs/neuron.yaml
      cgraph check graphs/subscription_profit.yaml --wrt price --json
      cgraph check model.yaml --rtol 1e-4 && echo gradients ok
      cgraph check graphs/two_layer_net.yaml --sample 10
    """
    from . import render
    from .gradcheck import check_gradients, passed

    names = list(dict.fromkeys(wrt))
    for name in names:
        plan.position(plan.element(name)[0], "wrt")
    result, checks = check_gradients(plan, names, sets, of, eps=eps, rtol=rtol, atol=atol, sample=sample)
    for name in names:
        result.needed_grad(name)
    emit(
        render.check_json(result, checks) if as_json else render.check_table(result, checks, _stdout_color(), all_rows),
        as_json,
    )
    return Exit.OK if passed(checks) else Exit.FAILED


@cli.command()
@graph_options(set_help="Set an input's value in the derived file (repeatable).")
@click.option("--wrt", required=True, metavar="NAME", help="Differentiate with respect to NAME.")
@click.option(
    "-o",
    "--output",
    "out",
    metavar="OUT",
    help="Write the derived graph here (default: stdout); never over the input file.",
)
def derive(plan, sets, of, wrt, out):
    """Write a graph file that computes d(of)/d(NAME): the backward pass as nodes.

    Reverse mode, source to source: the derived file has the original inputs,
    the forward nodes it needs, and a node per backward step, named like
    d_price__d_apple_price. `cgraph run` on it gives `cgraph grad`'s number
    exactly; deriving it again gives the second derivative. --set changes
    the inputs' values written into the file.

    \b
    Examples:
      cgraph derive graphs/apples.yaml --wrt apple
      cgraph derive graphs/neuron.yaml --wrt w1 -o dy_dw1.yaml && cgraph run dy_dw1.yaml
      cgraph derive graphs/chain_rule.yaml --wrt x | cgraph derive - --wrt x | cgraph run -
    """
    from . import __version__, render
    from .symbolic import derive as derive_graph

    refuse_the_input(out)
    draft = derive_graph(plan, wrt, of, sets)
    text = render.graph_yaml(
        draft,
        [
            f"{draft.description}: {plan.source or plan.name},",
            f"written by cgraph {__version__} (cgraph derive --wrt {wrt}). The backward pass as nodes",
            "(reverse mode, source to source): run it with `cgraph run`, derive it again for the next derivative.",
        ],
    )
    write_output(out, text.encode("utf-8"))


def main() -> None:
    """The `cgraph` console script."""
    cli.main(prog_name="cgraph")


@cli.command()
@graph_options()
@click.option(
    "--swing",
    default="10%",
    show_default=True,
    metavar="S",
    help="How far each input moves down and up: a percentage of its value (10%) or an amount (2.5).",
)
@click.option("--wrt", multiple=True, metavar="NAME", help="Move this input (repeatable; default: every input).")
@json_option
@csv_option
@click.option(
    "--plot", metavar="OUT", help="Also draw the chart into OUT.svg or OUT.png (needs matplotlib: the plot extra)."
)
@number_options
def tornado(plan, sets, of, swing, wrt, as_json, as_csv, plot, num):
    """Move each input down and up by a swing, one at a time: how far does the output move?

    The rest stay at their values. One bar per input, sorted by how far the
    output moves, drawn in the terminal (░ input down, █ input up), the
    output's value at the middle. An end where the output has no value is
    "undefined", with the reason.

    \b
    Examples:
      cgraph tornado graphs/subscription_profit.yaml
      cgraph tornado graphs/loan_payment.yaml --swing 20% --json
      cgraph tornado graphs/subscription_profit.yaml --plot tornado.svg
    """
    from . import render
    from .tornado import parse_swing
    from .tornado import tornado as make_tornado

    _one_format(as_json, as_csv)
    fmt = _plot_format(plot)
    try:
        swing_amount = parse_swing(swing)
    except RequestError as e:
        raise click.BadParameter(e.message, param_hint="'--swing'") from None
    result = make_tornado(plan, swing_amount, sets, of, list(dict.fromkeys(wrt)))
    if fmt is not None:
        _write_plot(plot, lambda: render.tornado_plot(result, fmt))
    if as_json:
        emit(render.tornado_json(result), True)
    elif as_csv:
        emit(render.tornado_csv(result), True)
    else:
        emit(render.tornado_table(result, num, _stdout_color()))


def _plot_format(plot: str | None) -> str | None:
    """svg or png, from the file name --plot was given (None without --plot)."""
    if plot is None:
        return None
    fmt = os.path.splitext(plot)[1].lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise click.UsageError(f"--plot {printable(plot)}: the file must end in .svg or .png")
    refuse_the_input(plot)
    return fmt


def _write_plot(plot: str, draw) -> None:
    """Write the picture draw() makes to `plot`; one line and exit 1 where matplotlib is missing."""
    try:
        picture = draw()
    except ImportError:
        raise RunError("--plot needs matplotlib: pip install 'cgraph[plot]' (or pip install matplotlib)") from None
    write_output(plot, picture)


@cli.command()
@graph_options()
@click.option(
    "--vary",
    multiple=True,
    required=True,
    metavar="NAMES",
    help="The inputs to move, comma-separated (W1,b1,W2,b2) or repeated.",
)
@click.option("--lr", type=FiniteFloat("LR", positive=True), default=0.1, show_default=True, help="The learning rate.")
@click.option(
    "--steps",
    type=click.IntRange(0, 1_000_000),
    default=100,
    show_default=True,
    metavar="N",
    help="How many steps (at most 1,000,000: each keeps its loss).",
)
@click.option(
    "-o",
    "--output",
    "out",
    metavar="OUT",
    help="Write the graph with the trained values here (- for stdout); never over the input file.",
)
@json_option
@csv_option
@click.option("--plot", metavar="OUT", help="Also draw the loss curve into OUT.svg or OUT.png (the plot extra).")
@number_options
@all_option
def descend(plan, sets, of, vary, lr, steps, out, as_json, as_csv, plot, num, all_rows):
    """Gradient descent: move inputs against their gradient to make the output small.

    Each step is one forward and one backward pass, then every --vary input x
    moves to x - lr * d(output)/dx: the book's
    network.params[key] -= learning_rate * grad[key]. The output must be a
    number (a loss). The table shows the loss before each of about 20 evenly
    spaced steps and after the last (--all: every step), with each varied input
    that is a number; --json and --csv give every step.

    \b
    Examples:
      cgraph descend graphs/rosenbrock.yaml --vary x0,x1 --lr 0.001 --steps 10000
      cgraph descend graphs/two_layer_net.yaml --vary W1,b1,W2,b2 --lr 0.5 --steps 1000 -o trained.yaml
      cgraph descend graphs/two_layer_net.yaml --vary W1,b1,W2,b2 --steps 300 --csv > loss.csv
      cgraph descend graphs/two_layer_net.yaml --vary W1,b1,W2,b2 --plot loss.svg
    """
    from . import render
    from .descend import descend as run_descent

    _one_format(as_json, as_csv)
    if out == "-" and (as_json or as_csv):
        raise click.UsageError("-o - writes the trained graph on stdout; --json and --csv cannot go there too")
    fmt = _plot_format(plot)
    refuse_the_input(out)
    names = list(dict.fromkeys(name.strip() for spec in vary for name in spec.split(",") if name.strip()))
    progress = _Progress("descending")
    try:
        run = run_descent(plan, names, lr, steps, sets, of, progress)
    finally:
        progress.close()
    if out is not None:
        from . import __version__

        header = [
            f"{plan.source or plan.name}, after {steps:,} step{'s' * (steps != 1)} "
            f"of gradient descent on {', '.join(names)}",
            f"(lr {lr!r}), written by cgraph {__version__} (cgraph descend)",
        ]
        write_output(out, render.graph_yaml(plan.to_draft(run.final), header).encode("utf-8"))
    if fmt is not None:
        _write_plot(plot, lambda: render.descend_plot(run, fmt))
    if out == "-":
        return
    if as_json:
        emit(render.descend_json(run), True)
    elif as_csv:
        emit(render.descend_csv(run), True)
    else:
        emit(render.descend_table(run, num, _stdout_color(), all_rows))
