"""Gradient-boosted trees on pooled clip features, stored without pickle.

The default scorer averages the Transformer with a second member: the
gradient-boosting model of :mod:`tfqa.evaluation.baselines` (one
``sklearn.ensemble.HistGradientBoostingRegressor`` per dimension, fitted on
the training clips' pooled features and tuned on the validation clips).
Shipping an sklearn estimator would mean shipping a pickle, which runs code
when loaded and breaks across sklearn versions.  :class:`TreeEnsemble`
instead keeps the fitted trees as plain arrays (node feature, threshold,
missing-value direction, children, leaf value) in an ``.npz`` file read with
``allow_pickle=False``, and evaluates them with numpy exactly as sklearn does
(``x <= threshold`` goes left, NaN follows the learned missing-value side;
leaf values already carry the learning rate, so a prediction is the baseline
plus the sum of one leaf per tree).  The tests check it against sklearn.

A tree file names the checkpoint whose preprocessor its pooled features come
from (``checkpoint_sha256``): the scorer refuses a pair that does not belong
together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfqa.errors import ConfigError, require_model_file

FORMAT = "tfqa-trees/1"
SCORE_RANGE = (1.0, 5.0)
_NODE_ARRAYS = ("feature", "threshold", "missing_left", "left", "right", "leaf", "value")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class TreeEnsemble:
    """Additive tree models, one per output, over a ``(N, n_features)`` matrix.

    Node arrays are global (all trees of all outputs concatenated); ``roots``
    gives each tree's first node and ``tree_output`` the output it adds to.
    """

    outputs: tuple[str, ...]
    n_features: int
    baseline: np.ndarray  # (n_outputs,)
    roots: np.ndarray  # (n_trees,) int
    tree_output: np.ndarray  # (n_trees,) int
    nodes: dict[str, np.ndarray]  # _NODE_ARRAYS, each (n_nodes,)
    header: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_sklearn(
        cls, models: Sequence[Any], outputs: Sequence[str], **header: Any
    ) -> TreeEnsemble:
        """Fitted ``HistGradientBoostingRegressor`` models (one per output) → arrays.

        Raises:
            ConfigError: a model is not a fitted single-output histogram GBM, uses
                categorical splits, or the models disagree on the feature count.
        """
        if len(models) != len(outputs):
            raise ConfigError(f"Expected {len(outputs)} models (one per output), got {len(models)}")
        n_features = {int(m.n_features_in_) for m in models}
        if len(n_features) != 1:
            raise ConfigError(f"Expected models over the same features, got sizes {n_features}")
        cols: dict[str, list[np.ndarray]] = {k: [] for k in _NODE_ARRAYS}
        roots, tree_output, baseline = [], [], []
        offset = 0
        for k, m in enumerate(models):
            if not hasattr(m, "_predictors") or m.n_trees_per_iteration_ != 1:
                raise ConfigError(f"output {outputs[k]}: not a fitted single-output regressor")
            baseline.append(float(np.ravel(m._baseline_prediction)[0]))
            for (tree,) in m._predictors:
                n = tree.nodes
                if n["is_categorical"].any():
                    raise ConfigError(f"output {outputs[k]}: categorical splits are not supported")
                cols["feature"].append(n["feature_idx"].astype(np.int32))
                cols["threshold"].append(n["num_threshold"].astype(np.float64))
                cols["missing_left"].append(n["missing_go_to_left"].astype(bool))
                cols["left"].append(n["left"].astype(np.int32) + offset)
                cols["right"].append(n["right"].astype(np.int32) + offset)
                cols["leaf"].append(n["is_leaf"].astype(bool))
                cols["value"].append(n["value"].astype(np.float64))
                roots.append(offset)
                tree_output.append(k)
                offset += len(n)
        return cls(
            outputs=tuple(outputs),
            n_features=n_features.pop(),
            baseline=np.asarray(baseline, np.float64),
            roots=np.asarray(roots, np.int32),
            tree_output=np.asarray(tree_output, np.int32),
            nodes={k: np.concatenate(v) for k, v in cols.items()},
            header=dict(header),
        )

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        """``(N, n_features)`` → ``(N, n_outputs)`` sums of the trees (not clipped)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ConfigError(
                f"Expected pooled features of shape (N, {self.n_features}), but got {x.shape}",
                hint="Pool the clip with the preprocessor of the checkpoint the trees belong to",
            )
        nd = self.nodes
        rows = np.arange(len(x))[:, None]
        idx = np.broadcast_to(self.roots, (len(x), self.n_trees)).copy()
        while True:
            inner = ~nd["leaf"][idx]
            if not inner.any():
                break
            v = x[rows, nd["feature"][idx]]
            nan = np.isnan(v)
            go_left = np.where(nan, nd["missing_left"][idx], v <= nd["threshold"][idx])
            nxt = np.where(go_left, nd["left"][idx], nd["right"][idx])
            idx = np.where(inner, nxt, idx)
        leaf_values = nd["value"][idx]  # (N, n_trees)
        out = np.empty((len(x), len(self.outputs)))
        for k in range(len(self.outputs)):
            out[:, k] = self.baseline[k] + leaf_values[:, self.tree_output == k].sum(1)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(N, n_features)`` → ``(N, n_outputs)`` scores clipped to 1–5."""
        return np.clip(self.predict_raw(x), *SCORE_RANGE).astype(np.float32)

    # -- files -----------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            **self.header,
            "format": FORMAT,
            "outputs": list(self.outputs),
            "n_features": self.n_features,
            "n_trees": self.n_trees,
        }
        with open(path, "wb") as f:  # a file handle keeps the name as given (no .npz added)
            np.savez_compressed(
                f,
                baseline=self.baseline,
                roots=self.roots,
                tree_output=self.tree_output,
                header=np.frombuffer(json.dumps(header).encode(), np.uint8),
                **{f"node_{k}": v for k, v in self.nodes.items()},
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> TreeEnsemble:
        """Read a file written by :meth:`save` (no pickle is ever loaded).

        Raises:
            ModelNotFoundError: no such file.
            ConfigError: not a tree file of this format.
        """
        path = require_model_file(
            path,
            "tree model",
            "Give the trees.npz that `tfqa compare` wrote, or score without trees",
        )
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(bytes(z["header"]).decode())
                arrays = {k: z[k] for k in z.files}
        except Exception as e:  # noqa: BLE001  (zipfile/numpy raise several types)
            raise ConfigError(
                f"not a readable tree file ({type(e).__name__}: {e})", path=path
            ) from e
        if header.get("format") != FORMAT:
            raise ConfigError(
                f"Expected a tree file of format {FORMAT!r}, but got {header.get('format')!r}",
                path=path,
            )
        return cls(
            outputs=tuple(header["outputs"]),
            n_features=int(header["n_features"]),
            baseline=arrays["baseline"],
            roots=arrays["roots"],
            tree_output=arrays["tree_output"],
            nodes={k: arrays[f"node_{k}"] for k in _NODE_ARRAYS},
            header=header,
        )
