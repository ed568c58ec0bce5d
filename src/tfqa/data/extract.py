"""``tfqa extract MANIFEST``: fill the feature cache and store for every clip of a manifest.

Resumable: a clip whose arrays are already in the store (and whose file did
not change since) is skipped without decoding it, so an interrupted run picks
up where it stopped.  One bad file is reported and skipped; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from tfqa.data.manifest import load_manifest
from tfqa.data.store import FeatureStore


class _Pipeline(Protocol):
    def extract(self, path: str | Path) -> Any: ...


@dataclass
class ExtractReport:
    """What :func:`extract_manifest` did: counts and the failures with their reasons."""

    total: int
    extracted: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _default_pipeline(cache_dir: str | Path | None) -> _Pipeline:
    from tfqa.features.cache import FeatureCache
    from tfqa.features.pipeline import FeaturePipeline

    return FeaturePipeline(cache=FeatureCache(cache_dir))


def extract_manifest(
    manifest: str | Path | pd.DataFrame,
    cache_dir: str | Path | None = None,
    *,
    pipeline: _Pipeline | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> ExtractReport:
    """Extract the features of every clip in ``manifest`` into the cache and store.

    Args:
        manifest: path of a manifest (CSV/Parquet) or a validated DataFrame.
        cache_dir: feature-cache directory (default ``$TFQA_CACHE_DIR`` or
            ``~/.cache/tfqa/features``); the store lives in its
            ``model_arrays/`` folder.
        pipeline: anything with ``extract(path) -> ClipFeatures`` (default: a
            ``FeaturePipeline`` with the default extractors and this cache).
        progress: show a rich progress bar.
        log: where to report failures (default: print).

    Returns:
        An :class:`ExtractReport`; ``report.failed`` lists ``(video, reason)``.
    """
    from tfqa.features.contract import contract_of, model_arrays

    df = manifest if isinstance(manifest, pd.DataFrame) else load_manifest(manifest)
    log = log or print
    pipe = pipeline if pipeline is not None else _default_pipeline(cache_dir)
    features_id = getattr(pipe, "features_id", None)
    store = FeatureStore.in_cache(cache_dir, features_id() if features_id else "default")
    report = ExtractReport(total=len(df))
    todo = [v for v in df["video"] if not store.has(v)]
    report.skipped = len(df) - len(todo)
    if not todo:
        return report
    with _progress_bar(progress, len(todo), report.skipped) as advance:
        for video in todo:
            try:
                feats = pipe.extract(video)
                store.put(
                    video, model_arrays(feats), contract_of(feats), {"warnings": feats.warnings}
                )
                report.extracted += 1
            except Exception as e:  # noqa: BLE001  (one bad file must not stop the batch; it is reported)
                reason = f"{type(e).__name__}: {e}"
                report.failed.append((video, reason))
                log(f"failed: {video}: {reason}")
            advance(Path(video).name)
    return report


class _progress_bar:
    """A rich progress bar context yielding ``advance(description)``; a no-op when disabled."""

    def __init__(self, enabled: bool, total: int, done_before: int) -> None:
        self.enabled, self.total, self.done_before = enabled, total, done_before

    def __enter__(self) -> Callable[[str], None]:
        if not self.enabled:
            return lambda _desc: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("extract"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
        )
        self.bar.__enter__()
        desc = f"({self.done_before} already cached)" if self.done_before else ""
        task = self.bar.add_task(desc, total=self.total)
        return lambda d: self.bar.update(task, advance=1, description=d)

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)
