"""Typed exceptions raised by bayestune.

Every error is a :class:`BayesTuneError` and also the built-in exception a caller would
naturally catch (``ValueError``, ``KeyError``, ``RuntimeError``), so ``except ValueError``
keeps working for code that does not know about bayestune.
"""

from __future__ import annotations

__all__ = [
    "BayesTuneError",
    "InvalidSpaceError",
    "InvalidParamError",
    "InvalidValueError",
    "UnknownTrialError",
    "TrialAlreadyFinishedError",
    "StorageError",
    "StudyMismatchError",
    "TrialPruned",
    "DuplicatedStudyError",
    "NoCompletedTrialsError",
]


class BayesTuneError(Exception):
    """Base class of every error raised by bayestune."""


class InvalidSpaceError(BayesTuneError, ValueError):
    """A search space or one of its dimensions is ill-defined (empty, low >= high, ...)."""


class InvalidParamError(BayesTuneError, ValueError):
    """A configuration (for example one given to ``enqueue``) does not fit the space."""


class InvalidValueError(BayesTuneError, ValueError):
    """A value told to a study is not a number, or an argument is out of its domain."""


class UnknownTrialError(BayesTuneError, KeyError):
    """A trial number that the study does not hold."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class TrialAlreadyFinishedError(BayesTuneError, RuntimeError):
    """``tell`` (or ``report``) on a trial that has already been told."""


class StorageError(BayesTuneError, RuntimeError):
    """The storage cannot be opened or read (corrupt file, foreign schema, ...)."""


class StudyMismatchError(BayesTuneError, ValueError):
    """An existing study was opened with a different space or direction."""


class TrialPruned(BayesTuneError):  # noqa: N818  (named after Optuna's, users know it)
    """Raise inside an objective to end the trial as PRUNED."""


class DuplicatedStudyError(BayesTuneError, ValueError):
    """A study of that name already exists and ``load_if_exists`` was not set."""


class NoCompletedTrialsError(BayesTuneError, ValueError):
    """``best_*`` was asked for before any trial completed."""
