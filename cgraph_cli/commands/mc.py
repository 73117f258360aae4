"""cgraph mc: Monte Carlo over the inputs' distributions, with sensitivities from the exact
per-sample gradients of one vectorized backward pass.

Each input (or constant) with a distribution (`dist:` in the file, or --dist) is drawn in every
sample by its inverse CDF from uniform numbers (core/sampling.py: Latin hypercube by default,
scrambled Sobol or plain random on request). The numbers of a sample depend only on the seed and
its index, and the samples are evaluated in chunks on the scenario engine (the one --sweep uses),
so the figures are the same however the run is cut into chunks.

What it reports of the output: mean and its standard error, sd, percentiles, min and max, and
P(output < target). Of each input with a distribution: the mean gradient and mean elasticity over
the distribution, the derivative-based global sensitivity measure (DGSM: E[(df/dx)²]·Var(x), and
as a share of Var(f)), Spearman's rank correlation with the output and its share of the squared
correlations (the contribution to variance a Crystal Ball sensitivity chart shows); and the
first-order (delta-method) sd from the gradients at the point values beside the Monte Carlo sd.
A sample without a value (log of a negative draw) is counted, with why; the figures are of the
samples with a value, and say so.
"""

from __future__ import annotations

import math

from ..core.distributions import Distribution
from ..core.errors import CgraphError, RequestError, option_number, shorten
from ..core.graph import Plan
from ..show.formats import to_json
from ..show.numbers import Format, entry_format, estimate_format, format_number
from ..show.table import Table, cell
from .mc_figures import DEFAULT_PERCENTILES, NONLINEAR, MonteCarlo, contributions, counts, delta_method

MAX_SAMPLES = 2_000_000  # kept in memory (for exact ranks and percentiles): 8 bytes × (1 + 2 per input) each
MAX_STREAMED = 10**10  # past MAX_SAMPLES (or on Dask), reduced as they go: commands/mc_stream.py
CHUNK_CELLS = 4_000_000


def monte_carlo(
    plan: Plan,
    samples: int = 10_000,
    seed: int = 0,
    sampler: str = "lhs",
    of: str | None = None,
    target: float | None = None,
    overrides: dict | None = None,
    dists: dict | None = None,
    percentiles=DEFAULT_PERCENTILES,
    progress=None,
    sobol: bool = False,
    runner=None,
    keep: bool = False,
):
    """`samples` samples of the graph with its inputs drawn from their distributions (the file's,
    and `dists`: name -> Distribution, which replace them); `keep`: the samples are wanted whole."""
    import numpy as np

    from ..core.arrays import scenarios
    from ..core.engine import evaluate
    from ..core.sampling import SAMPLERS, uniforms
    from .sweep import _reason

    plan.numbers_only("mc", "mc")
    option_number(samples, "--samples", least=2, whole=True)
    option_number(seed, "--seed", whole=True)
    streamed = runner is not None or samples > MAX_SAMPLES  # reduced as it goes: in bounded memory
    if samples > MAX_STREAMED:
        raise RequestError(f"--samples {samples:,}: at most {MAX_STREAMED:,}", plan.source, "samples")
    if sampler not in SAMPLERS:
        raise RequestError(f"--sampler {sampler!r}: one of {', '.join(SAMPLERS)}", plan.source, "sampler")
    if target is not None:
        option_number(target, "--target", least=-math.inf)
    for p in percentiles:
        if not 0 <= p <= 100:
            raise RequestError(f"--percentiles: {p!r} is not between 0 and 100", plan.source, "percentiles")
    overrides = dict(overrides or {})
    target_at = plan.output_position(of)
    chosen: dict[str, Distribution] = {plan.names[i]: d for i, d in plan.dists.items()}  # type: ignore[misc]
    for name, d in (dists or {}).items():
        i = plan.input_position(name, "dist")
        chosen[plan.names[i]] = d
    uncertain = {name: d for name, d in chosen.items() if name not in overrides}  # a --set input is held
    uncertain = dict(sorted(uncertain.items(), key=lambda item: plan.file_order[plan.index[item[0]]]))
    if not uncertain:
        raise RequestError(
            'no input has a distribution: give one in the file ({value: 10, dist: "normal(10, 1)"}) '
            "or with --dist NAME=SPEC",
            plan.source,
            "dist",
        )
    run = MonteCarlo(plan, target_at, samples, seed, sampler, uncertain, target)
    run.correlations = [(a, b, rho) for a, b, rho in plan.correlations if a in uncertain and b in uncertain]
    if run.correlations and sobol:
        raise RequestError(
            "--sobol: Sobol indices assume independent inputs, and these are correlated; "
            "the rank correlations and contributions are the measures for correlated inputs",
            plan.source,
            "sobol",
        )
    run.percentiles = tuple(percentiles)
    point = evaluate(plan, overrides, plan.names[target_at])
    run.point_grads = {name: point.grad_of(name) for name in uncertain if plan.index[name] not in plan.fixed}
    if streamed:
        from .mc_stream import streamed as reduced

        if run.correlations or sobol or keep:
            raise RequestError(
                f"correlations, --sobol and --samples-out need the samples in memory: at most {MAX_SAMPLES:,} "
                "samples, in process",
                plan.source,
                "samples",
            )
        size = max(1, min(CHUNK_CELLS // max(plan.size, 1), 1_000_000))
        return reduced(plan, run, overrides, float(point.value), runner, size, progress)
    positions = {name: plan.index[name] for name in uncertain}
    differentiated = [name for name in uncertain if plan.index[name] not in plan.fixed]
    given = plan.given(overrides)
    value = np.empty(samples)
    drawn = {name: np.empty(samples) for name in uncertain}
    grads = {name: np.empty(samples) for name in differentiated}
    chunk = max(1, CHUNK_CELLS // max(plan.size, 1))
    with np.errstate(all="ignore"):
        for start in range(0, samples, chunk):  # every input's draws (a sample's: by its index alone)
            count = min(chunk, samples - start)
            u = uniforms(np, sampler, seed, len(uncertain), samples, start, count)
            for j, (name, d) in enumerate(uncertain.items()):
                drawn[name][start : start + count] = d.draw(np, u[:, j])
        if run.correlations:
            _correlate(np, run, drawn, seed)
        design = _SobolDesign(np, run, positions) if sobol else None
        done = 0
        try:
            for start in range(0, samples, chunk):
                count = min(chunk, samples - start)
                leaves = {positions[name]: drawn[name][start : start + count] for name in uncertain}
                values, first_bad, d_ = scenarios(np, plan, given, leaves, count, target_at)
                value[start : start + count] = values[target_at]
                for name in differentiated:
                    g = d_[positions[name]]
                    grads[name][start : start + count] = 0.0 if g is None else g
                for k in np.flatnonzero(first_bad >= 0):
                    run.failed[start + int(k)] = _reason(plan, values, int(first_bad[k]), int(k))
                if design is not None:
                    design.evaluate(np, given, (values, first_bad), start, count)
                done = start + count
                if progress is not None:
                    progress(done, samples)
        except KeyboardInterrupt:  # Ctrl-C: the figures of the samples done, said to be so
            if done < 2:
                raise
            run.interrupted, run.n = samples, done
            value, drawn = value[:done], {name: column[:done] for name, column in drawn.items()}
            grads = {name: column[:done] for name, column in grads.items()}
    run.value, run.drawn, run.grads = value, drawn, grads
    if design is not None and not run.interrupted:
        run.sobol = design.indices(np)
    return run


SOBOL_BOOTSTRAP = 200  # resamples for the indices' 95% intervals
SOBOL_BLOCK = 16_384  # samples weighed at once in the bootstrap (a block's weights: 200 × this)


class _SobolDesign:
    """First-order (Saltelli 2010) and total (Jansen 1999) Sobol indices of each uncertain input,
    with bootstrap 95% intervals, from N·(D+2) scenarios: A and B two independent designs, AB_i A
    with B's column i. S_i = mean((f(B) - m)·(f(AB_i) - f(A))) / V (m the mean of f over A and B:
    centring changes no expectation and narrows the interval), ST_i = mean((f(A) - f(AB_i))²) / (2V).

    With random numbers or a Latin hypercube, A is the run's own samples (already evaluated) and B
    a design of a seed of its own. Two Sobol sequences are not independent however they are
    scrambled (the indices come out near 2 where they are 1): with the Sobol sampler A and B are
    the two halves of one sequence of 2D dimensions, as Saltelli draws them, and A has a pass of
    its own. f(AB_i) starts from f(A)'s values: only the nodes made from input i are computed
    again, which a black box cannot do (where an input feeds a tenth of the model, its scenarios
    cost a tenth of a pass)."""

    def __init__(self, np, run: MonteCarlo, positions: dict):
        from ..core.sampling import second_seed, uniforms

        self.run, self.positions = run, positions
        names, n, d = list(run.dists), run.n, len(run.dists)
        self.a: dict | None = None  # A's draws, where they are not the run's own samples
        self.f_a = None
        if run.sampler == "sobol":
            u = uniforms(np, "sobol", run.seed, 2 * d, n, 0, n)
            self.a = {name: run.dists[name].draw(np, u[:, j]) for j, name in enumerate(names)}
            self.f_a = np.empty(n)
            u = u[:, d:]
        else:
            u = uniforms(np, run.sampler, second_seed(run.seed), d, n, 0, n)
        self.b = {name: run.dists[name].draw(np, u[:, j]) for j, name in enumerate(names)}
        self.f_b = np.empty(n)
        self.f_ab = {name: np.empty(n) for name in names}

    def evaluate(self, np, given: list, base: tuple, start: int, count: int) -> None:
        """f(B) and each f(AB_i) over samples start..start+count, from A's values and first_bad there
        (`base`: the run's pass, unless A has a pass of its own)."""
        from ..core.arrays import scenarios

        plan, at, span = self.run.plan, self.run.of, slice(start, start + count)

        def output(values, first_bad):
            return np.where(first_bad >= 0, np.nan, values[at])

        def scenarios_of(columns: dict, base=None):
            leaves = {self.positions[name]: column[span] for name, column in columns.items()}
            return scenarios(np, plan, given, leaves, count, at, gradients=False, base=base)[:2]

        if self.a is not None:
            base = scenarios_of(self.a)
            assert self.f_a is not None
            self.f_a[span] = output(*base)
        self.f_b[span] = output(*scenarios_of(self.b))
        for name, column in self.f_ab.items():
            column[span] = output(*scenarios_of({name: self.b[name]}, base))

    def indices(self, np) -> dict:
        """The indices and their intervals. Every estimator is a ratio of sums over the samples, so a
        resample needs only its weighted sums. Each resample weighs the samples with independent
        Exp(1) weights (Rubin's Bayesian bootstrap: a resample with replacement weighs them by counts
        of the same mean and variance, and gives intervals of the same width to first order, at 4
        times the cost to draw), and the sums of all the resamples are one matrix product per block
        of samples: no index over the whole sample, memory bounded by the block."""
        run = self.run
        if self.f_a is None:
            f_a = run.value.copy()
            f_a[list(run.failed)] = np.nan
        else:
            f_a = self.f_a
        ok = np.isfinite(f_a) & np.isfinite(self.f_b)
        for column in self.f_ab.values():
            ok &= np.isfinite(column)
        f_a, f_b = f_a[ok], self.f_b[ok]
        shift = (f_a.mean() + f_b.mean()) / 2 if ok.any() else 0.0  # sums of squares about the mean
        f_a, f_b = f_a - shift, f_b - shift
        columns = [np.ones_like(f_a), f_a, f_b, f_a * f_a, f_b * f_b]
        for column in self.f_ab.values():
            delta = column[ok] - shift - f_a
            columns += [delta, f_b * delta, delta * delta]
        q = np.stack(columns, axis=1)  # per sample, what each estimator sums
        rng = np.random.default_rng(run.seed)
        resampled = np.zeros((SOBOL_BOOTSTRAP, q.shape[1]))
        for lo in range(0, len(q), SOBOL_BLOCK):
            block = q[lo : lo + SOBOL_BLOCK]
            resampled += rng.standard_exponential((SOBOL_BOOTSTRAP, len(block))) @ block
        sums = np.vstack([q.sum(axis=0), resampled])  # row 0: the samples themselves; then each resample
        with np.errstate(all="ignore"):
            w, sa, sb, saa, sbb = sums[:, :5].T
            mean = (sa + sb) / (2 * w)
            variance = (saa + sbb - 2 * w * mean * mean) / (2 * w - 1)
            out = {}
            for i, name in enumerate(self.f_ab):
                s_delta, s_b_delta, s_delta2 = sums[:, 5 + 3 * i : 8 + 3 * i].T
                first = (s_b_delta - mean * s_delta) / w / variance
                total = s_delta2 / w / (2 * variance)
                out[name] = {
                    "first": _number(first[0]),
                    "first_ci": [_number(np.percentile(first[1:], 2.5)), _number(np.percentile(first[1:], 97.5))],
                    "total": _number(total[0]),
                    "total_ci": [_number(np.percentile(total[1:], 2.5)), _number(np.percentile(total[1:], 97.5))],
                }
        return {"scenarios": run.n * (len(self.f_ab) + 2), "without_a_value": int((~ok).sum()), "indices": out}


def _number(x) -> float:
    """A float, nan where the output did not vary (no variance to share out)."""
    return float(x) if math.isfinite(x) else math.nan


def _correlate(np, run: MonteCarlo, drawn: dict, seed: int) -> None:
    """The file's rank correlations imposed on the draws (Iman-Conover: each input keeps its values)."""
    from ..core.correlation import iman_conover, matrix
    from ..core.sampling import permutation

    names = list(dict.fromkeys(n for a, b, _ in run.correlations for n in (a, b)))
    orders = [permutation(np, run.n, seed, list(run.dists).index(name)) for name in names]
    columns = iman_conover(np, [drawn[name] for name in names], matrix(np, names, run.correlations), orders)
    for name, column in zip(names, columns):
        drawn[name] = column


# -- what the samples say --------------------------------------------------------------------


def too_large(run) -> CgraphError:
    return CgraphError(
        f"the samples of {run.of_name} are too large to add up: their sum or spread overflows a float "
        "(past 1.8e308); draw the inputs from narrower distributions, or scale the model's units",
        None,
        run.plan.source,
    )


def summary(run) -> dict:
    """The figures of the output, and of each uncertain input, as JSON gives them."""
    import numpy as np

    from .mc_stream import StreamRun, stream_summary

    if isinstance(run, StreamRun):
        try:
            return stream_summary(run)
        except OverflowError:
            raise too_large(run) from None

    assert run.value is not None
    ok = np.isfinite(run.value)
    if run.failed:
        ok[list(run.failed)] = False
    f = run.value[ok]
    valid = int(ok.sum())
    reasons: dict[str, int] = {}
    for why in run.failed.values():
        reasons[why] = reasons.get(why, 0) + 1
    out = counts(run.n, valid, reasons)
    if valid < 2:
        return out
    with np.errstate(all="ignore"):
        mean, sd = float(f.mean()), float(f.std(ddof=1))
    if not (math.isfinite(mean) and math.isfinite(sd)):
        raise too_large(run)
    out.update(
        mean=mean,
        standard_error=sd / math.sqrt(valid),
        sd=sd,
        min=float(f.min()),
        max=float(f.max()),
        percentiles={f"P{p:g}": float(v) for p, v in zip(run.percentiles, np.percentile(f, run.percentiles))},
    )
    if run.target is not None:
        out["p_below_target"] = float((f < run.target).mean())
    variance = sd * sd
    # gᵀ Σ g, g the gradient at the point values and Σ the inputs' covariance (their distributions'
    # variances; with correlations, as drawn)
    names = list(run.point_grads)
    g = np.array([float(run.point_grads[name]) for name in names])
    if run.correlations and len(names) > 1:
        sigma = np.atleast_2d(np.cov(np.vstack([run.drawn[name][ok] for name in names])))
    else:
        sigma = np.diag([run.dists[name].variance for name in names])
    delta_method(out, math.sqrt(max(float(g @ sigma @ g), 0.0)) if names else 0.0, sd)
    if not math.isfinite(out["delta_method_sd"]) or not all(np.isfinite(run.drawn[n][ok]).all() for n in run.dists):
        raise too_large(run)
    rank_f = _ranks(np, f)
    inputs = {}
    correlations = {}
    for name, d in run.dists.items():
        x = run.drawn[name][ok]
        correlations[name] = _correlation(np, _ranks(np, x), rank_f)
        entry: dict = {"distribution": d.text, "mean": float(x.mean()), "sd": float(x.std(ddof=1))}
        entry["spearman"] = math.nan  # (its place; contributions() sets it)
        if name in run.grads:
            g = run.grads[name][ok]
            entry["mean_gradient"] = float(g.mean())
            with np.errstate(all="ignore"):
                e = g * x / f
            e = e[np.isfinite(e)]
            entry["mean_elasticity"] = float(e.mean()) if e.size else None
            dgsm = float((g * g).mean()) * float(x.var(ddof=1))
            entry["dgsm"] = dgsm
            entry["dgsm_share"] = dgsm / variance if variance else None
            entry["gradient_at_point"] = run.point_grads[name]
        inputs[name] = entry
    contributions(inputs, correlations)
    out["inputs"] = inputs
    return out


def _ranks(np, x):
    """Average ranks (ties share theirs), 1-based."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    sorted_x = x[order]
    if len(x) > 1 and (sorted_x[1:] == sorted_x[:-1]).any():  # ties: each gets the mean of its ranks
        _, first, counts = np.unique(sorted_x, return_index=True, return_counts=True)
        mean_rank = first + (counts + 1) / 2
        ranks[order] = np.repeat(mean_rank, counts)
    return ranks


def _correlation(np, a, b) -> float:
    a, b = a - a.mean(), b - b.mean()
    scale = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / scale if scale else math.nan


def mc_record(run) -> dict:
    return {
        "graph": run.plan.name,
        "of": run.of_name,
        "sampler": run.sampler,
        "seed": run.seed,
        "target": run.target,
        "interrupted": run.interrupted is not None,
        "correlations": [list(c) for c in run.correlations],
        **summary(run),
        **({"sobol": run.sobol} if run.sobol is not None else {}),
    }


def mc_json(run, others: list | None = None) -> str:
    """`mc --json`: the first node's figures; the other --of nodes' under "also", by name."""
    record = mc_record(run)
    if others:
        record["also"] = {other.of_name: summary(other) for other in others}
    return to_json(record)


def mc_table(run, num: Format = format_number, color: bool = False) -> str:
    """The output's figures, a row of percentiles, then each uncertain input's sensitivities."""
    s = summary(run)
    plan = run.plan
    num = estimate_format(num)
    out = entry_format(num, plan.formats.get(run.of))
    lines = [
        f"{cell(plan.name)}: {cell(run.of_name)} over {run.n:,} samples ({run.sampler}, seed {run.seed})"
        + (f", interrupted (Ctrl-C) of {run.interrupted:,}" if run.interrupted else "")
        + (f"; {s['without_a_value']:,} without a value" if s["without_a_value"] else "")
    ]
    if "mean" not in s:
        lines.append("  too few samples with a value for any figure")
        return "\n".join(lines)
    lines.append(
        f"  mean {out(s['mean'])} ± {num(s['standard_error'])} (standard error), "
        f"sd {out(s['sd'])}, min {out(s['min'])}, max {out(s['max'])}"
        + (
            f", P({cell(run.of_name)} < {out(run.target)}) = {s['p_below_target']:.4g}"
            if run.target is not None
            else ""
        )
    )
    lines.append(
        f"  first-order (delta-method) sd from the gradients at the inputs' values: {out(s['delta_method_sd'])}"
        + (
            f"; it differs from the Monte Carlo sd by more than {NONLINEAR}×: the model is too nonlinear "
            "over these distributions for the linear rule"
            if s["nonlinear"]
            else ""
        )
    )
    if s["without_a_value"]:
        why = "; ".join(f"{n:,}: {cell(reason, 120)}" for reason, n in s["why_not"].items())
        lines.append(f"  the figures are of the {s['with_a_value']:,} samples with a value; without one: {why}")
    percentiles = Table()
    values = []
    for key, v in s["percentiles"].items():
        percentiles.column(key, "right")
        values.append(out(v))
    percentiles.rows.append(values)
    lines.append(percentiles.draw(None, color, all_rows=True))
    lines.extend(histogram_lines(run, num))
    table = Table()
    table.column("input", style="bold")
    table.column("distribution")
    table.column("mean gradient", "right", "red")
    table.column("mean elasticity", "right")
    table.column("DGSM share", "right")
    table.column("rank correlation", "right")
    table.column("contribution", "right", "green")
    table.column("░ moves it down, █ up", give="drop")
    for name, entry in sorted(s["inputs"].items(), key=lambda item: -item[1]["contribution"]):
        table.rows.append(
            [
                cell(name),
                cell(entry["distribution"], 40),
                num(entry["mean_gradient"]) if "mean_gradient" in entry else "constant",
                num(entry["mean_elasticity"]) if entry.get("mean_elasticity") is not None else "",
                f"{entry['dgsm_share']:.3g}" if entry.get("dgsm_share") is not None else "",
                f"{entry['spearman']:.3f}",
                f"{100 * entry['contribution']:.1f}%",
                _contribution_bar(entry),
            ]
        )
    lines.append(table.draw(None, color, all_rows=True))
    if run.sobol is not None:
        indices = Table()
        for title in ("input", "Sobol first-order", "95% interval", "total", "95% interval"):
            indices.column(title, "left" if title == "input" else "right")
        for name, ix in sorted(run.sobol["indices"].items(), key=lambda item: -item[1]["total"]):
            indices.rows.append(
                [
                    cell(name),
                    f"{ix['first']:.3f}",
                    f"[{ix['first_ci'][0]:.3f}, {ix['first_ci'][1]:.3f}]",
                    f"{ix['total']:.3f}",
                    f"[{ix['total_ci'][0]:.3f}, {ix['total_ci'][1]:.3f}]",
                ]
            )
        lines.append(
            indices.draw(
                f"Sobol indices (Saltelli first-order, Jansen total; {run.sobol['scenarios']:,} scenarios, "
                f"bootstrap of {SOBOL_BOOTSTRAP})",
                color,
                all_rows=True,
            )
        )
    return "\n".join(lines)


CONTRIBUTION_BAR = 30


def _contribution_bar(entry: dict) -> str:
    """A tornado's bar for an input: as long as its contribution, █ where the output rises with it
    (positive rank correlation), ░ where it falls, as `cgraph tornado` draws them."""
    rho = entry["spearman"]
    if rho != rho:
        return ""
    return ("█" if rho >= 0 else "░") * round(CONTRIBUTION_BAR * entry["contribution"])


def parse_dist_option(spec: str, source: str | None):
    """--dist NAME=SPEC as (name, Distribution)."""
    from ..core.distributions import DistributionError, parse_distribution
    from ..read.syntax import parse_number

    name, eq, text = spec.partition("=")
    if not eq or not name.strip():
        raise RequestError(f"'{shorten(spec)}' is not NAME=SPEC (price=\"normal(10, 1)\")", source, "dist")
    try:
        return name.strip(), parse_distribution(text, parse_number)
    except DistributionError as e:
        raise RequestError(f"{name.strip()}: {e}", source, "dist") from None


def samples_records(run: MonteCarlo) -> tuple[list[str], list]:
    """The raw samples, for --samples-out: a header and columns (sample index, each input drawn, the
    output, each gradient), so every figure can be checked."""
    import numpy as np

    of = run.of_name
    header = ["sample", *run.dists, of, *(f"d({of})/d({name})" for name in run.grads)]
    columns = [np.arange(run.n), *run.drawn.values(), run.value, *run.grads.values()]
    return header, columns


def samples_csv(run: MonteCarlo) -> bytes:
    header, columns = samples_records(run)
    import numpy as np

    from ..show.formats import csv_text

    rows = [header + (["error"] if run.failed else [])]
    lists = [c.tolist() for c in columns]
    for k in range(run.n):
        row = [lists[0][k], *(x if np.isfinite(x) else "" for x in (c[k] for c in lists[1:]))]
        rows.append(row + ([run.failed.get(k, "")] if run.failed else []))
    return csv_text(rows).encode("utf-8")


def samples_npy(run: MonteCarlo) -> bytes:
    """The samples as a numpy structured array, its fields named as the CSV's columns."""
    import io

    import numpy as np

    header, columns = samples_records(run)
    table = np.empty(run.n, dtype=[(name, "i8" if k == 0 else "f8") for k, name in enumerate(header)])
    for name, column in zip(header, columns):
        table[name] = column
    out = io.BytesIO()
    np.save(out, table, allow_pickle=False)
    return out.getvalue()


HISTOGRAM_BINS = 20
HISTOGRAM_WIDTH = 40


def histogram_lines(run, num: Format) -> list[str]:
    """The output's distribution as bars of █ in the terminal, one per bin (the target's bin marked)."""
    import numpy as np

    counts, edges = histogram(np, run, HISTOGRAM_BINS)
    if counts is None:
        return []
    most = counts.max()
    texts = [num(float(e)) for e in edges]
    width = max(map(len, texts))
    lines = []
    for k, count in enumerate(counts.tolist()):
        bar = "█" * round(HISTOGRAM_WIDTH * count / most) if most else ""
        mark = ""
        if run.target is not None and edges[k] <= run.target < edges[k + 1]:
            mark = f"  ← {num(run.target)}"
        lines.append(f"  {texts[k]:>{width}} to {texts[k + 1]:>{width}}  {bar} {count:,}{mark}")
    return lines


def histogram(np, run, bins: int):
    """The output's histogram (counts, edges) in `bins` equal bins from its least to its largest value
    (a run reduced as it went: its fine bins regrouped by their centres); (None, None) for no spread."""
    from .mc_stream import BINS, StreamRun

    if not isinstance(run, StreamRun):
        f = run.value[np.isfinite(run.value)]
        if f.size < 2 or f.min() == f.max():
            return None, None
        return np.histogram(f, bins=bins)
    t = run.totals
    if t["valid"] < 2 or t["min"] == t["max"]:
        return None, None
    edges = np.linspace(t["min"], t["max"], bins + 1)
    lo, hi = run.edges
    centres = lo + (hi - lo) / BINS * (np.arange(BINS) + 0.5)
    at = np.clip(np.searchsorted(edges, centres, side="right") - 1, 0, bins - 1)
    counts = np.bincount(at, weights=t["histogram"], minlength=bins).astype(np.int64)
    outside = np.asarray(t["outside"], dtype=float)
    if outside.size:
        counts += np.bincount(np.clip(np.searchsorted(edges, outside, side="right") - 1, 0, bins - 1), minlength=bins)
    return counts, edges


def mc_plot(run, fmt: str) -> bytes:
    """The output's histogram with its mean, P5 and P95 (and the target), as SVG or PNG (matplotlib)."""
    import numpy as np

    from ..show.numbers import described
    from ..show.plot import picture, pyplot

    plt = pyplot()
    s = summary(run)
    figure, axes = plt.subplots(figsize=(7, 3.8))
    counts, edges = histogram(np, run, 50)
    if counts is not None:
        axes.stairs(counts, edges, fill=True, color="#1f77b4", alpha=0.8)
    if "mean" in s:
        for x, style, name in (
            (s["mean"], "-", "mean"),
            (s["percentiles"].get("P5"), "--", "P5"),
            (s["percentiles"].get("P95"), "--", "P95"),
            (run.target, ":", "target"),
        ):
            if x is not None:
                axes.axvline(x, color="black", linestyle=style, linewidth=1, label=f"{name} {x:.6g}")
        axes.legend(fontsize="small")
    axes.set_xlabel(described(run.plan, run.of) or run.of_name)
    axes.set_ylabel("samples")
    axes.set_title(f"{run.plan.name}: {run.of_name} over {run.n:,} samples ({run.sampler})")
    return picture(plt, figure, fmt)
