from __future__ import annotations

import numpy as np
import pytest

from tfqa.evaluation.bootstrap import bootstrap_metrics


def sample(n, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(1, 5, n)
    return t, np.clip(t + rng.normal(0, 0.8, n), 1, 5)


def test_intervals_contain_the_estimate_and_shrink_with_n():
    widths = {}
    for n in (50, 600):
        t, p = sample(n)
        est = bootstrap_metrics(t, p, n_resamples=100, seed=0)
        for name, e in est.items():
            assert e.low <= e.value <= e.high, (n, name, e)
        widths[n] = {k: e.high - e.low for k, e in est.items()}
    for name in ("plcc", "srcc", "krcc", "ccc", "rmse", "mae", "qwk", "acc3"):
        assert widths[600][name] < 0.6 * widths[50][name], name


def test_seeded():
    t, p = sample(100)
    a = bootstrap_metrics(t, p, ["plcc"], seed=1)["plcc"]
    assert a == bootstrap_metrics(t, p, ["plcc"], seed=1)["plcc"]
    assert a != bootstrap_metrics(t, p, ["plcc"], seed=2)["plcc"]


def test_coverage_of_the_true_correlation():
    # 95 % intervals of Pearson r should cover the population value most of the time
    rho, hits = 0.6, 0
    rng = np.random.default_rng(5)
    for _ in range(20):
        x = rng.normal(size=150)
        y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=150)
        e = bootstrap_metrics(x, y, ["plcc"], n_resamples=100, seed=int(rng.integers(1e6)))["plcc"]
        hits += e.low <= rho <= e.high
    assert hits >= 16


def test_degenerate_and_tiny_inputs():
    t, _ = sample(30)
    const = bootstrap_metrics(t, np.full_like(t, 3.0), ["plcc", "mae"])
    assert np.isnan(const["plcc"].value) and np.isnan(const["plcc"].low)
    assert const["mae"].low <= const["mae"].value <= const["mae"].high
    tiny = bootstrap_metrics(t[:2], t[:2], ["mae"])
    assert np.isnan(tiny["mae"].low)
    assert pytest.approx(0.0) == tiny["mae"].value


def test_group_bootstrap_of_identical_groups_has_no_spread():
    # every group holds the same clips: any resample of groups has the point's PLCC
    t, p = sample(40)
    t4, p4 = np.tile(t, 4), np.tile(p, 4)
    groups = np.repeat(["a", "b", "c", "d"], 40)
    e = bootstrap_metrics(t4, p4, ["plcc"], n_resamples=50, groups=groups)["plcc"]
    assert e.low == pytest.approx(e.value) and e.high == pytest.approx(e.value)
    # ... while resampling clips does spread it
    c = bootstrap_metrics(t4, p4, ["plcc"], n_resamples=50)["plcc"]
    assert c.high - c.low > 0.02


def test_group_bootstrap_is_wider_when_groups_share_an_error():
    # a per-group bias: clips of a group move together, so people matter more than clips
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(12), 50)
    t = rng.uniform(1, 5, len(groups))
    p = t + rng.normal(0, 1.2, 12)[groups] + rng.normal(0, 0.3, len(groups))
    by_group = bootstrap_metrics(t, p, ["plcc"], n_resamples=200, groups=groups)["plcc"]
    by_clip = bootstrap_metrics(t, p, ["plcc"], n_resamples=200)["plcc"]
    assert by_group.low <= by_group.value <= by_group.high
    assert by_group.high - by_group.low > 2 * (by_clip.high - by_clip.low)


def test_group_bootstrap_needs_three_groups_and_one_group_per_clip():
    t, p = sample(30)
    two = bootstrap_metrics(t, p, ["plcc"], groups=np.repeat([0, 1], 15))["plcc"]
    assert np.isfinite(two.value) and np.isnan(two.low)
    with pytest.raises(ValueError, match="one group per clip"):
        bootstrap_metrics(t, p, ["plcc"], groups=[0, 1, 2])
