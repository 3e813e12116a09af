"""The data behind each panel, as JSON-ready dicts.

Every number comes from a public ``bayestune.plot`` data function (convergence, parallel
coordinates, importance, posterior and acquisition slices, contour, training curves) or
is a trial's own record (its params, value, timings, intermediate values): the
dashboard has no maths of its own. What this module adds is selection (which page of
the trials table, which curves) and the trials' params beside the plotted points, so a
hover can show them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bayestune import plot
from bayestune.exceptions import BayesTuneError, InvalidValueError
from bayestune.space import Categorical
from bayestune.study import Study
from bayestune.trial import FrozenTrial, TrialState

from ._json import jsonable
from ._source import STATES, StudyState

__all__ = ["TableQuery", "state_json", "trials_page", "convergence", "parallel",
           "curves", "trial_detail", "MAX_PAGE_SIZE"]

MAX_PAGE_SIZE = 500
SortOrder = Literal["asc", "desc"]


def state_json(s: StudyState, *, label: str | None = None) -> dict[str, Any]:
    """A study's summary (the studies list's row, the study page's header)."""
    out = jsonable(s)
    if label is not None:
        out["storage"] = label
    return out


def _reason(t: FrozenTrial) -> str | None:
    reason = t.system_attrs.get("fail_reason") or t.system_attrs.get("reason")
    return None if reason is None else str(reason)


def _row(t: FrozenTrial, names: Sequence[str]) -> dict[str, Any]:
    return {"number": t.number, "state": t.state.value, "value": jsonable(t.value),
            "params": [jsonable(t.params.get(n)) for n in names],
            "duration": jsonable(t.duration),
            "datetime_start": jsonable(t.datetime_start),
            "datetime_complete": jsonable(t.datetime_complete),
            "reason": _reason(t), "steps": len(t.intermediate_values)}


# --------------------------------------------------------------------------------------
# the trials table
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableQuery:
    """One page of the trials table: filter, then sort, then slice.

    Attributes:
        page: 0-based page number.
        size: Rows per page (at most :data:`MAX_PAGE_SIZE`).
        sort: ``"number"``, ``"state"``, ``"value"``, ``"duration"`` or ``"param:NAME"``.
        order: ``"asc"`` or ``"desc"``.
        states: Keep only these states (empty: all).
        ranges: ``{param: (low, high)}`` inclusive bounds on numeric params (None: open).
        choices: ``{param: allowed choices}`` for categorical params (as strings).
    """

    page: int = 0
    size: int = 50
    sort: str = "number"
    order: SortOrder = "desc"
    states: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, q: Mapping[str, Sequence[str]], params: Sequence[str]) -> TableQuery:
        """Read URL query arguments (``page``, ``size``, ``sort``, ``order``, ``state``
        (repeatable), ``lo.NAME``, ``hi.NAME``, ``in.NAME`` (comma-separated)).

        Raises:
            InvalidValueError: for a value that does not parse, naming it.
        """
        def one(key: str, default: str) -> str:
            v = q.get(key)
            return v[-1] if v else default

        def integer(key: str, default: int, lo: int, hi: int) -> int:
            raw = one(key, str(default))
            try:
                v = int(raw)
            except ValueError:
                raise InvalidValueError(f"{key} must be an integer, got {raw!r}") from None
            if not lo <= v <= hi:
                raise InvalidValueError(f"{key} must be in [{lo}, {hi}], got {v}")
            return v

        sort = one("sort", "number")
        if sort not in ("number", "state", "value", "duration") and not (
                sort.startswith("param:") and sort[6:] in params):
            raise InvalidValueError(f"cannot sort by {sort!r}")
        order = one("order", "desc")
        if order not in ("asc", "desc"):
            raise InvalidValueError(f"order must be 'asc' or 'desc', got {order!r}")
        states = tuple(s for v in q.get("state", ()) for s in v.split(",") if s)
        bad = [s for s in states if s not in STATES]
        if bad:
            raise InvalidValueError(f"unknown state {bad[0]!r}; states are {STATES}")
        ranges: dict[str, tuple[float | None, float | None]] = {}
        choices: dict[str, tuple[str, ...]] = {}
        for key, values in q.items():
            kind, _, name = key.partition(".")
            if kind not in ("lo", "hi", "in") or not values or values[-1] == "":
                continue
            if name not in params:
                raise InvalidValueError(f"{key}: no parameter named {name!r}")
            if kind == "in":
                choices[name] = tuple(values[-1].split(","))
                continue
            try:
                bound = float(values[-1])
            except ValueError:
                raise InvalidValueError(
                    f"{key} must be a number, got {values[-1]!r}") from None
            lo, hi = ranges.get(name, (None, None))
            ranges[name] = (bound, hi) if kind == "lo" else (lo, bound)
        return cls(page=integer("page", 0, 0, 10**9),
                   size=integer("size", 50, 1, MAX_PAGE_SIZE), sort=sort,
                   order=order, states=states, ranges=ranges,  # type: ignore[arg-type]
                   choices=choices)


def _keeps(t: FrozenTrial, q: TableQuery) -> bool:
    if q.states and t.state.value not in q.states:
        return False
    for name, (lo, hi) in q.ranges.items():
        v = t.params.get(name)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return False
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    for name, allowed in q.choices.items():
        if name not in t.params or str(t.params[name]) not in allowed:
            return False
    return True


def _sort_key(sort: str) -> Any:
    if sort == "number":
        return lambda t: t.number
    if sort == "state":
        return lambda t: (STATES.index(t.state.value), t.number)
    if sort == "value":
        return lambda t: t.value
    if sort == "duration":
        return lambda t: t.duration
    name = sort[6:]
    return lambda t: t.params.get(name)


def _sorted(trials: list[FrozenTrial], sort: str, order: SortOrder) -> list[FrozenTrial]:
    """Sorted by ``sort``; trials without that value (or with nan) last either way."""
    key = _sort_key(sort)

    def missing(t: FrozenTrial) -> bool:
        v = key(t)
        return v is None or (isinstance(v, float) and math.isnan(v))

    have = [t for t in trials if not missing(t)]
    rest = [t for t in trials if missing(t)]
    try:
        have.sort(key=lambda t: (key(t), t.number), reverse=order == "desc")
    except TypeError:  # mixed types (e.g. a categorical of ints and strings)
        have.sort(key=lambda t: (str(key(t)), t.number), reverse=order == "desc")
    return have + rest


def _param_meta(study: Study) -> list[dict[str, Any]]:
    out = []
    for name in study.space.names:
        dim = study.space[name]
        meta: dict[str, Any] = {"name": name, "type": type(dim).__name__.lower(),
                                "log": bool(getattr(dim, "log", False))}
        if isinstance(dim, Categorical):
            meta["choices"] = [str(c) for c in dim.choices]
        else:
            meta["low"], meta["high"] = dim.low, dim.high
        out.append(meta)
    return out


def trials_page(study: Study, trials: Sequence[FrozenTrial], q: TableQuery) -> dict[str, Any]:
    """One page of the filtered, sorted trials (O(n log n) in the server, one page sent)."""
    kept = [t for t in trials if _keeps(t, q)]
    ordered = _sorted(kept, q.sort, q.order)
    pages = max(1, math.ceil(len(ordered) / q.size))
    page = min(q.page, pages - 1)
    names = study.space.names
    rows = [_row(t, names) for t in ordered[page * q.size:(page + 1) * q.size]]
    return {"total": len(trials), "matching": len(ordered), "page": page, "pages": pages,
            "size": q.size, "sort": q.sort, "order": q.order, "params": _param_meta(study),
            "rows": rows}


# --------------------------------------------------------------------------------------
# history panels
# --------------------------------------------------------------------------------------
def _params_columns(trials: Sequence[FrozenTrial], numbers: Sequence[int],
                    names: Sequence[str]) -> dict[str, list[Any]]:
    """For the hover text: each param's value for each listed trial number."""
    return {n: jsonable([trials[i].params.get(n) for i in numbers]) for n in names}


def convergence(study: Study) -> dict[str, Any]:
    """:func:`bayestune.plot.convergence_data`, plus each point's params for the hover."""
    data = plot.convergence_data(study)
    trials = study.trials  # read after: it holds every trial the data saw (and maybe more)
    out = jsonable(data)
    out["best_value"] = jsonable(data.best_value)
    numbers = data.numbers.tolist()
    out["params"] = _params_columns(trials, numbers, study.space.names)
    out["reasons"] = [_reason(trials[i]) for i in numbers]
    return out


def parallel(study: Study) -> dict[str, Any]:
    """:func:`bayestune.plot.parallel_coordinates_data`, or why there is none yet."""
    try:
        return {"status": "ready", "data": jsonable(plot.parallel_coordinates_data(study))}
    except BayesTuneError as e:
        return {"status": "unavailable", "message": str(e)}


def curves(study: Study, trials: Sequence[FrozenTrial], limit: int = 60) -> dict[str, Any]:
    """Intermediate values (the learning curves pruners judge) of the trials that have
    some: the five best complete ones, every RUNNING one, then the latest others up to
    ``limit`` in all."""
    have = [t for t in trials if t.intermediate_values]
    sign = 1.0 if study.direction == "minimize" else -1.0
    best = sorted((t for t in have if t.state is TrialState.COMPLETE and t.value is not None
                   and math.isfinite(t.value)),
                  key=lambda t: (sign * t.value, t.number))[:5]  # type: ignore[operator]
    chosen = {t.number for t in best}
    chosen |= {t.number for t in have if t.state is TrialState.RUNNING}
    for t in reversed(have):
        if len(chosen) >= limit:
            break
        chosen.add(t.number)
    shown = [trials[n] for n in sorted(chosen)]
    best_numbers = {b.number for b in best}
    out = []
    for t in shown:
        steps = sorted(t.intermediate_values)
        out.append({"number": t.number, "state": t.state.value, "value": jsonable(t.value),
                    "steps": steps,
                    "values": [jsonable(t.intermediate_values[s]) for s in steps],
                    "best": t.number in best_numbers,
                    "reason": _reason(t)})
    return {"n_with_curves": len(have), "shown": len(out), "curves": out,
            "direction": study.direction}


def trial_detail(study: Study, trial: FrozenTrial) -> dict[str, Any]:
    """Everything the trial page shows: the record, and its per-epoch training curves
    (:func:`bayestune.plot.training_curves_data`) when the trial stored some."""
    rec = jsonable(trial.to_dict())
    rec["duration"] = jsonable(trial.duration)
    rec["reason"] = _reason(trial)
    rec["param_meta"] = _param_meta(study)
    rec["direction"] = study.direction
    steps = sorted(trial.intermediate_values)
    rec["curve"] = {"steps": steps,
                    "values": [jsonable(trial.intermediate_values[s]) for s in steps]}
    try:
        rec["training"] = jsonable(plot.training_curves_data(study, [trial.number]).curves[0])
    except (InvalidValueError, IndexError, ImportError):
        rec["training"] = None
    return rec
