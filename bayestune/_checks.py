"""Input checks shared by the public entry points (Study, CLI, integrations)."""

from __future__ import annotations

import math
import typing
from typing import Any

from bayestune.exceptions import InvalidValueError
from bayestune.trial import FrozenTrial, Trial, TrialState

__all__ = ["parse_direction", "parse_value", "trial_number", "parse_state", "check_literal"]

DIRECTIONS = ("minimize", "maximize")


def parse_direction(direction: Any) -> str:
    if isinstance(direction, str) and direction.lower() in DIRECTIONS:
        return direction.lower()
    raise InvalidValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")


def parse_value(value: Any) -> float | None:
    """A told value as a float; None, nan and inf as None (a failed trial).

    Accepts Python and NumPy numbers and one-element arrays or tensors.

    Raises:
        InvalidValueError: for strings, booleans, containers or several-element tensors.
    """
    if value is None:
        return None
    if isinstance(value, (bool, str, bytes)):
        raise InvalidValueError(f"value must be a number, got {value!r}")
    if hasattr(value, "numel") and callable(value.numel):  # torch.Tensor, without importing torch
        if value.numel() != 1:
            raise InvalidValueError(
                f"value must be a number or a one-element tensor, got a tensor of shape "
                f"{tuple(value.shape)}"
            )
        value = value.detach().cpu().item() if hasattr(value, "detach") else value.item()
    elif hasattr(value, "size") and hasattr(value, "item") and not isinstance(value, (int, float)):
        if value.size != 1:  # numpy arrays and scalars
            raise InvalidValueError(
                f"value must be a number or a one-element array, got an array of shape "
                f"{getattr(value, 'shape', '?')}"
            )
        value = value.item()
    if isinstance(value, (bool, str, bytes)):
        raise InvalidValueError(f"value must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"value must be a number, got {value!r}") from None
    return v if math.isfinite(v) else None


def trial_number(trial: Any) -> int:
    """The trial number of a Trial, FrozenTrial or int."""
    if isinstance(trial, (Trial, FrozenTrial)):
        return trial.number
    if isinstance(trial, bool) or not isinstance(trial, int):
        try:
            import numpy as np  # noqa: PLC0415

            if isinstance(trial, np.integer):
                return int(trial)
        except ImportError:  # pragma: no cover
            pass
        raise InvalidValueError(f"expected a Trial or a trial number, got {trial!r}")
    return trial


def parse_state(state: Any) -> TrialState:
    try:
        st = TrialState(state.value if isinstance(state, TrialState) else str(state).upper())
    except ValueError:
        raise InvalidValueError(f"unknown trial state {state!r}") from None
    if not st.is_finished:
        raise InvalidValueError(
            f"a trial can only be told COMPLETE, PRUNED or FAILED, got state={st.value}"
        )
    return st


def check_literal(name: str, value: Any, options: Any) -> Any:
    """``value`` if it is one of the ``Literal`` type ``options``' values.

    Raises:
        InvalidValueError: naming the option, the value and the allowed values.
    """
    allowed = typing.get_args(options)
    if isinstance(value, str) and value in allowed:
        return value
    raise InvalidValueError(f"{name} must be one of {allowed}, got {name}={value!r}")
