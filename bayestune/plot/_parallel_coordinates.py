"""The parallel-coordinates plot: each trial a polyline through one axis per parameter."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune.exceptions import InvalidValueError, NoCompletedTrialsError
from bayestune.plot._common import FAIL, direction_of, new_axes, pyplot, study_trials
from bayestune.space import Categorical, Float, Int
from bayestune.trial import TrialState

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bayestune.study import Study

__all__ = ["AxisTicks", "ParallelCoordinatesData", "parallel_coordinates_data", "parallel_coordinates"]


@dataclass(frozen=True)
class AxisTicks:
    """Where to put the tick labels of one vertical axis (positions in ``[0, 1]``)."""

    positions: np.ndarray
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ParallelCoordinatesData:
    """Each trial as a polyline through one vertical axis per parameter plus the value.

    Attributes:
        names: ``d + 1`` axis titles (the parameters, then the objective).
        coords: ``n x (d + 1)`` positions in ``[0, 1]`` on each axis: the unit-cube
            coordinate (so log-scaled for log parameters), a categorical choice spread
            evenly, and the value scaled between the worst and best COMPLETE value.
        values: ``n`` objective values of the COMPLETE trials drawn.
        numbers: ``n`` trial numbers.
        ticks: ``d + 1`` tick positions and labels, in user units.
        log_value: Whether the value axis is on a log scale.
        failed_coords: ``m x d`` parameter positions of FAILED trials (no value).
    """

    names: tuple[str, ...]
    coords: np.ndarray
    values: np.ndarray
    numbers: np.ndarray
    ticks: tuple[AxisTicks, ...]
    log_value: bool
    failed_coords: np.ndarray
    direction: str = "minimize"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _axis_position(dim: Float | Int | Categorical, value: Any) -> float:
    if isinstance(dim, Categorical):
        k = dim.n_values
        return 0.5 if k == 1 else float(dim.to_cube(value)) / (k - 1)
    if isinstance(dim, Int):  # the centre of the first and last bins at 0 and 1
        lo, hi = dim.to_cube(dim.low), dim.to_cube(dim.high)
        return (dim.to_cube(value) - lo) / (hi - lo)
    return float(dim.to_cube(value))


def _axis_ticks(dim: Float | Int | Categorical, n: int = 5) -> AxisTicks:
    if isinstance(dim, Categorical):
        pos = [_axis_position(dim, c) for c in dim.choices]
        return AxisTicks(np.array(pos, dtype=float), tuple(str(c) for c in dim.choices))
    if isinstance(dim, Int):
        vals = sorted({dim.from_cube(dim.to_cube(dim.low) + u * (dim.to_cube(dim.high)
                                                                 - dim.to_cube(dim.low)))
                       for u in np.linspace(0.0, 1.0, n)})
        return AxisTicks(np.array([_axis_position(dim, v) for v in vals]),
                         tuple(str(v) for v in vals))
    vals = [dim.from_cube(u) for u in np.linspace(0.0, 1.0, n)]
    return AxisTicks(np.array([dim.to_cube(v) for v in vals]), tuple(_fmt(v) for v in vals))


def _value_ticks(lo: float, hi: float, log: bool, n: int = 5) -> AxisTicks:
    pos = np.linspace(0.0, 1.0, n)
    if hi <= lo:
        return AxisTicks(np.array([0.5]), (_fmt(float(lo)),))
    if log:
        vals = np.exp(np.log(lo) + pos * (np.log(hi) - np.log(lo)))
    else:
        vals = lo + pos * (hi - lo)
    return AxisTicks(pos, tuple(_fmt(float(v)) for v in vals))


def _use_log_values(values: np.ndarray) -> bool:
    """A log value axis when every value is positive and they span over two decades."""
    v = values[np.isfinite(values)]
    return bool(len(v) >= 2 and np.all(v > 0) and v.max() / v.min() > 100.0)


def parallel_coordinates_data(
    study: Study, params: Sequence[str] | None = None, log_value: bool | None = None
) -> ParallelCoordinatesData:
    """Parameter positions and values of every COMPLETE trial (FAILED ones apart).

    Args:
        study: The study.
        params: The parameters to show, in order (default: all of the space).
        log_value: Log-scale the value axis (default: when values are positive and span
            more than two decades).

    Raises:
        InvalidParamError: for a name not in the space.
        NoCompletedTrialsError: before any trial completed.
    """
    space = study.space
    names = tuple(params) if params is not None else space.names
    dims = [space[n] for n in names]  # raises InvalidParamError for unknown names
    trials = study_trials(study)
    done = [t for t in trials if t.state is TrialState.COMPLETE and t.value is not None]
    if not done:
        raise NoCompletedTrialsError(f"study {study.name!r} has no completed trial to draw")
    failed = [t for t in trials if t.state is TrialState.FAILED and t.params]
    values = np.array([t.value for t in done], dtype=float)
    log = _use_log_values(values) if log_value is None else bool(log_value)
    if log and np.any(values <= 0):
        raise InvalidValueError("log_value=True needs positive values")
    lo, hi = float(values.min()), float(values.max())
    tv = np.log(values) if log else values
    tlo, thi = (math.log(lo), math.log(hi)) if log else (lo, hi)
    vpos = (tv - tlo) / (thi - tlo) if thi > tlo else np.full(len(values), 0.5)
    coords = np.array(
        [[_axis_position(d, t.params[n]) for n, d in zip(names, dims, strict=True)] for t in done],
        dtype=float,
    ).reshape(len(done), len(names))
    fcoords = np.array(
        [[_axis_position(d, t.params[n]) for n, d in zip(names, dims, strict=True)] for t in failed],
        dtype=float,
    ).reshape(len(failed), len(names))
    objective = "loss" if study.direction == "minimize" else "objective"
    return ParallelCoordinatesData(
        names=(*names, objective),
        coords=np.column_stack([coords, vpos]),
        values=values,
        numbers=np.array([t.number for t in done], dtype=int),
        ticks=(*(_axis_ticks(d) for d in dims), _value_ticks(lo, hi, log)),
        log_value=log,
        failed_coords=fcoords,
        direction=study.direction,
    )


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

    Examples:
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> space = bt.Space({"lr": bt.Float(1e-4, 1e-1, log=True),
        ...                   "optimizer": bt.Categorical(("sgd", "adam"))})
        >>> study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
        >>> study.optimize(lambda t: t.params["lr"] * (2 if t.params["optimizer"] == "sgd" else 1),
        ...                n_trials=6)
        >>> data = plot.parallel_coordinates_data(study)
        >>> data.names, data.coords.shape
        (('lr', 'optimizer', 'loss'), (6, 3))
        >>> plot.parallel_coordinates(study).get_title()
        'Parallel coordinates (6 trials)'
    """
    d = study if isinstance(study, ParallelCoordinatesData) else \
        parallel_coordinates_data(study, params, log_value)
    plt = pyplot()
    direction = direction_of(study)
    k = len(d.names)
    ax = new_axes(ax, figsize=(max(6.4, 1.5 * k), 4.2))
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
        ax.plot(xs[:-1], row, color=FAIL, lw=0.8, ls="--", alpha=0.5, zorder=1)
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
