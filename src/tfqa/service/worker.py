"""Scoring workers (separate processes) and the supervisor that keeps them and their jobs honest.

A worker process builds its scorer once (models load once per worker), then
loops: claim the oldest queued job, score it with the library, store the
result or the typed error.  A heartbeat thread renews the job's lease while
it runs.  The supervisor (a thread in the server process) restarts workers
that exit and hands the job of a dead worker back to the queue once; on the
second death the job fails with the reasons (see :meth:`JobStore.orphan`).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from tfqa.errors import TfqaError
from tfqa.service.settings import ServiceSettings
from tfqa.service.store import JobStore

log = logging.getLogger("tfqa.service")

# Progress writes are throttled: the pipeline may report many fractions per second.
PROGRESS_MIN_INTERVAL_S = 0.5
# A worker that exits this many times within RESTART_WINDOW_S is not restarted again
# (e.g. the scorer cannot load); health then reports it.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
# Exit status of a worker whose scorer cannot be built (e.g. no checkpoint for "learned"):
# restarting it cannot help, so the supervisor stops and health reports the reason.
EXIT_SCORER_UNAVAILABLE = 3
STARTUP_ERROR_FILE = "worker-startup-error.txt"


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


# ---------------------------------------------------------------------------------------
# worker process


def worker_main(settings: ServiceSettings, ready: Any = None) -> None:
    """Entry point of a worker process: build the scorer, then score jobs until terminated."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    # Workers share the cores: each one's frame pass gets its share of threads.
    share = max(1, (os.cpu_count() or 1) // max(1, settings.workers))
    os.environ.setdefault("TFQA_WORKERS", str(min(2, share)))
    # The server stops workers with SIGTERM: idle, exit at once; mid-job, leave the job
    # running (the server requeues it without using an attempt) rather than finish a long clip.
    stop = threading.Event()
    busy = threading.Event()

    def on_term(*_: Any) -> None:
        stop.set()
        if busy.is_set():
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server, which stops us

    from tfqa.scoring import create_scorer

    kwargs: dict[str, Any] = {}
    if settings.cache:
        from tfqa.features.cache import FeatureCache

        kwargs["cache"] = FeatureCache(settings.cache_dir)
    else:
        kwargs["cache"] = False
    try:
        scorer = create_scorer(settings.scorer, **kwargs)
    except TfqaError as exc:
        (settings.data_dir / STARTUP_ERROR_FILE).write_text(str(exc))
        log.error("worker cannot build scorer `%s`: %s", settings.scorer, exc)
        raise SystemExit(EXIT_SCORER_UNAVAILABLE) from None
    store = JobStore(settings.db_path)
    pid = os.getpid()
    if ready is not None:
        ready.set()
    while not stop.is_set():
        job = store.claim(pid, settings.lease_s)
        if job is None:
            stop.wait(settings.poll_s)
            continue
        busy.set()
        try:
            run_job(store, scorer, job.id, job.source_path, pid, settings)
        finally:
            busy.clear()


def run_job(store: JobStore, scorer: Any, job_id: str, path: str, pid: int, settings) -> None:
    """Score one claimed job; every outcome ends in ``done`` or ``failed`` (never raises)."""
    beat_stop = threading.Event()

    def heartbeat() -> None:
        while not beat_stop.wait(settings.heartbeat_s):
            if not store.renew(job_id, pid, settings.lease_s):
                return  # the job was deleted or taken from us; scoring result will be dropped

    beat = threading.Thread(target=heartbeat, name=f"heartbeat-{job_id}", daemon=True)
    beat.start()
    last = {"t": 0.0, "stage": None}

    def progress(stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage != last["stage"] or now - last["t"] >= PROGRESS_MIN_INTERVAL_S:
            last.update(t=now, stage=stage)
            store.progress(job_id, pid, stage, fraction)

    try:
        result = scorer.score(path, progress=progress)
        store.complete(job_id, pid, result.to_dict())
    except TfqaError as exc:  # a bad clip: the job fails with the library's code and message
        store.fail(job_id, pid, exc.code, str(exc))
    except (OSError, ValueError, RuntimeError, MemoryError) as exc:  # decoder/library failures
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        store.fail(job_id, pid, "scoring_failed", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a scorer bug must fail the job, not the worker
        log.error("job %s crashed the scorer:\n%s", job_id, traceback.format_exc())
        store.fail(job_id, pid, "internal_error", f"the scorer crashed ({type(exc).__name__})")
    finally:
        beat_stop.set()
        beat.join(timeout=1.0)


# ---------------------------------------------------------------------------------------
# supervisor (in the server process)


@dataclass
class _Slot:
    process: Any
    started_at: float
    exits: list[float] = field(default_factory=list)
    gave_up: str | None = None


class Supervisor:
    """Starts ``settings.workers`` worker processes, restarts them and reaps orphaned jobs."""

    def __init__(self, settings: ServiceSettings, store: JobStore) -> None:
        self.settings = settings
        self.store = store
        # spawn, not fork: the server has threads (uvicorn, this one) and forking those is unsafe.
        self.ctx = mp.get_context("spawn")
        self.slots: list[_Slot] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _spawn(self) -> Any:
        proc = self.ctx.Process(
            target=worker_main, args=(self.settings,), name="tfqa-worker", daemon=True
        )
        proc.start()
        log.info("started worker pid %s", proc.pid)
        return proc

    def start(self) -> None:
        # Jobs left running by a previous server have no live worker now: reap them first,
        # so they are retried (or failed) before new work is claimed.
        self.reap()
        with self._lock:
            self.slots = [_Slot(self._spawn(), time.time()) for _ in range(self.settings.workers)]
        self._thread = threading.Thread(target=self._loop, name="tfqa-supervisor", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.poll_s):
            try:
                self.check_workers()
                self.reap()
            except Exception:  # noqa: BLE001 - the supervisor must outlive a transient DB error
                log.error("supervisor check failed:\n%s", traceback.format_exc())

    def live_pids(self) -> set[int]:
        with self._lock:
            return {s.process.pid for s in self.slots if s.process.is_alive()}

    def check_workers(self) -> None:
        """Restart exited workers (their running job is reaped by :meth:`reap`)."""
        with self._lock:
            for slot in self.slots:
                proc = slot.process
                if proc.is_alive() or slot.gave_up:
                    continue
                reason = _signal_name(proc.exitcode)
                self._release(proc.pid, f"worker process {proc.pid} {reason}")
                now = time.time()
                if proc.exitcode == EXIT_SCORER_UNAVAILABLE:
                    err = self.settings.data_dir / STARTUP_ERROR_FILE
                    detail = err.read_text() if err.exists() else "see the server log"
                    slot.gave_up = f"the scorer could not be loaded: {detail}"
                    log.error("not restarting worker: %s", slot.gave_up)
                    continue
                slot.exits = [t for t in slot.exits if now - t < RESTART_WINDOW_S] + [now]
                if len(slot.exits) > MAX_RESTARTS:
                    slot.gave_up = f"worker exited {len(slot.exits)} times in a minute ({reason})"
                    log.error("not restarting worker: %s", slot.gave_up)
                    continue
                log.warning("worker %s %s; restarting it", proc.pid, reason)
                slot.process = self._spawn()
                slot.started_at = now

    def _release(self, pid: int, reason: str) -> None:
        for job in self.store.running():
            if job.worker_pid == pid:
                status = self.store.orphan(job.id, pid, reason, self.settings.max_attempts)
                log.warning("job %s: %s -> %s", job.id, reason, status or "unchanged")

    def reap(self) -> None:
        """Running jobs whose worker is not one of ours, or whose lease ran out, are orphaned."""
        live = self.live_pids()
        now = time.time()
        for job in self.store.running():
            if job.worker_pid not in live:
                reason = f"worker process {job.worker_pid} is gone"
            elif job.lease_until is not None and job.lease_until < now:
                reason = f"worker process {job.worker_pid} stopped renewing its lease"
                # A hung worker would keep the job's slot: end it so it is restarted.
                self._terminate_pid(job.worker_pid)
            else:
                continue
            status = self.store.orphan(job.id, job.worker_pid, reason, self.settings.max_attempts)
            if status:
                log.warning("job %s: %s -> %s", job.id, reason, status)

    def _terminate_pid(self, pid: int | None) -> None:
        with self._lock:
            for slot in self.slots:
                if slot.process.pid == pid and slot.process.is_alive():
                    slot.process.kill()

    def status(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "pid": s.process.pid,
                    "alive": s.process.is_alive(),
                    "started_at": s.started_at,
                    "restarts": len(s.exits),
                    "gave_up": s.gave_up,
                }
                for s in self.slots
            ]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop, then the workers (SIGTERM, SIGKILL after ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        with self._lock:
            for slot in self.slots:
                if slot.process.is_alive():
                    slot.process.terminate()
            deadline = time.time() + timeout
            for slot in self.slots:
                slot.process.join(timeout=max(0.0, deadline - time.time()))
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join(timeout=2.0)
                # A job cut short by shutdown is not the clip's fault: it keeps its attempt.
                n = self.store.requeue_interrupted(slot.process.pid, "server stopped")
                if n:
                    log.info("requeued %d job(s) of worker %s", n, slot.process.pid)
