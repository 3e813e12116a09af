"""The health of one training run, judged from its per-epoch record.

A run's record is what :class:`~bayestune.diagnostics.HealthMonitor` stores under the
trial's user attribute ``"health"`` (a JSON-ready dict, see :data:`RECORD_FIELDS`); the
functions here read such a record (or the plain ``train_loss`` / ``val_loss`` lists the
torch adapter always stores) and raise three flags:

- ``diverging``: the loss became non-finite or exploded (the run was stopped), or the
  training loss climbed above where it started, or rose epoch after epoch;
- ``learning_slowly``: the update-to-weight ratio stayed far below the rule of thumb of
  about 1e-3 (CS231n) while the training loss barely moved;
- ``overfitting``: the validation loss rose above its best by more than Prechelt's
  generalization-loss threshold (GL, 5% by default) while the training loss kept
  falling; the flag names the epoch that early stopping keeps (the best one) and the
  epoch at which the GL criterion stops.

Everything here is pure and cheap: the monitor calls it after every epoch, and
:func:`~bayestune.diagnostics.advise` and the training plots call it on stored trials.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bayestune._checks import check_number, is_number
from bayestune.exceptions import InvalidValueError
from bayestune.trial import FrozenTrial

__all__ = [
    "HEALTH_KEY",
    "RECORD_FIELDS",
    "FLAGS",
    "HealthThresholds",
    "overfitting",
    "diverging",
    "learning_slowly",
    "health_flags",
    "trial_record",
]

#: The user attribute a monitored run's record is stored under.
HEALTH_KEY = "health"

#: What a record may hold (per-epoch lists have one entry per finished epoch):
#: ``train_loss``, ``val_loss``, ``grad_norm`` (global gradient L2 norm, mean over the
#: sampled steps), ``update_ratio`` (||Δw|| / ||w|| over all trainable parameters, mean
#: over the sampled steps), ``update_ratio_layers`` (``{parameter name: per-epoch
#: list}`` for up to ``max_layers`` weight tensors), ``confidence`` (mean maximum
#: softmax probability on the validation data, classification only), ``n_classes``,
#: ``initial_loss`` (the first batch's loss), ``steps``, ``stopped`` (why the run
#: stopped early, e.g. the divergence message), ``monitor_share`` (the share of the
#: run's wall time the monitor itself took) and ``flags`` (``{flag: details}``).
RECORD_FIELDS: tuple[str, ...] = (
    "train_loss", "val_loss", "grad_norm", "update_ratio", "update_ratio_layers",
    "confidence", "n_classes", "initial_loss", "steps", "stopped", "monitor_share", "flags",
)

#: The flags, in the order they are reported.
FLAGS: tuple[str, ...] = ("diverging", "learning_slowly", "overfitting")


def _positive(name: str, v: Any) -> float:
    return check_number(name, v, low=0, strict_low=True)


@dataclass(frozen=True)
class HealthThresholds:
    """Where the flags trip. The defaults follow the guides (see ``docs/diagnostics.md``).

    Attributes:
        ratio_target: The update-to-weight ratio rule of thumb (CS231n: "somewhere
            around 1e-3").
        slow_ratio: A run learns slowly only if its median update ratio is below this
            (an order of magnitude under the target) ...
        slow_progress: ... and its training loss fell by less than this fraction of the
            initial loss.
        overfit_gl: Prechelt's generalization-loss threshold, in percent:
            ``GL(t) = 100 * (E_va(t) / E_opt(t) - 1)`` with ``E_opt(t)`` the lowest
            validation loss up to epoch ``t``; the GL criterion stops at the first epoch
            where ``GL(t) > overfit_gl``.
        diverge_rise: The training loss "climbed" when an epoch's mean training loss
            exceeds the first batch's loss by this fraction ...
        diverge_epochs: ... or rose for this many consecutive epochs, each time by more
            than ``diverge_rise / diverge_epochs`` of the previous epoch's loss.
    """

    ratio_target: float = 1e-3
    slow_ratio: float = 1e-4
    slow_progress: float = 0.1
    overfit_gl: float = 5.0
    diverge_rise: float = 0.1
    diverge_epochs: int = 3

    def __post_init__(self) -> None:
        for name in ("ratio_target", "slow_ratio", "slow_progress", "overfit_gl",
                     "diverge_rise"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))
        if isinstance(self.diverge_epochs, bool) or not isinstance(self.diverge_epochs, int) \
                or self.diverge_epochs < 2:
            raise InvalidValueError(
                f"diverge_epochs must be an int >= 2, got diverge_epochs={self.diverge_epochs!r}")


def _floats(xs: Any) -> list[float]:
    """A stored list as floats (None, missing or non-numeric entries become nan)."""
    if not isinstance(xs, Sequence) or isinstance(xs, (str, bytes)):
        return []
    try:
        return [math.nan if x is None else float(x) for x in xs]
    except (TypeError, ValueError):
        return [_float(x) for x in xs]


def _float(x: Any) -> float:
    try:
        return math.nan if x is None else float(x)
    except (TypeError, ValueError):
        return math.nan


def overfitting(train_loss: Sequence[float], val_loss: Sequence[float],
                thresholds: HealthThresholds | None = None) -> dict[str, Any] | None:
    """The overfitting flag of two per-epoch loss curves, or None.

    The run overfits when, after its best validation epoch, Prechelt's GL criterion
    fires (the validation loss climbs more than ``overfit_gl`` percent above that best)
    while the training loss is lower than at the best epoch: the validation loss rises
    while the training loss falls. Early stopping keeps the best epoch's weights; the GL
    criterion would have stopped training at ``stop_epoch``.

    Returns:
        ``{"best_epoch", "stop_epoch", "best_val_loss", "last_val_loss", "gl",
        "train_drop"}`` (epochs counted from 1; ``gl`` is the last epoch's GL in percent;
        ``train_drop`` how far the training loss fell after the best epoch, relative),
        or None.
    """
    th = thresholds or HealthThresholds()
    tr, va = _floats(train_loss), _floats(val_loss)
    n = min(len(tr), len(va))
    finite = [t for t in range(n) if math.isfinite(va[t])]
    if not finite:
        return None
    best = min(finite, key=lambda t: (va[t], t))
    e_opt = va[best]
    if e_opt == 0 or not math.isfinite(tr[best]):
        return None

    def gl(t: int) -> float:  # Prechelt's generalization loss, in percent
        return 100.0 * (va[t] - e_opt) / abs(e_opt)

    stop = next((t for t in finite if t > best and gl(t) > th.overfit_gl
                 and math.isfinite(tr[t]) and tr[t] < tr[best]), None)
    if stop is None:
        return None
    last = finite[-1]
    drop = (tr[best] - tr[stop]) / abs(tr[best]) if tr[best] else 0.0
    return {"best_epoch": best + 1, "stop_epoch": stop + 1, "best_val_loss": e_opt,
            "last_val_loss": va[last], "gl": gl(last), "train_drop": drop}


def diverging(train_loss: Sequence[float], val_loss: Sequence[float] = (),
              initial_loss: float | None = None, stopped: str | None = None,
              thresholds: HealthThresholds | None = None) -> dict[str, Any] | None:
    """The diverging flag, or None.

    A run diverges when it was stopped for divergence (``stopped`` starts with
    ``"diverged"``: a non-finite loss, or a loss far above its start), when a loss is
    not finite, when an epoch's mean training loss exceeds the first batch's loss by
    more than ``diverge_rise`` (training made things worse than at initialization), or
    when the training loss rose for ``diverge_epochs`` epochs in a row.

    Returns:
        ``{"reason", "epoch"}`` (the first epoch that shows it, counted from 1; None when
        the run stopped inside its first epoch), or None.
    """
    th = thresholds or HealthThresholds()
    tr, va = _floats(train_loss), _floats(val_loss)
    if stopped and str(stopped).startswith("diverged"):
        return {"reason": str(stopped), "epoch": len(tr) + 1}
    for t, v in enumerate(tr):
        if not math.isfinite(v):
            return {"reason": f"training loss {v} after epoch {t + 1}", "epoch": t + 1}
    for t, v in enumerate(va):
        if not math.isfinite(v):
            return {"reason": f"validation loss {v} after epoch {t + 1}", "epoch": t + 1}
    if initial_loss is not None and math.isfinite(initial_loss) and initial_loss > 0:
        for t, v in enumerate(tr):
            if v > (1.0 + th.diverge_rise) * initial_loss:
                return {"reason": f"epoch {t + 1}'s mean training loss {v:.4g} is above the "
                                  f"first batch's loss {initial_loss:.4g}", "epoch": t + 1}
    k = th.diverge_epochs
    step = th.diverge_rise / k
    run = 0
    for t in range(1, len(tr)):
        run = run + 1 if tr[t] > (1.0 + step) * tr[t - 1] else 0
        if run >= k:
            return {"reason": f"the training loss rose for {k} epochs in a row "
                              f"(epochs {t + 1 - k}..{t + 1}: {tr[t - k]:.4g} -> {tr[t]:.4g})",
                    "epoch": t + 1}
    return None


def learning_slowly(train_loss: Sequence[float], update_ratio: Sequence[float],
                    initial_loss: float | None = None,
                    thresholds: HealthThresholds | None = None) -> dict[str, Any] | None:
    """The learning-slowly flag, or None.

    The median update-to-weight ratio over the epochs is below ``slow_ratio`` (the rule
    of thumb is about 1e-3) and the training loss fell by less than ``slow_progress`` of
    its initial value (the first batch's loss, else the first epoch's mean). Both are
    needed: a small ratio alone is normal late in a decayed schedule.

    Returns:
        ``{"median_update_ratio", "progress", "epoch"}`` (``progress`` is the relative
        fall of the training loss), or None.
    """
    th = thresholds or HealthThresholds()
    tr = [v for v in _floats(train_loss) if math.isfinite(v)]
    ratios = sorted(v for v in _floats(update_ratio) if math.isfinite(v))
    if not tr or not ratios:
        return None
    start = initial_loss if initial_loss is not None and math.isfinite(initial_loss) else tr[0]
    if start == 0:
        return None
    m = len(ratios)
    median = ratios[m // 2] if m % 2 else 0.5 * (ratios[m // 2 - 1] + ratios[m // 2])
    progress = (start - tr[-1]) / abs(start)
    if median < th.slow_ratio and progress < th.slow_progress:
        return {"median_update_ratio": median, "progress": progress, "epoch": len(tr)}
    return None


def health_flags(record: Mapping[str, Any],
                 thresholds: HealthThresholds | None = None) -> dict[str, dict[str, Any]]:
    """Every flag a record raises: ``{flag: details}`` in the order of :data:`FLAGS`
    (empty for a healthy run)."""
    th = thresholds or HealthThresholds()
    tr, va = record.get("train_loss") or [], record.get("val_loss") or []
    init = record.get("initial_loss")
    init = float(init) if is_number(init) else None
    found = {
        "diverging": diverging(tr, va, init, record.get("stopped"), th),
        "learning_slowly": learning_slowly(tr, record.get("update_ratio") or [], init, th),
        "overfitting": overfitting(tr, va, th),
    }
    return {k: v for k, v in found.items() if v is not None}


def trial_record(trial: FrozenTrial, thresholds: HealthThresholds | None = None
                 ) -> dict[str, Any] | None:
    """A trial's health record with its flags (recomputed with ``thresholds`` when
    given), or None when the trial holds no per-epoch losses.

    Reads the ``"health"`` user attribute that the monitor writes; for a trial run
    without it, falls back to the ``train_loss`` / ``val_loss`` lists of the torch
    adapter (or any trainer that stores them), so overfitting can still be judged.
    """
    attrs = trial.user_attrs
    stored = attrs.get(HEALTH_KEY)
    if isinstance(stored, Mapping) and (stored.get("val_loss") or stored.get("train_loss")):
        rec = dict(stored)
    elif attrs.get("val_loss") or attrs.get("train_loss"):
        rec = {"train_loss": attrs.get("train_loss") or [], "val_loss": attrs.get("val_loss") or []}
        if trial.fail_reason and str(trial.fail_reason).startswith("diverged"):
            rec["stopped"] = trial.fail_reason
    else:
        return None
    for key in ("train_loss", "val_loss", "grad_norm", "update_ratio", "confidence"):
        if key in rec:
            rec[key] = _floats(rec[key])
    if thresholds is not None or "flags" not in rec:
        rec["flags"] = health_flags(rec, thresholds)
    return rec
