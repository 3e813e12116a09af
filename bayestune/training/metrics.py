"""Validation metrics for :class:`~bayestune.training.TorchObjective` (``metric=``)."""

from __future__ import annotations

import torch

__all__ = ["accuracy"]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy of class scores ``outputs`` (``n x C``) against labels ``targets``
    (``n``): a 0-dim tensor in ``[0, 1]``. Higher is better."""
    return (outputs.argmax(dim=-1) == targets).float().mean()
