"""The acquisition slice plot: log expected improvement along one parameter, the others
held at the best configuration, with the next suggestion marked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune.diagnostics._surrogate import SurrogateLike
from bayestune.exceptions import InvalidValueError
from bayestune.plot._common import (
    ACQ,
    FAIL,
    OBS,
    incumbent,
    new_axes,
    next_suggestion,
    observed,
    param_grid,
    resolve,
    set_param_axis,
    slice_rows,
    user_values,
)
from bayestune.space import Categorical

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bayestune.study import Study

__all__ = ["AcquisitionSliceData", "acquisition_slice_data", "acquisition_slice"]


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
    sur, st = resolve(study, surrogate)
    space = sur.space
    dim = space[param]
    col = space.names.index(param)
    base = incumbent(sur, st)
    u, _ = param_grid(space, param, n_points)
    rows = slice_rows(base, col, u)
    acq = np.asarray(sur.acquisition(rows), dtype=float)
    feas = np.asarray(sur.feasibility(rows), dtype=float)
    nxt = dict(next_params) if next_params is not None else next_suggestion(st)
    next_x = None
    if nxt is not None:
        next_x = float(user_values(dim, np.array([dim.to_cube(nxt[param])]))[0])
    X, _ = observed(sur)
    cat = isinstance(dim, Categorical)
    return AcquisitionSliceData(
        param=param,
        categorical=cat,
        log=bool(getattr(dim, "log", False)),
        x=user_values(dim, u),
        choices=tuple(str(c) for c in dim.choices) if cat else (),
        acquisition=acq,
        feasibility=feas,
        next_x=next_x,
        observed_x=user_values(dim, X[:, col]),
    )


def acquisition_slice(
    study: Study | SurrogateLike | AcquisitionSliceData,
    param: str | None = None,
    *,
    ax: Axes | None = None,
    surrogate: SurrogateLike | None = None,
    n_points: int = 200,
    next_params: Mapping[str, Any] | None = None,
    depth: float = 30.0,
) -> Axes:
    """The acquisition function (log expected improvement) along one parameter.

    For a numeric parameter the y axis spans at most ``depth`` nats below the maximum:
    far from the data log EI drops by hundreds, which would flatten the region that
    decides the next point. Every choice of a categorical is shown.

    The others are held at the best configuration. The next suggestion's value of the
    parameter is a dashed line (it maximizes the acquisition over all parameters at
    once, so it need not sit at this slice's peak). When trials failed, the probability
    of a run not failing is drawn on a second y axis.

    Examples:
        >>> import math
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> space = bt.Space({"lr": bt.Float(1e-4, 1e-1, log=True), "layers": bt.Int(1, 4)})
        >>> study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
        >>> study.optimize(lambda t: (math.log10(t.params["lr"]) + 2) ** 2 + 0.1 * t.params["layers"],
        ...                n_trials=10)
        >>> data = plot.acquisition_slice_data(study, "lr", n_points=50)
        >>> data.acquisition.shape, bool((data.feasibility == 1).all())  # no failed trial
        ((50,), True)
        >>> plot.acquisition_slice(data).get_title()
        'Acquisition along lr'
    """
    if isinstance(study, AcquisitionSliceData):
        d = study
    else:
        if param is None:
            raise InvalidValueError("acquisition_slice needs the parameter's name")
        d = acquisition_slice_data(study, param, n_points=n_points, surrogate=surrogate,
                                         next_params=next_params)
    ax = new_axes(ax)
    x = np.arange(len(d.choices)) if d.categorical else d.x
    acq = np.where(np.isfinite(d.acquisition), d.acquisition, np.nan)
    if d.categorical:
        ax.scatter(x, acq, marker="D", s=70, color=ACQ, zorder=3, label="log EI")
    else:
        ax.plot(x, acq, color=ACQ, lw=2.0, label="log EI")
    fin = acq[np.isfinite(acq)]
    if len(fin):  # log EI falls by hundreds far from the data: show the top decades
        top, bottom = float(fin.max()), float(fin.min())
        if not d.categorical:  # every choice stays visible
            bottom = max(bottom, top - depth)
        pad = 0.06 * max(top - bottom, 1.0)
        ax.set_ylim(bottom - pad, top + pad)
    handles = []
    if d.next_x is not None:
        handles.append(ax.axvline(d.next_x, color="black", ls="--", lw=1.2,
                                  label="next suggestion"))
    trans = ax.get_xaxis_transform()
    obs_x = d.observed_x
    ax.scatter(obs_x, np.full(len(obs_x), 0.02), transform=trans, marker="|", s=80,
               color=OBS, label="observed", clip_on=False)
    set_param_axis(ax, d.log, d.choices, d.param)
    ax.set_ylabel("acquisition: log expected improvement")
    ax.set_title(f"Acquisition along {d.param}")
    ax.grid(True, alpha=0.3)
    lines, labs = ax.get_legend_handles_labels()
    if np.any(d.feasibility < 0.999):
        tw = ax.twinx()
        if d.categorical:
            tw.plot(x, d.feasibility, "o--", color=FAIL, lw=1.2)
        else:
            tw.plot(x, d.feasibility, "--", color=FAIL, lw=1.2)
        tw.set_ylim(0, 1.05)
        tw.set_ylabel("P(run does not fail)", color=FAIL)
        tw.tick_params(axis="y", colors=FAIL)
        from matplotlib.lines import Line2D  # noqa: PLC0415

        lines.append(Line2D([], [], color=FAIL, ls="--"))
        labs.append("P(no failure)")
    ax.legend(lines, labs, loc="best", fontsize="x-small", framealpha=0.8)
    return ax
