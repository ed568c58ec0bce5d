from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tfqa.data.manifest import ManifestError
from tfqa.data.splits import assign_splits, split_summary


def _manifest(groups, splits=None):
    return pd.DataFrame({"group": groups, "split": splits or [None] * len(groups)})


def test_groups_never_cross_splits_and_shares_are_near_80_10_10():
    rng = np.random.default_rng(1)
    groups = [f"p{g}" for g in rng.integers(0, 100, size=1000)]
    splits = assign_splits(_manifest(groups), seed=3)
    owner = {}
    for g, s in zip(groups, splits, strict=True):
        assert owner.setdefault(g, s) == s
    share = {s: np.mean(splits == s) for s in ("train", "val", "test")}
    assert share["train"] == pytest.approx(0.8, abs=0.03)
    assert share["val"] == pytest.approx(0.1, abs=0.03)
    assert share["test"] == pytest.approx(0.1, abs=0.03)


def test_seeded_and_seed_dependent():
    groups = [f"p{i // 3}" for i in range(90)]
    a = assign_splits(_manifest(groups), seed=0)
    assert (a == assign_splits(_manifest(groups), seed=0)).all()
    assert not (a == assign_splits(_manifest(groups), seed=1)).all()


def test_given_split_is_honoured_and_extends_to_its_group():
    groups = ["a", "a", "b", "c", "d", "e", "f"]
    given = ["test", None, None, None, None, None, None]
    splits = assign_splits(_manifest(groups, given), seed=0)
    assert splits[0] == "test" and splits[1] == "test"


def test_conflicting_given_split_is_an_error():
    with pytest.raises(ManifestError, match="group 'a' appears in both"):
        assign_splits(_manifest(["a", "a"], ["train", "test"]))


def test_few_groups_still_give_val_and_test():
    groups = [f"p{i // 10}" for i in range(50)]  # 5 groups
    splits = assign_splits(_manifest(groups), seed=0)
    summary = split_summary(splits, groups)
    assert all(summary[s]["groups"] >= 1 for s in ("train", "val", "test"))


def test_bad_fractions():
    with pytest.raises(ManifestError, match="fractions"):
        assign_splits(_manifest(["a"]), fractions=(0.5, 0.2))
