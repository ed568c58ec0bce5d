"""The smoke run end to end: ``train`` (configs/smoke.yaml) → ``evaluate`` → ``ablate``, and the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from tfqa.cli_learning import app, parse_overrides
from tfqa.errors import ConfigError
from tfqa.evaluation.ablations import ablate
from tfqa.evaluation.evaluate import evaluate


def test_smoke_training_learns(smoke):
    res = smoke["result"]
    hist = res.history
    assert len(hist) >= 5 and res.best_checkpoint.is_file()
    assert hist[-1]["train_mse_overall"] < hist[0]["train_mse_overall"]
    assert max(h["val_plcc"] for h in hist) > 0.8
    splits = pd.read_csv(res.out_dir / "splits.csv")
    owner = splits.groupby("group")["split"].nunique()
    assert (owner == 1).all() and set(splits["split"]) == {"train", "val", "test"}


def test_evaluate_writes_the_report(smoke, tmp_path):
    res = evaluate(
        smoke["result"].best_checkpoint,
        smoke["manifest"],
        tmp_path,
        cache_dir=smoke["cache"],
        split="all",
        n_resamples=30,
        log=lambda m: None,
    )
    for name in (
        "metrics.csv",
        "metrics.md",
        "predictions.csv",
        "scatter.png",
        "errors.png",
        "ci.png",
    ):
        assert (tmp_path / name).is_file(), name
    plcc = res.metrics[res.metrics["metric"] == "plcc"].set_index("dimension")["value"]
    assert (plcc > 0.7).all(), plcc
    assert len(res.predictions) == 48
    test_only = evaluate(
        smoke["result"].best_checkpoint,
        smoke["manifest"],
        tmp_path / "t",
        cache_dir=smoke["cache"],
        n_resamples=10,
        figures=False,
        log=lambda m: None,
    )
    splits = pd.read_csv(smoke["result"].out_dir / "splits.csv")
    assert set(test_only.predictions["video"]) == set(
        splits.loc[splits["split"] == "test", "video"]
    )


def test_ablation_tables(smoke, tmp_path):
    kw = dict(
        cache_dir=smoke["cache"],
        compare=["smoke"],
        overrides={"train.epochs": 2},
        n_resamples=10,
        log=lambda m: None,
    )
    res = ablate(
        "smoke",
        smoke["manifest"],
        tmp_path,
        variants=[
            "full",
            "no_audio",
            "no_transformer_fusion",
            "weighting_gradnorm",
            "weighting_uncertainty",
            "config_smoke",
            "config_smoke_no_pca",
        ],
        **kw,
    )
    rows = res.rows.set_index("variant")
    assert len(rows) == 7
    # identical configs are trained once: the base already uses uncertainty weighting
    assert rows.loc["weighting_uncertainty", "mean_plcc"] == rows.loc["full", "mean_plcc"]
    assert rows.loc["config_smoke", "mean_plcc"] == rows.loc["full", "mean_plcc"]
    assert rows.loc["config_smoke_no_pca", "params"] > rows.loc["config_smoke", "params"]
    assert rows.loc["no_transformer_fusion", "params"] < rows.loc["full", "params"]
    for title in ("Table 3.1", "Table 3.3", "Table 3.5", "Δ vs full", "train s/epoch", "peak MiB"):
        assert title in res.markdown
    assert (tmp_path / "ablation.csv").is_file() and (tmp_path / "no_audio" / "best.pt").is_file()
    # resumable: a second call reuses every finished variant
    again = ablate("smoke", smoke["manifest"], tmp_path, variants=["no_audio"], **kw)
    assert again.rows["mean_plcc"].iloc[0] == rows.loc["no_audio", "mean_plcc"]


def test_cli_commands(smoke, tmp_path):
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "evaluate",
            str(smoke["result"].best_checkpoint),
            str(smoke["manifest"]),
            "--out",
            str(tmp_path),
            "--cache-dir",
            str(smoke["cache"]),
            "--resamples",
            "10",
            "--no-figures",
            "--split",
            "all",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "| overall |" in r.output
    r = runner.invoke(app, ["evaluate", str(tmp_path / "missing.pt"), str(smoke["manifest"])])
    assert r.exit_code == 2 and "checkpoint not found" in r.output
    r = runner.invoke(
        app,
        [
            "train",
            "--manifest",
            str(smoke["manifest"]),
            "--config",
            "smoke",
            "--set",
            "model.embed_dims=3",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    flat = " ".join(r.output.replace("│", " ").split())  # rich may box and wrap the message
    assert r.exit_code == 2, r.output
    assert "unknown key `model.embed_dims`" in flat, r.output


def test_parse_overrides():
    assert parse_overrides(["train.lr=3e-4", "model.modalities=[audio, au]"], epochs=2) == {
        "train.lr": 3e-4,
        "model.modalities": ["audio", "au"],
        "train.epochs": 2,
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["nonsense"])


def test_evaluate_with_trees_reports_the_average_of_the_two(smoke, tmp_path):
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor

    from tfqa.data.manifest import TASKS
    from tfqa.data.pooling import pooled_matrix
    from tfqa.model.inference import load_trained
    from tfqa.model.trees import TreeEnsemble, file_sha256

    best = smoke["result"].best_checkpoint
    fs = smoke["features"]
    pre = load_trained(best, "cpu").preprocessor
    x = pooled_matrix(pre, fs.clips)
    models = [HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(x, fs.labels[:, k])
              for k in range(len(TASKS))]  # fmt: skip
    trees = TreeEnsemble.from_sklearn(models, TASKS, checkpoint_sha256=file_sha256(best))
    path = trees.save(tmp_path / "trees.npz")
    kw = dict(
        cache_dir=smoke["cache"], split="all", n_resamples=10, figures=False, log=lambda m: None
    )
    alone = evaluate(best, smoke["manifest"], tmp_path / "a", **kw).predictions
    both = evaluate(best, smoke["manifest"], tmp_path / "b", trees=path, **kw).predictions
    by_name = {v.split("/")[-1]: k for k, v in enumerate(fs.videos)}
    rows = [by_name[v.split("/")[-1]] for v in both["video"]]
    tree_pred = trees.predict(x[rows])
    for k, t in enumerate(TASKS):
        want = (alone[f"pred_{t}"].to_numpy() + tree_pred[:, k]) / 2
        np.testing.assert_allclose(both[f"pred_{t}"], want, atol=1e-5)
    assert "averaged with the trees" in (tmp_path / "b" / "metrics.md").read_text()
    # "default" is the shipped scorer: it refuses the smoke clips' other feature sizes
    with pytest.raises(ConfigError, match="feature dims"):
        evaluate("default", smoke["manifest"], tmp_path / "d", **kw)


def test_evaluate_flags_a_model_trained_on_other_features(smoke, tmp_path):
    """The store's features come from other extractors than the checkpoint's: a warning."""
    import torch

    ckpt = torch.load(smoke["result"].best_checkpoint, weights_only=False)
    ckpt["contract"]["features_id"] = "0123456789abcdef"
    other = tmp_path / "other.pt"
    torch.save(ckpt, other)
    for path, expected in ((smoke["result"].best_checkpoint, 0), (other, 1)):
        lines: list[str] = []
        evaluate(path, smoke["manifest"], tmp_path / path.stem, cache_dir=smoke["cache"],
                 n_resamples=10, figures=False, log=lines.append)  # fmt: skip
        stale = [m for m in lines if "trained on features from other extractors" in m]
        assert len(stale) == expected, lines
