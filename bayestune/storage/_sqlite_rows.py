"""The SQLite storage's rows read back as records, every field checked.

A row damaged by hand or by another tool (a state that does not exist, JSON that is not
JSON or not a dict, a bad date, a COMPLETE trial without a value) becomes a
:class:`~bayestune.StorageError` that names the study, the trial and the field, instead
of a ``ValueError`` or ``AttributeError`` far from its cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bayestune._checks import short_repr
from bayestune._codec import loads
from bayestune.exceptions import InvalidValueError, StorageError
from bayestune.trial import FrozenTrial, StudyRef, TrialState

__all__ = ["iso", "decode_trial", "decode_study_field"]


def iso(d: datetime | None) -> str | None:
    """A datetime as the ISO 8601 text a row holds."""
    return d.isoformat() if d else None


def _json_field(ref: StudyRef, number: Any, field_name: str, text: Any) -> Any:
    try:
        return loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        raise StorageError(f"{ref}, trial {number}: the row is damaged: {field_name} is not "
                           f"JSON ({type(e).__name__}: {e})") from None


def decode_trial(row: Sequence[Any], ref: StudyRef) -> FrozenTrial:
    """A trial row (the columns ``number`` .. ``datetime_complete``) as a record of study
    ``ref``.

    Raises:
        StorageError: naming the study, the trial and the damaged field.
    """
    number, state, params, value, inter, uattrs, sattrs, start, complete = row
    record = {
        "number": number, "state": state, "value": value,
        "params": _json_field(ref, number, "params", params),
        "intermediate_values": _json_field(ref, number, "intermediate_values", inter),
        "user_attrs": _json_field(ref, number, "user_attrs", uattrs),
        "system_attrs": _json_field(ref, number, "system_attrs", sattrs),
        "datetime_start": start, "datetime_complete": complete,
    }
    try:
        t = FrozenTrial.from_dict(record)
    except InvalidValueError as e:
        raise StorageError(f"{ref}: the row is damaged: {e}") from None
    if t.state is TrialState.COMPLETE and t.value is None:
        raise StorageError(f"{ref}: the row is damaged: trial {number} is COMPLETE without "
                           f"a value")
    return replace(t, study_ref=ref)


def decode_study_field(ref: StudyRef, field_name: str, text: Any) -> dict[str, Any]:
    """The study row's ``space`` or ``settings``: a JSON dict.

    Raises:
        StorageError: naming the study and the field when it is not.
    """
    try:
        value = loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        raise StorageError(f"{ref}: the row is damaged: {field_name} is not JSON "
                           f"({type(e).__name__}: {e})") from None
    if not isinstance(value, dict):
        raise StorageError(f"{ref}: the row is damaged: {field_name} must be a dict, "
                           f"got {field_name}={short_repr(value)}")
    return value
