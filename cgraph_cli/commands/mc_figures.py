"""What `cgraph mc`'s two ways share, the samples kept (mc.py) or reduced as they went
(mc_stream.py): the run and what it was asked, the counts, the delta-method note, and each
input's share of the rank correlations."""

from __future__ import annotations

import math
from typing import Any

from ..core.distributions import Distribution
from ..core.graph import Plan

DEFAULT_PERCENTILES = (1, 5, 10, 50, 90, 95, 99)
NONLINEAR = 1.5  # the delta-method sd and the Monte Carlo sd differ by more than this factor: a note


class MonteCarlo:
    """A Monte Carlo run: per sample, the output and each uncertain input's value and gradient."""

    def __init__(self, plan: Plan, of: int, n: int, seed: int, sampler: str, dists: dict, target):
        self.plan, self.of, self.n, self.seed, self.sampler = plan, of, n, seed, sampler
        self.dists: dict[str, Distribution] = dists  # name -> Distribution, in file order
        self.target = target
        self.value: Any = None  # the output in each sample, an array (nan where it has no value)
        self.drawn: dict = {}  # name -> its value in each sample
        self.grads: dict = {}  # name -> d(output)/d(name) in each sample (inputs, not constants)
        self.failed: dict[int, str] = {}  # sample -> why it has no value
        self.point_grads: dict = {}  # name -> d(output)/d(name) at the point values (the delta method)
        self.percentiles: tuple = DEFAULT_PERCENTILES
        self.correlations: list = []  # the rank correlations imposed: (a, b, rho)
        self.interrupted: int | None = None  # the samples asked for, where Ctrl-C stopped the run short
        self.sobol: dict | None = None  # --sobol: each input's first and total indices, with intervals
        self.workers = 0  # the Dask workers that reduced it (0: in process)

    @property
    def of_name(self) -> str:
        return self.plan.names[self.of]


def counts(n: int, valid: int, reasons: dict) -> dict:
    """How many samples, how many with a value, and the ten commonest reasons of those without."""
    out: dict = {"samples": n, "with_a_value": valid, "without_a_value": n - valid}
    if reasons:
        out["why_not"] = dict(sorted(reasons.items(), key=lambda item: -item[1])[:10])
    return out


def delta_method(out: dict, delta_sd: float, sd: float) -> None:
    """The first-order sd from the gradients at the point values, and whether it is more than
    NONLINEAR times off the Monte Carlo sd (the model too nonlinear for the linear rule)."""
    out["delta_method_sd"] = delta_sd
    ratio = delta_sd / sd if sd else math.inf
    out["nonlinear"] = not (1 / NONLINEAR <= ratio <= NONLINEAR)


def contributions(inputs: dict, rho: dict) -> None:
    """Each input's Spearman correlation with the output and its share of their squares (Crystal
    Ball's contribution to variance); nan and 0 where there is none."""
    squares = math.fsum(r * r for r in rho.values() if r == r)
    for name, entry in inputs.items():
        r = rho.get(name, math.nan)
        entry["spearman"] = r
        entry["contribution"] = r * r / squares if squares and r == r else 0.0
