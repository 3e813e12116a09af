"""Scores and tables of ``benchmarks/bbob.py`` (reads its cache records; runs nothing).

Score of a run: its final regret ``r`` on a log scale between random search's median
final regret ``R`` on the same problem (0) and ``FLOOR`` = 1e-8 (100)::

    score = 100 * (log10 R - log10 max(r, 1e-8)) / (log10 R + 8)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

FLOOR = 1e-8
TIE = 1.0
"""Two methods tie on a problem when their mean scores differ by less than this."""
REFERENCE = "random"
SUBJECT = "bayestune"

Problem = tuple[int, int, int]  # function, dimension, instance


def log_score(regret: float, reference: float) -> float:
    """100 at ``regret <= 1e-8``, 0 at ``reference`` (random's median), < 0 when worse."""
    lr = math.log10(max(regret, FLOOR))
    lref = math.log10(max(reference, FLOOR))
    span = lref - math.log10(FLOOR)
    if span <= 1e-12:  # random search itself reached the optimum
        return 100.0 if lr <= math.log10(FLOOR) else 0.0
    return 100.0 * (lref - lr) / span


def _by_problem(records: Mapping[tuple, Mapping[str, Any]]
                ) -> dict[Problem, dict[str, dict[int, Mapping[str, Any]]]]:
    out: dict[Problem, dict[str, dict[int, Mapping[str, Any]]]] = {}
    for r in records.values():
        p = (int(r["f"]), int(r["d"]), int(r["instance"]))
        out.setdefault(p, {}).setdefault(r["method"], {})[int(r["seed"])] = r
    return out


def scores(records: Mapping[tuple, Mapping[str, Any]], problems: Sequence[Problem],
           methods: Sequence[str]) -> dict[Problem, dict[str, list[float]]]:
    """Per-seed scores on the problems where every method (and random) has a run, on the
    seeds that all of ``methods`` share there (random's median uses all of its seeds)."""
    byp = _by_problem(records)
    out: dict[Problem, dict[str, list[float]]] = {}
    for p in problems:
        runs = byp.get(p, {})
        ref = runs.get(REFERENCE, {})
        if not ref or any(m not in runs for m in methods):
            continue
        common = set.intersection(*(set(runs[m]) for m in methods))
        if not common:
            continue
        ref_med = float(np.median([r["regret"] for r in ref.values()]))
        out[p] = {m: [log_score(runs[m][s]["regret"], ref_med) for s in sorted(common)]
                  for m in methods}
    return out


def _mean(xs: Sequence[float]) -> float:
    return float(np.mean(xs)) if len(xs) else float("nan")


def _wtl(sc: Mapping[Problem, Mapping[str, list[float]]], a: str, b: str
         ) -> tuple[int, int, int, float]:
    """Wins, ties, losses of ``a`` against ``b``, and the Wilcoxon p-value (two-sided)."""
    diffs = [_mean(v[a]) - _mean(v[b]) for v in sc.values()]
    w = sum(x >= TIE for x in diffs)
    lo = sum(x <= -TIE for x in diffs)
    p = float("nan")
    nz = [x for x in diffs if abs(x) > 1e-9]
    if len(nz) >= 6:
        from scipy.stats import wilcoxon

        p = float(wilcoxon(nz).pvalue)
    return w, len(diffs) - w - lo, lo, p


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for k, r in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if k == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _dims(sc: Mapping[Problem, Any]) -> list[int]:
    return sorted({p[1] for p in sc})


def _score_tables(sc: Mapping[Problem, Mapping[str, list[float]]], methods: Sequence[str],
                  what: str) -> None:
    from scipy.stats import rankdata

    rows = []
    for d in [*_dims(sc), 0]:
        sub = [v for p, v in sc.items() if d in (0, p[1])]
        ranks = np.array([rankdata([-_mean(v[m]) for m in methods]) for v in sub])
        rows.append([f"{d}-D" if d else "all", len(sub)]
                    + [f"{_mean([_mean(v[m]) for v in sub]):.1f} ({ranks[:, j].mean():.2f})"
                       for j, m in enumerate(methods)])
    _table(f"{what}: mean score (average rank, 1 = best)", ["dim", "problems", *methods], rows)
    if SUBJECT not in methods:
        return
    rows = []
    for d in [*_dims(sc), 0]:
        sub = {p: v for p, v in sc.items() if d in (0, p[1])}
        row: list[Any] = [f"{d}-D" if d else "all"]
        for m in methods:
            if m == SUBJECT:
                continue
            w, t, lo, pv = _wtl(sub, SUBJECT, m)
            row.append(f"{w}/{t}/{lo} p={pv:.2g}")
        rows.append(row)
    _table(f"{what}: {SUBJECT} win/tie/loss against each (tie: |score difference| < {TIE:g}; "
           "p: Wilcoxon signed-rank over problems)",
           ["dim", *[m for m in methods if m != SUBJECT]], rows)


def _per_function(sc: Mapping[Problem, Mapping[str, list[float]]], methods: Sequence[str],
                  f_names: Mapping[int, str]) -> None:
    peers = [m for m in methods if m not in (SUBJECT, REFERENCE)]
    for d in _dims(sc):
        rows, gaps = [], []
        for f in sorted({p[0] for p in sc if p[1] == d}):
            sub = [v for p, v in sc.items() if p[0] == f and p[1] == d]
            means = {m: _mean([_mean(v[m]) for v in sub]) for m in methods}
            rows.append([f"f{f} {f_names.get(f, '')}"] + [f"{means[m]:.1f}" for m in methods])
            if SUBJECT in means and peers:
                best_peer = max(peers, key=lambda m: means[m])
                gaps.append((means[SUBJECT] - means[best_peer], f, best_peer, means))
        _table(f"{d}-D: mean score per function (over instances and seeds)",
               ["function", *methods], rows)
        if gaps:
            gaps.sort()
            worst = [f"f{f} ({f_names.get(f, '')}): {SUBJECT} {m[SUBJECT]:.1f} vs {bp} "
                     f"{m[bp]:.1f} ({g:+.1f})" for g, f, bp, m in gaps[:6] if g < 0]
            print(f"  worst functions for {SUBJECT} in {d}-D (against the best peer):")
            for line in worst or ["none behind a peer"]:
                print(f"    {line}")


def _timing(records: Mapping[tuple, Mapping[str, Any]], methods: Sequence[str],
            full_jobs: Sequence[tuple[str, int, int, int, int]] | None) -> None:
    by: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for r in records.values():
        if r["method"] in methods:
            by.setdefault((r["method"], int(r["d"])), []).append(r)
    rows = []
    for (m, d), rs in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        n_asks = sum(len(r["trace"]) for r in rs)
        rows.append([m, f"{d}-D", len(rs), f"{sum(r['ask_s'] for r in rs) / n_asks:.3f}",
                     f"{_mean([r['wall_s'] for r in rs]):.1f}",
                     f"{_mean([r.get('n_duplicates', 0) for r in rs]):.2f}",
                     f"{sum(r['wall_s'] for r in rs) / 3600:.2f}"])
    _table("Runs in the cache: mean ask() time, wall time per run, repeated proposals per run",
           ["method", "dim", "runs", "ask s", "run s", "repeats", "total h"], rows)
    if not full_jobs:
        return
    per = {k: _mean([r["wall_s"] for r in rs]) for k, rs in by.items()}
    total, missing = 0.0, set()
    for m, _f, d, _i, _s in full_jobs:
        if (m, d) in per:
            total += per[(m, d)]
        else:
            missing.add((m, d))
    done = sum(r["wall_s"] for r in records.values() if r["method"] in methods)
    note = f" (no timing yet for {sorted(missing)})" if missing else ""
    print(f"\n  time: {done / 3600:.2f} h measured in the cache; the selected grid "
          f"({len(full_jobs)} runs) takes about {total / 3600:.1f} h on this machine "
          f"at the measured mean time per run{note}")


def print_report(records: Mapping[tuple, Mapping[str, Any]], grid: Any, methods: Sequence[str],
                 *, notes: Sequence[str] = (), f_names: Mapping[int, str] | None = None,
                 variants: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Print every table for the problems of ``grid`` (a ``bbob.Grid``)."""
    f_names = f_names or {}
    problems = grid.problems()
    core = [m for m in ("bayestune", "optuna-gp", "optuna-tpe", "random") if m in methods]
    print(f"\nBBOB (cocoex), instances {list(grid.instances)}, dimensions {list(grid.dims)}, "
          f"budget 20 d + 10, up to {grid.seeds} seeds")
    print(f"  functions: {list(grid.functions)}")
    if any(d >= 10 for d in grid.dims) and grid.dim10_functions != grid.functions:
        print(f"  10-D subset: {[f'f{f}' for f in grid.dim10_functions]}")
    for n in notes:
        print(f"  NOTE: {n}")
    sc = scores(records, problems, core)
    if sc:
        n_seeds = min(len(next(iter(v.values()))) for v in sc.values())
        print(f"  {len(sc)} of {len(problems)} problems have runs of {core} "
              f"(at least {n_seeds} common seed(s))")
        _score_tables(sc, core, "Peers")
        _per_function(sc, core, f_names)
    if "ax" in methods:
        sub = [m for m in ("bayestune", "optuna-gp", "ax") if m in methods] + ["random"]
        sca = scores(records, problems, sub)
        if sca:
            print(f"\nAx subset: {len(sca)} problems with Ax runs "
                  f"(functions {sorted({p[0] for p in sca})}, dims {_dims(sca)})")
            _score_tables(sca, sub, "Ax subset")
        else:
            print("\nAx: no completed Ax runs in the cache")
    if variants:
        names = [f"bayestune[{v}]" for v in variants]
        have = [m for m in names if m in methods]
        sub = ["bayestune", *have, *(m for m in ("optuna-gp",) if m in methods)]
        scv = scores(records, problems, [*sub, "random"])
        if scv:
            _ablations(scv, sub, variants)
    _timing(records, methods, grid.jobs(methods))


def _ablations(sc: Mapping[Problem, Mapping[str, list[float]]], methods: Sequence[str],
               variants: Mapping[str, Mapping[str, Any]]) -> None:
    rows = []
    dims = _dims(sc)
    for m in methods:
        row: list[Any] = [m]
        for d in [*dims, 0]:
            sub = {p: v for p, v in sc.items() if d in (0, p[1])}
            s = _mean([_mean(v[m]) for v in sub.values()])
            base = _mean([_mean(v["bayestune"]) for v in sub.values()])
            row.append(f"{s:.1f}" + (f" ({s - base:+.1f})" if m != "bayestune" else ""))
        if m != "bayestune":
            w, t, lo, _ = _wtl(sc, m, "bayestune")
            row.append(f"{w}/{t}/{lo}")
        else:
            row.append("-")
        if "optuna-gp" in methods and m != "optuna-gp":
            w, t, lo, _ = _wtl(sc, m, "optuna-gp")
            row.append(f"{w}/{t}/{lo}")
        else:
            row.append("-")
        rows.append(row)
    _table(f"Ablations on {len(sc)} problems: mean score (difference to the default), "
           "W/T/L against the default and against optuna-gp",
           ["variant", *[f"{d}-D" for d in dims], "all", "vs default", "vs optuna-gp"], rows)
    for name, kw in variants.items():
        print(f"    bayestune[{name}] = GPSampler(**{dict(kw)})")
