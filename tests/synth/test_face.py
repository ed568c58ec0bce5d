import cv2
import numpy as np
import pytest

from tfqa.errors import FileMissingError, InputError, NoFaceError
from tfqa.synth.face import (
    FACE_HEIGHT_SHARE,
    LEFT_EYE_CORNER,
    MAX_ZOOM,
    N_LANDMARKS,
    RIGHT_EYE_CORNER,
    crop_transform,
    load_face,
)


@pytest.mark.parametrize(("width", "height"), [(128, 128), (256, 256), (320, 240), (240, 320)])
def test_astronaut_is_cropped_around_the_face(width, height):
    photo = load_face(None, width, height)
    assert photo.image.shape == (height, width, 3) and photo.image.dtype == np.uint8
    assert photo.landmarks.shape == (N_LANDMARKS, 2)
    lo, hi = photo.landmarks.min(axis=0), photo.landmarks.max(axis=0)
    assert (lo > 0).all() and hi[0] < width and hi[1] < height
    centre = (lo + hi) / 2
    assert abs(centre[0] - width / 2) < 0.1 * width  # face centred horizontally
    eyes = photo.landmarks[RIGHT_EYE_CORNER, 0] - photo.landmarks[LEFT_EYE_CORNER, 0]
    assert 0.15 * min(width, height) < eyes < 0.4 * min(width, height)


def test_landmarks_scale_with_the_output_size():
    small, large = load_face(None, 256, 256), load_face(None, 1024, 1024)
    assert large.eye_distance_px == pytest.approx(4 * small.eye_distance_px, rel=0.01)


def test_loading_is_cached():
    assert load_face(None, 256, 256) is load_face(None, 256, 256)


def test_user_photo_is_used(tmp_path):
    from skimage import data

    path = tmp_path / "me.png"
    flipped = np.ascontiguousarray(data.astronaut()[:, ::-1])  # a different photo of a face
    cv2.imwrite(str(path), cv2.cvtColor(flipped, cv2.COLOR_RGB2BGR))
    photo = load_face(path, 256, 256)
    assert photo.source == str(path.resolve())
    assert not np.array_equal(photo.image, load_face(None, 256, 256).image)


def test_photo_without_a_face_is_a_no_face_error(tmp_path):
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), np.full((300, 300, 3), 128, np.uint8))
    with pytest.raises(NoFaceError, match="no face"):
        load_face(path, 256, 256)


def test_missing_and_unreadable_photos(tmp_path):
    with pytest.raises(FileMissingError):
        load_face(tmp_path / "nope.png", 256, 256)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="not a readable image"):
        load_face(bad, 256, 256)


@pytest.mark.parametrize("photo_side", [160, 300, 1000])
def test_crop_stays_inside_the_photo_when_it_can(photo_side):
    # a face box 100 px tall centred in a square photo
    c = photo_side / 2
    landmarks = np.array([[c - 40, c - 50], [c + 40, c + 50]])
    crop = crop_transform(landmarks, 256, 256, (photo_side, photo_side, 3))
    scale, shift = crop[0, 0], crop[:, 2]
    window = (np.array([[0, 0], [256, 256]]) - shift) / scale  # output corners in the photo
    face_share = 100 * scale / 256
    # within MAX_ZOOM: the tightest case, a 160 px photo, needs a 1.36x zoom to fit
    assert (window >= -1e-6).all() and (window <= photo_side + 1e-6).all()
    assert FACE_HEIGHT_SHARE - 1e-9 <= face_share <= MAX_ZOOM * FACE_HEIGHT_SHARE + 1e-9
