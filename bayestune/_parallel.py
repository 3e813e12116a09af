"""``Study.optimize(n_jobs=k)``: k worker processes sharing the study's storage.

Each worker is an ordinary ask/tell loop on its own connection to the storage, so the
guarantees are those of several processes sharing a file (unique, gap-free numbers;
every tell kept once). A shared counter hands out the ``n_trials`` budget, a shared
event stops everyone (``study.stop()`` in a callback, an exhausted grid, an error), and
the parent draws the progress bar and re-raises the first worker error.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import pickle
import queue
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

from bayestune._loop import (
    LoopCallback,
    LoopStudy,
    Objective,
    StopSignal,
    advance,
    progress_bar,
    run_loop,
)
from bayestune.exceptions import InvalidValueError
from bayestune.storage import InMemoryStorage

logger = logging.getLogger("bayestune.study")

_JOIN_GRACE_S = 30.0


def _picklable_error(e: BaseException) -> BaseException:
    e.add_note(f"(raised in worker process {mp.current_process().name}; its traceback:)\n"
               + "".join(traceback.format_exception(e)))
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        err = RuntimeError(f"{type(e).__name__}: {e}")
        err.add_note("".join(traceback.format_exception(e)))
        return err


def _worker(payload: tuple[Any, ...], n_trials: int | None, deadline: float | None,
            claimed: Any, finished: Any, stop: Any, errors: Any) -> None:
    study, stop_signal, objective, catch, callbacks = payload

    def claim() -> bool:
        if stop.is_set() or (deadline is not None and time.time() >= deadline):
            return False
        with claimed.get_lock():
            if n_trials is not None and claimed.value >= n_trials:
                return False
            claimed.value += 1
        return True

    def after(_record: Any) -> None:
        with finished.get_lock():
            finished.value += 1

    try:
        if run_loop(study, stop_signal, objective, catch, callbacks, claim, after) != "budget":
            stop.set()
    except BaseException as e:
        stop.set()
        errors.put(_picklable_error(e))
        errors.close()
        errors.join_thread()
        sys.exit(1)


def run_parallel(
    study: LoopStudy,
    stop_signal: StopSignal,
    objective: Objective,
    n_trials: int | None,
    timeout: float | None,
    catch: tuple[type[BaseException], ...],
    callbacks: Sequence[LoopCallback] | None,
    show_progress_bar: bool,
    n_jobs: int,
    start_method: str,
) -> None:
    if isinstance(study.storage, InMemoryStorage):
        raise InvalidValueError(
            f"n_jobs={n_jobs} runs worker processes, which need a persistent storage they "
            f"can share: create the study with storage='sqlite:///tune.db' (or use n_jobs=1)"
        )
    if start_method not in mp.get_all_start_methods():
        raise InvalidValueError(f"start_method must be one of {mp.get_all_start_methods()}, "
                                f"got {start_method!r}")
    # one payload, so that each worker's copy of the study keeps its own stop signal
    payload = (study, stop_signal, objective, catch, tuple(callbacks or ()))
    if start_method != "fork":
        try:
            pickle.dumps(payload)
        except Exception as e:
            raise InvalidValueError(
                f"n_jobs>1 with start_method={start_method!r} sends the objective and "
                f"callbacks to the workers by pickle, and they cannot be pickled ({e}); define "
                f"them at module level (not a lambda or a closure), or pass "
                f"start_method='fork' on Linux"
            ) from None
    ctx = mp.get_context(start_method)
    claimed, finished, stop, errors = ctx.Value("q", 0), ctx.Value("q", 0), ctx.Event(), \
        ctx.Queue()
    deadline = None if timeout is None else time.time() + timeout
    procs = [ctx.Process(target=_worker, name=f"bayestune-worker-{i}",
                         args=(payload, n_trials, deadline, claimed, finished, stop, errors))
             for i in range(n_jobs)]
    bar = progress_bar(study, n_trials) if show_progress_bar else None
    shown = 0
    caught: list[BaseException] = []
    try:
        for p in procs:
            p.start()
        while alive := [p.sentinel for p in procs if p.is_alive()]:
            _drain(errors, caught)
            mp_connection.wait(alive, timeout=0.2)
            if bar is not None:
                advance(bar, study, finished.value - shown)
                shown = finished.value
    except BaseException:  # KeyboardInterrupt: let the workers end their trial, then go
        stop.set()
        _stop_all(procs)
        raise
    finally:
        if bar is not None:
            advance(bar, study, finished.value - shown)
            bar.close()
    for p in procs:
        p.join()
    _drain(errors, caught)
    if caught:
        raise caught[0]
    dead = [f"{p.name} (exit code {p.exitcode})" for p in procs if p.exitcode != 0]
    if dead:
        raise RuntimeError(f"worker process(es) died: {', '.join(dead)}; their RUNNING trials "
                           f"stay RUNNING unless the study has a heartbeat")


def _drain(errors: Any, into: list[BaseException]) -> None:
    while True:
        try:
            into.append(errors.get_nowait())
        except queue.Empty:
            return
        except Exception as e:  # an error that pickled but does not unpickle
            into.append(RuntimeError(f"a worker failed and its error could not be read: {e!r}"))


def _stop_all(procs: list[Any]) -> None:
    end = time.monotonic() + _JOIN_GRACE_S
    for p in procs:
        p.join(max(0.0, end - time.monotonic()))
    for p in procs:
        if p.is_alive():
            logger.warning("terminating worker %s", p.name)
            p.terminate()
            p.join()
