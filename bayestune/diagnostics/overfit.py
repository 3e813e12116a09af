"""The sanity check before tuning: can the model overfit a tiny fixed subset?

"Overfit a single batch of only a few examples ... and verify that we can reach the
lowest achievable loss" (Karpathy, *A Recipe for Training Neural Networks*); "make sure
you can achieve zero cost ... Unless you pass this sanity check with a small dataset it
is not worth proceeding to the full dataset" (CS231n). :func:`overfit_check` trains on
``n_batches`` fixed batches and reports what it saw; when the loss does not fall close to
zero it names the likely causes, each checked rather than guessed where it can be:

- a loss that does not fit the output layer: probabilities (softmax or sigmoid already
  applied) passed to a loss that expects logits, scores that are not log-probabilities
  passed to ``NLLLoss``, softmax outputs trained with a regression loss, targets of
  another shape than the outputs, class labels outside ``0 .. K-1``;
- no gradient flowing: frozen parameters (``requires_grad=False``), trainable
  parameters that received no gradient or an all-zero one, a loss that does not depend
  on any trainable parameter;
- a learning rate far too high (the loss rose or became non-finite) or far too low (the
  update-to-weight ratio far below 1e-3); a short LR range test on the same batches
  suggests a better one, and one retry at that rate confirms it.

The model (weights, buffers, gradients, each module's train/eval mode, device) and an
optimizer given as an object come back exactly as they were; nothing is printed.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from bayestune.exceptions import InvalidValueError
from bayestune.lr_finder import LRRangeResult, _model_device, _snapshot, lr_range_test
from bayestune.training.data import (
    BatchFn,
    batch_size_of,
    forward,
    make_loader,
    to_device,
    unpack_batch,
)
from bayestune.training.device import DeviceLike, resolve_device, seeded
from bayestune.training.optimizers import OptimizerName, build_optimizer, parse_optimizer

__all__ = ["overfit_check", "OverfitReport", "Cause", "CauseCode", "DEFAULT_LRS"]

logger = logging.getLogger(__name__)

#: What a cause can be (see the module docstring).
CauseCode = Literal[
    "loss_error",
    "labels_out_of_range",
    "probabilities_to_logit_loss",
    "logits_to_nll",
    "probabilities_with_mse",
    "target_shape_mismatch",
    "loss_without_gradient",
    "frozen_parameters",
    "no_gradient",
    "loss_not_finite",
    "lr_too_high",
    "lr_too_low",
    "initial_loss_high",
    "negative_loss",
    "unexplained",
]

#: The lr used for an optimizer given by name: Adam's published default for the adaptive
#: ones (Karpathy's safer 3e-4 is too slow to overfit in a couple of hundred steps), and
#: the classic 0.01 for SGD (Bengio, 2012).
DEFAULT_LRS: dict[str, float] = {"adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "sgd": 1e-2,
                                 "momentum": 1e-2, "nesterov": 1e-2}

# Setup errors that fail the check even when the loss falls (it falls for the wrong reason).
_BLOCKING = {"loss_error", "labels_out_of_range", "probabilities_to_logit_loss", "logits_to_nll",
             "target_shape_mismatch", "loss_without_gradient", "negative_loss"}
# Causes found before the lr is questioned: with one of these an LR range test says little.
_STRUCTURAL = _BLOCKING | {"probabilities_with_mse", "frozen_parameters", "no_gradient",
                           "loss_not_finite"}
_REGRESSION = ("mse", "l1", "smooth_l1", "huber")
_LOSS_KINDS: dict[str, str] = {
    "CrossEntropyLoss": "cross_entropy", "cross_entropy": "cross_entropy",
    "NLLLoss": "nll", "nll_loss": "nll",
    "MSELoss": "mse", "mse_loss": "mse",
    "L1Loss": "l1", "l1_loss": "l1",
    "SmoothL1Loss": "smooth_l1", "smooth_l1_loss": "smooth_l1",
    "HuberLoss": "huber", "huber_loss": "huber",
    "BCEWithLogitsLoss": "bce_logits", "binary_cross_entropy_with_logits": "bce_logits",
    "BCELoss": "bce", "binary_cross_entropy": "bce",
}


@dataclass(frozen=True)
class Cause:
    """One likely reason why the model could not overfit.

    Attributes:
        code: What it is (:data:`CauseCode`).
        message: What was found and what to do, in a sentence or two.
        evidence: The numbers or names behind it.
    """

    code: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OverfitReport:
    """What :func:`overfit_check` saw.

    Attributes:
        passed: The loss on the fixed batches fell to ``threshold`` times its initial
            value or below (and stayed finite).
        losses: The training loss of each step (one fixed batch per step, in turn).
        initial_loss: Mean loss over the fixed batches before training.
        final_loss: Mean loss over the fixed batches after training.
        ratio: ``final_loss / initial_loss`` (nan when the initial loss is not > 0).
        threshold: The ratio at or below which the check passes.
        steps: Steps run (fewer than asked when the loss became non-finite).
        n_examples: Examples in the fixed batches.
        lr: The learning rate used.
        expected_initial_loss: ``ln K`` for a K-class cross-entropy (the loss of a
            uniform guess, which a well-initialized classifier starts near), else None.
        update_ratio: Median update-to-weight norm ratio over the measured steps.
        frozen: Parameters with ``requires_grad=False``.
        no_grad: Trainable parameters that received no gradient, or only zeros.
        causes: Likely causes, most likely first (empty when it passed, except for
            warnings about the setup that hold even so).
        lr_range: The LR range test run on the fixed batches, when one was run.
        retry_lr: The lr of the confirming retry, when one was run.
        retry_ratio: The loss ratio the retry reached.
    """

    passed: bool
    losses: tuple[float, ...]
    initial_loss: float
    final_loss: float
    ratio: float
    threshold: float
    steps: int
    n_examples: int
    lr: float
    expected_initial_loss: float | None
    update_ratio: float | None
    frozen: tuple[str, ...]
    no_grad: tuple[str, ...]
    causes: tuple[Cause, ...]
    lr_range: LRRangeResult | None = field(default=None, repr=False)
    retry_lr: float | None = None
    retry_ratio: float | None = None

    @property
    def cause_codes(self) -> tuple[str, ...]:
        """The codes of :attr:`causes`, in order."""
        return tuple(c.code for c in self.causes)

    def summary(self) -> str:
        """A few lines for a person: the verdict, the numbers, the causes."""
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"overfit check {verdict}: loss {self.initial_loss:.4g} -> {self.final_loss:.4g} "
                 f"(ratio {self.ratio:.3g}, threshold {self.threshold:g}) in {self.steps} steps "
                 f"on {self.n_examples} examples at lr {self.lr:g}"]
        lines += [f"- [{c.code}] {c.message}" for c in self.causes]
        return "\n".join(lines)


# -- inspecting the setup -----------------------------------------------------------------
def _loss_kind(loss_fn: Any) -> str:
    fn = loss_fn.func if isinstance(loss_fn, functools.partial) else loss_fn
    for name in (type(fn).__name__, getattr(fn, "__name__", "")):
        if name in _LOSS_KINDS:
            return _LOSS_KINDS[name]
    return "unknown"


def _scores(outputs: Any) -> torch.Tensor | None:
    out = getattr(outputs, "logits", outputs)
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        out = out[0]
    return out if isinstance(out, torch.Tensor) and out.is_floating_point() else None


def _is_probabilities(out: torch.Tensor) -> bool:
    """Every row over dim 1 lies in [0, 1] and sums to 1 (a softmax was applied)."""
    if out.dim() < 2 or out.shape[1] < 2 or out.numel() == 0:
        return False
    o = out.detach().double()
    return bool(((o >= -1e-6) & (o <= 1 + 1e-6)).all()
                and torch.allclose(o.sum(1), torch.ones_like(o.sum(1)), atol=1e-3))


def _is_log_probabilities(out: torch.Tensor) -> bool:
    if out.dim() < 2 or out.shape[1] < 2:
        return False
    o = out.detach().double()
    lse = torch.logsumexp(o, dim=1)
    return bool((o <= 1e-6).all() and torch.allclose(lse, torch.zeros_like(lse), atol=1e-3))


def _is_class_indices(targets: Any, out: torch.Tensor) -> bool:
    return (isinstance(targets, torch.Tensor) and not targets.is_floating_point()
            and not targets.is_complex() and targets.dtype != torch.bool
            and targets.dim() == out.dim() - 1 and targets.shape[:1] == out.shape[:1])


def _setup_causes(kind: str, loss_fn: Any, outputs: Any, targets: Any) -> list[Cause]:
    """Mismatches between the loss, the output layer and the targets (before training)."""
    out = _scores(outputs)
    if out is None:
        return []
    causes: list[Cause] = []
    k = int(out.shape[1]) if out.dim() >= 2 else None
    if kind in ("cross_entropy", "nll") and k is not None and _is_class_indices(targets, out):
        ignore = getattr(loss_fn, "ignore_index", -100)
        t = targets[targets != ignore]
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= k):
            causes.append(Cause(
                "labels_out_of_range",
                f"the labels span {int(t.min())}..{int(t.max())} but the output layer has "
                f"{k} classes (labels must lie in 0..{k - 1}): fix the label encoding or "
                f"the size of the last layer",
                {"label_min": int(t.min()), "label_max": int(t.max()), "n_outputs": k}))
    if kind == "cross_entropy" and _is_probabilities(out):
        causes.append(Cause(
            "probabilities_to_logit_loss",
            "the outputs are probabilities (rows in [0, 1] summing to 1: the model ends in "
            "a softmax) but CrossEntropyLoss applies log-softmax itself and expects raw "
            "logits: remove the final softmax",
            {"loss": "cross_entropy"}))
    elif kind == "bce_logits" and out.numel() >= 8 and bool(((out >= 0) & (out <= 1)).all()):
        causes.append(Cause(
            "probabilities_to_logit_loss",
            "every output lies in [0, 1] (the model ends in a sigmoid) but BCEWithLogitsLoss "
            "applies the sigmoid itself: remove the final sigmoid",
            {"loss": "bce_logits"}))
    elif kind == "nll" and not _is_log_probabilities(out):
        what = "probabilities" if _is_probabilities(out) else "raw scores (logits)"
        causes.append(Cause(
            "logits_to_nll",
            f"NLLLoss expects log-probabilities but the outputs are {what}: end the model "
            f"in log_softmax, or use CrossEntropyLoss on the logits",
            {"outputs": "probabilities" if what == "probabilities" else "logits"}))
    if kind in _REGRESSION and isinstance(targets, torch.Tensor) \
            and tuple(targets.shape) != tuple(out.shape):
        causes.append(Cause(
            "target_shape_mismatch",
            f"the loss compares outputs of shape {tuple(out.shape)} with targets of shape "
            f"{tuple(targets.shape)}: broadcasting makes it compare the wrong elements "
            f"(class labels need a classification loss, or one-hot targets)",
            {"output_shape": list(out.shape), "target_shape": list(targets.shape)}))
    if kind in _REGRESSION and _is_probabilities(out):
        causes.append(Cause(
            "probabilities_with_mse",
            "softmax outputs trained with a regression loss: the softmax saturates and its "
            "gradients vanish; for classes use CrossEntropyLoss on the logits",
            {"loss": kind}))
    return causes


# -- the check ----------------------------------------------------------------------------
def _check_args(n_batches: Any, steps: Any, threshold: Any, lr: Any) -> None:
    for name, v, lo in (("n_batches", n_batches, 1), ("steps", steps, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise InvalidValueError(f"{name} must be an int >= {lo}, got {name}={v!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not 0 < threshold < 1:
        raise InvalidValueError(f"threshold must lie in (0, 1), got threshold={threshold!r}")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))
                           or not math.isfinite(lr) or lr <= 0):
        raise InvalidValueError(f"lr must be a positive number or None, got lr={lr!r}")


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


def _optimizer(optimizer: Any, model: nn.Module, lr: float | None
               ) -> tuple[torch.optim.Optimizer, float, str | None]:
    """The optimizer to train with, its lr, and its name when built here."""
    if isinstance(optimizer, torch.optim.Optimizer):
        ids = {id(p) for p in model.parameters()}
        if not any(id(p) in ids for g in optimizer.param_groups for p in g["params"]):
            raise InvalidValueError("the optimizer does not hold the model's parameters")
        if lr is not None:
            for g in optimizer.param_groups:
                g["lr"] = float(lr)
        return optimizer, float(optimizer.param_groups[0]["lr"]), None
    if not isinstance(optimizer, str):
        raise InvalidValueError(
            f"optimizer must be an optimizer name or a torch.optim.Optimizer over the model's "
            f"parameters, got {optimizer!r}")
    name = parse_optimizer(optimizer)
    rate = float(lr) if lr is not None else DEFAULT_LRS[name]
    return build_optimizer(name, model.parameters(), lr=rate), rate, name


class _Restorer:
    """Saves everything the check changes and puts it back exactly."""

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer | None) -> None:
        self.model, self.opt = model, opt
        self.state = _snapshot(model.state_dict())
        self.opt_state = _snapshot(opt.state_dict()) if opt is not None else None
        self.grads = [None if p.grad is None else p.grad.detach().clone()
                      for p in model.parameters()]
        self.modes = [m.training for m in model.modules()]
        self.home = _model_device(model)

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


def overfit_check(
    model: nn.Module,
    train_loader: Any,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    optimizer: OptimizerName | torch.optim.Optimizer = "adam",
    n_batches: int = 2,
    steps: int = 200,
    device: DeviceLike | None = "auto",
    *,
    lr: float | None = None,
    threshold: float = 0.1,
    lr_test: bool = True,
    disable_dropout: bool = True,
    batch_size: int = 32,
    batch_fn: BatchFn | None = None,
    seed: int | None = 0,
) -> OverfitReport:
    """Train on ``n_batches`` fixed batches and check that the loss falls close to zero.

    Args:
        model: The model; it comes back exactly as it was (weights, buffers, gradients,
            each module's train/eval mode, device).
        train_loader: A ``DataLoader`` (its first ``n_batches`` batches are used), any
            iterable of batches, a ``Dataset`` or ``(X, y)`` tensors (``n_batches``
            seeded random batches of ``batch_size``).
        loss_fn: ``(outputs, targets) -> scalar tensor``.
        optimizer: An optimizer name (built here, without weight decay, at ``lr``) or an
            optimizer over the model's parameters (its state is restored afterwards).
        n_batches: How many fixed batches to overfit.
        steps: Optimizer steps (the batches in turn).
        device: Where to run (``"auto"``: CUDA, else MPS, else CPU); None runs where the
            model is.
        lr: The learning rate; default :data:`DEFAULT_LRS` for a name, the optimizer's own
            for an optimizer object.
        threshold: The check passes when the final loss is at most this fraction of the
            initial loss.
        lr_test: When the check fails with no cause in the setup, run a short LR range
            test on the same batches and retry once at its suggestion.
        disable_dropout: Put dropout layers in eval mode while training (the guides
            advise switching regularization off for this check).
        batch_size: Examples per batch when the data are a ``Dataset`` or tensors.
        batch_fn: Splits a batch into ``(inputs, targets)`` (default: tuples, lists and
            dicts, see :func:`bayestune.training.unpack_batch`).
        seed: Seeds the batch choice and the model's randomness, in a forked random
            state (the caller's is left alone). None: unseeded.

    Returns:
        An :class:`OverfitReport`.

    Raises:
        InvalidValueError: for a bad argument, or data that yield no batch.
    """
    _check_args(n_batches, steps, threshold, lr)
    if not isinstance(model, nn.Module):
        raise InvalidValueError(f"model must be a torch.nn.Module, got {model!r}")
    batch_fn = batch_fn or unpack_batch
    restore = _Restorer(model, optimizer if isinstance(optimizer, torch.optim.Optimizer)
                        else None)  # before anything changes
    opt, rate, opt_name = _optimizer(optimizer, model, lr)
    run_device = restore.home if device is None else resolve_device(device)
    try:
        if run_device != restore.home:
            model.to(run_device)
            if restore.opt_state is not None:
                opt.load_state_dict(copy.deepcopy(restore.opt_state))
        with seeded(seed, run_device), warnings.catch_warnings():
            # torch's warnings about the user's setup become causes in the report
            warnings.simplefilter("ignore")
            return _check(model, opt, rate, opt_name, train_loader, loss_fn, n_batches,
                          steps, run_device, threshold, lr_test, disable_dropout,
                          batch_size, batch_fn, seed, restore)
    finally:
        restore.all()


def _check(model: nn.Module, opt: torch.optim.Optimizer, rate: float, opt_name: str | None,
           data: Any, loss_fn: Callable[[Any, Any], Any], n_batches: int, steps: int,
           device: torch.device, threshold: float, lr_test: bool, disable_dropout: bool,
           batch_size: int, batch_fn: BatchFn, seed: int | None,
           restore: _Restorer) -> OverfitReport:
    batches = _fixed_batches(data, n_batches, batch_size, seed, device, batch_fn)
    named = list(model.named_parameters())
    frozen = tuple(n for n, p in named if not p.requires_grad)
    trainable = [(n, p) for n, p in named if p.requires_grad]
    kind = _loss_kind(loss_fn)
    _train_mode(model, disable_dropout)
    x0, y0 = batches[0]
    with torch.no_grad():
        outputs = forward(model, x0)
    causes = _setup_causes(kind, loss_fn, outputs, y0)
    scores = _scores(outputs)
    expected = None
    if kind in ("cross_entropy", "nll") and scores is not None and scores.dim() >= 2 \
            and _is_class_indices(y0, scores):
        expected = math.log(scores.shape[1])
    base = dict(threshold=threshold, n_examples=_count(batches), lr=rate,
                expected_initial_loss=expected, frozen=frozen)
    def untrained() -> OverfitReport:
        return OverfitReport(passed=False, losses=(), initial_loss=math.nan,
                             final_loss=math.nan, ratio=math.nan, steps=0, update_ratio=None,
                             no_grad=(), causes=tuple(causes), **base)

    if any(c.code == "labels_out_of_range" for c in causes):
        return untrained()  # this loss would raise on the CPU and assert on a GPU
    try:
        initial = _mean_loss(model, loss_fn, batches)
    except Exception as e:  # noqa: BLE001 - the user's loss failing is the finding
        causes.insert(0, Cause("loss_error", f"the loss raised {type(e).__name__}: {e}",
                               {"error": repr(e)}))
        return untrained()
    run = _train(model, opt, loss_fn, batches, steps, trainable, disable_dropout)
    ratio = run.final / initial if initial > 0 and math.isfinite(initial) else math.nan
    passed = bool(math.isfinite(ratio) and 0 <= ratio <= threshold and run.stopped is None
                  and not _BLOCKING & {c.code for c in causes})
    causes += _training_causes(run, initial, expected, frozen, trainable, rate, passed)
    lr_result, retry_lr, retry_ratio = None, None, None
    if not passed and lr_test and not _STRUCTURAL & {c.code for c in causes} and trainable:
        lr_result, retry_lr, retry_ratio, lr_causes = _lr_diagnosis(
            model, opt, opt_name, rate, loss_fn, batches, steps, trainable, initial,
            threshold, disable_dropout, seed, restore, causes)
        causes = lr_causes
    if not passed and not causes:
        causes.append(Cause(
            "unexplained",
            "no setup error found and the learning rate looks reasonable: the model may be "
            "too small for even these examples, or the inputs may not determine the "
            "targets (check the data pipeline: labels shuffled apart from their inputs, "
            "inputs not normalized, a bug in the model's forward)",
            {"ratio": ratio}))
    return OverfitReport(
        passed=passed, losses=tuple(run.losses), initial_loss=initial, final_loss=run.final,
        ratio=ratio, steps=len(run.losses), update_ratio=run.update_ratio,
        no_grad=tuple(run.no_grad), causes=tuple(causes), lr_range=lr_result,
        retry_lr=retry_lr, retry_ratio=retry_ratio, **base)


def _training_causes(run: _Run, initial: float, expected: float | None,
                     frozen: tuple[str, ...], trainable: list[tuple[str, Any]], rate: float,
                     passed: bool) -> list[Cause]:
    causes: list[Cause] = []
    n_all = len(frozen) + len(trainable)
    if run.stopped == "no_graph":
        causes.append(Cause(
            "loss_without_gradient",
            "the loss does not depend on any trainable parameter (no autograd graph): "
            "check for .detach(), torch.no_grad() or .item() in the forward or the loss, "
            "and for frozen parameters",
            {"frozen": list(frozen)}))
    if not math.isfinite(initial):
        causes.append(Cause("loss_not_finite",
                            f"the loss is {initial} before any training step: check the "
                            f"inputs for nan / inf and the loss for log(0)",
                            {"initial_loss": initial}))
    if passed:
        return causes
    if initial <= 0 or (math.isfinite(run.final) and run.final < 0):
        low = min(initial, run.final)
        causes.append(Cause(
            "negative_loss",
            f"the loss reaches {low:.4g} < 0: a loss whose optimum is 0 is expected, so it "
            f"is unbounded below or mis-specified (see the causes above)",
            {"initial_loss": initial, "final_loss": run.final}))
    if frozen:
        causes.append(Cause(
            "frozen_parameters",
            f"{len(frozen)} of {n_all} parameter tensors are frozen (requires_grad=False): "
            f"{_names(frozen)}; unfreeze the layers that must learn",
            {"frozen": list(frozen), "n_parameters": n_all}))
    if run.stopped != "no_graph" and run.no_grad:
        causes.append(Cause(
            "no_gradient",
            f"{len(run.no_grad)} trainable parameter tensor(s) received no gradient or an "
            f"all-zero one: {_names(run.no_grad)}; check for .detach() or non-differentiable "
            f"steps between them and the loss, or layers the forward never uses",
            {"no_grad": list(run.no_grad)}))
    if expected is not None and math.isfinite(initial) and initial > 3 * expected:
        causes.append(Cause(
            "initial_loss_high",
            f"the initial loss {initial:.4g} is far above ln(K) = {expected:.4g}, the loss of "
            f"a uniform guess that a well-initialized classifier starts near: check the "
            f"initialization and the scale of the last layer",
            {"initial_loss": initial, "expected": expected}))
    if run.stopped == "not_finite" or (run.losses and max(run.losses) > 4 * initial > 0) \
            or (math.isfinite(run.final) and run.final > initial):
        worst = max(run.losses) if run.losses else math.nan
        causes.append(Cause(
            "lr_too_high",
            f"the loss rose (to {worst:.4g} from {initial:.4g}"
            f"{', then became non-finite' if run.stopped == 'not_finite' else ''}) at lr "
            f"{rate:g}: lower the learning rate",
            {"lr": rate, "initial_loss": initial, "max_loss": worst}))
    elif run.update_ratio is not None and run.update_ratio < 1e-4:
        causes.append(Cause(
            "lr_too_low",
            f"the updates are tiny: the update-to-weight ratio is {run.update_ratio:.2g}, "
            f"far below the rule of thumb of about 1e-3, at lr {rate:g}: raise the "
            f"learning rate",
            {"lr": rate, "update_ratio": run.update_ratio}))
    return causes


def _names(names: Sequence[str], k: int = 6) -> str:
    shown = ", ".join(names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")


def _lr_diagnosis(model: nn.Module, opt: torch.optim.Optimizer, opt_name: str | None,
                  rate: float, loss_fn: Callable[[Any, Any], Any],
                  batches: Sequence[tuple[Any, Any]], steps: int,
                  trainable: list[tuple[str, Any]], initial: float, threshold: float,
                  disable_dropout: bool, seed: int | None, restore: _Restorer,
                  causes: list[Cause]
                  ) -> tuple[LRRangeResult | None, float | None, float | None, list[Cause]]:
    """An LR range test on the fixed batches, and one retry at its suggestion."""
    restore.weights()
    try:
        result = lr_range_test(model, list(batches), loss_fn, optimizer=opt_name or opt,
                               start_lr=1e-7,
                               end_lr=10.0, num_iter=100, device=None, seed=seed)
    except Exception as e:  # noqa: BLE001 - the diagnosis is best effort
        logger.debug("overfit check: the LR range test failed: %r", e)
        return None, None, None, causes
    suggestion = result.suggestion_steepest or result.suggestion_min_div10
    if suggestion is None:
        return result, None, None, causes
    code = None
    if rate > 3 * (result.lr_at_min or suggestion):
        code = "lr_too_high"
    elif rate < suggestion / 3:
        code = "lr_too_low"
    if code is None:  # the test finds the rate reasonable: keep what training showed
        return result, None, None, causes
    causes = [c for c in causes if c.code not in ("lr_too_high", "lr_too_low")]
    restore.weights()
    retry_opt = build_optimizer(opt_name, model.parameters(), lr=suggestion) if opt_name \
        else opt
    if opt_name is None:
        for g in opt.param_groups:
            g["lr"] = suggestion
    retry = _train(model, retry_opt, loss_fn, batches, steps, trainable, disable_dropout)
    retry_ratio = retry.final / initial if initial > 0 else math.nan
    fixed = math.isfinite(retry_ratio) and retry_ratio <= threshold
    direction = "lower" if code == "lr_too_high" else "raise"
    confirm = (f"at lr {suggestion:.3g} the loss fell to {retry_ratio:.3g} of its start"
               + (", so the check passes there" if fixed else ", still short of passing"))
    causes.insert(0, Cause(
        code,
        f"lr {rate:g} is far {'above' if code == 'lr_too_high' else 'below'} the LR range "
        f"test's suggestion of {suggestion:.3g} on these batches; {confirm}: {direction} "
        f"the learning rate",
        {"lr": rate, "suggested_lr": suggestion, "lr_at_min": result.lr_at_min,
         "retry_ratio": retry_ratio, "retry_passed": bool(fixed)}))
    return result, suggestion, retry_ratio, causes
