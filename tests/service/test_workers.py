"""Real servers with worker processes: scoring end to end, a bad clip failing only its job,
a SIGKILLed worker (retried once, then failed with the reason), and a restart that loses nothing."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from tfqa.service.store import JobStore

DIMS = ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")


@pytest.fixture(scope="module")
def faceless_clip(tmp_path_factory):
    """A valid MP4 with speech-like audio but no face: probe accepts it, scoring refuses it."""
    from tfqa.io.writer import write_clip

    sr = 16000
    t = np.arange(int(2.0 * sr)) / sr
    audio = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    frames = (np.full((128, 128, 3), 90 + 10 * (i % 5), np.uint8) for i in range(50))
    return write_clip(tmp_path_factory.mktemp("bad") / "faceless.mp4", frames, 25.0, audio, sr)


@pytest.fixture(scope="module")
def scoring_server(tmp_path_factory):
    from tests.service.conftest import LiveServer

    # No feature cache: each job really scores, so a worker can be killed mid-job.
    srv = LiveServer(tmp_path_factory.mktemp("srv") / "data", "--workers", "1", "--no-cache")
    srv.wait_ready(workers_alive=1)
    yield srv
    srv.stop()


def test_scores_a_clip_and_fails_a_bad_one_without_harm(scoring_server, tiny_clip, faceless_clip):
    srv = scoring_server
    good = srv.upload(tiny_clip)
    bad = srv.upload(faceless_clip)
    seen_progress = set()
    deadline = time.time() + 150
    while time.time() < deadline:
        job = srv.http.get(f"/jobs/{good['id']}").json()
        seen_progress.add((job["status"], job["progress"]["stage"]))
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "done", job
    assert any(status == "running" for status, _ in seen_progress)
    result = srv.http.get(f"/jobs/{good['id']}/result").json()
    assert set(DIMS) <= set(result["scores"]) and all(1 <= result["scores"][d] <= 5 for d in DIMS)
    assert result["status"] == "ok" and result["scorer"] == "learned"
    assert {"sync.confidence", "sync.offset_ms", "audio.dnsmos_ovrl"} <= set(result["curves"])
    assert len(result["traces"]["face.mouth_open"]) == 50  # 2 s at 25 frames/s
    assert "av_offset_ms" in result["evidence"] and "face_coverage" in result["evidence"]

    failed = srv.wait_job(bad["id"])
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] not in ("internal_error", "scoring_failed", "worker_died")
    assert failed["error"]["message"] and "Traceback" not in failed["error"]["message"]
    assert failed["attempts"] == 1  # a bad clip is not retried
    r = srv.http.get(f"/jobs/{bad['id']}/result")
    assert r.status_code == 409 and r.json()["error"]["code"] == "job_failed"
    health = srv.http.get("/health").json()
    assert health["status"] == "ok" and health["workers"]["alive"] == 1
    assert health["queue"]["done"] >= 1 and health["queue"]["failed"] >= 1


def _wait_running(srv, job_id, not_pid=None, timeout=90.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = srv.http.get(f"/jobs/{job_id}").json()
        if job["status"] == "running" and job["worker_pid"] and job["worker_pid"] != not_pid:
            return job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} never ran")


def test_killed_worker_is_retried_once_then_the_job_fails(scoring_server, tiny_clip_b):
    srv = scoring_server
    job = srv.upload(tiny_clip_b)
    first = _wait_running(srv, job["id"])
    os.kill(first["worker_pid"], signal.SIGKILL)
    second = _wait_running(srv, job["id"], not_pid=first["worker_pid"])
    assert second["attempts"] == 2
    assert "SIGKILL" in second["history"][0]["reason"] or "gone" in second["history"][0]["reason"]
    os.kill(second["worker_pid"], signal.SIGKILL)
    final = srv.wait_job(job["id"], timeout=60)
    assert final["status"] == "failed" and final["error"]["code"] == "worker_died"
    msg = final["error"]["message"]
    assert "attempt 1" in msg and "attempt 2" in msg and "tfqa score" in msg
    # The service survives and restarts its worker.
    deadline = time.time() + 60
    while srv.http.get("/health").json()["workers"]["alive"] != 1:
        assert time.time() < deadline, "worker not restarted"
        time.sleep(0.2)
    assert srv.http.get("/health").json()["workers"]["processes"][0]["restarts"] == 2


def test_restart_loses_no_job(live_server, tmp_path, tiny_clip):
    data = tmp_path / "data"
    first = live_server(data, "--workers", "0")
    first.wait_ready()
    ids = [first.upload(tiny_clip)["id"] for _ in range(3)]
    first.stop()
    # Simulate a crash mid-job: one job is left "running" by a process that no longer exists.
    store = JobStore(data / "tfqa.db")
    crashed = store.claim(worker_pid=2**22 + 12345, lease_s=600)
    assert crashed is not None and store.counts()["running"] == 1

    second = live_server(data, "--workers", "1")
    second.wait_ready(workers_alive=1)
    jobs = [second.wait_job(i, timeout=180) for i in ids]
    assert [j["status"] for j in jobs] == ["done"] * 3
    listing = second.http.get("/jobs").json()
    assert listing["total"] == 3 and {j["id"] for j in listing["jobs"]} == set(ids)
    again = next(j for j in jobs if j["id"] == crashed.id)
    assert again["attempts"] == 2 and "is gone" in again["history"][0]["reason"]
