"""The command line: options wired to the commands (commands/), the file read, the result printed. Nothing else.

Errors become `cgraph: error: FILE:LINE:COL: message` in one place
(`_Cli.main`): exit 1 for a bad graph or a failed run, 2 for a bad command line.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

import click

from .. import __version__
from ..core.errors import CgraphError, RequestError, RunError
from .options import (
    FiniteFloat,
    SetValue,
    all_option,
    complete_names,
    csv_option,
    distinct_sets,
    file_argument,
    full_option,
    graph_options,
    json_option,
    number_options,
    one_format,
    plot_format,
    read_graph,
    refuse_the_input,
    set_option,
    sweep_option,
    write_output,
    write_plot,
)
from .terminal import (
    Progress,
    drop_pending,
    emit,
    help_width,
    report,
    stdout_color,
    tolerate_encodings,
    warn,
    warn_result,
    warn_undefined,
    write_text,
)


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
    "by": "--by",
    "subject-to": "--subject-to",
    "goal": "NODE=TARGET",
    "dist": "--dist",
    "mc": "mc",
}

# click 8.2+ raises this for a group called with no arguments; older clicks print help themselves.
_NoArgsIsHelp = getattr(click.exceptions, "NoArgsIsHelpError", ())


# -- writing to the terminal, whatever it can take ------------------------------------


class _Cli(click.Group):
    """The `cgraph` group; turns every error into one line on stderr and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        tolerate_encodings()
        was_collecting = gc.isenabled()
        gc.disable()  # a run builds millions of small objects that form no cycles
        try:
            rv = super().main(args, prog_name or "cgraph", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else Exit.OK
        except _NoArgsIsHelp as e:  # bare `cgraph`: the help, which is not an error message
            write_text(sys.stderr, [e.format_message() + "\n"])
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
            if e.role in _OPTION_OF_ROLE:  # the core names the request; the command line names its option
                e.message = f"{_OPTION_OF_ROLE[e.role]}: {e.message}"
            report(str(e))
            code = Exit.USAGE
        except CgraphError as e:
            report(str(e))
            code = Exit.FAILED
        except BrokenPipeError:  # `cgraph run big.yaml | head`: the reader has all it wanted
            drop_pending(sys.stdout)
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
        extra.setdefault("terminal_width", help_width())
        return super().make_context(info_name, args, parent, **extra)


# -- options -------------------------------------------------------------------------------


def _run_sweep(
    plan, specs, sets, of, wrt, as_json, as_csv, num, all_rows, elasticity=False, workers=None, scheduler=None
) -> int | None:
    """--sweep: every scenario of the grid, vectorized (sweep.py), as a table, JSON records or CSV."""
    from ..commands.sweep import parse_sweep, sweep, sweep_csv, sweep_json, sweep_table

    sweeps = [parse_sweep(spec, plan.source) for spec in specs]
    progress = Progress("evaluating the scenarios")
    try:
        with _dask(workers, scheduler) as runner:
            result = sweep(plan, sweeps, sets, of, wrt, progress, runner)
    finally:
        progress.close()
    if result.planned != result.size:
        warn(f"interrupted (Ctrl-C): {result.size:,} of {result.planned:,} scenarios done; they follow")
    progress = Progress("writing the scenarios")
    try:
        if as_json or as_csv:
            emit((sweep_json if as_json else sweep_csv)(result, elasticity, progress), True)
        else:
            emit(sweep_table(result, num, stdout_color(), all_rows, elasticity))
    finally:
        progress.close()
    return Exit.INTERRUPTED if result.planned != result.size else None


# -- reading the graph and writing files ------------------------------------------------------


def _no_scenarios(workers, scheduler) -> None:
    """--workers or --scheduler given where there are no scenarios to send (no --sweep): a usage
    error (a scheduler from $DASK_SCHEDULER_ADDRESS is simply not needed)."""
    given = click.get_current_context().get_parameter_source("scheduler") == click.core.ParameterSource.COMMANDLINE
    if workers is not None or (scheduler and given):
        raise click.UsageError("--workers and --scheduler run the scenarios of --sweep; give --sweep")


def dask_options(func):
    """--workers N and --scheduler ADDRESS: run the scenarios on Dask (the dist extra)."""
    func = click.option(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        envvar="DASK_SCHEDULER_ADDRESS",
        help="Run the scenarios on this Dask scheduler (default: $DASK_SCHEDULER_ADDRESS; the dist extra).",
    )(func)
    return click.option(
        "--workers",
        type=click.IntRange(1, 256),
        metavar="N",
        help="Run the scenarios on a local Dask cluster of N processes (the dist extra).",
    )(func)


# -- the commands -----------------------------------------------------------------------------


@click.group(name="cgraph", cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="cgraph", message="%(prog)s %(version)s", help="Show the version and exit."
)
def cli():
    """Evaluate a computational graph forward and backward, node by node.

    A YAML file declares inputs and operation nodes; cgraph computes every
    node's value (forward pass) and its gradient (backward pass, by the chain rule).

    The examples read graphs/: `cgraph examples --copy graphs` puts cgraph's
    example graphs there.

    \b
    Examples:
      cgraph run graphs/apples.yaml
      cgraph grad graphs/apples.yaml --wrt apple
      cgraph run graphs/apples.yaml --set apple=150 --json | jq .value
      cgraph run graphs/loan_payment.yaml --sweep annual_rate=0.03:0.08:0.01 --csv
      cgraph tornado graphs/subscription_profit.yaml
    """


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--copy", "folder", metavar="FOLDER", help="Copy the examples (NAMEs, or all) into FOLDER, made if need be."
)
@json_option
def examples(names, folder, as_json):
    """List the example graphs that come with cgraph; print one, or copy them out.

    The --help examples of every command read graphs/: `cgraph examples --copy
    graphs` puts them there. No file is replaced.

    \b
    Examples:
      cgraph examples
      cgraph examples apples                  # the file, on stdout
      cgraph examples --copy graphs           # every example, and the data they read
      cgraph examples --copy . two_layer_net  # one example (and its data/)
    """
    from ..commands.examples import copy_examples, example, examples_json, examples_table

    if as_json and (names or folder is not None):
        raise click.UsageError("--json lists the examples; NAME prints one and --copy copies them, as they are")
    if folder is not None:
        copied = copy_examples(folder, list(names))
        emit("".join(f"{path}\n" for path in copied))
    elif names:
        emit("".join(example(name).path.read_text(encoding="utf-8") for name in names))
    else:
        emit(examples_json() if as_json else examples_table(stdout_color()), as_json)


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
    shell_complete=complete_names("all"),
)
@number_options
@all_option
@full_option
@dask_options
def run(plan, sets, of, as_json, as_csv, sweeps, wrt, num, all_rows, full, workers, scheduler):
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
    from ..commands.run import run_csv, run_json, run_table
    from ..core.engine import evaluate

    one_format(as_json, as_csv)
    if not sweeps:
        _no_scenarios(workers, scheduler)
    if sweeps:
        wanted = list(dict.fromkeys(wrt)) or None
        return _run_sweep(plan, sweeps, sets, of, wanted, as_json, as_csv, num, all_rows, False, workers, scheduler)
    if wrt:
        raise click.UsageError("--wrt on run chooses a sweep's gradients; without --sweep, use cgraph grad --wrt")
    result = evaluate(plan, sets, of)
    text: Iterator[str] | str
    if as_json:
        text = run_json(result)
    elif as_csv:
        text = run_csv(result)
    else:
        text = run_table(result, num, stdout_color(), all_rows, full)
    warn_result(result)
    emit(text, as_json or as_csv)


@cli.command()
@graph_options()
@json_option
@click.option(
    "--wrt",
    multiple=True,
    metavar="NAME",
    help="Differentiate with respect to NAME, an input or node (repeatable; default: every input).",
    shell_complete=complete_names("all"),
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
@dask_options
def grad(plan, sets, of, as_json, wrt, order, elasticity, as_csv, sweeps, num, all_rows, full, workers, scheduler):
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
    from ..commands.grad import grad_csv, grad_json, grad_table, hessian_json, hessian_table
    from ..core.engine import evaluate

    one_format(as_json, as_csv)
    if order == 2 and (elasticity or as_csv):
        raise click.UsageError("--order 2 gives the Hessian, as a table or --json; not with --elasticity or --csv")
    if elasticity:
        plan.numbers_only("an elasticity", "elasticity")
    if not sweeps:
        _no_scenarios(workers, scheduler)
    if sweeps:
        if order == 2:
            raise click.UsageError("--order 2 and --sweep cannot be used together")
        wanted = list(dict.fromkeys(wrt)) or None
        return _run_sweep(
            plan, sweeps, sets, of, wanted, as_json, as_csv, num, all_rows, elasticity, workers, scheduler
        )
    names = list(dict.fromkeys(wrt)) or [plan.names[i] for i in plan.variables]
    for name in names:
        plan.position(plan.element(name)[0], "wrt")
    result = evaluate(plan, sets, of)
    if order == 2:
        from ..commands.derive import hessian

        matrix = hessian(plan, names, sets, of)
        text = hessian_json(result, matrix) if as_json else hessian_table(result, matrix, num, stdout_color())
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
        warn_result(result, names)
    elasticities = {name: result.elasticity(name) for name in names} if elasticity else None
    if as_json:
        text = grad_json(result, names, elasticities)
    elif as_csv:
        text = grad_csv(result, names, elasticities)
    else:
        text = grad_table(result, names, num, stdout_color(), all_rows, elasticities, full)
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
    from ..commands.validate import validate_json, validate_text

    for name in sets:
        plan.input_position(name)
    if of is not None:
        plan.position(of, "of")
    output = of if of is not None else plan.default_output()
    sinks = list(plan.sinks)
    source = plan.source or plan.name
    emit(
        validate_json(plan, output, sinks) if as_json else validate_text(plan, source, output, sinks),
        as_json,
    )


def beside_here(plan, extension: str) -> str:
    """The file a command writes by default: FILE's stem and the extension, in the current directory
    (stdin.EXT for standard input)."""
    source = plan.source or "graph"
    stem = "stdin" if source == "<stdin>" else os.path.splitext(os.path.basename(source))[0]
    return f"{stem}.{extension}"


@cli.command()
@graph_options()
@click.option(
    "-o",
    "--output",
    "out",
    metavar="OUT",
    help="Where to write the page (- for stdout). Default: FILE's stem + .html.",
)
@click.option(
    "--layout",
    type=click.Choice(["auto", "graphviz", "dagre"]),
    default="auto",
    show_default=True,
    help="Who places the nodes: Graphviz's dot, into the page (auto: when it is installed), "
    "or dagre, in the page as it opens.",
)
def page(plan, sets, of, out, layout):
    """Write one HTML page that steps through the graph's forward and backward passes.

    The page works offline (from a file or a USB stick: it fetches nothing).
    Step with the arrow keys, space or the buttons: forward, each value
    appears on its edge; backward, each gradient appears in red, with the
    node's local derivatives written out with their numbers and, where a node
    feeds several others, the sum of what flows back. Change an input and
    both passes run again in the page, in cgraph's order. Click a node for its
    paths back from the output, an edge for its numbers to full precision.

    \b
    Examples:
      cgraph page graphs/apples.yaml                  # writes apples.html
      cgraph page graphs/two_layer_net.yaml -o net.html
      cgraph page graphs/apples.yaml --set apple=3 -o - > apples3.html
    """
    from ..commands.page import page as html_page
    from ..core.engine import evaluate

    out = beside_here(plan, "html") if out is None else out
    refuse_the_input(out)
    result = evaluate(plan, sets, of)
    html = html_page(result, layout)
    warn_result(result)
    write_output(out, html.encode("utf-8"))


@cli.command()
@json_option
@click.option("--markdown", is_flag=True, help="The table as Markdown, with domains and conventions (the README's).")
def ops(as_json, markdown):
    """List the operations with their values and local derivatives.

    \b
    Examples:
      cgraph ops
      cgraph ops --json | jq '.[].op'
      cgraph ops --markdown
    """
    from ..commands.ops import ops_json, ops_markdown, ops_table

    if as_json and markdown:
        raise click.UsageError("--json and --markdown cannot be used together")
    emit(ops_json() if as_json else ops_markdown() if markdown else ops_table(stdout_color()), as_json)


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
    from ..commands import draw as pictures
    from ..core.engine import evaluate

    if out is None and fmt in pictures.GRAPHVIZ_FORMATS:
        out = beside_here(plan, fmt)
    refuse_the_input(out)  # (the default target too: `cgraph draw x.svg` reads x.svg)
    result = evaluate(plan, sets, of, gradients=not no_grad)
    if fmt == "mermaid":
        data = pictures.to_mermaid(result, precision).encode("utf-8")
    else:
        data = pictures.to_dot(result, precision).encode("utf-8")
        if fmt in pictures.GRAPHVIZ_FORMATS:
            data = pictures.graphviz(data.decode("utf-8"), fmt)
    warn_result(result)
    write_output(out, data)


@cli.command()
@graph_options()
@json_option
@click.option(
    "--wrt",
    metavar="NAME",
    help="The input or node to explain d(of)/d(NAME) for.",
    shell_complete=complete_names("all"),
)
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
    from ..commands import explain as chainrule
    from ..commands.explain import explain_json, explain_text, steps_json, steps_text
    from ..core.engine import evaluate

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
        warn_result(result)
    if steps:
        taken = chainrule.steps(result, name)
        emit(steps_json(result, taken) if as_json else steps_text(result, taken, num), as_json)
        return
    explanation = chainrule.explain(result, wrt, max_paths)
    emit(
        explain_json(plan.name, result.value, explanation) if as_json else explain_text(explanation, num),
        as_json,
    )


@cli.command()
@graph_options()
@json_option
@click.option(
    "--wrt",
    multiple=True,
    metavar="NAME",
    help="Check this input (repeatable; default: every input).",
    shell_complete=complete_names("inputs"),
)
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
    from ..commands.check import check_gradients, check_json, check_table, passed

    names = list(dict.fromkeys(wrt))
    for name in names:
        plan.position(plan.element(name)[0], "wrt")
    result, checks = check_gradients(plan, names, sets, of, eps=eps, rtol=rtol, atol=atol, sample=sample)
    for name in names:
        result.needed_grad(name)
    emit(
        check_json(result, checks) if as_json else check_table(result, checks, stdout_color(), all_rows),
        as_json,
    )
    return Exit.OK if passed(checks) else Exit.FAILED


@cli.command()
@graph_options(set_help="Set an input's value in the derived file (repeatable).")
@click.option(
    "--wrt",
    required=True,
    metavar="NAME",
    help="Differentiate with respect to NAME.",
    shell_complete=complete_names("all"),
)
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
    from .. import __version__
    from ..commands.derive import derive as derive_graph
    from ..show.formats import graph_yaml

    refuse_the_input(out)
    draft = derive_graph(plan, wrt, of, sets)
    text = graph_yaml(
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
    help="How far each input moves down and up: a percentage of its value (10%) or an amount (+-2.5).",
)
@click.option(
    "--wrt",
    multiple=True,
    metavar="NAME",
    help="Move this input (repeatable; default: every input).",
    shell_complete=complete_names("inputs"),
)
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
      cgraph tornado graphs/loan_payment.yaml --swing +-0.01 --wrt annual_rate
      cgraph tornado graphs/subscription_profit.yaml --plot tornado.svg
    """
    from ..commands.tornado import parse_swing, tornado_csv, tornado_json, tornado_plot, tornado_table
    from ..commands.tornado import tornado as make_tornado

    one_format(as_json, as_csv)
    fmt = plot_format(plot)
    try:
        swing_amount = parse_swing(swing)
    except RequestError as e:
        raise click.BadParameter(e.message, param_hint="'--swing'") from None
    result = make_tornado(plan, swing_amount, sets, of, list(dict.fromkeys(wrt)))
    if fmt is not None:
        write_plot(plot, lambda: tornado_plot(result, fmt))
    if as_json:
        emit(tornado_json(result), True)
    elif as_csv:
        emit(tornado_csv(result), True)
    else:
        emit(tornado_table(result, num, stdout_color()))


@cli.command()
@graph_options()
@click.option(
    "--vary",
    multiple=True,
    required=True,
    metavar="NAMES",
    help="The inputs to move, comma-separated (W1,b1,W2,b2) or repeated.",
    shell_complete=complete_names("inputs", listed=True),
)
@click.option("--lr", type=FiniteFloat("LR", positive=True), default=0.1, show_default=True, help="The learning rate.")
@click.option(
    "--steps",
    type=click.IntRange(0),
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
@click.option(
    "--tol",
    type=FiniteFloat("TOL", positive=False),
    metavar="TOL",
    help="Stop early where the gradient's norm, or the loss's change in a step, falls to TOL or below.",
)
@json_option
@csv_option
@click.option("--plot", metavar="OUT", help="Also draw the loss curve into OUT.svg or OUT.png (the plot extra).")
@number_options
@all_option
def descend(plan, sets, of, vary, lr, steps, tol, out, as_json, as_csv, plot, num, all_rows):
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
    from ..commands.descend import descend as run_descent
    from ..commands.descend import descend_csv, descend_json, descend_plot, descend_table
    from ..show.formats import graph_yaml

    one_format(as_json, as_csv)
    if out == "-" and (as_json or as_csv):
        raise click.UsageError("-o - writes the trained graph on stdout; --json and --csv cannot go there too")
    fmt = plot_format(plot)
    refuse_the_input(out)
    names = list(dict.fromkeys(name.strip() for spec in vary for name in spec.split(",") if name.strip()))
    progress = Progress("descending")
    try:
        run = run_descent(plan, names, lr, steps, sets, of, progress, tol)
    finally:
        progress.close()
    if run.interrupted:
        warn(f"{run.stopped}; the steps done follow")
    if out is not None:
        from .. import __version__

        done = len(run.losses) - 1
        header = [
            f"{plan.source or plan.name}, after {done:,} step{'s' * (done != 1)} "
            f"of gradient descent on {', '.join(names)}",
            f"(lr {lr!r}), written by cgraph {__version__} (cgraph descend)",
        ]
        write_output(out, graph_yaml(plan.to_draft(run.final), header).encode("utf-8"))
    if fmt is not None:
        write_plot(plot, lambda: descend_plot(run, fmt))
    if out != "-":
        if as_json:
            emit(descend_json(run), True)
        elif as_csv:
            emit(descend_csv(run), True)
        else:
            emit(descend_table(run, num, stdout_color(), all_rows))
    return Exit.INTERRUPTED if run.interrupted else None


@cli.command()
@file_argument
@click.argument("goal", required=False, metavar="NODE=TARGET", shell_complete=complete_names("all", "="))
@click.option(
    "--by", required=True, metavar="INPUT", help="The input to move.", shell_complete=complete_names("inputs")
)
@set_option()
@click.option("--from", "start", type=float, metavar="X", help="Start here (default: the input's value).")
@click.option(
    "--between",
    metavar="LO:HI",
    help="Look only between LO and HI (where the node hits the target more than once, which one).",
)
@click.option("--iterations", is_flag=True, help="Show each point tried: value, derivative, and why.")
@click.option(
    "-o", "--output", "out", metavar="OUT", help="Write the graph with the input at the answer here (- for stdout)."
)
@json_option
@number_options
def seek(file, goal, by, sets, start, between, iterations, out, as_json, num):
    """Goal seek: the value of one input that makes a node hit a target.

    Newton's method with the exact derivative (backprop's d(NODE)/d(INPUT)),
    from the input's value or --from; where Newton cannot go on, the target is
    bracketed and Newton goes on inside the bracket, halving it where a step
    would leave it. The answer is the float whose NODE comes closest to TARGET.
    Where the node hits the target at several values (a break-even price below
    and above the best price), --between LO:HI says which; no root in reach is
    an error that says how close the node came, and where.

    \b
    Examples:
      cgraph seek graphs/coffee_cart.yaml profit=0 --by price              # break-even
      cgraph seek graphs/coffee_cart.yaml profit=0 --by price --between 3:6
      cgraph seek graphs/loan_payment.yaml payment=1500 --by annual_rate --iterations
      cgraph seek graphs/black_scholes.yaml call=5 --by sigma --json       # implied volatility
    """
    from ..commands.seek import seek as run_seek
    from ..commands.seek import seek_json, seek_table
    from ..show.formats import graph_yaml

    if goal is None and file is not None and "=" in file:
        file, goal = None, file  # (cgraph seek profit=0 --by price, the file from $CGRAPH_FILE)
    if goal is None:
        raise click.UsageError("name the goal: NODE=TARGET (profit=0)")
    node, target = SetValue().convert(goal, None, click.get_current_context())
    sets = distinct_sets(sets)
    within = _range_option(between, "--between") if between is not None else None
    if out == "-" and as_json:
        raise click.UsageError("-o - writes the graph on stdout; --json cannot go there too")
    refuse_the_input(out)
    plan = read_graph(file)
    found = run_seek(plan, node, target, by, sets, start, within)
    if out is not None:
        header = [f"{plan.source or plan.name}, with {by} = {found.value!r}: {node} = {found.reached!r}"]
        write_output(out, graph_yaml(plan.to_draft({by: found.value}), header).encode("utf-8"))
        if out == "-":
            return
    emit(seek_json(found) if as_json else seek_table(found, num, stdout_color(), iterations), as_json)


def _range_option(text: str, option: str) -> tuple[float, float]:
    """LO:HI, two numbers, LO below HI."""
    from ..read.syntax import NotANumber, parse_range

    try:
        return parse_range(text)
    except NotANumber as e:
        raise click.UsageError(f"{option} {text!r}: {e}") from None


@cli.command()
@file_argument
@click.option(
    "--maximize",
    "maximize",
    metavar="NODE",
    help="The node to make as large as it can be.",
    shell_complete=complete_names("all"),
)
@click.option(
    "--minimize",
    "minimize",
    metavar="NODE",
    help="The node to make as small as it can be.",
    shell_complete=complete_names("all"),
)
@click.option(
    "--vary",
    multiple=True,
    required=True,
    metavar="NAME[=LO:HI]",
    help="An input to move, with its bounds (either may be left out: price=0: or price=:10); repeatable.",
    shell_complete=complete_names("inputs", listed=True),
)
@click.option(
    "--subject-to",
    "subject_to",
    multiple=True,
    metavar='"EXPR <= VALUE"',
    help="A constraint: a formula over the graph's names, <=, >= or ==, and a value or formula; repeatable.",
)
@set_option()
@click.option(
    "--starts",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    metavar="N",
    help="Start from N points of a Latin hypercube over the bounds and keep the best (needs every bound).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="The seed of the --starts sample.")
@click.option(
    "-o", "--output", "out", metavar="OUT", help="Write the graph with the inputs at the optimum here (- for stdout)."
)
@json_option
@csv_option
@number_options
def optimize(file, maximize, minimize, vary, subject_to, sets, starts, seed, out, as_json, as_csv, num):
    """Optimize: the inputs that make a node as large, or as small, as it can be.

    scipy.optimize.minimize with cgraph's exact gradients of the objective and
    of every constraint, and the exact Hessian where the graph is of numbers and
    unbounded (trust-exact); L-BFGS-B with bounds only, SLSQP with constraints.
    The gradients are checked against central differences first. The report is
    a spreadsheet Solver's sensitivity report: each input at the optimum, each
    constraint's value, slack, whether it binds and its shadow price, the
    change in the optimum per unit of its bound (the Lagrange multiplier), and
    the same for a bound of --vary the optimum sits on.

    \b
    Examples:
      cgraph optimize graphs/coffee_cart.yaml --maximize profit --vary price=1:9
      cgraph optimize graphs/coffee_cart.yaml --maximize profit --vary price=1:9 --subject-to "cups >= 900"
      cgraph optimize graphs/rosenbrock.yaml --minimize y --vary x0,x1
      cgraph optimize graphs/rosenbrock.yaml --minimize y --vary x0=-2:2,x1=-2:2 --starts 8 --json
    """
    from ..commands.optimize import optimize as run_optimize
    from ..commands.optimize import optimize_csv, optimize_json, optimize_table, parse_vary
    from ..show.formats import graph_yaml

    one_format(as_json, as_csv)
    if (maximize is None) == (minimize is None):
        raise click.UsageError("say what to optimize: --maximize NODE or --minimize NODE (one of them)")
    sets = distinct_sets(sets)
    if out == "-" and (as_json or as_csv):
        raise click.UsageError("-o - writes the graph on stdout; --json and --csv cannot go there too")
    refuse_the_input(out)
    plan = read_graph(file)
    objective = maximize if maximize is not None else minimize
    found = run_optimize(
        plan, objective, maximize is not None, parse_vary(vary, plan.source), subject_to, sets, starts, seed
    )
    for warning in found.warnings:
        warn(f"{plan.source}: {warning}" if plan.source else warning)
    if out is not None:
        word = "maximized" if found.maximize else "minimized"
        header = [f"{plan.source or plan.name}, with {found.objective} {word} to {found.value!r} (cgraph optimize)"]
        write_output(out, graph_yaml(plan.to_draft(found.values), header).encode("utf-8"))
        if out == "-":
            return Exit.INTERRUPTED if found.interrupted else None
    if as_json:
        emit(optimize_json(found), True)
    elif as_csv:
        emit(optimize_csv(found), True)
    else:
        emit(optimize_table(found, num, stdout_color()))
    return Exit.INTERRUPTED if found.interrupted else None


@cli.command()
@file_argument
@set_option()
@click.option(
    "--of",
    "of",
    multiple=True,
    metavar="NODE",
    help="The node to report on (default: the file's output); repeatable: intermediates too.",
    shell_complete=complete_names("all"),
)
@click.option("--samples", type=int, default=10_000, show_default=True, metavar="N", help="How many samples.")
@click.option("--seed", type=int, default=0, show_default=True, help="The seed: the same seed, the same samples.")
@click.option(
    "--sampler",
    type=click.Choice(["lhs", "sobol", "random"]),
    default="lhs",
    show_default=True,
    help="Latin hypercube, scrambled Sobol, or plain random.",
)
@click.option(
    "--dist",
    "dists",
    multiple=True,
    metavar="NAME=SPEC",
    help='A distribution for an input (repeatable), over the file\'s: price="normal(10, 1)", rent="90% 800 to 1000".',
    shell_complete=complete_names("settable", "="),
)
@click.option("--target", type=float, metavar="T", help="Also give P(output < T).")
@click.option(
    "--percentiles",
    metavar="P1,P2,...",
    help="The percentiles to give (default: 1,5,10,50,90,95,99).",
)
@click.option(
    "--samples-out",
    "samples_out",
    metavar="OUT",
    help="Also write every sample (inputs drawn, output, gradients) to OUT.csv or OUT.npy.",
)
@click.option(
    "--plot", metavar="OUT", help="Also draw the output's histogram into OUT.svg or OUT.png (the plot extra)."
)
@click.option(
    "--sobol",
    is_flag=True,
    help="Also Sobol first-order and total indices (N·(D+2) more scenarios, independent inputs).",
)
@dask_options
@json_option
@number_options
def mc(
    file, sets, of, samples, seed, sampler, dists, target, percentiles, samples_out, plot, sobol, workers, scheduler,
    as_json, num,
):  # fmt: skip
    """Monte Carlo: the output's distribution over the inputs' distributions, and which matters most.

    Inputs (or constants) carry distributions in the file ({value: 10, dist:
    "normal(10, 1)"}) or with --dist; their point values stay what run uses.
    The forms: normal(mean, sd), lognormal(mean, sd), lognormal(median=M,
    factor=F), uniform(lo, hi), triangular(lo, mode, hi), pert(lo, mode, hi),
    discrete(v1: w1, v2: w2, ...), and "90% LO to HI" (lognormal when both
    ends are positive, else normal). Samples are seeded and reproducible.
    Sensitivities come from the exact gradient of every sample, from one
    vectorized backward pass: mean gradient and elasticity, DGSM, rank
    correlation and contribution to variance. Past 2,000,000 samples, or
    with --workers/--scheduler (Dask), the samples are reduced as they go, in
    bounded memory, to the same figures bit for bit whatever the chunks.

    \b
    Examples:
      cgraph mc graphs/coffee_cart.yaml --dist price="normal(2.5, 0.2)" --dist rent="90% 800 to 1000"
      cgraph mc graphs/coffee_cart_risk.yaml --target 0 --samples-out samples.csv
      cgraph mc graphs/coffee_cart_risk.yaml --samples 100000 --sampler sobol --json
      cgraph mc graphs/subscription_profit.yaml --dist price="pert(8, 10, 14)" --samples 10000000 --workers 2
    """
    from ..commands.mc import (
        DEFAULT_PERCENTILES,
        mc_json,
        mc_plot,
        mc_table,
        monte_carlo,
        parse_dist_option,
        samples_csv,
        samples_npy,
    )
    from ..read.syntax import NotANumber, parse_number

    sets = distinct_sets(sets)
    plan = read_graph(file)
    fmt = plot_format(plot)
    refuse_the_input(samples_out)
    if samples_out is not None and not samples_out.lower().endswith((".csv", ".npy")):
        raise click.UsageError(f"--samples-out {samples_out}: name a .csv or .npy file")

    chosen = dict(parse_dist_option(spec, plan.source) for spec in dists)
    wanted: tuple = DEFAULT_PERCENTILES
    if percentiles is not None:
        try:
            wanted = tuple(float(parse_number(p)) for p in percentiles.split(","))
        except NotANumber as e:
            raise click.UsageError(f"--percentiles {percentiles!r}: {e}") from None
    progress = Progress("sampling")
    runs = []
    try:
        with _dask(workers, scheduler) as runner:
            for node in list(dict.fromkeys(of)) or [None]:  # each node asked for: the same samples
                keep = samples_out is not None
                runs.append(
                    monte_carlo(
                        plan, samples, seed, sampler, node, target, sets, chosen, wanted, progress, sobol, runner, keep
                    )
                )
                if runs[-1].interrupted:
                    break
    finally:
        progress.close()
    run = runs[0]
    if run.interrupted:
        warn(f"interrupted (Ctrl-C): the figures are of the {run.n:,} samples done of {run.interrupted:,}")
    if samples_out is not None:
        write_output(samples_out, (samples_npy if samples_out.lower().endswith(".npy") else samples_csv)(run))
    if fmt is not None:
        write_plot(plot, lambda: mc_plot(run, fmt))
    if as_json:
        emit(mc_json(run, runs[1:]), True)
    else:
        emit("\n\n".join(mc_table(r, num, stdout_color()) for r in runs))
    return Exit.INTERRUPTED if any(r.interrupted for r in runs) else None


@contextmanager
def _dask(workers: int | None, scheduler: str | None):
    """A runner of Monte Carlo's chunks on Dask (a local cluster of `workers` processes on the
    loopback address, or the scheduler named), or None: in process."""
    if workers is None and not scheduler:
        yield None
        return
    if workers is not None and scheduler:
        raise click.UsageError("--workers starts a cluster here and --scheduler names one; choose one")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RunError(
            "--workers and --scheduler need Dask's distributed, the dist extra: pip install 'cgraph-cli[dist]'"
        ) from None
    from ..commands.remote import on_dask

    cluster = None
    if workers is not None:
        from ..commands.remote import worker_environment

        with worker_environment():
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise RunError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
    try:
        yield on_dask(client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
