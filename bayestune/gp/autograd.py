"""The autograd implementation of the acquisition protocol, over botorch's acquisitions.

* No pending trials: analytic ``LogExpectedImprovement`` (Ament et al., 2023) or
  ``UpperConfidenceBound``, reading mean and sigma straight from
  :class:`~bayestune.gp.posterior.ExactPosteriorModel` (no posterior object).
* Pending trials (asked, not told): ``qLogExpectedImprovement`` / ``qUpperConfidenceBound``
  with ``X_pending``: the candidate's improvement is integrated jointly with the pending
  points' posterior by quasi-Monte Carlo, so a point next to a pending one gains little
  and k concurrent asks spread out.
* With a feasibility classifier, ``log P(ok)`` is added (see
  :mod:`bayestune.gp.acquisition`).

:class:`AutogradAcquisition` turns any such torch module (or any callable from
``b x 1 x d`` tensors to ``b`` values) into the numpy protocol the optimizer consumes,
with gradients from torch's autograd.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from botorch.acquisition import (
    AcquisitionFunction,
    LogExpectedImprovement,
    UpperConfidenceBound,
    qLogExpectedImprovement,
    qUpperConfidenceBound,
)
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils.probability.utils import log_ndtr
from torch import Tensor

from bayestune.gp.posterior import MIN_VARIANCE, ExactPosteriorModel

__all__ = ["AutogradAcquisition", "botorch_acquisition", "log_prob_feasible"]

_CHUNK = 1024  # rows per forward pass when scoring many candidates


class AutogradAcquisition:
    """A torch acquisition behind the numpy protocol, differentiated by autograd.

    Args:
        fn: Maps ``b x 1 x d`` float64 tensors to ``b`` acquisition values (a botorch
            ``AcquisitionFunction`` or any differentiable callable).
    """

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.fn = fn

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Acquisition values (``b``) at ``b x d`` cube points."""
        out = []
        with torch.no_grad():
            for i in range(0, X.shape[0], _CHUNK):
                xt = torch.as_tensor(X[i:i + _CHUNK], dtype=torch.float64).unsqueeze(-2)
                out.append(self.fn(xt).reshape(-1).numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def value_and_grad(self, X: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (``b``) and gradients (``b x f``) in the ``free`` columns at ``b x d``."""
        free_t = torch.as_tensor(np.asarray(free, dtype=np.intp))
        z = torch.as_tensor(X[:, free], dtype=torch.float64).requires_grad_(True)
        Xt = torch.as_tensor(X, dtype=torch.float64).clone()
        Xt[:, free_t] = z
        v = self.fn(Xt.unsqueeze(-2))
        finite = torch.isfinite(v)
        (g,) = torch.autograd.grad(torch.where(finite, v, torch.zeros_like(v)).sum(), z)
        return v.detach().numpy().astype(np.float64), g.numpy().astype(np.float64)


class _FastMoments:
    """Take mean and sigma straight from :class:`ExactPosteriorModel` (no posterior object)."""

    model: ExactPosteriorModel

    def _mean_and_sigma(self, X: Tensor, compute_sigma: bool = True,
                        min_var: float = MIN_VARIANCE):
        mean, var = self.model.mean_and_var(X)  # X: b x 1 x d -> b x 1
        if not compute_sigma:
            return mean, None
        return mean, var.clamp_min(min_var).sqrt()


class _LogEI(_FastMoments, LogExpectedImprovement):
    pass


class _UCB(_FastMoments, UpperConfidenceBound):
    pass


def log_prob_feasible(feasibility: ExactPosteriorModel, X: Tensor) -> Tensor:
    """``log P(ok)`` at ``b x q x d`` points (``b``; the sum over q for q > 1)."""
    mean, var = feasibility.mean_and_var(X)
    return log_ndtr(mean / var.sqrt()).sum(-1)


class _FeasibilityWeighted(AcquisitionFunction):
    """``base(X) + log P(ok | X)``: a log-space acquisition times the feasibility."""

    def __init__(self, base: AcquisitionFunction, feasibility: ExactPosteriorModel) -> None:
        super().__init__(model=base.model)
        self.base = base
        self.feasibility = feasibility

    def forward(self, X: Tensor) -> Tensor:
        return self.base(X) + log_prob_feasible(self.feasibility, X)


def botorch_acquisition(
    model: ExactPosteriorModel,
    best_f: float | Tensor,
    *,
    kind: str,
    X_pending: Tensor | None,
    feasibility: ExactPosteriorModel | None,
    ucb_beta: float | Tensor,
    mc_samples: int,
    seed: int,
) -> AcquisitionFunction:
    """The botorch module of an acquisition (see the module docstring).

    Arguments as :func:`bayestune.gp.acquisition.build_acquisition`; ``kind`` is
    ``"logei"`` or ``"ucb"`` (checked there).
    """
    has_pending = X_pending is not None and X_pending.shape[0] > 0
    # float64 buffers: botorch would store Python floats in float32, which the closed form
    # (float64 throughout) would not match digit for digit
    best_f = torch.tensor(float(best_f), dtype=torch.float64)
    ucb_beta = torch.tensor(float(ucb_beta), dtype=torch.float64)
    sampler = (SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]), seed=seed)
               if has_pending else None)
    acq: AcquisitionFunction
    if kind == "logei":
        acq = (qLogExpectedImprovement(model, best_f=best_f, sampler=sampler,
                                       X_pending=X_pending)
               if has_pending else _LogEI(model, best_f=best_f))
    else:
        acq = (qUpperConfidenceBound(model, beta=ucb_beta, sampler=sampler, X_pending=X_pending)
               if has_pending else _UCB(model, beta=ucb_beta))
    if feasibility is not None:
        acq = _FeasibilityWeighted(acq, feasibility)
    return acq
