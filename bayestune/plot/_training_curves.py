"""The training curves plot: training and validation loss per epoch of some trials, with
their health flags.

The per-epoch records come from the trials' user attributes: the ``"health"`` record of
:class:`~bayestune.diagnostics.HealthMonitor` (what the torch adapter stores by default),
or plain ``train_loss`` / ``val_loss`` lists. The flags are those of
:mod:`bayestune.training.health`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune._checks import check_int, is_int
from bayestune.exceptions import InvalidValueError, UnknownTrialError
from bayestune.plot._common import float_array, new_axes, pyplot, wants_log
from bayestune.training.health import HealthThresholds, trial_record
from bayestune.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bayestune.study import Study

__all__ = ["TrialCurves", "TrainingCurvesData", "training_curves_data", "training_curves"]


_NO_CURVES = ("store them with bayestune.training.TorchObjective (health=True, the default), "
              "or set the user attributes 'train_loss' and 'val_loss' (one value per epoch)")

_FLAG = "#d62728"


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
    tr, va = float_array(rec.get("train_loss")), float_array(rec.get("val_loss"))
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
        if not is_int(number):
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
    check_int("max_trials", max_trials, low=1)
    chosen = _select(study, trials, max_trials)
    curves = [c for c in (_curves(t, thresholds) for t in chosen) if c is not None]
    if trials is None:
        curves = curves[:max_trials]
    if not curves:
        raise InvalidValueError(
            f"no trial of study {study.name!r} among those chosen has per-epoch losses: "
            f"{_NO_CURVES}")
    return TrainingCurvesData(tuple(curves), study.direction)


def training_curves(
    study: Study | TrainingCurvesData,
    trials: Iterable[Any] | None = None,
    *,
    ax: Axes | None = None,
    max_trials: int = 6,
    log_y: bool | None = None,
    thresholds: HealthThresholds | None = None,
) -> Axes:
    """Training (dashed) and validation (solid) loss per epoch for some trials, one colour
    per trial, with the health flags marked: a star at the epoch early stopping keeps for
    an overfitting run, a cross at the end of a diverging one; the legend names each
    trial's value and flags.

    Args:
        study: A study, or :func:`~bayestune.plot.training_curves_data`'s result.
        trials: Trial numbers to draw (default: the best completed trials with curves).
        ax: The axes to draw on (default: a new figure).
        max_trials: How many trials the default choice draws.
        log_y: Log loss axis (default: when the losses span more than two decades).
        thresholds: Recompute the flags with these thresholds.

    Returns:
        The axes.

    Examples:
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> study = bt.Study(bt.Space({"lr": bt.Float(1e-4, 1e-1, log=True)}),
        ...                  sampler=bt.samplers.RandomSampler(seed=0))
        >>> for train, val in (([0.9, 0.5, 0.35, 0.25], [1.0, 0.6, 0.5, 0.58]),
        ...                    ([1.0, 0.9, 0.8, 0.7], [1.1, 0.9, 0.8, 0.7])):
        ...     trial = study.ask()  # a loop of your own stores the per-epoch losses like this
        ...     trial.set_user_attr("train_loss", train)
        ...     trial.set_user_attr("val_loss", val)
        ...     _ = study.tell(trial, val[-1])
        >>> data = plot.training_curves_data(study)
        >>> [(c.number, c.best_epoch, list(c.flags)) for c in data.curves]
        [(0, 3, ['overfitting']), (1, 4, [])]
        >>> plot.training_curves(data).get_title()
        'Training curves: validation (solid) and training (dashed)'
    """
    data = study if isinstance(study, TrainingCurvesData) else training_curves_data(
        study, trials, max_trials=max_trials, thresholds=thresholds)
    plt = pyplot()
    ax = new_axes(ax, figsize=(7.0, 4.4))
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    stars, crosses = False, False
    for i, c in enumerate(data.curves):
        color = colors[i % len(colors)]
        ax.plot(c.epochs, c.val_loss, "-o", color=color, ms=3, lw=1.6, label=c.label)
        ax.plot(c.epochs, c.train_loss, "--", color=color, lw=1.2, alpha=0.8)
        if "overfitting" in c.flags and c.best_epoch is not None:
            ax.plot([c.best_epoch], [c.val_loss[c.best_epoch - 1]], "*", color=color, ms=14,
                    mec="black", mew=0.8, zorder=5)
            stars = True
        if "diverging" in c.flags:
            last = np.flatnonzero(np.isfinite(c.train_loss) | np.isfinite(c.val_loss))
            if len(last):
                j = int(last[-1])
                y = c.train_loss[j] if np.isfinite(c.train_loss[j]) else c.val_loss[j]
                ax.plot([c.epochs[j]], [y], "X", color=_FLAG, ms=11, mec="black", mew=0.8,
                        zorder=5)
                crosses = True
    values = [np.concatenate([c.train_loss, c.val_loss]) for c in data.curves]
    if log_y is None:
        log_y = wants_log(*values)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Training curves: validation (solid) and training (dashed)")
    max_epoch = max(int(c.epochs[-1]) for c in data.curves if len(c.epochs))
    if max_epoch <= 20:
        ax.set_xticks(range(1, max_epoch + 1))
    from matplotlib.lines import Line2D  # noqa: PLC0415 - matplotlib is loaded by now

    handles, labels = ax.get_legend_handles_labels()
    extra = []
    if stars:
        extra.append(Line2D([], [], ls="", marker="*", color="0.5", mec="black", ms=12,
                            label="overfitting: epoch early stopping keeps"))
    if crosses:
        extra.append(Line2D([], [], ls="", marker="X", color=_FLAG, mec="black", ms=10,
                            label="diverging"))
    ax.legend(handles + extra, labels + [h.get_label() for h in extra], fontsize=8,
              loc="best", framealpha=0.85)
    ax.grid(True, alpha=0.3)
    return ax
