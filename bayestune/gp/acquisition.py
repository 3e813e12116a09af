"""The acquisition protocol, and the one function that builds an acquisition.

The acquisition optimizer (:mod:`bayestune.gp.optimize`) consumes only the
:class:`Acquisition` protocol: values at ``b x d`` cube points, and values with their
gradients over chosen (continuous) columns. Two implementations:

* :class:`~bayestune.gp.analytic.ClosedFormAcquisition`: log EI or UCB, plus
  ``log P(ok)``, with hand-derived gradients in numpy (no pending trials; the fast path).
* :class:`~bayestune.gp.autograd.AutogradAcquisition`: any botorch acquisition (here
  qLogEI / qUCB with pending points) differentiated by torch's autograd.

:func:`build_acquisition` picks the closed form whenever it applies; both compute the
same numbers (tests compare them value for value and through the optimizer).

The acquisitions:

* No pending trials: log expected improvement (botorch's ``LogExpectedImprovement``,
  Ament et al., 2023), or the upper confidence bound ``μ + √β σ``.
* Pending trials (asked, not told): ``qLogExpectedImprovement`` with ``X_pending``: the
  candidate's improvement is integrated jointly with the pending points' posterior by
  quasi-Monte Carlo, so a point next to a pending one gains little and k concurrent
  asks spread out.
* Failed trials (diverged, NaN, exceptions): a second GP is fitted to labels +1 (ran)
  and -1 (failed), a least-squares GP classifier (Rasmussen and Williams, 2006, §6.5).
  ``P(ok | x) = Φ(μ_c(x) / σ_c(x))`` multiplies the expected improvement, which in log
  space is ``log EI(x) + log Φ(μ_c / σ_c)``: the constrained EI of Gardner et al. (2014).
  Far from every trial ``μ_c`` reverts to the fitted constant mean (mostly positive when
  most trials run), so exploration is not shut off; next to failures ``P(ok)`` falls
  towards zero and the search stops proposing there. (The surrogate also imputes the
  worst observed value at failed points in the objective model, see
  :func:`bayestune.gp.surrogate.warp_targets`: without it the objective GP extrapolates
  improvement across the edge of a failing region, and a classifier whose boundary is
  still fuzzy does not outweigh that.) With UCB, which is not in log space, the same
  ``log P(ok)`` is added as a log-barrier.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from torch import Tensor

from bayestune._checks import check_option
from bayestune.gp.analytic import ClosedFormAcquisition
from bayestune.gp.autograd import AutogradAcquisition, botorch_acquisition, log_prob_feasible
from bayestune.gp.options import AcquisitionKind
from bayestune.gp.posterior import ExactPosteriorModel

__all__ = ["Acquisition", "AcquisitionKind", "build_acquisition", "log_prob_feasible"]


@runtime_checkable
class Acquisition(Protocol):
    """An acquisition function over cube points, to be maximized.

    Values may be ``-inf`` (or non-finite) where the acquisition underflows; the
    optimizer treats those as the worst values.
    """

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Values (``b``) at ``b x d`` cube points."""
        ...

    def value_and_grad(self, X: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (``b``) and gradients (``b x f``) in the ``f`` continuous columns
        ``free`` at ``b x d`` cube points."""
        ...


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
    closed_form: bool = True,
) -> Acquisition:
    """The acquisition to maximize (stage 4 of a suggestion).

    Args:
        model: Posterior of the objective (maximize orientation, warped).
        best_f: Best observed (warped) value.
        kind: ``"logei"`` or ``"ucb"``.
        X_pending: ``p x d`` pending points (asked, not told), or None.
        feasibility: Posterior of the feasibility classifier, or None when no trial failed.
        ucb_beta: UCB's exploration weight (``μ + sqrt(β) σ``).
        mc_samples: Quasi-MC samples of the batch forms.
        seed: Seed of the quasi-MC base samples.
        closed_form: Use the closed-form implementation when it applies (no pending
            points); False forces autograd through botorch (for comparisons).

    Raises:
        InvalidValueError: for an unknown ``kind``.
    """
    check_option("kind", kind, AcquisitionKind)
    has_pending = X_pending is not None and X_pending.shape[0] > 0
    if closed_form and not has_pending:
        return ClosedFormAcquisition(model, kind, best_f=best_f, beta=ucb_beta,
                                     feasibility=feasibility)
    return AutogradAcquisition(botorch_acquisition(
        model, best_f, kind=kind, X_pending=X_pending, feasibility=feasibility,
        ucb_beta=ucb_beta, mc_samples=mc_samples, seed=seed))
