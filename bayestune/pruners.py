"""Pruners: stop unpromising trials early from their intermediate values."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from bayestune.samplers.base import Direction
from bayestune.trial import FrozenTrial

__all__ = ["Pruner", "NopPruner"]


class Pruner(abc.ABC):
    """Decides from intermediate values whether a running trial should stop."""

    @abc.abstractmethod
    def prune(self, trials: Sequence[FrozenTrial], trial: FrozenTrial, direction: Direction) -> bool:
        """True to stop ``trial``.

        Args:
            trials: Every trial of the study (``trial`` among them).
            trial: The running trial, with its reported intermediate values.
            direction: ``"minimize"`` or ``"maximize"``.
        """

    def to_dict(self) -> dict[str, Any]:
        return {"name": type(self).__name__}


class NopPruner(Pruner):
    """Never prunes (the default)."""

    def prune(self, trials: Sequence[FrozenTrial], trial: FrozenTrial, direction: Direction) -> bool:
        return False
