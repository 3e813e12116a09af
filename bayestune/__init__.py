"""bayestune: Gaussian-process Bayesian optimization of deep-learning hyperparameters.

The public API is what ``__all__`` lists; everything else is private.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from bayestune import exceptions, pruners, samplers
from bayestune.exceptions import (
    BayesTuneError,
    DuplicatedStudyError,
    InvalidParamError,
    InvalidSpaceError,
    InvalidValueError,
    NoCompletedTrialsError,
    StorageError,
    StudyMismatchError,
    TrialAlreadyFinishedError,
    TrialPruned,
    UnknownTrialError,
)
from bayestune.space import Categorical, Float, Int, Space
from bayestune.study import Study, load_study
from bayestune.trial import FrozenTrial, Trial, TrialState

logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # search spaces
    "Space",
    "Float",
    "Int",
    "Categorical",
    # studies and trials
    "Study",
    "load_study",
    "Trial",
    "FrozenTrial",
    "TrialState",
    # deep learning
    "lr_range_test",
    "LRRangeResult",
    # the live dashboard (callable: bt.dashboard("sqlite:///study.db"))
    "dashboard",
    # submodules
    "samplers",
    "pruners",
    "presets",
    "training",
    "diagnostics",
    "exceptions",
    # errors
    "BayesTuneError",
    "InvalidSpaceError",
    "InvalidParamError",
    "InvalidValueError",
    "UnknownTrialError",
    "TrialAlreadyFinishedError",
    "StorageError",
    "StudyMismatchError",
    "DuplicatedStudyError",
    "NoCompletedTrialsError",
    "TrialPruned",
]

# Modules that import torch load on first use, so that `import bayestune` (and with it
# every `bayestune ask` on the command line, every spawned worker) stays fast.
_LAZY = {
    "training": ("bayestune.training", None),
    "presets": ("bayestune.presets", None),
    "diagnostics": ("bayestune.diagnostics", None),
    "lr_range_test": ("bayestune.lr_finder", "lr_range_test"),
    "LRRangeResult": ("bayestune.lr_finder", "LRRangeResult"),
    "dashboard": ("bayestune.dashboard", None),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'bayestune' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
