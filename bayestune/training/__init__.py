"""Deep-learning training for studies: the torch objective adapter and its parts.

:class:`TorchObjective` turns a configuration into a training run (optimizer, batches,
schedule, mixed precision, divergence detection, per-epoch reports for pruning) and is
used directly as ``study.optimize(TorchObjective(...), n_trials=...)``.
"""

from __future__ import annotations

from bayestune.training.callbacks import (
    Callback,
    DivergenceMonitor,
    RunState,
    TrainingDiverged,
    TrainingFailed,
)
from bayestune.training.config import DEFAULT_PARAM_NAMES, SETTINGS, TrainingConfig
from bayestune.training.data import TensorBatches, forward, to_device, unpack_batch
from bayestune.training.device import resolve_device
from bayestune.training.metrics import accuracy
from bayestune.training.objective import TorchObjective, TrainingResult
from bayestune.training.optimizers import (
    OPTIMIZER_SETTINGS,
    OPTIMIZERS,
    OptimizerName,
    build_optimizer,
)
from bayestune.training.progress import ProgressBar
from bayestune.training.schedules import SCHEDULES, ScheduleName, build_schedule, lr_multiplier

__all__ = [
    "TorchObjective",
    "TrainingResult",
    "TrainingConfig",
    "SETTINGS",
    "DEFAULT_PARAM_NAMES",
    "Callback",
    "RunState",
    "DivergenceMonitor",
    "ProgressBar",
    "TrainingFailed",
    "TrainingDiverged",
    "OptimizerName",
    "OPTIMIZERS",
    "OPTIMIZER_SETTINGS",
    "build_optimizer",
    "ScheduleName",
    "SCHEDULES",
    "build_schedule",
    "lr_multiplier",
    "TensorBatches",
    "unpack_batch",
    "to_device",
    "forward",
    "resolve_device",
    "accuracy",
]
