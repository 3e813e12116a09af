"""The Study: the public ask/tell contract, enqueue, best_*, and the optimize loop."""

from __future__ import annotations

import math
import textwrap
import threading
import time

import numpy as np
import pytest
import torch

import bayestune as bt
from bayestune.samplers import GridSampler, RandomSampler, SobolSampler
from bayestune.trial import TrialState

# The code block of the issue, verbatim: this public contract must hold exactly.
CONTRACT = textwrap.dedent('''
    import bayestune as bt

    space = bt.Space({
        "lr": bt.Float(1e-5, 1.0, log=True),
        "momentum": bt.Float(0.0, 0.99),
        "dropout": bt.Float(0.0, 0.6),
        "weight_decay": bt.Float(1e-7, 1e-1, log=True),
        "batch_size": bt.Int(8, 1024, log=True),
        "optimizer": bt.Categorical(["sgd", "adam", "rmsprop"]),
    })
    study = bt.Study(space, direction="minimize", seed=0)
    for _ in range(40):
        trial = study.ask()               # trial.number, trial.params (a dict of plain Python values)
        loss = train(**trial.params)      # may be nan or inf when training diverged
        study.tell(trial, loss)           # nan/inf/None record a FAILED trial, never an error
    print(study.best_params, study.best_value, study.best_trial)
''')

PLAIN = (float, int, str, bool, type(None))


def _good(space: bt.Space) -> dict:
    return space.decode([0.5] * len(space))


def _dl_params(**change):
    return {"lr": 1e-3, "momentum": 0.9, "dropout": 0.1, "weight_decay": 1e-4,
            "batch_size": 64, "optimizer": "adam", **change}


# -- the public contract ---------------------------------------------------------------


@pytest.mark.slow
def test_the_issue_code_block_runs_as_written(train, capsys):
    ns: dict = {"train": train}
    exec(compile(CONTRACT, "<contract>", "exec"), ns)
    study = ns["study"]
    out = capsys.readouterr().out
    assert str(study.best_value) in out
    assert len(study.trials) == 40
    states = {t.state for t in study.trials}
    assert states <= {TrialState.COMPLETE, TrialState.FAILED}
    # the fake train diverges for lr > 0.3: those trials are FAILED, never an error
    for t in study.trials:
        expect_fail = t.params["lr"] > 0.3
        assert (t.state is TrialState.FAILED) == expect_fail, t
        assert t.datetime_start is not None and t.datetime_complete is not None
    best = study.best_trial
    assert best.state is TrialState.COMPLETE
    assert study.best_value == min(t.value for t in study.trials if t.value is not None)
    assert study.best_params == dict(best.params)
    assert all(type(v) in PLAIN for v in study.best_params.values())
    assert isinstance(study.best_params["batch_size"], int)


def test_ask_returns_numbered_trials_with_plain_python_params(dl_space):
    study = bt.Study(dl_space, sampler=RandomSampler(seed=0))
    trials = [study.ask() for _ in range(3)]
    assert [t.number for t in trials] == [0, 1, 2]
    for t in trials:
        assert isinstance(t.params, dict)
        assert list(t.params) == list(dl_space.names)
        assert type(t.params["batch_size"]) is int
        assert type(t.params["lr"]) is float and type(t.params["optimizer"]) is str
        assert dl_space.contains(t.params)
    running = study.trials
    assert all(t.state is TrialState.RUNNING for t in running)


def test_trials_hold_state_value_params_and_timestamps(random_study):
    a, b = random_study.ask(), random_study.ask()
    random_study.tell(a, 0.5)
    random_study.tell(b, float("nan"))
    ta, tb = random_study.trials
    assert (ta.state, ta.value, dict(ta.params)) == (TrialState.COMPLETE, 0.5, a.params)
    assert (tb.state, tb.value) == (TrialState.FAILED, None)
    assert ta.datetime_start <= ta.datetime_complete
    assert ta.duration >= 0.0


# -- tell ----------------------------------------------------------------------------------


def test_tell_by_number(random_study):
    trial = random_study.ask()
    rec = random_study.tell(trial.number, 1.25)
    assert rec.state is TrialState.COMPLETE and rec.value == 1.25
    assert random_study.best_value == 1.25


def test_tell_by_numpy_number(random_study):
    trial = random_study.ask()
    assert random_study.tell(np.int64(trial.number), 2.0).value == 2.0


@pytest.mark.parametrize("state", [bt.TrialState.FAILED, "FAILED", "failed"])
def test_tell_with_state_failed(random_study, state):
    trial = random_study.ask()
    rec = random_study.tell(trial, state=state)
    assert rec.state is TrialState.FAILED and rec.value is None
    with pytest.raises(bt.NoCompletedTrialsError):
        random_study.best_value  # noqa: B018


def test_tell_failed_ignores_the_value_and_keeps_the_reason(random_study):
    trial = random_study.ask()
    rec = random_study.tell(trial, "garbage", state="FAILED", reason="CUDA out of memory")
    assert rec.state is TrialState.FAILED and rec.value is None
    assert rec.fail_reason == "CUDA out of memory"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), None,
                                   np.nan, np.float32("inf"), torch.tensor(float("nan"))])
def test_nan_inf_and_none_record_a_failed_trial_never_an_error(random_study, value):
    trial = random_study.ask()
    rec = random_study.tell(trial, value)
    assert rec.state is TrialState.FAILED
    assert rec.value is None
    assert rec.fail_reason  # says what the objective returned


def test_a_failed_trial_does_not_count_for_best(random_study):
    a, b = random_study.ask(), random_study.ask()
    random_study.tell(a, -float("inf"))  # "better" than anything, but it diverged
    random_study.tell(b, 3.0)
    assert random_study.best_value == 3.0
    assert random_study.best_trial.number == b.number


def test_tell_twice_is_an_error_naming_the_trial(random_study):
    trial = random_study.ask()
    random_study.tell(trial, 1.0)
    with pytest.raises(bt.TrialAlreadyFinishedError) as info:
        random_study.tell(trial, 2.0)
    assert f"trial {trial.number}" in str(info.value)
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(bt.TrialAlreadyFinishedError):
        random_study.tell(trial.number, state="FAILED")
    assert random_study.get_trial(trial.number).value == 1.0  # the first tell stands


def test_tell_a_failed_trial_again_is_an_error(random_study):
    trial = random_study.ask()
    random_study.tell(trial, float("nan"))
    with pytest.raises(bt.TrialAlreadyFinishedError):
        random_study.tell(trial, 1.0)


@pytest.mark.parametrize("number", [1, 99, -1])
def test_tell_an_unknown_trial_number_is_an_error_naming_it(random_study, number):
    random_study.ask()
    with pytest.raises(bt.UnknownTrialError) as info:
        random_study.tell(number, 1.0)
    assert str(number) in str(info.value)
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize("bad", ["7", 1.0, None, [0]])
def test_tell_needs_a_trial_or_an_int(random_study, bad):
    random_study.ask()
    with pytest.raises(bt.InvalidValueError) as info:
        random_study.tell(bad, 1.0)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(("value", "named"), [
    ("0.5", "'0.5'"),
    ("nan", "'nan'"),
    (True, "True"),
    ([0.5], "[0.5]"),
    ({"loss": 0.5}, "{'loss': 0.5}"),
    (torch.tensor([0.5, 0.6]), "(2,)"),
    (torch.ones(3, 2), "(3, 2)"),
    (np.array([0.5, 0.6]), "(2,)"),
])
def test_tell_a_value_that_is_not_a_number_is_an_error_naming_it(random_study, value, named):
    trial = random_study.ask()
    with pytest.raises(bt.InvalidValueError) as info:
        random_study.tell(trial, value)
    assert named in str(info.value)
    assert isinstance(info.value, ValueError)
    # the trial is untouched: the caller can fix the value and tell again
    assert random_study.get_trial(trial.number).state is TrialState.RUNNING
    assert random_study.tell(trial, 0.5).state is TrialState.COMPLETE


@pytest.mark.parametrize("value", [torch.tensor(0.25), torch.tensor([0.25]),
                                   torch.tensor([[0.25]], requires_grad=True),
                                   np.array(0.25), np.array([0.25]), np.float32(0.25)])
def test_tell_accepts_one_element_tensors_and_arrays(random_study, value):
    trial = random_study.ask()
    rec = random_study.tell(trial, value)
    assert rec.value == 0.25 and type(rec.value) is float


def test_tell_with_an_unknown_state_names_it(random_study):
    trial = random_study.ask()
    with pytest.raises(bt.InvalidValueError, match="'DONE'"):
        random_study.tell(trial, 1.0, state="DONE")
    with pytest.raises(bt.InvalidValueError, match="RUNNING"):
        random_study.tell(trial, 1.0, state="RUNNING")


def test_tell_complete_needs_a_finite_value(random_study):
    trial = random_study.ask()
    with pytest.raises(bt.InvalidValueError, match="nan"):
        random_study.tell(trial, float("nan"), state="COMPLETE")
    assert random_study.tell(trial, 1.0, state="COMPLETE").value == 1.0


def test_tell_pruned_takes_the_last_intermediate_value(random_study):
    trial = random_study.ask()
    trial.report(0, 3.0)
    trial.report(5, 2.0)
    rec = random_study.tell(trial, state="PRUNED")
    assert rec.state is TrialState.PRUNED and rec.value == 2.0
    with pytest.raises(bt.NoCompletedTrialsError):
        random_study.best_trial  # noqa: B018  (a pruned trial is not a completed one)


# -- direction and best_* ----------------------------------------------------------------


def test_best_before_any_completion_is_an_error(random_study):
    for attr in ("best_trial", "best_value", "best_params"):
        with pytest.raises(bt.NoCompletedTrialsError, match="no completed trial"):
            getattr(random_study, attr)
    random_study.tell(random_study.ask(), float("nan"))
    with pytest.raises(bt.NoCompletedTrialsError):
        random_study.best_value  # noqa: B018
    with pytest.raises(ValueError):  # also a ValueError for code that knows no bayestune
        random_study.best_params  # noqa: B018


@pytest.mark.parametrize(("direction", "best"), [("minimize", 1.0), ("maximize", 5.0)])
def test_direction_decides_the_best_trial(small_space, direction, best):
    study = bt.Study(small_space, direction=direction, sampler=RandomSampler(seed=1))
    for v in (3.0, 1.0, 5.0, 2.0):
        study.tell(study.ask(), v)
    assert study.best_value == best
    assert study.direction == direction


def test_best_trial_is_the_first_on_ties(random_study):
    for v in (2.0, 1.0, 1.0):
        random_study.tell(random_study.ask(), v)
    assert random_study.best_trial.number == 1


@pytest.mark.parametrize("bad", ["max", "minimise", "", None, 0])
def test_unknown_direction_is_an_error_naming_it(small_space, bad):
    with pytest.raises(bt.InvalidValueError) as info:
        bt.Study(small_space, direction=bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"seed": "0"}, "seed='0'"),
    ({"seed": 1.5}, "seed=1.5"),
    ({"seed": True}, "seed=True"),
    ({"sampler": "gp"}, "'gp'"),
    ({"pruner": "median"}, "'median'"),
    ({"name": ""}, "''"),
])
def test_bad_study_arguments_are_named(small_space, kwargs, named):
    with pytest.raises(bt.InvalidValueError) as info:
        bt.Study(small_space, **kwargs)
    assert named in str(info.value)


def test_study_needs_a_space():
    with pytest.raises(bt.InvalidValueError, match="space"):
        bt.Study({"x": bt.Float(0, 1)})  # type: ignore[arg-type]


def test_default_sampler_is_the_gp_sampler(small_space):
    study = bt.Study(small_space, seed=3)
    assert isinstance(study.sampler, bt.samplers.GPSampler)
    assert study.sampler.seed == 3


# -- enqueue ---------------------------------------------------------------------------------


def test_enqueued_configurations_come_first_in_order(dl_space):
    study = bt.Study(dl_space, sampler=RandomSampler(seed=0))
    first = _dl_params(lr=1e-2, optimizer="sgd")
    second = _dl_params(lr=3e-4)
    n1, n2 = study.enqueue(first), study.enqueue(second)
    assert (n1, n2) == (0, 1)
    assert [t.state for t in study.trials] == [TrialState.WAITING] * 2
    a, b, c = study.ask(), study.ask(), study.ask()
    assert (a.number, a.params) == (0, first)
    assert (b.number, b.params) == (1, second)
    assert c.number == 2 and c.params not in (first, second)


def test_enqueue_after_sampled_trials_still_goes_first(small_space):
    study = bt.Study(small_space, sampler=RandomSampler(seed=0))
    study.tell(study.ask(), 1.0)
    n = study.enqueue({"x": 0.0, "n": 5, "c": "b"})
    trial = study.ask()
    assert trial.number == n and trial.params == {"x": 0.0, "n": 5, "c": "b"}


def test_enqueue_with_the_default_sampler_and_defaults(dl_space, train):
    study = bt.Study(dl_space, seed=0)
    study.enqueue(_dl_params())
    trial = study.ask()
    assert trial.params == _dl_params()
    study.tell(trial, train(**trial.params))
    assert study.best_params == _dl_params()


def test_enqueue_casts_to_plain_values(dl_space):
    study = bt.Study(dl_space, sampler=RandomSampler(seed=0))
    study.enqueue(_dl_params(batch_size=np.int64(32), dropout=0, momentum=np.float32(0.5)))
    p = study.ask().params
    assert type(p["batch_size"]) is int and type(p["dropout"]) is float
    assert type(p["momentum"]) is float


@pytest.mark.parametrize(("params", "named"), [
    ({k: v for k, v in _dl_params().items() if k != "lr"}, "'lr'"),
    (_dl_params(learning_rate=1e-3), "'learning_rate'"),
    (_dl_params(lr=10.0), "lr=10.0"),
    (_dl_params(lr=0.0), "lr=0.0"),
    (_dl_params(batch_size=2048), "batch_size=2048"),
    (_dl_params(batch_size=32.5), "batch_size=32.5"),
    (_dl_params(optimizer="adamw"), "optimizer='adamw'"),
    (_dl_params(momentum=float("nan")), "momentum=nan"),
])
def test_enqueue_bad_configuration_is_an_error_naming_the_parameter(dl_space, params, named):
    study = bt.Study(dl_space, sampler=RandomSampler(seed=0))
    with pytest.raises(bt.InvalidParamError) as info:
        study.enqueue(params)
    assert named in str(info.value)
    assert isinstance(info.value, ValueError)
    assert study.trials == []  # nothing was queued


# -- add_trial ---------------------------------------------------------------------------------


def test_add_trial_records_an_evaluation_done_elsewhere(small_space):
    study = bt.Study(small_space, sampler=RandomSampler(seed=0))
    rec = study.add_trial({"x": 0.1, "n": 2, "c": "a"}, 0.75)
    failed = study.add_trial({"x": 0.2, "n": 3, "c": "b"}, float("nan"))
    assert rec.state is TrialState.COMPLETE and rec.value == 0.75
    assert failed.state is TrialState.FAILED
    assert study.best_params == {"x": 0.1, "n": 2, "c": "a"}
    assert study.ask().number == 2


def test_add_trial_with_a_bad_value_leaves_no_trial_behind(small_space):
    study = bt.Study(small_space, sampler=RandomSampler(seed=0))
    with pytest.raises(bt.InvalidValueError, match="'high'"):
        study.add_trial({"x": 0.1, "n": 2, "c": "a"}, "high")
    with pytest.raises(bt.InvalidValueError):
        study.add_trial({"x": 0.1, "n": 2, "c": "a"}, None, state="COMPLETE")
    with pytest.raises(bt.InvalidParamError, match="'zz'"):
        study.add_trial({"x": 0.1, "n": 2, "c": "zz"}, 1.0)
    assert study.trials == []


# -- several asks before any tell -----------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: RandomSampler(seed=0), lambda: SobolSampler(seed=0),
    lambda: GridSampler(seed=0), lambda: bt.samplers.GPSampler(seed=0),
])
def test_several_asks_before_any_tell_give_distinct_configurations(dl_space, make):
    study = bt.Study(dl_space, sampler=make())
    pending = [study.ask() for _ in range(6)]
    keys = {tuple(sorted(t.params.items())) for t in pending}
    assert len(keys) == 6
    assert all(dl_space.contains(t.params) for t in pending)
    for t in pending:  # told out of order
        study.tell(t.number if t.number % 2 else t, float(t.number))
    assert study.best_value == 0.0


@pytest.mark.parametrize("make", [
    lambda: RandomSampler(seed=0), lambda: SobolSampler(seed=0),
    lambda: bt.samplers.GPSampler(seed=0),
])
def test_several_asks_after_some_history_give_distinct_configurations(small_space, make):
    study = bt.Study(small_space, sampler=make())
    for _ in range(12):
        t = study.ask()
        study.tell(t, (t.params["x"] - 0.3) ** 2 + 0.01 * t.params["n"])
    pending = [study.ask() for _ in range(4)]
    told = {tuple(sorted(t.params.items())) for t in study.trials if t.state.is_finished}
    keys = {tuple(sorted(t.params.items())) for t in pending}
    assert len(keys) == 4
    assert not keys & told


# -- degenerate histories: ask() never raises ------------------------------------------------


def _history(kind: str):
    if kind == "none":
        return []
    if kind == "one":
        return [({"x": 0.5, "n": 3, "c": "a"}, 1.0)]
    if kind == "all_failed":
        return [({"x": x, "n": 3, "c": "a"}, float("nan")) for x in (-0.5, 0.0, 0.5)]
    if kind == "all_equal":
        return [({"x": x, "n": n, "c": "b"}, 2.0) for x, n in ((-0.5, 1), (0.0, 4), (0.5, 9))]
    if kind == "duplicates":
        return [({"x": 0.25, "n": 2, "c": "c"}, v) for v in (1.0, 1.5, 1.0, 0.5)]
    if kind == "huge":
        return [({"x": x, "n": 2, "c": "a"}, v) for x, v in
                ((-0.9, 1e12), (-0.3, 0.1), (0.2, 0.2), (0.8, 1e12))]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["none", "one", "all_failed", "all_equal", "duplicates",
                                  "huge"])
@pytest.mark.parametrize("make", [
    lambda: RandomSampler(seed=0), lambda: SobolSampler(seed=0),
    lambda: GridSampler(seed=0), lambda: bt.samplers.GPSampler(seed=0),
])
def test_ask_never_raises_on_a_degenerate_history(small_space, kind, make):
    study = bt.Study(small_space, sampler=make())
    for params, value in _history(kind):
        study.add_trial(params, value)
    for _ in range(2):
        trial = study.ask()
        assert small_space.contains(trial.params)


# -- optimize ------------------------------------------------------------------------------


def _objective(trial):
    return (trial.params["x"] - 0.3) ** 2 + 0.1 * trial.params["n"]


def test_optimize_runs_n_trials(random_study):
    random_study.optimize(_objective, n_trials=7)
    assert len(random_study.trials) == 7
    assert all(t.state is TrialState.COMPLETE for t in random_study.trials)
    random_study.optimize(_objective, n_trials=3)  # continues the same study
    assert len(random_study.trials) == 10


def test_optimize_zero_trials_does_nothing(random_study):
    random_study.optimize(_objective, n_trials=0)
    assert random_study.trials == []


def test_optimize_stops_at_the_timeout(random_study):
    def slow(trial):
        time.sleep(0.05)
        return 1.0

    start = time.monotonic()
    random_study.optimize(slow, timeout=0.3)
    elapsed = time.monotonic() - start
    assert 2 <= len(random_study.trials) <= 8
    assert elapsed < 2.0
    assert all(t.state.is_finished for t in random_study.trials)


def test_optimize_timeout_and_n_trials_whichever_comes_first(random_study):
    random_study.optimize(_objective, n_trials=4, timeout=60)
    assert len(random_study.trials) == 4


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"n_trials": -1}, "-1"), ({"n_trials": 2.5}, "2.5"), ({"n_trials": True}, "True"),
    ({"timeout": -0.5}, "-0.5"), ({"timeout": "10"}, "'10'"),
])
def test_optimize_bad_budget_is_named(random_study, kwargs, named):
    with pytest.raises(bt.InvalidValueError) as info:
        random_study.optimize(_objective, **kwargs)
    assert named in str(info.value)
    assert random_study.trials == []


def test_optimize_needs_a_callable(random_study):
    with pytest.raises(bt.InvalidValueError, match="callable"):
        random_study.optimize("train", n_trials=1)  # type: ignore[arg-type]


def test_an_exception_in_the_objective_marks_the_trial_failed_and_the_loop_goes_on(
        random_study, caplog):
    def flaky(trial):
        if trial.number % 2 == 0:
            raise RuntimeError(f"CUDA out of memory in trial {trial.number}")
        return 1.0

    random_study.optimize(flaky, n_trials=6, catch=(Exception,))
    states = [t.state for t in random_study.trials]
    assert states == [TrialState.FAILED, TrialState.COMPLETE] * 3
    failed = random_study.trials[0]
    assert "RuntimeError" in failed.fail_reason and "out of memory" in failed.fail_reason
    assert "trial 0 failed" in caplog.text


def test_catch_defaults_to_every_exception(random_study):
    def boom(trial):
        raise ValueError("bad")

    random_study.optimize(boom, n_trials=3)
    assert [t.state for t in random_study.trials] == [TrialState.FAILED] * 3


@pytest.mark.parametrize("catch", [ValueError, (ValueError,), [ValueError, KeyError]])
def test_catch_accepts_one_class_or_several(random_study, catch):
    def boom(trial):
        raise ValueError("bad")

    random_study.optimize(boom, n_trials=2, catch=catch)
    assert len(random_study.trials) == 2


def test_an_exception_not_caught_propagates_and_the_trial_is_recorded_failed(random_study):
    def boom(trial):
        if trial.number == 2:
            raise KeyError("missing batch")
        return 1.0

    with pytest.raises(KeyError, match="missing batch"):
        random_study.optimize(boom, n_trials=10, catch=(ValueError,))
    trials = random_study.trials
    assert len(trials) == 3
    assert trials[2].state is TrialState.FAILED
    assert "KeyError" in trials[2].fail_reason
    assert all(t.state.is_finished for t in trials)  # nothing left RUNNING


def test_keyboard_interrupt_propagates_and_the_trial_is_recorded_failed(random_study):
    def interrupted(trial):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        random_study.optimize(interrupted, n_trials=5)
    assert [t.state for t in random_study.trials] == [TrialState.FAILED]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), None])
def test_an_objective_returning_nan_inf_or_none_records_failed(random_study, value):
    random_study.optimize(lambda t: value, n_trials=2)
    assert [t.state for t in random_study.trials] == [TrialState.FAILED] * 2


def test_an_objective_returning_a_string_is_an_error(random_study):
    with pytest.raises(bt.InvalidValueError, match="'oops'"):
        random_study.optimize(lambda t: "oops", n_trials=2)


def test_an_objective_returning_a_one_element_tensor_is_accepted(random_study):
    random_study.optimize(lambda t: torch.tensor([t.params["x"] ** 2]), n_trials=3)
    assert all(t.state is TrialState.COMPLETE for t in random_study.trials)


def test_trial_pruned_ends_the_trial_as_pruned(random_study):
    def objective(trial):
        trial.report(0, 5.0)
        raise bt.TrialPruned("loss too high at step 0")

    random_study.optimize(objective, n_trials=2)
    rec = random_study.trials[0]
    assert rec.state is TrialState.PRUNED and rec.value == 5.0


def test_an_objective_may_tell_its_trial_itself(random_study):
    def objective(trial):
        trial.study.tell(trial, 0.125)
        return 99.0  # ignored: the trial is already told

    random_study.optimize(objective, n_trials=2)
    assert [t.value for t in random_study.trials] == [0.125, 0.125]


def test_callbacks_see_every_finished_trial(random_study):
    seen = []

    def cb(study, trial):
        assert study is random_study
        seen.append((trial.number, trial.state))

    def objective(trial):
        return float("nan") if trial.number == 1 else 1.0

    random_study.optimize(objective, n_trials=4, callbacks=[cb, lambda s, t: None])
    assert seen == [(0, TrialState.COMPLETE), (1, TrialState.FAILED),
                    (2, TrialState.COMPLETE), (3, TrialState.COMPLETE)]


def test_study_stop_from_a_callback_ends_the_loop(random_study):
    def stop_when_good(study, trial):
        if trial.value is not None and trial.value < 10.0 and trial.number >= 2:
            study.stop()

    random_study.optimize(lambda t: float(t.number), n_trials=100, callbacks=[stop_when_good])
    assert len(random_study.trials) == 3
    random_study.optimize(lambda t: 1.0, n_trials=2)  # the stop flag does not stick
    assert len(random_study.trials) == 5


def test_show_progress_bar_draws_a_tqdm_bar(random_study, capsys):
    random_study.optimize(_objective, n_trials=3, show_progress_bar=True)
    err = capsys.readouterr().err
    assert "3/3" in err
    assert "best=" in err


def test_no_progress_bar_by_default(random_study, capsys):
    random_study.optimize(_objective, n_trials=3)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_bar_with_no_completed_trial_and_no_budget(random_study, capsys):
    def stop_after_two(study, trial):
        if trial.number == 1:
            study.stop()

    random_study.optimize(lambda t: None, show_progress_bar=True, callbacks=[stop_after_two])
    assert "2" in capsys.readouterr().err
    assert len(random_study.trials) == 2


def test_optimize_with_enqueued_configurations_evaluates_them_first(small_space):
    study = bt.Study(small_space, sampler=RandomSampler(seed=0))
    study.enqueue({"x": 0.3, "n": 1, "c": "a"})
    study.optimize(_objective, n_trials=3)
    assert study.trials[0].params == {"x": 0.3, "n": 1, "c": "a"}
    assert study.best_params == {"x": 0.3, "n": 1, "c": "a"}


def test_maximize_with_optimize(small_space):
    study = bt.Study(small_space, "maximize", sampler=RandomSampler(seed=0))
    study.optimize(lambda t: -abs(t.params["x"]), n_trials=10)
    assert study.best_value == max(t.value for t in study.trials)
    assert study.best_value <= 0.0


def test_grid_sampler_exhausts_and_optimize_stops(small_space):
    grid = {"x": [-1.0, 1.0], "n": [1, 10]}
    study = bt.Study(small_space, sampler=GridSampler(grid, seed=0))
    study.optimize(_objective, n_trials=100)
    assert len(study.trials) == 2 * 2 * 3
    keys = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(keys) == 12


def test_same_seed_same_suggestions(dl_space, train):
    runs = []
    for _ in range(2):
        study = bt.Study(dl_space, sampler=RandomSampler(seed=7))
        for _ in range(5):
            t = study.ask()
            study.tell(t, train(**t.params))
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


def test_get_trials_by_state_and_get_trial(random_study):
    a, b, c = random_study.ask(), random_study.ask(), random_study.ask()
    random_study.tell(a, 1.0)
    random_study.tell(b, None)
    assert [t.number for t in random_study.get_trials(["COMPLETE"])] == [a.number]
    assert [t.number for t in random_study.get_trials([TrialState.FAILED])] == [b.number]
    assert [t.number for t in random_study.get_trials(["running"])] == [c.number]
    assert len(random_study.get_trials()) == 3
    assert random_study.get_trial(c.number).state is TrialState.RUNNING


def test_repr_names_the_study(random_study):
    random_study.tell(random_study.ask(), 1.0)
    assert "n_trials=1" in repr(random_study) and "RandomSampler" in repr(random_study)


def test_best_value_is_finite_float(random_study):
    random_study.optimize(_objective, n_trials=5)
    assert isinstance(random_study.best_value, float)
    assert math.isfinite(random_study.best_value)


# -- a trial belongs to its study ------------------------------------------------------------
def _two_studies(small_space, storage_a, storage_b):
    a = bt.Study(small_space, storage=storage_a, name="a", sampler=RandomSampler(seed=0))
    b = bt.Study(small_space, storage=storage_b, name="b", sampler=RandomSampler(seed=1))
    return a, b


@pytest.mark.parametrize("where", ["memory", "one sqlite file", "two sqlite files"])
@pytest.mark.parametrize("handle", ["Trial", "FrozenTrial"])
def test_telling_a_trial_of_another_study_is_an_error_naming_both(small_space, tmp_path, where,
                                                                  handle):
    if where == "memory":
        a, b = _two_studies(small_space, None, None)
    elif where == "one sqlite file":
        url = f"sqlite:///{tmp_path / 'one.db'}"
        a, b = _two_studies(small_space, url, url)
    else:
        a, b = _two_studies(small_space, tmp_path / "a.db", tmp_path / "b.db")
    ta, tb = a.ask(), b.ask()
    assert ta.number == tb.number == 0
    foreign = ta if handle == "Trial" else a.get_trial(ta.number)
    for act in (lambda: b.tell(foreign, 7.0), lambda: b.report(foreign, 0, 1.0)):
        with pytest.raises(bt.UnknownTrialError) as info:
            act()
        assert "'a'" in str(info.value) and "'b'" in str(info.value)
    # nothing was written to either study
    assert b.get_trial(0).state is TrialState.RUNNING and not b.get_trial(0).intermediate_values
    assert a.get_trial(0).state is TrialState.RUNNING
    # each study takes its own trial, by handle, record or number
    assert a.tell(foreign, 1.0).value == 1.0
    assert b.tell(tb, 2.0).value == 2.0


def test_the_same_study_opened_twice_takes_its_trials_from_either_object(small_space,
                                                                         tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = bt.Study(small_space, storage=url, name="s", sampler=RandomSampler(seed=0))
    second = bt.load_study(str(tmp_path / "s.db"), "s")  # another path to the same file
    t = first.ask()
    assert second.tell(t, 1.0).value == 1.0
    u = second.ask()
    assert first.tell(second.get_trial(u.number), 2.0).value == 2.0


# -- values too large for a float --------------------------------------------------------------
@pytest.mark.parametrize("value", [10**400, -(10**400)], ids=["10**400", "-10**400"])
def test_telling_a_value_too_large_for_a_float_is_an_error_naming_it(random_study, value):
    trial = random_study.ask()
    with pytest.raises(bt.InvalidValueError, match="too large") as info:
        random_study.tell(trial, value)
    assert str(value)[:20] in str(info.value)
    # refused like any bad value: the trial is untouched and can be told a number
    assert random_study.get_trial(trial.number).state is TrialState.RUNNING
    assert random_study.tell(trial, 1.0).state is TrialState.COMPLETE


@pytest.mark.parametrize("value", [10**400, "oops"], ids=["10**400", "oops"])
def test_optimize_records_a_value_it_cannot_tell_as_failed_with_the_reason(random_study,
                                                                           value):
    with pytest.raises(bt.InvalidValueError):
        random_study.optimize(lambda t: value, n_trials=3)
    (trial,) = random_study.trials
    assert trial.state is TrialState.FAILED
    assert str(value)[:20] in trial.fail_reason


# -- concurrent asks never take the same configuration ------------------------------------------
class _FirstFree(bt.samplers.base.Sampler):
    """Proposes the smallest ``n`` that no trial it is shown holds (as the GP never
    proposes a completed or pending point); waits on ``hold`` before returning."""

    def __init__(self, hold=None) -> None:
        self.seed = 0
        self.hold = hold

    def sample(self, space, trials, direction, number):
        taken = {t.params["n"] for t in trials if t.params}
        choice = min(set(range(10)) - taken)
        if self.hold is not None:
            hold, self.hold = self.hold, None
            hold()
        return bt.samplers.base.Suggestion({"n": choice})


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_two_workers_sampling_at_once_never_take_the_same_configuration(tmp_path, backend):
    # A reserves and samples; B reserves (A's trial has no params yet: B cannot plan
    # around it) and samples; A writes, then B: B's write must see A's configuration.
    space = bt.Space({"n": bt.Int(0, 9)})
    shared = bt.storage.InMemoryStorage() if backend == "memory" else None
    url = f"sqlite:///{tmp_path / 'w.db'}"
    steps = {k: threading.Event() for k in ("a sampled", "b sampled", "a may write",
                                            "b may write")}

    def holding(sampled, may_write):
        def hold():
            steps[sampled].set()
            assert steps[may_write].wait(30)
        return hold

    a = bt.Study(space, storage=shared or url, name="w",
                 sampler=_FirstFree(holding("a sampled", "a may write")))
    b = bt.Study(space, storage=shared or url, name="w", load_if_exists=True,
                 sampler=_FirstFree(holding("b sampled", "b may write")))
    asked = {}
    ta = threading.Thread(target=lambda: asked.update(a=a.ask()))
    tb = threading.Thread(target=lambda: asked.update(b=b.ask()))
    ta.start()
    assert steps["a sampled"].wait(30)
    tb.start()
    assert steps["b sampled"].wait(30)
    steps["a may write"].set()
    ta.join(30)
    steps["b may write"].set()
    tb.join(30)
    assert asked["a"].params == {"n": 0}
    assert asked["b"].params == {"n": 1}  # planned again around A's choice
    assert [t.params for t in a.trials] == [{"n": 0}, {"n": 1}]


def test_nested_asks_of_three_workers_never_take_the_same_configuration(tmp_path):
    # Each worker asks while the previous one samples (the newest writes first).
    space = bt.Space({"n": bt.Int(0, 9)})
    url = f"sqlite:///{tmp_path / 'w.db'}"
    c = bt.Study(space, storage=url, name="w", sampler=_FirstFree())
    b = bt.Study(space, storage=url, name="w", load_if_exists=True,
                 sampler=_FirstFree(lambda: c.ask()))
    a = bt.Study(space, storage=url, name="w", load_if_exists=True,
                 sampler=_FirstFree(lambda: b.ask()))
    a.ask()
    assert sorted(t.params["n"] for t in a.trials) == [0, 1, 2]
