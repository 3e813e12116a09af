"""Plots of a search: convergence, importance, the GP posterior and acquisition, the LR
range test, training curves.

Each plot is one module (``bayestune/plot/_slice.py``, ``_convergence.py``, ...) that
holds its data function and its drawing function side by side. The data function
(``posterior_slice_data``, ...) returns a frozen dataclass of plain NumPy arrays, so the
numbers can be checked, or drawn with another library; the drawing function
(``posterior_slice``, ...) takes a study (or that data) and an optional matplotlib
``ax``, draws on it and returns it (a ``Figure`` for grids of plots).

matplotlib is an optional extra (``pip install "bayestune[plot]"``), imported inside the
drawing functions: importing this package, or calling a data function, does not import it.
"""

from __future__ import annotations

from bayestune._lazy import lazy_exports

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
    "training_curves",
    "update_ratio",
    # data
    "convergence_data",
    "parallel_coordinates_data",
    "lr_range_data",
    "importance_data",
    "posterior_slice_data",
    "posterior_contour_data",
    "acquisition_slice_data",
    "training_curves_data",
    "update_ratio_data",
    "sobol_indices",
    "fit_surrogate",
    "ConvergenceData",
    "ParallelCoordinatesData",
    "LRRangeData",
    "ImportanceData",
    "SliceData",
    "ContourData",
    "AcquisitionSliceData",
    "TrainingCurvesData",
    "TrialCurves",
    "UpdateRatioData",
]

__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "bayestune.plot._convergence": ["convergence", "convergence_data", "ConvergenceData"],
    "bayestune.plot._parallel_coordinates": [
        "parallel_coordinates", "parallel_coordinates_data", "ParallelCoordinatesData"],
    "bayestune.plot._lr_range": ["lr_range", "lr_range_data", "LRRangeData"],
    "bayestune.plot._importance": ["importance", "importance_data", "ImportanceData"],
    "bayestune.plot._slice": ["posterior_slice", "posterior_slices", "posterior_slice_data",
                              "SliceData"],
    "bayestune.plot._contour": ["posterior_contour", "posterior_contour_data", "ContourData"],
    "bayestune.plot._acquisition": ["acquisition_slice", "acquisition_slice_data",
                                    "AcquisitionSliceData"],
    "bayestune.plot._training_curves": ["training_curves", "training_curves_data",
                                        "TrainingCurvesData", "TrialCurves"],
    "bayestune.plot._update_ratio": ["update_ratio", "update_ratio_data", "UpdateRatioData"],
    "bayestune.diagnostics._surrogate": ["fit_surrogate", "sobol_indices"],
})
