"""Label rules: anchors from their references, monotonicity, combination, no circularity."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

from tfqa.data import labels as lab
from tfqa.errors import ConfigError


@pytest.mark.parametrize(
    ("offset_ms", "score"),
    [(0, 5.0), (125, 4.0), (185, 3.0), (-45, 4.0), (-90, 3.0), (450, 1.0), (-300, 1.0)],
)
def test_offset_anchors_follow_itu_r_bt1359(offset_ms, score):
    assert lab.offset_score(offset_ms) == pytest.approx(score)


def test_audio_lead_is_judged_more_harshly_than_lag():
    for ms in (40, 80, 120, 200, 300):
        assert lab.offset_score(-ms) < lab.offset_score(ms)


@pytest.mark.parametrize("name", sorted(lab.all_curves()))
def test_every_curve_is_monotone_and_in_range(name):
    curve = lab.all_curves()[name]
    xs = np.linspace(curve.anchors[0][0] - 1, curve.anchors[-1][0] + 1, 400)
    ys = np.array([curve(x) for x in xs])
    d = np.diff(ys)
    assert np.all(d >= -1e-12) or np.all(d <= 1e-12)
    assert ys.min() >= 1.0 and ys.max() <= 5.0
    assert curve.reference


def test_a_non_monotone_curve_is_refused():
    with pytest.raises(ConfigError, match="monotone"):
        lab.Curve("bad", "", ((0, 5), (1, 3), (2, 4)), "none")


def _emodel_reference(ppl_percent: float) -> float:
    """ITU-T G.107 computed independently: Ie = 0, Bpl = 4.3, BurstR = 1, stretched to 1-5."""
    r = 93.2 - 95 * ppl_percent / (ppl_percent + 4.3)
    mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)
    top = 1 + 0.035 * 93.2 + 7e-6 * 93.2 * 33.2 * 6.8
    return 1 + 4 * (mos - 1) / (top - 1)


@pytest.mark.parametrize("share", [0.0, 0.02, 0.05, 0.1, 0.2])
def test_packet_loss_follows_the_e_model(share):
    assert lab.packet_loss_score(share) == pytest.approx(_emodel_reference(100 * share))


def test_packet_loss_known_points():
    assert lab.packet_loss_score(0.0) == pytest.approx(5.0)
    assert 3.5 < lab.packet_loss_score(0.02) < 3.8  # R = 63 -> MOS 3.25 of 4.41
    assert lab.packet_loss_score(0.2) < 1.3


def test_snr_and_psnr_anchors():
    assert lab.SNR(40) == 5.0 and lab.SNR(0) == pytest.approx(1.3)
    assert lab.SNR(10) == pytest.approx(2.5)  # Hu & Loizou 2007: ~2.5 at 10 dB
    # EvalVid bands: 37 dB = good/excellent edge, 20 dB = poor/bad edge
    assert lab.PSNR(37) == pytest.approx(4.5) and lab.PSNR(20) == pytest.approx(1.5)
    assert lab.psnr_of_noise(255 / 10 ** (37 / 20)) == pytest.approx(37)


def test_bandwidth_narrowband_anchor_from_the_wideband_e_model():
    assert lab.BANDWIDTH(3400) == pytest.approx(1 + 4 * 93.2 / 129, abs=0.02)
    assert lab.BANDWIDTH(7000) == 5.0


def test_combine_is_minkowski_p2():
    assert lab.combine([]) == 5.0
    assert lab.combine([3.0]) == pytest.approx(3.0)
    assert lab.combine([4.0, 4.0]) == pytest.approx(5 - np.sqrt(2))
    assert lab.combine([4.0, 2.0]) == pytest.approx(lab.combine([2.0, 4.0]))
    assert lab.combine([4.0, 2.0]) < 2.0  # worse than the worst alone...
    assert lab.combine([4.0, 2.0]) > 5 - (1 + 3)  # ...and better than adding impairments
    assert lab.combine([1.0, 1.0]) == 1.0


def test_overall_lets_the_worst_dimension_dominate():
    perfect = dict.fromkeys(lab.IMPAIRED, 5.0)
    assert lab.overall(perfect) == pytest.approx(5.0)
    for dim in lab.IMPAIRED:
        bad = {**perfect, dim: 1.0}
        assert lab.overall(bad) < (2.2 if dim != "cross_modal" else 2.6)
        assert lab.overall(bad) < lab.overall({**perfect, dim: 3.0}) < 5.0


def test_overall_is_the_weighted_power_mean():
    dims = {
        "lip_sync": 2.0,
        "expression": 4.0,
        "audio_quality": 3.0,
        "cross_modal": 5.0,
        "visual": 4.5,
    }
    w = np.array([lab.OVERALL_WEIGHTS[k] for k in lab.IMPAIRED])
    s = np.array([dims[k] for k in lab.IMPAIRED])
    expected = ((w * s**lab.OVERALL_P).sum() / w.sum()) ** (1 / lab.OVERALL_P)
    assert lab.overall(dims) == pytest.approx(expected)
    assert min(s) < lab.overall(dims) < np.average(s, weights=w)


def test_labels_of_a_clean_real_clip_are_all_five():
    out = lab.label([])
    assert all(out[k] == 5.0 for k in lab.DIMENSIONS)


def test_labels_move_only_the_dimensions_a_degradation_touches():
    noisy = lab.label([{"family": "noise_white", "value": 10}])
    assert noisy["audio_quality"] == pytest.approx(2.5)
    assert noisy["lip_sync"] == noisy["expression"] == noisy["cross_modal"] == 5.0
    assert noisy["overall"] < 5.0
    late = lab.label([{"family": "av_offset", "value": 185}])
    assert late["lip_sync"] == pytest.approx(3.0) and late["cross_modal"] == pytest.approx(4.0)
    assert late["audio_quality"] == 5.0


def test_combined_degradations_combine_per_dimension():
    both = lab.label([{"family": "noise_white", "value": 20}, {"family": "reverb", "value": 1.0}])
    expected = lab.combine([lab.SNR(20), lab.REVERB(1.0)])
    assert both["audio_quality"] == pytest.approx(expected, abs=1e-4)
    single = lab.label([{"family": "noise_white", "value": 20}])
    assert both["audio_quality"] < single["audio_quality"] and both["overall"] < single["overall"]


def test_more_severe_levels_never_score_higher():
    for fam, values, dim in [
        ("noise_babble", (30, 20, 10, 5, 0), "audio_quality"),
        ("frozen_face", (0.25, 0.5, 0.75, 1.0), "expression"),
        ("blur", (1, 2, 3, 5), "overall"),
        ("av_offset", (40, 120, 200, 300, 400), "lip_sync"),
        ("av_offset", (-40, -120, -200, -300, -400), "lip_sync"),
        ("mouth_shift", (1, 2, 4, 6), "lip_sync"),
        ("speed", (1.1, 1.2, 1.35), "expression"),
    ]:
        scores = [lab.label([{"family": fam, "value": v}])[dim] for v in values]
        assert all(a >= b for a, b in zip(scores, scores[1:], strict=False)), (fam, scores)
        assert scores[0] > scores[-1]


def test_speed_drift_grows_with_clip_length():
    short = lab.label([{"family": "speed", "value": 1.2}], lab.ClipFacts(n_frames=50))
    long = lab.label([{"family": "speed", "value": 1.2}], lab.ClipFacts(n_frames=200))
    assert long["lip_sync"] < short["lip_sync"]
    assert long["expression"] == short["expression"]


def test_source_kind_sets_the_baseline():
    assert lab.label([], lab.ClipFacts(kind="generated"))["lip_sync"] == 4.0
    assert lab.label([], lab.ClipFacts(kind="synth"))["audio_quality"] == 3.5
    with pytest.raises(ConfigError):
        lab.label([], lab.ClipFacts(kind="cartoon"))
    with pytest.raises(ConfigError, match="Known"):
        lab.degradation_scores("no_such_family", 1.0)


def test_labels_never_read_tfqa_features():
    """No circularity: the rules module imports nothing from tfqa's feature or scoring code."""
    tree = ast.parse(inspect.getsource(lab))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {
        m for m in imported if m.startswith(("tfqa.features", "tfqa.scoring", "tfqa.calibration"))
    }


def test_a_source_offset_counts_once_and_adds_to_applied_shifts():
    own = lab.ClipFacts(own_offset_ms=200.0)
    clean = lab.label([], own)
    assert clean["lip_sync"] == pytest.approx(lab.offset_score(200.0), abs=1e-4)
    assert clean["cross_modal"] < 5.0 and clean["expression"] == 5.0
    # an applied shift of -200 ms puts this source back in sync
    back = lab.label([{"family": "av_offset", "value": -200.0}], own)
    assert back["lip_sync"] == 5.0 and back["cross_modal"] == 5.0
    # a mouth shift of +k frames is an audio lead of 40k ms, added to the source's lag
    shifted = lab.label([{"family": "mouth_shift", "value": 2.0}], own)
    assert shifted["lip_sync"] == pytest.approx(lab.offset_score(200.0 - 80.0), abs=1e-4)
    # a family that does not move timing keeps the source's offset as its one timing error
    noisy = lab.label([{"family": "noise_white", "value": 20.0}], own)
    assert noisy["lip_sync"] == clean["lip_sync"]
    # speed drift and the own offset add; with no own offset nothing changes
    fast = lab.label([{"family": "speed", "value": 1.1}], lab.ClipFacts(n_frames=100))
    fast_own = lab.label(
        [{"family": "speed", "value": 1.1}], lab.ClipFacts(n_frames=100, own_offset_ms=-100.0)
    )
    assert fast_own["lip_sync"] != fast["lip_sync"]
    assert lab.label([], lab.ClipFacts(own_offset_ms=0.0)) == lab.label([])
