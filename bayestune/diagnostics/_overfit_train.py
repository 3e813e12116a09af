"""The training loop of :func:`bayestune.diagnostics.overfit_check`: the fixed batches,
the run that tracks gradients and update ratios, and the restorer that puts the model and
optimizer back exactly as they were.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bayestune.exceptions import InvalidValueError
from bayestune.training._snapshot import model_device, snapshot
from bayestune.training.data import BatchFn, batch_size_of, forward, make_loader, to_device


def _fixed_batches(data: Any, n_batches: int, batch_size: int, seed: int | None,
                   device: torch.device, batch_fn: BatchFn) -> list[tuple[Any, Any]]:
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    loader = make_loader(data, batch_size, shuffle=True, generator=gen, device=device)
    batches = []
    for batch in loader:
        inputs, targets = batch_fn(batch)
        batches.append((to_device(inputs, device), to_device(targets, device)))
        if len(batches) == n_batches:
            break
    if not batches:
        raise InvalidValueError("the training data yielded no batches")
    return batches


def _count(batches: Sequence[tuple[Any, Any]]) -> int:
    return sum(batch_size_of(x, y) for x, y in batches)


def _mean_loss(model: nn.Module, loss_fn: Callable[[Any, Any], Any],
               batches: Sequence[tuple[Any, Any]]) -> float:
    with torch.no_grad():
        values = [float(loss_fn(forward(model, x), y)) for x, y in batches]
    return sum(values) / len(values)


def _train_mode(model: nn.Module, disable_dropout: bool) -> None:
    model.train()
    if disable_dropout:
        for m in model.modules():
            if isinstance(m, nn.modules.dropout._DropoutNd):
                m.eval()


@dataclass
class _Run:
    losses: list[float]
    final: float
    update_ratio: float | None
    no_grad: list[str]
    stopped: str | None


def _train(model: nn.Module, opt: torch.optim.Optimizer, loss_fn: Callable[[Any, Any], Any],
           batches: Sequence[tuple[Any, Any]], steps: int, trainable: list[tuple[str, Any]],
           disable_dropout: bool) -> _Run:
    """Train on the fixed batches in turn; track gradients and update ratios."""
    _train_mode(model, disable_dropout)
    got_grad = [False] * len(trainable)
    params = [p for _, p in trainable]
    ratios: list[float] = []
    losses: list[float] = []
    stopped = None
    measure_every = max(1, steps // 20)
    for step in range(steps):
        x, y = batches[step % len(batches)]
        loss = loss_fn(forward(model, x), y)
        if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
            stopped = "no_graph"
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if step < len(batches):
            for i, p in enumerate(params):
                if p.grad is not None and not got_grad[i] and bool(torch.any(p.grad != 0)):
                    got_grad[i] = True
        measure = params and step % measure_every == 0
        if measure:
            with torch.no_grad():
                before = [p.detach().clone() for p in params]
        opt.step()
        if measure:
            with torch.no_grad():
                w = math.sqrt(sum(float(b.float().norm()) ** 2 for b in before))
                u = math.sqrt(sum(float((p.detach() - b).float().norm()) ** 2
                                  for p, b in zip(params, before, strict=True)))
            if w > 0 and math.isfinite(u):
                ratios.append(u / w)
        value = float(loss.detach())
        losses.append(value)
        if not math.isfinite(value):
            stopped = "not_finite"
            break
    final = _mean_loss(model, loss_fn, batches) if stopped != "no_graph" else math.nan
    ratios.sort()
    median = ratios[len(ratios) // 2] if ratios else None
    no_grad = [n for (n, _), ok in zip(trainable, got_grad, strict=True) if not ok] \
        if stopped != "no_graph" else [n for n, _ in trainable]
    return _Run(losses, final, median, no_grad, stopped)


class _Restorer:
    """Saves everything the check changes and puts it back exactly."""

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer | None) -> None:
        self.model, self.opt = model, opt
        self.state = snapshot(model.state_dict())
        self.opt_state = snapshot(opt.state_dict()) if opt is not None else None
        self.grads = [None if p.grad is None else p.grad.detach().clone()
                      for p in model.parameters()]
        self.modes = [m.training for m in model.modules()]
        self.home = model_device(model)

    def weights(self) -> None:
        """Back to the initial weights (between the first run and a retry)."""
        self.model.load_state_dict(self.state)
        if self.opt is not None and self.opt_state is not None:
            self.opt.load_state_dict(copy.deepcopy(self.opt_state))

    def all(self) -> None:
        self.model.to(self.home)
        self.weights()
        for p, g in zip(self.model.parameters(), self.grads, strict=True):
            p.grad = g
        for m, mode in zip(self.model.modules(), self.modes, strict=True):
            m.training = mode
