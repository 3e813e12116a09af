"""Acquisitions: LogEI values, pending points spread the batch, failures lower P(ok)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.acquisition import LogExpectedImprovement

from bayestune.gp.acquisition import Acquisition, build_acquisition
from bayestune.gp.model import build_model, fit_model
from bayestune.gp.posterior import ExactPosteriorModel


def _posterior(X: torch.Tensor, y: torch.Tensor) -> ExactPosteriorModel:
    m, _ = fit_model(build_model(X, y, []))
    return ExactPosteriorModel(m.covar_module, m.mean_module.constant.item(),
                               m.likelihood.noise.item(), X, y)


@pytest.fixture(scope="module")
def post() -> ExactPosteriorModel:
    X = torch.tensor([0.0, 0.12, 0.5, 0.65, 0.8, 1.0], dtype=torch.float64).unsqueeze(-1)
    y = -((X.squeeze(-1) - 0.3) ** 2) * 10  # optimum in the gap between 0.12 and 0.5
    return _posterior(X, (y - y.mean()) / y.std())


def _best(post: ExactPosteriorModel) -> float:
    with torch.no_grad():
        return float(post.mean_and_var(post.X)[0].max())


@pytest.mark.parametrize("closed_form", [True, False])
def test_logei_equals_botorch_logei(post, closed_form):
    best = _best(post)
    ours = build_acquisition(post, best, closed_form=closed_form)
    ref = LogExpectedImprovement(post, best_f=torch.tensor(best, dtype=torch.float64))
    X = torch.rand(20, 1, dtype=torch.float64)
    with torch.no_grad():
        np.testing.assert_allclose(ours(X.numpy()), ref(X.unsqueeze(-2)).numpy(),
                                   rtol=1e-5, atol=1e-8)  # torch.allclose's tolerances


def test_both_implementations_follow_the_acquisition_protocol(post):
    for closed_form in (True, False):
        assert isinstance(build_acquisition(post, 1.0, closed_form=closed_form), Acquisition)


def test_pending_point_moves_the_next_proposal_away(post):
    grid = np.linspace(0, 1, 201).reshape(-1, 1)
    best_f = _best(post)
    plain = build_acquisition(post, best_f)
    first = grid[plain(grid).argmax()]
    # the batch form values {x} jointly with the pending point: its gain next to the
    # pending point is small, so the maximizer moves away
    pend = build_acquisition(post, best_f, X_pending=torch.tensor(first).reshape(1, 1))
    vals = pend(grid)
    second = grid[vals.argmax()]
    assert abs(second.item() - first.item()) > 0.05
    near = np.abs(grid.reshape(-1) - first.item()) < 0.01
    assert vals[near].max() < vals.max() - 0.02


def test_feasibility_lowers_acquisition_near_failures(post):
    Xc = torch.tensor([[0.0], [0.2], [0.4], [0.6], [0.8], [1.0]], dtype=torch.float64)
    lab = torch.tensor([1, 1, 1, -1, -1, -1], dtype=torch.float64)
    feas = _posterior(Xc, lab)
    base = build_acquisition(post, 1.0)
    weighted = build_acquisition(post, 1.0, feasibility=feas)
    ok, bad = np.array([[0.2]]), np.array([[0.9]])
    assert (base(ok) - weighted(ok)).item() < 0.5       # P(ok) near 1 costs little
    assert (base(bad) - weighted(bad)).item() > 2.0     # P(ok) near 0 costs a lot


@pytest.mark.parametrize("closed_form", [True, False])
def test_ucb_is_selectable_and_differentiable(post, closed_form):
    acq = build_acquisition(post, 1.0, kind="ucb", ucb_beta=4.0, closed_form=closed_form)
    X = np.random.default_rng(0).random((5, 1))
    v, g = acq.value_and_grad(X, np.array([0]))
    assert np.isfinite(g).all() and g.shape == (5, 1)
    mean, var = post.mean_and_var(torch.tensor(X))
    np.testing.assert_allclose(v, (mean + 2.0 * var.sqrt()).numpy())
    np.testing.assert_allclose(acq(X), v)


def test_unknown_kind_is_rejected(post):
    with pytest.raises(ValueError, match="'ei'"):
        build_acquisition(post, 1.0, kind="ei")  # type: ignore[arg-type]
