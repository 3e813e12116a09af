"""What the plot modules share: reading a study or a surrogate, and matplotlib basics.

The data side never imports matplotlib; :func:`pyplot` loads it, with a message naming
the extra when it is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bayestune.diagnostics._surrogate import SurrogateLike, fit_surrogate
from bayestune.exceptions import InvalidValueError, NoCompletedTrialsError
from bayestune.space import Categorical, Float, Int, Space
from bayestune.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bayestune.study import Study

BEST = "#d62728"
FAIL = "#d62728"
OBS = "#4d4d4d"
MODEL = "#1f77b4"
ACQ = "#2ca02c"


# -- reading a study or a surrogate ----------------------------------------------------------
def study_trials(study: Study) -> list[FrozenTrial]:
    return list(study.trials)


def resolve(
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


def incumbent(sur: SurrogateLike, study: Study | None,
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


def param_grid(space: Space, name: str, n_points: int) -> tuple[np.ndarray, list[Any]]:
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


def user_values(dim: Float | Int | Categorical, u: np.ndarray) -> np.ndarray:
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


def observed(sur: SurrogateLike) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(sur.X_observed, dtype=float).reshape(-1, len(sur.space))
    y = np.asarray(sur.y_observed, dtype=float).reshape(-1)
    return X, y


def next_suggestion(study: Study | None) -> dict[str, Any] | None:
    """What the study's sampler would propose next, without creating a trial."""
    if study is None or not hasattr(study.sampler, "fit_surrogate"):
        return None
    trials = study_trials(study)
    return dict(study.sampler.sample(study.space, trials, study.direction,
                                     number=len(trials)).params)


def slice_rows(base: np.ndarray, col: int, u: np.ndarray) -> np.ndarray:
    X = np.repeat(base[None, :], len(u), axis=0)
    X[:, col] = u
    return X


def failed_cube(study: Study | None, space: Space) -> np.ndarray:
    if study is None:
        return np.zeros((0, len(space)))
    rows = [space.encode(t.params) for t in study_trials(study)
            if t.state is TrialState.FAILED and t.params]
    return np.array(rows, dtype=float).reshape(len(rows), len(space))


def float_array(xs: Any) -> np.ndarray:
    """A list with Nones (a stored per-epoch record) as floats with nans."""
    return np.array([np.nan if x is None else float(x) for x in (xs or [])], dtype=float)


# -- drawing ---------------------------------------------------------------------------------
def pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            'bayestune.plot needs matplotlib: pip install "bayestune[plot]"'
        ) from e
    return plt


def new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.2)) -> Axes:
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def value_label(direction: str) -> str:
    return "loss (lower is better)" if direction == "minimize" else "objective (higher is better)"


def wants_log(*arrays: np.ndarray) -> bool:
    v = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    v = v[np.isfinite(v)]
    return bool(len(v) >= 2 and np.all(v > 0) and v.max() / v.min() > 100.0)


def value_limits(core: Sequence[np.ndarray], band: Sequence[np.ndarray],
                  log: bool) -> tuple[float, float] | None:
    """y limits that show the ``core`` values (means, observations) in full and the
    ``band`` (posterior intervals) up to half the core's span beyond them.

    Far from the data an inverted output warp can put a band end at 1e266; letting
    matplotlib autoscale to it would flatten everything else.
    """
    def t(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=float).ravel()
        a = a[np.isfinite(a)]
        if log:
            a = a[a > 0]
            return np.log10(a)
        return a

    c = np.concatenate([t(a) for a in core]) if core else np.zeros(0)
    if len(c) == 0:
        return None
    b = np.concatenate([t(a) for a in band]) if band else np.zeros(0)
    lo, hi = float(c.min()), float(c.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * (0.5 if not log else 0.0) + (1.0 if log else 0.0)
    if len(b):
        lo = min(lo, max(float(b.min()), lo - 0.5 * span))
        hi = max(hi, min(float(b.max()), hi + 0.5 * span))
    pad = 0.05 * (hi - lo if hi > lo else span)
    lo, hi = lo - pad, hi + pad
    return (10.0 ** lo, 10.0 ** hi) if log else (lo, hi)


def edge_marks(ax: Axes, x: np.ndarray, *, top: bool, label: str | None) -> None:
    """Marks at the top (or bottom) edge of the axes for trials without a value."""
    if len(x) == 0:
        return
    trans = ax.get_xaxis_transform()  # x in data units, y in axes fraction
    y = 0.97 if top else 0.03
    ax.scatter(x, np.full(len(x), y), transform=trans, marker="x", color=FAIL, s=28,
               linewidths=1.2, label=label, zorder=4, clip_on=False)


def set_param_axis(ax: Axes, log: bool, choices: Sequence[str], label: str,
                    axis: Literal["x", "y"] = "x") -> None:
    if choices:
        ticks, setter, lim = ax.set_xticks, ax.set_xlabel, ax.set_xlim
        if axis == "y":
            ticks, setter, lim = ax.set_yticks, ax.set_ylabel, ax.set_ylim
        ticks(range(len(choices)), list(choices))
        lim(-0.5, len(choices) - 0.5)
        setter(label)
        return
    if axis == "x":
        if log:
            ax.set_xscale("log")
            _short_log_ticks(ax.xaxis, ax.get_xlim())
        ax.set_xlabel(label + (" (log scale)" if log else ""))
    else:
        if log:
            ax.set_yscale("log")
            _short_log_ticks(ax.yaxis, ax.get_ylim())
        ax.set_ylabel(label + (" (log scale)" if log else ""))


def _short_log_ticks(axis: Any, lim: tuple[float, float]) -> None:
    """On a log axis spanning under two decades (a batch size 16..256), label 1-2-5
    steps in plain numbers instead of crowded minor labels like 3x10^1."""
    lo, hi = sorted(lim)
    if lo <= 0 or hi / lo >= 100.0:
        return
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: PLC0415

    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
