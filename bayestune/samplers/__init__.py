"""Samplers: one per module, behind the :class:`Sampler` protocol."""

from __future__ import annotations

from bayestune.samplers.base import Sampler, Suggestion
from bayestune.samplers.gp import GPSampler
from bayestune.samplers.grid import GridSampler
from bayestune.samplers.random import RandomSampler
from bayestune.samplers.sobol import SobolSampler

__all__ = ["Sampler", "Suggestion", "RandomSampler", "SobolSampler", "GridSampler", "GPSampler"]
