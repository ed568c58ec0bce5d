from __future__ import annotations

import numpy as np
import pytest
import torch

from tfqa.errors import ConfigError, ModelNotFoundError
from tfqa.model.checkpoint import FORMAT, load_checkpoint, save_checkpoint


def test_roundtrip_is_weights_only_safe(tmp_path):
    state = {
        "config": {"a": [1, 2]},
        "arrays": {"m": np.arange(3, dtype=np.float32)},
        "t": (0.9, 0.99),
    }
    path = save_checkpoint(tmp_path / "c.pt", state)
    raw = torch.load(path, weights_only=True)  # no pickled classes inside
    assert raw["format"] == FORMAT and raw["versions"]["torch"] == str(torch.__version__)
    ckpt = load_checkpoint(path)
    assert torch.equal(ckpt["arrays"]["m"], torch.arange(3, dtype=torch.float32))
    assert ckpt["t"] == (0.9, 0.99) and ckpt["config"] == {"a": [1, 2]}
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(ModelNotFoundError, match="checkpoint not found.*tfqa train"):
        load_checkpoint(tmp_path / "none.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="Expected a checkpoint of format"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
