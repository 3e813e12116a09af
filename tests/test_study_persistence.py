"""Studies that last: reopen, resume exactly, export, several workers, heartbeats."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

import bayestune as bt
from bayestune.trial import TrialState

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACE = bt.Space({"x": bt.Float(-2.0, 2.0), "c": bt.Categorical(["a", "b"])})
needs_fork = pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")


def objective(trial) -> float:
    """Module level, so that spawned workers can unpickle it."""
    return (trial.params["x"] - 0.5) ** 2 + (0.3 if trial.params["c"] == "b" else 0.0)


def _url(tmp_path, name="tune.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def _backup(src, dst) -> None:
    """Copy a live SQLite file the safe way (its WAL included)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def _run(study, n) -> None:
    for _ in range(n):
        t = study.ask()
        study.tell(t, objective(t))


# -- reopening -------------------------------------------------------------------------------
def test_load_study_reopens_the_same_history_and_settings(tmp_path):
    url = _url(tmp_path)
    study = bt.Study(SPACE, "maximize", storage=url, name="r",
                     sampler=bt.samplers.RandomSampler(seed=7), heartbeat_interval=30.0,
                     pruner=bt.pruners.MedianPruner(n_startup_trials=3))
    _run(study, 5)
    study.enqueue({"x": 0.0, "c": "a"})
    t = study.ask()
    t.report(1, 0.5)
    t.set_user_attr("epochs", 3)
    again = bt.load_study(url, "r")
    assert again.trials == study.trials
    assert again.direction == "maximize" and again.space == SPACE
    assert isinstance(again.sampler, bt.samplers.RandomSampler) and again.sampler.seed == 7
    assert again._heartbeat_settings == study._heartbeat_settings
    assert isinstance(again.pruner, bt.pruners.MedianPruner)
    assert again.pruner.to_dict() == study.pruner.to_dict()
    assert again.best_trial == study.best_trial
    assert again.tell(t.number, 1.0).state is TrialState.COMPLETE  # another handle may tell


def test_opening_an_existing_name_checks_space_and_direction(tmp_path):
    url = _url(tmp_path)
    bt.Study(SPACE, storage=url, name="r", seed=0)
    with pytest.raises(bt.DuplicatedStudyError, match="load_if_exists"):
        bt.Study(SPACE, storage=url, name="r")
    other = bt.Space({"x": bt.Float(-1.0, 1.0), "c": bt.Categorical(["a", "b"])})
    with pytest.raises(bt.StudyMismatchError, match="another space"):
        bt.Study(other, storage=url, name="r", load_if_exists=True)
    with pytest.raises(bt.StudyMismatchError, match="direction"):
        bt.Study(SPACE, "maximize", storage=url, name="r", load_if_exists=True)
    assert bt.Study(SPACE, storage=url, name="r", load_if_exists=True).trials == []
    with pytest.raises(bt.StudyMismatchError, match="no study named 'zz'.*'r'"):
        bt.load_study(url, "zz")


def test_load_study_can_override_the_stored_sampler(tmp_path):
    url = _url(tmp_path)
    bt.Study(SPACE, storage=url, name="r", sampler=bt.samplers.RandomSampler(seed=1))
    assert bt.load_study(url, "r", seed=5).sampler.seed == 5
    sobol = bt.samplers.SobolSampler(seed=2)
    assert bt.load_study(url, "r", sampler=sobol).sampler is sobol


def test_a_resumed_gp_study_suggests_exactly_what_the_original_would(tmp_path):
    url = _url(tmp_path, "orig.db")
    original = bt.Study(SPACE, storage=url, name="gp", seed=11)
    assert isinstance(original.sampler, bt.samplers.GPSampler)
    n = original.sampler.startup_count(SPACE) + 2  # the GP (warm-started) is at work
    _run(original, n)
    assert any("gp_state" in t.system_attrs for t in original.trials)
    _backup(tmp_path / "orig.db", tmp_path / "copy.db")
    in_memory = bt.Study(SPACE, seed=11)
    _run(in_memory, n)

    resumed = bt.load_study(_url(tmp_path, "copy.db"), "gp")
    expected = original.ask().params
    assert resumed.ask().params == expected
    assert in_memory.ask().params == expected  # the storage changes nothing the GP sees


@pytest.mark.slow
def test_a_fresh_process_resumes_exactly(tmp_path):
    url = _url(tmp_path, "orig.db")
    original = bt.Study(SPACE, storage=url, name="gp", seed=5)
    _run(original, original.sampler.startup_count(SPACE) + 1)
    _backup(tmp_path / "orig.db", tmp_path / "copy.db")
    code = ("import json, bayestune as bt; "
            f"print(json.dumps(bt.load_study({_url(tmp_path, 'copy.db')!r}, 'gp').ask().params))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=300, env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == original.ask().params


# -- JSON and DataFrame ------------------------------------------------------------------------
def test_json_round_trips_a_study_exactly(tmp_path):
    study = bt.Study(SPACE, storage=_url(tmp_path), name="j",
                     sampler=bt.samplers.RandomSampler(seed=3))
    _run(study, 4)
    t = study.ask()
    t.report(0, 1.25)
    t.report(1, 0.1 + 0.2)
    t.set_user_attr("note", {"k": [1, 2.5]})
    study.tell(t, state="PRUNED")
    failed = study.ask()
    study.tell(failed, float("nan"))
    study.enqueue({"x": 1.0, "c": "b"})
    study.ask()  # left RUNNING
    study.to_json(tmp_path / "s.json")

    back = bt.Study.from_json(tmp_path / "s.json")
    assert back.trials == study.trials
    assert back.name == "j" and back.direction == study.direction and back.space == SPACE
    assert back.sampler.seed == 3 and isinstance(back.sampler, bt.samplers.RandomSampler)
    assert back.ask().params == study.ask().params
    into_file = bt.Study.from_json(tmp_path / "s.json", storage=_url(tmp_path, "b.db"),
                                   name="copy")
    assert into_file.trials[:len(back.trials) - 1] == back.trials[:-1]
    with pytest.raises(bt.DuplicatedStudyError):
        bt.Study.from_json(tmp_path / "s.json", storage=into_file.storage, name="copy")


def test_from_json_refuses_what_is_not_a_study(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(bt.StorageError, match="not valid JSON"):
        bt.Study.from_json(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(bt.StorageError, match="not a bayestune study"):
        bt.Study.from_json(tmp_path / "other.json")
    (tmp_path / "v9.json").write_text('{"format": "bayestune-study", "version": 9}')
    with pytest.raises(bt.StorageError, match="version 9"):
        bt.Study.from_json(tmp_path / "v9.json")
    with pytest.raises(FileNotFoundError):
        bt.Study.from_json(tmp_path / "missing.json")


def test_to_dataframe_has_one_row_per_trial():
    pd = pytest.importorskip("pandas")
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))
    _run(study, 3)
    t = study.ask()
    t.set_user_attr("epochs", 4)
    study.tell(t, None)
    df = study.to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    assert list(df.columns) == ["number", "state", "value", "params_x", "params_c",
                                "user_attrs_epochs", "datetime_start", "datetime_complete",
                                "duration", "fail_reason"]
    assert df["state"].tolist() == ["COMPLETE"] * 3 + ["FAILED"]
    assert df["params_x"].tolist() == [t.params["x"] for t in study.trials]
    assert df["fail_reason"].iloc[3] == "objective returned None"


# -- several workers -----------------------------------------------------------------------------
def test_n_jobs_needs_a_persistent_storage():
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))
    with pytest.raises(bt.InvalidValueError, match="persistent storage.*sqlite"):
        study.optimize(objective, n_trials=4, n_jobs=2)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(bt.InvalidValueError, match="n_jobs"):
            study.optimize(objective, n_trials=4, n_jobs=bad)
    assert study.trials == []


def test_spawned_workers_need_a_picklable_objective(tmp_path):
    study = bt.Study(SPACE, storage=_url(tmp_path), sampler=bt.samplers.RandomSampler(seed=0))
    with pytest.raises(bt.InvalidValueError, match="pickle.*module level"):
        study.optimize(lambda t: 1.0, n_trials=4, n_jobs=2)
    assert study.trials == []


@pytest.mark.slow
def test_n_jobs_runs_worker_processes_that_share_the_budget(tmp_path):
    study = bt.Study(SPACE, storage=_url(tmp_path), sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=24, n_jobs=2)  # spawn: the safe default
    trials = study.trials
    assert [t.number for t in trials] == list(range(24))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert all(t.value == objective(t) for t in trials)


def _stop_after_five(study, record) -> None:
    if record.number >= 4:
        study.stop()


@needs_fork
def test_forked_workers_accept_closures_and_stop_together(tmp_path):
    study = bt.Study(SPACE, storage=_url(tmp_path), sampler=bt.samplers.RandomSampler(seed=0))
    offset = 1.0
    study.optimize(lambda t: objective(t) + offset, n_trials=200, n_jobs=3,
                   start_method="fork", callbacks=[_stop_after_five])
    n = len(study.trials)
    assert 5 <= n <= 8  # each worker ends its current trial, then all stop
    assert all(t.state is TrialState.COMPLETE for t in study.trials)


def _raises(trial) -> float:
    raise KeyError("boom in a worker")


@needs_fork
def test_a_worker_error_reaches_the_caller_and_the_trial_is_failed(tmp_path):
    study = bt.Study(SPACE, storage=_url(tmp_path), sampler=bt.samplers.RandomSampler(seed=0))
    with pytest.raises(KeyError, match="boom in a worker"):
        study.optimize(_raises, n_trials=10, n_jobs=2, catch=(ValueError,),
                       start_method="fork")
    trials = study.trials
    assert 1 <= len(trials) <= 2
    assert all(t.state is TrialState.FAILED and "boom" in t.fail_reason for t in trials)


@needs_fork
def test_parallel_timeout_and_progress_bar(tmp_path, capsys):
    study = bt.Study(SPACE, storage=_url(tmp_path), sampler=bt.samplers.RandomSampler(seed=0))
    start = time.monotonic()
    study.optimize(objective, timeout=1.0, n_jobs=2, start_method="fork",
                   show_progress_bar=True)
    assert time.monotonic() - start < 30
    assert len(study.trials) >= 2
    assert "trial" in capsys.readouterr().err


# -- heartbeats ------------------------------------------------------------------------------
def test_heartbeat_options_are_checked():
    for kwargs, match in [({"heartbeat_interval": 0}, "heartbeat_interval"),
                          ({"heartbeat_interval": 1.0, "grace_period": 0.5}, "exceed"),
                          ({"grace_period": 3.0}, "needs heartbeat_interval"),
                          ({"heartbeat_interval": 1.0, "stale_trials": "retry"}, "requeue")]:
        with pytest.raises(bt.InvalidValueError, match=match):
            bt.Study(SPACE, **kwargs)


def _ask_then_hang(url: str, conn) -> None:
    study = bt.load_study(url, "hb")
    conn.send(study.ask().number)
    time.sleep(600)


def _dead_worker_trial(url: str) -> int:
    """A trial asked by a worker that was then SIGKILLed."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_ask_then_hang, args=(url, child))
    p.start()
    number = parent.recv()
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    return number


@needs_fork
def test_a_dead_workers_trial_is_failed_by_the_next_ask(tmp_path):
    url = _url(tmp_path)
    study = bt.Study(SPACE, storage=url, name="hb", sampler=bt.samplers.RandomSampler(seed=0),
                     heartbeat_interval=0.05, grace_period=0.3)
    alive = study.ask()  # this process is alive: its heartbeat thread keeps the trial
    dead = _dead_worker_trial(url)
    time.sleep(0.6)
    t = study.ask()
    reaped = study.get_trial(dead)
    assert reaped.state is TrialState.FAILED and reaped.fail_reason == "stale heartbeat"
    assert study.get_trial(alive.number).state is TrialState.RUNNING
    study.tell(alive, 1.0)
    study.tell(t, 2.0)
    with pytest.raises(bt.TrialAlreadyFinishedError):
        study.tell(dead, 3.0)  # a worker that was only paused learns it was reaped


@needs_fork
def test_a_dead_workers_trial_can_be_requeued(tmp_path):
    url = _url(tmp_path)
    study = bt.Study(SPACE, storage=url, name="hb", sampler=bt.samplers.RandomSampler(seed=0),
                     heartbeat_interval=0.05, grace_period=0.2, stale_trials="requeue")
    dead = _dead_worker_trial(url)
    time.sleep(0.4)
    retry = study.ask()
    assert study.get_trial(dead).state is TrialState.FAILED
    assert retry.params == study.get_trial(dead).params
    assert study.get_trial(retry.number).system_attrs["retry_of"] == dead


def _killed_inside(url: str, what: str) -> None:
    """Ask, and be SIGKILLed right after the storage reserved the trial (or handed over
    a WAITING one), before the study could record its first heartbeat."""
    study = bt.load_study(url, "hb")
    storage = study.storage
    original = getattr(storage, what)

    def then_die(*args, **kwargs):
        original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(storage, what, then_die)
    study.ask()


@needs_fork
@pytest.mark.parametrize("what", ["create_trial", "pop_waiting_trial"])
def test_a_worker_killed_inside_its_reservation_is_reaped(tmp_path, what):
    url = _url(tmp_path)
    study = bt.Study(SPACE, storage=url, name="hb", sampler=bt.samplers.RandomSampler(seed=0),
                     heartbeat_interval=0.05, grace_period=0.3)
    if what == "pop_waiting_trial":
        study.enqueue({"x": 0.5, "c": "a"})
    p = mp.get_context("fork").Process(target=_killed_inside, args=(url, what))
    p.start()
    p.join(60)
    assert p.exitcode == -signal.SIGKILL
    (orphan,) = study.get_trials([TrialState.RUNNING])
    time.sleep(0.6)
    study.tell(study.ask(), 1.0)
    reaped = study.get_trial(orphan.number)
    assert reaped.state is TrialState.FAILED and reaped.fail_reason == "stale heartbeat"
    assert study.get_trials([TrialState.RUNNING]) == []


def test_trials_without_a_heartbeat_are_never_reaped(tmp_path):
    url = _url(tmp_path)
    quiet = bt.Study(SPACE, storage=url, name="q", sampler=bt.samplers.RandomSampler(seed=0))
    slow = quiet.ask()  # e.g. a CLI trainer: no heartbeat
    watcher = bt.Study(SPACE, storage=url, name="q", load_if_exists=True,
                       sampler=bt.samplers.RandomSampler(seed=0),
                       heartbeat_interval=0.02, grace_period=0.05)
    time.sleep(0.1)
    watcher.ask()
    assert watcher.get_trial(slow.number).state is TrialState.RUNNING


# -- imports are checked as strictly as tell -------------------------------------------------
def _exported(tmp_path) -> dict:
    study = bt.Study(SPACE, name="src", sampler=bt.samplers.RandomSampler(seed=0))
    _run(study, 3)
    study.to_json(tmp_path / "good.json")
    return json.loads((tmp_path / "good.json").read_text())


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _damage(data: dict, what: str) -> dict:
    data = json.loads(json.dumps(data))
    t = data["trials"][1]
    edits = {
        "outside": lambda: t["params"].update(x=5.0),
        "unknown choice": lambda: t["params"].update(c="zzz"),
        "missing key": lambda: t["params"].pop("c"),
        "extra key": lambda: t["params"].update(extra=1),
        "no params": lambda: t.update(params={}),
        "null value": lambda: t.update(value=None),
        "nan value": lambda: t.update(value=float("nan")),
        "string value": lambda: t.update(value="0.5"),
        "bad state": lambda: t.update(state="DONE"),
        "params not a dict": lambda: t.update(params=[1, 2]),
        "unknown field": lambda: t.update(colour="red"),
        "bad datetime": lambda: t.update(datetime_start="yesterday"),
        "bad step": lambda: t.update(intermediate_values={"first": 1.0}),
        "bad direction": lambda: data.update(direction="sideways"),
        "settings not a dict": lambda: data.update(settings=[1]),
        "bad sampler setting": lambda: data["settings"]["sampler"].update(seed="x"),
        "space with an unknown key": lambda: data["space"]["x"].update(lgo=True),
        "trials not a list": lambda: data.update(trials={"0": t}),
    }
    edits[what]()
    return data


_DAMAGES = ["outside", "unknown choice", "missing key", "extra key", "no params",
            "null value", "nan value", "string value", "bad state", "params not a dict",
            "unknown field", "bad datetime", "bad step", "bad direction",
            "settings not a dict", "bad sampler setting", "space with an unknown key",
            "trials not a list"]


@pytest.mark.parametrize("what", _DAMAGES)
def test_from_json_refuses_a_damaged_file_and_writes_nothing(tmp_path, what):
    good = _exported(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps(_damage(good, what)))
    db = tmp_path / "into.db"
    keep = bt.Study(SPACE, storage=_url(tmp_path, "into.db"), name="keep",
                    sampler=bt.samplers.RandomSampler(seed=0))
    _run(keep, 2)
    before = _digest(db)
    for storage in (None, _url(tmp_path, "into.db")):
        with pytest.raises(bt.StorageError) as info:
            bt.Study.from_json(tmp_path / "bad.json", storage=storage, name="copy")
        assert "bad.json" in str(info.value)
    assert _digest(db) == before
    assert bt.storage.SQLiteStorage(db).list_studies() == ["keep"]
    # the good file still imports
    assert len(bt.Study.from_json(tmp_path / "good.json").trials) == 3


@pytest.mark.parametrize("what", ["outside", "unknown choice", "missing key", "extra key",
                                  "null value", "nan value"])
def test_from_json_names_the_trial_and_the_bad_field(tmp_path, what):
    (tmp_path / "bad.json").write_text(json.dumps(_damage(_exported(tmp_path), what)))
    with pytest.raises(bt.StorageError, match="trial 1") as info:
        bt.Study.from_json(tmp_path / "bad.json")
    assert {"outside": "x=5.0", "unknown choice": "'zzz'", "missing key": "'c'",
            "extra key": "'extra'", "null value": "value=None",
            "nan value": "value=nan"}[what] in str(info.value)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_import_trial_refuses_what_tell_would_refuse(tmp_path, backend):
    storage = None if backend == "memory" else _url(tmp_path)
    study = bt.Study(SPACE, storage=storage, name="s", sampler=bt.samplers.RandomSampler(seed=0))
    st = study.storage
    good = bt.FrozenTrial(number=0, state=TrialState.COMPLETE, params={"x": 0.5, "c": "a"},
                          value=1.0)
    bad = [
        (dict(params={"x": 5.0, "c": "a"}), bt.InvalidParamError, "x=5.0"),
        (dict(params={"x": 0.5, "c": "zzz"}), bt.InvalidParamError, "'zzz'"),
        (dict(params={"x": 0.5}), bt.InvalidParamError, "'c'"),
        (dict(params={"x": 0.5, "c": "a", "y": 1}), bt.InvalidParamError, "'y'"),
        (dict(value=None), bt.InvalidValueError, "value=None"),
        (dict(value=float("nan")), bt.InvalidValueError, "value=nan"),
        (dict(state=TrialState.WAITING), bt.InvalidValueError, "value=1.0"),
        (dict(state=TrialState.FAILED), bt.InvalidValueError, "value=1.0"),
    ]
    for change, error, named in bad:
        with pytest.raises(error, match=re.escape(named)):
            st.import_trial("s", bt.FrozenTrial(**{**good.__dict__, **change}))
    assert study.trials == []
    assert st.import_trial("s", good).params == {"x": 0.5, "c": "a"}


@pytest.mark.parametrize(("setting", "value"), [("n_raw_samples", 10**8),
                                                ("raw_samples", 10**8),
                                                ("num_threads", 10**6)])
def test_a_stored_sampler_setting_out_of_bounds_is_refused_at_load(tmp_path, setting, value):
    url = _url(tmp_path)
    study = bt.Study(SPACE, storage=url, name="s", seed=0)
    _run(study, 2)
    con = sqlite3.connect(tmp_path / "tune.db")
    settings = json.loads(con.execute("SELECT settings FROM studies").fetchone()[0])
    settings["sampler"][setting] = value
    con.execute("UPDATE studies SET settings=?", (json.dumps(settings),))
    con.commit()
    con.close()
    with pytest.raises(bt.StorageError, match=re.escape(f"={value}")) as info:
        bt.load_study(url, "s")
    assert "'s'" in str(info.value) and "settings.sampler" in str(info.value)
    # the way out: reopen it with a sampler given
    again = bt.load_study(url, "s", sampler=bt.samplers.GPSampler(seed=0))
    assert len(again.trials) == 2
    study.to_json(tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    data["settings"] = settings
    (tmp_path / "s.json").write_text(json.dumps(data))
    with pytest.raises(bt.StorageError, match=re.escape(f"={value}")):
        bt.Study.from_json(tmp_path / "s.json")


def test_add_trial_refuses_what_tell_and_enqueue_refuse_and_records_nothing():
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))
    good = {"x": 0.5, "c": "a"}
    for params, value, state, error in [
        ({"x": 5.0, "c": "a"}, 1.0, None, bt.InvalidParamError),
        ({"x": 0.5, "c": "zzz"}, 1.0, None, bt.InvalidParamError),
        ({"x": 0.5}, 1.0, None, bt.InvalidParamError),
        ({**good, "y": 1}, 1.0, None, bt.InvalidParamError),
        (good, None, "COMPLETE", bt.InvalidValueError),
        (good, float("nan"), "COMPLETE", bt.InvalidValueError),
        (good, 10**400, None, bt.InvalidValueError),
        (good, "1.0", None, bt.InvalidValueError),
        (good, 1.0, "RUNNING", bt.InvalidValueError),
    ]:
        with pytest.raises(error):
            study.add_trial(params, value, state)
    assert study.trials == []
    assert study.add_trial(good, 1.0).state is TrialState.COMPLETE
