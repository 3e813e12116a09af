"""The torch objective adapter: training runs, reports, divergence, settings, seeding."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
from torch import nn

import bayestune as bt
from bayestune.training import (
    Callback,
    TorchObjective,
    TrainingConfig,
    TrainingFailed,
    accuracy,
)

pytest.importorskip("sklearn")
from dl_helpers import KwMLP, digits, digits_tensors, mlp, one_torch_thread  # noqa: E402, F401

CE = nn.CrossEntropyLoss()


def objective(**kw) -> TorchObjective:
    Xtr, ytr, Xva, yva = digits()
    kw.setdefault("epochs", 3)
    kw.setdefault("device", "cpu")
    kw.setdefault("defaults", {"batch_size": 100})  # 12 steps an epoch: quick
    return TorchObjective(kw.pop("model_fn", mlp), (Xtr, ytr), (Xva, yva), CE, **kw)


class Recorder(Callback):
    """Keeps what the loop showed it."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.optimizer = None
        self.lrs: list[float] = []
        self.grad_norms: list[float] = []

    def on_train_begin(self, state):
        self.events.append("begin")
        self.optimizer = state.optimizer

    def on_after_backward(self, state):
        norm = torch.sqrt(sum((p.grad ** 2).sum() for p in state.model.parameters()))
        self.grad_norms.append(float(norm))

    def on_batch_end(self, state):
        self.lrs.append(state.optimizer.param_groups[0]["lr"])

    def on_epoch_end(self, state):
        self.events.append(f"epoch{state.epoch}")

    def on_train_end(self, state):
        self.events.append("end")


def test_a_run_trains_and_returns_the_final_validation_loss():
    result = objective(epochs=4).run({"optimizer": "adam", "lr": 1e-2, "batch_size": 64})
    assert result.status == "complete" and result.reason is None
    assert result.epochs == 4 and len(result.train_losses) == 4
    assert result.value == result.val_losses[-1]
    assert result.val_losses[-1] < 0.3 < result.val_losses[0] * 2  # it learned
    assert result.train_losses[-1] < result.train_losses[0]
    assert result.steps == 4 * math.ceil(1200 / 64)


def test_study_optimize_takes_the_objective_directly():
    space = bt.Space({"lr": bt.Float(1e-3, 3e-2, log=True),
                      "optimizer": bt.Categorical(["adam", "momentum"])})
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(objective(epochs=3), n_trials=3)
    assert [t.state for t in study.trials] == [bt.TrialState.COMPLETE] * 3
    for t in study.trials:
        assert sorted(t.intermediate_values) == [1, 2, 3]  # epochs counted from 1
        assert t.value == pytest.approx(t.intermediate_values[3])
        assert len(t.user_attrs["train_loss"]) == 3
        assert t.user_attrs["val_loss"][-1] == pytest.approx(t.value)


@pytest.mark.parametrize("name, cls, check", [
    ("sgd", torch.optim.SGD, lambda g: g["momentum"] == 0.0 and not g["nesterov"]),
    ("momentum", torch.optim.SGD, lambda g: g["momentum"] == 0.9 and not g["nesterov"]),
    ("nesterov", torch.optim.SGD, lambda g: g["momentum"] == 0.9 and g["nesterov"]),
    ("adam", torch.optim.Adam, lambda g: g["betas"] == (0.9, 0.999) and g["eps"] == 1e-8),
    ("adamw", torch.optim.AdamW, lambda g: g["betas"] == (0.9, 0.999)),
    ("rmsprop", torch.optim.RMSprop, lambda g: g["momentum"] == 0.0),
])
def test_the_optimizer_named_by_the_params_is_built(name, cls, check):
    rec = Recorder()
    objective(epochs=1, callbacks=[rec]).run({"optimizer": name, "lr": 0.003,
                                              "weight_decay": 1e-4})
    assert type(rec.optimizer) is cls
    group = rec.optimizer.param_groups[0]
    assert group["lr"] == 0.003 and group["weight_decay"] == 1e-4
    assert check(group)


def test_momentum_betas_and_eps_come_from_the_params():
    rec = Recorder()
    obj = objective(epochs=1, callbacks=[rec])
    obj.run({"optimizer": "momentum", "lr": 0.01, "momentum": 0.95})
    assert rec.optimizer.param_groups[0]["momentum"] == 0.95
    obj.run({"optimizer": "adam", "lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6})
    assert rec.optimizer.param_groups[0]["betas"] == (0.8, 0.99)
    assert rec.optimizer.param_groups[0]["eps"] == 1e-6


def test_param_names_and_defaults_are_overridable():
    rec = Recorder()
    obj = objective(epochs=1, callbacks=[rec], param_names={"lr": "learning_rate"},
                    defaults={"optimizer": "rmsprop", "batch_size": 600})
    result = obj.run({"learning_rate": 0.002, "lr": 99.0})
    assert type(rec.optimizer) is torch.optim.RMSprop
    assert rec.optimizer.param_groups[0]["lr"] == 0.002
    assert result.steps == 2  # 1200 examples in batches of 600
    assert result.config.batch_size == 600


def test_a_setting_mapped_to_none_is_never_read_from_the_params():
    obj = objective(epochs=1, param_names={"batch_size": None}, defaults={"batch_size": 400})
    assert obj.run({"lr": 0.01, "batch_size": 10}).steps == 3


def test_batch_size_and_epochs_come_from_the_params():
    result = objective(epochs=3).run({"lr": 0.01, "batch_size": 100, "epochs": 2})
    assert result.epochs == 2 and result.steps == 2 * 12


def test_the_model_factory_receives_every_param():
    seen = []

    def model_fn(params):
        seen.append(dict(params))
        return mlp(params)

    objective(epochs=1, model_fn=model_fn).run({"lr": 0.01, "dropout": 0.3, "hidden": 8})
    assert seen == [{"lr": 0.01, "dropout": 0.3, "hidden": 8}]


def test_bad_params_raise_a_typed_error_naming_the_value():
    obj = objective(epochs=1)
    with pytest.raises(bt.InvalidValueError, match="'lbfgs'"):
        obj.run({"optimizer": "lbfgs"})
    with pytest.raises(bt.InvalidValueError, match="lr"):
        obj.run({"lr": -1.0})
    with pytest.raises(bt.InvalidValueError, match="batch_size"):
        obj.run({"batch_size": 0})


def test_bad_arguments_raise_a_typed_error_naming_the_value():
    Xtr, ytr, Xva, yva = digits()
    with pytest.raises(bt.InvalidValueError, match="model_fn"):
        TorchObjective("mlp", (Xtr, ytr), (Xva, yva), CE)
    with pytest.raises(bt.InvalidValueError, match="monitor"):
        objective(monitor="accuracy")
    with pytest.raises(bt.InvalidValueError, match="metric"):
        objective(monitor="metric")
    with pytest.raises(bt.InvalidValueError, match="amp"):
        objective(amp="fp8")
    with pytest.raises(bt.InvalidValueError, match="device"):
        objective(device="tpu")
    with pytest.raises(bt.InvalidValueError, match="learning_rate"):
        objective(defaults={"learning_rate": 0.1})
    with pytest.raises(bt.InvalidValueError, match="lrate"):
        objective(param_names={"lrate": "lr"})
    with pytest.raises(bt.InvalidValueError, match="schedule"):
        objective(schedule="exponential")
    with pytest.raises(bt.InvalidValueError, match="divergence"):
        objective(divergence_factor=0.5)
    with pytest.raises(bt.InvalidValueError, match="callbacks"):
        objective(callbacks=[lambda s: None])
    with pytest.raises(bt.InvalidValueError, match="Module"):
        objective(model_fn=lambda p: "not a model").run({})


def test_divergence_stops_at_once_and_fails_the_trial_with_the_reason():
    space = bt.Space({"lr": bt.Float(50.0, 100.0, log=True),
                      "optimizer": bt.Categorical(["sgd"])})
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
    obj = objective(epochs=5)
    study.optimize(obj, n_trials=2)  # the loop goes on after a failed trial
    for t in study.trials:
        assert t.state is bt.TrialState.FAILED
        assert t.fail_reason.startswith("diverged:")
        assert t.params["lr"] >= 50.0  # the GP sees where training failed
        assert t.intermediate_values == {}  # stopped inside the first epoch
    assert obj.run(study.trials[0].params).steps < 12  # fewer steps than one epoch


def test_a_non_finite_loss_stops_the_run_at_that_step():
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        loss = CE(out, y)
        return loss * float("nan") if len(calls) == 3 else loss

    Xtr, ytr, Xva, yva = digits()
    result = TorchObjective(mlp, (Xtr, ytr), (Xva, yva), loss_fn, epochs=2,
                            device="cpu").run({"lr": 0.01})
    assert result.status == "failed" and result.steps == 3
    assert "diverged: training loss nan" in result.reason
    assert result.value is None


def test_the_explosion_threshold_is_relative_to_the_first_loss():
    def exploding(out, y):
        exploding.n += 1
        return CE(out, y) * (1.0 if exploding.n < 5 else 30.0)

    exploding.n = 0
    Xtr, ytr, Xva, yva = digits()
    kw = {"epochs": 1, "device": "cpu"}
    result = TorchObjective(mlp, (Xtr, ytr), (Xva, yva), exploding, **kw).run({"lr": 1e-3})
    assert result.status == "failed" and "exceeds 10 x the initial loss" in result.reason
    exploding.n = 0
    result = TorchObjective(mlp, (Xtr, ytr), (Xva, yva), exploding, divergence_factor=None,
                            **kw).run({"lr": 1e-3})
    assert result.status == "complete"


def test_a_non_finite_validation_loss_is_a_divergence():
    Xtr, ytr, Xva, yva = digits()

    def loss_fn(out, y):
        return CE(out, y) if torch.is_grad_enabled() else CE(out, y) * float("inf")

    result = TorchObjective(mlp, (Xtr, ytr), (Xva, yva), loss_fn, epochs=2,
                            device="cpu").run({"lr": 1e-3})
    assert result.status == "failed" and "validation loss inf" in result.reason


class PruneAt(bt.pruners.Pruner):
    def __init__(self, step):
        self.step = step

    def prune(self, trials, trial, direction):
        return trial.last_step is not None and trial.last_step >= self.step


def test_the_pruner_stops_the_run_and_the_trial_is_pruned_with_its_last_value():
    space = bt.Space({"lr": bt.Float(1e-3, 1e-2, log=True)})
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0), pruner=PruneAt(2))
    study.optimize(objective(epochs=5), n_trials=1)
    t = study.trials[0]
    assert t.state is bt.TrialState.PRUNED
    assert sorted(t.intermediate_values) == [1, 2]
    assert t.value == t.intermediate_values[2]
    assert len(t.user_attrs["val_loss"]) == 2


def test_runs_are_seeded_and_leave_the_callers_random_state_alone():
    obj = objective(epochs=2)
    params = {"lr": 0.01, "dropout": 0.2, "batch_size": 64}
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = obj.run(params)
    assert torch.equal(torch.get_rng_state(), before)
    b = obj.run(params)
    assert a.val_losses == b.val_losses and a.train_losses == b.train_losses
    c = objective(epochs=2, seed=1).run(params)
    assert c.val_losses != a.val_losses


def test_an_unseeded_run_uses_the_global_random_state():
    obj = objective(epochs=1, seed=None)
    torch.manual_seed(5)
    a = obj.run({"lr": 0.01})
    torch.manual_seed(5)
    b = obj.run({"lr": 0.01})
    assert a.val_losses == b.val_losses


def test_metric_is_recorded_and_can_be_the_objective():
    obj = objective(epochs=2, metric=accuracy, monitor="metric")
    space = bt.Space({"lr": bt.Float(3e-3, 1e-2, log=True)})
    study = bt.Study(space, "maximize", sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(obj, n_trials=1)
    t = study.trials[0]
    assert 0.8 < t.value <= 1.0
    assert t.user_attrs["metric"][-1] == pytest.approx(t.value)
    assert t.intermediate_values[2] == pytest.approx(t.value)
    assert t.user_attrs["val_loss"][-1] < 1.0


def test_datasets_loaders_and_dict_batches_are_accepted():
    Xtr, ytr, Xva, yva = digits_tensors()
    train_ds = torch.utils.data.TensorDataset(Xtr, ytr)
    val_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xva, yva),
                                             batch_size=100)
    result = TorchObjective(mlp, train_ds, val_loader, CE, epochs=1,
                            device="cpu").run({"lr": 0.01, "batch_size": 300})
    assert result.status == "complete" and result.steps == 4

    class DictData(torch.utils.data.Dataset):
        def __init__(self, X, y):
            self.X, self.y = X, y

        def __len__(self):
            return len(self.X)

        def __getitem__(self, i):
            return {"pixels": self.X[i], "labels": self.y[i]}

    result = TorchObjective(lambda p: KwMLP(), DictData(Xtr, ytr), DictData(Xva, yva), CE,
                            epochs=1, device="cpu").run({"lr": 0.01, "batch_size": 200})
    assert result.status == "complete" and result.val_losses[0] < 2.0

    swapped = [(y, x) for x, y in zip(Xtr.split(400), ytr.split(400), strict=False)]
    val_swapped = [(yva, Xva)]
    result = TorchObjective(mlp, swapped, val_swapped, CE, epochs=1, device="cpu",
                            batch_fn=lambda b: (b[1], b[0])).run({"lr": 0.01})
    assert result.steps == 3


def test_a_ready_loader_keeps_its_batch_size_and_says_so(caplog):
    Xtr, ytr, Xva, yva = digits_tensors()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xtr, ytr),
                                         batch_size=400, shuffle=True)
    with caplog.at_level(logging.WARNING, logger="bayestune"):
        result = TorchObjective(mlp, loader, (Xva, yva), CE, epochs=1,
                                device="cpu").run({"lr": 0.01, "batch_size": 32})
    assert result.steps == 3
    assert "batch_size is ignored" in caplog.text


@pytest.mark.parametrize("schedule, last_factor", [
    ("cosine", 0.0), ("linear", 0.0), ("step", 0.01), ("constant", 1.0), (None, 1.0)])
def test_the_schedule_drives_the_lr_per_batch(schedule, last_factor):
    rec = Recorder()
    objective(epochs=4, schedule=schedule, callbacks=[rec]).run(
        {"lr": 0.01, "batch_size": 100})
    assert len(rec.lrs) == 48
    assert rec.lrs[-1] == pytest.approx(0.01 * last_factor, abs=0.01 / 48 + 1e-12)
    assert all(a >= b - 1e-15 for a, b in zip(rec.lrs, rec.lrs[1:], strict=False))  # never rises


def test_warmup_rises_linearly_then_decays():
    rec = Recorder()
    objective(epochs=4, schedule="cosine", callbacks=[rec]).run(
        {"lr": 0.01, "batch_size": 100, "warmup_epochs": 1})
    # the lr recorded after step k is the one for step k + 1
    assert rec.lrs[:11] == pytest.approx([0.01 * (k + 2) / 12 for k in range(11)])
    assert max(rec.lrs) == pytest.approx(0.01)
    assert rec.lrs[-1] < 1e-4


def test_onecycle_and_callable_schedules():
    rec = Recorder()
    objective(epochs=2, schedule="onecycle", callbacks=[rec]).run({"lr": 0.01,
                                                                   "batch_size": 100})
    peak = int(np.argmax(rec.lrs))
    assert 0 < peak < len(rec.lrs) - 1 and max(rec.lrs) == pytest.approx(0.01, rel=0.01)
    assert rec.lrs[-1] < 1e-4
    rec = Recorder()
    objective(epochs=1, callbacks=[rec],
              schedule=lambda opt, total: torch.optim.lr_scheduler.LambdaLR(
                  opt, lambda s: 0.5)).run({"lr": 0.01, "batch_size": 100})
    assert set(rec.lrs) == {0.005}


def test_lr_multiplier_shapes():
    from bayestune.training import lr_multiplier

    assert lr_multiplier("cosine", 50, 100) == pytest.approx(0.5)
    assert lr_multiplier("linear", 25, 100) == pytest.approx(0.75)
    assert lr_multiplier("step", 49, 100) == 1.0
    assert lr_multiplier("step", 50, 100) == pytest.approx(0.1)
    assert lr_multiplier("step", 75, 100) == pytest.approx(0.01)
    assert [lr_multiplier("constant", s, 100, 4) for s in range(5)] == [0.25, 0.5, 0.75, 1, 1]
    assert lr_multiplier("cosine", 10, 110, 10) == 1.0


def test_gradient_clipping_bounds_the_norm_the_optimizer_sees():
    rec = Recorder()
    objective(epochs=1, clip_grad_norm=0.05, callbacks=[rec]).run({"lr": 0.01})
    assert max(rec.grad_norms) <= 0.05 * (1 + 1e-4)
    rec = Recorder()
    objective(epochs=1, callbacks=[rec]).run({"lr": 0.01})
    assert max(rec.grad_norms) > 0.05


def test_callback_hooks_run_in_order_and_can_stop_or_fail_the_run():
    rec = Recorder()
    objective(epochs=2, callbacks=[rec]).run({"lr": 0.01})
    assert rec.events == ["begin", "epoch1", "epoch2", "end"]

    class StopAfterOne(Callback):
        def on_epoch_end(self, state):
            state.request_stop("good enough")

    result = objective(epochs=5, callbacks=[StopAfterOne()]).run({"lr": 0.01})
    assert result.status == "complete" and result.epochs == 1

    class Unhealthy(Callback):
        def on_batch_end(self, state):
            if state.step == 4:
                raise TrainingFailed("unhealthy: dead ReLUs")

    space = bt.Space({"lr": bt.Float(1e-3, 1e-2, log=True)})
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(objective(epochs=2, callbacks=[Unhealthy()]), n_trials=1)
    assert study.trials[0].state is bt.TrialState.FAILED
    assert study.trials[0].fail_reason == "unhealthy: dead ReLUs"

    class Prune(Callback):
        def on_epoch_end(self, state):
            raise bt.TrialPruned("plateau")

    result = objective(epochs=3, callbacks=[Prune()]).run({"lr": 0.01})
    assert result.status == "pruned" and result.reason == "plateau"


def test_amp_is_ignored_off_cuda_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="bayestune"):
        obj = objective(amp=True)
    assert obj.amp_dtype is None
    assert "CUDA only" in caplog.text


def test_training_config_checks_its_values():
    assert TrainingConfig(optimizer="ADAM").optimizer == "adam"
    with pytest.raises(bt.InvalidValueError, match="warmup_epochs"):
        TrainingConfig(warmup_epochs=-1)
    with pytest.raises(bt.InvalidValueError, match="clip_grad_norm"):
        TrainingConfig(clip_grad_norm=0)
    with pytest.raises(bt.InvalidValueError, match="epochs"):
        TrainingConfig(epochs=2.5)
    with pytest.raises(bt.InvalidValueError, match="momentum"):
        bt.training.build_optimizer("momentum", mlp().parameters(), lr=0.1, momentum=1.0)
    with pytest.raises(bt.InvalidValueError, match="nesterov"):
        bt.training.build_optimizer("nesterov", mlp().parameters(), lr=0.1, momentum=0.0)


def test_an_optimizer_fn_may_take_optimizer_names_of_its_own():
    def optimizer_fn(model, config):
        assert config.optimizer == "adagrad"
        return torch.optim.Adagrad(model.parameters(), lr=config.lr)

    rec = Recorder()
    result = objective(epochs=1, optimizer_fn=optimizer_fn, callbacks=[rec]).run(
        {"optimizer": "Adagrad", "lr": 0.05})
    assert result.status == "complete" and type(rec.optimizer) is torch.optim.Adagrad
