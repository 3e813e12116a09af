"""Shared pieces of the matplotlib drawing modules: colours, axes, value limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes



_BEST = "#d62728"
_FAIL = "#d62728"
_OBS = "#4d4d4d"
_MODEL = "#1f77b4"
_ACQ = "#2ca02c"
_RULES = {"steepest": "steepest descent", "min_div10": "minimum / 10"}


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            'bayestune.plot needs matplotlib: pip install "bayestune[plot]"'
        ) from e
    return plt


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.2)) -> Axes:
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def _value_label(direction: str) -> str:
    return "loss (lower is better)" if direction == "minimize" else "objective (higher is better)"


def _wants_log(*arrays: np.ndarray) -> bool:
    v = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    v = v[np.isfinite(v)]
    return bool(len(v) >= 2 and np.all(v > 0) and v.max() / v.min() > 100.0)


def _value_limits(core: Sequence[np.ndarray], band: Sequence[np.ndarray],
                  log: bool) -> tuple[float, float] | None:
    """y limits that show the ``core`` values (means, observations) in full and the
    ``band`` (posterior intervals) up to half the core's span beyond them.

    Far from the data an inverted output warp can put a band end at 1e266; letting
    matplotlib autoscale to it would flatten everything else.
    """
    def t(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=float).ravel()
        a = a[np.isfinite(a)]
        if log:
            a = a[a > 0]
            return np.log10(a)
        return a

    c = np.concatenate([t(a) for a in core]) if core else np.zeros(0)
    if len(c) == 0:
        return None
    b = np.concatenate([t(a) for a in band]) if band else np.zeros(0)
    lo, hi = float(c.min()), float(c.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * (0.5 if not log else 0.0) + (1.0 if log else 0.0)
    if len(b):
        lo = min(lo, max(float(b.min()), lo - 0.5 * span))
        hi = max(hi, min(float(b.max()), hi + 0.5 * span))
    pad = 0.05 * (hi - lo if hi > lo else span)
    lo, hi = lo - pad, hi + pad
    return (10.0 ** lo, 10.0 ** hi) if log else (lo, hi)


def _edge_marks(ax: Axes, x: np.ndarray, *, top: bool, label: str | None) -> None:
    """Marks at the top (or bottom) edge of the axes for trials without a value."""
    if len(x) == 0:
        return
    trans = ax.get_xaxis_transform()  # x in data units, y in axes fraction
    y = 0.97 if top else 0.03
    ax.scatter(x, np.full(len(x), y), transform=trans, marker="x", color=_FAIL, s=28,
               linewidths=1.2, label=label, zorder=4, clip_on=False)


# --------------------------------------------------------------------------------------
