"""Zero-shot calibrations: documented, monotone maps from evidence to the 1-5 scale.

Each rule is a piecewise-linear curve through *anchors* ``(evidence value,
score)``; between anchors the score is interpolated, beyond them it is held.
Anchors come from published perceptual facts where those exist, and
otherwise from where the measure sits on genuine talking-face recordings
(the 41 real clips of ../shared/data/clips: a value typical of real footage
scores 5, the value a known defect produces scores low).  Every rule is
monotone by construction and unit-tested for it.

Sub-scores are combined with a *soft minimum* (power mean with a negative
exponent) so that one bad aspect pulls a score down and cannot be averaged
away (a lip-synced clip with a frozen face still has a poor expression score).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MIN_SCORE, MAX_SCORE = 1.0, 5.0


@dataclass(frozen=True)
class Rule:
    """A monotone piecewise-linear map from one evidence value to a 1-5 sub-score."""

    evidence: str
    anchors: tuple[tuple[float, float], ...]
    source: str

    def __post_init__(self) -> None:
        xs = [a for a, _ in self.anchors]
        ys = [b for _, b in self.anchors]
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError(
                f"Expected increasing anchor positions for `{self.evidence}`, got {xs}"
            )
        diffs = np.diff(ys)
        if not (np.all(diffs >= 0) or np.all(diffs <= 0)):
            raise ValueError(f"Expected monotone anchor scores for `{self.evidence}`, got {ys}")

    def __call__(self, value: float) -> float:
        if value is None or not np.isfinite(value):
            return float("nan")
        xs, ys = zip(*self.anchors, strict=True)
        return float(np.interp(value, xs, ys))


DIMENSION_P = -8.0  # sub-scores -> a dimension: close to the minimum (one bad aspect decides)
OVERALL_P = -2.0  # dimensions -> overall: the worst dominates, the others still count


def soft_min(
    scores: Sequence[float], weights: Sequence[float] | None = None, p: float = DIMENSION_P
) -> float:
    """Weighted power mean with exponent ``p < 0`` of the finite scores (NaN if none).

    p = -inf would be the plain minimum; p = -8 gives [2, 5, 5] -> 2.3, so the
    worst sub-score decides while the others still move the result.
    """
    s = np.asarray(scores, dtype=float)
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(s) & (w > 0)
    if not ok.any():
        return float("nan")
    s, w = np.clip(s[ok], MIN_SCORE, MAX_SCORE), w[ok] / w[ok].sum()
    return float(np.clip((w * s**p).sum() ** (1.0 / p), MIN_SCORE, MAX_SCORE))


# ---------------------------------------------------------------------------------------
# lip sync

# ITU-R BT.1359-1 (1998): desync becomes *detectable* at 45 ms audio lead / 125 ms
# audio lag and *unacceptable* at 90 ms lead / 185 ms lag (broadcast, subjective tests).
# Our sign: offset > 0 = audio lags the video; offset < 0 = audio leads.
OFFSET_LAG = Rule(
    "av_offset_ms (audio lag)",
    ((40.0, 5.0), (125.0, 4.0), (185.0, 3.0), (300.0, 2.0), (500.0, 1.0)),
    "ITU-R BT.1359-1: detectability +125 ms lag (4), acceptability +185 ms (3); within one 25 fps frame (40 ms) scores 5",
)
OFFSET_LEAD = Rule(
    "-av_offset_ms (audio lead)",
    ((20.0, 5.0), (45.0, 4.0), (90.0, 3.0), (200.0, 2.0), (400.0, 1.0)),
    "ITU-R BT.1359-1: detectability 45 ms lead (4), acceptability 90 ms (3); audio lead is noticed ~3x sooner than lag",
)


def offset_score(offset_ms: float) -> float:
    if offset_ms is None or not np.isfinite(offset_ms):
        return float("nan")
    return OFFSET_LAG(offset_ms) if offset_ms >= 0 else OFFSET_LEAD(-offset_ms)


# How strongly the mouth follows the speech: the sync confidence (peak of the audio-to-mouth
# lag curve above its median).  Unrelated audio (another utterance) gives p5 0.06 / p50 0.19 on
# 5-25 s clips; genuine recordings p5 0.26 / p50 0.45 -- measured by scripts/calibrate_zero_shot.py
# (2026-11-26, with the sync model trained in rooms).
SYNC_CONFIDENCE = Rule(
    "sync_confidence",
    ((0.1, 1.0), (0.17, 2.0), (0.24, 3.0), (0.3, 4.0), (0.36, 5.0)),
    "real clips p5 0.26 / p50 0.45; mismatched audio (null) p5 0.06 / p50 0.19 -> 2.3",
)
# Articulation: std of the inner-lip opening (inter-ocular units).  Real speakers 0.02-0.06;
# a frozen or barely moving mouth under clear speech is poor lip sync (SPEC).
ARTICULATION = Rule(
    "mouth_open_std",
    ((0.005, 1.0), (0.01, 2.0), (0.016, 3.0), (0.024, 4.0), (0.034, 5.0)),
    "real clips p5 0.032 (-> 4.8) / p50 0.045 (-> 5); a still mouth ~0.002 -> 1",
)

# ---------------------------------------------------------------------------------------
# expression

FROZEN = Rule(
    "frozen_ratio",
    ((0.05, 5.0), (0.15, 4.0), (0.3, 3.0), (0.55, 2.0), (0.85, 1.0)),
    "share of decoded frames whose landmarks do not move at all; real clips 0 (MediaPipe jitters >=1.5e-3 on a still face)",
)
JITTER = Rule(
    "landmark_jitter",
    ((0.011, 5.0), (0.016, 4.0), (0.022, 3.0), (0.035, 2.0), (0.06, 1.0)),
    "median frame-to-frame acceleration of the aligned landmarks (inter-ocular units); real clips p50 0.0076 / p95 0.011",
)
# Spontaneous blink rate: 17/min at rest, 26/min in conversation, 4.5/min reading
# (Bentivoglio et al., Mov. Disord. 1997).  No blink for a long clip looks uncanny.
BLINK_LOW = Rule(
    "blink_rate_per_min",
    ((0.0, 3.0), (3.0, 4.0), (6.0, 5.0)),
    "Bentivoglio et al. 1997: conversation ~26/min, rest ~17/min; < 3/min is rare in talking people",
)
BLINK_MIN_DURATION_S = 15.0  # shorter clips can lack blinks by chance
BLINK_HIGH = Rule(
    "blink_rate_per_min",
    ((60.0, 5.0), (90.0, 3.0), (120.0, 2.0)),
    "far above the 26/min of conversation (Bentivoglio et al. 1997); real clips p95 ~54/min with our detector",
)

# ---------------------------------------------------------------------------------------
# audio quality

# DNSMOS (Reddy et al., ICASSP 2022) predicts ITU-T P.835 OVRL and P.808 MOS on 1-5.
# Clean studio speech rates OVRL ~3.3-3.5 / P.808 ~3.9-4.2: the model's ceiling sits
# below 5, so the anchors stretch its top end to the 1-5 scale.
DNSMOS_OVRL = Rule(
    "dnsmos_ovrl",
    ((1.2, 1.0), (2.0, 2.0), (2.5, 3.0), (2.9, 4.0), (3.2, 5.0)),
    "DNSMOS P.835 OVRL: white noise 1.1, silence 1.8; real clips p5 2.29 / p50 3.13 / p95 3.45",
)
CLIPPING = Rule(
    "clipping_ratio",
    ((0.002, 5.0), (0.005, 4.0), (0.01, 3.0), (0.02, 2.0), (0.05, 1.0)),
    "share of samples at full scale after decoding (AAC smears clipped plateaus: true 1.4 % reads ~0.3 %); real clips p95 0.005",
)
BANDWIDTH = Rule(
    "bandwidth_hz",
    ((2500.0, 1.5), (3400.0, 3.0), (5000.0, 4.0), (7000.0, 5.0)),
    "narrowband telephone speech (3.4 kHz) vs wideband (7 kHz): ITU-T P.800/P.863 quality classes",
)

# ---------------------------------------------------------------------------------------
# cross-modal

SYNC_PEAK = Rule(
    "sync_peak_corr",
    ((0.1, 1.0), (0.17, 2.0), (0.24, 3.0), (0.3, 4.0), (0.36, 5.0)),
    "correlation of the mouth with its prediction from the voice: real p5 0.29 / p50 0.45; null p50 0.18 -> 2.1",
)
# Mouth more open during speech than during pauses: ratio of mean openings (>1 in real talk).
ACTIVITY_COUPLING = Rule(
    "mouth_speech_silence_ratio",
    ((0.6, 1.5), (0.75, 3.0), (0.85, 4.0), (0.95, 5.0)),
    "speech-time / pause-time mean inner-lip opening: real clips p5 0.86 / p50 1.25",
)

# ---------------------------------------------------------------------------------------
# visual rendering quality (feeds `overall`)

SHARPNESS = Rule(
    "sharpness",
    ((8.0, 1.0), (15.0, 2.0), (30.0, 3.0), (60.0, 4.0), (110.0, 5.0)),
    "face-crop Laplacian variance at 160x160 (features.visual_quality): real p5 38 / p50 113; synthetic blur 1.5 px -> 86, 3 px -> 28",
)
BLOCKINESS = Rule(
    "blockiness",
    ((1.12, 5.0), (1.2, 4.0), (1.3, 3.0), (1.45, 2.0), (1.7, 1.0)),
    "8x8 boundary/interior gradient ratio: real p95 1.12; x264 CRF 40 -> 1.12, CRF 48 -> 1.44",
)

# overall: worst-dominated mean of the four perceptual dimensions + rendering quality
OVERALL_WEIGHTS: Mapping[str, float] = {
    "lip_sync": 1.0,
    "expression": 1.0,
    "audio_quality": 1.0,
    "cross_modal": 0.5,
    "visual_quality": 1.0,
}


def all_rules() -> dict[str, Rule]:
    """Every rule by its module name (for the README table and the monotonicity tests)."""
    return {k: v for k, v in globals().items() if isinstance(v, Rule)}
