"""The Study: ask / tell / optimize over a search space.

The public methods validate their input and then delegate: the sampler chooses
configurations, the storage keeps every trial, the pruner judges intermediate values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bayestune._checks import parse_direction, parse_state, parse_value, trial_number
from bayestune.exceptions import (
    DuplicatedStudyError,
    InvalidValueError,
    NoCompletedTrialsError,
    StudyMismatchError,
)
from bayestune.pruners import NopPruner, Pruner
from bayestune.samplers.base import Sampler
from bayestune.space import Space
from bayestune.storage import Storage, StudyRecord, get_storage
from bayestune.trial import FrozenTrial, Trial, TrialState

__all__ = ["Study", "load_study"]

logger = logging.getLogger(__name__)

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

    Raises:
        InvalidValueError: for an unknown direction.
        StudyMismatchError: when reopening a study with another space or direction.
    """

    def __init__(
        self,
        space: Space,
        direction: str = "minimize",
        *,
        sampler: Sampler | None = None,
        pruner: Pruner | None = None,
        seed: int | None = None,
        storage: Storage | str | None = None,
        name: str | None = None,
        load_if_exists: bool = False,
    ) -> None:
        if not isinstance(space, Space):
            raise InvalidValueError(f"space must be a bayestune.Space, got {space!r}")
        self.direction = parse_direction(direction)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidValueError(f"seed must be an int or None, got {seed=!r}")
        if sampler is None:
            from bayestune.samplers.gp import GPSampler  # noqa: PLC0415

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
        self._storage = get_storage(storage)
        self._stop_flag = False
        self._attach(load_if_exists)

    def _attach(self, load_if_exists: bool) -> None:
        existing = self._storage.get_study(self.name)
        if existing is None:
            self._storage.create_study(StudyRecord(
                name=self.name, space=self.space.to_dict(), direction=self.direction,
                settings={"sampler": self.sampler.to_dict(), "pruner": self.pruner.to_dict()},
            ))
            return
        if not load_if_exists:
            raise DuplicatedStudyError(
                f"a study named {self.name!r} already exists in this storage; pass "
                f"load_if_exists=True to continue it, or use bayestune.load_study"
            )
        if Space.from_dict(existing.space) != self.space:
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
        workers sharing the storage see it. Never raises on a degenerate history.
        """
        waiting = self._storage.pop_waiting_trial(self.name)
        if waiting is not None:
            return Trial(waiting.number, dict(waiting.params), self)
        reserved = self._storage.create_trial(self.name, TrialState.RUNNING)
        try:
            trials = [t for t in self._storage.get_trials(self.name)
                      if t.number != reserved.number]
            suggestion = self.sampler.sample(self.space, trials, self.direction, reserved.number)
            rec = self._storage.set_trial_params(
                self.name, reserved.number, suggestion.params, suggestion.attrs
            )
        except BaseException as e:
            self._storage.finish_trial(
                self.name, reserved.number, TrialState.FAILED, None,
                {"fail_reason": f"sampler failed: {e!r}"},
            )
            raise
        return Trial(rec.number, dict(rec.params), self)

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
            UnknownTrialError: the study has no trial with that number.
            TrialAlreadyFinishedError: the trial was already told.
            InvalidValueError: ``value`` is not a number (a string, a tensor of several
                elements, ...) or ``state`` is unknown.
        """
        number = trial_number(trial)
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
        return self._storage.finish_trial(self.name, number, st, v, attrs)

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
        t = self._storage.create_trial(self.name, TrialState.RUNNING, checked,
                                       system_attrs={"added": True})
        return self.tell(t.number, value, state)

    # -- intermediate values (called through Trial) -----------------------------------------
    def _report(self, number: int, step: Any, value: Any) -> None:
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InvalidValueError(f"step must be a non-negative int, got {step=!r}")
        v = parse_value(value)
        self._storage.report(self.name, number, step, float("nan") if v is None else v)

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
        return self._storage.get_trial(self.name, trial_number(number))

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
        self._stop_flag = True

    def optimize(
        self,
        objective: Objective,
        n_trials: int | None = None,
        timeout: float | None = None,
        catch: Sequence[type[BaseException]] | type[BaseException] = (Exception,),
        callbacks: Sequence[Callback] | None = None,
        show_progress_bar: bool = False,
    ) -> None:
        """Run ``objective(trial)`` for ``n_trials`` trials or until ``timeout`` seconds.

        The objective returns the value (None, nan or inf for a failed run), or raises
        :class:`~bayestune.TrialPruned` to end as PRUNED. Any exception in ``catch``
        marks the trial FAILED (with the exception as reason) and the loop goes on;
        others mark it FAILED and propagate.

        Raises:
            InvalidValueError: for a negative ``n_trials`` or ``timeout``.
        """
        from bayestune._optimize import run_optimize  # noqa: PLC0415

        run_optimize(self, objective, n_trials, timeout, catch, callbacks, show_progress_bar)

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
) -> Study:
    """Reopen a stored study with its space, direction and history.

    Raises:
        StudyMismatchError: if the storage has no study of that name.
    """
    st = get_storage(storage)
    rec = st.get_study(name)
    if rec is None:
        raise StudyMismatchError(
            f"no study named {name!r} in {storage!r}; it holds {st.list_studies()}"
        )
    if sampler is None and seed is None:
        seed = (rec.settings.get("sampler") or {}).get("seed")
    return Study(Space.from_dict(rec.space), rec.direction, sampler=sampler, pruner=pruner,
                 seed=seed, storage=st, name=name, load_if_exists=True)

