"""A/B study: pairing rules, counter-balanced orders, rater API (blinded, keyed), admin, CLI."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter

import pytest
from tests.service.conftest import TOKEN
from typer.testing import CliRunner

from tfqa.errors import ConfigError
from tfqa.service.study.design import (
    assign_trials,
    load_pairs,
    pairs_from_csv,
    pairs_from_folder,
    rater_ids,
)
from tfqa.service.study.store import StudyStore

AUTH = {"Authorization": f"Bearer {TOKEN}"}
DIMS = ["lip_sync", "expression", "audio_quality", "cross_modal", "overall"]


def _touch(path, data=b"v"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_pairs_from_csv_relative_paths_and_methods(tmp_path):
    _touch(tmp_path / "v" / "a.mp4")
    _touch(tmp_path / "v" / "b.mp4")
    (tmp_path / "pairs.csv").write_text(
        "pair_id,video_a,video_b,method_a,method_b\np1,v/a.mp4,v/b.mp4,wav2lip,sadtalker\n"
    )
    (p,) = pairs_from_csv(tmp_path / "pairs.csv")
    assert (p.pair_id, p.video_a, p.method_a, p.method_b) == (
        "p1", (tmp_path / "v" / "a.mp4").resolve(), "wav2lip", "sadtalker"
    )  # fmt: skip
    (tmp_path / "bad.csv").write_text("pair_id,video_a\np1,v/a.mp4\n")
    with pytest.raises(ConfigError, match="missing column"):
        pairs_from_csv(tmp_path / "bad.csv")
    (tmp_path / "dup.csv").write_text(
        "pair_id,video_a,video_b\np,v/a.mp4,v/b.mp4\np,v/a.mp4,v/b.mp4\n"
    )
    with pytest.raises(ConfigError, match="repeated"):
        pairs_from_csv(tmp_path / "dup.csv")
    (tmp_path / "gone.csv").write_text("pair_id,video_a,video_b\np,v/a.mp4,v/zzz.mp4\n")
    with pytest.raises(Exception, match="no file"):
        pairs_from_csv(tmp_path / "gone.csv")


def test_folder_rules(tmp_path):
    by_method = tmp_path / "m"
    for method in ("hallo", "sadtalker", "wav2lip"):
        _touch(by_method / method / "spk1.mp4")
    _touch(by_method / "wav2lip" / "spk2.mp4")  # one method only: left out
    pairs = pairs_from_folder(by_method)
    assert [p.pair_id for p in pairs] == [
        "spk1:hallo-vs-sadtalker", "spk1:hallo-vs-wav2lip", "spk1:sadtalker-vs-wav2lip"
    ]  # fmt: skip
    flat = tmp_path / "flat"
    for name in ("x__a.mp4", "x__b.mp4", "y__a.mp4", "y__b.mov", "lonely.mp4"):
        _touch(flat / name)
    pairs = load_pairs(flat)
    assert [(p.pair_id, p.video_b.name) for p in pairs] == [
        ("x:a-vs-b", "x__b.mp4"),
        ("y:a-vs-b", "y__b.mov"),
    ]
    with pytest.raises(ConfigError, match="found no pairs"):
        pairs_from_folder(_touch(tmp_path / "empty" / "solo.mp4").parent)


def test_assignment_is_counter_balanced_and_seeded():
    pairs = [f"p{i}" for i in range(7)]
    raters = rater_ids(4)
    plan = assign_trials(pairs, raters, seed=3)
    assert plan == assign_trials(pairs, raters, seed=3)
    assert plan != assign_trials(pairs, raters, seed=4)
    for r in raters:
        assert sorted(pid for pid, _ in plan[r]) == sorted(pairs)  # each pair once
        n_left = sum(a_left for _, a_left in plan[r])
        assert abs(n_left - len(pairs) / 2) <= 0.5  # A on the left for half the pairs
    for pid in pairs:  # with 4 raters, each pair shows A on the left for exactly 2
        assert sum(dict(plan[r])[pid] for r in raters) == 2
    orders = {tuple(pid for pid, _ in plan[r]) for r in raters}
    assert len(orders) > 1  # orders differ between raters


@pytest.fixture
def study_setup(make_app, tmp_path, tiny_clip, tiny_clip_b):
    from fastapi.testclient import TestClient

    from tfqa.service.study.design import Pair

    app = make_app()
    pairs = [
        Pair("p1", tiny_clip, tiny_clip_b, "m1", "m2"),
        Pair("p2", tiny_clip_b, tiny_clip, "m2", "m1"),
    ]
    store = StudyStore(app.state.settings.db_path)
    sid = store.create(pairs, n_raters=2, seed=0, name="Test study")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, store, sid


def test_rater_flow_maps_screen_sides_to_a_and_b(study_setup, tiny_clip, tiny_clip_b):
    client, store, sid = study_setup
    key = store.rater_key(sid, "r01")
    base = f"/api/v1/studies/{sid}/raters/r01"
    ov = client.get(base, params={"k": key}).json()
    assert ov["n_trials"] == 2 and ov["next_trial"] == 0 and len(ov["dimensions"]) == 5
    digest = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in (tiny_clip, tiny_clip_b)}
    expected = {}
    for trial in range(2):
        t = client.get(f"{base}/trials/{trial}", params={"k": key}).json()
        assert "pair" not in str(t) and "m1" not in str(t)  # blinded
        left = client.get(t["videos"]["left"]).content
        left_file = digest[hashlib.sha256(left).hexdigest()]
        pair = store.trial(sid, "r01", trial).pair
        # The rater says "left" for every dimension but overall, which is "equal".
        a_is_left = left_file == pair.video_a
        expected[pair.pair_id] = "A" if a_is_left else "B"
        answers = dict.fromkeys(DIMS, "left") | {"overall": "equal"}
        r = client.put(
            f"{base}/trials/{trial}", params={"k": key}, json={"answers": answers, "rt_ms": 1234}
        )
        assert r.status_code == 200, r.text
    assert client.get(base, params={"k": key}).json()["next_trial"] is None
    rows = store.export_rows(sid)
    assert len(rows) == 10 and [r["dimension"] for r in rows[:5]] == DIMS
    for row in rows:
        want = "equal" if row["dimension"] == "overall" else expected[row["pair"]]
        assert row["choice"] == want and row["rater"] == "r01" and row["rt_ms"] == 1234
        assert row["shown_choice"] == ("equal" if row["dimension"] == "overall" else "left")
    # Re-answering replaces, never duplicates.
    answers = dict.fromkeys(DIMS, "right")
    client.put(f"{base}/trials/0", params={"k": key}, json={"answers": answers})
    assert len(store.export_rows(sid)) == 10
    t0 = client.get(f"{base}/trials/0", params={"k": key}).json()
    assert t0["answers"] == dict.fromkeys(DIMS, "right")


def test_rater_api_refuses_bad_links_and_answers(study_setup):
    client, store, sid = study_setup
    key = store.rater_key(sid, "r01")
    base = f"/api/v1/studies/{sid}/raters"
    assert (
        client.get(f"{base}/r01", params={"k": "x" * 24}).json()["error"]["code"]
        == "bad_rater_link"
    )
    assert client.get(f"{base}/r02", params={"k": key}).status_code == 403  # r01's key for r02
    assert client.get(f"{base}/r99", params={"k": key}).status_code == 403
    assert client.get("/api/v1/studies/nope/raters/r01", params={"k": key}).status_code == 404
    assert client.get(f"{base}/r01/trials/9", params={"k": key}).status_code == 404
    r = client.put(
        f"{base}/r01/trials/0", params={"k": key}, json={"answers": {"lip_sync": "left"}}
    )
    assert r.status_code == 422 and "missing" in r.json()["error"]["message"]
    r = client.put(f"{base}/r01/trials/0", params={"k": key},
                   json={"answers": dict.fromkeys(DIMS, "better")})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    assert store.export_rows(sid) == []


def test_study_admin_needs_the_token(study_setup):
    client, store, sid = study_setup
    for path in ("/api/v1/studies", f"/api/v1/studies/{sid}", f"/api/v1/studies/{sid}/export.csv"):
        assert client.get(path).status_code == 401
    info = client.get(f"/api/v1/studies/{sid}", headers=AUTH).json()
    assert info["n_pairs"] == 2 and [r["rater"] for r in info["raters"]] == ["r01", "r02"]
    assert info["raters"][0]["link"].endswith(f"rater=r01&k={store.rater_key(sid, 'r01')}")
    csv_text = client.get(f"/api/v1/studies/{sid}/export.csv", headers=AUTH).text
    assert csv_text.splitlines()[0].startswith("rater,pair,dimension,choice,time,")
    assert client.get("/api/v1/studies", headers=AUTH).json()["studies"][0]["id"] == sid
    assert client.get(f"/study/{sid}").status_code == 200  # the rater page itself


def test_cli_create_export(tmp_path, tiny_clip, tiny_clip_b):
    from tfqa.cli import app

    folder = tmp_path / "clips"
    folder.mkdir()
    for name, src in (("s1__m1.mp4", tiny_clip), ("s1__m2.mp4", tiny_clip_b)):
        (folder / name).write_bytes(src.read_bytes())
    data = tmp_path / "data"
    runner = CliRunner()
    r = runner.invoke(
        app, ["study", "create", str(folder), "--data-dir", str(data), "--raters", "3"]
    )
    assert r.exit_code == 0, r.output
    links = [line for line in r.stdout.splitlines() if "/study/" in line]
    assert len(links) == 3 and links[0].startswith("r01\thttp://127.0.0.1:8000/study/clips-")
    store = StudyStore(data / "tfqa.db")
    (sid,) = [s["id"] for s in store.list_studies()]
    t = store.trial(sid, "r02", 0)
    store.answer(t, dict.fromkeys(DIMS, "B"))
    out = tmp_path / "ab_eval_results.csv"
    r = runner.invoke(app, ["study", "export", "--data-dir", str(data), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert Counter((r["rater"], r["choice"]) for r in rows) == {("r02", "B"): 5}
    assert list(rows[0])[:5] == ["rater", "pair", "dimension", "choice", "time"]
    r = runner.invoke(app, ["study", "export", "--data-dir", str(data), "--study", "nope"])
    assert r.exit_code == 2 and "no study" in r.output
