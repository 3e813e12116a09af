"""The health flags, judged from per-epoch records: overfitting (Prechelt's GL criterion),
divergence, slow learning; and reading a trial's record back."""

from __future__ import annotations

import math

import pytest

import bayestune as bt
from bayestune.diagnostics import HealthThresholds, health_flags, trial_record
from bayestune.training.health import diverging, learning_slowly, overfitting

FALLING = [2.0, 1.5, 1.1, 0.8, 0.6, 0.45, 0.35]


def test_overfitting_needs_validation_up_while_training_goes_down():
    val = [2.0, 1.4, 1.0, 0.9, 0.95, 1.1, 1.3]
    flag = overfitting(FALLING, val)
    assert flag is not None
    assert flag["best_epoch"] == 4  # the epoch early stopping keeps
    # GL(t) = 100 (E_va(t) / E_opt - 1): 0.95 -> 5.6% > 5, so the GL5 criterion stops at 5
    assert flag["stop_epoch"] == 5
    assert flag["gl"] == pytest.approx(100 * (1.3 / 0.9 - 1))
    assert flag["train_drop"] == pytest.approx((0.8 - 0.6) / 0.8)


def test_no_overfitting_when_validation_keeps_falling_or_rises_within_gl():
    assert overfitting(FALLING, [2.0, 1.6, 1.3, 1.1, 1.0, 0.95, 0.93]) is None
    assert overfitting(FALLING, [2.0, 1.6, 1.3, 1.0, 1.02, 1.04, 1.03]) is None  # GL < 5%
    # both losses rising is not overfitting (that is divergence)
    assert overfitting([1.0, 0.9, 1.2, 1.5, 2.0], [1.0, 0.9, 1.2, 1.5, 2.0]) is None


def test_the_gl_threshold_is_a_setting():
    val = [2.0, 1.0, 1.03, 1.04, 1.045]
    assert overfitting(FALLING[:5], val) is None
    flag = overfitting(FALLING[:5], val, HealthThresholds(overfit_gl=2.0))
    assert flag is not None and flag["best_epoch"] == 2 and flag["stop_epoch"] == 3


def test_a_transient_spike_followed_by_a_new_best_is_judged_from_the_best():
    val = [2.0, 1.0, 1.2, 0.8, 0.79, 0.78, 0.77]
    assert overfitting(FALLING, val) is None


def test_diverging_on_non_finite_losses_and_stopped_runs():
    assert diverging([1.0, math.nan])["epoch"] == 2
    assert diverging([1.0, 0.9], [1.0, math.inf])["reason"].startswith("validation loss inf")
    stopped = diverging([1.0], stopped="diverged: training loss nan at epoch 2, step 40")
    assert stopped["epoch"] == 2 and "step 40" in stopped["reason"]
    assert diverging(FALLING) is None
    assert diverging(FALLING, stopped="pruned by the study's pruner") is None


def test_diverging_when_training_is_worse_than_at_initialization():
    flag = diverging([2.9, 3.5], initial_loss=2.3)
    assert flag is not None and flag["epoch"] == 1
    assert diverging([2.35, 2.2], initial_loss=2.3) is None  # noise within diverge_rise


def test_diverging_when_the_training_loss_climbs_epoch_after_epoch():
    climbing = [1.0, 0.8, 0.9, 1.0, 1.1]
    flag = diverging(climbing)
    assert flag is not None and flag["epoch"] == 5
    assert diverging([1.0, 0.8, 0.9, 1.0, 0.95]) is None
    assert diverging(climbing, thresholds=HealthThresholds(diverge_epochs=4)) is None


def test_learning_slowly_needs_a_tiny_update_ratio_and_a_flat_loss():
    flat = [2.30, 2.29, 2.29, 2.28]
    flag = learning_slowly(flat, [2e-5, 1e-5, 1e-5, 1e-5], initial_loss=2.31)
    assert flag is not None
    assert flag["median_update_ratio"] == pytest.approx(1e-5)
    assert flag["progress"] == pytest.approx((2.31 - 2.28) / 2.31)
    assert learning_slowly(flat, [1e-3] * 4, initial_loss=2.31) is None  # healthy ratio
    assert learning_slowly(FALLING, [1e-5] * 7, initial_loss=2.3) is None  # loss moves
    assert learning_slowly(flat, [None, None], initial_loss=2.3) is None  # not measured


def test_health_flags_lists_every_flag_raised_in_order():
    rec = {"train_loss": [2.3, 2.29, 2.28], "val_loss": [2.3, 2.29, 2.28],
           "update_ratio": [1e-5, 1e-5, 1e-5], "initial_loss": 2.31}
    assert list(health_flags(rec)) == ["learning_slowly"]
    assert health_flags({"train_loss": FALLING, "val_loss": FALLING, "update_ratio": [1e-3] * 7,
                         "initial_loss": 2.3}) == {}
    assert list(health_flags({"train_loss": [1.0, math.nan], "val_loss": [1.0, 1.2, 1.5]})) \
        == ["diverging"]


def test_thresholds_check_their_values():
    with pytest.raises(ValueError, match="overfit_gl"):
        HealthThresholds(overfit_gl=0)
    with pytest.raises(ValueError, match="diverge_epochs"):
        HealthThresholds(diverge_epochs=1)


def _study_with(attrs: dict, state: str = "COMPLETE", reason: str | None = None) -> bt.Study:
    study = bt.Study(bt.Space({"x": bt.Float(0, 1)}), sampler=bt.samplers.RandomSampler(seed=0))
    t = study.ask()
    for k, v in attrs.items():
        t.set_user_attr(k, v)
    if state == "FAILED":
        study.tell(t, state="FAILED", reason=reason)
    else:
        study.tell(t, 1.0)
    return study


def test_trial_record_reads_the_monitor_record_or_the_plain_loss_lists():
    rec = {"train_loss": FALLING, "val_loss": [2.0, 1.4, 1.0, 0.9, 0.95, 1.1, 1.3],
           "update_ratio": [1e-3] * 7, "flags": {}}
    got = trial_record(_study_with({"health": rec}).trials[0])
    assert got["flags"] == {}  # the stored flags are kept ...
    got = trial_record(_study_with({"health": rec}).trials[0], HealthThresholds())
    assert "overfitting" in got["flags"]  # ... unless thresholds ask for a recomputation
    plain = trial_record(_study_with({"train_loss": FALLING,
                                      "val_loss": [2.0, 1.4, 1.0, 0.9, 0.95, 1.1, 1.3]}).trials[0])
    assert "overfitting" in plain["flags"] and "update_ratio" not in plain
    assert trial_record(_study_with({}).trials[0]) is None


def test_trial_record_of_a_diverged_trial_without_a_monitor_says_so():
    study = _study_with({"train_loss": [2.0], "val_loss": [2.1]}, state="FAILED",
                        reason="diverged: training loss nan at epoch 2, step 30")
    rec = trial_record(study.trials[0])
    assert rec["flags"]["diverging"]["epoch"] == 2
