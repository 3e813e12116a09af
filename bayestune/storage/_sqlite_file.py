"""The SQLite file itself: its URL, refusing what is not ours, and the schema.

A file is opened only if it is empty (a new storage) or a bayestune storage of the
schema version this release reads. Anything else (not SQLite, another program's
database, another schema version, a corrupt file) raises StorageError before a single
byte is written.

The file is only ever read through SQLite, never with ``open()``: closing any other file
descriptor on it drops every POSIX lock this process holds on it, those of its live
SQLite connections included. Another process then takes itself for the last connection
and checkpoints and deletes the WAL under them, which corrupts the file.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse

from bayestune.exceptions import StorageError

__all__ = ["SCHEMA_VERSION", "URL_PREFIX", "parse_sqlite_url", "check_file", "open_database",
           "ReadOnlyFileError", "is_read_only_error"]

SCHEMA_VERSION = 1
URL_PREFIX = "sqlite:///"
_SQLITE_NOTADB = 26
_SQLITE_READONLY = 8  # with its extended codes (a read-only folder is 1544) in the low byte


class ReadOnlyFileError(StorageError):
    """The file may be read but not written by this user (or its folder is read-only)."""

_SCHEMA = (
    "CREATE TABLE bayestune_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE studies (
        study_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        space TEXT NOT NULL,
        direction TEXT NOT NULL,
        settings TEXT NOT NULL,
        seq INTEGER NOT NULL DEFAULT 0,
        datetime_created TEXT NOT NULL)""",
    """CREATE TABLE trials (
        study_id INTEGER NOT NULL REFERENCES studies(study_id),
        number INTEGER NOT NULL,
        state TEXT NOT NULL,
        params TEXT NOT NULL,
        value REAL,
        intermediate_values TEXT NOT NULL,
        user_attrs TEXT NOT NULL,
        system_attrs TEXT NOT NULL,
        datetime_start TEXT,
        datetime_complete TEXT,
        heartbeat REAL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (study_id, number))""",
    "CREATE INDEX trials_by_state ON trials (study_id, state, number)",
    "CREATE INDEX trials_by_seq ON trials (study_id, seq)",
)


def parse_sqlite_url(storage: str) -> str:
    """The file path of ``"sqlite:///relative.db"``, ``"sqlite:////abs.db"`` or a path.

    Raises:
        StorageError: for another URL scheme (``"postgresql://..."``) or an empty path.
    """
    if storage.startswith(URL_PREFIX):
        path = storage[len(URL_PREFIX):]
    elif "://" in storage:
        raise StorageError(
            f"unsupported storage URL {storage!r}: use 'sqlite:///path.db' or a file path"
        )
    else:
        path = storage
    if not path:
        raise StorageError(f"storage URL {storage!r} names no file")
    return path


def check_file(path: str, must_exist: bool) -> None:
    """Refuse a folder or a missing file (if ``must_exist``); SQLite reads the rest."""
    if path == ":memory:":
        return
    if os.path.isdir(path):
        raise StorageError(f"storage path {path!r} is a folder, not a file")
    if must_exist and (not os.path.exists(path) or os.path.getsize(path) == 0):
        raise StorageError(f"no storage file at {path!r}")


def _not_sqlite(path: str) -> StorageError:
    return StorageError(
        f"{path!r} is not a SQLite database (is it the right file?); "
        f"bayestune will not overwrite it"
    )


def _is_not_a_database(e: sqlite3.DatabaseError) -> bool:
    code = getattr(e, "sqlite_errorcode", None)  # Python >= 3.11
    return code == _SQLITE_NOTADB or (code is None and "not a database" in str(e))


def is_read_only_error(e: sqlite3.Error) -> bool:
    """SQLite refused to write because the file or its folder is read-only."""
    code = getattr(e, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF == _SQLITE_READONLY
    return "readonly" in str(e)


def _read_only_uri(path: str) -> str:
    """``file:`` URI that opens ``path`` read-only (``mode=ro``).

    SQLite still opens the ``-wal`` and ``-shm`` files beside it (creating them if the
    folder is writable), so the reader sees what live writers commit; it never writes
    the database, checkpoints the WAL or takes a write lock.
    """
    return "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"


def open_database(path: str, timeout: float, read_only: bool = False) -> sqlite3.Connection:
    """A connection (autocommit, WAL) to a checked bayestune storage, created if empty.

    With ``read_only`` the file must already be a bayestune storage; the connection
    cannot write (``mode=ro`` and ``PRAGMA query_only``).
    """
    try:
        if read_only:
            conn = _connect_read_only(path, timeout)
        else:
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
    except sqlite3.Error as e:
        raise StorageError(f"cannot open storage {path!r}: {e}") from None
    try:
        if read_only:
            if not _check_schema(conn, path):
                raise StorageError(f"{path!r} holds no bayestune storage yet (it is empty)")
            conn.execute("PRAGMA query_only=ON")
            return conn
        _check_schema(conn, path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        _ensure_schema(conn, path)
    except sqlite3.DatabaseError as e:
        conn.close()
        if _is_not_a_database(e):
            raise _not_sqlite(path) from None
        if is_read_only_error(e):
            raise ReadOnlyFileError(
                f"storage {path!r} is read-only for this user (the file or its folder "
                f"may not be written: {e})") from None
        raise StorageError(
            f"{path!r} is corrupt or not a bayestune storage ({e}); "
            f"bayestune will not overwrite it"
        ) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_read_only(path: str, timeout: float) -> sqlite3.Connection:
    """A ``mode=ro`` connection; ``immutable`` where SQLite cannot create the WAL's
    shared-memory file beside a WAL database (a read-only folder).

    Without that file no process has the database open in WAL mode, so the file itself
    holds everything told; if a ``-wal`` file with content was left beside it (a writer
    that crashed), reading the file alone would miss those trials, and it is refused.
    """
    conn = sqlite3.connect(_read_only_uri(path), uri=True, timeout=timeout,
                           isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as e:
        conn.close()
        if not is_read_only_error(e):
            raise
        wal = path + "-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            raise StorageError(
                f"storage {path!r} cannot be read: its folder is read-only and {wal!r} "
                f"holds changes not yet in the file; open it once where it may be written"
            ) from None
    return sqlite3.connect(_read_only_uri(path) + "&immutable=1", uri=True, timeout=timeout,
                           isolation_level=None, check_same_thread=False)


def _check_schema(conn: sqlite3.Connection, path: str) -> bool:
    """True if the schema is ours and current, False if the database is empty."""
    tables = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        # SQLite takes a 1-byte file for an empty database; a real one has a page.
        if path != ":memory:" and os.path.getsize(path) > 0 and \
                conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            raise _not_sqlite(path)
        return False
    if "bayestune_meta" not in tables:
        raise StorageError(
            f"{path!r} is a SQLite database of another program (tables: "
            f"{', '.join(sorted(tables))}), not a bayestune storage; bayestune will not "
            f"write to it"
        )
    row = conn.execute("SELECT value FROM bayestune_meta WHERE key='schema_version'") \
        .fetchone()
    version = row[0] if row else None
    if version != str(SCHEMA_VERSION):
        raise StorageError(
            f"{path!r} has bayestune storage schema version {version}; this "
            f"bayestune reads version {SCHEMA_VERSION} (use the bayestune release that "
            f"wrote it); the file was left untouched"
        )
    return True


def _ensure_schema(conn: sqlite3.Connection, path: str) -> None:
    if _check_schema(conn, path):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not _check_schema(conn, path):  # another process may have been first
            for stmt in _SCHEMA:
                conn.execute(stmt)
            conn.execute("INSERT INTO bayestune_meta VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
            conn.execute("INSERT INTO bayestune_meta VALUES ('created_by', ?)",
                         ("bayestune",))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
