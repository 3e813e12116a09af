"""The default sampler: a Gaussian-process surrogate with (log) expected improvement.

One suggestion runs six stages, each a plain function called in order by
:meth:`GPSampler.sample` (as Optuna's ``GPSampler`` does):

1. encode completed, pruned, failed and pending trials into the unit cube
   (:func:`encode_history`);
2. orient the values (always maximize inside), warp them and place the failed trials
   (:func:`bayestune.gp.surrogate.warp_targets`);
3. fit the objective GP, and a feasibility GP when trials failed, warm-started from the
   hyperparameters stored with the latest GP trial (:func:`bayestune.gp.surrogate.fit_models`);
4. build LogEI, or qLogEI with the pending points, times P(ok)
   (:func:`bayestune.gp.acquisition.build_acquisition`);
5. maximize it over the mixed space (:func:`bayestune.gp.optimize.optimize_acquisition`);
6. decode back to user values (:meth:`bayestune.space.Space.decode`).

Until ``n_startup_trials`` trials exist (enqueued ones included) suggestions come from a
scrambled Sobol sequence; they also come from it, with a log message, whenever the
history cannot support a model (no completed trial, all values equal, a numerical
failure).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayestune._checks import check_bool, check_int, check_number, check_option, check_seed
from bayestune.exceptions import InvalidValueError
from bayestune.gp.options import AcquisitionKind, FailureMode, PrunedValues
from bayestune.samplers._pruned import estimate_final_values
from bayestune.samplers.base import Direction, Sampler, Suggestion
from bayestune.samplers.sobol import sobol_point
from bayestune.space import Space, is_duplicate
from bayestune.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from bayestune.gp.surrogate import Surrogate

__all__ = ["GPSampler", "History", "encode_history"]

logger = logging.getLogger(__name__)

# option names of earlier releases, read when a stored study is reopened
_RENAMED = {"n_raw_samples": "raw_samples", "n_restarts": "num_restarts"}

# Upper bounds of the options that set the cost of one ask(), checked here for options
# given in code and read from a stored study alike (a damaged setting must not hang
# every worker). Measured on 2 CPUs, 15 trials, d=3: raw_samples=16384 takes 1.5 s per
# ask and num_restarts=64 2.9 s (0.1 s at the defaults; raw_samples=10**8 took 90 s);
# an exact GP of 5000 points needs 200 MB per matrix and minutes per fit.
_MAX_RAW_SAMPLES = 16384
_MAX_RESTARTS = 64
_MAX_POINTS = 5000
_MAX_THREADS = 256


@dataclass(frozen=True)
class History:
    """Trials encoded into the cube (stage 1).

    Attributes:
        X: ``n x d`` points of trials with a value (COMPLETE, and PRUNED with a value).
        values: ``n`` values, user orientation.
        X_failed: ``f x d`` points of FAILED trials.
        X_pending: ``p x d`` points of RUNNING trials.
        X_seen: ``(n + f + p) x d``: every point not to propose again.
        warm_state: GP hyperparameters stored with the most recent GP trial, or None.
        n_started: Trials that hold a configuration (any state but WAITING).
    """

    X: np.ndarray
    values: np.ndarray
    X_failed: np.ndarray
    X_pending: np.ndarray
    X_seen: np.ndarray
    warm_state: Mapping[str, Any] | None
    n_started: int


def encode_history(space: Space, trials: Sequence[FrozenTrial], *,
                   direction: Direction = "minimize", pruned_values: PrunedValues = "estimate"
                   ) -> History:
    """Stage 1: sort trials by role and encode them (see :class:`History`).

    Args:
        space: The search space.
        trials: The study's trials.
        direction: The study's direction (for the pruned trials' estimates).
        pruned_values: ``"estimate"``: a pruned trial enters with the estimate of its
            final value by :func:`~bayestune.samplers._pruned.estimate_final_values`;
            ``"last"``: with its last reported value.
    """
    d = len(space)
    ok, vals, failed, pending = [], [], [], []
    pruned_rows: list[int] = []
    pruned_last: list[tuple[int, float]] = []
    completed: list[tuple[Mapping[int, float], float]] = []
    warm, warm_number, started = None, -1, 0
    for t in trials:
        if not t.params or t.state is TrialState.WAITING:
            continue
        try:
            x = space.encode(t.params)
        except (KeyError, ValueError, TypeError):
            continue  # a configuration from an older space: not ours to model
        started += 1
        if t.state is TrialState.COMPLETE and t.value is not None:
            ok.append(x)
            vals.append(t.value)
            if t.intermediate_values:
                completed.append((t.intermediate_values, t.value))
        elif t.state is TrialState.PRUNED and t.value is not None and np.isfinite(t.value):
            ok.append(x)  # the run was stopped early for doing badly
            vals.append(t.value)
            if t.last_step is not None:
                pruned_rows.append(len(vals) - 1)
                pruned_last.append((t.last_step, t.intermediate_values[t.last_step]))
        elif t.state is TrialState.FAILED:
            failed.append(x)
        elif t.state is TrialState.RUNNING:
            pending.append(x)
        gp_state = t.system_attrs.get("gp_state")
        if gp_state and t.number > warm_number:
            warm, warm_number = gp_state, t.number

    def arr(rows: list) -> np.ndarray:
        return np.array(rows, dtype=float).reshape(-1, d)

    if pruned_values == "estimate" and pruned_rows and completed:
        est = estimate_final_values(pruned_last, completed, minimize=direction == "minimize")
        for row, (_, last), e in zip(pruned_rows, pruned_last, est, strict=True):
            if last == vals[row]:  # the reported value, not one set apart from it
                vals[row] = float(e)
    X, Xf, Xp = arr(ok), arr(failed), arr(pending)
    return History(X=X, values=np.array(vals, dtype=float), X_failed=Xf, X_pending=Xp,
                   X_seen=np.concatenate([X, Xf, Xp]), warm_state=warm, n_started=started)


class GPSampler(Sampler):
    """Gaussian-process Bayesian optimization (the default sampler).

    Args:
        seed: Seed; the suggestion for trial ``n`` depends only on ``(seed, history)``.
            None draws one at construction (stored with a persistent study).
        n_startup_trials: Space-filling (Sobol) trials before the GP takes over;
            default ``min(10, max(5, 2 * d))``.
        acquisition: ``"logei"`` (LogEI; qLogEI with pending trials) or ``"ucb"``.
        ucb_beta: UCB's exploration weight (``μ + sqrt(β) σ``).
        failure_mode: How failed trials steer the search: ``"feasibility"`` (default: a
            GP classifier's P(ok) multiplies EI, and failed points enter the objective
            model with the worst observed value), ``"impute"`` (the imputation alone)
            or ``"ignore"`` (what Optuna does; for comparison).
        warp_outputs: Yeo-Johnson output warp for heavy-tailed losses (default True).
        raw_samples: Sobol candidates scored before gradient ascent (botorch's name);
            at most 16384.
        num_restarts: Starts of the gradient-based acquisition optimization (botorch's
            name); at most 64.
        max_points: Largest history modelled exactly (10 to 5000); beyond it the best
            20% and a seeded random subset of the rest are kept (exact GPs cost O(n³)).
        num_threads: torch intra-op threads used while suggesting (restored after);
            1 is fastest at these matrix sizes, at most 256. None leaves torch's
            setting alone.
        refit_growth: Past 60 observations, keep the previous GP hyperparameters until
            the history has grown by this fraction (default 0.05, i.e. refit every 5th
            trial at 100 trials); 0 refits at every ask. Each suggestion still
            conditions on every observation.
        pruned_values: How a PRUNED trial enters the model: ``"estimate"`` (default: its
            value at the step where it stopped, mapped onto the final-value scale by its
            rank among completed trials at that step) or ``"last"`` (the value as
            reported).

    Raises:
        InvalidValueError: for an option outside its type or range, naming it.

    Examples:
        >>> import bayestune as bt
        >>> space = bt.Space({"x": bt.Float(-2.0, 2.0)})
        >>> study = bt.Study(space, sampler=bt.samplers.GPSampler(seed=0, n_startup_trials=3))
        >>> for _ in range(6):
        ...     trial = study.ask()
        ...     _ = study.tell(trial, (trial.params["x"] - 0.5) ** 2)
        >>> study.trials[-1].system_attrs["sampler"]
        'gp'
        >>> round(study.best_value, 2) < 0.5
        True
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        n_startup_trials: int | None = None,
        acquisition: AcquisitionKind = "logei",
        ucb_beta: float = 4.0,
        failure_mode: FailureMode = "feasibility",
        warp_outputs: bool = True,
        raw_samples: int = 512,
        num_restarts: int = 6,
        max_points: int = 2000,
        num_threads: int | None = 1,
        refit_growth: float = 0.05,
        pruned_values: PrunedValues = "estimate",
    ) -> None:
        self.seed = check_seed(seed)
        if self.seed is None:
            self.seed = int(np.random.default_rng().integers(2**31))
        self.n_startup_trials = check_int("n_startup_trials", n_startup_trials, low=1,
                                          none=True)
        self.acquisition: AcquisitionKind = check_option("acquisition", acquisition,
                                                         AcquisitionKind)
        self.failure_mode: FailureMode = check_option("failure_mode", failure_mode,
                                                      FailureMode)
        self.pruned_values: PrunedValues = check_option("pruned_values", pruned_values,
                                                        PrunedValues)
        self.ucb_beta = check_number("ucb_beta", ucb_beta, low=0.0, strict_low=True)
        self.warp_outputs = check_bool("warp_outputs", warp_outputs)
        self.raw_samples = check_int("raw_samples", raw_samples, low=1, high=_MAX_RAW_SAMPLES)
        self.num_restarts = check_int("num_restarts", num_restarts, low=1,
                                      high=_MAX_RESTARTS)
        self.max_points = check_int("max_points", max_points, low=10, high=_MAX_POINTS)
        self.num_threads = check_int("num_threads", num_threads, low=1, high=_MAX_THREADS,
                                     none=True)
        self.refit_growth = check_number("refit_growth", refit_growth, low=0.0, high=1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"name": "GPSampler", "seed": self.seed, "n_startup_trials": self.n_startup_trials,
                "acquisition": self.acquisition, "ucb_beta": self.ucb_beta,
                "failure_mode": self.failure_mode, "warp_outputs": self.warp_outputs,
                "raw_samples": self.raw_samples, "num_restarts": self.num_restarts,
                "max_points": self.max_points, "num_threads": self.num_threads,
                "refit_growth": self.refit_growth, "pruned_values": self.pruned_values}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GPSampler:
        """The sampler of :meth:`to_dict` (option names of earlier releases accepted).

        Raises:
            InvalidValueError: for an unknown option or a bad value, naming it.
        """
        kwargs = {_RENAMED.get(k, k): v for k, v in d.items() if k != "name"}
        try:
            return cls(**kwargs)
        except TypeError as e:  # an unknown keyword
            raise InvalidValueError(f"bad GPSampler settings {dict(d)!r}: {e}") from None

    def _seed_for(self, number: int) -> int:
        return (self.seed * 1_000_003 + number) % 2**31

    def startup_count(self, space: Space) -> int:
        if self.n_startup_trials is not None:
            return self.n_startup_trials
        return min(10, max(5, 2 * len(space)))

    # -- stages -----------------------------------------------------------------------------
    def _space_filling(self, space: Space, h: History, number: int, why: str) -> Suggestion:
        if why:
            logger.info("GPSampler: %s; using a space-filling (Sobol) point", why)
        for k in range(64):
            x = space.canonicalize(sobol_point(space, self.seed, number + 7919 * k))[0]
            if not is_duplicate(x, h.X_seen):
                break
        return Suggestion(space.decode(x), {"sampler": "sobol"})

    def _subsample(self, h: History, sign: float, number: int) -> tuple[np.ndarray, np.ndarray]:
        n = h.X.shape[0]
        if n <= self.max_points:
            return h.X, h.values
        order = np.argsort(-sign * h.values, kind="stable")
        n_top = self.max_points // 5
        rest = np.random.default_rng([self.seed, number, 1]).choice(
            order[n_top:], size=self.max_points - n_top, replace=False)
        keep = np.sort(np.concatenate([order[:n_top], rest]))
        logger.info("GPSampler: modelling %d of %d trials (max_points)", keep.size, n)
        return h.X[keep], h.values[keep]

    def _surrogate(self, space: Space, h: History, direction: Direction,
                   number: int) -> Surrogate:
        """Stages 2-4 on an encoded history (``h.X`` not empty)."""
        from bayestune.gp.acquisition import build_acquisition  # noqa: PLC0415 - torch
        from bayestune.gp.surrogate import Surrogate, fit_models, warp_targets  # noqa: PLC0415

        sign = 1.0 if direction == "maximize" else -1.0
        X, values = self._subsample(h, sign, number)
        seed = self._seed_for(number)
        targets = warp_targets(X, values, sign=sign, X_failed=h.X_failed,  # 2. warp
                               warp_outputs=self.warp_outputs, failure_mode=self.failure_mode)
        fit = fit_models(targets, list(np.flatnonzero(space.categorical_mask)),  # 3. fit
                         warm_state=h.warm_state, seed=seed, refit_growth=self.refit_growth)
        acq = build_acquisition(  # 4. acquisition
            fit.objective, targets.best_f, kind=self.acquisition, ucb_beta=self.ucb_beta,
            X_pending=_tensor(h.X_pending) if h.X_pending.shape[0] else None,
            feasibility=fit.feasibility, seed=seed)
        return Surrogate(
            space=space, sign=sign, warp=targets.warp, model=fit.objective,
            feasibility_model=fit.feasibility, X_observed=X, y_observed=values,
            X_pending=h.X_pending, best_f=targets.best_f, acquisition_function=acq,
            state=fit.state, status=fit.status)

    def fit_surrogate(self, space: Space, trials: Sequence[FrozenTrial],
                      direction: Direction, number: int | None = None) -> Surrogate:
        """Fit the GP surrogate of a history (stages 1-4), e.g. for plots.

        Returns:
            A :class:`bayestune.gp.surrogate.Surrogate`.

        Raises:
            InvalidValueError: when no trial has a finite value yet.
        """
        from bayestune.gp.model import torch_threads  # noqa: PLC0415 - heavy import

        h = encode_history(space, trials, direction=direction,
                           pruned_values=self.pruned_values)
        if h.X.shape[0] == 0:
            raise InvalidValueError("no completed trial to fit a surrogate on")
        with torch_threads(self.num_threads):
            return self._surrogate(space, h, direction,
                                   len(trials) if number is None else number)

    def sample(self, space: Space, trials: Sequence[FrozenTrial], direction: Direction,
               number: int) -> Suggestion:
        h = encode_history(space, trials, direction=direction,  # 1. encode
                           pruned_values=self.pruned_values)
        if h.n_started < self.startup_count(space):
            return self._space_filling(space, h, number, "")
        if h.X.shape[0] == 0:
            return self._space_filling(space, h, number, "no trial has completed yet")
        if h.X.shape[0] < 2 or np.ptp(h.values) <= 1e-12 * max(1.0, np.abs(h.values).max()):
            return self._space_filling(space, h, number, "all observed values are equal")
        from bayestune.gp.model import torch_threads  # noqa: PLC0415 - heavy import
        from bayestune.gp.optimize import optimize_acquisition  # noqa: PLC0415

        try:
            with torch_threads(self.num_threads):
                sur = self._surrogate(space, h, direction, number)  # 2-4
                best = np.argsort(-sur.sign * sur.y_observed, kind="stable")[:5]
                x, _ = optimize_acquisition(  # 5. optimize
                    sur.acquisition_function, space, X_best=sur.X_observed[best],
                    X_seen=h.X_seen, seed=self._seed_for(number),
                    raw_samples=self.raw_samples, num_restarts=self.num_restarts,
                )
        except Exception as e:  # noqa: BLE001 - ask() must never fail on numerics
            return self._space_filling(space, h, number, f"GP step failed ({e!r})")
        attrs = {"sampler": "gp", "gp_state": dict(sur.state), "gp_status": sur.status}
        return Suggestion(space.decode(x), attrs)  # 6. decode


def _tensor(X: np.ndarray) -> Any:
    import torch  # noqa: PLC0415 - heavy import, only once a model is fitted

    return torch.as_tensor(X, dtype=torch.float64)
