"""The Transformers callback and TrainingArguments helper, on a tiny randomly initialised
BERT and a synthetic sequence-classification set (nothing is downloaded)."""

from __future__ import annotations

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")  # the Trainer needs it ("transformers[torch]")

import bayestune as bt  # noqa: E402
from bayestune.integrations.transformers import (  # noqa: E402
    BayesTuneCallback,
    training_arguments,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

VOCAB, SEQ, N_TRAIN, N_EVAL, BATCH = 64, 12, 64, 32, 16
STEPS_PER_EPOCH = N_TRAIN // BATCH

SPACE = bt.Space({
    "learning_rate": bt.Float(1e-4, 1e-2, log=True),
    "weight_decay": bt.Float(1e-4, 1e-1, log=True),
    "warmup_ratio": bt.Float(0.0, 0.2),
    "per_device_train_batch_size": bt.Categorical([BATCH]),
    "hidden_dropout_prob": bt.Float(0.0, 0.3),  # a model parameter, not a training argument
})


class PruneFromStep(bt.pruners.Pruner):
    """Prunes every trial once it has reported a step >= ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def prune(self, trials, trial, direction):
        return trial.last_step is not None and trial.last_step >= self.step


class Synthetic(torch.utils.data.Dataset):
    """Label 1 when token 5 occurs more often than token 6: learnable from counts."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(3, VOCAB, (n, SEQ), generator=g)
        self.ids[:, 0] = 1  # a [CLS]-like first token
        self.labels = ((self.ids == 5).sum(1) > (self.ids == 6).sum(1)).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(SEQ, dtype=torch.long),
                "labels": self.labels[i]}


@pytest.fixture(scope="module")
def data():
    return Synthetic(N_TRAIN, 0), Synthetic(N_EVAL, 1)


def tiny_model(dropout: float):
    config = transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=SEQ, num_labels=2,
        hidden_dropout_prob=dropout,
    )
    return transformers.AutoModelForSequenceClassification.from_config(config)


def base_args(tmp_path, **kw):
    return dict(output_dir=str(tmp_path), num_train_epochs=3, eval_strategy="epoch",
                save_strategy="no", logging_strategy="no", report_to=[], use_cpu=True,
                disable_tqdm=True, seed=0, **kw)


def make_objective(data, tmp_path, seen=None, args_kw=None, **cb_kw):
    train, val = data

    def objective(trial):
        cb = BayesTuneCallback(trial, **cb_kw)
        args = training_arguments(trial, base_args(tmp_path, **(args_kw or {})))
        trainer = transformers.Trainer(
            model=tiny_model(trial.params["hidden_dropout_prob"]), args=args,
            train_dataset=train, eval_dataset=val, callbacks=[cb],
        )
        trainer.train()
        if seen is not None:
            seen.append(trainer.state.global_step)
        cb.check_pruned()
        return trainer.evaluate()["eval_loss"]
    return objective


def test_reports_eval_loss_after_each_evaluation_and_completes(data, tmp_path):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(make_objective(data, tmp_path, step_by="global_step"), n_trials=2)
    for t in study.trials:
        assert t.state is bt.TrialState.COMPLETE, t.fail_reason
        # one report per epoch, numbered by global step
        assert sorted(t.intermediate_values) == [STEPS_PER_EPOCH * e for e in (1, 2, 3)]
        # the final trainer.evaluate() (outside training) is not reported again, and gives
        # the value of the last in-training evaluation
        assert t.value == pytest.approx(t.intermediate_values[3 * STEPS_PER_EPOCH], rel=1e-5)


def test_pruner_stops_training_through_control_and_the_trial_ends_pruned(data, tmp_path):
    steps: list[int] = []
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=1),
                     pruner=PruneFromStep(2 * STEPS_PER_EPOCH))
    study.optimize(make_objective(data, tmp_path, seen=steps, step_by="global_step"),
                   n_trials=1)
    (t,) = study.trials
    assert t.state is bt.TrialState.PRUNED
    assert sorted(t.intermediate_values) == [STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
    assert steps == [2 * STEPS_PER_EPOCH]  # stopped after two of the three epochs
    assert f"pruned at global_step {2 * STEPS_PER_EPOCH}" in t.system_attrs["reason"]


def test_step_by_epoch_and_a_bare_metric_name(data, tmp_path):
    study = bt.Study(SPACE, "minimize", sampler=bt.samplers.RandomSampler(seed=2),
                     pruner=PruneFromStep(1))
    # "loss" finds "eval_loss"; epochs are numbered from 1
    study.optimize(make_objective(data, tmp_path, monitor="loss", step_by="epoch"), n_trials=1)
    (t,) = study.trials
    assert t.state is bt.TrialState.PRUNED
    assert sorted(t.intermediate_values) == [1]


TWO_BATCH_SIZES = bt.Space({**SPACE.dims, "per_device_train_batch_size": bt.Categorical([8, 16])})


def _by_batch_size(study):
    return {t.params["per_device_train_batch_size"]: sorted(t.intermediate_values)
            for t in study.trials}


def test_a_searched_batch_size_reports_by_epoch_so_runs_compare_at_equal_training(
        data, tmp_path):
    study = bt.Study(TWO_BATCH_SIZES, sampler=bt.samplers.GridSampler(
        {"per_device_train_batch_size": [8, 16], "learning_rate": [1e-3],
         "weight_decay": [1e-3], "warmup_ratio": [0.0], "hidden_dropout_prob": [0.0]}))
    study.optimize(make_objective(data, tmp_path), n_trials=2)
    assert _by_batch_size(study) == {8: [1, 2, 3], 16: [1, 2, 3]}  # not steps 8/16/24 vs 4/8/12


def test_a_searched_batch_size_with_step_evaluation_reports_examples_seen(data, tmp_path):
    study = bt.Study(TWO_BATCH_SIZES, sampler=bt.samplers.GridSampler(
        {"per_device_train_batch_size": [8, 16], "learning_rate": [1e-3],
         "weight_decay": [1e-3], "warmup_ratio": [0.0], "hidden_dropout_prob": [0.0]}))
    # evaluate every 4 steps: after 32 examples at batch 8, after 64 at batch 16
    train, val = data
    base = base_args(tmp_path)
    base.update(eval_strategy="steps", eval_steps=4, num_train_epochs=1)

    def run(trial):
        cb = BayesTuneCallback(trial)
        trainer = transformers.Trainer(
            model=tiny_model(0.0), args=training_arguments(trial, base),
            train_dataset=train, eval_dataset=val, callbacks=[cb])
        trainer.train()
        assert cb.step_by == "examples"
        return cb.last_value

    study.optimize(run, n_trials=2)
    assert _by_batch_size(study) == {8: [32, 64], 16: [64]}


def test_a_fixed_batch_size_keeps_global_steps(data, tmp_path):
    space = bt.Space({k: v for k, v in SPACE.dims.items() if k != "per_device_train_batch_size"})
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(make_objective(data, tmp_path, args_kw={"per_device_train_batch_size": BATCH}),
                   n_trials=1)
    assert sorted(study.trials[0].intermediate_values) == [STEPS_PER_EPOCH * e for e in (1, 2, 3)]


def test_training_arguments_accepts_a_finished_trial(tmp_path):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=5))
    trial = study.ask()
    study.tell(trial, 0.5)
    args = training_arguments(study.trials[-1], base_args(tmp_path))
    assert args.learning_rate == study.trials[-1].params["learning_rate"]
    assert args.output_dir == str(tmp_path / "trial-0")
    assert training_arguments(study.best_trial, base_args(tmp_path)).to_dict() == args.to_dict()
    with pytest.raises(bt.InvalidValueError, match="FrozenTrial"):
        training_arguments(42, base_args(tmp_path))


def test_unknown_metric_fails_the_trial_naming_the_metrics(data, tmp_path):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=3))
    study.optimize(make_objective(data, tmp_path, monitor="eval_f1"), n_trials=1)
    (t,) = study.trials
    assert t.state is bt.TrialState.FAILED
    assert "eval_f1" in t.fail_reason and "eval_loss" in t.fail_reason


# -- training_arguments ----------------------------------------------------------------

def test_training_arguments_maps_params_onto_fields(tmp_path):
    study = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=4))
    trial = study.ask()
    base = transformers.TrainingArguments(**base_args(tmp_path))
    args = training_arguments(trial, base)
    p = trial.params
    assert args.learning_rate == p["learning_rate"]
    assert args.weight_decay == p["weight_decay"]
    assert args.per_device_train_batch_size == BATCH
    assert args.num_train_epochs == 3  # kept from base
    warmup = getattr(args, "warmup_ratio", None) or args.warmup_steps
    assert warmup == pytest.approx(p["warmup_ratio"])
    assert not hasattr(args, "hidden_dropout_prob")
    assert args.output_dir == str(tmp_path / f"trial-{trial.number}")
    assert base.learning_rate == 5e-5 and base.output_dir == str(tmp_path)  # base untouched
    assert type(args) is type(base)
    # the dict form gives the same arguments
    assert training_arguments(trial, base_args(tmp_path)).to_dict() == args.to_dict()


def test_training_arguments_mapping_renames_and_skips(tmp_path):
    params = {"lr": 3e-4, "bs": 8.0, "epochs": 2, "warmup_ratio": 0.1}
    args = training_arguments(
        params, base_args(tmp_path),
        mapping={"lr": "learning_rate", "bs": "per_device_train_batch_size",
                 "epochs": "num_train_epochs", "warmup_ratio": None},
    )
    assert args.learning_rate == 3e-4
    assert args.per_device_train_batch_size == 8 and isinstance(args.per_device_train_batch_size,
                                                                 int)
    assert args.num_train_epochs == 2
    assert (getattr(args, "warmup_ratio", 0.0) or 0.0) == 0.0 and args.warmup_steps == 0
    assert args.output_dir == str(tmp_path)  # a plain dict of params has no trial number


def test_training_arguments_rejects_a_bad_mapping(tmp_path):
    with pytest.raises(bt.InvalidValueError, match="not a TrainingArguments field"):
        training_arguments({"lr": 1e-3}, base_args(tmp_path), mapping={"lr": "learnin_rate"})
    with pytest.raises(bt.InvalidValueError, match="lacks"):
        training_arguments({"lr": 1e-3}, base_args(tmp_path), mapping={"wd": "weight_decay"})


def test_callback_rejects_bad_arguments():
    with pytest.raises(bt.InvalidValueError, match="trial"):
        BayesTuneCallback(trial=None)
    trial = bt.Study(SPACE, sampler=bt.samplers.RandomSampler(seed=0)).ask()
    with pytest.raises(bt.InvalidValueError, match="step_by"):
        BayesTuneCallback(trial, step_by="batch")
