"""Write the example notebooks from the cells below, and execute them in place.

    python notebooks/build.py            # write and execute every notebook
    python notebooks/build.py 02         # only the notebooks whose name contains "02"
    python notebooks/build.py --no-run   # write them without outputs

The notebooks are committed with their outputs, so the plots show on the repository
page; ``tests/test_notebooks.py`` runs each one top to bottom again. Edit the cells here,
not in the .ipynb files, then rebuild.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SETUP = """\
%matplotlib inline
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np

import bayestune as bt
from bayestune import plot

warnings.filterwarnings("ignore")  # keep the outputs readable
plt.rcParams["figure.dpi"] = 90"""


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip("\n"))


# ------------------------------------------------------------------------------------------
QUICKSTART = [
    md("""
# Quickstart: ask and tell

bayestune proposes hyperparameters with a Gaussian-process surrogate and (log) expected
improvement. You keep your training loop: **ask** for a configuration, train, **tell**
the result. This notebook uses a stand-in for a training run so that it finishes in
seconds; `04_tuning_digits.ipynb` tunes a real network.
"""),
    code(SETUP),
    md("""
## The search space

Log-scaled parameters (`log=True`) are searched uniformly in log space: a learning rate
between 1e-5 and 1 is as likely to be near 1e-4 as near 1e-1.
"""),
    code("""
space = bt.Space({
    "lr": bt.Float(1e-5, 1.0, log=True),
    "momentum": bt.Float(0.0, 0.99),
    "dropout": bt.Float(0.0, 0.6),
    "weight_decay": bt.Float(1e-7, 1e-1, log=True),
    "batch_size": bt.Int(8, 1024, log=True),
    "optimizer": bt.Categorical(["sgd", "adam", "rmsprop"]),
})
space
"""),
    md("""
A stand-in for training: a smooth validation loss with its best learning rate near 1e-3,
and **NaN when the learning rate is too large**, as when real training diverges.
"""),
    code("""
def train(lr, momentum, dropout, weight_decay, batch_size, optimizer):
    if lr > 0.3:
        return float("nan")  # training diverged
    penalty = {"sgd": 0.3, "adam": 0.0, "rmsprop": 0.1}[optimizer]
    return ((math.log10(lr) + 3.0) ** 2 + (momentum - 0.9) ** 2 + (dropout - 0.1) ** 2
            + 0.01 * (math.log10(weight_decay) + 4.0) ** 2
            + 0.01 * (math.log2(batch_size) - 6.0) ** 2 + penalty)
"""),
    md("## The loop"),
    code("""
study = bt.Study(space, direction="minimize", seed=0)
for _ in range(40):
    trial = study.ask()               # trial.number, trial.params (plain Python values)
    loss = train(**trial.params)      # may be nan or inf when training diverged
    study.tell(trial, loss)           # nan/inf/None record a FAILED trial, never an error

print("best value:", round(study.best_value, 4), "at trial", study.best_trial.number)
study.best_params
"""),
    md("""
The first trials fill the space (a scrambled Sobol sequence); then the GP takes over.
Failed trials are not dropped: a feasibility model learns where runs fail and the
acquisition avoids that region.
"""),
    code("""
states = [t.state.value for t in study.trials]
print({s: states.count(s) for s in set(states)})
plot.convergence(study);
"""),
    md("""
## Start from what you know: `enqueue`

Known-good configurations are evaluated first, before the sampler's own proposals.
"""),
    code("""
study2 = bt.Study(space, seed=1)
study2.enqueue({"lr": 3e-4, "momentum": 0.9, "dropout": 0.0, "weight_decay": 1e-4,
                "batch_size": 32, "optimizer": "adam"})
first = study2.ask()
print(first.number, first.params)
record = study2.tell(first, train(**first.params))
record.state, round(record.value, 4)
"""),
    md("""
## Or let `optimize` run the loop

The objective receives the trial; an exception inside it marks the trial FAILED and the
loop goes on. `show_progress_bar=True` draws a tqdm bar.
"""),
    code("""
def objective(trial):
    return train(**trial.params)

study2.optimize(objective, n_trials=25)
plot.convergence([study, study2], labels=["ask/tell, seed 0", "enqueue + optimize, seed 1"]);
"""),
    md("""
## Trials by number, or told as failed

`tell` also takes a trial number, and an explicit state.
"""),
    code("""
t = study2.ask()
study2.tell(t.number, state=bt.TrialState.FAILED, reason="out of memory")
last = study2.trials[-1]
last.number, last.state, last.fail_reason
"""),
    md("""
## Where next

- `02_surrogate_posterior.ipynb`: what the GP believes, step by step.
- `03_lr_range_test.ipynb`: narrow the learning-rate range before tuning.
- `04_tuning_digits.ipynb`: tune a torch model with the training adapter.
- `05_parallel_workers.ipynb`: several workers on one SQLite study.
"""),
]

# ------------------------------------------------------------------------------------------
POSTERIOR = [
    md("""
# The surrogate posterior, step by step

Bayesian optimization keeps a probabilistic model of the objective (here a Gaussian
process) and picks the next point where the **expected improvement** over the best value
so far is largest. This notebook opens the box on a 1-D and a 2-D problem: after each
trial it draws what the GP believes (its median and 95% band) and the acquisition
function, whose maximum is the next suggestion.
"""),
    code(SETUP),
    md("""
## 1-D: the Forrester function

$f(x) = (6x - 2)^2 \\sin(12x - 4)$ on $[0, 1]$, minimum about $-6.02$ at $x \\approx 0.757$,
with a deceptive local minimum near $x \\approx 0.14$.
"""),
    code("""
def forrester(x):
    return (6 * x - 2) ** 2 * math.sin(12 * x - 4)

space1 = bt.Space({"x": bt.Float(0.0, 1.0)})
study1 = bt.Study(space1, sampler=bt.samplers.GPSampler(seed=0, n_startup_trials=3))
for _ in range(3):  # three space-filling points to start
    t = study1.ask()
    study1.tell(t, forrester(t.params["x"]))
[(round(t.params["x"], 3), round(t.value, 3)) for t in study1.trials]
"""),
    md("""
Each row is one iteration. **Left**: the GP's median (blue) and 95% band against the
true function (black, dashed), the trials so far (grey) and the best (red star).
**Right**: log expected improvement; the dashed line is the next suggestion, which is then
evaluated and told.
"""),
    code("""
xs = np.linspace(0, 1, 300)
truth = [forrester(x) for x in xs]
rows = 6
fig, axes = plt.subplots(rows, 2, figsize=(11, 3.0 * rows), layout="constrained")
for i in range(rows):
    sur = plot.fit_surrogate(study1)
    nxt = study1.sampler.sample(space1, study1.trials, study1.direction,
                                number=len(study1.trials)).params
    ax = plot.posterior_slice(study1, "x", surrogate=sur, ax=axes[i, 0], legend=(i == 0))
    ax.plot(xs, truth, "k--", lw=1, label="true f")
    ax.axvline(nxt["x"], color="black", ls=":", lw=1)
    ax.set_title(f"after {len(study1.trials)} trials")
    ax.set_ylim(-8, 17)
    if i == 0:
        ax.legend(fontsize="x-small", loc="upper left")
    plot.acquisition_slice(study1, "x", surrogate=sur, ax=axes[i, 1], next_params=nxt)
    t = study1.ask()
    assert t.params == nxt  # ask() proposes exactly what the sampler showed
    study1.tell(t, forrester(t.params["x"]))
"""),
    md("""
Early on the band is wide away from the data and EI is spread out (exploration); as the
trials accumulate around the minimum, the band narrows there and EI concentrates
(exploitation). The model's output warp lets it follow the steep walls of the function
without flattening the bottom.
"""),
    code("""
for _ in range(6):
    t = study1.ask()
    study1.tell(t, forrester(t.params["x"]))
print(f"best x = {study1.best_params['x']:.4f}, f = {study1.best_value:.4f} "
      f"after {len(study1.trials)} trials (optimum 0.7572, -6.0207)")
plot.convergence(study1);
"""),
    md("""
## 2-D: the Branin function

Three global minima (value 0.397887) on $x_1 \\in [-5, 10]$, $x_2 \\in [0, 15]$. The
contour plots show the posterior median (left) and standard deviation (right), the
trials, the best one (star) and the next suggestion (circle).
"""),
    code("""
def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10

space2 = bt.Space({"x1": bt.Float(-5.0, 10.0), "x2": bt.Float(0.0, 15.0)})
study2 = bt.Study(space2, sampler=bt.samplers.GPSampler(seed=0))

def run(n):
    for _ in range(n):
        t = study2.ask()
        study2.tell(t, branin(**t.params))

run(8)
fig = plot.posterior_contour(study2, "x1", "x2", n_points=50)
fig.suptitle(f"after {len(study2.trials)} trials");
"""),
    code("""
run(8)
fig = plot.posterior_contour(study2, "x1", "x2", n_points=50)
fig.suptitle(f"after {len(study2.trials)} trials");
"""),
    code("""
run(14)
fig = plot.posterior_contour(study2, "x1", "x2", n_points=50)
fig.suptitle(f"after {len(study2.trials)} trials");
print(f"best value {study2.best_value:.4f} (global minimum 0.3979) at", study2.best_params)
"""),
    md("""
## Which parameter matters?

`plot.importance` computes Sobol sensitivity indices of the GP posterior mean over the
whole space: the **total** index is the share of the mean's variance that involves the
parameter (interactions included), the **first-order** index the share it explains alone.
On Branin both inputs matter, and much of it through their interaction.
"""),
    code("""
plot.importance(study2);
"""),
    md("""
## Against random search

The same budget with uniform random sampling, several seeds each:
"""),
    code("""
studies, labels = [], []
for seed in range(3):
    for name, sampler in (("GP", bt.samplers.GPSampler(seed=seed)),
                          ("random", bt.samplers.RandomSampler(seed=seed))):
        s = bt.Study(space2, sampler=sampler, name=f"{name}-{seed}")
        for _ in range(25):
            t = s.ask()
            s.tell(t, branin(**t.params))
        studies.append(s)
        labels.append(name)  # one colour per method
ax = plot.convergence(studies, labels=labels, show_trials=False, log_y=True)
ax.axhline(0.397887, color="black", lw=0.8, ls=":")
ax.set_title("Branin: GP against random search, 3 seeds each");
"""),
]

# ------------------------------------------------------------------------------------------
LR_RANGE = [
    md("""
# The LR range test

Leslie Smith's range test (fastai's `lr_find`): train for a few steps while the learning
rate grows geometrically, record the loss, and read a good learning rate off the curve,
where the loss falls fastest, before it blows up. bayestune's version smooths the loss,
stops when it diverges, restores the model and optimizer **exactly**, and returns a
*range* that can narrow the search space of a study.
"""),
    code(SETUP + """
import torch
from sklearn.datasets import load_digits

torch.set_num_threads(1)  # tiny model: one thread is fastest"""),
    md("A small MLP on scikit-learn's digits (8x8 images of handwritten digits, shipped "
       "with scikit-learn)."),
    code("""
X, y = load_digits(return_X_y=True)
X = torch.tensor(X / 16.0, dtype=torch.float32)
y = torch.tensor(y, dtype=torch.long)
X_train, y_train = X[:1400], y[:1400]

def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 10))

model = make_model()
before = {k: v.clone() for k, v in model.state_dict().items()}
"""),
    code("""
result = bt.lr_range_test(model, (X_train, y_train), torch.nn.functional.cross_entropy,
                          optimizer="adam", start_lr=1e-6, end_lr=10.0, num_iter=100,
                          batch_size=64, device="cpu")
print("suggestions:", {k: f"{v:.2e}" for k, v in result.suggestions.items()})
print("suggested range:", tuple(f"{v:.2e}" for v in result.suggested_range))
print("stopped early at lr", result.diverged_at, "after", result.num_iter, "steps")
plot.lr_range(result);
"""),
    md("The weights are back, bit for bit:"),
    code("""
all(torch.equal(before[k], v) for k, v in model.state_dict().items())
"""),
    md("""
## The optimizer changes the answer

SGD with momentum tolerates (and needs) larger learning rates than Adam:
"""),
    code("""
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for ax, opt in zip(axes, ["adam", "momentum"]):
    r = bt.lr_range_test(make_model(), (X_train, y_train), torch.nn.functional.cross_entropy,
                         optimizer=opt, start_lr=1e-6, end_lr=10.0, num_iter=100,
                         batch_size=64, device="cpu")
    plot.lr_range(r, ax=ax)
    ax.set_title(f"LR range test, {opt}")
"""),
    md("""
## Narrow the search space

A rule-of-thumb space from `bt.presets`, with its learning-rate range replaced by the
test's suggestion, so that the study does not spend trials on rates that diverge or
barely move the loss:
"""),
    code("""
space = bt.presets.deep_learning_space("adam")
print("preset lr range:   ", space["lr"])
narrowed = space.with_bounds("lr", *result.suggested_range)
print("after the LR test: ", narrowed["lr"])
"""),
]

# ------------------------------------------------------------------------------------------
DIGITS = [
    md("""
# Tuning a torch model on digits with the training adapter

`bt.training.TorchObjective` turns a configuration into a training run: it builds the
optimizer, batches and schedule named by the trial's parameters, trains, reports the
validation loss after every epoch (so a pruner can stop bad runs early), detects
divergence (the trial is recorded FAILED with the reason), and returns the final
validation loss. You write only the model.
"""),
    code(SETUP + """
import torch
from sklearn.datasets import load_digits

torch.set_num_threads(1)  # tiny model: one thread is fastest"""),
    code("""
X, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(X))
X = torch.tensor(X[order] / 16.0, dtype=torch.float32)
y = torch.tensor(y[order], dtype=torch.long)
train_data, val_data, test_data = (X[:1100], y[:1100]), (X[1100:1450], y[1100:1450]), (X[1450:], y[1450:])
print([len(d[0]) for d in (train_data, val_data, test_data)])
"""),
    md("""
## The space: rules of thumb plus the model's own knob

`bt.presets.deep_learning_space` holds the ranges practitioners use (learning rate by
optimizer, weight decay, batch sizes as powers of two, dropout); we add the hidden width,
which only the model factory reads. `bt.presets.default_configs` gives the classic
starting points, which we evaluate first.
"""),
    code("""
preset = bt.presets.deep_learning_space(["adam", "momentum"])
space = bt.Space({**preset.dims, "hidden": bt.Int(16, 256, log=True, default=64)})
for name, dim in space.dims.items():
    print(f"{name:13s} {dim}")
"""),
    code("""
def model_fn(params):
    h = params["hidden"]
    return torch.nn.Sequential(torch.nn.Linear(64, h), torch.nn.ReLU(),
                               torch.nn.Dropout(params["dropout"]), torch.nn.Linear(h, 10))

objective = bt.training.TorchObjective(
    model_fn, train_data, val_data, torch.nn.functional.cross_entropy,
    epochs=10, metric=bt.training.accuracy, device="cpu", seed=0,
)
study = bt.Study(space, seed=0, pruner=bt.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3))
for config in bt.presets.default_configs(["adam", "momentum"]):
    study.enqueue({**config, "hidden": 64})
study.optimize(objective, n_trials=30)
"""),
    code("""
states = [t.state.value for t in study.trials]
print({s: states.count(s) for s in sorted(set(states))})
print(f"best validation loss {study.best_value:.4f} (trial {study.best_trial.number})")
study.best_params
"""),
    md("""
Pruned trials (triangles) were stopped by the median rule after a few epochs, because
their validation loss was worse than the median of earlier trials at the same epoch.
"""),
    code("""
plot.convergence(study);
"""),
    code("""
plot.importance(study);
"""),
    code("""
plot.posterior_slices(study);
"""),
    code("""
plot.parallel_coordinates(study);
"""),
    md("""
## The best configuration on held-out data

`objective.run(params)` trains once outside a study and returns a `TrainingResult` with the
trained model.
"""),
    code("""
result = objective.run(study.best_params)
model = result.model.eval()
with torch.no_grad():
    acc = (model(test_data[0]).argmax(1) == test_data[1]).float().mean().item()
print(f"validation loss {result.value:.4f}, test accuracy {acc:.3f}")
"""),
]

# ------------------------------------------------------------------------------------------
PARALLEL = [
    md("""
# Running studies in parallel

A study on the embedded SQLite storage can be shared by any number of processes on one
machine: every `ask()` records a RUNNING trial at once, so the others see it as
**pending** and the GP proposes something different (the batch form of expected
improvement, with the pending points fantasized). Nothing told is ever lost, and a study
can be reopened later with its full history.
"""),
    code(SETUP + """
import os
import subprocess
import sys
import tempfile
from pathlib import Path

workdir = Path(tempfile.mkdtemp())
db = workdir / "tune.db"
storage = f"sqlite:///{db}"
storage"""),
    md("""
## Pending trials spread out

Four `ask()` calls before any `tell()`, as four workers would make. The GP knows the first
three are running and places the fourth elsewhere:
"""),
    code("""
def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10

space = bt.Space({"x1": bt.Float(-5.0, 10.0), "x2": bt.Float(0.0, 15.0)})
study = bt.Study(space, seed=0, storage=storage, name="pending-demo")
for _ in range(12):
    t = study.ask()
    study.tell(t, branin(**t.params))
batch = [study.ask() for _ in range(4)]
for t in batch:
    print(t.number, {k: round(v, 3) for k, v in t.params.items()})
"""),
    code("""
ax = plot.posterior_contour(study, "x1", "x2", what="mean", n_points=50)
px = [t.params["x1"] for t in batch]
py = [t.params["x2"] for t in batch]
ax.scatter(px, py, marker="s", s=70, facecolors="none", edgecolors="red", lw=2,
           label="pending (asked, not told)")
ax.legend(fontsize="x-small", loc="upper right");
for t in batch:
    study.tell(t, branin(**t.params))
"""),
    md("""
## Several worker processes

The same study opened by separate processes, here three copies of a small worker script
(in real life: one per GPU, or one per machine sharing a file system that supports SQLite
locking). Each runs its own ask/tell loop.
"""),
    code('''
worker = workdir / "worker.py"
worker.write_text(f"""
import math, os, sys
import bayestune as bt

def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10

space = bt.Space({{"x1": bt.Float(-5.0, 10.0), "x2": bt.Float(0.0, 15.0)}})
study = bt.Study(space, seed=0, storage={storage!r}, name="branin", load_if_exists=True)
for _ in range(8):
    trial = study.ask()
    trial.set_user_attr("worker", int(sys.argv[1]))
    study.tell(trial, branin(**trial.params))
""")
bt.Study(space, seed=0, storage=storage, name="branin")  # create it once
env = {**os.environ, "PYTHONWARNINGS": "ignore"}
procs = [subprocess.Popen([sys.executable, str(worker), str(i)], env=env) for i in range(3)]
print("exit codes:", [p.wait() for p in procs])
'''),
    code("""
shared = bt.load_study(storage, "branin")
numbers = [t.number for t in shared.trials]
print(len(numbers), "trials, numbers", numbers[0], "to", numbers[-1],
      "- unique:", len(set(numbers)) == len(numbers))
by_worker = {}
for t in shared.trials:
    by_worker.setdefault(t.user_attrs.get("worker"), []).append(t.number)
by_worker
"""),
    code("""
ax = plot.convergence(shared)
for t in shared.trials:
    ax.annotate(str(t.user_attrs["worker"]), (t.number, t.value), fontsize=7,
                xytext=(2, 2), textcoords="offset points")
ax.set_title("Convergence (numbers: which worker ran the trial)");
"""),
    md("""
## `optimize(n_jobs=k)` starts the workers for you

With `n_jobs > 1`, `optimize` starts worker processes that share the study's storage;
`n_trials` counts over all of them. The objective must be picklable (a module-level
function), as with any `multiprocessing` code.
"""),
    code('''
(workdir / "objectives.py").write_text("""
import math

def branin_objective(trial):
    x1, x2 = trial.params["x1"], trial.params["x2"]
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
""")
sys.path.insert(0, str(workdir))
from objectives import branin_objective

jobs_storage = f"sqlite:///{workdir / 'jobs.db'}"  # one file per experiment
study_jobs = bt.Study(space, seed=1, storage=jobs_storage, name="branin-jobs")
study_jobs.optimize(branin_objective, n_trials=16, n_jobs=2)
print(len(study_jobs.trials), "trials; best", round(study_jobs.best_value, 4))
'''),
    md("""
## Resume

A study reopened from storage has the same history, and its next `ask()` continues the
search where it stopped: the GP refits from the stored trials.
"""),
    code("""
again = bt.load_study(jobs_storage, "branin-jobs")
print(len(again.trials), "trials loaded; best", round(again.best_value, 4))
again.optimize(branin_objective, n_trials=4)
print(len(again.trials), "trials now")
"""),
    md("""
The same file is readable from the command line, by trainers written in any language:

    bayestune trials --storage tune.db --name branin
    bayestune ask    --storage tune.db --name branin
    bayestune tell   --storage tune.db --name branin --trial 24 --value 0.52
"""),
    code("""
# `bayestune best ...` in a shell; here through the interpreter running this notebook
out = subprocess.run([sys.executable, "-m", "bayestune.cli", "best", "--storage", str(db),
                      "--name", "branin"], capture_output=True, text=True)
print(out.stdout or out.stderr)
"""),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_surrogate_posterior.ipynb": POSTERIOR,
    "03_lr_range_test.ipynb": LR_RANGE,
    "04_tuning_digits.ipynb": DIGITS,
    "05_parallel_workers.ipynb": PARALLEL,
}


def build(name: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=NOTEBOOKS[name])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def kernel_env() -> dict[str, str]:
    """The kernel's environment: the repository importable, the inline backend."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 600) -> None:
    """Run a notebook top to bottom in place (raises on the first failing cell)."""
    from nbclient import NotebookClient  # noqa: PLC0415

    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(kernel_env())  # the kernel inherits this process's environment
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("only", nargs="*", help="build only notebooks whose name contains these")
    p.add_argument("--no-run", action="store_true", help="write without executing")
    args = p.parse_args(argv)
    names = [n for n in NOTEBOOKS if not args.only or any(o in n for o in args.only)]
    for name in names:
        nb = build(name)
        start = time.perf_counter()
        if not args.no_run:
            execute(nb, HERE)
        nbformat.write(nb, HERE / name)
        print(f"{name}: {len(nb.cells)} cells, {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
