"""Fitting the GP: same objective as gpytorch, warm starts, fallbacks on bad numerics."""

from __future__ import annotations

import pytest
import torch
from gpytorch.mlls import ExactMarginalLogLikelihood

from bayestune.gp.model import build_model, exact_mll, fit_model, model_state, torch_threads
from bayestune.gp.posterior import ExactPosteriorModel


def _data(n: int = 25, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 3, generator=g, dtype=torch.float64)
    X[:, 2] = torch.randint(0, 3, (n,), generator=g).double()
    y = torch.sin(6 * X[:, 0]) + X[:, 1] ** 2 + 0.3 * X[:, 2]
    return X, (y - y.mean()) / y.std()


def test_exact_mll_equals_gpytorch_objective():
    X, y = _data()
    m = build_model(X, y, [2])
    mll = ExactMarginalLogLikelihood(m.likelihood, m)
    mll.train()
    ref = mll(m(X), y)
    assert exact_mll(m).item() == pytest.approx(ref.item(), rel=1e-6, abs=1e-6)


def test_fit_improves_likelihood_and_warm_start_round_trips():
    X, y = _data()
    m = build_model(X, y, [2])
    before = exact_mll(m).item()
    m, status = fit_model(m)
    assert status == "cold"
    after = exact_mll(m).item()
    assert after > before
    state = model_state(m)
    m2, status2 = fit_model(build_model(X, y, [2]), state)
    assert status2 == "warm"
    assert exact_mll(m2).item() >= after - 1e-3  # a warm start never ends up worse


def test_warm_state_with_wrong_shapes_is_ignored():
    X, y = _data()
    _, status = fit_model(build_model(X, y, [2]), {"covar_module.raw_lengthscale": [1.0]})
    assert status == "cold"


def test_duplicated_points_and_constant_values_do_not_raise():
    X = torch.tensor([[0.5, 0.5, 1.0]] * 6 + [[0.1, 0.2, 0.0]], dtype=torch.float64)
    y = torch.zeros(7, dtype=torch.float64)
    m, status = fit_model(build_model(X, y, [2]))
    post = ExactPosteriorModel(m.covar_module, 0.0, m.likelihood.noise.item(), X, y)
    mean, var = post.mean_and_var(torch.rand(4, 3, dtype=torch.float64))
    assert torch.isfinite(mean).all() and (var > 0).all()
    assert status in ("cold",) or status.startswith("fallback")


def test_fit_falls_back_instead_of_raising(monkeypatch):
    import bayestune.gp.model as gm

    def boom(*a, **k):
        raise torch.linalg.LinAlgError("not positive definite")

    monkeypatch.setattr(gm, "fit_gpytorch_mll_scipy", boom)
    X, y = _data()
    m, status = fit_model(build_model(X, y, [2]))
    assert status.startswith("fallback")
    assert not m.training


def test_exact_posterior_matches_botorch_single_task_gp():
    X, y = _data(30)
    m, _ = fit_model(build_model(X, y, [2]))
    fast = ExactPosteriorModel(m.covar_module, m.mean_module.constant.item(),
                               m.likelihood.noise.item(), X, y)
    Xt = torch.rand(10, 1, 3, dtype=torch.float64)
    Xt[..., 2] = 1.0
    with torch.no_grad():
        ref = m.posterior(Xt)
        ours = fast.posterior(Xt)
    assert torch.allclose(ref.mean, ours.mean, atol=1e-5)
    assert torch.allclose(ref.variance, ours.variance, atol=1e-5)


def test_torch_threads_restores_the_callers_setting():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
