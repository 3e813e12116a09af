"""Plot data and trial records as JSON: the one conversion every endpoint uses.

The ``bayestune.plot`` data functions return frozen dataclasses of NumPy arrays; the
browser gets the same fields with the same numbers, NumPy arrays as (nested) lists and
every non-finite float (nan, inf) as ``null``, which strict JSON requires.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

__all__ = ["jsonable", "dumps"]


def _float(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _array(a: np.ndarray) -> Any:
    if a.dtype.kind == "f":
        finite = np.isfinite(a)
        if finite.all():
            return a.tolist()
        out = a.astype(object)
        out[~finite] = None
        return out.tolist()
    if a.dtype.kind in "iub":
        return a.tolist()
    return [jsonable(v) for v in a.tolist()]


def _item(v: Any) -> Any:
    """:func:`jsonable` with the common cases first (lists of 10,000 numbers are common)."""
    t = type(v)
    if t is float:
        return v if math.isfinite(v) else None
    if t is int or t is str or t is bool or v is None:
        return v
    return jsonable(v)


def jsonable(obj: Any) -> Any:
    """``obj`` with dataclasses as dicts of their fields, arrays as lists, enums as their
    values, datetimes as ISO strings and non-finite floats as None."""
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj.value if isinstance(obj, enum.Enum) else obj
    if isinstance(obj, float):
        return _float(obj)
    if isinstance(obj, enum.Enum):
        return jsonable(obj.value)
    if isinstance(obj, np.ndarray):
        return _array(obj)
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, datetime):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _item(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_item(v) for v in obj]
    return str(obj)


def dumps(obj: Any) -> bytes:
    """Strict, compact JSON of :func:`jsonable` (``obj``), as UTF-8 bytes."""
    return json.dumps(jsonable(obj), allow_nan=False, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")
