"""The experiment config: model + data + loss + training, validated from YAML.

``configs/standard.yaml`` and ``configs/optimized.yaml`` carry the thesis
numbers (SPEC §2.2–2.4); ``configs/smoke.yaml`` is a tiny model for CI.  The
same files ship inside the package (``tfqa/configs/``), so a preset name
(``"standard"``) works wherever tfqa is installed.

Label smoothing for regression targets (the optimized config's 0.1): the
target is the mixture ``(1 − ε)·δ(y) + ε·U[1, 5]`` — the label with
probability 1 − ε, a uniform draw on the scale otherwise, exactly as
classification smoothing mixes in the uniform distribution.  The MSE-optimal
prediction under that target is its mean, so the loss uses the smoothed target
``(1 − ε)·y + ε·3``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfqa.data.manifest import TASKS
from tfqa.errors import ConfigError
from tfqa.model.config import (
    MODALITIES,
    PRESETS,
    ModelConfig,
    build,
    override,
    preset_path,
    read_yaml,
)

WEIGHTINGS = ("fixed", "uncertainty", "gradnorm")
AMP_MODES = ("auto", "off", "fp16", "bf16")
MONITORS = ("val_loss", "val_plcc")
OPTIMIZERS = ("adamw", "adam")


def _thesis_pca() -> dict[str, int]:
    return {"visual": 100, "audio": 200, "keypoints": 50, "au": 17}


def _fixed_weights() -> dict[str, float]:
    return {t: (1000.0 if t == "lip_sync" else 1.0) for t in TASKS}


def _ones() -> dict[str, float]:
    return dict.fromkeys(TASKS, 1.0)


@dataclass(frozen=True)
class DataConfig:
    """Windows, preprocessing and splits."""

    window: int = 150  # frames per training/inference window (<= model.max_len)
    eval_windows: int = 4  # windows averaged per clip at inference
    pca: dict[str, int] = field(default_factory=_thesis_pca)
    use_pca: bool = True
    pca_whiten: bool = False
    centre: tuple[str, ...] = ()  # modalities centred per clip (e.g. keypoints: no face shape)
    max_fit_frames: int = 50_000
    split_fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
    split_seed: int = 0

    def __post_init__(self) -> None:
        if self.window <= 0 or self.eval_windows <= 0 or self.max_fit_frames <= 0:
            raise ConfigError("Expected `window`, `eval_windows`, `max_fit_frames` to be positive")
        for k, v in self.pca.items():
            if k not in (*MODALITIES, "clip"):
                raise ConfigError(
                    f"unknown modality `pca.{k}`", hint=f"valid: {', '.join(MODALITIES)}"
                )
            if v <= 0:
                raise ConfigError(f"Expected `pca.{k}` to be positive, but got {v}")
        for k in self.centre:
            if k not in MODALITIES:
                raise ConfigError(
                    f"unknown modality `{k}` in `data.centre`",
                    hint=f"valid: {', '.join(MODALITIES)}",
                )


@dataclass(frozen=True)
class LossConfig:
    """Task weighting, consistency regularisation and label smoothing."""

    weighting: str = "fixed"
    fixed_weights: dict[str, float] = field(default_factory=_fixed_weights)
    gradnorm_alpha: float = 1.5
    weighting_lr: float = 0.025  # lr of learned task weights (GradNorm w, log σ²)
    consistency_mode: str = "std"
    consistency_weight: float = 0.05
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        _one_of("weighting", self.weighting, WEIGHTINGS)
        _one_of("consistency_mode", self.consistency_mode, ("std", "corr", "cov"))
        _task_keys("fixed_weights", self.fixed_weights)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(
                f"Expected `label_smoothing` in [0, 1), but got {self.label_smoothing}"
            )
        if self.consistency_weight < 0:
            raise ConfigError("Expected `consistency_weight` >= 0")


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, schedule, memory measures and stopping."""

    optimizer: str = "adamw"
    lr: float = 1e-4
    weight_decay: float = 0.01
    epochs: int = 30
    batch_size: int = 8
    grad_accum: int = 8  # effective batch = batch_size * grad_accum
    grad_clip: float = 1.0  # max global grad norm; 0 disables
    patience: int = 10  # early stopping, in epochs without improvement
    monitor: str = "val_loss"
    amp: str = "auto"
    grad_scaler_init: float = 2.0**16
    grad_scaler_growth: float = 2.0
    grad_checkpointing: bool = False
    device: str = "auto"
    seed: int = 0
    num_threads: int | None = None
    warmup_steps: int = 0
    cycle_epochs: float = 10.0  # first cosine cycle length
    cycle_stretch: float = 1.5  # next cycle x this when the monitored metric stalls
    stall_patience: int = 2  # epochs without improvement that count as a stall
    min_lr_ratio: float = 0.01  # eta_min = lr * this
    head_lr: dict[str, float] = field(default_factory=_ones)  # per-task head lr multipliers
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        _one_of("monitor", self.monitor, MONITORS)
        _one_of("amp", self.amp, AMP_MODES)
        _task_keys("head_lr", self.head_lr)
        for n in ("epochs", "batch_size", "grad_accum", "patience", "eval_batch_size"):
            if getattr(self, n) <= 0:
                raise ConfigError(f"Expected `{n}` to be positive, but got {getattr(self, n)}")
        if self.lr <= 0 or self.cycle_epochs <= 0 or self.cycle_stretch < 1.0:
            raise ConfigError("Expected `lr` > 0, `cycle_epochs` > 0 and `cycle_stretch` >= 1")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a training run needs; saved inside its checkpoints."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "custom"

    def __post_init__(self) -> None:
        if self.data.window > self.model.max_len:
            raise ConfigError(
                f"Expected `data.window` ({self.data.window}) <= `model.max_len` ({self.model.max_len})"
            )


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"Expected `{name}` to be one of {', '.join(allowed)}, but got {value!r}")


def _task_keys(name: str, mapping: Mapping[str, float]) -> None:
    unknown = sorted(set(mapping) - set(TASKS))
    if unknown:
        raise ConfigError(f"unknown task `{name}.{unknown[0]}`", hint=f"tasks: {', '.join(TASKS)}")
    if set(mapping) != set(TASKS):
        missing = sorted(set(TASKS) - set(mapping))
        raise ConfigError(f"Expected `{name}` to give every task, but {missing} are missing")


def load_config(
    source: str | Path | ExperimentConfig, overrides: Mapping[str, Any] | None = None
) -> ExperimentConfig:
    """Load a config from a YAML path or a preset name, with optional dotted overrides.

    Args:
        source: a YAML file, a preset name (:data:`PRESETS`) or a config.
        overrides: e.g. ``{"model.embed_dim": 64, "train.epochs": 3}``.

    Raises:
        ConfigError: unknown/duplicate key (naming it and the file), bad value,
            or a name that is neither a file nor a preset.
    """
    if isinstance(source, ExperimentConfig):
        cfg = source
    else:
        path = Path(source)
        if not path.is_file() and str(source) in PRESETS:
            path = preset_path(str(source))
        if not path.is_file():
            raise ConfigError(
                f"no config file or preset named {str(source)!r}",
                hint=f"presets: {', '.join(PRESETS)}",
            )
        data = read_yaml(path)
        data.setdefault("name", path.stem)
        cfg = build(ExperimentConfig, data, path=path)
    return override(cfg, overrides) if overrides else cfg
