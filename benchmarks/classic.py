"""The classic checks: Hartmann-6 at 60 evaluations and Branin at 30, ten seeds each.

Two small problems where a GP sampler should be reliable, not just good on average:

* **Hartmann-6** (60 evaluations): how many seeds end in the global basin (regret
  < 0.01)? The function has a well-known local optimum at regret about 0.12 (value
  -3.2032 against -3.3224) where an over-exploiting search settles.
* **Branin** (30 evaluations): the largest regret over the seeds (target: none above
  0.05). Branin has three global minima; a search that polishes a boundary point stays
  at a value of 1.94 (regret 1.55).

bayestune's ``GPSampler`` (and the variants of ``benchmarks/bbob.py``'s ``VARIANTS``, as
``bayestune[NAME]``) and Optuna's ``GPSampler`` run side by side, each through its own
ask/tell with its defaults, seeds 0-9. Runs are cached in a JSON-lines file keyed by
(method, problem, seed), as in ``bbob.py``.

Usage (from the repository root)::

    nice -n 10 python benchmarks/classic.py
    python benchmarks/classic.py --methods bayestune,bayestune[no-warp],optuna-gp
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from benchmarks.bbob import method_kwargs  # noqa: E402
from benchmarks.problems import get_problem  # noqa: E402

CHECKS = {"hartmann6": 60, "branin": 30}
GLOBAL_BASIN = 0.01  # Hartmann-6: regret below this is the global basin
H6_LOCAL = (0.08, 0.16)  # Hartmann-6: the known local optimum's regret (about 0.12)
BRANIN_TARGET = 0.05


def run_one(method: str, problem_name: str, seed: int) -> dict[str, Any]:
    import logging

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("bayestune").setLevel(logging.ERROR)
    problem = get_problem(problem_name)
    n = CHECKS[problem_name]
    kwargs = method_kwargs(method)
    if kwargs is not None:
        import bayestune as bt

        study = bt.Study(problem.to_bayestune_space(),
                         sampler=bt.samplers.GPSampler(seed=seed, **kwargs))

        def ask() -> tuple[Any, dict[str, Any]]:
            t = study.ask()
            return t, dict(t.params)
    elif method == "optuna-gp":
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))
        dists = problem.to_optuna_distributions()

        def ask() -> tuple[Any, dict[str, Any]]:
            t = study.ask(fixed_distributions=dists)
            return t, dict(t.params)
    else:
        raise ValueError(f"unknown method {method!r}")
    best, trace, xs = np.inf, [], []
    t0 = time.perf_counter()
    for _ in range(n):
        handle, params = ask()
        v = problem(params)
        study.tell(handle, v)
        best = min(best, v)
        trace.append(float(f"{best - problem.f_opt:.4g}"))
        xs.append([float(params[k]) for k in sorted(params)])
    return {"method": method, "problem": problem_name, "seed": seed, "n": n,
            "regret": float(best - problem.f_opt), "trace": trace, "x": xs,
            "wall_s": time.perf_counter() - t0}


def summarize(records: dict[tuple[str, str, int], dict[str, Any]], methods: Sequence[str],
              seeds: Sequence[int]) -> None:
    print(f"\nClassic checks ({len(seeds)} seeds each)")
    for m in methods:
        h = [records[(m, "hartmann6", s)]["regret"] for s in seeds
             if (m, "hartmann6", s) in records]
        b = [records[(m, "branin", s)]["regret"] for s in seeds if (m, "branin", s) in records]
        print(f"\n  {m}")
        if h:
            glob = sum(r < GLOBAL_BASIN for r in h)
            loc = sum(H6_LOCAL[0] <= r <= H6_LOCAL[1] for r in h)
            print(f"    hartmann6 @60: global basin (regret < {GLOBAL_BASIN}) {glob}/{len(h)}, "
                  f"at the local optimum (regret ~0.12) {loc}/{len(h)}, median regret "
                  f"{np.median(h):.3g}; regrets {[float(f'{r:.3g}') for r in h]}")
        if b:
            print(f"    branin @30:    max regret {max(b):.3g}, seeds above {BRANIN_TARGET}: "
                  f"{sum(r > BRANIN_TARGET for r in b)}/{len(b)}, median {np.median(b):.3g}; "
                  f"regrets {[float(f'{r:.3g}') for r in b]}")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="bayestune,optuna-gp")
    ap.add_argument("--problems", default="hartmann6,branin")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--cache", type=Path,
                    default=_ROOT / "benchmarks" / ".cache" / "classic.jsonl")
    ap.add_argument("--read-cache", type=Path, nargs="*", default=[])
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    problems = [p for p in args.problems.split(",") if p]
    seeds = list(range(args.seeds))
    records: dict[tuple[str, str, int], dict[str, Any]] = {}
    for path in [*args.read_cache, args.cache]:
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                records[(r["method"], r["problem"], int(r["seed"]))] = r
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    with args.cache.open("a") as out:
        for p in problems:
            for s in seeds:
                for m in methods:
                    if (m, p, s) in records:
                        continue
                    r = run_one(m, p, s)
                    records[(m, p, s)] = r
                    out.write(json.dumps(r) + "\n")
                    out.flush()
                    print(f"  {m:<28} {p:<10} s{s}  regret {r['regret']:.3g}  "
                          f"{r['wall_s']:.1f}s", flush=True)
    summarize(records, methods, seeds)


if __name__ == "__main__":
    main()
