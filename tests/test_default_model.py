"""The trained model that ships with tfqa: self-describing, small, and it moves the right way."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tfqa.data.manifest import TASKS
from tfqa.model.checkpoint import FORMAT, load_checkpoint
from tfqa.model.scorer import default_checkpoint

REPO = Path(__file__).resolve().parents[1]
MAX_BYTES = 25 * 2**20


@pytest.fixture(scope="module")
def ckpt_path() -> Path:
    return default_checkpoint()


@pytest.fixture(scope="module")
def scorer(feature_cache):
    from tfqa.scoring import create_scorer

    return create_scorer("learned", cache=feature_cache)


def test_the_checkpoint_ships_small_and_describes_itself(ckpt_path):
    assert ckpt_path.stat().st_size <= MAX_BYTES
    ckpt = load_checkpoint(ckpt_path)
    assert ckpt["format"] == FORMAT
    assert {"tfqa", "torch", "numpy", "scikit-learn"} <= set(ckpt["versions"])
    assert set(ckpt["config"]) >= {"model", "data", "loss", "train"}
    dims = ckpt["contract"]["dims"]
    assert set(dims) == {"visual", "audio", "keypoints", "au", "sync", "clip"}
    assert len(ckpt["contract"]["columns"]["clip"]) == dims["clip"]
    assert set(ckpt["preprocessing"]["transforms"]) == {*dims}
    assert "optimizer" not in ckpt  # the inference state only


def test_the_sidecar_and_the_config_match_the_checkpoint(ckpt_path):
    side = json.loads(ckpt_path.with_suffix(".json").read_text())
    assert side["sha256"] == hashlib.sha256(ckpt_path.read_bytes()).hexdigest()
    assert set(side["test_plcc"]) == set(TASKS)
    cfg = load_checkpoint(ckpt_path)["config"]
    repo_yaml = REPO / "configs" / "default.yaml"
    packaged = Path(str(ckpt_path)).parents[2] / "configs" / "default.yaml"
    assert repo_yaml.read_bytes() == packaged.read_bytes()
    shipped = yaml.safe_load(repo_yaml.read_text())
    for section in ("model", "data", "loss"):
        for key, value in shipped[section].items():
            got = cfg[section][key]
            assert (list(got) if isinstance(got, tuple) else got) == value, f"{section}.{key}"


def test_the_default_model_reads_the_features_it_was_trained_on(ckpt_path):
    """Changing an extractor (e.g. retraining the sync model) means retraining the default."""
    from tfqa.features.pipeline import default_features_id

    side = json.loads(ckpt_path.with_suffix(".json").read_text())
    assert side["features_id"] == default_features_id()


def test_the_shipped_trees_belong_to_the_checkpoint(ckpt_path):
    from tfqa.model.scorer import default_trees
    from tfqa.model.trees import TreeEnsemble

    path = default_trees()
    assert path is not None, "the default scorer ships its gradient-boosted trees"
    assert ckpt_path.stat().st_size + path.stat().st_size <= MAX_BYTES  # both together
    trees = TreeEnsemble.load(path)
    digest = hashlib.sha256(ckpt_path.read_bytes()).hexdigest()
    assert trees.header["checkpoint_sha256"] == digest and trees.outputs == TASKS
    side = json.loads(ckpt_path.with_suffix(".json").read_text())
    assert side["trees"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert side["scorer"] == f"{side['trained_as']}+gbm"


def test_create_scorer_defaults_to_the_shipped_model():
    from tfqa.model.scorer import default_trees
    from tfqa.scoring import LearnedScorer, create_scorer

    scorer = create_scorer()
    assert isinstance(scorer, LearnedScorer) and scorer.checkpoint == default_checkpoint()
    assert scorer.trees == default_trees()
    assert create_scorer(trees=False).model.trees is None
    # naming the shipped checkpoint explicitly still gets its trees
    assert create_scorer(checkpoint=default_checkpoint()).trees == default_trees()


def test_scores_a_clip_in_range(scorer, synth_clip):
    res = scorer.score(synth_clip("clean"))
    assert res.scorer == "learned" and list(res.scores) == list(TASKS)
    assert all(1.0 <= v <= 5.0 for v in res.scores.values())
    assert "av_offset_ms" in res.evidence  # the evidence comes with the learned scores too
    for dim, score in res.scores.items():  # each score is the mean of its two members
        members = res.subscores[dim]
        assert set(members) == {"transformer", "trees"}
        assert score == pytest.approx((members["transformer"] + members["trees"]) / 2, abs=1e-5)


@pytest.mark.parametrize(
    ("name", "defect", "dimension"),
    [("offset400", {"av_offset_ms": 400}, "lip_sync"), ("snr0", {"snr_db": 0}, "audio_quality")],
)
def test_a_degraded_clip_scores_lower_on_its_dimension(scorer, synth_clip, name, defect, dimension):
    clean = scorer.score(synth_clip("clean")).scores[dimension]
    bad = scorer.score(synth_clip(name, **defect)).scores[dimension]
    assert bad < clean - 0.5, (clean, bad)
