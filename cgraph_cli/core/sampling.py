"""Uniform numbers for Monte Carlo, in (0, 1), that depend only on the seed, the sample's global
index and the dimension: samples start..start+count are the same numbers however the run is cut
into chunks, and on whichever machine a chunk runs.

- random: a counter-based generator (SplitMix64's finalizer on the index, keyed by seed and
  dimension): no state to carry from one chunk to the next.
- lhs (Latin hypercube, the default): for n samples, each dimension's n strata [k/n, (k+1)/n) are
  each hit once. Sample i of dimension j falls in stratum perm_j(i), perm_j a random permutation of
  0..n-1 computed per index (a Feistel network with cycle-walking: no table of n entries), at a
  random point within it.
- sobol: scipy.stats.qmc's scrambled Sobol sequence, fast-forwarded to the chunk's start.
"""

from __future__ import annotations

SAMPLERS = ("lhs", "sobol", "random")

_M1, _M2, _GOLDEN = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1


def _mix(np, z):
    """SplitMix64's finalizer on uint64s (wrapping arithmetic): a bijection that scrambles bits."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(_M1)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


def _key(seed: int, dimension: int, stream: int) -> int:
    """A 64-bit key for (seed, dimension, stream), well mixed."""
    z = (seed * _GOLDEN + (dimension + 1) * 0xD1B54A32D192ED03 + stream * 0x8CB92BA72F3D8DD7) & _MASK
    for _ in range(2):
        z ^= z >> 30
        z = (z * _M1) & _MASK
        z ^= z >> 27
        z = (z * _M2) & _MASK
        z ^= z >> 31
    return z


def _hash(np, index, key: int):
    """A uint64 hash of each index under `key`."""
    with np.errstate(over="ignore"):
        return _mix(np, (index.astype(np.uint64) * np.uint64(_GOLDEN)) ^ np.uint64(key))


def _open_unit(np, bits):
    """uint64 hashes as floats in the open interval (0, 1): the top 53 bits, and half a step."""
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def uniforms(np, sampler: str, seed: int, dimensions: int, n: int, start: int, count: int):
    """Uniform numbers in (0, 1) for samples start..start+count of n, one column per dimension:
    an array of shape (count, dimensions)."""
    index = np.arange(start, start + count, dtype=np.uint64)
    out = np.empty((count, dimensions))
    if sampler == "sobol":
        from scipy.stats import qmc

        engine = qmc.Sobol(dimensions, scramble=True, seed=seed)
        if start:
            engine.fast_forward(start)
        import warnings

        with warnings.catch_warnings():  # (a chunk need not be a power of 2: the sequence is the same)
            warnings.simplefilter("ignore", UserWarning)
            points = engine.random(count) if count else np.empty((0, dimensions))
        return np.clip(points, 2.0**-54, 1 - 2.0**-53)  # (scrambled points are almost never 0)
    for j in range(dimensions):
        jitter = _open_unit(np, _hash(np, index, _key(seed, j, 0)))
        if sampler == "random":
            out[:, j] = jitter
        else:  # lhs
            out[:, j] = (_permute(np, index, n, _key(seed, j, 1)).astype(np.float64) + jitter) / n
    return out


def _permute(np, index, n: int, key: int):
    """A random permutation of 0..n-1 applied to `index` (each below n), keyed by `key`: a balanced
    Feistel network on the smallest even number of bits that holds n, walked again from any value
    at n or above until it falls below (at most 4 times as many steps as values, on average 2)."""
    half = max(1, ((n - 1).bit_length() + 1) // 2)
    low = np.uint64((1 << half) - 1)
    shift = np.uint64(half)
    keys = [np.uint64(_key(key, r, 2)) for r in range(4)]

    def rounds(x):
        left, right = x >> shift, x & low
        with np.errstate(over="ignore"):
            for k in keys:
                left, right = right, left ^ (_mix(np, right ^ k) & low)
        return (left << shift) | right

    x = rounds(index.astype(np.uint64))
    outside = x >= np.uint64(n)
    while outside.any():  # cycle-walking: a bijection on 0..4^half-1 restricted to 0..n-1 stays one
        x[outside] = rounds(x[outside])
        outside = x >= np.uint64(n)
    return x


def second_seed(seed: int) -> int:
    """A seed for a second design independent of the seed's first (Sobol indices' B)."""
    return _key(seed, 0, 4) >> 1


def permutation(np, n: int, seed: int, dimension: int):
    """A random permutation of 0..n-1 of the seed's, one per dimension (Iman-Conover's score order)."""
    return _permute(np, np.arange(n, dtype=np.uint64), n, _key(seed, dimension, 3)).astype(np.int64)
