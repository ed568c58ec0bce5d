"""Mouth-opening tracks: from phone targets or from audio, smoothed like a real jaw.

A track is a mouth opening in [0, 1] (0 = lips at rest/closed, 1 = a wide /a/)
sampled at :data:`CONTROL_RATE`; control sample ``k`` stands for the 5 ms block
centred at ``(k + 0.5) / CONTROL_RATE`` seconds.  :func:`frame_track` resamples
it to video frames.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

CONTROL_RATE = 200  # Hz: articulation and formant tracks are updated every 5 ms
# Real mouths move before the sound they shape (anticipatory coarticulation): lip
# opening for a vowel starts roughly one 40 ms video frame before its onset.
# A 15 ms shift plus the Gaussian below (sigma 20 ms) puts the start of the
# opening ~55 ms and its midpoint ~15 ms ahead of the acoustic onset.
ANTICIPATION_S = 0.015
COARTICULATION_SIGMA_S = 0.020  # s: jaw/lip inertia smooths phone-to-phone targets

# Audio-derived articulation (espeak-ng path).
_WINDOW_S = 0.025  # s: analysis window
_LEVEL_RANGE_DB = 30.0  # dB below the loud speech level at which the mouth is at rest
_VOICE_BAND_HZ = (300.0, 3000.0)  # where vowel energy lives
_F1_LOW_HZ, _F1_HIGH_HZ, _F1_TOP_HZ = 150.0, 500.0, 1100.0  # open vowels have F1 >= 500 Hz
_FRICATION_HZ = 3500.0  # energy above this with little below = a fricative (teeth close)


def smooth_articulation(targets: np.ndarray, rate: int = CONTROL_RATE) -> np.ndarray:
    """Turn step-wise opening targets into a smooth, slightly anticipating trajectory.

    Args:
        targets: ``(N,)`` opening targets in [0, 1] at ``rate`` Hz.
        rate: sample rate of ``targets`` in Hz.

    Returns:
        ``(N,)`` float32 track in [0, 1], shifted ``ANTICIPATION_S`` earlier.
    """
    targets = np.asarray(targets, np.float64)
    shift = int(round(ANTICIPATION_S * rate))
    if shift and len(targets) > shift:
        targets = np.concatenate([targets[shift:], np.repeat(targets[-1:], shift)])
    smooth = gaussian_filter1d(targets, COARTICULATION_SIGMA_S * rate, mode="nearest")
    return np.clip(smooth, 0.0, 1.0).astype(np.float32)


def frame_track(
    track: np.ndarray, fps: float, n_frames: int, rate: int = CONTROL_RATE
) -> np.ndarray:
    """Sample a control-rate track at the centre of each video frame's display interval.

    Frame ``i`` is shown during ``[i / fps, (i + 1) / fps)``, which is also the audio
    that plays under it, so its mouth is the track at ``(i + 0.5) / fps``.

    Returns:
        ``(n_frames,)`` float32.
    """
    t = (np.arange(n_frames) + 0.5) / fps
    return np.interp(t * rate - 0.5, np.arange(len(track)), track).astype(np.float32)


def articulation_from_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Estimate mouth-opening targets from speech audio (for voices without phone labels).

    Opening follows the loudness of the voice band, scaled by how much of the low
    spectrum sits at open-vowel F1 frequencies (/a/ opens wide, /i/ /u/ little)
    and reduced where frication dominates (/s/ /f/ are made with nearly closed teeth).

    Args:
        audio: ``(S,)`` mono float speech.
        sample_rate: in Hz, a multiple of ``CONTROL_RATE``.

    Returns:
        ``(ceil(S / hop),)`` unsmoothed targets in [0, 1] at ``CONTROL_RATE``; pass them
        through :func:`smooth_articulation`.
    """
    hop = sample_rate // CONTROL_RATE
    power, freqs = _power_spectrogram(np.asarray(audio, np.float64), sample_rate, hop)
    voice = _band(power, freqs, *_VOICE_BAND_HZ)
    level_db = 10 * np.log10(voice + 1e-12)
    loud_db = np.percentile(level_db, 95) if len(level_db) else 0.0
    loud = np.clip((level_db - (loud_db - _LEVEL_RANGE_DB)) / _LEVEL_RANGE_DB, 0.0, 1.0)
    low = _band(power, freqs, _F1_LOW_HZ, _F1_TOP_HZ) + 1e-12
    f1_open = np.clip((_band(power, freqs, _F1_HIGH_HZ, _F1_TOP_HZ) / low - 0.2) / 0.6, 0, 1)
    high = _band(power, freqs, _FRICATION_HZ, sample_rate / 2)
    frication = np.clip((high / (high + voice + 1e-12) - 0.3) / 0.4, 0.0, 1.0)
    return (loud * (0.3 + 0.7 * f1_open) * (1.0 - 0.7 * frication)).astype(np.float32)


def _power_spectrogram(x: np.ndarray, sample_rate: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, bins)`` power of Hann-windowed frames centred on each control block."""
    win = int(round(_WINDOW_S * sample_rate))
    n_fft = 1 << (win - 1).bit_length()
    n_frames = -(-len(x) // hop)
    pad = np.pad(x, (win // 2, win + n_frames * hop - len(x)))
    idx = (np.arange(n_frames) * hop + hop // 2)[:, None] + np.arange(win)[None, :]
    spec = np.fft.rfft(pad[idx] * np.hanning(win), n=n_fft, axis=1)
    return np.abs(spec) ** 2, np.fft.rfftfreq(n_fft, 1.0 / sample_rate)


def _band(power: np.ndarray, freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
