"""Several processes on one SQLite file: unique gap-free numbers, nothing told ever lost.

Random search keeps these fast: they measure the storage, not the GP.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import sqlite3
import time

import pytest

import bayestune as bt
from bayestune.trial import TrialState

SPACE = bt.Space({"x": bt.Float(-1.0, 1.0), "n": bt.Int(0, 9)})


def _value(params) -> float:
    return params["x"] * 2.0 + params["n"]


def _context():
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:  # a clean, cheap start for each worker
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["bayestune", "bayestune.storage.sqlite"])
        return ctx
    return mp.get_context("spawn")


def _fifty_trials(url: str, seed: int, out) -> None:
    study = bt.Study(SPACE, storage=url, name="shared", load_if_exists=True,
                     sampler=bt.samplers.RandomSampler(seed=seed))
    numbers = []
    for _ in range(50):
        t = study.ask()
        study.tell(t, _value(t.params))
        numbers.append(t.number)
    out.put(numbers)


def test_four_processes_fifty_trials_each_give_200_distinct_trials(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    bt.Study(SPACE, storage=url, name="shared", sampler=bt.samplers.RandomSampler(seed=0))
    ctx = _context()
    out = ctx.Queue()
    procs = [ctx.Process(target=_fifty_trials, args=(url, seed, out)) for seed in range(4)]
    for p in procs:
        p.start()
    told = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    trials = bt.load_study(url, "shared").trials
    assert len(trials) == 200
    assert [t.number for t in trials] == list(range(200))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert all(t.value == _value(t.params) for t in trials)
    everyone = sorted(n for numbers in told for n in numbers)
    assert everyone == list(range(200))  # each number went to exactly one worker


def _objective(trial) -> float:
    """Module level, so that spawned workers can unpickle it."""
    return _value(trial.params)


def _tell_five(url: str, seed: int) -> None:
    study = bt.Study(SPACE, storage=url, name="others", load_if_exists=True,
                     sampler=bt.samplers.RandomSampler(seed=seed))
    for _ in range(5):
        t = study.ask()
        study.tell(t, _value(t.params))


def test_n_jobs_after_other_processes_wrote_keeps_the_file_intact(tmp_path):
    # The parent holds a connection while it opens the file again (a second study), other
    # processes write and exit, then n_jobs workers write: the file must stay intact.
    # Reading the header with open()/close() once dropped the parent's POSIX locks, so
    # the last process to exit deleted the WAL under the parent's live connection.
    path = tmp_path / "tune.db"
    url = f"sqlite:///{path}"
    held = bt.Study(SPACE, storage=url, name="held", sampler=bt.samplers.RandomSampler(seed=0))
    bt.Study(SPACE, storage=url, name="others", sampler=bt.samplers.RandomSampler(seed=0))
    ctx = _context()
    procs = [ctx.Process(target=_tell_five, args=(url, seed)) for seed in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    study = bt.Study(SPACE, storage=url, name="jobs", sampler=bt.samplers.RandomSampler(seed=1))
    study.optimize(_objective, n_trials=8, n_jobs=2)

    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    con.close()
    for name, n in [("others", 15), ("jobs", 8)]:
        trials = bt.load_study(url, name).trials
        assert [t.number for t in trials] == list(range(n))
        assert all(t.state is TrialState.COMPLETE and t.value == _value(t.params)
                   for t in trials)
    t = held.ask()  # and the connection the parent held all along still works
    held.tell(t, 1.0)
    assert [t.value for t in bt.load_study(url, "held").trials] == [1.0]


def test_a_read_only_watcher_polling_while_three_workers_write(tmp_path):
    # The dashboard's situation: a reader polls the file the whole time workers write it.
    path = tmp_path / "watched.db"
    url = f"sqlite:///{path}"
    bt.Study(SPACE, storage=url, name="shared", sampler=bt.samplers.RandomSampler(seed=0))
    watcher = bt.storage.get_storage(url, read_only=True)
    seen = [len(watcher.get_trials("shared"))]
    ctx = _context()
    out = ctx.Queue()
    procs = [ctx.Process(target=_fifty_trials, args=(url, seed, out)) for seed in range(3)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 120
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        trials = watcher.get_trials("shared")
        assert [t.number for t in trials] == list(range(len(trials)))
        seen.append(len(trials))
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sorted(n for _ in procs for n in out.get(timeout=10)) == list(range(150))
    trials = watcher.get_trials("shared")
    assert len(trials) == 150 and all(t.state is TrialState.COMPLETE for t in trials)
    assert seen == sorted(seen)  # it watched the history grow, never go back
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    con.close()


GRID = bt.Space({"a": bt.Int(0, 99), "b": bt.Int(0, 99)})


def _bowl(params) -> float:
    return ((params["a"] - 37) / 30) ** 2 + ((params["b"] - 61) / 30) ** 2


def _gp_context():
    ctx = _context()
    if ctx.get_start_method() == "forkserver":  # import torch and the GP once, not per worker
        ctx.set_forkserver_preload(["bayestune", "bayestune.samplers.gp", "bayestune.gp.optimize",
                                    "bayestune.gp.surrogate", "bayestune.gp.acquisition"])
    return ctx


def _gp_worker(url: str, n: int) -> None:
    study = bt.load_study(url, "gp")  # the stored GP sampler, as n_jobs workers get it
    for _ in range(n):
        t = study.ask()
        time.sleep(0.01)
        study.tell(t, _bowl(t.params))


@pytest.mark.slow
def test_eight_gp_workers_never_evaluate_a_configuration_twice(tmp_path):
    # On an integer grid, GP workers that sample at the same time from the same history
    # converge on the same points; each must see what the others chose meanwhile.
    url = f"sqlite:///{tmp_path / 'gp.db'}"
    bt.Study(GRID, storage=url, name="gp",
             sampler=bt.samplers.GPSampler(seed=0, n_startup_trials=8))
    ctx = _gp_context()
    procs = [ctx.Process(target=_gp_worker, args=(url, 25)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)
        assert p.exitcode == 0
    trials = bt.load_study(url, "gp").trials
    configs = [(t.params["a"], t.params["b"]) for t in trials]
    duplicates = len(configs) - len(set(configs))
    print(f"8 GP workers: {len(trials)} trials, {duplicates} duplicated configurations")
    assert len(trials) == 200 and all(t.state is TrialState.COMPLETE for t in trials)
    assert duplicates == 0


def _gp_churn(url: str, ack_path: str, die_in_reservation: bool) -> None:
    """Ask and tell with the stored GP sampler and heartbeat until killed; append
    "number value" to the ack file after each tell. With ``die_in_reservation`` the
    worker kills itself right after its second reservation, before its params exist."""
    study = bt.load_study(url, "crash")
    if die_in_reservation:
        storage, reserve = study.storage, study.storage.create_trial
        count = [0]

        def reserve_then_die(*args, **kwargs):
            t = reserve(*args, **kwargs)
            count[0] += 1
            if count[0] == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return t

        storage.create_trial = reserve_then_die
    fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    while True:
        t = study.ask()
        time.sleep(0.005)
        study.tell(t, _bowl(t.params))
        os.write(fd, f"{t.number} {_bowl(t.params)!r}\n".encode())


@pytest.mark.slow
def test_gp_workers_killed_at_random_moments_leave_a_sound_study(tmp_path):
    """SIGKILLs anywhere, inside the reservation too: nothing told is lost, every
    orphan is reaped after the grace period, the file is sound, no configuration twice."""
    path = tmp_path / "crash.db"
    url = f"sqlite:///{path}"
    ack = str(tmp_path / "acks.txt")
    grace = 1.0
    bt.Study(GRID, storage=url, name="crash",
             sampler=bt.samplers.GPSampler(seed=0, n_startup_trials=6),
             heartbeat_interval=0.2, grace_period=grace)
    ctx = _gp_context()
    rng = random.Random(7)
    kills = self_kills = 0
    for round_ in range(8):
        size = os.path.getsize(ack) if os.path.exists(ack) else 0
        procs = [ctx.Process(target=_gp_churn, args=(url, ack, k == 0 and round_ % 2 == 0))
                 for k in range(3)]
        for p in procs:
            p.start()
        deadline = time.monotonic() + 120
        while (not os.path.exists(ack) or os.path.getsize(ack) == size) \
                and time.monotonic() < deadline:  # wait until they are at work
            time.sleep(0.01)
        time.sleep(rng.uniform(0.3, 2.5))
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)  # mid-sample, mid-reservation, mid-commit
            else:
                self_kills += 1
            kills += 1
        for p in procs:
            p.join(30)
            assert p.exitcode == -signal.SIGKILL
    acked = {}
    with open(ack) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and line.endswith("\n"):
                acked[int(parts[0])] = float(parts[1])

    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    study = bt.load_study(url, "crash")
    orphans = study.get_trials([TrialState.RUNNING])
    time.sleep(grace + 0.5)
    last = study.ask()  # reaps every orphan: their heartbeats stopped with their workers
    study.tell(last, _bowl(last.params))
    trials = study.trials
    reaped = [t for t in trials if t.fail_reason == "stale heartbeat"]
    in_reservation = sum(1 for t in reaped if not t.params)
    configs = [(t.params["a"], t.params["b"]) for t in trials if t.params]
    duplicates = len(configs) - len(set(configs))
    lost = [n for n, v in acked.items()
            if trials[n].state is not TrialState.COMPLETE or trials[n].value != v]
    print(f"\ncrash loop: {kills} SIGKILLs ({self_kills} by workers themselves right "
          f"after a reservation), {len(trials)} trials, {len(acked)} told and acknowledged, "
          f"{len(reaped)} orphans reaped ({in_reservation} killed inside the reservation, "
          f"{len(orphans)} by the last ask), {len(study.get_trials([TrialState.RUNNING]))} "
          f"RUNNING left, {duplicates} duplicated configurations, {len(lost)} told trials "
          f"lost")
    assert kills >= 20 and self_kills >= 1 and len(acked) > 20
    assert [t.number for t in trials] == list(range(len(trials)))
    assert lost == []
    assert study.get_trials([TrialState.RUNNING]) == []
    assert {t.number for t in orphans} <= {t.number for t in reaped}
    assert all(t.state is TrialState.COMPLETE or t in reaped for t in trials)
    assert in_reservation >= 1
    assert duplicates == 0
    assert all(t.value == _bowl(t.params) for t in trials if t.state is TrialState.COMPLETE)


def _churn(url: str, ack_path: str, seed: int) -> None:
    """Ask and tell forever; append "number value" to the ack file after each tell."""
    study = bt.Study(SPACE, storage=url, name="churn", load_if_exists=True,
                     sampler=bt.samplers.RandomSampler(seed=seed))
    fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    while True:
        t = study.ask()
        study.tell(t, _value(t.params))
        os.write(fd, f"{t.number} {_value(t.params)!r}\n".encode())


@pytest.mark.slow
def test_workers_killed_at_random_points_lose_no_told_trial(tmp_path):
    url = f"sqlite:///{tmp_path / 'churn.db'}"
    ack = str(tmp_path / "acks.txt")
    bt.Study(SPACE, storage=url, name="churn", sampler=bt.samplers.RandomSampler(seed=0))
    ctx = _context()
    rng = random.Random(1234)
    kills = 0
    for round_ in range(16):
        size = os.path.getsize(ack) if os.path.exists(ack) else 0
        procs = [ctx.Process(target=_churn, args=(url, ack, 100 * round_ + k)) for k in range(2)]
        for p in procs:
            p.start()
        deadline = time.monotonic() + 120
        while (not os.path.exists(ack) or os.path.getsize(ack) == size) \
                and time.monotonic() < deadline:  # wait until they are at work
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.3))
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)  # mid-ask, mid-tell, mid-commit: anywhere
            kills += 1
        for p in procs:
            p.join(30)
            assert p.exitcode == -signal.SIGKILL
    acked = {}
    with open(ack) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and line.endswith("\n"):
                acked[int(parts[0])] = float(parts[1])
    assert kills == 32 and len(acked) > 50  # the workers did real work between kills

    con = sqlite3.connect(tmp_path / "churn.db")
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    study = bt.load_study(url, "churn")
    trials = study.trials
    assert [t.number for t in trials] == list(range(len(trials)))
    for number, value in acked.items():
        t = trials[number]
        assert t.state is TrialState.COMPLETE, (number, t)
        assert t.value == value == _value(t.params)
    # Trials killed in flight stay RUNNING (a heartbeat would reap them); none is half-told.
    assert all(t.state in (TrialState.COMPLETE, TrialState.RUNNING) for t in trials)
    assert all(t.value == _value(t.params) for t in trials if t.state is TrialState.COMPLETE)
    # and the file takes new work at once: no lock was left behind
    t = study.ask()
    assert study.tell(t, 1.0).number == len(trials)
