"""What to synthesise: :class:`SynthSpec` (validated once) and :class:`SynthResult`.

Every defect is one field with a size in stated units; the defaults give a clean
clip.  ``SynthSpec.from_dict`` is the door for YAML/CLI/HTTP input: unknown keys
are errors answered with the closest field names.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfqa.errors import ConfigError

VOICES = ("formant", "espeak", "auto")  # auto = espeak-ng when installed, else formant
SPEAKERS = ("male", "female")
NOISE_KINDS = ("white", "babble")
SAMPLE_RATES = (16_000, 24_000, 32_000, 48_000)  # Hz: multiples of the 200 Hz control rate
MAX_SIDE_PX = 3840
MIN_SIDE_PX = 64


@dataclass(frozen=True)
class SynthSpec:
    """One synthetic talking clip: content, rendering and defects with known sizes.

    Content and rendering:
        duration_s: clip length in seconds.
        fps: video frame rate in Hz.
        size: side of a square frame in pixels (even); ``width``/``height`` override it.
        width, height: frame size in pixels (both even) for non-square clips.
        seed: every random choice (utterance, blinks, head motion, noise...) follows it.
        face: path of a photo with one face; ``None`` = the scikit-image astronaut.
        voice: ``"formant"`` (built-in, deterministic, default), ``"espeak"`` (espeak-ng,
            which must be installed) or ``"auto"`` (espeak-ng when installed, else formant).
        speaker: ``"male"`` (~120 Hz mean pitch) or ``"female"`` (~210 Hz).
        text: what espeak-ng says; ``None`` = built-in sentences. Ignored by ``"formant"``.
        sample_rate: audio rate of the written file in Hz.
        blinks: eye blinks every 2-6 s.
        head_motion: scale of the natural head motion (0 = still, 1 = ~1-3 deg, >1 exaggerated).
        articulation_gain: scale of the mouth movement (1 = normal, <1 = under-articulating).

    Defects (defaults = none):
        av_offset_ms: positive = audio lags the video (the audio is shifted later by exactly
            ``round(av_offset_ms * sample_rate / 1000)`` samples); negative = audio leads.
        frozen_mouth_from: fraction of the clip (0-1) after which the mouth stops moving
            (held at its opening at that frame) while speech, blinks and head motion go on.
        frozen_face_from: fraction of the clip (0-1) after which the whole frame freezes
            while the audio goes on (0 = a still photo).
        landmark_jitter_px: standard deviation (pixels at the output size, per axis) of a
            random per-frame shift of the face region.
        snr_db: speech-to-noise power ratio of added ``noise_kind`` noise, in dB.
        noise_kind: ``"white"`` or ``"babble"`` (a crowd of other formant talkers).
        clipping: fraction of audio samples that clip at +-1 (a gain is applied to reach it).
        blur_sigma: Gaussian blur of every frame, standard deviation in pixels.
        crf: x264 constant rate factor (0 lossless ... 51 blocky; 18 is visually clean).
        dropped_frames: fraction of frames replaced by their predecessor.
        other_voice: the audio is a different utterance by the other speaker (different
            seed and pitch) than the one driving the mouth.
    """

    duration_s: float = 5.0
    fps: float = 25.0
    size: int = 256
    width: int | None = None
    height: int | None = None
    seed: int = 0
    face: str | None = None
    voice: str = "formant"
    speaker: str = "male"
    text: str | None = None
    sample_rate: int = 16_000
    blinks: bool = True
    head_motion: float = 1.0
    articulation_gain: float = 1.0
    av_offset_ms: float = 0.0
    frozen_mouth_from: float | None = None
    frozen_face_from: float | None = None
    landmark_jitter_px: float = 0.0
    snr_db: float | None = None
    noise_kind: str = "white"
    clipping: float = 0.0
    blur_sigma: float = 0.0
    crf: int = 18
    dropped_frames: float = 0.0
    other_voice: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.face, Path):  # keep the spec JSON-able
            object.__setattr__(self, "face", str(self.face))
        _validate(self)

    # -- derived values -----------------------------------------------------------------
    @property
    def frame_size(self) -> tuple[int, int]:
        """``(width, height)`` of the output frames in pixels."""
        return (self.width or self.size, self.height or self.size)

    @property
    def n_frames(self) -> int:
        return int(round(self.duration_s * self.fps))

    @property
    def n_samples(self) -> int:
        return int(round(self.n_frames / self.fps * self.sample_rate))

    # -- construction from untyped input --------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SynthSpec:
        """Build a spec from a mapping (YAML, CLI, HTTP); unknown keys are a ``ConfigError``."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=3)
                hint = (
                    f"Did you mean {', '.join(close)}?" if close else f"Known: {', '.join(names)}"
                )
                raise ConfigError(
                    f"Expected a SynthSpec field, but got unknown key `{key}`", hint=hint
                )
        return cls(**values)

    def replace(self, **changes: Any) -> SynthSpec:
        """A copy with ``changes`` applied (validated, unknown keys rejected)."""
        return SynthSpec.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SynthResult:
    """A written clip and what is known about it.

    ``truth`` is JSON-able: the exact applied defect sizes (offset in samples and ms,
    measured SNR, frozen/dropped frame indices...) and the per-frame tracks that drove
    the face (mouth opening, blinks, head pose) and that describe the speech heard.
    """

    path: Path
    spec: SynthSpec
    truth: dict[str, Any] = field(repr=False)
    elapsed_s: float = 0.0

    def save_truth(self, path: str | Path | None = None) -> Path:
        """Write ``truth`` (and the spec) as JSON; default: beside the clip with ``.json``."""
        out = Path(path) if path is not None else self.path.with_suffix(".json")
        payload = {"clip": str(self.path), "spec": self.spec.to_dict(), "truth": self.truth}
        out.write_text(json.dumps(payload, indent=1))
        return out


# -- validation ---------------------------------------------------------------------------
def _validate(spec: SynthSpec) -> None:
    _number(spec, "duration_s", 0.5, 3600.0)
    _number(spec, "fps", 5.0, 120.0)
    _side(spec, "size", required=True)
    _side(spec, "width")
    _side(spec, "height")
    _integer(spec, "seed", 0, 2**32 - 1)
    _choice(spec, "voice", VOICES)
    _choice(spec, "speaker", SPEAKERS)
    _choice(spec, "noise_kind", NOISE_KINDS)
    _choice(spec, "sample_rate", SAMPLE_RATES)
    for name in ("blinks", "other_voice"):
        if not isinstance(getattr(spec, name), bool):
            _fail(name, "a bool", getattr(spec, name))
    for name in ("face", "text"):
        value = getattr(spec, name)
        if value is not None and not isinstance(value, str):
            _fail(name, "a string or None", value)
    _number(spec, "head_motion", 0.0, 10.0)
    _number(spec, "articulation_gain", 0.0, 3.0)
    _number(spec, "av_offset_ms", -0.45 * spec.duration_s * 1000, 0.45 * spec.duration_s * 1000)
    _number(spec, "frozen_mouth_from", 0.0, 1.0, optional=True)
    _number(spec, "frozen_face_from", 0.0, 1.0, optional=True)
    _number(spec, "landmark_jitter_px", 0.0, 100.0)
    _number(spec, "snr_db", -20.0, 80.0, optional=True)
    _number(spec, "clipping", 0.0, 0.2)
    _number(spec, "blur_sigma", 0.0, 50.0)
    _integer(spec, "crf", 0, 51)
    _number(spec, "dropped_frames", 0.0, 0.9)
    if spec.n_frames < 2:
        raise ConfigError(
            f"Expected at least 2 frames, but duration_s={spec.duration_s} at fps={spec.fps} "
            f"gives {spec.n_frames}"
        )


def _fail(name: str, expected: str, value: Any) -> None:
    raise ConfigError(f"Expected `{name}` to be {expected}, but got {value!r}")


def _number(spec: SynthSpec, name: str, lo: float, hi: float, *, optional: bool = False) -> None:
    value = getattr(spec, name)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail(name, "a finite number" + (" or None" if optional else ""), value)
    if not lo <= value <= hi:
        _fail(name, f"in [{lo:g}, {hi:g}]", value)


def _integer(spec: SynthSpec, name: str, lo: int, hi: int) -> None:
    value = getattr(spec, name)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        _fail(name, f"an integer in [{lo}, {hi}]", value)


def _side(spec: SynthSpec, name: str, *, required: bool = False) -> None:
    value = getattr(spec, name)
    if value is None and not required:
        return
    _integer(spec, name, MIN_SIDE_PX, MAX_SIDE_PX)
    if value % 2:
        # H.264 with 4:2:0 chroma needs even sides; silently cropping would change the size.
        _fail(name, "an even number of pixels (H.264 4:2:0 needs even sides)", value)


def _choice(spec: SynthSpec, name: str, options: tuple) -> None:
    value = getattr(spec, name)
    if isinstance(value, bool) or value not in options:
        _fail(name, f"one of {', '.join(map(str, options))}", value)
