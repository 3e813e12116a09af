"""The optimizers a configuration can name, and building one from its settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, get_args

import torch

from bayestune._checks import check_number
from bayestune.exceptions import InvalidValueError

__all__ = ["OptimizerName", "OPTIMIZERS", "OPTIMIZER_SETTINGS", "parse_optimizer", "build_optimizer"]

#: ``sgd``: plain SGD (momentum 0 unless the configuration sets one); ``momentum``: SGD
#: with heavy-ball momentum (0.9 unless set); ``nesterov``: SGD with Nesterov momentum;
#: ``adam``: Adam with L2 weight decay added to the gradient; ``adamw``: Adam with
#: decoupled weight decay (Loshchilov and Hutter); ``rmsprop``: RMSprop.
OptimizerName = Literal["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)

#: The settings each optimizer reads (besides ``lr``).
OPTIMIZER_SETTINGS: dict[str, tuple[str, ...]] = {
    "sgd": ("momentum", "weight_decay"),
    "momentum": ("momentum", "weight_decay"),
    "nesterov": ("momentum", "weight_decay"),
    "adam": ("beta1", "beta2", "eps", "weight_decay"),
    "adamw": ("beta1", "beta2", "eps", "weight_decay"),
    "rmsprop": ("momentum", "eps", "weight_decay"),
}

_DEFAULT_MOMENTUM = {"sgd": 0.0, "momentum": 0.9, "nesterov": 0.9, "rmsprop": 0.0}


def parse_optimizer(name: Any) -> str:
    """The canonical optimizer name (case-insensitive).

    Raises:
        InvalidValueError: naming the value, for a name not in :data:`OPTIMIZERS`.
    """
    if isinstance(name, str) and name.lower() in OPTIMIZERS:
        return name.lower()
    raise InvalidValueError(f"optimizer must be one of {OPTIMIZERS}, got optimizer={name!r}")


def build_optimizer(
    name: str,
    parameters: Iterable[Any],
    *,
    lr: float,
    momentum: float | None = None,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """A torch optimizer over ``parameters``.

    ``momentum=None`` means the optimizer's usual value: 0 for ``sgd`` and ``rmsprop``,
    0.9 for ``momentum`` and ``nesterov``. Settings an optimizer does not read (betas for
    SGD, momentum for Adam) are ignored.

    Raises:
        InvalidValueError: for an unknown name or an out-of-range setting.
    """
    name = parse_optimizer(name)
    m = _DEFAULT_MOMENTUM.get(name, 0.0) if momentum is None else float(momentum)
    _check("lr", lr, 0.0, None, low_open=True)
    _check("weight_decay", weight_decay, 0.0, None)
    _check("momentum", m, 0.0, 1.0, high_open=True)
    _check("beta1", beta1, 0.0, 1.0, high_open=True)
    _check("beta2", beta2, 0.0, 1.0, high_open=True)
    _check("eps", eps, 0.0, None)
    if name in ("sgd", "momentum", "nesterov"):
        if name == "nesterov" and m <= 0:
            raise InvalidValueError(f"nesterov needs momentum > 0, got momentum={m}")
        return torch.optim.SGD(parameters, lr=lr, momentum=m, weight_decay=weight_decay,
                               nesterov=name == "nesterov")
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, betas=(beta1, beta2), eps=eps,
                                weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, betas=(beta1, beta2), eps=eps,
                                 weight_decay=weight_decay)
    return torch.optim.RMSprop(parameters, lr=lr, momentum=m, eps=eps,
                               weight_decay=weight_decay)


def _check(name: str, v: Any, low: float, high: float | None, *,
           low_open: bool = False, high_open: bool = False) -> None:
    check_number(name, v, low=low, high=high, strict_low=low_open, strict_high=high_open,
                 finite=False)
