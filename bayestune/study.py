"""The Study: ask / tell / optimize over a search space.

The public methods validate their input and then delegate: the sampler chooses
configurations, the storage keeps every trial, the pruner judges intermediate values.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bayestune._checks import check_int, check_seed, parse_direction, parse_value
from bayestune._heartbeat import Heartbeat, HeartbeatSettings, StaleAction
from bayestune._loop import StopSignal
from bayestune._optimize import StartMethod, run_optimize
from bayestune._study_io import (
    export_study,
    import_study,
    read_json,
    restore_pruner,
    restore_sampler,
    stored_direction,
    stored_heartbeat,
    stored_space,
    trials_dataframe,
    write_json,
)
from bayestune._types import Direction
from bayestune.exceptions import (
    DuplicatedStudyError,
    InvalidValueError,
    NoCompletedTrialsError,
    StudyMismatchError,
    TrialAlreadyFinishedError,
)
from bayestune.pruners import NopPruner, Pruner
from bayestune.samplers.base import Sampler
from bayestune.samplers.gp import GPSampler
from bayestune.space import Space
from bayestune.storage import Storage, StudyRecord, get_storage
from bayestune.storage.base import Unseen
from bayestune.trial import FrozenTrial, Trial, TrialState, parse_state, trial_number

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Study", "load_study"]

logger = logging.getLogger(__name__)

# How often ask() samples again when other workers took its configuration meanwhile.
_REPLANS = 10

Objective = Callable[[Trial], Any]
Callback = Callable[["Study", FrozenTrial], None]


class Study:
    """A hyperparameter search: a space, a direction, a sampler and the trials so far.

    Args:
        space: The search space.
        direction: ``"minimize"`` (a loss) or ``"maximize"`` (an accuracy).
        sampler: Proposes configurations; defaults to ``GPSampler(seed=seed)``.
        pruner: Stops unpromising trials from their intermediate values; default never.
        seed: Seed of the default sampler (ignored when ``sampler`` is given).
        storage: None (in memory), a :class:`~bayestune.storage.Storage`, or a SQLite
            URL / path such as ``"sqlite:///tune.db"``.
        name: The study's name within the storage.
        load_if_exists: Reopen an existing study of that name (same space and direction)
            instead of raising :class:`DuplicatedStudyError`.
        heartbeat_interval: Seconds between "still alive" marks on the trials this
            object asked for (None: no heartbeat). Use it when workers may die.
        grace_period: A RUNNING trial with no mark for this long (default twice the
            interval) belongs to a dead worker: the next ``ask()`` of any worker fails it
            with reason ``"stale heartbeat"``.
        stale_trials: ``"fail"`` only, or ``"requeue"`` to also enqueue a WAITING copy
            of the dead trial's configuration, so that it is evaluated again.

    Raises:
        InvalidValueError: for an unknown direction or a bad heartbeat option.
        StudyMismatchError: when reopening a study with another space or direction.

    Examples:
        >>> import bayestune as bt
        >>> space = bt.Space({"lr": bt.Float(1e-4, 1e-1, log=True), "layers": bt.Int(1, 4)})
        >>> study = bt.Study(space, "minimize", seed=0)
        >>> trial = study.ask()  # ask / tell, from any training loop
        >>> study.tell(trial, 0.42).state
        <TrialState.COMPLETE: 'COMPLETE'>
        >>> def objective(trial):
        ...     return (trial.params["lr"] - 0.01) ** 2 + 0.01 * trial.params["layers"]
        >>> study.optimize(objective, n_trials=5)  # or let the study run the loop
        >>> len(study.trials), study.best_value < 0.42
        (6, True)
        >>> sorted(study.best_params)
        ['layers', 'lr']
    """

    def __init__(
        self,
        space: Space,
        direction: Direction = "minimize",
        *,
        sampler: Sampler | None = None,
        pruner: Pruner | None = None,
        seed: int | None = None,
        storage: Storage | str | None = None,
        name: str | None = None,
        load_if_exists: bool = False,
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
        stale_trials: StaleAction = "fail",
    ) -> None:
        if not isinstance(space, Space):
            raise InvalidValueError(f"space must be a bayestune.Space, got {space!r}")
        self.direction: Direction = parse_direction(direction)
        check_seed(seed)
        if sampler is None:
            sampler = GPSampler(seed=seed)
        elif seed is not None and getattr(sampler, "seed", None) != seed:
            logger.warning("seed=%r is ignored: the given sampler has seed=%r", seed,
                           getattr(sampler, "seed", None))
        if not isinstance(sampler, Sampler):
            raise InvalidValueError(f"sampler must be a bayestune Sampler, got {sampler!r}")
        pruner = pruner if pruner is not None else NopPruner()
        if not isinstance(pruner, Pruner):
            raise InvalidValueError(f"pruner must be a bayestune Pruner, got {pruner!r}")
        self.space = space
        self.sampler = sampler
        self.pruner = pruner
        self.name = name if name is not None else "default"
        if not isinstance(self.name, str) or not self.name:
            raise InvalidValueError(f"name must be a non-empty string, got {name!r}")
        self._heartbeat_settings = HeartbeatSettings.parse(heartbeat_interval, grace_period,
                                                           stale_trials)
        self._storage = get_storage(storage)
        self._ref = self._storage.study_ref(self.name)
        self._stop = StopSignal()
        self._attach(load_if_exists)
        self._heartbeat = self._make_heartbeat()

    def _make_heartbeat(self) -> Heartbeat | None:
        interval = self._heartbeat_settings.interval
        return None if interval is None else Heartbeat(self._storage, self.name, interval)

    def __getstate__(self) -> dict[str, Any]:  # for worker processes (n_jobs > 1)
        state = dict(self.__dict__)
        state["_heartbeat"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._heartbeat = self._make_heartbeat()

    def _attach(self, load_if_exists: bool) -> None:
        existing = self._storage.get_study(self.name)
        if existing is None:
            self._storage.create_study(StudyRecord(
                name=self.name, space=self.space.to_dict(), direction=self.direction,
                settings={"sampler": self.sampler.to_dict(), "pruner": self.pruner.to_dict(),
                          "heartbeat": self._heartbeat_settings.to_dict()},
            ))
            return
        if not load_if_exists:
            raise DuplicatedStudyError(
                f"a study named {self.name!r} already exists in this storage; pass "
                f"load_if_exists=True to continue it, or use bayestune.load_study"
            )
        if stored_space(existing.space, str(self._ref)) != self.space:
            raise StudyMismatchError(
                f"study {self.name!r} exists with another space: stored {existing.space}, "
                f"given {self.space.to_dict()}"
            )
        if existing.direction != self.direction:
            raise StudyMismatchError(
                f"study {self.name!r} exists with direction={existing.direction!r}, "
                f"given direction={self.direction!r}"
            )

    @property
    def storage(self) -> Storage:
        return self._storage

    # -- ask / tell ------------------------------------------------------------------------
    def ask(self) -> Trial:
        """Start a trial: an enqueued configuration first, else the sampler's proposal.

        The trial is RUNNING (pending) from the moment its number is reserved, so other
        workers sharing the storage see it; a configuration another worker chose while
        this one sampled is never taken again (see :meth:`_sample_into`). Never raises
        on a degenerate history. With a heartbeat, the reservation carries its first
        beat, and trials of dead workers are failed (or re-enqueued) first.
        """
        hb = self._heartbeat_settings
        if hb.grace_period is not None:
            stale = self._storage.reap_stale_trials(self.name, hb.grace_period,
                                                    requeue=hb.on_stale == "requeue")
            if stale:
                logger.warning("trial(s) %s had no heartbeat for %gs: marked FAILED%s", stale,
                               hb.grace_period, " and re-enqueued" if hb.on_stale == "requeue"
                               else "")
        beating = self._heartbeat is not None  # the first beat goes with the reservation
        waiting = self._storage.pop_waiting_trial(self.name, heartbeat=beating)
        if waiting is not None:
            self._beat(waiting.number, beat_now=False)
            return Trial(waiting.number, dict(waiting.params), self)
        reserved = self._storage.create_trial(self.name, TrialState.RUNNING, heartbeat=beating)
        self._beat(reserved.number, beat_now=False)
        try:
            rec = self._sample_into(reserved.number)
        except BaseException as e:
            self._storage.finish_trial(
                self.name, reserved.number, TrialState.FAILED, None,
                {"fail_reason": f"sampler failed: {e!r}"},
            )
            self._unbeat(reserved.number)
            raise
        return Trial(rec.number, dict(rec.params), self)

    def _sample_into(self, number: int) -> FrozenTrial:
        """Have the sampler choose the params of reserved trial ``number`` and write them.

        Workers sharing the storage sample at the same time, each blind to what the
        others have not written yet; the write is refused when a trial this sampler was
        not shown holds the same configuration already, and the sampler plans again,
        now seeing it as pending (after ``_REPLANS`` tries the configuration is kept).
        """
        for attempt in range(_REPLANS + 1):
            seen = self._storage.get_trials(self.name)
            trials = [t for t in seen if t.number != number]
            suggestion = self.sampler.sample(self.space, trials, self.direction, number)
            unseen = None if attempt == _REPLANS else Unseen(
                from_number=len(seen),
                numbers=tuple(t.number for t in trials
                              if not t.params and t.state is TrialState.RUNNING))
            rec = self._storage.set_trial_params(self.name, number, suggestion.params,
                                                 suggestion.attrs, unseen=unseen)
            if rec is not None:
                return rec
            logger.debug("trial %d: another worker chose %s meanwhile; sampling again",
                         number, suggestion.params)
        raise AssertionError("the last try writes unconditionally")  # pragma: no cover

    def tell(
        self,
        trial: Trial | FrozenTrial | int,
        value: Any = None,
        state: TrialState | str | None = None,
        *,
        reason: str | None = None,
    ) -> FrozenTrial:
        """Finish a trial with its objective value.

        Args:
            trial: The trial from :meth:`ask`, or its number.
            value: The objective value. None, nan or inf record a FAILED trial.
            state: Force a state: ``FAILED`` (value ignored), ``PRUNED`` (value, else
                the last reported intermediate value) or ``COMPLETE``.
            reason: Why the trial failed or was pruned (kept in ``system_attrs``).

        Returns:
            The finished trial's record.

        Raises:
            UnknownTrialError: the study has no trial with that number, or the trial
                belongs to another study (both are named).
            TrialAlreadyFinishedError: the trial was already told.
            InvalidValueError: ``value`` is not a number (a string, a tensor of several
                elements, an int too large for a float, ...) or ``state`` is unknown; the
                trial is left as it was, to be told again.
        """
        number = trial_number(trial, self._ref)
        st = parse_state(state) if state is not None else None
        v = parse_value(value) if st is not TrialState.FAILED else None
        current = self._storage.get_trial(self.name, number)  # raises UnknownTrialError
        attrs: dict[str, Any] = {}
        if st is None:
            st = TrialState.COMPLETE if v is not None else TrialState.FAILED
            if v is None:
                attrs["fail_reason"] = reason or f"objective returned {value!r}"
        elif st is TrialState.COMPLETE and v is None:
            raise InvalidValueError(f"state=COMPLETE needs a finite value, got {value!r}")
        elif st is TrialState.PRUNED and v is None and current.intermediate_values:
            v = current.intermediate_values[max(current.intermediate_values)]
        if reason and "fail_reason" not in attrs:
            attrs["fail_reason" if st is TrialState.FAILED else "reason"] = reason
        try:
            record = self._storage.finish_trial(self.name, number, st, v, attrs)
        except TrialAlreadyFinishedError:
            self._unbeat(number)
            raise
        self._unbeat(number)
        return record

    def _beat(self, number: int, beat_now: bool = True) -> None:
        if self._heartbeat is not None:
            self._heartbeat.start(number, beat_now)

    def _unbeat(self, number: int) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop(number)

    def enqueue(self, params: Mapping[str, Any]) -> int:
        """Queue a configuration to be evaluated before the sampler's proposals.

        Returns:
            The number of the WAITING trial created.

        Raises:
            InvalidParamError: a parameter is missing, unknown or out of range.
        """
        checked = self.space.validate_params(params)
        return self._storage.create_trial(
            self.name, TrialState.WAITING, checked, system_attrs={"enqueued": True}
        ).number

    def add_trial(
        self, params: Mapping[str, Any], value: Any, state: TrialState | str | None = None
    ) -> FrozenTrial:
        """Record a configuration evaluated elsewhere (e.g. a previous search).

        Raises:
            InvalidParamError: for params that do not fit the space.
            InvalidValueError: for a value that is not a number.
        """
        checked = self.space.validate_params(params)
        st = parse_state(state) if state is not None else None
        if st is not TrialState.FAILED:  # check before creating, so a bad value leaves no trial
            v = parse_value(value)
            if st is TrialState.COMPLETE and v is None:
                raise InvalidValueError(f"state=COMPLETE needs a finite value, got {value!r}")
        t = self._storage.create_trial(self.name, TrialState.RUNNING, checked,
                                       system_attrs={"added": True})
        return self.tell(t.number, value, state)

    # -- intermediate values ----------------------------------------------------------------
    def report(self, trial: Trial | FrozenTrial | int, step: int, value: Any) -> None:
        """Record an intermediate value of a running trial (what ``trial.report`` does),
        for code that holds the trial's number rather than its handle.

        Raises:
            UnknownTrialError: the study has no trial with that number.
            InvalidValueError: ``step`` is not a non-negative int or ``value`` not a number.
            TrialAlreadyFinishedError: the trial was already told.
        """
        number = trial_number(trial, self._ref)
        step = check_int("step", step, low=0)
        v = parse_value(value)
        self._storage.report(self.name, number, step, float("nan") if v is None else v)

    # -- called through Trial ---------------------------------------------------------------

    def _should_prune(self, number: int) -> bool:
        trials = self._storage.get_trials(self.name)
        return bool(self.pruner.prune(trials, trials[number], self.direction))

    def _set_user_attr(self, number: int, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise InvalidValueError(f"attribute keys must be strings, got {key!r}")
        self._storage.set_user_attr(self.name, number, key, value)

    # -- reading -------------------------------------------------------------------------
    @property
    def trials(self) -> list[FrozenTrial]:
        """Every trial, by number (all states)."""
        return self._storage.get_trials(self.name)

    def get_trials(self, states: Iterable[TrialState | str] | None = None) -> list[FrozenTrial]:
        """Trials in the given states (all when None)."""
        sts = None if states is None else [TrialState(str(s).upper()) for s in states]
        return self._storage.get_trials(self.name, sts)

    def get_trial(self, number: int) -> FrozenTrial:
        return self._storage.get_trial(self.name, trial_number(number, self._ref))

    @property
    def best_trial(self) -> FrozenTrial:
        """The COMPLETE trial with the best value (first one on ties).

        Raises:
            NoCompletedTrialsError: before any trial completed.
        """
        done = self._storage.get_trials(self.name, [TrialState.COMPLETE])
        if not done:
            raise NoCompletedTrialsError(f"study {self.name!r} has no completed trial yet")
        sign = 1.0 if self.direction == "minimize" else -1.0
        return min(done, key=lambda t: (sign * t.value, t.number))  # type: ignore[operator]

    @property
    def best_value(self) -> float:
        return self.best_trial.value  # type: ignore[return-value]

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    # -- the loop --------------------------------------------------------------------------
    def stop(self) -> None:
        """Make a running :meth:`optimize` return after the current trial."""
        self._stop.set()

    def optimize(
        self,
        objective: Objective,
        n_trials: int | None = None,
        timeout: float | None = None,
        catch: Sequence[type[BaseException]] | type[BaseException] = (Exception,),
        callbacks: Sequence[Callback] | None = None,
        show_progress_bar: bool = False,
        n_jobs: int = 1,
        start_method: StartMethod = "spawn",
    ) -> None:
        """Run ``objective(trial)`` for ``n_trials`` trials or until ``timeout`` seconds.

        The objective returns the value (None, nan or inf for a failed run), or raises
        :class:`~bayestune.TrialPruned` to end as PRUNED. Any exception in ``catch``
        marks the trial FAILED (with the exception as reason) and the loop goes on;
        others mark it FAILED and propagate.

        Args:
            n_jobs: Worker processes (-1: one per CPU). Above 1 the study needs a
                persistent storage (SQLite) that the workers share; ``n_trials`` is the
                total over all workers. The objective and callbacks run in the workers,
                so with ``start_method="spawn"`` (the default, safe with torch and
                threads) they must be picklable: functions defined at module level, and
                a script needs the ``if __name__ == "__main__":`` guard.
            start_method: How workers start (see :mod:`multiprocessing`); ``"fork"``
                (Linux) also accepts lambdas and closures.

        Raises:
            InvalidValueError: for a negative ``n_trials`` or ``timeout``, a bad
                ``n_jobs``, ``n_jobs > 1`` on the in-memory storage, an objective that
                cannot be sent to spawned workers, or an objective that returned what
                ``tell`` refuses (a string, ``10**400``, ...): that trial is recorded
                FAILED with the reason first.
        """
        run_optimize(self, self._stop, objective, n_trials, timeout, catch, callbacks,
                     show_progress_bar, n_jobs, start_method)

    # -- export ----------------------------------------------------------------------------
    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the whole study (space, direction, settings, every trial) to a JSON file.

        :meth:`from_json` rebuilds it exactly: same trials, values, attributes, datetimes.
        The file is replaced atomically.
        """
        write_json(export_study(self._storage, self.name), path)

    @classmethod
    def from_json(
        cls, path: str | os.PathLike[str], *, storage: Storage | str | None = None,
        name: str | None = None,
    ) -> Study:
        """Rebuild a study written by :meth:`to_json` into ``storage`` (default: memory).

        Everything in the file is checked before anything is written: the space, the
        settings, and each trial as strictly as :meth:`tell` and :meth:`enqueue` check
        theirs (params complete and inside the space, a finite value for a COMPLETE
        trial, ...). A refused file leaves ``storage`` as it was.

        Raises:
            StorageError: the file is not a bayestune study (or another format version),
                or a part of it is damaged; the message names the file, the trial and
                the field.
            DuplicatedStudyError: ``storage`` already holds a study of that name.
        """
        st, name = import_study(read_json(path), storage, name, source=repr(os.fspath(path)))
        return load_study(st, name)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per trial: number, state, value, ``params_<name>``, ``user_attrs_<key>``,
        datetimes, duration (seconds) and fail_reason. Needs pandas
        (``pip install "bayestune[pandas]"``)."""
        return trials_dataframe(self.trials, self.space.names)

    def __repr__(self) -> str:
        return (f"Study(name={self.name!r}, direction={self.direction!r}, "
                f"n_trials={len(self.trials)}, sampler={type(self.sampler).__name__})")


def load_study(
    storage: Storage | str,
    name: str = "default",
    *,
    sampler: Sampler | None = None,
    pruner: Pruner | None = None,
    seed: int | None = None,
    heartbeat_interval: float | None = None,
    grace_period: float | None = None,
    stale_trials: StaleAction | None = None,
) -> Study:
    """Reopen a stored study with its space, direction, settings and history.

    The sampler (with its seed), pruner and heartbeat options are those the study was
    created with, unless given here; so the next ``ask()`` proposes what the original
    study would have.

    Raises:
        StudyMismatchError: if the storage has no study of that name.
        StorageError: if the file does not exist or is not a bayestune storage, or the
            study's stored space, direction or settings are damaged or out of bounds
            (named; pass ``sampler=`` to reopen a study whose sampler settings are
            refused).
    """
    st = get_storage(storage, must_exist=True)
    rec = st.get_study(name)
    if rec is None:
        raise StudyMismatchError(
            f"no study named {name!r} in {storage!r}; it holds {st.list_studies()}"
        )
    where = str(st.study_ref(name))
    space = stored_space(rec.space, where)
    direction = stored_direction(rec.direction, where)
    if sampler is None:
        sampler = restore_sampler(rec.settings, seed, where)
    if pruner is None:
        pruner = restore_pruner(rec.settings, where)
    hb = stored_heartbeat(rec.settings, where)
    if heartbeat_interval is None:
        heartbeat_interval = hb.interval
        grace_period = hb.grace_period if grace_period is None else grace_period
    return Study(space, direction, sampler=sampler, pruner=pruner,
                 seed=seed, storage=st, name=name, load_if_exists=True,
                 heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                 stale_trials=stale_trials or hb.on_stale)

