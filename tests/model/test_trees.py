"""The pickle-free tree ensemble: it predicts what sklearn predicts, and its files are checked."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from tfqa.errors import ConfigError, ModelNotFoundError
from tfqa.model.trees import TreeEnsemble


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    x[rng.random(x.shape) < 0.1] = np.nan  # the trees learn a side for missing values
    y = [np.nan_to_num(x[:, 0]) * 2 + 3, np.sin(np.nan_to_num(x[:, 1])) - np.nan_to_num(x[:, 2])]
    models = [
        HistGradientBoostingRegressor(max_iter=40, max_leaf_nodes=15, random_state=0).fit(x, t)
        for t in y
    ]
    x_new = rng.normal(size=(80, 6))
    x_new[rng.random(x_new.shape) < 0.2] = np.nan
    return models, x_new


def test_predicts_exactly_what_sklearn_predicts(fitted):
    models, x = fitted
    trees = TreeEnsemble.from_sklearn(models, ["a", "b"])
    want = np.stack([m.predict(x) for m in models], axis=1)
    np.testing.assert_allclose(trees.predict_raw(x), want, rtol=0, atol=1e-10)
    assert trees.n_trees == 80
    clipped = trees.predict(x)
    assert clipped.min() >= 1.0 and clipped.max() <= 5.0
    np.testing.assert_allclose(clipped, np.clip(want, 1, 5), atol=1e-5)


def test_a_saved_file_reads_back_the_same_model(fitted, tmp_path):
    models, x = fitted
    trees = TreeEnsemble.from_sklearn(models, ["a", "b"], checkpoint_sha256="abc")
    path = trees.save(tmp_path / "trees.npz")
    back = TreeEnsemble.load(path)
    assert back.header["checkpoint_sha256"] == "abc" and back.outputs == ("a", "b")
    np.testing.assert_array_equal(back.predict_raw(x), trees.predict_raw(x))


def test_bad_files_and_inputs_are_explained(fitted, tmp_path):
    models, _ = fitted
    with pytest.raises(ModelNotFoundError, match="tree model not found"):
        TreeEnsemble.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="not a readable tree file"):
        TreeEnsemble.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", header=np.frombuffer(b'{"format": "x"}', np.uint8))
    with pytest.raises(ConfigError, match="Expected a tree file of format"):
        TreeEnsemble.load(tmp_path / "other.npz")
    trees = TreeEnsemble.from_sklearn(models, ["a", "b"])
    with pytest.raises(ConfigError, match=r"shape \(N, 6\)"):
        trees.predict(np.zeros((2, 5)))
    with pytest.raises(ConfigError, match="one per output"):
        TreeEnsemble.from_sklearn(models, ["a"])
