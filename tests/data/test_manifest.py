from __future__ import annotations

import pandas as pd
import pytest

from tfqa.data.manifest import TASKS, ManifestError, load_manifest
from tfqa.errors import FileMissingError


def _write(tmp_path, rows, name="m.csv"):
    for r in rows:
        v = tmp_path / r["video"]
        if not v.exists() and r.get("_make", True):
            v.write_bytes(b"x")
    df = pd.DataFrame([{k: v for k, v in r.items() if k != "_make"} for r in rows])
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _row(video, **kw):
    return {"video": video, **dict.fromkeys(TASKS, 3.0), **kw}


def test_valid_manifest_resolves_paths_and_defaults_groups(tmp_path):
    path = _write(tmp_path, [_row("a.mp4", overall=4.5), _row("b.mp4", group="p1", split="test")])
    df = load_manifest(path)
    assert df["video"].tolist() == [str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")]
    assert df["overall"].tolist() == [4.5, 3.0]
    assert df["group"].tolist() == ["a", "p1"]  # missing group -> the file stem
    assert df["split"].tolist() == [None, "test"]


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "m.csv"
    pd.DataFrame([{"video": "a.mp4", "lip_sync": 3}]).to_csv(path, index=False)
    with pytest.raises(ManifestError, match="missing column.*expression"):
        load_manifest(path, check_files=False)


@pytest.mark.parametrize("bad", [0.5, 5.01, "good", None])
def test_label_outside_scale_is_refused(tmp_path, bad):
    path = _write(tmp_path, [_row("a.mp4"), _row("b.mp4", expression=bad)])
    with pytest.raises(ManifestError, match=r"label `expression` of .*b\.mp4.*outside \[1, 5\]"):
        load_manifest(path)


def test_unknown_file_is_refused(tmp_path):
    path = _write(tmp_path, [_row("a.mp4"), _row("gone.mp4", _make=False)])
    with pytest.raises(ManifestError, match="unknown file .*gone.mp4"):
        load_manifest(path)
    assert len(load_manifest(path, check_files=False)) == 2


def test_duplicate_video_and_bad_split(tmp_path):
    path = _write(tmp_path, [_row("a.mp4"), _row("a.mp4")])
    with pytest.raises(ManifestError, match="listed twice"):
        load_manifest(path)
    path = _write(tmp_path, [_row("a.mp4", split="holdout")], "m2.csv")
    with pytest.raises(ManifestError, match="unknown split 'holdout'"):
        load_manifest(path)


def test_missing_manifest_and_parquet_without_pyarrow(tmp_path):
    with pytest.raises(FileMissingError):
        load_manifest(tmp_path / "nope.csv")
    pq = tmp_path / "m.parquet"
    pq.write_bytes(b"PAR1")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ManifestError, match="pip install pyarrow"):
            load_manifest(pq)
