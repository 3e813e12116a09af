"""The posterior panels: importance, slices, acquisition and contour of one fit.

Each is the public ``bayestune.plot`` data function called on the fit's frozen copy of
the study with the fitted surrogate and next suggestion passed in (so nothing refits),
converted to JSON once per fit and view.
"""

from __future__ import annotations

from typing import Any

from bayestune import plot

from ._fits import Fit
from ._json import jsonable

__all__ = ["fit_info", "importance", "posterior_slice", "acquisition", "contour"]


def fit_info(fit: Fit | None, stale: bool) -> dict[str, Any]:
    """Which fit a panel shows: ``status`` is ``"ready"``, ``"fitting"`` (no fit yet)
    or ``"unavailable"`` (``message`` says why); ``stale`` while a newer one runs."""
    if fit is None:
        return {"status": "fitting", "stale": stale}
    info = {"status": "ready" if fit.surrogate is not None else "unavailable",
            "stale": stale, "fit_id": f"{fit.key[0]}-{fit.key[1]}",
            "seconds": round(fit.seconds, 3), **fit.counts}
    if fit.message:
        info["message"] = fit.message
    return info


def _panel(fit: Fit | None, stale: bool, key: tuple[Any, ...], compute: Any
           ) -> dict[str, Any]:
    info = fit_info(fit, stale)
    if fit is None or fit.surrogate is None:
        return info
    info["data"] = fit.derived(key, lambda: jsonable(compute(fit)))
    if fit.next_params is not None:
        info["next_params"] = jsonable(fit.next_params)
    return info


def importance(fit: Fit | None, stale: bool) -> dict[str, Any]:
    """:func:`bayestune.plot.importance_data` (computed with the fit)."""
    info = fit_info(fit, stale)
    if fit is not None and fit.surrogate is not None:
        if fit.importance is None:
            info["status"], info["message"] = "unavailable", "importance could not be computed"
        else:
            info["data"] = jsonable(fit.importance)
    return info


def posterior_slice(fit: Fit | None, stale: bool, param: str) -> dict[str, Any]:
    """:func:`bayestune.plot.posterior_slice_data` along ``param``."""
    return _panel(fit, stale, ("slice", param), lambda f: plot.posterior_slice_data(
        f.study, param, surrogate=f.surrogate))


def acquisition(fit: Fit | None, stale: bool, param: str) -> dict[str, Any]:
    """:func:`bayestune.plot.acquisition_slice_data` (log EI and P(ok)) along ``param``."""
    return _panel(fit, stale, ("acquisition", param), lambda f: plot.acquisition_slice_data(
        f.study, param, surrogate=f.surrogate, next_params=f.next_params))


def contour(fit: Fit | None, stale: bool, x: str, y: str) -> dict[str, Any]:
    """:func:`bayestune.plot.posterior_contour_data` over ``x`` and ``y``."""
    return _panel(fit, stale, ("contour", x, y), lambda f: plot.posterior_contour_data(
        f.study, x, y, surrogate=f.surrogate, next_params=f.next_params))
