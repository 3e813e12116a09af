"""The sampler protocol: given a space and the trials so far, propose a configuration."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bayestune._types import Direction
from bayestune.space import Space
from bayestune.trial import FrozenTrial

__all__ = ["Sampler", "Suggestion", "Direction", "trial_rng"]


@dataclass(frozen=True)
class Suggestion:
    """A proposed configuration and what the sampler wants stored with it.

    Attributes:
        params: The configuration, plain Python values.
        attrs: JSON-ready sampler state kept in the trial's ``system_attrs`` (for
            example the GP hyperparameters, so that a resumed study warm-starts exactly
            as the original would have).
    """

    params: dict[str, Any]
    attrs: Mapping[str, Any] = field(default_factory=dict)


def trial_rng(seed: int | None, number: int) -> np.random.Generator:
    """A generator that depends only on ``(seed, trial number)``.

    Samplers hold no mutable random state: the same seed and history give the same
    suggestion in a fresh process, and workers that reserve different trial numbers
    draw from different streams.
    """
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng([int(seed), int(number)])


class Sampler(abc.ABC):
    """Proposes configurations. Subclasses implement :meth:`sample`."""

    seed: int | None = None

    @abc.abstractmethod
    def sample(
        self,
        space: Space,
        trials: Sequence[FrozenTrial],
        direction: Direction,
        number: int,
    ) -> Suggestion:
        """Propose the configuration of trial ``number``.

        Args:
            space: The search space.
            trials: Every other trial of the study (finished, RUNNING = pending,
                and trials whose params are still being chosen, with empty params).
            direction: ``"minimize"`` or ``"maximize"``.
            number: The number reserved for the new trial (seeds the randomness).
        """

    def is_exhausted(self, space: Space, trials: Sequence[FrozenTrial]) -> bool:
        """True when the sampler has nothing new to propose (e.g. a finished grid)."""
        return False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, stored with a persistent study."""
        return {"name": type(self).__name__, "seed": self.seed}
