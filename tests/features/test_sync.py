"""Sync estimation: pure functions with known lags, and known offsets written into synthesised clips."""

from __future__ import annotations

import numpy as np
import pytest

from tfqa.bench.sync import shift_audio
from tfqa.features.sync import lag_curve, load_sync_model, peak_offset, stack_context
from tfqa.scoring import create_scorer


def test_lag_curve_finds_a_known_lag():
    rng = np.random.default_rng(0)
    base = np.convolve(rng.normal(size=400), np.ones(5) / 5, mode="same")
    observed = base[:, None]
    predicted = np.roll(base, 4)[:, None]  # the audio-side signal happens 4 frames later
    curve = lag_curve(observed, predicted, np.ones(400, bool), max_lag=10)
    sub, integer, peak = peak_offset(curve, 10)
    assert integer == 4 and abs(sub - 4) < 0.5 and peak > 0.95


def test_peak_offset_parabola_is_subframe():
    lags = np.arange(-5, 6)
    curve = -((lags - 1.3) ** 2)
    sub, integer, _ = peak_offset(curve, 5)
    assert integer == 1 and sub == pytest.approx(1.3, abs=1e-9)


def test_stack_context_and_shift_helpers():
    x = np.arange(5.0)[:, None]
    s = stack_context(x, 1)
    np.testing.assert_array_equal(s[0], [0, 0, 1])
    np.testing.assert_array_equal(s[4], [3, 4, 4])
    a = np.arange(10.0 * 640)
    assert shift_audio(a, 2)[1280] == 0.0 and shift_audio(a, 2)[1281] == 1.0
    assert shift_audio(a, -1)[0] == 640.0 and len(shift_audio(a, -1)) == len(a)


def test_embedded_model_describes_itself():
    m = load_sync_model()
    assert m.coef.shape == ((2 * m.context + 1) * m.subframes * m.n_mels, len(m.targets))
    assert m.provenance["n_clips"] >= 30


@pytest.fixture(scope="module")
def scorer(feature_cache):
    return create_scorer("zero-shot", cache=feature_cache)


@pytest.mark.parametrize("offset_ms", [200.0, -120.0])
def test_known_offset_is_found(synth_clip, scorer, offset_ms):
    clean = scorer.score(synth_clip("clean")).evidence
    res = scorer.score(synth_clip(f"offset{offset_ms:+.0f}", av_offset_ms=offset_ms))
    assert res.evidence["av_offset_ms"] == pytest.approx(offset_ms, abs=40.0)
    assert abs(clean["av_offset_ms"]) <= 40.0
    assert res.scores["lip_sync"] < scorer.score(synth_clip("clean")).scores["lip_sync"]


def test_other_voice_loses_confidence(synth_clip, scorer):
    clean = scorer.score(synth_clip("clean"))
    other = scorer.score(synth_clip("other", other_voice=True))
    assert other.evidence["sync_confidence"] < clean.evidence["sync_confidence"] - 0.1
    assert other.scores["cross_modal"] < clean.scores["cross_modal"]


def test_cache_key_follows_the_model_file(tmp_path):
    """A retrained sync model never reuses offsets cached with another one."""
    from dataclasses import replace

    from tfqa.features import create_extractor

    m = load_sync_model()
    path = tmp_path / "sync.npz"

    def key():
        return create_extractor("sync", model_path=str(path)).config_hash()

    m.save(path)
    first = key()
    m.save(path)
    assert key() == first  # the same model again: the same key
    assert np.array_equal(load_sync_model(path).coef, m.coef)
    replace(m, coef=m.coef * 1.01).save(path)
    assert key() != first  # other weights in the same file: another key
    # ... and the loader does not hand back the model it read from that path before
    np.testing.assert_allclose(load_sync_model(path).coef, m.coef * 1.01, rtol=1e-6)


def test_training_hears_the_clips_in_rooms(synth_clip, feature_cache, tmp_path):
    """Each clip is seen clean, through noise and in each room; the provenance says so."""
    from tfqa.features.sync_train import train_sync_model

    clip = synth_clip("clean")
    model = train_sync_model(
        [clip], tmp_path / "sync.npz", cache_dir=feature_cache.root,
        augment_snr_db=(10.0,), augment_rt60_s=(0.5, 0.9),
    )  # fmt: skip
    prov = load_sync_model(str(tmp_path / "sync.npz")).provenance
    assert prov["augment_rt60_s"] == [0.5, 0.9] and prov["augment_snr_db"] == [10.0]
    assert model.provenance["n_pairs"] == 4  # clean + 1 noise + 2 rooms
    plain = train_sync_model(
        [clip], tmp_path / "plain.npz", cache_dir=feature_cache.root,
        augment_snr_db=(), augment_rt60_s=(),
    )  # fmt: skip
    assert model.provenance["n_frames"] == 4 * plain.provenance["n_frames"]
    assert not np.allclose(model.coef, plain.coef)  # the extra views changed the fit
