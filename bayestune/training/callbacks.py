"""Hooks into the training loop, the state they see, and the divergence monitor.

The loop calls each hook of each callback at fixed points; a callback can end the run:
raise :class:`TrainingFailed` (recorded FAILED with its message as the reason),
raise :class:`~bayestune.TrialPruned` (recorded PRUNED), or call
:meth:`RunState.request_stop` (the run ends after the current epoch and completes).
Hooks a callback does not override cost nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from bayestune._checks import check_number
from bayestune.exceptions import BayesTuneError

if TYPE_CHECKING:
    from torch.optim.lr_scheduler import LRScheduler

    from bayestune.training.config import TrainingConfig
    from bayestune.trial import Trial

__all__ = ["TrainingFailed", "TrainingDiverged", "RunState", "Callback", "DivergenceMonitor",
           "HOOKS"]


class TrainingFailed(BayesTuneError, RuntimeError):
    """Raised by a callback to end the run as FAILED; the message becomes the reason."""


class TrainingDiverged(TrainingFailed):
    """The training or validation loss became non-finite, or exploded."""


@dataclass
class RunState:
    """What a callback sees of the run in progress (mutable; shared by the callbacks).

    Attributes:
        params: The trial's parameters.
        config: The resolved training settings.
        model: The model being trained (on ``device``).
        optimizer: Its optimizer.
        scheduler: The per-batch lr scheduler, or None.
        device: Where the run computes.
        trial: The trial being evaluated, or None outside a study.
        scaler: The gradient scaler under float16 mixed precision, else None.
        epoch: 0-based index of the epoch in progress; in ``on_epoch_end``, the number of
            epochs completed so far (the step reported to the trial).
        step: Optimizer steps taken so far.
        steps_per_epoch: Batches per epoch when the loader has a length, else None.
        batch_loss: Training loss of the latest batch (a float).
        initial_loss: Training loss of the first batch, before any update.
        train_losses: Mean training loss of each finished epoch.
        val_losses: Validation loss after each finished epoch.
        metrics: Validation metric after each finished epoch (empty without a metric).
        stop_reason: Set by :meth:`request_stop`.
        status: How the run ended (``"complete"``, ``"pruned"`` or ``"failed"``); set
            before ``on_train_end``, None until then.
        reason: Why it was pruned or failed (set with ``status``).
    """

    params: Mapping[str, Any]
    config: TrainingConfig
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler | None
    device: torch.device
    trial: Trial | None = None
    scaler: Any = None
    epoch: int = 0
    step: int = 0
    steps_per_epoch: int | None = None
    batch_loss: float = math.nan
    initial_loss: float | None = None
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    metrics: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    status: str | None = None
    reason: str | None = None

    def request_stop(self, reason: str) -> None:
        """End the run after the current epoch; it completes with its latest value."""
        self.stop_reason = reason


class Callback:
    """Base class of training-loop callbacks: override the hooks you need."""

    def on_train_begin(self, state: RunState) -> None:
        """Once, before the first batch."""

    def on_after_backward(self, state: RunState) -> None:
        """After each backward pass, before the optimizer step: gradients are in the
        parameters' ``.grad`` (already unscaled under mixed precision)."""

    def on_batch_end(self, state: RunState) -> None:
        """After each optimizer step; ``state.batch_loss`` holds the batch's loss."""

    def on_validation_batch(self, state: RunState, outputs: Any, targets: Any) -> None:
        """After each validation batch's forward pass (under ``torch.no_grad``), with the
        model's outputs and the batch's targets, on the device."""

    def on_epoch_end(self, state: RunState) -> None:
        """After each epoch's validation, before the value is reported to the trial."""

    def on_train_end(self, state: RunState) -> None:
        """Once, when the run ends (completed, pruned or failed), not after a crash."""


HOOKS: tuple[str, ...] = ("on_train_begin", "on_after_backward", "on_batch_end",
                          "on_validation_batch", "on_epoch_end", "on_train_end")


def overriding(callbacks: tuple[Callback, ...], hook: str) -> tuple[Callback, ...]:
    """The callbacks that override ``hook`` (the loop calls only those)."""
    base = getattr(Callback, hook)
    return tuple(cb for cb in callbacks if getattr(type(cb), hook, base) is not base)


class DivergenceMonitor(Callback):
    """Stops a run whose loss explodes: "lr too large: the loss explodes or becomes NaN".

    A run diverges when a batch's training loss is not finite, when it exceeds
    ``factor`` times the first batch's loss (only when that loss is positive), or when
    the validation loss is not finite.

    Args:
        factor: The explosion threshold relative to the initial loss; None checks for
            non-finite losses only.
    """

    def __init__(self, factor: float | None = 10.0) -> None:
        self.factor = check_number("divergence factor", factor, low=1, strict_low=True,
                                   finite=False, none=True)

    def on_batch_end(self, state: RunState) -> None:
        v = state.batch_loss
        if not math.isfinite(v):
            raise TrainingDiverged(
                f"diverged: training loss {v} at epoch {state.epoch + 1}, step {state.step}")
        ref = state.initial_loss
        if self.factor is not None and ref is not None and ref > 0 and v > self.factor * ref:
            raise TrainingDiverged(
                f"diverged: training loss {v:.4g} at epoch {state.epoch + 1}, step "
                f"{state.step} exceeds {self.factor:g} x the initial loss {ref:.4g}")

    def on_epoch_end(self, state: RunState) -> None:
        if state.val_losses and not math.isfinite(state.val_losses[-1]):
            raise TrainingDiverged(
                f"diverged: validation loss {state.val_losses[-1]} after epoch {state.epoch}")
