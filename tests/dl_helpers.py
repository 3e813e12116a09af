"""Tiny deep-learning fixtures shared by the training, LR-finder and pruning tests:
scikit-learn's digits (8x8 images, 10 classes) and three small model families."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch import nn


@functools.lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_val, y_val)``: standardized float32 features, int64 labels;
    a fixed 1200 / 597 split."""
    from sklearn.datasets import load_digits  # noqa: PLC0415

    X, y = load_digits(return_X_y=True)
    X = ((X - X.mean(0)) / (X.std(0) + 1e-8)).astype(np.float32)
    idx = np.random.default_rng(0).permutation(len(X))
    tr, va = idx[:1200], idx[1200:]
    return X[tr], y[tr].astype(np.int64), X[va], y[va].astype(np.int64)


def digits_tensors() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return tuple(torch.from_numpy(a) for a in digits())  # type: ignore[return-value]


def mlp(params: dict | None = None, hidden: int = 32) -> nn.Module:
    p = params or {}
    return nn.Sequential(nn.Linear(64, p.get("hidden", hidden)), nn.ReLU(),
                         nn.Dropout(p.get("dropout", 0.0)), nn.Linear(p.get("hidden", hidden), 10))


class KwMLP(nn.Module):
    """:func:`mlp` taking its input by name (``model(pixels=x)``), as dict batches feed it."""

    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net(pixels)


def logreg(params: dict | None = None) -> nn.Module:
    return nn.Linear(64, 10)


def cnn(params: dict | None = None) -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(32, 10))


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (and a shared CI machine is oversubscribed)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
