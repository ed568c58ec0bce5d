"""Training: configs, task weighting, schedules, AMP, memory profiling and the loop.

Names are imported lazily (``import tfqa.training`` does not import torch).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ExperimentConfig": "config",
    "load_config": "config",
    "train": "trainer",
    "fit": "trainer",
    "TrainResult": "trainer",
    "create_weighting": "weighting",
    "AdaptiveCosineAnnealingLR": "schedulers",
    "MultiTaskLRScheduler": "schedulers",
    "MemoryProfiler": "memory",
    "resolve_amp": "amp",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tfqa.training.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tfqa.training' has no attribute {name!r}")
