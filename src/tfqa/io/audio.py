"""Decode a clip's audio track to 16 kHz mono, aligned to the first video frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from tfqa.errors import NoAudioStreamError
from tfqa.io.constants import SAMPLE_RATE
from tfqa.io.probe import open_container


@dataclass
class Audio:
    """Mono float32 samples at ``sample_rate``; sample 0 is at the first video frame's time."""

    samples: np.ndarray
    sample_rate: int
    start_offset_s: float  # audio stream start minus video start (already applied)
    truncated: bool = False
    # None: all channels mixed down; k: only channel k, because the mix cancelled (see below)
    channel: int | None = None

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def load_audio(
    path: str | Path, *, sample_rate: int = SAMPLE_RATE, video_start_s: float | None = None
) -> Audio:
    """Decode the first audio stream of ``path``.

    The stream's start time is honoured: if audio starts 0.2 s after the first
    video frame, 0.2 s of silence is prepended (dropping this is the classic
    bug that turns a +5-frame offset into +1).

    Channels are mixed down as FFmpeg does, unless the mix is more than
    ``CANCEL_DB`` quieter than the loudest channel: then the channels cancel (one
    was recorded or wired with inverted polarity) and the loudest channel alone is
    kept (``Audio.channel``).

    Args:
        path: media file.
        sample_rate: output rate in Hz.
        video_start_s: time of the first video frame; read from the file when None.
    """
    container = open_container(path)
    truncated = False
    try:
        if not container.streams.audio:
            raise NoAudioStreamError(
                "the file has no audio track",
                path=path,
                hint="Mux the speech into the video (tfqa needs both to judge lip sync)",
            )
        if video_start_s is None:
            video_start_s = _first_video_time(path)
        stream = container.streams.audio[0]
        mix = _Resampled("mono", sample_rate)
        # each channel too, to catch a mix that cancels (phase-inverted channels)
        apart = _Resampled(None, sample_rate) if stream.codec_context.channels > 1 else None
        first_time: float | None = None
        try:
            for frame in container.decode(stream):
                if first_time is None and frame.time is not None:
                    first_time = float(frame.time)
                for r in (mix, apart):
                    if r is not None:
                        r.add(frame)
        except av.error.InvalidDataError:
            truncated = True
    finally:
        container.close()
    samples, channel = mix.samples()[0], None
    if apart is not None:
        samples, channel = mixed_or_loudest(samples, apart.samples())
    offset = (first_time if first_time is not None else 0.0) - (video_start_s or 0.0)
    shift = int(round(offset * sample_rate))
    if shift > 0:
        samples = np.concatenate([np.zeros(shift, np.float32), samples])
    elif shift < 0:
        samples = samples[-shift:]
    return Audio(samples, sample_rate, offset, truncated, channel)


CANCEL_DB = 10.0  # a mix this much quieter than its loudest channel is cancelling


def mixed_or_loudest(mix: np.ndarray, channels: np.ndarray) -> tuple[np.ndarray, int | None]:
    """``(mix, None)``, or ``(channels[k], k)`` for the loudest channel k (the first within
    1 dB of the loudest) when ``mix`` is more than :data:`CANCEL_DB` below it.

    FFmpeg mixes stereo down with 1/sqrt(2) per channel: in-phase copies mix 3 dB above the
    channel, unrelated channels of equal power at its level and a dead channel 3 dB below the
    live one; only channels in opposite polarity fall far below.
    """
    n = min(len(mix), channels.shape[1])
    if n == 0:
        return mix, None
    power = np.mean(np.square(channels[:, :n], dtype=np.float64), axis=1)
    loudest = float(power.max())
    if loudest <= 0 or np.mean(np.square(mix[:n], dtype=np.float64)) >= loudest * 10 ** (
        -CANCEL_DB / 10
    ):
        return mix, None
    k = int(np.flatnonzero(power >= loudest * 10 ** (-0.1))[0])
    return np.ascontiguousarray(channels[k]), k


class _Resampled:
    """Frames resampled to float32 at ``rate`` (``layout`` None: the stream's own channels)."""

    def __init__(self, layout: str | None, rate: int) -> None:
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self.chunks: list[np.ndarray] = []

    def add(self, frame: av.AudioFrame | None) -> None:
        for out in self.resampler.resample(frame):
            self.chunks.append(out.to_ndarray())

    def samples(self) -> np.ndarray:
        """``(channels, n)`` float32, the resampler flushed."""
        self.add(None)
        if not self.chunks:
            return np.zeros((1, 0), np.float32)
        return np.concatenate(self.chunks, axis=1).astype(np.float32, copy=False)


def _first_video_time(path: str | Path) -> float:
    container = open_container(path)
    try:
        if not container.streams.video:
            return 0.0
        for frame in container.decode(container.streams.video[0]):
            if frame.pts is not None:
                return float(frame.pts * frame.time_base)
        return 0.0
    except av.error.InvalidDataError:
        return 0.0
    finally:
        container.close()
