"""Self-describing checkpoints.

A checkpoint is one ``torch.save`` file of plain containers and tensors — no
pickled classes — so it loads with ``torch.load(weights_only=True)``:

=================  ==========================================================
key                content
=================  ==========================================================
``format``         :data:`FORMAT` (bumped on incompatible changes)
``config``         the whole experiment config as a dict (model, data, loss, train)
``dims``           model input dims after preprocessing
``contract``       the feature contract the model was trained on (dims, columns)
``preprocessing``  the fitted imputer/scaler/PCA arrays, as tensors
``model``          the model's ``state_dict``
``weighting``      the task-weighting module's ``state_dict``
``optimizer``, ``scheduler``, ``scaler``  training state, for resuming
``rng``            torch CPU (and CUDA) RNG states, for an exact resume
``epoch``, ``step``, ``best``, ``history``  progress
``versions``       tfqa, torch, numpy, scikit-learn
``label_stats``    per-task mean/std of the training labels
=================  ==========================================================
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tfqa.errors import ConfigError, require_model_file

FORMAT = "tfqa-mtl-1"


def versions() -> dict[str, str]:
    import sklearn

    from tfqa.version import __version__

    return {
        "tfqa": __version__,
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


def to_tensors(obj: Any) -> Any:
    """Numpy arrays → tensors, recursively (so ``weights_only`` loading accepts them)."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, Mapping):
        return {k: to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_tensors(v) for v in obj)
    return obj


def to_numpy(obj: Any) -> Any:
    """Tensors → numpy arrays, recursively."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, Mapping):
        return {k: to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_numpy(v) for v in obj]
    return obj


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Write ``state`` (see the module docstring) atomically: write, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "versions": versions(), **to_tensors(dict(state))}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its format.

    Raises:
        ModelNotFoundError: the file does not exist.
        ConfigError: the file is not a tfqa checkpoint of a known format.
    """
    path = require_model_file(
        path, "checkpoint", "Train one with `tfqa train`, or give the path of a .pt file it wrote"
    )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001  (torch raises several types for a bad file)
        raise ConfigError(f"not a readable checkpoint ({type(e).__name__}: {e})", path=path) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ConfigError(
            f"Expected a checkpoint of format {FORMAT!r}, but got {found!r}",
            path=path,
            hint="Re-train with this tfqa version",
        )
    return ckpt
