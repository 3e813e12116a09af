"""Trials: the state of a configuration's evaluation, its record, and the live handle."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bayestune._checks import is_int
from bayestune.exceptions import InvalidValueError, UnknownTrialError

if TYPE_CHECKING:
    from bayestune.study import Study

__all__ = ["TrialState", "StudyRef", "FrozenTrial", "Trial", "trial_number", "parse_state"]


class TrialState(str, enum.Enum):
    """Where a trial stands. ``WAITING`` trials were enqueued and not yet asked for."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAILED = "FAILED"

    @property
    def is_finished(self) -> bool:
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StudyRef:
    """Which study a trial belongs to: a storage, and the study's name in it.

    Attributes:
        storage: The storage, the same however it was reached: ``"sqlite:////abs/t.db"``
            (the file's real path), ``"memory:<id>"`` for one in-memory storage.
        name: The study's name in that storage.
    """

    storage: str
    name: str

    def __str__(self) -> str:
        return f"study {self.name!r} ({self.storage})"


@dataclass(frozen=True)
class FrozenTrial:
    """The record of one trial, as storage holds it.

    Attributes:
        number: 0-based, unique and gap-free within a study.
        state: See :class:`TrialState`.
        params: The configuration (plain Python values); empty while it is being sampled.
        value: The objective value for COMPLETE (and, when known, PRUNED) trials, else None.
        intermediate_values: ``{step: value}`` reported during the run.
        user_attrs: Free-form attributes set by the user (JSON-serializable).
        system_attrs: Attributes set by bayestune (sampler state, failure reason, ...).
        datetime_start: When the trial was asked for (or enqueued).
        datetime_complete: When it was told, None while it runs.
        study_ref: The study the record was read from (set by the storage; None for a
            record built by hand). ``Study.tell`` refuses a record of another study.
    """

    number: int
    state: TrialState
    params: Mapping[str, Any]
    value: float | None = None
    intermediate_values: Mapping[int, float] = field(default_factory=dict)
    user_attrs: Mapping[str, Any] = field(default_factory=dict)
    system_attrs: Mapping[str, Any] = field(default_factory=dict)
    datetime_start: datetime | None = None
    datetime_complete: datetime | None = None
    study_ref: StudyRef | None = field(default=None, compare=False, repr=False)

    @property
    def duration(self) -> float | None:
        """Seconds between start and completion, None while running."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return (self.datetime_complete - self.datetime_start).total_seconds()

    @property
    def last_step(self) -> int | None:
        return max(self.intermediate_values) if self.intermediate_values else None

    @property
    def fail_reason(self) -> str | None:
        return self.system_attrs.get("fail_reason")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO strings, steps as string keys)."""
        return {
            "number": self.number,
            "state": self.state.value,
            "params": dict(self.params),
            "value": self.value,
            "intermediate_values": {str(k): v for k, v in self.intermediate_values.items()},
            "user_attrs": dict(self.user_attrs),
            "system_attrs": dict(self.system_attrs),
            "datetime_start": self.datetime_start.isoformat() if self.datetime_start else None,
            "datetime_complete": (
                self.datetime_complete.isoformat() if self.datetime_complete else None
            ),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FrozenTrial:
        """Inverse of :meth:`to_dict`."""
        def _dt(s: str | None) -> datetime | None:
            return datetime.fromisoformat(s) if s else None

        value = d.get("value")
        return cls(
            number=int(d["number"]),
            state=TrialState(d["state"]),
            params=dict(d.get("params") or {}),
            value=None if value is None else float(value),
            intermediate_values={
                int(k): float(v) for k, v in (d.get("intermediate_values") or {}).items()
            },
            user_attrs=dict(d.get("user_attrs") or {}),
            system_attrs=dict(d.get("system_attrs") or {}),
            datetime_start=_dt(d.get("datetime_start")),
            datetime_complete=_dt(d.get("datetime_complete")),
        )


@dataclass(frozen=True)
class Trial:
    """The handle ``Study.ask()`` returns: a configuration to evaluate.

    Attributes:
        number: The trial's number in its study.
        params: The configuration, a dict of plain Python values.
    """

    number: int
    params: Mapping[str, Any]
    _study: Study | None = field(default=None, repr=False, compare=False)

    @property
    def study_ref(self) -> StudyRef | None:
        """The study this trial belongs to (None when not attached to one)."""
        return None if self._study is None else self._study._ref

    @property
    def study(self) -> Study:
        if self._study is None:
            raise RuntimeError(f"trial {self.number} is not attached to a study")
        return self._study

    def report(self, step: int, value: float) -> None:
        """Record an intermediate value (for example the validation loss after an epoch).

        Raises:
            InvalidValueError: if ``step`` is not a non-negative int or ``value`` not a number.
            TrialAlreadyFinishedError: if the trial was already told.
        """
        self.study.report(self.number, step, value)

    def should_prune(self) -> bool:
        """Ask the study's pruner whether to stop this trial now."""
        return self.study._should_prune(self.number)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable attribute to the trial (kept by storage)."""
        self.study._set_user_attr(self.number, key, value)

    @property
    def intermediate_values(self) -> Mapping[int, float]:
        return self.study.get_trial(self.number).intermediate_values


def trial_number(trial: Any, owner: StudyRef | None = None) -> int:
    """The trial number of a Trial, FrozenTrial or int (NumPy integers too).

    Args:
        trial: What the caller passed.
        owner: The study that is told: a Trial or FrozenTrial of any other study is
            refused (a plain number is taken as this study's).

    Raises:
        InvalidValueError: for anything else.
        UnknownTrialError: for a trial of another study, naming both studies.
    """
    if isinstance(trial, (Trial, FrozenTrial)):
        ref = trial.study_ref
        if owner is not None and ref is not None and ref != owner:
            raise UnknownTrialError(
                f"trial {trial.number} belongs to {ref}, not to {owner}; tell each trial "
                f"to the study that asked for it")
        return trial.number
    if not is_int(trial):
        raise InvalidValueError(f"expected a Trial or a trial number, got {trial!r}")
    return int(trial)


def parse_state(state: Any) -> TrialState:
    """A finished state (``COMPLETE``, ``PRUNED``, ``FAILED``), given as a TrialState or a
    name in any case.

    Raises:
        InvalidValueError: for an unknown or unfinished state.
    """
    try:
        st = TrialState(state.value if isinstance(state, TrialState) else str(state).upper())
    except ValueError:
        raise InvalidValueError(f"unknown trial state {state!r}") from None
    if not st.is_finished:
        raise InvalidValueError(
            f"a trial can only be told COMPLETE, PRUNED or FAILED, got state={st.value}"
        )
    return st
