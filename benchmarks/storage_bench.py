"""What persistence costs, and what sharing a study between workers gives.

1. ask+tell throughput, in memory vs SQLite, over the first 100 and 1,000 trials of a
   study, with random search (so the figure is the storage's own overhead);
2. the same with the default GP sampler at a history of 100 and 1,000 trials, for
   context: what the storage adds next to the model;
3. 4 worker processes x 50 trials on one SQLite file: trials finished, duplicated
   numbers, told trials lost, gaps in the numbering.

Every figure compares backends measured side by side in this one run.

    python benchmarks/storage_bench.py            # the full run (a few minutes)
    python benchmarks/storage_bench.py --quick    # smaller sizes, GP at 100 only
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bayestune as bt  # noqa: E402
from bayestune.storage import InMemoryStorage, SQLiteStorage  # noqa: E402

SPACE = bt.Space({"x": bt.Float(-2.0, 2.0), "y": bt.Float(1e-3, 10.0, log=True),
                  "c": bt.Categorical(["a", "b", "c"])})


def f(p) -> float:
    return (p["x"] - 0.3) ** 2 + np.log10(p["y"]) ** 2 + {"a": 0.0, "b": 0.2, "c": 0.5}[p["c"]]


def backends(folder: str, tag: str) -> dict[str, object]:
    return {
        "memory": None,
        "sqlite": SQLiteStorage(os.path.join(folder, f"{tag}-durable.db")),
        "sqlite (durable=False)": SQLiteStorage(os.path.join(folder, f"{tag}-fast.db"),
                                                durable=False),
    }


def throughput(folder: str, sizes: list[int]) -> None:
    print("\n1. ask+tell throughput, random search (storage overhead alone)")
    print(f"{'trials':>7}  {'backend':<24}{'trials/s':>10}{'ms/trial':>10}{'x memory':>10}")
    for n in sizes:
        base = None
        for label, storage in backends(folder, f"rand{n}").items():
            study = bt.Study(SPACE, storage=storage, name="bench",
                             sampler=bt.samplers.RandomSampler(seed=0))
            start = time.perf_counter()
            for _ in range(n):
                t = study.ask()
                study.tell(t, f(t.params))
            sec = time.perf_counter() - start
            base = sec if base is None else base
            print(f"{n:>7}  {label:<24}{n / sec:>10.0f}{1e3 * sec / n:>10.2f}"
                  f"{sec / base:>10.1f}")


_STORAGE_CALLS = ("create_trial", "pop_waiting_trial", "set_trial_params", "finish_trial",
                  "get_trials", "get_trial", "reap_stale_trials", "record_heartbeat")


def instrument(storage) -> list[float]:
    """Make ``storage`` add the seconds spent in its methods to the returned cell."""
    spent = [0.0]

    def timing(fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start
        return timed

    for name in _STORAGE_CALLS:
        setattr(storage, name, timing(getattr(storage, name)))
    return spent


def gp_context(folder: str, sizes: list[int], repeats: int) -> None:
    print("\n2. ask+tell with the GP sampler, after a history of H trials (context)")
    print("   (same seed and history in each backend, so the GP does identical work;")
    print("   backends interleaved, medians; 'storage' is the time spent inside storage")
    print("   calls, measured directly, and its share of the ask+tell time)")
    print(f"{'H':>7}  {'backend':<24}{'s/trial':>10}{'x memory':>10}"
          f"{'storage ms':>12}{'share':>8}")
    rng = np.random.default_rng(0)
    warm = bt.Study(SPACE, seed=1)  # pay torch's first-use costs before timing anything
    for p in SPACE.sample(rng, 20):
        warm.add_trial(p, f(p))
    warm.tell(warm.ask(), 0.0)
    for h in sizes:
        history = [(p, f(p)) for p in SPACE.sample(rng, h)]
        studies, spent = {}, {}
        for label, storage in backends(folder, f"gp{h}").items():
            storage = storage if storage is not None else InMemoryStorage()
            studies[label] = bt.Study(SPACE, storage=storage, name="bench", seed=0)
            for p, v in history:
                studies[label].add_trial(p, v)
            spent[label] = instrument(storage)
        times: dict[str, list[float]] = {label: [] for label in studies}
        labels = list(studies)
        for r in range(repeats):
            for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                study = studies[label]
                start = time.perf_counter()
                t = study.ask()
                study.tell(t, f(t.params))
                times[label].append(time.perf_counter() - start)
        base = float(np.median(times["memory"]))
        for label, ts in times.items():
            sec = float(np.median(ts))
            io = spent[label][0] / repeats
            print(f"{h:>7}  {label:<24}{sec:>10.3f}{sec / base:>10.3f}{1e3 * io:>12.2f}"
                  f"{100 * io / (sum(ts) / repeats):>7.2f}%")


def _worker(url: str, seed: int, n: int, out) -> None:
    study = bt.Study(SPACE, storage=url, name="shared", load_if_exists=True,
                     sampler=bt.samplers.RandomSampler(seed=seed))
    told = []
    start = time.time()
    for _ in range(n):
        t = study.ask()
        study.tell(t, f(t.params))
        told.append(t.number)
    out.put((told, start, time.time()))


def four_workers(folder: str, n_workers: int = 4, n_each: int = 50) -> None:
    print(f"\n3. {n_workers} worker processes x {n_each} trials on one SQLite file")
    url = f"sqlite:///{os.path.join(folder, 'shared.db')}"
    bt.Study(SPACE, storage=url, name="shared", sampler=bt.samplers.RandomSampler(seed=0))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, s, n_each, out)) for s in range(n_workers)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    sec = time.perf_counter() - start
    told = [n for numbers, _, _ in results for n in numbers]
    loop = max(end for _, _, end in results) - min(begin for _, begin, _ in results)
    trials = bt.load_study(url, "shared").trials
    finished = [t for t in trials if t.state.is_finished]
    dupes = sum(c - 1 for c in Counter(t.number for t in trials).values())
    stored = {t.number: t for t in trials}
    lost = sum(1 for n in told if n not in stored or not stored[n].state.is_finished)
    gaps = sorted(set(range(len(trials))) - set(stored))
    print(f"  expected {n_workers * n_each}, finished {len(finished)}, "
          f"duplicate numbers {dupes}, told but lost {lost}, gaps {len(gaps)}, "
          f"numbers {min(stored)}..{max(stored)}")
    print(f"  wall {sec:.1f}s with process start and imports; {loop:.2f}s from the first ask "
          f"to the last tell ({len(told) / loop:.0f} trials/s over the {n_workers} workers)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(f"bayestune {bt.__version__} storage benchmark; python {sys.version.split()[0]}; "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        throughput(folder, [100, 300] if args.quick else [100, 1000])
        gp_context(folder, [100] if args.quick else [100, 1000], 3 if args.quick else 5)
        four_workers(folder)


if __name__ == "__main__":
    main()
