"""Plots with matplotlib (the plot extra), imported only when asked for; axes kept finite near a float's end."""

from __future__ import annotations

import math


def axis_scale(numbers, label: str) -> tuple[float, str]:
    """What to divide the numbers on an axis by, and its label: 1, or where they come near a float's
    end (where matplotlib's ticks overflow) a power of ten, which the label says."""
    top = max(map(abs, numbers), default=0.0)
    if top <= 1e300:
        return 1, label
    exponent = math.floor(math.log10(top))
    return 10.0**exponent, f"{label} (× 1e{exponent})"


def pyplot():
    """matplotlib's pyplot, drawing to files (ImportError where matplotlib is missing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "cgraph"  # the same picture for the same numbers
    return plt


def picture(plt, figure, fmt: str) -> bytes:
    """A finished figure as SVG or PNG bytes (an SVG without a date: the same numbers, the same file)."""
    import io
    import warnings

    out = io.BytesIO()
    with warnings.catch_warnings():  # matplotlib's own warnings are not the user's business
        warnings.simplefilter("ignore")
        figure.tight_layout()
        figure.savefig(out, format=fmt, metadata={"Date": None} if fmt == "svg" else {}, dpi=120)
    plt.close(figure)
    return out.getvalue()
