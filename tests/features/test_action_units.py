"""Action units from landmark geometry: known deformations of the canonical face."""

from __future__ import annotations

import numpy as np
import pytest

from tfqa.features import action_units as au_mod
from tfqa.features.action_units import AU_NAMES, ActionUnits, detect_blinks
from tfqa.features.base import FeatureBlock, create_extractor
from tfqa.features.landmarks import BROWS, canonical_face

OPENFACE_AU_R = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
                 "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45"]  # fmt: skip
BROW_AUS = ["AU01", "AU02", "AU04"]
JITTER_IOD = 0.002  # landmark noise (IOD units), about MediaPipe's frame-to-frame jitter


def still_face(n: int, seed: int = 0) -> np.ndarray:
    """(n, 468, 3) canonical face with small seeded landmark jitter."""
    rng = np.random.default_rng(seed)
    kp = np.repeat(canonical_face()[None].astype(np.float64), n, axis=0)
    return kp + rng.normal(0.0, JITTER_IOD, kp.shape)


def run(kp: np.ndarray, cuts: tuple[int, ...] = ()) -> FeatureBlock:
    face = FeatureBlock(name="face", sequences={"keypoints": kp.reshape(len(kp), -1)})
    shots = FeatureBlock(name="shots", meta={"cuts": list(cuts)})
    return ActionUnits().compute({"face": face, "shots": shots})


def col(block: FeatureBlock, name: str) -> np.ndarray:
    return block.sequences["au"][:, AU_NAMES.index(name)]


def test_contract_shapes_and_names():
    block = run(still_face(60))
    assert block.sequences["au"].shape == (60, 17)
    assert block.columns["au"] == OPENFACE_AU_R
    assert np.nanmin(block.sequences["au"]) >= 0 and np.nanmax(block.sequences["au"]) <= 5
    for key in ("blink_rate_per_min", "blink_count", "expression_activity", "AU12_mean"):
        assert key in block.stats
    assert set(block.curves) == {"AU45", "AU12", "AU26"}
    assert block.curves["AU45"].shape == (3,)
    assert create_extractor("action_units").name == "action_units"


def test_jaw_drop_raises_au25_au26_not_brows():
    kp = still_face(150)
    ref = canonical_face()
    lower = ref[:, 1] > 0.68  # below the upper inner lip (y 0.634): lower lip, chin, jaw
    ramp = np.clip((ref[:, 1] - 0.68) / 0.07, 0.0, 1.0)  # the lower lip (y 0.75) moves fully
    kp[50:100, lower, 1] += 0.15 * ramp[lower]
    block = run(kp)
    for name in ("AU25", "AU26"):
        assert col(block, name)[50:100].mean() > 1.5, name
        assert col(block, name)[:50].mean() < 0.3, name
    for name in BROW_AUS:
        assert np.nanmax(col(block, name)) < 0.5, name


def close_eyes(kp: np.ndarray, frames: slice) -> None:
    """Move the upper lids onto the lower lids (full closure) in ``frames``."""
    for side in (0, 1):
        for up, lo in zip(au_mod.UPPER_LID[side], au_mod.LOWER_LID[side], strict=True):
            kp[frames, up, 1] = kp[frames, lo, 1]


def test_blinks_every_three_seconds_give_count_and_rate():
    n = 15 * 25  # 15 s at 25 Hz
    kp = still_face(n, seed=1)
    for start in range(30, n, 75):  # a 4-frame blink every 3 s: frames 30, 105, ..., 330
        close_eyes(kp, slice(start, start + 4))
    block = run(kp)
    assert block.stats["blink_count"] == 5
    assert block.stats["blink_rate_per_min"] == pytest.approx(20.0)
    assert block.meta["blinks"][0] == (30, 34)
    assert col(block, "AU45")[31] > 4.0


def test_blink_rate_counts_only_minutes_with_a_face():
    n = 15 * 25
    kp = still_face(n, seed=2)
    for start in range(30, n, 75):
        close_eyes(kp, slice(start, start + 4))
    kp[200:250] = np.nan  # face lost for 2 s, between blinks
    block = run(kp)
    assert np.isnan(block.sequences["au"][200:250]).all()
    assert np.isfinite(block.sequences["au"][:200]).all()
    assert block.stats["blink_count"] == 5
    assert block.stats["blink_rate_per_min"] == pytest.approx(5 / (13 / 60))


def test_detect_blinks_hysteresis_and_duration():
    x = np.zeros(100)
    x[10] = 5.0  # one frame: noise, not a blink
    x[20:24] = [1.5, 3.0, 3.5, 1.2]  # a blink: crosses high, stays above low 4 frames
    x[40:43] = [1.5, 1.8, 1.5]  # never reaches high
    x[60:80] = 4.0  # 20 frames closed: not a blink
    x[90:93] = [2.5, np.nan, 2.5]  # NaN splits it into 1-frame runs
    assert detect_blinks(x, high=2.0, low=1.0, min_frames=2, max_frames=12) == [(20, 24)]


def test_brow_raise_raises_au01_au02_only_in_those_frames():
    kp = still_face(150, seed=3)
    kp[50:100, BROWS, 1] -= 0.06  # brows 6 mm up (y down)
    block = run(kp)
    for name in ("AU01", "AU02"):
        assert col(block, name)[50:100].mean() > 2.5, name
        assert col(block, name)[:50].mean() < 0.3, name
    assert col(block, "AU04")[50:100].max() < 0.3


def test_lip_corners_up_and_out_raise_au12_not_au15():
    kp = still_face(150, seed=4)
    for idx, sign in ((au_mod.LIP_CORNER[0], -1), (au_mod.LIP_CORNER[1], 1)):
        kp[50:100, idx, 1] -= 0.04  # up
        kp[50:100, idx, 0] += sign * 0.03  # out
    block = run(kp)
    assert col(block, "AU12")[50:100].mean() > 2.0
    assert col(block, "AU12")[:50].mean() < 0.3
    assert col(block, "AU15")[50:100].max() < 0.3
    assert block.stats["expression_activity"] > 0


def test_bad_blink_config_is_refused():
    from tfqa.errors import ConfigError

    with pytest.raises(ConfigError, match="blink_low < blink_high"):
        create_extractor("action_units", blink_low=3.0, blink_high=2.0)


def test_each_shot_has_its_own_neutral_face():
    """Two people, one cut: B's neutral face has the lip corners 0.03 IOD higher (what AU12
    measures).  With one clip-wide baseline B reads as smiling all through; per shot, neither
    does, and each shot reads as it does alone."""
    a = still_face(90, seed=1)  # the longer shot sets a clip-wide median
    b = still_face(60, seed=2)
    b[:, list(au_mod.LIP_CORNER), 1] -= 0.03  # y down: corners raised
    joined = np.concatenate([a, b])
    alone = [run(a), run(b)]
    per_clip, per_shot = run(joined), run(joined, cuts=(90,))
    assert np.nanmean(col(per_clip, "AU12")[90:]) > 1.0  # B "smiles" against A's neutral
    np.testing.assert_array_equal(
        col(per_shot, "AU12"), np.concatenate([col(x, "AU12") for x in alone])
    )
    assert np.nanmean(col(per_shot, "AU12")) < 0.3
