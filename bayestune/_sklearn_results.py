"""Private helper of :mod:`bayestune.sklearn`: ``cv_results_`` rebuilt from the study's
trials.

Each trial keeps its cross-validation record in ``user_attrs["cv"]``::

    {"test": {metric: [score per split]}, "train": {...},
     "fit_time": [seconds per split], "score_time": [...]}

so the study alone holds everything ``cv_results_`` shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.ma import MaskedArray

from bayestune.trial import FrozenTrial

__all__ = ["cv_record", "cv_results", "rank_scores"]

_SCALARS = (str, int, float, bool, type(None))

Decoder = Callable[[Mapping[str, Any]], dict[str, Any]]


def cv_record(result: Mapping[str, Any], metrics: Sequence[str]) -> dict[str, Any]:
    """The JSON-ready ``user_attrs["cv"]`` of one trial from ``cross_validate``'s result.

    ``metrics`` is ``["score"]`` for a single metric, else the scorer names.
    """
    def floats(a: Any) -> list[float]:
        return [float(v) for v in np.asarray(a, dtype=float)]

    out: dict[str, Any] = {"fit_time": floats(result["fit_time"]),
                           "score_time": floats(result["score_time"]),
                           "test": {m: floats(result[f"test_{m}"]) for m in metrics}}
    if any(k.startswith("train_") for k in result):
        out["train"] = {m: floats(result[f"train_{m}"]) for m in metrics}
    return out


def rank_scores(means: np.ndarray) -> np.ndarray:
    """1 for the best mean score, ties share the smaller rank, NaN ranks last (as sklearn)."""
    from scipy.stats import rankdata  # noqa: PLC0415

    means = np.asarray(means, dtype=float)
    if np.isnan(means).all():
        return np.ones(len(means), dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return rankdata(-filled, method="min").astype(np.int32)


def _param_columns(params: Sequence[Mapping[str, Any]]) -> dict[str, MaskedArray]:
    """``param_<name>`` masked arrays, typed like scikit-learn's where the values allow."""
    names: dict[str, None] = {}
    for p in params:
        names.update(dict.fromkeys(p))
    out: dict[str, MaskedArray] = {}
    for name in names:
        values = [p[name] for p in params if name in p]
        try:
            arr = np.array(values)
            dtype = arr.dtype if arr.dtype.kind != "U" and arr.ndim == 1 else np.dtype(object)
        except ValueError:
            dtype = np.dtype(object)
        col = MaskedArray(np.empty(len(params), dtype=dtype), mask=True)
        for i, p in enumerate(params):
            if name in p:
                col[i] = p[name]
        out[f"param_{name}"] = col
    return out


def cv_results(
    trials: Sequence[FrozenTrial],
    decode: Decoder,
    metrics: Sequence[str],
    n_splits: int,
    return_train_score: bool,
) -> dict[str, Any]:
    """``cv_results_`` in scikit-learn's layout, one row per trial (in trial order).

    A trial without a record (its cross-validation raised) shows NaN scores and times.
    """
    n = len(trials)
    nan_row = [float("nan")] * n_splits
    records = [t.user_attrs.get("cv") or {} for t in trials]

    def table(get: Callable[[Mapping[str, Any]], Any]) -> np.ndarray:
        rows = [get(r) or nan_row for r in records]
        return np.asarray(rows, dtype=float).reshape(n, n_splits)

    results: dict[str, Any] = {}
    for kind in ("fit", "score"):
        t = table(lambda r, kind=kind: r.get(f"{kind}_time"))
        results[f"mean_{kind}_time"] = t.mean(axis=1)
        results[f"std_{kind}_time"] = t.std(axis=1)
    params = [decode(t.params) for t in trials]
    results.update(_param_columns(params))
    results["params"] = params
    for m in metrics:  # scikit-learn's order: each metric's test columns, then its train ones
        for split in ("test", "train") if return_train_score else ("test",):
            scores = table(lambda r, split=split, m=m: (r.get(split) or {}).get(m))
            for k in range(n_splits):
                results[f"split{k}_{split}_{m}"] = scores[:, k]
            results[f"mean_{split}_{m}"] = scores.mean(axis=1)
            results[f"std_{split}_{m}"] = scores.std(axis=1)
            if split == "test":
                results[f"rank_test_{m}"] = rank_scores(results[f"mean_test_{m}"])
    return results
