"""Named defects at three severities, for the demo and benchmarks.

``DEFECT_PRESETS[name][severity]`` is a dict of :class:`SynthSpec` overrides;
``PRESET_TARGETS[name]`` is the score that defect should lower.  Sizes in pixels
refer to the output frame (a 2 px blur is stronger at 256 px than at 1080 px).
"""

from __future__ import annotations

import difflib
from typing import Any

from tfqa.errors import ConfigError
from tfqa.synth.spec import SynthSpec

SEVERITIES = ("mild", "moderate", "severe")


def _levels(field: str, *values: Any, **fixed: Any) -> dict[str, dict[str, Any]]:
    return {sev: {field: v, **fixed} for sev, v in zip(SEVERITIES, values, strict=True)}


DEFECT_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # positive = audio lags the video; noticeable beyond ~125 ms lag / ~45 ms lead
    "audio_lag": _levels("av_offset_ms", 120.0, 240.0, 480.0),
    "audio_lead": _levels("av_offset_ms", -60.0, -120.0, -240.0),
    "white_noise": _levels("snr_db", 20.0, 10.0, 0.0, noise_kind="white"),
    "babble_noise": _levels("snr_db", 20.0, 10.0, 0.0, noise_kind="babble"),
    "clipping": _levels("clipping", 0.005, 0.02, 0.08),
    "blur": _levels("blur_sigma", 1.0, 2.5, 5.0),
    "compression": _levels("crf", 35, 42, 51),
    "frozen_face": _levels("frozen_face_from", 0.75, 0.5, 0.0),
    "frozen_mouth": _levels("frozen_mouth_from", 0.75, 0.5, 0.0),
    "mumbling": _levels("articulation_gain", 0.6, 0.35, 0.15),
    "jitter": _levels("landmark_jitter_px", 1.0, 2.5, 5.0),
    "dropped_frames": _levels("dropped_frames", 0.1, 0.25, 0.5),
    "stiff_face": {
        "mild": {"blinks": False},
        "moderate": {"head_motion": 0.0},
        "severe": {"head_motion": 0.0, "blinks": False},
    },
    "exaggerated_motion": _levels("head_motion", 2.5, 4.0, 6.0),
    "other_voice": {sev: {"other_voice": True} for sev in SEVERITIES},
}

PRESET_TARGETS: dict[str, str] = {
    "audio_lag": "lip_sync",
    "audio_lead": "lip_sync",
    "white_noise": "audio_quality",
    "babble_noise": "audio_quality",
    "clipping": "audio_quality",
    "blur": "overall",
    "compression": "overall",
    "frozen_face": "expression",
    "frozen_mouth": "lip_sync",
    "mumbling": "lip_sync",
    "jitter": "expression",
    "dropped_frames": "overall",
    "stiff_face": "expression",
    "exaggerated_motion": "expression",
    "other_voice": "cross_modal",
}


def preset_spec(name: str, severity: str = "moderate", base: SynthSpec | None = None) -> SynthSpec:
    """``base`` (default: a clean 5 s clip) with the preset's overrides applied.

    Raises:
        ConfigError: unknown preset name or severity (with the closest names).
    """
    if name not in DEFECT_PRESETS:
        close = difflib.get_close_matches(name, list(DEFECT_PRESETS), n=3)
        hint = (
            f"Did you mean {', '.join(close)}?" if close else f"Known: {', '.join(DEFECT_PRESETS)}"
        )
        raise ConfigError(f"Expected a defect preset name, but got {name!r}", hint=hint)
    if severity not in DEFECT_PRESETS[name]:
        raise ConfigError(
            f"Expected severity to be one of {', '.join(DEFECT_PRESETS[name])}, but got {severity!r}"
        )
    return (base or SynthSpec()).replace(**DEFECT_PRESETS[name][severity])
