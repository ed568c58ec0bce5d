"""Job routes: submit (upload or server-side path), status, result, video, list, delete, health."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from tfqa.errors import TfqaError
from tfqa.service.errors import ServiceError, job_not_found
from tfqa.service.store import Job, JobStore, new_job_id
from tfqa.service.uploads import receive_upload, resolve_allowed
from tfqa.version import __version__

router = APIRouter(tags=["jobs"])
# Multipart framing (boundaries, part headers) on top of the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
JOB_ID_PATTERN = r"^[0-9a-f]{1,32}$"


def _store(request: Request) -> JobStore:
    return request.app.state.store


def _job_or_404(store: JobStore, job_id: str) -> Job:
    job = store.get(job_id)
    if job is None:
        raise job_not_found(job_id[:40])
    return job


def _probe_media(path: Path) -> dict[str, Any]:
    """Open the stored file with tfqa's prober; a file it cannot read is refused (415)."""
    from tfqa.io import probe

    try:
        return probe(path).to_dict()
    except TfqaError as exc:
        # The message names our stored path; the client knows the file by its own name.
        message = exc.problem.rstrip(".") + (f". {exc.hint.rstrip('.')}" if exc.hint else "")
        raise ServiceError(415, exc.code, message + ".") from None


class PathSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str


@router.post(
    "/jobs",
    status_code=201,
    summary="Submit a video (multipart upload, field `file`)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def submit_upload(request: Request) -> JSONResponse:
    """Stream the upload to disk (size-capped, content-checked), probe it, queue a job."""
    settings = request.app.state.settings
    max_bytes = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    # Refuse before reading a byte when the declared size is already too large.
    if declared and declared.isdigit() and int(declared) > max_bytes + MULTIPART_OVERHEAD_BYTES:
        raise ServiceError(
            413,
            "payload_too_large",
            f"the upload ({int(declared) / 2**20:.1f} MB) is larger than the limit of "
            f"{settings.max_upload_mb:g} MB",
        )
    job_id = new_job_id()
    upload = await receive_upload(
        request.stream(),
        request.headers.get("content-type", ""),
        settings.upload_dir,
        job_id,
        max_bytes,
    )
    # Probing and SQLite are blocking: keep them off the event loop that streams other uploads.
    try:
        media = await run_in_threadpool(_probe_media, upload.path)
    except ServiceError:
        upload.path.unlink(missing_ok=True)
        raise
    job = await run_in_threadpool(
        _store(request).add,
        job_id=job_id,
        source_kind="upload",
        source_path=str(upload.path),
        original_name=upload.original_name,
        size_bytes=upload.size_bytes,
        scorer=settings.scorer,
        media=media,
    )
    return JSONResponse(job.public(), status_code=201, headers={"Location": f"jobs/{job.id}"})


@router.post("/jobs/from-path", status_code=201, summary="Submit a video already on the server")
def submit_path(body: PathSubmission, request: Request) -> JSONResponse:
    """Queue a file under one of the server's ``--allowed-root`` folders (symlinks resolved)."""
    settings = request.app.state.settings
    real = resolve_allowed(body.path, settings.allowed_roots)
    media = _probe_media(real)
    job = _store(request).add(
        source_kind="path",
        source_path=str(real),
        original_name=real.name,
        size_bytes=real.stat().st_size,
        scorer=settings.scorer,
        media=media,
    )
    return JSONResponse(job.public(), status_code=201)


@router.get("/jobs", summary="List jobs, newest first")
def list_jobs(
    request: Request,
    status: Literal["queued", "running", "done", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    jobs, total = _store(request).list(status=status, limit=limit, offset=offset)
    return {"jobs": [j.public() for j in jobs], "total": total, "limit": limit, "offset": offset}


@router.get("/jobs/{job_id}", summary="Job status and progress")
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    return _job_or_404(_store(request), job_id).public()


@router.get("/jobs/{job_id}/result", summary="The scores, evidence, curves and traces of a job")
def get_result(job_id: str, request: Request) -> dict[str, Any]:
    store = _store(request)
    job = _job_or_404(store, job_id)
    if job.status == "failed":
        raise ServiceError(
            409, "job_failed", job.error_message or "the job failed", job_error=job.error_code
        )
    if job.status != "done":
        raise ServiceError(
            409, "job_not_finished", f"the job is {job.status}; poll /api/v1/jobs/{job.id}"
        )
    result = store.result(job_id)
    if result is None:  # cannot happen for a done job unless the DB was edited by hand
        raise ServiceError(500, "result_missing", "the job is done but its result is missing")
    if job.source_kind == "upload":
        # The stored file's location is the server's business; the client knows its own name.
        result["path"] = job.original_name
        if isinstance(result.get("media"), dict):
            result["media"]["path"] = job.original_name
    return result


@router.head(
    "/jobs/{job_id}/video", include_in_schema=False
)  # the same handler; one operation in the schema
@router.get(
    "/jobs/{job_id}/video",
    summary="The job's video (HTTP Range supported)",
)
def get_video(job_id: str, request: Request) -> FileResponse:
    settings = request.app.state.settings
    job = _job_or_404(_store(request), job_id)
    path = Path(job.source_path)
    if job.source_kind == "path":
        # Roots can change between restarts: check again before serving.
        path = resolve_allowed(str(path), settings.allowed_roots)
    if not path.is_file():
        raise ServiceError(404, "file_missing", "the job's video is no longer on the server")
    media_type = {".mp4": "video/mp4", ".mkv": "video/x-matroska", ".mov": "video/quicktime"}
    return FileResponse(
        path,
        media_type=media_type.get(path.suffix.lower(), "application/octet-stream"),
        headers={"Cache-Control": "private, max-age=3600"},
    )


def _admin(request: Request) -> None:
    from tfqa.service.app import require_admin

    require_admin(request)


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    summary="Delete a job and its stored upload (admin token)",
    dependencies=[Depends(_admin)],
)
def delete_job(job_id: str, request: Request) -> Response:
    settings = request.app.state.settings
    job = _store(request).delete(job_id)
    if job is None:
        raise job_not_found(job_id[:40])
    if job.source_kind == "upload":
        path = Path(job.source_path)
        # Only ever remove files inside our own upload folder.
        if path.resolve().parent == settings.upload_dir.resolve():
            path.unlink(missing_ok=True)
    return Response(status_code=204)


@router.get("/health", summary="Database, workers and queue")
def health(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    store = _store(request)
    supervisor = request.app.state.supervisor
    try:
        db_ok = store.ping()
        counts = store.counts()
    except Exception as exc:  # noqa: BLE001 - reported, not raised: health must answer
        db_ok, counts = False, {"error": f"{type(exc).__name__}: {exc}"}
    workers = supervisor.status() if supervisor is not None else []
    alive = sum(w["alive"] for w in workers)
    ok = db_ok and alive == settings.workers
    body = {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "db": {"ok": db_ok, "path": settings.db_path.name},
        "workers": {"wanted": settings.workers, "alive": alive, "processes": workers},
        "queue": counts,
        "queue_length": counts.get("queued", 0) if db_ok else None,
        "config": {
            "scorer": settings.scorer,
            "max_upload_mb": settings.max_upload_mb,
            "path_submission": bool(settings.allowed_roots),
        },
    }
    return JSONResponse(body, status_code=200 if db_ok else 503)
