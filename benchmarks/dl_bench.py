"""A real (small) deep-learning tuning task: bayestune against Optuna's TPE and random search.

Task: scikit-learn's digits (8x8 images, 10 classes; 1200 training and 597 validation
images, standardized), an MLP 64-64-10 with dropout, 10 epochs per trial, minimize the
final validation cross-entropy. Every method trains through the same
``bt.training.TorchObjective`` (so the same seeded training run for the same
configuration) on the same space, ``bt.presets.deep_learning_space(["momentum", "adam"],
batch_sizes=(16, 32, 64, 128))``: optimizer, lr (log), momentum, weight decay (log),
batch size, dropout. Budget: 30 trials per method per seed, 3 seeds.

Methods:

- ``bayestune``: ``bt.Study(space, seed=s)`` (the default GPSampler) with the classic
  configurations of ``bt.presets.default_configs`` enqueued first;
- ``bayestune+median``: the same, with ``MedianPruner(n_startup_trials=5,
  n_warmup_steps=2)`` (a pruned trial counts as one of the 30);
- ``bayestune+asha``: the same, with ``SuccessiveHalvingPruner(min_resource=1,
  reduction_factor=3)`` (rungs at epochs 1, 3 and 9);
- ``bayestune+asha-last`` (only with ``--methods``): the same, with the pruned trials
  entered into the GP at their last reported value (``pruned_values="last"``) instead of
  the estimate of their final value;
- ``optuna-tpe``: ``optuna.samplers.TPESampler(seed=s)``, default settings;
- ``optuna-tpe+defaults``: the same with the same classic configurations enqueued (to
  tell the GP's share of the gain from the presets' share);
- ``random``: ``bt.samplers.RandomSampler(seed=s)`` (log-uniform on log parameters).

Printed: the best validation loss found by each method (mean and sd over seeds, and each
seed), ratios to random search and to TPE, diverged trials, epochs trained, and the
epochs that pruning saved.

    python benchmarks/dl_bench.py [--trials 30] [--seeds 3] [--epochs 10] [--methods a,b]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import bayestune as bt

OPTIMIZERS = ["momentum", "adam"]
BATCH_SIZES = (16, 32, 64, 128)


def digits() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = ((X - X.mean(0)) / (X.std(0) + 1e-8)).astype(np.float32)
    idx = np.random.default_rng(0).permutation(len(X))
    tr, va = idx[:1200], idx[1200:]
    return X[tr], y[tr].astype(np.int64), X[va], y[va].astype(np.int64)


def model_fn(params: dict[str, Any]) -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(params.get("dropout", 0.0)),
                         nn.Linear(64, 10))


class EpochCounter(bt.training.Callback):
    """Counts the epochs a method trains (pruned and diverged runs included)."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_train_end(self, state: bt.training.RunState) -> None:
        self.epochs += len(state.val_losses)


def best_value(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return min(finite) if finite else math.nan


Objective = bt.training.TorchObjective


def _bt_result(study: bt.Study) -> tuple[float, int]:
    failed = sum(t.state is bt.TrialState.FAILED for t in study.trials)
    return study.best_value, failed


def run_bayestune(objective: Objective, space: bt.Space, seed: int, n_trials: int,
                  pruner: bt.pruners.Pruner | None, pruned_values: str = "estimate"
                  ) -> tuple[float, int]:
    sampler = bt.samplers.GPSampler(seed=seed, pruned_values=pruned_values)
    study = bt.Study(space, sampler=sampler, pruner=pruner)
    for config in bt.presets.default_configs(OPTIMIZERS, batch_sizes=BATCH_SIZES):
        study.enqueue(config)
    study.optimize(objective, n_trials=n_trials)
    return _bt_result(study)


def run_random(objective: Objective, space: bt.Space, seed: int,
               n_trials: int) -> tuple[float, int]:
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    return _bt_result(study)


def run_tpe(objective: Objective, space: bt.Space, seed: int, n_trials: int,
            enqueue: bool) -> tuple[float, int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a diverged trial is not news
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    if enqueue:
        for config in bt.presets.default_configs(OPTIMIZERS, batch_sizes=BATCH_SIZES):
            study.enqueue_trial(config)

    def tpe_objective(trial: Any) -> float:
        params = {}
        for name, dim in space.dims.items():
            if isinstance(dim, bt.Categorical):
                params[name] = trial.suggest_categorical(name, list(dim.choices))
            else:
                params[name] = trial.suggest_float(name, dim.low, dim.high, log=dim.log)
        result = objective.run(params)
        return result.value if result.value is not None else float("nan")  # -> FAIL

    study.optimize(tpe_objective, n_trials=n_trials)
    failed = sum(t.state is optuna.trial.TrialState.FAIL for t in study.trials)
    return best_value([t.value for t in study.trials]), failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--methods", default=None,
                    help="comma-separated subset of the methods (default: all but "
                         "bayestune+asha-last)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    Xtr, ytr, Xva, yva = digits()
    space = bt.presets.deep_learning_space(OPTIMIZERS, batch_sizes=BATCH_SIZES)
    methods: dict[str, Callable[[Objective, int], tuple[float, int]]] = {
        "bayestune": lambda o, s: run_bayestune(o, space, s, args.trials, None),
        "bayestune+median": lambda o, s: run_bayestune(
            o, space, s, args.trials, bt.pruners.MedianPruner(n_startup_trials=5,
                                                              n_warmup_steps=2)),
        "bayestune+asha": lambda o, s: run_bayestune(
            o, space, s, args.trials, bt.pruners.SuccessiveHalvingPruner(min_resource=1,
                                                                         reduction_factor=3)),
        # pruned trials enter the GP with their last reported value (the old treatment)
        "bayestune+asha-last": lambda o, s: run_bayestune(
            o, space, s, args.trials, bt.pruners.SuccessiveHalvingPruner(min_resource=1,
                                                                         reduction_factor=3),
            pruned_values="last"),
        "optuna-tpe": lambda o, s: run_tpe(o, space, s, args.trials, enqueue=False),
        "optuna-tpe+defaults": lambda o, s: run_tpe(o, space, s, args.trials, enqueue=True),
        "random": lambda o, s: run_random(o, space, s, args.trials),
    }
    if args.methods is None:
        methods.pop("bayestune+asha-last")
    else:
        wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = sorted(set(wanted) - set(methods))
        if unknown:
            ap.error(f"unknown methods {unknown}; choose from {sorted(methods)}")
        methods = {m: methods[m] for m in wanted}
    print(f"digits MLP 64-64-10, {args.epochs} epochs per trial, {args.trials} trials x "
          f"{args.seeds} seeds per method; space: {', '.join(space.names)}")
    results: dict[str, dict[str, Any]] = {}
    for name, run in methods.items():
        bests, epochs, diverged, seconds = [], 0, 0, 0.0
        for seed in range(args.seeds):
            counter = EpochCounter()
            objective = bt.training.TorchObjective(
                model_fn, (Xtr, ytr), (Xva, yva), nn.CrossEntropyLoss(), epochs=args.epochs,
                device="cpu", seed=0, callbacks=[counter])
            t = time.perf_counter()
            best, failed = run(objective, seed)
            seconds += time.perf_counter() - t
            bests.append(best)
            epochs += counter.epochs
            diverged += failed
        results[name] = {"bests": bests, "epochs": epochs, "diverged": diverged,
                         "seconds": seconds}
    nan = float("nan")
    rnd = statistics.mean(results["random"]["bests"]) if "random" in results else nan
    tpe = statistics.mean(results["optuna-tpe"]["bests"]) if "optuna-tpe" in results else nan
    print(f"\n{'method':<22} {'best val loss':>16} {'per seed':>26} {'/random':>8} {'/tpe':>6} "
          f"{'diverged':>9} {'epochs':>7} {'time s':>7}")
    for name, r in results.items():
        m = statistics.mean(r["bests"])
        sd = statistics.stdev(r["bests"]) if len(r["bests"]) > 1 else 0.0
        seeds = " ".join(f"{v:.4f}" for v in r["bests"])
        print(f"{name:<22} {m:8.4f} ± {sd:.4f} {seeds:>26} {m / rnd:8.3f} {m / tpe:6.3f} "
              f"{r['diverged']:>9} {r['epochs']:>7} {r['seconds']:7.1f}")
    if "bayestune" not in results:
        return
    full = results["bayestune"]["epochs"]
    print()
    for name in [m for m in results if m.startswith("bayestune+")]:
        pruned = results[name]["epochs"]
        print(f"epochs saved by pruning ({name} vs bayestune): {full - pruned} of {full} "
              f"({100 * (full - pruned) / full:.0f}%), best val loss "
              f"{statistics.mean(results[name]['bests']):.4f} vs "
              f"{statistics.mean(results['bayestune']['bests']):.4f}")


if __name__ == "__main__":
    main()
