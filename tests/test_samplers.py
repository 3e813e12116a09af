"""The simple samplers: random, Sobol and grid (the GP sampler has tests/test_gp_*.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import qmc

import bayestune as bt
from bayestune.samplers import GridSampler, RandomSampler, Sampler, SobolSampler, Suggestion
from bayestune.samplers.base import trial_rng
from bayestune.samplers.sobol import sobol_point
from bayestune.trial import FrozenTrial, TrialState


def _suggest(sampler, space, trials=(), number=0):
    s = sampler.sample(space, list(trials), "minimize", number)
    assert isinstance(s, Suggestion)
    return s.params


def test_samplers_follow_the_protocol():
    for s in (RandomSampler(0), SobolSampler(0)):
        assert isinstance(s, Sampler)
        assert s.to_dict() == {"name": type(s).__name__, "seed": 0}
    g = GridSampler({"a": [1, 2]}, n_points=3, seed=0)
    assert g.to_dict() == {"name": "GridSampler", "seed": 0, "grid": {"a": [1, 2]}, "n_points": 3}


def test_trial_rng_depends_only_on_seed_and_number():
    a = trial_rng(3, 7).random(4)
    assert np.array_equal(a, trial_rng(3, 7).random(4))
    assert not np.array_equal(a, trial_rng(3, 8).random(4))
    assert not np.array_equal(a, trial_rng(4, 7).random(4))


# -- random ------------------------------------------------------------------------------


def test_random_is_reproducible_per_seed_and_number(dl_space):
    a = [_suggest(RandomSampler(1), dl_space, number=n) for n in range(5)]
    b = [_suggest(RandomSampler(1), dl_space, number=n) for n in range(5)]
    c = [_suggest(RandomSampler(2), dl_space, number=n) for n in range(5)]
    assert a == b and a != c
    assert len({p["lr"] for p in a}) == 5
    assert all(dl_space.contains(p) for p in a)


def test_random_without_seed_still_works(dl_space):
    p, q = _suggest(RandomSampler(), dl_space), _suggest(RandomSampler(), dl_space)
    assert dl_space.contains(p) and p != q


def test_random_covers_categories_and_log_ranges(dl_space):
    ps = [_suggest(RandomSampler(0), dl_space, number=n) for n in range(300)]
    assert {p["optimizer"] for p in ps} == {"sgd", "adam", "rmsprop"}
    lr = np.log10([p["lr"] for p in ps])
    assert lr.min() < -4.5 and lr.max() > -0.5  # log-uniform over 1e-5 .. 1
    bs = [p["batch_size"] for p in ps]
    assert min(bs) < 16 and max(bs) > 512


# -- sobol ------------------------------------------------------------------------------


def test_sobol_points_follow_one_scrambled_sequence(small_space):
    engine = qmc.Sobol(d=3, scramble=True, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expect = engine.random(6)
    got = np.stack([sobol_point(small_space, 5, i) for i in range(6)])
    assert np.allclose(got[:, :2], expect[:, :2])
    assert np.array_equal(got[:, 2], np.floor(expect[:, 2] * 3))


def test_sobol_is_reproducible_and_fills_the_space():
    space = bt.Space({"x": bt.Float(0, 1), "y": bt.Float(0, 1)})
    pts = [_suggest(SobolSampler(0), space, number=n) for n in range(16)]
    assert pts == [_suggest(SobolSampler(0), space, number=n) for n in range(16)]
    xy = np.array([[p["x"], p["y"]] for p in pts])
    # 16 Sobol points in 2-D: one in each row and each column of a 4 x 4 grid, and more
    for j in range(2):
        assert sorted(np.floor(xy[:, j] * 4).astype(int).tolist()) == [0] * 4 + [1] * 4 \
            + [2] * 4 + [3] * 4
    assert qmc.discrepancy(xy) < qmc.discrepancy(np.random.default_rng(0).random((16, 2)))


def test_sobol_without_seed_picks_one_and_keeps_it(small_space):
    s = SobolSampler()
    assert isinstance(s.seed, int)
    assert _suggest(s, small_space, number=3) == _suggest(s, small_space, number=3)


def test_sobol_numbers_give_distinct_points(dl_space):
    ps = [_suggest(SobolSampler(0), dl_space, number=n) for n in range(32)]
    assert len({tuple(p.items()) for p in ps}) == 32
    assert all(dl_space.contains(p) for p in ps)


# -- grid ---------------------------------------------------------------------------------


def test_grid_points_cover_the_product(small_space):
    g = GridSampler(n_points=3, seed=0)
    pts = g.points(small_space)
    # x: 3 values, n: 3 of 1..10 (more than n_points), c: every choice
    assert len(pts) == 3 * 3 * 3
    assert {p["x"] for p in pts} == {-1.0, 0.0, 1.0}
    ns = {p["n"] for p in pts}
    assert len(ns) == 3 and {1, 10} < ns
    assert {p["c"] for p in pts} == {"a", "b", "c"}
    assert all(small_space.contains(p) for p in pts)


def test_grid_small_int_ranges_take_every_value():
    space = bt.Space({"k": bt.Int(0, 6, step=2), "b": bt.Int(8, 64, log=True)})
    pts = GridSampler(n_points=5, seed=0).points(space)
    assert {p["k"] for p in pts} == {0, 2, 4, 6}
    assert len({p["b"] for p in pts}) == 5
    assert {p["b"] for p in pts} >= {8, 64}


def test_grid_is_log_spaced_on_log_dimensions():
    space = bt.Space({"lr": bt.Float(1e-4, 1.0, log=True)})
    pts = GridSampler(n_points=5, seed=0).points(space)
    assert sorted(p["lr"] for p in pts) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])


def test_grid_visits_every_point_once_in_a_seeded_order(small_space):
    g = GridSampler({"x": [0.0], "n": [1, 2]}, seed=3)
    trials = []
    for n in range(6):
        p = _suggest(g, small_space, trials, n)
        trials.append(FrozenTrial(n, TrialState.COMPLETE, p, 1.0))
    assert len({tuple(t.params.items()) for t in trials}) == 6
    assert g.is_exhausted(small_space, trials)
    order = [t.params for t in trials]
    assert order == GridSampler({"x": [0.0], "n": [1, 2]}, seed=3).points(small_space)
    assert order != GridSampler({"x": [0.0], "n": [1, 2]}, seed=4).points(small_space)


def test_grid_counts_pending_and_failed_trials_as_visited(small_space):
    g = GridSampler({"x": [0.0], "n": [1]}, seed=0)  # 3 points
    pts = g.points(small_space)
    trials = [FrozenTrial(0, TrialState.RUNNING, pts[0]),
              FrozenTrial(1, TrialState.FAILED, pts[1])]
    assert _suggest(g, small_space, trials, 2) == pts[2]
    assert not g.is_exhausted(small_space, trials)


def test_exhausted_grid_repeats_a_point_rather_than_raising(small_space, caplog):
    g = GridSampler({"x": [0.0], "n": [1], "c": ["a"]}, seed=0)
    trials = [FrozenTrial(0, TrialState.COMPLETE, {"x": 0.0, "n": 1, "c": "a"}, 1.0)]
    assert g.is_exhausted(small_space, trials)
    assert _suggest(g, small_space, trials, 1) == {"x": 0.0, "n": 1, "c": "a"}
    assert "exhausted" in caplog.text


def test_an_off_grid_enqueued_configuration_does_not_end_the_grid():
    space = bt.Space({"x": bt.Float(0, 1)})
    study = bt.Study(space, sampler=GridSampler(n_points=3, seed=0))
    study.enqueue({"x": 0.3})
    study.optimize(lambda t: t.params["x"], n_trials=10)
    assert sorted(t.params["x"] for t in study.trials) == [0.0, 0.3, 0.5, 1.0]


def test_grid_exhausts_and_optimize_stops_through_the_study(small_space):
    study = bt.Study(small_space, sampler=GridSampler(n_points=2, seed=0))
    study.optimize(lambda t: t.params["x"], n_trials=1000)
    assert len(study.trials) == 2 * 2 * 3
    assert study.best_value == -1.0


def test_grid_explicit_values_are_cast(small_space):
    g = GridSampler({"x": [0, 1], "n": [np.int64(3)], "c": ["b"]}, seed=0)
    pts = g.points(small_space)
    assert {type(p["x"]) for p in pts} == {float}
    assert {type(p["n"]) for p in pts} == {int}


@pytest.mark.parametrize(("grid", "named"), [
    ({"x": [5.0]}, "[5.0]"),
    ({"c": ["zz"]}, "['zz']"),
    ({"n": [1.5]}, "[1.5]"),
    ({"nope": [1]}, "'nope'"),
])
def test_grid_values_outside_the_space_are_named(small_space, grid, named):
    g = GridSampler(grid, seed=0)
    with pytest.raises(bt.InvalidParamError) as info:
        g.points(small_space)
    assert named in str(info.value)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"n_points": 0}, "n_points=0"), ({"n_points": 2.0}, "n_points=2.0"),
    ({"grid": {"x": []}}, "'x'"),
])
def test_grid_bad_arguments_are_named(kwargs, named):
    with pytest.raises(bt.InvalidValueError) as info:
        GridSampler(**kwargs)
    assert named in str(info.value)


def test_random_and_sobol_are_never_exhausted(small_space):
    trials = [FrozenTrial(i, TrialState.COMPLETE, {"x": 0.0, "n": 1, "c": "a"}, 1.0)
              for i in range(3)]
    assert not RandomSampler(0).is_exhausted(small_space, trials)
    assert not SobolSampler(0).is_exhausted(small_space, trials)


def test_a_grid_too_large_to_visit_is_refused_naming_its_size():
    with pytest.raises(bt.InvalidValueError, match="n_points=100000000"):
        GridSampler(n_points=10**8)
    with pytest.raises(bt.InvalidValueError, match="seed=-1"):
        GridSampler(seed=-1)
    space = bt.Space({"x": bt.Float(0, 1), "y": bt.Float(0, 1), "z": bt.Float(0, 1)})
    study = bt.Study(space, sampler=GridSampler(n_points=1000, seed=0))
    with pytest.raises(bt.InvalidValueError, match="1000000000"):
        study.ask()  # 1000**3 points: refused at once, not built
    with pytest.raises(bt.InvalidValueError, match="grid"):
        GridSampler(grid=[("x", [1])])  # type: ignore[arg-type]
