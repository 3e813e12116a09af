"""BayesSearchCV against RandomizedSearchCV (and Optuna's TPE) with the same budget.

For each dataset and seed every method gets ``--n-iter`` candidates scored on the same
cross-validation folds; the script prints the best mean CV score each found (averaged
over seeds), its ratio to random search's, how often it beat random search, and the
wall time of the whole search (CV fits included) as a ratio to random search's.

Optuna is run through its own study with ``cross_validate`` on the same folds (the core of
``OptunaSearchCV``, which Optuna 4+ moved to the separate ``optuna-integration`` package;
that class is used instead when installed).

Usage::

    python benchmarks/sklearn_bench.py               # 3 datasets, 5 seeds, 25 candidates
    python benchmarks/sklearn_bench.py --seeds 2 --n-iter 15
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import loguniform, randint
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.model_selection import (
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_validate,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

import bayestune as bt
from bayestune.sklearn import BayesSearchCV


@dataclass
class Task:
    name: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    estimator: Any
    space: dict[str, Any]          # bayestune dimensions
    distributions: dict[str, Any]  # the same space for RandomizedSearchCV
    classification: bool


def _digits_subset() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


TASKS = [
    Task("breast_cancer / SVC(C, gamma)", lambda: load_breast_cancer(return_X_y=True),
         make_pipeline(StandardScaler(), SVC()),
         {"svc__C": bt.Float(1e-2, 1e4, log=True), "svc__gamma": bt.Float(1e-6, 1e1, log=True)},
         {"svc__C": loguniform(1e-2, 1e4), "svc__gamma": loguniform(1e-6, 1e1)}, True),
    Task("diabetes / SVR(C, gamma, epsilon)", lambda: load_diabetes(return_X_y=True),
         make_pipeline(StandardScaler(), SVR()),
         {"svr__C": bt.Float(1e-2, 1e4, log=True), "svr__gamma": bt.Float(1e-5, 1e1, log=True),
          "svr__epsilon": bt.Float(1e-3, 1e1, log=True)},
         {"svr__C": loguniform(1e-2, 1e4), "svr__gamma": loguniform(1e-5, 1e1),
          "svr__epsilon": loguniform(1e-3, 1e1)}, False),
    Task("digits[:600] / KNN(k, weights, p)", _digits_subset, KNeighborsClassifier(),
         {"n_neighbors": bt.Int(1, 60), "weights": bt.Categorical(["uniform", "distance"]),
          "p": bt.Int(1, 2)},
         {"n_neighbors": randint(1, 61), "weights": ["uniform", "distance"], "p": randint(1, 3)},
         True),
]


def _optuna_best(task: Task, X, y, cv, n_iter: int, seed: int) -> float | None:
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {}
    for name, dim in task.space.items():
        if isinstance(dim, bt.Float):
            dists[name] = optuna.distributions.FloatDistribution(dim.low, dim.high, log=dim.log)
        elif isinstance(dim, bt.Int):
            dists[name] = optuna.distributions.IntDistribution(dim.low, dim.high, log=dim.log)
        else:
            dists[name] = optuna.distributions.CategoricalDistribution(dim.choices)
    try:
        from optuna_integration import OptunaSearchCV
    except ImportError:
        OptunaSearchCV = None  # noqa: N806
    if OptunaSearchCV is not None:
        search = OptunaSearchCV(task.estimator, dists, n_trials=n_iter, cv=cv, refit=False,
                                random_state=seed, verbose=0)
        return float(search.fit(X, y).best_score_)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))

    def objective(trial: Any) -> float:
        params = {n: trial._suggest(n, d) for n, d in dists.items()}
        est = task.estimator.set_params(**params)
        return float(np.mean(cross_validate(est, X, y, cv=cv)["test_score"]))

    study.optimize(objective, n_trials=n_iter)
    return float(study.best_value)


def run(n_iter: int, seeds: int, n_folds: int) -> None:
    print(f"budget: {n_iter} candidates, {n_folds}-fold CV, {seeds} seeds; "
          f"score = best mean CV score (accuracy / R^2), higher is better\n")
    for task in TASKS:
        X, y = task.load()
        rows: dict[str, list[float]] = {"random": [], "bayestune": [], "optuna-tpe": []}
        times: dict[str, list[float]] = {k: [] for k in rows}
        for seed in range(seeds):
            splitter = (StratifiedKFold if task.classification else KFold)(
                n_folds, shuffle=True, random_state=seed)
            cv = list(splitter.split(X, y))
            t = time.perf_counter()
            rows["random"].append(RandomizedSearchCV(
                task.estimator, task.distributions, n_iter=n_iter, cv=cv, refit=False,
                random_state=seed).fit(X, y).best_score_)
            times["random"].append(time.perf_counter() - t)
            t = time.perf_counter()
            rows["bayestune"].append(BayesSearchCV(
                task.estimator, task.space, n_iter=n_iter, cv=cv, refit=False,
                random_state=seed).fit(X, y).best_score_)
            times["bayestune"].append(time.perf_counter() - t)
            t = time.perf_counter()
            best = _optuna_best(task, X, y, cv, n_iter, seed)
            if best is not None:
                rows["optuna-tpe"].append(best)
                times["optuna-tpe"].append(time.perf_counter() - t)
        ref, ref_t = np.mean(rows["random"]), np.mean(times["random"])
        print(task.name)
        print(f"  {'method':<11} {'best CV score':>20} {'ratio':>7} {'beats random':>13} "
              f"{'time s':>7} {'time ratio':>10}")
        for method, scores in rows.items():
            if not scores:
                continue
            wins = sum(s > r + 1e-12 for s, r in zip(scores, rows["random"], strict=True))
            ties = sum(abs(s - r) <= 1e-12 for s, r in zip(scores, rows["random"], strict=True))
            mean_t = np.mean(times[method])
            beat = "-" if method == "random" else f"{wins}/{seeds} (+{ties} tie)"
            print(f"  {method:<11} {np.mean(scores):>12.4f} ± {np.std(scores):.4f} "
                  f"{np.mean(scores) / ref:>7.4f} {beat:>13} {mean_t:>7.1f} "
                  f"{mean_t / ref_t:>10.2f}")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=25)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cv", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    run(args.n_iter, args.seeds, args.cv)


if __name__ == "__main__":
    main()
