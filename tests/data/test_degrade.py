"""Degradations measured on the written files: offsets, SNR, copied streams, frames, blur."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.signal import correlate

from tfqa.data import labels
from tfqa.data.degrade import (
    FAMILIES,
    Degradation,
    PlanContext,
    check_combination,
    get_family,
    plan_degradation,
    render_variant,
)
from tfqa.data.degrade_prepare import PrepareConfig, load_prepared_audio, prepare_source
from tfqa.data.degrade_video import sharpness
from tfqa.errors import ConfigError
from tfqa.features.cache import stream_digests
from tfqa.io import FrameStream

SR = 16_000


@pytest.fixture(scope="module")
def clip(synth_clip, tmp_path_factory):
    """The shared 6-s synthesised clip, prepared once (face track included)."""
    out = tmp_path_factory.mktemp("prepared")
    return prepare_source(synth_clip("clean"), out, PrepareConfig(), cache=False)[0]


@pytest.fixture(scope="module")
def clean_audio(clip):
    return load_prepared_audio(clip.path, clip.n_frames)


@pytest.fixture(scope="module")
def clean_frames(clip):
    return _frames(clip.path)


def _frames(path) -> np.ndarray:
    return np.stack([g.rgb for g in FrameStream(path) for _ in g.grid]).astype(np.float32)


def _render(clip, tmp_path, *degs, seed=0):
    return render_variant(clip, list(degs), tmp_path / "v.mp4", seed=seed)


def _lag_samples(y: np.ndarray, x: np.ndarray, max_lag: int) -> int:
    """Lag of ``y`` behind ``x`` (samples) at the cross-correlation peak."""
    n = min(len(x), len(y))
    c = correlate(y[:n], x[:n], mode="full", method="fft")
    mid = n - 1
    return int(np.argmax(c[mid - max_lag : mid + max_lag + 1])) - max_lag


def test_prepared_clip_is_normalised(clip):
    assert clip.n_frames == 150 and (clip.width, clip.height) == (256, 256)
    assert clip.face_coverage > 0.9 and 0.2 < clip.speech_share <= 1.0
    assert 80 < clip.f0_hz < 200  # the synthesiser's male voice (~120 Hz)


@pytest.mark.parametrize("offset_ms", [120.0, -200.0, 40.0])
def test_offset_variant_is_offset_by_the_stated_ms(clip, clean_audio, tmp_path, offset_ms):
    res = _render(clip, tmp_path, Degradation("av_offset", offset_ms))
    y = load_prepared_audio(res.path, clip.n_frames)
    lag_ms = _lag_samples(y, clean_audio, max_lag=SR // 2) * 1000 / SR
    assert lag_ms == pytest.approx(offset_ms, abs=1.0)


@pytest.mark.parametrize(("family", "snr_db"), [("noise_white", 10.0), ("noise_hum", 20.0)])
def test_snr_variant_noise_power_is_on_target(clip, clean_audio, tmp_path, family, snr_db):
    d = plan_degradation(family, snr_db, PlanContext(clip, np.random.default_rng(0)))
    res = _render(clip, tmp_path, d)
    y = load_prepared_audio(res.path, clip.n_frames)
    noise = y.astype(np.float64) - clean_audio
    measured = 10 * np.log10(np.mean(clean_audio.astype(np.float64) ** 2) / np.mean(noise**2))
    assert measured == pytest.approx(snr_db, abs=0.5)


def test_audio_only_variant_copies_the_video_stream(clip, tmp_path):
    res = _render(clip, tmp_path, Degradation("clipping", 0.02))
    assert res.copied_video and not res.copied_audio
    before, after = stream_digests(clip.path), stream_digests(res.path)
    assert after["video"] == before["video"]
    assert after["audio"] != before["audio"]


def test_picture_only_variant_copies_the_audio_stream(clip, tmp_path):
    res = _render(clip, tmp_path, Degradation("blur", 2.0))
    before, after = stream_digests(clip.path), stream_digests(res.path)
    assert after["audio"] == before["audio"] and after["video"] != before["video"]


def test_frozen_face_holds_one_frame_from_the_stated_point(clip, clean_frames, tmp_path):
    d = plan_degradation("frozen_face", 0.5, PlanContext(clip, np.random.default_rng(0)))
    start = d.extra["from_frame"]
    assert start == 75
    out = _frames(_render(clip, tmp_path, d).path)
    step = np.abs(np.diff(out, axis=0)).mean(axis=(1, 2, 3))
    assert step[start:].max() < 0.5  # held: consecutive frames identical up to the codec
    assert np.median(step[: start - 1]) > 3 * max(step[start:].max(), 0.05)  # moving before
    assert np.abs(out[start] - clean_frames[start]).mean() < 2.0


def test_stutter_repeats_the_frames_it_claims(clip, clean_frames, tmp_path):
    res = _render(clip, tmp_path, Degradation("stutter", 0.2), seed=3)
    schedule = np.array(res.info["stutter"]["schedule"])
    repeated = np.flatnonzero(schedule[1:] == schedule[:-1]) + 1
    assert len(repeated) == round(0.2 * clip.n_frames)
    out = _frames(res.path)
    step = np.abs(np.diff(out, axis=0)).mean(axis=(1, 2, 3))
    moving = np.setdiff1d(np.arange(1, len(out)), repeated)
    assert step[repeated - 1].max() < 0.5
    assert np.median(step[moving - 1]) > 1.0


def test_speed_change_keeps_picture_and_sound_the_same_length(clip, tmp_path):
    res = _render(clip, tmp_path, Degradation("speed", 1.25))
    assert res.n_frames == 120  # floor(150 / 1.25)
    out = _frames(res.path)
    assert len(out) == 120
    assert len(load_prepared_audio(res.path, None)) == pytest.approx(120 * 640, abs=1100)


def test_blur_lowers_sharpness_monotonically(clip, tmp_path):
    values = []
    for sigma in (0.0, 1.0, 3.0):
        path = clip.path
        if sigma:
            path = render_variant(
                clip, [Degradation("blur", sigma)], tmp_path / f"b{sigma}.mp4", seed=0
            ).path
        values.append(np.mean([sharpness(g.rgb) for g in FrameStream(path)][::10]))
    assert values[0] > 1.3 * values[1] > 1.3 * values[2]


def test_mouth_freeze_holds_the_mouth_of_one_frame(clip, clean_frames, tmp_path):
    d = plan_degradation("mouth_freeze", 0.5, PlanContext(clip, np.random.default_rng(1)))
    start, stop = d.extra["start"], d.extra["stop"]
    out = _frames(_render(clip, tmp_path, d).path)
    track = clip.face_track()
    half = (track.mouth_size / 4).astype(int)  # the patch's core, away from the feathered rim

    def core(frames, i, at):
        cx, cy = np.round(track.mouth_centre[at]).astype(int)
        return frames[i, cy - half[1] : cy + half[1], cx - half[0] : cx + half[0]]

    held = core(clean_frames, start, start)
    inside = [np.abs(core(out, i, i) - held).mean() for i in range(start + 1, stop)]
    source = [np.abs(core(clean_frames, i, i) - held).mean() for i in range(start + 1, stop)]
    assert np.median(inside) < 3.0  # the held mouth, following the head
    assert np.median(source) > 2 * np.median(inside)  # the source's mouth kept moving
    outside = [i for i in range(clip.n_frames) if not start <= i < stop]
    assert np.abs(out[outside] - clean_frames[outside]).mean() < 2.5  # re-encoding noise only


def test_jitter_moves_the_face_not_the_background(clip, clean_frames, tmp_path):
    res = _render(clip, tmp_path, Degradation("jitter", 3.0), seed=2)
    assert res.info["jitter"]["rms_px"] == pytest.approx(res.info["jitter"]["std_px"], rel=0.3)
    out = _frames(res.path)
    cx, cy = clip.face_track().face_centre.mean(axis=0).astype(int)
    face = np.s_[:, cy - 20 : cy + 20, cx - 20 : cx + 20]
    corner = np.s_[:, :16, :16]
    assert np.abs(out[face] - clean_frames[face]).mean() > 3.0
    assert np.abs(out[corner] - clean_frames[corner]).mean() < 2.0


def test_other_voice_takes_the_donor_nearest_the_asked_pitch_gap(clip):
    donors = tuple(
        dataclasses.replace(clip, name=f"d{k}", f0_hz=f0)
        for k, f0 in enumerate((clip.f0_hz * 2 ** (3 / 12), clip.f0_hz * 2 ** (9 / 12)))
    )
    ctx = PlanContext(clip, np.random.default_rng(0), other_people=donors)
    d = plan_degradation("other_voice", 9.0, ctx)
    assert d.extra["donor"] == "d1" and d.value == pytest.approx(9.0, abs=0.01)
    assert plan_degradation("same_person_audio", 1.0, ctx) is None  # nobody else of the person


def test_one_degradation_per_slot():
    with pytest.raises(ConfigError, match="slot"):
        check_combination([Degradation("noise_white", 10), Degradation("noise_hum", 10)])
    with pytest.raises(ConfigError, match="mouth"):  # a frozen face leaves no mouth to edit
        check_combination([Degradation("frozen_face", 0.5), Degradation("mouth_shift", 2)])
    check_combination(
        [Degradation("noise_white", 10), Degradation("blur", 2), Degradation("av_offset", 80)]
    )
    with pytest.raises(ConfigError, match="Did you mean"):
        get_family("noise_whte")


def test_every_family_has_a_label_rule_and_ordered_levels():
    assert {f.name for f in FAMILIES} == set(labels.RULES)
    for fam in FAMILIES:
        assert fam.levels and fam.dims and fam.unit is not None
        if fam.name in ("av_offset", "mouth_shift", "speed", "other_voice"):
            continue  # signed or two-sided parameters
        dim = "visual" if fam.dims[0] == "visual" else fam.dims[0]
        scores = [labels.degradation_scores(fam.name, v)[dim] for v in fam.levels]
        assert all(a >= b for a, b in zip(scores, scores[1:], strict=False)), fam.name
