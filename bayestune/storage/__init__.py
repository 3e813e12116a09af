"""Storage backends behind one protocol (:class:`Storage`).

``None`` means in memory (the default, gone with the process); a ``"sqlite:///path.db"``
URL or a plain path means one SQLite file that outlives the process and that several
worker processes may share.
"""

from __future__ import annotations

import os

from bayestune._lazy import lazy_exports
from bayestune.exceptions import StorageError
from bayestune.storage.base import Storage, StudyRecord
from bayestune.storage.memory import InMemoryStorage
from bayestune.storage.sqlite import SQLiteStorage

__all__ = ["Storage", "StudyRecord", "InMemoryStorage", "SQLiteStorage", "get_storage"]

__getattr__, __dir__ = lazy_exports(__name__, __all__)  # dir(): the public names


def get_storage(
    storage: Storage | str | os.PathLike[str] | None, *, must_exist: bool = False,
    read_only: bool = False,
) -> Storage:
    """Resolve ``None`` (in memory), a Storage instance, or a SQLite URL / path.

    Args:
        must_exist: For a URL or path, refuse to create a new file.
        read_only: Open the SQLite file for reading only (it must exist); a writable
            :class:`SQLiteStorage` given here is reopened read-only on the same file.

    Raises:
        StorageError: for a URL no backend handles, a file that is not a storage, or
            ``read_only`` with a storage that cannot be opened read-only (in memory).
    """
    if read_only:
        if isinstance(storage, SQLiteStorage):
            if storage.read_only:
                return storage
            return SQLiteStorage(storage.path, timeout=storage.timeout, read_only=True)
        if isinstance(storage, (str, os.PathLike)):
            return SQLiteStorage(storage, read_only=True)
        raise StorageError(f"only a SQLite storage can be opened read-only, got {storage!r}")
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, Storage):
        return storage
    if isinstance(storage, (str, os.PathLike)):
        return SQLiteStorage(storage, must_exist=must_exist)
    raise StorageError(f"storage must be None, a Storage or a 'sqlite:///path', got {storage!r}")
