"""Health monitors for the torch adapter: what the guides say to watch while a net trains.

:class:`HealthMonitor` is a training-loop :class:`~bayestune.training.Callback`; the
:class:`~bayestune.training.TorchObjective` plugs one in by default (``health=True``).
Per epoch it records, into the trial's user attribute ``"health"`` (and so into storage):

- the training and validation losses;
- the global gradient norm;
- the update-to-weight norm ratio ``||Δw|| / ||w||`` (CS231n's rule of thumb: about
  1e-3; much lower learns slowly, much higher is unstable), overall and per weight tensor;
- for classification, the mean maximum softmax probability on the validation data (the
  confidence, moving from 1/K towards 1 as the classes separate);
- the flags of :mod:`bayestune.training.health`: ``diverging``, ``learning_slowly``,
  ``overfitting`` (with the epoch early stopping keeps).

It stays cheap: gradient norms and updates are measured on one step in ``every`` (one
fused norm over the gradients already there and the weights, one copy of the weights
before the step, one fused norm of the change after it), kept on the device and read
once per epoch (one transfer, one sync); the confidence costs one softmax per validation
batch. The monitor also times itself: when a measurement costs more than ``budget`` of
the time between measurements (on tiny models, where every tensor operation is mostly
Python overhead), it measures fewer steps and validation batches, so its share of the
run stays about ``budget`` (epochs with no measured step record None). A failure inside
the monitor is logged and switches it off for the rest of the run; it never stops
training.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import torch

from bayestune._checks import check_int, check_number
from bayestune.exceptions import InvalidValueError
from bayestune.training.callbacks import Callback, RunState
from bayestune.training.health import HEALTH_KEY, HealthThresholds, health_flags

__all__ = ["HealthMonitor"]

logger = logging.getLogger(__name__)


def _finite_mean(xs: list[float]) -> float | None:
    finite = [x for x in xs if math.isfinite(x)]
    return math.fsum(finite) / len(finite) if finite else None


def _class_scores(out: Any, targets: Any) -> bool:
    """The outputs are class scores: ``N x K [x ...]`` with integer targets ``N [x ...]``."""
    return (isinstance(out, torch.Tensor) and isinstance(targets, torch.Tensor)
            and out.is_floating_point() and not targets.is_floating_point()
            and not targets.is_complex() and targets.dtype != torch.bool
            and out.dim() >= 2 and out.dim() == targets.dim() + 1
            and out.shape[0] == targets.shape[0] and out.shape[1] >= 2)


def _spread(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)``, first and last included."""
    if n <= k:
        return list(range(n))
    if k == 1:
        return [0]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


class HealthMonitor(Callback):
    """Records a run's health per epoch and flags divergence, slow learning, overfitting.

    After each epoch the record (see :data:`~bayestune.training.health.RECORD_FIELDS`)
    is written to the trial's user attribute ``"health"``; the latest run's record is
    also kept in :attr:`record` (for runs without a trial, e.g.
    :meth:`TorchObjective.run <bayestune.training.TorchObjective.run>`).

    Args:
        every: Measure gradient norm and update ratio on one optimizer step in ``every``
            at most (the first step of the run included). Larger is cheaper and noisier.
        update_ratio: Measure the update-to-weight ratio (it keeps one copy of the
            trainable weights to diff against); False records gradient norms only.
        max_layers: Per-tensor update ratios are kept for at most this many weight
            tensors (those with 2 or more dimensions), spread evenly through the model.
        confidence: Record the mean maximum softmax probability on the validation data
            when the outputs are class scores (``N x K [x ...]`` with integer targets).
        budget: The share of the training (and of the validation) time the measurements
            may take; the monitor spaces them out to stay within it (None: never adapt).
        thresholds: Where the flags trip (:class:`HealthThresholds`).
        write: Write the record to the trial (False: keep it in :attr:`record` only).
        write_interval: Write after an epoch only if this many seconds passed since the
            last write (and always when the run ends): epochs of a few milliseconds then
            cost no storage write each, while a study opened elsewhere still sees the
            record grow. 0 writes after every epoch.

    Attributes:
        record: The latest run's record (a JSON-ready dict), None before the first run.
    """

    def __init__(
        self,
        every: int = 16,
        *,
        update_ratio: bool = True,
        max_layers: int = 16,
        confidence: bool = True,
        budget: float | None = 0.0025,
        thresholds: HealthThresholds | None = None,
        write: bool = True,
        write_interval: float = 1.0,
    ) -> None:
        every = check_int("every", every, low=1)
        max_layers = check_int("max_layers", max_layers, low=1)
        budget = check_number("budget", budget, low=0, high=1, strict_low=True,
                              strict_high=True, none=True)
        if thresholds is not None and not isinstance(thresholds, HealthThresholds):
            raise InvalidValueError(f"thresholds must be a HealthThresholds, got {thresholds!r}")
        self.every = every
        self.measure_updates = bool(update_ratio)
        self.max_layers = max_layers
        self.measure_confidence = bool(confidence)
        self.budget = budget
        self.thresholds = thresholds or HealthThresholds()
        self.write = bool(write)
        self.write_interval = check_number("write_interval", write_interval, low=0,
                                           finite=False)
        self.record: dict[str, Any] | None = None
        self._reset()

    def __getstate__(self) -> dict[str, Any]:  # sent to worker processes without run state
        state = dict(self.__dict__)
        state.update(_params=[], _buffers=None, _samples=[], _pending=None, _confidences=[],
                     record=None)
        return state

    def _reset(self) -> None:
        self._params: list[torch.Tensor] = []
        self._names: list[str] = []
        self._layers: list[int] = []
        self._buffers: list[torch.Tensor] | None = None
        # per measured step: (number of gradients g, [g grad norms, p weight norms,
        # p update norms]) as 0-d device tensors, read once per epoch
        self._samples: list[tuple[int, list[torch.Tensor]]] = []
        self._pending: tuple[int, list[torch.Tensor]] | None = None
        self._classifier: bool | None = None  # the outputs are class scores
        self._confidences: list[torch.Tensor] = []
        self._n_classes: int | None = None
        self._active = True
        self._next_step = 0  # the next step to measure
        self._last: tuple[int, float] | None = None  # (step, time) of the last measurement
        self._cost = 0.0  # seconds the pending measurement took so far
        self._costs: list[float] = []
        self._spent = 0.0  # seconds spent measuring and recording in this run
        self._started = 0.0
        self._written = 0.0  # when the record was last built (and written)
        self._val_stride = 1  # measure the confidence on one validation batch in this many
        self._val_seen = 0  # validation batches seen in this epoch
        self._val_skip = False  # no confidence measured in this epoch (over budget)
        self._val_last = 0.0  # when the previous validation batch's hook ran
        self._val_cost = 0.0  # seconds the first measured validation batch took
        self._lists: dict[str, list[Any]] = {}
        self._layer_lists: dict[str, list[Any]] = {}

    def _disable(self, where: str, error: BaseException) -> None:
        logger.warning("health monitor switched off for this run (%s failed: %r)", where, error)
        self._active = False
        self._buffers, self._pending, self._samples = None, None, []

    # -- hooks ------------------------------------------------------------------------------
    def on_train_begin(self, state: RunState) -> None:
        self._reset()
        named = [(n, p) for n, p in state.model.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        weights = [i for i, p in enumerate(self._params) if p.dim() >= 2]
        self._layers = [weights[i] for i in _spread(len(weights), self.max_layers)]
        self._lists = {"train_loss": [], "val_loss": [], "grad_norm": [], "update_ratio": []}
        self._layer_lists = {self._names[i]: [] for i in self._layers}
        self.record = self._build(state)
        self._started = self._written = time.perf_counter()

    def on_after_backward(self, state: RunState) -> None:
        if state.step < self._next_step or not self._active or not self._params:
            return
        t0 = time.perf_counter()
        self._next_step = state.step + self.every
        try:
            with torch.no_grad():
                grads = [p.grad for p in self._params if p.grad is not None]
                if not self.measure_updates:
                    if grads:
                        self._samples.append((len(grads), torch._foreach_norm(grads)))
                else:
                    if self._buffers is None:
                        self._buffers = [torch.empty_like(p) for p in self._params]
                    norms = torch._foreach_norm(grads + self._params)
                    torch._foreach_copy_(self._buffers, self._params)
                    self._pending = (len(grads), list(norms))
        except Exception as e:  # noqa: BLE001 - a monitor must never break training
            self._disable("measuring the gradients", e)
        self._cost = time.perf_counter() - t0
        self._spent += self._cost
        if self._pending is None:
            self._space_out(state.step)

    def on_batch_end(self, state: RunState) -> None:
        if self._pending is None:
            return
        t0 = time.perf_counter()
        g, norms = self._pending
        self._pending = None
        try:
            with torch.no_grad():
                torch._foreach_sub_(self._buffers, self._params)  # type: ignore[arg-type]
                self._samples.append((g, norms + list(torch._foreach_norm(self._buffers))))
        except Exception as e:  # noqa: BLE001
            self._disable("measuring the update", e)
        dt = time.perf_counter() - t0
        self._cost += dt
        self._spent += dt
        self._space_out(state.step - 1)

    def _space_out(self, step: int) -> None:
        """Set the next measured step so that measuring stays within the budget."""
        now = time.perf_counter()
        # the median of the recent costs: one preemption inside a measurement must not
        # space out all the others
        self._costs = (self._costs + [self._cost])[-5:]
        cost = sorted(self._costs)[len(self._costs) // 2]
        if self.budget is not None and self._last is not None and step > self._last[0]:
            per_step = (now - self._last[1]) / (step - self._last[0])
            need = math.ceil(cost / (self.budget * per_step)) if per_step > 0 else 1
            self._next_step = step + max(self.every, need)
        self._last = (step, now)

    def on_validation_batch(self, state: RunState, outputs: Any, targets: Any) -> None:
        if self._classifier is False or not self._active:
            return
        t0 = time.perf_counter()
        seen, self._val_seen = self._val_seen, self._val_seen + 1
        since, self._val_last = t0 - self._val_last, t0
        if seen == 0 and self._classifier is not None:
            # over budget (tiny models: an epoch's fixed costs weigh most): skip this
            # epoch's confidence, which then records None
            self._val_skip = (self.budget is not None
                              and self._spent > self.budget * (t0 - self._started))
        if self._val_skip:
            return
        if seen == 1 and self.budget is not None and self._val_cost > 0:
            # a validation batch takes `since` seconds: measure few enough of them
            self._val_stride = max(self._val_stride,
                                   math.ceil(self._val_cost / (self.budget * since)))
        if seen % self._val_stride:
            return
        out = getattr(outputs, "logits", outputs)
        if self._classifier is None:  # decided once per run, on the first batch
            self._classifier = self.measure_confidence and _class_scores(out, targets)
            if not self._classifier:
                return
            self._n_classes = int(out.shape[1])
        try:
            self._confidences.append(
                torch.softmax(out.detach(), dim=1, dtype=torch.float32).amax(dim=1))
        except Exception as e:  # noqa: BLE001
            self._disable("measuring the confidence", e)
        self._val_cost = time.perf_counter() - t0
        self._spent += self._val_cost

    def on_epoch_end(self, state: RunState) -> None:
        t0 = time.perf_counter()
        self._val_seen = 0
        self._close_epoch(state)
        if t0 - self._written >= self.write_interval:
            self._publish(state)
        self._spent += time.perf_counter() - t0

    def on_train_end(self, state: RunState) -> None:
        self._pending = None
        self._buffers = None  # free the weight copy
        self._params = []
        self._publish(state)  # a run stopped inside an epoch adds its reason

    # -- bookkeeping ------------------------------------------------------------------------
    def _close_epoch(self, state: RunState) -> None:
        lists = self._lists
        lists["train_loss"].append(state.train_losses[-1] if state.train_losses else None)
        lists["val_loss"].append(state.val_losses[-1] if state.val_losses else None)
        grad, ratio = None, None
        layer_ratios: dict[str, float | None] = dict.fromkeys(self._layer_lists)
        samples, self._samples = self._samples or [], []
        if samples:
            # one transfer (one sync on an accelerator) for the whole epoch; the few
            # numbers per sample are then cheaper in plain Python than in numpy
            tensors = [t for _, ts in samples for t in ts]
            if all(t.device.type == "cpu" for t in tensors):  # a stack costs more here
                flat = [t.item() for t in tensors]
            else:
                flat = torch.stack(tensors).cpu().tolist()
            p = len(self._params) if self.measure_updates else 0
            grads, ratios = [], []
            per_layer: list[list[float]] = [[] for _ in self._layers]
            at = 0
            for g, _ in samples:
                grads.append(math.sqrt(sum([x * x for x in flat[at:at + g]])))
                w, u = flat[at + g:at + g + p], flat[at + g + p:at + g + 2 * p]
                at += g + 2 * p
                if p and math.isfinite(grads[-1]):  # a step skipped (fp16 overflow) is no data
                    w2 = sum([x * x for x in w])
                    if w2 > 0:
                        ratios.append(math.sqrt(sum([x * x for x in u]) / w2))
                    for k, i in enumerate(self._layers):
                        if w[i] > 0:
                            per_layer[k].append(u[i] / w[i])
            grad = _finite_mean(grads)
            ratio = _finite_mean(ratios)
            for k, i in enumerate(self._layers):
                layer_ratios[self._names[i]] = _finite_mean(per_layer[k])
        lists["grad_norm"].append(grad)
        lists["update_ratio"].append(ratio)
        for name, v in layer_ratios.items():
            self._layer_lists[name].append(v)
        conf = None
        if self._confidences:
            c = self._confidences
            conf = float((c[0] if len(c) == 1 else torch.cat(c)).mean())
        self._confidences = []
        if conf is not None or "confidence" in lists:
            lists.setdefault("confidence", [None] * (len(lists["val_loss"]) - 1)).append(conf)

    def _build(self, state: RunState) -> dict[str, Any]:
        rec: dict[str, Any] = {k: list(v) for k, v in self._lists.items()}
        if self._layer_lists and self.measure_updates:
            rec["update_ratio_layers"] = {k: list(v) for k, v in self._layer_lists.items()}
        if self._n_classes is not None:
            rec["n_classes"] = self._n_classes
        init = state.initial_loss
        rec["initial_loss"] = float(init) if init is not None else None
        rec["steps"] = int(state.step)
        elapsed = time.perf_counter() - self._started if self._started else 0.0
        # the monitor's own cost so far (the last epoch's write not yet included)
        rec["monitor_share"] = round(self._spent / elapsed, 5) if elapsed > 0 else 0.0
        if getattr(state, "status", None) == "failed" and getattr(state, "reason", None):
            rec["stopped"] = str(state.reason)
        elif state.step and not math.isfinite(state.batch_loss):
            rec["stopped"] = f"diverged: training loss {state.batch_loss} at step {state.step}"
        rec["flags"] = health_flags(rec, self.thresholds)
        return rec

    def _publish(self, state: RunState) -> None:
        before = self.record
        self.record = self._build(state)
        self._written = time.perf_counter()
        if self.write and state.trial is not None and self.record != before:
            try:
                state.trial.set_user_attr(HEALTH_KEY, self.record)
            except Exception as e:  # noqa: BLE001 - never fail a run over its diagnostics
                logger.warning("could not store the health record of trial %s: %r",
                               getattr(state.trial, "number", "?"), e)
