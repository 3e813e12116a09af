"""Closed-form values and gradients of the analytic acquisitions, in numpy.

The acquisition optimizer evaluates the acquisition and its gradient a few hundred
times per suggestion, on a handful of points at once. Through torch's autograd each
evaluation costs about 2 ms of graph bookkeeping for a few thousand flops; the same
quantities written out by hand in numpy cost a tenth of that. This module is that
private fast path: it mirrors, value for value, the botorch acquisitions that
:func:`bayestune.gp.acquisition.build_acquisition` builds when no trial is pending
(``LogExpectedImprovement``, ``UpperConfidenceBound``, each optionally plus
``log P(ok)`` of the feasibility classifier), and :func:`fast_acquisition` returns
``None`` for every other acquisition (the batch forms with pending points), which then
go through autograd as before. The tests check values against botorch and gradients
against autograd.

Derivatives, for a Matérn-5/2 kernel with ``r² = Σ_j (x_j − x'_j)² / ℓ_j² (+ Hamming
terms, constant in the continuous columns)``:

* ``∂k/∂x_j = −(5/3) (1 + √5 r) e^{−√5 r} (x_j − x'_j) / ℓ_j²`` (smooth at ``r = 0``);
* ``μ = m + k α`` so ``∂μ = ∂k α``; ``σ² = 1 − k K⁻¹ kᵀ`` so ``∂σ² = −2 ∂k K⁻¹ kᵀ``;
* log EI with ``u = (μ − f*) / σ``: ``log h(u) + log σ`` where ``h(u) = φ(u) + u Φ(u)``,
  whose derivative in ``u`` is ``Φ(u) / h(u)`` (taken in log space, stable for any u);
* ``log Φ(t)`` with ``t = μ_c / σ_c``: derivative ``φ(t) / Φ(t)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import erfcx, log_ndtr, ndtr
from torch import Tensor

from bayestune.gp.posterior import ExactPosteriorModel

__all__ = ["FastAcquisition", "fast_acquisition"]

_SQRT5 = math.sqrt(5.0)
_SQRT2 = math.sqrt(2.0)
_LN2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_SQRT_HALF_PI = 0.5 * math.log(0.5 * math.pi)
_MIN_VAR = 1e-12  # the floor of ExactPosteriorModel.mean_and_var and botorch's sigma
_CHUNK = 256  # rows per block when scoring many candidates (bounds b x n x d memory)


@dataclass(frozen=True)
class _GP:
    """What a prediction of a fitted :class:`ExactPosteriorModel` needs, computed once.

    The training inputs are kept scaled by the inverse lengthscales (continuous columns)
    and apart (categorical columns), so that no evaluation rescales them again.
    """

    T: np.ndarray  # n x c continuous training inputs divided by their lengthscales
    T_sq: np.ndarray  # n, squared norms of the rows of T
    inv_ls_cont: np.ndarray  # c inverse lengthscales of the continuous columns
    cont: np.ndarray  # indices of the continuous columns
    X_cat: np.ndarray  # n x q categorical training inputs
    w_cat: np.ndarray  # q, 1 / lengthscale² of the categorical columns
    cat: np.ndarray  # indices of the categorical columns
    alpha: np.ndarray  # n, K^-1 (y - m)
    K_inv: np.ndarray  # n x n
    mean: float

    @classmethod
    def of(cls, model: ExactPosteriorModel) -> _GP:
        inv_ls = 1.0 / model.kernel.lengthscale.detach().reshape(-1).numpy().astype(np.float64)
        X = model.X.detach().numpy().astype(np.float64)
        cont = np.asarray(model.kernel.cont_dims, dtype=np.intp)
        cat = np.asarray(model.kernel.cat_dims, dtype=np.intp)
        T = X[:, cont] * inv_ls[cont]
        return cls(
            T=T, T_sq=(T * T).sum(1), inv_ls_cont=inv_ls[cont], cont=cont,
            X_cat=X[:, cat], w_cat=inv_ls[cat] ** 2, cat=cat,
            alpha=model.alpha.detach().reshape(-1).numpy().astype(np.float64),
            K_inv=model.K_inv.detach().numpy().astype(np.float64),
            mean=float(model.mean_value),
        )

    def _r2_cat(self, X: np.ndarray) -> np.ndarray | float:
        if not self.cat.size:
            return 0.0
        neq = X[:, None, self.cat] != self.X_cat[None, :, :]  # b x n x q
        return neq @ self.w_cat

    def moments(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance (each ``b``) at ``b x d`` points."""
        a = X[:, self.cont] * self.inv_ls_cont
        r2 = (a * a).sum(1)[:, None] + self.T_sq[None, :] - 2.0 * (a @ self.T.T)
        r2 = np.maximum(r2 + self._r2_cat(X), 0.0)
        r = np.sqrt(np.maximum(r2, 1e-30))
        k = (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * np.exp(-_SQRT5 * r)  # b x n
        mean = self.mean + k @ self.alpha
        var = np.maximum(1.0 - ((k @ self.K_inv) * k).sum(1), _MIN_VAR)
        return mean, var

    def moments_and_grads(self, X: np.ndarray, free: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean and variance (``b``) and their gradients (``b x f``) in the ``free`` columns.

        Args:
            X: ``b x d`` points.
            free: Indices of continuous columns to differentiate by.
        """
        diff = (X[:, None, self.cont] * self.inv_ls_cont) - self.T[None, :, :]  # b x n x c
        r2 = (diff * diff).sum(-1) + self._r2_cat(X)  # b x n
        r = np.sqrt(np.maximum(r2, 1e-30))
        e = np.exp(-_SQRT5 * r)
        k = (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * e
        g = -(5.0 / 3.0) * (1.0 + _SQRT5 * r) * e  # dk/dx_j = g (x_j - x'_j) / l_j^2
        pos = np.searchsorted(self.cont, free)  # free columns among the continuous ones
        dfree = diff[:, :, pos] * self.inv_ls_cont[pos]  # b x n x f, (x_j - x'_j) / l_j^2
        v = k @ self.K_inv  # b x n
        mean = self.mean + k @ self.alpha
        var_raw = 1.0 - (v * k).sum(1)
        d_mean = np.einsum("bn,bnf->bf", g * self.alpha, dfree)
        d_var = -2.0 * np.einsum("bn,bnf->bf", g * v, dfree)
        clamped = var_raw < _MIN_VAR
        d_var[clamped] = 0.0
        return mean, np.maximum(var_raw, _MIN_VAR), d_mean, d_var


def _log_h(u: np.ndarray) -> np.ndarray:
    """``log(φ(u) + u Φ(u))``, stable for any ``u`` (botorch's ``_log_ei_helper`` in numpy).

    Above ``u = -1`` directly; below, ``log φ(u) + log(1 − exp(w))`` with
    ``w = log(|u| Φ(u) / φ(u)) = log(|u| erfcx(−u/√2) √(π/2))``, and the leading term
    ``−2 log|u|`` of ``log(1 − exp(w))`` below ``u = −1e6``.
    """
    u = np.asarray(u, dtype=np.float64)
    out = np.empty_like(u)
    hi = u > -1.0
    if hi.any():
        uh = u[hi]
        out[hi] = np.log(np.exp(-0.5 * uh * uh - _LOG_SQRT_2PI) + uh * ndtr(uh))
    lo = ~hi
    if lo.any():
        ul = u[lo]
        log_phi = -0.5 * ul * ul - _LOG_SQRT_2PI
        ue = np.maximum(ul, -1e6)
        w = np.log(np.abs(ue) * erfcx(-ue / _SQRT2)) + _LOG_SQRT_HALF_PI
        log1mexp = np.where(w > -_LN2, np.log(-np.expm1(w)), np.log1p(-np.exp(w)))
        out[lo] = log_phi + np.where(ul > -1e6, log1mexp, -2.0 * np.log(np.abs(ul)))
    return out


class FastAcquisition:
    """log EI or UCB (plus ``log P(ok)``) with closed-form gradients.

    Args:
        model: The objective's posterior.
        kind: ``"logei"`` or ``"ucb"``.
        best_f: Best observed (warped) value, for log EI.
        beta: UCB's weight (``μ + √β σ``).
        feasibility: The feasibility classifier's posterior, or None.
    """

    def __init__(self, model: ExactPosteriorModel, kind: str, *, best_f: float = 0.0,
                 beta: float = 4.0, feasibility: ExactPosteriorModel | None = None) -> None:
        if kind not in ("logei", "ucb"):
            raise ValueError(f"kind must be 'logei' or 'ucb', got {kind!r}")
        self.kind = kind
        self.best_f = float(best_f)
        self.sqrt_beta = math.sqrt(float(beta))
        self.gp = _GP.of(model)
        self.feas = _GP.of(feasibility) if feasibility is not None else None

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Acquisition values (``b``) at ``b x d`` cube points."""
        X = np.asarray(X, dtype=np.float64)
        if X.shape[0] > _CHUNK:
            return np.concatenate([self(X[i:i + _CHUNK]) for i in range(0, X.shape[0], _CHUNK)])
        mean, var = self.gp.moments(X)
        sigma = np.sqrt(var)
        if self.kind == "logei":
            out = _log_h((mean - self.best_f) / sigma) + np.log(sigma)
        else:
            out = mean + self.sqrt_beta * sigma
        if self.feas is not None:
            mc, vc = self.feas.moments(X)
            out = out + log_ndtr(mc / np.sqrt(vc))
        return out

    def value_and_grad(self, X: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (``b``) and gradients (``b x f``) in the ``free`` columns at ``b x d`` points.

        ``free`` must index continuous (not categorical) columns.
        """
        X = np.asarray(X, dtype=np.float64)
        free = np.asarray(free, dtype=np.intp)
        mean, var, dm, dv = self.gp.moments_and_grads(X, free)
        sigma = np.sqrt(var)
        d_sigma = dv / (2.0 * sigma[:, None])
        if self.kind == "logei":
            u = (mean - self.best_f) / sigma
            log_h = _log_h(u)
            value = log_h + np.log(sigma)
            ratio = np.exp(log_ndtr(u) - log_h)  # d log h / du = Φ(u) / h(u)
            du = (dm - u[:, None] * d_sigma) / sigma[:, None]
            grad = ratio[:, None] * du + d_sigma / sigma[:, None]
        else:
            value = mean + self.sqrt_beta * sigma
            grad = dm + self.sqrt_beta * d_sigma
        if self.feas is not None:
            mc, vc, dmc, dvc = self.feas.moments_and_grads(X, free)
            sc = np.sqrt(vc)
            t = mc / sc
            log_cdf = log_ndtr(t)
            value = value + log_cdf
            mills = np.exp(-0.5 * t * t - _LOG_SQRT_2PI - log_cdf)  # φ(t) / Φ(t)
            dt = (dmc - t[:, None] * dvc / (2.0 * sc[:, None])) / sc[:, None]
            grad = grad + mills[:, None] * dt
        return value, grad


def fast_acquisition(acq: object) -> FastAcquisition | None:
    """The numpy twin of an acquisition built by ``build_acquisition``, or None.

    Only the analytic forms have one (no pending trials); the batch forms keep autograd.
    """
    # imported here: acquisition.py is the module that builds these classes
    from bayestune.gp.acquisition import _UCB, FeasibilityWeighted, _LogEI  # noqa: PLC0415

    feas = None
    if isinstance(acq, FeasibilityWeighted):
        feas, acq = acq.feasibility, acq.base
    if isinstance(acq, _LogEI) and isinstance(acq.model, ExactPosteriorModel) and acq.maximize:
        return FastAcquisition(acq.model, "logei", best_f=_scalar(acq.best_f), feasibility=feas)
    if isinstance(acq, _UCB) and isinstance(acq.model, ExactPosteriorModel) and acq.maximize:
        return FastAcquisition(acq.model, "ucb", beta=_scalar(acq.beta), feasibility=feas)
    return None


def _scalar(t: Tensor | float) -> float:
    return float(torch.as_tensor(t).reshape(-1)[0])
