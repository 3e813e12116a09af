"""Private helper of :mod:`bayestune.sklearn`: the search space as a user writes it, in
scikit-learn's or scikit-optimize's spelling, turned into a :class:`Space`.

Accepted values of the dict, per parameter:

- a bayestune ``Float`` / ``Int`` / ``Categorical``;
- a list of candidate values (as for ``GridSearchCV``); a list holding objects
  (estimators, callables, arrays) is searched by position and the object itself is
  handed to the estimator;
- scikit-optimize's tuple shorthand: ``(low, high)`` (ints: an ``Int``; a float: a
  ``Float``), ``(low, high, "uniform" | "log-uniform")`` (and a fourth item, the log
  base, which does not change a log-uniform search), other tuples of values a
  categorical, as ``skopt.space.check_dimension`` reads them;
- scikit-optimize's ``Real`` / ``Integer`` / ``Categorical`` objects (read by their
  attributes, so skopt itself is not imported).

A list written like the shorthand with a prior (``[1e-2, 1e3, "log-uniform"]``) is read
as the range too, never as three candidates.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

from bayestune.exceptions import InvalidSpaceError
from bayestune.space import Categorical, Float, Int, Space

__all__ = ["as_space"]

_SCALARS = (str, int, float, bool, type(None))
_PRIORS = ("uniform", "log-uniform")

Decoder = Callable[[Mapping[str, Any]], dict[str, Any]]


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _range(name: str, low: Any, high: Any, prior: str, integer: bool) -> Float | Int:
    log = prior == "log-uniform"
    try:
        if integer:
            return Int(int(low), int(high), log=log)
        return Float(float(low), float(high), log=log)
    except InvalidSpaceError as e:
        raise InvalidSpaceError(f"{name!r}: {e}") from None


def _shorthand(name: str, dim: tuple[Any, ...] | list[Any]) -> Float | Int | None:
    """scikit-optimize's ``(low, high[, prior[, base]])``, or None when ``dim`` is not one."""
    items = tuple(dim)
    if len(items) in (3, 4) and isinstance(items[2], str) and items[2] in _PRIORS \
            and _is_real(items[0]) and _is_real(items[1]):
        if len(items) == 4 and not _is_real(items[3]):
            return None
        return _range(name, items[0], items[1], items[2],
                      _is_int(items[0]) and _is_int(items[1]))
    return None


def _skopt_dimension(name: str, dim: Any) -> Float | Int | Categorical | list[Any] | None:
    """A scikit-optimize ``Real`` / ``Integer`` / ``Categorical`` read by its attributes
    (a list of objects for a categorical of non-scalars); None for anything else."""
    kind = type(dim).__name__
    if kind in ("Real", "Integer") and hasattr(dim, "low") and hasattr(dim, "high"):
        prior = getattr(dim, "prior", "uniform") or "uniform"
        if prior not in _PRIORS:
            raise InvalidSpaceError(
                f"{name!r}: the prior {prior!r} of {dim!r} is not supported; use 'uniform' "
                f"or 'log-uniform'")
        return _range(name, dim.low, dim.high, prior, kind == "Integer")
    if kind == "Categorical" and hasattr(dim, "categories"):
        return list(dim.categories)
    return None


def as_space(space: Any) -> tuple[Space, Decoder]:
    """A :class:`Space` and the function that turns a trial's params into estimator params.

    Raises:
        InvalidSpaceError: for anything else, e.g. a scipy distribution, or
            scikit-optimize's list of several sub-spaces.
    """
    if isinstance(space, Space):
        return space, dict
    if isinstance(space, (list, tuple)):
        raise InvalidSpaceError(
            "several sub-spaces (scikit-optimize's list of dicts or of (space, n_iter) "
            "pairs) are not supported: run one BayesSearchCV per sub-space, or merge them "
            "into one dict, with a categorical to choose between the alternatives; got "
            f"{space!r}")
    if not isinstance(space, Mapping) or not space:
        raise InvalidSpaceError(
            f"space must be a bayestune.Space or a non-empty dict of parameter -> dimension "
            f"or list of values, got {space!r}"
        )
    dims: dict[str, Float | Int | Categorical] = {}
    objects: dict[str, list[Any]] = {}
    for name, dim in space.items():
        if isinstance(dim, (Float, Int, Categorical)):
            dims[name] = dim
            continue
        if isinstance(dim, (list, tuple)):
            ranged = _shorthand(name, dim)
            if ranged is None and isinstance(dim, tuple) and len(dim) == 2 \
                    and all(_is_real(v) for v in dim):
                ranged = _range(name, dim[0], dim[1], "uniform",
                                _is_int(dim[0]) and _is_int(dim[1]))
            if ranged is not None:
                dims[name] = ranged
                continue
            values: list[Any] | None = list(dim)
        else:
            converted = _skopt_dimension(name, dim)
            if isinstance(converted, (Float, Int)):
                dims[name] = converted
                continue
            values = converted
        if values is None:
            hint = (" (scipy distributions are not supported: write "
                    "bayestune.Float(low, high, log=True) or bayestune.Int(low, high))"
                    if hasattr(dim, "rvs") else "")
            raise InvalidSpaceError(
                f"{name!r} must be a bayestune Float, Int or Categorical, a list of values, "
                f"a (low, high[, prior]) tuple or a scikit-optimize dimension, got "
                f"{dim!r}{hint}"
            )
        if not values:
            raise InvalidSpaceError(f"the list of values for {name!r} is empty")
        if all(isinstance(v, _SCALARS) for v in values):
            dims[name] = Categorical(tuple(values))
        else:
            objects[name] = values
            dims[name] = Categorical(tuple(range(len(values))))
    if not objects:
        return Space(dims), dict

    def decode(params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: objects[k][v] if k in objects else v for k, v in params.items()}

    return Space(dims), decode
