"""Monte Carlo in bounded memory, in process or on a Dask cluster: each chunk of samples is reduced
where it is evaluated, and only the reductions come back.

A chunk's reductions are exact: sums of floats are kept as integers (each float is m·2^e, and
their sum an integer multiple of 2^-1127), counts are counts, a histogram is counts in fixed bins.
Adding two chunks' reductions is integer addition, so the figures are the same bit for bit however
the samples are cut into chunks and whichever worker reduces which: a sample's numbers depend only
on the seed and its index (core/sampling.py).

Two passes over the samples (each sample is drawn and evaluated again in the second: nothing is
kept): the first gives the moments, the gradients' sums, extremes and a histogram of the output
(2^16 bins over the range of the first 65,536 samples, widened by a quarter on each side; a value
outside is kept exactly); the second gives the rank correlations, each input's rank being the
uniform number it was drawn from (its stratum, for a Latin hypercube) and the output's its place in
the first pass's histogram. Percentiles are read from the histogram, to within a bin's width.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .mc_figures import MonteCarlo, contributions, counts, delta_method
from .remote import Interrupted, graph_text, in_process, plan_of

PILOT = 65_536  # the first samples, whose range sets the histogram's
BINS = 1 << 16
SCALE = 1127  # an exact sum is an integer multiple of 2^-SCALE (the smallest float is 2^-1074 = m 2^-1127)
MAX_OUTSIDE = 1_000_000  # values outside the histogram kept exactly, at most


def exact_sum(np, x) -> int:
    """The exact sum of the finite floats x, as an integer multiple of 2^-SCALE."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return 0
    mantissa, exponent = np.frexp(x)
    m = (mantissa * 2.0**53).astype(np.int64)  # exact: |m| < 2^53
    hi = m >> np.int64(26)
    lo = m - (hi << np.int64(26))  # in [0, 2^26)
    total = 0
    for e in np.unique(exponent).tolist():  # float sums of these halves stay below 2^53: exact
        at = exponent == e
        part = (int(hi[at].sum()) << 26) + int(lo[at].sum())
        total += part << (e - 53 + SCALE) if e - 53 + SCALE >= 0 else part >> -(e - 53 + SCALE)
    return total


def exact_value(total: int, divide_by: int = 1) -> float:
    """An exact sum (over `divide_by`), rounded once to a float."""
    return float(Fraction(total, divide_by << SCALE)) if divide_by else math.nan


# -- one chunk, on any machine ----------------------------------------------------------------


def chunk(job: dict, start: int, count: int) -> dict:
    """The reductions of samples start..start+count: `job` says what (see Stream.job), and pass 1 or 2."""
    import numpy as np

    from ..core.arrays import scenarios
    from ..core.distributions import parse_distribution
    from ..core.sampling import uniforms
    from ..read.syntax import parse_number

    plan = plan_of(job["graph"])
    names = list(job["dists"])
    dists = [parse_distribution(text, parse_number) for text in job["dists"].values()]
    target = plan.index[job["of"]]
    given = plan.given(job["overrides"])
    u = uniforms(np, job["sampler"], job["seed"], len(names), job["n"], start, count)
    with np.errstate(all="ignore"):
        drawn = [d.draw(np, u[:, j]) for j, d in enumerate(dists)]
        values, first_bad, grads = scenarios(
            np, plan, given, {plan.index[name]: column for name, column in zip(names, drawn)}, count, target
        )
    f = np.asarray(values[target], dtype=float)
    ok = (first_bad < 0) & np.isfinite(f)
    out: dict = {"count": count, "valid": int(ok.sum())}
    if job["pass"] == 0:  # the pilot: the range
        return {
            **out,
            "min": float(f[ok].min()) if ok.any() else math.inf,
            "max": float(f[ok].max()) if ok.any() else -math.inf,
        }
    fv = f[ok]
    if job["pass"] == 1:
        reasons: dict[str, int] = {}
        if not ok.all():
            from .sweep import _reason

            for k in np.flatnonzero(~ok)[:1000].tolist():  # (why, for the first few of each chunk)
                at = int(first_bad[k]) if first_bad[k] >= 0 else target
                why = _reason(plan, values, at, k)
                reasons[why] = reasons.get(why, 0) + 1
        lo, hi = job["edges"]
        width = (hi - lo) / BINS
        bins = np.floor((fv - lo) / width)
        inside = (bins >= 0) & (bins < BINS)
        shifted = fv - job["shift"]
        out.update(
            failed_reasons=reasons,
            s1=exact_sum(np, shifted),
            s2=exact_sum(np, shifted * shifted),
            min=float(fv.min()) if fv.size else math.inf,
            max=float(fv.max()) if fv.size else -math.inf,
            histogram=np.bincount(bins[inside].astype(np.int64), minlength=BINS),
            outside=sorted(fv[~inside].tolist())[:MAX_OUTSIDE],
            below_target=int((fv < job["target"]).sum()) if job["target"] is not None else 0,
            inputs={},
        )
        for name, x in zip(names, drawn):
            xv = x[ok]
            entry = {"sx": exact_sum(np, xv), "sxx": exact_sum(np, xv * xv)}
            g = grads[plan.index[name]]
            if name in job["differentiated"] and g is not None:
                gv = np.broadcast_to(g, (count,))[ok]
                with np.errstate(all="ignore"):
                    e = gv * xv / fv
                fine = np.isfinite(e)
                entry.update(
                    sg=exact_sum(np, gv), sgg=exact_sum(np, gv * gv), se=exact_sum(np, e[fine]), ne=int(fine.sum())
                )
            out["inputs"][name] = entry
        return out
    # pass 2: the ranks (each in (0, 1)): an input's is its uniform number, the output's its place
    cumulative, total = job["cdf"], job["valid"]
    lo, hi = job["edges"]
    width = (hi - lo) / BINS
    bins = np.clip(np.floor((fv - lo) / width), -1, BINS).astype(np.int64)
    r_f = np.asarray(cumulative, dtype=float)[bins + 1] / total  # (mid-bin: see Stream.cdf)
    out.update(sf=exact_sum(np, r_f), sff=exact_sum(np, r_f * r_f), inputs={})
    for j, name in enumerate(names):
        r_x = u[ok, j]
        out["inputs"][name] = {
            "sr": exact_sum(np, r_x),
            "srr": exact_sum(np, r_x * r_x),
            "srf": exact_sum(np, r_x * r_f),
        }
    return out


def combine(parts: list[dict]) -> dict:
    """Reductions added up: exact sums and counts, histograms, extremes, the outside values; "inputs"
    holds each input's sums, and "failed_reasons" counts by reason."""
    total: dict = {}
    for part in parts:
        for key, value in part.items():
            if key not in total:
                total[key] = (
                    {k: dict(v) for k, v in value.items()}
                    if key == "inputs"
                    else (dict(value) if key == "failed_reasons" else value)
                )
            elif key == "min":
                total[key] = min(total[key], value)
            elif key == "max":
                total[key] = max(total[key], value)
            elif key == "outside":
                total[key] = sorted(total[key] + value)[:MAX_OUTSIDE]
            elif key == "failed_reasons":
                for why, n in value.items():
                    total[key][why] = total[key].get(why, 0) + n
            elif key == "inputs":
                for name, sums in value.items():
                    mine = total[key][name]
                    for k, v in sums.items():
                        mine[k] = mine.get(k, 0) + v
            else:  # counts, exact sums (ints), histograms (arrays of counts)
                total[key] = total[key] + value
    return total


def _fold(a: dict, b: dict) -> dict:
    return combine([a, b])


# -- the run: passes of chunks, in process or on Dask ------------------------------------------


class StreamRun(MonteCarlo):
    """A Monte Carlo run reduced as it went: the run's settings, and instead of its samples their
    reductions (totals, the rank sums of the second pass, the histogram's edges)."""

    def __init__(self, run, totals: dict, ranks: dict | None, edges: tuple):
        super().__init__(run.plan, run.of, run.n, run.seed, run.sampler, run.dists, run.target)
        self.percentiles, self.point_grads, self.workers = run.percentiles, run.point_grads, run.workers
        self.totals, self.ranks, self.edges = totals, ranks, edges

    def percentile(self, p: float) -> float:
        """The p-th percentile (numpy's linear rule), read from the histogram: within a bin's width."""
        t = self.totals
        valid = t["valid"]
        outside = t["outside"]
        lo, hi = self.edges
        width = (hi - lo) / BINS
        below = [v for v in outside if v < lo]
        above = [v for v in outside if v >= lo]
        counts = t["histogram"]

        def at(k: int) -> float:
            if k < len(below):
                return below[k]
            k -= len(below)
            if k >= int(counts.sum()):
                return above[k - int(counts.sum())]
            import numpy as np

            cumulative = np.cumsum(counts)
            b = int(np.searchsorted(cumulative, k, side="right"))
            before = int(cumulative[b - 1]) if b else 0
            return float(lo + width * (b + (k - before + 0.5) / int(counts[b])))

        r = p / 100 * (valid - 1)
        k = int(math.floor(r))
        low = at(k)
        return low if k + 1 >= valid else low + (at(k + 1) - low) * (r - k)


def stream_summary(run: StreamRun) -> dict:
    """The figures, as summary() gives them for a run kept in memory."""
    t = run.totals
    valid = t["valid"]
    out = counts(run.n, valid, t.get("failed_reasons") or {})
    if valid < 2:
        return out
    shift = Fraction(run.totals["shift"])
    s1, s2 = Fraction(t["s1"], 1 << SCALE), Fraction(t["s2"], 1 << SCALE)
    mean = shift + s1 / valid
    variance = (s2 - s1 * s1 / valid) / (valid - 1)
    sd = math.sqrt(float(variance))
    out.update(
        mean=float(mean),
        standard_error=sd / math.sqrt(valid),
        sd=sd,
        min=t["min"],
        max=t["max"],
        percentiles={f"P{p:g}": float(run.percentile(p)) for p in run.percentiles},
        percentile_precision=(run.edges[1] - run.edges[0]) / BINS,
    )
    if run.target is not None:
        out["p_below_target"] = t["below_target"] / valid
    delta = math.fsum(float(g) * float(g) * run.dists[name].variance for name, g in run.point_grads.items())
    delta_method(out, math.sqrt(delta), sd)
    inputs: dict = {}
    rho_of: dict = {}
    for name, d in run.dists.items():
        e = t["inputs"][name]
        sx, sxx = Fraction(e["sx"], 1 << SCALE), Fraction(e["sxx"], 1 << SCALE)
        var_x = float((sxx - sx * sx / valid) / (valid - 1))
        entry: dict = {"distribution": d.text, "mean": float(sx / valid), "sd": math.sqrt(max(var_x, 0.0))}
        entry["spearman"] = math.nan  # (its place; contributions() sets it)
        if run.ranks is not None:
            r = run.ranks["inputs"][name]
            sr, srr, srf = (Fraction(r[k], 1 << SCALE) for k in ("sr", "srr", "srf"))
            sf, sff = Fraction(run.ranks["sf"], 1 << SCALE), Fraction(run.ranks["sff"], 1 << SCALE)
            cov = srf - sr * sf / valid
            scale = (srr - sr * sr / valid) * (sff - sf * sf / valid)
            rho_of[name] = float(cov) / math.sqrt(float(scale)) if scale > 0 else math.nan
        if "sg" in e:
            sg, sgg = Fraction(e["sg"], 1 << SCALE), Fraction(e["sgg"], 1 << SCALE)
            entry["mean_gradient"] = float(sg / valid)
            entry["mean_elasticity"] = float(Fraction(e["se"], 1 << SCALE) / e["ne"]) if e["ne"] else None
            dgsm = float(sgg / valid) * var_x
            entry["dgsm"] = dgsm
            entry["dgsm_share"] = dgsm / float(variance) if variance else None
            entry["gradient_at_point"] = run.point_grads[name]
        inputs[name] = entry
    contributions(inputs, rho_of)
    out["inputs"] = inputs
    return out


def streamed(plan, run, overrides: dict, shift: float, runner, size: int, progress=None) -> StreamRun:
    """Run's samples reduced in chunks of `size` by `runner` (in_process, or on_dask's): the pilot's
    range, then the two passes."""
    n = run.n
    run_chunks = runner or in_process
    job = {
        "graph": graph_text(plan),
        "dists": {name: d.text for name, d in run.dists.items()},
        "of": run.of_name,
        "overrides": overrides,
        "sampler": run.sampler,
        "seed": run.seed,
        "n": n,
        "target": run.target,
        "differentiated": [name for name in run.dists if plan.index[name] not in plan.fixed],
        "shift": shift,
    }
    spans = [(start, min(size, n - start)) for start in range(0, n, size)]
    pilot = [(start, min(size, min(n, PILOT) - start)) for start in range(0, min(n, PILOT), size)]
    first = combine(run_chunks(chunk, {**job, "pass": 0}, pilot, None, _fold))
    lo, hi = first["min"], first["max"]
    if not lo <= hi:
        lo = hi = shift
    pad = (hi - lo) / 4 or max(abs(lo), 1.0) * 1e-6
    edges = (lo - pad, hi + pad)
    interrupted = None
    try:
        totals = combine(run_chunks(chunk, {**job, "pass": 1, "edges": edges}, spans, progress, _fold))
    except Interrupted as stop:  # Ctrl-C: the figures of the chunks done (their ranks too, if let)
        if not stop.parts:
            raise KeyboardInterrupt from None
        totals, spans, interrupted = stop.parts[0], stop.spans, n
    totals["shift"] = shift
    import numpy as np

    counts = totals["histogram"]
    below = sum(1 for v in totals["outside"] if v < edges[0])
    above = len(totals["outside"]) - below
    cdf = np.empty(BINS + 2)
    cdf[0] = below / 2
    cdf[1:-1] = below + np.cumsum(counts) - counts / 2
    cdf[-1] = totals["valid"] - above / 2
    ranks = None
    if totals["valid"] >= 2:
        try:
            ranks = combine(
                run_chunks(
                    chunk, {**job, "pass": 2, "edges": edges, "cdf": cdf, "valid": totals["valid"]}, spans, None, _fold
                )
            )
        except Interrupted:  # Ctrl-C in the second pass: the figures, without the rank correlations
            interrupted = n
    out = StreamRun(run, totals, ranks, edges)
    if interrupted is not None:
        out.interrupted, out.n = interrupted, sum(count for _, count in spans)
    return out
