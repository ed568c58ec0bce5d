from __future__ import annotations

import numpy as np
import torch

from tfqa.data.windows import WindowDataset, cut, eval_batches, window_starts


def _inputs(n, d=3, c=2):
    keys = ("visual", "audio", "keypoints", "au", "sync")
    x = {k: np.arange(n * d, dtype=np.float32).reshape(n, d) for k in keys}
    x["clip"] = np.ones(c, dtype=np.float32)
    return x


def test_window_starts_known_values():
    assert window_starts(400, 150, 3) == [0, 125, 250]
    assert window_starts(150, 150, 4) == [0]
    assert window_starts(90, 150, 4) == [0]
    assert window_starts(300, 150, 1) == [75]
    assert window_starts(152, 150, 4) == [0, 1, 2]


def test_short_clip_is_padded_with_a_mask():
    part = cut(_inputs(5), 0, 8)
    assert part["visual"].shape == (8, 3)
    assert part["valid"].tolist() == [True] * 5 + [False] * 3
    assert (part["visual"][5:] == 0).all() and part["visual"][4, 0] == 12


def test_training_crops_are_seeded_per_epoch():
    ds = WindowDataset([_inputs(50)], np.full((1, 5), 3.0), 10, seed=0)
    firsts = []
    for epoch in (0, 1, 0):
        ds.set_epoch(epoch)
        item = ds[0]
        assert item["visual"].shape == (10, 3) and item["valid"].all()
        firsts.append(float(item["visual"][0, 0]))
    assert firsts[0] == firsts[2] and firsts[0] != firsts[1]
    assert torch.equal(ds[0]["labels"], torch.full((5,), 3.0))


def test_eval_batches_cover_every_window_once():
    clips = [_inputs(400), _inputs(40), _inputs(160)]
    owners = np.concatenate([o for _, o in eval_batches(clips, 150, 3, batch_size=4)])
    assert owners.tolist() == [0, 0, 0, 1, 2, 2, 2]
