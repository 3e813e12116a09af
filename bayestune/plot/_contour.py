"""The posterior contour plot: the GP's median and standard deviation over two parameters,
the others held at the best configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bayestune._checks import check_option
from bayestune.diagnostics._surrogate import SurrogateLike
from bayestune.exceptions import InvalidParamError, InvalidValueError
from bayestune.plot._common import (
    BEST,
    FAIL,
    direction_of,
    failed_cube,
    incumbent,
    next_suggestion,
    observed,
    param_grid,
    pyplot,
    resolve,
    set_param_axis,
    user_values,
    wants_log,
)
from bayestune.space import Categorical

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayestune.study import Study

__all__ = ["ContourData", "ContourPanels", "posterior_contour_data", "posterior_contour"]

#: Which panels :func:`posterior_contour` draws.
ContourPanels = Literal["both", "mean", "std"]


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
    sur, st = resolve(study, surrogate)
    space = sur.space
    dx, dy = space[x], space[y]
    cx, cy = space.names.index(x), space.names.index(y)
    base = incumbent(sur, st)
    ux, _ = param_grid(space, x, n_points)
    uy, _ = param_grid(space, y, n_points)
    gx, gy = np.meshgrid(ux, uy)  # ny x nx
    rows = np.repeat(base[None, :], gx.size, axis=0)
    rows[:, cx] = gx.ravel()
    rows[:, cy] = gy.ravel()
    pred = sur.predict(rows)
    Xo, yo = observed(sur)
    failed = failed_cube(st, space)
    nxt = dict(next_params) if next_params is not None else next_suggestion(st)
    next_point = None
    if nxt is not None:
        next_point = (float(user_values(dx, np.array([dx.to_cube(nxt[x])]))[0]),
                      float(user_values(dy, np.array([dy.to_cube(nxt[y])]))[0]))

    def labels(d: Any) -> tuple[str, ...]:
        return tuple(str(c) for c in d.choices) if isinstance(d, Categorical) else ()

    return ContourData(
        x_param=x, y_param=y,
        x_log=bool(getattr(dx, "log", False)), y_log=bool(getattr(dy, "log", False)),
        x_choices=labels(dx), y_choices=labels(dy),
        x=user_values(dx, ux), y=user_values(dy, uy),
        mean=np.asarray(pred.mean, dtype=float).reshape(gx.shape),
        std=np.asarray(pred.std, dtype=float).reshape(gx.shape),
        observed_x=user_values(dx, Xo[:, cx]), observed_y=user_values(dy, Xo[:, cy]),
        observed_values=yo,
        failed_x=user_values(dx, failed[:, cx]), failed_y=user_values(dy, failed[:, cy]),
        next_point=next_point,
        direction=direction_of(st if st is not None else sur),
    )


def posterior_contour(
    study: Study | SurrogateLike | ContourData,
    x: str | None = None,
    y: str | None = None,
    *,
    ax: Axes | Sequence[Axes] | None = None,
    surrogate: SurrogateLike | None = None,
    n_points: int = 60,
    what: ContourPanels = "both",
    next_params: Mapping[str, Any] | None = None,
    cmap: str = "viridis",
) -> Axes | Figure:
    """Posterior mean and standard deviation over two parameters (others at the best).

    Observed trials are white dots, FAILED trials red crosses, the best trial a red
    star and the next suggestion (what the sampler would ask next) a white cross.

    Args:
        what: ``"both"`` draws two panels and returns the Figure (``ax`` may be a pair
            of Axes); ``"mean"`` or ``"std"`` draws one and returns its Axes.

    Examples:
        >>> import math
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> space = bt.Space({"lr": bt.Float(1e-4, 1e-1, log=True), "layers": bt.Int(1, 4)})
        >>> study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
        >>> study.optimize(lambda t: (math.log10(t.params["lr"]) + 2) ** 2 + 0.1 * t.params["layers"],
        ...                n_trials=10)
        >>> data = plot.posterior_contour_data(study, "lr", "layers", n_points=20)
        >>> data.mean.shape, data.std.shape
        ((4, 20), (4, 20))
        >>> fig = plot.posterior_contour(data)  # the mean and the std side by side
        >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
        ['GP posterior median', 'GP posterior std']
    """
    if isinstance(study, ContourData):
        d = study
    else:
        if x is None or y is None:
            raise InvalidValueError("posterior_contour needs two parameter names")
        d = posterior_contour_data(study, x, y, n_points=n_points,
                                         surrogate=surrogate, next_params=next_params)
    check_option("what", what, ContourPanels)
    direction = direction_of(study)
    panels = ["mean", "std"] if what == "both" else [what]
    plt = pyplot()
    if ax is None:
        fig, axs = plt.subplots(1, len(panels), figsize=(5.4 * len(panels), 4.4),
                                layout="constrained", squeeze=False)
        axes = list(axs.ravel())
    else:
        axes = list(ax) if isinstance(ax, Sequence) else [ax]
        if len(axes) != len(panels):
            raise InvalidValueError(f"what={what!r} needs {len(panels)} axes, got {len(axes)}")
        fig = axes[0].figure
    for a, panel in zip(axes, panels, strict=True):
        z = d.mean if panel == "mean" else d.std
        log_z = panel == "mean" and wants_log(z)
        zz = np.log10(z) if log_z else z
        cm = cmap if panel == "mean" else "magma"
        if d.x_choices or d.y_choices:  # categories are cells, not a continuum
            cs = a.pcolormesh(d.x, d.y, zz, shading="nearest", cmap=cm)
        else:
            cs = a.contourf(d.x, d.y, zz, levels=20, cmap=cm)
        cb = fig.colorbar(cs, ax=a, pad=0.01)
        if panel == "mean":
            lab = "GP median " + ("loss" if direction == "minimize" else "objective")
            cb.set_label("log10 " + lab if log_z else lab)
        else:
            cb.set_label("posterior std (standardized model units)")
        a.scatter(d.observed_x, d.observed_y, s=14, color="white", edgecolors="black",
                  linewidths=0.5, zorder=3, label="observed", clip_on=False)
        if len(d.failed_x):
            a.scatter(d.failed_x, d.failed_y, marker="x", s=30, color=FAIL, zorder=3,
                      label="failed", clip_on=False)
        if len(d.observed_values):
            vals = np.where(np.isfinite(d.observed_values), d.observed_values,
                            np.inf if direction == "minimize" else -np.inf)
            i = int(np.argmin(vals) if direction == "minimize" else np.argmax(vals))
            a.scatter([d.observed_x[i]], [d.observed_y[i]], marker="*", s=170, color=BEST,
                      edgecolors="black", linewidths=0.6, zorder=6, label="best trial",
                      clip_on=False)
        if d.next_point is not None:
            a.scatter([d.next_point[0]], [d.next_point[1]], marker="o", s=190,
                      facecolors="none", edgecolors="cyan", linewidths=2.0, zorder=5,
                      label="next suggestion", clip_on=False)
        set_param_axis(a, d.x_log, d.x_choices, d.x_param, "x")
        set_param_axis(a, d.y_log, d.y_choices, d.y_param, "y")
        a.set_title("GP posterior median" if panel == "mean" else "GP posterior std")
    if what == "both" and ax is None:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels),
                   fontsize="small", frameon=False)
    else:
        axes[0].legend(loc="best", fontsize="x-small", framealpha=0.8)
    if what == "both":
        return fig
    return axes[0]
