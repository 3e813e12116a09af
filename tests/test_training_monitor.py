"""The health monitor inside the torch adapter: what it records per epoch, into storage,
and the flags it raises on tiny digits models with learning rates chosen to trigger
(and not trigger) each one."""

from __future__ import annotations

import functools
import logging
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn

import bayestune as bt
from bayestune.diagnostics import HealthMonitor
from bayestune.training import Callback, TorchObjective

pytest.importorskip("sklearn")
from dl_helpers import digits, mlp, one_torch_thread  # noqa: E402, F401

CE = nn.CrossEntropyLoss()


def objective(n_train=600, hidden=32, optimizer="adam", lr=3e-3, epochs=4, **kw):
    """The adapter on a digits subset; its monitor measures every epoch (no time budget,
    so that a loaded test machine cannot space the measurements out)."""
    Xtr, ytr, Xva, yva = digits()
    kw.setdefault("device", "cpu")
    kw.setdefault("health", HealthMonitor(budget=None))
    return TorchObjective(functools.partial(mlp, hidden=hidden), (Xtr[:n_train], ytr[:n_train]),
                          (Xva[:300], yva[:300]), kw.pop("loss_fn", CE), epochs=epochs,
                          defaults={"optimizer": optimizer, "lr": lr, "batch_size": 32}, **kw)


def monitor_of(obj: TorchObjective) -> HealthMonitor:
    return next(cb for cb in obj.callbacks if isinstance(cb, HealthMonitor))


def run(**kw) -> tuple[object, dict]:
    obj = objective(**kw)
    result = obj.run({})
    return result, monitor_of(obj).record


# -- what is recorded -------------------------------------------------------------------------
def test_a_healthy_run_records_every_quantity_per_epoch_and_raises_no_flag():
    result, rec = run()
    assert result.status == "complete"
    n = 4
    for key in ("train_loss", "val_loss", "grad_norm", "update_ratio", "confidence"):
        assert len(rec[key]) == n, key
    assert rec["train_loss"] == pytest.approx(list(result.train_losses))
    assert rec["val_loss"] == pytest.approx(list(result.val_losses))
    assert all(g is not None and g > 0 for g in rec["grad_norm"])
    # Adam at 3e-3 on this net: updates around the guides' 1e-3 .. 1e-2
    assert all(1e-4 < r < 0.1 for r in rec["update_ratio"])
    assert rec["flags"] == {}
    assert rec["n_classes"] == 10 and rec["steps"] == result.steps
    assert 0 <= rec["monitor_share"] < 0.5  # its own share of the run (small; loaded CI)
    assert rec["initial_loss"] == pytest.approx(math.log(10), rel=0.15)


def test_confidence_moves_from_one_over_k_towards_one_as_the_classes_separate():
    _, rec = run()
    conf = rec["confidence"]
    assert 0.1 <= conf[0] < 0.5
    assert conf[-1] > conf[0] + 0.2
    assert all(0.1 <= c <= 1.0 for c in conf)


def test_update_ratios_are_kept_per_weight_tensor_up_to_max_layers():
    _, rec = run(epochs=1)
    assert list(rec["update_ratio_layers"]) == ["0.weight", "3.weight"]  # no biases
    obj = objective(epochs=1, health=HealthMonitor(max_layers=1))
    obj.run({})
    assert list(monitor_of(obj).record["update_ratio_layers"]) == ["0.weight"]


def test_regression_outputs_get_no_confidence():
    Xtr, ytr, Xva, yva = digits()
    ytr_f, yva_f = np.eye(10, dtype=np.float32)[ytr], np.eye(10, dtype=np.float32)[yva]
    obj = TorchObjective(mlp, (Xtr[:300], ytr_f[:300]), (Xva[:100], yva_f[:100]), nn.MSELoss(),
                         epochs=2, device="cpu", defaults={"batch_size": 32})
    obj.run({})
    rec = monitor_of(obj).record
    assert "confidence" not in rec and "n_classes" not in rec
    assert len(rec["update_ratio"]) == 2


# -- the flags --------------------------------------------------------------------------------
def test_a_tiny_learning_rate_is_flagged_as_learning_slowly():
    _, rec = run(lr=1e-5, epochs=3)
    assert list(rec["flags"]) == ["learning_slowly"]
    assert rec["flags"]["learning_slowly"]["median_update_ratio"] < 1e-4
    assert all(r < 1e-4 for r in rec["update_ratio"])


def test_a_huge_learning_rate_is_flagged_as_diverging_when_the_run_goes_on():
    result, rec = run(optimizer="sgd", lr=3.0, epochs=3, divergence_factor=None)
    assert result.status == "complete"
    assert "diverging" in rec["flags"]
    assert rec["flags"]["diverging"]["epoch"] == 1
    assert "learning_slowly" not in rec["flags"]
    assert max(r for r in rec["update_ratio"] if r is not None) > 1e-2  # far above 1e-3


def test_a_run_stopped_for_divergence_records_why():
    result, rec = run(optimizer="sgd", lr=3.0, epochs=3)
    assert result.status == "failed"
    assert rec["stopped"].startswith("diverged")
    assert rec["flags"]["diverging"]["reason"] == rec["stopped"]


def test_a_small_training_set_with_a_large_net_is_flagged_as_overfitting():
    _, rec = run(n_train=60, hidden=128, lr=3e-2, epochs=8)
    flag = rec["flags"]["overfitting"]
    val = rec["val_loss"]
    assert flag["best_epoch"] == int(np.argmin(val)) + 1 < 8
    assert val[flag["stop_epoch"] - 1] > 1.05 * min(val)
    assert rec["train_loss"][-1] < rec["train_loss"][flag["best_epoch"] - 1]
    assert list(rec["flags"]) == ["overfitting"]


def test_the_same_net_at_a_gentler_rate_is_not_flagged():
    _, rec = run(n_train=60, hidden=128, lr=3e-3, epochs=8)
    assert rec["flags"] == {}


# -- storage, the adapter's switch, robustness ------------------------------------------------
class SeenAfterEachEpoch(Callback):
    """Reads the stored record after the health monitor's epoch hook."""

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def on_epoch_end(self, state):
        stored = state.trial.study.get_trial(state.trial.number).user_attrs["health"]
        self.lengths.append(len(stored["val_loss"]))


def test_the_record_reaches_storage_after_every_epoch(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    study = bt.Study(bt.Space({"lr": bt.Float(1e-3, 1e-2, log=True)}), storage=url, name="h",
                     sampler=bt.samplers.RandomSampler(seed=0))
    seen = SeenAfterEachEpoch()
    every_epoch = HealthMonitor(budget=None, write_interval=0)
    study.optimize(objective(epochs=3, callbacks=[seen], health=every_epoch), n_trials=2)
    assert seen.lengths == [1, 2, 3, 1, 2, 3]
    for t in bt.load_study(url, "h").trials:
        health = t.user_attrs["health"]
        assert len(health["update_ratio"]) == 3 and health["flags"] == {}
        assert health["val_loss"] == pytest.approx(t.user_attrs["val_loss"])


def test_the_adapter_plugs_a_monitor_in_by_default():
    Xtr, ytr, Xva, yva = digits()
    obj = TorchObjective(mlp, (Xtr[:300], ytr[:300]), (Xva[:100], yva[:100]), CE, epochs=2,
                         device="cpu")
    obj.run({})
    rec = monitor_of(obj).record
    assert len(rec["val_loss"]) == 2 and rec["grad_norm"][0] is not None


def test_short_epochs_are_written_at_most_once_per_interval_and_at_the_end():
    study = bt.Study(bt.Space({"lr": bt.Float(1e-3, 1e-2, log=True)}),
                     sampler=bt.samplers.RandomSampler(seed=0))
    writes: list[int] = []
    real = study._set_user_attr

    def counting(number, key, value):
        if key == "health":
            writes.append(len(value["val_loss"]))
        real(number, key, value)

    study._set_user_attr = counting
    lazy = HealthMonitor(budget=None, write_interval=3600.0)
    study.optimize(objective(epochs=3, health=lazy), n_trials=1)
    assert writes == [3]  # no epoch waited an hour: one write, when the run ended
    assert len(study.trials[0].user_attrs["health"]["val_loss"]) == 3


def test_health_false_records_nothing_extra_and_a_custom_monitor_is_used():
    study = bt.Study(bt.Space({"lr": bt.Float(1e-3, 1e-2, log=True)}),
                     sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(objective(epochs=1, health=False), n_trials=1)
    assert "health" not in study.trials[0].user_attrs
    assert "val_loss" in study.trials[0].user_attrs
    mine = HealthMonitor(every=1, budget=None)
    obj = objective(epochs=2, health=mine)
    assert monitor_of(obj) is mine
    obj.run({})
    assert mine.record is not None and len(mine.record["grad_norm"]) == 2
    with pytest.raises(ValueError, match="health"):
        objective(health="yes")


def test_the_budget_spaces_measurements_out_and_never_loses_an_epoch_record():
    eager = objective(epochs=3, health=HealthMonitor(every=1, budget=None))
    eager.run({})
    assert all(g is not None for g in monitor_of(eager).record["grad_norm"])
    frugal = objective(epochs=3, health=HealthMonitor(every=1, budget=1e-9))
    frugal.run({})
    rec = monitor_of(frugal).record
    assert rec["grad_norm"][0] is not None  # the first step is always measured
    assert rec["grad_norm"][-1] is None  # then it is too dear to measure again
    assert len(rec["val_loss"]) == 3 and len(rec["confidence"]) == 3
    # the confidence is measured on the first epoch, then skipped while over budget
    assert rec["confidence"][0] is not None and rec["confidence"][1:] == [None, None]
    assert all(c is not None for c in monitor_of(eager).record["confidence"])


def test_a_failing_measurement_switches_the_monitor_off_not_the_training(monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("no foreach here")

    monkeypatch.setattr(torch, "_foreach_norm", boom)
    with caplog.at_level(logging.WARNING, logger="bayestune.training.monitor"):
        result, rec = run(optimizer="sgd", lr=0.1, epochs=2)
    assert result.status == "complete" and len(rec["val_loss"]) == 2
    assert rec["grad_norm"] == [None, None]
    assert "health monitor switched off" in caplog.text


def test_an_objective_with_a_monitor_pickles_for_worker_processes():
    obj = objective(epochs=1)
    obj.run({})
    clone = pickle.loads(pickle.dumps(obj))
    assert monitor_of(clone).record is None
    assert clone.run({}).status == "complete"


def test_monitor_arguments_are_checked():
    for bad in ({"every": 0}, {"max_layers": -1}, {"budget": 1.5}, {"thresholds": 3},
                {"write_interval": -1}):
        with pytest.raises(ValueError):
            HealthMonitor(**bad)
