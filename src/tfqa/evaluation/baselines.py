"""Baselines on pooled clip features: ridge regression and gradient-boosted trees (issue 4).

The thesis model reads per-frame sequences; a baseline reads one vector per
clip, pooled by :mod:`tfqa.data.pooling` from the *same* preprocessed inputs
(usually the trained checkpoint's own :class:`Preprocessor`).

Two regressors per :data:`BASELINES` record, one model per dimension:

* ``ridge`` — ``StandardScaler → Ridge``; the penalty ``alpha`` is chosen per
  dimension by group-k-fold cross-validation on the *training* clips (groups
  are identities, as in the splits);
* ``gbm`` — ``HistGradientBoostingRegressor``; its learning rate, tree size
  and number of iterations are chosen per dimension on the *validation* clips.

Predictions are clipped to the 1–5 scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfqa.data.manifest import TASKS
from tfqa.data.pooling import POOL_STATS, pool_inputs, pooled_matrix, pooled_names
from tfqa.errors import ConfigError, choice_hint

__all__ = [
    "BASELINES",
    "POOL_STATS",
    "FittedBaseline",
    "fit_baseline",
    "fit_gbm",
    "fit_ridge",
    "list_baselines",
    "pool_inputs",
    "pooled_matrix",
    "pooled_names",
]

SCORE_RANGE = (1.0, 5.0)
RIDGE_ALPHAS = tuple(10.0**k for k in range(-2, 5))  # 0.01 ... 10^4
RIDGE_FOLDS = 5
# (learning_rate, max_leaf_nodes, min_samples_leaf); the iteration count is picked on val
GBM_GRID = ((0.05, 15, 20), (0.05, 31, 20), (0.1, 15, 40), (0.1, 31, 40))
GBM_MAX_ITER = 400
GBM_L2 = 1.0


# ---------------------------------------------------------------------------------------
# the two regressors


def _clip_scores(y: np.ndarray) -> np.ndarray:
    return np.clip(y, *SCORE_RANGE).astype(np.float32)


@dataclass
class FittedBaseline:
    """One fitted regressor per dimension, with the hyper-parameters that were chosen."""

    name: str
    models: list[Any]  # in TASKS order
    chosen: dict[str, dict[str, float]] = field(default_factory=dict)  # per dimension

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(N, F)`` pooled features → ``(N, 5)`` scores in [1, 5], columns in TASKS order."""
        return _clip_scores(np.stack([m.predict(x) for m in self.models], axis=1))


def fit_ridge(
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    *,
    alphas: Sequence[float] = RIDGE_ALPHAS,
    n_folds: int = RIDGE_FOLDS,
    **_: Any,
) -> FittedBaseline:
    """``StandardScaler → Ridge`` per dimension, ``alpha`` by group-k-fold CV on ``x``.

    Args:
        x: ``(N, F)`` training features.
        y: ``(N, 5)`` training labels.
        groups: ``N`` identities; no group is in two folds.
        alphas: the penalties tried.
        n_folds: folds (fewer when there are fewer groups; at least 2 groups needed).
    """
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_groups = len(set(groups))
    if n_groups < 2:
        raise ConfigError(
            f"Expected at least 2 groups to cross-validate the ridge penalty, but got {n_groups}"
        )
    cv = GroupKFold(n_splits=min(n_folds, n_groups))
    models, chosen = [], {}
    for k, task in enumerate(TASKS):
        search = GridSearchCV(
            make_pipeline(StandardScaler(), Ridge()),
            {"ridge__alpha": list(alphas)},
            cv=cv,
            scoring="neg_mean_squared_error",
        )
        search.fit(x, y[:, k], groups=np.asarray(groups))
        models.append(search.best_estimator_)
        chosen[task] = {"alpha": float(search.best_params_["ridge__alpha"])}
    return FittedBaseline("ridge", models, chosen)


def fit_gbm(
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str] | None = None,
    *,
    x_val: np.ndarray,
    y_val: np.ndarray,
    grid: Sequence[tuple[float, int, int]] = GBM_GRID,
    max_iter: int = GBM_MAX_ITER,
    seed: int = 0,
    **_: Any,
) -> FittedBaseline:
    """``HistGradientBoostingRegressor`` per dimension, tuned on the validation clips.

    Every grid point is fitted once with ``max_iter`` trees on the training
    clips; its staged predictions on ``x_val`` give the validation MSE after
    each iteration, and the (grid point, iteration count) with the lowest one
    is refitted on the training clips with that many trees.

    Args:
        x, y: training features ``(N, F)`` and labels ``(N, 5)``.
        groups: unused (the validation split is already group-disjoint).
        x_val, y_val: validation features and labels.
        grid: ``(learning_rate, max_leaf_nodes, min_samples_leaf)`` points.
        max_iter: most trees per model.
        seed: ``random_state`` of every model.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    def make(lr: float, leaves: int, min_leaf: int, n_iter: int):
        return HistGradientBoostingRegressor(
            learning_rate=lr,
            max_leaf_nodes=leaves,
            min_samples_leaf=min_leaf,
            l2_regularization=GBM_L2,
            max_iter=n_iter,
            early_stopping=False,
            random_state=seed,
        )

    models, chosen = [], {}
    for k, task in enumerate(TASKS):
        best = (np.inf, grid[0], max_iter)
        for point in grid:
            model = make(*point, max_iter).fit(x, y[:, k])
            for n_iter, pred in enumerate(model.staged_predict(x_val), start=1):
                mse = float(np.mean((np.clip(pred, *SCORE_RANGE) - y_val[:, k]) ** 2))
                if mse < best[0]:
                    best = (mse, point, n_iter)
        mse, (lr, leaves, min_leaf), n_iter = best
        models.append(make(lr, leaves, min_leaf, n_iter).fit(x, y[:, k]))
        chosen[task] = {
            "learning_rate": lr,
            "max_leaf_nodes": leaves,
            "min_samples_leaf": min_leaf,
            "max_iter": n_iter,
            "val_mse": mse,
        }
    return FittedBaseline("gbm", models, chosen)


@dataclass(frozen=True)
class Baseline:
    """A registered baseline: its fit function and what it is."""

    name: str
    fit: Callable[..., FittedBaseline]
    description: str


BASELINES: dict[str, Baseline] = {
    b.name: b
    for b in (
        Baseline("ridge", fit_ridge, "ridge regression, alpha by group-k-fold CV on train"),
        Baseline("gbm", fit_gbm, "histogram gradient boosting per dimension, tuned on val"),
    )
}


def list_baselines() -> list[str]:
    return list(BASELINES)


def fit_baseline(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    *,
    x_val: np.ndarray,
    y_val: np.ndarray,
    seed: int = 0,
) -> FittedBaseline:
    """Fit the baseline ``name`` (see :data:`BASELINES`) on pooled training features.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline `{name}`", hint=choice_hint(name, BASELINES, n=1))
    y, y_val = np.asarray(y, dtype=np.float64), np.asarray(y_val, dtype=np.float64)
    if y.shape[1:] != (len(TASKS),) or y_val.shape[1:] != (len(TASKS),):
        raise ConfigError(
            f"Expected labels of shape (N, {len(TASKS)}), but got {y.shape} and {y_val.shape}"
        )
    return BASELINES[name].fit(x, y, groups, x_val=x_val, y_val=y_val, seed=seed)
