"""bayestune against its peers on COCO's BBOB suite (functions we did not design).

The 24 noiseless BBOB functions of COCO (``pip install coco-experiment``, module
``cocoex``) in 2, 5 and 10 dimensions, on **instances 3 to 7 only**: instances 1 and 2 are
never built here (the suite is created with ``"instances: 3-7"`` and every requested
instance is checked against :data:`INSTANCES`), so that whatever is tuned on this
benchmark can still be checked on instances it never saw. Budget ``20 d + 10``
evaluations in the box ``[-5, 5]^d``.

Methods, each through its own library's ask/tell interface, with its defaults:

==============  ================================================================
``bayestune``   ``bt.Study(space, sampler=bt.samplers.GPSampler(seed=s))``
``optuna-gp``   ``optuna.create_study(sampler=optuna.samplers.GPSampler(seed=s))``
``optuna-tpe``  ``optuna.create_study(sampler=optuna.samplers.TPESampler(seed=s))``
``random``      ``bt.samplers.RandomSampler(seed=s)`` (uniform in the box)
``ax``          Ax's default generation strategy (``ax.Client``), run by
                ``benchmarks/_ax_runner.py`` in its own Python environment
                (``--ax-python``), spoken to in JSON lines
==============  ================================================================

and, with ``--ablations``, variants of bayestune's ``GPSampler`` named in
:data:`VARIANTS` (``bayestune[no-warp]``...), each a dict of keyword arguments.

Score of a run on a problem ``(function, dimension, instance)``: its final regret
``r = best f - f_opt`` on a log scale between random search's median final regret
``R`` on the same problem (score 0) and ``1e-8`` (score 100)::

    score = 100 * (log10 R - log10 max(r, 1e-8)) / (log10 R + 8)

negative when worse than random's median. A method's score on a problem is the mean over
its seeds. Printed: the mean score per dimension, the average rank, win/tie/loss of
bayestune against each peer (a tie: the two mean scores differ by less than
:data:`TIE` points), with a Wilcoxon signed-rank p-value over problems, the functions
where bayestune does worst, ask() times, and the measured wall time of the runs with
an estimate of the whole grid.

Every run is appended to a JSON-lines cache (``--cache``), keyed by (method, function,
dimension, instance, seed): a rerun resumes, methods can be run separately
(``--methods``), and prototype samplers can be scored against cached peers
(``--read-cache``).

Usage (from the repository root)::

    nice -n 10 python benchmarks/bbob.py --quick              # 2-D slice, a few minutes
    nice -n 10 python benchmarks/bbob.py --dims 2 --seeds 3   # 2-D, all 24 functions
    nice -n 10 python benchmarks/bbob.py                      # the whole grid (hours)
    python benchmarks/bbob.py --quick --ablations --methods bayestune,optuna-gp,random
    python benchmarks/bbob.py --report-only                   # tables from the cache
    python benchmarks/bbob.py --methods ax --dims 2,5 --functions 1,7,15,19,21,22
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from benchmarks._bbob_report import print_report  # noqa: E402

INSTANCES = (3, 4, 5, 6, 7)
"""The only BBOB instances this benchmark builds (1 and 2 are kept for held-out checks)."""
DIMS = (2, 5, 10)
FUNCTIONS = tuple(range(1, 25))
DIM10_FUNCTIONS = (1, 2, 3, 6, 7, 8, 10, 13, 15, 17, 19, 21, 22, 24)
"""Functions run at 10-D by default (the 10-D GP runs cost hours each on 2 cores):
every BBOB group is represented, including the ones bayestune found hard in 2-D."""
QUICK = {"dims": (2,), "functions": (7, 19, 21, 22), "instances": (3, 6), "seeds": 2}
"""The development slice: the 2-D functions bayestune found hardest, two instances."""
BOX = (-5.0, 5.0)
PEERS = ("bayestune", "optuna-gp", "optuna-tpe", "random")
BASE_METHODS = (*PEERS, "ax")
DEFAULT_AX_PYTHON = "/work/venvs/ax/bin/python"

F_NAMES = {
    1: "sphere", 2: "ellipsoid", 3: "rastrigin", 4: "bueche-rastrigin", 5: "linear slope",
    6: "attractive sector", 7: "step ellipsoid", 8: "rosenbrock", 9: "rosenbrock rot.",
    10: "ellipsoid rot.", 11: "discus", 12: "bent cigar", 13: "sharp ridge",
    14: "different powers", 15: "rastrigin rot.", 16: "weierstrass", 17: "schaffer F7",
    18: "schaffer F7 ill-cond.", 19: "griewank-rosenbrock", 20: "schwefel",
    21: "gallagher 101 peaks", 22: "gallagher 21 peaks", 23: "katsuura",
    24: "lunacek bi-rastrigin",
}

# Ablations: keyword arguments of bayestune's GPSampler, one named dict per variant.
# Add a line to add a variant; a variant whose keywords the sampler does not accept is
# reported as skipped rather than failing the run.
VARIANTS: dict[str, dict[str, Any]] = {
    "no-warp": {"warp_outputs": False},
    "raw-2048": {"raw_samples": 2048},
    "restarts-20": {"num_restarts": 20},
    "raw-2048+restarts-20": {"raw_samples": 2048, "num_restarts": 20},
    "ucb-b4": {"acquisition": "ucb"},
    "ucb-b1": {"acquisition": "ucb", "ucb_beta": 1.0},
    "ucb-b9": {"acquisition": "ucb", "ucb_beta": 9.0},
    "startup-5": {"n_startup_trials": 5},
    "startup-20": {"n_startup_trials": 20},
}


def variant_method(name: str) -> str:
    return f"bayestune[{name}]"


def method_kwargs(method: str) -> dict[str, Any] | None:
    """GPSampler keyword arguments of a bayestune method (None for other libraries)."""
    if method == "bayestune":
        return {}
    if method.startswith("bayestune[") and method.endswith("]"):
        name = method[len("bayestune["):-1]
        if name not in VARIANTS:
            raise KeyError(f"unknown variant {name!r}; choose from {sorted(VARIANTS)}")
        return dict(VARIANTS[name])
    return None


# -- problems ---------------------------------------------------------------------------------


def check_instance(instance: int) -> int:
    if instance not in INSTANCES:
        raise ValueError(f"instance {instance} is not one of {INSTANCES}: instances 1 and 2 "
                         "are held out of every run of this benchmark")
    return instance


@contextmanager
def _in_tempdir() -> Iterator[None]:
    before = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(before)


_SUITES: dict[tuple[int, int], Any] = {}


def bbob_problem(f: int, d: int, instance: int) -> tuple[Any, float]:
    """The cocoex problem and its optimal value ``f_opt``."""
    import cocoex

    check_instance(instance)
    key = (f, d)
    if key not in _SUITES:
        _SUITES[key] = cocoex.Suite(
            "bbob", f"instances: {INSTANCES[0]}-{INSTANCES[-1]}",
            f"dimensions: {d} function_indices: {f}")
    problem = _SUITES[key].get_problem_by_function_dimension_instance(f, d, instance)
    with _in_tempdir():  # cocoex writes the optimum to a file in the working directory
        problem._best_parameter("print")
        x_opt = np.loadtxt("._bbob_problem_best_parameter.txt").reshape(-1)
    return problem, float(problem(x_opt))


# -- one run ----------------------------------------------------------------------------------


class _AxProcess:
    """Ax's ask/tell in a child process of another Python (see ``_ax_runner.py``)."""

    def __init__(self, python: str, d: int, seed: int) -> None:
        script = Path(__file__).resolve().parent / "_ax_runner.py"
        self.proc = subprocess.Popen(
            [python, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONPATH": ""})
        reply = self._call({"dim": d, "low": [BOX[0]] * d, "high": [BOX[1]] * d,
                            "seed": seed})
        self.version = reply.get("ax_version", "?")

    def _call(self, msg: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Ax runner exited (status {self.proc.poll()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"the Ax runner failed: {reply['error']}")
        return reply

    def ask(self) -> tuple[Any, np.ndarray]:
        r = self._call({"cmd": "ask"})
        return r["trial"], np.asarray(r["x"], dtype=float)

    def tell(self, handle: Any, value: float) -> None:
        self._call({"cmd": "tell", "trial": handle, "value": value})

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


class _Runner:
    """One method's ask/tell loop: ``ask() -> (handle, x)``, ``tell(handle, value)``."""

    def __init__(self, method: str, d: int, seed: int, ax_python: str) -> None:
        self.names = [f"x{i}" for i in range(d)]
        self.ax: _AxProcess | None = None
        kwargs = method_kwargs(method)
        if kwargs is not None or method == "random":
            import bayestune as bt

            space = bt.Space({n: bt.Float(*BOX) for n in self.names})
            sampler = bt.samplers.RandomSampler(seed=seed) if method == "random" \
                else bt.samplers.GPSampler(seed=seed, **kwargs)
            self.study = bt.Study(space, sampler=sampler)
            self.lib = "bayestune"
        elif method in ("optuna-gp", "optuna-tpe"):
            import optuna

            sampler = optuna.samplers.GPSampler(seed=seed) if method == "optuna-gp" \
                else optuna.samplers.TPESampler(seed=seed)
            self.study = optuna.create_study(direction="minimize", sampler=sampler)
            self.dists = {n: optuna.distributions.FloatDistribution(*BOX) for n in self.names}
            self.lib = "optuna"
        elif method == "ax":
            self.ax = _AxProcess(ax_python, d, seed)
            self.lib = "ax"
        else:
            raise ValueError(f"unknown method {method!r}")

    def ask(self) -> tuple[Any, np.ndarray]:
        if self.ax is not None:
            return self.ax.ask()
        if self.lib == "bayestune":
            t = self.study.ask()
        else:
            t = self.study.ask(fixed_distributions=self.dists)
        return t, np.array([t.params[n] for n in self.names], dtype=float)

    def tell(self, handle: Any, value: float) -> None:
        if self.ax is not None:
            self.ax.tell(handle, value)
        else:
            self.study.tell(handle, value)

    def close(self) -> None:
        if self.ax is not None:
            self.ax.close()


def _sig(x: float) -> float:
    return float(f"{x:.4g}")


def run_one(method: str, f: int, d: int, instance: int, seed: int,
            ax_python: str = DEFAULT_AX_PYTHON) -> dict[str, Any]:
    """One optimization run with budget ``20 d + 10``; returns its cache record."""
    problem, f_opt = bbob_problem(f, d, instance)
    budget = 20 * d + 10
    runner = _Runner(method, d, seed, ax_python)
    best, trace, ask_s, seen = math.inf, [], 0.0, set()
    n_dup = 0
    start = time.perf_counter()
    try:
        for _ in range(budget):
            t0 = time.perf_counter()
            handle, x = runner.ask()
            ask_s += time.perf_counter() - t0
            key = tuple(np.round(x, 9))
            n_dup += key in seen
            seen.add(key)
            value = float(problem(np.clip(x, *BOX)))
            runner.tell(handle, value)
            best = min(best, value)
            trace.append(_sig(max(best - f_opt, 0.0)))
    finally:
        runner.close()
    rec: dict[str, Any] = {
        "method": method, "f": f, "d": d, "instance": instance, "seed": seed,
        "budget": budget, "f_opt": f_opt, "best": best, "regret": max(best - f_opt, 0.0),
        "trace": trace, "ask_s": ask_s, "wall_s": time.perf_counter() - start,
        "n_duplicates": n_dup,
    }
    kwargs = method_kwargs(method)
    if kwargs:
        rec["kwargs"] = kwargs
    if runner.ax is not None:
        rec["ax_version"] = runner.ax.version
    return rec


def _run_job(job: tuple[str, int, int, int, int], ax_python: str) -> dict[str, Any]:
    import logging

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("bayestune").setLevel(logging.ERROR)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
    except ImportError:
        pass
    return run_one(*job, ax_python=ax_python)


# -- cache ------------------------------------------------------------------------------------

Key = tuple[str, int, int, int, int]


def record_key(r: Mapping[str, Any]) -> Key:
    return (r["method"], int(r["f"]), int(r["d"]), int(r["instance"]), int(r["seed"]))


def load_records(paths: Iterable[Path]) -> dict[Key, dict[str, Any]]:
    """Records of every cache file (a later line replaces an earlier one with its key)."""
    out: dict[Key, dict[str, Any]] = {}
    for path in paths:
        if not path.exists():
            continue
        with path.open() as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:  # a line cut by an interrupted write
                    continue
                if r.get("instance") in INSTANCES:
                    out[record_key(r)] = r
    return out


@dataclass(frozen=True)
class Grid:
    dims: tuple[int, ...]
    functions: tuple[int, ...]
    dim10_functions: tuple[int, ...]
    instances: tuple[int, ...]
    seeds: int

    def problems(self) -> list[tuple[int, int, int]]:
        return [(f, d, i) for d in self.dims
                for f in (self.dim10_functions if d >= 10 else self.functions)
                for i in self.instances]

    def jobs(self, methods: Sequence[str]) -> list[Key]:
        """Seed-major order, so that a partial run covers every problem with a seed first."""
        return [(m, f, d, i, s) for d in self.dims for s in range(self.seeds)
                for i in self.instances
                for f in (self.dim10_functions if d >= 10 else self.functions)
                for m in methods]


def _ints(text: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return tuple(out)


def _ax_available(python: str) -> str | None:
    """None when the Ax environment works, else why not."""
    if not Path(python).exists():
        return f"no Python at {python} (create the Ax venv, see benchmarks/README.md)"
    r = subprocess.run([python, "-c", "import ax; print(ax.__version__)"],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    if r.returncode:
        return f"ax-platform does not import there: {r.stderr.strip().splitlines()[-1:]}"
    return None


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"development slice: {QUICK}")
    ap.add_argument("--dims", type=_ints, help="e.g. 2,5 (default 2,5,10)")
    ap.add_argument("--functions", type=_ints, help="e.g. 1-24 or 7,19,21")
    ap.add_argument("--dim10-functions", type=_ints,
                    help=f"functions at 10-D (default {DIM10_FUNCTIONS})")
    ap.add_argument("--instances", type=_ints, help="a subset of 3-7")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--methods", default=",".join(PEERS),
                    help=f"comma list from {BASE_METHODS} and bayestune[VARIANT]")
    ap.add_argument("--ablations", action="store_true",
                    help="also run every variant of VARIANTS (or --variants)")
    ap.add_argument("--variants", help="comma list of VARIANTS names (implies --ablations)")
    ap.add_argument("--cache", type=Path, default=_ROOT / "benchmarks" / ".cache" / "bbob.jsonl")
    ap.add_argument("--read-cache", type=Path, nargs="*", default=[],
                    help="more caches to read (not written), e.g. peers' runs")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ax-python", default=DEFAULT_AX_PYTHON)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--max-hours", type=float, default=0.0,
                    help="stop starting new runs after this long (0: no limit)")
    args = ap.parse_args(argv)

    q = QUICK if args.quick else {}
    dims = args.dims or q.get("dims", DIMS)
    functions = args.functions or q.get("functions", FUNCTIONS)
    grid = Grid(dims=tuple(dims), functions=tuple(functions),
                dim10_functions=tuple(args.dim10_functions or
                                      (functions if args.functions or args.quick
                                       else DIM10_FUNCTIONS)),
                instances=tuple(check_instance(i) for i in
                                (args.instances or q.get("instances", INSTANCES))),
                seeds=args.seeds or q.get("seeds", 3))
    methods = [m for m in args.methods.split(",") if m]
    variants = [v for v in (args.variants or "").split(",") if v]
    if args.ablations and not variants:
        variants = list(VARIANTS)
    methods += [variant_method(v) for v in variants if variant_method(v) not in methods]
    for m in methods:
        if m not in BASE_METHODS:
            method_kwargs(m)  # raises on unknown names
    if "random" not in methods:
        methods.append("random")  # the reference of the score

    notes: list[str] = []
    if "ax" in methods and not args.report_only:
        why = _ax_available(args.ax_python)
        if why:
            notes.append(f"Ax not run: {why}")
            methods.remove("ax")
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    records = load_records([*args.read_cache, args.cache])
    todo = [j for j in grid.jobs(methods) if j not in records]
    if not args.report_only and todo:
        print(f"{len(todo)} runs to do ({len(records)} cached in {args.cache})", flush=True)
        _run_jobs(todo, records, args, notes)
    print_report(records, grid, methods, notes=notes, f_names=F_NAMES,
                 variants={v: VARIANTS[v] for v in variants})


def _run_jobs(todo: list[Key], records: dict[Key, dict[str, Any]], args: argparse.Namespace,
              notes: list[str]) -> None:
    from concurrent.futures import ProcessPoolExecutor

    deadline = time.time() + args.max_hours * 3600 if args.max_hours > 0 else math.inf
    skipped: set[str] = set()
    with args.cache.open("a") as out:
        def save(rec: dict[str, Any]) -> None:
            records[record_key(rec)] = rec
            out.write(json.dumps(rec) + "\n")
            out.flush()
            print(f"  {rec['method']:<28} f{rec['f']:<2} d{rec['d']:<2} i{rec['instance']} "
                  f"s{rec['seed']}  regret {rec['regret']:.3g}  ask {rec['ask_s']:.1f}s",
                  flush=True)

        def ok(job: Key) -> bool:
            return job[0] not in skipped and time.time() < deadline

        if args.workers <= 1:
            for job in todo:
                if not ok(job):
                    continue
                try:
                    save(_run_job(job, args.ax_python))
                except TypeError as e:  # a variant's keyword the sampler lacks
                    skipped.add(job[0])
                    notes.append(f"{job[0]} skipped: {e}")
                except RuntimeError as e:
                    if job[0] != "ax":
                        raise
                    skipped.add("ax")
                    notes.append(f"Ax stopped: {e}")
            return
        import multiprocessing as mp

        with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_run_job, job, args.ax_python): job for job in todo}
            for fut, job in futures.items():
                try:
                    save(fut.result())
                except (TypeError, RuntimeError) as e:
                    if job[0] not in skipped:
                        skipped.add(job[0])
                        notes.append(f"{job[0]} failed: {e}")
    if time.time() >= deadline:
        notes.append(f"stopped after --max-hours {args.max_hours}: the grid is partial")


if __name__ == "__main__":
    main()
