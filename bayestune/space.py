"""Search spaces: typed dimensions, validation and the unit-cube encoding.

Every sampler works in the unit cube: one column per parameter. A ``Float`` or ``Int``
column holds a number in ``[0, 1]`` (in log space for ``log=True``); a ``Categorical``
column holds the index of the choice (``0 .. K-1``) as a float, which the GP kernel
compares with a Hamming distance. ``Int`` values own equal-width bins of the cube, so
decoding any point of a bin gives the same integer and re-encoding gives the bin centre
(the canonical point used to detect duplicates).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bayestune._checks import is_bool, is_int, is_number, short_repr
from bayestune.exceptions import InvalidParamError, InvalidSpaceError

__all__ = ["Float", "Int", "Categorical", "Dimension", "Space"]

_SCALARS = (str, int, float, bool, type(None))


# Int values are kept exact in the float cube only up to 2**53.
_MAX_INT = 2**53


def _finite(x: Any) -> bool:
    """A finite real number (a huge int or Fraction beyond the float range is not)."""
    try:
        return is_number(x) and math.isfinite(x)
    except OverflowError:
        return False


def _check_log(dim: Float | Int) -> None:
    # bool("false") is True: a string, an int or None would silently pick a scale
    if not is_bool(dim.log):
        raise InvalidSpaceError(f"log must be True or False, got log={short_repr(dim.log)}")
    object.__setattr__(dim, "log", bool(dim.log))


@dataclass(frozen=True)
class Float:
    """A real-valued hyperparameter in ``[low, high]``.

    Args:
        low: Lower bound (inclusive).
        high: Upper bound (inclusive), strictly greater than ``low``.
        log: Search in log space (use when the range spans decades, e.g. a learning rate).
        default: An optional known-good value, inside ``[low, high]``.
    """

    low: float
    high: float
    log: bool = False
    default: float | None = None

    def __post_init__(self) -> None:
        low, high = self.low, self.high
        if not (is_number(low) and is_number(high)):
            raise InvalidSpaceError(f"Float bounds must be numbers, got low={short_repr(low)}, "
                                    f"high={short_repr(high)}")
        if not (_finite(low) and _finite(high)):
            raise InvalidSpaceError(f"Float bounds must be finite, got low={short_repr(low)}, "
                                    f"high={short_repr(high)}")
        if low >= high:
            raise InvalidSpaceError(f"low must be < high, got {low=}, {high=}")
        _check_log(self)
        if not math.isfinite(float(high) - float(low)):  # the cube mapping would overflow
            raise InvalidSpaceError(f"high - low must be finite, got {low=}, {high=}")
        if self.log and low <= 0:
            raise InvalidSpaceError(f"log=True needs low > 0, got {low=}")
        object.__setattr__(self, "low", float(low))
        object.__setattr__(self, "high", float(high))
        if self.default is not None:
            if not is_number(self.default) or not low <= self.default <= high:
                raise InvalidSpaceError(
                    f"default must lie in [{low}, {high}], got default={short_repr(self.default)}"
                )
            object.__setattr__(self, "default", float(self.default))

    @property
    def is_categorical(self) -> bool:
        return False

    def _t(self, v: float) -> float:
        return math.log(v) if self.log else v

    def to_cube(self, value: Any) -> float:
        lo, hi = self._t(self.low), self._t(self.high)
        return (self._t(float(value)) - lo) / (hi - lo)

    def from_cube(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        lo, hi = self._t(self.low), self._t(self.high)
        t = lo + u * (hi - lo)
        v = math.exp(t) if self.log else t
        return min(max(v, self.low), self.high)

    def contains(self, value: Any) -> bool:
        return _finite(value) and self.low <= value <= self.high

    def cast(self, value: Any) -> float:
        return float(value)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log,
                "default": self.default}


@dataclass(frozen=True)
class Int:
    """An integer hyperparameter in ``{low, low + step, ..., high}``.

    Args:
        low: Lower bound (inclusive).
        high: Upper bound (inclusive); ``high - low`` must be a multiple of ``step``.
        log: Search in log space (needs ``low >= 1`` and ``step == 1``), e.g. batch sizes.
        step: Spacing between allowed values.
        default: An optional known-good value, one of the allowed values.
    """

    low: int
    high: int
    log: bool = False
    step: int = 1
    default: int | None = None

    def __post_init__(self) -> None:
        low, high, step = self.low, self.high, self.step
        for nm, v in (("low", low), ("high", high), ("step", step)):
            if not is_int(v):
                if not (_finite(v) and float(v).is_integer()):
                    raise InvalidSpaceError(
                        f"Int {nm} must be an integer, got {nm}={short_repr(v)}")
        low, high, step = int(low), int(high), int(step)
        if max(abs(low), abs(high)) > _MAX_INT:
            raise InvalidSpaceError(
                f"Int bounds must lie within -2**53..2**53 (beyond, the cube's floats skip "
                f"values), got low={short_repr(low)}, high={short_repr(high)}")
        if low >= high:
            raise InvalidSpaceError(f"low must be < high, got {low=}, {high=}")
        if step < 1:
            raise InvalidSpaceError(f"step must be >= 1, got {step=}")
        _check_log(self)
        if (high - low) % step:
            raise InvalidSpaceError(
                f"high - low must be a multiple of step, got {low=}, {high=}, {step=}"
            )
        if self.log and low < 1:
            raise InvalidSpaceError(f"log=True needs low >= 1 for an Int, got {low=}")
        if self.log and step != 1:
            raise InvalidSpaceError(f"log=True needs step=1, got {step=}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "step", step)
        if self.default is not None and not self.contains(self.default):
            raise InvalidSpaceError(
                f"default must be one of {low}..{high} (step {step}), got "
                f"default={short_repr(self.default)}"
            )
        if self.default is not None:
            object.__setattr__(self, "default", int(self.default))

    @property
    def is_categorical(self) -> bool:
        return False

    @property
    def n_values(self) -> int:
        return (self.high - self.low) // self.step + 1

    def _edges(self) -> tuple[float, float]:
        half = 0.5 * self.step
        if self.log:
            return math.log(self.low - half), math.log(self.high + half)
        return self.low - half, self.high + half

    def to_cube(self, value: Any) -> float:
        lo, hi = self._edges()
        v = float(value)
        return ((math.log(v) if self.log else v) - lo) / (hi - lo)

    def from_cube(self, u: float) -> int:
        u = min(max(float(u), 0.0), 1.0)
        lo, hi = self._edges()
        t = lo + u * (hi - lo)
        v = math.exp(t) if self.log else t
        k = round((v - self.low) / self.step)
        return int(min(max(self.low + k * self.step, self.low), self.high))

    def contains(self, value: Any) -> bool:
        if not is_int(value) and not (_finite(value) and float(value).is_integer()):
            return False
        v = int(value)
        return self.low <= v <= self.high and (v - self.low) % self.step == 0

    def cast(self, value: Any) -> int:
        return int(value)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "log": self.log,
                "step": self.step, "default": self.default}


@dataclass(frozen=True)
class Categorical:
    """A choice among unordered values (str, int, float, bool or None).

    Args:
        choices: The values, at least one, no duplicates.
        default: An optional known-good choice.
    """

    choices: tuple[Any, ...]
    default: Any = field(default=None)

    def __post_init__(self) -> None:
        choices = self.choices
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
            raise InvalidSpaceError(f"choices must be a list or tuple, got {choices!r}")
        choices = tuple(choices)
        if not choices:
            raise InvalidSpaceError("choices must not be empty, got choices=()")
        seen: set[tuple[str, Any]] = set()
        for c in choices:
            if not isinstance(c, _SCALARS):
                raise InvalidSpaceError(
                    f"choices must be str, int, float, bool or None, got {c!r} in {choices!r}"
                )
            if isinstance(c, float) and math.isnan(c):
                raise InvalidSpaceError(
                    f"choices must not hold nan (it equals nothing, not even itself), got "
                    f"{short_repr(choices)}")
            key = (type(c).__name__, c)
            if key in seen:
                raise InvalidSpaceError(f"duplicated choice {c!r} in {choices!r}")
            seen.add(key)
        object.__setattr__(self, "choices", choices)
        if self.default is not None and self._index(self.default) is None:
            raise InvalidSpaceError(
                f"default must be one of {choices!r}, got default={self.default!r}"
            )

    @property
    def is_categorical(self) -> bool:
        return True

    @property
    def n_values(self) -> int:
        return len(self.choices)

    def _index(self, value: Any) -> int | None:
        for i, c in enumerate(self.choices):
            if type(c) is type(value) and c == value:
                return i
        for i, c in enumerate(self.choices):  # 1 for 1.0, numpy scalars for Python ones
            if not isinstance(c, (str, bool)) and not isinstance(value, (str, bool)):
                try:
                    if c == value:
                        return i
                except Exception:  # noqa: BLE001
                    continue
        return None

    def to_cube(self, value: Any) -> float:
        i = self._index(value)
        if i is None:
            raise InvalidParamError(f"{value!r} is not one of {self.choices!r}")
        return float(i)

    def from_cube(self, u: float) -> Any:
        i = int(round(float(u)))
        return self.choices[min(max(i, 0), len(self.choices) - 1)]

    def contains(self, value: Any) -> bool:
        return self._index(value) is not None

    def cast(self, value: Any) -> Any:
        return self.choices[self._index(value)]  # type: ignore[index]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices), "default": self.default}


Dimension = Float | Int | Categorical


_KEYS: dict[str, tuple[str, ...]] = {
    "float": ("type", "low", "high", "log", "default"),
    "int": ("type", "low", "high", "log", "step", "default"),
    "categorical": ("type", "choices", "default"),
}
_REQUIRED = {"float": ("low", "high"), "int": ("low", "high"), "categorical": ("choices",)}
_EXAMPLE = '{"type": "float", "low": 0.0, "high": 1.0}'


def _dim_from_dict(name: str, d: Any) -> Dimension:
    """One dimension of :meth:`Space.from_dict`; every key checked, none ignored."""
    where = f"parameter {short_repr(name)}"
    if not isinstance(d, Mapping):
        raise InvalidSpaceError(
            f"each parameter is described by a dict such as {_EXAMPLE}, got "
            f"{short_repr(name)}: {short_repr(d)}")
    kind = d.get("type")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise InvalidSpaceError(
            f"{where}: unknown dimension type {short_repr(kind)} (use 'float', 'int' or "
            f"'categorical') in {short_repr(dict(d))}")
    unknown = [k for k in d if k not in _KEYS[kind]]
    if unknown:
        raise InvalidSpaceError(
            f"{where}: unknown key(s) {short_repr(unknown)} for a {kind} dimension; it takes "
            f"{', '.join(_KEYS[kind])}")
    missing = [k for k in _REQUIRED[kind] if k not in d]
    if missing:
        raise InvalidSpaceError(f"{where}: missing key(s) {missing} for a {kind} dimension")
    if kind == "float":
        return Float(d["low"], d["high"], log=d.get("log", False), default=d.get("default"))
    if kind == "int":
        return Int(d["low"], d["high"], log=d.get("log", False), step=d.get("step", 1),
                   default=d.get("default"))
    return Categorical(d["choices"], default=d.get("default"))


class Space:
    """An ordered mapping of parameter names to dimensions.

    Args:
        dims: ``{"lr": Float(1e-5, 1.0, log=True), ...}``; order is kept.

    Raises:
        InvalidSpaceError: if ``dims`` is empty, a name is not a non-empty string, or a
            value is not a ``Float``, ``Int`` or ``Categorical``.

    Examples:
        >>> import bayestune as bt
        >>> space = bt.Space({
        ...     "lr": bt.Float(1e-4, 1e-1, log=True),
        ...     "layers": bt.Int(1, 4),
        ...     "optimizer": bt.Categorical(("sgd", "adam")),
        ... })
        >>> space.names
        ('lr', 'layers', 'optimizer')
        >>> x = space.encode({"lr": 1e-2, "layers": 2, "optimizer": "adam"})  # the unit cube
        >>> x.round(3).tolist()
        [0.667, 0.375, 1.0]
        >>> space.decode(x)["layers"], space.decode(x)["optimizer"]
        (2, 'adam')
        >>> space.validate_params({"lr": 0.5, "layers": 2, "optimizer": "adam"})
        Traceback (most recent call last):
        ...
        bayestune.exceptions.InvalidParamError: ...
    """

    def __init__(self, dims: Mapping[str, Dimension]) -> None:
        if not isinstance(dims, Mapping):
            raise InvalidSpaceError(f"Space takes a dict of name -> dimension, got {dims!r}")
        if not dims:
            raise InvalidSpaceError("a Space needs at least one dimension, got {}")
        for name, dim in dims.items():
            if not isinstance(name, str) or not name:
                raise InvalidSpaceError(f"parameter names must be non-empty strings, got {name!r}")
            if not isinstance(dim, (Float, Int, Categorical)):
                raise InvalidSpaceError(
                    f"{name!r} must be a Float, Int or Categorical, got {dim!r}"
                )
        self._dims: dict[str, Dimension] = dict(dims)
        self._names = tuple(self._dims)
        self._cat_mask = np.array([d.is_categorical for d in self._dims.values()], dtype=bool)

    # -- mapping protocol -------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def dims(self) -> Mapping[str, Dimension]:
        return dict(self._dims)

    def __getitem__(self, name: str) -> Dimension:
        try:
            return self._dims[name]
        except KeyError:
            raise InvalidParamError(f"unknown parameter {name!r}; the space has {self._names}") \
                from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._dims

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self._dims == other._dims \
            and self._names == other._names

    def __hash__(self) -> int:
        return hash(tuple(self._dims.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self._dims.items())
        return f"Space({{{inner}}})"

    # -- structure used by samplers ----------------------------------------------------
    @property
    def categorical_mask(self) -> np.ndarray:
        """``d`` booleans: True where the cube column holds a category index."""
        return self._cat_mask.copy()

    @property
    def n_choices(self) -> np.ndarray:
        """``d`` ints: number of choices of each categorical column, 0 elsewhere."""
        return np.array([d.n_values if d.is_categorical else 0 for d in self._dims.values()])

    @property
    def integer_mask(self) -> np.ndarray:
        """``d`` booleans: True where the column is an ``Int``."""
        return np.array([isinstance(d, Int) for d in self._dims.values()], dtype=bool)

    # -- validation ----------------------------------------------------------------------
    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check a full configuration and return it with plain Python values.

        Raises:
            InvalidParamError: naming the missing, unknown or out-of-range parameter.
        """
        if not isinstance(params, Mapping):
            raise InvalidParamError(f"params must be a dict, got {short_repr(params)}")
        unknown = [k for k in params if k not in self._dims]
        if unknown:
            raise InvalidParamError(
                f"unknown parameter(s) {short_repr(unknown)}; the space has {self._names}")
        missing = [k for k in self._names if k not in params]
        if missing:
            raise InvalidParamError(
                f"missing parameter(s) {missing} in {short_repr(dict(params))}")
        out: dict[str, Any] = {}
        for name, dim in self._dims.items():
            v = params[name]
            if not dim.contains(v):
                raise InvalidParamError(f"{name}={short_repr(v)} is outside {dim!r}")
            out[name] = dim.cast(v)
        return out

    def contains(self, params: Mapping[str, Any]) -> bool:
        """True when ``params`` is a complete, in-range configuration of this space."""
        try:
            self.validate_params(params)
        except InvalidParamError:
            return False
        return True

    # -- unit cube -------------------------------------------------------------------------
    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Map a configuration to the cube: ``d`` floats."""
        return np.array([d.to_cube(params[n]) for n, d in self._dims.items()], dtype=float)

    def encode_many(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Map configurations to the cube: ``n x d``."""
        if not configs:
            return np.zeros((0, len(self)), dtype=float)
        return np.stack([self.encode(c) for c in configs])

    def decode(self, x: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Map one cube point (``d`` floats, clipped to the cube) to plain Python values."""
        x = np.asarray(x, dtype=float).reshape(-1)
        if x.shape[0] != len(self):
            raise InvalidParamError(f"expected {len(self)} coordinates, got {x.shape[0]}")
        return {n: d.from_cube(x[i]) for i, (n, d) in enumerate(self._dims.items())}

    def canonicalize(self, x: np.ndarray) -> np.ndarray:
        """Round cube points (``n x d``) to what decoding then encoding gives."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        return np.stack([self.encode(self.decode(row)) for row in x])

    def sample(self, rng: np.random.Generator, n: int = 1) -> list[dict[str, Any]]:
        """Draw ``n`` configurations uniformly in the cube (so log-uniform for log dims)."""
        u = rng.random((n, len(self)))
        return [self.decode(self.scale_unit(row)) for row in u]

    def scale_unit(self, u: np.ndarray) -> np.ndarray:
        """Stretch uniform ``[0, 1)`` draws (``... x d``) over categorical index ranges."""
        u = np.array(u, dtype=float)
        k = self.n_choices
        cat = self._cat_mask
        u[..., cat] = np.minimum(np.floor(u[..., cat] * k[cat]), k[cat] - 1)
        return u

    def defaults(self) -> dict[str, Any] | None:
        """The configuration made of every dimension's ``default``, or None if one lacks it."""
        out = {n: d.default for n, d in self._dims.items()}
        if any(v is None for v in out.values()):
            return None
        return out

    # -- derivation and serialization ------------------------------------------------------
    def with_bounds(self, name: str, low: float, high: float) -> Space:
        """A copy of the space with new bounds for a ``Float`` or ``Int`` dimension.

        A ``default`` that falls outside the new bounds is dropped.
        """
        dim = self[name]
        if isinstance(dim, Categorical):
            raise InvalidSpaceError(f"{name!r} is categorical and has no bounds")
        default = dim.default if (dim.default is not None and low <= dim.default <= high) \
            else None
        dims = dict(self._dims)
        dims[name] = replace(dim, low=low, high=high, default=default)
        return Space(dims)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """A JSON-ready description of the space."""
        return {n: d.to_dict() for n, d in self._dims.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> Space:
        """Inverse of :meth:`to_dict`.

        Raises:
            InvalidSpaceError: for anything but a dict of dimension descriptions, an
                unknown ``type``, an unknown or missing key, or a bad value (each named).
        """
        if not isinstance(data, Mapping):
            raise InvalidSpaceError(f"a space description must be a dict, got "
                                    f"{short_repr(data)}")
        return cls({n: _dim_from_dict(n, d) for n, d in data.items()})


def is_duplicate(x: np.ndarray, seen: np.ndarray, tol: float = 1e-7) -> bool:
    """True when canonical cube point ``x`` (``d``) matches a row of ``seen`` (``m x d``)."""
    if seen.size == 0:
        return False
    return bool(np.any(np.max(np.abs(seen - x[None, :]), axis=1) < tol))
