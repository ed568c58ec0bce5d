"""Write a variant: re-encode only the streams a degradation changed, copy the others.

A stream that is copied packet by packet from the prepared clip keeps its
codec parameters, payloads and timestamps, so
:func:`tfqa.features.cache.stream_digests` gives it the prepared clip's digest
and every feature computed from that stream alone is a cache hit: an audio
defect does not re-run the face mesh, a picture defect does not re-run DNSMOS.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tfqa.io.constants import ANALYSIS_RATE, SAMPLE_RATE
from tfqa.io.writer import x264_options

AUDIO_BITRATE = 128_000  # AAC bits/s, as tfqa.io.writer.write_clip uses for prepared clips
X264_PRESET = "veryfast"  # as tfqa.io.writer.write_clip: same encoder for prepared and variants
AUDIO_CHUNK = 1024  # samples per encoded audio frame (one AAC frame)


def mux_variant(
    prepared: str | Path,
    out: str | Path,
    *,
    frames: np.ndarray | None = None,
    audio: np.ndarray | None = None,
    crf: int = 18,
) -> Path:
    """Write ``out`` from ``prepared`` with new ``frames`` and/or ``audio``.

    Args:
        prepared: the prepared clip (25 fps H.264 + 16 kHz AAC).
        out: the ``.mp4`` to write.
        frames: ``(T, H, W, 3)`` uint8 to encode with x264 at ``crf``; None copies the video.
        audio: ``(S,)`` float in [-1, 1] at 16 kHz to encode as AAC; None copies the audio.
        crf: x264 constant rate factor for new frames.
    """
    with av.open(str(out), mode="w") as dst:
        sources = []
        if frames is None:
            sources.append(_copied(dst, prepared, "video"))
        else:
            sources.append(_encoded_video(dst, frames, crf))
        if audio is None:
            sources.append(_copied(dst, prepared, "audio"))
        else:
            sources.append(_encoded_audio(dst, audio))
        # streams were added above (generators started); now interleave their packets by time
        for _, _, packet in heapq.merge(*(_timed(s) for s in sources)):
            dst.mux(packet)
    return Path(out)


_seq = itertools.count()


def _timed(packets: Iterator[av.Packet]) -> Iterator[tuple[float, int, av.Packet]]:
    for p in packets:
        t = float(p.dts * p.time_base) if p.dts is not None else 0.0
        yield t, next(_seq), p


def _copied(dst, path: str | Path, kind: str) -> Iterator[av.Packet]:
    inp = av.open(str(path))
    stream = inp.streams.video[0] if kind == "video" else inp.streams.audio[0]
    out_stream = dst.add_stream_from_template(stream)

    def gen() -> Iterator[av.Packet]:
        try:
            for packet in inp.demux(stream):
                if packet.dts is None:  # the demuxer's end-of-stream flush packet
                    continue
                packet.stream = out_stream
                yield packet
        finally:
            inp.close()

    return gen()


def _encoded_video(dst, frames: np.ndarray, crf: int) -> Iterator[av.Packet]:
    stream = dst.add_stream("libx264", rate=Fraction(ANALYSIS_RATE))
    h, w = frames.shape[1:3]
    stream.width, stream.height = w - w % 2, h - h % 2
    stream.pix_fmt = "yuv420p"
    stream.options = x264_options(crf, X264_PRESET)

    def gen() -> Iterator[av.Packet]:
        for rgb in frames:
            rgb = np.ascontiguousarray(rgb[: stream.height, : stream.width])
            yield from stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
        yield from stream.encode(None)

    return gen()


def _encoded_audio(dst, audio: np.ndarray) -> Iterator[av.Packet]:
    stream = dst.add_stream("aac", rate=SAMPLE_RATE)
    stream.layout = "mono"
    stream.bit_rate = AUDIO_BITRATE
    x = np.clip(np.asarray(audio, np.float32).reshape(-1), -1.0, 1.0)

    def gen() -> Iterator[av.Packet]:
        for start in range(0, len(x), AUDIO_CHUNK):
            frame = av.AudioFrame.from_ndarray(
                x[None, start : start + AUDIO_CHUNK], format="flt", layout="mono"
            )
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start
            frame.time_base = Fraction(1, SAMPLE_RATE)
            yield from stream.encode(frame)
        yield from stream.encode(None)

    return gen()
