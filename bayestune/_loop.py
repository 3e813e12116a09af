"""The trial loop behind ``Study.optimize``: ask, evaluate, tell, call back, until the
budget, a stop request or the sampler's end. One loop runs in the study's process
(``n_jobs=1``) or in each worker process (:mod:`bayestune._parallel`).

The loop sees a study only through :class:`LoopStudy` (its public methods), and a stop
request only through the :class:`StopSignal` the study hands it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

from bayestune.exceptions import InvalidValueError, TrialAlreadyFinishedError, TrialPruned
from bayestune.samplers.base import Sampler
from bayestune.space import Space
from bayestune.storage import Storage
from bayestune.trial import FrozenTrial, Trial, TrialState

__all__ = ["LoopStudy", "StopSignal", "LoopEnd", "run_one", "run_loop", "progress_bar",
           "advance"]

logger = logging.getLogger("bayestune.study")

#: Why a loop returned: its budget ran out, a stop was requested, or the sampler had
#: nothing new to propose.
LoopEnd = Literal["budget", "stopped", "exhausted"]

#: ``objective(trial)``: the value (None, nan or inf for a failed run).
Objective = Callable[[Trial], Any]
#: ``callback(study, finished_trial)`` after each trial.
LoopCallback = Callable[[Any, FrozenTrial], None]


class LoopStudy(Protocol):
    """What the loop uses of a study (:class:`~bayestune.Study` has all of it)."""

    name: str
    space: Space
    sampler: Sampler

    @property
    def storage(self) -> Storage: ...

    @property
    def trials(self) -> list[FrozenTrial]: ...

    @property
    def best_value(self) -> float: ...

    def ask(self) -> Trial: ...

    def tell(self, trial: Trial | FrozenTrial | int, value: Any = None,
             state: TrialState | str | None = None, *, reason: str | None = None
             ) -> FrozenTrial: ...

    def get_trial(self, number: int) -> FrozenTrial: ...


class StopSignal:
    """A stop request: set by ``Study.stop()``, cleared when a loop starts, read by the
    loop after each trial.

    A study sent to worker processes travels together with its signal (one pickle), so
    a callback's ``study.stop()`` in a worker reaches that worker's loop.
    """

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set


def _tell(study: LoopStudy, trial: Trial, *args: Any, **kwargs: Any) -> FrozenTrial:
    try:
        return study.tell(trial, *args, **kwargs)
    except TrialAlreadyFinishedError:
        # Another worker judged this trial's heartbeat stale and failed it meanwhile.
        record = study.get_trial(trial.number)
        logger.warning("trial %d was already %s when its objective returned (%s)",
                       trial.number, record.state.value, record.fail_reason)
        return record


def run_one(study: LoopStudy, objective: Objective,
            catch: tuple[type[BaseException], ...]) -> FrozenTrial:
    """Ask, evaluate and tell one trial; return the finished record."""
    trial = study.ask()
    try:
        value = objective(trial)
    except TrialPruned as e:
        return _tell(study, trial, None, TrialState.PRUNED, reason=str(e) or "pruned")
    except catch as e:
        logger.warning("trial %d failed: %r", trial.number, e, exc_info=True)
        return _tell(study, trial, state=TrialState.FAILED, reason=f"{type(e).__name__}: {e}")
    except BaseException as e:
        _tell(study, trial, state=TrialState.FAILED, reason=f"{type(e).__name__}: {e}")
        raise
    current = study.get_trial(trial.number)
    if current.state.is_finished:  # the objective told the trial itself
        return current
    try:
        return _tell(study, trial, value)
    except InvalidValueError as e:  # a value tell refuses: a bug of the objective
        _tell(study, trial, state=TrialState.FAILED, reason=f"objective returned a bad "
                                                            f"value: {e}")
        raise


def run_loop(
    study: LoopStudy,
    stop: StopSignal,
    objective: Objective,
    catch: tuple[type[BaseException], ...],
    callbacks: Sequence[LoopCallback] | None,
    claim: Callable[[], bool],
    after: Callable[[FrozenTrial], None] | None = None,
) -> LoopEnd:
    """Run trials while ``claim()`` grants one and no stop is requested."""
    stop.clear()
    while claim():
        if study.sampler.is_exhausted(study.space, study.trials):
            logger.info("sampler has nothing new to propose; stopping")
            return "exhausted"
        record = run_one(study, objective, catch)
        for cb in callbacks or ():
            cb(study, record)
        if after is not None:
            after(record)
        if stop.is_set():
            return "stopped"
    return "budget"


def progress_bar(study: LoopStudy, n_trials: int | None) -> Any:
    from tqdm.auto import tqdm  # noqa: PLC0415 - loaded only when a bar is asked for

    return tqdm(total=n_trials, desc=f"bayestune {study.name}", unit="trial")


def advance(bar: Any, study: LoopStudy, n: int) -> None:
    if n <= 0:
        return
    bar.update(n)
    try:
        bar.set_postfix(best=f"{study.best_value:.4g}", refresh=False)
    except ValueError:  # no completed trial yet
        pass
