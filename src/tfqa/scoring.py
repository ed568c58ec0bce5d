"""Scores for talking-face clips: ``create_scorer(name).score(path) -> ScoreResult``.

Scorers share one result format — the five scores (1-5, higher is better),
the evidence behind them (flat named diagnostics), per-second curves,
per-frame traces, warnings — so the CLI, the service and the benchmarks
never care which scorer ran.

* ``zero-shot`` — documented monotone calibrations of the evidence
  (:mod:`tfqa.calibration`); needs no training data.
* ``learned`` — the thesis model (:mod:`tfqa.model`) from a checkpoint,
  averaged with the gradient-boosted trees fitted for it when given
  (:mod:`tfqa.model.trees`); the default checkpoint and its trees ship inside
  the package (docs/model-card.md).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfqa import calibration as cal
from tfqa.errors import ConfigError, TfqaError, choice_hint
from tfqa.features.pipeline import ClipFeatures, FeaturePipeline, ProgressFn
from tfqa.version import __version__

DIMENSIONS = ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")

# CSV: the five scores, then the headline evidence, then every other diagnostic.
HEADLINE_EVIDENCE = ("av_offset_ms", "sync_confidence")


@dataclass
class ScoreResult:
    """The outcome of scoring one clip (``status`` is ``"ok"`` or ``"error"``)."""

    path: str
    scores: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, float] = field(default_factory=dict)
    subscores: dict[str, dict[str, float]] = field(default_factory=dict)
    curves: dict[str, list[float | None]] = field(default_factory=dict)
    traces: dict[str, list[float | None]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)
    scorer: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["tfqa_version"] = __version__
        return _clean(d)

    def to_row(self) -> dict[str, Any]:
        """One CSV row: path, the five scores, headline evidence, other diagnostics, status."""
        row: dict[str, Any] = {"path": self.path}
        row.update({k: _round(self.scores.get(k)) for k in DIMENSIONS})
        row.update({k: _round(self.evidence.get(k)) for k in HEADLINE_EVIDENCE})
        row.update(
            {k: _round(v) for k, v in sorted(self.evidence.items()) if k not in HEADLINE_EVIDENCE}
        )
        row["warnings"] = " | ".join(self.warnings)
        row["status"] = self.status
        row["error"] = self.error["message"] if self.error else ""
        return row

    @classmethod
    def failed(cls, path: str, exc: Exception, scorer: str) -> ScoreResult:
        info = exc.to_dict() if isinstance(exc, TfqaError) else {"code": type(exc).__name__}
        info["message"] = str(exc)
        return cls(path=path, scorer=scorer, status="error", error=info)


def _round(v: Any, nd: int = 4) -> Any:
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(v) else round(float(v), nd)
    return v


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_clean(v) for v in obj.tolist()]
    if isinstance(obj, (float, np.floating)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# ---------------------------------------------------------------------------------------
# evidence shared by all scorers


def collect_evidence(feats: ClipFeatures) -> dict[str, float]:
    """The flat evidence dict of a clip (every block's stats + derived diagnostics)."""
    ev = dict(feats.stats())
    face = feats.blocks.get("face")
    if face is not None:
        speech, silence = ev.get("mouth_open_speech", np.nan), ev.get("mouth_open_silence", np.nan)
        ev["mouth_speech_silence_ratio"] = (
            speech / silence if silence and np.isfinite(silence) else np.nan
        )
    visual = feats.blocks.get("visual")
    if visual is not None:
        ev["frozen_ratio"] = float(
            np.nanmax(
                [ev.get("frozen_ratio", np.nan), visual.stats.get("frame_repeat_ratio", np.nan)]
            )
        )
    ev["duration_s"] = feats.n_frames / 25.0
    ev["fps"] = feats.info.fps
    ev["width"], ev["height"] = float(feats.info.width), float(feats.info.height)
    return ev


def collect_curves(feats: ClipFeatures) -> dict[str, list]:
    """Per-second curves of all blocks, named ``<block>.<curve>``."""
    return {
        f"{name}.{k}": np.asarray(v, dtype=float).tolist()
        for name, block in feats.blocks.items()
        for k, v in block.curves.items()
    }


def collect_traces(feats: ClipFeatures) -> dict[str, list]:
    """Per-frame traces (25 Hz) for plots: mouth vs its prediction from the voice, speech energy."""
    out: dict[str, list] = {}
    sync = feats.blocks.get("sync")
    if sync is not None:
        cols = sync.columns.get("sync", [])
        for i, c in enumerate(cols):
            out[f"sync.{c}"] = sync.sequences["sync"][:, i].astype(float).tolist()
    audio = feats.blocks.get("audio")
    if audio is not None and "speech_envelope" in audio.sequences:
        out["audio.speech_envelope"] = (
            audio.sequences["speech_envelope"][:, 0].astype(float).tolist()
        )
    face = feats.blocks.get("face")
    if face is not None:
        out["face.mouth_open"] = face.sequences["mouth"][:, 0].astype(float).tolist()
    return out


# ---------------------------------------------------------------------------------------
# scorers


class Scorer:
    """Base: extracts features with a :class:`FeaturePipeline` and maps them to scores."""

    name = "base"

    def __init__(self, pipeline: FeaturePipeline | None = None, **pipeline_kwargs: Any) -> None:
        self.pipeline = pipeline or FeaturePipeline(**pipeline_kwargs)
        self.notes: list[str] = []  # scorer-wide warnings, added to every result

    def score_features(
        self, feats: ClipFeatures
    ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        raise NotImplementedError

    def score(self, path: str | Path, *, progress: ProgressFn | None = None) -> ScoreResult:
        """Score one clip; raises a :class:`~tfqa.errors.TfqaError` when it cannot be scored."""
        feats = self.pipeline.extract(path, progress=progress)
        t0 = time.perf_counter()
        scores, subscores = self.score_features(feats)
        timings = {**feats.timings, "scoring": time.perf_counter() - t0}
        return ScoreResult(
            path=str(path),
            scores=scores,
            evidence=collect_evidence(feats),
            subscores=subscores,
            curves=collect_curves(feats),
            traces=collect_traces(feats),
            warnings=list(feats.warnings) + self.notes,
            media=feats.info.to_dict(),
            scorer=self.name,
            timings=timings,
        )

    def score_many(
        self,
        paths: Iterable[str | Path],
        *,
        on_result: Callable[[ScoreResult], None] | None = None,
        progress: ProgressFn | None = None,
    ) -> Iterator[ScoreResult]:
        """Score each path; a clip that fails yields a ``status="error"`` result, never an exception."""
        for p in paths:
            try:
                res = self.score(p, progress=progress)
            except TfqaError as exc:
                res = ScoreResult.failed(str(p), exc, self.name)
            except (
                OSError,
                ValueError,
                RuntimeError,
                MemoryError,
            ) as exc:  # decoder/library failures
                res = ScoreResult.failed(str(p), exc, self.name)
            if on_result:
                on_result(res)
            yield res


class ZeroShotScorer(Scorer):
    """Evidence -> scores through the documented rules of :mod:`tfqa.calibration`."""

    name = "zero-shot"

    def score_features(
        self, feats: ClipFeatures
    ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        return zero_shot_scores(collect_evidence(feats))


def zero_shot_scores(ev: dict[str, float]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The five zero-shot scores and their sub-scores from an evidence dict (pure function)."""
    g = ev.get
    sub: dict[str, dict[str, float]] = {}
    sub["lip_sync"] = {
        "offset": cal.offset_score(g("av_offset_ms", np.nan)),
        "confidence": cal.SYNC_CONFIDENCE(g("sync_confidence", np.nan)),
        "articulation": cal.ARTICULATION(g("mouth_open_std", np.nan)),
    }
    blink = g("blink_rate_per_min", np.nan)
    # no blink in a short clip is normal (P(no blink in 10 s) ~ 5 % at 17/min): judge low rates
    # only on clips long enough to expect several blinks
    long_enough = g("duration_s", 0.0) >= cal.BLINK_MIN_DURATION_S
    sub["expression"] = {
        "frozen": cal.FROZEN(g("frozen_ratio", np.nan)),
        "jitter": cal.JITTER(g("landmark_jitter", np.nan)),
        "blinks": cal.soft_min(
            [cal.BLINK_LOW(blink) if long_enough else np.nan, cal.BLINK_HIGH(blink)]
        ),
    }
    sub["audio_quality"] = {
        "dnsmos": cal.DNSMOS_OVRL(g("dnsmos_ovrl", np.nan)),
        "clipping": cal.CLIPPING(g("clipping_ratio", np.nan)),
        "bandwidth": cal.BANDWIDTH(g("bandwidth_hz", np.nan)),
    }
    sub["cross_modal"] = {
        "coupling": cal.SYNC_PEAK(g("sync_peak_corr", np.nan)),
        "activity": cal.ACTIVITY_COUPLING(g("mouth_speech_silence_ratio", np.nan)),
        "timing": cal.offset_score(g("av_offset_ms", np.nan)),
    }
    sub["visual_quality"] = {
        "sharpness": cal.SHARPNESS(g("sharpness", np.nan)),
        "blockiness": cal.BLOCKINESS(g("blockiness", np.nan)),
    }
    # an offset read off a flat lag curve is noise: weigh the offset sub-scores by how clearly
    # the mouth follows the voice (confidence 0.12 -> ignored, 0.24 and up -> full weight)
    r = float(np.clip((g("sync_confidence", 0.0) - 0.12) / 0.12, 0.0, 1.0))
    weights = {
        "lip_sync": {"offset": r},
        "expression": {"blinks": 0.5},
        "cross_modal": {"timing": 0.5 * r, "activity": 0.5},
    }
    scores = {
        dim: cal.soft_min(list(parts.values()), [weights.get(dim, {}).get(k, 1.0) for k in parts])
        for dim, parts in sub.items()
    }
    keys = list(cal.OVERALL_WEIGHTS)
    scores["overall"] = cal.soft_min(
        [scores[k] for k in keys], [cal.OVERALL_WEIGHTS[k] for k in keys], p=cal.OVERALL_P
    )
    sub["overall"] = {k: scores[k] for k in keys}
    ordered = {k: scores[k] for k in DIMENSIONS}
    ordered["visual_quality"] = scores["visual_quality"]
    return ordered, sub


class LearnedScorer(Scorer):
    """The thesis model from a checkpoint, averaged with its trees (see :mod:`tfqa.model.scorer`).

    Args:
        checkpoint: a ``best.pt`` of ``tfqa train``; None = the shipped default.
        trees: a ``trees.npz`` fitted for that checkpoint (``tfqa compare`` writes one);
            None = the shipped trees with the shipped checkpoint (given or not), no trees
            with another checkpoint; True = the shipped trees; False = the Transformer alone.

    The sub-scores of each dimension are the members' scores (``transformer``, ``trees``).
    """

    name = "learned"

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        trees: str | Path | bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from tfqa.model.scorer import LearnedScorer as _Model
        from tfqa.model.scorer import default_checkpoint, default_trees

        self.checkpoint = Path(checkpoint) if checkpoint else default_checkpoint()
        shipped = checkpoint is None or (
            default_trees() is not None
            and self.checkpoint.resolve() == default_checkpoint().resolve()
        )
        if trees is None:
            trees = default_trees() if shipped else False
        elif trees is True:
            trees = default_trees()
        self.trees = Path(trees) if trees else None
        self.model = _Model(self.checkpoint, trees=self.trees)
        self._check_features()

    def _check_features(self) -> None:
        """Warn (once, and in every result) when this tfqa's extractors are not the ones the
        checkpoint was trained on: its inputs would then be shifted and its scores off."""
        from tfqa.model.scorer import features_mismatch

        msg = features_mismatch(
            str(self.checkpoint), self.model.features_id, self.pipeline.features_id()
        )
        if msg is None:
            return
        warnings.warn(msg, UserWarning, stacklevel=3)
        self.notes.append(msg)

    def score_features(
        self, feats: ClipFeatures
    ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        members = self.model.score_members(feats)
        scores = {k: float(members["score"][0, i]) for i, k in enumerate(DIMENSIONS)}
        sub = {
            k: {m: float(v[0, i]) for m, v in members.items() if m != "score"}
            for i, k in enumerate(DIMENSIONS)
        }
        return scores, sub if self.trees is not None else {}


_SCORERS: dict[str, type[Scorer]] = {"zero-shot": ZeroShotScorer, "learned": LearnedScorer}
# the trained model that ships in the package (docs/model-card.md); "zero-shot" stays available
DEFAULT_SCORER = "learned"


def list_scorers() -> list[str]:
    return sorted(_SCORERS)


def create_scorer(name: str = DEFAULT_SCORER, **kwargs: Any) -> Scorer:
    """Build a scorer by name (``"learned"``, the default, or ``"zero-shot"``); kwargs go to its
    constructor.

    Example:
        >>> scorer = create_scorer("zero-shot", cache=False)  # doctest: +SKIP
        >>> scorer.score("clip.mp4").scores["lip_sync"]  # doctest: +SKIP
    """
    if name not in _SCORERS:
        raise ConfigError(f"unknown scorer `{name}`", hint=choice_hint(name, list_scorers()))
    return _SCORERS[name](**kwargs)


def write_results(results: list[ScoreResult], out: str | Path) -> Path:
    """Write results as CSV (``.csv``), an HTML report (``.html``, :mod:`tfqa.report`) or JSON
    (``.json``/anything else), creating folders."""
    import csv

    out = Path(out)
    if out.suffix.lower() in (".html", ".htm"):
        from tfqa.report import write_html_report

        return write_html_report(results, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        rows = [r.to_row() for r in results]
        fields: list[str] = []
        for row in rows:
            fields.extend(k for k in row if k not in fields)
        # keep status/error/warnings at the end
        for k in ("warnings", "status", "error"):
            if k in fields:
                fields.remove(k)
                fields.append(k)
        with out.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
    else:
        out.write_text(json.dumps([r.to_dict() for r in results], indent=1))
    return out
