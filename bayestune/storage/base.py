"""The storage protocol: where a study's description and trials live.

A storage holds any number of studies, each identified by name. Every method is
atomic: the numbering of trials, the WAITING -> RUNNING hand-over and the RUNNING ->
finished transition happen inside one critical section, so several workers sharing one
storage never get the same trial or tell one twice.

Attributes (``user_attrs``, ``system_attrs``) come back as JSON gives them (tuples as
lists, NumPy numbers as Python numbers), whatever the backend, so a sampler reads the
same state from memory as from a file.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bayestune.exceptions import UnknownTrialError
from bayestune.space import Space
from bayestune.trial import FrozenTrial, StudyRef, TrialState, check_record

__all__ = ["Storage", "StudyRecord", "Unseen", "STALE_REASON"]

STALE_REASON = "stale heartbeat"


@dataclass(frozen=True)
class StudyRecord:
    """What a storage knows about a study apart from its trials.

    Attributes:
        name: The study's name.
        space: ``Space.to_dict()``.
        direction: ``"minimize"`` or ``"maximize"``.
        settings: Sampler and study settings (JSON-ready), e.g. ``{"seed": 0}``.
    """

    name: str
    space: Mapping[str, Any]
    direction: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unseen:
    """The trials a sampler was not shown when it chose a configuration.

    Attributes:
        from_number: Every trial numbered this or more (created since).
        numbers: Trials that were reserved then, their params not chosen yet.
    """

    from_number: int
    numbers: tuple[int, ...] = ()

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and (number >= self.from_number
                                            or number in self.numbers)


class Storage(abc.ABC):
    """Abstract storage. Implementations: memory (default) and SQLite.

    The trials a storage returns carry ``study_ref`` (:meth:`study_ref`), so that a
    study can refuse the trials of another one.
    """

    @property
    def location(self) -> str:
        """Identifies this storage in :class:`~bayestune.trial.StudyRef` (the same for
        every object that reaches the same data)."""
        return f"{type(self).__name__}@{id(self):x}"

    def study_ref(self, name: str) -> StudyRef:
        """The reference of study ``name`` in this storage."""
        return StudyRef(self.location, name)

    @abc.abstractmethod
    def create_study(self, record: StudyRecord) -> None:
        """Create a study; raises DuplicatedStudyError if the name exists."""

    @abc.abstractmethod
    def get_study(self, name: str) -> StudyRecord | None:
        """The study's record, or None if there is no study of that name."""

    @abc.abstractmethod
    def list_studies(self) -> list[str]:
        """Names of the studies held."""

    @abc.abstractmethod
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
        """Append a trial with the next number and return it.

        With ``heartbeat`` (a RUNNING trial of a study with heartbeats) its first
        heartbeat is recorded in the same atomic step, so a worker killed right after
        the reservation still leaves a trial that :meth:`reap_stale_trials` finds.
        """

    @abc.abstractmethod
    def pop_waiting_trial(self, name: str, *, heartbeat: bool = False) -> FrozenTrial | None:
        """Atomically turn the oldest WAITING trial into RUNNING and return it (with its
        first heartbeat, as in :meth:`create_trial`)."""

    @abc.abstractmethod
    def set_trial_params(
        self, name: str, number: int, params: Mapping[str, Any],
        system_attrs: Mapping[str, Any] | None = None, *, unseen: Unseen | None = None,
    ) -> FrozenTrial | None:
        """Set the params of a RUNNING trial (once the sampler chose them).

        With ``unseen``, in the same atomic step: if a trial the sampler was not shown
        holds the same configuration already (another worker chose it meanwhile; a
        WAITING trial does not count), write nothing and return None, so that the
        caller plans again around it.
        """

    @abc.abstractmethod
    def finish_trial(
        self, name: str, number: int, state: TrialState, value: float | None,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        """RUNNING -> ``state``. Raises UnknownTrialError or TrialAlreadyFinishedError."""

    @abc.abstractmethod
    def report(self, name: str, number: int, step: int, value: float) -> None:
        """Record an intermediate value of a RUNNING trial."""

    @abc.abstractmethod
    def set_user_attr(self, name: str, number: int, key: str, value: Any) -> None:
        """Set a user attribute of a trial."""

    @abc.abstractmethod
    def get_trials(
        self, name: str, states: Sequence[TrialState] | None = None
    ) -> list[FrozenTrial]:
        """All trials of a study (optionally only some states), by number."""

    @abc.abstractmethod
    def get_trial(self, name: str, number: int) -> FrozenTrial:
        """One trial; raises UnknownTrialError."""

    @abc.abstractmethod
    def import_trial(self, name: str, trial: FrozenTrial) -> FrozenTrial:
        """Append a copy of ``trial`` (any state, with its values, attributes and
        datetimes) under the next number, and return the stored record.

        Raises:
            InvalidParamError, InvalidValueError: a trial that ``tell`` or ``enqueue``
                would refuse (see :func:`~bayestune.trial.check_record`); nothing is
                written then.
        """

    def _importable(self, name: str, trial: FrozenTrial) -> FrozenTrial:
        """``trial`` checked against study ``name``'s space, for :meth:`import_trial`."""
        rec = self.get_study(name)
        if rec is None:
            raise UnknownTrialError(f"no study named {name!r}")
        return check_record(trial, Space.from_dict(rec.space))

    @abc.abstractmethod
    def record_heartbeat(self, name: str, numbers: Sequence[int]) -> None:
        """Mark these RUNNING trials as alive now (others are ignored)."""

    @abc.abstractmethod
    def reap_stale_trials(self, name: str, grace_period: float, requeue: bool) -> list[int]:
        """Fail the RUNNING trials whose last heartbeat is older than ``grace_period``
        seconds (reason ``"stale heartbeat"``); with ``requeue``, also enqueue a WAITING
        copy of each (``system_attrs["retry_of"]``). Trials that never had a heartbeat
        are left alone. Returns the numbers failed."""
