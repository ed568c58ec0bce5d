"""Pooled-feature baselines: known pooling answers, recovery of known labels, tuning on val."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr

from tfqa.data.manifest import TASKS
from tfqa.data.preprocess import fit_preprocessor
from tfqa.data.store import SEQUENCE_KEYS
from tfqa.data.synthetic import make_synthetic
from tfqa.errors import ConfigError
from tfqa.evaluation.baselines import (
    POOL_STATS,
    RIDGE_ALPHAS,
    fit_baseline,
    fit_gbm,
    pool_inputs,
    pooled_matrix,
    pooled_names,
)

PCA = {"visual": 8, "audio": 8, "keypoints": 8, "au": 17}


def test_pooling_a_ramp_has_known_statistics():
    ramp = np.arange(10, dtype=np.float32)[:, None]  # 0, 1, ..., 9
    inputs = {k: ramp for k in SEQUENCE_KEYS} | {"clip": np.array([7.0, -1.0], np.float32)}
    v = pool_inputs(inputs)
    assert v.shape == (len(SEQUENCE_KEYS) * len(POOL_STATS) + 2,)
    # numpy's linear-interpolation percentiles of 0..9: p10 = 0.9, p50 = 4.5, p90 = 8.1
    want = [4.5, np.sqrt(8.25), 0.9, 4.5, 8.1, 1.0]
    np.testing.assert_allclose(v[: len(POOL_STATS)], want, rtol=1e-6)
    np.testing.assert_allclose(v[-2:], [7.0, -1.0])
    one = pool_inputs({k: ramp[:1] for k in SEQUENCE_KEYS} | {"clip": np.zeros(1, np.float32)})
    assert one[len(POOL_STATS) - 1] == 0.0  # no frame-to-frame change in one frame


@pytest.fixture(scope="module")
def corpus():
    fs = make_synthetic(160, (40, 60), n_groups=20, seed=3)
    pre = fit_preprocessor(fs.clips[:120], PCA, max_fit_frames=3000)
    x = pooled_matrix(pre, fs.clips)
    groups = np.array(fs.groups)
    return pre, x, fs.labels, groups


def test_names_match_the_pooled_columns(corpus):
    pre, x, _, _ = corpus
    names = pooled_names(pre)
    assert len(names) == x.shape[1] and len(set(names)) == len(names)
    assert "audio.003.p90" in names and names[-1].startswith("clip.")


def test_ridge_recovers_the_known_labels(corpus):
    _, x, y, groups = corpus
    fit = fit_baseline("ridge", x[:120], y[:120], groups[:120], x_val=x[120:140], y_val=y[120:140])
    pred = fit.predict(x[140:])
    assert pred.shape == (20, 5) and pred.min() >= 1.0 and pred.max() <= 5.0
    for k, t in enumerate(TASKS):
        assert pearsonr(pred[:, k], y[140:, k]).statistic > 0.8, t
        assert fit.chosen[t]["alpha"] in RIDGE_ALPHAS


def test_gbm_is_tuned_on_val_and_beats_the_mean(corpus):
    _, x, y, groups = corpus
    grid = ((0.1, 7, 5), (0.3, 7, 5))
    fit = fit_gbm(x[:120], y[:120], x_val=x[120:140], y_val=y[120:140], grid=grid, max_iter=40)
    for t in TASKS:
        c = fit.chosen[t]
        assert 1 <= c["max_iter"] <= 40 and (c["learning_rate"], c["max_leaf_nodes"], 5) in grid
    pred = fit.predict(x[140:])
    mse = ((pred - y[140:]) ** 2).mean(0)
    assert (mse < y[140:].var(0)).all()  # better than predicting the test mean


def test_refusals(corpus):
    _, x, y, groups = corpus
    with pytest.raises(ConfigError, match="did you mean ridge"):
        fit_baseline("ridg", x, y, groups, x_val=x, y_val=y)
    with pytest.raises(ConfigError, match="at least 2 groups"):
        fit_baseline("ridge", x[:5], y[:5], ["g"] * 5, x_val=x, y_val=y)
    with pytest.raises(ConfigError, match="shape"):
        fit_baseline("ridge", x, y[:, :3], groups, x_val=x, y_val=y)
