"""Stages 2 and 3 of a suggestion, and the fitted surrogate they make.

* :func:`warp_targets` (stage 2): orient the values to maximize, warp them, and place
  the failed trials (imputed in the objective model, labelled for the classifier);
* :func:`fit_models` (stage 3): fit the objective GP and the feasibility GP;
* :class:`Surrogate`: the fitted models with their acquisition (stage 4), answering in
  numpy, in the objective's own units, for the sampler, plots and diagnostics.

:class:`bayestune.samplers.gp.GPSampler` runs the stages in order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bayestune.gp.acquisition import Acquisition, log_prob_feasible
from bayestune.gp.model import DTYPE, build_model, fit_model, gp_settings, model_state
from bayestune.gp.options import FailureMode
from bayestune.gp.posterior import ExactPosteriorModel
from bayestune.gp.transforms import OutputWarp, fit_output_warp
from bayestune.space import Space

__all__ = ["Surrogate", "Prediction", "Targets", "FittedModels", "warp_targets", "fit_models"]

logger = logging.getLogger(__name__)

FIT_POINTS = 300
REFIT_ALWAYS_BELOW = 60
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Prediction:
    """Posterior summary at ``n`` points.

    Attributes:
        mean: ``n`` posterior medians in objective units (the warp is monotone, so the
            median maps exactly; the mean would not).
        lower: ``n`` lower ends of the central 95% band, objective units.
        upper: ``n`` upper ends, objective units.
        std: ``n`` posterior standard deviations in the model's (warped) units.
    """

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    std: np.ndarray


@dataclass(frozen=True)
class Surrogate:
    """A fitted GP surrogate of one study's history.

    Attributes:
        space: The search space.
        sign: +1 when the objective is maximized, -1 when minimized (the model always
            maximizes ``sign * value``).
        warp: The fitted output warp (raw maximize-oriented values -> model values).
        model: Exact posterior of the objective model.
        feasibility_model: Exact posterior of the failure classifier, or None.
        X_observed: ``n x d`` cube points the objective model saw.
        y_observed: ``n`` values there, in objective units.
        X_pending: ``p x d`` pending cube points.
        best_f: Best model value (the incumbent of expected improvement).
        acquisition_function: The acquisition (:class:`~bayestune.gp.acquisition.Acquisition`).
        state: JSON-ready hyperparameters of the fits (for warm starts).
        status: How the fits went (``"warm"``, ``"cold"``, ``"fallback: ..."``).
    """

    space: Space
    sign: float
    warp: OutputWarp
    model: ExactPosteriorModel
    feasibility_model: ExactPosteriorModel | None
    X_observed: np.ndarray
    y_observed: np.ndarray
    X_pending: np.ndarray
    best_f: float
    acquisition_function: Acquisition = field(repr=False)
    state: Mapping[str, Any] = field(default_factory=dict, repr=False)
    status: str = ""

    def _points(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[-1] != len(self.space):
            raise ValueError(f"expected points with {len(self.space)} columns, got {X.shape}")
        return X

    def _t(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self._points(X), dtype=DTYPE)

    def predict(self, X: np.ndarray) -> Prediction:
        """Posterior at ``n x d`` cube points, in objective units."""
        with torch.no_grad():
            mean, var = self.model.mean_and_var(self._t(X))
        mu, sd = mean.numpy(), var.sqrt().numpy()
        lo = self.sign * self.warp.inverse(mu - _Z95 * sd)
        hi = self.sign * self.warp.inverse(mu + _Z95 * sd)
        med = self.sign * self.warp.inverse(mu)
        return Prediction(mean=med, lower=np.minimum(lo, hi), upper=np.maximum(lo, hi), std=sd)

    def acquisition(self, X: np.ndarray) -> np.ndarray:
        """Acquisition values (log EI by default) at ``n x d`` cube points."""
        return self.acquisition_function(self._points(X))

    def feasibility(self, X: np.ndarray) -> np.ndarray:
        """Probability that a run at each of ``n x d`` cube points does not fail."""
        if self.feasibility_model is None:
            return np.ones(np.atleast_2d(X).shape[0])
        with torch.no_grad():
            lp = log_prob_feasible(self.feasibility_model, self._t(X).unsqueeze(-2))
        return np.exp(lp.numpy()).reshape(-1)

    @property
    def lengthscales(self) -> dict[str, float]:
        """Fitted ARD lengthscale of each parameter (cube units; large = little effect)."""
        ls = self.model.kernel.lengthscale.detach().reshape(-1).tolist()
        return dict(zip(self.space.names, ls, strict=True))


def _exact(model, X: torch.Tensor, y: torch.Tensor) -> ExactPosteriorModel:
    return ExactPosteriorModel(
        model.covar_module, float(model.mean_module.constant.detach()),
        float(model.likelihood.noise.detach().reshape(-1)[0]), X, y,
    )


def _fit(X: torch.Tensor, y: torch.Tensor, cat_dims: list[int],
         warm: Mapping[str, Any] | None, seed: int, refit_growth: float):
    """Fit hyperparameters on at most ``FIT_POINTS`` points, condition on all of them.

    Marginal-likelihood fits cost O(n³) per step; beyond a few hundred points the
    hyperparameters hardly move with more data, so they are fitted on the best fifth of
    the subset plus a seeded random sample of the rest, and the posterior then uses
    every point (one Cholesky factorization). Past ``REFIT_ALWAYS_BELOW`` points, the
    previous hyperparameters are reused as they are until the data has grown by
    ``refit_growth`` (a fraction) since they were fitted.

    Returns:
        The fit's status, the exact posterior on all points, and the JSON-ready state
        (hyperparameters and the point count they were fitted on).
    """
    n = X.shape[0]
    warm = dict(warm or {})
    n_fit = warm.pop("n_fit", None)
    reuse = (n >= REFIT_ALWAYS_BELOW and isinstance(n_fit, (int, float))
             and n < n_fit * (1.0 + refit_growth))
    Xf, yf = X, y
    if n > FIT_POINTS:
        order = torch.argsort(y, descending=True, stable=True)
        n_top = FIT_POINTS // 5
        g = torch.Generator().manual_seed(int(seed))
        rest = order[n_top:][torch.randperm(n - n_top, generator=g)[: FIT_POINTS - n_top]]
        idx = torch.sort(torch.cat([order[:n_top], rest])).values
        Xf, yf = X[idx], y[idx]
    gp, status = fit_model(build_model(Xf, yf, cat_dims), warm or None, reuse=reuse)
    state = {**model_state(gp), "n_fit": n_fit if status == "reused" else n}
    return status, _exact(gp, X, y), state


@dataclass(frozen=True)
class Targets:
    """What the models are fitted to (stage 2's output).

    Attributes:
        warp: The output warp fitted on the observed values (maximize orientation).
        X: ``m x d`` inputs of the objective model: the observed points, then the
            failed points when they are imputed.
        z: ``m`` warped targets there (failed points at the worst observed value).
        best_f: Best warped observed value (the incumbent of expected improvement).
        X_labels: ``(n + f) x d`` inputs of the feasibility classifier, or None when it
            is not fitted (no failure, or another failure mode).
        labels: ``n + f`` labels, +1 (ran) and -1 (failed), or None.
    """

    warp: OutputWarp
    X: np.ndarray
    z: np.ndarray
    best_f: float
    X_labels: np.ndarray | None = None
    labels: np.ndarray | None = None


def warp_targets(
    X: np.ndarray,
    values: np.ndarray,
    *,
    sign: float,
    X_failed: np.ndarray,
    warp_outputs: bool = True,
    failure_mode: FailureMode = "feasibility",
) -> Targets:
    """Stage 2: orient the values to maximize, warp them, place the failed trials.

    Args:
        X: ``n x d`` cube points of trials with a value (n >= 1).
        values: ``n`` finite objective values (user orientation).
        sign: +1 to maximize ``values``, -1 to minimize them (the one sign flip).
        X_failed: ``f x d`` cube points of failed trials.
        warp_outputs: Apply the Yeo-Johnson output warp (else standardize only).
        failure_mode: ``"feasibility"`` (default: a classifier's P(ok) multiplies EI,
            and failed points also enter the objective model with the worst observed
            value, so it does not extrapolate improvement into a region where runs
            fail), ``"impute"`` (the imputation alone) or ``"ignore"``.
    """
    raw = sign * np.asarray(values, dtype=float)
    warp = fit_output_warp(raw, power=warp_outputs)
    z = warp.forward(raw)
    Xm, zm = X, z
    has_failed = X_failed.shape[0] > 0
    if failure_mode in ("impute", "feasibility") and has_failed:
        Xm = np.concatenate([X, X_failed])
        zm = np.concatenate([z, np.full(X_failed.shape[0], z.min())])
    X_labels = labels = None
    if failure_mode == "feasibility" and has_failed:
        X_labels = np.concatenate([X, X_failed])
        labels = np.concatenate([np.ones(X.shape[0]), -np.ones(X_failed.shape[0])])
    return Targets(warp=warp, X=Xm, z=zm, best_f=float(z.max()), X_labels=X_labels,
                   labels=labels)


@dataclass(frozen=True)
class FittedModels:
    """Stage 3's output: the exact posteriors and how their fits went.

    Attributes:
        objective: The objective model's posterior (warped, maximize orientation).
        feasibility: The failure classifier's posterior, or None.
        state: JSON-ready hyperparameters of the fits (warm start of the next one).
        status: ``"warm"``, ``"cold"``, ``"reused"`` or ``"fallback: ..."`` (and the
            classifier's after ``"; feasibility"``).
    """

    objective: ExactPosteriorModel
    feasibility: ExactPosteriorModel | None
    state: Mapping[str, Any]
    status: str


def fit_models(targets: Targets, cat_dims: list[int], *,
               warm_state: Mapping[str, Any] | None = None, seed: int = 0,
               refit_growth: float = 0.0) -> FittedModels:
    """Stage 3: fit the objective GP, and the feasibility GP when it is needed.

    Args:
        targets: Stage 2's output.
        cat_dims: Indices of the categorical columns.
        warm_state: Hyperparameters of a previous fit (``FittedModels.state``).
        seed: Seed of the fitting subsample (beyond ``FIT_POINTS`` points).
        refit_growth: Reuse the warm-start hyperparameters without refitting until the
            data has grown by this fraction (only past ``REFIT_ALWAYS_BELOW`` points;
            0 refits every time).

    Raises:
        torch.linalg.LinAlgError: only if even the fallback covariance is singular.
    """
    warm = warm_state or {}
    with gp_settings():
        status, model, ostate = _fit(torch.as_tensor(targets.X, dtype=DTYPE),
                                     torch.as_tensor(targets.z, dtype=DTYPE), cat_dims,
                                     warm.get("objective"), seed, refit_growth)
        state: dict[str, Any] = {"objective": ostate}
        feas = None
        if targets.labels is not None:
            cstatus, feas, cstate = _fit(torch.as_tensor(targets.X_labels, dtype=DTYPE),
                                         torch.as_tensor(targets.labels, dtype=DTYPE),
                                         cat_dims, warm.get("feasibility"), seed, refit_growth)
            state["feasibility"] = cstate
            status = f"{status}; feasibility {cstatus}"
    return FittedModels(objective=model, feasibility=feas, state=state, status=status)
