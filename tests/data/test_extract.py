"""``extract_manifest`` with a tiny fake pipeline (the real extractors are tested elsewhere)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfqa.data.extract import extract_manifest
from tfqa.data.manifest import TASKS
from tfqa.data.store import FeatureStore
from tfqa.errors import NotAVideoError
from tfqa.features.base import FeatureBlock
from tfqa.features.contract import CLIP_STATS, model_arrays
from tfqa.features.pipeline import ClipFeatures


def fake_features(path: str, n: int = 40, seed: int = 0) -> ClipFeatures:
    rng = np.random.default_rng(seed)

    def block(name, seqs, stats=None):
        return FeatureBlock(
            name,
            sequences=seqs,
            columns={k: [f"{k}{j}" for j in range(v.shape[1])] for k, v in seqs.items()},
            stats=stats or {},
        )

    blocks = {
        "visual": block("visual", {"visual": rng.normal(size=(n, 6))}, {"sharpness": 1.5}),
        "audio": block("audio", {"audio": rng.normal(size=(n, 5))}, {"dnsmos_ovrl": 3.1}),
        "face": block(
            "face",
            {"keypoints": rng.normal(size=(n, 1404)), "present": np.ones((n, 1))},
            {"face_coverage": 1.0},
        ),
        "action_units": block("action_units", {"au": rng.normal(size=(n, 17))}),
        "sync": block("sync", {"sync": rng.normal(size=(n - 1, 3))}, {"av_offset_ms": 40.0}),
    }
    return ClipFeatures(path, None, {}, blocks, n)


class FakePipeline:
    def __init__(self, bad=()):
        self.calls, self.bad = [], set(bad)

    def extract(self, path):
        self.calls.append(path)
        if path in self.bad:
            raise NotAVideoError("not a video", path=path)
        return fake_features(path, seed=len(self.calls))


def _manifest(tmp_path, n=4):
    rows = []
    for i in range(n):
        v = tmp_path / f"c{i}.mp4"
        v.write_bytes(b"x")
        rows.append({"video": v.name, **dict.fromkeys(TASKS, 3.0)})
    path = tmp_path / "m.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_bad_file_is_reported_and_the_rest_extracted_then_resumed(tmp_path):
    manifest = _manifest(tmp_path)
    bad = str(tmp_path / "c2.mp4")
    pipe = FakePipeline(bad=[bad])
    logs = []
    report = extract_manifest(
        manifest, tmp_path / "cache", pipeline=pipe, progress=False, log=logs.append
    )
    assert (report.extracted, report.skipped, len(report.failed)) == (3, 0, 1)
    assert report.failed[0][0] == bad and "NotAVideoError" in report.failed[0][1]
    assert any("c2.mp4" in m for m in logs)
    store = FeatureStore.in_cache(tmp_path / "cache")
    arrays = store.get(tmp_path / "c0.mp4")
    assert arrays["keypoints"].shape == (40, 1404) and arrays["clip"].shape == (len(CLIP_STATS),)
    assert np.isnan(arrays["sync"][-1]).all()  # the shorter sync stream is NaN-padded
    np.testing.assert_allclose(
        arrays["visual"], model_arrays(fake_features("x", seed=1))["visual"], rtol=1e-6
    )

    pipe2 = FakePipeline()
    report2 = extract_manifest(manifest, tmp_path / "cache", pipeline=pipe2, progress=False)
    assert pipe2.calls == [bad]  # resumed: only the missing clip is extracted again
    assert (report2.extracted, report2.skipped, report2.ok) == (1, 3, True)


def test_progress_bar_runs(tmp_path):
    manifest = _manifest(tmp_path, 2)
    report = extract_manifest(manifest, tmp_path / "cache", pipeline=FakePipeline(), progress=True)
    assert report.extracted == 2
