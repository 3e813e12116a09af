"""Shared fixtures: tiny spaces, a fake training function, hypothesis profiles."""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import HealthCheck, settings

import bayestune as bt

# CI machines are slow and shared: no per-example deadline, a fixed example budget.
settings.register_profile(
    "default", deadline=None, max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", 100)),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci", deadline=None, max_examples=200, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def fake_train(lr, momentum, dropout, weight_decay, batch_size, optimizer):
    """A stand-in for a training run: a smooth loss, NaN where the lr is too large."""
    if lr > 0.3:
        return float("nan")  # training diverged
    penalty = {"sgd": 0.3, "adam": 0.0, "rmsprop": 0.1}[optimizer]
    return ((math.log10(lr) + 3.0) ** 2 + (momentum - 0.9) ** 2 + (dropout - 0.1) ** 2
            + 0.01 * (math.log10(weight_decay) + 4.0) ** 2
            + 0.01 * (math.log2(batch_size) - 6.0) ** 2 + penalty)


@pytest.fixture
def dl_space() -> bt.Space:
    """The issue's deep-learning space, exactly as the public contract writes it."""
    return bt.Space({
        "lr": bt.Float(1e-5, 1.0, log=True),
        "momentum": bt.Float(0.0, 0.99),
        "dropout": bt.Float(0.0, 0.6),
        "weight_decay": bt.Float(1e-7, 1e-1, log=True),
        "batch_size": bt.Int(8, 1024, log=True),
        "optimizer": bt.Categorical(["sgd", "adam", "rmsprop"]),
    })


@pytest.fixture
def small_space() -> bt.Space:
    """One dimension of each kind."""
    return bt.Space({
        "x": bt.Float(-1.0, 1.0),
        "n": bt.Int(1, 10),
        "c": bt.Categorical(["a", "b", "c"]),
    })


@pytest.fixture
def random_study(small_space: bt.Space) -> bt.Study:
    """A fast in-memory study (random search, so no GP fit slows the test)."""
    return bt.Study(small_space, sampler=bt.samplers.RandomSampler(seed=0))


@pytest.fixture
def train():
    """:func:`fake_train`, for tests that run the public contract."""
    return fake_train
