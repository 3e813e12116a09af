"""Experiment trackers: TensorBoard, MLflow and Weights & Biases, one run per trial.

Each tracker logs a trial's parameters, its per-epoch values and its final value (and
state). It works in either of two places, or both:

- as a ``Study.optimize`` callback (``study.optimize(objective, callbacks=[tracker])``):
  once a trial ends, its run is written from the record: the parameters, the values it
  reported (``reported`` at each step), the per-epoch ``train_loss`` / ``val_loss`` /
  ``metric`` that :class:`~bayestune.training.TorchObjective` keeps in its user
  attributes, and the final ``value``;
- as a :class:`~bayestune.training.TorchObjective` callback
  (``TorchObjective(..., callbacks=[tracker])``): the run is written live, epoch by
  epoch, as training goes.

Passed to both, each trial is logged once (live). Usage::

    from bayestune.integrations.trackers import TensorBoardTracker

    tracker = TensorBoardTracker("runs/digits")
    study.optimize(TorchObjective(..., callbacks=[tracker]), n_trials=20)
    # tensorboard --logdir runs/digits
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayestune.training.callbacks import Callback, RunState
from bayestune.trial import FrozenTrial

if TYPE_CHECKING:
    from bayestune.study import Study

__all__ = ["TensorBoardTracker", "MLflowTracker", "WandbTracker"]

logger = logging.getLogger(__name__)

#: The per-epoch series that TorchObjective keeps in a trial's user attributes.
EPOCH_SERIES = ("train_loss", "val_loss", "metric")

_STATUS_TO_STATE = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAILED"}


def _plain(value: Any) -> int | float | str | bool:
    """A parameter value every tracker accepts (other objects by their ``str``)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


class _Tracker(Callback):
    """One run per trial, opened, fed and closed by the subclass's four methods."""

    def __init__(self) -> None:
        self._live: set[int] = set()  # trials logged live, skipped by the study callback
        self._runs = 0  # runs outside a study are named run-0, run-1, ...
        self._has_run = False

    # -- what a backend implements ----------------------------------------------------------
    def _open(self, name: str, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _log(self, key: str, value: float, step: int) -> None:
        raise NotImplementedError

    def _close(self, value: float | None, state: str) -> None:
        raise NotImplementedError

    # -- the study callback ---------------------------------------------------------------
    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        """Log a finished trial (for ``Study.optimize(callbacks=[...])``)."""
        if trial.number in self._live:
            return
        self._open(f"trial-{trial.number}", trial.params)
        try:
            for step, value in sorted(trial.intermediate_values.items()):
                if _finite(value):
                    self._log("reported", float(value), int(step))
            for key in EPOCH_SERIES:
                series = trial.user_attrs.get(key)
                if isinstance(series, (list, tuple)):
                    for epoch, value in enumerate(series, start=1):
                        if _finite(value):
                            self._log(key, float(value), epoch)
        finally:
            self._close(trial.value, trial.state.value)

    # -- the training callback ------------------------------------------------------------
    def on_train_begin(self, state: RunState) -> None:
        if state.trial is not None:
            name = f"trial-{state.trial.number}"
            self._live.add(state.trial.number)
        else:
            name = f"run-{self._runs}"
            self._runs += 1
        self._open(name, state.params)
        self._has_run = True

    def on_epoch_end(self, state: RunState) -> None:
        for key, series in (("train_loss", state.train_losses),
                            ("val_loss", state.val_losses), ("metric", state.metrics)):
            if series and _finite(series[-1]):
                self._log(key, float(series[-1]), state.epoch)

    def on_train_end(self, state: RunState) -> None:
        if not self._has_run:
            return
        self._has_run = False
        final: float | None = None
        if state.status != "failed":
            if state.trial is not None:  # what the objective reported: its monitored value
                reported = state.trial.intermediate_values
                final = reported[max(reported)] if reported else None
            elif state.val_losses:
                final = state.val_losses[-1]
        self._close(final, _STATUS_TO_STATE.get(state.status or "", str(state.status)))


class TensorBoardTracker(_Tracker):
    """Write each trial to ``<log_dir>/trial-<number>`` for TensorBoard.

    Scalars ``train_loss``, ``val_loss``, ``metric`` (per epoch), ``reported`` (per
    reported step) and ``value`` (the final value); the parameters and the final value
    in TensorBoard's HParams tab; the state as text.

    Args:
        log_dir: The folder for the study's runs (``tensorboard --logdir log_dir``).

    Raises:
        ImportError: without the ``tensorboard`` package.
    """

    def __init__(self, log_dir: str | os.PathLike[str] = "runs") -> None:
        super().__init__()
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415
        except ImportError as e:
            raise ImportError('TensorBoardTracker needs TensorBoard: '
                              'pip install "bayestune[tensorboard]"') from e
        self._writer_class = SummaryWriter
        self.log_dir = Path(log_dir)
        self._writer: Any = None
        self._params: dict[str, Any] = {}

    def _open(self, name: str, params: Mapping[str, Any]) -> None:
        self._writer = self._writer_class(log_dir=str(self.log_dir / name))
        self._params = {k: _plain(v) for k, v in params.items()}

    def _log(self, key: str, value: float, step: int) -> None:
        self._writer.add_scalar(key, value, step)

    def _close(self, value: float | None, state: str) -> None:
        writer, self._writer = self._writer, None
        metrics = {"value": float(value)} if _finite(value) else {}
        writer.add_hparams(self._params, metrics, run_name=".")
        writer.add_text("state", state)
        writer.close()


class MLflowTracker(_Tracker):
    """Log each trial as an MLflow run (``trial-<number>``) of one experiment.

    Parameters as params; ``train_loss``, ``val_loss``, ``metric`` (step: the epoch),
    ``reported`` and the final ``value`` as metrics; the state as the tag
    ``bayestune.state`` and the run's status (FINISHED, or FAILED for a failed trial,
    KILLED for a pruned one). No server needed: the default store is a local SQLite
    file, MLflow 3's recommended local backend; a file store (``"file:///.../mlruns"``)
    works too, once ``MLFLOW_ALLOW_FILE_STORE=true`` is set, as MLflow 3 asks.

    Args:
        experiment: The experiment's name (created when missing).
        tracking_uri: Where runs go; default ``sqlite:///<working directory>/mlflow.db``
            (``mlflow ui --backend-store-uri`` with the same URI shows them).

    Raises:
        ImportError: without ``mlflow`` (``mlflow-skinny`` suffices, with SQLAlchemy and
            Alembic for the SQLite store: ``pip install "bayestune[mlflow]"``).
    """

    def __init__(self, experiment: str = "bayestune", tracking_uri: str | None = None) -> None:
        super().__init__()
        try:
            from mlflow import MlflowClient  # noqa: PLC0415
        except ImportError as e:
            raise ImportError('MLflowTracker needs MLflow: pip install "bayestune[mlflow]"') \
                from e
        self.tracking_uri = tracking_uri or f"sqlite:///{Path('mlflow.db').resolve()}"
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found is not None \
            else self.client.create_experiment(experiment)
        self.run_ids: dict[str, str] = {}  # run name -> MLflow run id
        self._run_id: str | None = None

    def _open(self, name: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param  # noqa: PLC0415

        run = self.client.create_run(self.experiment_id, run_name=name)
        self._run_id = run.info.run_id
        self.run_ids[name] = self._run_id
        self.client.log_batch(self._run_id, params=[Param(k, str(_plain(v)))
                                                    for k, v in params.items()])

    def _log(self, key: str, value: float, step: int) -> None:
        self.client.log_metric(self._run_id, key, value, step=step)  # type: ignore[arg-type]

    def _close(self, value: float | None, state: str) -> None:
        run_id, self._run_id = self._run_id, None
        if _finite(value):
            self.client.log_metric(run_id, "value", float(value))  # type: ignore[arg-type]
        self.client.set_tag(run_id, "bayestune.state", state)  # type: ignore[arg-type]
        status = {"FAILED": "FAILED", "PRUNED": "KILLED"}.get(state, "FINISHED")
        self.client.set_terminated(run_id, status=status)  # type: ignore[arg-type]


class WandbTracker(_Tracker):
    """Log each trial as a Weights & Biases run (``trial-<number>``).

    Parameters as the run's config; ``train_loss``, ``val_loss``, ``metric`` (with
    ``epoch``) and ``reported`` in its history; the final ``value`` and ``state`` in its
    summary. Set ``mode="offline"`` (or the environment variable ``WANDB_MODE=offline``)
    to write runs under ``dir`` without an account, for ``wandb sync`` later. W&B's
    service writes the run files in the background: they are complete once the process
    ends, or after ``wandb.teardown()``.

    Args:
        project: The W&B project.
        dir: Where W&B writes (its ``wandb/`` folder goes there).
        mode: ``"online"``, ``"offline"`` or ``"disabled"``; None: W&B's own default.
        **init_kwargs: More keyword arguments for ``wandb.init`` (``entity``, ``group``,
            ``tags``, ...).

    Raises:
        ImportError: without ``wandb``.
    """

    def __init__(self, project: str = "bayestune", dir: str | os.PathLike[str] | None = None,
                 mode: str | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        try:
            import wandb  # noqa: PLC0415
        except ImportError as e:
            raise ImportError('WandbTracker needs wandb: pip install "bayestune[wandb]"') \
                from e
        self._wandb = wandb
        self.project = project
        self.dir = None if dir is None else str(dir)
        self.mode = mode
        self.init_kwargs = init_kwargs
        self._run: Any = None
        self._step_key: str | None = None

    def _open(self, name: str, params: Mapping[str, Any]) -> None:
        kwargs = {"project": self.project, "name": name,
                  "config": {k: _plain(v) for k, v in params.items()}, **self.init_kwargs}
        if self.dir is not None:
            kwargs["dir"] = self.dir
        if self.mode is not None:
            kwargs["mode"] = self.mode
        self._run = self._wandb.init(reinit="finish_previous", **kwargs)

    def _log(self, key: str, value: float, step: int) -> None:
        counter = "step" if key == "reported" else "epoch"
        self._run.log({key: value, counter: step})

    def _close(self, value: float | None, state: str) -> None:
        run, self._run = self._run, None
        if _finite(value):
            run.summary["value"] = float(value)
        run.summary["state"] = state
        run.finish(exit_code=1 if state == "FAILED" else 0)
