"""Encode clips (H.264 + AAC in MP4) with PyAV: used by the synthesiser and the benchmark builder."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

# x264's routines on an AVX-512 CPU: every AVX2-era one, none of the AVX-512 ones (x264_options)
X264_ASM_NO_AVX512 = "asm=AVX2,BMI2,LZCNT"


def x264_options(crf: int, preset: str, *, interlaced: bool = False) -> dict[str, str]:
    """libx264 options of tfqa's writers: ``crf``, ``preset``, and reproducible bytes.

    The same frames must always make the same file (a rebuilt benchmark is byte-identical;
    ``benchmarks/encoder_determinism.py`` measures both cases):

    - on CPUs with AVX-512, x264's AVX-512 routines did not (7 different files in 40 encodes of
      one 160x160 clip, even on one thread), so its AVX2 routines, which every such CPU has,
      are used instead; they were as fast;
    - interlaced coding (``interlaced``: field-coded H.264) did not on several threads even
      then (3 different files in 20 encodes), so it runs on one (as fast at 512x288).
    """
    opts = {"crf": str(crf), "preset": preset}
    if _has_avx512():
        opts["x264-params"] = X264_ASM_NO_AVX512
    if interlaced:
        opts.update(flags="+ilme+ildct", threads="1")
    return opts


@lru_cache(maxsize=1)
def _has_avx512() -> bool:
    """Whether the CPU has the AVX-512 subsets x264 uses (Linux; elsewhere False)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = set(next((ln for ln in text.splitlines() if ln.startswith("flags")), "").split())
    return {"avx512f", "avx512bw"} <= flags


def write_clip(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    audio: np.ndarray | None,
    sample_rate: int,
    *,
    crf: int = 20,
    preset: str = "veryfast",
    audio_bitrate: int = 128_000,
    audio_codec: str = "aac",
    interlaced: bool = False,
) -> Path:
    """Write RGB uint8 ``frames`` and mono float ``audio`` (in [-1, 1]) to ``path``.

    Frames are streamed to the encoder, so arbitrarily long clips use constant
    memory.  Both streams start at t = 0, so the A/V relation in the file is
    exactly the one in the arrays.  ``interlaced`` codes the frames as interlaced
    H.264 (libx264 takes the field order from each frame's flags, which PyAV leaves
    unset: bottom field first, as DV video is); weaving the fields is the caller's.
    Frames are cropped to even sizes (interlaced: a height divisible by 4).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError(f"Expected at least one frame for {path}, but got none")
    x = None if audio is None else np.clip(np.asarray(audio, np.float32).reshape(-1), -1.0, 1.0)
    with av.open(str(path), mode="w") as container:
        h, w = first.shape[:2]
        vstream = container.add_stream("libx264", rate=rate)
        # 4:2:0 needs even sizes; interlaced 4:2:0 (chroma per field) a height divisible by 4
        vstream.width, vstream.height = w - w % 2, h - h % (4 if interlaced else 2)
        vstream.pix_fmt = "yuv420p"
        vstream.options = x264_options(crf, preset, interlaced=interlaced)
        astream = None
        if x is not None:
            astream = container.add_stream(audio_codec, rate=sample_rate)
            astream.layout = "mono"
            if audio_bitrate:
                astream.bit_rate = audio_bitrate
        a_pos = 0
        for i, rgb in enumerate(_chain(first, it)):
            rgb = np.ascontiguousarray(rgb[: vstream.height, : vstream.width])
            container.mux(vstream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            if astream is not None:  # interleave: audio up to the end of this frame
                a_end = min(len(x), int(round((i + 1) / float(rate) * sample_rate)))
                a_pos = _mux_audio(container, astream, x, a_pos, a_end, sample_rate)
        container.mux(vstream.encode(None))
        if astream is not None:
            _mux_audio(container, astream, x, a_pos, len(x), sample_rate)
            container.mux(astream.encode(None))
    return path


def _chain(first, rest):
    yield first
    yield from rest


def _mux_audio(container, astream, x: np.ndarray, start: int, stop: int, sample_rate: int) -> int:
    if stop <= start:
        return start
    seg = x[start:stop]
    frame = av.AudioFrame.from_ndarray(seg[None, :], format="flt", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = start
    frame.time_base = Fraction(1, sample_rate)
    container.mux(astream.encode(frame))
    return stop
