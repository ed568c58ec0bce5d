"""Monotonicity bench: Spearman bookkeeping against scipy, and the sweep plumbing end to end."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import spearmanr

from tfqa.bench.monotonic import (
    SWEEPS,
    ClipSweep,
    MonotonicResult,
    Sweep,
    _rho,
    run_monotonic,
    write_csv,
    write_json,
)
from tfqa.data.degrade_video import sharpness
from tfqa.io import FrameStream


def test_rho_matches_scipy_and_is_nan_for_a_saturated_score():
    x, y = [0, 1, 2, 3, 5], [4.9, 4.1, 4.3, 2.0, 1.5]
    assert _rho(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert math.isnan(_rho(x, [5.0] * 5))
    assert _rho([0, 1, 2, 3], [5, 4, math.nan, 2]) == pytest.approx(-1.0)  # a failed level drops


def test_summary_pools_and_counts_clips_meeting_the_target():
    rows = [
        ClipSweep("a", "noise", [0, 1, 2, 3], [5, 4, 3, 2], -1.0),
        ClipSweep("b", "noise", [0, 1, 2, 3], [5, 5, 4, 4.5], _rho([0, 1, 2, 3], [5, 5, 4, 4.5])),
        ClipSweep("c", "noise", [0, 1, 2, 3], [3, 3, 3, 3], math.nan),
    ]
    s = {r["sweep"]: r for r in MonotonicResult(rows, {}, 1.0).summary()}["noise"]
    assert s["n_clips"] == 3 and s["n_nan"] == 1
    assert s["share_le_target"] == pytest.approx(1 / 3)
    pooled = spearmanr([0, 1, 2, 3] * 3, [5, 4, 3, 2, 5, 5, 4, 4.5, 3, 3, 3, 3]).statistic
    assert s["pooled_rho"] == pytest.approx(pooled)
    assert s["mean_score_by_level"][0] == pytest.approx(13 / 3, abs=1e-3)


class _SharpnessScorer:
    """Stands in for the zero-shot scorer: 'overall' = log sharpness of the clip's frames."""

    def score(self, path):
        s = np.mean([sharpness(g.rgb) for g in FrameStream(path)][::5])
        return SimpleNamespace(scores={"overall": float(np.log(s))}, evidence={"sharpness": s})


def test_a_blur_sweep_end_to_end(synth_clip, tmp_path):
    sweep = next(s for s in SWEEPS if s.name == "blur")
    clip = synth_clip("mono_tiny", duration_s=2.4, size=160, seed=4)
    result = run_monotonic([clip], tmp_path, sweeps=[sweep], cache_dir=tmp_path / "c",
                           scorer=_SharpnessScorer())  # fmt: skip
    (row,) = result.clips
    assert row.severity == [0, 1, 2, 3, 5] and row.rho == pytest.approx(-1.0)
    assert row.evidence[0]["sharpness"] > row.evidence[-1]["sharpness"]
    data = json.loads(write_json(result, tmp_path / "m.json").read_text())
    blur = next(s for s in data["summary"] if s["sweep"] == "blur")
    assert blur["share_le_target"] == 1.0 and blur["pooled_rho"] == pytest.approx(-1.0)
    lines = write_csv(result, tmp_path / "m.csv").read_text().splitlines()
    assert len(lines) == 1 + 5 and lines[1].startswith("mono_tiny,blur,overall,0,")


def test_sweeps_name_real_families_and_start_clean():
    from tfqa.data.degrade import get_family

    for sw in SWEEPS:
        assert isinstance(sw, Sweep) and sw.values[0] is None and sw.severity[0] == 0
        assert len(sw.values) == len(sw.severity) and list(sw.severity) == sorted(sw.severity)
        get_family(sw.family)
