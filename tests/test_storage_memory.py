"""The in-memory storage: numbering, state transitions, atomicity across threads."""

from __future__ import annotations

import threading

import pytest

import bayestune as bt
from bayestune.storage import InMemoryStorage, Storage, StudyRecord, get_storage
from bayestune.trial import TrialState


@pytest.fixture
def storage() -> InMemoryStorage:
    s = InMemoryStorage()
    s.create_study(StudyRecord(name="s", space={"x": {"type": "float", "low": 0.0,
                                                     "high": 1.0}}, direction="minimize"))
    return s


def test_get_storage_resolves_none_and_instances():
    assert isinstance(get_storage(None), InMemoryStorage)
    s = InMemoryStorage()
    assert get_storage(s) is s
    assert isinstance(s, Storage)


def test_get_storage_rejects_other_things():
    with pytest.raises(bt.StorageError, match="42"):
        get_storage(42)  # type: ignore[arg-type]


def test_studies_are_named_and_unique(storage):
    assert storage.list_studies() == ["s"]
    assert storage.get_study("s").direction == "minimize"
    assert storage.get_study("other") is None
    with pytest.raises(bt.DuplicatedStudyError, match="'s'"):
        storage.create_study(StudyRecord(name="s", space={}, direction="maximize"))


def test_trials_are_numbered_from_zero_without_gaps(storage):
    numbers = [storage.create_trial("s", TrialState.RUNNING).number for _ in range(5)]
    assert numbers == [0, 1, 2, 3, 4]
    assert [t.number for t in storage.get_trials("s")] == numbers


def test_finished_trials_get_a_completion_time_at_creation(storage):
    done = storage.create_trial("s", TrialState.COMPLETE, {"x": 0.5}, 1.0)
    running = storage.create_trial("s", TrialState.RUNNING)
    assert done.datetime_complete is not None and done.value == 1.0
    assert running.datetime_start is not None and running.datetime_complete is None


def test_pop_waiting_trial_takes_the_oldest_first(storage):
    storage.create_trial("s", TrialState.RUNNING)
    storage.create_trial("s", TrialState.WAITING, {"x": 0.1})
    storage.create_trial("s", TrialState.WAITING, {"x": 0.2})
    first = storage.pop_waiting_trial("s")
    second = storage.pop_waiting_trial("s")
    assert (first.number, first.params, first.state) == (1, {"x": 0.1}, TrialState.RUNNING)
    assert second.params == {"x": 0.2}
    assert storage.pop_waiting_trial("s") is None


def test_finish_trial_once_then_it_is_finished(storage):
    t = storage.create_trial("s", TrialState.RUNNING)
    storage.set_trial_params("s", t.number, {"x": 0.3}, {"sampler": "random"})
    done = storage.finish_trial("s", t.number, TrialState.COMPLETE, 0.7, {"note": 1})
    assert done.state is TrialState.COMPLETE and done.value == 0.7
    assert done.system_attrs == {"sampler": "random", "note": 1}
    assert done.datetime_complete >= done.datetime_start
    with pytest.raises(bt.TrialAlreadyFinishedError, match="trial 0"):
        storage.finish_trial("s", t.number, TrialState.FAILED, None)
    with pytest.raises(bt.TrialAlreadyFinishedError):
        storage.report("s", t.number, 0, 1.0)
    with pytest.raises(bt.TrialAlreadyFinishedError):
        storage.set_trial_params("s", t.number, {"x": 0.1})


@pytest.mark.parametrize("number", [5, -1, True, "0"])
def test_unknown_trial_numbers_are_named(storage, number):
    storage.create_trial("s", TrialState.RUNNING)
    with pytest.raises(bt.UnknownTrialError) as info:
        storage.get_trial("s", number)
    assert repr(number) in str(info.value)
    with pytest.raises(bt.UnknownTrialError):
        storage.finish_trial("s", number, TrialState.COMPLETE, 1.0)


def test_unknown_study_is_named(storage):
    with pytest.raises(bt.UnknownTrialError, match="'nope'"):
        storage.get_trials("nope")


def test_get_trials_filters_by_state(storage):
    a = storage.create_trial("s", TrialState.RUNNING)
    storage.create_trial("s", TrialState.RUNNING)
    storage.finish_trial("s", a.number, TrialState.FAILED, None)
    assert [t.number for t in storage.get_trials("s", [TrialState.FAILED])] == [0]
    assert [t.number for t in storage.get_trials("s", [TrialState.RUNNING])] == [1]
    assert len(storage.get_trials("s", [TrialState.RUNNING, TrialState.FAILED])) == 2


def test_get_trials_returns_a_snapshot(storage):
    storage.create_trial("s", TrialState.RUNNING)
    snap = storage.get_trials("s")
    storage.create_trial("s", TrialState.RUNNING)
    assert len(snap) == 1


def test_report_and_user_attrs(storage):
    t = storage.create_trial("s", TrialState.RUNNING)
    storage.report("s", t.number, 0, 2.0)
    storage.report("s", t.number, 1, 1.0)
    storage.report("s", t.number, 1, 0.5)  # a step reported again keeps the last value
    storage.set_user_attr("s", t.number, "k", [1, 2])
    got = storage.get_trial("s", t.number)
    assert got.intermediate_values == {0: 2.0, 1: 0.5}
    assert got.user_attrs == {"k": [1, 2]}


def test_threads_never_share_a_number_or_a_waiting_trial(storage):
    for i in range(40):
        storage.create_trial("s", TrialState.WAITING, {"x": i / 40})
    popped: list[int] = []
    created: list[int] = []
    lock = threading.Lock()

    def worker():
        for _ in range(20):
            t = storage.pop_waiting_trial("s")
            n = storage.create_trial("s", TrialState.RUNNING).number
            with lock:
                if t is not None:
                    popped.append(t.number)
                created.append(n)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(popped) == list(range(40))
    assert sorted(created) == list(range(40, 120))
    assert [t.number for t in storage.get_trials("s")] == list(range(120))


def test_threads_cannot_finish_a_trial_twice(storage):
    t = storage.create_trial("s", TrialState.RUNNING)
    wins: list[int] = []
    errors: list[Exception] = []

    def worker(i):
        try:
            storage.finish_trial("s", t.number, TrialState.COMPLETE, float(i))
            wins.append(i)
        except bt.TrialAlreadyFinishedError as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(wins) == 1 and len(errors) == 7
    assert storage.get_trial("s", t.number).value == float(wins[0])
