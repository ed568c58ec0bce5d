from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import pearsonr

from tfqa.data.splits import assign_splits
from tfqa.data.synthetic import make_synthetic
from tfqa.errors import ConfigError
from tfqa.model.checkpoint import load_checkpoint
from tfqa.model.inference import load_trained
from tfqa.training.config import load_config
from tfqa.training.trainer import fit, smoothed_targets, task_losses

TINY = {
    "data.window": 48,
    "model.max_len": 48,
    "model.embed_dim": 32,
    "model.num_layers": 1,
    "model.num_heads": 2,
    "model.ffn_dim": 64,
    "data.eval_windows": 2,
    "train.batch_size": 16,
    "train.lr": 3e-3,
    "train.warmup_steps": 10,
}


def split(fs, fractions=(0.8, 0.1, 0.1)):
    fs.splits = assign_splits(
        pd.DataFrame({"group": fs.groups, "split": [None] * len(fs)}), fractions, seed=0
    )
    return fs


def test_learns_a_known_function_to_plcc_095_on_held_out_clips(tmp_path):
    fs = split(make_synthetic(120, (48, 96), seed=0), (0.6, 0.1, 0.3))
    cfg = load_config(
        "smoke",
        {
            **TINY,
            "train.epochs": 15,
            "train.cycle_epochs": 15.0,
            "model.dropout": 0.0,
            "train.patience": 15,
        },
    )
    result = fit(cfg, fs, tmp_path, log=lambda m: None)
    test = fs.indices("test")
    assert len(test) >= 30 and not set(fs.subset(test).groups) & set(
        fs.subset(fs.indices("train")).groups
    )
    preds = load_trained(result.best_checkpoint).predict_arrays([fs.clips[i] for i in test])
    plcc = [pearsonr(preds[:, k], fs.labels[test, k]).statistic for k in range(5)]
    assert min(plcc) >= 0.95, plcc


def test_resume_continues_exactly(tmp_path):
    fs = split(make_synthetic(40, (48, 60), seed=1))
    over = {**TINY, "train.batch_size": 8, "train.grad_accum": 2, "loss.weighting": "gradnorm"}
    fit(load_config("smoke", {**over, "train.epochs": 3}), fs, tmp_path / "a", log=lambda m: None)
    fit(load_config("smoke", {**over, "train.epochs": 2}), fs, tmp_path / "b", log=lambda m: None)
    resumed = fit(
        load_config("smoke", {**over, "train.epochs": 3}),
        fs,
        tmp_path / "b",
        resume=True,
        log=lambda m: None,
    )
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2]
    a, b = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    for k in a["model"]:
        torch.testing.assert_close(b["model"][k], a["model"][k], rtol=0, atol=0, msg=k)
    torch.testing.assert_close(b["weighting"]["w"], a["weighting"]["w"])
    assert b["scheduler"]["last_epoch"] == a["scheduler"]["last_epoch"]
    with pytest.raises(ConfigError, match="config differs"):
        fit(load_config("smoke", {**over, "train.lr": 1e-2}), fs, tmp_path / "b", resume=True)
    # a run started before a setting existed (its checkpoint lacks the key) still resumes,
    # the setting taking its default
    ckpt = load_checkpoint(tmp_path / "b" / "last.pt")
    del ckpt["config"]["model"]["modality_dropout"]
    torch.save(ckpt, tmp_path / "b" / "last.pt")
    more = fit(load_config("smoke", {**over, "train.epochs": 4}), fs, tmp_path / "b",
               resume=True, log=lambda m: None)  # fmt: skip
    assert [h["epoch"] for h in more.history] == [0, 1, 2, 3]


def test_checkpoint_is_self_describing(tmp_path):
    fs = split(make_synthetic(24, 50, seed=2))
    res = fit(load_config("smoke", {**TINY, "train.epochs": 1}), fs, tmp_path, log=lambda m: None)
    best = load_checkpoint(res.best_checkpoint)
    assert best["config"]["model"]["embed_dim"] == 32 and best["contract"] == fs.contract
    assert set(best["versions"]) >= {"tfqa", "torch", "numpy", "scikit-learn"}
    assert "optimizer" not in best  # best.pt is the inference state
    last = load_checkpoint(res.last_checkpoint)
    assert {"optimizer", "scheduler", "scaler", "rng"} <= set(last)
    assert (tmp_path / "history.csv").is_file() and "AMP" in (tmp_path / "train.log").read_text()
    assert res.peak_memory_mib > 0 and res.epoch_time_s > 0 and "visual" in res.preprocessing


def test_needs_train_and_val_clips(tmp_path):
    fs = make_synthetic(4, 50, seed=0)
    fs.splits = np.array(["train"] * 4, dtype=object)
    with pytest.raises(ConfigError, match="train and val"):
        fit(load_config("smoke", TINY), fs, tmp_path)


def test_label_smoothing_pulls_targets_to_the_midpoint():
    y = torch.tensor([[1.0, 5.0, 3.0, 2.0, 4.0]])
    assert smoothed_targets(y, 0.1)[0].tolist() == pytest.approx([1.2, 4.8, 3.0, 2.1, 3.9])
    # the MSE-optimal prediction under the smoothed target is the smoothed label
    assert task_losses(smoothed_targets(y, 0.1), y, 0.1).tolist() == pytest.approx([0.0] * 5)
