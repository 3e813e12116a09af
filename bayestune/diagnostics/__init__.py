"""Diagnostics from the tuning guides: check a setup before tuning, watch runs while they
train, and read advice from a study.

- :func:`overfit_check`: can the model drive the loss towards zero on a tiny fixed subset?
  If not, which likely cause (loss / output-layer mismatch, labels out of range, frozen
  parameters or no gradient, a learning rate far off) does it find?
- :class:`HealthMonitor`: per-epoch losses, gradient norm, update-to-weight ratio and
  confidence, with the diverging / learning-slowly / overfitting flags; the torch adapter
  plugs one in by default (it lives with the adapter, in :mod:`bayestune.training.monitor`
  and :mod:`bayestune.training.health`; this package builds on it).
- :func:`advise`: findings from a finished or running study, each with its evidence and a
  concrete action.

``docs/diagnostics.md`` gives every rule with its source. The parts that need torch load
on first use, so that reading the advice rules does not import it.
"""

from __future__ import annotations

from bayestune._lazy import lazy_exports

# torch-free: the advice rules and the health flags load at once (and the function
# `advise` takes the place of its module's name in this package)
from bayestune.diagnostics.advise import RULES, Finding, Rule, advise
from bayestune.training.health import (
    FLAGS,
    HEALTH_KEY,
    HealthThresholds,
    health_flags,
    trial_record,
)

__all__ = [
    "overfit_check",
    "OverfitReport",
    "Cause",
    "advise",
    "Finding",
    "Rule",
    "RULES",
    "HealthMonitor",
    "HealthThresholds",
    "HEALTH_KEY",
    "FLAGS",
    "health_flags",
    "trial_record",
]

# these import torch: loaded on first use
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "bayestune.diagnostics.overfit": ["overfit_check", "OverfitReport", "Cause"],
    "bayestune.training.monitor": ["HealthMonitor"],
})
