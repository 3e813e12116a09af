"""A progress bar over a training run: steps, and each epoch's train and val loss.

:class:`~bayestune.training.TorchObjective` plugs one in when ``progress`` allows it
(``"auto"``: a terminal or a notebook; scripts stay silent).
"""

from __future__ import annotations

from typing import Any

from bayestune._progress import new_bar
from bayestune.training.callbacks import Callback, RunState

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """A tqdm bar over the run's optimizer steps (over its epochs when the loader has
    no length), showing the epoch and the last train and val losses.

    Inside a study (the run has a trial) the bar is named after the trial and cleared
    when the run ends, so that a study's bars do not pile up; a lone run keeps its bar.
    """

    def __init__(self) -> None:
        self._bar: Any = None
        self._per_step = True

    def on_train_begin(self, state: RunState) -> None:
        self._close()
        epochs = state.config.epochs
        per_epoch = state.steps_per_epoch
        self._per_step = per_epoch is not None
        total = per_epoch * epochs if per_epoch is not None else epochs
        desc = f"trial {state.trial.number}" if state.trial is not None else "training"
        self._bar = new_bar(total, desc, "step" if self._per_step else "epoch",
                            leave=state.trial is None)
        self._bar.set_postfix(epoch=f"0/{epochs}", refresh=False)

    def on_batch_end(self, state: RunState) -> None:
        if self._bar is not None and self._per_step:
            self._bar.update(1)

    def on_epoch_end(self, state: RunState) -> None:
        if self._bar is None:
            return
        if not self._per_step:
            self._bar.update(1)
        post = {"epoch": f"{state.epoch}/{state.config.epochs}"}
        if state.train_losses:
            post["train_loss"] = f"{state.train_losses[-1]:.4g}"
        if state.val_losses:
            post["val_loss"] = f"{state.val_losses[-1]:.4g}"
        self._bar.set_postfix(post)

    def on_train_end(self, state: RunState) -> None:
        if self._bar is not None and state.status != "complete":
            self._bar.set_postfix_str(f"{state.status}: {state.reason or ''}"[:60],
                                      refresh=False)
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
