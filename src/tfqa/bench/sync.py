"""``tfqa bench sync``: recovery of known A/V offsets on real clips.

Protocol: each clip's audio is shifted by k frames (k = -10..+10; positive =
audio later), the clip is cut into non-overlapping windows of ``window_s``
seconds (a shorter clip is one window) and the offset is estimated on every
window.  A case passes when the estimate is within +-``tolerance`` frames of
k.  Because a real recording can itself be out of sync, the table also gives
each clip's own offset c (estimated on the whole, unshifted clip) and the
share of cases within tolerance of k + c (recovery of the *applied* shift).
c comes from tfqa's own estimator, so that share cannot catch a clip where tfqa
is wrong on the whole clip; the third share uses c only where an independent
crude estimator agrees (:func:`tfqa.data.own_offset.decide`, the rule the
benchmark labels use) and k itself elsewhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tfqa.data.own_offset import crude_offset, decide
from tfqa.errors import InputError
from tfqa.features.landmarks import speech_band_envelope
from tfqa.features.sync import estimate_offset, load_sync_model, sync_inputs
from tfqa.io import ANALYSIS_RATE, HOP_SAMPLES


def shift_audio(samples: np.ndarray, frames: int) -> np.ndarray:
    """Delay (frames > 0) or advance (frames < 0) audio by whole analysis frames, keeping the length."""
    s = frames * HOP_SAMPLES
    if s > 0:
        return np.concatenate([np.zeros(s, samples.dtype), samples])[: len(samples)]
    if s < 0:
        return np.concatenate([samples[-s:], np.zeros(-s, samples.dtype)])
    return samples


@dataclass
class ClipSyncResult:
    clip: str
    n_windows: int
    own_offset_frames: float
    own_confidence: float
    share_within_tol: float
    share_within_tol_of_applied: float
    crude_own_offset_frames: float = float("nan")
    agreed_own_offset_frames: float = 0.0  # c where both estimators agree, else 0
    share_within_tol_of_agreed: float = float("nan")
    cases: list[dict] = field(default_factory=list)
    error: str | None = None


@dataclass
class SyncBenchResult:
    shifts: list[int]
    window_s: float
    tolerance: int
    clips: list[ClipSyncResult]
    seconds: float

    @property
    def cases(self) -> list[dict]:
        return [c for r in self.clips for c in r.cases]

    def share(self, key: str = "ok") -> float:
        cases = self.cases
        return float(np.mean([c[key] for c in cases])) if cases else float("nan")

    def to_dict(self) -> dict:
        return {
            "shifts": self.shifts,
            "window_s": self.window_s,
            "tolerance_frames": self.tolerance,
            "n_cases": len(self.cases),
            "share_within_tol": self.share("ok"),
            "share_within_tol_of_applied": self.share("ok_applied"),
            "share_within_tol_of_agreed": self.share("ok_agreed"),
            "clips_failed": [r.clip for r in self.clips if r.error],
            "seconds": self.seconds,
            "clips": [asdict(r) for r in self.clips],
        }


def run_sync_bench(
    paths: Sequence[str | Path],
    *,
    shifts: Sequence[int] = tuple(range(-10, 11)),
    window_s: float = 5.0,
    tolerance: int = 1,
    cache_dir: str | Path | None = None,
    on_clip: Callable[[ClipSyncResult], None] | None = None,
) -> SyncBenchResult:
    """Run the protocol of the module docstring on ``paths``."""
    from tfqa.features.cache import FeatureCache
    from tfqa.features.pipeline import FeaturePipeline

    pipeline = FeaturePipeline(
        ["face_mesh", "face"], cache=FeatureCache(cache_dir) if cache_dir else None
    )
    model = load_sync_model()
    t0 = time.perf_counter()
    results = []
    for path in paths:
        try:
            res = _bench_clip(str(path), pipeline, model, shifts, window_s, tolerance)
        except InputError as exc:
            res = ClipSyncResult(Path(path).name, 0, np.nan, np.nan, np.nan, np.nan, error=str(exc))
        results.append(res)
        if on_clip:
            on_clip(res)
    return SyncBenchResult(list(shifts), window_s, tolerance, results, time.perf_counter() - t0)


def _bench_clip(path, pipeline, model, shifts, window_s, tolerance) -> ClipSyncResult:
    x = sync_inputs(pipeline, path)
    mouth, cols, present, samples = x.mouth, x.columns, x.present, x.samples
    n = len(mouth)
    own = estimate_offset(mouth, cols, present, samples, model=model)
    lip = x.lip_opening()
    crude, _ = crude_offset(lip, np.log(speech_band_envelope(samples, len(lip))))
    agreed = decide(own["offset_frames"], crude)
    win = int(round(window_s * ANALYSIS_RATE))
    starts = list(range(0, n - win + 1, win)) if n >= win else [0]
    cases = []
    for k in shifts:
        shifted = shift_audio(samples, k)
        for s in starts:
            e = min(n, s + win)
            est = estimate_offset(
                mouth[s:e],
                cols,
                present[s:e],
                shifted[s * HOP_SAMPLES : e * HOP_SAMPLES],
                model=model,
            )
            cases.append(
                {
                    "window_start_s": s / ANALYSIS_RATE,
                    "shift_frames": k,
                    "estimate_frames": est["offset_frames"],
                    "confidence": est["confidence"],
                    "ok": bool(abs(est["offset_frames"] - k) <= tolerance),
                    "ok_applied": bool(
                        abs(est["offset_frames"] - k - own["offset_frames"]) <= tolerance
                    ),
                    "ok_agreed": bool(abs(est["offset_frames"] - k - agreed) <= tolerance),
                }
            )
    return ClipSyncResult(
        clip=Path(path).name,
        n_windows=len(starts),
        own_offset_frames=own["offset_frames"],
        own_confidence=own["confidence"],
        share_within_tol=float(np.mean([c["ok"] for c in cases])),
        share_within_tol_of_applied=float(np.mean([c["ok_applied"] for c in cases])),
        crude_own_offset_frames=float(crude),
        agreed_own_offset_frames=agreed,
        share_within_tol_of_agreed=float(np.mean([c["ok_agreed"] for c in cases])),
        cases=cases,
    )


def write_json(result: SyncBenchResult, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=1, default=float))
    return path
