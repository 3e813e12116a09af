"""Trials: the state of a configuration's evaluation, its record, and the live handle."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bayestune._checks import is_int, is_number, short_repr
from bayestune.exceptions import InvalidParamError, InvalidValueError, UnknownTrialError
from bayestune.space import Space

if TYPE_CHECKING:
    from bayestune.study import Study

__all__ = ["TrialState", "StudyRef", "FrozenTrial", "Trial", "trial_number", "parse_state",
           "check_record"]


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
        """Inverse of :meth:`to_dict`; every field is checked, none is guessed.

        Raises:
            InvalidValueError: naming the field and the bad value: a missing number or
                state, an unknown key or state, a value or intermediate value that is
                not a number, attributes that are not a dict, a datetime that is not
                ISO 8601.
        """
        if not isinstance(d, Mapping):
            raise InvalidValueError(f"a trial record must be a dict, got {short_repr(d)}")
        unknown = [k for k in d if k not in _FIELDS]
        if unknown:
            raise InvalidValueError(f"unknown field(s) {short_repr(unknown)} in a trial record")
        number = d.get("number")
        if not is_int(number) or number < 0:
            raise InvalidValueError(f"number must be an int >= 0, got {short_repr(number)}")
        try:
            return cls(
                number=int(number),
                state=_state(d.get("state")),
                params=_str_dict("params", d.get("params")),
                value=_value(d.get("value")),
                intermediate_values=_steps(d.get("intermediate_values")),
                user_attrs=_str_dict("user_attrs", d.get("user_attrs")),
                system_attrs=_str_dict("system_attrs", d.get("system_attrs")),
                datetime_start=_datetime("datetime_start", d.get("datetime_start")),
                datetime_complete=_datetime("datetime_complete", d.get("datetime_complete")),
            )
        except InvalidValueError as e:
            raise InvalidValueError(f"trial {number}: {e}") from None


_FIELDS = ("number", "state", "params", "value", "intermediate_values", "user_attrs",
           "system_attrs", "datetime_start", "datetime_complete")


def _state(s: Any) -> TrialState:
    if isinstance(s, TrialState):
        return s
    if not isinstance(s, str) or s not in TrialState.__members__:
        raise InvalidValueError(f"state must be one of {', '.join(TrialState.__members__)}, "
                                f"got state={short_repr(s)}")
    return TrialState(s)


def _value(v: Any) -> float | None:
    if v is not None and not is_number(v):
        raise InvalidValueError(f"value must be a number or null, got value={short_repr(v)}")
    return None if v is None else float(v)


def _str_dict(field_name: str, d: Any) -> dict[str, Any]:
    if d is None:
        return {}
    if not isinstance(d, Mapping) or not all(isinstance(k, str) for k in d):
        raise InvalidValueError(f"{field_name} must be a dict with string keys, got "
                                f"{field_name}={short_repr(d)}")
    return dict(d)


def _steps(d: Any) -> dict[int, float]:
    """Intermediate values: ``{step: value}``, steps as ints or (from JSON) digit strings."""
    if d is None:
        return {}
    if not isinstance(d, Mapping):
        raise InvalidValueError(
            f"intermediate_values must be a dict, got intermediate_values={short_repr(d)}")
    out: dict[int, float] = {}
    for k, v in d.items():
        step = int(k) if isinstance(k, str) and k.isdigit() else k
        if not is_int(step) or step < 0 or not is_number(v):
            raise InvalidValueError(
                f"intermediate_values must map steps (ints >= 0) to numbers, got "
                f"{short_repr(k)}: {short_repr(v)}")
        out[int(step)] = float(v)
    return out


def _datetime(field_name: str, s: Any) -> datetime | None:
    if s is None or isinstance(s, datetime):
        return s
    try:
        if isinstance(s, str):
            return datetime.fromisoformat(s)
    except ValueError:
        pass
    raise InvalidValueError(f"{field_name} must be an ISO 8601 date and time or null, got "
                            f"{field_name}={short_repr(s)}")


def check_record(trial: FrozenTrial, space: Space) -> FrozenTrial:
    """``trial`` as a study of ``space`` may hold it, refused as strictly as ``tell``
    and ``enqueue`` would refuse it (for imports of trials recorded elsewhere).

    Params must be a complete configuration of the space (a RUNNING or FAILED trial may
    have none: its sampler had not chosen or had failed); a COMPLETE trial needs a
    finite value, a PRUNED one a finite value or none, the others none.

    Returns:
        The record with its params as plain values of the space (``1.0`` for an Int
        becomes ``1``).

    Raises:
        InvalidParamError: params missing, unknown or outside the space (named).
        InvalidValueError: a value that does not fit the state (named).
    """
    where = f"trial {trial.number} ({trial.state.value})"
    params: Mapping[str, Any] = trial.params
    if params or trial.state not in (TrialState.RUNNING, TrialState.FAILED):
        try:
            params = space.validate_params(params)
        except InvalidParamError as e:
            raise InvalidParamError(f"{where}: {e}") from None
    v = trial.value
    if trial.state is TrialState.COMPLETE:
        ok = v is not None and math.isfinite(v)
    elif trial.state is TrialState.PRUNED:
        ok = v is None or math.isfinite(v)
    else:
        ok = v is None
    if not ok:
        need = {TrialState.COMPLETE: "a finite value", TrialState.PRUNED: "a finite value or "
                "none"}.get(trial.state, "no value")
        raise InvalidValueError(f"{where} needs {need}, got value={v!r}")
    return replace(trial, params=dict(params))


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
