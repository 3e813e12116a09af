"""Drawing the plot data with matplotlib (the ``bayestune[plot]`` extra).

Each function takes a study (or the data from :mod:`bayestune.plot._data`) and an
optional ``ax``; it draws on ``ax`` (a new figure when None) and returns it, or returns
a ``Figure`` for a grid of plots. Nothing else is changed: no ``plt.show()``, no style
or rcParams set globally.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune.exceptions import InvalidValueError
from bayestune.plot import _data
from bayestune.plot._data import (
    ConvergenceData,
    ImportanceData,
    LRRangeData,
    ParallelCoordinatesData,
    SurrogateLike,
)
from bayestune.trial import TrialState

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bayestune.study import Study

from bayestune.plot._mpl_common import (  # noqa: F401 - re-exported for plot.training
    _ACQ,
    _BEST,
    _FAIL,
    _MODEL,
    _OBS,
    _RULES,
    _edge_marks,
    _new_axes,
    _pyplot,
    _value_label,
    _value_limits,
    _wants_log,
)
from bayestune.plot._posterior_draw import (  # noqa: F401 - one module for every plot
    acquisition_slice,
    posterior_contour,
    posterior_slice,
    posterior_slices,
)

__all__ = [
    "convergence",
    "parallel_coordinates",
    "lr_range",
    "importance",
    "posterior_slice",
    "posterior_slices",
    "posterior_contour",
    "acquisition_slice",
]



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
    """
    items = list(studies) if isinstance(studies, Sequence) else [studies]
    if not items:
        raise InvalidValueError("convergence needs at least one study")
    if labels is not None and len(labels) != len(items):
        raise InvalidValueError(f"got {len(labels)} labels for {len(items)} studies")
    data: list[ConvergenceData] = []
    for i, s in enumerate(items):
        lab = labels[i] if labels is not None else None
        d = s if isinstance(s, ConvergenceData) else _data.convergence_data(s, lab)
        data.append(d)
    names = [d.label for d in data]
    if len(set(names)) < len(names) and labels is None:  # "default" twice: number them
        names = [f"{n} ({i})" for i, n in enumerate(names)]
    direction = data[0].direction
    ax = _new_axes(ax)
    several = len(data) > 1
    if log_y is None:
        log_y = _wants_log(*[d.values for d in data])
    colors = _pyplot().rcParams["axes.prop_cycle"].by_key().get("color", [_MODEL])
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
            _edge_marks(ax, d.numbers[failed], top=direction == "minimize",
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
        ax.scatter([], [], marker="x", color=_FAIL, label="failed")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("trial number")
    ax.set_ylabel(_value_label(direction))
    ax.set_title("Convergence")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return ax


# --------------------------------------------------------------------------------------
def parallel_coordinates(
    study: Study | ParallelCoordinatesData,
    *,
    ax: Axes | None = None,
    params: Sequence[str] | None = None,
    log_value: bool | None = None,
    cmap: str = "viridis",
) -> Axes:
    """One polyline per COMPLETE trial through an axis per parameter and the value.

    Lines are coloured by value, the best ones brightest and drawn on top; FAILED
    trials are dashed red lines through the parameter axes. Axes of log parameters
    are log-spaced; categorical choices are spread evenly.
    """
    d = study if isinstance(study, ParallelCoordinatesData) else \
        _data.parallel_coordinates_data(study, params, log_value)
    plt = _pyplot()
    direction = _data.direction_of(study)
    k = len(d.names)
    ax = _new_axes(ax, figsize=(max(6.4, 1.5 * k), 4.2))
    xs = np.arange(k)
    # colour by rank (one huge loss must not paint every other line the same), the
    # best brightest and drawn last
    v = d.coords[:, -1] if direction == "maximize" else -d.coords[:, -1]
    order = np.argsort(v, kind="stable")
    score = np.empty(len(v))
    score[order] = np.linspace(0.0, 1.0, len(v)) if len(v) > 1 else 1.0
    cm = plt.get_cmap(cmap)
    for i in order:
        ax.plot(xs, d.coords[i], color=cm(score[i]), lw=1.2, alpha=0.8, zorder=2)
    for row in d.failed_coords:
        ax.plot(xs[:-1], row, color=_FAIL, lw=0.8, ls="--", alpha=0.5, zorder=1)
    for x, ticks in zip(xs, d.ticks, strict=True):
        ax.axvline(x, color="black", lw=0.8, zorder=1)
        for pos, lab in zip(ticks.positions, ticks.labels, strict=True):
            ax.text(x + 0.04, pos, lab, fontsize=7, va="center", ha="left",
                    bbox={"facecolor": "white", "alpha": 0.6, "edgecolor": "none", "pad": 0.5},
                    zorder=5)
    ax.set_xticks(xs)
    ax.set_xticklabels([*d.names[:-1], d.names[-1] + (" (log)" if d.log_value else "")],
                       rotation=20 if k > 8 else 0, ha="right" if k > 8 else "center")
    ax.set_yticks([])
    ax.set_xlim(-0.2, k - 1 + 0.6)
    ax.set_ylim(-0.05, 1.05)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    n_failed = len(d.failed_coords)
    ax.set_title(f"Parallel coordinates ({len(d.values)} trials"
                 + (f", {n_failed} failed dashed" if n_failed else "") + ")")
    sm = plt.cm.ScalarMappable(cmap=cm, norm=plt.Normalize(0, 1))
    cb = ax.figure.colorbar(sm, ax=ax, pad=0.01, fraction=0.04)
    cb.set_ticks([0, 1])
    cb.set_ticklabels(["worst", "best"])
    cb.set_label("rank of the result")
    return ax


# --------------------------------------------------------------------------------------
def lr_range(result: Any, *, ax: Axes | None = None) -> Axes:
    """The LR range test: loss against learning rate, suggestions and range marked.

    Args:
        result: A :class:`bayestune.lr_finder.LRRangeResult` (or its
            :func:`~bayestune.plot.lr_range_data`).
        ax: Axes to draw on.
    """
    d = result if isinstance(result, LRRangeData) else _data.lr_range_data(result)
    ax = _new_axes(ax)
    ax.plot(d.lrs, d.losses, color="0.65", lw=0.9, label="loss")
    ax.plot(d.lrs, d.smoothed, color=_MODEL, lw=2.0, label="smoothed loss")
    if d.suggested_range is not None:
        lo, hi = d.suggested_range
        ax.axvspan(lo, hi, color=_ACQ, alpha=0.15,
                   label=f"suggested range [{lo:.2g}, {hi:.2g}]")
    markers = ["o", "s", "D", "^", "P"]
    for (name, (lr, loss)), mk in zip(d.suggestions.items(), markers * 4, strict=False):
        ax.scatter([lr], [loss], marker=mk, s=60, zorder=4, edgecolors="black",
                   label=f"{_RULES.get(name, name.replace('_', ' '))}: {lr:.2g}")
    if d.diverged_at is not None:
        ax.axvline(d.diverged_at, color=_FAIL, ls=":", lw=1.2,
                   label=f"diverged at {d.diverged_at:.2g}")
    if d.log_x:
        ax.set_xscale("log")
    fin = d.smoothed[np.isfinite(d.smoothed)]
    raw = d.losses[np.isfinite(d.losses)]
    if len(fin):  # keep the interesting part: the diverging tail can be huge
        lo_y, start = float(fin.min()), float(fin[0])
        if len(raw):
            lo_y = min(lo_y, float(np.percentile(raw, 2)))
        # a little of the rise past the start shows where it diverges; more squashes the rest
        top = min(max(float(fin.max()), start), start + 0.25 * max(start - lo_y, 1e-12))
        pad = 0.08 * (top - lo_y if top > lo_y else abs(lo_y) + 1e-12)
        ax.set_ylim(lo_y - pad, top + pad)
    ax.set_xlabel("learning rate" + (" (log scale)" if d.log_x else ""))
    ax.set_ylabel("training loss")
    ax.set_title("LR range test")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return ax


# --------------------------------------------------------------------------------------
def importance(
    study: Study | ImportanceData,
    *,
    ax: Axes | None = None,
    method: _data.ImportanceMethod = "sobol",
    surrogate: SurrogateLike | None = None,
    n_samples: int = 1024,
) -> Axes:
    """Hyperparameter importance from the GP surrogate, most important on top.

    With ``method="sobol"`` each bar is the parameter's total Sobol index of the GP
    posterior mean and the darker inner bar its first-order index (what it explains
    alone; the rest is interactions). ``method="lengthscale"`` draws normalized inverse
    ARD lengthscales. See :func:`bayestune.plot.importance_data`.
    """
    d = study if isinstance(study, ImportanceData) else _data.importance_data(
        study, method=method, surrogate=surrogate, n_samples=n_samples)
    k = len(d.names)
    ax = _new_axes(ax, figsize=(6.4, max(2.4, 0.45 * k + 1.2)))
    y = np.arange(k)[::-1]
    ax.barh(y, d.importance, height=0.7, color=_MODEL, alpha=0.45,
            label="total index" if d.first_order is not None else None)
    if d.first_order is not None:
        ax.barh(y, d.first_order, height=0.35, color=_MODEL, label="first-order index")
    for yi, v in zip(y, d.importance, strict=True):
        ax.text(v, yi, f" {v:.2f}", va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels(d.names)
    top = float(np.max(d.importance)) if k else 1.0
    ax.set_xlim(0, max(top * 1.18, 0.05))
    if d.method == "sobol":
        ax.set_xlabel("Sobol index of the GP posterior mean")
        ax.legend(loc="lower right", fontsize="small")
        ax.set_title("Hyperparameter importance (Sobol)")
    else:
        ax.set_xlabel("inverse ARD lengthscale (normalized)")
        ax.set_title("Hyperparameter importance (lengthscales)")
    ax.grid(True, axis="x", alpha=0.3)
    return ax


# --------------------------------------------------------------------------------------
