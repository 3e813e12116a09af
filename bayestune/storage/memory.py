"""In-memory storage (the default): fast, process-local, lost when the process ends."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bayestune.exceptions import (
    DuplicatedStudyError,
    TrialAlreadyFinishedError,
    UnknownTrialError,
)
from bayestune.storage.base import Storage, StudyRecord
from bayestune.trial import FrozenTrial, TrialState

__all__ = ["InMemoryStorage"]


class InMemoryStorage(Storage):
    """Holds studies in dictionaries, guarded by one lock (safe across threads)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[str, StudyRecord] = {}
        self._trials: dict[str, list[FrozenTrial]] = {}

    def create_study(self, record: StudyRecord) -> None:
        with self._lock:
            if record.name in self._studies:
                raise DuplicatedStudyError(f"a study named {record.name!r} already exists")
            self._studies[record.name] = record
            self._trials[record.name] = []

    def get_study(self, name: str) -> StudyRecord | None:
        with self._lock:
            return self._studies.get(name)

    def list_studies(self) -> list[str]:
        with self._lock:
            return list(self._studies)

    def _trial_list(self, name: str) -> list[FrozenTrial]:
        try:
            return self._trials[name]
        except KeyError:
            raise UnknownTrialError(f"no study named {name!r}") from None

    def _get(self, name: str, number: int) -> FrozenTrial:
        trials = self._trial_list(name)
        if isinstance(number, bool) or not isinstance(number, int) \
                or not 0 <= number < len(trials):
            raise UnknownTrialError(
                f"study {name!r} has no trial number {number!r} "
                f"(it has {len(trials)} trials)"
            )
        return trials[number]

    def _running(self, name: str, number: int) -> FrozenTrial:
        t = self._get(name, number)
        if t.state is not TrialState.RUNNING:
            raise TrialAlreadyFinishedError(
                f"trial {number} of study {name!r} is {t.state.value}, not RUNNING"
            )
        return t

    def create_trial(
        self,
        name: str,
        state: TrialState,
        params: Mapping[str, Any] | None = None,
        value: float | None = None,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        with self._lock:
            trials = self._trial_list(name)
            now = datetime.now()
            t = FrozenTrial(
                number=len(trials),
                state=state,
                params=dict(params or {}),
                value=value,
                system_attrs=dict(system_attrs or {}),
                datetime_start=now,
                datetime_complete=now if state.is_finished else None,
            )
            trials.append(t)
            return t

    def pop_waiting_trial(self, name: str) -> FrozenTrial | None:
        with self._lock:
            trials = self._trial_list(name)
            for i, t in enumerate(trials):
                if t.state is TrialState.WAITING:
                    trials[i] = replace(t, state=TrialState.RUNNING, datetime_start=datetime.now())
                    return trials[i]
            return None

    def set_trial_params(
        self, name: str, number: int, params: Mapping[str, Any],
        system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        with self._lock:
            t = self._running(name, number)
            attrs = {**t.system_attrs, **(system_attrs or {})}
            new = replace(t, params=dict(params), system_attrs=attrs)
            self._trials[name][number] = new
            return new

    def finish_trial(
        self, name: str, number: int, state: TrialState, value: float | None,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        with self._lock:
            t = self._running(name, number)
            attrs = {**t.system_attrs, **(system_attrs or {})}
            new = replace(t, state=state, value=value, system_attrs=attrs,
                          datetime_complete=datetime.now())
            self._trials[name][number] = new
            return new

    def report(self, name: str, number: int, step: int, value: float) -> None:
        with self._lock:
            t = self._running(name, number)
            iv = {**t.intermediate_values, step: value}
            self._trials[name][number] = replace(t, intermediate_values=iv)

    def set_user_attr(self, name: str, number: int, key: str, value: Any) -> None:
        with self._lock:
            t = self._get(name, number)
            self._trials[name][number] = replace(t, user_attrs={**t.user_attrs, key: value})

    def get_trials(
        self, name: str, states: Sequence[TrialState] | None = None
    ) -> list[FrozenTrial]:
        with self._lock:
            trials = list(self._trial_list(name))
        if states is None:
            return trials
        keep = set(states)
        return [t for t in trials if t.state in keep]

    def get_trial(self, name: str, number: int) -> FrozenTrial:
        with self._lock:
            return self._get(name, number)
