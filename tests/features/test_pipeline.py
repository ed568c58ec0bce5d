"""The pipeline's cache: instant re-scoring, no stale reuse, per-stream keys."""

from __future__ import annotations

import numpy as np
import pytest

from tfqa.errors import ConfigError
from tfqa.features import create_extractor, list_extractors
from tfqa.features.cache import FeatureCache, stream_digests
from tfqa.features.pipeline import DEFAULT_EXTRACTORS, FeaturePipeline
from tfqa.io import FrameStream, load_audio
from tfqa.io.writer import write_clip


def test_registry_builds_every_default_extractor():
    assert set(DEFAULT_EXTRACTORS) <= set(list_extractors())
    with pytest.raises(ConfigError, match="did you mean"):
        create_extractor("face_mesch")
    with pytest.raises(ConfigError, match="max_lag"):
        create_extractor("sync", max_lagg=3)


def test_second_run_hits_the_cache_and_matches(tmp_path, synth_clip):
    clip = synth_clip("clean")
    cache = FeatureCache(tmp_path / "cache")
    first = FeaturePipeline(cache=cache).extract(clip)
    assert first.cache_hits == []
    second = FeaturePipeline(cache=cache).extract(clip)
    assert set(second.cache_hits) == set(first.blocks)
    for name, block in first.blocks.items():
        for key, arr in block.sequences.items():
            np.testing.assert_array_equal(arr, second.blocks[name].sequences[key])
    assert second.stats() == pytest.approx(first.stats(), nan_ok=True)
    assert second.timings["total"] < first.timings["total"] / 3


def test_changed_config_never_reuses_a_stale_entry(tmp_path, synth_clip):
    clip = synth_clip("clean")
    cache = FeatureCache(tmp_path / "cache")
    FeaturePipeline(["face_mesh", "face", "sync"], cache=cache).extract(clip)
    other = FeaturePipeline(
        ["face_mesh", "face", create_extractor("sync", max_lag=5)], cache=cache
    ).extract(clip)
    assert "sync" not in other.cache_hits and "face" in other.cache_hits
    assert len(other.blocks["sync"].meta["lag_curve"]) == 11


def test_shifting_only_the_audio_keeps_video_features(tmp_path, synth_clip):
    clip = synth_clip("clean")
    frames = [g.rgb for g in FrameStream(clip)]
    audio = load_audio(clip).samples
    a = write_clip(tmp_path / "a.mp4", frames, 25, audio, 16_000)
    b = write_clip(
        tmp_path / "b.mp4", frames, 25, np.concatenate([np.zeros(3200, np.float32), audio]), 16_000
    )
    da, db = stream_digests(a), stream_digests(b)
    assert da["video"] == db["video"] and da["audio"] != db["audio"]
    cache = FeatureCache(tmp_path / "cache")
    FeaturePipeline(["face_mesh", "face", "sync"], cache=cache).extract(a)
    fb = FeaturePipeline(["face_mesh", "face", "sync"], cache=cache).extract(b)
    assert "face_mesh" in fb.cache_hits and "sync" not in fb.cache_hits


def test_cache_entries_describe_themselves(tmp_path, synth_clip):
    clip = synth_clip("clean")
    cache = FeatureCache(tmp_path / "cache")
    p = FeaturePipeline(["face_mesh", "face"], cache=cache)
    p.extract(clip)
    key = p._keys(stream_digests(clip))["face"]
    prov = cache.provenance(key)
    assert prov["extractor"] == "face" and "digests" in prov and "config" in prov and "tfqa" in prov


def test_a_failing_frame_pass_stops_its_threads_and_the_pipeline_stays_usable(synth_clip):
    import threading
    from dataclasses import dataclass

    from tfqa.features.base import FrameExtractor

    @dataclass(frozen=True)
    class _Cfg:
        fail_at: int = 40

    class Boom(FrameExtractor):
        name, inputs, Config = "boom", ("video", "face_mesh"), _Cfg

        def begin(self, info):
            self.n = 0

        def update(self, rgb, grid, state):
            self.n += 1
            if self.n == self.config.fail_at:
                raise RuntimeError("boom at frame 40")

        def finish(self, n_grid):
            raise AssertionError("not reached")

    clip = synth_clip("clean")
    pipe = FeaturePipeline([Boom(), "face_mesh"], cache=False, workers=2)
    try:
        pipe.extract(clip)
    except RuntimeError as exc:
        error = exc  # its traceback keeps the pass's frame (and its decode iterator) alive
    assert "boom at frame 40" in str(error)
    alive = [t.name for t in threading.enumerate()]
    assert "tfqa-decode" not in alive
    del error
    # the face mesh's lanes survive the failure and serve the next clip
    ok = FeaturePipeline(["face_mesh"], cache=False, workers=2)
    ok.extractors["face_mesh"] = pipe.extractors["face_mesh"]
    assert ok.extract(clip).blocks["face_mesh"].stats["n_tracks"] == 1.0
