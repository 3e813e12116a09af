"""A fitted GP's exact posterior on dense tensors, as a botorch ``Model``.

botorch's acquisition functions (``LogExpectedImprovement``, ``qLogExpectedImprovement``,
``UpperConfidenceBound``...) only need ``model.posterior(X)``. Going through gpytorch's
prediction strategy costs milliseconds of bookkeeping per call, and the acquisition
optimizer calls it hundreds of times per suggestion. This model caches the Cholesky
factor of the training covariance once and computes means and covariances with two
matrix products and one triangular solve.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DenseLinearOperator
from torch import Tensor

from bayestune.gp.kernels import MixedMatern52Kernel

__all__ = ["ExactPosteriorModel", "predictive_moments", "MIN_VARIANCE"]

MIN_VARIANCE = 1e-12  # floor of every predictive variance (botorch's sigma floor too)

A = TypeVar("A", np.ndarray, Tensor)


def predictive_moments(k_star: A, prior_var: A | float, mean: float, alpha: A, K_inv: A
                       ) -> tuple[A, A]:
    """Posterior mean and variance from the cross-covariances, for arrays or tensors.

    The one place where the exact GP's predictive equations are written; the torch
    model below and the closed-form numpy path both call it.

    Args:
        k_star: ``... x n`` covariances between the query points and the training inputs.
        prior_var: ``...`` prior variances ``k(x, x)`` of the query points.
        mean: The constant prior mean.
        alpha: ``n`` (or ``n x 1``) weights ``K⁻¹ (y − m)``.
        K_inv: ``n x n`` inverse training covariance (noise included).

    Returns:
        Mean and variance (each ``...``), the variance floored at :data:`MIN_VARIANCE`.
    """
    mu = mean + (k_star @ alpha).reshape(k_star.shape[:-1])
    var = prior_var - ((k_star @ K_inv) * k_star).sum(-1)
    if isinstance(var, Tensor):
        return mu, var.clamp_min(MIN_VARIANCE)
    return mu, np.maximum(var, MIN_VARIANCE)


class ExactPosteriorModel(Model):
    """Posterior of a zero-noise-at-test, constant-mean GP with a fixed kernel.

    Args:
        kernel: The fitted kernel (its parameters are frozen here).
        mean: The constant prior mean.
        noise: The observation noise variance.
        X: ``n x d`` training inputs.
        y: ``n`` training targets.
    """

    num_outputs = 1

    def __init__(self, kernel: MixedMatern52Kernel, mean: float, noise: float, X: Tensor,
                 y: Tensor) -> None:
        super().__init__()
        for p in kernel.parameters():
            p.requires_grad_(False)
        self.kernel = kernel
        self.mean_value = float(mean)
        self.noise = float(noise)
        self.X = X
        n = X.shape[0]
        with torch.no_grad():
            K = kernel.forward(X, X) + (self.noise + 1e-8) * torch.eye(n, dtype=X.dtype)
            jitter = 1e-8
            for _ in range(6):
                L, info = torch.linalg.cholesky_ex(K)
                if int(info) == 0:
                    break
                K = K + jitter * torch.eye(n, dtype=X.dtype)
                jitter *= 10
            else:
                raise torch.linalg.LinAlgError("training covariance is not positive definite")
            self.L = L
            self.alpha = torch.cholesky_solve((y - self.mean_value).unsqueeze(-1), L)
            # K⁻¹ itself: a variance then costs one matrix product instead of a
            # triangular solve, which matters in the hundreds of calls per suggestion
            self.K_inv = torch.cholesky_inverse(L)

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size([])

    def mean_and_cov(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean ``... x q`` and covariance ``... x q x q`` at ``... x q x d``."""
        Ks = self.kernel.forward(X, self.X)  # ... x q x n
        mean = self.mean_value + (Ks @ self.alpha).squeeze(-1)
        cov = self.kernel.forward(X, X) - (Ks @ self.K_inv) @ Ks.transpose(-1, -2)
        return mean, cov

    def mean_and_var(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and variance at ``... x d`` points (shapes ``...``)."""
        return predictive_moments(self.kernel.forward(X, self.X),
                                  self.kernel.forward(X, X, diag=True), self.mean_value,
                                  self.alpha, self.K_inv)

    def posterior(self, X: Tensor, output_indices=None, observation_noise=False,
                  posterior_transform=None, **kwargs) -> GPyTorchPosterior:
        mean, cov = self.mean_and_cov(X)
        q = cov.shape[-1]
        cov = cov + 1e-9 * torch.eye(q, dtype=cov.dtype)
        if observation_noise:
            cov = cov + self.noise * torch.eye(q, dtype=cov.dtype)
        mvn = MultivariateNormal(mean, DenseLinearOperator(cov))
        post = GPyTorchPosterior(mvn)
        return posterior_transform(post) if posterior_transform is not None else post
