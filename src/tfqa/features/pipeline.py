"""Run the extractors over one clip: one streaming decode pass, derived features, the cache.

``extract(path)`` is the library call behind ``tfqa score``, ``tfqa extract``,
the service and the benchmarks: it validates the input, looks each
extractor's block up in the cache (keyed by stream digests + extractor
config), decodes the frames once for the frame extractors that missed,
computes the derived extractors in dependency order, and returns a
:class:`ClipFeatures`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from tfqa.errors import ClipTooShortError, ConfigError
from tfqa.features.base import (
    DerivedExtractor,
    Extractor,
    FeatureBlock,
    FrameExtractor,
    create_extractor,
)
from tfqa.features.cache import FeatureCache, stream_digests
from tfqa.io import (
    ANALYSIS_RATE,
    FrameStream,
    MediaInfo,
    load_audio,
    validate_audio,
    validate_media,
)
from tfqa.io.constants import FRAME_MS, MIN_DURATION_S
from tfqa.io.video import display_facts, iter_in_thread

# The embedded default extractors (offline, CPU), in pipeline order.
DEFAULT_EXTRACTORS = (
    "face_mesh",
    "visual_quality",
    "audio",
    "face",
    "visual",
    "shots",
    "action_units",
    "sync",
)
RAW_INPUTS = ("video", "waveform")

ProgressFn = Callable[[str, float], None]


@dataclass
class ClipFeatures:
    """Everything extracted from one clip."""

    path: str
    info: MediaInfo
    digests: dict[str, str]
    blocks: dict[str, FeatureBlock]
    n_frames: int  # length of the 25 Hz analysis grid
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    cache_hits: list[str] = field(default_factory=list)

    def stats(self) -> dict[str, float]:
        """All blocks' per-clip stats in one flat dict (later blocks win on a name clash)."""
        out: dict[str, float] = {}
        for block in self.blocks.values():
            out.update(block.stats)
        return out

    def __getitem__(self, name: str) -> FeatureBlock:
        return self.blocks[name]


def _as_extractor(x: str | Extractor) -> Extractor:
    return create_extractor(x) if isinstance(x, str) else x


class FeaturePipeline:
    """Extract the features of clips with a fixed set of extractors and a cache.

    Args:
        extractors: names or instances; dependencies missing from the list are
            added with their default config.
        cache: a :class:`FeatureCache`; ``None`` uses the default location,
            ``False`` disables caching.
        max_side: frames larger than this (pixels, longest side) are downscaled
            while decoding.
        min_duration_s: shorter clips are refused.
        workers: threads for the frame pass: decoding runs in its own thread and the
            face mesh in ``workers`` lanes (see :mod:`tfqa.features.landmarks`);
            ``None`` reads ``TFQA_WORKERS`` or uses min(2, CPU count); 1 runs the
            frame pass in the calling thread.  Audio extractors always run in one
            thread beside it.
    """

    def __init__(
        self,
        extractors: Sequence[str | Extractor] = DEFAULT_EXTRACTORS,
        *,
        cache: FeatureCache | bool | None = None,
        max_side: int = 1920,
        min_duration_s: float = MIN_DURATION_S,
        workers: int | None = None,
    ) -> None:
        self.workers = default_workers() if workers is None else max(1, int(workers))
        self.extractors = self._resolve([_as_extractor(x) for x in extractors])
        if cache is False:
            self.cache = FeatureCache(enabled=False)
        elif cache is None or cache is True:
            self.cache = FeatureCache()
        else:
            self.cache = cache
        self.max_side = max_side
        self.min_duration_s = min_duration_s

    def features_id(self) -> str:
        """16 hex digits naming what this pipeline computes: its extractors' configs and versions
        (a sync model's file included) and the decode size.  The feature store marks its
        entries with it, so arrays made by other extractors read as stale."""
        import hashlib
        import json

        keys = {name: x.config_hash() for name, x in self.extractors.items()}
        payload = json.dumps({"extractors": keys, "max_side": self.max_side}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @staticmethod
    def _resolve(given: list[Extractor]) -> dict[str, Extractor]:
        """Add missing dependencies and order: frame extractors (given order), then derived (topological)."""
        by_name = {x.name: x for x in given}
        stack = list(given)
        while stack:
            x = stack.pop()
            for dep in x.inputs:
                if dep not in RAW_INPUTS and dep not in by_name:
                    by_name[dep] = create_extractor(dep)
                    stack.append(by_name[dep])
        frame = [x for x in by_name.values() if isinstance(x, FrameExtractor)]
        derived = [x for x in by_name.values() if isinstance(x, DerivedExtractor)]
        ordered: list[Extractor] = sorted(frame, key=lambda x: _frame_rank(x, by_name))
        done = {x.name for x in ordered} | set(RAW_INPUTS)
        while derived:
            ready = [x for x in derived if all(d in done for d in x.inputs)]
            if not ready:
                names = ", ".join(x.name for x in derived)
                raise ConfigError(
                    f"extractor dependencies form a cycle or are missing among: {names}"
                )
            for x in ready:
                ordered.append(x)
                done.add(x.name)
                derived.remove(x)
        return {x.name: x for x in ordered}

    # ----------------------------------------------------------------------------
    def extract(self, path: str | Path, *, progress: ProgressFn | None = None) -> ClipFeatures:
        """Extract every configured extractor's block for ``path`` (see module docstring)."""
        t_start = time.perf_counter()
        path = str(path)
        timings: dict[str, float] = {}
        info = validate_media(path, min_duration_s=self.min_duration_s)
        digests = stream_digests(path)
        info, media_notes = _as_shown(path, info, digests)
        t0 = time.perf_counter()
        audio = load_audio(path, video_start_s=info.video_start_s)
        if audio.channel is not None:
            digests["audio"] = f"{digests.get('audio', '')}@ch{audio.channel}"
            media_notes.append(
                "the audio channels cancel when mixed to mono (one has inverted polarity): "
                f"scored on channel {audio.channel + 1} alone"
            )
        validate_audio(audio, path, min_duration_s=self.min_duration_s)
        timings["decode_audio"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        keys = self._keys(digests)
        blocks: dict[str, FeatureBlock] = {}
        hits = []
        for name, key in keys.items():
            block = self.cache.load(key)
            if block is not None:
                blocks[name] = block
                hits.append(name)
        timings["probe+cache"] = t0 - t_start + time.perf_counter() - t1

        warnings: list[str] = list(media_notes)
        missing_frame = [
            x
            for x in self.extractors.values()
            if isinstance(x, FrameExtractor) and x.name not in blocks
        ]
        # Audio-only extractors run in a worker thread during the frame pass (onnxruntime
        # and mediapipe release the GIL, so the two cores are both used).
        early = [
            x
            for x in self.extractors.values()
            if isinstance(x, DerivedExtractor)
            and x.name not in blocks
            and set(x.inputs) <= {"waveform"}
        ]
        pool = ThreadPoolExecutor(max_workers=1) if early and missing_frame else None
        futures: dict[str, Future] = {}
        if pool is not None:
            for x in early:
                futures[x.name] = pool.submit(self._timed, x, {"waveform": audio, "path": path})
        try:
            if missing_frame:
                n_grid, truncated = self._frame_pass(
                    path, info, missing_frame, blocks, timings, progress
                )
                if truncated:
                    warnings.append(
                        "the video stream is truncated or corrupt near its end: scored the decodable part"
                    )
            else:
                cached = [
                    b for n, b in blocks.items() if isinstance(self.extractors[n], FrameExtractor)
                ]
                # no frame extractor configured (audio features only): the clip's length as
                # its container declares it, else the audio's
                seconds = info.duration_s or audio.duration_s
                n_grid = _block_len(cached[0]) if cached else int(round(seconds * ANALYSIS_RATE))
            for name, fut in futures.items():
                blocks[name], timings[name] = fut.result()
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        if n_grid < math.ceil(self.min_duration_s * ANALYSIS_RATE):
            raise ClipTooShortError(
                f"only {n_grid} frames ({n_grid / ANALYSIS_RATE:.2f} s) could be decoded; "
                f"the analysis needs at least {self.min_duration_s:.1f} s",
                path=path,
                hint="Score a longer clip",
            )

        for x in self.extractors.values():
            if x.name in blocks or isinstance(x, FrameExtractor):
                continue
            inputs: dict[str, Any] = {"waveform": audio, "path": path, "n_frames": n_grid}
            inputs.update({d: blocks[d] for d in x.inputs if d not in RAW_INPUTS})
            blocks[x.name], timings[x.name] = self._timed(x, inputs)

        for name, key in keys.items():
            if name not in hits:
                self.cache.save(key, blocks[name], self._provenance(name, digests, path))
        if progress:
            progress("done", 1.0)
        feats = ClipFeatures(path, info, digests, blocks, n_grid, warnings, timings, hits)
        feats.warnings.extend(_evidence_warnings(feats))
        timings["total"] = time.perf_counter() - t_start
        return feats

    @staticmethod
    def _timed(x: DerivedExtractor, inputs: dict[str, Any]) -> tuple[FeatureBlock, float]:
        t0 = time.perf_counter()
        block = x.compute(inputs)
        return block, time.perf_counter() - t0

    def _frame_pass(self, path, info, missing, blocks, timings, progress) -> tuple[int, bool]:
        # Frame extractors that a missing one depends on in-pass (face_mesh feeds
        # visual_quality through ``state``) run again even if cached.
        frame_exts = [x for x in self.extractors.values() if isinstance(x, FrameExtractor)]
        needed = {x.name for x in missing}
        for x in reversed(frame_exts):  # frame_exts is dependency-ordered
            if x.name in needed:
                needed.update(d for d in x.inputs if d in self.extractors)
        run = [x for x in frame_exts if x.name in needed]
        spent = dict.fromkeys([x.name for x in run] + ["decode_video"], 0.0)
        frames = None
        try:
            for x in run:
                x.workers = self.workers
                x.begin(info)
            ahead = max(x.lookahead() for x in run)
            expected = max(1, int(info.duration_s * ANALYSIS_RATE))
            stream = FrameStream(path, max_side=self.max_side)
            frame_bytes = max(1, info.width * info.height * 3)
            depth = int(min(DECODE_QUEUE, max(2, DECODE_QUEUE_BYTES // frame_bytes)))
            frames = iter_in_thread(stream, depth) if self.workers > 1 else iter(stream)
            queue: deque = deque()  # frames prefetched, waiting for their update
            t_prev = time.perf_counter()
            for gf in frames:
                t_now = time.perf_counter()
                spent["decode_video"] += t_now - t_prev
                for x in run:
                    t_x = time.perf_counter()
                    x.prefetch(gf.rgb)
                    spent[x.name] += time.perf_counter() - t_x
                queue.append(gf)
                while len(queue) > ahead:
                    self._update(queue.popleft(), run, spent, expected, progress)
                t_prev = time.perf_counter()
            while queue:
                self._update(queue.popleft(), run, spent, expected, progress)
            for x in run:
                t_x = time.perf_counter()
                blocks[x.name] = x.finish(stream.n_grid)
                spent[x.name] += time.perf_counter() - t_x
        finally:
            if frames is not None and hasattr(frames, "close"):
                frames.close()  # on an error: stop the decode thread now, not when collected
            for x in run:
                x.close()
        timings.update(spent)
        return stream.n_grid, stream.truncated

    @staticmethod
    def _update(gf, run, spent, expected, progress) -> None:
        state: dict[str, Any] = {}
        for x in run:
            t_x = time.perf_counter()
            x.update(gf.rgb, gf.grid, state)
            spent[x.name] += time.perf_counter() - t_x
        if progress and gf.grid.start % 25 == 0:
            progress("frames", min(0.99, gf.grid.stop / expected))

    def _keys(self, digests: dict[str, str]) -> dict[str, str]:
        keys: dict[str, str] = {}
        for x in self.extractors.values():
            ins = {}
            for dep in x.inputs:
                if dep == "video":
                    ins[dep] = digests.get("video", "")
                elif dep == "waveform":
                    ins[dep] = digests.get("audio", "")
                else:
                    ins[dep] = keys[dep]
            keys[x.name] = FeatureCache.key(x, ins)
        return keys

    def _provenance(self, name: str, digests: dict[str, str], path: str) -> dict[str, Any]:
        import dataclasses

        x = self.extractors[name]
        return {
            "extractor": name,
            "version": x.version,
            "config": dataclasses.asdict(x.config),
            "inputs": list(x.inputs),
            "digests": digests,
            "source_path": path,
        }


@lru_cache(maxsize=1)
def default_features_id() -> str:
    """:meth:`FeaturePipeline.features_id` of the default extractors (what ``tfqa extract`` runs)."""
    return FeaturePipeline(cache=False, workers=1).features_id()


DECODE_QUEUE = 8  # decoded frames buffered ahead of the frame pass, at most
DECODE_QUEUE_BYTES = 16 * 2**20  # ... and at most this much (2 frames at least)


def default_workers() -> int:
    """Frame-pass threads: ``TFQA_WORKERS`` if set, else min(2, CPU count)."""
    env = os.environ.get("TFQA_WORKERS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ConfigError(
                f"TFQA_WORKERS must be a whole number of threads, but got {env!r}",
                hint="unset it to use min(2, CPU count), or set e.g. TFQA_WORKERS=1",
            ) from None
    return max(1, min(2, os.cpu_count() or 1))


def _block_len(block: FeatureBlock) -> int:
    return len(next(iter(block.sequences.values())))


def _frame_rank(x: Extractor, by_name: dict[str, Extractor]) -> int:
    """Frame extractors that feed others through ``state`` come first."""
    depth = 0
    for dep in x.inputs:
        if dep in by_name and isinstance(by_name[dep], FrameExtractor):
            depth = max(depth, 1 + _frame_rank(by_name[dep], by_name))
    return depth


def _as_shown(path: str, info: MediaInfo, digests: dict[str, str]) -> tuple[MediaInfo, list[str]]:
    """``info`` with how the frames are shown (turned, interlaced, non-square pixels) and a note
    for each; ``digests["video"]`` gets a suffix for each, because the packets alone do not say
    how the frames are shown, so that features an older tfqa computed on the raw frames are not
    reused."""
    shown = display_facts(path)
    notes = []
    if shown.rotation_deg:
        digests["video"] = f"{digests.get('video', '')}@rot{shown.rotation_deg}"
        info = dataclasses.replace(info, rotation_deg=shown.rotation_deg)
        notes.append(
            f"the video is stored turned (display rotation {shown.rotation_deg} degrees): "
            "scored upright, as players show it"
        )
    if shown.interlaced:
        digests["video"] = f"{digests.get('video', '')}@deint"
        info = dataclasses.replace(info, interlaced=True)
        notes.append(
            "the video is interlaced: deinterlaced before scoring (FFmpeg's bwdif, "
            "one frame per frame)"
        )
    if info.pixel_aspect != 1.0:
        digests["video"] = f"{digests.get('video', '')}@sar{info.pixel_aspect:.5f}"
        notes.append(
            f"the video has non-square pixels (sample aspect ratio {info.pixel_aspect:.3f}): "
            "scored at its display shape, as players show it"
        )
    return info, notes


def _evidence_warnings(feats: ClipFeatures) -> list[str]:
    out = []
    face = feats.blocks.get("face")
    if face is not None:
        cov = face.stats.get("face_coverage", 1.0)
        if cov < 0.95:
            out.append(f"face lost in {1 - cov:.0%} of the frames: scored the frames with a face")
        if face.stats.get("n_faces", 1.0) > 1 or face.stats.get("max_faces_detected", 1.0) > 1:
            reason, track = face.meta.get("speaker_reason", ""), face.meta.get("speaker_track")
            if not reason.startswith("several faces"):  # a second face, too briefly to track
                reason = f"several faces detected at times; {reason} long enough to score"
            out.append(f"{reason} (track {track})")
        elif face.meta.get("speaker_reason", "").startswith("one face at a time"):
            out.append(face.meta["speaker_reason"])
    shots = feats.blocks.get("shots")
    if shots is not None and shots.meta.get("cuts"):
        at = ", ".join(f"{c / ANALYSIS_RATE:.1f}" for c in shots.meta["cuts"])
        out.append(
            f"the clip has {len(shots.meta['cuts']) + 1} shots (cuts at {at} s): each shot's "
            "action units are measured against its own neutral face and its A/V sync on its own, "
            "and the picture change at a cut is not counted as flicker; the rest reads the clip "
            "as one face track"
        )
    sync = feats.blocks.get("sync")
    offsets = sync.meta.get("shot_offsets_ms", []) if sync is not None else []
    finite = [o for o in offsets if np.isfinite(o)]
    if finite and max(finite) - min(finite) >= 2 * FRAME_MS:
        each = ", ".join(f"{o:+.0f}" for o in offsets)
        out.append(
            f"the shots' A/V offsets differ ({each} ms): lip_sync reads their length-weighted "
            "mean; the per-second offset curve shows which part is out of sync"
        )
    return out


def extract(path: str | Path, **kwargs: Any) -> ClipFeatures:
    """One-shot convenience: ``FeaturePipeline(**kwargs).extract(path)``."""
    return FeaturePipeline(**kwargs).extract(path)


def model_arrays(feats: ClipFeatures) -> dict[str, np.ndarray]:
    """The feature contract consumed by the learned model (see ``tfqa.features.contract``)."""
    from tfqa.features.contract import model_arrays as _ma

    return _ma(feats)
