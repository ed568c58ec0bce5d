"""tfqa — offline quality assessment of AI-generated talking-face videos."""

from tfqa.version import __version__

__all__ = ["__version__", "create_extractor", "create_scorer", "list_extractors", "list_scorers"]


def __getattr__(name: str):
    # Lazy re-exports keep `import tfqa` light (no torch/mediapipe until needed).
    if name in ("create_extractor", "list_extractors"):
        from tfqa import features

        return getattr(features, name)
    if name in ("create_scorer", "list_scorers"):
        from tfqa import scoring

        return getattr(scoring, name)
    raise AttributeError(f"module 'tfqa' has no attribute {name!r}")
