"""The training progress bar: on in a terminal or a notebook, off in scripts, switchable."""

from __future__ import annotations

import io
import sys

import pytest
import torch

import bayestune as bt
from bayestune import _progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _objective(**kw) -> bt.training.TorchObjective:
    torch.manual_seed(0)
    X, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    return bt.training.TorchObjective(lambda p: torch.nn.Linear(4, 2), (X, y), (X, y),
                                      torch.nn.CrossEntropyLoss(), epochs=2, device="cpu",
                                      defaults={"batch_size": 16}, health=False, **kw)


@pytest.mark.parametrize("progress, tty, shown", [
    ("auto", True, True), ("auto", False, False), (True, False, True), (False, True, False),
])
def test_a_run_shows_steps_and_losses_in_a_terminal_or_on_request(monkeypatch, progress, tty,
                                                                  shown):
    stream = _Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    result = _objective(progress=progress).run({"lr": 0.1})
    assert result.status == "complete"
    text = stream.getvalue()
    assert ("training" in text and "8/8" in text and "epoch=2/2" in text
            and "train_loss=" in text and "val_loss=" in text) == shown


def test_in_a_study_each_trial_has_its_bar(monkeypatch):
    stream = _Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    study = bt.Study(bt.Space({"lr": bt.Float(1e-3, 1e-1, log=True)}),
                     sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(_objective(progress=True), n_trials=2)
    text = stream.getvalue()
    assert "trial 0" in text and "trial 1" in text


def test_a_notebook_kernel_counts_as_interactive(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not _progress.interactive()

    class Shell:
        kernel = object()

    class FakeIPython:
        @staticmethod
        def get_ipython():
            return Shell()

    monkeypatch.setitem(sys.modules, "IPython", FakeIPython)
    assert _progress.interactive()


def test_a_bad_progress_option_is_refused():
    with pytest.raises(bt.InvalidValueError, match="progress='always'"):
        _objective(progress="always")
