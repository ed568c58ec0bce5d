"""A source's own A/V offset: two independent estimators, counted only where they agree."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from tfqa.data import own_offset as oo
from tfqa.data.benchmark import BenchmarkConfig, relabel, run_benchmark


@pytest.mark.parametrize("lag", [-6, 0, 4])
def test_crude_offset_finds_a_known_lag(lag):
    rng = np.random.default_rng(1)
    mouth = np.convolve(rng.normal(size=260), np.ones(4) / 4, mode="same")
    envelope = np.roll(mouth, lag)  # envelope[t + lag] = mouth[t]: the audio lags by `lag`
    envelope[:10] = envelope[-10:] = np.nan
    got, r = oo.crude_offset(mouth, envelope)
    assert got == lag and r > 0.9


@pytest.mark.parametrize(
    ("tfqa", "crude", "counted"),
    [(6, 5, 5), (-3, -2, -2), (2, 1, 0), (8, -1, 0), (15, 13, 0), (1, 1, 0), (np.nan, 4, 0)],
)
def test_an_offset_counts_only_where_both_estimators_agree(tfqa, crude, counted):
    assert oo.decide(tfqa, crude) == counted


def test_both_estimators_read_a_synthesised_offset(synth_clip, feature_cache):
    from tfqa.features.pipeline import FeaturePipeline

    pipe = FeaturePipeline(["face_mesh", "face"], cache=feature_cache)
    lag = oo.measure_clip(synth_clip("offset+200", av_offset_ms=200.0), pipe)
    assert lag.tfqa_frames == pytest.approx(5, abs=1) and lag.crude_frames == pytest.approx(
        5, abs=1
    )
    clean = oo.measure_clip(synth_clip("clean"), pipe)
    assert oo.decide(clean.tfqa_frames, clean.crude_frames) == 0


def test_benchmark_labels_count_a_source_offset_and_relabel_restores(
    synth_clip, tmp_path, feature_cache
):
    src = tmp_path / "sources"
    src.mkdir()
    shutil.copy(synth_clip("offset+200", av_offset_ms=200.0), src / "late.mp4")
    cfg = BenchmarkConfig(sources=(src,), out=tmp_path / "bench", seed=0, variants_per_source=2,
                          cache_dir=feature_cache.root)  # fmt: skip
    report = run_benchmark(cfg)
    assert report.own_offsets_ms["late"] == pytest.approx(200.0, abs=40.0)
    rows = pd.read_csv(report.manifest, keep_default_na=False)
    clean = rows[rows["families"] == ""].iloc[0]
    assert clean["own_offset_ms"] == report.own_offsets_ms["late"]
    assert clean["lip_sync"] < 3.5 and clean["expression"] == 5.0
    table = pd.read_csv(tmp_path / "bench" / "own_offsets.csv")
    assert table.loc[0, "source"] == "late" and table.loc[0, "counted_ms"] == clean["own_offset_ms"]

    table_row = table.iloc[0]
    assert table_row["measured_on"] == "late" and table_row["segments"] == 1  # the whole recording

    rows.assign(my_note="keep me").to_csv(report.manifest, index=False)  # a user's own column
    before = report.manifest.read_bytes()
    res = relabel(tmp_path / "bench", feature_cache.root, own_offsets=False)
    nominal = pd.read_csv(report.manifest, keep_default_na=False)
    assert res["changed"]["lip_sync"] >= 1 and not res["own_offsets_ms"]
    assert nominal.loc[nominal["families"] == "", "lip_sync"].iloc[0] == 5.0
    kept = [p for p in (tmp_path / "bench").glob("manifest.*.csv")]
    assert len(kept) == 1 and kept[0].read_bytes() == before  # nothing is lost
    relabel(tmp_path / "bench", feature_cache.root)  # and back: the build's own labels
    again = pd.read_csv(report.manifest, keep_default_na=False)
    assert again[["lip_sync", "cross_modal", "overall"]].equals(
        rows[["lip_sync", "cross_modal", "overall"]]
    )
    assert json.loads(again.loc[0, "degradations"]) == json.loads(rows.loc[0, "degradations"])
    assert (again["my_note"] == "keep me").all()
