"""Picture degradations on tiny frames with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tfqa.data import degrade_video as dv


def _frames(n=6, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(40, 215, size=(n, h, w, 3), dtype=np.uint8)


def test_colour_shift_moves_chroma_by_the_stated_delta_e():
    flat = np.full((1, 8, 8, 3), (150, 120, 110), dtype=np.uint8)
    out = dv.colour_shift(flat, 10.0, 0.7)
    lab = [
        cv2.cvtColor(f.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[0, 0] for f in (flat[0], out[0])
    ]
    assert np.linalg.norm(lab[1] - lab[0]) == pytest.approx(10.0, abs=0.8)  # 8-bit rounding


def test_pixel_noise_has_the_stated_std():
    frames = np.full((4, 64, 64, 3), 128, dtype=np.uint8)
    out = dv.pixel_noise(frames, 10.0, np.random.default_rng(0))
    assert (out.astype(float) - 128).std() == pytest.approx(10.0, rel=0.05)


def test_rescale_keeps_size_and_loses_detail():
    frames = _frames()
    out = dv.rescale(frames, 0.25)
    assert out.shape == frames.shape
    assert dv.sharpness(out[0]) < 0.2 * dv.sharpness(frames[0])


def test_freeze_and_speed_schedules():
    frames = _frames(n=10)
    _, sched = dv.freeze_from(frames, 4)
    assert sched.tolist() == [0, 1, 2, 3, 4, 4, 4, 4, 4, 4]
    out, sched = dv.speed(frames, 2.0)
    assert sched.tolist() == [0, 2, 4, 6, 8] and len(out) == 5
    _, sched = dv.speed(frames, 0.5)
    assert sched.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_stutter_repeats_the_stated_share():
    _, sched = dv.stutter(_frames(n=40), 0.25, np.random.default_rng(0))
    assert int(np.sum(sched[1:] == sched[:-1])) == 10
    assert np.all(np.abs(sched - np.arange(40)) <= 10)  # the timeline catches up


def test_face_track_from_landmarks_fills_gaps():
    lm = np.full((5, 478, 3), np.nan, dtype=np.float32)
    base = np.random.default_rng(0).uniform(10, 50, size=(478, 3)).astype(np.float32)
    for i in (0, 4):
        lm[i] = base + i
    track = dv.face_track_from_landmarks(lm)
    assert track.coverage == pytest.approx(0.4)
    assert np.allclose(np.diff(track.face_centre[:, 0]), 1.0, atol=1e-4)  # linear in between
    assert dv.face_track_from_landmarks(np.full((3, 478, 3), np.nan)) is None
