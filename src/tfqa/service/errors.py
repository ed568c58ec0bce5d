"""HTTP-facing errors of the service: a status, a stable code and a message (no stack traces)."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with HTTP ``status``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def job_not_found(job_id: str) -> ServiceError:
    return ServiceError(404, "job_not_found", f"no job with id `{job_id}`")
