"""cgraph optimize: the inputs that make a node as large (or small) as it can be, within bounds and
constraints, and a spreadsheet Solver's sensitivity report at the optimum.

scipy.optimize.minimize does the search; cgraph gives it what a spreadsheet
cannot: the exact gradient of the objective and of every constraint (one
backward pass each), and the exact Hessian where the graph is of numbers
(backprop through `derive`'s graph of each first derivative). The method:
SLSQP where there are constraints, L-BFGS-B where there are only bounds, the
trust-region Newton method (trust-exact) with the Hessian where there are
neither. The gradients are checked against central differences before the
search starts.

At the optimum, each constraint's shadow price is d(optimum)/d(its bound): the
s that solve grad f = sum s_i grad g_i over the constraints that bind (the
Lagrange multipliers, in the sign a Solver report gives them), by least squares.
A bound of --vary that binds gets one too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..core.errors import CgraphError, RequestError, did_you_mean, option_number, shorten
from ..core.graph import NAMED_NUMBERS, Plan, compile_draft
from ..core.op import Undefined
from ..show.formats import csv_text, to_json
from ..show.numbers import Format, format_number
from ..show.table import Table, cell

SENSES = {"le": "<=", "lt": "<=", "ge": ">=", "gt": ">=", "eq": "=="}
BINDS = 1e-6  # a constraint binds where it is within BINDS x max(1, |bound|) of its bound
AT_BOUND = 1e-9  # an input is at a bound within AT_BOUND x max(1, |bound|)
CHECK_STEP = 1e-6  # the central differences of the gradient check step this x max(1, |x|)
CHECK_WARNS = 1e-4  # a relative difference above this is worth a warning
MAX_STARTS = 1000


class Constraint:
    """`EXPR <= VALUE` (or >=, ==): the node that computes EXPR (less the right side, where that is
    not a number), its sense, its bound; at the optimum its value, slack, whether it binds, and its
    shadow price."""

    def __init__(self, text: str, node: str, sense: str, bound: float):
        self.text, self.node, self.sense, self.bound = text, node, sense, bound
        self.value = math.nan
        self.binds = False
        self.shadow = 0.0

    @property
    def slack(self) -> float:
        """How far from binding: bound - value for <=, value - bound for >=, 0 for ==."""
        if self.sense == "==":
            return 0.0
        return self.bound - self.value if self.sense == "<=" else self.value - self.bound


class Variable:
    """An input varied, its bounds, start, value at the optimum, and the shadow price of a bound
    it is at (d(optimum)/d(that bound))."""

    def __init__(self, name: str, lower: float | None, upper: float | None):
        self.name, self.lower, self.upper = name, lower, upper
        self.start = self.value = math.nan
        self.at_bound: str | None = None  # "lower" or "upper"
        self.shadow = 0.0


class Optimum:
    """What `optimize` found."""

    def __init__(self, plan: Plan, objective: str, maximize: bool, variables: list, constraints: list):
        self.plan, self.objective, self.maximize = plan, objective, maximize
        self.variables: list[Variable] = variables
        self.constraints: list[Constraint] = constraints
        self.value = math.nan
        self.method = ""
        self.success = False
        self.message = ""
        self.iterations = 0
        self.evaluations = 0
        self.check = 0.0  # the largest relative difference of the gradient check
        self.warnings: list[str] = []
        self.starts: list[dict] = []  # each start: its inputs, the value it reached, whether it converged
        self.interrupted = False  # Ctrl-C stopped the starts: the best of those done

    @property
    def values(self) -> dict:
        return {v.name: v.value for v in self.variables}


def parse_vary(specs: Iterable[str], source: str | None = None) -> list[tuple[str, float | None, float | None]]:
    """`NAME`, `NAME=LO:HI`, `NAME=LO:` or `NAME=:HI` (comma-separated or one each) as
    (name, lower or None, upper or None)."""
    from ..read.syntax import NotANumber, parse_range

    out = []
    for spec in specs:
        for part in _split_top(spec):
            name, sep, bounds = part.partition("=")
            name = name.strip()
            if not name:
                raise RequestError(f"'{shorten(part)}' is not NAME or NAME=LO:HI", source, "vary")
            lower = upper = None
            if sep:
                try:
                    lower, upper = parse_range(bounds, open_ends=True)
                except NotANumber as e:
                    raise RequestError(f"'{shorten(part)}': {e}", source, "vary") from None
            out.append((name, lower, upper))
    names = [name for name, _, _ in out]
    twice = next((n for k, n in enumerate(names) if n in names[:k]), None)
    if twice is not None:
        raise RequestError(f"'{shorten(twice)}' is varied twice", source, "vary")
    return out


def _split_top(spec: str) -> list[str]:
    """x=0:1,y,z=-1:1 into its parts (a comma inside a bound is not a separator: there is none)."""
    return [part.strip() for part in spec.split(",") if part.strip()]


def with_constraints(plan: Plan, texts: Iterable[str]) -> tuple[Plan, list[Constraint]]:
    """The graph with a node for each constraint's expression (named by its text, as a formula's
    parts are), and the constraints; a RequestError for `--subject-to` where one cannot be read."""
    from ..read.formula import COMPARISONS, FormulaError, difference, lower, parse

    texts = list(texts)
    if not texts:
        return plan, []
    draft = plan.to_draft()
    names = set(draft.names)
    constraints = []
    for k, text in enumerate(texts, 1):
        where = f"'{shorten(text)}'"
        try:
            root = parse(text, plan.functions)
            if root.op not in COMPARISONS or root.parenthesized:
                raise FormulaError("a constraint compares: EXPR <= VALUE, EXPR >= VALUE or EXPR == VALUE", 0)
            lhs, rhs = root.args
            bound = _number_of(rhs)
            expr = lhs if bound is not None else difference(lhs, rhs)
            if expr.op == "num":
                raise FormulaError("the constraint has no input or node in it", 0)
            if expr.op == "name":
                node = expr.value
                steps = []
            else:
                node = expr.text or f"subject_to.{k}"
                steps = lower(expr, node)
        except FormulaError as e:
            raise RequestError(f"{where}: {e}", plan.source, "subject-to") from None
        for step in steps:  # (operands first: a part's own parts are named by the time it comes)
            for operand in step.operands:
                if type(operand) is str and operand not in names and operand not in NAMED_NUMBERS:
                    raise RequestError(
                        f"{where}: unknown name '{shorten(operand)}'{did_you_mean(operand, plan.index)}",
                        plan.source,
                        "subject-to",
                    )
            if step.name not in names:
                draft.add_node(step.name, step.op, step.operands)
                names.add(step.name)
        if node not in names:
            raise RequestError(
                f"{where}: unknown name '{shorten(node)}'{did_you_mean(node, plan.index)}", plan.source, "subject-to"
            )
        constraints.append(Constraint(text.strip(), node, SENSES[root.op], 0.0 if bound is None else bound))
    return compile_draft(draft), constraints


def _number_of(expr) -> float | None:
    """The number a side of a constraint is, when it is one (2, -2.5, +3), else None."""
    sign = 1.0
    while expr.op in ("neg",):
        sign, expr = -sign, expr.args[0]
    return sign * float(expr.value) if expr.op == "num" else None


def optimize(
    plan: Plan,
    objective: str,
    maximize: bool,
    vary: list[tuple[str, float | None, float | None]],
    subject_to: Iterable[str] = (),
    overrides: dict | None = None,
    starts: int = 1,
    seed: int = 0,
) -> Optimum:
    """The values of the inputs `vary` (name, lower, upper) that make `objective` as large
    (`maximize`) or small as it can be, subject to the constraints `subject_to` (EXPR <= VALUE)."""
    import numpy as np
    from scipy.optimize import minimize

    overrides = dict(overrides or {})
    option_number(starts, "--starts", least=1, whole=True)
    option_number(seed, "--seed", whole=True)
    if starts > MAX_STARTS:
        raise RequestError(f"--starts {starts:,}: at most {MAX_STARTS:,}", plan.source, "starts")
    if not vary:
        raise RequestError("name the inputs to vary (--vary price=1:9)", plan.source, "vary")
    plan, constraints = with_constraints(plan, subject_to)
    of = plan.position(objective, "of")
    variables = []
    for name, lo, hi in vary:
        i = plan.position(name, "vary")
        if not plan.is_input(i):
            raise RequestError(f"'{shorten(name)}' is a node; only inputs can be varied", plan.source, "vary")
        if name in overrides:
            raise RequestError(f"'{shorten(name)}' is both set and varied", plan.source, "vary")
        if getattr(plan.values[i], "ndim", 0) > 0:
            raise RequestError(f"'{shorten(name)}' is an array; optimize varies numbers", plan.source, "vary")
        variables.append(Variable(name, lo, hi))
    found = Optimum(plan, plan.names[of], maximize, variables, constraints)
    problem = _Problem(found, overrides)
    names = [v.name for v in variables]
    bounds = [(v.lower, v.upper) for v in variables]
    first = np.array([_clip(float(plan.values[plan.index[v.name]]), v.lower, v.upper) for v in variables])
    if starts == 1:
        points = [first]
    else:
        if any(lo is None or hi is None for lo, hi in bounds):
            raise RequestError("--starts needs bounds for every input varied (--vary NAME=LO:HI)", plan.source, "vary")
        from scipy.stats import qmc

        sample = qmc.LatinHypercube(d=len(variables), seed=seed).random(starts)
        points = list(qmc.scale(sample, [lo for lo, _ in bounds], [hi for _, hi in bounds]))
    found.check = problem.check(first)
    if found.check > CHECK_WARNS:
        found.warnings.append(
            f"the gradient check differs by {found.check:.1e} (relative) from central differences at the start: "
            "the graph has a kink there, or is very curved; the search may stop early"
        )
    method, options, hessian = problem.method(
        bool(constraints), any(lo is not None or hi is not None for lo, hi in bounds)
    )
    found.method = method
    best = None
    try:
        for x0 in points:
            best = _start(problem, minimize, x0, method, options, hessian, bounds, names, best)
    except KeyboardInterrupt:  # Ctrl-C: the best of the starts done
        if best is None:
            raise
        found.interrupted = True
        found.warnings.append(f"interrupted (Ctrl-C) after {len(found.starts)} of {len(points)} starts")
    _, res, x0 = best  # type: ignore[misc]
    found.success, found.message = bool(res.success) and problem.feasible(res.x), str(res.message)
    for v, start, x in zip(variables, x0, res.x):
        v.start, v.value = float(start), float(x)
    found.evaluations = problem.evaluations
    problem.report(res.x)
    if not found.success:
        found.warnings.append(
            f"the search did not converge ({found.message})"
            if res.success is False
            else "the best point found breaks a constraint: the constraints may contradict each other"
        )
    return found


def _start(problem, minimize, x0, method, options, hessian, bounds, names, best):
    """One search from x0, recorded; the better of it and `best` (feasible, converged, lowest)."""
    found = problem.found
    try:
        res = minimize(
            problem.fun,
            x0,
            jac=problem.jac,
            hess=hessian,
            method=method,
            bounds=bounds if method != "trust-exact" else None,
            constraints=problem.scipy_constraints() if found.constraints else (),
            options=options,
        )
    except _NoValue as e:
        raise CgraphError(
            f"{e} (at {', '.join(f'{n} = {v!r}' for n, v in zip(names, e.x))}); "
            "bound the inputs with --vary NAME=LO:HI",
            None,
            found.plan.source,
        ) from None
    feasible = problem.feasible(res.x)
    found.starts.append(
        {
            "start": dict(zip(names, map(float, x0))),
            "value": problem.sign * float(res.fun),
            "converged": bool(res.success),
            "feasible": feasible,
        }
    )
    found.iterations += int(getattr(res, "nit", 0) or 0)
    key = (not feasible, not res.success, float(res.fun))
    return (key, res, x0) if best is None or key < best[0] else best


def _clip(x: float, lo: float | None, hi: float | None) -> float:
    return min(max(x, lo if lo is not None else -math.inf), hi if hi is not None else math.inf)


class _NoValue(Exception):
    def __init__(self, message: str, x):
        super().__init__(message)
        self.x = list(map(float, x))


class _Problem:
    """The objective and constraints as scipy asks for them: functions of the vector of the varied
    inputs, each value and gradient from one forward and backward pass, the last point's kept."""

    def __init__(self, found: Optimum, overrides: dict):
        self.found, self.overrides = found, overrides
        self.names = [v.name for v in found.variables]
        self.sign = -1.0 if found.maximize else 1.0  # scipy minimizes
        self.nodes = [found.objective, *(c.node for c in found.constraints)]
        self.cache: dict = {}
        self.evaluations = 0

    def at(self, x) -> dict:
        """{node: (value, gradient as a list over the varied inputs)} at x."""
        from ..core.engine import evaluate

        key = tuple(map(float, x))
        if key not in self.cache:
            sets = {**self.overrides, **dict(zip(self.names, key))}
            out = {}
            try:
                for node in dict.fromkeys(self.nodes):
                    result = evaluate(self.found.plan, sets, node)
                    grads = [result.needed_grad(n) for n in self.names]
                    bad = next((g for g in grads if type(g) is Undefined), None)
                    if type(bad) is Undefined:
                        raise _NoValue(f"the gradient of {node} is undefined: {bad.reason}", key)
                    out[node] = (float(result.value), [float(g) for g in grads])
            except CgraphError as e:
                raise _NoValue(e.message, key) from None
            self.evaluations += 1
            self.cache = {key: out}  # (scipy asks for the value, then the gradient, at one point)
        return self.cache[key]

    def fun(self, x) -> float:
        return self.sign * self.at(x)[self.found.objective][0]

    def jac(self, x):
        import numpy as np

        return self.sign * np.array(self.at(x)[self.found.objective][1])

    def hessian(self, x):
        """The objective's Hessian: backprop through derive's graph of each first derivative."""
        import numpy as np

        from ..core.engine import evaluate
        from .derive import derive

        sets = {**self.overrides, **dict(zip(self.names, map(float, x)))}
        rows = []
        for a in self.names:
            try:
                derived = evaluate(compile_draft(derive(self.found.plan, a, self.found.objective, sets)), sets)
            except CgraphError as e:
                raise _NoValue(
                    f"the second derivative of {self.found.objective} has no value: {e.message}", x
                ) from None
            rows.append([float(derived.grad_of(b) or 0.0) for b in self.names])
        return self.sign * np.array(rows)

    def method(self, constrained: bool, bounded: bool):
        """scipy's method, its options, and the Hessian function if it takes one."""
        if constrained:
            return "SLSQP", {"ftol": 1e-15, "maxiter": 1000}, None
        if bounded or self.found.plan.arrays:
            return "L-BFGS-B", {"ftol": 0.0, "gtol": 1e-12, "maxiter": 15000}, None
        return "trust-exact", {"gtol": 1e-12, "maxiter": 1000}, self.hessian

    def scipy_constraints(self) -> list[dict]:
        """Each constraint as SLSQP takes it: fun(x) >= 0 ('ineq') or == 0 ('eq'), with its Jacobian."""
        import numpy as np

        out = []
        for c in self.found.constraints:
            sign = -1.0 if c.sense == "<=" else 1.0  # g <= b: b - g >= 0; g >= b: g - b >= 0

            def fun(x, c=c, sign=sign):
                return sign * (self.at(x)[c.node][0] - c.bound)

            def jac(x, c=c, sign=sign):
                return sign * np.array(self.at(x)[c.node][1])

            out.append({"type": "eq" if c.sense == "==" else "ineq", "fun": fun, "jac": jac})
        return out

    def feasible(self, x) -> bool:
        point = self.at(x)
        for c in self.found.constraints:
            value = point[c.node][0]
            room = BINDS * max(1.0, abs(c.bound))
            if (c.sense != ">=" and value > c.bound + room) or (c.sense != "<=" and value < c.bound - room):
                return False
        return True

    def check(self, x) -> float:
        """The largest relative difference between the exact gradients (objective and constraints)
        and central differences at x."""
        worst = 0.0
        base = self.at(x)
        for j, xj in enumerate(map(float, x)):
            h = CHECK_STEP * max(1.0, abs(xj))
            up, down = list(map(float, x)), list(map(float, x))
            up[j], down[j] = xj + h, xj - h
            try:
                hi, lo = self.at(up), self.at(down)
            except _NoValue:
                continue  # the graph has no value beside x: nothing to compare
            for node, (_, grads) in base.items():
                estimate = (hi[node][0] - lo[node][0]) / (2 * h)
                scale = max(abs(grads[j]), abs(estimate), 1e-8 * max(1.0, abs(base[node][0])))
                worst = max(worst, abs(grads[j] - estimate) / scale if scale else 0.0)
        self.cache = {}
        return worst

    def report(self, x) -> None:
        """Values, slacks, which constraints and bounds bind, and their shadow prices, at x."""
        import numpy as np

        found = self.found
        point = self.at(x)
        found.value, gradient = point[found.objective]
        columns: list[list[float]] = []
        owners: list[Constraint | Variable] = []
        for c in found.constraints:
            c.value = point[c.node][0]
            c.binds = c.sense == "==" or abs(c.value - c.bound) <= BINDS * max(1.0, abs(c.bound))
            if c.binds:
                columns.append(point[c.node][1])
                owners.append(c)
        for j, v in enumerate(found.variables):
            for side, bound in (("lower", v.lower), ("upper", v.upper)):
                if bound is not None and abs(v.value - bound) <= AT_BOUND * max(1.0, abs(bound)):
                    v.at_bound = side
                    columns.append([1.0 if k == j else 0.0 for k in range(len(found.variables))])
                    owners.append(v)
        if columns:
            shadows = np.linalg.lstsq(np.array(columns).T, np.array(gradient), rcond=None)[0]
            for owner, s in zip(owners, shadows):
                owner.shadow = float(s)


# -- what it prints -------------------------------------------------------------------------


def _headline(found: Optimum, num: Format) -> str:
    plan = found.plan
    word = "maximized" if found.maximize else "minimized"
    at = ", ".join(f"{cell(v.name)} = {num(v.value)}" for v in found.variables)
    return (
        f"{cell(plan.name)}: {cell(found.objective)} {word} to {num(found.value)} at {at} "
        f"({found.method}, {found.iterations:,} iteration{'s' * (found.iterations != 1)}"
        + (f", best of {len(found.starts)} starts" if len(found.starts) > 1 else "")
        + f"; gradient check {found.check:.0e})"
    )


def optimize_table(found: Optimum, num: Format = format_number, color: bool = False) -> str:
    """The optimum, then a Solver-style sensitivity report: the inputs, then the constraints."""
    table = Table()
    for title, align in (
        ("input", "left"),
        ("start", "right"),
        ("optimum", "right"),
        ("lower", "right"),
        ("upper", "right"),
        ("at bound", "left"),
        ("shadow price", "right"),
    ):
        table.column(title, align)
    for v in found.variables:
        table.rows.append(
            [
                cell(v.name),
                num(v.start),
                num(v.value),
                "" if v.lower is None else num(v.lower),
                "" if v.upper is None else num(v.upper),
                v.at_bound or "",
                num(v.shadow) if v.at_bound else "",
            ]
        )
    text = table.draw(_headline(found, num), color, all_rows=True)
    if found.constraints:
        rows = Table()
        for title, align in (
            ("constraint", "left"),
            ("value", "right"),
            ("bound", "right"),
            ("slack", "right"),
            ("binds", "left"),
            ("shadow price", "right"),
        ):
            rows.column(title, align)
        for c in found.constraints:
            rows.rows.append(
                [cell(c.text), num(c.value), num(c.bound), num(c.slack), "yes" if c.binds else "no", num(c.shadow)]
            )
        text = text.rstrip("\n") + "\n\n" + rows.draw(None, color, all_rows=True)
    return text


def optimize_record(found: Optimum) -> dict:
    return {
        "graph": found.plan.name,
        "objective": found.objective,
        "sense": "maximize" if found.maximize else "minimize",
        "value": found.value,
        "inputs": found.values,
        "success": found.success,
        "message": found.message,
        "method": found.method,
        "iterations": found.iterations,
        "evaluations": found.evaluations,
        "gradient_check": found.check,
        "vary": [
            {
                "name": v.name,
                "start": v.start,
                "value": v.value,
                "lower": v.lower,
                "upper": v.upper,
                "at_bound": v.at_bound,
                "shadow_price": v.shadow,
            }
            for v in found.variables
        ],
        "constraints": [
            {
                "constraint": c.text,
                "node": c.node,
                "sense": c.sense,
                "bound": c.bound,
                "value": c.value,
                "slack": c.slack,
                "binds": c.binds,
                "shadow_price": c.shadow,
            }
            for c in found.constraints
        ],
        "starts": found.starts,
    }


def optimize_json(found: Optimum) -> str:
    return to_json(optimize_record(found))


def optimize_csv(found: Optimum) -> str:
    """One row per input and per constraint: kind, name, value, bound(s), slack, binds, shadow price."""
    rows: list[list] = [["kind", "name", "value", "lower", "upper", "slack", "binds", "shadow_price"]]
    rows.append(["objective", found.objective, found.value, "", "", "", "", ""])
    for v in found.variables:
        rows.append(
            ["input", v.name, v.value, "" if v.lower is None else v.lower, "" if v.upper is None else v.upper, "",
             "yes" if v.at_bound else "no", v.shadow]
        )  # fmt: skip
    for c in found.constraints:
        lower = c.bound if c.sense != "<=" else ""
        upper = c.bound if c.sense != ">=" else ""
        rows.append(["constraint", c.text, c.value, lower, upper, c.slack, "yes" if c.binds else "no", c.shadow])
    return csv_text(rows)
