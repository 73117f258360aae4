"""Every example in graphs/ against numbers worked out apart from cgraph: the book's printed digits,
DeZero's, and closed forms (each model's value and its derivatives written out by hand) computed
in mpmath at 50 significant digits, so the expected numbers carry no rounding of their own.

Tolerances. A float computation of a well-conditioned formula of n operations lands within about
n half-ulps of the exact value, so 1e-14 relative covers every formula here (at most ~40 ops).
Where terms cancel, the bound is relative to the terms' size, not the result's (noted per case).
The golden files (tests/golden) are cgraph's own output, kept to catch changes; these are the
evidence that the numbers in them are right.
"""

from __future__ import annotations

import json
import math

import mpmath as mp
import numpy as np
import pytest

from cgraph_cli.core.engine import evaluate
from cgraph_cli.read.loader import load_text

from .conftest import GRAPHS
from .golden_cases import graph_files

mp.mp.dps = 50


def run(stem: str):
    return evaluate(load_text((GRAPHS / f"{stem}.yaml").read_text(encoding="utf-8"), f"{stem}.yaml"))


def near(got, exact, rel: float = 1e-14, scale=None) -> bool:
    """Whether a float is within `rel` of an exact (mpmath) number, relative to |exact| or to `scale`."""
    return abs(mp.mpf(float(got)) - exact) <= rel * (abs(exact) if scale is None else scale) + mp.mpf(1e-300)


# -- the book's and DeZero's printed numbers, to the last digit --------------------------------------


@pytest.mark.parametrize("stem", ["apples", "apples_edges"])
def test_the_books_apples(stem):
    result = run(stem)  # figure 5-16
    assert result.value == 220.00000000000003
    assert [result.grad_of(n) for n in ("apple", "apple_num", "tax")] == [2.2, 110.00000000000001, 200]


def test_the_books_apples_and_oranges():
    result = run("apples_oranges")  # figure 5-17
    assert result.value == 715.0000000000001
    expected = {"apple": 2.2, "apple_num": 110.00000000000001, "orange": 3.3000000000000003, "orange_num": 165.0}
    assert {n: result.grad_of(n) for n in expected} == expected and result.grad_of("tax") == 650


def test_dezeros_goldstein_price():
    result = run("goldstein_price")  # DeZero step 24 prints the gradient -5376.0, 8064.0 at (1, 1)
    assert (result.value, result.grad_of("x"), result.grad_of("y")) == (1876.0, -5376.0, 8064.0)


# -- closed forms, by hand, in mpmath ----------------------------------------------------------------


def test_chain_rule():
    x, y = mp.mpf(1), mp.mpf(2)  # z = (x + y)²; dz/dx = dz/dy = 2(x + y)
    result = run("chain_rule")
    assert result.value == (x + y) ** 2 == 9 and result.grad_of("x") == result.grad_of("y") == 2 * (x + y) == 6


def _sigmoid(z):
    return 1 / (1 + mp.exp(-z))


def test_neuron():
    x1, x2, w1, w2, b = map(mp.mpf, ("1.0", "0.5", "0.4", "-0.6", "0.1"))
    z = w1 * x1 + w2 * x2 + b
    y = _sigmoid(z)
    slope = y * (1 - y)  # σ'(z)
    expected = {"x1": slope * w1, "x2": slope * w2, "w1": slope * x1, "w2": slope * x2, "b": slope}
    result = run("neuron")
    assert near(result.value, y)
    for name, d in expected.items():
        assert near(result.grad_of(name), d), name


def test_subscription_profit():
    v, c, ch, p, f, s, fixed = map(mp.mpf, ("20000", "0.03", "0.05", "10", "0.029", "1.8", "3000"))
    customers = v * c * (1 - ch)
    unit = p - p * f - s
    profit = customers * unit - fixed
    expected = {
        "visitors": c * (1 - ch) * unit,
        "conversion": v * (1 - ch) * unit,
        "churn": -v * c * unit,
        "price": customers * (1 - f),
        "fee_rate": -customers * p,
        "service_cost": -customers,
        "fixed_costs": -1,
    }
    result = run("subscription_profit")
    # profit cancels 4508.7 against 3000: relative to the terms, not the result
    assert near(result.value, profit, scale=customers * unit + fixed)
    for name, d in expected.items():
        assert near(result.grad_of(name), d), name


def test_loan_payment():
    principal, rate, years = mp.mpf(300000), mp.mpf("0.06"), mp.mpf(30)
    r, n = rate / 12, years * 12
    discount = 1 - (1 + r) ** -n
    payment = principal * r / discount
    d_discount_d_r = n * (1 + r) ** (-n - 1)
    d_discount_d_n = (1 + r) ** -n * mp.log(1 + r)
    expected = {
        "principal": r / discount,
        "annual_rate": (principal / discount - principal * r * d_discount_d_r / discount**2) / 12,
        "years": -principal * r * d_discount_d_n / discount**2 * 12,
    }
    result = run("loan_payment")
    # 1 + r is rounded once (ε/2 relative), and the power -360 amplifies that 360 times: ~1e-13
    assert near(result.value, payment, rel=1e-12)
    for name, d in expected.items():
        assert near(result.grad_of(name), d, rel=1e-12), name


def test_tiered_pricing():
    # 1500 units: 1000 at 12, 500 at 12 · 0.85; shipping 600 capped at 500; the fee waived past 10,000
    units, price, discount = 1500, 12, mp.mpf("0.15")
    subtotal = price * 1000 + price * (1 - discount) * (units - 1000)
    result = run("tiered_pricing")
    assert near(result.value, subtotal + 500) and result.value == 17600
    expected = {
        "units": price * (1 - discount),  # past the tier; shipping is capped, so it adds nothing
        "list_price": 1000 + (1 - discount) * (units - 1000),
        "discount": -price * (units - 1000),
        "shipping_per_unit": 0,  # capped
    }
    for name, d in expected.items():
        assert near(result.grad_of(name), d), name


def test_goldstein_price_in_full():
    def f(x, y):
        return (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)) * (
            30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
        )

    result = run("goldstein_price")
    at = (mp.mpf(1), mp.mpf(1))
    assert near(result.value, f(*at))
    # mpmath's own differentiation (extrapolated differences at 50 digits), apart from any backprop
    assert near(result.grad_of("x"), mp.diff(f, at, (1, 0)))
    assert near(result.grad_of("y"), mp.diff(f, at, (0, 1)))


def test_rosenbrock():
    x0, x1 = mp.mpf(0), mp.mpf(2)
    result = run("rosenbrock")
    assert result.value == 100 * (x1 - x0**2) ** 2 + (x0 - 1) ** 2 == 401
    assert result.grad_of("x0") == -400 * x0 * (x1 - x0**2) + 2 * (x0 - 1) == -2
    assert result.grad_of("x1") == 200 * (x1 - x0**2) == 400


# -- the layers: arrays, elementwise in mpmath ---------------------------------------------------------


def test_sigmoid_layer():
    result = run("sigmoid_layer")
    x = [[1.0, -0.5], [-2.0, 3.0]]
    for i in range(2):
        for j in range(2):
            y = _sigmoid(mp.mpf(x[i][j]))
            assert near(result.values[-1][i, j], y)
            assert near(result.grad_of("x")[i, j], y * (1 - y))  # the book's dout · y · (1 − y), dout = 1


def test_relu_layer():
    result = run("relu_layer")  # the book: mask = (x <= 0) is [[False, True], [True, False]]
    assert result.value_of("mask").tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert result.value.tolist() == [[1.0, 0.0], [0.0, 3.0]]
    assert result.grad_of("x").tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_affine_layer():
    result = run("affine")  # L = sum(Y · dY): the gradient arriving at Y is dY
    X, W, B = [[0, 0], [10, 10]], [[0.5] * 3] * 2, [1, 2, 3]
    dY = [[1, 2, 3], [4, 5, 6]]
    Y = [[sum(X[i][k] * W[k][j] for k in range(2)) + B[j] for j in range(3)] for i in range(2)]
    assert result.value_of("Y").tolist() == Y == [[1, 2, 3], [11, 12, 13]]
    assert result.value == sum(Y[i][j] * dY[i][j] for i in range(2) for j in range(3))
    assert result.grad_of("X").tolist() == [
        [sum(dY[i][j] * W[k][j] for j in range(3)) for k in range(2)] for i in range(2)
    ]
    assert result.grad_of("W").tolist() == [
        [sum(X[i][k] * dY[i][j] for i in range(2)) for j in range(3)] for k in range(2)
    ]
    assert result.grad_of("B").tolist() == [5, 7, 9]


def _softmax_rows(x):
    out = []
    for row in x:
        e = [mp.exp(mp.mpf(v)) for v in row]
        out.append([v / sum(e) for v in e])
    return out


def test_softmax_with_loss():
    x, t = [[0.3, 2.9, 4.0], [2.0, 1.0, 0.1]], [[0, 0, 1], [1, 0, 0]]
    y = _softmax_rows(x)
    loss = -sum(mp.log(y[i][j]) * t[i][j] for i in range(2) for j in range(3)) / 2
    result = run("softmax_with_loss")
    assert near(result.value, loss)
    for i in range(2):
        for j in range(3):
            assert near(result.value_of("y")[i, j], y[i][j])
            assert near(result.grad_of("x")[i, j], (y[i][j] - t[i][j]) / 2, scale=1)  # the book's (y − t) / batch


def test_two_layer_net_against_the_books_backprop_in_mpmath():
    """The book's TwoLayerNet written out by hand (forward, then each layer's backward), at 50 digits,
    from the same weights and data."""
    plan = load_text((GRAPHS / "two_layer_net.yaml").read_text(encoding="utf-8"), str(GRAPHS / "two_layer_net.yaml"))
    result = evaluate(plan)
    given = dict(zip(plan.names, plan.values))
    W1, b1, W2, b2, X, t = (given[k].tolist() for k in ("W1", "b1", "W2", "b2", "X", "t"))
    N, H, C = len(X), len(b1), len(b2)
    W1, b1, W2, b2 = (
        [[mp.mpf(v) for v in row] for row in W1],
        [mp.mpf(v) for v in b1],
        [[mp.mpf(v) for v in row] for row in W2],
        [mp.mpf(v) for v in b2],
    )
    A1 = [[sum(mp.mpf(X[n][k]) * W1[k][h] for k in range(2)) + b1[h] for h in range(H)] for n in range(N)]
    Z1 = [[max(a, 0) for a in row] for row in A1]
    A2 = [[sum(Z1[n][h] * W2[h][c] for h in range(H)) + b2[c] for c in range(C)] for n in range(N)]
    y = _softmax_rows(A2)
    onehot = [[1 if c == int(t[n]) else 0 for c in range(C)] for n in range(N)] if not isinstance(t[0], list) else t
    loss = -sum(mp.log(y[n][c]) * onehot[n][c] for n in range(N) for c in range(C)) / N
    dA2 = [[(y[n][c] - onehot[n][c]) / N for c in range(C)] for n in range(N)]  # SoftmaxWithLoss.backward
    dW2 = [[sum(Z1[n][h] * dA2[n][c] for n in range(N)) for c in range(C)] for h in range(H)]  # Affine.backward
    db2 = [sum(dA2[n][c] for n in range(N)) for c in range(C)]
    dZ1 = [[sum(dA2[n][c] * W2[h][c] for c in range(C)) for h in range(H)] for n in range(N)]
    dA1 = [[dZ1[n][h] if A1[n][h] > 0 else 0 for h in range(H)] for n in range(N)]  # Relu.backward
    dW1 = [[sum(mp.mpf(X[n][k]) * dA1[n][h] for n in range(N)) for h in range(H)] for k in range(2)]
    db1 = [sum(dA1[n][h] for n in range(N)) for h in range(H)]
    # Sums of 100 terms of size below 1: float error below 100 ε ≈ 2e-14, whatever they cancel to.
    assert near(result.value, loss, rel=1e-13)
    for name, exact in (("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2)):
        got = np.asarray(result.grad_of(name))
        for at in np.ndindex(*got.shape):
            want = exact
            for k in at:
                want = want[k]
            assert near(got[at], want, rel=2e-14, scale=1), (name, at, got[at], want)


def test_every_example_has_numbers_worked_out_apart():
    tested = {name.split("test_", 1)[1] for name in globals() if name.startswith("test_")}
    covered = {"apples", "apples_edges", "apples_oranges", "goldstein_price", "two_layer_net"}
    for graph in graph_files():
        assert graph.stem in covered or any(graph.stem in name for name in tested), graph.stem


# -- Black-Scholes: Hull's printed prices, and the Greeks' closed forms --------------------------


def test_black_scholes_gives_hulls_prices_and_the_greeks_closed_forms():
    import cgraph_cli as cg

    graph = cg.load(str(GRAPHS / "black_scholes.yaml"))
    S, K, r, sigma, T = (mp.mpf(v) for v in ("42", "40", "0.1", "0.2", "0.5"))
    d1 = (mp.log(S / K) + (r + sigma**2 / 2) * T) / (sigma * mp.sqrt(T))
    d2 = d1 - sigma * mp.sqrt(T)
    N, n = mp.ncdf, mp.npdf
    call = S * N(d1) - K * mp.exp(-r * T) * N(d2)
    put = K * mp.exp(-r * T) * N(-d2) - S * N(-d1)
    run = graph.run()
    assert round(run.value, 2) == 4.76 and round(graph.run(of="put").value, 2) == 0.81  # as Hull prints them
    assert near(run.value, call, 1e-14) and near(graph.run(of="put").value, put, 1e-14)
    greeks = {  # the closed forms (Hull, ch. 19)
        "S": N(d1),  # delta
        "sigma": S * n(d1) * mp.sqrt(T),  # vega
        "r": K * T * mp.exp(-r * T) * N(d2),  # rho
        "T": S * n(d1) * sigma / (2 * mp.sqrt(T)) + r * K * mp.exp(-r * T) * N(d2),  # minus theta
        "K": -mp.exp(-r * T) * N(d2),
    }
    grads = run.grads
    for name, exact in greeks.items():
        assert near(grads[name], exact, 1e-12), (name, grads[name], exact)
    assert round(grads["S"], 4) == 0.7791  # Hull's delta, N(d1)
    gamma = graph.derive("S").grad(["S"])["S"]  # d²(call)/dS², by backprop through the derivative's graph
    assert near(gamma, n(d1) / (S * sigma * mp.sqrt(T)), 1e-12)
    assert "functions:\n  N(x): 0.5 * erfc(-x / sqrt(2))" in (GRAPHS / "black_scholes.yaml").read_text()


def test_black_scholes_gamma_and_vanna_by_grad_order_2_are_the_closed_forms(invoke):
    out = json.loads(invoke("grad", GRAPHS / "black_scholes.yaml", "--wrt", "S", "--wrt", "sigma", "--order", "2",
                            "--json").stdout)  # fmt: skip
    S, K, r, sigma, T = (mp.mpf(v) for v in ("42", "40", "0.1", "0.2", "0.5"))
    d1 = (mp.log(S / K) + (r + sigma**2 / 2) * T) / (sigma * mp.sqrt(T))
    d2 = d1 - sigma * mp.sqrt(T)
    hessian = out["hessian"]
    assert near(hessian["S"]["S"], mp.npdf(d1) / (S * sigma * mp.sqrt(T)), 1e-12)  # gamma
    assert near(hessian["S"]["sigma"], -mp.npdf(d1) * d2 / sigma, 1e-12)  # vanna


def test_coffee_cart_gives_the_profit_and_price_gradient_worked_by_hand():
    import cgraph_cli as cg

    run = cg.load(str(GRAPHS / "coffee_cart.yaml")).run()
    # cups = 2000 - 250 p; profit = p cups (1 - f) - c cups - rent, at p = 2.5, f = 0.025, c = 1.1
    cups = 2000 - 250 * 2.5
    assert run.value == 2.5 * cups * (1 - 0.025) - 1.1 * cups - 900 == 939.0624999999998
    # d(profit)/dp = cups (1 - f) - 250 p (1 - f) + 250 c = 1006.25, by hand in fractions
    from fractions import Fraction as F

    p, f, c = F(5, 2), F(1, 40), F(11, 10)
    assert run.grads["price"] == float((2000 - 250 * p) * (1 - f) - 250 * p * (1 - f) + 250 * c) == 1006.25


def test_coffee_cart_risk_keeps_its_point_values_and_its_mean_is_worked_by_hand():
    import cgraph_cli as cg
    from cgraph_cli.commands.mc import monte_carlo, summary

    graph = cg.load(str(GRAPHS / "coffee_cart_risk.yaml"))
    assert graph.run().value == 939.0624999999998  # the point values: coffee_cart.yaml's
    run = monte_carlo(graph.plan, 40_000)
    s = summary(run)
    # E[profit] = (1 - f)(2000 E[p] - 250 E[p²]) - 2000 E[c] + 250 E[c p] - E[R], E[p²] = 2.5² + 0.25²,
    # E[c] = (0.9 + 4 × 1.1 + 1.6) / 6 (PERT), E[c p] = E[c] E[p] + cov(c, p) (the correlation's, as drawn),
    # E[R] of the lognormal with its 5th and 95th percentiles at 700 and 1200
    mu, sigma = (math.log(700) + math.log(1200)) / 2, (math.log(1200) - math.log(700)) / (2 * 1.6448536269514722)
    c_mean, cov = (0.9 + 4 * 1.1 + 1.6) / 6, float(np.cov(run.drawn["unit_cost"], run.drawn["price"])[0, 1])
    expected = (
        0.975 * (2000 * 2.5 - 250 * (2.5**2 + 0.25**2))
        - 2000 * c_mean
        + 250 * (c_mean * 2.5 + cov)
        - math.exp(mu + sigma**2 / 2)
    )
    assert abs(s["mean"] - expected) < 4 * s["standard_error"]
