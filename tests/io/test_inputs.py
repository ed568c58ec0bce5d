"""Every bad input of issue 2 gives its typed error, naming the file, the problem and what to do."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from tfqa import errors
from tfqa.features.pipeline import FeaturePipeline
from tfqa.io import load_audio, probe, validate_media
from tfqa.io.writer import write_clip

SR = 16_000


def _speechy(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    env = 0.5 * (1 + np.sin(2 * np.pi * 3 * t)) ** 2
    return (0.2 * env * np.sin(2 * np.pi * 150 * t) + 0.01 * rng.standard_normal(len(t))).astype(
        np.float32
    )


def _frames(n: int, size: int = 128, value: int = 90):
    for i in range(n):
        yield np.full((size, size, 3), (value + i) % 255, np.uint8)


def _assert_message(exc: errors.TfqaError, path, *words):
    msg = str(exc)
    assert str(path) in msg
    for w in words:
        assert w in msg.lower()
    assert exc.hint, "every input error says what to do"


def test_missing_file(tmp_path):
    p = tmp_path / "nope.mp4"
    with pytest.raises(errors.FileMissingError) as ei:
        probe(p)
    _assert_message(ei.value, p, "not found")


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    with pytest.raises(errors.EmptyFileError) as ei:
        probe(p)
    _assert_message(ei.value, p, "empty", "0 bytes")


def test_not_a_video(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("these are meeting notes, not a video\n" * 50)
    with pytest.raises(errors.NotAVideoError) as ei:
        probe(p)
    _assert_message(ei.value, p, "not a readable video")


def test_truncated_file(tmp_path, synth_clip):
    src = synth_clip("clean")
    p = tmp_path / "cut.mp4"
    p.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(errors.TruncatedFileError) as ei:
        probe(p)
    _assert_message(ei.value, p, "truncated")


def test_no_video_stream(tmp_path):
    p = tmp_path / "speech.m4a"
    with av.open(str(p), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=SR)
        s.layout = "mono"
        x = _speechy(2.0)
        frame = av.AudioFrame.from_ndarray(x[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SR, 0, Fraction(1, SR)
        c.mux(s.encode(frame))
        c.mux(s.encode(None))
    with pytest.raises(errors.NoVideoStreamError) as ei:
        probe(p)
    _assert_message(ei.value, p, "no video stream")


def test_no_audio_stream(tmp_path):
    p = write_clip(tmp_path / "mute.mp4", _frames(50), 25, None, SR)
    assert probe(p).has_audio is False
    with pytest.raises(errors.NoAudioStreamError) as ei:
        validate_media(p)
    _assert_message(ei.value, p, "no audio")


def test_silent_audio(tmp_path, synth_clip):
    from tfqa.io import FrameStream

    frames = [g.rgb for g in FrameStream(synth_clip("clean"))][:75]
    p = write_clip(tmp_path / "silent.mp4", frames, 25, np.zeros(3 * SR, np.float32), SR)
    with pytest.raises(errors.SilentAudioError) as ei:
        FeaturePipeline(cache=False).extract(p)
    _assert_message(ei.value, p, "silent")


def test_too_short(tmp_path):
    p = write_clip(tmp_path / "blip.mp4", _frames(12), 25, _speechy(0.5), SR)
    with pytest.raises(errors.ClipTooShortError) as ei:
        validate_media(p)
    _assert_message(ei.value, p, "at least")


def test_no_face(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for _ in range(50)]
    p = write_clip(tmp_path / "noface.mp4", frames, 25, _speechy(2.0), SR)
    with pytest.raises(errors.NoFaceError) as ei:
        FeaturePipeline(["face_mesh", "face"], cache=False).extract(p)
    _assert_message(ei.value, p, "no face")


def test_audio_start_time_is_honoured(tmp_path):
    """Audio muxed 0.2 s after the video starts is padded with 0.2 s of silence."""
    x = _speechy(2.0)
    p = tmp_path / "late.mp4"
    with av.open(str(p), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width = v.height = 64
        v.pix_fmt = "yuv420p"
        a = c.add_stream("aac", rate=SR)
        a.layout = "mono"
        for i, rgb in enumerate(_frames(75, 64)):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            c.mux(v.encode(f))
        c.mux(v.encode(None))
        frame = av.AudioFrame.from_ndarray(x[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.time_base = SR, Fraction(1, SR)
        frame.pts = int(0.2 * SR)
        c.mux(a.encode(frame))
        c.mux(a.encode(None))
    audio = load_audio(p)
    lead = np.flatnonzero(np.abs(audio.samples) > 0.02)[0] / SR
    # the decoded stream may start earlier (AAC priming samples); the speech itself must land at 0.2 s
    assert audio.start_offset_s <= 0.2 + 1e-3
    assert lead == pytest.approx(0.2, abs=0.03)


def test_mixed_or_loudest_known_answers():
    from tfqa.io.audio import mixed_or_loudest

    rng = np.random.default_rng(0)
    s, u = rng.normal(0, 0.1, (2, 16000)).astype(np.float32)

    def ffmpeg_mix(ch):  # FFmpeg's stereo -> mono matrix: 1/sqrt(2) per channel
        return (ch[0] + ch[1]) / np.sqrt(2)

    for ch, expect in (
        (np.stack([s, s]), None),  # in phase: +3 dB
        (np.stack([s, u]), None),  # unrelated: 0 dB
        (np.stack([s, 0 * s]), None),  # one dead channel: -3 dB
        (np.stack([s, -s]), 0),  # opposite polarity: cancels; the first of equals is kept
        (np.stack([0.8 * s, -s]), 1),  # mostly cancels (-17 dB): the louder one is kept
        (np.stack([0.5 * s, -s]), None),  # -9 dB: kept as mixed
    ):
        out, k = mixed_or_loudest(ffmpeg_mix(ch), ch)
        assert k == expect
        np.testing.assert_array_equal(out, ffmpeg_mix(ch) if k is None else ch[k])


def test_phase_inverted_stereo_is_scored_on_one_channel(tmp_path, synth_clip):
    """Speech on the left and its negative on the right cancels in a mono mix (silent-audio
    error before); tfqa keeps one channel, says so and keys the cache apart."""
    from tfqa.io import FrameStream

    src = synth_clip("clean")
    frames = [g.rgb for g in FrameStream(src)][:75]
    x = load_audio(src).samples[: 3 * SR]
    p = tmp_path / "inverted.mp4"
    with av.open(str(p), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        a = c.add_stream("aac", rate=SR)
        a.layout = "stereo"
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            c.mux(v.encode(f))
        c.mux(v.encode(None))
        frame = av.AudioFrame.from_ndarray(np.stack([x, -x]), format="fltp", layout="stereo")
        frame.sample_rate, frame.time_base, frame.pts = SR, Fraction(1, SR), 0
        c.mux(a.encode(frame))
        c.mux(a.encode(None))
    audio = load_audio(p)
    assert audio.channel in (0, 1)
    n = min(len(x), len(audio.samples))
    sign = 1 if audio.channel == 0 else -1
    assert np.corrcoef(sign * audio.samples[:n], x[:n])[0, 1] > 0.95  # the speech itself
    feats = FeaturePipeline(["audio"], cache=False).extract(p)
    assert feats.digests["audio"].endswith(f"@ch{audio.channel}")
    assert any("inverted polarity" in w for w in feats.warnings)


def test_surround_dialogue_in_the_centre_channel_is_mixed_not_picked(tmp_path, synth_clip):
    """A 5.1 track with the dialogue in the centre channel (as films carry it) and quiet,
    unrelated ambience in the front pair: FFmpeg's downmix keeps the speech, so no channel
    is picked and the mono samples follow the dialogue."""
    src = synth_clip("clean")
    x = load_audio(src).samples[: 3 * SR]
    rng = np.random.default_rng(0)
    ambience = rng.normal(0, 0.1 * np.std(x), (2, len(x))).astype(np.float32)  # -20 dB
    ch = np.zeros((6, len(x)), np.float32)  # FL FR FC LFE BL BR
    ch[0], ch[1], ch[2] = ambience[0], ambience[1], x
    p = tmp_path / "surround.m4a"
    with av.open(str(p), "w") as c:
        a = c.add_stream("aac", rate=SR)
        a.layout = "5.1"
        frame = av.AudioFrame.from_ndarray(ch, format="fltp", layout="5.1")
        frame.sample_rate, frame.time_base, frame.pts = SR, Fraction(1, SR), 0
        c.mux(a.encode(frame))
        c.mux(a.encode(None))
    with av.open(str(p)) as c:
        assert c.streams.audio[0].codec_context.channels == 6
    audio = load_audio(p)
    assert audio.channel is None
    n = min(len(x), len(audio.samples))
    lag = int(np.argmax(np.correlate(audio.samples[:n], x[: n - 4096], "valid")))
    assert np.corrcoef(audio.samples[lag : lag + n - 4096], x[: n - 4096])[0, 1] > 0.95
