"""Dense warp fields for one face, computed once: jaw opening, blink, head region.

Each field is a *backward* displacement (output pixel -> where to sample the
photo) on a coarse grid.  The jaw field is a thin-plate spline through landmark
displacements, windowed to the head; the blink field is built per pixel column
of each eye (a spline cannot squeeze the eye opening to a line without folding)
at a few closure levels.  A frame then only scales and sums fields (see
:mod:`tfqa.synth.render`), which is what makes rendering cheap.

Mouth model: the lips part along a *seam* (the midline between the inner lips).
Everything above the seam moves with the upper lip (slightly up), everything
below it with the jaw (down, most at the centre, tapering to the corners), so
teeth visible in the photo stay attached to their lip and a gap opens between
them; :mod:`tfqa.synth.render` paints the mouth cavity into that gap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import RBFInterpolator

from tfqa.synth import face as fm
from tfqa.synth.face import FacePhoto

OPEN_GAP_REL = 0.2  # lip gap added by a full opening (/a/), in eye-corner distances
UPPER_LIP_SHARE = 0.15  # share of the opening taken by the upper lip moving up
CORNER_DROP = 0.12  # mouth corners move down this share of the opening
CHIN_DROP = 0.8  # the chin moves down this share of the opening
# At full blink the upper lid comes down over 95 % of the eye opening; the lower lid
# stays.  The eye opening is squeezed into the 5 % left, which reads as the lash line.
BLINK_CLOSE = 0.95
BLINK_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)  # closures with a precomputed field (interpolated)
GRID_TARGET_NODES = 216  # coarse grid nodes along the shorter side (fields are smooth)
# Fields are cut off smoothly between these multiples of the face's half size, so
# that nothing outside the head moves (a thin-plate spline alone is not local).
FIELD_WINDOW = (1.25, 1.75)
HEAD_MASK_FALLOFF = 0.5  # head mask goes from 1 to 0 over this many head radii

# Per eye: upper lid and lower lid (corner to corner), underside of the brow.
EYES = (
    ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133),
     (46, 53, 52, 65, 55)),
    ((263, 466, 388, 387, 386, 385, 384, 398, 362), (263, 249, 390, 373, 374, 380, 381, 382, 362),
     (276, 283, 282, 295, 285)),
)  # fmt: skip
EYE_CORNERS = (33, 133, 263, 362)
BROWS = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
BELOW_EYES = (226, 31, 228, 229, 230, 231, 232, 233, 446, 261, 448, 449, 450, 451, 452, 453)
NOSE = (1, 2, 4, 5, 6, 98, 327, 168, 197, 195, 48, 278)
CHEEKS = (50, 280, 205, 425, 116, 345, 123, 352, 187, 411)


@dataclass(frozen=True)
class FaceRig:
    """Precomputed warp fields of one :class:`FacePhoto` (arrays are float32).

    Attributes:
        grid_shape: ``(gh, gw)`` coarse grid; node ``(i, j)`` sits at output pixel
            ``(step * j + (step - 1) / 2, step * i + (step - 1) / 2)``, the convention
            of ``cv2.resize`` for an integer factor, so upsampling a node array by
            ``step`` gives per-pixel values.
        step: output pixels per coarse cell (an integer).
        nodes: ``(gh, gw, 2)`` output pixel coordinates of the nodes.
        jaw: ``(gh, gw, 2)`` backward displacement (px) at full mouth opening.
        blink: ``(L, gh, gw, 2)`` backward displacement (px) at each closure of
            ``BLINK_LEVELS`` (a blink squeezes the eye opening almost to nothing, which
            does not scale linearly, so each level has its own field).
        head_mask: ``(gh, gw)`` 1 on the head, falling to 0 around it.
        pivot: ``(2,)`` head rotation centre (px), below the chin.
        seam: ``(K, 2)`` mouth seam at rest, image-left corner to image-right corner.
        seam_up: ``(K, 2)`` forward displacement of the seam's upper side at full opening.
        seam_down: ``(K, 2)`` same for the lower side.
        teeth: whether to paint a hint of upper teeth (photo's mouth is closed).
    """

    grid_shape: tuple[int, int]
    step: int
    nodes: np.ndarray
    jaw: np.ndarray
    blink: np.ndarray
    head_mask: np.ndarray
    pivot: np.ndarray
    seam: np.ndarray
    seam_up: np.ndarray
    seam_down: np.ndarray
    teeth: bool


@functools.lru_cache(maxsize=4)
def build_rig_cached(photo: FacePhoto) -> FaceRig:
    """:func:`build_rig`, remembered per photo object (``load_face`` returns cached photos)."""
    return build_rig(photo)


def build_rig(photo: FacePhoto) -> FaceRig:
    """Fit the jaw and blink fields of ``photo`` (a few hundred ms; cache the result)."""
    h, w = photo.image.shape[:2]
    lm = photo.landmarks.astype(np.float64)
    step = max(1, round(min(w, h) / GRID_TARGET_NODES))
    gw, gh = -(-w // step), -(-h // step)
    xs, ys = step * np.arange(gw) + (step - 1) / 2, step * np.arange(gh) + (step - 1) / 2
    nodes = np.stack(np.meshgrid(xs, ys), axis=-1)
    down = _down_vector(lm)
    gap = OPEN_GAP_REL * photo.eye_distance_px
    seam, seam_up, seam_down = _seam(lm, down, gap)
    anchors = _border_anchors(lm, w, h)
    window = _ellipse_window(lm, nodes, *FIELD_WINDOW)[..., None]
    jaw = _backward_field(*_jaw_controls(lm, down, gap, seam, seam_up, seam_down), anchors, nodes)
    blink = np.stack([_blink_field(lm, nodes, level) for level in BLINK_LEVELS])
    rest_gap = np.linalg.norm(lm[fm.LOWER_LIP_INNER[5]] - lm[fm.UPPER_LIP_INNER[5]])
    face_h = np.linalg.norm(lm[fm.CHIN] - lm[fm.FOREHEAD])
    return FaceRig(
        grid_shape=(gh, gw),
        step=step,
        nodes=nodes.astype(np.float32),
        jaw=jaw * window,
        blink=blink * window[None],
        head_mask=_head_mask(lm, nodes),
        pivot=(lm[fm.CHIN] + 0.25 * face_h * down).astype(np.float32),
        seam=seam.astype(np.float32),
        seam_up=seam_up.astype(np.float32),
        seam_down=seam_down.astype(np.float32),
        teeth=bool(rest_gap < 0.04 * photo.eye_distance_px),
    )


def _down_vector(lm: np.ndarray) -> np.ndarray:
    """Unit vector from the eyes towards the chin, perpendicular to the eye line."""
    eye = lm[fm.RIGHT_EYE_CORNER] - lm[fm.LEFT_EYE_CORNER]
    eye /= np.linalg.norm(eye)
    return np.array([-eye[1], eye[0]])


def _mouth_profile(points: np.ndarray, down: np.ndarray) -> np.ndarray:
    """0 at the mouth corners, 1 at the centre (elliptic), along the mouth's width."""
    across = np.array([down[1], -down[0]])
    u = points @ across
    u = 2 * (u - u[0]) / (u[-1] - u[0] + 1e-9) - 1
    return np.sqrt(np.clip(1 - u**2, 0, 1))


def _seam(lm: np.ndarray, down: np.ndarray, gap: float):
    """Seam points at rest and the forward displacements of its two sides (full opening)."""
    upper, lower = lm[list(fm.UPPER_LIP_INNER)], lm[list(fm.LOWER_LIP_INNER)]
    seam = (upper + lower) / 2
    prof = _mouth_profile(seam, down)[:, None]
    up = gap * (CORNER_DROP * (1 - prof) - UPPER_LIP_SHARE * prof) * down
    dn = gap * (CORNER_DROP + (1 - UPPER_LIP_SHARE - CORNER_DROP) * prof) * down
    return seam, up, dn


def _jaw_controls(lm, down, gap, seam, seam_up, seam_down):
    """Forward (points, displacements) of the jaw opening, zeros on the upper face."""
    # Split the seam by a hair so the two sides can move apart (a tear of ~1 px).
    eps = 0.5 * down
    pts = [seam[1:-1] - eps, seam[1:-1] + eps, seam[[0, -1]]]
    disp = [seam_up[1:-1], seam_down[1:-1], seam_up[[0, -1]]]
    for upper_idx, lower_idx, scale in (
        (fm.UPPER_LIP_INNER, fm.LOWER_LIP_INNER, 1.0),
        (fm.UPPER_LIP_OUTER, fm.LOWER_LIP_OUTER, 0.8),
    ):
        upper, lower = lm[list(upper_idx[1:-1])], lm[list(lower_idx[1:-1])]
        # Lip points on the seam itself (a closed mouth) would contradict the split.
        apart = np.linalg.norm(upper - lower, axis=1) > 4 * np.linalg.norm(eps)
        pts += [upper[apart], lower[apart]]
        disp += [scale * seam_up[1:-1][apart], seam_down[1:-1][apart]]
    oval = lm[list(fm.FACE_OVAL)]
    corner_level = seam[[0, -1]].mean(axis=0) @ down
    weight = np.clip((oval @ down - corner_level) / (lm[fm.CHIN] @ down - corner_level), 0, 1)
    pts.append(oval)
    disp.append(CHIN_DROP * gap * weight[:, None] ** 0.7 * down)
    still = lm[list(NOSE + CHEEKS + EYE_CORNERS + BROWS + BELOW_EYES)]
    pts.append(still)
    disp.append(np.zeros_like(still))
    return np.concatenate(pts), np.concatenate(disp)


def _blink_field(lm: np.ndarray, nodes: np.ndarray, closure: float) -> np.ndarray:
    """Backward displacement closing both eyes by ``closure`` (0 open ... 1 closed).

    In each pixel column of an eye, the skin between the brow and the upper lid is
    stretched down until the lid edge covers ``closure * BLINK_CLOSE`` of the opening
    (less towards the corners), and the opening is squeezed into what is left.  The
    map is piecewise linear and monotone per column, so it never folds.
    """
    x, y = nodes[..., 0], nodes[..., 1]
    source_y = y.copy()
    for upper_idx, lower_idx, brow_idx in EYES:
        upper, lower, brow = lm[list(upper_idx)], lm[list(lower_idx)], lm[list(brow_idx)]
        x0, x1 = sorted((upper[0, 0], upper[-1, 0]))
        taper = np.clip(1 - (2 * (x - x0) / (x1 - x0) - 1) ** 2, 0, 1)  # 0 at the corners
        top, bottom = _along(upper, x), _along(lower, x)
        brow_y = np.minimum(_along(brow, x), top - 1.0)
        opening = np.maximum(bottom - top, 0.0)
        edge = top + closure * BLINK_CLOSE * taper * opening  # where the lid edge goes
        lid = (taper > 0) & (y >= brow_y) & (y < edge)
        eye = (taper > 0) & (y >= edge) & (y < bottom)
        stretch = (top - brow_y) / np.maximum(edge - brow_y, 1e-6)
        squeeze = opening / np.maximum(bottom - edge, 1e-6)
        source_y[lid] = (brow_y + (y - brow_y) * stretch)[lid]
        source_y[eye] = (top + (y - edge) * squeeze)[eye]
    field = np.zeros(nodes.shape, np.float32)
    field[..., 1] = source_y - y
    return field


def _along(polyline: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y of ``polyline`` (points ordered by x, either direction) at ``x``."""
    order = np.argsort(polyline[:, 0])
    return np.interp(x, polyline[order, 0], polyline[order, 1])


def _border_anchors(lm: np.ndarray, w: int, h: int) -> np.ndarray:
    """Still points: a ring around the head and the frame border (keep fields local)."""
    centre = lm[list(fm.FACE_OVAL)].mean(axis=0)
    radius = np.ptp(lm[list(fm.FACE_OVAL)], axis=0) * 0.5
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = centre + 1.7 * radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    t = np.linspace(0, 1, 9)
    border = np.concatenate(
        [np.stack([t * w, np.zeros_like(t)], 1), np.stack([t * w, np.full_like(t, h)], 1),
         np.stack([np.zeros_like(t), t * h], 1), np.stack([np.full_like(t, w), t * h], 1)]
    )  # fmt: skip
    return np.concatenate([ring, border])


def _backward_field(points, disp, anchors, nodes) -> np.ndarray:
    """Thin-plate spline of backward displacements, evaluated at the grid nodes.

    A control point ``p`` moving by ``d`` means the output pixel ``p + d`` must sample
    the photo at ``p``: the backward displacement there is ``-d``.
    """
    targets = np.concatenate([points + disp, anchors])
    values = np.concatenate([-disp, np.zeros_like(anchors)])
    targets, values = _dedupe(targets, values)
    spline = RBFInterpolator(targets, values, kernel="thin_plate_spline", smoothing=1e-3)
    field = spline(nodes.reshape(-1, 2)).reshape(nodes.shape)
    return field.astype(np.float32)


def _dedupe(points: np.ndarray, values: np.ndarray, tol: float = 1e-3):
    """Drop repeated control points (shared landmarks), keeping the first value."""
    _, keep = np.unique(np.round(points / tol), axis=0, return_index=True)
    keep.sort()
    return points[keep], values[keep]


def _head_mask(lm: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """1 inside an ellipse around the head (face + hair), smooth falloff to 0 outside."""
    oval = lm[list(fm.FACE_OVAL)]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    centre = (lo + hi) / 2 - np.array([0.0, 0.1 * (hi[1] - lo[1])])
    radii = np.array([0.7 * (hi[0] - lo[0]), 0.65 * (hi[1] - lo[1])])
    return _smooth_falloff(
        np.linalg.norm((nodes - centre) / radii, axis=-1), 1.0, 1.0 + HEAD_MASK_FALLOFF
    )


def _ellipse_window(lm: np.ndarray, nodes: np.ndarray, inner: float, outer: float) -> np.ndarray:
    """1 within ``inner`` face half-sizes of the face centre, 0 beyond ``outer``."""
    oval = lm[list(fm.FACE_OVAL)]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    r = np.linalg.norm((nodes - (lo + hi) / 2) / ((hi - lo) / 2), axis=-1)
    return _smooth_falloff(r, inner, outer)


def _smooth_falloff(r: np.ndarray, inner: float, outer: float) -> np.ndarray:
    x = np.clip((r - inner) / (outer - inner), 0.0, 1.0)
    return (1.0 - x * x * (3 - 2 * x)).astype(np.float32)  # smoothstep
