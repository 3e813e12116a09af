"""The docs site builds in strict mode, its pages exist, and the README opens with the two
commands that CI runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _nav_pages(nav) -> list[str]:
    pages: list[str] = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            pages += _nav_pages(value)
        else:
            pages.append(value)
    return pages


def test_every_page_in_the_nav_exists_and_every_page_is_in_the_nav():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = _nav_pages(config["nav"])
    missing = [p for p in pages if not (ROOT / "docs" / p).is_file()]
    assert not missing, f"nav pages missing from docs/: {missing}"
    orphans = sorted({p.name for p in (ROOT / "docs").glob("*.md")} - set(pages))
    assert not orphans, f"docs pages not in the nav of mkdocs.yml: {orphans}"


def test_readme_starts_with_the_install_and_test_commands():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip() == \
        'pip install torch==2.13.0 && pip install -e ".[dev]" && bayestune demo'
    assert blocks[1].strip() == "python -m pytest -q"
    assert text.index(blocks[1]) < text.index("## Quickstart")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q" in ci and 'pip install -q -e ".[dev]"' in ci


def test_readme_quickstart_is_the_public_contract():
    text = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    for line in ("study = bt.Study(space, direction=\"minimize\", seed=0)",
                 "trial = study.ask()", "study.tell(trial, loss)",
                 "print(study.best_params, study.best_value, study.best_trial)"):
        assert line in code


def test_readme_quickstart_runs():
    import math

    text = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]

    def train(lr, momentum, dropout, weight_decay, batch_size, optimizer):
        return math.nan if lr > 0.3 else (math.log10(lr) + 3) ** 2 + dropout

    code = code.replace("range(40)", "range(12)").replace("print(", "(")
    namespace = {"train": train}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    assert len(namespace["study"].trials) == 12


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings")
    exe = shutil.which("mkdocs")
    cmd = [exe] if exe else [sys.executable, "-m", "mkdocs"]
    out = subprocess.run([*cmd, "build", "--strict", "-d", str(tmp_path / "site")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (tmp_path / "site" / "gp-sampler" / "index.html").is_file()
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert 'id="bayestune.study.Study"' in api


def _section_code(page: str, heading: str) -> str:
    text = (ROOT / "docs" / page).read_text()
    return re.findall(r"```python\n(.*?)```", text.split(heading, 1)[1], re.S)[0]


@pytest.mark.slow
def test_the_deep_learning_complete_example_runs_on_digits():
    """The first example a deep-learning user copies: LR range test, narrowed space, the
    classic starts enqueued, pruned training runs (fewer trials and epochs, same code)."""
    pytest.importorskip("sklearn")
    torch = pytest.importorskip("torch")
    from dl_helpers import digits_tensors  # noqa: PLC0415

    code = _section_code("deep-learning.md", "## A complete example")
    short = code.replace("n_trials=40", "n_trials=3").replace("epochs=20", "epochs=2")
    assert short.count("n_trials=3") == 1 and short.count("epochs=2,") == 1
    X_train, y_train, X_val, y_val = digits_tensors()
    namespace = {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        exec(compile(short.replace("print(", "("), "deep-learning.md", "exec"),  # noqa: S102
             namespace)
    finally:
        torch.set_num_threads(threads)
    study, space = namespace["study"], namespace["space"]
    assert len(study.trials) == 3
    low, high = namespace["result"].suggested_range
    assert (space["lr"].low, space["lr"].high) == (low, high)
    assert study.trials[0].params["lr"] == min(max(3e-4, low), high)  # the first classic start
