"""Offline feature extractors (one module per modality) and the feature contract."""

from tfqa.features.base import (
    DerivedExtractor,
    Extractor,
    FeatureBlock,
    FrameExtractor,
    create_extractor,
    list_extractors,
    register,
)

__all__ = [
    "DerivedExtractor",
    "Extractor",
    "FeatureBlock",
    "FrameExtractor",
    "create_extractor",
    "list_extractors",
    "register",
]
