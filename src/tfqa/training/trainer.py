"""Training: ``train`` (manifest → checkpoint) over ``fit`` (feature set → checkpoint).

The loop is one readable sequence, nanoGPT-style::

    for each epoch:                                   (early stopping, patience 10)
        for each micro-batch (random 150-frame windows):
            with autocast:  scores, modality embeddings = model(batch)
            per-task MSE (label-smoothed targets) → task weighting + 0.05 · consistency
            GradNorm only: gradients of its own loss w.r.t. the task weights
            scaler.scale(loss / accumulation).backward()
            every 8 micro-batches: unscale → clip → scaler.step → scaler.update
                                   → zero_grad(set_to_none) → scheduler.step
        validate (windows averaged per clip) → scheduler.observe(per-task metric)
        save last.pt (full state, resumable) and best.pt (inference state)

Memory measures (SPEC §2.4): gradient checkpointing of the encoder layers
(``train.grad_checkpointing``), AMP (``train.amp``, see ``tfqa.training.amp``),
gradient accumulation (``train.grad_accum``).  Each epoch's peak memory is
measured by :class:`~tfqa.training.memory.MemoryProfiler` and logged.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from tfqa.data.manifest import TASKS, load_manifest
from tfqa.data.preprocess import Preprocessor, fit_preprocessor
from tfqa.data.splits import assign_splits, split_summary
from tfqa.data.store import FeatureSet, FeatureStore, load_feature_set
from tfqa.data.windows import WindowDataset
from tfqa.errors import ConfigError
from tfqa.model.checkpoint import load_checkpoint, save_checkpoint, to_numpy
from tfqa.model.config import build, to_dict
from tfqa.model.inference import predict, resolve_device
from tfqa.model.model import OptimizedMTLModel, consistency_loss
from tfqa.training.amp import AmpPlan, resolve_amp
from tfqa.training.config import ExperimentConfig, load_config
from tfqa.training.memory import MemoryProfiler
from tfqa.training.schedulers import MultiTaskLRScheduler
from tfqa.training.weighting import TaskWeighting, create_weighting

Log = Callable[[str], None]
SCALE_MID = 3.0  # midpoint of the 1-5 scale: the mean of U[1, 5] (label smoothing)


@dataclass
class TrainResult:
    """What a training run produced."""

    out_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    history: list[dict[str, Any]]
    best_epoch: int
    best_metric: float
    epoch_time_s: float  # median wall time of an epoch's training part
    peak_memory_mib: float  # max over epochs
    n_params: int
    amp: str
    preprocessing: dict[str, dict[str, float]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# the pieces of the loop


def smoothed_targets(labels: torch.Tensor, eps: float) -> torch.Tensor:
    """Regression label smoothing: ``(1 − ε)·y + ε·3`` (see ``tfqa.training.config``)."""
    return labels if eps == 0 else (1.0 - eps) * labels + eps * SCALE_MID


def task_losses(scores: torch.Tensor, labels: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Per-task MSE ``(K,)`` of ``scores (B, K)`` against (smoothed) ``labels (B, K)``."""
    return ((scores.float() - smoothed_targets(labels.float(), eps)) ** 2).mean(0)


def param_groups(
    model: OptimizedMTLModel, weighting: TaskWeighting, cfg: ExperimentConfig
) -> list[dict[str, Any]]:
    """Optimizer groups: the shared trunk, one per task head (lr x ``head_lr``), the weights."""
    lr = cfg.train.lr
    shared = [p for n, p in model.named_parameters() if not n.startswith("heads.")]
    groups: list[dict[str, Any]] = [{"params": shared, "lr": lr, "task": None, "name": "shared"}]
    for t in TASKS:
        groups.append(
            {
                "params": list(model.heads[t].parameters()),
                "lr": lr * cfg.train.head_lr[t],
                "task": t,
                "name": f"head:{t}",
            }
        )
    learned = list(weighting.parameters())
    if learned:
        groups.append(
            {
                "params": learned,
                "lr": cfg.loss.weighting_lr,
                "weight_decay": 0.0,
                "task": None,
                "name": "weighting",
            }
        )
    return groups


def make_optimizer(groups: list[dict[str, Any]], cfg: ExperimentConfig) -> torch.optim.Optimizer:
    cls = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}[cfg.train.optimizer]
    wd = cfg.train.weight_decay if cfg.train.optimizer == "adamw" else 0.0
    return cls(groups, lr=cfg.train.lr, weight_decay=wd)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r, NaN when either side is constant."""
    from scipy.stats import pearsonr

    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(pearsonr(a, b).statistic)


def val_metrics(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``val_loss`` (mean task MSE), ``val_plcc`` (mean PLCC) and per-task values."""
    out: dict[str, float] = {}
    mse = ((preds - labels) ** 2).mean(0)
    for k, t in enumerate(TASKS):
        out[f"mse_{t}"] = float(mse[k])
        out[f"plcc_{t}"] = pearson(preds[:, k], labels[:, k])
    out["val_loss"] = float(mse.mean())
    plccs = [out[f"plcc_{t}"] for t in TASKS]
    out["val_plcc"] = float(np.nanmean(plccs)) if not all(map(math.isnan, plccs)) else float("nan")
    return out


@dataclass
class _State:
    """Progress that a checkpoint carries."""

    epoch: int = -1
    step: int = 0
    best: float = math.inf  # of the monitored metric, sign-adjusted so lower is better
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Holds a run's model, optimizer, schedule and data; :meth:`run` is the loop."""

    def __init__(
        self,
        cfg: ExperimentConfig,
        data: FeatureSet,
        out_dir: Path,
        *,
        device: torch.device,
        log: Log,
        resume_from: Mapping[str, Any] | None = None,
    ) -> None:
        self.cfg, self.data, self.out_dir, self.device, self.log = cfg, data, out_dir, device, log
        torch.manual_seed(cfg.train.seed)
        tr, va = data.indices("train"), data.indices("val")
        if len(tr) == 0 or len(va) == 0:
            raise ConfigError(
                f"Expected clips in both the train and val splits, but got {len(tr)} and {len(va)}",
                hint="Add clips/groups or give a `split` column",
            )
        self.pre = self._preprocessor(data, tr, resume_from)
        self.train_inputs = [self.pre.transform(data.clips[i]) for i in tr]
        self.val_inputs = [self.pre.transform(data.clips[i]) for i in va]
        self.train_labels, self.val_labels = data.labels[tr], data.labels[va]

        self.model = OptimizedMTLModel(cfg.model, self.pre.dims).to(device)
        self.model.grad_checkpointing = cfg.train.grad_checkpointing
        self.weighting = create_weighting(cfg.loss, TASKS).to(device)
        self.optimizer = make_optimizer(param_groups(self.model, self.weighting, cfg), cfg)
        self.dataset = WindowDataset(
            self.train_inputs, self.train_labels, cfg.data.window, seed=cfg.train.seed
        )
        n_batches = math.ceil(len(tr) / cfg.train.batch_size)
        self.steps_per_epoch = math.ceil(n_batches / cfg.train.grad_accum)
        self.scheduler = MultiTaskLRScheduler(
            self.optimizer,
            max(1, round(cfg.train.cycle_epochs * self.steps_per_epoch)),
            warmup_steps=cfg.train.warmup_steps,
            min_lr_ratio=cfg.train.min_lr_ratio,
            stretch=cfg.train.cycle_stretch,
            stall_patience=cfg.train.stall_patience,
            mode="min" if cfg.train.monitor == "val_loss" else "max",
        )
        self.amp: AmpPlan = resolve_amp(cfg.train.amp, device)
        self.scaler = torch.amp.GradScaler(
            device.type,
            init_scale=cfg.train.grad_scaler_init,
            growth_factor=cfg.train.grad_scaler_growth,
            enabled=self.amp.use_scaler,
        )
        self.state = _State()
        if resume_from is not None:
            self._restore(resume_from)

    # -- setup --------------------------------------------------------------------------
    def _preprocessor(self, data, tr, resume_from) -> Preprocessor:
        if resume_from is not None:
            return Preprocessor.from_state(to_numpy(resume_from["preprocessing"]))
        d = self.cfg.data
        return fit_preprocessor(
            [data.clips[i] for i in tr],
            d.pca,
            use_pca=d.use_pca,
            whiten=d.pca_whiten,
            max_fit_frames=d.max_fit_frames,
            seed=self.cfg.train.seed,
            centre=d.centre,
            log=self.log,
        )

    def _restore(self, ckpt: Mapping[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.weighting.load_state_dict(ckpt["weighting"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        p = ckpt["progress"]
        self.state = _State(
            p["epoch"], p["step"], p["best"], p["best_epoch"], p["bad_epochs"], list(p["history"])
        )
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg = self.cfg.train
        times, peaks = [], []
        for epoch in range(self.state.epoch + 1, cfg.epochs):
            with MemoryProfiler(self.device) as prof:
                t0 = time.perf_counter()
                train_stats = self.train_epoch(epoch)
                t_train = time.perf_counter() - t0
            metrics = val_metrics(self.validate(), self.val_labels)
            times.append(t_train)
            peaks.append(prof.report.peak_bytes / 2**20)
            self._end_epoch(epoch, train_stats, metrics, t_train, peaks[-1])
            if self.state.bad_epochs >= cfg.patience:
                self.log(f"early stop: no improvement of {cfg.monitor} for {cfg.patience} epochs")
                break
        hist = self.state.history
        return TrainResult(
            out_dir=self.out_dir,
            best_checkpoint=self.out_dir / "best.pt",
            last_checkpoint=self.out_dir / "last.pt",
            history=hist,
            best_epoch=self.state.best_epoch,
            best_metric=self._signed(self.state.best),
            epoch_time_s=float(np.median(times)) if times else float("nan"),
            peak_memory_mib=float(max(peaks)) if peaks else float("nan"),
            n_params=sum(p.numel() for p in self.model.parameters()),
            amp=self.amp.reason,
            preprocessing=self.pre.summary(),
        )

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training clips (one random window each)."""
        cfg = self.cfg
        self.model.train()
        self.dataset.set_epoch(epoch)
        gen = torch.Generator().manual_seed(cfg.train.seed * 100_003 + epoch)
        loader = DataLoader(
            self.dataset, batch_size=cfg.train.batch_size, shuffle=True, generator=gen
        )
        n, accum = len(loader), cfg.train.grad_accum
        totals = np.zeros(len(TASKS))
        loss_sum = 0.0
        self.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(loader):
            group_n = min(accum, n - (i // accum) * accum)  # the last group may be shorter
            losses, loss = self._forward(batch, weight=1.0 / group_n)
            self.scaler.scale(loss / group_n).backward()
            totals += losses.detach().cpu().numpy()
            loss_sum += float(loss.detach())
            if (i + 1) % accum == 0 or i + 1 == n:
                self._optimizer_step()
        stats = {f"train_mse_{t}": float(v / n) for t, v in zip(TASKS, totals, strict=True)}
        stats["train_loss"] = loss_sum / n
        return stats

    def _forward(self, batch: Mapping[str, torch.Tensor], *, weight: float):
        """Per-task losses and the total loss of one micro-batch (GradNorm: also its w-grads)."""
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(self.device.type, dtype=self.amp.dtype, enabled=self.amp.enabled):
            out = self.model(batch)
        losses = task_losses(out.scores, batch["labels"], self.cfg.loss.label_smoothing)
        loss = self.weighting(losses)
        if self.cfg.loss.consistency_weight > 0:
            cons = consistency_loss(out.modality_embeddings, self.cfg.loss.consistency_mode)
            loss = loss + self.cfg.loss.consistency_weight * cons
        self.weighting.balance(
            losses,
            self.model.last_shared_layer().weight,
            weight=weight,
            loss_scale=self.scaler.get_scale() if self.scaler.is_enabled() else 1.0,
        )
        return losses, loss

    def _optimizer_step(self) -> None:
        self.scaler.unscale_(self.optimizer)
        if self.cfg.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.weighting.after_step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.state.step += 1

    def validate(self) -> np.ndarray:
        """Validation predictions ``(N_val, 5)`` (windows averaged)."""
        return predict(
            self.model,
            self.val_inputs,
            window=self.cfg.data.window,
            n_windows=self.cfg.data.eval_windows,
            batch_size=self.cfg.train.eval_batch_size,
            device=self.device,
        )

    # -- bookkeeping --------------------------------------------------------------------
    def _signed(self, value: float) -> float:
        return value if self.cfg.train.monitor == "val_loss" else -value

    def _end_epoch(self, epoch, train_stats, metrics, t_train, peak_mib) -> None:
        st, cfg = self.state, self.cfg.train
        monitored = self._signed(metrics[cfg.monitor])
        # the first epoch always writes best.pt, even when its metric is undefined
        # (e.g. PLCC on a one-clip val split), so a run always leaves a checkpoint
        improved = (math.isfinite(monitored) and monitored < st.best) or st.best_epoch < 0
        key = "mse" if cfg.monitor == "val_loss" else "plcc"
        per_task = {t: metrics[f"{key}_{t}"] for t in TASKS}
        per_task["mean"] = metrics[cfg.monitor]
        stretched = self.scheduler.observe(per_task)
        st.epoch = epoch
        if improved:
            st.best = monitored if math.isfinite(monitored) else math.inf
            st.best_epoch, st.bad_epochs = epoch, 0
        else:
            st.bad_epochs += 1
        row = {
            "epoch": epoch,
            "step": st.step,
            **train_stats,
            **metrics,
            "lr": self.optimizer.param_groups[0]["lr"],
            "epoch_time_s": t_train,
            "peak_mib": peak_mib,
            "cycle_stretched": stretched,
            **{f"w_{t}": float(w) for t, w in zip(TASKS, self.weighting.weights(), strict=True)},
        }
        st.history.append(row)
        self.log(
            f"epoch {epoch:3d}  train {train_stats['train_loss']:.4f}  val_loss {metrics['val_loss']:.4f}"
            f"  val_plcc {metrics['val_plcc']:.3f}  lr {row['lr']:.2e}  {t_train:.1f}s"
            f"  peak {peak_mib:.0f} MiB{'  *' if improved else ''}"
        )
        self._save(improved)

    def _save(self, improved: bool) -> None:
        inference = {
            "config": to_dict(self.cfg),
            "dims": self.pre.dims,
            "contract": self.data.contract,
            "preprocessing": self.pre.state(),
            "model": self.model.state_dict(),
            "weighting": self.weighting.state_dict(),
            "label_stats": {
                "mean": self.train_labels.mean(0).tolist(),
                "std": self.train_labels.std(0).tolist(),
                "tasks": list(TASKS),
            },
            "progress": {
                "epoch": self.state.epoch,
                "step": self.state.step,
                "best": self.state.best,
                "best_epoch": self.state.best_epoch,
                "bad_epochs": self.state.bad_epochs,
                "history": self.state.history,
            },
        }
        if improved:
            save_checkpoint(self.out_dir / "best.pt", inference)
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        full = {
            **inference,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
        }
        save_checkpoint(self.out_dir / "last.pt", full)
        _write_history(self.out_dir / "history.csv", self.state.history)


def _write_history(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# ---------------------------------------------------------------------------------------
# public entry points


def _file_log(out_dir: Path, log: Log | None) -> Log:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "train.log"

    def emit(msg: str) -> None:
        (log or print)(msg)
        with open(path, "a") as fh:
            fh.write(msg + "\n")

    return emit


def _resumable(cfg: dict[str, Any]) -> dict[str, Any]:
    """The config without what a resumed run may change (the number of epochs)."""
    return {**cfg, "train": {k: v for k, v in cfg["train"].items() if k != "epochs"}}


def fit(
    config: ExperimentConfig,
    data: FeatureSet,
    out_dir: str | Path,
    *,
    resume: bool = False,
    device: str | None = None,
    log: Log | None = None,
) -> TrainResult:
    """Train on an in-memory :class:`FeatureSet` whose ``splits`` are set.

    Args:
        config: the experiment config.
        data: clips, labels and the train/val(/test) assignment.
        out_dir: receives ``best.pt``, ``last.pt``, ``history.csv``, ``train.log``.
        resume: continue from ``out_dir/last.pt`` if it exists (same config;
            ``train.epochs`` may be raised to train longer).
        device: overrides ``config.train.device`` (``auto``/``cpu``/``cuda``...).
        log: receives progress lines (default: print); also written to ``train.log``.
    """
    out_dir = Path(out_dir)
    log = _file_log(out_dir, log)
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)
    dev = resolve_device(device or config.train.device)
    ckpt = None
    if resume and (out_dir / "last.pt").is_file():
        ckpt = load_checkpoint(out_dir / "last.pt")
        # the stored config read through today's dataclasses: a setting added since the run
        # started takes its default (the behaviour the run was trained with) and does not block
        stored = to_dict(build(ExperimentConfig, ckpt["config"], where="checkpoint config"))
        if _resumable(stored) != _resumable(to_dict(config)):
            raise ConfigError(
                "the config differs from the one the run was started with",
                path=out_dir / "last.pt",
                hint="Resume with the same config (only train.epochs may change), "
                "or train into a new --out folder",
            )
        log(f"resuming after epoch {ckpt['progress']['epoch']}")
    trainer = Trainer(config, data, out_dir, device=dev, log=log, resume_from=ckpt)
    log(
        f"device {dev}; {trainer.amp.reason}; {trainer.model.n_params / 1e6:.2f} M parameters; "
        f"{len(trainer.train_inputs)} train / {len(trainer.val_inputs)} val clips; "
        f"{trainer.steps_per_epoch} optimizer steps per epoch"
    )
    return trainer.run()


def train(
    config: str | Path | ExperimentConfig,
    manifest: str | Path,
    out_dir: str | Path,
    *,
    cache_dir: str | Path | None = None,
    resume: bool = False,
    device: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    log: Log | None = None,
) -> TrainResult:
    """``tfqa train``: train the model on a manifest whose clips were extracted.

    Args:
        config: YAML path or preset name (``standard``, ``optimized``, ``smoke``).
        manifest: manifest CSV/Parquet (see ``tfqa.data.manifest``).
        out_dir: run folder (checkpoints, history, log, ``splits.csv``).
        cache_dir: the feature cache used by ``tfqa extract``.
        resume: continue an interrupted run in ``out_dir``.
        device: overrides the config's device.
        overrides: dotted config changes, e.g. ``{"train.epochs": 5}``.
        log: progress sink (default: print).

    Returns:
        A :class:`TrainResult` (``best_checkpoint`` is what ``evaluate`` and
        ``LearnedScorer`` read).
    """
    cfg = load_config(config, overrides)
    out = Path(out_dir)
    emit = _file_log(out, log)
    df = load_manifest(manifest)
    df["split"] = assign_splits(df, cfg.data.split_fractions, cfg.data.split_seed)
    data, missing = load_feature_set(df, FeatureStore.in_cache(cache_dir), log=emit)
    _write_splits(out / "splits.csv", df, set(missing))
    emit(f"splits: {split_summary(data.splits, data.groups)}")
    return fit(cfg, data, out, resume=resume, device=device, log=log)


def _write_splits(path: Path, df: pd.DataFrame, missing: set[str]) -> None:
    out = df[["video", "group", "split"]].copy()
    out["has_features"] = [v not in missing for v in out["video"]]
    out.to_csv(path, index=False)
