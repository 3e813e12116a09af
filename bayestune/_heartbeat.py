"""Heartbeats: show other workers that the trials this process asked for are alive.

A worker that dies (killed, out of memory, machine lost) leaves its trial RUNNING. With a
heartbeat every ``interval`` seconds, any worker's ``ask()`` can tell such a ghost from
a slow trial: no beat for ``grace_period`` seconds means the owner is gone, and the trial
is failed (or re-enqueued) so that the study never waits on it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bayestune._checks import check_number, check_option
from bayestune.exceptions import InvalidValueError

if TYPE_CHECKING:
    from bayestune.storage import Storage

__all__ = ["HeartbeatSettings", "Heartbeat", "StaleAction"]

logger = logging.getLogger("bayestune.study")

StaleAction = Literal["fail", "requeue"]


@dataclass(frozen=True)
class HeartbeatSettings:
    """Validated heartbeat options (``interval`` None: no heartbeat)."""

    interval: float | None = None
    grace_period: float | None = None
    on_stale: StaleAction = "fail"

    @classmethod
    def parse(cls, interval: Any, grace_period: Any, on_stale: Any) -> HeartbeatSettings:
        interval = check_number("heartbeat_interval", interval, low=0, strict_low=True,
                                none=True)
        grace_period = check_number("grace_period", grace_period, low=0, strict_low=True,
                                    none=True)
        check_option("stale_trials", on_stale, StaleAction)
        if interval is None:
            if grace_period is not None:
                raise InvalidValueError("grace_period needs heartbeat_interval to be set")
            return cls(None, None, on_stale)
        grace = 2.0 * interval if grace_period is None else float(grace_period)
        if grace <= interval:
            raise InvalidValueError(
                f"grace_period must exceed heartbeat_interval (or live trials would be "
                f"reaped), got {grace_period=!r}, heartbeat_interval={interval!r}"
            )
        return cls(float(interval), grace, on_stale)

    def to_dict(self) -> dict[str, Any]:
        return {"interval": self.interval, "grace_period": self.grace_period,
                "on_stale": self.on_stale}


class Heartbeat:
    """Beats for the trials one Study object holds open, from one daemon thread.

    The thread runs only while this process holds RUNNING trials; ``start`` records a
    first beat at once (so a worker that dies while its sampler thinks is caught too).
    """

    def __init__(self, storage: Storage, name: str, interval: float) -> None:
        self._storage = storage
        self._name = name
        self._interval = interval
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._owned: set[int] = set()
        self._thread: threading.Thread | None = None

    def _check_process(self) -> None:
        if self._pid != os.getpid():  # a forked child owns none of its parent's trials
            self._reset()

    def start(self, number: int, beat_now: bool = True) -> None:
        """Keep trial ``number`` alive from now on; ``beat_now=False`` when the storage
        recorded its first beat with the reservation already."""
        self._check_process()
        if beat_now:
            self._storage.record_heartbeat(self._name, [number])
        with self._lock:
            self._owned.add(number)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"bayestune-heartbeat-{self._name}", daemon=True)
                self._thread.start()

    def stop(self, number: int) -> None:
        self._check_process()
        with self._lock:
            self._owned.discard(number)

    @property
    def owned(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._owned)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                numbers = sorted(self._owned)
                if not numbers:
                    self._thread = None
                    return
            try:
                self._storage.record_heartbeat(self._name, numbers)
            except Exception as e:  # a busy file must not kill the thread: beat again later
                logger.warning("heartbeat for trials %s failed: %r", numbers, e)
