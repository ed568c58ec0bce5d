"""The degradation engine: a registry of typed families and one renderer of variants.

A *family* (:class:`Family`) is one kind of defect with one parameter in stated
units, severity levels, the label dimensions it lowers and whether it touches
the audio, the picture or both.  A *degradation* (:class:`Degradation`) is one
family at one value plus the decisions fixed when it was planned (a seed, a
donor clip, a start frame), so a variant is fully described by its list of
degradations — that list is what the benchmark manifest stores and what the
label rules (:mod:`tfqa.data.labels`) read.

Variants are rendered from a *prepared* clip (:mod:`tfqa.data.degrade_prepare`:
25 fps (one frame = 640 samples = 40 ms), <= 512 px, 16 kHz mono, x264 CRF 18 +
AAC).  A stream no degradation touches is copied packet by packet
(:mod:`tfqa.data.degrade_mux`): an audio-only variant keeps a byte-identical
video stream, so its video features come from the feature cache, and a
picture-only variant keeps the audio stream (and its audio features).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from tfqa.data import degrade_audio as da
from tfqa.data import degrade_video as dv
from tfqa.data.degrade_mux import mux_variant
from tfqa.data.degrade_prepare import PreparedClip, load_prepared_audio, load_prepared_frames
from tfqa.errors import ConfigError
from tfqa.io.constants import HOP_SAMPLES, SAMPLE_RATE

REFERENCE_SIDE_PX = 512  # blur sizes are stated for a frame whose longest side is 512 px
MEDIA = ("audio", "video", "both")
MIN_FACE_COVERAGE = 0.5  # face-region defects need the face in at least half of the frames
BABBLE_DONORS = 6  # talkers in a babble noise
SEMITONES_PER_OCTAVE = 12.0

Decider = Callable[["Degradation", "PlanContext"], "Degradation | None"]
AudioOp = Callable[[np.ndarray, "Degradation", "RenderContext"], tuple[np.ndarray, dict]]
VideoOp = Callable[[np.ndarray, "Degradation", "RenderContext"], tuple[np.ndarray, dict]]


@dataclass(frozen=True)
class Degradation:
    """One family at one value, with the decisions fixed at planning time (``extra``)."""

    family: str
    value: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        fam = get_family(self.family)
        return {"family": self.family, "value": _num(self.value), "unit": fam.unit,
                "extra": {k: _num(v) for k, v in self.extra.items()}}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Degradation:
        return cls(d["family"], float(d["value"]), dict(d.get("extra") or {}))


def _num(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return round(float(v), 6)
    if isinstance(v, np.integer):
        return int(v)
    return v


@dataclass
class RenderContext:
    """What the ops of one variant may read: the clip, its seeded generator, other clips' audio."""

    clip: PreparedClip
    rng: np.random.Generator
    audio_of: Callable[[str], np.ndarray]  # prepared clip name -> its 16 kHz audio


@dataclass(frozen=True)
class PlanContext:
    """What planning may read: the clip, a seeded generator and the other clips (donors)."""

    clip: PreparedClip
    rng: np.random.Generator
    same_person: tuple[PreparedClip, ...] = ()  # other segments/clips of the same group
    other_people: tuple[PreparedClip, ...] = ()  # clips of other groups


def plan_degradation(family: str, value: float, ctx: PlanContext) -> Degradation | None:
    """``family`` at ``value`` with its planning-time choices fixed; None if it does not apply."""
    fam = get_family(family)
    if fam.needs_face and ctx.clip.face_coverage < MIN_FACE_COVERAGE:
        return None
    d = Degradation(family, float(value))
    return fam.decide(d, ctx) if fam.decide is not None else d


@dataclass(frozen=True)
class Family:
    """A kind of degradation (see the module docstring).

    Attributes:
        name: registry key.
        dims: label dimensions it lowers (``visual`` feeds ``overall``).
        param: what ``value`` measures, and ``unit`` its unit.
        levels: severities used by the benchmark planner, mild to severe.
        media: ``"audio"``, ``"video"`` or ``"both"``.
        slot: families sharing a slot are never combined in one variant.
        blocks: further slots this family rules out (a frozen face leaves no mouth to edit).
        needs_face: needs the prepared clip's face track (mouth/face boxes).
        audio, video: the ops (``None`` when the family leaves that stream alone).
        crf: the family sets the encoder's CRF to its value instead of changing pixels.
        decide: fixes the planning-time choices of a degradation (start frame, donor...);
            returns None when the family does not apply to the clip.
        description: one line for ``list``-style output.
    """

    name: str
    dims: tuple[str, ...]
    param: str
    unit: str
    levels: tuple[float, ...]
    media: str
    slot: str
    audio: AudioOp | None = None
    video: VideoOp | None = None
    needs_face: bool = False
    crf: bool = False
    decide: Decider | None = None
    blocks: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.media not in MEDIA:
            raise ConfigError(
                f"Expected media in {MEDIA} for `{self.name}`, but got {self.media!r}"
            )
        if (self.media in ("audio", "both")) != (self.audio is not None):
            raise ConfigError(f"Expected `{self.name}` to have an audio op iff it touches audio")
        if (self.media in ("video", "both")) != (self.video is not None or self.crf):
            raise ConfigError(f"Expected `{self.name}` to have a video op iff it touches video")

    @property
    def slots(self) -> frozenset[str]:
        """Every slot the family occupies (its own and the ones it blocks)."""
        return frozenset((self.slot, *self.blocks))

    @property
    def touches_video(self) -> bool:
        return self.media in ("video", "both")


# -- audio ops -------------------------------------------------------------------------------
def _offset(x, d, ctx):
    y, n = da.shift_audio(x, d.value, SAMPLE_RATE)
    return y, {"shift_samples": n}


def _replace(x, d, ctx):
    donor = ctx.audio_of(d.extra["donor"])
    reps = int(np.ceil(len(x) / max(1, len(donor))))  # a shorter donor utterance is looped
    y = da.fit_length(np.tile(donor, reps), len(x))
    return y, {}


def _noise(make: Callable[[int, RenderContext, Degradation], np.ndarray]) -> AudioOp:
    def op(x, d, ctx):
        noise, snr = da.noise_at_snr(x, make(len(x), ctx, d), d.value)
        return (x + noise).astype(np.float32), {"snr_db": snr}

    return op


def _white(n, ctx, d):
    return da.white_noise(n, ctx.rng)


def _babble(n, ctx, d):
    return da.babble_noise([ctx.audio_of(k) for k in d.extra["donors"]], n, ctx.rng)


def _hum(n, ctx, d):
    return da.hum_noise(n, ctx.rng, float(d.extra.get("mains_hz", 50.0)))


def _clipping(x, d, ctx):
    y, gain, share = da.clip_fraction(x, d.value)
    return y, {"gain": gain, "clipped_share": share}


def _codec(x, d, ctx):
    return da.codec_roundtrip(x, str(d.extra.get("codec", "libmp3lame")), d.value), {}


def _bandlimit(x, d, ctx):
    return da.bandlimit(x, d.value), {}


def _dropouts(x, d, ctx):
    y, mask = da.dropouts(x, d.value, ctx.rng)
    return y, {"muted_share": float(mask.mean())}


def _reverb(x, d, ctx):
    return da.reverberate(x, d.value, ctx.rng), {}


def _silence(x, d, ctx):
    mask = np.zeros(len(x), dtype=bool)
    mask[int(d.extra["start"]) * HOP_SAMPLES : int(d.extra["stop"]) * HOP_SAMPLES] = True
    return da.mute(x, mask), {}


def _keep(x, d, ctx):
    return x, {}


# -- video ops -------------------------------------------------------------------------------
def _mouth_freeze(f, d, ctx):
    start, stop = int(d.extra["start"]), int(d.extra["stop"])
    sources = np.arange(len(f))
    sources[start:stop] = start
    return dv.mouth_from_frames(f, ctx.clip.face_track(), sources), {"held_frame": start}


def _mouth_shift(f, d, ctx):
    k = int(round(d.value))
    sources = np.clip(np.arange(len(f)) - k, 0, len(f) - 1)
    return dv.mouth_from_frames(f, ctx.clip.face_track(), sources), {}


def _frozen(f, d, ctx):
    out, schedule = dv.freeze_from(f, int(d.extra["from_frame"]))
    return out, {"schedule": schedule.tolist()}


def _jitter(f, d, ctx):
    std_px = d.value / 100.0 * float(ctx.clip.face_track().face_size[0])
    out, offsets = dv.jitter(f, ctx.clip.face_track(), std_px, ctx.rng)
    return out, {"std_px": std_px, "rms_px": float(np.sqrt(np.mean(offsets**2)))}


def _stutter(f, d, ctx):
    out, schedule = dv.stutter(f, d.value, ctx.rng)
    return out, {"schedule": schedule.tolist()}


def _speed(f, d, ctx):
    out, schedule = dv.speed(f, d.value)
    return out, {"schedule": schedule.tolist()}


def _blur(f, d, ctx):
    sigma = d.value * max(f.shape[1:3]) / REFERENCE_SIDE_PX
    return dv.blur(f, sigma), {"sigma_px": sigma}


def _pixel_noise(f, d, ctx):
    return dv.pixel_noise(f, d.value, ctx.rng), {}


def _rescale(f, d, ctx):
    return dv.rescale(f, d.value), {}


def _colour(f, d, ctx):
    return dv.colour_shift(f, d.value, float(d.extra.get("angle_rad", 0.0))), {}


# -- planning-time choices --------------------------------------------------------------------
def _window(d, ctx):
    n = ctx.clip.n_frames
    length = max(1, min(n, int(round(d.value * n))))
    start = int(ctx.rng.integers(0, n - length + 1))
    return dataclasses.replace(d, extra={"start": start, "stop": start + length})


def _freeze_start(d, ctx):
    n = ctx.clip.n_frames
    return dataclasses.replace(d, extra={"from_frame": min(n - 1, int(round((1 - d.value) * n)))})


def _same_person(d, ctx):
    if not ctx.same_person:
        return None
    donor = ctx.same_person[int(ctx.rng.integers(len(ctx.same_person)))]
    return dataclasses.replace(d, extra={"donor": donor.name})


def _other_voice(d, ctx):
    """The donor whose pitch gap to this clip's voice is nearest ``d.value`` semitones."""
    f0 = ctx.clip.f0_hz
    donors = [c for c in ctx.other_people if np.isfinite(c.f0_hz) and c.f0_hz > 0]
    if not donors or not (np.isfinite(f0) and f0 > 0):
        return None
    gaps = np.array([abs(SEMITONES_PER_OCTAVE * np.log2(c.f0_hz / f0)) for c in donors])
    miss = np.abs(gaps - d.value) + 1e-3 * ctx.rng.random(len(gaps))  # random tie-break
    k = int(np.argmin(miss))
    return Degradation(d.family, round(float(gaps[k]), 3), {"donor": donors[k].name})


def _babble_donors(d, ctx):
    if len(ctx.other_people) < 2:
        return None
    k = min(BABBLE_DONORS, len(ctx.other_people))
    picks = ctx.rng.choice(len(ctx.other_people), size=k, replace=False)
    return dataclasses.replace(
        d, extra={"donors": [ctx.other_people[i].name for i in sorted(picks)]}
    )


def _mains(d, ctx):
    return dataclasses.replace(d, extra={"mains_hz": float(ctx.rng.choice([50.0, 60.0]))})


def _angle(d, ctx):
    return dataclasses.replace(
        d, extra={"angle_rad": round(float(ctx.rng.uniform(0, 2 * np.pi)), 4)}
    )


def _mp3(d, ctx):
    return dataclasses.replace(d, extra={"codec": "libmp3lame"})


# -- the registry (its order is the order in which ops are applied) ---------------------------
_F = Family
FAMILIES: tuple[Family, ...] = (
    # content and timing of the sound first, then the channel it goes through
    _F("other_voice", ("cross_modal", "lip_sync"), "pitch gap to the face's own voice", "semitones",
       (2.0, 5.0, 9.0), "audio", "audio_content", audio=_replace, decide=_other_voice, blocks=("av_timing",),
       description="another speaker's utterance (a different group) replaces the speech"),
    _F("same_person_audio", ("lip_sync", "cross_modal"), "another utterance of the same person", "",
       (1.0,), "audio", "audio_content", audio=_replace, decide=_same_person, blocks=("av_timing",),
       description="another segment of the same person's speech replaces the speech"),
    _F("av_offset", ("lip_sync", "cross_modal"), "A/V offset (+ = audio lags)", "ms",
       (-400, -300, -200, -120, -80, -40, 40, 80, 120, 200, 300, 400), "audio", "av_timing",
       audio=_offset, description="audio shifted by exactly round(ms * 16) samples"),
    _F("silence_speech", ("cross_modal", "lip_sync"), "share of the clip muted while the face talks",
       "fraction", (0.1, 0.25, 0.5), "audio", "audio_gap", audio=_silence, decide=_window,
       description="one window of speech muted; the mouth keeps moving"),
    _F("reverb", ("audio_quality",), "RT60", "s", (0.3, 0.6, 1.0, 1.5, 2.5), "audio",
       "audio_room", audio=_reverb, description="synthetic exponential-decay room response"),
    _F("noise_white", ("audio_quality",), "SNR", "dB", (30, 20, 15, 10, 5, 0), "audio",
       "audio_noise", audio=_noise(_white), description="additive white noise"),
    _F("noise_babble", ("audio_quality",), "SNR", "dB", (30, 20, 15, 10, 5, 0), "audio",
       "audio_noise", audio=_noise(_babble), decide=_babble_donors, description="babble of 6 other clips' speech"),
    _F("noise_hum", ("audio_quality",), "SNR", "dB", (30, 20, 15, 10, 5, 0), "audio",
       "audio_noise", audio=_noise(_hum), decide=_mains, description="50/60 Hz mains hum with harmonics"),
    _F("bandlimit", ("audio_quality",), "low-pass cutoff", "Hz", (5000, 3400, 2500, 1500),
       "audio", "audio_band", audio=_bandlimit, description="zero-phase Butterworth low-pass"),
    _F("codec", ("audio_quality",), "MP3 bitrate", "kbit/s", (32, 24, 16, 8), "audio",
       "audio_band", audio=_codec, decide=_mp3, description="MP3 (LAME) encode + decode, delay removed"),
    _F("clipping", ("audio_quality",), "clipped samples", "fraction",
       (0.005, 0.01, 0.02, 0.05, 0.1), "audio", "audio_level", audio=_clipping,
       description="gain until the share of samples reaches full scale, hard clip"),
    _F("dropouts", ("audio_quality",), "muted share", "fraction", (0.02, 0.05, 0.1, 0.2),
       "audio", "audio_gap", audio=_dropouts, description="random 20-80 ms mutes, no concealment"),
    # the picture: mouth edits on the original frames, then the timeline, then the pixels
    _F("mouth_freeze", ("lip_sync", "cross_modal"), "share of the clip with a still mouth",
       "fraction", (0.25, 0.5, 0.75, 1.0), "video", "mouth", video=_mouth_freeze, needs_face=True, decide=_window,
       description="the mouth region is held at one frame for a window of the clip"),
    _F("mouth_shift", ("lip_sync", "cross_modal"), "mouth shown from frame i - k", "frames",
       (-6, -4, -2, 2, 4, 6), "video", "mouth", video=_mouth_shift, needs_face=True,
       description="the mouth region comes from a neighbouring frame (a mouth-only offset)"),
    _F("frozen_face", ("expression", "lip_sync", "cross_modal"), "frozen share", "fraction",
       (0.25, 0.5, 0.75, 1.0), "video", "timeline", video=_frozen, decide=_freeze_start, blocks=("mouth",),
       description="one frame held from (1 - share) of the clip to the end, audio goes on"),
    _F("stutter", ("expression",), "repeated frames", "fraction", (0.05, 0.1, 0.2, 0.35),
       "video", "timeline", video=_stutter, description="dropped frames shown as repeats"),
    _F("speed", ("expression", "lip_sync", "cross_modal"), "picture speed factor", "x",
       (0.75, 0.85, 1.2, 1.35), "both", "timeline", audio=_keep, video=_speed,
       description="picture resampled; audio keeps its timeline and is cut to the picture"),
    _F("jitter", ("expression",), "face shift std per axis", "% of face width",
       (0.5, 1.0, 2.0, 3.5, 5.0), "video", "face_motion", video=_jitter, needs_face=True,
       description="random per-frame sub-pixel shift of the face region, feathered"),
    _F("colour", ("visual",), "chroma shift", "ΔE*ab", (5, 10, 20, 30), "video", "colour",
       video=_colour, decide=_angle, description="uniform CIELAB a*/b* shift in a random direction"),
    _F("rescale", ("visual",), "resolution factor", "fraction of each side",
       (0.5, 0.35, 0.25, 0.15), "video", "sharpness", video=_rescale,
       description="area down-scaling then bicubic up-scaling"),
    _F("blur", ("visual",), "Gaussian sigma", "px at a 512-px frame", (1.0, 2.0, 3.0, 5.0),
       "video", "sharpness", video=_blur, description="Gaussian blur of every frame"),
    _F("video_noise", ("visual",), "noise std", "8-bit levels", (3, 6, 10, 15, 25), "video",
       "pixel_noise", video=_pixel_noise, description="additive Gaussian pixel noise"),
    _F("compression", ("visual",), "x264 CRF", "", (33, 38, 43, 48), "video", "encoder",
       crf=True, description="x264 re-encode at a high CRF (blocking, smearing)"),
)  # fmt: skip
_BY_NAME = {f.name: f for f in FAMILIES}
_ORDER = {f.name: i for i, f in enumerate(FAMILIES)}


def list_families() -> list[str]:
    """Registered family names, in application order."""
    return [f.name for f in FAMILIES]


def get_family(name: str) -> Family:
    """The :class:`Family` called ``name``; an unknown name is answered with close matches."""
    if name not in _BY_NAME:
        close = difflib.get_close_matches(name, list(_BY_NAME), n=3)
        hint = f"Did you mean {', '.join(close)}?" if close else f"Known: {', '.join(_BY_NAME)}"
        raise ConfigError(f"Expected a degradation family, but got `{name}`", hint=hint)
    return _BY_NAME[name]


def check_combination(degradations: Sequence[Degradation]) -> None:
    """Refuse two degradations of one slot (e.g. two noises, or a freeze and a speed change)."""
    seen: dict[str, str] = {}
    for d in degradations:
        fam = get_family(d.family)
        for slot in sorted(fam.slots):
            if slot in seen:
                raise ConfigError(
                    f"Expected at most one degradation per slot, but `{d.family}` and "
                    f"`{seen[slot]}` both change {slot}"
                )
            seen[slot] = d.family


# -- rendering -------------------------------------------------------------------------------
@dataclass
class RenderResult:
    """A written variant: its path, frame count, copied streams and what each op did."""

    path: Path
    n_frames: int
    copied_video: bool  # the prepared video stream was copied (byte-identical)
    copied_audio: bool  # the prepared audio stream was copied (byte-identical)
    info: dict[str, dict[str, Any]]


def render_variant(
    clip: PreparedClip,
    degradations: Sequence[Degradation],
    out: str | Path,
    *,
    seed: int,
    audio_of: Callable[[str], np.ndarray] | None = None,
) -> RenderResult:
    """Apply ``degradations`` to the prepared ``clip`` and write the variant to ``out``.

    Ops run in registry order (sound content, timing, channel; mouth edits,
    timeline, pixels).  A stream no degradation touches is copied from the
    prepared clip packet by packet (:func:`tfqa.data.degrade_mux.mux_variant`);
    the file appears atomically (written beside ``out`` and renamed).

    Args:
        clip: the prepared source segment.
        degradations: what to apply (at most one per slot).
        out: the ``.mp4`` to write.
        seed: seeds every random choice of the ops (noise samples, jitter, ...).
        audio_of: prepared clip name -> its audio, for donor clips (default: decode it).
    """
    check_combination(degradations)
    ordered = sorted(degradations, key=lambda d: _ORDER[d.family])
    ctx = RenderContext(clip, np.random.default_rng(seed), audio_of or _decode_audio_of(clip))
    audio = load_prepared_audio(clip.path, clip.n_frames)
    info: dict[str, dict[str, Any]] = {}
    touches_video = any(get_family(d.family).touches_video for d in ordered)
    frames = load_prepared_frames(clip) if touches_video else None
    crf = clip.crf
    for d in ordered:
        fam = get_family(d.family)
        if fam.crf:
            crf = int(d.value)
        if fam.video is not None:
            frames, info[d.family] = fam.video(frames, d, ctx)
        if fam.audio is not None:
            audio, extra = fam.audio(audio, d, ctx)
            info.setdefault(d.family, {}).update(extra)
    n_frames = len(frames) if frames is not None else clip.n_frames
    audio = da.fit_length(audio, n_frames * HOP_SAMPLES)
    touches_audio = any(get_family(d.family).audio is not None for d in ordered)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.mp4")
    try:
        mux_variant(clip.path, tmp, frames=frames, audio=audio if touches_audio else None, crf=crf)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return RenderResult(out, n_frames, copied_video=frames is None,
                        copied_audio=not touches_audio, info=info)  # fmt: skip


def _decode_audio_of(clip: PreparedClip) -> Callable[[str], np.ndarray]:
    """Donor audio from the prepared clips beside ``clip`` (decoded once per name)."""
    return lru_cache(maxsize=16)(
        lambda name: load_prepared_audio(clip.path.with_name(f"{name}.mp4"))
    )
