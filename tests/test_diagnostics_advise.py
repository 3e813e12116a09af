"""Advice from a study: each rule fires on a study built to trigger it and stays silent on
one built not to; and ``bayestune advise`` prints the findings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from dl_helpers import one_torch_thread  # noqa: F401 - tiny models train on one thread

import bayestune as bt
from bayestune.cli import main
from bayestune.diagnostics import RULES, Finding, advise

LR = bt.Float(1e-4, 1e-2, log=True)


def new_study(space: dict, **kw) -> bt.Study:
    return bt.Study(bt.Space(space), sampler=bt.samplers.RandomSampler(seed=0), **kw)


def add(study: bt.Study, params: dict, value: float | None, **attrs) -> None:
    """A finished trial with user attributes (None: a failed run)."""
    study.enqueue(params)
    t = study.ask()
    for k, v in attrs.items():
        t.set_user_attr(k, v)
    if value is None:
        study.tell(t, state="FAILED", reason="diverged: training loss nan at epoch 1, step 3")
    else:
        study.tell(t, value)


def grid(n: int, low: float, high: float, log: bool = True) -> np.ndarray:
    return np.geomspace(low, high, n) if log else np.linspace(low, high, n)


def rule_findings(study: bt.Study, rule: str, **kw) -> list[Finding]:
    found = advise(study, rules=[rule], **kw)
    assert all(f.rule == rule for f in found)
    return found


# -- best at the edge -------------------------------------------------------------------------
def edge_study(best_lr: float) -> bt.Study:
    study = new_study({"lr": LR, "dropout": bt.Float(0.0, 0.5)})
    for i, lr in enumerate(grid(10, 1e-4, 1e-2)):
        dropout = 0.1 + 0.03 * (i % 5)
        add(study, {"lr": float(lr), "dropout": dropout},
            (math.log10(lr) - math.log10(best_lr)) ** 2 + (dropout - 0.2) ** 2)
    return study


def test_best_lr_at_the_upper_edge_says_widen_upwards():
    found = rule_findings(edge_study(best_lr=0.1), "best_at_edge")
    assert [f.evidence["param"] for f in found] == ["lr"]
    f = found[0]
    assert f.evidence["side"] == "high" and f.evidence["position"] == pytest.approx(1.0)
    assert f.evidence["best_value"] == pytest.approx(1e-2)
    assert f.evidence["suggested_bound"] == pytest.approx(0.1)
    assert "widen the range of lr upwards" in f.action and "high=0.1" in f.action


def test_best_lr_inside_its_range_is_not_at_an_edge():
    assert rule_findings(edge_study(best_lr=1e-3), "best_at_edge") == []


def test_best_at_a_natural_floor_of_zero_suggests_fixing_it():
    study = new_study({"lr": LR, "dropout": bt.Float(0.0, 0.5)})
    for i, d in enumerate(grid(8, 0.0, 0.5, log=False)):
        lr = float(grid(8, 2e-4, 5e-3)[(3 * i) % 8])
        add(study, {"lr": lr, "dropout": float(d)}, d + 0.1 * (math.log10(lr) + 3) ** 2)
    (f,) = rule_findings(study, "best_at_edge")
    assert f.evidence["param"] == "dropout" and f.evidence["side"] == "low"
    assert "suggested_bound" not in f.evidence
    assert "fixing it at 0" in f.action


# -- failures beyond a threshold --------------------------------------------------------------
def failure_study(fail) -> bt.Study:
    study = new_study({"lr": bt.Float(1e-4, 1.0, log=True), "dropout": bt.Float(0.0, 0.5)})
    for i, lr in enumerate(grid(16, 1e-4, 1.0)):
        params = {"lr": float(lr), "dropout": 0.05 + 0.1 * (i % 5)}
        add(study, params, None if fail(i, lr) else (math.log10(lr) + 3) ** 2)
    return study


def test_most_failures_above_some_lr_say_lower_the_upper_bound():
    (f,) = rule_findings(failure_study(lambda i, lr: lr > 0.03), "failure_threshold")
    ev = f.evidence
    assert ev["param"] == "lr" and ev["side"] == "high"
    assert 0.03 < ev["threshold"] < 0.1
    assert ev["failed_beyond"] == ev["runs_beyond"] == ev["n_failed"] == 6
    assert ev["failed_within"] == 0 and ev["diverged_beyond"] == 6
    assert "move the upper bound of lr" in f.action


def test_failures_scattered_over_the_range_name_no_threshold():
    assert rule_findings(failure_study(lambda i, lr: i % 3 == 1), "failure_threshold") == []


def test_a_couple_of_failures_are_not_enough():
    assert rule_findings(failure_study(lambda i, lr: lr > 0.3), "failure_threshold") == []


# -- every good trial overfits ----------------------------------------------------------------
TRAIN = [2.0, 1.2, 0.7, 0.4, 0.2, 0.1]
OVERFIT_VAL = [2.0, 1.3, 1.0, 1.1, 1.3, 1.5]
HEALTHY_VAL = [2.0, 1.4, 1.1, 1.0, 0.95, 0.93]


def curves_study(vals: list[list[float]]) -> bt.Study:
    study = new_study({"lr": LR, "dropout": bt.Float(0.0, 0.5)})
    for i, val in enumerate(vals):
        shift = 0.05 * i
        v = [x + shift for x in val]
        add(study, {"lr": float(grid(len(vals), 2e-4, 5e-3)[i]), "dropout": 0.1},
            v[-1], train_loss=TRAIN, val_loss=v)
    return study


def test_every_good_trial_overfitting_says_regularize_or_stop_earlier():
    (f,) = rule_findings(curves_study([OVERFIT_VAL] * 6), "overfitting")
    assert len(f.evidence["trials"]) == 3  # the best quarter, at least three
    assert f.evidence["best_epochs"] == [3, 3, 3] and f.evidence["epochs_run"] == [6, 6, 6]
    assert "raise dropout" in f.action and "fewer epochs (about 3)" in f.action


def test_one_good_trial_without_overfitting_silences_the_rule():
    vals = [HEALTHY_VAL] + [OVERFIT_VAL] * 5  # trial 0 is also the best
    assert rule_findings(curves_study(vals), "overfitting") == []


def test_the_monitor_record_is_read_too():
    study = new_study({"lr": LR})
    for i in range(4):
        add(study, {"lr": float(grid(4, 2e-4, 5e-3)[i])}, 1.0 + i,
            health={"train_loss": TRAIN, "val_loss": OVERFIT_VAL, "update_ratio": [1e-3] * 6})
    (f,) = rule_findings(study, "overfitting")
    assert "add dropout or weight decay" in f.action  # the space has neither


# -- a parameter the GP finds irrelevant ------------------------------------------------------
def gp_study(f) -> bt.Study:
    study = new_study({"x": bt.Float(0.0, 1.0), "y": bt.Float(0.0, 1.0)})
    rng = np.random.default_rng(0)
    for x, y in rng.random((20, 2)):
        add(study, {"x": float(x), "y": float(y)}, f(x, y))
    return study


def test_a_parameter_the_objective_ignores_is_found_irrelevant():
    (f,) = rule_findings(gp_study(lambda x, y: math.sin(6 * x) + x), "irrelevant_param")
    assert f.evidence["param"] == "y"
    assert f.evidence["total_sobol_index"] < 0.01
    assert f.evidence["importance"]["x"] > 0.9
    assert f.action.startswith("fix y at")


def test_parameters_that_both_matter_are_not_flagged():
    study = gp_study(lambda x, y: (x - 0.3) ** 2 + (y - 0.6) ** 2)
    assert rule_findings(study, "irrelevant_param") == []


def test_too_few_trials_give_no_importance_verdict():
    study = new_study({"x": bt.Float(0.0, 1.0), "y": bt.Float(0.0, 1.0)})
    for i in range(6):
        add(study, {"x": i / 6, "y": 0.5}, i / 6)
    assert rule_findings(study, "irrelevant_param") == []


# -- far from the rule-of-thumb defaults ------------------------------------------------------
def lr_study(best_lr: float, optimizer: str = "adam") -> bt.Study:
    study = new_study({"optimizer": bt.Categorical([optimizer]),
                       "lr": bt.Float(1e-6, 1.0, log=True)})
    for lr in grid(7, 1e-6, 1.0):
        add(study, {"optimizer": optimizer, "lr": float(lr)},
            abs(math.log10(lr) - math.log10(best_lr)))
    add(study, {"optimizer": optimizer, "lr": best_lr}, 0.0)
    return study


def test_a_best_lr_far_from_adams_classic_values_is_worth_a_second_look():
    (f,) = rule_findings(lr_study(0.3), "far_from_defaults")
    ev = f.evidence
    assert ev["param"] == "lr" and ev["optimizer"] == "adam"
    assert ev["default"] == pytest.approx(1e-3)  # the nearest of 3e-4 and 1e-3
    assert ev["decades"] == pytest.approx(math.log10(300), abs=0.01)
    assert f.action.startswith("worth a second look")


def test_a_best_lr_near_the_classic_values_is_not_flagged():
    assert rule_findings(lr_study(2e-3), "far_from_defaults") == []
    assert rule_findings(lr_study(0.03, optimizer="sgd"), "far_from_defaults") == []


def test_without_an_optimizer_parameter_the_given_optimizer_is_used():
    study = new_study({"lr": bt.Float(1e-6, 1.0, log=True)})
    for lr in grid(7, 1e-6, 1.0):
        add(study, {"lr": float(lr)}, abs(math.log10(lr) + 1))  # best at 0.1
    assert rule_findings(study, "far_from_defaults") == []  # 0.1 is close to SGD's 0.01 ...
    (f,) = rule_findings(study, "far_from_defaults", optimizer="adam")  # ... not to Adam's
    assert f.evidence["optimizer"] == "adam"


def test_an_unusual_momentum_is_flagged():
    study = new_study({"optimizer": bt.Categorical(["momentum"]), "lr": LR,
                       "momentum": bt.Float(0.3, 0.99)})
    for m in grid(6, 0.3, 0.99, log=False):
        add(study, {"optimizer": "momentum", "lr": 1e-2, "momentum": float(m)}, abs(m - 0.4))
    (f,) = [f for f in rule_findings(study, "far_from_defaults")
            if f.evidence["param"] == "momentum"]
    assert f.evidence["default"] == 0.9


# -- the engine -------------------------------------------------------------------------------
def test_findings_come_in_rule_order_with_evidence_and_an_action():
    study = failure_study(lambda i, lr: lr > 0.03)
    found = advise(study, rules=["failure_threshold", "best_at_edge"])
    assert [f.rule for f in found] == sorted((f.rule for f in found), key=list(RULES).index)
    for f in found:
        assert f.message and f.action and f.evidence
        d = f.to_dict()
        assert json.loads(json.dumps(d)) == d
        text = str(f)
        assert text.startswith(f"[{f.rule}]") and "evidence:" in text and "action:" in text


def test_an_empty_or_tiny_study_gets_no_findings():
    assert advise(new_study({"lr": LR})) == []
    study = new_study({"lr": LR})
    add(study, {"lr": 1e-2}, 1.0)
    assert advise(study) == []


def test_an_unknown_rule_is_an_error():
    with pytest.raises(ValueError, match="unknown rule"):
        advise(new_study({"lr": LR}), rules=["nope"])
    with pytest.raises(ValueError, match="Study"):
        advise("not a study")


# -- the command line -------------------------------------------------------------------------
def stored_study(tmp_path, trigger: bool) -> str:
    url = f"sqlite:///{tmp_path / 'advise.db'}"
    study = new_study({"lr": LR, "dropout": bt.Float(0.0, 0.5)}, storage=url, name="s")
    best = 0.1 if trigger else 1e-3
    for i, lr in enumerate(grid(10, 1e-4, 1e-2)):
        d = 0.1 + 0.03 * (i % 5)
        add(study, {"lr": float(lr), "dropout": d},
            (math.log10(lr) - math.log10(best)) ** 2 + (d - 0.2) ** 2)
    return url


def test_cli_advise_prints_one_block_per_finding(tmp_path, capsys):
    url = stored_study(tmp_path, trigger=True)
    assert main(["advise", "--storage", url, "--name", "s", "--rule", "best_at_edge"]) == 0
    out = capsys.readouterr().out
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 1
    assert blocks[0].startswith("[best_at_edge] the best lr")
    assert "\n  evidence: param=lr" in blocks[0] and "\n  action: widen" in blocks[0]


def test_cli_advise_json_and_no_findings(tmp_path, capsys):
    url = stored_study(tmp_path, trigger=False)
    assert main(["advise", "--storage", url, "--name", "s", "--rule", "best_at_edge"]) == 0
    assert capsys.readouterr().out.startswith("no findings for study 's'")
    assert main(["advise", "--storage", url, "--name", "s", "--json",
                 "--rule", "best_at_edge"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_cli_advise_bad_arguments_give_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["advise", "--storage", str(tmp_path / "x.db")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--name" in err
    assert main(["advise", "--storage", str(tmp_path / "missing.db"), "--name", "s"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bayestune advise: error:")
    with pytest.raises(SystemExit) as e:
        main(["advise", "--storage", "x.db", "--name", "s", "--rule", "nope"])
    assert e.value.code == 2


# -- end to end -------------------------------------------------------------------------------
def test_a_real_search_with_too_low_an_lr_range_is_told_to_widen_it():
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from dl_helpers import digits, mlp

    from bayestune.training import TorchObjective

    Xtr, ytr, Xva, yva = digits()
    study = new_study({"lr": bt.Float(1e-6, 1e-4, log=True), "dropout": bt.Float(0.0, 0.3)})
    study.enqueue({"lr": 1e-4, "dropout": 0.15})  # Adam's classic 3e-4, clipped to the range
    objective = TorchObjective(mlp, (Xtr[:600], ytr[:600]), (Xva[:300], yva[:300]),
                               torch.nn.CrossEntropyLoss(), epochs=3, device="cpu",
                               defaults={"batch_size": 32})
    study.optimize(objective, n_trials=8)
    found = advise(study, rules=["best_at_edge"])
    assert [(f.evidence["param"], f.evidence["side"]) for f in found] == [("lr", "high")]
    slow = [t for t in study.trials if "learning_slowly" in t.user_attrs["health"]["flags"]]
    assert slow  # the lowest rates barely move the weights
