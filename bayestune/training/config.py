"""The training settings of one run, read from a trial's parameters over defaults."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bayestune._checks import check_int, check_number, is_number
from bayestune.exceptions import InvalidValueError
from bayestune.training.schedules import Schedule, parse_schedule

__all__ = ["TrainingConfig", "SETTINGS", "DEFAULT_PARAM_NAMES", "parse_param_names"]


@dataclass(frozen=True)
class TrainingConfig:
    """What the adapter needs besides the model: optimizer, its settings, batching, epochs.

    Attributes:
        optimizer: One of :data:`~bayestune.training.OPTIMIZERS` (or a name your
            ``optimizer_fn`` knows), lower-cased.
        lr: The (peak) learning rate.
        momentum: SGD / RMSprop momentum; None for the optimizer's usual value (0.9 for
            ``momentum`` and ``nesterov``, 0 for ``sgd`` and ``rmsprop``).
        beta1: Adam's first-moment decay.
        beta2: Adam's second-moment decay.
        eps: Adam's / RMSprop's denominator constant.
        weight_decay: L2 penalty (SGD, Adam, RMSprop) or decoupled decay (AdamW).
        batch_size: Training examples per batch (ignored when a loader is given).
        epochs: Passes over the training data.
        schedule: See :data:`~bayestune.training.SCHEDULES`.
        warmup_epochs: Epochs (may be fractional) of linear lr warm-up.
        clip_grad_norm: Clip the global gradient norm to this value (None: no clipping).
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float | None = None
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 10
    schedule: Schedule = None
    warmup_epochs: float = 0.0
    clip_grad_norm: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.optimizer, str) or not self.optimizer:
            raise InvalidValueError(
                f"optimizer must be a name such as 'adam', got optimizer={self.optimizer!r}")
        # the name is checked where the optimizer is built: an optimizer_fn may know others
        set_(self, "optimizer", self.optimizer.lower())
        set_(self, "schedule", parse_schedule(self.schedule))
        set_(self, "batch_size", _positive_int("batch_size", self.batch_size))
        set_(self, "epochs", _positive_int("epochs", self.epochs))
        for name in ("lr", "beta1", "beta2", "eps", "weight_decay", "warmup_epochs"):
            set_(self, name, _number(name, getattr(self, name)))
        if self.lr <= 0:
            raise InvalidValueError(f"lr must be > 0, got lr={self.lr!r}")
        if self.warmup_epochs < 0:
            raise InvalidValueError(
                f"warmup_epochs must be >= 0, got warmup_epochs={self.warmup_epochs!r}")
        if self.momentum is not None:
            set_(self, "momentum", _number("momentum", self.momentum))
        if self.clip_grad_norm is not None:
            set_(self, "clip_grad_norm", _number("clip_grad_norm", self.clip_grad_norm))
            if self.clip_grad_norm <= 0:
                raise InvalidValueError(
                    f"clip_grad_norm must be > 0 or None, got clip_grad_norm={self.clip_grad_norm!r}")

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any],
        base: TrainingConfig,
        param_names: Mapping[str, str],
    ) -> TrainingConfig:
        """``base`` with every setting whose parameter (per ``param_names``) is in ``params``.

        Raises:
            InvalidValueError: naming the parameter, for an out-of-range value.
        """
        found = {s: params[p] for s, p in param_names.items() if p in params}
        if not found:
            return base
        try:
            return dataclasses.replace(base, **found)
        except InvalidValueError as e:
            raise InvalidValueError(f"{e} (from the trial's params {dict(params)!r})") from None


#: The settings a configuration can set.
SETTINGS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainingConfig))

#: Setting -> the trial parameter read for it (the defaults: the setting's own name).
DEFAULT_PARAM_NAMES: dict[str, str] = {s: s for s in SETTINGS}


def parse_param_names(overrides: Mapping[str, str | None] | None) -> dict[str, str]:
    """The setting -> parameter mapping with ``overrides`` applied; None drops a setting
    (it then always comes from the defaults).

    Raises:
        InvalidValueError: naming an unknown setting or a non-string parameter name.
    """
    names = dict(DEFAULT_PARAM_NAMES)
    if overrides is None:
        return names
    if not isinstance(overrides, Mapping):
        raise InvalidValueError(f"param_names must be a dict, got {overrides!r}")
    for setting, param in overrides.items():
        if setting not in names:
            raise InvalidValueError(
                f"param_names has an unknown setting {setting!r}; the settings are {SETTINGS}")
        if param is None:
            del names[setting]
        elif not isinstance(param, str) or not param:
            raise InvalidValueError(
                f"param_names[{setting!r}] must be a parameter name, got {param!r}")
        else:
            names[setting] = param
    return names


def _positive_int(name: str, v: Any) -> int:
    """A count read from a trial's parameters: a whole float (32.0) counts as an int."""
    if is_number(v) and math.isfinite(v) and float(v).is_integer():
        v = int(v)
    return check_int(name, v, low=1)


def _number(name: str, v: Any) -> float:
    return check_number(name, v)
