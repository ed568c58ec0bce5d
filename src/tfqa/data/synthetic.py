"""Synthetic feature sets with known labels, for tests, benchmarks and sanity checks.

Each clip has a latent quality vector ``q`` (five values in [-1, 1], one per
task).  Every modality's frames are ``q`` projected into that modality's
feature space through a fixed random matrix, plus per-frame noise, with a few
NaN (a lost face) sprinkled in.  The labels are a known function of ``q``:

    label_k = 3 + 1.8 * q_k          (so labels lie in [1.2, 4.8])

A model that reads the features can therefore recover every label; the tests
use this to check that training reaches a high held-out correlation.  Which
modalities carry which task is chosen so that no single modality suffices:
lip sync in keypoints + sync, expression in AUs + keypoints, audio quality in
audio, cross-modal in audio + keypoints, overall in visual + all.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tfqa.data.manifest import TASKS
from tfqa.data.store import FeatureSet

THESIS_DIMS = {"visual": 2048, "audio": 768, "keypoints": 1404, "au": 17, "sync": 4, "clip": 21}
SMALL_DIMS = {"visual": 24, "audio": 32, "keypoints": 48, "au": 17, "sync": 4, "clip": 21}

# Which tasks' latents drive each modality (task indices into TASKS).
CARRIERS = {
    "visual": (4,),
    "audio": (2, 3, 4),
    "keypoints": (0, 1, 3),
    "au": (1,),
    "sync": (0,),
    "clip": (0, 2, 4),
}


def labels_of(q: np.ndarray) -> np.ndarray:
    """The known label function: ``(N, 5)`` latents in [-1, 1] → labels in [1.2, 4.8]."""
    return (3.0 + 1.8 * q).astype(np.float32)


def make_synthetic(
    n_clips: int,
    n_frames: int | tuple[int, int] = 150,
    dims: Mapping[str, int] = SMALL_DIMS,
    *,
    n_groups: int | None = None,
    noise: float = 0.5,
    nan_rate: float = 0.02,
    seed: int = 0,
) -> FeatureSet:
    """A :class:`FeatureSet` of synthetic clips with labels ``labels_of(q)``.

    Args:
        n_clips: number of clips.
        n_frames: frames per clip, or a ``(min, max)`` range drawn per clip.
        dims: feature dims per modality (``visual`` ... ``sync``, ``clip``).
        n_groups: identities (clips are dealt round-robin); default one per 4 clips.
        noise: per-frame noise std relative to the signal.
        nan_rate: share of frames whose keypoints/AUs/visual are NaN (lost face).
        seed: everything is a function of it.
    """
    rng = np.random.default_rng(seed)
    proj = {
        k: rng.standard_normal((len(CARRIERS[k]), d)).astype(np.float32) for k, d in dims.items()
    }
    q = rng.uniform(-1, 1, size=(n_clips, len(TASKS))).astype(np.float32)
    n_groups = n_groups or max(1, n_clips // 4)
    clips = [_clip(q[i], proj, n_frames, noise, nan_rate, rng) for i in range(n_clips)]
    contract = {
        "dims": dict(dims),
        "columns": {k: [f"{k}_{j}" for j in range(d)] for k, d in dims.items()},
        "rate_hz": 25,
    }
    return FeatureSet(
        clips=clips,
        labels=labels_of(q),
        videos=[f"synthetic_{i:05d}.mp4" for i in range(n_clips)],
        groups=[f"g{i % n_groups:04d}" for i in range(n_clips)],
        contract=contract,
    )


def _clip(q, proj, n_frames, noise, nan_rate, rng) -> dict[str, np.ndarray]:
    n = n_frames if isinstance(n_frames, int) else int(rng.integers(n_frames[0], n_frames[1] + 1))
    out: dict[str, np.ndarray] = {}
    for k, w in proj.items():
        signal = q[list(CARRIERS[k])] @ w
        if k == "clip":
            out[k] = signal + noise * 0.2 * rng.standard_normal(w.shape[1]).astype(np.float32)
            continue
        out[k] = signal + noise * rng.standard_normal((n, w.shape[1])).astype(np.float32)
    lost = rng.random(n) < nan_rate
    for k in ("visual", "keypoints", "au"):
        out[k][lost] = np.nan
    out["mask"] = (~lost).astype(np.float32)
    return {k: v.astype(np.float32) for k, v in out.items()}
