"""The learned model: ``OptimizedMTLModel``, its config and factory, checkpoints, the scorer.

Names are imported lazily (``import tfqa.model`` does not import torch).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ModelConfig": "config",
    "OptimizedMTLModel": "model",
    "consistency_loss": "model",
    "create_model": "registry",
    "list_models": "registry",
    "load_trained": "inference",
    "predict": "inference",
    "LearnedScorer": "scorer",
    "load_checkpoint": "checkpoint",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tfqa.model.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tfqa.model' has no attribute {name!r}")
