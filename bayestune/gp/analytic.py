"""Closed-form values and gradients of the analytic acquisitions, in numpy.

The acquisition optimizer evaluates the acquisition and its gradient a few hundred
times per suggestion, on a handful of points at once. Through torch's autograd each
evaluation costs about 2 ms of graph bookkeeping for a few thousand flops; the same
quantities written out by hand in numpy cost a tenth of that. This module is that
fast implementation of the :class:`~bayestune.gp.acquisition.Acquisition` protocol: it
computes, value for value, the botorch acquisitions that the autograd implementation
wraps when no trial is pending (``LogExpectedImprovement``, ``UpperConfidenceBound``,
each optionally plus ``log P(ok)`` of the feasibility classifier).
:func:`bayestune.gp.acquisition.build_acquisition` picks it whenever it applies; the
batch forms with pending points go through autograd. The tests check values against
botorch and gradients against autograd.

The kernel values, its derivative and the predictive equations come from
:mod:`bayestune.gp.kernels` and :mod:`bayestune.gp.posterior`. Derivatives, with
``r² = Σ_j (x_j − x'_j)² / ℓ_j² (+ Hamming terms, constant in the continuous columns)``:

* ``∂k/∂x_j = 2 (dk/dr²) (x_j − x'_j) / ℓ_j²``;
* ``μ = m + k α`` so ``∂μ = ∂k α``; ``σ² = k(x, x) − k K⁻¹ kᵀ`` so ``∂σ² = −2 ∂k K⁻¹ kᵀ``;
* log EI with ``u = (μ − f*) / σ``: ``log h(u) + log σ`` where ``h(u) = φ(u) + u Φ(u)``,
  whose derivative in ``u`` is ``Φ(u) / h(u)`` (taken in log space, stable for any u);
* ``log Φ(t)`` with ``t = μ_c / σ_c``: derivative ``φ(t) / Φ(t)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr

from bayestune._checks import check_option
from bayestune.gp.kernels import PRIOR_VARIANCE, ScaledInputs, matern52, matern52_dr2
from bayestune.gp.options import AcquisitionKind
from bayestune.gp.posterior import MIN_VARIANCE, ExactPosteriorModel, predictive_moments

__all__ = ["ClosedFormAcquisition"]

_SQRT2 = math.sqrt(2.0)
_LN2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_SQRT_HALF_PI = 0.5 * math.log(0.5 * math.pi)
_CHUNK = 256  # rows per block when scoring many candidates (bounds b x n x d memory)


@dataclass(frozen=True)
class _GP:
    """What a prediction of a fitted :class:`ExactPosteriorModel` needs, computed once.

    The kernel's numbers come from :mod:`bayestune.gp.kernels` (``matern52``, its
    derivative, the prior variance, the scaled training inputs) and the predictive
    equations from :func:`bayestune.gp.posterior.predictive_moments`: nothing of the
    model is written again here.
    """

    inputs: ScaledInputs
    alpha: np.ndarray  # n, K^-1 (y - m)
    K_inv: np.ndarray  # n x n
    mean: float

    @classmethod
    def of(cls, model: ExactPosteriorModel) -> _GP:
        return cls(
            inputs=model.kernel.scaled_inputs(model.X),
            alpha=model.alpha.detach().reshape(-1).numpy().astype(np.float64),
            K_inv=model.K_inv.detach().numpy().astype(np.float64),
            mean=float(model.mean_value),
        )

    def moments(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance (each ``b``) at ``b x d`` points."""
        k = matern52(self.inputs.r2(X))  # b x n
        return predictive_moments(k, PRIOR_VARIANCE, self.mean, self.alpha, self.K_inv)

    def moments_and_grads(self, X: np.ndarray, free: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean and variance (``b``) and their gradients (``b x f``) in the ``free`` columns.

        Args:
            X: ``b x d`` points.
            free: Indices of continuous columns to differentiate by.
        """
        r2, diff = self.inputs.r2_and_diffs(X)  # b x n, b x n x c
        k = matern52(r2)
        g = 2.0 * matern52_dr2(r2)  # dk/dx_j = g (x_j - x'_j) / l_j^2
        pos = np.searchsorted(self.inputs.cont, free)  # free columns among the continuous
        dfree = diff[:, :, pos] * self.inputs.inv_ls_cont[pos]  # b x n x f
        mean, var = predictive_moments(k, PRIOR_VARIANCE, self.mean, self.alpha, self.K_inv)
        v = k @ self.K_inv  # b x n
        d_mean = np.einsum("bn,bnf->bf", g * self.alpha, dfree)
        d_var = -2.0 * np.einsum("bn,bnf->bf", g * v, dfree)
        d_var[var <= MIN_VARIANCE] = 0.0  # clamped at the floor: flat
        return mean, var, d_mean, d_var


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


class ClosedFormAcquisition:
    """log EI or UCB (plus ``log P(ok)``) with closed-form gradients: one implementation
    of the :class:`~bayestune.gp.acquisition.Acquisition` protocol.

    Args:
        model: The objective's posterior.
        kind: ``"logei"`` or ``"ucb"``.
        best_f: Best observed (warped) value, for log EI.
        beta: UCB's weight (``μ + √β σ``).
        feasibility: The feasibility classifier's posterior, or None.
    """

    def __init__(self, model: ExactPosteriorModel, kind: AcquisitionKind, *,
                 best_f: float = 0.0, beta: float = 4.0,
                 feasibility: ExactPosteriorModel | None = None) -> None:
        self.kind = check_option("kind", kind, AcquisitionKind)
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
