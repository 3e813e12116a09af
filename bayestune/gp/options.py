"""The GP sampler's option types, in one place (checked by ``_checks.check_literal``)."""

from __future__ import annotations

from typing import Literal

__all__ = ["AcquisitionKind", "FailureMode", "PrunedValues"]

AcquisitionKind = Literal["logei", "ucb"]
"""``"logei"``: log expected improvement (qLogEI with pending trials); ``"ucb"``: the upper
confidence bound ``μ + √β σ``."""

FailureMode = Literal["feasibility", "impute", "ignore"]
"""How failed trials steer the search: a classifier's P(ok) times EI plus imputation of the
worst value (``"feasibility"``), the imputation alone (``"impute"``), or nothing
(``"ignore"``, what Optuna does)."""

PrunedValues = Literal["estimate", "last"]
"""How a pruned trial enters the model: at an estimate of its final value
(``"estimate"``) or at its last reported value (``"last"``)."""
