"""Face mesh tracks, speaker choice and pose normalisation, with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tfqa.features.cache import FeatureCache
from tfqa.features.landmarks import (
    EYE_L,
    EYE_R,
    align_track,
    canonical_face,
    rigid_indices,
    rotation_to_euler,
    similarity_align,
)
from tfqa.features.pipeline import FeaturePipeline
from tfqa.io import FrameStream
from tfqa.io.writer import write_clip


def test_canonical_face_is_frontal_and_unit_scaled():
    ref = canonical_face()
    assert ref.shape == (468, 3)
    assert np.linalg.norm(ref[EYE_L] - ref[EYE_R]) == pytest.approx(1.0, abs=1e-5)
    assert ref[EYE_R, 0] < 0 < ref[EYE_L, 0]
    assert abs(ref[1, 0]) < 1e-3  # nose tip on the midline
    assert len(rigid_indices()) > 60


def test_similarity_align_recovers_known_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    r = Rotation.from_euler("xyz", [10, -25, 5], degrees=True).as_matrix()
    dst = 3.5 * src @ r.T + np.array([100.0, 50.0, -7.0])
    s, r_hat, t = similarity_align(src, dst)
    assert s == pytest.approx(3.5, rel=1e-9)
    np.testing.assert_allclose(r_hat, r, atol=1e-9)
    np.testing.assert_allclose(t, [100.0, 50.0, -7.0], atol=1e-7)


@pytest.mark.parametrize("yaw", [-30.0, 0.0, 20.0])
def test_align_track_undoes_pose_and_reads_yaw(yaw):
    ref = canonical_face().astype(np.float64)
    r = Rotation.from_euler("y", yaw, degrees=True).as_matrix()
    pts = 120.0 * ref @ r.T + np.array([200.0, 180.0, 0.0])
    lm = np.full((2, 478, 3), np.nan)
    lm[0, :468] = pts
    kp, pose = align_track(lm)
    np.testing.assert_allclose(kp[0], ref, atol=1e-4)
    assert np.isnan(kp[1]).all() and np.isnan(pose[1]).all()
    y, p, rl = rotation_to_euler(r)
    assert abs(y) == pytest.approx(abs(yaw), abs=1e-6)
    assert pose[0, 5] == pytest.approx(120.0, rel=1e-5)
    assert abs(pose[0, 0]) == pytest.approx(abs(yaw), abs=1e-3)


def test_face_lost_for_part_of_the_clip_is_scored_with_coverage(tmp_path, synth_clip):
    from tfqa.io import load_audio

    src = synth_clip("clean")
    frames = [g.rgb for g in FrameStream(src)]
    half = len(frames) // 2
    frames = frames[:half] + [np.zeros_like(f) for f in frames[half:]]
    p = write_clip(tmp_path / "lost.mp4", frames, 25, load_audio(src).samples, 16_000)
    feats = FeaturePipeline(["face_mesh", "face"], cache=False).extract(p)
    assert feats.blocks["face"].stats["face_coverage"] == pytest.approx(0.5, abs=0.05)
    assert any("face lost" in w for w in feats.warnings)


def test_several_faces_picks_the_speaking_one(tmp_path, synth_clip):
    from tfqa.io import load_audio

    src = synth_clip("clean")
    frames = [g.rgb for g in FrameStream(src)]
    still = frames[0]
    # the talking face on the right, a still copy of it on the left
    both = [np.concatenate([still, f], axis=1) for f in frames]
    p = write_clip(tmp_path / "two.mp4", both, 25, load_audio(src).samples, 16_000)
    feats = FeaturePipeline(["face_mesh", "face"], cache=FeatureCache(tmp_path / "c")).extract(p)
    face = feats.blocks["face"]
    assert face.stats["n_faces"] == 2
    track = face.meta["speaker_track"]
    centre_x = (
        feats.blocks["face_mesh"]
        .sequences[f"track{track}"]
        .reshape(len(frames), 478, 3)[:, :468, 0]
    )
    assert np.nanmedian(centre_x) > still.shape[1]  # the right-hand (talking) face
    assert any("several faces" in w for w in feats.warnings)
