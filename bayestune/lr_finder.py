"""The learning-rate range test (Smith, 2017; fastai's ``lr_find``), as a result object.

Train for a few dozen batches while the learning rate grows from tiny to huge, record the
loss at each step, and read off where the loss falls fastest and where it bottoms out.
The model and optimizer come back exactly as they were (a test checks the weights bit
for bit); nothing is printed or drawn (``bayestune.plot`` draws a result).

Example::

    result = bt.lr_range_test(model, train_loader, nn.CrossEntropyLoss(), optimizer="adam")
    space = bt.presets.deep_learning_space("adam").with_bounds("lr", *result.suggested_range)
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from bayestune._checks import check_int, check_option, is_finite_number
from bayestune.exceptions import InvalidValueError
from bayestune.training._snapshot import model_device, snapshot
from bayestune.training.data import (
    BatchFn,
    forward,
    make_loader,
    to_device,
    unpack_batch,
)
from bayestune.training.device import DeviceLike, resolve_device, seeded
from bayestune.training.optimizers import OptimizerName, build_optimizer

__all__ = ["lr_range_test", "LRRangeResult", "SweepMode", "smooth_losses", "suggest"]

logger = logging.getLogger(__name__)

#: ``exp``: geometric steps from ``start_lr`` to ``end_lr`` (fastai); ``linear``: even
#: steps (Smith's original test, for a narrow range).
SweepMode = Literal["exp", "linear"]

_MIN_POINTS = 10  # fewer usable points than this give no suggestion
_MIN_DROP = 0.1  # a smoothed loss that never falls this far below its start gives none


@dataclass(frozen=True)
class LRRangeResult:
    """What an LR range test measured and what it suggests.

    Attributes:
        lrs: The learning rate of each step (``n``, increasing).
        losses: The training loss of each step's batch (``n``; the last one may be
            non-finite when the run diverged).
        smoothed_losses: ``losses`` smoothed without lag (a moving average run forwards
            and then backwards; ``n``; nan from a non-finite loss on). The suggestions
            are read from this curve.
        suggestion_steepest: The lr where the smoothed loss falls fastest (per unit of
            log lr) before its minimum; None when the loss never fell.
        suggestion_min_div10: The lr of the minimum smoothed loss, divided by 10.
        lr_at_min: The lr of the minimum smoothed loss (larger rates make it rise).
        suggested_range: ``(low, high)`` for the lr search: from a decade below the lower
            suggestion up to ``lr_at_min``; None when there are no suggestions.
        diverged_at: The lr at which the test stopped because the loss diverged, else None.
        mode: How the lrs were swept (``"exp"`` or ``"linear"``).
        notes: Why a suggestion is missing or doubtful (empty when all is well).
    """

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed_losses: tuple[float, ...]
    suggestion_steepest: float | None
    suggestion_min_div10: float | None
    lr_at_min: float | None
    suggested_range: tuple[float, float] | None
    diverged_at: float | None
    mode: SweepMode
    notes: tuple[str, ...] = ()

    @property
    def suggestions(self) -> dict[str, float]:
        """Rule name -> suggested lr (the rules that gave one)."""
        out = {"steepest": self.suggestion_steepest, "min_div10": self.suggestion_min_div10}
        return {k: v for k, v in out.items() if v is not None}

    @property
    def num_iter(self) -> int:
        """Steps actually run (fewer than asked when the loss diverged)."""
        return len(self.lrs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite losses as None)."""
        def clean(xs: tuple[float, ...]) -> list[float | None]:
            return [x if math.isfinite(x) else None for x in xs]

        return {"lrs": list(self.lrs), "losses": clean(self.losses),
                "smoothed_losses": clean(self.smoothed_losses),
                "suggestion_steepest": self.suggestion_steepest,
                "suggestion_min_div10": self.suggestion_min_div10,
                "lr_at_min": self.lr_at_min,
                "suggested_range": list(self.suggested_range) if self.suggested_range else None,
                "diverged_at": self.diverged_at, "mode": self.mode, "notes": list(self.notes)}


def lr_schedule(start_lr: float, end_lr: float, num_iter: int, mode: SweepMode) -> np.ndarray:
    """The ``num_iter`` learning rates of the sweep, from ``start_lr`` to ``end_lr``."""
    if mode == "exp":
        return np.geomspace(start_lr, end_lr, num_iter)
    return np.linspace(start_lr, end_lr, num_iter)


def _ema(x: np.ndarray, weight: float) -> np.ndarray:
    """The bias-corrected exponential moving average of ``x`` (weight on each new value)."""
    out = np.empty(len(x))
    beta, avg = 1.0 - weight, 0.0
    for i, v in enumerate(x):
        avg = beta * avg + weight * v
        out[i] = avg / (1.0 - beta ** (i + 1)) if beta > 0 else v
    return out


def smooth_losses(losses: np.ndarray, weight: float) -> np.ndarray:
    """Zero-lag smoothing: the moving average run forwards, then backwards over the result.

    A one-way average lags the raw curve by about ``1 / weight`` steps (more than a
    decade of lr in a 100-step sweep), which drags every suggestion towards larger
    rates; averaging both ways cancels the lag. Values from the first non-finite loss
    on are nan.
    """
    losses = np.asarray(losses, dtype=float)
    finite = np.isfinite(losses)
    n = int(np.argmin(finite)) if not finite.all() else len(losses)
    out = np.full(len(losses), np.nan)
    if weight >= 1.0:
        out[:n] = losses[:n]
    elif n:
        # Losses above the starting level are clipped to it first: the backward pass
        # would otherwise carry an exploding tail far into the minimum it precedes.
        start = float(np.median(losses[:max(3, n // 20)]))
        x = np.minimum(losses[:n], start) if start > 0 else losses[:n]
        out[:n] = _ema(_ema(x, weight)[::-1], weight)[::-1]
    return out


def suggest(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[
        float | None, float | None, float | None, tuple[float, float] | None, tuple[str, ...]]:
    """The suggestions from a smoothed loss curve: ``(steepest, min_div10, lr_at_min,
    range, notes)``. Points past the first non-finite one are ignored."""
    finite = np.isfinite(smoothed)
    n = int(np.argmin(finite)) if not finite.all() else len(smoothed)
    if n < _MIN_POINTS:
        return None, None, None, None, (
            f"only {n} usable step(s) before the loss diverged: lower start_lr, or raise "
            f"num_iter",)
    lrs, sm = lrs[:n], smoothed[:n]
    i_min = int(np.argmin(sm))
    if not sm[i_min] < (1.0 - _MIN_DROP) * sm[0]:
        return None, None, None, None, (
            f"the smoothed loss never fell {_MIN_DROP:.0%} below its start: raise end_lr or "
            f"num_iter (or lower start_lr if the loss rose from the start)",)
    lr_min = float(lrs[i_min])
    notes: list[str] = []
    steepest = None
    skip = max(1, n // 20)  # the first averages rest on a handful of batches
    if i_min - skip >= 2:
        slope = np.gradient(sm[:i_min + 1], np.log(lrs[:i_min + 1]))
        steepest = float(lrs[skip + int(np.argmin(slope[skip:]))])
    else:
        notes.append("the loss did not fall before its minimum: start_lr may be too high")
    if i_min == n - 1:
        notes.append("the loss was still falling at end_lr: raise end_lr")
    min_div10 = lr_min / 10.0
    low = min(min_div10, steepest if steepest is not None else min_div10) / 10.0
    low = max(low, float(lrs[0]))
    rng = (low, lr_min) if low < lr_min else None
    return steepest, min_div10, lr_min, rng, tuple(notes)


def _make_optimizer(optimizer: Any, model: torch.nn.Module, start_lr: float
                    ) -> torch.optim.Optimizer:
    if isinstance(optimizer, torch.optim.Optimizer):
        ids = {id(p) for p in model.parameters()}
        if not any(id(p) in ids for g in optimizer.param_groups for p in g["params"]):
            raise InvalidValueError("the optimizer does not hold the model's parameters")
        return optimizer
    if isinstance(optimizer, str):
        return build_optimizer(optimizer, model.parameters(), lr=start_lr)
    raise InvalidValueError(
        f"optimizer must be an optimizer name or a torch.optim.Optimizer over the model's "
        f"parameters, got {optimizer!r}")


def _check_args(start_lr: Any, end_lr: Any, num_iter: Any, mode: Any, smooth: Any,
                diverge_factor: Any) -> None:
    if not (is_finite_number(start_lr) and is_finite_number(end_lr) and 0 < start_lr < end_lr):
        raise InvalidValueError(
            f"need 0 < start_lr < end_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    check_int("num_iter", num_iter, low=_MIN_POINTS)
    check_option("mode", mode, SweepMode)
    if not (is_finite_number(smooth) and 0 < smooth <= 1):
        raise InvalidValueError(f"smooth must lie in (0, 1] (1: no smoothing), got {smooth=!r}")
    if diverge_factor is not None and not (is_finite_number(diverge_factor) and diverge_factor > 1):
        raise InvalidValueError(f"diverge_factor must be > 1 or None, got {diverge_factor=!r}")


def lr_range_test(
    model: torch.nn.Module,
    train_loader: Any,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    optimizer: OptimizerName | torch.optim.Optimizer = "adam",
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    mode: SweepMode = "exp",
    smooth: float = 0.05,
    diverge_factor: float | None = 4.0,
    device: DeviceLike | None = "auto",
    *,
    batch_fn: BatchFn | None = None,
    batch_size: int = 64,
    seed: int | None = 0,
) -> LRRangeResult:
    """Run the LR range test and restore the model and optimizer exactly.

    Args:
        model: The model (its weights and buffers come back bit for bit, on their device,
            in their train/eval mode).
        train_loader: A ``DataLoader``, any re-iterable of batches, a ``Dataset`` or
            ``(X, y)`` tensors (batched by ``batch_size``); cycled if shorter than
            ``num_iter``.
        loss_fn: ``(outputs, targets) -> scalar tensor``.
        optimizer: An optimizer name (built with its usual settings) or an optimizer over
            the model's parameters (its state and lrs are restored afterwards).
        start_lr: The first learning rate.
        end_lr: The last learning rate.
        num_iter: Steps of the sweep (one batch each).
        mode: ``"exp"`` (geometric) or ``"linear"`` steps.
        smooth: The moving average's weight on each new loss, in ``(0, 1]``; 1 disables
            smoothing.
        diverge_factor: Stop once the (running, one-way) smoothed loss exceeds this
            multiple of its minimum (None: only a non-finite loss stops the test).
        device: Where to run (``"auto"``: CUDA, else MPS, else CPU); None runs where the
            model is.
        batch_fn: Splits a batch into ``(inputs, targets)``; default handles tuples,
            lists and dicts (see :func:`bayestune.training.unpack_batch`).
        batch_size: Batch size when the data are a ``Dataset`` or tensors.
        seed: Seeds dropout and the data order, in a forked random state (the caller's
            is untouched). None: unseeded.

    Returns:
        An :class:`LRRangeResult`.

    Raises:
        InvalidValueError: for a bad argument, or data that yield no batch.
    """
    _check_args(start_lr, end_lr, num_iter, mode, smooth, diverge_factor)
    if not isinstance(model, torch.nn.Module):
        raise InvalidValueError(f"model must be a torch.nn.Module, got {model!r}")
    batch_fn = batch_fn or unpack_batch
    home = model_device(model)
    run_device = home if device is None else resolve_device(device)
    opt = _make_optimizer(optimizer, model, start_lr)
    saved_model = snapshot(model.state_dict())
    saved_opt = snapshot(opt.state_dict())
    saved_grads = [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    was_training = model.training
    lrs = lr_schedule(float(start_lr), float(end_lr), num_iter, mode)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    loader = make_loader(train_loader, batch_size, shuffle=True, generator=gen,
                         device=run_device)
    tried: list[float] = []
    losses: list[float] = []
    diverged_at = None
    try:
        if run_device != home:
            model.to(run_device)
            opt.load_state_dict(copy.deepcopy(saved_opt))  # moves the state with the params
        model.train()
        beta = 1.0 - float(smooth)
        avg, best = 0.0, math.inf
        with seeded(seed, run_device):
            batches = _cycle(loader)
            for i, lr in enumerate(lrs):
                for group in opt.param_groups:
                    group["lr"] = float(lr)
                inputs, targets = batch_fn(next(batches))
                inputs, targets = to_device(inputs, run_device), to_device(targets, run_device)
                loss = loss_fn(forward(model, inputs), targets)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                value = float(loss.item())
                tried.append(float(lr))
                losses.append(value)
                if not math.isfinite(value):
                    diverged_at = float(lr)
                    break
                avg = beta * avg + (1.0 - beta) * value  # the one-way average stops the test
                s = avg / (1.0 - beta ** (i + 1)) if beta > 0 else value
                best = min(best, s)
                if diverge_factor is not None and best > 0 and s > diverge_factor * best:
                    diverged_at = float(lr)
                    break
    finally:
        if run_device != home:
            model.to(home)
        model.load_state_dict(saved_model)
        opt.load_state_dict(saved_opt)
        for p, g in zip(model.parameters(), saved_grads, strict=True):
            p.grad = g
        model.train(was_training)
    smoothed = smooth_losses(np.array(losses), float(smooth))
    steep, div10, lr_min, rng, notes = suggest(np.array(tried), smoothed)
    logger.debug("lr range test: %d steps, diverged at %s, suggestions steepest=%s "
                 "min/10=%s range=%s", len(tried), diverged_at, steep, div10, rng)
    return LRRangeResult(
        lrs=tuple(tried), losses=tuple(losses), smoothed_losses=tuple(smoothed.tolist()),
        suggestion_steepest=steep, suggestion_min_div10=div10, lr_at_min=lr_min,
        suggested_range=rng, diverged_at=diverged_at, mode=mode, notes=notes,
    )


def _cycle(loader: Any) -> Any:
    """Batches of ``loader``, starting over when it runs out."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise InvalidValueError("the training data yielded no batches")
