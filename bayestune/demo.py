"""``bayestune demo``: tune a small network end to end and write a report.

A real tuning run: a two-layer MLP on scikit-learn's digits (8x8 images of handwritten
digits, shipped with scikit-learn, so nothing is downloaded), trained by
:class:`~bayestune.training.TorchObjective` for each configuration the GP proposes,
with median pruning, on the embedded SQLite storage (run it again and the study goes
on where it stopped). The search space includes learning rates large enough to make
training diverge, so the report shows how failed trials steer the search away.

Afterwards it writes the convergence, importance and posterior plots as PNG files and
a self-contained HTML page into ``out_dir`` (see :mod:`bayestune.report`).

Without torch's adapter or scikit-learn (``problem="synthetic"``) it tunes a synthetic
stand-in with the same space, for a quick look.

The library never prints: :func:`run_demo` returns a :class:`DemoResult`;
:func:`main` (the ``bayestune demo`` command) prints it.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bayestune._checks import check_int, check_option
from bayestune.pruners import MedianPruner
from bayestune.report import write_report
from bayestune.samplers import GPSampler
from bayestune.space import Categorical, Float, Int, Space
from bayestune.study import Study
from bayestune.trial import TrialState

__all__ = ["DemoResult", "run_demo", "demo_space", "format_result", "main"]

logger = logging.getLogger(__name__)

Problem = Literal["auto", "digits", "synthetic"]

#: The classic starting point, evaluated first (Karpathy's Adam 3e-4, batch size 32).
CLASSIC_CONFIG: dict[str, Any] = {
    "optimizer": "adam", "lr": 3e-4, "weight_decay": 1e-5, "dropout": 0.0,
    "batch_size": 32, "hidden": 64,
}


def demo_space() -> Space:
    """The demo's search space: optimizer, lr (wide enough to diverge), weight decay,
    dropout, batch size and hidden width."""
    return Space({
        "optimizer": Categorical(["sgd", "momentum", "adam"]),
        "lr": Float(1e-4, 10.0, log=True),
        "weight_decay": Float(1e-6, 1e-2, log=True),
        "dropout": Float(0.0, 0.5),
        "batch_size": Int(16, 256, log=True),
        "hidden": Int(16, 256, log=True),
    })


@dataclass(frozen=True)
class DemoResult:
    """What the demo did.

    Attributes:
        problem: ``"digits"`` (the MLP on digits) or ``"synthetic"``.
        storage: Where the study lives (a SQLite URL, or ``"memory"``).
        study_name: The study's name in the storage.
        n_trials: Trials run by this call.
        n_total: Trials in the study (more than ``n_trials`` when it was resumed).
        n_complete, n_pruned, n_failed: The study's trials by state.
        best_value: The best validation loss.
        best_trial: Its trial number.
        best_params: The best configuration.
        seconds: Wall time of the tuning run (the report not included).
        report: The HTML page, or None when the report could not be written.
        images: Plot name -> PNG file.
        report_note: Why the report (or some plots) were not written, if so.
    """

    problem: str
    storage: str
    study_name: str
    n_trials: int
    n_total: int
    n_complete: int
    n_pruned: int
    n_failed: int
    best_value: float
    best_trial: int
    best_params: Mapping[str, Any]
    seconds: float
    report: Path | None
    images: Mapping[str, Path] = field(default_factory=dict)
    report_note: str = ""


# -- the problems ----------------------------------------------------------------------------
def _digits_objective(seed: int) -> Any:
    """A TorchObjective training an MLP on digits (raises ImportError without the deps)."""
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from sklearn.datasets import load_digits  # noqa: PLC0415

    from bayestune.training import TorchObjective, accuracy  # noqa: PLC0415

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    X = torch.tensor(X[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[order], dtype=torch.long)
    n_val = len(X) // 5

    def model_fn(params: Mapping[str, Any]) -> torch.nn.Module:
        h = int(params["hidden"])
        return torch.nn.Sequential(
            torch.nn.Linear(64, h), torch.nn.ReLU(), torch.nn.Dropout(float(params["dropout"])),
            torch.nn.Linear(h, 10),
        )

    return TorchObjective(
        model_fn,
        (X[n_val:], y[n_val:]),
        (X[:n_val], y[:n_val]),
        torch.nn.functional.cross_entropy,
        epochs=8,
        metric=accuracy,
        device="cpu",
        seed=seed,
    )


_SYN_BEST_LR = {"sgd": 0.1, "momentum": 0.02, "adam": 3e-3}
_SYN_DIVERGE_LR = {"sgd": 0.8, "momentum": 0.3, "adam": 0.08}


def synthetic_loss(params: Mapping[str, Any]) -> float:
    """A deterministic stand-in for a validation loss over :func:`demo_space`: a best lr
    per optimizer, a dropout sweet spot, mild weight-decay, batch and width effects, and
    nan (a diverged run) above an optimizer-dependent lr."""
    opt = params["optimizer"]
    lr = float(params["lr"])
    if lr > _SYN_DIVERGE_LR[opt]:
        return math.nan
    x = math.log10(lr / _SYN_BEST_LR[opt])
    return (0.08 + 0.25 * x * x + 0.6 * (float(params["dropout"]) - 0.15) ** 2
            + 0.015 * math.log10(float(params["weight_decay"]) / 1e-4) ** 2
            + 0.01 * abs(math.log2(int(params["batch_size"]) / 64))
            + 0.02 * abs(math.log2(int(params["hidden"]) / 128))
            + {"sgd": 0.05, "momentum": 0.02, "adam": 0.0}[opt])


def _synthetic_objective(trial: Any) -> float:
    return synthetic_loss(trial.params)


def _resolve_problem(problem: str, seed: int) -> tuple[str, Any]:
    check_option("problem", problem, Problem)
    if problem == "synthetic":
        return "synthetic", _synthetic_objective
    try:
        return "digits", _digits_objective(seed)
    except ImportError as e:
        if problem == "digits":
            raise
        logger.warning("the digits demo needs torch and scikit-learn (%s); "
                       "tuning a synthetic problem instead", e)
        return "synthetic", _synthetic_objective


def _storage_label(storage: str | None) -> str | None:
    if storage is None or storage in ("", "memory", ":memory:"):
        return None
    return storage


# -- the run ---------------------------------------------------------------------------------
def run_demo(
    storage: str | None = "bayestune-demo.db",
    name: str = "digits-mlp",
    n_trials: int = 20,
    out_dir: str | Path | None = "bayestune-report",
    seed: int = 0,
    show_progress_bar: bool = True,
    *,
    problem: Problem = "auto",
) -> DemoResult:
    """Tune the demo problem and write the report.

    Args:
        storage: SQLite file or URL (``"memory"`` or None keeps the study in memory).
            An existing study of that name is continued.
        name: The study's name.
        n_trials: Trials to run now.
        out_dir: Where the PNG files and ``report.html`` go (None: no report).
        seed: Seeds the sampler, the data split and the training runs.
        show_progress_bar: A tqdm bar while tuning.
        problem: ``"digits"`` (an MLP on scikit-learn's digits), ``"synthetic"``, or
            ``"auto"``: digits when torch and scikit-learn are installed.

    Torch runs on one thread while tuning (the count is restored afterwards): the
    models are tiny, and more threads only spin.

    Raises:
        InvalidValueError: for a bad ``n_trials`` or ``problem``.
        StorageError: for a file that is not a bayestune storage.
        StudyMismatchError: when ``name`` exists in the storage with another space.
    """
    check_int("n_trials", n_trials, low=1)
    kind, objective = _resolve_problem(problem, seed)
    store = _storage_label(storage)
    study = Study(
        demo_space(),
        direction="minimize",
        sampler=GPSampler(seed=seed),
        pruner=_pruner(),
        storage=store,
        name=name,
        load_if_exists=True,
    )
    if not study.trials:
        study.enqueue(CLASSIC_CONFIG)
    start = time.perf_counter()
    from bayestune.gp.model import torch_threads  # noqa: PLC0415 - needs torch

    with torch_threads(1):
        study.optimize(objective, n_trials=n_trials, show_progress_bar=show_progress_bar)
    seconds = time.perf_counter() - start
    trials = study.trials
    best = study.best_trial
    report, images, note = None, {}, ""
    if out_dir is not None:
        try:
            title = ("bayestune demo: an MLP on scikit-learn's digits" if kind == "digits"
                     else "bayestune demo: a synthetic problem")
            rep = write_report(study, out_dir, title=title, extra={
                "problem": "digits-mlp" if kind == "digits" else "synthetic",
                "storage": store or "memory",
                "tuning time (s)": round(seconds, 1),
            })
            report, images = rep.html, dict(rep.images)
            note = "; ".join(f"{k}: {v}" for k, v in rep.skipped.items())
        except ImportError as e:
            note = f"no report: {e}"
    return DemoResult(
        problem=kind,
        storage=store or "memory",
        study_name=study.name,
        n_trials=n_trials,
        n_total=len(trials),
        n_complete=sum(t.state is TrialState.COMPLETE for t in trials),
        n_pruned=sum(t.state is TrialState.PRUNED for t in trials),
        n_failed=sum(t.state is TrialState.FAILED for t in trials),
        best_value=float(best.value),  # type: ignore[arg-type]
        best_trial=best.number,
        best_params=dict(best.params),
        seconds=seconds,
        report=report,
        images=images,
        report_note=note,
    )


def _pruner() -> Any:
    return MedianPruner(n_startup_trials=5, n_warmup_steps=2)


# -- the command -----------------------------------------------------------------------------
def format_result(result: DemoResult) -> str:
    """The lines ``bayestune demo`` prints."""
    what = ("an MLP on scikit-learn's digits" if result.problem == "digits"
            else "a synthetic problem")
    lines = [
        f"Tuned {what}: {result.n_trials} trials in {result.seconds:.1f} s.",
        f"Study {result.study_name!r} in {result.storage}: {result.n_total} trials "
        f"({result.n_complete} complete, {result.n_pruned} pruned, {result.n_failed} failed).",
        f"Best validation loss: {result.best_value:.4g} (trial {result.best_trial})",
        "Best configuration:",
    ]
    width = max((len(k) for k in result.best_params), default=0)
    for k, v in result.best_params.items():
        shown = f"{v:.4g}" if isinstance(v, float) else str(v)
        lines.append(f"  {k:<{width}}  {shown}")
    if result.report is not None:
        lines.append(f"Report: {result.report}")
        if result.images:
            lines.append("Plots: " + ", ".join(str(p) for p in result.images.values()))
    if result.report_note:
        lines.append(f"Note: {result.report_note}")
    if result.storage != "memory":
        lines.append(f"Go on with it: bayestune trials --storage {result.storage} "
                     f"--name {result.study_name}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options (shared by ``bayestune demo`` and ``python -m bayestune.demo``)."""
    parser.add_argument("--storage", default="bayestune-demo.db",
                        help="SQLite file or URL ('memory' for none); an existing study "
                             "is continued")
    parser.add_argument("--name", default="digits-mlp", help="the study's name")
    parser.add_argument("--n-trials", type=int, default=20, help="trials to run")
    parser.add_argument("--out-dir", default="bayestune-report",
                        help="where the plots and report.html go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--problem", choices=("auto", "digits", "synthetic"), default="auto")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """Run the demo and print its result; returns the exit code.

    Args:
        args: Parsed arguments (from ``bayestune demo``) or a list of strings.
    """
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(prog="bayestune demo", description=__doc__.split(
            "\n")[0])
        add_arguments(parser)
        args = parser.parse_args(args)
    result = run_demo(
        storage=args.storage,
        name=args.name,
        n_trials=args.n_trials,
        out_dir=args.out_dir,
        seed=args.seed,
        show_progress_bar=not getattr(args, "no_progress", False),
        problem=getattr(args, "problem", "auto"),
    )
    print(format_result(result))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
