import numpy as np
import pytest

from tfqa.synth.face import LOWER_LIP_OUTER, load_face
from tfqa.synth.render import CAVITY_RGB, FrameRenderer, Pose
from tfqa.synth.rig import build_rig_cached


@pytest.fixture(scope="module")
def renderer():
    photo = load_face(None, 256, 256)
    return FrameRenderer(photo, build_rig_cached(photo))


def _mouth_box(renderer):
    lm = renderer.photo.landmarks
    x0, y0 = lm[61] - 2
    x1 = lm[291][0] + 2
    y1 = lm[LOWER_LIP_OUTER[5]][1] + 0.3 * renderer.photo.eye_distance_px
    return slice(int(y0), int(y1)), slice(int(x0), int(x1))


def _dark_pixels(frame, box):
    patch = frame[box].astype(float)
    return int((np.abs(patch - CAVITY_RGB).sum(axis=-1) < 30).sum())


def test_rest_pose_is_the_photo(renderer):
    np.testing.assert_array_equal(renderer.render(0.0, 0.0, Pose()), renderer.photo.image)


def test_mouth_opens_with_the_track(renderer):
    box = _mouth_box(renderer)
    dark = [_dark_pixels(renderer.render(m, 0.0, Pose()), box) for m in (0.0, 0.3, 0.6, 1.0)]
    assert dark[0] < 10  # the photo's own shadows
    assert dark[0] + 10 < dark[1] < dark[2] < dark[3]


def test_jaw_moves_the_lower_face_only(renderer):
    rig = renderer.rig
    lm = renderer.photo.landmarks

    def disp_at(point):
        i, j = (np.round((point - (rig.step - 1) / 2) / rig.step)).astype(int)[::-1]
        return rig.jaw[i, j]

    chin_dy = -disp_at(lm[152])[1]  # backward field: the chin region samples from above
    assert chin_dy > 0.5 * 0.2 * renderer.photo.eye_distance_px * 0.5
    assert np.abs(disp_at(lm[10])).max() < 0.5  # forehead stays
    assert np.abs(rig.jaw[0]).max() < 0.05 and np.abs(rig.jaw[-1]).max() < 0.05  # frame border


def test_blink_closes_the_eyes(renderer):
    lm = renderer.photo.landmarks
    eye = slice(int(lm[159][1]) - 1, int(lm[145][1]) + 2), slice(int(lm[33][0]), int(lm[133][0]))
    open_eye = renderer.render(0.0, 0.0, Pose())[eye].astype(float)
    closed = renderer.render(0.0, 1.0, Pose())[eye].astype(float)
    # Iris and lashes are the darkest pixels of the eye box; a closed lid covers them.
    assert closed.mean() > open_eye.mean() + 10
    half = renderer.render(0.0, 0.5, Pose())[eye].astype(float)
    assert open_eye.mean() < half.mean() < closed.mean()


def test_head_motion_moves_the_face_not_the_corners(renderer):
    still = renderer.render(0.0, 0.0, Pose()).astype(float)
    moved = renderer.render(0.0, 0.0, Pose(2.0, 3.0, -2.0)).astype(float)
    lm = renderer.photo.landmarks.astype(int)
    face = (slice(lm[10][1], lm[152][1]), slice(lm[234][0], lm[454][0]))
    assert np.abs(moved[face] - still[face]).mean() > 5
    assert np.abs(moved[:10, :10] - still[:10, :10]).max() == 0


def test_blur_lowers_sharpness():
    import cv2

    photo = load_face(None, 256, 256)
    sharp = FrameRenderer(photo, build_rig_cached(photo)).render(0.5, 0.0, Pose())
    blurred = FrameRenderer(photo, build_rig_cached(photo), blur_sigma=2.0).render(0.5, 0.0, Pose())
    lap = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()  # noqa: E731
    assert lap(blurred) < 0.3 * lap(sharp)


@pytest.mark.parametrize(("width", "height"), [(128, 128), (1920, 1080)])
def test_other_sizes_render(width, height):
    photo = load_face(None, width, height)
    frame = FrameRenderer(photo, build_rig_cached(photo)).render(0.8, 0.3, Pose(1.0, 2.0, 1.0))
    assert frame.shape == (height, width, 3) and frame.dtype == np.uint8
