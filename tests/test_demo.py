"""`bayestune demo`: a real tuning run, a report on disk, the best configuration printed."""

from __future__ import annotations

import base64
import math
import re
import time

import pytest

import bayestune as bt
from bayestune import demo

pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def _agg(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_synthetic_loss_fails_above_the_divergence_lr_and_is_best_near_the_best_lr():
    good = {"optimizer": "adam", "lr": 3e-3, "weight_decay": 1e-4, "dropout": 0.15,
            "batch_size": 64, "hidden": 128}
    assert demo.synthetic_loss(good) == pytest.approx(0.08)
    assert math.isnan(demo.synthetic_loss({**good, "lr": 0.5}))
    assert demo.synthetic_loss({**good, "lr": 3e-2}) > demo.synthetic_loss(good)
    assert demo.demo_space().contains(demo.CLASSIC_CONFIG)


def test_run_demo_writes_plots_and_a_self_contained_page(tmp_path):
    out = tmp_path / "report"
    res = demo.run_demo(storage="memory", n_trials=12, out_dir=out, seed=1,
                        show_progress_bar=False, problem="synthetic")
    assert res.problem == "synthetic" and res.storage == "memory"
    assert res.n_trials == 12 and res.n_total == 12
    assert res.n_complete + res.n_pruned + res.n_failed == 12
    assert demo.demo_space().contains(res.best_params)
    assert res.best_value == pytest.approx(demo.synthetic_loss(res.best_params))
    assert {"convergence", "importance", "posterior", "contour"} <= set(res.images)
    for path in res.images.values():
        assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = res.report.read_text()
    assert res.report == out / "report.html"
    # every image inlined, nothing linked: the page stands alone
    inlined = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(inlined) == len(res.images)
    assert base64.b64decode(inlined[0])[:4] == b"\x89PNG"
    assert "src='http" not in page and ".png'" not in page
    assert "Best configuration" in page and f"{res.best_value:.6g}" in page


def test_the_first_trial_is_the_classic_configuration(tmp_path):
    res = demo.run_demo(storage="memory", n_trials=1, out_dir=None, show_progress_bar=False,
                        problem="synthetic")
    assert res.best_params == demo.CLASSIC_CONFIG and res.report is None


def test_run_demo_continues_a_stored_study(tmp_path):
    db = tmp_path / "demo.db"
    first = demo.run_demo(storage=str(db), n_trials=3, out_dir=None, show_progress_bar=False,
                          problem="synthetic")
    again = demo.run_demo(storage=f"sqlite:///{db}", n_trials=2, out_dir=None,
                          show_progress_bar=False, problem="synthetic")
    assert first.n_total == 3 and again.n_total == 5
    stored = bt.load_study(str(db), "digits-mlp")
    assert len(stored.trials) == 5 and stored.best_value == again.best_value


def test_run_demo_rejects_bad_arguments():
    with pytest.raises(bt.InvalidValueError):
        demo.run_demo(storage="memory", n_trials=0, out_dir=None, problem="synthetic")
    with pytest.raises(bt.InvalidValueError):
        demo.run_demo(storage="memory", n_trials=1, out_dir=None, problem="mnist")


def test_main_prints_the_best_configuration(tmp_path, capsys):
    code = demo.main(["--storage", "memory", "--n-trials", "6", "--out-dir",
                      str(tmp_path / "r"), "--problem", "synthetic", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Best validation loss:" in out and "Best configuration:" in out
    for name in demo.demo_space().names:
        assert re.search(rf"^  {name}\s+\S+", out, re.M), name
    assert f"Report: {tmp_path / 'r' / 'report.html'}" in out


def test_cli_demo_prints_through_the_command(tmp_path, capsys):
    from bayestune import cli

    code = cli.main(["demo", "--storage", str(tmp_path / "d.db"), "--n-trials", "5",
                     "--out-dir", str(tmp_path / "r"), "--no-progress"] +
                    (["--problem", "synthetic"] if _cli_has_problem() else []))
    assert code == 0
    out = capsys.readouterr().out
    assert "Best configuration:" in out and (tmp_path / "r" / "report.html").exists()


def _cli_has_problem() -> bool:
    from bayestune import cli

    sub = cli.build_parser()._subparsers._group_actions[0].choices["demo"]  # noqa: SLF001
    return any("--problem" in a.option_strings for a in sub._actions)  # noqa: SLF001


@pytest.mark.slow
def test_the_digits_demo_finishes_well_within_two_minutes(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("torch")
    start = time.perf_counter()
    res = demo.run_demo(storage=str(tmp_path / "demo.db"), out_dir=tmp_path / "report",
                        show_progress_bar=False)
    elapsed = time.perf_counter() - start
    assert res.problem == "digits" and res.n_total == 20
    # an untrained MLP scores ln(10) = 2.30; the tuned one is far below
    assert res.best_value < 0.5
    assert {"convergence", "importance", "posterior"} <= set(res.images)
    assert elapsed < 120.0, f"the demo took {elapsed:.0f} s"
