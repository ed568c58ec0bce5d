"""Prepare a source clip once: the common starting point of all its degraded variants.

``prepare_source`` normalises a clip to 25 fps, a longest side of at most
``max_side`` pixels, 16 kHz mono speech at an active level of -26 dBFS (the
test level of ITU-T P.56 / P.800 practice), encodes it with x264 (CRF 18) +
AAC, and cuts long clips into equal segments of at most ``segment_s`` seconds
(each keeps its source name, so segments stay grouped).  For each segment it
stores what the degradations and labels need to know about it, measured
once: the face and mouth boxes per frame (MediaPipe face mesh through
:class:`tfqa.features.pipeline.FeaturePipeline`, so the face-mesh block also
lands in the feature cache), which 40 ms frames hold speech, and the median
voice pitch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tfqa.data import degrade_audio as da
from tfqa.data.degrade_video import FaceTrack, face_track_from_landmarks
from tfqa.errors import ClipTooShortError, ConfigError, NoFaceError, TfqaError
from tfqa.io import FrameStream, load_audio, validate_media
from tfqa.io.constants import ANALYSIS_RATE, HOP_SAMPLES, SAMPLE_RATE
from tfqa.io.writer import write_clip

PREPARE_VERSION = 1
SPEECH_LEVEL_DBFS = -26.0  # ITU-T P.56 active speech level used for test material
MIN_SEGMENT_S = 2.0  # a trailing piece shorter than this is dropped
KINDS = ("real", "generated", "synth")


@dataclass(frozen=True)
class PrepareConfig:
    """How sources are normalised (validated once).

    Attributes:
        max_side: longest frame side in pixels after down-scaling (never up-scaled).
        segment_s: clips longer than this are cut into equal segments no longer than it.
        crf: x264 constant rate factor of the prepared clip (18 ~ visually lossless).
        speech_level_dbfs: active speech level the audio is scaled to.
    """

    max_side: int = 512
    segment_s: float = 8.0
    crf: int = 18
    speech_level_dbfs: float = SPEECH_LEVEL_DBFS

    def __post_init__(self) -> None:
        if not (64 <= self.max_side <= 4096) or self.max_side % 2:
            raise ConfigError(
                f"Expected `max_side` to be an even number in [64, 4096], but got {self.max_side}"
            )
        if not self.segment_s >= 2 * MIN_SEGMENT_S:
            raise ConfigError(
                f"Expected `segment_s` >= {2 * MIN_SEGMENT_S:g} s, but got {self.segment_s}"
            )
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"Expected `crf` in [0, 51], but got {self.crf}")


@dataclass(frozen=True)
class PreparedClip:
    """One prepared segment: the file and the facts measured on it."""

    name: str  # file stem: <source> or <source>__seg<k>
    path: Path
    source: str  # the source clip's stem
    source_path: str
    kind: str  # real | generated | synth
    segment: int
    n_segments: int
    n_frames: int
    width: int
    height: int
    crf: int
    f0_hz: float  # median voice pitch (NaN if unvoiced)
    speech_share: float  # share of 40 ms frames with speech
    face_coverage: float  # share of frames where the face mesh found the face

    @property
    def duration_s(self) -> float:
        return self.n_frames / ANALYSIS_RATE

    @property
    def track_path(self) -> Path:
        return self.path.with_suffix(".track.npz")

    def face_track(self) -> FaceTrack:
        """The per-frame face and mouth boxes; a typed error when the clip has no face."""
        if self.face_coverage <= 0:
            raise NoFaceError("the prepared clip has no face track", path=self.path,
                              hint="Face-region degradations need a visible face")  # fmt: skip
        with np.load(self.track_path) as data:
            return FaceTrack.from_arrays({k: data[k] for k in data.files})

    def speech_frames(self) -> np.ndarray:
        """``(n_frames,)`` bool: frames holding speech."""
        with np.load(self.track_path) as data:
            return data["speech"].astype(bool)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["path"] = self.path.name
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], folder: Path) -> PreparedClip:
        return cls(**{**d, "path": folder / d["path"]})


def load_prepared_audio(path: str | Path, n_frames: int | None = None) -> np.ndarray:
    """The 16 kHz mono audio of a prepared clip, cut/padded to ``n_frames * 640`` samples."""
    x = load_audio(path).samples
    return da.fit_length(x, n_frames * HOP_SAMPLES) if n_frames else x


def load_prepared_frames(clip: PreparedClip) -> np.ndarray:
    """``(n_frames, H, W, 3)`` uint8 frames of a prepared (25 fps) clip."""
    frames = [g.rgb for g in FrameStream(clip.path, max_side=1 << 16) for _ in g.grid]
    if len(frames) < clip.n_frames:  # never expected: the clip was written at 25 fps
        frames += [frames[-1]] * (clip.n_frames - len(frames))
    return np.stack(frames[: clip.n_frames])


def sidecar_path(out_dir: Path, source: str) -> Path:
    return out_dir / f"{source}.json"


def load_prepared(
    out_dir: str | Path, source: str, cfg: PrepareConfig | None = None
) -> list[PreparedClip] | None:
    """The prepared segments of ``source`` if a complete preparation (with ``cfg``) exists."""
    out_dir = Path(out_dir)
    side = sidecar_path(out_dir, source)
    if not side.is_file():
        return None
    try:
        meta = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    clips = [PreparedClip.from_dict(c, out_dir) for c in meta.get("segments", [])]
    if meta.get("version") != PREPARE_VERSION or not clips:
        return None
    if cfg is not None and meta.get("config") != dataclasses.asdict(cfg):
        return None  # prepared with other settings: prepare again
    if not all(c.path.is_file() and c.track_path.is_file() for c in clips):
        return None
    return clips


def prepare_source(
    src: str | Path,
    out_dir: str | Path,
    cfg: PrepareConfig = PrepareConfig(),
    *,
    kind: str = "real",
    cache: Any = None,
) -> list[PreparedClip]:
    """Normalise ``src`` into ``out_dir/<stem>[__seg<k>].mp4`` (see the module docstring).

    Resumable: a complete earlier preparation (its ``<stem>.json`` written last)
    is returned as is.

    Args:
        src: the source clip.
        out_dir: folder of prepared clips.
        cfg: normalisation settings.
        kind: ``real``, ``generated`` or ``synth`` (the label rules' source kind).
        cache: a :class:`~tfqa.features.cache.FeatureCache` (or ``False``) for the face mesh.

    Raises:
        TfqaError: the source cannot be read, has no audio, is too short or has no face.
    """
    if kind not in KINDS:
        raise ConfigError(f"Expected a source kind in {KINDS}, but got {kind!r}")
    src, out_dir = Path(src), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = load_prepared(out_dir, src.stem, cfg)
    if done is not None:
        return done
    info = validate_media(src, min_duration_s=MIN_SEGMENT_S)
    audio = load_audio(src, video_start_s=info.video_start_s).samples
    audio, _ = da.set_level(audio, cfg.speech_level_dbfs)
    n_seg = max(1, math.ceil(info.duration_s / cfg.segment_s - 1e-6))
    seg_len = int(round(info.duration_s * ANALYSIS_RATE / n_seg))
    written: list[tuple[Path, int, int]] = []  # (path, first frame, n frames)
    buf: list[np.ndarray] = []
    first = 0
    for g in FrameStream(src, max_side=cfg.max_side):
        for _ in g.grid:
            buf.append(g.rgb)
            if len(buf) == seg_len and len(written) < n_seg - 1:
                written.append(
                    _write_segment(src.stem, out_dir, buf, audio, first, n_seg, len(written), cfg)
                )
                first += len(buf)
                buf = []
    if len(buf) >= MIN_SEGMENT_S * ANALYSIS_RATE or not written:
        written.append(
            _write_segment(src.stem, out_dir, buf, audio, first, n_seg, len(written), cfg)
        )
    if not written or written[0][2] < MIN_SEGMENT_S * ANALYSIS_RATE:
        raise ClipTooShortError(f"only {first + len(buf)} frames decoded", path=src,
                                hint=f"A source needs at least {MIN_SEGMENT_S:g} s of video")  # fmt: skip
    clips = [
        _measure(p, src, kind, k, len(written), n, cfg, cache)
        for k, (p, _, n) in enumerate(written)
    ]
    _write_json(sidecar_path(out_dir, src.stem), {
        "version": PREPARE_VERSION, "source": str(src), "config": dataclasses.asdict(cfg),
        "segments": [c.to_dict() for c in clips]})  # fmt: skip
    return clips


def _write_segment(stem, out_dir, frames, audio, first, n_seg, k, cfg) -> tuple[Path, int, int]:
    name = stem if n_seg == 1 else f"{stem}__seg{k}"
    path = out_dir / f"{name}.mp4"
    seg_audio = da.fit_length(audio[first * HOP_SAMPLES :], len(frames) * HOP_SAMPLES)
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp.mp4")
    try:
        write_clip(tmp, iter(frames), ANALYSIS_RATE, seg_audio, SAMPLE_RATE, crf=cfg.crf)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, first, len(frames)


def _measure(path: Path, src: Path, kind, k, n_seg, n_frames, cfg, cache) -> PreparedClip:
    """Face track, speech frames and pitch of one prepared segment (saved as ``.track.npz``)."""
    x = load_prepared_audio(path, n_frames)
    speech = np.zeros(n_frames, dtype=bool)
    act = da.speech_activity(x)
    speech[: len(act)] = act[:n_frames]
    track = _face_track(path, cache)
    arrays = {"speech": speech}
    if track is not None:
        arrays.update(track.to_arrays())
    np.savez(path.with_suffix(".track.npz"), **arrays)
    w, h = _frame_size(path)
    return PreparedClip(
        name=path.stem, path=path, source=src.stem, source_path=str(src), kind=kind, segment=k,
        n_segments=n_seg, n_frames=n_frames, width=w, height=h, crf=cfg.crf,
        f0_hz=round(da.median_f0_hz(x), 2), speech_share=round(float(speech.mean()), 4),
        face_coverage=round(track.coverage, 4) if track is not None else 0.0,
    )  # fmt: skip


def _face_track(path: Path, cache: Any) -> FaceTrack | None:
    from tfqa.features.pipeline import FeaturePipeline

    try:
        feats = FeaturePipeline(["face"], cache=cache if cache is not None else False).extract(path)
    except NoFaceError:
        return None
    except TfqaError:
        raise
    pick = int(feats["face"].meta.get("speaker_track", 0))
    lm = feats["face_mesh"].sequences[f"track{pick}"].reshape(feats.n_frames, -1, 3)
    return face_track_from_landmarks(lm)


def _frame_size(path: Path) -> tuple[int, int]:
    from tfqa.io import probe

    info = probe(path)
    return info.width, info.height


def _write_json(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, path)
