"""The update-to-weight ratio plot: ``||Δw|| / ||w||`` per epoch of one monitored trial."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune.exceptions import InvalidValueError
from bayestune.plot._common import float_array, new_axes
from bayestune.training.health import HealthThresholds, trial_record
from bayestune.trial import FrozenTrial

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["UpdateRatioData", "update_ratio_data", "update_ratio"]


_FLAG = "#d62728"
_TARGET = "#2ca02c"


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
    ratio = float_array((rec or {}).get("update_ratio"))
    if not np.isfinite(ratio).any():
        raise InvalidValueError(
            f"trial {trial.number} holds no update-to-weight ratios: run it with "
            f"bayestune.training.TorchObjective(health=True) (the default)")
    n = len(ratio)
    layers = {k: float_array(v)[:n] for k, v in ((rec or {}).get("update_ratio_layers") or {}).items()}
    grad = float_array((rec or {}).get("grad_norm"))[:n]
    return UpdateRatioData(
        number=trial.number, epochs=np.arange(1, n + 1), ratio=ratio, layers=layers,
        grad_norm=np.concatenate([grad, np.full(n - len(grad), np.nan)]),
        target=th.ratio_target, slow=th.slow_ratio, flags=dict((rec or {}).get("flags") or {}))


def update_ratio(
    trial: Any,
    *,
    ax: Axes | None = None,
    layers: bool = True,
    thresholds: HealthThresholds | None = None,
) -> Axes:
    """A trial's update-to-weight ratio ``||Δw|| / ||w||`` per epoch on a log axis, with
    the rule of thumb (about 1e-3) and the learning-slowly threshold marked.

    Args:
        trial: A :class:`~bayestune.FrozenTrial` (``study.trials[n]``), a live trial, or
            :func:`~bayestune.plot.update_ratio_data`'s result.
        ax: The axes to draw on (default: a new figure).
        layers: Also draw each recorded weight tensor's ratio (thin lines).
        thresholds: Where the reference lines go.

    Returns:
        The axes.

    Examples:
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> study = bt.Study(bt.Space({"lr": bt.Float(1e-4, 1e-1, log=True)}),
        ...                  sampler=bt.samplers.RandomSampler(seed=0))
        >>> trial = study.ask()  # the record HealthMonitor stores for each monitored run
        >>> trial.set_user_attr("health", {"train_loss": [1.0, 0.8, 0.7],
        ...                                "val_loss": [1.0, 0.85, 0.8],
        ...                                "update_ratio": [2e-3, 1e-3, 8e-4]})
        >>> _ = study.tell(trial, 0.8)
        >>> data = plot.update_ratio_data(study.trials[0])
        >>> data.epochs.tolist(), data.ratio.tolist(), data.target
        ([1, 2, 3], [0.002, 0.001, 0.0008], 0.001)
        >>> plot.update_ratio(data).get_title()
        'Update-to-weight ratio, trial 0'
    """
    data = trial if isinstance(trial, UpdateRatioData) else update_ratio_data(
        trial, thresholds=thresholds)
    ax = new_axes(ax, figsize=(6.4, 4.2))
    if layers and data.layers:
        show_names = len(data.layers) <= 8
        for k, (name, r) in enumerate(data.layers.items()):
            ax.plot(data.epochs, r, "-", lw=0.9, alpha=0.6,
                    label=name if show_names else ("per weight tensor" if k == 0 else None))
    ax.plot(data.epochs, data.ratio, "-o", color="black", lw=2.0, ms=4, label="all parameters")
    ax.axhline(data.target, color=_TARGET, ls="--", lw=1.2,
               label=f"rule of thumb ≈ {data.target:g}")
    ax.axhline(data.slow, color=_FLAG, ls=":", lw=1.2,
               label=f"below {data.slow:g}: learning slowly")
    ax.set_yscale("log")
    finite = np.concatenate([data.ratio[np.isfinite(data.ratio) & (data.ratio > 0)],
                             *[r[np.isfinite(r) & (r > 0)] for r in data.layers.values()],
                             [data.target, data.slow]])
    lo, hi = float(finite.min()), float(finite.max())
    ax.set_ylim(lo / 2.0, hi * 2.0)
    ax.set_xlabel("epoch")
    ax.set_ylabel("update / weight norm ratio")
    flags = ", ".join(f.replace("_", " ") for f in data.flags)
    ax.set_title(f"Update-to-weight ratio, trial {data.number}" + (f" ({flags})" if flags else ""))
    if len(data.epochs) <= 20:
        ax.set_xticks(data.epochs)
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    ax.grid(True, which="both", alpha=0.25)
    return ax
