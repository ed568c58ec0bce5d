"""Clips stored otherwise than shown: turned frames with a display matrix (phones) and
non-square pixels (anamorphic broadcast video); tfqa decodes them as players show them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tfqa.io.video import FrameStream, display_rotation


def _store_turned(
    src: Path, dst: Path, store_turns: int, display_deg: float, *, squeeze: Fraction | None = None
) -> Path:
    """Re-encode ``src`` with each frame turned ``store_turns`` times counter-clockwise and a
    display matrix of ``display_deg`` (counter-clockwise), or with its width divided by
    ``squeeze`` and that sample aspect ratio declared; its audio is kept."""
    import cv2

    with av.open(str(src)) as i:
        frames = [np.rot90(f.to_ndarray(format="rgb24"), store_turns) for f in i.decode(video=0)]
        if squeeze is not None:
            h, w = frames[0].shape[:2]
            size = (int(round(w / squeeze / 2)) * 2, h)
            frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
        a_in = i.streams.audio[0]
        with av.open(str(dst), "w") as o:
            ov = o.add_stream("libx264", rate=25)
            ov.pix_fmt = "yuv420p"
            ov.width, ov.height = frames[0].shape[1], frames[0].shape[0]
            if squeeze is not None:
                ov.codec_context.sample_aspect_ratio = squeeze
            if display_deg:
                ov.set_display_rotation(display_deg)
            oa = o.add_stream("aac", rate=a_in.rate)
            for k, img in enumerate(frames):
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                vf.pts, vf.time_base = k, Fraction(1, 25)
                for p in ov.encode(vf):
                    o.mux(p)
            for p in ov.encode():
                o.mux(p)
            i.seek(0)
            for af in i.decode(audio=0):
                af.pts = None
                for p in oa.encode(af):
                    o.mux(p)
            for p in oa.encode():
                o.mux(p)
    return dst


@pytest.fixture(scope="module")
def wide(synth_clip):
    return synth_clip("wide", width=320, height=256, duration_s=3.0)


@pytest.mark.parametrize(("store_turns", "display_deg"), [(1, -90), (3, 90), (2, 180)])
def test_turned_frames_decode_upright(wide, tmp_path, store_turns, display_deg):
    phone = _store_turned(wide, tmp_path / "phone.mp4", store_turns, display_deg)
    assert display_rotation(phone) == display_deg % 360
    assert display_rotation(wide) == 0
    upright = [g.rgb.astype(np.float32) for g in FrameStream(wide)]
    turned = [g.rgb.astype(np.float32) for g in FrameStream(phone)]
    assert turned[0].shape == upright[0].shape == (256, 320, 3)  # stored 320 wide, shown 256
    diff = np.mean([np.abs(a - b).mean() for a, b in zip(upright, turned, strict=False)])
    assert diff < 4.0  # codec noise only; a frame left sideways differs by tens of levels
    raw = np.rot90(turned[0], -store_turns)  # what tfqa decoded before it honoured the matrix
    if raw.shape == upright[0].shape:
        assert np.abs(raw - upright[0]).mean() > 4 * diff


def test_the_pipeline_scores_turned_clips_upright_and_says_so(wide, tmp_path, feature_cache):
    from tfqa.features.pipeline import FeaturePipeline

    phone = _store_turned(wide, tmp_path / "phone.mp4", 1, -90)
    pipe = FeaturePipeline(cache=feature_cache, workers=1)
    feats, ref = pipe.extract(phone), pipe.extract(wide)
    assert feats.info.rotation_deg == 270 and ref.info.rotation_deg == 0
    assert feats.digests["video"].endswith("@rot270")  # cached apart from a sideways decode
    assert any("display rotation 270" in w for w in feats.warnings)
    cover = feats.blocks["face"].sequences["present"][:, 0].mean()
    assert cover == pytest.approx(ref.blocks["face"].sequences["present"][:, 0].mean(), abs=0.05)
    mouth, mouth_ref = (f.blocks["face"].sequences["mouth"][:, 0] for f in (feats, ref))
    assert np.corrcoef(mouth, mouth_ref)[0, 1] > 0.9  # the same mouth track, upright


def test_info_reports_the_rotation(wide, tmp_path):
    import json

    from typer.testing import CliRunner

    from tfqa.cli import app

    phone = _store_turned(wide, tmp_path / "phone.mp4", 1, -90)
    res = CliRunner().invoke(app, ["info", str(phone)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["rotation_deg"] == 270


def test_non_square_pixels_decode_at_the_display_shape(wide, tmp_path, feature_cache):
    """320x256 stored as 240x256 with sample aspect ratio 4:3 (how anamorphic video is kept)."""
    from tfqa.features.pipeline import FeaturePipeline
    from tfqa.io import probe

    squeezed = _store_turned(wide, tmp_path / "sar.mp4", 0, 0, squeeze=Fraction(4, 3))
    info = probe(squeezed)
    assert (info.width, info.height, info.pixel_aspect) == (240, 256, pytest.approx(4 / 3))
    assert probe(wide).pixel_aspect == 1.0
    shown = [g.rgb.astype(np.float32) for g in FrameStream(squeezed)]
    upright = [g.rgb.astype(np.float32) for g in FrameStream(wide)]
    assert shown[0].shape == upright[0].shape == (256, 320, 3)
    diff = np.mean([np.abs(a - b).mean() for a, b in zip(upright, shown, strict=False)])
    assert diff < 5.0  # resampling blur and codec noise only
    feats = FeaturePipeline(cache=feature_cache, workers=1).extract(squeezed)
    assert feats.digests["video"].endswith("@sar1.33333")
    assert any("non-square pixels" in w for w in feats.warnings)
    assert feats.blocks["face"].sequences["present"][:, 0].mean() > 0.9
