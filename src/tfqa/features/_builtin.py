"""Imports the built-in extractor modules so that they register themselves."""

from tfqa.features import (  # noqa: F401
    action_units,
    audio,
    landmarks,
    sync,
    visual_quality,
)
