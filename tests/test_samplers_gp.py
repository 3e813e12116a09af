"""GPSampler: degenerate histories, determinism, pending spread, failures steer away."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pytest

import bayestune as bt
from bayestune.samplers.gp import GPSampler, encode_history

SPACE = bt.Space({"x": bt.Float(-5.0, 10.0), "y": bt.Float(0.0, 15.0)})


def branin(x: float, y: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def _study(n_startup: int = 4, **kw) -> bt.Study:
    return bt.Study(SPACE, sampler=GPSampler(seed=0, n_startup_trials=n_startup, **kw))


def test_startup_uses_sobol_then_the_gp():
    s = _study()
    for _ in range(6):
        t = s.ask()
        s.tell(t, branin(**t.params))
    kinds = [t.system_attrs["sampler"] for t in s.trials]
    assert kinds[:4] == ["sobol"] * 4 and kinds[4:] == ["gp", "gp"]
    assert "objective" in s.trials[-1].system_attrs["gp_state"]


@pytest.mark.parametrize("values", [
    [],                                        # no trials
    [1.0],                                     # one trial
    [None, None, None, None, None],            # all failed
    [2.0, 2.0, 2.0, 2.0, 2.0],                 # all equal
    [1e12, 0.3, 1e12, 0.5, 1e12, 0.2],         # heavy tail
])
def test_ask_never_raises_on_degenerate_histories(values, caplog):
    s = _study(n_startup=1)
    for v in values:
        t = s.ask()
        s.tell(t, v)
    with caplog.at_level(logging.INFO, logger="bayestune"):
        t = s.ask()
    assert SPACE.contains(t.params)
    if values and all(v is None for v in values):
        assert "no trial has completed" in caplog.text
    if len(values) == 5 and values[0] == 2.0:
        assert "all observed values are equal" in caplog.text


def test_duplicated_points_do_not_break_the_fit():
    s = _study(n_startup=1)
    for v in (1.0, 2.0, 1.5, 3.0):
        s.add_trial({"x": 1.0, "y": 2.0}, v)
    s.add_trial({"x": 3.0, "y": 4.0}, 0.5)
    t = s.ask()
    assert SPACE.contains(t.params)
    assert s.trials[-1].system_attrs["sampler"] == "gp"


def test_same_seed_and_history_give_the_same_suggestion_in_a_fresh_sampler():
    s = _study()
    for _ in range(7):
        t = s.ask()
        s.tell(t, branin(**t.params))
    trials = s.trials
    a = GPSampler(seed=0, n_startup_trials=4).sample(SPACE, trials, "minimize", 7)
    b = GPSampler(seed=0, n_startup_trials=4).sample(SPACE, trials, "minimize", 7)
    assert a.params == b.params
    assert a.attrs["gp_status"].startswith("warm")  # warm-started from the stored state


def test_concurrent_asks_are_distinct_and_spread():
    s = _study()
    for _ in range(8):
        t = s.ask()
        s.tell(t, branin(**t.params))
    pending = [s.ask() for _ in range(4)]
    pts = SPACE.encode_many([t.params for t in pending])
    dists = [np.linalg.norm(pts[i] - pts[j]) for i in range(4) for j in range(i)]
    assert min(dists) > 1e-3
    assert all(t.system_attrs["sampler"] == "gp" for t in s.trials[-4:])


def test_finite_space_is_visited_without_repeats():
    space = bt.Space({"n": bt.Int(0, 3), "c": bt.Categorical(["a", "b", "c"])})
    s = bt.Study(space, sampler=GPSampler(seed=1, n_startup_trials=3))
    seen = set()
    for _ in range(12):
        t = s.ask()
        key = (t.params["n"], t.params["c"])
        assert key not in seen
        seen.add(key)
        s.tell(t, (t.params["n"] - 2) ** 2 + (t.params["c"] == "b"))
    assert len(seen) == 12


def test_maximize_direction_is_respected():
    s = bt.Study(SPACE, direction="maximize", sampler=GPSampler(seed=0, n_startup_trials=5))
    for _ in range(15):
        t = s.ask()
        s.tell(t, -branin(**t.params))
    assert s.best_value > -3.0


def test_pruned_trials_enter_with_their_last_value_and_failed_ones_apart():
    s = _study(n_startup=1)
    t = s.ask()
    t.report(0, 5.0)
    s.tell(t, state=bt.TrialState.PRUNED)
    t = s.ask()
    s.tell(t, float("nan"))
    t2 = s.ask()  # pending
    h = encode_history(SPACE, [tr for tr in s.trials if tr.number != t2.number] + [])
    assert h.X.shape[0] == 1 and h.values.tolist() == [5.0]
    assert h.X_failed.shape[0] == 1
    h2 = encode_history(SPACE, s.trials)
    assert h2.X_pending.shape[0] == 1 and h2.X_seen.shape[0] == 3


def test_invalid_settings_name_the_bad_value():
    with pytest.raises(bt.InvalidValueError, match="acquisition"):
        GPSampler(acquisition="ei")
    with pytest.raises(bt.InvalidValueError, match="failure_mode"):
        GPSampler(failure_mode="drop")
    with pytest.raises(bt.InvalidValueError, match="n_startup_trials=0"):
        GPSampler(n_startup_trials=0)
    with pytest.raises(bt.InvalidValueError, match="refit_growth=2"):
        GPSampler(refit_growth=2)
    with pytest.raises(bt.InvalidValueError, match="seed='a'"):
        GPSampler(seed="a")  # type: ignore[arg-type]


def test_ucb_sampler_runs():
    s = _study(acquisition="ucb")
    for _ in range(6):
        t = s.ask()
        s.tell(t, branin(**t.params))
    assert s.trials[-1].system_attrs["sampler"] == "gp"


@pytest.mark.slow
def test_gp_beats_random_on_branin():
    gp = _study(n_startup=5)
    rnd = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))
    for s in (gp, rnd):
        for _ in range(25):
            t = s.ask()
            s.tell(t, branin(**t.params))
    assert gp.best_value < 0.6  # optimum 0.397887
    assert gp.best_value < rnd.best_value


def _cliff(lr: float, x: float) -> float | None:
    """Loss falls as lr grows, until lr > 0.1 where training diverges (NaN)."""
    if lr > 0.1:
        return float("nan")
    return -math.log10(lr) + 0.5 * (x - 0.5) ** 2


@pytest.mark.slow
def test_failures_steer_the_search_away_from_the_diverging_region():
    space = bt.Space({"lr": bt.Float(1e-5, 1.0, log=True), "x": bt.Float(0.0, 1.0)})
    failed_in_gp_phase = {}
    for mode in ("feasibility", "ignore"):
        s = bt.Study(space, sampler=GPSampler(seed=3, n_startup_trials=6, failure_mode=mode))
        for _ in range(26):
            t = s.ask()
            s.tell(t, _cliff(**t.params))
        gp_trials = s.trials[6:]
        failed_in_gp_phase[mode] = sum(t.state is bt.TrialState.FAILED for t in gp_trials)
        if mode == "feasibility":
            last = gp_trials[-10:]
            assert sum(t.state is bt.TrialState.FAILED for t in last) <= 2
            assert s.best_params["lr"] > 0.03  # it still found the good edge of the cliff
    assert failed_in_gp_phase["feasibility"] < failed_in_gp_phase["ignore"]


def test_hyperparameters_are_reused_until_the_history_grows():
    rng = np.random.default_rng(0)
    s = bt.Study(SPACE, sampler=GPSampler(seed=0, refit_growth=0.05))
    for x, y in zip(rng.uniform(-5, 10, 70), rng.uniform(0, 15, 70), strict=True):
        s.add_trial({"x": float(x), "y": float(y)}, branin(float(x), float(y)))
    statuses = []
    for _ in range(5):
        t = s.ask()
        statuses.append(s.trials[-1].system_attrs["gp_status"])
        s.tell(t, branin(**t.params))
    assert statuses[0] == "cold"
    assert statuses[1:4] == ["reused"] * 3  # 71..73 points < 70 * 1.05
    assert statuses[4] == "warm"            # 74 points: refit from the previous fit
    never = bt.Study(SPACE, sampler=GPSampler(seed=0, refit_growth=0.0))
    for t in s.trials[:70]:
        never.add_trial(t.params, t.value)
    for _ in range(2):
        t = never.ask()
        never.tell(t, branin(**t.params))
    assert [t.system_attrs["gp_status"] for t in never.trials[-2:]] == ["cold", "warm"]


def test_settings_round_trip_through_to_dict():
    s = GPSampler(seed=4, n_startup_trials=7, acquisition="ucb", ucb_beta=2.0,
                  failure_mode="impute", warp_outputs=False, raw_samples=64, num_restarts=3,
                  max_points=500, num_threads=None, refit_growth=0.2)
    d = s.to_dict()
    assert GPSampler.from_dict(d).to_dict() == s.to_dict()
    assert d.pop("name") == "GPSampler"
    assert GPSampler(**d).to_dict() == s.to_dict()


def test_settings_stored_under_earlier_option_names_still_load():
    old = {"name": "GPSampler", "seed": 4, "n_raw_samples": 64, "n_restarts": 3}
    s = GPSampler.from_dict(old)
    assert (s.raw_samples, s.num_restarts, s.seed) == (64, 3, 4)


def test_unknown_stored_setting_is_refused_by_name():
    with pytest.raises(bt.InvalidValueError, match="n_samples"):
        GPSampler.from_dict({"name": "GPSampler", "n_samples": 3})



@pytest.mark.parametrize(("setting", "value", "named"), [
    ("raw_samples", 10**8, "raw_samples=100000000"),
    ("n_raw_samples", 10**8, "raw_samples=100000000"),  # the name of earlier releases
    ("num_restarts", 10**5, "num_restarts=100000"),
    ("max_points", 10**7, "max_points=10000000"),
    ("num_threads", 10**6, "num_threads=1000000"),
    ("warp_outputs", "false", "warp_outputs='false'"),
])
def test_settings_are_bounded_wherever_they_come_from(setting, value, named):
    # one ask() with raw_samples=10**8 took 90 s; the bounds keep an ask within seconds
    with pytest.raises(bt.InvalidValueError, match=re.escape(named)):
        GPSampler.from_dict({"name": "GPSampler", "seed": 0, setting: value})
    if setting != "n_raw_samples":
        with pytest.raises(bt.InvalidValueError, match=re.escape(named)):
            GPSampler(**{setting: value})


def _staircase(p) -> float:
    # plateaus of equal values (ties) everywhere; the lowest step is the cell [0, 1/3)^2
    return float(np.floor(3 * p["x"]) + np.floor(3 * p["y"]))


def test_plateaus_and_ties_do_not_stall_the_search():
    space = bt.Space({"x": bt.Float(0.0, 0.999), "y": bt.Float(0.0, 0.999)})
    s = bt.Study(space, sampler=GPSampler(seed=2, n_startup_trials=5))
    s.enqueue({"x": 0.9, "y": 0.9})  # start on the worst plateau
    for _ in range(30):
        t = s.ask()
        s.tell(t, _staircase(t.params))
    X = space.encode_many([t.params for t in s.trials])
    gaps = [np.linalg.norm(X[i] - X[:i], axis=1).min() for i in range(1, len(X))]
    assert min(gaps) > 1e-6  # never the same point twice, even among ties
    assert s.best_value == 0.0  # walked down the steps to the lowest plateau
    cells = {(int(3 * t.params["x"]), int(3 * t.params["y"])) for t in s.trials}
    assert len(cells) >= 6  # kept moving across plateaus instead of polishing one


def test_integer_proposals_stay_distinct_when_the_optimum_rounds_onto_seen_points():
    space = bt.Space({"a": bt.Int(0, 20), "b": bt.Int(0, 20)})
    s = bt.Study(space, sampler=GPSampler(seed=3, n_startup_trials=5))
    bowl = lambda p: (p["a"] - 10.4) ** 2 + (p["b"] - 7.6) ** 2  # noqa: E731
    for _ in range(20):
        t = s.ask()
        s.tell(t, bowl(t.params))
    pending = [s.ask() for _ in range(3)]  # concurrent workers near the rounded optimum
    for _ in range(5):
        t = s.ask()
        s.tell(t, bowl(t.params))
    configs = [(t.params["a"], t.params["b"]) for t in s.trials]
    assert len(configs) == len(set(configs))  # completed and pending: all distinct
    assert all(isinstance(t.params["a"], int) for t in pending)
    assert s.best_params == {"a": 10, "b": 8}
