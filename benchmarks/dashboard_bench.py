"""What an open dashboard costs: the page's server time, and the workers' slowdown.

1. First paint of a study page at 1,000 and 10,000 trials: the server time of every
   request the page makes before it shows anything (the HTML, then the summary, the
   first page of the trials table, the convergence, the parallel coordinates and the
   learning curves), on a freshly started dashboard (cold: the storage is read for the
   first time), then again (warm). The GP panels are not part of it: they arrive
   when the background fit is ready (its time is printed apart).
2. Workers' ask+tell time with and without a dashboard open, in the same run: three
   worker processes fill a fresh study per round, rounds alternate between no
   dashboard and a dashboard (``bayestune dashboard``, its own process) watched by a
   poller that requests what an open study page requests (the summary every second;
   on each change the table, convergence, parallel coordinates, curves and the four
   GP panels, so GP fits run as they would), started and warm before the workers
   start. Printed as the on/off ratio next to the slowest/fastest ratio of the rounds
   without a dashboard (the noise).

    python benchmarks/dashboard_bench.py             # both (a few minutes)
    python benchmarks/dashboard_bench.py --quick     # smaller
    python benchmarks/dashboard_bench.py --sampler gp   # workers run the GP sampler

The studies of part 1 are kept in ``--cache`` (default: a temporary folder), so a rerun
with the same folder skips building them.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bayestune as bt  # noqa: E402
from bayestune.storage import SQLiteStorage, StudyRecord  # noqa: E402
from bayestune.trial import TrialState  # noqa: E402

SPACE = bt.Space({"lr": bt.Float(1e-5, 1.0, log=True), "momentum": bt.Float(0.0, 0.99),
                  "dropout": bt.Float(0.0, 0.6), "wd": bt.Float(1e-7, 1e-1, log=True),
                  "batch": bt.Int(8, 1024, log=True),
                  "opt": bt.Categorical(["sgd", "adam", "rmsprop"])})
NAME = "bench"


def loss(p) -> float:
    return ((math.log10(p["lr"]) + 3) ** 2 + (p["momentum"] - 0.9) ** 2
            + (p["dropout"] - 0.1) ** 2 + {"sgd": 0.3, "adam": 0.0, "rmsprop": 0.1}[p["opt"]])


# --------------------------------------------------------------------------------------
# 1. first paint
# --------------------------------------------------------------------------------------
def build(path: str, n: int) -> None:
    """A study of ``n`` finished trials (10% failed, 10% pruned), each with 5 reports,
    written by a child process (whose exit closes the file cleanly) under a temporary
    name, renamed when complete."""
    if os.path.exists(path):
        return
    tmp = path + ".part"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            os.remove(tmp + suffix)
    p = mp.get_context("spawn").Process(target=_write_study, args=(tmp, n))
    p.start()
    p.join()
    assert p.exitcode == 0 and not os.path.exists(tmp + "-wal"), "the build did not finish"
    os.replace(tmp, path)


def _write_study(tmp: str, n: int) -> None:
    storage = SQLiteStorage(tmp, durable=False)
    storage.create_study(StudyRecord(NAME, SPACE.to_dict(), "minimize",
                                     {"sampler": bt.samplers.RandomSampler(seed=0).to_dict()}))
    sampler = bt.samplers.RandomSampler(seed=0)
    for i in range(n):
        p = dict(sampler.sample(SPACE, [], "minimize", number=i).params)
        t = storage.create_trial(NAME, TrialState.RUNNING, p)
        v = loss(p)
        for step in range(5):
            storage.report(NAME, t.number, step, v + 1.0 / (step + 1))
        if i % 10 == 3:
            storage.finish_trial(NAME, t.number, TrialState.FAILED, None,
                                 {"fail_reason": "diverged"})
        elif i % 10 == 7:
            storage.finish_trial(NAME, t.number, TrialState.PRUNED, v + 0.5)
        else:
            storage.finish_trial(NAME, t.number, TrialState.COMPLETE, v)


def first_paint(path: str) -> dict[str, float]:
    from starlette.testclient import TestClient  # noqa: PLC0415

    q = urllib.parse.quote(NAME, safe="")
    urls = [f"/study/{q}", *(f"/api/studies/{q}/{t}" for t in
                             ("summary", "trials", "convergence", "parallel", "curves"))]
    out: dict[str, float] = {}
    app = bt.dashboard.create_app(f"sqlite:///{path}")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for label in ("cold", "warm"):
            start = time.perf_counter()
            for u in urls:
                r = client.get(u)
                assert r.status_code == 200, (u, r.status_code)
            out[label] = time.perf_counter() - start
        start = time.perf_counter()
        client.get(f"/api/studies/{q}/importance")
        fit = app.state.dashboard.fits.wait(NAME, timeout=3600)
        out["fit"] = time.perf_counter() - start
        assert fit is not None and fit.surrogate is not None
    return out


def part1(cache: str, sizes: list[int]) -> None:
    print("\n1. study page, first paint: server time of the requests before anything shows")
    print(f"{'trials':>8}{'cold (s)':>10}{'warm (s)':>10}{'target (s)':>12}"
          f"{'GP panels ready after (s)':>28}")
    for n in sizes:
        path = os.path.join(cache, f"paint-{n}.db")
        build(path, n)
        t = first_paint(path)
        target = 1.0 if n <= 1000 else 3.0
        print(f"{n:>8}{t['cold']:>10.3f}{t['warm']:>10.3f}{target:>12.1f}{t['fit']:>28.1f}")


# --------------------------------------------------------------------------------------
# 2. workers with and without a dashboard
# --------------------------------------------------------------------------------------
def worker(url: str, name: str, sampler: str, seed: int, n: int, out) -> None:
    s = (bt.samplers.GPSampler(seed=seed) if sampler == "gp"
         else bt.samplers.RandomSampler(seed=seed))
    study = bt.load_study(url, name, sampler=s)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        t = study.ask()
        study.tell(t, loss(t.params))
        times.append(time.perf_counter() - start)
    out.put(times)


def poller(root: str, stop: threading.Event, current: list[str], seen: list[int]) -> None:
    """What an open study page asks for."""
    token = None

    def get(path: str) -> dict:
        with urllib.request.urlopen(root + path, timeout=60) as r:
            return json.loads(r.read())

    while not stop.is_set():
        q = urllib.parse.quote(current[0], safe="")
        try:
            s = get(f"api/studies/{q}/summary")
        except Exception:  # noqa: BLE001 - the round's study may not exist yet
            time.sleep(0.2)
            continue
        if s["token"] != token:
            token = s["token"]
            for tail in ("trials", "convergence", "parallel", "curves", "importance",
                         "slice?param=lr", "acquisition?param=lr", "contour?x=lr&y=momentum"):
                get(f"api/studies/{q}/{tail}")
            seen[0] += 1
        stop.wait(1.0)


def one_round(url: str, name: str, sampler: str, n: int) -> list[float]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(url, name, sampler, seed, n, out))
             for seed in (1, 2, 3)]
    for p in procs:
        p.start()
    times = [t for _ in procs for t in out.get(timeout=3600)]
    for p in procs:
        p.join(60)
    return times


def part2(folder: str, sampler: str, n: int, pairs: int) -> None:
    print(f"\n2. workers' ask+tell time ({sampler} sampler, 3 workers x {n} trials a round), "
          f"rounds alternating without and with a dashboard open")
    url = f"sqlite:///{os.path.join(folder, 'workers.db')}"
    bt.Study(SPACE, storage=url, name="warmup", sampler=bt.samplers.RandomSampler(seed=0))
    off: list[float] = []
    on: list[float] = []
    offs_by_round: list[float] = []
    refreshes = 0
    for r in range(2 * pairs):
        name = f"round{r}"
        with_dashboard = r % 2 == 1
        bt.Study(SPACE, storage=url, name=name, sampler=bt.samplers.RandomSampler(seed=0))
        if not with_dashboard:
            times = one_round(url, name, sampler, n)
            off += times
            offs_by_round.append(statistics.mean(times))
            continue
        server = subprocess.Popen([sys.executable, "-m", "bayestune.cli", "dashboard", url,
                                   "--port", "0"], stdout=subprocess.PIPE, text=True)
        root = server.stdout.readline().split(" at ")[1].split()[0]
        stop, current, seen = threading.Event(), [name], [0]
        th = threading.Thread(target=poller, args=(root, stop, current, seen), daemon=True)
        th.start()
        deadline = time.monotonic() + 300
        while seen[0] == 0 and time.monotonic() < deadline:  # the page is open and drawn
            time.sleep(0.1)
        try:
            on += one_round(url, name, sampler, n)
        finally:
            stop.set()
            th.join(120)
            server.terminate()
            server.wait(60)
        refreshes += seen[0]
    m_off, m_on = statistics.mean(off), statistics.mean(on)
    noise = max(offs_by_round) / min(offs_by_round)
    print(f"   without dashboard: {1000 * m_off:8.2f} ms per ask+tell (median "
          f"{1000 * statistics.median(off):.2f})")
    print(f"   with dashboard:    {1000 * m_on:8.2f} ms per ask+tell (median "
          f"{1000 * statistics.median(on):.2f}); the poller refreshed the page {refreshes} times")
    print(f"   ratio with/without: {m_on / m_off:.3f} (means), "
          f"{statistics.median(on) / statistics.median(off):.3f} (medians); noise: the "
          f"slowest/fastest round without a dashboard {noise:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cache", default=None, help="folder kept between runs (part 1)")
    ap.add_argument("--sampler", choices=("random", "gp"), default="random")
    ap.add_argument("--only", choices=("paint", "workers"), default=None)
    args = ap.parse_args()
    cache = args.cache or tempfile.mkdtemp(prefix="bt-dash-bench-")
    os.makedirs(cache, exist_ok=True)
    if args.only != "workers":
        part1(cache, [1000] if args.quick else [1000, 10_000])
    if args.only != "paint":
        with tempfile.TemporaryDirectory() as folder:
            n = (10 if args.sampler == "gp" else 40) if args.quick else \
                (25 if args.sampler == "gp" else 150)
            part2(folder, args.sampler, n, pairs=2 if args.quick else 3)


if __name__ == "__main__":
    main()
