"""The convergence plot: the best value so far against trial number."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bayestune.exceptions import InvalidValueError
from bayestune.plot._common import (
    FAIL,
    MODEL,
    edge_marks,
    new_axes,
    pyplot,
    study_trials,
    value_label,
    wants_log,
)
from bayestune.trial import TrialState

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bayestune.study import Study

__all__ = ["ConvergenceData", "convergence_data", "convergence"]


@dataclass(frozen=True)
class ConvergenceData:
    """One study's history, in trial-number order (finished trials only).

    Attributes:
        label: The study's name (or the label given).
        direction: ``"minimize"`` or ``"maximize"``.
        numbers: ``n`` trial numbers of the finished trials.
        values: ``n`` values (nan for FAILED trials and for PRUNED trials without one).
        states: ``n`` states (``TrialState``), as a tuple.
        best_so_far: ``n`` best COMPLETE value among trials up to and including each one
            (nan until the first trial completes). PRUNED values are partial training
            runs, so they never count as the best.
    """

    label: str
    direction: str
    numbers: np.ndarray
    values: np.ndarray
    states: tuple[TrialState, ...]
    best_so_far: np.ndarray

    def mask(self, state: TrialState) -> np.ndarray:
        """``n`` booleans: which trials are in ``state``."""
        return np.array([s is state for s in self.states], dtype=bool)

    @property
    def best_value(self) -> float:
        """The final best value (nan if no trial completed)."""
        return float(self.best_so_far[-1]) if len(self.best_so_far) else math.nan


def convergence_data(study: Study, label: str | None = None) -> ConvergenceData:
    """The best value so far against trial number, with every finished trial's state."""
    finished = [t for t in study_trials(study) if t.state.is_finished]
    numbers = np.array([t.number for t in finished], dtype=int)
    values = np.array(
        [t.value if t.value is not None else math.nan for t in finished], dtype=float
    )
    if study.direction == "maximize":
        better = np.fmax
    else:
        better = np.fmin
    complete = np.array([t.state is TrialState.COMPLETE for t in finished], dtype=bool)
    best = np.full(len(finished), math.nan)
    current = math.nan
    for i, (ok, v) in enumerate(zip(complete, values, strict=True)):
        if ok and math.isfinite(v):
            current = float(better(current, v))
        best[i] = current
    return ConvergenceData(
        label=label if label is not None else study.name,
        direction=study.direction,
        numbers=numbers,
        values=values,
        states=tuple(t.state for t in finished),
        best_so_far=best,
    )


def convergence(
    studies: Study | ConvergenceData | Sequence[Study | ConvergenceData],
    *,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    log_y: bool | None = None,
    show_trials: bool = True,
) -> Axes:
    """Best value so far against trial number; several studies share one axes.

    Every COMPLETE trial is a dot, PRUNED trials hollow triangles at their last
    reported value, FAILED trials red crosses on the axes' worse edge (they have no
    value). With several studies each gets its own colour.

    Args:
        studies: A study, its :func:`~bayestune.plot.convergence_data`, or a list of them.
        ax: Axes to draw on (a new figure when None).
        labels: Legend labels, one per study (default: the studies' names). Studies
            given the same label share a colour and one legend entry (several seeds of
            one method).
        log_y: Log-scale the value axis (default: when every value is positive and they
            span more than two decades).
        show_trials: Draw the individual trials, not only the best-so-far curve.

    Examples:
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> study = bt.Study(bt.Space({"x": bt.Float(-2.0, 2.0)}), seed=0)
        >>> study.optimize(lambda trial: trial.params["x"] ** 2, n_trials=8)
        >>> data = plot.convergence_data(study)  # the numbers, without drawing
        >>> data.best_so_far.shape, bool(data.best_value == study.best_value)
        ((8,), True)
        >>> plot.convergence(study).get_title()
        'Convergence'
    """
    items = list(studies) if isinstance(studies, Sequence) else [studies]
    if not items:
        raise InvalidValueError("convergence needs at least one study")
    if labels is not None and len(labels) != len(items):
        raise InvalidValueError(f"got {len(labels)} labels for {len(items)} studies")
    data: list[ConvergenceData] = []
    for i, s in enumerate(items):
        lab = labels[i] if labels is not None else None
        d = s if isinstance(s, ConvergenceData) else convergence_data(s, lab)
        data.append(d)
    names = [d.label for d in data]
    if len(set(names)) < len(names) and labels is None:  # "default" twice: number them
        names = [f"{n} ({i})" for i, n in enumerate(names)]
    direction = data[0].direction
    ax = new_axes(ax)
    several = len(data) > 1
    if log_y is None:
        log_y = wants_log(*[d.values for d in data])
    colors = pyplot().rcParams["axes.prop_cycle"].by_key().get("color", [MODEL])
    groups = list(dict.fromkeys(names))  # studies with the same label share a colour
    labelled: set[str] = set()
    for d, name in zip(data, names, strict=True):
        color = colors[groups.index(name) % len(colors)]
        complete = d.mask(TrialState.COMPLETE)
        pruned = d.mask(TrialState.PRUNED) & np.isfinite(d.values)
        failed = d.mask(TrialState.FAILED) | (d.mask(TrialState.PRUNED) & ~np.isfinite(d.values))
        suffix = f" ({name})" if several else ""
        if show_trials:
            ax.scatter(d.numbers[complete], d.values[complete], s=16, color=color,
                       alpha=0.45 if several else 0.6, linewidths=0,
                       label=None if several else "trial", zorder=2)
            if pruned.any():
                ax.scatter(d.numbers[pruned], d.values[pruned], s=26, marker="v",
                           facecolors="none", edgecolors=color, linewidths=1.0,
                           label="pruned" + suffix if not several else None, zorder=2)
            edge_marks(ax, d.numbers[failed], top=direction == "minimize",
                        label=None if several or not failed.any() else "failed")
        ok = np.isfinite(d.best_so_far)
        if ok.any():
            label = f"best so far{suffix}" if not several else name
            ax.step(d.numbers[ok], d.best_so_far[ok], where="post", color=color, lw=2.0,
                    label=None if label in labelled else label, zorder=3)
            labelled.add(label)
    if several and show_trials and any(
        (d.mask(TrialState.FAILED)).any() for d in data
    ):
        ax.scatter([], [], marker="x", color=FAIL, label="failed")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("trial number")
    ax.set_ylabel(value_label(direction))
    ax.set_title("Convergence")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return ax
