"""Shared synthesised clips (rendered once per session into a temporary folder)."""

from __future__ import annotations

import numpy as np
import pytest

from tfqa.io import FrameStream, load_audio
from tfqa.synth import SynthSpec, synthesize

BASE = SynthSpec(duration_s=4.0, seed=3)  # 100 frames at 25 fps, 256 x 256


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("synth")


@pytest.fixture(scope="session")
def clean(clip_dir):
    return synthesize(BASE, clip_dir / "clean.mp4")


@pytest.fixture(scope="session")
def clean_audio(clean):
    return load_audio(clean.path).samples[: clean.truth["n_samples"]]


@pytest.fixture(scope="session")
def clean_frames(clean):
    return decode_frames(clean.path)


def decode_frames(path) -> np.ndarray:
    """All frames of a (short) clip as ``(T, H, W, 3)`` uint8."""
    return np.stack([g.rgb for g in FrameStream(path)])


def mouth_opening(frames: np.ndarray) -> np.ndarray:
    """Face-mesh mouth opening per frame: inner-lip gap (13-14) over eye-corner distance (33-263)."""
    import mediapipe as mp

    out = []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, refine_landmarks=True, max_num_faces=1
    ) as mesh:
        for rgb in frames:
            found = mesh.process(rgb)
            if not found.multi_face_landmarks:
                out.append(np.nan)
                continue
            lm = found.multi_face_landmarks[0].landmark
            pts = np.array([[lm[i].x, lm[i].y] for i in (13, 14, 33, 263)]) * rgb.shape[1::-1]
            out.append(np.linalg.norm(pts[0] - pts[1]) / np.linalg.norm(pts[2] - pts[3]))
    return np.array(out)
