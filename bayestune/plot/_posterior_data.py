"""Posterior plot data: slices, contours and acquisition of a fitted GP surrogate.

The functions need a fitted surrogate: a model of the objective with the interface of
:class:`bayestune.gp.surrogate.Surrogate` (``space``, ``predict``, ``acquisition``,
``feasibility``, ``lengthscales``, ``X_observed``, ``y_observed``). Pass one with
``surrogate=``, or let the functions fit the study's GP sampler on the study's trials.
Nothing here imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from bayestune.exceptions import InvalidParamError, InvalidValueError, NoCompletedTrialsError
from bayestune.space import Categorical, Float, Int, Space
from bayestune.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from bayestune.study import Study



class SurrogateLike(Protocol):
    """What the posterior plots need from a fitted surrogate (duck-typed)."""

    space: Space
    X_observed: np.ndarray
    y_observed: np.ndarray

    def predict(self, X: np.ndarray) -> Any: ...

    def acquisition(self, X: np.ndarray) -> np.ndarray: ...

    def feasibility(self, X: np.ndarray) -> np.ndarray: ...



def _study_trials(study: Study) -> list[FrozenTrial]:
    return list(study.trials)


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
