"""Fixtures of the service tests: tiny synthesised clips, an in-process app (no workers) and
real servers (``tfqa serve`` in a subprocess on a free port) for worker and browser tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

TOKEN = "test-admin-token"


@pytest.fixture(scope="session")
def tiny_clip(synth_clip) -> Path:
    """A 2-s, 128-px talking clip (the smallest the scorer accepts comfortably)."""
    return synth_clip("svc_tiny", duration_s=2.0, size=128, seed=11)


@pytest.fixture(scope="session")
def tiny_clip_b(synth_clip) -> Path:
    return synth_clip("svc_tiny_b", duration_s=2.0, size=128, seed=12, av_offset_ms=200)


@pytest.fixture
def make_app(tmp_path):
    """Factory of in-process apps (``workers=0``: jobs are queued, nothing scores them)."""
    from tfqa.service import create_app, load_settings

    def make(**overrides):
        values = {"data_dir": tmp_path / "data", "workers": 0, "token": TOKEN}
        values.update(overrides)
        return create_app(load_settings(**values))

    return make


@pytest.fixture
def client(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app(), raise_server_exceptions=False) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``tfqa serve`` in a subprocess; ``stop()`` sends SIGTERM and waits."""

    def __init__(self, data_dir: Path, *args: str, log: Path | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = log or data_dir.parent / f"server-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "tfqa.cli", "serve", "--port", str(self.port),
               "--data-dir", str(data_dir), "--token", TOKEN, "--log-level", "warning", *args]  # fmt: skip
        self._log = self.log_path.open("w")
        env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.http = httpx.Client(base_url=self.base + "/api/v1", timeout=30.0)

    def wait_ready(self, workers_alive: int = 0, timeout: float = 60.0) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                h = self.http.get("/health").json()
                if h["workers"]["alive"] >= workers_alive:
                    return h
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not ready: {self.log_path.read_text()[-3000:]}")

    def wait_job(self, job_id: str, statuses=("done", "failed"), timeout: float = 120.0) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.http.get(f"/jobs/{job_id}").json()
            if job["status"] in statuses:
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} still {job['status']}: {json.dumps(job)[:500]}")

    def upload(self, path: Path) -> dict:
        with path.open("rb") as fh:
            r = self.http.post("/jobs", files={"file": (path.name, fh, "video/mp4")})
        assert r.status_code == 201, r.text
        return r.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.http.close()
        self._log.close()


@pytest.fixture
def live_server(tmp_path):
    """Factory: ``live_server(data_dir, *cli_args) -> LiveServer`` (stopped after the test)."""
    servers: list[LiveServer] = []

    def start(data_dir: Path | None = None, *args: str) -> LiveServer:
        srv = LiveServer(data_dir or tmp_path / "data", *args)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
