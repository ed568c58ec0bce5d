from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from tfqa.data.store import FeatureStore, check_arrays, load_feature_set
from tfqa.data.synthetic import make_synthetic
from tfqa.errors import ConfigError


def _video(tmp_path, name="a.mp4"):
    p = tmp_path / name
    p.write_bytes(b"video")
    return p


def test_roundtrip_and_stale_entry(tmp_path):
    fs = make_synthetic(1, 30, seed=0)
    store = FeatureStore(tmp_path / "store")
    video = _video(tmp_path)
    assert store.get(video) is None
    store.put(video, fs.clips[0], fs.contract)
    got = store.get(video)
    for k, v in fs.clips[0].items():
        np.testing.assert_array_equal(got[k], v)
    assert store.header(video)["contract"]["dims"] == fs.contract["dims"]
    video.write_bytes(b"changed video")  # the source changed: the entry is stale
    os.utime(video, ns=(1, 1))
    assert store.get(video) is None and not store.has(video)


def test_entries_made_by_other_extractors_read_as_missing(tmp_path):
    fs = make_synthetic(1, 30, seed=0)
    video = _video(tmp_path)
    FeatureStore(tmp_path / "store", features="aaaa").put(video, fs.clips[0], fs.contract)
    assert FeatureStore(tmp_path / "store", features="aaaa").has(video)
    assert FeatureStore(tmp_path / "store", features="bbbb").get(video) is None  # other extractors
    assert FeatureStore(tmp_path / "store").has(video)  # None: no check
    FeatureStore(tmp_path / "old").put(video, fs.clips[0], fs.contract)  # made without an id
    assert not FeatureStore(tmp_path / "old", features="aaaa").has(video)


def test_features_id_follows_the_extractors(tmp_path):
    """Another sync model (or config) gives another id; the default store checks the default id."""
    from tfqa.features import create_extractor
    from tfqa.features.pipeline import DEFAULT_EXTRACTORS, FeaturePipeline, default_features_id
    from tfqa.features.sync import load_sync_model

    load_sync_model().save(tmp_path / "sync.npz")
    sync = create_extractor("sync", model_path=str(tmp_path / "sync.npz"))
    plain = FeaturePipeline(cache=False, workers=1)
    other = FeaturePipeline(
        [sync if x == "sync" else x for x in DEFAULT_EXTRACTORS], cache=False, workers=1
    )
    assert list(other.extractors) == list(plain.extractors)  # only the sync model differs
    assert plain.features_id() == default_features_id()
    assert other.features_id() != plain.features_id()
    assert FeatureStore.in_cache(tmp_path).features == default_features_id()


def test_check_arrays_names_the_problem():
    fs = make_synthetic(1, 30, seed=0)
    bad = dict(fs.clips[0])
    bad["audio"] = bad["audio"][:10]
    with pytest.raises(ConfigError, match=r"Expected `audio` to be \(30, D\)"):
        check_arrays(bad)
    del bad["mask"]
    with pytest.raises(ConfigError, match="mask"):
        check_arrays(bad)


def test_load_feature_set_drops_missing_and_refuses_mixed_dims(tmp_path):
    fs = make_synthetic(3, 30, seed=0)
    store = FeatureStore(tmp_path / "store")
    videos = [_video(tmp_path, f"{i}.mp4") for i in range(3)]
    for i in range(2):
        store.put(videos[i], fs.clips[i], fs.contract)
    df = pd.DataFrame(
        {"video": [str(v) for v in videos], "group": ["a", "b", "c"], "split": [None] * 3}
    )
    for t in ("lip_sync", "expression", "audio_quality", "cross_modal", "overall"):
        df[t] = 3.0
    logs = []
    data, missing = load_feature_set(df, store, log=logs.append)
    assert len(data) == 2 and missing == [str(videos[2])] and "1 of 3" in logs[0]
    np.testing.assert_array_equal(data.clips[1]["visual"], fs.clips[1]["visual"])
    other = make_synthetic(1, 30, {**fs.contract["dims"], "visual": 7}, seed=1)
    store.put(videos[2], other.clips[0], other.contract)
    with pytest.raises(ConfigError, match="feature dims"):
        load_feature_set(df, store)
    with pytest.raises(ConfigError, match="tfqa extract"):
        load_feature_set(df, FeatureStore(tmp_path / "empty"))
