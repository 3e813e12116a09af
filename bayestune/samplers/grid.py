"""Exhaustive grid search over a finite product of values."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bayestune._checks import check_int, check_seed, short_repr
from bayestune.exceptions import InvalidParamError, InvalidValueError
from bayestune.samplers.base import Direction, Sampler, Suggestion
from bayestune.space import Categorical, Float, Int, Space
from bayestune.trial import FrozenTrial

__all__ = ["GridSampler"]

logger = logging.getLogger(__name__)

# The most points a grid may hold: its points are built in memory, in visiting order.
_MAX_GRID = 1_000_000


class GridSampler(Sampler):
    """Visit every point of a grid once, in a seeded random order.

    Args:
        grid: Optional explicit values per parameter (``{"lr": [1e-3, 1e-2]}``).
            Parameters not listed get ``n_points`` values evenly spaced in the cube
            (so log-spaced on log dimensions), every value of small ``Int`` ranges, and
            every choice of a ``Categorical``.
        n_points: Values per unlisted continuous dimension.
        seed: Seed of the visiting order.
    """

    def __init__(
        self,
        grid: Mapping[str, Sequence[Any]] | None = None,
        n_points: int = 5,
        seed: int | None = None,
    ) -> None:
        check_int("n_points", n_points, low=1, high=_MAX_GRID)
        if grid is not None and not isinstance(grid, Mapping):
            raise InvalidValueError(f"grid must be a dict of name -> values, got "
                                    f"grid={short_repr(grid)}")
        self.grid = {}
        for k, v in (grid or {}).items():
            if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not v:
                raise InvalidValueError(f"grid values for {k!r} must be a non-empty list, "
                                        f"got {short_repr(v)}")
            self.grid[k] = list(v)
        self.n_points = n_points
        self.seed = check_seed(seed)
        self._cache: tuple[Space, list[dict[str, Any]]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": "GridSampler", "seed": self.seed, "grid": self.grid,
                "n_points": self.n_points}

    def _axis(self, name: str, dim: Float | Int | Categorical) -> list[Any]:
        if name in self.grid:
            bad = [v for v in self.grid[name] if not dim.contains(v)]
            if bad:
                raise InvalidParamError(f"grid values {bad} for {name!r} are outside {dim!r}")
            return [dim.cast(v) for v in self.grid[name]]
        if isinstance(dim, Categorical):
            return list(dim.choices)
        if isinstance(dim, Int) and dim.n_values <= self.n_points:
            return list(range(dim.low, dim.high + 1, dim.step))
        vals = [dim.from_cube(u) for u in np.linspace(0.0, 1.0, self.n_points)]
        return list(dict.fromkeys(vals))

    def points(self, space: Space) -> list[dict[str, Any]]:
        """Every grid configuration, in visiting order."""
        if self._cache is not None and self._cache[0] == space:
            return self._cache[1]
        unknown = set(self.grid) - set(space.names)
        if unknown:
            raise InvalidParamError(f"grid names unknown parameter(s) {sorted(unknown)}")
        axes = [self._axis(n, space[n]) for n in space.names]
        size = math.prod(len(a) for a in axes)
        if size > _MAX_GRID:
            raise InvalidValueError(
                f"the grid has {size} points (n_points={self.n_points}), more than the "
                f"{_MAX_GRID} it can visit; give fewer n_points or explicit values")
        pts = [dict(zip(space.names, combo, strict=True)) for combo in itertools.product(*axes)]
        order = np.random.default_rng(self.seed).permutation(len(pts))
        pts = [pts[i] for i in order]
        self._cache = (space, pts)
        return pts

    def _visited(self, space: Space, trials: Sequence[FrozenTrial]) -> set[tuple]:
        return {tuple(repr(t.params.get(n)) for n in space.names) for t in trials if t.params}

    def sample(
        self, space: Space, trials: Sequence[FrozenTrial], direction: Direction, number: int
    ) -> Suggestion:
        pts = self.points(space)
        seen = self._visited(space, trials)
        for p in pts:
            if tuple(repr(p[n]) for n in space.names) not in seen:
                return Suggestion(dict(p), {"sampler": "grid"})
        logger.warning("grid of %d points is exhausted; repeating a grid point", len(pts))
        return Suggestion(dict(pts[number % len(pts)]), {"sampler": "grid"})

    def is_exhausted(self, space: Space, trials: Sequence[FrozenTrial]) -> bool:
        # Only grid points count: an enqueued off-grid configuration must not end the grid.
        seen = self._visited(space, trials)
        return all(tuple(repr(p[n]) for n in space.names) in seen for p in self.points(space))
