from __future__ import annotations

import pytest
import torch
from torch import nn

from tfqa.data.manifest import TASKS
from tfqa.errors import ConfigError, ModelNotFoundError
from tfqa.model.config import ModelConfig
from tfqa.model.model import OptimizedMTLModel, consistency_loss
from tfqa.model.registry import THESIS_INPUT_DIMS, create_model, list_models

DIMS = {"visual": 6, "audio": 5, "keypoints": 7, "au": 17, "sync": 3, "clip": 4}


def batch(dims=DIMS, b=3, t=20, seed=0, valid_len=None):
    g = torch.Generator().manual_seed(seed)
    out = {k: torch.randn(b, t, d, generator=g) for k, d in dims.items() if k != "clip"}
    out["clip"] = torch.randn(b, dims["clip"], generator=g)
    valid = torch.ones(b, t, dtype=torch.bool)
    if valid_len is not None:
        valid[:, valid_len:] = False
    out["valid"] = valid
    return out


def tiny(**kw):
    cfg = dict(embed_dim=16, num_layers=2, num_heads=2, ffn_dim=32, max_len=20, dropout=0.1)
    cfg.update(kw)
    return OptimizedMTLModel(ModelConfig(**cfg), DIMS)


def test_scores_in_range_and_shapes():
    torch.manual_seed(0)
    model = tiny().eval()
    out = model(batch())
    assert out.scores.shape == (3, 5)
    assert out.modality_embeddings.shape == (3, 5, 16)
    assert (out.scores >= 1).all() and (out.scores <= 5).all()


def test_branches_and_heads_follow_the_spec():
    model = create_model("standard")
    widths = {
        m: (b[0].in_features, b[0].out_features, b[3].out_features)
        for m, b in model.branches.items()
    }
    assert widths["visual"] == (100, 256, 256)
    assert widths["audio"] == (200, 512, 256)
    assert widths["keypoints"] == (50, 512, 256)
    assert widths["au"] == (17, 128, 256)
    assert [type(x) for x in model.branches["visual"]] == [
        nn.Linear,
        nn.ReLU,
        nn.Dropout,
        nn.Linear,
    ]
    head = model.heads["overall"]
    assert [type(x) for x in head] == [
        nn.Linear,
        nn.ReLU,
        nn.Dropout,
        nn.Linear,
        nn.ReLU,
        nn.Linear,
        nn.Sigmoid,
    ]
    assert (
        head[0].in_features,
        head[0].out_features,
        head[3].out_features,
        head[5].out_features,
    ) == (256, 256, 128, 1)
    assert model.pos.shape == (150, 256) and isinstance(model.pos, nn.Parameter)
    enc = model.encoder
    assert len(enc.layers) == 3 and enc.layers[0].self_attn.num_heads == 8
    assert enc.layers[0].linear1.out_features == 1024
    opt = create_model("optimized").encoder
    assert len(opt.layers) == 6 and opt.layers[0].self_attn.num_heads == 16
    assert opt.layers[0].linear1.out_features == 2048 and opt.layers[0].linear1.in_features == 512


def test_thesis_raw_dims_run():
    dims = {"visual": 2048, "audio": 768, "keypoints": 1404, "au": 17, "sync": 5, "clip": 21}
    model = create_model("standard", dims, num_layers=1).eval()
    with torch.inference_mode():
        out = model(batch(dims, b=2, t=150))
    assert out.scores.shape == (2, 5)
    assert THESIS_INPUT_DIMS["visual"] == 100


def test_padding_does_not_change_the_scores():
    torch.manual_seed(0)
    model = tiny().eval()
    a = batch(valid_len=12)
    b = {k: v.clone() for k, v in a.items()}
    for k in ("visual", "audio", "keypoints", "au", "sync"):
        b[k][:, 12:] = 1e3 * torch.randn_like(b[k][:, 12:])
    torch.testing.assert_close(model(a).scores, model(b).scores, rtol=0, atol=1e-5)


def test_inference_mode_fast_path_matches_the_plain_forward():
    torch.manual_seed(0)
    model = tiny().eval()
    b = batch(valid_len=9)
    plain = model(b).scores.detach()  # grad enabled: the regular (slow) path
    with torch.inference_mode():  # the fused inference fast path
        fast = model(b).scores
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-5)


@pytest.mark.parametrize("fusion", ["dual", "statistical", "transformer"])
def test_fusion_variants(fusion):
    model = tiny(fusion=fusion)
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert ("encoder" in names) == (fusion != "statistical")
    assert ("path_a" in names) == (fusion != "transformer")
    assert model(batch()).scores.shape == (3, 5)


def test_dropping_modalities_and_clip_stats():
    model = tiny(modalities=("audio", "au"), use_clip_stats=False)
    b = batch()
    del b["visual"], b["clip"]
    assert model(b).modality_embeddings.shape[1] == 2


def test_gradient_checkpointing_gives_the_same_loss_and_gradients():
    torch.manual_seed(0)
    model = tiny(num_layers=3).train()
    b = batch(valid_len=15)

    def run(ckpt: bool):
        model.grad_checkpointing = ckpt
        model.zero_grad(set_to_none=True)
        torch.manual_seed(123)  # same dropout masks
        loss = model(b).scores.sum()
        loss.backward()
        return loss.detach(), {
            n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None
        }

    loss0, g0 = run(False)
    loss1, g1 = run(True)
    torch.testing.assert_close(loss1, loss0, rtol=0, atol=1e-5)
    assert g0.keys() == g1.keys() and any("encoder.layers.2" in n for n in g0)
    for n in g0:
        torch.testing.assert_close(g1[n], g0[n], rtol=0, atol=1e-5, msg=n)


def test_consistency_loss_modes():
    same = torch.randn(4, 1, 8).expand(4, 3, 8).contiguous()
    for mode in ("std", "corr", "cov"):
        assert float(consistency_loss(same, mode)) == pytest.approx(0.0, abs=1e-5)
    torch.manual_seed(0)
    diff = torch.randn(4, 3, 8)
    assert float(consistency_loss(diff, "std")) > 0.5
    assert 0.5 < float(consistency_loss(diff, "corr")) < 1.5
    assert float(consistency_loss(diff, "cov")) > 0
    # std: two modalities at +u and -u (layer-normed) differ by exactly |u| per feature
    u = torch.nn.functional.layer_norm(torch.randn(2, 8), (8,))
    pair = torch.stack([u, -u], dim=1)
    assert float(consistency_loss(pair, "std")) == pytest.approx(float(u.abs().mean()), rel=1e-4)
    assert float(consistency_loss(pair, "corr")) == pytest.approx(2.0, abs=1e-4)
    assert float(consistency_loss(torch.randn(4, 1, 8), "std")) == 0.0
    with pytest.raises(ConfigError, match="consistency mode"):
        consistency_loss(diff, "l2")


def test_factory_errors_and_overrides():
    assert list_models() == ["standard", "optimized", "smoke"]
    with pytest.raises(
        ModelNotFoundError, match="did you mean standard.*available: standard, optimized, smoke"
    ):
        create_model("standrad")
    assert create_model("smoke", DIMS, num_layers=1).config.num_layers == 1
    with pytest.raises(ConfigError, match="divisible"):
        create_model("smoke", DIMS, num_heads=5)
    with pytest.raises(ConfigError, match="missing"):
        OptimizedMTLModel(ModelConfig(), {"visual": 3})
    with pytest.raises(ConfigError, match="at most 20 frames"):
        tiny()(batch(t=21))


def test_task_order():
    assert TASKS == ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")


def test_modality_dropout_drops_whole_modalities_in_training_only():
    torch.manual_seed(0)
    model = tiny(modality_dropout=0.5, dropout=0.0)
    x = batch(b=64)
    model.train()
    keep = model._modality_keep(torch.zeros(64, 20, 5, 16))
    assert keep is not None
    assert set(keep.unique().tolist()) == {0.0, 1.0} and (keep.sum(1) >= 1).all()
    assert 0.3 < 1 - keep.mean().item() < 0.6  # about half dropped, never all of a window's
    out = model(x)
    # a dropped modality's time-pooled embedding is exactly zero
    zero_rows = (out.modality_embeddings.abs().sum(-1) == 0).float().mean().item()
    assert 0.3 < zero_rows < 0.6
    model.eval()
    a, b = model(x).scores, model(x).scores
    assert torch.equal(a, b) and (model(x).modality_embeddings.abs().sum(-1) > 0).all()
    # off (the thesis default): identical to the model without the option
    torch.manual_seed(1)
    plain = tiny(dropout=0.0).train()
    torch.manual_seed(1)
    off = tiny(modality_dropout=0.0, dropout=0.0).train()
    assert torch.equal(plain(x).scores, off(x).scores)
    with pytest.raises(ConfigError, match="modality_dropout"):
        ModelConfig(modality_dropout=1.0)
