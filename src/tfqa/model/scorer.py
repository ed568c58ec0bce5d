"""``LearnedScorer``: the five scores of a clip from a trained checkpoint.

The scoring module wraps it as ``create_scorer("learned", checkpoint=...)``.
It applies the checkpoint's own preprocessing (imputer, scaler, PCA), cuts
the clip into the checkpoint's windows and averages their predictions.  A
clip whose features have other dims than the training data (another feature
backend) is refused with a clear error rather than scored wrongly.
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
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.

    Example:
        >>> scorer = LearnedScorer("runs/standard/best.pt")   # doctest: +SKIP
        >>> scorer.score_features(feats)                       # doctest: +SKIP
        {'lip_sync': 3.9, 'expression': 4.1, 'audio_quality': 3.2, 'cross_modal': 3.7, 'overall': 3.6}
    """

    name = "learned"
    keys = TASKS

    def __init__(self, checkpoint: str | Path, *, device: str | torch.device = "auto") -> None:
        self.trained = load_trained(checkpoint, device)
        self.checkpoint = str(checkpoint)

    @property
    def contract(self) -> dict:
        """The feature contract (dims, columns) the model was trained on."""
        return self.trained.contract

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
        scores = self.trained.predict_arrays(clips)
        return [{t: float(s[k]) for k, t in enumerate(TASKS)} for s in scores]

    def score_arrays(self, arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Contract arrays of one clip (``tfqa.features.contract.model_arrays``) → five scores."""
        dims = {k: int(arrays[k].shape[1]) for k in ("visual", "audio", "keypoints", "au", "sync")}
        dims["clip"] = int(arrays["clip"].shape[0])
        self._check_dims(dims, "clip")
        return self.score_arrays_batch([arrays])[0]

    def score_features(self, feats: ClipFeatures) -> dict[str, float]:
        """Extracted features of one clip → ``{lip_sync, expression, audio_quality, cross_modal, overall}`` in [1, 5]."""
        from tfqa.features.contract import contract_of, model_arrays

        self._check_dims(contract_of(feats)["dims"], feats.path)
        return self.score_arrays_batch([model_arrays(feats)])[0]
