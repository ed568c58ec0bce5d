"""Visual quality of the face region: known degradations move each descriptor the right way."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from tfqa.features.action_units import AU_NAMES
from tfqa.features.base import FeatureBlock, create_extractor
from tfqa.features.cache import FeatureCache
from tfqa.features.pipeline import FeaturePipeline
from tfqa.features.visual_quality import (
    FRAME_COLUMNS,
    TRACK_COLUMNS,
    Visual,
    VisualQuality,
    blockiness,
    noise_sigma,
)

FACE_BOX = (64, 48, 192, 208)  # (x0, y0, x1, y1) pixels of the fake face in a 256x256 frame


def textured_frame() -> np.ndarray:
    """(256, 256, 3) uint8: the astronaut's face region (real texture, edges, colour)."""
    img = data.astronaut()[40:296, 110:366]
    return np.ascontiguousarray(img)


def smooth_frame(seed: int = 0) -> np.ndarray:
    """(256, 256, 3) uint8 smooth random field: almost no fine texture, so no 'noise' of its own."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.normal(0, 1, (256, 256)).astype(np.float32), (0, 0), 12)
    field = 128 + 60 * field / field.std()
    return np.repeat(np.clip(field, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def fake_face(track: int = 0, box: tuple[int, int, int, int] = FACE_BOX) -> dict:
    """A ``state["faces"]`` entry with the landmarks the extractor reads (eyes, lips)."""
    x0, y0, x1, y1 = box
    pts = np.full((478, 3), np.nan, dtype=np.float32)
    cx, w, h = (x0 + x1) / 2, x1 - x0, y1 - y0
    pts[33] = (cx - 0.3 * w, y0 + 0.35 * h, 0)
    pts[263] = (cx + 0.3 * w, y0 + 0.35 * h, 0)
    pts[13] = (cx, y0 + 0.75 * h, 0)
    pts[14] = (cx, y0 + 0.8 * h, 0)
    return {"track": track, "landmarks": pts, "box": box}


def extract(frames: list[np.ndarray], faces: list[list[dict]], grids=None) -> FeatureBlock:
    """Run ``visual_quality`` on frames with given per-frame faces (one grid slot each)."""
    vq = VisualQuality()
    vq.begin(None)
    grids = grids or [range(i, i + 1) for i in range(len(frames))]
    for rgb, fs, grid in zip(frames, faces, grids, strict=True):
        vq.update(rgb, grid, {"faces": fs})
    return vq.finish(max(g.stop for g in grids))


def track_col(block: FeatureBlock, name: str, track: int = 0) -> np.ndarray:
    return block.sequences[f"track{track}"][:, TRACK_COLUMNS.index(name)]


def visual_of(vq: FeatureBlock, speaker: int = 0, cut_slots=()) -> FeatureBlock:
    face = FeatureBlock(name="face", meta={"speaker_track": speaker})
    shots = FeatureBlock(name="shots", meta={"cut_slots": [list(c) for c in cut_slots]})
    return Visual().compute({"visual_quality": vq, "face": face, "shots": shots})


def test_blur_strictly_lowers_sharpness():
    frame = textured_frame()
    sigmas = [0.0, 0.8, 1.5, 3.0, 6.0]
    frames = [frame if s == 0 else cv2.GaussianBlur(frame, (0, 0), s) for s in sigmas]
    block = extract(frames, [[fake_face()]] * len(frames))
    for name in ("sharpness", "tenengrad", "mouth_sharpness", "edge_density"):
        values = track_col(block, name)
        assert np.all(np.diff(values) < 0), (name, values)
    frame_sharp = block.sequences["frame"][:, FRAME_COLUMNS.index("frame_sharpness")]
    assert np.all(np.diff(frame_sharp) < 0)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def block_average(gray: np.ndarray) -> np.ndarray:
    """Replace every 8x8 block by its mean: the strongest possible DCT quantisation."""
    h, w = gray.shape
    means = gray[: h // 8 * 8, : w // 8 * 8].reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3))
    return np.repeat(np.repeat(means, 8, axis=0), 8, axis=1).astype(np.uint8)


def test_jpeg_and_block_quantisation_raise_blockiness():
    gray = cv2.cvtColor(textured_frame(), cv2.COLOR_RGB2GRAY)
    clean = blockiness(gray)
    assert 0.85 < clean < 1.15  # natural image: no grid
    q10 = blockiness(cv2.cvtColor(jpeg(textured_frame(), 10), cv2.COLOR_RGB2GRAY))
    assert q10 > clean + 0.3
    blocky = blockiness(block_average(gray))
    assert blocky > 5
    # the grid must be the frame's: the same blocks read 4 px off the grid look much less blocky
    assert blockiness(block_average(gray)[:, 4:], x0=0) < blocky / 2
    assert blockiness(block_average(gray)[:, 4:], x0=4) == pytest.approx(blocky, rel=0.1)


def test_blockiness_of_a_jpeg_face_in_the_extractor():
    frames = [textured_frame(), jpeg(textured_frame(), 10)]
    values = track_col(extract(frames, [[fake_face()]] * 2), "blockiness")
    assert values[1] > values[0] + 0.3


@pytest.mark.parametrize("sigma", [3.0, 8.0, 15.0])
def test_noise_sigma_recovered(sigma):
    rng = np.random.default_rng(int(sigma))
    clean = smooth_frame()
    # the same noise in R, G and B: luma noise of exactly sigma (independent per-channel
    # noise would reach luma attenuated, by sqrt(0.299^2 + 0.587^2 + 0.114^2) = 0.67)
    noise = rng.normal(0, sigma, (*clean.shape[:2], 1))
    noisy = np.clip(clean + noise, 0, 255).astype(np.uint8)
    block = extract([clean, noisy], [[fake_face()]] * 2)
    est = track_col(block, "noise_sigma")
    assert est[0] < 1.0
    assert est[1] == pytest.approx(sigma, rel=0.25)


def test_noise_adds_in_quadrature_on_a_real_image():
    rng = np.random.default_rng(7)
    gray = cv2.cvtColor(textured_frame(), cv2.COLOR_RGB2GRAY)
    noisy = np.clip(gray + rng.normal(0, 6.0, gray.shape), 0, 255).astype(np.uint8)
    own = noise_sigma(gray)  # texture and the photo's own grain read as a little noise
    assert own < 6.0
    assert noise_sigma(noisy) == pytest.approx(np.hypot(own, 6.0), rel=0.15)


def test_identical_frames_have_no_flicker_and_repeat_ratio_one():
    frame = textured_frame()
    block = extract([frame] * 6, [[fake_face()]] * 6)
    assert np.isnan(track_col(block, "temporal_diff")[0])  # nothing to compare with yet
    assert np.all(track_col(block, "temporal_diff")[1:] == 0)
    assert np.all(track_col(block, "luma_flicker")[1:] == 0)
    assert np.allclose(track_col(block, "hf_stability")[1:], 1.0)
    visual = visual_of(block)
    assert visual.stats["temporal_flicker"] == 0
    assert visual.stats["frame_repeat_ratio"] == 1.0


def test_brightness_flicker_is_measured_and_moving_frames_are_not_repeats():
    frame = textured_frame().astype(np.int16)
    frames = [np.clip(frame + (10 if i % 2 else 0), 0, 255).astype(np.uint8) for i in range(6)]
    block = extract(frames, [[fake_face()]] * 6)
    assert np.allclose(track_col(block, "luma_flicker")[1:], 10, atol=1.0)
    visual = visual_of(block)
    assert visual.stats["temporal_flicker"] == pytest.approx(10, abs=1.0)
    assert visual.stats["frame_repeat_ratio"] == 0.0


def test_absent_face_gives_nan_rows_and_slots_are_filled():
    frame = textured_frame()
    faces = [[fake_face()], [], [fake_face()], []]
    grids = [range(0, 1), range(1, 2), range(2, 4), range(4, 5)]  # frame 2 covers two slots
    block = extract([frame] * 4, faces, grids)
    seq = block.sequences["track0"]
    assert seq.shape == (5, len(TRACK_COLUMNS))
    assert block.columns["track0"] == list(TRACK_COLUMNS)
    assert np.isnan(seq[[1, 4]]).all()
    assert np.isfinite(seq[[0, 2, 3], TRACK_COLUMNS.index("sharpness")]).all()
    assert np.array_equal(seq[2], seq[3], equal_nan=True)
    # the face was absent in the previous frame: no temporal comparison
    assert np.isnan(seq[2, TRACK_COLUMNS.index("temporal_diff")])
    assert np.isfinite(block.sequences["frame"][:, 0]).all()


def test_visual_follows_the_speaker_track():
    sharp, blurred = textured_frame(), cv2.GaussianBlur(textured_frame(), (0, 0), 3)
    frame = sharp.copy()
    frame[:, 128:] = blurred[:, 128:]
    left, right = fake_face(0, (8, 48, 120, 208)), fake_face(1, (136, 48, 248, 208))
    block = extract([frame] * 3, [[left, right]] * 3)
    v0, v1 = visual_of(block, 0), visual_of(block, 1)
    assert v0.stats["sharpness"] > 3 * v1.stats["sharpness"]
    assert v1.meta["track"] == "track1"
    seq = v1.sequences["visual"]
    assert seq.shape == (3, len(TRACK_COLUMNS) + len(FRAME_COLUMNS))
    assert len(v1.columns["visual"]) == seq.shape[1]
    assert "log_sharpness" in v1.columns["visual"]
    for key in ("sharpness", "mouth_sharpness", "blockiness", "noise_sigma", "temporal_flicker",
                "brightness", "contrast", "colourfulness", "frame_repeat_ratio"):  # fmt: skip
        assert np.isfinite(v1.stats[key]), key
    assert set(v1.curves) == {"sharpness", "temporal_flicker"}


def test_no_frame_to_frame_change_across_a_shot_cut():
    """Three frames of one picture, then three of another (a cut at slot 3): the change at the
    cut is left unmeasured in ``visual``, everything else is kept."""
    from tfqa.features.visual_quality import TEMPORAL_FRAME, TEMPORAL_TRACK

    a = textured_frame()
    b = np.ascontiguousarray(255 - a)
    box = fake_face(0, (40, 40, 216, 216))
    block = extract([a] * 3 + [b] * 3, [[box]] * 6)
    whole, cut = visual_of(block), visual_of(block, cut_slots=[(3, 4)])
    cols = whole.columns["visual"]
    temporal = [cols.index(c) for c in TEMPORAL_TRACK + TEMPORAL_FRAME]
    assert whole.sequences["visual"][3, cols.index("frame_diff")] > 50  # the cut's change
    assert np.isnan(cut.sequences["visual"][3, temporal]).all()
    keep = np.ones(whole.sequences["visual"].shape, bool)
    keep[3, temporal] = False
    np.testing.assert_array_equal(cut.sequences["visual"][keep], whole.sequences["visual"][keep])
    assert whole.stats["temporal_flicker_p95"] > 10 * cut.stats["temporal_flicker_p95"]


def test_registered():
    assert create_extractor("visual_quality", work_size=96).config.work_size == 96
    assert create_extractor("visual").inputs == ("visual_quality", "face", "shots")
    assert create_extractor("shots").inputs == ("visual_quality", "face_mesh")


def astronaut_clip(path, seconds: float = 2.0, fps: int = 25) -> None:
    """A still astronaut photo drifting by a few pixels, with a quiet 220 Hz tone."""
    from tfqa.io.constants import SAMPLE_RATE
    from tfqa.io.writer import write_clip

    photo = data.astronaut()[0:320, 64:384]  # face at about (114..207, 71..178)
    n = int(seconds * fps)
    frames = [
        np.ascontiguousarray(np.roll(photo, int(round(3 * np.sin(i / 5))), axis=1)[32:288, 32:288])
        for i in range(n)
    ]
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    write_clip(path, frames, fps, 0.05 * np.sin(2 * np.pi * 220 * t), SAMPLE_RATE)


def test_pipeline_on_a_clip(tmp_path):
    clip = tmp_path / "astronaut.mp4"
    astronaut_clip(clip)
    names = ["face_mesh", "visual_quality", "face", "visual", "action_units"]
    feats = FeaturePipeline(names, cache=FeatureCache(tmp_path / "cache")).extract(clip)
    n = feats.n_frames
    assert n == 50
    assert feats["face"].stats["face_coverage"] > 0.9
    visual = feats["visual"].sequences["visual"]
    assert visual.shape == (n, len(TRACK_COLUMNS) + len(FRAME_COLUMNS))
    assert np.isfinite(visual[:, 0]).mean() > 0.9
    assert feats["visual"].stats["sharpness"] > 50
    assert 0.5 < feats["visual"].stats["blockiness"] < 2.0
    assert feats["visual"].stats["frame_repeat_ratio"] < 0.9  # the photo drifts
    au = feats["action_units"].sequences["au"]
    assert au.shape == (n, 17)
    assert feats["action_units"].columns["au"] == list(AU_NAMES)
    assert np.isfinite(au).all(axis=1).mean() > 0.9
    assert feats["action_units"].stats["blink_count"] == 0  # a photo does not blink


def test_duplicated_frames_of_an_h264_clip_are_repeats(tmp_path):
    from tfqa.io import FrameStream
    from tfqa.io.writer import write_clip

    photo = data.astronaut()[:300, :300]
    shift = [i - i // 3 for i in range(60)]  # every third frame repeats its predecessor
    frames = [np.ascontiguousarray(np.roll(photo, s, axis=1)[:256, :256]) for s in shift]
    write_clip(tmp_path / "dup.mp4", frames, 25, None, 16_000, crf=18)
    vq = VisualQuality()
    vq.begin(None)
    for gf in FrameStream(tmp_path / "dup.mp4"):
        vq.update(gf.rgb, gf.grid, {"faces": []})
    repeat = vq.finish(60).sequences["frame"][:, FRAME_COLUMNS.index("frame_repeat")]
    truth = np.r_[False, np.diff(shift) == 0]
    assert np.mean(repeat[1:] == truth[1:]) > 0.9
    assert np.isnan(repeat[0])


def test_bad_config_is_refused():
    from tfqa.errors import ConfigError

    with pytest.raises(ConfigError, match="work_size"):
        create_extractor("visual_quality", work_size=4)
