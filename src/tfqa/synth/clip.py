"""Put it together: plan a clip (audio, per-frame tracks, truth), render its frames, write it.

``plan_clip`` does everything except pixels, so tests and benchmarks can read
the known answers without rendering; ``iter_frames`` streams the frames one at a
time; ``synthesize`` encodes them with the audio into an MP4.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tfqa.io.video import iter_in_thread
from tfqa.io.writer import write_clip
from tfqa.synth import defects, motion
from tfqa.synth.articulation import ANTICIPATION_S, CONTROL_RATE, frame_track
from tfqa.synth.espeak import espeak_path, synthesize_espeak_speech
from tfqa.synth.face import FacePhoto, load_face
from tfqa.synth.render import FrameRenderer, Pose
from tfqa.synth.rig import FaceRig, build_rig_cached
from tfqa.synth.spec import SynthResult, SynthSpec
from tfqa.synth.speech import SPEAKERS, Speech, synthesize_formant_speech

TRUTH_VERSION = 1
BABBLE_SHIFTS = 3  # per speaker: 6 overlapping voices no longer sound like one intelligible talker
_DECIMALS = 4  # per-frame tracks in the truth are rounded to this many decimals
PREFETCH_FRAMES = 2  # frames rendered ahead of the encoder


@dataclass
class ClipPlan:
    """Everything about a clip except its pixels.

    Attributes:
        spec: the validated spec.
        photo, rig: the face and its warp fields.
        audio: ``(n_samples,)`` float32, the final track (all audio defects applied).
        mouth: ``(n_frames,)`` mouth opening that drives the face (gain, freeze applied).
        blink: ``(n_frames,)`` lid closure.
        pose: ``(n_frames, 3)`` roll (deg), dx, dy (px) incl. jitter.
        source: ``(n_frames,)`` rendered frame shown at each output frame.
        truth: JSON-able known answers (see :class:`tfqa.synth.spec.SynthResult`).
    """

    spec: SynthSpec
    photo: FacePhoto
    rig: FaceRig
    audio: np.ndarray
    mouth: np.ndarray
    blink: np.ndarray
    pose: np.ndarray
    source: np.ndarray
    truth: dict[str, Any]


def synthesize(spec: SynthSpec, path: str | Path) -> SynthResult:
    """Render ``spec`` to an H.264 + AAC MP4 at ``path`` and return what is known about it.

    Frames are streamed to the encoder, so memory stays flat for long clips.
    """
    start = time.perf_counter()
    plan = plan_clip(spec)
    # OpenCV and x264 release the GIL: rendering and encoding overlap on two cores
    frames = iter_in_thread(iter_frames(plan), PREFETCH_FRAMES, name="tfqa-synth-render")
    out = write_clip(path, frames, spec.fps, plan.audio, spec.sample_rate, crf=spec.crf)
    return SynthResult(out, spec, plan.truth, time.perf_counter() - start)


def synthesize_batch(
    specs: Mapping[str, SynthSpec] | Iterable[SynthSpec], out_dir: str | Path
) -> list[SynthResult]:
    """Synthesise several clips into ``out_dir`` (``<name>.mp4`` + ``<name>.json`` truth).

    Args:
        specs: name -> spec, or specs (named ``clip_000``, ``clip_001``...).
        out_dir: created if missing.
    """
    out_dir = Path(out_dir)
    named = specs.items() if isinstance(specs, Mapping) else (
        (f"clip_{i:03d}", s) for i, s in enumerate(specs)
    )  # fmt: skip
    results = []
    for name, spec in named:
        result = synthesize(spec, out_dir / f"{name}.mp4")
        result.save_truth()
        results.append(result)
    return results


def plan_clip(spec: SynthSpec) -> ClipPlan:
    """Speech, audio defects, face tracks, frame schedule and truth for ``spec``."""
    photo = load_face(spec.face, *spec.frame_size)
    rig = build_rig_cached(photo)
    n, fps = spec.n_frames, spec.fps
    driver = make_speech(spec, spec.speaker, "speech")
    heard = (
        make_speech(spec, _other_speaker(spec.speaker), "other_voice")
        if spec.other_voice
        else driver
    )
    audio, audio_truth = _audio_track(spec, heard)
    drive = frame_track(driver.articulation, fps, n) * spec.articulation_gain
    mouth, mouth_frozen = defects.freeze_track(drive, spec.frozen_mouth_from)
    blinks = motion.blink_schedule(n / fps, _rng(spec.seed, "blinks")) if spec.blinks else []
    blink = motion.blink_track(blinks, fps, n)
    pose = motion.head_track(
        n, fps, spec.head_motion, photo.eye_distance_px, drive, _rng(spec.seed, "head")
    )
    jitter = motion.jitter_track(n, spec.landmark_jitter_px, _rng(spec.seed, "jitter"))
    pose[:, 1:] += jitter
    source, frozen, dropped = defects.frame_schedule(
        n, spec.frozen_face_from, spec.dropped_frames, _rng(spec.seed, "dropped")
    )
    heard_track = frame_track(
        _shifted_articulation(heard, audio_truth["av_offset_samples"]), fps, n
    )
    truth = {
        "version": TRUTH_VERSION,
        "n_frames": n,
        "fps": fps,
        "duration_s": n / fps,
        "sample_rate": spec.sample_rate,
        "n_samples": len(audio),
        "width": spec.frame_size[0],
        "height": spec.frame_size[1],
        "face": {"source": photo.source, "eye_distance_px": round(photo.eye_distance_px, 3)},
        "speech": _speech_truth(driver, heard),
        "mouth_lead_ms": ANTICIPATION_S * 1000,
        "audio": audio_truth,
        "video": _video_truth(spec, frozen, mouth_frozen, dropped, jitter),
        "blinks": [[round(s, 4), round(d, 4)] for s, d in blinks],
        "tracks": {
            "mouth": _rounded(mouth),
            "heard_articulation": _rounded(heard_track),
            "blink": _rounded(blink),
            "roll_deg": _rounded(pose[:, 0]),
            "dx_px": _rounded(pose[:, 1]),
            "dy_px": _rounded(pose[:, 2]),
            "source_frame": source.tolist(),
        },
    }
    return ClipPlan(spec, photo, rig, audio, mouth, blink, pose, source, truth)


def _video_truth(spec: SynthSpec, frozen, mouth_frozen, dropped, jitter) -> dict[str, Any]:
    """Applied sizes of the picture defects (frame indices and seconds)."""
    n, fps = spec.n_frames, spec.fps
    return {
        "frozen_face_from_frame": frozen,
        "frozen_face_from_s": None if frozen is None else frozen / fps,
        "frozen_mouth_from_frame": mouth_frozen,
        "frozen_mouth_from_s": None if mouth_frozen is None else mouth_frozen / fps,
        "dropped_frames": dropped,
        "dropped_fraction": len(dropped) / n,
        "landmark_jitter_px_rms": float(np.sqrt(np.mean(jitter**2))),
        "blur_sigma": spec.blur_sigma,
        "crf": spec.crf,
        "articulation_gain": spec.articulation_gain,
        "head_motion": spec.head_motion,
    }


def iter_frames(plan: ClipPlan) -> Iterator[np.ndarray]:
    """Yield the clip's ``(H, W, 3)`` uint8 RGB frames one by one.

    Repeated frames (frozen or dropped) are the same array, rendered once.
    """
    renderer = FrameRenderer(plan.photo, plan.rig, blur_sigma=plan.spec.blur_sigma)
    last_index, last_frame = -1, None
    for index in plan.source:
        if index != last_index:
            roll, dx, dy = (float(v) for v in plan.pose[index])
            last_frame = renderer.render(
                float(plan.mouth[index]), float(plan.blink[index]), Pose(roll, dx, dy)
            )
            last_index = index
        yield last_frame


# -- speech and audio ----------------------------------------------------------------------
def make_speech(spec: SynthSpec, speaker: str, stream: str) -> Speech:
    """The utterance of ``speaker`` for ``spec``, drawn from the named random stream."""
    rng = _rng(spec.seed, stream)
    duration_s = spec.n_samples / spec.sample_rate
    voice = spec.voice
    if voice == "auto":
        voice = "espeak" if espeak_path() else "formant"
    if voice == "espeak":
        return synthesize_espeak_speech(duration_s, spec.sample_rate, speaker, rng, spec.text)
    return synthesize_formant_speech(duration_s, spec.sample_rate, speaker, rng)


def _audio_track(spec: SynthSpec, heard: Speech) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply offset, noise and clipping (in the order a recording chain would)."""
    audio, shift = defects.shift_audio(heard.audio, spec.av_offset_ms, spec.sample_rate)
    truth: dict[str, Any] = {
        "av_offset_samples": shift,
        "av_offset_ms": shift * 1000.0 / spec.sample_rate,
        "snr_db": None,
        "noise_kind": None,
        "clipping_fraction": 0.0,
        "clipping_gain": 1.0,
        "other_voice": spec.other_voice,
    }
    if spec.snr_db is not None:
        noise = _noise(spec, len(audio))
        noise, truth["snr_db"] = defects.noise_at_snr(audio, noise, spec.snr_db)
        truth["noise_kind"] = spec.noise_kind
        audio = audio + noise
    if spec.clipping > 0:
        audio, truth["clipping_gain"], truth["clipping_fraction"] = defects.clip_fraction(
            audio, spec.clipping
        )
    else:
        audio, truth["headroom_gain"] = defects.keep_headroom(audio)
    truth["peak"] = float(np.max(np.abs(audio)))
    truth["rms_dbfs"] = float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-20))
    return audio.astype(np.float32), truth


def _noise(spec: SynthSpec, n_samples: int) -> np.ndarray:
    """White noise, or babble: a crowd of formant talkers summed at equal loudness.

    The crowd is each speaker's utterance at several circular time shifts (distinct
    syllables overlap as with different talkers), which costs two syntheses
    instead of one per talker.
    """
    rng = _rng(spec.seed, f"noise_{spec.noise_kind}")
    if spec.noise_kind == "white":
        return rng.standard_normal(n_samples).astype(np.float32)
    crowd = np.zeros(n_samples)
    for speaker in SPEAKERS:
        talker = synthesize_formant_speech(
            n_samples / spec.sample_rate, spec.sample_rate, speaker, rng
        ).audio[:n_samples]
        talker = talker / (np.std(talker) + 1e-12)
        shifts = (np.arange(BABBLE_SHIFTS) + rng.uniform(0.2, 0.8, BABBLE_SHIFTS)) / BABBLE_SHIFTS
        for shift in shifts:
            crowd[: len(talker)] += np.roll(talker, int(shift * len(talker)))
    return crowd.astype(np.float32)


def _shifted_articulation(speech: Speech, shift_samples: int) -> np.ndarray:
    """The speech's articulation track moved with the audio offset (control-rate samples)."""
    hop = speech.sample_rate // CONTROL_RATE
    k = int(round(shift_samples / hop))
    track = np.zeros_like(speech.articulation)
    if k >= 0:
        track[k:] = speech.articulation[: len(track) - k]
    else:
        track[: len(track) + k] = speech.articulation[-k:]
    return track


def _speech_truth(driver: Speech, heard: Speech) -> dict[str, Any]:
    def phones(s: Speech) -> list:
        return [[seg.symbol, round(seg.start_s, 4), round(seg.end_s, 4)] for seg in s.segments]

    return {
        "backend": driver.backend,
        "speaker": driver.speaker,
        "phones": phones(driver),
        "heard_speaker": heard.speaker,
        "heard_phones": phones(heard),
    }


def _other_speaker(speaker: str) -> str:
    return "female" if speaker == "male" else "male"


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per purpose, so a defect never changes the other tracks."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def _rounded(x: np.ndarray) -> list[float]:
    return np.round(np.asarray(x, np.float64), _DECIMALS).tolist()
