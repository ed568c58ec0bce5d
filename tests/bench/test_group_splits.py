"""benchmarks/group_splits.py: pooling test predictions of several group splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfqa.data.manifest import TASKS


def _run(path: Path, name: str, groups: list[str], bias: float, seed: int) -> Path:
    """A compare-style predictions.csv: the model is exact up to a per-run shift."""
    rng = np.random.default_rng(seed)
    n = 30 * len(groups)
    df = pd.DataFrame({"video": [f"v{seed}_{i}.mp4" for i in range(n)],
                       "group": np.repeat(groups, 30)})  # fmt: skip
    for d in TASKS:
        df[d] = rng.uniform(1, 5, n)
        df[f"{name}:{d}"] = df[d] + bias
        df[f"zero-shot:{d}"] = rng.uniform(1, 5, n)
    df.to_csv(path, index=False)
    return path


def test_pooling_known_answers(tmp_path, load_benchmark):
    mod = load_benchmark("group_splits")
    a = _run(tmp_path / "a.csv", "standard", ["p1", "p2", "p3"], 0.0, 0)
    b = _run(tmp_path / "b.csv", "model", ["p4", "p5", "p6"], 1.0, 1)
    table = mod.summarise(mod.load_runs([a, b], ["standard", "model"]), n_resamples=100)
    model = table[table.scorer == "model"].set_index("dimension")
    # exact within each split; the shift between splits costs pooled PLCC (labels span 1..5)
    assert np.allclose(model["run0_plcc"], 1.0) and np.allclose(model["run1_plcc"], 1.0)
    assert (model["pooled_plcc"] < 0.99).all() and (model["pooled_plcc"] > 0.8).all()
    assert (model["groups"] == 6).all() and (model["n"] == 180).all()
    assert (model["ci_low"] <= model["pooled_plcc"]).all()
    zs = table[table.scorer == "zero-shot"]
    assert (zs["pooled_plcc"].abs() < 0.3).all()  # random predictions
    means = mod.mean_plcc(mod.load_runs([a, b], ["standard", "model"]), n_resamples=100)
    m = means.set_index("scorer")
    assert m.loc["model", "mean_plcc"] == pytest.approx(model["pooled_plcc"].mean())
    assert m.loc["model", "diff"] == 0.0 and (m["reference"] == "model").all()
    assert m.loc["zero-shot", "diff_high"] < 0  # random predictions lose, people resampled
    assert (m["people"] == 6).all() and (m["clips"] == 180).all()
    md = mod.markdown(table, 2, means)
    assert "| model | lip_sync | 6 (180) |" in md and "| zero-shot | " in md


def test_the_blend_with_gbm_is_the_mean_of_the_two(tmp_path, load_benchmark):
    mod = load_benchmark("group_splits")
    a = _run(tmp_path / "a.csv", "model", ["p1", "p2", "p3"], 0.0, 0)
    df = pd.read_csv(a)
    for d in TASKS:
        df[f"gbm:{d}"] = df[d] - 1.0  # model = label, gbm = label - 1: the blend is label - 0.5
    df.to_csv(a, index=False)
    runs = mod.load_runs([a], ["model"])
    for d in TASKS:
        np.testing.assert_allclose(runs[f"model+gbm:{d}"], runs[d] - 0.5, atol=1e-5)
    assert mod._scorers(runs) == ["model", "model+gbm", "zero-shot", "gbm"]
    m = mod.mean_plcc(runs, n_resamples=50, reference="gbm").set_index("scorer")
    assert m.loc["gbm", "diff"] == 0.0 and m.loc["model", "diff"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(SystemExit, match="reference"):
        mod.mean_plcc(runs, n_resamples=10, reference="ridge")


def test_runs_must_hold_other_people(tmp_path, load_benchmark):
    mod = load_benchmark("group_splits")
    a = _run(tmp_path / "a.csv", "model", ["p1", "p2", "p3"], 0.0, 0)
    b = _run(tmp_path / "b.csv", "model", ["p3", "p4", "p5"], 0.0, 1)
    with pytest.raises(SystemExit, match="p3"):
        mod.load_runs([a, b], ["model"])
    with pytest.raises(SystemExit, match="no column"):
        mod.load_runs([a], ["standard"])
