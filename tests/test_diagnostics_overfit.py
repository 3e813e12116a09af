"""The overfit-a-tiny-subset check: a healthy setup passes, each broken one is diagnosed
with the right cause, and the model and optimizer come back bit for bit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import bayestune as bt
from bayestune.diagnostics import overfit_check

pytest.importorskip("sklearn")
from dl_helpers import digits_tensors, mlp, one_torch_thread  # noqa: E402, F401

CE = nn.CrossEntropyLoss()


@pytest.fixture(scope="module")
def data():
    Xtr, ytr, _, _ = digits_tensors()
    return Xtr, ytr


def model(seed: int = 0, hidden: int = 32) -> nn.Module:
    torch.manual_seed(seed)
    return mlp(hidden=hidden)


def check(m, data, loss_fn=CE, **kw):
    kw.setdefault("device", "cpu")
    return overfit_check(m, data, loss_fn, **kw)


# -- the healthy case -------------------------------------------------------------------------
def test_a_healthy_mlp_on_a_digits_subset_passes(data, capsys):
    report = check(model(), data)
    assert report.passed
    assert report.ratio <= 0.1 and report.final_loss == pytest.approx(report.ratio *
                                                                       report.initial_loss)
    assert report.steps == 200 and len(report.losses) == 200 and report.n_examples == 64
    assert report.losses[-1] < report.losses[0]
    # "verify loss @ init": a fresh 10-class classifier starts near ln 10
    assert report.expected_initial_loss == pytest.approx(math.log(10))
    assert report.initial_loss == pytest.approx(math.log(10), rel=0.15)
    assert 1e-4 < report.update_ratio < 0.1
    assert report.causes == () and report.frozen == () and report.no_grad == ()
    assert "passed" in report.summary()
    assert capsys.readouterr() == ("", "")  # never prints


def test_dict_batches_from_a_loader_work(data):
    X, y = data
    loader = [{"x": X[i:i + 32], "labels": y[i:i + 32]} for i in range(0, 96, 32)]

    class DictModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model()

        def forward(self, x):
            return self.net(x)

    report = check(DictModel(), loader)
    assert report.passed and report.n_examples == 64


# -- each broken setup, diagnosed -------------------------------------------------------------
def test_labels_out_of_range_are_found_before_any_step(data):
    X, y = data
    report = check(model(), (X, y + 5))
    assert not report.passed and report.steps == 0
    assert report.cause_codes == ("labels_out_of_range",)
    ev = report.causes[0].evidence
    assert ev["label_max"] >= 10 and ev["n_outputs"] == 10


def test_softmax_outputs_with_cross_entropy_are_named(data):
    report = check(nn.Sequential(model(), nn.Softmax(dim=1)), data)
    assert not report.passed
    assert report.cause_codes[0] == "probabilities_to_logit_loss"
    assert report.ratio > 0.3  # the double softmax cannot reach a low loss


def test_logits_passed_to_nll_loss_are_named(data):
    report = check(model(), data, loss_fn=nn.NLLLoss())
    assert not report.passed
    assert report.cause_codes[0] == "logits_to_nll"
    assert "negative_loss" in report.cause_codes  # -x[y] falls without bound
    fixed = check(nn.Sequential(model(), nn.LogSoftmax(dim=1)), data, loss_fn=nn.NLLLoss())
    assert fixed.passed and fixed.causes == ()


def test_softmax_outputs_with_mse_are_named(data):
    X, y = data
    onehot = torch.eye(10)[y]
    report = check(nn.Sequential(model(), nn.Softmax(dim=1)), (X, onehot), loss_fn=nn.MSELoss())
    assert "probabilities_with_mse" in report.cause_codes


def test_class_labels_with_a_regression_loss_are_a_shape_mismatch(data):
    X, y = data
    report = check(nn.Sequential(nn.Linear(64, 1), nn.Flatten(0)), (X, y.float().unsqueeze(1)),
                   loss_fn=nn.MSELoss())
    assert not report.passed
    assert report.cause_codes[0] == "target_shape_mismatch"


def test_frozen_layers_are_named(data):
    m = model()
    for name, p in m.named_parameters():
        p.requires_grad_(name == "3.bias")  # only the last bias learns
    report = check(m, data)
    assert not report.passed
    assert report.cause_codes[0] == "frozen_parameters"
    assert report.frozen == ("0.weight", "0.bias", "3.weight")
    assert report.lr_range is None  # a structural cause: no LR range test


def test_a_fully_frozen_model_has_no_gradient_at_all(data):
    m = model().requires_grad_(False)
    report = check(m, data)
    assert report.cause_codes[:2] == ("loss_without_gradient", "frozen_parameters")
    assert report.steps == 0


def test_parameters_cut_off_by_a_detach_receive_no_gradient(data):
    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.body = nn.Linear(64, 2)
            self.head = nn.Linear(2, 10)

        def forward(self, x):
            return self.head(torch.relu(self.body(x)).detach())

    report = check(Detached(), data)
    assert not report.passed
    assert "no_gradient" in report.cause_codes
    assert report.no_grad == ("body.weight", "body.bias")


def test_a_tiny_learning_rate_is_diagnosed_and_confirmed_by_a_retry(data):
    report = check(model(), data, lr=1e-6)
    assert not report.passed
    assert report.cause_codes[0] == "lr_too_low"
    assert report.update_ratio < 1e-4
    assert report.lr_range is not None and report.retry_lr > 1e-4
    assert report.retry_ratio <= 0.1  # at the suggested rate the check passes
    assert report.causes[0].evidence["retry_passed"] is True


def test_a_huge_learning_rate_is_diagnosed(data):
    report = check(model(), data, optimizer="sgd", lr=50.0)
    assert not report.passed
    assert report.cause_codes[0] == "lr_too_high"
    assert report.retry_lr is not None and report.retry_lr < 50.0
    plain = check(model(), data, optimizer="sgd", lr=50.0, lr_test=False)
    assert plain.cause_codes[0] == "lr_too_high" and plain.lr_range is None


# -- the model and optimizer come back exactly ------------------------------------------------
class WithBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.net = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                 nn.Dropout(0.3), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


def _state(m: nn.Module) -> dict:
    return {k: v.clone() for k, v in m.state_dict().items()}


@pytest.mark.parametrize("lr", [1e-3, 1e-6])  # a pass, and a failure with a range test and retry
def test_model_and_optimizer_are_restored_bit_for_bit(data, lr):
    m = WithBatchNorm()
    opt = torch.optim.Adam(m.parameters(), lr=lr, weight_decay=1e-4)
    X, y = data
    CE(m(X[:16]), y[:16]).backward()
    opt.step()  # the optimizer has state
    CE(m(X[16:32]), y[16:32]).backward()  # and the parameters hold gradients
    m.eval()
    m.net[3].train()  # a mixed train / eval state
    before, opt_before = _state(m), opt.state_dict()
    opt_before = {"state": {k: {n: t.clone() if torch.is_tensor(t) else t for n, t in s.items()}
                            for k, s in opt_before["state"].items()},
                  "param_groups": [dict(g) for g in opt_before["param_groups"]]}
    grads = [p.grad.clone() for p in m.parameters()]
    modes = [mod.training for mod in m.modules()]
    rng = torch.get_rng_state()

    report = check(m, data, optimizer=opt)
    assert report.lr == lr and report.steps > 0
    if lr < 1e-5:  # the range test and the retry ran on the user's optimizer too
        assert report.lr_range is not None and report.retry_lr is not None

    after = m.state_dict()
    assert after.keys() == before.keys()
    for k in before:
        assert torch.equal(after[k], before[k]), k
    for p, g in zip(m.parameters(), grads, strict=True):
        assert torch.equal(p.grad, g)
    assert [mod.training for mod in m.modules()] == modes
    state = opt.state_dict()
    assert state["param_groups"] == opt_before["param_groups"]
    for k, s in opt_before["state"].items():
        for n, t in s.items():
            assert torch.equal(state["state"][k][n], t) if torch.is_tensor(t) else \
                state["state"][k][n] == t
    assert torch.equal(torch.get_rng_state(), rng)  # the caller's random state is untouched


def test_dropout_is_off_while_overfitting_unless_asked(data):
    m = WithBatchNorm()
    assert check(m, data).passed
    with_dropout = check(m, data, disable_dropout=False)
    assert with_dropout.final_loss != check(m, data).final_loss


def test_bad_arguments_raise_naming_the_value(data):
    m = model()
    for kw, match in (({"n_batches": 0}, "n_batches"), ({"steps": 0}, "steps"),
                      ({"threshold": 1.5}, "threshold"), ({"lr": -1.0}, "lr"),
                      ({"optimizer": "lbfgs"}, "optimizer")):
        with pytest.raises(ValueError, match=match):
            check(m, data, **kw)
    with pytest.raises(ValueError, match="model"):
        overfit_check("not a model", data, CE)
    other = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="optimizer"):
        check(m, data, optimizer=other)


def test_it_is_exported_at_the_top_level():
    assert bt.diagnostics.overfit_check is overfit_check
    assert "diagnostics" in bt.__all__
