"""What the plots draw, computed without drawing.

Every ``*_data`` function turns a study (or a fitted surrogate, or an LR range test
result) into a frozen dataclass of NumPy arrays. The matplotlib functions in
:mod:`bayestune.plot.matplotlib` only draw these; tests check the numbers here without
a plotting library. Nothing in this module imports matplotlib.

The posterior functions need a fitted surrogate: a model of the objective with the
interface of :class:`bayestune.gp.surrogate.Surrogate` (``space``, ``predict``,
``acquisition``, ``feasibility``, ``lengthscales``, ``X_observed``, ``y_observed``).
Pass one with ``surrogate=``, or let the functions fit the study's GP sampler on the
study's trials.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune.exceptions import InvalidValueError, NoCompletedTrialsError
from bayestune.space import Categorical, Float, Int
from bayestune.trial import TrialState

if TYPE_CHECKING:
    from bayestune.study import Study


# The posterior and importance data live in their own modules; this module re-exports
# them so that ``bayestune.plot._data`` stays the one place the drawing code reads from.
from bayestune.plot._importance_data import (  # noqa: F401
    ImportanceData,
    importance_data,
    sobol_indices,
)
from bayestune.plot._posterior_data import (  # noqa: F401
    AcquisitionSliceData,
    ContourData,
    ImportanceMethod,
    SliceData,
    SurrogateLike,
    _resolve,
    _study_trials,
    acquisition_slice_data,
    direction_of,
    fit_surrogate,
    posterior_contour_data,
    posterior_slice_data,
)

__all__ = [
    "ConvergenceData",
    "ParallelCoordinatesData",
    "AxisTicks",
    "LRRangeData",
    "ImportanceData",
    "SliceData",
    "ContourData",
    "AcquisitionSliceData",
    "convergence_data",
    "parallel_coordinates_data",
    "lr_range_data",
    "importance_data",
    "sobol_indices",
    "posterior_slice_data",
    "posterior_contour_data",
    "acquisition_slice_data",
    "fit_surrogate",
]




# --------------------------------------------------------------------------------------
# convergence
# --------------------------------------------------------------------------------------
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
    finished = [t for t in _study_trials(study) if t.state.is_finished]
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


# --------------------------------------------------------------------------------------
# parallel coordinates
# --------------------------------------------------------------------------------------
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
    trials = _study_trials(study)
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


# --------------------------------------------------------------------------------------
# LR range test
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LRRangeData:
    """The LR range test curve and its suggestions.

    Attributes:
        lrs: ``n`` learning rates tried (increasing).
        losses: ``n`` raw training losses (may hold nan/inf where training diverged).
        smoothed: ``n`` smoothed losses (nan where none).
        suggestions: rule name -> (lr, smoothed loss at that lr).
        suggested_range: The recommended ``(low, high)`` search range, or None.
        log_x: Whether the lrs were swept geometrically (then drawn on a log axis).
        diverged_at: The lr at which the test stopped on divergence, or None.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: Mapping[str, tuple[float, float]]
    suggested_range: tuple[float, float] | None
    log_x: bool
    diverged_at: float | None = None


def _loss_at(lrs: np.ndarray, losses: np.ndarray, lr: float) -> float:
    finite = np.isfinite(losses) & (lrs > 0)
    if not finite.any():
        return math.nan
    i = int(np.argmin(np.abs(np.log(lrs[finite]) - math.log(lr))))
    return float(losses[finite][i])


def _suggestion_items(raw: Any) -> dict[str, float]:
    """Normalize ``suggestions`` (a mapping, or a dataclass of rule -> lr) to a dict."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        items = dict(raw)
    elif hasattr(raw, "__dataclass_fields__"):
        items = {k: getattr(raw, k) for k in raw.__dataclass_fields__}
    else:
        items = dict(vars(raw))
    out = {}
    for k, v in items.items():
        if isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) \
                and math.isfinite(float(v)) and float(v) > 0:
            out[str(k)] = float(v)
    return out


def lr_range_data(result: Any) -> LRRangeData:
    """Read an LR range test result (:class:`bayestune.lr_finder.LRRangeResult`).

    Reads the attributes ``lrs``, ``losses``, ``smoothed_losses``, ``suggestions`` (rule
    -> lr), ``suggested_range``, ``mode`` and ``diverged_at``; missing ones are left
    empty.

    Raises:
        InvalidValueError: when the result has no learning rates or they and the losses
            differ in length.
    """
    lrs = np.asarray(getattr(result, "lrs", ()), dtype=float).reshape(-1)
    losses = np.asarray(getattr(result, "losses", ()), dtype=float).reshape(-1)
    smoothed = getattr(result, "smoothed_losses", None)
    smoothed = losses if smoothed is None else np.asarray(smoothed, dtype=float).reshape(-1)
    if len(lrs) == 0:
        raise InvalidValueError("the LR range test result has no learning rates to draw")
    if len(losses) != len(lrs) or len(smoothed) != len(lrs):
        raise InvalidValueError(
            f"lrs, losses and smoothed_losses differ in length: "
            f"{len(lrs)}, {len(losses)}, {len(smoothed)}"
        )
    sugg = {
        k: (lr, _loss_at(lrs, smoothed, lr))
        for k, lr in _suggestion_items(getattr(result, "suggestions", None)).items()
    }
    rng = getattr(result, "suggested_range", None)
    rng_t = (float(rng[0]), float(rng[1])) if rng is not None else None
    mode = getattr(result, "mode", None)
    if mode is not None:
        log_x = str(getattr(mode, "value", mode)) == "exp"
    else:
        log_x = bool(np.all(lrs > 0) and lrs.max() / lrs.min() > 100.0)
    div = getattr(result, "diverged_at", None)
    div = float(div) if div is not None and math.isfinite(float(div)) else None
    return LRRangeData(lrs, losses, smoothed, sugg, rng_t, log_x, div)


# --------------------------------------------------------------------------------------
# surrogate helpers
# --------------------------------------------------------------------------------------
