"""Uniform random search in the unit cube (log-uniform on log dimensions)."""

from __future__ import annotations

from collections.abc import Sequence

from bayestune._checks import check_seed
from bayestune.samplers.base import Direction, Sampler, Suggestion, trial_rng
from bayestune.space import Space
from bayestune.trial import FrozenTrial

__all__ = ["RandomSampler"]


class RandomSampler(Sampler):
    """Independent uniform draws; the classic baseline (Bergstra and Bengio, 2012).

    Args:
        seed: Seed; the draw of trial ``n`` depends only on ``(seed, n)``.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = check_seed(seed)

    def sample(
        self, space: Space, trials: Sequence[FrozenTrial], direction: Direction, number: int
    ) -> Suggestion:
        return Suggestion(space.sample(trial_rng(self.seed, number), 1)[0], {"sampler": "random"})
