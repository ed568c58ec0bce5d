"""Session fixtures shared by the whole suite: synthesised clips (the project's own media) and
the third-party clips in ../shared (tests that need them are marked ``media`` and skip without them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GLOG_minloglevel", "2")

SHARED_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clips"


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory):
    """Factory: ``synth_clip(name, **SynthSpec overrides) -> Path``, rendered once per session."""
    from tfqa.synth import SynthSpec, synthesize

    root = tmp_path_factory.mktemp("clips")
    made: dict[str, Path] = {}

    def make(name: str, **overrides) -> Path:
        if name not in made:
            spec = SynthSpec.from_dict({"duration_s": 6.0, "size": 256, "seed": 1, **overrides})
            made[name] = synthesize(spec, root / f"{name}.mp4").path
        return made[name]

    return make


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory):
    from tfqa.features.cache import FeatureCache

    return FeatureCache(tmp_path_factory.mktemp("feature-cache"))


@pytest.fixture(scope="session")
def shared_clips() -> Path:
    if not SHARED_CLIPS.is_dir():
        pytest.skip(f"third-party clips not found at {SHARED_CLIPS}")
    return SHARED_CLIPS


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Keep torch to one thread (2 OpenMP threads on a shared 2-core box thrash)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    """One smoke training run shared by the model/training/evaluation tests."""
    from training.helpers import smoke_run

    return smoke_run(tmp_path_factory)
