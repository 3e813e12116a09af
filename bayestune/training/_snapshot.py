"""Exact copies of a model's and an optimizer's state, to put them back after a trial
run (the LR range test, the overfit check)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["snapshot", "model_device"]


def snapshot(obj: Any) -> Any:
    """A deep copy of a state dict with every tensor cloned to the CPU (bit-exact), keeping
    a module state dict's ``_metadata`` (the version numbers its loaders read)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, Mapping):
        out = type(obj)((k, snapshot(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):
            out._metadata = copy.deepcopy(obj._metadata)  # type: ignore[attr-defined]
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(snapshot(v) for v in obj)
    return copy.deepcopy(obj)


def model_device(model: torch.nn.Module) -> torch.device:
    """Where the model's first parameter (or buffer) lives; the CPU for an empty model."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")
