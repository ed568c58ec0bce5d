"""Picture degradations with known sizes, on ``(T, H, W, 3)`` uint8 RGB frame stacks.

Temporal defects return the *schedule* they applied (which source frame each
output frame shows), so a test or a label can read exactly what was done.
Face-region defects take a :class:`FaceTrack` (per-frame face and mouth boxes
measured once per prepared clip with MediaPipe face mesh) and blend their
patch edges with a feathered elliptical mask so no seam is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tfqa.synth.defects import frame_schedule

MOUTH_PAD = 0.35  # mouth patch: lip box grown by 35 % of the lip width on each side
FACE_PAD = 0.15  # jitter region: face box grown by 15 % on each side
FEATHER = 0.25  # mask edge softness, as a share of the patch's smaller side


@dataclass(frozen=True)
class FaceTrack:
    """Per-frame face and mouth geometry of one prepared clip (pixels, gaps interpolated).

    Attributes:
        face_centre, mouth_centre: ``(T, 2)`` x, y.
        face_size, mouth_size: ``(2,)`` median width, height over the clip.
        coverage: share of frames where the face mesh found the face.
    """

    face_centre: np.ndarray
    mouth_centre: np.ndarray
    face_size: np.ndarray
    mouth_size: np.ndarray
    coverage: float

    @property
    def n_frames(self) -> int:
        return len(self.face_centre)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "face_centre": self.face_centre,
            "mouth_centre": self.mouth_centre,
            "face_size": self.face_size,
            "mouth_size": self.mouth_size,
            "coverage": np.array(self.coverage),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> FaceTrack:
        return cls(
            a["face_centre"],
            a["mouth_centre"],
            a["face_size"],
            a["mouth_size"],
            float(a["coverage"]),
        )


# lip contour and lower-face landmarks of the MediaPipe mesh
_LIP_IDX = (61, 291, 0, 17, 13, 14, 37, 267, 84, 314)
_CHIN = 152


def face_track_from_landmarks(lm: np.ndarray) -> FaceTrack | None:
    """Build a :class:`FaceTrack` from ``(T, 478, 3)`` pixel landmarks (NaN where no face).

    Returns:
        None when no frame has a face.
    """
    ok = np.isfinite(lm[:, :468, :2]).all(axis=(1, 2))
    if not ok.any():
        return None
    pts = lm[ok, :468, :2]
    face_lo, face_hi = pts.min(axis=1), pts.max(axis=1)
    lips = lm[ok][:, list(_LIP_IDX), :2]
    lip_lo, lip_hi = lips.min(axis=1), lips.max(axis=1)
    lip_w = lip_hi[:, 0] - lip_lo[:, 0]
    # the patch reaches from above the upper lip to below the chin, so the jaw moves with it
    mouth_lo = np.stack([lip_lo[:, 0] - MOUTH_PAD * lip_w, lip_lo[:, 1] - MOUTH_PAD * lip_w], 1)
    mouth_hi = np.stack([lip_hi[:, 0] + MOUTH_PAD * lip_w, lm[ok, _CHIN, 1] + 0.1 * lip_w], 1)
    face_c = _fill_gaps((face_lo + face_hi) / 2, ok)
    mouth_c = _fill_gaps((mouth_lo + mouth_hi) / 2, ok)
    face_size = np.median(face_hi - face_lo, axis=0)
    mouth_size = np.median(mouth_hi - mouth_lo, axis=0)
    return FaceTrack(face_c, mouth_c, face_size, mouth_size, float(ok.mean()))


def _fill_gaps(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``(T, 2)``: ``values`` (one row per frame with a face) interpolated over the gaps."""
    t = np.arange(len(ok))
    cols = [np.interp(t, t[ok], values[:, k]) for k in range(values.shape[1])]
    return np.stack(cols, 1).astype(np.float32)


# -- temporal ------------------------------------------------------------------------------
def freeze_from(frames: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold frame ``start`` from there to the end (audio goes on). Returns frames, schedule."""
    schedule = np.arange(len(frames))
    schedule[start:] = min(start, len(frames) - 1)
    return frames[schedule], schedule


def stutter(
    frames: np.ndarray, share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat the previous frame at ``share`` of random positions (the timeline catches up after).

    A repeated frame is a dropped frame: frame ``i`` is never shown, frame ``i-1`` is
    shown twice, and frame ``i+1`` is back on time.  Returns frames, schedule.
    """
    schedule, _, _ = frame_schedule(len(frames), None, share, rng)
    return frames[schedule], schedule


def speed(frames: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Play the picture ``factor`` times as fast while the audio keeps its own timeline.

    Output frame ``i`` shows source frame ``floor(i * factor)``; the output has
    ``min(T, floor(T / factor))`` frames, so a sped-up clip ends when its
    picture runs out (the caller cuts the audio to the same length) and a
    slowed clip shows only the first ``T * factor`` source frames.
    """
    n = len(frames)
    length = min(n, int(np.floor(n / factor)))
    schedule = np.minimum(np.floor(np.arange(length) * factor).astype(int), n - 1)
    return frames[schedule], schedule


# -- face region ---------------------------------------------------------------------------
def mouth_from_frames(frames: np.ndarray, track: FaceTrack, sources: np.ndarray) -> np.ndarray:
    """Replace the mouth region of frame ``i`` with frame ``sources[i]``'s (where they differ).

    The patch is cut around the source frame's mouth and pasted around the
    target frame's mouth (so head motion does not tear the face), with feathered
    edges.  ``sources[i] == i`` leaves frame ``i`` untouched.
    """
    out = frames.copy()
    h, w = frames.shape[1:3]
    pw, ph = (int(np.ceil(s)) | 1 for s in track.mouth_size)  # odd: a centre pixel
    mask = _feather_mask(ph, pw)[..., None]
    for i, j in enumerate(sources):
        if j == i:
            continue
        src = _cut(frames[j], track.mouth_centre[j], pw, ph)
        _paste(out[i], src, mask, track.mouth_centre[i], w, h)
    return out


def jitter(
    frames: np.ndarray, track: FaceTrack, std_px: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Shift the face region by a random sub-pixel offset per frame (std ``std_px`` per axis).

    Only a window around the face is warped (border reflected) and blended back
    through a feathered ellipse, so the background stays put.

    Returns:
        The frames and the ``(T, 2)`` offsets applied (pixels).
    """
    offsets = rng.normal(0.0, std_px, size=(len(frames), 2)).astype(np.float32)
    ew, eh = (float(s) * (1 + 2 * FACE_PAD) for s in track.face_size)
    h, w = frames.shape[1:3]
    margin = int(np.ceil(4 * std_px)) + 2
    out = frames.copy()
    for i, f in enumerate(frames):
        cx, cy = track.face_centre[i]
        x0, x1 = max(0, int(cx - ew / 2) - margin), min(w, int(cx + ew / 2) + margin + 1)
        y0, y1 = max(0, int(cy - eh / 2) - margin), min(h, int(cy + eh / 2) + margin + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        roi = f[y0:y1, x0:x1]
        shift = np.float32([[1, 0, offsets[i, 0]], [0, 1, offsets[i, 1]]])
        moved = cv2.warpAffine(roi, shift, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)  # fmt: skip
        mask = _ellipse_mask(y1 - y0, x1 - x0, (cx - x0, cy - y0), ew, eh)[..., None]
        out[i, y0:y1, x0:x1] = (moved * mask + roi * (1 - mask) + 0.5).astype(np.uint8)
    return out, offsets


def _cut(frame: np.ndarray, centre: np.ndarray, pw: int, ph: int) -> np.ndarray:
    """``(ph, pw, 3)`` patch centred on ``centre`` (edges replicated beyond the frame)."""
    x0, y0 = int(round(centre[0])) - pw // 2, int(round(centre[1])) - ph // 2
    pad = max(pw, ph)
    padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return padded[y0 + pad : y0 + pad + ph, x0 + pad : x0 + pad + pw].astype(np.float32)


def _paste(dst: np.ndarray, patch: np.ndarray, mask: np.ndarray, centre, w: int, h: int) -> None:
    ph, pw = patch.shape[:2]
    x0, y0 = int(round(centre[0])) - pw // 2, int(round(centre[1])) - ph // 2
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(w, x0 + pw), min(h, y0 + ph)
    if xb <= xa or yb <= ya:
        return
    p = patch[ya - y0 : yb - y0, xa - x0 : xb - x0]
    m = mask[ya - y0 : yb - y0, xa - x0 : xb - x0]
    region = dst[ya:yb, xa:xb].astype(np.float32)
    dst[ya:yb, xa:xb] = (p * m + region * (1 - m) + 0.5).astype(np.uint8)


def _feather_mask(h: int, w: int) -> np.ndarray:
    """``(h, w)`` float mask: 1 inside an ellipse filling the box, smooth fall-off to 0 at its rim."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2)
    return np.clip((1.0 - r) / FEATHER, 0.0, 1.0)


def _ellipse_mask(h: int, w: int, centre, ew: float, eh: float) -> np.ndarray:
    yy, xx = np.ogrid[0:h, 0:w]
    r = np.sqrt(((xx - centre[0]) / (ew / 2)) ** 2 + ((yy - centre[1]) / (eh / 2)) ** 2)
    return np.clip((1.0 - r) / FEATHER, 0.0, 1.0).astype(np.float32)


# -- rendering quality ---------------------------------------------------------------------
def blur(frames: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of every frame, standard deviation ``sigma_px`` pixels."""
    if sigma_px <= 0:
        return frames
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma_px) for f in frames])


def pixel_noise(frames: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise of ``std`` 8-bit levels, fresh every frame."""
    out = np.empty_like(frames)
    for i, f in enumerate(frames):  # frame by frame: float32 noise, no 8-byte temporaries
        noisy = f + std * rng.standard_normal(f.shape, dtype=np.float32) + 0.5
        out[i] = np.clip(noisy, 0, 255).astype(np.uint8)
    return out


def rescale(frames: np.ndarray, factor: float) -> np.ndarray:
    """Down-scale by ``factor`` (area averaging) and back up (bicubic): lost resolution."""
    h, w = frames.shape[1:3]
    small = (max(2, int(round(w * factor))), max(2, int(round(h * factor))))
    return np.stack(
        [
            cv2.resize(
                cv2.resize(f, small, interpolation=cv2.INTER_AREA),
                (w, h),
                interpolation=cv2.INTER_CUBIC,
            )
            for f in frames
        ]
    )


def colour_shift(frames: np.ndarray, delta_e: float, angle_rad: float) -> np.ndarray:
    """Shift every pixel's CIELAB chroma by ``delta_e`` (ΔE*ab units) in direction ``angle_rad``."""
    da, db = delta_e * np.cos(angle_rad), delta_e * np.sin(angle_rad)
    out = np.empty_like(frames)
    for i, f in enumerate(frames):
        lab = cv2.cvtColor(f.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        lab[..., 1] += da
        lab[..., 2] += db
        rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
        out[i] = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out


def sharpness(frame: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (higher = sharper), for tests and checks."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())
