"""benchmarks/_table.py: the mean shift and its bootstrap interval."""

from __future__ import annotations

import numpy as np


def test_mean_ci_stats(load_benchmark):
    stats = load_benchmark("_table").mean_ci_stats()
    low, mean, high = stats["95 % CI low"], stats["mean Δ"], stats["95 % CI high"]
    # mean 0, sd 6.2 over 21 values: the interval holds 0, about symmetrically (SE 1.4)
    centred = np.arange(-10.0, 11.0)
    lo, hi = low(centred), high(centred)
    assert lo < mean(centred) == 0.0 < hi and abs(lo + hi) < 0.5 and 1.5 < hi < 4.5
    # the same noise around 5: the same resamples move the whole interval by 5, clear of 0
    shifted = centred + 5.0
    assert np.isclose(low(shifted), lo + 5) and np.isclose(high(shifted), hi + 5)
    assert low(shifted) > 0
