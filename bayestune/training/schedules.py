"""Learning-rate schedules, stepped once per batch: warm-up, then constant, cosine,
linear or step decay, or Smith's one-cycle policy."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, get_args

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

from bayestune.exceptions import InvalidValueError

__all__ = ["ScheduleName", "SCHEDULES", "ScheduleFn", "Schedule", "lr_multiplier",
           "parse_schedule", "build_schedule"]

#: ``constant``: the lr throughout (after any warm-up); ``cosine``: cosine annealing to 0
#: (Loshchilov and Hutter, SGDR); ``linear``: linear decay to 0; ``step``: divide by 10 at
#: 50% and 75% of training (the ResNet recipe); ``onecycle``: Smith's one-cycle policy
#: (up to the lr, then down far below it), lr only (momentum and betas stay as tuned).
ScheduleName = Literal["constant", "cosine", "linear", "step", "onecycle"]
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)

#: A schedule of your own: ``(optimizer, total_steps) -> scheduler``, stepped per batch.
ScheduleFn = Callable[[torch.optim.Optimizer, int], LRScheduler]
Schedule = ScheduleName | ScheduleFn | None

_STEP_MILESTONES = (0.5, 0.75)
_STEP_GAMMA = 0.1


def parse_schedule(schedule: Any) -> Schedule:
    """The canonical schedule: a name from :data:`SCHEDULES`, a callable, or None.

    Raises:
        InvalidValueError: naming the value, for anything else.
    """
    if schedule is None or callable(schedule):
        return schedule
    if isinstance(schedule, str) and schedule.lower() in SCHEDULES:
        return schedule.lower()  # type: ignore[return-value]
    raise InvalidValueError(
        f"schedule must be one of {SCHEDULES}, a callable (optimizer, total_steps) -> "
        f"scheduler, or None; got schedule={schedule!r}"
    )


def lr_multiplier(kind: str, step: int, total_steps: int, warmup_steps: int = 0) -> float:
    """The factor applied to the base lr at 0-based ``step`` of ``total_steps``.

    A linear warm-up from ``1 / warmup_steps`` to 1 over the first ``warmup_steps`` steps
    (Goyal et al., 2017), then the named decay over the remaining steps.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    t = min(t, 1.0)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if kind == "linear":
        return 1.0 - t
    if kind == "step":
        return _STEP_GAMMA ** sum(t >= m for m in _STEP_MILESTONES)
    return 1.0


class _Multiplier:
    """A picklable ``step -> factor`` for ``LambdaLR``."""

    def __init__(self, kind: str, total_steps: int, warmup_steps: int) -> None:
        self.kind, self.total_steps, self.warmup_steps = kind, total_steps, warmup_steps

    def __call__(self, step: int) -> float:
        return lr_multiplier(self.kind, step, self.total_steps, self.warmup_steps)


def build_schedule(
    schedule: Schedule,
    optimizer: torch.optim.Optimizer,
    *,
    total_steps: int | None,
    warmup_steps: int = 0,
) -> LRScheduler | None:
    """The per-batch scheduler for ``schedule``, or None when the lr stays constant.

    Args:
        schedule: A name from :data:`SCHEDULES`, a callable, or None (constant).
        optimizer: The optimizer whose lr it drives (its current lr is the peak).
        total_steps: Batches in the whole run (None when the loader has no length).
        warmup_steps: Batches of linear warm-up (for ``onecycle``: the rising phase).

    Raises:
        InvalidValueError: when a decaying schedule or a warm-up is asked for and
            ``total_steps`` is unknown.
    """
    schedule = parse_schedule(schedule)
    if schedule is None or (schedule == "constant" and warmup_steps == 0):
        return None
    if total_steps is None:
        raise InvalidValueError(
            f"schedule={schedule!r} (warm-up {warmup_steps} steps) needs the number of "
            f"batches per epoch, but the training loader has no len()"
        )
    if callable(schedule):
        return schedule(optimizer, total_steps)
    warmup_steps = min(warmup_steps, total_steps)
    if schedule == "onecycle":
        pct = warmup_steps / total_steps if warmup_steps else 0.3
        return OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                          total_steps=max(total_steps, 2), pct_start=min(max(pct, 1e-3), 0.999),
                          cycle_momentum=False)
    return LambdaLR(optimizer, _Multiplier(schedule, total_steps, warmup_steps))
