"""Benchmark problems: classic test functions and a mixed deep-learning-like problem.

Each :class:`Problem` describes its parameters once (:class:`Param`) and evaluates a
configuration given as a dict, so that every library sees the same space through its own
API (``to_bayestune_space``, ``to_optuna_distributions``). Every problem is minimized
and has a known optimum ``f_opt``.

Bounds and optima follow the usual references (Surjanovic and Bingham's Virtual Library
of Simulation Experiments; BoTorch's ``test_functions``):

=====================  =============================  ======================
problem                bounds                         f_opt
=====================  =============================  ======================
Branin                 x1 in [-5, 10], x2 in [0, 15]  0.397887
Hartmann-6             [0, 1]^6                       -3.32237
Levy-6                 [-10, 10]^6                    0
Rosenbrock-4           [-5, 10]^4                     0
Styblinski-Tang-4      [-5, 5]^4                      -39.16617 * 4
Ackley-5               [-32.768, 32.768]^5            0
DL-mixed (ours)        see :func:`dl_mixed`           0.20
=====================  =============================  ======================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Param", "Problem", "PROBLEMS", "get_problem", "dl_mixed", "dl_diverges"]


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is ``"float"``, ``"int"`` or ``"cat"``."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Problem:
    """A minimization problem with a known optimum.

    Attributes:
        name: Short name used on the command line and in the tables.
        params: The search space, in order.
        fn: ``params dict -> float`` (NaN where the "training" diverges).
        f_opt: The global minimum.
        x_opt: One minimizer (for the tests of the problems themselves).
    """

    name: str
    params: tuple[Param, ...]
    fn: Callable[[Mapping[str, Any]], float]
    f_opt: float
    x_opt: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return len(self.params)

    def __call__(self, params: Mapping[str, Any]) -> float:
        return float(self.fn(params))

    def to_bayestune_space(self):
        import bayestune as bt

        dims = {}
        for p in self.params:
            if p.kind == "float":
                dims[p.name] = bt.Float(p.low, p.high, log=p.log)
            elif p.kind == "int":
                dims[p.name] = bt.Int(int(p.low), int(p.high), log=p.log)
            else:
                dims[p.name] = bt.Categorical(list(p.choices))
        return bt.Space(dims)

    def to_optuna_distributions(self):
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        out = {}
        for p in self.params:
            if p.kind == "float":
                out[p.name] = FloatDistribution(p.low, p.high, log=p.log)
            elif p.kind == "int":
                out[p.name] = IntDistribution(int(p.low), int(p.high), log=p.log)
            else:
                out[p.name] = CategoricalDistribution(list(p.choices))
        return out

    def random_params(self, rng: np.random.Generator) -> dict[str, Any]:
        """A uniform draw (log-uniform on log parameters); used to pre-fill studies."""
        out: dict[str, Any] = {}
        for p in self.params:
            if p.kind == "cat":
                out[p.name] = p.choices[int(rng.integers(len(p.choices)))]
            elif p.kind == "int":
                lo, hi = (math.log(p.low - 0.5), math.log(p.high + 0.5)) if p.log \
                    else (p.low - 0.5, p.high + 0.5)
                t = rng.uniform(lo, hi)
                v = int(round(math.exp(t) if p.log else t))
                out[p.name] = int(min(max(v, p.low), p.high))
            else:
                lo, hi = (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)
                t = rng.uniform(lo, hi)
                out[p.name] = float(min(max(math.exp(t) if p.log else t, p.low), p.high))
        return out


def _vec(params: Mapping[str, Any], d: int) -> np.ndarray:
    return np.array([params[f"x{i}"] for i in range(d)], dtype=float)


def _box(d: int, low: float, high: float) -> tuple[Param, ...]:
    return tuple(Param(f"x{i}", "float", low, high) for i in range(d))


# -- classic test functions ----------------------------------------------------------------


def branin(params: Mapping[str, Any]) -> float:
    x1, x2 = params["x0"], params["x1"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array([
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
], dtype=float)
_H6_P = 1e-4 * np.array([
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
], dtype=float)
_H6_XOPT = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)


def hartmann6(params: Mapping[str, Any]) -> float:
    x = _vec(params, 6)
    inner = np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


def levy(params: Mapping[str, Any], d: int = 6) -> float:
    w = 1 + (_vec(params, d) - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


def rosenbrock(params: Mapping[str, Any], d: int = 4) -> float:
    x = _vec(params, d)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


_ST_XOPT = -2.903534027771177


def styblinski_tang(params: Mapping[str, Any], d: int = 4) -> float:
    x = _vec(params, d)
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


def ackley(params: Mapping[str, Any], d: int = 5) -> float:
    x = _vec(params, d)
    a, b, c = 20.0, 0.2, 2 * math.pi
    s1 = math.sqrt(np.mean(x**2))
    s2 = np.mean(np.cos(c * x))
    return float(-a * math.exp(-b * s1) - math.exp(s2) + a + math.e)


# -- a deep-learning-like mixed problem --------------------------------------------------------

# Per optimizer: best log10(lr) at batch size 128, best momentum (beta1 for Adam),
# the loss floor it reaches, and how strongly momentum raises its effective step size.
_DL_OPT = {
    #            log10 lr*, momentum*, floor, momentum gain
    "sgd": (-1.5, 0.9, 0.23, 1.0),
    "adam": (-3.3, 0.9, 0.20, 0.0),
    "rmsprop": (-3.6, 0.5, 0.25, 0.5),
}
# Training diverges once the effective log10 step size exceeds the optimum by this much.
_DL_DIVERGE_MARGIN = 1.2
DL_F_OPT = 0.20


def _dl_effective_log_lr(p: Mapping[str, Any]) -> tuple[float, float]:
    """log10 of the effective step and of its best value (which grows with batch size)."""
    best_log_lr, best_m, _, gain = _DL_OPT[p["optimizer"]]
    # Momentum m multiplies SGD's step by 1/(1-m); at its best m the best lr is unchanged.
    eff = math.log10(p["lr"]) + gain * (math.log10(1 / (1 - p["momentum"]))
                                        - math.log10(1 / (1 - best_m)))
    best = best_log_lr + 0.5 * math.log10(p["batch_size"] / 128)  # square-root scaling rule
    return eff, best


def dl_diverges(p: Mapping[str, Any]) -> bool:
    """True in the region where this synthetic 'training' returns NaN."""
    eff, best = _dl_effective_log_lr(p)
    return eff > best + _DL_DIVERGE_MARGIN


def dl_mixed(p: Mapping[str, Any]) -> float:
    """A smooth synthetic validation loss over a typical deep-learning space.

    ``lr`` (log), ``momentum``, ``dropout``, ``weight_decay`` (log), ``batch_size`` (log
    int) and ``optimizer`` (categorical). The best learning rate depends on the optimizer
    and grows with the batch size; momentum and learning rate interact through the
    effective step size; dropout and weight decay trade off as regularizers. A learning
    rate too large for the optimizer returns NaN, as a diverged run does. The global
    minimum, 0.20, is at Adam, lr = 10**-3.3, momentum 0.9, dropout 0.2, weight decay
    1e-4, batch size 128.
    """
    if dl_diverges(p):
        return float("nan")
    _, best_m, floor, _ = _DL_OPT[p["optimizer"]]
    eff, best = _dl_effective_log_lr(p)
    lr_term = 0.06 * (eff - best) ** 2
    mom_term = 0.4 * (p["momentum"] - best_m) ** 2
    lwd = math.log10(p["weight_decay"]) + 4.0  # 0 at 1e-4
    reg_term = 0.8 * (p["dropout"] + 0.05 * lwd - 0.2) ** 2 + 0.01 * lwd**2
    bs_term = 0.004 * (math.log2(p["batch_size"]) - 7.0) ** 2
    return floor + lr_term + mom_term + reg_term + bs_term


DL_PARAMS = (
    Param("lr", "float", 1e-5, 1.0, log=True),
    Param("momentum", "float", 0.0, 0.99),
    Param("dropout", "float", 0.0, 0.6),
    Param("weight_decay", "float", 1e-7, 1e-1, log=True),
    Param("batch_size", "int", 8, 1024, log=True),
    Param("optimizer", "cat", choices=("sgd", "adam", "rmsprop")),
)
DL_XOPT = {"lr": 10**-3.3, "momentum": 0.9, "dropout": 0.2, "weight_decay": 1e-4,
           "batch_size": 128, "optimizer": "adam"}


def _x(values: Sequence[float]) -> dict[str, float]:
    return {f"x{i}": float(v) for i, v in enumerate(values)}


PROBLEMS: dict[str, Problem] = {p.name: p for p in (
    Problem("branin", (Param("x0", "float", -5.0, 10.0), Param("x1", "float", 0.0, 15.0)),
            branin, 0.397887, _x((math.pi, 2.275))),
    Problem("hartmann6", _box(6, 0.0, 1.0), hartmann6, -3.32237, _x(_H6_XOPT)),
    Problem("levy6", _box(6, -10.0, 10.0), levy, 0.0, _x([1.0] * 6)),
    Problem("rosenbrock4", _box(4, -5.0, 10.0), rosenbrock, 0.0, _x([1.0] * 4)),
    Problem("styblinski_tang4", _box(4, -5.0, 5.0), styblinski_tang, -39.16617 * 4,
            _x([_ST_XOPT] * 4)),
    Problem("ackley5", _box(5, -32.768, 32.768), ackley, 0.0, _x([0.0] * 5)),
    Problem("dl_mixed", DL_PARAMS, dl_mixed, DL_F_OPT, DL_XOPT),
)}


def get_problem(name: str) -> Problem:
    try:
        return PROBLEMS[name]
    except KeyError:
        raise KeyError(f"unknown problem {name!r}; choose from {sorted(PROBLEMS)}") from None
