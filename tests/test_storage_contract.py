"""The storage protocol, checked the same way on every backend (memory and SQLite)."""

from __future__ import annotations

import math
import time
from datetime import datetime

import numpy as np
import pytest

import bayestune as bt
from bayestune.storage import InMemoryStorage, SQLiteStorage, StudyRecord
from bayestune.trial import FrozenTrial, TrialState

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False, "default": None}}


@pytest.fixture(params=["memory", "sqlite"])
def storage(request, tmp_path):
    s = InMemoryStorage() if request.param == "memory" else SQLiteStorage(tmp_path / "s.db")
    s.create_study(StudyRecord(name="s", space=SPACE, direction="minimize",
                               settings={"sampler": {"name": "RandomSampler", "seed": 3}}))
    return s


def test_study_record_round_trips(storage):
    rec = storage.get_study("s")
    assert rec.space == SPACE and rec.direction == "minimize"
    assert rec.settings == {"sampler": {"name": "RandomSampler", "seed": 3}}
    assert storage.get_study("nope") is None
    assert storage.list_studies() == ["s"]
    with pytest.raises(bt.DuplicatedStudyError, match="'s'"):
        storage.create_study(StudyRecord(name="s", space=SPACE, direction="maximize"))


def test_numbers_are_gap_free_and_pop_takes_the_oldest_waiting(storage):
    assert storage.create_trial("s", TrialState.RUNNING).number == 0
    assert storage.create_trial("s", TrialState.WAITING, {"x": 0.1}).number == 1
    assert storage.create_trial("s", TrialState.WAITING, {"x": 0.2}).number == 2
    first = storage.pop_waiting_trial("s")
    assert (first.number, first.state, first.params) == (1, TrialState.RUNNING, {"x": 0.1})
    assert storage.pop_waiting_trial("s").number == 2
    assert storage.pop_waiting_trial("s") is None


def test_finish_once_then_it_is_finished(storage):
    storage.create_trial("s", TrialState.RUNNING)
    storage.set_trial_params("s", 0, {"x": 0.5}, {"gp": [1.0, 2.0]})
    done = storage.finish_trial("s", 0, TrialState.COMPLETE, 0.25, {"note": "ok"})
    assert done.state is TrialState.COMPLETE and done.value == 0.25
    assert done.system_attrs == {"gp": [1.0, 2.0], "note": "ok"}
    assert done.datetime_complete is not None
    with pytest.raises(bt.TrialAlreadyFinishedError, match="COMPLETE"):
        storage.finish_trial("s", 0, TrialState.FAILED, None)
    with pytest.raises(bt.TrialAlreadyFinishedError):
        storage.report("s", 0, 1, 0.3)
    with pytest.raises(bt.UnknownTrialError, match="7"):
        storage.get_trial("s", 7)
    with pytest.raises(bt.UnknownTrialError, match="no study"):
        storage.get_trials("missing")


EXACT_ATTRS = {
    "floats": [0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, -0.0, 1 / 3],
    "nan": float("nan"), "inf": float("-inf"),
    "big_int": 2**62 + 1, "nested": {"a": [1, {"b": None}], "t": True},
    "unicode": "λ ✓ ünï",
}


def _same(a, b) -> bool:
    """Equality that also holds for nan and tells -0.0 from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a)
                                                     == math.copysign(1, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_attributes_round_trip_exactly(storage):
    storage.create_trial("s", TrialState.RUNNING)
    storage.set_trial_params("s", 0, {"x": 0.1 + 0.2}, EXACT_ATTRS)
    storage.set_user_attr("s", 0, "cfg", EXACT_ATTRS)
    storage.report("s", 0, 3, float("nan"))
    storage.report("s", 0, 4, 1e-310)
    storage.finish_trial("s", 0, TrialState.COMPLETE, 0.1 + 0.2)
    t = storage.get_trial("s", 0)
    assert t.params == {"x": 0.30000000000000004} and t.value == 0.30000000000000004
    assert _same(dict(t.system_attrs), EXACT_ATTRS)
    assert _same(t.user_attrs["cfg"], EXACT_ATTRS)
    assert math.isnan(t.intermediate_values[3]) and t.intermediate_values[4] == 1e-310


def test_attributes_come_back_as_json_gives_them_on_every_backend(storage):
    storage.create_trial("s", TrialState.RUNNING)
    storage.set_trial_params("s", 0, {"x": 0.5}, {"arr": np.array([1.5, 2.5]),
                                                  "f": np.float32(0.5), "t": (1, 2)})
    assert dict(storage.get_trial("s", 0).system_attrs) == \
        {"arr": [1.5, 2.5], "f": 0.5, "t": [1, 2]}
    with pytest.raises(bt.InvalidValueError, match="JSON"):
        storage.set_user_attr("s", 0, "bad", object())


def test_import_trial_keeps_everything_but_renumbers(storage):
    storage.create_trial("s", TrialState.RUNNING)
    src = FrozenTrial(number=41, state=TrialState.PRUNED, params={"x": 0.7}, value=2.0,
                      intermediate_values={1: 3.0, 2: 2.0}, user_attrs={"u": 1},
                      system_attrs={"s": [0.1]}, datetime_start=datetime(2024, 1, 2, 3, 4, 5, 6),
                      datetime_complete=datetime(2024, 1, 2, 3, 5, 0, 7))
    got = storage.import_trial("s", src)
    assert got.number == 1
    assert got == FrozenTrial(**{**src.__dict__, "number": 1})
    assert storage.get_trial("s", 1) == got


def test_trials_read_back_are_up_to_date_after_each_change(storage):
    for i in range(3):
        storage.create_trial("s", TrialState.RUNNING)
        storage.set_trial_params("s", i, {"x": i / 10})
    storage.finish_trial("s", 1, TrialState.COMPLETE, 1.0)
    assert [t.state for t in storage.get_trials("s")] == \
        [TrialState.RUNNING, TrialState.COMPLETE, TrialState.RUNNING]
    storage.set_user_attr("s", 1, "k", "v")  # a finished trial may still gain attributes
    assert storage.get_trial("s", 1).user_attrs == {"k": "v"}
    assert [t.number for t in storage.get_trials("s", [TrialState.RUNNING])] == [0, 2]


def test_heartbeats_reap_only_silent_trials(storage):
    for i in range(3):
        storage.create_trial("s", TrialState.RUNNING)
        storage.set_trial_params("s", i, {"x": i / 10})
    storage.record_heartbeat("s", [0, 1])  # trial 2 never beats: left alone
    time.sleep(0.05)
    storage.record_heartbeat("s", [1])
    assert storage.reap_stale_trials("s", grace_period=0.03, requeue=False) == [0]
    t0 = storage.get_trial("s", 0)
    assert t0.state is TrialState.FAILED and t0.fail_reason == "stale heartbeat"
    assert storage.get_trial("s", 1).state is TrialState.RUNNING
    assert storage.get_trial("s", 2).state is TrialState.RUNNING
    assert storage.reap_stale_trials("s", grace_period=0.03, requeue=False) == []


def test_reaping_with_requeue_enqueues_a_copy(storage):
    storage.create_trial("s", TrialState.RUNNING)
    storage.set_trial_params("s", 0, {"x": 0.3})
    storage.record_heartbeat("s", [0])
    time.sleep(0.02)
    assert storage.reap_stale_trials("s", grace_period=0.01, requeue=True) == [0]
    copy = storage.get_trial("s", 1)
    assert copy.state is TrialState.WAITING and copy.params == {"x": 0.3}
    assert copy.system_attrs["retry_of"] == 0
    assert storage.pop_waiting_trial("s").number == 1


def test_finished_trials_no_longer_beat(storage):
    storage.create_trial("s", TrialState.RUNNING)
    storage.record_heartbeat("s", [0])
    storage.finish_trial("s", 0, TrialState.COMPLETE, 1.0)
    storage.record_heartbeat("s", [0])
    time.sleep(0.02)
    assert storage.reap_stale_trials("s", grace_period=0.01, requeue=False) == []


def test_a_reservation_can_carry_its_first_heartbeat(storage):
    storage.create_trial("s", TrialState.RUNNING, heartbeat=True)  # a reservation
    storage.create_trial("s", TrialState.WAITING, {"x": 0.3})
    assert storage.pop_waiting_trial("s", heartbeat=True).number == 1
    storage.create_trial("s", TrialState.RUNNING)  # no heartbeat: never reaped
    time.sleep(0.05)
    assert storage.reap_stale_trials("s", grace_period=0.02, requeue=True) == [0, 1]
    states = [t.state for t in storage.get_trials("s")]
    # trial 1 had params: it is requeued; the empty reservation is not
    assert states == [TrialState.FAILED, TrialState.FAILED, TrialState.RUNNING,
                      TrialState.WAITING]


def test_set_trial_params_refuses_a_configuration_an_unseen_trial_holds(storage):
    from bayestune.storage.base import Unseen

    for _ in range(4):
        storage.create_trial("s", TrialState.RUNNING)
    storage.set_trial_params("s", 0, {"x": 0.5})  # seen by the sampler of trial 2
    storage.set_trial_params("s", 1, {"x": 0.25})  # reserved then: unseen
    storage.set_trial_params("s", 3, {"x": 0.75})  # created since: unseen
    unseen = Unseen(from_number=3, numbers=(1,))
    assert storage.set_trial_params("s", 2, {"x": 0.25}, unseen=unseen) is None
    assert storage.set_trial_params("s", 2, {"x": 0.75}, unseen=unseen) is None
    assert storage.get_trial("s", 2).params == {}  # nothing written
    # a configuration the sampler saw (and chose again knowingly) is written
    assert storage.set_trial_params("s", 2, {"x": 0.5}, unseen=unseen).params == {"x": 0.5}


def test_an_enqueued_configuration_does_not_block_the_same_one_sampled(storage):
    from bayestune.storage.base import Unseen

    storage.create_trial("s", TrialState.RUNNING)
    storage.create_trial("s", TrialState.WAITING, {"x": 0.5})  # enqueued meanwhile
    written = storage.set_trial_params("s", 0, {"x": 0.5}, unseen=Unseen(from_number=1))
    assert written is not None and written.params == {"x": 0.5}
