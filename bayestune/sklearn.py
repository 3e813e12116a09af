"""scikit-learn: :class:`BayesSearchCV`, a drop-in for ``RandomizedSearchCV`` driven by a study.

Usage::

    import bayestune as bt
    from bayestune.sklearn import BayesSearchCV

    search = BayesSearchCV(
        make_pipeline(StandardScaler(), SVC()),
        {"svc__C": bt.Float(1e-2, 1e3, log=True), "svc__gamma": bt.Float(1e-4, 1, log=True),
         "svc__kernel": ["rbf", "sigmoid"]},
        n_iter=30, cv=5, random_state=0,
    ).fit(X, y)
    search.best_params_, search.best_score_, search.predict(X_test)
"""

from __future__ import annotations

import copy
import inspect
import logging
import numbers
import time
import warnings
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
    from sklearn.metrics import check_scoring, get_scorer
    from sklearn.model_selection import check_cv, cross_validate
    from sklearn.utils import indexable
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.validation import check_is_fitted
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'bayestune.sklearn needs scikit-learn: pip install "bayestune[sklearn]"'
    ) from e

from bayestune._checks import check_int, is_int
from bayestune._sklearn_results import cv_record, cv_results
from bayestune._sklearn_space import as_space
from bayestune.exceptions import InvalidParamError, InvalidSpaceError, InvalidValueError
from bayestune.samplers.base import Sampler
from bayestune.study import Study
from bayestune.trial import Trial

__all__ = ["BayesSearchCV"]

logger = logging.getLogger(__name__)

# scikit-learn 1.4 renamed cross_validate's fit_params to params (and 1.6 dropped the old name)
_FIT_PARAMS_KW = "params" if "params" in inspect.signature(cross_validate).parameters \
    else "fit_params"
_HAS_TAGS = hasattr(BaseEstimator, "__sklearn_tags__")  # scikit-learn >= 1.6


def _estimator_has(attr: str) -> Any:
    """For ``available_if``: the refit estimator (else the unfitted one) has ``attr``."""
    def check(self: BayesSearchCV) -> bool:
        if not self.refit:
            raise AttributeError(f"{attr} is only available after fit with refit=True")
        est = getattr(self, "best_estimator_", self.estimator)
        getattr(est, attr)  # raises AttributeError, which available_if turns into absence
        return True
    return check


def _requires_y(estimator: Any) -> bool:
    if _HAS_TAGS:
        from sklearn.utils import get_tags  # noqa: PLC0415

        return bool(get_tags(estimator).target_tags.required)
    return is_classifier(estimator) or getattr(estimator, "_estimator_type", None) == "regressor"


def _seed(random_state: Any) -> int | None:
    if random_state is None:
        return None
    if is_int(random_state):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    raise InvalidValueError(
        f"random_state must be None, an int or a numpy RandomState, got {random_state!r}"
    )


class BayesSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Cross-validated hyperparameter search by Bayesian optimization.

    Each of the ``n_iter`` candidates is chosen by a bayestune sampler (the GP by
    default) from the cross-validation scores of the previous ones, and scored with
    :func:`sklearn.model_selection.cross_validate` on the same splits. The fitted search
    follows ``GridSearchCV``'s conventions: ``best_params_``, ``best_score_``,
    ``best_estimator_`` (refit on the whole data), ``cv_results_`` (one row per
    candidate, in the order tried), and ``predict``/``score``/... delegating to the best
    estimator, so it can be cloned, nested in a pipeline or cross-validated itself.

    Args:
        estimator: The estimator (or pipeline) to tune.
        space: A :class:`bayestune.Space`, or a dict of parameter name (``"clf__C"`` in a
            pipeline) to ``bt.Float`` / ``bt.Int`` / ``bt.Categorical``, to a list of
            values (a list may hold estimators or other objects), or in
            scikit-optimize's spelling: ``(low, high)`` (ints: integers),
            ``(low, high, "log-uniform")``, or skopt's ``Real`` / ``Integer`` /
            ``Categorical``. A list of several sub-spaces is refused
            (``InvalidSpaceError``).
        search_spaces: scikit-optimize's name for ``space`` (give one of the two).
        n_iter: Number of candidates evaluated.
        scoring: As for ``GridSearchCV``: None (the estimator's ``score``), a scorer
            name or callable, or a list / dict of them (then ``refit`` names the one
            optimized). Greater is better.
        n_jobs: Parallel jobs over the folds of each candidate.
        refit: Refit the best candidate on the whole data (True, or the metric's name
            for several metrics), a callable choosing ``best_index_`` from
            ``cv_results_``, or False.
        cv: Splitting strategy as for ``GridSearchCV``; the splits are drawn once, so
            every candidate sees the same folds.
        verbose: Passed to ``cross_validate``; bayestune itself logs each candidate at
            INFO level on the ``bayestune.sklearn`` logger.
        random_state: Seeds the default sampler (an int, a ``RandomState`` or None).
        error_score: Score of a failed fit (``np.nan``: the candidate counts as failed),
            or ``"raise"``.
        return_train_score: Also record training scores.
        sampler: A bayestune sampler; default ``GPSampler(seed=random_state)``. A copy is
            used, so one instance can serve several searches.

    Attributes:
        study_: The :class:`bayestune.Study` of the search (maximizing the score). Each
            trial keeps its per-split scores and times in ``user_attrs["cv"]``.
        cv_results_: dict of arrays, loadable into a pandas DataFrame.
        best_index_, best_score_, best_params_, best_estimator_, refit_time_, scorer_,
        multimetric_, n_splits_: As in ``GridSearchCV``.
    """

    def __init__(
        self,
        estimator: Any,
        space: Any = None,
        *,
        search_spaces: Any = None,
        n_iter: int = 20,
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: Any = True,
        cv: Any = None,
        verbose: int = 0,
        random_state: Any = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        sampler: Sampler | None = None,
    ) -> None:
        self.estimator = estimator
        self.space = space
        self.search_spaces = search_spaces
        self.n_iter = n_iter
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.random_state = random_state
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.sampler = sampler

    # -- checks --------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_int("n_iter", self.n_iter, low=1)
        if not (self.error_score == "raise" or isinstance(self.error_score, numbers.Number)):
            raise InvalidValueError(
                f"error_score must be 'raise' or a number, got error_score={self.error_score!r}"
            )
        if self.sampler is not None and not isinstance(self.sampler, Sampler):
            raise InvalidValueError(f"sampler must be a bayestune Sampler, got {self.sampler!r}")

    def _space_argument(self) -> Any:
        if (self.space is None) == (self.search_spaces is None):
            raise InvalidSpaceError(
                "give the search space once, as space= or as search_spaces= (scikit-"
                f"optimize's name); got space={self.space!r}, "
                f"search_spaces={self.search_spaces!r}")
        return self.space if self.space is not None else self.search_spaces

    def _scorers(self) -> tuple[Any, list[str], str]:
        """``(scorer_, metric names, metric optimized)``; ``scorer_`` is a dict for several
        metrics (``multimetric_``), and the one metric of a single scorer is ``"score"``."""
        scoring = self.scoring
        if not isinstance(scoring, (list, tuple, set, dict)):
            return check_scoring(self.estimator, scoring), ["score"], "score"
        if not scoring:
            raise InvalidValueError("scoring must not be an empty list or dict")
        items = scoring.items() if isinstance(scoring, dict) else ((s, s) for s in scoring)
        scorers = {name: get_scorer(s) if isinstance(s, str) else check_scoring(self.estimator, s)
                   for name, s in items}
        if not (isinstance(self.refit, str) and self.refit in scorers):
            raise InvalidValueError(
                f"with several metrics, refit must name the one to optimize, one of "
                f"{sorted(scorers)}; got refit={self.refit!r}"
            )
        return scorers, list(scorers), self.refit

    def _check_space_names(self, names: tuple[str, ...]) -> None:
        valid = self.estimator.get_params(deep=True)
        unknown = [n for n in names if n not in valid]
        if unknown:
            raise InvalidParamError(
                f"space names parameter(s) {unknown} that {type(self.estimator).__name__} "
                f"does not have; valid names: {sorted(valid)}"
            )

    # -- fit ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, groups: Any = None, **fit_params: Any) -> BayesSearchCV:
        """Search, then (with ``refit``) fit the best candidate on all of ``X, y``.

        Args:
            X: Training data.
            y: Targets (None for unsupervised estimators).
            groups: Group labels for group-aware splitters.
            **fit_params: Passed to the estimator's ``fit`` (sample-sized arrays are split
                along with ``X``).

        Raises:
            InvalidValueError: for a bad argument (``n_iter``, ``scoring``/``refit``, ...).
            InvalidParamError: when the space names a parameter the estimator lacks.
            InvalidSpaceError: for a space that is neither a Space nor a dict of dims.
            Exception: when cross-validation raised for every candidate, the first such
                error (with ``error_score="raise"``: the first failed fit's error).
        """
        self._check_params()
        space, decode = as_space(self._space_argument())
        self._check_space_names(space.names)
        scorer, metrics, target = self._scorers()
        if y is None and _requires_y(self.estimator):
            raise ValueError(
                f"{type(self.estimator).__name__} requires y to be passed, but the target y "
                f"is None"
            )
        X, y, groups = indexable(X, y, groups)
        splitter = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(splitter.split(X, y, groups))

        sampler = copy.deepcopy(self.sampler)
        study = Study(space, "maximize", sampler=sampler,
                      seed=_seed(self.random_state) if sampler is None else None)

        errors: list[Exception] = []

        def objective(trial: Trial) -> float:
            est = clone(self.estimator).set_params(**decode(trial.params))
            try:
                result = cross_validate(
                    est, X, y, cv=splits, scoring=self.scoring, n_jobs=self.n_jobs,
                    verbose=self.verbose, error_score=self.error_score,
                    return_train_score=self.return_train_score, **{_FIT_PARAMS_KW: fit_params},
                )
            except Exception as e:  # e.g. every fold failed: the trial fails, the search goes on
                errors.append(e)
                raise
            record = cv_record(result, metrics)
            trial.set_user_attr("cv", record)
            score = float(np.mean(record["test"][target]))
            logger.info("candidate %d/%d %s: %s=%.6g", trial.number + 1, self.n_iter,
                        decode(trial.params), target, score)
            return score

        catch = () if self.error_score == "raise" else (Exception,)
        study.optimize(objective, n_trials=int(self.n_iter), catch=catch)
        trials = study.trials
        if errors and len(errors) == len(trials):
            raise errors[0]  # nothing could be evaluated: the first error says why

        self.study_ = study
        self.multimetric_ = isinstance(scorer, dict)
        self.scorer_ = scorer
        self.n_splits_ = len(splits)
        self.cv_results_ = cv_results(trials, decode, metrics, len(splits),
                                      self.return_train_score)
        self._select_best(target)
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_)
            start = time.perf_counter()
            if y is None:
                self.best_estimator_.fit(X, **fit_params)
            else:
                self.best_estimator_.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
        return self

    def _select_best(self, target: str) -> None:
        results = self.cv_results_
        means = results[f"mean_test_{target}"]
        if not np.isfinite(means).all():
            warnings.warn(
                f"{int((~np.isfinite(means)).sum())} of {len(means)} candidates have "
                f"non-finite mean test scores (failed fits)", UserWarning, stacklevel=3,
            )
        if callable(self.refit):
            best = self.refit(results)
            if not is_int(best):
                raise TypeError(f"refit callable must return an int index, got {best!r}")
            if not 0 <= best < len(results["params"]):
                raise IndexError(f"refit callable returned {best}, out of range "
                                 f"[0, {len(results['params'])})")
        else:
            best = int(np.argmin(results[f"rank_test_{target}"]))
        self.best_index_ = int(best)
        self.best_params_ = results["params"][self.best_index_]
        if not callable(self.refit):
            self.best_score_ = float(means[self.best_index_])

    # -- delegation to the best estimator --------------------------------------------------
    def _check_refit(self, method: str) -> None:
        if not self.refit:
            raise AttributeError(
                f"{method} is not available with refit=False; set refit=True (or the "
                f"metric's name) to get a best_estimator_"
            )
        check_is_fitted(self)

    def score(self, X: Any, y: Any = None) -> float:
        """The score of ``best_estimator_`` on ``X, y`` with the search's scorer."""
        self._check_refit("score")
        scorer = self.scorer_[self.refit] if isinstance(self.scorer_, dict) else self.scorer_
        return float(scorer(self.best_estimator_, X, y))

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any) -> Any:
        self._check_refit("predict")
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        self._check_refit("predict_proba")
        return self.best_estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        self._check_refit("predict_log_proba")
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> Any:
        self._check_refit("decision_function")
        return self.best_estimator_.decision_function(X)

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X: Any) -> Any:
        self._check_refit("score_samples")
        return self.best_estimator_.score_samples(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X: Any) -> Any:
        self._check_refit("transform")
        return self.best_estimator_.transform(X)

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        self._check_refit("inverse_transform")
        return self.best_estimator_.inverse_transform(X)

    @property
    def classes_(self) -> Any:
        self._check_refit("classes_")
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self) -> int:
        try:
            check_is_fitted(self)
        except Exception as e:  # NotFittedError: hasattr() must say False before fit
            raise AttributeError(f"{type(self).__name__} has no n_features_in_ before fit") \
                from e
        return self.best_estimator_.n_features_in_

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "study_")

    # -- tags: the search is whatever kind of estimator it tunes ---------------------------
    if _HAS_TAGS:
        def __sklearn_tags__(self) -> Any:
            from sklearn.utils import get_tags  # noqa: PLC0415

            tags = super().__sklearn_tags__()
            inner = get_tags(self.estimator)
            tags.estimator_type = inner.estimator_type
            tags.classifier_tags = copy.deepcopy(inner.classifier_tags)
            tags.regressor_tags = copy.deepcopy(inner.regressor_tags)
            tags.input_tags.pairwise = inner.input_tags.pairwise
            tags.input_tags.sparse = inner.input_tags.sparse
            tags.input_tags.allow_nan = inner.input_tags.allow_nan
            tags.target_tags.required = inner.target_tags.required
            tags.target_tags.multi_output = inner.target_tags.multi_output
            return tags
    else:  # pragma: no cover - scikit-learn < 1.6
        @property
        def _estimator_type(self) -> str | None:
            return getattr(self.estimator, "_estimator_type", None)
