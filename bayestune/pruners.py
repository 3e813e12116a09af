"""Pruners: stop unpromising trials early from their intermediate values.

A trial reports values as it trains (``trial.report(step, value)``, e.g. the validation
loss after each epoch) and asks ``trial.should_prune()``; the study hands the pruner every
trial and the running one. A pruned trial is recorded PRUNED with its last reported value.

The pruners hold no state of their own: every decision is computed from the trials'
intermediate values, so several workers sharing a storage, or a study reloaded from one,
prune exactly alike.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from bayestune._checks import check_int, check_number
from bayestune._types import Direction
from bayestune.trial import FrozenTrial, TrialState

__all__ = ["Pruner", "NopPruner", "PercentilePruner", "MedianPruner",
           "SuccessiveHalvingPruner"]


class Pruner(abc.ABC):
    """Decides from intermediate values whether a running trial should stop."""

    @abc.abstractmethod
    def prune(self, trials: Sequence[FrozenTrial], trial: FrozenTrial, direction: Direction) -> bool:
        """True to stop ``trial``.

        Args:
            trials: Every trial of the study (``trial`` among them).
            trial: The running trial, with its reported intermediate values.
            direction: ``"minimize"`` or ``"maximize"``.
        """

    def to_dict(self) -> dict[str, Any]:
        return {"name": type(self).__name__}


class NopPruner(Pruner):
    """Never prunes (the default)."""

    def prune(self, trials: Sequence[FrozenTrial], trial: FrozenTrial, direction: Direction) -> bool:
        return False


def _int_arg(name: str, v: Any, low: int) -> int:
    return check_int(name, v, low=low)


def _is_first_in_interval(step: int, steps: Mapping[int, float], n_warmup_steps: int,
                          interval_steps: int) -> bool:
    """True when ``step`` is the first report inside its pruning interval (so a trial that
    reports every step is judged once per ``interval_steps``)."""
    nearest_lower = (step - n_warmup_steps) // interval_steps * interval_steps + n_warmup_steps
    previous = max((s for s in steps if s != step), default=-1)
    return previous < nearest_lower


class PercentilePruner(Pruner):
    """Prune a trial whose best value so far is worse than the given percentile of the
    completed trials' values at the same step.

    Args:
        percentile: In ``[0, 100]``: the share of completed trials (at the same step)
            that a trial must beat to go on; 50 is the median rule, 25 keeps the top
            quarter.
        n_startup_trials: Never prune before this many trials have completed.
        n_warmup_steps: Never prune a trial before it reports this step.
        interval_steps: Judge a trial once per this many steps (after the warm-up).
        n_min_trials: Judge only when at least this many completed trials reported the
            same step.

    Raises:
        InvalidValueError: for an argument out of its range, naming it.
    """

    def __init__(
        self,
        percentile: float,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        *,
        n_min_trials: int = 1,
    ) -> None:
        self.percentile = check_number("percentile", percentile, low=0, high=100)
        self.n_startup_trials = _int_arg("n_startup_trials", n_startup_trials, 0)
        self.n_warmup_steps = _int_arg("n_warmup_steps", n_warmup_steps, 0)
        self.interval_steps = _int_arg("interval_steps", interval_steps, 1)
        self.n_min_trials = _int_arg("n_min_trials", n_min_trials, 1)

    def prune(self, trials: Sequence[FrozenTrial], trial: FrozenTrial, direction: Direction) -> bool:
        values = trial.intermediate_values
        if not values:
            return False
        step = max(values)
        if step < self.n_warmup_steps:
            return False
        if not _is_first_in_interval(step, values, self.n_warmup_steps, self.interval_steps):
            return False
        completed = [t for t in trials if t.state is TrialState.COMPLETE]
        if not completed or len(completed) < self.n_startup_trials:
            return False
        own = np.array(list(values.values()), dtype=float)
        if np.isnan(own).all():
            return True
        best = np.nanmin(own) if direction == "minimize" else np.nanmax(own)
        others = np.array([t.intermediate_values[step] for t in completed
                           if step in t.intermediate_values], dtype=float)
        others = others[~np.isnan(others)]
        if len(others) < self.n_min_trials:
            return False
        q = self.percentile if direction == "minimize" else 100.0 - self.percentile
        threshold = float(np.percentile(others, q))
        return bool(best > threshold) if direction == "minimize" else bool(best < threshold)

    def to_dict(self) -> dict[str, Any]:
        return {"name": type(self).__name__, "percentile": self.percentile,
                "n_startup_trials": self.n_startup_trials, "n_warmup_steps": self.n_warmup_steps,
                "interval_steps": self.interval_steps, "n_min_trials": self.n_min_trials}


class MedianPruner(PercentilePruner):
    """Prune a trial whose best value so far is worse than the median of the completed
    trials' values at the same step (Google Vizier's median stopping rule; Optuna's
    default pruner).

    Args:
        n_startup_trials: Never prune before this many trials have completed.
        n_warmup_steps: Never prune a trial before it reports this step.
        interval_steps: Judge a trial once per this many steps (after the warm-up).
        n_min_trials: Judge only when at least this many completed trials reported the
            same step.
    """

    def __init__(
        self,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        *,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(50.0, n_startup_trials, n_warmup_steps, interval_steps,
                         n_min_trials=n_min_trials)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        del d["percentile"]
        return d


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (ASHA; Li et al., 2020, as in Optuna).

    Rung ``k`` sits at step ``min_resource * reduction_factor ** (min_early_stopping_rate
    + k)``. When a trial's report first reaches a rung, it competes with every trial
    that reached that rung before it (any state): it goes on only if its value there is
    within the best ``1 / reduction_factor`` of them, else it is pruned. No trial waits
    for others, so the rungs fill as trials arrive.

    A trial's value at a rung is its value at the first step it reported at or past the
    rung, so ``should_prune`` is meant to be asked after every report (as
    :class:`~bayestune.training.TorchObjective` does).

    Args:
        min_resource: Steps (e.g. epochs) before the first rung; ``"auto"`` uses
            ``max(1, longest completed trial's last step // 100)`` once a trial has
            completed (no pruning before that).
        reduction_factor: Keep the best ``1 / reduction_factor`` at each rung (>= 2).
        min_early_stopping_rate: Shifts the first rung up by this many powers of
            ``reduction_factor``.
        bootstrap_count: Prune every trial that reaches a rung while fewer than this
            many trials (itself included) have reached it (Optuna's meaning).

    Raises:
        InvalidValueError: for an argument out of its range, naming it.
    """

    def __init__(
        self,
        min_resource: int | Literal["auto"] = "auto",
        reduction_factor: int = 4,
        min_early_stopping_rate: int = 0,
        bootstrap_count: int = 0,
    ) -> None:
        if min_resource != "auto":
            min_resource = _int_arg("min_resource", min_resource, 1)
        self.min_resource: int | Literal["auto"] = min_resource
        self.reduction_factor = _int_arg("reduction_factor", reduction_factor, 2)
        self.min_early_stopping_rate = _int_arg("min_early_stopping_rate",
                                                min_early_stopping_rate, 0)
        self.bootstrap_count = _int_arg("bootstrap_count", bootstrap_count, 0)

    def _resource(self, trials: Sequence[FrozenTrial]) -> int | None:
        if self.min_resource != "auto":
            return self.min_resource
        last = [t.last_step for t in trials
                if t.state is TrialState.COMPLETE and t.last_step is not None]
        return max(max(last) // 100, 1) if last else None

    def rung_step(self, rung: int, min_resource: int) -> int:
        """The step at which rung ``rung`` (0-based) sits."""
        return min_resource * self.reduction_factor ** (self.min_early_stopping_rate + rung)

    def prune(self, trials: Sequence[FrozenTrial], trial: FrozenTrial, direction: Direction) -> bool:
        values = trial.intermediate_values
        if not values:
            return False
        step = max(values)
        value = values[step]
        resource = self._resource(trials)
        if resource is None:
            return False
        previous = max((s for s in values if s != step), default=-1)
        rung = 0
        while self.rung_step(rung, resource) <= previous:  # rungs judged at earlier reports
            rung += 1
        while self.rung_step(rung, resource) <= step:  # rungs this report reaches
            if math.isnan(value):
                return True
            competing = [value, *self._rung_values(trials, trial.number,
                                                   self.rung_step(rung, resource))]
            if len(competing) <= self.bootstrap_count:
                return True
            if not self._promotable(value, competing, direction):
                return True
            rung += 1
        return False

    @staticmethod
    def _rung_values(trials: Sequence[FrozenTrial], number: int, rung_step: int) -> list[float]:
        """Every other trial's value at the rung: at its first report at or past it."""
        out = []
        for t in trials:
            if t.number == number or not t.intermediate_values:
                continue
            reached = [s for s in t.intermediate_values if s >= rung_step]
            if reached:
                out.append(t.intermediate_values[min(reached)])
        return out

    def _promotable(self, value: float, competing: list[float], direction: Direction) -> bool:
        worst = math.inf if direction == "minimize" else -math.inf
        ranked = sorted((worst if math.isnan(v) else v for v in competing),
                        reverse=direction == "maximize")
        k = max(len(ranked) // self.reduction_factor - 1, 0)
        return value <= ranked[k] if direction == "minimize" else value >= ranked[k]

    def to_dict(self) -> dict[str, Any]:
        return {"name": type(self).__name__, "min_resource": self.min_resource,
                "reduction_factor": self.reduction_factor,
                "min_early_stopping_rate": self.min_early_stopping_rate,
                "bootstrap_count": self.bootstrap_count}
