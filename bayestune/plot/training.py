"""Drawing training curves and update ratios with matplotlib (the ``bayestune[plot]``
extra). Each function draws on ``ax`` (a new figure when None) and returns it; nothing
global is changed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune.plot._training_data import (
    TrainingCurvesData,
    UpdateRatioData,
    training_curves_data,
    update_ratio_data,
)
from bayestune.plot.matplotlib import _new_axes, _pyplot, _wants_log

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bayestune.study import Study
    from bayestune.training.health import HealthThresholds

__all__ = ["training_curves", "update_ratio"]

_FLAG = "#d62728"
_TARGET = "#2ca02c"


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
    """
    data = study if isinstance(study, TrainingCurvesData) else training_curves_data(
        study, trials, max_trials=max_trials, thresholds=thresholds)
    plt = _pyplot()
    ax = _new_axes(ax, figsize=(7.0, 4.4))
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
        log_y = _wants_log(*values)
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
    """
    data = trial if isinstance(trial, UpdateRatioData) else update_ratio_data(
        trial, thresholds=thresholds)
    ax = _new_axes(ax, figsize=(6.4, 4.2))
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
