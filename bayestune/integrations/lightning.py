"""PyTorch Lightning: report a validation metric each epoch and prune through the Trainer.

Usage::

    from bayestune.integrations.lightning import BayesTuneCallback

    def objective(trial):
        model = MyModule(lr=trial.params["lr"])
        cb = BayesTuneCallback(trial, monitor="val_loss")
        trainer = lightning.pytorch.Trainer(max_epochs=20, callbacks=[cb])
        trainer.fit(model, datamodule=dm)
        cb.check_pruned()  # raises bayestune.TrialPruned if the pruner stopped the run
        return trainer.callback_metrics["val_loss"].item()

Works with both ``lightning.pytorch`` and the older ``pytorch_lightning`` package: the
callback is an instance of whichever ``Callback`` classes are installed.
"""

from __future__ import annotations

import logging
from typing import Any

from bayestune.integrations._pruning import PruningReporter, StepBy
from bayestune.trial import Trial

__all__ = ["BayesTuneCallback"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = (
    'bayestune.integrations.lightning needs PyTorch Lightning: pip install "bayestune[lightning]"'
)


def _callback_bases() -> tuple[type, ...]:
    bases: list[type] = []
    try:
        from lightning.pytorch import Callback  # noqa: PLC0415

        bases.append(Callback)
    except ImportError:
        pass
    try:
        from pytorch_lightning import Callback as LegacyCallback  # noqa: PLC0415

        if LegacyCallback not in bases:
            bases.append(LegacyCallback)
    except ImportError:
        pass
    if not bases:
        raise ImportError(_INSTALL_HINT)
    return tuple(bases)


class BayesTuneCallback(PruningReporter, *_callback_bases()):  # type: ignore[misc]
    """Report ``monitor`` after every validation run and stop the fit when the pruner says so.

    At the end of each validation (the sanity check excepted) the callback reports the
    monitored metric to ``trial`` at step ``trainer.current_epoch`` (or
    ``trainer.global_step``), then asks the study's pruner. When it says prune, the
    callback sets ``trainer.should_stop`` (Lightning's own early-stopping mechanism, so the
    fit ends cleanly) and records the verdict: call :meth:`check_pruned` after
    ``trainer.fit`` to end the trial as PRUNED.

    Under distributed training only global rank 0 reports and asks; its verdict is
    broadcast so that every rank stops together.

    Args:
        trial: The trial being trained.
        monitor: A metric logged during validation (``self.log("val_loss", ...)``).
        step_by: ``"epoch"`` (default) or ``"global_step"``; use ``"global_step"`` when
            validating several times per epoch (``val_check_interval < 1``).

    Attributes:
        pruned: True once the pruner stopped the fit.
        pruned_step: The step at which it did, else None.
        last_value: The last reported value of ``monitor``.

    Raises:
        InvalidValueError: at construction for a bad argument; during the fit when
            ``monitor`` was not logged.

    Note:
        Lightning ignores ``should_stop`` until ``min_epochs`` / ``min_steps`` are done,
        so a pruned trial may run a little longer when those are set.
    """

    def __init__(self, trial: Trial, monitor: str = "val_loss", step_by: StepBy = "epoch") -> None:
        PruningReporter.__init__(self, trial, monitor, step_by)

    @property
    def state_key(self) -> str:
        return f"BayesTuneCallback[trial={self.trial.number}, monitor={self.monitor}]"

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._reset()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":  # not trainer.validate()
            return
        step = trainer.current_epoch if self.step_by == "epoch" else trainer.global_step
        value = self._lookup(trainer.callback_metrics)  # on every rank: all raise alike
        stop = False
        if trainer.is_global_zero:
            stop = self._report(step, value)
            if stop:
                logger.info("trial %d pruned at %s %d (%s=%.6g)", self.trial.number,
                            self.step_by, step, self.monitor, value)
        stop = bool(trainer.strategy.broadcast(stop))
        if stop:
            if self.pruned_step is None:  # ranks other than 0 learn the verdict here
                self.pruned_step, self.last_value = int(step), value
            trainer.should_stop = True
