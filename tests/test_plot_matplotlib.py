"""The matplotlib drawings: each returns its Axes (or Figure), with labels, units and
log axes where they belong. Headless (Agg)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import bayestune as bt

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bayestune import plot  # noqa: E402


def _loss(p):
    if p["lr"] > 0.3:
        return math.nan  # diverged
    return ((math.log10(p["lr"]) + 2.5) ** 2 + (p["momentum"] - 0.9) ** 2
            + (0.3 if p["optimizer"] == "sgd" else 0.0) + 0.01 * math.log2(p["batch_size"]))


@pytest.fixture(scope="module")
def study() -> bt.Study:
    space = bt.Space({
        "lr": bt.Float(1e-4, 1.0, log=True),
        "momentum": bt.Float(0.0, 0.99),
        "batch_size": bt.Int(16, 256, log=True),
        "optimizer": bt.Categorical(["sgd", "adam"]),
    })
    s = bt.Study(space, sampler=bt.samplers.GPSampler(seed=0, n_startup_trials=8), name="gp")
    s.enqueue({"lr": 0.9, "momentum": 0.5, "batch_size": 32, "optimizer": "adam"})  # fails
    for i in range(14):
        t = s.ask()
        v = _loss(t.params)
        if i == 9 and math.isfinite(v):
            s.tell(t, v + 1.0, state="PRUNED")
        else:
            s.tell(t, v)
    return s


@pytest.fixture(scope="module")
def surrogate(study):
    return plot.fit_surrogate(study)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _legend_texts(ax: Axes) -> list[str]:
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg is not None else []


def test_convergence_draws_best_so_far_and_marks_failures(study):
    ax = plot.convergence(study)
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() == "trial number" and "loss" in ax.get_ylabel()
    labels = _legend_texts(ax)
    assert {"best so far", "trial", "failed", "pruned"} <= set(labels)
    step = [ln for ln in ax.get_lines() if ln.get_label() == "best so far"][0]
    d = plot.convergence_data(study)
    ok = np.isfinite(d.best_so_far)
    np.testing.assert_allclose(step.get_ydata(), d.best_so_far[ok])


def test_convergence_compares_several_studies_on_the_given_axes(study):
    other = bt.Study(study.space, sampler=bt.samplers.RandomSampler(seed=0), name="random")
    for _ in range(6):
        t = other.ask()
        other.tell(t, _loss(t.params))
    fig, ax = plt.subplots()
    out = plot.convergence([study, other], ax=ax)
    assert out is ax
    assert {"gp", "random"} <= set(_legend_texts(ax))
    with pytest.raises(bt.InvalidValueError):
        plot.convergence([study, other], labels=["one"])


def test_convergence_uses_a_log_axis_for_losses_spanning_decades():
    s = bt.Study(bt.Space({"x": bt.Float(0, 1)}), sampler=bt.samplers.RandomSampler(0))
    for v in (1e3, 1.0, 1e-2):
        s.tell(s.ask(), v)
    assert plot.convergence(s).get_yscale() == "log"
    assert plot.convergence(s, log_y=False).get_yscale() == "linear"


def test_parallel_coordinates_has_an_axis_per_parameter_and_the_value(study):
    ax = plot.parallel_coordinates(study)
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == ["lr", "momentum", "batch_size", "optimizer", "loss"]
    texts = {t.get_text() for t in ax.texts}
    assert {"sgd", "adam", "16", "256"} <= texts


def test_lr_range_plot_marks_suggestions_and_range():
    from types import SimpleNamespace

    lrs = np.geomspace(1e-6, 1.0, 60)
    sm = 2.3 - 1.5 / (1 + np.exp(-(np.log10(lrs) + 3) * 3)) + np.where(lrs > 0.3, 5.0, 0)
    res = SimpleNamespace(lrs=lrs, losses=sm, smoothed_losses=sm,
                          suggestions={"steepest": 1e-3, "min_div10": 1e-2},
                          suggested_range=(1e-4, 1e-1), mode="exp", diverged_at=0.5)
    ax = plot.lr_range(res)
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "training loss"
    labels = " ".join(_legend_texts(ax))
    assert "steepest descent: 0.001" in labels and "minimum / 10: 0.01" in labels
    assert "suggested range" in labels and "diverged at 0.5" in labels
    lo, hi = ax.get_ylim()
    assert hi < 3.0  # the diverging tail does not flatten the curve


def test_importance_bars_are_sorted_with_the_method_in_the_label(study, surrogate):
    ax = plot.importance(study, surrogate=surrogate, n_samples=256)
    assert "Sobol" in ax.get_xlabel()
    data = plot.importance_data(study, surrogate=surrogate, n_samples=256)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(data.names)
    ax2 = plot.importance(study, surrogate=surrogate, method="lengthscale")
    assert "lengthscale" in ax2.get_xlabel()


def test_posterior_slice_uses_log_axes_for_log_parameters(study, surrogate):
    ax = plot.posterior_slice(study, "lr", surrogate=surrogate)
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "lr (log scale)"
    assert {"95% band", "GP median", "best trial", "failed"} <= set(_legend_texts(ax))
    lo, hi = ax.get_ylim()
    assert np.isfinite(lo) and np.isfinite(hi) and hi < 1e6
    lin = plot.posterior_slice(study, "momentum", surrogate=surrogate)
    assert lin.get_xscale() == "linear"


def test_posterior_slice_of_a_categorical_labels_the_choices(study, surrogate):
    ax = plot.posterior_slice(study, "optimizer", surrogate=surrogate)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sgd", "adam"]


def test_posterior_slices_grid_returns_a_figure(study, surrogate):
    fig = plot.posterior_slices(study, surrogate=surrogate, n_points=40)
    assert isinstance(fig, Figure)
    visible = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in visible] == list(study.space.names)


def test_posterior_contour_both_panels_and_single(study, surrogate):
    fig = plot.posterior_contour(study, "lr", "momentum", surrogate=surrogate, n_points=15)
    assert isinstance(fig, Figure)
    titles = [a.get_title() for a in fig.axes]
    assert "GP posterior median" in titles and "GP posterior std" in titles
    ax = plot.posterior_contour(study, "lr", "momentum", surrogate=surrogate, n_points=15,
                                what="std")
    assert isinstance(ax, Axes) and ax.get_xscale() == "log"
    assert "next suggestion" in _legend_texts(ax)
    with pytest.raises(bt.InvalidValueError):
        plot.posterior_contour(study, "lr", "momentum", surrogate=surrogate, what="var")


def test_acquisition_slice_marks_the_next_suggestion(study, surrogate):
    nxt = dict(study.best_params)
    ax = plot.acquisition_slice(study, "lr", surrogate=surrogate, next_params=nxt)
    assert "log expected improvement" in ax.get_ylabel()
    labels = _legend_texts(ax)
    assert "next suggestion" in labels and "P(no failure)" in labels  # a trial failed
    cat = plot.acquisition_slice(study, "optimizer", surrogate=surrogate, next_params=nxt)
    assert [t.get_text() for t in cat.get_xticklabels()] == ["sgd", "adam"]


def test_plots_accept_precomputed_data(study, surrogate):
    d = plot.posterior_slice_data(study, "momentum", surrogate=surrogate, n_points=20)
    assert isinstance(plot.posterior_slice(d), Axes)
    assert isinstance(plot.convergence(plot.convergence_data(study)), Axes)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    from bayestune.plot._common import pyplot

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "bayestune\[plot\]"'):
        pyplot()


def test_contour_over_a_categorical_draws_cells_not_interpolated_bands(study, surrogate):
    from matplotlib.collections import QuadMesh

    ax = plot.posterior_contour(study, "lr", "optimizer", surrogate=surrogate, n_points=12,
                                what="mean", next_params=dict(study.best_params))
    assert any(isinstance(c, QuadMesh) for c in ax.collections)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sgd", "adam"]


def test_categorical_acquisition_shows_every_choice(study, surrogate):
    ax = plot.acquisition_slice(study, "optimizer", surrogate=surrogate,
                                next_params=dict(study.best_params))
    d = plot.acquisition_slice_data(study, "optimizer", surrogate=surrogate,
                                     next_params=dict(study.best_params))
    lo, hi = ax.get_ylim()
    fin = d.acquisition[np.isfinite(d.acquisition)]
    assert lo <= fin.min() and fin.max() <= hi
