from __future__ import annotations

import math

import pytest
import torch

from tfqa.training.schedulers import (
    AdaptiveCosineAnnealingLR,
    CosineCycle,
    MultiTaskLRScheduler,
    cosine_factor,
)


def test_cosine_factor_values():
    assert cosine_factor(0, start=0, length=10) == 1.0
    assert cosine_factor(5, start=0, length=10) == pytest.approx(0.5)
    assert cosine_factor(10, start=0, length=10) == pytest.approx(0.0)
    assert cosine_factor(5, start=0, length=10, min_ratio=0.1) == pytest.approx(0.55)
    assert [cosine_factor(s, start=4, length=8, warmup_steps=4) for s in range(5)] == [
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
    ]
    assert cosine_factor(6, start=4, length=8) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)


def _opt(n_groups=1, lr=1.0):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(n_groups)]
    return torch.optim.SGD(
        [
            {"params": [p], "lr": lr, "task": t}
            for p, t in zip(params, [None, "lip_sync", "overall"], strict=False)
        ]
    )


def _lrs(opt, sched, n):
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_warm_restarts_and_tested_values():
    opt = _opt()
    sched = AdaptiveCosineAnnealingLR(opt, 4)
    c = (1 + math.cos(math.pi / 4)) / 2
    assert _lrs(opt, sched, 9) == pytest.approx([1, c, 0.5, 1 - c, 1, c, 0.5, 1 - c, 1])


def test_a_stall_lengthens_the_next_cycle_only():
    opt = _opt()
    sched = AdaptiveCosineAnnealingLR(opt, 4, stall_patience=2, stretch=1.5)
    assert _lrs(opt, sched, 2)[1] == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    assert not sched.observe(1.0)  # improvement (from inf)
    assert not sched.observe(1.0)  # stall 1
    assert sched.observe(1.0)  # stall 2: the next cycle becomes ceil(4 * 1.5) = 6 steps
    lrs = _lrs(opt, sched, 9)  # steps 2..10
    assert lrs[0] == pytest.approx(0.5)  # the current cycle is unchanged
    assert lrs[2] == 1.0  # step 4: restart
    assert lrs[5] == pytest.approx(0.5)  # step 7 = 3 of 6
    assert lrs[8] == 1.0  # step 10: the next restart
    assert sched.cycles[0] == CosineCycle(start=10, length=6, next_length=6, best=1.0, stalls=0)


def test_max_mode_and_state_roundtrip():
    opt = _opt()
    sched = AdaptiveCosineAnnealingLR(opt, 5, mode="max", stall_patience=1, warmup_steps=2)
    _lrs(opt, sched, 3)
    sched.observe(0.5)
    assert sched.observe(0.4)  # lower is worse in max mode
    state = sched.state_dict()
    assert torch.load  # plain containers only:
    assert all(isinstance(c, dict) for c in state["cycles"])
    opt2 = _opt()
    sched2 = AdaptiveCosineAnnealingLR(opt2, 5, mode="max", stall_patience=1, warmup_steps=2)
    sched2.load_state_dict(state)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    assert _lrs(opt2, sched2, 8) == pytest.approx(_lrs(opt, sched, 8))


def test_multitask_groups_follow_their_own_metric():
    opt = _opt(3)
    for g, lr in zip(opt.param_groups, (1.0, 0.5, 2.0), strict=True):
        g["lr"] = g["initial_lr"] = lr
    sched = MultiTaskLRScheduler(opt, 4, stall_patience=1, stretch=2.0)
    assert [g["lr"] for g in opt.param_groups] == [1.0, 0.5, 2.0]  # per-task base lrs
    sched.observe({"mean": 1.0, "lip_sync": 1.0, "overall": 1.0})
    sched.observe({"mean": 0.9, "lip_sync": 1.2, "overall": 0.8})  # only lip_sync stalls
    assert [c.next_length for c in sched.cycles] == [4, 8, 4]
