"""Samplers: one per module, behind the :class:`Sampler` protocol."""

from __future__ import annotations

from bayestune._lazy import lazy_exports
from bayestune.samplers.base import Sampler, Suggestion
from bayestune.samplers.gp import GPSampler
from bayestune.samplers.grid import GridSampler
from bayestune.samplers.random import RandomSampler
from bayestune.samplers.sobol import SobolSampler

__all__ = ["Sampler", "Suggestion", "RandomSampler", "SobolSampler", "GridSampler", "GPSampler"]

__getattr__, __dir__ = lazy_exports(__name__, __all__)  # dir(): the public names
