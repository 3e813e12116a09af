"""What a pruned trial's final value would have been, for the GP's training data.

A pruned run reports its value at the step where it stopped: after one epoch, say, when
the trials that ran to the end are judged after ten. Entered as it is, that early value
sits far above every final value (losses fall with training), so the model believes the
pruned region much worse than it is, and an aggressive pruner (ASHA stops most runs at
its first rung) fills the history with such values.

The estimate maps the pruned trial's value onto the final-value scale by its rank among
the trials that completed and reported a value at the same step (quantile mapping, a
monotone transform fitted on the runs that show both values):

* ``v`` within the range of those trials' values at that step: the final value at the
  same quantile (linear interpolation between order statistics);
* ``v`` worse than all of them: the worst of their final values, plus how much worse
  ``v`` is than the worst at that step (no rank to map, so the gap is kept);
* ``v`` better than all of them: the best of their final values (the run was pruned
  nonetheless; no optimistic extrapolation).

With fewer than ``min_reference`` such trials the last reported value is kept, as
before. Everything is in the user's orientation; the mapping is monotone either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["estimate_final_values"]


def estimate_final_values(
    pruned: Sequence[tuple[int, float]],
    completed: Sequence[tuple[Mapping[int, float], float]],
    *,
    minimize: bool,
    min_reference: int = 3,
) -> np.ndarray:
    """Estimated final values of pruned trials.

    Args:
        pruned: ``(last step, last value)`` of each pruned trial.
        completed: ``(intermediate values, final value)`` of each completed trial.
        minimize: True when smaller values are better.
        min_reference: Completed trials with a value at the step needed for a mapping.

    Returns:
        One estimate per pruned trial (its last value where no mapping is possible).
    """
    out = np.empty(len(pruned))
    for i, (step, v) in enumerate(pruned):
        ref = [(iv[step], f) for iv, f in completed
               if step in iv and np.isfinite(iv[step]) and np.isfinite(f)]
        if len(ref) < min_reference or not np.isfinite(v):
            out[i] = v
            continue
        sign = 1.0 if minimize else -1.0  # work in "smaller is better"
        at = np.sort(sign * np.array([a for a, _ in ref]))
        fin = np.sort(sign * np.array([f for _, f in ref]))
        w = sign * v
        if w >= at[-1]:
            est = fin[-1] + (w - at[-1])
        elif w <= at[0]:
            est = fin[0]
        else:
            # the quantile of w among the step values, then the final value there
            q = np.interp(w, at, np.linspace(0.0, 1.0, at.size))
            est = np.interp(q, np.linspace(0.0, 1.0, fin.size), fin)
        out[i] = sign * est
    return out
