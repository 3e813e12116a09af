"""The hyperparameter importance plot: Sobol indices of the GP posterior mean (or inverse
ARD lengthscales), most important on top."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from bayestune._checks import check_option
from bayestune.diagnostics._surrogate import ImportanceScale, SurrogateLike, sobol_importance
from bayestune.exceptions import InvalidValueError
from bayestune.plot._common import MODEL, new_axes, resolve

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bayestune.study import Study

__all__ = ["ImportanceMethod", "ImportanceData", "importance_data", "importance"]


#: ``"sobol"``: Sobol indices of the posterior mean; ``"lengthscale"``: inverse ARD
#: lengthscales.
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
    check_option("method", method, ImportanceMethod)
    check_option("scale", scale, ImportanceScale)
    sur, _ = resolve(study, surrogate)
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
        first, imp = sobol_importance(sur, scale=scale, n_samples=n_samples, seed=seed)
    order = np.argsort(-imp, kind="stable")
    return ImportanceData(
        method=method,
        names=tuple(names[i] for i in order),
        importance=imp[order],
        first_order=None if first is None else first[order],
    )


def importance(
    study: Study | ImportanceData,
    *,
    ax: Axes | None = None,
    method: ImportanceMethod = "sobol",
    surrogate: SurrogateLike | None = None,
    n_samples: int = 1024,
) -> Axes:
    """Hyperparameter importance from the GP surrogate, most important on top.

    With ``method="sobol"`` each bar is the parameter's total Sobol index of the GP
    posterior mean and the darker inner bar its first-order index (what it explains
    alone; the rest is interactions). ``method="lengthscale"`` draws normalized inverse
    ARD lengthscales. See :func:`bayestune.plot.importance_data`.

    Examples:
        >>> import math
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> space = bt.Space({"lr": bt.Float(1e-4, 1e-1, log=True), "layers": bt.Int(1, 4)})
        >>> study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
        >>> study.optimize(lambda t: (math.log10(t.params["lr"]) + 2) ** 2 + 0.1 * t.params["layers"],
        ...                n_trials=10)
        >>> data = plot.importance_data(study)  # fits the GP surrogate on the trials
        >>> sorted(data.names), data.importance.shape
        (['layers', 'lr'], (2,))
        >>> plot.importance(data).get_title()
        'Hyperparameter importance (Sobol)'
    """
    d = study if isinstance(study, ImportanceData) else importance_data(
        study, method=method, surrogate=surrogate, n_samples=n_samples)
    k = len(d.names)
    ax = new_axes(ax, figsize=(6.4, max(2.4, 0.45 * k + 1.2)))
    y = np.arange(k)[::-1]
    ax.barh(y, d.importance, height=0.7, color=MODEL, alpha=0.45,
            label="total index" if d.first_order is not None else None)
    if d.first_order is not None:
        ax.barh(y, d.first_order, height=0.35, color=MODEL, label="first-order index")
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
