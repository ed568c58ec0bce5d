"""Render one frame: scale and sum the rig's fields, remap the photo, paint the mouth cavity.

Per frame the work is on the coarse grid (a few ten thousand nodes) except one
``cv2.resize`` of the displacement to full size, one ``cv2.remap`` and a polygon
fill in a small box around the mouth, so 1080p stays well above real time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from tfqa.synth.face import FacePhoto
from tfqa.synth.rig import BLINK_LEVELS, FaceRig

CAVITY_RGB = np.array([62, 22, 26], np.float32)  # dark red-brown of an open mouth
TEETH_RGB = np.array([214, 208, 196], np.float32)
TONGUE_RGB = np.array([128, 52, 58], np.float32)
TONGUE_SHARE = 0.35  # the tongue fills the lower 35 % of the lip gap...
TONGUE_INSET = 2  # ...leaving out this many seam points at each corner
TONGUE_ALPHA = 0.6  # seen through the shadow of the cavity
TONGUE_SOFTNESS = 0.15  # blur of the tongue's outline, as a share of the lip gap
TEETH_SHARE = 0.3  # upper teeth show in the top 30 % of the lip gap...
TEETH_MAX_REL = 0.06  # ...but no more than 6 % of the eye-corner distance
_SUBPIXEL_BITS = 4  # cv2.fillPoly fixed-point precision (1/16 px)
_SUPPORT_PX = 0.02  # displacements below this do not change a pixel


@dataclass(frozen=True)
class Pose:
    """Forward head motion of one frame: roll about the rig pivot, then a shift (px)."""

    roll_deg: float = 0.0
    dx: float = 0.0
    dy: float = 0.0

    def matrix(self, pivot: np.ndarray) -> np.ndarray:
        """``(2, 3)`` forward affine in output pixels."""
        a = math.radians(self.roll_deg)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        shift = pivot + np.array([self.dx, self.dy]) - rot @ pivot
        return np.hstack([rot, shift[:, None]])


class FrameRenderer:
    """Turns ``(mouth opening, blink, pose)`` into RGB frames of one face photo.

    Args:
        photo: the face at the output size.
        rig: its fields (:func:`tfqa.synth.rig.build_rig`).
        blur_sigma: Gaussian blur of the finished frame in pixels (0 = none).
    """

    def __init__(self, photo: FacePhoto, rig: FaceRig, blur_sigma: float = 0.0) -> None:
        self.photo = photo
        self.rig = rig
        self.blur_sigma = float(blur_sigma)
        h, w = photo.image.shape[:2]
        self.size = (w, h)
        s = rig.step
        self._node_from_grid = np.array([[s, 0, (s - 1) / 2], [0, s, (s - 1) / 2], [0, 0, 1.0]])
        self._grid_from_node = np.linalg.inv(self._node_from_grid)
        self._cells = self._support_cells()
        i0, i1, j0, j1 = self._cells
        self._roi = (j0 * s, i0 * s, min(w, j1 * s), min(h, i1 * s))  # x0, y0, x1, y1
        x0, y0, x1, y1 = self._roi
        xs, ys = np.meshgrid(
            np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)
        )
        self._base = np.stack([xs, ys], axis=-1)  # (h_roi, w_roi, 2) identity map of the box
        self._teeth_max = TEETH_MAX_REL * photo.eye_distance_px
        self._blink_levels = np.asarray(BLINK_LEVELS, np.float64)

    def render(self, mouth: float, blink: float, pose: Pose) -> np.ndarray:
        """One ``(H, W, 3)`` uint8 RGB frame.

        Args:
            mouth: opening in units of a full /a/ (0 = as in the photo).
            blink: eyelid closure, 0 open ... 1 closed.
            pose: head motion.
        """
        forward = pose.matrix(self.rig.pivot)
        disp = self._displacement(mouth, blink, forward)
        frame = self.photo.image.copy()
        if disp is not None:
            x0, y0, x1, y1 = self._roi
            frame[y0:y1, x0:x1] = cv2.remap(
                self.photo.image,
                self._base + self._upsample(disp),
                None,
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        if mouth > 0:
            self._paint_mouth(frame, mouth, forward)
        if self.blur_sigma > 0:
            frame = cv2.GaussianBlur(frame, (0, 0), self.blur_sigma)
        return frame

    # -- displacement -----------------------------------------------------------------------
    def _displacement(self, mouth: float, blink: float, forward: np.ndarray) -> np.ndarray | None:
        """``(gh, gw, 2)`` backward displacement of this frame, or None when there is none."""
        rig = self.rig
        face = None
        if mouth:
            face = mouth * rig.jaw
        if blink:
            lids = self._blink_field(blink)
            face = lids if face is None else face + lids
        moved = not np.allclose(forward, [[1, 0, 0], [0, 1, 0]], atol=1e-6)
        if not moved:
            return face
        # The face fields live on the resting face: carry them along with the head.
        grid_forward = (
            self._grid_from_node @ np.vstack([forward, [0, 0, 1]]) @ self._node_from_grid
        )[:2]
        gh, gw = rig.grid_shape
        inverse = cv2.invertAffineTransform(forward)
        head = (rig.nodes @ inverse[:, :2].T + inverse[:, 2] - rig.nodes) * rig.head_mask[..., None]
        if face is None:
            return head.astype(np.float32)
        carried = cv2.warpAffine(face, grid_forward, (gw, gh), flags=cv2.INTER_LINEAR)
        return (head + carried).astype(np.float32)

    def _blink_field(self, blink: float) -> np.ndarray:
        """Backward blink displacement at closure ``blink``, between precomputed levels."""
        levels = self._blink_levels
        k = int(np.clip(np.searchsorted(levels, blink) - 1, 0, len(levels) - 2))
        t = np.float32((blink - levels[k]) / (levels[k + 1] - levels[k]))
        return (1 - t) * self.rig.blink[k] + t * self.rig.blink[k + 1]

    def _upsample(self, disp: np.ndarray) -> np.ndarray:
        """Per-pixel displacement of the support box from the coarse grid."""
        i0, i1, j0, j1 = self._cells
        cells = disp[i0:i1, j0:j1]
        s = self.rig.step
        if s > 1:
            cells = cv2.resize(
                cells, ((j1 - j0) * s, (i1 - i0) * s), interpolation=cv2.INTER_LINEAR
            )
        return cells[: self._base.shape[0], : self._base.shape[1]]

    def _support_cells(self) -> tuple[int, int, int, int]:
        """Grid rows/columns ``(i0, i1, j0, j1)`` outside which no field moves a pixel."""
        rig = self.rig
        moving = (
            (np.abs(rig.jaw).max(axis=-1) > _SUPPORT_PX)
            | (np.abs(rig.blink).max(axis=(0, -1)) > _SUPPORT_PX)
            | (rig.head_mask > 0)
        )
        gh, gw = rig.grid_shape
        if not moving.any():
            return (0, gh, 0, gw)
        rows, cols = np.nonzero(moving)
        margin = 2  # cells: bilinear upsampling reaches one cell beyond a node
        return (
            max(0, rows.min() - margin),
            min(gh, rows.max() + 1 + margin),
            max(0, cols.min() - margin),
            min(gw, cols.max() + 1 + margin),
        )

    # -- mouth cavity ------------------------------------------------------------------------
    def _paint_mouth(self, frame: np.ndarray, mouth: float, forward: np.ndarray) -> None:
        """Fill the gap between the parted lips with a dark cavity (and maybe teeth)."""
        rig = self.rig
        upper = _apply(forward, rig.seam + mouth * rig.seam_up)
        lower = _apply(forward, rig.seam + mouth * rig.seam_down)
        polygon = np.concatenate([upper, lower[::-1]])
        box = _box(polygon, frame.shape, pad=2)
        if box is None:
            return
        x0, y0, x1, y1 = box
        origin = np.array([x0, y0], np.float32)
        alpha = _coverage(polygon - origin, (y1 - y0, x1 - x0))
        patch = frame[y0:y1, x0:x1].astype(np.float32)
        patch += alpha[..., None] * (CAVITY_RGB - patch)
        # The tongue shows in the lower part of a wide-open mouth, away from the corners.
        inner = slice(TONGUE_INSET, len(lower) - TONGUE_INSET)
        floor = lower[inner]
        top = floor + TONGUE_SHARE * (upper[inner] - floor)
        tongue = _coverage(np.concatenate([top, floor[::-1]]) - origin, alpha.shape)
        soft = TONGUE_SOFTNESS * float(np.max(np.linalg.norm(upper - lower, axis=1)))
        if soft > 0.3:  # a shaded gradient, not a cut-out shape
            tongue = cv2.GaussianBlur(tongue, (0, 0), soft)
        patch += (TONGUE_ALPHA * alpha * tongue)[..., None] * (TONGUE_RGB - patch)
        if rig.teeth:
            gap = np.linalg.norm(lower - upper, axis=1, keepdims=True)
            edge = upper + (lower - upper) * np.minimum(TEETH_SHARE, self._teeth_max / (gap + 1e-6))
            teeth = _coverage(np.concatenate([upper, edge[::-1]]) - origin, alpha.shape)
            patch += teeth[..., None] * (TEETH_RGB - patch)
        frame[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)


def _apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (points @ affine[:, :2].T + affine[:, 2]).astype(np.float32)


def _box(points: np.ndarray, shape: tuple[int, ...], pad: int) -> tuple[int, int, int, int] | None:
    x0 = max(0, int(np.floor(points[:, 0].min())) - pad)
    y0 = max(0, int(np.floor(points[:, 1].min())) - pad)
    x1 = min(shape[1], int(np.ceil(points[:, 0].max())) + pad + 1)
    y1 = min(shape[0], int(np.ceil(points[:, 1].max())) + pad + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _coverage(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Anti-aliased ``(h, w)`` float32 coverage in [0, 1] of a sub-pixel polygon."""
    mask = np.zeros(shape, np.uint8)
    fixed = np.round(polygon * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillPoly(mask, [fixed], 255, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
    return mask.astype(np.float32) / 255.0
