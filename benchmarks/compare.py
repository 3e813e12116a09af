"""bayestune vs Optuna: optimization quality, ask() latency and memory.

Every sampler runs through its own library's ask/tell API on the problems of
``benchmarks/problems.py`` and is scored with Bayesmark's normalized score::

    score = 100 * (1 - (best - f_opt) / (f_random_median - f_opt))

where ``best`` is the best value a run found within the trial budget and
``f_random_median`` the median over seeds of random search's best at the same budget,
computed in the same run (100 = found the optimum, 0 = as good as the median random
search, negative = worse). Then the median and p95 ask() latency of bayestune's and
Optuna's GP samplers at 50, 100 and 500 completed trials in 6-D, bayestune's at 1,000,
and the peak memory (RSS high-water mark) of each of those processes.

Seeds run in parallel in at most ``--workers`` processes (default 2), each with one
torch / BLAS thread, so that no library gets more cores than another; latency and
memory are measured one process at a time, each in a fresh process.

Usage (from the repository root)::

    python benchmarks/compare.py                      # full run: 10 seeds x 50 trials
    python benchmarks/compare.py --quick              # a smoke run, a few minutes
    python benchmarks/compare.py --seeds 3 --trials 30 --problems branin,dl_mixed \\
        --samplers bayestune-gp,optuna-gp --skip-latency --json results.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

# One thread per worker, set before numpy / torch load (spawned children inherit it).
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run as a script from anywhere, without installing
    sys.path.insert(0, str(_ROOT))

import multiprocessing as mp  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.problems import PROBLEMS, Problem, get_problem  # noqa: E402

SAMPLERS = ("bayestune-gp", "optuna-gp", "optuna-tpe", "random")
RANDOM = "random"
LATENCY_PROBLEM = "hartmann6"  # 6-D


# -- worker side ------------------------------------------------------------------------------


def _init_worker(threads: int) -> None:
    import logging

    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass
    warnings.filterwarnings("ignore")
    logging.getLogger("bayestune").setLevel(logging.ERROR)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
    except ImportError:
        pass


class _Runner:
    """One library's ask/tell loop behind ``ask() -> (handle, params)`` / ``tell``."""

    def __init__(self, sampler: str, problem: Problem, seed: int) -> None:
        self.kind = sampler
        if sampler in ("bayestune-gp", RANDOM):
            import bayestune as bt

            s = bt.samplers.GPSampler(seed=seed) if sampler == "bayestune-gp" \
                else bt.samplers.RandomSampler(seed=seed)
            self.study = bt.Study(problem.to_bayestune_space(), sampler=s)
            self.lib = "bayestune"
        else:
            import optuna

            if sampler == "optuna-gp":
                s = optuna.samplers.GPSampler(seed=seed)
            elif sampler == "optuna-tpe":
                s = optuna.samplers.TPESampler(seed=seed)
            else:
                raise ValueError(f"unknown sampler {sampler!r}; choose from {SAMPLERS}")
            self.study = optuna.create_study(direction="minimize", sampler=s)
            self.dists = problem.to_optuna_distributions()
            self.lib = "optuna"

    def ask(self) -> tuple[Any, dict[str, Any]]:
        if self.lib == "bayestune":
            t = self.study.ask()
            return t, dict(t.params)
        t = self.study.ask(fixed_distributions=self.dists)
        return t, dict(t.params)

    def tell(self, handle: Any, value: float) -> None:
        if self.lib == "bayestune":
            self.study.tell(handle, value)  # NaN records a FAILED trial
            return
        import optuna

        if math.isfinite(value):
            self.study.tell(handle, value)
        else:  # what Optuna users do with a diverged run
            self.study.tell(handle, state=optuna.trial.TrialState.FAIL)

    def add(self, params: dict[str, Any], value: float, dists: Any = None) -> None:
        if self.lib == "bayestune":
            self.study.add_trial(params, value)
            return
        import optuna

        self.study.add_trial(optuna.trial.create_trial(
            params=params, distributions=self.dists, value=value))


def run_search(problem_name: str, sampler: str, seed: int, n_trials: int) -> dict[str, Any]:
    """One optimization run; returns its best value, trace and ask() times."""
    problem = get_problem(problem_name)
    runner = _Runner(sampler, problem, seed)
    best = math.inf
    trace, ask_s = [], []
    n_nan = 0
    start = time.perf_counter()
    for _ in range(n_trials):
        t0 = time.perf_counter()
        handle, params = runner.ask()
        ask_s.append(time.perf_counter() - t0)
        value = problem(params)
        if not math.isfinite(value):
            n_nan += 1
        elif value < best:
            best = value
        runner.tell(handle, value)
        trace.append(best)
    return {"problem": problem_name, "sampler": sampler, "seed": seed, "best": best,
            "trace": trace, "n_nan": n_nan, "ask_s": ask_s,
            "wall_s": time.perf_counter() - start}


def measure_latency(sampler: str, n_prefill: int, n_asks: int, seed: int) -> dict[str, Any]:
    """ask() times after ``n_prefill`` told random trials (6-D), and the process's peak RSS."""
    import resource

    problem = get_problem(LATENCY_PROBLEM)
    rng = np.random.default_rng(seed)
    runner = _Runner(sampler, problem, seed)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(n_prefill):
        p = problem.random_params(rng)
        runner.add(p, problem(p))
    times = []
    # One more ask than timed: the first one in a process pays for lazy imports and a
    # cold hyperparameter fit (both libraries warm-start later fits), so it is reported
    # apart and the median / p95 describe a study that is already running.
    for _ in range(n_asks + 1):
        t0 = time.perf_counter()
        handle, params = runner.ask()
        times.append(time.perf_counter() - t0)
        runner.tell(handle, problem(params))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"sampler": sampler, "n": n_prefill, "first_s": times[0], "times": times[1:],
            "peak_rss_mib": peak / 1024, "rss_before_prefill_mib": rss_before / 1024}


# -- scoring ----------------------------------------------------------------------------------


def normalized_score(best: float, f_opt: float, f_random_median: float) -> float:
    """Bayesmark's normalized score: 100 at the optimum, 0 at the median random search."""
    if not math.isfinite(best):  # no completed trial at all
        return 0.0
    denom = f_random_median - f_opt
    if denom <= 1e-12:  # random search already found the optimum: nothing to normalize by
        return 100.0 if best - f_opt <= 1e-12 else 0.0
    return 100.0 * (1.0 - (best - f_opt) / denom)


def summarize(results: list[dict[str, Any]], problems: Sequence[str],
              samplers: Sequence[str]) -> dict[str, Any]:
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        by.setdefault((r["problem"], r["sampler"]), []).append(r)
    table: dict[str, dict[str, Any]] = {}
    for prob in problems:
        p = get_problem(prob)
        rand = [r["best"] for r in by.get((prob, RANDOM), [])]
        f_rand = float(np.median(rand))
        row: dict[str, Any] = {"f_opt": p.f_opt, "f_random_median": f_rand}
        for s in samplers:
            runs = by.get((prob, s), [])
            scores = [normalized_score(r["best"], p.f_opt, f_rand) for r in runs]
            asks = [t for r in runs for t in r["ask_s"]]
            row[s] = {
                "score_mean": float(np.mean(scores)),
                "score_sem": float(np.std(scores, ddof=1) / math.sqrt(len(scores)))
                if len(scores) > 1 else 0.0,
                "best_median": float(np.median([r["best"] for r in runs])),
                "nan_fraction": float(np.mean([r["n_nan"] / len(r["trace"]) for r in runs])),
                "ask_mean_s": float(np.mean(asks)) if asks else float("nan"),
                "scores": scores,
            }
        table[prob] = row
    overall = {s: float(np.mean([table[p][s]["score_mean"] for p in problems]))
               for s in samplers}
    return {"per_problem": table, "mean_over_problems": overall}


# -- printing ---------------------------------------------------------------------------------


def _rule(widths: Sequence[int]) -> str:
    return "+".join("-" * (w + 2) for w in widths).join("++")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = _rule(widths)
    print(f"\n{title}")
    print(line)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print(line.replace("-", "="))
    for r in rows:
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        print("| " + " | ".join(cells) + " |")
    print(line)


def print_scores(summary: dict[str, Any], problems: Sequence[str], samplers: Sequence[str],
                 n_seeds: int, n_trials: int) -> None:
    rows = []
    for prob in problems:
        row = summary["per_problem"][prob]
        rows.append([prob] + [f"{row[s]['score_mean']:6.1f} ± {row[s]['score_sem']:4.1f}"
                              for s in samplers])
    rows.append(["MEAN over problems"] + [f"{summary['mean_over_problems'][s]:6.1f}"
                                         for s in samplers])
    print_table(f"Normalized score (100 = optimum, 0 = median random search; mean ± s.e. "
                f"over {n_seeds} seeds, {n_trials} trials)", ["problem", *samplers], rows)

    rows = []
    for prob in problems:
        row = summary["per_problem"][prob]
        rows.append([prob, f"{row['f_opt']:.6g}", f"{row['f_random_median']:.6g}"]
                    + [f"{row[s]['best_median']:.6g}" for s in samplers])
    print_table("Median best value found (raw)", ["problem", "f_opt", "random median best",
                                                  *samplers], rows)

    rows = [[prob] + [f"{summary['per_problem'][prob][s]['ask_mean_s']:.3f}" for s in samplers]
            for prob in problems]
    print_table("Mean ask() time during the runs (s)", ["problem", *samplers], rows)

    if "dl_mixed" in problems:
        row = summary["per_problem"]["dl_mixed"]
        print_table("dl_mixed: fraction of trials spent in the diverging (NaN) region",
                    ["sampler", "NaN fraction"],
                    [[s, f"{100 * row[s]['nan_fraction']:.1f} %"] for s in samplers])


def _pct(xs: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def print_latency(lat: list[dict[str, Any]]) -> None:
    by = {(r["sampler"], r["n"]): r for r in lat}
    counts = sorted({r["n"] for r in lat})
    rows = []
    for n in counts:
        bt_r, op_r = by.get(("bayestune-gp", n)), by.get(("optuna-gp", n))
        cells = [str(n)]
        for r in (bt_r, op_r):
            cells += [f"{statistics.median(r['times']):.3f}", f"{_pct(r['times'], 95):.3f}",
                      f"{r['first_s']:.3f}"] if r else ["-", "-", "-"]
        if bt_r and op_r:
            cells.append(f"{statistics.median(bt_r['times']) / statistics.median(op_r['times']):.2f}")
        else:
            cells.append("-")
        rows.append(cells)
    print_table(
        f"ask() latency in 6-D ({LATENCY_PROBLEM}) after N told trials, seconds "
        "(first = the first ask in a fresh process, not in median / p95; "
        "ratio = bayestune median / Optuna median, lower is better)",
        ["N", "bayestune median", "bayestune p95", "bayestune first", "optuna-gp median",
         "optuna-gp p95", "optuna-gp first", "ratio"], rows)
    rows = [[r["sampler"], str(r["n"]), f"{r['peak_rss_mib']:.0f}",
             f"{r['peak_rss_mib'] - r['rss_before_prefill_mib']:.0f}"] for r in lat]
    print_table("Peak memory (RSS high-water mark of each measuring process, MiB)",
                ["sampler", "N trials", "peak RSS", "growth after imports"], rows)


# -- driver -----------------------------------------------------------------------------------


def _pool(workers: int, threads: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads,))


def run_scores(problems: Sequence[str], samplers: Sequence[str], seeds: Sequence[int],
               n_trials: int, workers: int, threads: int) -> list[dict[str, Any]]:
    # GP runs first so that the slow jobs do not end up alone at the tail.
    order = {"bayestune-gp": 0, "optuna-gp": 1, "optuna-tpe": 2, RANDOM: 3}
    jobs = sorted(((p, s, seed) for p in problems for s in samplers for seed in seeds),
                  key=lambda j: (order.get(j[1], 9), j[0], j[2]))
    results = []
    t0 = time.perf_counter()
    with _pool(workers, threads) as ex:
        futs = {ex.submit(run_search, p, s, seed, n_trials): (p, s, seed)
                for p, s, seed in jobs}
        for i, fut in enumerate(as_completed(futs), 1):
            r = fut.result()
            results.append(r)
            print(f"  [{i:3d}/{len(jobs)}] {r['problem']:17s} {r['sampler']:13s} seed {r['seed']:2d}"
                  f"  best {r['best']:.6g}  ({r['wall_s']:.1f} s)  [{time.perf_counter() - t0:.0f} s]",
                  flush=True)
    return results


def run_latency(counts: Sequence[int], n_asks: int, big_count: int | None,
                samplers: Sequence[str], threads: int) -> list[dict[str, Any]]:
    tasks = [(s, n) for n in counts for s in ("bayestune-gp", "optuna-gp") if s in samplers]
    if big_count and "bayestune-gp" in samplers:
        tasks.append(("bayestune-gp", big_count))
    out = []
    for s, n in tasks:
        with _pool(1, threads) as ex:  # a fresh process each: clean RSS, nothing else running
            r = ex.submit(measure_latency, s, n, n_asks, 0).result()
        out.append(r)
        print(f"  latency {s:13s} N={n:5d}: median {statistics.median(r['times']):.3f} s, "
              f"p95 {_pct(r['times'], 95):.3f} s, first {r['first_s']:.3f} s, peak RSS {r['peak_rss_mib']:.0f} MiB",
              flush=True)
    return out


def _csv(text: str, allowed: Sequence[str], what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad:
        raise SystemExit(f"unknown {what} {bad}; choose from {list(allowed)}")
    return items


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=None, help="seeds per problem (default 10)")
    ap.add_argument("--trials", type=int, default=None, help="trial budget (default 50)")
    ap.add_argument("--problems", default=",".join(PROBLEMS),
                    help=f"comma-separated, from {','.join(PROBLEMS)}")
    ap.add_argument("--samplers", default=",".join(SAMPLERS),
                    help=f"comma-separated, from {','.join(SAMPLERS)} "
                         "(random always runs: it is the score's reference)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 seeds, 12 trials, latency at 50 trials only")
    ap.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process (1)")
    ap.add_argument("--latency-counts", default=None,
                    help="told trials before timing ask() (default 50,100,500; '' for none)")
    ap.add_argument("--latency-asks", type=int, default=None,
                    help="timed asks per count (default 10)")
    ap.add_argument("--big-count", type=int, default=None,
                    help="bayestune alone at this many trials, with peak memory (1000)")
    ap.add_argument("--skip-scores", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write raw results here")
    args = ap.parse_args(argv)

    q = args.quick
    seeds = args.seeds or (2 if q else 10)
    n_trials = args.trials or (12 if q else 50)
    counts_text = args.latency_counts if args.latency_counts is not None \
        else ("50" if q else "50,100,500")
    counts = [int(c) for c in counts_text.split(",") if c.strip()]
    n_asks = args.latency_asks or (3 if q else 10)
    big = args.big_count if args.big_count is not None else (0 if q else 1000)
    problems = _csv(args.problems, list(PROBLEMS), "problem(s)")
    samplers = _csv(args.samplers, SAMPLERS, "sampler(s)")
    run_samplers = samplers if RANDOM in samplers else [*samplers, RANDOM]

    import bayestune

    try:
        import optuna

        optuna_version = optuna.__version__
    except ImportError:
        optuna_version = None
        if any(s.startswith("optuna") for s in samplers):
            raise SystemExit('Optuna is needed: pip install "bayestune[benchmark]"') from None
    import torch

    print(f"bayestune {bayestune.__version__}, optuna {optuna_version}, torch "
          f"{torch.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{args.workers} worker(s) x {args.threads} thread(s)")
    cmd = shlex.join(list(argv) if argv is not None else sys.argv[1:])
    print(f"command: python benchmarks/compare.py {cmd}".rstrip())
    out: dict[str, Any] = {"seeds": seeds, "trials": n_trials, "problems": problems,
                           "samplers": samplers}

    if not args.skip_scores:
        print(f"\nScores: {len(problems)} problems x {len(run_samplers)} samplers x {seeds} "
              f"seeds x {n_trials} trials")
        t0 = time.perf_counter()
        results = run_scores(problems, run_samplers, range(seeds), n_trials, args.workers,
                             args.threads)
        summary = summarize(results, problems, samplers)
        print_scores(summary, problems, samplers, seeds, n_trials)
        print(f"\n(score runs took {time.perf_counter() - t0:.0f} s)")
        out.update(results=results, summary=summary)

    if not args.skip_latency and (counts or big) and any(s in samplers for s in
                                                          ("bayestune-gp", "optuna-gp")):
        print(f"\nLatency: {n_asks} timed asks after {counts} told trials"
              + (f", and bayestune at {big}" if big else ""))
        lat = run_latency(counts, n_asks, big, samplers, args.threads)
        print_latency(lat)
        out["latency"] = lat

    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
        print(f"\nraw results written to {args.json}")
    return out


if __name__ == "__main__":
    main()
