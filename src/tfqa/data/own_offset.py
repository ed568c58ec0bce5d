"""A source clip's own A/V offset: is the reference of the benchmark itself in sync?

The benchmark's labels treat each source as the reference.  Many real sources
are not in sync themselves (generator-repo demo footage re-muxed from separate
video and audio, broadcast delays): a *clean* variant of a clip whose audio lags
by 240 ms is labelled ``lip_sync`` 5 although a viewer sees an offset, and every
shifted variant of it is labelled as if shifted from zero.  That is label noise
on exactly the evidence a lip-sync scorer should learn.

So the source's own offset is measured by two estimators that share nothing
learned and counted (``ClipFacts.own_offset_ms``) only where they agree:

- ``tfqa``: tfqa's sync estimator (:func:`tfqa.features.sync.estimate_offset`,
  a ridge model of mouth shape from speech, fitted on the 40 AI-generated
  clips) over the whole recording;
- ``crude``: the lag (±15 frames) maximising the correlation of the
  frame-to-frame change of the inner-lip opening with the change of the log
  speech-band envelope (:func:`crude_offset`) — no model, no band-pass.

Rule (:func:`decide`): per source, each estimator on the whole source recording
(the median over its prepared segments where the recording is gone); counted when both are at least :data:`MIN_FRAMES` frames away from
zero on the same side and within :data:`TOLERANCE` frames of each other; the
value counted is the *crude* estimate's, so a label never takes its size from
tfqa's own estimator (which only has a veto).  Otherwise the source is taken as
in sync (0), as before.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tfqa.io.constants import FRAME_MS

MAX_LAG = 15  # frames searched either way
MIN_FRAMES = 2  # |offset| below this is within the estimators' own ±1-frame error: in sync
TOLERANCE = 1  # frames by which the two estimates may differ and still agree


def crude_offset(
    mouth: np.ndarray, envelope: np.ndarray, max_lag: int = MAX_LAG
) -> tuple[int, float]:
    """(lag in frames, correlation) maximising corr(diff(mouth)[t], diff(envelope)[t + lag]).

    Positive lag: the audio lags the video (tfqa's convention).  NaN frames of
    ``mouth`` (no face) are left out; ``(0, nan)`` when no lag has enough frames.
    """
    dm, de = np.diff(np.asarray(mouth, float)), np.diff(np.asarray(envelope, float))
    best, best_r = 0, -np.inf
    for lag in range(-max_lag, max_lag + 1):
        x = dm[max(0, -lag) : len(dm) - max(0, lag)]
        y = de[max(0, lag) : len(de) - max(0, -lag)]
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() <= 20 or x[ok].std() == 0 or y[ok].std() == 0:
            continue
        r = float(np.corrcoef(x[ok], y[ok])[0, 1])
        if r > best_r:
            best, best_r = lag, r
    return best, (best_r if np.isfinite(best_r) else float("nan"))


def decide(tfqa_frames: float, crude_frames: float) -> float:
    """The own offset (frames) the labels count: the crude estimate where both agree, else 0."""
    if not (np.isfinite(tfqa_frames) and np.isfinite(crude_frames)):
        return 0.0
    same_side = np.sign(tfqa_frames) == np.sign(crude_frames)
    big = min(abs(tfqa_frames), abs(crude_frames)) >= MIN_FRAMES
    if same_side and big and abs(tfqa_frames - crude_frames) <= TOLERANCE:
        return float(crude_frames)
    return 0.0


@dataclass(frozen=True)
class SegmentOffset:
    """Both estimates on one prepared clip."""

    clip: str
    tfqa_frames: float
    tfqa_confidence: float
    crude_frames: float
    crude_corr: float


@dataclass(frozen=True)
class OwnOffset:
    """A source's own offset: the medians over its segments and what the labels count."""

    source: str
    segments: int
    tfqa_frames: float
    crude_frames: float
    counted_frames: float

    @property
    def counted_ms(self) -> float:
        return self.counted_frames * FRAME_MS


def measure_clip(path: str | Path, pipeline=None) -> SegmentOffset:
    """Both estimators on one clip (face-mesh features from ``pipeline``, cached there)."""
    from tfqa.features.landmarks import speech_band_envelope
    from tfqa.features.pipeline import FeaturePipeline
    from tfqa.features.sync import estimate_offset, sync_inputs

    x = sync_inputs(pipeline or FeaturePipeline(["face_mesh", "face"]), path)
    est = estimate_offset(x.mouth, x.columns, x.present, x.samples, max_lag=MAX_LAG)
    lip = x.lip_opening()
    lag, r = crude_offset(lip, np.log(speech_band_envelope(x.samples, len(lip))))
    return SegmentOffset(Path(path).stem, est["offset_frames"], est["confidence"], float(lag), r)


def combine_segments(source: str, segs: Sequence[SegmentOffset]) -> OwnOffset:
    """Medians over a source's segments, then :func:`decide`."""
    t = float(np.median([s.tfqa_frames for s in segs])) if segs else float("nan")
    c = float(np.median([s.crude_frames for s in segs])) if segs else float("nan")
    return OwnOffset(source, len(segs), t, c, decide(t, c))


def write_table(path: Path, offsets: Sequence[OwnOffset], segs: Sequence[SegmentOffset]) -> Path:
    """``own_offsets.csv``: one row per source (the decision) and the per-segment estimates."""
    path.parent.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[SegmentOffset]] = {}
    for s in segs:
        by_source.setdefault(s.clip.split("__seg")[0], []).append(s)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["source", "segments", "tfqa_frames", "crude_frames", "counted_frames",
                    "counted_ms", "per_segment_tfqa", "per_segment_crude", "measured_on"])  # fmt: skip
        for o in offsets:
            ss = by_source.get(o.source, [])
            w.writerow([o.source, o.segments, o.tfqa_frames, o.crude_frames, o.counted_frames,
                        o.counted_ms, " ".join(f"{s.tfqa_frames:+.0f}" for s in ss),
                        " ".join(f"{s.crude_frames:+.0f}" for s in ss),
                        " ".join(s.clip for s in ss)])  # fmt: skip
    return path


def read_table(path: Path) -> dict[str, float]:
    """``{source: counted offset in ms}`` from an ``own_offsets.csv``."""
    with Path(path).open() as fh:
        return {r["source"]: float(r["counted_ms"]) for r in csv.DictReader(fh)}


def as_dict(o: OwnOffset) -> dict:
    return {**asdict(o), "counted_ms": o.counted_ms}
