"""``tfqa ablate``: the thesis's comparison tables (SPEC §3: Tables 3.1, 3.3, 3.5).

Every variant is trained from scratch on the same group-disjoint split with
the same seed and evaluated on the same held-out clips (test, or val when the
test split is empty):

* Table 3.1 — task weighting: ``fixed`` / ``uncertainty`` / ``gradnorm``;
* Table 3.3 — ablations: the full model, each modality branch dropped, the
  clip-evidence token dropped, no Transformer fusion (Path A only), no
  consistency loss;
* Table 3.5 — configurations (standard vs optimized, each with and without
  PCA): accuracy against parameters, training time per epoch and peak memory.

Variants whose resolved config equals one already run reuse its result.  A
finished variant's ``result.json`` lets an interrupted ablation resume.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tfqa.data.manifest import TASKS, load_manifest
from tfqa.data.splits import assign_splits
from tfqa.data.store import FeatureSet, FeatureStore, load_feature_set
from tfqa.errors import ConfigError
from tfqa.evaluation.bootstrap import N_RESAMPLES
from tfqa.evaluation.report import evaluate_predictions, fmt, markdown_table
from tfqa.model.config import to_dict
from tfqa.model.inference import load_trained
from tfqa.training.config import ExperimentConfig, load_config
from tfqa.training.weighting import WEIGHTINGS

TABLES = {
    "3.1": "Task weighting strategies",
    "3.3": "Ablations",
    "3.5": "Configurations: accuracy vs cost",
}


@dataclass(frozen=True)
class Variant:
    """One ablation run: config changes relative to the base (or another base config)."""

    name: str
    table: str
    description: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    config: str | None = None  # a preset/path replacing the base config (Table 3.5)


def thesis_variants(
    cfg: ExperimentConfig, compare: Sequence[str] = ("standard", "optimized")
) -> list[Variant]:
    """The variants of Tables 3.1, 3.3 and 3.5 for a base config."""
    mods = cfg.model.modalities
    out = [Variant("full", "3.3", "the full model")]
    out += [
        Variant(
            f"no_{m}",
            "3.3",
            f"without the {m} branch",
            {"model.modalities": [x for x in mods if x != m]},
        )
        for m in mods
        if len(mods) > 1
    ]
    if cfg.model.use_clip_stats:
        out.append(
            Variant(
                "no_clip_stats",
                "3.3",
                "without the clip-evidence token",
                {"model.use_clip_stats": False},
            )
        )
    out.append(
        Variant(
            "no_transformer_fusion",
            "3.3",
            "Path A only (no Transformer)",
            {"model.fusion": "statistical"},
        )
    )
    out.append(
        Variant("no_consistency", "3.3", "consistency weight 0", {"loss.consistency_weight": 0.0})
    )
    out += [
        Variant(f"weighting_{w}", "3.1", f"{w} task weighting", {"loss.weighting": w})
        for w in WEIGHTINGS
    ]
    for c in compare:
        stem = Path(c).stem
        out.append(Variant(f"config_{stem}", "3.5", f"{stem} config", {}, c))
        out.append(
            Variant(f"config_{stem}_no_pca", "3.5", f"{stem}, no PCA", {"data.use_pca": False}, c)
        )
    return out


@dataclass
class AblationResult:
    """One row per variant, and the Markdown tables."""

    rows: pd.DataFrame
    markdown: str
    files: dict[str, Path]


def _eval_indices(data: FeatureSet) -> tuple[np.ndarray, str]:
    test = data.indices("test")
    return (test, "test") if len(test) else (data.indices("val"), "val")


def _run_variant(
    v: Variant,
    cfg: ExperimentConfig,
    data: FeatureSet,
    out: Path,
    *,
    device: str | None,
    n_resamples: int,
    seed: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    from tfqa.training.trainer import fit

    res = fit(cfg, data, out, device=device, log=lambda m: log(f"[{v.name}] {m}"))
    idx, split = _eval_indices(data)
    trained = load_trained(res.best_checkpoint, device or "auto")
    preds = trained.predict_arrays([data.clips[i] for i in idx])
    table = evaluate_predictions(
        data.labels[idx],
        preds,
        metrics=["plcc", "srcc", "rmse"],
        n_resamples=n_resamples,
        seed=seed,
    )
    row: dict[str, Any] = {
        "params": res.n_params,
        "epochs_run": len(res.history),
        "best_epoch": res.best_epoch,
        "epoch_time_s": res.epoch_time_s,
        "peak_mib": res.peak_memory_mib,
        "eval_split": split,
        "n_eval": len(idx),
    }
    for metric in ("plcc", "srcc", "rmse"):
        sub = table[table["metric"] == metric].set_index("dimension")
        for t in TASKS:
            row[f"{metric}_{t}"] = float(sub.loc[t, "value"])
            row[f"{metric}_{t}_low"] = float(sub.loc[t, "ci_low"])
            row[f"{metric}_{t}_high"] = float(sub.loc[t, "ci_high"])
        row[f"mean_{metric}"] = float(np.nanmean(sub["value"]))
    return row


def ablate_features(
    config: str | Path | ExperimentConfig,
    data: FeatureSet,
    out_dir: str | Path,
    *,
    variants: Sequence[str] | None = None,
    compare: Sequence[str] = ("standard", "optimized"),
    overrides: Mapping[str, Any] | None = None,
    device: str | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> AblationResult:
    """Run the ablation variants on an in-memory, split :class:`FeatureSet`.

    Args:
        config: the base config (YAML path, preset name or config).
        data: clips with ``splits`` set.
        out_dir: one sub-folder per variant, plus ``ablation.csv`` / ``ablation.md``.
        variants: names to run (default: all of :func:`thesis_variants`).
        compare: configs for Table 3.5.
        overrides: dotted changes applied to *every* variant (e.g. fewer epochs).
        device: ``auto``/``cpu``/``cuda``.
        n_resamples: bootstrap resamples for the PLCC/SRCC/RMSE CIs.
        seed: bootstrap seed.
        log: progress sink.
    """
    log = log or print
    base = load_config(config, overrides)
    chosen = thesis_variants(base, compare)
    if variants is not None:
        known = {v.name for v in chosen}
        unknown = [n for n in variants if n not in known]
        if unknown:
            raise ConfigError(
                f"unknown variant `{unknown[0]}`", hint=f"available: {', '.join(sorted(known))}"
            )
        chosen = [v for v in chosen if v.name in set(variants)]
    out = Path(out_dir)
    rows, done = [], {}
    for v in chosen:
        cfg = load_config(v.config or base, {**(overrides or {}), **v.overrides})
        key = json.dumps(to_dict(cfg), sort_keys=True)
        path = out / v.name / "result.json"
        if key in done:
            row = dict(done[key])
        elif path.is_file() and json.loads(path.read_text()).get("config") == key:
            row = json.loads(path.read_text())["row"]
        else:
            log(f"ablation: {v.name} ({v.description})")
            row = _run_variant(
                v,
                cfg,
                data,
                out / v.name,
                device=device,
                n_resamples=n_resamples,
                seed=seed,
                log=log,
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"config": key, "row": row}))
        done[key] = row
        rows.append({"variant": v.name, "table": v.table, "description": v.description, **row})
    table = pd.DataFrame(rows)
    md = ablation_markdown(table)
    out.mkdir(parents=True, exist_ok=True)
    files = {"csv": out / "ablation.csv", "md": out / "ablation.md"}
    table.to_csv(files["csv"], index=False)
    files["md"].write_text(md)
    return AblationResult(table, md, files)


def ablation_markdown(table: pd.DataFrame) -> str:
    """Tables 3.1, 3.3 and 3.5 as Markdown."""
    parts = []
    for tid, title in TABLES.items():
        sub = table[table["table"] == tid]
        if sub.empty:
            continue
        parts += [f"## Table {tid}: {title}", "", _table_md(tid, sub, table), ""]
    n = int(table["n_eval"].iloc[0]) if len(table) else 0
    split = table["eval_split"].iloc[0] if len(table) else ""
    parts.append(
        f"PLCC per dimension on the {split} split ({n} clips), 95 % bootstrap CI in brackets."
    )
    return "\n".join(parts) + "\n"


def _table_md(tid: str, sub: pd.DataFrame, table: pd.DataFrame) -> str:
    if tid == "3.5":
        headers = [
            "config",
            "params (M)",
            "train s/epoch",
            "peak MiB",
            "mean PLCC",
            "mean SRCC",
            "mean RMSE",
        ]
        rows = [
            [
                r.description,
                f"{r.params / 1e6:.2f}",
                f"{r.epoch_time_s:.1f}",
                f"{r.peak_mib:.0f}",
                fmt(r.mean_plcc),
                fmt(r.mean_srcc),
                fmt(r.mean_rmse),
            ]
            for r in sub.itertuples()
        ]
        return markdown_table(headers, rows)
    full = table.loc[table["variant"] == "full", "mean_plcc"]
    ref = float(full.iloc[0]) if len(full) else float("nan")
    headers = ["variant", *TASKS, "mean PLCC"] + (["Δ vs full"] if tid == "3.3" else [])
    rows = []
    for r in sub.to_dict("records"):
        cells = [r["description"]]
        cells += [fmt(r[f"plcc_{t}"], r[f"plcc_{t}_low"], r[f"plcc_{t}_high"]) for t in TASKS]
        cells.append(fmt(r["mean_plcc"]))
        if tid == "3.3":
            cells.append(f"{r['mean_plcc'] - ref:+.3f}" if np.isfinite(ref) else "n/a")
        rows.append(cells)
    return markdown_table(headers, rows)


def ablate(
    config: str | Path | ExperimentConfig,
    manifest: str | Path,
    out_dir: str | Path,
    *,
    cache_dir: str | Path | None = None,
    variants: Sequence[str] | None = None,
    compare: Sequence[str] = ("standard", "optimized"),
    overrides: Mapping[str, Any] | None = None,
    device: str | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> AblationResult:
    """``tfqa ablate``: Tables 3.1, 3.3 and 3.5 on a manifest whose clips were extracted.

    See :func:`ablate_features` for the arguments; ``cache_dir`` is the feature
    cache used by ``tfqa extract``.
    """
    log = log or print
    base = load_config(config, overrides)
    df = load_manifest(manifest)
    df["split"] = assign_splits(df, base.data.split_fractions, base.data.split_seed)
    data, _missing = load_feature_set(df, FeatureStore.in_cache(cache_dir), log=log)
    return ablate_features(
        base,
        data,
        out_dir,
        variants=variants,
        compare=compare,
        overrides=overrides,
        device=device,
        n_resamples=n_resamples,
        seed=seed,
        log=log,
    )
