"""cgraph from Python: scripts and notebooks.

    import cgraph_cli as cg

    g = cg.load("graphs/loan_payment.yaml")        # a path; cg.loads(text) for YAML or JSON text
    run = g.run(set={"annual_rate": 0.05})         # forward and backward
    run.value, run.values["r"], run.grads["principal"]
    g.grad(wrt=["annual_rate"], elasticity=True)   # {"annual_rate": {"gradient": .., "elasticity": ..}}
    g.sweep({"annual_rate": "0.03:0.08:0.01", "years": [15, 30]})   # a list of records
    g.tornado("10%"), g.check(), g.derive("principal"), g.draw("svg")

Every error is a `cg.Error` (a located one carries `.source`, `.loc.line`,
`.loc.col` and `.message`). In Jupyter a graph shows its picture (with
Graphviz installed) and a run its table. The command line and this module
are two thin layers over the same core: the numbers are the same.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Iterable, Mapping

from .core.errors import CgraphError
from .core.graph import Draft, Plan
from .core.op import Undefined

Error = CgraphError


def load(source: str | os.PathLike) -> Graph:
    """A graph from a YAML or JSON file, or from its text (a str holding a newline, a "{" first, or
    ": " is text; any other str is a path); a cg.Error naming the place where it is wrong."""
    from .read.loader import load_bytes, read_all

    if isinstance(source, str) and ("\n" in source or source.lstrip().startswith("{") or ": " in source):
        return loads(source)
    path = os.fspath(source)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below, once opening is known to work)
    except OSError as e:
        raise Error(f"cannot read {path}: {e.strerror or e}") from None
    with f:
        data = read_all(f, path)  # (at most 1 GiB: /dev/zero is refused, as the command line does)
    return Graph(load_bytes(data, path, os.path.splitext(os.path.basename(path))[0]))


def loads(text: str, name: str = "graph") -> Graph:
    """A graph from YAML or JSON text (`name` names it where the text has no `name:`)."""
    from .read.loader import load_text

    return Graph(load_text(text, "<string>", name))


def examples() -> list[dict]:
    """The example graphs that come with cgraph: name, description, path (as `cgraph examples` lists them)."""
    from .commands.examples import examples as listed

    return [{"name": e.name, "description": e.description, "path": str(e.path)} for e in listed()]


def example(name: str) -> Graph:
    """One of the example graphs, loaded: `cg.example("apples").run().grads`."""
    from .commands.examples import example as found

    return load(found(name).path)


def _sets(values: Mapping | None) -> dict:
    """`set=` as `--set` takes it: numbers, and text read as the command line reads it ("3", "1e3")."""
    from .read.syntax import NotANumber, parse_number

    out = {}
    for name, value in (values or {}).items():
        if isinstance(value, str):
            try:
                value = parse_number(value)
            except NotANumber as e:
                raise Error(f"--set {name}: {e}") from None
        out[name] = value
    return out


def _number(value):
    """A gradient for Python: a number, or None where it is undefined (or a constant's)."""
    return None if value is None or type(value) is Undefined else value


class Run:
    """One forward and backward pass: `value` (the output's), `values` and `grads` by name (a
    gradient is None where it is undefined, or for a constant), `undefined`: name -> why."""

    def __init__(self, result):
        self._result = result
        self.of: str = result.of_name
        self.value = result.value

    # The dicts are made when first read (a graph of a million nodes need not build the ones not read).

    @functools.cached_property
    def values(self) -> dict:
        return dict(zip(self._result.plan.names, self._result.values))

    @functools.cached_property
    def grads(self) -> dict:
        result = self._result
        if Undefined in map(type, result.grads):  # (a whole-list test at C speed: most runs have none)
            return {name: _number(g) for name, g in zip(result.plan.names, result.grads)}
        return dict(zip(result.plan.names, result.grads))

    @functools.cached_property
    def undefined(self) -> dict[str, str]:
        return {self._result.plan.names[i]: u.reason for i, u in self._result.undefined()}

    def __repr__(self) -> str:
        return f"<cgraph run of {self._result.plan.name!r}: {self.of} = {self.value!r}>"

    def _repr_html_(self) -> str:
        from .show.numbers import described

        plan, result = self._result.plan, self._result
        labelled = bool(plan.labels or plan.units)
        rows = []
        for i in range(plan.size):
            cells = [plan.names[i], plan.op_name(i), ", ".join(map(str, plan.operands(i)))]
            cells += [repr(result.values[i]), "" if result.grads[i] is None else _shown(result.grads[i])]
            cells += [described(plan, i)] if labelled else []
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        titles = ("node", "op", "operands", "value", f"d({html.escape(self.of)})/d(node)") + (
            ("label",) if labelled else ()
        )
        header = "".join(f"<th>{h}</th>" for h in titles)
        title = html.escape(f"{plan.name}: {self.of} = {self.value!r}")
        return f"<p><b>{title}</b></p><table><tr>{header}</tr>{''.join(rows)}</table>"


def _text(value) -> str:
    """A value of a sweep's list as `--sweep` would be given it: a number's repr, text as it is."""
    return value if isinstance(value, str) else repr(value)


def _shown(g) -> str:
    return "undefined" if type(g) is Undefined else repr(g)


class Graph:
    """A loaded graph. Each method takes `set` (input or constant -> value, for this call only) and
    `of` (the node to differentiate; default: the file's output) where it makes sense."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self._draft: Draft | None = None  # a derived graph's Draft, to write it as YAML

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def inputs(self) -> dict:
        """The inputs (not constants) and their values, in file order."""
        return {self.plan.names[i]: self.plan.values[i] for i in self.plan.variables}

    @property
    def constants(self) -> dict:
        """The constants and their values, in file order."""
        return {self.plan.names[i]: self.plan.values[i] for i in self.plan.inputs if i in self.plan.fixed}

    @property
    def nodes(self) -> list[str]:
        """Every input, constant and node, in evaluation order."""
        return list(self.plan.names)

    def run(self, set: Mapping | None = None, of: str | None = None) -> Run:
        """Forward and backward: every node's value and gradient."""
        from .core.engine import evaluate

        return Run(evaluate(self.plan, _sets(set), of))

    def grad(
        self, wrt: Iterable[str] | None = None, set: Mapping | None = None, of: str | None = None, elasticity=False
    ) -> dict:
        """d(of)/d(name) for each name (default: every input); with `elasticity`, for each name
        {"gradient": g, "elasticity": g·x/f}. A name asked for whose gradient is undefined raises."""
        from .core.engine import evaluate

        names = list(wrt) if wrt is not None else self.plan.variable_names
        for name in names:
            self.plan.position(self.plan.element(name)[0], "wrt")  # (W1[0, 1]: one element, as --wrt takes it)
        result = evaluate(self.plan, _sets(set), of)
        out = {}
        for name in names:
            g = result.needed_grad(name) if wrt is not None else _number(result.grad_of(name))
            out[name] = {"gradient": g, "elasticity": _number(result.elasticity(name))} if elasticity else g
        return out

    def sweep(
        self,
        grid: Mapping,
        wrt: Iterable[str] | None = None,
        set: Mapping | None = None,
        of: str | None = None,
        elasticity=False,
    ) -> list[dict]:
        """Every combination of the values in `grid` (input -> a list of numbers or a "START:STOP:STEP"
        range), as records keyed as `cgraph run --sweep --csv`'s columns (None where undefined;
        "error" where a scenario has no value)."""
        from .commands.sweep import parse_sweep
        from .commands.sweep import sweep as sweep_grid

        sweeps = [
            parse_sweep(
                f"{name}={values if isinstance(values, str) else ','.join(map(_text, values))}", self.plan.source
            )
            for name, values in grid.items()
        ]
        from .commands.sweep import sweep_records

        result = sweep_grid(self.plan, sweeps, _sets(set), of, list(wrt) if wrt is not None else None)
        return sweep_records(result, elasticity)

    def tornado(self, swing: str | float = "10%", wrt: Iterable[str] | None = None, set=None, of=None) -> list[dict]:
        """Each input down and up by `swing` ("10%", or an amount: "+-2.5"; a bare number is refused, as
        --swing refuses it): records as `cgraph tornado --json`'s bars."""
        from .commands.tornado import parse_swing, tornado_records
        from .commands.tornado import tornado as bars

        result = bars(self.plan, parse_swing(str(swing)), _sets(set), of, list(wrt or []))
        return tornado_records(result)

    def check(self, wrt: Iterable[str] | None = None, set=None, of=None, **tolerances) -> list[dict]:
        """Backprop against numerical differences, one record per input (as `cgraph check --json`'s
        "checks"); `eps`, `rtol`, `atol` as the command's options."""
        from dataclasses import asdict

        from .commands.check import check_gradients

        names = list(wrt) if wrt is not None else None
        _, checks = check_gradients(self.plan, names, _sets(set), of, **tolerances)
        return [asdict(c) for c in checks]

    def descend(
        self, vary: Iterable[str], lr: float = 0.1, steps: int = 100, set: Mapping | None = None, of=None
    ) -> dict:
        """Gradient descent on the inputs `vary`, as `cgraph descend`: {"losses": the loss before each
        step and after the last, "trace": each varied number's values, "final": each varied input's
        value at the end, "graph": the graph with those values}."""
        from .commands.descend import descend as gradient_descent
        from .core.graph import compile_draft

        run = gradient_descent(self.plan, list(vary), lr, steps, _sets(set), of)
        trained = Graph(compile_draft(self.plan.to_draft(run.final)))
        return {"losses": run.losses, "trace": run.trace, "final": run.final, "graph": trained}

    def seek(
        self,
        node: str,
        target: float,
        by: str,
        set: Mapping | None = None,
        start: float | None = None,
        between: tuple[float, float] | None = None,
    ) -> dict:
        """Goal seek, as `cgraph seek FILE NODE=TARGET --by INPUT`: {"value": the input's value that
        makes `node` hit `target`, "reached": the node's value there, "evaluations", "bracket" (the
        neighbouring floats the root lies between, or None), "iterations": each point tried}."""
        from .commands.seek import seek as goal_seek
        from .commands.seek import seek_record

        target = _sets({"the target": target})["the target"]
        within = None if between is None else (between[0], between[1])
        found = goal_seek(self.plan, node, target, by, _sets(set), start, within)
        return {key: value for key, value in seek_record(found).items() if key not in ("graph", "of", "by")}

    def optimize(
        self,
        vary: Iterable[str],
        maximize: str | None = None,
        minimize: str | None = None,
        subject_to: Iterable[str] = (),
        set: Mapping | None = None,
        starts: int = 1,
        seed: int = 0,
    ) -> dict:
        """As `cgraph optimize`: `vary` as --vary takes it (["price=1:9"], ["x0", "x1"]), one of
        `maximize`/`minimize` a node, `subject_to` constraints ("cups >= 900"). The report as
        `--json` gives it, and "graph": the graph with the inputs at the optimum."""
        from .commands.optimize import optimize as solve
        from .commands.optimize import optimize_record, parse_vary
        from .core.graph import compile_draft

        if (maximize is None) == (minimize is None):
            raise Error("say what to optimize: maximize=NODE or minimize=NODE (one of them)")
        vary = [vary] if isinstance(vary, str) else list(vary)
        objective = maximize if maximize is not None else minimize
        assert objective is not None
        found = solve(
            self.plan, objective, maximize is not None, parse_vary(vary, self.plan.source), list(subject_to),
            _sets(set), starts, seed,
        )  # fmt: skip
        record = optimize_record(found)
        record["graph"] = Graph(compile_draft(self.plan.to_draft(found.values)))
        record["warnings"] = found.warnings
        return record

    def mc(
        self,
        samples: int = 10_000,
        seed: int = 0,
        sampler: str = "lhs",
        dist: Mapping | None = None,
        of: str | None = None,
        target: float | None = None,
        set: Mapping | None = None,
        percentiles: Iterable[float] | None = None,
        sobol: bool = False,
    ) -> MonteCarlo:
        """Monte Carlo, as `cgraph mc`: `dist` maps inputs to distributions as --dist takes them
        ({"price": "normal(10, 1)"}). A MonteCarlo: its `summary` (what --json gives), its
        `records()` (one dict per sample: the inputs drawn, the output, the gradients), and in a
        notebook its table."""
        from .commands.mc import DEFAULT_PERCENTILES, monte_carlo, parse_dist_option

        chosen = dict(parse_dist_option(f"{name}={spec}", self.plan.source) for name, spec in (dist or {}).items())
        wanted = tuple(percentiles) if percentiles is not None else DEFAULT_PERCENTILES
        run = monte_carlo(self.plan, samples, seed, sampler, of, target, _sets(set), chosen, wanted, None, sobol)
        return MonteCarlo(run)

    def derive(self, wrt: str, of: str | None = None, set: Mapping | None = None) -> Graph:
        """The graph of d(of)/d(wrt), as `cgraph derive` writes it (`.yaml()` gives that file)."""
        from .commands.derive import derive as derive_draft
        from .core.graph import compile_draft

        draft = derive_draft(self.plan, wrt, of, _sets(set))
        derived = Graph(compile_draft(draft))
        derived._draft = draft
        return derived

    def yaml(self) -> str:
        """The graph as a cgraph YAML file (for a derived graph: what `cgraph derive` writes)."""
        from .show.formats import graph_yaml

        draft = self._draft
        if draft is None:
            raise Error("only a derived graph is written back as YAML; a loaded one is its file")
        return graph_yaml(draft, [f"{draft.description}, written by cgraph's Python API"])

    def draw(self, format: str = "svg", set: Mapping | None = None, of: str | None = None, grads=True):
        """The picture `cgraph draw` makes: "dot" and "mermaid" text, "svg" text or "png" bytes
        (those two need Graphviz's dot)."""
        from .commands import draw as pictures
        from .core.engine import evaluate

        result = evaluate(self.plan, _sets(set), of, gradients=grads)
        if format == "mermaid":
            return pictures.to_mermaid(result)
        dot = pictures.to_dot(result)
        if format == "dot":
            return dot
        if format not in ("svg", "png"):
            raise Error(f"format {format!r}: one of svg, png, dot, mermaid")
        picture = pictures.graphviz(dot, format)
        return picture.decode("utf-8") if format == "svg" else picture

    def page(self, set: Mapping | None = None, of: str | None = None, layout: str = "auto") -> str:
        """The HTML page `cgraph page` writes: both passes step by step, in a browser, offline."""
        from .commands.page import page as html_page
        from .core.engine import evaluate

        return html_page(evaluate(self.plan, _sets(set), of), layout)

    def _repr_svg_(self) -> str | None:
        """Jupyter's picture of the graph (None without Graphviz: then the text form shows)."""
        try:
            return self.draw("svg")
        except CgraphError:
            return None

    def __repr__(self) -> str:
        return f"<cgraph graph {self.name!r}: {len(self.inputs)} inputs, {self.plan.size} nodes in all>"


class MonteCarlo:
    """A Monte Carlo run (Graph.mc): `summary` as `cgraph mc --json` gives it, `records()` the samples."""

    def __init__(self, run):
        from .commands.mc import mc_record

        self._run = run
        self.summary: dict = mc_record(run)

    def records(self) -> list[dict]:
        """One dict per sample: its index, the inputs drawn, the output, the gradients (as
        --samples-out writes them; a run past the memory limit keeps no samples: [])."""
        from .commands.mc import samples_records

        if getattr(self._run, "value", None) is None:
            return []
        header, columns = samples_records(self._run)
        lists = [c.tolist() for c in columns]
        return [dict(zip(header, row)) for row in zip(*lists)]

    def __repr__(self) -> str:
        s = self.summary
        return f"<MonteCarlo {s['of']}: mean {s.get('mean')!r}, sd {s.get('sd')!r} over {s['samples']:,} samples>"

    def _repr_html_(self) -> str:
        s = self.summary
        head = html.escape(f"{s['graph']}: {s['of']} over {s['samples']:,} samples ({s['sampler']}, seed {s['seed']})")
        figures = [("mean", s.get("mean")), ("standard error", s.get("standard_error")), ("sd", s.get("sd"))]
        figures += list(s.get("percentiles", {}).items())
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v!r}</td></tr>" for k, v in figures)
        inputs = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(c))}</td>"
                for c in (
                    name,
                    e["distribution"],
                    e.get("mean_gradient", ""),
                    e.get("spearman"),
                    f"{100 * e['contribution']:.1f}%",
                )
            )
            + "</tr>"
            for name, e in s.get("inputs", {}).items()
        )
        header = "".join(
            f"<th>{h}</th>" for h in ("input", "distribution", "mean gradient", "rank correlation", "contribution")
        )
        return f"<p><b>{head}</b></p><table>{rows}</table><table><tr>{header}</tr>{inputs}</table>"
