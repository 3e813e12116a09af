"""bayestune: Gaussian-process Bayesian optimization of deep-learning hyperparameters.

The public API is what ``__all__`` lists; everything else is private.
"""

from __future__ import annotations

import logging

from bayestune import exceptions, pruners, samplers
from bayestune._lazy import lazy_exports
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
__getattr__, __dir__ = lazy_exports(
    __name__, __all__, {"bayestune.lr_finder": ["lr_range_test", "LRRangeResult"]},
    submodules=["training", "presets", "diagnostics", "dashboard"])
