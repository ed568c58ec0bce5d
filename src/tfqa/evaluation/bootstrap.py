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
) -> dict[str, Estimate]:
    """Point estimates and percentile-bootstrap intervals of metrics of one dimension.

    Args:
        y_true, y_pred: ``(N,)`` scores.
        names: metric names (default: all of :data:`~tfqa.evaluation.metrics.METRICS`).
        n_resamples: bootstrap resamples.
        confidence: interval coverage.
        seed: seeds the resampling.

    Returns:
        ``{name: Estimate}``; NaN bounds when the metric is undefined on the
        resamples (e.g. a constant prediction) or N < 3.
    """
    from scipy.stats import bootstrap

    names = list(names or METRICS)
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    point = compute(t, p, names)
    if len(t) < 3 or n_resamples <= 0:
        return {n: Estimate(point[n], float("nan"), float("nan")) for n in names}

    def statistic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        m = compute(a, b, names)
        return np.array([m[n] for n in names])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples give NaN bounds
        res = bootstrap(
            (t, p),
            statistic,
            paired=True,
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


def _fill_degenerate(lo: np.ndarray, hi: np.ndarray, dist: np.ndarray, confidence: float) -> None:
    """Percentile interval over the defined resamples where scipy's is NaN (in place)."""
    alpha = (1.0 - confidence) / 2.0
    for i in np.flatnonzero(np.isnan(lo) | np.isnan(hi)):
        finite = dist[i][np.isfinite(dist[i])]
        if len(finite) >= MIN_DEFINED_SHARE * dist.shape[1]:
            lo[i], hi[i] = np.percentile(finite, [100 * alpha, 100 * (1 - alpha)])
