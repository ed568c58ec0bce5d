"""benchmarks/evidence_ceiling.py: leave-one-group-out predictions with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_leave_one_group_out_learns_a_shared_rule_and_not_noise(load_benchmark):
    mod = load_benchmark("evidence_ceiling")
    rng = np.random.default_rng(0)
    n, groups = 400, np.repeat([f"g{i}" for i in range(8)], 50)
    x = pd.DataFrame({"evidence": rng.uniform(-1, 1, n), "noise": rng.normal(size=n)})
    y = pd.DataFrame({"a": 3 + 2 * x["evidence"], "b": rng.uniform(1, 5, n)})
    pred = mod.leave_one_group_out(x, y, pd.Series(groups))
    assert pred.notna().all().all()
    assert np.corrcoef(pred["a"], y["a"])[0, 1] > 0.95  # the rule holds in every held-out group
    assert abs(np.corrcoef(pred["b"], y["b"])[0, 1]) < 0.3  # a label the evidence does not carry


def test_held_out_group_is_never_seen(load_benchmark):
    mod = load_benchmark("evidence_ceiling")
    # each group's label is its own constant and the feature identifies the group: a model that
    # saw the held-out group would predict its constant; out of group it cannot
    groups = np.repeat(["a", "b", "c", "d"], 30)
    code = pd.Series(groups).map({"a": 0, "b": 1, "c": 2, "d": 3}).astype(float)
    x = pd.DataFrame({"code": code})
    y = pd.DataFrame({"t": code.map({0: 1.0, 1: 5.0, 2: 1.0, 3: 5.0})})
    pred = mod.leave_one_group_out(x, y, pd.Series(groups))
    assert np.abs(pred["t"] - y["t"]).mean() > 1.0
