"""17 facial action-unit intensities (OpenFace's ``AUxx_r`` set) from pose-normalised landmarks.

**These are geometric proxies, not FACS codes from a trained model.**  Each AU
is one documented distance (or a small linear combination of distances) in
the ``face`` block's canonical frame — frontal, inter-ocular distance (outer
eye corners 33-263) = 1, y down, z away from the camera — measured per frame,
minus a per-clip (per-shot, where the clip has shot cuts) neutral baseline,
scaled to OpenFace's 0-5 intensity range and clipped there:

    AU = clip(5 * (m - percentile(m, p)) / full_scale, 0, 5)

where ``full_scale`` is the displacement (inter-ocular units, ~0.01 = 1 mm
for an adult face with a ~95 mm outer-eye-corner distance) that counts as the
maximum intensity E, and ``p`` is the percentile of the clip that counts as
neutral: the median for expressions that are mostly off, a low percentile for
mouth opening (neutral = closed) and a high one for the chin raiser (neutral =
the closed jaw, its highest position).  Per-clip baselines follow OpenFace's
own person-specific normalisation (subtracting the clip median of the
features); like it, an expression held for the whole clip reads as neutral.

AU45 (blink) is the relative eye closure ``1 - opening / median opening``
(eyes are open most of the time), times 5.  Blinks are closure events with
hysteresis (start above ``blink_high``, extend while above ``blink_low``)
lasting 2-12 frames (80-480 ms at 25 Hz).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfqa.errors import ConfigError
from tfqa.features.base import DerivedExtractor, FeatureBlock, register
from tfqa.io.constants import ANALYSIS_RATE

AU_NAMES = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
            "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45")  # fmt: skip
AU_MAX = 5.0  # OpenFace intensity scale 0-5
N_FACE = 468

# MediaPipe face-mesh indices; pairs are (subject's right, subject's left)
EYE_OUTER = (33, 263)
EYE_INNER = (133, 362)
UPPER_LID = ((159, 158, 160), (386, 385, 387))
LOWER_LID = ((145, 153, 144), (374, 380, 373))
BROW_INNER = ((107, 66, 55), (336, 296, 285))
BROW_OUTER = ((70, 63, 46, 53), (300, 293, 276, 283))
CHEEK = ((205, 50), (425, 280))
NOSE_ALA = ((98, 64), (327, 294))
LIP_CORNER = (61, 291)
SUBNASALE = 2
UPPER_LIP_OUTER = (0, 37, 267)  # upper vermilion border
LIP_IN_UP, LIP_IN_LOW = (13, 82, 312), (14, 87, 317)  # inner lip edges, centre and sides
LIP_OUT_UP, LIP_OUT_LOW = 0, 17
CHIN_BOSS, MENTON = 200, 152
JAW_CORNER_FOLLOW = 0.3  # share of the lower-lip drop the mouth corners follow when the jaw opens

# AU -> (full_scale in inter-ocular units, neutral percentile of the clip)
AU_SCALES: dict[str, tuple[float, float]] = {
    "AU01": (0.08, 50),  # inner brow 8 mm higher
    "AU02": (0.08, 50),  # outer brow 8 mm higher
    "AU04": (0.06, 50),  # brows 6 mm lower / closer
    "AU05": (0.04, 50),  # upper lid 4 mm higher
    "AU06": (0.04, 50),  # cheek and lower lid 4 mm higher
    "AU07": (0.03, 50),  # lower lid 3 mm higher
    "AU09": (0.04, 50),  # nose wings 4 mm higher
    "AU10": (0.06, 50),  # upper lip 6 mm higher
    "AU12": (0.12, 50),  # corners up + half the widening, 12 mm
    "AU14": (0.05, 50),  # corners 5 mm deeper
    "AU15": (0.06, 50),  # corners 6 mm lower
    "AU17": (0.06, 90),  # chin boss 6 mm above the closed-jaw position
    "AU20": (0.10, 50),  # mouth 10 mm wider beyond what corner elevation explains
    "AU23": (0.05, 50),  # red lips 5 mm thinner
    "AU25": (0.20, 5),  # inner lips 20 mm apart
    "AU26": (0.30, 5),  # chin 30 mm lower
}


def _y(kp: np.ndarray, idx: Any) -> np.ndarray:
    """Mean y of landmark(s) ``idx`` per frame: (T,)."""
    return kp[:, np.atleast_1d(idx), 1].mean(axis=1)


def _sides(kp: np.ndarray, pair: tuple, fn) -> np.ndarray:
    """Average of ``fn(kp, side_points, side)`` over the two sides: (T,)."""
    return 0.5 * (fn(kp, pair[0], 0) + fn(kp, pair[1], 1))


def eye_opening(kp: np.ndarray) -> np.ndarray:
    """(T,) mean upper-to-lower lid distance of both eyes (3 vertical pairs each), IOD units."""
    gaps = [
        _y(kp, lo) - _y(kp, up)
        for s in (0, 1)
        for up, lo in zip(UPPER_LID[s], LOWER_LID[s], strict=True)
    ]
    return np.mean(gaps, axis=0)


def geometric_measures(kp: np.ndarray) -> dict[str, np.ndarray]:
    """Raw AU measures (T,) in inter-ocular units, each growing with its AU (see ``AU_SCALES``).

    ====  =====================================================================
    AU01  inner brow (107/66/55, 336/296/285) height above the inner eye corner
    AU02  outer brow (70/63/46/53, mirrored) height above the outer eye corner
    AU04  minus mean brow height, minus half the inner-brow gap (107-336)
    AU05  upper lid (159/158/160, 386/385/387) height above the eye-corner line
    AU06  half cheek height (205/50, 425/280) + half AU07
    AU07  lower lid (145/153/144, 374/380/373) height above the eye-corner line
    AU09  nose-wing (98/64, 327/294) height
    AU10  upper vermilion (0/37/267) height above the subnasale (2)
    AU12  mouth-corner (61/291) height above the subnasale + half the mouth width
    AU14  mouth-corner depth behind the lip midline (0/17)
    AU15  corner drop below the subnasale beyond 0.3 x the lower-lip drop
    AU17  chin boss (200) height relative to the subnasale
    AU20  mouth width minus twice the corner height (stretch, not smile)
    AU23  minus the red-lip thickness (0-13 + 14-17)
    AU25  inner-lip gap (13-14, 82-87, 312-317)
    AU26  menton (152) below the subnasale
    ====  =====================================================================

    Args:
        kp: (T, 468, 3) pose-normalised keypoints (IOD 1, y down, z away).
    """
    outer_y = [_y(kp, i) for i in EYE_OUTER]
    inner_y = [_y(kp, i) for i in EYE_INNER]
    corner_y = [(o + i) / 2 for o, i in zip(outer_y, inner_y, strict=True)]
    brow_in = _sides(kp, BROW_INNER, lambda k, p, s: inner_y[s] - _y(k, p))
    brow_out = _sides(kp, BROW_OUTER, lambda k, p, s: outer_y[s] - _y(k, p))
    upper_lid = _sides(kp, UPPER_LID, lambda k, p, s: corner_y[s] - _y(k, p))
    lower_lid = _sides(kp, LOWER_LID, lambda k, p, s: corner_y[s] - _y(k, p))
    cheek = _sides(kp, CHEEK, lambda k, p, s: -_y(k, p))
    nose = _y(kp, SUBNASALE)
    c_left, c_right = kp[:, LIP_CORNER[0]], kp[:, LIP_CORNER[1]]
    corner_elev = nose - 0.5 * (c_left[:, 1] + c_right[:, 1])  # corners up: larger
    width = c_right[:, 0] - c_left[:, 0]
    lower_drop = _y(kp, LIP_OUT_LOW) - nose
    lip_mid_z = 0.5 * (kp[:, LIP_OUT_UP, 2] + kp[:, LIP_OUT_LOW, 2])
    thickness = (_y(kp, LIP_IN_UP[0]) - _y(kp, LIP_OUT_UP)) + (
        _y(kp, LIP_OUT_LOW) - _y(kp, LIP_IN_LOW[0])
    )
    inner_gap = np.mean(
        [_y(kp, lo) - _y(kp, up) for up, lo in zip(LIP_IN_UP, LIP_IN_LOW, strict=True)], axis=0
    )
    return {
        "AU01": brow_in,
        "AU02": brow_out,
        # lower brows, drawn together (inner-brow gap counts half)
        "AU04": -0.5 * (brow_in + brow_out)
        - 0.5 * (kp[:, BROW_INNER[1][0], 0] - kp[:, BROW_INNER[0][0], 0]),
        "AU05": upper_lid,
        "AU06": 0.5 * cheek + 0.5 * lower_lid,
        "AU07": lower_lid,
        "AU09": _sides(kp, NOSE_ALA, lambda k, p, s: -_y(k, p)),
        "AU10": nose - _y(kp, UPPER_LIP_OUTER),
        "AU12": corner_elev + 0.5 * width,
        "AU14": 0.5 * (c_left[:, 2] + c_right[:, 2]) - lip_mid_z,
        # the corners drop a little with the jaw: only the drop beyond that counts
        "AU15": -corner_elev - JAW_CORNER_FOLLOW * lower_drop,
        "AU17": -(_y(kp, CHIN_BOSS) - nose),
        "AU20": width - 2 * corner_elev,
        "AU23": -thickness,
        "AU25": inner_gap,
        "AU26": _y(kp, MENTON) - nose,
    }


def _scale(m: np.ndarray, full_scale: float, percentile: float, ok: np.ndarray) -> np.ndarray:
    """(m - neutral) / full_scale on the 0-5 scale, clipped; NaN where ``ok`` is False."""
    out = np.full(m.shape, np.nan, dtype=np.float32)
    if ok.any():
        neutral = np.percentile(m[ok], percentile)
        out[ok] = np.clip(AU_MAX * (m[ok] - neutral) / full_scale, 0.0, AU_MAX)
    return out


def au_intensities(kp: np.ndarray, cuts: Sequence[int] = ()) -> np.ndarray:
    """(T, 17) AU intensities (columns ``AU_NAMES``, 0-5) from (T, 468, 3) keypoints; NaN rows
    kept.  With shot ``cuts`` (frame indices where shots start) each shot has its own neutral
    baselines: a cut may bring another person, whose neutral face is not the first one's."""
    bounds = [0, *cuts, len(kp)]
    if len(bounds) > 2:
        return np.concatenate([au_intensities(kp[a:b]) for a, b in itertools.pairwise(bounds)])
    ok = np.isfinite(kp).all(axis=(1, 2))
    safe = np.where(ok[:, None, None], kp, 0.0)  # NaN-free arithmetic, masked afterwards
    measures = geometric_measures(safe)
    cols = [_scale(measures[n], *AU_SCALES[n], ok) for n in AU_NAMES[:-1]]
    opening = eye_opening(safe)
    au45 = np.full(len(kp), np.nan, dtype=np.float32)
    if ok.any():
        ref = np.median(opening[ok])
        closure = 1.0 - opening[ok] / max(ref, 1e-6)
        au45[ok] = np.clip(AU_MAX * closure, 0.0, AU_MAX)
    return np.stack([*cols, au45], axis=1).astype(np.float32)


def detect_blinks(
    au45: np.ndarray, high: float, low: float, min_frames: int, max_frames: int
) -> list[tuple[int, int]]:
    """Blink events ``[start, stop)`` in an AU45 sequence, with hysteresis.

    An event is a run of frames with ``au45 >= low`` (NaN ends a run) that
    reaches ``high`` and lasts ``min_frames``-``max_frames`` frames.
    """
    above = np.nan_to_num(au45, nan=-1.0) >= low
    edges = np.diff(np.concatenate([[0], above.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [
        (int(a), int(b))
        for a, b in zip(starts, stops, strict=True)
        if min_frames <= b - a <= max_frames and np.nanmax(au45[a:b]) >= high
    ]


def _per_second(x: np.ndarray) -> np.ndarray:
    n = int(np.ceil(len(x) / ANALYSIS_RATE))
    pad = np.pad(x.astype(np.float64), (0, n * ANALYSIS_RATE - len(x)), constant_values=np.nan)
    blocks = pad.reshape(n, ANALYSIS_RATE)
    out = np.full(n, np.nan)
    ok = np.isfinite(blocks).any(axis=1)
    out[ok] = np.nanmean(blocks[ok], axis=1)
    return out.astype(np.float32)


@dataclass(frozen=True)
class ActionUnitsConfig:
    blink_high: float = 2.0  # AU45 a closure must reach to count (40 % closure)
    blink_low: float = 1.0  # AU45 under which a closure has ended (20 % closure)
    blink_min_frames: int = 2  # 80 ms at 25 Hz
    blink_max_frames: int = 12  # 480 ms: longer closures are not blinks

    def __post_init__(self) -> None:
        if not 0.0 < self.blink_low < self.blink_high <= AU_MAX:
            raise ConfigError(
                f"Expected 0 < blink_low < blink_high <= {AU_MAX:g}, "
                f"but got blink_low={self.blink_low}, blink_high={self.blink_high}"
            )
        if not 1 <= self.blink_min_frames <= self.blink_max_frames:
            raise ConfigError(
                "Expected 1 <= blink_min_frames <= blink_max_frames, but got "
                f"{self.blink_min_frames} and {self.blink_max_frames}"
            )


@register
class ActionUnits(DerivedExtractor):
    """OpenFace-named AU intensities (geometric proxies, see the module docstring) and blinks.

    ``sequences["au"]`` (T, 17), columns ``AU_NAMES``, 0-5, NaN where no face.
    Stats: ``blink_count``, ``blink_rate_per_min`` (per minute of face
    presence), ``expression_activity`` (mean over AUs of their std over
    frames), ``AUxx_mean``.  Curves (1 Hz): ``AU45``, ``AU12``, ``AU26``.
    """

    name = "action_units"
    version = "2"  # 2: neutral baselines per shot
    inputs = ("face", "shots")
    Config = ActionUnitsConfig
    description = "17 OpenFace-named AU intensities from landmark geometry; blinks"

    def compute(self, inputs: dict[str, Any]) -> FeatureBlock:
        face: FeatureBlock = inputs["face"]
        kp = face.sequences["keypoints"].reshape(-1, N_FACE, 3).astype(np.float64)
        au = au_intensities(kp, inputs["shots"].meta.get("cuts", []))
        ok = np.isfinite(au).all(axis=1)
        cfg = self.config
        blinks = detect_blinks(
            au[:, -1], cfg.blink_high, cfg.blink_low, cfg.blink_min_frames, cfg.blink_max_frames
        )
        minutes = ok.sum() / ANALYSIS_RATE / 60.0
        stats = {
            "blink_count": float(len(blinks)),
            "blink_rate_per_min": len(blinks) / minutes if minutes > 0 else float("nan"),
            "expression_activity": float(np.mean(au[ok].std(axis=0))) if ok.any() else float("nan"),
        }
        for j, name in enumerate(AU_NAMES):
            stats[f"{name}_mean"] = float(au[ok, j].mean()) if ok.any() else float("nan")
        col = {n: au[:, j] for j, n in enumerate(AU_NAMES)}
        return FeatureBlock(
            name=self.name,
            sequences={"au": au},
            columns={"au": list(AU_NAMES)},
            stats=stats,
            curves={n: _per_second(col[n]) for n in ("AU45", "AU12", "AU26")},
            meta={
                "blinks": blinks,
                "au_kind": "geometric proxy (landmark distances), not FACS-coded",
            },
        )
