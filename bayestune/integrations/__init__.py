"""Optional integrations with training frameworks and cluster schedulers.

Each submodule imports its framework itself; import the one you need explicitly, e.g.
``from bayestune.integrations.lightning import BayesTuneCallback`` or
``from bayestune.integrations.ray import BayesTuneSearch`` (Ray Tune), or
``from bayestune.integrations.trackers import TensorBoardTracker`` (TensorBoard, MLflow
and Weights & Biases trackers).
"""
