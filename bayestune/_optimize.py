"""The ``Study.optimize`` loop: run trials, catch failures, show progress, call back."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bayestune.exceptions import InvalidValueError, TrialPruned
from bayestune.trial import TrialState

if TYPE_CHECKING:
    from bayestune.study import Callback, Objective, Study

logger = logging.getLogger("bayestune.study")


def _check_budget(n_trials: Any, timeout: Any) -> None:
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int)
                                 or n_trials < 0):
        raise InvalidValueError(f"n_trials must be a non-negative int or None, got {n_trials!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or timeout < 0):
        raise InvalidValueError(f"timeout must be a non-negative number or None, got {timeout!r}")


def run_one(study: Study, objective: Objective, catch: tuple[type[BaseException], ...]) -> Any:
    """Ask, evaluate and tell one trial; return the finished record."""
    trial = study.ask()
    try:
        value = objective(trial)
    except TrialPruned as e:
        return study.tell(trial, None, TrialState.PRUNED, reason=str(e) or "pruned")
    except catch as e:
        logger.warning("trial %d failed: %r", trial.number, e, exc_info=True)
        return study.tell(trial, state=TrialState.FAILED, reason=f"{type(e).__name__}: {e}")
    except BaseException as e:
        study.tell(trial, state=TrialState.FAILED, reason=f"{type(e).__name__}: {e}")
        raise
    current = study.get_trial(trial.number)
    if current.state.is_finished:  # the objective told the trial itself
        return current
    return study.tell(trial, value)


def run_optimize(
    study: Study,
    objective: Objective,
    n_trials: int | None,
    timeout: float | None,
    catch: Sequence[type[BaseException]] | type[BaseException],
    callbacks: Sequence[Callback] | None,
    show_progress_bar: bool,
) -> None:
    _check_budget(n_trials, timeout)
    if not callable(objective):
        raise InvalidValueError(f"objective must be callable, got {objective!r}")
    catch_t = tuple(catch) if isinstance(catch, Sequence) else (catch,)
    bar = None
    if show_progress_bar:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=n_trials, desc=f"bayestune {study.name}", unit="trial")
    study._stop_flag = False
    start = time.monotonic()
    done = 0
    try:
        while n_trials is None or done < n_trials:
            if timeout is not None and time.monotonic() - start >= timeout:
                break
            if study.sampler.is_exhausted(study.space, study.trials):
                logger.info("sampler has nothing new to propose; stopping")
                break
            record = run_one(study, objective, catch_t)
            done += 1
            for cb in callbacks or ():
                cb(study, record)
            if bar is not None:
                bar.update(1)
                try:
                    bar.set_postfix(best=f"{study.best_value:.4g}", refresh=False)
                except ValueError:
                    pass
            if study._stop_flag:
                break
    finally:
        if bar is not None:
            bar.close()
