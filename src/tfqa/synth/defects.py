"""Defects with known sizes: audio offset, noise at an SNR, clipping; frozen and dropped frames.

Each function returns the degraded signal and the *measured* size of what it
did, which goes into the clip's ``truth``.
"""

from __future__ import annotations

import numpy as np

HEADROOM_PEAK = 0.99  # louder mixes are scaled down (SNR kept) so that nothing clips by accident


def shift_audio(audio: np.ndarray, offset_ms: float, sample_rate: int) -> tuple[np.ndarray, int]:
    """Delay (positive) or advance (negative) ``audio`` by ``offset_ms``, keeping its length.

    A positive offset means the audio lags the video: ``round(offset_ms * sr / 1000)``
    samples of silence are prepended and as many dropped from the end.

    Returns:
        The shifted ``(S,)`` float32 audio and the exact shift in samples.
    """
    n = int(round(offset_ms * sample_rate / 1000.0))
    out = np.zeros_like(audio)
    if n >= 0:
        out[n:] = audio[: len(audio) - n]
    else:
        out[: len(audio) + n] = audio[-n:]
    return out, n


def noise_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, float]:
    """Scale ``noise`` so that ``10 log10(P_speech / P_noise) == snr_db`` over the whole clip.

    Returns:
        The scaled noise and the SNR it gives in dB (equal to ``snr_db`` up to float error).
    """
    p_speech = float(np.mean(np.square(speech, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_speech == 0.0 or p_noise == 0.0:
        raise ValueError("Expected non-silent speech and noise to set an SNR, but one is silent")
    gain = np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    scaled = (noise * gain).astype(np.float32)
    return scaled, measured_snr_db(speech, scaled)


def measured_snr_db(speech: np.ndarray, noise: np.ndarray) -> float:
    """``10 log10`` of the mean-power ratio of two signals."""
    p_speech = np.mean(np.square(speech, dtype=np.float64))
    p_noise = np.mean(np.square(noise, dtype=np.float64))
    return float(10 * np.log10(p_speech / p_noise))


def clip_fraction(audio: np.ndarray, fraction: float) -> tuple[np.ndarray, float, float]:
    """Amplify ``audio`` until ``fraction`` of its samples reach +-1, then hard-clip.

    The gain is ``1 / q`` with ``q`` the ``1 - fraction`` quantile of ``|audio|``, so
    ``fraction`` of the samples (ties aside) land at or beyond full scale.

    Returns:
        ``(clipped audio, gain, measured fraction of samples at +-1)``.
    """
    level = float(np.quantile(np.abs(audio), 1.0 - fraction))
    gain = 1.0 / level if level > 0 else 1.0
    out = np.clip(audio.astype(np.float64) * gain, -1.0, 1.0).astype(np.float32)
    return out, gain, full_scale_fraction(out)


def full_scale_fraction(audio: np.ndarray) -> float:
    """Share of samples at +-1 (within float32 rounding)."""
    return float(np.mean(np.abs(audio) >= 1.0 - 1e-6)) if len(audio) else 0.0


def keep_headroom(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """Scale down a mix whose peak exceeds ``HEADROOM_PEAK``; returns it and the gain used."""
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    gain = HEADROOM_PEAK / peak if peak > HEADROOM_PEAK else 1.0
    return (audio * gain).astype(np.float32), gain


def frame_schedule(
    n_frames: int,
    frozen_from: float | None,
    dropped: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, int | None, list[int]]:
    """Which rendered frame each output frame shows.

    Args:
        n_frames: number of output frames.
        frozen_from: fraction of the clip after which the picture freezes, or None.
        dropped: fraction of frames replaced by their predecessor.
        rng: picks the dropped frames.

    Returns:
        ``(source, frozen_frame, dropped_frames)``: ``source[i]`` is the rendered frame
        shown at output frame ``i`` (non-decreasing); from ``frozen_frame`` on every
        frame shows frame ``frozen_frame``; ``dropped_frames`` are the output frames
        that repeat their predecessor (chosen among frames before the freeze).
    """
    source = np.arange(n_frames)
    frozen = None
    if frozen_from is not None:
        frozen = min(n_frames - 1, int(round(frozen_from * n_frames)))
        source[frozen:] = frozen
    end = frozen if frozen is not None else n_frames
    candidates = np.arange(1, end)
    count = min(len(candidates), int(round(dropped * n_frames)))
    chosen = np.sort(rng.choice(candidates, size=count, replace=False)) if count else []
    for i in chosen:  # ascending, so runs of drops repeat the last shown frame
        source[i] = source[i - 1]
    return source, frozen, [int(i) for i in chosen]


def freeze_track(track: np.ndarray, frozen_from: float | None) -> tuple[np.ndarray, int | None]:
    """Hold ``track`` at its value at ``round(frozen_from * n)`` from there on."""
    if frozen_from is None:
        return track, None
    k = min(len(track) - 1, int(round(frozen_from * len(track))))
    out = track.copy()
    out[k:] = track[k]
    return out, k
