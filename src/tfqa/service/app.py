"""The FastAPI application: JSON API under ``/api/v1``, the web page at ``/``, study pages.

``create_app(settings)`` builds the app; its lifespan opens the job store, takes the
data folder's lock and starts the worker supervisor.  Every error leaves as
``{"error": {"code", "message"}}``: the handlers below turn validation errors,
HTTP errors, tfqa errors and unexpected exceptions into that shape, so no stack
trace ever reaches a client (unexpected ones are logged with an id instead).
"""

from __future__ import annotations

import fcntl
import logging
import secrets
import uuid
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from tfqa.errors import TfqaError
from tfqa.service.errors import ServiceError
from tfqa.service.settings import LOCK_FILE, ServiceSettings
from tfqa.service.store import JobStore
from tfqa.version import __version__

log = logging.getLogger("tfqa.service")
API_PREFIX = "/api/v1"
STATIC_DIR = Path(str(resources.files("tfqa.service") / "static"))

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_error",
}


def error_response(status: int, code: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(TfqaError)
    async def _tfqa(_: Request, exc: TfqaError) -> JSONResponse:
        return error_response(422, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return error_response(422, "validation_error", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path[:200]} (the API lives under {API_PREFIX}, docs at /docs)"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path[:200]}"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:8]
        log.exception("unhandled error %s on %s %s", ref, request.method, request.url.path)
        return error_response(
            500, "internal_error", f"internal server error (reference {ref}; see the server log)"
        )


class DataDirLock:
    """An exclusive lock on the data folder: two servers on one store would reap each other's jobs."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fh = None

    def acquire(self) -> None:
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise TfqaError(
                "another tfqa server is using this data folder",
                path=self.path.parent,
                hint="Stop it first, or start this one with another --data-dir",
            ) from None
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def require_admin(request: Request) -> None:
    """Dependency of admin routes: ``Authorization: Bearer <token>`` must match the server's."""
    token = request.app.state.settings.token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise ServiceError(
            401, "unauthorized", "this action needs the admin token: Authorization: Bearer <token>"
        )
    if token is None or not secrets.compare_digest(given.strip(), token):
        raise ServiceError(401, "unauthorized", "the admin token is wrong")


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service app for ``settings`` (workers start when the app starts, stop when it stops)."""
    from tfqa.service.routes_jobs import router as jobs_router
    from tfqa.service.routes_study import router as study_router
    from tfqa.service.worker import Supervisor

    settings = settings.prepare()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        lock = DataDirLock(settings.data_dir)
        lock.acquire()
        supervisor = Supervisor(settings, app.state.store)
        app.state.supervisor = supervisor
        if settings.workers:
            supervisor.start()
        else:
            supervisor.reap()  # still hand back jobs a previous server left running
        try:
            yield
        finally:
            supervisor.stop()
            lock.release()

    app = FastAPI(
        title="tfqa service",
        version=__version__,
        description="Score talking-face videos (lip sync, expression, audio quality, cross-modal, "
        "overall; 1-5) with the evidence behind each score, and run A/B studies with raters.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = JobStore(settings.db_path)
    app.state.supervisor = None
    _install_error_handlers(app)
    app.include_router(jobs_router, prefix=API_PREFIX)
    app.include_router(study_router, prefix=API_PREFIX)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/study/{study_id}", include_in_schema=False)
    def study_page(study_id: str) -> FileResponse:
        return FileResponse(STATIC_DIR / "study.html", headers={"Cache-Control": "no-cache"})

    return app
