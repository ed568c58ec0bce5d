from __future__ import annotations

from tfqa.evaluation.ablations import thesis_variants
from tfqa.training.config import load_config


def test_the_thesis_variants():
    names = [v.name for v in thesis_variants(load_config("standard"))]
    for m in ("visual", "audio", "keypoints", "au", "sync"):
        assert f"no_{m}" in names
    for n in ("full", "no_clip_stats", "no_transformer_fusion", "no_consistency"):
        assert n in names
    for w in ("fixed", "uncertainty", "gradnorm"):
        assert f"weighting_{w}" in names
    for c in ("standard", "optimized"):
        assert f"config_{c}" in names and f"config_{c}_no_pca" in names
    tables = {v.name: v.table for v in thesis_variants(load_config("standard"))}
    assert tables["weighting_gradnorm"] == "3.1" and tables["no_audio"] == "3.3"
    assert tables["config_optimized"] == "3.5"
