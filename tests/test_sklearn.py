"""BayesSearchCV: scikit-learn's conventions, its results format, and search quality."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from scipy.stats import loguniform  # noqa: E402
from sklearn.base import BaseEstimator, RegressorMixin, clone, is_classifier  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GroupKFold,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import bayestune as bt  # noqa: E402
from bayestune.sklearn import BayesSearchCV  # noqa: E402

RANDOM = bt.samplers.RandomSampler


@pytest.fixture(scope="module")
def wine():
    return load_wine(return_X_y=True)


def wine_search(**kw):
    kw.setdefault("n_iter", 5)
    kw.setdefault("cv", 3)
    kw.setdefault("sampler", RANDOM(seed=0))
    return BayesSearchCV(
        make_pipeline(StandardScaler(), RidgeClassifier(tol=1e-4)),
        {"ridgeclassifier__alpha": bt.Float(1e-3, 1e3, log=True)}, **kw,
    )


class FlakyRegressor(RegressorMixin, BaseEstimator):
    """Predicts the (weighted) mean; fails to fit when ``alpha > fail_above``; records the
    fit keyword arguments it saw."""

    def __init__(self, alpha: float = 1.0, fail_above: float = np.inf) -> None:
        self.alpha = alpha
        self.fail_above = fail_above

    def fit(self, X, y, sample_weight=None):
        if self.alpha > self.fail_above:
            raise RuntimeError(f"cannot fit with alpha={self.alpha}")
        self.n_weights_ = None if sample_weight is None else len(sample_weight)
        self.mean_ = np.average(y, weights=sample_weight) - 0.1 * self.alpha
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


# -- the results format --------------------------------------------------------------------

def test_cv_results_have_the_keys_and_shapes_of_randomized_search(wine):
    X, y = wine
    ours = wine_search(return_train_score=True).fit(X, y)
    theirs = RandomizedSearchCV(
        ours.estimator, {"ridgeclassifier__alpha": loguniform(1e-3, 1e3)}, n_iter=5, cv=3,
        return_train_score=True, random_state=0,
    ).fit(X, y)
    assert list(ours.cv_results_) == list(theirs.cv_results_)
    r = ours.cv_results_
    assert all(len(v) == 5 for v in r.values())
    assert r["rank_test_score"].dtype == theirs.cv_results_["rank_test_score"].dtype
    assert r["param_ridgeclassifier__alpha"].dtype == \
        theirs.cv_results_["param_ridgeclassifier__alpha"].dtype
    splits = np.stack([r[f"split{k}_test_score"] for k in range(3)], axis=1)
    np.testing.assert_allclose(r["mean_test_score"], splits.mean(axis=1))
    np.testing.assert_allclose(r["std_test_score"], splits.std(axis=1))
    assert r["rank_test_score"][ours.best_index_] == 1
    assert ours.best_score_ == pytest.approx(r["mean_test_score"].max())
    assert ours.best_params_ == r["params"][ours.best_index_]
    assert ours.n_splits_ == 3 and not ours.multimetric_ and ours.refit_time_ > 0


def test_each_candidate_is_scored_like_cross_val_score_on_the_same_folds(wine):
    X, y = wine
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = wine_search(cv=cv).fit(X, y)
    for i in (0, 3):
        est = clone(search.estimator).set_params(**search.cv_results_["params"][i])
        expected = cross_val_score(est, X, y, cv=cv)
        got = [search.cv_results_[f"split{k}_test_score"][i] for k in range(3)]
        np.testing.assert_allclose(got, expected)


def test_the_study_holds_every_candidate(wine):
    X, y = wine
    search = wine_search(n_iter=4).fit(X, y)
    study = search.study_
    assert isinstance(study, bt.Study) and study.direction == "maximize"
    assert len(study.trials) == 4
    assert study.best_value == pytest.approx(search.best_score_)
    assert study.best_params == search.best_params_
    cv = study.trials[0].user_attrs["cv"]
    assert len(cv["test"]["score"]) == 3 and len(cv["fit_time"]) == 3


def test_cv_results_load_into_a_dataframe(wine):
    pd = pytest.importorskip("pandas")
    X, y = wine
    df = pd.DataFrame(wine_search(n_iter=3).fit(X, y).cv_results_)
    assert df.shape[0] == 3 and "mean_test_score" in df


# -- refit and delegation ------------------------------------------------------------------

def test_refit_estimator_serves_predict_and_score(wine):
    X, y = wine
    search = wine_search().fit(X, y)
    best = search.best_estimator_
    assert best.get_params()["ridgeclassifier__alpha"] == \
        search.best_params_["ridgeclassifier__alpha"]
    np.testing.assert_array_equal(search.predict(X), best.predict(X))
    assert not hasattr(search, "predict_proba")  # RidgeClassifier has none
    np.testing.assert_allclose(search.decision_function(X), best.decision_function(X))
    assert search.score(X, y) == pytest.approx(best.score(X, y))
    np.testing.assert_array_equal(search.classes_, [0, 1, 2])
    assert search.n_features_in_ == X.shape[1]
    assert not hasattr(search, "transform")  # the pipeline ends in a classifier


def test_refit_false_keeps_best_params_but_has_no_estimator(wine):
    X, y = wine
    search = wine_search(refit=False).fit(X, y)
    assert "ridgeclassifier__alpha" in search.best_params_
    assert not hasattr(search, "best_estimator_")
    assert not hasattr(search, "predict")
    with pytest.raises(AttributeError, match="refit"):
        search.score(X, y)


def test_refit_callable_chooses_the_index(wine):
    X, y = wine
    search = wine_search(refit=lambda results: 2).fit(X, y)
    assert search.best_index_ == 2
    assert search.best_params_ == search.cv_results_["params"][2]
    assert not hasattr(search, "best_score_")  # as in scikit-learn


def test_fitted_search_pickles(wine):
    X, y = wine
    search = wine_search(n_iter=3).fit(X, y)
    back = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(back.predict(X), search.predict(X))
    assert [t.params for t in back.study_.trials] == [t.params for t in search.study_.trials]


# -- estimator conventions -----------------------------------------------------------------

def test_clone_get_params_and_set_params():
    search = wine_search(n_iter=7, random_state=3)
    params = search.get_params()
    assert params["n_iter"] == 7 and params["estimator__ridgeclassifier__alpha"] == 1.0
    twin = clone(search)
    assert twin is not search
    assert {k: v for k, v in twin.get_params(deep=False).items() if k not in ("estimator",
            "sampler")} == {k: v for k, v in params.items()
                            if k in twin.get_params(deep=False) and k not in ("estimator",
                                                                              "sampler")}
    twin.set_params(n_iter=2, estimator__ridgeclassifier__tol=0.01)
    assert twin.n_iter == 2 and twin.estimator[-1].tol == 0.01
    assert search.n_iter == 7 and search.estimator[-1].tol == 1e-4
    assert is_classifier(search) and not is_classifier(BayesSearchCV(Ridge(), {}))


@pytest.mark.parametrize("estimator, space", [
    (Ridge(), {"alpha": bt.Float(0.1, 10.0, log=True)}),
    (make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": bt.Float(0.1, 10.0, log=True)}),
    (DecisionTreeClassifier(random_state=0), {"max_depth": bt.Int(1, 5)}),
], ids=["regressor", "pipeline", "classifier"])
def test_passes_scikit_learn_estimator_checks(estimator, space):
    search = BayesSearchCV(estimator, space, n_iter=2, cv=2, sampler=RANDOM(seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(search, on_fail=None)
    failed = {r["check_name"]: repr(r["exception"])[:200] for r in results
              if r["status"] == "failed"}
    assert not failed


def test_works_as_a_pipeline_step_and_inside_cross_val_score(wine):
    X, y = wine
    inner = BayesSearchCV(LogisticRegression(max_iter=500), {"C": bt.Float(1e-2, 10.0, log=True)},
                          n_iter=3, cv=2, sampler=RANDOM(seed=1))
    pipe = Pipeline([("scale", StandardScaler()), ("search", inner)]).fit(X, y)
    assert pipe.score(X, y) > 0.9
    assert pipe.named_steps["search"].best_params_["C"] > 0
    np.testing.assert_allclose(pipe.predict_proba(X).sum(axis=1), 1.0)  # delegated
    scores = cross_val_score(inner, StandardScaler().fit_transform(X), y, cv=2)  # nested CV
    assert scores.shape == (2,) and (scores > 0.8).all()


# -- the search space ----------------------------------------------------------------------

def test_space_as_a_dict_of_lists_holding_objects(wine):
    X, y = wine
    search = BayesSearchCV(
        Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]),
        {"clf": [LogisticRegression(max_iter=300), KNeighborsClassifier()],
         "scale": [StandardScaler(), MinMaxScaler()]},
        n_iter=6, cv=2, sampler=RANDOM(seed=0),
    ).fit(X, y)
    combos = {(type(p["clf"]).__name__, type(p["scale"]).__name__)
              for p in search.cv_results_["params"]}
    assert combos == {(c, s) for c in ("LogisticRegression", "KNeighborsClassifier")
                      for s in ("StandardScaler", "MinMaxScaler")}
    # the objects themselves reach the estimator, and the refit one is the best's
    best = search.best_estimator_.named_steps
    assert type(best["clf"]) is type(search.best_params_["clf"])
    assert type(best["scale"]) is type(search.best_params_["scale"])
    assert search.study_.space["clf"] == bt.Categorical((0, 1))


def test_space_as_a_bayestune_space(wine):
    X, y = wine
    space = bt.Space({"C": bt.Float(1e-2, 10.0, log=True), "fit_intercept": bt.Categorical(
        [True, False])})
    search = BayesSearchCV(LogisticRegression(max_iter=300), space, n_iter=3, cv=2,
                           sampler=RANDOM(seed=0)).fit(StandardScaler().fit_transform(X), y)
    assert set(search.best_params_) == {"C", "fit_intercept"}
    assert search.study_.space == space


def test_bad_space_and_arguments_raise_typed_errors(wine):
    X, y = wine
    est = LogisticRegression()
    with pytest.raises(bt.InvalidSpaceError, match="scipy distributions"):
        BayesSearchCV(est, {"C": loguniform(1e-3, 1)}).fit(X, y)
    with pytest.raises(bt.InvalidSpaceError, match="empty"):
        BayesSearchCV(est, {"C": []}).fit(X, y)
    with pytest.raises(bt.InvalidParamError, match="'Cee'"):
        BayesSearchCV(est, {"Cee": bt.Float(0.1, 1.0)}).fit(X, y)
    with pytest.raises(bt.InvalidValueError, match="n_iter"):
        BayesSearchCV(est, {"C": bt.Float(0.1, 1.0)}, n_iter=0).fit(X, y)
    with pytest.raises(bt.InvalidValueError, match="random_state"):
        BayesSearchCV(est, {"C": bt.Float(0.1, 1.0)}, random_state="zero").fit(X, y)
    with pytest.raises(bt.InvalidValueError, match="refit must name"):
        BayesSearchCV(est, {"C": bt.Float(0.1, 1.0)}, scoring=["accuracy", "f1_macro"]).fit(X, y)
    with pytest.raises(ValueError):  # also a ValueError for callers who do not know bayestune
        BayesSearchCV(est, {"C": bt.Float(0.1, 1.0)}, n_iter=-1).fit(X, y)


# -- scoring, fit params, groups, failures -------------------------------------------------

def test_several_metrics_optimize_the_refit_one(wine):
    X, y = wine
    search = wine_search(scoring={"acc": "accuracy", "f1": "f1_macro"}, refit="f1").fit(X, y)
    r = search.cv_results_
    assert search.multimetric_
    for key in ("mean_test_acc", "rank_test_acc", "split2_test_f1", "rank_test_f1"):
        assert key in r
    assert search.best_index_ == int(np.argmax(r["mean_test_f1"]))
    assert search.best_score_ == pytest.approx(r["mean_test_f1"].max())
    assert search.study_.best_value == pytest.approx(search.best_score_)
    from sklearn.metrics import f1_score
    assert search.score(X, y) == pytest.approx(f1_score(y, search.predict(X), average="macro"))


def test_fit_params_are_split_with_the_data_and_groups_reach_the_splitter():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), rng.normal(size=60)
    groups = np.repeat(np.arange(6), 10)
    search = BayesSearchCV(FlakyRegressor(), {"alpha": bt.Float(0.0, 1.0)}, n_iter=2,
                           cv=GroupKFold(3), sampler=RANDOM(seed=0))
    search.fit(X, y, groups=groups, sample_weight=np.ones(60))
    assert search.n_splits_ == 3
    assert search.best_estimator_.n_weights_ == 60  # the refit sees all the weights
    with pytest.raises(ValueError, match="groups"):
        search.fit(X, y)  # GroupKFold without groups


def test_failed_candidates_rank_last_and_the_search_goes_on():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 2)), rng.normal(size=40)
    search = BayesSearchCV(FlakyRegressor(fail_above=0.5), {"alpha": bt.Float(0.0, 1.0)},
                           n_iter=8, cv=2, sampler=RANDOM(seed=0))
    with pytest.warns(UserWarning):
        search.fit(X, y)
    r = search.cv_results_
    failed = np.array([p["alpha"] > 0.5 for p in r["params"]])
    assert failed.any() and (~failed).any()
    assert np.isnan(r["mean_test_score"][failed]).all()
    assert (r["rank_test_score"][failed] > r["rank_test_score"][~failed].max()).all()
    assert search.best_params_["alpha"] <= 0.5
    states = [t.state for t in search.study_.trials]
    assert [s is bt.TrialState.FAILED for s in states] == list(failed)


def test_error_score_raise_propagates_the_fit_error():
    X, y = np.ones((20, 2)), np.arange(20.0)
    search = BayesSearchCV(FlakyRegressor(fail_above=-1.0), {"alpha": bt.Float(0.0, 1.0)},
                           n_iter=3, cv=2, error_score="raise", sampler=RANDOM(seed=0))
    with pytest.raises(RuntimeError, match="cannot fit"):
        search.fit(X, y)


def test_every_candidate_failing_raises_the_cross_validation_error():
    X, y = np.ones((20, 2)), np.arange(20.0)
    search = BayesSearchCV(FlakyRegressor(fail_above=-1.0), {"alpha": bt.Float(0.0, 1.0)},
                           n_iter=3, cv=2, sampler=RANDOM(seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="cannot fit"):
            search.fit(X, y)


# -- search quality ------------------------------------------------------------------------

def test_default_sampler_is_reproducible_with_random_state():
    X, y = load_diabetes(return_X_y=True)

    def search():  # 7 candidates: 5 space-filling ones, then two from the GP
        return BayesSearchCV(Ridge(), {"alpha": bt.Float(1e-3, 1e3, log=True)}, n_iter=7,
                             cv=3, random_state=7).fit(X, y)

    a, b = search(), search()
    assert type(a.study_.sampler).__name__ == "GPSampler"
    assert a.cv_results_["params"] == b.cv_results_["params"]
    assert a.best_score_ == b.best_score_


@pytest.mark.slow
def test_not_worse_than_randomized_search_with_the_same_budget():
    X, y = load_breast_cancer(return_X_y=True)
    est = make_pipeline(StandardScaler(), SVC())
    ours, theirs = [], []
    for seed in (0, 1):
        cv = StratifiedKFold(3, shuffle=True, random_state=seed)
        ours.append(BayesSearchCV(
            est, {"svc__C": bt.Float(1e-2, 1e3, log=True),
                  "svc__gamma": bt.Float(1e-5, 1.0, log=True)},
            n_iter=15, cv=cv, random_state=seed, refit=False,
        ).fit(X, y).best_score_)
        theirs.append(RandomizedSearchCV(
            est, {"svc__C": loguniform(1e-2, 1e3), "svc__gamma": loguniform(1e-5, 1.0)},
            n_iter=15, cv=cv, random_state=seed, refit=False,
        ).fit(X, y).best_score_)
    assert np.mean(ours) >= np.mean(theirs) - 0.005, (ours, theirs)
    assert np.mean(ours) > 0.96  # a well-tuned RBF SVM on this data scores ~0.97-0.98
