"""The tfqa HTTP service: job API, web page, scoring worker processes, A/B study.

``create_app(settings)`` (:mod:`.app`) builds the FastAPI app; ``tfqa serve`` runs it with
uvicorn.  The service adds no scoring logic: workers call :func:`tfqa.scoring.create_scorer`.
"""

from tfqa.service.settings import ServiceSettings, load_settings

__all__ = ["ServiceSettings", "create_app", "load_settings"]


def create_app(settings: ServiceSettings):
    """See :func:`tfqa.service.app.create_app` (imported lazily: FastAPI is heavy)."""
    from tfqa.service.app import create_app as _create

    return _create(settings)
