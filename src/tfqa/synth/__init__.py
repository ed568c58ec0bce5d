"""Controlled test clips: a talking face from one still photo + speech, with defects of known size.

>>> from tfqa.synth import SynthSpec, synthesize
>>> result = synthesize(SynthSpec(duration_s=5.0, av_offset_ms=200), "out.mp4")  # doctest: +SKIP
>>> result.truth["audio"]["av_offset_ms"]  # doctest: +SKIP
200.0

Pipeline (one module each): ``speech`` (formant synthesiser with phone-exact
mouth targets) or ``espeak`` → ``articulation`` (smoothing, frame sampling) →
``face`` (photo, landmarks, crop) → ``rig`` (warp fields, once per face) →
``motion`` (blinks, head) → ``defects`` → ``render`` (per frame) → ``clip``
(plan, stream, encode).  ``presets`` names defects at three severities.
"""

from tfqa.synth.clip import ClipPlan, iter_frames, plan_clip, synthesize, synthesize_batch
from tfqa.synth.presets import DEFECT_PRESETS, PRESET_TARGETS, SEVERITIES, preset_spec
from tfqa.synth.spec import SynthResult, SynthSpec

__all__ = [
    "DEFECT_PRESETS",
    "PRESET_TARGETS",
    "SEVERITIES",
    "ClipPlan",
    "SynthResult",
    "SynthSpec",
    "iter_frames",
    "plan_clip",
    "preset_spec",
    "synthesize",
    "synthesize_batch",
]
