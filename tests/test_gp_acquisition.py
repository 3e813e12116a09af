"""Acquisitions: LogEI values, pending points spread the batch, failures lower P(ok)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.acquisition import LogExpectedImprovement

from bayestune.gp.acquisition import build_acquisition
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


def test_fast_logei_equals_botorch_logei(post):
    best = _best(post)
    ours = build_acquisition(post, best)
    ref = LogExpectedImprovement(post, best_f=best)
    X = torch.rand(20, 1, 1, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(ours(X), ref(X), atol=1e-8)


def test_pending_point_moves_the_next_proposal_away(post):
    grid = torch.linspace(0, 1, 201, dtype=torch.float64).reshape(-1, 1, 1)
    best_f = _best(post)
    plain = build_acquisition(post, best_f)
    with torch.no_grad():
        first = grid[plain(grid).argmax()]
        # the batch form values {x} jointly with the pending point: its gain next to the
        # pending point is small, so the maximizer moves away
        pend = build_acquisition(post, best_f, X_pending=first)
        vals = pend(grid)
    second = grid[vals.argmax()]
    assert abs(second.item() - first.item()) > 0.05
    near = (grid.reshape(-1) - first.item()).abs() < 0.01
    assert vals[near].max() < vals.max() - 0.02


def test_feasibility_lowers_acquisition_near_failures(post):
    Xc = torch.tensor([[0.0], [0.2], [0.4], [0.6], [0.8], [1.0]], dtype=torch.float64)
    lab = torch.tensor([1, 1, 1, -1, -1, -1], dtype=torch.float64)
    feas = _posterior(Xc, lab)
    base = build_acquisition(post, 1.0)
    weighted = build_acquisition(post, 1.0, feasibility=feas)
    ok, bad = (torch.tensor([[[x]]], dtype=torch.float64) for x in (0.2, 0.9))
    with torch.no_grad():
        assert (base(ok) - weighted(ok)).item() < 0.5       # P(ok) near 1 costs little
        assert (base(bad) - weighted(bad)).item() > 2.0     # P(ok) near 0 costs a lot


def test_ucb_is_selectable_and_differentiable(post):
    acq = build_acquisition(post, 1.0, kind="ucb", ucb_beta=4.0)
    X = torch.rand(5, 1, 1, dtype=torch.float64, requires_grad=True)
    acq(X).sum().backward()
    assert torch.isfinite(X.grad).all()
    mean, var = post.mean_and_var(X.detach())
    with torch.no_grad():
        assert np.allclose(acq(X).numpy(), (mean + 2.0 * var.sqrt()).reshape(-1).numpy())


def test_unknown_kind_is_rejected(post):
    with pytest.raises(ValueError, match="'ei'"):
        build_acquisition(post, 1.0, kind="ei")  # type: ignore[arg-type]
