"""The learning-rate range test (Smith, 2017; fastai's ``lr_find``), as a result object.

Train for a few dozen batches while the learning rate grows from tiny to huge, record the
loss at each step, and read off where the loss falls fastest and where it bottoms out.
The smoothed curve is a local linear regression over neighbouring steps, so it follows
the raw loss (no lag, no overshoot at the minimum); a descent counts when it clears the
raw loss's own noise. The model and optimizer come back exactly as they were (a test
checks the weights bit for bit); nothing is printed or drawn (``bayestune.plot`` draws a
result); a progress bar shows when run in a terminal or a notebook.

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
from bayestune._progress import Progress, new_bar, progress_enabled
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

__all__ = ["lr_range_test", "LRRangeResult", "LRSuggestions", "SweepMode", "NoSuggestion",
           "smooth_losses", "suggest"]

logger = logging.getLogger(__name__)

#: ``exp``: geometric steps from ``start_lr`` to ``end_lr`` (fastai); ``linear``: even
#: steps (Smith's original test, for a narrow range).
SweepMode = Literal["exp", "linear"]

#: Why a test gave no suggestion: ``"too_few_steps"`` (the loss diverged within a few
#: steps), ``"no_descent"`` (the loss never fell clearly below its start),
#: ``"rose_from_start"`` (it only rose: the sweep started too high).
NoSuggestion = Literal["too_few_steps", "no_descent", "rose_from_start"]

_MIN_POINTS = 10  # fewer usable points than this give no suggestion
# A descent is clear when the smoothed minimum lies this many noise deviations (robust
# standard deviations of the raw loss around the smoothed curve) below the start level,
# and at least _MIN_DROP of it: noise alone moves a curve smoothed over ~7 points by
# under one deviation, while the 13% fall of plain SGD on a digits MLP is 15-20.
_NOISE_SIGMAS = 3.0
_MIN_DROP = 0.02


@dataclass(frozen=True)
class LRRangeResult:
    """What an LR range test measured and what it suggests.

    Attributes:
        lrs: The learning rate of each step (``n``, increasing).
        losses: The training loss of each step's batch (``n``; the last one may be
            non-finite when the run diverged).
        smoothed_losses: ``losses`` smoothed without lag (a local linear regression over
            about ``1 / smooth`` neighbouring steps, see :func:`smooth_losses`; ``n``;
            nan from a non-finite loss on). The suggestions are read from this curve.
        suggestion_steepest: The lr where the smoothed loss falls fastest (per unit of
            log lr) before its minimum; None when the loss never fell.
        suggestion_min_div10: The lr of the minimum smoothed loss, divided by 10.
        lr_at_min: The lr of the minimum smoothed loss (larger rates make it rise).
        suggested_range: ``(low, high)`` for the lr search: from a decade below the lower
            suggestion up to ``lr_at_min``; None when there are no suggestions.
        diverged_at: The lr at which the test stopped because the loss diverged, else None.
        mode: How the lrs were swept (``"exp"`` or ``"linear"``).
        notes: Why a suggestion is missing or doubtful (empty when all is well).
        no_suggestion: Why there is no suggestion (:data:`NoSuggestion`), None when
            there is one.
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
    no_suggestion: NoSuggestion | None = None

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
                "diverged_at": self.diverged_at, "mode": self.mode, "notes": list(self.notes),
                "no_suggestion": self.no_suggestion}


def lr_schedule(start_lr: float, end_lr: float, num_iter: int, mode: SweepMode) -> np.ndarray:
    """The ``num_iter`` learning rates of the sweep, from ``start_lr`` to ``end_lr``."""
    if mode == "exp":
        return np.geomspace(start_lr, end_lr, num_iter)
    return np.linspace(start_lr, end_lr, num_iter)


def _tricube(d: np.ndarray) -> np.ndarray:
    return np.where(d < 1.0, (1.0 - d ** 3) ** 3, 0.0)


def _local_linear(y: np.ndarray, half: int) -> np.ndarray:
    """Local linear regression of ``y`` (``n``) on the step index, tricube weights over
    ``half`` steps each side (fewer at the ends): ``n`` fitted values.

    A straight line fitted through each neighbourhood follows a slope without the lag of
    a moving average, and levels off at a minimum instead of smearing it over decades.
    """
    n = len(y)
    offsets = np.arange(-half, half + 1)
    idx = np.arange(n)[:, None] + offsets[None, :]  # n x (2 half + 1)
    inside = (idx >= 0) & (idx < n)
    w = _tricube(np.abs(offsets) / (half + 1.0))[None, :] * inside
    yy = y[np.clip(idx, 0, n - 1)]
    xx = np.broadcast_to(offsets.astype(float), w.shape)
    sw = w.sum(axis=1)
    xm = (w * xx).sum(axis=1) / sw
    ym = (w * yy).sum(axis=1) / sw
    dx = xx - xm[:, None]
    var = (w * dx ** 2).sum(axis=1)
    cov = (w * dx * (yy - ym[:, None])).sum(axis=1)
    slope = np.divide(cov, var, out=np.zeros(n), where=var > 1e-12)
    return ym - slope * xm  # the line's value at offset 0


def _start_level(losses: np.ndarray) -> float:
    """The loss before the lr does anything: the median of the first steps."""
    return float(np.median(losses[:max(5, len(losses) // 10)]))


def smooth_losses(losses: np.ndarray, weight: float) -> np.ndarray:
    """The loss curve smoothed without lag: a local linear regression over about
    ``1 / weight`` neighbouring steps (tricube weights; 0.1: five steps each side).

    A one-way moving average lags the raw curve by about ``1 / weight`` steps, and a
    forwards-backwards one smears a sharp minimum over decades of lr (it sat at 1.2-1.5
    where the raw loss reached 0.4). A local line follows the data: tests check that it
    stays within the raw loss's band of neighbouring values. Losses above twice the
    starting level (a diverging tail) are capped there first, so that one explosion does
    not pull the minimum before it upwards. Values from the first non-finite loss on are
    nan; ``weight >= 1`` returns the raw losses.
    """
    losses = np.asarray(losses, dtype=float)
    finite = np.isfinite(losses)
    n = int(np.argmin(finite)) if not finite.all() else len(losses)
    out = np.full(len(losses), np.nan)
    half = int(round(0.5 / weight)) if weight < 1.0 else 0
    if half < 1 or n < 3:
        out[:n] = losses[:n]
    else:
        start = _start_level(losses[:n])
        cap = start + abs(start)
        x = np.minimum(losses[:n], cap) if cap > 0 else losses[:n]
        out[:n] = _local_linear(x, half)
    return out


@dataclass(frozen=True)
class LRSuggestions:
    """What a loss curve suggests (:func:`suggest`); the fields of
    :class:`LRRangeResult` of the same names."""

    steepest: float | None
    min_div10: float | None
    lr_at_min: float | None
    suggested_range: tuple[float, float] | None
    notes: tuple[str, ...] = ()
    no_suggestion: NoSuggestion | None = None


def _noise(losses: np.ndarray, smoothed: np.ndarray) -> float:
    """A robust standard deviation of the raw loss around the smoothed curve."""
    r = losses - smoothed
    r = r[np.isfinite(r)]
    return float(1.4826 * np.median(np.abs(r))) if len(r) else 0.0


def suggest(lrs: np.ndarray, smoothed: np.ndarray,
            losses: np.ndarray | None = None) -> LRSuggestions:
    """The suggestions from a smoothed loss curve (``n`` lrs, ``n`` smoothed losses, and
    the ``n`` raw losses, whose noise sets what counts as a descent; without them only
    the 2% floor does). Points past the first non-finite one are ignored.

    A descent is clear when the smoothed minimum lies 3 noise deviations, and at least
    2%, below the starting level (the median of the first tenth of the steps).
    """
    lrs, smoothed = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    finite = np.isfinite(smoothed)
    n = int(np.argmin(finite)) if not finite.all() else len(smoothed)
    if n < _MIN_POINTS:
        return LRSuggestions(None, None, None, None, (
            f"only {n} usable step(s) before the loss diverged: lower start_lr, or raise "
            f"num_iter",), "too_few_steps")
    lrs, sm = lrs[:n], smoothed[:n]
    raw = sm if losses is None else np.asarray(losses, dtype=float)[:n]
    start = _start_level(raw)
    threshold = max(_NOISE_SIGMAS * _noise(raw, sm), _MIN_DROP * abs(start))
    i_min = int(np.argmin(sm))
    head = max(5, n // 10)  # the steps that set the start level
    if not (sm[i_min] < start - threshold and i_min >= head):
        if sm[n // 2] > start + threshold:  # half-way up already: it only rose
            return LRSuggestions(None, None, None, None, (
                "the loss rose from the start without falling: lower start_lr",),
                "rose_from_start")
        return LRSuggestions(None, None, None, None, (
            f"the smoothed loss never fell clearly below its start ({start:.4g}; by more "
            f"than {threshold:.2g}, 3x the loss's noise or 2%): raise end_lr or num_iter",),
            "no_descent")
    lr_min = float(lrs[i_min])
    notes: list[str] = []
    steepest = None
    skip = max(1, n // 20)  # the first fits rest on a one-sided handful of batches
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
    return LRSuggestions(steepest, min_div10, lr_min, rng, tuple(notes))


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
    smooth: float = 0.1,
    diverge_factor: float | None = 4.0,
    device: DeviceLike | None = "auto",
    *,
    batch_fn: BatchFn | None = None,
    batch_size: int = 64,
    seed: int | None = 0,
    progress: Progress = "auto",
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
        smooth: The smoothing strength in ``(0, 1]``: the smoothed curve is a local
            line through about ``1 / smooth`` neighbouring steps (0.1: five each side);
            1 disables smoothing. The running average that stops the test weighs each
            new loss by ``smooth``.
        diverge_factor: Stop once the running (one-way, bias-corrected) average of the
            loss exceeds this multiple of its minimum (None: only a non-finite loss
            stops the test).
        device: Where to run (``"auto"``: CUDA, else MPS, else CPU); None runs where the
            model is.
        batch_fn: Splits a batch into ``(inputs, targets)``; default handles tuples,
            lists and dicts (see :func:`bayestune.training.unpack_batch`).
        batch_size: Batch size when the data are a ``Dataset`` or tensors.
        seed: Seeds dropout and the data order, in a forked random state (the caller's
            is untouched). None: unseeded.
        progress: A progress bar over the steps (lr and loss shown): ``"auto"`` in a
            terminal or a notebook only, True, or False.

    Returns:
        An :class:`LRRangeResult`.

    Raises:
        InvalidValueError: for a bad argument, or data that yield no batch.
    """
    _check_args(start_lr, end_lr, num_iter, mode, smooth, diverge_factor)
    show = progress_enabled(progress)
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
    bar = new_bar(num_iter, "lr range test", "step") if show else None
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
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(lr=f"{lr:.2e}", loss=f"{value:.4g}", refresh=False)
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
        if bar is not None:
            bar.close()
        if run_device != home:
            model.to(home)
        model.load_state_dict(saved_model)
        opt.load_state_dict(saved_opt)
        for p, g in zip(model.parameters(), saved_grads, strict=True):
            p.grad = g
        model.train(was_training)
    smoothed = smooth_losses(np.array(losses), float(smooth))
    found = suggest(np.array(tried), smoothed, np.array(losses))
    logger.debug("lr range test: %d steps, diverged at %s, suggestions steepest=%s "
                 "min/10=%s range=%s (%s)", len(tried), diverged_at, found.steepest,
                 found.min_div10, found.suggested_range, found.no_suggestion or "found")
    return LRRangeResult(
        lrs=tuple(tried), losses=tuple(losses), smoothed_losses=tuple(smoothed.tolist()),
        suggestion_steepest=found.steepest, suggestion_min_div10=found.min_div10,
        lr_at_min=found.lr_at_min, suggested_range=found.suggested_range,
        diverged_at=diverged_at, mode=mode, notes=found.notes,
        no_suggestion=found.no_suggestion,
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
