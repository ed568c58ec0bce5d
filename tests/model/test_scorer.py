from __future__ import annotations

import numpy as np
import pytest

from tfqa.data.manifest import TASKS
from tfqa.errors import ConfigError
from tfqa.model.scorer import LearnedScorer


def test_scores_a_clip_and_matches_batch_inference(smoke):
    scorer = LearnedScorer(smoke["result"].best_checkpoint, device="cpu")
    fs = smoke["features"]
    one = scorer.score_arrays(fs.clips[0])
    assert list(one) == list(TASKS)
    assert all(1.0 <= v <= 5.0 for v in one.values())
    many = scorer.score_arrays_batch(fs.clips[:3])
    assert many[0] == pytest.approx(one, abs=1e-5)


def test_refuses_features_of_other_dims(smoke):
    scorer = LearnedScorer(smoke["result"].best_checkpoint)
    arrays = dict(smoke["features"].clips[0])
    arrays["visual"] = np.zeros((len(arrays["mask"]), 3), dtype=np.float32)
    with pytest.raises(ConfigError, match="feature dims differ"):
        scorer.score_arrays(arrays)


def test_score_features_reads_the_contract(smoke, monkeypatch):
    from tfqa.features import contract

    scorer = LearnedScorer(smoke["result"].best_checkpoint)
    fs = smoke["features"]
    monkeypatch.setattr(contract, "model_arrays", lambda feats: fs.clips[1])
    monkeypatch.setattr(contract, "contract_of", lambda feats: fs.contract)

    class Feats:
        path = "clip.mp4"

    assert scorer.score_features(Feats()) == pytest.approx(scorer.score_arrays(fs.clips[1]))


def test_default_checkpoint_is_found_or_explained():
    from tfqa.errors import ModelNotFoundError
    from tfqa.model.scorer import default_checkpoint

    try:
        path = default_checkpoint()
    except ModelNotFoundError as e:
        assert "--scorer zero-shot" in str(e)
    else:
        assert path.is_file()


def test_the_checkpoint_records_the_extractors_of_its_features(smoke):
    """``tfqa train`` writes the store's features id into the checkpoint's contract."""
    from tfqa.features.pipeline import default_features_id

    scorer = LearnedScorer(smoke["result"].best_checkpoint)
    assert scorer.features_id == default_features_id()


def test_a_checkpoint_trained_on_other_extractors_is_flagged(smoke, tmp_path):
    """Scoring with extractors other than the training ones warns, once and in every result."""
    import torch

    from tfqa.scoring import LearnedScorer as Scorer

    ckpt = torch.load(smoke["result"].best_checkpoint, weights_only=False)
    ckpt["contract"]["features_id"] = "0123456789abcdef"
    other = tmp_path / "other.pt"
    torch.save(ckpt, other)
    with pytest.warns(UserWarning, match="trained on features from other extractors"):
        flagged = Scorer(other, cache=False)
    assert len(flagged.notes) == 1 and "0123456789abcdef" in flagged.notes[0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the matching checkpoint: no warning
        same = Scorer(smoke["result"].best_checkpoint, cache=False)
    assert same.notes == []


def test_features_mismatch_speaks_only_when_both_ids_are_known_and_differ():
    from tfqa.model.scorer import features_mismatch

    assert features_mismatch("m.pt", "aaaa", "aaaa") is None
    assert features_mismatch("m.pt", None, "aaaa") is None  # an older checkpoint: unrecorded
    assert features_mismatch("m.pt", "aaaa", None) is None
    msg = features_mismatch("m.pt", "aaaa", "bbbb")
    assert msg.startswith("m.pt:") and "aaaa" in msg and "bbbb" in msg and "tfqa train" in msg
