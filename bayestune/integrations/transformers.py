"""Hugging Face Transformers: a pruning ``TrainerCallback`` and trial params -> ``TrainingArguments``.

Usage::

    from bayestune.integrations.transformers import BayesTuneCallback, training_arguments

    base = TrainingArguments(output_dir="runs", eval_strategy="epoch", save_strategy="no")

    def objective(trial):
        cb = BayesTuneCallback(trial, monitor="eval_loss")
        trainer = Trainer(model_init(), training_arguments(trial, base),
                          train_dataset=train, eval_dataset=val, callbacks=[cb])
        trainer.train()
        cb.check_pruned()  # raises bayestune.TrialPruned if the pruner stopped training
        return trainer.evaluate()["eval_loss"]
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from typing import Any

from bayestune.exceptions import InvalidValueError
from bayestune.integrations._pruning import HFStepBy, PruningReporter
from bayestune.trial import FrozenTrial, Trial

try:
    from transformers import TrainerCallback, TrainingArguments
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'bayestune.integrations.transformers needs Hugging Face Transformers: '
        'pip install "bayestune[transformers]"'
    ) from e

__all__ = ["BayesTuneCallback", "training_arguments"]

logger = logging.getLogger(__name__)


def _broadcast_from_rank_zero(flag: bool) -> bool:
    """Rank 0's verdict on every rank (the identity outside distributed training)."""
    import torch.distributed as dist  # noqa: PLC0415

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        box = [flag]
        dist.broadcast_object_list(box, src=0)
        return bool(box[0])
    return flag


class BayesTuneCallback(PruningReporter, TrainerCallback):
    """Report an evaluation metric to ``trial`` and stop training when the pruner says so.

    After every evaluation during ``Trainer.train`` the callback reports ``monitor`` at
    the step that ``step_by`` counts, asks the study's pruner, and on a prune verdict sets
    ``control.should_training_stop`` so the Trainer ends the run cleanly.

    When the batch size is searched (a parameter whose name holds ``batch_size``, such as
    ``per_device_train_batch_size``), global steps measure unequal amounts of training: a
    batch-16 run takes twice the steps of a batch-32 run per epoch, so comparing them at
    the same global step would prune the former after half the data. ``step_by="auto"``
    (the default) then reports by epoch (with ``eval_strategy="epoch"``) or by training
    examples seen (with step-based evaluation), and by global step otherwise.
    Call :meth:`check_pruned` after ``train()`` to end the trial as PRUNED. Evaluations
    outside ``train()`` (a final ``trainer.evaluate()`` on a test set) are ignored.

    Args:
        trial: The trial being trained.
        monitor: A key of the evaluation metrics; ``"eval_"`` is prepended when the bare
            name is missing, so ``"accuracy"`` finds ``"eval_accuracy"``.
        step_by: ``"auto"`` (default, as above), ``"global_step"``, ``"epoch"`` (the
            rounded ``state.epoch``, which starts at 1 with ``eval_strategy="epoch"``),
            or ``"examples"`` (``global_step`` x ``per_device_train_batch_size`` x
            ``gradient_accumulation_steps`` x the number of processes).

    Attributes:
        step_by: The counter in use (``"auto"`` is resolved when training begins).
        pruned: True once the pruner stopped training.
        pruned_step: The step at which it did, else None.
        last_value: The last reported value of ``monitor``.

    Raises:
        InvalidValueError: at construction for a bad argument; at evaluation when the
            metrics have no ``monitor``.
    """

    def __init__(
        self, trial: Trial, monitor: str = "eval_loss", step_by: HFStepBy = "auto"
    ) -> None:
        PruningReporter.__init__(self, trial, monitor, step_by,
                                 allowed=HFStepBy)
        self._asked: HFStepBy = step_by
        self._training = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._reset()
        self._training = True
        self.step_by = self._resolve(args) if self._asked == "auto" else self._asked

    def _resolve(self, args: Any) -> str:
        if not any("batch_size" in name for name in self.trial.params):
            return "global_step"
        strategy = getattr(args, "eval_strategy", getattr(args, "evaluation_strategy", ""))
        by_epoch = str(getattr(strategy, "value", strategy)) == "epoch"
        logger.debug("trial %d searches the batch size: reporting by %s", self.trial.number,
                     "epoch" if by_epoch else "examples seen")
        return "epoch" if by_epoch else "examples"

    def _step(self, args: Any, state: Any) -> int:
        if self.step_by == "epoch":
            return int(round(state.epoch or 0))
        if self.step_by == "examples":
            return int(state.global_step * args.per_device_train_batch_size
                       * args.gradient_accumulation_steps * max(1, args.world_size))
        return int(state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._training = False

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self._training:  # e.g. a final trainer.evaluate() on a test set
            return
        value = self._lookup(metrics or {}, aliases=(f"eval_{self.monitor}",))
        step = self._step(args, state)
        stop = self._report(step, value) if state.is_world_process_zero else False
        if _broadcast_from_rank_zero(stop):
            if self.pruned_step is None:  # ranks other than 0 learn the verdict here
                self.pruned_step, self.last_value = int(step), value
            logger.info("trial %d pruned at %s %d (%s=%.6g)", self.trial.number,
                        self.step_by, step, self.monitor, value)
            control.should_training_stop = True


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def _target(name: str, fields: Mapping[str, dataclasses.Field]) -> str:
    """The TrainingArguments field a parameter called ``name`` sets."""
    if name == "warmup_ratio" and name not in fields and "warmup_steps" in fields:
        return "warmup_steps"  # Transformers 5 reads a float < 1 in warmup_steps as a ratio
    return name


def training_arguments(
    trial: Trial | FrozenTrial | Mapping[str, Any],
    base: TrainingArguments | Mapping[str, Any] | None = None,
    mapping: Mapping[str, str | None] | None = None,
    *,
    trial_subdir: bool = True,
) -> TrainingArguments:
    """``base`` with the trial's hyperparameters written into it.

    A parameter named after a ``TrainingArguments`` field (``learning_rate``,
    ``weight_decay``, ``warmup_ratio``, ``per_device_train_batch_size``,
    ``num_train_epochs``, ``lr_scheduler_type``, ...) sets that field; ``mapping`` renames
    (``{"lr": "learning_rate", "batch_size": "per_device_train_batch_size"}``) or, with
    None, leaves a parameter out. Other parameters (model hyperparameters such as a
    dropout rate) are left for the caller. ``warmup_ratio`` goes to ``warmup_steps`` on
    Transformers 5, which reads a fraction there.

    Args:
        trial: The trial, a finished one (``study.trials[-1]``, ``study.best_trial``),
            or a plain dict of parameters.
        base: The arguments shared by every trial (a ``TrainingArguments`` or the dict of
            keyword arguments to build one); never modified.
        mapping: Parameter name -> ``TrainingArguments`` field name (or None to skip).
        trial_subdir: Put each trial's outputs in ``<output_dir>/trial-<number>`` so that
            trials do not overwrite each other's checkpoints (for a trial, running or
            finished).

    Returns:
        A new ``TrainingArguments`` (of ``base``'s class when ``base`` is an instance).

    Raises:
        InvalidValueError: if ``mapping`` names a parameter the trial lacks or a field
            ``TrainingArguments`` does not have.
    """
    is_trial = isinstance(trial, (Trial, FrozenTrial))
    if not is_trial and not isinstance(trial, Mapping):
        raise InvalidValueError(
            f"trial must be a Trial, a FrozenTrial or a dict of parameters, got {trial!r}")
    params = dict(trial.params if is_trial else trial)  # type: ignore[union-attr]
    fields = _fields(type(base) if isinstance(base, TrainingArguments) else TrainingArguments)
    mapping = dict(mapping or {})
    for name, target in mapping.items():
        if name not in params:
            raise InvalidValueError(
                f"mapping names parameter {name!r}, which the trial lacks (it has "
                f"{sorted(params)})"
            )
        if target is not None and _target(target, fields) not in fields:
            raise InvalidValueError(
                f"mapping sends {name!r} to {target!r}, which is not a TrainingArguments field"
            )
    updates: dict[str, Any] = {}
    for name, value in params.items():
        target = mapping.get(name, name)
        if target is None:
            continue
        target = _target(target, fields)
        if target not in fields:
            logger.debug("parameter %r is not a TrainingArguments field; left out", name)
            continue
        if fields[target].type in (int, "int") and isinstance(value, float) \
                and value.is_integer():
            value = int(value)
        updates[target] = value
    if isinstance(base, TrainingArguments):
        kwargs: dict[str, Any] = {}
        out_dir = base.output_dir
    else:
        kwargs = dict(base or {})
        out_dir = kwargs.get("output_dir")
    if trial_subdir and is_trial and out_dir:
        updates.setdefault("output_dir",
                           os.path.join(out_dir, f"trial-{trial.number}"))  # type: ignore[union-attr]
    if isinstance(base, TrainingArguments):
        return dataclasses.replace(base, **updates)
    return TrainingArguments(**{**kwargs, **updates})
