"""Acquisition optimization over mixed spaces: rounding, categories, no duplicates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bayestune as bt
from bayestune.gp.acquisition import build_acquisition
from bayestune.gp.autograd import AutogradAcquisition
from bayestune.gp.model import build_model, fit_model
from bayestune.gp.optimize import optimize_acquisition
from bayestune.gp.posterior import ExactPosteriorModel


def _quadratic_acq(target: np.ndarray, cat_bonus: dict[int, float] | None = None):
    t = torch.as_tensor(target, dtype=torch.float64)

    def acq(X: torch.Tensor) -> torch.Tensor:
        x = X.squeeze(-2)
        val = -((x - t) ** 2)[..., :2].sum(-1)
        if cat_bonus:
            for k, b in cat_bonus.items():
                val = val + b * (x[..., 2] == k).to(x.dtype)
        return val

    return AutogradAcquisition(acq)


def test_finds_continuous_optimum_and_best_category():
    space = bt.Space({"a": bt.Float(0, 1), "b": bt.Float(0, 1),
                      "c": bt.Categorical(["x", "y", "z", "w"])})
    acq = _quadratic_acq(np.array([0.37, 0.81, 0.0]), cat_bonus={2: 1.0})
    x, val = optimize_acquisition(acq, space, X_best=np.zeros((0, 3)), X_seen=np.zeros((0, 3)),
                                  seed=0)
    assert np.allclose(x[:2], [0.37, 0.81], atol=1e-3)
    assert space.decode(x)["c"] == "z"


def test_integers_come_back_rounded_to_their_bins():
    space = bt.Space({"a": bt.Float(0, 1), "n": bt.Int(8, 1024, log=True)})
    target = np.array([0.5, space["n"].to_cube(100) + 0.003])
    x, _ = optimize_acquisition(_quadratic_acq(target), space, X_best=np.zeros((0, 2)),
                                X_seen=np.zeros((0, 2)), seed=1)
    p = space.decode(x)
    assert isinstance(p["n"], int) and abs(p["n"] - 100) <= 1
    assert np.allclose(space.canonicalize(x[None])[0], x)


def test_never_returns_a_seen_point():
    space = bt.Space({"n": bt.Int(0, 4), "c": bt.Categorical([True, False])})
    seen = space.encode_many([{"n": n, "c": c} for n in range(5) for c in (True, False)
                              if (n, c) != (3, False)])
    target = np.array([space["n"].to_cube(1), 0.0])  # the acquisition prefers a seen point

    def acq(X):
        x = X.squeeze(-2)
        return -(x[..., 0] - float(target[0])) ** 2

    x, _ = optimize_acquisition(AutogradAcquisition(acq), space, X_best=seen[:2], X_seen=seen, seed=0)
    assert space.decode(x) == {"n": 3, "c": False}


def test_same_seed_same_answer():
    space = bt.Space({"a": bt.Float(0, 1), "b": bt.Float(0, 1),
                      "c": bt.Categorical(["x", "y"])})
    acq = _quadratic_acq(np.array([0.2, 0.4, 0.0]))
    kw = dict(X_best=np.zeros((0, 3)), X_seen=np.zeros((0, 3)), seed=7)
    assert np.array_equal(optimize_acquisition(acq, space, **kw)[0],
                          optimize_acquisition(acq, space, **kw)[0])


def test_closed_form_and_autograd_implementations_choose_the_same_point():
    space = bt.Space({"a": bt.Float(0, 1), "b": bt.Float(0, 1), "n": bt.Int(1, 9),
                      "c": bt.Categorical(["x", "y", "z"])})
    rng = np.random.default_rng(0)
    X = space.canonicalize(space.encode_many(space.sample(rng, 25)))
    y = np.sin(5 * X[:, 0]) + (X[:, 1] - 0.3) ** 2 - 0.4 * (X[:, 3] == 2) + 0.1 * X[:, 2]
    y = (y - y.mean()) / y.std()
    Xt, yt = torch.tensor(X), torch.tensor(y)
    m, _ = fit_model(build_model(Xt, yt, [3]))
    post = ExactPosteriorModel(m.covar_module, m.mean_module.constant.item(),
                               m.likelihood.noise.item(), Xt, yt)
    best = np.argsort(-y)[:5]
    chosen = []
    for closed_form in (True, False):
        acq = build_acquisition(post, float(y.max()), closed_form=closed_form)
        x, val = optimize_acquisition(acq, space, X_best=X[best], X_seen=X, seed=3)
        chosen.append((x, val))
    (x1, v1), (x2, v2) = chosen
    assert type(build_acquisition(post, 0.0)).__name__ == "ClosedFormAcquisition"
    assert type(build_acquisition(post, 0.0, closed_form=False)).__name__ == "AutogradAcquisition"
    np.testing.assert_allclose(x1, x2, atol=1e-4)
    assert v1 == pytest.approx(v2, rel=1e-6, abs=1e-8)
