"""``create_model``: the one factory for the learned model.

A model is named by a preset (:data:`~tfqa.model.config.PRESETS`), a YAML
path (its ``model:`` section is read) or a :class:`ModelConfig`; an unknown
name is answered with the close matches and the list of what exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfqa.errors import ModelNotFoundError, choice_hint
from tfqa.model.config import PRESETS, ModelConfig, build, override, preset_path, read_yaml
from tfqa.model.model import OptimizedMTLModel

# Input dims after the thesis preprocessing (SPEC §2.1: 100 + 200 + 50 + 17 = 367),
# a 2-column sync sequence + the face mask, and the 21 per-clip evidence values.
THESIS_INPUT_DIMS = {"visual": 100, "audio": 200, "keypoints": 50, "au": 17, "sync": 3, "clip": 21}


def list_models() -> list[str]:
    """The preset names ``create_model`` accepts."""
    return list(PRESETS)


def model_config(name_or_config: str | Path | ModelConfig) -> ModelConfig:
    """Resolve a preset name, a YAML path or a config into a :class:`ModelConfig`.

    Raises:
        ModelNotFoundError: neither a preset nor an existing file (lists the presets).
        ConfigError: the YAML's ``model`` section is invalid.
    """
    if isinstance(name_or_config, ModelConfig):
        return name_or_config
    name = str(name_or_config)
    path = preset_path(name) if name in PRESETS else Path(name)
    if not path.is_file():
        raise ModelNotFoundError(
            f"unknown model `{name}`", hint=choice_hint(name, PRESETS) + " (or a YAML config path)"
        )
    return build(ModelConfig, read_yaml(path).get("model"), where="model", path=path)


def create_model(
    name_or_config: str | Path | ModelConfig = "standard",
    dims: Mapping[str, int] | None = None,
    **overrides: Any,
) -> OptimizedMTLModel:
    """Build an untrained :class:`OptimizedMTLModel`.

    Args:
        name_or_config: ``"standard"``, ``"optimized"``, ``"smoke"``, a YAML
            path or a :class:`ModelConfig`.
        dims: input dims per modality (default: the thesis dims after PCA,
            :data:`THESIS_INPUT_DIMS`).
        **overrides: architecture fields to change, e.g. ``num_layers=2``.

    Example:
        >>> create_model("standard").config.num_layers
        3
    """
    cfg = model_config(name_or_config)
    if overrides:
        cfg = override(cfg, overrides)
    return OptimizedMTLModel(cfg, dict(dims or THESIS_INPUT_DIMS))
