"""Inference with a trained model: windows averaged per clip, and loading from a checkpoint.

Inference runs in fp32 on every device (AMP is a training-time measure), so
CPU and GPU give the same numbers up to float rounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tfqa.data.manifest import TASKS
from tfqa.data.preprocess import Preprocessor
from tfqa.data.windows import Inputs, eval_batches
from tfqa.model.config import ModelConfig, build
from tfqa.model.model import OptimizedMTLModel


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU; anything else as given."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.inference_mode()
def predict(
    model: OptimizedMTLModel,
    clips: Sequence[Inputs],
    *,
    window: int,
    n_windows: int,
    batch_size: int = 32,
    device: torch.device | None = None,
) -> np.ndarray:
    """Scores of preprocessed clips: the mean over ``n_windows`` windows per clip.

    Returns:
        ``(N, 5)`` float32 scores in [1, 5], columns in :data:`TASKS` order.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    sums = np.zeros((len(clips), len(TASKS)), dtype=np.float64)
    counts = np.zeros(len(clips), dtype=np.float64)
    for batch, owners in eval_batches(clips, window, n_windows, batch_size):
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        scores = model(batch).scores.float().cpu().numpy()
        np.add.at(sums, owners, scores)
        np.add.at(counts, owners, 1.0)
    model.train(was_training)
    return (sums / np.maximum(counts, 1.0)[:, None]).astype(np.float32)


@dataclass
class TrainedModel:
    """A model rebuilt from a checkpoint, with what inference needs around it."""

    model: OptimizedMTLModel
    preprocessor: Preprocessor
    config: dict[str, Any]  # the experiment config as saved
    contract: dict[str, Any]
    window: int
    n_windows: int
    device: torch.device
    path: str

    def predict_arrays(self, arrays: Sequence[Mapping[str, np.ndarray]], batch_size: int = 32):
        """Raw contract arrays per clip → ``(N, 5)`` scores."""
        return self.predict_inputs([self.preprocessor.transform(a) for a in arrays], batch_size)

    def predict_inputs(self, inputs: Sequence[Mapping[str, np.ndarray]], batch_size: int = 32):
        """Preprocessed inputs per clip (:meth:`Preprocessor.transform`) → ``(N, 5)`` scores."""
        return predict(
            self.model,
            inputs,
            window=self.window,
            n_windows=self.n_windows,
            batch_size=batch_size,
            device=self.device,
        )


def load_trained(checkpoint: str | Path, device: str | torch.device = "auto") -> TrainedModel:
    """Rebuild the model and its preprocessing from a checkpoint (``tfqa train`` output).

    Raises:
        ModelNotFoundError: no such file.
        ConfigError: not a tfqa checkpoint.
    """
    from tfqa.model.checkpoint import load_checkpoint, to_numpy

    dev = resolve_device(device)
    ckpt = load_checkpoint(checkpoint, map_location="cpu")
    cfg = ckpt["config"]
    model = OptimizedMTLModel(build(ModelConfig, cfg["model"], where="model"), ckpt["dims"])
    model.load_state_dict(ckpt["model"])
    model.to(dev).eval()
    return TrainedModel(
        model=model,
        preprocessor=Preprocessor.from_state(to_numpy(ckpt["preprocessing"])),
        config=cfg,
        contract=ckpt["contract"],
        window=int(cfg["data"]["window"]),
        n_windows=int(cfg["data"]["eval_windows"]),
        device=dev,
        path=str(checkpoint),
    )
