"""The scorer comparison: paired mean-PLCC statistics, the tables, and an end-to-end run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from tfqa.data.manifest import TASKS
from tfqa.errors import ConfigError
from tfqa.evaluation.compare import (
    compare,
    compare_features,
    compare_predictions,
    comparison_markdown,
    mean_plcc_table,
)
from tfqa.evaluation.report import evaluate_predictions


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(0)
    y = rng.uniform(1, 5, (60, 5))
    preds = {
        "good": y + rng.normal(0, 0.2, y.shape),
        "poor": y + rng.normal(0, 2.0, y.shape),
    }
    return y, preds


def test_mean_plcc_and_its_paired_difference(scored):
    y, preds = scored
    t = mean_plcc_table(y, preds, "good", n_resamples=100).set_index("scorer")
    for s, p in preds.items():
        want = np.mean([pearsonr(y[:, k], p[:, k]).statistic for k in range(5)])
        assert t.loc[s, "value"] == pytest.approx(want)
        assert t.loc[s, "ci_low"] <= t.loc[s, "value"] <= t.loc[s, "ci_high"]
    assert t.loc["good", "diff"] == 0 and t.loc["good", "diff_low"] == 0
    # the poor scorer is clearly worse: its whole difference interval is below zero
    assert t.loc["poor", "diff"] < 0 and t.loc["poor", "diff_high"] < 0
    with pytest.raises(ConfigError, match="reference"):
        mean_plcc_table(y, preds, "absent")


def test_tables_per_scorer_match_the_evaluation_report(scored):
    y, preds = scored
    table = compare_predictions(y, preds, n_resamples=20)
    metrics = ["plcc", "srcc", "krcc", "rmse"]
    assert set(table["scorer"]) == set(preds) and list(dict.fromkeys(table["metric"])) == metrics
    one = evaluate_predictions(y, preds["poor"], metrics=metrics, n_resamples=20)
    mine = table[table["scorer"] == "poor"].drop(columns="scorer").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, one)
    md = comparison_markdown(table, mean_plcc_table(y, preds, "good", n_resamples=20), title="T")
    assert "## Mean PLCC" in md and "| lip_sync |" in md and "Δ vs good" in md
    assert md.count("| good | poor |") == 4  # one table per metric


def _compare_smoke(smoke, tmp_path, baselines):
    """`tfqa compare` of the smoke run's checkpoint (named "smoke") on its test split."""
    return compare(
        smoke["manifest"],
        tmp_path / "cmp",
        checkpoints={"smoke": smoke["result"].best_checkpoint},
        cache_dir=smoke["cache"],
        baselines=baselines,
        zero_shot=False,
        n_resamples=20,
        log=lambda m: None,
    )


def test_end_to_end_on_the_smoke_run(smoke, tmp_path):
    res = _compare_smoke(smoke, tmp_path, ("ridge",))
    assert list(res.mean_plcc["scorer"]) == ["smoke", "ridge"]
    for f in res.files.values():
        assert f.is_file()
    pred = pd.read_csv(res.files["predictions"])
    assert {f"smoke:{t}" for t in TASKS} <= set(pred.columns) and len(pred) == res.mean_plcc["n"][0]
    # the test clips are those `tfqa train` held out
    splits = pd.read_csv(smoke["result"].out_dir / "splits.csv")
    held_out = set(splits.loc[splits["split"] == "test", "video"])
    assert set(pred["video"]) == held_out
    assert res.baselines["ridge"].chosen["overall"]["alpha"] > 0


def test_a_clip_one_scorer_cannot_score_is_left_out_for_all(smoke, tmp_path):
    from tfqa.data.manifest import load_manifest
    from tfqa.data.splits import assign_splits
    from tfqa.data.store import FeatureStore, load_feature_set

    df = load_manifest(smoke["manifest"])
    df["split"] = assign_splits(df)
    data, _ = load_feature_set(df, FeatureStore.in_cache(smoke["cache"]))
    n_test = len(data.indices("test"))

    def flaky(videos):
        out = np.full((len(videos), 5), 3.0)
        out[0] = np.nan
        out[:, 0] += np.arange(len(videos)) / 10  # not constant
        return out

    res = compare_features(
        data, tmp_path, zero_shot=flaky, baselines=(), n_resamples=10, log=lambda m: None
    )
    assert len(res.predictions) == n_test - 1


def test_checkpoints_of_different_splits_are_refused(smoke, tmp_path):
    from tfqa.model.checkpoint import load_checkpoint, save_checkpoint

    best = smoke["result"].best_checkpoint
    ckpt = load_checkpoint(best)
    ckpt["config"]["data"]["split_seed"] = 7
    other = save_checkpoint(tmp_path / "other.pt", ckpt)
    with pytest.raises(ConfigError, match="different splits"):
        compare(smoke["manifest"], tmp_path, checkpoints={"a": best, "b": other},
                cache_dir=smoke["cache"], zero_shot=False)  # fmt: skip


def test_the_first_checkpoint_blended_with_its_trees_is_what_the_scorer_gives(
    smoke, tmp_path, monkeypatch
):
    import functools

    from tfqa.evaluation import baselines
    from tfqa.model.scorer import LearnedScorer

    small = functools.partial(baselines.fit_gbm, grid=((0.1, 7, 5),), max_iter=20)
    monkeypatch.setitem(baselines.BASELINES, "gbm", baselines.Baseline("gbm", small, "small"))
    best = smoke["result"].best_checkpoint
    res = _compare_smoke(smoke, tmp_path, ("gbm",))
    assert list(res.mean_plcc["scorer"]) == ["smoke", "gbm", "smoke+gbm"]
    pred = res.predictions
    for t in TASKS:  # an equal average of the two members
        want = (pred[f"smoke:{t}"] + pred[f"gbm:{t}"]) / 2
        np.testing.assert_allclose(pred[f"smoke+gbm:{t}"], want, atol=1e-5)
    # the exported trees, loaded by the scorer, give the blended column clip by clip
    scorer = LearnedScorer(best, trees=res.files["trees"], device="cpu")
    fs = smoke["features"]
    by_video = {Path(v).name: c for v, c in zip(fs.videos, fs.clips, strict=True)}
    pred = pred.assign(video=[Path(v).name for v in pred["video"]])
    got = scorer.score_arrays_batch([by_video[v] for v in pred["video"]])
    for t in TASKS:
        np.testing.assert_allclose([g[t] for g in got], pred[f"smoke+gbm:{t}"], atol=1e-4)
    members = scorer.members([by_video[pred["video"][0]]])
    assert set(members) == {"transformer", "trees", "score"}


def test_trees_of_another_checkpoint_are_refused(smoke, tmp_path):

    from tfqa.errors import ConfigError
    from tfqa.model.scorer import LearnedScorer
    from tfqa.model.trees import TreeEnsemble

    trees = TreeEnsemble(
        outputs=tuple(TASKS),
        n_features=3,
        baseline=np.full(5, 3.0),
        roots=np.zeros(0, np.int32),
        tree_output=np.zeros(0, np.int32),
        nodes={
            k: np.zeros(0)
            for k in ("feature", "threshold", "missing_left", "left", "right", "leaf", "value")
        },
        header={"checkpoint_sha256": "0" * 64, "checkpoint": "elsewhere/best.pt"},
    )
    path = trees.save(tmp_path / "trees.npz")
    with pytest.raises(ConfigError, match="another checkpoint"):
        LearnedScorer(smoke["result"].best_checkpoint, trees=path)
