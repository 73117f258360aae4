"""Distributions of uncertain inputs, for Monte Carlo: read from their text, and drawn by their
inverse CDF from uniform numbers (so any sampler, random, Latin hypercube or Sobol, feeds any
distribution the same way).

The forms, as analysts write them:

    normal(mean, sd)
    lognormal(mean, sd)                 by the mean and sd of the values themselves
    lognormal(median=M, factor=F)       90% of draws between M/F and M×F
    uniform(lo, hi)
    triangular(lo, mode, hi)
    pert(lo, mode, hi)                  a beta on [lo, hi], shape 4 (the PERT estimate)
    discrete(1: 0.2, 2: 0.5, 3: 0.3)    values with weights (or discrete(1, 2, 3): equal ones)
    90% 80 to 120                       a 90% interval: lognormal when both ends are positive,
                                        normal otherwise (as Guesstimate and Squiggle read `a to b`);
                                        `80 to 120` alone is a 90% interval

A number may be written as the file writes one, percents too (`normal(2.5%, 0.5%)`).
"""

from __future__ import annotations

import math

from .errors import shorten

Z95 = 1.6448536269514722  # the standard normal's 95th percentile: a 90% interval is ±Z95 sd


class DistributionError(ValueError):
    """A distribution that cannot be read, or whose parameters make no distribution."""


class Distribution:
    """A distribution: its kind, its parameters (as written, for the report), and `draw(np, u)`,
    the values at uniform numbers u in (0, 1) (the inverse CDF)."""

    def __init__(self, kind: str, params: dict, text: str):
        self.kind, self.params, self.text = kind, params, text

    def __repr__(self) -> str:
        return f"Distribution({self.text!r})"

    @property
    def mean(self) -> float:
        p = self.params
        if self.kind == "normal":
            return p["mean"]
        if self.kind == "lognormal":
            return math.exp(p["mu"] + p["sigma"] ** 2 / 2)
        if self.kind == "uniform":
            return (p["lo"] + p["hi"]) / 2
        if self.kind == "triangular":
            return (p["lo"] + p["mode"] + p["hi"]) / 3
        if self.kind == "pert":
            return (p["lo"] + 4 * p["mode"] + p["hi"]) / 6
        return sum(v * w for v, w in zip(p["values"], p["weights"]))

    @property
    def variance(self) -> float:
        p = self.params
        if self.kind == "normal":
            return p["sd"] ** 2
        if self.kind == "lognormal":
            s2 = p["sigma"] ** 2
            return math.expm1(s2) * math.exp(2 * p["mu"] + s2)
        if self.kind == "uniform":
            return (p["hi"] - p["lo"]) ** 2 / 12
        if self.kind == "triangular":
            a, c, b = p["lo"], p["mode"], p["hi"]
            return (a * a + b * b + c * c - a * b - a * c - b * c) / 18
        if self.kind == "pert":
            a, b = _pert_shape(p)
            return (p["hi"] - p["lo"]) ** 2 * a * b / ((a + b) ** 2 * (a + b + 1))
        m = self.mean
        return sum(w * (v - m) ** 2 for v, w in zip(p["values"], p["weights"]))

    def draw(self, np, u):
        """The values at uniform numbers u (an array in (0, 1)): the inverse CDF, vectorized."""
        p = self.params
        if self.kind == "normal":
            return p["mean"] + p["sd"] * _ndtri(u)
        if self.kind == "lognormal":
            return np.exp(p["mu"] + p["sigma"] * _ndtri(u))
        if self.kind == "uniform":
            return p["lo"] + (p["hi"] - p["lo"]) * u
        if self.kind == "triangular":
            lo, mode, hi = p["lo"], p["mode"], p["hi"]
            width = hi - lo
            if width == 0:
                return np.full_like(u, lo)
            cut = (mode - lo) / width
            with np.errstate(invalid="ignore"):
                left = lo + np.sqrt(u * width * (mode - lo))
                right = hi - np.sqrt((1 - u) * width * (hi - mode))
            return np.where(u < cut, left, right)
        if self.kind == "pert":
            from scipy.special import betaincinv

            a, b = _pert_shape(p)
            return p["lo"] + (p["hi"] - p["lo"]) * betaincinv(a, b, u)
        values = np.asarray(p["values"], dtype=float)
        cumulative = np.cumsum(np.asarray(p["weights"], dtype=float))
        cumulative /= cumulative[-1]
        return values[np.minimum(np.searchsorted(cumulative, u, side="right"), len(values) - 1)]


def _ndtri(u):
    from scipy.special import ndtri

    return ndtri(u)


def _pert_shape(p: dict) -> tuple[float, float]:
    width = p["hi"] - p["lo"]
    return 1 + 4 * (p["mode"] - p["lo"]) / width, 1 + 4 * (p["hi"] - p["mode"]) / width


_ARITY = {"normal": 2, "lognormal": 2, "uniform": 2, "triangular": 3, "pert": 3}
KINDS = (*_ARITY, "discrete")


def parse_distribution(text: str, number) -> Distribution:
    """The distribution `text` writes; `number(text)` reads a number (a percent too) or raises
    ValueError. DistributionError, with what is wrong, else."""
    spec = text.strip()
    if " to " in spec:
        return _interval(spec, number)
    name, paren, rest = spec.partition("(")
    name = name.strip()
    if not paren or not rest.rstrip().endswith(")"):
        raise DistributionError(
            f"'{shorten(spec)}' is not a distribution; write one of "
            "normal(mean, sd), lognormal(mean, sd), lognormal(median=M, factor=F), uniform(lo, hi), "
            "triangular(lo, mode, hi), pert(lo, mode, hi), discrete(v1: w1, v2: w2, ...), 90% lo to hi"
        )
    if name not in KINDS:
        from .errors import did_you_mean

        raise DistributionError(
            f"unknown distribution '{shorten(name)}'{did_you_mean(name, KINDS)} (the kinds: {', '.join(KINDS)})"
        )
    args = [a.strip() for a in rest.rstrip()[:-1].split(",")] if rest.rstrip()[:-1].strip() else []
    if name == "discrete":
        return _discrete(spec, args, number)
    keyed = {}
    plain = []
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq:
            keyed[key.strip()] = _number(number, value, spec)
        else:
            if keyed:
                raise DistributionError(f"'{shorten(spec)}': a number without a name after a named one")
            plain.append(_number(number, arg, spec))
    if name == "lognormal" and keyed:
        if set(keyed) != {"median", "factor"} or plain:
            raise DistributionError(f"'{shorten(spec)}': lognormal takes (mean, sd) or (median=M, factor=F)")
        median, factor = keyed["median"], keyed["factor"]
        if median <= 0 or factor <= 1:
            raise DistributionError(f"'{shorten(spec)}': the median must be above 0 and the factor above 1")
        sigma = math.log(factor) / Z95
        return Distribution("lognormal", {"mu": math.log(median), "sigma": sigma}, spec)
    if keyed:
        names = {"normal": ("mean", "sd"), "uniform": ("lo", "hi"), "lognormal": ("mean", "sd")}.get(
            name, ("lo", "mode", "hi")
        )
        if not set(keyed) <= set(names):
            raise DistributionError(f"'{shorten(spec)}': {name} takes ({', '.join(names)})")
        plain = plain + [keyed[n] for n in names[len(plain) :] if n in keyed]
    if len(plain) != _ARITY[name]:
        raise DistributionError(f"'{shorten(spec)}': {name} takes {_ARITY[name]} numbers, not {len(plain)}")
    return _checked(name, plain, spec)


def _number(number, text: str, spec: str) -> float:
    try:
        value = float(number(text.strip()))
    except ValueError:
        raise DistributionError(f"'{shorten(spec)}': '{shorten(text.strip())}' is not a number") from None
    if not math.isfinite(value):
        raise DistributionError(f"'{shorten(spec)}': {shorten(text.strip())} is not a finite number")
    return value


def _checked(name: str, args: list[float], spec: str) -> Distribution:
    where = f"'{shorten(spec)}'"
    if name == "normal":
        mean, sd = args
        if sd < 0:
            raise DistributionError(f"{where}: the sd is {sd!r}; it must be at least 0")
        return Distribution("normal", {"mean": mean, "sd": sd}, spec)
    if name == "lognormal":
        mean, sd = args
        if mean <= 0:
            raise DistributionError(f"{where}: a lognormal's mean must be above 0 (its values are)")
        if sd < 0:
            raise DistributionError(f"{where}: the sd is {sd!r}; it must be at least 0")
        sigma2 = math.log1p((sd / mean) ** 2)
        return Distribution("lognormal", {"mu": math.log(mean) - sigma2 / 2, "sigma": math.sqrt(sigma2)}, spec)
    if name == "uniform":
        lo, hi = args
        if lo > hi:
            raise DistributionError(f"{where}: lo {lo!r} is above hi {hi!r}")
        return Distribution("uniform", {"lo": lo, "hi": hi}, spec)
    lo, mode, hi = args
    if lo > hi:
        raise DistributionError(f"{where}: lo {lo!r} is above hi {hi!r}")
    if not lo <= mode <= hi:
        raise DistributionError(f"{where}: the mode {mode!r} is outside [{lo!r}, {hi!r}]")
    if name == "pert" and lo == hi:
        raise DistributionError(f"{where}: pert needs lo below hi")
    return Distribution(name, {"lo": lo, "mode": mode, "hi": hi}, spec)


def _discrete(spec: str, args: list[str], number) -> Distribution:
    if not args:
        raise DistributionError(f"'{shorten(spec)}': discrete needs at least one value")
    values, weights = [], []
    for arg in args:
        value, colon, weight = arg.partition(":")
        values.append(_number(number, value, spec))
        weights.append(_number(number, weight, spec) if colon else 1.0)
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise DistributionError(f"'{shorten(spec)}': the weights must be at least 0 and add up to more than 0")
    total = math.fsum(weights)
    return Distribution("discrete", {"values": values, "weights": [w / total for w in weights]}, spec)


def _interval(spec: str, number) -> Distribution:
    """`90% 80 to 120`: a 90% interval (the level may be left out: 90%)."""
    head, _, hi_text = spec.partition(" to ")
    parts = head.split()
    level = 0.9
    if len(parts) == 2:
        level = _number(number, parts[0], spec)
        parts = parts[1:]
    if len(parts) != 1:
        raise DistributionError(f"'{shorten(spec)}' is not an interval; write 90% LO to HI")
    if not 0 < level < 1:
        raise DistributionError(f"'{shorten(spec)}': the level must be between 0% and 100%")
    lo, hi = _number(number, parts[0], spec), _number(number, hi_text, spec)
    if not lo < hi:
        raise DistributionError(f"'{shorten(spec)}': {lo!r} must be below {hi!r}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    if lo > 0:  # both ends positive: lognormal, so the values stay positive
        mu, sigma = (math.log(lo) + math.log(hi)) / 2, (math.log(hi) - math.log(lo)) / (2 * z)
        return Distribution("lognormal", {"mu": mu, "sigma": sigma}, spec)
    return Distribution("normal", {"mean": (lo + hi) / 2, "sd": (hi - lo) / (2 * z)}, spec)
