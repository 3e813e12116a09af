"""The Lightning callback: a real Trainer on scikit-learn's digits, inside a study."""

from __future__ import annotations

import pytest

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")
datasets = pytest.importorskip("sklearn.datasets")

import bayestune as bt  # noqa: E402
from bayestune.integrations.lightning import BayesTuneCallback  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # "few workers" and the like

SPACE = bt.Space({"lr": bt.Float(1e-3, 1e-1, log=True)})


class PruneFromStep(bt.pruners.Pruner):
    """Prunes every trial once it has reported ``step``: deterministic, independent of
    the pruners under development elsewhere."""

    def __init__(self, step: int) -> None:
        self.step = step

    def prune(self, trials, trial, direction):
        return trial.last_step is not None and trial.last_step >= self.step


def digits_mlp_class(base):
    """A two-layer MLP LightningModule on ``base`` (lightning's or pytorch_lightning's)."""

    class DigitsMLP(base):
        def __init__(self, lr: float) -> None:
            super().__init__()
            self.lr = lr
            self.net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                           torch.nn.Linear(32, 10))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.cross_entropy(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    return DigitsMLP


DigitsMLP = digits_mlp_class(pl.LightningModule)


@pytest.fixture(scope="module")
def loaders():
    x, y = datasets.load_digits(return_X_y=True)
    x = torch.tensor(x[:600] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[:600])
    gen = torch.Generator().manual_seed(0)
    train = torch.utils.data.TensorDataset(x[:400], y[:400])
    val = torch.utils.data.TensorDataset(x[400:], y[400:])
    return (torch.utils.data.DataLoader(train, batch_size=50, shuffle=True, generator=gen),
            torch.utils.data.DataLoader(val, batch_size=200))


def make_trainer(callback, max_epochs: int = 3, **kw):
    trainer_cls = kw.pop("trainer_cls", pl.Trainer)
    return trainer_cls(max_epochs=max_epochs, accelerator="cpu", devices=1,
                       callbacks=[callback], enable_progress_bar=False, logger=False,
                       enable_checkpointing=False, enable_model_summary=False, **kw)


def objective_factory(loaders, max_epochs=3, monitor="val_loss", seen=None, **cb_kw):
    def objective(trial):
        torch.manual_seed(trial.number)
        cb = BayesTuneCallback(trial, monitor=monitor, **cb_kw)
        trainer = make_trainer(cb, max_epochs)
        trainer.fit(DigitsMLP(trial.params["lr"]), *loaders)
        if seen is not None:
            seen.append(trainer.current_epoch)
        cb.check_pruned()
        return trainer.callback_metrics["val_loss"].item()
    return objective


def test_reports_val_loss_every_epoch_and_the_trial_completes(loaders):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(objective_factory(loaders, max_epochs=3), n_trials=2)
    for t in study.trials:
        assert t.state is bt.TrialState.COMPLETE
        assert sorted(t.intermediate_values) == [0, 1, 2]
        # the value told is the last validation loss reported
        assert t.value == pytest.approx(t.intermediate_values[2], rel=1e-6)
    # training on digits does make progress
    assert min(study.trials[0].intermediate_values.values()) < 2.0


def test_pruner_stops_the_fit_through_lightning_and_the_trial_ends_pruned(loaders):
    epochs_run: list[int] = []
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=1), pruner=PruneFromStep(1))
    study.optimize(objective_factory(loaders, max_epochs=5, seen=epochs_run), n_trials=1)
    (t,) = study.trials
    assert t.state is bt.TrialState.PRUNED
    assert sorted(t.intermediate_values) == [0, 1]
    assert t.value == t.intermediate_values[1]  # PRUNED trials keep their last value
    assert "pruned at epoch 1" in t.system_attrs["reason"]
    assert epochs_run == [2]  # stopped after the second epoch, not after five


def test_sanity_check_is_not_reported(loaders):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=2))
    study.optimize(objective_factory(loaders, max_epochs=2, step_by="global_step"), n_trials=1)
    (t,) = study.trials
    assert t.state is bt.TrialState.COMPLETE
    # 400 samples / 50 per batch = 8 steps an epoch; the sanity check (step 0) is skipped
    assert sorted(t.intermediate_values) == [8, 16]


def test_unknown_monitor_fails_the_trial_with_the_logged_names(loaders):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=3))
    study.optimize(objective_factory(loaders, max_epochs=1, monitor="val_acc"), n_trials=1)
    (t,) = study.trials
    assert t.state is bt.TrialState.FAILED
    assert "val_acc" in t.fail_reason and "val_loss" in t.fail_reason


def test_ask_tell_loop_with_check_pruned(loaders):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=4), pruner=PruneFromStep(0))
    trial = study.ask()
    cb = BayesTuneCallback(trial)
    make_trainer(cb, max_epochs=3).fit(DigitsMLP(trial.params["lr"]), *loaders)
    assert cb.pruned and cb.pruned_step == 0
    with pytest.raises(bt.TrialPruned, match="epoch 0"):
        cb.check_pruned()
    study.tell(trial, state="PRUNED")
    assert study.trials[0].state is bt.TrialState.PRUNED


def test_callback_also_works_with_the_pytorch_lightning_package(loaders):
    legacy = pytest.importorskip("pytorch_lightning")
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=5))
    trial = study.ask()
    cb = BayesTuneCallback(trial)
    assert isinstance(cb, legacy.Callback) and isinstance(cb, pl.Callback)
    legacy_mlp = digits_mlp_class(legacy.LightningModule)
    make_trainer(cb, max_epochs=2, trainer_cls=legacy.Trainer).fit(legacy_mlp(0.01), *loaders)
    assert sorted(study.get_trial(trial.number).intermediate_values) == [0, 1]


def test_rejects_bad_arguments():
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))
    trial = study.ask()
    with pytest.raises(bt.InvalidValueError, match="trial"):
        BayesTuneCallback({"lr": 0.1})
    with pytest.raises(bt.InvalidValueError, match="monitor"):
        BayesTuneCallback(trial, monitor="")
    with pytest.raises(bt.InvalidValueError, match="step_by"):
        BayesTuneCallback(trial, step_by="batch")


def test_validate_outside_fit_is_not_reported(loaders):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=6))
    trial = study.ask()
    cb = BayesTuneCallback(trial)
    trainer = make_trainer(cb, max_epochs=2)
    model = DigitsMLP(trial.params["lr"])
    trainer.fit(model, *loaders)
    trainer.validate(model, loaders[1], verbose=False)
    assert sorted(study.get_trial(trial.number).intermediate_values) == [0, 1]
    assert not cb.pruned
    cb.check_pruned()  # no verdict: does not raise


def test_median_pruner_stops_a_run_that_falls_behind(loaders):
    space = bt.Space({"lr": bt.Float(1e-7, 1e-1, log=True)})
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=7),
                     pruner=bt.pruners.MedianPruner(n_startup_trials=2))
    for lr in (0.05, 0.02, 1e-7):  # two runs that learn, then one that cannot
        study.enqueue({"lr": lr})
    study.optimize(objective_factory(loaders, max_epochs=3), n_trials=3)
    states = [t.state for t in study.trials]
    assert states == [bt.TrialState.COMPLETE, bt.TrialState.COMPLETE, bt.TrialState.PRUNED]
    assert sorted(study.trials[2].intermediate_values) == [0]
