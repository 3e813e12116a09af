"""Batches: where they come from (datasets, loaders, in-memory tensors), how they are
split into model inputs and targets, and how they reach the device."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from bayestune.exceptions import InvalidValueError

__all__ = [
    "BatchFn",
    "TensorBatches",
    "TARGET_KEYS",
    "unpack_batch",
    "to_device",
    "forward",
    "batch_size_of",
    "make_loader",
]

#: Keys that hold the targets of a batch given as a dict (the first one present wins).
TARGET_KEYS: tuple[str, ...] = ("labels", "label", "targets", "target", "y")

#: Splits a batch into ``(inputs, targets)``.
BatchFn = Callable[[Any], tuple[Any, Any]]


def unpack_batch(batch: Any) -> tuple[Any, Any]:
    """The default batch-unpacking hook: a batch -> ``(inputs, targets)``.

    - ``(x, y)`` (tuple or list of two): inputs ``x``, targets ``y``;
    - ``(x1, ..., xk, y)``: inputs ``(x1, ..., xk)`` (passed positionally), targets ``y``;
    - a dict: targets under the first of :data:`TARGET_KEYS` present, inputs the other
      entries (passed as keyword arguments, as Hugging Face models take them).

    Raises:
        InvalidValueError: for a batch of another shape (pass your own ``batch_fn``).
    """
    if isinstance(batch, (tuple, list)):
        if len(batch) == 2:
            return batch[0], batch[1]
        if len(batch) > 2:
            return tuple(batch[:-1]), batch[-1]
    elif isinstance(batch, Mapping):
        for key in TARGET_KEYS:
            if key in batch:
                return {k: v for k, v in batch.items() if k != key}, batch[key]
        raise InvalidValueError(
            f"a dict batch needs its targets under one of {TARGET_KEYS}, got keys "
            f"{sorted(batch)}; pass batch_fn=... to split it yourself"
        )
    raise InvalidValueError(
        f"cannot split a batch of type {type(batch).__name__} into inputs and targets; "
        f"give (inputs, targets), a dict with a 'labels' key, or pass batch_fn=..."
    )


def to_device(obj: Any, device: torch.device) -> Any:
    """``obj`` with every tensor in it moved to ``device`` by a non-blocking copy.

    Walks tuples, lists and dicts (and namedtuples); other objects pass through.
    """
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, Mapping):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(to_device(v, device) for v in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def forward(model: Callable[..., Any], inputs: Any) -> Any:
    """Call the model: ``model(x)``, ``model(*inputs)`` for a tuple, ``model(**inputs)``
    for a dict."""
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def batch_size_of(inputs: Any, targets: Any) -> int:
    """The number of examples in a batch (the first dimension of the first tensor)."""
    for part in (targets, inputs):
        n = _first_dim(part)
        if n is not None:
            return n
    return 1


def _first_dim(obj: Any) -> int | None:
    if isinstance(obj, torch.Tensor):
        return int(obj.shape[0]) if obj.dim() else 1
    if isinstance(obj, Mapping):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        for v in obj:
            n = _first_dim(v)
            if n is not None:
                return n
    return None


def _as_tensor(a: Any) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a)) if not isinstance(a, torch.Tensor) else a
    if t.dtype == torch.float64:  # models are float32 unless told otherwise
        t = t.float()
    return t


class TensorBatches:
    """Mini-batches of in-memory tensors, drawn by slicing rather than per-example
    indexing (many times faster than a ``DataLoader`` over a ``TensorDataset``).

    Args:
        tensors: Tensors (or arrays) with the same first dimension.
        batch_size: Examples per batch (the last batch may be smaller).
        shuffle: Draw a fresh permutation each epoch from ``generator``.
        generator: The seeded generator of the permutations.
    """

    def __init__(
        self,
        tensors: Sequence[Any],
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        self.tensors = tuple(_as_tensor(t) for t in tensors)
        if not self.tensors:
            raise InvalidValueError("TensorBatches needs at least one tensor")
        n = {int(t.shape[0]) for t in self.tensors}
        if len(n) != 1:
            raise InvalidValueError(
                f"the tensors must share their first dimension, got sizes {sorted(n)}"
            )
        self.n = n.pop()
        if self.n == 0:
            raise InvalidValueError("the data hold no examples")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n, size, tensors = self.n, self.batch_size, self.tensors
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            devices = {t.device for t in tensors}
            if len(devices) == 1:  # the usual case: one index tensor per batch
                order = order.to(devices.pop())
                for i in range(0, n, size):
                    idx = order[i:i + size]
                    yield tuple([t[idx] for t in tensors])
            else:
                orders = {d: order.to(d) for d in devices}
                for i in range(0, n, size):
                    yield tuple([t[orders[t.device][i:i + size]] for t in tensors])
        else:
            for i in range(0, self.n, self.batch_size):
                yield tuple(t[i:i + self.batch_size] for t in self.tensors)


def _is_array(a: Any) -> bool:
    return isinstance(a, (torch.Tensor, np.ndarray))


def make_loader(
    data: Any,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None,
    device: torch.device,
    num_workers: int = 0,
) -> Iterable[Any]:
    """Something to iterate over once per epoch, from what the user gave.

    - a tuple or list of tensors / arrays with a common first dimension (``(X, y)``):
      :class:`TensorBatches`, shuffled by ``generator``;
    - a map-style ``Dataset``: a ``DataLoader`` with ``batch_size``, shuffled by
      ``generator``, with pinned memory when the device is CUDA;
    - an ``IterableDataset``: a ``DataLoader`` with ``batch_size`` (its own order);
    - a ``DataLoader`` or any other re-iterable of batches: used as it is (its own
      batch size and order).

    Raises:
        InvalidValueError: for data of another kind.
    """
    if isinstance(data, (tuple, list)) and data and all(_is_array(a) for a in data):
        return TensorBatches(data, batch_size, shuffle=shuffle, generator=generator)
    if isinstance(data, IterableDataset):
        return DataLoader(data, batch_size=batch_size, num_workers=num_workers,
                          pin_memory=device.type == "cuda")
    if isinstance(data, Dataset):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator,
                          num_workers=num_workers, pin_memory=device.type == "cuda",
                          persistent_workers=num_workers > 0)
    if isinstance(data, Iterator):
        raise InvalidValueError(
            f"data is a one-shot iterator ({type(data).__name__}, e.g. a generator), which "
            f"cannot be iterated again for each epoch; give a list of batches or a DataLoader")
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes, Mapping)):
        return data
    raise InvalidValueError(
        f"data must be a Dataset, a DataLoader (or another re-iterable of batches), or a "
        f"tuple of tensors / arrays such as (X, y); got {type(data).__name__}"
    )


def is_ready_loader(data: Any) -> bool:
    """True when ``data`` is used as given (its batch size is not ours to choose)."""
    if isinstance(data, (tuple, list)) and data and all(_is_array(a) for a in data):
        return False
    return not isinstance(data, Dataset)
