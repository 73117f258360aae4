"""Each op's forward step and local derivatives, checked against math worked out apart."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgraph_cli.core import op as op_machinery
from cgraph_cli.core import ops
from cgraph_cli.core.op import OpDomainError, Undefined, exact
from cgraph_cli.core.ops import OPS, product

from .conftest import close_to_difference, numeric_derivative
from .strategies import NUMBER_OPS, OP_DOMAINS, examples


def difference(op, xs, i):
    """A five-point central difference of the op's forward step along operand i, and its error bound."""

    def moved(v):
        ys = list(xs)
        ys[i] = v
        return op.forward(*ys)

    return numeric_derivative(moved, xs[i], abs(op.forward(*xs)) + sum(map(abs, xs)))


def local(name, *xs):
    op = OPS[name]
    return op.local(op.forward(*xs), *xs)


@pytest.mark.parametrize("name", NUMBER_OPS)
def test_the_numeric_interpretation_of_local_is_the_careful_one(name):
    """The engine runs `local` with op calls bound to the raw forward steps; where that gives
    numbers they are the numbers the careful op calls give."""
    op = OPS[name]

    @settings(max_examples=examples(100), deadline=None)
    @given(OP_DOMAINS[name])
    def check(xs):
        out = op.forward(*xs)
        assert op.numeric_local(out, *xs) == op.local(out, *xs)

    check()


def test_every_op_provides_what_the_table_needs():
    """What adding an op takes: a forward step, its local derivatives, the docs' words, a test domain."""
    assert set(OP_DOMAINS) == set(NUMBER_OPS)
    for op in map(OPS.get, NUMBER_OPS):
        assert callable(op.forward) and op.local is not op_machinery._no_derivatives, op.name
        assert op.array is not op_machinery._no_array_step, op.name
        assert op.symbol and op.value_doc and op.local_doc and op.doc, op.name
        assert op.min_args >= 1 and (op.max_args is None or op.max_args >= op.min_args)


@pytest.mark.parametrize("name", sorted(name for name in OPS if OPS[name].fast))
def test_a_fast_builtin_computes_exactly_the_forward_step(name):
    """The engine may run a builtin in place of an op's forward step; it must give the same number
    (and type: 2 * 3 is the integer 6) or fail where the forward step fails."""
    op = OPS[name]
    numbers = st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(2**53), 2**53),
        st.sampled_from([0, 0.0, -0.0, 1, -1, 710.0, -746.0, 1e308, 5e-324]),
    )
    for count, fast in op.fast.items():

        @settings(max_examples=examples(300), deadline=None)
        @given(st.lists(numbers, min_size=count, max_size=count))
        def check(xs):
            try:
                expected = exact(op.forward(*xs))
            except (ArithmeticError, ValueError):
                try:  # the builtin fails too, or gives what the engine refuses (inf, nan)
                    assert not math.isfinite(fast(*xs)), (name, xs)
                except (ArithmeticError, ValueError):
                    pass
                return
            got = exact(fast(*xs))  # as the engine takes it: an integer past 2**53 becomes a float
            assert got == expected and type(got) is type(expected), (name, xs)

        check()


@pytest.mark.parametrize("name", NUMBER_OPS)
def test_local_derivatives_match_central_differences(name):
    op = OPS[name]

    @settings(max_examples=examples(200), deadline=None)
    @given(OP_DOMAINS[name])
    def check(xs):
        derivatives = local(name, *xs)
        assert len(derivatives) == len(xs)
        for i in range(len(xs)):
            estimate, error = difference(op, xs, i)
            assert close_to_difference(derivatives[i], estimate, error), (name, xs, i, derivatives[i], estimate)

    check()


@pytest.mark.parametrize(
    "name, xs, expected",
    [
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
        ("xlogy", [0, 0], 0),
        ("xlogy", [2, math.e], 2.0),
        ("mulpow", [0, 0, -1], 0),
        ("mulpow", [3, 2, 2], 12),
        ("sqrt", [2.25], 1.5),
        ("sin", [0], 0.0),
        ("cos", [0], 1.0),
        ("abs", [-3], 3),
        ("max", [1, 5, 2], 5),
        ("min", [1, 5, -2.5], -2.5),
        ("where", [1, 10, 20], 10),
        ("where", [0, 10, 20], 20),
        ("lt", [1, 2], 1),
        ("le", [2, 2], 1),
        ("gt", [2, 2], 0),
        ("ge", [2, 2.5], 0),
        ("eq", [2, 2.0], 1),
    ],
)
def test_forward_values(name, xs, expected):
    assert OPS[name].forward(*xs) == expected


def test_mul_local_derivative_is_product_of_others_left_to_right():
    xs = [0.1, 0.2, 0.3, 0.7]
    assert local("mul", *xs) == ((0.2 * 0.3) * 0.7, (0.1 * 0.3) * 0.7, (0.1 * 0.2) * 0.7, (0.1 * 0.2) * 0.3)


def test_mul_with_many_operands_stays_close_to_exact():
    xs = [1.0 + i / 1000 for i in range(200)]
    total = math.prod(xs)
    for x, d in zip(xs, local("mul", *xs)):
        assert math.isclose(d, total / x, rel_tol=1e-12)


def test_a_product_whose_partial_products_leave_the_float_range_is_still_found():
    assert product([1e200, 1e200, 1e-200]) == pytest.approx(1e200, rel=1e-15, abs=0)
    assert product([1e-200, 1e-200, 1e200]) == pytest.approx(1e-200, rel=1e-15, abs=0)
    assert product([0.1, 0.2, 0.3]) == (0.1 * 0.2) * 0.3  # left to right where nothing overflows
    # the product of the others of the first operand is finite though 1e150**3 is not
    d = local("mul", 1e-100, 1e250, 1e100, 1e-300)[0]
    assert d == pytest.approx(1e50, rel=1e-15, abs=0)


def test_integers_stay_exact_while_small_and_become_floats_past_2_to_53():
    assert OPS["mul"].forward(100, 2) == 200 and type(OPS["mul"](100, 2)) is int
    big = OPS["mul"](2**40, 2**40)
    assert type(big) is float and big == 2.0**80


def test_sigmoid_is_stable_at_extremes():
    assert OPS["sigmoid"].forward(-1000) == 0.0
    assert OPS["sigmoid"].forward(1000) == 1.0


@pytest.mark.parametrize("x", [30.0, 40.0, 700.0, -30.0, -700.0])
def test_sigmoid_and_tanh_derivatives_keep_their_precision_when_saturated(x):
    # sigmoid'(x) = e^-|x| / (1 + e^-|x|)^2 and tanh'(x) = 4 e^-2|x| / (1 + e^-2|x|)^2, worked out apart
    e = math.exp(-abs(x))
    assert local("sigmoid", x)[0] == pytest.approx(e / (1 + e) ** 2, rel=1e-14, abs=0)
    e2 = math.exp(-2 * abs(x))
    assert local("tanh", x)[0] == pytest.approx(4 * e2 / (1 + e2) ** 2, rel=1e-14, abs=1e-320)


@pytest.mark.parametrize(
    "x, y", [(1.7976931348623157e308, 1.7976931348623157e308), (-6.16e-160, -6.16e-160), (0.0, -1e-300), (3.0, 1e-200)]
)
def test_div_derivatives_stay_finite_wherever_they_are(x, y):
    dx, dy = local("div", x, y)
    assert dx == 1 / y and dy == -(x / y) / y  # PyTorch's form, never y ** 2
    if x == y:
        assert dx + dy == 0


def test_kinks_follow_pytorch():
    assert local("relu", 0) == (0,)
    assert local("pow", 0, 0) == (0, 0)  # d(x**0)/dx = 0; the exponent's gradient is 0 at base 0
    assert local("pow", 0.0, 2) == (0.0, 0)


def test_an_unneeded_derivative_may_be_undefined_without_harm():
    # a constant exponent at a negative base: the exponent's gradient is undefined, the base's is fine
    dx, dy = local("pow", -3, 2)
    assert dx == -6 and type(dy) is Undefined and "negative" in dy.reason


@pytest.mark.parametrize(
    "name, xs",
    [
        ("div", [1, 0]),
        ("log", [0]),
        ("log", [-1]),
        ("pow", [-8, 1 / 3]),
        ("pow", [0, -1]),
        ("xlogy", [1, -1]),
        ("xlogy", [0, -1]),
        ("xlogy", [2, 0]),
    ],
)
def test_domain_errors(name, xs):
    with pytest.raises(OpDomainError):
        OPS[name].forward(*xs)


def test_applying_an_op_to_numbers_gives_undefined_rather_than_raising():
    assert type(OPS["log"](-1)) is Undefined
    assert type(OPS["exp"](1000)) is Undefined
    assert OPS["log"](1) == 0.0


def test_huge_integer_power_is_refused_quickly():
    with pytest.raises(OverflowError):
        OPS["pow"].forward(10, 10**9)


def test_pow_base_gradient_at_zero_with_a_small_exponent_is_undefined():
    assert type(local("pow", 0, 0.5)[0]) is Undefined


def test_the_readmes_table_of_ops_is_the_op_table_whole():
    """Each op's operands, value, local derivatives, domain, convention at kinks and whether it
    works on arrays alone, as the registry declares them: the README's table is printed from it."""
    from cgraph_cli.commands.ops import ops_markdown

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Operations", 1)[1].split("\n## ", 1)[0]
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))
    assert table == ops_markdown()
    rows = [line.strip("|").split(" | ") for line in table.splitlines()[2:]]
    assert [row[0].strip() for row in rows] == [op.name for op in sorted(OPS.values(), key=lambda o: o.arrays_only)]


@pytest.mark.parametrize("name", [name for name, op in OPS.items() if op.domain == "all" and not op.arrays_only])
def test_an_op_said_to_take_all_numbers_has_a_value_at_each(name):
    """The declared domain "all": a value at every operand in a range where nothing overflows."""
    op = OPS[name]
    rng = random.Random(name)
    for _ in range(200):
        xs = [rng.uniform(-30.0, 30.0) for _ in range(op.min_args)]
        assert type(op(*xs)) is not Undefined, (name, xs)
    assert type(op(*[0.0] * op.min_args)) is not Undefined


def test_max_and_min_share_the_gradient_evenly_at_a_tie_as_torch_maximum():
    assert local("max", 2.0, 2.0) == (0.5, 0.5)  # torch.maximum(x, x).backward() gives x.grad 1 in halves
    assert local("max", 3, 1, 3) == (0.5, 0.0, 0.5)
    assert local("min", 3, 1, 3) == (0.0, 1.0, 0.0)
    assert local("max", 7) == (1,)


def test_abs_derivative_at_zero_is_zero_and_where_sends_nothing_to_its_condition():
    assert local("abs", 0) == (0,)
    assert local("abs", -2.5) == (-1,)
    assert local("where", 1, 4.0, 5.0) == (0, 1, 0)
    assert local("where", 0, 4.0, 5.0) == (0, 0, 1)
    assert local("lt", 1, 2) == (0, 0)


def test_sqrt_derivative_at_zero_is_undefined_not_infinite():
    from cgraph_cli.core.engine import evaluate
    from cgraph_cli.read.loader import load_text

    result = evaluate(load_text("inputs: {x: 0.0}\nnodes: {y: {op: sqrt, inputs: [x]}}\n"))
    assert result.value == 0.0
    assert type(result.grad_of("x")) is Undefined and "division by zero" in result.grad_of("x").reason


def test_the_fuzz_suite_draws_every_op():
    from .strategies import ARITY

    assert set(ARITY) == set(NUMBER_OPS)
    for name, (low, high) in ARITY.items():
        assert OPS[name].arity_problem(low) is None and OPS[name].arity_problem(high) is None, name


def _left_to_right_others(xs):
    out = []
    for i in range(len(xs)):
        others = xs[:i] + xs[i + 1 :]
        p = others[0]
        for x in others[1:]:
            p = p * x
        out.append(p)
    return out


def _before_times_after(xs):
    n = len(xs)
    before, after = [1] * n, [1] * n
    for i in range(1, n):
        before[i] = before[i - 1] * xs[i - 1]
    for i in range(n - 2, -1, -1):
        after[i] = xs[i + 1] * after[i + 1]
    return [b * a for b, a in zip(before, after)]


def test_mul_takes_each_product_of_the_others_left_to_right_up_to_64_operands_and_by_prefix_and_suffix_past():
    """README: mul with more than 64 operands uses prefix and suffix products, so it stays linear."""
    import random

    from cgraph_cli.core.ops import MUL_EXACT_LIMIT

    assert MUL_EXACT_LIMIT == 64
    rng = random.Random(3)
    for n in (64, 65):
        xs = [rng.uniform(0.5, 2.0) for _ in range(n)]
        exact_way, linear_way = _left_to_right_others(xs), _before_times_after(xs)
        assert exact_way != linear_way  # the two ways differ in some last digit, so the test can tell
        assert list(local("mul", *xs)) == (exact_way if n <= 64 else linear_way), n


def test_a_product_whose_partial_product_is_subnormal_keeps_its_digits():
    # 1e-160 * 1e-160 is 1e-320: a subnormal with 4 digits left; taken apart it keeps all 16
    assert product([1e-160, 1e-160, 1e160]) == pytest.approx(1e-160, rel=1e-15, abs=0)
    assert product([3e-170, 2e-150, 1e170]) == pytest.approx(6e-150, rel=1e-15, abs=0)
    xs = np.array([1e-160, 3e-170]), np.array([1e-160, 2e-150]), np.array([1e160, 1e170])
    assert OPS["mul"].array(np, *xs) == pytest.approx([1e-160, 6e-150], rel=1e-15, abs=0)  # the same on arrays


@pytest.mark.parametrize(
    "name, xs, piece",
    [
        ("max", (1.0, 3.0, 2.0), 1),
        ("max", (3.0, 1.0, 3.0), None),
        ("min", (1.0, 3.0, 2.0), 0),
        ("min", (2.0, 3.0, 2.0), None),
        ("relu", (0.5,), True),
        ("relu", (-0.5,), False),
        ("relu", (0.0,), None),
        ("abs", (1.0,), True),
        ("lt", (1.0, 2.0), True),
        ("lt", (3.0, 2.0), False),
        ("lt", (2.0, 2.0), None),
        ("where", (0.0, 1.0, 2.0), False),
        ("where", (-3.0, 1.0, 2.0), True),
        ("pow", (2.0, 0.5), True),
        ("pow", (-2.0, -1.0), False),
        ("pow", (0.0, 0.5), None),
        ("pow", (-2.0, 2.0), 0),  # a whole exponent of 1 or more: one piece everywhere
        ("pow", (0.0, 1.0), 0),
        ("pow", (0.0, 0.0), None),  # x ** 0 is 1, but 0 ** y is not smooth in y there
        ("pow", (0.5, 0.5), True),
        ("pow", (-0.5, 0.5), False),
        ("mulpow", (3.0, 0.0, 0.5), None),
        ("mulpow", (3.0, 0.0, 2.0), 0),
    ],
)
def test_each_ops_smooth_piece(name, xs, piece):
    """What `check` and the oracle's comparison read: which smooth piece of its op a point is on (None at a kink)."""
    got = OPS[name].kink(*xs)
    assert (type(got), got) == (type(piece), piece)  # False == 0, but a side of 0 is not "one piece"


def test_only_a_finite_real_number_is_finite():
    assert op_machinery.is_finite(5) and op_machinery.is_finite(-1.5) and op_machinery.is_finite(2**60)
    assert not op_machinery.is_finite(10**400)  # an int past a float's range
    assert not op_machinery.is_finite(math.inf) and not op_machinery.is_finite(math.nan)
    assert not op_machinery.is_finite("x") and not op_machinery.is_finite(None)


@pytest.mark.parametrize(
    "name, count, message",
    [
        ("sub", 3, "sub takes 2 operands, got 3"),
        ("sub", 1, "sub takes 2 operands, got 1"),
        ("neg", 2, "neg takes 1 operand, got 2"),
        ("neg", 0, "neg takes 1 operand, got 0"),
        ("max", 0, "max takes 1 or more operands, got 0"),
        ("where", 2, "where takes 3 operands, got 2"),
    ],
)
def test_a_wrong_number_of_operands_is_told_word_for_word(name, count, message):
    assert OPS[name].arity_problem(count) == message


def test_a_negative_square_root_says_so():
    with pytest.raises(OpDomainError, match="^square root of a negative number$"):
        OPS["sqrt"].forward(-0.5)
    assert OPS["sqrt"].forward(0.0) == 0.0 and OPS["sqrt"].forward(0.25) == 0.5


def test_max_of_one_operand_passes_the_gradient_whole():
    assert local("max", 7) == (1,) and type(local("max", 7)[0]) is int  # an int gradient stays an int
    assert local("max", 3, 5) == (0, 1) and local("max", 5, 5) == (0.5, 0.5)
    assert local("min", 7) == (1,) and local("min", 3, 5) == (1, 0)


@pytest.mark.parametrize(
    "xs",
    [
        (1e-160, 1e-160, 1e160),  # a subnormal partial product
        (1e-200, 1e-200, 1e200),  # a partial product of 0 from operands that are not
        (1e200, 1e200, 1e-200),  # a partial product of inf, a finite result
        (1e-200, -1.0, 1e-200, 1e200, 1.0),  # signs, and operands of exactly ±1
        (2.0, 3.0, 4.0),
        (0.0, 1e-200, 1e200),  # a true 0
    ],
)
def test_mul_on_arrays_takes_the_careful_product_where_partial_products_leave_the_range(xs):
    # each first row holds these operands, each second row 2s; the exact product is the reference
    exact_product = float(math.prod(Fraction(x) for x in xs))
    got = OPS["mul"].array(np, *[np.array([x, 2.0]) for x in xs])
    assert got[0] == pytest.approx(exact_product, rel=1e-15, abs=0) and got[0] == product(list(xs))
    assert got[1] == 2.0 ** len(xs)  # the untroubled row keeps the plain product


def test_a_product_too_large_for_a_float_is_inf_on_arrays_and_an_overflow_on_numbers():
    got = OPS["mul"].array(np, np.array([1e200, 1.0]), np.array([1e200, 1.0]), np.array([1e-10, 1.0]))
    assert got.tolist() == [math.inf, 1.0]
    with pytest.raises(OverflowError):
        product([1e200, 1e200, 1e-10])


def test_mulpow_on_arrays_is_0_where_its_first_operand_is():
    with np.errstate(all="ignore"):
        got = OPS["mulpow"].array(np, np.array([0.0, 2.0, 0.0]), np.array([0.0, 3.0, 2.0]), np.array([-1.0, 2.0, 3.0]))
    assert got.tolist() == [0.0, 18.0, 0.0]  # 0 · 0 ** -1 would be nan


def test_xlogy_on_arrays_is_0_at_0_log_0_and_nan_below_0():
    with np.errstate(all="ignore"):
        got = OPS["xlogy"].array(np, np.array([0.0, 2.0, 0.0, 1.0]), np.array([0.0, 3.0, -1.0, 0.0]))
    assert got[0] == 0.0 and got[1] == 2 * math.log(3.0) and np.isnan(got[2]) and not np.isfinite(got[3])


def test_an_exponent_too_large_for_a_float_is_refused_before_it_is_computed():
    assert ops.power(0, 5000) == 0 and ops.power(1, 10**9) == 1 and ops.power(-1, 10**9 + 1) == -1
    assert ops.power(2, 1000) == 2**1000  # an exact int, 302 digits: cheap, and a float holds it
    with pytest.raises(OverflowError):
        ops.power(2, 10**9)  # 2 ** 10**9 would take seconds and 125 MB before failing as a float
    with pytest.raises(OverflowError):
        ops.power(-3, 10**6)


@pytest.mark.parametrize("name", [name for name, op in OPS.items() if op.linear_in_first])
def test_an_op_said_linear_in_its_first_operand_is(name):
    """linear_in_first lets a gradient go into the first operand (d / y, not d * (1 / y)): it must
    be true, op(d * x, ...) = d * op(x, ...), to rounding."""
    op = OPS[name]
    rng = random.Random(name)
    for _ in range(200):
        xs = [rng.uniform(-10.0, 10.0) or 1.0 for _ in range(op.min_args)]
        d = rng.uniform(-10.0, 10.0)
        assert math.isclose(op(d * xs[0], *xs[1:]), d * op(*xs), rel_tol=1e-12, abs_tol=1e-12), (name, d, xs)


# -- the ops of pricing and statistics, against arbitrary precision (mpmath) --------------------


def _mp_truth(name: str, x: float) -> float:
    import mpmath

    mpmath.mp.dps = 60
    x = mpmath.mpf(x)
    truth = {
        "erf": lambda: mpmath.erf(x),
        "erfc": lambda: mpmath.erfc(x),
        "normal_pdf": lambda: mpmath.npdf(x),
        "normal_cdf": lambda: mpmath.ncdf(x),
        "log_normal_cdf": lambda: mpmath.log(mpmath.ncdf(x)) if x < 0 else mpmath.log1p(-mpmath.ncdf(-x)),
        "normal_ppf": lambda: mpmath.sqrt(2) * mpmath.erfinv(2 * x - 1),
        "log1p": lambda: mpmath.log1p(x),
        "expm1": lambda: mpmath.expm1(x),
        "softplus": lambda: mpmath.log1p(mpmath.exp(x)),
    }[name]()
    return float(truth)


@pytest.mark.parametrize(
    "name", ["erf", "erfc", "normal_pdf", "normal_cdf", "log_normal_cdf", "normal_ppf", "log1p", "expm1", "softplus"]
)
def test_each_statistics_op_is_within_rounding_of_the_truth(name):
    # Within a few ulps, and x² more where the op's argument x/√2 or x²/2 rounds first (erfc(x/√2)
    # moves by 2x² times x/√2's relative rounding): the accuracy of the C library's erfc itself.
    @settings(max_examples=examples(200), deadline=None)
    @given(OP_DOMAINS[name])
    def check(xs):
        (x,) = xs
        got, truth = OPS[name].forward(x), _mp_truth(name, x)
        conditioning = 1 + x * x if name in ("erfc", "normal_cdf", "log_normal_cdf", "normal_pdf") else 1
        assert abs(got - truth) <= 8 * conditioning * math.ulp(truth), (x, got, truth)

    check()


@pytest.mark.parametrize(
    "name, xs, expected",
    [
        ("normal_cdf", [1.96], 0.9750021048517795),  # the 97.5% point of every statistics table
        ("normal_ppf", [0.5], 0.0),  # (Φ⁻¹(0.975) = 1.95996398454005385...: within rounding, tested above)
        ("log_normal_cdf", [-40.0], -804.6084420137538),  # where ln(Φ(x)) itself underflows
        ("softplus", [1000.0], 1000.0),  # no overflow
        ("softplus", [-1000.0], 0.0),
        ("floor", [-2.5], -3.0),
        ("ceil", [-2.5], -2.0),
        ("round", [2.5], 2.0),  # a half to the even neighbour, as Python's round and numpy's
        ("round", [3.5], 4.0),
        ("round", [-2.5], -2.0),
        ("floor", [3], 3),  # a whole number stays one
        ("clip", [5, 0, 1], 1),
        ("clip", [-1.5, 0, 1], 0),
        ("clip", [0.25, 0, 1], 0.25),
    ],
)
def test_statistics_and_rounding_values(name, xs, expected):
    got = OPS[name].forward(*xs)
    assert got == expected and type(got) is type(expected)


def test_rounding_ops_are_flat_and_clip_sends_the_gradient_to_what_it_returns():
    assert local("floor", 2.7) == (0,) and local("round", -1.2) == (0,)
    assert local("clip", 0.5, 0.0, 1.0) == (1, 0, 0)  # inside: to x
    assert local("clip", -2.0, 0.0, 1.0) == (0, 1, 0)  # below: to lo
    assert local("clip", 3.0, 0.0, 1.0) == (0, 0, 1)  # above: to hi
    assert local("clip", 1.0, 0.0, 1.0) == (1, 0, 0)  # on an edge: to x, as torch.clamp
    with pytest.raises(OpDomainError):
        OPS["clip"].forward(0.5, 1.0, 0.0)


def test_the_tail_derivative_of_ln_phi_is_the_mills_ratio():
    import mpmath

    mpmath.mp.dps = 60
    for x in (-63191.0, -40.0, -31.0, -6.0, 0.5):
        truth = float(mpmath.npdf(x) / mpmath.ncdf(x))
        (d,) = local("log_normal_cdf", x)
        assert abs(d - truth) <= 1e-13 * truth, (x, d, truth)
