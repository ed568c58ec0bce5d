import json
from pathlib import Path

import pytest

from tfqa.errors import ConfigError
from tfqa.synth import SynthResult, SynthSpec


def test_defaults_are_a_clean_clip():
    spec = SynthSpec()
    assert spec.frame_size == (256, 256)
    assert spec.n_frames == 125
    assert spec.n_samples == 80_000
    assert spec.av_offset_ms == 0 and spec.snr_db is None and spec.clipping == 0
    assert spec.frozen_face_from is None and spec.dropped_frames == 0 and not spec.other_voice


def test_width_height_override_size():
    assert SynthSpec(width=320, height=240).frame_size == (320, 240)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration_s", 0.0, "duration_s"),
        ("size", 255, "even"),
        ("size", 16, "size"),
        ("voice", "festival", "formant"),
        ("speaker", "child", "male"),
        ("snr_db", "10", "finite number"),
        ("snr_db", float("nan"), "finite number"),
        ("clipping", 0.5, "clipping"),
        ("frozen_face_from", 1.5, "frozen_face_from"),
        ("dropped_frames", 0.95, "dropped_frames"),
        ("crf", 18.5, "integer"),
        ("blinks", 1, "bool"),
        ("head_motion", True, "finite number"),
        ("sample_rate", 44_100, "16000"),
        ("av_offset_ms", 3000.0, "av_offset_ms"),
    ],
)
def test_invalid_values_are_config_errors(field, value, message):
    with pytest.raises(ConfigError, match=message):
        SynthSpec(**{field: value})


def test_from_dict_rejects_unknown_keys_with_close_match():
    with pytest.raises(ConfigError, match="snr_db"):
        SynthSpec.from_dict({"snr": 10})


def test_replace_validates_and_keeps_other_fields():
    spec = SynthSpec(seed=7).replace(av_offset_ms=120)
    assert spec.seed == 7 and spec.av_offset_ms == 120
    with pytest.raises(ConfigError):
        spec.replace(blur_sigma=-1.0)


def test_path_face_becomes_str_and_spec_is_json_able(tmp_path):
    spec = SynthSpec(face=tmp_path / "me.png")
    assert spec.face == str(tmp_path / "me.png")
    assert json.loads(json.dumps(spec.to_dict()))["face"] == spec.face


def test_save_truth_writes_beside_the_clip(tmp_path):
    result = SynthResult(tmp_path / "a.mp4", SynthSpec(), {"audio": {"av_offset_ms": 40.0}})
    out = result.save_truth()
    assert out == Path(tmp_path / "a.json")
    assert json.loads(out.read_text())["truth"]["audio"]["av_offset_ms"] == 40.0
