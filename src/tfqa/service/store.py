"""The job store: SQLite in WAL mode, shared by the HTTP process and the worker processes.

Every state change is one short transaction, so a crash at any point leaves
each job in one well-defined state (queued, running, done, failed) and a
restarted server picks up where the last one stopped.  Writes that belong to a
worker are guarded by ``worker_pid`` so a worker whose job was taken from it
(lease expired, job deleted) cannot overwrite the new state.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("queued", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    source_kind TEXT NOT NULL CHECK (source_kind IN ('upload', 'path')),
    source_path TEXT NOT NULL,
    original_name TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    media_json TEXT,
    scorer TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker_pid INTEGER,
    lease_until REAL,
    stage TEXT,
    fraction REAL,
    error_code TEXT,
    error_message TEXT,
    history_json TEXT NOT NULL DEFAULT '[]',
    result_json TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status_created ON jobs (status, created_at);
"""


@dataclass
class Job:
    """One scoring job as stored (``result`` is loaded only on request)."""

    id: str
    status: str
    source_kind: str
    source_path: str
    original_name: str
    size_bytes: int
    scorer: str
    created_at: float
    media: dict[str, Any] | None = None
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    worker_pid: int | None = None
    lease_until: float | None = None
    stage: str | None = None
    fraction: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    overall: float | None = None

    def public(self) -> dict[str, Any]:
        """The job as the API shows it (server paths of uploads are not exposed)."""
        return {
            "id": self.id,
            "status": self.status,
            "name": self.original_name,
            "source": self.source_kind,
            "path": self.source_path if self.source_kind == "path" else None,
            "size_bytes": self.size_bytes,
            "scorer": self.scorer,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "attempts": self.attempts,
            "worker_pid": self.worker_pid,
            "progress": {"stage": self.stage, "fraction": self.fraction},
            "error": (
                {"code": self.error_code, "message": self.error_message}
                if self.status == "failed"
                else None
            ),
            "history": self.history,
            "media": (
                {**self.media, "path": self.original_name}
                if self.media and self.source_kind == "upload"
                else self.media
            ),
            "overall": self.overall,
        }


def _row_to_job(row: sqlite3.Row) -> Job:
    keys = row.keys()
    return Job(
        id=row["id"],
        status=row["status"],
        source_kind=row["source_kind"],
        source_path=row["source_path"],
        original_name=row["original_name"],
        size_bytes=row["size_bytes"],
        scorer=row["scorer"],
        created_at=row["created_at"],
        media=json.loads(row["media_json"]) if row["media_json"] else None,
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        attempts=row["attempts"],
        worker_pid=row["worker_pid"],
        lease_until=row["lease_until"],
        stage=row["stage"],
        fraction=row["fraction"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        history=json.loads(row["history_json"] or "[]"),
        overall=row["overall"] if "overall" in keys else None,
    )


def connect(db_path: str | Path) -> sqlite3.Connection:
    """A connection in autocommit mode with WAL journaling and a generous busy timeout."""
    conn = sqlite3.connect(str(db_path), timeout=30.0, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across application crashes in WAL mode (only an OS crash can lose
    # the last commits), and it keeps each small update from forcing an fsync.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


_JOB_COLUMNS = (
    "id, status, source_kind, source_path, original_name, size_bytes, media_json, scorer, "
    "created_at, started_at, finished_at, attempts, worker_pid, lease_until, stage, fraction, "
    "error_code, error_message, history_json, "
    "json_extract(result_json, '$.scores.overall') AS overall"
)


class JobStore:
    """Jobs and results in ``db_path`` (created on first use).

    A new connection is opened per operation: SQLite connections are cheap, and this keeps
    the store safe to use from FastAPI's thread pool and from several processes.
    """

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        with self._conn() as c:
            c.executescript(_SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.db_path)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: takes the write lock up front so read-then-write is atomic."""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    # -- submission and queries ------------------------------------------------------

    def add(
        self,
        *,
        source_kind: str,
        source_path: str,
        original_name: str,
        size_bytes: int,
        scorer: str,
        media: dict[str, Any] | None = None,
        job_id: str | None = None,
    ) -> Job:
        """Queue a new job and return it."""
        job_id = job_id or new_job_id()
        with self._conn() as c:
            c.execute(
                "INSERT INTO jobs (id, status, source_kind, source_path, original_name, size_bytes,"
                " media_json, scorer, created_at, stage, fraction)"
                " VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, 'queued', 0.0)",
                (
                    job_id,
                    source_kind,
                    source_path,
                    original_name,
                    size_bytes,
                    json.dumps(media) if media else None,
                    scorer,
                    time.time(),
                ),
            )
        job = self.get(job_id)
        assert job is not None  # just inserted
        return job

    def get(self, job_id: str) -> Job | None:
        with self._conn() as c:
            row = c.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _row_to_job(row) if row else None

    def result(self, job_id: str) -> dict[str, Any] | None:
        """The stored ``ScoreResult.to_dict()`` of a finished job (``None`` when absent)."""
        with self._conn() as c:
            row = c.execute("SELECT result_json FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row["result_json"]) if row and row["result_json"] else None

    def list(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[Job], int]:
        """Jobs, newest first, and the total matching ``status``."""
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        with self._conn() as c:
            total = c.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
            rows = c.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY created_at DESC, id"
                " LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [_row_to_job(r) for r in rows], total

    def counts(self) -> dict[str, int]:
        with self._conn() as c:
            rows = c.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        out = dict.fromkeys(STATUSES, 0)
        out.update({r[0]: r[1] for r in rows})
        return out

    def delete(self, job_id: str) -> Job | None:
        """Remove a job; returns it (so the caller can remove its upload) or ``None``."""
        with self._tx() as c:
            row = c.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        return _row_to_job(row)

    def ping(self) -> bool:
        with self._conn() as c:
            return c.execute("SELECT 1").fetchone()[0] == 1

    # -- worker side -----------------------------------------------------------------

    def claim(self, worker_pid: int, lease_s: float) -> Job | None:
        """Take the oldest queued job for ``worker_pid`` (atomic across processes)."""
        now = time.time()
        with self._tx() as c:
            row = c.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            c.execute(
                "UPDATE jobs SET status = 'running', worker_pid = ?, attempts = attempts + 1,"
                " started_at = ?, lease_until = ?, stage = 'starting', fraction = 0.0"
                " WHERE id = ?",
                (worker_pid, now, now + lease_s, row["id"]),
            )
        return self.get(row["id"])

    def renew(self, job_id: str, worker_pid: int, lease_s: float) -> bool:
        with self._conn() as c:
            cur = c.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND worker_pid = ?"
                " AND status = 'running'",
                (time.time() + lease_s, job_id, worker_pid),
            )
        return cur.rowcount == 1

    def progress(self, job_id: str, worker_pid: int, stage: str, fraction: float) -> None:
        with self._conn() as c:
            c.execute(
                "UPDATE jobs SET stage = ?, fraction = ? WHERE id = ? AND worker_pid = ?"
                " AND status = 'running'",
                (stage, float(fraction), job_id, worker_pid),
            )

    def complete(self, job_id: str, worker_pid: int, result: dict[str, Any]) -> bool:
        with self._conn() as c:
            cur = c.execute(
                "UPDATE jobs SET status = 'done', result_json = ?, finished_at = ?, stage = 'done',"
                " fraction = 1.0, lease_until = NULL WHERE id = ? AND worker_pid = ?"
                " AND status = 'running'",
                (json.dumps(result), time.time(), job_id, worker_pid),
            )
        return cur.rowcount == 1

    def fail(self, job_id: str, worker_pid: int | None, code: str, message: str) -> bool:
        """Mark a job failed (``worker_pid=None``: whoever holds it, e.g. the supervisor)."""
        guard, args = ("AND worker_pid = ?", [worker_pid]) if worker_pid is not None else ("", [])
        with self._conn() as c:
            cur = c.execute(
                "UPDATE jobs SET status = 'failed', error_code = ?, error_message = ?,"
                " finished_at = ?, lease_until = NULL"
                f" WHERE id = ? AND status IN ('queued', 'running') {guard}",
                [code, message, time.time(), job_id, *args],
            )
        return cur.rowcount == 1

    # -- supervisor side -------------------------------------------------------------

    def running(self) -> list[Job]:
        with self._conn() as c:
            rows = c.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'running'").fetchall()
        return [_row_to_job(r) for r in rows]

    def orphan(self, job_id: str, worker_pid: int | None, reason: str, max_attempts: int) -> str:
        """A running job lost its worker: queue it again, or fail it after ``max_attempts``.

        Returns the new status (``"queued"`` or ``"failed"``), or ``""`` when the job was no
        longer held by ``worker_pid`` (it finished or moved on in the meantime).
        """
        with self._tx() as c:
            row = c.execute(
                "SELECT attempts, history_json FROM jobs WHERE id = ? AND status = 'running'"
                " AND worker_pid IS ?",
                (job_id, worker_pid),
            ).fetchone()
            if row is None:
                return ""
            history = json.loads(row["history_json"] or "[]")
            history.append({"attempt": row["attempts"], "time": time.time(), "reason": reason})
            if row["attempts"] < max_attempts:
                c.execute(
                    "UPDATE jobs SET status = 'queued', worker_pid = NULL, lease_until = NULL,"
                    " stage = 'queued (retry)', fraction = 0.0, history_json = ? WHERE id = ?",
                    (json.dumps(history), job_id),
                )
                return "queued"
            reasons = "; ".join(f"attempt {h['attempt']}: {h['reason']}" for h in history)
            message = (
                f"the worker scoring this clip died on each of {row['attempts']} attempts "
                f"({reasons}); the clip may crash the scorer: check it with `tfqa score`"
            )
            c.execute(
                "UPDATE jobs SET status = 'failed', error_code = 'worker_died', error_message = ?,"
                " finished_at = ?, worker_pid = NULL, lease_until = NULL, history_json = ?"
                " WHERE id = ?",
                (message, time.time(), json.dumps(history), job_id),
            )
            return "failed"

    def requeue_interrupted(self, worker_pid: int, reason: str) -> int:
        """Queue the job of a worker stopped on purpose (server shutdown) without using an attempt."""
        with self._tx() as c:
            rows = c.execute(
                "SELECT id, history_json FROM jobs WHERE status = 'running' AND worker_pid = ?",
                (worker_pid,),
            ).fetchall()
            for row in rows:
                history = json.loads(row["history_json"] or "[]")
                history.append({"attempt": None, "time": time.time(), "reason": reason})
                c.execute(
                    "UPDATE jobs SET status = 'queued', worker_pid = NULL, lease_until = NULL,"
                    " attempts = MAX(attempts - 1, 0), stage = 'queued (interrupted)',"
                    " fraction = 0.0, history_json = ? WHERE id = ?",
                    (json.dumps(history), row["id"]),
                )
        return len(rows)


def new_job_id() -> str:
    """A random job id (also the stored upload's file stem, so it must stay path-safe)."""
    return uuid.uuid4().hex[:16]
