"""Pruners: the median / percentile rule and asynchronous successive halving, their
agreement with Optuna's, and the epochs they save on a real (tiny) training task."""

from __future__ import annotations

import math

import numpy as np
import pytest
from dl_helpers import one_torch_thread  # noqa: F401  (fixture)

import bayestune as bt
from bayestune.pruners import (
    MedianPruner,
    NopPruner,
    PercentilePruner,
    SuccessiveHalvingPruner,
)
from bayestune.trial import FrozenTrial, TrialState


def done(number: int, curve: dict[int, float]) -> FrozenTrial:
    return FrozenTrial(number, TrialState.COMPLETE, {"x": 0.0}, value=curve[max(curve)],
                       intermediate_values=dict(curve))


def running(number: int, curve: dict[int, float]) -> FrozenTrial:
    return FrozenTrial(number, TrialState.RUNNING, {"x": 0.0}, intermediate_values=dict(curve))


def history(n: int, steps: int = 5) -> list[FrozenTrial]:
    """Completed trials whose curves at every step are 1, 2, ..., n (trial i: i + 1)."""
    return [done(i, {s: float(i + 1) for s in range(1, steps + 1)}) for i in range(n)]


def test_nop_never_prunes():
    t = running(9, {1: 1e9})
    assert not NopPruner().prune([*history(5), t], t, "minimize")


def test_median_prunes_a_trial_worse_than_the_median_at_its_step():
    trials = history(5)  # median 3 at every step
    worse, better = running(5, {1: 3.5}), running(5, {1: 2.5})
    p = MedianPruner(n_startup_trials=5)
    assert p.prune([*trials, worse], worse, "minimize")
    assert not p.prune([*trials, better], better, "minimize")


def test_median_judges_the_trials_best_value_so_far():
    trials = history(5)
    t = running(5, {1: 1.0, 2: 3.5})  # was good at step 1
    assert not MedianPruner(n_startup_trials=1).prune([*trials, t], t, "minimize")


def test_median_waits_for_startup_trials_and_warmup_steps():
    t = running(3, {1: 100.0, 2: 100.0})
    assert not MedianPruner(n_startup_trials=4).prune([*history(3), t], t, "minimize")
    assert MedianPruner(n_startup_trials=3).prune([*history(3), t], t, "minimize")
    assert not MedianPruner(n_startup_trials=3, n_warmup_steps=3).prune(
        [*history(3), t], t, "minimize")
    assert not MedianPruner().prune([running(0, {})], running(0, {}), "minimize")


def test_median_judges_once_per_interval():
    trials = history(5, steps=10)
    p = MedianPruner(n_startup_trials=1, n_warmup_steps=2, interval_steps=3)
    judged = []
    for step in range(1, 11):
        t = running(5, {s: 100.0 for s in range(1, step + 1)})
        judged.append(p.prune([*trials, t], t, "minimize"))
    assert judged == [False, True, False, False, True, False, False, True, False, False]


def test_median_needs_n_min_trials_at_the_step():
    trials = [*history(2), done(2, {1: 1.0})]  # only trials 0, 1 reach step 5
    t = running(3, {5: 100.0})
    assert MedianPruner(n_startup_trials=1, n_min_trials=2).prune([*trials, t], t, "minimize")
    assert not MedianPruner(n_startup_trials=1, n_min_trials=3).prune(
        [*trials, t], t, "minimize")


def test_maximize_flips_the_rule():
    trials = history(5)  # median 3
    low, high = running(5, {1: 2.5}), running(5, {1: 3.5})
    p = MedianPruner(n_startup_trials=1)
    assert p.prune([*trials, low], low, "maximize")
    assert not p.prune([*trials, high], high, "maximize")


def test_percentile_sets_how_many_go_on():
    trials = history(8)  # values 1..8
    t = running(8, {1: 3.0})
    assert PercentilePruner(25.0, n_startup_trials=1).prune([*trials, t], t, "minimize")
    assert not PercentilePruner(75.0, n_startup_trials=1).prune([*trials, t], t, "minimize")


def test_a_nan_curve_is_pruned():
    t = running(5, {1: math.nan})
    assert MedianPruner(n_startup_trials=1).prune([*history(5), t], t, "minimize")
    assert SuccessiveHalvingPruner(min_resource=1).prune([*history(5), t], t, "minimize")


def test_successive_halving_rungs_sit_at_powers_of_the_reduction_factor():
    p = SuccessiveHalvingPruner(min_resource=2, reduction_factor=3, min_early_stopping_rate=1)
    assert [p.rung_step(k, 2) for k in range(3)] == [6, 18, 54]


def test_successive_halving_keeps_the_top_fraction_at_each_rung():
    p = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    others = [done(i, {1: float(i), 2: float(i)}) for i in range(1, 8)]  # values 1..7
    # 8 competitors with the newcomer: the best 8 // 2 = 4 values go on
    ok, bad = running(8, {1: 4.0}), running(8, {1: 4.5})
    assert not p.prune([*others, ok], ok, "minimize")
    assert p.prune([*others, bad], bad, "minimize")
    assert not p.prune([*others, bad], bad, "maximize")


def test_successive_halving_judges_a_rung_only_when_first_reached():
    p = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    others = [done(i, {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}) for i in range(4)]
    # step 3 reaches no new rung (rungs at 1, 2, 4): not judged even though it is worst
    t = running(4, {1: 0.0, 2: 0.0, 3: 9.0})
    assert not p.prune([*others, t], t, "minimize")
    t = running(4, {1: 0.0, 2: 0.0, 3: 9.0, 4: 9.0})
    assert p.prune([*others, t], t, "minimize")


def test_successive_halving_auto_resource_waits_for_a_completed_trial():
    p = SuccessiveHalvingPruner()  # auto
    t = running(1, {1: 9.0})
    assert not p.prune([running(0, {1: 0.0}), t], t, "minimize")
    trials = [done(0, {s: 0.0 for s in range(1, 301)}), t]  # 300 steps -> rungs at 3, 12, ..
    assert not p.prune(trials, t, "minimize")  # step 1 < 3
    t3 = running(1, {1: 9.0, 2: 9.0, 3: 9.0})
    assert p.prune([trials[0], t3], t3, "minimize")


def test_successive_halving_bootstrap_count_follows_optuna():
    p = SuccessiveHalvingPruner(min_resource=1, bootstrap_count=2)
    t = running(1, {1: 0.0})
    assert p.prune([done(0, {1: 5.0}), t], t, "minimize")  # 2 competitors <= 2
    assert not p.prune([done(0, {1: 5.0}), done(2, {1: 6.0}), t], t, "minimize")


@pytest.mark.parametrize("make, bad", [
    (lambda: PercentilePruner(101.0), "percentile"),
    (lambda: MedianPruner(n_startup_trials=-1), "n_startup_trials"),
    (lambda: MedianPruner(interval_steps=0), "interval_steps"),
    (lambda: MedianPruner(n_warmup_steps=1.5), "n_warmup_steps"),
    (lambda: MedianPruner(n_min_trials=0), "n_min_trials"),
    (lambda: SuccessiveHalvingPruner(min_resource=0), "min_resource"),
    (lambda: SuccessiveHalvingPruner(min_resource="fast"), "min_resource"),
    (lambda: SuccessiveHalvingPruner(reduction_factor=1), "reduction_factor"),
    (lambda: SuccessiveHalvingPruner(bootstrap_count=-2), "bootstrap_count"),
])
def test_bad_arguments_raise_a_typed_error_naming_them(make, bad):
    with pytest.raises(bt.InvalidValueError, match=bad):
        make()


def test_settings_are_recorded_with_the_study():
    space = bt.Space({"x": bt.Float(0.0, 1.0)})
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0),
                     pruner=SuccessiveHalvingPruner(min_resource=2, reduction_factor=3))
    settings = study.storage.get_study(study.name).settings["pruner"]
    assert settings == {"name": "SuccessiveHalvingPruner", "min_resource": 2,
                        "reduction_factor": 3, "min_early_stopping_rate": 0,
                        "bootstrap_count": 0}
    assert MedianPruner(3, 1).to_dict() == {"name": "MedianPruner", "n_startup_trials": 3,
                                            "n_warmup_steps": 1, "interval_steps": 1,
                                            "n_min_trials": 1}


# -- agreement with Optuna ----------------------------------------------------------------
def _simulate(make_ours, make_theirs, curves, direction):
    """Run the same trials one after the other in both libraries, asking after every
    report; return both lists of (trial, step at which it stopped or None)."""
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ours = bt.Study(bt.Space({"x": bt.Float(0.0, 1.0)}), direction,
                    sampler=bt.samplers.RandomSampler(seed=0), pruner=make_ours())
    theirs = optuna.create_study(direction=direction, pruner=make_theirs(optuna),
                                 sampler=optuna.samplers.RandomSampler(seed=0))
    stopped = ([], [])
    for curve in curves:
        a, b = ours.ask(), theirs.ask()
        b.suggest_float("x", 0.0, 1.0)
        sa = sb = None
        for step, v in enumerate(curve, start=1):
            if sa is None:
                a.report(step, v)
                if a.should_prune():
                    sa = step
            if sb is None:
                b.report(v, step)
                if b.should_prune():
                    sb = step
        ours.tell(a, curve[-1], state="PRUNED" if sa else None)
        theirs.tell(b, curve[-1] if sb is None else None,
                    state=optuna.trial.TrialState.PRUNED if sb else None)
        stopped[0].append(sa)
        stopped[1].append(sb)
    return stopped


def _curves(seed, n=40, steps=20):
    rng = np.random.default_rng(seed)
    level = rng.lognormal(0.0, 0.5, size=n)
    rate = rng.uniform(0.02, 0.3, size=n)
    noise = rng.normal(0.0, 0.03, size=(n, steps))
    t = np.arange(1, steps + 1)
    return (level[:, None] * (0.3 + np.exp(-rate[:, None] * t)) + noise).tolist()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_median_pruner_decides_as_optunas(seed, direction):
    ours, theirs = _simulate(
        lambda: MedianPruner(n_startup_trials=4, n_warmup_steps=2, interval_steps=2),
        lambda o: o.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2,
                                         interval_steps=2),
        _curves(seed), direction)
    assert ours == theirs
    assert sum(s is not None for s in ours) >= 10  # the comparison prunes something


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("rf, rate", [(2, 0), (3, 1), (4, 0)])
def test_successive_halving_decides_as_optunas(seed, direction, rf, rate):
    ours, theirs = _simulate(
        lambda: SuccessiveHalvingPruner(min_resource=1, reduction_factor=rf,
                                        min_early_stopping_rate=rate),
        lambda o: o.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=rf,
                                                    min_early_stopping_rate=rate),
        _curves(seed), direction)
    assert ours == theirs
    assert sum(s is not None for s in ours) >= 10


# -- the saving on a real task --------------------------------------------------------------
def _epochs(study: bt.Study) -> int:
    return sum(len(t.intermediate_values) for t in study.trials)


@pytest.mark.slow
def test_pruning_cuts_training_epochs_by_30_percent_without_a_worse_best_on_digits():
    """The same 16 random configurations (RandomSampler: trial n's draw depends only on
    the seed and n) trained on digits without and with pruning."""
    pytest.importorskip("sklearn")
    import torch  # noqa: PLC0415
    from dl_helpers import digits, mlp  # noqa: PLC0415

    Xtr, ytr, Xva, yva = digits()
    space = bt.presets.deep_learning_space("adam", batch_sizes=(32, 64, 128))

    def objective(seed=0):
        return bt.training.TorchObjective(mlp, (Xtr, ytr), (Xva, yva),
                                          torch.nn.CrossEntropyLoss(), epochs=8,
                                          device="cpu", seed=seed)

    def run(pruner):
        study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0), pruner=pruner)
        study.optimize(objective(), n_trials=16)
        return study

    full = run(NopPruner())
    assert _epochs(full) == 16 * 8
    # noise: the spread of the best configuration's value over training seeds
    again = [objective(seed).run(full.best_params).value for seed in (1, 2, 3)]
    noise = 2.0 * float(np.std(again))
    for pruner in (MedianPruner(n_startup_trials=4, n_warmup_steps=1),
                   SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)):
        pruned = run(pruner)
        assert _epochs(pruned) <= 0.7 * _epochs(full), type(pruner).__name__
        assert pruned.best_value <= full.best_value + noise, type(pruner).__name__
        assert any(t.state is TrialState.PRUNED for t in pruned.trials)
