"""Input checks shared by every entry point: numbers, counts, seeds, options, told values.

Each ``check_*`` returns the value in its plain Python form (a NumPy integer becomes an
``int``) or raises :class:`~bayestune.exceptions.InvalidValueError` with a message that
names the argument and the value: ``"n_trials must be an int >= 0 or None, got
n_trials=-1"``. Options are ``Literal`` types, checked by :func:`check_option` against
the type's own values, so an option's allowed values are written once.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from typing import Any, Literal, get_args, overload

from bayestune._types import Direction
from bayestune.exceptions import InvalidValueError

__all__ = [
    "is_bool",
    "is_int",
    "is_number",
    "is_finite_number",
    "check_bool",
    "check_int",
    "check_number",
    "check_seed",
    "check_option",
    "parse_direction",
    "parse_value",
    "short_repr",
]

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 4, 120, 120, 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 12


def short_repr(value: Any) -> str:
    """``repr(value)``, shortened for a message: nested and long values are abridged
    with ``...`` (so a deep or huge input never makes a huge or failing message)."""
    return _REPR.repr(value)


def is_bool(x: Any) -> bool:
    """A Python or NumPy boolean (not an int, not a string such as ``"false"``)."""
    return isinstance(x, bool) or (type(x).__module__ == "numpy"
                                   and type(x).__name__ in ("bool", "bool_"))

def is_int(x: Any) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def is_number(x: Any) -> bool:
    """A real number (Python or NumPy), not a bool."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def is_finite_number(x: Any) -> bool:
    return is_number(x) and math.isfinite(x)


def _bounds(low: float | None, high: float | None, strict_low: bool, strict_high: bool) -> str:
    lo = None if low is None else f"{'>' if strict_low else '>='} {low:g}"
    hi = None if high is None else f"{'<' if strict_high else '<='} {high:g}"
    if lo is not None and hi is not None:
        return f" in {'(' if strict_low else '['}{low:g}, {high:g}{')' if strict_high else ']'}"
    return f" {lo or hi}" if (lo or hi) else ""


def _fail(name: str, kind: str, value: Any, none: bool) -> InvalidValueError:
    got = f"{name}={short_repr(value)}" if name.isidentifier() else short_repr(value)
    return InvalidValueError(f"{name} must be {kind}{' or None' if none else ''}, got {got}")


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a ``bool``: only True and False (Python or NumPy) are flags.

    Raises:
        InvalidValueError: for anything else, e.g. the string ``"false"`` (which ``bool()``
            would turn into True) or the int 1.
    """
    if not is_bool(value):
        raise _fail(name, "True or False", value, False)
    return bool(value)


@overload
def check_int(name: str, value: Any, *, low: int | None = ..., high: int | None = ...,
              none: Literal[False] = ...) -> int: ...
@overload
def check_int(name: str, value: Any, *, low: int | None = ..., high: int | None = ...,
              none: bool) -> int | None: ...
def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None,
              none: bool = False) -> int | None:
    """``value`` as an int in ``[low, high]`` (None passes when ``none``).

    Raises:
        InvalidValueError: for a bool, a float, a string, or an int out of bounds.
    """
    if value is None and none:
        return None
    if not is_int(value) or (low is not None and value < low) or \
            (high is not None and value > high):
        raise _fail(name, "an int" + _bounds(low, high, False, False), value, none)
    return int(value)


@overload
def check_number(name: str, value: Any, *, low: float | None = ..., high: float | None = ...,
                 strict_low: bool = ..., strict_high: bool = ..., finite: bool = ...,
                 none: Literal[False] = ...) -> float: ...
@overload
def check_number(name: str, value: Any, *, low: float | None = ..., high: float | None = ...,
                 strict_low: bool = ..., strict_high: bool = ..., finite: bool = ...,
                 none: bool) -> float | None: ...
def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    strict_low: bool = False,
    strict_high: bool = False,
    finite: bool = True,
    none: bool = False,
) -> float | None:
    """``value`` as a float within the bounds (None passes when ``none``).

    Args:
        name: The argument's name, for the message.
        value: What was given.
        low, high: Bounds (inclusive unless ``strict_low`` / ``strict_high``).
        finite: Refuse infinities (nan is always refused).
        none: Let None through.

    Raises:
        InvalidValueError: for a bool, a string, nan, an infinity (when ``finite``) or a
            number out of bounds.
    """
    if value is None and none:
        return None
    ok = is_number(value) and not math.isnan(value) and (not finite or math.isfinite(value))
    if ok and low is not None:
        ok = value > low if strict_low else value >= low
    if ok and high is not None:
        ok = value < high if strict_high else value <= high
    if not ok:
        kind = ("a finite number" if finite else "a number") + _bounds(low, high, strict_low,
                                                                      strict_high)
        raise _fail(name, kind, value, none)
    return float(value)


def check_seed(seed: Any) -> int | None:
    """A seed: an int >= 0 (NumPy's generators refuse negative ones) or None."""
    return check_int("seed", seed, low=0, none=True)


def _alternatives(options: tuple[Any, ...]) -> str:
    shown = [repr(o) for o in options]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def check_option(name: str, value: Any, options: Any) -> Any:
    """``value`` if it is one of the values of the ``Literal`` type ``options``.

    Examples:
        >>> from typing import Literal
        >>> check_option("what", "mean", Literal["both", "mean", "std"])
        'mean'
        >>> check_option("what", "median", Literal["both", "mean", "std"])
        Traceback (most recent call last):
        ...
        bayestune.exceptions.InvalidValueError: what must be 'both', 'mean' or 'std', got what='median'

    Raises:
        InvalidValueError: naming the allowed values.
    """
    allowed = get_args(options)
    if not allowed:
        raise TypeError(f"options must be a Literal type, got {options!r}")
    if not (isinstance(value, tuple({type(a) for a in allowed})) and value in allowed):
        raise InvalidValueError(f"{name} must be {_alternatives(allowed)}, got {name}={value!r}")
    return value


def parse_direction(direction: Any) -> Direction:
    """``"minimize"`` or ``"maximize"``, given in any case."""
    if isinstance(direction, str):
        direction = direction.lower()
    return check_option("direction", direction, Direction)


def parse_value(value: Any) -> float | None:
    """A told value as a float; None, nan and inf as None (a failed trial).

    Accepts Python and NumPy numbers and one-element arrays or tensors.

    Raises:
        InvalidValueError: for strings, booleans, containers, several-element tensors, or
            an int too large for a float (``10**400``: not an infinity, a number that
            cannot be kept).
    """
    if value is None:
        return None
    if isinstance(value, (bool, str, bytes)):
        raise InvalidValueError(f"value must be a number, got {short_repr(value)}")
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
        raise InvalidValueError(f"value must be a number, got {short_repr(value)}")
    try:
        v = float(value)
    except OverflowError:  # an int or a Fraction beyond the float range
        raise InvalidValueError(
            f"value is too large for a float, got {short_repr(value)}") from None
    except (TypeError, ValueError):
        raise InvalidValueError(f"value must be a number, got {short_repr(value)}") from None
    return v if math.isfinite(v) else None
