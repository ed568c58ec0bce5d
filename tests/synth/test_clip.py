"""End to end: synthesise clips, decode the files, and measure the known answers."""

import json

import av
import cv2
import numpy as np
import pytest
from scipy.signal import correlate

from tfqa.io import load_audio
from tfqa.synth import SynthSpec, iter_frames, plan_clip, synthesize, synthesize_batch

from .conftest import BASE, decode_frames, mouth_opening

SR = BASE.sample_rate
MS = SR // 1000  # samples per millisecond


@pytest.fixture(scope="module")
def shifted(clip_dir):
    """Audio 200 ms late, picture frozen from 60 %, 20 % dropped frames."""
    spec = BASE.replace(av_offset_ms=200.0, frozen_face_from=0.6, dropped_frames=0.2)
    return synthesize(spec, clip_dir / "shifted.mp4")


@pytest.fixture(scope="module")
def noisy_blurred(clip_dir):
    return synthesize(BASE.replace(snr_db=10.0, blur_sigma=2.0), clip_dir / "noisy.mp4")


def _lag(audio, reference):
    """Lag in samples of ``audio`` relative to ``reference`` (cross-correlation peak)."""
    n = len(reference)
    c = correlate(audio[:n], reference, mode="full", method="fft")
    return int(np.argmax(c)) - (n - 1)


def _sharpness(frames):
    return np.mean(
        [cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for f in frames]
    )


def _frame_diffs(frames):
    return np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))


# -- audio ----------------------------------------------------------------------------------
def test_clean_audio_is_aligned_with_the_video(clean, clean_audio):
    assert abs(_lag(clean_audio, plan_clip(BASE).audio)) <= 1 * MS


@pytest.mark.parametrize("offset_ms", [200.0, -120.0])
def test_offset_is_measured_on_the_decoded_file(offset_ms, clean_audio, shifted, clip_dir):
    result = shifted if offset_ms == 200.0 else synthesize(
        BASE.replace(av_offset_ms=offset_ms), clip_dir / "lead.mp4"
    )  # fmt: skip
    assert result.truth["audio"]["av_offset_samples"] == offset_ms * MS
    assert result.truth["audio"]["av_offset_ms"] == offset_ms
    audio = load_audio(result.path).samples
    assert _lag(audio, clean_audio) == pytest.approx(offset_ms * MS, abs=1 * MS)


@pytest.mark.parametrize("kind", ["white", "babble"])
def test_snr_is_measured_on_the_decoded_file(kind, clean_audio, noisy_blurred, clip_dir):
    result = noisy_blurred if kind == "white" else synthesize(
        BASE.replace(snr_db=5.0, noise_kind="babble"), clip_dir / "babble.mp4"
    )  # fmt: skip
    target = result.spec.snr_db
    assert result.truth["audio"]["snr_db"] == pytest.approx(target, abs=1e-6)
    noise = load_audio(result.path).samples[: len(clean_audio)] - clean_audio
    measured = 10 * np.log10(np.mean(clean_audio**2.0) / np.mean(noise**2.0))
    assert measured == pytest.approx(target, abs=0.5)


def test_clipping_reaches_the_target_fraction():
    plan = plan_clip(BASE.replace(clipping=0.02))
    assert plan.truth["audio"]["clipping_fraction"] == pytest.approx(0.02, rel=0.05)
    assert np.max(np.abs(plan.audio)) == 1.0
    assert np.mean(np.abs(plan.audio) >= 1.0 - 1e-6) == pytest.approx(0.02, rel=0.05)


def test_other_voice_keeps_the_mouth_and_changes_the_speech():
    clean, other = plan_clip(BASE), plan_clip(BASE.replace(other_voice=True))
    np.testing.assert_array_equal(clean.mouth, other.mouth)
    assert other.truth["speech"]["heard_speaker"] == "female"
    assert other.truth["speech"]["heard_phones"] != clean.truth["speech"]["phones"]
    heard = np.array(other.truth["tracks"]["heard_articulation"])
    assert np.corrcoef(heard, other.mouth)[0, 1] < 0.5  # the voice no longer matches the lips
    assert (
        np.corrcoef(np.array(clean.truth["tracks"]["heard_articulation"]), clean.mouth)[0, 1] > 0.99
    )


# -- video ----------------------------------------------------------------------------------
def test_mouth_in_the_frames_follows_the_articulation_track(clean, clean_frames):
    opening = mouth_opening(clean_frames)
    track = np.array(clean.truth["tracks"]["mouth"])
    assert not np.isnan(opening).any()

    def r_at(lag):  # correlation of the opening at frame i + lag with the track at i
        a = opening[max(0, lag) : len(opening) + min(0, lag)]
        b = track[max(0, -lag) : len(track) + min(0, -lag)]
        return np.corrcoef(a, b)[0, 1]

    lags = range(-3, 4)
    r = [r_at(k) for k in lags]
    assert r_at(0) > 0.6
    assert abs(list(lags)[int(np.argmax(r))]) <= 1


def test_frozen_face_repeats_one_frame(shifted):
    k = shifted.truth["video"]["frozen_face_from_frame"]
    assert k == 60
    raw = list(iter_frames(plan_clip(shifted.spec)))
    assert all(np.array_equal(raw[i], raw[k]) for i in range(k, len(raw)))
    decoded = _frame_diffs(decode_frames(shifted.path))
    assert decoded[k:].max() < 0.5  # codec noise only
    moving = np.setdiff1d(np.arange(1, k), shifted.truth["video"]["dropped_frames"])
    assert np.median(decoded[moving - 1]) > 4 * decoded[k:].max() + 0.2


def test_dropped_frames_repeat_their_predecessor(shifted):
    dropped = shifted.truth["video"]["dropped_frames"]
    assert len(dropped) == 20 and shifted.truth["video"]["dropped_fraction"] == 0.2
    raw = list(iter_frames(plan_clip(shifted.spec)))
    k = shifted.truth["video"]["frozen_face_from_frame"]
    repeats = [i for i in range(1, k) if np.array_equal(raw[i], raw[i - 1])]
    assert repeats == dropped
    diffs = _frame_diffs(decode_frames(shifted.path))[: k - 1]  # diffs[i - 1]: frame i vs i - 1
    found = sorted(int(i) + 1 for i in np.argsort(diffs)[: len(dropped)])
    assert found == dropped


def test_blur_lowers_sharpness(clean_frames, noisy_blurred):
    assert _sharpness(decode_frames(noisy_blurred.path)) < 0.5 * _sharpness(clean_frames)


def test_higher_crf_gives_a_smaller_file(clean, clip_dir):
    blocky = synthesize(BASE.replace(crf=45, duration_s=4.0), clip_dir / "blocky.mp4")
    assert blocky.path.stat().st_size < 0.5 * clean.path.stat().st_size


def test_same_seed_same_clip(clean, clean_frames, clean_audio, clip_dir):
    again = synthesize(BASE, clip_dir / "again.mp4")
    assert again.truth == clean.truth
    np.testing.assert_array_equal(decode_frames(again.path), clean_frames)
    np.testing.assert_array_equal(load_audio(again.path).samples[: len(clean_audio)], clean_audio)


def test_frozen_mouth_holds_the_opening():
    plan = plan_clip(BASE.replace(frozen_mouth_from=0.5))
    k = plan.truth["video"]["frozen_mouth_from_frame"]
    assert k == 50
    assert np.ptp(plan.mouth[k:]) == 0 and np.ptp(plan.mouth[:k]) > 0.3
    np.testing.assert_array_equal(plan.blink, plan_clip(BASE).blink)  # the rest goes on


def test_jitter_has_the_stated_size():
    clean, jittery = plan_clip(BASE), plan_clip(BASE.replace(landmark_jitter_px=3.0))
    shift = jittery.pose[:, 1:] - clean.pose[:, 1:]
    assert np.std(shift) == pytest.approx(3.0, rel=0.15)
    assert jittery.truth["video"]["landmark_jitter_px_rms"] == pytest.approx(
        np.sqrt(np.mean(shift**2)), rel=1e-4
    )


def test_non_square_size_and_frame_rate(tmp_path):
    spec = SynthSpec(duration_s=1.0, fps=30.0, width=320, height=240, seed=1)
    result = synthesize(spec, tmp_path / "wide.mp4")
    with av.open(str(result.path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert float(stream.average_rate) == pytest.approx(30.0)
    assert len(frames) == 30 and frames[0].shape == (240, 320, 3)


def test_batch_writes_clips_and_truth(tmp_path):
    specs = {"a": SynthSpec(duration_s=1.0), "b": SynthSpec(duration_s=1.0, av_offset_ms=40)}
    results = synthesize_batch(specs, tmp_path)
    assert [r.path.name for r in results] == ["a.mp4", "b.mp4"]
    saved = json.loads((tmp_path / "b.json").read_text())
    assert saved["truth"]["audio"]["av_offset_ms"] == 40.0
    assert saved["spec"]["av_offset_ms"] == 40


@pytest.mark.slow
def test_full_hd_clip_mouth_follows_the_track(tmp_path):
    result = synthesize(BASE.replace(width=1920, height=1080), tmp_path / "hd.mp4")
    frames = decode_frames(result.path)
    assert frames.shape[1:] == (1080, 1920, 3)
    opening = mouth_opening(frames)
    assert np.corrcoef(opening, result.truth["tracks"]["mouth"])[0, 1] > 0.6
