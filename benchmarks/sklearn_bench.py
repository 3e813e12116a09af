"""scikit-learn tuning: bayestune's GP against Optuna's GP, TPE and random search.

Six scikit-learn problems on datasets that ship with scikit-learn, four of them
integer-heavy (decision-tree depth and leaf sizes, k of kNN, boosting rounds and depth).
Every method tunes the same estimator on the same cross-validation folds with the same
budget, each through its own library's ask/tell interface with its defaults:

==============  ===============================================================
``bayestune``   ``bt.Study(space, "maximize", sampler=GPSampler(seed=s))`` (what
                ``BayesSearchCV`` runs)
``optuna-gp``   ``optuna.create_study(sampler=optuna.samplers.GPSampler(seed=s))``
``optuna-tpe``  ``optuna.create_study(sampler=optuna.samplers.TPESampler(seed=s))``
``random``      ``bt.samplers.RandomSampler(seed=s)``
==============  ===============================================================

plus the variants of ``benchmarks/bbob.py``'s ``VARIANTS`` as ``bayestune[NAME]``.

Score of a run: its best mean CV score ``b`` minus random search's best ``r`` on the same
seed (hence the same folds, whose level moves every method's score alike), divided by the
largest such gain any method found on that problem (100)::

    score = 100 * (b - r_seed) / max over methods and seeds of (b' - r_seed')

Printed per problem: each method's mean score over seeds ± its standard error (the
seeds' noise: std / sqrt(seeds)), and for bayestune against each GP/TPE peer the mean
paired difference ± its standard error, flagged when the peer leads by more than
two standard errors. Runs are cached per (method, problem, seed) in a JSON-lines file.

``--search-cv`` runs the older comparison instead: ``BayesSearchCV`` against
scikit-learn's ``RandomizedSearchCV`` and Optuna's TPE on the first three problems,
with wall times.

Usage::

    nice -n 10 python benchmarks/sklearn_bench.py               # 6 problems, 5 seeds, 25 candidates
    python benchmarks/sklearn_bench.py --seeds 2 --n-iter 15 --problems tree,knn
    python benchmarks/sklearn_bench.py --search-cv
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
from scipy.stats import loguniform, randint  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_validate,
)
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC, SVR  # noqa: E402
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402

import bayestune as bt  # noqa: E402
from bayestune.sklearn import BayesSearchCV  # noqa: E402


@dataclass
class Task:
    name: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    estimator: Any
    space: dict[str, Any]          # bayestune dimensions
    distributions: dict[str, Any]  # the same space for RandomizedSearchCV (--search-cv)
    classification: bool
    key: str = ""                  # short name for --problems


def _digits_subset() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


TASKS = [
    Task("breast_cancer / SVC(C, gamma)", lambda: load_breast_cancer(return_X_y=True),
         make_pipeline(StandardScaler(), SVC()),
         {"svc__C": bt.Float(1e-2, 1e4, log=True), "svc__gamma": bt.Float(1e-6, 1e1, log=True)},
         {"svc__C": loguniform(1e-2, 1e4), "svc__gamma": loguniform(1e-6, 1e1)}, True, "svc"),
    Task("diabetes / SVR(C, gamma, epsilon)", lambda: load_diabetes(return_X_y=True),
         make_pipeline(StandardScaler(), SVR()),
         {"svr__C": bt.Float(1e-2, 1e4, log=True), "svr__gamma": bt.Float(1e-5, 1e1, log=True),
          "svr__epsilon": bt.Float(1e-3, 1e1, log=True)},
         {"svr__C": loguniform(1e-2, 1e4), "svr__gamma": loguniform(1e-5, 1e1),
          "svr__epsilon": loguniform(1e-3, 1e1)}, False, "svr"),
    Task("digits[:600] / KNN(k, weights, p)", _digits_subset, KNeighborsClassifier(),
         {"n_neighbors": bt.Int(1, 60), "weights": bt.Categorical(["uniform", "distance"]),
          "p": bt.Int(1, 2)},
         {"n_neighbors": randint(1, 61), "weights": ["uniform", "distance"], "p": randint(1, 3)},
         True, "knn"),
    Task("breast_cancer / DecisionTree(depth, leaf, split, criterion)",
         lambda: load_breast_cancer(return_X_y=True), DecisionTreeClassifier(random_state=0),
         {"max_depth": bt.Int(1, 20), "min_samples_leaf": bt.Int(1, 50),
          "min_samples_split": bt.Int(2, 50),
          "criterion": bt.Categorical(["gini", "entropy"])},
         {}, True, "tree"),
    Task("diabetes / DecisionTreeRegressor(depth, leaf, split, max_features)",
         lambda: load_diabetes(return_X_y=True), DecisionTreeRegressor(random_state=0),
         {"max_depth": bt.Int(1, 20), "min_samples_leaf": bt.Int(1, 60),
          "min_samples_split": bt.Int(2, 60), "max_features": bt.Int(1, 10)},
         {}, False, "tree-reg"),
    Task("wine / GradientBoosting(n_estimators, max_depth, learning_rate)",
         lambda: load_wine(return_X_y=True), GradientBoostingClassifier(random_state=0),
         {"n_estimators": bt.Int(5, 100), "max_depth": bt.Int(1, 6),
          "learning_rate": bt.Float(1e-3, 1.0, log=True)},
         {}, True, "gboost"),
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


def run_search_cv(n_iter: int, seeds: int, n_folds: int) -> None:
    print(f"budget: {n_iter} candidates, {n_folds}-fold CV, {seeds} seeds; "
          f"score = best mean CV score (accuracy / R^2), higher is better\n")
    for task in TASKS[:3]:  # the problems RandomizedSearchCV has distributions for
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




# -- ask/tell comparison ----------------------------------------------------------------------

PEERS = ("bayestune", "optuna-gp", "optuna-tpe", "random")


def _optuna_dists(task: Task) -> dict[str, Any]:
    import optuna

    dists: dict[str, Any] = {}
    for name, dim in task.space.items():
        if isinstance(dim, bt.Float):
            dists[name] = optuna.distributions.FloatDistribution(dim.low, dim.high, log=dim.log)
        elif isinstance(dim, bt.Int):
            dists[name] = optuna.distributions.IntDistribution(dim.low, dim.high, log=dim.log)
        else:
            dists[name] = optuna.distributions.CategoricalDistribution(dim.choices)
    return dists


def _cv(task: Task, seed: int, n_folds: int) -> tuple[np.ndarray, np.ndarray, list]:
    X, y = task.load()
    splitter = (StratifiedKFold if task.classification else KFold)(
        n_folds, shuffle=True, random_state=seed)
    return X, y, list(splitter.split(X, y))


def run_one(task: Task, method: str, seed: int, n_iter: int, n_folds: int) -> dict[str, Any]:
    """One search: ``n_iter`` candidates through the method's own ask/tell."""
    from benchmarks.bbob import method_kwargs

    X, y, cv = _cv(task, seed, n_folds)
    memo: dict[str, float] = {}

    def objective(params: dict[str, Any]) -> float:
        key = json.dumps(params, sort_keys=True, default=str)
        if key not in memo:  # a repeated configuration is not refitted (its score is fixed)
            est = task.estimator.set_params(**params)
            memo[key] = float(np.mean(cross_validate(est, X, y, cv=cv)["test_score"]))
        return memo[key]

    kwargs = method_kwargs(method)
    best, trace, n_repeat, ask_s = -math.inf, [], 0, 0.0
    seen: set[str] = set()
    if kwargs is not None or method == "random":
        sampler = bt.samplers.RandomSampler(seed=seed) if method == "random" \
            else bt.samplers.GPSampler(seed=seed, **kwargs)
        study: Any = bt.Study(bt.Space(task.space), "maximize", sampler=sampler)
        dists = None
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        sampler = optuna.samplers.GPSampler(seed=seed) if method == "optuna-gp" \
            else optuna.samplers.TPESampler(seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        dists = _optuna_dists(task)
    t_start = time.perf_counter()
    for _ in range(n_iter):
        t0 = time.perf_counter()
        trial = study.ask() if dists is None else study.ask(fixed_distributions=dists)
        ask_s += time.perf_counter() - t0
        params = dict(trial.params)
        key = json.dumps(params, sort_keys=True, default=str)
        n_repeat += key in seen
        seen.add(key)
        value = objective(params)
        study.tell(trial, value)
        best = max(best, value)
        trace.append(best)
    return {"method": method, "problem": task.key, "seed": seed, "n_iter": n_iter,
            "n_folds": n_folds, "best": best, "trace": trace, "n_repeat": n_repeat,
            "ask_s": ask_s, "wall_s": time.perf_counter() - t_start}


def _se(xs: Sequence[float]) -> float:
    return float(np.std(xs, ddof=1) / math.sqrt(len(xs))) if len(xs) > 1 else float("nan")


def report(records: dict[tuple[str, str, int], dict[str, Any]], tasks: Sequence[Task],
           methods: Sequence[str], seeds: Sequence[int]) -> None:
    print(f"\nscikit-learn problems, {len(seeds)} seeds: normalized score (0 = random search's "
          "best on the same seed and folds, 100 = the largest gain over it that any method "
          "found on the problem), mean ± s.e. over seeds")
    means: dict[str, list[float]] = {m: [] for m in methods}
    header = f"  {'problem':<62}" + "".join(f"{m:>22}" for m in methods)
    print(header)
    diffs_out = []
    for task in tasks:
        runs = {m: [records[(m, task.key, s)]["best"] for s in seeds
                    if (m, task.key, s) in records] for m in methods}
        if any(len(v) != len(seeds) for v in runs.values()):
            print(f"  {task.name:<62} (incomplete)")
            continue
        # each seed has its own folds, whose level moves every method's CV score alike:
        # scores are measured from random search's best on the same seed
        ref = runs["random"]
        span = max(b - r for v in runs.values() for b, r in zip(v, ref, strict=True))
        span = span if span > 1e-12 else 1.0
        sc = {m: [100.0 * (b - r) / span for b, r in zip(v, ref, strict=True)]
              for m, v in runs.items()}
        for m in methods:
            means[m].append(float(np.mean(sc[m])))
        print(f"  {task.name:<62}" + "".join(
            f"{np.mean(sc[m]):>14.1f} ± {_se(sc[m]):>5.1f}" for m in methods))
        if "bayestune" in sc:
            for m in methods:
                if m in ("bayestune", "random"):
                    continue
                d = [a - b for a, b in zip(sc["bayestune"], sc[m], strict=True)]
                flag = "PEER LEADS beyond noise" if np.mean(d) < -2 * _se(d) else ""
                diffs_out.append(f"  {task.key:<9} bayestune - {m:<22} {np.mean(d):+7.1f} ± "
                                 f"{_se(d):5.1f}  {flag}")
    print(f"  {'MEAN over problems':<62}" + "".join(
        f"{np.mean(v):>22.1f}" if v else f"{'-':>22}" for v in means.values()))
    if diffs_out:
        print("\n  paired difference of scores (same seed, same folds), mean ± s.e.; flagged "
              "when the peer leads by more than 2 s.e.")
        for line in diffs_out:
            print(line)
    print("\n  repeated configurations per run, and mean ask() time (s):")
    for m in methods:
        rs = [r for r in records.values() if r["method"] == m]
        if rs:
            print(f"    {m:<24} repeats {np.mean([r['n_repeat'] for r in rs]):5.2f}  ask "
                  f"{sum(r['ask_s'] for r in rs) / sum(r['n_iter'] for r in rs):.3f}")


def run(n_iter: int, seeds: int, n_folds: int, methods: Sequence[str], tasks: Sequence[Task],
        cache: Path, read_cache: Sequence[Path]) -> None:
    records: dict[tuple[str, str, int], dict[str, Any]] = {}
    for path in [*read_cache, cache]:
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if r.get("n_iter") == n_iter and r.get("n_folds") == n_folds:
                    records[(r["method"], r["problem"], int(r["seed"]))] = r
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("a") as out:
        for seed in range(seeds):
            for task in tasks:
                for m in methods:
                    if (m, task.key, seed) in records:
                        continue
                    r = run_one(task, m, seed, n_iter, n_folds)
                    records[(m, task.key, seed)] = r
                    out.write(json.dumps(r) + "\n")
                    out.flush()
                    print(f"  {m:<24} {task.key:<9} s{seed} best {r['best']:.4f} "
                          f"ask {r['ask_s']:.1f}s wall {r['wall_s']:.1f}s", flush=True)
    report(records, tasks, methods, list(range(seeds)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=25)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--methods", default=",".join(PEERS),
                        help="comma list from bayestune, optuna-gp, optuna-tpe, random and "
                             "bayestune[VARIANT] (variants of benchmarks/bbob.py)")
    parser.add_argument("--problems", help=f"comma list from {[t.key for t in TASKS]}")
    parser.add_argument("--cache", type=Path,
                        default=_ROOT / "benchmarks" / ".cache" / "sklearn.jsonl")
    parser.add_argument("--read-cache", type=Path, nargs="*", default=[])
    parser.add_argument("--search-cv", action="store_true",
                        help="BayesSearchCV vs RandomizedSearchCV and Optuna TPE instead")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import torch

    torch.set_num_threads(1)
    if args.search_cv:
        run_search_cv(args.n_iter, args.seeds, args.cv)
        return
    methods = [m for m in args.methods.split(",") if m]
    if "random" not in methods:
        methods.append("random")  # the reference of the score
    keys = args.problems.split(",") if args.problems else [t.key for t in TASKS]
    tasks = [t for t in TASKS if t.key in keys]
    run(args.n_iter, args.seeds, args.cv, methods, tasks, args.cache, args.read_cache)


if __name__ == "__main__":
    main()
