"""Wall-time overhead of bayestune's TorchObjective against a bare hand-written loop.

Both train the same model on the same data for the same epochs with the same batches:
build the model and optimizer, per epoch shuffle and slice the in-memory tensors, step
through the batches (tracking the training loss with ``loss.item()``, as any loop that
logs does), then compute the validation loss. The adapter also seeds the run in a forked
random state, checks every batch for divergence, reports each epoch to its trial and asks
the pruner, and stores the per-epoch losses in the trial.

The adapter runs with its defaults (divergence check and health monitor on) and with
``health=False`` (what the per-epoch diagnostics cost on top of the rest).
Repetitions are interleaved (the order of the variants rotates) so that drifts in machine
load hit all alike; the figure is the median of the per-repetition ratios, in wall time
and in CPU time of the process (steadier on a shared machine). One torch thread.

    python benchmarks/adapter_overhead.py [--reps 15] [--device cpu] [--no-health]
    python benchmarks/adapter_overhead.py --instructions [--case 0] [--runs 4]

``--no-health`` measures only the adapter with ``health=False``.

``--instructions`` counts instructions instead of time, which no other load on the
machine disturbs: each variant runs in a fresh process under valgrind's callgrind
(``PYTHONHASHSEED=0``), once with one warm-up run plus 1 run and once with the warm-up
plus ``1 + runs`` runs; the difference divided by ``runs`` is the count of one run
(imports and warm-up cancel out). The adapter's count includes the study's enqueue, ask
and tell around each run. Slow (valgrind runs ~50x slower; six processes of a few
minutes each, two at a time) and CPU only; needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import nn

import bayestune as bt
from bayestune.training import TorchObjective


def digits_data() -> tuple[torch.Tensor, ...]:
    from dl_bench import digits  # the same split as the tuning benchmark

    return tuple(torch.from_numpy(a) for a in digits())


def synthetic_data(n: int = 8000, d: int = 784) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(d, 10, generator=g)
    X = torch.randn(n + 2000, d, generator=g)
    y = (X @ w + 0.5 * torch.randn(n + 2000, 10, generator=g)).argmax(1)
    return X[:n], y[:n], X[n:], y[n:]


CASES = {
    # name: (data, model factory, batch size, epochs)
    "digits logistic regression, batch 32": (
        digits_data, lambda: nn.Linear(64, 10), 32, 10),
    "digits MLP 64-32-10, batch 32": (
        digits_data, lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
        32, 5),
    "synthetic MLP 784-512-512-10, batch 128": (
        synthetic_data, lambda: nn.Sequential(nn.Linear(784, 512), nn.ReLU(),
                                              nn.Linear(512, 512), nn.ReLU(),
                                              nn.Linear(512, 10)),
        128, 2),
}


def n_batches(name: str) -> int:
    """Training plus validation batches of one run of a case."""
    load, _, batch_size, epochs = CASES[name]
    Xtr, _, Xva, _ = load()
    return epochs * (-(-len(Xtr) // batch_size) + -(-len(Xva) // batch_size))


def bare_loop(make_model, data, batch_size, epochs, device, lr=1e-3, seed=0):
    """What a user writes by hand."""
    Xtr, ytr, Xva, yva = data
    torch.manual_seed(seed)
    model = make_model().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed)
    n = len(Xtr)
    val_losses = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        order = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            x = Xtr[idx].to(device, non_blocking=True)
            y = ytr[idx].to(device, non_blocking=True)
            loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
        model.eval()
        val = 0.0
        with torch.no_grad():
            for i in range(0, len(Xva), batch_size):
                x = Xva[i:i + batch_size].to(device, non_blocking=True)
                y = yva[i:i + batch_size].to(device, non_blocking=True)
                val += loss_fn(model(x), y) * len(y)
        val_losses.append(float(val) / len(Xva))
    return val_losses[-1]


def measure(name: str, reps: int, device: str, variants: dict[str, dict[str, Any]]
            ) -> dict[str, list[tuple[float, float]]]:
    """``{variant: [(wall s, CPU s) per repetition]}`` for the bare loop and each adapter
    variant (``variants``: name -> extra TorchObjective arguments)."""
    load, make_model, batch_size, epochs = CASES[name]
    data = load()
    study = bt.Study(bt.Space({"lr": bt.Float(1e-4, 1e-2, log=True)}),
                     sampler=bt.samplers.RandomSampler(seed=0))

    def timed(fn: Any) -> tuple[float, float]:
        w, c = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w, time.process_time() - c

    def adapter(**kw: Any) -> Any:
        obj = TorchObjective(lambda p: make_model(), (data[0], data[1]), (data[2], data[3]),
                             nn.CrossEntropyLoss(), epochs=epochs, device=device,
                             defaults={"optimizer": "adam", "lr": 1e-3,
                                       "batch_size": batch_size}, **kw)

        def run() -> tuple[float, float]:
            study.enqueue({"lr": 1e-3})
            trial = study.ask()
            out: dict[str, Any] = {}
            elapsed = timed(lambda: out.setdefault("v", obj(trial)))
            study.tell(trial, out["v"])
            return elapsed
        return run

    runs = {"bare": lambda: timed(lambda: bare_loop(make_model, data, batch_size, epochs,
                                                    torch.device(device)))}
    runs.update({v: adapter(**kw) for v, kw in variants.items()})
    for run in runs.values():  # warm-up (allocator, lazy init)
        run()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    order = list(runs)
    for r in range(reps):  # rotate the order so that load drifts hit every variant alike
        for k in order[r % len(order):] + order[:r % len(order)]:
            times[k].append(runs[k]())
    return times


VARIANTS = {"bare loop": None, "adapter (defaults)": {}, "adapter, health=False": {"health": False}}


def child(case: int, variant: str, runs: int) -> None:
    """One warm-up run and ``runs`` runs of a variant (the process valgrind counts)."""
    torch.set_num_threads(1)
    name = list(CASES)[case]
    load, make_model, batch_size, epochs = CASES[name]
    data = load()
    kw = VARIANTS[variant]
    if kw is None:
        def one() -> None:
            bare_loop(make_model, data, batch_size, epochs, torch.device("cpu"))
    else:
        study = bt.Study(bt.Space({"lr": bt.Float(1e-4, 1e-2, log=True)}),
                         sampler=bt.samplers.RandomSampler(seed=0))
        obj = TorchObjective(lambda p: make_model(), (data[0], data[1]), (data[2], data[3]),
                             nn.CrossEntropyLoss(), epochs=epochs, device="cpu",
                             defaults={"optimizer": "adam", "lr": 1e-3,
                                       "batch_size": batch_size}, **kw)

        def one() -> None:
            study.enqueue({"lr": 1e-3})
            trial = study.ask()
            study.tell(trial, obj(trial))
    for _ in range(1 + runs):
        one()


def count_instructions(case: int, runs: int, jobs: int) -> None:
    """Print the instructions of one run of each variant, counted by callgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind on the PATH (apt install valgrind)")
    env = {**os.environ, "PYTHONHASHSEED": "0"}

    def collected(variant: str, k: int) -> int:
        out = subprocess.run(
            [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
             os.path.abspath(__file__), "--child", str(case), variant, str(k)],
            env=env, capture_output=True, text=True, check=True)
        m = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
        if m is None:
            raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
        return int(m.group(1))

    tasks = [(v, k) for v in VARIANTS for k in (1, 1 + runs)]
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        counts = dict(zip(tasks, ex.map(lambda t: collected(*t), tasks), strict=True))
    name = list(CASES)[case]
    per_run = {v: (counts[(v, 1 + runs)] - counts[(v, 1)]) / runs for v in VARIANTS}
    bare = per_run["bare loop"]
    print(f"{name}: instructions per run (callgrind, {runs} runs after a warm-up, "
          f"PYTHONHASHSEED=0), {n_batches(name)} batches per run")
    for v, n in per_run.items():
        extra = "" if v == "bare loop" else \
            f"  overhead {100 * (n / bare - 1):+6.2f}%  ({(n - bare) / n_batches(name):+,.0f} per batch)"
        print(f"  {v:<22} {n / 1e6:10.1f} M{extra}")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-health", action="store_true",
                    help="measure only the adapter with its health monitor off")
    ap.add_argument("--instructions", action="store_true",
                    help="count instructions under valgrind instead of timing (CPU)")
    ap.add_argument("--case", type=int, default=0,
                    help=f"with --instructions: the case (0-{len(CASES) - 1}, in the order "
                         f"of the timing table)")
    ap.add_argument("--runs", type=int, default=4, help="with --instructions: counted runs")
    ap.add_argument("--jobs", type=int, default=2, help="with --instructions: processes at once")
    args = ap.parse_args()
    if args.instructions:
        count_instructions(args.case, args.runs, args.jobs)
        return
    torch.set_num_threads(1)
    variants: dict[str, dict[str, Any]] = {"adapter, health=False": {"health": False}}
    if not args.no_health:
        variants = {"adapter (defaults)": {}, **variants}
    print(f"bayestune {bt.__version__}, torch {torch.__version__}, device {args.device}, "
          f"1 torch thread, {args.reps} interleaved repetitions")
    print(f"{'case':<40} {'variant':<22} {'median s':>8} {'wall overhead [IQR]':>25} "
          f"{'CPU-time overhead [IQR]':>25} {'us/batch':>8}")
    for name in CASES:
        times = measure(name, args.reps, args.device, variants)
        bare = times.pop("bare")
        batches = n_batches(name)
        print(f"{name:<40} {'bare loop':<22} {statistics.median(t[0] for t in bare):8.3f}")
        for variant, ts in times.items():
            cells = []
            for i in (0, 1):  # wall time, CPU time
                ratios = [a[i] / b[i] for a, b in zip(ts, bare, strict=True)]
                q1, med, q3 = (100 * (v - 1) for v in np.percentile(ratios, [25, 50, 75]))
                cells.append(f"{med:+6.2f}% [{q1:+5.1f}%, {q3:+5.1f}%]")
            extra = statistics.median(a[1] - b[1] for a, b in zip(ts, bare, strict=True)) \
                / batches * 1e6
            print(f"{'':<40} {variant:<22} {statistics.median(t[0] for t in ts):8.3f} "
                  f"{cells[0]:>25} {cells[1]:>25} {extra:+8.1f}")
    print("overhead = median over repetitions of (adapter time / bare-loop time of the same "
          "repetition) - 1; target: under 3%.\nus/batch = median extra CPU time per training or "
          "validation batch, the adapter's fixed cost whatever the model")


if __name__ == "__main__":
    main()
