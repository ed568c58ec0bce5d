"""The feature contract: what every extractor produces, and the registry behind ``create_extractor``.

A :class:`FeatureBlock` is one extractor's output for one clip:

* ``sequences`` — per-frame arrays ``(T, D)`` on the 25 Hz analysis grid
  (column names in ``columns[name]``); these are what the learned model reads;
* ``stats`` — named per-clip scalars (the evidence a user reads: offset in ms,
  coverage, DNSMOS...); NaN when not measurable;
* ``curves`` — named per-second curves ``(S,)`` for plots (``curve_rate`` Hz);
* ``meta`` — JSON-able facts (e.g. which face was picked and why).

Extractors are registered with :func:`register` and built by
:func:`create_extractor`; each has a frozen dataclass config, a version, and
declares its inputs, so the cache key of its output is
``(name, version, config, digests of its inputs)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tfqa.errors import ConfigError, choice_hint
from tfqa.io.constants import ANALYSIS_RATE


@dataclass
class FeatureBlock:
    """One extractor's output for one clip (see the module docstring)."""

    name: str
    sequences: dict[str, np.ndarray] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    rate: float = ANALYSIS_RATE
    curve_rate: float = 1.0

    def __post_init__(self) -> None:
        for key, arr in self.sequences.items():
            if arr.ndim != 2:
                raise ValueError(
                    f"Expected sequence `{key}` to be (T, D), but got shape {arr.shape}"
                )
            cols = self.columns.get(key)
            if cols is not None and len(cols) != arr.shape[1]:
                raise ValueError(
                    f"Expected {arr.shape[1]} column names for `{key}`, but got {len(cols)}"
                )

    # -- (de)serialisation used by the cache --------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"seq/{k}": v for k, v in self.sequences.items()}
        arrays.update({f"curve/{k}": v for k, v in self.curves.items()})
        return arrays

    def header(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "columns": self.columns,
            "stats": {k: _jsonable(v) for k, v in self.stats.items()},
            "meta": self.meta,
            "rate": self.rate,
            "curve_rate": self.curve_rate,
        }

    @classmethod
    def from_parts(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> FeatureBlock:
        return cls(
            name=header["name"],
            sequences={k[4:]: v for k, v in arrays.items() if k.startswith("seq/")},
            columns=header["columns"],
            stats={k: (float("nan") if v is None else v) for k, v in header["stats"].items()},
            curves={k[6:]: v for k, v in arrays.items() if k.startswith("curve/")},
            meta=header["meta"],
            rate=header["rate"],
            curve_rate=header["curve_rate"],
        )


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


# ---------------------------------------------------------------------------------------
# extractors and their registry


class Extractor(ABC):
    """Base class.  Subclasses set ``name``, ``version``, ``inputs`` and ``Config``.

    ``inputs`` names what the extractor consumes: ``"video"`` (frames, via
    :meth:`FrameExtractor.update`), ``"audio"`` (an :class:`~tfqa.io.Audio`) and/or
    other extractors' names (their :class:`FeatureBlock`).
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    inputs: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type]
    description: ClassVar[str] = ""

    def __init__(self, config: Any | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def config_hash(self) -> str:
        payload = json.dumps(
            {"name": self.name, "version": self.version, "config": dataclasses.asdict(self.config)},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


class FrameExtractor(Extractor):
    """Consumes decoded frames one by one (constant memory), then summarises.

    ``state`` is a per-frame dict shared by the frame extractors of one pass,
    in pipeline order (the face mesh puts its face boxes there for the visual
    quality extractor).

    An extractor whose per-frame work can run ahead in threads overrides
    :meth:`lookahead` and :meth:`prefetch`: the pipeline then calls
    ``prefetch(rgb)`` for every frame, in order, up to ``lookahead()`` frames
    before the frame's ``update``.  ``workers`` (set by the pipeline before
    :meth:`begin`) is how many threads it may use; it is an execution setting,
    not part of the config or the cache key.
    """

    workers: int = 1

    @abstractmethod
    def begin(self, info: Any) -> None: ...

    def lookahead(self) -> int:
        """Frames :meth:`prefetch` may run ahead of :meth:`update` (0: no prefetching)."""
        return 0

    def prefetch(self, rgb: np.ndarray) -> None:  # noqa: B027  (optional hook)
        """Start the work for the next frame (called in frame order before its update)."""

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release threads and native resources; called after :meth:`finish` or on failure."""

    @abstractmethod
    def update(self, rgb: np.ndarray, grid: range, state: dict[str, Any]) -> None: ...

    @abstractmethod
    def finish(self, n_grid: int) -> FeatureBlock: ...


class DerivedExtractor(Extractor):
    """Computes its block from the audio and/or other extractors' blocks."""

    @abstractmethod
    def compute(self, inputs: dict[str, Any]) -> FeatureBlock: ...


_REGISTRY: dict[str, type[Extractor]] = {}


def register(cls: type[Extractor]) -> type[Extractor]:
    """Class decorator adding an extractor to the registry under ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"Extractor `{cls.name}` is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def list_extractors() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def build_config(config_cls: type, overrides: dict[str, Any], *, owner: str) -> Any:
    """Fill a frozen dataclass from ``overrides``; unknown keys are errors with close matches."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        close = {k: difflib.get_close_matches(k, names, n=1) for k in unknown}
        hints = ", ".join(
            f"`{k}`" + (f" (did you mean `{c[0]}`?)" if c else "") for k, c in close.items()
        )
        raise ConfigError(
            f"unknown option(s) for {owner}: {hints}",
            hint=f"valid options are {', '.join(sorted(names))}",
        )
    return config_cls(**overrides)


def create_extractor(name: str, **cfg: Any) -> Extractor:
    """Build the extractor registered as ``name`` with config overrides ``cfg``.

    Example:
        >>> create_extractor("audio", dnsmos=False).name
        'audio'
    """
    _load_builtin()
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown extractor `{name}`", hint=choice_hint(name, sorted(_REGISTRY), n=3)
        )
    cls = _REGISTRY[name]
    return cls(build_config(cls.Config, cfg, owner=f"extractor `{name}`"))


_BUILTIN_LOADED = False


def _load_builtin() -> None:
    global _BUILTIN_LOADED
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED = True
        from tfqa.features import _builtin  # noqa: F401  (registers the built-in extractors)


Factory = Callable[..., Extractor]
