"""Imports the built-in extractor modules so that they register themselves."""
from tfqa.features import landmarks  # noqa: F401
from tfqa.features import audio  # noqa: F401
from tfqa.features import visual_quality  # noqa: F401
from tfqa.features import action_units  # noqa: F401
from tfqa.features import sync  # noqa: F401
