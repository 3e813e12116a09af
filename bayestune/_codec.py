"""The JSON encoding of everything a storage keeps (attributes, settings).

One encoding for every backend, so a sampler reads back exactly what it wrote whatever
the storage: floats through ``repr`` (no precision lost, ``NaN``/``Infinity`` kept),
NumPy scalars and arrays as plain Python numbers and lists, tuples as lists.
"""

from __future__ import annotations

import json
from typing import Any

from bayestune.exceptions import InvalidValueError

__all__ = ["dumps", "loads", "normalize", "to_json_default"]


def to_json_default(o: Any) -> Any:
    """``json``'s ``default=``: NumPy scalars and arrays as Python numbers and lists."""
    if hasattr(o, "tolist") and callable(o.tolist):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON-serializable")


def dumps(obj: Any) -> str:
    """Compact JSON; raises InvalidValueError (naming the value) if it cannot be encoded."""
    try:
        return json.dumps(obj, default=to_json_default, allow_nan=True, separators=(",", ":"),
                          ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise InvalidValueError(f"attributes must be JSON-serializable, got {obj!r}: {e}") \
            from None


def loads(text: str) -> Any:
    return json.loads(text)


def normalize(obj: Any) -> Any:
    """``obj`` as it comes back from storage (what every backend returns)."""
    return json.loads(dumps(obj))
