"""``tfqa evaluate CHECKPOINT MANIFEST``: metrics with CIs, predictions and figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tfqa.data.manifest import TASKS, load_manifest
from tfqa.data.splits import assign_splits
from tfqa.data.store import FeatureSet, FeatureStore, load_feature_set
from tfqa.errors import ConfigError
from tfqa.evaluation.bootstrap import N_RESAMPLES
from tfqa.evaluation.figures import write_figures
from tfqa.evaluation.report import evaluate_predictions, write_report
from tfqa.model.inference import TrainedModel
from tfqa.model.scorer import LearnedScorer, features_mismatch


@dataclass
class EvalResult:
    """Metrics (long table), per-clip predictions and the files written."""

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    files: dict[str, Path]


def check_contract(trained: TrainedModel, data: FeatureSet) -> None:
    """Refuse features whose dims differ from those the model was trained on."""
    want, got = trained.contract.get("dims"), data.contract.get("dims")
    if want and got and want != got:
        raise ConfigError(
            f"the checkpoint was trained on feature dims {want}, but these clips have {got}",
            path=trained.path,
            hint="Extract with the same feature backends as the training data",
        )


def select_split(df: pd.DataFrame, split: str | None, config: dict) -> pd.DataFrame:
    """Rows of ``split`` (``None``/``"all"``: every row); splits are re-derived like training did."""
    if split in (None, "all"):
        return df
    data_cfg = config["data"]
    df = df.copy()
    df["split"] = assign_splits(df, data_cfg["split_fractions"], data_cfg["split_seed"])
    sub = df[df["split"] == split]
    if sub.empty:
        raise ConfigError(f"the manifest has no clips in the {split!r} split")
    return sub


def evaluate_features(
    scorer: LearnedScorer,
    data: FeatureSet,
    out_dir: str | Path,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    figures: bool = True,
    title: str = "Evaluation",
) -> EvalResult:
    """Evaluate a trained model (with its trees, if the scorer has them) on an in-memory
    feature set and write the report."""
    trained = scorer.trained
    check_contract(trained, data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    preds = scorer.members(data.clips)["score"]
    table = evaluate_predictions(data.labels, preds, n_resamples=n_resamples, seed=seed)
    notes = f"checkpoint: `{trained.path}`"
    if scorer.trees is not None:
        notes += f"; averaged with the trees of `{scorer.trees_path}`"
    files = write_report(table, out, title=title, notes=notes)
    pred_df = pd.DataFrame({"video": data.videos, "group": data.groups})
    for k, t in enumerate(TASKS):
        pred_df[t] = data.labels[:, k]
        pred_df[f"pred_{t}"] = preds[:, k]
    files["predictions"] = out / "predictions.csv"
    pred_df.to_csv(files["predictions"], index=False)
    if figures:
        files.update(write_figures(np.asarray(data.labels), preds, table, out))
    return EvalResult(table, pred_df, files)


def evaluate(
    checkpoint: str | Path,
    manifest: str | Path,
    out_dir: str | Path,
    *,
    trees: str | Path | None = None,
    cache_dir: str | Path | None = None,
    split: str | None = "test",
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    device: str = "auto",
    figures: bool = True,
    log: Callable[[str], None] | None = None,
) -> EvalResult:
    """``tfqa evaluate``: score a manifest's clips with a checkpoint and report the metrics.

    Args:
        checkpoint: ``best.pt`` (or ``last.pt``) written by ``tfqa train``, or
            ``default``: the shipped default scorer (checkpoint + its trees).
        trees: a ``trees.npz`` of ``tfqa compare`` for ``checkpoint``: the predictions
            are then the default scorer's average of the two.
        manifest: the labelled manifest; its clips must have been extracted.
        out_dir: receives ``metrics.csv``, ``metrics.md``, ``predictions.csv``
            and ``scatter.png``, ``errors.png``, ``ci.png``.
        cache_dir: the feature cache used by ``tfqa extract``.
        split: ``test`` (default), ``val``, ``train`` or ``all``; the split is
            the manifest's own or re-derived exactly as training derived it.
        n_resamples: bootstrap resamples for the 95 % CIs.
        seed: bootstrap seed.
        device: ``auto``/``cpu``/``cuda``.
        figures: also write the PNG figures.
        log: progress sink (default: print).
    """
    log = log or print
    if str(checkpoint) == "default":
        from tfqa.model.scorer import default_checkpoint, default_trees

        checkpoint, trees = default_checkpoint(), trees or default_trees()
    scorer = LearnedScorer(checkpoint, trees=trees, device=device)
    df = select_split(load_manifest(manifest), split, scorer.trained.config)
    data, _missing = load_feature_set(df, FeatureStore.in_cache(cache_dir), log=log)
    stale = features_mismatch(str(checkpoint), scorer.features_id, data.contract.get("features_id"))
    if stale:
        log(f"warning: {stale}")
    title = f"Evaluation on {split or 'all'} ({len(data)} clips)"
    result = evaluate_features(
        scorer, data, out_dir, n_resamples=n_resamples, seed=seed, figures=figures, title=title
    )
    log(f"wrote {', '.join(str(p) for p in result.files.values())}")
    return result
