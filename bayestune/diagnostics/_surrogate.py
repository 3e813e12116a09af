"""The GP surrogate of a study, and how much each parameter matters to it.

:func:`fit_surrogate` fits the study's GP sampler on its trials; :func:`sobol_importance`
splits the variance of the surrogate's posterior mean among the parameters (Sobol
indices). The advice rules and the plots (:mod:`bayestune.plot`) both build on these.
Nothing here imports matplotlib; torch and scipy load when a surrogate is fitted or
sampled.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from bayestune.exceptions import NoCompletedTrialsError
from bayestune.samplers.gp import GPSampler
from bayestune.space import Int, Space
from bayestune.trial import TrialState

if TYPE_CHECKING:
    from bayestune.study import Study

__all__ = ["SurrogateLike", "fit_surrogate", "sobol_indices", "sobol_importance",
           "ImportanceScale"]

#: The scale the posterior mean is taken on: the model's (warped, standardized) values,
#: or the objective's units.
ImportanceScale = Literal["model", "objective"]


class SurrogateLike(Protocol):
    """What the posterior plots need from a fitted surrogate (duck-typed)."""

    space: Space
    X_observed: np.ndarray
    y_observed: np.ndarray

    def predict(self, X: np.ndarray) -> Any: ...

    def acquisition(self, X: np.ndarray) -> np.ndarray: ...

    def feasibility(self, X: np.ndarray) -> np.ndarray: ...


def fit_surrogate(study: Study, seed: int = 0) -> SurrogateLike:
    """Fit the GP surrogate on the study's trials.

    Uses the study's own sampler when it can fit one (a :class:`GPSampler`), else a
    fresh ``GPSampler(seed=seed)``.

    Raises:
        NoCompletedTrialsError: before any trial completed.
    """
    if not any(t.state is TrialState.COMPLETE for t in study.trials):
        raise NoCompletedTrialsError(
            f"study {study.name!r} has no completed trial: there is no posterior to draw"
        )
    sampler = study.sampler
    if not hasattr(sampler, "fit_surrogate"):
        sampler = GPSampler(seed=seed)
    return sampler.fit_surrogate(study.space, study.trials, study.direction)


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


def sobol_importance(
    sur: SurrogateLike,
    *,
    scale: ImportanceScale = "model",
    n_samples: int = 1024,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total Sobol indices of the surrogate's posterior mean over its
    whole space (see :func:`bayestune.plot.importance_data`), one per parameter in the
    space's order.

    Parameters are drawn as the search draws them: log parameters uniformly in log
    space, categoricals uniformly over their choices.
    """
    mean = _mean_function(sur, scale)
    return sobol_indices(lambda X: _chunked(mean, X), len(sur.space.names), n=n_samples,
                         seed=seed, transform=_cube_transform(sur.space))
