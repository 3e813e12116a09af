"""GP fits for the posterior panels: one per study state, off the request path.

A fit (``bayestune.plot.fit_surrogate``), the importance (``bayestune.plot.importance_data``)
and the sampler's next suggestion take seconds, so they run in a background thread
(one fit at a time, whatever the study) and a page never waits for them: until the first fit of a study is ready its panels
say so, and while a newer one runs they keep showing the last one, marked stale.

A fit is keyed by the study's finished trials (:func:`fit_key`): polling an unchanged
study never refits, and at most one fit per study runs at a time, however fast trials
arrive (the next one starts, on the latest trials, when the page asks after the
running one is done and rested as long as it ran). The fitting thread runs at a lower
CPU priority (``nice +10`` where the OS allows it), so workers on the same machine keep
their share.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bayestune import plot
from bayestune.exceptions import NoCompletedTrialsError
from bayestune.study import Study
from bayestune.trial import FrozenTrial

from ._source import FitKey, finished_count, fit_key, snapshot

__all__ = ["Fit", "FitCache"]

logger = logging.getLogger(__name__)

_NICE = 10
_DERIVED = 64  # slices and contours kept per fit (a few params x a few views)


@dataclass
class Fit:
    """One GP fit of a study and what was derived from it.

    Attributes:
        key: The finished trials it saw (:data:`~bayestune.dashboard._source.FitKey`).
        study: The frozen copy of the study it was fitted on.
        surrogate: The fitted surrogate, or None when there is none (``message`` says why).
        importance: ``bayestune.plot.ImportanceData``, or None.
        next_params: What the study's sampler would propose next, or None (not a GP
            sampler, or it failed).
        counts: ``{"n_finished": ..., "n_complete": ...}`` of the trials seen.
        seconds: How long the fit, importance and suggestion took.
        message: Why there is no surrogate (e.g. no completed trial yet).
    """

    key: FitKey
    study: Study
    surrogate: Any | None
    importance: Any | None
    next_params: dict[str, Any] | None
    counts: dict[str, int]
    seconds: float
    message: str | None = None
    _derived: OrderedDict[tuple[Any, ...], Any] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def derived(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``key`` for this fit (a slice, a contour...)."""
        with self._lock:  # one computation at a time on the surrogate's tensors
            if key in self._derived:
                self._derived.move_to_end(key)
                return self._derived[key]
            value = compute()
            self._derived[key] = value
            while len(self._derived) > _DERIVED:
                self._derived.popitem(last=False)
            return value


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # Linux: niceness is per thread
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)


def fit_study(study: Study, trials: Sequence[FrozenTrial]) -> Fit:
    """Fit the GP of ``study`` on ``trials`` (the public plot functions do the maths)."""
    start = time.perf_counter()
    snap = snapshot(study, trials)
    key, counts = fit_key(trials), finished_count(trials)

    def done(surrogate: Any = None, importance: Any = None, nxt: Any = None,
             message: str | None = None) -> Fit:
        return Fit(key=key, study=snap, surrogate=surrogate, importance=importance,
                   next_params=nxt, counts=counts, seconds=time.perf_counter() - start,
                   message=message)

    try:
        surrogate = plot.fit_surrogate(snap)
    except NoCompletedTrialsError:
        return done(message="no trial has completed yet: the GP posterior appears with the "
                            "first completed trial")
    except Exception as e:  # noqa: BLE001 - a failed fit is shown, never kills the page
        logger.warning("dashboard: GP fit of study %r failed: %r", study.name, e)
        return done(message=f"the GP fit failed: {e}")
    try:
        importance = plot.importance_data(snap, surrogate=surrogate)
    except Exception as e:  # noqa: BLE001
        logger.warning("dashboard: importance of study %r failed: %r", study.name, e)
        importance = None
    nxt = None
    if hasattr(snap.sampler, "fit_surrogate"):  # a model-based sampler: ask what it'd do
        try:
            nxt = dict(snap.sampler.sample(snap.space, snap.trials, snap.direction,
                                           number=len(trials)).params)
        except Exception as e:  # noqa: BLE001
            logger.warning("dashboard: next suggestion of %r failed: %r", study.name, e)
    return done(surrogate, importance, nxt)


@dataclass
class _Entry:
    fit: Fit | None = None
    running: threading.Event | None = None  # set when the running fit is done
    fits: int = 0
    done_at: float = -math.inf


class FitCache:
    """The latest fit per study, refreshed in one low-priority background thread.

    Args:
        fit: The fitting function (``fit_study``; tests may count calls).
        rest: After a fit of ``s`` seconds, the next one of that study waits
            ``rest * s`` seconds: while trials arrive faster than the GP fits, the fitting
            thread works at most ``1 / (1 + rest)`` of the time (half by default), and the
            panels show the last fit, marked stale, meanwhile.
    """

    def __init__(self, fit: Callable[[Study, Sequence[FrozenTrial]], Fit] = fit_study,
                 rest: float = 1.0) -> None:
        self._fit = fit
        self._rest = float(rest)
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._one_at_a_time = threading.Semaphore(1)  # one fit at a time, all studies
        self._closed = False

    def get(self, study: Study, trials: Sequence[FrozenTrial]) -> tuple[Fit | None, bool]:
        """The latest fit of ``study``, and whether it is behind ``trials``.

        Starts a fit when the finished trials changed and none is running; never
        waits for one.
        """
        key = fit_key(trials)
        with self._lock:
            entry = self._entries.setdefault(study.name, _Entry())
            if entry.fit is not None and entry.fit.key == key:
                return entry.fit, False
            resting = entry.fit is not None and \
                time.monotonic() < entry.done_at + self._rest * entry.fit.seconds
            if entry.running is None and not resting and not self._closed:
                entry.running = done = threading.Event()
                # a daemon thread: quitting the dashboard never waits for a fit to end
                threading.Thread(target=self._run, args=(study.name, study, list(trials), done),
                                 name="bayestune-fit", daemon=True).start()
            return entry.fit, True

    def _run(self, name: str, study: Study, trials: list[FrozenTrial],
             done: threading.Event) -> None:
        fit: Fit | None = None
        try:
            with self._one_at_a_time:
                _lower_priority()
                fit = self._fit(study, trials)
        except Exception as e:  # noqa: BLE001 - fit_study catches; this guards a bug
            logger.exception("dashboard: fitting study %r raised %r", name, e)
        finally:
            with self._lock:  # stored before ``done`` is set: wait() then sees it
                entry = self._entries[name]
                entry.running = None
                entry.done_at = time.monotonic()
                if fit is not None:
                    entry.fit = fit
                    entry.fits += 1
            done.set()

    def wait(self, name: str, timeout: float | None = None) -> Fit | None:
        """Block until the running fit of ``name`` (if any) is done; the latest fit."""
        with self._lock:
            entry = self._entries.get(name)
            running = entry.running if entry else None
        if running is not None:
            running.wait(timeout)
        with self._lock:
            entry = self._entries.get(name)
            return entry.fit if entry else None

    def fits(self, name: str) -> int:
        """How many fits of ``name`` have finished."""
        with self._lock:
            entry = self._entries.get(name)
            return entry.fits if entry else 0

    def close(self) -> None:
        """Start no more fits (a running one ends with the process, if not before)."""
        self._closed = True
