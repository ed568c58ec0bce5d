"""Evaluation: metrics, bootstrap CIs, reports, figures and the ablation tables.

Names are imported lazily (``import tfqa.evaluation`` does not import torch).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "METRICS": "metrics",
    "compute": "metrics",
    "bootstrap_metrics": "bootstrap",
    "evaluate_predictions": "report",
    "write_report": "report",
    "write_figures": "figures",
    "evaluate": "evaluate",
    "evaluate_features": "evaluate",
    "ablate": "ablations",
    "ablate_features": "ablations",
    "thesis_variants": "ablations",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tfqa.evaluation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tfqa.evaluation' has no attribute {name!r}")
