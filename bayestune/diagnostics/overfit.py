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
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bayestune._checks import check_int, check_number
from bayestune.diagnostics._overfit_causes import (
    _BLOCKING,
    _STRUCTURAL,
    Cause,
    CauseCode,
    _is_class_indices,
    _loss_kind,
    _scores,
    _setup_causes,
    _training_causes,
)
from bayestune.diagnostics._overfit_train import (
    _count,
    _fixed_batches,
    _mean_loss,
    _Restorer,
    _train,
    _train_mode,
)
from bayestune.exceptions import InvalidValueError
from bayestune.lr_finder import LRRangeResult, lr_range_test
from bayestune.training.data import BatchFn, forward, unpack_batch
from bayestune.training.device import DeviceLike, resolve_device, seeded
from bayestune.training.optimizers import OptimizerName, build_optimizer, parse_optimizer

__all__ = ["overfit_check", "OverfitReport", "Cause", "CauseCode", "DEFAULT_LRS"]

logger = logging.getLogger(__name__)

#: The lr used for an optimizer given by name: Adam's published default for the adaptive
#: ones (Karpathy's safer 3e-4 is too slow to overfit in a couple of hundred steps), and
#: the classic 0.01 for SGD (Bengio, 2012).
DEFAULT_LRS: dict[str, float] = {"adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "sgd": 1e-2,
                                 "momentum": 1e-2, "nesterov": 1e-2}


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


# -- the check ----------------------------------------------------------------------------
def _check_args(n_batches: Any, steps: Any, threshold: Any, lr: Any) -> None:
    check_int("n_batches", n_batches, low=1)
    check_int("steps", steps, low=1)
    check_number("threshold", threshold, low=0, high=1, strict_low=True, strict_high=True)
    check_number("lr", lr, low=0, strict_low=True, none=True)


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
