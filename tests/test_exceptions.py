"""The typed errors: one base class, each also the built-in a caller would catch."""

from __future__ import annotations

import pytest

import bayestune as bt
from bayestune import exceptions

BUILTIN_PARENT = {
    "InvalidSpaceError": ValueError,
    "InvalidParamError": ValueError,
    "InvalidValueError": ValueError,
    "UnknownTrialError": KeyError,
    "TrialAlreadyFinishedError": RuntimeError,
    "StorageError": RuntimeError,
    "StudyMismatchError": ValueError,
    "DuplicatedStudyError": ValueError,
    "NoCompletedTrialsError": ValueError,
}


@pytest.mark.parametrize("name", exceptions.__all__)
def test_every_error_is_a_bayestune_error_exported_at_top_level(name):
    cls = getattr(exceptions, name)
    assert issubclass(cls, bt.BayesTuneError)
    assert getattr(bt, name) is cls
    assert name in bt.__all__


@pytest.mark.parametrize(("name", "parent"), sorted(BUILTIN_PARENT.items()))
def test_errors_are_also_builtins_so_except_valueerror_keeps_working(name, parent):
    cls = getattr(exceptions, name)
    assert issubclass(cls, parent)
    with pytest.raises(parent):
        raise cls("boom")


def test_trial_pruned_is_not_a_failure_builtin():
    # An objective raises TrialPruned to end a trial early; a bare `except ValueError`
    # in user code must not swallow it.
    assert not issubclass(bt.TrialPruned, (ValueError, KeyError, RuntimeError))


def test_unknown_trial_error_message_is_not_quoted_like_a_keyerror():
    err = bt.UnknownTrialError("study 'x' has no trial number 7")
    assert str(err) == "study 'x' has no trial number 7"
    assert str(bt.UnknownTrialError()) == ""
