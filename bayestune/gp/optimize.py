"""Maximizing an acquisition function over a mixed space.

1. Score raw candidates: scrambled Sobol points over the cube, the best observed
   points, and Gaussian perturbations of them (local exploitation).
2. From the top ``n_restarts`` distinct candidates, run one batched L-BFGS-B over the
   continuous columns (integers relaxed to the continuous cube), the batch summed so
   one scipy call serves every start.
3. Round integers to their bins, then a best-improvement local search over the discrete
   columns (every other choice of each categorical, the neighbouring values of each
   integer), all neighbours of all starts scored in one call; then polish the floats
   again with the discrete columns fixed.
4. Return the best candidate that is not a duplicate of a completed, failed or pending
   configuration (after rounding).

Values and gradients come from :mod:`bayestune.gp.analytic` (closed form, numpy) when the
acquisition is one of the analytic forms, else from the torch module through autograd.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.stats import qmc
from torch import Tensor

from bayestune.gp.analytic import FastAcquisition, fast_acquisition
from bayestune.space import Categorical, Int, Space, is_duplicate

__all__ = ["optimize_acquisition"]

logger = logging.getLogger(__name__)

AcqFn = Callable[[Tensor], Tensor]


def _score(acq: AcqFn, X: np.ndarray, chunk: int = 1024,
           fast: FastAcquisition | None = None) -> np.ndarray:
    if fast is not None:
        v = fast(X) if X.shape[0] else np.zeros(0)
        return np.where(np.isfinite(v), v, -np.inf)
    out = []
    with torch.no_grad():
        for i in range(0, X.shape[0], chunk):
            xt = torch.as_tensor(X[i:i + chunk], dtype=torch.float64).unsqueeze(-2)
            out.append(acq(xt).reshape(-1).numpy())
    v = np.concatenate(out) if out else np.zeros(0)
    return np.where(np.isfinite(v), v, -np.inf)


def _lbfgs(acq: AcqFn, X0: np.ndarray, free: np.ndarray, maxiter: int,
           fast: FastAcquisition | None = None) -> np.ndarray:
    idx = np.flatnonzero(free)
    if idx.size == 0 or X0.shape[0] == 0:
        return X0
    k = X0.shape[0]
    base = torch.as_tensor(X0, dtype=torch.float64)
    idx_t = torch.as_tensor(idx)

    def f_fast(z: np.ndarray) -> tuple[float, np.ndarray]:
        X = X0.copy()
        X[:, idx] = z.reshape(k, idx.size)
        v, g = fast.value_and_grad(X, idx)
        ok = np.isfinite(v)
        g = np.where(ok[:, None], np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
        return float(-np.where(ok, v, -1e6).sum()), -g.reshape(-1)

    def f(z: np.ndarray) -> tuple[float, np.ndarray]:
        zt = torch.as_tensor(z.reshape(k, idx.size), dtype=torch.float64).requires_grad_(True)
        X = base.clone()
        X[:, idx_t] = zt
        v = acq(X.unsqueeze(-2))
        v = torch.where(torch.isfinite(v), v, torch.full_like(v, -1e6))
        loss = -v.sum()
        (g,) = torch.autograd.grad(loss, zt)
        g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
        return float(loss.detach()), g.numpy().reshape(-1).astype(np.float64)

    z0 = X0[:, idx].reshape(-1)
    try:
        res = minimize(f if fast is None else f_fast, z0, jac=True, method="L-BFGS-B",
                       bounds=[(0.0, 1.0)] * z0.size, options={"maxiter": maxiter, "ftol": 1e-6})
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


def _local_search(acq: AcqFn, space: Space, X: np.ndarray, vals: np.ndarray,
                  max_rounds: int = 20, fast: FastAcquisition | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    X, vals = X.copy(), vals.copy()
    active = np.ones(X.shape[0], dtype=bool)
    for _ in range(max_rounds):
        if not active.any():
            break
        blocks = [(i, _neighbours(space, X[i])) for i in np.flatnonzero(active)]
        blocks = [(i, nb) for i, nb in blocks if nb.shape[0]]
        if not blocks:
            break
        scores = _score(acq, np.concatenate([nb for _, nb in blocks]), fast=fast)
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
    acq: AcqFn,
    space: Space,
    *,
    X_best: np.ndarray,
    X_seen: np.ndarray,
    seed: int,
    n_raw: int = 512,
    n_restarts: int = 6,
    maxiter: int = 60,
) -> tuple[np.ndarray, float]:
    """Find a high-acquisition point that was not evaluated or pending yet.

    Args:
        acq: Maps ``b x 1 x d`` cube points to ``b`` acquisition values.
        space: The search space (its columns' kinds and rounding).
        X_best: ``k x d`` best observed points (seeds of local starts).
        X_seen: ``m x d`` canonical points of every completed, failed or pending trial.
        seed: Seed of the raw candidates.
        n_raw: Number of Sobol raw candidates.
        n_restarts: Number of gradient-based starts.
        maxiter: L-BFGS-B iterations per stage.

    Returns:
        The chosen canonical cube point (``d``) and its acquisition value.
    """
    d = len(space)
    rng = np.random.default_rng(seed)
    cat = space.categorical_mask
    is_int = space.integer_mask
    sob = qmc.Sobol(d=d, scramble=True, seed=rng).random(n_raw)
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
    fast = fast_acquisition(acq)  # closed-form gradients when the acquisition has them
    raw_vals = _score(acq, raw, fast=fast)
    order = np.argsort(-raw_vals, kind="stable")
    starts: list[np.ndarray] = []
    for i in order:
        if len(starts) >= n_restarts:
            break
        if not any(np.allclose(raw[i], s) for s in starts):
            starts.append(raw[i])
    X = np.array(starts)
    X = _lbfgs(acq, X, ~cat, maxiter, fast)
    if cat.any() or is_int.any():
        X = space.canonicalize(X)
        X, _ = _local_search(acq, space, X, _score(acq, X, fast=fast), fast=fast)
        X = _lbfgs(acq, X, ~cat & ~is_int, maxiter, fast)
    X = space.canonicalize(X)
    vals = _score(acq, X, fast=fast)
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
