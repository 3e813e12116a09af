"""The adapter on a CUDA device: plain and mixed precision, seeding, data movement.

Skipped where there is no CUDA device; they must pass on one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import bayestune as bt
from bayestune.training import Callback, TorchObjective

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

pytest.importorskip("sklearn")
from dl_helpers import digits, digits_tensors, mlp  # noqa: E402

CE = nn.CrossEntropyLoss()


class Seen(Callback):
    """Records where the model lives, the dtype its layers compute in, and the scaler."""

    def __init__(self):
        self.devices, self.dtypes, self.scaler = set(), set(), None

    def on_train_begin(self, state):
        self.devices = {p.device.type for p in state.model.parameters()}
        self.scaler = state.scaler
        first = next(m for m in state.model.modules() if isinstance(m, nn.Linear))
        first.register_forward_hook(lambda m, i, out: self.dtypes.add(out.dtype))


def objective(**kw):
    Xtr, ytr, Xva, yva = digits()
    kw.setdefault("epochs", 3)
    return TorchObjective(mlp, (Xtr, ytr), (Xva, yva), CE, **kw)


def test_auto_picks_cuda():
    assert objective(device="auto").device.type == "cuda"


@pytest.mark.parametrize("amp, dtype, scaled", [
    (False, torch.float32, False),
    (True, torch.float16, True),
    ("bf16", torch.bfloat16, False),
])
def test_training_on_cuda_with_and_without_mixed_precision(amp, dtype, scaled):
    if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    seen = Seen()
    result = objective(device="cuda", amp=amp, callbacks=[seen]).run(
        {"optimizer": "adam", "lr": 1e-2, "batch_size": 64})
    assert result.status == "complete"
    assert result.val_losses[-1] < 0.4  # it learned
    assert seen.devices == {"cuda"}
    assert seen.dtypes == {dtype}
    assert (seen.scaler is not None) == scaled
    assert next(result.model.parameters()).dtype == torch.float32  # master weights


def test_cuda_runs_are_seeded_and_leave_the_callers_generators_alone():
    torch.manual_seed(11)
    cpu, gpu = torch.get_rng_state(), torch.cuda.get_rng_state()
    obj = objective(device="cuda", epochs=2)
    params = {"lr": 1e-2, "dropout": 0.3, "batch_size": 64}
    a, b = obj.run(params), obj.run(params)
    assert torch.equal(torch.get_rng_state(), cpu)
    assert torch.equal(torch.cuda.get_rng_state(), gpu)
    assert a.val_losses == pytest.approx(b.val_losses, rel=1e-4)


def test_datasets_are_loaded_with_pinned_memory_and_moved_to_the_gpu():
    Xtr, ytr, Xva, yva = digits_tensors()
    ds = torch.utils.data.TensorDataset(Xtr, ytr)
    seen = Seen()
    obj = TorchObjective(mlp, ds, (Xva, yva), CE, epochs=1, device="cuda", callbacks=[seen])
    result = obj.run({"lr": 1e-2, "batch_size": 128})
    assert result.status == "complete" and seen.devices == {"cuda"}


def test_divergence_and_pruning_on_cuda():
    space = bt.Space({"lr": bt.Float(50.0, 100.0, log=True),
                      "optimizer": bt.Categorical(["sgd"])})
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0))
    study.optimize(objective(device="cuda", amp=True), n_trials=1)
    assert study.trials[0].state is bt.TrialState.FAILED
    assert study.trials[0].fail_reason.startswith("diverged:")

    class PruneAt2(bt.pruners.Pruner):
        def prune(self, trials, trial, direction):
            return (trial.last_step or 0) >= 2

    space = bt.Space({"lr": bt.Float(1e-3, 1e-2, log=True)})
    study = bt.Study(space, sampler=bt.samplers.RandomSampler(seed=0), pruner=PruneAt2())
    study.optimize(objective(device="cuda", epochs=5), n_trials=1)
    assert study.trials[0].state is bt.TrialState.PRUNED
    assert sorted(study.trials[0].intermediate_values) == [1, 2]


def test_gradient_clipping_under_fp16_sees_unscaled_gradients():
    norms = []

    class Norm(Callback):
        def on_after_backward(self, state):
            grads = [p.grad for p in state.model.parameters()]
            norms.append(float(torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(g) for g in grads]))))

    result = objective(device="cuda", amp=True, clip_grad_norm=0.05, epochs=1,
                       callbacks=[Norm()]).run({"lr": 1e-2})
    assert result.status == "complete"
    finite = [n for n in norms if n == n and n != float("inf")]
    assert finite and max(finite) <= 0.05 * 1.01
