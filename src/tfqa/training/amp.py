"""Choosing automatic mixed precision (``torch.amp``) for a device.

* CUDA: bf16 autocast when the GPU supports it (no loss scaling needed),
  else fp16 autocast with ``torch.amp.GradScaler`` (dynamic loss scaling,
  initial scale 2^16, growth factor 2.0 — SPEC §2.4).
* CPU: bf16 autocast only where the CPU has native bf16
  (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``).  Without it (AVX2-only
  CPUs such as our 2-core build machine) one fwd+bwd step of the 6-layer
  encoder was measured at 161 s against 3.3 s in fp32, ~50x slower, so
  ``auto`` keeps AMP off there and says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tfqa.errors import ConfigError

CPU_BF16_SLOWDOWN = "bf16 autocast was measured ~50x slower than fp32 on such CPUs"


@dataclass(frozen=True)
class AmpPlan:
    """What autocast does: ``dtype`` None = fp32; ``use_scaler`` for fp16."""

    dtype: torch.dtype | None
    use_scaler: bool
    reason: str

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    @property
    def label(self) -> str:
        return {None: "off", torch.float16: "fp16", torch.bfloat16: "bf16"}[self.dtype]


def cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_amp(mode: str, device: torch.device) -> AmpPlan:
    """Pick the autocast dtype for ``mode`` (``auto``/``off``/``fp16``/``bf16``) on ``device``."""
    if mode == "off":
        return AmpPlan(None, False, "AMP off (config)")
    if device.type == "cuda":
        if mode == "auto":
            mode = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if mode == "bf16":
            return AmpPlan(torch.bfloat16, False, "AMP bf16 autocast on CUDA")
        return AmpPlan(torch.float16, True, "AMP fp16 autocast + GradScaler on CUDA")
    if device.type != "cpu":
        if mode == "auto":
            return AmpPlan(None, False, f"AMP off: not supported here on {device.type}")
        raise ConfigError(f"AMP {mode} is not supported on {device.type}")
    native = cpu_has_native_bf16()
    if mode == "auto":
        if native:
            return AmpPlan(torch.bfloat16, False, "AMP bf16 autocast (this CPU has native bf16)")
        return AmpPlan(
            None,
            False,
            "AMP off: this CPU has no native bf16 "
            f"(torch.ops.mkldnn._is_mkldnn_bf16_supported() is False) and {CPU_BF16_SLOWDOWN}",
        )
    if mode == "bf16":
        note = "" if native else f" (warning: no native bf16 on this CPU; {CPU_BF16_SLOWDOWN})"
        return AmpPlan(torch.bfloat16, False, "AMP bf16 autocast on CPU" + note)
    return AmpPlan(torch.float16, True, "AMP fp16 autocast + GradScaler on CPU")
