"""BayesSearchCV's search space in scikit-learn's and scikit-optimize's spellings: each
read as meant, or refused with a typed error, never misread."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

import bayestune as bt  # noqa: E402
from bayestune._sklearn_space import as_space  # noqa: E402
from bayestune.sklearn import BayesSearchCV  # noqa: E402


@pytest.mark.parametrize("written, expected", [
    ((1e-2, 1e3, "log-uniform"), bt.Float(1e-2, 1e3, log=True)),
    ([1e-2, 1e3, "log-uniform"], bt.Float(1e-2, 1e3, log=True)),
    ((0.0, 1.0, "uniform"), bt.Float(0.0, 1.0)),
    ((1, 1024, "log-uniform", 2), bt.Int(1, 1024, log=True)),
    ((1, 8, "uniform"), bt.Int(1, 8)),
    ((1, 8), bt.Int(1, 8)),
    ((1, 8.0), bt.Float(1.0, 8.0)),
    ((0.1, 0.9), bt.Float(0.1, 0.9)),
    (("rbf", "linear"), bt.Categorical(("rbf", "linear"))),
    ((1, 2, 3), bt.Categorical((1, 2, 3))),
    (("a", "b", "log-uniform"), bt.Categorical(("a", "b", "log-uniform"))),
    ([0.1, 1.0], bt.Categorical((0.1, 1.0))),  # a list: candidate values, as GridSearchCV
])
def test_scikit_optimize_shorthand_is_read_as_skopt_reads_it(written, expected):
    space, _ = as_space({"p": written})
    assert space["p"] == expected


def test_a_bad_shorthand_range_names_the_parameter():
    with pytest.raises(bt.InvalidSpaceError, match="'C'.*log=True needs low > 0"):
        as_space({"C": (0.0, 1.0, "log-uniform")})
    with pytest.raises(bt.InvalidSpaceError, match="'C'.*low must be < high"):
        as_space({"C": (5, 1)})


def test_several_sub_spaces_are_refused_with_a_typed_error():
    for spaces in ([({"C": (1e-2, 1e2, "log-uniform")}, 8), ({"gamma": (1e-3, 1.0)}, 4)],
                   [{"C": (1e-2, 1e2)}, {"gamma": (1e-3, 1.0)}]):
        with pytest.raises(bt.InvalidSpaceError, match="sub-spaces"):
            as_space(spaces)


def test_scikit_optimize_dimension_objects_are_converted():
    skopt_space = pytest.importorskip("skopt.space")
    space, decode = as_space({
        "C": skopt_space.Real(1e-2, 1e3, prior="log-uniform"),
        "gamma": skopt_space.Real(0.1, 0.9),
        "degree": skopt_space.Integer(1, 5),
        "n": skopt_space.Integer(1, 1024, prior="log-uniform", base=2),
        "kernel": skopt_space.Categorical(["rbf", "poly"]),
        "scaler": skopt_space.Categorical([StandardScaler(), "passthrough"]),
    })
    assert space["C"] == bt.Float(1e-2, 1e3, log=True)
    assert space["gamma"] == bt.Float(0.1, 0.9)
    assert space["degree"] == bt.Int(1, 5) and space["n"] == bt.Int(1, 1024, log=True)
    assert space["kernel"] == bt.Categorical(("rbf", "poly"))
    assert space["scaler"] == bt.Categorical((0, 1))  # objects, searched by position
    assert isinstance(decode({"scaler": 0})["scaler"], StandardScaler)


def test_an_unknown_skopt_prior_is_refused():
    class Real:  # a stand-in with a prior we cannot search
        low, high, prior = 1.0, 2.0, "normal"

    with pytest.raises(bt.InvalidSpaceError, match="'normal'"):
        as_space({"x": Real()})


def test_a_skopt_user_can_pass_search_spaces_with_the_tuple_shorthand():
    X, y = load_wine(return_X_y=True)
    seen = []

    class RecordingSVC(SVC):
        def fit(self, X, y, sample_weight=None):
            seen.append((self.C, self.gamma))
            return super().fit(X, y, sample_weight)

    search = BayesSearchCV(
        make_pipeline(StandardScaler(), RecordingSVC()),
        search_spaces={"recordingsvc__C": (1e-2, 1e3, "log-uniform"),
                       "recordingsvc__gamma": (1e-4, 1e0, "log-uniform")},
        n_iter=3, cv=3, random_state=0, sampler=bt.samplers.RandomSampler(seed=0),
    ).fit(X, y)
    assert seen and all(isinstance(c, float) and 1e-2 <= c <= 1e3 for c, _ in seen)
    assert all(isinstance(g, float) and 1e-4 <= g <= 1.0 for _, g in seen)
    assert search.study_.space["recordingsvc__C"] == bt.Float(1e-2, 1e3, log=True)
    assert search.get_params()["search_spaces"] is search.search_spaces


def test_the_space_is_given_exactly_once():
    X, y = load_wine(return_X_y=True)
    for kw in ({}, {"space": {"C": (1.0, 2.0)}, "search_spaces": {"C": (1.0, 2.0)}}):
        with pytest.raises(bt.InvalidSpaceError, match="search_spaces="):
            BayesSearchCV(SVC(), n_iter=2, **kw).fit(X, y)
