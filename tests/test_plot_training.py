"""Training-curve and update-ratio plots: the numbers (without drawing), then the drawing
(headless, Agg)."""

from __future__ import annotations

import numpy as np
import pytest

import bayestune as bt
from bayestune.plot import (
    TrainingCurvesData,
    UpdateRatioData,
    training_curves_data,
    update_ratio_data,
)

TRAIN = [2.0, 1.2, 0.7, 0.4, 0.2, 0.1]
OVERFIT_VAL = [2.0, 1.3, 1.0, 1.1, 1.3, 1.5]
HEALTHY_VAL = [2.0, 1.4, 1.1, 1.0, 0.95, 0.93]


def health(val, train=TRAIN, ratio=1e-3, **extra) -> dict:
    n = len(val)
    return {"train_loss": train, "val_loss": val, "grad_norm": [0.5] * n,
            "update_ratio": [ratio] * n,
            "update_ratio_layers": {"0.weight": [2 * ratio] * n, "3.weight": [ratio / 2] * n},
            "initial_loss": 2.3, **extra}


@pytest.fixture
def study() -> bt.Study:
    """Trial 0: healthy (best); 1: overfits; 2: plain loss lists only; 3: no curves;
    4: diverged (failed)."""
    s = bt.Study(bt.Space({"lr": bt.Float(1e-4, 1.0, log=True)}),
                 sampler=bt.samplers.RandomSampler(seed=0))
    rows = [
        ({"health": health(HEALTHY_VAL)}, 0.93),
        ({"health": health(OVERFIT_VAL)}, 1.5),
        ({"train_loss": TRAIN, "val_loss": HEALTHY_VAL[::-1]}, 2.0),
        ({}, 3.0),
        ({"health": health([2.5, 40.0], train=[3.0, 50.0], ratio=0.5,
                           stopped="diverged: training loss nan at epoch 3, step 40")}, None),
    ]
    for attrs, value in rows:
        t = s.ask()
        for k, v in attrs.items():
            t.set_user_attr(k, v)
        if value is None:
            s.tell(t, state="FAILED", reason="diverged: training loss nan at epoch 3, step 40")
        else:
            s.tell(t, value)
    return s


# -- data ---------------------------------------------------------------------------------------
def test_default_choice_is_the_best_completed_trials_that_have_curves(study):
    data = training_curves_data(study)
    assert isinstance(data, TrainingCurvesData)
    assert data.numbers == (0, 1, 2)  # by value; trial 3 has no curves, 4 failed
    assert training_curves_data(study, max_trials=2).numbers == (0, 1)


def test_curves_carry_losses_flags_and_the_early_stopping_epoch(study):
    healthy, over, plain = training_curves_data(study).curves
    np.testing.assert_array_equal(healthy.epochs, np.arange(1, 7))
    np.testing.assert_allclose(healthy.val_loss, HEALTHY_VAL)
    np.testing.assert_allclose(healthy.train_loss, TRAIN)
    assert healthy.flags == {} and healthy.best_epoch == 6 and healthy.stop_epoch is None
    assert list(over.flags) == ["overfitting"]
    assert over.best_epoch == 3 and over.stop_epoch == 4
    assert over.label == "trial 1 (1.5; overfitting)"
    # plain loss lists, judged without a monitor: the validation loss only rises
    assert list(plain.flags) == ["overfitting"] and plain.best_epoch == 1


def test_explicit_trials_are_drawn_in_the_order_given(study):
    data = training_curves_data(study, trials=[4, study.trials[1]])
    assert data.numbers == (4, 1)
    diverged = data.curves[0]
    assert diverged.state == "FAILED" and "diverging" in diverged.flags
    assert diverged.label == "trial 4 (failed; diverging)"


def test_no_curves_or_unknown_trials_are_errors(study):
    with pytest.raises(ValueError, match="per-epoch losses"):
        training_curves_data(study, trials=[3])
    with pytest.raises(KeyError):
        training_curves_data(study, trials=[99])
    with pytest.raises(ValueError, match="max_trials"):
        training_curves_data(study, max_trials=0)


def test_update_ratio_data_reads_the_monitor_record(study):
    data = update_ratio_data(study.trials[0])
    assert isinstance(data, UpdateRatioData)
    np.testing.assert_allclose(data.ratio, [1e-3] * 6)
    assert list(data.layers) == ["0.weight", "3.weight"]
    np.testing.assert_allclose(data.layers["0.weight"], [2e-3] * 6)
    assert data.target == 1e-3 and data.slow == 1e-4
    assert list(update_ratio_data(study.trials[1]).flags) == ["overfitting"]
    with pytest.raises(ValueError, match="no update-to-weight ratios"):
        update_ratio_data(study.trials[2])  # plain loss lists only


def test_update_ratio_data_takes_a_live_trial_handle():
    s = bt.Study(bt.Space({"lr": bt.Float(1e-4, 1.0, log=True)}),
                 sampler=bt.samplers.RandomSampler(seed=0))
    t = s.ask()
    t.set_user_attr("health", health(HEALTHY_VAL))
    assert update_ratio_data(t).number == t.number


def test_the_data_functions_do_not_import_matplotlib():
    import subprocess
    import sys

    code = ("import sys, bayestune.plot as p; p.training_curves_data; p.update_ratio_data; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- drawing ------------------------------------------------------------------------------------
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_training_curves_draws_each_trial_with_its_flags(study, tmp_path):
    import matplotlib.pyplot as plt

    ax = bt.plot.training_curves(study, trials=[0, 1, 4])
    labels = ax.get_legend().get_texts()
    texts = [t.get_text() for t in labels]
    assert "trial 0 (0.93)" in texts and "trial 1 (1.5; overfitting)" in texts
    assert "overfitting: epoch early stopping keeps" in texts and "diverging" in texts
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert ax.get_yscale() == "log"  # 0.1 .. 50 spans more than two decades
    assert len(ax.lines) == 2 * 3 + 2  # val + train per trial, a star, a cross
    ax.figure.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
    plt.close(ax.figure)


def test_training_curves_draws_on_a_given_axes_from_data(study):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    out = bt.plot.training_curves(training_curves_data(study, trials=[0]), ax=ax, log_y=False)
    assert out is ax and ax.get_yscale() == "linear"
    plt.close(fig)


def test_update_ratio_draws_the_rule_of_thumb(study, tmp_path):
    import matplotlib.pyplot as plt

    ax = bt.plot.update_ratio(study.trials[1])
    assert ax.get_yscale() == "log"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == ["0.weight", "3.weight"]
    assert "all parameters" in texts and any("rule of thumb" in t for t in texts)
    assert "overfitting" in ax.get_title()
    lo, hi = ax.get_ylim()
    assert lo < 1e-4 and hi > 2e-3  # the guide lines and every curve are in view
    ax.figure.savefig(tmp_path / "ratio.png")
    plt.close(ax.figure)
    ax = bt.plot.update_ratio(study.trials[0], layers=False)
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "all parameters"
    plt.close(ax.figure)
