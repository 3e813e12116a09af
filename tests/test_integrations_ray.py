"""Ray Tune: BayesTuneSearch as a Searcher, unit-tested and run on a real local Ray."""

from __future__ import annotations

import sys

import pytest

ray = pytest.importorskip("ray")
tune = pytest.importorskip("ray.tune")

import bayestune as bt  # noqa: E402
from bayestune.integrations.ray import BayesTuneSearch, space_from_ray  # noqa: E402
from bayestune.trial import TrialState  # noqa: E402

SPACE = bt.Space({"x": bt.Float(-3.0, 3.0), "k": bt.Int(1, 4)})
BOOM = {"x": 2.5, "k": 1}


def loss(config) -> float:
    return (config["x"] - 1.0) ** 2 + config["k"]


def trainable(config) -> None:
    if config == BOOM:
        raise RuntimeError("this configuration crashes training")
    for i in range(3):
        tune.report({"loss": loss(config) + 1.0 / (i + 1)})


def _random_search(**kwargs) -> BayesTuneSearch:
    return BayesTuneSearch(SPACE, metric="loss", mode="min",
                           sampler=bt.samplers.RandomSampler(seed=0), **kwargs)


# -- the Searcher protocol, without a cluster ------------------------------------------------
def test_suggest_then_complete_tells_the_study():
    search = _random_search(points_to_evaluate=[{"x": 0.0, "k": 2}])
    first = search.suggest("t1")
    assert first == {"x": 0.0, "k": 2}  # points to evaluate come first
    second = search.suggest("t2")
    assert SPACE.contains(second) and search.suggest("t2") == second  # same id, same config
    search.on_trial_result("t1", {"loss": 9.0, "training_iteration": 1})
    search.on_trial_complete("t1", {"loss": 3.0, "training_iteration": 2})
    search.on_trial_complete("t2", error=True)
    t1, t2 = search.study.trials
    assert t1.state is TrialState.COMPLETE and t1.value == 3.0
    assert dict(t1.intermediate_values) == {1: 9.0, 2: 3.0}
    assert t2.state is TrialState.FAILED and "raised" in t2.fail_reason
    search.on_trial_complete("t1", {"loss": 1.0})  # Tune repeating itself: ignored
    assert search.study.get_trial(0).value == 3.0


def test_a_result_without_the_metric_is_a_failed_trial():
    search = _random_search()
    search.suggest("a")
    search.on_trial_complete("a", {"accuracy": 0.9})
    assert search.study.trials[0].fail_reason == "the trial reported no 'loss'"


def test_mode_max_maximizes():
    search = BayesTuneSearch(SPACE, metric="acc", mode="max",
                             sampler=bt.samplers.RandomSampler(seed=0))
    for i, acc in enumerate([0.2, 0.9, 0.5]):
        search.suggest(str(i))
        search.on_trial_complete(str(i), {"acc": acc})
    assert search.study.direction == "maximize" and search.study.best_value == 0.9


def test_save_and_restore_continue_the_search(tmp_path):
    search = _random_search()
    for i in range(3):
        search.suggest(f"t{i}")
    search.on_trial_complete("t0", {"loss": 1.0})
    search.on_trial_complete("t1", {"loss": 2.0})
    search.save(str(tmp_path / "searcher.pkl"))
    nxt = search.suggest("t3")

    restored = BayesTuneSearch()
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert restored.metric == "loss" and restored.mode == "min"
    assert [t.value for t in restored.study.trials] == [1.0, 2.0, None]
    restored.on_trial_complete("t2", {"loss": 0.5})  # a trial running at save time
    assert restored.study.best_value == 0.5
    assert restored.suggest("t3") == nxt  # the same next suggestion


def test_a_persistent_storage_keeps_the_study_and_the_checkpoint_points_to_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'ray.db'}"
    search = _random_search(storage=url, study_name="exp")
    search.suggest("a")
    search.on_trial_complete("a", {"loss": 4.0})
    search.save(str(tmp_path / "ck.pkl"))
    restored = BayesTuneSearch()
    restored.restore(str(tmp_path / "ck.pkl"))
    assert restored.study.storage.url == url
    assert bt.load_study(url, "exp").best_value == 4.0


def test_the_space_can_come_from_the_tuner_param_space():
    search = BayesTuneSearch(sampler=bt.samplers.RandomSampler(seed=0))
    config = {"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 5),
              "opt": tune.choice(["adam", "sgd"]), "nested": {"p": tune.uniform(0, 1)},
              "epochs": 3}
    assert search.set_search_properties("loss", "min", config)
    space = search.study.space
    assert space["lr"] == bt.Float(1e-4, 1e-1, log=True)
    assert space["layers"] == bt.Int(1, 4)  # Ray's upper bound is exclusive
    assert space["opt"] == bt.Categorical(("adam", "sgd"))
    suggestion = search.suggest("t")
    assert set(suggestion) == {"lr", "layers", "opt", "nested"}
    assert 0 <= suggestion["nested"]["p"] <= 1
    assert not search.set_search_properties("loss", "min", config)  # already set up


def test_a_space_given_twice_or_unsupported_is_refused():
    assert not _random_search().set_search_properties(None, None, {"x": tune.uniform(0, 1)})
    with pytest.raises(bt.InvalidSpaceError, match="grid_search"):
        space_from_ray({"x": tune.grid_search([1, 2])})
    with pytest.raises(bt.InvalidSpaceError, match="quantized"):
        space_from_ray({"x": tune.quniform(0, 1, 0.1)})
    with pytest.raises(bt.InvalidValueError, match="mode"):
        BayesTuneSearch(SPACE, metric="loss", mode="minimize")
    with pytest.raises(RuntimeError, match="metric and mode"):
        BayesTuneSearch(SPACE).suggest("t")
    with pytest.raises(RuntimeError, match="no search space"):
        BayesTuneSearch(metric="loss", mode="min").suggest("t")
    with pytest.raises(bt.InvalidParamError):
        _random_search(points_to_evaluate=[{"x": 99.0, "k": 1}])


def test_points_evaluated_elsewhere_warm_start_the_study():
    search = _random_search()
    search.add_evaluated_point({"x": 1.0, "k": 1}, 1.0)
    search.add_evaluated_point({"x": 2.0, "k": 2}, 0.0, error=True)
    assert [t.state for t in search.study.trials] == [TrialState.COMPLETE, TrialState.FAILED]


# -- a real local Ray ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    # Send the trainable by value: Ray's workers then never import this module (nor
    # bayestune, nor torch), which keeps each trial's start cheap.
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.mark.slow
def test_tune_runs_the_gp_search_with_concurrency_2_and_a_failing_trial(local_ray, tmp_path):
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter

    search = BayesTuneSearch(SPACE, metric="loss", mode="min", seed=0,
                             points_to_evaluate=[BOOM])  # the default GP sampler
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(search, max_concurrent=2), num_samples=8,
            scheduler=ASHAScheduler(metric="loss", mode="min", max_t=3, grace_period=1)),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="bt", verbose=0),
    )
    results = tuner.fit()
    trials = search.study.trials
    assert len(trials) == 8 and len(results) == 8
    failed = [t for t in trials if t.state is TrialState.FAILED]
    assert len(failed) == 1 and failed[0].params == BOOM
    done = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(done) == 7
    assert all(t.value == pytest.approx(loss(t.params) + 1.0 / max(t.intermediate_values))
               for t in done)
    best = results.get_best_result(metric="loss", mode="min")
    assert search.study.best_value == pytest.approx(best.metrics["loss"])
    assert search.study.best_params == {k: best.config[k] for k in ("x", "k")}
    assert len(results.errors) == 1
