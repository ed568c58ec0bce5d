"""Checks that a clip can be scored; each failure raises a typed error that says what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfqa.errors import ClipTooShortError, NoAudioStreamError, SilentAudioError
from tfqa.io.audio import Audio
from tfqa.io.constants import MIN_DURATION_S, VIDEO_EXTENSIONS
from tfqa.io.probe import MediaInfo, probe

SILENCE_DBFS = -60.0  # an audio track whose RMS stays below this everywhere carries no speech


def validate_media(path: str | Path, *, min_duration_s: float = MIN_DURATION_S) -> MediaInfo:
    """Probe ``path`` and refuse files that cannot be scored (before any decoding)."""
    info = probe(path)
    if not info.has_audio:
        raise NoAudioStreamError(
            "the file has no audio track",
            path=path,
            hint="Mux the speech into the video (tfqa needs both to judge lip sync)",
        )
    if 0 < info.duration_s < min_duration_s:
        raise ClipTooShortError(
            f"the clip lasts {info.duration_s:.2f} s; the analysis needs at least {min_duration_s:.1f} s",
            path=path,
            hint="Score a longer clip",
        )
    return info


def validate_audio(
    audio: Audio, path: str | Path, *, min_duration_s: float = MIN_DURATION_S
) -> None:
    """Refuse decoded audio that is too short or silent."""
    if audio.duration_s < min_duration_s:
        raise ClipTooShortError(
            f"the audio track lasts {audio.duration_s:.2f} s; the analysis needs at least {min_duration_s:.1f} s",
            path=path,
            hint="Score a clip with a longer audio track",
        )
    x = audio.samples
    frame = audio.sample_rate // 10
    n = len(x) // frame
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1) + 1e-20)
    peak_dbfs = 20 * np.log10(rms.max()) if n else -np.inf
    if peak_dbfs < SILENCE_DBFS:
        raise SilentAudioError(
            f"the audio track is silent (loudest 100 ms at {peak_dbfs:.0f} dBFS)",
            path=path,
            hint="Check that the speech was muxed into the video and is not muted",
        )


def expand_inputs(paths: list[str | Path]) -> list[Path]:
    """Expand folders to the videos inside them (recursively, sorted); keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                sorted(
                    f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS
                )
            )
        else:
            out.append(p)
    return out
