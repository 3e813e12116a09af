"""Trials: states, the frozen record and the live handle."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

import bayestune as bt
from bayestune.trial import FrozenTrial, Trial, TrialState


def test_finished_states():
    assert {s for s in TrialState if s.is_finished} == {
        TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED}
    assert str(TrialState.FAILED) == "FAILED"
    assert TrialState("COMPLETE") is TrialState.COMPLETE
    assert TrialState.COMPLETE == "COMPLETE"  # a str enum: compares to its name


def test_frozen_trial_is_immutable():
    t = FrozenTrial(0, TrialState.COMPLETE, {"x": 1.0}, 2.0)
    with pytest.raises(AttributeError):
        t.value = 3.0  # type: ignore[misc]


def test_duration_and_last_step():
    start = datetime(2024, 1, 1, 12, 0, 0)
    t = FrozenTrial(0, TrialState.COMPLETE, {}, 1.0, intermediate_values={0: 3.0, 4: 1.0},
                    datetime_start=start, datetime_complete=start + timedelta(seconds=90))
    assert t.duration == 90.0
    assert t.last_step == 4
    running = FrozenTrial(1, TrialState.RUNNING, {}, datetime_start=start)
    assert running.duration is None and running.last_step is None


def test_fail_reason_comes_from_system_attrs():
    t = FrozenTrial(0, TrialState.FAILED, {}, system_attrs={"fail_reason": "diverged"})
    assert t.fail_reason == "diverged"
    assert FrozenTrial(1, TrialState.COMPLETE, {}, 1.0).fail_reason is None


def test_frozen_trial_dict_round_trip_through_json():
    start = datetime(2024, 5, 6, 7, 8, 9, 123456)
    t = FrozenTrial(
        number=3, state=TrialState.PRUNED, params={"lr": 1e-3, "opt": "adam", "bs": 64},
        value=0.25, intermediate_values={0: 1.0, 1: 0.5}, user_attrs={"note": "x"},
        system_attrs={"sampler": "gp"}, datetime_start=start,
        datetime_complete=start + timedelta(seconds=1),
    )
    d = json.loads(json.dumps(t.to_dict()))
    assert d["state"] == "PRUNED" and d["intermediate_values"] == {"0": 1.0, "1": 0.5}
    assert FrozenTrial.from_dict(d) == t
    empty = FrozenTrial(0, TrialState.RUNNING, {})
    assert FrozenTrial.from_dict(json.loads(json.dumps(empty.to_dict()))) == empty


def test_trial_handle_outside_a_study_says_so():
    t = Trial(7, {"x": 1.0})
    with pytest.raises(RuntimeError, match="trial 7"):
        t.study  # noqa: B018
    assert "7" in repr(t) and "_study" not in repr(t)


def test_trial_handle_reports_and_sets_attributes(random_study):
    trial = random_study.ask()
    trial.report(0, 1.5)
    trial.report(1, 1.2)
    trial.set_user_attr("gpu", "a100")
    assert trial.intermediate_values == {0: 1.5, 1: 1.2}
    assert trial.should_prune() is False
    rec = random_study.tell(trial, 1.0)
    assert rec.user_attrs == {"gpu": "a100"}
    assert rec.intermediate_values == {0: 1.5, 1: 1.2}


@pytest.mark.parametrize(("step", "named"), [(-1, "step=-1"), (1.5, "step=1.5"),
                                             (True, "step=True"), ("0", "step='0'")])
def test_report_rejects_bad_steps(random_study, step, named):
    trial = random_study.ask()
    with pytest.raises(bt.InvalidValueError) as info:
        trial.report(step, 1.0)
    assert named in str(info.value)


def test_report_rejects_a_value_that_is_not_a_number(random_study):
    trial = random_study.ask()
    with pytest.raises(bt.InvalidValueError, match="'high'"):
        trial.report(0, "high")


def test_report_after_tell_is_an_error(random_study):
    trial = random_study.ask()
    random_study.tell(trial, 1.0)
    with pytest.raises(bt.TrialAlreadyFinishedError, match=f"trial {trial.number}"):
        trial.report(0, 1.0)


def test_user_attr_keys_must_be_strings(random_study):
    trial = random_study.ask()
    with pytest.raises(bt.InvalidValueError, match="3"):
        trial.set_user_attr(3, "x")  # type: ignore[arg-type]
