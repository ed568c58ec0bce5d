import pytest

from tfqa.errors import ConfigError
from tfqa.synth import DEFECT_PRESETS, PRESET_TARGETS, SEVERITIES, SynthSpec, preset_spec

SCORES = {"lip_sync", "expression", "audio_quality", "cross_modal", "overall"}


@pytest.mark.parametrize("name", sorted(DEFECT_PRESETS))
def test_every_preset_builds_valid_specs(name):
    assert set(DEFECT_PRESETS[name]) == set(SEVERITIES)
    for severity in SEVERITIES:
        spec = preset_spec(name, severity, SynthSpec(duration_s=2.0, seed=4))
        assert spec.duration_s == 2.0 and spec.seed == 4
        assert spec != SynthSpec(duration_s=2.0, seed=4)


def test_every_preset_targets_a_score():
    assert set(PRESET_TARGETS) == set(DEFECT_PRESETS)
    assert set(PRESET_TARGETS.values()) <= SCORES


@pytest.mark.parametrize(
    ("name", "field"),
    [("audio_lag", "av_offset_ms"), ("white_noise", "snr_db"), ("blur", "blur_sigma")],
)
def test_severities_grow(name, field):
    values = [abs(preset_spec(name, s).to_dict()[field] or 0) for s in SEVERITIES]
    if field == "snr_db":
        values = [-v for v in values]  # lower SNR = more severe
    assert values == sorted(values) and len(set(values)) == 3


def test_unknown_preset_suggests_a_name():
    with pytest.raises(ConfigError, match="audio_lag"):
        preset_spec("audio_lagg")
    with pytest.raises(ConfigError, match="severity"):
        preset_spec("blur", "extreme")
