"""What `cgraph mc`'s figures share, whether the samples were kept (mc.py) or reduced as they went
(mc_stream.py): the counts, the delta-method note, and each input's share of the rank correlations."""

from __future__ import annotations

import math

NONLINEAR = 1.5  # the delta-method sd and the Monte Carlo sd differ by more than this factor: a note


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
