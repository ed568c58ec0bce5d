"""The feature store: each clip's model arrays, ready for training and evaluation.

The feature cache (``tfqa.features.cache``) holds one entry per *extractor*
and clip, and reading it back means probing and decoding the clip again.  The
store holds, per clip, the arrays of the feature contract
(``tfqa.features.contract.model_arrays``: ``visual``, ``audio``, ``keypoints``,
``au``, ``sync``, ``clip``, ``mask``) in one ``.npz`` whose JSON header records
the source path, its size and modification time, the contract (dims and
column names) and the tfqa version.  An entry whose source file changed since
is stale and reads as missing, so it is re-extracted, never silently reused.

Training reads clips lazily through :class:`FeatureSet`, so a corpus larger
than memory is fine: only the PCA-reduced arrays are kept in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tfqa.data.manifest import TASKS
from tfqa.errors import ConfigError
from tfqa.version import __version__

ARRAY_KEYS = ("visual", "audio", "keypoints", "au", "sync", "clip", "mask")
SEQUENCE_KEYS = ("visual", "audio", "keypoints", "au", "sync")
STORE_SUBDIR = "model_arrays"  # inside the feature-cache directory

ClipArrays = Mapping[str, np.ndarray]


def check_arrays(arrays: ClipArrays, *, where: str = "clip") -> int:
    """Check one clip's arrays against the contract shapes; return T.

    Raises:
        ConfigError: a key is missing, or a shape is not ``(T, D)`` / ``(C,)`` / ``(T,)``.
    """
    missing = [k for k in ARRAY_KEYS if k not in arrays]
    if missing:
        raise ConfigError(f"{where}: Expected arrays {ARRAY_KEYS}, but {missing} are missing")
    n = len(arrays["mask"])
    for k in SEQUENCE_KEYS:
        a = arrays[k]
        if a.ndim != 2 or len(a) != n:
            raise ConfigError(f"{where}: Expected `{k}` to be ({n}, D), but got {a.shape}")
    if arrays["clip"].ndim != 1 or arrays["mask"].ndim != 1:
        raise ConfigError(f"{where}: Expected `clip` (C,) and `mask` (T,)")
    return n


def dims_of(arrays: ClipArrays) -> dict[str, int]:
    """Feature dims of one clip, e.g. ``{"visual": 2048, ..., "clip": 21}``."""
    dims = {k: int(arrays[k].shape[1]) for k in SEQUENCE_KEYS}
    dims["clip"] = int(arrays["clip"].shape[0])
    return dims


class FeatureStore:
    """Per-clip model arrays under ``root`` (see the module docstring).

    ``features`` names the extractors that made the arrays
    (:meth:`tfqa.features.pipeline.FeaturePipeline.features_id`): entries are
    written with it, and an entry made with other extractors (a retrained sync
    model, a changed config, a store older than this check) reads as missing.
    ``"default"`` means the default extractors; ``None`` skips the check.
    """

    def __init__(self, root: str | Path, features: str | None = None) -> None:
        self.root = Path(root)
        self._features = features

    @property
    def features(self) -> str | None:
        if self._features == "default":
            from tfqa.features.pipeline import default_features_id

            self._features = default_features_id()
        return self._features

    @classmethod
    def in_cache(
        cls, cache_dir: str | Path | None, features: str | None = "default"
    ) -> FeatureStore:
        """The store that lives inside a feature-cache directory (default location if None)."""
        from tfqa.features.cache import default_cache_dir

        base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        return cls(base / STORE_SUBDIR, features)

    def path_for(self, video: str | Path) -> Path:
        digest = hashlib.sha1(str(Path(video).resolve()).encode()).hexdigest()[:24]
        return self.root / digest[:2] / f"{digest}.npz"

    def put(
        self,
        video: str | Path,
        arrays: ClipArrays,
        contract: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
    ) -> Path:
        """Store one clip's arrays (atomically: write, then rename)."""
        check_arrays(arrays, where=str(video))
        path = self.path_for(video)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "video": str(Path(video).resolve()),
            "stat": _stat(video),
            "contract": dict(contract),
            "meta": dict(meta or {}),
            "tfqa": __version__,
            "features": self.features,
        }
        payload = {k: np.asarray(arrays[k], dtype=np.float32) for k in ARRAY_KEYS}
        payload["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def header(self, video: str | Path) -> dict[str, Any] | None:
        """The entry's header, or None when missing, unreadable or stale."""
        path = self.path_for(video)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(bytes(data["__header__"]).decode())
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            return None
        stat = _stat(video)
        if header.get("stat") is not None and stat is not None and stat != header["stat"]:
            return None  # the source changed since extraction
        if self.features is not None and header.get("features") != self.features:
            return None  # made by other extractors (or before they were recorded)
        return header

    def has(self, video: str | Path) -> bool:
        return self.header(video) is not None

    def get(self, video: str | Path) -> dict[str, np.ndarray] | None:
        """The clip's arrays (float32), or None when missing or stale."""
        if self.header(video) is None:
            return None
        with np.load(self.path_for(video), allow_pickle=False) as data:
            return {k: data[k] for k in ARRAY_KEYS}


def _stat(video: str | Path) -> list[int] | None:
    try:
        st = Path(video).stat()
    except OSError:
        return None
    return [int(st.st_size), int(st.st_mtime_ns)]


class _StoreClips(Sequence):
    """A lazy sequence of clip arrays read from a store."""

    def __init__(self, store: FeatureStore, videos: Sequence[str]) -> None:
        self.store, self.videos = store, list(videos)

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i):  # type: ignore[override]
        arrays = self.store.get(self.videos[i])
        if arrays is None:
            raise ConfigError(f"{self.videos[i]}: the stored features vanished or went stale")
        return arrays


@dataclass
class FeatureSet:
    """Clips (arrays of the feature contract), their labels, groups and splits.

    Attributes:
        clips: per-clip arrays (a list, or a lazy sequence reading the store).
        labels: ``(N, 5)`` float32 in [1, 5], columns in :data:`TASKS` order.
        videos: ``N`` clip identifiers (paths).
        groups: ``N`` group names.
        splits: ``(N,)`` ``"train"``/``"val"``/``"test"``, or None if not split yet.
        contract: dims + column names (``tfqa.features.contract.contract_of``).
    """

    clips: Sequence[ClipArrays]
    labels: np.ndarray
    videos: list[str]
    groups: list[str]
    contract: dict[str, Any]
    splits: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.videos)

    def indices(self, split: str) -> np.ndarray:
        if self.splits is None:
            raise ConfigError("the feature set has no split assignment yet")
        return np.flatnonzero(self.splits == split)

    def subset(self, idx: Sequence[int]) -> FeatureSet:
        idx = [int(i) for i in idx]
        return FeatureSet(
            clips=[self.clips[i] for i in idx]
            if isinstance(self.clips, list)
            else _Subset(self.clips, idx),
            labels=self.labels[idx],
            videos=[self.videos[i] for i in idx],
            groups=[self.groups[i] for i in idx],
            contract=self.contract,
            splits=None if self.splits is None else self.splits[idx],
        )


class _Subset(Sequence):
    def __init__(self, base: Sequence, idx: list[int]) -> None:
        self.base, self.idx = base, idx

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i):  # type: ignore[override]
        return self.base[self.idx[i]]


def load_feature_set(
    manifest: pd.DataFrame, store: FeatureStore, *, log=None
) -> tuple[FeatureSet, list[str]]:
    """Join a validated manifest with the store.

    Rows without stored features (extraction failed or was never run) are
    dropped and returned as the second value, so callers can report them.

    Raises:
        ConfigError: no row has features, or clips disagree on the contract dims.
    """
    keep, missing, contract = [], [], None
    for i, video in enumerate(manifest["video"]):
        header = store.header(video)
        if header is None:
            missing.append(video)
            continue
        if contract is None:
            contract = header["contract"]
        elif header["contract"].get("dims") != contract.get("dims"):
            raise ConfigError(
                f"{video}: feature dims {header['contract'].get('dims')} differ from the "
                f"other clips' {contract.get('dims')}",
                hint="Re-extract all clips with the same extractors (`tfqa extract`)",
            )
        keep.append(i)
    if not keep:
        raise ConfigError(
            f"none of the {len(manifest)} videos has extracted features in {store.root}",
            hint="Run `tfqa extract MANIFEST` first (with the same --cache-dir)",
        )
    if missing and log is not None:
        names = ", ".join(Path(v).name for v in missing[:3]) + (" ..." if len(missing) > 3 else "")
        log(
            f"{len(missing)} of {len(manifest)} videos have no features and are left out ({names}); "
            "run `tfqa extract` for them, or see its failure report"
        )
    rows = manifest.iloc[keep]
    videos = list(rows["video"])
    splits = rows["split"].to_numpy(dtype=object)
    fs = FeatureSet(
        clips=_StoreClips(store, videos),
        labels=rows[list(TASKS)].to_numpy(dtype=np.float32),
        videos=videos,
        groups=[str(g) for g in rows["group"]],
        contract=_with_features_id(contract, store.features),
        splits=splits if not pd.isna(rows["split"]).any() else None,
    )
    return fs, missing


def _with_features_id(contract: Mapping[str, Any] | None, features: str | None) -> dict:
    """The stored contract, plus the id of the extractors that made it (when the store checks it).

    Training copies the contract into its checkpoints, so a scorer can tell whether its
    extractors compute what the model was trained on.
    """
    out = dict(contract or {})
    if features is not None:
        out["features_id"] = features
    return out
