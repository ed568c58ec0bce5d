"""Datasets: manifests, group-disjoint splits, the feature store, preprocessing, windows.

Names are imported lazily (``import tfqa.data`` stays light).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TASKS": "manifest",
    "load_manifest": "manifest",
    "validate_manifest": "manifest",
    "ManifestError": "manifest",
    "assign_splits": "splits",
    "split_summary": "splits",
    "extract_manifest": "extract",
    "ExtractReport": "extract",
    "FeatureStore": "store",
    "FeatureSet": "store",
    "load_feature_set": "store",
    "Preprocessor": "preprocess",
    "fit_preprocessor": "preprocess",
    "WindowDataset": "windows",
    "make_synthetic": "synthetic",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tfqa.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tfqa.data' has no attribute {name!r}")
