"""What the dashboard reads: one storage, opened read-only, and the studies in it.

A SQLite storage is reopened with ``read_only=True`` (SQLite's ``mode=ro``): the
dashboard cannot write the file, never takes its write lock and never checkpoints its
WAL, so workers writing the same file do not wait for it. An in-memory storage (a study
in this very process, e.g. in a notebook) is read in place; the dashboard only ever
calls the storage's read methods.

Each poll of a page costs one incremental read (the SQLite storage fetches only the rows
changed since its last read) and one pass over the trials to compute a change token.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayestune.exceptions import NoCompletedTrialsError
from bayestune.storage import InMemoryStorage, SQLiteStorage, Storage, get_storage
from bayestune.study import Study, load_study
from bayestune.trial import FrozenTrial, TrialState

__all__ = ["StudyNotFound", "StudySource", "StudyState", "study_state", "fit_key", "snapshot"]

STATES = tuple(s.value for s in TrialState)

FitKey = tuple[int, str]
"""Identifies the finished trials a GP fit saw: their count and a digest of their
numbers (a finished trial never changes again)."""


class StudyNotFound(LookupError):
    """No study of that name in the storage (a 404, not a 500)."""


class StudySource:
    """The storage the dashboard watches, and a cached :class:`Study` per name.

    Args:
        target: A study (its storage is watched, its page is the start page), a
            storage, or a SQLite URL / path.
    """

    def __init__(self, target: Study | Storage | str | os.PathLike[str]) -> None:
        self.start_study: str | None = None
        self._studies: dict[str, Study] = {}
        self._lock = threading.Lock()
        if isinstance(target, Study):
            self.start_study = target.name
            storage = target.storage
            if isinstance(storage, SQLiteStorage):
                self.storage: Storage = get_storage(storage, read_only=True)
            else:  # in this process: read in place (and keep the user's sampler)
                self.storage = storage
                self._studies[target.name] = target
        elif isinstance(target, InMemoryStorage):
            self.storage = target
        else:
            self.storage = get_storage(target, read_only=True)

    @property
    def label(self) -> str:
        """How the page names the storage: its URL, or ``"in memory"``."""
        url = getattr(self.storage, "url", None)
        return str(url) if url else "in memory"

    @property
    def read_only(self) -> bool:
        return bool(getattr(self.storage, "read_only", False))

    def names(self) -> list[str]:
        return self.storage.list_studies()

    def study(self, name: str) -> Study:
        """The study of that name (loaded once, then reused).

        Raises:
            StudyNotFound: when the storage holds no such study.
        """
        with self._lock:
            study = self._studies.get(name)
            if study is None:
                if self.storage.get_study(name) is None:
                    raise StudyNotFound(name)
                study = load_study(self.storage, name)
                self._studies[name] = study
            return study


@dataclass(frozen=True)
class StudyState:
    """A study's summary at one moment.

    Attributes:
        name: The study's name.
        direction: ``"minimize"`` or ``"maximize"``.
        n_trials: Trials of every state.
        counts: Trials per state (every state present, zeros included).
        best_value: The best COMPLETE value, or None.
        best_number: Its trial's number, or None.
        last_activity: The latest start or completion of any trial, or None.
        token: Changes whenever any trial changes (state, value, reports, attributes).
        params: The parameter names, in the space's order.
    """

    name: str
    direction: str
    n_trials: int
    counts: dict[str, int]
    best_value: float | None
    best_number: int | None
    last_activity: datetime | None
    token: str
    params: tuple[str, ...]


def _token(trials: Sequence[FrozenTrial]) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update(repr([(t.state.value, t.value, len(t.params), len(t.intermediate_values),
                    len(t.user_attrs), len(t.system_attrs)) for t in trials]).encode())
    return f"{len(trials)}-{h.hexdigest()}"


def study_state(study: Study, trials: Sequence[FrozenTrial]) -> StudyState:
    """Summarize ``trials`` (the study's trials, read once by the caller)."""
    counts = dict.fromkeys(STATES, 0)
    last: datetime | None = None
    for t in trials:
        counts[t.state.value] += 1
        for d in (t.datetime_complete, t.datetime_start):
            if d is not None and (last is None or d > last):
                last = d
    try:
        best = study.best_trial
        best_value, best_number = best.value, best.number
    except NoCompletedTrialsError:
        best_value = best_number = None
    return StudyState(
        name=study.name, direction=study.direction, n_trials=len(trials), counts=counts,
        best_value=best_value, best_number=best_number, last_activity=last,
        token=_token(trials), params=tuple(study.space.names))


def fit_key(trials: Sequence[FrozenTrial]) -> FitKey:
    """What a GP fit depends on: the finished trials (see :data:`FitKey`)."""
    done = [t.number for t in trials if t.state.is_finished]
    digest = hashlib.blake2b(repr(done).encode(), digest_size=8).hexdigest()
    return len(done), digest


def snapshot(study: Study, trials: Sequence[FrozenTrial]) -> Study:
    """A frozen in-memory copy of ``study`` holding exactly ``trials``.

    A fit and every number derived from it are computed on one copy, so a trial told
    while the GP fits cannot mix into the plots of that fit.
    """
    copy = Study(study.space, study.direction, sampler=study.sampler, pruner=study.pruner,
                 storage=InMemoryStorage(), name=study.name)
    for t in trials:
        copy.storage.import_trial(copy.name, t)
    return copy


def finished_count(trials: Sequence[FrozenTrial]) -> dict[str, Any]:
    """Counts the fit reports with its data: finished and COMPLETE trials."""
    return {"n_finished": sum(t.state.is_finished for t in trials),
            "n_complete": sum(t.state is TrialState.COMPLETE for t in trials)}
