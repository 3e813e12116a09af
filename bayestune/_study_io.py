"""A study's import and export: whole studies as JSON, stored settings back into a sampler
and a pruner, trials as a DataFrame.

:class:`~bayestune.Study` and the integrations build on these; they read and write a
storage and never need a Study object themselves.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bayestune import pruners, samplers
from bayestune._checks import parse_direction, short_repr
from bayestune._codec import to_json_default
from bayestune._heartbeat import HeartbeatSettings
from bayestune._types import Direction
from bayestune.exceptions import BayesTuneError, StorageError
from bayestune.pruners import Pruner
from bayestune.samplers.base import Sampler
from bayestune.space import Space
from bayestune.storage import Storage, StudyRecord, get_storage
from bayestune.trial import FrozenTrial, check_record

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["export_study", "import_study", "write_json", "read_json", "restore_sampler",
           "restore_pruner", "stored", "stored_space", "stored_direction",
           "stored_heartbeat", "trials_dataframe"]

logger = logging.getLogger("bayestune.study")

STUDY_FORMAT = "bayestune-study"
STUDY_FORMAT_VERSION = 1


# -- sampler and pruner settings -----------------------------------------------------------
def _restore(module: Any, base: type, d: Mapping[str, Any] | None) -> Any | None:
    """Rebuild a built-in sampler or pruner from its ``to_dict()``; None if unknown."""
    if not d or not isinstance(d.get("name"), str):
        return None
    kind = base.__name__.lower()
    cls = getattr(module, d["name"], None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        logger.warning("stored %s %r is not a bayestune built-in; pass %s= to reopen with it",
                       kind, d["name"], kind)
        return None
    kwargs = {k: v for k, v in d.items() if k != "name"}
    if hasattr(cls, "from_dict"):
        return cls.from_dict(dict(d))
    try:
        return cls(**kwargs)
    except TypeError:
        seed = kwargs.get("seed")
        try:
            return cls(seed=seed) if "seed" in kwargs else cls()
        except TypeError:
            logger.warning("cannot rebuild %s %r from %r", kind, d["name"], dict(d))
            return None


# -- what a storage or a file holds, checked ------------------------------------------------
@contextmanager
def stored(where: str, field: str) -> Iterator[None]:
    """Turn any error raised while reading a stored ``field`` into a StorageError that
    names where it was read (the study, the file) and the field."""
    try:
        yield
    except StorageError:
        raise
    except (BayesTuneError, ValueError, TypeError, KeyError, AttributeError,
            RecursionError) as e:
        message = str(e) if isinstance(e, BayesTuneError) else f"{type(e).__name__}: {e}"
        raise StorageError(f"{where}: stored {field} is refused: {message}") from None


def stored_space(space: Any, where: str) -> Space:
    """The stored space description as a Space (StorageError naming ``where``)."""
    with stored(where, "space"):
        return Space.from_dict(space)


def stored_direction(direction: Any, where: str) -> Direction:
    with stored(where, "direction"):
        return parse_direction(direction)


def _settings(settings: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(settings, Mapping):
        raise StorageError(f"{where}: stored settings are damaged: a dict is needed, got "
                           f"{short_repr(settings)}")
    return settings


def stored_heartbeat(settings: Any, where: str) -> HeartbeatSettings:
    """The stored heartbeat options, checked as ``Study`` checks them."""
    with stored(where, "settings.heartbeat"):
        hb = _settings(settings, where).get("heartbeat") or {}
        if not isinstance(hb, Mapping):
            raise TypeError(f"a dict is needed, got {short_repr(hb)}")
        return HeartbeatSettings.parse(hb.get("interval"), hb.get("grace_period"),
                                       hb.get("on_stale", "fail"))


def restore_sampler(settings: Mapping[str, Any], seed: int | None = None,
                    where: str = "study") -> Sampler | None:
    """The sampler a study was created with (``seed`` overrides the stored one).

    Raises:
        StorageError: the stored sampler settings are not a dict or hold a bad value
            (named; GPSampler's options are bounded, see ``GPSampler``).
    """
    with stored(where, "settings.sampler"):
        d = _settings(settings, where).get("sampler") or {}
        if not isinstance(d, Mapping):
            raise TypeError(f"a dict is needed, got {short_repr(d)}")
        if not d:
            return None
        if seed is not None:
            d = {**d, "seed": seed}
        return _restore(samplers, Sampler, d)


def restore_pruner(settings: Mapping[str, Any], where: str = "study") -> Pruner | None:
    """The pruner a study was created with (StorageError for damaged settings)."""
    with stored(where, "settings.pruner"):
        d = _settings(settings, where).get("pruner")
        if d is not None and not isinstance(d, Mapping):
            raise TypeError(f"a dict is needed, got {short_repr(d)}")
        return _restore(pruners, Pruner, d)


# -- whole studies ---------------------------------------------------------------------------
def export_study(storage: Storage, name: str) -> dict[str, Any]:
    """Everything needed to rebuild study ``name`` exactly: description, settings, trials."""
    rec = storage.get_study(name)
    assert rec is not None, "a Study always has its record in storage"
    return {
        "format": STUDY_FORMAT,
        "version": STUDY_FORMAT_VERSION,
        "name": rec.name,
        "direction": rec.direction,
        "space": dict(rec.space),
        "settings": dict(rec.settings),
        "trials": [t.to_dict() for t in storage.get_trials(name)],
    }


def import_study(
    data: Mapping[str, Any], storage: Storage | str | None = None, name: str | None = None,
    source: str = "study file",
) -> tuple[Storage, str]:
    """Inverse of :func:`export_study`: create the study with the same trials in
    ``storage`` (default: a new in-memory one); returns the storage and the study's name.

    Everything is checked before anything is written (the space, the direction, the
    settings, and each trial as strictly as ``tell`` would take it), so a refused file
    leaves the storage as it was.

    Raises:
        StorageError: ``data`` is not a study export (or another format version), or a
            part of it is damaged (named, with the trial).
        DuplicatedStudyError: ``storage`` already holds a study of that name.
    """
    if not isinstance(data, Mapping) or data.get("format") != STUDY_FORMAT:
        raise StorageError(f"{source} is not a bayestune study file (no \"format\": "
                           f"\"bayestune-study\")")
    if data.get("version") != STUDY_FORMAT_VERSION:
        raise StorageError(
            f"{source} has study file version {data.get('version')!r}; this bayestune "
            f"reads version {STUDY_FORMAT_VERSION}"
        )
    space = stored_space(data.get("space"), source)
    direction = stored_direction(data.get("direction"), source)
    settings = _settings(data.get("settings"), source)
    restore_sampler(settings, where=source)
    restore_pruner(settings, where=source)
    stored_heartbeat(settings, where=source)
    record_name = name if name is not None else data.get("name")
    if not isinstance(record_name, str) or not record_name:
        raise StorageError(f"{source}: the study's name must be a non-empty string, got "
                           f"{short_repr(record_name)}")
    rows = data.get("trials")
    if not isinstance(rows, list):
        raise StorageError(f"{source}: stored trials are damaged: a list is needed, got "
                           f"{short_repr(rows)}")
    trials = []
    for i, row in enumerate(rows):
        with stored(source, f"trial at position {i}"):
            trials.append(check_record(FrozenTrial.from_dict(row), space))
    record = StudyRecord(name=record_name, space=space.to_dict(), direction=direction,
                         settings=dict(settings))
    st = get_storage(storage)
    st.create_study(record)  # raises DuplicatedStudyError
    for t in trials:
        st.import_trial(record.name, t)
    return st, record.name


def write_json(data: Any, path: str | os.PathLike[str]) -> None:
    """Write ``data`` to ``path`` atomically (a crash leaves the old file or the new one)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".bayestune-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, default=to_json_default, allow_nan=True, indent=1,
                      ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path: str | os.PathLike[str]) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise StorageError(f"{os.fspath(path)!r} is not valid JSON: {e}") from None


def trials_dataframe(trials: Sequence[FrozenTrial], names: Sequence[str]) -> pd.DataFrame:
    """One row per trial (see :meth:`bayestune.Study.to_dataframe`)."""
    try:
        import pandas as pd  # noqa: PLC0415 - an optional extra
    except ImportError:
        raise ImportError('Study.to_dataframe needs pandas: pip install "bayestune[pandas]"') \
            from None
    user_keys = sorted({k for t in trials for k in t.user_attrs})
    rows = []
    for t in trials:
        row: dict[str, Any] = {"number": t.number, "state": t.state.value, "value": t.value}
        row.update({f"params_{n}": t.params.get(n) for n in names})
        row.update({f"user_attrs_{k}": t.user_attrs.get(k) for k in user_keys})
        row.update({"datetime_start": t.datetime_start,
                    "datetime_complete": t.datetime_complete,
                    "duration": t.duration, "fail_reason": t.fail_reason})
        rows.append(row)
    columns = (["number", "state", "value"] + [f"params_{n}" for n in names]
               + [f"user_attrs_{k}" for k in user_keys]
               + ["datetime_start", "datetime_complete", "duration", "fail_reason"])
    return pd.DataFrame(rows, columns=columns)
