"""The LR range test plot: loss against learning rate, with the suggestions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune._checks import is_finite_number
from bayestune.exceptions import InvalidValueError
from bayestune.plot._common import ACQ, FAIL, MODEL, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["LRRangeData", "lr_range_data", "lr_range"]


_RULES = {"steepest": "steepest descent", "min_div10": "minimum / 10"}


@dataclass(frozen=True)
class LRRangeData:
    """The LR range test curve and its suggestions.

    Attributes:
        lrs: ``n`` learning rates tried (increasing).
        losses: ``n`` raw training losses (may hold nan/inf where training diverged).
        smoothed: ``n`` smoothed losses (nan where none).
        suggestions: rule name -> (lr, smoothed loss at that lr).
        suggested_range: The recommended ``(low, high)`` search range, or None.
        log_x: Whether the lrs were swept geometrically (then drawn on a log axis).
        diverged_at: The lr at which the test stopped on divergence, or None.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: Mapping[str, tuple[float, float]]
    suggested_range: tuple[float, float] | None
    log_x: bool
    diverged_at: float | None = None


def _loss_at(lrs: np.ndarray, losses: np.ndarray, lr: float) -> float:
    finite = np.isfinite(losses) & (lrs > 0)
    if not finite.any():
        return math.nan
    i = int(np.argmin(np.abs(np.log(lrs[finite]) - math.log(lr))))
    return float(losses[finite][i])


def _suggestion_items(raw: Any) -> dict[str, float]:
    """Normalize ``suggestions`` (a mapping, or a dataclass of rule -> lr) to a dict."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        items = dict(raw)
    elif hasattr(raw, "__dataclass_fields__"):
        items = {k: getattr(raw, k) for k in raw.__dataclass_fields__}
    else:
        items = dict(vars(raw))
    out = {}
    for k, v in items.items():
        if is_finite_number(v) and float(v) > 0:
            out[str(k)] = float(v)
    return out


def lr_range_data(result: Any) -> LRRangeData:
    """Read an LR range test result (:class:`bayestune.lr_finder.LRRangeResult`).

    Reads the attributes ``lrs``, ``losses``, ``smoothed_losses``, ``suggestions`` (rule
    -> lr), ``suggested_range``, ``mode`` and ``diverged_at``; missing ones are left
    empty.

    Raises:
        InvalidValueError: when the result has no learning rates or they and the losses
            differ in length.
    """
    lrs = np.asarray(getattr(result, "lrs", ()), dtype=float).reshape(-1)
    losses = np.asarray(getattr(result, "losses", ()), dtype=float).reshape(-1)
    smoothed = getattr(result, "smoothed_losses", None)
    smoothed = losses if smoothed is None else np.asarray(smoothed, dtype=float).reshape(-1)
    if len(lrs) == 0:
        raise InvalidValueError("the LR range test result has no learning rates to draw")
    if len(losses) != len(lrs) or len(smoothed) != len(lrs):
        raise InvalidValueError(
            f"lrs, losses and smoothed_losses differ in length: "
            f"{len(lrs)}, {len(losses)}, {len(smoothed)}"
        )
    sugg = {
        k: (lr, _loss_at(lrs, smoothed, lr))
        for k, lr in _suggestion_items(getattr(result, "suggestions", None)).items()
    }
    rng = getattr(result, "suggested_range", None)
    rng_t = (float(rng[0]), float(rng[1])) if rng is not None else None
    mode = getattr(result, "mode", None)
    if mode is not None:
        log_x = str(getattr(mode, "value", mode)) == "exp"
    else:
        log_x = bool(np.all(lrs > 0) and lrs.max() / lrs.min() > 100.0)
    div = getattr(result, "diverged_at", None)
    div = float(div) if div is not None and math.isfinite(float(div)) else None
    return LRRangeData(lrs, losses, smoothed, sugg, rng_t, log_x, div)


def lr_range(result: Any, *, ax: Axes | None = None) -> Axes:
    """The LR range test: loss against learning rate, suggestions and range marked.

    Args:
        result: A :class:`bayestune.lr_finder.LRRangeResult` (or its
            :func:`~bayestune.plot.lr_range_data`).
        ax: Axes to draw on.

    Examples:
        >>> import torch
        >>> import bayestune as bt
        >>> from bayestune import plot
        >>> X = torch.randn(256, 8, generator=torch.Generator().manual_seed(0))
        >>> y = (X[:, 0] > 0).long()
        >>> result = bt.lr_range_test(torch.nn.Linear(8, 2), (X, y), torch.nn.CrossEntropyLoss(),
        ...                           num_iter=50, device="cpu")
        >>> data = plot.lr_range_data(result)
        >>> data.lrs.shape, data.log_x, sorted(data.suggestions)
        ((50,), True, ['min_div10', 'steepest'])
        >>> plot.lr_range(result).get_title()
        'LR range test'
    """
    d = result if isinstance(result, LRRangeData) else lr_range_data(result)
    ax = new_axes(ax)
    ax.plot(d.lrs, d.losses, color="0.65", lw=0.9, label="loss")
    ax.plot(d.lrs, d.smoothed, color=MODEL, lw=2.0, label="smoothed loss")
    if d.suggested_range is not None:
        lo, hi = d.suggested_range
        ax.axvspan(lo, hi, color=ACQ, alpha=0.15,
                   label=f"suggested range [{lo:.2g}, {hi:.2g}]")
    markers = ["o", "s", "D", "^", "P"]
    for (name, (lr, loss)), mk in zip(d.suggestions.items(), markers * 4, strict=False):
        ax.scatter([lr], [loss], marker=mk, s=60, zorder=4, edgecolors="black",
                   label=f"{_RULES.get(name, name.replace('_', ' '))}: {lr:.2g}")
    if d.diverged_at is not None:
        ax.axvline(d.diverged_at, color=FAIL, ls=":", lw=1.2,
                   label=f"diverged at {d.diverged_at:.2g}")
    if d.log_x:
        ax.set_xscale("log")
    fin = d.smoothed[np.isfinite(d.smoothed)]
    raw = d.losses[np.isfinite(d.losses)]
    if len(fin):  # keep the interesting part: the diverging tail can be huge
        lo_y, start = float(fin.min()), float(fin[0])
        if len(raw):
            lo_y = min(lo_y, float(np.percentile(raw, 2)))
        # a little of the rise past the start shows where it diverges; more squashes the rest
        top = min(max(float(fin.max()), start), start + 0.25 * max(start - lo_y, 1e-12))
        pad = 0.08 * (top - lo_y if top > lo_y else abs(lo_y) + 1e-12)
        ax.set_ylim(lo_y - pad, top + pad)
    ax.set_xlabel("learning rate" + (" (log scale)" if d.log_x else ""))
    ax.set_ylabel("training loss")
    ax.set_title("LR range test")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return ax
