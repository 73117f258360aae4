"""The command line: parse options, read the file, call the core, print. Nothing else.

Errors from the core become `cgraph: error: FILE:LINE:COL: message` in one
place (`_Cli.main`): exit 1 for a bad graph, 2 for a bad command line.
"""

from __future__ import annotations

import functools
import os
import sys
from enum import IntEnum

import click

from . import __version__
from .errors import CgraphError, RequestError

DEFAULT_FILE = "cgraph.yaml"


class Exit(IntEnum):
    """cgraph's exit statuses."""

    OK = 0
    BAD_GRAPH = 1  # the graph file is invalid or cannot be evaluated
    USAGE = 2  # the command line is wrong
    INTERNAL = 70  # a bug of ours (EX_SOFTWARE)
    INTERRUPTED = 130

# click 8.2+ raises this for a group called with no arguments; older clicks print help themselves.
_NoArgsIsHelp = getattr(click.exceptions, "NoArgsIsHelpError", ())


def color_enabled(stream) -> bool:
    """Colour only on a terminal; never with NO_COLOR set, always with FORCE_COLOR set."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _visible(text: str) -> str:
    """Control characters (which a file or argument may smuggle into a message) shown as escapes."""
    import unicodedata

    return "".join(c.encode("unicode_escape").decode("ascii")
                   if c != "\n" and unicodedata.category(c) in ("Cc", "Cs") else c for c in text)


def _report(message: str) -> None:
    message = _visible(message)
    stream = sys.stderr
    prefix = click.style("cgraph: error:", fg="red", bold=True) if color_enabled(stream) else "cgraph: error:"
    click.echo(f"{prefix} {message}", file=stream, color=color_enabled(stream))


class _Cli(click.Group):
    """The `cgraph` group; turns every error into one line on stderr and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name or "cgraph", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else Exit.OK
        except _NoArgsIsHelp as e:  # bare `cgraph`: the help, which is not an error message
            click.echo(e.format_message(), err=True)
            code = e.exit_code
        except click.UsageError as e:
            hint = f"\nTry '{e.ctx.command_path} --help' for help." if e.ctx is not None else ""
            _report(e.format_message() + hint)
            code = e.exit_code
        except click.ClickException as e:
            _report(e.format_message())
            code = e.exit_code
        except click.Abort:  # Ctrl-C; click has already ended the line
            code = Exit.INTERRUPTED
        except CgraphError as e:
            _report(str(e))
            code = Exit.USAGE if isinstance(e, RequestError) else Exit.BAD_GRAPH
        except Exception as e:  # a bug of ours: still one line, never a traceback
            _report(f"internal error: {type(e).__name__}: {e} (please report this with the file)")
            code = Exit.INTERNAL
        if standalone_mode:
            sys.exit(int(code))
        return int(code)


class SetValue(click.ParamType):
    """`NAME=VALUE` with VALUE a number as YAML 1.2 reads one (1e3, -0.5, 0x10)."""

    name = "NAME=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        from .yamltree import NotANumber, parse_number

        name, sep, text = value.partition("=")
        name = name.strip()
        if not sep or not name:
            self.fail(f"'{value}' is not NAME=VALUE", param, ctx)
        try:
            return name, parse_number(text)
        except NotANumber as e:
            self.fail(f"'{value}': {e}", param, ctx)


def graph_options(func):
    """FILE, --set and --of: what every command that reads a graph takes; FILE arrives compiled."""

    @click.argument("file", required=False, metavar="[FILE]")
    @click.option("--set", "sets", multiple=True, type=SetValue(), metavar="NAME=VALUE",
                  help="Override an input for this run (repeatable).")
    @click.option("--of", "of", metavar="NODE", help="The node to differentiate (default: the file's output).")
    @functools.wraps(func)
    def wrapper(file, sets, of, **kwargs):
        return func(_read_graph(file), dict(sets), of, **kwargs)

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout, for scripts.")
precision_option = click.option("--precision", type=click.IntRange(1, 17), metavar="N",
                                help="Show numbers with N significant digits (default: all, as Python prints them).")


def _read_graph(file: str | None):
    """Load the graph named on the command line, $CGRAPH_FILE, or ./cgraph.yaml."""
    from .loader import load_bytes

    if file is None:
        file = os.environ.get("CGRAPH_FILE") or DEFAULT_FILE
        if file != "-" and not os.path.exists(file):
            raise click.UsageError(f"no FILE given and {file} does not exist"
                                   + ("" if "CGRAPH_FILE" in os.environ else
                                      " (name a file, use - for standard input, or set $CGRAPH_FILE)"))
    if file == "-":
        return load_bytes(sys.stdin.buffer.read(), "<stdin>", "stdin")
    try:
        with open(file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise click.UsageError(f"cannot read {file}: {e.strerror or e}") from None
    return load_bytes(data, file, os.path.splitext(os.path.basename(file))[0])


def _emit(text: str) -> None:
    out = sys.stdout
    click.echo(text.rstrip("\n"), file=out, color=color_enabled(out))


def _write(out: str | None, data: bytes) -> None:
    """Bytes to the file OUT (saying so on stderr), or to stdout when OUT is None or -."""
    if out is None or out == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        with open(out, "wb") as f:
            f.write(data)
    except OSError as e:
        raise click.UsageError(f"cannot write {out}: {e.strerror or e}") from None
    click.echo(f"cgraph: wrote {out}", err=True)


def _stdout_style():
    return {"color": color_enabled(sys.stdout)}


@click.group(name="cgraph", cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="cgraph", message="%(prog)s %(version)s")
def cli():
    """Evaluate a computational graph forward and backward, node by node.

    A YAML file declares inputs and operation nodes; cgraph computes every
    node's value (forward pass) and its gradient (backward pass, by the chain rule).

    \b
    Examples:
      cgraph run graphs/apples.yaml
      cgraph grad graphs/apples.yaml --wrt apple
      cgraph run graphs/apples.yaml --set apple=150 --json | jq .value
    """


@cli.command()
@graph_options
@json_option
@precision_option
def run(plan, sets, of, as_json, precision):
    """Run forward and backward; print every node's value and gradient.

    One row per node in evaluation order: name, op, operands, value, and the
    gradient d(of)/d(node).

    \b
    Examples:
      cgraph run graphs/apples.yaml
      cgraph run graphs/apples.yaml --set apple=150 --precision 4
      cgraph run graphs/neuron.yaml --of z --json
      cat graphs/apples.yaml | cgraph run -
    """
    from . import render
    from .engine import evaluate

    result = evaluate(plan, sets, of)
    _emit(render.run_json(result) if as_json else render.run_table(result, precision, **_stdout_style()))


@cli.command()
@graph_options
@json_option
@click.option("--wrt", multiple=True, metavar="NAME",
              help="Differentiate with respect to NAME, an input or node (repeatable; default: every input).")
@click.option("--order", type=click.IntRange(1, 2), default=1, show_default=True,
              help="2: the matrix of second derivatives (Hessian) with respect to the --wrt inputs.")
@precision_option
def grad(plan, sets, of, as_json, wrt, order, precision):
    """Print d(of)/d(NAME) for each --wrt NAME (default: every input).

    With --order 2, the Hessian: d²(of)/d(a)d(b) for every pair of --wrt
    inputs, by backprop through the derived gradient graphs (cgraph derive).

    \b
    Examples:
      cgraph grad graphs/apples.yaml --wrt apple
      cgraph grad graphs/apples_oranges.yaml --wrt apple --wrt tax --json
      cgraph grad graphs/apples.yaml --of apple_price
      cgraph grad graphs/neuron.yaml --order 2 --wrt w1 --wrt w2
    """
    from . import render
    from .engine import evaluate

    names = list(dict.fromkeys(wrt)) or [d.name for d in plan.graph.inputs]
    for name in names:
        plan.position(name, "--wrt")
    result = evaluate(plan, sets, of)
    if order == 2:
        from .derive import hessian

        matrix = hessian(plan, names, sets, of)
        _emit(render.hessian_json(result, matrix) if as_json
              else render.hessian_table(result, matrix, precision, **_stdout_style()))
        return
    _emit(render.grad_json(result, names) if as_json else render.grad_table(result, names, precision,
                                                                             **_stdout_style()))


@cli.command()
@graph_options
@json_option
def validate(plan, sets, of, as_json):
    """Check a graph file without evaluating it, and say what it holds.

    \b
    Examples:
      cgraph validate graphs/apples.yaml
      cgraph validate graphs/apples.yaml --json
    """
    from . import render

    graph = plan.graph
    for name in sets:
        plan.input_position(name)
    if of is not None:
        plan.position(of, "--of")
    output = of if of is not None else plan.default_output()
    sinks = list(plan.sinks)
    source = graph.source or graph.name
    _emit(render.validate_json(plan, output, sinks) if as_json else render.validate_text(plan, source, output, sinks))


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

    _emit(render.ops_json() if as_json else render.ops_table(**_stdout_style()))


@cli.command()
@graph_options
@click.option("--format", "fmt", type=click.Choice(["svg", "png", "dot", "mermaid"]), default="svg",
              show_default=True, help="svg and png are rendered by Graphviz's dot; dot and mermaid are text.")
@click.option("-o", "--output", "out", metavar="OUT",
              help="Where to write (- for stdout). Default: FILE's stem + .svg/.png; dot and mermaid to stdout.")
@click.option("--no-grad", is_flag=True, help="Forward values only, no gradients.")
@precision_option
def draw(plan, sets, of, fmt, out, no_grad, precision):
    """Draw the graph like the book's figures: values above the edges, gradients below in red.

    Inputs stand at the left as plain labels, operations are circles with
    their symbol (×, +, −, ÷, exp, σ, ...), and data flows left to right.

    \b
    Examples:
      cgraph draw graphs/apples.yaml                      # writes apples.svg
      cgraph draw graphs/apples.yaml --format png -o apples.png
      cgraph draw graphs/apples.yaml --format mermaid     # paste into GitHub Markdown
      cgraph draw graphs/neuron.yaml --format dot | dot -Tpdf -o neuron.pdf
    """
    from . import draw as pictures
    from .engine import evaluate

    result = evaluate(plan, sets, of)
    if fmt == "mermaid":
        data = pictures.to_mermaid(result, not no_grad, precision).encode("utf-8")
    else:
        data = pictures.to_dot(result, not no_grad, precision).encode("utf-8")
        if fmt in pictures.GRAPHVIZ_FORMATS:
            data = pictures.graphviz(data.decode("utf-8"), fmt)
    if out is None and fmt in pictures.GRAPHVIZ_FORMATS:
        source = plan.graph.source or "graph"
        stem = "stdin" if source == "<stdin>" else os.path.splitext(os.path.basename(source))[0]
        out = f"{stem}.{fmt}"
    _write(out, data)


@cli.command()
@graph_options
@json_option
@click.option("--wrt", metavar="NAME", help="The input or node to explain d(of)/d(NAME) for.")
@click.option("--steps", is_flag=True, help="Show the backward pass node by node instead of paths.")
@click.option("--max-paths", type=click.IntRange(0), default=20, show_default=True,
              help="List at most this many paths; all are still counted.")
@precision_option
def explain(plan, sets, of, as_json, wrt, steps, max_paths, precision):
    """Spell out the chain rule: every path from the output back to NAME.

    Each path shows the local derivative on each edge and their product;
    the products add up to `cgraph grad`'s number. With --steps, the
    backward pass as it runs: each node's upstream gradient times its local
    derivatives, and what every operand receives.

    \b
    Examples:
      cgraph explain graphs/apples.yaml --wrt apple
      cgraph explain graphs/apples_oranges.yaml --steps
      cgraph explain graphs/neuron.yaml --wrt w1 --json
    """
    from . import explain as chain_rule
    from . import render
    from .engine import evaluate

    if wrt is None and not steps:
        raise click.UsageError("explain needs --wrt NAME (or --steps)")
    if wrt is not None:
        plan.position(wrt, "--wrt")
    result = evaluate(plan, sets, of)
    if steps:
        taken = chain_rule.steps(result)
        _emit(render.steps_json(result, taken) if as_json else render.steps_text(result, taken, precision))
        return
    explanation = chain_rule.explain(result, wrt, max_paths)
    _emit(render.explain_json(plan.graph.name, result.value, explanation) if as_json
          else render.explain_text(explanation, precision))


@cli.command()
@graph_options
@json_option
@click.option("--wrt", multiple=True, metavar="NAME", help="Check this input (repeatable; default: every input).")
@click.option("--eps", type=click.FloatRange(min=0, min_open=True), default=1e-6, show_default=True,
              help="Relative step: h = eps * max(1, |x|).")
@click.option("--rtol", type=click.FloatRange(min=0), default=1e-5, show_default=True, help="Relative tolerance.")
@click.option("--atol", type=click.FloatRange(min=0), default=1e-8, show_default=True, help="Absolute tolerance.")
def check(plan, sets, of, as_json, wrt, eps, rtol, atol):
    """Check backprop against numerical differentiation (central differences).

    For every input x, the gradient is estimated as (f(x+h) - f(x-h)) / 2h
    with h = eps * max(1, |x|): a step relative to the input's size, so a
    large input is not nudged below its own rounding error, and an absolute
    one near zero. eps = 1e-6 balances the difference's truncation error
    (about h²) against rounding error (about 1e-16 / h). A gradient passes
    when |backprop - numeric| <= atol + rtol * max(|backprop|, |numeric|).
    Exit status 1 when any fails. An input whose step crosses a kink (relu
    at 0) is reported as "kink", not as a failure; one where f is not defined
    at x ± h as "undefined".

    \b
    Examples:
      cgraph check graphs/neuron.yaml
      cgraph check graphs/subscription_profit.yaml --wrt price --json
      cgraph check model.yaml --rtol 1e-4 && echo gradients ok
    """
    from . import render
    from .check import check as check_gradients

    for name in wrt:
        plan.position(name, "--wrt")
    result, checks = check_gradients(plan, list(dict.fromkeys(wrt)), sets, of, eps=eps, rtol=rtol, atol=atol)
    _emit(render.check_json(result, checks) if as_json else render.check_table(result, checks, **_stdout_style()))
    return Exit.BAD_GRAPH if any(c.status == "FAIL" for c in checks) else Exit.OK


@cli.command()
@graph_options
@click.option("--wrt", required=True, metavar="NAME", help="Differentiate with respect to NAME.")
@click.option("-o", "--output", "out", metavar="OUT", help="Write the derived graph here (default: stdout).")
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
    from .derive import derive as derive_graph

    graph = derive_graph(plan, wrt, of, sets)
    text = render.graph_yaml(graph, [
        f"{graph.description}: {plan.graph.source or plan.graph.name},",
        f"written by cgraph {__version__} (cgraph derive --wrt {wrt}). The backward pass as nodes",
        "(reverse mode, source to source): run it with `cgraph run`, derive it again for the next derivative."])
    _write(out, text.encode("utf-8"))


def main() -> None:
    """The `cgraph` console script."""
    cli.main(prog_name="cgraph")
