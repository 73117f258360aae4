"""Each op's forward step and local derivatives, checked against math worked out apart."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings

from cgraph_cli.ops import OPS, OpDomainError

from .strategies import OP_DOMAINS


def central_difference(op, xs, i):
    """(f(x + h) - f(x - h)) / 2h along operand i, with h scaled to the operand."""
    h = 1e-6 * max(1.0, abs(xs[i]))
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (op.forward(up) - op.forward(down)) / (2 * h)


def test_every_op_has_a_domain_strategy():
    assert set(OP_DOMAINS) == set(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
def test_local_derivatives_match_central_differences(name):
    op = OPS[name]

    @settings(max_examples=200, deadline=None)
    @given(OP_DOMAINS[name])
    def check(xs):
        out = op.forward(xs)
        local = op.local_grads(xs, out, [True] * len(xs))
        for i in range(len(xs)):
            numeric = central_difference(op, xs, i)
            assert math.isclose(local[i], numeric, rel_tol=1e-5, abs_tol=1e-6), (name, xs, i, local[i], numeric)

    check()


@pytest.mark.parametrize("name, xs, expected", [
    ("add", [1, 2, 3], 6),
    ("mul", [2, 3, 4], 24),
    ("sub", [5, 7], -2),
    ("div", [1, 4], 0.25),
    ("neg", [3], -3),
    ("pow", [2, 10], 1024),
    ("pow", [-2, 3], -8),
    ("pow", [4, 0.5], 2.0),
    ("exp", [0], 1.0),
    ("log", [math.e], 1.0),
    ("sigmoid", [0], 0.5),
    ("relu", [-3.5], 0.0),
    ("relu", [2], 2),
    ("tanh", [0], 0.0),
    ("step", [0], 0),
    ("step", [0.5], 1),
    ("step", [-2], 0),
])
def test_forward_values(name, xs, expected):
    assert OPS[name].forward(xs) == expected


def test_mul_local_derivative_is_product_of_others_left_to_right():
    xs = [0.1, 0.2, 0.3, 0.7]
    local = OPS["mul"].local_grads(xs, None, [True] * 4)
    assert local == [(0.2 * 0.3) * 0.7, (0.1 * 0.3) * 0.7, (0.1 * 0.2) * 0.7, (0.1 * 0.2) * 0.3]


def test_mul_with_many_operands_stays_close_to_exact():
    xs = [1.0 + i / 1000 for i in range(200)]
    local = OPS["mul"].local_grads(xs, None, [True] * len(xs))
    total = math.prod(xs)
    for x, d in zip(xs, local):
        assert math.isclose(d, total / x, rel_tol=1e-12)


def test_sigmoid_is_stable_at_extremes():
    assert OPS["sigmoid"].forward([-1000]) == 0.0
    assert OPS["sigmoid"].forward([1000]) == 1.0


def test_kinks_follow_pytorch():
    assert OPS["relu"].local_grads([0], 0, [True]) == [0]
    assert OPS["pow"].local_grads([0, 0], 1, [True, True]) == [0, 0]  # d(x**0)/dx = 0, exponent 0 at base 0
    assert OPS["pow"].local_grads([0.0, 2], 0.0, [True, True]) == [0.0, 0]


def test_pow_exponent_gradient_is_skipped_when_not_wanted():
    # a constant exponent at a negative base: fine, as SPEC says for pow: [x, 2]
    assert OPS["pow"].local_grads([-3, 2], 9, [True, False]) == [-6, None]


@pytest.mark.parametrize("name, xs", [
    ("div", [1, 0]), ("log", [0]), ("log", [-1]), ("pow", [-8, 1 / 3]), ("pow", [0, -1]),
])
def test_domain_errors(name, xs):
    with pytest.raises(OpDomainError):
        OPS[name].forward(xs)


def test_pow_exponent_gradient_at_negative_base_is_an_error():
    with pytest.raises(OpDomainError):
        OPS["pow"].local_grads([-2, 2], 4, [True, True])


def test_huge_integer_power_is_refused_quickly():
    with pytest.raises(OverflowError):
        OPS["pow"].forward([10, 10**9])


def test_every_op_documents_itself():
    for op in OPS.values():
        assert op.symbol and op.formula and op.derivative and op.doc


def test_pow_base_gradient_at_zero_with_a_small_exponent_is_infinite():
    with pytest.raises(OpDomainError, match="infinite"):
        OPS["pow"].local_grads([0, 0.5], 0.0, [True, False])
