"""Service settings: one frozen, validated model that the CLI (and tests) fill once.

Everything the server and its workers need to agree on lives here, so a worker
process is started from the same settings object the HTTP app uses.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tfqa.errors import ConfigError

DB_NAME = "tfqa.db"
UPLOAD_DIR = "uploads"
CACHE_DIR = "feature-cache"
TOKEN_FILE = "admin-token"
LOCK_FILE = "server.lock"


class ServiceSettings(BaseModel):
    """Settings of ``tfqa serve`` (validated once; immutable afterwards).

    Attributes:
        data_dir: folder holding the SQLite database, uploads and the feature cache.
        host, port: where uvicorn listens.
        workers: scoring worker processes (0 = accept jobs but score none, for tests).
        scorer: name given to :func:`tfqa.scoring.create_scorer` in every worker.
        max_upload_mb: uploads larger than this are refused (by Content-Length and while streaming).
        allowed_roots: folders whose files may be submitted by server-side path (none = disabled).
        token: bearer token of admin actions (delete, study admin); generated when not given.
        cache: use the feature cache under ``data_dir/feature-cache``.
        lease_s: a running job whose worker has not renewed its lease for this long is orphaned.
        heartbeat_s: how often a worker renews its lease.
        max_attempts: attempts per job when its worker dies (2 = retried once).
        poll_s: how often idle workers look for queued jobs and the supervisor checks workers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    workers: Annotated[int, Field(ge=0, le=64)] = 1
    scorer: str = "learned"
    max_upload_mb: Annotated[float, Field(gt=0, le=100_000)] = 200.0
    allowed_roots: tuple[Path, ...] = ()
    token: str | None = None
    cache: bool = True
    lease_s: Annotated[float, Field(gt=0)] = 60.0
    heartbeat_s: Annotated[float, Field(gt=0)] = 5.0
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 2
    poll_s: Annotated[float, Field(gt=0, le=10)] = 0.3

    @field_validator("data_dir")
    @classmethod
    def _abs_data_dir(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @field_validator("allowed_roots")
    @classmethod
    def _roots_exist(cls, v: tuple[Path, ...]) -> tuple[Path, ...]:
        out = []
        for root in v:
            real = root.expanduser().resolve()
            if not real.is_dir():
                raise ValueError(f"allowed root `{root}` is not an existing folder")
            out.append(real)
        return tuple(out)

    @field_validator("token")
    @classmethod
    def _token_strength(cls, v: str | None) -> str | None:
        if v is not None and len(v) < 8:
            raise ValueError("the token must be at least 8 characters")
        return v

    @model_validator(mode="after")
    def _lease_after_heartbeat(self) -> ServiceSettings:
        # A lease shorter than two heartbeats would orphan healthy jobs on one late beat.
        if self.lease_s < 2 * self.heartbeat_s:
            raise ValueError(
                f"lease_s ({self.lease_s}) must be at least twice heartbeat_s ({self.heartbeat_s})"
            )
        return self

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / UPLOAD_DIR

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / CACHE_DIR

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def prepare(self) -> ServiceSettings:
        """Create the data folders and fix the admin token; returns settings with the token set.

        Without ``--token`` (or ``TFQA_TOKEN``) a random token is generated once and kept in
        ``data_dir/admin-token`` (mode 0600) so restarts keep it.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.upload_dir.mkdir(exist_ok=True)
        token = self.token or os.environ.get("TFQA_TOKEN") or None
        if token is None:
            token_file = self.data_dir / TOKEN_FILE
            if token_file.exists():
                token = token_file.read_text().strip()
            else:
                token = secrets.token_urlsafe(24)
                token_file.write_text(token + "\n")
                token_file.chmod(0o600)
        return self.model_copy(update={"token": token})


def load_settings(**values) -> ServiceSettings:
    """Build settings from keyword values; a bad value raises :class:`~tfqa.errors.ConfigError`."""
    from pydantic import ValidationError

    try:
        return ServiceSettings(**values)
    except ValidationError as exc:
        msgs = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid service settings ({msgs})") from None
