"""Zero-shot rules: monotone, anchored where the docs say, combined by a soft minimum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tfqa import calibration as cal
from tfqa.scoring import DIMENSIONS, zero_shot_scores


@pytest.mark.parametrize("name,rule", sorted(cal.all_rules().items()))
def test_every_rule_is_monotone_and_in_range(name, rule):
    xs = np.linspace(rule.anchors[0][0] - 1, rule.anchors[-1][0] + 1, 400)
    ys = np.array([rule(x) for x in xs])
    assert ys.min() >= 1.0 and ys.max() <= 5.0
    d = np.diff(ys)
    assert (d >= -1e-12).all() or (d <= 1e-12).all(), name
    assert math.isnan(rule(float("nan")))


def test_offset_rule_follows_itu_bt1359_thresholds():
    # detectability: 45 ms audio lead, 125 ms audio lag -> 4; acceptability 90 / 185 -> 3
    assert cal.offset_score(-45) == pytest.approx(4.0)
    assert cal.offset_score(125) == pytest.approx(4.0)
    assert cal.offset_score(-90) == pytest.approx(3.0)
    assert cal.offset_score(185) == pytest.approx(3.0)
    assert cal.offset_score(0) == 5.0
    # the same desync is worse when the audio leads
    assert cal.offset_score(-100) < cal.offset_score(100)


def test_soft_min_lets_the_worst_dominate():
    assert cal.soft_min([5, 5, 5]) == pytest.approx(5)
    assert cal.soft_min([5, 5, 1]) < 2.0
    assert cal.soft_min([5, 1]) < cal.soft_min([5, 3]) < cal.soft_min([5, 5])
    assert math.isnan(cal.soft_min([float("nan")]))
    assert cal.soft_min([4.0, float("nan")]) == pytest.approx(4.0)


def test_rule_rejects_non_monotone_anchors():
    with pytest.raises(ValueError):
        cal.Rule("x", ((0, 1), (1, 5), (2, 2)), "bad")


GOOD = {
    "av_offset_ms": 0.0, "sync_confidence": 0.5, "mouth_open_std": 0.04, "frozen_ratio": 0.0,
    "landmark_jitter": 0.005, "blink_rate_per_min": 18, "dnsmos_ovrl": 3.4, "clipping_ratio": 0.0,
    "bandwidth_hz": 7500, "sync_peak_corr": 0.5, "mouth_speech_silence_ratio": 1.6,
    "sharpness": 150.0, "blockiness": 1.0, "duration_s": 20.0,
}  # fmt: skip


def test_good_evidence_scores_high_and_each_defect_hits_its_dimension():
    base, _ = zero_shot_scores(GOOD)
    assert all(base[d] > 4.5 for d in DIMENSIONS)
    cases = {
        "lip_sync": {"av_offset_ms": 300.0},
        "expression": {"frozen_ratio": 0.9},
        "audio_quality": {"dnsmos_ovrl": 1.3},
        "cross_modal": {"sync_peak_corr": 0.08},
    }
    for dim, change in cases.items():
        s, _ = zero_shot_scores({**GOOD, **change})
        assert s[dim] < 2.5, (dim, s)
        assert s["overall"] < base["overall"]
    blurred, _ = zero_shot_scores({**GOOD, "sharpness": 12.0})
    assert blurred["visual_quality"] < 2.0 and blurred["overall"] < base["overall"] - 1.5
