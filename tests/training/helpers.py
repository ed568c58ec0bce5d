"""Synthetic corpora and one shared smoke run for the learning-stack tests.

``smoke_run`` trains ``configs/smoke.yaml`` once per test session (cached
here), on a synthetic corpus written like a real one: placeholder video
files, a manifest CSV and the feature store.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from tfqa.data.manifest import TASKS
from tfqa.data.store import FeatureSet, FeatureStore
from tfqa.data.synthetic import SMALL_DIMS, make_synthetic

REPO = Path(__file__).resolve().parents[2]
SMOKE_CONFIG = REPO / "configs" / "smoke.yaml"


def write_corpus(
    root: Path, n_clips: int = 64, n_frames=150, *, seed: int = 0, dims=SMALL_DIMS
) -> tuple[Path, Path, FeatureSet]:
    """Placeholder clips + manifest + stored features; returns (manifest, cache_dir, features)."""
    fs = make_synthetic(n_clips, n_frames, dims, seed=seed)
    clips, cache = root / "clips", root / "cache"
    clips.mkdir(parents=True, exist_ok=True)
    store = FeatureStore.in_cache(cache)
    rows = []
    for i, name in enumerate(fs.videos):
        video = clips / name
        video.write_bytes(b"placeholder")
        store.put(video, fs.clips[i], fs.contract)
        rows.append(
            {
                "video": f"clips/{name}",
                "group": fs.groups[i],
                **dict(zip(TASKS, fs.labels[i].tolist(), strict=True)),
            }
        )
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest, cache, fs


_RUNS: dict[str, dict] = {}


def smoke_run(tmp_path_factory) -> dict:
    """Train the smoke config once per session; returns manifest, cache, run dir and result."""
    if "smoke" not in _RUNS:
        from tfqa.training.trainer import train

        root = tmp_path_factory.mktemp("smoke")
        manifest, cache, fs = write_corpus(root, 48, (150, 200))
        threads = torch.get_num_threads()
        try:
            result = train(
                SMOKE_CONFIG, manifest, root / "run", cache_dir=cache, log=lambda m: None
            )
        finally:
            torch.set_num_threads(threads)
        _RUNS["smoke"] = {
            "root": root,
            "manifest": manifest,
            "cache": cache,
            "features": fs,
            "result": result,
        }
    return _RUNS["smoke"]
