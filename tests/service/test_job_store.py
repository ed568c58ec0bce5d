"""The SQLite job store: claim is exclusive, worker writes are guarded, orphans retry once."""

from __future__ import annotations

import sqlite3

import pytest

from tfqa.service.store import JobStore


@pytest.fixture
def store(tmp_path):
    return JobStore(tmp_path / "jobs.db")


def _add(store, name="a.mp4"):
    return store.add(
        source_kind="upload", source_path=f"/x/{name}", original_name=name, size_bytes=1,
        scorer="zero-shot",
    )  # fmt: skip


def test_wal_mode_and_fifo_claims(store):
    with sqlite3.connect(store.db_path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    first, second = _add(store, "1.mp4"), _add(store, "2.mp4")
    a = store.claim(101, lease_s=60)
    b = store.claim(102, lease_s=60)
    assert (a.id, b.id) == (first.id, second.id)
    assert (a.status, a.worker_pid, a.attempts) == ("running", 101, 1)
    assert store.claim(103, lease_s=60) is None
    assert store.counts() == {"queued": 0, "running": 2, "done": 0, "failed": 0}


def test_worker_writes_are_guarded_by_pid(store):
    job = _add(store)
    store.claim(7, lease_s=60)
    assert not store.complete(job.id, 8, {"scores": {"overall": 3.0}})  # not its job
    store.progress(job.id, 8, "frames", 0.5)
    assert store.get(job.id).stage == "starting"
    store.progress(job.id, 7, "frames", 0.5)
    assert (store.get(job.id).stage, store.get(job.id).fraction) == ("frames", 0.5)
    assert store.complete(job.id, 7, {"scores": {"overall": 3.0}})
    done = store.get(job.id)
    assert (done.status, done.overall) == ("done", 3.0)
    assert store.result(job.id) == {"scores": {"overall": 3.0}}


def test_orphan_is_retried_once_then_failed_with_reasons(store):
    job = _add(store)
    store.claim(11, lease_s=60)
    assert (
        store.orphan(job.id, 11, "worker process 11 killed by SIGKILL", max_attempts=2) == "queued"
    )
    again = store.claim(12, lease_s=60)
    assert (again.id, again.attempts) == (job.id, 2)
    # A stale supervisor decision about the first worker must not touch the new attempt.
    assert store.orphan(job.id, 11, "late", max_attempts=2) == ""
    assert (
        store.orphan(job.id, 12, "worker process 12 killed by SIGKILL", max_attempts=2) == "failed"
    )
    failed = store.get(job.id)
    assert failed.status == "failed" and failed.error_code == "worker_died"
    assert "attempt 1: worker process 11" in failed.error_message
    assert "attempt 2: worker process 12" in failed.error_message
    assert [h["attempt"] for h in failed.history] == [1, 2]


def test_shutdown_requeue_keeps_the_attempt(store):
    job = _add(store)
    store.claim(21, lease_s=60)
    assert store.requeue_interrupted(21, "server stopped") == 1
    j = store.get(job.id)
    assert (j.status, j.attempts, j.worker_pid) == ("queued", 0, None)


def test_list_filter_pagination_and_delete(store):
    ids = [_add(store, f"{i}.mp4").id for i in range(5)]
    store.claim(1, lease_s=60)  # the oldest becomes running
    jobs, total = store.list(limit=2, offset=0)
    assert total == 5 and [j.id for j in jobs] == ids[::-1][:2]  # newest first
    jobs, total = store.list(status="running")
    assert total == 1 and jobs[0].id == ids[0]
    assert store.delete(ids[1]).id == ids[1]
    assert store.get(ids[1]) is None and store.delete(ids[1]) is None


def test_supervisor_reaps_gone_workers_and_expired_leases(tmp_path, monkeypatch):
    from tfqa.service.settings import load_settings
    from tfqa.service.worker import Supervisor

    settings = load_settings(data_dir=tmp_path, workers=0, max_attempts=2).prepare()
    store = JobStore(settings.db_path)
    gone, stale, healthy = _add(store, "gone.mp4"), _add(store, "stale.mp4"), _add(store, "ok.mp4")
    store.claim(31, lease_s=60)  # gone: pid 31 is not one of the supervisor's workers
    store.claim(32, lease_s=-1)  # stale: a live worker whose lease already ran out
    store.claim(33, lease_s=60)  # healthy
    sup = Supervisor(settings, store)
    monkeypatch.setattr(sup, "live_pids", lambda: {32, 33})
    killed = []
    monkeypatch.setattr(sup, "_terminate_pid", killed.append)
    sup.reap()
    assert store.get(gone.id).status == "queued"
    assert "31 is gone" in store.get(gone.id).history[0]["reason"]
    assert store.get(stale.id).status == "queued" and killed == [32]
    assert "stopped renewing its lease" in store.get(stale.id).history[0]["reason"]
    assert store.get(healthy.id).status == "running"


def test_a_worker_whose_scorer_cannot_load_is_not_restarted(tmp_path):
    import time

    from tfqa.service.settings import load_settings
    from tfqa.service.worker import Supervisor

    settings = load_settings(data_dir=tmp_path, workers=1, scorer="no-such-scorer", poll_s=0.1)
    settings = settings.prepare()
    sup = Supervisor(settings, JobStore(settings.db_path))
    sup.start()
    try:
        deadline = time.time() + 60
        while not sup.status()[0]["gave_up"]:
            assert time.time() < deadline, sup.status()
            time.sleep(0.1)
        (slot,) = sup.status()
        assert "unknown scorer `no-such-scorer`" in slot["gave_up"] and slot["restarts"] == 0
        time.sleep(0.5)
        assert not sup.status()[0]["alive"]  # and it stays down
    finally:
        sup.stop()
