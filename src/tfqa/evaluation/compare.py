"""``tfqa compare``: trained models vs the zero-shot scorer vs pooled-feature baselines.

Every scorer is measured on the *same* held-out clips of the same
group-disjoint split (the one the checkpoints were trained on, re-derived
from their config exactly as ``tfqa train`` derived it):

* each trained checkpoint (``tfqa.model.load_trained``), from the feature store;
* the zero-shot scorer (``tfqa.scoring``), from the feature cache — exactly
  what ``tfqa score --scorer zero-shot`` computes;
* the baselines of :mod:`tfqa.evaluation.baselines` (ridge, gradient
  boosting), fitted on the training clips and tuned on the validation clips;
* ``NAME+gbm``: the first checkpoint averaged with the gradient-boosting
  baseline (:func:`tfqa.model.scorer.blend`) — the shape of the default
  scorer; the trees are written to ``trees.npz`` (:mod:`tfqa.model.trees`),
  ready to ship beside that checkpoint.

Per scorer and dimension: PLCC, SRCC, KRCC, RMSE (any metric of
:mod:`tfqa.evaluation.metrics`) with 95 % bootstrap CIs
(:func:`tfqa.evaluation.report.evaluate_predictions`), and the mean PLCC over
the five dimensions with its CI and its paired difference to a reference
scorer, all on one set of clip resamples.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tfqa.data.manifest import TASKS, load_manifest
from tfqa.data.preprocess import Preprocessor, fit_preprocessor
from tfqa.data.splits import assign_splits, split_summary
from tfqa.data.store import FeatureSet, FeatureStore, load_feature_set
from tfqa.errors import ConfigError
from tfqa.evaluation.baselines import FittedBaseline, fit_baseline, pooled_matrix
from tfqa.evaluation.bootstrap import CONFIDENCE, N_RESAMPLES
from tfqa.evaluation.metrics import compute
from tfqa.evaluation.report import evaluate_predictions, fmt, markdown_table
from tfqa.model.scorer import blend
from tfqa.model.trees import TreeEnsemble, file_sha256

TABLE_METRICS = ("plcc", "srcc", "krcc", "rmse")
ZERO_SHOT = "zero-shot"

Log = Callable[[str], None]
ZeroShotFn = Callable[[Sequence[str]], np.ndarray]  # videos -> (N, 5), NaN rows for failures


@dataclass
class Comparison:
    """The long metric table, the mean-PLCC table, per-clip predictions and the files written."""

    metrics: pd.DataFrame  # scorer, dimension, metric, value, ci_low, ci_high, n
    mean_plcc: pd.DataFrame  # scorer, value, ci_low, ci_high, diff, diff_low, diff_high
    predictions: pd.DataFrame
    baselines: dict[str, FittedBaseline]
    markdown: str
    files: dict[str, Path]


# ---------------------------------------------------------------------------------------
# statistics


def mean_plcc_table(
    labels: np.ndarray,
    preds: Mapping[str, np.ndarray],
    reference: str,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean PLCC over the five dimensions per scorer, and its paired difference to ``reference``.

    All scorers are measured on the same ``n_resamples`` clip resamples
    (drawn with replacement), so the difference's interval accounts for the
    clips they share.  Percentile intervals; a resample on which a
    correlation is undefined is left out.

    Returns:
        One row per scorer: ``scorer, value, ci_low, ci_high, diff, diff_low, diff_high,
        reference, n`` (``diff`` = scorer − reference).
    """
    if reference not in preds:
        raise ConfigError(f"Expected the reference `{reference}` among the scorers {list(preds)}")
    labels = np.asarray(labels, dtype=np.float64)
    n = len(labels)

    def mean_plcc(idx: np.ndarray, p: np.ndarray) -> float:
        vals = [compute(labels[idx, k], p[idx, k], ["plcc"])["plcc"] for k in range(len(TASKS))]
        return float(np.mean(vals))

    everything = np.arange(n)
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, n, n) for _ in range(n_resamples)]
    dist = {s: np.array([mean_plcc(d, p) for d in draws]) for s, p in preds.items()}
    alpha = 100 * (1 - confidence) / 2
    rows = []
    for s, p in preds.items():
        value = mean_plcc(everything, p)
        diff = dist[s] - dist[reference]
        lo, hi = _percentiles(dist[s], alpha)
        dlo, dhi = _percentiles(diff, alpha)
        rows.append(
            {
                "scorer": s,
                "value": value,
                "ci_low": lo,
                "ci_high": hi,
                "diff": value - mean_plcc(everything, preds[reference]),
                "diff_low": dlo,
                "diff_high": dhi,
                "reference": reference,
                "n": n,
            }
        )
    return pd.DataFrame(rows)


def _percentiles(x: np.ndarray, alpha: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), float("nan")
    lo, hi = np.percentile(x, [alpha, 100 - alpha])
    return float(lo), float(hi)


def compare_predictions(
    labels: np.ndarray,
    preds: Mapping[str, np.ndarray],
    *,
    metrics: Sequence[str] = TABLE_METRICS,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Per scorer and dimension, each metric with its 95 % bootstrap CI (a long table)."""
    parts = []
    for name, p in preds.items():
        t = evaluate_predictions(
            labels, p, metrics=list(metrics), n_resamples=n_resamples, seed=seed
        )
        t.insert(0, "scorer", name)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------------------
# report


def comparison_markdown(
    table: pd.DataFrame, mean_plcc: pd.DataFrame, *, title: str, notes: Sequence[str] = ()
) -> str:
    """One table per metric (dimensions × scorers, ``value [CI]``), mean PLCC with CIs first."""
    scorers = list(dict.fromkeys(table["scorer"]))
    ref = mean_plcc["reference"].iloc[0]
    out = [f"# {title}", "", *notes, ""] if notes else [f"# {title}", ""]
    headers = ["scorer", "mean PLCC [95 % CI]", f"Δ vs {ref} [95 % CI]"]
    rows = [
        [r.scorer, fmt(r.value, r.ci_low, r.ci_high), fmt(r.diff, r.diff_low, r.diff_high)]
        for r in mean_plcc.itertuples()
    ]
    out += ["## Mean PLCC over the five dimensions", "", markdown_table(headers, rows), ""]
    for metric in dict.fromkeys(table["metric"]):
        sub = table[table["metric"] == metric]
        rows = []
        for dim in TASKS:
            cells = [dim]
            for s in scorers:
                r = sub[(sub["scorer"] == s) & (sub["dimension"] == dim)].iloc[0]
                cells.append(fmt(r["value"], r["ci_low"], r["ci_high"]))
            rows.append(cells)
        out += [f"## {metric.upper()}", "", markdown_table(["dimension", *scorers], rows), ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# the comparison


def zero_shot_predictions(
    videos: Sequence[str], cache_dir: str | Path | None = None, *, log: Log | None = None
) -> np.ndarray:
    """Zero-shot scores ``(N, 5)`` of clips (NaN rows where a clip cannot be scored).

    Reads the feature cache that ``tfqa extract`` filled (the same one), so an
    extracted clip is not decoded again beyond its audio.
    """
    from tfqa.errors import TfqaError
    from tfqa.features.cache import FeatureCache
    from tfqa.scoring import create_scorer

    scorer = create_scorer(ZERO_SHOT, cache=FeatureCache(cache_dir))
    out = np.full((len(videos), len(TASKS)), np.nan, dtype=np.float32)
    for i, video in enumerate(videos):
        try:
            scores = scorer.score(video).scores
        except TfqaError as e:
            if log is not None:
                log(f"zero-shot: {Path(video).name}: {e}")
            continue
        out[i] = [scores[t] for t in TASKS]
    return out


def compare_features(
    data: FeatureSet,
    out_dir: str | Path,
    *,
    checkpoints: Mapping[str, str | Path] | None = None,
    preprocessor: Preprocessor | None = None,
    baselines: Sequence[str] = ("ridge", "gbm"),
    zero_shot: ZeroShotFn | None = None,
    split: str = "test",
    reference: str | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    device: str = "auto",
    log: Log | None = None,
) -> Comparison:
    """Compare scorers on the ``split`` clips of a split :class:`FeatureSet`.

    Args:
        data: clips with ``splits`` set (train + val fit the baselines).
        out_dir: receives ``comparison.csv``, ``mean_plcc.csv``, ``comparison.md``,
            ``predictions.csv``, ``baselines.json`` (the chosen hyper-parameters) and,
            with a checkpoint and the gbm baseline, ``trees.npz``.
        checkpoints: ``{name: best.pt}`` of trained models.
        preprocessor: the imputer/scaler/PCA whose outputs the baselines pool
            (default: the first checkpoint's; without one, fitted on train
            with the standard config's PCA sizes).
        baselines: names in :data:`tfqa.evaluation.baselines.BASELINES`.
        zero_shot: ``videos -> (N, 5)`` scores, or None to leave it out.
        split: the clips measured (``test``; ``val`` for model selection).
        reference: the scorer the mean-PLCC differences are taken against
            (default: the first checkpoint, else the first scorer).
        n_resamples, seed: bootstrap settings.
        device: for the checkpoints.
        log: progress sink (default: print).
    """
    from tfqa.model.inference import load_trained
    from tfqa.model.scorer import features_mismatch

    log = log or print
    checkpoints = dict(checkpoints or {})
    idx = data.indices(split)
    if len(idx) < 3:
        raise ConfigError(f"Expected at least 3 clips in the {split!r} split, but got {len(idx)}")
    clips = [data.clips[i] for i in idx]
    preds: dict[str, np.ndarray] = {}
    trained = {name: load_trained(path, device) for name, path in checkpoints.items()}
    for name, model in trained.items():
        stale = features_mismatch(
            name, model.contract.get("features_id"), data.contract.get("features_id")
        )
        if stale:
            log(f"warning: {stale}")
        log(f"compare: {name} on {len(idx)} {split} clips")
        preds[name] = model.predict_arrays(clips)
    if zero_shot is not None:
        log(f"compare: {ZERO_SHOT} on {len(idx)} {split} clips")
        preds[ZERO_SHOT] = np.asarray(zero_shot([data.videos[i] for i in idx]), dtype=np.float32)
    fitted = {}
    trees = None
    if baselines:
        pre = preprocessor or (
            next(iter(trained.values())).preprocessor if trained else _fit_pre(data, log)
        )
        tr, va = data.indices("train"), data.indices("val")
        log(f"compare: pooling {len(tr)} train / {len(va)} val / {len(idx)} {split} clips")
        x_tr = pooled_matrix(pre, [data.clips[i] for i in tr])
        x_va = pooled_matrix(pre, [data.clips[i] for i in va])
        x_te = pooled_matrix(pre, clips)
        groups = [data.groups[i] for i in tr]
        for name in baselines:
            log(f"compare: fitting baseline {name} ({x_tr.shape[1]} pooled features)")
            fitted[name] = fit_baseline(
                name, x_tr, data.labels[tr], groups, x_val=x_va, y_val=data.labels[va], seed=seed
            )
            preds[name] = fitted[name].predict(x_te)
        if trained and "gbm" in fitted:
            first = next(iter(trained))
            trees = _export_trees(fitted["gbm"], checkpoints[first])
            preds[f"{first}+gbm"] = blend(preds[first], trees.predict(x_te))
    if not preds:
        raise ConfigError("Expected at least one scorer to compare, but got none")
    labels = data.labels[idx]
    ok = np.all([np.isfinite(p).all(1) for p in preds.values()], axis=0)
    if not ok.all():
        log(f"compare: {int((~ok).sum())} clip(s) without a score from every scorer are left out")
    preds = {k: v[ok] for k, v in preds.items()}
    labels, kept = labels[ok], idx[ok]
    reference = reference or next(iter(preds))
    table = compare_predictions(labels, preds, n_resamples=n_resamples, seed=seed)
    means = mean_plcc_table(labels, preds, reference, n_resamples=n_resamples, seed=seed)
    notes = [
        f"{len(kept)} {split} clips from {len(set(data.groups[i] for i in kept))} groups "
        f"(split: {split_summary(data.splits, data.groups)}).",
        "Each cell: value [95 % bootstrap CI] (percentile, clips resampled with replacement).",
    ]
    md = comparison_markdown(
        table, means, title=f"Scorers compared on the {split} split", notes=notes
    )
    pred_df = _predictions_frame(data, kept, labels, preds)
    files = _write(Path(out_dir), table, means, md, pred_df, fitted)
    if trees is not None:
        files["trees"] = trees.save(Path(out_dir) / "trees.npz")
    log(f"compare: wrote {', '.join(str(p) for p in files.values())}")
    return Comparison(table, means, pred_df, fitted, md, files)


def _export_trees(fitted: FittedBaseline, checkpoint: str | Path) -> TreeEnsemble:
    """The fitted gbm as a pickle-free :class:`TreeEnsemble` bound to ``checkpoint``."""
    import sklearn

    return TreeEnsemble.from_sklearn(
        fitted.models,
        TASKS,
        checkpoint_sha256=file_sha256(checkpoint),
        checkpoint=str(checkpoint),
        fitted_on="train split; hyper-parameters and tree count chosen on val",
        chosen=fitted.chosen,
        scikit_learn=sklearn.__version__,
        pooling="tfqa.data.pooling.pool_inputs of the checkpoint's preprocessor",
    )


def _fit_pre(data: FeatureSet, log: Log) -> Preprocessor:
    from tfqa.training.config import load_config

    d = load_config("standard").data
    tr = data.indices("train")
    return fit_preprocessor(
        [data.clips[i] for i in tr], d.pca, use_pca=d.use_pca, max_fit_frames=d.max_fit_frames
    )


def _predictions_frame(data, kept, labels, preds) -> pd.DataFrame:
    df = pd.DataFrame(
        {"video": [data.videos[i] for i in kept], "group": [data.groups[i] for i in kept]}
    )
    for k, t in enumerate(TASKS):
        df[t] = labels[:, k]
        for name, p in preds.items():
            df[f"{name}:{t}"] = p[:, k]
    return df


def _write(out: Path, table, means, md, pred_df, fitted) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "csv": out / "comparison.csv",
        "mean_plcc": out / "mean_plcc.csv",
        "md": out / "comparison.md",
        "predictions": out / "predictions.csv",
        "baselines": out / "baselines.json",
    }
    table.to_csv(files["csv"], index=False)
    means.to_csv(files["mean_plcc"], index=False)
    files["md"].write_text(md)
    pred_df.to_csv(files["predictions"], index=False)
    files["baselines"].write_text(json.dumps({k: v.chosen for k, v in fitted.items()}, indent=1))
    return files


def compare(
    manifest: str | Path,
    out_dir: str | Path,
    *,
    checkpoints: Mapping[str, str | Path] | None = None,
    cache_dir: str | Path | None = None,
    baselines: Sequence[str] = ("ridge", "gbm"),
    zero_shot: bool = True,
    split: str = "test",
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    device: str = "auto",
    log: Log | None = None,
) -> Comparison:
    """``tfqa compare``: every scorer on the held-out clips of a manifest (see the module docstring).

    The split is the one the checkpoints were trained on (their
    ``data.split_fractions`` / ``data.split_seed``, which must agree), or the
    standard config's without checkpoints.  ``cache_dir`` is the feature cache
    of ``tfqa extract``.  See :func:`compare_features` for the other arguments.
    """
    from tfqa.model.checkpoint import load_checkpoint

    log = log or print
    checkpoints = dict(checkpoints or {})
    split_cfgs = set()
    for path in checkpoints.values():
        d = load_checkpoint(path)["config"]["data"]
        split_cfgs.add((tuple(float(f) for f in d["split_fractions"]), int(d["split_seed"])))
    if len(split_cfgs) > 1:
        raise ConfigError(
            f"the checkpoints were trained on different splits {sorted(split_cfgs)}",
            hint="Compare models trained with the same data.split_fractions and data.split_seed",
        )
    if split_cfgs:
        fractions, split_seed = split_cfgs.pop()
    else:
        from tfqa.training.config import load_config

        d = load_config("standard").data
        fractions, split_seed = d.split_fractions, d.split_seed
    df = load_manifest(manifest)
    df["split"] = assign_splits(df, fractions, split_seed)
    data, _missing = load_feature_set(df, FeatureStore.in_cache(cache_dir), log=log)
    zs = None
    if zero_shot:

        def zs(videos: Sequence[str]) -> np.ndarray:
            return zero_shot_predictions(videos, cache_dir, log=log)

    return compare_features(
        data,
        out_dir,
        checkpoints=checkpoints,
        baselines=baselines,
        zero_shot=zs,
        split=split,
        n_resamples=n_resamples,
        seed=seed,
        device=device,
        log=log,
    )
