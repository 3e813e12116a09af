"""Deep-learning training for studies: the torch objective adapter and its parts.

:class:`TorchObjective` turns a configuration into a training run (optimizer, batches,
schedule, mixed precision, divergence detection, per-epoch reports for pruning) and is
used directly as ``study.optimize(TorchObjective(...), n_trials=...)``. Its per-epoch
measurement (:mod:`bayestune.training.monitor`, judged by :mod:`bayestune.training.health`)
is what :mod:`bayestune.diagnostics` and the training plots read.

The parts load on first use: :mod:`bayestune.training.health` needs no torch.
"""

from __future__ import annotations

from bayestune._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "bayestune.training.callbacks": ["Callback", "DivergenceMonitor", "RunState",
                                     "TrainingDiverged", "TrainingFailed"],
    "bayestune.training.config": ["DEFAULT_PARAM_NAMES", "SETTINGS", "TrainingConfig"],
    "bayestune.training.data": ["TensorBatches", "forward", "to_device", "unpack_batch"],
    "bayestune.training.device": ["resolve_device"],
    "bayestune.training.metrics": ["accuracy"],
    "bayestune.training.objective": ["TorchObjective", "TrainingResult"],
    "bayestune.training.progress": ["ProgressBar"],
    "bayestune.training.optimizers": ["OPTIMIZER_SETTINGS", "OPTIMIZERS", "OptimizerName",
                                      "build_optimizer"],
    "bayestune.training.schedules": ["SCHEDULES", "ScheduleName", "build_schedule",
                                     "lr_multiplier"],
})
