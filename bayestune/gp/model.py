"""Building and fitting the gpytorch surrogate (a botorch ``SingleTaskGP``).

Model: constant mean, :class:`MixedMatern52Kernel` with one lengthscale per input and
the dimension-scaled LogNormal lengthscale prior of Hvarfner et al. (2024), Gaussian
noise with a LogNormal(-4, 1) prior and a floor of 1e-4 (in standardized units), all in
float64 on the CPU. Hyperparameters are fitted by maximizing the marginal likelihood
plus log prior with L-BFGS-B, starting from the previous fit when one is given.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import gpytorch
import torch
from botorch.models import SingleTaskGP
from botorch.optim.closures import ForwardBackwardClosure
from botorch.optim.fit import fit_gpytorch_mll_scipy
from botorch.optim.utils import get_parameters_and_bounds
from gpytorch.constraints import GreaterThan
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from torch import Tensor

from bayestune.gp.kernels import MixedMatern52Kernel

__all__ = ["build_model", "fit_model", "model_state", "gp_settings", "exact_mll", "torch_threads",
           "DTYPE"]

logger = logging.getLogger(__name__)

DTYPE = torch.float64
MIN_NOISE = 1e-4
_MAXITER = 200
# Relative change of the (per-point) log marginal likelihood at which the fit stops.
# scipy's default (2.2e-9) spends most of its iterations on digits that move the
# suggestion by nothing; warm starts from the previous fit then converge in a few steps.
_FTOL = 1e-6


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run torch on ``n`` intra-op threads inside the block, then restore the caller's.

    Our matrices are small (tens to a few thousand rows): thread start-up and, on a busy
    machine, oversubscription cost far more than they save (we measured a 20-point
    likelihood gradient at 0.65 ms on one thread and 15 ms on two, under load).
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    try:
        with ExitStack() as stack:
            controller = _blas_controller()
            if controller is not None:  # BLAS threads of numpy/scipy (L-BFGS-B)
                stack.enter_context(controller.limit(limits=n, user_api="blas"))
            torch.set_num_threads(n)
            yield
    finally:
        torch.set_num_threads(before)


_CONTROLLER: list[Any] = []


def _blas_controller() -> Any:
    """threadpoolctl's controller, built once (building one scans every loaded library)."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController  # noqa: PLC0415

            _CONTROLLER.append(ThreadpoolController())
        except ImportError:  # optional: without it only torch's threads are limited
            _CONTROLLER.append(None)
    return _CONTROLLER[0]


def gp_settings() -> ExitStack:
    """A context with the gpytorch settings we rely on, set locally (never globally).

    Exact Cholesky solves up to 10,000 points (gpytorch switches to iterative solvers
    above 800 by default, which is slower and approximate at our sizes).
    """
    stack = ExitStack()
    stack.enter_context(gpytorch.settings.max_cholesky_size(10_000))
    stack.enter_context(gpytorch.settings.cholesky_max_tries(6))
    stack.enter_context(gpytorch.settings.fast_pred_var(False))
    stack.enter_context(gpytorch.settings.debug(False))
    return stack


def build_model(
    X: Tensor, y: Tensor, cat_dims: Sequence[int], fixed_noise: float | None = None
) -> SingleTaskGP:
    """An unfitted model.

    Args:
        X: ``n x d`` inputs in the unit cube (categorical columns hold indices).
        y: ``n`` targets, already warped and standardized (maximize orientation).
        cat_dims: Indices of categorical columns.
        fixed_noise: If given, the noise variance is fixed to this value (used by the
            feasibility model, whose labels are exact).
    """
    d = X.shape[-1]
    ls_prior = LogNormalPrior(loc=math.sqrt(2.0) + 0.5 * math.log(d), scale=math.sqrt(3.0))
    kernel = MixedMatern52Kernel(
        cat_dims=cat_dims,
        ard_num_dims=d,
        lengthscale_prior=ls_prior,
        lengthscale_constraint=GreaterThan(2.5e-2, transform=None,
                                           initial_value=ls_prior.mode),
    )
    noise_prior = LogNormalPrior(loc=-4.0, scale=1.0)
    likelihood = GaussianLikelihood(
        noise_prior=noise_prior,
        noise_constraint=GreaterThan(MIN_NOISE, transform=None,
                                     initial_value=noise_prior.mode),
    )
    model = SingleTaskGP(
        train_X=X, train_Y=y.unsqueeze(-1), likelihood=likelihood, covar_module=kernel,
        outcome_transform=None, input_transform=None,
    )
    if fixed_noise is not None:
        model.likelihood.noise = torch.tensor(max(fixed_noise, MIN_NOISE), dtype=X.dtype)
        model.likelihood.noise_covar.raw_noise.requires_grad_(False)
    return model.to(dtype=DTYPE)


def exact_mll(model: SingleTaskGP) -> Tensor:
    """Log marginal likelihood plus log priors, divided by ``n`` (as gpytorch's
    ``ExactMarginalLogLikelihood``), computed on dense tensors.

    This is the same objective as gpytorch's, without its lazy-tensor machinery, which
    at our sizes (tens to thousands of points) costs more than the linear algebra.

    Raises:
        torch.linalg.LinAlgError: when the covariance is not positive definite.
    """
    X = model.train_inputs[0]
    y = model.train_targets
    n = y.shape[-1]
    K = model.covar_module.forward(X, X)
    noise = model.likelihood.noise_covar.noise.reshape(())
    K = K + (noise + 1e-8) * torch.eye(n, dtype=K.dtype)
    L = torch.linalg.cholesky(K)
    r = (y - model.mean_module.constant).unsqueeze(-1)
    a = torch.cholesky_solve(r, L)
    res = -0.5 * (r * a).sum() - torch.log(torch.diagonal(L)).sum() \
        - 0.5 * n * math.log(2.0 * math.pi)
    priors = getattr(model, "_bt_priors", None)
    if priors is None:  # walking the module tree costs more than the algebra: do it once
        priors = [(m, p, c) for _, m, p, c, _ in model.named_priors()]
        model._bt_priors = priors
    for module, prior, closure in priors:
        res = res + prior.log_prob(closure(module)).sum()
    return res / n


def model_state(model: SingleTaskGP) -> dict[str, list[float]]:
    """The fitted hyperparameters, JSON-ready (stored with the trial it produced)."""
    return {k: v.detach().reshape(-1).tolist() for k, v in model.named_parameters()}


def _load_state(model: SingleTaskGP, state: Mapping[str, Any]) -> bool:
    params = dict(model.named_parameters())
    ok = False
    with torch.no_grad():
        for k, v in state.items():
            p = params.get(k)
            if p is None or not isinstance(v, list) or len(v) != p.numel():
                continue
            t = torch.tensor(v, dtype=p.dtype).reshape(p.shape)
            if torch.isfinite(t).all():
                p.copy_(t)
                ok = True
    return ok


def fit_model(
    model: SingleTaskGP, warm_start: Mapping[str, Any] | None = None, maxiter: int = _MAXITER,
    reuse: bool = False,
) -> tuple[SingleTaskGP, str]:
    """Fit hyperparameters in place; never raises.

    Tries, in order: from ``warm_start`` (the previous fit), from the prior's mode, and
    finally keeps the prior's mode with a larger noise floor. With ``reuse``, a valid
    ``warm_start`` is taken as it is, without optimizing. Returns the model in eval
    mode and a short status (``"reused"``, ``"warm"``, ``"cold"`` or
    ``"fallback: <why>"``).
    """
    if reuse and warm_start and _load_state(model, warm_start):
        model.eval()
        return model, "reused"
    initial = {k: v.detach().clone() for k, v in model.named_parameters()}
    attempts: list[tuple[str, Mapping[str, Any] | None]] = []
    if warm_start:
        attempts.append(("warm", warm_start))
    attempts.append(("cold", None))
    err = "no attempt"
    for label, state in attempts:
        with torch.no_grad():
            for k, p in model.named_parameters():
                p.copy_(initial[k])
        if state is not None and not _load_state(model, state):
            continue
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        mll.train()
        try:
            params, _ = get_parameters_and_bounds(mll, requires_grad=True)
            closure = ForwardBackwardClosure(lambda: -exact_mll(model), params)
            with gp_settings():
                fit_gpytorch_mll_scipy(mll, parameters=params, closure=closure,
                                       options={"maxiter": maxiter, "ftol": _FTOL})
            if all(torch.isfinite(p).all() for p in model.parameters()):
                model.eval()
                return model, label
            err = "non-finite hyperparameters"
        except Exception as e:  # noqa: BLE001 - numerical failures of any kind
            err = f"{type(e).__name__}: {e}"
            logger.debug("GP fit (%s start) failed: %s", label, err)
    with torch.no_grad():
        for k, p in model.named_parameters():
            p.copy_(initial[k])
        if model.likelihood.noise_covar.raw_noise.requires_grad:
            model.likelihood.noise = torch.tensor(1e-2, dtype=DTYPE)
    model.eval()
    logger.info("GP hyperparameter fit failed (%s); using prior-mode hyperparameters", err)
    return model, f"fallback: {err}"
