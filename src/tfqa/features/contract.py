"""The feature contract between extraction and the learned model.

Whatever backend produced them (the embedded offline extractors, or the
thesis backends: ResNet101, HuBERT, OpenFace, SyncNet), the model reads per
clip:

=============  ===========  ==========================================================
key            shape        source
=============  ===========  ==========================================================
``visual``     (T, D_v)     ``visual`` block (the speaking face's visual-quality track)
``audio``      (T, D_a)     ``audio`` block, ``audio`` sequence
``keypoints``  (T, 1404)    ``face`` block, pose-normalised 468 x (x, y, z)
``au``         (T, 17)      ``action_units`` block, OpenFace-named AU intensities
``sync``       (T, D_s)     ``sync`` block, per-frame sync evidence
``clip``       (C,)         per-clip evidence (``CLIP_STATS``), NaN when unmeasured
``mask``       (T,)         1 where a face was tracked
=============  ===========  ==========================================================

T is the clip's 25 Hz analysis grid.  NaN marks missing values (a lost face);
preprocessing imputes them.  ``contract_of(feats)`` describes the dims and
column names, and is stored in every checkpoint so a model refuses features
of a different shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tfqa.features.pipeline import ClipFeatures

MODALITIES = ("visual", "audio", "keypoints", "au", "sync")

# Per-clip scalars fed to the model's statistical path (and shown as evidence).
CLIP_STATS = (
    "av_offset_ms",
    "sync_confidence",
    "sync_peak_corr",
    "dnsmos_sig",
    "dnsmos_bak",
    "dnsmos_ovrl",
    "dnsmos_p808",
    "snr_db",
    "clipping_ratio",
    "bandwidth_hz",
    "speech_ratio",
    "face_coverage",
    "frozen_ratio",
    "landmark_jitter",
    "head_motion_deg_s",
    "mouth_open_std",
    "blink_rate_per_min",
    "sharpness",
    "blockiness",
    "noise_sigma",
    "temporal_flicker",
)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or NaN-pad a (T, D) array to T = n (streams can differ by a frame)."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) >= n:
        return x[:n]
    pad = np.full((n - len(x), x.shape[1]), np.nan, dtype=np.float32)
    return np.concatenate([x, pad])


def model_arrays(feats: ClipFeatures) -> dict[str, np.ndarray]:
    """The arrays of the contract (see the module docstring) for one clip."""
    n = feats.n_frames
    stats = feats.stats()
    return {
        "visual": _fit(feats.blocks["visual"].sequences["visual"], n),
        "audio": _fit(feats.blocks["audio"].sequences["audio"], n),
        "keypoints": _fit(feats.blocks["face"].sequences["keypoints"], n),
        "au": _fit(feats.blocks["action_units"].sequences["au"], n),
        "sync": _fit(feats.blocks["sync"].sequences["sync"], n),
        "clip": np.array([stats.get(k, np.nan) for k in CLIP_STATS], dtype=np.float32),
        "mask": _fit(feats.blocks["face"].sequences["present"], n)[:, 0],
    }


def contract_of(feats: ClipFeatures) -> dict[str, Any]:
    """Dims and column names of ``model_arrays(feats)`` (stored in checkpoints)."""
    cols = {
        "visual": feats.blocks["visual"].columns.get("visual", []),
        "audio": feats.blocks["audio"].columns.get("audio", []),
        "keypoints": feats.blocks["face"].columns.get("keypoints", []),
        "au": feats.blocks["action_units"].columns.get("au", []),
        "sync": feats.blocks["sync"].columns.get("sync", []),
        "clip": list(CLIP_STATS),
    }
    return {"dims": {k: len(v) for k, v in cols.items()}, "columns": cols, "rate_hz": 25}
