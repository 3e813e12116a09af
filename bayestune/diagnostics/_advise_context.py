"""What the rules of :func:`bayestune.diagnostics.advise` share: the :class:`Finding` they
return, the formatting of its evidence, and the :class:`_Context` (a study's history,
sorted once, with the GP fitted lazily) they read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune.diagnostics._surrogate import fit_surrogate, sobol_importance
from bayestune.space import Float, Int
from bayestune.training.health import HealthThresholds, trial_record
from bayestune.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from bayestune.study import Study


@dataclass(frozen=True)
class Finding:
    """One piece of advice.

    Attributes:
        rule: The id of the rule that fired (a key of :data:`RULES`).
        message: What the rule saw, in a sentence.
        evidence: The numbers behind it (JSON-ready).
        action: What to do about it.
    """

    rule: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    action: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "evidence": dict(self.evidence),
                "action": self.action}

    def __str__(self) -> str:
        ev = ", ".join(f"{k}={_fmt(v)}" for k, v in self.evidence.items())
        return f"[{self.rule}] {self.message}\n  evidence: {ev}\n  action: {self.action}"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return str(v)


def _r(v: float, digits: int = 4) -> float:
    """A float rounded to ``digits`` significant digits, for readable evidence."""
    if not math.isfinite(v) or v == 0:
        return float(v)
    return float(f"{v:.{digits}g}")


# -- what the rules share ---------------------------------------------------------------------
class _Context:
    """A study's history, sorted once, with the costly parts (the GP) computed lazily."""

    def __init__(self, study: Study, *, optimizer: str | None, fine_tune: bool,
                 thresholds: HealthThresholds | None, surrogate: Any) -> None:
        self.study = study
        self.space = study.space
        self.direction = study.direction
        self.sign = 1.0 if study.direction == "minimize" else -1.0
        self.trials: list[FrozenTrial] = [t for t in study.trials if t.params]
        self.complete = [t for t in self.trials if t.state is TrialState.COMPLETE
                         and t.value is not None and math.isfinite(t.value)]
        self.complete.sort(key=lambda t: (self.sign * t.value, t.number))  # type: ignore[operator]
        self.failed = [t for t in self.trials if t.state is TrialState.FAILED]
        self.optimizer = optimizer
        self.fine_tune = fine_tune
        self.thresholds = thresholds
        self._surrogate = surrogate

    @property
    def best(self) -> FrozenTrial | None:
        return self.complete[0] if self.complete else None

    def numeric(self) -> list[tuple[str, Float | Int]]:
        return [(n, self.space[n]) for n in self.space.names  # type: ignore[misc]
                if isinstance(self.space[n], (Float, Int)) and self.space[n].high > self.space[n].low]

    @cached_property
    def surrogate(self) -> Any:
        if self._surrogate is not None:
            return self._surrogate
        return fit_surrogate(self.study)

    @cached_property
    def importance(self) -> dict[str, float]:
        """The total Sobol index of each parameter, most important first."""
        _, total = sobol_importance(self.surrogate)
        names = self.surrogate.space.names
        return {names[i]: float(total[i]) for i in np.argsort(-total, kind="stable")}

    @cached_property
    def records(self) -> dict[int, dict[str, Any]]:
        """Health records (with flags) of the completed trials that have curves."""
        out = {}
        for t in self.complete:
            rec = trial_record(t, self.thresholds)
            if rec is not None:
                out[t.number] = rec
        return out


def _position(dim: Float | Int, value: Any) -> float:
    """Where ``value`` lies in ``[low, high]``: 0 at ``low``, 1 at ``high`` (log scale for
    log dimensions)."""
    lo, hi, v = float(dim.low), float(dim.high), float(value)
    if dim.log:
        lo, hi, v = math.log(lo), math.log(hi), math.log(v)
    return (v - lo) / (hi - lo)


def _value_at(dim: Float | Int, p: float) -> float:
    lo, hi = float(dim.low), float(dim.high)
    if dim.log:
        return math.exp(math.log(lo) + p * (math.log(hi) - math.log(lo)))
    return lo + p * (hi - lo)
