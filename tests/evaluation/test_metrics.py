"""Each metric against an independent reference computed here from its textbook formula."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from tfqa.evaluation.metrics import METRICS, compute, scale_points, three_class


def data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(1, 5, n)
    p = np.clip(t + rng.normal(0, 0.6, n), 1, 5)
    return t, p


def pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    return (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())


def kendall_tau_b(a, b):
    n = len(a)
    conc = disc = ties_a = ties_b = 0
    for i in range(n):
        for j in range(i + 1, n):
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif da == db:
                conc += 1
            else:
                disc += 1
    return (conc - disc) / np.sqrt((conc + disc + ties_a) * (conc + disc + ties_b))


def qwk(a, b, k=5):
    o = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        o[x - 1, y - 1] += 1
    w = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / (k - 1) ** 2
    e = np.outer(o.sum(1), o.sum(0)) / o.sum()
    return 1 - (w * o).sum() / (w * e).sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_reference_formulas(seed):
    t, p = data(seed=seed)
    p[:5] = np.round(p[:5])  # some ties
    m = compute(t, p)
    err = p - t
    assert m["mse"] == pytest.approx((err**2).mean())
    assert m["rmse"] == pytest.approx(np.sqrt((err**2).mean()))
    assert m["mae"] == pytest.approx(np.abs(err).mean())
    assert m["medae"] == pytest.approx(np.median(np.abs(err)))
    assert m["r2"] == pytest.approx(1 - (err**2).sum() / ((t - t.mean()) ** 2).sum())
    assert m["plcc"] == pytest.approx(pearson(t, p))
    assert m["srcc"] == pytest.approx(pearson(rankdata(t), rankdata(p)))
    assert m["krcc"] == pytest.approx(kendall_tau_b(t, p))
    ccc = 2 * np.cov(t, p, bias=True)[0, 1] / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)
    assert m["ccc"] == pytest.approx(ccc, rel=1e-3)  # torchmetrics uses the unbiased covariance
    assert m["acc3"] == pytest.approx(np.mean(three_class(t) == three_class(p)))
    assert m["qwk"] == pytest.approx(qwk(scale_points(t), scale_points(p)))
    assert set(m) == set(METRICS)


def test_class_cut_points():
    assert three_class(np.array([1.0, 2.49, 2.5, 3.0, 3.5, 3.51, 5.0])).tolist() == [
        0,
        0,
        1,
        1,
        1,
        2,
        2,
    ]
    assert scale_points(np.array([0.7, 1.49, 1.5, 4.6, 5.4])).tolist() == [1, 1, 2, 5, 5]


def test_perfect_and_degenerate():
    t, _ = data()
    m = compute(t, t)
    for k in ("plcc", "srcc", "krcc", "ccc", "r2", "acc3", "qwk"):
        assert m[k] == pytest.approx(1.0), k
    assert m["rmse"] == 0
    const = compute(t, np.full_like(t, 3.0))
    assert np.isnan(const["plcc"]) and np.isnan(const["srcc"]) and const["mae"] > 0
    with pytest.raises(ValueError, match="same shape"):
        compute(t, t[:-1])
