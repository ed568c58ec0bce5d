"""Audio degradations on tiny synthetic signals with known answers (scipy references)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from tfqa.data import degrade_audio as da

SR = 16_000


@pytest.fixture(scope="module")
def speech_like():
    """2 s of a 150 Hz harmonic tone gated like syllables (on 200 ms, off 100 ms)."""
    t = np.arange(2 * SR) / SR
    x = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 30))
    gate = (np.floor(t / 0.1) % 3 != 2).astype(float)
    return (0.1 * x * gate).astype(np.float32)


def test_set_level_reaches_the_active_level(speech_like):
    y, gain_db = da.set_level(speech_like, -26.0)
    assert da.active_level_dbfs(y) == pytest.approx(-26.0, abs=0.01)
    assert gain_db == pytest.approx(-26.0 - da.active_level_dbfs(speech_like), abs=0.01)


def test_speech_activity_finds_the_gated_frames(speech_like):
    act = da.speech_activity(speech_like)
    assert len(act) == 50
    assert 0.55 < act.mean() < 0.8  # two thirds of the time is "on"


def test_median_f0_of_a_harmonic_tone(speech_like):
    assert da.median_f0_hz(speech_like) == pytest.approx(150, rel=0.03)


@pytest.mark.parametrize(("codec", "kbps"), [("libmp3lame", 16), ("libopus", 12)])
def test_codec_roundtrip_is_time_aligned(speech_like, codec, kbps):
    y = da.codec_roundtrip(speech_like, codec, kbps)
    assert len(y) == len(speech_like)
    c = np.correlate(speech_like[4000 - 50 : 12000 + 50], y[4000:12000], mode="valid")
    assert 50 - int(np.argmax(c)) == 0  # the lag of y behind the input, in samples


def test_bandlimit_removes_energy_above_the_cutoff():
    x = np.random.default_rng(0).standard_normal(4 * SR).astype(np.float32)
    f, p_in = welch(x, fs=SR, nperseg=1024)
    _, p_out = welch(da.bandlimit(x, 3400.0), fs=SR, nperseg=1024)
    ratio_db = 10 * np.log10(p_out / p_in)
    assert np.all(np.abs(ratio_db[f < 2500]) < 1.0)
    assert np.all(ratio_db[f > 5000] < -20.0)


def test_dropouts_mute_the_stated_share(speech_like):
    y, mask = da.dropouts(speech_like, 0.1, np.random.default_rng(0))
    assert mask.mean() == pytest.approx(0.1, abs=0.002)
    assert np.abs(y[mask]).max() < 1e-6 or np.mean(np.abs(y[mask]) < 1e-6) > 0.9


def test_reverb_keeps_the_level_and_decays_at_rt60():
    rng = np.random.default_rng(0)
    impulse = np.zeros(3 * SR, np.float32)
    impulse[100:740] = 0.3  # one 40 ms burst
    y = da.reverberate(impulse, 1.0, rng)
    tail = y[SR // 2 : SR // 2 + 4000].astype(np.float64)
    later = y[SR // 2 + 8000 : SR // 2 + 12000].astype(np.float64)  # 0.5 s later
    drop_db = 10 * np.log10(np.mean(tail**2) / np.mean(later**2))
    assert drop_db == pytest.approx(30.0, abs=4.0)  # 60 dB per RT60 = 30 dB per 0.5 s


def test_babble_and_hum_have_the_asked_length():
    rng = np.random.default_rng(0)
    donors = [rng.standard_normal(5000).astype(np.float32) for _ in range(3)]
    assert da.babble_noise(donors, 12000, rng).shape == (12000,)
    hum = da.hum_noise(SR, rng, 50.0)
    f, p = welch(hum, fs=SR, nperseg=4096)
    assert f[np.argmax(p)] == pytest.approx(50.0, abs=4.0)


def test_noise_at_snr_hits_the_target(speech_like):
    noise, snr = da.noise_at_snr(
        speech_like, da.white_noise(len(speech_like), np.random.default_rng(1)), 5.0
    )
    assert snr == pytest.approx(5.0, abs=1e-6)
