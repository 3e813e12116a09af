"""Drawing the GP posterior: slices, the slice grid, contours and the acquisition.

Each function takes a study (or the data from :mod:`bayestune.plot._data`) and an
optional ``ax``, draws, and returns the matplotlib ``Axes`` (or ``Figure``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bayestune.exceptions import InvalidValueError
from bayestune.plot import _data
from bayestune.plot._data import (
    AcquisitionSliceData,
    ContourData,
    SliceData,
    SurrogateLike,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayestune.study import Study

from bayestune.plot._mpl_common import (
    _ACQ,
    _BEST,
    _FAIL,
    _MODEL,
    _OBS,
    _edge_marks,
    _new_axes,
    _pyplot,
    _value_label,
    _value_limits,
    _wants_log,
)

__all__ = ["posterior_slice", "posterior_slices", "posterior_contour", "acquisition_slice"]


def _set_param_axis(ax: Axes, log: bool, choices: Sequence[str], label: str,
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
    """
    if isinstance(study, SliceData):
        d = study
    else:
        if param is None:
            raise InvalidValueError("posterior_slice needs the parameter's name")
        d = _data.posterior_slice_data(study, param, n_points=n_points, surrogate=surrogate)
    direction = direction or _data.direction_of(study)
    ax = _new_axes(ax)
    if d.categorical:
        x = np.arange(len(d.choices))
        for i in x:  # one band per choice, drawn like the continuous band
            ax.fill_between([i - 0.3, i + 0.3], d.lower[i], d.upper[i], color=_MODEL,
                            alpha=0.2, lw=0, label="95% band" if i == 0 else None)
            ax.plot([i - 0.3, i + 0.3], [d.mean[i]] * 2, color=_MODEL, lw=2.5, zorder=4,
                    label="GP median" if i == 0 else None)
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(d.observed_x))
        ax.scatter(d.observed_x + jitter, d.observed_y, s=14, color=_OBS, alpha=0.7,
                   zorder=3, label="observed (projected)")
    else:
        ax.fill_between(d.x, d.lower, d.upper, color=_MODEL, alpha=0.2, lw=0,
                        label="95% band")
        ax.plot(d.x, d.mean, color=_MODEL, lw=2.0, label="GP median")
        ax.scatter(d.observed_x, d.observed_y, s=14, color=_OBS, alpha=0.7, zorder=3,
                   label="observed (projected)")
    if len(d.observed_y):
        ys = np.where(np.isfinite(d.observed_y), d.observed_y,
                      np.inf if direction == "minimize" else -np.inf)
        i = int(np.argmin(ys) if direction == "minimize" else np.argmax(ys))
        bx = d.observed_x[i] + (0 if not d.categorical else 0)
        ax.scatter([bx], [d.observed_y[i]], marker="*", s=160, color=_BEST,
                   edgecolors="black", linewidths=0.6, zorder=5, label="best trial")
    _edge_marks(ax, d.failed_x, top=direction == "minimize",
                label="failed" if len(d.failed_x) else None)
    _set_param_axis(ax, d.log, d.choices, d.param)
    if log_y is None:
        log_y = _wants_log(d.mean, d.observed_y)
    if log_y:
        ax.set_yscale("log")
    lim = _value_limits([d.mean, d.observed_y], [d.lower, d.upper], log_y)
    if lim is not None:
        ax.set_ylim(*lim)
    ax.set_ylabel(_value_label(direction))
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
    """
    sur, st = _data._resolve(study, surrogate)  # noqa: SLF001
    names = list(params) if params is not None else list(sur.space.names)
    if not names:
        raise InvalidValueError("posterior_slices needs at least one parameter")
    if ncols is None:
        ncols = min(3, math.ceil(math.sqrt(len(names))))
    ncols = max(1, min(ncols, len(names)))
    nrows = math.ceil(len(names) / ncols)
    plt = _pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows),
                             layout="constrained", squeeze=False)
    direction = _data.direction_of(st if st is not None else sur)
    for ax, name in zip(axes.ravel(), names, strict=False):
        d = _data.posterior_slice_data(st if st is not None else sur, name,
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


# --------------------------------------------------------------------------------------
def posterior_contour(
    study: Study | SurrogateLike | ContourData,
    x: str | None = None,
    y: str | None = None,
    *,
    ax: Axes | Sequence[Axes] | None = None,
    surrogate: SurrogateLike | None = None,
    n_points: int = 60,
    what: Literal["both", "mean", "std"] = "both",
    next_params: Mapping[str, Any] | None = None,
    cmap: str = "viridis",
) -> Axes | Figure:
    """Posterior mean and standard deviation over two parameters (others at the best).

    Observed trials are white dots, FAILED trials red crosses, the best trial a red
    star and the next suggestion (what the sampler would ask next) a white cross.

    Args:
        what: ``"both"`` draws two panels and returns the Figure (``ax`` may be a pair
            of Axes); ``"mean"`` or ``"std"`` draws one and returns its Axes.
    """
    if isinstance(study, ContourData):
        d = study
    else:
        if x is None or y is None:
            raise InvalidValueError("posterior_contour needs two parameter names")
        d = _data.posterior_contour_data(study, x, y, n_points=n_points,
                                         surrogate=surrogate, next_params=next_params)
    if what not in ("both", "mean", "std"):
        raise InvalidValueError(f"what must be 'both', 'mean' or 'std', got {what!r}")
    direction = _data.direction_of(study)
    panels = ["mean", "std"] if what == "both" else [what]
    plt = _pyplot()
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
        log_z = panel == "mean" and _wants_log(z)
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
            a.scatter(d.failed_x, d.failed_y, marker="x", s=30, color=_FAIL, zorder=3,
                      label="failed", clip_on=False)
        if len(d.observed_values):
            vals = np.where(np.isfinite(d.observed_values), d.observed_values,
                            np.inf if direction == "minimize" else -np.inf)
            i = int(np.argmin(vals) if direction == "minimize" else np.argmax(vals))
            a.scatter([d.observed_x[i]], [d.observed_y[i]], marker="*", s=170, color=_BEST,
                      edgecolors="black", linewidths=0.6, zorder=6, label="best trial",
                      clip_on=False)
        if d.next_point is not None:
            a.scatter([d.next_point[0]], [d.next_point[1]], marker="o", s=190,
                      facecolors="none", edgecolors="cyan", linewidths=2.0, zorder=5,
                      label="next suggestion", clip_on=False)
        _set_param_axis(a, d.x_log, d.x_choices, d.x_param, "x")
        _set_param_axis(a, d.y_log, d.y_choices, d.y_param, "y")
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


# --------------------------------------------------------------------------------------
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
    """
    if isinstance(study, AcquisitionSliceData):
        d = study
    else:
        if param is None:
            raise InvalidValueError("acquisition_slice needs the parameter's name")
        d = _data.acquisition_slice_data(study, param, n_points=n_points, surrogate=surrogate,
                                         next_params=next_params)
    ax = _new_axes(ax)
    x = np.arange(len(d.choices)) if d.categorical else d.x
    acq = np.where(np.isfinite(d.acquisition), d.acquisition, np.nan)
    if d.categorical:
        ax.scatter(x, acq, marker="D", s=70, color=_ACQ, zorder=3, label="log EI")
    else:
        ax.plot(x, acq, color=_ACQ, lw=2.0, label="log EI")
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
               color=_OBS, label="observed", clip_on=False)
    _set_param_axis(ax, d.log, d.choices, d.param)
    ax.set_ylabel("acquisition: log expected improvement")
    ax.set_title(f"Acquisition along {d.param}")
    ax.grid(True, alpha=0.3)
    lines, labs = ax.get_legend_handles_labels()
    if np.any(d.feasibility < 0.999):
        tw = ax.twinx()
        if d.categorical:
            tw.plot(x, d.feasibility, "o--", color=_FAIL, lw=1.2)
        else:
            tw.plot(x, d.feasibility, "--", color=_FAIL, lw=1.2)
        tw.set_ylim(0, 1.05)
        tw.set_ylabel("P(run does not fail)", color=_FAIL)
        tw.tick_params(axis="y", colors=_FAIL)
        from matplotlib.lines import Line2D  # noqa: PLC0415

        lines.append(Line2D([], [], color=_FAIL, ls="--"))
        labs.append("P(no failure)")
    ax.legend(lines, labs, loc="best", fontsize="x-small", framealpha=0.8)
    return ax
