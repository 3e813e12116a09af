"""Hyperparameter importance from a fitted GP surrogate (Sobol indices of its mean,
or inverse ARD lengthscales). Nothing here imports matplotlib."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from bayestune.exceptions import InvalidValueError
from bayestune.plot._posterior_data import ImportanceMethod, SurrogateLike, _resolve
from bayestune.space import Int, Space

if TYPE_CHECKING:
    from bayestune.study import Study




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
