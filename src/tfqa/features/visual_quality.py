"""No-reference visual quality of the face region (and of the whole frame), per frame.

Two extractors:

* ``visual_quality`` (frames; runs after ``face_mesh`` in the same pass) —
  for every face in ``state["faces"]`` it crops the face box (expanded by
  ``box_margin`` and snapped outwards to the frame's 8x8 codec block grid),
  and measures cheap descriptors:

  - sharpness: variance of the 4-neighbour Laplacian of a *working crop*
    resized to ``work_size`` x ``work_size`` pixels (160).  Resizing every
    face to the same pixel size makes it *detail per face width*, comparable
    across resolutions: a face ~90 px wide (LRS2's 160 px crops) is upscaled
    and reads softer than a 250 px face of a 512 px clip, while a 1080p clip
    is not favoured for being large (faces wider than ``work_size`` are all
    judged at that size);
  - on the working crop at half that size (80 px): Tenengrad (mean squared
    Sobel magnitude), edge density, brightness and RMS contrast;
  - mouth sharpness: the same Laplacian variance on the lower-face box around
    the lips (sized from the inter-ocular distance, resized to ``MOUTH_SIZE``):
    generators' rendering artefacts concentrate there;
  - on the *native* crop (resampling would erase the block grid and change the
    noise level): blockiness (gradient across 8x8 block boundaries / gradient
    inside blocks, 1 = no block structure) and noise sigma (robust MAD of the
    finest diagonal Haar wavelet band, in gray levels, as
    ``skimage.restoration.estimate_sigma`` does);
  - colourfulness (Hasler & Suesstrunk 2003) and mean HSV saturation;
  - against the previous decoded frame, cropped at the *same* box (so landmark
    jitter of the box does not count as change), also at half the working
    size: mean absolute luminance
    difference (``temporal_diff``, the flicker measure), change of mean
    brightness (``luma_flicker``), correlation of the Laplacian responses
    (``hf_stability``: 1 = the fine texture stays put, low = shimmering
    texture or motion) and ``|delta log sharpness|`` (``sharpness_jump``).

  Whole-frame descriptors go to ``sequences["frame"]``: sharpness of a
  thumbnail (shorter side ``THUMB_SIDE``), blockiness of the native frame
  (12 sampled 9-row bands), mean absolute difference of the thumbnail to the
  previous frame's, the largest such difference of an 8x8-px cell of the
  thumbnail and a repeat flag (no cell changed by more than
  ``REPEAT_MAX_CHANGE`` gray levels).  On x264 clips with known duplicated
  frames this flags ~90 % of the duplicates at CRF 18 with a few % of moving
  frames; at CRF >= 30 the encoder's refinement of a repeated frame makes
  repeats unrecognisable this way.  A face that does not move at all (a
  still face in a silence) reads as a repeat too, which it visually is.

* ``visual`` (derived: ``visual_quality`` + ``face``) — the speaking face's
  track (``face.meta["speaker_track"]``) and the frame descriptors as the
  model's ``visual`` sequence, with clip-level robust statistics.

Cost (512x512 frame, one face, one OpenCV thread): ~1.2 ms per frame (10th
percentile; median ~1.45 ms) measured on the 2-core development VM under a
load of ~6, where converting one 512x512 frame to gray alone takes 0.2 ms;
the face part is ~0.75 ms and the whole-frame part ~0.4 ms of it.  Only crops
are converted to gray, and all shrinking is by OpenCV's fast exact halving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from tfqa.errors import ConfigError
from tfqa.features.base import DerivedExtractor, FeatureBlock, FrameExtractor, register
from tfqa.io.constants import ANALYSIS_RATE

BLOCK_PX = 8  # px: JPEG/MPEG-4 DCT blocks; in H.264 the 8x8 transform and 16x16 macroblock edges
MOUTH_SIZE = (96, 60)  # px (w, h): working size of the mouth box
MOUTH_HALF_W_IOD = 0.6  # mouth box half-width in inter-ocular distances
MOUTH_HALF_H_IOD = 0.375  # mouth box half-height in inter-ocular distances (keeps 96:60)
THUMB_SIDE = 128  # px: shorter side of the whole-frame thumbnail
BAND_ROWS = BLOCK_PX + 1  # rows of a blockiness band: one boundary step + 7 interior steps
FRAME_MAX_BANDS = 12  # bands of a whole frame read for blockiness (108 rows)
NOISE_MAX_ROWS = 128  # rows of a native crop read for the noise estimate
HAAR_MAD_TO_SIGMA = 1 / 0.6745  # MAD of a standard normal = 0.6745 sigma
BLOCKINESS_EPS = 0.5  # gray levels added to both gradient means
SHARPNESS_FLOOR = 1.0  # (gray levels)^2 added before log ratios of sharpness
REPEAT_CELL_PX = 8  # thumbnail px: side of the cells whose mean change decides a repeat
REPEAT_MAX_CHANGE = 2.5  # gray levels: no cell's mean |delta| above this = a repeated frame
EYE_R, EYE_L, LIP_UP, LIP_LOW = 33, 263, 13, 14  # MediaPipe landmark indices

TRACK_COLUMNS = (
    "sharpness",  # variance of Laplacian, working crop, (gray levels)^2
    "tenengrad",  # mean squared Sobel magnitude, half-size crop, (gray levels / px)^2
    "mouth_sharpness",  # variance of Laplacian of the mouth box, (gray levels)^2
    "blockiness",  # boundary / interior gradient ratio, native crop (1 = none)
    "noise_sigma",  # gray levels, native crop
    "brightness",  # mean gray level, 0-255
    "contrast",  # RMS contrast: std of gray levels
    "colourfulness",  # Hasler-Suesstrunk M, 0-255 scale
    "saturation",  # mean HSV saturation, 0-1
    "edge_density",  # share of half-size-crop pixels with Sobel magnitude > edge_threshold
    "temporal_diff",  # mean |delta gray| vs previous frame at the same box, gray levels
    "luma_flicker",  # |delta mean gray| vs previous frame at the same box, gray levels
    "hf_stability",  # correlation of consecutive Laplacian responses, -1..1
    "sharpness_jump",  # |delta log(sharpness)| vs previous frame
    "face_width_px",  # native width of the face box (resolution context)
)
FRAME_COLUMNS = (
    "frame_sharpness",  # variance of Laplacian of the thumbnail, (gray levels)^2
    "frame_blockiness",  # boundary / interior gradient ratio, native frame
    "frame_diff",  # mean |delta gray| of the thumbnail vs previous frame
    "frame_change",  # largest mean |delta gray| of an 8x8-px cell of the thumbnail
    "frame_repeat",  # 1 if frame_change <= REPEAT_MAX_CHANGE (a repeat up to codec noise)
)
_T = {c: i for i, c in enumerate(TRACK_COLUMNS)}
# columns that compare a frame with the previous one: undefined across a shot cut
TEMPORAL_TRACK = ("temporal_diff", "luma_flicker", "hf_stability", "sharpness_jump")
TEMPORAL_FRAME = ("frame_diff", "frame_change", "frame_repeat")


# ------------------------------------------------------------------------------------
# descriptors (pure functions on uint8 / float32 images)


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    mean, std = cv2.meanStdDev(x)  # one pass, much cheaper than numpy's mean + var
    return float(mean[0, 0]), float(std[0, 0])


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a gray image, in (gray levels)^2."""
    return _mean_std(cv2.Laplacian(gray, cv2.CV_32F, ksize=1))[1] ** 2


def gradient_stats(gray: np.ndarray, edge_threshold: float) -> tuple[float, float]:
    """Tenengrad (mean squared 3x3 Sobel magnitude) and the share of pixels above ``edge_threshold``.

    Args:
        gray: (H, W) float32 gray levels 0-255.
        edge_threshold: Sobel magnitude (gray levels per pixel, Sobel gain 4 included).
    """
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    mag2 = cv2.magnitude(gx, gy)
    mag2 *= mag2
    return float(cv2.mean(mag2)[0]), cv2.countNonZero(mag2 > edge_threshold**2) / mag2.size


@lru_cache(maxsize=64)
def _band_rows(h: int, y0: int, max_bands: int) -> np.ndarray:
    """Row indices of up to ``max_bands`` evenly spread 9-row bands straddling a block boundary.

    Each band is rows ``r - 1 .. r + 7`` where ``y0 + r`` is a multiple of 8:
    its first vertical step crosses a block boundary, the other 7 do not.
    """
    first = (-y0) % BLOCK_PX or BLOCK_PX  # first crop row that starts a block (needs a row above)
    starts = np.arange(first - 1, h - BAND_ROWS + 1, BLOCK_PX)
    if len(starts) > max_bands:
        starts = starts[np.linspace(0, len(starts) - 1, max_bands).round().astype(int)]
    rows = (starts[:, None] + np.arange(BAND_ROWS)).ravel()
    rows.flags.writeable = False  # cached: shared between calls
    return rows


def band_blockiness(bands: np.ndarray, x0: int = 0) -> float:
    """Blockiness of gray 9-row bands (see :func:`_band_rows`) of an image.

    Args:
        bands: (n_bands * 9, W) uint8 gray rows at native resolution.
        x0: frame column of ``bands[:, 0]``.

    Returns:
        Mean absolute gradient across 8x8 block boundaries over the mean
        gradient inside blocks (horizontal and vertical steps pooled); ~1 for
        clean natural images, > 1 for blocky ones; NaN if too small.
    """
    n, w = bands.shape
    if n < BAND_ROWS or w < 2 * BLOCK_PX:
        return float("nan")
    # OpenCV row/column sums of uint8 absolute differences: ~5x faster than numpy here
    dx = cv2.absdiff(bands[:, 1:], bands[:, :-1])  # dx[:, j] = |g[:, j+1] - g[:, j]|
    dx_cols = cv2.reduce(dx, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    dy = cv2.absdiff(bands[1:], bands[:-1])  # dy[i] = |g[i+1] - g[i]|
    dy_rows = cv2.reduce(dy, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    dy_rows = np.append(dy_rows, 0).reshape(-1, BAND_ROWS)  # [:, 0] boundary, [:, 8] across bands
    bx = float(dx_cols[(-x0 - 1) % BLOCK_PX :: BLOCK_PX].sum())  # steps into column 8k
    n_bx = len(range((-x0 - 1) % BLOCK_PX, w - 1, BLOCK_PX))
    n_bands = dy_rows.shape[0]
    boundary = (bx + float(dy_rows[:, 0].sum())) / (n_bx * n + n_bands * w)
    inside_sum = float(dx_cols.sum()) - bx + float(dy_rows[:, 1:-1].sum())
    inside = inside_sum / ((w - 1 - n_bx) * n + n_bands * (BAND_ROWS - 2) * w)
    # BLOCKINESS_EPS keeps flat (fully quantised) areas from dividing by ~0
    return (boundary + BLOCKINESS_EPS) / (inside + BLOCKINESS_EPS)


def blockiness(gray: np.ndarray, x0: int = 0, y0: int = 0, *, max_bands: int = 16) -> float:
    """Blockiness of a gray image whose top-left pixel sits at frame position ``(x0, y0)``.

    8x8 block boundaries lie between frame pixels ``8k - 1`` and ``8k``.  At
    most ``max_bands`` 9-row bands are read (see :func:`band_blockiness`).
    """
    return band_blockiness(gray[_band_rows(gray.shape[0], y0, max_bands)], x0)


def noise_sigma(gray: np.ndarray, *, max_rows: int = NOISE_MAX_ROWS) -> float:
    """Gaussian noise sigma (gray levels) from the MAD of the diagonal Haar detail band.

    The orthonormal Haar HH coefficient ``(a - b - c + d) / 2`` of a 2x2 block
    has the noise's variance and little image content (Donoho & Johnstone 1994;
    ``skimage.restoration.estimate_sigma``).  The 2x2 blocks start at even
    pixels, so they never straddle an 8x8 codec block boundary.  Big images
    are read every n-th row pair, ``max_rows`` rows at most.  This is the
    noise of the *luma*: noise drawn independently in R, G and B reaches it
    attenuated (by 0.67 for equal sigmas).
    """
    h, w = (gray.shape[0] // 2) * 2, (gray.shape[1] // 2) * 2
    if h < 4 or w < 4:
        return float("nan")
    step = 2 * max(1, h // max_rows)
    top = gray[0:h:step, :w].astype(np.int16)
    bot = gray[1:h:step, :w].astype(np.int16)
    hh2 = np.abs(top[:, 0::2] - top[:, 1::2] - bot[:, 0::2] + bot[:, 1::2]).ravel()  # 2 |HH|
    return 0.5 * _grouped_median(hh2) * HAAR_MAD_TO_SIGMA


def _grouped_median(values: np.ndarray) -> float:
    """Median of non-negative integers read as rounded continuous data (interpolated in its bin).

    A plain median of 8-bit differences moves in steps of 1, which is the
    whole noise range of clean compressed video; interpolating inside the
    median's bin ``[k - 0.5, k + 0.5)`` (``[0, 0.5)`` for 0) keeps the
    estimate continuous.
    """
    counts = np.bincount(values)
    cum = np.cumsum(counts)
    half = 0.5 * cum[-1]
    k = int(np.searchsorted(cum, half, side="right"))
    below = float(cum[k - 1]) if k > 0 else 0.0
    lo, width = (0.0, 0.5) if k == 0 else (k - 0.5, 1.0)
    return lo + width * (half - below) / counts[k]


def colour_stats(rgb: np.ndarray) -> tuple[float, float]:
    """Colourfulness (Hasler & Suesstrunk 2003, 0-255 scale) and mean HSV saturation (0-1).

    Args:
        rgb: (H, W, 3) uint8 (a strided view is fine).
    """
    x = np.ascontiguousarray(rgb)
    f = x.astype(np.float32)
    m_rg, s_rg = _mean_std(f[..., 0] - f[..., 1])
    m_yb, s_yb = _mean_std(0.5 * (f[..., 0] + f[..., 1]) - f[..., 2])
    colourfulness = np.hypot(s_rg, s_yb) + 0.3 * np.hypot(m_rg, m_yb)
    sat = cv2.mean(cv2.cvtColor(x, cv2.COLOR_RGB2HSV))[1] / 255.0
    return float(colourfulness), float(sat)


def aligned_box(
    box: tuple[int, int, int, int], margin: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """Expand ``(x0, y0, x1, y1)`` by ``margin`` of its size and snap it outwards to the 8x8 grid."""
    x0, y0, x1, y1 = box
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    gx0 = math.floor(max(0.0, x0 - mx) / BLOCK_PX) * BLOCK_PX
    gy0 = math.floor(max(0.0, y0 - my) / BLOCK_PX) * BLOCK_PX
    gx1 = min(width, math.ceil((x1 + mx) / BLOCK_PX) * BLOCK_PX)
    gy1 = min(height, math.ceil((y1 + my) / BLOCK_PX) * BLOCK_PX)
    return gx0, gy0, gx1, gy1


def mouth_box(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Pixel box around the lips, sized from the inter-ocular distance (None if degenerate).

    Args:
        landmarks: (478, 3) face mesh points in pixels.
        width, height: frame size in pixels.
    """
    (rx, ry), (lx, ly) = landmarks[EYE_R, :2].tolist(), landmarks[EYE_L, :2].tolist()
    (ux, uy), (dx, dy) = landmarks[LIP_UP, :2].tolist(), landmarks[LIP_LOW, :2].tolist()
    iod = math.hypot(lx - rx, ly - ry)
    cx, cy = (ux + dx) / 2, (uy + dy) / 2
    if not (math.isfinite(iod) and math.isfinite(cx) and math.isfinite(cy)) or iod < 4:
        return None
    hw, hh = MOUTH_HALF_W_IOD * iod, MOUTH_HALF_H_IOD * iod
    x0, y0 = max(0, int(cx - hw)), max(0, int(cy - hh))
    x1, y1 = min(width, math.ceil(cx + hw)), min(height, math.ceil(cy + hh))
    return (x0, y0, x1, y1) if x1 - x0 >= 4 and y1 - y0 >= 4 else None


def _gray(rgb: np.ndarray) -> np.ndarray:
    """(H, W) uint8 luma (BT.601) of an (H, W, 3) uint8 RGB image or view."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _halve_to(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Halve ``img`` (2x2 area average) while it stays at least twice ``size`` = (w, h).

    OpenCV's area resampling has a fast path for exact halving only, so
    repeated halving is the cheap anti-aliased shrink.
    """
    h, w = img.shape[:2]
    while w >= 2 * size[0] and h >= 2 * size[1]:
        w, h = w // 2, h // 2
        img = cv2.resize(img[: 2 * h, : 2 * w], (w, h), interpolation=cv2.INTER_AREA)
    return img


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` = (w, h) as float32: halving (anti-aliased), then bilinear (< 2x)."""
    img = _halve_to(img, size)
    if img.shape[1] != size[0] or img.shape[0] != size[1]:
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    return img.astype(np.float32)


def _temporal(
    cur: np.ndarray, prev: np.ndarray, sharpness: float, prev_sharp: float
) -> tuple[float, float, float, float]:
    """temporal_diff, luma_flicker, hf_stability, sharpness_jump of a crop vs the previous frame's.

    Args:
        cur, prev: float32 gray crops of the same box, same size.
        sharpness, prev_sharp: the two frames' ``sharpness`` values.
    """
    diff = float(cv2.mean(cv2.absdiff(cur, prev))[0])
    flicker = abs(float(cv2.mean(cur)[0]) - float(cv2.mean(prev)[0]))
    lap_cur = cv2.Laplacian(cur, cv2.CV_32F, ksize=1)
    stability = _corr(lap_cur, cv2.Laplacian(prev, cv2.CV_32F, ksize=1))
    jump = abs(float(np.log((sharpness + SHARPNESS_FLOOR) / (prev_sharp + SHARPNESS_FLOOR))))
    return diff, flicker, stability, jump


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-shape float32 images (1 when both are flat)."""
    ma, sa = _mean_std(a)
    mb, sb = _mean_std(b)
    if sa == 0 or sb == 0:
        return 1.0 if sa == sb else 0.0
    return (float(a.ravel() @ b.ravel()) / a.size - ma * mb) / (sa * sb)


# ------------------------------------------------------------------------------------
# visual_quality: frames -> per-track and whole-frame descriptors


@dataclass(frozen=True)
class VisualQualityConfig:
    work_size: int = 160  # px: side of the square working crop of the face
    box_margin: float = 0.1  # face box expansion, fraction of its width/height per side
    edge_threshold: float = 100.0  # Sobel magnitude counted as an edge (gray levels/px, gain 4)
    colour_side: int = 40  # px: the colour crop is subsampled to about this side

    def __post_init__(self) -> None:
        checks = (
            ("work_size", self.work_size >= 16, "an integer >= 16 (pixels)"),
            ("box_margin", 0.0 <= self.box_margin <= 1.0, "a fraction in [0, 1]"),
            ("edge_threshold", self.edge_threshold > 0, "a positive Sobel magnitude"),
            ("colour_side", self.colour_side >= 4, "an integer >= 4 (pixels)"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(
                    f"Expected visual_quality `{name}` to be {expected}, but got {getattr(self, name)!r}"
                )


@register
class VisualQuality(FrameExtractor):
    """Per-frame no-reference quality descriptors of each face track and of the whole frame."""

    name = "visual_quality"
    version = "1"
    inputs = ("video", "face_mesh")
    Config = VisualQualityConfig
    description = (
        "face-region sharpness, blockiness, noise, colour, flicker; frame sharpness/repeats"
    )

    def begin(self, info: Any) -> None:
        self._rows: list[tuple[range, dict[int, np.ndarray], np.ndarray]] = []
        self._prev_rgb: np.ndarray | None = None
        self._prev_thumb: np.ndarray | None = None
        self._prev_sharp: dict[int, float] = {}
        self._n_tracks = 0

    def update(self, rgb: np.ndarray, grid: range, state: dict[str, Any]) -> None:
        tracks: dict[int, np.ndarray] = {}
        sharp: dict[int, float] = {}
        for face in state.get("faces", []):
            k = int(face["track"])
            self._n_tracks = max(self._n_tracks, k + 1)
            vec = self._face_row(rgb, face, self._prev_sharp.get(k))
            if vec is not None:
                tracks[k] = vec
                sharp[k] = float(vec[_T["sharpness"]])
        self._rows.append((grid, tracks, self._frame_row(rgb)))
        # only a reference: the decoder hands out a new array per frame
        self._prev_rgb, self._prev_sharp = rgb, sharp

    def _face_row(
        self, rgb: np.ndarray, face: dict[str, Any], prev_sharp: float | None
    ) -> np.ndarray | None:
        """(len(TRACK_COLUMNS),) descriptors of one face, or None if its box is too small."""
        cfg = self.config
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = aligned_box(face["box"], cfg.box_margin, w, h)
        if x1 - x0 < 2 * BLOCK_PX or y1 - y0 < 2 * BLOCK_PX:
            return None
        native = _gray(rgb[y0:y1, x0:x1])  # gray of the crop only: cheaper than the frame's
        work = _resize(native, (cfg.work_size, cfg.work_size))
        sharpness = laplacian_variance(work)
        # half the working size is plenty for the coarser measures and quarters their cost
        half = (cfg.work_size // 2, cfg.work_size // 2)
        small = _resize(native, half)
        ten, edges = gradient_stats(small, cfg.edge_threshold)
        brightness, contrast = _mean_std(small)
        mbox = mouth_box(face["landmarks"], w, h)
        mouth = np.nan
        if mbox is not None:
            mouth_rgb = rgb[mbox[1] : mbox[3], mbox[0] : mbox[2]]
            mouth = laplacian_variance(_resize(_gray(mouth_rgb), MOUTH_SIZE))
        step = max(1, min(y1 - y0, x1 - x0) // cfg.colour_side)
        colourful, sat = colour_stats(rgb[y0:y1:step, x0:x1:step])
        temporal = (np.nan,) * 4
        prev_rgb = self._prev_rgb
        if prev_rgb is not None and prev_rgb.shape == rgb.shape and prev_sharp is not None:
            # the previous frame cropped at *this* box: box jitter is no change
            prev = _resize(_gray(prev_rgb[y0:y1, x0:x1]), half)
            temporal = _temporal(small, prev, sharpness, prev_sharp)
        row = (
            (sharpness, ten, mouth, blockiness(native, x0, y0), noise_sigma(native))
            + (brightness, contrast, colourful, sat, edges)
            + temporal
            + (float(face["box"][2] - face["box"][0]),)
        )
        return np.asarray(row, dtype=np.float32)

    def _frame_row(self, rgb: np.ndarray) -> np.ndarray:
        """(len(FRAME_COLUMNS),) whole-frame descriptors."""
        h, w = rgb.shape[:2]
        small = _gray(_halve_to(rgb, (THUMB_SIDE, THUMB_SIDE)))
        scale = THUMB_SIDE / min(h, w)
        thumb = _resize(small, (max(1, round(w * scale)), max(1, round(h * scale))))
        diff = change = repeat = np.nan
        if self._prev_thumb is not None and self._prev_thumb.shape == thumb.shape:
            d = cv2.absdiff(thumb, self._prev_thumb)
            diff = float(cv2.mean(d)[0])
            # codec noise averages out within a cell, motion (even of the mouth alone) does not
            cells = (max(1, d.shape[1] // REPEAT_CELL_PX), max(1, d.shape[0] // REPEAT_CELL_PX))
            change = float(cv2.resize(d, cells, interpolation=cv2.INTER_AREA).max())
            repeat = float(change <= REPEAT_MAX_CHANGE)
        self._prev_thumb = thumb
        bands = _gray(rgb[_band_rows(h, 0, FRAME_MAX_BANDS)])
        block = band_blockiness(bands)
        row = (laplacian_variance(thumb), block, diff, change, repeat)
        return np.array(row, dtype=np.float32)

    def finish(self, n_grid: int) -> FeatureBlock:
        n_tracks = max(1, self._n_tracks)
        tracks = np.full((n_tracks, n_grid, len(TRACK_COLUMNS)), np.nan, dtype=np.float32)
        frame = np.full((n_grid, len(FRAME_COLUMNS)), np.nan, dtype=np.float32)
        for grid, rows, frame_row in self._rows:
            sl = slice(grid.start, min(grid.stop, n_grid))
            frame[sl] = frame_row
            for k, vec in rows.items():
                tracks[k, sl] = vec
        self._rows, self._prev_rgb, self._prev_thumb = [], None, None
        sequences = {f"track{k}": tracks[k] for k in range(n_tracks)}
        sequences["frame"] = frame
        columns = {f"track{k}": list(TRACK_COLUMNS) for k in range(n_tracks)}
        columns["frame"] = list(FRAME_COLUMNS)
        return FeatureBlock(
            name=self.name, sequences=sequences, columns=columns, meta={"n_tracks": n_tracks}
        )


# ------------------------------------------------------------------------------------
# visual: the speaker's track -> model sequence + clip statistics

LOG_COLUMNS = ("sharpness", "tenengrad", "mouth_sharpness")  # heavy-tailed: log1p for the model
# clip stat name -> (source column, reducer over frames with a face)
_STAT_SOURCES = {
    "sharpness": ("sharpness", "median"),
    "mouth_sharpness": ("mouth_sharpness", "median"),
    "tenengrad": ("tenengrad", "median"),
    "blockiness": ("blockiness", "median"),
    "noise_sigma": ("noise_sigma", "median"),
    "temporal_flicker": ("temporal_diff", "median"),
    "temporal_flicker_p95": ("temporal_diff", "p95"),
    "luma_flicker": ("luma_flicker", "median"),
    "hf_stability": ("hf_stability", "median"),
    "sharpness_jump": ("sharpness_jump", "median"),
    "brightness": ("brightness", "median"),
    "contrast": ("contrast", "median"),
    "colourfulness": ("colourfulness", "median"),
    "saturation": ("saturation", "median"),
    "edge_density": ("edge_density", "median"),
}


@dataclass(frozen=True)
class VisualConfig:
    """``visual`` has no options: it only selects and summarises ``visual_quality``."""


def _reduce(x: np.ndarray, how: str) -> float:
    x = x[np.isfinite(x)]
    if not len(x):
        return float("nan")
    return float(np.median(x) if how == "median" else np.percentile(x, 95))


def _per_second(x: np.ndarray) -> np.ndarray:
    n = int(np.ceil(len(x) / ANALYSIS_RATE))
    pad = np.pad(x.astype(np.float64), (0, n * ANALYSIS_RATE - len(x)), constant_values=np.nan)
    out = np.full(n, np.nan)
    blocks = pad.reshape(n, ANALYSIS_RATE)
    ok = np.isfinite(blocks).any(axis=1)
    out[ok] = np.nanmean(blocks[ok], axis=1)
    return out.astype(np.float32)


@register
class Visual(DerivedExtractor):
    """The speaking face's visual-quality track as the model's ``visual`` sequence.

    ``sequences["visual"]`` (T, 20): the 15 track columns (``sharpness``,
    ``tenengrad`` and ``mouth_sharpness`` as ``log1p``, prefixed ``log_``; NaN
    where the speaker's face is absent) followed by the 5 whole-frame columns.
    Stats are medians over frames with a face (``temporal_flicker_p95`` the
    95th percentile) plus ``frame_repeat_ratio`` (share of 25 Hz slots whose
    decoded frame repeats its predecessor: frozen video, duplicated frames),
    ``frame_sharpness`` and ``frame_blockiness``.
    """

    name = "visual"
    version = "2"  # 2: no frame-to-frame change across a shot cut; a face relayed by tracks
    inputs = ("visual_quality", "face", "shots")
    Config = VisualConfig
    description = "speaker's face-region quality sequence and clip statistics"

    def compute(self, inputs: dict[str, Any]) -> FeatureBlock:
        vq: FeatureBlock = inputs["visual_quality"]
        face: FeatureBlock = inputs["face"]
        frame = vq.sequences["frame"]
        key = f"track{int(face.meta.get('speaker_track', 0))}"
        track = vq.sequences.get(key)
        if track is None:  # the speaker was never measured (e.g. box too small)
            track = np.full((len(frame), len(TRACK_COLUMNS)), np.nan, dtype=np.float32)
        owner = face.sequences.get("track", np.zeros((0, 1)))[: len(frame), 0]
        relay = np.unique(owner[np.isfinite(owner)]).astype(int)
        if len(relay) > 1:  # one face at a time on several tracks: each frame's own
            track = np.full((len(frame), len(TRACK_COLUMNS)), np.nan, dtype=np.float32)
            for k in relay:
                rows = np.flatnonzero(owner == k)
                src = vq.sequences.get(f"track{k}")
                if src is not None:
                    track[rows] = src[rows]
            key = "+".join(f"track{k}" for k in relay)
        cut_slots = inputs["shots"].meta.get("cut_slots", [])
        if cut_slots:  # the change against the previous frame is another picture's: unmeasured
            frame, track = frame.copy(), track.copy()
            for a, b in cut_slots:
                frame[a:b, [FRAME_COLUMNS.index(c) for c in TEMPORAL_FRAME]] = np.nan
                track[a:b, [_T[c] for c in TEMPORAL_TRACK]] = np.nan
        col = {c: track[:, i] for i, c in enumerate(TRACK_COLUMNS)}
        model_track = track.copy()
        for c in LOG_COLUMNS:
            model_track[:, _T[c]] = np.log1p(np.maximum(track[:, _T[c]], 0.0))
        names = [f"log_{c}" if c in LOG_COLUMNS else c for c in TRACK_COLUMNS]
        seq = np.concatenate([model_track, frame], axis=1).astype(np.float32)
        stats = {name: _reduce(col[src], how) for name, (src, how) in _STAT_SOURCES.items()}
        fcol = {c: frame[:, i] for i, c in enumerate(FRAME_COLUMNS)}
        stats["frame_repeat_ratio"] = _reduce_mean(fcol["frame_repeat"])
        stats["frame_sharpness"] = _reduce(fcol["frame_sharpness"], "median")
        stats["frame_blockiness"] = _reduce(fcol["frame_blockiness"], "median")
        return FeatureBlock(
            name=self.name,
            sequences={"visual": seq},
            columns={"visual": names + list(FRAME_COLUMNS)},
            stats=stats,
            curves={
                "sharpness": _per_second(col["sharpness"]),
                "temporal_flicker": _per_second(col["temporal_diff"]),
            },
            meta={"track": key},
        )


def _reduce_mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else float("nan")


# ------------------------------------------------------------------------------------
# shots: whole-frame change -> shot cuts


@dataclass(frozen=True)
class ShotsConfig:
    """A cut is a newly decoded frame whose thumbnail changes by at least ``min_diff`` gray
    levels (mean |delta|) *and* ``min_ratio`` times (1 + the median change of the moving frames
    within ``window`` frames each side); cuts that would leave a shot shorter than
    ``min_shot_frames`` are dropped.  On the 81 shared single-shot clips the largest change is
    26.5 levels (2.6x its neighbourhood; fast motion) and the largest ratio 7.1x (12.6 levels);
    a cut between two GRID speakers changes 33.9 levels, 26x its neighbourhood."""

    min_diff: float = 15.0
    min_ratio: float = 10.0
    window: int = 12  # frames (about 0.5 s)
    min_shot_frames: int = 25  # 1 s

    def __post_init__(self) -> None:
        checks = (
            ("min_diff", self.min_diff > 0, "positive (gray levels)"),
            ("min_ratio", self.min_ratio >= 1, ">= 1"),
            ("window", self.window >= 1, "an integer >= 1 (frames)"),
            ("min_shot_frames", self.min_shot_frames >= 1, "an integer >= 1 (frames)"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(
                    f"Expected shots `{name}` to be {expected}, but got {getattr(self, name)!r}"
                )


def shot_cuts(
    diff: np.ndarray, new_frame: np.ndarray, repeat: np.ndarray, cfg: ShotsConfig
) -> list[int]:
    """Grid indices where a new shot starts (see :class:`ShotsConfig`).

    Args:
        diff: (T,) ``frame_diff`` per grid slot (a held frame repeats its decoded frame's row).
        new_frame: (T,) bool, the slot starts a newly decoded frame.
        repeat: (T,) ``frame_repeat`` (1: the decoded frame repeats its predecessor).
    """
    n = len(diff)
    moving = new_frame & np.isfinite(diff) & ~(repeat > 0.5)
    kept: list[int] = []
    for t in np.flatnonzero(moving & (np.nan_to_num(diff) >= cfg.min_diff)):
        lo, hi = max(0, t - cfg.window), min(n, t + cfg.window + 1)
        near = np.flatnonzero(moving[lo:hi]) + lo
        near = near[near != t]
        local = float(np.median(diff[near])) if len(near) else 0.0
        if diff[t] < cfg.min_ratio * (1.0 + local):
            continue
        if t - (kept[-1] if kept else 0) >= cfg.min_shot_frames and n - t >= cfg.min_shot_frames:
            kept.append(int(t))
    return kept


@register
class Shots(DerivedExtractor):
    """Shot cuts from the whole-frame thumbnail change (``visual_quality``'s ``frame_diff``).

    ``sequences["shot"]`` (T, 1): the shot index of each frame (0, 1, ...).  Stats:
    ``n_shots``.  Meta: ``cuts``, the grid indices where shots 1, 2, ... start, and
    ``cut_slots``, the ``[start, stop)`` grid slots of each shot's first decoded frame.  The
    action units take their neutral face per shot, and ``visual`` leaves the frame-to-frame
    change at a cut unmeasured, so that a cut from one person to another does not read as an
    expression or a flicker.
    """

    name = "shots"
    version = "1"
    inputs = ("visual_quality", "face_mesh")
    Config = ShotsConfig
    description = "shot cuts from whole-frame change"

    def compute(self, inputs: dict[str, Any]) -> FeatureBlock:
        frame = inputs["visual_quality"].sequences["frame"]
        col = {c: frame[:, i] for i, c in enumerate(FRAME_COLUMNS)}
        new_frame = inputs["face_mesh"].sequences["new_frame"][: len(frame), 0] > 0.5
        cuts = shot_cuts(col["frame_diff"], new_frame, col["frame_repeat"], self.config)
        shot = np.zeros((len(frame), 1), dtype=np.float32)
        cut_slots = []
        for c in cuts:
            shot[c:] += 1.0
            later = np.flatnonzero(new_frame[c + 1 :])  # the cut frame may hold several slots
            cut_slots.append([c, c + 1 + int(later[0]) if len(later) else len(frame)])
        return FeatureBlock(
            name=self.name,
            sequences={"shot": shot},
            columns={"shot": ["shot_index"]},
            stats={"n_shots": float(len(cuts) + 1)},
            meta={"cuts": cuts, "cut_slots": cut_slots},
        )
