"""Storage backends behind one protocol (:class:`Storage`)."""

from __future__ import annotations

from bayestune.exceptions import StorageError
from bayestune.storage.base import Storage, StudyRecord
from bayestune.storage.memory import InMemoryStorage

__all__ = ["Storage", "StudyRecord", "InMemoryStorage", "get_storage"]


def get_storage(storage: Storage | str | None) -> Storage:
    """Resolve ``None`` (in memory), a Storage instance, or a URL / path.

    Raises:
        StorageError: for a URL or path no backend handles.
    """
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, Storage):
        return storage
    if isinstance(storage, str):
        try:
            from bayestune.storage.sqlite import SQLiteStorage  # noqa: PLC0415
        except ImportError as e:  # pragma: no cover - sqlite backend ships with the package
            raise StorageError(f"no backend for storage {storage!r}: {e}") from e
        return SQLiteStorage(storage)
    raise StorageError(f"storage must be None, a Storage or a 'sqlite:///path', got {storage!r}")
