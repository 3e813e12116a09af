"""Acquisition functions: botorch's LogEI family, pending points and failed trials.

* No pending trials: analytic ``LogExpectedImprovement`` (Ament et al., 2023).
* Pending trials (asked, not told): ``qLogExpectedImprovement`` with ``X_pending``: the
  candidate's improvement is integrated jointly with the pending points' posterior by
  quasi-Monte Carlo, so a point next to a pending one gains little and k concurrent
  asks spread out.
* ``UpperConfidenceBound`` / ``qUpperConfidenceBound`` when selected.
* Failed trials (diverged, NaN, exceptions): a second GP is fitted to labels +1 (ran)
  and -1 (failed), a least-squares GP classifier (Rasmussen and Williams, 2006, §6.5).
  ``P(ok | x) = Φ(μ_c(x) / σ_c(x))`` multiplies the expected improvement, which in log
  space is ``log EI(x) + log Φ(μ_c / σ_c)``: the constrained EI of Gardner et al. (2014).
  Far from every trial ``μ_c`` reverts to the fitted constant mean (mostly positive when
  most trials run), so exploration is not shut off; next to failures ``P(ok)`` falls
  towards zero and the search stops proposing there. (The surrogate also imputes the
  worst observed value at failed points in the objective model, see
  :func:`bayestune.gp.surrogate.fit_surrogate`: without it the objective GP extrapolates
  improvement across the edge of a failing region, and a classifier whose boundary is
  still fuzzy does not outweigh that.) With UCB, which is not in log space, the same
  ``log P(ok)`` is added as a log-barrier.
"""

from __future__ import annotations

from typing import Literal

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

from bayestune.gp.posterior import ExactPosteriorModel

__all__ = ["AcquisitionKind", "build_acquisition", "log_prob_feasible"]

AcquisitionKind = Literal["logei", "ucb"]


class _FastMoments:
    """Take mean and sigma straight from :class:`ExactPosteriorModel` (no posterior object)."""

    model: ExactPosteriorModel

    def _mean_and_sigma(self, X: Tensor, compute_sigma: bool = True, min_var: float = 1e-12):
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


class FeasibilityWeighted(AcquisitionFunction):
    """``base(X) + log P(ok | X)``: a log-space acquisition times the feasibility."""

    def __init__(self, base: AcquisitionFunction, feasibility: ExactPosteriorModel) -> None:
        super().__init__(model=base.model)
        self.base = base
        self.feasibility = feasibility

    def forward(self, X: Tensor) -> Tensor:
        return self.base(X) + log_prob_feasible(self.feasibility, X)


def build_acquisition(
    model: ExactPosteriorModel,
    best_f: float,
    *,
    kind: AcquisitionKind = "logei",
    X_pending: Tensor | None = None,
    feasibility: ExactPosteriorModel | None = None,
    ucb_beta: float = 4.0,
    mc_samples: int = 128,
    seed: int = 0,
) -> AcquisitionFunction:
    """The acquisition to maximize, taking ``b x 1 x d`` and returning ``b`` values.

    Args:
        model: Posterior of the objective (maximize orientation, warped).
        best_f: Best observed (warped) value.
        kind: ``"logei"`` or ``"ucb"``.
        X_pending: ``p x d`` pending points (asked, not told), or None.
        feasibility: Posterior of the feasibility classifier, or None when no trial failed.
        ucb_beta: UCB's exploration weight (``μ + sqrt(β) σ``).
        mc_samples: Quasi-MC samples of the batch forms.
        seed: Seed of the quasi-MC base samples.
    """
    has_pending = X_pending is not None and X_pending.shape[0] > 0
    if kind == "logei":
        if has_pending:
            sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]), seed=seed)
            acq: AcquisitionFunction = qLogExpectedImprovement(
                model, best_f=best_f, sampler=sampler, X_pending=X_pending)
        else:
            acq = _LogEI(model, best_f=best_f)
    elif kind == "ucb":
        if has_pending:
            sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]), seed=seed)
            acq = qUpperConfidenceBound(model, beta=ucb_beta, sampler=sampler,
                                        X_pending=X_pending)
        else:
            acq = _UCB(model, beta=ucb_beta)
    else:
        raise ValueError(f"acquisition must be 'logei' or 'ucb', got {kind!r}")
    if feasibility is not None:
        acq = FeasibilityWeighted(acq, feasibility)
    return acq
