"""The GP's kernel: Matérn-5/2 ARD over mixed continuous / categorical inputs.

This module is the one definition of the kernel. The torch module
:class:`MixedMatern52Kernel` (fitted by gpytorch, used by botorch's acquisitions) and the
closed-form numpy path (:mod:`bayestune.gp.analytic`) both take their numbers from the
functions here: :func:`matern52` and :func:`matern52_dr2` of a squared distance, written
once for numpy arrays and torch tensors alike, and :data:`PRIOR_VARIANCE` (``k(x, x)``).
To change the kernel, change these functions (and the distance in
:meth:`MixedMatern52Kernel.forward` / :class:`ScaledInputs`).

The squared distance between ``x`` and ``x'`` is

``r² = Σ_{j continuous} (x_j − x'_j)² / ℓ_j²  +  Σ_{j categorical} 1[x_j ≠ x'_j] / ℓ_j²``

and ``k = (1 + √5 r + 5/3 r²) exp(−√5 r)``. A categorical column holds the index of
the choice. ``1[x_j ≠ x'_j]`` equals half the squared distance between the one-hot
codes of the two choices, so this is the Matérn kernel on a one-hot embedding with
one lengthscale per categorical parameter: positive definite, yet one column (not K)
per categorical, and no rounding of a relaxed one-hot vector is ever needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from gpytorch.kernels import Kernel
from torch import Tensor

__all__ = ["MixedMatern52Kernel", "ScaledInputs", "matern52", "matern52_dr2", "PRIOR_VARIANCE"]

_SQRT5 = math.sqrt(5.0)
_R2_FLOOR = 1e-30  # r = sqrt(r²) has an infinite derivative at 0; the floor keeps it finite

A = TypeVar("A", np.ndarray, Tensor)


def _sqrt_exp(r2: A) -> tuple[A, A]:
    """``r = √max(r², floor)`` and ``exp(−√5 r)``, for arrays or tensors."""
    if isinstance(r2, Tensor):
        r = r2.clamp_min(_R2_FLOOR).sqrt()
        return r, torch.exp(-_SQRT5 * r)
    r = np.sqrt(np.maximum(r2, _R2_FLOOR))
    return r, np.exp(-_SQRT5 * r)


def matern52(r2: A) -> A:
    """Matérn-5/2 covariance of squared (lengthscale-scaled) distances ``r2`` (any shape)."""
    r, e = _sqrt_exp(r2)
    return (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * e


def matern52_dr2(r2: A) -> A:
    """``dk / d(r²)`` (any shape): ``−(5/6) (1 + √5 r) exp(−√5 r)``, finite at ``r = 0``.

    The gradient in an input then is ``∂k/∂x_j = 2 dk/d(r²) (x_j − x'_j) / ℓ_j²``.
    """
    r, e = _sqrt_exp(r2)
    return -(5.0 / 6.0) * (1.0 + _SQRT5 * r) * e


PRIOR_VARIANCE = float(matern52(np.zeros(())))  # k(x, x): r = 0


@dataclass(frozen=True)
class ScaledInputs:
    """Training inputs prepared once for many numpy kernel evaluations against them.

    The continuous columns are kept divided by their lengthscales (with their squared
    row norms), the categorical columns apart with their weights ``1 / ℓ²``, so that no
    evaluation rescales the training set again.

    Attributes:
        T: ``n x c`` continuous training inputs divided by their lengthscales.
        T_sq: ``n`` squared norms of the rows of ``T``.
        inv_ls_cont: ``c`` inverse lengthscales of the continuous columns.
        cont: ``c`` indices of the continuous columns.
        X_cat: ``n x q`` categorical training inputs.
        w_cat: ``q`` weights ``1 / ℓ²`` of the categorical columns.
        cat: ``q`` indices of the categorical columns.
    """

    T: np.ndarray
    T_sq: np.ndarray
    inv_ls_cont: np.ndarray
    cont: np.ndarray
    X_cat: np.ndarray
    w_cat: np.ndarray
    cat: np.ndarray

    def r2_cat(self, X: np.ndarray) -> np.ndarray | float:
        """Hamming part of ``r²`` (``b x n``) between ``b x d`` points and the inputs."""
        if not self.cat.size:
            return 0.0
        neq = X[:, None, self.cat] != self.X_cat[None, :, :]  # b x n x q
        return neq @ self.w_cat

    def r2(self, X: np.ndarray) -> np.ndarray:
        """``r²`` (``b x n``) between ``b x d`` points and the training inputs.

        Uses ``|a|² + |t|² − 2 a·t`` (two matrix products), as the torch kernel does.
        """
        a = X[:, self.cont] * self.inv_ls_cont
        r2 = (a * a).sum(1)[:, None] + self.T_sq[None, :] - 2.0 * (a @ self.T.T)
        return np.maximum(r2 + self.r2_cat(X), 0.0)

    def r2_and_diffs(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``r²`` (``b x n``) and the scaled differences ``(x_j − x'_j) / ℓ_j``
        (``b x n x c``) from the differences themselves (no cancellation, for gradients)."""
        diff = X[:, None, self.cont] * self.inv_ls_cont - self.T[None, :, :]
        return (diff * diff).sum(-1) + self.r2_cat(X), diff


class MixedMatern52Kernel(Kernel):
    """Matérn-5/2 with one lengthscale per input and a Hamming distance on categories.

    See the module docstring for the formula.

    Args:
        cat_dims: Indices of the categorical columns.
        **kwargs: Passed to :class:`gpytorch.kernels.Kernel` (``ard_num_dims``,
            ``lengthscale_prior``, ``lengthscale_constraint``...).
    """

    has_lengthscale = True

    def __init__(self, cat_dims: Sequence[int] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        d = self.ard_num_dims
        if d is None:
            raise ValueError("MixedMatern52Kernel needs ard_num_dims")
        cat = sorted(set(int(i) for i in cat_dims))
        if any(not 0 <= i < d for i in cat):
            raise ValueError(f"cat_dims {cat} out of range for {d} inputs")
        self.cat_dims = cat
        self.cont_dims = [i for i in range(d) if i not in set(cat)]

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, **params) -> Tensor:
        """Covariance ``... x n x m`` (or ``... x n`` when ``diag``) of ``... x n x d``
        and ``... x m x d`` inputs."""
        ls = self.lengthscale  # ... x 1 x d
        r2: Tensor | int = 0
        if self.cont_dims:
            idx = self.cont_dims
            a = x1[..., idx] / ls[..., idx]
            b = x2[..., idx] / ls[..., idx]
            if diag:
                r2 = (a - b).pow(2).sum(-1)
            else:  # |a|² + |b|² - 2ab: few ops (inputs are cube-scaled, no cancellation issue)
                r2 = (a.pow(2).sum(-1).unsqueeze(-1) + b.pow(2).sum(-1).unsqueeze(-2)
                      - 2.0 * (a @ b.transpose(-1, -2))).clamp_min(0.0)
        if self.cat_dims:
            idx = self.cat_dims
            w = ls[..., idx].pow(-2)  # ... x 1 x c
            if diag:
                neq = (x1[..., idx] != x2[..., idx]).to(x1.dtype)
                r2 = r2 + (neq * w).sum(-1)
            else:
                neq = (x1[..., :, None, idx] != x2[..., None, :, idx]).to(x1.dtype)
                r2 = r2 + (neq * w.unsqueeze(-2)).sum(-1)
        if isinstance(r2, int):  # no columns at all: cannot happen for a Space
            raise ValueError("kernel has no inputs")
        return matern52(r2)

    def scaled_inputs(self, X: Tensor) -> ScaledInputs:
        """The ``n x d`` inputs ``X`` prepared for numpy evaluations (:class:`ScaledInputs`)."""
        inv_ls = 1.0 / self.lengthscale.detach().reshape(-1).numpy().astype(np.float64)
        Xn = X.detach().numpy().astype(np.float64)
        cont = np.asarray(self.cont_dims, dtype=np.intp)
        cat = np.asarray(self.cat_dims, dtype=np.intp)
        T = Xn[:, cont] * inv_ls[cont]
        return ScaledInputs(T=T, T_sq=(T * T).sum(1), inv_ls_cont=inv_ls[cont], cont=cont,
                            X_cat=Xn[:, cat], w_cat=inv_ls[cat] ** 2, cat=cat)
