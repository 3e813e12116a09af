"""The closed-form implementation: values equal botorch's, gradients equal autograd's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.acquisition.analytic import _log_ei_helper

from bayestune.gp.acquisition import build_acquisition
from bayestune.gp.analytic import ClosedFormAcquisition, _log_h
from bayestune.gp.autograd import AutogradAcquisition, botorch_acquisition
from bayestune.gp.model import build_model, fit_model
from bayestune.gp.posterior import ExactPosteriorModel

CAT = [3]  # column 3 is a categorical with 3 choices; 0-2 continuous, 4 an integer-like


def _points(rng: np.random.Generator, n: int) -> np.ndarray:
    X = rng.random((n, 5))
    X[:, 3] = rng.integers(0, 3, n)
    return X


def _posterior(X: np.ndarray, y: np.ndarray) -> ExactPosteriorModel:
    Xt, yt = torch.tensor(X), torch.tensor(y)
    m, _ = fit_model(build_model(Xt, yt, CAT))
    return ExactPosteriorModel(m.covar_module, m.mean_module.constant.item(),
                               m.likelihood.noise.item(), Xt, yt)


@pytest.fixture(scope="module")
def models() -> tuple[ExactPosteriorModel, ExactPosteriorModel, np.ndarray]:
    rng = np.random.default_rng(0)
    X = _points(rng, 30)
    y = np.sin(6 * X[:, 0]) + X[:, 1] ** 2 - 0.5 * (X[:, 3] == 1)
    obj = _posterior(X, (y - y.mean()) / y.std())
    feas = _posterior(X, np.where(X[:, 2] > 0.7, -1.0, 1.0))
    return obj, feas, X


def _query(X_train: np.ndarray) -> np.ndarray:
    Q = _points(np.random.default_rng(1), 300)
    Q[:3] = X_train[:3]  # at training points: the smallest variances
    Q[3, :3] = 5.0  # far outside the data: log EI deep in its tail
    return Q


@pytest.mark.parametrize("kind", ["logei", "ucb"])
@pytest.mark.parametrize("with_feas", [False, True])
def test_values_and_gradients_match_botorch_and_autograd(models, kind, with_feas):
    obj, feas, X_train = models
    best = 1.0
    feasibility = feas if with_feas else None
    acq = botorch_acquisition(obj, best, kind=kind, feasibility=feasibility, ucb_beta=2.25,
                              X_pending=None, mc_samples=128, seed=0)
    fast = build_acquisition(obj, best, kind=kind, feasibility=feasibility, ucb_beta=2.25)
    assert isinstance(fast, ClosedFormAcquisition)
    Q = _query(X_train)
    Qt = torch.tensor(Q).unsqueeze(-2).requires_grad_(True)
    ref = acq(Qt)
    ref.sum().backward()
    ref_v = ref.detach().numpy()
    free = np.array([0, 1, 2, 4])
    ref_g = Qt.grad.squeeze(-2).numpy()[:, free]
    v = fast(Q)
    v2, g = fast.value_and_grad(Q, free)
    np.testing.assert_allclose(v, ref_v, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(v2, ref_v, rtol=1e-9, atol=1e-9)
    # autograd differentiates the kernel's |a|² + |b|² − 2ab form, which loses digits to
    # cancellation; the closed form uses the differences themselves
    np.testing.assert_allclose(g, ref_g, rtol=1e-5, atol=1e-7 * np.abs(ref_g).max())


def test_gradient_matches_finite_differences(models):
    obj, feas, X_train = models
    fast = build_acquisition(obj, 0.5, feasibility=feas)
    x = _points(np.random.default_rng(7), 4)
    free = np.array([0, 2])
    _, g = fast.value_and_grad(x, free)
    h = 1e-6
    for k, j in enumerate(free):
        up, dn = x.copy(), x.copy()
        up[:, j] += h
        dn[:, j] -= h
        fd = (fast(up) - fast(dn)) / (2 * h)
        np.testing.assert_allclose(g[:, k], fd, rtol=1e-4, atol=1e-6)


def test_subset_of_free_columns_gives_the_same_partials(models):
    obj, _, X_train = models
    fast = build_acquisition(obj, 0.5)
    Q = _query(X_train)[:20]
    _, g_all = fast.value_and_grad(Q, np.array([0, 1, 2, 4]))
    _, g_one = fast.value_and_grad(Q, np.array([2]))
    np.testing.assert_allclose(g_one[:, 0], g_all[:, 2], rtol=1e-12)


def test_many_rows_are_scored_in_chunks_with_identical_results(models):
    obj, _, _ = models
    fast = build_acquisition(obj, 0.5)
    Q = _points(np.random.default_rng(3), 700)  # more than one chunk
    whole = fast(Q)
    parts = np.concatenate([fast(Q[i:i + 100]) for i in range(0, 700, 100)])
    np.testing.assert_allclose(whole, parts, rtol=1e-12)


def test_log_h_matches_botorch_over_its_whole_range():
    u = np.concatenate([-np.logspace(-4, 15, 3000), np.linspace(-3.0, 50.0, 3000),
                        [-1.0, -1e6, -1e6 - 1.0, 0.0]])
    ours = _log_h(u)
    ref = _log_ei_helper(torch.tensor(u)).numpy()
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_batch_forms_with_pending_points_go_through_autograd(models):
    obj, feas, X_train = models
    pend = torch.tensor(X_train[:2])
    assert isinstance(build_acquisition(obj, 0.5, X_pending=pend), AutogradAcquisition)
    assert isinstance(build_acquisition(obj, 0.5, X_pending=pend, feasibility=feas),
                      AutogradAcquisition)
    assert isinstance(build_acquisition(obj, 0.5), ClosedFormAcquisition)


def test_unknown_kind_is_refused(models):
    with pytest.raises(ValueError, match="'ei'"):
        ClosedFormAcquisition(models[0], "ei")  # type: ignore[arg-type]
