"""The torch objective: a configuration in, a training run, the validation loss out."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from bayestune._checks import check_int, check_option, check_seed
from bayestune._progress import Progress, progress_enabled
from bayestune.exceptions import InvalidValueError, TrialPruned
from bayestune.training.callbacks import (
    HOOKS,
    Callback,
    DivergenceMonitor,
    RunState,
    TrainingFailed,
    overriding,
)
from bayestune.training.config import SETTINGS, TrainingConfig, parse_param_names
from bayestune.training.data import (
    BatchFn,
    batch_size_of,
    forward,
    is_ready_loader,
    make_loader,
    to_device,
    unpack_batch,
)
from bayestune.training.device import DeviceLike, resolve_device, seeded
from bayestune.training.monitor import HealthMonitor
from bayestune.training.optimizers import build_optimizer
from bayestune.training.schedules import Schedule, build_schedule
from bayestune.trial import Trial, TrialState

__all__ = ["TorchObjective", "TrainingResult", "Monitor", "AmpMode", "ModelFn", "OptimizerFn"]

logger = logging.getLogger(__name__)

#: Which validation figure is reported each epoch and returned.
Monitor = Literal["val_loss", "metric"]
#: Mixed precision: True or ``"fp16"`` (float16 with a gradient scaler), ``"bf16"``.
AmpMode = Literal["fp16", "bf16"]
#: ``model_fn(params) -> nn.Module``: builds a fresh model from the trial's parameters.
ModelFn = Callable[[dict[str, Any]], torch.nn.Module]
#: ``optimizer_fn(model, config) -> Optimizer``: replaces the built-in optimizer choice.
OptimizerFn = Callable[[torch.nn.Module, TrainingConfig], torch.optim.Optimizer]
Status = Literal["complete", "pruned", "failed"]


@dataclass(frozen=True)
class TrainingResult:
    """How one training run ended.

    Attributes:
        status: ``"complete"``, ``"pruned"`` or ``"failed"`` (diverged, or a callback
            raised :class:`~bayestune.training.TrainingFailed`).
        value: The monitored validation figure after the last finished epoch (None when
            no epoch finished).
        reason: Why the run was pruned or failed, else None.
        config: The training settings used.
        train_losses: Mean training loss of each finished epoch.
        val_losses: Validation loss after each finished epoch.
        metrics: Validation metric after each finished epoch (empty without a metric).
        steps: Optimizer steps taken.
        seconds: Wall time of the run.
        model: The trained model (on the run's device).
    """

    status: Status
    value: float | None
    reason: str | None
    config: TrainingConfig
    train_losses: tuple[float, ...]
    val_losses: tuple[float, ...]
    metrics: tuple[float, ...]
    steps: int
    seconds: float
    model: torch.nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def epochs(self) -> int:
        """Epochs finished (validated)."""
        return len(self.val_losses)


class _Mean:
    """A weighted mean of per-batch values; tensors stay on the device until read (one
    sync per epoch instead of one per batch)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.counts: list[int] = []

    def add(self, value: Any, n: int) -> None:
        self.values.append(value)
        self.counts.append(n)

    @property
    def count(self) -> int:
        return sum(self.counts)

    def get(self) -> float:
        values = self.values
        if all(isinstance(v, torch.Tensor) and v.numel() == 1 for v in values):
            stacked = torch.stack([v.reshape(()) for v in values]).detach().double()
            weights = torch.tensor(self.counts, dtype=torch.float64, device=stacked.device)
            total = float((stacked @ weights).item())
        else:
            total = sum(float(v) * n for v, n in zip(values, self.counts, strict=True))
        return total / self.count


class TorchObjective:
    """An objective for :meth:`Study.optimize` that trains a torch model per trial.

    Each call builds the model with ``model_fn(trial.params)``, the optimizer, batches and
    schedule named by the trial's parameters, trains for ``epochs`` epochs, reports the
    validation loss after every epoch (``trial.report(epoch, value)``, epochs counted
    from 1) so that the study's pruner can stop it, and returns the final validation loss.

    Parameters read from ``trial.params`` (each falls back to ``defaults`` and then to
    :class:`TrainingConfig`'s values when absent; rename them with ``param_names``):
    ``optimizer`` (``sgd``, ``momentum``, ``nesterov``, ``adam``, ``adamw``,
    ``rmsprop``), ``lr``, ``momentum``, ``beta1``, ``beta2``, ``eps``, ``weight_decay``,
    ``batch_size``, ``epochs``, ``schedule``, ``warmup_epochs``, ``clip_grad_norm``.
    Everything else (``dropout``, widths, ...) is for ``model_fn``, which receives all
    the parameters.

    A run that diverges (a non-finite loss, or a batch loss above ``divergence_factor``
    times the first one) stops at once; the trial is told FAILED with the reason
    (``system_attrs["fail_reason"]``, starting ``"diverged:"``) and the call returns
    None. The losses of each epoch are kept in the trial's user attributes
    ``train_loss``, ``val_loss`` (and ``metric``).

    Args:
        model_fn: ``params -> nn.Module``, a fresh model for each trial.
        train_data: A ``Dataset``, a ``DataLoader`` (its own batch size and order), or
            ``(X, y)`` tensors / arrays (batched by fast slicing).
        val_data: The same kinds, for validation.
        loss_fn: ``(outputs, targets) -> scalar tensor``, the mean loss of a batch.
        epochs: Epochs per trial (unless the trial has an ``epochs`` parameter).
        metric: Optional ``(outputs, targets) -> number``: a batch's mean validation
            metric (e.g. :func:`~bayestune.training.accuracy`), recorded each epoch.
        monitor: ``"val_loss"`` (default) or ``"metric"``: the figure reported and
            returned. With a higher-is-better metric, make the study ``"maximize"``.
        device: ``"auto"`` (CUDA, else MPS, else CPU), ``"cpu"``, ``"cuda:1"``, ...
        amp: Mixed precision on CUDA: True / ``"fp16"`` (with a gradient scaler) or
            ``"bf16"``. Ignored, with a logged warning, on other devices.
        schedule: The lr schedule (``"cosine"``, ``"linear"``, ``"step"``,
            ``"onecycle"``, ``"constant"``, a callable, or None), stepped per batch.
        clip_grad_norm: Clip the global gradient norm to this value.
        divergence_factor: Explosion threshold relative to the first batch's loss (None:
            only non-finite losses count as divergence).
        seed: Seeds the weights, dropout and data order of every trial alike, inside a
            forked random state (the caller's torch random state is left untouched).
            None: unseeded.
        defaults: Values of the settings that the trial's parameters do not set, e.g.
            ``{"optimizer": "sgd", "batch_size": 128}``.
        param_names: Setting -> parameter-name overrides, e.g. ``{"lr":
            "learning_rate"}``; None for a setting never reads it from the trial.
        optimizer_fn: ``(model, config) -> Optimizer``, replacing the built-in choice
            (for parameter groups, other optimizers, ...).
        batch_fn: Splits a batch into ``(inputs, targets)``; default
            :func:`~bayestune.training.unpack_batch` (tuples, lists and dicts).
        val_batch_size: Validation batch size (default: the training batch size).
        num_workers: ``DataLoader`` workers, when loaders are built from datasets.
        callbacks: Extra :class:`~bayestune.training.Callback` objects.
        health: Record the run's health per epoch into the trial's user attribute
            ``"health"`` (losses, gradient norm, update-to-weight ratio, confidence, and
            the diverging / learning-slowly / overfitting flags): True (default) plugs
            in a :class:`~bayestune.diagnostics.HealthMonitor`, or pass your own; False
            records nothing extra.
        progress: A progress bar over each run's steps, with the epoch and its train
            and val losses: ``"auto"`` (default) in a terminal or a notebook only,
            True, or False.

    Raises:
        InvalidValueError: for bad arguments, naming the value.
    """

    def __init__(
        self,
        model_fn: ModelFn,
        train_data: Any,
        val_data: Any,
        loss_fn: Callable[[Any, Any], torch.Tensor],
        *,
        epochs: int = 10,
        metric: Callable[[Any, Any], Any] | None = None,
        monitor: Monitor = "val_loss",
        device: DeviceLike = "auto",
        amp: bool | AmpMode = False,
        schedule: Schedule = None,
        clip_grad_norm: float | None = None,
        divergence_factor: float | None = 10.0,
        seed: int | None = 0,
        defaults: Mapping[str, Any] | None = None,
        param_names: Mapping[str, str | None] | None = None,
        optimizer_fn: OptimizerFn | None = None,
        batch_fn: BatchFn | None = None,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        callbacks: Sequence[Callback] = (),
        health: bool | Callback = True,
        progress: Progress = "auto",
    ) -> None:
        for name, fn in (("model_fn", model_fn), ("loss_fn", loss_fn)):
            if not callable(fn):
                raise InvalidValueError(f"{name} must be callable, got {fn!r}")
        for name, fn in (("metric", metric), ("optimizer_fn", optimizer_fn),
                         ("batch_fn", batch_fn)):
            if fn is not None and not callable(fn):
                raise InvalidValueError(f"{name} must be callable or None, got {fn!r}")
        check_option("monitor", monitor, Monitor)
        if monitor == "metric" and metric is None:
            raise InvalidValueError("monitor='metric' needs a metric=... function")
        check_seed(seed)
        check_int("val_batch_size", val_batch_size, low=1, none=True)
        check_int("num_workers", num_workers, low=0)
        callbacks = tuple(callbacks)
        bad = [cb for cb in callbacks if not isinstance(cb, Callback)]
        if bad:
            raise InvalidValueError(f"callbacks must be bayestune.training.Callback objects, "
                                    f"got {bad!r}")
        self.param_names = parse_param_names(param_names)
        extra = dict(defaults or {})
        unknown = sorted(set(extra) - set(SETTINGS))
        if unknown:
            raise InvalidValueError(
                f"defaults has unknown setting(s) {unknown}; the settings are {SETTINGS}")
        self.base_config = TrainingConfig(**{"epochs": epochs, "schedule": schedule,
                                             "clip_grad_norm": clip_grad_norm, **extra})
        self.model_fn = model_fn
        self.train_data = train_data
        self.val_data = val_data
        self.loss_fn = loss_fn
        self.metric = metric
        self.monitor: Monitor = monitor
        self.device = resolve_device(device)
        self.amp_dtype = self._parse_amp(amp)
        self.seed = seed
        self.optimizer_fn = optimizer_fn
        self.batch_fn: BatchFn = batch_fn or unpack_batch
        self.val_batch_size = val_batch_size
        self.num_workers = num_workers
        if health is True:
            health = HealthMonitor()
        elif health is not False and not isinstance(health, Callback):
            raise InvalidValueError(f"health must be True, False or a Callback, got {health!r}")
        bar: tuple[Callback, ...] = ()
        if progress_enabled(progress):
            from bayestune.training.progress import ProgressBar  # noqa: PLC0415

            bar = (ProgressBar(),)
        self.callbacks: tuple[Callback, ...] = (
            DivergenceMonitor(divergence_factor), *((health,) if health else ()), *bar,
            *callbacks)
        self._hooks = {h: overriding(self.callbacks, h) for h in HOOKS}

    def _parse_amp(self, amp: Any) -> torch.dtype | None:
        if amp is False or amp is None:
            return None
        if amp is True or amp == "fp16":
            dtype = torch.float16
        elif amp == "bf16":
            dtype = torch.bfloat16
        else:
            raise InvalidValueError(f"amp must be False, True, 'fp16' or 'bf16', got {amp=!r}")
        if self.device.type != "cuda":
            logger.warning("amp=%r ignored: mixed precision runs on CUDA only, the device is %s",
                           amp, self.device)
            return None
        return dtype

    # -- the objective ----------------------------------------------------------------------
    def __call__(self, trial: Trial) -> float | None:
        """Train on ``trial.params``; the final monitored value, or None after telling
        the trial FAILED (divergence).

        Raises:
            TrialPruned: when the study's pruner stops the run.
        """
        result = self.run(trial.params, trial)
        attrs: dict[str, Any] = {"train_loss": list(result.train_losses),
                                 "val_loss": list(result.val_losses)}
        if self.metric is not None:
            attrs["metric"] = list(result.metrics)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        if result.status == "pruned":
            raise TrialPruned(result.reason or "pruned")
        if result.status == "failed":
            trial.study.tell(trial, state=TrialState.FAILED, reason=result.reason)
            return None
        return result.value

    def run(self, params: Mapping[str, Any], trial: Trial | None = None) -> TrainingResult:
        """Train once on ``params``; never raises for divergence or pruning.

        With a ``trial``, the monitored value is reported after each epoch and the run
        stops (status ``"pruned"``) when the trial's pruner says so.
        """
        params = dict(params)
        config = TrainingConfig.from_params(params, self.base_config, self.param_names)
        start = time.perf_counter()
        with seeded(self.seed, self.device):
            state, loaders = self._setup(params, config, trial)
            status, reason = self._train(state, *loaders)
        state.status, state.reason = status, reason
        for cb in self._hooks["on_train_end"]:
            cb.on_train_end(state)
        value_list = state.val_losses if self.monitor == "val_loss" else state.metrics
        logger.debug("run %s ended %s after %d epoch(s): %s", params, status,
                     len(state.val_losses), reason or value_list[-1:])
        return TrainingResult(
            status=status,
            value=value_list[-1] if value_list and status != "failed" else None,
            reason=reason,
            config=config,
            train_losses=tuple(state.train_losses),
            val_losses=tuple(state.val_losses),
            metrics=tuple(state.metrics),
            steps=state.step,
            seconds=time.perf_counter() - start,
            model=state.model,
        )

    # -- the run ----------------------------------------------------------------------------
    def _setup(self, params: dict[str, Any], config: TrainingConfig,
               trial: Trial | None) -> tuple[RunState, tuple[Any, Any]]:
        model = self.model_fn(dict(params))
        if not isinstance(model, torch.nn.Module):
            raise InvalidValueError(f"model_fn must return a torch.nn.Module, got {model!r}")
        model.to(self.device)
        if self.optimizer_fn is not None:
            optimizer = self.optimizer_fn(model, config)
        else:
            optimizer = build_optimizer(
                config.optimizer, model.parameters(), lr=config.lr, momentum=config.momentum,
                beta1=config.beta1, beta2=config.beta2, eps=config.eps,
                weight_decay=config.weight_decay)
        gen = None
        if self.seed is not None:
            gen = torch.Generator().manual_seed(self.seed)
        if "batch_size" in self.param_names and self.param_names["batch_size"] in params \
                and is_ready_loader(self.train_data):
            logger.warning("the trial's batch_size is ignored: train_data is a ready loader "
                           "with its own batch size")
        train = make_loader(self.train_data, config.batch_size, shuffle=True, generator=gen,
                            device=self.device, num_workers=self.num_workers)
        val = make_loader(self.val_data, self.val_batch_size or config.batch_size,
                          shuffle=False, generator=None, device=self.device,
                          num_workers=self.num_workers)
        per_epoch = len(train) if hasattr(train, "__len__") else None  # type: ignore[arg-type]
        total = None if per_epoch is None else per_epoch * config.epochs
        warmup = 0 if per_epoch is None else round(config.warmup_epochs * per_epoch)
        if config.warmup_epochs > 0 and per_epoch is None:
            warmup = 1  # build_schedule then explains that the length is needed
        scheduler = build_schedule(config.schedule, optimizer, total_steps=total,
                                   warmup_steps=warmup)
        state = RunState(params=params, config=config, model=model, optimizer=optimizer,
                         scheduler=scheduler, device=self.device, trial=trial,
                         steps_per_epoch=per_epoch,
                         scaler=_grad_scaler(self.device) if self.amp_dtype == torch.float16
                         else None)
        return state, (train, val)

    def _train(self, state: RunState, train_loader: Any, val_loader: Any
               ) -> tuple[Status, str | None]:
        """The epoch loop; returns how it ended."""
        try:
            for cb in self._hooks["on_train_begin"]:
                cb.on_train_begin(state)
            for epoch in range(state.config.epochs):
                state.epoch = epoch
                train_loss = self._train_epoch(state, train_loader)
                val_loss, metric = self._evaluate(state.model, val_loader, state)
                state.train_losses.append(train_loss)
                state.val_losses.append(val_loss)
                if metric is not None:
                    state.metrics.append(metric)
                state.epoch = epoch + 1
                for cb in self._hooks["on_epoch_end"]:
                    cb.on_epoch_end(state)
                if state.trial is not None:
                    state.trial.report(epoch + 1, val_loss if self.monitor == "val_loss"
                                       else metric)
                    if state.trial.should_prune():
                        return "pruned", f"pruned by the study's pruner after epoch {epoch + 1}"
                if state.stop_reason is not None:
                    logger.info("run stopped after epoch %d: %s", epoch + 1, state.stop_reason)
                    break
        except TrainingFailed as e:
            return "failed", str(e)
        except TrialPruned as e:
            return "pruned", str(e) or "pruned by a callback"
        return "complete", None

    def _train_epoch(self, state: RunState, loader: Any) -> float:
        model, optimizer, scheduler = state.model, state.optimizer, state.scheduler
        device, loss_fn, batch_fn = self.device, self.loss_fn, self.batch_fn
        clip = state.config.clip_grad_norm
        after_backward = self._hooks["on_after_backward"]
        batch_end = self._hooks["on_batch_end"]
        dtype = self.amp_dtype
        scaler = state.scaler
        total, count = 0.0, 0
        model.train()
        for batch in loader:
            inputs, targets = batch_fn(batch)
            inputs, targets = to_device(inputs, device), to_device(targets, device)
            if dtype is None:
                loss = loss_fn(forward(model, inputs), targets)
            else:
                with torch.autocast(device.type, dtype=dtype):
                    loss = loss_fn(forward(model, inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                if clip is not None or after_backward:
                    scaler.unscale_(optimizer)
            else:
                loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            for cb in after_backward:
                cb.on_after_backward(state)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            value = loss.item()
            n = batch_size_of(inputs, targets)
            total += value * n
            count += n
            state.step += 1
            state.batch_loss = value
            if state.initial_loss is None:
                state.initial_loss = value
            for cb in batch_end:
                cb.on_batch_end(state)
        if count == 0:
            raise InvalidValueError("the training data yielded no batches")
        return total / count

    def _evaluate(self, model: torch.nn.Module, loader: Any,
                  state: RunState | None = None) -> tuple[float, float | None]:
        device, batch_fn = self.device, self.batch_fn
        val_batch = self._hooks["on_validation_batch"] if state is not None else ()
        dtype = self.amp_dtype
        loss_mean, metric_mean = _Mean(), _Mean() if self.metric is not None else None
        model.eval()
        with torch.no_grad():
            for batch in loader:
                inputs, targets = batch_fn(batch)
                inputs, targets = to_device(inputs, device), to_device(targets, device)
                with (torch.autocast(device.type, dtype=dtype) if dtype is not None
                      else contextlib.nullcontext()):
                    outputs = forward(model, inputs)
                    loss = self.loss_fn(outputs, targets)
                n = batch_size_of(inputs, targets)
                loss_mean.add(loss, n)
                for cb in val_batch:
                    cb.on_validation_batch(state, outputs, targets)  # type: ignore[arg-type]
                if metric_mean is not None:
                    metric_mean.add(self.metric(outputs, targets), n)  # type: ignore[misc]
        if loss_mean.count == 0:
            raise InvalidValueError("the validation data yielded no batches")
        val = loss_mean.get()
        return val, (metric_mean.get() if metric_mean is not None else None)


def _grad_scaler(device: torch.device) -> Any:
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler(device.type)
    return torch.cuda.amp.GradScaler()  # pragma: no cover  (torch < 2.3)
