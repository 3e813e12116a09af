"""Draw the images of docs/plots.md:  python docs/img/make_images.py

A study of the demo's synthetic problem (the same space as `bayestune demo`, seconds to
run) and an LR range test of a small MLP on scikit-learn's digits.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import bayestune as bt  # noqa: E402
from bayestune import demo, plot  # noqa: E402

OUT = Path(__file__).resolve().parent
DPI = 80


def save(obj, name: str) -> None:
    fig = obj if hasattr(obj, "savefig") else obj.figure
    fig.savefig(OUT / f"{name}.png", dpi=DPI)
    plt.close(fig)
    print(OUT / f"{name}.png")


def main() -> None:
    torch.set_num_threads(1)
    study = bt.Study(demo.demo_space(), sampler=bt.samplers.GPSampler(seed=0), name="gp")
    study.enqueue(demo.CLASSIC_CONFIG)
    study.optimize(lambda t: demo.synthetic_loss(t.params), n_trials=30)
    rnd = bt.Study(demo.demo_space(), sampler=bt.samplers.RandomSampler(seed=0), name="random")
    rnd.optimize(lambda t: demo.synthetic_loss(t.params), n_trials=30)
    sur = plot.fit_surrogate(study)

    save(plot.convergence([study, rnd]), "convergence")
    save(plot.importance(study, surrogate=sur), "importance")
    save(plot.posterior_slices(study, surrogate=sur), "posterior_slices")
    save(plot.posterior_slice(study, "lr", surrogate=sur), "posterior_slice")
    save(plot.posterior_contour(study, "lr", "dropout", surrogate=sur), "posterior_contour")
    save(plot.acquisition_slice(study, "lr", surrogate=sur), "acquisition_slice")
    save(plot.parallel_coordinates(study), "parallel_coordinates")

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    result = bt.lr_range_test(model, (X, torch.tensor(y)), torch.nn.functional.cross_entropy,
                              optimizer="adam", start_lr=1e-6, end_lr=10.0, device="cpu")
    save(plot.lr_range(result), "lr_range")


if __name__ == "__main__":
    main()
