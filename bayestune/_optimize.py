"""The ``Study.optimize`` loop: run trials, catch failures, show progress, call back."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from bayestune.exceptions import InvalidValueError, TrialAlreadyFinishedError, TrialPruned
from bayestune.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from bayestune.study import Callback, Objective, Study

logger = logging.getLogger("bayestune.study")

LoopEnd = Literal["budget", "stopped", "exhausted"]


def _check_budget(n_trials: Any, timeout: Any) -> None:
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int)
                                 or n_trials < 0):
        raise InvalidValueError(f"n_trials must be a non-negative int or None, got {n_trials!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or timeout < 0):
        raise InvalidValueError(f"timeout must be a non-negative number or None, got {timeout!r}")


def _parse_n_jobs(n_jobs: Any) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or not (n_jobs >= 1
                                                                       or n_jobs == -1):
        raise InvalidValueError(f"n_jobs must be a positive int or -1 (one per CPU), "
                                f"got {n_jobs=!r}")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def _tell(study: Study, trial: Any, *args: Any, **kwargs: Any) -> FrozenTrial:
    try:
        return study.tell(trial, *args, **kwargs)
    except TrialAlreadyFinishedError:
        # Another worker judged this trial's heartbeat stale and failed it meanwhile.
        record = study.get_trial(trial.number)
        logger.warning("trial %d was already %s when its objective returned (%s)",
                       trial.number, record.state.value, record.fail_reason)
        return record


def run_one(study: Study, objective: Objective, catch: tuple[type[BaseException], ...]) -> Any:
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
    return _tell(study, trial, value)


def run_loop(
    study: Study,
    objective: Objective,
    catch: tuple[type[BaseException], ...],
    callbacks: Sequence[Callback] | None,
    claim: Callable[[], bool],
    after: Callable[[FrozenTrial], None] | None = None,
) -> LoopEnd:
    """Run trials while ``claim()`` grants one; also used by each worker process."""
    study._stop_flag = False
    while claim():
        if study.sampler.is_exhausted(study.space, study.trials):
            logger.info("sampler has nothing new to propose; stopping")
            return "exhausted"
        record = run_one(study, objective, catch)
        for cb in callbacks or ():
            cb(study, record)
        if after is not None:
            after(record)
        if study._stop_flag:
            return "stopped"
    return "budget"


def run_optimize(
    study: Study,
    objective: Objective,
    n_trials: int | None,
    timeout: float | None,
    catch: Sequence[type[BaseException]] | type[BaseException],
    callbacks: Sequence[Callback] | None,
    show_progress_bar: bool,
    n_jobs: int = 1,
    start_method: str = "spawn",
) -> None:
    _check_budget(n_trials, timeout)
    if not callable(objective):
        raise InvalidValueError(f"objective must be callable, got {objective!r}")
    n_jobs = _parse_n_jobs(n_jobs)
    catch_t = tuple(catch) if isinstance(catch, Sequence) else (catch,)
    if n_jobs > 1:
        from bayestune._parallel import run_parallel  # noqa: PLC0415

        run_parallel(study, objective, n_trials, timeout, catch_t, callbacks,
                     show_progress_bar, n_jobs, start_method)
        return
    bar = progress_bar(study, n_trials) if show_progress_bar else None
    deadline = None if timeout is None else time.monotonic() + timeout
    done = 0

    def claim() -> bool:
        return (n_trials is None or done < n_trials) and \
            (deadline is None or time.monotonic() < deadline)

    def after(record: FrozenTrial) -> None:
        nonlocal done
        done += 1
        if bar is not None:
            advance(bar, study, 1)

    try:
        run_loop(study, objective, catch_t, callbacks, claim, after)
    finally:
        if bar is not None:
            bar.close()


def progress_bar(study: Study, n_trials: int | None) -> Any:
    from tqdm.auto import tqdm  # noqa: PLC0415

    return tqdm(total=n_trials, desc=f"bayestune {study.name}", unit="trial")


def advance(bar: Any, study: Study, n: int) -> None:
    if n <= 0:
        return
    bar.update(n)
    try:
        bar.set_postfix(best=f"{study.best_value:.4g}", refresh=False)
    except ValueError:  # no completed trial yet
        pass
