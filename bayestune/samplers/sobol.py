"""Scrambled Sobol points: space filling, used alone or as the GP's initial design."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from bayestune._checks import check_seed
from bayestune.samplers.base import Direction, Sampler, Suggestion
from bayestune.space import Space
from bayestune.trial import FrozenTrial

__all__ = ["SobolSampler", "sobol_point"]


def sobol_point(space: Space, seed: int | None, index: int) -> np.ndarray:
    """The ``index``-th point of a scrambled Sobol sequence in the cube: ``d`` floats.

    Categorical columns are stretched to category indices.
    """
    from scipy.stats import qmc  # noqa: PLC0415 - scipy.stats takes a second to import

    engine = qmc.Sobol(d=len(space), scramble=True, seed=seed)
    if index:
        engine.fast_forward(index)
    with warnings.catch_warnings():  # balance warnings for non-power-of-2 counts
        warnings.simplefilter("ignore")
        u = engine.random(1)[0]
    return space.scale_unit(u)


class SobolSampler(Sampler):
    """Trial ``n`` gets the ``n``-th point of one scrambled Sobol sequence.

    Args:
        seed: Scrambling seed (None: a fresh random scramble, not reproducible).
    """

    def __init__(self, seed: int | None = None) -> None:
        seed = check_seed(seed)
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31))
        self.seed = seed

    def sample(
        self, space: Space, trials: Sequence[FrozenTrial], direction: Direction, number: int
    ) -> Suggestion:
        return Suggestion(space.decode(sobol_point(space, self.seed, number)),
                          {"sampler": "sobol"})
