"""The numbers behind the plots, checked without drawing (the data functions of bayestune.plot)."""

from __future__ import annotations

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import bayestune as bt
from bayestune import plot


# -- fixtures -----------------------------------------------------------------------------------
def _space() -> bt.Space:
    return bt.Space({
        "lr": bt.Float(1e-4, 1.0, log=True),
        "momentum": bt.Float(0.0, 1.0),
        "batch_size": bt.Int(16, 256, log=True),
        "optimizer": bt.Categorical(["sgd", "adam"]),
    })


def _history_study(direction: str = "minimize") -> bt.Study:
    """COMPLETE, PRUNED and FAILED trials with known values (random sampler)."""
    study = bt.Study(_space(), direction=direction, sampler=bt.samplers.RandomSampler(seed=1))
    script = [3.0, 2.0, ("PRUNED", 0.5), None, 4.0, 1.0, ("PRUNED", 9.0), 1.5]
    for item in script:
        t = study.ask()
        if isinstance(item, tuple):
            study.tell(t, item[1], state=item[0])
        else:
            study.tell(t, item)  # None -> FAILED
    return study


class FakeSurrogate:
    """A surrogate with a known mean ``f`` (cube points -> values), band mean +- 1."""

    def __init__(self, space: bt.Space, f, X: np.ndarray, y: np.ndarray, sign: float = -1.0):
        self.space = space
        self.f = f
        self.X_observed = X
        self.y_observed = y
        self.sign = sign
        self.lengthscales = {n: 1.0 + i for i, n in enumerate(space.names)}

    def predict(self, X):
        m = np.asarray(self.f(np.atleast_2d(X)), dtype=float)
        return SimpleNamespace(mean=m, lower=m - 1.0, upper=m + 1.0, std=np.full(len(m), 0.5))

    def acquisition(self, X):
        return -np.asarray(self.f(np.atleast_2d(X)), dtype=float)

    def feasibility(self, X):
        return np.full(np.atleast_2d(X).shape[0], 0.75)


def _fake(space: bt.Space | None = None) -> FakeSurrogate:
    space = space or _space()
    X = np.array([[0.2, 0.5, 0.3, 0.0], [0.8, 0.1, 0.6, 1.0], [0.5, 0.9, 0.9, 1.0]])
    # depends on lr (col 0) strongly, momentum weakly, nothing else
    return FakeSurrogate(space, lambda X: 4 * (X[:, 0] - 0.5) ** 2 + 0.1 * X[:, 1],
                         X, np.array([0.4, 0.45, 0.1]))


# -- the data module stands alone --------------------------------------------------------------
def test_data_module_does_not_import_matplotlib():
    code = ("import sys, bayestune.plot as p; [getattr(p, n) for n in p.__all__]; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plot_package_exports_lazily_and_rejects_unknown_names():
    from bayestune.plot._convergence import convergence_data

    assert plot.convergence_data is convergence_data
    assert "posterior_slice" in dir(plot)
    with pytest.raises(AttributeError):
        plot.no_such_plot  # noqa: B018


# -- convergence ---------------------------------------------------------------------------------
def test_convergence_best_so_far_counts_complete_trials_only():
    d = plot.convergence_data(_history_study())
    assert list(d.numbers) == list(range(8))
    # the PRUNED 0.5 is a partial run: it never becomes the best
    np.testing.assert_allclose(d.best_so_far, [3, 2, 2, 2, 2, 1, 1, 1])
    assert d.mask(bt.TrialState.FAILED).tolist() == [False] * 3 + [True] + [False] * 4
    assert math.isnan(d.values[3])
    assert d.mask(bt.TrialState.PRUNED).sum() == 2
    assert d.best_value == 1.0
    assert d.label == "default"


def test_convergence_maximize_keeps_the_largest():
    d = plot.convergence_data(_history_study("maximize"), label="acc")
    np.testing.assert_allclose(d.best_so_far, [3, 3, 3, 3, 4, 4, 4, 4])
    assert d.label == "acc" and d.direction == "maximize"


def test_convergence_of_an_empty_study_is_empty():
    d = plot.convergence_data(bt.Study(_space(), sampler=bt.samplers.RandomSampler(0)))
    assert len(d.numbers) == 0 and math.isnan(d.best_value)


def test_convergence_ignores_running_trials():
    study = _history_study()
    study.ask()  # pending
    assert len(plot.convergence_data(study).numbers) == 8


# -- parallel coordinates ------------------------------------------------------------------------
def test_parallel_coordinates_positions_follow_the_cube():
    study = _history_study()
    d = plot.parallel_coordinates_data(study)
    done = study.get_trials(["COMPLETE"])
    assert d.coords.shape == (len(done), 5)
    assert d.names == ("lr", "momentum", "batch_size", "optimizer", "loss")
    assert np.all((d.coords >= 0) & (d.coords <= 1))
    for row, t in zip(d.coords, done, strict=True):
        assert row[0] == pytest.approx(study.space["lr"].to_cube(t.params["lr"]))  # log space
        assert row[3] == (0.0 if t.params["optimizer"] == "sgd" else 1.0)
    # values scaled between worst (1) and best (0), in the order of the trials
    assert d.coords[np.argmin(d.values), -1] == 0.0
    assert d.coords[np.argmax(d.values), -1] == 1.0
    assert d.failed_coords.shape == (1, 4)
    assert d.ticks[3].labels == ("sgd", "adam")
    assert d.ticks[0].labels[0] == "0.0001" and d.ticks[0].labels[-1] == "1"


def test_parallel_coordinates_int_axis_puts_bounds_at_the_ends():
    d = plot.parallel_coordinates_data(_history_study())
    assert d.ticks[2].labels[0] == "16" and d.ticks[2].labels[-1] == "256"
    assert d.ticks[2].positions[0] == 0.0 and d.ticks[2].positions[-1] == pytest.approx(1.0)


def test_parallel_coordinates_subset_log_values_and_errors():
    study = bt.Study(_space(), sampler=bt.samplers.RandomSampler(seed=2))
    for v in (1e-3, 1.0, 10.0):
        study.tell(study.ask(), v)
    d = plot.parallel_coordinates_data(study, params=["momentum"])
    assert d.names == ("momentum", "loss") and d.log_value  # 4 decades apart
    assert d.coords[:, -1] == pytest.approx([0.0, 0.75, 1.0])
    with pytest.raises(bt.InvalidParamError):
        plot.parallel_coordinates_data(study, params=["nope"])
    with pytest.raises(bt.NoCompletedTrialsError):
        plot.parallel_coordinates_data(bt.Study(_space()))


# -- LR range test ---------------------------------------------------------------------------
def test_lr_range_data_reads_a_result_and_places_suggestions_on_the_curve():
    lrs = np.geomspace(1e-5, 1.0, 50)
    smoothed = 2.0 - np.exp(-((np.log10(lrs) + 2) ** 2))
    res = SimpleNamespace(lrs=lrs, losses=smoothed + 0.01, smoothed_losses=smoothed,
                          suggestions={"steepest": 3e-3, "min_div10": 1e-3, "bad": None},
                          suggested_range=(3e-4, 1e-2), mode="exp", diverged_at=0.9)
    d = plot.lr_range_data(res)
    assert d.log_x and d.suggested_range == (3e-4, 1e-2) and d.diverged_at == 0.9
    assert set(d.suggestions) == {"steepest", "min_div10"}
    lr, loss = d.suggestions["steepest"]
    i = int(np.argmin(np.abs(np.log(lrs) - math.log(3e-3))))
    assert lr == 3e-3 and loss == pytest.approx(smoothed[i])


def test_lr_range_data_with_the_real_result_type():
    from bayestune.lr_finder import LRRangeResult

    lrs = tuple(np.linspace(0.01, 0.1, 10))
    res = LRRangeResult(lrs=lrs, losses=tuple(np.linspace(2, 1, 10)),
                        smoothed_losses=tuple(np.linspace(2, 1.2, 10)),
                        suggestion_steepest=0.05, suggestion_min_div10=None, lr_at_min=0.1,
                        suggested_range=(0.005, 0.1), diverged_at=None, mode="linear")
    d = plot.lr_range_data(res)
    assert not d.log_x and list(d.suggestions) == ["steepest"] and d.diverged_at is None


def test_lr_range_data_rejects_empty_or_ragged_results():
    with pytest.raises(bt.InvalidValueError):
        plot.lr_range_data(SimpleNamespace(lrs=[], losses=[]))
    with pytest.raises(bt.InvalidValueError):
        plot.lr_range_data(SimpleNamespace(lrs=[1e-3, 1e-2], losses=[1.0]))


# -- Sobol indices ---------------------------------------------------------------------------------
def test_sobol_indices_of_an_additive_function():
    # f = x0 + 2 x1 on U[0,1]^3: Var = 1/12 + 4/12, so S = (0.2, 0.8, 0) and S_T = S
    first, total = plot.sobol_indices(lambda X: X[:, 0] + 2 * X[:, 1], 3, n=4096)
    np.testing.assert_allclose(first, [0.2, 0.8, 0.0], atol=0.03)
    np.testing.assert_allclose(total, [0.2, 0.8, 0.0], atol=0.03)


def test_sobol_indices_separate_interactions_from_main_effects():
    # f = (x0 - .5)(x1 - .5): no main effect at all, everything is interaction
    first, total = plot.sobol_indices(lambda X: (X[:, 0] - 0.5) * (X[:, 1] - 0.5), 2, n=4096)
    np.testing.assert_allclose(first, [0.0, 0.0], atol=0.05)
    np.testing.assert_allclose(total, [1.0, 1.0], atol=0.05)


def test_sobol_indices_of_a_constant_are_zero_and_seeded():
    first, total = plot.sobol_indices(lambda X: np.ones(len(X)), 2)
    assert first.tolist() == [0, 0] and total.tolist() == [0, 0]
    a = plot.sobol_indices(lambda X: X[:, 0] * X[:, 1], 2, n=256, seed=3)
    b = plot.sobol_indices(lambda X: X[:, 0] * X[:, 1], 2, n=256, seed=3)
    np.testing.assert_array_equal(a[1], b[1])


# -- importance ------------------------------------------------------------------------------------
def test_importance_sobol_ranks_the_parameter_the_mean_depends_on():
    d = plot.importance_data(_fake(), scale="objective", n_samples=2048)
    assert d.method == "sobol" and d.names[0] == "lr" and d.names[1] == "momentum"
    assert d.importance[0] > 0.9 and d.importance[2] == pytest.approx(0.0, abs=1e-9)
    assert np.all(d.first_order <= d.importance + 0.05)
    assert list(d.importance) == sorted(d.importance, reverse=True)


def test_importance_lengthscale_is_normalized_inverse_lengthscale():
    d = plot.importance_data(_fake(), method="lengthscale")
    inv = {n: 1.0 / (1.0 + i) for i, n in enumerate(_space().names)}
    total = sum(inv.values())
    assert d.names == ("lr", "momentum", "batch_size", "optimizer")
    np.testing.assert_allclose(d.importance, [inv[n] / total for n in d.names])
    assert d.first_order is None


def test_importance_rejects_unknown_method_and_scale():
    with pytest.raises(bt.InvalidValueError):
        plot.importance_data(_fake(), method="shap")  # type: ignore[arg-type]
    with pytest.raises(bt.InvalidValueError):
        plot.importance_data(_fake(), scale="log")  # type: ignore[arg-type]


def test_importance_objective_scale_clips_runaway_predictions():
    sur = _fake()
    sur.f = lambda X: np.where(X[:, 1] > 0.99, 1e300, X[:, 0])  # a saturated warp corner
    d = plot.importance_data(sur, scale="objective")
    assert np.all(np.isfinite(d.importance)) and d.names[0] == "lr"


# -- posterior slices on a fake surrogate ------------------------------------------------------
def test_posterior_slice_varies_one_parameter_in_user_units():
    sur = _fake()
    d = plot.posterior_slice_data(sur, "lr", n_points=11)
    assert d.param == "lr" and d.log and not d.categorical
    assert d.x[0] == pytest.approx(1e-4) and d.x[-1] == pytest.approx(1.0)
    assert d.x[5] == pytest.approx(1e-2)  # the middle of the log range
    np.testing.assert_allclose(d.upper - d.mean, 1.0)
    # the others are held at the best observed point (y = 0.1, the third row)
    assert d.fixed["optimizer"] == "adam"
    assert d.fixed["momentum"] == pytest.approx(0.9)
    assert d.observed_x[0] == pytest.approx(sur.space["lr"].from_cube(0.2))
    assert d.direction == "minimize"


def test_posterior_slice_of_a_categorical_has_one_band_per_choice():
    d = plot.posterior_slice_data(_fake(), "optimizer")
    assert d.categorical and d.choices == ("sgd", "adam") and d.x.tolist() == [0.0, 1.0]


def test_posterior_slice_of_a_small_int_visits_every_value():
    space = bt.Space({"layers": bt.Int(1, 4), "x": bt.Float(0, 1)})
    sur = FakeSurrogate(space, lambda X: X[:, 0], np.array([[0.5, 0.5]]), np.array([1.0]))
    d = plot.posterior_slice_data(sur, "layers")
    np.testing.assert_allclose(d.x, [1, 2, 3, 4])


def test_posterior_slice_needs_a_known_parameter():
    with pytest.raises(bt.InvalidParamError):
        plot.posterior_slice_data(_fake(), "nope")
    with pytest.raises(bt.InvalidValueError):
        plot.posterior_slice_data(object(), "lr")  # type: ignore[arg-type]


def test_contour_grid_shapes_and_next_point():
    nxt = {"lr": 1e-2, "momentum": 0.5, "batch_size": 64, "optimizer": "sgd"}
    d = plot.posterior_contour_data(_fake(), "lr", "momentum", n_points=7, next_params=nxt)
    assert d.mean.shape == (7, 7) and d.std.shape == (7, 7)
    assert d.next_point == pytest.approx((1e-2, 0.5))
    # mean[j, i] is at (x[i], y[j]): the fake mean grows with momentum along axis 0
    assert np.all(np.diff(d.mean[:, 3]) > 0)
    with pytest.raises(bt.InvalidParamError):
        plot.posterior_contour_data(_fake(), "lr", "lr")


def test_acquisition_slice_reports_feasibility_and_next_value():
    nxt = {"lr": 1e-2, "momentum": 0.5, "batch_size": 64, "optimizer": "adam"}
    d = plot.acquisition_slice_data(_fake(), "batch_size", n_points=9, next_params=nxt)
    assert d.log and d.next_x == pytest.approx(64.0, rel=1e-6)
    np.testing.assert_allclose(d.feasibility, 0.75)
    assert d.acquisition.shape == d.x.shape
    no_next = plot.acquisition_slice_data(_fake(), "lr")
    assert no_next.next_x is None  # a bare surrogate cannot ask a sampler


# -- with the real GP ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gp_study() -> bt.Study:
    space = bt.Space({"x": bt.Float(-2.0, 2.0), "lr": bt.Float(1e-4, 1.0, log=True)})
    study = bt.Study(space, sampler=bt.samplers.GPSampler(seed=0, n_startup_trials=8))
    for _ in range(12):
        t = study.ask()
        study.tell(t, (t.params["x"] - 0.5) ** 2 + 0.01 * math.log10(t.params["lr"]) ** 2)
    return study


def test_real_surrogate_slice_brackets_the_observations(gp_study):
    sur = plot.fit_surrogate(gp_study)
    d = plot.posterior_slice_data(gp_study, "x", surrogate=sur, n_points=101)
    assert np.all(d.lower <= d.mean + 1e-9) and np.all(d.mean <= d.upper + 1e-9)
    # the best trial sits on the slice: the model's median there is close to its value
    best = gp_study.best_trial
    i = int(np.argmin(np.abs(d.x - best.params["x"])))
    assert d.mean[i] == pytest.approx(best.value, abs=0.15)
    assert d.fixed == {"lr": pytest.approx(best.params["lr"])}


def test_real_surrogate_importance_finds_the_parameter_that_matters(gp_study):
    d = plot.importance_data(gp_study, n_samples=512)
    assert d.names[0] == "x" and d.importance[0] > 0.5


def test_real_contour_marks_the_samplers_next_suggestion(gp_study):
    d = plot.posterior_contour_data(gp_study, "x", "lr", n_points=9)
    expected = gp_study.sampler.sample(gp_study.space, gp_study.trials, gp_study.direction,
                                       number=len(gp_study.trials)).params
    assert d.next_point == pytest.approx((expected["x"], expected["lr"]))
    assert np.all(d.std >= 0)


def test_fit_surrogate_needs_a_completed_trial():
    with pytest.raises(bt.NoCompletedTrialsError):
        plot.fit_surrogate(bt.Study(_space()))


def test_non_gp_samplers_get_a_fresh_gp_for_plots():
    study = _history_study()  # RandomSampler: no fit_surrogate of its own
    sur = plot.fit_surrogate(study)
    assert sur.space == study.space and len(sur.y_observed) >= 5
