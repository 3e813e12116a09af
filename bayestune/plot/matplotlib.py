"""Drawing the plot data with matplotlib (the ``bayestune[plot]`` extra).

Each function takes a study (or the data from :mod:`bayestune.plot._data`) and an
optional ``ax``; it draws on ``ax`` (a new figure when None) and returns it, or returns
a ``Figure`` for a grid of plots. Nothing else is changed: no ``plt.show()``, no style
or rcParams set globally.
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
    ConvergenceData,
    ImportanceData,
    LRRangeData,
    ParallelCoordinatesData,
    SliceData,
    SurrogateLike,
)
from bayestune.trial import TrialState

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayestune.study import Study

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

_BEST = "#d62728"
_FAIL = "#d62728"
_OBS = "#4d4d4d"
_MODEL = "#1f77b4"
_ACQ = "#2ca02c"
_RULES = {"steepest": "steepest descent", "min_div10": "minimum / 10"}


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            'bayestune.plot needs matplotlib: pip install "bayestune[plot]"'
        ) from e
    return plt


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.2)) -> Axes:
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def _value_label(direction: str) -> str:
    return "loss (lower is better)" if direction == "minimize" else "objective (higher is better)"


def _wants_log(*arrays: np.ndarray) -> bool:
    v = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    v = v[np.isfinite(v)]
    return bool(len(v) >= 2 and np.all(v > 0) and v.max() / v.min() > 100.0)


def _value_limits(core: Sequence[np.ndarray], band: Sequence[np.ndarray],
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


def _edge_marks(ax: Axes, x: np.ndarray, *, top: bool, label: str | None) -> None:
    """Marks at the top (or bottom) edge of the axes for trials without a value."""
    if len(x) == 0:
        return
    trans = ax.get_xaxis_transform()  # x in data units, y in axes fraction
    y = 0.97 if top else 0.03
    ax.scatter(x, np.full(len(x), y), transform=trans, marker="x", color=_FAIL, s=28,
               linewidths=1.2, label=label, zorder=4, clip_on=False)


# --------------------------------------------------------------------------------------
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
        top = min(max(float(fin.max()), start), start + 1.5 * max(start - lo_y, 1e-12))
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
