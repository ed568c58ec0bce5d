"""The still face: load a photo, find its landmarks once, crop and resize it around the face.

The default face is the astronaut portrait that ships inside scikit-image
(``skimage.data.astronaut()``, public domain, NASA), so no third-party media is
needed.  Landmarks come from MediaPipe face mesh (478 points incl. irises).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tfqa.errors import FileMissingError, InputError, NoFaceError

DEFAULT_FACE = "astronaut"  # name recorded in the truth for the built-in photo
N_LANDMARKS = 478  # MediaPipe face mesh with refined eyes/irises

# Landmark indices (MediaPipe face mesh topology), ordered image-left to image-right.
LEFT_EYE_CORNER, RIGHT_EYE_CORNER = 33, 263  # outer eye corners (image left / right)
UPPER_LIP_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_LIP_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_LIP_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_LIP_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54,
             103, 67, 109)  # fmt: skip
CHIN = 152
FOREHEAD = 10

# Crop: the face (landmark box) takes this share of the frame height; the crop is
# centred a little below the face centre so the chin and neck are in view.
FACE_HEIGHT_SHARE = 0.46
CROP_CENTRE_DOWN = 0.08  # of the face height
MAX_ZOOM = 1.6  # a tightly framed photo may show the face up to 1.6x larger than that


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (the rig cache keys on it)
class FacePhoto:
    """A face photo at the output size and its landmarks.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB, read-only.
        landmarks: ``(478, 2)`` float32 pixel coordinates ``(x, y)`` in ``image``.
        source: ``"astronaut"`` or the photo's path.
        crop: ``(2, 3)`` affine from source-photo pixels to ``image`` pixels.
    """

    image: np.ndarray
    landmarks: np.ndarray
    source: str
    crop: np.ndarray

    @property
    def eye_distance_px(self) -> float:
        """Outer-eye-corner distance, the face's scale."""
        return float(
            np.linalg.norm(self.landmarks[RIGHT_EYE_CORNER] - self.landmarks[LEFT_EYE_CORNER])
        )


def load_face(face: str | Path | None, width: int, height: int) -> FacePhoto:
    """Load a face photo cropped around the face to ``width`` x ``height`` pixels.

    Results are cached per (photo, modification time, size): building many clips
    from one photo finds its landmarks once.

    Raises:
        FileMissingError: the photo does not exist.
        InputError: the file is not a readable image.
        NoFaceError: no face is found in the photo.
    """
    if face is None:
        return _load_cached(DEFAULT_FACE, 0, width, height)
    path = Path(face)
    if not path.is_file():
        raise FileMissingError(
            "face photo not found", path=path, hint="Pass an existing image file"
        )
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns, width, height)


@functools.lru_cache(maxsize=8)
def _load_cached(source: str, _mtime_ns: int, width: int, height: int) -> FacePhoto:
    rgb = _read_rgb(source)
    landmarks = detect_landmarks(rgb)
    if landmarks is None:
        raise NoFaceError(
            "no face found in the photo",
            path=None if source == DEFAULT_FACE else source,
            hint="Use a frontal photo with one clearly visible face",
        )
    crop = crop_transform(landmarks, width, height, rgb.shape)
    image = cv2.warpAffine(
        rgb, crop, (width, height), flags=_interpolation(crop), borderMode=cv2.BORDER_REFLECT_101
    )
    points = (landmarks @ crop[:, :2].T + crop[:, 2]).astype(np.float32)
    image.setflags(write=False)
    points.setflags(write=False)
    return FacePhoto(image, points, source, crop)


def _read_rgb(source: str) -> np.ndarray:
    if source == DEFAULT_FACE:
        from skimage import data

        return np.ascontiguousarray(data.astronaut()[..., :3])
    bgr = cv2.imread(source, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(
            "not a readable image", path=source, hint="Pass a PNG/JPEG photo of one face"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def detect_landmarks(rgb: np.ndarray) -> np.ndarray | None:
    """MediaPipe face mesh landmarks of the most prominent face.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB.

    Returns:
        ``(478, 2)`` float64 pixel coordinates, or ``None`` when no face is found.
    """
    import mediapipe as mp  # heavy import; only needed once per photo

    from tfqa._mediapipe import quiet_native_stderr, settled

    with quiet_native_stderr():  # its start-up chatter; one photo, so the whole call
        mesh = settled(
            mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, refine_landmarks=True, max_num_faces=1
            )
        )
        with mesh:
            found = mesh.process(np.ascontiguousarray(rgb))
    if not found.multi_face_landmarks:
        return None
    h, w = rgb.shape[:2]
    pts = found.multi_face_landmarks[0].landmark
    return np.array([[p.x * w, p.y * h] for p in pts], np.float64)


def crop_transform(
    landmarks: np.ndarray, width: int, height: int, photo_shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """Scale + translation putting the face at a fixed size and place in the output frame.

    The face's landmark box height becomes ``FACE_HEIGHT_SHARE`` of the output's
    shorter side, centred.  When ``photo_shape`` is given, the window zooms in (face
    up to ``MAX_ZOOM`` times larger) until it fits inside the photo, then slides to
    stay inside it; what is still outside is filled by mirroring.

    Returns:
        ``(2, 3)`` float64 affine (source pixels -> output pixels).
    """
    lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
    face_h = hi[1] - lo[1]
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2 + CROP_CENTRE_DOWN * face_h])
    scale = FACE_HEIGHT_SHARE * min(height, width) / face_h
    if photo_shape is not None:
        limit = np.array([photo_shape[1], photo_shape[0]], np.float64)
        # A tightly framed photo: zoom in (up to MAX_ZOOM) rather than invent borders.
        fit = max(width / limit[0], height / limit[1])
        scale = max(scale, min(fit, MAX_ZOOM * scale))
        half = np.array([width, height]) / (2 * scale)  # half window size in photo pixels
        fits = 2 * half <= limit + 1e-6
        centre = np.where(fits, np.clip(centre, half, limit - half), centre)
    shift = np.array([width / 2, height / 2]) - scale * centre
    return np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]]])


def _interpolation(crop: np.ndarray) -> int:
    # Area averaging when shrinking avoids aliasing; cubic when enlarging keeps edges.
    return cv2.INTER_AREA if crop[0, 0] < 1.0 else cv2.INTER_CUBIC
