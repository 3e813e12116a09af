"""The rules of :func:`bayestune.diagnostics.advise`, one function each: ``context ->
findings``. ``docs/diagnostics.md`` gives every rule with its source and reasoning.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from bayestune._checks import is_number
from bayestune.diagnostics._advise_context import (
    Finding,
    _Context,
    _fmt,
    _position,
    _r,
    _value_at,
)
from bayestune.space import Float, Int
from bayestune.trial import FrozenTrial, TrialState

# the advice's logger, as before the rules had a module of their own
logger = logging.getLogger("bayestune.diagnostics.advise")


# -- rule: best at the edge -------------------------------------------------------------------
_EDGE = 0.1  # the outer tenth of a range (in log space for log parameters)
_MIN_TRIALS = 5


def _widened(dim: Float | Int, side: str) -> float | int | None:
    """A wider bound on ``side`` ("low" / "high"), or None when it cannot widen."""
    lo, hi = dim.low, dim.high
    if dim.log:
        if isinstance(dim, Int):
            return max(1, lo // 2) if side == "low" and lo > 1 else (hi * 2 if side == "high"
                                                                     else None)
        return lo / 10 if side == "low" else hi * 10
    half = 0.5 * (hi - lo)
    if side == "low":
        if lo == 0:
            return None  # 0 is the natural floor of rates, decays and counts
        new = lo - half
        if lo > 0 > new:
            new = 0
        return int(math.floor(new)) if isinstance(dim, Int) else new
    if 0 <= lo and hi <= 1 and hi + half > 1:  # a probability-like range: approach 1
        if hi >= 1:
            return None
        new = (hi + 1) / 2
        return new
    new = hi + half
    return int(math.ceil(new)) if isinstance(dim, Int) else new


def rule_best_at_edge(ctx: _Context) -> list[Finding]:
    """The best trial's value of a numeric parameter lies in the outer tenth of its range
    and most of the best trials lie on that side too."""
    best = ctx.best
    if best is None or len(ctx.complete) < _MIN_TRIALS:
        return []
    k = max(3, math.ceil(0.1 * len(ctx.complete)))
    top = ctx.complete[:k]
    out = []
    for name, dim in ctx.numeric():
        if name not in best.params:
            continue
        p = _position(dim, best.params[name])
        if _EDGE < p < 1 - _EDGE:
            continue
        side = "low" if p <= _EDGE else "high"
        top_p = [_position(dim, t.params[name]) for t in top if name in t.params]
        same = sum(1 for q in top_p if (q < 0.5) == (side == "low"))
        if same < math.ceil(len(top_p) / 2):
            continue
        new = _widened(dim, side)
        bound = dim.low if side == "low" else dim.high
        where = "lower" if side == "low" else "upper"
        ev = {"param": name, "best_value": best.params[name], "best_trial": best.number,
              "low": dim.low, "high": dim.high, "side": side, "position": _r(p, 3),
              "top_trials_on_that_side": f"{same}/{len(top_p)}", "n_complete": len(ctx.complete)}
        if new is None:
            action = (f"{name} cannot go {'lower' if side == 'low' else 'higher'} than "
                      f"{bound}: consider fixing it at {bound} (the search prefers the limit)")
        else:
            ev["suggested_bound"] = new
            action = (f"widen the range of {name} {'downwards' if side == 'low' else 'upwards'}: "
                      f"{'low' if side == 'low' else 'high'}={_fmt(new)} instead of "
                      f"{_fmt(bound)}, and run more trials there")
        out.append(Finding(
            "best_at_edge",
            f"the best {name} ({_fmt(best.params[name])}) sits at the {where} edge of its "
            f"range [{_fmt(dim.low)}, {_fmt(dim.high)}]: a better value may lie beyond it",
            ev, action))
    return out


# -- rule: failures beyond a threshold --------------------------------------------------------
_FAIL_MIN = 3  # failed trials needed
_FAIL_SHARE = 0.75  # share of the failures beyond the threshold
_FAIL_RATE_BEYOND = 0.6  # runs beyond it mostly fail ...
_FAIL_RATE_WITHIN = 0.25  # ... and runs within it mostly do not
_WITHIN_MIN = 3  # runs within the threshold needed


def rule_failure_threshold(ctx: _Context) -> list[Finding]:
    """Most failed runs lie above (or below) one value of a numeric parameter, most runs
    beyond it fail, and few runs on the other side do."""
    if len(ctx.failed) < _FAIL_MIN:
        return []
    finished = [t for t in ctx.trials if t.state.is_finished]
    out = []
    for name, dim in ctx.numeric():
        pts = [(_position(dim, t.params[name]), t.state is TrialState.FAILED, t)
               for t in finished if name in t.params]
        n_fail = sum(1 for _, f, _ in pts if f)
        if n_fail < _FAIL_MIN:
            continue
        found = None
        for side in ("high", "low"):
            sgn = 1.0 if side == "high" else -1.0
            # candidate thresholds: failed positions, from the widest region inwards
            for c in sorted((sgn * p for p, f, _ in pts if f)):
                beyond = [f for p, f, _ in pts if sgn * p >= c]
                within = [f for p, f, _ in pts if sgn * p < c]
                fb = sum(beyond)
                if fb < max(_FAIL_MIN, _FAIL_SHARE * n_fail):
                    break  # the next candidates only shrink the region
                if (fb / len(beyond) >= _FAIL_RATE_BEYOND and len(within) >= _WITHIN_MIN
                        and sum(within) / len(within) <= _FAIL_RATE_WITHIN):
                    found = (side, sgn * c, fb, len(beyond), sum(within), len(within))
                    break
            if found:
                break
        if not found:
            continue
        side, c, fb, nb, fw, nw = found
        threshold = _value_at(dim, c)
        if isinstance(dim, Int):
            threshold = int(round(threshold))
        reasons = [str(t.fail_reason or "") for p, f, t in pts if f
                   and ((p >= c) if side == "high" else (p <= c))]
        diverged = sum(1 for r in reasons if r.startswith("diverged"))
        word = "above" if side == "high" else "below"
        bound = "upper" if side == "high" else "lower"
        out.append(Finding(
            "failure_threshold",
            f"{fb} of the {n_fail} failed runs have {name} {word} {_fmt(threshold)}, where "
            f"{fb} of {nb} runs failed, against {fw} of {nw} on the other side",
            {"param": name, "side": side, "threshold": threshold, "low": dim.low,
             "high": dim.high, "failed_beyond": fb, "runs_beyond": nb, "failed_within": fw,
             "runs_within": nw, "n_failed": n_fail, "diverged_beyond": diverged},
            f"move the {bound} bound of {name} to about {_fmt(threshold)} "
            f"({'high' if side == 'high' else 'low'}={_fmt(threshold)} instead of "
            f"{_fmt(dim.high if side == 'high' else dim.low)}) so the budget is not spent on "
            f"runs that fail"
            + ("; if the best runs sit just inside it, the model may be unstable there "
               "(warm-up or gradient clipping can open up higher rates)"
               if side == "high" and diverged else "")))
    return out


# -- rule: every good trial overfits ----------------------------------------------------------
_GOOD_SHARE = 0.25  # the good trials: the best quarter of the completed ones ...
_GOOD_MIN = 3  # ... at least this many, with training curves


def rule_overfitting(ctx: _Context) -> list[Finding]:
    """Every one of the best trials (the best quarter, at least three) that has training
    curves shows the overfitting flag."""
    recs = ctx.records
    with_curves = [t for t in ctx.complete if t.number in recs
                   and len(recs[t.number].get("val_loss") or []) >= 3]
    k = max(_GOOD_MIN, math.ceil(_GOOD_SHARE * len(with_curves)))
    good = with_curves[:k]
    if len(good) < _GOOD_MIN:
        return []
    flags = [recs[t.number]["flags"].get("overfitting") for t in good]
    if not all(flags):
        return []
    best_epochs = sorted(f["best_epoch"] for f in flags)  # type: ignore[index]
    epochs = sorted(len(recs[t.number]["val_loss"]) for t in good)
    med_best, med_epochs = best_epochs[len(best_epochs) // 2], epochs[len(epochs) // 2]
    gls = sorted(f["gl"] for f in flags)  # type: ignore[index]
    regs = [n for n in ("dropout", "weight_decay") if n in ctx.space]
    ev: dict[str, Any] = {
        "trials": [t.number for t in good], "best_epochs": best_epochs,
        "epochs_run": epochs, "median_gl_percent": _r(gls[len(gls) // 2], 3)}
    hints = []
    for n in regs:
        dim = ctx.space[n]
        if isinstance(dim, (Float, Int)):
            vals = [t.params[n] for t in good if n in t.params]
            ev[f"{n}_of_good_trials"] = [_r(float(v)) for v in vals]
            hints.append(f"raise {n} (its range tops out at {_fmt(dim.high)})")
    reg = "; ".join(hints) if hints else "add dropout or weight decay"
    return [Finding(
        "overfitting",
        f"all {len(good)} of the best trials overfit: their validation loss rose while "
        f"the training loss kept falling (best validation epoch {med_best} of {med_epochs}, "
        f"median)",
        ev,
        f"regularize more: {reg}; or train fewer epochs (about {med_best}) or stop early on "
        f"the validation loss")]


# -- rule: a parameter the GP finds irrelevant ------------------------------------------------
_IRRELEVANT = 0.01  # total Sobol index below which a parameter "does not matter"
_IRRELEVANT_MIN_TRIALS = 15


def rule_irrelevant_param(ctx: _Context) -> list[Finding]:
    """The GP surrogate's posterior mean barely varies with a parameter: its total Sobol
    index (the share of the mean's variance that involves it) is below 1%."""
    d = len(ctx.space)
    if d < 2 or len(ctx.complete) < max(_IRRELEVANT_MIN_TRIALS, 3 * d):
        return []
    try:
        total = ctx.importance
    except Exception as e:  # noqa: BLE001 - a numerical failure means no advice, not a crash
        logger.info("advise: no importance (the GP fit failed: %r)", e)
        return []
    if max(total.values()) <= 0:
        return []
    ls = getattr(ctx.surrogate, "lengthscales", None) or {}
    best = ctx.best
    out = []
    for name in ctx.space.names:
        if total[name] >= _IRRELEVANT:
            continue
        value = best.params.get(name) if best is not None else None
        ev = {"param": name, "total_sobol_index": _r(total[name], 3),
              "importance": {n: _r(v, 3) for n, v in total.items()},
              "n_complete": len(ctx.complete)}
        if name in ls:
            ev["lengthscale"] = _r(float(ls[name]), 3)
        out.append(Finding(
            "irrelevant_param",
            f"the GP finds {name} irrelevant: it accounts for {100 * total[name]:.2g}% of "
            f"the variation of the predicted objective over the search space",
            ev,
            f"fix {name} at {_fmt(value)} (the best trial's value) and spend the budget on "
            f"the parameters that matter; keep in mind that a fixed value is a caveat if it "
            f"interacts with what you change later"))
    return out


# -- rule: far from the rule-of-thumb defaults ------------------------------------------------
_LR_DECADES = 1.5  # an lr this many decades from every classic starting value is "far"
_MOMENTUM_GAP = 0.2  # a momentum / beta1 this far from 0.9 is "far"


def rule_far_from_defaults(ctx: _Context) -> list[Finding]:
    """The best lr is more than 1.5 decades from every classic starting lr of its
    optimizer (:func:`bayestune.presets.default_configs`), or its momentum / beta1 more
    than 0.2 from 0.9."""
    from bayestune.presets import default_configs  # noqa: PLC0415
    from bayestune.training.optimizers import OPTIMIZER_SETTINGS, OPTIMIZERS  # noqa: PLC0415

    best = ctx.best
    if best is None or len(ctx.complete) < _MIN_TRIALS:
        return []
    opt = best.params.get("optimizer", ctx.optimizer)
    opts = (opt,) if isinstance(opt, str) and opt in OPTIMIZERS else OPTIMIZERS
    known = len(opts) == 1
    out = []
    lr = best.params.get("lr")
    if is_number(lr) and lr > 0:
        starts = sorted({c["lr"] for o in opts
                         for c in default_configs(o, fine_tune=ctx.fine_tune, include=("lr",))})
        nearest = min(starts, key=lambda s: abs(math.log10(lr / s)))
        decades = math.log10(lr / nearest)
        if abs(decades) >= _LR_DECADES:
            out.append(Finding(
                "far_from_defaults",
                f"the best lr ({_fmt(lr)}) is {abs(decades):.1f} decades "
                f"{'above' if decades > 0 else 'below'} the classic starting value "
                f"{_fmt(nearest)} for {opts[0] if known else 'any optimizer'}"
                f"{' when fine-tuning' if ctx.fine_tune else ''}",
                {"param": "lr", "best_value": lr, "default": nearest, "decades": _r(decades, 3),
                 "optimizer": opts[0] if known else None, "best_trial": best.number},
                _second_look(ctx, best, "lr", nearest)))
    for name in ("momentum", "beta1"):
        v = best.params.get(name)
        if not is_number(v):
            continue
        if not any(name in OPTIMIZER_SETTINGS[o] for o in opts):
            continue
        if abs(v - 0.9) > _MOMENTUM_GAP:
            out.append(Finding(
                "far_from_defaults",
                f"the best {name} ({_fmt(v)}) is far from the usual 0.9",
                {"param": name, "best_value": v, "default": 0.9, "best_trial": best.number},
                _second_look(ctx, best, name, 0.9)))
    return out


def _second_look(ctx: _Context, best: FrozenTrial, name: str, default: float) -> str:
    """The action of a far-from-defaults finding: compare with a run at the default."""
    near = [t for t in ctx.complete if name in t.params and t.params[name] == default]
    if near:
        t = near[0]
        return (f"worth a second look: trial {t.number} ran {name}={_fmt(default)} and scored "
                f"{_fmt(t.value)} against the best {_fmt(best.value)}; check that the gap is "
                f"real (re-run both with other seeds) before trusting the unusual value")
    return (f"worth a second look: enqueue the best configuration with {name}="
            f"{_fmt(default)} to measure the gap, and check what makes this setup unusual "
            f"(the scale of the inputs or the loss, the batch size, a missing normalization)")
