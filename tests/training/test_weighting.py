"""Task weighting against hand-computed steps on a 2-task toy.

Toy: x = [1, 2], shared layer h = W x with W = [[0.5, 0.25]] (so h = 1), heads
y1 = 2h, y2 = -h, targets t = [0, 1]:  y = [2, -1], L_k = (y_k - t_k)^2 = [4, 4],
dL1/dW = 2(y1 - t1)·2·x = [8, 16],  dL2/dW = 2(y2 - t2)·(-1)·x = [4, 8].
"""

from __future__ import annotations

import math

import pytest
import torch

from tfqa.training.config import LossConfig
from tfqa.training.weighting import (
    FixedWeighting,
    GradNormWeighting,
    UncertaintyWeighting,
    create_weighting,
)


def toy():
    w = torch.nn.Parameter(torch.tensor([[0.5, 0.25]]))
    h = (w @ torch.tensor([1.0, 2.0])).squeeze()
    y = torch.stack([2 * h, -h])
    losses = (y - torch.tensor([0.0, 1.0])) ** 2
    return w, losses


def test_toy_is_what_the_docstring_says():
    w, losses = toy()
    assert losses.tolist() == [4.0, 4.0]
    (g1,) = torch.autograd.grad(losses[0], w, retain_graph=True)
    (g2,) = torch.autograd.grad(losses[1], w)
    assert g1.tolist() == [[8.0, 16.0]] and g2.tolist() == [[4.0, 8.0]]


def test_fixed():
    w, losses = toy()
    total = FixedWeighting([1000.0, 1.0])(losses)
    assert float(total.detach()) == 4004.0
    total.backward()
    assert w.grad.tolist() == [[8004.0, 16008.0]]


def test_uncertainty_step_by_hand():
    w, losses = toy()
    weighting = UncertaintyWeighting(2)
    with torch.no_grad():
        weighting.log_var.copy_(torch.tensor([0.0, math.log(2.0)]))
    total = weighting(losses)
    # sum_k 0.5 exp(-s_k) L_k + 0.5 s_k = 0.5*4 + 0 + 0.5*0.5*4 + 0.5*ln 2
    assert float(total.detach()) == pytest.approx(3.0 + 0.5 * math.log(2.0), rel=1e-6)
    total.backward()
    # d/ds_k = -0.5 exp(-s_k) L_k + 0.5 = [-1.5, -0.5];  d/dW = 0.5*[8,16] + 0.25*[4,8]
    assert weighting.log_var.grad.tolist() == pytest.approx([-1.5, -0.5])
    assert w.grad.tolist() == [[5.0, 10.0]]
    torch.optim.SGD(weighting.parameters(), lr=0.1).step()
    assert weighting.log_var.tolist() == pytest.approx([0.15, math.log(2.0) + 0.05], rel=1e-6)


def test_gradnorm_step_by_hand():
    w, losses = toy()
    gn = GradNormWeighting(2, alpha=1.5)
    with torch.no_grad():
        gn.w.copy_(torch.tensor([1.2, 0.8]))
        gn.initial_losses.copy_(torch.tensor([2.0, 8.0]))
    total = gn(losses)
    assert float(total.detach()) == pytest.approx(1.2 * 4 + 0.8 * 4)
    gn.balance(losses, w)
    # by hand: g = ||dL_k/dW|| = [8 sqrt5, 4 sqrt5]; G = w * g; Gbar = mean G
    g = [8 * math.sqrt(5), 4 * math.sqrt(5)]
    G = [1.2 * g[0], 0.8 * g[1]]
    gbar = (G[0] + G[1]) / 2
    ratio = [4 / 2, 4 / 8]
    r = [x / (sum(ratio) / 2) for x in ratio]  # [1.6, 0.4]
    target = [gbar * r[0] ** 1.5, gbar * r[1] ** 1.5]
    expect_grad = [math.copysign(g[k], G[k] - target[k]) for k in range(2)]  # [-g1, +g2]
    assert gn.w.grad.tolist() == pytest.approx(expect_grad, rel=1e-5)
    assert gn.last_gradnorm_loss == pytest.approx(
        abs(G[0] - target[0]) + abs(G[1] - target[1]), rel=1e-5
    )
    torch.optim.SGD([gn.w], lr=0.01).step()
    gn.after_step()
    stepped = [1.2 - 0.01 * expect_grad[0], 0.8 - 0.01 * expect_grad[1]]
    renorm = [x * 2 / sum(stepped) for x in stepped]
    assert gn.w.tolist() == pytest.approx(renorm, rel=1e-5)
    assert float(gn.w.detach().sum()) == pytest.approx(2.0)
    # the task loss itself does not move the weights (they only learn from L_grad)
    gn.w.grad = None
    gn(losses).backward()
    assert gn.w.grad is None


def test_gradnorm_records_initial_losses_and_scales_with_amp():
    w, losses = toy()
    gn = GradNormWeighting(2)
    gn(losses)
    assert gn.initial_losses.tolist() == [4.0, 4.0]
    gn.balance(losses, w, weight=0.5, loss_scale=1024.0)
    plain = GradNormWeighting(2)
    plain(losses)
    plain.balance(losses, w)
    # w.grad stays loss-scaled like every other gradient (GradScaler.unscale_ divides it)
    assert (gn.w.grad / 1024.0).tolist() == pytest.approx((0.5 * plain.w.grad).tolist())


def test_factory():
    tasks = ("lip_sync", "expression", "audio_quality", "cross_modal", "overall")
    assert isinstance(create_weighting(LossConfig(weighting="gradnorm"), tasks), GradNormWeighting)
    fixed = create_weighting(LossConfig(), tasks)
    assert fixed.weights().tolist() == [1000.0, 1.0, 1.0, 1.0, 1.0]
