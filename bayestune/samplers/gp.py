"""GP sampler (work in progress: engine being written)."""
from __future__ import annotations
from bayestune.samplers.sobol import SobolSampler


class GPSampler(SobolSampler):
    pass
