"""The documented pattern for a hand-written training loop (docs/integrations.md): report
each epoch, ask ``should_prune()``, raise ``TrialPruned`` or tell at the end."""

from __future__ import annotations

import math

import pytest
import torch

import bayestune as bt

load_digits = pytest.importorskip("sklearn.datasets").load_digits

SPACE = bt.Space({"lr": bt.Float(1e-6, 1.0, log=True)})
EPOCHS = 5


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    return x[:1200], y[:1200], x[1200:], y[1200:]


def train_and_report(trial, digits, epochs=EPOCHS):
    """The user's loop: full-batch softmax regression, one report per epoch."""
    x_train, y_train, x_val, y_val = digits
    torch.manual_seed(0)
    model = torch.nn.Linear(64, 10)
    opt = torch.optim.SGD(model.parameters(), lr=trial.params["lr"], momentum=0.9)
    val_loss = math.nan
    for epoch in range(epochs):
        for _ in range(10):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x_train), y_train).backward()
            opt.step()
        with torch.no_grad():
            val_loss = torch.nn.functional.cross_entropy(model(x_val), y_val).item()
        trial.report(epoch, val_loss)
        if trial.should_prune():
            raise bt.TrialPruned(f"epoch {epoch}: val_loss={val_loss:.4f}")
    return val_loss


def test_optimize_with_a_median_pruner_prunes_the_bad_run(digits):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0),
                     pruner=bt.pruners.MedianPruner(n_startup_trials=2))
    for lr in (0.5, 0.3, 1e-6):  # two good runs, then one that barely learns
        study.enqueue({"lr": lr})
    study.optimize(lambda t: train_and_report(t, digits), n_trials=3)
    good, good2, bad = study.trials
    for t in (good, good2):
        assert t.state is bt.TrialState.COMPLETE
        assert sorted(t.intermediate_values) == list(range(EPOCHS))
        assert t.value == t.intermediate_values[EPOCHS - 1]
    assert bad.state is bt.TrialState.PRUNED
    assert sorted(bad.intermediate_values) == [0]  # stopped after its first epoch
    assert bad.value == bad.intermediate_values[0]
    assert "epoch 0" in bad.system_attrs["reason"]
    assert study.best_trial.number in (0, 1)


def test_ask_tell_loop_tells_pruned_and_complete(digits):
    class PruneAfterTwoReports(bt.pruners.Pruner):
        def prune(self, trials, trial, direction):
            return trial.number == 1 and len(trial.intermediate_values) >= 2

    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=1),
                     pruner=PruneAfterTwoReports())
    for _ in range(2):
        trial = study.ask()
        try:
            value = train_and_report(trial, digits)
        except bt.TrialPruned as e:
            study.tell(trial, state="PRUNED", reason=str(e))
            continue
        study.tell(trial, value)
    first, second = study.trials
    assert first.state is bt.TrialState.COMPLETE and len(first.intermediate_values) == EPOCHS
    assert second.state is bt.TrialState.PRUNED
    assert sorted(second.intermediate_values) == [0, 1]
    assert second.system_attrs["reason"].startswith("epoch 1")


def test_a_diverging_loop_ends_failed_and_the_study_goes_on():
    def objective(trial):
        loss = 1.0
        for epoch in range(3):
            loss = loss * trial.params["lr"] * 1e300  # overflows to inf: training diverged
            trial.report(epoch, loss)
        return loss

    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=2))
    study.enqueue({"lr": 1.0})
    study.optimize(objective, n_trials=1)
    (t,) = study.trials
    assert t.state is bt.TrialState.FAILED
    assert math.isnan(t.intermediate_values[2])
