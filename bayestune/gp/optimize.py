"""Maximizing an acquisition function over a mixed space.

1. Score raw candidates: scrambled Sobol points over the cube, the best observed
   points, and Gaussian perturbations of them (local exploitation).
2. From the top ``num_restarts`` distinct candidates, run one batched L-BFGS-B over the
   continuous columns (integers relaxed to the continuous cube), the batch summed so
   one scipy call serves every start.
3. Round integers to their bins, then a best-improvement local search over the discrete
   columns (every other choice of each categorical, the neighbouring values of each
   integer), all neighbours of all starts scored in one call; then polish the floats
   again with the discrete columns fixed.
4. Return the best candidate that is not a duplicate of a completed, failed or pending
   configuration (after rounding).

The optimizer sees the acquisition only through the
:class:`~bayestune.gp.acquisition.Acquisition` protocol (values; values and gradients
over the free columns), whichever implementation computes them.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import minimize
from scipy.stats import qmc

from bayestune.gp.acquisition import Acquisition
from bayestune.space import Categorical, Int, Space, is_duplicate

__all__ = ["optimize_acquisition"]

logger = logging.getLogger(__name__)


def _score(acq: Acquisition, X: np.ndarray) -> np.ndarray:
    """Acquisition values (``b``) at ``b x d`` points, non-finite values as ``-inf``."""
    v = acq(X) if X.shape[0] else np.zeros(0)
    return np.where(np.isfinite(v), v, -np.inf)


def _lbfgs(acq: Acquisition, X0: np.ndarray, free: np.ndarray, maxiter: int) -> np.ndarray:
    """One L-BFGS-B run over the ``free`` columns of all ``k`` starts at once."""
    idx = np.flatnonzero(free)
    if idx.size == 0 or X0.shape[0] == 0:
        return X0
    k = X0.shape[0]

    def f(z: np.ndarray) -> tuple[float, np.ndarray]:
        X = X0.copy()
        X[:, idx] = z.reshape(k, idx.size)
        v, g = acq.value_and_grad(X, idx)
        ok = np.isfinite(v)
        g = np.where(ok[:, None], np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
        return float(-np.where(ok, v, -1e6).sum()), -g.reshape(-1)

    z0 = X0[:, idx].reshape(-1)
    try:
        res = minimize(f, z0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * z0.size,
                       options={"maxiter": maxiter, "ftol": 1e-6})
        z = np.clip(res.x, 0.0, 1.0)
    except (ValueError, RuntimeError, np.linalg.LinAlgError) as e:
        logger.debug("L-BFGS-B on the acquisition failed (%s); keeping the starts", e)
        return X0
    X = X0.copy()
    X[:, idx] = z.reshape(k, idx.size)
    return X


def _neighbours(space: Space, x: np.ndarray) -> np.ndarray:
    rows = []
    for j, name in enumerate(space.names):
        dim = space[name]
        if isinstance(dim, Categorical):
            cur = int(round(x[j]))
            for c in range(dim.n_values):
                if c != cur:
                    y = x.copy()
                    y[j] = float(c)
                    rows.append(y)
        elif isinstance(dim, Int):
            v = dim.from_cube(x[j])
            for w in (v - dim.step, v + dim.step):
                if dim.low <= w <= dim.high:
                    y = x.copy()
                    y[j] = dim.to_cube(w)
                    rows.append(y)
    return np.array(rows).reshape(-1, x.size)


def _local_search(acq: Acquisition, space: Space, X: np.ndarray, vals: np.ndarray,
                  max_rounds: int = 20) -> tuple[np.ndarray, np.ndarray]:
    X, vals = X.copy(), vals.copy()
    active = np.ones(X.shape[0], dtype=bool)
    for _ in range(max_rounds):
        if not active.any():
            break
        blocks = [(i, _neighbours(space, X[i])) for i in np.flatnonzero(active)]
        blocks = [(i, nb) for i, nb in blocks if nb.shape[0]]
        if not blocks:
            break
        scores = _score(acq, np.concatenate([nb for _, nb in blocks]))
        pos = 0
        for i, nb in blocks:
            s = scores[pos:pos + nb.shape[0]]
            pos += nb.shape[0]
            j = int(np.argmax(s))
            if s[j] > vals[i] + 1e-12:
                X[i], vals[i] = nb[j], s[j]
            else:
                active[i] = False
    return X, vals


def optimize_acquisition(
    acq: Acquisition,
    space: Space,
    *,
    X_best: np.ndarray,
    X_seen: np.ndarray,
    seed: int,
    raw_samples: int = 512,
    num_restarts: int = 6,
    maxiter: int = 60,
) -> tuple[np.ndarray, float]:
    """Find a high-acquisition point that was not evaluated or pending yet.

    Args:
        acq: The acquisition (:class:`~bayestune.gp.acquisition.Acquisition`).
        space: The search space (its columns' kinds and rounding).
        X_best: ``k x d`` best observed points (seeds of local starts).
        X_seen: ``m x d`` canonical points of every completed, failed or pending trial.
        seed: Seed of the raw candidates.
        raw_samples: Number of Sobol raw candidates.
        num_restarts: Number of gradient-based starts.
        maxiter: L-BFGS-B iterations per stage.

    Returns:
        The chosen canonical cube point (``d``) and its acquisition value.
    """
    d = len(space)
    rng = np.random.default_rng(seed)
    cat = space.categorical_mask
    is_int = space.integer_mask
    sob = qmc.Sobol(d=d, scramble=True, seed=rng).random(raw_samples)
    cands = [space.scale_unit(sob)]
    if X_best.shape[0]:
        top = X_best[:5]
        noise = rng.normal(scale=0.05, size=(top.shape[0] * 16, d))
        pert = np.repeat(top, 16, axis=0)
        pert[:, ~cat] = np.clip(pert[:, ~cat] + noise[:, ~cat], 0.0, 1.0)
        flip = rng.random(pert.shape) < 0.2
        randcat = space.scale_unit(rng.random(pert.shape))
        pert[:, cat] = np.where(flip[:, cat], randcat[:, cat], pert[:, cat])
        cands += [pert, X_best]
    raw = np.concatenate(cands)
    raw_vals = _score(acq, raw)
    order = np.argsort(-raw_vals, kind="stable")
    starts: list[np.ndarray] = []
    for i in order:
        if len(starts) >= num_restarts:
            break
        if not any(np.allclose(raw[i], s) for s in starts):
            starts.append(raw[i])
    X = np.array(starts)
    X = _lbfgs(acq, X, ~cat, maxiter)
    if cat.any() or is_int.any():
        X = space.canonicalize(X)
        X, _ = _local_search(acq, space, X, _score(acq, X))
        X = _lbfgs(acq, X, ~cat & ~is_int, maxiter)
    X = space.canonicalize(X)
    vals = _score(acq, X)
    pool = np.concatenate([X, space.canonicalize(raw[order[:64]])])
    pool_vals = np.concatenate([vals, raw_vals[order[:64]]])
    for i in np.argsort(-pool_vals, kind="stable"):
        if not is_duplicate(pool[i], X_seen):
            return pool[i], float(pool_vals[i])
    logger.info("every acquisition candidate duplicates a known trial; drawing a random point")
    for _ in range(100):
        x = space.canonicalize(space.scale_unit(rng.random((1, d))))[0]
        if not is_duplicate(x, X_seen):
            return x, float("-inf")
    return x, float("-inf")
