"""Plots of a search: convergence, importance, the GP posterior and acquisition, the LR
range test.

Each plotting function takes a study (or the data computed from it) and an optional
matplotlib ``ax``, draws on it and returns it (a ``Figure`` for grids of plots). The
numbers behind each plot come from a ``*_data`` function that returns plain NumPy
arrays, so they can be checked or drawn with another library.

matplotlib is an optional extra (``pip install "bayestune[plot]"``); importing this
package does not import it.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    # drawing (matplotlib)
    "convergence",
    "parallel_coordinates",
    "lr_range",
    "importance",
    "posterior_slice",
    "posterior_slices",
    "posterior_contour",
    "acquisition_slice",
    # data
    "convergence_data",
    "parallel_coordinates_data",
    "lr_range_data",
    "importance_data",
    "posterior_slice_data",
    "posterior_contour_data",
    "acquisition_slice_data",
    "sobol_indices",
    "fit_surrogate",
    "ConvergenceData",
    "ParallelCoordinatesData",
    "LRRangeData",
    "ImportanceData",
    "SliceData",
    "ContourData",
    "AcquisitionSliceData",
    # training curves and update ratios (issue 7)
    "training_curves",
    "update_ratio",
    "training_curves_data",
    "update_ratio_data",
    "TrainingCurvesData",
    "TrialCurves",
    "UpdateRatioData",
]

# Names served by other modules than the two above.
_MODULES = {
    "training_curves": "bayestune.plot.training",
    "update_ratio": "bayestune.plot.training",
    "training_curves_data": "bayestune.plot._training_data",
    "update_ratio_data": "bayestune.plot._training_data",
    "TrainingCurvesData": "bayestune.plot._training_data",
    "TrialCurves": "bayestune.plot._training_data",
    "UpdateRatioData": "bayestune.plot._training_data",
}

_DRAWING = {
    "convergence", "parallel_coordinates", "lr_range", "importance", "posterior_slice",
    "posterior_slices", "posterior_contour", "acquisition_slice",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(_MODULES[name])
    elif name in _DRAWING:
        module = importlib.import_module("bayestune.plot.matplotlib")
    elif name in __all__:
        module = importlib.import_module("bayestune.plot._data")
    else:
        raise AttributeError(f"module 'bayestune.plot' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
