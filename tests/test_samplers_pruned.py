"""Pruned trials' final-value estimates (quantile mapping at the step they stopped)."""

from __future__ import annotations

import numpy as np
import pytest

import bayestune as bt
from bayestune.samplers._pruned import estimate_final_values
from bayestune.samplers.gp import encode_history

# three completed runs: value 2.0 / 1.5 / 1.0 at step 1, final 0.6 / 0.4 / 0.2
COMPLETED = [({1: 2.0, 2: 1.0, 3: 0.6}, 0.6), ({1: 1.5, 2: 0.8, 3: 0.4}, 0.4),
             ({1: 1.0, 2: 0.5, 3: 0.2}, 0.2)]


def test_values_inside_the_range_map_to_the_same_quantile_of_finals():
    est = estimate_final_values([(1, 1.5), (1, 1.25), (2, 0.8)], COMPLETED, minimize=True)
    np.testing.assert_allclose(est, [0.4, 0.3, 0.4])


def test_worse_than_every_reference_keeps_its_gap_beyond_the_worst_final():
    est = estimate_final_values([(1, 3.0)], COMPLETED, minimize=True)
    np.testing.assert_allclose(est, [0.6 + 1.0])


def test_better_than_every_reference_is_not_extrapolated():
    est = estimate_final_values([(1, 0.5)], COMPLETED, minimize=True)
    np.testing.assert_allclose(est, [0.2])


def test_the_mapping_is_monotone_in_the_reported_value():
    vs = np.linspace(0.0, 4.0, 81)
    est = estimate_final_values([(1, v) for v in vs], COMPLETED, minimize=True)
    assert np.all(np.diff(est) >= -1e-12)


def test_maximize_mirrors_minimize():
    flipped = [({k: -v for k, v in iv.items()}, -f) for iv, f in COMPLETED]
    a = estimate_final_values([(1, 1.25), (1, 3.0), (1, 0.5)], COMPLETED, minimize=True)
    b = estimate_final_values([(1, -1.25), (1, -3.0), (1, -0.5)], flipped, minimize=False)
    np.testing.assert_allclose(a, -b)


@pytest.mark.parametrize("pruned", [(5, 1.0), (1, float("nan"))])
def test_without_enough_references_the_last_value_is_kept(pruned):
    est = estimate_final_values([pruned], COMPLETED[:2] + [({5: 1.0}, float("nan"))],
                                minimize=True)
    np.testing.assert_equal(est, [pruned[1]])
    assert estimate_final_values([(1, 1.2)], COMPLETED[:2], minimize=True)[0] == 1.2


def _study_with_pruned(direction: str = "minimize") -> bt.Study:
    s = bt.Study(bt.Space({"x": bt.Float(0.0, 1.0)}), direction=direction,
                 sampler=bt.samplers.RandomSampler(seed=0))
    sign = 1.0 if direction == "minimize" else -1.0
    for iv, f in COMPLETED:
        t = s.ask()
        for step, v in iv.items():
            t.report(step, sign * v)
        s.tell(t, sign * f)
    t = s.ask()
    t.report(1, sign * 1.25)
    s.tell(t, state=bt.TrialState.PRUNED)
    return s


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_encode_history_enters_pruned_trials_with_their_estimate(direction):
    s = _study_with_pruned(direction)
    sign = 1.0 if direction == "minimize" else -1.0
    est = encode_history(s.space, s.trials, direction=direction)
    last = encode_history(s.space, s.trials, direction=direction, pruned_values="last")
    np.testing.assert_allclose(est.values, sign * np.array([0.6, 0.4, 0.2, 0.3]))
    np.testing.assert_allclose(last.values, sign * np.array([0.6, 0.4, 0.2, 1.25]))
    assert s.trials[-1].value == sign * 1.25  # the recorded value itself is untouched


def test_gp_sampler_validates_and_round_trips_the_option():
    with pytest.raises(bt.InvalidValueError, match="'median'"):
        bt.samplers.GPSampler(pruned_values="median")
    assert bt.samplers.GPSampler(seed=1, pruned_values="last").to_dict()["pruned_values"] == "last"
