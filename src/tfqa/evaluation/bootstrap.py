"""95 % bootstrap confidence intervals of the metrics (``scipy.stats.bootstrap``).

Clips are resampled with replacement, *paired* (a clip's true and predicted
score stay together), 200 times by default, with a seeded generator; the
interval is the percentile interval of the resampled statistic.  All metrics
of one dimension are computed on the same resamples (one vector-valued
statistic), so their intervals are consistent and the cost is one pass.

A resample on which a metric is undefined (a constant series: no
correlation) makes scipy's interval NaN; when at least
:data:`MIN_DEFINED_SHARE` of the resamples are defined, the interval is taken
over those instead (and stays NaN otherwise).

With ``groups`` (e.g. the person each clip shows), whole groups are resampled
instead of clips (a cluster bootstrap): the interval then says how much the
figure would move with *other people*, not only with other clips of the
same people — wider when a group's clips share an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tfqa.evaluation.metrics import METRICS, compute

N_RESAMPLES = 200
CONFIDENCE = 0.95
MIN_DEFINED_SHARE = 0.9


@dataclass(frozen=True)
class Estimate:
    """A metric's point estimate with its bootstrap interval."""

    value: float
    low: float
    high: float


def bootstrap_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    names: Sequence[str] | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    groups: Sequence | np.ndarray | None = None,
) -> dict[str, Estimate]:
    """Point estimates and percentile-bootstrap intervals of metrics of one dimension.

    Args:
        y_true, y_pred: ``(N,)`` scores.
        names: metric names (default: all of :data:`~tfqa.evaluation.metrics.METRICS`).
        n_resamples: bootstrap resamples.
        confidence: interval coverage.
        seed: seeds the resampling.
        groups: ``(N,)`` group of each clip: resample groups, not clips (needs >= 3 groups).

    Returns:
        ``{name: Estimate}``; NaN bounds when the metric is undefined on the
        resamples (e.g. a constant prediction) or N < 3.
    """
    from scipy.stats import bootstrap

    names = list(names or METRICS)
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    point = compute(t, p, names)
    members = group_members(groups, len(t))
    if len(t) < 3 or n_resamples <= 0 or (members is not None and len(members) < 3):
        return {n: Estimate(point[n], float("nan"), float("nan")) for n in names}

    def statistic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        m = compute(a, b, names)
        return np.array([m[n] for n in names])

    data, paired, stat = (t, p), True, statistic
    if members is not None:  # resample group indices; a resample's clips are its groups' clips

        def statistic_of_groups(k: np.ndarray) -> np.ndarray:
            rows = np.concatenate([members[int(i)] for i in k])
            return statistic(t[rows], p[rows])

        data, paired, stat = (np.arange(len(members)),), False, statistic_of_groups
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples give NaN bounds
        res = bootstrap(
            data,
            stat,
            paired=paired,
            vectorized=False,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    lo = np.atleast_1d(res.confidence_interval.low).astype(np.float64)
    hi = np.atleast_1d(res.confidence_interval.high).astype(np.float64)
    _fill_degenerate(lo, hi, np.atleast_2d(res.bootstrap_distribution), confidence)
    return {n: Estimate(point[n], float(lo[i]), float(hi[i])) for i, n in enumerate(names)}


def group_members(groups: Sequence | np.ndarray | None, n: int) -> list[np.ndarray] | None:
    """Row indices of each group (in order of first appearance), or None without groups."""
    if groups is None:
        return None
    g = np.asarray(groups)
    if len(g) != n:
        raise ValueError(f"Expected one group per clip ({n}), but got {len(g)}")
    _, first, inverse = np.unique(g, return_index=True, return_inverse=True)
    order = np.argsort(first)
    return [np.flatnonzero(inverse == k) for k in order]


def _fill_degenerate(lo: np.ndarray, hi: np.ndarray, dist: np.ndarray, confidence: float) -> None:
    """Percentile interval over the defined resamples where scipy's is NaN (in place)."""
    alpha = (1.0 - confidence) / 2.0
    for i in np.flatnonzero(np.isnan(lo) | np.isnan(hi)):
        finite = dist[i][np.isfinite(dist[i])]
        if len(finite) >= MIN_DEFINED_SHARE * dist.shape[1]:
            lo[i], hi[i] = np.percentile(finite, [100 * alpha, 100 * (1 - alpha)])
