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
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from bayestune.exceptions import InvalidParamError, InvalidValueError, NoCompletedTrialsError
from bayestune.space import Categorical, Float, Int, Space
from bayestune.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from bayestune.study import Study

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


class SurrogateLike(Protocol):
    """What the posterior plots need from a fitted surrogate (duck-typed)."""

    space: Space
    X_observed: np.ndarray
    y_observed: np.ndarray

    def predict(self, X: np.ndarray) -> Any: ...

    def acquisition(self, X: np.ndarray) -> np.ndarray: ...

    def feasibility(self, X: np.ndarray) -> np.ndarray: ...


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


def _study_trials(study: Study) -> list[FrozenTrial]:
    return list(study.trials)


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
def fit_surrogate(study: Study, seed: int = 0) -> SurrogateLike:
    """Fit the GP surrogate on the study's trials.

    Uses the study's own sampler when it can fit one (a :class:`GPSampler`), else a
    fresh ``GPSampler(seed=seed)``.

    Raises:
        NoCompletedTrialsError: before any trial completed.
    """
    if not any(t.state is TrialState.COMPLETE for t in _study_trials(study)):
        raise NoCompletedTrialsError(
            f"study {study.name!r} has no completed trial: there is no posterior to draw"
        )
    sampler = study.sampler
    if not hasattr(sampler, "fit_surrogate"):
        from bayestune.samplers.gp import GPSampler  # noqa: PLC0415

        sampler = GPSampler(seed=seed)
    return sampler.fit_surrogate(study.space, _study_trials(study), study.direction)


def _resolve(
    study_or_surrogate: Any, surrogate: SurrogateLike | None
) -> tuple[SurrogateLike, Study | None]:
    if surrogate is not None:
        return surrogate, study_or_surrogate if hasattr(study_or_surrogate, "trials") else None
    if hasattr(study_or_surrogate, "trials"):
        return fit_surrogate(study_or_surrogate), study_or_surrogate
    if hasattr(study_or_surrogate, "predict") and hasattr(study_or_surrogate, "space"):
        return study_or_surrogate, None
    raise InvalidValueError(
        f"expected a Study or a fitted surrogate, got {type(study_or_surrogate).__name__}"
    )


def direction_of(obj: Any) -> str:
    """``"minimize"`` or ``"maximize"`` for a study, a surrogate (from its ``sign``) or
    plot data that carries a direction; ``"minimize"`` when unknown."""
    direction = getattr(obj, "direction", None)
    if direction in ("minimize", "maximize"):
        return direction
    sign = getattr(obj, "sign", None)
    if sign is not None:
        return "maximize" if float(sign) > 0 else "minimize"
    return "minimize"


def _incumbent(sur: SurrogateLike, study: Study | None,
               direction: str | None = None) -> np.ndarray:
    """The cube row of the best configuration (the slices hold the others there)."""
    if study is not None:
        try:
            return sur.space.encode(study.best_params)
        except NoCompletedTrialsError:
            pass
    y = np.asarray(sur.y_observed, dtype=float)
    X = np.asarray(sur.X_observed, dtype=float)
    ok = np.isfinite(y)
    if not ok.any():
        raise NoCompletedTrialsError("the surrogate saw no completed trial")
    direction = direction or direction_of(sur)
    i = np.nanargmax(np.where(ok, y, -np.inf)) if direction == "maximize" \
        else np.nanargmin(np.where(ok, y, np.inf))
    return X[int(i)].copy()


def _param_grid(space: Space, name: str, n_points: int) -> tuple[np.ndarray, list[Any]]:
    """Cube coordinates along one parameter and the user values they decode to."""
    dim = space[name]
    if isinstance(dim, Categorical):
        u = np.arange(dim.n_values, dtype=float)
        return u, list(dim.choices)
    if isinstance(dim, Int) and dim.n_values <= n_points:
        vals = list(range(dim.low, dim.high + 1, dim.step))
        return np.array([dim.to_cube(v) for v in vals]), vals
    if isinstance(dim, Int):
        lo, hi = dim.to_cube(dim.low), dim.to_cube(dim.high)
        u = np.linspace(lo, hi, n_points)
        return u, [dim.from_cube(x) for x in u]
    u = np.linspace(0.0, 1.0, n_points)
    return u, [dim.from_cube(x) for x in u]


def _user_values(dim: Float | Int | Categorical, u: np.ndarray) -> np.ndarray:
    """Numeric user values of cube coordinates (continuous: Int not rounded)."""
    if isinstance(dim, Categorical):
        return np.asarray(u, dtype=float)
    if isinstance(dim, Int):
        lo, hi = dim._edges()  # noqa: SLF001 - the bin edges define the Int encoding
        t = lo + np.asarray(u, dtype=float) * (hi - lo)
        return np.exp(t) if dim.log else t
    lo, hi = dim._t(dim.low), dim._t(dim.high)  # noqa: SLF001
    t = lo + np.asarray(u, dtype=float) * (hi - lo)
    return np.exp(t) if dim.log else t


def _observed(sur: SurrogateLike) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(sur.X_observed, dtype=float).reshape(-1, len(sur.space))
    y = np.asarray(sur.y_observed, dtype=float).reshape(-1)
    return X, y


def _next_suggestion(study: Study | None) -> dict[str, Any] | None:
    """What the study's sampler would propose next, without creating a trial."""
    if study is None or not hasattr(study.sampler, "fit_surrogate"):
        return None
    trials = _study_trials(study)
    return dict(study.sampler.sample(study.space, trials, study.direction,
                                     number=len(trials)).params)


# --------------------------------------------------------------------------------------
# posterior slice
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SliceData:
    """The GP posterior along one parameter, the others held at the best configuration.

    Attributes:
        param: The parameter.
        categorical: Whether it is categorical (then ``x`` holds choice indices).
        log: Whether it is searched in log space (draw a log axis).
        x: ``m`` positions in user units (choice indices for a categorical).
        choices: The choices' labels for a categorical, else empty.
        mean: ``m`` posterior median in objective units.
        lower: ``m`` lower end of the 95% band, objective units.
        upper: ``m`` upper end of the 95% band.
        observed_x: ``n`` parameter values of the observed trials, user units.
        observed_y: ``n`` their objective values.
        failed_x: parameter values of FAILED trials (drawn as marks), user units.
        fixed: The configuration the other parameters are held at.
        direction: ``"minimize"`` or ``"maximize"``.
    """

    param: str
    categorical: bool
    log: bool
    x: np.ndarray
    choices: tuple[str, ...]
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    observed_x: np.ndarray
    observed_y: np.ndarray
    failed_x: np.ndarray
    fixed: Mapping[str, Any] = field(default_factory=dict)
    direction: str = "minimize"


def _slice_rows(base: np.ndarray, col: int, u: np.ndarray) -> np.ndarray:
    X = np.repeat(base[None, :], len(u), axis=0)
    X[:, col] = u
    return X


def _failed_cube(study: Study | None, space: Space) -> np.ndarray:
    if study is None:
        return np.zeros((0, len(space)))
    rows = [space.encode(t.params) for t in _study_trials(study)
            if t.state is TrialState.FAILED and t.params]
    return np.array(rows, dtype=float).reshape(len(rows), len(space))


def posterior_slice_data(
    study: Study | SurrogateLike,
    param: str,
    *,
    n_points: int = 200,
    surrogate: SurrogateLike | None = None,
) -> SliceData:
    """GP mean and 95% band along ``param``, the others held at the best configuration.

    Args:
        study: A study (its surrogate is fitted) or a fitted surrogate.
        param: The parameter to vary.
        n_points: Grid size for continuous parameters.
        surrogate: A surrogate already fitted on ``study`` (saves a fit).

    Raises:
        InvalidParamError: for a name not in the space.
        NoCompletedTrialsError: before any trial completed.
    """
    sur, st = _resolve(study, surrogate)
    space = sur.space
    dim = space[param]
    col = space.names.index(param)
    base = _incumbent(sur, st)
    u, _ = _param_grid(space, param, n_points)
    pred = sur.predict(_slice_rows(base, col, u))
    X, y = _observed(sur)
    failed = _failed_cube(st, space)
    cat = isinstance(dim, Categorical)
    fixed = space.decode(base)
    fixed.pop(param)
    return SliceData(
        param=param,
        categorical=cat,
        log=bool(getattr(dim, "log", False)),
        x=_user_values(dim, u),
        choices=tuple(str(c) for c in dim.choices) if cat else (),
        mean=np.asarray(pred.mean, dtype=float),
        lower=np.asarray(pred.lower, dtype=float),
        upper=np.asarray(pred.upper, dtype=float),
        observed_x=_user_values(dim, X[:, col]),
        observed_y=y,
        failed_x=_user_values(dim, failed[:, col]),
        fixed=fixed,
        direction=direction_of(st if st is not None else sur),
    )


# --------------------------------------------------------------------------------------
# acquisition slice
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AcquisitionSliceData:
    """The acquisition (log EI) along one parameter, the others at the best configuration.

    Attributes:
        param, categorical, log, x, choices: As in :class:`SliceData`.
        acquisition: ``m`` acquisition values (log expected improvement).
        feasibility: ``m`` probability that a run does not fail (ones without failures).
        next_x: The next suggestion's value of ``param`` (user units), or None.
        observed_x: ``n`` parameter values of the observed trials.
    """

    param: str
    categorical: bool
    log: bool
    x: np.ndarray
    choices: tuple[str, ...]
    acquisition: np.ndarray
    feasibility: np.ndarray
    next_x: float | None
    observed_x: np.ndarray


def acquisition_slice_data(
    study: Study | SurrogateLike,
    param: str,
    *,
    n_points: int = 200,
    surrogate: SurrogateLike | None = None,
    next_params: Mapping[str, Any] | None = None,
) -> AcquisitionSliceData:
    """The acquisition along ``param`` with the others held at the best configuration.

    Args:
        study: A study (its surrogate is fitted) or a fitted surrogate.
        param: The parameter to vary.
        n_points: Grid size for continuous parameters.
        surrogate: A surrogate already fitted on ``study``.
        next_params: The next suggestion to mark (default: asked of the study's
            sampler without creating a trial; none for a bare surrogate).
    """
    sur, st = _resolve(study, surrogate)
    space = sur.space
    dim = space[param]
    col = space.names.index(param)
    base = _incumbent(sur, st)
    u, _ = _param_grid(space, param, n_points)
    rows = _slice_rows(base, col, u)
    acq = np.asarray(sur.acquisition(rows), dtype=float)
    feas = np.asarray(sur.feasibility(rows), dtype=float)
    nxt = dict(next_params) if next_params is not None else _next_suggestion(st)
    next_x = None
    if nxt is not None:
        next_x = float(_user_values(dim, np.array([dim.to_cube(nxt[param])]))[0])
    X, _ = _observed(sur)
    cat = isinstance(dim, Categorical)
    return AcquisitionSliceData(
        param=param,
        categorical=cat,
        log=bool(getattr(dim, "log", False)),
        x=_user_values(dim, u),
        choices=tuple(str(c) for c in dim.choices) if cat else (),
        acquisition=acq,
        feasibility=feas,
        next_x=next_x,
        observed_x=_user_values(dim, X[:, col]),
    )


# --------------------------------------------------------------------------------------
# posterior contour
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContourData:
    """The GP posterior over two parameters, the others held at the best configuration.

    Attributes:
        x_param, y_param: The two parameters.
        x_log, y_log: Whether each is on a log scale.
        x_choices, y_choices: Choice labels for a categorical axis, else empty.
        x, y: ``nx`` and ``ny`` grid positions in user units (choice indices for a
            categorical).
        mean: ``ny x nx`` posterior median in objective units.
        std: ``ny x nx`` posterior standard deviation in the model's standardized
            (warped) units: where the model is unsure, whatever the objective's scale.
        observed_x, observed_y: Positions of the observed trials.
        observed_values: Their objective values.
        failed_x, failed_y: Positions of FAILED trials.
        next_point: The next suggestion's ``(x, y)``, or None.
        direction: ``"minimize"`` or ``"maximize"``.
    """

    x_param: str
    y_param: str
    x_log: bool
    y_log: bool
    x_choices: tuple[str, ...]
    y_choices: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    observed_x: np.ndarray
    observed_y: np.ndarray
    observed_values: np.ndarray
    failed_x: np.ndarray
    failed_y: np.ndarray
    next_point: tuple[float, float] | None
    direction: str = "minimize"


def posterior_contour_data(
    study: Study | SurrogateLike,
    x: str,
    y: str,
    *,
    n_points: int = 60,
    surrogate: SurrogateLike | None = None,
    next_params: Mapping[str, Any] | None = None,
) -> ContourData:
    """Posterior mean and std on a grid over ``x`` and ``y`` (others at the best).

    Raises:
        InvalidParamError: for unknown names, or ``x == y``.
    """
    if x == y:
        raise InvalidParamError(f"x and y must be two different parameters, got {x!r} twice")
    sur, st = _resolve(study, surrogate)
    space = sur.space
    dx, dy = space[x], space[y]
    cx, cy = space.names.index(x), space.names.index(y)
    base = _incumbent(sur, st)
    ux, _ = _param_grid(space, x, n_points)
    uy, _ = _param_grid(space, y, n_points)
    gx, gy = np.meshgrid(ux, uy)  # ny x nx
    rows = np.repeat(base[None, :], gx.size, axis=0)
    rows[:, cx] = gx.ravel()
    rows[:, cy] = gy.ravel()
    pred = sur.predict(rows)
    Xo, yo = _observed(sur)
    failed = _failed_cube(st, space)
    nxt = dict(next_params) if next_params is not None else _next_suggestion(st)
    next_point = None
    if nxt is not None:
        next_point = (float(_user_values(dx, np.array([dx.to_cube(nxt[x])]))[0]),
                      float(_user_values(dy, np.array([dy.to_cube(nxt[y])]))[0]))

    def labels(d: Any) -> tuple[str, ...]:
        return tuple(str(c) for c in d.choices) if isinstance(d, Categorical) else ()

    return ContourData(
        x_param=x, y_param=y,
        x_log=bool(getattr(dx, "log", False)), y_log=bool(getattr(dy, "log", False)),
        x_choices=labels(dx), y_choices=labels(dy),
        x=_user_values(dx, ux), y=_user_values(dy, uy),
        mean=np.asarray(pred.mean, dtype=float).reshape(gx.shape),
        std=np.asarray(pred.std, dtype=float).reshape(gx.shape),
        observed_x=_user_values(dx, Xo[:, cx]), observed_y=_user_values(dy, Xo[:, cy]),
        observed_values=yo,
        failed_x=_user_values(dx, failed[:, cx]), failed_y=_user_values(dy, failed[:, cy]),
        next_point=next_point,
        direction=direction_of(st if st is not None else sur),
    )


# --------------------------------------------------------------------------------------
# importance
# --------------------------------------------------------------------------------------
ImportanceMethod = Literal["sobol", "lengthscale"]


@dataclass(frozen=True)
class ImportanceData:
    """How much each hyperparameter matters, most important first.

    Attributes:
        method: ``"sobol"`` or ``"lengthscale"``.
        names: The parameters, most important first.
        importance: The bar heights: total Sobol indices for ``"sobol"`` (the share of
            the posterior mean's variance that involves the parameter, interactions
            included), or inverse ARD lengthscales normalized to sum to one.
        first_order: First-order Sobol indices (the share explained by the parameter
            alone), or None for ``"lengthscale"``.
    """

    method: str
    names: tuple[str, ...]
    importance: np.ndarray
    first_order: np.ndarray | None


def _sobol_base(d: int, n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc  # noqa: PLC0415

    m = max(int(math.ceil(math.log2(max(n, 2)))), 1)
    return qmc.Sobol(d=2 * d, scramble=True, seed=seed).random_base2(m)


def sobol_indices(
    f: Callable[[np.ndarray], np.ndarray],
    d: int,
    *,
    n: int = 1024,
    seed: int = 0,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total Sobol indices of ``f`` over the unit cube.

    Saltelli's scheme: two independent scrambled-Sobol matrices ``A`` and ``B`` of ``n``
    rows (rounded up to a power of two), and for each input ``i`` the matrix ``AB_i``
    (``A`` with column ``i`` from ``B``); ``n (d + 2)`` evaluations in all. The first
    order index uses Saltelli et al. (2010),
    ``S_i = mean(f(B) (f(AB_i) - f(A))) / V``, the total index Jansen's estimator,
    ``S_Ti = mean((f(A) - f(AB_i))²) / (2V)``, with ``V`` the variance of ``f`` over
    ``A`` and ``B``. Estimates are clipped to ``[0, 1]``.

    Args:
        f: Maps ``m x d`` points to ``m`` values.
        d: Number of inputs.
        n: Base sample size.
        seed: Scrambling seed.
        transform: Maps uniform points (``m x d``) to ``f``'s inputs (for example
            stretching categorical columns over choice indices).

    Returns:
        ``(first_order, total)``, two arrays of ``d``; zeros when ``f`` is constant.
    """
    base = _sobol_base(d, n, seed)
    A, B = base[:, :d], base[:, d:]
    tf = transform if transform is not None else (lambda u: u)
    m = len(A)
    blocks = [A, B] + [np.where(np.arange(d) == i, B, A) for i in range(d)]
    fx = np.asarray(f(tf(np.concatenate(blocks))), dtype=float).reshape(-1)
    fA, fB = fx[:m], fx[m:2 * m]
    fAB = fx[2 * m:].reshape(d, m)
    var = float(np.var(np.concatenate([fA, fB])))
    if not math.isfinite(var) or var <= 1e-300:
        return np.zeros(d), np.zeros(d)
    first = np.mean(fB[None, :] * (fAB - fA[None, :]), axis=1) / var
    total = 0.5 * np.mean((fA[None, :] - fAB) ** 2, axis=1) / var
    return np.clip(first, 0.0, 1.0), np.clip(total, 0.0, 1.0)


def _cube_transform(space: Space) -> Callable[[np.ndarray], np.ndarray]:
    """Uniform points to the space's cube: categorical columns become choice indices,
    Int columns stay within the centres of their first and last bins."""
    ints = [(i, space[n]) for i, n in enumerate(space.names) if isinstance(space[n], Int)]

    def tf(u: np.ndarray) -> np.ndarray:
        x = space.scale_unit(u)
        for i, dim in ints:
            lo, hi = dim.to_cube(dim.low), dim.to_cube(dim.high)
            x[:, i] = lo + u[:, i] * (hi - lo)
        return x

    return tf


ImportanceScale = Literal["model", "objective"]


def _chunked(f: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
             size: int = 4096) -> np.ndarray:
    return np.concatenate([np.asarray(f(X[i:i + size]), dtype=float).reshape(-1)
                           for i in range(0, len(X), size)]) if len(X) else np.zeros(0)


def _mean_function(sur: SurrogateLike, scale: ImportanceScale
                   ) -> Callable[[np.ndarray], np.ndarray]:
    """The posterior mean as a function of cube points, on the requested scale."""
    model = getattr(sur, "model", None)
    if scale == "model" and model is not None and hasattr(model, "mean_and_var"):
        import torch  # noqa: PLC0415 - the surrogate already needs it

        def latent(X: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                m, _ = model.mean_and_var(torch.as_tensor(X, dtype=torch.float64))
            return m.numpy()

        return latent
    # objective units, clipped to the observed range: far from the data an inverted
    # output warp can return huge values that would swamp every variance
    y = np.asarray(sur.y_observed, dtype=float)
    y = y[np.isfinite(y)]
    lo, hi = (float(y.min()), float(y.max())) if len(y) else (-np.inf, np.inf)

    def objective(X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = np.asarray(sur.predict(X).mean, dtype=float)
        return np.clip(np.nan_to_num(m, nan=hi, posinf=hi, neginf=lo), lo, hi)

    return objective


def importance_data(
    study: Study | SurrogateLike,
    *,
    method: ImportanceMethod = "sobol",
    scale: ImportanceScale = "model",
    n_samples: int = 1024,
    seed: int = 0,
    surrogate: SurrogateLike | None = None,
) -> ImportanceData:
    """Hyperparameter importance from the GP surrogate.

    ``method="sobol"`` (default): Sobol sensitivity indices of the GP posterior mean
    over the whole search space, estimated by :func:`sobol_indices` on ``n_samples``
    scrambled-Sobol points. The bar is the total index (the share of the mean's
    variance that involves the parameter, interactions included); the first-order
    index is the share it explains alone. Parameters are drawn as the search draws
    them: log parameters uniformly in log space, categoricals uniformly over choices.
    With ``scale="model"`` (default) the mean is taken on the scale the GP is fitted
    on (the warped, standardized values): the warp is monotone, so it keeps which
    configurations are better, while a region of huge losses does not swamp the
    variance. ``scale="objective"`` uses the posterior median in the objective's
    units, clipped to the observed range.

    ``method="lengthscale"``: inverse ARD lengthscales of the fitted kernel, normalized
    to sum to one. Cheaper, but a short lengthscale also arises from a parameter that
    only matters in a small region, and it says nothing about interactions.

    Raises:
        InvalidValueError: for an unknown method or scale.
        NoCompletedTrialsError: before any trial completed.
    """
    if method not in ("sobol", "lengthscale"):
        raise InvalidValueError(f"method must be 'sobol' or 'lengthscale', got {method!r}")
    if scale not in ("model", "objective"):
        raise InvalidValueError(f"scale must be 'model' or 'objective', got {scale!r}")
    sur, _ = _resolve(study, surrogate)
    space = sur.space
    names = space.names
    if method == "lengthscale":
        ls = getattr(sur, "lengthscales", None)
        if not ls:
            raise InvalidValueError("the surrogate exposes no lengthscales")
        inv = np.array([1.0 / float(ls[n]) for n in names], dtype=float)
        imp = inv / inv.sum()
        first = None
    else:
        mean = _mean_function(sur, scale)
        first, imp = sobol_indices(lambda X: _chunked(mean, X), len(names), n=n_samples,
                                   seed=seed, transform=_cube_transform(space))
    order = np.argsort(-imp, kind="stable")
    return ImportanceData(
        method=method,
        names=tuple(names[i] for i in order),
        importance=imp[order],
        first_order=None if first is None else first[order],
    )
