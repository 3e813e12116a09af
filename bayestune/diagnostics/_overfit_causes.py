"""The causes :func:`bayestune.diagnostics.overfit_check` can name, and the checks that
find them.

The setup checks (:func:`_setup_causes`) compare the loss with the output layer and the
targets before training; :func:`_training_causes` reads what a training run showed
(no gradient, frozen parameters, a loss that rose or barely moved).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch

if TYPE_CHECKING:
    from bayestune.diagnostics._overfit_train import _Run

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
