"""The posterior slice plots: the GP's median and 95% band along one parameter, the
others held at the best configuration; and a grid of them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune.diagnostics._surrogate import SurrogateLike
from bayestune.exceptions import InvalidValueError
from bayestune.plot._common import (
    BEST,
    MODEL,
    OBS,
    direction_of,
    edge_marks,
    failed_cube,
    incumbent,
    new_axes,
    observed,
    param_grid,
    pyplot,
    resolve,
    set_param_axis,
    slice_rows,
    user_values,
    value_label,
    value_limits,
    wants_log,
)
from bayestune.space import Categorical

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayestune.study import Study

__all__ = ["SliceData", "posterior_slice_data", "posterior_slice", "posterior_slices"]


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
    sur, st = resolve(study, surrogate)
    space = sur.space
    dim = space[param]
    col = space.names.index(param)
    base = incumbent(sur, st)
    u, _ = param_grid(space, param, n_points)
    pred = sur.predict(slice_rows(base, col, u))
    X, y = observed(sur)
    failed = failed_cube(st, space)
    cat = isinstance(dim, Categorical)
    fixed = space.decode(base)
    fixed.pop(param)
    return SliceData(
        param=param,
        categorical=cat,
        log=bool(getattr(dim, "log", False)),
        x=user_values(dim, u),
        choices=tuple(str(c) for c in dim.choices) if cat else (),
        mean=np.asarray(pred.mean, dtype=float),
        lower=np.asarray(pred.lower, dtype=float),
        upper=np.asarray(pred.upper, dtype=float),
        observed_x=user_values(dim, X[:, col]),
        observed_y=y,
        failed_x=user_values(dim, failed[:, col]),
        fixed=fixed,
        direction=direction_of(st if st is not None else sur),
    )


def posterior_slice(
    study: Study | SurrogateLike | SliceData,
    param: str | None = None,
    *,
    ax: Axes | None = None,
    surrogate: SurrogateLike | None = None,
    n_points: int = 200,
    direction: str | None = None,
    log_y: bool | None = None,
    legend: bool = True,
) -> Axes:
    """GP posterior median and 95% band along one parameter, the others at the best.

    Observed trials are projected onto the slice (grey dots: their other parameters
    differ, so they need not sit on the curve); the best one is a red star; FAILED
    trials are red crosses on the worse edge. A categorical parameter gets one band
    (an error bar) per choice.

    Examples:
        >>> import math
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> space = bt.Space({"lr": bt.Float(1e-4, 1e-1, log=True), "layers": bt.Int(1, 4)})
        >>> study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
        >>> study.optimize(lambda t: (math.log10(t.params["lr"]) + 2) ** 2 + 0.1 * t.params["layers"],
        ...                n_trials=10)
        >>> data = plot.posterior_slice_data(study, "lr", n_points=50)  # fits the GP surrogate
        >>> data.x.shape, data.mean.shape, bool((data.lower <= data.upper).all())
        ((50,), (50,), True)
        >>> plot.posterior_slice(data).get_title()
        'GP posterior along lr'
    """
    if isinstance(study, SliceData):
        d = study
    else:
        if param is None:
            raise InvalidValueError("posterior_slice needs the parameter's name")
        d = posterior_slice_data(study, param, n_points=n_points, surrogate=surrogate)
    direction = direction or direction_of(study)
    ax = new_axes(ax)
    if d.categorical:
        x = np.arange(len(d.choices))
        for i in x:  # one band per choice, drawn like the continuous band
            ax.fill_between([i - 0.3, i + 0.3], d.lower[i], d.upper[i], color=MODEL,
                            alpha=0.2, lw=0, label="95% band" if i == 0 else None)
            ax.plot([i - 0.3, i + 0.3], [d.mean[i]] * 2, color=MODEL, lw=2.5, zorder=4,
                    label="GP median" if i == 0 else None)
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(d.observed_x))
        ax.scatter(d.observed_x + jitter, d.observed_y, s=14, color=OBS, alpha=0.7,
                   zorder=3, label="observed (projected)")
    else:
        ax.fill_between(d.x, d.lower, d.upper, color=MODEL, alpha=0.2, lw=0,
                        label="95% band")
        ax.plot(d.x, d.mean, color=MODEL, lw=2.0, label="GP median")
        ax.scatter(d.observed_x, d.observed_y, s=14, color=OBS, alpha=0.7, zorder=3,
                   label="observed (projected)")
    if len(d.observed_y):
        ys = np.where(np.isfinite(d.observed_y), d.observed_y,
                      np.inf if direction == "minimize" else -np.inf)
        i = int(np.argmin(ys) if direction == "minimize" else np.argmax(ys))
        bx = d.observed_x[i] + (0 if not d.categorical else 0)
        ax.scatter([bx], [d.observed_y[i]], marker="*", s=160, color=BEST,
                   edgecolors="black", linewidths=0.6, zorder=5, label="best trial")
    edge_marks(ax, d.failed_x, top=direction == "minimize",
                label="failed" if len(d.failed_x) else None)
    set_param_axis(ax, d.log, d.choices, d.param)
    if log_y is None:
        log_y = wants_log(d.mean, d.observed_y)
    if log_y:
        ax.set_yscale("log")
    lim = value_limits([d.mean, d.observed_y], [d.lower, d.upper], log_y)
    if lim is not None:
        ax.set_ylim(*lim)
    ax.set_ylabel(value_label(direction))
    ax.set_title(f"GP posterior along {d.param}")
    ax.grid(True, alpha=0.3)
    if legend:
        ax.legend(loc="best", fontsize="x-small", framealpha=0.8)
    return ax


def posterior_slices(
    study: Study | SurrogateLike,
    params: Sequence[str] | None = None,
    *,
    surrogate: SurrogateLike | None = None,
    ncols: int | None = None,
    n_points: int = 120,
) -> Figure:
    """A grid of :func:`posterior_slice` plots (one surrogate fit shared by all).

    Args:
        ncols: Columns of the grid (default: up to 3, as square as possible).

    Examples:
        >>> import math
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> space = bt.Space({"lr": bt.Float(1e-4, 1e-1, log=True), "layers": bt.Int(1, 4)})
        >>> study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
        >>> study.optimize(lambda t: (math.log10(t.params["lr"]) + 2) ** 2 + 0.1 * t.params["layers"],
        ...                n_trials=10)
        >>> fig = plot.posterior_slices(study)  # one GP fit, a panel per parameter
        >>> [ax.get_title() for ax in fig.axes]
        ['lr', 'layers']
    """
    sur, st = resolve(study, surrogate)
    names = list(params) if params is not None else list(sur.space.names)
    if not names:
        raise InvalidValueError("posterior_slices needs at least one parameter")
    if ncols is None:
        ncols = min(3, math.ceil(math.sqrt(len(names))))
    ncols = max(1, min(ncols, len(names)))
    nrows = math.ceil(len(names) / ncols)
    plt = pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows),
                             layout="constrained", squeeze=False)
    direction = direction_of(st if st is not None else sur)
    for ax, name in zip(axes.ravel(), names, strict=False):
        d = posterior_slice_data(st if st is not None else sur, name,
                                       n_points=n_points, surrogate=sur)
        posterior_slice(d, ax=ax, direction=direction, legend=False)
        ax.set_title(name)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    seen: dict[str, Any] = {}
    for ax in axes.ravel()[:len(names)]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center",
               ncols=min(len(seen), 6), fontsize="small", frameon=False)
    fig.suptitle("GP posterior along each parameter (others at the best configuration)")
    return fig
