"""What the training plots draw, computed without drawing.

The per-epoch records come from the trials' user attributes: the ``"health"`` record of
:class:`~bayestune.diagnostics.HealthMonitor` (what the torch adapter stores by default),
or plain ``train_loss`` / ``val_loss`` lists. The flags are those of
:mod:`bayestune.training.health`. Nothing here imports matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune.exceptions import InvalidValueError, UnknownTrialError
from bayestune.training.health import HealthThresholds, trial_record
from bayestune.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from bayestune.study import Study

__all__ = ["TrialCurves", "TrainingCurvesData", "UpdateRatioData", "training_curves_data",
           "update_ratio_data"]

_NO_CURVES = ("store them with bayestune.training.TorchObjective (health=True, the default), "
              "or set the user attributes 'train_loss' and 'val_loss' (one value per epoch)")


def _array(xs: Any) -> np.ndarray:
    return np.array([np.nan if x is None else float(x) for x in (xs or [])], dtype=float)


@dataclass(frozen=True)
class TrialCurves:
    """One trial's per-epoch curves and flags.

    Attributes:
        number: The trial's number.
        state: Its state (``"COMPLETE"``, ``"PRUNED"``, ``"FAILED"``, ``"RUNNING"``).
        value: Its objective value, or None.
        epochs: ``1 .. E``.
        train_loss: ``E`` training losses (nan where missing).
        val_loss: ``E`` validation losses (nan where missing).
        flags: ``{flag: details}`` of :func:`~bayestune.diagnostics.health_flags`.
        best_epoch: The epoch of the lowest validation loss (what early stopping keeps).
        stop_epoch: The epoch at which the GL criterion stops an overfitting run, else None.
    """

    number: int
    state: str
    value: float | None
    epochs: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    flags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    best_epoch: int | None = None
    stop_epoch: int | None = None

    @property
    def label(self) -> str:
        """``"trial 3 (0.123; overfitting)"``: the legend entry."""
        parts = [] if self.value is None else [f"{self.value:.4g}"]
        if self.state != "COMPLETE":
            parts.append(self.state.lower())
        parts += [f.replace("_", " ") for f in self.flags]
        return f"trial {self.number}" + (f" ({'; '.join(parts)})" if parts else "")


@dataclass(frozen=True)
class TrainingCurvesData:
    """Curves of several trials, in the order they are drawn.

    Attributes:
        curves: One :class:`TrialCurves` per trial.
        direction: The study's direction (how ``value`` reads).
    """

    curves: tuple[TrialCurves, ...]
    direction: str = "minimize"

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(c.number for c in self.curves)


def _curves(trial: FrozenTrial, thresholds: HealthThresholds | None) -> TrialCurves | None:
    rec = trial_record(trial, thresholds)
    if rec is None:
        return None
    tr, va = _array(rec.get("train_loss")), _array(rec.get("val_loss"))
    n = max(len(tr), len(va))
    tr = np.concatenate([tr, np.full(n - len(tr), np.nan)])
    va = np.concatenate([va, np.full(n - len(va), np.nan)])
    flags = rec.get("flags") or {}
    best = int(np.nanargmin(va)) + 1 if np.isfinite(va).any() else None
    over = flags.get("overfitting")
    if over:
        best = int(over["best_epoch"])
    return TrialCurves(
        number=trial.number, state=trial.state.value, value=trial.value,
        epochs=np.arange(1, n + 1), train_loss=tr, val_loss=va, flags=dict(flags),
        best_epoch=best, stop_epoch=int(over["stop_epoch"]) if over else None)


def _select(study: Study, trials: Iterable[Any] | None, max_trials: int) -> list[FrozenTrial]:
    all_trials = study.trials
    if trials is None:
        sign = 1.0 if study.direction == "minimize" else -1.0
        done = [t for t in all_trials if t.state is TrialState.COMPLETE and t.value is not None
                and math.isfinite(t.value)]
        done.sort(key=lambda t: (sign * t.value, t.number))  # type: ignore[operator]
        return done
    out = []
    for t in trials:
        number = t.number if hasattr(t, "number") else t
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)):
            raise InvalidValueError(f"trials must hold trial numbers or trials, got {t!r}")
        if not 0 <= int(number) < len(all_trials):
            raise UnknownTrialError(f"study {study.name!r} has no trial {number}")
        out.append(all_trials[int(number)])
    return out


def training_curves_data(
    study: Study,
    trials: Iterable[int | FrozenTrial] | None = None,
    *,
    max_trials: int = 6,
    thresholds: HealthThresholds | None = None,
) -> TrainingCurvesData:
    """The training and validation curves of some of a study's trials, with their flags.

    Args:
        study: The study.
        trials: Trial numbers (or trials) to show, in that order; default: the best
            completed trials that have curves (the Playbook looks at "at least the best
            few trials"), at most ``max_trials``.
        max_trials: How many trials the default choice shows.
        thresholds: Recompute the flags with these thresholds.

    Raises:
        InvalidValueError: when none of the chosen trials has per-epoch losses.
        UnknownTrialError: for a trial number the study does not hold.
    """
    if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
        raise InvalidValueError(f"max_trials must be a positive int, got {max_trials=!r}")
    chosen = _select(study, trials, max_trials)
    curves = [c for c in (_curves(t, thresholds) for t in chosen) if c is not None]
    if trials is None:
        curves = curves[:max_trials]
    if not curves:
        raise InvalidValueError(
            f"no trial of study {study.name!r} among those chosen has per-epoch losses: "
            f"{_NO_CURVES}")
    return TrainingCurvesData(tuple(curves), study.direction)


@dataclass(frozen=True)
class UpdateRatioData:
    """A trial's update-to-weight ratio per epoch.

    Attributes:
        number: The trial's number.
        epochs: ``1 .. E``.
        ratio: ``E`` ratios ``||Δw|| / ||w||`` over all trainable parameters (nan where
            not measured).
        layers: ``{weight tensor name: E ratios}``.
        grad_norm: ``E`` global gradient norms.
        target: The rule of thumb (about 1e-3, CS231n).
        slow: Below this (with a loss that barely moves) a run learns slowly.
        flags: The trial's health flags.
    """

    number: int
    epochs: np.ndarray
    ratio: np.ndarray
    layers: Mapping[str, np.ndarray]
    grad_norm: np.ndarray
    target: float
    slow: float
    flags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def update_ratio_data(trial: Any, *,
                      thresholds: HealthThresholds | None = None) -> UpdateRatioData:
    """The update-to-weight ratios a monitored trial recorded.

    Args:
        trial: A :class:`~bayestune.FrozenTrial` (e.g. ``study.trials[3]``), or a live
            :class:`~bayestune.Trial` handle.

    Raises:
        InvalidValueError: when the trial holds no update ratios (it ran without the
            health monitor, or with ``update_ratio=False``).
    """
    if not isinstance(trial, FrozenTrial):
        if hasattr(trial, "study") and hasattr(trial, "number"):
            trial = trial.study.get_trial(trial.number)
        else:
            raise InvalidValueError(f"expected a trial, got {type(trial).__name__}")
    th = thresholds or HealthThresholds()
    rec = trial_record(trial, thresholds)
    ratio = _array((rec or {}).get("update_ratio"))
    if not np.isfinite(ratio).any():
        raise InvalidValueError(
            f"trial {trial.number} holds no update-to-weight ratios: run it with "
            f"bayestune.training.TorchObjective(health=True) (the default)")
    n = len(ratio)
    layers = {k: _array(v)[:n] for k, v in ((rec or {}).get("update_ratio_layers") or {}).items()}
    grad = _array((rec or {}).get("grad_norm"))[:n]
    return UpdateRatioData(
        number=trial.number, epochs=np.arange(1, n + 1), ratio=ratio, layers=layers,
        grad_norm=np.concatenate([grad, np.full(n - len(grad), np.nan)]),
        target=th.ratio_target, slow=th.slow_ratio, flags=dict((rec or {}).get("flags") or {}))
