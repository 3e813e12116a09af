"""``Study.optimize``: check the budget, then run the trial loop here or in workers."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any, Literal

from bayestune._checks import check_int, check_number, is_int
from bayestune._loop import (
    LoopCallback,
    LoopStudy,
    Objective,
    StopSignal,
    advance,
    progress_bar,
    run_loop,
)
from bayestune._parallel import run_parallel
from bayestune.exceptions import InvalidValueError
from bayestune.trial import FrozenTrial

__all__ = ["run_optimize", "StartMethod"]

#: How worker processes start (see :mod:`multiprocessing`).
StartMethod = Literal["spawn", "fork", "forkserver"]


def _parse_n_jobs(n_jobs: Any) -> int:
    if not is_int(n_jobs) or not (n_jobs >= 1 or n_jobs == -1):
        raise InvalidValueError(f"n_jobs must be a positive int or -1 (one per CPU), "
                                f"got {n_jobs=!r}")
    return (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)


def run_optimize(
    study: LoopStudy,
    stop: StopSignal,
    objective: Objective,
    n_trials: int | None,
    timeout: float | None,
    catch: Sequence[type[BaseException]] | type[BaseException],
    callbacks: Sequence[LoopCallback] | None,
    show_progress_bar: bool,
    n_jobs: int = 1,
    start_method: StartMethod = "spawn",
) -> None:
    """See :meth:`bayestune.Study.optimize`; ``stop`` is the study's stop request."""
    n_trials = check_int("n_trials", n_trials, low=0, none=True)
    timeout = check_number("timeout", timeout, low=0, finite=False, none=True)
    if not callable(objective):
        raise InvalidValueError(f"objective must be callable, got {objective!r}")
    n_jobs = _parse_n_jobs(n_jobs)
    catch_t = tuple(catch) if isinstance(catch, Sequence) else (catch,)
    if n_jobs > 1:
        run_parallel(study, stop, objective, n_trials, timeout, catch_t, callbacks,
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
        run_loop(study, stop, objective, catch_t, callbacks, claim, after)
    finally:
        if bar is not None:
            bar.close()
