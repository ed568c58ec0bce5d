"""Every job endpoint in-process (no workers): submission, queries, video ranges, deletion,
health, docs, and the bad inputs (oversized, non-video, traversal names and paths, unknown ids)."""

from __future__ import annotations

import os
import warnings

import pytest
from tests.service.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _upload(client, path, name=None):
    with path.open("rb") as fh:
        return client.post("/api/v1/jobs", files={"file": (name or path.name, fh, "video/mp4")})


def _assert_error(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"] and "Traceback" not in r.text
    return body["error"]["message"]


def test_upload_status_list_and_video_ranges(client, tiny_clip):
    r = _upload(client, tiny_clip, name="../../evil/<img src=x onerror=alert(1)>.mp4")
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "queued" and job["progress"] == {"stage": "queued", "fraction": 0.0}
    # The client's name is metadata only: stored under the job id, never under its name.
    assert job["name"] == "<img src=x onerror=alert(1)>.mp4"
    stored = list((client.app.state.settings.upload_dir).iterdir())
    assert [p.name for p in stored] == [f"{job['id']}.mp4"]
    assert job["media"]["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert (
        job["media"]["path"] == "<img src=x onerror=alert(1)>.mp4"
    )  # server paths are not exposed

    assert client.get(f"/api/v1/jobs/{job['id']}").json()["id"] == job["id"]
    listing = client.get("/api/v1/jobs", params={"status": "queued"}).json()
    assert listing["total"] == 1 and listing["jobs"][0]["id"] == job["id"]
    assert client.get("/api/v1/jobs", params={"status": "done"}).json()["total"] == 0

    size = tiny_clip.stat().st_size
    full = client.get(f"/api/v1/jobs/{job['id']}/video")
    assert full.status_code == 200 and full.content == tiny_clip.read_bytes()
    part = client.get(f"/api/v1/jobs/{job['id']}/video", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert part.content == tiny_clip.read_bytes()[100:200]
    head = client.head(f"/api/v1/jobs/{job['id']}/video")  # players probe with HEAD first
    assert head.status_code == 200 and int(head.headers["content-length"]) == size
    assert head.content == b""


def test_pagination(client, tiny_clip):
    ids = [_upload(client, tiny_clip).json()["id"] for _ in range(3)]
    page1 = client.get("/api/v1/jobs", params={"limit": 2, "offset": 0}).json()
    page2 = client.get("/api/v1/jobs", params={"limit": 2, "offset": 2}).json()
    assert page1["total"] == page2["total"] == 3
    assert [j["id"] for j in page1["jobs"] + page2["jobs"]] == ids[::-1]
    _assert_error(client.get("/api/v1/jobs", params={"limit": 0}), 422, "validation_error")
    _assert_error(client.get("/api/v1/jobs", params={"status": "bogus"}), 422, "validation_error")


def test_result_endpoint_follows_the_job(client, tiny_clip):
    job = _upload(client, tiny_clip).json()
    msg = _assert_error(client.get(f"/api/v1/jobs/{job['id']}/result"), 409, "job_not_finished")
    assert "queued" in msg
    store = client.app.state.store
    claimed = store.claim(4242, lease_s=60)
    store.progress(claimed.id, 4242, "frames", 0.25)
    status = client.get(f"/api/v1/jobs/{job['id']}").json()
    assert status["status"] == "running" and status["progress"] == {
        "stage": "frames",
        "fraction": 0.25,
    }
    result = {"path": "/srv/x.mp4", "scores": {"overall": 3.5}, "media": {"path": "/srv/x.mp4"}}
    assert store.complete(claimed.id, 4242, result)
    got = client.get(f"/api/v1/jobs/{job['id']}/result").json()
    assert got["scores"] == {"overall": 3.5} and got["path"] == tiny_clip.name
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["overall"] == 3.5


def test_failed_job_result_is_a_clear_error(client, tiny_clip):
    job = _upload(client, tiny_clip).json()
    store = client.app.state.store
    store.claim(1, lease_s=60)
    store.fail(job["id"], 1, "no_face", "clip.mp4: no face found in any frame.")
    status = client.get(f"/api/v1/jobs/{job['id']}").json()
    assert status["error"] == {
        "code": "no_face",
        "message": "clip.mp4: no face found in any frame.",
    }
    msg = _assert_error(client.get(f"/api/v1/jobs/{job['id']}/result"), 409, "job_failed")
    assert "no face" in msg


def test_delete_needs_the_token_and_removes_the_upload(client, tiny_clip):
    job = _upload(client, tiny_clip).json()
    stored = client.app.state.settings.upload_dir / f"{job['id']}.mp4"
    assert stored.exists()
    _assert_error(client.delete(f"/api/v1/jobs/{job['id']}"), 401, "unauthorized")
    bad = {"Authorization": "Bearer wrong-token-123"}
    _assert_error(client.delete(f"/api/v1/jobs/{job['id']}", headers=bad), 401, "unauthorized")
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=AUTH).status_code == 204
    assert not stored.exists()
    _assert_error(client.get(f"/api/v1/jobs/{job['id']}"), 404, "job_not_found")


@pytest.mark.parametrize(
    "job_id", ["0123456789abcdef", "nope", "..%2F..%2Fetc%2Fpasswd", "x" * 300]
)
def test_unknown_job_ids(client, job_id):
    for path in ("", "/result", "/video"):
        r = client.get(f"/api/v1/jobs/{job_id}{path}")
        assert r.status_code == 404 and r.json()["error"]["code"] in {"job_not_found", "not_found"}
    r = client.delete(f"/api/v1/jobs/{job_id}", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] in {"job_not_found", "not_found"}


def test_oversized_uploads_are_refused(make_app, tiny_clip):
    from fastapi.testclient import TestClient

    with TestClient(make_app(max_upload_mb=0.01), raise_server_exceptions=False) as client:
        data = tiny_clip.read_bytes()  # ~30 kB > 10 kB
        assert len(data) > 0.01 * 2**20
        # 1. Declared too large: refused from the header, before the body is read.
        big = b"\x00" * (200 * 1024)
        r = client.post("/api/v1/jobs", files={"file": ("big.mp4", big, "video/mp4")})
        assert "limit of 0.01 MB" in _assert_error(r, 413, "payload_too_large")
        # 2. No Content-Length (chunked): refused while streaming.
        boundary = "XyZ"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.mp4"\r\n'
                f"Content-Type: video/mp4\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )

        def chunks():
            for i in range(0, len(body), 4096):
                yield body[i : i + 4096]

        r = client.post(
            "/api/v1/jobs",
            content=chunks(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        _assert_error(r, 413, "payload_too_large")
        upload_dir = client.app.state.settings.upload_dir
        assert list(upload_dir.iterdir()) == []  # partial files are removed
        assert client.get("/api/v1/jobs").json()["total"] == 0


def test_non_video_and_unreadable_uploads(client, tmp_path):
    html = b"<html><script>alert(1)</script></html>" * 10
    r = client.post("/api/v1/jobs", files={"file": ("x.mp4", html, "video/mp4")})
    assert "not a video" in _assert_error(r, 415, "not_a_video")
    # Right magic bytes, broken file: the prober refuses it with the library's code.
    fake = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + os.urandom(4000)
    r = client.post("/api/v1/jobs", files={"file": ("fake.mp4", fake, "video/mp4")})
    assert r.status_code == 415 and r.json()["error"]["code"] in {"truncated_file", "not_a_video"}
    assert str(client.app.state.settings.data_dir) not in r.text  # no server paths in messages
    r = client.post("/api/v1/jobs", files={"file": ("e.mp4", b"", "video/mp4")})
    assert r.status_code == 415
    r = client.post("/api/v1/jobs", files={"other": ("x.mp4", b"abc", "video/mp4")})
    assert "`file`" in _assert_error(r, 400, "bad_request")
    r = client.post("/api/v1/jobs", json={"path": "/etc/passwd"})
    _assert_error(r, 400, "bad_request")
    assert list(client.app.state.settings.upload_dir.iterdir()) == []
    assert client.get("/api/v1/jobs").json()["total"] == 0


def test_server_side_paths(make_app, tiny_clip, tmp_path):
    from fastapi.testclient import TestClient

    root = tmp_path / "media"
    root.mkdir()
    (root / "clip.mp4").write_bytes(tiny_clip.read_bytes())
    (tmp_path / "outside.mp4").write_bytes(tiny_clip.read_bytes())
    os.symlink(tmp_path / "outside.mp4", root / "sneaky.mp4")
    (root / "notes.txt").write_text("not a video")

    with TestClient(make_app(), raise_server_exceptions=False) as client:
        r = client.post("/api/v1/jobs/from-path", json={"path": str(root / "clip.mp4")})
        _assert_error(r, 403, "path_not_allowed")  # no roots configured: disabled
    with TestClient(make_app(allowed_roots=(root,)), raise_server_exceptions=False) as client:
        r = client.post("/api/v1/jobs/from-path", json={"path": str(root / "clip.mp4")})
        assert r.status_code == 201, r.text
        job = r.json()
        assert job["source"] == "path" and job["path"] == str((root / "clip.mp4").resolve())
        assert client.get(f"/api/v1/jobs/{job['id']}/video").content == tiny_clip.read_bytes()
        for bad, status, code in [
            (str(root / ".." / "outside.mp4"), 403, "path_not_allowed"),
            (str(root / "sneaky.mp4"), 403, "path_not_allowed"),
            ("/etc/passwd", 403, "path_not_allowed"),
            ("media/clip.mp4", 400, "bad_request"),
            (str(root / "missing.mp4"), 404, "file_missing"),
            (str(root / "notes.txt"), 415, "not_a_video"),
        ]:
            _assert_error(client.post("/api/v1/jobs/from-path", json={"path": bad}), status, code)
        r = client.post("/api/v1/jobs/from-path", json={"path": "/x", "extra": 1})
        _assert_error(r, 422, "validation_error")
        # Deleting a path job never removes the user's file.
        assert client.delete(f"/api/v1/jobs/{job['id']}", headers=AUTH).status_code == 204
        assert (root / "clip.mp4").exists()


def test_health_docs_pages_and_unknown_routes(client):
    h = client.get("/api/v1/health").json()
    assert h["status"] == "ok" and h["db"]["ok"] is True
    assert h["workers"] == {"wanted": 0, "alive": 0, "processes": []}
    assert h["queue_length"] == 0 and h["config"]["scorer"] == "learned"
    assert client.get("/docs").status_code == 200
    with warnings.catch_warnings():  # e.g. FastAPI's "Duplicate Operation ID"
        warnings.simplefilter("error")
        paths = client.get("/openapi.json").json()["paths"]
    ops = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ops) == len(set(ops))  # client generators need unique operation ids
    for p in ("/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/result",
              "/api/v1/jobs/{job_id}/video", "/api/v1/jobs/from-path", "/api/v1/health"):  # fmt: skip
        assert p in paths
    assert "multipart/form-data" in paths["/api/v1/jobs"]["post"]["requestBody"]["content"]
    page = client.get("/")
    assert page.status_code == 200 and "upload-progress" in page.text
    assert client.get("/static/app.js").status_code == 200
    _assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    _assert_error(client.put("/api/v1/health"), 405, "method_not_allowed")


def test_unexpected_errors_are_json_without_a_trace(client, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(client.app.state.store, "list", boom)
    r = client.get("/api/v1/jobs")
    msg = _assert_error(r, 500, "internal_error")
    assert "secret internal detail" not in r.text and "reference" in msg


def test_a_second_server_on_the_same_data_dir_is_refused(make_app):
    from fastapi.testclient import TestClient

    from tfqa.errors import TfqaError

    with (
        TestClient(make_app()),
        pytest.raises(TfqaError, match="another tfqa server"),
        TestClient(make_app()),
    ):
        pass


def test_generated_token_is_kept_across_restarts(tmp_path):
    from tfqa.service import load_settings

    s1 = load_settings(data_dir=tmp_path / "d").prepare()
    s2 = load_settings(data_dir=tmp_path / "d").prepare()
    assert s1.token and s1.token == s2.token
    assert oct((tmp_path / "d" / "admin-token").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    "values",
    [{"workers": -1}, {"port": 70000}, {"max_upload_mb": 0}, {"token": "short"},
     {"lease_s": 5, "heartbeat_s": 5}, {"bogus": 1}, {"allowed_roots": ("/no/such/dir",)}],
)  # fmt: skip
def test_settings_are_validated_once(tmp_path, values):
    from tfqa.errors import ConfigError
    from tfqa.service import load_settings

    with pytest.raises(ConfigError, match="invalid service settings"):
        load_settings(data_dir=tmp_path, **values)
