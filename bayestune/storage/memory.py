"""In-memory storage (the default): fast, process-local, lost when the process ends."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bayestune._checks import is_int
from bayestune._codec import normalize
from bayestune.exceptions import (
    DuplicatedStudyError,
    TrialAlreadyFinishedError,
    UnknownTrialError,
)
from bayestune.storage.base import STALE_REASON, Storage, StudyRecord, Unseen
from bayestune.trial import FrozenTrial, TrialState

__all__ = ["InMemoryStorage"]


class InMemoryStorage(Storage):
    """Holds studies in dictionaries, guarded by one lock (safe across threads)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[str, StudyRecord] = {}
        self._trials: dict[str, list[FrozenTrial]] = {}
        self._heartbeats: dict[str, dict[int, float]] = {}
        self._location = f"memory:{uuid.uuid4().hex[:12]}"

    @property
    def location(self) -> str:
        return self._location

    def __getstate__(self) -> dict[str, Any]:  # a pickled copy holds a snapshot
        with self._lock:
            state = dict(self.__dict__)
            state["_trials"] = {k: list(v) for k, v in self._trials.items()}
            state["_heartbeats"] = {k: dict(v) for k, v in self._heartbeats.items()}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def create_study(self, record: StudyRecord) -> None:
        with self._lock:
            if record.name in self._studies:
                raise DuplicatedStudyError(f"a study named {record.name!r} already exists")
            self._studies[record.name] = replace(
                record, space=normalize(dict(record.space)),
                settings=normalize(dict(record.settings)),
            )
            self._trials[record.name] = []
            self._heartbeats[record.name] = {}

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
        if not is_int(number) or not 0 <= number < len(trials):
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
        *,
        heartbeat: bool = False,
    ) -> FrozenTrial:
        with self._lock:
            trials = self._trial_list(name)
            now = datetime.now()
            t = FrozenTrial(
                number=len(trials),
                state=state,
                params=dict(params or {}),
                value=value,
                system_attrs=normalize(dict(system_attrs or {})),
                datetime_start=now,
                datetime_complete=now if state.is_finished else None,
                study_ref=self.study_ref(name),
            )
            trials.append(t)
            if heartbeat and state is TrialState.RUNNING:
                self._heartbeats[name][t.number] = time.time()
            return t

    def pop_waiting_trial(self, name: str, *, heartbeat: bool = False) -> FrozenTrial | None:
        with self._lock:
            trials = self._trial_list(name)
            for i, t in enumerate(trials):
                if t.state is TrialState.WAITING:
                    trials[i] = replace(t, state=TrialState.RUNNING, datetime_start=datetime.now())
                    if heartbeat:
                        self._heartbeats[name][i] = time.time()
                    return trials[i]
            return None

    def set_trial_params(
        self, name: str, number: int, params: Mapping[str, Any],
        system_attrs: Mapping[str, Any] | None = None, *, unseen: Unseen | None = None,
    ) -> FrozenTrial | None:
        with self._lock:
            t = self._running(name, number)
            if unseen is not None:
                wanted = normalize(dict(params))
                trials = self._trials[name]
                others = [*trials[unseen.from_number:],
                          *(trials[n] for n in unseen.numbers if n < len(trials))]
                if any(o.number != number and o.state is not TrialState.WAITING
                       and o.params == wanted for o in others):
                    return None
            attrs = {**t.system_attrs, **normalize(dict(system_attrs or {}))}
            new = replace(t, params=dict(params), system_attrs=attrs)
            self._trials[name][number] = new
            return new

    def finish_trial(
        self, name: str, number: int, state: TrialState, value: float | None,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        with self._lock:
            t = self._running(name, number)
            attrs = {**t.system_attrs, **normalize(dict(system_attrs or {}))}
            new = replace(t, state=state, value=value, system_attrs=attrs,
                          datetime_complete=datetime.now())
            self._trials[name][number] = new
            self._heartbeats[name].pop(number, None)
            return new

    def report(self, name: str, number: int, step: int, value: float) -> None:
        with self._lock:
            t = self._running(name, number)
            iv = {**t.intermediate_values, step: value}
            self._trials[name][number] = replace(t, intermediate_values=iv)

    def set_user_attr(self, name: str, number: int, key: str, value: Any) -> None:
        with self._lock:
            t = self._get(name, number)
            attrs = {**t.user_attrs, key: normalize(value)}
            self._trials[name][number] = replace(t, user_attrs=attrs)

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

    def import_trial(self, name: str, trial: FrozenTrial) -> FrozenTrial:
        trial = self._importable(name, trial)
        with self._lock:
            trials = self._trial_list(name)
            t = replace(trial, number=len(trials), params=dict(trial.params),
                        intermediate_values=dict(trial.intermediate_values),
                        user_attrs=normalize(dict(trial.user_attrs)),
                        system_attrs=normalize(dict(trial.system_attrs)),
                        study_ref=self.study_ref(name))
            trials.append(t)
            return t

    def record_heartbeat(self, name: str, numbers: Sequence[int]) -> None:
        now = time.time()
        with self._lock:
            trials = self._trial_list(name)
            beats = self._heartbeats[name]
            for n in numbers:
                if 0 <= n < len(trials) and trials[n].state is TrialState.RUNNING:
                    beats[n] = now

    def reap_stale_trials(self, name: str, grace_period: float, requeue: bool) -> list[int]:
        with self._lock:
            self._trial_list(name)
            cutoff = time.time() - grace_period
            stale = sorted(n for n, beat in self._heartbeats[name].items() if beat < cutoff)
            for n in stale:
                t = self.finish_trial(name, n, TrialState.FAILED, None,
                                      {"fail_reason": STALE_REASON})
                if requeue and t.params:
                    self.create_trial(name, TrialState.WAITING, t.params,
                                      system_attrs={"enqueued": True, "retry_of": n})
            return stale
