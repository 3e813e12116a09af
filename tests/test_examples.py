"""The ``Examples:`` sections of the docstrings run, and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Modules whose docstring examples run here.
MODULES = [
    "bayestune._checks",
    "bayestune.space",
    "bayestune.study",
    "bayestune.samplers.gp",
    "bayestune.plot._convergence",
    "bayestune.plot._parallel_coordinates",
    "bayestune.plot._lr_range",
    "bayestune.plot._importance",
    "bayestune.plot._slice",
    "bayestune.plot._contour",
    "bayestune.plot._acquisition",
    "bayestune.plot._training_curves",
    "bayestune.plot._update_ratio",
]

#: Public objects that must carry an example.
WITH_EXAMPLES = [
    ("bayestune", "Space"),
    ("bayestune", "Study"),
    *(("bayestune.plot", name) for name in (
        "convergence", "parallel_coordinates", "lr_range", "importance", "posterior_slice",
        "posterior_slices", "posterior_contour", "acquisition_slice", "training_curves",
        "update_ratio")),
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt = importlib.import_module("matplotlib.pyplot") if _has("matplotlib") else None
    if plt is not None:
        plt.close("all")


def _has(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    if name.startswith("bayestune.plot.") and not _has("matplotlib"):
        pytest.skip("the plot examples draw with matplotlib")
    if name.startswith("bayestune.plot."):
        importlib.import_module("matplotlib").use("Agg")
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True)
    assert attempted > 0, f"{name} has no examples"
    assert failed == 0, f"{failed} of {attempted} examples of {name} failed (see the output)"


@pytest.mark.parametrize(("module", "name"), WITH_EXAMPLES)
def test_public_classes_and_plots_carry_an_example(module, name):
    obj = getattr(importlib.import_module(module), name)
    assert "Examples:" in (obj.__doc__ or "") and ">>> " in obj.__doc__, \
        f"{module}.{name} has no Examples: section"
