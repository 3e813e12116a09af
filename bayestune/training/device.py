"""Choosing the device, and the seeded random state a run uses without touching the user's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch

from bayestune.exceptions import InvalidValueError

__all__ = ["DeviceLike", "resolve_device", "seeded"]

DeviceLike = Literal["auto", "cpu", "cuda", "mps"] | str | torch.device


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device: DeviceLike | None) -> torch.device:
    """The torch device meant by ``device``.

    ``"auto"`` (or None) picks CUDA when present, else Apple's MPS when present, else the
    CPU. Anything else is passed to :class:`torch.device` (``"cuda:1"``, ``"cpu"``, ...).

    Raises:
        InvalidValueError: for a device string torch does not know, or a CUDA / MPS
            device on a machine without one.
    """
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InvalidValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device, "
            f"got {device!r}"
        ) from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidValueError(f"device={device!r} but CUDA is not available here")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        elif dev.index >= torch.cuda.device_count():
            raise InvalidValueError(
                f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    if dev.type == "mps" and not _mps_available():
        raise InvalidValueError(f"device={device!r} but MPS is not available here")
    return dev


@contextlib.contextmanager
def seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Run the body with torch's CPU generator (and ``device``'s) seeded with ``seed``.

    The generators' previous states come back on exit, so the caller's own random
    streams are left exactly as they were. Only the CPU generator and the one of the
    device in use are forked: seeding every CUDA device would touch (and slowly
    initialize) GPUs the run never uses. ``seed=None`` runs the body unseeded and
    unforked.
    """
    if seed is None:
        yield
        return
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        with torch.random.fork_rng(devices=[index], device_type="cuda"):
            torch.random.default_generator.manual_seed(seed)
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
            yield
    elif device.type == "mps":
        with torch.random.fork_rng(devices=[0], device_type="mps"):
            torch.random.default_generator.manual_seed(seed)
            torch.mps.manual_seed(seed)
            yield
    else:
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            yield
