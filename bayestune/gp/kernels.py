"""A Matérn-5/2 ARD kernel over mixed continuous / categorical inputs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from gpytorch.kernels import Kernel
from torch import Tensor

__all__ = ["MixedMatern52Kernel"]

_SQRT5 = math.sqrt(5.0)


class MixedMatern52Kernel(Kernel):
    """Matérn-5/2 with one lengthscale per input and a Hamming distance on categories.

    The squared distance between ``x`` and ``x'`` is

    ``r² = Σ_{j continuous} (x_j − x'_j)² / ℓ_j²  +  Σ_{j categorical} 1[x_j ≠ x'_j] / ℓ_j²``

    and ``k = (1 + √5 r + 5/3 r²) exp(−√5 r)``. A categorical column holds the index of
    the choice. ``1[x_j ≠ x'_j]`` equals half the squared distance between the one-hot
    codes of the two choices, so this is the Matérn kernel on a one-hot embedding with
    one lengthscale per categorical parameter: positive definite, yet one column (not K)
    per categorical, and no rounding of a relaxed one-hot vector is ever needed.

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
        r = r2.clamp_min(1e-30).sqrt()
        return (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * torch.exp(-_SQRT5 * r)
