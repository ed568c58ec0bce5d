import numpy as np
import pytest

from tfqa.synth.articulation import (
    CONTROL_RATE,
    articulation_from_audio,
    frame_track,
    smooth_articulation,
)
from tfqa.synth.speech import (
    PEAK,
    PHONES,
    SPEAKERS,
    opening_targets,
    plan_utterance,
    synthesize_formant_speech,
)

SR = 16_000


def _speech(seed=0, speaker="male", duration_s=6.0, sr=SR):
    return synthesize_formant_speech(duration_s, sr, speaker, np.random.default_rng(seed))


def _vowel_chunks(speech, vowel, min_s=0.08):
    """Middle 60 ms of each long-enough segment of ``vowel``."""
    out = []
    for seg in speech.segments:
        if seg.symbol == vowel and seg.end_s - seg.start_s >= min_s:
            mid = int((seg.start_s + seg.end_s) / 2 * speech.sample_rate)
            half = int(0.03 * speech.sample_rate)
            out.append(speech.audio[mid - half : mid + half].astype(np.float64))
    return out


def _f0(chunk, sr=SR):
    """Autocorrelation pitch estimate in Hz (60-400 Hz)."""
    x = chunk - chunk.mean()
    ac = np.correlate(x, x, "full")[len(x) - 1 :]
    lo, hi = sr // 400, sr // 60
    return sr / (lo + np.argmax(ac[lo:hi]))


def _f1_peak(chunk, sr=SR):
    """Frequency of the strongest spectral peak between 200 and 1200 Hz."""
    spec = np.abs(np.fft.rfft(chunk * np.hanning(len(chunk)), 8192))
    freqs = np.fft.rfftfreq(8192, 1 / sr)
    band = (freqs >= 200) & (freqs <= 1200)
    return freqs[band][np.argmax(spec[band])]


def test_same_seed_same_samples_and_other_seed_differs():
    a, b, c = _speech(1), _speech(1), _speech(2)
    np.testing.assert_array_equal(a.audio, b.audio)
    np.testing.assert_array_equal(a.articulation, b.articulation)
    assert not np.array_equal(a.audio, c.audio)


@pytest.mark.parametrize("sr", [16_000, 48_000])
def test_length_peak_and_track_length(sr):
    s = _speech(sr=sr, duration_s=3.0)
    assert s.audio.shape == (3 * sr,) and s.audio.dtype == np.float32
    assert np.max(np.abs(s.audio)) == pytest.approx(PEAK, rel=1e-5)
    assert len(s.articulation) == 3 * CONTROL_RATE


def test_segments_tile_the_clip_and_start_and_end_in_silence():
    segs = plan_utterance(10.0, np.random.default_rng(4))
    assert segs[0].symbol == "_" and segs[-1].symbol == "_"
    assert segs[0].start_s == 0 and segs[-1].end_s == pytest.approx(10.0)
    for prev, nxt in zip(segs, segs[1:], strict=False):
        assert nxt.start_s == pytest.approx(prev.end_s)
    speaking = sum(s.end_s - s.start_s for s in segs if s.symbol != "_")
    assert 0.5 < speaking / 10.0 < 0.9  # phrases with pauses between them


def test_silence_in_pauses_sound_in_vowels():
    s = _speech(5)
    for seg in s.segments:
        lo, hi = int(seg.start_s * SR), int(seg.end_s * SR)
        rms = np.sqrt(np.mean(s.audio[lo:hi] ** 2))
        if seg.symbol == "_" and hi - lo > 0.2 * SR:
            mid = s.audio[lo + int(0.05 * SR) : hi - int(0.05 * SR)]
            assert np.max(np.abs(mid)) < 1e-3
        if seg.phone.kind == "vowel":
            assert rms > 0.02


@pytest.mark.parametrize("speaker", ["male", "female"])
def test_pitch_matches_the_speaker(speaker):
    s = _speech(6, speaker, duration_s=10.0)
    f0 = np.median([_f0(c) for v in "aeiou" for c in _vowel_chunks(s, v)])
    assert f0 == pytest.approx(SPEAKERS[speaker].f0_hz, rel=0.15)


def test_open_vowel_has_high_first_formant():
    s = _speech(7, duration_s=20.0)
    f1_a = np.median([_f1_peak(c) for c in _vowel_chunks(s, "a")])
    f1_i = np.median([_f1_peak(c) for c in _vowel_chunks(s, "i")])
    assert 550 < f1_a < 900  # /a/ F1 ~ 730 Hz
    assert f1_i < 400  # /i/ F1 ~ 270 Hz


def test_opening_targets_follow_the_phones():
    segs = plan_utterance(8.0, np.random.default_rng(8))
    targets = opening_targets(segs, 8 * CONTROL_RATE)
    for seg in segs:
        mid = int((seg.start_s + seg.end_s) / 2 * CONTROL_RATE)
        if seg.symbol in ("p", "b", "m", "_"):
            assert targets[mid] == 0.0
        if seg.symbol == "a":
            assert targets[mid] == PHONES["a"].opening == 1.0


def test_smoothing_anticipates_the_sound():
    step = np.zeros(400, np.float32)
    step[200:] = 1.0  # a vowel starting at control sample 200 (1.0 s)
    track = smooth_articulation(step)
    half = np.argmax(track >= 0.5)
    assert 0 < 200 - half <= 0.03 * CONTROL_RATE  # mid-opening up to 30 ms early
    assert track[200 - int(0.06 * CONTROL_RATE)] < 0.05  # still closed 60 ms before


def test_frame_track_samples_frame_centres():
    track = np.arange(1000, dtype=np.float32)  # value = control index
    frames = frame_track(track, fps=25, n_frames=10)
    # frame i centre (i + 0.5) / 25 s -> control index (i + 0.5) * 8 - 0.5
    np.testing.assert_allclose(frames, (np.arange(10) + 0.5) * 8 - 0.5)


def test_articulation_from_audio_recovers_the_phone_track():
    """The audio-only estimate (espeak-ng path) must agree with the known phone track."""
    s = _speech(9, "female", duration_s=8.0)
    est = smooth_articulation(articulation_from_audio(s.audio, SR))
    truth = frame_track(s.articulation, 25, 200)
    r = np.corrcoef(frame_track(est, 25, 200), truth)[0, 1]
    assert r > 0.6
