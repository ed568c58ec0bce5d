"""tfqa bench train times AMP wherever training's ``amp: auto`` would use it."""

from __future__ import annotations

import pytest

from tfqa.bench.train import default_cases


@pytest.mark.parametrize("native_bf16", [True, False])
def test_amp_cases_follow_what_training_would_use_on_a_cpu(monkeypatch, native_bf16):
    import tfqa.training.amp as amp

    monkeypatch.setattr(amp, "cpu_has_native_bf16", lambda: native_bf16)
    cases = default_cases(["standard"], n_clips=10, n_frames=8, steps=1, device="cpu", threads=1)
    assert len(cases) == (8 if native_bf16 else 4)  # PCA x checkpointing (x AMP)
    assert {c.amp for c in cases} == ({False, True} if native_bf16 else {False})
