from __future__ import annotations

import numpy as np
import torch

from tfqa.training import amp
from tfqa.training.memory import MemoryProfiler


def test_cpu_without_native_bf16_keeps_amp_off_and_says_why(monkeypatch):
    monkeypatch.setattr(amp, "cpu_has_native_bf16", lambda: False)
    plan = amp.resolve_amp("auto", torch.device("cpu"))
    assert not plan.enabled and "no native bf16" in plan.reason and "50x slower" in plan.reason
    forced = amp.resolve_amp("bf16", torch.device("cpu"))
    assert forced.dtype == torch.bfloat16 and "warning" in forced.reason
    monkeypatch.setattr(amp, "cpu_has_native_bf16", lambda: True)
    assert amp.resolve_amp("auto", torch.device("cpu")).dtype == torch.bfloat16
    assert not amp.resolve_amp("off", torch.device("cpu")).enabled


def test_cuda_plans(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    plan = amp.resolve_amp("auto", cuda)
    assert plan.dtype == torch.bfloat16 and not plan.use_scaler
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    plan = amp.resolve_amp("auto", cuda)
    assert plan.dtype == torch.float16 and plan.use_scaler and plan.label == "fp16"


def test_the_real_machine_is_reported():
    plan = amp.resolve_amp("auto", torch.device("cpu"))
    assert plan.enabled == amp.cpu_has_native_bf16()


def test_memory_profiler_sees_a_large_allocation():
    with MemoryProfiler("cpu", trace_python=True) as prof:
        x = np.ones(40_000_000)  # 320 MB
        del x
    rep = prof.report
    assert rep.method in ("rss_hwm", "ru_maxrss")
    assert rep.increase_bytes > 250 * 2**20
    assert rep.python_peak_bytes is not None and rep.python_peak_bytes > 250 * 2**20
    with MemoryProfiler("cpu") as small:
        y = np.ones(1000)
        del y
    if rep.method == "rss_hwm":  # the peak was reset in between
        assert small.report.increase_bytes < 100 * 2**20
    assert "MiB" in str(rep)
