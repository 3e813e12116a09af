"""SQLite storage: one file that any number of processes on one machine share.

Design:
    * WAL journal, so readers never wait for a writer; every read-modify-write
      (numbering, WAITING -> RUNNING, RUNNING -> finished) is one short
      ``BEGIN IMMEDIATE`` transaction, so two workers never get the same number or tell
      a trial twice, and a killed worker leaves the file consistent.
    * Tells and everything else the user recorded are synced to disk before the call
      returns (``PRAGMA synchronous=FULL`` for that commit); the bookkeeping of ``ask``
      and heartbeats are not (a power cut can lose an ask, never a tell). With
      ``durable=False`` nothing is synced: a crashed *process* still loses nothing.
    * Each study has a change counter ``seq``; every write stamps the trial it touched
      with the next value, so reading the trials fetches and decodes only the rows that
      changed since this process last looked (ask stays O(changes), not O(trials)).
    * A ``bayestune_meta`` table carries the schema version. A file that is not SQLite,
      a SQLite database of another program, or another schema version is refused with
      :class:`~bayestune.StorageError`, and never written to.
    * ``read_only=True`` opens the file with SQLite's ``mode=ro`` (for watchers such as
      the dashboard): every write raises StorageError before touching the file, and the
      reader never takes a write lock or checkpoints the WAL, so the workers writing the
      same file never wait for it. WAL readers do not block writers either way.
    * One connection per process, opened lazily and re-opened after ``fork``; threads
      of a process share it under a lock. A forked child drops the connections it
      inherited without closing them, and the file is never opened except by SQLite
      (see ``_sqlite_file``): either would break the locks of a live connection.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bayestune._checks import check_number, is_int
from bayestune._codec import dumps, loads
from bayestune.exceptions import (
    DuplicatedStudyError,
    StorageError,
    TrialAlreadyFinishedError,
    UnknownTrialError,
)
from bayestune.storage._sqlite_file import (
    SCHEMA_VERSION,
    URL_PREFIX,
    ReadOnlyFileError,
    check_file,
    is_read_only_error,
    open_database,
    parse_sqlite_url,
)
from bayestune.storage._sqlite_rows import decode_study_field, decode_trial, iso
from bayestune.storage.base import STALE_REASON, Storage, StudyRecord, Unseen
from bayestune.trial import FrozenTrial, StudyRef, TrialState

__all__ = ["SQLiteStorage", "SCHEMA_VERSION", "parse_sqlite_url"]

logger = logging.getLogger(__name__)

_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35)

_COLUMNS = ("number, state, params, value, intermediate_values, user_attrs, system_attrs, "
            "datetime_start, datetime_complete")

# Connections a forked child inherited: kept referenced so that they are never closed
# from the child (closing would touch the parent's WAL and locks).
_INHERITED: list[sqlite3.Connection] = []
_LIVE: weakref.WeakSet[SQLiteStorage] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # At once, not at the next use: a storage the child never uses may be garbage
    # collected there, and that would close the inherited connection.
    for storage in list(_LIVE):
        storage._forget_inherited_connection()


@dataclass
class _Cache:
    """What this process has read of one study: trials by number, up to change ``seq``."""

    study_id: int
    ref: StudyRef
    seq: int = -1
    trials: list[FrozenTrial] = field(default_factory=list)


class SQLiteStorage(Storage):
    """Studies in one SQLite file, shared safely by the processes of one machine.

    Args:
        url: ``"sqlite:///path.db"`` (relative), ``"sqlite:////abs/path.db"`` or a path.
        timeout: Seconds a write waits for another process's transaction before
            :class:`~bayestune.StorageError` (a busy file).
        durable: Sync every tell (and every other user record) to disk before it
            returns, so even a power cut loses no told trial. False trades that for
            speed; a crashed process still loses nothing.
        must_exist: Refuse to create the file (for readers such as ``load_study``).
        read_only: Open an existing storage for reading only: any write raises
            :class:`~bayestune.StorageError` and nothing is ever written to the file.

    Raises:
        StorageError: the path is a folder, cannot be opened, is not SQLite, belongs to
            another program, or has another schema version; with ``read_only``, also a
            missing or empty file.
    """

    def __init__(self, url: str | os.PathLike[str], *, timeout: float = 30.0,
                 durable: bool = True, must_exist: bool = False,
                 read_only: bool = False) -> None:
        if isinstance(url, os.PathLike):
            url = os.fspath(url)
        if not isinstance(url, str):
            raise StorageError(f"storage must be a 'sqlite:///path' URL or a path, got {url!r}")
        self.timeout = check_number("timeout", timeout, low=0, strict_low=True, finite=False)
        self.path = parse_sqlite_url(url)
        self.durable = bool(durable)
        self.read_only = bool(read_only)
        if self.read_only and self.path == ":memory:":
            raise StorageError("an in-memory SQLite database cannot be opened read-only")
        self._location = URL_PREFIX + (os.path.realpath(self.path) if self.path != ":memory:"
                                       else f":memory:#{uuid.uuid4().hex[:12]}")
        # why writes are refused: asked for, or found (a file this user may only read)
        self._read_only_why = "opened read-only" if self.read_only else ""
        self._init_process()
        self._caches: dict[str, _Cache] = {}
        check_file(self.path, must_exist or self.read_only)
        if not self.read_only and os.path.exists(self.path) and \
                not os.access(self.path, os.W_OK):
            self._fall_back_to_read_only("read-only for this user (no permission to write "
                                         "the file)")
        self._connection()  # open now, so a bad file fails at construction

    @property
    def url(self) -> str:
        return URL_PREFIX + self.path

    @property
    def location(self) -> str:
        return self._location

    def __repr__(self) -> str:
        return f"SQLiteStorage({self.url!r}{', read_only=True' if self.read_only else ''})"

    # -- process, connection and schema -------------------------------------------------
    def _init_process(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._synchronous: str | None = None
        _LIVE.add(self)

    def _forget_inherited_connection(self) -> None:
        if self._conn is not None:
            _INHERITED.append(self._conn)
        self._init_process()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "timeout": self.timeout, "durable": self.durable,
                "read_only": self.read_only, "location": self._location,
                "read_only_why": self._read_only_why}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.timeout, self.durable = state["path"], state["timeout"], state["durable"]
        self.read_only = state.get("read_only", False)
        self._location = state.get("location") or URL_PREFIX + os.path.realpath(self.path)
        self._read_only_why = state.get("read_only_why") or (
            "opened read-only" if self.read_only else "")
        self._init_process()
        self._caches = {}

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # forked past the hook (a fork() from C code)
            self._forget_inherited_connection()
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    try:
                        self._conn = open_database(self.path, self.timeout, self.read_only)
                    except ReadOnlyFileError:  # still readable: open it for reading
                        self._fall_back_to_read_only(
                            "read-only for this user (no permission to write the file or "
                            "its folder)")
                        self._conn = open_database(self.path, self.timeout, True)
        return self._conn

    def _fall_back_to_read_only(self, why: str) -> None:
        logger.info("storage %s is %s: opened for reading only", self.url, why)
        self.read_only = True
        self._read_only_why = why

    def _refuse_write(self) -> StorageError:
        return StorageError(f"storage {self.url} is {self._read_only_why}: it cannot be "
                            f"written")

    # -- transactions ---------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        with self._lock:
            try:
                yield conn
            except sqlite3.Error as e:
                raise StorageError(f"storage {self.path!r}: {e}") from None

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; synced to disk if ``durable``."""
        conn = self._connection()  # first: opening may find the file read-only
        if self.read_only:
            raise self._refuse_write()
        sync = "FULL" if durable and self.durable else "NORMAL"
        with self._lock:
            try:
                if sync != self._synchronous:
                    conn.execute(f"PRAGMA synchronous={sync}")
                    self._synchronous = sync
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if is_read_only_error(e):
                    self._read_only_why = f"read-only for this user ({e})"
                    raise self._refuse_write() from None
                raise StorageError(
                    f"storage {self.path!r} stayed busy for {self.timeout:g}s: {e}"
                ) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error) and is_read_only_error(e):
                    self._read_only_why = f"read-only for this user ({e})"
                    raise self._refuse_write() from None
                if isinstance(e, sqlite3.Error):
                    raise StorageError(f"storage {self.path!r}: {e}") from None
                raise

    def _study_id(self, conn: sqlite3.Connection, name: str) -> int:
        cache = self._caches.get(name)
        if cache is not None:
            return cache.study_id
        row = conn.execute("SELECT study_id FROM studies WHERE name=?", (name,)).fetchone()
        if row is None:
            raise UnknownTrialError(f"no study named {name!r} in {self.url}")
        self._caches[name] = _Cache(study_id=row[0], ref=self.study_ref(name))
        return row[0]

    @staticmethod
    def _next_seq(conn: sqlite3.Connection, sid: int) -> int:
        if _HAS_RETURNING:
            return conn.execute("UPDATE studies SET seq = seq + 1 WHERE study_id=? "
                                "RETURNING seq", (sid,)).fetchone()[0]
        conn.execute("UPDATE studies SET seq = seq + 1 WHERE study_id=?", (sid,))
        return conn.execute("SELECT seq FROM studies WHERE study_id=?", (sid,)).fetchone()[0]

    def _row(self, conn: sqlite3.Connection, name: str, sid: int, number: int) -> FrozenTrial:
        if not is_int(number):
            raise UnknownTrialError(f"study {name!r} has no trial number {number!r}")
        row = conn.execute(f"SELECT {_COLUMNS} FROM trials WHERE study_id=? AND number=?",
                           (sid, int(number))).fetchone()
        if row is None:
            n = conn.execute("SELECT COUNT(*) FROM trials WHERE study_id=?", (sid,)).fetchone()
            raise UnknownTrialError(
                f"study {name!r} has no trial number {number!r} (it has {n[0]} trials)")
        return decode_trial(row, self._caches[name].ref)

    def _running(self, conn: sqlite3.Connection, name: str, sid: int, number: int
                 ) -> FrozenTrial:
        t = self._row(conn, name, sid, number)
        if t.state is not TrialState.RUNNING:
            raise TrialAlreadyFinishedError(
                f"trial {number} of study {name!r} is {t.state.value}, not RUNNING")
        return t

    def _insert(self, conn: sqlite3.Connection, sid: int, seq: int, t: FrozenTrial,
                heartbeat: float | None = None) -> None:
        conn.execute(
            "INSERT INTO trials (study_id, number, state, params, value, intermediate_values,"
            " user_attrs, system_attrs, datetime_start, datetime_complete, heartbeat, seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sid, t.number, t.state.value, dumps(dict(t.params)), t.value,
             dumps({str(k): v for k, v in t.intermediate_values.items()}),
             dumps(dict(t.user_attrs)), dumps(dict(t.system_attrs)),
             iso(t.datetime_start), iso(t.datetime_complete), heartbeat, seq),
        )

    def _next_number(self, conn: sqlite3.Connection, sid: int) -> int:
        return conn.execute("SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id=?",
                            (sid,)).fetchone()[0]

    # -- studies -------------------------------------------------------------------------
    def create_study(self, record: StudyRecord) -> None:
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO studies (name, space, direction, settings, datetime_created)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (record.name, dumps(dict(record.space)), record.direction,
                     dumps(dict(record.settings)), datetime.now().isoformat()),
                )
            except sqlite3.IntegrityError:
                raise DuplicatedStudyError(
                    f"a study named {record.name!r} already exists in {self.url}") from None

    def get_study(self, name: str) -> StudyRecord | None:
        with self._read() as conn:
            row = conn.execute("SELECT space, direction, settings FROM studies WHERE name=?",
                               (name,)).fetchone()
        if row is None:
            return None
        ref = self.study_ref(name)
        space, settings = (decode_study_field(ref, f, text)
                           for f, text in (("space", row[0]), ("settings", row[2])))
        if not isinstance(row[1], str):
            raise StorageError(f"{ref}: the row is damaged: direction={row[1]!r}")
        return StudyRecord(name=name, space=space, direction=row[1], settings=settings)

    def list_studies(self) -> list[str]:
        with self._read() as conn:
            return [r[0] for r in conn.execute("SELECT name FROM studies ORDER BY study_id")]

    # -- trials: writes --------------------------------------------------------------------
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
        # A reservation (RUNNING, no params) is ask bookkeeping; anything else is a record.
        with self._write(durable=state is not TrialState.RUNNING or bool(params)) as conn:
            sid = self._study_id(conn, name)
            now = datetime.now()
            t = FrozenTrial(
                number=self._next_number(conn, sid), state=state, params=dict(params or {}),
                value=value, system_attrs=loads(dumps(dict(system_attrs or {}))),
                datetime_start=now, datetime_complete=now if state.is_finished else None,
                study_ref=self._caches[name].ref,
            )
            beat = time.time() if heartbeat and state is TrialState.RUNNING else None
            self._insert(conn, sid, self._next_seq(conn, sid), t, beat)
        return t

    def import_trial(self, name: str, trial: FrozenTrial) -> FrozenTrial:
        trial = self._importable(name, trial)
        with self._write() as conn:
            sid = self._study_id(conn, name)
            number = self._next_number(conn, sid)
            self._insert(conn, sid, self._next_seq(conn, sid), replace(trial, number=number))
            return self._row(conn, name, sid, number)

    def pop_waiting_trial(self, name: str, *, heartbeat: bool = False) -> FrozenTrial | None:
        query = ("SELECT number FROM trials WHERE study_id=? AND state='WAITING' "
                 "ORDER BY number LIMIT 1")
        with self._read() as conn:  # most asks find none: skip the write lock then
            if conn.execute(query, (self._study_id(conn, name),)).fetchone() is None:
                return None
        with self._write(durable=False) as conn:
            sid = self._study_id(conn, name)
            row = conn.execute(query, (sid,)).fetchone()
            if row is None:
                return None
            t = replace(self._row(conn, name, sid, row[0]), state=TrialState.RUNNING,
                        datetime_start=datetime.now())
            conn.execute(
                "UPDATE trials SET state='RUNNING', datetime_start=?, heartbeat=?, seq=? "
                "WHERE study_id=? AND number=?",
                (iso(t.datetime_start), time.time() if heartbeat else None,
                 self._next_seq(conn, sid), sid, t.number))
            return t

    def set_trial_params(
        self, name: str, number: int, params: Mapping[str, Any],
        system_attrs: Mapping[str, Any] | None = None, *, unseen: Unseen | None = None,
    ) -> FrozenTrial | None:
        with self._write(durable=False) as conn:
            sid = self._study_id(conn, name)
            t = self._running(conn, name, sid, number)
            attrs = {**t.system_attrs, **loads(dumps(dict(system_attrs or {})))}
            p = dumps(dict(params))
            if unseen is not None and self._taken(conn, sid, number, loads(p), unseen):
                return None
            conn.execute(
                "UPDATE trials SET params=?, system_attrs=?, seq=? WHERE study_id=? AND number=?",
                (p, dumps(attrs), self._next_seq(conn, sid), sid, number))
            return replace(t, params=loads(p), system_attrs=attrs)

    @staticmethod
    def _taken(conn: sqlite3.Connection, sid: int, number: int, params: Any,
               unseen: Unseen) -> bool:
        """Whether a trial in ``unseen`` (not ``number``) holds ``params`` already.

        WAITING trials do not count: samplers are shown them and do not avoid them.
        """
        marks = ",".join("?" * len(unseen.numbers))
        rows = conn.execute(
            f"SELECT params FROM trials WHERE study_id=? AND number!=? AND params!='{{}}' "
            f"AND state!='WAITING' AND (number>=? OR number IN ({marks}))",
            (sid, number, unseen.from_number, *unseen.numbers)).fetchall()
        for (text,) in rows:
            try:
                if loads(text) == params:
                    return True
            except (TypeError, ValueError, RecursionError):
                continue  # a damaged row: reading it says so; it holds no configuration
        return False

    def finish_trial(
        self, name: str, number: int, state: TrialState, value: float | None,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        with self._write() as conn:
            sid = self._study_id(conn, name)
            return self._finish(conn, name, sid, number, state, value, system_attrs)

    def _finish(self, conn: sqlite3.Connection, name: str, sid: int, number: int,
                state: TrialState, value: float | None,
                system_attrs: Mapping[str, Any] | None) -> FrozenTrial:
        t = self._running(conn, name, sid, number)
        attrs = {**t.system_attrs, **loads(dumps(dict(system_attrs or {})))}
        new = replace(t, state=state, value=None if value is None else float(value),
                      system_attrs=attrs, datetime_complete=datetime.now())
        conn.execute(
            "UPDATE trials SET state=?, value=?, system_attrs=?, datetime_complete=?, "
            "heartbeat=NULL, seq=? WHERE study_id=? AND number=?",
            (state.value, new.value, dumps(attrs), iso(new.datetime_complete),
             self._next_seq(conn, sid), sid, number))
        return new

    def report(self, name: str, number: int, step: int, value: float) -> None:
        with self._write() as conn:
            sid = self._study_id(conn, name)
            t = self._running(conn, name, sid, number)
            iv = {str(k): v for k, v in t.intermediate_values.items()}
            iv[str(step)] = value
            conn.execute(
                "UPDATE trials SET intermediate_values=?, seq=? WHERE study_id=? AND number=?",
                (dumps(iv), self._next_seq(conn, sid), sid, number))

    def set_user_attr(self, name: str, number: int, key: str, value: Any) -> None:
        encoded = dumps(value)  # fail before taking the lock
        with self._write() as conn:
            sid = self._study_id(conn, name)
            t = self._row(conn, name, sid, number)
            attrs = {**t.user_attrs, key: loads(encoded)}
            conn.execute(
                "UPDATE trials SET user_attrs=?, seq=? WHERE study_id=? AND number=?",
                (dumps(attrs), self._next_seq(conn, sid), sid, number))

    # -- heartbeats ------------------------------------------------------------------------
    def record_heartbeat(self, name: str, numbers: Sequence[int]) -> None:
        if not numbers:
            return
        marks = ",".join("?" * len(numbers))
        with self._write(durable=False) as conn:
            conn.execute(
                f"UPDATE trials SET heartbeat=? WHERE study_id=? AND state='RUNNING' "
                f"AND number IN ({marks})",
                (time.time(), self._study_id(conn, name), *numbers))

    def reap_stale_trials(self, name: str, grace_period: float, requeue: bool) -> list[int]:
        query = ("SELECT number FROM trials WHERE study_id=? AND state='RUNNING' "
                 "AND heartbeat IS NOT NULL AND heartbeat < ? ORDER BY number")
        with self._read() as conn:
            sid = self._study_id(conn, name)
            if not conn.execute(query, (sid, time.time() - grace_period)).fetchone():
                return []
        with self._write() as conn:
            stale = [r[0] for r in conn.execute(query, (sid, time.time() - grace_period))]
            for n in stale:
                t = self._finish(conn, name, sid, n, TrialState.FAILED, None,
                                 {"fail_reason": STALE_REASON})
                if requeue and t.params:
                    now = datetime.now()
                    copy = FrozenTrial(
                        number=self._next_number(conn, sid), state=TrialState.WAITING,
                        params=t.params, system_attrs={"enqueued": True, "retry_of": n},
                        datetime_start=now)
                    self._insert(conn, sid, self._next_seq(conn, sid), copy)
        return stale

    # -- trials: reads ---------------------------------------------------------------------
    def _sync(self, name: str) -> list[FrozenTrial]:
        """This process's view of the study's trials, brought up to date."""
        with self._read() as conn:
            sid = self._study_id(conn, name)
            cache = self._caches[name]
            rows = conn.execute(
                f"SELECT seq, {_COLUMNS} FROM trials WHERE study_id=? AND seq>? "
                f"ORDER BY number", (sid, cache.seq)).fetchall()
            if not rows:
                return cache.trials
            trials = list(cache.trials)
            for row in rows:
                t = decode_trial(row[1:], cache.ref)
                if t.number < len(trials):
                    trials[t.number] = t
                elif t.number == len(trials):
                    trials.append(t)
                else:  # numbers are gap-free: a row was deleted or renumbered by hand
                    raise StorageError(
                        f"{cache.ref}: the rows are damaged: trial {len(trials)} is missing "
                        f"(number: the next row is trial {t.number})")
            cache.trials = trials
            cache.seq = max(cache.seq, max(r[0] for r in rows))
            return trials

    def get_trials(
        self, name: str, states: Sequence[TrialState] | None = None
    ) -> list[FrozenTrial]:
        trials = self._sync(name)
        if states is None:
            return list(trials)
        keep = set(states)
        return [t for t in trials if t.state in keep]

    def get_trial(self, name: str, number: int) -> FrozenTrial:
        trials = self._sync(name)
        if not is_int(number) or not 0 <= number < len(trials):
            raise UnknownTrialError(
                f"study {name!r} has no trial number {number!r} (it has {len(trials)} trials)")
        return trials[number]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
