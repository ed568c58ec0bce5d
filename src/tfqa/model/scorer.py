"""``LearnedScorer``: the five scores of a clip from a trained checkpoint (and trees).

The scoring module wraps it as ``create_scorer("learned", checkpoint=...)``.
It applies the checkpoint's own preprocessing (imputer, scaler, PCA), cuts
the clip into the checkpoint's windows and averages their predictions.  A
clip whose features have other dims than the training data (another feature
backend) is refused with a clear error rather than scored wrongly.

With a tree file (:mod:`tfqa.model.trees`, written by ``tfqa compare`` for
the checkpoint it pooled with) the scores are :func:`blend` — the mean of the
Transformer's and the gradient-boosted trees' — which is what the default
scorer ships (``assets/models/default_trees.npz``; docs/model-card.md).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from tfqa.data.manifest import TASKS
from tfqa.errors import ConfigError, ModelNotFoundError
from tfqa.model.inference import load_trained

# Where the default trained model ships inside the package (issue 4 puts it there).
DEFAULT_CHECKPOINT = ("assets", "models", "default.pt")
DEFAULT_TREES = ("assets", "models", "default_trees.npz")
TREE_WEIGHT = 0.5  # the trees' share of a blended score: an equal average, not tuned


def features_mismatch(where: str, trained: str | None, current: str | None) -> str | None:
    """A warning when a model trained on features id ``trained`` reads features id ``current``
    (:meth:`tfqa.features.pipeline.FeaturePipeline.features_id`); None if they match or either
    is unrecorded."""
    if not trained or not current or trained == current:
        return None
    return (
        f"{where}: the model was trained on features from other extractors (features id "
        f"{trained}; these features come from {current}, e.g. another sync model or extractor "
        "config), so its scores may be off; retrain it on features extracted by this tfqa "
        "(`tfqa extract`, then `tfqa train`), or use the extractors it was trained with"
    )


def blend(model_scores: np.ndarray, tree_scores: np.ndarray) -> np.ndarray:
    """The default scorer's combination of its two members' ``(N, 5)`` scores."""
    m = np.asarray(model_scores, dtype=np.float32)
    return (1.0 - TREE_WEIGHT) * m + TREE_WEIGHT * np.asarray(tree_scores, dtype=np.float32)


def default_trees() -> Path | None:
    """The tree file shipped beside the default checkpoint, or None if this build has none."""
    path = Path(str(importlib.resources.files("tfqa").joinpath(*DEFAULT_TREES)))
    return path if path.is_file() else None


def default_checkpoint() -> Path:
    """The checkpoint shipped with tfqa.

    Raises:
        ModelNotFoundError: this build ships none.
    """
    path = Path(str(importlib.resources.files("tfqa").joinpath(*DEFAULT_CHECKPOINT)))
    if not path.is_file():
        raise ModelNotFoundError(
            "no trained model ships with this tfqa build",
            path=path,
            hint="Pass --checkpoint with a best.pt from `tfqa train`, or use --scorer zero-shot",
        )
    return path


if TYPE_CHECKING:
    from tfqa.features.pipeline import ClipFeatures


class LearnedScorer:
    """Scores clips with a model trained by ``tfqa train``.

    Args:
        checkpoint: path of ``best.pt`` (or any checkpoint ``tfqa train`` wrote).
        trees: a ``trees.npz`` fitted on this checkpoint's pooled features (``tfqa
            compare`` writes one); the scores are then :func:`blend`-ed with the trees'.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.

    Raises:
        ConfigError: ``trees`` was fitted for another checkpoint.

    Example:
        >>> scorer = LearnedScorer("runs/standard/best.pt")   # doctest: +SKIP
        >>> scorer.score_features(feats)                       # doctest: +SKIP
        {'lip_sync': 3.9, 'expression': 4.1, 'audio_quality': 3.2, 'cross_modal': 3.7, 'overall': 3.6}
    """

    name = "learned"
    keys = TASKS

    def __init__(
        self,
        checkpoint: str | Path,
        *,
        trees: str | Path | None = None,
        device: str | torch.device = "auto",
    ) -> None:
        self.trained = load_trained(checkpoint, device)
        self.checkpoint = str(checkpoint)
        self.trees = None
        self.trees_path = str(trees) if trees is not None else None
        if trees is not None:
            from tfqa.model.trees import TreeEnsemble, file_sha256

            self.trees = TreeEnsemble.load(trees)
            bound = self.trees.header.get("checkpoint_sha256")
            if bound != file_sha256(checkpoint):
                raise ConfigError(
                    "the trees were fitted on the pooled features of another checkpoint "
                    f"({self.trees.header.get('checkpoint', 'unknown')})",
                    path=trees,
                    hint="Use the trees.npz that `tfqa compare` wrote with this checkpoint, "
                    "or score without trees",
                )
            if tuple(self.trees.outputs) != tuple(TASKS):
                raise ConfigError(
                    f"Expected trees for {list(TASKS)}, but got {list(self.trees.outputs)}",
                    path=trees,
                )

    @property
    def contract(self) -> dict:
        """The feature contract (dims, columns) the model was trained on."""
        return self.trained.contract

    @property
    def features_id(self) -> str | None:
        """Id of the extractors that made the training features
        (:meth:`tfqa.features.pipeline.FeaturePipeline.features_id`), or None if unrecorded.

        Read from the checkpoint's contract (``tfqa train`` records it) or from a sidecar
        ``.json`` beside the checkpoint (the shipped default has one).
        """
        if self.contract.get("features_id"):
            return str(self.contract["features_id"])
        side = Path(self.checkpoint).with_suffix(".json")
        if side.is_file():
            import json

            try:
                return json.loads(side.read_text()).get("features_id")
            except (OSError, ValueError, AttributeError):
                return None
        return None

    def _check_dims(self, dims: Mapping[str, int], where: str) -> None:
        want = self.contract.get("dims")
        if want and dict(dims) != dict(want):
            diff = {
                k: (want.get(k), dims.get(k))
                for k in set(want) | set(dims)
                if want.get(k) != dims.get(k)
            }
            raise ConfigError(
                f"{where}: feature dims differ from the training data's (trained, given): {diff}",
                path=self.checkpoint,
                hint="Extract with the feature backends the model was trained on",
            )

    def score_arrays_batch(
        self, clips: Sequence[Mapping[str, np.ndarray]]
    ) -> list[dict[str, float]]:
        """Contract arrays of several clips → one score dict each."""
        return [dict(zip(TASKS, map(float, s), strict=True)) for s in self.members(clips)["score"]]

    def members(self, clips: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """``(N, 5)`` scores of each member (``transformer``, ``trees`` if any) and their ``score``."""
        inputs = [self.trained.preprocessor.transform(a) for a in clips]  # once for both members
        out = {"transformer": np.asarray(self.trained.predict_inputs(inputs), np.float32)}
        if self.trees is None:
            out["score"] = out["transformer"]
            return out
        from tfqa.data.pooling import pool_inputs

        out["trees"] = self.trees.predict(np.stack([pool_inputs(x) for x in inputs]))
        out["score"] = blend(out["transformer"], out["trees"])
        return out

    def score_arrays(self, arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Contract arrays of one clip (``tfqa.features.contract.model_arrays``) → five scores."""
        dims = {k: int(arrays[k].shape[1]) for k in ("visual", "audio", "keypoints", "au", "sync")}
        dims["clip"] = int(arrays["clip"].shape[0])
        self._check_dims(dims, "clip")
        return self.score_arrays_batch([arrays])[0]

    def score_features(self, feats: ClipFeatures) -> dict[str, float]:
        """Extracted features of one clip → ``{lip_sync, expression, audio_quality, cross_modal, overall}`` in [1, 5]."""
        score = self.score_members(feats)["score"][0]
        return {t: float(score[k]) for k, t in enumerate(TASKS)}

    def score_members(self, feats: ClipFeatures) -> dict[str, np.ndarray]:
        """Extracted features of one clip → :meth:`members` of that clip, each ``(1, 5)``."""
        from tfqa.features.contract import contract_of, model_arrays

        self._check_dims(contract_of(feats)["dims"], feats.path)
        return self.members([model_arrays(feats)])
