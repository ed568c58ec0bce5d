"""Imports the built-in extractor modules so that they register themselves."""
from tfqa.features import landmarks  # noqa: F401
from tfqa.features import audio  # noqa: F401
