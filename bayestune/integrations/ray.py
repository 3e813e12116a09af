"""Ray Tune: bayestune's GP as a ``ray.tune.search.Searcher``.

The searcher runs in the Ray driver and keeps a bayestune :class:`~bayestune.Study`;
Ray runs the trials wherever the cluster has room, and its schedulers (ASHA, ...)
stop the poor ones early. Every Ray trial is a study trial: ``suggest`` asks,
``on_trial_result`` records intermediate values, ``on_trial_complete`` tells (an
errored trial is FAILED, so the GP steers away from it; one stopped early by a
scheduler such as ASHA is COMPLETE with its last, pessimistic value).

    from ray import tune
    from bayestune.integrations.ray import BayesTuneSearch

    search = BayesTuneSearch(space, metric="loss", mode="min", seed=0)
    tuner = tune.Tuner(train_fn, tune_config=tune.TuneConfig(
        search_alg=search, num_samples=50, max_concurrent_trials=4))
    tuner.fit()
    search.study.best_params

Needs ``pip install "bayestune[ray]"``.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping, Sequence
from typing import Any, Literal

try:
    from ray.tune.search import Searcher
    from ray.tune.search import sample as ray_sample
    from ray.tune.search.variant_generator import parse_spec_vars
    from ray.tune.utils.util import flatten_dict, unflatten_dict
except ImportError as e:  # pragma: no cover - exercised only without ray
    raise ImportError(
        'bayestune.integrations.ray needs Ray Tune: pip install "bayestune[ray]"') from e

from bayestune._checks import check_option
from bayestune._study_io import export_study, import_study
from bayestune._types import Direction
from bayestune.exceptions import InvalidSpaceError, InvalidValueError, TrialAlreadyFinishedError
from bayestune.samplers.base import Sampler
from bayestune.space import Categorical, Float, Int, Space
from bayestune.storage import InMemoryStorage, Storage, get_storage
from bayestune.study import Study, load_study
from bayestune.trial import TrialState

__all__ = ["BayesTuneSearch", "space_from_ray"]

logger = logging.getLogger(__name__)

#: Ray's name for the direction.
Mode = Literal["min", "max"]
_DIRECTIONS: dict[str, Direction] = {"min": "minimize", "max": "maximize"}
_STATE_FORMAT = "bayestune-ray-searcher"


def space_from_ray(config: Mapping[str, Any]) -> Space:
    """A bayestune Space from a Ray Tune ``param_space`` (nested keys joined by ``/``).

    ``tune.uniform`` / ``loguniform`` become ``Float``; ``tune.randint`` / ``lograndint``
    become ``Int`` (Ray's upper bound is exclusive); ``tune.choice`` becomes
    ``Categorical``. Constants are left to Ray.

    Raises:
        InvalidSpaceError: for grid search, ``sample_from``, quantized or normal
            distributions, which have no bayestune equivalent (define a Space instead).
    """
    _, domain_vars, grid_vars = parse_spec_vars(dict(config))
    if grid_vars:
        raise InvalidSpaceError("tune.grid_search cannot be searched by bayestune: use "
                                "bayestune.samplers.GridSampler with a bayestune Space")
    dims: dict[str, Any] = {}
    for path, domain in domain_vars:
        name = "/".join(str(p) for p in path)
        sampler = domain.get_sampler()
        if isinstance(sampler, ray_sample.Quantized) or isinstance(sampler, ray_sample.Normal):
            raise InvalidSpaceError(f"{name!r}: quantized and normal Ray distributions have "
                                    f"no bayestune equivalent; define a bayestune Space")
        log = isinstance(sampler, ray_sample.LogUniform)
        if isinstance(domain, ray_sample.Categorical):
            dims[name] = Categorical(tuple(domain.categories))
        elif isinstance(domain, ray_sample.Integer):
            dims[name] = Int(int(domain.lower), int(domain.upper) - 1, log=log)
        elif isinstance(domain, ray_sample.Float):
            dims[name] = Float(float(domain.lower), float(domain.upper), log=log)
        else:
            raise InvalidSpaceError(f"{name!r}: Ray domain {domain!r} has no bayestune "
                                    f"equivalent; define a bayestune Space")
    if not dims:
        raise InvalidSpaceError("the Ray param_space has nothing to search")
    return Space(dims)


class BayesTuneSearch(Searcher):
    """Ray Tune searcher backed by a bayestune study (GP Bayesian optimization).

    Args:
        space: The search space; or None to take it from the Tuner's ``param_space``
            (``tune.uniform``, ``tune.loguniform``, ``tune.randint``, ``tune.choice``).
        metric: The reported metric to optimize (else Tune's ``TuneConfig.metric``).
        mode: ``"min"`` or ``"max"`` (else Tune's ``TuneConfig.mode``).
        sampler: bayestune sampler; default ``GPSampler(seed=seed)``.
        seed: Seed of the default sampler.
        points_to_evaluate: Full configurations to evaluate first (e.g. known-good
            defaults), in order.
        storage: Where the study lives: None (in memory, saved with Tune's experiment
            checkpoints) or a SQLite URL/path (the study then also outlives the run and
            can be read with ``bayestune trials``).
        study_name: The study's name in ``storage``; an existing study of that name
            (same space and direction) is continued.
    """

    def __init__(
        self,
        space: Space | None = None,
        metric: str | None = None,
        mode: Mode | None = None,
        *,
        sampler: Sampler | None = None,
        seed: int | None = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        storage: Storage | str | None = None,
        study_name: str = "ray",
    ) -> None:
        if space is not None and not isinstance(space, Space):
            raise InvalidValueError(f"space must be a bayestune.Space or None, got {space!r}")
        if mode is not None:
            check_option("mode", mode, Mode)
        if metric is not None and not isinstance(metric, str):
            raise InvalidValueError(f"metric must be a string (one objective), got {metric!r}")
        super().__init__(metric=metric, mode=mode)
        self._space = space
        self._sampler = sampler
        self._seed = seed
        self._points = [dict(p) for p in points_to_evaluate or ()]
        if space is not None:
            for p in self._points:
                space.validate_params(p)
        self._storage = get_storage(storage)
        self._study_name = study_name
        self._study: Study | None = None
        self._live: dict[str, int] = {}  # Ray trial id -> study trial number

    # -- Tune's hooks -----------------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None,
                              config: dict, **spec: Any) -> bool:
        """Take metric, mode and (if none was given) the space from the Tuner."""
        _, domain_vars, grid_vars = parse_spec_vars(config or {})
        if (domain_vars or grid_vars) and self._space is not None:
            return False  # Tune then says why: the space was given twice
        if self._study is not None:
            return False
        if domain_vars or grid_vars:
            self._space = space_from_ray(config)
            for p in self._points:
                self._space.validate_params(p)
        if metric and not self._metric:
            self._metric = metric
        if mode and not self._mode:
            check_option("mode", mode, Mode)
            self._mode = mode
        return True

    @property
    def study(self) -> Study:
        """The bayestune study behind the search (its trials, best params, plots)."""
        if self._study is None:
            if self._space is None:
                raise RuntimeError(
                    "BayesTuneSearch has no search space: pass space=bayestune.Space(...) or "
                    "a Ray param_space to the Tuner")
            if not self._metric or not self._mode:
                raise RuntimeError(
                    f"BayesTuneSearch needs metric and mode (got metric={self._metric!r}, "
                    f"mode={self._mode!r}): pass them to it or to tune.TuneConfig")
            self._study = Study(self._space, _DIRECTIONS[self._mode], sampler=self._sampler,
                                seed=self._seed, storage=self._storage,
                                name=self._study_name, load_if_exists=True)
            self._sampler = self._study.sampler
            for p in self._points:
                self._study.enqueue(p)
            self._points = []
        return self._study

    def suggest(self, trial_id: str) -> dict | None:
        study = self.study
        if trial_id in self._live:  # asked twice for one trial: same configuration
            return unflatten_dict(dict(study.get_trial(self._live[trial_id]).params))
        if study.sampler.is_exhausted(study.space, study.trials):
            return Searcher.FINISHED
        trial = study.ask()
        self._live[trial_id] = trial.number
        return unflatten_dict(dict(trial.params))

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        number = self._live.get(trial_id)
        if number is not None:
            self._record(number, result)

    def _record(self, number: int, result: Mapping[str, Any]) -> None:
        value = result.get(self._metric) if self._metric else None
        step = result.get("training_iteration")
        if value is None or not isinstance(step, int):
            return
        try:
            self.study.report(number, step, value)
        except (TrialAlreadyFinishedError, InvalidValueError) as e:
            logger.debug("intermediate value of trial %d not recorded: %s", number, e)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        number = self._live.pop(trial_id, None)
        if number is None:
            logger.warning("Ray trial %s completed but this searcher did not suggest it",
                           trial_id)
            return
        try:
            self._tell(number, result, error)
        except TrialAlreadyFinishedError as e:
            logger.warning("Ray trial %s: %s", trial_id, e)

    def _tell(self, number: int, result: dict | None, error: bool) -> None:
        study = self.study
        if error:
            study.tell(number, state=TrialState.FAILED, reason="the Ray Tune trial raised")
            return
        value = (result or {}).get(self._metric)
        if value is None:
            study.tell(number, state=TrialState.FAILED,
                       reason=f"the trial reported no {self._metric!r}")
            return
        self._record(number, result or {})  # Tune hands the last result only to this hook
        study.tell(number, value)

    def add_evaluated_point(self, parameters: dict, value: float, error: bool = False,
                            pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        """Record a configuration evaluated outside this search (warm start)."""
        state = TrialState.FAILED if error else TrialState.PRUNED if pruned else None
        params = dict(flatten_dict(parameters)) if parameters else {}
        self.study.add_trial(params, None if error else value, state)

    # -- checkpoints --------------------------------------------------------------------------
    def get_state(self) -> dict:
        persistent = not isinstance(self._storage, InMemoryStorage)
        return {
            "format": _STATE_FORMAT, "version": 1,
            "metric": self._metric, "mode": self._mode,
            "space": None if self._space is None else self._space.to_dict(),
            "sampler": self._sampler, "seed": self._seed, "points": self._points,
            "live": dict(self._live), "study_name": self._study_name,
            "storage": self._storage if persistent else None,
            "study": (None if self._study is None or persistent
                      else export_study(self._study.storage, self._study.name)),
        }

    def set_state(self, state: dict) -> None:
        if state.get("format") != _STATE_FORMAT or state.get("version") != 1:
            raise InvalidValueError("not a BayesTuneSearch checkpoint")
        self._metric, self._mode = state["metric"], state["mode"]
        self._space = None if state["space"] is None else Space.from_dict(state["space"])
        self._sampler, self._seed = state["sampler"], state["seed"]
        self._points, self._live = list(state["points"]), dict(state["live"])
        self._study_name = state["study_name"]
        if state["storage"] is not None:
            self._storage = state["storage"]
            self._study = load_study(self._storage, self._study_name, sampler=self._sampler)
        elif state["study"] is not None:
            storage, name = import_study(state["study"])
            self._study = load_study(storage, name)
            self._study.sampler = self._sampler
            self._storage = self._study.storage
        else:
            self._storage, self._study = InMemoryStorage(), None

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))
