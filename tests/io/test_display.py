"""Clips stored otherwise than shown: turned frames with a display matrix (phones),
non-square pixels (anamorphic broadcast video) and interlaced frames (broadcast, camcorders);
tfqa decodes them as players show them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tfqa.io.video import FrameStream, display_facts
from tfqa.io.writer import write_clip


def _encoder(o: av.container.OutputContainer, frame: np.ndarray, *, interlaced: bool = False):
    ov = o.add_stream("libx264", rate=25)
    ov.pix_fmt = "yuv420p"
    ov.width, ov.height = frame.shape[1], frame.shape[0]
    if interlaced:
        # interlaced H.264 (field-aware coding); libx264 takes the field order from each frame's
        # flags, which PyAV leaves unset: bottom field first (as DV video is)
        ov.codec_context.options = {"flags": "+ilme+ildct"}
    return ov


def _encode(o, ov, frames) -> None:
    for k, img in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
        vf.pts, vf.time_base = k, Fraction(1, 25)
        for p in ov.encode(vf):
            o.mux(p)
    for p in ov.encode():
        o.mux(p)


def _weave(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """A bottom-field-first interlaced frame: the odd lines from ``first``, the even lines from
    ``second`` (the picture half a frame period later)."""
    out = second.copy()
    out[1::2] = first[1::2]
    return out


def _store_turned(
    src: Path,
    dst: Path,
    store_turns: int,
    display_deg: float,
    *,
    squeeze: Fraction | None = None,
    interlace: bool = False,
) -> Path:
    """Re-encode ``src`` with each frame turned ``store_turns`` times counter-clockwise and a
    display matrix of ``display_deg`` (counter-clockwise), or with its width divided by
    ``squeeze`` and that sample aspect ratio declared, or interlaced (frame k's bottom field
    woven with frame k+1's top field); its audio is kept."""
    import cv2

    with av.open(str(src)) as i:
        frames = [np.rot90(f.to_ndarray(format="rgb24"), store_turns) for f in i.decode(video=0)]
        if squeeze is not None:
            h, w = frames[0].shape[:2]
            size = (int(round(w / squeeze / 2)) * 2, h)
            frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
        if interlace:
            frames = [_weave(a, b) for a, b in zip(frames, frames[1:] + frames[-1:], strict=True)]
        a_in = i.streams.audio[0]
        with av.open(str(dst), "w") as o:
            ov = _encoder(o, frames[0], interlaced=interlace)
            if squeeze is not None:
                ov.codec_context.sample_aspect_ratio = squeeze
            if display_deg:
                ov.set_display_rotation(display_deg)
            oa = o.add_stream("aac", rate=a_in.rate)
            _encode(o, ov, frames)
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
    assert display_facts(phone).rotation_deg == display_deg % 360
    assert display_facts(wide).rotation_deg == 0
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


def _moving_bar(t: float, width: int = 320, height: int = 256) -> np.ndarray:
    """A bright bar moving 6 px per field period across a grey ramp."""
    img = np.tile(np.linspace(40, 200, width, dtype=np.float32)[None, :, None], (height, 1, 3))
    x = int(40 + 6 * t)
    img[:, x : x + 30] = 250
    return img.astype(np.uint8)


def _combing(rgb: np.ndarray) -> float:
    """Mean |line - mean of its neighbours|: large where two fields of a moving edge interleave."""
    g = rgb.astype(np.float32).mean(axis=2)
    return float(np.abs(g[1:-1] - 0.5 * (g[:-2] + g[2:])).mean())


def test_interlaced_frames_are_deinterlaced(tmp_path):
    """Fields of two instants (odd lines at 2k, even lines at 2k + 1 field periods) woven into
    each frame and coded as interlaced H.264: tfqa deinterlaces them and keeps the first field."""
    n = 30
    woven = [_weave(_moving_bar(2 * k), _moving_bar(2 * k + 1)) for k in range(n)]
    clips = {
        name: write_clip(tmp_path / f"{name}.mp4", woven, 25, None, 16000, interlaced=interlaced)
        for name, interlaced in (("interlaced", True), ("progressive", False))
    }
    assert display_facts(clips["interlaced"]).interlaced
    assert not display_facts(clips["progressive"]).interlaced

    stream = FrameStream(clips["interlaced"])
    frames = list(stream)
    assert stream.interlaced and stream.n_decoded == n and stream.n_grid == n
    assert [g.grid.start for g in frames] == list(range(n))  # timing kept (1-frame filter delay)
    raw = list(FrameStream(clips["progressive"]))  # the same woven pictures, left as they are
    comb_raw = np.median([_combing(g.rgb) for g in raw])
    comb_out = np.median([_combing(g.rgb) for g in frames])
    assert comb_raw > 2.0 and comb_out < 0.1 * comb_raw

    # the first field is kept and the other one interpolated: the picture is the scene at 2k
    # (codec noise and interpolation only); the second field's scene is 6 px away
    def error(frames, field):
        return np.mean([np.abs(g.rgb.astype(float) - _moving_bar(2 * k + field)).mean()
                        for k, g in enumerate(frames)])  # fmt: skip

    assert error(frames, 0) < 1.0 and error(frames, 1) > 3 * error(frames, 0)


def test_the_pipeline_deinterlaces_and_says_so(wide, tmp_path, feature_cache):
    import json

    from typer.testing import CliRunner

    from tfqa.cli import app
    from tfqa.features.pipeline import FeaturePipeline

    woven = _store_turned(wide, tmp_path / "tv.mp4", 0, 0, interlace=True)
    pipe = FeaturePipeline(cache=feature_cache, workers=1)
    feats, ref = pipe.extract(woven), pipe.extract(wide)
    assert feats.info.interlaced and not ref.info.interlaced
    assert feats.digests["video"].endswith("@deint")  # cached apart from a combed decode
    assert any("interlaced" in w for w in feats.warnings)
    assert not any("interlaced" in w for w in ref.warnings)
    cover = feats.blocks["face"].sequences["present"][:, 0].mean()
    assert cover == pytest.approx(ref.blocks["face"].sequences["present"][:, 0].mean(), abs=0.05)
    mouth, mouth_ref = (f.blocks["face"].sequences["mouth"][:, 0] for f in (feats, ref))
    assert np.corrcoef(mouth, mouth_ref)[0, 1] > 0.9
    res = CliRunner().invoke(app, ["info", str(woven)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["interlaced"] is True
