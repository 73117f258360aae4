"""Monte Carlo (issue 18, in process): distributions against scipy.stats, samplers that do not depend
on how a run is cut into chunks, and figures against closed forms of linear models."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

import cgraph_cli as cg
from cgraph_cli.core.distributions import DistributionError, parse_distribution
from cgraph_cli.core.errors import GraphError
from cgraph_cli.core.sampling import uniforms
from cgraph_cli.read.loader import load_text
from cgraph_cli.read.syntax import parse_number

from .conftest import ctrl_c_on_call

U = np.array([1e-9, 0.001, 0.05, 0.25, 0.5, 0.75, 0.95, 0.999, 1 - 1e-9])


def dist(text: str):
    return parse_distribution(text, parse_number)


@pytest.mark.parametrize(
    "text, oracle",
    [
        ("normal(10, 2)", stats.norm(10, 2)),
        ("lognormal(median=10, factor=2)", stats.lognorm(s=math.log(2) / stats.norm.ppf(0.95), scale=10)),
        ("uniform(1, 3)", stats.uniform(1, 2)),
        ("triangular(1, 2, 4)", stats.triang(c=1 / 3, loc=1, scale=3)),
        ("pert(1, 2, 4)", stats.beta(1 + 4 * 1 / 3, 1 + 4 * 2 / 3, loc=1, scale=3)),
        ("normal(2.5%, 0.5%)", stats.norm(0.025, 0.005)),
    ],
)
def test_each_distribution_is_drawn_by_its_inverse_cdf(text, oracle):
    got = dist(text).draw(np, U)
    assert np.allclose(got, oracle.ppf(U), rtol=1e-12, atol=1e-12)
    d = dist(text)
    assert math.isclose(d.mean, oracle.mean(), rel_tol=1e-12) and math.isclose(d.variance, oracle.var(), rel_tol=1e-9)


def test_a_lognormal_by_mean_and_sd_has_that_mean_and_sd():
    d = dist("lognormal(10, 2)")
    assert math.isclose(d.mean, 10, rel_tol=1e-14) and math.isclose(d.variance, 4, rel_tol=1e-12)
    x = d.draw(np, uniforms(np, "lhs", 1, 1, 200_000, 0, 200_000)[:, 0])
    assert abs(x.mean() - 10) < 0.01 and abs(x.std() - 2) < 0.01


@pytest.mark.parametrize(
    "text, kind, p5, p95",
    [("90% 80 to 120", "lognormal", 80, 120), ("-5 to 5", "normal", -5, 5), ("50% 1 to 3", "lognormal", None, None)],
)
def test_an_interval_puts_its_ends_at_the_percentiles(text, kind, p5, p95):
    d = dist(text)
    assert d.kind == kind
    ends = d.draw(np, np.array([0.05, 0.95])) if p5 is not None else d.draw(np, np.array([0.25, 0.75]))
    assert np.allclose(ends, [p5, p95] if p5 is not None else [1, 3], rtol=1e-12, atol=0)


def test_discrete_draws_its_values_with_their_weights():
    d = dist("discrete(1: 0.2, 2: 0.5, 3: 0.3)")
    assert list(d.draw(np, np.array([0.1, 0.19999, 0.2, 0.69, 0.7, 0.99]))) == [1, 1, 2, 2, 3, 3]
    assert math.isclose(d.mean, 2.1) and math.isclose(d.variance, 0.49)


@pytest.mark.parametrize(
    "text, words",
    [
        ("normal(10, -1)", "the sd is -1.0; it must be at least 0"),
        ("uniform(3, 1)", "lo 3.0 is above hi 1.0"),
        ("triangular(1, 5, 4)", "the mode 5.0 is outside [1.0, 4.0]"),
        ("pert(1, 0, 4)", "the mode 0.0 is outside"),
        ("lognormal(-1, 1)", "a lognormal's mean must be above 0"),
        ("lognormal(median=10, factor=0.5)", "the factor above 1"),
        ("discrete(1: -1, 2: 2)", "the weights must be at least 0"),
        ("normal(10)", "normal takes 2 numbers, not 1"),
        ("gauss(0, 1)", "unknown distribution 'gauss'"),
        ("nromal(0, 1)", "did you mean 'normal'?"),
        ("120 to 80", "120.0 must be below 80.0"),
        ("150% 1 to 2", "the level must be between 0% and 100%"),
        ("normal(a, 1)", "'a' is not a number"),
        ("normal 1 2", "is not a distribution"),
    ],
)
def test_a_bad_distribution_says_what_is_wrong(text, words):
    with pytest.raises(DistributionError) as caught:
        dist(text)
    assert words in str(caught.value)


def test_a_bad_distribution_in_a_file_is_located():
    text = 'inputs:\n  x: {value: 1, dist: "normal(1, -2)"}\nnodes: {y: x * 2}\n'
    with pytest.raises(GraphError) as caught:
        load_text(text, "f.yaml")
    assert "input 'x': 'normal(1, -2)': the sd is -2.0" in str(caught.value)
    assert (caught.value.loc.line, caught.value.loc.col) == (2, 23)
    with pytest.raises(GraphError) as caught:
        load_text('inputs: {x: 1}\nnodes:\n  y: {op: mul, inputs: [x, 2], dist: "normal(1, 1)"}\n', "f.yaml")
    assert "a distribution goes on an input or constant" in str(caught.value) and caught.value.loc.line == 3


@pytest.mark.parametrize("sampler", ["lhs", "random", "sobol"])
@pytest.mark.parametrize("chunk", [1, 7, 100, 999])
def test_a_sample_s_numbers_do_not_depend_on_the_chunks(sampler, chunk):
    n = 1000
    whole = uniforms(np, sampler, 42, 3, n, 0, n)
    parts = np.vstack([uniforms(np, sampler, 42, 3, n, k, min(chunk, n - k)) for k in range(0, n, chunk)])
    assert (whole == parts).all() and (whole > 0).all() and (whole < 1).all()


def test_latin_hypercube_hits_each_stratum_once_in_each_dimension():
    for n in (1, 2, 3, 10, 1000, 4097):
        u = uniforms(np, "lhs", 5, 4, n, 0, n)
        for j in range(4):
            assert sorted((u[:, j] * n).astype(int).tolist()) == list(range(n))


def test_other_seeds_give_other_numbers_and_random_ones_look_uniform():
    a, b = uniforms(np, "random", 1, 2, 10_000, 0, 10_000), uniforms(np, "random", 2, 2, 10_000, 0, 10_000)
    assert not (a == b).any()
    assert stats.kstest(a[:, 0], "uniform").pvalue > 1e-4 and stats.kstest(b[:, 1], "uniform").pvalue > 1e-4
    assert abs(np.corrcoef(a[:, 0], a[:, 1])[0, 1]) < 0.05


LINEAR = """\
inputs:
  x: {value: 10, dist: "normal(10, 2)"}
  y: {value: 5, dist: "normal(5, 1)"}
  z: 3
nodes:
  f: 3 * x - 4 * y + z
"""


def test_a_linear_model_s_figures_are_its_closed_forms(invoke, graph_file):
    out = json.loads(invoke("mc", graph_file(LINEAR), "--samples", "20000", "--target", "10", "--json").stdout)
    mean, sd = 3 * 10 - 4 * 5 + 3, math.sqrt(9 * 4 + 16 * 1)  # 13, sqrt(52)
    assert abs(out["mean"] - mean) < 4 * out["standard_error"] and abs(out["sd"] - sd) < 0.02 * sd
    assert math.isclose(out["delta_method_sd"], sd, rel_tol=1e-12) and out["nonlinear"] is False
    assert abs(out["p_below_target"] - stats.norm(mean, sd).cdf(10)) < 0.01
    assert abs(out["percentiles"]["P50"] - mean) < 0.05 and abs(out["percentiles"]["P95"] - (mean + 1.6449 * sd)) < 0.1
    x, y = out["inputs"]["x"], out["inputs"]["y"]
    assert x["mean_gradient"] == 3 and y["mean_gradient"] == -4  # exact, in every sample
    assert abs(x["dgsm_share"] - 36 / 52) < 0.02 and abs(y["dgsm_share"] - 16 / 52) < 0.02
    assert abs(x["spearman"] - 6 / sd) < 0.02 and abs(y["spearman"] + 4 / sd) < 0.02
    assert x["contribution"] > y["contribution"] and math.isclose(x["contribution"] + y["contribution"], 1)


def test_the_figures_do_not_depend_on_the_chunks(invoke, graph_file, monkeypatch):
    from cgraph_cli.commands import mc

    path = graph_file(LINEAR)
    whole = invoke("mc", path, "--samples", "3000", "--seed", "9", "--json").stdout
    monkeypatch.setattr(mc, "CHUNK_CELLS", 7 * 7)  # 7 samples a chunk of this graph of 7 nodes
    assert invoke("mc", path, "--samples", "3000", "--seed", "9", "--json").stdout == whole
    assert invoke("mc", path, "--samples", "3000", "--seed", "8", "--json").stdout != whole


def test_samples_without_a_value_are_counted_and_named(invoke, graph_file):
    path = graph_file('inputs:\n  x: {value: 1, dist: "normal(1, 1)"}\nnodes:\n  y: log(x)\n')
    out = json.loads(invoke("mc", path, "--samples", "10000", "--json").stdout)
    assert 1400 < out["without_a_value"] < 1800  # P(x <= 0) = Φ(-1) = 0.1587
    assert out["with_a_value"] + out["without_a_value"] == 10000
    assert any("log" in why for why in out["why_not"])
    table = invoke("mc", path, "--samples", "10000").stdout
    assert "the figures are of the" in table and "without a value" in table


def test_dist_on_the_command_line_and_what_it_refuses(invoke, graph_file):
    path = graph_file("inputs: {a: 1, b: 2}\nnodes:\n  c: a * b\n")
    out = json.loads(invoke("mc", path, "--dist", "a=uniform(0, 2)", "--samples", "4000", "--json").stdout)
    assert abs(out["mean"] - 2) < 0.05 and out["inputs"]["a"]["mean_gradient"] == 2
    bad = invoke("mc", path, "--dist", "c=uniform(0, 2)")
    assert bad.exit_code == 2 and "--dist: 'c' is a node" in bad.stderr
    bad = invoke("mc", path, "--dist", "aa=uniform(0, 2)")
    assert bad.exit_code == 2 and "did you mean 'a'" in bad.stderr
    bad = invoke("mc", path, "--dist", "a=uniform(2, 0)")
    assert bad.exit_code == 2 and "lo 2.0 is above hi 0.0" in bad.stderr
    none = invoke("mc", path)
    assert none.exit_code == 2 and "no input has a distribution" in none.stderr


CORRELATED = """\
inputs:
  a: {value: 1, dist: "normal(1, 1)"}
  b: {value: 2, dist: "uniform(0, 4)"}
  c: {value: 3, dist: "triangular(1, 3, 4)"}
correlations:
  - [a, b, 0.7]
  - [a, c, -0.3]
nodes:
  f: a + b + c
"""


def test_rank_correlations_are_imposed_and_each_input_keeps_its_values():
    from cgraph_cli.commands.mc import monte_carlo

    correlated = monte_carlo(load_text(CORRELATED), 20_000)
    free = monte_carlo(load_text(CORRELATED.split("correlations:")[0] + "nodes:\n  f: a + b + c\n"), 20_000)
    rho = stats.spearmanr(np.column_stack([correlated.drawn[n] for n in "abc"])).correlation
    assert abs(rho[0, 1] - 0.7) < 0.02 and abs(rho[0, 2] + 0.3) < 0.02 and abs(rho[1, 2]) < 0.03
    for name in "abc":  # Iman-Conover reorders the draws, it does not change them
        assert (np.sort(correlated.drawn[name]) == np.sort(free.drawn[name])).all()
    # Var(a + b + c) grows by 2 cov(a, b) and shrinks by 2 |cov(a, c)|: the sd moves accordingly
    assert np.std(correlated.value) > np.std(free.value)


@pytest.mark.parametrize(
    "entry, words, line",
    [
        ("  - [a, b, 1.2]", "the correlation 1.2 is outside [-1, 1]", 6),
        ("  - [a, bb, 0.5]", "correlations: no input 'bb'; did you mean 'b'?", 6),
        ("  - [a, a, 0.5]", "'a' is correlated with itself", 6),
        ("  - [a, b, 0.5]\n  - [b, a, 0.2]", "b and a are correlated twice (first at line 6)", 7),
        ("  - [a, b]", "a correlation is [A, B, RHO]", 6),
        ("  - [a, f, 0.5]", "'f' has no distribution", 6),
        (
            "  - [a, b, 0.9]\n  - [a, c, 0.9]\n  - [b, c, -0.9]",
            "is not positive semi-definite (its smallest eigenvalue is -0.8)",
            6,
        ),
    ],
)
def test_a_bad_correlation_is_a_located_error(entry, words, line):
    text = CORRELATED.split("correlations:")[0] + "correlations:\n" + entry + "\nnodes:\n  f: a + b + c\n"
    with pytest.raises(GraphError) as caught:
        load_text(text, "f.yaml")
    assert words in str(caught.value) and caught.value.loc.line == line, str(caught.value)


def test_distributions_and_correlations_are_written_back():
    from cgraph_cli.show.formats import graph_yaml

    plan = load_text(CORRELATED)
    again = load_text(graph_yaml(plan.to_draft({"a": 5}), []))
    assert [d.text for d in again.dists.values()] == ["normal(1, 1)", "uniform(0, 4)", "triangular(1, 3, 4)"]
    assert again.correlations == [("a", "b", 0.7), ("a", "c", -0.3)] and again.values[0] == 5


def test_samples_out_holds_every_sample_and_they_give_the_figures(invoke, graph_file, tmp_path):
    path = graph_file(LINEAR)
    target = tmp_path / "s.csv"
    out = json.loads(invoke("mc", path, "--samples", "500", "--samples-out", str(target), "--json").stdout)
    rows = target.read_text().splitlines()
    assert rows[0] == "sample,x,y,f,d(f)/d(x),d(f)/d(y)" and len(rows) == 501
    table = np.array([[float(v) for v in row.split(",")] for row in rows[1:]])
    assert (table[:, 4] == 3).all() and (table[:, 5] == -4).all()
    assert np.allclose(table[:, 3], 3 * table[:, 1] - 4 * table[:, 2] + 3, rtol=1e-15, atol=1e-12)
    assert (
        float(table[:, 3].mean()) == out["mean"] and float(np.percentile(table[:, 3], 50)) == out["percentiles"]["P50"]
    )
    npy = tmp_path / "s.npy"
    invoke("mc", path, "--samples", "500", "--samples-out", str(npy), "--json")
    saved = np.load(npy)
    assert saved.dtype.names == ("sample", "x", "y", "f", "d(f)/d(x)", "d(f)/d(y)")
    assert (saved["f"] == table[:, 3]).all()
    bad = invoke("mc", path, "--samples-out", str(tmp_path / "s.txt"))
    assert bad.exit_code == 2 and "name a .csv or .npy file" in bad.stderr


def test_the_table_draws_a_histogram_that_marks_the_target(invoke, graph_file):
    text = invoke("mc", graph_file(LINEAR), "--samples", "5000", "--target", "13").stdout
    bars = [line for line in text.splitlines() if " to " in line and ("█" in line or line.rstrip()[-1].isdigit())]
    assert len(bars) == 20 and sum("← 13" in line for line in bars) == 1
    counts = [int(line.split("← ")[0].split()[-1].replace(",", "")) for line in bars]
    assert sum(counts) == 5000


def test_the_plot_is_a_picture(invoke, graph_file, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "h.svg"
    result = invoke("mc", graph_file(LINEAR), "--samples", "500", "--plot", str(target))
    assert result.exit_code == 0 and target.read_text().startswith("<?xml")


def test_with_correlations_the_delta_method_uses_the_covariance():
    from cgraph_cli.commands.mc import monte_carlo, summary

    s = summary(monte_carlo(load_text(CORRELATED), 20_000))
    # f = a + b + c: Var f = Σ Var + 2 Σ cov, by the draws themselves; the linear rule is exact here
    assert math.isclose(s["delta_method_sd"], s["sd"], rel_tol=1e-12, abs_tol=0) and s["nonlinear"] is False


def test_ctrl_c_gives_the_figures_of_the_samples_done(invoke, graph_file, monkeypatch):
    from cgraph_cli.commands import mc
    from cgraph_cli.core import arrays

    monkeypatch.setattr(arrays, "scenarios", ctrl_c_on_call(arrays.scenarios, 3))
    monkeypatch.setattr(mc, "CHUNK_CELLS", 100 * 7)  # 100 samples a chunk of this graph of 7 nodes
    result = invoke("mc", graph_file(LINEAR), "--samples", "1000", "--json")
    assert result.exit_code == 130 and "the figures are of the 200 samples done of 1,000" in result.stderr
    out = json.loads(result.stdout)
    assert out["samples"] == 200 and out["interrupted"] is True


ISHIGAMI = """\
inputs:
  x1: {value: 0, dist: "uniform(-3.141592653589793, 3.141592653589793)"}
  x2: {value: 0, dist: "uniform(-3.141592653589793, 3.141592653589793)"}
  x3: {value: 0, dist: "uniform(-3.141592653589793, 3.141592653589793)"}
nodes:
  y: sin(x1) + 7 * sin(x2) ** 2 + 0.1 * x3 ** 4 * sin(x1)
"""


def _ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[list[float], list[float]]:
    """The Ishigami function's Sobol indices, analytically (Ishigami and Homma 1990; Saltelli et al.,
    Global Sensitivity Analysis: The Primer, 2008, §4.7)."""
    pi = math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def test_sobol_indices_of_the_ishigami_function_are_its_analytic_ones(invoke, graph_file):
    out = json.loads(invoke("mc", graph_file(ISHIGAMI), "--samples", "40000", "--sobol", "--json").stdout)
    first, total = _ishigami_indices()
    assert out["sobol"]["scenarios"] == 40000 * 5
    for k, name in enumerate(["x1", "x2", "x3"]):
        ix = out["sobol"]["indices"][name]
        assert abs(ix["first"] - first[k]) < 0.02 and abs(ix["total"] - total[k]) < 0.02, (name, ix)
        widen = 0.01  # (the bootstrap interval, with a margin for the estimator's own bias at this N)
        assert ix["first_ci"][0] - widen <= first[k] <= ix["first_ci"][1] + widen
        assert ix["total_ci"][0] - widen <= total[k] <= ix["total_ci"][1] + widen


def test_sobol_estimators_and_intervals_match_the_formulas_worked_by_hand(graph_file):
    """The indices from the designs A (the run's samples) and B, evaluated by numpy apart from the
    engine (which computes f(AB_i) only where input i reaches), and the interval of the classical
    bootstrap, resampling with replacement, against the weighted one's (which has 200 resamples:
    its width is within 7% or so of the width it estimates, so 20% is three of its errors)."""
    from cgraph_cli.commands.mc import monte_carlo
    from cgraph_cli.core.sampling import second_seed

    n = 20_000
    run = monte_carlo(cg.load(graph_file(ISHIGAMI)).plan, n, seed=5, sobol=True)
    names = ["x1", "x2", "x3"]
    a = np.column_stack([run.drawn[name] for name in names])
    u = uniforms(np, "lhs", second_seed(5), 3, n, 0, n)
    b = np.column_stack([run.dists[name].draw(np, u[:, j]) for j, name in enumerate(names)])

    def f(x):
        return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])

    f_a, f_b = f(a), f(b)
    rng = np.random.default_rng(0)
    resamples = rng.integers(0, n, (600, n))
    for j, name in enumerate(names):
        ab = a.copy()
        ab[:, j] = b[:, j]
        f_ab = f(ab)

        def first(k):
            both = np.concatenate([f_a[k], f_b[k]])
            return np.mean((f_b[k] - both.mean()) * (f_ab[k] - f_a[k])) / np.var(both, ddof=1)

        def total(k):
            return np.mean((f_a[k] - f_ab[k]) ** 2) / (2 * np.var(np.concatenate([f_a[k], f_b[k]]), ddof=1))

        ix = run.sobol["indices"][name]
        everything = np.arange(n)
        assert math.isclose(ix["first"], first(everything), rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(ix["total"], total(everything), rel_tol=1e-9, abs_tol=1e-12)
        for key, estimator in (("first_ci", first), ("total_ci", total)):
            classical = np.percentile([estimator(k) for k in resamples], [2.5, 97.5])
            width, theirs = ix[key][1] - ix[key][0], classical[1] - classical[0]
            assert abs(width - theirs) <= 0.2 * theirs, (name, key, width, theirs)
            assert abs(sum(ix[key]) / 2 - classical.mean()) <= 0.25 * theirs, (name, key)


@pytest.mark.parametrize("sampler", ["lhs", "random", "sobol"])
def test_sobol_indices_of_a_linear_model_are_its_variance_shares(invoke, graph_file, sampler):
    """With every sampler: two Sobol sequences scrambled apart are not independent designs (their
    indices came out near 2), so the Sobol sampler's A and B are halves of one sequence."""
    args = ["--samples", "20000", "--sampler", sampler, "--sobol", "--json"]
    out = json.loads(invoke("mc", graph_file(LINEAR), *args).stdout)
    for name, share in (("x", 36 / 52), ("y", 16 / 52)):
        ix = out["sobol"]["indices"][name]
        assert abs(ix["first"] - share) < 0.02 and abs(ix["total"] - share) < 0.02
        assert ix["first_ci"][0] - 0.01 <= share <= ix["first_ci"][1] + 0.01


def test_sobol_refuses_correlated_inputs_before_drawing_a_sample(invoke, graph_file, monkeypatch):
    from cgraph_cli.core import sampling

    monkeypatch.setattr(sampling, "uniforms", None)  # (drawing would fail: not callable)
    result = invoke("mc", graph_file(CORRELATED), "--sobol")
    assert result.exit_code == 2 and "--sobol: Sobol indices assume independent inputs" in result.stderr


# -- in bounded memory, in process and on Dask ----------------------------------------------------


def test_exact_sums_are_exact_and_do_not_depend_on_order():
    from fractions import Fraction

    from cgraph_cli.commands.mc_stream import SCALE, exact_sum, exact_value

    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 10_000) * 10.0 ** rng.integers(-300, 300, 10_000)
    x = np.concatenate([x, [5e-324, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308, 0.0]])
    truth = sum(Fraction(v) for v in x.tolist())
    total = exact_sum(np, x)
    assert Fraction(total, 1 << SCALE) == truth
    assert exact_sum(np, x[:3000]) + exact_sum(np, x[3000:]) == total == exact_sum(np, x[::-1])
    assert exact_value(total, len(x)) == float(truth / len(x))


def _streamed_json(path: str, samples: int, runner=None) -> dict:
    from cgraph_cli.commands.mc import mc_json, monte_carlo
    from cgraph_cli.commands.remote import in_process

    return json.loads(
        mc_json(monte_carlo(cg.load(path).plan, samples, 3, "lhs", target=10.0, runner=runner or in_process))
    )


def test_a_run_reduced_as_it_goes_agrees_with_one_kept_in_memory(graph_file, monkeypatch):
    from cgraph_cli.commands import mc

    path = graph_file(LINEAR)
    kept = json.loads(mc.mc_json(mc.monte_carlo(cg.load(path).plan, 30_000, 3, "lhs", target=10.0)))
    reduced = _streamed_json(path, 30_000)
    assert math.isclose(reduced["mean"], kept["mean"], rel_tol=1e-14, abs_tol=0)
    assert math.isclose(reduced["sd"], kept["sd"], rel_tol=1e-12, abs_tol=0)
    assert reduced["min"] == kept["min"] and reduced["max"] == kept["max"]
    assert reduced["p_below_target"] == kept["p_below_target"]
    for key, value in kept["percentiles"].items():  # the histogram's: within a bin's width
        assert abs(reduced["percentiles"][key] - value) <= reduced["percentile_precision"], key
    for name in ("x", "y"):
        a, b = kept["inputs"][name], reduced["inputs"][name]
        assert a["mean_gradient"] == b["mean_gradient"] and abs(a["spearman"] - b["spearman"]) < 1e-4
        assert math.isclose(a["dgsm_share"], b["dgsm_share"], rel_tol=1e-9, abs_tol=0)
    # and cut into other chunks, bit for bit the same
    monkeypatch.setattr(mc, "CHUNK_CELLS", 7 * 777)
    assert _streamed_json(path, 30_000) == reduced


def test_on_a_dask_cluster_the_figures_are_the_same_bit_for_bit(graph_file):
    distributed = pytest.importorskip("distributed")
    from cgraph_cli.commands.remote import on_dask

    path = graph_file(LINEAR)
    here = _streamed_json(path, 20_000)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        there = _streamed_json(path, 20_000, on_dask(client))
        workers = len(client.scheduler_info()["workers"])
    assert there == here and workers == 2


def test_the_cli_runs_on_local_workers_and_says_so_when_dask_is_missing(invoke, graph_file, monkeypatch):
    pytest.importorskip("distributed")
    path = graph_file(LINEAR)
    result = invoke("mc", path, "--samples", "5000", "--workers", "2", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == _streamed_json_cli_equivalent(path, 5000)
    both = invoke("mc", path, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert both.exit_code == 2 and "choose one" in both.stderr
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith("distributed"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    missing = invoke("mc", path, "--workers", "2")
    assert missing.exit_code == 1 and "the dist extra" in missing.stderr


def _streamed_json_cli_equivalent(path: str, samples: int) -> dict:
    from cgraph_cli.commands.mc import mc_json, monte_carlo
    from cgraph_cli.commands.remote import in_process

    return json.loads(mc_json(monte_carlo(cg.load(path).plan, samples, 0, "lhs", runner=in_process)))


def test_the_contributions_are_drawn_as_a_tornado(invoke, graph_file):
    lines = invoke("mc", graph_file(LINEAR), "--samples", "5000").stdout.splitlines()
    x = next(line for line in lines if line.startswith("x "))
    y = next(line for line in lines if line.startswith("y "))
    share = float(x.split("%")[0].split()[-1]) / 100  # x's contribution: its bar is that share of 30
    assert x.rstrip().endswith("█" * round(30 * share)) and "░" not in x  # f rises with x
    assert "░" in y and "█" not in y  # and falls with y


def test_a_sweep_on_local_workers_is_the_sweep_in_process_byte_for_byte(invoke):
    pytest.importorskip("distributed")
    from pathlib import Path

    loan = str(Path(__file__).resolve().parent.parent / "graphs" / "loan_payment.yaml")
    args = ["run", loan, "--sweep", "annual_rate=0.03:0.08:0.001", "--sweep", "years=10:30:5", "--csv"]
    here = invoke(*args)
    there = invoke(*args, "--workers", "2")
    assert there.exit_code == 0 and there.stdout == here.stdout and len(here.stdout.splitlines()) == 256
    alone = invoke("run", loan, "--workers", "2")
    assert alone.exit_code == 2 and "give --sweep" in alone.stderr


def test_the_grid_slices_are_meshgrids_rows(monkeypatch):
    from cgraph_cli.commands.sweep import grid_slice

    sweeps = [("a", [1.0, 2.0, 3.0]), ("b", [10.0, 20.0]), ("c", [0.5, 0.25, 0.125, 0.0625])]
    whole = [g.ravel() for g in np.meshgrid(*[np.array(v) for _, v in sweeps], indexing="ij")]
    for start, stop in ((0, 24), (5, 17), (23, 24)):
        for got, want in zip(grid_slice(np, sweeps, start, stop), whole):
            assert (got == want[start:stop]).all()


def test_several_nodes_intermediates_too_are_reported_from_the_same_samples(invoke, graph_file):
    text = LINEAR.replace("  f: 3 * x - 4 * y + z\n", "  g: 3 * x\n  f: g - 4 * y + z\n")
    out = json.loads(invoke("mc", graph_file(text), "--of", "f", "--of", "g", "--samples", "4000", "--json").stdout)
    g = out["also"]["g"]
    assert out["of"] == "f" and abs(g["mean"] - 30) < 4 * g["standard_error"]
    assert g["inputs"]["x"]["mean_gradient"] == 3 and g["inputs"]["y"]["mean_gradient"] == 0
    assert math.isclose(g["inputs"]["x"]["contribution"], 1.0, rel_tol=1e-3, abs_tol=0)  # g moves with x alone
    alone = json.loads(invoke("mc", graph_file(text), "--of", "f", "--samples", "4000", "--json").stdout)
    assert {k: v for k, v in out.items() if k != "also"} == alone  # the same samples for each node
    table = invoke("mc", graph_file(text), "--of", "f", "--of", "g", "--samples", "4000").stdout
    assert ": f over 4,000 samples" in table and ": g over 4,000 samples" in table


def test_ctrl_c_past_the_memory_limit_gives_the_figures_of_the_chunks_done(invoke, graph_file, monkeypatch):
    from cgraph_cli.commands import mc, mc_stream

    real, calls = mc_stream.chunk, []

    def interrupted(job, start, count):
        calls.append(job["pass"])
        if job["pass"] == 1 and calls.count(1) == 3:
            raise KeyboardInterrupt
        return real(job, start, count)

    monkeypatch.setattr(mc_stream, "chunk", interrupted)
    monkeypatch.setattr(mc, "MAX_SAMPLES", 100)  # reduced as it goes past 100 samples
    monkeypatch.setattr(mc, "CHUNK_CELLS", 1000 * 7)  # 1,000 samples a chunk
    result = invoke("mc", graph_file(LINEAR), "--samples", "10000", "--json")
    assert result.exit_code == 130 and "the figures are of the 2,000 samples done of 10,000" in result.stderr
    out = json.loads(result.stdout)
    assert out["samples"] == out["with_a_value"] == 2000 and out["interrupted"] is True
    assert out["inputs"]["x"]["mean_gradient"] == 3 and abs(out["mean"] - 13) < 4 * out["standard_error"]


def test_a_product_of_lognormals_has_its_closed_form_percentiles(invoke, graph_file):
    # x·y with ln x ~ N(ln 10, 0.2²) and ln y ~ N(ln 3, 0.3²) is lognormal: ln(xy) ~ N(ln 30, 0.2² + 0.3²)
    z95 = stats.norm.ppf(0.95)  # a factor F puts 90% of draws in [M/F, M·F]: F = e^(σ z95)
    text = (
        "inputs:\n"
        f'  x: {{value: 10, dist: "lognormal(median=10, factor={math.exp(0.2 * z95)!r})"}}\n'
        f'  y: {{value: 3, dist: "lognormal(median=3, factor={math.exp(0.3 * z95)!r})"}}\n'
        "nodes:\n  p: x * y\n"
    )
    out = json.loads(invoke("mc", graph_file(text), "--samples", "200000", "--json").stdout)
    truth = stats.lognorm(s=math.sqrt(0.2**2 + 0.3**2), scale=30)
    for key, q in (("P5", 0.05), ("P50", 0.5), ("P95", 0.95)):
        assert abs(out["percentiles"][key] - truth.ppf(q)) < 0.003 * truth.ppf(q), key
    assert abs(out["mean"] - truth.mean()) < 4 * out["standard_error"]


def test_dgsm_of_a_linear_model_is_exactly_its_coefficient_squared_times_the_variance(graph_file):
    from cgraph_cli.commands.mc import monte_carlo, summary

    run = monte_carlo(load_text(LINEAR), 5000)
    s = summary(run)
    for name, a in (("x", 3), ("y", -4)):
        var_x = float(np.var(run.drawn[name], ddof=1))  # Var(x) of the draws: E[(df/dx)²] = a² exactly
        assert math.isclose(s["inputs"][name]["dgsm"], a * a * var_x, rel_tol=1e-12, abs_tol=0)


def test_the_api_gives_what_the_cli_gives_and_shows_itself_in_a_notebook(invoke, graph_file):
    path = graph_file(LINEAR)
    m = cg.load(path).mc(samples=3000, seed=4, target=10.0, dist={"z": "uniform(2, 4)"})
    cli = json.loads(
        invoke(
            "mc", path, "--samples", "3000", "--seed", "4", "--target", "10", "--dist", "z=uniform(2, 4)", "--json"
        ).stdout
    )
    assert m.summary == cli
    records = m.records()
    assert len(records) == 3000 and set(records[0]) == {
        "sample",
        "x",
        "y",
        "z",
        "f",
        "d(f)/d(x)",
        "d(f)/d(y)",
        "d(f)/d(z)",
    }
    assert records[7]["f"] == 3 * records[7]["x"] - 4 * records[7]["y"] + records[7]["z"]
    page = m._repr_html_()
    assert "<td>x</td><td>normal(10, 2)</td>" in page and "over 3,000 samples" in page
    with pytest.raises(cg.Error) as caught:
        cg.load(path).mc(dist={"f": "uniform(0, 1)"})
    assert "'f' is a node" in str(caught.value)


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--seed", "-1", "--sampler", "sobol"], 2, "--seed must be a whole number at least 0, not -1"),
        (["--percentiles", "150"], 2, "--percentiles: 150.0 is not between 0 and 100"),
        (["--samples", "1"], 2, "--samples must be a whole number at least 2, not 1"),
        (["--target", "nan"], 2, "--target must be a finite number, not nan"),
    ],
)
def test_what_mc_refuses_is_said_once_and_clearly(invoke, graph_file, args, code, words):
    result = invoke("mc", graph_file(LINEAR), *args)
    assert result.exit_code == code and result.stdout == "" and words in result.stderr
    assert result.stderr.count("--") == words.count("--") + ("Try" in result.stderr), result.stderr


def test_draws_past_a_float_s_range_are_a_clear_error_and_named(invoke, graph_file):
    from cgraph_cli.commands.sweep import _reason

    result = invoke("mc", graph_file(LINEAR), "--dist", "x=normal(1e308, 1e308)", "--samples", "400", "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert "the samples of f are too large to add up" in result.stderr
    plan = load_text(LINEAR)
    values = [np.array([1.0, math.inf])] + [None] * (plan.size - 1)
    assert _reason(plan, values, 0, 1) == "input 'x' drew inf, not a finite number"


def test_what_needs_the_samples_whole_is_refused_past_the_memory_limit(invoke, graph_file, tmp_path, monkeypatch):
    from cgraph_cli.commands import mc

    monkeypatch.setattr(mc, "MAX_SAMPLES", 100)
    for args in (["--samples-out", str(tmp_path / "s.csv")], ["--sobol"]):
        result = invoke("mc", graph_file(LINEAR), "--samples", "1000", *args)
        assert result.exit_code == 2 and "need the samples in memory: at most 100 samples" in result.stderr
    assert not (tmp_path / "s.csv").exists()
