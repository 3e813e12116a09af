"""Rule-of-thumb search spaces for deep learning, and the classic configurations to try first.

The ranges encode the advice of the classic tuning guides; ``docs/deep-learning.md``
gives the table with the source of each rule. The parameter names are those that
:class:`~bayestune.training.TorchObjective` reads (``dropout`` is for your ``model_fn``).

Example::

    space = bt.presets.deep_learning_space("adam")
    study = bt.Study(space)
    for config in bt.presets.default_configs("adam"):
        study.enqueue(config)

A space narrowed afterwards (by the LR range test, say) may no longer hold the classic
values; ``default_configs("adam", space=narrowed)`` fits them to it (see
:func:`default_configs`), while ``study.enqueue`` stays strict and refuses a
configuration outside the space.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal, get_args

from bayestune._checks import is_int
from bayestune.exceptions import InvalidValueError
from bayestune.space import Categorical, Dimension, Float, Int, Space
from bayestune.training.optimizers import OPTIMIZER_SETTINGS, OPTIMIZERS, OptimizerName

__all__ = ["PresetParam", "PRESET_PARAMS", "DEFAULT_INCLUDE", "BATCH_SIZES", "LR_RANGES",
           "deep_learning_space", "default_configs"]

logger = logging.getLogger(__name__)

#: Parameters a preset space can hold (besides ``optimizer``, always present).
PresetParam = Literal["lr", "momentum", "beta1", "beta2", "eps", "weight_decay",
                      "batch_size", "dropout"]
PRESET_PARAMS: tuple[str, ...] = get_args(PresetParam)

#: What a space holds when ``include`` is not given (the optimizer's own momentum too).
DEFAULT_INCLUDE: tuple[str, ...] = ("lr", "weight_decay", "batch_size", "dropout")

#: Powers of two from 16 to 1024.
BATCH_SIZES: tuple[int, ...] = tuple(2 ** k for k in range(4, 11))

_SGD_FAMILY = ("sgd", "momentum", "nesterov")
_ADAPTIVE = ("adam", "adamw", "rmsprop")

#: Initial-lr search range per optimizer: the practitioners' range widened by a margin
#: (training from scratch, then fine-tuning).
LR_RANGES: dict[str, dict[bool, tuple[float, float]]] = {
    "sgd": {False: (3e-3, 3e-1), True: (1e-4, 1e-2)},
    "momentum": {False: (3e-4, 3e-1), True: (1e-5, 1e-2)},
    "nesterov": {False: (3e-4, 3e-1), True: (1e-5, 1e-2)},
    "adam": {False: (1e-4, 3e-2), True: (3e-6, 1e-3)},
    "adamw": {False: (1e-4, 3e-2), True: (3e-6, 1e-3)},
    "rmsprop": {False: (1e-4, 3e-2), True: (3e-6, 1e-3)},
}

# The classic starting points: lr from scratch / fine-tuning.
_START_LR: dict[str, dict[bool, float]] = {
    "sgd": {False: 1e-2, True: 1e-3},        # Bengio (2012): 0.01 usually works
    "momentum": {False: 1e-2, True: 1e-3},   # 0.1 per 256 examples, scaled to 32 (Goyal et al.)
    "nesterov": {False: 1e-2, True: 1e-3},
    "adam": {False: 3e-4, True: 3e-5},       # Karpathy's recipe; BERT fine-tuning {2,3,5}e-5
    "adamw": {False: 1e-3, True: 3e-5},      # PyTorch's AdamW default; BERT fine-tuning
    "rmsprop": {False: 1e-3, True: 1e-4},    # the common default (Keras)
}
# A second classic starting lr (Adam's paper default) where there is one.
_ALT_LR: dict[str, dict[bool, float]] = {
    "adam": {False: 1e-3, True: 5e-5},
}
_WD_RANGE = {"l2": (1e-6, 1e-3), "decoupled": (1e-4, 1e-1)}
_START_WD = {"sgd": 1e-4, "momentum": 1e-4, "nesterov": 1e-4, "adam": 1e-6, "adamw": 1e-2,
             "rmsprop": 1e-6}
_DROPOUT = (0.0, 0.5)
_MOMENTUM = (0.8, 0.99)
_BETA1 = (0.8, 0.99)
_BETA2 = (0.99, 0.9999)
_EPS = (1e-10, 1e-4)
_START_BATCH = 32  # Bengio (2012): "32 is a good default value"


def _optimizers(optimizer: Any) -> tuple[str, ...]:
    names = (optimizer,) if isinstance(optimizer, str) else optimizer
    if not isinstance(names, Iterable):
        raise InvalidValueError(
            f"optimizer must be one of {OPTIMIZERS} or a list of them, got {optimizer!r}")
    out: list[str] = []
    for n in names:
        if not isinstance(n, str) or n.lower() not in OPTIMIZERS:
            raise InvalidValueError(
                f"unknown optimizer {n!r}; the optimizers are {OPTIMIZERS}")
        if n.lower() not in out:
            out.append(n.lower())
    if not out:
        raise InvalidValueError("optimizer must name at least one optimizer, got an empty list")
    return tuple(out)


def _params(include: Iterable[str] | None, optimizers: tuple[str, ...]) -> tuple[str, ...]:
    if include is None:
        chosen = list(DEFAULT_INCLUDE)
        if any(o in ("momentum", "nesterov") for o in optimizers):
            chosen.insert(1, "momentum")
        return tuple(chosen)
    if isinstance(include, str):
        include = (include,)
    chosen = []
    for name in include:
        if name not in PRESET_PARAMS:
            raise InvalidValueError(
                f"unknown parameter {name!r} in include; the preset parameters are "
                f"{PRESET_PARAMS}")
        if name not in ("lr", "batch_size", "dropout") and not any(
                name in OPTIMIZER_SETTINGS[o] for o in optimizers):
            raise InvalidValueError(
                f"include names {name!r}, which none of the optimizers {optimizers} uses")
        if name not in chosen:
            chosen.append(name)
    if "lr" not in chosen:
        raise InvalidValueError(f"include must contain 'lr', got {tuple(include)!r}")
    return tuple(p for p in PRESET_PARAMS if p in chosen)


def _batch_sizes(batch_sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(batch_sizes, (str, bytes)) or not isinstance(batch_sizes, Sequence) \
            or not batch_sizes:
        raise InvalidValueError(f"batch_sizes must be a non-empty list of ints, got {batch_sizes!r}")
    for b in batch_sizes:
        if not is_int(b) or b < 1:
            raise InvalidValueError(
                f"batch sizes must be positive ints, got {b!r} in {tuple(batch_sizes)!r}")
    return tuple(sorted(set(batch_sizes)))


def _hull(ranges: Iterable[tuple[float, float]]) -> tuple[float, float]:
    rs = list(ranges)
    return min(r[0] for r in rs), max(r[1] for r in rs)


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _start_config(opt: str, params: tuple[str, ...], sizes: tuple[int, ...],
                  lr: float) -> dict[str, Any]:
    start = {
        "lr": lr,
        "momentum": 0.9,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": _START_WD[opt],
        "batch_size": min(sizes, key=lambda b: (abs(math.log2(b / _START_BATCH)), b)),
        "dropout": 0.0,
    }
    return {"optimizer": opt, **{p: start[p] for p in params}}


def _dims(optimizers: tuple[str, ...], fine_tune: bool, params: tuple[str, ...],
          sizes: tuple[int, ...]) -> dict[str, Dimension]:
    first = optimizers[0]
    start = _start_config(first, params, sizes, _START_LR[first][fine_tune])
    lr_lo, lr_hi = _hull(LR_RANGES[o][fine_tune] for o in optimizers)
    wd_lo, wd_hi = _hull(_WD_RANGE["decoupled" if o == "adamw" else "l2"] for o in optimizers)
    ranges = {"lr": (lr_lo, lr_hi, True), "weight_decay": (wd_lo, wd_hi, True),
              "momentum": (*_MOMENTUM, False), "beta1": (*_BETA1, False),
              "beta2": (*_BETA2, False), "eps": (*_EPS, True), "dropout": (*_DROPOUT, False)}
    dims: dict[str, Dimension] = {"optimizer": Categorical(optimizers, default=first)}
    for p in params:
        if p == "batch_size":
            dims[p] = Categorical(sizes, default=start[p])
        else:
            lo, hi, log = ranges[p]
            dims[p] = Float(lo, hi, log=log, default=_clamp(start[p], lo, hi))
    return dims


def deep_learning_space(
    optimizer: OptimizerName | Sequence[OptimizerName] = "adam",
    *,
    fine_tune: bool = False,
    include: Iterable[PresetParam] | None = None,
    batch_sizes: Sequence[int] = BATCH_SIZES,
) -> Space:
    """A search space with the ranges practitioners use (see ``docs/deep-learning.md``).

    - ``optimizer``: a categorical over the given optimizer(s) (one choice when a single
      name is given, so every configuration names its optimizer);
    - ``lr`` (log): by optimizer, from scratch: ``sgd`` 3e-3..0.3; ``momentum`` /
      ``nesterov`` 3e-4..0.3; ``adam`` / ``adamw`` / ``rmsprop`` 1e-4..3e-2; about 30x
      lower when ``fine_tune``; the hull of the ranges for several optimizers;
    - ``momentum`` 0.8..0.99 (default 0.9), included for ``momentum`` / ``nesterov``;
    - ``weight_decay`` (log): 1e-6..1e-3 as an L2 penalty, 1e-4..0.1 for ``adamw``'s
      decoupled decay;
    - ``batch_size``: a categorical over ``batch_sizes`` (powers of two, 16..1024);
    - ``dropout`` 0..0.5, for your ``model_fn``;
    - on request (``include``): ``beta1`` 0.8..0.99, ``beta2`` 0.99..0.9999, ``eps``
      1e-10..1e-4 (log).

    Every dimension's ``default`` is the classic starting point of the first optimizer
    (``space.defaults()``; see :func:`default_configs`).

    Args:
        optimizer: One of :data:`~bayestune.training.OPTIMIZERS`, or several.
        fine_tune: Lower lr ranges, for fine-tuning a pretrained model.
        include: The parameters to search (``lr`` required); default ``lr``,
            ``weight_decay``, ``batch_size``, ``dropout`` and, for ``momentum`` /
            ``nesterov``, ``momentum``.
        batch_sizes: The batch sizes to choose from (cap them at what your data and
            memory allow).

    Raises:
        InvalidValueError: naming an unknown optimizer or parameter, or a parameter that
            none of the optimizers uses.
    """
    optimizers = _optimizers(optimizer)
    params = _params(include, optimizers)
    return Space(_dims(optimizers, bool(fine_tune), params, _batch_sizes(batch_sizes)))


def default_configs(
    optimizer: OptimizerName | Sequence[OptimizerName] = "adam",
    *,
    fine_tune: bool = False,
    include: Iterable[PresetParam] | None = None,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    space: Space | None = None,
) -> list[dict[str, Any]]:
    """The classic starting configurations, for ``study.enqueue``, in the space that
    :func:`deep_learning_space` builds from the same arguments, or fitted to ``space``.

    One configuration per optimizer (Adam gets two: Karpathy's 3e-4 and the paper's
    1e-3): momentum 0.9, betas (0.9, 0.999), eps 1e-8, batch size 32 (or the nearest
    allowed), no dropout, and the optimizer's usual lr and weight decay (see
    ``docs/deep-learning.md``).

    With ``space`` (a preset space narrowed by the LR range test, or your own), each
    classic configuration is fitted to it, so that every configuration returned can be
    enqueued:

    - parameters the space lacks are dropped;
    - parameters the classic configuration lacks (a width, say) take the dimension's
      ``default``, else its centre (in log space for ``log=True``; a categorical's
      first choice);
    - a number outside its range is clipped into it (an ``Int`` to the nearest allowed
      value), a batch size missing from a categorical takes the nearest choice, and each
      change is logged at INFO level, naming the value and the range;
    - a configuration whose optimizer the space does not offer is left out (logged);
      configurations that clipping made equal are returned once.

    Args:
        optimizer: One of :data:`~bayestune.training.OPTIMIZERS`, or several.
        fine_tune: The fine-tuning starting lrs (and ranges).
        include: The preset parameters (as :func:`deep_learning_space`); not with
            ``space``, which names them.
        batch_sizes: The allowed batch sizes (as :func:`deep_learning_space`); not with
            ``space``.
        space: Fit the configurations to this space.

    Raises:
        InvalidValueError: as :func:`deep_learning_space`; when ``space`` is not a
            :class:`~bayestune.Space`, comes with ``include`` or ``batch_sizes``, or
            offers none of the optimizers.
    """
    optimizers = _optimizers(optimizer)
    if space is not None:
        if not isinstance(space, Space):
            raise InvalidValueError(f"space must be a bayestune Space, got {space!r}")
        if include is not None or batch_sizes is not BATCH_SIZES:
            raise InvalidValueError(
                "default_configs takes either space= or include= / batch_sizes=: the "
                "space names the parameters and the batch sizes")
        return _fit_all(optimizers, bool(fine_tune), space)
    params = _params(include, optimizers)
    sizes = _batch_sizes(batch_sizes)
    space = Space(_dims(optimizers, bool(fine_tune), params, sizes))
    lo, hi = space["lr"].low, space["lr"].high  # type: ignore[union-attr]
    out: list[dict[str, Any]] = []
    for opt in optimizers:
        for table in (_START_LR, _ALT_LR):
            if opt in table:
                lr = _clamp(table[opt][bool(fine_tune)], lo, hi)
                config = space.validate_params(_start_config(opt, params, sizes, lr))
                if config not in out:
                    out.append(config)
    return out


def _classic(optimizers: tuple[str, ...], fine_tune: bool) -> list[dict[str, Any]]:
    """Every classic configuration with every preset parameter (batch size 32)."""
    return [_start_config(opt, PRESET_PARAMS, (_START_BATCH,), table[opt][fine_tune])
            for opt in optimizers for table in (_START_LR, _ALT_LR) if opt in table]


def _fit_all(optimizers: tuple[str, ...], fine_tune: bool, space: Space
             ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for classic in _classic(optimizers, fine_tune):
        config = _fit(classic, space)
        if config is not None and config not in out:
            out.append(config)
        elif config is not None:
            logger.info("default_configs: the %s start with lr=%g equals an earlier one once "
                        "fitted to the space; kept once", classic["optimizer"], classic["lr"])
    if not out:
        raise InvalidValueError(
            f"no classic configuration of {optimizers} fits the space (see the log for "
            f"why): {space!r}")
    return out


def _fit(classic: dict[str, Any], space: Space) -> dict[str, Any] | None:
    """One classic configuration fitted to ``space`` (None: its optimizer is not offered)."""
    config: dict[str, Any] = {}
    for name, dim in space.dims.items():
        if name not in classic:
            config[name] = _centre(dim)
            continue
        value = classic[name]
        if dim.contains(value):
            config[name] = dim.cast(value)
            continue
        fitted = _into(dim, value)
        if fitted is None:
            logger.info("default_configs: the %s start is left out: %s=%r is not among the "
                        "space's choices %r", classic["optimizer"], name, value,
                        dim.choices)  # type: ignore[union-attr]
            return None
        logger.info("default_configs: %s=%r of the %s start is outside %r; clipped to %r",
                    name, value, classic["optimizer"], dim, fitted)
        config[name] = fitted
    return space.validate_params(config)


def _centre(dim: Dimension) -> Any:
    if dim.default is not None:
        return dim.default
    if isinstance(dim, Categorical):
        return dim.choices[0]
    return dim.from_cube(0.5)


def _into(dim: Dimension, value: Any) -> Any:
    """``value`` moved into ``dim``: clipped into a range, or the nearest numeric choice
    (by ratio, as batch sizes go); None when there is no such value."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(dim, Float) and numeric:
        return _clamp(float(value), dim.low, dim.high)
    if isinstance(dim, Int) and numeric:
        k = round((_clamp(value, dim.low, dim.high) - dim.low) / dim.step)
        return min(dim.low + k * dim.step, dim.high)
    if isinstance(dim, Categorical) and numeric and value > 0:
        sizes = [c for c in dim.choices if isinstance(c, (int, float))
                 and not isinstance(c, bool) and c > 0]
        if sizes:
            return min(sizes, key=lambda c: (abs(math.log(c / value)), c))
    return None
