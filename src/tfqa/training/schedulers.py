"""Learning-rate schedules: ``AdaptiveCosineAnnealingLR`` and ``MultiTaskLRScheduler`` (SPEC §2.4).

Both are ``torch.optim.lr_scheduler.LRScheduler`` subclasses stepped once per
optimizer step.  The learning rate is a pure function of the step and the
*cycle state* (:class:`CosineCycle`: where the current cosine cycle began and
how long it is) — :func:`cosine_factor` — so it can be tested value by value
and is restored exactly from a checkpoint.

Adaptive cycles: cosine annealing with warm restarts (SGDR, Loshchilov &
Hutter 2017) whose *next* cycle is ``stretch`` times longer whenever the
monitored metric has not improved for ``stall_patience`` observations — a
stalled run anneals more slowly instead of restarting at full rate again
soon.  The current cycle is never changed mid-way, so the lr curve stays
continuous.

``MultiTaskLRScheduler`` keeps one cycle per parameter group and routes each
task's own validation metric to its head's group, so each task head follows
its own curve (base lr x the task's ``head_lr`` multiplier, cycles stretched
when *that* task stalls); the shared trunk follows the mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


def cosine_factor(
    step: int, *, start: int, length: int, warmup_steps: int = 0, min_ratio: float = 0.0
) -> float:
    """The lr multiplier at ``step`` inside the cycle ``[start, start + length)``.

    Linear warm-up ``(step + 1) / warmup_steps`` before ``warmup_steps``; then
    ``min_ratio + (1 - min_ratio) * (1 + cos(pi * (step - start) / length)) / 2``.

    Example:
        >>> cosine_factor(5, start=0, length=10)
        0.5
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    t = min(max(step - start, 0), length) / length
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


@dataclass
class CosineCycle:
    """The state of one adaptive cosine schedule (all plain numbers: checkpoint-safe)."""

    start: int
    length: int
    next_length: int
    best: float = math.inf
    stalls: int = 0

    def advance(self, step: int) -> None:
        """Roll over to the next cycle(s) once ``step`` has passed the current one."""
        while step >= self.start + self.length:
            self.start += self.length
            self.length = self.next_length

    def observe(self, value: float, *, patience: int, stretch: float, mode: str = "min") -> bool:
        """Record a metric; after ``patience`` non-improving values, lengthen the next cycle.

        Returns:
            True when this observation stretched the next cycle.
        """
        score = value if mode == "min" else -value
        if math.isfinite(score) and self.best - score > 1e-12 * max(1.0, abs(score)):
            self.best, self.stalls = score, 0
            return False
        self.stalls += 1
        if self.stalls < patience:
            return False
        self.next_length = math.ceil(self.next_length * stretch)
        self.stalls = 0
        return True


class AdaptiveCosineAnnealingLR(LRScheduler):
    """Cosine annealing with warm restarts whose cycles lengthen when the metric stalls.

    Args:
        optimizer: the optimizer; every group's lr is ``initial_lr x factor``.
        cycle_steps: length of the first cycle (optimizer steps).
        warmup_steps: linear warm-up before the first cycle.
        min_lr_ratio: the lr at a cycle's end, relative to the group's base lr.
        stretch: factor applied to the next cycle's length on a stall.
        stall_patience: non-improving :meth:`observe` calls that make a stall.
        mode: ``"min"`` (a loss) or ``"max"`` (a correlation) for the metric.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        cycle_steps: int,
        *,
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.0,
        stretch: float = 1.5,
        stall_patience: int = 2,
        mode: str = "min",
        last_epoch: int = -1,
    ) -> None:
        if cycle_steps <= 0:
            raise ValueError(f"Expected `cycle_steps` > 0, but got {cycle_steps}")
        self.warmup_steps, self.min_lr_ratio = warmup_steps, min_lr_ratio
        self.stretch, self.stall_patience, self.mode = stretch, stall_patience, mode
        self.cycles = [
            CosineCycle(warmup_steps, cycle_steps, cycle_steps) for _ in optimizer.param_groups
        ]
        super().__init__(optimizer, last_epoch)

    def factor(self, group: int) -> float:
        """The current lr multiplier of parameter group ``group``."""
        cycle = self.cycles[group]
        cycle.advance(self.last_epoch)
        return cosine_factor(
            self.last_epoch,
            start=cycle.start,
            length=cycle.length,
            warmup_steps=self.warmup_steps,
            min_ratio=self.min_lr_ratio,
        )

    def get_lr(self) -> list[float]:
        return [base * self.factor(i) for i, base in enumerate(self.base_lrs)]

    def observe(self, metric: float) -> bool:
        """Feed the monitored metric (once per epoch); True if a cycle was stretched."""
        hits = [
            c.observe(metric, patience=self.stall_patience, stretch=self.stretch, mode=self.mode)
            for c in self.cycles
        ]
        return any(hits)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["cycles"] = [asdict(c) for c in self.cycles]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        self.cycles = [CosineCycle(**c) for c in state.pop("cycles")]
        super().load_state_dict(state)


class MultiTaskLRScheduler(AdaptiveCosineAnnealingLR):
    """One adaptive cosine curve per parameter group, driven by that group's own task metric.

    Parameter groups carry a ``"task"`` key (a task name, or ``None`` for the
    shared trunk and the loss-weighting parameters).  Per-task head learning
    rates come from the groups' own base lrs (``lr x head_lr[task]``).
    """

    def observe(self, metric: float | Mapping[str, float]) -> bool:  # type: ignore[override]
        """Feed ``{"mean": m, task: m_task, ...}`` (or one number for every group)."""
        if not isinstance(metric, Mapping):
            return super().observe(metric)
        stretched = False
        for group, cycle in zip(self.optimizer.param_groups, self.cycles, strict=True):
            value = metric.get(group.get("task") or "mean", metric["mean"])
            stretched |= cycle.observe(
                value, patience=self.stall_patience, stretch=self.stretch, mode=self.mode
            )
        return stretched
