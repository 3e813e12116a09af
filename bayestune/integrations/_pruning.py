"""What the framework callbacks share: report a metric, ask the pruner, remember the verdict.

The callbacks never raise :class:`~bayestune.TrialPruned` inside the framework's loop (that
would look like a crash to the trainer and skip its teardown). They stop the run through
the framework's own flag and keep the verdict here; :meth:`check_pruned`, called after
``fit`` / ``train`` returns, turns it into ``TrialPruned`` so that ``Study.optimize`` records
the trial as PRUNED.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from bayestune._checks import check_option, parse_value
from bayestune.exceptions import InvalidValueError, TrialPruned
from bayestune.trial import Trial

__all__ = ["PruningReporter", "StepBy", "HFStepBy"]

StepBy = Literal["epoch", "global_step"]
#: Hugging Face's counters: :data:`StepBy`, ``"examples"`` (training examples seen), or
#: ``"auto"`` (epoch or examples when the batch size is searched, else global step).
HFStepBy = Literal["auto", "epoch", "global_step", "examples"]


class PruningReporter:
    """Reports one monitored metric of a running trial and holds the pruning verdict.

    Args:
        trial: The trial being trained (from ``Study.ask`` or the objective's argument).
        monitor: Name of the metric to report.
        step_by: Which counter numbers the reports.
        allowed: The counters this framework offers (a ``Literal`` type).
    """

    def __init__(self, trial: Trial, monitor: str, step_by: Any,
                 allowed: Any = StepBy) -> None:
        if not isinstance(trial, Trial):
            raise InvalidValueError(
                f"trial must be the bayestune.Trial being trained, got {trial!r}"
            )
        if not isinstance(monitor, str) or not monitor:
            raise InvalidValueError(f"monitor must be a metric name, got {monitor=!r}")
        check_option("step_by", step_by, allowed)
        self.trial = trial
        self.monitor = monitor
        self.step_by: Any = step_by
        self.last_value: float | None = None
        self.pruned_step: int | None = None

    @property
    def pruned(self) -> bool:
        """True once the pruner stopped the run."""
        return self.pruned_step is not None

    def _reset(self) -> None:
        self.last_value = None
        self.pruned_step = None

    def _lookup(self, metrics: Mapping[str, Any], aliases: tuple[str, ...] = ()) -> float:
        for key in (self.monitor, *aliases):
            if key in metrics:
                value = parse_value(metrics[key])
                return math.nan if value is None else value
        raise InvalidValueError(
            f"monitor={self.monitor!r} is not among the logged metrics "
            f"{sorted(metrics)}; log it during validation or pick one of those"
        )

    def _report(self, step: int, value: float) -> bool:
        """Report ``value`` at ``step``; True when the pruner says stop."""
        self.last_value = value
        self.trial.report(int(step), value)
        if self.trial.should_prune():
            self.pruned_step = int(step)
            return True
        return False

    def check_pruned(self) -> None:
        """Raise :class:`~bayestune.TrialPruned` if the pruner stopped the run.

        Call it right after training returns, inside the objective, so that
        ``Study.optimize`` records the trial as PRUNED (not COMPLETE with a half-trained
        value, and not FAILED).
        """
        if self.pruned_step is not None:
            raise TrialPruned(
                f"pruned at {self.step_by} {self.pruned_step} "
                f"({self.monitor}={self.last_value})"
            )
