"""Agreement metrics between predicted and true scores (SPEC §3), over scipy/sklearn/torchmetrics.

Every metric is a function ``(y_true (N,), y_pred (N,)) -> float`` in a
registry of :class:`Metric` records (name, direction, what it is).  None of
the statistics is re-implemented: correlations come from ``scipy.stats``,
errors, R², accuracy and kappa from ``sklearn.metrics``, CCC from
``torchmetrics``.  Degenerate inputs (a constant series) give NaN, not a
warning storm.

Class-based metrics map the 1–5 scores to classes:

* ``acc3`` — three classes with cut points 2.5 and 3.5: *low* ``< 2.5``,
  *mid* ``2.5 … 3.5`` (inclusive), *high* ``> 3.5`` (:data:`THREE_CLASS_CUTS`);
* ``qwk`` — the five scale points: ``round(y)`` clipped to 1…5, then
  Cohen's kappa with quadratic weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

THREE_CLASS_CUTS = (2.5, 3.5)
SCALE_POINTS = (1, 2, 3, 4, 5)

MetricFn = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Metric:
    """A registered metric: its function, whether higher is better, a one-line description."""

    name: str
    fn: MetricFn
    higher_is_better: bool
    description: str


def three_class(y: np.ndarray) -> np.ndarray:
    """Scores → 0 (low, < 2.5), 1 (mid, 2.5–3.5), 2 (high, > 3.5)."""
    lo, hi = THREE_CLASS_CUTS
    y = np.asarray(y, dtype=np.float64)
    return np.where(y < lo, 0, np.where(y > hi, 2, 1))


def scale_points(y: np.ndarray) -> np.ndarray:
    """Scores → the nearest scale point 1…5."""
    return np.clip(np.rint(np.asarray(y, dtype=np.float64)), 1, 5).astype(int)


def _constant(*xs: np.ndarray) -> bool:
    return any(len(x) < 2 or np.ptp(x) == 0 for x in xs)


def _mse(t, p):
    from sklearn.metrics import mean_squared_error

    return mean_squared_error(t, p)


def _rmse(t, p):
    from sklearn.metrics import root_mean_squared_error

    return root_mean_squared_error(t, p)


def _mae(t, p):
    from sklearn.metrics import mean_absolute_error

    return mean_absolute_error(t, p)


def _medae(t, p):
    from sklearn.metrics import median_absolute_error

    return median_absolute_error(t, p)


def _r2(t, p):
    from sklearn.metrics import r2_score

    return float("nan") if _constant(t) else r2_score(t, p)


def _plcc(t, p):
    from scipy.stats import pearsonr

    return float("nan") if _constant(t, p) else pearsonr(t, p).statistic


def _srcc(t, p):
    from scipy.stats import spearmanr

    return float("nan") if _constant(t, p) else spearmanr(t, p).statistic


def _krcc(t, p):
    from scipy.stats import kendalltau

    return float("nan") if _constant(t, p) else kendalltau(t, p).statistic


def _ccc(t, p):
    import torch
    from torchmetrics.functional import concordance_corrcoef

    if len(t) < 2:
        return float("nan")
    tt = torch.as_tensor(np.asarray(t, dtype=np.float64))
    pp = torch.as_tensor(np.asarray(p, dtype=np.float64))
    return float(concordance_corrcoef(pp, tt))


def _acc3(t, p):
    from sklearn.metrics import accuracy_score

    return accuracy_score(three_class(t), three_class(p))


def _qwk(t, p):
    from sklearn.metrics import cohen_kappa_score

    a, b = scale_points(t), scale_points(p)
    if len(set(a) | set(b)) < 2:
        return float("nan")
    return cohen_kappa_score(a, b, weights="quadratic", labels=list(SCALE_POINTS))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("mse", _mse, False, "mean squared error"),
        Metric("rmse", _rmse, False, "root mean squared error"),
        Metric("mae", _mae, False, "mean absolute error"),
        Metric("medae", _medae, False, "median absolute error"),
        Metric("r2", _r2, True, "coefficient of determination"),
        Metric("plcc", _plcc, True, "Pearson linear correlation"),
        Metric("srcc", _srcc, True, "Spearman rank correlation"),
        Metric("krcc", _krcc, True, "Kendall rank correlation (tau-b)"),
        Metric("ccc", _ccc, True, "Lin's concordance correlation"),
        Metric("acc3", _acc3, True, "3-class accuracy (low < 2.5 <= mid <= 3.5 < high)"),
        Metric("qwk", _qwk, True, "quadratic-weighted kappa on the 1-5 scale points"),
    )
}


def list_metrics() -> list[str]:
    return list(METRICS)


def compute(
    y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str] | None = None
) -> dict[str, float]:
    """Each named metric (default: all) of one dimension's ``y_true``/``y_pred`` ``(N,)``."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(
            f"Expected y_true and y_pred of the same shape (N,), but got {t.shape} and {p.shape}"
        )
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant resamples: NaN is the answer
        for n in names or METRICS:
            out[n] = float(METRICS[n].fn(t, p))
    return out
