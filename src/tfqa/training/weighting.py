"""Multi-task loss weighting (SPEC §2.3): fixed, uncertainty (Kendall et al.) and GradNorm (Chen et al.).

Each strategy is an ``nn.Module`` that turns the per-task losses ``L (K,)``
into the scalar training loss; learned weights are its parameters, optimised
with the model.  :func:`create_weighting` is the factory over
:data:`WEIGHTINGS`.

* **fixed** — ``Σ w_k L_k`` with given weights (thesis: lip_sync 1000, others
  1, because lip-sync labels had a tiny variance in its data).
* **uncertainty** — Kendall, Gal & Cipolla (CVPR 2018), regression form with a
  learned ``s_k = log σ_k²``: ``Σ ½·exp(−s_k)·L_k + ½·s_k``.
* **gradnorm** — Chen et al. (ICML 2018).  The loss is ``Σ w_k L_k`` with
  ``w`` treated as constants; ``w`` is learned from a separate loss on the
  last shared layer ``W``: with ``G_k = ‖∇_W w_k L_k‖₂ = w_k‖∇_W L_k‖₂``,
  ``Ḡ = mean_k G_k``, the inverse training rates ``r_k = L̃_k / mean(L̃)`` with
  ``L̃_k = L_k(t) / L_k(0)``, and targets ``Ḡ·r_k^α`` (held constant),
  ``L_grad = Σ_k |G_k − Ḡ·r_k^α|``.  After each optimizer step the weights
  are renormalised to sum to K.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from tfqa.errors import ConfigError

if TYPE_CHECKING:
    from tfqa.training.config import LossConfig


class TaskWeighting(nn.Module):
    """Base class: ``forward(losses (K,)) -> scalar loss``; hooks for GradNorm."""

    name = "base"

    def __init__(self, n_tasks: int) -> None:
        super().__init__()
        self.n_tasks = n_tasks

    def weights(self) -> torch.Tensor:
        """The current effective weights ``(K,)`` (for logging)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, cfg: LossConfig, tasks: tuple[str, ...]) -> TaskWeighting:
        raise NotImplementedError

    def balance(
        self,
        losses: torch.Tensor,
        shared: torch.Tensor,
        *,
        weight: float = 1.0,
        loss_scale: float = 1.0,
    ) -> None:
        """Accumulate gradients of the weights' own objective (GradNorm only)."""

    def after_step(self) -> None:
        """Called after each optimizer step (GradNorm renormalises)."""


class FixedWeighting(TaskWeighting):
    name = "fixed"

    def __init__(self, weights: list[float]) -> None:
        super().__init__(len(weights))
        self.register_buffer("w", torch.tensor(weights, dtype=torch.float32))

    @classmethod
    def from_config(cls, cfg: LossConfig, tasks: tuple[str, ...]) -> FixedWeighting:
        return cls([cfg.fixed_weights[t] for t in tasks])

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        return (self.w * losses).sum()

    def weights(self) -> torch.Tensor:
        return self.w.detach().clone()


class UncertaintyWeighting(TaskWeighting):
    """``Σ ½·exp(−s_k)·L_k + ½·s_k`` with learned ``s_k = log σ_k²`` (init 0: σ = 1)."""

    name = "uncertainty"

    def __init__(self, n_tasks: int) -> None:
        super().__init__(n_tasks)
        self.log_var = nn.Parameter(torch.zeros(n_tasks))

    @classmethod
    def from_config(cls, cfg: LossConfig, tasks: tuple[str, ...]) -> UncertaintyWeighting:
        return cls(len(tasks))

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        s = self.log_var
        return (0.5 * torch.exp(-s) * losses + 0.5 * s).sum()

    def weights(self) -> torch.Tensor:
        return 0.5 * torch.exp(-self.log_var.detach())


class GradNormWeighting(TaskWeighting):
    """GradNorm (see the module docstring); ``alpha`` sets how hard rates are equalised."""

    name = "gradnorm"

    def __init__(self, n_tasks: int, alpha: float = 1.5) -> None:
        super().__init__(n_tasks)
        self.alpha = alpha
        self.w = nn.Parameter(torch.ones(n_tasks))
        self.register_buffer("initial_losses", torch.full((n_tasks,), float("nan")))
        self.last_gradnorm_loss = float("nan")

    @classmethod
    def from_config(cls, cfg: LossConfig, tasks: tuple[str, ...]) -> GradNormWeighting:
        return cls(len(tasks), cfg.gradnorm_alpha)

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        if torch.isnan(self.initial_losses).any():
            self.initial_losses.copy_(losses.detach().float())
        return (self.w.detach() * losses).sum()

    def weights(self) -> torch.Tensor:
        return self.w.detach().clone()

    def balance(
        self,
        losses: torch.Tensor,
        shared: torch.Tensor,
        *,
        weight: float = 1.0,
        loss_scale: float = 1.0,
    ) -> None:
        """Add ``weight · loss_scale · ∂L_grad/∂w`` to ``w.grad``.

        Call it before the main backward (it keeps the graph).

        Args:
            losses: per-task losses ``(K,)``, still attached to the graph.
            shared: the last shared layer's weight ``W``.
            weight: e.g. 1 / gradient-accumulation steps.
            loss_scale: the AMP ``GradScaler`` scale: the task gradients are
                taken of scaled losses (no fp16 underflow) and unscaled again,
                and ``w.grad`` is left scaled like every other gradient, so
                ``scaler.unscale_`` treats it alike.
        """
        norms = []
        for k in range(self.n_tasks):
            (g,) = torch.autograd.grad(losses[k] * loss_scale, shared, retain_graph=True)
            norms.append(g.float().norm() / loss_scale)
        g_norm = torch.stack(norms)  # ‖∇_W L_k‖
        if not torch.isfinite(g_norm).all():
            return  # an overflowing fp16 step; the scaler skips it too
        grad_norms = self.w * g_norm  # G_k, differentiable in w
        ratio = losses.detach().float() / self.initial_losses
        rate = ratio / ratio.mean()
        target = (grad_norms.mean() * rate**self.alpha).detach()
        gradnorm_loss = (grad_norms - target).abs().sum()
        (dw,) = torch.autograd.grad(gradnorm_loss, self.w)
        dw = dw * (weight * loss_scale)
        self.w.grad = dw if self.w.grad is None else self.w.grad + dw
        self.last_gradnorm_loss = float(gradnorm_loss.detach())

    @torch.no_grad()
    def after_step(self) -> None:
        self.w.clamp_(min=1e-3)
        self.w.mul_(self.n_tasks / self.w.sum())


_REGISTRY: dict[str, type[TaskWeighting]] = {
    c.name: c for c in (FixedWeighting, UncertaintyWeighting, GradNormWeighting)
}
WEIGHTINGS = tuple(_REGISTRY)


def create_weighting(cfg: LossConfig, tasks: tuple[str, ...]) -> TaskWeighting:
    """Build the weighting strategy ``cfg.weighting`` (:data:`WEIGHTINGS`) for ``tasks``."""
    if cfg.weighting not in _REGISTRY:
        raise ConfigError(
            f"unknown weighting `{cfg.weighting}`", hint=f"available: {', '.join(_REGISTRY)}"
        )
    return _REGISTRY[cfg.weighting].from_config(cfg, tasks)
