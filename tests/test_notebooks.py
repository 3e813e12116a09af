"""The example notebooks: committed with their outputs, in step with notebooks/build.py,
and each one runs top to bottom (slow: executed with nbclient)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
nbformat = pytest.importorskip("nbformat")


def _builder():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


BUILD = _builder()
NAMES = sorted(BUILD.NOTEBOOKS)


def test_every_notebook_is_committed():
    assert NAMES, "notebooks/build.py defines no notebook"
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_with_its_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), \
        f"{name}: run `python notebooks/build.py {name[:2]}` to execute it"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{name}: a cell raised {errors[0].ename}: {errors[0].evalue}"
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{name}: no plot in the outputs"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_matches_its_source_in_build_py(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    expected = [(c.cell_type, c.source) for c in BUILD.build(name).cells]
    assert [(c.cell_type, c.source) for c in nb.cells] == expected, \
        f"{name} differs from notebooks/build.py: edit the cells there and rebuild"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    if name in ("03_lr_range_test.ipynb", "04_tuning_digits.ipynb"):
        pytest.importorskip("torch")
        pytest.importorskip("sklearn")
    shutil.copy(NOTEBOOKS / name, tmp_path / name)
    nb = nbformat.read(tmp_path / name, as_version=4)
    BUILD.execute(nb, tmp_path, timeout=600)  # raises CellExecutionError on a failing cell
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
