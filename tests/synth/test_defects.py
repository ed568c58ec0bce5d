import numpy as np
import pytest

from tfqa.synth import defects


@pytest.mark.parametrize("offset_ms", [200.0, -120.0, 0.0, 37.5])
def test_shift_audio_moves_by_exact_samples(offset_ms):
    x = np.random.default_rng(0).standard_normal(16_000).astype(np.float32)
    y, n = defects.shift_audio(x, offset_ms, 16_000)
    assert n == round(offset_ms * 16)
    assert len(y) == len(x)
    if n >= 0:
        np.testing.assert_array_equal(y[n:], x[: len(x) - n])
        assert not y[:n].any()
    else:
        np.testing.assert_array_equal(y[:n], x[-n:])
        assert not y[n:].any()


@pytest.mark.parametrize("snr_db", [30.0, 10.0, 0.0, -5.0])
def test_noise_at_snr_is_exact(snr_db):
    rng = np.random.default_rng(1)
    speech = (0.3 * np.sin(np.arange(32_000) / 7.0)).astype(np.float32)
    noise, measured = defects.noise_at_snr(speech, rng.standard_normal(32_000), snr_db)
    reference = 10 * np.log10(np.sum(speech.astype(float) ** 2) / np.sum(noise.astype(float) ** 2))
    assert reference == pytest.approx(snr_db, abs=1e-3)
    assert measured == pytest.approx(reference, abs=1e-6)


def test_noise_at_snr_refuses_silence():
    with pytest.raises(ValueError, match="silent"):
        defects.noise_at_snr(np.zeros(100), np.ones(100), 10.0)


@pytest.mark.parametrize("fraction", [0.001, 0.02, 0.1])
def test_clip_fraction_reaches_the_target(fraction):
    x = np.random.default_rng(2).standard_normal(50_000).astype(np.float32) * 0.1
    y, gain, measured = defects.clip_fraction(x, fraction)
    assert np.max(np.abs(y)) == 1.0
    assert measured == pytest.approx(fraction, rel=0.05, abs=2e-5)
    assert measured == pytest.approx(np.mean(np.abs(y) >= 1.0 - 1e-6))
    assert gain > 1.0


def test_keep_headroom_only_scales_loud_mixes():
    quiet = np.array([0.5, -0.2], np.float32)
    assert defects.keep_headroom(quiet)[1] == 1.0
    loud, gain = defects.keep_headroom(np.array([2.0, -1.0], np.float32))
    assert np.max(np.abs(loud)) == pytest.approx(defects.HEADROOM_PEAK)
    assert gain == pytest.approx(defects.HEADROOM_PEAK / 2.0)


def test_frame_schedule_freezes_and_drops():
    rng = np.random.default_rng(3)
    source, frozen, dropped = defects.frame_schedule(100, 0.6, 0.2, rng)
    assert frozen == 60
    assert (source[60:] == 60).all()
    assert len(dropped) == 20 and all(1 <= i < 60 for i in dropped)
    assert (np.diff(source) >= 0).all()
    repeats = [i for i in range(1, 60) if source[i] == source[i - 1]]
    assert repeats == dropped


def test_frame_schedule_without_defects_is_identity():
    source, frozen, dropped = defects.frame_schedule(50, None, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(source, np.arange(50))
    assert frozen is None and dropped == []


def test_freeze_track_holds_the_value():
    track = np.linspace(0, 1, 10, dtype=np.float32)
    held, k = defects.freeze_track(track, 0.5)
    assert k == 5
    np.testing.assert_array_equal(held[:5], track[:5])
    assert (held[5:] == track[5]).all()
