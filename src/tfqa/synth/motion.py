"""Per-frame face motion that is not speech: blinks, natural head motion, jitter.

All tracks are sampled at the centre of each frame's display interval,
``(i + 0.5) / fps`` seconds, like the mouth track.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

BLINK_INTERVAL_S = (2.0, 6.0)  # time between blink onsets
FIRST_BLINK_S = (0.5, 3.0)
BLINK_DURATION_S = (0.15, 0.25)
BLINK_CLOSING_SHARE = 0.4  # lids close faster than they open

HEAD_ROLL_RMS_DEG = 1.0  # natural head roll at head_motion = 1 (peaks ~2-3 deg)
HEAD_SHIFT_RMS_REL = (0.03, 0.02)  # x, y sway in eye-corner distances (~2 px at 256 px)
HEAD_SWAY_HZ = (0.08, 0.5)  # slow sway frequencies
HEAD_SWAY_PARTIALS = 3
NOD_REL = 0.04  # speakers nod with their syllables: dy per unit of smoothed opening
NOD_SMOOTH_S = 0.12


def blink_schedule(duration_s: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Blink ``(start_s, duration_s)`` pairs: every 2-6 s, each 150-250 ms."""
    blinks = []
    t = rng.uniform(*FIRST_BLINK_S)
    while t < duration_s:
        blinks.append((float(t), float(rng.uniform(*BLINK_DURATION_S))))
        t += rng.uniform(*BLINK_INTERVAL_S)
    return blinks


def blink_track(blinks: list[tuple[float, float]], fps: float, n_frames: int) -> np.ndarray:
    """``(n_frames,)`` float32 lid closure in [0, 1] (1 = closed)."""
    t = (np.arange(n_frames) + 0.5) / fps
    closure = np.zeros(n_frames)
    for start, dur in blinks:
        closing = dur * BLINK_CLOSING_SHARE
        rise = _smoothstep((t - start) / closing)
        fall = _smoothstep((start + dur - t) / (dur - closing))
        closure = np.maximum(closure, np.minimum(rise, fall))
    return closure.astype(np.float32)


def head_track(
    n_frames: int,
    fps: float,
    scale: float,
    eye_distance_px: float,
    mouth: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Smooth random head motion plus small syllable nods.

    Args:
        n_frames: number of frames.
        fps: frame rate in Hz.
        scale: ``head_motion`` of the spec (0 = still).
        eye_distance_px: face scale in output pixels.
        mouth: ``(n_frames,)`` mouth opening that drives the nods.
        rng: randomness (drawn from even when ``scale`` is 0, so other tracks do not move).

    Returns:
        ``(n_frames, 3)`` float32: roll in degrees, dx and dy in pixels.
    """
    t = (np.arange(n_frames) + 0.5) / fps
    rms = (HEAD_ROLL_RMS_DEG, *(r * eye_distance_px for r in HEAD_SHIFT_RMS_REL))
    pose = np.stack([_sway(t, target, rng) for target in rms], axis=1)
    nod = gaussian_filter1d(mouth.astype(np.float64), NOD_SMOOTH_S * fps, mode="nearest")
    pose[:, 2] += NOD_REL * eye_distance_px * (nod - nod.mean())
    return (scale * pose).astype(np.float32)


def jitter_track(n_frames: int, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """``(n_frames, 2)`` float32 independent per-frame shifts, standard deviation ``sigma_px``."""
    return (sigma_px * rng.standard_normal((n_frames, 2))).astype(np.float32)


def _sway(t: np.ndarray, rms: float, rng: np.random.Generator) -> np.ndarray:
    """A sum of slow sinusoids with random frequencies and phases, RMS ``rms``."""
    freqs = rng.uniform(*HEAD_SWAY_HZ, HEAD_SWAY_PARTIALS)
    phases = rng.uniform(0, 2 * np.pi, HEAD_SWAY_PARTIALS)
    weights = rng.uniform(0.5, 1.0, HEAD_SWAY_PARTIALS)
    amps = weights * rms * np.sqrt(2.0 / np.sum(weights**2))  # RMS of the sum = rms
    return (amps * np.sin(2 * np.pi * freqs * t[:, None] + phases)).sum(axis=1)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)
