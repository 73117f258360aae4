"""Rank correlations between inputs drawn for Monte Carlo, imposed by Iman and Conover's method
(1982; the one @RISK and XLRisk use): the values each input was drawn are kept, only their order
across the samples changes, so each keeps its distribution exactly.

Score columns (van der Waerden's: the normal quantiles of i/(n+1), in an order of the seed's) are
given the target correlation C by T = M · inv(chol(corr(M)))ᵀ · chol(C')ᵀ, C' = 2 sin(π C / 6) (the
Pearson correlation of normal scores whose rank correlation is C); each input's values are then
arranged in the rank order of its column of T.
"""

from __future__ import annotations


def matrix(np, names: list[str], pairs: list[tuple[str, str, float]]):
    """The correlation matrix over `names` (1 on the diagonal, 0 where no pair is given)."""
    at = {name: k for k, name in enumerate(names)}
    c = np.eye(len(names))
    for a, b, rho in pairs:
        if a in at and b in at:
            c[at[a], at[b]] = c[at[b], at[a]] = rho
    return c


def not_semidefinite(pairs: list[tuple[str, str, float]]) -> str | None:
    """Why these correlations cannot hold together (a negative eigenvalue), or None."""
    if not pairs:
        return None
    import numpy as np

    names = list(dict.fromkeys(name for a, b, _ in pairs for name in (a, b)))
    smallest = float(np.linalg.eigvalsh(matrix(np, names, pairs)).min())
    if smallest < -1e-10:
        return (
            f"the matrix of these correlations is not positive semi-definite (its smallest eigenvalue is "
            f"{smallest:.3g}): no inputs can be correlated so all at once; loosen the strongest ones"
        )
    return None


def _root(np, c):
    """A square root L of a positive semi-definite matrix, L Lᵀ = c (Cholesky where it can)."""
    try:
        return np.linalg.cholesky(c)
    except np.linalg.LinAlgError:  # semi-definite: through the eigenvalues
        w, v = np.linalg.eigh(c)
        return v * np.sqrt(np.clip(w, 0, None))


def iman_conover(np, columns: list, c, orders: list):
    """The columns (each an input's n draws) rearranged so their rank correlations approach c.
    `orders[j]` is a permutation of 0..n-1 (from the seed) that orders column j's scores."""
    from scipy.special import ndtri

    n = len(columns[0])
    # The scores are normal: their Pearson correlation 2 sin(π ρ / 6) has the rank correlation ρ.
    c = 2 * np.sin(np.pi * c / 6)
    scores = ndtri(np.arange(1, n + 1) / (n + 1))
    m = np.column_stack([scores[order] for order in orders])
    e = np.corrcoef(m, rowvar=False)
    t = m @ np.linalg.inv(_root(np, e)).T @ _root(np, c).T
    out = []
    for j, column in enumerate(columns):
        ranks = np.argsort(np.argsort(t[:, j], kind="stable"), kind="stable")
        out.append(np.sort(column, kind="stable")[ranks])
    return out
