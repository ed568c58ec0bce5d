"""The model architecture config, and the strict YAML → frozen-dataclass machinery.

Configs are frozen dataclasses validated once; YAML and CLI only fill them.
:func:`build` turns a mapping into a dataclass and rejects unknown keys
(naming them, the file and the close matches), wrong types and bad values;
:func:`read_yaml` rejects duplicate keys, which plain YAML silently merges.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tfqa.errors import ConfigError

MODALITIES = ("visual", "audio", "keypoints", "au", "sync")
THESIS_MODALITIES = ("visual", "audio", "keypoints", "au")
FUSIONS = ("dual", "statistical", "transformer")
# Shipped configs (tfqa/configs/<name>.yaml, copies of the repo's configs/).
PRESETS = ("standard", "optimized", "smoke")


def preset_path(name: str) -> Path:
    """The packaged YAML of a preset (:data:`PRESETS`)."""
    return Path(str(importlib.resources.files("tfqa") / "configs" / f"{name}.yaml"))


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of :class:`~tfqa.model.model.OptimizedMTLModel` (saved in checkpoints).

    Attributes:
        embed_dim: E, the shared embedding width.
        num_layers, num_heads, ffn_dim: the temporal Transformer encoder.
        dropout: dropout in branches, encoder and heads.
        max_len: length of the learnable positional encoding (frames).
        modalities: sequence branches in use (ablations drop some).
        use_clip_stats: feed the per-clip evidence vector (our addition).
        fusion: ``dual`` (Path A + Path B), ``statistical`` (Path A only, no
            Transformer anywhere) or ``transformer`` (Path B only).
        fusion_layers: layers of the Path-B Transformer over modality tokens.
        modality_dropout: in training, the probability of dropping each sequence
            modality of a window (all its embeddings zeroed; at least one kept) —
            ModDrop (Neverova et al. 2015, arXiv:1501.00102), our addition: it keeps
            the model from leaning on one modality's identity cues and makes it use
            the per-clip evidence.  0 = off (the thesis).
    """

    embed_dim: int = 256
    num_layers: int = 3
    num_heads: int = 8
    ffn_dim: int = 1024
    dropout: float = 0.1
    max_len: int = 150
    modalities: tuple[str, ...] = MODALITIES
    use_clip_stats: bool = True
    fusion: str = "dual"
    fusion_layers: int = 1
    modality_dropout: float = 0.0

    def __post_init__(self) -> None:
        _positive(self, "embed_dim", "num_layers", "num_heads", "ffn_dim", "max_len")
        if self.embed_dim % self.num_heads:
            raise ConfigError(
                f"Expected `embed_dim` ({self.embed_dim}) to be divisible by `num_heads` ({self.num_heads})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"Expected `dropout` in [0, 1), but got {self.dropout}")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ConfigError(
                f"Expected `modality_dropout` in [0, 1), but got {self.modality_dropout}"
            )
        _choices("modalities", self.modalities, MODALITIES, many=True)
        if not self.modalities:
            raise ConfigError("Expected at least one modality in `modalities`")
        _choices("fusion", self.fusion, FUSIONS)
        if self.fusion_layers < 0:
            raise ConfigError(f"Expected `fusion_layers` >= 0, but got {self.fusion_layers}")


def _positive(obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if v <= 0:
            raise ConfigError(f"Expected `{n}` to be positive, but got {v}")


def _choices(name: str, value: Any, allowed: tuple[str, ...], *, many: bool = False) -> None:
    values = value if many else (value,)
    for v in values:
        if v not in allowed:
            raise ConfigError(
                f"Expected `{name}` to be one of {', '.join(allowed)}, but got {v!r}",
                hint=_close(str(v), allowed),
            )
    if many and len(set(values)) != len(values):
        raise ConfigError(f"Expected no duplicates in `{name}`, but got {list(values)}")


def _close(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean `{close[0]}`?" if close else ""


# ---------------------------------------------------------------------------------------
# YAML → dataclass


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                f"duplicate key `{key}` (line {key_node.start_mark.line + 1})",
                path=getattr(loader, "name", None),
                hint="Each key may appear once per section",
            )
        seen[key] = True
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML mapping, refusing duplicate keys.

    Raises:
        ConfigError: the file is missing, not YAML, not a mapping, or repeats a key.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", path=path, hint="Check the path")
    text = path.read_text()
    loader = _StrictLoader(text)
    loader.name = str(path)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as e:
        raise ConfigError(f"not valid YAML: {e}", path=path) from e
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("Expected a mapping at the top level", path=path)
    return data


def build(cls: type, data: Mapping[str, Any] | None, *, where: str = "", path=None) -> Any:
    """Fill the frozen dataclass ``cls`` from ``data`` (nested dataclasses recurse).

    Args:
        cls: a dataclass type.
        data: its fields by name; missing fields take their defaults.
        where: the dotted section name, for messages (``"model"``).
        path: the source file, for messages.

    Raises:
        ConfigError: an unknown key (with close matches), a value of the wrong
            type, or a value the dataclass's own checks reject.
    """
    data = dict(data or {})
    if not isinstance(data, dict):
        raise ConfigError(f"Expected section `{where}` to be a mapping", path=path)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        k = unknown[0]
        key = f"{where}.{k}" if where else str(k)
        raise ConfigError(
            f"unknown key `{key}`",
            path=path,
            hint=(_close(str(k), names) + " " if _close(str(k), names) else "")
            + f"valid keys{' of ' + where if where else ''}: {', '.join(names)}",
        )
    kwargs = {}
    for k, v in data.items():
        key = f"{where}.{k}" if where else k
        kwargs[k] = _coerce(hints[k], v, key, path)
    try:
        return cls(**kwargs)
    except ConfigError as e:
        if path is None or e.path is not None:
            raise
        raise ConfigError(
            f"{where + ': ' if where else ''}{e.problem}", path=path, hint=e.hint
        ) from e


def _coerce(tp: Any, v: Any, key: str, path) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return build(tp, v, where=key, path=path)
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], v, key, path)
    if origin is tuple:
        if not isinstance(v, list | tuple):
            _bad(key, "a list", v, path)
        return tuple(_coerce(args[0], x, f"{key}[]", path) for x in v)
    if origin is dict:
        if not isinstance(v, Mapping):
            _bad(key, "a mapping", v, path)
        return {str(k): _coerce(args[1], x, f"{key}.{k}", path) for k, x in v.items()}
    if tp is bool:
        if not isinstance(v, bool):
            _bad(key, "true/false", v, path)
        return v
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, int):
            _bad(key, "an integer", v, path)
        return v
    if tp is float:
        if isinstance(v, str):  # YAML 1.1 reads `3e-4` (no dot) as a string
            try:
                v = float(v)
            except ValueError:
                _bad(key, "a number", v, path)
        if isinstance(v, bool) or not isinstance(v, int | float):
            _bad(key, "a number", v, path)
        return float(v)
    if tp is str:
        if isinstance(v, bool):  # YAML 1.1 reads `off` / `on` (and no / yes) as booleans
            v = "on" if v else "off"
        if not isinstance(v, str):
            _bad(key, "a string", v, path)
        return v
    return v


def _bad(key: str, expected: str, got: Any, path) -> None:
    raise ConfigError(f"Expected `{key}` to be {expected}, but got {got!r}", path=path)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON/YAML-able dict of a config dataclass (tuples become lists)."""

    def plain(x: Any) -> Any:
        if isinstance(x, tuple | list):
            return [plain(i) for i in x]
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return x

    return plain(dataclasses.asdict(cfg))


def override(cfg: Any, changes: Mapping[str, Any]) -> Any:
    """A copy of ``cfg`` with dotted-key changes, validated (``{"model.embed_dim": 64}``)."""
    data = to_dict(cfg)
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"unknown key `{dotted}`")
            node = node[p]
        node[leaf] = list(value) if isinstance(value, tuple) else value
    return build(type(cfg), data)
