"""The mixed Matérn kernel: positive definite, Hamming on categories, diag consistent."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gpytorch.kernels import MaternKernel

from bayestune.gp.kernels import PRIOR_VARIANCE, MixedMatern52Kernel, matern52, matern52_dr2


def _kernel(d: int, cat: list[int], ls: list[float]) -> MixedMatern52Kernel:
    k = MixedMatern52Kernel(cat_dims=cat, ard_num_dims=d).to(torch.float64)
    k.lengthscale = torch.tensor(ls, dtype=torch.float64)
    return k


def _matern(r: torch.Tensor) -> torch.Tensor:
    s5 = math.sqrt(5.0)
    return (1 + s5 * r + 5.0 / 3.0 * r**2) * torch.exp(-s5 * r)


def test_covariance_is_positive_definite_on_mixed_inputs():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(60, 3, generator=g, dtype=torch.float64)
    X[:, 2] = torch.randint(0, 4, (60,), generator=g).double()
    K = _kernel(3, [2], [0.3, 0.7, 0.5]).forward(X, X)
    assert torch.allclose(K, K.T)
    assert torch.linalg.eigvalsh(K).min() > -1e-9
    assert torch.allclose(torch.diagonal(K), torch.ones(60, dtype=torch.float64))


def test_category_distance_is_hamming_scaled_by_lengthscale():
    k = _kernel(2, [1], [0.5, 2.0])
    a = torch.tensor([[0.2, 0.0]], dtype=torch.float64)
    b = torch.tensor([[0.2, 3.0]], dtype=torch.float64)  # only the category differs
    c = torch.tensor([[0.2, 1.0]], dtype=torch.float64)
    kab, kac = k.forward(a, b).item(), k.forward(a, c).item()
    assert kab == pytest.approx(kac)  # unordered: index 3 is no farther than index 1
    assert kab == pytest.approx(_matern(torch.tensor(1.0 / 2.0)).item())


def test_continuous_part_matches_matern52():
    k = _kernel(2, [], [0.5, 0.25])
    a = torch.tensor([[0.1, 0.2]], dtype=torch.float64)
    b = torch.tensor([[0.4, 0.3]], dtype=torch.float64)
    r = math.sqrt((0.3 / 0.5) ** 2 + (0.1 / 0.25) ** 2)
    assert k.forward(a, b).item() == pytest.approx(_matern(torch.tensor(r)).item())


def test_diag_mode_matches_full_diagonal():
    X = torch.rand(7, 3, dtype=torch.float64)
    X[:, 0] = torch.tensor([0, 1, 2, 0, 1, 2, 0], dtype=torch.float64)
    Y = torch.rand(7, 3, dtype=torch.float64)
    Y[:, 0] = torch.tensor([0, 0, 2, 1, 1, 0, 2], dtype=torch.float64)
    k = _kernel(3, [0], [0.4, 0.6, 0.8])
    assert torch.allclose(k.forward(X, Y, diag=True), torch.diagonal(k.forward(X, Y)))


def test_batched_inputs_keep_batch_shape():
    k = _kernel(2, [1], [0.4, 1.0])
    X = torch.rand(5, 1, 2, dtype=torch.float64)
    T = torch.rand(9, 2, dtype=torch.float64)
    assert k.forward(X, T).shape == (5, 1, 9)


def test_gradient_is_finite_at_identical_points():
    X = torch.rand(4, 2, dtype=torch.float64, requires_grad=True)
    k = _kernel(2, [], [0.3, 0.3])
    k.forward(X, X.detach()).sum().backward()
    assert torch.isfinite(X.grad).all()


def test_bad_cat_dims_are_rejected():
    with pytest.raises(ValueError, match="out of range"):
        MixedMatern52Kernel(cat_dims=[3], ard_num_dims=2)


def test_continuous_kernel_equals_gpytorchs_matern_five_halves():
    g = torch.Generator().manual_seed(1)
    X = torch.rand(12, 3, generator=g, dtype=torch.float64)
    Y = torch.rand(9, 3, generator=g, dtype=torch.float64)
    ls = torch.tensor([0.2, 0.7, 1.5], dtype=torch.float64)
    ref = MaternKernel(nu=2.5, ard_num_dims=3).to(torch.float64)
    ref.lengthscale = ls
    ours = _kernel(3, [], ls.tolist())
    with torch.no_grad():
        torch.testing.assert_close(ours.forward(X, Y), ref.forward(X, Y), rtol=1e-10,
                                   atol=1e-12)
        torch.testing.assert_close(ours.forward(X, X, diag=True),
                                   ref.forward(X, X, diag=True), rtol=1e-10, atol=1e-12)


def test_prior_variance_is_the_kernel_at_zero_distance():
    k = _kernel(2, [1], [0.3, 0.6])
    X = torch.tensor([[0.4, 2.0]], dtype=torch.float64)
    assert k.forward(X, X).item() == pytest.approx(PRIOR_VARIANCE, abs=0)


def test_numpy_evaluation_equals_the_torch_kernel_on_mixed_inputs():
    g = torch.Generator().manual_seed(2)
    X = torch.rand(15, 4, generator=g, dtype=torch.float64)
    X[:, 1] = torch.randint(0, 3, (15,), generator=g).double()
    Q = torch.rand(6, 4, generator=g, dtype=torch.float64)
    Q[:, 1] = torch.randint(0, 3, (6,), generator=g).double()
    k = _kernel(4, [1], [0.3, 0.8, 0.5, 2.0])
    inputs = k.scaled_inputs(X)
    with torch.no_grad():
        ref = k.forward(Q, X).numpy()
    np.testing.assert_allclose(matern52(inputs.r2(Q.numpy())), ref, rtol=1e-10, atol=1e-12)
    r2, _ = inputs.r2_and_diffs(Q.numpy())
    np.testing.assert_allclose(matern52(r2), ref, rtol=1e-10, atol=1e-12)


def test_derivative_in_r2_matches_autograd():
    r2 = torch.tensor([1e-6, 0.01, 0.3, 1.0, 4.0, 25.0], dtype=torch.float64,
                      requires_grad=True)
    matern52(r2).sum().backward()
    np.testing.assert_allclose(matern52_dr2(r2.detach().numpy()), r2.grad.numpy(), rtol=1e-9)
