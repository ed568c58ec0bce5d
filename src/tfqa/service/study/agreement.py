"""Inter-rater agreement and Bradley–Terry strengths (functional core of the study analysis).

No installed library offers Fleiss' κ (statsmodels is not a dependency) and the
``krippendorff`` package is GPL, so both are written here from their definitions and
tested against the published worked examples (Fleiss 1971 as tabulated on Wikipedia:
κ = 0.210; Krippendorff 2011, "Computing Krippendorff's alpha-reliability": nominal
α = 0.743).  Bradley–Terry fits use ``choix`` (I-LSR, Maystre & Grossglauser 2015);
bootstrap intervals use :func:`scipy.stats.bootstrap`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' κ of ``counts`` (items × categories): how many raters put item i in category j.

    Every item must have the same number of ratings (≥ 2).  Returns NaN when the raters
    used a single category throughout (κ is undefined: expected agreement is 1).
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or counts.shape[0] == 0:
        raise ValueError(f"Expected `counts` to be a non-empty 2-D array, but got {counts.shape}")
    n = counts.sum(axis=1)
    if not np.allclose(n, n[0]) or n[0] < 2:
        raise ValueError(
            f"Expected `counts` to have the same number (>= 2) of ratings per item, but got {n}"
        )
    n_r = n[0]
    p_j = counts.sum(axis=0) / counts.sum()
    p_i = (np.square(counts).sum(axis=1) - n_r) / (n_r * (n_r - 1))
    p_bar, p_e = p_i.mean(), np.square(p_j).sum()
    if np.isclose(p_e, 1.0):
        return float("nan")
    return float((p_bar - p_e) / (1.0 - p_e))


def krippendorff_alpha_nominal(ratings: np.ndarray) -> float:
    """Krippendorff's α for nominal data; ``ratings`` is raters × items with NaN where missing.

    Items with fewer than two ratings carry no pairable values and are ignored.  Returns NaN
    when fewer than two pairable values remain or all values are identical.
    """
    r = np.asarray(ratings, dtype=float)
    if r.ndim != 2:
        raise ValueError(f"Expected `ratings` to be 2-D (raters x items), but got {r.shape}")
    values = np.unique(r[~np.isnan(r)])
    index = {v: k for k, v in enumerate(values)}
    coincidence = np.zeros((len(values), len(values)))
    for unit in r.T:
        vals = unit[~np.isnan(unit)]
        m = len(vals)
        if m < 2:
            continue
        c = np.zeros(len(values))
        for v in vals:
            c[index[v]] += 1
        # Each ordered pair of values from different raters in this unit, weighted 1/(m-1).
        coincidence += (np.outer(c, c) - np.diag(c)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        return float("nan")
    observed = n - np.trace(coincidence)
    expected = (n * n - np.square(n_c).sum()) / (n - 1)
    if expected == 0:
        return float("nan")
    return float(1.0 - observed / expected)


def bt_strengths(
    n_items: int, winners: Sequence[int], losers: Sequence[int], ties: np.ndarray, alpha=0.01
) -> np.ndarray:
    """Bradley–Terry log-strengths (centred to mean 0) from paired comparisons.

    Args:
        n_items: number of items.
        winners, losers: item indices of each comparison (for a tie, the order is irrelevant).
        ties: boolean array, True where the comparison was a tie (counted as half a win each).
        alpha: small ridge penalty, so items that always win or lose get finite strengths.
    """
    import choix

    w = np.asarray(winners, dtype=int)
    lo = np.asarray(losers, dtype=int)
    t = np.asarray(ties, dtype=bool)
    # choix takes unweighted (winner, loser) tuples: a win counts twice and a tie once each
    # way, which is the usual "tie = half a win for each side" convention.
    data = [(a, b) for a, b in zip(w[~t], lo[~t], strict=True) for _ in range(2)]
    data += [pair for a, b in zip(w[t], lo[t], strict=True) for pair in ((a, b), (b, a))]
    if not data:
        return np.zeros(n_items)
    theta = choix.ilsr_pairwise(n_items, data, alpha=alpha)
    return theta - theta.mean()


def bt_bootstrap(
    n_items: int,
    winners: np.ndarray,
    losers: np.ndarray,
    ties: np.ndarray,
    *,
    n_resamples: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strengths and percentile bootstrap CIs (comparisons resampled with replacement).

    Returns:
        ``(theta, low, high)``, each of shape ``(n_items,)``; CIs are NaN with < 2 comparisons.
    """
    winners, losers, ties = (np.asarray(x) for x in (winners, losers, ties))
    theta = bt_strengths(n_items, winners, losers, ties)
    n = len(winners)
    if n < 2:
        nan = np.full(n_items, np.nan)
        return theta, nan, nan

    def statistic(idx: np.ndarray) -> np.ndarray:
        idx = idx.astype(int)
        return bt_strengths(n_items, winners[idx], losers[idx], ties[idx])

    res = stats.bootstrap(
        (np.arange(n),),
        statistic,
        vectorized=False,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return theta, np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high)
