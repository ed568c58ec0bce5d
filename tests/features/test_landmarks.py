"""Face mesh tracks, speaker choice and pose normalisation, with known answers."""

from __future__ import annotations

import warnings

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
    with warnings.catch_warnings():  # told through feats.warnings, not numpy's console noise
        warnings.simplefilter("error")
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


def test_landmarks_array_reads_the_serialised_list_exactly():
    from mediapipe.framework.formats import landmark_pb2

    from tfqa.features.landmarks import landmarks_array

    rng = np.random.default_rng(3)
    xyz = rng.uniform(-0.2, 1.2, size=(478, 3)).astype(np.float32)
    msg = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in xyz:
        msg.landmark.add(x=x, y=y, z=z)
    out = landmarks_array(msg, 640, 360)
    np.testing.assert_array_equal(out, xyz * np.array([640, 360, 640], np.float32))
    # a landmark with an extra field (visibility) leaves the fixed layout: the attribute path
    msg.landmark[5].visibility = 0.5
    np.testing.assert_array_equal(landmarks_array(msg, 640, 360), out)


def test_face_mesh_lanes_match_one_lane(synth_clip):
    """Two lanes on alternating chunks track the same face as one graph over the whole clip."""
    from tfqa.features.landmarks import CHUNK_FRAMES

    clip = synth_clip("clean")  # 6 s at 256x256: 150 frames, 3 chunks of 50
    names = ["face_mesh", "face"]
    one = FeaturePipeline(names, cache=False, workers=1).extract(clip)
    two = FeaturePipeline(names, cache=False, workers=2).extract(clip)
    assert one.n_frames == two.n_frames > 2 * CHUNK_FRAMES[1]
    a = one.blocks["face_mesh"].sequences["track0"].reshape(one.n_frames, 478, 3)[..., :2]
    b = two.blocks["face_mesh"].sequences["track0"].reshape(two.n_frames, 478, 3)[..., :2]
    assert not np.isnan(b).any()
    iod = float(np.nanmedian(np.linalg.norm(a[:, EYE_L] - a[:, EYE_R], axis=1)))
    diff = np.abs(a - b)
    assert diff.mean() < 0.01 * iod  # sub-pixel: the tracker's own wobble
    assert diff.max() < 0.1 * iod
    # chunk boundaries are not jumps: frame-to-frame motion there is like anywhere else
    speed = np.abs(np.diff(b, axis=0)).mean(axis=(1, 2))
    at_boundaries = speed[np.arange(CHUNK_FRAMES[1], len(b), CHUNK_FRAMES[1]) - 1]
    assert at_boundaries.max() < 3 * np.median(speed) + 0.01 * iod
    for key in ("face_coverage", "mouth_open_std"):
        assert two.blocks["face"].stats[key] == pytest.approx(
            one.blocks["face"].stats[key], rel=0.05, abs=1e-3
        )


def test_quiet_native_stderr_nests_across_threads():
    import os
    import threading

    from tfqa.features.landmarks import quiet_native_stderr

    before = os.fstat(2)
    entered, release = threading.Barrier(3), threading.Event()

    def hold():
        with quiet_native_stderr():
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    entered.wait()
    assert os.fstat(2).st_ino != before.st_ino  # redirected while either holds it
    release.set()
    for t in threads:
        t.join()
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_reused_pipeline_restarts_its_trackers_per_clip(synth_clip, workers):
    """Lanes persist across clips; each clip still starts from a fresh tracker (same landmarks)."""
    other, clip = synth_clip("clean"), synth_clip("jitter", landmark_jitter_px=2.0)
    fresh = FeaturePipeline(["face_mesh"], cache=False, workers=workers).extract(clip)
    reused = FeaturePipeline(["face_mesh"], cache=False, workers=workers)
    reused.extract(other)
    again = reused.extract(clip)
    np.testing.assert_array_equal(
        again.blocks["face_mesh"].sequences["track0"], fresh.blocks["face_mesh"].sequences["track0"]
    )


def test_one_at_a_time_known_answers():
    from tfqa.features.landmarks import one_at_a_time

    n = 100
    first, second = np.arange(n) < 50, np.arange(n) >= 50
    assert one_at_a_time([first, second], 0.2) == [0, 1]  # handed over: one face at a time
    assert one_at_a_time([first, np.ones(n, bool)], 0.2) == []  # two faces in view together
    brief = np.zeros(n, bool)
    brief[60:70] = True
    assert one_at_a_time([first, brief], 0.2) == []  # one candidate only (10 % < 20 %)
    overlap = np.arange(n) >= 48  # 2 frames together: a tracker's hand-over, still one face
    assert one_at_a_time([first, overlap], 0.2) == [0, 1]


def test_a_face_that_moves_far_is_followed_across_tracks(tmp_path, synth_clip):
    """The talking face on the left for half the clip, then on the right (as after a cut): the
    tracker starts a second track, and the face is scored as one face over the whole clip."""
    from tfqa.io import load_audio

    src = synth_clip("clean")
    frames = [g.rgb for g in FrameStream(src)]
    half = len(frames) // 2
    blank = np.zeros_like(frames[0])
    moved = [
        np.concatenate([f, blank] if i < half else [blank, f], axis=1) for i, f in enumerate(frames)
    ]
    p = write_clip(tmp_path / "moved.mp4", moved, 25, load_audio(src).samples, 16_000)
    pipe = FeaturePipeline(["face_mesh", "face", "visual"], cache=False)
    feats, ref = pipe.extract(p), pipe.extract(src)
    assert feats.blocks["face_mesh"].stats["n_tracks"] == 2
    face = feats.blocks["face"]
    assert face.stats["n_faces"] == 1
    assert face.stats["face_coverage"] > 0.95
    owner = face.sequences["track"][:, 0]
    assert set(np.unique(owner[np.isfinite(owner)])) == {0.0, 1.0}
    assert not any("face lost" in w or "several faces" in w for w in feats.warnings)
    assert any("one face at a time on 2 tracks" in w for w in feats.warnings)
    mouth, mouth_ref = (f.blocks["face"].sequences["mouth"][:, 0] for f in (feats, ref))
    both = np.isfinite(mouth) & np.isfinite(mouth_ref)
    assert np.corrcoef(mouth[both], mouth_ref[both])[0, 1] > 0.9  # the same mouth track
    visual = feats.blocks["visual"]
    assert visual.meta["track"] == "track0+track1"
    sharp = visual.sequences["visual"][:, visual.columns["visual"].index("log_sharpness")]
    assert np.isfinite(sharp[: half - 2]).all() and np.isfinite(sharp[half + 2 :]).all()
