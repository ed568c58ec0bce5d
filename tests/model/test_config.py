from __future__ import annotations

import dataclasses

import pytest

from tfqa.errors import ConfigError
from tfqa.model.config import PRESETS, preset_path
from tfqa.training.config import ExperimentConfig, load_config
from training.helpers import REPO


@pytest.mark.parametrize("name", PRESETS)
def test_repo_configs_are_the_packaged_presets(name):
    assert (REPO / "configs" / f"{name}.yaml").read_bytes() == preset_path(name).read_bytes()
    assert load_config(REPO / "configs" / f"{name}.yaml") == load_config(name)


def test_shipped_configs_carry_the_thesis_numbers():
    std, opt = load_config("standard"), load_config("optimized")
    assert (std.model.embed_dim, std.model.num_layers, std.model.num_heads, std.model.ffn_dim) == (
        256,
        3,
        8,
        1024,
    )
    assert (opt.model.embed_dim, opt.model.num_layers, opt.model.num_heads, opt.model.ffn_dim) == (
        512,
        6,
        16,
        2048,
    )
    assert opt.loss.label_smoothing == 0.1 and std.loss.label_smoothing == 0.0
    for c in (std, opt):
        assert c.model.max_len == 150 and c.data.window == 150
        assert c.data.pca == {"visual": 100, "audio": 200, "keypoints": 50, "au": 17}
        assert c.loss.consistency_weight == 0.05 and c.loss.fixed_weights["lip_sync"] == 1000.0
        assert c.train.grad_accum == 8 and c.train.batch_size * c.train.grad_accum == 64
        assert c.train.patience == 10
        assert (c.train.grad_scaler_init, c.train.grad_scaler_growth) == (2.0**16, 2.0)
        assert c.data.split_fractions == (0.8, 0.1, 0.1)
    assert opt.train.grad_checkpointing


def _yaml(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    p = _yaml(tmp_path, "model:\n  embed_dims: 64\n")
    with pytest.raises(
        ConfigError, match=r"c\.yaml: unknown key `model\.embed_dims`.*did you mean `embed_dim`"
    ):
        load_config(p)
    with pytest.raises(ConfigError, match="unknown key `trainer`"):
        load_config(_yaml(tmp_path, "trainer: {}\n"))


def test_duplicate_key_is_an_error(tmp_path):
    p = _yaml(tmp_path, "train:\n  lr: 0.1\n  lr: 0.2\n")
    with pytest.raises(ConfigError, match=r"duplicate key `lr` \(line 3\)"):
        load_config(p)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: {num_layers: two}", "Expected `model.num_layers` to be an integer"),
        ("model: {num_heads: 3}", "divisible"),
        ("loss: {weighting: equal}", "weighting"),
        ("loss: {fixed_weights: {lip_sync: 2}}", "every task"),
        ("train: {amp: fp8}", "amp"),
        ("data: {window: 200}", r"data.window.*model.max_len"),
        ("model: {modalities: [visual, smell]}", "smell"),
        ("data: {centre: [nose]}", r"nose.*data.centre"),
    ],
)
def test_bad_values(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_yaml(tmp_path, text + "\n"))


def test_overrides_and_frozen():
    cfg = load_config(
        "smoke", {"model.embed_dim": 32, "train.epochs": 2, "model.modalities": ("audio",)}
    )
    assert (
        cfg.model.embed_dim == 32 and cfg.train.epochs == 2 and cfg.model.modalities == ("audio",)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.epochs = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="unknown key"):
        load_config("smoke", {"train.epoch": 2})
    with pytest.raises(ConfigError, match="no config file or preset"):
        load_config("nonexistent")
    assert isinstance(load_config(cfg), ExperimentConfig)


def test_amp_off_reads_as_off_though_yaml_reads_it_as_false(tmp_path):
    """YAML 1.1 turns a bare `off` into False: `amp: off` in a file and `--set train.amp=off`
    must still mean AMP off, and `on` is refused as an AMP mode by name."""
    from tfqa.cli_learning import parse_overrides

    assert load_config(_yaml(tmp_path, "train: {amp: off}\n")).train.amp == "off"
    assert load_config("smoke", parse_overrides(["train.amp=off"])).train.amp == "off"
    with pytest.raises(ConfigError, match="amp"):
        load_config("smoke", parse_overrides(["train.amp=on"]))
