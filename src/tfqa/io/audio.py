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
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        first_time: float | None = None
        try:
            for frame in container.decode(stream):
                if first_time is None and frame.time is not None:
                    first_time = float(frame.time)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        except av.error.InvalidDataError:
            truncated = True
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    finally:
        container.close()
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    offset = (first_time if first_time is not None else 0.0) - (video_start_s or 0.0)
    shift = int(round(offset * sample_rate))
    if shift > 0:
        samples = np.concatenate([np.zeros(shift, np.float32), samples])
    elif shift < 0:
        samples = samples[-shift:]
    return Audio(samples, sample_rate, offset, truncated)


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
