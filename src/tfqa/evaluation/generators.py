"""How scorers rank talking-head generator methods on clips whose method is known (issue 4).

The third-party clips (``clips/MANIFEST.csv``: ``file, set, method, width,
height, duration_s, notes, ...``) come from published generators.  Every clip
is decoded and its features extracted once; each scorer then maps the same
features to five scores (:meth:`tfqa.scoring.Scorer.score_features`).  The
table groups clips by ``method``: ``n`` and the mean of each score, one block
per scorer, sorted by mean ``overall``; real recordings can be scored alongside
as a reference row.

No label exists for these clips, so this is a plausibility check, not a
measurement: the clips differ in resolution, framing, audio source and layout
(multi-panel demo videos), and several methods have one or two clips.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tfqa.data.manifest import TASKS
from tfqa.errors import ConfigError, TfqaError
from tfqa.evaluation.report import markdown_table

REAL_METHOD = "real (reference)"  # the method name given to ``set == real`` clips
MANIFEST_NAME = "MANIFEST.csv"

Log = Callable[[str], None]


@dataclass
class GeneratorRanking:
    """Per-clip scores, the method table and its Markdown, and the files written."""

    clips: pd.DataFrame  # file, method, set, scorer, the five scores, status, error
    table: pd.DataFrame  # scorer, method, n, the five means
    agreement: dict[str, object]  # Spearman rho of method means between the first two scorers
    markdown: str
    files: dict[str, Path]


def read_clip_manifest(root: str | Path, *, include_real: bool = False) -> pd.DataFrame:
    """The clips of ``root/MANIFEST.csv`` with a method: ``file`` (absolute), ``set``, ``method``.

    Args:
        root: the folder holding ``MANIFEST.csv`` (paths in it are relative to it).
        include_real: also return the ``set == "real"`` clips, as method :data:`REAL_METHOD`.

    Raises:
        ConfigError: no manifest, or no ``file``/``set``/``method`` column.
    """
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise ConfigError(
            f"Expected a {MANIFEST_NAME} in {root}", path=path, hint="Point at the clips folder"
        )
    df = pd.read_csv(path)
    missing = [c for c in ("file", "set", "method") if c not in df.columns]
    if missing:
        raise ConfigError(
            f"Expected columns file, set, method, but {missing} are missing", path=path
        )
    keep = df["set"].eq("generated") | (include_real & df["set"].eq("real"))
    df = df[keep].copy()
    df.loc[df["set"] == "real", "method"] = REAL_METHOD
    df["file"] = [str((root / f).resolve()) for f in df["file"]]
    return df.reset_index(drop=True)


def score_clips(
    files: Sequence[str],
    scorers: Mapping[str, object],
    *,
    pipeline=None,
    log: Log | None = None,
) -> pd.DataFrame:
    """Extract each clip once and score it with every scorer.

    Args:
        files: clip paths.
        scorers: ``{name: scorer}`` with ``score_features(feats) -> (scores, subscores)``
            (the :mod:`tfqa.scoring` scorers).
        pipeline: a :class:`~tfqa.features.pipeline.FeaturePipeline` (default:
            the first scorer's).
        log: progress sink.

    Returns:
        One row per (clip, scorer): ``file, scorer``, the five scores,
        ``status`` (``ok``/``error``) and ``error``.
    """
    if not scorers:
        raise ConfigError("Expected at least one scorer, but got none")
    pipe = pipeline or next(iter(scorers.values())).pipeline
    rows = []
    for i, f in enumerate(files):
        try:
            feats = pipe.extract(f)
        except TfqaError as e:
            if log:
                log(f"{Path(f).name}: {e}")
            rows += [_row(f, name, None, str(e)) for name in scorers]
            continue
        for name, scorer in scorers.items():
            scores, _sub = scorer.score_features(feats)
            rows.append(_row(f, name, scores, ""))
        if log:
            log(f"[{i + 1}/{len(files)}] {Path(f).name}")
    return pd.DataFrame(rows)


def _row(file: str, scorer: str, scores: Mapping[str, float] | None, error: str) -> dict:
    row = {"file": file, "scorer": scorer}
    row.update({t: (float(scores[t]) if scores else np.nan) for t in TASKS})
    row.update(status="ok" if scores else "error", error=error)
    return row


def rank_methods(clips: pd.DataFrame) -> pd.DataFrame:
    """Per scorer and method: ``n`` scored clips and the mean of each score, best ``overall`` first."""
    ok = clips[clips["status"] == "ok"]
    table = (
        ok.groupby(["scorer", "method"], sort=False)
        .agg(n=("file", "size"), **{t: (t, "mean") for t in TASKS})
        .reset_index()
    )
    order = {s: k for k, s in enumerate(dict.fromkeys(clips["scorer"]))}
    table["_s"] = table["scorer"].map(order)
    table = table.sort_values(["_s", "overall"], ascending=[True, False]).drop(columns="_s")
    return table.reset_index(drop=True)


def method_agreement(table: pd.DataFrame, dim: str = "overall") -> dict[str, object]:
    """Spearman ρ between the first two scorers' method means of ``dim`` (and the method count)."""
    from scipy.stats import spearmanr

    scorers = list(dict.fromkeys(table["scorer"]))
    if len(scorers) < 2:
        return {}
    a = table[table["scorer"] == scorers[0]].set_index("method")[dim]
    b = table[table["scorer"] == scorers[1]].set_index("method")[dim]
    common = a.index.intersection(b.index)
    if len(common) < 3:
        return {}
    rho = spearmanr(a[common], b[common]).statistic
    return {"scorers": f"{scorers[0]} vs {scorers[1]}", "dimension": dim,
            "spearman_rho": float(rho), "methods": len(common)}  # fmt: skip


def ranking_markdown(table: pd.DataFrame) -> str:
    """One Markdown table per scorer: method, n, the five mean scores (best overall first)."""
    parts = []
    for scorer, sub in table.groupby("scorer", sort=False):
        rows = [
            [r["method"], int(r["n"]), *(f"{r[t]:.2f}" for t in TASKS)] for _, r in sub.iterrows()
        ]
        parts += [f"### {scorer}", "", markdown_table(["method", "n", *TASKS], rows), ""]
    return "\n".join(parts)


def rank_generators(
    root: str | Path,
    out_dir: str | Path,
    *,
    scorers: Sequence[str] = ("learned", "zero-shot"),
    checkpoint: str | Path | None = None,
    cache_dir: str | Path | None = None,
    include_real: bool = True,
    log: Log | None = None,
) -> GeneratorRanking:
    """Score the clips of ``root/MANIFEST.csv`` and rank their generator methods.

    Args:
        root: the clips folder (``MANIFEST.csv`` + ``generated/``, ``real/``).
        out_dir: receives ``clip_scores.csv``, ``methods.csv`` and ``methods.md``.
        scorers: names for :func:`tfqa.scoring.create_scorer`.
        checkpoint: the learned scorer's checkpoint (default: the shipped one).
        cache_dir: feature cache (default: tfqa's).
        include_real: score the real recordings too, as a reference row.
        log: progress sink (default: print).
    """
    from tfqa.features.cache import FeatureCache
    from tfqa.features.pipeline import FeaturePipeline
    from tfqa.scoring import create_scorer

    log = log or print
    clips = read_clip_manifest(root, include_real=include_real)
    pipe = FeaturePipeline(cache=FeatureCache(cache_dir))
    built = {}
    for name in scorers:
        kwargs = {"pipeline": pipe}
        if name == "learned" and checkpoint is not None:
            kwargs["checkpoint"] = checkpoint
        built[name] = create_scorer(name, **kwargs)
    scores = score_clips(list(clips["file"]), built, pipeline=pipe, log=log)
    meta = clips[["file", "set", "method"]]
    per_clip = meta.merge(scores, on="file", how="right")
    table = rank_methods(per_clip)
    agreement = method_agreement(table[table["method"] != REAL_METHOD])
    md = ranking_markdown(table)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"clips": out / "clip_scores.csv", "csv": out / "methods.csv", "md": out / "methods.md"}
    per_clip.to_csv(files["clips"], index=False)
    table.to_csv(files["csv"], index=False)
    extra = ""
    if agreement:
        extra = (f"\nSpearman ρ of the generator methods' mean {agreement['dimension']} "
                 f"({agreement['scorers']}, {agreement['methods']} methods): "
                 f"{agreement['spearman_rho']:.2f}\n")  # fmt: skip
    files["md"].write_text(md + extra)
    return GeneratorRanking(per_clip, table, agreement, md + extra, files)
